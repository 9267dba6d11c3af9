"""Two costs behind choices in the training loop, measured on a config's network and data:

- an Adam step, fused (one kernel over all parameters, what ``optimisation.make_optimizer``
  uses), foreach (one call per group of tensors) and per tensor (a Python loop);
- one dev scoring pass (``training.evaluate_split``), which ``train.with_dev`` skips every
  epoch (dev is then training data).

    python bench/loop_costs.py [--config configs/conll2003_document.yaml] [--steps 50]

Writes ``bench/results/loop-costs-<date>.{json,md}`` (docs/performance.md, "Training loop").
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report import DATA_ROOT, machine, save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KINDS = {"fused": {"fused": True}, "foreach": {"foreach": True}, "per tensor": {"foreach": False}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "conll2003_document.yaml"))
    parser.add_argument("--steps", type=int, default=50, help="timed optimiser steps per kind")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--data-root", default=str(DATA_ROOT), help="the config's data root")
    return parser.parse_args(argv)


def step_ms(network: Any, kind: dict[str, bool], steps: int) -> float:
    """Milliseconds per Adam step over the network's trainable parameters (random gradients)."""
    import torch

    params = [p for p in network.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    optimizer = torch.optim.Adam(params, lr=1e-9, **kind)
    optimizer.step()  # warm-up: the moment buffers are allocated
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return 1000 * (time.perf_counter() - started) / steps


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from tagger.archive import build_network
    from tagger.config import load_config
    from tagger.distributed import World
    from tagger.training import evaluate_split
    from tagger.training_data import prepare_splits, prepare_vocab

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [f"data.root={args.data_root}", "data.test=null"])
    splits = prepare_splits(cfg, World())
    scheme, model_scheme = splits.scheme, splits.model_scheme
    vocab, matrix, dim = prepare_vocab(cfg, splits.train, splits.others, scheme, model_scheme)
    network = build_network(cfg, vocab, dim, pretrained=matrix)
    steps = {name: step_ms(network, kind, args.steps) for name, kind in KINDS.items()}
    started = time.perf_counter()
    evaluate_split(network, vocab, splits.dev)
    dev_seconds = time.perf_counter() - started
    return {"step_ms": steps, "dev_seconds": dev_seconds, "dev_sentences": len(splits.dev.data)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    wall = time.perf_counter()
    result = measure(args)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python bench/loop_costs.py", *(argv or sys.argv[1:])]),
        "commit": commit,
        "machine": machine(),
        "threads": args.threads,
        "load_average": os.getloadavg()[0],
        "wall_seconds": time.perf_counter() - wall,
        **result,
    }
    lines = [
        f"# Training-loop costs, {report['date']}",
        "",
        f"`{report['command']}` at commit {commit}; {report['machine']}, {args.threads} thread(s),",
        f"load average {report['load_average']:.2f} at the end (a shared machine: other jobs ran);",
        f"wall {report['wall_seconds']:.0f} s. Network and data of `{Path(args.config).name}`.",
        "",
        "| Adam step | ms / step |",
        "|---|---:|",
        *(f"| {name} | {ms:.2f} |" for name, ms in result["step_ms"].items()),
        "",
        f"Dev scoring pass ({result['dev_sentences']} sentences, untrained weights): "
        f"{result['dev_seconds']:.1f} s.",
        "",
    ]
    stamp = report["date"].split()[0]
    save(report, args.output, f"loop-costs-{stamp}", "\n".join(lines))


if __name__ == "__main__":
    main()
