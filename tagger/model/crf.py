"""Linear-chain CRF: pytorch-crf's likelihood, plus transition constraints and batched Viterbi.

pytorch-crf 0.7.2 serves the training objective, but it has no way to forbid transitions (such
as ``O -> I-PER`` in IOB2), and its ``decode`` backtracks sentence by sentence in a Python loop.
So :class:`ConstrainedCRF` pins forbidden transitions at a large negative score through masked
views of pytorch-crf's own parameters, and :func:`viterbi` decodes the whole batch with tensor
operations (one Python step per time step, none per sentence).
"""

from __future__ import annotations

import torch
from torchcrf import CRF

NEG = -10000.0  # score of a forbidden transition: exp(NEG) underflows to 0 in float32

_MASKED = ("start_transitions", "transitions", "end_transitions")


class ConstrainedCRF(CRF):
    """pytorch-crf's CRF (``batch_first=True``) whose forbidden transitions score ``NEG``.

    Args:
        num_tags: number of labels K.
        allowed: ``(start_allowed[K], allowed[K][K], end_allowed[K])`` booleans, as returned by
            :func:`tagger.data.schemes.allowed_transitions`; ``None`` allows everything.

    The raw parameters keep pytorch-crf's names (and state_dict keys); reading
    ``self.transitions`` etc. returns the masked view, so pytorch-crf's likelihood and our Viterbi
    both honour the constraints, and forbidden entries get no gradient.
    """

    def __init__(self, num_tags: int, allowed: tuple | None = None) -> None:
        super().__init__(num_tags, batch_first=True)
        start, pairs, end = allowed or ([True] * num_tags, [[True] * num_tags] * num_tags, None)
        end = end if end is not None else [True] * num_tags
        self.register_buffer("allowed_start", torch.tensor(start, dtype=torch.bool))  # (K,)
        self.register_buffer("allowed_pairs", torch.tensor(pairs, dtype=torch.bool))  # (K, K)
        self.register_buffer("allowed_end", torch.tensor(end, dtype=torch.bool))  # (K,)

    def _masked(self, name: str, mask_name: str) -> torch.Tensor:
        raw = self._parameters.get(name)
        if raw is None:
            raise AttributeError(name)  # during pytorch-crf's __init__, before registration
        mask = self._buffers.get(mask_name)
        return raw if mask is None else raw.masked_fill(~mask, NEG)

    start_transitions = property(lambda self: self._masked("start_transitions", "allowed_start"))
    transitions = property(lambda self: self._masked("transitions", "allowed_pairs"))
    end_transitions = property(lambda self: self._masked("end_transitions", "allowed_end"))

    def reset_parameters(self) -> None:
        for name in _MASKED:
            torch.nn.init.uniform_(self._parameters[name], -0.1, 0.1)

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood over the batch.

        Shapes: emissions (B, T, K), tags (B, T) long, mask (B, T) bool with ``mask[:, 0]`` true.
        """
        return -self(emissions, tags, mask=mask, reduction="mean")

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag ids (B, T) for emissions (B, T, K) and a bool mask (B, T); 0 past the end."""
        return viterbi(
            emissions, mask, self.start_transitions, self.transitions, self.end_transitions
        )[0]


def viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    start: torch.Tensor,
    transitions: torch.Tensor,
    end: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Viterbi decoding.

    Args:
        emissions: (B, T, K) scores; mask: (B, T) bool, left-aligned, ``mask[:, 0]`` true.
        start: (K,), transitions: (K, K) from i to j, end: (K,).

    Returns:
        ``(tags, scores)``: (B, T) long best paths (0 where the mask is false) and (B,) their
        scores.
    """
    batch, length, _ = emissions.shape
    score = start + emissions[:, 0]  # (B, K)
    history = []
    for t in range(1, length):
        # (B, K, 1) + (K, K) + (B, 1, K) -> (B, K, K): best previous tag for each next tag
        best, index = (score.unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1)).max(1)
        score = torch.where(mask[:, t].unsqueeze(1), best, score)  # (B, K)
        history.append(index)  # (B, K)
    best_score, cur = (score + end).max(1)  # (B,), (B,)
    tags = torch.zeros(batch, length, dtype=torch.long, device=emissions.device)  # (B, T)
    for t in range(length - 1, 0, -1):
        valid = mask[:, t]  # (B,)
        prev = history[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1)  # (B,)
        tags[:, t] = torch.where(valid, cur, 0)
        cur = torch.where(valid, prev, cur)
    tags[:, 0] = cur
    return tags, best_score
