"""Oracle F1 of the n-best paths: the best any reranker could reach by picking among K paths.

For each sentence the path with the most correctly predicted entities (ties: the fewest wrong
ones) is chosen; the chosen paths are scored like ordinary predictions.

    python bench/nbest_oracle.py RUN_DIR GOLD_FILE --k 1 3 10
"""

from __future__ import annotations

import argparse
import json

from tagger.data.schemes import get_spans
from tagger.prediction import Tagger
from tagger.scoring import read_tag_sequences, score


def pick(gold: list[str], options: list[list[str]], scheme: str) -> list[str]:
    """The option with the most gold entities right, then the fewest wrong."""
    truth = set(get_spans(gold, scheme))

    def merit(tags: list[str]) -> tuple[int, int]:
        found = set(get_spans(tags, scheme))
        return len(found & truth), -len(found - truth)

    return max(options, key=merit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("gold")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 10])
    args = parser.parse_args()
    tagger = Tagger.load(args.run_dir)
    tokens, gold, _ = read_tag_sequences(args.gold)
    found = tagger.predict(tokens, tokenized=True, nbest=max(args.k))
    scheme = tagger.vocab.scheme
    rows = {}
    for k in args.k:
        chosen = [
            pick(g, [o["tags"] for o in s.alternatives[:k]] or [s.tags], scheme)
            for g, s in zip(gold, found)
        ]
        rows[k] = score(gold, chosen, scheme)["micro"]["f1"]
        print(f"K={k}: oracle F1 {100 * rows[k]:.2f}")
    print(json.dumps({"run_dir": args.run_dir, "gold": args.gold, "oracle_f1": rows}))


if __name__ == "__main__":
    main()
