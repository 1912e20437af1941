"""Solving the CP-SAT model: parameters, warm start, lexicographic driver, status and plan.

See the package docstring for the formulation and the promises of each status.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ortools.sat.python import cp_model, cp_model_helper

from taskalloc.problems.evaluate import Evaluation, evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, effectively_required

from .. import baseline
from ..result import Result, Results
from . import hybrid
from .model import AllocationModel, LinearExpr, Placement
from .scaling import BALANCE_SCALE, Scales, choose_scales, weight_multipliers

NAME = "cpsat"
WATCH_INTERVAL = 0.02  # seconds between two looks at the stop event
MAX_REFINEMENTS = 50  # exact balance: at most this many "strictly better" solves
LIGHT_PRESOLVE_PAIRS = 5_000  # above this many (task, node) pairs: one presolve pass, no
# symmetry detection (on 75k pairs CP-SAT's presolve alone outlasts a 15 s limit)
LAZY_WARM_PAIRS = 1_000  # pure scheduling up to this size: the greedy only as a fallback
BUILD_SECONDS_PER_PAIR = 2e-5  # model building, per (task, allowed node) pair (10,000-task
# chain on 4 nodes: 0.7 s on a quiet machine): less time than that left after the warm start
MIN_SOLVE_SECONDS = 0.1  # ... or than this, and CP-SAT is not started
Progress = Callable[[float, float, float | None], None]


@dataclass
class _Stage:
    """One solve of the lexicographic driver (or the single weighted solve)."""

    name: str  # a term, or "weighted"
    expr: LinearExpr
    unit: Fraction  # real value = integer value / unit
    exact: bool  # the integer objective is the real one (no rounded coefficient)
    outcome: str = "skipped"  # optimal | feasible | none | infeasible | skipped
    value: int | None = None
    bound: float | None = None  # CP-SAT's best objective bound (integer units)
    balance: Fraction | None = None  # balance stage: exact balance of the stage's plan
    balance_proven: bool = False  # balance stage: no plan with a smaller balance exists
    kept: bool = False  # no solution, but the term was bounded by the best known plan's value
    shortcut: bool = False  # the best known plan reaches a trivial lower bound: no solve


class _Callback(cp_model.CpSolverSolutionCallback):
    """Records each improving solution (trajectory, progress) and honours the stop event."""

    def __init__(self, run: _Run, unit: Fraction | None) -> None:
        super().__init__()
        self.run = run
        self.unit = None if unit is None else float(unit)  # None: no objective to record

    def on_solution_callback(self) -> None:
        run = self.run
        if run.stop is not None and run.stop.is_set():
            self.stop_search()
        if self.unit is None:
            return
        try:
            run.record(self.objective_value / self.unit, self.best_objective_bound / self.unit)
        except Exception as exc:  # a failing progress callback ends the search, raised later
            run.error = run.error or exc
            self.stop_search()


class _Run:
    """State of one call of :func:`solve`."""

    def __init__(
        self,
        model: AllocationModel,
        *,
        t0: float,
        time_limit: float | None,
        workers: int,
        seed: int,
        deterministic: bool,
        progress: Progress | None,
        stop: threading.Event | None,
        warm: Placement | None,
        warm_terms: dict[str, float] | None = None,
    ) -> None:
        self.m = model
        self.warm = warm  # the warm start, when the evaluator accepts it
        self.warm_terms = warm_terms  # its objective terms (evaluator)
        self.t0 = t0
        self.time_limit = time_limit
        self.workers = workers
        self.seed = seed
        self.deterministic = deterministic
        self.progress = progress
        self.stop = stop
        self.det_used = 0.0
        self.trajectory: list[tuple[float, float, float | None]] = []
        self.error: BaseException | None = None
        self.values: list[int] | None = None  # last solution, every variable (for hints)
        self.plan: Placement | None = None  # best plan found by CP-SAT
        self.stopped = False
        self.timed_out = False
        self._last: float | None = None
        self.searches: dict[str, Any] = {}  # per stage: statistics of the hybrid search

    # -- bookkeeping -----------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def record(self, objective: float, bound: float | None) -> None:
        if self._last is not None and objective >= self._last:
            return
        self._last = objective
        point = (self.elapsed(), objective, bound)
        self.trajectory.append(point)
        if self.progress is not None:
            self.progress(*point)

    def close(self, objective: float, bound: float) -> None:
        """The end of a solve: a last point when the bound moved since the last one."""
        if self.trajectory and self.trajectory[-1][1:] == (objective, bound):
            return
        point = (self.elapsed(), objective, bound)
        self.trajectory.append(point)
        if self.progress is not None:
            self.progress(*point)

    def new_stage(self) -> None:
        self._last = None

    def remaining(self) -> float | None:
        """Time (deterministic time when deterministic) left for CP-SAT, None: no limit."""
        if self.time_limit is None:
            return None
        used = self.det_used if self.deterministic else self.elapsed()
        return self.time_limit - used

    def can_go_on(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            self.stopped = True
        left = self.remaining()
        if left is not None and left <= 1e-3:
            self.timed_out = True
        return not self.stopped and not self.timed_out and self.error is None

    # -- one CP-SAT solve ------------------------------------------------------------------

    def solve(
        self, budget: float | None, unit: Fraction | None
    ) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
        """One CP-SAT solve, hinted with the last solution; ``unit`` scales the objective for
        the trajectory (None: a feasibility solve, nothing recorded)."""
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = self.workers
        prm.random_seed = self.seed
        prm.log_search_progress = False
        prm.catch_sigint_signal = False  # our own handler stops solvers (see README)
        if self.m.pure_scheduling and self.workers == 2:
            prm.num_full_subsolvers = 2  # default_lp + fixed search instead of one + LNS
        if self.m.disjunctive:
            # unit-capacity machines: strong disjunctive propagation in the main (proving)
            # search, not in the others, which find easy optima faster without it
            strong = cp_model_helper.SatParameters()
            strong.name = "default_lp"
            strong.use_strong_propagation_in_disjunctive = True
            prm.subsolver_params.append(strong)
        if len(self.m.y) > LIGHT_PRESOLVE_PAIRS:
            prm.symmetry_level = 0
            prm.max_presolve_iterations = 1
        if budget is not None:
            if self.deterministic:
                prm.max_deterministic_time = max(budget, 1e-3)
            else:
                prm.max_time_in_seconds = max(budget, 1e-3)
        if self.values is not None:
            # clear first: a hint message taken before clear_hints() is no longer the model's
            self.m.model.clear_hints()
            hint = self.m.model.proto.solution_hint
            hint.vars.extend(range(len(self.values)))
            hint.values.extend(self.values)
        callback = _Callback(self, unit)
        done = threading.Event()
        watcher = None
        if self.stop is not None:
            watcher = threading.Thread(
                target=_watch, args=(self.stop, solver, done), name="cpsat-stop", daemon=True
            )
            watcher.start()
        try:
            status = solver.solve(self.m.model, callback)
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
        self.det_used += float(solver.deterministic_time)
        if self.stop is not None and self.stop.is_set():
            self.stopped = True
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {self.m.model.validate()}")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.values = [int(v) for v in solver.response_proto.solution]
            self.plan = self.m.plan_from(solver.value)
        return status, solver

    # -- drivers ---------------------------------------------------------------------------

    def reference(self, stage: _Stage) -> int | None:
        """The stage's term (scaled) on the best plan known so far, when exactly known."""
        plan = self.plan if self.plan is not None else self.warm
        if plan is None or stage.name == "weighted" or not stage.exact:
            return None
        if not self.m.scales.feasibility_exact:
            return None
        if stage.name == "balance":
            return math.ceil(self.m.exact_balance(plan) * stage.unit)
        if self.plan is None and self.warm_terms is not None:
            terms = self.warm_terms
        else:
            terms = evaluate(self.m.problem, self.m.assignments(plan), reasons=False).terms
        x = terms[stage.name] * float(stage.unit)
        return round(x) if abs(x - round(x)) < 1e-6 else None

    def run_stage(self, stage: _Stage, stages_left: int) -> None:
        ref = self.reference(stage)
        if ref is not None and ref == self.m.trivial_bound(stage.name):
            stage.outcome, stage.value, stage.bound, stage.shortcut = "optimal", ref, ref, True
            self.m.model.add(stage.expr == ref)
            self.new_stage()
            self.close(ref / float(stage.unit), ref / float(stage.unit))
            return
        if not self.can_go_on():
            return
        left = self.remaining()
        budget = None if left is None else left / stages_left
        began = self.det_used if self.deterministic else self.elapsed()
        self.new_stage()
        model = self.m.model
        if isinstance(stage.expr, int):
            model.clear_objective()
        else:
            model.minimize(stage.expr)
        plan = hybrid.plan_for(self, stage)  # scheduling: CP-SAT beside a list search
        if plan is not None:
            status, solver = hybrid.search(self, stage, plan, budget)
        else:
            status, solver = self.solve(budget, stage.unit)
        if status == cp_model.INFEASIBLE:
            stage.outcome = "infeasible"
            return
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            stage.outcome = "none"
            if ref is not None and not isinstance(stage.expr, int):
                self.m.model.add(stage.expr <= ref)  # later stages keep what is known
                stage.kept = True
            return
        value = int(solver.value(stage.expr)) if not isinstance(stage.expr, int) else 0
        stage.value = value
        stage.bound = float(solver.best_objective_bound)
        self.close(value / float(stage.unit), stage.bound / float(stage.unit))
        stage.outcome = "optimal" if status == cp_model.OPTIMAL else "feasible"
        if isinstance(stage.expr, int):
            return
        if stage.outcome == "optimal":
            model.add(stage.expr == value)
        else:
            model.add(stage.expr <= value)
        if stage.name == "balance":
            spent = (self.det_used if self.deterministic else self.elapsed()) - began
            self.refine_balance(stage, None if budget is None else budget - spent)

    def refine_balance(self, stage: _Stage, budget: float | None) -> None:
        """Exact balance: while a plan with a strictly smaller balance exists, take it."""
        assert self.plan is not None
        m = self.m
        beta = m.exact_balance(self.plan)
        proven = beta == 0 or not m.balance_loads  # nothing can be lower
        if stage.outcome == "optimal" and not proven:
            m.model.clear_objective()
            for _ in range(MAX_REFINEMENTS):
                if not self.can_go_on() or (budget is not None and budget <= 1e-3):
                    break
                lit = m.model.new_bool_var("better-balance")
                for c in m.limit_balance(beta, strict=True):
                    c.only_enforce_if(lit)
                m.model.add_assumptions([lit])
                began = self.det_used if self.deterministic else self.elapsed()
                status, _ = self.solve(budget, None)
                m.model.clear_assumptions()
                spent = (self.det_used if self.deterministic else self.elapsed()) - began
                budget = None if budget is None else budget - spent
                if status == cp_model.INFEASIBLE:
                    proven = True
                    break
                if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    break
                assert self.plan is not None
                beta = m.exact_balance(self.plan)
                grid = max(0, (stage.value or 0) - 1) / float(stage.unit)
                self.record(float(beta), grid)
        m.limit_balance(beta, strict=False)
        stage.balance = beta
        stage.balance_proven = proven
        if stage.outcome == "optimal" and not proven:
            stage.outcome = "feasible"


def _watch(stop: threading.Event, solver: cp_model.CpSolver, done: threading.Event) -> None:
    """Stop the search as soon as ``stop`` is set (polled; StopSearch is thread-safe)."""
    while not done.wait(WATCH_INTERVAL):
        if stop.is_set():
            solver.stop_search()


# --------------------------------------------------------------------------------------------


def _policy(problem: Problem) -> str:
    """The greedy policy that suits the objective: packing for cost/nodes/moves, spreading for
    balance and time."""
    for term in problem.objective.active():
        if term == "unplaced":
            continue
        return "best-fit" if term in ("cost", "nodes", "moves") else "least-loaded"
    return "best-fit"


def _safe_horizon(problem: Problem) -> int:
    """The problem's horizon, or one no optimal plan needs to pass: any plan can be compressed
    (cut every instant after the last release at which nothing runs) without changing what runs
    together, the order or any end-dependent term for the worse, so the latest end need not
    exceed the last release plus the sum of all replicas' longest durations."""
    if problem.horizon is not None:
        return problem.horizon
    longest = sum(
        t.replicas * max((t.duration_at(problem.nodes[n]) for n in t.allowed), default=0)
        for t in problem.tasks
    )
    return max((t.release or 0 for t in problem.tasks), default=0) + longest


def _warm_start(
    problem: Problem,
    hint: list[Assignment] | None,
    time_limit: float | None,
    deterministic: bool,
    policy: str | None = None,
) -> tuple[list[Assignment], str]:
    """The hint, else the greedy: with the policy that suits the objective and, when the
    caller's (``-s greedy``'s) policy differs, with that one too, the better plan of the two
    (the caller's is the floor the result is held to: :mod:`..baseline`). The greedy may use
    the whole time limit: it finishes in a fraction of it, and a plan cut short is a poor
    start and floor (a 10,000-task chain cut at a tenth of 3 s placed 3,975 tasks)."""
    began = time.perf_counter()
    floor = policy or baseline.DEFAULT_POLICY
    if hint is not None:  # the floor's greedy still runs now, within the limit
        limit = None if deterministic or time_limit is None else max(0.05, time_limit)
        baseline.greedy_plan(problem, floor, limit)
        return list(hint), "hint"
    mine = _policy(problem)
    best: baseline.Baseline | None = None
    for pol in dict.fromkeys([mine, floor]):
        limit = None
        if not deterministic and time_limit is not None:
            limit = max(0.05, time_limit - (time.perf_counter() - began))
        base = baseline.greedy_plan(problem, pol, limit)
        if best is None or baseline.compare(problem, base.evaluation, best.evaluation) < 0:
            best = base
    assert best is not None
    return best.result.assignments, f"greedy {best.policy}"


def _small_pure_scheduling(problem: Problem) -> bool:
    """Every task must be placed on exactly its allowed nodes (one replica each), in at most
    :data:`LAZY_WARM_PAIRS` pairs: the model will be pure scheduling (known before it is
    built)."""
    if not problem.scheduling:
        return False
    if sum(len(t.allowed) for t in problem.tasks) > LAZY_WARM_PAIRS:
        return False
    must = effectively_required(problem)
    return all(t.index in must and len(t.allowed) == t.replicas for t in problem.tasks)


def _set_hint(model: AllocationModel, plan: Placement) -> None:
    """Hint the model with a plan (every hinted variable once)."""
    pairs = model.hint(plan)
    model.model.clear_hints()
    hint = model.model.proto.solution_hint
    hint.vars.extend(v.index for v, _ in pairs)
    hint.values.extend(x for _, x in pairs)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _gap(value: float, bound: float) -> str:
    if value <= bound + 1e-9:
        return "0% gap"
    den = max(abs(value), 1e-9)
    return f"{100 * (value - bound) / den:.3g}% gap"


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
    balance_scale: int = BALANCE_SCALE,
    policy: str | None = None,
    **_ignored: Any,
) -> Result:
    """Solve ``problem`` with CP-SAT; see the package docstring. ``policy``: the greedy policy
    whose plan the result is at least as good as (default ``least-loaded``, ``-s greedy``'s)."""
    result = Results.start(
        NAME, time_limit=time_limit, workers=workers, seed=seed, deterministic=deterministic
    )
    t0, workers, seed, options = result.t0, result.workers, result.seed, result.options
    infeasible = result.structural(problem)
    if infeasible is not None:
        return infeasible

    def floor(res: Result, ev: Evaluation | None = None) -> Result:
        """Never worse than the greedy's plan (:mod:`..baseline`)."""
        return baseline.no_worse(problem, res, policy=policy, stop=stop, evaluation=ev)

    # pure scheduling (every task on fixed nodes) of moderate size: CP-SAT finds a schedule at
    # once, a hint slows its proofs and the greedy costs more than the solves it saves, so the
    # greedy only runs when CP-SAT ends without a plan or proves nothing (the floor's check);
    # otherwise the greedy runs first, before the model is built, so that the time limit
    # leaves it the time to finish
    lazy = hint is None and _small_pure_scheduling(problem)
    early = None if lazy else _warm_start(problem, hint, time_limit, deterministic, policy)
    if early is not None and time_limit is not None and not deterministic:
        left = time_limit - (time.perf_counter() - t0)
        pairs = sum(len(t.allowed) for t in problem.tasks)
        if left < max(MIN_SOLVE_SECONDS, BUILD_SECONDS_PER_PAIR * pairs):
            # the model could not even be built in the time left: the warm start it is
            options["warm_start"] = early[1]
            ev = evaluate(problem, early[0], reasons=False)
            status = Status.FEASIBLE if ev.feasible else Status.UNKNOWN
            why = f"no time left for CP-SAT after the warm start ({early[1]}, {left:.2f} s left)"
            return floor(result(status, list(early[0]), why), ev)

    scales = choose_scales(problem, balance_scale)
    options["scales"] = scales.describe()
    terms = problem.objective.active()
    horizon = _safe_horizon(problem) if problem.scheduling else 0
    model = AllocationModel(problem, scales, terms, horizon)

    def warm_start() -> tuple[Placement, Evaluation, str]:
        warm, source = early or _warm_start(problem, hint, None, deterministic, policy)
        plan = model.canonical(model.placement_of(warm))
        return plan, evaluate(problem, model.assignments(plan), reasons=False), source

    warm_plan: Placement = {}
    warm_ev: Evaluation | None = None
    warm_source = "none (pure scheduling)"
    if not lazy:
        warm_plan, warm_ev, warm_source = warm_start()
        _set_hint(model, warm_plan)
    warm_ok = warm_ev is not None and warm_ev.feasible
    options["warm_start"] = warm_source

    stages, weighted_info = _stages(problem, model, scales)
    if weighted_info is not None:
        options["weight_scale"] = _plain(weighted_info[1])
    run = _Run(
        model,
        t0=t0,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        progress=progress,
        stop=stop,
        warm=warm_plan if warm_ok else None,
        warm_terms=warm_ev.terms if warm_ev is not None and warm_ok else None,
    )
    for i, stage in enumerate(stages):
        run.run_stage(stage, len(stages) - i)
        if stage.outcome not in ("optimal", "feasible") and not stage.kept:
            break
    if run.error is not None:
        raise run.error
    if run.searches:
        options["schedule_search"] = run.searches
    if lazy and run.plan is None:  # the greedy after all: a plan to return, a check
        warm_plan, warm_ev, warm_source = warm_start()
        warm_ok = warm_ev.feasible
        options["warm_start"] = warm_source + " (after CP-SAT)"

    notes = list(scales.notes)
    if run.stopped:
        notes.append("stopped on request")
    elif run.timed_out or any(s.outcome == "none" for s in stages):
        notes.append("time limit reached")
    first = stages[0]
    if first.outcome == "infeasible":
        if scales.feasibility_exact:
            if warm_ok:  # a modelling error: the evaluator accepts a plan the model excludes
                raise RuntimeError("CP-SAT claims infeasibility, but the warm start is a plan")
            return result(Status.INFEASIBLE, [], "CP-SAT proved that no plan exists")
        notes.append("the rounded model has no plan")
        if not warm_ok:
            return floor(result(Status.UNKNOWN, [], "no plan found; " + "; ".join(notes)))

    plan = run.plan if run.plan is not None else warm_plan
    from_cpsat = run.plan is not None
    assignments = model.assignments(plan)
    ev = evaluate(problem, assignments, reasons=False)
    if not ev.feasible:
        if from_cpsat:  # a modelling error: never hand out such a plan as feasible
            why = "; ".join(v.message for v in ev.violations[:3])
            raise RuntimeError(f"CP-SAT plan rejected by the evaluator: {why}")
        return floor(
            result(
                Status.UNKNOWN,
                assignments,
                "no plan found within the limits" + ("; " + "; ".join(notes) if notes else ""),
            )
        )
    all_optimal = all(s.outcome == "optimal" for s in stages)
    if not from_cpsat and not all_optimal:
        notes.append(f"CP-SAT found no plan; returning the warm start ({warm_source})")
    exact_obj = scales.feasibility_exact and all(s.exact for s in stages)
    proven = not run.stopped and exact_obj and all_optimal
    bound = _bounds(problem, model, stages, ev.terms, weighted_info)
    summary = _summary(problem, stages, ev.terms, bound)
    if weighted_info is not None and "balance" in weighted_info[0]:
        notes.append(f"balance counted as ceil({scales.balance} x balance) / {scales.balance}")
    message = "; ".join([summary, *notes])
    res = result(
        Status.OPTIMAL if proven else Status.FEASIBLE,
        assignments,
        message,
        bound=bound or None,
        trajectory=run.trajectory,
    )
    return floor(res, ev)


def _plain(f: Fraction) -> int | float:
    return int(f) if f.denominator == 1 else float(f)


def _stages(
    problem: Problem, model: AllocationModel, scales: Scales
) -> tuple[list[_Stage], tuple[dict[str, float], Fraction] | None]:
    """The solves to run, and for a weighted objective (weights, divisor)."""

    def exact(term: str) -> bool:
        if term in ("unplaced", "tardiness"):
            return scales.priority_exact
        if term == "cost":
            return scales.cost_exact
        return True

    obj = problem.objective
    if obj.kind == "lexicographic":
        stages = [
            _Stage(t, model.terms[t], model.unit[t], exact(t))
            for t in obj.terms
            if t in model.terms
        ]
        return stages, None
    weights = {t: w for t, w in obj.weights.items() if w > 0}
    coeffs, divisor, w_exact = weight_multipliers(weights, model.unit)
    if not coeffs:
        return [_Stage("weighted", 0, Fraction(1), True)], (weights, Fraction(1))
    expr = sum(c * model.terms[t] for t, c in coeffs.items())
    ok = w_exact and all(exact(t) for t in coeffs)
    return [_Stage("weighted", expr, divisor, ok)], (weights, divisor)


def _bounds(
    problem: Problem,
    model: AllocationModel,
    stages: list[_Stage],
    terms: dict[str, float],
    weighted: tuple[dict[str, float], Fraction] | None,
) -> dict[str, float]:
    """Proven lower bounds, unscaled: lexicographic stages up to the first unproven one;
    weighted: the scalar (key ``weighted``) and the trivially known per-term bounds."""
    out: dict[str, float] = {}
    feasible_exact = model.scales.feasibility_exact
    if not feasible_exact:
        return out
    if weighted is None:
        for stage in stages:
            if stage.outcome not in ("optimal", "feasible") or stage.bound is None:
                break
            if stage.exact:
                if stage.name == "balance":
                    if stage.balance_proven and stage.balance is not None:
                        out["balance"] = float(stage.balance)
                    else:
                        steps = max(0, math.ceil(stage.bound - 1e-6) - 1)
                        out["balance"] = steps / float(stage.unit)
                elif stage.outcome == "optimal":
                    out[stage.name] = terms[stage.name]
                else:
                    out[stage.name] = math.ceil(stage.bound - 1e-6) / float(stage.unit)
            if stage.outcome != "optimal":
                break
        return out
    stage = stages[0]
    weights, _ = weighted
    if stage.outcome in ("optimal", "feasible") and stage.exact and stage.bound is not None:
        lb = math.ceil(stage.bound - 1e-6) / float(stage.unit)
        if "balance" in weights:
            lb -= weights["balance"] / model.scales.balance
        out["weighted"] = max(0.0, lb)
    # trivially known per-term bounds
    never = [t for t in problem.tasks if len(model.cand[t.index]) < t.replicas]
    out["unplaced"] = float(sum(t.priority * t.replicas for t in never))
    if problem.scheduling:
        out["makespan"] = float(model.trivial_bound("makespan") or 0)
    return {k: v for k, v in out.items() if k == "weighted" or k in weights}


def _summary(
    problem: Problem, stages: list[_Stage], terms: dict[str, float], bound: dict[str, float]
) -> str:
    obj = problem.objective
    if obj.kind == "weights":
        stage = stages[0]
        value = sum(w * terms[t] for t, w in obj.weights.items())
        if stage.outcome == "optimal" and stage.exact:
            return f"weights: optimal ({_fmt(value)})"
        if "weighted" in bound:
            return f"weights: {_fmt(value)}, {_gap(value, bound['weighted'])}"
        return f"weights: {_fmt(value)}, not proven"
    parts = []
    for stage in stages:
        name = stage.name
        if stage.outcome == "optimal" and stage.exact:
            parts.append(f"{name} optimal")
        elif stage.outcome in ("optimal", "feasible"):
            if name in bound:
                parts.append(f"{name} {_gap(terms[name], bound[name])}")
            else:
                parts.append(f"{name} not proven")
        else:
            parts.append(f"{name} not optimised")
    return "lexicographic: " + ", ".join(parts)
