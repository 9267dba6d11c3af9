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


def _curve(xs: list[int], ys: list[float], title: str, ylabel: str, path: Path, **how: Any) -> Path:
    """One value per epoch; ``kept``: the epoch of the saved model, marked; ``steps``: drawn as
    steps (a learning rate holds until it is decayed); ``log``: a logarithmic y axis when the
    values span a decade or more, else a linear one from 0."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if how.get("steps"):
        ax.step(xs, ys, where="post", marker="o")
    else:
        ax.plot(xs, ys, marker="o")
    kept = how.get("kept")
    if kept in xs:
        star = {"marker": "*", "markersize": 16, "color": "tab:red", "linestyle": "none"}
        ax.plot([kept], [ys[xs.index(kept)]], label=f"kept model (epoch {kept})", **star)
        ax.legend(loc="best")
    if how.get("log") and min(ys) > 0 and max(ys) >= 10 * min(ys):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter("{x:g}")  # 0.001, not 10^-3
    elif how.get("log"):  # less than a decade (or flat): from 0, so the ticks are round numbers
        ax.set_ylim(0, 1.15 * max(ys) or 1)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.set_xticks(xs if len(xs) <= 20 else xs[:: max(1, len(xs) // 10)])
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
    kept = next((m for m in reversed(epochs) if m.get("best")), epochs[-1])
    loss = [m["loss"] for m in epochs]
    written = [
        _curve(xs, loss, "training loss", "mean loss (NLL) per sentence", out / "loss.png",
               kept=kept["epoch"])
    ]  # fmt: skip
    scored = epochs[0]["dev"] is not None
    if scored:
        metric = "F1" if "micro" in epochs[0]["dev"] else "accuracy"
        dev = [100 * (m["dev"]["micro"]["f1"] if metric == "F1" else m["dev"]["accuracy"])
               for m in epochs]  # fmt: skip
        title = f"dev {metric} per epoch"
        written.append(
            _curve(xs, dev, title, f"dev {metric} (%)", out / "dev.png", kept=kept["epoch"])
        )
    lr = [m["lr"] for m in epochs]
    written.append(
        _curve(xs, lr, "learning rate", "learning rate", out / "lr.png", steps=True, log=True)
    )
    if scored and "per_type" in kept["dev"]:
        written.append(_per_type(kept["dev"]["per_type"], kept["epoch"], out / "per_type.png"))
    return written


def _per_type(per_type: dict[str, dict[str, float]], epoch: int, path: Path) -> Path:
    """Precision, recall and F1 bars per type, values on the bars (a zero shows as "0"), the
    number of gold entities under each type."""
    plt = _pyplot()
    names = list(per_type)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names)), 4))
    xs = range(len(names))
    for offset, key in ((-0.27, "precision"), (0, "recall"), (0.27, "f1")):
        values = [100 * per_type[n][key] for n in names]
        bars = ax.bar([x + offset for x in xs], values, 0.27, label=key)
        ax.bar_label(bars, [f"{v:.0f}" for v in values], fontsize=8, padding=1)
    ticks = [f"{n}\n({per_type[n]['support']} gold)" for n in names]
    ax.set_xticks(list(xs), ticks, rotation=0 if len(names) <= 6 else 30)
    ax.set(title=f"dev scores per type (kept epoch {epoch})", ylabel="%", ylim=(0, 109))
    ax.axhline(0, color="black", linewidth=0.8)  # a type scoring 0 still has its axis and label
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
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


def _ink(image: Any, value: float) -> str:
    """Black or white text, whichever reads on the cell colour ``image`` gives ``value``."""
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def plot_confusion(counts: Counter[tuple[str, str]], path: str | Path) -> Path:
    """Draw an entity confusion matrix (rows: gold, columns: predicted)."""
    plt = _pyplot()
    types = sorted({t for pair in counts for t in pair} - {MISSED, SPURIOUS})
    rows, cols = [*types, SPURIOUS], [*types, MISSED]
    grid = [[counts.get((r, c), 0) for c in cols] for r in rows]
    fig, ax = plt.subplots(figsize=(2 + 0.9 * len(cols), 1.5 + 0.6 * len(rows)))
    image = ax.imshow(grid, cmap="Blues")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            ax.text(
                j, i, str(value), ha="center", va="center", fontsize=9, color=_ink(image, value)
            )
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel="predicted type", ylabel="gold type", title="entity confusion (exact boundaries)")
    fig.colorbar(image, ax=ax, label="entities", shrink=0.8)
    return _save(fig, Path(path))


CELL = 0.32  # inches per token in a heat map: a 45-token sentence stays legible at 10 pt


def plot_attention(
    tokens: Sequence[str],
    layers: list[tuple[str, Any]],
    labels: Sequence[str],
    path: str | Path,
    tags: Sequence[str] | None = None,
) -> Path:
    """One heat map per attention layer, stacked: (T, T) weights of each token (query, rows) over
    the tokens (keys, columns), or (T, L) over the labels; rows name their predicted tag. The
    figure grows with the sentence, so long sentences keep readable labels."""
    plt = _pyplot()
    shown = [(i, name, w) for i, (name, w) in enumerate(layers) if w is not None]
    if not shown:
        raise TaggerError("this model has no attention layer with weights to show")
    widths = [w.shape[1] for _, _, w in shown]
    heights = [CELL * len(tokens) + 2.5 for _ in shown]  # + title and the key labels below
    fig, axes = plt.subplots(
        len(shown), 1, figsize=(CELL * max(widths) + 4, sum(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights}, layout="constrained",
    )  # fmt: skip
    rows = [f"{t}  [{g}]" for t, g in zip(tokens, tags)] if tags else list(tokens)
    fig.suptitle(caption(tokens, fig.get_figwidth()), fontsize=11)
    for ax, (index, name, weights) in zip(axes[:, 0], shown):
        image = ax.imshow(weights, cmap="viridis", aspect="equal")
        over_labels = weights.shape[1] == len(labels) and name == "label"
        across = list(labels if over_labels else tokens)[: weights.shape[1]]
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xticks(range(weights.shape[1]), across, rotation=90)
        ax.set_xlabel("label" if over_labels else "key: the token attended to")
        ax.set_ylabel("query: token [predicted tag]")
        ax.set_title(f"attention layer {index + 1} ({name})", fontsize=10)
        fig.colorbar(image, ax=ax, label="attention weight", shrink=0.6, pad=0.02)
    return _save(fig, Path(path))


def caption(tokens: Sequence[str], width_inches: float) -> str:
    """The figure's title: the token count and the whole sentence, wrapped at word boundaries to
    the figure's width (about 9 characters an inch at 11 pt), so no line runs off the image."""
    import textwrap

    text = f"{len(tokens)} tokens: " + " ".join(tokens)
    return textwrap.fill(text, width=max(30, int(9 * width_inches)), break_long_words=True)
