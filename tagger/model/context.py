"""The layers between the BiLSTM and the CRF (``model.attention``): their one interface, the
document scope, and the recurrent layer among them.

A :class:`ContextLayer` maps token states ``x`` (B, T, D) and a bool ``mask`` (B, T) (true on
real tokens) to new states (B, T, D) plus weights for inspection (or None), adds its output to
its input and normalises (LayerNorm). At ``scope: document`` it reads each document of the batch
(``docs``: each sentence's document id) as one sequence, regrouped by :func:`by_document`. The
attention layers (:mod:`tagger.model.attention`) are context layers, and so is
:class:`ContextBiLSTM`, ``{type: bilstm, scope: sentence, hidden: null}``: another BiLSTM, so that
BiLSTM -> label -> BiLSTM -> label can be stacked; ``scope: document`` runs it over each
document's sentences as one sequence. ``hidden``: units per direction (default D/2), projected
back to D.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tagger.errors import TaggerError
from tagger.model.dropout import Dropout
from tagger.model.encoder import BiLSTM


class ContextLayer(nn.Module):
    """Interface: ``forward(x, mask, docs=None) -> (states, weights)``; residual and LayerNorm
    inside. ``docs`` (B,): each sentence's document id, for layers that look across sentences."""

    document_level = False  # whether the layer wants batches of whole documents

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.dropout = Dropout(dropout)

    def residual(self, x: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(update))  # (B, T, D)

    def set_scope(self, scope: str) -> None:
        """``sentence`` or ``document``: whether tokens attend over their document's tokens."""
        if scope not in ("sentence", "document"):
            kind = type(self).__name__
            raise TaggerError(f"model.attention: {kind} scope must be sentence or document")
        self.document_level = scope == "document"

    def scoped(
        self,
        attend: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]],
        x: torch.Tensor,
        mask: torch.Tensor,
        docs: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attend(x, mask) -> (update, weights)`` over each sentence or, at document scope,
        over each document of the batch (weights then (G, L, L) over the G documents)."""
        if not self.document_level or docs is None:
            return attend(x, mask)
        packed, packed_mask, places = by_document(x, mask, docs)  # (G, L, D), (G, L)
        update, weights = attend(packed, packed_mask)
        return from_documents(update, places, mask), weights

    def forward(  # pragma: no cover - interface
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError


def by_document(
    x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """Regroup the real tokens of x (B, T, D) by document: (G, L, D) states of the G documents
    of the batch (L: the longest one's tokens), their (G, L) mask, and where each token went."""
    width = x.size(1)
    _, doc_of_row = torch.unique(docs, return_inverse=True)  # (B,) in 0..G-1
    token_doc = doc_of_row.unsqueeze(1).expand(-1, width)[mask]  # (N,) real tokens, row-major
    order = torch.argsort(token_doc, stable=True)  # (N,) tokens grouped by document
    counts = torch.bincount(token_doc)  # (G,)
    doc = token_doc[order]  # (N,)
    slot = torch.arange(order.numel(), device=x.device) - (counts.cumsum(0) - counts)[doc]
    packed = x.new_zeros(counts.numel(), int(counts.max()), x.size(2))  # (G, L, D)
    packed[doc, slot] = x[mask][order]
    packed_mask = torch.zeros(packed.shape[:2], dtype=torch.bool, device=x.device)  # (G, L)
    packed_mask[doc, slot] = True
    return packed, packed_mask, (doc, slot, order)


def from_documents(
    packed: torch.Tensor, places: tuple[torch.Tensor, ...], mask: torch.Tensor
) -> torch.Tensor:
    """Inverse of :func:`by_document`: (G, L, D) back to (B, T, D), zeros on padding."""
    doc, slot, order = places
    flat = torch.empty_like(packed[doc, slot])  # (N, D)
    flat[order] = packed[doc, slot]
    out = packed.new_zeros(*mask.shape, packed.size(2))  # (B, T, D)
    out[mask] = flat
    return out


class ContextBiLSTM(ContextLayer):
    """A BiLSTM inside the stack; residual and LayerNorm too. With ``scope="document"`` it reads
    each document's sentences as one sequence, so that a token's state carries the neighbouring
    sentences (Strubell et al. 2017's document-level tagger).

    ``hidden`` units per direction (default D/2; then no projection); other sizes are mapped
    back to D by a linear layer. At document scope the layer runs few, long rows, so a small
    ``hidden`` saves much of its cost (``bench/document_cost.py``, ``docs/performance.md``).
    """

    def __init__(
        self, dim: int, dropout: float = 0.1, scope: str = "sentence", hidden: int | None = None
    ) -> None:
        super().__init__(dim, dropout)
        if hidden is None and dim % 2:
            raise TaggerError("model.attention: a bilstm layer needs an even state size")
        self.set_scope(scope)
        self.lstm = BiLSTM(dim, hidden or dim // 2)
        self.project = nn.Linear(2 * hidden, dim) if hidden else None

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, docs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, None]:
        update, _ = self.scoped(self._run, x, mask, docs)
        return self.residual(x, update), None

    def _run(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        """x (B, T, D), mask (B, T) -> states (B, T, D); padding stays out of real tokens."""
        states = self.lstm(x, mask.sum(1))  # (B, T, 2H)
        return (states if self.project is None else self.project(states)), None
