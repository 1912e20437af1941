"""A plan under construction: every task's node and devices, and what is left everywhere."""

from __future__ import annotations

import numpy as np

from ..fleet import MILLI, Fleet, Workload

__all__ = ["PlanState"]

_TOL = 1e-9  # absolute, the evaluator's tolerance on capacities (FORMATS.md)


class PlanState:
    """Mutable assignment of tasks to (node, devices) with per-node free CPU, other resources
    and per-device milli; :meth:`place` and :meth:`remove` keep them exact."""

    def __init__(self, fleet: Fleet, wl: Workload, value: np.ndarray) -> None:
        self.fleet, self.wl = fleet, wl
        self.value = np.asarray(value, dtype=np.float64)
        nt = fleet.node_type
        n, d = fleet.n_nodes, max(1, fleet.max_devices)
        self.ndev = fleet.type_ndev[nt].astype(np.int64)
        self.cpu_left = fleet.type_cpu[nt].astype(np.int64).copy()
        self.rest_left = fleet.type_rest[nt].astype(np.float64).copy()
        self.dev = np.where(np.arange(d)[None, :] < self.ndev[:, None], MILLI, 0).astype(np.int64)
        self.node = np.full(wl.n_tasks, -1, dtype=np.int64)
        self.devs: list[tuple[int, ...]] = [()] * wl.n_tasks
        self.on: list[set[int]] = [set() for _ in range(n)]
        self.placed_value = 0.0

    def copy(self) -> PlanState:
        other = PlanState.__new__(PlanState)
        other.__dict__.update(self.__dict__)
        other.cpu_left = self.cpu_left.copy()
        other.rest_left = self.rest_left.copy()
        other.dev = self.dev.copy()
        other.node = self.node.copy()
        other.devs = list(self.devs)
        other.on = [set(s) for s in self.on]
        return other

    # -- tests -----------------------------------------------------------------------------

    def fits_resources(self, j: int, n: int) -> bool:
        wl = self.wl
        if not wl.allowed[j, self.fleet.node_type[n]] or self.cpu_left[n] < wl.cpu[j]:
            return False
        r = wl.rest[j]
        return bool(np.all(self.rest_left[n] >= r - _TOL))

    def devices_for(self, j: int, n: int) -> list[int] | None:
        """The devices task ``j`` would take on node ``n`` now (tightest device for a share,
        lowest free ones for whole devices), or None if they are not there."""
        g, m = int(self.wl.ngpu[j]), int(self.wl.milli[j])
        if g == 0:
            return []
        d = self.dev[n]
        if m < MILLI:
            cand = np.where(d >= m, d, MILLI + 1)
            i = int(cand.argmin())
            return [i] if d[i] >= m else None
        free = np.flatnonzero(d == MILLI)
        return [int(i) for i in free[:g]] if len(free) >= g else None

    # -- changes ---------------------------------------------------------------------------

    def place(self, j: int, n: int, devices: list[int] | tuple[int, ...]) -> None:
        wl = self.wl
        assert self.node[j] < 0
        self.cpu_left[n] -= wl.cpu[j]
        if self.rest_left.shape[1]:
            self.rest_left[n] -= wl.rest[j]
        m = int(wl.milli[j])
        for i in devices:
            self.dev[n, i] -= m
            assert self.dev[n, i] >= 0
        self.node[j] = n
        self.devs[j] = tuple(devices)
        self.on[n].add(j)
        self.placed_value += self.value[j]

    def remove(self, j: int) -> None:
        wl = self.wl
        n = int(self.node[j])
        assert n >= 0
        self.cpu_left[n] += wl.cpu[j]
        if self.rest_left.shape[1]:
            self.rest_left[n] += wl.rest[j]
        m = int(wl.milli[j])
        for i in self.devs[j]:
            self.dev[n, i] += m
        self.node[j] = -1
        self.devs[j] = ()
        self.on[n].discard(j)
        self.placed_value -= self.value[j]

    @property
    def allocated_milli(self) -> int:
        placed = self.node >= 0
        return int((self.wl.ngpu[placed] * self.wl.milli[placed]).sum())

    def unplaced(self) -> np.ndarray:
        return np.flatnonzero(self.node < 0)

    def check(self) -> None:
        """Recompute everything from the assignments and compare (for tests)."""
        fleet, wl = self.fleet, self.wl
        nt = fleet.node_type
        cpu = fleet.type_cpu[nt].astype(np.int64).copy()
        rest = fleet.type_rest[nt].astype(np.float64).copy()
        dev = np.where(np.arange(self.dev.shape[1])[None, :] < self.ndev[:, None], MILLI, 0).astype(
            np.int64
        )
        for j in np.flatnonzero(self.node >= 0):
            n = int(self.node[j])
            assert wl.allowed[j, nt[n]], f"task {j} on a type it may not use"
            cpu[n] -= wl.cpu[j]
            rest[n] -= wl.rest[j]
            assert len(self.devs[j]) == wl.ngpu[j], f"task {j}: wrong number of devices"
            assert len(set(self.devs[j])) == len(self.devs[j])
            for i in self.devs[j]:
                assert i < self.ndev[n]
                dev[n, i] -= wl.milli[j]
        assert (cpu >= 0).all() and (rest >= -1e-6).all() and (dev >= 0).all()
        assert (cpu == self.cpu_left).all() and (dev == self.dev).all()
