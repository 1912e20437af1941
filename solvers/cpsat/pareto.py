"""The exact Pareto front of two objective terms, by the epsilon-constraint method on CP-SAT.

``front(problem, terms, points=None, time_limit=..., workers=2, seed=0, deterministic=False,
hint=None, stop=None, on_point=None)`` returns one :class:`~taskalloc.solvers.result.Result` per
non-dominated plan, ordered by the first term.

Method
------
The model is :class:`.model.AllocationModel` with the terms as integer expressions (exact
scaling, :mod:`..scaling`); the solves reuse :class:`.exact._Run` (parameters, hints, stop
watcher, time accounting). The front is over exactly the named terms: required tasks are
always placed (a constraint), optional ones are weighed only as a tie-break (name
``unplaced`` as a term to weigh them); the problem's own objective plays no part. This is also
what the GA's front is over (its tie-break is greedy: :mod:`..tiebreak`). With ``terms = [a, b]``:

1. A point is ``lexmin(a, b)`` under the current constraints: minimise ``a``, then minimise
   ``b`` with ``a <=`` that value (an assumption literal, dropped afterwards), then, when the
   problem has optional tasks and ``unplaced`` is not a term, minimise ``unplaced`` with both
   kept (:meth:`_Front.settle`): of the plans of one point, one that leaves the least priority
   out (``options["pareto"]["tiebreak"]``). The point does not move.
2. The two extremes come first: ``lexmin(a, b)`` (the point with the smallest ``a``) and
   ``lexmin(b, a)`` (the smallest ``b``).
3. Then ``b`` steps down, by permanent constraints (each step is tighter than the last):

   * ``points=None``: ``b < b(previous point)``, exactly in scaled integers (the next point),
     until the other extreme is reached or the model is infeasible: every non-dominated point
     (one plan per distinct term vector), when every solve is proven;
   * ``points=K``: ``b <= eps_k`` for ``K - 2`` values evenly spaced between the two extremes'
     ``b`` (a value at or above the previous point's ``b`` is skipped: it would give the same
     point), so at most ``K`` points.

``balance`` is exact on both sides: minimising it solves on the grid ``B / S`` and then asks
for a plan whose every utilisation is strictly below the current one until none exists (as
:mod:`.exact` does); "balance <= value" and "balance < value" are per node and resource load
limits, exact in scaled integers (:meth:`.model.AllocationModel.limit_balance`).

Time: ``time_limit`` covers the whole front (deterministic time with ``deterministic``). Each
solve gets ``remaining / (2 * points left)``: with ``K`` points, the points not yet computed; for
the whole front, 2 while the extremes are computed and 1 afterwards (so a hard step leaves time
for the next one). ``stop`` (a threading.Event) ends the search; the points found so far are
returned.

Status and bounds: a point is ``optimal`` when both of its solves (and the balance refinement)
were proven and the scaling of its terms is exact, else ``feasible``. Its ``bound`` gives, per
term, the proven lower bound under that point's constraints: for ``a`` given the current limit
on ``b``, for ``b`` given ``a <=`` the point's value. The plans are judged by the evaluator; the
returned points are the non-dominated ones among them (an unproven point may be dominated by a
later one, and is then dropped). ``message`` says whether the front is complete (every point
proven and the enumeration ended by infeasibility). Three terms are refused (TermError): use the
GA (``-s ga``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ortools.sat.python import cp_model

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.pareto import TermError, check_terms, nondominated
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem

from ..clock import Clock
from ..engine import OptionError
from ..features import refuse_unhandled
from ..result import Result, Results
from ..scaling import BALANCE_SCALE, choose_scales
from ..warm import safe_horizon, warm_start
from .exact import MAX_REFINEMENTS, NAME, _Run, _set_hint, greedy_limit
from .model import AllocationModel, LinearExpr, Placement

OnPoint = Callable[[int, dict[str, float]], None]


@dataclass
class _Point:
    """One solved point: its plan, exact values (real units), proofs and bounds."""

    plan: Placement
    values: tuple[Fraction, Fraction]
    proven: bool
    bound: dict[str, float]


class _Front:
    """The epsilon-constraint driver over one model."""

    def __init__(
        self, run: _Run, terms: list[str], exact: dict[str, bool], tiebreak: str | None = None
    ) -> None:
        self.run = run
        self.m = run.m
        self.terms = terms
        self.exact = exact
        self.points_left = 2
        #: the term that settles ties between plans of equal terms (``unplaced``: of two plans
        #: with the same point, the one that places more priority)
        self.tiebreak = tiebreak

    # -- terms -------------------------------------------------------------------------------

    def expr(self, term: str) -> LinearExpr:
        return self.m.terms[term]

    def unit(self, term: str) -> Fraction:
        return self.m.unit[term]

    def limit(
        self, term: str, value: Fraction, *, strict: bool, lit: Any = None
    ) -> list[cp_model.Constraint]:
        """Constraints ``term <= value`` (``<`` when strict), in scaled integers; enforced by
        ``lit`` when given, else permanent."""
        if term == "balance":
            cts = self.m.limit_balance(value, strict=strict)
        else:
            expr = self.expr(term)
            scaled = value * self.unit(term)
            top = math.ceil(scaled) - 1 if strict else math.floor(scaled)
            if isinstance(expr, int):
                cts = [self.m.model.add_bool_or([])] if expr > top else []
            else:
                cts = [self.m.model.add(expr <= top)]
        if lit is not None:
            for c in cts:
                c.only_enforce_if(lit)
        return cts

    def budget(self) -> float | None:
        left = self.run.clock.remaining()
        return None if left is None else max(left, 0.0) / (2 * max(1, self.points_left))

    # -- solves ------------------------------------------------------------------------------

    def minimise(
        self, term: str, assumptions: list[Any]
    ) -> tuple[str, Fraction | None, float | None]:
        """Minimise ``term`` under ``assumptions``: (outcome, exact value, bound in real units).
        Outcome: optimal | feasible | infeasible | none."""
        run, model = self.run, self.m.model
        if not run.can_go_on():
            return "none", None, None
        budget = self.budget()
        began = run.clock.used()
        expr = self.expr(term)
        unit = self.unit(term)
        if isinstance(expr, int):
            model.clear_objective()
        else:
            model.minimize(expr)
        model.clear_assumptions()
        model.add_assumptions(assumptions)
        run.clock.new_stage()
        try:
            status, solver = run.cp_solve(budget, unit, term)
        finally:
            model.clear_assumptions()
        if run.error is not None:
            raise run.error
        if status == cp_model.INFEASIBLE:
            return "infeasible", None, None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or run.plan is None:
            return "none", None, None
        outcome = "optimal" if status == cp_model.OPTIMAL else "feasible"
        if isinstance(expr, int):
            return outcome, Fraction(expr) / unit, float(expr / unit)
        scaled = int(solver.value(expr))
        bound = float(solver.best_objective_bound)
        run.clock.record_new(scaled / float(unit), bound / float(unit), term)
        if term != "balance":
            return outcome, Fraction(scaled) / unit, math.ceil(bound - 1e-6) / float(unit)
        # balance: the grid optimum, then strictly better exact balances until none exists
        beta = self.m.exact_balance(run.plan)
        grid_bound = max(0, math.ceil(bound - 1e-6) - 1) / float(unit)
        if outcome != "optimal" or beta == 0 or not self.m.balance_loads:
            return outcome, beta, (float(beta) if outcome == "optimal" else grid_bound)
        spent = run.clock.used() - began
        left = None if budget is None else budget - spent
        model.clear_objective()
        for _ in range(MAX_REFINEMENTS):
            if not run.can_go_on() or (left is not None and left <= 1e-3):
                break
            lit = model.new_bool_var("pareto-better-balance")
            self.limit("balance", beta, strict=True, lit=lit)
            model.add_assumptions([*assumptions, lit])
            t = run.clock.used()
            try:
                status, _ = run.cp_solve(left, None)
            finally:
                model.clear_assumptions()
            if left is not None:
                left -= run.clock.used() - t
            if status == cp_model.INFEASIBLE:
                return "optimal", beta, float(beta)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            beta = self.m.exact_balance(run.plan)
        return "feasible", beta, grid_bound

    def lexmin(self, first: str, second: str) -> tuple[str, _Point | None]:
        """Minimise ``first``, then ``second`` with ``first`` kept at most that value.
        Outcome: found | infeasible | none."""
        out1, v1, b1 = self.minimise(first, [])
        if out1 == "infeasible":
            return "infeasible", None
        if v1 is None or self.run.plan is None:
            return "none", None
        plan1 = self.run.plan
        lit = self.m.model.new_bool_var(f"pareto-keep-{first}")
        self.limit(first, v1, strict=False, lit=lit)
        out2, v2, b2 = self.minimise(second, [lit])
        bound = {first: b1} if b1 is not None else {}
        if v2 is None or self.run.plan is None:
            # no better second term found in time: the first solve's plan
            return "found", self.settle(self._point(plan1, False, bound))
        if b2 is not None:
            bound[second] = b2
        proven = out1 == "optimal" and out2 == "optimal"
        return "found", self.settle(self._point(self.run.plan, proven, bound))

    def settle(self, point: _Point) -> _Point:
        """Among the plans with ``point``'s values (or better), one with the least tie-break
        term: the point stays where it is, its plan places what it can place at no cost in
        the named terms. The point as it was when that solve finds nothing better in time."""
        term = self.tiebreak
        if term is None or term not in self.m.terms or isinstance(self.expr(term), int):
            return point
        before = self.value(term, point.plan)
        if before == 0 or not self.run.can_go_on():
            return point
        keep = []
        for name, value in zip(self.terms, point.values, strict=True):
            lit = self.m.model.new_bool_var(f"pareto-settle-{name}")
            self.limit(name, value, strict=False, lit=lit)
            keep.append(lit)
        _, after, _ = self.minimise(term, keep)
        plan = self.run.plan
        if after is None or plan is None or after >= before:
            return point
        values = (self.value(self.terms[0], plan), self.value(self.terms[1], plan))
        if any(v > w for v, w in zip(values, point.values, strict=True)):
            return point  # never a worse point (a modelling error; keep the point's plan)
        return _Point(plan, values, point.proven, point.bound)

    def _point(self, plan: Placement, proven: bool, bound: dict[str, Any]) -> _Point:
        a, b = self.terms
        values = (self.value(a, plan), self.value(b, plan))
        ok = proven and all(self.exact[t] for t in self.terms)
        return _Point(plan, values, ok, {k: v for k, v in bound.items() if v is not None})

    def value(self, term: str, plan: Placement) -> Fraction:
        """The exact value of ``term`` on ``plan`` (real units)."""
        if term == "balance":
            return self.m.exact_balance(plan)
        ev = evaluate(self.m.problem, self.m.assignments(plan), reasons=False)
        # in scaled integers when it is one (float sums like 0.1 + 0.2 are not exact)
        x = ev.terms[term] * float(self.unit(term))
        if abs(x - round(x)) < 1e-6:
            return Fraction(round(x)) / self.unit(term)
        return Fraction(repr(ev.terms[term]))


def front(
    problem: Problem,
    terms: list[str],
    *,
    points: int | None = None,
    time_limit: float | None = None,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
    hint: list[Assignment] | None = None,
    stop: threading.Event | None = None,
    on_point: OnPoint | None = None,
    balance_scale: int = BALANCE_SCALE,
) -> list[Result]:
    """The exact front of two terms (module doc); one Result per non-dominated plan."""
    refuse_unhandled(problem, "cpsat")  # revision-2 features it cannot model yet
    t0 = time.perf_counter()
    terms = check_terms(problem, terms)
    if len(terms) != 2:
        raise TermError(
            f"engine cpsat computes exact fronts of 2 terms, not {len(terms)} "
            f"({','.join(terms)}); use engine ga for 3"
        )
    if points is not None and points < 2:
        raise OptionError("points", f"must be at least 2 (the two extremes), not {points}")
    result = Results.start(
        NAME,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        t0=t0,
    )
    workers, seed, options = result.workers, result.seed, result.options
    scales = choose_scales(problem, balance_scale)
    options["scales"] = scales.describe()
    horizon = safe_horizon(problem) if problem.scheduling else 0
    # ties between plans of one point go to the plan that leaves the least priority unplaced
    optional = any(not t.required for t in problem.tasks)
    tiebreak = "unplaced" if optional and "unplaced" not in terms else None
    options["pareto"] = {
        "terms": list(terms),
        "method": "epsilon-constraint",
        "points": points if points is not None else "all",
        **({"tiebreak": tiebreak} if tiebreak else {}),
    }
    model = AllocationModel(problem, scales, {*terms, *([tiebreak] if tiebreak else [])}, horizon)
    warm, source = warm_start(problem, hint, greedy_limit=greedy_limit(time_limit, deterministic))
    warm_plan = model.canonical(model.placement_of(warm))
    warm_ev = evaluate(problem, model.assignments(warm_plan), reasons=False)
    _set_hint(model, warm_plan)
    options["warm_start"] = source
    clock = Clock(time_limit, stop=stop, deterministic=deterministic, t0=t0)
    run = _Run(
        model,
        clock,
        workers=workers,
        seed=seed,
        warm=warm_plan if warm_ev.feasible else None,
        warm_terms=warm_ev.terms if warm_ev.feasible else None,
    )
    exact = {
        t: (
            scales.priority_exact
            if t in ("unplaced", "tardiness")
            else scales.cost_exact
            if t == "cost"
            else True
        )
        and scales.feasibility_exact
        for t in terms
    }
    driver = _Front(run, terms, exact, tiebreak)
    notes = list(scales.notes)

    a, b = terms
    found: list[_Point] = []
    complete = False

    def add(p: _Point) -> None:
        found.append(p)
        if on_point is not None:
            on_point(len(found), {a: float(p.values[0]), b: float(p.values[1])})

    # 1. the extremes
    driver.points_left = 2 if points is None else points
    outcome, first = driver.lexmin(a, b)
    if first is None:
        if outcome == "infeasible" and scales.feasibility_exact and not notes:
            return [result(Status.INFEASIBLE, [], "CP-SAT proved that no plan exists")]
        why = "stopped on request" if run.stopped else "no point found within the limits"
        if warm_ev.feasible:  # a plan all the same (not known to be on the front)
            msg = f"{why}; returning the warm start ({source}), not known to be non-dominated"
            return [result(Status.FEASIBLE, model.assignments(warm_plan), "; ".join([msg, *notes]))]
        return [result(Status.UNKNOWN, [], "; ".join([why, *notes]))]
    add(first)
    driver.points_left -= 1
    _, last = driver.lexmin(b, a)
    if last is not None and last.values != first.values:
        add(last)
    driver.points_left -= 1
    # 2. b steps down between the extremes
    # (without K, also when the other extreme was not found in its share of the time)
    if (last is None and points is None) or (last is not None and last.values[1] < first.values[1]):
        prev_b = first.values[1]
        if points is None:
            driver.points_left = 1
            while run.can_go_on():
                driver.limit(b, prev_b, strict=True)
                outcome, p = driver.lexmin(a, b)
                if p is None:
                    complete = outcome == "infeasible"
                    break
                if last is not None and p.values[1] <= last.values[1]:
                    complete = True  # the other extreme again
                    break
                if p.values[1] >= prev_b:  # no progress: a modelling error, never loop on it
                    raise RuntimeError(f"epsilon step did not lower {b} below {float(prev_b)}")
                add(p)
                prev_b = p.values[1]
            complete = complete and all(p.proven for p in found)
        elif last is not None:
            span = first.values[1] - last.values[1]
            steps = [first.values[1] - span * Fraction(k, points - 1) for k in range(1, points - 1)]
            for k, eps in enumerate(steps):
                driver.points_left = points - 2 - k
                if eps >= prev_b:
                    continue
                if not run.can_go_on():
                    break
                driver.limit(b, eps, strict=False)
                outcome, p = driver.lexmin(a, b)
                if p is None:
                    break
                if p.values[1] <= last.values[1]:
                    break
                add(p)
                prev_b = p.values[1]
    elif last is not None:  # the two extremes are one point: with both proven, the whole front
        complete = first.proven and last.proven and (points is None or last.values == first.values)
    if run.error is not None:
        raise run.error

    # 3. the plans, judged by the evaluator; the non-dominated ones, by the first term
    plans = []
    for p in found:
        assignments = model.assignments(p.plan)
        ev = evaluate(problem, assignments, reasons=False)
        if not ev.feasible:  # a modelling error: never hand out such a plan
            why = "; ".join(v.message for v in ev.violations[:3])
            raise RuntimeError(f"CP-SAT plan rejected by the evaluator: {why}")
        plans.append((p, assignments, (ev.terms[a], ev.terms[b])))
    keep = nondominated([vec for _, _, vec in plans])
    plans = sorted((plans[i] for i in keep), key=lambda x: x[2])
    if run.stopped:
        notes.append("stopped on request")
    elif run.timed_out:
        notes.append("time limit reached")
    if points is None:
        state = "the exact front, complete" if complete else "front not proven complete"
    else:
        state = f"{len(plans)} of at most {points} points"
    out = []
    for p, assignments, vec in plans:
        where = f"{a}={vec[0]:.6g}, {b}={vec[1]:.6g}"
        proven = p.proven
        kind = "non-dominated (proven)" if proven else "not proven non-dominated"
        message = "; ".join([f"pareto point {where}: {kind}", state, *notes])
        out.append(
            result(
                Status.OPTIMAL if proven else Status.FEASIBLE,
                assignments,
                message,
                bound=p.bound or None,
                trajectory=[],
            )
        )
    for r in out:
        r.options["pareto"] = {**options["pareto"], "complete": complete}
    return out


__all__ = ["front"]
