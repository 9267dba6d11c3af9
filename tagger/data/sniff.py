"""Decide from a file's content whether it is CoNLL-U, CoNLL columns or text, and whether its
last column is the model's tag column (replace it) or something else (append a new one).

Only the first lines are read ahead (:mod:`tagger.data.peek`: up to 200 lines or 64 KiB), kept
and replayed, so detection works on stdin and gzip in a single pass. The rules (first match wins):

1. ``conllu``: the lines are TAB-separated with 10 fields and an id (``3``, ``3-4``, ``5.1``).
2. ``text``: a single line of more than four words (nothing to compare it with).
3. ``conll``: one token per line; or every token line has the same number of columns (at least
   90% of them) and the last column looks like tags (``O``/``B-X``..., the model's labels, POS
   codes such as ``NNP``), or repeats a few values as tags do; a few uneven lines in a file of
   tags is still CoNLL (the reader then names the uneven line).
4. ``text``: none of the above, and the lines have widely varying numbers of words, or their
   last words do not look like tags (unless ten or more lines are all equally wide).

Anything in between is ambiguous: the extension (``.conllu``, ``.conll``, ``.raw``, ``.text``)
breaks the tie, or a one-line error says what was seen and which flag to pass. Hand-written:
``csv.Sniffer`` guesses delimiters only, and no maintained library tells CoNLL from plain text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tagger.data.chunks import DOCSTART, Chunk
from tagger.data.conllu import CONLLU_FIELDS, conllu_tag
from tagger.data.peek import PeekedLines, head_lines
from tagger.errors import DataError, TaggerError

WRITE_MODES = ("auto", "replace", "append", "gold-pred")
_CONLLU_ID = re.compile(r"\d+(-\d+|\.\d+)?")
_ENTITY_TAG = re.compile(r"O|[A-Z]-\S+")  # conlleval-shaped, malformed prefixes too
_POS_CODE = re.compile(r"[A-Z]{1,5}\$?|-[A-Z]{3,5}-")  # NNP, PRP$, PROPN, -LRB-
_PUNCT = re.compile(r"[^\w\s]+")
_EXTENSIONS = {".conllu": "conllu", ".conll": "conll", ".raw": "text", ".text": "text"}


@dataclass(frozen=True)
class KnownTags:
    """The labels a model writes, in the scheme of its training files, to recognise its tag
    column: plain tags (``O``, POS tags) and entity types (any ``B-``/``I-``/... prefix)."""

    plain: frozenset[str]
    types: frozenset[str]

    @classmethod
    def of(cls, tags: Iterable[str], scheme: str) -> KnownTags:
        """From a vocabulary's tags; ``scheme`` ``none`` means plain tags (no prefixes)."""
        tags = list(tags)
        if scheme == "none":
            return cls(frozenset(tags), frozenset())
        types = {t.split("-", 1)[1] for t in tags if "-" in t}
        return cls(frozenset(tags) | {"O"}, frozenset(types))

    def knows(self, value: str) -> bool:
        """Whether ``value`` is one of these labels (an entity type with any prefix counts)."""
        if value in self.plain:
            return True
        prefix, sep, kind = value.partition("-")
        return bool(sep) and len(prefix) == 1 and prefix in "BIESLU" and kind in self.types


@dataclass
class Evidence:
    """What the first lines show, as shares of the lines that would be CoNLL token lines."""

    lines: int  # token lines: not blank, not -DOCSTART-, not a comment before a block
    conllu: float  # TAB-separated, 10 fields, an id first
    conllu_like: float  # TAB-separated, an id first, any field count
    width: int  # the most common number of columns
    same_width: float  # share of lines with that many columns
    tag_like: float | None  # share of last fields that look like tags (None: nothing to judge)
    repeats: float  # 1 - distinct / count of the last fields
    tabs: float  # share of lines with a TAB


def _token_lines(head: Iterable[tuple[int, str]]) -> list[str]:
    """Lines that would be token lines in a CoNLL file (comment lines that open a block and
    ``-DOCSTART-`` lines left out)."""
    out, block_start = [], True
    for _, line in head:
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            block_start = True
        elif block_start and line.startswith("#"):
            continue
        else:
            out.append(line)
            block_start = False
    return out


def _looks_like_tag(value: str, known: KnownTags | None) -> bool | None:
    """True for tag-shaped values, False for words, None for punctuation (a tag or a word)."""
    if known is not None and known.knows(value):
        return True
    if _ENTITY_TAG.fullmatch(value) or _POS_CODE.fullmatch(value):
        return True
    return None if _PUNCT.fullmatch(value) else False


def gather(head: Iterable[tuple[int, str]], known: KnownTags | None = None) -> Evidence:
    """Measure the first lines of a file (see :class:`Evidence`)."""
    lines = _token_lines(head)
    count = max(len(lines), 1)
    split = [line.split() for line in lines]
    tabbed = [line.split("\t") for line in lines if "\t" in line]
    ids = [f for f in tabbed if len(f) > 1 and _CONLLU_ID.fullmatch(f[0])]
    widths = Counter(len(f) for f in split)
    width, most = widths.most_common(1)[0] if widths else (0, 0)
    looks = [(f[-1], _looks_like_tag(f[-1], known)) for f in split if len(f) > 1]
    judged = [v for _, v in looks if v is not None]
    lasts = [x for x, v in looks if v is not None]  # punctuation repeats in text as well
    return Evidence(
        lines=len(lines),
        conllu=sum(len(f) == 10 for f in ids) / count,
        conllu_like=len(ids) / count,
        width=width,
        same_width=most / count,
        tag_like=sum(judged) / len(judged) if judged else None,
        repeats=1 - len(set(lasts)) / len(lasts) if lasts else 0.0,
        tabs=len(tabbed) / count,
    )


def _columns(e: Evidence) -> bool:
    """CoNLL columns: even widths and a tag column (by its look, its repeats or TABs)."""
    tag_like = e.tag_like or 0.0
    even = e.same_width >= 0.9 and e.width >= 2
    repeated = e.lines >= 10 and e.repeats >= 0.5
    return even and (tag_like >= 0.6 or repeated or e.tabs >= 0.9)


def _broken_columns(e: Evidence) -> bool:
    """A file of tags with a few uneven lines: CoNLL, so that the reader names the bad line."""
    return e.same_width >= 0.6 and e.width >= 2 and (e.tag_like or 0.0) >= 0.8


def _text(e: Evidence) -> bool:
    """Lines of words: the widths vary too much for columns (fewer than half of the lines as
    wide as the most common width), or the last words do not look like tags, unless ten or
    more lines are all equally wide (columns of words, such as token and lemma: ambiguous)."""
    even_many = e.same_width >= 0.9 and e.width >= 2 and e.lines >= 10
    return e.same_width < 0.5 or ((e.tag_like or 0.0) <= 0.2 and not even_many)


# Checked in order; the first that holds names the format. A new format adds its rule here.
RULES: list[tuple[str, Callable[[Evidence], bool]]] = [
    ("conllu", lambda e: e.conllu >= 0.5),
    ("text", lambda e: e.lines == 1 and e.width > 4),  # one line of words: nothing to compare
    ("conll", lambda e: e.width == 1 and e.same_width >= 0.9),
    ("conll", _columns),
    ("conll", _broken_columns),
    ("text", _text),
]


def _extension(name: str) -> str | None:
    """The format the file name suggests (``.gz`` ignored), if any."""
    lower = name.lower().removesuffix(".gz")
    return next((fmt for ext, fmt in _EXTENSIONS.items() if lower.endswith(ext)), None)


def describe(e: Evidence) -> str:
    """What the first lines showed, in a few words, for the ambiguity error."""
    tags = "no" if e.tag_like is None else f"{e.tag_like:.0%}"
    return (
        f"{e.lines} lines, {e.same_width:.0%} of them with {e.width} columns, "
        f"{tags} of last words tag-like"
    )


def detect_format(
    name: str,
    head: Iterable[tuple[int, str]],
    known: KnownTags | None = None,
    flag: str = "--input-format conll, conllu or text",
) -> str:
    """``conllu``, ``conll`` or ``text`` for a file whose first lines are ``head``.

    ``known``: the model's labels, when a model will read the file. Raises :class:`DataError`
    naming the file (and ``flag``, the option to pass) when the content is ambiguous and the
    name does not break the tie.
    """
    evidence = gather(head, known)
    suggested = _extension(name)
    if evidence.lines == 0:
        return suggested or "conll"  # nothing to see: the reader reports "no sentences"
    if suggested == "conllu" and evidence.conllu_like >= 0.5:
        return "conllu"  # malformed CoNLL-U: the reader names the line
    for fmt, rule in RULES:
        if rule(evidence):
            return fmt
    if suggested is not None:
        return suggested
    raise DataError(
        name,
        None,
        f"cannot tell the input format from the first lines ({describe(evidence)}): pass {flag}",
    )


def _field_values(fmt: str, head: Iterable[tuple[int, str]], tag_column: int, tag_field: str):
    """The distinct values of the tag column (CoNLL) or tag field (CoNLL-U) in ``head``."""
    values = set()
    for line in _token_lines(head):
        if fmt == "conllu":
            fields = line.split("\t")
            if len(fields) == CONLLU_FIELDS and _CONLLU_ID.fullmatch(fields[0]):
                values.add(conllu_tag(fields, tag_field))
            continue
        fields = line.split()
        if len(fields) > 1 and -len(fields) <= tag_column < len(fields):
            values.add(fields[tag_column])
    return values


def choose_write(
    fmt: str,
    head: Iterable[tuple[int, str]],
    known: KnownTags | None,
    tag_column: int | None = -1,
    tag_field: str = "upos",
    mode: str = "auto",
) -> str:
    """``replace``, ``append`` or ``gold-pred``: how predictions go into the file.

    ``auto`` replaces the tag column (CoNLL) or field (CoNLL-U) only when at least half of its
    distinct values in the first lines are the model's labels; otherwise (words, POS tags,
    another tag set) the predictions are appended (a new last column; CoNLL-U: MISC ``Pred``),
    so nothing of the input is lost. Without a model's labels, or for text, ``replace``.
    """
    if mode not in WRITE_MODES:
        raise TaggerError(f"unknown write mode {mode!r}: expected one of {', '.join(WRITE_MODES)}")
    if mode != "auto":
        return mode
    if fmt == "text" or known is None or tag_column is None:
        return "replace"  # text output is new lines; no tag column: replacing appends
    values = _field_values(fmt, head, tag_column, tag_field)
    if not values:
        return "replace"  # one-column lines: replacing appends; a missing column is an error
    share = sum(known.knows(v) for v in values) / len(values)
    return "replace" if share >= 0.5 else "append"


@dataclass
class Input:
    """A file opened for tagging: its format, how to write into it, and its lines."""

    fmt: str
    write: str
    lines: PeekedLines


def open_input(
    path: str | Path,
    fmt: str | None,
    known: KnownTags | None,
    tag_column: int | None = -1,
    tag_field: str = "upos",
    write: str = "auto",
) -> Input:
    """Open ``path`` (``-``: stdin) for tagging: read its first lines, detect the format
    unless ``fmt`` is given, and resolve the ``write`` mode (see :func:`choose_write`)."""
    lines = PeekedLines(path)
    fmt = fmt or detect_format(str(path), lines.head, known)
    mode = choose_write(fmt, lines.head, known, tag_column, tag_field, write)
    if mode == "gold-pred" and fmt != "conll":
        raise TaggerError(f"--write gold-pred needs CoNLL columns; {path} is read as {fmt}")
    return Input(fmt, mode, lines)


def format_of(path: str | Path, known: KnownTags | None = None, flag: str | None = None) -> str:
    """The detected format of a file (reads its first lines only)."""
    head = head_lines(path)
    return detect_format(str(path), head, known, *([flag] if flag else []))


def training_format(path: str) -> str:
    """``conll`` or ``conllu`` for a training file (``hf:`` and missing paths: ``conll``, for the
    loader to handle); a file that reads as text is a :class:`DataError`."""
    if path.startswith("hf:") or not Path(path).is_file():
        return "conll"
    fmt = format_of(path, flag="data.format=conll or conllu")
    if fmt == "text":
        message = "reads as text (no tag column); training needs CoNLL or CoNLL-U (data.format)"
        raise DataError(path, None, message)
    return fmt


def require_gold(name: str, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """Pass ``chunks`` through; a sentence without a gold tag column raises :class:`DataError`."""
    for chunk in chunks:
        if chunk.sentence is not None and chunk.sentence.tags is None:
            message = "--write gold-pred needs a gold tag column, and this line has only one column"
            raise DataError(name, chunk.sentence.line, message)
        yield chunk
