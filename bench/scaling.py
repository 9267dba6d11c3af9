"""Training throughput with 1 and N processes (DistributedDataParallel, gloo) on this machine.

Trains one epoch on the first ``--sentences`` sentences of CoNLL-2003 train (same global batch
for every setting) and reads the epoch's tokens/s from metrics.jsonl.

    python bench/scaling.py --data ../shared/data/conll2003 --procs 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_sentences(path: Path, count: int) -> str:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return "\n\n".join(blocks[:count]) + "\n"


def run(tmp: Path, procs: int, threads: int, global_batch: int, data_root: Path) -> float:
    out = tmp / f"run-{procs}"
    sets = [
        f"data.train={tmp / 'train.txt'}",
        f"data.dev={tmp / 'dev.txt'}",
        "data.test=null",
        "train.max_epochs=1",
        f"train.threads={threads}",
        f"train.batch_size={global_batch // procs}",
        f"data.cache_dir={tmp / 'cache'}",
        f"data.root={data_root}",  # the config's GloVe file
    ]
    args = [sys.executable, "-m", "tagger", "train", str(ROOT / "configs" / "conll2003.yaml")]
    args += [x for s in sets for x in ("--set", s)] + ["--output", str(out), "--quiet"]
    if procs > 1:
        args += ["--nproc", str(procs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    subprocess.run(args, env=env, check=True, capture_output=True, cwd=ROOT)
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    return float(first["tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/conll2003")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--global-batch", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        train = first_sentences(args.data / "train.txt", args.sentences + 300)
        blocks = train.split("\n\n")
        (tmp / "train.txt").write_text("\n\n".join(blocks[: args.sentences]) + "\n")
        (tmp / "dev.txt").write_text("\n\n".join(blocks[args.sentences :]) + "\n")
        print("| processes | threads each | global batch | train tokens/s |")
        print("|---|---|---|---|")
        for procs in args.procs:
            threads = max(1, args.cores // procs)
            rate = run(tmp, procs, threads, args.global_batch, args.data.parent)
            print(f"| {procs} | {threads} | {args.global_batch} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
