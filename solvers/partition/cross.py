"""The step across the parts' borders after they coalesce (at scale): the fleet-wide moves of
the LNS (:mod:`taskalloc.solvers.cpsat.quick`: empty a used node into the room of the others,
move a node's tasks to a cheaper empty node, split a costly one) over the whole coalesced plan,
in the driver.

Why: a part sees 1/K of the fleet. What it can no longer close inside its own nodes (their
room is used) may fit in the room the other parts left: each part ends with its own nearly
empty nodes and its own spare room, and only the whole plan sees both. The moves are numpy
over the residual capacities, exact in their accounting and kept only when the objective
improves (every placement constraint holds after each), so the step never makes the plan
worse.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskalloc.problems.plan import Assignment
    from taskalloc.problems.problem import Problem


def across(
    problem: Problem, assignments: list[Assignment], seconds: float
) -> tuple[list[Assignment], dict[str, Any]]:
    """Fleet-wide moves over the plan ``assignments`` for at most ``seconds`` (scans of every
    used node, worst first, until one keeps no move); the plan (the same list when nothing
    moved) and what the step did. Only for objectives whose key the moves can judge
    (lexicographic, or weights): placement problems with node costs or a node count."""
    from ..cpsat.quick import QuickMoves
    from ..flat import Flat, Plan
    from ..scaling import choose_scales

    began = time.monotonic()
    flat = Flat(problem, choose_scales(problem))
    plan = Plan.from_assignments(flat, assignments)
    order = problem.objective.active()
    stats: dict[str, Any] = {"prepare": round(time.monotonic() - began, 2)}
    if not ((flat.any_node_cost and "cost" in order) or "nodes" in order):
        stats["skipped"] = "no node costs to save"
        return assignments, stats
    if problem.objective.kind != "lexicographic":
        stats["skipped"] = "weighted objective"
        return assignments, stats
    units = {"unplaced": float(flat.scales.priority), "cost": float(flat.scales.cost)}

    def key(terms: dict[str, int]) -> tuple[int, ...]:
        return (terms["violation"], *(terms[t] for t in order))

    before = key(plan.terms)
    moves = QuickMoves(flat, plan, key)
    won = scans = 0
    while True:
        left = seconds - (time.monotonic() - began)
        if left <= 0:
            break
        got = moves.run(left)
        won += got
        scans += 1
        if got == 0 or moves._cursor != 0:  # nothing kept in a whole scan, or out of time
            break
    stats.update(
        {
            "seconds": round(time.monotonic() - began, 2),
            "scans": scans,
            "moves": moves.describe(),
            "kept": won,
        }
    )
    if won == 0 or key(plan.terms) >= before:
        return assignments, stats
    if "cost" in order:
        stats["from_cost"] = round(before[1 + order.index("cost")] / units["cost"], 2)
        stats["to_cost"] = round(plan.terms["cost"] / units["cost"], 2)
    return plan.assignments(), stats
