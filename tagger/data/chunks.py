"""A file's lines grouped into chunks: one sentence (with the comment lines just before it), or
one line that holds no sentence; the builder that the formats' readers share.

Nothing is lost, so that predictions can be written back line for line (:mod:`tagger.data.writing`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tagger.errors import TaggerError

FORMATS = ("conll", "conllu", "text")
DOCSTART = "-DOCSTART-"
NEWDOC = re.compile(r"#\s*newdoc(\s|=|$)")


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


class ChunkBuilder:
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
        """A comment line; it ends an open sentence and attaches to the next one. A
        ``# newdoc`` comment starts a new document."""
        yield from self.close()
        if NEWDOC.match(line):
            self.new_doc()
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


def column(fields: list[str], index: int) -> str | None:
    """``fields[index]`` (negative counts from the end), or ``None`` when out of range."""
    if -len(fields) <= index < len(fields):
        return fields[index]
    return None


def check_format(fmt: str) -> None:
    """Raise a clear error for an unknown format name."""
    if fmt not in FORMATS:
        raise TaggerError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
