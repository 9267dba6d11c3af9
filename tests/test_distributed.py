"""Two processes (gloo, CPU) train the same model as one process with the same global batch.

The optimiser here is SGD: DDP sums gradients in another order than one process does, which
changes them by ~1e-7; SGD keeps that difference ~1e-7 * lr, whereas Adam divides each update by
the root of the squared gradients and so turns float noise on near-zero gradients into
updates of size lr (measured: max weight difference 2.7e-3 with Adam vs 1.8e-5 with SGD after 6
steps). The invariant checked is thus: same weights within 1e-4 after two epochs of SGD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from conftest import ROOT, first_sentences, tiny_overrides
from safetensors.torch import load_file

WNUT = ROOT / "data" / "wnut17" / "train.conll"


def train(tmp_path, data, out, batch_size: int, nproc: int, epochs: int = 2) -> None:
    sets = tiny_overrides(tmp_path / f"cache-{nproc}", **{"data.train": data, "data.dev": data})
    sets += ["data.test=null", f"train.max_epochs={epochs}", f"train.batch_size={batch_size}"]
    sets += ["train.optimizer=sgd", "train.lr=0.1"]
    sets += ["model.attention=[{type: multihead, heads: 2, dropout: 0.0}]"]  # no randomness
    args = [sys.executable, "-m", "tagger", "train", str(ROOT / "configs" / "demo.yaml")]
    args += [x for s in sets for x in ("--set", s)] + ["--output", str(out), "--quiet"]
    if nproc > 1:
        args += ["--nproc", str(nproc)]
    run(args)


def run(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_processes_equal_one_with_the_global_batch(tmp_path):
    data = tmp_path / "train.conll"
    data.write_text(first_sentences(WNUT, 48), encoding="utf-8")  # 6 global batches of 8
    train(tmp_path, data, tmp_path / "one", batch_size=8, nproc=1)
    train(tmp_path, data, tmp_path / "two", batch_size=4, nproc=2)
    one, two = (
        load_file(tmp_path / "one" / "model.safetensors"),
        load_file(tmp_path / "two" / "model.safetensors"),
    )
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name].float(), two[name].float(), atol=1e-4), name
    lines = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    assert (tmp_path / "two" / "checkpoint" / "state.pt").exists()

    # Resume under DDP: stop after epoch 1, then continue to epoch 2 with --resume --nproc 2.
    train(tmp_path, data, tmp_path / "half", batch_size=4, nproc=2, epochs=1)
    config = tmp_path / "half" / "checkpoint" / "config.json"
    raw = json.loads(config.read_text())
    raw["train"]["max_epochs"] = 2
    config.write_text(json.dumps(raw))
    run(
        [
            sys.executable,
            "-m",
            "tagger",
            "train",
            "--resume",
            str(tmp_path / "half"),
            "--nproc",
            "2",
        ]
    )
    last = {}  # the weights after epoch 2 (the best model may be an earlier epoch's)
    for name in ("two", "half"):
        state = torch.load(tmp_path / name / "checkpoint" / "state.pt", weights_only=True)
        assert state["epoch_done"] == 2
        last[name] = state["network"]
    for name, tensor in last["two"].items():
        assert torch.allclose(last["half"][name].float(), tensor.float(), atol=1e-6), name


def test_predict_with_workers_keeps_order_and_output(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    data = tmp_path / "train.conll"
    data.write_text(first_sentences(WNUT, 40), encoding="utf-8")
    train(tmp_path, data, tmp_path / "run", batch_size=8, nproc=1)
    source = ROOT / "data" / "wnut17" / "dev.conll"
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"pred-{workers}.conll"
        args = ["predict", str(tmp_path / "run"), str(source), "--output", str(out)]
        result = CliRunner().invoke(app, [*args, "--workers", str(workers)])
        assert result.exit_code == 0, result.output
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1]
    assert len(outs[0].splitlines()) == len(source.read_text(encoding="utf-8").splitlines())


def test_predict_a_saved_dataset_with_map(tmp_path):
    import datasets
    from typer.testing import CliRunner

    from cli import app

    data = tmp_path / "train.conll"
    data.write_text(first_sentences(WNUT, 40), encoding="utf-8")
    train(tmp_path, data, tmp_path / "run", batch_size=8, nproc=1)
    rows = {"tokens": [["I", "love", "Paris"], ["Hi"]], "tags": [["O", "O", "O"], ["O"]]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "ds"))
    out = tmp_path / "tagged"
    args = ["predict", str(tmp_path / "run"), f"hf:{tmp_path / 'ds'}", "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    tagged = datasets.load_from_disk(str(out))
    assert [len(t) for t in tagged["pred_tags"]] == [3, 1]
    jsonl = tmp_path / "tagged.jsonl"
    args[-1] = str(jsonl)
    assert CliRunner().invoke(app, args).exit_code == 0
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert [x["tags"] for x in lines] == tagged["pred_tags"]
    assert tagged.column_names == [
        "tokens",
        "tags",
        "pred_tags",
    ]  # its own columns, no internal ones
    assert tagged["tags"] == rows["tags"]
