"""The BiLSTM encoder, run on padded batches without packing.

``pack_padded_sequence`` sends CPU LSTMs down a per-time-step path slower than the fused oneDNN
kernel that dense input gets (``docs/performance.md``, "Where the code's choices were measured").
So both directions run as one dense bidirectional ``torch.lstm`` call, and padding is made harmless
instead of skipped: an extra input channel, 1 on padding, meets a column of -1e4 in the input-gate
rows of both directions' input weights (zero elsewhere), so on padding the input gate is exactly 0
and a zero state stays exactly zero. The backward direction, which reads the padding first, thus
reaches each sentence's last token in its initial state, as if the sentence ran alone; on real
tokens the channel is 0 and changes nothing. (nn.LSTM has no per-sequence lengths short of
packing.) ONNX export traces the older form, and int8 modules (``tagger.quantize``) run it: two
one-way LSTMs, the backward one reading each sentence reversed within its length.
"""

from __future__ import annotations

import torch
from torch import nn

from tagger.model.dropout import Dropout
from tagger.model.grouping import Cost, cheapest_split


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each row of x (B, T, D); the rest is filler."""
    length = x.size(1)
    steps = torch.arange(length, device=x.device)  # (T,)
    index = (lengths.to(x.device).unsqueeze(1) - 1 - steps).clamp(min=0)  # (B, T)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.size(2)))  # (B, T, D)


CLOSED = -1e4  # input-gate pre-activation on padding: sigmoid(-1e4) is exactly 0 in float32


def _gate_column(weight: torch.Tensor) -> torch.Tensor:
    """(4H, D) input weights -> (4H, D + 1): a padding column, CLOSED in the input gate's rows
    (PyTorch's gate order is i, f, g, o) and 0 in the others."""
    column = weight.new_zeros(weight.size(0), 1)  # (4H, 1)
    column[: weight.size(0) // 4] = CLOSED
    return torch.cat([weight, column], 1)  # (4H, D + 1)


def _bidirectional(
    fwd: nn.LSTM, bwd: nn.LSTM, x: torch.Tensor, padding: torch.Tensor | None = None
) -> torch.Tensor:
    """x (B, T, D) -> (B, T, 2H): the two one-way LSTMs as one bidirectional LSTM call
    (``torch.lstm`` takes both directions' weights; ``nn.LSTM`` would need them in one module).
    ``padding`` (B, T), true after each sentence's end: see the module docstring."""
    w_fwd, w_bwd = fwd.weight_ih_l0, bwd.weight_ih_l0
    if padding is not None:
        x = torch.cat([x, padding.unsqueeze(2).to(x.dtype)], 2)  # (B, T, D + 1)
        w_fwd, w_bwd = _gate_column(w_fwd), _gate_column(w_bwd)
    weights = [w_fwd, fwd.weight_hh_l0, fwd.bias_ih_l0, fwd.bias_hh_l0]
    weights += [w_bwd, bwd.weight_hh_l0, bwd.bias_ih_l0, bwd.bias_hh_l0]
    zeros = x.new_zeros(2, x.size(0), fwd.hidden_size)  # (2, B, H) initial states
    out, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, fwd.training, True, True)
    return out  # (B, T, 2H)


class BiLSTM(nn.Module):
    """``num_layers`` bidirectional LSTM layers with dropout between them.

    Args:
        input_size: D, hidden_size: H per direction.
    Shapes: x (B, T, D), lengths (B,) -> (B, T, 2H); positions past a length hold filler.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
    ):
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
        self.forward_lstms = nn.ModuleList(nn.LSTM(s, hidden_size, batch_first=True) for s in sizes)
        self.backward_lstms = nn.ModuleList(
            nn.LSTM(s, hidden_size, batch_first=True) for s in sizes
        )
        self.dropout = Dropout(dropout)
        self.out_dim = 2 * hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, group: bool = True) -> torch.Tensor:
        """Rows of very different lengths (a batch of whole documents) run in groups of similar
        length (:func:`length_groups`), each padded only to its own longest row; ``group=False``
        runs one padded call (for callers that group rows themselves)."""
        grouping = group and not torch.jit.is_tracing()
        groups = length_groups(lengths.tolist()) if grouping else None
        if not groups:
            return self._run(x, lengths)
        length = x.size(1)
        parts, rows = [], []
        for index, width in groups:
            index = torch.tensor(index, device=x.device)  # (b,)
            out = self._run(x[index, :width], lengths[index])  # (b, width, 2H)
            parts.append(nn.functional.pad(out, (0, 0, 0, length - width)))  # (b, T, 2H)
            rows.append(index)
        back = torch.cat(rows).argsort()  # (B,) each row's place among the groups' rows
        return torch.cat(parts)[back]  # (B, T, 2H)

    def _run(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # one fused call needs float weights; export traces, and int8 (tagger.quantize) runs,
        # the two one-way LSTMs
        fused = not torch.jit.is_tracing() and isinstance(self.forward_lstms[0], nn.LSTM)
        padding = None
        if fused and not bool((lengths == x.size(1)).all()):
            steps = torch.arange(x.size(1), device=x.device)  # (T,)
            padding = steps >= lengths.to(x.device).unsqueeze(1)  # (B, T)
        for layer, (fwd, bwd) in enumerate(zip(self.forward_lstms, self.backward_lstms)):
            if layer:
                x = self.dropout(x)
            if fused:
                x = _bidirectional(fwd, bwd, x, padding)  # (B, T, 2H)
                continue
            ahead, _ = fwd(x)  # (B, T, H)
            behind, _ = bwd(reverse_within_length(x, lengths))  # (B, T, H), reversed order
            x = torch.cat([ahead, reverse_within_length(behind, lengths)], dim=2)  # (B, T, 2H)
        return x


WORD_COST = Cost(call=0.0, step=8.0)  # a BiLSTM time step costs about as much as 8 more rows
# in it (H=256, CPU; a rough estimate, not tuned)


def length_groups(
    lengths: list[int], max_relative_cost: float = 0.7
) -> list[tuple[list[int], int]] | None:
    """Split rows into groups of similar length when that saves enough LSTM work.

    Returns ``(row indices, width)`` per group (:func:`tagger.model.grouping.cheapest_split`
    under ``WORD_COST``), or None when the split would cost more than ``max_relative_cost`` times
    one padded call (sentence-bucketed batches: one call keeps one shape, whose oneDNN kernel is
    cached).
    """
    single = WORD_COST.of(len(lengths), max(lengths, default=0))
    if len(lengths) < 2 or sum(lengths) > max_relative_cost * single:  # no split is cheaper
        return None
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups, total = cheapest_split([lengths[i] for i in order], WORD_COST)
    if total > max_relative_cost * single:
        return None
    return [(order[begin:end], width) for begin, end, width in groups]
