"""Writing a benchmark's results: ``NAME.json`` (every number) and ``NAME.md`` (the table); the
busy check that every benchmark shares (a run during which other processes took CPU is refused,
or with ``--allow-busy`` written marked busy)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
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


def commit() -> str:
    """The checkout's short commit hash ("unknown" outside git)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run_facts(started: float, load_start: float) -> dict[str, Any]:
    """What every results file records about its run: machine, commit, date, the load average
    at start (``load_start``, from ``os.getloadavg``) and end, and the wall time since
    ``started`` (a ``time.perf_counter`` reading)."""
    return {
        "machine": machine(),
        "commit": commit(),
        "date": datetime.date.today().isoformat(),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "wall_s": time.perf_counter() - started,
    }


def facts_line(report: dict[str, Any]) -> str:
    """:func:`run_facts` of ``report`` as one markdown sentence, then its command."""
    return (
        f"Machine: {report['machine']}; load average {report['load_start']:.2f} at start, "
        f"{report['load_end']:.2f} at end; commit {report['commit']}; {report['date']}; wall "
        f"{report['wall_s']:.0f} s.\nCommand: `{report['command']}`"
    )


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


# ----------------------------------------------------------------------------- busy machines

BUSY_LIMIT = 0.05  # other processes' CPU time above this share of a measurement's wall: busy


def busy_cpu_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot, steal included (/proc/stat); None
    where there is no /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
        fields = [int(x) for x in first.split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Watch:
    """Wall time and the CPU time other processes took during a stretch of this process:
    ``with Watch() as w: ...`` then ``w.figures()`` -> ``{"wall_s", "other_cpu_s"}``."""

    def __enter__(self) -> Watch:
        self.machine, self.own = busy_cpu_seconds(), time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.started
        own, after = time.process_time() - self.own, busy_cpu_seconds()
        known = self.machine is not None and after is not None
        self.other = max(0.0, after - self.machine - own) if known else 0.0

    def figures(self) -> dict[str, float]:
        return {"wall_s": self.wall, "other_cpu_s": self.other}


def busy_notes(measurements: Any, limit: float = BUSY_LIMIT, name: str = "") -> list[str]:
    """``"path: X s of Y s"`` for each measurement in the nested dicts ``measurements`` (a dict
    with ``wall_s`` and ``other_cpu_s``, plus ``steal_s`` if measured apart) during which other
    processes or the hypervisor took more than ``limit`` of its wall time."""
    if not isinstance(measurements, dict):
        return []
    if "wall_s" in measurements and "other_cpu_s" in measurements:
        other = measurements["other_cpu_s"] + measurements.get("steal_s", 0.0)
        wall = measurements["wall_s"]
        return [f"{name}: {other:.1f} s of {wall:.1f} s"] if other > limit * wall else []
    notes = []
    for key, value in measurements.items():
        notes += busy_notes(value, limit, f"{name}.{key}" if name else str(key))
    return notes


def add_busy_flag(parser: argparse.ArgumentParser) -> None:
    """``--allow-busy``: write the table of a busy run anyway, marked busy (smoke tests)."""
    parser.add_argument(
        "--allow-busy",
        action="store_true",
        help="write the results even when other processes took CPU, marked busy",
    )


def save_unless_busy(
    report: dict[str, Any], folder: str | Path, name: str, text: str, allow_busy: bool
) -> bool:
    """:func:`save` when no measurement was busy (``report["busy"]``, from :func:`busy_notes`).
    A busy run is refused (the table printed to stderr, nothing written, False returned) unless
    ``allow_busy``: then it is written as ``NAME-busy.*`` with the busy measurements named."""
    notes = report.get("busy", [])
    if not notes:
        save(report, folder, name, text)
        return True
    print("busy machine: " + "; ".join(notes), file=sys.stderr)
    if not allow_busy:
        print(text, file=sys.stderr)
        print("refusing to write results: the machine was busy (--allow-busy)", file=sys.stderr)
        return False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text += (
        f"\n**Busy machine** (load average {load:.2f}): other processes took CPU during "
        + "; ".join(notes)
        + ". Compare rows of this run with each other, not with runs on an idle machine."
    )
    save(report, folder, f"{name}-busy", text + "\n")
    return True
