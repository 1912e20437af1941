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
schedule generation scheme (:class:`.schedule.Scheduler`): tasks in list order among those whose
``after`` tasks are done, each replica at the earliest start on its gene node where its demand
fits over its whole duration before its deadline and the horizon; if it cannot run there, on the
allowed node with the earliest end (written back into the genes). Such schedules are active
(nothing can start earlier without moving another task), which contain an optimum for every
term but ``balance`` (the peak may be lowered by delaying tasks; the GA never delays one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .compiled import UNPLACED, Compiled

if TYPE_CHECKING:
    from .dense import Dense

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


def repair(
    c: Compiled, x: np.ndarray, rows: Rows, rng: np.random.Generator, capacity: bool = True
) -> State:
    """Make placement genes feasible where possible (in place); see the module docstring.
    ``capacity=False`` skips step 3 (the penalty search of :mod:`.assign` deals with it)."""
    st = State(c, x, rows.dense_demand)
    for _ in range(2 if capacity else 1):
        _all_or_none(st, rows, rng)
        if len(c.sep_a) or int(c.reps.max(initial=1)) > 1:
            _distinct_and_separate(st, rows, rng)
        if not capacity:
            break
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
