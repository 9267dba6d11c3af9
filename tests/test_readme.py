"""The README's Python example runs as written (on a tiny model instead of a trained demo),
after the quick start (``runs/demo`` exists) and a second time (README followed twice)."""

from __future__ import annotations

import re

from conftest import ROOT, tiny_overrides


def test_readme_python_block(tmp_path, wnut40, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Python\n\n```python\n(.*?)```", text, re.S).group(1)
    sets = tiny_overrides(tmp_path / "cache", **{"data.train": wnut40, "data.dev": wnut40})
    sets = ", ".join(repr(s) for s in [*sets, "data.test=null"])
    block = block.replace('["train.max_epochs=3"]', f"[{sets}, 'train.max_epochs=1']")
    block = block.replace('"configs/demo.yaml"', repr(str(ROOT / "configs" / "demo.yaml")))
    block = block.replace('"data/wnut17/test.conll"', repr(str(wnut40)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "demo").mkdir(parents=True)  # what the quick start leaves
    (tmp_path / "runs" / "demo" / "model.safetensors").write_bytes(b"the quick start's model")
    for _ in range(2):
        exec(compile(block, "README.md", "exec"), {})
        out = capsys.readouterr().out
        assert "'f1'" in out and "precision" in out
    assert (
        tmp_path / "runs" / "demo" / "model.safetensors"
    ).read_bytes() == b"the quick start's model"


def test_quick_start_has_no_commit_hashes_or_timings():
    """Times depend on the reader's machine and hashes on the history: neither belongs there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("## Train on your own data")]
    assert "tagged 1,287 sentences" in section  # the section found, samples in it
    assert not re.findall(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", section)
    units = r"(?:s|secs?|seconds?|mins?|minutes?|ms|tok/s|tokens/s)\b"
    assert not re.findall(r"\d[\d,.]* ?" + units, section)
