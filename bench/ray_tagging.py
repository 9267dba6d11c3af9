"""Tagging throughput: ``tagger predict --workers N`` beside ``--ray local --workers N``.

Runs each command as a child process on the same input and model, checks that the outputs are
byte-identical to one plain ``tagger predict``, and reports wall time and tokens/s (the Ray
row also without its start-up, timed by a run on a one-sentence input).

    nice -n 10 python bench/ray_tagging.py --model runs/conll03-sent \\
        --input ../shared/data/conll2003/test.txt --workers 2
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from report import machine, save  # noqa: E402


def timed(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return time.perf_counter() - started


def tokens_of(path: Path) -> int:
    """Token lines of a CoNLL file (not blank, not -DOCSTART-)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(1 for x in lines if x.strip() and not x.startswith("-DOCSTART-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    tagger = [sys.executable, "-m", "tagger", "predict", args.model]
    tokens = tokens_of(args.input)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tiny = tmp / "one.conll"
        tiny.write_text(args.input.read_text(encoding="utf-8").split("\n\n")[1] + "\n")
        reference = tmp / "reference.conll"
        timed([*tagger, str(args.input), "--output", str(reference)])
        workers = ["--workers", str(args.workers)]
        settings = {
            "one process": [],
            f"--workers {args.workers}": workers,
            f"--ray local --workers {args.workers}": ["--ray", "local", *workers],
        }
        for label, extra in settings.items():
            out = tmp / "out.conll"
            wall = timed([*tagger, str(args.input), "--output", str(out), *extra])
            startup = timed([*tagger, str(tiny), "--output", str(tmp / "tiny.out"), *extra])
            rows.append(
                {
                    "setting": label,
                    "wall_s": round(wall, 1),
                    "tokens_per_s": round(tokens / wall),
                    "startup_s": round(startup, 1),
                    "tokens_per_s_after_startup": round(tokens / max(wall - startup, 1e-9)),
                    "identical": filecmp.cmp(out, reference, shallow=False),
                    "load_average": os.getloadavg(),
                }
            )
            print(rows[-1], flush=True)
    report = {
        "command": f"python bench/ray_tagging.py --model {args.model} --input {args.input} "
        f"--workers {args.workers}",
        "commit": commit,
        "machine": machine(),
        "date": date.today().isoformat(),
        "tokens": tokens,
        "rows": rows,
    }
    lines = [
        "| setting | wall s | tokens/s | start-up s (1 sentence) | tokens/s less start-up | "
        "identical |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['setting']}` | {r['wall_s']} | {r['tokens_per_s']:,} | {r['startup_s']} | "
            f"{r['tokens_per_s_after_startup']:,} | {r['identical']} |"
        )
    text = (
        f"# Tagging {args.input.name} ({tokens:,} tokens; {report['date']}, {report['machine']}, "
        f"commit {commit})\n\n`{report['command']}`\n\n" + "\n".join(lines) + "\n"
    )
    save(report, args.results, f"ray-tagging-{report['date']}", text)


if __name__ == "__main__":
    main()
