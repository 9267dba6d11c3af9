"""Batched, streaming tagging of token lists, strings and files with a trained model."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tagger.data.batching import bucket_batches, make_batch
from tagger.data.conll import Chunk, format_chunk, guess_format, iter_chunks, write_lines_atomic
from tagger.data.schemes import convert, get_spans
from tagger.data.vocab import Vocab
from tagger.errors import DataError


def decode(
    network: Any, vocab: Vocab, sentences: Sequence[Sequence[str]], batch_size: int = 256
) -> list[list[str]]:
    """Model-scheme tags for each token list, in input order (batched by similar length)."""
    lengths = [len(s) for s in sentences]
    out: list[list[str]] = [[] for _ in sentences]
    max_chars = network.max_word_length
    was_training = network.training
    network.eval()
    with torch.inference_mode():
        for batch_ids in bucket_batches(lengths, batch_size):
            batch_ids = [i for i in batch_ids if lengths[i]]  # an empty sentence gets no tags
            if not batch_ids:
                continue
            batch = make_batch(vocab, [sentences[i] for i in batch_ids], None, max_chars)
            best = network.decode(batch).tolist()  # (B, T)
            for row, i in zip(best, batch_ids):
                out[i] = [vocab.tags[t] for t in row[: lengths[i]]]
    network.train(was_training)
    return out


@dataclass
class Span:
    """An entity: its type, token offsets [start, end) and text."""

    type: str
    start: int
    end: int
    text: str


@dataclass
class TaggedSentence:
    """A tagged sentence: tokens, tags (in the training files' scheme) and entity spans."""

    tokens: list[str]
    tags: list[str]
    spans: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "tags": self.tags, "spans": [vars(s) for s in self.spans]}


class Tagger:
    """A trained model ready to tag.

    >>> tagger = Tagger.load("runs/demo")  # doctest: +SKIP
    >>> tagger.predict(["EU rejects German call"])[0].tags  # doctest: +SKIP
    ['B-ORG', 'O', 'B-MISC', 'O']
    """

    def __init__(self, cfg: Any, vocab: Vocab, network: Any, batch_size: int = 256) -> None:
        self.cfg, self.vocab, self.network = cfg, vocab, network
        self.batch_size = batch_size

    @classmethod
    def load(cls, run_dir: str | Path) -> Tagger:
        """Load a model directory written by ``tagger train``."""
        from tagger.archive import load_model

        cfg, vocab, network, _ = load_model(run_dir)
        return cls(cfg, vocab, network, cfg.train.eval_batch_size)

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags for each token list, in the scheme of the model's training files."""
        tags = decode(self.network, self.vocab, sentences, self.batch_size)
        source, target = self.vocab.model_scheme, self.vocab.scheme
        if source == target or source == "none":
            return tags
        return [convert(t, source, target) for t in tags]

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]], tokenized: bool = False):
        """Tag strings (split on whitespace) or, with ``tokenized``, token lists."""
        sentences = [list(t) if tokenized else str(t).split() for t in texts]
        return [self._tagged(s, t) for s, t in zip(sentences, self.tag(sentences))]

    def _tagged(self, tokens: list[str], tags: list[str]) -> TaggedSentence:
        spans = []
        if self.vocab.scheme != "none":
            for kind, start, end in get_spans(tags, self.vocab.scheme):
                spans.append(Span(kind, start, end, " ".join(tokens[start:end])))
        return TaggedSentence(tokens, tags, spans)

    def tag_chunks(
        self, chunks: Iterable[Chunk], buffer: int = 4096
    ) -> Iterator[tuple[Chunk, list[str] | None]]:
        """Tag a stream of chunks ``buffer`` sentences at a time, keeping their order."""
        pending: list[Chunk] = []
        for chunk in chunks:
            pending.append(chunk)
            if sum(c.sentence is not None for c in pending[-1:]) and len(pending) >= buffer:
                yield from self._flush(pending)
                pending = []
        yield from self._flush(pending)

    def _flush(self, chunks: list[Chunk]) -> Iterator[tuple[Chunk, list[str] | None]]:
        sentences = [c.sentence.tokens for c in chunks if c.sentence is not None]
        tagged = iter(self.tag(sentences)) if sentences else iter(())
        for chunk in chunks:
            yield chunk, (next(tagged) if chunk.sentence is not None else None)

    def tag_file(
        self,
        source: str,
        target: str = "-",
        input_format: str | None = None,
        output_format: str = "conll",
        token_column: int | None = None,
        tag_column: int | None = None,
    ) -> int:
        """Tag a CoNLL, CoNLL-U or text file (``-``: stdin) into ``target`` (``-``: stdout).

        CoNLL output keeps every input line, with the tag column replaced (or added); JSONL output
        has one object per sentence. Returns the number of tokens tagged.
        """
        data = self.cfg.data
        fmt = input_format or guess_format(source)
        token_column = data.token_column if token_column is None else token_column
        tag_column = data.tag_column if tag_column is None else tag_column
        chunks = iter_chunks(source, fmt, token_column, tag_column, data.tag_field)
        count = [0]

        def lines() -> Iterator[str]:
            for chunk, tags in self.tag_chunks(chunks):
                count[0] += len(tags or ())
                if output_format == "jsonl":
                    if tags is not None:
                        tagged = self._tagged(chunk.sentence.tokens, tags)
                        yield json.dumps(tagged.to_dict(), ensure_ascii=False)
                else:
                    yield from format_chunk(chunk, tags, fmt, tag_column, data.tag_field)
            if not count[0]:
                raise DataError(source, None, "no sentences found")

        write_lines_atomic(target, lines())
        return count[0]

    def evaluate(self, path: str, input_format: str | None = None) -> dict[str, Any]:
        """Tag a gold file and score the predictions against it (see :func:`scoring.score`)."""
        from tagger.scoring import read_tag_sequences, score

        data = self.cfg.data
        fmt = input_format or guess_format(path)
        columns = (data.tag_column, data.tag_field, data.token_column)
        tokens, gold, _ = read_tag_sequences(path, fmt, *columns)
        return score(gold, self.tag(tokens), self.vocab.scheme)
