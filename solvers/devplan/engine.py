"""The device planner as an engine: a compiled Problem in, a :class:`~taskalloc.solvers.result.
Result` out (what ``taskalloc solve`` will run on placement problems with devices)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from taskalloc.problems.plan import Assignment, Status

from ..fleet import fleet_from_problem
from ..result import Result
from .plan import plan

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem

__all__ = ["solve"]


def solve(
    problem: Problem,
    *,
    time_limit: float = 120.0,
    seed: int = 0,
    workers: int = 1,
    stop: Callable[[], bool] | None = None,
) -> Result:
    """Place as much priority as possible (the ``unplaced`` term; other terms are not looked at),
    required tasks first, down to devices. The bound on ``unplaced`` is proven (the
    device-pattern LP); the status is ``optimal`` when the plan meets it, ``feasible``
    otherwise, ``unknown`` if a required task is left out. Raises
    :class:`~taskalloc.solvers.fleet.UnsupportedProblem` for what the planner does not model."""
    fleet, wl = fleet_from_problem(problem)
    prio = wl.priority.astype(np.float64)
    required = np.array([t.required for t in problem.tasks], dtype=bool)
    value = prio.copy()
    if required.any():  # a required task outweighs every optional one together
        value[required] += float(prio[~required].sum()) + 1.0
    res = plan(fleet, wl, time_limit=time_limit, seed=seed, workers=workers, stop=stop, value=value)
    assignments = [
        Assignment(
            task=wl.ids[j],
            replica=0,
            node=fleet.node_ids[int(res.node[j])],
            devices={fleet.gpu: tuple(sorted(res.devices[j]))}
            if res.devices[j] and fleet.gpu
            else None,
        )
        for j in np.flatnonzero(res.node >= 0)
    ]
    missing = [problem.tasks[j].id for j in np.flatnonzero((res.node < 0) & required)]
    placed = float(prio[res.node >= 0].sum())
    total = float(prio.sum())
    # the bound is on the weighted value; on the plain priorities when nothing is required
    bound = None
    if not required.any():
        bound = {"unplaced": float(max(total - res.bound_value, 0.0))}
    if missing:
        status = Status.UNKNOWN
        message = f"required task(s) left out: {', '.join(missing[:5])}"
    elif bound is not None and total - placed <= bound["unplaced"] + 1e-9 * max(1.0, total):
        status = Status.OPTIMAL
        message = "the plan meets the device-pattern bound"
    else:
        status = Status.FEASIBLE
        message = (
            f"allocated {res.allocated_percent:.2f} % of the GPUs "
            f"(no plan allocates more than {res.bound_percent:.2f} %)"
        )
    return Result(
        solver="devplan",
        status=status,
        assignments=assignments,
        seconds=res.seconds,
        seed=seed,
        bound=bound,
        message=message,
        options={
            "time_limit": time_limit,
            "workers": workers,
            "seed": seed,
            "allocated_percent": round(res.allocated_percent, 4),
            "bound_percent": round(res.bound_percent, 4),
        },
    )
