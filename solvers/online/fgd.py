"""Fragmentation gradient descent (FGD; Weng et al., USENIX ATC 2023) and its measure.

The *typical task types* are the workload's kinds of task, keyed by (CPU, GPU milli per device,
number of devices, node restriction), most frequent first (ties: the larger key first), taken
until they cover 95 % of the tasks, with frequencies renormalised over those taken (the paper's
simulator, with its published settings: GPU-free tasks included, step 1, no GPU weighting).

The fragmentation of a node is the GPU (in milli) that the typical types, weighted by frequency,
could not use there. For each type ``t``:

- ``t`` needs no GPU, or may not use the node (GPU model): all the node's free GPU counts;
- the node has ``ngpu_t`` devices with at least ``milli_t`` free and the CPU ``t`` needs: only
  the devices with less than ``milli_t`` free count (what ``t`` cannot use there);
- otherwise (too few such devices, or too little CPU): all the node's free GPU counts.

FGD places a task where the fragmentation grows least: for each candidate node (and, for a
share, each device with room) the score is ``int(100 sigmoid((F_before - F_after) / 1000))``; a
share takes its node's best device (the first on ties), whole devices the lowest-indexed free
ones. Scores are cached per (node, kind of task) and recomputed only for nodes that changed, in
numpy batches over nodes x devices x typical types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fleet import MILLI, Fleet, Workload
from .policies import Policy
from .state import ClusterState

__all__ = ["Fgd", "TypicalTypes", "fragmentation", "typical_types"]

#: share of the tasks the typical types cover (the simulator's published setting)
POPULARITY = 0.95


@dataclass(frozen=True)
class TypicalTypes:
    cpu: np.ndarray  # int64 [K] milli-cores
    milli: np.ndarray  # int64 [K] per device (0: no GPU)
    ngpu: np.ndarray  # int64 [K]
    freq: np.ndarray  # float64 [K], sums to 1
    access: np.ndarray  # bool [K, T]: may use node type T
    count: np.ndarray  # int64 [K]: tasks of that type in the workload


def typical_types(workload: Workload, popularity: float = POPULARITY) -> TypicalTypes:
    """The most frequent kinds of task covering ``popularity`` of the workload."""
    counts: dict[tuple[int, int, int, str], int] = {}
    first: dict[tuple[int, int, int, str], int] = {}
    for j in range(workload.n_tasks):
        key = (
            int(workload.cpu[j]),
            int(workload.milli[j]),
            int(workload.ngpu[j]),
            workload.selector[j],
        )
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, j)
    order = sorted(counts, key=lambda k: (counts[k], k), reverse=True)
    total = float(workload.n_tasks)
    expected = popularity * 100.0 * total / 100.0
    taken: list[tuple[int, int, int, str]] = []
    cum = 0.0
    while cum < expected and len(taken) < len(order):
        k = order[len(taken)]
        taken.append(k)
        cum += counts[k]
    if not taken:
        z = np.zeros(0, dtype=np.int64)
        return TypicalTypes(z, z, z, np.zeros(0), np.zeros((0, workload.allowed.shape[1]), bool), z)
    cnt = np.array([counts[k] for k in taken], dtype=np.int64)
    return TypicalTypes(
        cpu=np.array([k[0] for k in taken], dtype=np.int64),
        milli=np.array([k[1] for k in taken], dtype=np.int64),
        ngpu=np.array([k[2] for k in taken], dtype=np.int64),
        freq=cnt / float(cnt.sum()),
        access=np.array([workload.allowed[first[k]] for k in taken], dtype=bool).reshape(
            len(taken), -1
        ),
        count=cnt,
    )


def _frag(
    tt: TypicalTypes,
    cpu: np.ndarray,  # [...] free CPU
    total: np.ndarray,  # [...] free GPU milli
    cnt: np.ndarray,  # [..., K] devices with >= milli_t free
    small: np.ndarray,  # [..., K] free milli on devices with < milli_t free
    access: np.ndarray,  # [..., K]
) -> np.ndarray:
    """Fragmentation from per-type device statistics; shapes broadcast over the leading axes."""
    q3 = access & (tt.milli > 0) & (cnt >= tt.ngpu) & (cpu[..., None] >= tt.cpu)
    per = np.where(q3, small, total[..., None]).astype(np.float64)
    return per @ tt.freq


def _stats(tt: TypicalTypes, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cnt, small) of device rows ``dev`` [..., D] for every typical type: [..., K] each."""
    d = dev[..., :, None]
    fits = d >= tt.milli
    cnt = fits.sum(axis=-2)
    small = np.where(fits, 0, d).sum(axis=-2)
    return cnt, small


def fragmentation(
    tt: TypicalTypes, cpu_left: np.ndarray, dev: np.ndarray, node_type: np.ndarray
) -> np.ndarray:
    """The fragmentation of nodes given their free CPU [B], devices [B, D] and types [B]."""
    cnt, small = _stats(tt, dev)
    return _frag(tt, cpu_left, dev.sum(axis=-1), cnt, small, tt.access.T[node_type])


def _sigmoid_score(delta: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-(delta / 1000.0))) * 100.0).astype(np.int64)


class Fgd(Policy):
    name = "fgd"

    def __init__(self, fleet: Fleet, workload: Workload, rng: np.random.Generator) -> None:
        super().__init__(fleet, workload, rng)
        self.tt = typical_types(workload)
        # (cpu, ngpu, milli) -> (node versions seen, score, device or -1)
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _compute(
        self, st: ClusterState, rows: np.ndarray, c: int, g: int, m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and devices of task kind (c, g, m) on nodes ``rows``."""
        tt = self.tt
        dev = st.dev[rows]
        cpu = st.cpu_left[rows]
        total = st.total[rows]
        access = tt.access.T[self.fleet.node_type[rows]]  # [B, K]
        cnt, small = _stats(tt, dev)
        before = _frag(tt, cpu, total, cnt, small, access)
        cpu2 = cpu - c
        if g == 1 and m < MILLI:
            left = dev[:, :, None]  # [B, D, 1]
            after_left = left - m
            mt = tt.milli
            cnt2 = cnt[:, None, :] - (left >= mt) + (after_left >= mt)
            small2 = (
                small[:, None, :]
                - np.where(left < mt, left, 0)
                + np.where(after_left < mt, after_left, 0)
            )
            after = _frag(
                tt,
                np.broadcast_to(cpu2[:, None], dev.shape),
                np.broadcast_to((total - m)[:, None], dev.shape),
                cnt2,
                small2,
                access[:, None, :],
            )  # [B, D]
            sc = _sigmoid_score(before[:, None] - after)
            sc = np.where(dev >= m, sc, -1)
            best = sc.argmax(axis=1)
            score = sc[np.arange(len(rows)), best]
            return score, np.where(score >= 0, best, -1)
        if g >= 1:  # whole devices: g fully free ones become empty
            cnt2 = cnt - g  # a fully free device counts for every type
            total2 = total - g * MILLI
        else:
            cnt2, total2 = cnt, total
        after = _frag(tt, cpu2, total2, cnt2, small, access)
        return _sigmoid_score(before - after), np.full(len(rows), -1, dtype=np.int64)

    def _scores(self, st: ClusterState, wl: Workload, j: int) -> tuple[np.ndarray, np.ndarray]:
        c, g, m = int(wl.cpu[j]), int(wl.ngpu[j]), int(wl.milli[j])
        key = (c, g, m)
        hit = self._cache.get(key)
        if hit is None:
            rows = np.arange(self.fleet.n_nodes)
            score, dev = self._compute(st, rows, c, g, m)
            self._cache[key] = (st.version.copy(), score, dev)
            return score, dev
        seen, score, dev = hit
        stale = np.flatnonzero(seen != st.version)
        if len(stale):
            s, d = self._compute(st, stale, c, g, m)
            score[stale] = s
            dev[stale] = d
            seen[stale] = st.version[stale]
        return score, dev

    def choose(
        self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray
    ) -> tuple[int, list[int]]:
        score, dev = self._scores(st, wl, j)
        n = self.pick(score[cand], cand)
        g, m = int(wl.ngpu[j]), int(wl.milli[j])
        if g == 1 and m < MILLI:
            return n, [int(dev[n])]
        return n, self.devices(st, wl, j, n)
