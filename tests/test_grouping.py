"""Tests for tagger.model.grouping: the cheapest split of length-sorted rows, by brute force."""

from __future__ import annotations

import itertools
import random

import pytest

from tagger.model.grouping import Cost, cheapest_split


def brute_force(lengths: list[int], cost: Cost) -> float:
    """The cheapest total over every split into consecutive groups (cuts anywhere)."""
    best = float("inf")
    n = len(lengths)
    for cuts in itertools.product([False, True], repeat=n - 1):
        bounds = [0] + [i + 1 for i, cut in enumerate(cuts) if cut] + [n]
        total = sum(cost.of(b - a, lengths[b - 1]) for a, b in itertools.pairwise(bounds))
        best = min(best, total)
    return best


@pytest.mark.parametrize("trial", range(12))
def test_cheapest_split_equals_brute_force(trial: int) -> None:
    rng = random.Random(trial)
    lengths = sorted(rng.randint(1, 25) for _ in range(rng.randint(1, 11)))
    cost = Cost(
        call=rng.choice([0.0, 5.0, 40.0]), step=rng.choice([0.0, 3.0]), quantum=rng.choice([1, 4])
    )
    groups, total = cheapest_split(lengths, cost)
    assert total == pytest.approx(brute_force(lengths, cost))
    assert [g[0] for g in groups] == [0] + [g[1] for g in groups[:-1]]  # consecutive, no gaps
    assert groups[-1][1] == len(lengths)
    assert all(width == lengths[end - 1] for _, end, width in groups)
    assert sum(cost.of(end - begin, width) for begin, end, width in groups) == pytest.approx(total)


def test_call_cost_trades_padding_for_calls() -> None:
    lengths = [2] * 10 + [20] * 2
    assert len(cheapest_split(lengths, Cost(call=0.0, step=0.0))[0]) == 2  # padding is waste
    assert len(cheapest_split(lengths, Cost(call=1000.0, step=0.0))[0]) == 1  # calls cost more
    assert cheapest_split([], Cost(call=1.0, step=1.0)) == ([], 0.0)
