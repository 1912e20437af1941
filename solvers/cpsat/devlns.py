"""Large neighbourhood search for placement problems with devices or spread (revision 2).

The LNS of :mod:`.lns` keeps its plans in flat arrays that know no devices and no spread; this
one keeps the plan as the evaluator does (replica nodes and device indices per task) and
re-solves small parts of it exactly with CP-SAT, the rest fixed:

* a neighbourhood is a set ``F`` of free nodes (a seed node, nodes of its pool and label
  values, random others) and a set ``S`` of free tasks: those with a replica on ``F`` and some
  unplaced ones that could go there;
* **gangs stay whole**: a task of a gang may be placed or unplaced only if every member is in
  ``S`` with all of its replicas on ``F`` (or unplaced); otherwise it keeps its status (placed
  tasks may still move between the nodes of ``F``);
* **devices of tasks outside the neighbourhood are fixed**: what they take on each device of
  ``F`` is subtracted from that device's size; the free tasks' devices are chosen again (bools
  per device, as in the exact model), and the symmetry of the devices nothing fixed uses is
  broken by first user, as in :class:`.model.AllocationModel`;
* **spread is global**: per task of ``S`` and value of its key, the count is its replicas
  outside ``F`` with that value plus its new ones on ``F``;
* capacity per node of ``F`` and resource, separation (fixed tasks' nodes are excluded),
  ``current`` (moves), node use (``nodes``, node cost).

The objective is the problem's (``unplaced``, ``cost``, ``nodes``, ``moves``: linear terms;
:func:`.lns.route` sends nothing else here), on the part the neighbourhood can change, with
the replicas of must-place tasks left unplaced first: lexicographic objectives become one
weighted sum whose weights come from the part's upper bounds (exact order), ``weights`` the
exact model's integer coefficients. The current plan is hinted and is a solution; a
sub-solution replaces it only when its objective is strictly lower. Neighbourhoods grow while
sub-solves are proven quickly and shrink when they are not. Every plan returned is checked
by the evaluator.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from taskalloc.problems.entities import devices_ok
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, effectively_required

from .. import baseline
from ..clock import Clock, Progress
from ..flat import Flat
from ..native import cp_solver
from ..result import Result, Results
from ..scaling import choose_scales, weight_multipliers
from ..warm import floor_start
from .bounds import Bounds, BoundTask
from .exact import _watch
from .model import device_demand, device_sizes

NAME = "cpsat"
MIN_NODES, MAX_NODES = 3, 40  # free nodes per neighbourhood
START_NODES = 8
MAX_UNPLACED = 20  # unplaced tasks a neighbourhood offers a place
SUB_SECONDS = 1.0  # per sub-solve (at most)
STALL_STEPS = 300  # sub-solves without an improvement: the search ends
TERMS = ("unplaced", "cost", "nodes", "moves")


class _Data:
    """The problem in scaled integers, as the sub-models read it; candidate nodes and pair
    data are made when first asked for (2,000 tasks x 200 nodes: 370,000 pairs, 5 s in
    Python when made up front)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        sc = self.scales = choose_scales(problem)
        self.cap = [
            {r: sc.cap(r, n.capacity.get(r, 0.0)) for r in problem.resources} for n in problem.nodes
        ]
        self.dev_size, dev_exact = device_sizes(problem, sc)
        self.must = effectively_required(problem)
        self.exact = sc.feasibility_exact and dev_exact
        self._cand: dict[int, list[int]] = {}
        self._pair: dict[tuple[int, int], tuple[dict[str, int], dict[str, tuple[int, int]]] | None]
        self._pair = {}

    def cand(self, t: int) -> list[int]:
        """Allowed nodes where one replica of t fits when empty (capacity and devices)."""
        out = self._cand.get(t)
        if out is None:
            p = self.problem
            task = p.tasks[t]
            allowed = np.asarray(task.allowed, dtype=np.int64)
            if task.demand_on or not len(allowed):
                ok = np.ones(len(allowed), dtype=bool)
            else:  # a quick filter; pair() decides in scaled integers
                dem = p.demand[t]
                ok = (dem <= p.capacity[allowed] * (1 + 1e-9) + 1e-9).all(axis=1)
                ok &= devices_ok(dem, p.device_size[allowed], p.device_count[allowed]).all(axis=1)
            out = [int(n) for n in allowed[ok] if self.pair(t, int(n)) is not None]
            self._cand[t] = out
        return out

    def pair(self, t: int, n: int) -> tuple[dict[str, int], dict[str, tuple[int, int]]] | None:
        """(scaled demand, (devices m, take) per split resource) of one replica of t on n, or
        None when it cannot go there even alone."""
        key = (t, n)
        if key in self._pair:
            return self._pair[key]
        p, sc = self.problem, self.scales
        q = {r: sc.demand(r, x) for r, x in p.tasks[t].demand_at(n).items() if x > 0}
        out: tuple[dict[str, int], dict[str, tuple[int, int]]] | None = None
        if all(x <= self.cap[n].get(r, 0) for r, x in q.items()):
            shape = device_demand(p, sc, self.dev_size, t, n) if p.nodes[n].devices else {}
            if shape is not None:
                out = (q, shape)
        self._pair[key] = out
        return out

    def dem(self, t: int, n: int) -> dict[str, int]:
        pr = self.pair(t, n)
        return pr[0] if pr is not None else {}

    def dev(self, t: int, n: int) -> dict[str, tuple[int, int]]:
        pr = self.pair(t, n)
        return pr[1] if pr is not None else {}


@dataclass
class _Plan:
    """Replica nodes and devices per task, loads per node and per device (scaled)."""

    d: _Data
    nodes: list[list[int]]
    devices: dict[tuple[int, int], dict[str, tuple[int, ...]]]
    load: list[dict[str, int]] = field(default_factory=list)
    dload: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    on: list[set[int]] = field(default_factory=list)

    @classmethod
    def of(cls, d: _Data, assignments: Sequence[Assignment]) -> _Plan:
        p = d.problem
        nodes: list[list[int]] = [[] for _ in p.tasks]
        devices: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}
        for a in assignments:
            t, n = p.task_index[a.task], p.node_index[a.node]
            nodes[t].append(n)
            if a.devices:
                devices[t, n] = dict(a.devices)
        plan = cls(d, nodes, devices)
        plan.load = [defaultdict(int) for _ in p.nodes]
        plan.dload = {(n.index, r): [0] * k for n in p.nodes for r, k in n.devices.items()}
        plan.on = [set() for _ in p.nodes]
        for t, ns in enumerate(nodes):
            for n in ns:
                plan._add(t, n, 1)
        return plan

    def _add(self, t: int, n: int, sign: int) -> None:
        for r, q in self.d.dem(t, n).items():
            self.load[n][r] += sign * q
        for r, (_, take) in self.d.dev(t, n).items():
            row = self.dload[n, r]
            for j in self.devices.get((t, n), {}).get(r, ()):
                row[j] += sign * take
        if sign > 0:
            self.on[n].add(t)
        else:
            self.on[n].discard(t)

    def move(
        self, t: int, nodes: list[int], devices: dict[int, dict[str, tuple[int, ...]]]
    ) -> None:
        """Task t's replicas become ``nodes`` with ``devices`` per node."""
        for n in self.nodes[t]:
            self._add(t, n, -1)
            self.devices.pop((t, n), None)
        self.nodes[t] = list(nodes)
        for n in nodes:
            if devices.get(n):
                self.devices[t, n] = devices[n]
            self._add(t, n, 1)

    def assignments(self) -> list[Assignment]:
        p = self.d.problem
        out = []
        for t, ns in enumerate(self.nodes):
            for i, n in enumerate(sorted(ns)):
                out.append(
                    Assignment(p.tasks[t].id, i, p.nodes[n].id, devices=self.devices.get((t, n)))
                )
        return out

    def used(self, n: int) -> bool:
        return bool(self.on[n])


class _Objective:
    """Integer values of the terms and the comparison key of plans (scaled)."""

    def __init__(self, d: _Data) -> None:
        p, sc = d.problem, d.scales
        obj = p.objective
        self.order = [t for t in obj.terms if t in TERMS] if obj.kind == "lexicographic" else []
        self.unit = {"unplaced": sc.priority, "cost": sc.cost, "nodes": Fraction(1)}
        self.unit["moves"] = Fraction(1)
        self.coeffs: dict[str, int] | None = None
        if obj.kind != "lexicographic":
            weights = {t: w for t, w in obj.weights.items() if w > 0}
            self.coeffs, self.divisor, _ = weight_multipliers(weights, self.unit)
        self.d = d

    def terms(self, plan: _Plan) -> dict[str, int]:
        d, p, sc = self.d, self.d.problem, self.d.scales
        out = dict.fromkeys(TERMS, 0)
        out["violation"] = 0
        used = set()
        for t, ns in enumerate(plan.nodes):
            task = p.tasks[t]
            if not ns:
                out["unplaced"] += sc.priority_of(task.priority) * task.replicas
                if t in d.must:
                    out["violation"] += task.replicas
            for n in ns:
                used.add(n)
                out["cost"] += sc.cost_of(task.cost_at(n))
                if task.current is not None and n not in task.current:
                    out["moves"] += 1
        out["nodes"] = len(used)
        out["cost"] += sum(sc.cost_of(p.nodes[n].cost) for n in used)
        return out

    def key(self, terms: dict[str, int]) -> tuple[int, ...]:
        if self.coeffs is None:
            return (terms["violation"], *(terms[t] for t in self.order))
        return (terms["violation"], sum(c * terms[t] for t, c in self.coeffs.items()))


@dataclass
class _Sub:
    model: cp_model.CpModel
    y: dict[tuple[int, int], cp_model.IntVar]
    x: dict[tuple[int, int, str], list[cp_model.IntVar]]
    tasks: list[int]  # tasks with variables
    fixed_out: dict[int, list[int]]  # their replicas outside F
    value: int  # the current plan's value of the objective


def _build(d: _Data, plan: _Plan, F: list[int], S: list[int], obj: _Objective) -> _Sub | None:
    p, sc = d.problem, d.scales
    fset, sset = set(F), set(S)
    m = cp_model.CpModel()
    # placement freedom: gangs stay whole
    out_nodes = {t: [n for n in plan.nodes[t] if n not in fset] for t in S}
    free_p = {t: not out_nodes[t] and not (plan.nodes[t] and t in d.must) for t in S}
    for t in S:
        g = p.tasks[t].gang
        whole = g is None or all(o in sset and free_p.get(o, False) for o in p.gangs[g])
        if g is not None and free_p[t] and not whole:
            for o in p.gangs[g]:
                if o in free_p:
                    free_p[o] = False
    tasks = [t for t in S if plan.nodes[t] or free_p[t]]
    if not tasks:
        return None
    tset = set(tasks)
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    pv: dict[int, cp_model.IntVar] = {}
    hint: dict[Any, int] = {}
    per_node: dict[int, list[int]] = defaultdict(list)
    for t in tasks:
        task = p.tasks[t]
        banned = set(out_nodes[t])
        for o in task.separate:
            if o not in tset:
                banned.update(plan.nodes[o])
        ys = []
        for n in d.cand(t):
            if n in fset and n not in banned:
                v = m.new_bool_var("")
                y[t, n] = v
                hint[v] = int(n in plan.nodes[t])
                ys.append(v)
                per_node[n].append(t)
        need = task.replicas - len(out_nodes[t])
        if free_p[t]:
            pt = m.new_bool_var("")
            pv[t] = pt
            hint[pt] = int(bool(plan.nodes[t]))
            m.add(cp_model.LinearExpr.sum(ys) == need * pt)
        else:
            m.add(cp_model.LinearExpr.sum(ys) == need)
    for t in pv:  # gangs: all or none
        g = p.tasks[t].gang
        if g is not None:
            for o in p.gangs[g]:
                if o in pv and o > t:
                    m.add(pv[o] == pv[t])
    for t in tasks:  # separation among free tasks
        for o in p.tasks[t].separate:
            if o > t and o in tset:
                for n in F:
                    if (t, n) in y and (o, n) in y:
                        m.add_at_most_one(y[t, n], y[o, n])
    # capacity: what the fixed tasks leave
    for n in F:
        items = per_node.get(n, [])
        if not items:
            continue
        fixed = plan.on[n] - tset
        for r in p.resources:
            room = d.cap[n][r] - sum(d.dem(o, n).get(r, 0) for o in fixed)
            qs = [(y[t, n], d.dem(t, n).get(r, 0)) for t in items]
            qs = [(v, q) for v, q in qs if q > 0]
            if qs and sum(q for _, q in qs) > room:
                m.add(
                    cp_model.LinearExpr.weighted_sum([v for v, _ in qs], [q for _, q in qs]) <= room
                )
    # devices: fixed tasks' devices stay; the free tasks' are chosen again
    x: dict[tuple[int, int, str], list[cp_model.IntVar]] = {}
    for n in F:
        node = p.nodes[n]
        fixed = plan.on[n] - tset
        for r, k in node.devices.items():
            users = [t for t in per_node.get(n, []) if r in d.dev(t, n)]
            if not users:
                continue
            size = d.dev_size[n, r]
            taken = [0] * k
            for o in fixed:
                held = d.dev(o, n).get(r)
                if held:
                    for j in plan.devices.get((o, n), {}).get(r, ()):
                        taken[j] += held[1]
            rows: list[list[cp_model.IntVar]] = []
            takes: list[int] = []
            for t in users:
                need, take = d.dev(t, n)[r]
                xs = [m.new_bool_var("") for _ in range(k)]
                x[t, n, r] = xs
                now = plan.devices.get((t, n), {}).get(r, ()) if n in plan.nodes[t] else ()
                for j, v in enumerate(xs):
                    hint[v] = int(j in now)
                m.add(cp_model.LinearExpr.sum(xs) == need * y[t, n])
                rows.append(xs)
                takes.append(take)
            for j in range(k):
                if sum(takes) > size - taken[j]:
                    col = [row[j] for row in rows]
                    m.add(cp_model.LinearExpr.weighted_sum(col, takes) <= size - taken[j])
            # first-user order among the devices no fixed task uses (hint made to satisfy it)
            empty = [j for j in range(k) if taken[j] == 0]
            _order_empty(m, rows, empty, hint)
    # spread, counted over the whole plan
    for t in tasks:
        sp = p.tasks[t].spread
        if sp is None or not sp.values:
            continue
        base = [0] * len(sp.values)
        for n in out_nodes[t]:
            if n in sp.value_of:
                base[sp.value_of[n]] += 1
        per: list[list[cp_model.IntVar]] = [[] for _ in sp.values]
        for n in F:
            if (t, n) in y and n in sp.value_of:
                per[sp.value_of[n]].append(y[t, n])
        reps = p.tasks[t].replicas
        lo, hi = m.new_int_var(0, reps, ""), m.new_int_var(0, reps, "")
        for i, ys in enumerate(per):
            m.add(base[i] + cp_model.LinearExpr.sum(ys) >= lo)
            m.add(base[i] + cp_model.LinearExpr.sum(ys) <= hi)
        m.add(hi - lo <= sp.max_skew)
    # objective parts: (vars, coeffs, upper bound)
    parts: dict[str, tuple[list[Any], list[int], int]] = {}
    viol = [(pv[t], p.tasks[t].replicas) for t in pv if t in d.must]
    parts["violation"] = ([v for v, _ in viol], [-c for _, c in viol], 0)
    un = [(pv[t], sc.priority_of(p.tasks[t].priority) * p.tasks[t].replicas) for t in pv]
    parts["unplaced"] = ([v for v, _ in un], [-c for _, c in un], 0)
    cv, cc = [], []
    for (t, n), v in y.items():
        c = sc.cost_of(p.tasks[t].cost_at(n))
        if c:
            cv.append(v)
            cc.append(c)
    u_needed = "nodes" in obj.order or (obj.coeffs or {}).get("nodes")
    u_needed = u_needed or any(sc.cost_of(p.nodes[n].cost) for n in F)
    uvars: dict[int, cp_model.IntVar] = {}
    if u_needed:
        for n in F:
            if plan.on[n] - tset or not per_node.get(n):
                continue  # used by a fixed task anyway, or by nothing
            u = m.new_bool_var("")
            uvars[n] = u
            hint[u] = int(plan.used(n))
            ys = [y[t, n] for t in per_node[n]]
            for v in ys:
                m.add_implication(v, u)
            m.add_bool_or(ys).only_enforce_if(u)
            c = sc.cost_of(p.nodes[n].cost)
            if c:
                cv.append(u)
                cc.append(c)
    parts["cost"] = (cv, cc, 0)
    parts["nodes"] = (list(uvars.values()), [1] * len(uvars), 0)
    mv = [v for (t, n), v in y.items() if (cur := p.tasks[t].current) is not None and n not in cur]
    parts["moves"] = (mv, [1] * len(mv), 0)

    def span(vs: list[Any], cs: list[int]) -> int:
        return sum(abs(c) for c in cs)

    chain: list[tuple[list[Any], list[int]]] = [parts["violation"][:2]]
    if obj.coeffs is None:
        chain += [parts[t][:2] for t in obj.order]
    else:
        wv: list[Any] = []
        wc: list[int] = []
        for term, c in obj.coeffs.items():
            wv += parts[term][0]
            wc += [c * q for q in parts[term][1]]
        chain.append((wv, wc))
    weight, tail = 1, 0
    allv: list[Any] = []
    allc: list[int] = []
    for vs, cs in reversed(chain):
        ub = span(vs, cs)
        if ub == 0:
            continue
        weight = 1 + tail
        allv += vs
        allc += [weight * c for c in cs]
        tail += weight * ub
    if not allv:
        return None
    m.minimize(cp_model.LinearExpr.weighted_sum(allv, allc))
    value = sum(c * hint[v] for v, c in zip(allv, allc, strict=True))
    for v, h in hint.items():
        m.add_hint(v, h)
    return _Sub(m, y, x, tasks, out_nodes, value)


def _order_empty(
    m: cp_model.CpModel, rows: list[list[cp_model.IntVar]], empty: list[int], hint: dict[Any, int]
) -> None:
    """First-user order on the devices ``empty`` (no fixed load): a free task uses the next
    empty device only if it or an earlier free task uses the one before. The hint is
    relabelled among those devices to satisfy it."""
    if len(empty) < 2:
        return
    # relabel the hint: empty devices in the order of their first (hinted) user
    first = {j: next((i for i, row in enumerate(rows) if hint[row[j]]), len(rows)) for j in empty}
    order = sorted(empty, key=lambda j: (first[j], j))
    old = [[hint[row[j]] for j in order] for row in rows]
    for row, values in zip(rows, old, strict=True):
        for j, h in zip(empty, values, strict=True):
            hint[row[j]] = h
    for a, b in itertools.pairwise(empty):
        prev = None
        for i, row in enumerate(rows):
            if prev is None:
                c = row[a]
            else:
                c = m.new_bool_var("")
                m.add_implication(prev, c)
                m.add_implication(row[a], c)
                m.add_bool_or([prev, row[a]]).only_enforce_if(c)
                hint[c] = int(any(hint[r[a]] for r in rows[: i + 1]))
            m.add_implication(row[b], c)
            prev = c


class _Search:
    def __init__(
        self, d: _Data, plan: _Plan, clock: Clock, *, seed: int, workers: int, sub_seconds: float
    ) -> None:
        self.d, self.plan, self.clock = d, plan, clock
        self.obj = _Objective(d)
        self.terms = self.obj.terms(plan)
        self.rnd = random.Random(seed)
        self.seed, self.workers = seed, workers
        self.sub_seconds = sub_seconds
        self.size = START_NODES
        self.steps = self.improvements = 0
        self.stopped = self.timed_out = self.stalled = False
        #: a sub-model that was the whole problem was solved to optimality
        self.proven = False
        self.last_improvement = 0
        sc = d.scales
        self.can_prove = d.exact and sc.cost_exact and sc.priority_exact
        p = d.problem
        self.pool_of = {n: p.nodes[n].pool for n in range(len(p.nodes))}
        self.members: dict[str, list[int]] = defaultdict(list)
        for n in range(len(p.nodes)):
            self.members[self.pool_of[n]].append(n)

    def hood(self) -> tuple[list[int], list[int]]:
        p, plan, rnd = self.d.problem, self.plan, self.rnd
        unplaced = [t for t, ns in enumerate(plan.nodes) if not ns and self.d.cand(t)]
        if unplaced and rnd.random() < 0.5:
            t = rnd.choice(unplaced)
            seed = rnd.choice(self.d.cand(t))
        else:
            seed = rnd.randrange(len(p.nodes))
        nodes = {seed}
        same = self.members[self.pool_of[seed]]
        for n in rnd.sample(same, min(len(same), self.size // 2)):
            nodes.add(n)
        while len(nodes) < min(self.size, len(p.nodes)):
            nodes.add(rnd.randrange(len(p.nodes)))
        F = sorted(nodes)
        if len(F) == len(p.nodes):  # everything: a sub-model that is the whole problem
            return F, list(range(len(p.tasks)))
        S = set()
        for n in F:
            S.update(plan.on[n])
        fits = [t for t in unplaced if any(n in nodes for n in self.d.cand(t))]
        S.update(rnd.sample(fits, min(len(fits), MAX_UNPLACED)))
        for t in list(S):  # a gang's members come along (they stay whole in any case)
            g = p.tasks[t].gang
            if g is not None:
                S.update(p.gangs[g])
        return F, sorted(S)

    def step(self) -> None:
        F, S = self.hood()
        sub = _build(self.d, self.plan, F, S, self.obj)
        self.steps += 1
        whole = len(F) == len(self.d.problem.nodes) and len(S) == len(self.d.problem.tasks)
        if sub is None:  # nothing the part can change or improve
            self.proven = whole and self.can_prove
            return
        solver = cp_solver()
        prm = solver.parameters
        prm.num_workers = self.workers
        prm.random_seed = self.seed + self.steps
        prm.catch_sigint_signal = False
        left = self.clock.remaining()
        budget = self.sub_seconds if left is None else max(0.01, min(self.sub_seconds, left))
        if self.clock.deterministic:
            prm.max_deterministic_time = budget
        else:
            prm.max_time_in_seconds = budget
        done = threading.Event()
        watcher = None
        if self.clock.stop is not None:  # Ctrl-C ends the sub-solve at once (as in .exact)
            watcher = threading.Thread(
                target=_watch, args=(self.clock.stop, solver, done), daemon=True
            )
            watcher.start()
        try:
            status = solver.solve(sub.model)
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
        self.clock.charge(float(solver.deterministic_time))
        if status == cp_model.OPTIMAL and whole and self.can_prove:
            self.proven = True
        if status == cp_model.OPTIMAL:
            self.size = min(MAX_NODES, self.size + 1)
        elif status != cp_model.FEASIBLE:
            self.size = max(MIN_NODES, self.size - 2)
            return
        else:
            self.size = max(MIN_NODES, self.size - 1)
        if round(solver.objective_value) >= sub.value:
            return
        for t in sub.tasks:
            chosen = [n for n in self.d.cand(t) if (t, n) in sub.y and solver.value(sub.y[t, n])]
            nodes = sorted(sub.fixed_out[t] + chosen)
            devices = {n: self.plan.devices.get((t, n), {}) for n in sub.fixed_out[t]}
            for n in chosen:
                devices[n] = {
                    r: tuple(j for j, v in enumerate(xs) if solver.value(v))
                    for (tt, nn, r), xs in sub.x.items()
                    if tt == t and nn == n
                }
            self.plan.move(
                t, nodes if len(nodes) == self.d.problem.tasks[t].replicas else [], devices
            )
        terms = self.obj.terms(self.plan)
        if self.obj.key(terms) < self.obj.key(self.terms):
            self.improvements += 1
            self.last_improvement = self.steps
            self.terms = terms
            self.record()

    def record(self) -> None:
        """A trajectory point: lexicographic, the first term above 0 (or the last term);
        weights, the weighted sum (real units)."""
        obj = self.obj
        if obj.coeffs is not None:
            value = sum(c * self.terms[t] for t, c in obj.coeffs.items()) / obj.divisor
            self.clock.improve(float(value), None, "weighted")
            return
        if not obj.order:
            return
        term = next((t for t in obj.order if self.terms[t] > 0), obj.order[-1])
        self.clock.improve(float(self.terms[term] / obj.unit[term]), None, term)

    def run(self) -> None:
        while True:
            if self.clock.stop_requested():
                self.stopped = True
                return
            if self.clock.out():
                self.timed_out = True
                return
            self.step()
            if self.proven:
                return
            if self.steps - self.last_improvement >= STALL_STEPS:
                self.stalled = True
                return


def solve(
    problem: Problem,
    *,
    time_limit: float | None = None,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
    hint: list[Assignment] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    sub_seconds: float | None = None,
) -> Result:
    """Improve the greedy's plan (or ``hint``) by neighbourhoods; see the module docstring."""
    result = Results.start(
        NAME,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        search="lns (devices, spread)",
    )
    clock = Clock(
        time_limit, stop=stop, progress=progress, deterministic=deterministic, t0=result.t0
    )
    floor_limit = None if deterministic or time_limit is None else max(0.05, time_limit)
    start, source = floor_start(problem, hint, time_limit=floor_limit)
    d = _Data(problem)
    result.options["scales"] = d.scales.describe()
    plan = _Plan.of(d, start)
    if hint is not None and not evaluate(problem, plan.assignments(), reasons=False).feasible:
        # e.g. a plan of the problem before devices were named: the greedy's instead
        start, source = floor_start(problem, None, time_limit=floor_limit)
        source += " (the hint breaks a constraint)"
        plan = _Plan.of(d, start)
    result.options["warm_start"] = source
    if not evaluate(problem, plan.assignments(), reasons=False).feasible:
        return result(Status.UNKNOWN, list(start), f"no plan to start from ({source})")
    search = _Search(
        d,
        plan,
        clock,
        seed=seed,
        workers=1 if deterministic else workers,
        sub_seconds=sub_seconds or SUB_SECONDS,
    )
    # the LP bound of the flat LNS (:mod:`.bounds`): it relaxes devices and spread (pairs whose
    # devices cannot serve a replica stay candidates there), so it is a lower bound here too
    bounds = Bounds(Flat(problem, d.scales), problem.objective.active(), problem.objective)
    bound_task = BoundTask(bounds, deterministic=deterministic, time_limit=time_limit, t0=result.t0)
    bound_task.start()
    began = time.perf_counter()
    search.record()
    try:
        if time_limit is not None and time_limit > 0:
            search.run()
    finally:
        bound_task.finish(stop)
    assignments = plan.assignments()
    ev = evaluate(problem, assignments, reasons=False)
    if not ev.feasible:  # a modelling error: never hand out such a plan
        why = "; ".join(v.message for v in ev.violations[:3])
        raise RuntimeError(f"LNS plan rejected by the evaluator: {why}")
    notes = [
        f"LNS (devices, spread): {search.steps} sub-solves, {search.improvements} improvements "
        f"from {source} in {time.perf_counter() - began:.1f} s"
    ]
    if search.proven:
        notes.append("optimal: the last sub-model was the whole problem")
    elif search.stopped:
        notes.append("stopped on request")
    elif search.timed_out:
        notes.append("time limit reached")
    elif search.stalled:
        notes.append(f"no improvement in {STALL_STEPS} sub-solves")
    floor = baseline.known(problem, baseline.DEFAULT_POLICY)  # run by floor_start: cached
    if floor is not None and floor.usable and baseline.compare(problem, ev, floor.evaluation) <= 0:
        result.options["baseline"] = floor.policy  # compared here: the seam need not again
    status = Status.FEASIBLE if search.terms["violation"] == 0 else Status.UNKNOWN
    exact = search.can_prove
    bound = bounds.report(search.terms) if exact else {}
    done = search.proven or bounds.proves(search.terms)
    if exact and status == Status.FEASIBLE and not search.stopped and done:
        status = Status.OPTIMAL
        bound = {t: ev.terms[t] for t in problem.objective.active()}
        if problem.objective.kind != "lexicographic":
            weights = problem.objective.weights
            bound = {"weighted": sum(w * ev.terms[t] for t, w in weights.items() if w > 0)}
    if status != Status.OPTIMAL:
        real = {t: ev.terms[t] for t in search.obj.order or TERMS}
        notes.insert(0, bounds.summary(search.terms, real))
    notes.extend(bounds.notes)
    return result(
        status, assignments, "; ".join(notes), bound=bound or None, trajectory=clock.trajectory
    )


def hybrid(
    problem: Problem,
    *,
    time_limit: float | None = None,
    hint: list[Assignment] | None = None,
    stop: threading.Event | None = None,
    **common: Any,
) -> Result:
    """The exact path with :data:`.lns.settings.EXACT_SHARE` of the time; its result when it
    proves optimality or infeasibility (or was stopped), else the LNS from its plan with the
    time left (medium problems, :func:`.lns.route`)."""
    from .exact import solve as exact
    from .lns.settings import EXACT_SHARE

    t0 = time.perf_counter()
    sub = common.pop("sub_seconds", None)
    share = None if time_limit is None else EXACT_SHARE * time_limit
    first = exact(problem, time_limit=share, hint=hint, stop=stop, **common)
    if first.status in (Status.OPTIMAL, Status.INFEASIBLE) or (stop is not None and stop.is_set()):
        first.options["search"] = "exact (hybrid)"
        return first
    left = None
    if time_limit is not None:
        spent = time.perf_counter() - t0
        left = (
            max(0.0, time_limit - (share or 0.0))
            if common.get("deterministic")
            else max(0.0, time_limit - spent)
        )
    start = first.assignments if first.has_plan else hint
    began = time.perf_counter() - t0
    out = solve(problem, time_limit=left, hint=start, stop=stop, sub_seconds=sub, **common)
    out.options["search"] = "exact, then lns (devices, spread)"
    later = [(s + began, v, b) for s, v, b in out.trajectory]
    out.trajectory[:] = list(first.trajectory) + later
    return dataclasses.replace(out, seconds=time.perf_counter() - t0)
