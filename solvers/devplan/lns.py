"""Large neighbourhood search: re-place the tasks of a few nodes, plus unplaced ones, exactly.

A neighbourhood is a handful of nodes and the tasks on them, together with a sample of unplaced
tasks that fit those node types. Half of them pair a node with free GPU (drawn by how much) with
the nodes of its type that have the most CPU and memory left, so that CP-SAT can move tasks to
free what blocks the GPU; the others draw nodes where GPU or CPU is stranded, of one type or of
any. CP-SAT re-assigns them, down to devices,
maximising the value placed (the current placement is the hint, so a sub-solve never loses
value); devices of a node are interchangeable, so they are ordered by load to break symmetry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..fleet import MILLI
from ..native import cp_solver
from .scale import int_scale
from .state import PlanState

__all__ = ["Lns", "LnsStats"]

#: share of the neighbourhoods that pair a node with free GPU with the roomiest of its type
COMPLEMENT_SHARE = 0.5


@dataclass
class LnsStats:
    steps: int = 0
    improved: int = 0
    seconds: float = 0.0
    trajectory: list[tuple[float, float]] = field(default_factory=list)


class Lns:
    def __init__(
        self,
        state: PlanState,
        *,
        seed: int = 0,
        nodes: int = 4,
        pool: int = 24,
        sub_time: float = 0.5,
        workers: int = 1,
    ) -> None:
        self.st = state
        self.rng = np.random.default_rng(seed)
        self.n_nodes = nodes
        self.pool = pool
        self.sub_time = sub_time
        self.workers = workers
        self.vscale, self.vint = int_scale(state.value, up=False)
        wl = state.wl
        self.rscale = [
            int_scale(np.r_[wl.rest[:, r], state.fleet.type_rest[:, r]], up=True)[0]
            for r in range(wl.rest.shape[1])
        ]
        self.stats = LnsStats()
        self.fits_type = self._fits_type()

    def _fits_type(self) -> np.ndarray:
        wl, fleet = self.st.wl, self.st.fleet
        return (
            wl.allowed
            & (wl.cpu[:, None] <= fleet.type_cpu[None, :])
            & (wl.rest[:, None, :] <= fleet.type_rest[None, :, :] + 1e-9).all(axis=2)
            & (wl.ngpu[:, None] <= fleet.type_ndev[None, :])
        )

    # -- neighbourhoods --------------------------------------------------------------------

    def _stranded(self) -> np.ndarray:
        """Per node, how much is stranded: free GPU milli where CPU ran out, or free CPU where
        no device has room (normalised), plus a little noise."""
        st = self.st
        fleet = st.fleet
        cap_c = np.maximum(fleet.type_cpu[fleet.node_type], 1)
        free_g = st.dev.sum(axis=1) / MILLI
        free_c = st.cpu_left / cap_c
        return free_g + free_c * (st.ndev > 0) + 0.05 * self.rng.random(len(free_g))

    def _complement(self) -> np.ndarray | None:
        """A node with free GPU (drawn by how much) and the nodes of its type with the most
        free CPU and other resources: moving tasks between them frees room where it is
        stranded. None when no node has free GPU."""
        st, fleet = self.st, self.st.fleet
        free_g = st.dev.sum(axis=1).astype(np.float64)
        if not free_g.any():
            return None
        first = int(self.rng.choice(len(free_g), p=free_g / free_g.sum()))
        same = np.flatnonzero(fleet.node_type == fleet.node_type[first])
        same = same[same != first]
        if not len(same):
            return np.array([first], dtype=np.int64)
        t = int(fleet.node_type[first])
        room = st.cpu_left[same] / max(int(fleet.type_cpu[t]), 1)
        if st.rest_left.shape[1]:
            rcap = np.maximum(fleet.type_rest[t], 1e-12)
            room = np.minimum(room, (st.rest_left[same] / rcap).min(axis=1))
        room = room + 0.05 * self.rng.random(len(same))
        k = min(self.n_nodes - 1, len(same))
        pick = same[np.argsort(-room)[:k]]
        return np.r_[first, pick].astype(np.int64)

    def neighbourhood(self) -> tuple[np.ndarray, list[int]]:
        st, fleet = self.st, self.st.fleet
        nodes = self._complement() if self.rng.random() < COMPLEMENT_SHARE else None
        if nodes is None:
            score = self._stranded()
            p = score / score.sum()
            first = int(self.rng.choice(len(p), p=p))
            same = np.flatnonzero(fleet.node_type == fleet.node_type[first])
            use_same = self.rng.random() < 0.5 and len(same) > 1
            pool_nodes = same if use_same else np.arange(fleet.n_nodes)
            others = pool_nodes[pool_nodes != first]
            k = min(self.n_nodes - 1, len(others))
            if k:
                w = score[others] + 0.1
                pick = self.rng.choice(others, size=k, replace=False, p=w / w.sum())
                nodes = np.r_[first, pick].astype(np.int64)
            else:
                nodes = np.array([first], dtype=np.int64)
        tasks = sorted(j for n in nodes for j in st.on[int(n)])
        types = np.unique(fleet.node_type[nodes])
        un = st.unplaced()
        if len(un):
            ok = self.fits_type[un][:, types].any(axis=1)
            un = un[ok]
        if len(un):
            # at most a few of each kind of demand, most valuable first, randomised
            wl = st.wl
            keys: dict[tuple[int, int, int], list[int]] = {}
            for j in self.rng.permutation(un):
                key = (int(wl.cpu[j]), int(wl.ngpu[j]), int(wl.milli[j]))
                keys.setdefault(key, []).append(int(j))
            extra: list[int] = []
            for lst in keys.values():
                extra.extend(lst[:3])
            extra.sort(key=lambda j: -st.value[j] * (0.5 + self.rng.random()))
            tasks += extra[: self.pool]
        return nodes, tasks

    # -- one sub-solve ---------------------------------------------------------------------

    def solve(self, nodes: np.ndarray, tasks: list[int], budget: float) -> bool:
        """Re-place ``tasks`` on ``nodes``; True if the value grew (False: unchanged)."""
        from ortools.sat.python import cp_model

        st, wl, fleet = self.st, self.st.wl, self.st.fleet
        m = cp_model.CpModel()
        node_list = [int(n) for n in nodes]
        # capacities once the neighbourhood's own tasks are lifted off
        inside = [j for j in tasks if st.node[j] >= 0]
        cpu = {n: int(st.cpu_left[n]) for n in node_list}
        rest = {n: st.rest_left[n].copy() for n in node_list}
        for j in inside:
            n = int(st.node[j])
            cpu[n] += int(wl.cpu[j])
            rest[n] += wl.rest[j]
        a: dict[tuple[int, int], cp_model.IntVar] = {}
        y: dict[tuple[int, int, int], cp_model.IntVar] = {}
        w: dict[tuple[int, int], cp_model.IntVar] = {}
        load: dict[tuple[int, int], list] = {}
        per_node: dict[int, list[int]] = {n: [] for n in node_list}
        for j in tasks:
            for n in node_list:
                if not self.fits_type[j, fleet.node_type[n]]:
                    continue
                if wl.cpu[j] > cpu[n] or np.any(wl.rest[j] > rest[n] + 1e-9):
                    continue
                a[(j, n)] = m.new_bool_var("")
                per_node[n].append(j)
        for j in tasks:
            vs = [a[(j, n)] for n in node_list if (j, n) in a]
            if len(vs) > 1:
                m.add_at_most_one(vs)
        for n in node_list:
            D = int(st.ndev[n])
            js = per_node[n]
            if not js:
                continue
            m.add(sum(int(wl.cpu[j]) * a[(j, n)] for j in js) <= cpu[n])
            for r, f in enumerate(self.rscale):
                m.add(
                    sum(int(np.ceil(wl.rest[j, r] * f - 1e-9)) * a[(j, n)] for j in js)
                    <= int(np.floor(rest[n][r] * f + 1e-9))
                )
            if D == 0:
                continue
            whole = [j for j in js if wl.ngpu[j] >= 1 and wl.milli[j] >= MILLI]
            shares = [j for j in js if wl.ngpu[j] == 1 and wl.milli[j] < MILLI]
            for d in range(D):
                w[(n, d)] = m.new_bool_var("")
                terms = [MILLI * w[(n, d)]]
                for j in shares:
                    y[(j, n, d)] = m.new_bool_var("")
                    terms.append(int(wl.milli[j]) * y[(j, n, d)])
                m.add(sum(terms) <= MILLI)
                load[(n, d)] = terms
            for j in shares:
                m.add(sum(y[(j, n, d)] for d in range(D)) == a[(j, n)])
            m.add(
                sum(int(wl.ngpu[j]) * a[(j, n)] for j in whole) == sum(w[(n, d)] for d in range(D))
            )
            for d in range(D - 1):  # devices are interchangeable: order them by load
                m.add(sum(load[(n, d)]) >= sum(load[(n, d + 1)]))
        m.maximize(sum(int(self.vint[j]) * v for (j, _n), v in a.items()))
        # hint: the current placement, devices renumbered by load
        current = 0
        for n in node_list:
            D = int(st.ndev[n])
            order = sorted(range(D), key=lambda d: (st.dev[n, d], d))  # most used first
            pos = {d: i for i, d in enumerate(order)}
            whole_dev: set[int] = set()
            for j in inside:
                if st.node[j] != n:
                    continue
                if (j, n) in a:
                    m.add_hint(a[(j, n)], 1)
                    current += int(self.vint[j])
                if wl.ngpu[j] >= 1 and wl.milli[j] >= MILLI:
                    whole_dev.update(pos[d] for d in st.devs[j])
                elif wl.ngpu[j] == 1:
                    for d in range(D):
                        if (j, n, d) in y:
                            m.add_hint(y[(j, n, d)], 1 if pos[st.devs[j][0]] == d else 0)
            for d in range(D):
                if (n, d) in w:
                    m.add_hint(w[(n, d)], 1 if d in whole_dev else 0)
        for (j, n), v in a.items():
            if st.node[j] != n:
                m.add_hint(v, 0)
        solver = cp_solver()
        prm = solver.parameters
        prm.catch_sigint_signal = False
        prm.max_time_in_seconds = max(budget, 0.01)
        prm.num_workers = self.workers
        prm.random_seed = int(self.rng.integers(1 << 30))
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        new = round(solver.objective_value)
        if new < current:
            return False
        improved = new > current
        if not improved and self.rng.random() < 0.5:
            return False
        for j in inside:
            st.remove(j)
        for (j, n), v in a.items():
            if not solver.value(v):
                continue
            g, mm = int(wl.ngpu[j]), int(wl.milli[j])
            if g == 0:
                st.place(j, n, [])
            elif mm < MILLI:
                d = next(d for d in range(int(st.ndev[n])) if solver.value(y[(j, n, d)]))
                st.place(j, n, [d])
        for n in node_list:
            whole = [j for j in per_node[n] if solver.value(a[(j, n)]) and wl.milli[j] >= MILLI]
            free = [d for d in range(int(st.ndev[n])) if (n, d) in w and solver.value(w[(n, d)])]
            for j in whole:
                g = int(wl.ngpu[j])
                st.place(j, n, free[:g])
                free = free[g:]
        return improved

    def run(self, until: float, stop: Callable[[], bool] | None = None) -> LnsStats:
        t0 = time.perf_counter()
        s = self.stats
        while time.perf_counter() < until:
            if stop is not None and stop():
                break
            nodes, tasks = self.neighbourhood()
            budget = min(self.sub_time, until - time.perf_counter())
            if budget <= 0.02:
                break
            s.steps += 1
            if self.solve(nodes, tasks, budget):
                s.improved += 1
                s.trajectory.append((time.perf_counter() - t0, self.st.placed_value))
        s.seconds += time.perf_counter() - t0
        return s
