"""Where raw-text tagging loses entities: sentence splits against tokenisation.

For one gold file, detokeniser and layout (as ``bench/rawtext.py`` builds them), this reports

- **splits**: the gold sentence ends inside a text that the splitter finds (recall) and the ends
  it finds that are not gold ones (precision), and the missed ends by the kind of sentence they
  close (no final punctuation: all capitals, title-like, ending in a date or number, other);
- **tokens**: raw-text tokens that are gold tokens (character spans), precision and recall;
- **entities** (with a model): the gold entities that tagging gold tokens finds and tagging the
  raw text misses, by cause: an entity edge that is no raw-token edge (tokenisation), a raw
  sentence that runs across a missed gold end (merge), or neither (other).

    python bench/rawtext_errors.py RUN_DIR ../shared/data/conll2003/dev.txt --detok rules \\
        --layout running
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detok  # noqa: E402
import rawtext  # noqa: E402

from tagger.data.schemes import detect_scheme  # noqa: E402
from tagger.data.text import split_text  # noqa: E402


def kind_of(sentence: list[str]) -> str:
    """The kind of a gold sentence, for the ends a splitter misses after it."""
    if detok.ends_sentence(sentence):
        return "punctuated"
    words = [t for t in sentence if any(c.isalpha() for c in t)]
    if words and all(t.upper() == t for t in words):
        return "all capitals"
    if sentence[-1][:1].isdigit():
        return "ends in a number or date"
    if words and sum(t[:1].isupper() for t in words) >= 0.6 * len(words):
        return "title-like"
    return "other"


def analyse(path: str, how: str, layout: str, tagger: Any | None) -> dict[str, Any]:
    docs, gold_tags = rawtext.documents(path)
    scheme = detect_scheme(t for doc in gold_tags for t in doc)
    missed: Counter[str] = Counter()
    gold_ends = found_ends = hit_ends = 0
    gold_tokens = found_tokens = hit_tokens = 0
    merged: list[set[tuple[int, int]]] = []  # per text: raw sentences across a missed end
    examples: list[str] = []
    texts = []
    for doc in docs:
        text, offsets = detok.detokenize(doc, how, layout)
        texts.append(text)
        sentences = split_text(text, "sentences")
        ends, seen = {}, 0
        for sentence in doc[:-1]:
            seen += len(sentence)
            ends[offsets[seen - 1][1]] = sentence
        found = {s[-1].end for s in sentences[:-1]}
        gold_ends, found_ends = gold_ends + len(ends), found_ends + len(found)
        hit_ends += len(found & set(ends))
        across = set()
        for end, sentence in ends.items():
            if end not in found:
                missed[kind_of(sentence)] += 1
                if len(examples) < 30 and layout == "running":
                    examples.append(text[max(0, end - 50) : end + 40].replace("\n", " | "))
                raw = next((s for s in sentences if s[0].start < end < s[-1].end), None)
                if raw is not None:
                    across.add((raw[0].start, raw[-1].end))
        merged.append(across)
        gold_set = set(offsets)
        raw_set = {(t.start, t.end) for s in sentences for t in s}
        gold_tokens, found_tokens = gold_tokens + len(gold_set), found_tokens + len(raw_set)
        hit_tokens += len(gold_set & raw_set)
    out: dict[str, Any] = {
        "gold": path,
        "detok": how,
        "layout": layout,
        "split_recall": 100 * hit_ends / max(1, gold_ends),
        "split_precision": 100 * hit_ends / max(1, found_ends),
        "gold_ends": gold_ends,
        "missed_ends": dict(missed.most_common()),
        "token_recall": 100 * hit_tokens / max(1, gold_tokens),
        "token_precision": 100 * hit_tokens / max(1, found_tokens),
        "examples": examples,
    }
    if tagger is not None:
        out["entities"] = _entities(tagger, path, docs, gold_tags, scheme, texts, how, layout)
        out["entities"]["lost"] = _causes(out["entities"].pop("lost_spans"), texts, merged)
    return out


def _entities(tagger, path, docs, gold_tags, scheme, texts, how, layout) -> dict[str, Any]:
    offsets = [detok.detokenize(doc, how, layout)[1] for doc in docs]
    gold, by_tokens, by_text = set(), set(), set()
    token_tags = rawtext._token_tags(tagger, path, docs)
    for i, doc in enumerate(docs):
        gold |= rawtext.char_entities(i, doc, gold_tags[i], offsets[i], scheme)
        by_tokens |= rawtext.char_entities(i, doc, token_tags[i], offsets[i], tagger.vocab.scheme)
    tagged = tagger.predict(texts, split="sentences")
    edges = [{e for s in t.sentences for o in s.offsets for e in o} for t in tagged]
    for i, t in enumerate(tagged):
        by_text |= {(i, s.start_char, s.end_char, s.type) for s in t.spans}
    lost = (gold & by_tokens) - by_text
    gained = (gold & by_text) - by_tokens
    untokenised = {e for e in lost if e[1] not in edges[e[0]] or e[2] not in edges[e[0]]}
    return {
        "gold": len(gold),
        "f1_tokens": rawtext.prf(gold, by_tokens)["f1"],
        "f1_text": rawtext.prf(gold, by_text)["f1"],
        "lost_spans": [(e, e in untokenised) for e in sorted(lost)],
        "gained": len(gained),
        "false_positives_text": len(by_text - gold),
        "false_positives_tokens": len(by_tokens - gold),
    }


def _causes(lost: list, texts: list[str], merged: list[set[tuple[int, int]]]) -> dict[str, Any]:
    causes: Counter[str] = Counter()
    shown: list[str] = []
    for (i, start, end, kind), untokenised in lost:
        inside = any(lo <= start and end <= hi for lo, hi in merged[i])
        cause = "tokenisation" if untokenised else "merge" if inside else "other"
        causes[cause] += 1
        if len(shown) < 40:
            around = texts[i][max(0, start - 40) : end + 30]
            shown.append(f"{cause}: {kind} {texts[i][start:end]!r} in {around!r}")
    return {"count": len(lost), "causes": dict(causes), "examples": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a model, or '-' for splits and tokens only")
    parser.add_argument("gold")
    parser.add_argument("--detok", default="rules", choices=sorted(detok.DETOKENIZERS))
    parser.add_argument("--layout", nargs="+", default=["running"], choices=detok.LAYOUTS)
    args = parser.parse_args()
    tagger = None
    if args.run_dir != "-":
        import torch

        from tagger.prediction import Tagger

        torch.set_num_threads(1)
        tagger = Tagger.load(args.run_dir)
    for layout in args.layout:
        print(json.dumps(analyse(args.gold, args.detok, layout, tagger), indent=1))


if __name__ == "__main__":
    main()
