"""The replay seam (solvers/simulation.py): replays chosen by kind of problem, policies and
options checked, problems a replay does not model refused in one line, and a new replay (here a
scheduling one defined in the test) plugged in with one registry line, as issue 16's will be."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

import taskalloc
from taskalloc.problems.plan import Assignment, Status
from taskalloc.solvers.engine import OptionError
from taskalloc.solvers.result import Result
from taskalloc.solvers.simulation import (
    REPLAYS,
    ReplayParams,
    ReplayUnsupported,
    Simulation,
    kind_of,
    simulate,
    simulation_plan,
)


def gpu_problem() -> Any:
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [
                {"id": "g", "count": 2, "capacity": {"cpu": 8, "gpu": 2}, "devices": {"gpu": 2}}
            ],
            "tasks": [
                {"id": f"t{i}", "demand": {"cpu": 1, "gpu": g}, "required": False}
                for i, g in enumerate([1, 0.5, 0.5, 2, 1])
            ],
        }
    )


def sched_problem() -> Any:
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [{"id": "a", "capacity": {"cpu": 2}}],
            "tasks": [
                {"id": "x", "demand": {"cpu": 2}, "duration": 3},
                {"id": "y", "demand": {"cpu": 1}, "duration": 2},
            ],
        }
    )


def test_the_placement_replay_through_the_public_api():
    problem = gpu_problem()
    sim = taskalloc.simulate(problem, "gpu-packing", seed=4)
    assert isinstance(sim, taskalloc.Simulation) and not sim.stopped
    assert sim.metrics["kind"] == "placement" and sim.metrics["seed"] == 4
    # 4 GPUs: t0 takes a device of one node, the two halves share its other device, t3 takes
    # the other node's two; nothing is left for t4
    assert sim.metrics["placed"] == 4 and sim.metrics["dropped"] == 1
    assert sim.metrics["allocated_percent"] == 100.0
    assert sim.metrics["curve"]["allocated_percent"] == [25.0, 37.5, 50.0, 100.0, 100.0]
    devices = {a.task: (a.node, a.devices) for a in sim.result.assignments}
    node = devices["t0"][0]
    assert devices["t1"] == devices["t2"] == (node, {"gpu": (1,)}) != devices["t0"]
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    assert plan.metrics["simulation"] == sim.metrics
    assert plan.solver.name == "simulate" and plan.solver.options == {"policy": "gpu-packing"}


def test_policies_and_options_are_checked():
    with pytest.raises(OptionError) as info:
        simulate(gpu_problem(), "worst-fit")
    assert "'worst-fit' is not a policy of the placement replay" in str(info.value)
    assert "fgd" in info.value.valid
    with pytest.raises(OptionError, match="queue: not an option of the placement replay"):
        simulate(gpu_problem(), "fgd", queue="fifo")
    with pytest.raises(OptionError, match="seed: must be an integer"):
        ReplayParams(seed=1.5)  # type: ignore[arg-type]


def test_a_kind_without_a_replay_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(REPLAYS, "scheduling")
    assert kind_of(sched_problem()) == "scheduling" and kind_of(gpu_problem()) == "placement"
    with pytest.raises(ReplayUnsupported) as info:
        taskalloc.simulate(sched_problem(), "fgd")
    assert str(info.value) == "simulate replays placement problems only, not scheduling problems"
    assert isinstance(info.value, taskalloc.SolverUnavailable)


# -- a new replay: one module with a REPLAY, one line in REPLAYS ---------------------------------


@dataclass(frozen=True)
class FifoOptions:
    gap: int = 0


class FifoReplay:
    """Each task, in file order, starts when the previous one ends (plus ``gap``)."""

    kind = "scheduling"
    description = "one task after the other"
    policies: ClassVar[dict[str, str]] = {"fifo": "in file order"}
    Options = FifoOptions

    def unsupported(self, problem: Any) -> str | None:
        return None if len(problem.nodes) == 1 else "one node only"

    def run(
        self, problem: Any, policy: str, params: ReplayParams, options: FifoOptions
    ) -> Simulation:
        t, out = 0, []
        node = problem.nodes[0]
        for task in problem.tasks:
            d = task.duration_at(node)
            out.append(Assignment(task=task.id, replica=0, node=node.id, start=t, end=t + d))
            t += d + options.gap
        result = Result(
            solver="simulate",
            status=Status.FEASIBLE,
            assignments=out,
            seconds=0.0,
            seed=params.seed,
            options={"policy": policy},
        )
        return Simulation(result=result, metrics={"kind": self.kind, "end": t}, summary=[])


@pytest.fixture
def fifo(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fifo_replay")
    module.REPLAY = FifoReplay()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fifo_replay", module)
    monkeypatch.setitem(REPLAYS, "scheduling", "fifo_replay")


def test_a_new_replay_needs_one_registry_line(fifo):
    problem = sched_problem()
    sim = taskalloc.simulate(problem, "fifo", gap=1)
    plan, ev = simulation_plan(problem, sim)
    assert ev.feasible
    assert [(a.task, a.start, a.end) for a in plan.assignments] == [("x", 0, 3), ("y", 4, 6)]
    assert plan.metrics["simulation"] == {"kind": "scheduling", "end": 7}
    with pytest.raises(OptionError, match="'fgd' is not a policy of the scheduling replay"):
        taskalloc.simulate(problem, "fgd")
    with pytest.raises(OptionError, match="queue: not an option of the scheduling replay"):
        taskalloc.simulate(problem, "fifo", queue="lifo")
