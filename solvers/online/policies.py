"""The online placement policies: the FGD paper's five baselines and the greedy's two.

Every policy sees one arriving task and the nodes where it fits (``cand``, ascending), and
returns a node and the devices the task takes there. The paper's policies score each candidate
with an integer 0-100 (highest wins) and break ties by a random node order fixed per seed, as the
paper's simulator does (it prefixes node names with a seeded permutation and takes the
lexicographically first of the best). Scores follow the simulator
(hkust-adsl/kubernetes-scheduler-simulator, the configuration of its published experiments)
with its normalisers: ``CN`` = the largest node CPU and ``GN`` = the largest node's devices x
1000 (128,000 and 8,000 on openb, the simulator's fixed maxima); CPU in milli, GPU in milli
summed over a node's devices, before placement unless said otherwise; memory only a fit test.

``best-fit``
    ``int(100 (1 - [0.5 (free CPU - CPU)/CN + 0.5 (free GPU - GPU)/GN]))``: the tightest node
    after placement. (The paper's score; not the greedy's ``best-fit`` policy.)
``dot-product``
    ``int(100 (1 - [(free CPU/CN)(CPU/CN) + (free GPU/GN)(GPU/GN)] / 2))`` (Tetris' alignment,
    the simulator's ``merge`` GPU dimension with ``max`` normalisation).
``gpu-clustering``
    keeps tasks of one kind together (kinds: a share of a device, k whole devices):
    ``floor(25 (GN - free GPU) / GN)`` plus 75 if the node runs only tasks of this kind, 50 if
    it runs this kind and others, 25 if it runs no GPU task, 0 if only other kinds.
``gpu-packing``
    a share that fits on a partly used device scores ``max(100 - floor(left/100), 50)`` (left:
    what that tightest fitting device has); otherwise a node already in use scores
    ``max(50 - whole devices taken, 33)``; a node whose devices are all free ``33 - devices``.
``random``
    a uniformly random candidate (and, for a share, a uniformly random fitting device).
``fgd``
    the paper's fragmentation gradient descent (:mod:`.fgd`).

The paper's GPU-clustering, GPU-packing and best-fit give a task that needs no GPU the same
score (0, or best-fit's CPU term) and so follow the tie order.

Devices: a share goes on the fitting device with the least left (lowest index on ties), whole
devices are the lowest-indexed fully free ones; ``random`` draws the share's device and ``fgd``
picks the device whose choice fragments least.

The greedy's policies (no seed; ties to the lower node index, as ``-s greedy``):
``least-loaded`` the smallest peak utilisation (CPU, other resources, GPU of the node) after
placement; ``first-fit`` the first candidate in node order. Both use the tightest device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..fleet import MILLI, Fleet, Workload
from .state import ClusterState

__all__ = ["PAPER_POLICIES", "POLICIES", "Policy", "make_policy"]


class Policy:
    """Base: scores candidates, breaks ties by the seeded node order, picks devices."""

    name = ""

    def __init__(self, fleet: Fleet, workload: Workload, rng: np.random.Generator) -> None:
        self.fleet = fleet
        self.rng = rng
        # position of each node in the random tie order (lower wins)
        self.rank = rng.permutation(fleet.n_nodes).astype(np.int64)
        self.cn = float(max(int(fleet.type_cpu.max(initial=0)), 1))
        self.gn_int = max(int(fleet.type_ndev.max(initial=0)), 1) * MILLI
        self.gn = float(self.gn_int)

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pick(self, score: np.ndarray, cand: np.ndarray) -> int:
        best = score.max()
        top = cand[score == best]
        return int(top[self.rank[top].argmin()])

    def devices(self, st: ClusterState, wl: Workload, j: int, n: int) -> list[int]:
        g, m = int(wl.ngpu[j]), int(wl.milli[j])
        if g == 0:
            return []
        if m < MILLI:
            return [st.tightest(n, m)]
        return st.lowest_free(n, g)

    def choose(
        self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray
    ) -> tuple[int, list[int]]:
        n = self.pick(self.score(st, wl, j, cand), cand)
        return n, self.devices(st, wl, j, n)


class BestFit(Policy):
    name = "best-fit"

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        fc = st.cpu_left[cand].astype(np.float64)
        fg = st.total[cand].astype(np.float64)
        s = (fc - float(wl.cpu[j])) / self.cn * 0.5
        s = s + (fg - float(wl.ngpu[j] * wl.milli[j])) / self.gn * 0.5
        return ((1.0 - s) * 100.0).astype(np.int64)


class DotProduct(Policy):
    name = "dot-product"

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        n0 = st.cpu_left[cand].astype(np.float64) / self.cn
        n1 = st.total[cand].astype(np.float64) / self.gn
        p0 = float(wl.cpu[j]) / self.cn
        p1 = float(wl.ngpu[j] * wl.milli[j]) / self.gn
        inner = n0 * p0 + n1 * p1
        return (100.0 * (1.0 - inner / 2.0)).astype(np.int64)


class GpuClustering(Policy):
    name = "gpu-clustering"

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        a = ClusterState.tag(wl, j)
        if a < 0:
            return np.zeros(len(cand), dtype=np.int64)
        base = (25 * (self.gn_int - st.total[cand])) // self.gn_int
        tags = st.tags[cand]
        has = tags[:, a] > 0
        kinds = np.count_nonzero(tags > 0, axis=1)
        bonus = np.where(has, np.where(kinds == 1, 75, 50), np.where(kinds == 0, 25, 0))
        return base + bonus


class GpuPacking(Policy):
    name = "gpu-packing"

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        g, m = int(wl.ngpu[j]), int(wl.milli[j])
        if g == 0:
            return np.zeros(len(cand), dtype=np.int64)
        nfree = st.nfree[cand]
        empty = nfree == st.ndev[cand]
        case3 = np.maximum(33 - nfree, nfree)
        if m < MILLI:
            d = st.dev[cand]
            tight = np.where(d >= m, d, MILLI + 1).min(axis=1)  # the tightest fitting device
            case1 = np.maximum(100 - (tight * 100 // MILLI) // 10, 50)
            used = np.where(tight >= MILLI, 49, case1)  # 49 = max(50 - 1, 33)
        else:
            used = np.full(len(cand), max(50 - g, 33), dtype=np.int64)
        return np.where(empty, case3, used).astype(np.int64)


class Random(Policy):
    name = "random"

    def choose(
        self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray
    ) -> tuple[int, list[int]]:
        n = int(cand[self.rng.integers(len(cand))])
        g, m = int(wl.ngpu[j]), int(wl.milli[j])
        if g == 1 and m < MILLI:
            fit = np.flatnonzero(st.dev[n] >= m)
            return n, [int(fit[self.rng.integers(len(fit))])]
        return n, self.devices(st, wl, j, n)


class LeastLoaded(Policy):
    name = "least-loaded"

    def score(self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray) -> np.ndarray:
        peak = np.zeros(len(cand))
        cap = st.cpu_cap[cand]
        used = cap - st.cpu_left[cand] + wl.cpu[j]
        peak = np.maximum(peak, np.where(cap > 0, used / np.maximum(cap, 1), 0.0))
        if st.rest_cap.shape[1]:
            rc = st.rest_cap[cand]
            ru = rc - st.rest_left[cand] + wl.rest[j]
            util = np.where(rc > 0, ru / np.where(rc > 0, rc, 1.0), 0.0)
            peak = np.maximum(peak, util.max(axis=1))
        gcap = st.ndev[cand] * MILLI
        gu = gcap - st.total[cand] + wl.ngpu[j] * wl.milli[j]
        return np.maximum(peak, np.where(gcap > 0, gu / np.maximum(gcap, 1), 0.0))

    def pick(self, score: np.ndarray, cand: np.ndarray) -> int:
        return int(cand[np.flatnonzero(score <= score.min() + 1e-9)[0]])


class FirstFit(Policy):
    name = "first-fit"

    def choose(
        self, st: ClusterState, wl: Workload, j: int, cand: np.ndarray
    ) -> tuple[int, list[int]]:
        n = int(cand[0])
        return n, self.devices(st, wl, j, n)


def _fgd(fleet: Fleet, workload: Workload, rng: np.random.Generator) -> Policy:
    from .fgd import Fgd

    return Fgd(fleet, workload, rng)


_MAKERS: dict[str, Callable[[Fleet, Workload, np.random.Generator], Policy]] = {
    "random": Random,
    "dot-product": DotProduct,
    "gpu-clustering": GpuClustering,
    "gpu-packing": GpuPacking,
    "best-fit": BestFit,
    "fgd": _fgd,
    "least-loaded": LeastLoaded,
    "first-fit": FirstFit,
}

#: the six policies of the FGD paper, in its order
PAPER_POLICIES = ("random", "dot-product", "gpu-clustering", "gpu-packing", "best-fit", "fgd")
#: every policy ``replay`` knows
POLICIES = (*PAPER_POLICIES, "least-loaded", "first-fit")


def make_policy(name: str, fleet: Fleet, workload: Workload, rng: np.random.Generator) -> Policy:
    """The policy called ``name`` (one of :data:`POLICIES`)."""
    if name not in _MAKERS:
        raise ValueError(f"unknown policy {name!r} (choose from {', '.join(POLICIES)})")
    return _MAKERS[name](fleet, workload, rng)
