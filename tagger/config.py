"""One typed experiment config: YAML in, ``--set a.b=c`` overrides, JSON out with every model.

Every key has a type and a default; an unknown key or a value of the wrong type raises a
:class:`ConfigError` that names the key (``train.batch_size: expected int, got 'big'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.data.chunks import FORMATS
from tagger.errors import TaggerError


class ConfigError(TaggerError):
    """A config key that does not exist, or a value of the wrong type or range."""


@dataclass
class DataConfig:
    """Where the corpus lives and how to read it."""

    root: str | None = None  # relative data paths are read from here; null: $TAGGER_DATA or .
    train: str | None = None  # CoNLL / CoNLL-U file, a save_to_disk folder, or hf:NAME[:SPLIT]
    dev: str | None = None  # scored after every epoch; picks the kept model
    test: str | None = None  # scored once, with the kept model, at the end
    format: str = "auto"  # auto: detected from each file's content; else one reader format for all
    token_column: int = 0
    tag_column: int = -1  # -1: the last column
    tag_field: str = "upos"  # CoNLL-U: upos | xpos | a MISC key
    scheme: str | None = None  # the files' tag scheme; null: detected from the training file
    train_scheme: str = "iobes"  # the scheme the model learns in (entity tag sets only)
    cache_dir: str | None = None  # Arrow cache; null: the datasets default
    dev_fraction: float = 0.0  # with no dev file: hold out this last share of train as dev


@dataclass
class EmbeddingsConfig:
    """Word vectors: trained from scratch or initialised from a GloVe/word2vec/fastText file."""

    pretrained: str | None = None  # text file, .gz allowed
    lowercase: bool = True  # look words up lowercased (GloVe 6B is lowercased)
    max_vectors: int = 50000  # also keep the N most frequent pretrained words (0: none)
    freeze: bool = False  # keep the word vectors fixed
    lr_scale: float = 1.0  # the word vectors' learning rate as a share of train.lr (0: frozen)
    static_copy: bool = False  # also feed a frozen copy of the initial vectors (a static channel)


@dataclass
class ModelConfig:
    """Layer sizes of embedder -> BiLSTM -> attention -> emissions -> CRF."""

    word_dim: int = 100  # ignored when pretrained vectors set it
    casing_dim: int = 8  # casing feature (lower, upper, title, digits, ...) size; 0: none
    char_encoder: str = "cnn"  # cnn | lstm | none
    char_dim: int = 30  # character embedding size
    char_hidden: int = 50  # CNN filters, or LSTM units per direction
    char_kernel: int = 3  # CNN window in characters
    max_word_length: int = 25  # longer words feed only their first N characters to the char model
    hidden_size: int = 256  # BiLSTM units per direction
    num_layers: int = 1  # stacked BiLSTM layers
    dropout: float = 0.5  # on the token features and the BiLSTM output
    word_dropout: float = 0.05  # share of word ids replaced by <unk> while training
    attention: list[dict[str, Any]] = field(  # layers after the BiLSTM (docs/attention.md)
        default_factory=lambda: [{"type": "multihead", "heads": 4}]
    )
    constrain: bool = True  # forbid the tag scheme's invalid transitions


@dataclass
class TrainConfig:
    """The optimisation loop."""

    max_epochs: int = 30  # at most this many passes over the training data
    with_dev: bool = False  # train on train + dev; keep the epoch of lowest training loss
    batch_size: int = 32  # sentences per training step
    eval_batch_size: int = 256  # sentences per batch when tagging
    seed: int = 42  # same seed, same machine: same weights
    patience: int = 5  # epochs without dev improvement before stopping
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 0.002  # learning rate
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0  # L2 (adam, sgd) or decoupled (adamw) weight decay
    clip: float = 5.0  # max gradient norm; 0 disables
    lr_decay: float = 0.5  # factor on plateau
    lr_patience: int = 2  # epochs without dev improvement before decaying the learning rate
    lr_step: int = 0  # > 0: decay the learning rate every N epochs instead (no dev needed)
    min_lr: float = 1e-5  # plateau decay stops here
    ema: float = 0.0  # > 0: evaluate and keep an exponential moving average of the weights
    threads: int | None = None  # torch threads; null: all cores
    device: str = "auto"  # auto (a GPU when there is one) | cpu | cuda
    precision: str = "fp32"  # fp32 | bf16 (autocast on the matrix products)


@dataclass
class Config:
    """The whole experiment: saved as config.json beside every model."""

    data: DataConfig = field(default_factory=DataConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        return _build(cls, raw, "")


CHOICES = {
    "data.format": ("auto", *FORMATS),  # the readers' table; training refuses text (no tags)
    "data.scheme": ("iob1", "iob2", "bio", "iobes", "bilou", "none"),
    "data.train_scheme": ("iob1", "iob2", "bio", "iobes", "bilou"),
    "model.char_encoder": ("cnn", "lstm", "none"),
    "train.optimizer": ("adam", "adamw", "sgd"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.precision": ("fp32", "bf16"),
}


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric key: ``low`` to ``high``, either end open or closed."""

    low: float
    high: float
    low_open: bool = False  # True: ``low`` itself is not allowed
    high_open: bool = False

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{self.low}, {self.high}{right}"

    def check(self, key: str, value: float) -> None:
        """Raise a ConfigError naming ``key`` unless ``value`` is finite and in range."""
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value}")
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        if not (above and below):
            raise ConfigError(f"{key}: expected a value in {self}, got {value!r}")


UNIT = Range(0, 1, high_open=True)  # shares and probabilities: 0 allowed, 1 not
MANY = 10**6  # epochs, batch sizes, patience: beyond any real run, far below overflow

# Every int and float key's allowed values (tests/test_config_ranges.py checks none is missing).
RANGES = {
    "data.token_column": Range(-1000, 1000),
    "data.tag_column": Range(-1000, 1000),
    "data.dev_fraction": UNIT,
    "embeddings.max_vectors": Range(0, 10**8),
    "embeddings.lr_scale": Range(0, 100),
    "model.word_dim": Range(1, 4096),
    "model.casing_dim": Range(0, 1024),  # 0: no casing feature (bench/speed.py, as flair)
    "model.char_dim": Range(1, 1024),
    "model.char_hidden": Range(1, 4096),
    "model.char_kernel": Range(1, 31),
    "model.max_word_length": Range(1, 1000),
    "model.hidden_size": Range(1, 8192),
    "model.num_layers": Range(1, 16),
    "model.dropout": UNIT,
    "model.word_dropout": UNIT,
    "train.max_epochs": Range(1, MANY),
    "train.batch_size": Range(1, MANY),
    "train.eval_batch_size": Range(1, MANY),
    "train.seed": Range(0, 2**32 - 1),  # numpy's seed range
    "train.patience": Range(1, MANY),
    "train.lr": Range(0, 10, low_open=True),
    "train.momentum": UNIT,
    "train.weight_decay": Range(0, 10),
    "train.clip": Range(0, 1e6),
    "train.lr_decay": Range(0, 1, low_open=True),
    "train.lr_patience": Range(0, MANY),
    "train.lr_step": Range(0, MANY),
    "train.min_lr": Range(0, 10),
    "train.ema": UNIT,
    "train.threads": Range(1, 4096),
}

# The numeric options of ``model.attention`` layers: (type, allowed values).
ATTENTION_RANGES: dict[str, tuple[type, Range]] = {
    "heads": (int, Range(1, 64)),
    "size": (int, Range(1, 8192)),
    "hidden": (int, Range(1, 8192)),
    "window": (int, Range(1, 1000)),
    "max_distance": (int, Range(1, 10000)),
    "labels": (int, Range(1, 10000)),
    "block": (int, Range(1, 1 << 30)),
    "dropout": (float, UNIT),
}


def silenced_settings(cfg: Config) -> list[str]:
    """Settings that other settings make ineffective, one line each (training logs them as
    warnings; they are legal, since a shared config may be run either way). A setting counts
    when it differs from its default."""
    t, e, m = cfg.train, cfg.embeddings, cfg.model
    changed = _changed(cfg)
    rules = [
        (
            t.lr_step > 0,
            ("train.lr_patience", "train.min_lr"),
            "train.lr_step > 0 decays on a fixed schedule, not on plateaus",
        ),
        (t.optimizer != "sgd", ("train.momentum",), f"train.optimizer is {t.optimizer}, not sgd"),
        (e.freeze, ("embeddings.lr_scale",), "embeddings.freeze keeps the word vectors fixed"),
        (e.pretrained is None, ("embeddings.max_vectors",), "no embeddings.pretrained file"),
        (e.pretrained is not None, ("model.word_dim",), "the pretrained vectors set the size"),
        (cfg.data.dev is not None, ("data.dev_fraction",), "data.dev gives a dev file"),
        (
            m.char_encoder != "cnn",
            ("model.char_kernel",),
            f"model.char_encoder is {m.char_encoder}",
        ),
        (
            m.char_encoder == "none",
            ("model.char_dim", "model.char_hidden"),
            "model.char_encoder is none",
        ),
    ]
    out = []
    for applies, keys, reason in rules:
        ignored = [key for key in keys if key in changed] if applies else []
        if ignored:
            out.append(f"{' and '.join(ignored)} ignored: {reason}")
    return out


def _changed(cfg: Config) -> set[str]:
    """The ``section.key`` names whose values differ from the defaults."""
    defaults, current = Config().to_dict(), cfg.to_dict()
    return {
        f"{section}.{key}"
        for section, values in current.items()
        for key, value in values.items()
        if value != defaults[section][key]
    }


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or start from the defaults) and apply ``key=value`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
            raise ConfigError(f"{path}: cannot read config: {reason}") from None
        raw = parse_yaml(text, str(path)) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    for item in overrides or []:
        apply_override(raw, item)
    return resolve_data_paths(Config.from_dict(raw))


DATA_ROOT_ENV = "TAGGER_DATA"


def resolve_data_paths(cfg: Config, environ: dict[str, str] | None = None) -> Config:
    """Join relative ``data.train/dev/test`` and ``embeddings.pretrained`` paths to the data root:
    ``data.root`` when set, else ``$TAGGER_DATA``; no root leaves them relative to the current
    directory. Absolute paths and ``hf:`` datasets stay as they are."""
    env = os.environ if environ is None else environ
    root = cfg.data.root or env.get(DATA_ROOT_ENV) or None
    if root is None:
        return cfg
    cfg.data.root = str(Path(root).expanduser())

    def join(path: str | None) -> str | None:
        if path is None or path.startswith("hf:") or Path(path).expanduser().is_absolute():
            return path
        return str(Path(cfg.data.root, path))

    d = cfg.data
    d.train, d.dev, d.test = join(d.train), join(d.dev), join(d.test)
    cfg.embeddings.pretrained = join(cfg.embeddings.pretrained)
    return cfg


def parse_yaml(text: str, where: str) -> Any:
    """YAML's safe subset without aliases (``*name``: an alias bomb expands exponentially);
    an error is one line naming ``where`` and the line."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None and not where.startswith("--") else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}{line}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``a.b=value`` override (value parsed as YAML) to a raw config mapping."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. train.batch_size=64")
    *parents, leaf = key.strip().split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {part} is not a section")
    node[leaf] = parse_yaml(value, f"--set {item!r}") if value.strip() else None


def _build(cls: type, raw: Any, prefix: str) -> Any:
    raw = {} if raw is None else raw  # a section with only comments under it
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names, key=str)
    if unknown:
        key = prefix + str(unknown[0])
        raise ConfigError(
            f"unknown config key {key!r}; valid keys here: {', '.join(sorted(names))}"
        )
    values = {}
    for name, value in raw.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key + ".")
        else:
            values[name] = _check(key, hint, value)
    return cls(**values)


def _check(key: str, hint: Any, value: Any) -> Any:
    """Return ``value`` coerced to ``hint`` (int -> float allowed) or raise naming ``key``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(key, inner[0], value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_check(f"{key}[{i}]", args[0], v) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _check_layer(key, value) if key.startswith("model.attention[") else dict(value)
    if hint is float and isinstance(value, str):
        with contextlib.suppress(ValueError):  # YAML 1.1 reads 1e-3 (no dot) as a string
            value = float(value)
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }[hint](value)
    if not ok:
        raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}: expected one of {', '.join(CHOICES[key])}, got {value!r}")
    if key in RANGES:
        RANGES[key].check(key, value)
    return float(value) if hint is float else value


def _check_layer(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Check the numeric options of one ``model.attention`` layer (the layer checks the rest)."""
    for name, value in spec.items():
        if name in ATTENTION_RANGES:
            kind, allowed = ATTENTION_RANGES[name]
            _check(f"{key}.{name}", kind, value)
            allowed.check(f"{key}.{name}", value)
    return dict(spec)
