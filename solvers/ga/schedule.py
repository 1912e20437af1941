"""Scheduling genes to schedules: a serial schedule generation scheme (SGS) over per-node usage
profiles, and the backward pass of forward-backward improvement (justification).

Tasks are taken in activity-list order among those whose ``after`` tasks are done; each replica
starts at the earliest instant on its gene node where its demand fits over its whole duration
before its deadline and the horizon; if it cannot run there, on the allowed node with the
earliest end (written back into the genes). Such schedules are active.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from typing import Any

import numpy as np

from .compiled import UNPLACED, Compiled
from .decode import Rows

_INF = float("inf")


class _Profile:
    """Usage over time of one node: breakpoints and usage per segment (pure Python, small)."""

    __slots__ = ("times", "use")

    def __init__(self, n_res: int) -> None:
        self.times: list[int] = [0]
        self.use: list[list[float]] = [[0.0] * n_res]

    def earliest_fit(
        self, est: int, dur: int, d: list[tuple[int, float]], capx: list[float], limit: float
    ) -> float:
        """As :meth:`earliest`, checking every segment the run covers."""
        if dur == 0 or not d:
            return est if est + dur <= limit else _INF
        times, use = self.times, self.use
        last = len(times) - 1
        cand = est
        k = bisect_right(times, cand) - 1
        while True:
            if cand + dur > limit:
                return _INF
            # check segments k.. covering [cand, cand + dur)
            j = k
            blocked_at = -1
            while True:
                seg = use[j]
                for r, q in d:
                    if seg[r] + q > capx[r]:
                        blocked_at = j
                        break
                if blocked_at >= 0:
                    break
                if j == last or times[j + 1] >= cand + dur:
                    return cand
                j += 1
            if blocked_at == last:
                return _INF
            k = blocked_at + 1
            cand = times[k]

    def add(self, s: int, e: int, d: list[tuple[int, float]]) -> None:
        i = self._split(s)
        j = self._split(e)
        use = self.use
        for k in range(i, j):
            seg = use[k]
            for r, q in d:
                seg[r] += q

    def _split(self, x: int) -> int:
        times = self.times
        i = bisect_right(times, x) - 1
        if times[i] == x:
            return i
        times.insert(i + 1, x)
        self.use.insert(i + 1, list(self.use[i]))
        return i + 1


class Scheduler:
    """Per-problem data for the serial SGS, as Python lists (fast for small lists)."""

    def __init__(self, c: Compiled, rows: Rows) -> None:
        self.c = c
        self.rows = rows
        self.capx = c.capx.tolist()
        self.limit = [float(min(int(c.deadline[t]), int(c.horizon))) for t in range(c.T)]
        self._pair: dict[tuple[int, int], tuple[int, list[tuple[int, float]], bool]] = {}
        self.preds = [list(a) for a in c.after]
        self.succ: list[list[int]] = [[] for _ in range(c.T)]
        for t, ps in enumerate(self.preds):
            for q in ps:
                self.succ[q].append(t)

    def pair(self, t: int, n: int) -> tuple[int, list[tuple[int, float]], bool]:
        """(duration, nonzero demand, fits an empty node) of task t on node n."""
        key = (t, n)
        hit = self._pair.get(key)
        if hit is None:
            c = self.c
            tt, nn = np.array([t]), np.array([n])
            dur = int(c.durations(tt, nn)[0])
            dem = c.demand(tt, nn)[0]
            d = [(r, float(q)) for r, q in enumerate(dem.tolist()) if q > 0]
            fits = dur == 0 or all(q <= self.capx[n][r] for r, q in d)
            hit = self._pair[key] = (dur, d if dur > 0 else [], fits)
        return hit

    def decode(self, x: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Schedule genes ``x`` (nodes, repaired in place) in activity-list ``order``; returns
        (x, start)."""
        c = self.c
        T = c.T
        pos = np.empty(T, dtype=np.int64)
        pos[order] = np.arange(T)
        posl = pos.tolist()
        xl = x.tolist()
        first = c.first.tolist()
        reps = c.reps.tolist()
        start = [0] * c.S
        profiles: dict[int, _Profile] = {}
        on_node: dict[int, set[int]] = {}
        placed = [False] * T
        end_of = [0] * T
        indeg = [len(p) for p in self.preds]
        heap = [(posl[t], t) for t in range(T) if indeg[t] == 0]
        heapq.heapify(heap)
        R = c.R
        sep = [set(a.tolist()) for a in c.separate] if len(c.sep_a) else None
        while heap:
            _, t = heapq.heappop(heap)
            f0, k = first[t], reps[t]
            want = xl[f0] >= 0 and all(placed[q] for q in self.preds[t])
            if want:
                est = int(c.release[t])
                for q in self.preds[t]:
                    if end_of[q] > est:
                        est = end_of[q]
                limit = self.limit[t]
                chosen: list[tuple[int, int, int, list[tuple[int, float]]]] = []
                taken: set[int] = set()
                for s in range(f0, f0 + k):
                    n = xl[s]
                    best = self._try(t, n, est, limit, profiles, on_node, sep, taken, R)
                    if best is None:
                        best = self._fallback(t, est, limit, profiles, on_node, sep, taken, R)
                    if best is None:
                        chosen = []
                        break
                    chosen.append(best)
                    taken.add(best[0])
                if len(chosen) == k:
                    e_max = 0
                    for i, (n, s0, e0, d) in enumerate(chosen):
                        xl[f0 + i] = n
                        start[f0 + i] = s0
                        if e0 > s0 and d:
                            prof = profiles.get(n)
                            if prof is None:
                                prof = profiles[n] = _Profile(R)
                            prof.add(s0, e0, d)
                        on_node.setdefault(n, set()).add(t)
                        e_max = max(e_max, e0)
                    placed[t] = True
                    end_of[t] = e_max
            if not placed[t]:
                for s in range(f0, f0 + k):
                    xl[s] = UNPLACED
            for u in self.succ[t]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(heap, (posl[u], u))
        x[:] = xl
        return x, np.asarray(start, dtype=np.int64)

    def justified_order(self, x: np.ndarray, start: np.ndarray) -> np.ndarray | None:
        """Backward pass of forward-backward improvement (justification): every placed task,
        latest end first, as late as possible on its node before its successors and the
        makespan (release dates become latest ends); returns the activity list ordered by
        those late starts (unplaced tasks after them), or None when the pass fails. Decoding
        that list forward gives a schedule no longer than ``start`` in single-node RCPSPs."""
        c = self.c
        placed = x >= 0
        if not placed.any():
            return None
        ps = np.flatnonzero(placed)
        dur = c.durations(c.task_of[ps], x[ps])
        end = np.zeros(c.S, dtype=np.int64)
        end[ps] = start[ps] + dur
        big = np.iinfo(np.int64).max // 4
        t_end = np.full(c.T, -big)
        np.maximum.at(t_end, c.task_of[ps], end[ps])
        t_start = np.full(c.T, big)
        np.minimum.at(t_start, c.task_of[ps], start[ps])
        mk = int(end[ps].max())
        rank = np.empty(c.T, dtype=np.int64)
        rank[np.asarray(c.topo, dtype=np.int64)] = np.arange(c.T)
        on = np.zeros(c.T, dtype=bool)
        on[c.task_of[ps]] = True
        tasks = np.flatnonzero(on)
        seq = tasks[np.lexsort((-rank[tasks], -t_start[tasks], -t_end[tasks]))].tolist()
        first, reps = c.first.tolist(), c.reps.tolist()
        xl = x.tolist()
        profiles: dict[int, _Profile] = {}
        rev_end = [0] * c.T
        late = [0] * c.T  # forward start of each task in the right-justified schedule
        for t in seq:
            est = 0
            for u in self.succ[t]:
                if on[u] and rev_end[u] > est:
                    est = rev_end[u]
            lim = self.limit[t]
            if lim < _INF:
                est = max(est, mk - int(lim))
            rlimit = float(mk - int(c.release[t]))
            top = 0
            for s in range(first[t], first[t] + reps[t]):
                n = xl[s]
                d_, dem, _ = self.pair(t, n)
                prof = profiles.get(n)
                if prof is None:
                    s0 = est if est + d_ <= rlimit else _INF
                else:
                    s0 = prof.earliest_fit(est, d_, dem, self.capx[n], rlimit)
                if s0 == _INF:
                    return None
                e0 = int(s0) + d_
                if e0 > int(s0) and dem:
                    if prof is None:
                        prof = profiles[n] = _Profile(c.R)
                    prof.add(int(s0), e0, dem)
                top = max(top, e0)
            rev_end[t] = top
            late[t] = mk - top
        fwd = np.asarray(late, dtype=np.int64)
        rest = np.flatnonzero(~on)
        head = tasks[np.lexsort((rank[tasks], fwd[tasks]))]
        return np.concatenate([head, rest[np.argsort(rank[rest], kind="stable")]])

    def _try(
        self,
        t: int,
        n: int,
        est: int,
        limit: float,
        profiles: dict[int, _Profile],
        on_node: dict[int, set[int]],
        sep: list[set[int]] | None,
        taken: set[int],
        R: int,
    ) -> tuple[int, int, int, list[tuple[int, float]]] | None:
        if n < 0 or n in taken:
            return None
        if sep is not None and sep[t] and on_node.get(n) and sep[t] & on_node[n]:
            return None
        dur, d, fits = self.pair(t, n)
        if not fits:
            return None
        prof = profiles.get(n)
        if prof is None:
            s0 = est if est + dur <= limit else _INF
        else:
            s0 = prof.earliest_fit(est, dur, d, self.capx[n], limit)
        if s0 == _INF:
            return None
        return (n, int(s0), int(s0) + dur, d)

    def _fallback(
        self,
        t: int,
        est: int,
        limit: float,
        profiles: dict[int, _Profile],
        on_node: dict[int, set[int]],
        sep: list[set[int]] | None,
        taken: set[int],
        R: int,
    ) -> tuple[int, int, int, list[tuple[int, float]]] | None:
        best: Any = None
        for n in self.c.allowed[t].tolist():
            got = self._try(t, n, est, limit, profiles, on_node, sep, taken, R)
            if got is not None and (best is None or got[2] < best[2]):
                best = got
        return best


class ArraySGS:
    """The serial SGS with the node chosen by the decoder: each replica goes to the allowed
    node where it ends earliest (its gene node when that ties), as the greedy does, so the
    activity list alone decides the schedule. Usage profiles are numpy arrays over all nodes
    (breakpoints ``times[n, :count[n]]``, usage ``use[r, n, i]`` from breakpoint i to the
    next), so the earliest start on every allowed node is found at once.

    Used for scheduling problems whose objective counts only time (``makespan``,
    ``tardiness``) and left-out tasks: there, the earliest end is the right choice of node,
    and searching over the activity list is the classic activity-list GA for the RCPSP.
    """

    WIDTH = 16  # breakpoints per node at first (doubled when a node needs more)

    def __init__(self, c: Compiled, sched: Scheduler) -> None:
        self.c = c
        self.sched = sched
        self.capx = c.capx.T.copy()  # (R, N)
        self.limit = np.minimum(c.deadline, c.horizon).astype(float)
        self._task: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def task_data(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(allowed nodes, durations there, demand there (R, k), fits an empty node)."""
        hit = self._task.get(t)
        if hit is None:
            c = self.c
            nodes = c.allowed[t]
            tt = np.full(len(nodes), t, dtype=np.int64)
            dur = c.durations(tt, nodes)
            dem = c.demand(tt, nodes).T.copy()  # (R, k)
            fits = (dur == 0) | (dem <= self.capx[:, nodes]).all(axis=0)
            hit = self._task[t] = (nodes, dur, dem, fits)
        return hit

    def decode(self, x: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Schedule in activity-list ``order``; ``x`` (written back) says which optional tasks
        are in (``-1``: out) and which node to prefer on ties. Returns (x, start)."""
        c = self.c
        T, N, R = c.T, c.N, c.R
        pos = np.empty(T, dtype=np.int64)
        pos[order] = np.arange(T)
        posl = pos.tolist()
        first, reps = c.first.tolist(), c.reps.tolist()
        release = c.release.tolist()
        preds, succ = self.sched.preds, self.sched.succ
        xl = x.tolist()
        start = [0] * c.S
        w = self.WIDTH
        times = np.full((N, w), _INF)
        times[:, 0] = 0.0
        use = np.zeros((R, N, w))
        count = np.ones(N, dtype=np.int64)
        sep = [set(a.tolist()) for a in c.separate] if len(c.sep_a) else None
        on_node: list[set[int]] = [set() for _ in range(N)] if sep is not None else []
        placed = [False] * T
        end_of = [0] * T
        indeg = [len(p) for p in preds]
        heap = [(posl[t], t) for t in range(T) if indeg[t] == 0]
        heapq.heapify(heap)
        while heap:
            _, t = heapq.heappop(heap)
            f0, k = first[t], reps[t]
            if xl[f0] >= 0 and all(placed[q] for q in preds[t]):
                est = release[t]
                for q in preds[t]:
                    if end_of[q] > est:
                        est = end_of[q]
                nodes, dur, dem, fits = self.task_data(t)
                ok = fits & (est + dur <= self.limit[t])
                if sep is not None and sep[t]:
                    for i in np.flatnonzero(ok).tolist():
                        if sep[t] & on_node[int(nodes[i])]:
                            ok[i] = False
                cand = np.flatnonzero(ok)
                if len(cand) >= k:
                    nd = nodes[cand]
                    if len(nd) and int(count[nd].max()) >= w - 2:
                        times, use, w = self._grow(times, use, w)
                    s0 = self._earliest(times, use, count, nd, dem[:, cand], dur[cand], est)
                    e0 = s0 + dur[cand]
                    e0[e0 > self.limit[t]] = _INF
                    # k earliest ends; ties: the gene nodes, then the lower node index
                    pref = np.isin(nd, xl[f0 : f0 + k])
                    rank = np.lexsort((nd, ~pref, e0))[:k]
                    if len(rank) == k and e0[rank[-1]] < _INF:
                        e_max = 0
                        for i, j in enumerate(rank.tolist()):
                            n = int(nd[j])
                            a, b = int(s0[j]), int(e0[j])
                            xl[f0 + i] = n
                            start[f0 + i] = a
                            d = dem[:, cand[j]]
                            if b > a and (d > 0).any():
                                self._add(times, use, count, n, a, b, d)
                            if sep is not None:
                                on_node[n].add(t)
                            e_max = max(e_max, b)
                        placed[t] = True
                        end_of[t] = e_max
            if not placed[t]:
                for s in range(f0, f0 + k):
                    xl[s] = UNPLACED
            for u in succ[t]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(heap, (posl[u], u))
        x[:] = xl
        return x, np.asarray(start, dtype=np.int64)

    @staticmethod
    def _grow(times: np.ndarray, use: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, int]:
        t2 = np.full((times.shape[0], 2 * w), _INF)
        t2[:, :w] = times
        u2 = np.zeros((use.shape[0], use.shape[1], 2 * w))
        u2[:, :, :w] = use
        return t2, u2, 2 * w

    def _earliest(
        self,
        times: np.ndarray,
        use: np.ndarray,
        count: np.ndarray,
        nodes: np.ndarray,
        dem: np.ndarray,
        dur: np.ndarray,
        est: int,
    ) -> np.ndarray:
        """Earliest start >= est on each of ``nodes`` where demand ``dem`` (R, k) fits over the
        whole duration (inf: never); zero durations start at est."""
        out = np.full(len(nodes), float(est))
        busy = np.flatnonzero((dur > 0) & (count[nodes] > 1))
        if not len(busy):
            return out
        sub = nodes[busy]
        w = int(count[sub].max())
        tm = times[sub, :w]
        good = (use[:, sub, :w] + dem[:, busy, None] <= self.capx[:, sub, None]).all(axis=0)
        # from a segment that starts a run of good ones, the run lasts to the next bad one
        bad_at = np.where(good, _INF, tm)
        next_bad = np.minimum.accumulate(bad_at[:, ::-1], axis=1)[:, ::-1]
        run = good.copy()
        run[:, 1:] &= ~good[:, :-1]
        cand = np.maximum(tm, float(est))
        fit = run & (cand + dur[busy][:, None] <= next_bad)
        out[busy] = np.where(fit, cand, _INF).min(axis=1)
        return out

    @staticmethod
    def _add(
        times: np.ndarray,
        use: np.ndarray,
        count: np.ndarray,
        n: int,
        a: int,
        b: int,
        d: np.ndarray,
    ) -> None:
        i = ArraySGS._split(times, use, count, n, float(a))
        j = ArraySGS._split(times, use, count, n, float(b))
        use[:, n, i:j] += d[:, None]

    @staticmethod
    def _split(times: np.ndarray, use: np.ndarray, count: np.ndarray, n: int, v: float) -> int:
        c = int(count[n])
        i = int(np.searchsorted(times[n, :c], v, side="right")) - 1
        if times[n, i] == v:
            return i
        times[n, i + 2 : c + 1] = times[n, i + 1 : c]
        use[:, n, i + 2 : c + 1] = use[:, n, i + 1 : c]
        times[n, i + 1] = v
        use[:, n, i + 1] = use[:, n, i]
        count[n] = c + 1
        return i + 1
