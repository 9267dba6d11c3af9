"""The wheel: every module of the repository's ``tagger/`` and the shipped configs, which an
installed (non-editable) package finds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

SOURCES = ["pyproject.toml", "README.md", "LICENSE", "cli.py", "tagger", "configs"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory):
    """A wheel built from a copy of the sources by setuptools' PEP 517 hook (what ``pip wheel``
    runs, without pip's start-up)."""
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        ignore = (
            {"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}
        )
        copy(ROOT / name, source / name, **ignore)
    build = "from setuptools import build_meta; build_meta.build_wheel('dist')"  # PEP 517 hook
    done = subprocess.run([sys.executable, "-c", build], capture_output=True, text=True, cwd=source)
    assert done.returncode == 0, done.stderr
    return next((source / "dist").glob("tagger-*.whl"))


def test_the_wheel_holds_every_module_and_config(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tagger").rglob("*.py")}
    assert modules - names == set()  # a subpackage missing from pyproject's list shows here
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert configs and {f"tagger/configs/{p.name}" for p in configs} <= names


def test_an_installed_package_finds_its_configs(wheel, tmp_path) -> None:
    """Unpacked as pip installs it, away from the checkout: ``init config --from`` has them."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import tagger.template as t; c = t.shipped_configs(); "
        "print(t.__file__); print(c['demo']); print(t.shipped_config_text('demo'), end='')"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    module, demo, text = done.stdout.split("\n", 2)
    assert module.startswith(str(site)) and demo == str(site / "tagger/configs/demo.yaml")
    assert text == (ROOT / "configs" / "demo.yaml").read_text(encoding="utf-8")
