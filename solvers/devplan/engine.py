"""The device planner as an engine (``taskalloc solve -s devplan``, ``taskalloc.solve(problem,
"devplan")``): a compiled Problem in, a :class:`~taskalloc.solvers.result.Result` out, with a
proven bound on ``unplaced``.

It takes the placement problems the array view models (:func:`~taskalloc.solvers.fleet.
unsupported`: one replica per task, no gang, ``separate_from``, ``demand_on`` or
``assign_cost``, at most one resource split into devices of one size) and refuses the others
in one line. It maximises the placed priority, required tasks first; the other objective terms
(cost, nodes, balance, moves) are not looked at, so ``auto`` hands it only problems whose
objective is ``unplaced`` alone and whose nodes have devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.wording import noun

from .. import SolverUnavailable
from ..engine import OptionError, Params, at_least
from ..features import refuse_unhandled
from ..fleet import fleet_from_problem, unsupported
from ..result import Result
from .plan import MAX_ROUNDS, plan

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem

__all__ = ["ENGINE", "DevplanEngine", "DevplanOptions", "DevplanUnsupported", "solve"]

#: the objective terms the planner optimises
OPTIMISED = ("unplaced",)


class DevplanUnsupported(SolverUnavailable):
    """The problem uses something the device planner does not model (exit 2, one line)."""


@dataclass(frozen=True)
class DevplanOptions:
    """The device planner's own options: at most ``rounds`` rounds of counts per node type
    and packing (each round caps the types whose CPU or memory packing filled), then
    (``search``) CP-SAT neighbourhoods of a few nodes until the time limit or the bound."""

    rounds: int = MAX_ROUNDS
    search: bool = True

    def __post_init__(self) -> None:
        at_least("rounds", self.rounds, 1)
        if not isinstance(self.search, bool):
            raise OptionError("search", f"must be true or false, not {self.search!r}")


class DevplanEngine:
    name = "devplan"
    description = (
        "offline GPU planner down to devices (placement problems with one device-split "
        "resource; unplaced only), with a proven bound (device-pattern LP)"
    )
    default_time_limit: float | None = 60.0
    Options = DevplanOptions

    def refuses(self, problem: Problem) -> str | None:
        """Why it cannot plan ``problem`` (one line), or None (revision-2 features aside)."""
        why = unsupported(problem)
        return None if why is None else f"engine devplan cannot plan this problem: {why}"

    def solve(self, problem: Problem, params: Params, options: DevplanOptions) -> Result:
        refuse_unhandled(problem, "devplan")  # spread: not modelled
        why = self.refuses(problem)
        if why is not None:
            raise DevplanUnsupported(why)
        limit = params.limit(self.default_time_limit)
        if limit is None:
            raise OptionError(
                "time_limit", "engine devplan needs a finite time limit (it searches until then)"
            )
        stop = params.stop
        res = solve(
            problem,
            time_limit=limit,
            seed=params.seed,
            workers=params.workers,
            stop=None if stop is None else stop.is_set,
            rounds=options.rounds,
            search=options.search,
        )
        others = [t for t in problem.objective.active() if t not in OPTIMISED]
        if others and res.message is not None:
            res.message += f"; {', '.join(others)} not optimised (devplan places GPU only)"
        return res


def solve(
    problem: Problem,
    *,
    time_limit: float = 120.0,
    seed: int = 0,
    workers: int = 1,
    stop: Callable[[], bool] | None = None,
    rounds: int = MAX_ROUNDS,
    search: bool = True,
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
    res = plan(
        fleet,
        wl,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        stop=stop,
        value=value,
        rounds=rounds,
        search=search,
    )
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
        message = f"required {noun(len(missing), 'task')} left out: {', '.join(missing[:5])}"
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


ENGINE = DevplanEngine()
