"""The offline device planner: place as much value as possible on a GPU fleet, with a bound.

1. Bound (:mod:`.bound`): the device-pattern LP, by column generation; its Lagrangian value is a
   proven upper bound on the value any plan places (and, with GPU milli as values, on the GPU
   any plan allocates).
2. Counts (:mod:`.master`): CP-SAT turns the LP into integer numbers of tasks per kind and node
   type and devices per pattern.
3. Nodes (:mod:`.pack`): per node type, the patterns are filled with tasks and the devices,
   whole-device tasks and GPU-free tasks packed into its members; (:mod:`.repair`) what did not
   fit is inserted greedily anywhere. Counts that fill a type's CPU (or another resource) to the
   brim cannot always be split into nodes: where packing leaves tasks out, the next round caps
   that type's resource at what packing achieved, and solves the counts again (a few rounds,
   within a third of the time); the best plan is kept.
4. Search (:mod:`.lns`): CP-SAT neighbourhoods of a few nodes plus unplaced tasks, until the time
   limit.

Returns node and device indices per task (:class:`OfflinePlan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..fleet import Fleet, Workload
from .bound import device_bound
from .kinds import Kinds, task_kinds
from .lns import Lns
from .master import Master, solve_master
from .pack import pack_types
from .repair import insert_unplaced
from .state import PlanState

__all__ = ["OfflinePlan", "plan"]

#: share of the time limit for the bounds, and for the count/pack rounds
BOUND_SHARE = 0.15
MIN_BOUND_SECONDS = 5.0  # column generation needs a few seconds on openb, more under load
ROUNDS_SHARE = 0.35
MAX_ROUNDS = 4


@dataclass(frozen=True, eq=False)
class OfflinePlan:
    node: np.ndarray  # int64 [J]: node index, -1 unplaced
    devices: tuple[tuple[int, ...], ...]  # device indices per task
    value: float  # priority placed
    allocated_milli: int
    capacity_milli: int
    bound_value: float  # no plan places more value
    bound_milli: float  # no plan allocates more GPU milli
    seconds: float
    stopped: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def allocated_percent(self) -> float:
        return float(100.0 * self.allocated_milli / max(self.capacity_milli, 1))

    @property
    def bound_percent(self) -> float:
        return float(100.0 * self.bound_milli / max(self.capacity_milli, 1))  # plain: YAML


def plan(
    fleet: Fleet,
    workload: Workload,
    *,
    time_limit: float = 120.0,
    seed: int = 0,
    workers: int = 1,
    stop: Callable[[], bool] | None = None,
    value: np.ndarray | None = None,
    rounds: int = MAX_ROUNDS,
    search: bool = True,
) -> OfflinePlan:
    """Place ``workload`` on ``fleet`` offline (any order), maximising the placed value
    (default: the tasks' priorities) within ``time_limit`` seconds: at most ``rounds``
    count/pack rounds, then (``search``) CP-SAT neighbourhoods until the limit."""
    t0 = time.perf_counter()
    end = t0 + time_limit
    asked = [False]

    def halt() -> bool:  # latches: once asked to stop, stay stopped
        if not asked[0] and stop is not None and stop():
            asked[0] = True
        return asked[0]

    val = workload.priority if value is None else np.asarray(value, dtype=np.float64)
    info: dict[str, Any] = {}

    kinds = task_kinds(fleet, workload, val)
    share = max(BOUND_SHARE * time_limit, MIN_BOUND_SECONDS)
    lp = device_bound(fleet, kinds, time_limit=0.6 * share, stop=halt)
    gpu_value = workload.gpu_milli.astype(np.float64)
    if np.array_equal(val, gpu_value):
        bound_milli = lp.value
    else:
        gkinds = task_kinds(fleet, workload, gpu_value)
        bound_milli = device_bound(fleet, gkinds, time_limit=0.4 * share, start=lp, stop=halt).value
    bound_milli = min(bound_milli, float(workload.gpu_milli.sum()), fleet.gpu_capacity_milli)
    info["bound"] = {
        "seconds": round(time.perf_counter() - t0, 2),
        "lp": lp.lp,
        "iterations": lp.iterations,
        "converged": lp.converged,
    }

    T, R = fleet.n_types, fleet.type_rest.shape[1]
    fill = np.ones((T, 1 + R))
    best: PlanState | None = None
    round_info: list[dict[str, Any]] = []
    rounds_end = t0 + (BOUND_SHARE + ROUNDS_SHARE) * time_limit
    for rnd in range(rounds):
        if halt():
            break
        left = rounds_end - time.perf_counter()
        if rnd and left < 2.0:
            break
        budget = max(min(left / max(rounds - rnd, 1), 0.4 * time_limit), 0.5)
        master = solve_master(
            fleet, kinds, lp, time_limit=budget, seed=seed + rnd, workers=workers, fill=fill
        )
        state = PlanState(fleet, workload, val)
        pack_types(state, kinds, master, lp.sizes)
        failed = _failures(state, kinds, master)
        insert_unplaced(state)
        round_info.append(
            {
                "master": master.value,
                "status": master.status,
                "packed_then_repaired": state.placed_value,
                "types_short": int(failed.any(axis=1).sum()),
            }
        )
        if best is None or state.placed_value > best.placed_value + 1e-9:
            best = state
        if not failed.any() or _meets(best, lp.value):
            break
        fill = np.minimum(fill, _achieved(state, failed, fill))
    assert best is not None or halt()
    if best is None:
        best = PlanState(fleet, workload, val)
        insert_unplaced(best)
    info["rounds"] = round_info

    lns = Lns(best, seed=seed, workers=workers)
    done = best

    def finished() -> bool:  # asked to stop, or nothing left to gain: the plan meets the bound
        return halt() or _meets(done, lp.value) or not len(done.unplaced())

    if search and not finished():
        lns.run(end, stop=finished)
    info["lns"] = {
        "steps": lns.stats.steps,
        "improved": lns.stats.improved,
        "seconds": round(lns.stats.seconds, 2),
    }
    return OfflinePlan(
        node=best.node.copy(),
        devices=tuple(best.devs),
        value=best.placed_value,
        allocated_milli=best.allocated_milli,
        capacity_milli=fleet.gpu_capacity_milli,
        bound_value=lp.value,
        bound_milli=bound_milli,
        seconds=time.perf_counter() - t0,
        stopped=asked[0],
        info=info,
    )


def _meets(state: PlanState, bound: float) -> bool:
    return bool(bound - state.placed_value <= 1e-9 * max(1.0, abs(bound)))


def _failures(state: PlanState, kinds: Kinds, master: Master) -> np.ndarray:
    """[T, 1 + R] True where type t had tasks assigned by the counts that packing left out
    and that resource was nearly full (>= 90 %) in the counts."""
    fleet = state.fleet
    T, R = fleet.n_types, fleet.type_rest.shape[1]
    out = np.zeros((T, 1 + R), dtype=bool)
    planned = _planned(fleet, kinds, master)
    for t in range(T):
        nodes = fleet.node_type == t
        assigned = master.X[:, t].sum()
        if not assigned:
            continue
        placed = int(np.count_nonzero(nodes[state.node[state.node >= 0]]))
        if placed < assigned:
            out[t] = planned[t] >= 0.9
    return out


def _planned(fleet: Fleet, kinds: Kinds, master: Master) -> np.ndarray:
    count = fleet.type_count.astype(np.float64)
    cap = np.c_[fleet.type_cpu, fleet.type_rest] * count[:, None]
    dem = np.c_[kinds.cpu, kinds.rest]
    used = master.X.T.astype(np.float64) @ dem
    return np.where(cap > 0, used / np.maximum(cap, 1e-12), 0.0)


def _achieved(state: PlanState, failed: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """New caps: for the failed (type, resource), what packing actually used, minus 0.5 %."""
    fleet = state.fleet
    count = fleet.type_count.astype(np.float64)
    cap = np.c_[fleet.type_cpu, fleet.type_rest] * count[:, None]
    used = np.zeros_like(cap)
    nt = fleet.node_type
    for t in range(fleet.n_types):
        nodes = nt == t
        used[t, 0] = cap[t, 0] - state.cpu_left[nodes].sum()
        if fleet.type_rest.shape[1]:
            used[t, 1:] = cap[t, 1:] - state.rest_left[nodes].sum(axis=0)
    ratio = np.where(cap > 0, used / np.maximum(cap, 1e-12), 1.0)
    out = fill.copy()
    out[failed] = np.maximum(np.minimum(fill[failed], ratio[failed]) - 0.005, 0.0)
    return out
