"""The flair side of ``bench/speed.py``: run by the flair venv's python, one measurement a call.

    /work/flair-venv/bin/python bench/flair_side.py train --threads 1 --train SLICE --model DIR
    /work/flair-venv/bin/python bench/flair_side.py tag --threads 1 --model DIR --test T --out O

The network matches the tagger's benchmark config: one-hot word embeddings (100d, trained from
scratch, every training word kept) stacked with ``CharacterEmbeddings`` (char BiLSTM 25/25, its
character dictionary built from the training slice so nothing is downloaded), one BiLSTM layer of
256 per direction, no reprojection, CRF. Training is a manual loop (mini-batch 32, SGD lr 0.1 and
gradient clipping 5.0 as flair's ModelTrainer defaults, no evaluation); tagging reads the CoNLL
file into Sentences, runs ``predict(mini_batch_size=64)`` and writes one ``token tag`` line per
token. The last stdout line is ``BENCH-RESULT {json}``. Only the standard library, torch and flair
are imported, so this file runs outside the tagger venv.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import torch

MARKER = "BENCH-RESULT "


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_conll(path: str) -> list[list[str]]:
    """Token lists of a CoNLL file (first column; ``-DOCSTART-`` lines skipped)."""
    sentences: list[list[str]] = []
    current: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if current:
                    sentences.append(current)
                current = []
            else:
                current.append(fields[0])
    if current:
        sentences.append(current)
    return sentences


def build_model(train_path: str) -> tuple[Any, list[Any]]:
    """A SequenceTagger sized like the tagger's benchmark network, and the training sentences."""
    from flair.data import Corpus, Dictionary
    from flair.datasets import ColumnDataset
    from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
    from flair.models import SequenceTagger

    train = ColumnDataset(Path(train_path), {0: "text", 1: "ner"}, in_memory=True)
    corpus = Corpus(train=train, dev=None, test=None, sample_missing_splits=False)
    tags = corpus.make_label_dictionary(label_type="ner", add_unk=False)
    sentences = list(train)
    chars = Dictionary()
    for sentence in sentences:
        for token in sentence.tokens:
            for char in token.text:
                chars.add_item(char)
    words = OneHotEmbeddings.from_corpus(corpus, field="text", min_freq=1, embedding_length=100)
    embeddings = StackedEmbeddings([words, CharacterEmbeddings(path_to_char_dict=chars)])
    model = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=tags,
        tag_type="ner",
        use_crf=True,
        use_rnn=True,
        rnn_layers=1,
        reproject_embeddings=False,
    )
    return model, sentences


def run_train(args: argparse.Namespace) -> dict[str, Any]:
    import flair
    from flair.training_utils import store_embeddings

    flair.set_seed(args.seed)
    started = time.perf_counter()
    model, sentences = build_model(args.train)
    prep_s = time.perf_counter() - started
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    random.Random(args.seed).shuffle(sentences)
    model.train()
    repeats = []
    for _ in range(args.repeat):  # epochs; the fastest counts
        tokens = 0
        started = time.perf_counter()
        for i in range(0, len(sentences), args.batch_size):
            batch = sentences[i : i + args.batch_size]
            model.zero_grad()
            loss, _count = model.forward_loss(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            store_embeddings(batch, "none")
            tokens += sum(len(s) for s in batch)
        repeats.append(time.perf_counter() - started)
    seconds = min(repeats)
    model.save(Path(args.model) / "final-model.pt")
    return {
        "tokens": tokens,
        "sentences": len(sentences),
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "repeats_s": repeats,
        "prep_s": prep_s,
        "vocab_words": len(model.embeddings.embeddings[0].vocab_dictionary),
        "tags": len(model.label_dictionary),
    }


def run_tag(args: argparse.Namespace) -> dict[str, Any]:
    from flair.data import Sentence
    from flair.models import SequenceTagger

    started = time.perf_counter()
    model = SequenceTagger.load(Path(args.model) / "final-model.pt")
    load_s = time.perf_counter() - started
    repeats = []
    for _ in range(args.repeat):  # the fastest round counts
        started = time.perf_counter()
        sentences = [Sentence(tokens) for tokens in read_conll(args.test)]
        model.predict(sentences, mini_batch_size=args.batch_size)
        tokens = write_predictions(sentences, args.out)
        repeats.append(time.perf_counter() - started)
    seconds = min(repeats)
    speed = tokens / seconds
    if args.dev:  # untimed: the dev file's predictions, for the dev F1
        dev = [Sentence(tokens) for tokens in read_conll(args.dev)]
        model.predict(dev, mini_batch_size=args.batch_size)
        write_predictions(dev, args.dev_out)
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": speed,
        "repeats_s": repeats,
        "load_s": load_s,
    }


def write_predictions(sentences: list[Any], path: str) -> int:
    """``token tag`` lines (IOB2), a blank line after each sentence; returns the token count."""
    tokens = 0
    with open(path, "w", encoding="utf-8") as out:
        for sentence in sentences:
            tags = ["O"] * len(sentence)
            for span in sentence.get_spans("ner"):
                for k, token in enumerate(span.tokens):
                    tags[token.idx - 1] = ("B-" if k == 0 else "I-") + span.tag
            for token, tag in zip(sentence.tokens, tags):
                out.write(f"{token.text} {tag}\n")
            out.write("\n")
            tokens += len(sentence)
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["train", "tag"])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--model", required=True, help="folder for final-model.pt")
    parser.add_argument("--train", help="training slice (token tag columns)")
    parser.add_argument("--test", help="CoNLL file to tag")
    parser.add_argument("--out", help="predictions file")
    parser.add_argument("--dev", help="CoNLL file to tag after timing (untimed)")
    parser.add_argument("--dev-out", help="predictions file for --dev")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; the fastest counts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import flair

    flair.device = torch.device("cpu")
    result = run_train(args) if args.mode == "train" else run_tag(args)
    result.update(
        threads=torch.get_num_threads(),
        peak_rss_mb=peak_rss_mb(),
        flair=flair.__version__,
        torch=torch.__version__,
    )
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
