"""The closing lines a command prints for a person: a training summary table and a tagging line
(the full numbers stay in ``metrics.jsonl`` and behind ``--json``)."""

from __future__ import annotations

from typing import Any


def _scores(report: dict[str, Any] | None) -> str:
    """``F1 41.20  (P 50.10  R 35.00)`` or ``accuracy 95.76``, in percent, rounded."""
    if not report:
        return "-"
    if "micro" in report:
        m = report["micro"]
        return f"F1 {100 * m['f1']:.2f}  (P {100 * m['precision']:.2f}  R {100 * m['recall']:.2f})"
    return f"accuracy {100 * report['accuracy']:.2f}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def training_table(summary: dict[str, Any], run_dir: str, seconds: float) -> Any:
    """A two-column rich Table: model folder, best epoch, dev and test scores, time."""
    from rich.table import Table

    table = Table(title="training done", show_header=False, show_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", f"{run_dir}  (scores per epoch: {run_dir}/metrics.jsonl)")
    table.add_row("kept epoch", str(summary.get("best_epoch", "-")))
    if summary.get("dev"):
        table.add_row("dev", _scores(summary["dev"]))
    if summary.get("test"):
        table.add_row("test", _scores(summary["test"]))
    table.add_row("time", _duration(seconds))
    return table


def brief(summary: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """The training summary for ``--json``: headline scores only (per type: metrics.jsonl)."""
    out = {"output": run_dir, **{k: v for k, v in summary.items() if k not in ("dev", "test")}}
    for split in ("dev", "test"):
        if summary.get(split):  # no dev score when dev was trained on
            out[split] = {
                k: summary[split][k] for k in ("accuracy", "micro") if k in summary[split]
            }
    return out


def tagging_line(sentences: int, tokens: int, seconds: float, target: str) -> str:
    """``tagged 1,287 sentences, 23,394 tokens in 3.1 s (7,546 tokens/s) -> pred.conll``."""
    rate = tokens / max(seconds, 1e-9)
    where = "stdout" if target == "-" else target
    return (
        f"tagged {_count(sentences, 'sentence')}, {_count(tokens, 'token')} in {seconds:.1f} s "
        f"({rate:,.0f} tokens/s) -> {where}"
    )


def _count(number: int, noun: str) -> str:
    """``1 sentence``, ``1,287 sentences``."""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
