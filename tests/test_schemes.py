"""Tests for tagger.data.schemes."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.data.schemes import (
    SCHEMES,
    TagError,
    allowed_transitions,
    check_tags,
    convert,
    detect_scheme,
    encode_spans,
    find_misfit,
    get_spans,
    normalize_scheme,
    split_tag,
)

SPAN_SCHEMES = ("iob1", "iob2", "iobes", "bilou")
TYPES = ("PER", "LOC", "creative-work")


# --- names and tags -------------------------------------------------------------------------


def test_schemes_constant() -> None:
    assert SCHEMES == ("iob1", "iob2", "iobes", "bilou", "none")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("IOB1", "iob1"), ("bio", "iob2"), ("BIO", "iob2"), ("iobes", "iobes"), ("None", "none")],
)
def test_normalize_scheme(name: str, expected: str) -> None:
    assert normalize_scheme(name) == expected


def test_normalize_scheme_unknown_names_choices() -> None:
    with pytest.raises(ValueError, match="iob1.*iob2.*iobes.*bilou.*none"):
        normalize_scheme("ioblu")


def test_split_tag() -> None:
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("O") == ("O", None)
    assert split_tag("B-creative-work") == ("B", "creative-work")
    assert split_tag("U-X") == ("U", "X")


@pytest.mark.parametrize("tag", ["X-PER", "B-", "PER", "", "B_PER", "O-PER", "-LRB-"])
def test_split_tag_malformed(tag: str) -> None:
    with pytest.raises(TagError, match="expected O or PREFIX-TYPE"):
        split_tag(tag)


def test_tag_error_is_value_error() -> None:
    assert issubclass(TagError, ValueError)


def test_check_tags() -> None:
    check_tags(["O", "B-PER", "I-PER"], "iob2")
    check_tags(["S-PER", "B-LOC", "E-LOC"], "iobes")
    check_tags(["U-PER", "B-LOC", "L-LOC"], "bilou")
    check_tags(["NOUN", "-LRB-", "X-PER", "B-"], "none")
    with pytest.raises(TagError, match=r"unknown tag 'E-PER' for scheme iob2: expected O or B-/I-"):
        check_tags(["B-PER", "E-PER"], "iob2")
    with pytest.raises(TagError, match="'X-PER'"):
        check_tags(["X-PER"], "iob1")
    with pytest.raises(TagError, match="'B-'"):
        check_tags(["B-"], "iobes")
    with pytest.raises(TagError, match="'L-PER'"):
        check_tags(["L-PER"], "iobes")


# --- spans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "scheme", "expected"),
    [
        # valid sequences
        ("B-PER I-PER O B-LOC", "iob2", [("PER", 0, 2), ("LOC", 3, 4)]),
        ("I-PER I-PER B-PER O I-LOC", "iob1", [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),
        (
            "B-PER E-PER S-LOC O B-PER I-PER E-PER",
            "iobes",
            [("PER", 0, 2), ("LOC", 2, 3), ("PER", 4, 7)],
        ),
        ("U-PER B-LOC L-LOC", "bilou", [("PER", 0, 1), ("LOC", 1, 3)]),
        ("B-creative-work I-creative-work", "iob2", [("creative-work", 0, 2)]),
        ("O O", "iob2", []),
        ("", "iob2", []),
        # invalid sequences, read as conlleval does
        ("O I-PER", "iob2", [("PER", 1, 2)]),
        ("I-PER", "iob2", [("PER", 0, 1)]),
        ("B-PER I-LOC", "iob2", [("PER", 0, 1), ("LOC", 1, 2)]),
        ("I-PER I-PER", "iob2", [("PER", 0, 2)]),
        ("I-PER B-PER", "iob1", [("PER", 0, 1), ("PER", 1, 2)]),
        ("B-PER B-PER", "iob2", [("PER", 0, 1), ("PER", 1, 2)]),
        ("I-PER I-LOC I-LOC", "iob1", [("PER", 0, 1), ("LOC", 1, 3)]),
        ("B-PER I-PER", "iobes", [("PER", 0, 2)]),  # no E: ends at the sentence end
        ("E-PER", "iobes", [("PER", 0, 1)]),
        ("B-PER E-PER E-PER", "iobes", [("PER", 0, 2), ("PER", 2, 3)]),
        ("B-PER E-PER I-PER", "iobes", [("PER", 0, 2), ("PER", 2, 3)]),
        ("S-PER S-PER", "iobes", [("PER", 0, 1), ("PER", 1, 2)]),
        ("S-PER I-PER E-PER", "iobes", [("PER", 0, 1), ("PER", 1, 3)]),
        ("B-PER S-PER", "iobes", [("PER", 0, 1), ("PER", 1, 2)]),
        ("E-PER B-PER E-PER", "iobes", [("PER", 0, 1), ("PER", 1, 3)]),
        ("B-PER E-LOC", "iobes", [("PER", 0, 1), ("LOC", 1, 2)]),
        ("U-PER U-PER L-PER", "bilou", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3)]),
    ],
)
def test_get_spans(tags: str, scheme: str, expected: list[tuple[str, int, int]]) -> None:
    assert get_spans(tags.split(), scheme) == expected


def test_get_spans_none_and_malformed() -> None:
    assert get_spans(["NOUN", "-LRB-"], "none") == []
    with pytest.raises(TagError):
        get_spans(["B-PER", "X-PER"], "iob2")


def _conlleval_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """Reference reader: a rule-by-rule transcription of conlleval's endOfChunk/startOfChunk.

    This is the form extended with S (as in the Python port of conlleval and seqeval's default
    mode); on B/I/O sequences it is identical to the original conlleval.pl rules.
    """

    def end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
        end = False
        end |= prev_tag == "E"
        end |= prev_tag == "S"
        end |= prev_tag == "B" and tag == "B"
        end |= prev_tag == "B" and tag == "S"
        end |= prev_tag == "B" and tag == "O"
        end |= prev_tag == "I" and tag == "B"
        end |= prev_tag == "I" and tag == "S"
        end |= prev_tag == "I" and tag == "O"
        end |= prev_tag != "O" and prev_tag != "." and prev_type != type_
        return end

    def start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
        start = False
        start |= tag == "B"
        start |= tag == "S"
        start |= prev_tag == "E" and tag == "E"
        start |= prev_tag == "E" and tag == "I"
        start |= prev_tag == "S" and tag == "E"
        start |= prev_tag == "S" and tag == "I"
        start |= prev_tag == "O" and tag == "E"
        start |= prev_tag == "O" and tag == "I"
        start |= tag != "O" and tag != "." and prev_type != type_
        return start

    spans = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate([*tags, "O"]):
        tag, _, type_ = chunk.partition("-")
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            spans.append((prev_type, begin, i))
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return spans


def test_get_spans_matches_conlleval_on_all_short_sequences() -> None:
    # Exhaustive over every sequence of up to 4 tags, valid or not (also checked offline against
    # seqeval's get_entities, which is not imported here because it pulls in scikit-learn).
    labels = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]
    to_bilou = {"E": "L", "S": "U"}
    for n in range(5):
        for seq in itertools.product(labels, repeat=n):
            expected = _conlleval_spans(list(seq))
            assert get_spans(seq, "iobes") == expected, seq
            bilou = [to_bilou.get(t[0], t[0]) + t[1:] for t in seq]
            assert get_spans(bilou, "bilou") == expected, bilou


def test_fast_iobes_path_agrees_with_conlleval_rules_on_all_short_sequences() -> None:
    # convert() reads valid IOBES/BILOU in one pass and falls back to get_spans otherwise: on
    # every sequence of up to 5 tags the fast reading, when it accepts, gives get_spans' spans,
    # and it accepts exactly the valid sequences (those with no disallowed transition).
    from tagger.data.schemes import _valid_iobes_spans

    labels = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "E-B", "S-B"]
    start, pairs, end = allowed_transitions(labels, "iobes")
    accepted = 0
    for n in range(6):
        for seq in itertools.product(labels, repeat=n):
            fast = _valid_iobes_spans(seq)
            index = [labels.index(t) for t in seq]
            valid = (
                not seq
                or start[index[0]]
                and end[index[-1]]
                and all(pairs[a][b] for a, b in itertools.pairwise(index))
            )
            assert (fast is not None) == bool(valid), seq
            if fast is not None:
                accepted += 1
                assert fast == get_spans(seq, "iobes"), seq
    assert accepted > 100


# --- detect_scheme --------------------------------------------------------------------------


def test_detect_scheme() -> None:
    conll2003 = [["I-ORG", "O", "I-MISC", "O"], ["I-PER", "I-PER", "B-PER", "O"]]
    assert detect_scheme(conll2003) == "iob1"
    assert detect_scheme([["O", "I-PER", "I-LOC"]]) == "iob1"  # I after another type
    assert detect_scheme([["B-PER", "I-PER", "O", "B-LOC"], ["O"]]) == "iob2"
    assert detect_scheme([["B-PER", "E-PER", "S-LOC", "O"]]) == "iobes"
    assert detect_scheme([["B-PER", "L-PER", "U-LOC", "O"]]) == "bilou"
    assert detect_scheme([["B-creative-work", "I-creative-work"]]) == "iob2"


def test_detect_scheme_plain_tag_sets() -> None:
    assert detect_scheme([["NOUN", "VERB", "PUNCT"], ["DET", "NOUN"]]) == "none"
    assert detect_scheme([["-LRB-", "NN", "HYPH", "NFP", "-RRB-", "AFX"]]) == "none"
    assert detect_scheme([["O", "O"], ["O"]]) == "none"
    assert detect_scheme([]) == "none"
    assert detect_scheme([["B", "I", "O"], ["B-", "NN"]]) == "none"  # no PREFIX-TYPE tag
    assert find_misfit([["NOUN", "B", "B-", "X-PER", "-LRB-"]]) is None


def test_stray_tags_do_not_make_a_plain_tag_set() -> None:
    # Issue 25, item 7: one stray tag among entity tags is a misfit to report, not a sign of a
    # plain tag set (this used to detect "none": no constraints and no entity scores).
    corpus = [["O", "B-PER", "I-PER"], ["O", "O"], ["B-LOC", "B-", "O"], ["NOUN"]]
    assert detect_scheme(corpus) == "iob2"
    assert find_misfit(corpus) == (2, 1, "B-")
    assert find_misfit([["FOO"], ["O", "I-PER"]]) == (0, 0, "FOO")  # before the first entity
    assert find_misfit([["O", "X-PER", "B-PER"]]) == (0, 1, "X-PER")
    assert find_misfit([["O", "B-PER", "I-PER"], ["S-LOC", "E-LOC", "O"]]) is None


# --- encoding and conversion ----------------------------------------------------------------


def test_encode_and_convert_examples() -> None:
    spans = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("LOC", 5, 7)]
    assert encode_spans(spans, 8, "iob1") == [
        "I-PER",
        "I-PER",
        "B-PER",
        "O",
        "I-LOC",
        "B-LOC",
        "I-LOC",
        "O",
    ]
    assert encode_spans(spans, 8, "iob2") == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
        "B-LOC",
        "I-LOC",
        "O",
    ]
    assert encode_spans(spans, 8, "iobes") == [
        "B-PER",
        "E-PER",
        "S-PER",
        "O",
        "S-LOC",
        "B-LOC",
        "E-LOC",
        "O",
    ]
    assert encode_spans(spans, 8, "bilou") == [
        "B-PER",
        "L-PER",
        "U-PER",
        "O",
        "U-LOC",
        "B-LOC",
        "L-LOC",
        "O",
    ]
    assert convert(["O", "I-PER", "I-LOC"], "iob1", "iob2") == ["O", "B-PER", "B-LOC"]
    assert convert(["O", "I-PER", "B-PER"], "iob2", "iobes") == ["O", "S-PER", "S-PER"]


def test_convert_repairs_invalid_input() -> None:
    assert convert(["O", "I-PER", "I-PER"], "iob2", "iob2") == ["O", "B-PER", "I-PER"]
    assert convert(["B-PER", "B-PER"], "iob1", "iob1") == ["I-PER", "B-PER"]
    assert convert(["B-PER", "I-PER"], "iobes", "iobes") == ["B-PER", "E-PER"]


def test_convert_errors() -> None:
    assert convert(["NOUN", "VERB"], "none", "none") == ["NOUN", "VERB"]
    with pytest.raises(ValueError, match="none"):
        convert(["B-PER"], "iob2", "none")
    with pytest.raises(ValueError, match="none"):
        convert(["NOUN"], "none", "iob2")
    with pytest.raises(TagError):
        convert(["E-PER"], "iob2", "iobes")
    with pytest.raises(ValueError):
        encode_spans([("PER", 0, 2), ("LOC", 1, 3)], 3, "iob2")
    with pytest.raises(ValueError):
        encode_spans([("PER", 2, 4)], 3, "iob2")


@st.composite
def span_sets(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], int]:
    """Random non-overlapping spans (often adjacent) over a sentence of up to 12 tokens."""
    length = draw(st.integers(min_value=0, max_value=12))
    spans = []
    i = 0
    while i < length:
        if draw(st.booleans()):
            size = draw(st.integers(min_value=1, max_value=length - i))
            spans.append((draw(st.sampled_from(TYPES)), i, i + size))
            i += size
        else:
            i += 1
    return spans, length


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_encode_then_get_spans_round_trips(data: tuple[list[tuple[str, int, int]], int]) -> None:
    spans, length = data
    for scheme in SPAN_SCHEMES:
        tags = encode_spans(spans, length, scheme)
        assert len(tags) == length
        check_tags(tags, scheme)
        assert get_spans(tags, scheme) == spans
        assert convert(tags, scheme, scheme) == tags


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_convert_round_trip(data: tuple[list[tuple[str, int, int]], int]) -> None:
    spans, length = data
    start = encode_spans(spans, length, "iob1")
    tags = start
    for source, target in itertools.pairwise(("iob1", "iob2", "iobes", "bilou", "iob1")):
        tags = convert(tags, source, target)
        assert tags == encode_spans(spans, length, target)
    assert tags == start


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_detect_scheme_on_encoded_corpus(data: tuple[list[tuple[str, int, int]], int]) -> None:
    spans, length = data
    if not spans:
        return
    assert detect_scheme([encode_spans(spans, length, "iobes")]) == "iobes"
    assert detect_scheme([encode_spans(spans, length, "bilou")]) == "bilou"
    iob1 = encode_spans(spans, length, "iob1")
    assert detect_scheme([iob1, encode_spans(spans, length, "iob2")]) == "iob1"


# --- allowed transitions --------------------------------------------------------------------


def _labels(scheme: str, types: tuple[str, ...] = ("PER", "LOC")) -> list[str]:
    prefixes = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}[scheme]
    return ["O"] + [f"{p}-{t}" for t in types for p in prefixes]


def _satisfies(seq: Sequence[str], labels: list[str], scheme: str) -> bool:
    """Whether ``seq`` obeys the start, pair and end constraints of ``allowed_transitions``."""
    start, pairs, end = _transitions(tuple(labels), scheme)
    index = {label: i for i, label in enumerate(labels)}
    ids = [index[t] for t in seq]
    if not ids:
        return True
    return start[ids[0]] and end[ids[-1]] and all(pairs[a][b] for a, b in itertools.pairwise(ids))


@functools.cache
def _transitions(
    labels: tuple[str, ...], scheme: str
) -> tuple[list[bool], list[list[bool]], list[bool]]:
    return allowed_transitions(labels, scheme)


def test_allowed_transitions_shapes_and_none() -> None:
    labels = ["NOUN", "VERB", "-LRB-"]
    start, pairs, end = allowed_transitions(labels, "none")
    assert start == [True] * 3 and end == [True] * 3
    assert pairs == [[True] * 3 for _ in range(3)]
    labels = _labels("iobes")
    start, pairs, end = allowed_transitions(labels, "iobes")
    assert len(start) == len(end) == len(pairs) == len(labels)
    assert all(len(row) == len(labels) for row in pairs)
    with pytest.raises(TagError):
        allowed_transitions(["O", "E-PER"], "iob2")


def test_allowed_transitions_examples() -> None:
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, pairs, end = allowed_transitions(labels, "iob2")
    assert start == [True, True, False, True, False]
    assert end == [True] * 5
    assert pairs[1][2] and pairs[2][2] and not pairs[0][2] and not pairs[1][4]
    start, pairs, end = allowed_transitions(labels, "iob1")
    assert start == [True, False, True, False, True]
    assert pairs[0][2] and pairs[1][4] and pairs[2][1] and pairs[1][1]
    assert not pairs[0][1] and not pairs[2][3]
    labels = ["O", "B-PER", "I-PER", "L-PER", "U-PER"]
    start, pairs, end = allowed_transitions(labels, "bilou")
    assert start == [True, True, False, False, True]
    assert end == [True, False, False, True, True]
    assert pairs[1][3] and pairs[3][4] and not pairs[4][2] and not pairs[1][0]


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_encoded_sequences_use_allowed_transitions(
    data: tuple[list[tuple[str, int, int]], int],
) -> None:
    spans, length = data
    for scheme in SPAN_SCHEMES:
        labels = _labels(scheme, TYPES)
        assert _satisfies(tuple(encode_spans(spans, length, scheme)), labels, scheme)


@pytest.mark.parametrize("scheme", SPAN_SCHEMES)
def test_allowed_transitions_are_exactly_canonical_sequences(scheme: str) -> None:
    # This also holds for iob1: with B-X allowed only after B-X/I-X and never at the start, a
    # B-X always marks the start of an entity adjacent to a same-type one (so canonical encoding
    # gives B there) and an entity-initial I-X always follows O, the start or another type (so
    # canonical encoding gives I there); conversely canonical IOB1 never breaks these rules.
    labels = _labels(scheme)
    for n in range(5):
        for seq in itertools.product(labels, repeat=n):
            canonical = convert(list(seq), scheme, scheme) == list(seq)
            assert _satisfies(seq, labels, scheme) == canonical, seq
