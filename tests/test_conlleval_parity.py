"""``tagger.scoring.score`` gives the scores of the original conlleval Perl script.

``conlleval_counts`` is a faithful Python transcription of the counting logic of ``conlleval.pl``
(the CoNLL-2000 shared task evaluation script by Erik Tjong Kim Sang, version 2004-01-26): its
``startOfChunk``/``endOfChunk`` subs and the ``$correctChunk``/``$foundCorrect``/``$foundGuessed``
counters of its main loop, blank lines between sentences included. It was checked against the
Perl script itself on a few hundred random files (identical output). No Perl is needed here.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tagger.scoring import read_tag_sequences, score

ROOT = Path(__file__).resolve().parents[1]

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


# Tags conlleval.pl accepts and reads in its own way: no prefix (a prefix with the empty type),
# an empty type, unknown prefixes, hyphens in the type, a prefix "O" with a type, a type "0"
# (false in Perl, so empty), its one-token chunk marks "[" and "]", the "." that never starts
# or ends a chunk by a change of type, and IOBES / BILOU prefixes mixed into IOB.
ODD_TAGS = (
    *TAGS, "FOO", "B-", "I-", "-", "B-ORG-X", "I-ORG-X", "X-PER", "-LRB-", "O-PER", "B-0",
    "0", "[", "]", "[-PER", ".", ".-PER", "E-PER", "S-PER", "S-LOC", "L-LOC", "U-PER", "B",
)  # fmt: skip


def well_formed(tag: str) -> bool:
    """PREFIX-TYPE with a prefix of B, I, E, S, L, U and a non-empty type."""
    return tag[:1] in tuple("BIESLU") and tag[1:2] == "-" and len(tag) > 2


@st.composite
def odd_gold_and_pred(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and prediction of the same lengths, any of ODD_TAGS on either side."""
    tags = st.sampled_from(ODD_TAGS)
    gold = draw(st.lists(st.lists(tags, min_size=1, max_size=8), min_size=1, max_size=6))
    pred = [draw(st.lists(tags, min_size=len(g), max_size=len(g))) for g in gold]
    return gold, pred


def assert_conlleval_scores(report: dict, gold: list[list[str]], pred: list[list[str]]) -> None:
    correct, found_correct, found_guessed = conlleval_counts(gold, pred)
    expected = prf(sum(correct.values()), sum(found_correct.values()), sum(found_guessed.values()))
    micro = report["micro"]
    for got, want in zip((micro["precision"], micro["recall"], micro["f1"]), expected):
        assert abs(got - want) < 1e-9
    types = {t for t, n in (found_correct + found_guessed).items() if n}
    assert set(report["per_type"]) == types
    for type_ in types:
        row = report["per_type"][type_]
        want = prf(correct[type_], found_correct[type_], found_guessed[type_])
        for key, value in zip(("precision", "recall", "f1"), want):
            assert abs(row[key] - value) < 1e-9
        assert row["support"] == found_correct[type_]


@settings(max_examples=300, deadline=None)
@given(odd_gold_and_pred())
def test_any_tag_string_is_scored_as_conlleval_scores_it(
    data: tuple[list[list[str]], list[list[str]]],
) -> None:
    # Issue 25, item 5: seqeval read "FOO" as type "OO" and "B-" as type "_".
    gold, pred = data
    tags = {t for s in gold for t in s} - {"O"}
    # A gold side of only well-formed IOBES/BILOU tags is rewritten to IOB2 first (tested below).
    assume(not all(map(well_formed, tags)) or not any(t[0] in "ESLU" for t in tags))
    entity = any(well_formed(t) for s in gold + pred for t in s)
    report = score(gold, pred)
    if not entity:  # no B-/I-/E-/S-/L-/U-TYPE tag anywhere: a plain tag set
        assert set(report) == {"accuracy"}
        return
    assert_conlleval_scores(report, gold, pred)
    n = sum(map(len, gold))
    right = sum(split_tag(g) == split_tag(p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    assert abs(report["accuracy"] - right / n) < 1e-9


def test_wnut17_with_foo_tags_scores_as_conlleval() -> None:
    # The case: WNUT-17 test as gold, 2% of its O tags read FOO in the prediction.
    # conlleval.pl gave F1 99.13 on its draw; the old scorer 83.29 (it counted a type "OO").
    _, gold, _ = read_tag_sequences(str(ROOT / "data" / "wnut17" / "test.conll"))
    rng = random.Random(25)
    pred = [[("FOO" if t == "O" and rng.random() < 0.02 else t) for t in s] for s in gold]
    report = score(gold, pred)
    assert_conlleval_scores(report, gold, pred)
    assert "OO" not in report["per_type"] and report["micro"]["recall"] == 1.0
    assert 0.98 < report["micro"]["f1"] < 1.0  # FOO right after an entity starts a chunk


def test_iobes_gold_is_read_as_iobes() -> None:
    # conlleval.pl joins adjacent same-type entities of IOBES (S-PER S-PER is one chunk to it);
    # a clean IOBES / BILOU gold side is rewritten to IOB2 first, so each S- is an entity.
    gold = [["S-PER", "S-PER", "B-LOC", "E-LOC", "B-LOC", "E-LOC"]]
    pred = [["S-PER", "O", "B-LOC", "E-LOC", "O", "O"]]
    report = score(gold, pred)
    assert report["per_type"]["PER"]["support"] == 2 and report["per_type"]["LOC"]["support"] == 2
    assert report["micro"]["precision"] == 1.0 and report["micro"]["recall"] == 0.5
    assert report["accuracy"] == 3 / 6  # of the tags as written
    assert score(gold, pred) == score(gold, pred, "iobes")
    bilou = [["U-PER", "U-PER", "B-LOC", "L-LOC", "B-LOC", "L-LOC"]]
    assert score(bilou, [["U-PER", "O", "B-LOC", "L-LOC", "O", "O"]]) == report
