"""Run directories (issue 25, items 2, 3 and 14): one run at a time, --overwrite validates
everything first and replaces the old run only when the new one has something to put in its
place, and --resume refuses arguments it would ignore."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import pytest
from tiny_run import child, invoke, one_error_line, train_args

import tagger.training as training


@pytest.fixture(scope="module")
def trained(tmp_path_factory, wnut40: Path) -> Path:
    tmp = tmp_path_factory.mktemp("runs")
    result = invoke(*train_args(wnut40, tmp / "cache", epochs=2), "--output", tmp / "run")
    assert result.exit_code == 0, result.output
    return tmp / "run"


def snapshot(run: Path) -> dict[str, bytes]:
    """Every file of a run directory (but the lock file) and its bytes."""
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def old_run(trained, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def test_second_train_into_a_locked_run_dir_gets_one_error_line(tmp_path, wnut40):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / ".lock", "w") as handle:  # another run holds the directory
        handle.write("pid 4242 on elsewhere since now")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = invoke(*train_args(wnut40, tmp_path / "cache"), "--output", run)
    one_error_line(result, str(run), "in use", "pid 4242")
    assert not (run / "model.safetensors").exists()
    assert not (run / "checkpoint").exists()


def test_two_concurrent_runs_leave_one_consistent_run(tmp_path, wnut40):
    run = tmp_path / "run"
    procs = [
        child([*train_args(wnut40, tmp_path / f"cache{s}", f"train.seed={s}", epochs=4),
               "--output", run], tmp_path)
        for s in (1, 2)
    ]  # fmt: skip
    results = [(p.wait(timeout=600), p.communicate()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, (_, err) in results if code == 2)
    errors = [line for line in loser.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), loser
    assert "in use" in errors[0] or "already holds a trained model" in errors[0]
    model = json.loads((run / "config.json").read_text())["config"]["train"]["seed"]
    state = json.loads((run / "checkpoint" / "config.json").read_text())["train"]["seed"]
    assert model == state  # the model and the checkpoint are of the same run


@pytest.mark.parametrize(
    "bad",
    [
        "train.lr=-1",  # a range
        "model.attention=[{type: multihead, heads: 3}]",  # the network cannot be built
        "embeddings.pretrained=missing.vec",  # vectors
    ],
)
def test_overwrite_validates_everything_before_touching_the_old_run(old_run, tmp_path, bad):
    before = snapshot(old_run)
    data = tmp_path / "data.conll"
    data.write_text("EU B-ORG\n", encoding="utf-8")
    args = train_args(data, tmp_path / "cache", bad)
    result = invoke(*args, "--output", old_run, "--overwrite")
    one_error_line(result)
    assert snapshot(old_run) == before


def test_overwrite_keeps_the_old_run_until_the_new_one_has_an_epoch(
    old_run, tmp_path, wnut40, monkeypatch
):
    before = snapshot(old_run)

    def interrupted(self, epoch):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.Loop, "epoch", interrupted)
    args = train_args(wnut40, tmp_path / "cache", "train.seed=7")
    result = invoke(*args, "--output", old_run, "--overwrite")
    assert result.exit_code == 130, result.output
    assert snapshot(old_run) == before  # still the old run, still resumable


def test_overwrite_replaces_the_run_after_its_first_epoch(old_run, tmp_path, wnut40):
    (old_run / "model.onnx").write_bytes(b"an export of the old model")
    args = train_args(wnut40, tmp_path / "cache", "train.seed=7")
    result = invoke(*args, "--output", old_run, "--overwrite")
    assert result.exit_code == 0, result.output
    state = json.loads((old_run / "checkpoint" / "config.json").read_text())
    model = json.loads((old_run / "config.json").read_text())
    assert state["train"]["seed"] == model["config"]["train"]["seed"] == 7
    assert not (old_run / "model.onnx").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["CONFIG"],
        ["--output", "OTHER"],
        ["--set", "train.lr=0.5"],
        ["--overwrite"],
    ],
)
def test_resume_refuses_what_it_would_ignore(trained, tmp_path, extra):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = snapshot(run)
    config = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    other = tmp_path / "other"
    args = [str(config) if a == "CONFIG" else str(other) if a == "OTHER" else a for a in extra]
    result = invoke("train", "--resume", run, "--quiet", *args)
    one_error_line(result, "--resume", "cannot be given")
    assert not other.exists() and snapshot(run) == before


def test_resume_with_its_own_output_is_accepted(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    result = invoke("train", "--resume", run, "--output", run, "--quiet")
    assert result.exit_code == 0, result.output
