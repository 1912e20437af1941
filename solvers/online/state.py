"""The cluster as the online replay sees it: what is left on every node and device."""

from __future__ import annotations

import numpy as np

from ..fleet import MILLI, Fleet, Workload

__all__ = ["ClusterState"]

#: absolute tolerance of the fit of other resources: the evaluator's (FORMATS.md: 1e-9)
_REST_TOL = 1e-9


class ClusterState:
    """Free CPU, other resources and per-device GPU of every node, updated by :meth:`place`.

    ``dev[n, i]`` is what is left of device ``i`` of node ``n`` in milli-devices (devices a node
    does not have are 0, so they never fit anything); ``total``, ``maxleft`` and ``nfree`` (fully
    free devices) are kept per node for vectorised fit tests. ``version[n]`` grows whenever node
    ``n`` changes, so that scorers may cache per node. ``tags[n, a]`` counts the GPU tasks of kind
    ``a`` on node ``n`` (0: a share of a device, k: k whole devices), for GPU clustering.
    """

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        nt = fleet.node_type
        n, d = fleet.n_nodes, max(1, fleet.max_devices)
        self.ndev = fleet.type_ndev[nt].astype(np.int64)
        self.cpu_cap = fleet.type_cpu[nt].astype(np.int64)
        self.cpu_left = self.cpu_cap.copy()
        self.rest_cap = fleet.type_rest[nt].astype(np.float64)
        self.rest_left = self.rest_cap.copy()
        self.dev = np.where(np.arange(d)[None, :] < self.ndev[:, None], MILLI, 0).astype(np.int64)
        self.total = self.dev.sum(axis=1)
        self.maxleft = self.dev.max(axis=1)
        self.nfree = self.ndev.copy()
        self.version = np.zeros(n, dtype=np.int64)
        self.tags = np.zeros((n, d + 1), dtype=np.int64)
        self.allocated_milli = 0

    @staticmethod
    def tag(workload: Workload, j: int) -> int:
        """GPU clustering's kind of task: 0 for a share, k for k whole devices (-1: no GPU)."""
        g = int(workload.ngpu[j])
        if g == 0:
            return -1
        return 0 if int(workload.milli[j]) < MILLI else g

    def feasible(self, workload: Workload, j: int) -> np.ndarray:
        """Indices of the nodes where task ``j`` fits now (type allowed, CPU, other resources,
        and devices: one with ``milli`` left for a share, ``ngpu`` fully free for whole ones)."""
        fleet = self.fleet
        ok = workload.allowed[j][fleet.node_type] & (self.cpu_left >= workload.cpu[j])
        r = workload.rest[j]
        if r.size:
            if r.size == 1:
                ok &= self.rest_left[:, 0] >= r[0] - _REST_TOL
            else:
                ok &= (self.rest_left >= r - _REST_TOL).all(axis=1)
        g, m = int(workload.ngpu[j]), int(workload.milli[j])
        if g == 1 and m < MILLI:
            ok &= self.maxleft >= m
        elif g >= 1:
            ok &= self.nfree >= g
        return np.flatnonzero(ok)

    def tightest(self, n: int, milli: int) -> int:
        """The device of node ``n`` with the least left that still fits ``milli`` (lowest index
        on ties), -1 if none."""
        d = self.dev[n]
        cand = np.where(d >= milli, d, np.iinfo(np.int64).max)
        i = int(cand.argmin())
        return i if d[i] >= milli else -1

    def lowest_free(self, n: int, k: int) -> list[int]:
        """The ``k`` lowest-indexed fully free devices of node ``n``."""
        return [int(i) for i in np.flatnonzero(self.dev[n] == MILLI)[:k]]

    def place(self, workload: Workload, j: int, n: int, devices: list[int]) -> None:
        """Put task ``j`` on node ``n``, taking ``milli`` on each of ``devices``."""
        self.cpu_left[n] -= workload.cpu[j]
        if self.rest_left.shape[1]:
            self.rest_left[n] -= workload.rest[j]
        m = int(workload.milli[j])
        for i in devices:
            self.dev[n, i] -= m
        if devices:
            d = self.dev[n]
            self.total[n] = int(d.sum())
            self.maxleft[n] = int(d.max())
            self.nfree[n] = int(np.count_nonzero(d == MILLI))
            self.allocated_milli += m * len(devices)
        a = self.tag(workload, j)
        if a >= 0:
            self.tags[n, a] += 1
        self.version[n] += 1
