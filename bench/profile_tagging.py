"""Where tagging's time goes, by stage, at one thread; and the share of the machine's matmul
speed that the network's arithmetic reaches.

    python bench/profile_tagging.py [--model /work/runs/conll03-sent] [--rounds 3]
        [--quantize none|int8] [--allow-busy]

``Tagger.tag_file(test.txt -> file)`` runs as users run it, with timers wrapped around the
library's own steps (nothing re-implemented): reading (``iter_chunks``), encoding to ids
(``Encoded``), the character table (``decoding.char_table``), batch building (``Encoded.batch``),
embedding look-ups, the word BiLSTM, each attention layer, emissions (forward hooks), Viterbi
(``crf.viterbi``), output lines (``format_chunk``) and the file write; "other" is the rest of
the wall time (buffers, scheme conversion, tag ids to strings, Python glue). The round with the
least wall time of ``--rounds`` counts.

FLOPs are counted analytically, useful work only (no padding; 2 per multiply-add): char CNN
2·c·F·C·k per distinct word of c characters, BiLSTM 2·2·4H(D+H) per token, multi-head attention
2·(4D² + 2TD) per token of a T-token sentence, emissions 2·D·K per token. The matmul speed is
``bench/speed.py``'s (1024×1024 float32 ``torch.mm``), at the same thread count. Writes
``bench/results/profile-tagging-<date>[-int8].{json,md}``; refuses on a busy machine like the
other benchmarks (``report.save_unless_busy``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from report import (
    DATA_ROOT,
    Watch,
    add_busy_flag,
    busy_notes,
    facts_line,
    run_facts,
    save_unless_busy,
)

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/work/runs/conll03-sent")
    parser.add_argument("--test", default=str(DATA_ROOT / "conll2003" / "test.txt"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quantize", default="none")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results"))
    add_busy_flag(parser)
    return parser.parse_args(argv)


class Clock:
    """Seconds per stage, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def iterate(self, name: str, items: Any) -> Iterator[Any]:
        """``items`` with the time spent producing each one counted under ``name``."""
        items = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                self.seconds[name] += time.perf_counter() - started
                return
            self.seconds[name] += time.perf_counter() - started
            yield item

    def hook(self, name: str, module: Any) -> None:
        """Time ``module``'s forward calls under ``name`` (forward hooks)."""
        starts: list[float] = []
        module.register_forward_pre_hook(lambda *_: starts.append(time.perf_counter()))

        def done(*_: Any) -> None:
            self.seconds[name] += time.perf_counter() - starts.pop()
            self.calls[name] += 1

        module.register_forward_hook(done)


def instrument(tagger: Any, clock: Clock) -> Callable[[], None]:
    """Wrap the library's steps with ``clock``; return a function that unwraps them."""
    from tagger import decoding, file_tagging, records
    from tagger.data.batching import Encoded

    saved = [
        (decoding, "Encoded", decoding.Encoded),
        (decoding, "char_table", decoding.char_table),
        (Encoded, "batch", Encoded.batch),
        (file_tagging, "iter_chunks", file_tagging.iter_chunks),
        (file_tagging, "write_lines_atomic", file_tagging.write_lines_atomic),
        (records, "format_chunk", records.format_chunk),
    ]
    seen: list[Any] = []

    def encoded(*args: Any, **kwargs: Any) -> Any:
        seen.append(clock.wrap("encoding to ids", Encoded)(*args, **kwargs))
        return seen[-1]

    decoding.Encoded = encoded
    decoding.char_table = clock.wrap("char encoder (table of distinct words)", saved[1][2])
    Encoded.batch = clock.wrap("batch building", saved[2][2])
    file_tagging.iter_chunks = lambda *a, **k: clock.iterate("reading", saved[3][2](*a, **k))
    records.format_chunk = clock.wrap("output lines", lambda *a: list(saved[5][2](*a)))

    def write(target: Any, lines: Any) -> None:
        started, before = time.perf_counter(), clock.seconds["(upstream)"]
        saved[4][2](target, clock.iterate("(upstream)", lines))
        upstream = clock.seconds["(upstream)"] - before
        clock.seconds["writing the file"] += time.perf_counter() - started - upstream

    file_tagging.write_lines_atomic = write
    network = tagger.network
    clock.hook("embedding look-ups", network.embedder)
    clock.hook("word BiLSTM", network.lstm)
    for i, layer in enumerate(network.attention):
        clock.hook(f"attention {i} ({type(layer).__name__})", layer)
    clock.hook("emissions", network.emit)
    network.crf.viterbi = clock.wrap("Viterbi", network.crf.viterbi)
    tagger.seen_encoded = seen  # the buffers' Encoded, for the FLOP count

    def undo() -> None:
        for owner, name, value in saved:
            setattr(owner, name, value)

    return undo


def network_flops(tagger: Any, encoded: list[Any]) -> dict[str, float]:
    """The network's useful FLOPs per stage over the ``Encoded`` buffers it tagged."""
    import numpy as np

    cfg, net = tagger.cfg.model, tagger.network
    tokens = sum(int(e.offsets[-1]) for e in encoded)
    d_in, hidden, k = net.embedder.out_dim, cfg.hidden_size, len(tagger.vocab.tags)
    out: dict[str, float] = {}
    chars = sum(int(np.asarray(e.char_lengths[1:]).sum()) for e in encoded)
    if cfg.char_encoder == "cnn":
        per_char = cfg.char_hidden * cfg.char_dim * cfg.char_kernel
    else:  # char BiLSTM: one step per direction per character
        per_char = 2 * 4 * cfg.char_hidden * (cfg.char_dim + cfg.char_hidden)
    out["char encoder (table of distinct words)"] = 2.0 * chars * per_char
    out["word BiLSTM"] = 2.0 * tokens * 2 * 4 * hidden * (d_in + hidden) * cfg.num_layers
    dim = net.lstm.out_dim
    for i, layer in enumerate(net.attention):
        if type(layer).__name__ == "MultiHeadSelfAttention":
            squares = sum(int((np.diff(e.offsets) ** 2).sum()) for e in encoded)
            out[f"attention {i} ({type(layer).__name__})"] = 2.0 * (
                4 * dim * dim * tokens + 2 * dim * squares
            )
    out["emissions"] = 2.0 * tokens * dim * k
    return out


def matmul_flops(threads: int) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed import worker_matmul

    return worker_matmul({"threads": threads})["flops_per_s"]


def one_round(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One timed ``tag_file`` with a freshly loaded, instrumented tagger."""
    from tagger.prediction import Tagger

    tagger = Tagger.load(args.model, quantize=args.quantize)
    clock = Clock()
    undo = instrument(tagger, clock)
    try:
        with Watch() as watch:
            tokens = int(tagger.tag_file(args.test, str(work / "out.txt")))
    finally:
        undo()
    stages = {k: v for k, v in clock.seconds.items() if not k.startswith("(")}
    stages["other (buffers, tags to strings, glue)"] = watch.wall - sum(stages.values())
    flops = network_flops(tagger, tagger.seen_encoded)
    return {"tokens": tokens, "stages": stages, "flops": flops, **watch.figures()}


def markdown(report: dict[str, Any]) -> str:
    best, wall = report["best"], report["best"]["wall_s"]
    peak = report["matmul_flops_per_s"]
    lines = [
        "| stage | s | share of wall | GFLOP/s | share of matmul peak |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds in best["stages"].items():
        flops = best["flops"].get(name)
        rate = "" if flops is None else f"{flops / seconds / 1e9:.2f}"
        share = "" if flops is None else f"{100 * flops / seconds / peak:.0f}%"
        lines.append(f"| {name} | {seconds:.3f} | {100 * seconds / wall:.1f}% | {rate} | {share} |")
    total = sum(best["flops"].values())
    network_s = sum(best["stages"][k] for k in best["flops"])
    lines += [
        f"| **total** (tag_file, {best['tokens']:,} tokens) | {wall:.3f} | 100% | "
        f"{total / wall / 1e9:.2f} | {100 * total / wall / peak:.0f}% |",
        "",
        f"Network FLOPs {total / 1e9:.2f} G ({total / best['tokens'] / 1e6:.2f} MFLOP/token); "
        f"matmul peak {peak / 1e9:.1f} GFLOP/s (1024x1024 float32 torch.mm, "
        f"{report['threads']} thread); the network's stages alone ({network_s:.3f} s) reach "
        f"{100 * total / network_s / peak:.0f}% of it, the whole tagging run "
        f"{100 * total / wall / peak:.0f}%.",
        f"Rounds (wall s): {', '.join(f'{x:.2f}' for x in report['all_rounds_s'])}; the fastest "
        "counts.",
        "",
        f"Model `{report['model']}` (quantize {report['quantize']}), `{report['test']}`.",
        facts_line(report),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tagger-profile-") as tmp:
        rounds = [one_round(args, Path(tmp)) for _ in range(args.rounds)]
    peak = matmul_flops(args.threads)
    report = {
        "command": "python bench/profile_tagging.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "model": args.model,
        "test": args.test,
        "quantize": args.quantize,
        "threads": args.threads,
        "best": min(rounds, key=lambda r: r["wall_s"]),
        "all_rounds_s": [r["wall_s"] for r in rounds],
        "rounds": rounds,
        "matmul_flops_per_s": peak,
        **run_facts(started, load_start),
    }
    report["busy"] = busy_notes({str(i): r for i, r in enumerate(rounds)})
    suffix = "" if args.quantize == "none" else f"-{args.quantize}"
    name = f"profile-tagging-{report['date']}{suffix}"
    written = save_unless_busy(report, args.output, name, markdown(report), args.allow_busy)
    return 0 if written else 3  # 3: refused, the machine was busy


if __name__ == "__main__":
    sys.exit(main())
