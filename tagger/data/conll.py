"""Read sentences from CoNLL, CoNLL-U and raw text files as a stream of chunks.

Reading streams: a file is read line by line (:mod:`tagger.data.lines`) and cut into
:class:`Chunk` objects (:mod:`tagger.data.chunks`), so a file of any size is processed in bounded
memory. A chunk is either one sentence (with the comment lines just before it) or one line that
holds no sentence (a blank line, a ``-DOCSTART-`` line, a comment that no sentence follows).
Writing maps each chunk back to its lines with the tag column replaced by predictions
(:func:`tagger.data.writing.format_chunk`), so that for the ``conll`` and ``conllu`` formats the
output has exactly one line per input line and every line that is not a token line is copied
unchanged. The public names of reading and writing are importable from here.

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
    :mod:`tagger.data.conllu`.
``text``
    One sentence per line, tokens separated by whitespace, no tags.

Which format a file is in is decided from its content by :mod:`tagger.data.sniff`, which also
decides whether predictions replace the tag column or are appended (``format_chunk``'s ``write``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tagger.data.chunks import (
    DOCSTART,
    FORMATS,
    Chunk,
    ChunkBuilder,
    Sentence,
    check_format,
    column,
)
from tagger.data.conllu import CONLLU_FIELDS, conllu_chunks, conllu_tag
from tagger.data.lines import MAX_LINE, iter_lines
from tagger.data.writing import format_chunk, write_lines_atomic
from tagger.errors import DataError

# Callers import reading and writing from here; the pieces live in lines, chunks, conllu, writing.
__all__ = [
    "CONLLU_FIELDS",
    "DOCSTART",
    "FORMATS",
    "MAX_LINE",
    "Chunk",
    "Sentence",
    "conllu_tag",
    "format_chunk",
    "iter_chunks",
    "iter_lines",
    "read_sentences",
    "require_sentences",
    "write_lines_atomic",
]


def _is_conll_comment(line: str) -> bool:
    """Whether ``line`` has the form of a comment in a CoNLL file (``# ...`` or ``#``)."""
    return line.startswith("# ") or line.rstrip() == "#"


#: CoNLL-U style metadata: ``# sent_id = 2``, ``# text = ...``, ``# newdoc id = d1``,
#: ``# global.columns = ...``, and the bare ``# newdoc`` / ``# newpar``.
_METADATA = re.compile(r"# +(?:[\w.-]+(?: [\w.-]+)? *=(?: |$)|(?:newdoc|newpar) *$)")


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
        if column(fields, self.token_column) is None:
            message = f"token column {self.token_column} does not exist: the line has"
            raise DataError(self.name, lineno, f"{message} {count} columns")
        self.has_tag = self.tag_column is not None and not (self.tag_column == -1 and count == 1)
        if self.has_tag and column(fields, self.tag_column) is None:  # type: ignore[arg-type]
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
    build = ChunkBuilder()
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
                yield from build.comment(line)
            else:
                layout.line_tabs = line.count("\t") if first else 0
                token, tag = layout.fields(lineno, fields, first)
                build.word(line, lineno, token, tag)
    yield from build.finish()


def _text_chunks(lines: Iterable[tuple[int, str]]) -> Iterator[Chunk]:
    """Cut raw text (one sentence per line) into chunks of one line each."""
    for lineno, line in lines:
        tokens = line.split()
        if tokens:
            yield Chunk([line], Sentence(tokens, None, 0, lineno), [0] * len(tokens))
        else:
            yield Chunk([line], None, [])


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
    check_format(fmt)
    lines = iter_lines(path) if lines is None else lines
    if fmt == "text":
        yield from _text_chunks(lines)
    elif fmt == "conllu":
        yield from conllu_chunks(str(path), lines, tag_field)
    else:
        yield from _conll_chunks(str(path), lines, token_column, tag_column)


def read_sentences(path: str | Path, *options: Any, **named: Any) -> Iterator[Sentence]:
    """Yield the sentences of ``path``; the other arguments are :func:`iter_chunks`'s (format,
    token and tag column, CoNLL-U tag field)."""
    for chunk in iter_chunks(path, *options, **named):
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
