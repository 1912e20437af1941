"""The offline device planner (solvers/devplan): the device-pattern bound on hand-made cases and
against brute force, and plans that are feasible down to devices and reach the optimum of tiny
instances."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from taskalloc.problems.openb import import_openb
from taskalloc.solvers.devplan.bound import best_pattern, device_bound
from taskalloc.solvers.devplan.kinds import task_kinds
from taskalloc.solvers.devplan.plan import plan
from taskalloc.solvers.fleet import MILLI, Fleet, Workload, fleet_from_dict
from tests.helpers import DATA, HAS_REFERENCE_CHECKER, reference_check, write_problem
from tests.solvers.gpu_fleet import check_placements


def node(id: str, cpu: float, gpus: int, count: int = 1, model: str = "M") -> dict[str, Any]:
    n: dict[str, Any] = {"id": id, "capacity": {"cpu": cpu, "memory": 100}}
    if count > 1:
        n["count"] = count
    if gpus:
        n["capacity"]["gpu"] = gpus
        n["devices"] = {"gpu": gpus}
        n["labels"] = {"gpu_model": model}
    return n


def task(id: str, cpu: float, gpu: float = 0, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"cpu": cpu, "memory": 1}
    if gpu:
        d["gpu"] = gpu
    prio = gpu if gpu else 1000
    return {"id": id, "demand": d, "priority": prio, "required": False, **kw}


def build(nodes: list[dict], tasks: list[dict]) -> tuple[dict, Fleet, Workload]:
    p = {"taskalloc": 1, "nodes": nodes, "tasks": tasks}
    f, w = fleet_from_dict(p)
    return p, f, w


def gpu_bound(f: Fleet, w: Workload) -> float:
    return device_bound(f, task_kinds(f, w, w.gpu_milli.astype(float))).value


def test_best_pattern_is_the_best_knapsack():
    w, counts = best_pattern(np.array([300, 450, 600]), np.array([1.0, 2.0, 2.5]))
    assert w == 4.0 and counts.tolist() == [0, 2, 0]  # 450 + 450 beats 600 + 300
    w, counts = best_pattern(np.array([300, 450]), np.array([1.0, -1.0]))
    assert w == 3.0 and counts.tolist() == [3, 0]  # sizes of no value are never taken


def test_bound_sees_devices():
    # three 0.6 shares on one node of two GPUs: the aggregate LP says 1.8, devices allow 1.2
    _, f, w = build([node("n", 16, 2)], [task(f"s{i}", 1, 0.6) for i in range(3)])
    assert gpu_bound(f, w) == pytest.approx(1200)
    # 0.6, 0.6 and a whole GPU: 0.6 + 1 on the two devices
    _, f, w = build([node("n", 16, 2)], [task("a", 1, 0.6), task("b", 1, 0.6), task("w", 1, 1)])
    assert gpu_bound(f, w) == pytest.approx(1600)
    # CPU: tasks of 3 CPUs on nodes of 4: one per node, whatever the GPUs
    _, f, w = build([node("n", 4, 2, count=2)], [task(f"t{i}", 3, 1) for i in range(4)])
    assert gpu_bound(f, w) == pytest.approx(2000)
    # a model selector keeps the share off the other node type
    _, f, w = build(
        [node("a", 8, 1, model="A"), node("b", 8, 1, model="B")],
        [
            task("x", 1, 0.7, match={"gpu_model": ["A"]}),
            task("y", 1, 0.7, match={"gpu_model": ["A"]}),
        ],
    )
    assert gpu_bound(f, w) == pytest.approx(700)


# -- brute force -------------------------------------------------------------------------------


def brute_force(f: Fleet, w: Workload) -> float:
    """The best value of any placement, by enumeration (tiny instances only)."""
    N, J = f.n_nodes, w.n_tasks
    nt = f.node_type
    cpu = f.type_cpu[nt].astype(int).tolist()
    rest = f.type_rest[nt].tolist()
    dev = [[MILLI] * int(f.type_ndev[nt[n]]) for n in range(N)]
    best = 0.0

    def options(j: int, n: int) -> list[tuple[int, ...]]:
        g, m = int(w.ngpu[j]), int(w.milli[j])
        if g == 0:
            return [()]
        if m < MILLI:
            return [(i,) for i in range(len(dev[n])) if dev[n][i] >= m]
        free = [i for i in range(len(dev[n])) if dev[n][i] == MILLI]
        return [tuple(free[:g])] if len(free) >= g else []  # free devices are interchangeable

    def go(j: int, value: float, left: float) -> None:
        nonlocal best
        best = max(best, value)
        if j == J or value + left <= best:
            return
        v = float(w.priority[j])
        for n in range(N):
            if not w.allowed[j, nt[n]] or cpu[n] < w.cpu[j]:
                continue
            if any(rest[n][r] < w.rest[j][r] for r in range(len(rest[n]))):
                continue
            for devs in options(j, n):
                cpu[n] -= int(w.cpu[j])
                for r in range(len(rest[n])):
                    rest[n][r] -= w.rest[j][r]
                for i in devs:
                    dev[n][i] -= int(w.milli[j])
                go(j + 1, value + v, left - v)
                for i in devs:
                    dev[n][i] += int(w.milli[j])
                for r in range(len(rest[n])):
                    rest[n][r] += w.rest[j][r]
                cpu[n] += int(w.cpu[j])
        go(j + 1, value, left - v)

    go(0, 0.0, float(w.priority.sum()))
    return best


def random_instance(seed: int) -> tuple[dict, Fleet, Workload]:
    rng = np.random.default_rng(seed)
    nodes = [
        node(
            f"n{i}",
            float(rng.choice([4, 6, 8])),
            int(rng.choice([1, 2, 2, 4])),
            model=str(rng.choice(["A", "B"])),
        )
        for i in range(int(rng.integers(2, 4)))
    ]
    tasks = []
    for j in range(int(rng.integers(4, 8))):
        kind = rng.random()
        if kind < 0.15:
            tasks.append(task(f"t{j}", float(rng.integers(1, 4))))
        elif kind < 0.65:
            tasks.append(
                task(f"t{j}", float(rng.integers(1, 4)), float(rng.choice([0.3, 0.45, 0.6, 0.8])))
            )
        else:
            extra = {"match": {"gpu_model": ["A"]}} if rng.random() < 0.2 else {}
            tasks.append(
                task(f"t{j}", float(rng.integers(1, 4)), int(rng.choice([1, 1, 2])), **extra)
            )
    return build(nodes, tasks)


@pytest.mark.parametrize("seed", range(12))
def test_bound_and_plan_against_brute_force(seed):
    p, f, w = random_instance(seed)
    opt = brute_force(f, w)
    kinds = task_kinds(f, w)
    bound = device_bound(f, kinds).value
    assert bound >= opt - 1e-6
    result = plan(f, w, time_limit=1.5, seed=seed)
    check_placements(p, f, w, result.node, result.devices)
    assert result.value == pytest.approx(opt)  # the neighbourhoods cover these tiny fleets
    assert result.bound_value == pytest.approx(bound)
    got = sum(w.priority[j] for j in np.flatnonzero(result.node >= 0))
    assert got == pytest.approx(result.value)


# -- an openb trace ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trace() -> tuple[dict, Fleet, Workload]:
    p = import_openb(
        str(DATA / "openb" / "nodes.csv"),
        str(DATA / "openb" / "pods.csv"),
        order="shuffle",
        seed=4,
        arrive=100,
    ).problem
    f, w = fleet_from_dict(p)
    return p, f, w


def test_plan_on_a_trace_is_feasible_and_under_its_bounds(trace, tmp_path):
    p, f, w = trace
    r = plan(f, w, time_limit=3, seed=1)
    check_placements(p, f, w, r.node, r.devices)
    assert r.allocated_milli <= r.bound_milli + 1e-6
    assert r.value <= r.bound_value + 1e-6
    assert r.allocated_percent == pytest.approx(100 * r.allocated_milli / f.gpu_capacity_milli)
    cpu_only = np.flatnonzero(w.ngpu == 0)
    assert (r.node[cpu_only] >= 0).all()  # GPU-free tasks are worth 1000: all placed
    if HAS_REFERENCE_CHECKER:
        from taskalloc.solvers.fleet import plan_assignments

        doc = {
            "taskalloc_plan": 1,
            "problem": {"name": p["name"]},
            "solver": {"name": "devplan", "status": "feasible"},
            "assignments": plan_assignments(f, w, r.node, r.devices),
            "unplaced": [],
        }
        res = reference_check(
            write_problem(tmp_path / "p.json", p), write_problem(tmp_path / "x.json", doc)
        )
        assert res["feasible"], res["violations"]
        unplaced = float(w.priority.sum()) - r.value
        assert res["terms"]["unplaced"] == pytest.approx(unplaced)


def test_plan_stops_when_asked(trace):
    p, f, w = trace
    r = plan(f, w, time_limit=60, stop=lambda: True)  # at once: the greedy insertion only
    assert r.stopped and r.seconds < 30 and r.value > 0
    check_placements(p, f, w, r.node, r.devices)


def test_the_engine_returns_a_result_the_evaluator_accepts(trace):
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.problems.plan import Status
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.devplan.engine import solve

    p, _, _ = trace
    problem = problem_from_dict(p)
    res = solve(problem, time_limit=3, seed=2)
    ev = evaluate(problem, res.assignments)
    assert ev.feasible, ev.violations
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert res.bound is not None and type(res.bound["unplaced"]) is float
    # plain Python numbers only: the plan file is YAML (np.float64 cannot be written)
    assert all(type(v) in (int, float) for v in res.options.values()), res.options
    assert "numpy" not in res.to_plan(problem).dumps("yaml")
    assert res.bound["unplaced"] <= ev.objective["unplaced"] + 1e-6
    if res.status == Status.OPTIMAL:
        assert ev.objective["unplaced"] == pytest.approx(res.bound["unplaced"])


def test_the_engine_places_required_tasks_first():
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.devplan.engine import solve

    # one GPU: the required 0.3 share must go, though the optional whole GPU is worth more
    p, _, _ = build(
        [node("n", 8, 1)],
        [task("big", 1, 1), {**task("must", 1, 0.3), "required": True, "priority": 0.3}],
    )
    problem = problem_from_dict(p)
    res = solve(problem, time_limit=2)
    ev = evaluate(problem, res.assignments)
    assert ev.feasible and [a.task for a in res.assignments] == ["must"]


# -- behind the engine seam: the registry, auto, options, problems it does not model ----------


def gpu_problem(**objective: Any) -> Any:
    from taskalloc.problems.problem import problem_from_dict

    p, _, _ = build(
        [node("n", 16, 2, count=2)],
        [task(f"s{i}", 1, 0.6) for i in range(4)] + [task("w", 2, 1), task("c", 1)],
    )
    p["objective"] = objective or {"lexicographic": ["unplaced"]}
    return problem_from_dict(p)


def test_devplan_is_an_engine_and_auto_picks_it_for_gpu_fleets():
    from taskalloc import solvers
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.problems.plan import Status

    problem = gpu_problem()
    assert "devplan" in solvers.ENGINES and solvers.choose(problem, "auto") == "devplan"
    res = solvers.solve(problem, "auto", time_limit=5, seed=1)
    assert res.solver == "devplan"
    ev = evaluate(problem, res.assignments)
    assert ev.feasible, ev.violations
    # 4 shares of 0.6 on 4 GPUs leave room for no whole GPU: 2.4 + 0 of 4; or 3 shares + w
    # on 2 nodes: 1.8 + 1 = 2.8, the optimum, which the bound proves
    assert res.status == Status.OPTIMAL
    assert ev.objective["unplaced"] == pytest.approx(res.bound["unplaced"])
    assert ev.objective["unplaced"] == pytest.approx(0.6)


def test_auto_keeps_other_engines_where_devplan_does_not_apply():
    from taskalloc import solvers
    from taskalloc.problems.problem import problem_from_dict

    # devices with other terms, or what devplan does not model: cpsat's exact model
    assert solvers.choose(gpu_problem(lexicographic=["unplaced", "cost"]), "auto") == "cpsat"
    p = {"taskalloc": 1, "nodes": [node("n", 16, 2)], "tasks": [{**task("r", 1, 1), "replicas": 2}]}
    assert solvers.choose(problem_from_dict(p), "auto") == "cpsat"  # replicas: not modelled
    p, _, _ = build([node("n", 16, 0)], [task("c", 1)])
    assert solvers.choose(problem_from_dict(p), "auto") == "cpsat"  # no devices


def test_devplan_options_and_refusals_are_one_line():
    from taskalloc import solvers
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers import SolverUnavailable
    from taskalloc.solvers.engine import OptionError

    with pytest.raises(OptionError, match="rounds: must be at least 1"):
        solvers.solve(gpu_problem(), "devplan", rounds=0)
    with pytest.raises(OptionError, match="time_limit: engine devplan needs a finite"):
        solvers.solve(gpu_problem(), "devplan", time_limit=float("inf"))
    quick = solvers.solve(gpu_problem(), "devplan", time_limit=5, rounds=1, search=False)
    assert quick.has_plan
    p = {"taskalloc": 1, "nodes": [node("n", 16, 2)], "tasks": [{**task("r", 1, 1), "replicas": 2}]}
    with pytest.raises(SolverUnavailable) as info:
        solvers.solve(problem_from_dict(p), "devplan")
    assert str(info.value) == (
        "engine devplan cannot plan this problem: task r has 2 replicas; each task must be one "
        "replica placed on its own"
    )
    other = solvers.solve(gpu_problem(lexicographic=["unplaced", "nodes"]), "devplan", time_limit=5)
    assert "nodes not optimised" in (other.message or "")


def test_offline_plan_percentages_are_plain_floats():
    """They go into the plan file (YAML), which cannot hold numpy scalars; the LP's bound and
    the state's milli are numpy numbers."""
    from taskalloc.solvers.devplan.plan import OfflinePlan

    res = OfflinePlan(
        node=np.array([0]),
        devices=((0,),),
        value=np.float64(1.0),
        allocated_milli=np.int64(500),
        capacity_milli=1000,
        bound_value=np.float64(1.0),
        bound_milli=np.float64(750.0),
        seconds=0.1,
    )
    assert type(res.allocated_percent) is float and res.allocated_percent == 50.0
    assert type(res.bound_percent) is float and res.bound_percent == 75.0
