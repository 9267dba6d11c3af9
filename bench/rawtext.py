"""Tag raw text and tagging gold tokens, scored the same way: entities by character offsets.

A tokenised gold file (CoNLL columns, the tag in the last one) is turned back into running text
by a detokeniser (``bench/detok.py``: ``rules``, written here, or sacremoses' ``moses``): a
document's sentences become one text (a file without ``-DOCSTART-`` lines gives one text per
sentence), laid out as ``--layout`` says (``document``: running text, unpunctuated headlines
and datelines on lines of their own; ``running``: all on one line; ``lines``: a sentence per
line), and every gold entity becomes ``(text, start char, end char, type)``. Then

- **gold tokens**: the model tags the gold sentences (``Tagger.tag``, the usual CoNLL path);
- **raw text**: the model tags the texts (``Tagger.predict(texts)``: the library tokenises and
  splits them, as ``tagger predict --input-format text`` does);

and both sets of predicted entities are matched to the gold ones by character offsets and type.
The difference of the two F1 scores is what raw-text input costs.

    python bench/rawtext.py RUN_DIR ../shared/data/conll2003/test.txt --detok rules moses \\
        --layout document running lines
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detok  # noqa: E402
import report  # noqa: E402

from tagger.data.conll import read_sentences  # noqa: E402
from tagger.data.schemes import detect_scheme, get_spans  # noqa: E402
from tagger.prediction import Tagger  # noqa: E402

Entity = tuple[int, int, int, str]  # text index, start char, end char, type


def documents(path: str) -> tuple[list[list[list[str]]], list[list[list[str]]]]:
    """(tokens, tags) grouped per text: per document, or per sentence without documents."""
    tokens: dict[int, list[list[str]]] = {}
    tags: dict[int, list[list[str]]] = {}
    for sentence in read_sentences(path):
        tokens.setdefault(sentence.doc, []).append(sentence.tokens)
        tags.setdefault(sentence.doc, []).append(sentence.tags or [])
    docs, gold = list(tokens.values()), list(tags.values())
    if len(docs) == 1:
        return [[s] for s in docs[0]], [[t] for t in gold[0]]
    return docs, gold


def char_entities(
    index: int, sentences: list[list[str]], tags: list[list[str]], offsets: list, scheme: str
) -> set[Entity]:
    """Entities of tagged sentences as character spans, given each token's offsets."""
    out, seen = set(), 0
    for sentence, sentence_tags in zip(sentences, tags):
        for kind, start, end in get_spans(sentence_tags, scheme):
            out.add((index, offsets[seen + start][0], offsets[seen + end - 1][1], kind))
        seen += len(sentence)
    return out


def prf(gold: set[Entity], found: set[Entity]) -> dict[str, float]:
    hit = len(gold & found)
    p = hit / len(found) if found else 0.0
    r = hit / len(gold) if gold else 0.0
    f1 = 2 * p * r / (p + r) if hit else 0.0
    return {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f1, "gold": len(gold)}


_TAGGED: dict[str, list[list[list[str]]]] = {}


def _token_tags(tagger: Tagger, path: str, docs: list[list[list[str]]]) -> list[list[list[str]]]:
    """The model's tags for the gold sentences, per text (once per file: layouts share them)."""
    if path not in _TAGGED:
        flat = [s for doc in docs for s in doc]
        ids = [i for i, doc in enumerate(docs) for _ in doc]
        found = iter(tagger.tag(flat, ids))
        _TAGGED[path] = [[next(found) for _ in doc] for doc in docs]
    return _TAGGED[path]


def run(tagger: Tagger, path: str, how: str, split: str, layout: str) -> dict[str, Any]:
    docs, gold_tags = documents(path)
    scheme = detect_scheme(t for doc in gold_tags for t in doc)
    texts, offsets = zip(*(detok.detokenize(doc, how, layout) for doc in docs))
    gold: set[Entity] = set()
    for i, (doc, tags) in enumerate(zip(docs, gold_tags)):
        gold |= char_entities(i, doc, tags, offsets[i], scheme)

    token_tags = _token_tags(tagger, path, docs)
    by_tokens: set[Entity] = set()
    for i, tags in enumerate(token_tags):
        by_tokens |= char_entities(i, docs[i], tags, offsets[i], tagger.vocab.scheme)
    by_text: set[Entity] = set()
    for i, tagged in enumerate(tagger.predict(list(texts), split=split)):
        by_text |= {(i, s.start_char, s.end_char, s.type) for s in tagged.spans}

    tokens_score, text_score = prf(gold, by_tokens), prf(gold, by_text)
    return {
        "gold": path,
        "detok": how,
        "layout": layout,
        "split": split,
        "texts": len(texts),
        "characters": sum(map(len, texts)),
        "gold_tokens": tokens_score,
        "raw_text": text_score,
        "difference": tokens_score["f1"] - text_score["f1"],
    }


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    lines = [
        header,
        "",
        "| gold file | detokeniser | layout | split | F1 gold tokens | F1 raw text | difference "
        "| P / R raw text |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g, t = r["gold_tokens"], r["raw_text"]
        lines.append(
            f"| {r['gold']} | {r['detok']} | {r['layout']} | {r['split']} | {g['f1']:.2f} | "
            f"{t['f1']:.2f} | "
            f"{r['difference']:.2f} | {t['precision']:.2f} / {t['recall']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("gold", nargs="+", help="tokenised gold files (CoNLL, tag last)")
    parser.add_argument("--detok", nargs="+", default=["rules"], choices=sorted(detok.DETOKENIZERS))
    parser.add_argument(
        "--split", nargs="+", default=["sentences"], help="how the raw text is cut (SPLITS)"
    )
    parser.add_argument("--layout", nargs="+", default=["document"], choices=detok.LAYOUTS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="bench/results")
    parser.add_argument("--name", default="rawtext")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.run_dir)
    start = time.perf_counter()
    rows = [
        run(tagger, gold, how, split, layout)
        for gold in args.gold
        for how in args.detok
        for layout in args.layout
        for split in args.split
    ]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    wall = time.perf_counter() - start
    header = (
        f"Raw text against gold tokens, model `{args.run_dir}`, commit {commit}, "
        f"{report.machine()} (shared with other jobs), {args.threads} thread(s), "
        f"wall {wall:.0f} s: `python bench/rawtext.py {args.run_dir} {' '.join(args.gold)} "
        f"--detok {' '.join(args.detok)} --layout {' '.join(args.layout)} "
        f"--split {' '.join(args.split)}`"
    )
    result = {"model": args.run_dir, "commit": commit, "machine": report.machine()}
    result |= {"threads": args.threads, "wall_s": wall, "rows": rows}
    report.save(result, args.output, args.name, markdown(rows, header))
    worst = max(r["difference"] for r in rows)
    print(f"largest F1 drop from gold tokens to raw text: {worst:.2f}")


if __name__ == "__main__":
    main()
