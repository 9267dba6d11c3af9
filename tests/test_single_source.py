"""Config as the single source of truth (issue 23, item 4): every range is checked at its key
through the CLI, settings that others silence are named, format choices come from the reader's
table."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_run import ROOT, invoke, one_error_line, train_args

from tagger.config import RANGES, Config, Range, load_config, silenced_settings
from tagger.data.chunks import FORMATS
from tagger.template import shipped_configs

DEMO = ROOT / "configs" / "demo.yaml"


def outside(allowed: Range) -> list[float]:
    """Values just beyond each end of ``allowed`` (the end itself where it is open)."""
    return [
        allowed.low if allowed.low_open else allowed.low - 1,
        allowed.high if allowed.high_open else allowed.high + 1,
    ]


CASES = [(key, value) for key, allowed in RANGES.items() for value in outside(allowed)]


@pytest.mark.parametrize(("key", "value"), [*CASES, ("model.dropout", 1.0)])
def test_every_range_is_one_error_line_naming_the_key(tmp_path: Path, key: str, value) -> None:
    out = tmp_path / "run"
    result = invoke("train", DEMO, "--set", f"{key}={value}", "--output", out, "--quiet")
    one_error_line(result, key)
    assert not out.exists()


def test_defaults_and_shipped_configs_silence_nothing() -> None:
    assert silenced_settings(Config()) == []
    for name, path in shipped_configs().items():
        assert silenced_settings(load_config(path)) == [], name


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (["train.lr_step=2", "train.lr_patience=0"], ["train.lr_patience", "train.lr_step"]),
        (["train.lr_step=2", "train.min_lr=0.1"], ["train.min_lr"]),
        (["embeddings.freeze=true", "embeddings.lr_scale=0.1"], ["embeddings.lr_scale"]),
        (["train.momentum=0.5"], ["train.momentum", "adam"]),
        (["model.char_encoder=none", "model.char_dim=4"], ["model.char_dim"]),
    ],
)
def test_silenced_settings_are_named(sets: list[str], named: list[str]) -> None:
    lines = silenced_settings(load_config(None, sets))
    assert len(lines) == 1 and all(key in lines[0] for key in named), lines
    assert silenced_settings(load_config(None, sets[1:])) == []  # alone it is in effect


def test_training_warns_of_silenced_settings_and_of_no_dev_set(tmp_path, wnut40) -> None:
    """Even with --quiet: one warning per silenced setting, and what picks the kept epoch when
    there is no dev set (the training data itself), after everything was validated."""
    extra = ("train.lr_step=2", "train.lr_patience=0", "data.dev=null")
    args = train_args(wnut40, tmp_path / "cache", *extra)
    result = invoke(*args, "--output", tmp_path / "run")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert "train.lr_patience" in warnings[0] and "lr_step" in warnings[0]
    assert "no dev set" in warnings[1] and "training data" in warnings[1]
    with_dev = invoke(*train_args(wnut40, tmp_path / "cache"), "--output", tmp_path / "dev")
    assert with_dev.exit_code == 0 and "warning" not in with_dev.stderr


def test_format_choices_come_from_the_reader() -> None:
    import cli
    from tagger.data.sniff import WRITE_MODES
    from tagger.data.text import SPLITS
    from tagger.records import OUTPUT_FORMATS

    assert tuple(member.value for member in cli.InputFormat) == FORMATS
    tables = {cli.OutputFormat: OUTPUT_FORMATS, cli.Split: SPLITS, cli.WriteMode: WRITE_MODES}
    for enum, table in tables.items():
        assert tuple(member.value for member in enum) == table
    for fmt in FORMATS:
        assert load_config(None, [f"data.format={fmt}"]).data.format == fmt


def test_the_cli_starts_without_the_reading_chain() -> None:
    """Only the readers' light table module is imported with the CLI (start-up time)."""
    import subprocess
    import sys

    code = "import sys, cli; print(' '.join(m for m in sys.modules if m.startswith('tagger.')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) <= {"tagger.data", "tagger.data.chunks", "tagger.errors"}
