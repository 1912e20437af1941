"""Solving the MILP: backend, warm start, the stage hooks of the lexicographic driver
(:mod:`taskalloc.solvers.stages`), polishing, status, bounds and plan.

See the package docstring for the formulation and the promises of each status.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

from taskalloc.problems.evaluate import Evaluation, evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem

from ..clock import Clock, Progress, Stopped, Trajectory, abandon, finishing, preparing
from ..engine import OptionError
from ..result import Result, Results
from ..stages import Solved, Stage, StageDriver, summary
from ..warm import floor_start, safe_horizon
from . import DEFAULT_TIME_LIMIT, MipRefused, polish
from .backends import (
    PORTFOLIO,
    Backend,
    Outcome,
    Settings,
    check_backend,
    default_backend,
    make_backend,
)
from .model import MipModel, Placement, TooLarge, gc_paused
from .polish import Polisher

NAME = "mip"
MAX_START_VARS = 50_000  # time-indexed formulation: start binaries
EPS = 1e-6  # relative slack when an earlier lexicographic term is bounded by its value


@dataclass
class _Stage(Stage):
    """A stage of the MILP: ``expr`` a Pyomo expression, values and bounds in real units."""

    integral: bool = False  # the objective is an integer on every plan (bounds round up)
    rejected: bool = False  # the solver's solution failed the evaluator (tolerances)
    seconds: float = 0.0


def build_model(problem: Problem, terms: list[str] | None = None) -> MipModel:
    """The MILP of ``problem`` for ``terms`` (default: every term of its objective); raises
    :class:`MipRefused` when the time-indexed formulation would be too large."""
    terms = problem.objective.active() if terms is None else terms
    horizon = safe_horizon(problem) if problem.scheduling else 0
    try:
        return MipModel(problem, terms, horizon, max_start_vars=MAX_START_VARS)
    except TooLarge as exc:
        raise MipRefused(
            f"{exc}; the MILP handles only small scheduling problems: use engine cpsat, whose "
            "interval model does not grow with the horizon"
        ) from None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= EPS * max(1.0, abs(a))


class _Run(StageDriver[_Stage]):
    """State of one call of :func:`solve`: the backend, its solves and the stage hooks."""

    def __init__(
        self,
        model: MipModel,
        backend: Backend,
        settings: Settings,
        clock: Clock,
        *,
        warm: Placement | None,
    ) -> None:
        super().__init__(clock)
        self.m = model
        self.backend = backend
        self.settings = settings
        self.warm = warm  # the warm start, when the evaluator accepts it
        self.plan: Placement | None = None  # best plan found by the MILP
        self.rejected: str | None = None  # why a MILP solution failed the evaluator
        self._evaluated: list[tuple[Placement, Evaluation]] = []
        self.overhead = 0.0  # seconds of a solve outside the solver's own clock
        self.polisher: Polisher | None = None  # LNS after the last stage's plain solve
        self.last_outcome: Outcome | None = None  # of the last backend solve

    @property
    def trajectory(self) -> Trajectory:
        return self.clock.trajectory

    def best(self) -> Placement | None:
        return self.plan if self.plan is not None else self.warm

    def evaluation(self, plan: Placement) -> Evaluation:
        """The evaluator's verdict on a plan (the last few are kept: evaluating a big plan
        takes a while)."""
        for known, ev in self._evaluated:
            if known is plan:
                return ev
        ev = evaluate(self.m.problem, self.m.assignments(plan), reasons=False)
        self._evaluated = [*self._evaluated[-3:], (plan, ev)]
        return ev

    def term_value(self, stage: _Stage, plan: Placement) -> float:
        """The stage's objective on a plan, by the evaluator (weighted: the weighted sum)."""
        ev = self.evaluation(plan)
        obj = self.m.problem.objective
        if stage.name == "weighted":
            return float(sum(w * ev.terms[t] for t, w in obj.weights.items() if w > 0))
        return float(ev.terms[stage.name])

    def hint(self, plan: Placement | None = None) -> None:
        """Hand ``plan`` (default: the best plan known) to the backend as its hint."""
        plan = self.best() if plan is None else plan
        if plan is None:
            self.backend.set_hint([])
            return
        balance = None
        if self.m.balance is not None:
            balance = self.evaluation(plan).terms["balance"]
        self.backend.set_hint(self.m.values_of(plan, balance))

    # -- the stage hooks -------------------------------------------------------------------

    def reference(self, stage: _Stage) -> float | None:
        best = self.best()
        return self.term_value(stage, best) if best is not None else None

    def trivial(self, stage: _Stage) -> float | None:
        return self.m.trivial_bound(stage.name) if stage.name != "weighted" else None

    def reaches(self, value: float, trivial: float) -> bool:
        return _close(value, trivial)

    def budget(self, stages_left: int) -> float:
        # the solver's clock starts after the model is handed over and stops before the
        # solution is read back: keep the last stage's share of that (or the hand-off's)
        left = self.clock.remaining()
        budget = max(0.05, (math.inf if left is None else left) / stages_left - self.overhead)
        if stages_left == 1 and self.polisher is not None and not math.isinf(budget):
            budget *= self.polisher.share_plain(budget)
        return budget

    def fix(self, stage: _Stage, value: float, *, proven: bool, last: bool) -> bool:
        """Later stages keep this stage's term at most ``value`` (plus a relative EPS); the
        last stage adds no row."""
        if last:
            return False
        m = self.m.m
        name = f"stage_{stage.name}"
        limit = value + EPS * max(1.0, abs(value))
        if stage.integral:
            limit = math.floor(value + 1e-6) + 0.5  # an integer term: no rounding doubt
        setattr(m, name, pyo.Constraint(expr=stage.expr <= limit))
        self.backend.add_rows()
        return True

    def solve(self, stage: _Stage, budget: float | None) -> Solved:
        self.backend.set_objective(stage.expr)
        self.hint()
        self.settings.time_limit = None if budget is None or math.isinf(budget) else budget
        outcome: Outcome = self.backend.solve(self.settings, self.clock.stop)
        self.last_outcome = outcome
        if self.clock.stop_requested():
            self.stopped = True
        if outcome.status == "infeasible":
            return Solved("infeasible")
        plan = None
        if outcome.status in ("optimal", "feasible"):
            plan = self.m.plan_from(self.backend.value(outcome))
            why = self._rejected(plan)
            if why is not None:
                self.rejected = why
                stage.rejected = True
                plan = None
        if plan is None:
            return Solved("none")
        self.plan = plan
        value = self.term_value(stage, plan)
        bound = outcome.bound
        trivial = self.trivial(stage)
        if trivial is not None:
            bound = trivial if bound is None else max(bound, trivial)
        if bound is not None and stage.integral:
            bound = math.ceil(bound - 1e-6)
        if bound is not None:
            bound = min(bound, value)
        proven = outcome.status == "optimal" and bound is not None and _close(value, bound)
        return Solved("optimal" if proven else "feasible", value, bound)

    def run_stage(self, stage: _Stage, stages_left: int) -> None:
        t_stage = time.perf_counter()
        self.last_outcome = None
        super().run_stage(stage, stages_left)
        if self.last_outcome is not None:  # what the stage took beyond the solver's own clock
            self.overhead = max(0.0, time.perf_counter() - t_stage - self.last_outcome.seconds)
        if stages_left == 1 and stage.outcome in ("feasible", "none"):
            self.polish(stage)
        stage.seconds = time.perf_counter() - t_stage

    def polish(self, stage: _Stage) -> None:
        """Large-neighbourhood search on the model after the stage's plain solve (see
        :mod:`.polish`); updates the plan, the stage's value and (cost) its bound."""
        pol = self.polisher
        start = self.best()
        if pol is None or start is None or not self.can_go_on():
            return
        clock = self.clock
        if stage.value is None:  # the plain solve found nothing: start from the warm start
            if self._rejected(start) is not None:
                return
            stage.value = self.term_value(stage, start)
        if stage.name == "cost":
            left = clock.remaining()
            pol.start_lagrangian(stage.value, math.inf if left is None else left)
            if pol.lower_bound is not None:
                bound = max(stage.bound or -math.inf, pol.lower_bound)
                stage.bound = min(bound, stage.value)
                clock.record(stage.value, stage.bound, stage.name)
        gap = self.settings.gap or 0.0

        def enough(value: float) -> bool:
            bound = stage.bound
            if bound is None:
                return False
            return _close(value, bound) or value - bound <= gap * max(abs(value), 1e-9)

        if enough(stage.value):
            if stage.bound is not None and _close(stage.value, stage.bound):
                stage.outcome = "optimal"
            return

        def value_of(plan: Placement) -> float | None:
            return None if self._rejected(plan) is not None else self.term_value(stage, plan)

        def record(value: float) -> None:
            clock.record(value, stage.bound, stage.name)

        deadline = (math.inf if clock.deadline is None else clock.deadline) - self.overhead
        plan, value = pol.run(
            start, stage.value, deadline, value_of, self.hint, record, enough=enough
        )
        if plan is not start:
            self.plan = plan
        stage.value = value
        if stage.outcome == "none" and self.plan is not None:
            stage.outcome = "feasible"
        if stage.bound is not None and _close(value, stage.bound):
            stage.outcome = "optimal"
        self.can_go_on()

    def _rejected(self, plan: Placement) -> str | None:
        ev = self.evaluation(plan)
        if ev.feasible:
            return None
        return "; ".join(v.message for v in ev.violations[:3])


def _stages(problem: Problem, model: MipModel) -> list[_Stage]:
    obj = problem.objective
    if obj.kind == "lexicographic":
        return [
            _Stage(t, model.terms[t], integral=model.integral.get(t, False))
            for t in obj.terms
            if t in model.terms
        ]
    from .model import linear

    weights = {t: w for t, w in obj.weights.items() if w > 0}
    if not weights:
        return [_Stage("weighted", linear([]), integral=True)]
    expr = sum(w * model.terms[t] for t, w in weights.items())
    integral = all(
        float(w).is_integer() and model.integral.get(t, False) for t, w in weights.items()
    )
    return [_Stage("weighted", expr, integral=integral)]


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
    backend: str | None = None,
    gap: float | None = None,
) -> Result:
    """Solve ``problem`` as a MILP on ``backend`` (default: :func:`.backends.default_backend`);
    see the package docstring. ``time_limit`` covers the whole run (default 60 s;
    ``math.inf``: none)."""
    keep: list[Any] = []  # the model and its backend: never freed after a signal (abandon)
    try:
        return _solve(
            problem,
            keep,
            time_limit=time_limit,
            workers=workers,
            seed=seed,
            deterministic=deterministic,
            hint=hint,
            progress=progress,
            stop=stop,
            backend=backend,
            gap=gap,
        )
    finally:
        abandon(stop, *keep)


def _solve(
    problem: Problem,
    keep: list[Any],
    *,
    time_limit: float | None,
    workers: int,
    seed: int,
    deterministic: bool,
    hint: list[Assignment] | None,
    progress: Progress | None,
    stop: threading.Event | None,
    backend: str | None,
    gap: float | None,
) -> Result:
    limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
    if gap is not None and not gap >= 0:
        raise OptionError("gap", f"must be >= 0, not {gap}")
    result = Results.start(
        NAME,
        time_limit=None if math.isinf(limit) else limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        gap=gap,
    )
    workers, seed, options = result.workers, result.seed, result.options
    continuous = "balance" in problem.objective.active()
    name = backend or default_backend(continuous, workers)
    options["backend"] = name

    check_backend(name)
    if name in ("ortools-cpsat", PORTFOLIO) and continuous:
        raise MipRefused(
            "the balance term is a continuous variable, which CP-SAT's import of a MILP "
            "(integers only) cannot represent exactly: use option backend='ortools-scip', or "
            "engine cpsat"
        )
    clock = Clock(None if math.isinf(limit) else limit, stop=stop, progress=progress, t0=result.t0)
    from .. import baseline  # the greedy's plan (warm start and floor) before the build

    baseline.greedy_plan(problem, baseline.DEFAULT_POLICY, min(limit, 600.0))
    with gc_paused():  # Pyomo builds millions of objects: see model.gc_paused
        t = time.perf_counter()
        try:
            with preparing(stop):  # a stop meanwhile abandons the model (no plan yet)
                model = build_model(problem)
                keep.append(model)
                build = time.perf_counter() - t
                backend_ = make_backend(name, model.m)
                keep.append(backend_)
        except Stopped:
            return result(Status.UNKNOWN, [], "stopped on request while building the model")
        options["seconds"] = {
            "build": round(build, 3),
            "hand_off": round(time.perf_counter() - t - build, 3),
        }
        options["model"] = {"variables": backend_.columns, "constraints": _rows(model)}
        try:
            with preparing(stop):
                warm, source, warm_ok = _warm_start(problem, model, hint, limit)
        except Stopped:
            return result(Status.UNKNOWN, [], "stopped on request during the warm start")
        options["warm_start"] = source + ("" if backend_.hints else " (the backend takes none)")
        settings = Settings(time_limit=None, gap=gap, seed=seed, workers=workers)
        run = _Run(model, backend_, settings, clock, warm=warm if warm_ok else None)
        run.overhead = 1.5 * options["seconds"]["hand_off"]  # until a stage measures it
        run.polisher = polish.polisher_for(model, backend_, settings, seed, stop, deterministic)
        stages = _stages(problem, model)
        run.run(stages)
        finishing(stop)  # the search is over: the plan is being made (see clock.Stop)
        options["applied"] = dict(settings.applied)
        if run.polisher is not None and any(k.tries for k in run.polisher.kinds.values()):
            options["polish"] = run.polisher.describe()
        options["seconds"]["stages"] = {s.name: round(s.seconds, 3) for s in stages if s.seconds}

        notes: list[str] = [f"backend {name}"]
        if run.stopped:
            notes.append("stopped on request")
        elif run.timed_out or any(s.outcome == "none" and not s.rejected for s in stages):
            notes.append("time limit reached")
        if run.rejected:
            notes.append(f"a MILP solution failed the evaluator (tolerances): {run.rejected}")
        if stages[0].outcome == "infeasible":
            if warm_ok:  # a modelling error: the evaluator accepts a plan the model excludes
                raise RuntimeError(f"{name} claims infeasibility, but the warm start is a plan")
            return result(Status.INFEASIBLE, [], f"{name} proved that no plan exists")

        plan = run.plan if run.plan is not None else warm
        assignments = model.assignments(plan)
        ev = evaluate(problem, assignments, reasons=False)
        if not ev.feasible:
            from ..baseline import no_worse  # the greedy's plan, if it has one

            res = result(
                Status.UNKNOWN, assignments, "no plan found within the limits; " + "; ".join(notes)
            )
            return no_worse(problem, res, time_limit=min(limit, 600.0), stop=stop, evaluation=ev)
        all_optimal = all(s.outcome == "optimal" for s in stages)
        if run.plan is None and not all_optimal:
            notes.append(f"the MILP found no plan; returning the warm start ({source})")
        bound = _bounds(problem, model, stages, ev.terms)
        message = "; ".join([summary(problem, stages, ev.terms, bound), *notes])
        res = result(
            Status.OPTIMAL if all_optimal and not run.stopped else Status.FEASIBLE,
            assignments,
            message,
            bound=bound or None,
            trajectory=run.trajectory,
        )
        from ..baseline import no_worse  # never worse than the greedy's plan

        return no_worse(problem, res, time_limit=min(limit, 600.0), stop=stop, evaluation=ev)


def _warm_start(
    problem: Problem,
    model: MipModel,
    hint: list[Assignment] | None,
    limit: float,
) -> tuple[Placement, str, bool]:
    """(plan relabelled for the symmetry breaking, its source, whether it is feasible): the
    hint when given, else the better plan of the greedy with the policy that suits the
    objective and with ``-s greedy``'s default policy (the result's floor:
    :mod:`..baseline`)."""
    assignments, source = floor_start(problem, hint, time_limit=min(limit, 600.0))
    plan = model.canonical(model.placement_of(assignments))
    ok = evaluate(problem, model.assignments(plan), reasons=False).feasible
    return plan, source, ok


def _rows(model: MipModel) -> int:
    return sum(1 for _ in model.m.component_data_objects(pyo.Constraint, active=True))


def _bounds(
    problem: Problem, model: MipModel, stages: list[_Stage], terms: dict[str, float]
) -> dict[str, float]:
    """Proven lower bounds: lexicographic stages up to the first unproven one; weighted: the
    scalar (key ``weighted``) and the trivially known per-term bounds."""
    out: dict[str, float] = {}
    if problem.objective.kind == "lexicographic":
        for stage in stages:
            if stage.outcome not in ("optimal", "feasible") or stage.bound is None:
                break
            out[stage.name] = terms[stage.name] if stage.outcome == "optimal" else stage.bound
            if stage.outcome != "optimal":
                break
        return out
    stage = stages[0]
    if stage.outcome in ("optimal", "feasible") and stage.bound is not None:
        out["weighted"] = max(0.0, stage.bound)
    weights = problem.objective.weights
    for term in ("unplaced", "makespan"):
        if weights.get(term, 0) > 0:
            b = model.trivial_bound(term)
            if b is not None:
                out[term] = b
    return out
