"""int8 dynamic quantisation for tagging: the modules it reaches, its tags against float32,
the option through Python and the CLI, and bad values as one error line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import ROOT, first_sentences, tiny_overrides
from tiny_run import invoke, one_error_line

from tagger import Tagger, load_config, train
from tagger.data.conll import read_sentences
from tagger.errors import TaggerError

# Token agreement of int8 with float32 tags that the tests require. Per-tensor int8 weights
# round each weight by at most half a step (1/254 of the largest weight), so only tokens whose
# best two paths score almost alike can flip; on a trained model they are a few in a hundred.
AGREEMENT = 0.95


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, wnut40: Path) -> Path:
    """A tiny model (char BiLSTM, word BiLSTM, a bilstm context layer, multi-head attention)
    trained for a few epochs, so that its tags are not coin flips."""
    tmp = tmp_path_factory.mktemp("quantize")
    extra = {
        "data.train": wnut40,
        "data.dev": wnut40,
        "model.char_encoder": "lstm",
        "model.attention": "[{type: bilstm}, {type: multihead, heads: 2}]",
        "train.max_epochs": 6,
    }
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*tiny_overrides(tmp / "c", **extra)])
    cfg.data.test = None
    train(cfg, tmp / "run", progress=False, log=lambda _: None)
    return tmp / "run"


@pytest.fixture(scope="module")
def sentences(wnut40: Path) -> list[list[str]]:
    return [s.tokens for s in read_sentences(wnut40)]


def agreement(a: list[list[str]], b: list[list[str]]) -> float:
    pairs = [(x, y) for s, t in zip(a, b, strict=True) for x, y in zip(s, t, strict=True)]
    return sum(x == y for x, y in pairs) / len(pairs)


def test_int8_reaches_every_lstm_and_linear_layer(run_dir: Path) -> None:
    network = Tagger.load(run_dir, quantize="int8").network
    kinds = {type(m) for m in network.modules()}
    floats = {
        torch.nn.LSTM,
        torch.nn.Linear,
        torch.nn.modules.linear.NonDynamicallyQuantizableLinear,
    }
    assert not kinds & floats  # all swapped
    int8 = (torch.ao.nn.quantized.dynamic.LSTM, torch.ao.nn.quantized.dynamic.Linear)
    quantized = [m for m in network.modules() if isinstance(m, int8)]
    # word BiLSTM (2), char BiLSTM (2), context BiLSTM (2), emissions (1), multi-head
    # attention's q, k, v and output projections (4)
    assert len(quantized) == 11
    assert all(layer.int8_proj is not None for layer in network.attention[1:])
    assert Tagger.load(run_dir).quantize == "none"


def test_int8_tags_agree_with_float32(run_dir: Path, sentences: list[list[str]]) -> None:
    fp32 = Tagger.load(run_dir).tag(sentences)
    int8_tagger = Tagger.load(run_dir, quantize="int8")
    int8 = int8_tagger.tag(sentences)
    assert int8_tagger.quantize == "int8"
    assert agreement(fp32, int8) >= AGREEMENT
    assert any(t != "O" for s in int8 for t in s)  # a model that tags all O would agree trivially


def test_int8_emissions_differ_from_float32_but_little(run_dir: Path) -> None:
    """The network really runs in int8 (its scores move), and not far."""
    from tagger.data.batching import make_batch

    fp32, int8 = Tagger.load(run_dir), Tagger.load(run_dir, quantize="int8")
    batch = make_batch(fp32.vocab, [["EU", "rejects", "German", "call"], ["x"]], None, 25)
    fp32.network.eval()
    with torch.no_grad():
        a, b = fp32.network.emissions(batch), int8.network.emissions(batch)
    real = batch.mask  # (B, T): positions past a sentence's end hold filler
    gap = (a - b).abs()[real].max().item()
    assert 0 < gap < 0.1 * a[real].abs().max().item()  # int8 rounding: a few % of the scale


def test_unknown_value_is_a_tagger_error(run_dir: Path) -> None:
    with pytest.raises(TaggerError, match="quantize: unknown value 'int4'"):
        Tagger.load(run_dir, quantize="int4")


def test_workers_load_with_the_same_option(run_dir: Path, monkeypatch) -> None:
    from tagger import buffers

    seen = {}

    def fake(load, *_args):
        seen["load"] = load
        return iter([])

    monkeypatch.setattr(buffers, "in_workers", fake)
    tagger = Tagger.load(run_dir, quantize="int8")
    list(tagger.tag_chunks(iter([]), workers=2))
    assert seen["load"].keywords == {"quantize": "int8"}


def test_cli_quantize_int8_and_bad_values(run_dir: Path, tmp_path: Path, wnut40: Path) -> None:
    text = tmp_path / "in.conll"
    text.write_text(first_sentences(wnut40, 20), encoding="utf-8")
    fp32_out, int8_out = tmp_path / "fp32.conll", tmp_path / "int8.conll"
    assert invoke("predict", run_dir, text, "-o", fp32_out, "--quiet").exit_code == 0
    done = invoke("predict", run_dir, text, "-o", int8_out, "--quiet", "--quantize", "int8")
    assert done.exit_code == 0, done.output

    def tags(path: Path) -> list[list[str]]:
        return [s.tags for s in read_sentences(path)]

    assert agreement(tags(fp32_out), tags(int8_out)) >= AGREEMENT
    bad = tmp_path / "bad.conll"
    result = invoke("predict", run_dir, text, "-o", bad, "--quantize", "int4")
    one_error_line(result, "quantize", "int4")
    result = invoke("predict", run_dir, text, "-o", bad, "--quantize", "int8", "--runtime", "onnx")
    one_error_line(result, "quantize", "onnx")
    assert not bad.exists()
