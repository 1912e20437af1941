"""The one evaluator: everything about a plan, recomputed from the problem and assignments alone.

:func:`evaluate` gives feasibility (every constraint of FORMATS.md, each violation in words),
every objective term, utilisation per node and resource, fleet averages, the scalar fitness and,
for every unplaced task, why: for each allowed node the first constraint that blocks it, with
numbers. :func:`check` compares a plan file's claims with that; :func:`make_plan` turns a
solver's assignments into a plan file. Solvers never compute any of this themselves.

Scalar fitness (what every solver reports, lower is better):

* ``weights`` objective: ``sum(weight[t] * term[t])``.
* ``lexicographic`` objective ``[t1, ..., tk]``: ``sum(W[i] * term[ti])`` with ``W[k] = 1`` and
  ``W[i] = 1 + sum(W[j] * UB[tj] for j > i)``, where ``UB[t]`` is an upper bound of term ``t``
  computed from the problem (see :func:`term_upper_bounds`). A decrease of at least 1 in an
  earlier term then outweighs any change in the later ones, so the scalar orders plans exactly
  as the lexicographic objective does whenever earlier terms move in steps of 1 or more
  (integer priorities, costs, node counts, moves, times); ``balance`` moves in fractions, so
  placing it before another term makes the scalar an approximation.
"""

from __future__ import annotations

import math
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .plan import Assignment, Plan, SolverInfo, Status, Unplaced
from .problem import Problem, Task, _num

CAP_TOL = 1e-9  # absolute tolerance on capacities (FORMATS.md)
OBJ_RTOL = 1e-6  # relative tolerance on objective values (FORMATS.md)
MAX_DETAILS = 50

PLACEMENT_TERMS = ("unplaced", "cost", "nodes", "balance", "moves")
SCHEDULING_TERMS = ("unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves")


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # capacity, replicas, allowed, separation, gang, required, precedence, time, plan
    message: str
    task: str | None = None
    node: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class Evaluation:
    feasible: bool
    violations: list[Violation]
    terms: dict[str, float]  # every term that applies to the problem
    objective: dict[str, float]  # the problem's objective terms, in its order
    fitness: float
    utilisation: dict[str, dict[str, float]]  # node -> resource -> load / capacity (peak)
    average_utilisation: dict[str, dict[str, float]] | None  # scheduling: mean over makespan
    fleet: dict[str, float]  # resource -> fleet-wide utilisation (sum load / sum capacity)
    unplaced: list[Unplaced]
    placed_replicas: int
    total_replicas: int
    nodes_used: int
    placed_tasks: set[int] = field(default_factory=set)

    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {
            "feasible": self.feasible,
            "fitness": self.fitness,
            "placed_replicas": self.placed_replicas,
            "total_replicas": self.total_replicas,
            "nodes_used": self.nodes_used,
            "terms": dict(self.terms),
            "fleet_utilisation": dict(self.fleet),
            "utilisation": self.utilisation,
        }
        if self.average_utilisation is not None:
            m["average_utilisation"] = self.average_utilisation
        if self.violations:
            m["violations"] = [v.message for v in self.violations[:MAX_DETAILS]]
        return m


# --------------------------------------------------------------------------------------------


class _State:
    """Assignments resolved to indices, with per-node loads or usage profiles."""

    def __init__(self, problem: Problem, assignments: Iterable[Assignment]) -> None:
        self.p = problem
        self.violations: list[Violation] = []
        self.placed: dict[int, dict[int, tuple[int, int | None, int | None]]] = defaultdict(dict)
        ti, ni = problem.task_index, problem.node_index
        for a in assignments:
            t = ti.get(a.task)
            n = ni.get(a.node)
            if t is None:
                self.v("plan", f"assignment names unknown task '{a.task}'", a.task)
                continue
            if n is None:
                self.v("plan", f"{a.task}: assignment names unknown node '{a.node}'", a.task)
                continue
            task = problem.tasks[t]
            if not 0 <= a.replica < task.replicas:
                self.v(
                    "replicas",
                    f"{a.task}: replica {a.replica} does not exist (replicas: {task.replicas})",
                    a.task,
                )
                continue
            if a.replica in self.placed[t]:
                self.v("replicas", f"{a.task}: replica {a.replica} is assigned twice", a.task)
                continue
            if problem.scheduling and (a.start is None or a.end is None):
                self.v(
                    "time",
                    f"{a.task} replica {a.replica}: no start/end in a scheduling problem",
                    a.task,
                )
                continue
            self.placed[t][a.replica] = (n, a.start, a.end)
        self.on_node: dict[int, set[int]] = defaultdict(set)
        for t, reps in self.placed.items():
            for n, _, _ in reps.values():
                self.on_node[n].add(t)

    def v(self, kind: str, message: str, task: str | None = None, node: str | None = None) -> None:
        self.violations.append(Violation(kind, message, task, node))


def evaluate(
    problem: Problem, assignments: Sequence[Assignment], *, reasons: bool = True
) -> Evaluation:
    """Evaluate assignments against the problem. Never raises on a bad plan: it reports it."""
    st = _State(problem, assignments)
    p = problem
    _check_tasks(st)
    if p.scheduling:
        load, avg, makespan, profiles = _check_schedule(st)
    else:
        load, avg, makespan, profiles = _placement_load(st), None, 0, None
    _check_capacity(st, load)

    terms = _terms(st, load, makespan)
    objective = {t: terms[t] for t in p.objective.terms}
    util: dict[str, dict[str, float]] = {}
    for n in p.nodes:
        row = {}
        for r, cap in n.capacity.items():
            if cap > 0:
                row[r] = load[n.index].get(r, 0.0) / cap
        util[n.id] = row
    fleet: dict[str, float] = {}
    for r in p.resources:
        total_cap = sum(n.capacity.get(r, 0.0) for n in p.nodes)
        if total_cap <= 0:
            continue
        if p.scheduling:
            work = (
                sum(avg[n.id].get(r, 0.0) * n.capacity.get(r, 0.0) for n in p.nodes) if avg else 0
            )
            fleet[r] = work / total_cap
        else:
            fleet[r] = sum(load[n.index].get(r, 0.0) for n in p.nodes) / total_cap
    placed_tasks = {t for t, reps in st.placed.items() if reps}
    unplaced = (
        _reasons(st, load, profiles, placed_tasks)
        if reasons
        else [Unplaced(t.id, "") for t in p.tasks if t.index not in placed_tasks]
    )
    return Evaluation(
        feasible=not st.violations,
        violations=st.violations,
        terms=terms,
        objective=objective,
        fitness=fitness(p, terms),
        utilisation=util,
        average_utilisation=avg,
        fleet=fleet,
        unplaced=unplaced,
        placed_replicas=sum(len(r) for r in st.placed.values()),
        total_replicas=p.total_replicas,
        nodes_used=len([n for n, ts in st.on_node.items() if ts]),
        placed_tasks=placed_tasks,
    )


def _check_tasks(st: _State) -> None:
    p = st.p
    for task in p.tasks:
        reps = st.placed.get(task.index, {})
        if reps and len(reps) != task.replicas:
            st.v(
                "replicas",
                f"{task.id}: {len(reps)} of {task.replicas} replicas placed (all or none)",
                task.id,
            )
        if not reps and task.required:
            st.v("required", f"{task.id}: required task is not placed", task.id)
        used: dict[int, int] = {}
        allowed = set(task.allowed) if len(task.allowed) != len(p.nodes) else None
        for r, (n, _, _) in sorted(reps.items()):
            nid = p.nodes[n].id
            if n in used:
                st.v(
                    "replicas",
                    f"{task.id}: replicas {used[n]} and {r} share node {nid}",
                    task.id,
                    nid,
                )
            used[n] = r
            if allowed is not None and n not in allowed:
                st.v(
                    "allowed",
                    f"{task.id}: node {nid} is not allowed ({_selector(p, task)})",
                    task.id,
                    nid,
                )
            for o in task.separate:
                # separation is symmetric: report each pair once, from the lower index
                if o > task.index and o in st.on_node[n]:
                    st.v(
                        "separation",
                        f"{task.id}: shares node {nid} with {p.tasks[o].id} (separate_from)",
                        task.id,
                        nid,
                    )
    for gang, members in p.gangs.items():
        placed = [m for m in members if st.placed.get(m)]
        if placed and len(placed) != len(members):
            missing = [p.tasks[m].id for m in members if not st.placed.get(m)]
            st.v("gang", f"gang {gang}: placed partly (missing {', '.join(missing)})")


def _selector(p: Problem, task: Task) -> str:
    spec = p.source.raw["tasks"][task.spec_index] if isinstance(p.source.raw, dict) else {}
    parts = []
    if spec.get("nodes") is not None:
        parts.append(f"nodes [{', '.join(map(str, spec['nodes']))}]")
    if spec.get("match"):
        sel = ", ".join(
            f"{k} in [{', '.join(map(str, v))}]" if isinstance(v, list) else f"{k}={v}"
            for k, v in spec["match"].items()
        )
        parts.append(f"match {sel}")
    return "; ".join(parts) or "not allowed"


def _placement_load(st: _State) -> list[dict[str, float]]:
    load: list[dict[str, float]] = [defaultdict(float) for _ in st.p.nodes]
    for t, reps in st.placed.items():
        task = st.p.tasks[t]
        for n, _, _ in reps.values():
            for r, q in task.demand_at(n).items():
                load[n][r] += q
    return load


def _check_capacity(st: _State, load: list[dict[str, float]]) -> None:
    for n in st.p.nodes:
        for r, q in load[n.index].items():
            cap = n.capacity.get(r, 0.0)
            if q > cap + CAP_TOL:
                what = "peak load" if st.p.scheduling else "load"
                st.v(
                    "capacity",
                    f"node {n.id}: {r} {what} {_num(q)} > capacity {_num(cap)}",
                    None,
                    n.id,
                )


Profile = list[tuple[int, int, dict[str, float]]]  # (start, end, demand) intervals


def _check_schedule(
    st: _State,
) -> tuple[list[dict[str, float]], dict[str, dict[str, float]], int, list[Profile]]:
    p = st.p
    end_of: dict[int, int] = {}
    profiles: list[Profile] = [[] for _ in p.nodes]
    for t, reps in st.placed.items():
        task = p.tasks[t]
        for r, (n, s, e) in reps.items():
            assert s is not None and e is not None
            node = p.nodes[n]
            d = task.duration_at(node)
            where = f"{task.id} replica {r}"
            if e - s != d:
                st.v(
                    "time",
                    f"{where}: runs {e - s} on {node.id}, its duration there is {d}",
                    task.id,
                    node.id,
                )
            if s < 0:
                st.v("time", f"{where}: starts at {s} < 0", task.id)
            if task.release is not None and s < task.release:
                st.v("time", f"{where}: starts at {s} before its release {task.release}", task.id)
            if task.deadline is not None and e > task.deadline:
                st.v("time", f"{where}: ends at {e} after its deadline {task.deadline}", task.id)
            if p.horizon is not None and e > p.horizon:
                st.v("time", f"{where}: ends at {e} after the horizon {p.horizon}", task.id)
            end_of[t] = max(end_of.get(t, e), e)
            if e > s:
                profiles[n].append((s, e, dict(task.demand_at(n))))
    for t, reps in st.placed.items():
        task = p.tasks[t]
        for pred in task.after:
            ptask = p.tasks[pred]
            if pred not in end_of:
                st.v(
                    "precedence", f"{task.id}: comes after {ptask.id}, which is not placed", task.id
                )
                continue
            for r, (_, s, _) in reps.items():
                assert s is not None
                if s < end_of[pred]:
                    st.v(
                        "precedence",
                        f"{task.id} replica {r}: starts at {s} before {ptask.id} ends at "
                        f"{end_of[pred]}",
                        task.id,
                    )
    makespan = max(end_of.values(), default=0)
    peak: list[dict[str, float]] = []
    avg: dict[str, dict[str, float]] = {}
    for node in p.nodes:
        events: list[tuple[int, int, dict[str, float]]] = []
        area: dict[str, float] = defaultdict(float)
        for start, stop, dem in profiles[node.index]:
            events.append((start, 1, dem))
            events.append((stop, 0, dem))
            for res, amount in dem.items():
                area[res] += amount * (stop - start)
        cur: dict[str, float] = defaultdict(float)
        top: dict[str, float] = defaultdict(float)
        for _, kind, dem in sorted(events, key=lambda x: (x[0], x[1])):
            for res, amount in dem.items():
                cur[res] += amount if kind else -amount
                if cur[res] > top[res]:
                    top[res] = cur[res]
        peak.append(top)
        avg[node.id] = {
            res: (area.get(res, 0.0) / (cap * makespan) if makespan > 0 else 0.0)
            for res, cap in node.capacity.items()
            if cap > 0
        }
    return peak, avg, makespan, profiles


def _terms(st: _State, load: list[dict[str, float]], makespan: int) -> dict[str, float]:
    p = st.p
    terms: dict[str, float] = {}
    terms["unplaced"] = float(
        sum(t.priority * t.replicas for t in p.tasks if not st.placed.get(t.index))
    )
    used = {n for n, ts in st.on_node.items() if ts}
    cost = sum(p.tasks[t].cost_at(n) for t, reps in st.placed.items() for n, _, _ in reps.values())
    terms["cost"] = float(cost + sum(p.nodes[n].cost for n in used))
    terms["nodes"] = float(len(used))
    balance = 0.0
    for n in p.nodes:
        for r, q in load[n.index].items():
            cap = n.capacity.get(r, 0.0)
            if cap > 0 and q / cap > balance:
                balance = q / cap
    terms["balance"] = balance
    if p.scheduling:
        terms["makespan"] = float(makespan)
        tard = 0.0
        for t, reps in st.placed.items():
            task = p.tasks[t]
            if task.due is not None:
                for _, _, e in reps.values():
                    tard += task.priority * max(0, (e or 0) - task.due)
        terms["tardiness"] = tard
    moves = 0
    for t, reps in st.placed.items():
        current = p.tasks[t].current
        if current is not None:
            moves += sum(1 for n, _, _ in reps.values() if n not in current)
    terms["moves"] = float(moves)
    return terms


# -- fitness ---------------------------------------------------------------------------------


def term_upper_bounds(problem: Problem) -> dict[str, float]:
    """Upper bounds of each term over all plans (balance over feasible plans: 1)."""
    p = problem
    ub: dict[str, float] = {}
    ub["unplaced"] = sum(t.priority * t.replicas for t in p.tasks)
    ub["cost"] = sum(
        t.replicas * max((t.cost_at(n) for n in t.allowed), default=0.0) for t in p.tasks
    ) + sum(n.cost for n in p.nodes)
    ub["nodes"] = float(len(p.nodes))
    ub["balance"] = 1.0
    if p.scheduling:
        longest = sum(
            t.replicas * max((t.duration_at(p.nodes[n]) for n in t.allowed), default=0)
            for t in p.tasks
        )
        ms = (
            p.horizon
            if p.horizon is not None
            else max((t.release or 0 for t in p.tasks), default=0) + longest
        )
        ub["makespan"] = float(ms)
        ub["tardiness"] = sum(
            t.priority * t.replicas * max(0, ms - t.due) for t in p.tasks if t.due is not None
        )
    ub["moves"] = float(sum(t.replicas for t in p.tasks if t.current is not None))
    return ub


_WEIGHTS: weakref.WeakKeyDictionary[Problem, dict[str, float]] = weakref.WeakKeyDictionary()


def fitness_weights(problem: Problem) -> dict[str, float]:
    """Weights of the scalar fitness, per the module docstring (computed once per problem:
    solvers that evaluate many plans, the MILP's lexicographic stages and the GA, call this
    often, and the upper bounds walk every task)."""
    cached = _WEIGHTS.get(problem)
    if cached is None:
        cached = _WEIGHTS[problem] = _fitness_weights(problem)
    return dict(cached)


def _fitness_weights(problem: Problem) -> dict[str, float]:
    obj = problem.objective
    if obj.kind == "weights":
        return dict(obj.weights)
    ub = term_upper_bounds(problem)
    weights: dict[str, float] = {}
    tail = 0.0
    for term in reversed(obj.terms):
        w = 1.0 + tail
        weights[term] = w
        tail += w * ub.get(term, 0.0)
    return {t: weights[t] for t in obj.terms}


def fitness(problem: Problem, terms: dict[str, float]) -> float:
    return float(sum(w * terms.get(t, 0.0) for t, w in fitness_weights(problem).items()))


# -- reasons for unplaced tasks --------------------------------------------------------------


def _reasons(
    st: _State,
    load: list[dict[str, float]],
    profiles: list[Profile] | None,
    placed_tasks: set[int],
) -> list[Unplaced]:
    p = st.p
    out: list[Unplaced] = []
    blocked_cache: dict[int, tuple[str, list[str], int]] = {}
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        reason, details, fit = _task_reason(st, task, load, profiles, placed_tasks)
        blocked_cache[task.index] = (reason, details, fit)
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        reason, details, fit = blocked_cache[task.index]
        if fit >= task.replicas and task.gang is not None:
            # It fits on its own: the gang held it back.
            others = [
                m
                for m in p.gangs[task.gang]
                if m != task.index
                and m not in placed_tasks
                and blocked_cache.get(m, ("", [], 10**9))[2] < p.tasks[m].replicas
            ]
            if others:
                o = p.tasks[others[0]]
                reason = (
                    f"gang {task.gang} is placed all or none, and member {o.id} cannot be "
                    f"placed: {blocked_cache[others[0]][0]}"
                )
        out.append(Unplaced(task.id, reason, tuple(details)))
    return out


def _task_reason(
    st: _State,
    task: Task,
    load: list[dict[str, float]],
    profiles: list[Profile] | None,
    placed_tasks: set[int],
) -> tuple[str, list[str], int]:
    """(one-line reason, per-node details, number of allowed nodes that could take a replica)."""
    p = st.p
    excluded = len(p.nodes) - len(task.allowed)
    details: list[str] = []
    if excluded:
        details.append(f"{excluded} node(s) excluded by {_selector(p, task)}")
    if not task.allowed:
        return f"no node is allowed ({_selector(p, task)})", details, 0
    if p.scheduling:
        missing = [q for q in task.after if q not in placed_tasks]
        if missing:
            names = ", ".join(p.tasks[q].id for q in missing)
            return f"it comes after {names}, which is not placed", details, 0
    fit_nodes: list[str] = []
    shortage: dict[str, tuple[float, float]] = {}  # resource -> (needed, largest free)
    node_lines: list[str] = []
    sep_blocked = 0
    time_blocked = 0
    for n in task.allowed:
        node = p.nodes[n]
        line = None
        for o in task.separate:
            if o in st.on_node.get(n, ()):
                line = f"runs {p.tasks[o].id} (separate_from)"
                sep_blocked += 1
                break
        dem = task.demand_at(n)
        if line is None and not p.scheduling:
            for r, q in dem.items():
                free = node.capacity.get(r, 0.0) - load[n].get(r, 0.0)
                if q > free + CAP_TOL:
                    line = f"{r} {_num(q)} needed, {_num(max(free, 0.0))} free"
                    need, best = shortage.get(r, (q, -math.inf))
                    shortage[r] = (max(need, q), max(best, free))
                    break
        elif line is None:
            line = _schedule_block(st, task, n, profiles)
            if line is not None:
                too_big = False
                for r, q in dem.items():
                    cap = node.capacity.get(r, 0.0)
                    if q > cap + CAP_TOL and task.duration_at(node) > 0:
                        too_big = True
                        need, best = shortage.get(r, (q, -math.inf))
                        shortage[r] = (max(need, q), max(best, cap))
                if not too_big:
                    time_blocked += 1
        if line is None:
            fit_nodes.append(node.id)
            line = "has room"
        node_lines.append(f"node {node.id}: {line}")
    if len(node_lines) > MAX_DETAILS:
        node_lines = [*node_lines[:MAX_DETAILS], f"... and {len(node_lines) - MAX_DETAILS} more"]
    details.extend(node_lines)
    nfit = len(fit_nodes)
    if nfit >= task.replicas:
        shown = ", ".join(fit_nodes[:5]) + (", ..." if nfit > 5 else "")
        why = "not required, and the solver left it out" if not task.required else "not placed"
        return f"{why}; it fits now on {nfit} allowed node(s) ({shown})", details, nfit
    if nfit > 0:
        return (
            f"needs {task.replicas} replicas on distinct nodes; only {nfit} allowed node(s) have "
            f"room ({', '.join(fit_nodes[:5])})",
            details,
            nfit,
        )
    room = "" if p.scheduling else "free "
    if shortage and len(shortage) == 1 and not sep_blocked and not time_blocked:
        r, (need, best) = next(iter(shortage.items()))
        return (
            f"needs {r} {_num(need)}; the largest {room}{r} on an allowed node is "
            f"{_num(max(best, 0.0))}",
            details,
            0,
        )
    parts = []
    if shortage:
        parts.append(
            "short of "
            + ", ".join(
                f"{r} (needs {_num(q)}, at most {_num(max(b, 0))} free)"
                for r, (q, b) in shortage.items()
            )
        )
    if time_blocked:
        parts.append(f"no time window on {time_blocked} node(s)")
    if sep_blocked:
        parts.append(f"{sep_blocked} node(s) run a task it must be kept apart from")
    return "no allowed node can take it: " + "; ".join(parts), details, 0


def _schedule_block(st: _State, task: Task, n: int, profiles: list[Profile] | None) -> str | None:
    """Why a replica of ``task`` cannot run on node ``n`` in this schedule, or None if it can."""
    p = st.p
    node = p.nodes[n]
    dem = task.demand_at(n)
    d = task.duration_at(node)
    for r, q in dem.items():
        cap = node.capacity.get(r, 0.0)
        if q > cap + CAP_TOL and d > 0:  # a zero-length run occupies nothing
            return f"{r} {_num(q)} needed, capacity {_num(cap)}"
    earliest = task.release or 0
    for q in task.after:
        for m, _, e in st.placed.get(q, {}).values():
            del m
            earliest = max(earliest, e or 0)
    limits = [x for x in (task.deadline, p.horizon) if x is not None]
    latest_end = min(limits) if limits else None
    if latest_end is not None and earliest + d > latest_end:
        return f"earliest start {earliest} + duration {d} = {earliest + d} > {latest_end}"
    if d == 0:
        return None
    ivs = profiles[n] if profiles else []
    # candidate starts: earliest and every end of an interval after it
    cands = sorted({earliest, *(e for _, e, _ in ivs if e > earliest)})
    for s in cands:
        if latest_end is not None and s + d > latest_end:
            break
        if _fits_window(ivs, s, s + d, dem, node.capacity):
            return None
    until = f" by {latest_end}" if latest_end is not None else ""
    return f"no window of {d} with its demand free from {earliest}{until}"


def _fits_window(ivs: Profile, s: int, e: int, dem: Any, cap: Any) -> bool:
    points = sorted({s, *(a for a, _, _ in ivs if s < a < e)})
    for t in points:
        for r, q in dem.items():
            if q <= 0:
                continue
            used = sum(d.get(r, 0.0) for a, b, d in ivs if a <= t < b)
            if used + q > cap.get(r, 0.0) + CAP_TOL:
                return False
    return True


# -- plans -----------------------------------------------------------------------------------


def make_plan(
    problem: Problem,
    assignments: Sequence[Assignment],
    solver: SolverInfo,
    *,
    infeasibility: Sequence[str] = (),
    path: str | None = None,
) -> tuple[Plan, Evaluation]:
    """Build the plan file for a solver's assignments; objective and metrics by the evaluator."""
    ev = evaluate(problem, assignments)
    if solver.status in (Status.OPTIMAL, Status.FEASIBLE) or assignments:
        solver.objective = dict(ev.objective)
        solver.fitness = ev.fitness
    ordered = sorted(
        assignments,
        key=lambda a: (problem.task_index.get(a.task, -1), a.replica),
    )
    plan = Plan(
        problem_name=problem.name,
        problem_sha256=problem.sha256,
        solver=solver,
        assignments=list(ordered),
        unplaced=ev.unplaced,
        metrics=ev.metrics(),
        problem_path=path,
        infeasibility=list(infeasibility),
    )
    return plan, ev


@dataclass
class CheckReport:
    ok: bool
    violations: list[Violation]
    evaluation: Evaluation
    warnings: list[str]


def check(problem: Problem, plan: Plan) -> CheckReport:
    """Every constraint, and the plan's stated objective against the recomputed one."""
    ev = evaluate(problem, plan.assignments, reasons=False)
    violations = list(ev.violations)
    warnings: list[str] = []
    if plan.problem_sha256 != problem.sha256:
        warnings.append(
            "the plan was made for a file with other bytes (sha256 differs); "
            "checking it against this problem anyway"
        )
    stated = plan.solver.objective
    has_plan = plan.solver.status in (Status.OPTIMAL, Status.FEASIBLE)
    if stated is None:
        if has_plan:
            violations.append(
                Violation("objective", f"status is {plan.solver.status} but no objective is stated")
            )
    else:
        for term, value in stated.items():
            if term not in ev.terms:
                violations.append(
                    Violation(
                        "objective", f"objective term '{term}' is not defined for this problem"
                    )
                )
                continue
            real = ev.terms[term]
            if not math.isclose(value, real, rel_tol=OBJ_RTOL, abs_tol=CAP_TOL):
                violations.append(
                    Violation(
                        "objective",
                        f"objective {term}: plan states {_num(value)}, recomputed {_num(real)}",
                    )
                )
        missing = [t for t in problem.objective.terms if t not in stated]
        if missing and has_plan:
            violations.append(
                Violation("objective", f"objective term(s) {', '.join(missing)} not stated")
            )
    if plan.solver.status == Status.INFEASIBLE and plan.assignments:
        warnings.append("status is infeasible but the plan has assignments")
    return CheckReport(ok=not violations, violations=violations, evaluation=ev, warnings=warnings)
