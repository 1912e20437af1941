"""Lower bounds for placement objectives without the full model: the LP relaxation, aggregated.

CP-SAT's own bound on a large placement model is useless (0 on cloud balancing). The bound here
is the optimum of the linear relaxation of the placement model, solved with GLOP
(``ortools.linear_solver.pywraplp``), after aggregating what the relaxation cannot tell apart:

* node *types*: nodes with the same capacity vector and node cost, and the same role in every
  ``assign_cost``, ``demand_on`` and allowed set (``nodes``/``match``) of the problem;
* task *classes*: tasks with the same default demand, replicas, priority, must-place status and
  the same candidate types, cheapest assign cost and smallest ``demand_on`` demand per type
  (and, with ``moves``, the types holding one of their ``current`` nodes).

Variables: ``x[k,j] >= 0`` replicas of class k on type j (candidates only), ``P[k] in [0,
count_k]`` placed tasks of class k (``= count_k`` for must-place ones), ``U[j] in [0, size_j]``
used nodes of type j (only when node cost or ``nodes`` counts). Constraints: ``sum_j x[k,j] =
replicas_k * P[k]``; ``x[k,j] <= size_j * P[k]`` (distinct nodes per task); per type and
resource ``sum_k demand * x[k,j] <= capacity_j * U[j]``; ``x[k,j] <= count_k * U[j]`` (a replica
only on a used node). Averaging any plan over the members of each type and class gives a
solution of this LP with the same objective (costs and demands there are the minima over the
members, so a plan can only cost more), so its optimum is a lower bound; gangs and separation
are left out (a relaxation too).

Lexicographic objectives are bounded stage by stage: stage i minimises term i with every
earlier term at most its (rounded-up) stage bound; that bound is valid for a plan whose earlier
terms reach their stage bounds, which is when they are proven. Terms take values on the grid of
their scale (priorities, costs: 1/factor; nodes, moves: 1), so each stage bound is rounded up to
the grid (after a relative tolerance of 1e-7 for the LP's floating point). ``weights``
objectives get one LP of the weighted sum.

When GLOP does not finish within its share of the time (:data:`LP_SHARE`), the trivially known
bounds remain: ``unplaced`` >= the priority of tasks with fewer candidates than replicas,
``nodes`` >= 1 when something must be placed, 0 otherwise. The LP runs in a thread beside the
search (GLOP releases the GIL), in deterministic mode at once and without a time limit.

Other bounds enter through :meth:`Bounds.merge` (the exact path's stage bounds, in the hybrid)
and :meth:`Bounds.raise_cost` (for assignment-shaped problems, where every task must be placed:
the Lagrangian bound of :mod:`.lagrange`, or the optimum once pair elimination proved it); the
highest valid one is kept and the message names it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from taskalloc.problems.problem import Objective

from ..flat import Flat
from ..stages import gap_text

LP_SHARE = 0.4  # share of the time limit GLOP may use
MAX_LINK_ROWS = 5_000  # x <= count * U rows only up to this many pairs (on large problems
# they did not move the bound and tripled GLOP's time)
MAX_FINE_TYPES = 100  # more node types than this: types by (capacity, cost) only
REL_TOL = 1e-7


def _grid(value: float, unit: float) -> float:
    """Round a lower bound up to the grid 1/unit, after a small tolerance."""
    scaled = value * unit
    scaled -= REL_TOL * max(1.0, abs(scaled))
    return math.ceil(scaled) / unit


class Bounds:
    """Stage bounds of a placement objective (see the module docstring)."""

    def __init__(self, flat: Flat, order: Sequence[str], objective: Objective) -> None:
        self.f = flat
        self.order = list(order)
        self.objective = objective
        sc = flat.scales
        self.units = {
            "unplaced": float(sc.priority),
            "cost": float(sc.cost),
            "nodes": 1.0,
            "moves": 1.0,
        }
        self.exact = {
            "unplaced": sc.priority_exact,
            "cost": sc.cost_exact,
            "nodes": True,
            "moves": True,
        }
        self.notes: list[str] = []
        self.method = "trivial"
        self._lex: dict[str, float] = self._trivial()
        self._weighted: float | None = None
        self._ready = False
        self.lp_seconds: float | None = None
        self.solver: Any = None  # the running LP, for interruption
        self._lock = threading.Lock()
        self.lagrangian: float | None = None  # the Lagrangian bound of the cost, when known
        #: the LP's solution at the ``cost`` stage (node types used, classes on types), when
        #: node costs count: what :func:`.construct.lp_rounding` rounds into a plan
        self.primal: LpSolution | None = None

    # -- trivial bounds --------------------------------------------------------------------

    def _trivial(self) -> dict[str, float]:
        f = self.f
        out: dict[str, float] = {}
        if self.objective.kind != "lexicographic":
            return out
        for term in self.order:
            if term == "unplaced":
                never = [
                    t
                    for t in range(f.T)
                    if int(np.count_nonzero(f.cand_mask(t))) < int(f.replicas[t])
                ]
                out[term] = float(sum(int(f.prio[t] * f.replicas[t]) for t in never)) / float(
                    f.scales.priority
                )
            elif term == "nodes":
                out[term] = 1.0 if bool(f.must.any()) else 0.0
            else:
                out[term] = 0.0
            break  # later stages are conditional on this one; the LP gives them
        return out

    def merge(self, known: Mapping[str, float]) -> None:
        """Take bounds proven elsewhere (the exact path's ``Result.bound``, same stages)."""
        with self._lock:
            if self.objective.kind == "lexicographic":
                lex = dict(self._lex)
                for term in self.order:
                    if term not in known:
                        break
                    lex[term] = max(lex.get(term, -math.inf), known[term])
                self._lex = lex
            elif "weighted" in known:
                self._weighted = max(self._weighted or -math.inf, known["weighted"])

    def raise_cost(self, value: float, method: str) -> None:
        """A lower bound of the cost for a problem whose earlier terms are 0 in every plan
        (every task must be placed): the Lagrangian bound, or the optimum once proved."""
        if self.objective.kind != "lexicographic":
            return
        value = _grid(value, self.units["cost"]) if self.exact["cost"] else value
        with self._lock:
            lex = dict(self._lex)
            for term in self.order:
                if term == "cost":
                    break
                lex.setdefault(term, 0.0)
            if value > lex.get("cost", -math.inf):
                lex["cost"] = value
                self.method = method
            self._lex = lex

    # -- queries ---------------------------------------------------------------------------

    def ready(self) -> bool:
        return self._ready

    def lexicographic(self) -> dict[str, float]:
        return dict(self._lex)

    def weighted(self) -> float | None:
        return self._weighted

    def _real(self, terms: Mapping[str, int], term: str) -> float:
        return terms[term] / self.units[term]

    def proven_terms(self, terms: Mapping[str, int]) -> list[str]:
        """The leading lexicographic terms the plan ``terms`` (scaled) is proven optimal on."""
        out = []
        for term in self.order:
            lb = self._lex.get(term)
            if lb is None or not self.exact[term]:
                break
            if self._real(terms, term) > lb + 1e-9 * max(1.0, abs(lb)):
                break
            out.append(term)
        return out

    def proves(self, terms: Mapping[str, int]) -> bool:
        if self.objective.kind == "lexicographic":
            return len(self.proven_terms(terms)) == len(self.order)
        if self._weighted is None:
            return False
        value = sum(self.objective.weights[t] * self._real(terms, t) for t in self.order)
        # the bound is the LP's value lowered by REL_TOL (its floating point): a plan that
        # reaches the LP's value is optimal (with 1e-9 alone, a plan of value 0 against a bound
        # of -1e-7 was never proven, and the LNS ran to its limit)
        slack = (REL_TOL + 1e-9) * max(1.0, abs(self._weighted))
        return value <= self._weighted + slack

    def report(self, terms: Mapping[str, int]) -> dict[str, float]:
        """Result.bound: lexicographic terms up to the first unproven one; ``weighted``."""
        if self.objective.kind != "lexicographic":
            return {} if self._weighted is None else {"weighted": self._weighted}
        out: dict[str, float] = {}
        proven = self.proven_terms(terms)
        for term in self.order:
            lb = self._lex.get(term)
            if lb is None or not self.exact[term]:
                break
            out[term] = self._real(terms, term) if term in proven else lb
            if term not in proven:
                break
        return out

    def summary(self, terms: Mapping[str, int], values: Mapping[str, float]) -> str:
        obj = self.objective
        if obj.kind == "weights":
            value = sum(obj.weights[t] * values[t] for t in self.order)
            if self._weighted is None:
                return f"weights: {value:.6g}, no bound"
            gap = "0% gap" if self.proves(terms) else gap_text(value, self._weighted)
            return f"weights: {value:.6g}, {gap} to the {self.method} bound"
        proven = self.proven_terms(terms)
        parts = []
        for term in self.order:
            if term in proven:
                parts.append(f"{term} optimal")
                continue
            lb = self._lex.get(term)
            if lb is None or not self.exact[term]:
                parts.append(f"{term} not proven")
            else:
                parts.append(f"{term} {gap_text(values[term], lb)} to the {self.method} bound")
            break
        parts.extend(f"{t} not proven" for t in self.order[len(parts) :])
        return "lexicographic: " + ", ".join(parts)

    # -- the LP ----------------------------------------------------------------------------

    def compute(self, time_limit: float | None) -> None:
        """Solve the aggregated LP stage by stage within ``time_limit`` seconds."""
        t0 = time.perf_counter()
        try:
            self._compute(time_limit, t0)
        finally:
            self.lp_seconds = time.perf_counter() - t0
            self._ready = True

    def _compute(self, time_limit: float | None, t0: float) -> None:
        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

        f = self.f
        lp = _Aggregate(f, self.order)
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:
            self.notes.append("no LP solver: trivial bounds only")
            return
        self.solver = solver
        inf = solver.infinity()
        x: dict[tuple[int, int], Any] = {}
        P: list[Any] = []
        U: list[Any] = []
        need_u = "nodes" in self.order or ("cost" in self.order and f.any_node_cost)
        for size in lp.type_size:
            if need_u:
                U.append(solver.NumVar(0.0, float(size), ""))
        cap_rows: dict[tuple[int, int], Any] = {}
        for j, size in enumerate(lp.type_size):
            for r in range(f.R):
                cap = float(lp.type_cap[j, r])
                if need_u:
                    row = solver.Constraint(-inf, 0.0)
                    row.SetCoefficient(U[j], -cap)
                else:
                    row = solver.Constraint(-inf, cap * size)
                cap_rows[j, r] = row
        n_pairs = sum(len(c.types) for c in lp.classes)
        link = need_u and n_pairs <= MAX_LINK_ROWS
        for k, c in enumerate(lp.classes):
            if c.must:
                pk = solver.NumVar(float(c.count), float(c.count), "")
            else:
                pk = solver.NumVar(0.0, float(c.count), "")
            P.append(pk)
            row = solver.Constraint(0.0, 0.0)
            row.SetCoefficient(pk, -float(c.replicas))
            for j, (_, dem, _) in c.types.items():
                size = lp.type_size[j]
                v = solver.NumVar(0.0, float(c.count * min(size, c.replicas)), "")
                x[k, j] = v
                row.SetCoefficient(v, 1.0)
                if not c.must and size < c.replicas:  # else implied by the upper bound
                    per = solver.Constraint(-inf, 0.0)
                    per.SetCoefficient(v, 1.0)
                    per.SetCoefficient(pk, -float(size))
                for r in range(f.R):
                    if dem[r] > 0:
                        cap_rows[j, r].SetCoefficient(v, float(dem[r]))
                if link:
                    lk = solver.Constraint(-inf, 0.0)
                    lk.SetCoefficient(v, 1.0)
                    lk.SetCoefficient(U[j], -float(c.count))
        # term expressions (real units), as coefficient maps
        exprs: dict[str, dict[Any, float]] = {}
        consts: dict[str, float] = defaultdict(float)
        u_unp = self.units["unplaced"]
        e_unp: dict[Any, float] = {}
        for k, c in enumerate(lp.classes):
            w = float(c.prio) * c.replicas / u_unp
            consts["unplaced"] += w * c.count
            e_unp[P[k]] = -w
        exprs["unplaced"] = e_unp
        u_cost = self.units["cost"]
        e_cost: dict[Any, float] = {}
        e_moves: dict[Any, float] = {}
        for k, c in enumerate(lp.classes):
            for j, (acost, _, current) in c.types.items():
                if acost:
                    e_cost[x[k, j]] = acost / u_cost
                if c.has_current and not current:
                    e_moves[x[k, j]] = 1.0
        if need_u:
            for j in range(len(lp.type_size)):
                if lp.type_cost[j]:
                    e_cost[U[j]] = float(lp.type_cost[j]) / u_cost
        exprs["cost"] = e_cost
        exprs["moves"] = e_moves
        exprs["nodes"] = {u: 1.0 for u in U}

        def minimise(coeffs: Mapping[Any, float], const: float) -> float | None:
            left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            if left is not None:
                if left <= 0.05:
                    return None
                solver.SetTimeLimit(max(1, int(left * 1000)))
            obj = solver.Objective()
            obj.Clear()
            for v, a in coeffs.items():
                obj.SetCoefficient(v, a)
            obj.SetMinimization()
            status = solver.Solve()
            if status != pywraplp.Solver.OPTIMAL:
                return None
            return float(obj.Value()) + const

        if self.objective.kind == "lexicographic":
            for term in self.order:
                value = minimise(exprs[term], consts[term])
                if value is None:
                    self.notes.append(f"LP relaxation not solved in time at stage {term}")
                    break
                if term == "cost" and need_u:
                    self.primal = LpSolution(
                        lp,
                        np.array([u.solution_value() for u in U]),
                        {kj: v.solution_value() for kj, v in x.items()},
                    )
                lb = _grid(value, self.units[term]) if self.exact[term] else value
                with self._lock:
                    lex = dict(self._lex)
                    if lb > lex.get(term, -math.inf):
                        lex[term] = lb
                        self.method = "LP"
                    lb = lex[term]
                    self._lex = lex
                # later stages: this term at most its bound
                cap = solver.Constraint(-inf, lb - consts[term] + REL_TOL * max(1.0, abs(lb)))
                for v, a in exprs[term].items():
                    cap.SetCoefficient(v, a)
        else:
            weights = self.objective.weights
            total: dict[Any, float] = defaultdict(float)
            const = 0.0
            for term in self.order:
                w = float(weights[term])
                for v, a in exprs[term].items():
                    total[v] += w * a
                const += w * consts[term]
            value = minimise(total, const)
            if value is None:
                self.notes.append("LP relaxation not solved in time")
            else:
                self._weighted = value - REL_TOL * max(1.0, abs(value))
                self.method = "LP"
        self.notes.append(
            f"bound: LP relaxation (GLOP) over {len(lp.classes)} task classes x "
            f"{len(lp.type_size)} node types"
        )

    def interrupt(self) -> None:
        solver = self.solver
        if solver is not None:
            solver.InterruptSolve()


class LpSolution:
    """The aggregated LP's solution: ``used[j]`` nodes of type j (fractional) and
    ``placed[k, j]`` replicas of task class k on type j, with the aggregation (``types``: the
    type of each node, ``task_class``: the class of each task)."""

    def __init__(self, agg: _Aggregate, used: np.ndarray, placed: dict[tuple[int, int], float]):
        self.type_of = agg.type_of
        self.task_class = agg.task_class
        self.used = used
        self.placed = placed


class _Class:
    __slots__ = ("count", "has_current", "must", "prio", "replicas", "types")

    def __init__(
        self,
        replicas: int,
        prio: int,
        must: bool,
        types: dict[int, tuple[int, np.ndarray, bool]],
        has_current: bool,
    ) -> None:
        self.count = 0
        self.replicas = replicas
        self.prio = prio
        self.must = must
        self.types = types  # type -> (cheapest assign cost, smallest demand, holds a current)
        self.has_current = has_current


class _Aggregate:
    """Node types and task classes of the aggregated LP (see the module docstring)."""

    def __init__(self, flat: Flat, order: Sequence[str]) -> None:
        f = flat
        p = f.problem
        type_of = self._types(f, fine=True)
        if int(type_of.max(initial=0)) + 1 > MAX_FINE_TYPES:
            type_of = self._types(f, fine=False)
        self.type_of = type_of
        J = int(type_of.max(initial=0)) + 1
        self.type_size = np.bincount(type_of, minlength=J)
        first = np.zeros(J, dtype=np.int64)
        first[type_of[::-1]] = np.arange(f.N)[::-1]
        self.type_cap = f.cap[first]
        self.type_cost = f.node_cost[first]
        with_moves = "moves" in order
        classes: dict[tuple[Any, ...], _Class] = {}
        index: dict[int, int] = {}  # id(class) -> position
        #: the class of every task (for rounding the LP's solution: :mod:`.construct`)
        self.task_class = np.zeros(f.T, dtype=np.int64)
        plain: dict[tuple[int, int], tuple[tuple[Any, ...], dict[int, Any]]] = {}
        for t in p.tasks:
            ti = t.index
            ac = f.acost[ti]
            on = f.dem_on.get(ti)
            cur = t.current if with_moves else None
            row = int(f.dem_row[ti])
            if not ac and on is None and cur is None:
                pkey = (row, id(t.allowed))
                hit = plain.get(pkey)
                if hit is None:
                    js = np.flatnonzero(np.bincount(type_of[f.cand_mask(ti)], minlength=J))
                    types0: dict[int, Any] = {int(j): (0, f.dem[ti], False) for j in js}
                    hit = plain[pkey] = (("p", row, tuple(types0)), types0)
                tkey, types = hit
            else:
                cand = np.flatnonzero(f.cand_mask(ti))
                cnt = np.bincount(type_of[cand], minlength=J)
                types = {int(j): (0, f.dem[ti], False) for j in np.flatnonzero(cnt)}
                if ac:  # cheapest: 0 when a candidate of the type has no assign cost
                    per: dict[int, list[int]] = defaultdict(list)
                    for n, c in ac.items():
                        if f.cand_mask(ti)[n]:
                            per[int(type_of[n])].append(c)
                    for j, cs in per.items():
                        if len(cs) == cnt[j]:
                            types[j] = (min(cs), types[j][1], False)
                if on is not None:  # smallest: the default demand when a candidate has none
                    per_d: dict[int, list[np.ndarray]] = defaultdict(list)
                    for n, vec in on.items():
                        if f.cand_mask(ti)[n]:
                            per_d[int(type_of[n])].append(vec)
                    for j, vs in per_d.items():
                        low = np.minimum.reduce(vs)
                        if len(vs) < cnt[j]:
                            low = np.minimum(low, f.dem[ti])
                        types[j] = (types[j][0], low, False)
                if cur is not None:
                    for n in cur:
                        j = int(type_of[n])
                        if j in types and f.cand_mask(ti)[n]:
                            types[j] = (types[j][0], types[j][1], True)
                tkey = (
                    "s",
                    row,
                    tuple(sorted((j, c, d.tobytes(), inc) for j, (c, d, inc) in types.items())),
                )
            must = bool(f.must[ti])
            key = (tkey, int(f.replicas[ti]), 0 if must else int(f.prio[ti]), must, cur is not None)
            cls = classes.get(key)
            if cls is None:
                cls = classes[key] = _Class(
                    int(f.replicas[ti]), int(f.prio[ti]), bool(f.must[ti]), types, cur is not None
                )
            cls.count += 1
            self.task_class[ti] = index.setdefault(id(cls), len(index))
        self.classes = list(classes.values())

    @staticmethod
    def _types(f: Flat, *, fine: bool) -> np.ndarray:
        """Type per node: (capacity, node cost) and, when ``fine``, the node's role in every
        ``assign_cost``, ``demand_on`` and allowed set."""
        sig: list[list[Any]] = [[] for _ in range(f.N)]
        if fine:
            seen_allowed: set[int] = set()
            for t in f.problem.tasks:
                if len(t.allowed) != f.N and id(t.allowed) not in seen_allowed:
                    seen_allowed.add(id(t.allowed))
                    tag = ("a", len(seen_allowed))
                    for n in t.allowed:
                        sig[n].append(tag)
                for n, c in f.acost[t.index].items():
                    sig[n].append(("c", t.index, c))
                for n, vec in f.dem_on.get(t.index, {}).items():
                    sig[n].append(("d", t.index, vec.tobytes()))
        keys: dict[tuple[Any, ...], int] = {}
        type_of = np.zeros(f.N, dtype=np.int64)
        for n in range(f.N):
            key = (f.cap[n].tobytes(), int(f.node_cost[n]), tuple(sig[n]))
            j = keys.get(key)
            if j is None:
                j = keys[key] = len(keys)
            type_of[n] = j
        return type_of


class BoundTask:
    """Runs :meth:`Bounds.compute` beside the search (a thread: GLOP releases the GIL), or at
    once in deterministic mode."""

    def __init__(
        self, bounds: Bounds, *, deterministic: bool, time_limit: float | None, t0: float
    ) -> None:
        self.bounds = bounds
        self.deterministic = deterministic
        self.time_limit = time_limit
        self.t0 = t0
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self, limit: float | None) -> None:
        try:
            self.bounds.compute(limit)
        except Exception as exc:  # a failing bound must not lose the plan
            self.error = exc
            self.bounds.notes.append(f"LP bound failed: {exc}")

    def start(self) -> None:
        if self.deterministic:
            self._run(None)
            return
        limit = None if self.time_limit is None else LP_SHARE * self.time_limit
        self.thread = threading.Thread(target=self._run, args=(limit,), daemon=True)
        self.thread.start()

    def wait(self, seconds: float | None) -> bool:
        """Wait at most ``seconds`` for the LP (None: as long as it takes); True when it is
        done."""
        th = self.thread
        if th is not None:
            th.join(timeout=seconds)
        return self.bounds.ready()

    def finish(self, stop: threading.Event | None) -> None:
        th = self.thread
        if th is None:
            return
        if stop is not None and stop.is_set():
            self.bounds.interrupt()
            th.join(timeout=0.5)
            return
        left = None
        if self.time_limit is not None:
            left = max(0.0, self.time_limit - (time.perf_counter() - self.t0))
        th.join(timeout=left)
        if th.is_alive():
            self.bounds.interrupt()
            th.join(timeout=0.5)
