"""Tagging a large CoNLL file: bounded memory, input order kept, the same speed as a small file.

    python bench/bigfile.py [--sizes-mb 100 1024] [--threads 1] [--workers 1] [--model RUN_DIR]

Builds CoNLL files of the given sizes by repeating CoNLL-2003 ``test.txt`` (whole copies, so
every ``-DOCSTART-`` and blank line stays in place), then tags test.txt and each big file with
``tagger predict MODEL FILE --output OUT`` in a subprocess whose stderr is a pseudo-terminal, so
that the progress bar runs exactly as a user sees it. While it runs, the resident memory of the
process and its children is sampled every 0.2 s from ``/proc``. Afterwards the output is checked
line by line against the input: same number of lines, every non-token line unchanged, every
token line's token unchanged and one tag set. Reported per file: tokens, wall time, tokens/s,
peak RSS, progress-bar updates seen, the order check. Without ``--model`` the speed benchmark's
network (bench/speed.py: word 100d + char BiLSTM + BiLSTM 256 + CRF) is trained for one epoch on
the first 3000 training sentences; the weights' values do not change the speed.

Writes ``bench/results/bigfile-<date>.json`` and ``.md`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from report import machine, save

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "conll2003"
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 1024])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", help="a model directory (default: train the speed network)")
    parser.add_argument("--data", default=str(DATA), help="folder with train.txt and test.txt")
    parser.add_argument("--work", help="folder for the big files (default: a temporary one)")
    parser.add_argument("--output", default=str(RESULTS), help="folder for the results")
    return parser.parse_args(argv)


def make_model(data: Path, work: Path, threads: int) -> Path:
    """The speed benchmark's network, trained one epoch on 3000 sentences."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import speed

    stats = speed.prepare_data(speed.parse_args(["--data", str(data)]), work)
    model = work / "model"
    speed.worker_tagger_train({"threads": threads, "data": stats, "model": str(model), "repeat": 1})
    return model


def build_file(source: Path, target: Path, megabytes: float) -> int:
    """Write whole copies of ``source`` to ``target`` until it holds ``megabytes``; return bytes."""
    chunk = source.read_bytes()
    if not chunk.endswith(b"\n"):
        chunk += b"\n"
    copies = max(1, round(megabytes * 2**20 / len(chunk)))
    with open(target, "wb") as out:
        for _ in range(copies):
            out.write(chunk)
    return copies * len(chunk)


def tree_rss_mb(pid: int) -> float:
    """Resident memory (MB) of ``pid`` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def run_predict(
    model: Path, source: Path, target: Path, threads: int, workers: int
) -> dict[str, Any]:
    """``tagger predict`` on a pseudo-terminal stderr; wall time, peak RSS, progress updates."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["HF_DATASETS_OFFLINE"] = "1"
    command = [sys.executable, "-m", "tagger", "predict", str(model), str(source)]
    command += ["--output", str(target), "--workers", str(workers)]
    master, slave = pty.openpty()
    started = time.perf_counter()
    child = subprocess.Popen(command, stderr=slave, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    os.close(slave)
    screen = bytearray()
    reader = threading.Thread(target=_drain, args=(master, screen), daemon=True)
    reader.start()
    peak, samples = 0.0, 0
    while child.poll() is None:
        peak = max(peak, tree_rss_mb(child.pid))
        samples += 1
        time.sleep(0.2)
    wall = time.perf_counter() - started
    reader.join(timeout=5)
    text = screen.decode("utf-8", "replace")
    if child.returncode != 0:
        raise RuntimeError(f"tagger predict failed ({child.returncode}):\n{text[-2000:]}")
    return {
        "wall_s": wall,
        "peak_rss_mb": peak,
        "rss_samples": samples,
        "progress_updates": text.count("tok/s"),
        "progress_tail": text.strip().splitlines()[-1][-120:] if text.strip() else "",
    }


def _drain(fd: int, screen: bytearray) -> None:
    """Read the pseudo-terminal until the child closes it; keep the last 64 KB."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        screen.extend(data)
        del screen[: max(0, len(screen) - 65536)]
    os.close(fd)


def check_output(source: Path, target: Path) -> dict[str, Any]:
    """Same line count; non-token lines unchanged; token lines keep their token, add one tag."""
    lines = tokens = 0
    with open(source, encoding="utf-8") as gold, open(target, encoding="utf-8") as pred:
        for lines, (a, b) in enumerate(zip(gold, pred, strict=True), 1):
            fields, out = a.split(), b.split()
            if not fields or fields[0] == "-DOCSTART-":
                if a.rstrip("\n") != b.rstrip("\n"):
                    raise AssertionError(f"line {lines}: {a!r} became {b!r}")
                continue
            if len(out) != len(fields) or out[0] != fields[0]:
                raise AssertionError(f"line {lines}: {a!r} became {b!r}")
            tokens += 1
    return {"lines": lines, "tokens": tokens, "order_kept": True}


def measure(
    model: Path, path: Path, work: Path, args: argparse.Namespace, startup: float = 0.0
) -> dict[str, Any]:
    target = work / f"{path.stem}.pred"
    print(f"  tagging {path.name} ({path.stat().st_size / 2**20:,.0f} MB) ...", flush=True)
    result = run_predict(model, path, target, args.threads, args.workers)
    result.update(check_output(path, target))
    result["bytes"] = path.stat().st_size
    result["tokens_per_s"] = result["tokens"] / result["wall_s"]
    result["tagging_s"] = max(result["wall_s"] - startup, 1e-9)
    result["tagging_tokens_per_s"] = result["tokens"] / result["tagging_s"]
    target.unlink()
    print(
        f"    {result['tokens']:,} tokens in {result['wall_s']:.1f} s = "
        f"{result['tokens_per_s']:,.0f} tok/s ({result['tagging_tokens_per_s']:,.0f} after "
        f"start-up), peak RSS {result['peak_rss_mb']:,.0f} MB"
    )
    return result


def measure_startup(model: Path, source: Path, work: Path, args: argparse.Namespace) -> float:
    """Wall seconds of ``tagger predict`` on the first sentence of ``source`` (best of 3)."""
    first = source.read_text(encoding="utf-8").split("\n\n")[1] + "\n\n"  # after -DOCSTART-
    path = work / "one-sentence.txt"
    path.write_text(first, encoding="utf-8")
    walls = [run_predict(model, path, work / "one.pred", args.threads, 1)["wall_s"] for _ in "abc"]
    return min(walls)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Large-file tagging, {report['date']}",
        "",
        f"`{report['command']}`",
        "",
        f"`tagger predict` with {report['threads']} thread(s), {report['workers']} worker(s); "
        "files built from whole copies of CoNLL-2003 test.txt. Wall time includes start-up and "
        f"model loading; start-up ({report['startup_s']:.2f} s: `tagger predict` on a "
        "one-sentence file) is subtracted for the tagging rate. Peak RSS: the process tree, "
        "sampled every 0.2 s.",
        "",
        "| file | MB | tokens | wall s | tok/s (wall) | tok/s (tagging) | peak RSS MB | "
        "progress updates | order kept |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in report["runs"].items():
        lines.append(
            f"| {name} | {r['bytes'] / 2**20:,.0f} | {r['tokens']:,} | {r['wall_s']:,.1f} | "
            f"{r['tokens_per_s']:,.0f} | {r['tagging_tokens_per_s']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['progress_updates']:,} | "
            f"{'yes' if r['order_kept'] else 'NO'} |"
        )
    lines += ["", f"- Machine: {report['machine']}; load average at start {report['load']:.2f}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data = Path(args.data)
    work = Path(args.work or tempfile.mkdtemp(prefix="tagger-bigfile-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    try:
        model = Path(args.model) if args.model else make_model(data, work, args.threads)
        startup = measure_startup(model, data / "test.txt", work, args)
        runs = {"test.txt": measure(model, data / "test.txt", work, args, startup)}
        for size in args.sizes_mb:
            path = work / f"big-{size:g}MB.txt"
            build_file(data / "test.txt", path, size)
            runs[path.name] = measure(model, path, work, args, startup)
            path.unlink()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "python bench/bigfile.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "threads": args.threads,
        "workers": args.workers,
        "machine": machine(),
        "load": load,
        "startup_s": startup,
        "runs": runs,
    }
    save(report, args.output, f"bigfile-{report['date']}", markdown(report))


if __name__ == "__main__":
    main()
