"""Tagging speed of raw text (tokenising and sentence splitting included) beside CoNLL input.

The gold file is turned back into running text (``bench/detok.py``), then, best of ``--rounds``
in one process at ``--threads`` threads:

- ``conll``: ``Tagger.tag_file`` on the CoNLL file (CoNLL out);
- ``text``: ``Tagger.tag_file`` on the raw text (``--input-format text``, CoNLL out);
- ``text jsonl``: the same with JSONL out (marginals and offsets: what ``--format jsonl`` costs);
- ``tokenise``: reading and splitting the raw text alone (``iter_text_chunks``).

spaCy is loaded before the timings (its import and set-up are reported on their own).

    python bench/textspeed.py RUN_DIR ../shared/data/conll2003/test.txt --rounds 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detok  # noqa: E402
import rawtext  # noqa: E402
import report  # noqa: E402

from tagger.data import text as text_module  # noqa: E402
from tagger.prediction import Tagger  # noqa: E402


def best(rounds: int, call: Any) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("gold")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="bench/results")
    parser.add_argument("--name", default="textspeed")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.run_dir)
    docs, _ = rawtext.documents(args.gold)
    texts = [detok.detokenize(doc)[0] for doc in docs]
    tokens = sum(len(s) for doc in docs for s in doc)
    start = time.perf_counter()
    text_module.split_text("Load spaCy. Then time.")
    load = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw.txt"
        raw.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
        out = str(Path(folder) / "out")
        seconds = {
            "conll": best(args.rounds, lambda: tagger.tag_file(args.gold, out, "conll")),
            "text": best(args.rounds, lambda: tagger.tag_file(str(raw), out, "text")),
            "text jsonl": best(
                args.rounds, lambda: tagger.tag_file(str(raw), out, "text", "jsonl")
            ),
            "tokenise": best(args.rounds, lambda: list(text_module.iter_text_chunks(raw))),
        }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    share = seconds["tokenise"] / seconds["text"]
    result = {
        "model": args.run_dir,
        "gold": args.gold,
        "commit": commit.stdout.strip(),
        "machine": report.machine(),
        "threads": args.threads,
        "tokens": tokens,
        "spacy_load_s": load,
        "seconds": seconds,
        "tokens_per_s": {k: tokens / v for k, v in seconds.items()},
        "tokenise_share_of_text": share,
    }
    lines = [
        f"Text against CoNLL tagging speed, `python bench/textspeed.py {args.run_dir} "
        f"{args.gold} --rounds {args.rounds} --threads {args.threads}`, commit "
        f"{result['commit']}, {report.machine()} (shared with other jobs: numbers are noisy), "
        f"best of {args.rounds}; {tokens} gold tokens; spaCy import + set-up {load:.2f} s",
        "",
        "| input | seconds | gold tokens/s |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {v:.2f} | {tokens / v:,.0f} |" for k, v in seconds.items()]
    lines += ["", f"Tokenising is {100 * share:.0f}% of the text (CoNLL out) time."]
    report.save(result, args.output, args.name, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
