"""Attention layers between the BiLSTM and the CRF, all with one interface.

Every layer maps token states ``x`` (B, T, D) and a bool ``mask`` (B, T) (true on real tokens)
to new states (B, T, D) and its attention weights (for inspection), and never attends to padding.
Layers are built from the config's ``model.attention`` list, e.g. ``[{type: multihead, heads: 4}]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tagger.errors import TaggerError


class AttentionLayer(nn.Module):
    """Interface: ``forward(x, mask) -> (states, weights)``; residual and layer norm inside."""

    def forward(  # pragma: no cover - interface
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class MultiHeadSelfAttention(AttentionLayer):
    """Scaled dot-product self-attention with ``heads`` heads, residual connection and LayerNorm.

    Uses ``torch.nn.MultiheadAttention`` (fused kernels) with a key padding mask.
    Cost: O(T^2 * D) time and O(heads * T^2) memory per sentence.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % heads:
            raise TaggerError(f"model.attention: multihead heads={heads} must divide size {dim}")
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, weights = self.attn(x, x, x, key_padding_mask=~mask, need_weights=not self.training)
        return self.norm(x + self.dropout(out)), weights  # (B, T, D), (B, T, T) or None


LAYERS: dict[str, type[AttentionLayer]] = {"multihead": MultiHeadSelfAttention}


def build_attention(specs: list[dict[str, Any]], dim: int) -> nn.ModuleList:
    """Build the stack of layers described by ``model.attention`` (a list of mappings)."""
    layers = nn.ModuleList()
    for i, spec in enumerate(specs):
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind not in LAYERS:
            choices = ", ".join(LAYERS)
            raise TaggerError(f"model.attention[{i}].type: expected one of {choices}, got {kind!r}")
        try:
            layers.append(LAYERS[kind](dim, **spec))
        except TypeError as exc:
            raise TaggerError(f"model.attention[{i}]: {exc}") from None
    return layers
