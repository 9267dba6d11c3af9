"""Check that ``tagger.scoring`` (a port of conlleval's counting) matches the original conlleval.pl.

For each GOLD PRED pair the tag columns are joined into conlleval input (``token gold pred``, a
blank line between sentences, ``-DOCSTART-`` lines skipped), scored by ``perl conlleval.pl`` and by
:func:`tagger.scoring.score_files`, and the token accuracy and the micro and per-type
precision/recall/F1 are compared. Exit status 1 if any of them differ by more than 0.005 points
(conlleval prints two decimals).

``--make-invalid OUTDIR`` treats the positional arguments as gold files instead and first writes,
for each of IOB1 and IOB2, the gold in that scheme and a prediction file in which a seeded RNG has
corrupted ~15% of the entities into invalid or unusual sequences (``O I-PER``, ``B-PER I-LOC``,
``I-PER`` at sentence start, ``B-PER I-PER`` in IOB1, adjacent same-type entities).

``--make-odd OUTDIR`` also treats them as gold files and writes two predictions each: the gold
with 2% of its ``O`` tags replaced by ``FOO`` (issue 25's case), and the gold with 5% of all tags
replaced by tags outside any scheme that conlleval still reads (``B-``, ``FOO``, ``X-PER``,
``B-PER-X``, ``[``, ``.``, ``S-PER``, ...).

    python bench/conlleval_check.py --conlleval /work/tools/conlleval.pl GOLD PRED
    python bench/conlleval_check.py --conlleval /work/tools/conlleval.pl --make-invalid /tmp/i GOLD
    python bench/conlleval_check.py --conlleval /work/tools/conlleval.pl --make-odd /tmp/o GOLD
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tagger.data.conll import read_sentences
from tagger.data.schemes import convert, detect_scheme, get_spans
from tagger.scoring import score_files

TOLERANCE = 0.005 + 1e-9  # conlleval prints two decimals: rounding moves a value by 0.005 at most
PATTERNS = ("O I-X", "B-X I-Y", "start I-X", "B-X I-X", "adjacent")
_PRF = r"precision:\s*([\d.]+)%; recall:\s*([\d.]+)%; FB1:\s*([\d.]+)"
_ACCURACY = re.compile(r"accuracy:\s*([\d.]+)%")
ODD = ("FOO", "B-", "I-", "-", "B", "[", "]", ".", "0", "B-0", "X-{}", "O-{}", "B-{}-X", "S-{}")
_COUNTS = re.compile(r"with (\d+) phrases; found: (\d+) phrases; correct: (\d+)\.")

Scores = dict[str, tuple[float, float, float]]  # type (or "micro") -> (P, R, F1) in percent


def read(path: str) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) of every sentence of a CoNLL file."""
    return [(s.tokens, s.tags or []) for s in read_sentences(path)]


def conlleval_input(gold: str, pred: str) -> str:
    """The ``token gold pred`` lines of a pair of files, a blank line after each sentence."""
    gold_sents, pred_sents = read(gold), read(pred)
    if len(gold_sents) != len(pred_sents):
        sys.exit(f"{pred}: {len(pred_sents)} sentences, {gold} has {len(gold_sents)}")
    lines = []
    for (tokens, gold_tags), (_, pred_tags) in zip(gold_sents, pred_sents):
        if len(gold_tags) != len(pred_tags):
            sys.exit(f"{pred}: a sentence differs in length from {gold}")
        for token, g, p in zip(tokens, gold_tags, pred_tags):
            lines.append(f"{'_' if token == '-X-' else token} {g} {p}")  # -X- is a boundary
        lines.append("")
    return "\n".join(lines) + "\n"


def run_conlleval(script: str, text: str) -> tuple[Scores, tuple[int, int, int]]:
    """Scores printed by conlleval.pl (token accuracy as ``accuracy``), and its (gold, found,
    correct) phrase counts."""
    out = subprocess.run(["perl", script], input=text, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    counts = _COUNTS.search(lines[0])
    overall = re.search(_PRF, lines[1])
    accuracy = _ACCURACY.search(lines[1])
    assert counts and overall and accuracy, out.stdout
    scores: Scores = {"micro": tuple(map(float, overall.groups()))}  # type: ignore[dict-item]
    scores["accuracy"] = (float(accuracy[1]),) * 3
    for line in lines[2:]:  # the empty type ("B-", "FOO") prints as a blank name
        match = re.match(rf"\s*(\S*): \s*\d+\s+\d+\s+\d+ {_PRF}\s+\d+$", line)
        assert match, line
        scores[match[1]] = (float(match[2]), float(match[3]), float(match[4]))
    return scores, (int(counts[1]), int(counts[2]), int(counts[3]))


def tagger_scores(gold: str, pred: str) -> tuple[Scores, int]:
    """Scores of ``tagger.scoring.score_files`` in percent, and the number of gold entities."""
    report = score_files(gold, pred)
    rows = {"micro": report["micro"], **report["per_type"]}
    scores = {k: (100 * v["precision"], 100 * v["recall"], 100 * v["f1"]) for k, v in rows.items()}
    scores["accuracy"] = (100 * report["accuracy"],) * 3
    return scores, sum(v["support"] for v in report["per_type"].values())


def compare(script: str, gold: str, pred: str) -> bool:
    """Print the comparison table of one pair; True if everything agrees."""
    perl, (n_gold, found, correct) = run_conlleval(script, conlleval_input(gold, pred))
    ours, support = tagger_scores(gold, pred)
    print(f"\n{gold}  vs  {pred}")
    print(f"conlleval: {n_gold} gold, {found} found, {correct} correct; tagger support {support}")
    print(f"{'type':<16}" + "".join(f"{m:>18}" for m in ("P perl/tagger", "R perl/tagger", "F1")))
    ok = support == n_gold and set(perl) == set(ours)
    worst = 0.0
    for name in sorted(set(perl) | set(ours), key=lambda k: (k not in ("accuracy", "micro"), k)):
        a, b = perl.get(name), ours.get(name)
        if a is None or b is None:
            print(f"{name:<16} only in {'tagger' if a is None else 'conlleval'}")
            continue
        cells = "".join(f"{x:9.2f}/{y:<8.4f}" for x, y in zip(a, b))
        diff = max(abs(x - y) for x, y in zip(a, b))
        worst = max(worst, diff)
        print(f"{name or '(empty)':<16}{cells}  |diff| {diff:.4f}")
    # The overall counts are printed exactly, so the micro scores can be checked exactly too.
    p = correct / found if found else 0.0
    r = correct / n_gold if n_gold else 0.0
    exact = abs(100 * p - ours["micro"][0]) < 1e-9 and abs(100 * r - ours["micro"][1]) < 1e-9
    ok = ok and exact and worst <= TOLERANCE
    print(f"max |diff| {worst:.4f} points; micro P/R exact from counts: {exact}; ", end="")
    print("AGREE" if ok else "DISAGREE")
    return ok


def corrupt(
    tags: list[str], scheme: str, types: list[str], rng: random.Random, rate: float, used: Counter
) -> list[str]:
    """Corrupt about ``rate`` of the entities of one sentence into the patterns of PATTERNS."""
    out = list(tags)
    for type_, start, end in get_spans(tags, scheme):
        if rng.random() >= rate:
            continue
        pattern = rng.choice(PATTERNS)
        used[pattern] += 1
        other = rng.choice([t for t in types if t != type_] or [type_])
        after = start + 1 if start + 1 < len(out) else None
        if pattern == "O I-X":
            out[start] = "O" if end - start > 1 else f"I-{type_}"
        elif pattern == "B-X I-Y":
            out[start] = f"B-{type_}"
            if after is not None:
                out[after] = f"I-{other}"
        elif pattern == "start I-X":
            out[0] = f"I-{type_}"
        elif pattern == "B-X I-X":  # a B that IOB1 only allows after an entity of the same type
            out[start] = f"B-{type_}"
            if after is not None:
                out[after] = f"I-{type_}"
        elif end < len(out) or end - start > 1:  # split or extend into adjacent same-type entities
            out[start + 1 if end - start > 1 else end] = f"B-{type_}"
    return out


def write(path: Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    """Write ``token<TAB>tag`` lines, a blank line after each sentence.

    TAB, not space: a sentence-initial ``# O`` line would read as a comment.
    """
    with path.open("w", encoding="utf-8") as f:
        for tokens, tags in sentences:
            f.writelines(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tags))
            f.write("\n")


def make_invalid(gold: str, outdir: Path, seed: int, rate: float) -> list[tuple[str, str]]:
    """Write the IOB1 and IOB2 gold and corrupted predictions of ``gold``; return the pairs."""
    sentences = read(gold)
    source = detect_scheme([tags for _, tags in sentences])
    types = sorted({t for _, tags in sentences for t, _, _ in get_spans(tags, source)})
    outdir.mkdir(parents=True, exist_ok=True)
    stem, pairs = f"{Path(gold).parent.name}-{Path(gold).stem}", []
    for scheme in ("iob1", "iob2"):
        rng, used = random.Random(f"{seed}-{scheme}"), Counter[str]()
        gold_s = [(toks, convert(tags, source, scheme)) for toks, tags in sentences]
        pred_s = [(toks, corrupt(tags, scheme, types, rng, rate, used)) for toks, tags in gold_s]
        gold_path = gold if scheme == source else str(outdir / f"{stem}.{scheme}.gold.txt")
        if scheme != source:
            write(Path(gold_path), gold_s)
        pred_path = outdir / f"{stem}.{scheme}.invalid.txt"
        write(pred_path, pred_s)
        pairs.append((gold_path, str(pred_path)))
        print(f"wrote {pred_path}: {sum(used.values())} entities corrupted {dict(used)}")
    return pairs


def make_odd(gold: str, outdir: Path, seed: int) -> list[tuple[str, str]]:
    """Write the FOO and the odd-tag predictions of ``gold``; return the (gold, pred) pairs."""
    sentences = read(gold)
    types = sorted({t.partition("-")[2] for _, tags in sentences for t in tags if "-" in t})
    outdir.mkdir(parents=True, exist_ok=True)
    stem, pairs = f"{Path(gold).parent.name}-{Path(gold).stem}", []
    rng = random.Random(f"{seed}-foo")
    foo = [
        (toks, [("FOO" if t == "O" and rng.random() < 0.02 else t) for t in tags])
        for toks, tags in sentences
    ]
    rng = random.Random(f"{seed}-odd")
    odd = [
        (
            toks,
            [rng.choice(ODD).format(rng.choice(types)) if rng.random() < 0.05 else t for t in tags],
        )
        for toks, tags in sentences
    ]
    for name, pred in (("foo", foo), ("odd", odd)):
        path = outdir / f"{stem}.{name}.txt"
        write(path, pred)
        pairs.append((gold, str(path)))
        changed = sum(a != b for (_, g), (_, p) in zip(sentences, pred) for a, b in zip(g, p))
        print(f"wrote {path}: {changed} tags changed")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conlleval", required=True, help="path to the original conlleval.pl")
    parser.add_argument("--make-invalid", metavar="OUTDIR", type=Path, help="see module doc")
    parser.add_argument("--make-odd", metavar="OUTDIR", type=Path, help="see module doc")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rate", type=float, default=0.15, help="share of entities corrupted")
    parser.add_argument("files", nargs="+", help="GOLD PRED pairs (GOLD files with --make-invalid)")
    args = parser.parse_args()
    if args.make_invalid:
        pairs = [
            p for g in args.files for p in make_invalid(g, args.make_invalid, args.seed, args.rate)
        ]
    elif args.make_odd:
        pairs = [p for g in args.files for p in make_odd(g, args.make_odd, args.seed)]
    elif len(args.files) % 2:
        parser.error("expected GOLD PRED pairs")
    else:
        pairs = list(zip(args.files[::2], args.files[1::2]))
    results = [compare(args.conlleval, gold, pred) for gold, pred in pairs]
    print(f"\n{sum(results)}/{len(results)} pairs agree")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
