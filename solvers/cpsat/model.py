"""The CP-SAT model of one problem: variables, constraint families and objective terms.

:class:`AllocationModel` builds everything in its constructor, one private method per constraint
family (see the package docstring for the formulation), and exposes the objective terms as
integer linear expressions with their scale (:attr:`AllocationModel.terms`,
:attr:`AllocationModel.unit`: ``real value = integer value / unit``). It also converts between
solver values and plans (:meth:`plan_from`, :meth:`hint`) and knows the symmetry classes of
interchangeable nodes (:meth:`canonical`). Solving is :mod:`.exact`'s business.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from fractions import Fraction

from ortools.sat.python import cp_model

from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem, effectively_required, topological_order

from ..placement import Placement, assignments_of, placement_of
from ..scaling import Scales

Pair = tuple[int, int]  # (task, node)
#: redundant no-overlap cliques: only on nodes with at most this many intervals (on a 300-task
#: random RCPSP they delayed CP-SAT's first solution from 0.3 s to beyond 10 s) ...
MAX_CLIQUE_ITEMS = 200
#: break the symmetry of identical devices (see AllocationModel._devices); False only to
#: measure what it is worth (benchmarks/bench_rev2.py --symmetry)
DEVICE_SYMMETRY = True
#: ... and at most this many interval references per interval on the node (PSPLIB j30 uses at
#: most 6.3)
CLIQUE_REFS = 8
#: task -> [(node, start or None)], one entry per replica
LinearExpr = cp_model.LinearExprT


def device_demand(
    problem: Problem, scales: Scales, dev_size: Mapping[tuple[int, str], int], t: int, n: int
) -> dict[str, tuple[int, int]] | None:
    """Per split resource of node n with a demand of task t: (devices m, scaled take on each);
    None when the devices cannot serve one replica (FORMATS.md: a share of one device or a
    whole number of them). ``dev_size``: (node, resource) -> scaled size of one device."""
    use = problem.device_use(t, n)
    if use is None:
        return None
    out: dict[str, tuple[int, int]] = {}
    for r, (m, take) in use.items():
        size = dev_size[n, r]
        whole = take >= problem.nodes[n].device_size(r)
        q = size if whole else scales.demand(r, take)
        if q > size:
            return None
        out[r] = (m, q)
    return out


def device_sizes(problem: Problem, scales: Scales) -> tuple[dict[tuple[int, str], int], bool]:
    """(node, resource) -> scaled size of one device, and whether every size is exact."""
    out: dict[tuple[int, str], int] = {}
    exact = True
    for n in problem.nodes:
        for r, k in n.devices.items():
            cap = scales.cap(r, n.capacity.get(r, 0.0))
            out[n.index, r] = cap // k
            exact = exact and cap % k == 0
    return out, exact


class DevicePlan(dict[int, list[tuple[int, int | None]]]):
    """A :data:`Placement` that also says which devices each replica uses: ``devices[t, n]``
    maps each split resource to the device indices (plans of problems with devices)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.devices: dict[Pair, dict[str, tuple[int, ...]]] = {}


class AllocationModel:
    """Variables and constraints of ``problem`` for the objective terms in ``terms``.

    ``horizon`` is the latest end of any replica (scheduling problems only; the caller picks a
    safe one when the problem has none).
    """

    def __init__(
        self,
        problem: Problem,
        scales: Scales,
        terms: Collection[str],
        horizon: int = 0,
        *,
        assume_required: bool = False,
        device_symmetry: bool | None = None,
    ) -> None:
        self.problem = problem
        #: order identical devices of a node by their first user (see :meth:`_devices`)
        self.device_symmetry = DEVICE_SYMMETRY if device_symmetry is None else device_symmetry
        #: with ``assume_required``, "every must-place task is placed" is not a constraint but
        #: one assumption literal per task (p[t]), for explaining infeasibility
        self.assume_required = assume_required
        self.scales = scales
        self.needed = set(terms)
        if problem.max_moves is not None:
            self.needed.add("moves")  # the limit is a constraint on the term
        self.horizon = horizon
        self.scheduling = problem.scheduling
        self.model = cp_model.CpModel()
        self.must = effectively_required(problem)
        # data, scaled
        self.cap: list[dict[str, int]] = []
        self.dem: dict[Pair, dict[str, int]] = {}
        self.dur: dict[Pair, int] = {}
        self.window: dict[Pair, tuple[int, int]] = {}  # start in [lo, hi]
        self.cand: list[list[int]] = []  # candidate nodes per task, ascending
        self.on_node: list[list[int]] = []  # candidate tasks per node, ascending
        # variables
        self.y: dict[Pair, cp_model.IntVar] = {}
        self.p: list[cp_model.IntVar] = []
        self.u: dict[int, cp_model.IntVar] = {}
        self.start: dict[Pair, cp_model.IntVar] = {}
        self.task_end: dict[int, cp_model.IntVar] = {}
        self.peak: dict[tuple[int, str], cp_model.IntVar] = {}
        self.balance_var: cp_model.IntVar | None = None
        #: (load expression, scaled capacity) for every node and resource the balance watches
        self.balance_loads: list[tuple[LinearExpr, int]] = []
        self.classes: list[list[int]] = []  # interchangeable nodes, ascending
        self.terms: dict[str, LinearExpr] = {}
        self.unit: dict[str, Fraction] = {}
        self.always: set[int] = set()
        self.fixed: set[int] = set()
        self.pure_scheduling = False
        self._ms_bound: int | None = None
        self._disjoint: set[tuple[int, ...]] = set()  # interval sets under one no-overlap
        #: some resource is a no-overlap (unit-capacity machines): the solver should propagate
        #: disjunctions strongly
        self.disjunctive = False
        # devices (revision 2): per (task, node, split resource) one bool per device of the
        # node ("the replica uses device j"), what it takes on each, and per (node, resource)
        # the scaled size of one device
        self.devx: dict[tuple[int, int, str], list[cp_model.IntVar]] = {}
        self.dev_use: dict[Pair, dict[str, tuple[int, int]]] = {}
        self.dev_size: dict[tuple[int, str], int] = {}
        #: device sizes are exact in the scaled integers (capacity divisible by the count)
        self.devices_exact = True
        #: same-start gangs: the common start of each
        self.gang_start: dict[str, cp_model.IntVar] = {}
        #: prefix bools of the device symmetry breaking: (node, resource, users, [(i, j, c)])
        self._firsts: list[tuple[int, str, list[int], list[tuple[int, int, cp_model.IntVar]]]] = []

        self._scale_data()
        self._candidates()
        self._placement()
        self._gangs()
        self._separation()
        self._spread()
        if self.scheduling:
            self._intervals()
            self._precedence()
            self._same_start()
            self._cumulative()
            self._disjunctive_cliques()
        else:
            self._capacity()
        self._devices()
        self._interchangeable()
        self._node_usage()
        self._symmetry()
        for term in ("unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves"):
            if term in self.needed:
                getattr(self, f"_term_{term}")()

    @property
    def feasibility_exact(self) -> bool:
        """The model has exactly the problem's plans (no capacity or device size rounded)."""
        return self.scales.feasibility_exact and self.devices_exact

    # -- data ------------------------------------------------------------------------------

    def _scale_data(self) -> None:
        sc = self.scales
        for n in self.problem.nodes:
            self.cap.append({r: sc.cap(r, n.capacity.get(r, 0.0)) for r in self.problem.resources})
        # sizes rounded down when not exact: plans stay feasible
        self.dev_size, self.devices_exact = device_sizes(self.problem, sc)

    def _device_demand(self, t: int, n: int) -> dict[str, tuple[int, int]] | None:
        return device_demand(self.problem, self.scales, self.dev_size, t, n)

    def _candidates(self) -> None:
        """A (task, node) pair is a candidate when the node is allowed and one replica fits there
        when it is empty (scheduling: or runs 0 time there, and can end by its deadline and the
        horizon after its release and its predecessors' earliest ends)."""
        p, sc = self.problem, self.scales
        self.cand = [[] for _ in p.tasks]
        order = topological_order(p) if self.scheduling else range(len(p.tasks))
        for ti in order:
            t = p.tasks[ti]
            nodes = self.cand[ti]
            lo = 0
            if self.scheduling:
                earliest = self._earliest_start(ti)
                if earliest is None:  # a predecessor can run nowhere, so this one cannot either
                    continue
                lo = earliest
            for n in t.allowed:
                node = p.nodes[n]
                dem = {r: sc.demand(r, q) for r, q in t.demand_at(n).items() if q > 0}
                d = t.duration_at(node) if self.scheduling else 0
                fits = all(q <= self.cap[n][r] for r, q in dem.items())
                if node.devices:
                    shape = self._device_demand(ti, n)
                    if shape is None:
                        continue  # no device (or whole number of them) can serve it, ever
                    if shape:
                        self.dev_use[ti, n] = shape
                if self.scheduling:
                    if not fits and d > 0:
                        continue
                    hi = self.horizon if t.deadline is None else min(t.deadline, self.horizon)
                    hi -= d
                    if hi < lo:
                        continue
                    self.window[ti, n] = (lo, hi)
                    self.dur[ti, n] = d
                elif not fits:
                    continue
                self.dem[ti, n] = dem
                nodes.append(n)
        self.on_node = [[] for _ in p.nodes]
        for ti, nodes in enumerate(self.cand):
            for n in nodes:
                self.on_node[n].append(ti)
        #: tasks every plan places (not so under ``assume_required``)
        self.always = set() if self.assume_required else set(self.must)
        #: tasks placed on all of their candidate nodes in every plan: y[t,n] is the constant 1
        #: and their intervals are mandatory
        self.fixed = {
            t for t in self.always if self.cand[t] and len(self.cand[t]) == p.tasks[t].replicas
        }
        #: scheduling with every task fixed: no placement decision is left, only times
        self.pure_scheduling = self.scheduling and len(self.fixed) == len(p.tasks)

    def _earliest_start(self, t: int) -> int | None:
        """Release, and the earliest end of every predecessor (whose candidates are known), or
        None when a predecessor has no candidate."""
        task = self.problem.tasks[t]
        lo = task.release or 0
        for q in task.after:
            ends = [self.window[q, n][0] + self.dur[q, n] for n in self.cand[q]]
            if not ends:
                return None
            lo = max(lo, min(ends))
        return lo

    # -- constraint families ---------------------------------------------------------------

    def _placement(self) -> None:
        """y[t,n]: a replica of t on n; p[t]: t placed. sum_n y[t,n] = replicas * p[t];
        p[t] = 1 for the tasks every plan must place. A task placed on all of its candidates in
        every plan has constants (variables fixed to 1) instead."""
        m = self.model
        nodes = self.problem.nodes
        for t in self.problem.tasks:
            if t.index in self.fixed:
                self.p.append(m.new_int_var(1, 1, f"p[{t.id}]"))
                for n in self.cand[t.index]:
                    self.y[t.index, n] = m.new_int_var(1, 1, f"y[{t.id},{nodes[n].id}]")
                continue
            pt = m.new_bool_var(f"p[{t.id}]")
            self.p.append(pt)
            ys = []
            for n in self.cand[t.index]:
                v = m.new_bool_var(f"y[{t.id},{nodes[n].id}]")
                self.y[t.index, n] = v
                ys.append(v)
            m.add(cp_model.LinearExpr.sum(ys) == t.replicas * pt)
            if t.index in self.always:
                m.add(pt == 1)

    def _gangs(self) -> None:
        """Members of a gang are placed all together or not at all."""
        for members in self.problem.gangs.values():
            for a, b in itertools.pairwise(members):
                self.model.add(self.p[a] == self.p[b])

    def _separation(self) -> None:
        """y[a,n] + y[b,n] <= 1 for every separated pair and shared candidate node."""
        for a in self.problem.tasks:
            for b in sorted(a.separate):
                if b <= a.index:
                    continue
                for n in self.cand[a.index]:
                    yb = self.y.get((b, n))
                    if yb is not None:
                        self.model.add_at_most_one(self.y[a.index, n], yb)

    def _spread(self) -> None:
        """Spread over a label: per value of the key (over the task's allowed nodes, whether or
        not they are candidates) the number of replicas there; the largest and the smallest
        of those counts differ by at most max_skew (an unplaced task has all counts 0)."""
        m = self.model
        for t in self.problem.tasks:
            sp = t.spread
            if sp is None or not sp.values:
                continue
            per: list[list[cp_model.IntVar]] = [[] for _ in sp.values]
            for n in self.cand[t.index]:
                v = sp.value_of.get(n)
                if v is not None:
                    per[v].append(self.y[t.index, n])
            lo = m.new_int_var(0, t.replicas, f"spread_lo[{t.id}]")
            hi = m.new_int_var(0, t.replicas, f"spread_hi[{t.id}]")
            for ys in per:
                count = cp_model.LinearExpr.sum(ys)
                m.add(count >= lo)
                m.add(count <= hi)
            m.add(hi - lo <= sp.max_skew)

    def _same_start(self) -> None:
        """Gangs that start together: one start variable per gang, equal to the start of
        every present replica of every member (zero-duration members included)."""
        m = self.model
        for gang in sorted(self.problem.same_start):
            members = self.problem.gangs.get(gang, ())
            g = m.new_int_var(0, self.horizon, f"gang_start[{gang}]")
            self.gang_start[gang] = g
            for t in members:
                for n in self.cand[t]:
                    self._when(m.add(self.start[t, n] == g), t, n)

    def _devices(self) -> None:
        """Devices: per node, split resource r (k devices of scaled size S) and candidate task
        t with a demand of r there, bools x[t,n,r,j] (t's replica uses device j) with
        ``sum_j x = m * y[t,n]`` (m = 1 for a share of a device, m whole devices otherwise).
        Per device, what its users take is at most S: a linear constraint (placement), or a
        cumulative over optional intervals [start, start + d) present iff x (scheduling;
        a no-overlap when no two users fit together, e.g. whole-device jobs).

        Symmetry: the devices of one node and resource are identical (same size; ``current``
        names nodes, never devices), so any plan can be relabelled to put them in the order
        of their first user (the lowest task index using each, ties in any order). With the
        users in ascending task order, that is ``x[i,j] <= sum_{i' <= i} x[i',j-1]``: a task
        uses device j only if it or an earlier task uses device j-1 (so unused devices come
        last). :meth:`canonical` relabels warm starts the same way.
        """
        m = self.model
        for n, tasks in enumerate(self.on_node):
            node = self.problem.nodes[n]
            for r, k in node.devices.items():
                size = self.dev_size[n, r]
                users = [t for t in tasks if r in self.dev_use.get((t, n), {})]
                if not users:
                    continue
                rows: list[list[cp_model.IntVar]] = []
                takes: list[int] = []
                for t in users:
                    need, take = self.dev_use[t, n][r]
                    name = f"{self.problem.tasks[t].id},{node.id},{r}"
                    xs = [m.new_bool_var(f"dev[{name},{j}]") for j in range(k)]
                    self.devx[t, n, r] = xs
                    m.add(cp_model.LinearExpr.sum(xs) == need * self.y[t, n])
                    rows.append(xs)
                    takes.append(take)
                for j in range(k):
                    if self.scheduling:
                        self._device_timeline(n, r, j, users, takes, size)
                    elif sum(takes) > size:
                        col = [row[j] for row in rows]
                        m.add(cp_model.LinearExpr.weighted_sum(col, takes) <= size)
                if self.device_symmetry and k > 1:
                    firsts = self._first_user_order(rows, k, f"{node.id},{r}")
                    self._firsts.append((n, r, users, firsts))

    def _first_user_order(
        self, rows: list[list[cp_model.IntVar]], k: int, name: str
    ) -> list[tuple[int, int, cp_model.IntVar]]:
        """``x[i,j] <= OR_{i' <= i} x[i',j-1]`` through prefix bools ``c[i,j]`` ("device j is
        used by one of the first i users"), linear in users x devices (the plain sums were
        quadratic: a million literals on a 200-task fleet, and presolve alone took 15 s)."""
        m = self.model
        made = []  # (i, j, c[i,j]) of the prefix bools that are new variables
        for j in range(k - 1):
            prev: cp_model.IntVar | None = None
            for i, row in enumerate(rows):
                x = row[j]
                if prev is None:
                    c = x  # the first user: c[0,j] = x[0,j]
                else:
                    c = m.new_bool_var(f"first[{name},{i},{j}]")
                    made.append((i, j, c))
                    m.add_implication(prev, c)
                    m.add_implication(x, c)
                    m.add_bool_or([prev, x]).only_enforce_if(c)
                m.add_implication(rows[i][j + 1], c)  # device j+1 only after device j
                prev = c
        return made

    def _device_timeline(
        self, n: int, r: str, j: int, users: list[int], takes: list[int], size: int
    ) -> None:
        """Scheduling: device j of (n, r) holds at most its size at every instant."""
        m = self.model
        items = []
        for t, take in zip(users, takes, strict=True):
            d = self.dur[t, n]
            if d <= 0 or take <= 0:
                continue  # zero-duration replicas occupy nothing (as in the evaluator)
            x = self.devx[t, n, r][j]
            name = f"{self.problem.tasks[t].id},{self.problem.nodes[n].id},{r},{j}"
            iv = m.new_optional_fixed_size_interval_var(self.start[t, n], d, x, f"devrun[{name}]")
            items.append((iv, take))
        if len(items) < 2 or sum(q for _, q in items) <= size:
            return
        if all(2 * q > size for _, q in items):
            m.add_no_overlap([iv for iv, _ in items])
        else:
            m.add_cumulative([iv for iv, _ in items], [q for _, q in items], size)

    def _capacity(self) -> None:
        """Placement: per node and resource, sum of scaled demands <= scaled capacity (left out
        when every candidate together fits)."""
        for n, tasks in enumerate(self.on_node):
            for r in self.problem.resources:
                terms = [(self.y[t, n], self.dem[t, n].get(r, 0)) for t in tasks]
                terms = [(v, q) for v, q in terms if q > 0]
                if not terms or sum(q for _, q in terms) <= self.cap[n][r]:
                    continue
                self.model.add(
                    cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [q for _, q in terms])
                    <= self.cap[n][r]
                )

    def _intervals(self) -> None:
        """Scheduling: per candidate pair an optional fixed-size interval [start, start + d)
        present iff y[t,n] (mandatory for fixed tasks), start in its window."""
        m = self.model
        self.interval: dict[Pair, cp_model.IntervalVar] = {}
        for (t, n), (lo, hi) in self.window.items():
            name = f"{self.problem.tasks[t].id},{self.problem.nodes[n].id}"
            s = m.new_int_var(lo, hi, f"start[{name}]")
            self.start[t, n] = s
            d = self.dur[t, n]
            if d <= 0:
                continue
            if t in self.fixed:
                self.interval[t, n] = m.new_fixed_size_interval_var(s, d, f"run[{name}]")
            else:
                self.interval[t, n] = m.new_optional_fixed_size_interval_var(
                    s, d, self.y[t, n], f"run[{name}]"
                )

    def _when(self, ct: cp_model.Constraint, t: int, n: int) -> None:
        """Enforce ``ct`` only when the replica of t on n is present (always, for fixed t)."""
        if t not in self.fixed:
            ct.only_enforce_if(self.y[t, n])

    def _precedence(self) -> None:
        """A task comes after every replica of each task in its `after`, and p[t] <= p[q].
        A fixed predecessor: start[t,n] >= start[q,m] + d directly for each of its replicas;
        otherwise through E[q] >= end[q,m] when present, start[t,n] >= E[q] when present."""
        m = self.model
        preds = {q for t in self.problem.tasks for q in t.after if q not in self.fixed}
        for q in sorted(preds):
            e = m.new_int_var(0, self.horizon, f"end[{self.problem.tasks[q].id}]")
            self.task_end[q] = e
            for n in self.cand[q]:
                self._when(m.add(e >= self.start[q, n] + self.dur[q, n]), q, n)
        for t in self.problem.tasks:
            ti = t.index
            for q in t.after:
                if q not in self.always:
                    m.add_implication(self.p[ti], self.p[q])
                for n in self.cand[ti]:
                    if q in self.fixed:
                        for k in self.cand[q]:
                            ct = m.add(self.start[ti, n] >= self.start[q, k] + self.dur[q, k])
                            self._when(ct, ti, n)
                    else:
                        self._when(m.add(self.start[ti, n] >= self.task_end[q]), ti, n)

    def _cumulative(self) -> None:
        """Per node and resource a cumulative over the intervals of positive duration and
        demand; its capacity is the scaled capacity, or a peak variable P[n,r] <= capacity when
        the balance term watches it. Zero-duration replicas occupy nothing. When no two of the
        intervals fit together (every demand > capacity / 2), a no-overlap instead (much
        stronger propagation, e.g. job shops), once per set of intervals."""
        m = self.model
        want_peak = "balance" in self.needed
        disjoint = self._disjoint
        for n, tasks in enumerate(self.on_node):
            for r in self.problem.resources:
                items = [
                    (self.interval[t, n], self.dem[t, n].get(r, 0))
                    for t in tasks
                    if (t, n) in self.interval and self.dem[t, n].get(r, 0) > 0
                ]
                if not items:
                    continue
                cap = self.cap[n][r]
                if want_peak and cap > 0:
                    peak = m.new_int_var(0, cap, f"peak[{self.problem.nodes[n].id},{r}]")
                    self.peak[n, r] = peak
                    m.add_cumulative([i for i, _ in items], [q for _, q in items], peak)
                elif sum(q for _, q in items) <= cap:
                    continue
                elif all(2 * q > cap for _, q in items):
                    key = tuple(sorted(i.index for i, _ in items))
                    if key not in disjoint:
                        disjoint.add(key)
                        m.add_no_overlap([i for i, _ in items])
                        self.disjunctive = True
                else:
                    m.add_cumulative([i for i, _ in items], [q for _, q in items], cap)

    def _disjunctive_cliques(self) -> None:
        """Redundant no-overlaps: per node, intervals no two of which can run together (their
        demands exceed a capacity of the node together, or one is a transitive predecessor of
        the other) form cliques; a no-overlap over each greedy maximal clique of at least three
        intervals that has a resource conflict in it. Left out on nodes whose intervals are
        already under one no-overlap, or with more than MAX_CLIQUE_ITEMS intervals."""
        p = self.problem
        eligible = []
        for n, tasks in enumerate(self.on_node):
            items = [t for t in tasks if (t, n) in self.interval]
            if 3 <= len(items) <= MAX_CLIQUE_ITEMS and (
                tuple(sorted(self.interval[t, n].index for t in items)) not in self._disjoint
            ):  # else: one no-overlap over all of them is there already
                eligible.append((n, items))
        if not eligible:
            return
        reach: dict[int, int] = {}  # transitive predecessors, as a bit set
        for t in topological_order(p):
            bits = 0
            for q in p.tasks[t].after:
                bits |= reach[q] | (1 << q)
            reach[t] = bits
        m = self.model
        for n, items in eligible:
            k = len(items)
            res = [0] * k  # per position in items: positions it has a resource conflict with
            for r, cap in self.cap[n].items():
                qs = sorted((q, i) for i, t in enumerate(items) if (q := self.dem[t, n].get(r, 0)))
                if len(qs) < 2 or qs[-1][0] + qs[-2][0] <= cap:
                    continue
                suffix = [0] * (len(qs) + 1)  # positions of the items from the j-th on
                for j in range(len(qs) - 1, -1, -1):
                    suffix[j] = suffix[j + 1] | (1 << qs[j][1])
                demands = [q for q, _ in qs]
                for q, i in qs:
                    res[i] |= suffix[bisect.bisect_right(demands, cap - q)] & ~(1 << i)
            adj = list(res)
            pos = {t: i for i, t in enumerate(items)}
            on_n = sum(1 << t for t in items)
            for i, t in enumerate(items):
                bits = reach[t] & on_n
                while bits:
                    low = bits & -bits
                    j = pos[low.bit_length() - 1]
                    adj[i] |= 1 << j
                    adj[j] |= 1 << i
                    bits ^= low
            if not any(res):
                continue
            order = sorted(range(k), key=lambda i: -adj[i].bit_count())
            found: list[int] = []
            budget = CLIQUE_REFS * k
            for first in order:
                clique, cand = 1 << first, adj[first]
                for i in order:
                    if cand >> i & 1:
                        clique |= 1 << i
                        cand &= adj[i]
                if clique.bit_count() < 3 or any(clique & f == clique for f in found):
                    continue
                if not any(res[i] & clique for i in range(k) if clique >> i & 1):
                    continue
                size = clique.bit_count()
                if size > budget:
                    break
                budget -= size
                found.append(clique)
                m.add_no_overlap([self.interval[items[i], n] for i in range(k) if clique >> i & 1])

    def _interchangeable(self) -> None:
        """Classes of pool members no task tells apart: same allowed status, assign_cost,
        demand, duration and `current` membership for every task (node attributes are the
        pool's)."""
        p = self.problem
        allowed_sets: dict[int, set[int]] = {}
        for members in p.pools.values():
            if len(members) < 2:
                continue
            parts = [sorted(members)]
            for t in p.tasks:
                if len(t.allowed) == len(p.nodes):
                    allowed = None
                else:
                    allowed = allowed_sets.get(id(t.allowed))
                    if allowed is None:
                        allowed = allowed_sets[id(t.allowed)] = set(t.allowed)
                refined: list[list[int]] = []
                for part in parts:
                    if len(part) < 2:
                        continue
                    keyed: dict[tuple[object, ...], list[int]] = defaultdict(list)
                    for n in part:
                        key = (
                            allowed is None or n in allowed,
                            (t.index, n) in self.dem,
                            t.cost_at(n),
                            tuple(sorted(t.demand_at(n).items())),
                            t.duration_at(p.nodes[n]) if self.scheduling else 0,
                            t.current is not None and n in t.current,
                        )
                        keyed[key].append(n)
                    refined.extend(keyed.values())
                parts = refined
            self.classes.extend(part for part in parts if len(part) >= 2)

    def _node_usage(self) -> None:
        """u[n]: node n runs something (y <= u, u <= sum y); only when a term or the symmetry
        breaking needs it."""
        nodes_needed = "nodes" in self.needed
        cost_needed = "cost" in self.needed and any(n.cost > 0 for n in self.problem.nodes)
        in_class = {n for c in self.classes for n in c}
        m = self.model
        for n, tasks in enumerate(self.on_node):
            if not tasks or not (nodes_needed or cost_needed or n in in_class):
                continue
            u = m.new_bool_var(f"u[{self.problem.nodes[n].id}]")
            self.u[n] = u
            ys = [self.y[t, n] for t in tasks]
            for v in ys:
                m.add_implication(v, u)
            m.add_bool_or(ys).only_enforce_if(u)

    def _symmetry_key(self, n: int, cls: list[int]) -> tuple[list[Pair], list[int]]:
        """Pairs and coefficients of the ordering key of node ``n`` in class ``cls``: load of
        the class's most used resource (placement) or number of replicas (scheduling)."""
        tasks = self.on_node[n]
        if self.scheduling:
            return [(t, n) for t in tasks], [1] * len(tasks)
        first = cls[0]
        best_r, best = None, Fraction(0)
        for r in self.problem.resources:
            cap = self.cap[first][r]
            if cap <= 0:
                continue
            use = Fraction(sum(self.dem[t, first].get(r, 0) for t in self.on_node[first]), cap)
            if use > best:
                best_r, best = r, use
        if best_r is None:
            return [(t, n) for t in tasks], [1] * len(tasks)
        coeffs = [self.dem[t, n].get(best_r, 0) for t in tasks]
        return [(t, n) for t in tasks], coeffs

    def _symmetry(self) -> None:
        """Interchangeable nodes are ordered: u[k] >= u[k+1] and key[k] >= key[k+1] (any plan
        can be relabelled within a class to satisfy both, see :meth:`canonical`)."""
        m = self.model
        self._keys: dict[int, tuple[list[Pair], list[int]]] = {}
        for cls in self.classes:
            for n in cls:
                self._keys[n] = self._symmetry_key(n, cls)
            for a, b in itertools.pairwise(cls):
                if a in self.u and b in self.u:
                    m.add(self.u[a] >= self.u[b])
                (pa, ca), (pb, cb) = self._keys[a], self._keys[b]
                ka = cp_model.LinearExpr.weighted_sum([self.y[q] for q in pa], ca)
                kb = cp_model.LinearExpr.weighted_sum([self.y[q] for q in pb], cb)
                m.add(ka >= kb)

    # -- objective terms (integer expressions; real value = expression / unit) ----------------

    def _term_unplaced(self) -> None:
        """sum of priority x replicas x (1 - p[t])."""
        sc = self.scales
        coeffs = [sc.priority_of(t.priority) * t.replicas for t in self.problem.tasks]
        self.terms["unplaced"] = sum(coeffs) - cp_model.LinearExpr.weighted_sum(self.p, coeffs)
        self.unit["unplaced"] = sc.priority

    def _term_cost(self) -> None:
        """assign_cost x y + node cost x u."""
        sc = self.scales
        vs: list[cp_model.IntVar] = []
        cs: list[int] = []
        for (t, n), v in self.y.items():
            c = sc.cost_of(self.problem.tasks[t].cost_at(n))
            if c:
                vs.append(v)
                cs.append(c)
        for n, u in self.u.items():
            c = sc.cost_of(self.problem.nodes[n].cost)
            if c:
                vs.append(u)
                cs.append(c)
        self.terms["cost"] = cp_model.LinearExpr.weighted_sum(vs, cs)
        self.unit["cost"] = sc.cost

    def _term_nodes(self) -> None:
        """sum of u."""
        self.terms["nodes"] = cp_model.LinearExpr.sum(list(self.u.values()))
        self.unit["nodes"] = Fraction(1)

    def _term_balance(self) -> None:
        """B in [0, S]: S x load[n,r] <= B x cap[n,r] for every node and resource with capacity
        > 0 that a candidate uses (placement: load = sum demand x y; scheduling: load = the peak
        P[n,r], the capacity of that cumulative). B / S is the balance rounded up to 1/S."""
        m, s = self.model, self.scales.balance
        b = m.new_int_var(0, s, "balance")
        self.balance_var = b
        if self.scheduling:
            for (n, r), peak in self.peak.items():
                self.balance_loads.append((peak, self.cap[n][r]))
        else:
            for n, tasks in enumerate(self.on_node):
                for r in self.problem.resources:
                    cap = self.cap[n][r]
                    items = [(self.y[t, n], self.dem[t, n].get(r, 0)) for t in tasks]
                    items = [(v, q) for v, q in items if q > 0]
                    if cap <= 0 or not items:
                        continue
                    load = cp_model.LinearExpr.weighted_sum(
                        [v for v, _ in items], [q for _, q in items]
                    )
                    self.balance_loads.append((load, cap))
        for watched, cap in self.balance_loads:
            m.add(s * watched <= cap * b)
        self.terms["balance"] = b
        self.unit["balance"] = Fraction(s)

    def _term_makespan(self) -> None:
        """M >= start + d of every present replica; M at least the trivial bound."""
        m = self.model
        lb = min(self.trivial_bound("makespan") or 0, self.horizon)
        ms = m.new_int_var(lb, self.horizon, "makespan")
        for (t, n), s in self.start.items():
            if self.problem.tasks[t].service:
                continue  # makespan ignores services (FORMATS.md)
            self._when(m.add(ms >= s + self.dur[t, n]), t, n)
        self.terms["makespan"] = ms
        self.unit["makespan"] = Fraction(1)

    def _term_tardiness(self) -> None:
        """priority x L[t,n], L[t,n] >= start + d - due when present, L >= 0 (per replica)."""
        m, sc = self.model, self.scales
        vs: list[cp_model.IntVar] = []
        cs: list[int] = []
        for (t, n), s in self.start.items():
            task = self.problem.tasks[t]
            w = sc.priority_of(task.priority)
            if task.due is None or w == 0:
                continue
            hi = self.window[t, n][1] + self.dur[t, n] - task.due
            if hi <= 0:
                continue
            late = m.new_int_var(0, hi, f"late[{task.id},{self.problem.nodes[n].id}]")
            self._when(m.add(late >= s + self.dur[t, n] - task.due), t, n)
            vs.append(late)
            cs.append(w)
        self.terms["tardiness"] = cp_model.LinearExpr.weighted_sum(vs, cs)
        self.unit["tardiness"] = sc.priority

    def _term_moves(self) -> None:
        """Replicas of tasks with `current` placed off their current nodes."""
        vs = [
            v
            for (t, n), v in self.y.items()
            if (cur := self.problem.tasks[t].current) is not None and n not in cur
        ]
        self.terms["moves"] = cp_model.LinearExpr.sum(vs)
        self.unit["moves"] = Fraction(1)
        if self.problem.max_moves is not None:
            self.model.add(self.terms["moves"] <= self.problem.max_moves)

    # -- plans -----------------------------------------------------------------------------

    def plan_from(self, value: Callable[[cp_model.IntVar], int]) -> Placement:
        """The placement given by solver values (``value(var)``), with its devices
        (:class:`DevicePlan`) when the problem has any."""
        out: Placement = {}
        for t in self.problem.tasks:
            reps = []
            for n in self.cand[t.index]:
                if value(self.y[t.index, n]):
                    s = int(value(self.start[t.index, n])) if self.scheduling else None
                    reps.append((n, s))
            if reps:
                out[t.index] = reps
        if not self.devx:
            return out
        plan = DevicePlan(out)
        for (ti, n, r), xs in self.devx.items():
            if ti in out and value(self.y[ti, n]):
                used = tuple(j for j, x in enumerate(xs) if value(x))
                plan.devices.setdefault((ti, n), {})[r] = used
        return plan

    def assignments(self, plan: Placement) -> list[Assignment]:
        """Replica numbers follow node order (replicas of a task are identical); devices from
        a :class:`DevicePlan`."""
        out = assignments_of(self.problem, plan)
        devices = getattr(plan, "devices", None)
        if not devices:
            return out
        ni, ti = self.problem.node_index, self.problem.task_index
        return [dataclasses.replace(a, devices=devices.get((ti[a.task], ni[a.node]))) for a in out]

    def placement_of(self, assignments: list[Assignment]) -> Placement:
        """The placement of a list of assignments (unknown tasks and nodes are dropped), with
        their devices when they list any."""
        out = placement_of(self.problem, assignments)
        if not self.devx:
            return out
        plan = DevicePlan(out)
        ti, ni = self.problem.task_index, self.problem.node_index
        for a in assignments:
            t, n = ti.get(a.task), ni.get(a.node)
            if t is not None and n is not None and a.devices:
                plan.devices[t, n] = dict(a.devices)
        return plan

    def canonical(self, plan: Placement) -> Placement:
        """The same plan with interchangeable nodes relabelled to satisfy the symmetry
        breaking (classes sorted by key, then use, descending), and the devices of each node
        and resource relabelled in the order of their first user (see :meth:`_devices`)."""
        if self.classes:
            plan = self._canonical_nodes(plan)
        devices = getattr(plan, "devices", None)
        if not devices or not self.device_symmetry:
            return plan
        users: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)  # device -> first
        for (t, n), per in devices.items():
            for r, idx in per.items():
                first = users[n, r]
                for j in idx:
                    first[j] = min(first.get(j, t), t)
        new = DevicePlan(plan)
        for (t, n), per in devices.items():
            moved = {}
            for r, idx in per.items():
                k = self.problem.nodes[n].devices.get(r, 0)
                first = users[n, r]
                order = sorted(range(k), key=lambda j: (first.get(j, len(self.problem.tasks)), j))
                where = {j: i for i, j in enumerate(order)}
                moved[r] = tuple(sorted(where.get(j, j) for j in idx))
            new.devices[t, n] = moved
        return new

    def _canonical_nodes(self, plan: Placement) -> Placement:
        on: dict[int, set[int]] = defaultdict(set)
        for t, reps in plan.items():
            for n, _ in reps:
                on[n].add(t)
        relabel: dict[int, int] = {}
        for cls in self.classes:

            def rank(n: int, cls: list[int] = cls) -> tuple[int, int, int]:
                pairs, coeffs = self._keys.get(n, ([], []))
                key = sum(c for (t, _), c in zip(pairs, coeffs, strict=True) if t in on[n])
                return (-key, -int(bool(on[n])), n)

            for target, source in zip(cls, sorted(cls, key=rank), strict=True):
                relabel[source] = target
        out: Placement = {t: [(relabel.get(n, n), s) for n, s in reps] for t, reps in plan.items()}
        devices = getattr(plan, "devices", None)
        if devices is None:
            return out
        moved = DevicePlan(out)
        moved.devices = {(t, relabel.get(n, n)): per for (t, n), per in devices.items()}
        return moved

    def hint(self, plan: Placement) -> list[tuple[cp_model.IntVar, int]]:
        """Hint values of y, p, start and u for a plan (pairs that are no candidate are
        skipped)."""
        out: list[tuple[cp_model.IntVar, int]] = []
        used: set[int] = set()
        chosen: dict[Pair, int | None] = {}
        for t, reps in plan.items():
            for n, s in reps:
                chosen[t, n] = s
                used.add(n)
        for task in self.problem.tasks:
            out.append((self.p[task.index], int(task.index in plan)))
        for pair, v in self.y.items():
            out.append((v, int(pair in chosen)))
            if self.scheduling:
                s = chosen.get(pair)
                lo, hi = self.window[pair]
                out.append((self.start[pair], min(max(s, lo), hi) if s is not None else lo))
        for n, u in self.u.items():
            out.append((u, int(n in used)))
        devices = getattr(plan, "devices", None) or {}
        for (t, n, r), xs in self.devx.items():
            if (t, n) not in chosen:
                out.extend((x, 0) for x in xs)
            elif (idx := devices.get((t, n), {}).get(r)) is not None:
                out.extend((x, int(j in idx)) for j, x in enumerate(xs))
        for n, r, users, firsts in self._firsts:
            seen: list[set[int]] = []  # devices used by the first i users
            acc: set[int] = set()
            for t in users:
                if (t, n) in chosen:
                    acc = acc | set(devices.get((t, n), {}).get(r, ()))
                seen.append(acc)
            out.extend((c, int(j in seen[i])) for i, j, c in firsts)
        for gang, g in self.gang_start.items():
            members = self.problem.gangs.get(gang, ())
            starts = [s for t in members for _, s in plan.get(t, []) if s is not None]
            if starts:
                out.append((g, min(max(min(starts), 0), self.horizon)))
        return out

    def exact_balance(self, plan: Placement) -> Fraction:
        """The balance of a plan in scaled integers (exact when the resource scaling is)."""
        loads: dict[tuple[int, str], int] = defaultdict(int)
        if not self.scheduling:
            for t, reps in plan.items():
                for n, _ in reps:
                    for r, q in self.dem.get((t, n), {}).items():
                        loads[n, r] += q
        else:
            events: dict[int, list[tuple[int, int, Mapping[str, int]]]] = defaultdict(list)
            for t, reps in plan.items():
                for n, s in reps:
                    d = self.dur.get((t, n), 0)
                    if d > 0 and s is not None:
                        dem: Mapping[str, int] = self.dem.get((t, n), {})
                        events[n].append((s, 1, dem))
                        events[n].append((s + d, 0, dem))
            for n, evs in events.items():
                cur: dict[str, int] = defaultdict(int)
                for _, kind, change in sorted(evs, key=lambda e: (e[0], e[1])):
                    for r, q in change.items():
                        cur[r] += q if kind else -q
                        loads[n, r] = max(loads[n, r], cur[r])
        best = Fraction(0)
        for (n, r), q in loads.items():
            cap = self.cap[n][r]
            if cap > 0 and Fraction(q, cap) > best:
                best = Fraction(q, cap)
        return best

    def trivial_bound(self, term: str) -> int | None:
        """A lower bound of a term known without search (scaled; None for balance): the
        priority of tasks with fewer candidates than replicas, one node when something must be
        placed, the latest earliest end of a must-place task, 0 otherwise."""
        p = self.problem
        if term == "unplaced":
            return sum(
                self.scales.priority_of(t.priority) * t.replicas
                for t in p.tasks
                if len(self.cand[t.index]) < t.replicas
            )
        if term == "nodes":
            return 1 if self.must else 0
        if term == "makespan":
            return self._makespan_bound()
        if term in ("cost", "moves", "tardiness"):
            return 0
        return None

    def _makespan_bound(self) -> int:
        """The latest earliest end of a task every plan places (its window starts after its
        predecessors' earliest ends), and per node and resource, the earliest start of the
        fixed replicas there plus their energy divided by the capacity (rounded up)."""
        if self._ms_bound is not None:
            return self._ms_bound
        best = 0
        services = {t.index for t in self.problem.tasks if t.service}
        for t in self.always - services:
            ends = [self.window[t, n][0] + self.dur[t, n] for n in self.cand[t]]
            if ends:
                best = max(best, min(ends))
        for n, tasks in enumerate(self.on_node):
            for r, cap in self.cap[n].items():
                if cap <= 0:
                    continue
                energy, first = 0, None
                for t in tasks:
                    d, q = self.dur[t, n], self.dem[t, n].get(r, 0)
                    if t in self.fixed and d > 0 and q > 0 and t not in services:
                        energy += d * q
                        lo = self.window[t, n][0]
                        first = lo if first is None else min(first, lo)
                if first is not None:
                    best = max(best, first + -(-energy // cap))
        self._ms_bound = best
        return best

    def limit_balance(self, value: Fraction, *, strict: bool) -> list[cp_model.Constraint]:
        """Constraints 'every watched utilisation < value' (strict) or '<= value'."""
        out = []
        a, b = value.numerator, value.denominator
        for load, cap in self.balance_loads:
            top = (a * cap - 1) // b if strict else (a * cap) // b
            out.append(self.model.add(load <= top))
        return out
