"""The allocation curve of a replay and the published figure read off it, as SOURCE.md (the
openb benchmark's protocol, from the FGD paper's simulator) defines them.

After every arrival (a dropped task and a task that needs no GPU are arrivals too, and what a
dropped task asked for counts as arrived): allocated GPU % = 100 x allocated milli / capacity,
rounded to 2 decimals; arrived GPU % = 100 x arrived GPU milli / capacity. The figure at
``arrived = X %`` is the mean of the allocated % over the arrivals at which the arrived %
rounds to X (``round``: half to even); NaN when no arrival rounds to X (the arrived demand
never reached X - 0.5 %, or jumped over X in one arrival).
"""

from __future__ import annotations

import numpy as np

__all__ = ["figure_at", "percentages"]


def percentages(
    arrived_milli: np.ndarray, allocated_milli: np.ndarray, capacity_milli: int
) -> tuple[np.ndarray, np.ndarray]:
    """(arrived %, allocated % rounded to 2 decimals) after every arrival."""
    cap = float(max(capacity_milli, 1))
    arrived = np.asarray(arrived_milli, dtype=np.float64) / cap * 100.0
    alloc = np.round(np.asarray(allocated_milli, dtype=np.float64) / cap * 100.0, 2)
    return arrived, alloc


def figure_at(
    arrived_milli: np.ndarray, allocated_milli: np.ndarray, capacity_milli: int, at: float = 100
) -> float:
    """The published figure: mean allocated % over the arrivals whose arrived % rounds to
    ``at`` (see the module); NaN when there is none, or no GPU at all."""
    if capacity_milli <= 0:
        return float("nan")
    arrived, alloc = percentages(arrived_milli, allocated_milli, capacity_milli)
    sel = alloc[np.round(arrived, 0) == at]
    if sel.size == 0:
        return float("nan")
    return float(sel.mean())
