"""Split rows of different lengths into groups of similar length for recurrent layers.

A recurrent layer runs a group of rows padded to its longest row. On CPU its cost is roughly
``call + width * (step + rows)`` in units of one row-step: a fixed cost per call (oneDNN's set-up,
the Python around it), a fixed cost per time step, and the row-steps themselves. One call wastes
the padding of short rows beside long ones; many calls pay ``call`` many times.
:func:`cheapest_split` finds the split of length-sorted rows that minimises the total, by dynamic
programming over the places where the length changes. Rounding each group's row count up to a
multiple of ``quantum`` (with empty filler rows) keeps the set of shapes small, so that oneDNN's
per-shape kernels are built once and then reused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    """The cost model, in row-steps: per call, per time step, and the row-count granularity."""

    call: float
    step: float
    quantum: int = 1

    def of(self, rows: int, width: int) -> float:
        rows = -(-rows // self.quantum) * self.quantum
        return self.call + width * (self.step + rows)


def cheapest_split(lengths: list[int], cost: Cost) -> tuple[list[tuple[int, int, int]], float]:
    """``lengths`` sorted ascending -> (groups ``(begin, end, width)`` of consecutive rows, total
    cost). Groups end only where the length changes (or at the last row)."""
    if not lengths:
        return [], 0.0
    ends = [i + 1 for i in range(len(lengths) - 1) if lengths[i] < lengths[i + 1]]
    ends.append(len(lengths))
    best, cut = [0.0] + [float("inf")] * len(ends), [0] * (len(ends) + 1)
    for j, end in enumerate(ends, 1):  # best[j]: the cheapest split of the rows before ends[j-1]
        for i in range(j):
            begin = ends[i - 1] if i else 0
            total = best[i] + cost.of(end - begin, lengths[end - 1])
            if total < best[j]:
                best[j], cut[j] = total, i
    groups, j = [], len(ends)
    while j:
        begin = ends[cut[j] - 1] if cut[j] else 0
        groups.append((begin, ends[j - 1], lengths[ends[j - 1] - 1]))
        j = cut[j]
    return groups[::-1], best[-1]
