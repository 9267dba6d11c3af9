"""Tagging results as Python objects, running counts of what was tagged, and tagged files and raw
text as output lines (CoNLL written back line for line, JSONL, standoff).

Results of raw text carry character offsets into the text they came from: a span's
``text[start_char:end_char]`` is its ``text``, always (the text is sliced, never rebuilt).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.data.conll import Chunk, format_chunk
from tagger.data.text import Token, records_of

OUTPUT_FORMATS = ("conll", "jsonl", "standoff")
STANDOFF_COLUMNS = ("id", "start", "end", "type", "text", "confidence")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Tally(int):
    """The number of tokens tagged (an int, as it always was) and ``sentences``, their count."""

    sentences: int = 0


@dataclass
class TagCount:
    """Tokens and sentences of a stream tagged so far."""

    tokens: int = 0
    sentences: int = 0

    def add(self, tokens: int) -> None:
        """Count one sentence of ``tokens`` tokens."""
        self.tokens += tokens
        self.sentences += 1

    def tally(self) -> Tally:
        out = Tally(self.tokens)
        out.sentences = self.sentences
        return out


@dataclass
class Span:
    """An entity: its type, token offsets [start, end), text, confidence (the smallest marginal
    probability of its tokens' tags) and, for raw text, character offsets [start_char, end_char)."""

    type: str
    start: int
    end: int
    text: str
    confidence: float = 1.0
    start_char: int | None = None
    end_char: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class TaggedSentence:
    """A tagged sentence: tokens, tags (in the training files' scheme), entity spans, each
    token's marginal probability, the best path's probability, the n-best alternatives and,
    for raw text, each token's character offsets ``(start, end)``."""

    tokens: list[str]
    tags: list[str]
    spans: list[Span] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    probability: float = 1.0
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k not in ("spans", "offsets")}
        out["spans"] = [s.to_dict() for s in self.spans]
        if self.offsets:
            out["offsets"] = [list(pair) for pair in self.offsets]
        return out


@dataclass
class TaggedText:
    """A tagged raw text: the text as given and its sentences (tokens with offsets into it)."""

    text: str
    sentences: list[TaggedSentence]

    @property
    def spans(self) -> list[Span]:
        """Every entity of the text, in order (character offsets ``start_char``/``end_char``)."""
        return [span for sentence in self.sentences for span in sentence.spans]

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record: text, sentences, tokens and spans with character offsets."""
        sentences, tokens, spans = [], [], []
        for sentence in self.sentences:
            first = len(tokens)
            for word, tag, (start, end), conf in zip(
                sentence.tokens, sentence.tags, sentence.offsets, sentence.confidences
            ):
                tokens.append({"text": word, "start": start, "end": end, "tag": tag})
                tokens[-1]["confidence"] = conf
            entry: dict[str, Any] = {"start": sentence.offsets[0][0]}
            entry["end"] = sentence.offsets[-1][1]
            entry["tokens"] = [first, len(tokens)]
            entry["probability"] = sentence.probability
            if sentence.alternatives:
                entry["alternatives"] = sentence.alternatives
            sentences.append(entry)
            for span in sentence.spans:
                spans.append(
                    {
                        "type": span.type,
                        "start": span.start_char,
                        "end": span.end_char,
                        "text": span.text,
                        "confidence": span.confidence,
                        "tokens": [first + span.start, first + span.end],
                    }
                )
        return {"text": self.text, "sentences": sentences, "tokens": tokens, "spans": spans}


def with_offsets(text: str, tokens: Sequence[Token], tagged: TaggedSentence) -> TaggedSentence:
    """Give ``tagged`` (tagged from ``tokens``) the tokens' offsets into ``text`` and its spans
    character offsets, their text sliced from ``text``."""
    tagged.offsets = [(t.start, t.end) for t in tokens]
    for span in tagged.spans:
        span.start_char, span.end_char = tokens[span.start].start, tokens[span.end - 1].end
        span.text = text[span.start_char : span.end_char]
    return tagged


def standoff_lines(index: int, tagged: TaggedText) -> Iterator[str]:
    """One TAB-separated line per entity: ``STANDOFF_COLUMNS``; the text column has ``\\``,
    TAB and line ends escaped as ``\\\\``, ``\\t``, ``\\n``, ``\\r``."""
    for span in tagged.spans:
        fields = (index, span.start_char, span.end_char, span.type, span.text.translate(_ESCAPES))
        yield "\t".join(map(str, fields)) + f"\t{span.confidence:.4f}"


def text_lines(pairs: Iterable[tuple[Any, Any]], output_format: str) -> Iterator[str]:
    """Output lines of tagged text chunks (``(TextChunk, result)`` pairs in input order).

    ``jsonl``: one record per input text (``id``, ``line`` and :meth:`TaggedText.to_dict`);
    ``standoff``: one line per entity; ``conll``: ``token<TAB>tag`` lines, a blank line after
    each sentence (results are then tag lists).
    """
    if output_format == "conll":  # sentence by sentence: nothing waits for a record's end
        for chunk, tags in pairs:
            if tags is not None:
                yield from (f"{t.text}\t{tag}" for t, tag in zip(chunk.tokens, tags, strict=True))
                yield ""
        return
    for record, items in records_of(pairs):
        tagged = tagged_text(record.text, items)
        if output_format == "jsonl":
            out = {"id": record.index, "line": record.line, **tagged.to_dict()}
            yield json.dumps(out, ensure_ascii=False)
        else:
            yield from standoff_lines(record.index, tagged)


def tagged_text(text: str, items: Iterable[tuple[Sequence[Token], TaggedSentence]]) -> TaggedText:
    """``text`` and its tagged sentences (each with the tokens it was tagged from), offsets set."""
    return TaggedText(text, [with_offsets(text, tokens, s) for tokens, s in items])


def chunk_lines(
    pairs: Iterable[tuple[Chunk, Any]], columns: tuple[Any, ...], jsonl: bool, count: TagCount
) -> Iterator[str]:
    """Output lines of tagged file chunks (``(Chunk, result)`` in input order), counted in
    ``count``: with ``jsonl`` one record per sentence (results are :class:`TaggedSentence`),
    otherwise every input line, tags written in (``format_chunk``'s ``columns``)."""
    for chunk, result in pairs:
        if result is None:
            if not jsonl:
                yield from format_chunk(chunk, None, *columns)
            continue
        count.add(len(result.tokens if jsonl else result))
        if jsonl:
            yield json.dumps(result.to_dict(), ensure_ascii=False)
        else:
            yield from format_chunk(chunk, result, *columns)
