"""Linear-chain CRF: transition scores with tag-scheme constraints, and batched algorithms.

:class:`ConstrainedCRF` is a plain module holding the parameters (pytorch-crf's names, so models
saved when it subclassed ``torchcrf.CRF`` load unchanged) and the allowed-transition masks; it
validates its inputs and calls the pure functions beside it, which take emissions, a mask and a
:class:`Transitions`. Hand-written rather than pytorch-crf's: that one cannot forbid transitions
(``O -> I-PER`` in IOB2), has no n-best decoding or marginals, and loops in Python over time steps
for the gold path and over sentences when decoding (``docs/performance.md``, "Where the code's
choices were measured").
pytorch-crf stays the reference in tests (``tests/test_crf.py``).
The training objective is :func:`path_score` (whole-batch gathers) minus :func:`log_partition`
(the forward algorithm, rescaled in probability space, on the constrained transitions).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

NEG = -10000.0  # score of a forbidden transition: exp(NEG) underflows to 0 in float32


class Transitions(NamedTuple):
    """A CRF's transition scores: ``start`` (K,), ``pairs`` (K, K) from tag i to tag j,
    ``end`` (K,)."""

    start: torch.Tensor
    pairs: torch.Tensor
    end: torch.Tensor


class ConstrainedCRF(nn.Module):
    """A CRF over K tags whose forbidden transitions score ``NEG``.

    Args:
        num_tags: number of labels K.
        allowed: ``(start_allowed[K], allowed[K][K], end_allowed[K])`` booleans, as returned by
            :func:`tagger.data.schemes.allowed_transitions`; ``None`` allows everything.

    The parameters ``start_transitions`` (K,), ``transitions`` (K, K) and ``end_transitions``
    (K,) are the raw scores; :meth:`parameters_masked` applies the constraints, so that
    forbidden entries get no gradient. Inputs are batch-first: emissions (B, T, K), tags (B, T)
    long, mask (B, T) bool, left-aligned, with ``mask[:, 0]`` true.
    """

    def __init__(self, num_tags: int, allowed: tuple | None = None) -> None:
        super().__init__()
        if num_tags <= 0:
            raise ValueError(f"invalid number of tags: {num_tags}")
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.reset_parameters()
        start, pairs, end = allowed or ([True] * num_tags, [[True] * num_tags] * num_tags, None)
        end = end if end is not None else [True] * num_tags
        self.register_buffer("allowed_start", torch.tensor(start, dtype=torch.bool))  # (K,)
        self.register_buffer("allowed_pairs", torch.tensor(pairs, dtype=torch.bool))  # (K, K)
        self.register_buffer("allowed_end", torch.tensor(end, dtype=torch.bool))  # (K,)

    def reset_parameters(self) -> None:
        """Uniform in [-0.1, 0.1], as pytorch-crf (and in its order of draws)."""
        for param in (self.start_transitions, self.transitions, self.end_transitions):
            nn.init.uniform_(param, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def parameters_masked(self) -> Transitions:
        """The transition scores with the constraints applied (forbidden entries ``NEG``)."""
        return Transitions(
            self.start_transitions.masked_fill(~self.allowed_start, NEG),
            self.transitions.masked_fill(~self.allowed_pairs, NEG),
            self.end_transitions.masked_fill(~self.allowed_end, NEG),
        )

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood over the batch: log Z minus the gold path's score.

        Equal to pytorch-crf's ``-crf(emissions, tags, mask, reduction="mean")`` on the
        constrained scores.
        """
        self._validate(emissions, mask, tags)
        trans = self.parameters_masked()
        gold = path_score(emissions, tags, mask, trans)  # (B,)
        return (log_partition(emissions, mask, trans) - gold).mean()

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag ids (B, T) for emissions (B, T, K) and a bool mask (B, T); 0 past the end."""
        self._validate(emissions, mask)
        return viterbi(emissions, mask, self.parameters_masked())[0]

    def _validate(
        self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor | None = None
    ) -> None:
        """Raise ``ValueError`` for inputs the algorithms would misread (pytorch-crf's checks)."""
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            shape = tuple(emissions.shape)
            raise ValueError(f"emissions must be (B, T, {self.num_tags}), got {shape}")
        if tags is not None and tags.shape != emissions.shape[:2]:
            shape, want = tuple(tags.shape), tuple(emissions.shape[:2])
            raise ValueError(f"tags must be (B, T) = {want} like the emissions, got {shape}")
        if tags is not None and tags.dtype != torch.long:
            raise ValueError(f"tags must be torch.long, got {tags.dtype}")
        if mask.shape != emissions.shape[:2]:
            shape, want = tuple(mask.shape), tuple(emissions.shape[:2])
            raise ValueError(f"mask must be (B, T) = {want} like the emissions, got {shape}")
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be torch.bool, got {mask.dtype}")
        if emissions.size(1) == 0 or not bool(mask[:, 0].all()):
            raise ValueError("the first timestep of every sentence must be on in the mask")


def viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Viterbi decoding (TorchScript-compatible: ONNX export scripts it into a loop).

    Args:
        emissions: (B, T, K) scores; mask: (B, T) bool, left-aligned, ``mask[:, 0]`` true.
        trans: the transition scores (:meth:`ConstrainedCRF.parameters_masked`).

    Returns:
        ``(tags, scores)``: (B, T) long best paths (0 where the mask is false) and (B,) their
        scores.
    """
    batch, length, tags_n = emissions.size(0), emissions.size(1), emissions.size(2)
    start, pairs, end = trans.start, trans.pairs, trans.end
    score = start + emissions[:, 0]  # (B, K)
    history = torch.zeros(length, batch, tags_n, dtype=torch.long, device=emissions.device)
    for t in range(1, length):
        # (B, K, 1) + (K, K) + (B, 1, K) -> (B, K, K): best previous tag for each next tag
        best, index = (score.unsqueeze(2) + pairs + emissions[:, t].unsqueeze(1)).max(1)
        score = torch.where(mask[:, t].unsqueeze(1), best, score)  # (B, K)
        history[t] = index  # (B, K)
    best_score, cur = (score + end).max(1)  # (B,), (B,)
    tags = torch.zeros(length, batch, dtype=torch.long, device=emissions.device)  # (T, B)
    for step in range(1, length):
        t = length - step
        valid = mask[:, t]  # (B,)
        prev = history[t].gather(1, cur.unsqueeze(1)).squeeze(1)  # (B,)
        tags[t] = torch.where(valid, cur, torch.zeros_like(cur))
        cur = torch.where(valid, prev, cur)
    tags[0] = cur
    return tags.t(), best_score


def viterbi_unpacked(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    start: torch.Tensor,
    pairs: torch.Tensor,
    end: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`viterbi` with the transition scores as three tensors: the form in which a traced
    graph (ONNX export) can call it scripted, since tracing flattens a NamedTuple."""
    return viterbi(emissions, mask, Transitions(start, pairs, end))


def nbest_viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best paths of each sentence, batched (pytorch-crf has no n-best decoding).

    Keeps the k best partial paths ending in each tag: a (B, K, k) score table, extended one
    position at a time with a top-k over the K * k predecessors.

    Returns ``(tags, scores)``: (B, k, T) long and (B, k), best first. Where a sentence has fewer
    than k paths, the surplus ones score ``-inf``.
    """
    batch, length, tags_n = emissions.shape
    start, pairs, end = trans
    neg_inf = torch.finfo(emissions.dtype).min
    score = emissions.new_full((batch, tags_n, k), neg_inf)  # (B, K, k)
    score[:, :, 0] = start + emissions[:, 0]
    history = []
    for t in range(1, length):
        # (B, K*k, 1) + (K*k, K) + (B, 1, K): every (previous tag, rank) -> next tag
        step = pairs.repeat_interleave(k, dim=0)  # (K*k, K)
        cand = score.reshape(batch, tags_n * k, 1) + step + emissions[:, t].unsqueeze(1)
        best, index = cand.topk(k, dim=1)  # (B, k, K): ranks over predecessors
        best, index = best.transpose(1, 2), index.transpose(1, 2)  # (B, K, k)
        keep = mask[:, t].view(batch, 1, 1)
        same = torch.arange(tags_n * k, device=emissions.device).view(1, tags_n, k)
        score = torch.where(keep, best, score)  # (B, K, k)
        history.append(torch.where(keep, index, same))  # (B, K, k) into K*k
    final, state = (score + end.view(1, tags_n, 1)).reshape(batch, -1).topk(k, dim=1)  # (B, k)
    out = torch.zeros(batch, k, length, dtype=torch.long, device=emissions.device)  # (B, k, T)
    for t in range(length - 1, 0, -1):
        out[:, :, t] = torch.where(mask[:, t].unsqueeze(1), state // k, 0)
        state = history[t - 1].reshape(batch, -1).gather(1, state)  # (B, k)
    out[:, :, 0] = state // k
    final = torch.where(final < NEG / 2, torch.full_like(final, float("-inf")), final)
    return out, final


def path_score(
    emissions: torch.Tensor,
    tags: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> torch.Tensor:
    """Score (B,) of the paths ``tags`` (B, T) under emissions (B, T, K) and a bool mask (B, T)
    (left-aligned, ``mask[:, 0]`` true); tags past a sentence's end are ignored."""
    start, pairs, end = trans
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
    moved = pairs[tags[:, :-1], tags[:, 1:]]  # (B, T - 1)
    last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (B,) each final tag
    score = start[tags[:, 0]] + end[last]  # (B,)
    score = score + emitted.masked_fill(~mask, 0.0).sum(1)
    return score + moved.masked_fill(~mask[:, 1:], 0.0).sum(1)  # (B,)


def log_partition(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> torch.Tensor:
    """log Z (B,) by the forward algorithm, for emissions (B, T, K) and a bool mask (B, T).

    Not pytorch-crf's normalizer (the log-space recursion, kept here as
    :func:`_log_space_forward`): it runs several small operations per time step, a cost that shows
    on CPU (``docs/performance.md``, "Where the code's choices were measured").
    :func:`_scaled_forward` runs the recursion in probability space, rescaled at every step
    (Rabiner 1989): one (B, K) x (K, K) product per step. Should a step underflow all the same
    (every path of a row e^-87 less likely than at the step before), the batch falls back to the
    log-space recursion. Runs in at least float32, outside autocast (bf16 products would lose
    the score's precision).
    """
    with torch.autocast(emissions.device.type, enabled=False):
        if emissions.dtype in (torch.float16, torch.bfloat16):
            emissions = emissions.float()
        log_z, safe = _scaled_forward(emissions, mask, trans)
        if bool(safe):
            return log_z
        return _log_space_forward(emissions, mask, trans)


def _scaled_forward(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log Z (B,), whether no step underflowed): each step's forward vector is rescaled to sum
    1 and the log of the scale kept aside. The shifts (each step's top emission, the top
    transition) cancel out of log Z exactly, so they carry no gradient."""
    start, pairs, end = trans
    peak = emissions.detach().amax(2, keepdim=True)  # (B, T, 1)
    padding = ~mask.unsqueeze(2)  # (B, T, 1)
    probs = (emissions - peak).exp().masked_fill(padding, 1.0)  # (B, T, K) in [0, 1]
    top = pairs.detach().max()
    moves = (pairs - top).exp()  # (K, K) in [0, 1]; forbidden ones exactly 0
    first = start + emissions[:, 0]  # (B, K)
    shift = first.detach().amax(1, keepdim=True)  # (B, 1)
    alpha = (first - shift).exp()  # (B, K)
    alphas, scales = [alpha], []
    for step in probs.unbind(1)[1:]:
        nxt = (alpha @ moves) * step  # (B, K)
        total = nxt.sum(1, keepdim=True)  # (B, 1)
        alpha = nxt / total  # (B, K) sums to 1
        alphas.append(alpha)
        scales.append(total)
    lengths = mask.sum(1)  # (B,)
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, alpha.size(1))  # (B, 1, K)
    last = torch.stack(alphas, 1).gather(1, index).squeeze(1)  # (B, K) each row's last step
    tail = end.detach().max()
    log_z = (last * (end - tail).exp()).sum(1).log() + tail + shift.squeeze(1)  # (B,)
    log_z = log_z + (peak.squeeze(2)[:, 1:] + top).masked_fill(~mask[:, 1:], 0.0).sum(1)
    if not scales:
        return log_z, torch.isfinite(log_z).all()
    scale = torch.cat(scales, 1)  # (B, T - 1)
    safe = (scale > 0).all() & torch.isfinite(log_z).all()
    return log_z + scale.log().masked_fill(~mask[:, 1:], 0.0).sum(1), safe


def _log_space_forward(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> torch.Tensor:
    """log Z (B,) by pytorch-crf's log-space recursion (robust to any score range)."""
    start, pairs, end = trans
    alpha = start + emissions[:, 0]  # (B, K)
    for t in range(1, emissions.size(1)):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + pairs, dim=1) + emissions[:, t]  # (B, K)
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def marginals(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    trans: Transitions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token posteriors p(y_t = j | x) (B, T, K) and log Z (B,).

    The gradient of log Z with respect to the emissions is exactly what the forward-backward
    algorithm computes (the expected tag indicators), so one backward pass through
    :func:`log_partition` gives the true marginals, batched, with the constraints included.
    Positions past a sentence's end get 0.
    """
    with torch.enable_grad():
        leaf = emissions.detach().requires_grad_(True)
        log_z = log_partition(leaf, mask, Transitions._make(s.detach() for s in trans))
        (grad,) = torch.autograd.grad(log_z.sum(), leaf)
    return grad * mask.unsqueeze(2), log_z.detach()
