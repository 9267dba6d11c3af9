"""int8 dynamic quantisation of a network for tagging on CPU (``--quantize int8``).

``torch.ao.quantization.quantize_dynamic`` swaps every ``nn.LSTM`` and ``nn.Linear`` for a module
that keeps int8 weights and quantises each input on the fly. It reaches the BiLSTMs (word, char
and ``bilstm`` context layers; :class:`tagger.model.encoder.BiLSTM` then runs each direction as
its own call, as the fused float call needs float weights), the emission layer, the attention
layers' linear layers, and (by hand: they are tensors, not modules) the query, key and value
projections of multi-head attention; not the character CNN, the embeddings, the attention scores
or the CRF, which stay float32.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from tagger.errors import TaggerError
from tagger.model.attention import MultiHeadSelfAttention

CHOICES = ("none", "int8")


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`CHOICES`, else a TaggerError naming the option."""
    if mode not in CHOICES:
        raise TaggerError(f"quantize: unknown value {mode!r} (choose from {', '.join(CHOICES)})")
    return mode


def quantize_network(network: nn.Module, mode: str) -> nn.Module:
    """The network ready to tag in ``mode`` (``none``: unchanged; ``int8``: its LSTMs and
    linear layers quantised, in place, evaluation mode). CPU only."""
    if check_mode(mode) == "none":
        return network
    device = next(network.parameters()).device
    if device.type != "cpu":
        raise TaggerError(f"quantize: int8 runs on the CPU only (the model is on {device})")
    engines = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine == "none":  # pick the build's engine (fbgemm, qnnpack)
        usable = [e for e in engines if e != "none"]
        if not usable:
            raise TaggerError("quantize: this torch build has no int8 engine")
        torch.backends.quantized.engine = usable[0]
    network.eval()
    # MultiHeadSelfAttention calls its out_proj as a module, so it may be quantised too
    spec: Any = {nn.LSTM, nn.Linear, nn.modules.linear.NonDynamicallyQuantizableLinear}
    with warnings.catch_warnings():  # torch marks torch.ao deprecated (torchao replaces it)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        for layer in network.modules():
            if isinstance(layer, MultiHeadSelfAttention):
                layer.int8_proj = _int8_projections(layer.attn)
        quantize = torch.ao.quantization.quantize_dynamic
        return quantize(network, spec, dtype=torch.qint8, inplace=True)


def _int8_projections(attn: nn.MultiheadAttention) -> nn.ModuleList:
    """The query, key and value projections of ``attn`` (its ``in_proj_weight`` thirds, which
    ``quantize_dynamic`` cannot see: they are tensors, not modules) as three int8 linear layers."""
    dim = attn.embed_dim
    weight, bias = attn.in_proj_weight.detach(), attn.in_proj_bias.detach()
    layers = []
    for i in range(3):
        linear = nn.Linear(dim, dim)
        linear.weight.data.copy_(weight[i * dim : (i + 1) * dim])
        linear.bias.data.copy_(bias[i * dim : (i + 1) * dim])
        linear.qconfig = torch.ao.quantization.default_dynamic_qconfig
        layers.append(torch.ao.nn.quantized.dynamic.Linear.from_float(linear))
    return nn.ModuleList(layers)
