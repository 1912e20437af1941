"""Solving the CP-SAT model: parameters, warm start, the stage hooks of the lexicographic
driver (:mod:`taskalloc.solvers.stages`), status and plan.

See the package docstring for the formulation and the promises of each status.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ortools.sat.python import cp_model, cp_model_helper

from taskalloc.problems.evaluate import Evaluation, evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, effectively_required

from .. import baseline
from ..clock import Clock, Progress, Stopped, Trajectory, preparing
from ..native import cp_solver
from ..result import Result, Results
from ..scaling import BALANCE_SCALE, Scales, choose_scales, weight_multipliers
from ..stages import Solved, Stage, StageDriver, summary
from ..warm import floor_start, safe_horizon
from . import hybrid
from .model import AllocationModel, Placement

NAME = "cpsat"
WATCH_INTERVAL = 0.02  # seconds between two looks at the stop event
BOUND_EVERY = 0.1  # seconds: at most this often a trajectory point for a better bound alone
MAX_REFINEMENTS = 50  # exact balance: at most this many "strictly better" solves
LIGHT_PRESOLVE_PAIRS = 5_000  # above this many (task, node) pairs: one presolve pass, no
# symmetry detection (on 75k pairs CP-SAT's presolve alone outlasts a 15 s limit)
LAZY_WARM_PAIRS = 1_000  # pure scheduling up to this size: the greedy only as a fallback
BUILD_SECONDS_PER_PAIR = 2e-5  # model building, per (task, allowed node) pair (10,000-task
# chain on 4 nodes: 0.7 s on a quiet machine): less time than that left after the warm start
MIN_SOLVE_SECONDS = 0.1  # ... or than this, and CP-SAT is not started


@dataclass
class _Stage(Stage):
    """A stage of the CP-SAT model: ``expr`` a linear expression of scaled integers (an int
    for a weighted objective without terms), values and bounds scaled by ``unit``."""

    unit: Fraction = Fraction(1)  # real value = integer value / unit
    balance: Fraction | None = None  # balance stage: exact balance of the stage's plan
    balance_proven: bool = False  # balance stage: no plan with a smaller balance exists


class _Callback(cp_model.CpSolverSolutionCallback):
    """Records each improving solution (trajectory, progress) and honours the stop event."""

    def __init__(self, run: _Run, unit: Fraction | None, term: str | None) -> None:
        super().__init__()
        self.run = run
        self.unit = None if unit is None else float(unit)  # None: no objective to record
        self.term = term

    def on_solution_callback(self) -> None:
        run = self.run
        if run.clock.stop_requested():
            self.stop_search()
        if self.unit is None:
            return
        try:
            run.clock.improve(
                self.objective_value / self.unit, self.best_objective_bound / self.unit, self.term
            )
        except Exception as exc:  # a failing progress callback ends the search, raised later
            run.error = run.error or exc
            self.stop_search()


class _Run(StageDriver[_Stage]):
    """State of one call of :func:`solve`: the model, its solves and the stage hooks."""

    def __init__(
        self,
        model: AllocationModel,
        clock: Clock,
        *,
        workers: int,
        seed: int,
        warm: Placement | None,
        warm_terms: dict[str, float] | None = None,
    ) -> None:
        super().__init__(clock)
        self.m = model
        self.warm = warm  # the warm start, when the evaluator accepts it
        self.warm_terms = warm_terms  # its objective terms (evaluator)
        self.workers = workers
        self.seed = seed
        self.error: BaseException | None = None
        self.values: list[int] | None = None  # last solution, every variable (for hints)
        self.plan: Placement | None = None  # best plan found by CP-SAT
        self.searches: dict[str, Any] = {}  # per stage: statistics of the hybrid search

    @property
    def trajectory(self) -> Trajectory:
        return self.clock.trajectory

    def can_go_on(self) -> bool:
        return super().can_go_on() and self.error is None

    # -- one CP-SAT solve ------------------------------------------------------------------

    def cp_solve(
        self, budget: float | None, unit: Fraction | None, term: str | None = None
    ) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
        """One CP-SAT solve, hinted with the last solution; ``unit`` scales the objective for
        the trajectory (None: a feasibility solve, nothing recorded), ``term`` names it."""
        solver = cp_solver()
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
            if self.clock.deterministic:
                prm.max_deterministic_time = max(budget, 1e-3)
            else:
                prm.max_time_in_seconds = max(budget, 1e-3)
        if self.values is not None:
            # clear first: a hint message taken before clear_hints() is no longer the model's
            self.m.model.clear_hints()
            hint = self.m.model.proto.solution_hint
            hint.vars.extend(range(len(self.values)))
            hint.values.extend(self.values)
        callback = _Callback(self, unit, term)
        if unit is not None:  # the bound as it rises, not only when a plan improves
            scale = float(unit)
            clock = self.clock

            def tighten(bound: float) -> None:
                clock.tighten(bound / scale, term, every=BOUND_EVERY)

            solver.best_bound_callback = tighten
        done = threading.Event()
        watcher = None
        stop = self.clock.stop
        if stop is not None:
            watcher = threading.Thread(
                target=_watch, args=(stop, solver, done), name="cpsat-stop", daemon=True
            )
            watcher.start()
        try:
            status = solver.solve(self.m.model, callback)
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
        self.clock.charge(float(solver.deterministic_time))
        if self.clock.stop_requested():
            self.stopped = True
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {self.m.model.validate()}")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.values = [int(v) for v in solver.response_proto.solution]
            self.plan = self.m.plan_from(solver.value)
        return status, solver

    # -- the stage hooks -------------------------------------------------------------------

    def reference(self, stage: _Stage) -> int | None:
        """The stage's term (scaled) on the best plan known so far, when exactly known."""
        plan = self.plan if self.plan is not None else self.warm
        if plan is None or stage.name == "weighted" or not stage.exact:
            return None
        if not self.m.feasibility_exact:
            return None
        if stage.name == "balance":
            return math.ceil(self.m.exact_balance(plan) * stage.unit)
        if self.plan is None and self.warm_terms is not None:
            terms = self.warm_terms
        else:
            terms = evaluate(self.m.problem, self.m.assignments(plan), reasons=False).terms
        x = terms[stage.name] * float(stage.unit)
        return round(x) if abs(x - round(x)) < 1e-6 else None

    def trivial(self, stage: _Stage) -> int | None:
        return self.m.trivial_bound(stage.name)

    def real(self, stage: _Stage, x: float) -> float:
        return x / float(stage.unit)

    def solve(self, stage: _Stage, budget: float | None) -> Solved:
        model = self.m.model
        if isinstance(stage.expr, int):
            model.clear_objective()
        else:
            model.minimize(stage.expr)
        # scheduling: CP-SAT beside a list search (whose schedules know no devices, same
        # starts or services: those problems are CP-SAT's alone)
        plan = None if _revision2(self.m.problem) else hybrid.plan_for(self, stage)
        if plan is not None:
            status, solver = hybrid.search(self, stage, plan, budget)
        else:
            status, solver = self.cp_solve(budget, stage.unit, stage.name)
        if status == cp_model.INFEASIBLE:
            return Solved("infeasible")
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Solved("none")
        value = int(solver.value(stage.expr)) if not isinstance(stage.expr, int) else 0
        outcome = "optimal" if status == cp_model.OPTIMAL else "feasible"
        bound = float(solver.best_objective_bound)
        # with one worker, CP-SAT cut by the time limit may report a bound below what is known
        # without search (-24 for `unplaced`, which cannot be negative)
        trivial = self.m.trivial_bound(stage.name) if stage.name != "weighted" else None
        if trivial is not None:
            bound = max(bound, float(trivial))
        return Solved(outcome, value, bound)

    def fix(self, stage: _Stage, value: int, *, proven: bool, last: bool) -> bool:
        if isinstance(stage.expr, int):
            return False
        self.m.model.add(stage.expr == value if proven else stage.expr <= value)
        return True

    def refine(self, stage: _Stage, budget: float | None) -> None:
        if stage.name == "balance" and not stage.shortcut:
            self.refine_balance(stage, budget)

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
                began = self.clock.used()
                status, _ = self.cp_solve(budget, None)
                m.model.clear_assumptions()
                spent = self.clock.used() - began
                budget = None if budget is None else budget - spent
                if status == cp_model.INFEASIBLE:
                    proven = True
                    break
                if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    break
                assert self.plan is not None
                beta = m.exact_balance(self.plan)
                grid = max(0, (stage.value or 0) - 1) / float(stage.unit)
                self.clock.improve(float(beta), grid, stage.name)
        m.limit_balance(beta, strict=False)
        stage.balance = beta
        stage.balance_proven = proven
        if stage.outcome == "optimal" and not proven:
            stage.outcome = "feasible"


def _revision2(problem: Problem) -> bool:
    """The problem uses devices, same-start gangs or services."""
    return bool(problem.features & {"devices", "same_start", "service"})


def _watch(stop: threading.Event, solver: cp_model.CpSolver, done: threading.Event) -> None:
    """Stop the search as soon as ``stop`` is set (polled; StopSearch is thread-safe)."""
    while not done.wait(WATCH_INTERVAL):
        if stop.is_set():
            solver.stop_search()


# --------------------------------------------------------------------------------------------


def greedy_limit(time_limit: float | None, deterministic: bool) -> float | None:
    """Seconds for the greedy warm start of a front's points: a tenth of the limit (none when
    deterministic)."""
    return None if deterministic or time_limit is None else max(0.05, time_limit / 10)


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


def _model_size(problem: Problem) -> float:
    """(task, allowed node) pairs, in units of the model-building time of one pair: with
    devices, each device a demanding task may use on a node counts too, and in a schedule
    (an optional interval per device) five times over. On 2,000 tasks x 200 nodes scheduled
    with devices (367,000 pairs, 155,000 device bools) the model took about 2 minutes to build
    and presolve on a loaded machine, where the pairs alone promised 7 s."""
    pairs = sum(len(t.allowed) for t in problem.tasks)
    if "devices" not in problem.features:
        return pairs
    devs = 0
    for t in problem.tasks:
        split = [r for r, q in t.demand.items() if q > 0 and r in problem.split_resources]
        if not split and not t.demand_on:
            continue
        for n in t.allowed:
            node = problem.nodes[n]
            devs += sum(k for r, k in node.devices.items() if t.demand_at(n).get(r, 0) > 0)
    return (pairs + devs) * (5 if problem.scheduling else 1)


def _set_hint(model: AllocationModel, plan: Placement) -> None:
    """Hint the model with a plan (every hinted variable once)."""
    pairs = model.hint(plan)
    model.model.clear_hints()
    hint = model.model.proto.solution_hint
    hint.vars.extend(v.index for v, _ in pairs)
    hint.values.extend(x for _, x in pairs)


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
) -> Result:
    """Solve ``problem`` with CP-SAT's full model; see the package docstring. ``time_limit``
    None: no limit."""
    result = Results.start(
        NAME, time_limit=time_limit, workers=workers, seed=seed, deterministic=deterministic
    )
    workers, seed, options = result.workers, result.seed, result.options
    clock = Clock(
        time_limit, stop=stop, progress=progress, deterministic=deterministic, t0=result.t0
    )

    # the greedy may use the whole limit (it takes a fraction of it): see floor_start
    floor_limit = None if deterministic or time_limit is None else max(0.05, time_limit)

    def floor(res: Result, ev: Evaluation | None = None) -> Result:
        """Never worse than the greedy's plan (:mod:`..baseline`), within the same limit: a
        greedy the limit cut is not run again (the limit is the user's)."""
        return baseline.no_worse(problem, res, time_limit=floor_limit, stop=stop, evaluation=ev)

    # pure scheduling (every task on fixed nodes) of moderate size: CP-SAT finds a schedule at
    # once, a hint slows its proofs and the greedy costs more than the solves it saves, so the
    # greedy only runs when CP-SAT ends without a plan or proves nothing (the floor's check);
    # otherwise the greedy runs first, before the model is built, so that the time limit
    # leaves it the time to finish
    lazy = hint is None and _small_pure_scheduling(problem)
    early = None
    if not lazy:
        early = floor_start(problem, hint, time_limit=floor_limit)
    if early is not None and time_limit is not None and not deterministic:
        left = time_limit - (time.perf_counter() - result.t0)
        pairs = _model_size(problem)
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
    horizon = safe_horizon(problem) if problem.scheduling else 0
    try:
        with preparing(stop):  # a signal meanwhile abandons the model (no plan yet)
            model = AllocationModel(problem, scales, terms, horizon)
    except Stopped:
        return result(Status.UNKNOWN, [], "stopped on request while building the model")

    def warm_start() -> tuple[Placement, Evaluation, str]:
        warm, source = early or floor_start(problem, hint, time_limit=None)
        plan = model.canonical(model.placement_of(warm))
        return plan, evaluate(problem, model.assignments(plan), reasons=False), source

    warm_plan: Placement = {}
    warm_ev: Evaluation | None = None
    warm_source = "none (pure scheduling)"
    if not lazy:
        try:
            with preparing(stop):
                warm_plan, warm_ev, warm_source = warm_start()
                _set_hint(model, warm_plan)
        except Stopped:
            return result(Status.UNKNOWN, [], "stopped on request during the warm start")
    warm_ok = warm_ev is not None and warm_ev.feasible
    options["warm_start"] = warm_source

    stages, weighted_info = _stages(problem, model, scales)
    if weighted_info is not None:
        options["weight_scale"] = _plain(weighted_info[1])
    run = _Run(
        model,
        clock,
        workers=workers,
        seed=seed,
        warm=warm_plan if warm_ok else None,
        warm_terms=warm_ev.terms if warm_ev is not None and warm_ok else None,
    )
    run.run(stages)
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
        if model.feasibility_exact:
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
    exact_obj = model.feasibility_exact and all(s.exact for s in stages)
    proven = not run.stopped and exact_obj and all_optimal
    bound = _bounds(problem, model, stages, ev.terms, weighted_info)
    if weighted_info is not None and "balance" in weighted_info[0]:
        notes.append(f"balance counted as ceil({scales.balance} x balance) / {scales.balance}")
    message = "; ".join([summary(problem, stages, ev.terms, bound), *notes])
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
            _Stage(t, model.terms[t], exact(t), unit=model.unit[t])
            for t in obj.terms
            if t in model.terms
        ]
        return stages, None
    weights = {t: w for t, w in obj.weights.items() if w > 0}
    coeffs, divisor, w_exact = weight_multipliers(weights, model.unit)
    if not coeffs:
        return [_Stage("weighted", 0, True, unit=Fraction(1))], (weights, Fraction(1))
    expr = sum(c * model.terms[t] for t, c in coeffs.items())
    ok = w_exact and all(exact(t) for t in coeffs)
    return [_Stage("weighted", expr, ok, unit=divisor)], (weights, divisor)


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
    feasible_exact = model.feasibility_exact
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
