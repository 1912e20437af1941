"""Large neighbourhood search for placement problems too large for one CP-SAT model.

Why
---
One CP-SAT model of a large placement problem loses: 2,400 tasks on 800 nodes took 31 s and
2.7 GB to build and found no solution in 60 s, even with a greedy hint. This module keeps the
incumbent plan in flat arrays (:mod:`..flat`) and improves it by re-solving small parts of it
exactly with CP-SAT (:mod:`..submodel`), while a lower bound comes from the LP relaxation
(:mod:`..bounds`).

The parts
---------
* :mod:`.route`: which problems come here (:func:`route`), and the *hybrid* that runs the exact
  path first on medium ones;
* :mod:`.start`: the start plan (hint, construction, greedy; never worse than the caller's
  greedy) and the evaluator's constraint check without its fitness weights;
* :mod:`.search`: the loop (sub-solves of :mod:`..submodel`, fleet-wide moves of
  :mod:`..quick`, ruin-and-recreate packing moves of :mod:`taskalloc.solvers.costpack` when
  nodes cost money, Lagrangian pair elimination of :mod:`..lagrange`, bounds of
  :mod:`..bounds`);
* :mod:`.hoods`: the neighbourhoods a step frees;
* :mod:`.settings`: every tunable number.

Objective, bound and status
---------------------------
The LNS compares plans by the objective the exact model optimises, in the same scaled integers:
lexicographic term by term, ``weights`` by the exact model's integer weighted sum. ``trajectory``
and ``progress`` get ``(seconds, value, bound)`` at each improvement, where value is, for
lexicographic objectives, the first term (in order) above its known lower bound (or the last
term), and for ``weights`` the weighted sum, each in the problem's units.

``bound`` holds the lower bounds of :mod:`..bounds` (LP relaxation, see there; the Lagrangian
bound when it is higher), per term for
lexicographic objectives up to the first term not proven optimal (a term is proven when the plan
reaches its bound and all earlier ones are proven), ``weighted`` for ``weights``. Status is
``optimal`` only when every term is proven with exact scaling, else ``feasible``; ``unknown``
when must-place tasks remain unplaced. Every plan returned has been accepted by the evaluator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem
from taskalloc.problems.wording import noun, plural

from ... import baseline, lagrange
from ...clock import finishing
from ...flat import Flat, Plan
from ...result import Result, Results
from ...scaling import choose_scales
from ..bounds import Bounds, BoundTask
from .route import pairs, route
from .search import Progress, Search
from .settings import (
    DET_SUB_SECONDS,
    EXACT_SHARE,
    EXACT_SHARE_ASSIGNMENT,
    HYBRID_PAIRS,
    LNS_PAIRS,
    MIN_SUB_SECONDS,
    STALL_STEPS,
    SUB_SECONDS,
)
from .start import start_plan, violations_of

NAME = "cpsat"

__all__ = ["HYBRID_PAIRS", "LNS_PAIRS", "pairs", "route", "solve", "violations_of"]


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
    lns: bool | None = True,
    sub_seconds: float | None = None,
) -> Result:
    """Solve a placement problem by LNS (``lns=True``) or the hybrid (``lns=None``: exact path
    first when the problem is of medium size); see the module docstring."""
    mode = "lns" if lns else route(problem, None) or "lns"
    result = Results.start(
        NAME,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        search=mode,
    )
    t0, workers, seed, options = result.t0, result.workers, result.seed, result.options

    scales = choose_scales(problem)
    options["scales"] = scales.describe()
    flat = Flat(problem, scales)
    exact_result = None
    if mode == "hybrid":
        from ..exact import solve as exact

        fraction = EXACT_SHARE
        if lagrange.applies(flat, problem.objective.active()):
            fraction = EXACT_SHARE_ASSIGNMENT
        share = None if time_limit is None else fraction * time_limit
        exact_result = exact(
            problem,
            time_limit=share,
            workers=workers,
            seed=seed,
            deterministic=deterministic,
            hint=hint,
            progress=progress,
            stop=stop,
        )
        stopped = stop is not None and stop.is_set()
        if exact_result.status in (Status.OPTIMAL, Status.INFEASIBLE) or stopped:
            exact_result.options["search"] = "exact (hybrid)"
            return exact_result
        if exact_result.has_plan:
            hint = exact_result.assignments

    bounds = Bounds(flat, problem.objective.active(), problem.objective)
    if exact_result is not None:
        # stage bounds proven by the exact path (before the LP, whose stages build on them)
        bounds.merge(exact_result.bound or {})
        if deterministic and time_limit is not None:
            time_limit = time_limit * (1 - fraction)
    bound_task = BoundTask(bounds, deterministic=deterministic, time_limit=time_limit, t0=t0)
    bound_task.start()
    try:
        plan, source = start_plan(
            problem, flat, hint, time_limit, deterministic, bound_task=bound_task
        )
        if exact_result is not None and source == "hint":
            source = "the exact path's plan"
        options["warm_start"] = source
        given_sub = sub_seconds
        if sub_seconds is None:
            sub_seconds = DET_SUB_SECONDS if deterministic else SUB_SECONDS
            if time_limit is not None and not deterministic:
                sub_seconds = min(SUB_SECONDS, max(MIN_SUB_SECONDS, time_limit / 120))
        search = Search(
            flat,
            plan,
            t0=t0,
            time_limit=time_limit,
            workers=workers,
            seed=seed,
            deterministic=deterministic,
            progress=progress,
            stop=stop,
            bounds=bounds,
            sub_seconds=sub_seconds,
        )
        search.adapt_time = given_sub is None
        search.rounded = source == "LP rounding"  # else tried once the LP is solved
        began = time.perf_counter()
        violations_of(problem, plan.assignments())
        search.reserve = 1.5 * (time.perf_counter() - began) + 0.05
        if exact_result is not None:  # the exact path's points come first
            search.trajectory = list(exact_result.trajectory)
        search.run()
    finally:
        bound_task.finish(stop)
    options["lns"] = {k.name: k.describe() for k in [*search.kinds, search.reduced_kind]}
    if search.quick is not None:
        options["lns"]["quick"] = search.quick.describe()
    if search.packer is not None:
        options["lns"]["pack"] = search.packer.describe()
    if search.lagr is not None:
        options["lns"]["lagrangian"] = {
            "bound": search.lagr.best / search.units["cost"],
            "iterations": search.lagr.iterations,
            "seconds": round(search.lagr.seconds, 2),
            "pairs_left": None if search.keep is None else int(search.keep.sum()),
        }
    floor = baseline.known(problem, baseline.DEFAULT_POLICY)
    same_order = scales.feasibility_exact and scales.cost_exact and scales.priority_exact
    if floor is not None and same_order:
        other = Plan.from_assignments(flat, floor.result.assignments)
        if search.key(search.plan.terms) <= search.key(other.terms):
            options["baseline"] = floor.policy  # checked here: no evaluation needed later
    return _finish(problem, flat, search, scales.feasibility_exact, result, bounds, source)


def _finish(
    problem: Problem,
    flat: Flat,
    search: Search,
    exact: bool,
    result: Callable[..., Result],
    bounds: Bounds,
    source: str,
) -> Result:
    finishing(search.stop)  # the search is over: the plan is being made (see clock.Stop)
    plan = search.plan
    assignments = plan.assignments()
    violations = violations_of(problem, assignments)
    notes = list(flat.scales.notes)
    notes.append(
        f"LNS: {plural(search.steps, 'sub-solve')}, {plural(search.improvements, 'improvement')} "
        f"from {source}"
    )
    if search.stopped:
        notes.append("stopped on request")
    elif search.timed_out:
        notes.append("time limit reached")
    elif search.stalled:
        notes.append(f"no improvement in {STALL_STEPS} sub-solves")
    if search.infeasible and not search.stopped:
        return result(
            Status.INFEASIBLE,
            [],
            "CP-SAT proved that no plan exists (a sub-solve over every task and node); "
            + "; ".join(notes),
            trajectory=search.trajectory,
        )
    if plan.terms["violation"] > 0:
        missing = [problem.tasks[t].id for t in range(flat.T) if flat.must[t] and not plan.nodes[t]]
        names = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        return result(
            Status.UNKNOWN,
            assignments,
            f"no plan found: could not place required {noun(len(missing), 'task')} "
            f"{names}; " + "; ".join(notes),
            trajectory=search.trajectory,
        )
    if violations:  # a modelling error: never hand out such a plan
        why = "; ".join(v.message for v in violations[:3])
        raise RuntimeError(f"LNS plan rejected by the evaluator: {why}")
    bound = bounds.report(plan.terms) if exact else {}
    proven = exact and bounds.proves(plan.terms) and not search.stopped
    summary = bounds.summary(plan.terms, {t: search.real(t, plan.terms[t]) for t in search.order})
    notes.extend(bounds.notes)
    return result(
        Status.OPTIMAL if proven else Status.FEASIBLE,
        assignments,
        "; ".join([summary, *notes]),
        bound=bound or None,
        trajectory=search.trajectory,
    )
