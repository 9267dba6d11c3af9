"""The attention family: shapes, masks, window limits, determinism, save/load of every variant."""

from __future__ import annotations

from unittest.mock import patch

import pytest
import torch
from conftest import ROOT, tiny_overrides

from tagger.config import load_config
from tagger.errors import TaggerError
from tagger.model.attention import LAYERS, LocalAttention, build_attention
from tagger.prediction import Tagger
from tagger.training import train

VARIANTS = {
    "global": [{"type": "global", "size": 8}],
    "global-document": [{"type": "global", "size": 8, "scope": "document"}],
    "local": [{"type": "local", "window": 2}],
    "local-plain": [{"type": "local", "window": 1, "gaussian": False}],
    "multihead": [{"type": "multihead", "heads": 2}],
    "multihead-absolute": [{"type": "multihead", "heads": 2, "position": "absolute"}],
    "multihead-relative": [{"type": "multihead", "heads": 2, "position": "relative"}],
    "label": [{"type": "label"}],
    "label-stack": [{"type": "label"}, {"type": "bilstm"}, {"type": "label"}],
    "none": [],
}


def stack(name: str, dim: int = 8) -> torch.nn.ModuleList:
    torch.manual_seed(0)
    layers = build_attention(VARIANTS[name], dim, tags=5)
    return layers.eval()


def run(layers, x, mask):
    weights = []
    for layer in layers:
        x, w = layer(x, mask)
        weights.append(w)
    return x, weights


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_padded_batch_equals_sentences_alone(name):
    layers = stack(name)
    lengths = [5, 2, 7, 1]
    x = torch.randn(len(lengths), 7, 8)
    mask = torch.arange(7).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    x = x.masked_fill(~mask.unsqueeze(2), 123.0)  # junk in the padding must not leak
    with torch.no_grad():
        batched, weights = run(layers, x, mask)
        for row, n in enumerate(lengths):
            alone, _ = run(layers, x[row : row + 1, :n], mask[row : row + 1, :n])
            assert torch.allclose(batched[row, :n], alone[0], atol=1e-5), row
    assert batched.shape == x.shape
    for w in weights:
        if w is not None and w.shape[-1] == 7:  # token x token: real tokens never attend to pads
            pad_key_of_real_query = mask.unsqueeze(2) & ~mask.unsqueeze(1)  # (B, T, T)
            assert float(w.masked_select(pad_key_of_real_query).abs().max()) < 1e-6


def test_local_window_limits():
    layer = LocalAttention(8, window=2).eval()
    x = torch.randn(1, 9, 8)
    mask = torch.ones(1, 9, dtype=torch.bool)
    with torch.no_grad():
        _, weights = layer(x, mask)  # (1, T, T)
    rows, cols = torch.meshgrid(torch.arange(9), torch.arange(9), indexing="ij")
    outside = (rows - cols).abs() > 2
    assert weights[0][outside].abs().max() == 0
    assert torch.allclose(weights[0].sum(-1), torch.ones(9), atol=1e-6)
    # a change beyond the window leaves a token's output unchanged
    y = x.clone()
    y[0, 8] += 10.0
    with torch.no_grad():
        assert torch.allclose(layer(x, mask)[0][0, :5], layer(y, mask)[0][0, :5], atol=1e-6)


@pytest.mark.parametrize("gaussian", [True, False])
def test_local_band_path_equals_windowed_path(gaussian: bool) -> None:
    """Short sentences take full scores masked to the band, long ones the windowed path; both
    give the same outputs, weights and gradients."""
    from tagger.model import attention

    torch.manual_seed(0)
    layer = LocalAttention(8, window=2, gaussian=gaussian, dropout=0.0)
    x = torch.randn(3, 9, 8, requires_grad=True)
    mask = torch.arange(9).unsqueeze(0) < torch.tensor([[9], [4], [1]])

    def run(banded_above: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        layer.zero_grad()
        x.grad = None
        with patch.object(attention, "BANDED_ABOVE", banded_above):
            layer.train()
            out, _ = layer(x, mask)
            (out[mask] ** 2).sum().backward()
            layer.eval()
            _, weights = layer(x, mask)
        return (
            out.detach(),
            weights,
            [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()],
        )

    band, band_weights, band_grads = run(128)
    windows, window_weights, window_grads = run(0)
    assert torch.allclose(band[mask], windows[mask], atol=1e-5)
    assert torch.allclose(band_weights[mask], window_weights[mask], atol=1e-6)
    for a, b in zip(band_grads, window_grads):
        assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("name", ["global", "local", "multihead-relative", "label-stack"])
def test_deterministic_with_seed(name):
    x = torch.randn(2, 6, 8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    with torch.no_grad():
        a, _ = run(stack(name), x, mask)
        b, _ = run(stack(name), x, mask)
    assert torch.equal(a, b)


def test_label_weights_are_over_labels():
    layers = stack("label")
    with torch.no_grad():
        _, (weights,) = run(layers, torch.randn(2, 4, 8), torch.ones(2, 4, dtype=torch.bool))
    assert weights.shape == (2, 4, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4), atol=1e-6)


def test_bad_specs_are_clear_errors():
    with pytest.raises(TaggerError, match=r"attention\[0\]\.type"):
        build_attention([{"type": "sparse"}], 8)
    with pytest.raises(TaggerError, match=r"attention\[0\]"):
        build_attention([{"type": "local", "widow": 3}], 8)
    with pytest.raises(TaggerError, match="scope"):
        build_attention([{"type": "global", "scope": "paragraph"}], 8)
    assert set(LAYERS) == {"global", "local", "multihead", "label", "bilstm"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_trains_saves_and_loads(tmp_path, wnut40, name):
    sets = tiny_overrides(tmp_path / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*sets, "data.test=null"])
    cfg.model.attention = VARIANTS[name]
    cfg.train.max_epochs = 1
    train(cfg, tmp_path / "run", progress=False, log=lambda _: None)
    first, again = Tagger.load(tmp_path / "run"), Tagger.load(tmp_path / "run")
    assert first.cfg.model.attention == VARIANTS[name]
    sentences = [["I", "love", "New", "York"], ["Hi"]]
    assert first.tag(sentences) == again.tag(sentences)
    probs = first.predict(sentences, tokenized=True)
    assert all(0 < s.probability <= 1 + 1e-6 for s in probs)
