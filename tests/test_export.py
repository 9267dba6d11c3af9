"""ONNX export of the whole tagger (Viterbi included): identical tags to PyTorch."""

from __future__ import annotations

import pytest
from conftest import ROOT, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger import Tagger, load_config, train
from tagger.data.conll import read_sentences

pytest.importorskip("onnxruntime")  # the dev extra installs it; users opt in with tagger[onnx]


@pytest.fixture(scope="module", params=["cnn", "lstm"])
def run_dir(request, tmp_path_factory, wnut40):
    tmp = tmp_path_factory.mktemp("export")
    sets = tiny_overrides(tmp / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    sets += ["data.test=null", f"model.char_encoder={request.param}"]
    sets += ["model.attention=[{type: multihead, heads: 2, position: relative}, {type: label}]"]
    train(
        load_config(ROOT / "configs" / "demo.yaml", sets),
        tmp / "run",
        progress=False,
        log=lambda _: None,
    )
    return tmp / "run"


def test_export_and_onnx_runtime_give_identical_tags(run_dir, tmp_path):
    from tagger.export import export_onnx, load_onnx_tagger

    path = export_onnx(run_dir)
    assert path.is_file() and path.stat().st_size > 0
    dev = [s.tokens for s in read_sentences(str(ROOT / "data" / "wnut17" / "dev.conll"))]
    dev.append(["x"] * 300)  # a long sentence: the graph has no fixed length
    assert load_onnx_tagger(run_dir).tag(dev) == Tagger.load(run_dir).tag(dev)


def test_cli_export_and_predict_runtime_onnx(run_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(run_dir), "--format", "onnx", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    result = runner.invoke(app, ["export", str(run_dir)])
    assert result.exit_code == 0, result.output
    source = ROOT / "data" / "wnut17" / "test.conll"
    outputs = []
    for runtime in ("torch", "onnx"):
        target = tmp_path / f"pred-{runtime}.conll"
        args = ["predict", str(run_dir), str(source), "--output", str(target)]
        result = runner.invoke(app, [*args, "--runtime", runtime])
        assert result.exit_code == 0, result.output
        outputs.append(target.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]


def test_onnx_runtime_without_export_is_a_clear_error(tmp_path, run_dir):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare, ignore=shutil.ignore_patterns("*.onnx"))
    source = ROOT / "data" / "wnut17" / "test.conll"
    result = CliRunner().invoke(app, ["predict", str(bare), str(source), "--runtime", "onnx"])
    assert result.exit_code == 2 and "tagger export" in result.stderr
