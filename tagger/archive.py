"""A trained model on disk: ``config.json`` + ``vocab.json`` + ``model.safetensors``.

JSON and safetensors only, so loading a model never unpickles anything. Each file is written
atomically; a damaged or foreign directory gives a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tagger.atomic import atomic_write_bytes
from tagger.config import RANGES, Config, ConfigError
from tagger.data.vocab import Vocab
from tagger.errors import TaggerError

FORMAT = "tagger-model/1"
CONFIG, VOCAB, WEIGHTS = "config.json", "vocab.json", "model.safetensors"


class ModelFileError(TaggerError):
    """A run directory that is not a (readable) tagger model."""


def save_model(run_dir: str | Path, cfg: Config, vocab: Vocab, network: Any, **meta: Any) -> None:
    """Write the model files into ``run_dir`` (weights first, config last)."""
    from safetensors.torch import save

    run_dir = Path(run_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    atomic_write_bytes(run_dir / WEIGHTS, save(state))
    atomic_write_bytes(run_dir / VOCAB, vocab.to_json().encode("utf-8"))
    info = {"format": FORMAT, "config": cfg.to_dict(), **meta}
    atomic_write_bytes(run_dir / CONFIG, json.dumps(info, indent=2).encode("utf-8"))


MAX_JSON = 1 << 30  # bytes of config.json / vocab.json read at most: far above any real model


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ModelFileError(f"{path}: damaged model file: larger than {MAX_JSON} bytes")
        raw = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path.parent}: not a tagger model ({path.name} missing)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: damaged model file: {exc}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: damaged model file: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: damaged model file: expected a JSON object")
    return raw


def load_model(run_dir: str | Path) -> tuple[Config, Vocab, Any, dict[str, Any]]:
    """Read a model directory: ``(config, vocab, network in eval mode, meta)``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ModelFileError(f"{run_dir}: not a tagger model (no such directory)")
    info = _read_json(run_dir / CONFIG)
    if info.get("format") != FORMAT:
        raise ModelFileError(f"{run_dir / CONFIG}: not a tagger model (format {FORMAT} expected)")
    try:
        cfg = Config.from_dict(info["config"])
        vocab = Vocab.from_dict(_read_json(run_dir / VOCAB))
    except (ConfigError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ModelFileError(f"{run_dir}: damaged model file: {exc}") from None
    try:
        state = load_file(run_dir / WEIGHTS)
    except FileNotFoundError:
        raise ModelFileError(f"{run_dir}: not a tagger model ({WEIGHTS} missing)") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{run_dir / WEIGHTS}: damaged model file: {exc}") from None
    word_dim = info.get("word_dim", cfg.model.word_dim)
    try:
        if not isinstance(word_dim, int) or isinstance(word_dim, bool):
            raise ConfigError(f"word_dim: expected int, got {word_dim!r}")
        RANGES["model.word_dim"].check("word_dim", word_dim)
        network = build_network(cfg, vocab, word_dim)
    except (TaggerError, RuntimeError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{run_dir / CONFIG}: damaged model file: {exc}") from None
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(
            f"{run_dir / WEIGHTS}: weights do not fit the config: {first}"
        ) from None
    network.eval()
    return cfg, vocab, network, info


def build_network(cfg: Config, vocab: Vocab, word_dim: int, pretrained: Any = None) -> Any:
    """A fresh :class:`TaggerNetwork` sized for ``vocab``."""
    from tagger.model.network import TaggerNetwork

    return TaggerNetwork(
        cfg.model,
        n_words=len(vocab.words),
        n_chars=len(vocab.chars),
        word_dim=word_dim,
        labels=vocab.tags,
        scheme=vocab.model_scheme,
        pretrained=pretrained,
        freeze_words=cfg.embeddings.freeze or cfg.embeddings.lr_scale == 0,
        static_copy=cfg.embeddings.static_copy,
    )
