"""Greedy insertion of unplaced tasks wherever they fit (most valuable first)."""

from __future__ import annotations

import numpy as np

from ..fleet import MILLI
from .state import PlanState

__all__ = ["insert_unplaced"]


def insert_unplaced(state: PlanState, tasks: np.ndarray | None = None) -> int:
    """Place unplaced tasks (``tasks`` or all) where they fit: a share on the fitting device
    with the least left, whole devices on the node with the fewest free devices that has
    enough, a GPU-free task on the node with the least CPU left that has enough; ties to the
    node with the least CPU left. Returns the number placed."""
    wl, fleet = state.wl, state.fleet
    todo = state.unplaced() if tasks is None else np.asarray(tasks)
    order = sorted(
        (int(j) for j in todo if state.node[j] < 0),
        key=lambda j: (-state.value[j], -int(wl.ngpu[j] * wl.milli[j]), -int(wl.cpu[j])),
    )
    nt = fleet.node_type
    placed = 0
    for j in order:
        ok = wl.allowed[j][nt] & (state.cpu_left >= wl.cpu[j])
        if wl.rest.shape[1]:
            ok &= (state.rest_left >= wl.rest[j] - 1e-9).all(axis=1)
        g, m = int(wl.ngpu[j]), int(wl.milli[j])
        if g == 0:
            key = state.cpu_left.astype(np.float64)
        elif m < MILLI:
            d = state.dev
            tight = np.where(d >= m, d, 10 * MILLI).min(axis=1)
            ok &= tight <= MILLI
            key = tight * 1e7 + state.cpu_left
        else:
            free = np.count_nonzero(state.dev == MILLI, axis=1)
            ok &= free >= g
            key = free * 1e7 + state.cpu_left
        cand = np.flatnonzero(ok)
        if not len(cand):
            continue
        n = int(cand[int(np.argmin(key[cand]))])
        devs = state.devices_for(j, n)
        assert devs is not None
        state.place(j, n, devs)
        placed += 1
    return placed
