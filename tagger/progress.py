"""A rich progress bar for training epochs and tagging runs (on stderr; off when not a TTY)."""

from __future__ import annotations

import time
from typing import Any


class Progress:
    """``with Progress("epoch 1", total) as bar: bar.advance(loss=.., tokens=..)``.

    ``total`` counts steps (batches), or bytes with ``in_bytes`` (shown as MB done of MB). The
    loss shown is the running mean over the steps so far (one batch's loss jumps about).
    """

    def __init__(
        self, label: str, total: int | None, enabled: bool = True, in_bytes: bool = False
    ) -> None:
        self.label, self.total, self.enabled, self.in_bytes = label, total, enabled, in_bytes
        self._bar: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._loss_sum, self._loss_steps = 0.0, 0

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn() if self.in_bytes else MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, info="")
        return self

    def advance(self, steps: int = 1, loss: float | None = None, tokens: int = 0) -> None:
        if self._bar is None:
            return
        rate = tokens / max(time.perf_counter() - self._start, 1e-9)
        info = f"{rate:,.0f} tok/s"
        if loss is not None:
            self._loss_sum, self._loss_steps = self._loss_sum + loss, self._loss_steps + 1
            info += f"  loss {self._loss_sum / self._loss_steps:.3f} (mean)"
        self._bar.update(self._task, advance=steps, info=info)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
