"""Resumable training state in ``RUN_DIR/checkpoint/``: the run's config and, after each epoch,
``state.pt`` (weights and their moving average, optimiser, scheduler, batch-order RNG, epoch,
best score, metrics).

``state.pt`` holds tensors and plain Python values only and is read with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects. Every file is written
atomically, so a kill at any moment leaves the previous epoch's state intact.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from tagger.atomic import atomic_write_bytes
from tagger.config import Config, ConfigError
from tagger.errors import TaggerError

FOLDER, CONFIG, STATE = "checkpoint", "config.json", "state.pt"


def check_free(run_dir: Path, overwrite: bool = False) -> None:
    """Refuse to train into ``run_dir`` when it holds a trained model, unless ``overwrite``."""
    taken = (run_dir / "model.safetensors").exists() or (run_dir / FOLDER / STATE).exists()
    if taken and not overwrite:
        raise TaggerError(
            f"{run_dir} already holds a trained model: continue it with --resume, "
            "or pass --overwrite, or choose another --output"
        )


def start(run_dir: Path, cfg: Config) -> None:
    """Record a new run's config (what ``--resume`` reads) and drop any older state."""
    text = json.dumps(cfg.to_dict(), indent=2)
    atomic_write_bytes(run_dir / FOLDER / CONFIG, text.encode("utf-8"))
    (run_dir / FOLDER / STATE).unlink(missing_ok=True)


def read_config(run_dir: Path) -> Config:
    """The config of the run being resumed."""
    path = run_dir / FOLDER / CONFIG
    try:
        return Config.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise TaggerError(f"{run_dir}: no training run to resume ({path} missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ConfigError) as exc:
        raise TaggerError(f"{path}: damaged checkpoint config: {exc}") from None


def save(run_dir: Path, loop: Any) -> None:
    """Write the loop's full state after an epoch."""
    import torch

    state = {
        "epoch_done": loop.epoch_done,
        "finished": loop.finished,
        "best": loop.best,
        "best_epoch": loop.best_epoch,
        "metrics": json.dumps(loop.metrics),
        "network": loop.network.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": loop.scheduler.state_dict(),
        "rng_python": loop.rng.getstate(),  # the batch order; dropout is reseeded each epoch
    }
    if loop.averaged is not None:
        state["averaged"] = loop.averaged.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(run_dir / FOLDER / STATE, buffer.getvalue())


def restore(run_dir: Path, loop: Any) -> bool:
    """Load the saved state into ``loop``; False when no epoch had finished."""
    import torch

    path = run_dir / FOLDER / STATE
    if not path.exists():
        return False
    try:
        state = torch.load(path, weights_only=True)
        loop.network.load_state_dict(state["network"])
        loop.optimizer.load_state_dict(state["optimizer"])
        loop.scheduler.load_state_dict(state["scheduler"])
        if loop.averaged is not None:
            loop.averaged.load_state_dict(state["averaged"])
    except Exception as exc:  # unpickling refusals, truncation, shape mismatches
        raise TaggerError(f"{path}: damaged checkpoint: {str(exc).splitlines()[0]}") from None
    version, internal, gauss = state["rng_python"]
    loop.rng.setstate((version, tuple(internal), gauss))
    loop.epoch_done, loop.finished = state["epoch_done"], state["finished"]
    loop.best, loop.best_epoch = state["best"], state["best_epoch"]
    loop.metrics = json.loads(state["metrics"])
    return True
