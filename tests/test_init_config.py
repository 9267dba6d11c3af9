"""`tagger init config`: a commented config with every key and default that loads and trains;
the configs shipped inside the package."""

from __future__ import annotations

import dataclasses

import yaml
from conftest import ROOT, tiny_overrides
from typer.testing import CliRunner

from cli import app
from tagger.config import Config, load_config
from tagger.template import default_config_text, field_comments, shipped_configs


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_default_config_has_every_key_with_its_default(monkeypatch, tmp_path):
    monkeypatch.delenv("TAGGER_DATA", raising=False)
    text = default_config_text()
    raw = yaml.safe_load(text)
    for section in dataclasses.fields(Config):
        body = getattr(Config(), section.name)
        assert list(raw[section.name]) == [f.name for f in dataclasses.fields(body)]
    path = tmp_path / "all.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path) == Config()


def test_comments_come_from_the_dataclass_source():
    text = default_config_text()
    comments = field_comments(type(Config().train))
    assert comments["lr_step"] in text
    assert "  optimizer: adam  # adam | adamw | sgd" in text.splitlines()


def test_init_config_writes_a_file_that_trains(tmp_path, wnut40):
    path = tmp_path / "my.yaml"
    result = invoke("init", "config", "--output", path)
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == default_config_text()
    sets = tiny_overrides(tmp_path / "cache", **{"data.train": wnut40, "train.max_epochs": 1})
    args = ["train", path, "--output", tmp_path / "run", "--quiet", "--json"]
    result = invoke(*args, *[x for s in sets for x in ("--set", s)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_init_config_never_replaces_a_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("precious\n", encoding="utf-8")
    result = invoke("init", "config", "--output", path)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert path.read_text(encoding="utf-8") == "precious\n"


def test_init_config_from_a_shipped_config(tmp_path):
    result = invoke("init", "config", "--from", "demo")
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "configs" / "demo.yaml").read_text(encoding="utf-8")
    result = invoke("init", "config", "--from", "nope")
    assert result.exit_code == 2 and "conll2003" in result.stderr


def test_shipped_configs_are_the_repository_configs_and_package_data():
    shipped = shipped_configs()
    assert sorted(shipped) == sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    for name, path in shipped.items():
        assert path.read_bytes() == (ROOT / "configs" / f"{name}.yaml").read_bytes()
    assert not (ROOT / "tagger" / "configs").exists()  # one copy: configs/ (test_packaging.py)
