"""Scores that agree with conlleval.pl; reports as tables and JSON.

Entity tag sets get entity-level precision/recall/F1 (micro and macro averages, and per type
with support = number of gold entities) from conlleval's own chunk counts
(:mod:`tagger.conlleval`), so every tag string is scored as the script scores it; plain tag sets
(POS) get token accuracy. :func:`score` is pure; reading and checking files is separate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.conlleval import count_chunks, same_tag
from tagger.data.conll import iter_chunks
from tagger.data.schemes import encode_spans, get_spans, is_entity_tag
from tagger.errors import DataError


def accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Share of tokens whose predicted tag equals the gold tag (as conlleval compares them)."""
    total = sum(len(g) for g in gold)
    right = sum(same_tag(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    return right / total if total else 0.0


def score(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str | None = None
) -> dict[str, Any]:
    """Score predicted tag sequences against gold ones, as conlleval.pl does.

    Returns ``{"accuracy": .., "micro": {"precision", "recall", "f1"}, "macro": {..},
    "per_type": {TYPE: {"precision", "recall", "f1", "support"}}}`` with values in 0..1; for
    plain tag sets (scheme ``none``, or no ``B-/I-/E-/S-/L-/U-TYPE`` tag on either side) only
    ``accuracy``. conlleval.pl does not know ``S-`` (nor BILOU's ``L-``/``U-``) and joins
    adjacent entities of one type there, so in an IOBES or BILOU corpus (``scheme``, or a gold
    side of only such tags) each sentence of well-formed tags is first rewritten to IOB2.
    """
    scheme = scheme or _detect(gold, pred)
    report: dict[str, Any] = {"accuracy": accuracy(gold, pred)}
    if scheme == "none":
        return report
    if scheme in ("iobes", "bilou"):
        gold, pred = _as_iob2(gold), _as_iob2(pred)
    counts = count_chunks(gold, pred)
    types = sorted(set(counts.gold) | set(counts.found))
    per_type = {
        t: {**_prf(counts.correct[t], counts.gold[t], counts.found[t]), "support": counts.gold[t]}
        for t in types
    }
    micro = _prf(*(sum(c.values()) for c in (counts.correct, counts.gold, counts.found)))
    keys = ("precision", "recall", "f1")
    macro = {k: sum(r[k] for r in per_type.values()) / len(types) if types else 0.0 for k in keys}
    return {**report, "micro": micro, "macro": macro, "per_type": per_type}


def _prf(correct: int, gold: int, found: int) -> dict[str, float]:
    """conlleval's precision, recall and F1 (0 where it prints 0), as fractions."""
    precision = correct / found if found else 0.0
    recall = correct / gold if gold else 0.0
    total = precision + recall
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / total if total else 0.0,
    }


def _detect(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> str:
    """``none`` without entity tags on either side; ``iobes`` when every gold tag is O or a
    well-formed B/I/E/S/L/U tag and some are E/S/L/U; otherwise ``iob`` (conlleval as is)."""
    prefixes: set[str] = set()
    clean = True
    for sequence in gold:
        for tag in sequence:
            if tag == "O":
                continue
            if is_entity_tag(tag):
                prefixes.add(tag[0])
            else:
                clean = False
    if not prefixes and not any(is_entity_tag(t) for s in pred for t in s):
        return "none"
    return "iobes" if clean and prefixes & set("ESLU") else "iob"


def _as_iob2(sequences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each sentence of O and well-formed B/I/E/S/L/U tags rewritten to IOB2 (the same
    entities, S/U a one-token entity, E/L its end); other sentences as they are."""
    out = []
    for tags in sequences:
        if all(t == "O" or is_entity_tag(t) for t in tags):
            out.append(encode_spans(get_spans(tags, "iobes"), len(tags), "iob2"))
        else:
            out.append(list(tags))
    return out


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where a file keeps its tokens and tags: its format, the tag column (CoNLL-U: the
    ``tag_field``) and the token column."""

    fmt: str = "conll"
    tag_column: int = -1
    tag_field: str = "upos"
    token_column: int = 0


@dataclass
class TaggedFile:
    """The tagged sentences of a file: tokens, tags, each token's line number, documents."""

    path: str
    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    lines: list[list[int]] = field(default_factory=list)
    docs: list[int] = field(default_factory=list)


def read_tagged(path: str, columns: Columns = Columns()) -> TaggedFile:
    """Every sentence of a file, which must have tags (raises DataError naming the line)."""
    found = TaggedFile(path)
    where = (columns.fmt, columns.token_column, columns.tag_column, columns.tag_field)
    for chunk in iter_chunks(path, *where):
        sentence = chunk.sentence
        if sentence is None:
            continue
        if sentence.tags is None:
            raise DataError(path, sentence.line, "no tag column to score")
        first = chunk.token_rows[0]
        found.tokens.append(sentence.tokens)
        found.tags.append(sentence.tags)
        found.lines.append([sentence.line + row - first for row in chunk.token_rows])
        found.docs.append(sentence.doc)
    if not found.tokens:
        raise DataError(path, None, "no sentences found")
    return found


def read_tag_sequences(
    path: str, columns: Columns = Columns()
) -> tuple[list[list[str]], list[list[str]], list[int]]:
    """Tokens, tags and first-line numbers of every sentence of a file (tags required)."""
    tagged = read_tagged(path, columns)
    return tagged.tokens, tagged.tags, [lines[0] for lines in tagged.lines]


def check_aligned(gold: TaggedFile, pred: TaggedFile, tokens: bool = True) -> None:
    """Raise a DataError at the first line of ``pred`` whose sentence or token (with
    ``tokens``) differs from ``gold``'s: the two files must hold the same text."""
    for i, (g_tokens, p_tokens) in enumerate(zip(gold.tokens, pred.tokens)):
        g_lines, p_lines = gold.lines[i], pred.lines[i]
        if tokens:
            for g, p, g_line, p_line in zip(g_tokens, p_tokens, g_lines, p_lines):
                if g != p:
                    where = f"{gold.path}:{g_line}"
                    raise DataError(pred.path, p_line, f"token {p!r} differs from {g!r} at {where}")
        if len(g_tokens) != len(p_tokens):
            n, m = len(p_tokens), len(g_tokens)
            message = f"sentence {i + 1} has {n} tokens, the gold file's has {m}"
            raise DataError(pred.path, p_lines[0], f"{message} ({gold.path}:{g_lines[0]})")
    n, m = len(pred.tokens), len(gold.tokens)
    if n > m:
        message = f"sentence {m + 1} is not in the gold file, which has {m} sentences"
        raise DataError(pred.path, pred.lines[m][0], message)
    if n < m:
        where = f"{gold.path}:{gold.lines[n][0]}"
        raise DataError(pred.path, None, f"{n} sentences, the gold file has {m} (next at {where})")


def read_pair(
    gold_path: str, pred_path: str, columns: Columns = Columns(), *, check_tokens: bool = True
) -> tuple[TaggedFile, TaggedFile]:
    """A gold file and a prediction file for the same sentences (see :func:`check_aligned`)."""
    gold = read_tagged(gold_path, columns)
    pred = read_tagged(pred_path, columns)
    check_aligned(gold, pred, check_tokens)
    return gold, pred


def score_files(
    gold_path: str,
    pred_path: str,
    columns: Columns = Columns(),
    scheme: str | None = None,
    *,
    check_tokens: bool = True,
) -> dict[str, Any]:
    """Score a prediction file against a gold file with the same sentences and tokens."""
    gold, pred = read_pair(gold_path, pred_path, columns, check_tokens=check_tokens)
    return score(gold.tags, pred.tags, scheme)


def report_table(report: dict[str, Any]) -> Any:
    """A rich Table of a :func:`score` report."""
    from rich.table import Table

    table = Table(show_edge=False)
    if "micro" not in report:
        table.add_column("accuracy", justify="right")
        table.add_row(f"{100 * report['accuracy']:.2f}")
        return table
    for name in ("type", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "type" else "right")

    def row(name: str, values: dict[str, Any], support: str = "") -> None:
        cells = [f"{100 * values[k]:.2f}" for k in ("precision", "recall", "f1")]
        table.add_row(name, *cells, support)

    for name, values in report["per_type"].items():  # conlleval's empty type ("B-", "FOO")
        row(name or '""', values, str(values["support"]))
    total = sum(v["support"] for v in report["per_type"].values())
    table.add_section()
    row("micro avg", report["micro"], str(total))
    row("macro avg", report["macro"], str(total))
    table.caption = f"token accuracy {100 * report['accuracy']:.2f}"
    return table
