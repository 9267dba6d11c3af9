"""Shared fixtures: one torch thread, a tiny WNUT-17 sample and tiny model configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WNUT_TRAIN = ROOT / "data" / "wnut17" / "train.conll"


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """The tests share a small machine with other jobs: one intra-op thread is plenty."""
    import torch

    torch.set_num_threads(1)


def bench_module(name: str) -> Any:
    """``bench/NAME.py`` imported as a module (bench/ on the path, as when run as a script)."""
    import importlib.util
    import sys

    folder = ROOT / "bench"
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_sentences(path: Path, count: int) -> str:
    """The text of the first ``count`` sentences of a CoNLL file (blank-line separated)."""
    out: list[str] = []
    seen = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(line)
        if not line.strip():
            seen += 1
            if seen >= count:
                break
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def wnut40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40 sentences of the shipped WNUT-17 training file."""
    path = tmp_path_factory.mktemp("wnut") / "train40.conll"
    path.write_text(first_sentences(WNUT_TRAIN, 40), encoding="utf-8")
    return path


def tiny_overrides(cache_dir: Path, **extra: object) -> list[str]:
    """``--set`` overrides for a tiny, fast, deterministic model (``extra``: more key=value)."""
    items = {
        "data.cache_dir": str(cache_dir),
        "model.word_dim": 16,
        "model.casing_dim": 4,
        "model.char_dim": 8,
        "model.char_hidden": 8,
        "model.hidden_size": 16,
        "model.dropout": 0.0,
        "model.word_dropout": 0.0,
        "model.attention": "[{type: multihead, heads: 2}]",
        "train.max_epochs": 3,
        "train.patience": 100,
        "train.batch_size": 8,
        "train.lr": 0.02,
        "train.threads": 1,
    }
    items.update(extra)
    return [f"{key}={value}" for key, value in items.items()]
