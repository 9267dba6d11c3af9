"""The attention layers between the BiLSTM and the CRF, and the registry of all such layers.

Each is a :class:`tagger.model.context.ContextLayer` (one interface: states and mask in, states
and weights for inspection out, residual and LayerNorm inside) and never attends to padding;
its weights are (B, T, T), (B, T, L) for label attention, or None. The config's
``model.attention`` list picks layers from :data:`LAYERS`, in order:

- ``{type: global, size: 64, scope: sentence}``: additive (Bahdanau) attention of each token over
  its sentence or, with ``scope: document``, over every token of its document (sentences between
  ``-DOCSTART-`` lines; batches then hold whole documents, cut at ``train.batch_size`` sentences).
- ``{type: local, window: 5, gaussian: true}``: dot-product attention within +-window tokens,
  optionally with a learned Gaussian preference for near positions.
- ``{type: multihead, heads: 4, position: relative, scope: sentence}``: scaled dot-product
  self-attention with ``none``, ``absolute`` (sinusoidal) or ``relative`` (learned per-head
  distance bias) positions; ``scope: document`` as for global attention, at matrix-multiply
  cost instead of the additive score's (T^2 * size) elementwise tanh.
- ``{type: label, labels: null}``: each token attends over learned label embeddings (label
  attention network); as the last layer its attention logits are added to the CRF's emissions.
- ``{type: bilstm, ...}``: not attention but a recurrent context layer, listed here so that it
  stacks with them (:class:`tagger.model.context.ContextBiLSTM`).

Costs per sentence of T tokens and size D: global O(T^2 * size) time, O(T * size) memory (queries
in blocks); local O(T * window * D); multihead O(T^2 * D) time, O(heads * T^2) memory; label
O(T * L * D).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from tagger.errors import TaggerError
from tagger.model.context import ContextBiLSTM, ContextLayer
from tagger.model.dropout import Dropout

NEG = -1e4  # pre-softmax score of a masked position


class GlobalAttention(ContextLayer):
    """Additive attention: score(i, j) = v . tanh(W_q h_i + W_k h_j) over the whole sentence, or
    with ``scope="document"`` over every token of the sentence's document in the batch."""

    def __init__(
        self,
        dim: int,
        size: int = 64,
        dropout: float = 0.1,
        block: int = 1 << 22,
        scope: str = "sentence",
    ):
        super().__init__(dim, dropout)
        self.set_scope(scope)
        self.query = nn.Linear(dim, size)
        self.key = nn.Linear(dim, size, bias=False)
        self.v = nn.Linear(size, 1, bias=False)
        self.out = nn.Linear(dim, dim)
        self.block = block  # elements of the (queries, T, size) tensor built at once

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        update, weights = self.scoped(self._attend, x, mask, docs)
        return self.residual(x, update), weights

    def _attend(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) -> the attention output (B, T, D) and weights (B, T, T)."""
        q, k = self.query(x), self.key(x)  # (B, T, S)
        batch, length, size = q.shape
        step = max(1, self.block // max(1, batch * length * size))
        parts = []
        for start in range(0, length, step):  # queries in blocks: memory O(step * T * S)
            qb = q[:, start : start + step].unsqueeze(2)  # (B, q, 1, S)
            parts.append(self.v(torch.tanh(qb + k.unsqueeze(1))).squeeze(3))  # (B, q, T)
        scores = torch.cat(parts, dim=1).masked_fill(~mask.unsqueeze(1), NEG)  # (B, T, T)
        weights = scores.softmax(-1)
        return self.out(weights @ x), weights


BANDED_ABOVE = 128  # local attention: sentences longer than this use the windowed path


class LocalAttention(ContextLayer):
    """Dot-product attention restricted to +-``window`` tokens, never across a sentence edge.

    With ``gaussian``, scores get ``-(i - j)^2 / (2 sigma^2)`` with a learned sigma.
    """

    def __init__(self, dim: int, window: int = 5, gaussian: bool = True, dropout: float = 0.1):
        super().__init__(dim, dropout)
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(window / 2 + 1))) if gaussian else None

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # (B, T, D) each
        banded = x.size(1) <= BANDED_ABOVE
        context, weights = (self._dense_band if banded else self._windows)(q, k, v, mask)
        return self.residual(x, self.out(context)), weights

    def _dense_band(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Short sentences: full (B, T, T) scores by matrix products, masked to the band
        |i - j| <= window. T^2 work instead of T * span, but in two batched matrix products,
        which beat the windowed path's many tiny ones for all but long sentences."""
        length, dim = q.size(1), q.size(2)
        scores = q @ k.transpose(1, 2) / math.sqrt(dim)  # (B, T, T)
        pos = torch.arange(length, device=q.device)
        offset = pos.unsqueeze(0) - pos.unsqueeze(1)  # (T, T): j - i
        if self.log_sigma is not None:
            scores = scores - offset.float().pow(2) / (2 * self.log_sigma.exp().pow(2))
        allowed = (offset.abs() <= self.window) & mask.unsqueeze(1)  # (B, T, T)
        weights = scores.masked_fill(~allowed, NEG).softmax(-1)  # (B, T, T)
        return weights @ v, None if self.training else weights  # (B, T, D)

    def _windows(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Long sentences: scores only within each token's window, O(T * span) memory."""
        length, dim = q.size(1), q.size(2)
        w, span = self.window, 2 * self.window + 1
        pad = (0, 0, w, w)
        k_win = nn.functional.pad(k, pad).unfold(1, span, 1)  # (B, T, D, span)
        v_win = nn.functional.pad(v, pad).unfold(1, span, 1)  # (B, T, D, span)
        scores = torch.einsum("btd,btds->bts", q, k_win) / math.sqrt(dim)  # (B, T, span)
        offsets = torch.arange(-w, w + 1, device=q.device)  # (span,)
        if self.log_sigma is not None:
            scores = scores - offsets.float().pow(2) / (2 * self.log_sigma.exp().pow(2))
        keys = torch.arange(length, device=q.device).unsqueeze(1) + offsets  # (T, span)
        inside = (keys >= 0) & (keys < length)  # (T, span)
        key_ok = nn.functional.pad(mask, (w, w)).unfold(1, span, 1)  # (B, T, span)
        weights = scores.masked_fill(~(inside & key_ok), NEG).softmax(-1)  # (B, T, span)
        context = torch.einsum("bts,btds->btd", weights, v_win)  # (B, T, D)
        return context, self._dense(weights, length)  # (B, T, D), (B, T, T) or None

    def _dense(self, weights: torch.Tensor, length: int) -> torch.Tensor | None:
        """(B, T, T) weights for inspection (eval only)."""
        if self.training:
            return None
        w = self.window
        dense = weights.new_zeros(weights.size(0), length, length + 2 * w)
        for offset in range(2 * w + 1):  # diagonal bands
            rows = torch.arange(length, device=weights.device)
            dense[:, rows, rows + offset] = weights[:, :, offset]
        return dense[:, :, w : w + length]


class MultiHeadSelfAttention(ContextLayer):
    """Scaled dot-product self-attention with ``heads`` heads and position information.

    ``position``: ``none``, ``absolute`` (sinusoidal encodings added to queries and keys) or
    ``relative`` (a learned bias per head and clipped distance, added to the scores). The
    parameters live in a ``torch.nn.MultiheadAttention`` (``attn``), but the attention is
    computed here, with every shape taken from the input: the fused inference kernel and the
    traced module of ``nn.MultiheadAttention`` bake the sentence length into ONNX exports.
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        dropout: float = 0.1,
        position: str = "none",
        max_distance: int = 16,
        scope: str = "sentence",
    ) -> None:
        super().__init__(dim, dropout)
        self.set_scope(scope)
        if dim % heads:
            raise TaggerError(f"model.attention: multihead heads={heads} must divide size {dim}")
        if position not in ("none", "absolute", "relative"):
            raise TaggerError("model.attention: position must be none, absolute or relative")
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_dropout = Dropout(dropout)
        self.heads, self.position, self.max_distance = heads, position, max_distance
        self.int8_proj: nn.ModuleList | None = None  # q, k, v in int8, set by tagger.quantize
        if position == "relative":
            self.distance_bias = nn.Embedding(2 * max_distance + 1, heads)
            nn.init.zeros_(self.distance_bias.weight)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        update, weights = self.scoped(self._attend, x, mask, docs)
        return self.residual(x, update), weights

    def _attend(
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, D) -> the attention output (B, T, D) and, in eval mode, the weights
        (B, T, T) averaged over heads."""
        batch, length, dim = x.shape
        heads, size = self.heads, dim // self.heads
        qk = x + sinusoid(length, dim, x.device) if self.position == "absolute" else x
        if self.int8_proj is None:
            w, b = self.attn.in_proj_weight, self.attn.in_proj_bias
            q = nn.functional.linear(qk, w[:dim], b[:dim])  # (B, T, D)
            k = nn.functional.linear(qk, w[dim : 2 * dim], b[dim : 2 * dim])  # (B, T, D)
            v = nn.functional.linear(x, w[2 * dim :], b[2 * dim :])  # (B, T, D)
        else:
            q, k, v = (proj(t) for proj, t in zip(self.int8_proj, (qk, qk, x)))  # (B, T, D)
        q, k, v = (t.reshape(batch, -1, heads, size).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(2, 3) / math.sqrt(size)  # (B, H, T, T)
        if self.position == "relative":
            pos = torch.arange(length, device=x.device)
            dist = (pos.unsqueeze(0) - pos.unsqueeze(1)).clamp(
                -self.max_distance, self.max_distance
            )
            scores = scores + self.distance_bias(dist + self.max_distance).permute(2, 0, 1)
        scores = scores.masked_fill(~mask.view(batch, 1, 1, -1), NEG)
        weights = scores.softmax(-1)  # (B, H, T, T)
        out = (self.attn_dropout(weights) @ v).transpose(1, 2).reshape(batch, -1, dim)
        shown = None if self.training else weights.mean(1)  # (B, T, T), averaged over heads
        return self.attn.out_proj(out), shown


def sinusoid(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(T, D) sinusoidal position encodings (Vaswani et al. 2017)."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    rate = torch.exp(torch.arange(0, dim, 2, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * rate)
    table[:, 1::2] = torch.cos(pos * rate[: dim // 2])
    return table


class LabelAttention(ContextLayer):
    """Each token attends over L learned label embeddings (Cui & Zhang 2019).

    ``labels`` defaults to the number of tags; the (B, T, L) attention logits are kept in
    ``self.logits`` so that, as the last layer, they feed the CRF's emission scores.
    """

    def __init__(self, dim: int, labels: int | None = None, dropout: float = 0.1, tags: int = 0):
        super().__init__(dim, dropout)
        count = labels or tags
        if count < 1:
            raise TaggerError("model.attention: label attention needs labels >= 1")
        self.labels = nn.Parameter(torch.randn(count, dim) / math.sqrt(dim))  # (L, D)
        self.query = nn.Linear(dim, dim)
        self.logits: torch.Tensor | None = None

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.logits = self.query(x) @ self.labels.t() / math.sqrt(x.size(-1))  # (B, T, L)
        weights = self.logits.softmax(-1)  # (B, T, L)
        return self.residual(x, weights @ self.labels), weights


LAYERS: dict[str, type[ContextLayer]] = {
    "global": GlobalAttention,
    "local": LocalAttention,
    "multihead": MultiHeadSelfAttention,
    "label": LabelAttention,
    "bilstm": ContextBiLSTM,
}


def build_attention(specs: list[dict[str, Any]], dim: int, tags: int = 0) -> nn.ModuleList:
    """Build the stack of layers described by ``model.attention`` (a list of mappings)."""
    layers = nn.ModuleList()
    for i, spec in enumerate(specs):
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind not in LAYERS:
            choices = ", ".join(LAYERS)
            raise TaggerError(f"model.attention[{i}].type: expected one of {choices}, got {kind!r}")
        if kind == "label":
            spec["tags"] = tags
        try:
            layers.append(LAYERS[kind](dim, **spec))
        except TypeError as exc:
            raise TaggerError(f"model.attention[{i}]: {exc}") from None
    return layers
