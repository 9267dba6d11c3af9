"""bench/report.py's busy check: busy measurements named, a busy run refused or marked."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bench_module


def load_report() -> object:
    return bench_module("report")


def test_busy_notes_name_each_busy_measurement_with_steal_counted() -> None:
    report = load_report()
    runs = {
        1: {"tag": {"wall_s": 10.0, "other_cpu_s": 0.2}, "train": {"wall_s": 10.0}},
        2: {"tag": {"wall_s": 10.0, "other_cpu_s": 0.3, "steal_s": 0.3}},
    }
    assert report.busy_notes(runs) == ["2.tag: 0.6 s of 10.0 s"]
    both = ["1.tag: 0.2 s of 10.0 s", "2.tag: 0.6 s of 10.0 s"]
    assert report.busy_notes(runs, limit=0.01) == both


def test_a_busy_run_writes_nothing_unless_allowed_and_then_is_marked(tmp_path: Path) -> None:
    report = load_report()
    busy = {"busy": ["tag: 3.0 s of 10.0 s"], "x": 1}
    assert not report.save_unless_busy(busy, tmp_path, "speed", "| table |\n", False)
    assert list(tmp_path.iterdir()) == []
    assert report.save_unless_busy(busy, tmp_path, "speed", "| table |\n", True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speed-busy.json", "speed-busy.md"]
    assert "Busy machine" in (tmp_path / "speed-busy.md").read_text()
    assert report.save_unless_busy({"busy": []}, tmp_path, "idle", "| table |\n", False)
    assert (tmp_path / "idle.md").read_text() == "| table |\n"


def test_watch_counts_other_processes_cpu_from_proc_stat(monkeypatch: pytest.MonkeyPatch) -> None:
    report = load_report()
    readings = iter([100.0, 103.0])  # the machine's busy CPU seconds before and after
    monkeypatch.setattr(report, "busy_cpu_seconds", lambda: next(readings))
    with report.Watch() as watch:
        pass
    figures = watch.figures()
    assert 2.9 < figures["other_cpu_s"] <= 3.0  # 3 s of machine time, almost none of it ours
    other, wall = figures["other_cpu_s"], figures["wall_s"]
    assert report.busy_notes({"m": figures}) == [f"m: {other:.1f} s of {wall:.1f} s"]
