"""The MILP of one problem, written once in Pyomo: index sets, variables, constraint families and
objective terms, plus the conversions between plans and variable values.

:class:`MipModel` builds a :class:`pyomo.environ.ConcreteModel` in its constructor, one private
method per constraint family (the formulation is in the package docstring). Every index set is
sparse: the model holds one ``x`` per (replica, candidate node) and, when scheduling, one ``s`` per
(replica, candidate node, start time), never the full products. Names are readable on purpose
(``x[train-llm#0,a100-1]``, ``capacity[a100-1,gpu]``): they are what ``taskalloc export``
writes. Solving is :mod:`.solver`'s business, the hand-off to a solver :mod:`.backends`'.

Construction cost is dominated by Pyomo's expression objects (one per non-zero); the model is
built with Python's cyclic garbage collector paused (:func:`gc_paused`), which alone makes it
about three times faster on 400,000 variables, and the sums are built directly as
``LinearExpression`` objects from precomputed lists (the documented fast path).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import gc
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from taskalloc.problems.entities import DEVICE_RTOL, Spread
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem, effectively_required, fitting_nodes
from taskalloc.problems.wording import num as _num

from ..clock import collector_held
from ..placement import Placement, assignments_of, placement_of
from .patterns import Pattern, extend, maximal_patterns, pack

CAP_TOL = 1e-9  # the evaluator's absolute tolerance on capacities
#: task -> [(node, start or None)], one entry per replica
Key = tuple[int, int, int]  # (task, replica, node) of an x variable
VarValue = Callable[[Any], float]  # Pyomo variable -> its value in a solution
#: (task, node) -> split resource -> the devices its replica there uses
Devices = dict[tuple[int, int], dict[str, tuple[int, ...]]]
#: how the symmetry of identical devices is broken (benchmarks/bench_mip_devices.py measures
#: each): ``order``: devices ordered by the lowest index of their users (the pruning of device
#: variables and the ``dev_order`` rows); ``prune``: the pruning alone; ``none``: neither
DEVICE_SYMMETRY = "prune"
#: placement problems: replicas that take whole devices are counted per node and resource
#: (``dev_count``), without device variables (their devices are the ones no share uses); off
#: only to measure what it buys
AGGREGATE_WHOLE = True
#: placement problems: the shares on a node's devices as counts of maximal patterns
#: (:mod:`.patterns`) where there are at most this many (``0``: never)
MAX_PATTERNS = 60


@dataclasses.dataclass
class _Patterns:
    """The configuration form of one node's devices of one resource (:meth:`MipModel._patterns`)."""

    sizes: list[float]  # distinct share sizes, ascending
    caps: list[int]  # at most this many shares of each size on one device (distinct tasks)
    items: list[tuple[int, int]]  # (x position, size index)
    patterns: list[Pattern]
    z: list[Any]  # devices holding each pattern (integer variables)


class DevicePlacement(dict[int, list[tuple[int, int | None]]]):
    """A :data:`Placement` with the devices of its replicas (``devices``, by task and node:
    the replicas of a task sit on distinct nodes)."""

    def __init__(self, items: Any = (), devices: Devices | None = None) -> None:
        super().__init__(items)
        self.devices: Devices = {} if devices is None else devices


def devices_of(plan: Placement) -> Devices:
    """The devices a plan names ({} for a plain :data:`Placement`)."""
    return plan.devices if isinstance(plan, DevicePlacement) else {}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (building millions of expression objects otherwise
    triggers full collections over the growing model again and again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and not collector_held():  # held off after a signal: see clock
            gc.enable()


def linear(
    variables: Sequence[Any], coefs: Sequence[float] | None = None, constant: float = 0.0
) -> LinearExpression:
    """``constant + sum(coefs[i] * variables[i])`` as one Pyomo LinearExpression (unit
    coefficients when ``coefs`` is None)."""
    if coefs is None:
        args: list[Any] = list(variables)
    else:
        args = list(map(MonomialTermExpression, zip(coefs, variables, strict=True)))
    if constant:
        args.append(float(constant))
    return LinearExpression(args)


def _row(row: tuple[Sequence[Any], Sequence[float], float], sense: str) -> Any:
    """A constraint expression ``sum cs * vs (sense) rhs`` from a (vs, cs, rhs) triple."""
    vs, cs, rhs = row
    expr = linear(vs, cs)
    if sense == "<=":
        return expr <= rhs
    if sense == ">=":
        return expr >= rhs
    return expr == rhs


class TooLarge(Exception):
    """The time-indexed formulation would exceed the size limits."""


class MipModel:
    """Variables, constraints and objective terms of ``problem`` for the terms in ``terms``.

    ``horizon`` is the latest end of any replica (scheduling problems only; the caller picks a
    safe one when the problem has none). ``max_start_vars`` bounds the time-indexed formulation
    (:class:`TooLarge` above it).
    """

    def __init__(
        self,
        problem: Problem,
        terms: Collection[str],
        horizon: int = 0,
        *,
        max_start_vars: int | None = None,
    ) -> None:
        self.problem = problem
        self.needed = set(terms)
        self.scheduling = problem.scheduling
        self.horizon = horizon
        self.must = effectively_required(problem)
        self.cand: list[list[int]] = []  # candidate nodes per task, ascending
        self.window: dict[tuple[int, int], tuple[int, int]] = {}  # start in [lo, hi]
        self.dur: dict[tuple[int, int], int] = {}
        self.classes: list[list[int]] = []  # interchangeable nodes, ascending
        self.class_of: dict[int, tuple[int, int]] = {}  # node -> (class, position)
        self.cliques: list[list[int]] = []  # separation clique cover
        # Python-side views of the Pyomo variables (same order as the index sets)
        self.xkey: list[Key] = []
        self.x: list[Any] = []
        self.xpos: dict[Key, int] = {}
        self.p: list[Any] = []
        self.u: dict[int, Any] = {}
        self.balance: Any = None
        self.skey: list[tuple[int, int, int, int]] = []  # (task, replica, node, start)
        self.s: list[Any] = []
        self.spos: dict[Key, list[int]] = {}  # x key -> positions of its s variables
        self.end: dict[int, Any] = {}
        self.makespan: Any = None
        self.terms: dict[str, LinearExpression] = {}
        #: terms whose value is an integer on every plan (objective steps of at least 1)
        self.integral: dict[str, bool] = {}
        # devices (revision 2): per (node, split resource), the x positions of the replicas
        # using its devices there, in x order, with (devices m, take on each)
        self.dev_items: dict[tuple[int, str], list[tuple[int, int, float]]] = {}
        #: placement: per (node, split resource), the x positions of replicas that take whole
        #: devices there, and how many (counted, no y: :data:`AGGREGATE_WHOLE`)
        self.dev_whole: dict[tuple[int, str], list[tuple[int, int]]] = {}
        self.f: dict[tuple[int, str], dict[int, Any]] = {}  # device holds shares (placement)
        #: placement, configuration form (:mod:`.patterns`): per (node, resource), the share
        #: sizes, the items (x position, size index) and the maximal patterns with their z
        self.pat: dict[tuple[int, str], _Patterns] = {}
        #: (x position, resource) -> device index -> y variable (replica uses that device)
        self.y: dict[tuple[int, str], dict[int, Any]] = {}
        #: scheduling: (x position, resource) -> device index -> [(s position, variable)]
        self.sd: dict[tuple[int, str], dict[int, list[tuple[int, Any]]]] = {}
        self.devc: dict[tuple[int, str, int, int], Any] = {}  # (n, r, j, item) -> prefix count
        self.gstart: dict[str, dict[int, Any]] = {}  # same-start gang -> start -> binary
        self.spread_vars: dict[int, tuple[Any, Any]] = {}  # task -> (most, fewest) per value

        self._candidates()
        self._interchangeable()
        if self.scheduling and max_start_vars is not None:
            n, nnz = self.start_variables()
            if n > max_start_vars:
                raise TooLarge(
                    f"the time-indexed MILP needs one binary per replica, candidate node and "
                    f"start time: {n:,} here (horizon {horizon}), above the limit of "
                    f"{max_start_vars:,}"
                )
            if nnz > 30 * max_start_vars:
                raise TooLarge(
                    f"the time-indexed MILP's capacity rows would hold {nnz:,} non-zeros (start "
                    f"binaries x duration x resources; horizon {horizon}), above the limit of "
                    f"{30 * max_start_vars:,}"
                )
        name = problem.name or "taskalloc"
        self.m = pyo.ConcreteModel(name=name)
        with gc_paused():
            self._variables()
            self._device_variables()
            self._placement()
            self._gangs()
            self._separation()
            self._spread()
            self._max_moves()
            if self.scheduling:
                self._starts()
                self._same_start()
                self._precedence()
                self._usage()
                self._device_usage()
            else:
                self._capacity()
                self._device_capacity()
            self._node_use()
            self._symmetry()
            self._device_symmetry()
            self._terms()

    # -- data ------------------------------------------------------------------------------

    def _candidates(self) -> None:
        """A (task, node) pair is a candidate when the node is allowed and one replica fits
        there when it is empty (scheduling: or runs 0 time there), and (scheduling) it can end
        by its deadline and the horizon after its release. Interchangeable nodes are pruned
        later (:meth:`_interchangeable`)."""
        p = self.problem
        for t in p.tasks:
            nodes = [int(n) for n in fitting_nodes(p, t.index)]
            if self.scheduling:
                kept = []
                for n in nodes:
                    d = t.duration_at(p.nodes[n])
                    lo = t.release or 0
                    hi = self.horizon if t.deadline is None else min(t.deadline, self.horizon)
                    hi -= d
                    if hi < lo:
                        continue
                    self.window[t.index, n] = (lo, hi)
                    self.dur[t.index, n] = d
                    kept.append(n)
                nodes = kept
            self.cand.append(nodes)

    def start_variables(self) -> tuple[int, int]:
        """Start binaries of the time-indexed formulation (with one per device for the
        replicas that use devices), and (at most) the non-zeros of its capacity rows (each
        binary counts in ``duration`` rows per resource it uses)."""
        total = nnz = 0
        p = self.problem
        for t in p.tasks:
            for n in self.cand[t.index]:
                lo, hi = self.window[t.index, n]
                count = t.replicas * (hi - lo + 1)
                use = p.device_use(t.index, n) or {}
                devices = sum(p.nodes[n].devices[r] for r in use)
                total += count * (1 + devices)
                used = sum(1 for q in t.demand_at(n).values() if q > 0)
                nnz += count * self.dur[t.index, n] * (used + devices)
        return total, nnz

    def _interchangeable(self) -> None:
        """Classes of pool members no task tells apart (same allowed and candidate status,
        assign_cost, demand, duration and `current` membership for every task; node attributes
        are the pool's), and the pruning they allow: in a class ``C`` (members in ascending
        order) and the tasks ``T_C`` having its members as candidates (in task order, ``S_j``
        the replicas of the first ``j`` of them), the ``j``-th task uses only the first ``S_j``
        members. Any plan satisfies this once the members are relabelled in the order of the
        first task each one runs (:meth:`canonical`)."""
        p = self.problem
        cand_sets = [set(c) for c in self.cand]
        for members in p.pools.values():
            if len(members) < 2:
                continue
            parts = [sorted(members)]
            for t in p.tasks:
                special = bool(
                    t.assign_cost or t.demand_on or t.duration_on or t.current is not None
                )
                if not special and len(t.allowed) == len(p.nodes):
                    continue  # every member looks the same to this task
                refined: list[list[int]] = []
                for part in parts:
                    if len(part) < 2:
                        continue
                    keyed: dict[tuple[object, ...], list[int]] = defaultdict(list)
                    for n in part:
                        key = (
                            n in cand_sets[t.index],
                            t.cost_at(n),
                            tuple(sorted(t.demand_at(n).items())),
                            t.duration_at(p.nodes[n]) if self.scheduling else 0,
                            t.current is not None and n in t.current,
                        )
                        keyed[key].append(n)
                    refined.extend(keyed.values())
                parts = refined
            self.classes.extend(part for part in parts if len(part) >= 2)
        for ci, cls in enumerate(self.classes):
            for pos, n in enumerate(cls):
                self.class_of[n] = (ci, pos)
        if not self.classes:
            return
        seen = [0] * len(self.classes)  # replicas of the tasks so far that use each class
        pruned: list[list[int]] = []
        for t in p.tasks:
            nodes = self.cand[t.index]
            hit = {self.class_of[n][0] for n in nodes if n in self.class_of}
            for ci in hit:
                seen[ci] += t.replicas
            pruned.append(
                [
                    n
                    for n in nodes
                    if n not in self.class_of or self.class_of[n][1] < seen[self.class_of[n][0]]
                ]
            )
        self.cand = pruned

    # -- variables -------------------------------------------------------------------------

    def _variables(self) -> None:
        """x[replica, node] binary; p[task] binary (1 for must-place tasks); u[node] binary when
        a term needs node use; balance in [0, 1]; scheduling: s[replica, node, start] binary,
        end[task] and makespan integers in [0, horizon]."""
        p, m = self.problem, self.m
        labels: list[tuple[str, str]] = []
        node_ids = [n.id for n in p.nodes]
        for t in p.tasks:
            nodes = self.cand[t.index]
            r = t.replicas
            for k in range(r):
                rl = f"{t.id}#{k}"
                # replicas are ordered by node: replica k has k candidates before it and
                # r - 1 - k after it
                for n in nodes[k : len(nodes) - (r - 1 - k)]:
                    self.xpos[t.index, k, n] = len(self.xkey)
                    self.xkey.append((t.index, k, n))
                    labels.append((rl, node_ids[n]))
        m.X = pyo.Set(initialize=labels, dimen=2, ordered=True)
        m.x = pyo.Var(m.X, domain=pyo.Binary)
        self.x = list(m.x.values())
        m.T = pyo.Set(initialize=[t.id for t in p.tasks], ordered=True)
        m.p = pyo.Var(m.T, domain=pyo.Binary)
        self.p = list(m.p.values())
        for t in p.tasks:
            if t.index in self.must:
                self.p[t.index].setlb(1)  # with too few candidates: assign[] is infeasible
            elif len(self.cand[t.index]) < t.replicas:
                self.p[t.index].setub(0)
        nodes_needed = "nodes" in self.needed
        cost_needed = "cost" in self.needed and any(n.cost > 0 for n in p.nodes)
        if nodes_needed or cost_needed:
            used = sorted({n for _, _, n in self.xkey})
            m.N = pyo.Set(initialize=[node_ids[n] for n in used], ordered=True)
            m.u = pyo.Var(m.N, domain=pyo.Binary)
            self.u = dict(zip(used, m.u.values(), strict=True))
        if "balance" in self.needed:
            m.balance = pyo.Var(bounds=(0.0, 1.0))
            self.balance = m.balance
        if not self.scheduling:
            return
        slabels: list[tuple[str, str, int]] = []
        for i, (ti, k, n) in enumerate(self.xkey):
            lo, hi = self.window[ti, n]
            first = len(self.skey)
            rl = labels[i][0]
            for tau in range(lo, hi + 1):
                self.skey.append((ti, k, n, tau))
                slabels.append((rl, node_ids[n], tau))
            self.spos[ti, k, n] = list(range(first, len(self.skey)))
        m.S = pyo.Set(initialize=slabels, dimen=3, ordered=True)
        m.s = pyo.Var(m.S, domain=pyo.Binary)
        self.s = list(m.s.values())
        preds = sorted({q for t in p.tasks for q in t.after})
        if preds:
            m.E = pyo.Set(initialize=[p.tasks[q].id for q in preds], ordered=True)
            m.end = pyo.Var(m.E, domain=pyo.NonNegativeIntegers, bounds=(0, self.horizon))
            self.end = dict(zip(preds, m.end.values(), strict=True))
        if "makespan" in self.needed:
            m.makespan = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, self.horizon))
            self.makespan = m.makespan

    def _by_replica(self) -> dict[tuple[int, int], list[int]]:
        out: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (t, k, _) in enumerate(self.xkey):
            out[t, k].append(i)
        return out

    # -- constraint families ---------------------------------------------------------------

    def _placement(self) -> None:
        """assign[replica]: sum_n x[replica, n] = p[task] (all replicas or none). order[replica
        k > 0]: position(k) >= position(k - 1) + p[task], position = sum of (1-based candidate
        position) x: replicas sit on distinct nodes, in node order (no symmetric copies)."""
        p, m = self.problem, self.m
        by_rep = self._by_replica()
        self._reps = by_rep
        keys = [(t, k) for (t, k) in by_rep]
        labels = {(p.tasks[t].id + f"#{k}"): (t, k) for t, k in keys}
        x, pv = self.x, self.p

        def assign(_: Any, rl: str) -> Any:
            t, k = labels[rl]
            return (
                linear([*(x[i] for i in by_rep[t, k]), pv[t]], [*([1.0] * len(by_rep[t, k])), -1.0])
                == 0
            )

        m.R = pyo.Set(initialize=list(labels), ordered=True)
        m.assign = pyo.Constraint(m.R, rule=assign)
        position = {}
        for t in p.tasks:
            for j, n in enumerate(self.cand[t.index]):
                position[t.index, n] = float(j + 1)
        ordered = [rl for rl, (t, k) in labels.items() if k > 0]
        if not ordered:
            return

        def order(_: Any, rl: str) -> Any:
            t, k = labels[rl]
            cur, prev = by_rep[t, k], by_rep[t, k - 1]
            vs = [*(x[i] for i in cur), *(x[i] for i in prev), pv[t]]
            cs = [
                *(position[t, self.xkey[i][2]] for i in cur),
                *(-position[t, self.xkey[i][2]] for i in prev),
                -1.0,
            ]
            return linear(vs, cs) >= 0

        m.RO = pyo.Set(initialize=ordered, ordered=True)
        m.order = pyo.Constraint(m.RO, rule=order)

    def _gangs(self) -> None:
        """gang[name, i]: members of a gang are placed all together or not at all."""
        p, m = self.problem, self.m
        pairs = {}
        for gang, members in p.gangs.items():
            for i, (a, b) in enumerate(itertools.pairwise(members)):
                pairs[gang, i + 1] = (a, b)
        if not pairs:
            return
        m.G = pyo.Set(initialize=list(pairs), dimen=2, ordered=True)
        m.gang = pyo.Constraint(
            m.G,
            rule=lambda _, g, i: (
                linear([self.p[pairs[g, i][0]], self.p[pairs[g, i][1]]], [1.0, -1.0]) == 0
            ),
        )

    def _separation(self) -> None:
        """apart[c, n]: the separation graph (separate_from, both directions) is covered by
        cliques; per clique and node at most one replica of one member runs there. One row per
        clique instead of one per pair: fewer and tighter."""
        p, m = self.problem, self.m
        adj = {t.index: set(t.separate) for t in p.tasks if t.separate}
        if not adj:
            return
        covered: set[tuple[int, int]] = set()
        for a in sorted(adj):
            for b in sorted(adj[a]):
                if b <= a or (a, b) in covered:
                    continue
                clique = [a, b]
                for c in sorted(adj[a] & adj[b]):
                    if c > b and all(c in adj[q] for q in clique):
                        clique.append(c)
                for u, v in itertools.combinations(sorted(clique), 2):
                    covered.add((u, v))
                self.cliques.append(sorted(clique))
        on: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (t, _, n) in enumerate(self.xkey):
            if t in adj:
                on[t, n].append(i)
        rows: dict[tuple[int, str], list[int]] = {}
        for ci, clique in enumerate(self.cliques):
            nodes = sorted({n for t in clique for n in self.cand[t]})
            for n in nodes:
                members = [t for t in clique if on.get((t, n))]
                if len(members) >= 2:
                    rows[ci + 1, p.nodes[n].id] = [i for t in members for i in on[t, n]]
        if not rows:
            return
        m.C = pyo.Set(initialize=list(rows), dimen=2, ordered=True)
        m.apart = pyo.Constraint(
            m.C, rule=lambda _, c, n: linear([self.x[i] for i in rows[c, n]]) <= 1
        )

    def _loads(self) -> dict[tuple[int, str], tuple[list[int], list[float]]]:
        """Per node and resource: the x positions with a positive demand there, and the
        demands (numpy over the default demands, dictionaries for demand_on)."""
        p = self.problem
        out: dict[tuple[int, str], tuple[list[int], list[float]]] = {}
        if not self.xkey:
            return out
        keys = np.asarray(self.xkey, dtype=np.int64)
        tasks, nodes = keys[:, 0], keys[:, 2]
        special = np.zeros(len(keys), dtype=bool)
        for t in p.tasks:
            if t.demand_on:
                special |= (tasks == t.index) & np.isin(nodes, list(t.demand_on))
        base = np.flatnonzero(~special)
        order = base[np.argsort(nodes[base], kind="stable")]
        for ri, r in enumerate(p.resources):
            q = p.demand[tasks[order], ri]
            sel = order[q > 0]
            qs = q[q > 0]
            if not len(sel):
                continue
            ns = nodes[sel]
            cuts = np.flatnonzero(np.diff(ns)) + 1
            for part, qpart in zip(np.split(sel, cuts), np.split(qs, cuts), strict=True):
                out[int(nodes[part[0]]), r] = (part.tolist(), qpart.tolist())
        for i in np.flatnonzero(special).tolist():
            ti, _, n = self.xkey[i]
            for r, q in p.tasks[ti].demand_on[n].items():
                if q > 0:
                    pos, qs_ = out.setdefault((n, r), ([], []))
                    pos.append(i)
                    qs_.append(float(q))
        return out

    def _capacity(self) -> None:
        """Placement: capacity[n, r]: sum demand x <= cap, or ``<= cap * u[n]`` with node use
        (which also ties u to x); left out when nothing needs it and every candidate together
        fits. peak[n, r]: ``sum demand x <= cap * balance`` with the balance term (balance <= 1,
        so it implies the capacity)."""
        p, m = self.problem, self.m
        cap_rows: dict[tuple[str, str], tuple[list[Any], list[float], float]] = {}
        bal_rows: dict[tuple[str, str], tuple[list[Any], list[float], float]] = {}
        for (n, r), (pos, qs) in sorted(self._loads().items()):
            node = p.nodes[n]
            cap = node.capacity.get(r, 0.0)
            vs = [self.x[i] for i in pos]
            if self.balance is not None and cap > 0:
                bal_rows[node.id, r] = ([*vs, self.balance], [*qs, -cap], 0.0)
            if n in self.u:
                cap_rows[node.id, r] = ([*vs, self.u[n]], [*qs, -cap], 0.0)
            elif self.balance is None and sum(qs) > cap + CAP_TOL:
                cap_rows[node.id, r] = (vs, qs, cap)
        if cap_rows:
            m.K = pyo.Set(initialize=list(cap_rows), dimen=2, ordered=True)
            m.capacity = pyo.Constraint(m.K, rule=lambda _, n, r: _row(cap_rows[n, r], "<="))
        if bal_rows:
            m.L = pyo.Set(initialize=list(bal_rows), dimen=2, ordered=True)
            m.peak = pyo.Constraint(m.L, rule=lambda _, n, r: _row(bal_rows[n, r], "<="))

    def _starts(self) -> None:
        """Scheduling: start[replica, n]: sum over start times of s = x (a placed replica
        starts exactly once, inside its window [release, min(deadline, horizon) - d])."""
        m, node_ids = self.m, [n.id for n in self.problem.nodes]
        x, s = self.x, self.s
        keys = {}
        for i, (t, k, n) in enumerate(self.xkey):
            keys[f"{self.problem.tasks[t].id}#{k}", node_ids[n]] = i

        def start(_: Any, rl: str, nid: str) -> Any:
            i = keys[rl, nid]
            pos = self.spos[self.xkey[i]]
            return linear([*(s[j] for j in pos), x[i]], [*([1.0] * len(pos)), -1.0]) == 0

        m.start = pyo.Constraint(m.X, rule=start)

    def _replica_end(self, t: int, k: int) -> tuple[list[Any], list[float]]:
        """The end of replica (t, k) as sum (start + d) s (0 when it is not placed)."""
        vs: list[Any] = []
        cs: list[float] = []
        for i in self._reps.get((t, k), []):
            n = self.xkey[i][2]
            d = self.dur[t, n]
            for j in self.spos[self.xkey[i]]:
                vs.append(self.s[j])
                cs.append(float(self.skey[j][3] + d))
        return vs, cs

    def _replica_start(self, t: int, k: int) -> tuple[list[Any], list[float]]:
        vs: list[Any] = []
        cs: list[float] = []
        for i in self._reps.get((t, k), []):
            for j in self.spos[self.xkey[i]]:
                vs.append(self.s[j])
                cs.append(float(self.skey[j][3]))
        return vs, cs

    def _precedence(self) -> None:
        """ends[q#j]: end[q] >= end of every replica of q. after[t#k, q]: start of t#k >=
        end[q] when t is placed (start + H (1 - p[t]) >= end[q]). pred[t, q]: p[t] <= p[q]
        (a task is placed only with its predecessors)."""
        p, m, h = self.problem, self.m, float(self.horizon)
        if not self.end:
            return
        ends = {}
        for q, e in self.end.items():
            task = p.tasks[q]
            for j in range(task.replicas):
                vs, cs = self._replica_end(q, j)
                ends[f"{task.id}#{j}"] = ([e, *vs], [1.0, *(-c for c in cs)])
        m.EJ = pyo.Set(initialize=list(ends), ordered=True)
        m.ends = pyo.Constraint(m.EJ, rule=lambda _, rl: linear(*ends[rl]) >= 0)
        after = {}
        pred = {}
        for t in p.tasks:
            for q in t.after:
                qid = p.tasks[q].id
                pred[t.id, qid] = ([self.p[t.index], self.p[q]], [1.0, -1.0])
                for k in range(t.replicas):
                    vs, cs = self._replica_start(t.index, k)
                    after[f"{t.id}#{k}", qid] = (
                        [*vs, self.end[q], self.p[t.index]],
                        [*cs, -1.0, -h],
                    )
        m.A = pyo.Set(initialize=list(after), dimen=2, ordered=True)
        m.after = pyo.Constraint(m.A, rule=lambda _, rl, q: linear(*after[rl, q]) >= -h)
        m.P = pyo.Set(initialize=list(pred), dimen=2, ordered=True)
        m.pred = pyo.Constraint(m.P, rule=lambda _, t, q: linear(*pred[t, q]) <= 0)

    def _usage(self) -> None:
        """Scheduling: usage[n, r, tau]: the demand of the replicas running at tau (started in
        (tau - d, tau]) is at most the capacity, or ``cap * balance`` with the balance term;
        checked at every possible start time on n (where the load can rise). Zero-duration
        replicas occupy nothing; a row is left out when what can run then fits anyway."""
        p, m = self.problem, self.m
        items: dict[tuple[int, str], list[tuple[int, int, int, float]]] = defaultdict(list)
        for j, (t, _, n, tau) in enumerate(self.skey):
            d = self.dur[t, n]
            if d <= 0:
                continue
            for r, q in p.tasks[t].demand_at(n).items():
                if q > 0:
                    items[n, r].append((tau, d, j, q))
        rows: dict[tuple[str, str, int], tuple[list[Any], list[float], float]] = {}
        for (n, r), its in sorted(items.items()):
            node = p.nodes[n]
            cap = node.capacity.get(r, 0.0)
            watch = self.balance is not None and cap > 0
            points = sorted({tau for tau, _, _, _ in its})
            per: list[list[tuple[int, float]]] = [[] for _ in points]
            for tau, d, j, q in its:
                a = bisect.bisect_left(points, tau)
                b = bisect.bisect_left(points, tau + d)
                for ip in range(a, b):
                    per[ip].append((j, q))
            for ip, tau in enumerate(points):
                cell = per[ip]
                if not cell:
                    continue
                if not watch:
                    # a replica runs once: what can run at tau is one demand per replica
                    most = {self.skey[j][:2]: q for j, q in cell}
                    if sum(most.values()) <= cap + CAP_TOL:
                        continue
                vs = [self.s[j] for j, _ in cell]
                cs = [q for _, q in cell]
                if watch:
                    rows[node.id, r, tau] = ([*vs, self.balance], [*cs, -cap], 0.0)
                else:
                    rows[node.id, r, tau] = (vs, cs, cap)
        if not rows:
            return
        m.U = pyo.Set(initialize=list(rows), dimen=3, ordered=True)
        m.usage = pyo.Constraint(m.U, rule=lambda _, n, r, tau: _row(rows[n, r, tau], "<="))

    def _node_use(self) -> None:
        """use[n]: sum x - (count) u[n] <= 0 over the x of n that no capacity row ties to u:
        every x when scheduling, the zero-demand ones in placement."""
        if not self.u:
            return
        p, m = self.problem, self.m
        demanding = [any(q > 0 for q in t.demand.values()) for t in p.tasks]
        loose: dict[int, list[int]] = defaultdict(list)
        for i, (t, _, n) in enumerate(self.xkey):
            if n not in self.u:
                continue
            task = p.tasks[t]
            has = (
                any(q > 0 for q in task.demand_on[n].values())
                if n in task.demand_on
                else demanding[t]
            )
            if self.scheduling or not has:
                loose[n].append(i)
        rows = {
            p.nodes[n].id: (
                [*(self.x[i] for i in pos), self.u[n]],
                [*([1.0] * len(pos)), -float(len(pos))],
                0.0,
            )
            for n, pos in sorted(loose.items())
        }
        if rows:
            m.NU = pyo.Set(initialize=list(rows), ordered=True)
            m.use = pyo.Constraint(m.NU, rule=lambda _, n: _row(rows[n], "<="))

    def _symmetry(self) -> None:
        """use_order[n]: u of interchangeable nodes does not increase along their class (the
        candidate pruning of :meth:`_interchangeable` does the rest)."""
        if not self.u:
            return
        m, p = self.m, self.problem
        pairs = {}
        for cls in self.classes:
            for a, b in itertools.pairwise(cls):
                if a in self.u and b in self.u:
                    pairs[p.nodes[b].id] = (self.u[a], self.u[b])
        if pairs:
            m.NO = pyo.Set(initialize=list(pairs), ordered=True)
            m.use_order = pyo.Constraint(
                m.NO, rule=lambda _, n: linear(list(pairs[n]), [1.0, -1.0]) >= 0
            )

    # -- revision 2: devices, same-start gangs, spread, max_moves ---------------------------

    def _device_variables(self) -> None:
        """Devices: for every x of a replica whose demand on a split resource is served by
        ``m`` devices there, ``y[r, n, res, j]`` binary (it uses device ``j``) and
        ``dev_assign[r, n, res]``: ``sum_j y = m x``. Scheduling: ``d[r, n, res, j, t]`` binary
        (it starts at ``t`` on device ``j``), ``dev_start[r, n, res, t]``: ``sum_j d = m s``
        and ``dev_link[r, n, res, j]``: ``y = sum_t d``. With the symmetry breaking the devices
        of a node (identical) are relabelled in the order of their lowest user: the item at
        position ``i`` of (n, res) (x order) uses only the first ``m_0 + ... + m_i`` devices.
        Placement: replicas that take whole devices have no y (:data:`AGGREGATE_WHOLE`, see
        :meth:`_device_capacity`)."""
        p, m = self.problem, self.m
        if not p.split_resources:
            return
        node_ids = [n.id for n in p.nodes]
        aggregate = AGGREGATE_WHOLE and not self.scheduling
        for i, (t, _, n) in enumerate(self.xkey):
            for r, (count, take) in (p.device_use(t, n) or {}).items():
                if aggregate and take >= p.nodes[n].device_size(r) * (1 - DEVICE_RTOL):
                    self.dev_whole.setdefault((n, r), []).append((i, count))
                else:
                    self.dev_items.setdefault((n, r), []).append((i, count, take))
        if aggregate:
            self._patterns()
        if not self.dev_items:
            return
        ylabels: list[tuple[str, str, str, int]] = []
        ykeys: list[tuple[int, str, int]] = []
        for (n, r), items in self.dev_items.items():
            k = p.nodes[n].devices[r]
            seen = 0
            for i, count, _ in items:
                seen += count
                top = min(k, seen) if DEVICE_SYMMETRY != "none" else k
                t, rep, _ = self.xkey[i]
                rl = f"{p.tasks[t].id}#{rep}"
                for j in range(top):
                    ylabels.append((rl, node_ids[n], r, j))
                    ykeys.append((i, r, j))
        m.Y = pyo.Set(initialize=ylabels, dimen=4, ordered=True)
        m.y = pyo.Var(m.Y, domain=pyo.Binary)
        for (i, r, j), v in zip(ykeys, m.y.values(), strict=True):
            self.y.setdefault((i, r), {})[j] = v
        use = {(i, r): count for items in self.dev_items.values() for i, count, _ in items}
        label = {
            key: f"{self.problem.tasks[self.xkey[key[0]][0]].id}#{self.xkey[key[0]][1]}"
            for key in self.y
        }
        if not self.scheduling:
            rows = {
                (label[i, r], node_ids[self.xkey[i][2]], r): (
                    [*ys.values(), self.x[i]],
                    [*([1.0] * len(ys)), -float(use[i, r])],
                    0.0,
                )
                for (i, r), ys in self.y.items()
            }
            m.DA = pyo.Set(initialize=list(rows), dimen=3, ordered=True)
            m.dev_assign = pyo.Constraint(m.DA, rule=lambda _, a, b, c: _row(rows[a, b, c], "=="))
            return
        dlabels: list[tuple[str, str, str, int, int]] = []
        dkeys: list[tuple[int, str, int, int]] = []  # (x position, resource, device, s position)
        for (i, r), ys in self.y.items():
            t, rep, n = self.xkey[i]
            for j in ys:
                for sj in self.spos[t, rep, n]:
                    dlabels.append((label[i, r], node_ids[n], r, j, self.skey[sj][3]))
                    dkeys.append((i, r, j, sj))
        m.DS = pyo.Set(initialize=dlabels, dimen=5, ordered=True)
        m.d = pyo.Var(m.DS, domain=pyo.Binary)
        by_start: dict[tuple[int, str, int], list[Any]] = defaultdict(list)
        for (i, r, j, sj), v in zip(dkeys, m.d.values(), strict=True):
            self.sd.setdefault((i, r), {}).setdefault(j, []).append((sj, v))
            by_start[i, r, sj].append(v)
        starts = {
            (label[i, r], node_ids[self.xkey[i][2]], r, self.skey[sj][3]): (
                [*vs, self.s[sj]],
                [*([1.0] * len(vs)), -float(use[i, r])],
                0.0,
            )
            for (i, r, sj), vs in by_start.items()
        }
        m.DT = pyo.Set(initialize=list(starts), dimen=4, ordered=True)
        m.dev_start = pyo.Constraint(
            m.DT, rule=lambda _, a, b, c, e: _row(starts[a, b, c, e], "==")
        )
        links = {
            (label[i, r], node_ids[self.xkey[i][2]], r, j): (
                [self.y[i, r][j], *(v for _, v in ds)],
                [1.0, *([-1.0] * len(ds))],
                0.0,
            )
            for (i, r), per in self.sd.items()
            for j, ds in per.items()
        }
        m.DL = pyo.Set(initialize=list(links), dimen=4, ordered=True)
        m.dev_link = pyo.Constraint(m.DL, rule=lambda _, a, b, c, e: _row(links[a, b, c, e], "=="))

    def _patterns(self) -> None:
        """Placement, where the shares on (n, res) come in few sizes: ``z[n, res, pattern]``
        integer, the devices holding each maximal pattern (:mod:`.patterns`), instead of y;
        ``pat_cover[n, res, size]``: the replicas placed there with a share of that size are
        at most ``sum_pattern count z``; ``pat_count[n, res]``: ``sum z + sum m x <= k`` over
        the replicas taking whole devices. The devices of a plan are packed from z
        (:func:`.patterns.pack`)."""
        if MAX_PATTERNS <= 0:
            return
        p, m = self.problem, self.m
        for (n, r), items in list(self.dev_items.items()):
            size = p.nodes[n].device_size(r)
            sizes = sorted({take for _, _, take in items})
            index = {q: j for j, q in enumerate(sizes)}
            tasks: list[set[int]] = [set() for _ in sizes]
            for i, _, take in items:
                tasks[index[take]].add(self.xkey[i][0])
            caps = [len(ts) for ts in tasks]
            found = maximal_patterns(sizes, caps, size, MAX_PATTERNS)
            if found is None:
                continue
            del self.dev_items[n, r]
            items_ = [(i, index[take]) for i, _, take in items]
            self.pat[n, r] = _Patterns(sizes, caps, items_, found, [])
        if not self.pat:
            return
        labels: list[tuple[str, str, str]] = []
        for (n, r), pt in self.pat.items():
            for pattern in pt.patterns:
                parts = zip(pattern, pt.sizes, strict=True)
                name = "+".join(f"{c}x{_num(q)}" for c, q in parts if c)
                labels.append((p.nodes[n].id, r, name))
        m.PZ = pyo.Set(initialize=labels, dimen=3, ordered=True)
        m.z = pyo.Var(m.PZ, domain=pyo.NonNegativeIntegers)
        zs = iter(m.z.values())
        cover = {}
        count = {}
        for (n, r), pt in self.pat.items():
            k = p.nodes[n].devices[r]
            pt.z = [next(zs) for _ in pt.patterns]
            for v in pt.z:
                v.setub(k)
            nid = p.nodes[n].id
            for si, q in enumerate(pt.sizes):
                xs = [self.x[i] for i, sj in pt.items if sj == si]
                ps = [(v, c[si]) for v, c in zip(pt.z, pt.patterns, strict=True) if c[si]]
                cover[nid, r, _num(q)] = (
                    [*xs, *(v for v, _ in ps)],
                    [*([1.0] * len(xs)), *(-float(c) for _, c in ps)],
                    0.0,
                )
            whole = self.dev_whole.get((n, r), [])
            count[nid, r] = (
                [*pt.z, *(self.x[i] for i, _ in whole)],
                [*([1.0] * len(pt.z)), *(float(c) for _, c in whole)],
                float(k),
            )
        m.PC = pyo.Set(initialize=list(cover), dimen=3, ordered=True)
        m.pat_cover = pyo.Constraint(m.PC, rule=lambda _, a, b, c: _row(cover[a, b, c], "<="))
        m.PN = pyo.Set(initialize=list(count), dimen=2, ordered=True)
        m.pat_count = pyo.Constraint(m.PN, rule=lambda _, a, b: _row(count[a, b], "<="))

    def _device_capacity(self) -> None:
        """Placement: dev_capacity[n, res, j]: ``sum take y <= device size`` (left out when
        every possible user together fits). Where replicas taking whole devices are counted
        (``dev_whole``): ``f[n, res, j]`` binary, device ``j`` holds shares, with
        ``sum take y <= size f`` and ``dev_count[n, res]``: ``sum m x + sum_j f <= k`` (whole
        devices and devices with shares share the node's ``k``: the whole ones are then any
        of the devices without shares), and ``f_order``: ``f[j] >= f[j + 1]`` with the
        symmetry breaking (devices with shares first, as their lowest users order them)."""
        p, m = self.problem, self.m
        rows: dict[tuple[str, str, int], tuple[list[Any], list[float], float]] = {}
        flabels: list[tuple[str, str, int]] = []
        fkeys: list[tuple[int, str, int]] = []
        per_node: dict[tuple[int, str], dict[int, tuple[list[Any], list[float]]]] = {}
        for (n, r), items in self.dev_items.items():
            per: dict[int, tuple[list[Any], list[float]]] = defaultdict(lambda: ([], []))
            for i, _, take in items:
                for j, v in self.y[i, r].items():
                    per[j][0].append(v)
                    per[j][1].append(take)
            per_node[n, r] = per
            if (n, r) in self.dev_whole:
                for j in sorted(per):
                    flabels.append((p.nodes[n].id, r, j))
                    fkeys.append((n, r, j))
        if flabels:
            m.F = pyo.Set(initialize=flabels, dimen=3, ordered=True)
            m.f = pyo.Var(m.F, domain=pyo.Binary)
            for (n, r, j), v in zip(fkeys, m.f.values(), strict=True):
                self.f.setdefault((n, r), {})[j] = v
        for (n, r), per in per_node.items():
            size = p.nodes[n].device_size(r)
            fs = self.f.get((n, r))
            for j, (vs, cs) in sorted(per.items()):
                if fs is not None:
                    rows[p.nodes[n].id, r, j] = ([*vs, fs[j]], [*cs, -size], 0.0)
                elif sum(cs) > size + CAP_TOL:
                    rows[p.nodes[n].id, r, j] = (vs, cs, size)
        if rows:
            m.DK = pyo.Set(initialize=list(rows), dimen=3, ordered=True)
            m.dev_capacity = pyo.Constraint(m.DK, rule=lambda _, a, b, c: _row(rows[a, b, c], "<="))
        if not self.f:
            return
        counts = {}
        order = {}
        for (n, r), fs in self.f.items():
            whole = self.dev_whole[n, r]  # (n, r) has no patterns: it has f
            counts[p.nodes[n].id, r] = (
                [*(self.x[i] for i, _ in whole), *fs.values()],
                [*(float(c) for _, c in whole), *([1.0] * len(fs))],
                float(p.nodes[n].devices[r]),
            )
            if DEVICE_SYMMETRY != "none":
                for j in sorted(fs):
                    if j + 1 in fs:
                        order[p.nodes[n].id, r, j + 1] = ([fs[j], fs[j + 1]], [1.0, -1.0], 0.0)
        m.DN = pyo.Set(initialize=list(counts), dimen=2, ordered=True)
        m.dev_count = pyo.Constraint(m.DN, rule=lambda _, a, b: _row(counts[a, b], "<="))
        if order:
            m.FO = pyo.Set(initialize=list(order), dimen=3, ordered=True)
            m.f_order = pyo.Constraint(m.FO, rule=lambda _, a, b, c: _row(order[a, b, c], ">="))

    def _device_usage(self) -> None:
        """Scheduling: dev_usage[n, res, j, t]: what the replicas running on device ``j`` at
        ``t`` take is at most its size, checked at every start time on it (as ``usage``)."""
        p, m = self.problem, self.m
        rows: dict[tuple[str, str, int, int], tuple[list[Any], list[float], float]] = {}
        for (n, r), items in self.dev_items.items():
            size = p.nodes[n].device_size(r)
            per: dict[int, list[tuple[int, int, Any, float, int]]] = defaultdict(list)
            for i, _, take in items:
                t = self.xkey[i][0]
                for j, ds in self.sd.get((i, r), {}).items():
                    for sj, v in ds:
                        d = self.dur[t, n]
                        if d > 0:
                            per[j].append((self.skey[sj][3], d, v, take, t))
            for j, its in sorted(per.items()):
                points = sorted({tau for tau, *_ in its})
                cells: list[list[tuple[Any, float, int]]] = [[] for _ in points]
                for tau, d, v, take, t in its:
                    a = bisect.bisect_left(points, tau)
                    b = bisect.bisect_left(points, tau + d)
                    for ip in range(a, b):
                        cells[ip].append((v, take, t))
                for ip, tau in enumerate(points):
                    cell = cells[ip]
                    most: dict[int, float] = {}  # one replica of a task per node
                    for _, take, t in cell:
                        most[t] = max(most.get(t, 0.0), take)
                    if sum(most.values()) <= size + CAP_TOL:
                        continue
                    rows[p.nodes[n].id, r, j, tau] = (
                        [v for v, _, _ in cell],
                        [take for _, take, _ in cell],
                        size,
                    )
        if rows:
            m.DU = pyo.Set(initialize=list(rows), dimen=4, ordered=True)
            m.dev_usage = pyo.Constraint(
                m.DU, rule=lambda _, a, b, c, e: _row(rows[a, b, c, e], "<=")
            )

    def _device_symmetry(self) -> None:
        """dev_order[r, n, res, j] (j >= 1): a replica uses device ``j`` only if device
        ``j - 1`` has a user at or before it in x order, i.e. ``y[i, j] <= c[i, j - 1]`` with
        ``c[i, j] = c[i - 1, j] + y[i, j]`` (``devc``, integer; rows ``dev_prefix``) the users
        of device ``j`` up to item ``i``: any plan satisfies it once the devices are
        relabelled by their lowest user (:meth:`_relabel_devices`). Two or three non-zeros per
        row, instead of the quadratic
        ``y[i, j] <= sum_{i' <= i} y[i', j - 1]``."""
        if DEVICE_SYMMETRY != "order" or not self.dev_items:
            return
        p, m = self.problem, self.m
        node_ids = [n.id for n in p.nodes]
        clabels: list[tuple[str, str, int, int]] = []
        ckeys: list[tuple[int, str, int, int]] = []
        # prefix of device j after each item: ("y", x position) for the first user itself,
        # ("c", key) for a count variable
        plan: list[tuple[tuple[int, str, int, int], Any, Any]] = []  # (c key, prev, y) rows
        orders: list[tuple[int, str, int, Any]] = []  # (x position, res, j, prefix of j - 1)
        for (n, r), items in self.dev_items.items():
            k = p.nodes[n].devices[r]
            if k < 2:
                continue
            prefix: dict[int, Any] = {}
            for pos, (i, _, _) in enumerate(items):
                ys = self.y[i, r]
                for j in sorted(ys):
                    if j >= k - 1:
                        continue
                    prev = prefix.get(j)
                    if prev is None:
                        prefix[j] = ("y", i, j)  # the first user: its y is the count
                    else:
                        key = (n, r, j, pos)
                        clabels.append((node_ids[n], r, j, pos))
                        ckeys.append(key)
                        plan.append((key, prev, ("y", i, j)))
                        prefix[j] = ("c", key)
                for j in sorted(ys):
                    if j >= 1:
                        orders.append((i, r, j, prefix[j - 1]))
        if not orders:
            return
        if ckeys:
            m.DC = pyo.Set(initialize=clabels, dimen=4, ordered=True)
            m.devc = pyo.Var(m.DC, domain=pyo.NonNegativeIntegers)
            for key, v in zip(ckeys, m.devc.values(), strict=True):
                v.setub(key[3] + 1)
                self.devc[key] = v

        def ref_var(ref: tuple[Any, ...], r: str) -> Any:
            if ref[0] == "y":
                return self.y[ref[1], r][ref[2]]
            return self.devc[ref[1]]

        counts = {
            (node_ids[key[0]], key[1], key[2], key[3]): (
                [self.devc[key], ref_var(prev, key[1]), ref_var(y, key[1])],
                [1.0, -1.0, -1.0],
                0.0,
            )
            for key, prev, y in plan
        }
        if counts:
            m.dev_prefix = pyo.Constraint(
                m.DC, rule=lambda _, a, b, c, e: _row(counts[a, b, c, e], "==")
            )
        rows = {}
        for i, r, j, prev in orders:
            t, rep, n = self.xkey[i]
            rows[f"{p.tasks[t].id}#{rep}", node_ids[n], r, j] = (
                [self.y[i, r][j], ref_var(prev, r)],
                [1.0, -1.0],
                0.0,
            )
        m.DO = pyo.Set(initialize=list(rows), dimen=4, ordered=True)
        m.dev_order = pyo.Constraint(m.DO, rule=lambda _, a, b, c, e: _row(rows[a, b, c, e], "<="))

    def _same_start(self) -> None:
        """Scheduling: gang_start[g, t] binary, the start of same-start gang ``g``;
        ``gang_one[g]``: ``sum_t gang_start = p`` (of its first member: the gang rows tie the
        others), and ``gang_at[g, r, t]``: ``sum_n s[r, n, t] = gang_start[g, t]`` for every
        replica ``r`` of every member and every start ``t`` any of them has."""
        p, m = self.problem, self.m
        gangs = sorted(g for g in p.same_start if g in p.gangs)
        if not gangs:
            return
        at: dict[tuple[int, int], dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for j, (t, k, _, tau) in enumerate(self.skey):
            at[t, k][tau].append(self.s[j])
        glabels: list[tuple[str, int]] = []
        reps: dict[str, list[tuple[int, int]]] = {}
        for g in gangs:
            reps[g] = [(t, k) for t in p.gangs[g] for k in range(p.tasks[t].replicas)]
            taus = sorted({tau for rk in reps[g] for tau in at.get(rk, {})})
            glabels.extend((g, tau) for tau in taus)
        if not glabels:
            return
        m.GS = pyo.Set(initialize=glabels, dimen=2, ordered=True)
        m.gang_start = pyo.Var(m.GS, domain=pyo.Binary)
        for (g, tau), v in zip(glabels, m.gang_start.values(), strict=True):
            self.gstart.setdefault(g, {})[tau] = v
        one = {
            g: (
                [*self.gstart.get(g, {}).values(), self.p[p.gangs[g][0]]],
                [*([1.0] * len(self.gstart.get(g, {}))), -1.0],
                0.0,
            )
            for g in gangs
        }
        m.GO = pyo.Set(initialize=list(one), ordered=True)
        m.gang_one = pyo.Constraint(m.GO, rule=lambda _, g: _row(one[g], "=="))
        rows = {}
        for g in gangs:
            for t, k in reps[g]:
                rl = f"{p.tasks[t].id}#{k}"
                mine = at.get((t, k), {})
                for tau, z in self.gstart.get(g, {}).items():
                    vs = mine.get(tau, [])
                    rows[g, rl, tau] = ([*vs, z], [*([1.0] * len(vs)), -1.0], 0.0)
        m.GA = pyo.Set(initialize=list(rows), dimen=3, ordered=True)
        m.gang_at = pyo.Constraint(m.GA, rule=lambda _, g, rl, tau: _row(rows[g, rl, tau], "=="))

    def _spread(self) -> None:
        """spread_most[t], spread_fewest[t] integers: ``spread_hi[t, v]``: the replicas on
        nodes with label value ``v`` are at most ``most``, ``spread_lo[t, v]``: at least
        ``fewest`` (every value found on the allowed nodes, even one without candidates),
        ``skew[t]``: ``most - fewest <= max_skew``. Left out when the replicas cannot exceed
        the skew anyway."""
        p, m = self.problem, self.m
        spreads = [
            t
            for t in p.tasks
            if t.spread is not None and len(t.spread.values) >= 2 and t.replicas > t.spread.max_skew
        ]
        if not spreads:
            return
        m.SP = pyo.Set(initialize=[t.id for t in spreads], ordered=True)
        m.spread_most = pyo.Var(m.SP, domain=pyo.NonNegativeIntegers)
        m.spread_fewest = pyo.Var(m.SP, domain=pyo.NonNegativeIntegers)
        per_task: dict[int, list[list[Any]]] = {}
        skews: dict[int, Spread] = {}
        for task, most, fewest in zip(
            spreads, m.spread_most.values(), m.spread_fewest.values(), strict=True
        ):
            assert task.spread is not None
            most.setub(task.replicas)
            fewest.setub(task.replicas)
            self.spread_vars[task.index] = (most, fewest)
            skews[task.index] = task.spread
            per_task[task.index] = [[] for _ in task.spread.values]
        for i, (t, _, n) in enumerate(self.xkey):
            if t in per_task:
                per_task[t][skews[t].value_of[n]].append(self.x[i])
        hi = {}
        lo = {}
        for t, per in per_task.items():
            tid = p.tasks[t].id
            most, fewest = self.spread_vars[t]
            for v, xs in zip(skews[t].values, per, strict=True):
                hi[tid, v] = ([*xs, most], [*([1.0] * len(xs)), -1.0], 0.0)
                lo[tid, v] = ([*xs, fewest], [*([1.0] * len(xs)), -1.0], 0.0)
        m.SV = pyo.Set(initialize=list(hi), dimen=2, ordered=True)
        m.spread_hi = pyo.Constraint(m.SV, rule=lambda _, t, v: _row(hi[t, v], "<="))
        m.spread_lo = pyo.Constraint(m.SV, rule=lambda _, t, v: _row(lo[t, v], ">="))
        skew = {
            p.tasks[t].id: (list(self.spread_vars[t]), [1.0, -1.0], float(skews[t].max_skew))
            for t in per_task
        }
        m.skew = pyo.Constraint(m.SP, rule=lambda _, t: _row(skew[t], "<="))

    def _max_moves(self) -> None:
        """max_moves: the replicas placed off their task's ``current`` are at most the limit."""
        p = self.problem
        if p.max_moves is None:
            return
        off = [
            self.x[i]
            for i, (t, _, n) in enumerate(self.xkey)
            if (cur := p.tasks[t].current) is not None and n not in cur
        ]
        if len(off) > p.max_moves:
            self.m.max_moves = pyo.Constraint(expr=linear(off) <= float(p.max_moves))

    # -- objective terms -----------------------------------------------------------------------

    def _terms(self) -> None:
        p = self.problem
        x = self.x
        integral_prio = all(float(t.priority).is_integer() for t in p.tasks)
        if "unplaced" in self.needed:
            total = sum(t.priority * t.replicas for t in p.tasks)
            self.terms["unplaced"] = linear(
                self.p, [-t.priority * t.replicas for t in p.tasks], constant=total
            )
            self.integral["unplaced"] = integral_prio
        if "cost" in self.needed:
            vs: list[Any] = []
            cs: list[float] = []
            for i, (t, _, n) in enumerate(self.xkey):
                task = p.tasks[t]
                if task.assign_cost:
                    c = task.cost_at(n)
                    if c:
                        vs.append(x[i])
                        cs.append(c)
            for n, u in self.u.items():
                if p.nodes[n].cost:
                    vs.append(u)
                    cs.append(p.nodes[n].cost)
            self.terms["cost"] = linear(vs, cs)
            self.integral["cost"] = all(float(c).is_integer() for c in cs)
        if "nodes" in self.needed:
            self.terms["nodes"] = linear(list(self.u.values()))
            self.integral["nodes"] = True
        if "moves" in self.needed:
            self.terms["moves"] = linear(
                [
                    x[i]
                    for i, (t, _, n) in enumerate(self.xkey)
                    if (cur := p.tasks[t].current) is not None and n not in cur
                ]
            )
            self.integral["moves"] = True
        if "balance" in self.needed:
            self.terms["balance"] = linear([self.balance])
            self.integral["balance"] = False
        if "makespan" in self.needed:
            rows = {}
            for (t, k), _ in self._reps.items():
                if p.tasks[t].service:  # makespan ignores services (FORMATS.md)
                    continue
                vs, cs = self._replica_end(t, k)
                if vs:
                    rows[f"{p.tasks[t].id}#{k}"] = ([self.makespan, *vs], [1.0, *(-c for c in cs)])
            if rows:
                self.m.MS = pyo.Set(initialize=list(rows), ordered=True)
                self.m.span = pyo.Constraint(self.m.MS, rule=lambda _, rl: linear(*rows[rl]) >= 0)
            self.terms["makespan"] = linear([self.makespan])
            self.integral["makespan"] = True
        if "tardiness" in self.needed:
            vs = []
            cs = []
            for j, (t, _, n, tau) in enumerate(self.skey):
                task = p.tasks[t]
                if task.due is None or not task.priority:
                    continue
                late = tau + self.dur[t, n] - task.due
                if late > 0:
                    vs.append(self.s[j])
                    cs.append(task.priority * late)
            self.terms["tardiness"] = linear(vs, cs)
            self.integral["tardiness"] = integral_prio

    # -- plans -----------------------------------------------------------------------------

    def plan_from(self, value: VarValue) -> Placement:
        """The placement given by solution values (x above 0.5; the start whose s is set;
        the devices whose y is set)."""
        out = DevicePlacement()
        for i, (t, _, n) in enumerate(self.xkey):
            if value(self.x[i]) > 0.5:
                start = None
                if self.scheduling:
                    pos = self.spos[self.xkey[i]]
                    best = max(pos, key=lambda j: value(self.s[j]))
                    start = self.skey[best][3]
                out.setdefault(t, []).append((n, start))
        for (i, r), ys in self.y.items():
            t, _, n = self.xkey[i]
            if value(self.x[i]) > 0.5:
                used = tuple(j for j, v in sorted(ys.items()) if value(v) > 0.5)
                out.devices.setdefault((t, n), {})[r] = used
        for (n, r), pt in self.pat.items():
            placed = [(i, si) for i, si in pt.items if value(self.x[i]) > 0.5]
            if not placed:
                continue
            devices = [
                pattern
                for v, pattern in zip(pt.z, pt.patterns, strict=True)
                for _ in range(round(value(v)))
            ]
            where = pack(devices, placed)
            if where is None:  # the solution breaks pat_cover: the evaluator rejects it
                continue
            for i, j in where.items():
                out.devices.setdefault((self.xkey[i][0], n), {})[r] = (j,)
        self._whole_devices(out, lambda i: value(self.x[i]) > 0.5)
        return out

    def _whole_devices(self, plan: DevicePlacement, placed: Callable[[int], bool]) -> None:
        """The devices of the replicas counted whole (``dev_whole``): on each node and
        resource, the devices no share of the plan uses, in index order (``dev_count``
        guarantees there are enough)."""
        p = self.problem
        for (n, r), whole in self.dev_whole.items():
            taken = {
                j for (_, node), per in plan.devices.items() if node == n for j in per.get(r, ())
            }
            free = iter(j for j in range(p.nodes[n].devices[r]) if j not in taken)
            for i, count in whole:
                if placed(i):
                    idx = tuple(itertools.islice(free, count))
                    plan.devices.setdefault((self.xkey[i][0], n), {})[r] = idx

    def assignments(self, plan: Placement) -> list[Assignment]:
        """Replica numbers follow node order (replicas of a task are identical); devices
        from the plan's (:class:`DevicePlacement`)."""
        out = assignments_of(self.problem, plan)
        devices = devices_of(plan)
        if not devices:
            return out
        p = self.problem
        ti, ni = p.task_index, p.node_index
        return [
            dataclasses.replace(a, devices=devices.get((ti[a.task], ni[a.node])) or None)
            for a in out
        ]

    def placement_of(self, assignments: Sequence[Assignment]) -> Placement:
        """The placement of a list of assignments (unknown tasks and nodes are dropped), with
        the devices they name."""
        p = self.problem
        out = DevicePlacement(placement_of(p, assignments))
        for a in assignments:
            t, n = p.task_index.get(a.task), p.node_index.get(a.node)
            if t is not None and n is not None and a.devices:
                out.devices[t, n] = dict(a.devices)
        return out

    def canonical(self, plan: Placement) -> Placement:
        """The same plan with interchangeable nodes relabelled in the order of the first task
        each one runs (unused ones last), which the candidate pruning and use_order expect."""
        if not self.classes:
            return plan
        first: dict[int, int] = {}
        for t in sorted(plan):
            for n, _ in plan[t]:
                first.setdefault(n, t)
        relabel: dict[int, int] = {}
        for cls in self.classes:
            ranked = sorted(cls, key=lambda n: (first.get(n, len(self.problem.tasks)), n))
            for target, source in zip(cls, ranked, strict=True):
                relabel[source] = target
        return DevicePlacement(
            {t: [(relabel.get(n, n), s) for n, s in reps] for t, reps in plan.items()},
            {(t, relabel.get(n, n)): d for (t, n), d in devices_of(plan).items()},
        )

    def _relabel_devices(
        self, devices: Devices, x: list[float]
    ) -> dict[tuple[int, str], tuple[int, ...]]:
        """The devices of a plan (``x`` its x values) as the symmetry breaking expects them:
        per (node, resource), devices renumbered in the order of their lowest user in x order
        (ties by their number in the plan). (x position, resource) -> devices; a replica
        whose devices the plan does not name (or names wrongly) is left out."""
        p = self.problem
        out: dict[tuple[int, str], tuple[int, ...]] = {}
        for (n, r), items in self.dev_items.items():
            k = p.nodes[n].devices[r]
            lowest: dict[int, int] = {}
            named: list[tuple[int, tuple[int, ...]]] = []
            for pos, (i, count, _) in enumerate(items):
                if x[i] < 0.5:
                    continue
                t = self.xkey[i][0]
                idx = devices.get((t, n), {}).get(r)
                if idx is None or len(set(idx)) != count or any(not 0 <= j < k for j in idx):
                    continue
                named.append((i, tuple(idx)))
                for j in idx:
                    lowest.setdefault(j, pos)
            if DEVICE_SYMMETRY == "none":
                out.update({(i, r): tuple(sorted(idx)) for i, idx in named})
                continue
            order = sorted(lowest, key=lambda j: (lowest[j], j))
            new = {j: a for a, j in enumerate(order)}
            for i, idx in named:
                out[i, r] = tuple(sorted(new[j] for j in idx))
        return out

    def _device_values(
        self, plan: Placement, x: list[float], s: list[float]
    ) -> list[tuple[Any, float]]:
        """Values of y, d and the prefix counts for a plan (devices relabelled as the
        symmetry breaking expects: :meth:`_relabel_devices`)."""
        uses = self._relabel_devices(devices_of(plan), x)
        out: list[tuple[Any, float]] = []
        for (i, r), ys in self.y.items():
            on = set(uses.get((i, r), ()))
            out.extend((v, float(j in on)) for j, v in ys.items())
            for j, ds in self.sd.get((i, r), {}).items():
                out.extend((v, float(j in on and s[sj] > 0.5)) for sj, v in ds)
        devices = devices_of(plan)
        for (n, r), pt in self.pat.items():
            per: dict[int, list[int]] = {}
            for i, si in pt.items:
                idx = devices.get((self.xkey[i][0], n), {}).get(r, ())
                if x[i] > 0.5 and len(idx) == 1:
                    per.setdefault(idx[0], [0] * len(pt.sizes))[si] += 1
            size = self.problem.nodes[n].device_size(r)
            z = [0.0] * len(pt.patterns)
            where = {pattern: pj for pj, pattern in enumerate(pt.patterns)}
            for counts in per.values():
                pj = where.get(extend(counts, pt.sizes, pt.caps, size))
                if pj is not None:
                    z[pj] += 1
            out.extend(zip(pt.z, z, strict=True))
        for (n, r), fs in self.f.items():
            held = {j for i, _, _ in self.dev_items[n, r] for j in uses.get((i, r), ())}
            out.extend((v, float(j in held)) for j, v in fs.items())
        if self.devc:
            count: dict[tuple[int, str, int], int] = defaultdict(int)
            for (n, r), items in self.dev_items.items():
                for pos, (i, _, _) in enumerate(items):
                    for j in uses.get((i, r), ()):
                        count[n, r, j] += 1
                    for j in range(self.problem.nodes[n].devices[r]):
                        v = self.devc.get((n, r, j, pos))
                        if v is not None:
                            out.append((v, float(count[n, r, j])))
        return out

    def values_of(self, plan: Placement, balance: float | None = None) -> list[tuple[Any, float]]:
        """(variable, value) for every variable of a plan (replicas in node order; pairs that
        are no variable are skipped, so a plan breaking the model gives a partial one)."""
        x = [0.0] * len(self.x)
        s = [0.0] * len(self.s)
        placed = [0.0] * len(self.p)
        used: set[int] = set()
        ends: dict[int, int] = {}
        makespan = 0
        for t, reps in plan.items():
            placed[t] = 1.0
            for k, (n, start) in enumerate(sorted(reps)):
                used.add(n)
                i = self.xpos.get((t, k, n))
                if i is None:
                    continue
                x[i] = 1.0
                if self.scheduling and start is not None:
                    for j in self.spos[t, k, n]:
                        if self.skey[j][3] == start:
                            s[j] = 1.0
                    e = start + self.dur.get((t, n), 0)
                    ends[t] = max(ends.get(t, 0), e)
                    makespan = max(makespan, e)
        out = [*zip(self.x, x, strict=True), *zip(self.s, s, strict=True)]
        out.extend(zip(self.p, placed, strict=True))
        if self.y or self.pat:
            out.extend(self._device_values(plan, x, s))
        for g, zs in self.gstart.items():
            begin = {
                self.skey[j][3]
                for t in self.problem.gangs[g]
                for k in range(self.problem.tasks[t].replicas)
                for i in [self.xpos.get((t, k, n)) for n in self.cand[t]]
                if i is not None and x[i] > 0.5
                for j in self.spos[self.xkey[i]]
                if s[j] > 0.5
            }
            out.extend((z, float(tau in begin and len(begin) == 1)) for tau, z in zs.items())
        for t, (most, fewest) in self.spread_vars.items():
            sp = self.problem.tasks[t].spread
            assert sp is not None
            per = [0] * len(sp.values)
            for n, _ in plan.get(t, []):
                if n in sp.value_of:
                    per[sp.value_of[n]] += 1
            out.extend([(most, float(max(per))), (fewest, float(min(per)))])
        out.extend((u, float(n in used)) for n, u in self.u.items())
        out.extend((e, float(ends.get(q, 0))) for q, e in self.end.items())
        if self.makespan is not None:
            out.append((self.makespan, float(makespan)))
        if self.balance is not None and balance is not None:
            out.append((self.balance, min(1.0, balance)))
        return out

    def trivial_bound(self, term: str) -> float | None:
        """A lower bound of a term known without search (None for balance): the priority of
        tasks with fewer candidates than replicas, one node when something must be placed, the
        latest earliest end of a must-place task, 0 otherwise."""
        p = self.problem
        if term == "unplaced":
            return float(
                sum(
                    t.priority * t.replicas for t in p.tasks if len(self.cand[t.index]) < t.replicas
                )
            )
        if term == "nodes":
            return 1.0 if self.must else 0.0
        if term == "makespan":
            ends = [
                min(self.window[t, n][0] + self.dur[t, n] for n in self.cand[t])
                for t in self.must
                if self.cand[t] and not p.tasks[t].service
            ]
            return float(max(ends, default=0))
        if term in ("cost", "moves", "tardiness"):
            return 0.0
        return None

    def size(self) -> dict[str, int]:
        """Variables (binary, integer, continuous), constraints."""
        m = self.m
        nvars = nbin = nint = 0
        for v in m.component_data_objects(pyo.Var, descend_into=True):
            nvars += 1
            if v.is_binary():
                nbin += 1
            elif v.is_integer():
                nint += 1
        ncons = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
        return {
            "variables": nvars,
            "binary": nbin,
            "integer": nint,
            "continuous": nvars - nbin - nint,
            "constraints": ncons,
        }
