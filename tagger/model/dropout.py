"""Dropout that is cheaper on CPU than ``nn.Dropout``.

``torch.nn.functional.dropout`` on CPU draws its mask with ``bernoulli_``, one generator call per
element; ``rand_like(x) >= p`` draws the same distribution (keep with probability 1 - p, scale
kept values by 1 / (1 - p)) faster (``docs/performance.md``, "Where the code's choices were
measured"). On GPU the fused kernel is used.
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Module):
    """Drop-in replacement for :class:`torch.nn.Dropout` (no parameters, same state dict)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        keep = torch.rand_like(x) >= self.p  # same shape as x, true with probability 1 - p
        return x * keep * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
