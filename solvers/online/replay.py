"""The online replay: tasks arrive one at a time and are placed by a policy, or dropped."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..fleet import Fleet, Workload
from .curve import figure_at, percentages
from .policies import make_policy
from .state import ClusterState

__all__ = ["Replay", "replay"]


@dataclass(frozen=True, eq=False)
class Replay:
    """What happened to every task, in arrival order, and the allocation curve."""

    policy: str
    seed: int
    node: np.ndarray  # int64 [J]: node index, -1 if dropped
    devices: tuple[tuple[int, ...], ...]  # device indices per task (() for none or dropped)
    arrived_milli: np.ndarray  # int64 [J]: GPU demand arrived so far (dropped tasks included)
    allocated_milli: np.ndarray  # int64 [J]: GPU allocated after each arrival
    capacity_milli: int
    seconds: float
    stopped: bool = False  # interrupted: the arrays cover the first tasks only

    @property
    def placed(self) -> int:
        return int(np.count_nonzero(self.node >= 0))

    @property
    def dropped(self) -> int:
        return int(np.count_nonzero(self.node < 0))

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(arrived %, allocated %) after every arrival."""
        return percentages(self.arrived_milli, self.allocated_milli, self.capacity_milli)

    def figure(self, at: float = 100) -> float:
        """Mean allocated GPU % over the arrivals whose arrived % rounds to ``at`` (SOURCE.md's
        figure, :mod:`.curve`); NaN when none does."""
        return figure_at(self.arrived_milli, self.allocated_milli, self.capacity_milli, at)

    @property
    def allocated_percent(self) -> float:
        """Allocated GPU % at the end."""
        if not len(self.allocated_milli):
            return 0.0
        return 100.0 * float(self.allocated_milli[-1]) / max(self.capacity_milli, 1)


def replay(
    fleet: Fleet,
    workload: Workload,
    policy: str,
    *,
    seed: int = 0,
    stop: Callable[[], bool] | None = None,
) -> Replay:
    """Place the tasks of ``workload`` in order with ``policy``; ``seed`` fixes the random tie
    order (and the draws of ``random``). ``stop`` is polled every 256 arrivals: when it returns
    True the replay ends there (``stopped``)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pol = make_policy(policy, fleet, workload, rng)
    st = ClusterState(fleet)
    J = workload.n_tasks
    node = np.full(J, -1, dtype=np.int64)
    devices: list[tuple[int, ...]] = [()] * J
    arrived = np.zeros(J, dtype=np.int64)
    allocated = np.zeros(J, dtype=np.int64)
    gpu = workload.gpu_milli
    total_arrived = 0
    stopped = False
    done = J
    for j in range(J):
        if stop is not None and j % 256 == 0 and stop():
            stopped, done = True, j
            break
        total_arrived += int(gpu[j])
        cand = st.feasible(workload, j)
        if len(cand):
            n, devs = pol.choose(st, workload, j, cand)
            st.place(workload, j, n, devs)
            node[j] = n
            devices[j] = tuple(devs)
        arrived[j] = total_arrived
        allocated[j] = st.allocated_milli
    return Replay(
        policy=policy,
        seed=seed,
        node=node[:done],
        devices=tuple(devices[:done]),
        arrived_milli=arrived[:done],
        allocated_milli=allocated[:done],
        capacity_milli=fleet.gpu_capacity_milli,
        seconds=time.perf_counter() - t0,
        stopped=stopped,
    )
