"""The pure parts of bench/spacy_side.py: tag conversion for spaCy, time-to-F1, busy check."""

from __future__ import annotations

import random

from conftest import bench_module

from tagger.data.schemes import convert


def load_bench() -> object:
    return bench_module("spacy_side")


def test_iob1_to_iob2_agrees_with_the_library_conversion() -> None:
    bench = load_bench()
    rng = random.Random(0)
    for _ in range(300):
        iob2 = []
        for _ in range(rng.randint(1, 12)):
            tag = rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
            if tag.startswith("I-") and (not iob2 or iob2[-1][2:] != tag[2:]):
                tag = "B-" + tag[2:]  # a valid IOB2 sequence
            iob2.append(tag)
        iob1 = convert(iob2, "iob2", "iob1")
        assert bench.iob1_to_iob2(iob1) == iob2


def test_time_to_reach_takes_the_first_point_at_or_above_the_target() -> None:
    bench = load_bench()
    curve = [(10.0, 1, 80.0), (20.0, 2, 85.5), (30.0, 3, 85.0), (40.0, 4, 90.0)]
    assert bench.time_to_reach(curve, 85.5) == 20.0
    assert bench.time_to_reach(curve, 95.0) is None
    assert bench.time_to_reach(curve, None) is None


def test_a_busy_measurement_is_named_and_an_idle_one_is_not() -> None:
    bench = load_bench()
    systems = {
        "tagger": {"train": {"wall_s": 100.0, "other_cpu_s": 2.0}},
        "spacy": {"tag": {"1": {"wall_s": 10.0, "other_cpu_s": 3.0}}},
    }
    notes = bench.busy_notes({"systems": systems})
    assert notes == ["spacy.tag.1: 3.0 s of 10.0 s"]
