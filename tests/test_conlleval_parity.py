"""``tagger.scoring.score`` gives the scores of the original conlleval Perl script.

``conlleval_counts`` is a faithful Python transcription of the counting logic of ``conlleval.pl``
(the CoNLL-2000 shared task evaluation script by Erik Tjong Kim Sang, version 2004-01-26): its
``startOfChunk``/``endOfChunk`` subs and the ``$correctChunk``/``$foundCorrect``/``$foundGuessed``
counters of its main loop, blank lines between sentences included. It was checked against the
Perl script itself on a few hundred random files (identical output). No Perl is needed here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.scoring import score

Counts = tuple[Counter[str], Counter[str], Counter[str]]


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval.pl ``endOfChunk``: did a chunk end between the previous and current word?"""
    pairs = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
    return (
        (prev_tag, tag) in pairs
        or (prev_tag not in ("O", ".") and prev_type != type_)
        or prev_tag in ("]", "[")
    )


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval.pl ``startOfChunk``: did a chunk start between the previous and current word?"""
    pairs = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
    return (
        (prev_tag, tag) in pairs
        or (tag not in ("O", ".") and prev_type != type_)
        or tag in ("[", "]")
    )


def split_tag(tag: str) -> tuple[str, str]:
    """``/^([^-]*)-(.*)$/``, else ``(tag, "")``; a type Perl reads as false ("0") becomes ""."""
    match = re.fullmatch(r"([^-]*)-(.*)", tag)
    prefix, type_ = (match[1], match[2]) if match else (tag, "")
    return prefix, "" if type_ == "0" else type_


def conlleval_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Counts:
    """Per-type ``(correctChunk, foundCorrect, foundGuessed)`` as conlleval.pl counts them."""
    correct_chunk, found_correct, found_guessed = Counter[str](), Counter[str](), Counter[str]()
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    # Each sentence is followed by a blank line, which conlleval reads as "-X- O O".
    lines = [pair for g, p in zip(gold, pred) for pair in [*zip(g, p), ("O", "O")]]
    for gold_tag, pred_tag in lines:
        correct, correct_type = split_tag(gold_tag)
        guessed, guessed_type = split_tag(pred_tag)
        end_c = end_of_chunk(last_correct, correct, last_correct_type, correct_type)
        end_g = end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if in_correct:
            if end_c and end_g and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunk[last_correct_type] += 1
            elif end_c != end_g or guessed_type != correct_type:
                in_correct = False
        start_c = start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        start_g = start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if start_c and start_g and guessed_type == correct_type:
            in_correct = True
        if start_c:
            found_correct[correct_type] += 1
        if start_g:
            found_guessed[guessed_type] += 1
        last_guessed, last_correct = guessed, correct
        last_guessed_type, last_correct_type = guessed_type, correct_type
    if in_correct:
        correct_chunk[last_correct_type] += 1
    return correct_chunk, found_correct, found_guessed


def prf(correct: int, found_correct: int, found_guessed: int) -> tuple[float, float, float]:
    """conlleval.pl's precision, recall and FB1 (as fractions; 0 where it prints 0)."""
    precision = correct / found_guessed if found_guessed else 0.0
    recall = correct / found_correct if found_correct else 0.0
    total = precision + recall
    return precision, recall, 2 * precision * recall / total if total else 0.0


TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
sentences = st.lists(st.sampled_from(TAGS), min_size=1, max_size=8)


@st.composite
def gold_and_pred(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    """Random (often invalid) gold and predicted tag sequences with the same sentence lengths."""
    gold = draw(st.lists(sentences, min_size=1, max_size=6))
    pred = [draw(st.lists(st.sampled_from(TAGS), min_size=len(g), max_size=len(g))) for g in gold]
    return gold, pred


def test_transcription_on_known_cases() -> None:
    # I-PER after O (or at a sentence start) starts a chunk; B-PER I-LOC is two chunks.
    counts = conlleval_counts(
        [["B-PER", "I-PER", "O", "B-LOC"]], [["I-PER", "I-PER", "O", "B-PER"]]
    )
    assert counts == (Counter(PER=1), Counter(PER=1, LOC=1), Counter(PER=2))
    counts = conlleval_counts([["B-PER", "I-LOC"], ["I-PER"]], [["B-PER", "I-LOC"], ["B-PER"]])
    assert counts == (Counter(PER=2, LOC=1), Counter(PER=2, LOC=1), Counter(PER=2, LOC=1))


@settings(max_examples=150, deadline=None)
@given(gold_and_pred())
def test_score_matches_conlleval(data: tuple[list[list[str]], list[list[str]]]) -> None:
    gold, pred = data
    correct, found_correct, found_guessed = conlleval_counts(gold, pred)
    report = score(gold, pred, scheme="iob2")  # given, as an all-O gold would read as "none"
    expected = prf(sum(correct.values()), sum(found_correct.values()), sum(found_guessed.values()))
    micro = report["micro"]
    for got, want in zip((micro["precision"], micro["recall"], micro["f1"]), expected):
        assert abs(got - want) < 1e-9
    types = set(found_correct) | set(found_guessed)
    assert set(report["per_type"]) == types
    for type_ in types:
        row = report["per_type"][type_]
        want = prf(correct[type_], found_correct[type_], found_guessed[type_])
        for key, value in zip(("precision", "recall", "f1"), want):
            assert abs(row[key] - value) < 1e-9
        assert row["support"] == found_correct[type_]
