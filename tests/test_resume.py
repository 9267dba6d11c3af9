"""Killed runs resume to the same model; a trained model is never clobbered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tagger.errors import TaggerError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "wnut17" / "train.conll"


def tiny_corpus(tmp_path: Path, sentences: int = 60) -> Path:
    blocks = SAMPLE.read_text(encoding="utf-8").split("\n\t\n")[:sentences]
    path = tmp_path / "tiny.conll"
    path.write_text("\n\t\n".join(blocks) + "\n", encoding="utf-8")
    return path


def train_args(data: Path, out: Path, epochs: int = 4, *extra: str) -> list[str]:
    sets = [
        *extra,
        f"data.train={data}",
        f"data.dev={data}",
        "data.test=null",
        f"train.max_epochs={epochs}",
        "train.patience=100",
        "train.threads=1",
        "model.hidden_size=16",
        "model.word_dim=16",
        "model.char_hidden=8",
        "model.attention=[{type: multihead, heads: 2}]",
    ]
    args = [sys.executable, "-m", "tagger", "train", str(ROOT / "configs" / "demo.yaml")]
    for item in sets:
        args += ["--set", item]
    return [*args, "--output", str(out), "--quiet"]


def env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_DATASETS_CACHE": str(cwd / "hf-cache")}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env(cwd), capture_output=True, text=True, timeout=600)


def resume_args(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tagger", "train", "--resume", str(run_dir), "--quiet"]


def weights(run_dir: Path) -> dict:
    return load_file(run_dir / "model.safetensors")


def kill_when(args: list[str], cwd: Path, ready) -> None:
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen(args, cwd=cwd, env=env(cwd), stdout=quiet, stderr=quiet)
    deadline = time.monotonic() + 300
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted run, and the tiny corpus it used."""
    tmp = tmp_path_factory.mktemp("ref")
    data = tiny_corpus(tmp)
    result = run(train_args(data, tmp / "run"), tmp)
    assert result.returncode == 0, result.stderr
    return data, tmp / "run"


@pytest.mark.parametrize("when", ["after-checkpoint", "mid-epoch-1"])
def test_sigkill_then_resume_gives_identical_weights(reference, tmp_path, when):
    data, ref_dir = reference
    out = tmp_path / "run"
    state = out / "checkpoint" / "state.pt"
    if when == "after-checkpoint":
        kill_when(train_args(data, out), tmp_path, state.exists)
    else:
        kill_when(train_args(data, out), tmp_path, (out / "checkpoint" / "config.json").exists)
        assert not state.exists()
    resumed = run(resume_args(out), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ref, got = weights(ref_dir), weights(out)
    assert ref.keys() == got.keys()
    for name in ref:
        assert (ref[name] == got[name]).all(), name
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert lines == (ref_dir / "metrics.jsonl").read_text().splitlines() or len(lines) == 4


def test_resume_keeps_the_weight_average(tmp_path):
    """With train.ema the checkpoint carries the moving average too: a run killed after an
    epoch and resumed saves the same averaged weights as an uninterrupted one."""
    data = tiny_corpus(tmp_path, 30)
    ref_run = run(train_args(data, tmp_path / "ref", 3, "train.ema=0.9"), tmp_path)
    assert ref_run.returncode == 0, ref_run.stderr
    out = tmp_path / "run"
    kill_when(
        train_args(data, out, 3, "train.ema=0.9"),
        tmp_path,
        (out / "checkpoint" / "state.pt").exists,
    )
    resumed = run(resume_args(out), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ref, got = weights(tmp_path / "ref"), weights(out)
    assert all((ref[name] == got[name]).all() for name in ref)


def test_existing_model_is_not_overwritten(reference, tmp_path):
    from tagger.checkpoint import check_free

    _, ref_dir = reference
    before = (ref_dir / "model.safetensors").read_bytes()
    with pytest.raises(TaggerError, match="--resume"):
        check_free(ref_dir)
    assert (ref_dir / "model.safetensors").read_bytes() == before


def test_malicious_checkpoint_is_refused(reference, tmp_path):
    import pickle
    import shutil

    from tagger.checkpoint import STATE

    _, ref_dir = reference
    run_dir = tmp_path / "run"
    shutil.copytree(ref_dir, run_dir)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (run_dir / "checkpoint" / STATE).write_bytes(pickle.dumps({"epoch_done": Evil()}))
    result = run(resume_args(run_dir), tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "damaged checkpoint" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()
