"""Scoring with seqeval in its default, conlleval-compatible mode; reports as tables and JSON.

Entity tag sets get entity-level precision/recall/F1 (micro and macro averages, and per type
with support = number of gold entities); plain tag sets (POS) get token accuracy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from tagger.data.conll import read_sentences
from tagger.data.schemes import detect_scheme, find_malformed
from tagger.errors import DataError


def accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Share of tokens whose predicted tag equals the gold tag."""
    total = sum(len(g) for g in gold)
    right = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    return right / total if total else 0.0


def score(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    scheme: str | None = None,
    confusion: str | None = None,
) -> dict[str, Any]:
    """Score predicted tag sequences against gold ones.

    Returns ``{"accuracy": .., "micro": {"precision", "recall", "f1"}, "macro": {..},
    "per_type": {TYPE: {"precision", "recall", "f1", "support"}}}`` with values in 0..1; for
    plain tag sets (scheme ``none``, detected from ``gold`` when not given) only ``accuracy``.
    """
    scheme = scheme or detect_scheme(gold)
    report: dict[str, Any] = {"accuracy": accuracy(gold, pred)}
    if scheme == "none":
        return report
    if confusion is not None:  # the entity-type confusion matrix, as a PNG
        from tagger.plots import entity_confusion, plot_confusion

        plot_confusion(entity_confusion(gold, pred, scheme), confusion)
    from seqeval.metrics import classification_report

    if scheme == "bilou":  # seqeval knows B/I/E/S: L- is E-, U- is S-
        gold, pred = _bilou_as_iobes(gold), _bilou_as_iobes(pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on types absent from gold or pred
        raw = classification_report(
            [list(g) for g in gold], [list(p) for p in pred], output_dict=True, zero_division=0
        )
    pick = ("precision", "recall", "f1-score")
    for row in raw.values():  # seqeval gives NaN averages when neither side has an entity
        row.update({k: 0.0 for k in pick if math.isnan(row[k])})
    report["micro"] = {k.removesuffix("-score"): float(raw["micro avg"][k]) for k in pick}
    report["macro"] = {k.removesuffix("-score"): float(raw["macro avg"][k]) for k in pick}
    report["per_type"] = {
        name: {
            **{k.removesuffix("-score"): float(row[k]) for k in pick},
            "support": int(row["support"]),
        }
        for name, row in sorted(raw.items())
        if not name.endswith(" avg")
    }
    return report


def _bilou_as_iobes(sequences: Sequence[Sequence[str]]) -> list[list[str]]:
    rename = {"L": "E", "U": "S"}
    return [
        [rename.get(t[:1], t[:1]) + t[1:] if t[1:2] == "-" else t for t in s] for s in sequences
    ]


def read_tag_sequences(
    path: str,
    fmt: str = "conll",
    tag_column: int = -1,
    tag_field: str = "upos",
    token_column: int = 0,
) -> tuple[list[list[str]], list[list[str]], list[int]]:
    """Tokens, tags and first-line numbers of every sentence of a file (tags required)."""
    tokens, tags, lines = [], [], []
    for sentence in read_sentences(path, fmt, token_column, tag_column, tag_field):
        if sentence.tags is None:
            raise DataError(path, sentence.line, "no tag column to score")
        tokens.append(sentence.tokens)
        tags.append(sentence.tags)
        lines.append(sentence.line)
    if not tokens:
        raise DataError(path, None, "no sentences found")
    reject_malformed(path, tags, lines)
    return tokens, tags, lines


def reject_malformed(path: str, tags: Sequence[Sequence[str]], lines: Sequence[int]) -> None:
    """Raise a DataError at the sentence holding a tag like ``X-PER`` among B-/I- tags."""
    bad = find_malformed(tags)
    if bad is not None:
        index, position, tag = bad
        message = f"unknown tag prefix in {tag!r}: expected O or B-, I-, E-, S-, L-, U- TYPE"
        raise DataError(path, lines[index] + position, message)


def score_files(
    gold_path: str,
    pred_path: str,
    fmt: str = "conll",
    tag_column: int = -1,
    tag_field: str = "upos",
    scheme: str | None = None,
    confusion: str | None = None,
) -> dict[str, Any]:
    """Score a prediction file against a gold file with the same sentences and tokens
    (and draw the entity confusion matrix to the PNG ``confusion``)."""
    gold_tokens, gold, _ = read_tag_sequences(gold_path, fmt, tag_column, tag_field)
    pred_tokens, pred, pred_lines = read_tag_sequences(pred_path, fmt, tag_column, tag_field)
    for i, (g, p) in enumerate(zip(gold_tokens, pred_tokens)):
        if len(g) != len(p):
            raise DataError(
                pred_path,
                pred_lines[i],
                f"sentence {i + 1} has {len(p)} tokens, the gold file's has {len(g)}",
            )
    if len(gold) != len(pred):
        raise DataError(pred_path, None, f"{len(pred)} sentences, the gold file has {len(gold)}")
    return score(gold, pred, scheme, confusion)


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

    for name, values in report["per_type"].items():
        row(name, values, str(values["support"]))
    total = sum(v["support"] for v in report["per_type"].values())
    table.add_section()
    row("micro avg", report["micro"], str(total))
    row("macro avg", report["macro"], str(total))
    table.caption = f"token accuracy {100 * report['accuracy']:.2f}"
    return table
