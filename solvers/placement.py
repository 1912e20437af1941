"""A plan as the exact models hold it: task index -> [(node index, start or None)], one pair per
replica, and the conversions to and from the plan file's assignments (shared by the CP-SAT and
MILP models)."""

from __future__ import annotations

from collections.abc import Sequence

from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem

Placement = dict[int, list[tuple[int, int | None]]]


def assignments_of(problem: Problem, plan: Placement) -> list[Assignment]:
    """Replica numbers follow node order (replicas of a task are identical)."""
    out = []
    for t in sorted(plan):
        task = problem.tasks[t]
        for i, (n, s) in enumerate(sorted(plan[t])):
            node = problem.nodes[n]
            end = None if s is None else s + task.duration_at(node)
            out.append(Assignment(task.id, i, node.id, s, end))
    return out


def placement_of(problem: Problem, assignments: Sequence[Assignment]) -> Placement:
    """The placement of a list of assignments (unknown tasks and nodes are dropped; starts
    only in scheduling problems)."""
    ti, ni = problem.task_index, problem.node_index
    out: Placement = {}
    for a in assignments:
        t, n = ti.get(a.task), ni.get(a.node)
        if t is None or n is None:
            continue
        out.setdefault(t, []).append((n, a.start if problem.scheduling else None))
    return out
