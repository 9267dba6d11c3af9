"""Tests for tagger.model.crf: batched Viterbi and the constrained CRF, against brute force."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tagger.data.schemes import allowed_transitions
from tagger.model.crf import ConstrainedCRF, viterbi

IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def path_score(emissions, start, trans, end, path) -> float:
    """start + emissions + transitions + end of one path over its real positions."""
    total = start[path[0]] + emissions[0, path[0]]
    for t in range(1, len(path)):
        total = total + trans[path[t - 1], path[t]] + emissions[t, path[t]]
    return float(total + end[path[-1]])


def path_allowed(path, allowed) -> bool:
    start, pairs, end = allowed
    return (
        start[path[0]] and end[path[-1]] and all(pairs[a][b] for a, b in itertools.pairwise(path))
    )


def brute_best(emissions, start, trans, end, allowed=None):
    """(best path, its score) by enumerating all K^T paths (only allowed ones, if given)."""
    length, k = emissions.shape
    best = None
    for path in itertools.product(range(k), repeat=length):
        if allowed is not None and not path_allowed(path, allowed):
            continue
        value = path_score(emissions, start, trans, end, path)
        if best is None or value > best[1]:
            best = (list(path), value)
    assert best is not None
    return best


def brute_log_z(emissions, start, trans, end, allowed=None) -> float:
    length, k = emissions.shape
    scores = [
        path_score(emissions, start, trans, end, path)
        for path in itertools.product(range(k), repeat=length)
        if allowed is None or path_allowed(path, allowed)
    ]
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores))


def random_batch(gen: torch.Generator, k: int, lengths: list[int]):
    """Random emissions (B, T, K), with junk past each sentence's end, and a left-aligned mask."""
    width = max(lengths)
    emissions = torch.randn(len(lengths), width, k, generator=gen, dtype=torch.float64) * 2
    mask = torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return emissions, mask


@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("trial", range(4))
def test_viterbi_equals_brute_force(k: int, trial: int) -> None:
    gen = torch.Generator().manual_seed(100 * k + trial)
    lengths = torch.randint(1, 6, (5,), generator=gen).tolist()
    lengths[0] = 5 if trial % 2 else 1  # cover T=1 and T=5 in every k
    emissions, mask = random_batch(gen, k, lengths)
    start = torch.randn(k, generator=gen, dtype=torch.float64)
    trans = torch.randn(k, k, generator=gen, dtype=torch.float64)
    end = torch.randn(k, generator=gen, dtype=torch.float64)

    tags, scores = viterbi(emissions, mask, start, trans, end)

    assert tags.shape == mask.shape and tags.dtype == torch.long
    for b, length in enumerate(lengths):
        path, value = brute_best(emissions[b, :length], start, trans, end)
        assert tags[b, :length].tolist() == path
        assert tags[b, length:].eq(0).all()
        assert float(scores[b]) == pytest.approx(value, abs=1e-9)


def test_viterbi_uses_end_transitions() -> None:
    # Emissions favour tag 0 at the last position, but ending in tag 0 is very expensive.
    emissions = torch.tensor([[[0.0, 0.0], [3.0, 0.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    zeros2 = torch.zeros(2)
    tags, _ = viterbi(emissions, mask, zeros2, torch.zeros(2, 2), zeros2)
    assert tags[0, 1] == 0
    tags, score = viterbi(emissions, mask, zeros2, torch.zeros(2, 2), torch.tensor([-10.0, 0.0]))
    assert tags[0, 1] == 1
    assert float(score[0]) == pytest.approx(0.0)


def constrained_crf(seed: int) -> tuple[ConstrainedCRF, tuple]:
    allowed = allowed_transitions(IOBES, "iobes")
    torch.manual_seed(seed)
    crf = ConstrainedCRF(len(IOBES), allowed)
    with torch.no_grad():  # larger than the default init, so that the scores matter
        for name in ("start_transitions", "transitions", "end_transitions"):
            crf._parameters[name].normal_()
    return crf, allowed


def test_allowed_transitions_are_those_of_iobes() -> None:
    start, pairs, end = allowed_transitions(IOBES, "iobes")
    o, b, i, e, s = range(5)
    assert start == [True, True, False, False, True]
    assert end == [True, False, False, True, True]
    assert not pairs[o][i] and not pairs[b][o] and not pairs[b][b] and pairs[b][e]


@pytest.mark.parametrize("seed", range(3))
def test_constrained_decoding_never_uses_forbidden_transitions(seed: int) -> None:
    crf, allowed = constrained_crf(seed)
    start, pairs, end = allowed
    gen = torch.Generator().manual_seed(seed)
    lengths = [5, 1, 3, 4, 2, 5]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    emissions = emissions.float()
    # Make forbidden paths very attractive: I-PER everywhere, O -> I-PER, and B-PER at the end.
    emissions[:, :, IOBES.index("I-PER")] += 30.0
    emissions[1, 0, IOBES.index("B-PER")] += 60.0  # a one-token sentence that "wants" B-PER
    emissions[3, 3, IOBES.index("B-PER")] += 60.0  # the last token "wants" B-PER (cannot end)

    with torch.no_grad():
        tags = crf.viterbi(emissions, mask)
    raw = [crf._parameters[n].detach() for n in ("start_transitions", "transitions")]
    raw.append(crf._parameters["end_transitions"].detach())
    for row, length in enumerate(lengths):
        path = tags[row, :length].tolist()
        assert path_allowed(path, allowed), [IOBES[t] for t in path]
        best, _ = brute_best(emissions[row, :length].double(), *[r.double() for r in raw], allowed)
        assert path == best
    # The unconstrained best path would have used a forbidden transition.
    free = viterbi(emissions, mask, *raw)[0]
    assert not all(
        path_allowed(free[row, :length].tolist(), allowed) for row, length in enumerate(lengths)
    )


@pytest.mark.parametrize("seed", range(3))
def test_neg_log_likelihood_equals_brute_force(seed: int) -> None:
    crf, allowed = constrained_crf(seed)
    gen = torch.Generator().manual_seed(10 + seed)
    lengths = [4, 2, 1, 3]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    emissions = emissions.float()
    gold_paths = [[1, 2, 3, 0], [4, 0], [4], [0, 1, 3]]  # all valid IOBES
    tags = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for row, path in enumerate(gold_paths):
        assert path_allowed(path, allowed)
        tags[row, : len(path)] = torch.tensor(path)

    nll = crf.neg_log_likelihood(emissions, tags, mask)

    raw = [
        crf._parameters[n].detach().double()
        for n in ("start_transitions", "transitions", "end_transitions")
    ]
    expected = []
    for row, (length, path) in enumerate(zip(lengths, gold_paths)):
        em = emissions[row, :length].double()
        log_z = brute_log_z(em, *raw, allowed)
        expected.append(log_z - path_score(em, *raw, path))
    assert nll.item() == pytest.approx(sum(expected) / len(expected), abs=1e-4)

    nll.backward()
    start, pairs, end = (torch.tensor(a) for a in allowed)
    grads = {n: crf._parameters[n].grad for n in ("start_transitions", "transitions")}
    grads["end_transitions"] = crf._parameters["end_transitions"].grad
    assert grads["start_transitions"][~start].eq(0).all()
    assert grads["transitions"][~pairs].eq(0).all()
    assert grads["end_transitions"][~end].eq(0).all()
    # ...while allowed entries do learn.
    assert grads["transitions"][pairs].abs().sum() > 0
    assert grads["start_transitions"][start].abs().sum() > 0


def test_state_dict_keys_are_pytorch_crf_names() -> None:
    crf, _ = constrained_crf(0)
    state = crf.state_dict()
    assert set(state) == {
        "start_transitions",
        "transitions",
        "end_transitions",
        "allowed_start",
        "allowed_pairs",
        "allowed_end",
    }
    # The stored parameters are the raw ones, not the masked views.
    assert state["transitions"].min() > -100
    assert crf.transitions.min().item() == pytest.approx(-10000.0)
    # A fresh CRF loads them and then decodes identically.
    other = ConstrainedCRF(len(IOBES), allowed_transitions(IOBES, "iobes"))
    other.load_state_dict(state)
    emissions = torch.randn(2, 4, len(IOBES), generator=torch.Generator().manual_seed(3))
    mask = torch.ones(2, 4, dtype=torch.bool)
    assert torch.equal(crf.viterbi(emissions, mask), other.viterbi(emissions, mask))


def test_unconstrained_crf_allows_everything() -> None:
    crf = ConstrainedCRF(3)
    assert crf.allowed_pairs.all() and crf.allowed_start.all() and crf.allowed_end.all()
    assert torch.equal(crf.transitions, crf._parameters["transitions"])


def test_padded_batch_decodes_like_each_sentence_alone() -> None:
    crf, _ = constrained_crf(7)
    gen = torch.Generator().manual_seed(7)
    lengths = [2, 6, 1, 4]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    emissions = emissions.float()
    with torch.no_grad():
        together = crf.viterbi(emissions, mask)
        for row, length in enumerate(lengths):
            alone = crf.viterbi(emissions[row : row + 1, :length], mask[row : row + 1, :length])
            assert together[row, :length].tolist() == alone[0].tolist()
            assert together[row, length:].eq(0).all()


@pytest.mark.parametrize("seed", range(3))
def test_nbest_equals_brute_force_ranking(seed: int) -> None:
    from tagger.model.crf import nbest_viterbi

    crf, allowed = constrained_crf(seed)
    gen = torch.Generator().manual_seed(seed)
    lengths = [4, 1, 3, 2]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    emissions = emissions.float()
    k = 6
    with torch.no_grad():
        paths, scores = nbest_viterbi(emissions, mask, *crf.parameters_masked(), k)
    raw = [crf._parameters[n].detach().double() for n in ("start_transitions", "transitions")]
    raw.append(crf._parameters["end_transitions"].detach().double())
    for row, length in enumerate(lengths):
        ranked = sorted(
            (
                path_score(emissions[row, :length].double(), *raw, p)
                for p in itertools.product(range(len(IOBES)), repeat=length)
                if path_allowed(p, allowed)
            ),
            reverse=True,
        )
        expected = ranked[:k] + [float("-inf")] * (k - len(ranked[:k]))
        got = scores[row].tolist()
        for e, g in zip(expected, got):
            assert (e == g == float("-inf")) or abs(e - g) < 1e-3
        for rank, value in enumerate(ranked[:k]):
            path = paths[row, rank, :length].tolist()
            assert path_allowed(path, allowed)
            assert abs(path_score(emissions[row, :length].double(), *raw, path) - value) < 1e-3
        assert paths[row, 0].tolist() == crf.viterbi(emissions, mask)[row].tolist()


@pytest.mark.parametrize("seed", range(3))
def test_marginals_equal_brute_force(seed: int) -> None:
    from tagger.model.crf import marginals

    crf, allowed = constrained_crf(seed)
    gen = torch.Generator().manual_seed(seed)
    lengths = [3, 1, 4]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    probs, log_z = marginals(emissions, mask, *[p.double() for p in crf.parameters_masked()])
    raw = [crf._parameters[n].detach().double() for n in ("start_transitions", "transitions")]
    raw.append(crf._parameters["end_transitions"].detach().double())
    for row, length in enumerate(lengths):
        em = emissions[row, :length]
        expected = torch.zeros(length, len(IOBES), dtype=torch.float64)
        z = brute_log_z(em, *raw, allowed)
        for path in itertools.product(range(len(IOBES)), repeat=length):
            if path_allowed(path, allowed):
                weight = math.exp(path_score(em, *raw, path) - z)
                for t, tag in enumerate(path):
                    expected[t, tag] += weight
        assert torch.allclose(probs[row, :length], expected, atol=1e-6)
        assert abs(float(log_z[row]) - z) < 1e-6
        assert torch.allclose(probs[row, :length].sum(1), torch.ones(length, dtype=torch.float64))
        assert (probs[row, length:] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scaled_forward_equals_log_space_recursion(dtype: torch.dtype) -> None:
    """log Z and every gradient of the probability-space recursion match the log-space one on a
    ragged, constrained batch with large scores (junk past each end must not leak in)."""
    from tagger.model.crf import _log_space_forward, log_partition

    crf, _ = constrained_crf(0)
    gen = torch.Generator().manual_seed(7)
    emissions, mask = random_batch(gen, len(IOBES), [6, 1, 3, 6, 2])
    emissions = (emissions * 10).to(dtype)  # scores of +-60: exp() alone would overflow
    results = []
    for fn in (log_partition, _log_space_forward):
        em = emissions.clone().requires_grad_(True)
        params = [p.detach().to(dtype).requires_grad_(True) for p in crf.parameters_masked()]
        log_z = fn(em, mask, *params)
        (log_z * torch.arange(1, 6, dtype=dtype)).sum().backward()
        results.append([log_z.detach(), em.grad] + [p.grad for p in params])
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    for scaled, reference in zip(*results):
        assert torch.allclose(scaled, reference, rtol=tol, atol=tol)
    assert results[0][1][~mask].eq(0).all()  # padding gets no gradient


def test_log_partition_falls_back_when_a_step_underflows() -> None:
    """Tag 1 fits step 1 by 300 but is reachable only from tag 0 at a cost of 200, and tag 0
    was 300 behind at step 0: every probability-space path underflows, the result may not."""
    emissions = torch.tensor([[[-300.0, 0.0], [0.0, 300.0]]])  # (1, 2, 2)
    mask = torch.ones(1, 2, dtype=torch.bool)
    start, end = torch.zeros(2), torch.zeros(2)
    transitions = torch.tensor([[0.0, -200.0], [-10000.0, -10000.0]])
    from tagger.model.crf import _scaled_forward, log_partition

    assert not bool(_scaled_forward(emissions, mask, start, transitions, end)[1])
    log_z = log_partition(emissions, mask, start, transitions, end)
    expected = brute_log_z(emissions[0].double(), start, transitions, end)
    assert log_z.item() == pytest.approx(expected, abs=1e-3)
