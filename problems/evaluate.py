"""The one evaluator: everything about a plan, recomputed from the problem and assignments alone.

:func:`evaluate` gives feasibility (every constraint of FORMATS.md, each violation in words),
every objective term, utilisation per node and resource (and per device), fleet averages, the
scalar fitness and, for every unplaced task, why: for each allowed node the first constraint
that blocks it, with numbers. :func:`check` compares a plan file's claims with that;
:func:`make_plan` turns a solver's assignments into a plan file. Solvers never compute any of
this themselves.

:class:`~taskalloc.problems.state.PlanState` is the evaluator's state, public and incremental
(add and remove assignments, ask for violations); :func:`violations` is its one-shot form.
:mod:`.state` holds it and the constraint checks, :mod:`.reasons` the reasons for unplaced tasks.

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

import bisect
import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entities import Problem, Task
from .plan import Assignment, Plan, SolverInfo, Status, Unplaced
from .reasons import MAX_DETAILS, unplaced_reasons
from .source import gc_paused
from .state import CAP_TOL, DeviceUse, Placed, PlanState, Violation
from .wording import listing, num, plural

OBJ_RTOL = 1e-6  # relative tolerance on objective values (FORMATS.md)

PLACEMENT_TERMS = ("unplaced", "cost", "nodes", "balance", "moves")
SCHEDULING_TERMS = ("unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves")

_num = num  # the name this module had for it

__all__ = [
    "CAP_TOL",
    "MAX_DETAILS",
    "OBJ_RTOL",
    "PLACEMENT_TERMS",
    "SCHEDULING_TERMS",
    "CheckReport",
    "DeviceUse",
    "Evaluation",
    "Placed",
    "PlanState",
    "Violation",
    "check",
    "evaluate",
    "evaluate_state",
    "fitness",
    "fitness_weights",
    "make_plan",
    "term_upper_bounds",
    "violations",
]


@dataclass
class Evaluation:
    """Everything about a plan, as :func:`evaluate` computes it."""

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
    # node -> split resource -> per device: load / device size (peak in scheduling problems)
    device_utilisation: dict[str, dict[str, list[float]]] = field(default_factory=dict)

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
        if self.device_utilisation:
            m["device_utilisation"] = self.device_utilisation
        if self.violations:
            m["violations"] = [v.message for v in self.violations[:MAX_DETAILS]]
        return m


def evaluate(
    problem: Problem, assignments: Sequence[Assignment], *, reasons: bool = True
) -> Evaluation:
    """Evaluate assignments against the problem. Never raises on a bad plan: it reports it."""
    # no cyclic GC inside: it walked the whole problem again and again (a compact problem has
    # few long-lived objects, so full collections come sooner); it resumes after
    with gc_paused():
        return PlanState(problem, assignments).evaluation(reasons=reasons)


def violations(problem: Problem, assignments: Iterable[Assignment]) -> list[Violation]:
    """Every constraint the assignments break ([] for a feasible plan): what
    ``evaluate(...).feasible`` decides, without objective terms, fitness weights (whose upper
    bounds walk every task and node) and reasons."""
    return PlanState(problem, assignments).violations()


def evaluate_state(state: PlanState, *, reasons: bool = True) -> Evaluation:
    """The whole evaluation of a :class:`~taskalloc.problems.state.PlanState`'s assignments."""
    sweep = state.sweep()
    p = state.p
    terms = _terms(state, sweep.load, sweep.makespan)
    util: dict[str, dict[str, float]] = {}
    for n in p.nodes:
        util[n.id] = {
            r: sweep.load[n.index].get(r, 0.0) / cap for r, cap in n.capacity.items() if cap > 0
        }
    devices: dict[str, dict[str, list[float]]] = {}
    for (ni, res), loads in sweep.device_load.items():
        size = p.nodes[ni].device_size(res)
        devices.setdefault(p.nodes[ni].id, {})[res] = [q / size for q in loads]
    fleet: dict[str, float] = {}
    avg = sweep.average
    for r in p.resources:
        total_cap = sum(n.capacity.get(r, 0.0) for n in p.nodes)
        if total_cap <= 0:
            continue
        if p.scheduling:
            work = (
                sum(avg[n.id].get(r, 0.0) * n.capacity.get(r, 0.0) for n in p.nodes) if avg else 0.0
            )
            fleet[r] = work / total_cap
        else:
            fleet[r] = sum(sweep.load[n.index].get(r, 0.0) for n in p.nodes) / total_cap
    placed_tasks = {t for t, reps in state.placed.items() if reps}
    unplaced = (
        unplaced_reasons(state, sweep, placed_tasks)
        if reasons
        else [Unplaced(t.id, "") for t in p.tasks if t.index not in placed_tasks]
    )
    return Evaluation(
        feasible=not sweep.violations,
        violations=sweep.violations,
        terms=terms,
        objective={t: terms[t] for t in p.objective.terms},
        fitness=fitness(p, terms),
        utilisation=util,
        average_utilisation=avg,
        fleet=fleet,
        unplaced=unplaced,
        placed_replicas=sum(len(r) for r in state.placed.values()),
        total_replicas=p.total_replicas,
        nodes_used=sum(1 for ts in state.on_node.values() if ts),
        placed_tasks=placed_tasks,
        device_utilisation=devices,
    )


def _terms(st: PlanState, load: list[dict[str, float]], makespan: int) -> dict[str, float]:
    p = st.p
    terms: dict[str, float] = {}
    terms["unplaced"] = float(
        sum(t.priority * t.replicas for t in p.tasks if not st.placed.get(t.index))
    )
    used = [n for n, ts in st.on_node.items() if ts]
    # fsum: the exact sum, whatever the order the assignments came in
    terms["cost"] = math.fsum(
        [
            *(p.tasks[t].cost_at(pl.node) for t, reps in st.placed.items() for pl in reps.values()),
            *(p.nodes[n].cost for n in used),
        ]
    )
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
                for pl in reps.values():
                    tard += task.priority * max(0, (pl.end or 0) - task.due)
        terms["tardiness"] = tard
    moves = 0
    for t, reps in st.placed.items():
        current = p.tasks[t].current
        if current is not None:
            moves += sum(1 for pl in reps.values() if pl.node not in current)
    terms["moves"] = float(moves)
    return terms


# -- fitness ---------------------------------------------------------------------------------


def term_upper_bounds(problem: Problem) -> dict[str, float]:
    """Upper bounds of each term over all plans (balance over feasible plans: 1)."""
    p = problem
    ub: dict[str, float] = {}
    ub["unplaced"] = sum(t.priority * t.replicas for t in p.tasks)
    ub["cost"] = sum(t.replicas * _max_cost(t, len(p.nodes)) for t in p.tasks) + sum(
        n.cost for n in p.nodes
    )
    ub["nodes"] = float(len(p.nodes))
    ub["balance"] = 1.0
    if p.scheduling:
        one_speed = len({n.speed for n in p.nodes}) <= 1
        longest = sum(
            t.replicas
            * (
                t.duration_at(p.nodes[t.allowed[0]])  # the same on every node
                if one_speed and not t.duration_on and t.allowed
                else max((t.duration_at(p.nodes[n]) for n in t.allowed), default=0)
            )
            for t in p.tasks
            if not t.service
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


def _max_cost(task: Task, n_nodes: int) -> float:
    """``max(task.cost_at(n) for n in task.allowed)`` (0 if none) from the task's cost table,
    not from its allowed nodes (5,000 of them for each of 150,000 tasks at Kubernetes scale);
    ``n_nodes``: how many nodes the problem has."""
    allowed = task.allowed
    if not allowed or not task.assign_cost:
        return 0.0
    if len(allowed) == n_nodes:  # every node allowed
        costs = list(task.assign_cost.values())
    else:
        costs = [c for n, c in task.assign_cost.items() if _has(allowed, n)]
    if len(costs) < len(allowed):
        costs.append(0.0)  # an allowed node without a cost of its own
    return max(costs)


def _has(ascending: Sequence[int], x: int) -> bool:
    i = bisect.bisect_left(ascending, x)
    return i < len(ascending) and ascending[i] == x


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
    """The scalar fitness of a plan's terms (module docstring; lower is better)."""
    return float(sum(w * terms.get(t, 0.0) for t, w in fitness_weights(problem).items()))


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
    """What :func:`check` found: ``ok`` when the plan holds; every broken constraint and a
    stated objective that differs from the recomputed one in ``violations``."""

    ok: bool
    violations: list[Violation]
    evaluation: Evaluation
    warnings: list[str]


def check(problem: Problem, plan: Plan) -> CheckReport:
    """Every constraint, and every claim of the plan against what is recomputed from the
    problem and the assignments alone: the objective, the bounds, the status, the ``unplaced``
    list and the metrics (see :func:`plan_claims`)."""
    ev = evaluate(problem, plan.assignments, reasons=False)
    violations = list(ev.violations)
    warnings: list[str] = []
    violations += plan_claims(problem, plan, ev, warnings)
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
                        f"objective {term}: plan states {num(value)}, recomputed {num(real)}",
                    )
                )
        missing = [t for t in problem.objective.terms if t not in stated]
        if missing and has_plan:
            violations.append(
                Violation("objective", f"objective term(s) {', '.join(missing)} not stated")
            )
    return CheckReport(ok=not violations, violations=violations, evaluation=ev, warnings=warnings)


# tolerance of the numbers a plan's metrics and fitness state: they are written with 6 decimals
METRIC_ATOL = 1e-6


def _close(stated: float, real: float, atol: float = CAP_TOL) -> bool:
    return math.isclose(stated, real, rel_tol=OBJ_RTOL, abs_tol=atol)


def plan_claims(
    problem: Problem, plan: Plan, ev: Evaluation, warnings: list[str]
) -> list[Violation]:
    """What a plan says beyond its assignments, against the evaluation ``ev`` of them:

    * ``unplaced`` lists exactly the tasks without a placed replica, each once;
    * each ``solver.bound`` is a lower bound: at most the plan's own value of its term;
    * the status: ``infeasible`` (no plan exists) is false when the assignments satisfy every
      constraint, and proofs (``infeasibility``) go with that status only;
    * ``solver.fitness`` and ``metrics`` (``feasible``, ``fitness``, ``terms``, the counts and
      the utilisations) equal what the evaluator computes (6 decimals).
    """
    out: list[Violation] = []

    def bad(kind: str, message: str, task: str | None = None) -> None:
        out.append(Violation(kind, message, task))

    # -- unplaced -----------------------------------------------------------------------------
    listed: dict[str, int] = {}
    for u in plan.unplaced:
        listed[u.task] = listed.get(u.task, 0) + 1
    placed = {problem.tasks[t].id for t in ev.placed_tasks}
    for task, n in listed.items():
        if task not in problem.task_index:
            bad("plan", f"unplaced names unknown task '{task}'", task)
        elif task in placed:
            bad("plan", f"{task}: listed in unplaced, but it has assignments", task)
        if n > 1:
            bad("plan", f"{task}: listed {n} times in unplaced", task)
    missing = [t.id for t in problem.tasks if t.id not in placed and t.id not in listed]
    if missing:
        bad(
            "plan",
            f"{listing(missing, 10)}: neither assigned nor listed in unplaced "
            f"({plural(len(missing), 'task')})",
        )
    # -- bounds -------------------------------------------------------------------------------
    values = dict(ev.terms)
    if problem.objective.kind == "weights":
        # the exact engines bound a weighted objective as one sum, under the key `weighted`
        values["weighted"] = sum(w * ev.terms[t] for t, w in problem.objective.weights.items())
    for term, b in (plan.solver.bound or {}).items():
        if term not in values:
            bad("objective", f"bound on term '{term}', which is not defined for this problem")
        elif b == b and b > values[term] and not _close(b, values[term]):
            bad(
                "objective",
                f"bound {term}: the plan states a lower bound of {num(b)}, above its own value "
                f"{num(values[term])} (no plan can be below a lower bound)",
            )
    # -- status -------------------------------------------------------------------------------
    status = plan.solver.status
    if status == Status.INFEASIBLE and ev.feasible:
        bad(
            "objective",
            "status is infeasible (no plan exists), but these assignments satisfy every constraint",
        )
    elif status == Status.INFEASIBLE and plan.assignments:
        warnings.append("status is infeasible but the plan has assignments")
    if plan.infeasibility and status != Status.INFEASIBLE:
        bad("objective", f"the plan lists proofs of infeasibility, but its status is {status}")
    if status == Status.UNKNOWN and ev.feasible and plan.assignments:
        warnings.append(
            "status is unknown (no plan found), but the assignments satisfy every constraint"
        )
    # -- fitness and metrics ------------------------------------------------------------------
    if plan.solver.fitness is not None and not _close(plan.solver.fitness, ev.fitness, METRIC_ATOL):
        bad(
            "objective",
            f"solver.fitness: plan states {num(plan.solver.fitness)}, recomputed {num(ev.fitness)}",
        )
    out += _metric_claims(plan.metrics, ev)
    return out


def _metric_claims(metrics: dict[str, Any], ev: Evaluation) -> list[Violation]:
    """The metrics the plan states against the evaluation (absent ones are not required): one
    violation naming what differs, so that a hand edit of one assignment (which makes every
    metric it touches stale) reads as one line beside the constraint it breaks."""
    wrong: list[str] = []
    real = ev.metrics()

    def compare(path: str, stated: Any, truth: Any) -> None:
        if isinstance(truth, bool):
            if not isinstance(stated, bool):
                wrong.append(f"{path} (must be true or false)")
            elif stated != truth:
                wrong.append(f"{path} (states {str(stated).lower()}, is {str(truth).lower()})")
        elif isinstance(truth, int | float):
            if isinstance(stated, bool) or not isinstance(stated, int | float):
                wrong.append(f"{path} (must be a number)")
            elif not _close(float(stated), float(truth), METRIC_ATOL) or (
                isinstance(truth, int) and stated != truth
            ):
                wrong.append(f"{path} (states {num(stated)}, is {num(truth)})")
        elif isinstance(truth, dict):
            if not isinstance(stated, dict):
                wrong.append(f"{path} (must be a mapping)")
                return
            for k, v in stated.items():
                if k in truth:
                    compare(f"{path}.{k}", v, truth[k])
                else:
                    wrong.append(f"{path}.{k} (no such entry)")
        elif isinstance(truth, list):
            if not isinstance(stated, list) or len(stated) != len(truth):
                wrong.append(f"{path} (must be a list of {len(truth)} numbers)")
                return
            for j, (a, b) in enumerate(zip(stated, truth, strict=True)):
                compare(f"{path}[{j}]", a, b)

    for key in ("feasible", "fitness", "placed_replicas", "total_replicas", "nodes_used"):
        if key in metrics:
            compare(key, metrics[key], real[key])
    for key in (
        "terms",
        "fleet_utilisation",
        "utilisation",
        "average_utilisation",
        "device_utilisation",
    ):
        if metrics.get(key) is not None:
            compare(key, metrics[key], real.get(key) or {})
    if not wrong:
        return []
    return [
        Violation(
            "metrics",
            (
                "1 stated metric differs from the recomputed value: "
                if len(wrong) == 1
                else f"{len(wrong)} stated metrics differ from the recomputed ones: "
            )
            + listing(wrong, 5),
        )
    ]
