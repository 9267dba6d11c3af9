"""What document context costs in training: seconds per epoch on a slice of CoNLL-2003.

    python bench/document_cost.py [--config configs/conll2003.yaml] [--sentences 3000]

Trains the config's network (one thread) on the first N training sentences, whole documents
only, and times one epoch of ``tagger.training.Loop.epoch`` (after one warm-up epoch) for:

- ``sentence``: no attention layer, length-bucketed batches (the cheapest network);
- ``document batches``: the same network fed the batches a document-scope layer gets
  (``document_batches``: whole documents, mixed sentence lengths), to separate the cost of the
  batching from the cost of the layer;
- ``bilstm (document)`` and ``bilstm (document, hidden 64)``: a second BiLSTM over each
  document's sentences, D/2 or 64 units per direction.

Reports seconds per epoch, batches per epoch, padded tokens per real token (B x T_max over
the sum of lengths) and the row-steps the word BiLSTM runs per real token (whole-document
batches run in the length groups of ``encoder.length_groups``), and writes
``bench/results/document-cost-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from report import DATA_ROOT, machine, save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VARIANTS = {
    "sentence": ("[]", False),
    "document batches": ("[]", True),
    "bilstm (document)": ("[{type: bilstm, scope: document}]", False),
    "bilstm (document, hidden 64)": ("[{type: bilstm, scope: document, hidden: 64}]", False),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "conll2003.yaml"))
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--data-root", default=str(DATA_ROOT), help="the config's data root")
    return parser.parse_args(argv)


def cut(source: Path, sentences: int, target: Path) -> None:
    """The first ``sentences`` sentences of a CoNLL file, ending at a document boundary."""
    kept, count = [], 0
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("-DOCSTART-") and count >= sentences:
            break
        kept.append(line)
        count += not line.strip()
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")


def measure(args: argparse.Namespace, train: Path, work: Path, name: str) -> dict[str, Any]:
    import tagger.training as training
    from tagger.config import load_config

    spec, force_documents = VARIANTS[name]
    sets = [f"data.train={train}", "data.dev=null", "data.test=null", "train.with_dev=false"]
    sets += ["train.threads=1", f"model.attention={spec}", f"data.root={args.data_root}"]
    cfg = load_config(args.config, sets)
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    loop, _ = training.build_loop(cfg, run, log=lambda _m: None)
    if force_documents:  # document batches for a network with no document-scope layer
        loop.whole_documents = True
    loop.epoch(1)
    batches = loop.plan(copy.deepcopy(loop.rng))  # the timed epoch's
    started = time.perf_counter()
    loop.epoch(2)
    padded = sum(len(ids) * max(loop.lengths[i] for i in ids) for ids in batches)
    return {
        "variant": name,
        "seconds": time.perf_counter() - started,
        "batches": len(batches),
        "padding": padded / sum(loop.lengths),
        "lstm_steps": lstm_row_steps(batches, loop.lengths) / sum(loop.lengths),
    }


def lstm_row_steps(batches: list[list[int]], lengths: list[int]) -> int:
    """Row-steps the word BiLSTM runs: each batch in the length groups the encoder picks
    (``encoder.length_groups``), or as one padded call."""
    from tagger.model.encoder import length_groups

    total = 0
    for ids in batches:
        sizes = [lengths[i] for i in ids]
        groups = length_groups(sizes) or [(ids, max(sizes))]
        total += sum(len(rows) * width for rows, width in groups)
    return total


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tagger.config import load_config

    source = Path(load_config(args.config, [f"data.root={args.data_root}"]).data.train)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train = work / "train.txt"
        cut(source, args.sentences, train)
        rows = []
        for name in VARIANTS:
            rows.append(measure(args, train, work, name))
            print(f"  {name}: {rows[-1]['seconds']:.1f} s", flush=True)
    base = rows[0]["seconds"]
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": " ".join(
            ["python bench/document_cost.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": machine(),
        "sentences": args.sentences,
        "rows": rows,
    }
    lines = [
        f"# Document context: training cost, {report['date']}",
        "",
        f"`{report['command']}` — {report['machine']}, one thread; the config's network on the",
        f"first {args.sentences} training sentences (whole documents), one epoch after a warm-up.",
        "",
        "| variant | s / epoch | vs sentence | batches | padded / real tokens "
        "| word-BiLSTM row-steps / real token |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['seconds']:.1f} | {row['seconds'] / base:.2f}x "
            f"| {row['batches']} | {row['padding']:.2f} | {row['lstm_steps']:.2f} |"
        )
    save(report, args.output, f"document-cost-{report['date']}", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
