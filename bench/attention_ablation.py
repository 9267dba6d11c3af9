"""Attention ablation: none / global / local / multi-head / label / a stack, over seeds and corpora.

Each (corpus, variant, seed) trains in its own process (``--parallel`` at a time), then tags the
test set; the table gives test F1 mean +- std over seeds, training and tagging tokens/s. A run
folder that already holds a test score is reused (its test set is tagged again for the timing).

    python bench/attention_ablation.py --corpus conll2003=../shared/data/conll2003 \\
        --corpus wnut17=../shared/data/wnut17 --seeds 1 2 3 --epochs 20 --parallel 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

VARIANTS = {
    "none": "[]",
    "global": "[{type: global, size: 64}]",
    "global-document": "[{type: global, size: 64, scope: document}]",
    "local": "[{type: local, window: 5, gaussian: true}]",
    "multihead": "[{type: multihead, heads: 4, position: relative}]",
    "multihead-document": "[{type: multihead, heads: 4, position: relative, scope: document}]",
    "label": "[{type: label}]",
    "stack": "[{type: multihead, heads: 4, position: relative}, {type: label}]",
}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one model and time tagging its test set (in a worker process)."""
    import torch

    from tagger.config import load_config
    from tagger.prediction import Tagger
    from tagger.training import train
    from tagger.training_data import load_split

    torch.set_num_threads(job["threads"])
    data, out = Path(job["data"]), Path(job["out"])
    overrides = [
        f"data.train={data / 'train.txt'}",
        f"data.dev={data / 'dev.txt'}",
        f"data.test={data / 'test.txt'}",
        f"model.attention={VARIANTS[job['variant']]}",
        f"train.seed={job['seed']}",
        f"train.max_epochs={job['epochs']}",
        f"train.threads={job['threads']}",
        f"train.device={job['device']}",
        f"data.cache_dir={out / 'arrow'}",  # one cache per run: no lock contention
        *job["extra"],
    ]
    cfg = load_config(None, overrides)
    lines = finished(out)
    if lines is None:
        train(cfg, out, progress=False, log=lambda _m: None, overwrite=True)
        lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [m for m in lines if "epoch" in m]
    test = next(m for m in lines if m.get("event") == "test")
    best_epoch = max(epochs, key=lambda m: m["dev"]["micro"]["f1"])["epoch"]
    tagger = Tagger.load(out, device=job["device"])
    tokens = load_split(cfg, cfg.data.test).data["tokens"]
    tagger.tag(tokens[:64])  # warm-up
    started = time.perf_counter()
    tagger.tag(tokens)
    seconds = time.perf_counter() - started
    return {
        **{k: job[k] for k in ("corpus", "variant", "seed")},
        "test_f1": test["micro"]["f1"],
        "best_epoch": best_epoch,
        "epochs": len(epochs),
        "train_tokens_per_s": statistics.median(m["tokens_per_s"] for m in epochs),
        "tag_tokens_per_s": sum(len(t) for t in tokens) / seconds,
    }


def finished(out: Path) -> list[dict[str, Any]] | None:
    """The metrics of a run that got as far as its test score (so it is reused, not retrained;
    delete the folder to retrain), or None."""
    metrics = out / "metrics.jsonl"
    if not metrics.exists():
        return None
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    return lines if any(m.get("event") == "test" for m in lines) else None


def table(rows: list[dict[str, Any]]) -> str:
    # train tok/s: each run's median epoch (robust to an epoch slowed by another process),
    # averaged over the seeds; tag tok/s: one pass over the test set after training
    out = ["| corpus | attention | test F1 mean ± std | seeds | train tok/s | tag tok/s |"]
    out.append("|---|---|---|---|---|---|")
    for corpus in sorted({r["corpus"] for r in rows}):
        for variant in VARIANTS:
            group = [r for r in rows if r["corpus"] == corpus and r["variant"] == variant]
            if not group:
                continue
            f1 = [100 * r["test_f1"] for r in group]
            spread = statistics.stdev(f1) if len(f1) > 1 else 0.0
            seeds = ", ".join(f"{v:.2f}" for v in f1)
            train = statistics.mean(r["train_tokens_per_s"] for r in group)
            tag = statistics.mean(r["tag_tokens_per_s"] for r in group)
            score = (
                f"{f1[0]:.2f} (1 seed)"
                if len(f1) == 1
                else f"{statistics.mean(f1):.2f} ± {spread:.2f}"
            )
            out.append(f"| {corpus} | {variant} | {score} | {seeds} | {train:,.0f} | {tag:,.0f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", required=True, help="NAME=FOLDER")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="extra", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("bench/results/ablation"))
    args = parser.parse_args()
    jobs = [
        {
            "corpus": name,
            "data": folder,
            "variant": variant,
            "seed": seed,
            "epochs": args.epochs,
            "threads": args.threads,
            "device": args.device,
            "extra": args.extra,
            "out": str(args.out / f"{name}-{variant}-{seed}"),
        }
        for name, folder in (c.split("=", 1) for c in args.corpus)
        for variant in args.variants
        for seed in args.seeds
    ]
    rows = []
    with ProcessPoolExecutor(args.parallel) as pool:
        for row in pool.map(run_one, jobs):
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(
        json.dumps({"args": vars(args), "rows": rows}, default=str)
    )
    print(table(rows))


if __name__ == "__main__":
    main()
