"""Bounded memory for long sentences: decoding in overlapping windows, and batch caps.

Self-attention over a sentence of T tokens holds (heads, T, T) scores, so one sentence of
100,000 tokens would need about 160 GB. Tagging therefore decodes a sentence longer than
:data:`WINDOW` tokens in windows of that size, each sharing :data:`OVERLAP` tokens with the
next; the two windows' tags are joined at a token of the shared stretch where both windows
chose the same tag (the one nearest its middle), so every transition in the joined path was
chosen by one window's Viterbi and the path stays valid under the scheme's constraints.
Batches of long sentences are also cut so that (sentences x T x T) stays under
:data:`BUDGET`; training refuses sentences longer than :data:`WINDOW` (see ``training.py``).
Models that attend across a document read it in pieces of at most :data:`DOCUMENT` tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

WINDOW = 2048  # tokens decoded at once at most
OVERLAP = 128  # tokens that consecutive windows share
BUDGET = 1 << 24  # sentences x T x T per batch at most (x heads x 4 bytes of attention scores)
# Tokens of one document piece, and of one batch of documents, at most (document scope): a longer
# document is cut at sentence boundaries (``batching.document_batches``). 3x CoNLL-2003's longest
# document (1,335 tokens), so real documents are read whole; DOCUMENT ** 2 == BUDGET.
DOCUMENT = 4096

T = TypeVar("T")


@dataclass
class Split:
    """Sentences cut into pieces: ``pieces[j]`` is tokens ``spans[j]`` of sentence
    ``owners[j]``; ``groups[i]`` lists the pieces of sentence ``i`` in order."""

    pieces: list[Sequence[str]]
    docs: list[int] | None
    spans: list[tuple[int, int]]
    groups: list[list[int]]

    @property
    def whole(self) -> bool:
        """Whether no sentence was cut."""
        return all(len(group) == 1 for group in self.groups)

    def cuts(self, tags: Sequence[Sequence[str]]) -> list[list[tuple[int, int, int]]]:
        """For each sentence, ``(piece, from, to)``: the slice of each piece's tags to keep."""
        out = []
        for group in self.groups:
            kept, begin = [], 0
            for left, right in zip(group, group[1:]):
                seam = _seam(tags[left], tags[right], self.spans[left], self.spans[right])
                kept.append((left, begin, seam - self.spans[left][0] + 1))
                begin = seam - self.spans[right][0] + 1
            last = group[-1]
            kept.append((last, begin, self.spans[last][1] - self.spans[last][0]))
            out.append(kept)
        return out

    @staticmethod
    def gather(
        values: Sequence[Sequence[T]], cuts: list[list[tuple[int, int, int]]]
    ) -> list[list[T]]:
        """Each sentence's values: the kept slices of its pieces' values, joined."""
        return [[v for j, lo, hi in kept for v in values[j][lo:hi]] for kept in cuts]


def split(
    sentences: Sequence[Sequence[str]],
    docs: Sequence[int] | None = None,
    window: int | None = None,
    overlap: int | None = None,
) -> Split:
    """Cut each sentence longer than ``window`` tokens (default :data:`WINDOW`) into windows
    that share ``overlap`` tokens (default :data:`OVERLAP`)."""
    window = WINDOW if window is None else window
    overlap = OVERLAP if overlap is None else overlap
    pieces: list[Sequence[str]] = []
    piece_docs: list[int] | None = None if docs is None else []
    spans: list[tuple[int, int]] = []
    groups: list[list[int]] = []
    step = window - overlap
    for i, sentence in enumerate(sentences):
        n = len(sentence)
        starts = [0] if n <= window else list(range(0, n - overlap, step))
        groups.append([])
        for start in starts:
            end = min(start + window, n)
            groups[-1].append(len(pieces))
            pieces.append(sentence[start:end] if len(starts) > 1 else sentence)
            spans.append((start, end))
            if piece_docs is not None:
                piece_docs.append(docs[i])  # type: ignore[index]
    return Split(pieces, piece_docs, spans, groups)


def _seam(
    left: Sequence[str],
    right: Sequence[str],
    left_span: tuple[int, int],
    right_span: tuple[int, int],
) -> int:
    """The sentence position of the last token taken from ``left``: in the shared stretch, where
    both windows chose the same tag, nearest the stretch's middle (else the middle itself)."""
    begin, end = right_span[0], left_span[1]  # the shared stretch [begin, end)
    middle = (begin + end) // 2
    for position in sorted(range(begin, end), key=lambda p: abs(p - middle)):
        if left[position - left_span[0]] == right[position - right_span[0]]:
            return position
    return middle


def join_paths(
    cut: Split, found: Sequence[tuple[Sequence[str], Sequence[float], float]]
) -> list[tuple[list[str], list[float], float]]:
    """Each sentence's ``(tags, token marginals, path probability)`` from its pieces' (the
    probability of a cut sentence is the product of its windows': they are decoded apart)."""
    cuts = cut.cuts([tags for tags, _, _ in found])
    tags = cut.gather([t for t, _, _ in found], cuts)
    marginals = cut.gather([m for _, m, _ in found], cuts)
    probs = [math.prod(found[j][2] for j in group) for group in cut.groups]
    return list(zip(tags, marginals, probs))


def cap(batches: list[list[int]], lengths: Sequence[int], budget: int = BUDGET) -> list[list[int]]:
    """Cut batches so that each has at most ``budget // longest**2`` sentences (at least one)."""
    out: list[list[int]] = []
    for batch in batches:
        longest = max((lengths[i] for i in batch), default=0)
        size = max(1, budget // max(1, longest * longest))
        out += [batch[k : k + size] for k in range(0, len(batch), size)]
    return out
