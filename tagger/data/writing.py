"""Predictions written back: each chunk's lines with the tag column set (or a column added),
one output line per input line for CoNLL and CoNLL-U; all or nothing to a file, stdout or gzip.
"""

from __future__ import annotations

import gzip
import io
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from tagger.atomic import atomic_open, check_target
from tagger.data.chunks import Chunk, check_format, column
from tagger.data.conllu import set_conllu_tag
from tagger.errors import TaggerError


def _set_conll_tag(line: str, tag: str, tag_column: int | None) -> str:
    """Rebuild a CoNLL token line with its tag column replaced, or ``tag`` appended.

    The tag is appended when ``tag_column`` is None or is -1 on a one-column line. The fields
    are joined by the separator the line used (TAB if it has one, else a space), so a run of
    separators in a rebuilt line becomes one.
    """
    separator = "\t" if "\t" in line else " "
    fields = line.split()
    if tag_column is None or (tag_column == -1 and len(fields) == 1):
        fields.append(tag)
    elif column(fields, tag_column) is None:
        raise TaggerError(
            f"tag column {tag_column} does not exist: the line has {len(fields)} columns"
        )
    else:
        fields[tag_column] = tag
    return separator.join(fields)


def _append_tag(line: str, tag: str, fmt: str) -> str:
    """A token line with ``tag`` added as a new last column (TAB if the line has one, else a
    space; trailing whitespace dropped), or for CoNLL-U as the MISC key ``Pred``."""
    if fmt == "conllu":
        return set_conllu_tag(line, tag, "Pred")
    return line.rstrip() + ("\t" if "\t" in line else " ") + tag


def format_chunk(
    chunk: Chunk,
    tags: Sequence[str] | None,
    fmt: str = "conll",
    tag_column: int | None = -1,
    tag_field: str = "upos",
    write: str = "replace",
) -> list[str]:
    """Return the chunk's lines with each token's tag set to ``tags`` (lines without ``\\n``).

    ``tags`` None, or a chunk without a sentence, gives the lines unchanged. ``conll``: the tag
    column is replaced, or appended when the file has none (``tag_column`` None, or a one-column
    line with ``tag_column`` -1); only token lines are rebuilt (see :func:`_set_conll_tag`).
    ``conllu``: the UPOS/XPOS field or the MISC key ``tag_field`` is set. ``write`` ``append``
    or ``gold-pred`` keeps every column and adds the tag as a new last one (CoNLL-U: the MISC
    key ``Pred``). ``text``: the sentence is written as CoNLL instead (``token<TAB>tag`` lines
    and a blank line), so there the output does not keep one line per input line.
    """
    check_format(fmt)
    if tags is None or chunk.sentence is None:
        return list(chunk.lines)
    if len(tags) != len(chunk.token_rows):
        raise ValueError(f"{len(tags)} tags for a sentence of {len(chunk.token_rows)} tokens")
    if fmt == "text":
        tokens = chunk.sentence.tokens
        return [f"{token}\t{tag}" for token, tag in zip(tokens, tags, strict=True)] + [""]
    out = list(chunk.lines)
    rows = zip(chunk.token_rows, tags, strict=True)
    if write in ("append", "gold-pred"):
        for row, tag in rows:
            out[row] = _append_tag(out[row], tag, fmt)
    elif fmt == "conllu":
        for row, tag in rows:
            out[row] = set_conllu_tag(out[row], tag, tag_field)
    elif tag_column == -1:  # the common case, inlined: replace the last column or add one
        for row, tag in rows:
            line = out[row]
            fields = line.split()
            if len(fields) == 1:
                fields.append(tag)
            else:
                fields[-1] = tag
            out[row] = ("\t" if "\t" in line else " ").join(fields)
    else:
        for row, tag in rows:
            out[row] = _set_conll_tag(out[row], tag, tag_column)
    return out


def _write_stream(binary: BinaryIO, lines: Iterable[str], gz_name: str | None) -> None:
    """Write ``lines`` (each followed by ``\\n``) as UTF-8 to ``binary``, gzipped if asked."""
    target: BinaryIO = binary
    if gz_name is not None:
        target = gzip.GzipFile(filename=gz_name, mode="wb", fileobj=binary, mtime=0)  # type: ignore[assignment]
    text = io.TextIOWrapper(target, encoding="utf-8", newline="\n")
    try:
        pending: list[str] = []
        for line in lines:
            pending.append(line)
            if len(pending) >= 4096:  # one write call per 4096 lines
                text.write("\n".join(pending) + "\n")
                pending.clear()
        if pending:
            text.write("\n".join(pending) + "\n")
        text.flush()
    finally:
        text.detach()
    if gz_name is not None:
        target.close()


def write_lines_atomic(path: str | Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path``, each followed by ``\\n``, all or nothing.

    ``"-"`` writes to stdout; a name ending in ``.gz`` is gzipped. The path is checked first,
    and the output is opened only once the first line is ready (so input that fails early
    leaves nothing behind); see :func:`tagger.atomic.atomic_open` for how it is written.
    """
    name = str(path)
    check_target(name)
    pending = iter(lines)
    first = list(itertools.islice(pending, 1))
    gz_name = Path(name).name[: -len(".gz")] if name.endswith(".gz") and name != "-" else None
    with atomic_open(name) as handle:
        _write_stream(handle, itertools.chain(first, pending), gz_name)
