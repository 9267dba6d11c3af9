"""Peak memory of one training epoch on synthetic corpora of growing size.

Builds a corpus of ``--tokens`` tokens from the shipped WNUT-17 training file (its sentences
repeated; one token in ten gets a numeric suffix drawn from a pool that grows with the square
root of the tokens written, so the vocabulary keeps growing, as Heaps' law says real text's
does), then trains one epoch of a tiny network on it (``tagger train``, one thread) in a child
process. Reports the child's peak RSS (``wait4``'s rusage), its peak anonymous memory (``RssAnon``
sampled from /proc: memory that is not the page cache of the memory-mapped Arrow files) and
the wall time of each size.

    nice -n 10 python bench/bigcorpus.py --tokens 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from report import machine, save  # noqa: E402

SAMPLE = ROOT / "data" / "wnut17" / "train.conll"
TINY = {
    "model.word_dim": 16,
    "model.casing_dim": 4,
    "model.char_dim": 8,
    "model.char_hidden": 8,
    "model.hidden_size": 16,
    "model.attention": "[]",
    "train.max_epochs": 1,
    "train.batch_size": 128,
    "train.threads": 1,
    "data.test": "null",
}


def sample_sentences() -> list[list[tuple[str, str]]]:
    sentences, current = [], []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields:
            current.append((fields[0], fields[-1]))
        elif current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def write_corpus(path: Path, tokens: int, seed: int = 1) -> dict[str, int]:
    """Write a corpus of at least ``tokens`` tokens; returns its sentence and token counts."""
    rng = random.Random(seed)
    base = sample_sentences()
    written = sentences = 0
    with path.open("w", encoding="utf-8") as out:
        while written < tokens:
            for sentence in base:
                lines = []
                for token, tag in sentence:
                    if rng.random() < 0.1:  # a new spelling from a pool growing as sqrt(N)
                        token = f"{token}{rng.randrange(1 + int(math.sqrt(written)))}"
                    lines.append(f"{token}\t{tag}\n")
                    written += 1
                out.write("".join(lines) + "\n")
                sentences += 1
                if written >= tokens:
                    break
    return {"tokens": written, "sentences": sentences}


def watch(pid: int, peak: dict[str, int], stop: threading.Event) -> None:
    """Sample the child's VmRSS and RssAnon (kB) every 0.2 s, keeping the maxima."""
    status = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        try:
            for line in status.read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    peak[key] = max(peak.get(key, 0), int(value.split()[0]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return
        stop.wait(0.2)


def train_once(tmp: Path, corpus: Path) -> dict[str, object]:
    """Train one epoch in a child; its peak memory and the epoch's figures."""
    out = tmp / "run"
    sets = {**TINY, "data.train": corpus, "data.dev": ROOT / "data/wnut17/dev.conll"}
    sets["data.cache_dir"] = tmp / "cache"
    args = [sys.executable, "-m", "tagger", "train", str(ROOT / "configs" / "demo.yaml")]
    args += [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]
    args += ["--output", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    log = (tmp / "train.log").open("wb")
    child = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    peak: dict[str, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=watch, args=(child.pid, peak, stop), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: its peak RSS
    child.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    log.close()
    wall = time.perf_counter() - started
    text = (tmp / "train.log").read_text(errors="replace")
    if child.returncode != 0:
        raise SystemExit(text[-3000:])
    epoch = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    vocab = json.loads((out / "vocab.json").read_text())
    cache = sum(f.stat().st_size for f in (tmp / "cache").rglob("*.arrow"))
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_rss_sampled_mb": round(peak.get("VmRSS", 0) / 1024, 1),
        "peak_rss_anon_mb": round(peak.get("RssAnon", 0) / 1024, 1),
        "peak_rss_file_mb": round(peak.get("RssFile", 0) / 1024, 1),
        "words": len(vocab["words"]),
        "chars": len(vocab["chars"]),
        "arrow_mb": round(cache / 2**20, 1),
        "epoch_seconds": round(epoch["seconds"], 1),
        "epoch_tokens_per_s": round(epoch["tokens_per_s"]),
        "wall_seconds": round(wall, 1),
        "log": text.strip().splitlines()[:1],
    }


def batch_rate(tmp: Path, corpus: Path, batches: int = 200, size: int = 200) -> float:
    """Tokens/s of building training batches from the Arrow rows (one core, this process)."""
    from tagger.data.dataset import load_corpus
    from tagger.data.streaming import StreamingEncoded
    from tagger.data.vocab import Vocab
    from tagger.training_data import tag_converter

    data = load_corpus(str(corpus), cache_dir=str(tmp / "cache"))
    vocab = Vocab.from_dict(json.loads((tmp / "run" / "vocab.json").read_text()))
    encoded = StreamingEncoded(vocab, data, tag_converter(vocab.scheme, vocab.model_scheme))
    rng = random.Random(0)
    plans = [rng.sample(range(len(data)), size) for _ in range(batches)]
    started = time.perf_counter()
    tokens = sum(int(encoded.batch(ids).lengths.sum()) for ids in plans)
    return tokens / (time.perf_counter() - started)


def write_report(args: argparse.Namespace, commit: str, rows: list[dict]) -> None:
    report = {
        "command": "python bench/bigcorpus.py --tokens " + " ".join(map(str, args.tokens)),
        "commit": commit,
        "machine": machine(),
        "date": date.today().isoformat(),
        "config": {"base": "configs/demo.yaml", **{k: str(v) for k, v in TINY.items()}},
        "rows": rows,
    }
    head = (
        "| tokens | sentences | words | Arrow MB | peak RSS MB | peak RssAnon MB | "
        "epoch s | train tok/s | wall s | batch building tok/s | load average |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['tokens']:,} | {r['sentences']:,} | {r['words']:,} | {r['arrow_mb']} | "
            f"{r['peak_rss_mb']} | {r['peak_rss_anon_mb']} | {r['epoch_seconds']} | "
            f"{r['epoch_tokens_per_s']:,} | {r['wall_seconds']} | {r['batch_tokens_per_s']:,} | "
            f"{r['load_average'][0]:.1f} |"
        )
    text = (
        f"# One training epoch on synthetic corpora ({report['date']}, {report['machine']}, "
        f"commit {commit})\n\n`{report['command']}`\n\n" + "\n".join(lines) + "\n"
    )
    save(report, args.results, f"bigcorpus-{report['date']}", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--tmp", type=Path, default=None, help="Scratch folder (default: /tmp).")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    rows = []
    for size in args.tokens:
        with tempfile.TemporaryDirectory(dir=args.tmp) as name:
            tmp = Path(name)
            started = time.perf_counter()
            counts = write_corpus(tmp / "train.conll", size)
            generate = time.perf_counter() - started
            corpus_mb = (tmp / "train.conll").stat().st_size / 2**20
            row = {
                **counts,
                "corpus_mb": round(corpus_mb, 1),
                "generate_seconds": round(generate, 1),
            }
            row.update(train_once(tmp, tmp / "train.conll"))
            row["batch_tokens_per_s"] = round(batch_rate(tmp, tmp / "train.conll"))
            row["load_average"] = os.getloadavg()
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_report(args, commit, rows)  # after each size: a long run leaves its rows


if __name__ == "__main__":
    main()
