"""Sentences -> padded tensors, and length-bucketed batch orders."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tagger.data.vocab import Vocab, casing


@dataclass
class Batch:
    """One padded batch. B sentences, T the longest sentence, L the longest (capped) word."""

    words: torch.Tensor  # (B, T) long, 0 = padding
    casing: torch.Tensor  # (B, T) long
    chars: torch.Tensor  # (B, T, L) long
    mask: torch.Tensor  # (B, T) bool, true on real tokens
    lengths: torch.Tensor  # (B,) long
    tags: torch.Tensor | None = None  # (B, T) long, model tag ids

    def to(self, device: torch.device | str) -> Batch:
        moved = {k: (v.to(device) if v is not None else None) for k, v in vars(self).items()}
        return Batch(**moved)


def _pad(rows: list[list[int]], width: int) -> list[list[int]]:
    return [row + [0] * (width - len(row)) for row in rows]


def make_batch(
    vocab: Vocab,
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None = None,
    max_word_length: int = 25,
) -> Batch:
    """Encode sentences (lists of tokens; optional model-scheme tags) into a :class:`Batch`."""
    lengths = [len(s) for s in tokens]
    width = max(lengths)
    chars = min(max(len(t) for s in tokens for t in s), max_word_length)
    char_rows = [
        _pad([vocab.char_ids(t[:chars]) for t in s], chars) + [[0] * chars] * (width - len(s))
        for s in tokens
    ]
    return Batch(
        words=torch.tensor(_pad([vocab.word_ids(s) for s in tokens], width)),
        casing=torch.tensor(_pad([[casing(t) for t in s] for s in tokens], width)),
        chars=torch.tensor(char_rows).reshape(len(tokens), width, chars),
        mask=torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1),
        lengths=torch.tensor(lengths),
        tags=torch.tensor(_pad([vocab.tag_ids(t) for t in tags], width)) if tags else None,
    )


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: random.Random | None = None,
    pool_batches: int = 50,
) -> list[list[int]]:
    """Group sentence indices into batches of similar length.

    Without ``rng``: sorted by length, longest first (for tagging). With ``rng``: indices are
    shuffled, sorted by length within pools of ``pool_batches`` batches, and the batches shuffled,
    so that epochs differ but padding stays small.
    """
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: -lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
