"""Helpers for the reliability tests: tiny runs through the CLI, in process or as a child."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import tiny_overrides
from typer.testing import CliRunner

from cli import app

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: object, input: str | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def train_args(data: Path, cache: Path, *extra: str, epochs: int = 1) -> list[str]:
    """``train`` arguments (without --output) for a tiny model on ``data`` (dev = data)."""
    items = tiny_overrides(cache, **{"train.max_epochs": epochs})
    items += [f"data.train={data}", f"data.dev={data}", "data.test=null", *extra]
    return ["train", str(ROOT / "configs" / "demo.yaml"), "--quiet", *sets(*items)]


def one_error_line(result, *fragments: str, code: int = 2) -> str:
    """Assert exit status ``code`` and exactly one ``error:`` line on stderr; return it."""
    cli = hasattr(result, "exit_code")  # a CliRunner result, else a CompletedProcess
    stderr = result.stderr
    status = result.exit_code if cli else result.returncode
    output = result.output if cli else result.stdout + result.stderr
    assert status == code, (status, output)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


def child_env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_DATASETS_CACHE": str(cwd / "hf-cache")}


def child(args: list[str], cwd: Path, **options) -> subprocess.Popen:
    """``python -m tagger ARGS`` as a child process with stdout and stderr captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "tagger", *map(str, args)],
        cwd=cwd,
        env=child_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )
