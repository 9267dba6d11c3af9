"""Reproduce one row of docs/results.md: train a config once per seed, collect the test scores.

    python bench/accuracy.py configs/conll2000.yaml --seeds 1 [--threads 1] [--set KEY=VALUE ...]

For each seed it runs ``tagger train CONFIG --output RUNS/<name>-s<seed> --set train.seed=<seed>``
(plus ``train.threads`` and any ``--set``), in a subprocess, and reads the run's
``metrics.jsonl``: best epoch, epochs run, dev and test score, wall time. A finished run
directory is reused, not retrained (delete it to retrain). Writes
``bench/results/accuracy-<name>.json`` and ``.md`` (mean ± std over the seeds and every seed's
score) and prints the markdown. The score is micro F1 for entity tag sets, accuracy otherwise.
Each run's wall time is kept in ``RUN/accuracy-wall.json``, so a reused run reports it too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report import DATA_ROOT, machine, save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WALL = "accuracy-wall.json"  # beside each run: the wall time of its training command


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=None, help="train.threads (default: all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--data-root", default=str(DATA_ROOT), help="the configs' data root")
    parser.add_argument("--name", help="row name (default: the config's file name)")
    parser.add_argument("--runs", default=str(ROOT / "runs"), help="folder for the run folders")
    parser.add_argument("--output", default=str(RESULTS), help="folder for the results")
    return parser.parse_args(argv)


def headline(report: dict[str, Any]) -> float:
    """Micro F1 (entity tag sets) or accuracy (plain tag sets), in percent."""
    value = report["micro"]["f1"] if "micro" in report else report["accuracy"]
    return 100 * value


def train_seed(args: argparse.Namespace, name: str, seed: int) -> dict[str, Any]:
    run = Path(args.runs) / f"{name}-s{seed}"
    command = [sys.executable, "-m", "tagger", "train", args.config, "--output", str(run)]
    command += ["--quiet", "--data-root", args.data_root, "--set", f"train.seed={seed}"]
    if args.threads:
        command += ["--set", f"train.threads={args.threads}"]
    for override in args.overrides:
        command += ["--set", override]
    wall = None
    if not _finished(run):
        print(f"  seed {seed}: {' '.join(command[1:])}", flush=True)
        env = dict(os.environ)
        if args.threads:
            env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, env=env)
        wall = time.perf_counter() - started
        (run / WALL).write_text(json.dumps({"wall_s": wall}) + "\n", encoding="utf-8")
    elif (run / WALL).is_file():  # a reused run keeps the wall time measured when it ran
        wall = json.loads((run / WALL).read_text(encoding="utf-8"))["wall_s"]
    return summarize(run, seed, command, wall)


def _finished(run: Path) -> bool:
    metrics = run / "metrics.jsonl"
    return metrics.is_file() and '"event": "test"' in metrics.read_text(encoding="utf-8")


def summarize(run: Path, seed: int, command: list[str], wall: float | None) -> dict[str, Any]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(x) for x in lines]
    epochs = [e for e in entries if "epoch" in e and "event" not in e]
    test = next(e for e in entries if e.get("event") == "test")
    best = [e for e in epochs if e.get("best")][-1]  # the epoch whose model was kept
    train_s = sum(e["seconds"] for e in epochs)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))["config"]
    with_dev = config["train"].get("with_dev", False)  # dev was training data: no dev score
    return {
        "seed": seed,
        "run": str(run),
        "command": "tagger " + " ".join(command[3:]),
        "test": headline(test),
        "metric": "micro F1" if "micro" in test else "accuracy",
        "dev": None if with_dev else headline(best["dev"]),
        "best_epoch": best["epoch"],
        "epochs": len(epochs),
        "wall_s": wall,
        "train_s": train_s,
    }


def markdown(report: dict[str, Any]) -> str:
    seeds = report["seeds"]
    scores = ", ".join(f"{s['test']:.2f} (seed {s['seed']})" for s in seeds)
    lines = [
        f"# {report['name']}: {report['mean']:.2f} ± {report['std']:.2f} ({report['metric']})",
        "",
        f"`{report['command']}` — {report['date']}, {report['machine']}",
        "",
        f"Test scores: {scores}.",
        "",
        "| seed | test | dev (best) | kept epoch | epochs | wall min | command |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in seeds:
        wall = "–" if s["wall_s"] is None else f"{s['wall_s'] / 60:.1f}"
        dev = "– (trained on)" if s["dev"] is None else f"{s['dev']:.2f}"
        lines.append(
            f"| {s['seed']} | {s['test']:.2f} | {dev} | {s['best_epoch']} | "
            f"{s['epochs']} | {wall} | `{s['command']}` |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    name = args.name or Path(args.config).stem
    print(f"{name}: seeds {args.seeds}")
    seeds = [train_seed(args, name, seed) for seed in args.seeds]
    scores = [s["test"] for s in seeds]
    report = {
        "name": name,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "python bench/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "metric": seeds[0]["metric"],
        "mean": statistics.mean(scores),
        "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
        "seeds": seeds,
    }
    save(report, args.output, f"accuracy-{name}", markdown(report))


if __name__ == "__main__":
    main()
