"""A CoNLL training file whose neighbouring sentences (same document) are joined with probability P.

    python bench/joined_sentences.py TRAIN OUT [--p 0.3] [--seed 1]

An experiment for raw text whose sentence ends are not found (issue 19, the "running" layout):
a model that has seen merged sentences in training tags them better. Tags are written as IOB2, so
that joining two IOB1 sentences never merges an entity across the seam.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator

from tagger.data.schemes import convert

Sentence = list[list[str]]  # rows of columns, tag last


def documents(path: str) -> Iterator[list[Sentence]]:
    """The sentences of each ``-DOCSTART-`` document of a CoNLL file."""
    document: list[Sentence] = []
    sentence: Sentence = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            fields = line.split()
            if fields and fields[0] == "-DOCSTART-":
                if document:
                    yield document
                document = []
            elif fields:
                sentence.append(fields)
            elif sentence:
                document.append(sentence)
                sentence = []
    if sentence:
        document.append(sentence)
    if document:
        yield document


def joined(document: list[Sentence], p: float, rng: random.Random) -> list[Sentence]:
    """The document's sentences (IOB2 tags), each joined to the one before with probability p."""
    out: list[Sentence] = []
    for sentence in document:
        rows = [
            row[:-1] + [tag]
            for row, tag in zip(sentence, convert([r[-1] for r in sentence], "iob1", "iob2"))
        ]
        if out and rng.random() < p:
            out[-1].extend(rows)
        else:
            out.append(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("out")
    parser.add_argument("--p", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    before = after = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for document in documents(args.train):
            merged = joined(document, args.p, rng)
            before, after = before + len(document), after + len(merged)
            out.write("-DOCSTART- -X- O O\n\n")
            out.writelines("\n".join(" ".join(r) for r in s) + "\n\n" for s in merged)
    print(f"{before} sentences -> {after}")


if __name__ == "__main__":
    main()
