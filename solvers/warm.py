"""What the exact engines share before they search: the greedy policy that suits an objective,
a horizon no optimal plan needs to pass, and the warm start (the hint, else the greedy)."""

from __future__ import annotations

from collections.abc import Sequence

from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem


def policy_for(problem: Problem) -> str:
    """The greedy policy that suits the objective's first term after ``unplaced``: packing
    (``best-fit``) for cost, nodes and moves, spreading (``least-loaded``) for balance and
    time; ``best-fit`` when nothing follows ``unplaced``."""
    for term in problem.objective.active():
        if term == "unplaced":
            continue
        return "best-fit" if term in ("cost", "nodes", "moves") else "least-loaded"
    return "best-fit"


def safe_horizon(problem: Problem) -> int:
    """The problem's horizon, or one no optimal plan needs to pass.

    Any plan can be compressed (cut every instant after the last release at which nothing
    runs) without changing what runs together, the order or any end-dependent term for the
    worse, so the latest end need not exceed the last release plus the sum of all replicas'
    longest durations. (The greedy's makespan would cut off optima of objectives that trade
    time for placement, balance or cost.)
    """
    if problem.horizon is not None:
        return problem.horizon
    longest = sum(
        t.replicas * max((t.duration_at(problem.nodes[n]) for n in t.allowed), default=0)
        for t in problem.tasks
    )
    return max((t.release or 0 for t in problem.tasks), default=0) + longest


def warm_start(
    problem: Problem, hint: Sequence[Assignment] | None, *, greedy_limit: float | None
) -> tuple[list[Assignment], str]:
    """(assignments, where they come from): the hint when given, else the greedy with
    :func:`policy_for` the objective, stopped after ``greedy_limit`` seconds (None: none)."""
    if hint is not None:
        return list(hint), "hint"
    from .greedy import solve as greedy

    policy = policy_for(problem)
    res = greedy(problem, policy=policy, time_limit=greedy_limit)
    return res.assignments, f"greedy {policy}"


def floor_start(
    problem: Problem, hint: Sequence[Assignment] | None, *, time_limit: float | None
) -> tuple[list[Assignment], str]:
    """(assignments, where they come from) as :func:`warm_start`, but the greedy runs with
    :func:`policy_for` the objective and, when ``-s greedy``'s default policy differs, with that
    one too, and the better plan of the two is the start: the default's plan is the floor the
    result is held to (:mod:`.baseline`), and both runs are kept there for that check. The
    greedy may use the whole ``time_limit`` (None: none): it takes a fraction of it, and a plan
    cut short is a poor start and floor (a 10,000-task chain cut at a tenth of 3 s placed 3,975
    tasks). With a hint, the floor's greedy still runs now, within the limit."""
    import time

    from . import baseline

    began = time.perf_counter()

    def left() -> float | None:
        return None if time_limit is None else max(0.05, time_limit - (time.perf_counter() - began))

    if hint is not None:
        baseline.greedy_plan(problem, baseline.DEFAULT_POLICY, left())
        return list(hint), "hint"
    best: baseline.Baseline | None = None
    for policy in dict.fromkeys([policy_for(problem), baseline.DEFAULT_POLICY]):
        base = baseline.greedy_plan(problem, policy, left())
        if best is None or baseline.compare(problem, base.evaluation, best.evaluation) < 0:
            best = base
    assert best is not None
    return list(best.result.assignments), f"greedy {best.policy}"
