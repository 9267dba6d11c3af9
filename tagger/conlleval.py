"""The chunk counts of ``conlleval.pl`` (CoNLL-2000 evaluation script, version 2004-01-26).

A port of the script's counting, so that scores agree with it for *every* tag string, valid or
not: a tag is split at its first hyphen into a prefix and a type (``B-ORG-X`` -> ``B``,
``ORG-X``; ``-LRB-`` -> ``""``, ``LRB-``); a tag without a hyphen is a prefix with the empty
type (``FOO`` -> ``FOO``, ``""``, and so is ``B-``); a type that Perl reads as false (``"0"``)
is empty. Chunks start and end by the script's ``startOfChunk``/``endOfChunk`` rules, which know
B, I, E, O, ``[``, ``]`` and ``.``, and treat every other prefix (S, L, U, FOO) only through a
change of type. The counters run over the whole corpus, each sentence followed by an
``O O`` boundary, exactly as the script reads a blank line.

Hand-written because seqeval, the usual Python scorer, reads a tag's first character as its
prefix and the rest after it as its type, and knows ``S-``: it disagrees on tags such as ``FOO``
(type ``OO``) or ``B-`` and on IOBES input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

_END_PAIRS = frozenset(
    {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
)
_START_PAIRS = frozenset(
    {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
)
_OUTSIDE = ("O", ".")  # prefixes that never end or start a chunk by a change of type
_SINGLE = ("[", "]")  # prefixes of one-token chunks


@dataclass
class ChunkCounts:
    """conlleval's counters per type: the chunks both files agree on (``correct``), the gold
    file's chunks (``gold``) and the prediction's (``found``)."""

    correct: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)


def split_tag(tag: str) -> tuple[str, str]:
    """conlleval's ``/^([^-]*)-(.*)$/`` split into (prefix, type); no hyphen: (tag, "")."""
    prefix, sep, type_ = tag.partition("-")
    if not sep:
        return tag, ""
    return prefix, "" if type_ == "0" else type_  # Perl's `$type ? $type : ""`


def end_of_chunk(prev: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval ``endOfChunk``: did a chunk end between the previous and the current token?"""
    return (
        (prev, tag) in _END_PAIRS
        or (prev not in _OUTSIDE and prev_type != type_)
        or prev in _SINGLE
    )


def start_of_chunk(prev: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval ``startOfChunk``: did a chunk start at the current token?"""
    return (
        (prev, tag) in _START_PAIRS
        or (tag not in _OUTSIDE and prev_type != type_)
        or tag in _SINGLE
    )


def count_chunks(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> ChunkCounts:
    """conlleval's counts for gold and predicted tag sequences of the same lengths."""
    counts = ChunkCounts()
    split = _Splitter()
    in_correct = False
    last_c, last_ct, last_g, last_gt = "O", "", "O", ""
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        for gold_tag, pred_tag in [*zip(gold_tags, pred_tags, strict=True), (None, None)]:
            if gold_tag is None:  # the blank line after a sentence: "-X- O O"
                c, ct, g, gt = "O", "", "O", ""
            else:
                (c, ct), (g, gt) = split(gold_tag), split(pred_tag)  # type: ignore[arg-type]
            end_c = end_of_chunk(last_c, c, last_ct, ct)
            end_g = end_of_chunk(last_g, g, last_gt, gt)
            if in_correct:
                if end_c and end_g and last_gt == last_ct:
                    in_correct = False
                    counts.correct[last_ct] += 1
                elif end_c != end_g or gt != ct:
                    in_correct = False
            start_c = start_of_chunk(last_c, c, last_ct, ct)
            start_g = start_of_chunk(last_g, g, last_gt, gt)
            if start_c and start_g and gt == ct:
                in_correct = True
            if start_c:
                counts.gold[ct] += 1
            if start_g:
                counts.found[gt] += 1
            last_c, last_ct, last_g, last_gt = c, ct, g, gt
    if in_correct:
        counts.correct[last_ct] += 1
    return counts


class _Splitter(dict[str, tuple[str, str]]):
    """:func:`split_tag` with a cache: a corpus has few distinct tags."""

    def __call__(self, tag: str) -> tuple[str, str]:
        return self[tag]

    def __missing__(self, tag: str) -> tuple[str, str]:
        self[tag] = split_tag(tag)
        return self[tag]


def same_tag(gold: str, pred: str) -> bool:
    """Whether conlleval counts two tags as equal (``B-0``, ``B-`` and ``B`` are one tag)."""
    return gold == pred or split_tag(gold) == split_tag(pred)


def chunk_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(type, start, end_exclusive)`` of the chunks conlleval sees in one tag sequence (a
    chunk that starts while another is open closes that one first)."""
    spans: list[tuple[str, int, int]] = []
    last, last_type, start = "O", "", -1
    for i, tag in enumerate([*tags, "O"]):
        prefix, type_ = split_tag(tag)
        begins = start_of_chunk(last, prefix, last_type, type_)
        if start >= 0 and (begins or end_of_chunk(last, prefix, last_type, type_)):
            spans.append((last_type, start, i))
            start = -1
        if begins:
            start = i
        last, last_type = prefix, type_
    return spans
