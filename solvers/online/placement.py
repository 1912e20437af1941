"""The placement replay (:data:`taskalloc.solvers.simulation.REPLAYS` ``placement``): a
compiled problem's tasks arrive in file order and each is placed on arrival by a policy, its
devices included, or dropped; what ``taskalloc simulate`` runs on a placement problem.

The policies read the problem as the FGD paper's simulator reads a GPU cluster: the resource
the nodes split into devices is the GPU (:mod:`taskalloc.solvers.fleet`: one such resource,
devices of one size), ``cpu`` is the CPU, and every other resource (memory, ...) is checked for
fit only. A problem that splits no resource has no GPU: every task is GPU-free, the paper's
policies have no GPU to score and follow their seeded node order (best-fit and dot-product
still score ``cpu``), and there is no allocation curve. Without ``cpu``, the CPU terms are 0.
The greedy's ``least-loaded`` looks at every resource, and ``first-fit`` at none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..simulation import ReplayParams, Simulation

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

__all__ = ["POLICY_HELP", "REPLAY", "PlacementReplay"]

#: every policy of the placement replay, with what it does (the paper's six first)
POLICY_HELP: dict[str, str] = {
    "random": "a uniformly random node where the task fits (and a random fitting device)",
    "dot-product": "the largest dot product of the node's free CPU and GPU with the demand",
    "gpu-clustering": "nodes that already run tasks of the same kind (share, k whole GPUs)",
    "gpu-packing": "a partly used GPU first, then a node in use, then the smallest empty node",
    "best-fit": "the paper's BestFit: least CPU and GPU left after placement (not the greedy's "
    "best-fit)",
    "fgd": "the FGD paper's fragmentation gradient descent: the node and GPU whose choice "
    "least increases the expected GPU fragmentation",
    "least-loaded": "the greedy's: the smallest peak utilisation after placement",
    "first-fit": "the greedy's: the first node (in file order) where the task fits",
}

#: the figure SOURCE.md publishes: allocated GPU % at arrived = 100 %
FIGURE_AT = 100


@dataclass(frozen=True)
class PlacementOptions:
    """The placement replay has no options of its own (its settings: the policy and seed)."""


class PlacementReplay:
    kind = "placement"
    description = (
        "tasks arrive in file order; each is placed on arrival, devices included, or dropped "
        "(no retry, no departure)"
    )
    policies = POLICY_HELP
    Options = PlacementOptions

    def unsupported(self, problem: Problem) -> str | None:
        from ..fleet import unsupported

        return unsupported(problem)

    def run(
        self, problem: Problem, policy: str, params: ReplayParams, options: PlacementOptions
    ) -> Simulation:
        from taskalloc.problems.plan import Assignment, Status

        from ..clock import Clock
        from ..fleet import fleet_from_problem
        from ..result import Result
        from .replay import replay

        clock = Clock(None, stop=params.stop)
        fleet, wl = fleet_from_problem(problem)
        r = replay(fleet, wl, policy, seed=params.seed, stop=clock.stop_requested)
        gpu = fleet.gpu
        assignments = [
            Assignment(
                task=wl.ids[j],
                replica=0,
                node=fleet.node_ids[int(n)],
                devices={gpu: tuple(sorted(r.devices[j]))} if gpu and r.devices[j] else None,
            )
            for j, n in enumerate(r.node)
            if n >= 0
        ]
        arrived = len(r.node)
        missed = [
            t.id
            for t in problem.tasks
            if t.required and (t.index >= arrived or r.node[t.index] < 0)
        ]
        status = Status.UNKNOWN if missed else Status.FEASIBLE
        figure = r.figure(FIGURE_AT)
        at_100 = None if math.isnan(figure) else figure
        lines = [
            f"{policy}: {arrived:,} of {wl.n_tasks:,} tasks arrived, {r.placed:,} placed, "
            f"{r.dropped:,} dropped (seed {params.seed}, {r.seconds:.2f} s)"
        ]
        metrics: dict[str, Any] = {
            "kind": self.kind,
            "policy": policy,
            "seed": params.seed,
            "tasks": wl.n_tasks,
            "arrived": arrived,
            "placed": r.placed,
            "dropped": r.dropped,
            "stopped": r.stopped,
        }
        if gpu is not None and fleet.gpu_capacity_milli > 0:
            arr_pct, alloc_pct = r.curve()
            end_arr = float(arr_pct[-1]) if arrived else 0.0
            end_alloc = r.allocated_percent
            metrics.update(
                {
                    "resource": gpu,
                    "devices": fleet.gpu_capacity_milli // 1000,
                    "arrived_percent": end_arr,
                    "allocated_percent": end_alloc,
                    f"allocated_at_arrived_{FIGURE_AT}": at_100,
                    "curve": {
                        "arrived_percent": [round(float(x), 4) for x in arr_pct],
                        "allocated_percent": [float(x) for x in alloc_pct],
                    },
                }
            )
            lines.append(_figure_line(gpu, at_100, r, end_arr, end_alloc))
        else:
            lines.append(
                "no resource is split into devices: no GPU, so no allocation curve (the "
                "paper's policies followed their seeded node order, best-fit and dot-product "
                "scoring cpu only)"
            )
        message = lines[0]
        if r.stopped:
            message += f"; stopped after {arrived:,} of {wl.n_tasks:,} arrivals"
            lines.append(f"stopped after {arrived:,} arrivals: the plan holds those")
        if missed:
            shown = ", ".join(missed[:5]) + (
                f" and {len(missed) - 5} more" if len(missed) > 5 else ""
            )
            what = "task" if len(missed) == 1 else "tasks"
            how = "not placed (dropped, or not arrived)" if r.stopped else "dropped on arrival"
            note = f"required {what} {how}: {shown}"
            message += f"; {note}"
            lines.append(note)
        result = Result(
            solver="simulate",
            status=status,
            assignments=assignments,
            seconds=r.seconds,
            seed=params.seed,
            message=message,
            options={"policy": policy},
        )
        return Simulation(
            result=result,
            metrics=metrics,
            summary=lines,
            stopped=r.stopped,
            detail=r,
            not_arrived=tuple(t.id for t in problem.tasks[arrived:]),
        )


def _figure_line(gpu: str, at_100: float | None, r: Any, arrived: float, allocated: float) -> str:
    end = f"at the end {allocated:.2f} % allocated, {arrived:.2f} % arrived"
    if at_100 is None:
        return (
            f"{gpu}: no arrival brought the arrived demand to {FIGURE_AT} % of the devices "
            f"(rounded), so no figure at arrived = {FIGURE_AT} %; {end}"
        )
    return f"{gpu} allocated at arrived = {FIGURE_AT} %: {at_100:.2f} % ({end})"


REPLAY = PlacementReplay()
