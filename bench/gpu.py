"""GPU throughput of tagger on CoNLL-2003, in sentences/s, next to NCRF++'s published numbers.

NCRF++ (Yang & Zhang 2018, GTX 1080, batch 200) reports about 1,170 sentences/s training and
2,000 sentences/s decoding. This script trains two epochs (the second is timed) and tags the
test set, in fp32 and bf16, with the NCRF++-like network (word 100d + char CNN + BiLSTM 200 per
direction + CRF, no attention) and with one multi-head attention layer.

    python bench/gpu.py --data ../shared/data/conll2003 --out bench/results
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tagger.archive import build_network
from tagger.config import load_config
from tagger.prediction import Tagger
from tagger.runtime import pick_device
from tagger.training import Loop
from tagger.training_data import load_split, prepare_vocab, resolve_schemes


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(data: Path, precision: str, attention: str, batch: int, out: Path, device: str) -> dict:
    overrides = [
        f"data.train={data / 'train.txt'}",
        f"data.dev={data / 'dev.txt'}",
        f"data.test={data / 'test.txt'}",
        "model.hidden_size=200",
        "model.word_dim=100",
        f"model.attention={attention}",
        f"train.batch_size={batch}",
        f"train.eval_batch_size={batch}",
        f"train.device={device}",
        f"train.precision={precision}",
    ]
    cfg = load_config(None, overrides)
    train_set, test_set = load_split(cfg, cfg.data.train), load_split(cfg, cfg.data.test)
    scheme, model_scheme = resolve_schemes(cfg, train_set)
    vocab, matrix, dim = prepare_vocab(cfg, train_set, [test_set], scheme, model_scheme)
    network = build_network(cfg, vocab, dim, pretrained=matrix).to(pick_device(device))
    loop = Loop(cfg, vocab, network, train_set, test_set, out, log=print)
    loop.epoch(1)  # warm-up: allocator, cuDNN plans
    sync()
    started = time.perf_counter()
    _, tokens = loop.epoch(2)
    sync()
    train_s = time.perf_counter() - started
    tagger = Tagger(cfg, vocab, network, batch_size=batch)
    sentences = test_set.data["tokens"]
    tagger.tag(sentences)  # warm-up
    sync()
    started = time.perf_counter()
    tagger.tag(sentences)
    sync()
    tag_s = time.perf_counter() - started
    test_tokens = sum(len(s) for s in sentences)
    return {
        "precision": precision,
        "attention": attention,
        "batch": batch,
        "train_sentences_per_s": len(train_set.data) / train_s,
        "train_tokens_per_s": tokens / train_s,
        "tag_sentences_per_s": len(sentences) / tag_s,
        "tag_tokens_per_s": test_tokens / tag_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/conll2003"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for attention in ("[]", "[{type: multihead, heads: 4}]"):
        for precision in ("fp32", "bf16"):
            rows.append(
                measure(
                    args.data, precision, attention, args.batch, args.out / "gpu-run", args.device
                )
            )
            print(json.dumps(rows[-1]), flush=True)
    info = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (cpu)",
        "torch": torch.__version__,
        "ncrfpp_published": {"train_sentences_per_s": 1170, "tag_sentences_per_s": 2000},
        "rows": rows,
    }
    (args.out / "gpu.json").write_text(json.dumps(info, indent=2))
    print("| attention | precision | train sent/s | train tok/s | tag sent/s | tag tok/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['attention']} | {r['precision']} | {r['train_sentences_per_s']:,.0f} | "
            f"{r['train_tokens_per_s']:,.0f} | {r['tag_sentences_per_s']:,.0f} | "
            f"{r['tag_tokens_per_s']:,.0f} |"
        )


if __name__ == "__main__":
    main()
