"""Resumable training state in ``RUN_DIR/checkpoint/``: the run's config and, after each epoch,
``state.pt`` (weights and their moving average, optimiser, scheduler, batch-order RNG, epoch,
best score, metrics).

``state.pt`` holds tensors and plain Python values only and is read with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects. Every file is written
atomically, so a kill at any moment leaves the previous epoch's state intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagger.atomic import atomic_write_bytes, check_folder
from tagger.config import Config, ConfigError
from tagger.errors import TaggerError

FOLDER, CONFIG, STATE = "checkpoint", "config.json", "state.pt"


def check_free(run_dir: Path, *, overwrite: bool = False) -> bool:
    """Refuse to train into ``run_dir`` when it holds a trained model, unless ``overwrite``;
    returns whether it holds one (that a new run with ``overwrite`` will replace)."""
    check_folder(run_dir)
    taken = (run_dir / "model.safetensors").exists() or (run_dir / FOLDER / STATE).exists()
    if taken and not overwrite:
        raise TaggerError(
            f"{run_dir} already holds a trained model: continue it with --resume, "
            "or pass --overwrite, or choose another --output"
        )
    return taken


def start(run_dir: Path, cfg: Config) -> None:
    """Record a new run's config (what ``--resume`` reads) and drop any older state (and an
    ONNX export of an older model)."""
    text = json.dumps(cfg.to_dict(), indent=2)
    atomic_write_bytes(run_dir / FOLDER / CONFIG, text.encode("utf-8"))
    (run_dir / FOLDER / STATE).unlink(missing_ok=True)
    (run_dir / "model.onnx").unlink(missing_ok=True)


def read_config(run_dir: Path) -> Config:
    """The config of the run being resumed."""
    path = run_dir / FOLDER / CONFIG
    try:
        return Config.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise TaggerError(f"{run_dir}: no training run to resume ({path} missing)") from None
    except (OSError, ValueError, RecursionError, ConfigError) as exc:
        raise TaggerError(f"{path}: damaged checkpoint config: {exc}") from None


@dataclass
class TrainState:
    """What a run needs to continue after its last finished epoch as if never stopped."""

    epoch_done: int
    finished: bool  # early stopping decided
    best: float  # the kept epoch's selection score
    best_epoch: int
    metrics: list[dict[str, Any]]  # metrics.jsonl's entries so far
    network: dict[str, Any]  # state dicts: tensors and plain values
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng_python: tuple  # random.Random's state: the batch order (dropout is reseeded each epoch)
    averaged: dict[str, Any] | None = None  # the weight average (train.ema), if any


# The plain fields of state.pt and their types (the tensors are checked by load_state_dict).
FIELDS = {
    "epoch_done": int,
    "finished": bool,
    "best": float,
    "best_epoch": int,
    "metrics": str,
    "rng_python": tuple,
}
TENSORS = ("network", "optimizer", "scheduler")


def save(run_dir: Path, state: TrainState) -> None:
    """Write ``state`` after an epoch (the metrics as JSON text, so that no pickled object is
    needed to read them back)."""
    import torch

    raw = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}  # no deep copy
    raw["metrics"] = json.dumps(state.metrics)
    if state.averaged is None:
        del raw["averaged"]
    buffer = io.BytesIO()
    torch.save(raw, buffer)
    atomic_write_bytes(run_dir / FOLDER / STATE, buffer.getvalue())


def load(run_dir: Path, max_epochs: int) -> TrainState | None:
    """The state saved in ``run_dir``; None when no epoch had finished."""
    import torch

    path = run_dir / FOLDER / STATE
    if not path.exists():
        return None
    with damaged_if_failing(run_dir):
        raw = torch.load(path, weights_only=True)
        fields = _checked_fields(raw, max_epochs)
        tensors = {name: raw[name] for name in TENSORS}
        return TrainState(**fields, **tensors, averaged=raw.get("averaged"))
    raise AssertionError("unreachable")  # damaged_if_failing re-raises


@contextlib.contextmanager
def damaged_if_failing(run_dir: Path) -> Iterator[None]:
    """Turn any failure inside (unpickling refusals, truncation, shape mismatches, bad fields)
    into one TaggerError naming the checkpoint."""
    try:
        yield
    except Exception as exc:
        path = run_dir / FOLDER / STATE
        raise TaggerError(f"{path}: damaged checkpoint: {str(exc).splitlines()[0]}") from None


def _checked_fields(state: Any, max_epochs: int) -> dict[str, Any]:
    """The plain fields of a loaded ``state.pt``, type- and range-checked (ValueError)."""
    if not isinstance(state, dict):
        raise ValueError("expected a mapping of fields")
    out: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        value = state.get(name)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            found = type(value).__name__
            raise ValueError(f"field {name!r}: expected {kind.__name__}, got {found}")
        out[name] = value
    if not 0 <= out["best_epoch"] <= out["epoch_done"] <= max_epochs:
        raise ValueError(f"epochs out of range: best {out['best_epoch']}, done {out['epoch_done']}")
    metrics = json.loads(out["metrics"])
    if not isinstance(metrics, list) or not all(isinstance(m, dict) for m in metrics):
        raise ValueError("field 'metrics': expected a JSON list of objects")
    out["metrics"] = metrics
    version, internal, gauss = out["rng_python"]
    out["rng_python"] = (version, tuple(internal), gauss)
    return out
