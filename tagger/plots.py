"""Pictures: training curves, per-type scores, entity confusion matrices, attention heat maps.

matplotlib (the ``plot`` extra) is imported only here, with the Agg backend; every PNG is written
atomically.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tagger.atomic import atomic_write_bytes
from tagger.conlleval import chunk_spans
from tagger.data.schemes import TagError, get_spans
from tagger.errors import TaggerError

MISSED, SPURIOUS = "(missed)", "(spurious)"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise TaggerError(
            "plots need matplotlib: pip install matplotlib (or, in the tagger checkout, "
            "pip install -e '.[plot]'; 'tagger' on PyPI is another project)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        raise TaggerError(f"{run_dir}: no metrics.jsonl (not a training run directory)") from None
    except json.JSONDecodeError as exc:
        raise TaggerError(f"{path}: damaged metrics file: {exc}") from None


def _curve(epochs: list[int], values: list[float], title: str, ylabel: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, values, marker="o")
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write loss.png, dev.png, lr.png and per_type.png for a training run; return their paths.
    A run trained on its dev set (``train.with_dev``) has no dev scores, so no dev.png or
    per_type.png."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "plots"
    epochs = [m for m in read_metrics(run_dir) if "epoch" in m]
    if not epochs:
        raise TaggerError(f"{run_dir}/metrics.jsonl: no epoch finished yet")
    xs = [m["epoch"] for m in epochs]
    written = [
        _curve(xs, [m["loss"] for m in epochs], "training loss", "mean NLL", out / "loss.png")
    ]
    scored = epochs[0]["dev"] is not None
    if scored:
        dev = [
            m["dev"]["micro"]["f1"] if "micro" in m["dev"] else m["dev"]["accuracy"] for m in epochs
        ]
        written.append(
            _curve(xs, [100 * v for v in dev], "dev score", "F1 / accuracy (%)", out / "dev.png")
        )
    written.append(_curve(xs, [m["lr"] for m in epochs], "learning rate", "lr", out / "lr.png"))
    if not scored:
        return written
    best = next((m for m in reversed(epochs) if m.get("best")), epochs[-1])
    if "per_type" in best["dev"]:
        written.append(_per_type(best["dev"]["per_type"], best["epoch"], out / "per_type.png"))
    return written


def _per_type(per_type: dict[str, dict[str, float]], epoch: int, path: Path) -> Path:
    plt = _pyplot()
    names = list(per_type)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names)), 3.5))
    xs = range(len(names))
    for offset, key in ((-0.2, "precision"), (0.2, "recall")):
        ax.bar([x + offset for x in xs], [100 * per_type[n][key] for n in names], 0.4, label=key)
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set(title=f"dev precision / recall per type (best epoch {epoch})", ylabel="%", ylim=(0, 100))
    ax.legend()
    return _save(fig, path)


def entity_confusion(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str
) -> Counter[tuple[str, str]]:
    """Counts of (gold type, predicted type) over entities matched by exact boundaries;
    unmatched gold entities pair with ``(missed)``, unmatched predictions with ``(spurious)``."""
    counts: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold, pred):
        gold_spans = {(s, e): t for t, s, e in _spans(g, scheme)}
        pred_spans = {(s, e): t for t, s, e in _spans(p, scheme)}
        for bounds, kind in gold_spans.items():
            counts[kind, pred_spans.get(bounds, MISSED)] += 1
        for bounds, kind in pred_spans.items():
            if bounds not in gold_spans:
                counts[SPURIOUS, kind] += 1
    return counts


def _spans(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    """The entities of a sequence in ``scheme``; as conlleval reads them if a tag is malformed."""
    try:
        return get_spans(tags, scheme)
    except TagError:
        return chunk_spans(tags)


def plot_confusion(counts: Counter[tuple[str, str]], path: str | Path) -> Path:
    """Draw an entity confusion matrix (rows: gold, columns: predicted)."""
    plt = _pyplot()
    types = sorted({t for pair in counts for t in pair} - {MISSED, SPURIOUS})
    rows, cols = [*types, SPURIOUS], [*types, MISSED]
    grid = [[counts.get((r, c), 0) for c in cols] for r in rows]
    fig, ax = plt.subplots(figsize=(1 + 0.9 * len(cols), 1 + 0.7 * len(rows)))
    ax.imshow(grid, cmap="Blues")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel="predicted", ylabel="gold", title="entity confusion (exact boundaries)")
    return _save(fig, Path(path))


def plot_attention(
    tokens: Sequence[str], layers: list[tuple[str, Any]], labels: Sequence[str], path: str | Path
) -> Path:
    """One heat map per attention layer: (T, T) over tokens or (T, L) over labels."""
    plt = _pyplot()
    shown = [(name, w) for name, w in layers if w is not None]
    if not shown:
        raise TaggerError("this model has no attention layer with weights to show")
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 0.35 * len(tokens) + 2))
    axes = axes if len(shown) > 1 else [axes]
    for ax, (name, weights) in zip(axes, shown):
        ax.imshow(weights, cmap="viridis", aspect="auto")
        ax.set_yticks(range(len(tokens)), tokens)
        across = labels if weights.shape[1] == len(labels) and name == "label" else tokens
        ax.set_xticks(range(weights.shape[1]), list(across)[: weights.shape[1]], rotation=90)
        ax.set_title(name)
    return _save(fig, Path(path))
