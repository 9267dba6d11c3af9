"""Tests for tagger.config: defaults, YAML + --set overrides, key and type errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.config import Config, ConfigError, load_config
from tagger.errors import TaggerError


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.train.batch_size == 32 and cfg.train.optimizer == "adam"
    assert cfg.model.attention == [{"type": "multihead", "heads": 4}]
    assert cfg.data.train is None and cfg.data.tag_column == -1


def test_yaml_file_then_overrides(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        "data:\n  train: a.conll\n  dev: b.conll\n"
        "model:\n  hidden_size: 64\n  constrain: false\n"
        "train:\n  lr: 0.01\n  batch_size: 8\n",
    )
    cfg = load_config(
        path,
        [
            "train.batch_size=16",  # overrides the file
            "train.lr=0.001",
            "model.dropout=0.25",
            "model.constrain=true",
            "data.dev=null",
            "train.threads=3",
            "model.attention=[{type: multihead, heads: 2}, {type: multihead, heads: 8}]",
        ],
    )
    assert cfg.data.train == "a.conll"  # from the file, untouched
    assert cfg.data.dev is None
    assert cfg.model.hidden_size == 64
    assert cfg.train.batch_size == 16
    assert cfg.model.dropout == 0.25
    assert cfg.model.constrain is True
    assert cfg.train.threads == 3
    assert cfg.model.attention == [
        {"type": "multihead", "heads": 2},
        {"type": "multihead", "heads": 8},
    ]
    assert cfg.train.momentum == 0.9  # untouched default


def test_float_override_forms() -> None:
    cfg = load_config(None, ["train.lr=0.0005", "train.clip=0"])
    assert cfg.train.lr == 0.0005
    assert cfg.train.clip == 0.0 and isinstance(cfg.train.clip, float)


def test_override_value_with_equals_sign_and_empty_value() -> None:
    cfg = load_config(None, ["data.train=dir/a=b.conll", "embeddings.pretrained="])
    assert cfg.data.train == "dir/a=b.conll"
    assert cfg.embeddings.pretrained is None


@pytest.mark.parametrize("source", ["override", "file"])
def test_scientific_notation_float(tmp_path: Path, source: str) -> None:
    if source == "override":
        cfg = load_config(None, ["train.lr=1e-3", "train.min_lr=1e-5"])
    else:
        cfg = load_config(write_yaml(tmp_path, "train:\n  lr: 1e-3\n  min_lr: 1e-5\n"))
    assert cfg.train.lr == 0.001 and cfg.train.min_lr == 1e-5


def test_int_accepted_for_float_and_converted() -> None:
    cfg = load_config(None, ["train.lr=1"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert isinstance(Config.from_dict({"model": {"dropout": 0}}).model.dropout, float)


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.batch_sise=64", "train.batch_sise"),
        ("model.hiden_size=8", "model.hiden_size"),
        ("trian.lr=0.1", "trian"),
    ],
)
def test_unknown_key_names_the_dotted_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert repr(key) in str(info.value)
    assert "unknown" in str(info.value)


def test_unknown_key_in_yaml_file_names_it(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "train:\n  batch_sise: 64\n")
    with pytest.raises(ConfigError, match=r"train\.batch_sise"):
        load_config(path)


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.batch_size=big", "train.batch_size"),
        ("train.batch_size=2.5", "train.batch_size"),
        ("train.batch_size=true", "train.batch_size"),  # a bool is not an int
        ("model.constrain=1", "model.constrain"),  # an int is not a bool
        ("train.lr=fast", "train.lr"),
        ("data.train=[a, b]", "data.train"),
        ("model.attention=multihead", "model.attention"),
        ("model.attention=[3]", "model.attention[0]"),
    ],
)
def test_wrong_type_names_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert str(info.value).startswith(f"{key}:")


def test_section_given_a_scalar() -> None:
    with pytest.raises(ConfigError, match=r"^train: expected a mapping"):
        Config.from_dict({"train": 5})


@pytest.mark.parametrize(
    "override",
    ["train.optimizer=rmsprop", "model.char_encoder=gru", "data.format=json"],
)
def test_choice_keys_reject_other_values(override: str) -> None:
    key, _, value = override.partition("=")
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert str(info.value).startswith(f"{key}:") and value in str(info.value)


def test_choice_keys_accept_listed_values() -> None:
    cfg = load_config(None, ["train.optimizer=sgd", "model.char_encoder=none"])
    assert cfg.train.optimizer == "sgd" and cfg.model.char_encoder == "none"


def test_config_error_is_a_tagger_error() -> None:
    assert issubclass(ConfigError, TaggerError)


@pytest.mark.parametrize("item", ["train.batch_size", "=5", "  =5"])
def test_malformed_override(item: str) -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, [item])


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write_yaml(tmp_path, "train: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write_yaml(tmp_path, "- a\n- b\n"))


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write_yaml(tmp_path, "")) == Config()


def test_round_trip_through_dict(tmp_path: Path) -> None:
    cfg = load_config(
        write_yaml(tmp_path, "data:\n  train: t.conll\n  scheme: iob1\n"),
        ["train.lr=0.5", "model.attention=[{type: multihead, heads: 2}]", "train.threads=2"],
    )
    raw = cfg.to_dict()
    again = Config.from_dict(raw)
    assert again == cfg
    assert again.to_dict() == raw
    assert raw["train"]["lr"] == 0.5 and raw["data"]["scheme"] == "iob1"


def test_demo_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "demo.yaml")
    assert cfg.data.train == "data/wnut17/train.conll"
    assert cfg.model.hidden_size == 128 and cfg.train.seed == 1


def test_every_shipped_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    paths = sorted((root / "configs").glob("*.yaml"))
    assert len(paths) >= 6
    for path in paths:
        cfg = load_config(path)
        assert cfg.data.train, path.name
        if cfg.train.with_dev:  # dev is trained on: it must exist to be merged in
            assert cfg.data.dev or cfg.data.dev_fraction, path.name


def test_data_root_from_key_env_and_option(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TAGGER_DATA", raising=False)
    text = "data:\n  train: c/train.txt\n  test: /abs/test.txt\n  dev: hf:x\n"
    text += "embeddings:\n  pretrained: glove/g.txt\n"
    path = write_yaml(tmp_path, text)
    plain = load_config(path)
    assert plain.data.train == "c/train.txt" and plain.data.root is None  # no root: as written
    monkeypatch.setenv("TAGGER_DATA", "/env")
    cfg = load_config(path)
    assert cfg.data.train == "/env/c/train.txt" and cfg.embeddings.pretrained == "/env/glove/g.txt"
    assert cfg.data.test == "/abs/test.txt" and cfg.data.dev == "hf:x"  # left alone
    assert load_config(path, ["data.root=/key"]).data.train == "/key/c/train.txt"  # key wins


def test_demo_config_ignores_the_data_root_variable(monkeypatch) -> None:
    monkeypatch.setenv("TAGGER_DATA", "/elsewhere")
    root = Path(__file__).resolve().parents[1]
    assert load_config(root / "configs" / "demo.yaml").data.train == "data/wnut17/train.conll"


def test_no_shipped_config_names_a_folder_outside_the_data_root() -> None:
    root = Path(__file__).resolve().parents[1]
    for path in (root / "configs").glob("*.yaml"):
        assert "../" not in path.read_text(encoding="utf-8"), path.name
