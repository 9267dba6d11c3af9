"""Starting configs: a commented YAML of every key and default (from the dataclasses of
``tagger/config.py``, so it cannot drift from them), and the configs shipped with the package."""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
from importlib import resources
from pathlib import Path
from typing import Any

from tagger.config import CHOICES, Config
from tagger.errors import TaggerError


def shipped_configs() -> dict[str, Path]:
    """The configs that come with the package (``tagger.configs``: the repository's ``configs/``,
    mapped by pyproject.toml) by name: ``{"demo": .../demo.yaml, ...}``."""
    try:
        found = [Path(str(p)) for p in resources.files("tagger.configs").iterdir()]
    except (ImportError, OSError, ValueError):  # not installed, or a stale editable install
        found = []
    if not any(p.suffix == ".yaml" for p in found):  # a checkout used without (re)installing
        found = list((Path(__file__).resolve().parents[1] / "configs").iterdir())
    return {p.stem: p for p in sorted(found) if p.suffix == ".yaml"}


def shipped_config_text(name: str) -> str:
    """The text of the shipped config ``name`` (``demo``, ``conll2003``, ...), comments kept."""
    found = shipped_configs()
    if name not in found:
        raise TaggerError(f"--from {name}: no such shipped config; choose from {', '.join(found)}")
    return found[name].read_text(encoding="utf-8")


def field_comments(cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field line in ``cls``'s source, by field name."""
    source = inspect.getsource(cls)
    comments: dict[str, str] = {}
    name = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NEWLINE:
            name = None
        elif token.type == tokenize.NAME and name is None and token.start[1] == 4:
            name = token.string  # the first name on a line of the class body
        elif token.type == tokenize.COMMENT and name is not None:
            comments[name] = token.string.lstrip("# ").strip()
    return comments


def _value(value: Any) -> str:
    """One YAML scalar or flow collection (``null``, ``0.002``, ``[{type: multihead}]``)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def default_config_text() -> str:
    """A YAML config listing every section and key with its default and a comment; loading it
    gives ``Config()``. PyYAML writes no comments, hence the hand-made layout."""
    lines = [
        "# A tagger config: every key with its default (tagger init config).",
        "# Relative data paths are read from data.root, else $TAGGER_DATA, else the current",
        "# directory. Override any key on the command line: --set train.max_epochs=5",
    ]
    defaults = Config()
    for section in dataclasses.fields(Config):
        body = getattr(defaults, section.name)
        lines += ["", f"{section.name}:  # {_first_line(type(body).__doc__)}"]
        comments = field_comments(type(body))
        for item in dataclasses.fields(body):
            key = f"{section.name}.{item.name}"
            notes = [comments.get(item.name, "")]
            if key in CHOICES and "|" not in notes[0]:
                notes.append(" | ".join(str(c) for c in CHOICES[key]))
            note = "; ".join(n for n in notes if n)
            entry = f"  {item.name}: {_value(getattr(body, item.name))}"
            lines.append(f"{entry}  # {note}" if note else entry)
    return "\n".join(lines) + "\n"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""
