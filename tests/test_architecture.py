"""The layering that docs/architecture.md promises: its module table, read top to bottom, is the
import order, and every module of ``tagger/`` has a row. Lazy imports inside functions count."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*`(tagger/[^`]+\.py)`\s*\|")


def table_order() -> dict[str, int]:
    """Each ``tagger/...py`` row of the table and its position (0 = top layer)."""
    rows = [m.group(1) for line in TABLE.read_text().splitlines() if (m := ROW.match(line))]
    return {path: i for i, path in enumerate(rows)}


def package_modules() -> list[str]:
    """Every module under ``tagger/`` (repository-relative), less empty package markers."""
    out = []
    for path in sorted((ROOT / "tagger").rglob("*.py")):
        if path.name == "__init__.py" and not ast.parse(path.read_text()).body:
            continue
        out.append(path.relative_to(ROOT).as_posix())
    return out


def module_path(name: str) -> str | None:
    """The file of a dotted module name (``tagger.data.conll`` -> ``tagger/data/conll.py``)."""
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, file)`` of every ``tagger`` module a module imports, at any depth of its code."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from tagger.data import conll`` imports the module tagger.data.conll
            names = [
                f"{node.module}.{alias.name}"
                if module_path(f"{node.module}.{alias.name}")
                else node.module
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name == "tagger" or name.startswith("tagger."):
                path = module_path(name)
                if path is not None:
                    out.add((node.lineno, path))
    return sorted(out)


def test_every_module_has_a_row() -> None:
    order = table_order()
    missing = [path for path in package_modules() if path not in order]
    assert not missing, f"modules missing from {TABLE.name}'s table: {missing}"


def test_every_row_is_a_module() -> None:
    gone = [path for path in table_order() if not (ROOT / path).is_file()]
    assert not gone, f"{TABLE.name} lists modules that do not exist: {gone}"


def test_imports_follow_the_table() -> None:
    order = table_order()
    wrong = []
    for path in package_modules():
        if path not in order:
            continue  # reported by test_every_module_has_a_row
        tree = ast.parse((ROOT / path).read_text(), path)
        for line, target in imported(tree):
            if target != path and order.get(target, len(order)) > order[path]:
                wrong.append(f"{path}:{line} imports {target}, listed below it")
    assert not wrong, "imports against docs/architecture.md's order:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports() -> None:
    """The parser finds imports inside functions and resolves ``from package import module``."""
    code = "def f():\n    from tagger.data import conll\n    import tagger.scoring\n"
    found = imported(ast.parse(code))
    assert found == [(2, "tagger/data/conll.py"), (3, "tagger/scoring.py")]
