"""Decoders, repair and local search: turn genes into plans that keep every constraint they can.

Placement genes are one node per replica slot (``-1``: unplaced). :func:`repair` makes them
feasible where it can, in this order, and writes the result back into the genes (Lamarckian):

1. all or none per task: a task the plan must place (required, a gang mate or, scheduling, a
   predecessor of one) gets a node for every empty slot; an optional task placed partly is
   left out whole; a gang placed partly is left out whole (or completed, if it must be placed);
2. replicas of one task on distinct nodes, and ``separate_from`` never on one node: the later
   slot moves to another allowed node;
3. capacity (placement problems): replicas leave an overloaded node for an allowed node with
   room, the one that raises the objective least; where none has room an optional task is
   left out (lowest priority first), a must-place one stays (the plan is then penalised).

Genes always hold allowed nodes (operators draw from each task's allowed list). What repair
cannot fix is penalised: the fitness is the pair (violation score, scalar fitness), compared
lexicographically, so any feasible plan beats any infeasible one.

Scheduling genes add an activity list (a priority order of tasks), decoded by a serial
schedule generation scheme (:func:`decode_schedule`): tasks in list order among those whose
``after`` tasks are done, each replica at the earliest start on its gene node where its demand
fits over its whole duration before its deadline and the horizon; if it cannot run there, on the
allowed node with the earliest end (written back into the genes). Such schedules are active
(nothing can start earlier without moving another task), which contain an optimum for every
term but ``balance`` (the peak may be lowered by delaying tasks; the GA never delays one).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

import numpy as np

from .compiled import UNPLACED, Compiled

_INF = float("inf")
DENSE_LIMIT = 2_000_000  # (task, node, resource) entries up to which rows are cached densely


class Rows:
    """Per task: allowed nodes with their demand rows, assign costs and current flags (cached
    for small problems)."""

    def __init__(self, c: Compiled) -> None:
        self.c = c
        self.cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = (
            {} if int(c.allowed_off[-1]) * c.R <= DENSE_LIMIT else None
        )
        w = c.weights
        self.w_cost = w.get("cost", 0.0)
        self.w_nodes = w.get("nodes", 0.0)
        self.w_moves = w.get("moves", 0.0)
        self.w_balance = w.get("balance", 0.0)
        self.w_unplaced = w.get("unplaced", 0.0)
        self.dense_demand: np.ndarray | None = None  # (T, N, R), set by Dense
        self.dense: Dense | None = None

    def get(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self.cache is not None and t in self.cache:
            return self.cache[t]
        c = self.c
        nodes = c.allowed[t]
        tt = np.full(len(nodes), t, dtype=np.int64)
        d = c.demand(tt, nodes)
        ac = c.assign_cost(tt, nodes)
        moved = ~c.is_current(tt, nodes) if c.has_current[t] else np.zeros(len(nodes), dtype=bool)
        row = (nodes, d, ac, moved)
        if self.cache is not None:
            self.cache[t] = row
        return row


class State:
    """Loads and replica counts per node of one placement individual, kept up to date."""

    def __init__(self, c: Compiled, x: np.ndarray, dense: np.ndarray | None = None) -> None:
        self.c = c
        self.x = x
        self.dense = dense
        placed = np.flatnonzero(x >= 0)
        pt, pn = c.task_of[placed], x[placed]
        d = c.demand(pt, pn)
        self.load = np.zeros((c.N, c.R))
        if not c.scheduling:
            for r in range(c.R):
                self.load[:, r] = np.bincount(pn, weights=d[:, r], minlength=c.N)
        self.count = np.bincount(pn, minlength=c.N).astype(np.int64)

    def demand_of(self, s: int, n: int) -> np.ndarray:
        c = self.c
        t = int(c.task_of[s])
        if self.dense is not None:
            return self.dense[t, n]
        return c.demand(np.array([t]), np.array([n]))[0]

    def remove(self, s: int) -> None:
        n = int(self.x[s])
        if n < 0:
            return
        if not self.c.scheduling:
            self.load[n] -= self.demand_of(s, n)
        self.count[n] -= 1
        self.x[s] = UNPLACED

    def put(self, s: int, n: int) -> None:
        if not self.c.scheduling:
            self.load[n] += self.demand_of(s, n)
        self.count[n] += 1
        self.x[s] = n


def forbidden_nodes(c: Compiled, x: np.ndarray, s: int) -> list[int]:
    """Nodes slot ``s`` may not take: its task's other replicas, and separated tasks."""
    t = int(c.task_of[s])
    f0 = int(c.first[t])
    out = [int(n) for n in x[f0 : f0 + int(c.reps[t])] if n >= 0]
    n_self = int(x[s])
    if n_self >= 0:
        out.remove(n_self)
    for o in c.separate[t].tolist():
        fo = int(c.first[o])
        out.extend(int(n) for n in x[fo : fo + int(c.reps[o])] if n >= 0)
    return out


def best_node(
    st: State, rows: Rows, s: int, rng: np.random.Generator, *, capacity: bool = True
) -> int:
    """The allowed node for slot ``s`` (currently unplaced or to be moved) that raises the
    objective least, with room (placement), not forbidden; -1 if none."""
    c = st.c
    t = int(c.task_of[s])
    nodes, d, ac, moved = rows.get(t)
    if not len(nodes):
        return -1
    ok = np.ones(len(nodes), dtype=bool)
    bad = forbidden_nodes(c, st.x, s)
    if bad:
        ok &= ~np.isin(nodes, bad)
    own = int(st.x[s])
    if capacity and not c.scheduling:
        load = st.load[nodes]
        if own >= 0:
            load = load.copy()
            mine = nodes == own
            load[mine] -= st.demand_of(s, own)
        new = load + d
        ok &= (new <= c.capx[nodes]).all(axis=1)
    else:
        new = None
    if own >= 0:
        ok &= nodes != own
    cand = np.flatnonzero(ok)
    if not len(cand):
        return -1
    score = rows.w_cost * ac[cand]
    opening = st.count[nodes[cand]] == 0
    if rows.w_cost:
        score = score + rows.w_cost * c.node_cost[nodes[cand]] * opening
    if rows.w_nodes:
        score = score + rows.w_nodes * opening
    if rows.w_moves:
        score = score + rows.w_moves * moved[cand]
    if new is not None:
        util = (new[cand] * c.invcap[nodes[cand]]).max(axis=1)
        score = score + (rows.w_balance + 1e-9) * util
    score = score + rng.random(len(cand)) * 1e-12
    return int(nodes[cand[int(np.argmin(score))]])


def _task_slots(c: Compiled, t: int) -> range:
    f0 = int(c.first[t])
    return range(f0, f0 + int(c.reps[t]))


def unplace_task(st: State, t: int) -> None:
    for s in _task_slots(st.c, t):
        st.remove(s)


def unplace_unit(st: State, t: int) -> bool:
    """Leave out task ``t`` with its gang; False when the plan must place it."""
    c = st.c
    g = int(c.gang_of[t])
    members = c.gangs[g].tolist() if g >= 0 else [t]
    if c.must[members].any():
        return False
    for m in members:
        unplace_task(st, m)
    return True


def fill_task(st: State, rows: Rows, t: int, rng: np.random.Generator) -> bool:
    """Give every empty slot of ``t`` a node (with room where possible)."""
    ok = True
    for s in _task_slots(st.c, t):
        if st.x[s] >= 0:
            continue
        n = best_node(st, rows, s, rng)
        if n < 0:
            n = best_node(st, rows, s, rng, capacity=False)
        if n < 0:
            ok = False
            continue
        st.put(s, n)
    return ok


def repair(c: Compiled, x: np.ndarray, rows: Rows, rng: np.random.Generator) -> State:
    """Make placement genes feasible where possible (in place); see the module docstring."""
    st = State(c, x, rows.dense_demand)
    for _ in range(2):
        _all_or_none(st, rows, rng)
        if len(c.sep_a) or int(c.reps.max(initial=1)) > 1:
            _distinct_and_separate(st, rows, rng)
        if rows.dense is not None:
            rows.dense.capacity(st, rng)
        elif not c.scheduling:
            _capacity(st, rows, rng)
    _all_or_none(st, rows, rng, fill=False)
    return st


def _all_or_none(st: State, rows: Rows, rng: np.random.Generator, fill: bool = True) -> None:
    c, x = st.c, st.x
    n_placed = np.bincount(c.task_of[x >= 0], minlength=c.T)
    partial = np.flatnonzero(n_placed != c.reps)
    for t in partial.tolist():
        if c.must[t]:
            if fill:
                fill_task(st, rows, t, rng)
        elif n_placed[t] > 0:
            unplace_task(st, t)
    if not c.gangs:
        return
    n_placed = np.bincount(c.task_of[x >= 0], minlength=c.T)
    full = n_placed == c.reps
    for g in c.gangs:
        k = int(np.count_nonzero(full[g]))
        if 0 < k < len(g):
            if c.must[g].any():
                if fill:
                    for m in g.tolist():
                        fill_task(st, rows, m, rng)
            else:
                for m in g.tolist():
                    unplace_task(st, m)


def _distinct_and_separate(st: State, rows: Rows, rng: np.random.Generator) -> None:
    c, x = st.c, st.x
    pl = np.flatnonzero(x >= 0)
    key = c.task_of[pl] * c.N + x[pl]
    _, first_idx = np.unique(key, return_index=True)
    dup = np.setdiff1d(np.arange(len(pl)), first_idx)
    movers = [int(pl[i]) for i in dup]
    if len(c.sep_a):
        xa, xb = x[c.sep_a], x[c.sep_b]
        clash = np.flatnonzero((xa == xb) & (xa >= 0))
        movers.extend(int(c.sep_b[i]) for i in clash)
    for s in movers:
        if x[s] < 0 or not _conflicted(c, x, s):
            continue
        t = int(c.task_of[s])
        n = best_node(st, rows, s, rng)
        if n < 0:
            n = best_node(st, rows, s, rng, capacity=False)
        if n >= 0:
            st.remove(s)
            st.put(s, n)
        elif not unplace_unit(st, t):
            pass  # a must-place task stays in conflict: penalised


def _conflicted(c: Compiled, x: np.ndarray, s: int) -> bool:
    n = int(x[s])
    return n in forbidden_nodes(c, x, s)


def _capacity(st: State, rows: Rows, rng: np.random.Generator) -> None:
    c, x = st.c, st.x
    over = np.flatnonzero((st.load > c.capx).any(axis=1))
    for n in rng.permutation(over).tolist():
        slots = np.flatnonzero(x == n)
        rng.shuffle(slots)
        # optional low-priority tasks leave first only when no node has room for them
        for s in slots.tolist():
            if not (st.load[n] > c.capx[n]).any():
                break
            if x[s] != n:
                continue
            m = best_node(st, rows, s, rng)
            if m >= 0:
                st.remove(s)
                st.put(s, m)
        if (st.load[n] > c.capx[n]).any():
            left = [s for s in np.flatnonzero(x == n).tolist() if not c.must[c.task_of[s]]]
            left.sort(key=lambda s: c.prio[c.task_of[s]])
            for s in left:
                if not (st.load[n] > c.capx[n]).any():
                    break
                if x[s] == n:
                    unplace_unit(st, int(c.task_of[s]))


# -- local search (placement) -------------------------------------------------------------------


def improve(
    c: Compiled,
    st: State,
    rows: Rows,
    rng: np.random.Generator,
    budget: int,
    swaps: bool,
    out: Callable[[], bool] | None = None,
) -> int:
    """First-improvement shift moves (one replica to another allowed node with room), inserts
    of optional tasks left out, node closing (every replica of a node elsewhere, when the node
    has a cost or `nodes` counts) and, on small problems, swaps of two replicas between nodes,
    each accepted when the objective estimate (cost, nodes, moves, unplaced, plus the
    utilisation of the destination for balance) goes down. Returns the number of moves."""
    x = st.x
    moves = 0
    slots = rng.permutation(np.flatnonzero(x >= 0))[:budget]
    for i, s in enumerate(slots.tolist()):
        if i % 50 == 49 and out is not None and out():
            return moves
        if _shift(c, st, rows, s):
            moves += 1
    if rows.w_unplaced:
        left = np.flatnonzero(~c.must & (np.bincount(c.task_of[x >= 0], minlength=c.T) == 0))
        for t in rng.permutation(left)[: max(1, budget // 4)].tolist():
            if c.gang_of[t] >= 0:
                continue
            if fill_task_strict(st, rows, t, rng):
                moves += 1
            else:
                for s in _task_slots(c, t):
                    st.remove(s)
    if out is not None and out():
        return moves
    if (rows.w_cost and c.node_cost.any()) or rows.w_nodes:
        moves += _close_nodes(c, st, rows, rng, max(1, budget // 20), out)
    if swaps and not c.scheduling:
        for s in slots[: max(1, budget // 2)].tolist():
            if _swap(c, st, rows, s):
                moves += 1
    return moves


def fill_task_strict(st: State, rows: Rows, t: int, rng: np.random.Generator) -> bool:
    """Place every replica of optional task ``t`` with room; True if it lowers the objective."""
    c = st.c
    gain = rows.w_unplaced * c.prio[t] * c.reps[t]
    cost = 0.0
    for s in _task_slots(c, t):
        n = best_node(st, rows, s, rng)
        if n < 0:
            return False
        cost += _place_cost(c, st, rows, s, n)
        st.put(s, n)
    return cost < gain


def _place_cost(c: Compiled, st: State, rows: Rows, s: int, n: int) -> float:
    t = int(c.task_of[s])
    nodes, _, ac, moved = rows.get(t)
    j = int(np.searchsorted(nodes, n)) if not c.all_allowed[t] else n
    cost = rows.w_cost * ac[j] + rows.w_moves * moved[j]
    if st.count[n] == 0:
        cost += rows.w_cost * c.node_cost[n] + rows.w_nodes
    return float(cost)


def _shift(c: Compiled, st: State, rows: Rows, s: int) -> bool:
    n = int(st.x[s])
    t = int(c.task_of[s])
    nodes, d, ac, moved = rows.get(t)
    if len(nodes) < 2:
        return False
    j0 = int(np.searchsorted(nodes, n)) if not c.all_allowed[t] else n
    old = rows.w_cost * ac[j0] + rows.w_moves * moved[j0]
    if st.count[n] == 1:
        old += rows.w_cost * c.node_cost[n] + rows.w_nodes
    new = rows.w_cost * ac + rows.w_moves * moved
    opening = st.count[nodes] == 0
    new = new + (rows.w_cost * c.node_cost[nodes] + rows.w_nodes) * opening
    if not c.scheduling:
        after = st.load[nodes] + d
        ok = (after <= c.capx[nodes]).all(axis=1)
        if rows.w_balance:
            util = (after * c.invcap[nodes]).max(axis=1)
            cur = float((st.load * c.invcap).max(initial=0.0))
            new = new + rows.w_balance * np.maximum(util - cur, 0.0)
            # leaving a node at the peak may lower it: credit only when it is the sole peak
    else:
        ok = np.ones(len(nodes), dtype=bool)
    ok[j0] = False
    bad = forbidden_nodes(c, st.x, s)
    if bad:
        ok &= ~np.isin(nodes, bad)
    delta = np.where(ok, new - old, _INF)
    j = int(np.argmin(delta))
    if delta[j] < -1e-9:
        st.remove(s)
        st.put(s, int(nodes[j]))
        return True
    return False


def _close_nodes(
    c: Compiled,
    st: State,
    rows: Rows,
    rng: np.random.Generator,
    k: int,
    out: Callable[[], bool] | None = None,
) -> int:
    """Try to empty up to ``k`` lightly used nodes that cost something."""
    used = np.flatnonzero(st.count > 0)
    if len(used) < 2:
        return 0
    fill = (st.load[used] * c.invcap[used]).max(axis=1) if not c.scheduling else st.count[used]
    value = rows.w_cost * c.node_cost[used] + rows.w_nodes
    order = used[np.lexsort((rng.random(len(used)), fill / np.maximum(value, 1e-12)))]
    closed = 0
    for n in order[: 3 * k].tolist():
        if out is not None and out():
            break
        slots = np.flatnonzero(st.x == n).tolist()
        before = st.x.copy()
        gain = rows.w_cost * c.node_cost[n] + rows.w_nodes
        extra = 0.0
        ok = True
        for s in slots:
            t = int(c.task_of[s])
            nodes, _, ac, moved = rows.get(t)
            j0 = int(np.searchsorted(nodes, n)) if not c.all_allowed[t] else n
            extra -= rows.w_cost * ac[j0] + rows.w_moves * moved[j0]
            st.remove(s)
            st.count[n] += 1  # keep n closed for the others: counted as open, not a target
            m = _best_open(c, st, rows, s, n)
            st.count[n] -= 1
            if m < 0:
                ok = False
                break
            extra += _place_cost(c, st, rows, s, m)
            st.put(s, m)
        if ok and extra < gain - 1e-9:
            closed += 1
            continue
        # undo
        for s in np.flatnonzero(st.x != before).tolist():
            st.remove(s)
        for s in np.flatnonzero(st.x != before).tolist():
            if before[s] >= 0:
                st.put(s, int(before[s]))
    return closed


def _best_open(c: Compiled, st: State, rows: Rows, s: int, closing: int) -> int:
    t = int(c.task_of[s])
    nodes, d, ac, moved = rows.get(t)
    ok = (st.count[nodes] > 0) & (nodes != closing)
    if not c.scheduling:
        ok &= (st.load[nodes] + d <= c.capx[nodes]).all(axis=1)
    bad = forbidden_nodes(c, st.x, s)
    if bad:
        ok &= ~np.isin(nodes, bad)
    cand = np.flatnonzero(ok)
    if not len(cand):
        return -1
    score = rows.w_cost * ac[cand] + rows.w_moves * moved[cand]
    if not c.scheduling:
        score = score + 1e-9 * (st.load[nodes[cand]] * c.invcap[nodes[cand]]).max(axis=1)
    return int(nodes[cand[int(np.argmin(score))]])


def _swap(c: Compiled, st: State, rows: Rows, s: int) -> bool:
    """Exchange slot ``s`` with the slot on another node that lowers the estimate most."""
    x = st.x
    n = int(x[s])
    if n < 0:
        return False
    t = int(c.task_of[s])
    others = np.flatnonzero((x >= 0) & (x != n))
    if not len(others):
        return False
    tt = c.task_of[others]
    m = x[others]
    # demand and cost of s on each m, of each other on n
    ts = np.full(len(others), t, dtype=np.int64)
    ns = np.full(len(others), n, dtype=np.int64)
    ok = c.is_allowed(ts, m) & c.is_allowed(tt, ns) & (tt != t)
    d_s_m = c.demand(ts, m)
    d_o_n = c.demand(tt, ns)
    d_s_n = st.demand_of(s, n)
    d_o_m = c.demand(tt, m)
    load_n = st.load[n] - d_s_n + d_o_n  # (k, R)
    load_m = st.load[m] - d_o_m + d_s_m
    ok &= (load_n <= c.capx[n]).all(axis=1) & (load_m <= c.capx[m]).all(axis=1)
    if not ok.any():
        return False
    delta = rows.w_cost * (
        c.assign_cost(ts, m) + c.assign_cost(tt, ns) - c.assign_cost(ts, ns) - c.assign_cost(tt, m)
    )
    if rows.w_moves:
        delta = delta + rows.w_moves * (
            (~c.is_current(ts, m) & c.has_current[t]).astype(float)
            + (~c.is_current(tt, ns) & c.has_current[tt])
            - float(c.has_current[t] and not c.is_current(ts[:1], ns[:1])[0])
            - (~c.is_current(tt, m) & c.has_current[tt])
        )
    if rows.w_balance:
        cur = float((st.load * c.invcap).max(initial=0.0))
        util = np.maximum((load_n * c.invcap[n]).max(axis=1), (load_m * c.invcap[m]).max(axis=1))
        delta = delta + rows.w_balance * np.maximum(util - cur, 0.0)
    delta = np.where(ok, delta, _INF)
    j = int(np.argmin(delta))
    if delta[j] >= -1e-9:
        return False
    o = int(others[j])
    mo = int(m[j])
    # separation and distinct replicas after the exchange
    st.remove(s)
    st.remove(o)
    st.put(s, mo)
    st.put(o, n)
    if _conflicted(c, x, s) or _conflicted(c, x, o):
        st.remove(s)
        st.remove(o)
        st.put(s, n)
        st.put(o, mo)
        return False
    return True


# -- scheduling: serial schedule generation scheme --


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


# -- dense local search (small placement problems) --


class Dense:
    """Dense (task x node) matrices for a vectorised local search on small placement problems
    with one replica per task, no ``separate_from`` and no ``balance`` in the objective (the
    assignment-problem core, e.g. the GAP): every shift is scored at once, and swaps of two
    tasks between nodes as a (tasks x tasks) matrix."""

    LIMIT = 2_000_000  # task x node x resource entries

    @staticmethod
    def applies(c: Compiled, rows: Rows) -> bool:
        return (
            not c.scheduling
            and c.S > 0
            and len(c.sep_a) == 0
            and bool((c.reps == 1).all())
            and rows.w_balance == 0
            and c.T * c.N * c.R <= Dense.LIMIT
        )

    def __init__(self, c: Compiled, rows: Rows) -> None:
        T, N, R = c.T, c.N, c.R
        self.c = c
        self.A = np.zeros((T, N), dtype=bool)
        for t in range(T):
            self.A[t, c.allowed[t]] = True
        tt = np.repeat(np.arange(T, dtype=np.int64), N)
        nn = np.tile(np.arange(N, dtype=np.int64), T)
        self.D = c.demand(tt, nn).reshape(T, N, R)
        rows.dense_demand = self.D
        rows.dense = self
        moved = (~c.is_current(tt, nn) & c.has_current[tt]).reshape(T, N)
        self.M = rows.w_cost * c.assign_cost(tt, nn).reshape(T, N) + rows.w_moves * moved
        self.open = rows.w_cost * c.node_cost + rows.w_nodes

    def capacity(self, st: State, rng: np.random.Generator) -> None:
        """Capacity repair as :func:`_capacity`, on the dense matrices: replicas leave each
        overloaded node (in random order) for the allowed node with room and the lowest
        marginal cost; optional ones with nowhere to go are left out."""
        c, x, load, count = self.c, st.x, st.load, st.count
        M, D, A, opn, capx = self.M, self.D, self.A, self.open, c.capx
        over = np.flatnonzero((load > capx).any(axis=1))
        for n in rng.permutation(over).tolist():
            slots = np.flatnonzero(x == n)
            for s in rng.permutation(slots).tolist():
                if not (load[n] > capx[n]).any():
                    break
                ok = A[s] & (load + D[s] <= capx).all(axis=1)
                ok[n] = False
                if not ok.any():
                    continue
                score = np.where(ok, M[s] + opn * (count == 0), _INF)
                m = int(score.argmin())
                load[n] -= D[s, n]
                load[m] += D[s, m]
                count[n] -= 1
                count[m] += 1
                x[s] = m
            if (load[n] > capx[n]).any():
                left = [s for s in np.flatnonzero(x == n).tolist() if not c.must[s]]
                left.sort(key=lambda s: c.prio[s])
                for s in left:
                    if not (load[n] > capx[n]).any():
                        break
                    if x[s] == n:
                        unplace_unit(st, s)

    def improve(self, st: State, swaps: bool, rounds: int = 4) -> int:
        """Best-improvement shift rounds, then (``swaps``) up to 50 best swaps; in place."""
        c, x, load, count = self.c, st.x, st.load, st.count
        M, D, A, opn = self.M, self.D, self.A, self.open
        capx = c.capx
        done = 0
        for _ in range(rounds):
            idx = np.flatnonzero(x >= 0)
            if not len(idx):
                break
            xi = x[idx]
            ar = np.arange(len(idx))
            cur = M[idx, xi] + opn[xi] * (count[xi] == 1)
            cand = M[idx] + (opn * (count == 0))[None, :]
            fits = A[idx] & (load[None, :, :] + D[idx] <= capx[None]).all(axis=2)
            fits[ar, xi] = False
            delta = np.where(fits, cand - cur[:, None], _INF)
            j = delta.argmin(axis=1)
            best = delta[ar, j]
            good = np.flatnonzero(best < -1e-9)
            if not len(good):
                break
            moved = 0
            for k in good[np.argsort(best[good], kind="stable")].tolist():
                s, n_old, n_new = int(idx[k]), int(xi[k]), int(j[k])
                if x[s] != n_old or (load[n_new] + D[s, n_new] > capx[n_new]).any():
                    continue
                d = M[s, n_new] + opn[n_new] * (count[n_new] == 0)
                d -= M[s, n_old] + opn[n_old] * (count[n_old] == 1)
                if d >= -1e-9:
                    continue
                load[n_old] -= D[s, n_old]
                load[n_new] += D[s, n_new]
                count[n_old] -= 1
                count[n_new] += 1
                x[s] = n_new
                moved += 1
            done += moved
            if not moved:
                break
        if not swaps:
            return done
        idx = np.flatnonzero(x >= 0)
        if len(idx) < 2 or len(idx) ** 2 * c.R > 4_000_000:
            return done
        for _ in range(50):
            xi = x[idx]
            cur = M[idx, xi]
            cross = M[idx][:, xi]  # [a, b]: a on b's node
            delta = cross + cross.T - cur[:, None] - cur[None, :]
            dab = D[idx][:, xi, :]  # [a, b]: demand of a on b's node
            dcur = D[idx, xi]
            # node of a after a leaves and b arrives
            ok_a = (
                load[xi][:, None, :] - dcur[:, None, :] + dab.transpose(1, 0, 2)
                <= capx[xi][:, None, :]
            ).all(axis=2)
            al = A[idx][:, xi]
            ok = ok_a & ok_a.T & al & al.T & (xi[:, None] != xi[None, :])
            delta = np.where(ok, delta, _INF)
            f = int(delta.argmin())
            a, b = divmod(f, len(idx))
            if delta[a, b] >= -1e-9:
                break
            sa, sb = int(idx[a]), int(idx[b])
            na, nb = int(xi[a]), int(xi[b])
            load[na] += D[sb, na] - D[sa, na]
            load[nb] += D[sa, nb] - D[sb, nb]
            x[sa], x[sb] = nb, na
            done += 1
        return done
