"""The online replay of a compiled :class:`~taskalloc.problems.entities.Problem` (revision 2):
what ``taskalloc simulate PROBLEM --policy P`` runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from taskalloc.problems.plan import Assignment, Status

from ..fleet import fleet_from_problem
from ..result import Result
from .replay import Replay, replay

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem

__all__ = ["simulate"]


def simulate(
    problem: Problem,
    policy: str,
    *,
    seed: int = 0,
    stop: Callable[[], bool] | None = None,
) -> tuple[Result, Replay]:
    """Replay ``problem``'s tasks in file order with ``policy``: each is placed on arrival,
    devices included, or dropped. Returns the Result (assignments with their devices; status
    ``feasible``, or ``unknown`` when a required task was dropped or the replay was stopped)
    and the :class:`Replay` (the allocation curve, :meth:`Replay.figure`). Raises
    :class:`~taskalloc.solvers.fleet.UnsupportedProblem` for what the replay does not model."""
    fleet, wl = fleet_from_problem(problem)
    r = replay(fleet, wl, policy, seed=seed, stop=stop)
    assignments: list[Assignment] = []
    for j in range(len(r.node)):
        n = int(r.node[j])
        if n < 0:
            continue
        devs = r.devices[j]
        assignments.append(
            Assignment(
                task=wl.ids[j],
                replica=0,
                node=fleet.node_ids[n],
                devices={fleet.gpu: tuple(sorted(devs))} if devs and fleet.gpu else None,
            )
        )
    dropped_required = [
        problem.tasks[j].id
        for j in range(len(r.node))
        if r.node[j] < 0 and problem.tasks[j].required
    ]
    figure = r.figure(100)
    fig = "" if figure != figure else f"; allocated {figure:.2f} % of the GPUs at arrived = 100 %"
    message = f"{policy}: {r.placed:,} placed, {r.dropped:,} dropped{fig}"
    status = Status.FEASIBLE
    if r.stopped:
        status = Status.UNKNOWN
        message += f"; stopped after {len(r.node):,} of {wl.n_tasks:,} arrivals"
    elif dropped_required:
        status = Status.UNKNOWN
        message += f"; required task(s) dropped: {', '.join(dropped_required[:5])}"
    return (
        Result(
            solver=f"simulate-{policy}",
            status=status,
            assignments=assignments,
            seconds=r.seconds,
            seed=seed,
            message=message,
            options={"policy": policy, "seed": seed},
        ),
        r,
    )
