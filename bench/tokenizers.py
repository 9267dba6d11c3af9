"""Compare tokeniser + sentence splitter libraries with the corpora's own tokenisation.

Texts: CoNLL-2003 test and WNUT-17 test turned back into running text (``bench/detok.py``; a
CoNLL-2003 document is one text, a WNUT-17 tweet is one text), and UD EWT test from its original
``# text =`` lines (a document's sentences joined by a space). Each library tokenises and splits
the raw texts; tokens are matched to the gold tokens by exact character offsets (precision,
recall, F1), and sentence ends likewise. Speed: characters per second over all texts, one thread,
the best of three passes after one warm-up call (imports and set-up not counted).

Needs the candidates: ``pip install syntok segtok spacy sacremoses``. Run from the repository::

    python bench/tokenizers.py --data ../shared/data --detok rules --weights

``--weights`` also installs each library with its dependencies into an empty folder
(``pip install --target``) and reports the MB on disk.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import detok  # noqa: E402
import report  # noqa: E402

from tagger.data.conll import read_sentences  # noqa: E402

Span = tuple[int, int]
Text = tuple[str, list[Span], list[int]]  # raw text, gold token offsets, gold sentence ends
Splitter = Callable[[str], list[list[Span]]]


def conll_texts(path: Path, how: str) -> list[Text]:
    """One text per document (per sentence when the file has no ``-DOCSTART-``)."""
    docs: dict[int, list[list[str]]] = {}
    for sentence in read_sentences(path):
        docs.setdefault(sentence.doc, []).append(sentence.tokens)
    groups = list(docs.values())
    if len(groups) == 1:
        groups = [[s] for s in groups[0]]
    out = []
    for sentences in groups:
        text, offsets = detok.detokenize(sentences, how, "running")
        ends, seen = [], 0
        for sentence in sentences:
            seen += len(sentence)
            ends.append(offsets[seen - 1][1])
        out.append((text, offsets, ends))
    return out


def _ud_sentences(path: Path) -> Iterator[tuple[bool, str, list[tuple[str, list[str]]]]]:
    """(starts a document, text, [(surface token, its words)]) per sentence of a CoNLL-U file."""
    new_doc, text, units, cover = False, "", [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc"):
            new_doc = True
        elif line.startswith("# text = "):
            text = line[len("# text = ") :]
        elif not line.strip():
            if units:
                yield new_doc, text, units
            new_doc, units, cover = False, [], 0
        elif not line.startswith("#"):
            fields = line.split("\t")
            if "." in fields[0]:
                continue
            if "-" in fields[0]:
                first, last = map(int, fields[0].split("-"))
                units.append((fields[1], []))
                cover = last
            elif cover and int(fields[0]) <= cover:
                units[-1][1].append(fields[1])
            else:
                units.append((fields[1], [fields[1]]))


def ud_texts(path: Path) -> list[Text]:
    """One text per UD document: its sentences' original text joined by a space; gold tokens are
    the syntactic words where they spell the surface token (``do`` ``n't``), else the token."""
    out: list[Text] = []
    for new_doc, text, units in _ud_sentences(path):
        if new_doc or not out:
            out.append(("", [], []))
        whole, spans, ends = out[-1]
        base = len(whole) + 1 if whole else 0
        pos = 0
        for surface, words in units:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if "".join(words) == surface and detok.align(surface, words) is not None:
                for word in words:
                    spans.append((base + pos, base + pos + len(word)))
                    pos += len(word)
            else:
                spans.append((base + pos, base + pos + len(surface)))
                pos += len(surface)
        ends.append(spans[-1][1])
        out[-1] = ((whole + " " if whole else "") + text, spans, ends)
    return out


def _located(text: str, sentences: list[list[str]]) -> list[list[Span]]:
    """Offsets of string tokens found in order in ``text`` (for libraries that give strings)."""
    out, pos = [], 0
    for sentence in sentences:
        spans = []
        for token in sentence:
            start = text.find(token, pos)
            if start < 0:
                continue  # a token the library changed: counted as missing
            spans.append((start, start + len(token)))
            pos = start + len(token)
        out.append(spans)
    return out


def make_syntok() -> Splitter:
    import syntok.segmenter as segmenter
    from syntok.tokenizer import Tokenizer

    tok = Tokenizer(emit_hyphen_or_underscore_sep=True, replace_not_contraction=False)

    def run(text: str) -> list[list[Span]]:
        out = []
        for offset, paragraph in segmenter.preprocess_with_offsets(text):
            for sentence in segmenter.segment(tok.tokenize(paragraph, offset)):
                out.append([(t.offset, t.offset + len(t.value)) for t in sentence])
        return out

    return run


def make_segtok() -> Splitter:
    from segtok.segmenter import split_multi
    from segtok.tokenizer import split_contractions, word_tokenizer

    def run(text: str) -> list[list[Span]]:
        found = [split_contractions(word_tokenizer(s)) for s in split_multi(text)]
        return _located(text, found)

    return run


def make_spacy(variant: str) -> Splitter:
    if variant == "tagger":
        from tagger.data.text import split_text

        return lambda text: [[(t.start, t.end) for t in s] for s in split_text(text)]
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")

    def run(text: str) -> list[list[Span]]:
        doc = nlp(text)
        return [[(t.idx, t.idx + len(t)) for t in s if not t.is_space] for s in doc.sents]

    return run


PACKAGES = {"syntok": "syntok", "segtok": "segtok", "spacy.blank(en)": "spacy"}


def install_weight(package: str) -> dict[str, float]:
    """MB on disk and distributions of ``pip install --target`` of ``package`` with its
    dependencies, in a fresh folder (what it weighs on a machine that has none of them)."""
    with tempfile.TemporaryDirectory() as folder:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--target", folder, package]
        subprocess.run(pip, check=True, capture_output=True)
        files = [f for f in Path(folder).rglob("*") if f.is_file()]
        dists = len(list(Path(folder).glob("*.dist-info")))
        return {"mb": sum(f.stat().st_size for f in files) / 1e6, "distributions": dists}


CANDIDATES: dict[str, Callable[[], Splitter]] = {
    "syntok": make_syntok,
    "segtok": make_segtok,
    "spacy.blank(en)": lambda: make_spacy("plain"),
    "tagger (spaCy + CoNLL rules)": lambda: make_spacy("tagger"),
}


def prf(gold: set, found: set) -> dict[str, float]:
    hit = len(gold & found)
    p = hit / len(found) if found else 0.0
    r = hit / len(gold) if gold else 0.0
    return {"p": 100 * p, "r": 100 * r, "f1": 100 * (2 * p * r / (p + r) if hit else 0.0)}


def measure(split: Splitter, texts: list[Text], rounds: int = 3) -> dict[str, float]:
    gold_tokens, found_tokens, gold_ends, found_ends = set(), set(), set(), set()
    chars = 0
    seconds = float("inf")
    for _ in range(rounds):  # the best of a few passes: the machine is shared
        start = time.perf_counter()
        results = [split(text) for text, _, _ in texts]
        seconds = min(seconds, time.perf_counter() - start)
    for i, ((text, spans, ends), sentences) in enumerate(zip(texts, results)):
        chars += len(text)
        gold_tokens.update((i, s) for s in spans)
        gold_ends.update((i, e) for e in ends)
        found_tokens.update((i, s) for sentence in sentences for s in sentence)
        found_ends.update((i, sentence[-1][1]) for sentence in sentences if sentence)
    tokens = prf(gold_tokens, found_tokens)
    sentences = prf(gold_ends, found_ends)
    return {
        "token_p": tokens["p"],
        "token_r": tokens["r"],
        "token_f1": tokens["f1"],
        "sentence_f1": sentences["f1"],
        "chars_per_s": chars / seconds,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--detok", default="rules", choices=sorted(detok.DETOKENIZERS))
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    parser.add_argument("--output", default="bench/results")
    parser.add_argument("--weights", action="store_true", help="also pip install each, to measure")
    args = parser.parse_args()
    data = Path(args.data)
    corpora = {
        "CoNLL-2003 test": conll_texts(data / "conll2003" / "test.txt", args.detok),
        "WNUT-17 test": conll_texts(data / "wnut17" / "test.txt", args.detok),
        "UD EWT test": ud_texts(data / "ud_ewt" / "test.conllu"),
    }
    wall = time.perf_counter()
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        split = make()
        split("Warm up: load the rules. Then time.")  # not counted: import and set-up
        rows[name] = {corpus: measure(split, texts) for corpus, texts in corpora.items()}
        print(name, {c: round(r["token_f1"], 2) for c, r in rows[name].items()}, flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    wall = time.perf_counter() - wall
    lines = [
        f"Tokenisers on raw text ({args.detok} detokeniser for the CoNLL files), commit "
        f"{commit.stdout.strip()}, {report.machine()} (shared with other jobs: speeds are noisy), "
        f"wall {wall:.0f} s: `python bench/tokenizers.py --detok {args.detok}"
        f"{' --weights' if args.weights else ''}`",
        "",
        "| library | corpus | token P | token R | token F1 | sentence-end F1 | chars/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_corpus in rows.items():
        for corpus, r in by_corpus.items():
            lines.append(
                f"| {name} | {corpus} | {r['token_p']:.2f} | {r['token_r']:.2f} | "
                f"{r['token_f1']:.2f} | {r['sentence_f1']:.2f} | {r['chars_per_s']:,.0f} |"
            )
    weights = {}
    if args.weights:
        weights = {name: install_weight(pkg) for name, pkg in PACKAGES.items() if name in rows}
        lines += ["", "| library | install MB (with dependencies) | distributions |"]
        lines += ["|---|---|---|"]
        lines += [f"| {n} | {w['mb']:.0f} | {w['distributions']} |" for n, w in weights.items()]
    stem = re.sub(r"\W+", "-", f"tokenizers-{args.detok}")
    result = {"detok": args.detok, "machine": report.machine(), "commit": commit.stdout.strip()}
    result |= {"wall_s": wall, "rows": rows, "weights": weights}
    report.save(result, args.output, stem, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
