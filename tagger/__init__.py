"""tagger: fast, accurate BiLSTM-attention-CRF sequence labelling.

The public API (imported lazily, so that ``import tagger`` stays cheap)::

    from tagger import Config, Tagger, load_config, train

    cfg = load_config("configs/demo.yaml", ["train.max_epochs=5"])
    train(cfg, "runs/demo")
    tagger = Tagger.load("runs/demo")
    tagger.predict(["EU rejects German call"])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Config", "Tagger", "load_config", "train", "score", "__version__"]

_LAZY = {
    "Config": ("tagger.config", "Config"),
    "load_config": ("tagger.config", "load_config"),
    "Tagger": ("tagger.prediction", "Tagger"),
    "train": ("tagger.training", "train"),
    "score": ("tagger.scoring", "score"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tagger' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)
