"""Tests for tagger.model.crf: batched Viterbi and the constrained CRF, against brute force."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tagger.data.schemes import allowed_transitions
from tagger.model import crf as crf_module
from tagger.model.crf import ConstrainedCRF, Transitions, viterbi

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

    tags, scores = viterbi(emissions, mask, Transitions(start, trans, end))

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
    tags, _ = viterbi(emissions, mask, Transitions(zeros2, torch.zeros(2, 2), zeros2))
    assert tags[0, 1] == 0
    ends = torch.tensor([-10.0, 0.0])
    tags, score = viterbi(emissions, mask, Transitions(zeros2, torch.zeros(2, 2), ends))
    assert tags[0, 1] == 1
    assert float(score[0]) == pytest.approx(0.0)


def raw_parameters(crf: ConstrainedCRF) -> Transitions:
    """The CRF's parameters without the constraints (its public attributes)."""
    return Transitions(crf.start_transitions, crf.transitions, crf.end_transitions)


def constrained_crf(seed: int) -> tuple[ConstrainedCRF, tuple]:
    allowed = allowed_transitions(IOBES, "iobes")
    torch.manual_seed(seed)
    crf = ConstrainedCRF(len(IOBES), allowed)
    with torch.no_grad():  # larger than the default init, so that the scores matter
        for param in raw_parameters(crf):
            param.normal_()
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
    raw = [p.detach() for p in raw_parameters(crf)]
    for row, length in enumerate(lengths):
        path = tags[row, :length].tolist()
        assert path_allowed(path, allowed), [IOBES[t] for t in path]
        best, _ = brute_best(emissions[row, :length].double(), *[r.double() for r in raw], allowed)
        assert path == best
    # The unconstrained best path would have used a forbidden transition.
    free = viterbi(emissions, mask, Transitions(*raw))[0]
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

    raw = [p.detach().double() for p in raw_parameters(crf)]
    expected = []
    for row, (length, path) in enumerate(zip(lengths, gold_paths)):
        em = emissions[row, :length].double()
        log_z = brute_log_z(em, *raw, allowed)
        expected.append(log_z - path_score(em, *raw, path))
    assert nll.item() == pytest.approx(sum(expected) / len(expected), abs=1e-4)

    nll.backward()
    start, pairs, end = (torch.tensor(a) for a in allowed)
    names = ("start_transitions", "transitions", "end_transitions")
    grads = {n: getattr(crf, n).grad for n in names}
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
    assert crf.parameters_masked().pairs.min().item() == pytest.approx(-10000.0)
    # A fresh CRF loads them and then decodes identically.
    other = ConstrainedCRF(len(IOBES), allowed_transitions(IOBES, "iobes"))
    other.load_state_dict(state)
    emissions = torch.randn(2, 4, len(IOBES), generator=torch.Generator().manual_seed(3))
    mask = torch.ones(2, 4, dtype=torch.bool)
    assert torch.equal(crf.viterbi(emissions, mask), other.viterbi(emissions, mask))


def test_unconstrained_crf_allows_everything() -> None:
    crf = ConstrainedCRF(3)
    assert crf.allowed_pairs.all() and crf.allowed_start.all() and crf.allowed_end.all()
    assert torch.equal(crf.parameters_masked().pairs, crf.transitions)


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
        paths, scores = nbest_viterbi(emissions, mask, crf.parameters_masked(), k)
    raw = [p.detach().double() for p in raw_parameters(crf)]
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
    masked = Transitions._make(p.double() for p in crf.parameters_masked())
    probs, log_z = marginals(emissions, mask, masked)
    raw = [p.detach().double() for p in raw_parameters(crf)]
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
        log_z = fn(em, mask, Transitions(*params))
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

    trans = Transitions(start, transitions, end)
    assert not bool(_scaled_forward(emissions, mask, trans)[1])
    log_z = log_partition(emissions, mask, trans)
    expected = brute_log_z(emissions[0].double(), start, transitions, end)
    assert log_z.item() == pytest.approx(expected, abs=1e-3)


def reference_crf(crf: ConstrainedCRF):
    """pytorch-crf's CRF with the same (unconstrained) parameters: the reference."""
    from torchcrf import CRF

    reference = CRF(crf.num_tags, batch_first=True).double()
    reference.load_state_dict({n: p.detach() for n, p in crf.named_parameters()})
    return reference


@pytest.mark.parametrize("shape", [(1, 1, 2), (3, 4, 3), (6, 9, 5), (8, 15, 9), (2, 30, 4)])
def test_likelihood_and_viterbi_equal_pytorch_crf(shape: tuple[int, int, int]) -> None:
    """On random unconstrained parameters, emissions and gold tags over ragged masks: the same
    log-likelihood (per sentence and mean), gradients and best paths as pytorch-crf."""
    batch, width, k = shape
    gen = torch.Generator().manual_seed(sum(shape))
    torch.manual_seed(sum(shape))
    crf = ConstrainedCRF(k).double()
    with torch.no_grad():
        for param in raw_parameters(crf):
            param.normal_()
    lengths = torch.randint(1, width + 1, (batch,), generator=gen).tolist()
    lengths[0] = width  # one full row; the rest ragged
    emissions, mask = random_batch(gen, k, lengths)
    tags = torch.randint(0, k, (batch, width), generator=gen)
    reference = reference_crf(crf)

    em = emissions.clone().requires_grad_(True)
    nll = crf.neg_log_likelihood(em, tags, mask)
    nll.backward()
    em_ref = emissions.clone().requires_grad_(True)
    ref_nll = -reference(em_ref, tags, mask, reduction="mean")
    ref_nll.backward()
    assert nll.item() == pytest.approx(ref_nll.item(), rel=1e-9, abs=1e-9)
    assert torch.allclose(em.grad, em_ref.grad, atol=1e-9)
    for name, param in crf.named_parameters():
        theirs = getattr(reference, name).grad  # None where unused (one-token batches)
        theirs = torch.zeros_like(param) if theirs is None else theirs
        assert torch.allclose(param.grad, theirs, atol=1e-9), name

    scores = crf.parameters_masked()
    gold = crf_module.path_score(emissions, tags, mask, scores)
    ours = gold - crf_module.log_partition(emissions, mask, scores)
    theirs = reference(emissions, tags, mask, reduction="none")
    assert torch.allclose(ours, theirs, atol=1e-9)

    best = crf.viterbi(emissions, mask)
    for row, path in enumerate(reference.decode(emissions, mask)):
        assert best[row, : lengths[row]].tolist() == path


def test_inputs_are_validated() -> None:
    crf = ConstrainedCRF(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.zeros(2, 4, dtype=torch.long)
    mask = torch.ones(2, 4, dtype=torch.bool)
    crf.neg_log_likelihood(emissions, tags, mask)  # well-formed: no error
    bad = [
        ((emissions[0], tags, mask), r"emissions must be \(B, T, 3\), got \(4, 3\)"),
        ((torch.randn(2, 4, 5), tags, mask), r"emissions must be \(B, T, 3\), got \(2, 4, 5\)"),
        ((emissions, tags[:, :3], mask), r"tags must be \(B, T\) = \(2, 4\).*got \(2, 3\)"),
        ((emissions, tags.int(), mask), "tags must be torch.long"),
        ((emissions, tags, mask[:1]), r"mask must be \(B, T\) = \(2, 4\).*got \(1, 4\)"),
        ((emissions, tags, mask.byte()), "mask must be torch.bool"),
        ((emissions, tags, mask.index_fill(1, torch.tensor([0]), False)), "first timestep"),
    ]
    for args, message in bad:
        with pytest.raises(ValueError, match=message):
            crf.neg_log_likelihood(*args)
    with pytest.raises(ValueError, match="first timestep"):
        crf.viterbi(torch.randn(2, 0, 3), torch.ones(2, 0, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be torch.bool"):
        crf.viterbi(emissions, mask.float())


def test_models_saved_by_the_pytorch_crf_subclass_load_and_decode_alike(tmp_path) -> None:
    """Models saved before the CRF stood on its own hold pytorch-crf's parameter names (a
    ``torchcrf.CRF`` state dict) beside the masks: the new module loads such a safetensors file
    strictly and decodes as that CRF did, with the constraints (brute force)."""
    from safetensors.torch import load_file, save_file
    from torchcrf import CRF

    allowed = allowed_transitions(IOBES, "iobes")
    torch.manual_seed(5)
    old = CRF(len(IOBES), batch_first=True)
    with torch.no_grad():
        for param in old.parameters():
            param.normal_()
    state = dict(old.state_dict())
    masks = ConstrainedCRF(len(IOBES), allowed).state_dict()
    state |= {name: masks[name] for name in ("allowed_start", "allowed_pairs", "allowed_end")}
    save_file(state, tmp_path / "model.safetensors")

    crf = ConstrainedCRF(len(IOBES), allowed)
    crf.load_state_dict(load_file(tmp_path / "model.safetensors"))  # strict: same keys
    assert torch.equal(crf.transitions, old.transitions)
    gen = torch.Generator().manual_seed(5)
    lengths = [4, 1, 3]
    emissions, mask = random_batch(gen, len(IOBES), lengths)
    with torch.no_grad():
        tags = crf.viterbi(emissions.float(), mask)
    raw = [old.start_transitions, old.transitions, old.end_transitions]
    raw = [p.detach().double() for p in raw]
    for row, length in enumerate(lengths):
        best, _ = brute_best(emissions[row, :length], *raw, allowed)
        assert tags[row, :length].tolist() == best
