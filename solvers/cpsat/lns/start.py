"""The LNS's start plan, and the constraint check of a plan without the objective's weights.

The start is the ``hint`` when the evaluator accepts it (in the hybrid: the exact path's plan),
else, when node costs count right after ``unplaced``, the rounded solution of the LP that the
bound computes beside (:func:`..construct.lp_rounding`, when the LP is solved within
:data:`ROUNDING_WAIT` of the time limit and the problem has one replica per task, no gangs and
no separation) or first-fit decreasing over cost-efficient nodes (:mod:`..construct`), if it
places every must-place task, else the greedy with the policy
the exact path would use (``best-fit`` for cost-like objectives; ``least-loaded`` too when the
packing one leaves tasks out). The greedy with ``-s greedy``'s default policy
(``least-loaded``: the floor of :mod:`taskalloc.solvers.baseline`) is always run too,
with the whole time limit, and is the start when it is better; since the search only accepts
plans that are no worse, the result is then at least as good as that greedy plan.

A start may leave must-place tasks out: the LNS then first minimises their replicas
(``violation``), and returns status ``unknown`` if it cannot place them all.
"""

from __future__ import annotations

import time
from typing import Any

from taskalloc.problems.evaluate import violations
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem

from ... import baseline
from ...flat import Flat, Plan
from ...warm import policy_for
from .. import construct
from ..bounds import BoundTask


def violations_of(problem: Problem, assignments: list[Assignment]) -> list[Any]:
    """The evaluator's constraint checks of a placement (what ``evaluate(...).feasible``
    decides), without the objective's fitness weights, whose upper bounds take O(tasks x nodes)
    Python steps (14 s on 7,200 tasks x 2,400 nodes)."""
    return violations(problem, assignments)


ROUNDING_WAIT = 0.25  # share of the time limit the start may wait for the LP to round it
SMALL_PAIRS = 200_000  # up to this many (task, node) pairs the greedy competes with the
# construction (on generated 300 x 60 placements best-fit was the better start)


def start_plan(
    problem: Problem,
    flat: Flat,
    hint: list[Assignment] | None,
    time_limit: float | None,
    deterministic: bool,
    bound_task: BoundTask | None = None,
) -> tuple[Plan, str]:
    """The start plan (see the module docstring) and where it comes from."""
    began = time.perf_counter()

    def left() -> float | None:
        if deterministic or time_limit is None:
            return None
        return max(0.5, time_limit - (time.perf_counter() - began))

    floor = baseline.greedy_plan(problem, baseline.DEFAULT_POLICY, left())
    plan, source = _own_start(problem, flat, hint, time_limit, deterministic, bound_task)
    other = Plan.from_assignments(flat, floor.result.assignments)
    if _start_key(problem, flat, other) < _start_key(problem, flat, plan):
        return other, f"greedy {floor.policy}"
    return plan, source


def _own_start(
    problem: Problem,
    flat: Flat,
    hint: list[Assignment] | None,
    time_limit: float | None,
    deterministic: bool,
    bound_task: BoundTask | None = None,
) -> tuple[Plan, str]:
    """The hint if the evaluator accepts it, else the construction or the greedy."""
    if hint is not None and not violations_of(problem, hint):
        return Plan.from_assignments(flat, hint), "hint"
    wanted = construct.wanted(flat, problem.objective.active())
    if wanted and bound_task is not None and construct.rounding_applies(flat):
        # the LP runs beside (GLOP releases the GIL): wait for it, round its solution
        wait = None if deterministic or time_limit is None else ROUNDING_WAIT * time_limit
        if bound_task.wait(wait) and bound_task.bounds.primal is not None:
            plan = construct.lp_rounding(flat, bound_task.bounds.primal)
            if plan.terms["violation"] == 0:
                return plan, "LP rounding"
    built: tuple[Plan, str] | None = None
    if wanted:
        plan = construct.efficient_first_fit(flat)
        if plan.terms["violation"] == 0:
            built = plan, "efficient first fit"
            if sum(len(t.allowed) for t in problem.tasks) > SMALL_PAIRS:
                return built  # the greedy would cost seconds and rarely wins there
    policy = policy_for(problem)
    limit = None if deterministic or time_limit is None else max(0.5, time_limit / 4)
    res = baseline.greedy_plan(problem, policy, limit).result
    plan = Plan.from_assignments(flat, res.assignments)
    if plan.terms["unplaced"] > 0 and policy != "least-loaded":
        # a packing policy may leave tasks out that spreading places (10,000 x 1,000
        # generated: best-fit leaves 11, least-loaded none); the LNS would spend its first
        # steps on them, so start from whichever plan is better
        spread = baseline.greedy_plan(problem, "least-loaded", limit).result
        other = Plan.from_assignments(flat, spread.assignments)
        if _start_key(problem, flat, other) < _start_key(problem, flat, plan):
            plan, policy = other, "least-loaded"
    if built is not None and _start_key(problem, flat, built[0]) <= _start_key(problem, flat, plan):
        return built
    return plan, f"greedy {policy}"


def _start_key(problem: Problem, flat: Flat, plan: Plan) -> tuple[float, ...]:
    """How good a start plan is, in the objective's own order (real units)."""
    unit = {"unplaced": flat.scales.priority, "cost": flat.scales.cost}
    real = {t: plan.terms[t] / float(unit.get(t, 1)) for t in problem.objective.active()}
    obj = problem.objective
    if obj.kind == "lexicographic":
        return (plan.terms["violation"], *(real[t] for t in problem.objective.active()))
    return (plan.terms["violation"], sum(obj.weights[t] * v for t, v in real.items()))
