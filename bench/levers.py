"""Lever ablation: what each modelling choice is worth, on a corpus's dev set.

    python bench/levers.py configs/conll2003.yaml --epochs 8 --parallel 2 --threads 1

Trains the config as it is ("all") and once per lever with that lever turned off (or, for
levers the config does not use, turned on), each for ``--epochs`` epochs in its own
``tagger train`` process (``--parallel`` at a time), with no test set; reports each run's best
dev score and its difference from "all". A short budget measures what each lever is worth early
in training, which is not always what it is worth at convergence: the report says so.
Writes ``bench/results/levers-<config name>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from accuracy import headline
from report import DATA_ROOT, save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# name -> (what changes, overrides)
LEVERS: dict[str, tuple[str, list[str]]] = {
    "all": ("the config as it is", []),
    "bio": ("BIO (IOB2) instead of IOBES as the training scheme", ["data.train_scheme=iob2"]),
    "no-casing": ("no casing feature", ["model.casing_dim=0"]),
    "no-char": ("no character CNN", ["model.char_encoder=none"]),
    "no-dropout": ("no dropout on embeddings and LSTM outputs", ["model.dropout=0.0"]),
    "no-word-dropout": ("no word dropout (<unk> replacement)", ["model.word_dropout=0.0"]),
    "sgd": (
        "SGD (lr 0.015, momentum 0.9, clip 5) instead of Adam",
        ["train.optimizer=sgd", "train.lr=0.015", "train.momentum=0.9"],
    ),
    "no-constraints": ("no transition constraints in the CRF", ["model.constrain=false"]),
    "no-pretrained": ("word vectors trained from scratch (100d)", ["embeddings.pretrained=null"]),
    "document": (
        "document-level context: the multi-head layer attends over the document",
        ["model.attention=[{type: multihead, heads: 4, scope: document}]"],
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="train.threads per run")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "levers"))
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--data-root", default=str(DATA_ROOT), help="the config's data root")
    return parser.parse_args(argv)


def train_lever(args: argparse.Namespace, lever: str) -> dict[str, Any]:
    """Train one variant; return its best dev score, best epoch and wall time."""
    run = Path(args.runs) / lever
    sets = [f"train.max_epochs={args.epochs}", f"train.seed={args.seed}", "data.test=null"]
    sets += [f"train.threads={args.threads}", f"train.patience={args.epochs}"]
    sets += [f"data.cache_dir={Path(args.runs) / ('arrow-' + lever)}"]  # no shared cache lock
    sets += LEVERS[lever][1]
    config = str(Path(args.config).resolve())  # the runs start in the repository root
    command = [sys.executable, "-m", "tagger", "train", config, "--output", str(run)]
    command += [
        "--quiet",
        "--overwrite",
        "--data-root",
        args.data_root,
        *[x for s in sets for x in ("--set", s)],
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{lever} failed:\n{done.stderr[-2000:]}")
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [m for m in lines if "epoch" in m]
    best = max(epochs, key=lambda m: headline(m["dev"]))
    return {
        "lever": lever,
        "change": LEVERS[lever][0],
        "dev": headline(best["dev"]),
        "best_epoch": best["epoch"],
        "epochs": len(epochs),
        "wall_s": time.perf_counter() - started,
        "command": " ".join(command),
    }


def markdown(report: dict[str, Any]) -> str:
    rows = {r["lever"]: r for r in report["rows"]}
    base = rows.get("all")
    lines = [
        f"# Lever ablation: {report['config']}, dev set, {report['date']}",
        "",
        f"`{report['command']}`",
        "",
        f"Each row: {report['epochs']} epochs, seed {report['seed']}, one thread per run, "
        "best dev score over the epochs. A short budget shows what a lever is worth early in "
        "training, not necessarily at convergence; with one seed per row, a difference smaller "
        "than the seed spread of the 3-seed rows in docs/results.md is noise.",
        "",
        "| lever | change | dev | vs all | best epoch | wall |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        delta = "–" if base is None or r is base else f"{r['dev'] - base['dev']:+.2f}"
        lines.append(
            f"| {r['lever']} | {r['change']} | {r['dev']:.2f} | {delta} | "
            f"{r['best_epoch']} | {r['wall_s'] / 60:.1f} min |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with ThreadPoolExecutor(args.parallel) as pool:  # each run is its own process
        rows = list(pool.map(lambda lever: train_lever(args, lever), args.levers))
    name = Path(args.config).stem
    report = {
        "config": args.config,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "python bench/levers.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "epochs": args.epochs,
        "seed": args.seed,
        "rows": rows,
    }
    save(report, Path(args.output), f"levers-{name}", markdown(report))


if __name__ == "__main__":
    main()
