"""Writing a benchmark's results: ``NAME.json`` (every number) and ``NAME.md`` (the table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
