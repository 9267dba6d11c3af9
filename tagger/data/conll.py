"""Read sentences from CoNLL, CoNLL-U and raw text files, and write predictions back.

Reading streams: a file is read line by line and cut into :class:`Chunk` objects, so a file of
any size is processed in bounded memory. A chunk is either one sentence (with the comment lines
just before it) or one line that holds no sentence (a blank line, a ``-DOCSTART-`` line, a
comment that no sentence follows). Writing maps each chunk back to its lines with the tag column
replaced by predictions (:func:`format_chunk`), so that for the ``conll`` and ``conllu`` formats
the output has exactly one line per input line and every line that is not a token line is copied
unchanged.

Formats:

``conll``
    Columns separated by runs of spaces or TABs; sentences separated by blank (or whitespace-only)
    lines; ``-DOCSTART-`` lines start a new document and end the current sentence. Comments
    come only where no sentence has started yet (inside a sentence ``# SYM O`` is a token line):
    there CoNLL-U style metadata (``# sent_id = 2``, ``# text = ...``, ``# newdoc id = d``) is
    a comment, and so is any other line that starts with ``"# "`` or is exactly ``"#"``,
    unless it is laid out like the file's token lines (as many TAB-separated fields in a TAB
    file, as many whitespace-separated ones otherwise): that is a token line whose token is
    ``#`` (CoNLL-2000's ``# # B-NP``). Before the file's first token line such a line is
    always a comment. A ``# newdoc`` comment starts a new document, as in CoNLL-U.
``conllu``
    Ten TAB-separated fields; ``#`` lines are comments (``# newdoc`` starts a new document);
    multiword-token ranges (``3-4``) and empty nodes (``5.1``) are not tokens but are kept.
``text``
    One sentence per line, tokens separated by whitespace, no tags.

Which format a file is in is decided from its content by :mod:`tagger.data.sniff`, which also
decides whether predictions replace the tag column or are appended (``format_chunk``'s ``write``).

Input is strict UTF-8 (a BOM is dropped), ``\\n`` or ``\\r\\n`` line ends, gzip when the name
ends in ``.gz``, and ``-`` means stdin. Output lines end in ``\\n``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from tagger.atomic import atomic_open, check_target
from tagger.errors import DataError, TaggerError

FORMATS = ("conll", "conllu", "text")
DOCSTART = "-DOCSTART-"
CONLLU_FIELDS = 10
_UPOS, _XPOS, _MISC = 3, 4, 9
_NEWDOC = re.compile(r"#\s*newdoc(\s|=|$)")
_BOM = b"\xef\xbb\xbf"
MAX_LINE = 1 << 20  # bytes in one line at most: bounds the memory that one line may take


@dataclass
class Sentence:
    """One sentence: its tokens, gold tags (``None`` without a tag column) and where it is."""

    tokens: list[str]
    tags: list[str] | None
    doc: int
    line: int


@dataclass
class Chunk:
    """Consecutive raw input lines (no line terminators) and the sentence they hold, if any."""

    lines: list[str]
    sentence: Sentence | None
    token_rows: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Opening files
# ---------------------------------------------------------------------------------------------


class _StdinText(io.TextIOWrapper):
    """A text view of stdin that leaves stdin itself open when it is closed."""

    def close(self) -> None:
        """Detach from stdin instead of closing it."""
        with contextlib.suppress(ValueError):
            self.detach()


def open_text(path: str | Path) -> TextIO:
    """Open ``path`` for reading text: strict UTF-8, BOM dropped, universal newlines.

    ``"-"`` is stdin (closing the returned stream leaves stdin open); a name ending in ``.gz`` is
    read through gzip. ``\\r\\n`` line ends read as ``\\n``.
    """
    name = str(path)
    if name == "-":
        return _StdinText(sys.stdin.buffer, encoding="utf-8-sig", errors="strict")
    if name.endswith(".gz"):
        return gzip.open(name, "rt", encoding="utf-8-sig", errors="strict")  # type: ignore[return-value]
    return open(name, encoding="utf-8-sig", errors="strict")  # noqa: SIM115


def _open_binary(path: str | Path) -> contextlib.AbstractContextManager[BinaryIO]:
    """Open ``path`` (``-`` = stdin, ``.gz`` = gzip) as a binary stream to be used in ``with``."""
    name = str(path)
    if name == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rb")  # type: ignore[return-value]
        return open(name, "rb")  # noqa: SIM115
    except OSError as err:
        raise TaggerError(f"cannot read {name}: {err.strerror or err}") from None


def _decode(name: str, lineno: int, raw: bytes) -> str:
    """Decode one line of bytes (terminator and, on line 1, BOM removed) as strict UTF-8."""
    if lineno == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = raw[err.start]
        message = f"not valid UTF-8 (byte 0x{bad:02x} at byte {err.start + 1} of the line)"
        raise DataError(name, lineno, message) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of ``path``, numbered from 1.

    Lines are split on ``\\n`` only (a lone ``\\r`` inside a line is kept), the terminator
    (``\\n`` or ``\\r\\n``) is removed, and a decoding error names its exact line. Lines are
    read and decoded about 1 MB at a time (half the cost of decoding line by line); a line
    longer than :data:`MAX_LINE` bytes is an error naming it, so memory stays bounded on any
    input (``/dev/zero`` included).
    """
    name = str(path)
    lineno = 0
    with _open_binary(path) as stream:
        try:
            for block in _blocks(stream, name):
                for text in _decode_block(name, lineno, block):
                    lineno += 1
                    yield lineno, text
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(name, lineno + 1, f"cannot read the file: {err}") from None


def _blocks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    """Whole lines of ``stream`` (the file's last one may lack its ``\\n``), about 1 MB at a
    time; reads what is available (``read1``), so that lines from a pipe come as they arrive."""
    read = getattr(stream, "read1", stream.read)
    rest, before = b"", 0
    while data := read(MAX_LINE):  # a line longer than one read starts in ``rest``
        first = data.find(b"\n")
        if len(rest) + (first if first >= 0 else len(data)) > MAX_LINE:
            raise DataError(name, before + 1, f"line longer than {MAX_LINE} bytes")
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            before += data.count(b"\n", 0, cut)
            yield data[:cut]
    if rest:
        yield rest


def _decode_block(name: str, before: int, block: bytes) -> list[str]:
    """Decode whole lines that follow line ``before``, as :func:`_decode` does one by one."""
    if before == 0 and block.startswith(_BOM):
        block = block[len(_BOM) :]
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:  # find the line, and say where in it
        raws = block.split(b"\n")
        if not raws[-1]:
            raws.pop()
        return [_decode(name, before + i, raw) for i, raw in enumerate(raws, 1)]
    lines = text.replace("\r\n", "\n").split("\n")
    if text.endswith("\n"):
        lines.pop()  # the empty string after the last terminator
    return lines


# ---------------------------------------------------------------------------------------------
# Cutting lines into chunks
# ---------------------------------------------------------------------------------------------


class _Builder:
    """Collects lines into chunks; shared by the three formats.

    Lines outside sentences are emitted at once, one chunk each, except a run of comment lines,
    which waits: it becomes part of the next sentence's chunk when a token line follows, or a
    chunk of its own when a blank line, a document boundary or the end of the file follows.
    """

    def __init__(self) -> None:
        self.comments: list[str] = []
        self.lines: list[str] | None = None
        self.rows: list[int] = []
        self.tokens: list[str] = []
        self.tags: list[str] | None = []
        self.first_line = 0
        self.sent_doc = 0
        self.doc = 0
        self.doc_used = False

    def new_doc(self) -> None:
        """Start a new document, unless the current one has no sentence yet."""
        if self.doc_used:
            self.doc += 1
            self.doc_used = False

    def outside(self, line: str) -> Iterator[Chunk]:
        """A line that ends any sentence and holds none (blank line, document boundary)."""
        yield from self.close()
        yield Chunk(self.comments + [line], None, [])
        self.comments = []

    def comment(self, line: str) -> Iterator[Chunk]:
        """A comment line; it ends an open sentence and attaches to the next one."""
        yield from self.close()
        self.comments.append(line)

    def extra(self, line: str) -> None:
        """A line inside a sentence that is not a token (CoNLL-U ranges and empty nodes)."""
        if self.lines is None:
            self._start()
        assert self.lines is not None
        self.lines.append(line)

    def word(self, line: str, lineno: int, token: str, tag: str | None) -> None:
        """A token line."""
        if self.lines is None:
            self._start()
        assert self.lines is not None
        if not self.tokens:
            self.first_line, self.sent_doc, self.doc_used = lineno, self.doc, True
            self.tags = None if tag is None else []
        self.rows.append(len(self.lines))
        self.lines.append(line)
        self.tokens.append(token)
        if self.tags is not None and tag is not None:
            self.tags.append(tag)

    def close(self) -> Iterator[Chunk]:
        """End the open sentence, if any, and yield its chunk."""
        if self.lines is None:
            return
        sentence = None
        if self.tokens:
            sentence = Sentence(self.tokens, self.tags, self.sent_doc, self.first_line)
        yield Chunk(self.lines, sentence, self.rows if sentence else [])
        self.lines = None

    def finish(self) -> Iterator[Chunk]:
        """End of input: yield the open sentence and any comment lines left over."""
        yield from self.close()
        if self.comments:
            yield Chunk(self.comments, None, [])
            self.comments = []

    def _start(self) -> None:
        """Open a sentence, taking the waiting comment lines as its first lines."""
        self.lines, self.comments = self.comments, []
        self.rows, self.tokens, self.tags = [], [], []


def _is_conll_comment(line: str) -> bool:
    """Whether ``line`` has the form of a comment in a CoNLL file (``# ...`` or ``#``)."""
    return line.startswith("# ") or line.rstrip() == "#"


#: CoNLL-U style metadata: ``# sent_id = 2``, ``# text = ...``, ``# newdoc id = d1``,
#: ``# global.columns = ...``, and the bare ``# newdoc`` / ``# newpar``.
_METADATA = re.compile(r"# +(?:[\w.-]+(?: [\w.-]+)? *=(?: |$)|(?:newdoc|newpar) *$)")


def _column(fields: list[str], index: int) -> str | None:
    """``fields[index]`` (negative counts from the end), or ``None`` when out of range."""
    if -len(fields) <= index < len(fields):
        return fields[index]
    return None


class _ConllLayout:
    """Checks the columns of CoNLL token lines and picks out token and tag."""

    def __init__(self, name: str, token_column: int, tag_column: int | None) -> None:
        self.name, self.token_column, self.tag_column = name, token_column, tag_column
        self.file_first: tuple[int, int] | None = None
        self.sent_first: tuple[int, int] = (0, 0)
        self.has_tag = False
        self.tab_width = 0  # TAB fields of the file's first token line; 0: not TAB-separated
        self.line_tabs = 0  # TABs in the line being read

    def fields(self, lineno: int, fields: list[str], first: bool) -> tuple[str, str | None]:
        """Return ``(token, tag)`` of a token line; ``first`` = first token line of a sentence."""
        if first:
            self._check_first(lineno, fields)
        elif len(fields) != self.sent_first[1]:
            raise self._mismatch(lineno, self.sent_first, len(fields))
        # The columns exist: the first line of the sentence was checked and this one is as wide.
        if self.has_tag:
            return fields[self.token_column], fields[self.tag_column]  # type: ignore[index]
        return fields[self.token_column], None

    def _check_first(self, lineno: int, fields: list[str]) -> None:
        """Check the first token line of a sentence; its width is the sentence's width."""
        count = len(fields)
        self.sent_first = (lineno, count)
        if self.file_first is None:
            self.file_first = (lineno, count)
            self.tab_width = self.line_tabs + 1 if self.line_tabs else 0
        elif self.tag_column == -1 and (count == 1) != (self.file_first[1] == 1):
            raise self._mismatch(lineno, self.file_first, count)
        if _column(fields, self.token_column) is None:
            message = f"token column {self.token_column} does not exist: the line has"
            raise DataError(self.name, lineno, f"{message} {count} columns")
        self.has_tag = self.tag_column is not None and not (self.tag_column == -1 and count == 1)
        if self.has_tag and _column(fields, self.tag_column) is None:  # type: ignore[arg-type]
            message = f"tag column {self.tag_column} does not exist: the line has"
            raise DataError(self.name, lineno, f"{message} {count} columns")

    def is_comment(self, line: str, fields: list[str]) -> bool:
        """Whether a line at a sentence start (no token of it read yet) is a comment.

        Metadata (``# key = value``, ``# newdoc``) always is. Another ``# ...`` or ``#`` line
        is a comment unless it is laid out like the file's token lines, counted by the file's
        separator: TAB fields in a TAB-separated file (so ``# text = a b c`` is a comment there
        whatever its words), whitespace fields otherwise. Such a line is a token line whose
        token is ``#`` (CoNLL-2000's ``# # B-NP``); before the file's first token line the
        layout is unknown and a ``# ...`` line is a comment.
        """
        if _METADATA.match(line):
            return True
        if not _is_conll_comment(line):
            return False
        if self.file_first is None:
            return True
        if self.tab_width:
            return line.count("\t") + 1 != self.tab_width
        return len(fields) != self.file_first[1]

    def _mismatch(self, lineno: int, like: tuple[int, int], count: int) -> DataError:
        """The error for a token line whose column count differs from an earlier line's."""
        message = f"expected {like[1]} columns like line {like[0]}, found {count}"
        hint = " (if the file is text, one sentence per line, pass --input-format text)"
        return DataError(self.name, lineno, message + hint)


def _conll_chunks(
    name: str, lines: Iterable[tuple[int, str]], token_column: int, tag_column: int | None
) -> Iterator[Chunk]:
    """Cut the lines of a CoNLL file into chunks."""
    build = _Builder()
    layout = _ConllLayout(name, token_column, tag_column)
    for lineno, line in lines:
        fields = line.split()
        if not fields:
            yield from build.outside(line)
        elif fields[0] == DOCSTART:
            yield from build.outside(line)
            build.new_doc()
        else:
            first = build.lines is None
            if first and line.startswith("#") and layout.is_comment(line, fields):
                if _NEWDOC.match(line):
                    build.new_doc()
                yield from build.comment(line)
            else:
                layout.line_tabs = line.count("\t") if first else 0
                token, tag = layout.fields(lineno, fields, first)
                build.word(line, lineno, token, tag)
    yield from build.finish()


def _misc_value(misc: str, key: str) -> str | None:
    """The value of ``key`` in a CoNLL-U MISC field (``Key=Value|...``), or ``None``."""
    if misc in ("", "_"):
        return None
    for item in misc.split("|"):
        name, eq, value = item.partition("=")
        if eq and name == key:
            return value
    return None


def conllu_tag(fields: list[str], tag_field: str) -> str:
    """The tag of a CoNLL-U word line (its 10 fields): UPOS, XPOS or a MISC key's value (``O``
    if absent)."""
    kind = tag_field.lower()
    if kind == "upos":
        return fields[_UPOS]
    if kind == "xpos":
        return fields[_XPOS]
    value = _misc_value(fields[_MISC], tag_field)
    return "O" if value is None else value


def _conllu_chunks(name: str, lines: Iterable[tuple[int, str]], tag_field: str) -> Iterator[Chunk]:
    """Cut the lines of a CoNLL-U file into chunks."""
    build = _Builder()
    for lineno, line in lines:
        if not line.strip():
            yield from build.outside(line)
        elif line.startswith("#"):
            yield from build.close()
            if _NEWDOC.match(line):
                build.new_doc()
            yield from build.comment(line)
        else:
            fields = line.split("\t")
            if len(fields) != CONLLU_FIELDS:
                message = f"expected {CONLLU_FIELDS} tab-separated fields, found {len(fields)}"
                raise DataError(name, lineno, message)
            if "-" in fields[0] or "." in fields[0]:
                build.extra(line)
            else:
                build.word(line, lineno, fields[1], conllu_tag(fields, tag_field))
    yield from build.finish()


def _text_chunks(lines: Iterable[tuple[int, str]]) -> Iterator[Chunk]:
    """Cut raw text (one sentence per line) into chunks of one line each."""
    for lineno, line in lines:
        tokens = line.split()
        if tokens:
            yield Chunk([line], Sentence(tokens, None, 0, lineno), [0] * len(tokens))
        else:
            yield Chunk([line], None, [])


def _check_format(fmt: str) -> None:
    """Raise a clear error for an unknown format name."""
    if fmt not in FORMATS:
        raise TaggerError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def iter_chunks(
    path: str | Path,
    fmt: str = "conll",
    token_column: int = 0,
    tag_column: int | None = -1,
    tag_field: str = "upos",
    lines: Iterable[tuple[int, str]] | None = None,
) -> Iterator[Chunk]:
    """Yield every line of ``path`` exactly once, in order, grouped into chunks.

    ``token_column``/``tag_column`` choose the CoNLL columns (negative counts from the end;
    ``tag_column=None`` reads no tags; a file whose first token line has one column reads no
    tags when ``tag_column`` is -1). ``tag_field`` chooses the CoNLL-U tag: ``upos``, ``xpos``,
    or a MISC key. ``lines``: the numbered lines of ``path`` when already opened (a
    ``sniff.PeekedLines``); ``path`` then only names the file in errors. Raises
    :class:`DataError` naming the line for malformed input.
    """
    _check_format(fmt)
    lines = iter_lines(path) if lines is None else lines
    if fmt == "text":
        yield from _text_chunks(lines)
    elif fmt == "conllu":
        yield from _conllu_chunks(str(path), lines, tag_field)
    else:
        yield from _conll_chunks(str(path), lines, token_column, tag_column)


def read_sentences(
    path: str | Path,
    fmt: str = "conll",
    token_column: int = 0,
    tag_column: int | None = -1,
    tag_field: str = "upos",
) -> Iterator[Sentence]:
    """Yield the sentences of ``path`` (see :func:`iter_chunks` for the arguments)."""
    for chunk in iter_chunks(path, fmt, token_column, tag_column, tag_field):
        if chunk.sentence is not None:
            yield chunk.sentence


def require_sentences(path: str | Path, sentences: Iterable[Sentence]) -> Iterator[Sentence]:
    """Pass ``sentences`` through; raise :class:`DataError` at the end if there were none."""
    found = False
    for sentence in sentences:
        found = True
        yield sentence
    if not found:
        raise DataError(str(path), None, "no sentences found")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


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
    elif _column(fields, tag_column) is None:
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
        return _set_conllu_tag(line, tag, "Pred")
    return line.rstrip() + ("\t" if "\t" in line else " ") + tag


def _set_misc(misc: str, key: str, value: str) -> str:
    """Set ``key=value`` in a CoNLL-U MISC field, replacing an earlier value of ``key``."""
    items = [] if misc in ("", "_") else misc.split("|")
    entry = f"{key}={value}"
    for index, item in enumerate(items):
        name, eq, _ = item.partition("=")
        if eq and name == key:
            items[index] = entry
            break
    else:
        items.append(entry)
    return "|".join(items) or "_"


def _set_conllu_tag(line: str, tag: str, tag_field: str) -> str:
    """Rebuild a CoNLL-U word line with its UPOS, XPOS or MISC ``tag_field`` set to ``tag``."""
    fields = line.split("\t")
    kind = tag_field.lower()
    if kind == "upos":
        fields[_UPOS] = tag
    elif kind == "xpos":
        fields[_XPOS] = tag
    else:
        fields[_MISC] = _set_misc(fields[_MISC], tag_field, tag)
    return "\t".join(fields)


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
    _check_format(fmt)
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
            out[row] = _set_conllu_tag(out[row], tag, tag_field)
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
