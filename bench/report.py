"""Writing a benchmark's results: ``NAME.json`` (every number) and ``NAME.md`` (the table)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

# the corpora beside the checkout (development and CI); the configs' data root by default
DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


def cpu_info() -> dict[str, str]:
    """The first CPU's fields of /proc/cpuinfo ("model name", "flags", ...); empty elsewhere."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    fields = [line.split(":", 1) for line in lines if ":" in line]
    return {k.strip(): v.strip() for k, v in reversed(fields)}  # the first CPU's values win


def machine() -> str:
    """The CPU's model name and logical CPU count, e.g. "AMD EPYC, 2 logical CPUs": scores and
    speeds differ between machines (float rounding follows the CPU's SIMD kernels)."""
    name = cpu_info().get("model name", platform.processor() or "CPU")
    return f"{name}, {os.cpu_count()} logical CPUs"


def save(report: dict[str, Any], folder: str | Path, name: str, text: str) -> None:
    """Write ``report`` as JSON and ``text`` as markdown to ``folder/name.{json,md}``; print."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / name
    Path(f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    Path(f"{stem}.md").write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"wrote {stem}.json and {stem}.md")
