"""Training data larger than memory: passes over the Arrow dataset in bounded slices, and
batches gathered from the memory-mapped Arrow table at each step.

Nothing here holds a Python object per token or per sentence of the corpus: statistics come
from batched iteration (``Dataset.iter``) and Arrow compute; what stays in memory is the
vocabulary, the table of distinct token strings and the per-sentence index (lengths, document
ids). Batches are the same tensors as a whole-corpus :class:`~tagger.data.batching.Encoded`
gives, so training takes the same steps with the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tagger.data.batching import Batch, Encoded
from tagger.data.vocab import Vocab

SLICE = 4096  # sentences per pass step: bounded memory, few Python calls


def column_slices(data: Any, column: str, size: int = SLICE) -> Iterator[list[Any]]:
    """``data[column]`` ``size`` rows at a time, as Python lists (respects ``select``)."""
    for batch in data.select_columns([column]).iter(batch_size=size):
        yield batch[column]


def iter_column(data: Any, column: str) -> Iterator[Any]:
    """Each row's value of ``column``, read a slice at a time."""
    for values in column_slices(data, column):
        yield from values


class ColumnView:
    """``view[i]``: row ``i``'s value of ``column``, read when asked (a lazy column)."""

    def __init__(self, data: Any, column: str) -> None:
        self.data, self.column = data, column

    def __getitem__(self, index: int) -> Any:
        return self.data[int(index)][self.column]

    def __len__(self) -> int:
        return len(self.data)


def _arrow_column(data: Any, column: str) -> Iterator[Any]:
    """``column`` as pyarrow arrays, a slice at a time (no Python objects per row)."""
    for batch in data.select_columns([column]).with_format("arrow").iter(batch_size=1 << 16):
        yield batch.column(column)


def sentence_lengths(data: Any) -> list[int]:
    """Tokens per sentence, by Arrow compute (a list of small ints: 8 bytes a sentence)."""
    import pyarrow.compute as pc

    parts = [
        pc.list_value_length(a).to_numpy(zero_copy_only=False)
        for a in _arrow_column(data, "tokens")
    ]
    return np.concatenate(parts).astype(np.int64).tolist() if parts else []


def document_ids(data: Any) -> np.ndarray:
    """Each sentence's document id as one int64 array."""
    parts = [np.asarray(a.to_numpy(zero_copy_only=False)) for a in _arrow_column(data, "doc")]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def type_ranks(data: Any) -> dict[str, int]:
    """Each distinct token string's rank of first appearance (the order a whole-corpus
    :class:`Encoded` numbers its types in, 1-based)."""
    ranks: dict[str, int] = {}
    for tokens in column_slices(data, "tokens"):
        for sentence in tokens:
            for token in sentence:
                ranks.setdefault(token, len(ranks) + 1)
    return ranks


class StreamingEncoded:
    """:class:`Encoded`'s ``batch`` over an Arrow dataset, one batch's rows read at a time.

    ``convert`` turns a sentence's file tags into model tags. Types are numbered by
    ``ranks`` (see :func:`type_ranks`), so a batch's character rows come in the order a
    whole-corpus encoding gives them, and the batch (dropout masks included) is the same.
    """

    def __init__(
        self,
        vocab: Vocab,
        data: Any,
        convert: Callable[[list[str]], list[str]],
        max_word_length: int = 25,
        with_docs: bool = True,
    ) -> None:
        self.vocab, self.convert, self.max_word_length = vocab, convert, max_word_length
        columns = ["tokens", "tags", "doc"] if with_docs else ["tokens", "tags"]
        self.data = data.select_columns(columns)
        self.with_docs = with_docs
        self.ranks = type_ranks(data)

    def batch(self, ids: Sequence[int], shared: bool = False) -> Batch:
        """Sentences ``ids`` as a :class:`Batch` (reads only those rows)."""
        found = self.data[[int(i) for i in ids]]
        tags = [self.convert(t) for t in found["tags"]]
        docs = found["doc"] if self.with_docs else None
        encoded = Encoded(self.vocab, found["tokens"], tags, self.max_word_length, docs)
        _renumber(encoded, [self.ranks[t] for t in encoded.types[1:]])
        return encoded.batch(range(len(ids)), shared)


def _renumber(encoded: Encoded, ranks: list[int]) -> None:
    """Number ``encoded``'s types in the order of ``ranks`` (type 0, padding, stays first)."""
    order = np.concatenate([[0], np.argsort(np.asarray(ranks), kind="stable") + 1])  # new -> old
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))  # old -> new
    encoded.types = [encoded.types[i] for i in order]
    encoded.type_ids = inverse[encoded.type_ids]
    encoded.word_ids, encoded.casing = encoded.word_ids[order], encoded.casing[order]
    encoded.chars, encoded.char_lengths = encoded.chars[order], encoded.char_lengths[order]
