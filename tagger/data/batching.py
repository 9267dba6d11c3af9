"""Sentences -> padded tensors, and length-bucketed batch orders.

A corpus (or a tagging buffer) is encoded once into flat arrays over its distinct token strings,
its *types*: a word id, a casing class and the character ids of each type, and a type id for each
token. A batch is then a few numpy gathers, with no Python loop over tokens, and the character
model runs once per distinct word of a batch (training) or of a whole buffer (tagging, see
:meth:`Encoded.char_chunks`) instead of once per token: a CoNLL-2003 tagging buffer has about a
fifth as many types as tokens.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tagger.data.vocab import Vocab, casing


@dataclass
class Batch:
    """One padded batch. B sentences, T the longest sentence; U distinct words of (capped)
    length at most L, row 0 of ``chars`` being the empty padding word."""

    words: torch.Tensor  # (B, T) long, 0 = padding
    casing: torch.Tensor  # (B, T) long
    chars: torch.Tensor | None  # (U, L) long character ids; None when a shared table serves
    char_index: torch.Tensor  # (B, T) long: each token's row in chars (or the table); 0 = padding
    mask: torch.Tensor  # (B, T) bool, true on real tokens
    lengths: torch.Tensor  # (B,) long
    tags: torch.Tensor | None = None  # (B, T) long, model tag ids
    docs: torch.Tensor | None = None  # (B,) long, each sentence's document id (when known)

    def to(self, device: torch.device | str) -> Batch:
        moved = {k: (v.to(device) if v is not None else None) for k, v in vars(self).items()}
        return Batch(**moved)


class Encoded:
    """Sentences as flat arrays; :meth:`batch` cuts padded batches out of them.

    Args:
        vocab: the word, character and tag maps.
        sentences: token lists; tags: optional model-scheme tags (an unseen tag raises KeyError).
        max_word_length: words feed only their first N characters to the character model.
        docs: optional document id of each sentence (for document-level attention).
    """

    def __init__(
        self,
        vocab: Vocab,
        sentences: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]] | None = None,
        max_word_length: int = 25,
        docs: Sequence[int] | None = None,
    ) -> None:
        index: dict[str, int] = {}
        flat = [index.setdefault(t, len(index) + 1) for s in sentences for t in s]
        self.types = ["", *index]  # type 0: padding
        self.type_ids = np.asarray(flat, dtype=np.int64)  # (N,) one per token
        sizes = np.fromiter((len(s) for s in sentences), np.int64, len(sentences))
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])  # (S + 1,)
        self.word_ids = np.asarray([0, *vocab.word_ids(self.types[1:])], dtype=np.int64)
        self.casing = np.asarray([0, *map(casing, self.types[1:])], dtype=np.int64)
        self.chars, self.char_lengths = _char_matrix(vocab, self.types, max_word_length)
        self.docs = None if docs is None else np.asarray(docs, dtype=np.int64)  # (S,)
        self.tag_ids = None
        if tags is not None:
            self.tag_ids = np.asarray([i for t in tags for i in vocab.tag_ids(t)], dtype=np.int64)

    def batch(self, ids: Sequence[int], shared: bool = False) -> Batch:
        """Sentences ``ids`` (none empty) as a :class:`Batch`.

        With ``shared``, ``chars`` is None and ``char_index`` points into the rows of
        :attr:`chars` (character vectors computed once for every type, see :meth:`char_chunks`);
        otherwise ``chars`` holds the batch's own distinct words.
        """
        rows = np.asarray(ids, dtype=np.int64)
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        width = int(lengths.max())
        mask = np.arange(width) < lengths[:, None]  # (B, T)
        before = np.cumsum(lengths) - lengths  # tokens of earlier rows
        tokens = np.arange(int(lengths.sum())) + np.repeat(starts - before, lengths)  # (n,)
        types = self.type_ids[tokens]  # (n,) in row-major order of the mask's true cells
        chars = None
        if shared:
            index = types
        else:
            distinct, inverse = np.unique(types, return_inverse=True)
            distinct = np.concatenate([[0], distinct])  # row 0: padding
            index = inverse.reshape(-1) + 1
            chars = self.chars[distinct, : max(1, int(self.char_lengths[distinct].max()))]
            chars = torch.from_numpy(np.ascontiguousarray(chars))
        tags = None if self.tag_ids is None else _padded(self.tag_ids[tokens], mask)
        return Batch(
            words=_padded(self.word_ids[types], mask),
            casing=_padded(self.casing[types], mask),
            chars=chars,
            char_index=_padded(index, mask),
            mask=torch.from_numpy(mask),
            lengths=torch.from_numpy(lengths),
            tags=tags,
            docs=None if self.docs is None else torch.from_numpy(self.docs[rows]),
        )

    def char_chunks(self, size: int = 1024) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(rows (n,), chars (n, L)) for every type, shortest words first, ``size`` at a time:
        words of similar length together, so that the character model pads little."""
        order = np.argsort(self.char_lengths[1:], kind="stable") + 1
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            width = max(1, int(self.char_lengths[rows].max()))
            chars = np.ascontiguousarray(self.chars[rows, :width])
            yield torch.from_numpy(rows), torch.from_numpy(chars)


def _char_matrix(vocab: Vocab, types: list[str], cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Character ids of each type, cut at ``cap`` and zero-padded: (U, L), and lengths (U,)."""
    ids = [vocab.char_ids(t[:cap]) for t in types]
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    matrix = np.zeros((len(ids), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    rows = np.repeat(np.arange(len(ids)), lengths)
    columns = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix[rows, columns] = [c for word in ids for c in word]
    return matrix, lengths


def _padded(values: np.ndarray, mask: np.ndarray) -> torch.Tensor:
    """(B, T) long tensor: ``values`` in the true cells of ``mask`` (row-major), 0 elsewhere."""
    out = np.zeros(mask.shape, dtype=np.int64)
    out[mask] = values
    return torch.from_numpy(out)


def make_batch(
    vocab: Vocab,
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None = None,
    max_word_length: int = 25,
) -> Batch:
    """Encode sentences (lists of tokens; optional model-scheme tags) into one :class:`Batch`."""
    return Encoded(vocab, tokens, tags, max_word_length).batch(range(len(tokens)))


def _cut(order: list[int], lengths: Sequence[int], size: int, slack: float) -> list[list[int]]:
    """Consecutive pieces of ``order`` (longest first) of at most ``size`` sentences, a new one
    started where the next sentence would be padded by more than ``slack`` of it plus 1."""
    batches: list[list[int]] = []
    for i in order:
        full = not batches or len(batches[-1]) == size
        if full or lengths[batches[-1][0]] > (1 + slack) * lengths[i] + 1:
            batches.append([i])
        else:
            batches[-1].append(i)
    return batches


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: random.Random | None = None,
    pool_batches: int = 50,
    slack: float = 0.1,
) -> list[list[int]]:
    """Group sentence indices into batches of similar length.

    Without ``rng`` (tagging): sorted by length, longest first; a batch also ends before a
    sentence shorter than ``(longest - 1) / (1 + slack)``, so padding stays under about
    ``slack`` (a few more batches, much less padding: ``docs/performance.md``). With ``rng``:
    indices are shuffled, sorted by length within pools of ``pool_batches`` batches, and the
    batches shuffled, so that epochs differ but padding stays small.
    """
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: -lengths[i])
        return _cut(order, lengths, batch_size, slack)
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def document_batches(
    docs: Sequence[int],
    batch_size: int,
    rng: random.Random | None = None,
    lengths: Sequence[int] | None = None,
    max_tokens: int | None = None,
) -> list[list[int]]:
    """Batches of whole documents, for attention across the sentences of a document.

    ``docs`` gives each sentence's document id (sentences of a document are consecutive). A
    document of more than ``batch_size`` sentences, or (given ``lengths`` and ``max_tokens``)
    of more than ``max_tokens`` tokens, is cut at sentence boundaries into consecutive pieces,
    each read as a document of its own. A batch then holds at most ``max_tokens`` tokens and
    (pieces x longest piece ** 2) stays under ``max_tokens ** 2``: the T x T cells of attention
    across a document are bounded whatever one document's size, and two pieces of one document
    never share a batch. The pieces are packed best-fit decreasing: largest first, each into the
    fullest batch it fits, so that batches hold close to ``batch_size`` sentences (packing in
    order leaves many half-empty: ``docs/performance.md``). With ``rng`` the pieces are shuffled
    first, which breaks ties between pieces of one size at random, and the batches are shuffled,
    so that epochs differ.
    """
    sizes = [1] * len(docs) if lengths is None else list(lengths)
    bound = max_tokens if max_tokens is not None and lengths is not None else None
    pieces = _pieces(docs, batch_size, sizes, bound)
    if rng is not None:
        rng.shuffle(pieces)
    pieces.sort(key=len, reverse=True)  # stable: a shuffled order among equal sizes
    packing = _Packing(batch_size, bound)
    for piece in pieces:
        packing.add(piece, docs[piece[0]], sum(sizes[i] for i in piece))
    batches = packing.batches
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _pieces(
    docs: Sequence[int], batch_size: int, sizes: Sequence[int], bound: int | None
) -> list[list[int]]:
    """Consecutive sentences of one document, at most ``batch_size`` of them and (with
    ``bound``) at most ``bound`` tokens, unless one sentence alone is longer."""
    pieces: list[list[int]] = []
    tokens = 0
    for i, doc in enumerate(docs):
        full = not pieces or len(pieces[-1]) >= batch_size
        over = bound is not None and pieces and tokens + sizes[i] > bound
        if full or over or docs[pieces[-1][0]] != doc:
            pieces.append([])
            tokens = 0
        pieces[-1].append(i)
        tokens += sizes[i]
    return pieces


class _Packing:
    """Best-fit packing of document pieces into batches of ``batch_size`` sentences; with
    ``bound``, also at most ``bound`` tokens, (pieces x longest ** 2) <= ``bound ** 2`` and one
    piece of a document per batch."""

    def __init__(self, batch_size: int, bound: int | None) -> None:
        self.batch_size, self.bound = batch_size, bound
        self.batches: list[list[int]] = []
        self.by_room: list[list[int]] = [[] for _ in range(batch_size)]  # open, by free places
        self.tokens: list[int] = []  # per batch
        self.longest: list[int] = []  # per batch: its longest piece's tokens
        self.docs: list[set[int]] = []  # per batch

    def fits(self, index: int, doc: int, tokens: int) -> bool:
        if self.bound is None or doc in self.docs[index]:
            return self.bound is None and doc not in self.docs[index]
        longest = max(self.longest[index], tokens)
        cells = (len(self.docs[index]) + 1) * longest * longest
        return self.tokens[index] + tokens <= self.bound and cells <= self.bound**2

    def add(self, piece: list[int], doc: int, tokens: int) -> None:
        """Put ``piece`` (sentence ids of document ``doc``, ``tokens`` long) into a batch."""
        index, room = None, self.batch_size
        for free in range(len(piece), self.batch_size):
            open_ = self.by_room[free]  # the last fitting one (the most recent, as a stack)
            fitting = (k for k in reversed(range(len(open_))) if self.fits(open_[k], doc, tokens))
            found = next(fitting, None)
            if found is not None:
                index, room = open_.pop(found), free
                break
        if index is None:
            index = len(self.batches)
            self.batches.append([])
            self.tokens.append(0)
            self.longest.append(0)
            self.docs.append(set())
        self.batches[index] += piece
        self.tokens[index] += tokens
        self.longest[index] = max(self.longest[index], tokens)
        self.docs[index].add(doc)
        if room > len(piece):
            self.by_room[room - len(piece)].append(index)
