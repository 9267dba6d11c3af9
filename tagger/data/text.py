"""Raw text -> sentences of tokens with character offsets into the original text.

Tokens and sentences come from spaCy's rule-based English tokenizer and sentencizer
(``spacy.blank("en")``, no model; chosen over syntok and segtok in ``docs/text.md``), with two
rules changed towards the CoNLL-2003 / Penn Treebank conventions the shipped corpora use:

- hyphens inside words and numbers do not split (``Bre-X``, ``1996-12-06``, ``one-day``), as in
  CoNLL-2003 and PTB; spaCy splits them by default;
- ``):`` and ``(:`` are not emoticons (``(Reuters):`` ends in two tokens).

The sentencizer ends sentences at final punctuation only; in ``sentences`` and ``wrapped``,
lines without it that ran into the next sentence are also cut: datelines, and in a long
sentence the rows of a results table and a list after a colon (``_unpunctuated_ends``).

A :class:`Token`'s text is always ``text[start:end]`` of the text it came from; whitespace is
never part of a token, and every other character is in exactly one token.

Four ways to cut text into sentences (``SPLITS``); in all of them blank (or whitespace-only)
lines separate documents:

``sentences``
    running text: the sentencizer finds the sentences within each line, and a line end also
    ends a sentence (so a file of one sentence, or one paragraph, per line reads right).
``wrapped``
    running text whose lines are wrapped: a single line end is just a space, and sentences may
    run across lines.
``lines``
    one sentence per line, tokenised.
``pretokenized``
    one sentence per line, tokens separated by whitespace (nothing else is split).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tagger.data.chunks import Chunk, Sentence
from tagger.data.lines import iter_lines
from tagger.errors import TaggerError

SPLITS = ("sentences", "wrapped", "lines", "pretokenized")
DOCUMENT_SPLITS = ("sentences", "wrapped")  # a record per document (else per line)
MAX_DOCUMENT_CHARS = 1_000_000  # a longer block of lines is cut at a line end (bounded memory)


@dataclass(frozen=True)
class Token:
    """A token and its character offsets ``[start, end)`` in the text it came from."""

    text: str
    start: int
    end: int


def check_split(split: str) -> None:
    """Raise a one-line error for an unknown ``split``."""
    if split not in SPLITS:
        raise TaggerError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


@lru_cache(maxsize=1)
def _nlp() -> Any:
    """spaCy's blank English pipeline with a sentencizer and the CoNLL rules above (cached)."""
    try:
        import spacy
        from spacy.lang.char_classes import HYPHENS
        from spacy.util import compile_infix_regex
    except ImportError as err:  # pragma: no cover - spacy is a core dependency
        raise TaggerError(f"tagging raw text needs spaCy: pip install spacy ({err})") from None
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    infixes = []
    for pattern in nlp.Defaults.infixes:
        if HYPHENS in pattern:
            continue  # letter-hyphen-letter
        infixes.append(pattern.replace(r"[+\-\*^](?=[0-9-])", r"[+\*^](?=[0-9])"))
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items() if k not in ("):", "(:")}
    return nlp


def _doc_tokens(tokens: Iterable[Any], text: str, base: int) -> list[Token]:
    """The non-whitespace tokens of a spaCy Doc or Span, offsets shifted by ``base``."""
    out = []
    for token in tokens:
        if not token.is_space:
            start = base + token.idx
            out.append(Token(text[start : start + len(token)], start, start + len(token)))
    return out


def _doc_sentences(doc: Any, text: str, base: int) -> list[list[Token]]:
    """The non-whitespace tokens of a spaCy Doc per sentence, offsets shifted by ``base``."""
    found = (_doc_tokens(span, text, base) for span in doc.sents)
    return [piece for tokens in found if tokens for piece in _unpunctuated_ends(tokens)]


LONG_SENTENCE = 30  # tokens: a longer sentence is likely lines run together (see below)
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")
_NUMBER = re.compile(r"[+-]?\.?\d[\d.,/:-]*")


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and any(c.isalpha() for c in word)


def _word(word: str) -> bool:
    return sum(c.isalpha() for c in word) >= 2


def _all_caps(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _unpunctuated_ends(tokens: list[Token]) -> list[list[Token]]:
    """Sentence ends that the sentencizer (which looks for final punctuation) misses where
    lines without it ran into the next sentence: a dateline (``LONDON 1996-08-30``, ``AL-RAM,
    West Bank 1996-08-30``) is a sentence of its own, cut after its date when a capitalised
    word follows, and before its capitalised place name when a byline or other words precede
    it; in a sentence longer than ``LONG_SENTENCE`` tokens, a capitalised word after a colon
    starts a sentence (a list), and so does a word after a number (a table row; ``9 C`` and
    ``6 P`` are a unit and a model name)."""
    words = [t.text for t in tokens]
    long = len(words) > LONG_SENTENCE
    cuts = {0, len(words)}
    for i in range(1, len(words)):
        before = words[i - 1]
        if not _capitalised(words[i]):
            continue
        if _DATE.fullmatch(before):
            cuts |= {i, _dateline_start(words, i - 1)}
        elif long and (before == ":" or _NUMBER.fullmatch(before) and _word(words[i])):
            cuts.add(i)
    bounds = sorted(cuts)
    return [tokens[a:b] for a, b in zip(bounds, bounds[1:])]


def _dateline_start(words: list[str], date: int) -> int:
    """Where the dateline ending in ``words[date]`` starts: its place name in capitals within
    the six words before the date, after a word with lower-case letters (0 when none)."""
    for j in range(date - 1, max(0, date - 7), -1):
        if _all_caps(words[j]) and j > 0 and any(c.islower() for c in words[j - 1]):
            return j
        if words[j][:1].islower():
            return 0
    return 0


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    """``[start, end)`` of each line of ``text`` without its line end (``\\n``, ``\\r\\n``)."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        stop = len(text) if end < 0 else end
        yield start, stop - 1 if stop > start and text[stop - 1] == "\r" else stop
        if end < 0:
            return
        start = end + 1


def _whitespace_tokens(text: str, start: int, end: int) -> list[Token]:
    """Tokens separated by whitespace in ``text[start:end]``."""
    out, pos = [], start
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        stop = pos
        while stop < end and not text[stop].isspace():
            stop += 1
        if stop > pos:
            out.append(Token(text[pos:stop], pos, stop))
        pos = stop
    return out


def split_text(text: str, split: str = "sentences") -> list[list[Token]]:
    """The sentences of ``text`` (see ``SPLITS``), each a list of tokens with offsets into
    ``text``. Whitespace-only text gives no sentences."""
    check_split(split)
    if split == "wrapped":
        return _doc_sentences(_nlp()(text), text, 0) if text.strip() else []
    out = []
    for start, end in _line_spans(text):
        if split == "sentences":
            line = text[start:end]
            out += _doc_sentences(_nlp()(line), text, start) if line.strip() else []
            continue
        if split == "pretokenized":
            tokens = _whitespace_tokens(text, start, end)
        else:
            tokens = _doc_tokens(_nlp().make_doc(text[start:end]), text, start)
        if tokens:
            out.append(tokens)
    return out


# ---------------------------------------------------------------------------------------------
# Text files as a stream of chunks (one per sentence), for Tagger.tag_chunks
# ---------------------------------------------------------------------------------------------


@dataclass
class TextRecord:
    """One unit of text output: a document (``DOCUMENT_SPLITS``) or a line (the others).
    ``index`` counts records from 0, ``line`` is the first input line (from 1), ``doc`` the
    document number that document-level models see; ``parts`` its lines, which arrive one by
    one while the record's sentences are already being tagged."""

    index: int
    line: int
    doc: int
    parts: list[str] = field(default_factory=list)
    sentence_count: int = 0

    @property
    def text(self) -> str:
        """The record's text: its lines joined by ``\\n``."""
        return "\n".join(self.parts)


@dataclass
class TextChunk(Chunk):
    """The ``row``-th sentence of a text record: tokens with offsets into ``record.text``;
    ``size``: the input characters read for it (its line's, on a line's first sentence)."""

    record: TextRecord | None = None
    tokens: list[Token] = field(default_factory=list)
    row: int = 0
    size: int = 0


def _chunk(record: TextRecord, lineno: int, tokens: list[Token], size: int) -> TextChunk:
    """The next sentence of ``record``."""
    sentence = Sentence([t.text for t in tokens], None, record.doc, lineno)
    row, record.sentence_count = record.sentence_count, record.sentence_count + 1
    return TextChunk([], sentence, list(range(len(tokens))), record, tokens, row, size)


def _line_chunks(numbered: Iterable[tuple[int, str]], split: str) -> Iterator[TextChunk]:
    """Splits that never join lines: each line is cut as it is read, so the first sentences
    are tagged before the end of a document (or of stdin) arrives. Records: documents for
    ``sentences`` (cut at a line end after ``MAX_DOCUMENT_CHARS``), lines for the others."""
    index, doc, base = -1, 0, 0
    record: TextRecord | None = None
    for lineno, line in numbered:
        if not line.strip():
            doc += record is not None  # a blank line after text: the next document
            record = None
            continue
        if record is None or split != "sentences" or base > MAX_DOCUMENT_CHARS:
            index, base = index + 1, 0
            record = TextRecord(index, lineno, doc)
        else:
            base += 1  # the line end before this line
        record.parts.append(line)
        for row, found in enumerate(split_text(line, split)):
            tokens = [Token(t.text, t.start + base, t.end + base) for t in found]
            yield _chunk(record, lineno, tokens, len(line) + 1 if row == 0 else 0)
        base += len(line)


def _wrapped_chunks(numbered: Iterable[tuple[int, str]]) -> Iterator[TextChunk]:
    """``wrapped``: sentences may cross lines, so a document (or a ``MAX_DOCUMENT_CHARS``
    piece of one, cut at a line end) is read whole before it is split."""
    index, doc, record, size = -1, 0, None, 0

    def close() -> Iterator[TextChunk]:
        assert record is not None
        text = record.text
        for row, tokens in enumerate(split_text(text, "wrapped")):
            yield _chunk(record, record.line, tokens, len(text) + 1 if row == 0 else 0)

    for lineno, line in numbered:
        if not line.strip():
            if record is not None:
                yield from close()
                doc, record = doc + 1, None
            continue
        if record is not None and size > MAX_DOCUMENT_CHARS:
            yield from close()
            record = None
        if record is None:
            index, size = index + 1, 0
            record = TextRecord(index, lineno, doc)
        record.parts.append(line)
        size += len(line) + 1
    if record is not None:
        yield from close()


def iter_text_chunks(
    path: str | Path, split: str = "sentences", lines: Iterable[tuple[int, str]] | None = None
) -> Iterator[TextChunk]:
    """Stream a raw text file as one :class:`TextChunk` per sentence, in order, in bounded
    memory. Offsets are into each record's text, where a line end counts as ``\\n``.
    ``lines``: the file's numbered lines when it is already open (``sniff.PeekedLines``)."""
    check_split(split)
    numbered = iter_lines(path) if lines is None else lines
    if split == "wrapped":
        yield from _wrapped_chunks(numbered)
    else:
        yield from _line_chunks(numbered, split)


def records_of(pairs: Iterable[tuple[Any, Any]]) -> Iterator[tuple[TextRecord, list[Any]]]:
    """Group ``(TextChunk, result)`` pairs back into ``(record, [(tokens, result), ...])``."""
    current: TextRecord | None = None
    items: list[Any] = []
    for chunk, result in pairs:
        if chunk.record is not current:
            if current is not None:
                yield current, items
            current, items = chunk.record, []
        if result is not None:
            items.append((chunk.tokens, result))
    if current is not None:
        yield current, items


_ACCEPTED = (
    'predict takes a string ("Obama visited Paris."), a list of strings, or a list of token '
    'lists ([["Obama", "visited", "Paris"]])'
)


def input_kind(texts: object, tokenized: bool | None = None) -> tuple[str, list[Any]]:
    """Classify the input of ``Tagger.predict``: ``("text", [text])`` for one string,
    ``("texts", strings)`` or ``("tokens", token lists)``. Anything else is a ``TypeError`` that
    names the accepted forms, and so are strings with ``tokenized=True`` (they would be tagged
    character by character)."""
    if isinstance(texts, str):
        kind, items = "text", [texts]
    elif isinstance(texts, (bytes, dict)) or not isinstance(texts, Iterable):
        raise TypeError(f"{_ACCEPTED}; got {type(texts).__name__}")
    else:
        items = list(texts)
        if not items:
            kind = "tokens" if tokenized else "texts"
        elif all(isinstance(t, str) for t in items):
            kind = "texts"
        elif all(_is_token_list(t) for t in items):
            kind = "tokens"
        else:
            first = isinstance(items[0], str)  # the first item's form; the bad one differs
            bad = next(t for t in items if isinstance(t, str) != first or not _accepted(t))
            raise TypeError(f"{_ACCEPTED}; got an item {bad!r:.60}")
    if tokenized and kind != "tokens":
        raise TypeError(f"tokenized=True needs token lists, not strings: {_ACCEPTED}")
    return kind, items


def _accepted(item: object) -> bool:
    return isinstance(item, str) or _is_token_list(item)


def _is_token_list(item: object) -> bool:
    return isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item)
