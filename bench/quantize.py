"""int8 dynamic quantisation against float32 on a trained model: test F1 and tagging words/s.

    python bench/quantize.py [--model /work/runs/conll03-sent] [--rounds 3] [--allow-busy]

One command, one run, one thread:

1. **F1**, load-independent: ``tagger predict MODEL test.txt -o PRED [--quantize int8]`` then
   ``tagger evaluate test.txt PRED --json`` (conlleval's micro F1), for float32 and int8;
2. **speed**: both taggers loaded once in this process (load time apart), then ``--rounds``
   rounds, each tagging test.txt file in, file out (``Tagger.tag_file``) with float32 then int8,
   so that the machine's drift touches both alike; each figure is the best of its rounds.

Every timed pass records the CPU time other processes took meanwhile (``report.Watch``); over 5%
of a pass's wall time the script refuses to write results (``--allow-busy`` writes
``quantize-<date>-busy.*``, marked busy, with the load average). Writes
``bench/results/quantize-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
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
MODES = ("none", "int8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/work/runs/conll03-sent")
    parser.add_argument("--test", default=str(DATA_ROOT / "conll2003" / "test.txt"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results"))
    add_busy_flag(parser)
    return parser.parse_args(argv)


def cli(*args: str, threads: int) -> str:
    """Run ``python -m tagger ARGS`` with ``threads`` threads; its stdout."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "tagger", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def test_f1(args: argparse.Namespace, mode: str, work: Path) -> dict[str, Any]:
    """Predict test.txt with ``--quantize mode`` and score it with ``tagger evaluate``."""
    pred = work / f"pred-{mode}.txt"
    cli("predict", args.model, args.test, "-o", str(pred), "--quiet", "--quantize", mode,
        threads=args.threads)  # fmt: skip
    scores = json.loads(cli("evaluate", args.test, str(pred), "--json", threads=args.threads))
    return {"f1": 100 * scores["micro"]["f1"], "predictions": str(pred)}


def speeds(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Tagging words/s of each mode, the modes in turn for ``args.rounds`` rounds."""
    import torch

    from tagger.prediction import Tagger

    torch.set_num_threads(args.threads)
    taggers, out = {}, {}
    for mode in MODES:
        started = time.perf_counter()
        taggers[mode] = Tagger.load(args.model, quantize=mode)
        out[mode] = {"load_s": time.perf_counter() - started, "rounds": []}
    for _ in range(args.rounds):
        for mode, tagger in taggers.items():
            with Watch() as watch:
                tokens = int(tagger.tag_file(args.test, str(work / f"speed-{mode}.txt")))
            out[mode]["rounds"].append({"tokens": tokens, **watch.figures()})
    for result in out.values():
        for r in result["rounds"]:
            r["words_per_s"] = r["tokens"] / r["wall_s"]
        result.update(max(result["rounds"], key=lambda r: r["words_per_s"]))
    return out


def markdown(report: dict[str, Any]) -> str:
    rows = report["modes"]
    lines = [
        "| quantize | test F1 | tag words/s (best of rounds) | every round | load s |",
        "|---|---:|---:|---|---:|",
    ]
    for mode, r in rows.items():
        every = ", ".join(f"{x['words_per_s']:,.0f}" for x in r["rounds"])
        lines.append(
            f"| {mode} | {r['f1']:.2f} | {r['words_per_s']:,.0f} | {every} | {r['load_s']:.2f} |"
        )
    fp32, int8 = rows["none"], rows["int8"]
    lines += [
        "",
        f"int8 / float32: **{int8['words_per_s'] / fp32['words_per_s']:.2f}x** words/s, "
        f"F1 {int8['f1'] - fp32['f1']:+.2f}.",
        "",
        f"Model `{report['model']}`, test file `{report['test']}`, {report['threads']} thread(s), "
        f"{report['rounds']} rounds.",
        facts_line(report),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tagger-quantize-") as tmp:
        work = Path(tmp)
        modes = speeds(args, work)
        for mode in MODES:
            modes[mode].update(test_f1(args, mode, work))
            del modes[mode]["predictions"]
    report = {
        "command": "python bench/quantize.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "model": args.model,
        "test": args.test,
        "threads": args.threads,
        "rounds": args.rounds,
        "modes": modes,
        **run_facts(started, load_start),
    }
    report["busy"] = busy_notes(
        {m: {str(i): r for i, r in enumerate(modes[m]["rounds"])} for m in MODES}
    )
    name = f"quantize-{report['date']}"
    written = save_unless_busy(report, args.output, name, markdown(report), args.allow_busy)
    return 0 if written else 3  # 3: refused, the machine was busy


if __name__ == "__main__":
    sys.exit(main())
