"""The GA on revision 2 of the format (solvers/ga/rev2.py): devices, gangs that start together,
services, spread and ``max_moves``, each on a case whose optimum is known by hand, single
objective and NSGA-II; the decoder against the evaluator on random genes; greedy plans encoded
with their devices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import baseline
from taskalloc.solvers.features import unhandled
from taskalloc.solvers.ga.engine import Engine
from taskalloc.solvers.ga.individual import Individual
from tests.helpers import node, prob, read, task


def run(problem: Problem, **options: Any) -> tuple[list[Assignment], dict[str, float], str]:
    result = solvers.solve(problem, "ga", seed=1, workers=1, **{"generations": 60, **options})
    ev = evaluate(problem, result.assignments)
    assert ev.feasible, ev.violations
    assert result.status == Status.FEASIBLE, result.message
    return list(result.assignments), ev.terms, result.message or ""


def by_task(assignments: list[Assignment]) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = {}
    for a in assignments:
        out.setdefault(a.task, []).append(a)
    return out


def gpu_node(id: str, gpus: int, **kw: Any) -> dict[str, Any]:
    return node(id, {"cpu": 32, "gpu": gpus}, devices={"gpu": gpus}, **kw)


def test_the_ga_handles_every_revision_2_feature():
    """The bundled GPU cluster uses devices, same-start gangs, services and spread."""
    p = read("examples/gpu-cluster.yaml")
    assert {"devices", "same_start", "service", "spread"} <= p.features
    assert unhandled(p, "ga") == []
    plan, _, _ = run(p, generations=5)
    assert any(a.devices for a in plan)


def test_shares_pack_so_that_a_whole_node_job_fits():
    """Least-loaded spreads the two 0.6 shares over both nodes and strands the two-GPU job;
    the optimum puts both shares on one node, each on its own device."""
    p = prob(
        [gpu_node("g1", 2), gpu_node("g2", 2)],
        [
            task("a", {"gpu": 0.6}, priority=10),
            task("b", {"gpu": 0.6}, priority=10),
            task("job", {"gpu": 2}),
        ],
        objective={"lexicographic": ["unplaced"]},
    )
    alone = solvers.solve(p, "greedy", passes=1)
    assert evaluate(p, alone.assignments).terms["unplaced"] == 1
    plan, terms, _ = run(p)
    assert terms["unplaced"] == 0
    got = by_task(plan)
    assert got["a"][0].node == got["b"][0].node != got["job"][0].node
    assert {got["a"][0].devices["gpu"], got["b"][0].devices["gpu"]} == {(0,), (1,)}
    assert got["job"][0].devices == {"gpu": (0, 1)}
    # the decoder on those genes: both shares on g1, best fit on distinct devices
    eng = Engine(p, 0)
    genes = np.zeros(eng.length, dtype=np.int64)
    genes[:3] = [0, 0, 1]
    genes[eng.S : eng.order_end] = np.arange(3)  # the order (no device hints)
    eng.decode(genes, np.random.default_rng(0))
    ind = Individual.make(genes)
    assert [(a.node, a.devices) for a in eng.assignments(ind)] == [
        ("g1", {"gpu": (0,)}),
        ("g1", {"gpu": (1,)}),
        ("g2", {"gpu": (0, 1)}),
    ]


def test_devices_in_a_schedule_run_one_after_the_other():
    """One node of 2 GPUs: each 2-GPU job takes both devices, and the 0.5 share needs a
    device with room, so the three run in turn: makespan 12."""
    p = prob(
        [gpu_node("g", 2)],
        [
            task("j1", {"gpu": 2}, duration=4),
            task("j2", {"gpu": 2}, duration=4),
            task("s", {"gpu": 0.5}, duration=4),
        ],
        objective={"lexicographic": ["unplaced", "makespan"]},
    )
    plan, terms, _ = run(p)
    assert terms == {**terms, "unplaced": 0, "makespan": 12}
    spans = sorted((a.start, a.end) for a in plan)
    assert spans == [(0, 4), (4, 8), (8, 12)]


def test_a_share_runs_beside_a_one_device_job():
    """Two devices: a one-GPU job and a 0.5 share run together; the two-GPU job after."""
    p = prob(
        [gpu_node("g", 2)],
        [
            task("big", {"gpu": 2}, duration=4),
            task("one", {"gpu": 1}, duration=4),
            task("s", {"gpu": 0.5}, duration=4),
        ],
        objective={"lexicographic": ["unplaced", "makespan"]},
    )
    plan, terms, _ = run(p)
    assert terms["makespan"] == 8
    got = by_task(plan)
    assert got["one"][0].start == got["s"][0].start
    assert got["one"][0].devices != got["s"][0].devices


def test_a_gang_that_starts_together_waits_for_its_slowest_member():
    """w1 may only run on n1, busy with `blocker` until 4; w2 could start at 0 on n2 but the
    gang starts together: both at 4 (or both at 0 and the blocker after them: makespan 7
    either way)."""
    p = prob(
        [node("n1", {"cpu": 4}), node("n2", {"cpu": 4})],
        [
            task("blocker", {"cpu": 4}, duration=4, nodes=["n1"], required=True),
            task("w1", {"cpu": 4}, duration=3, nodes=["n1"], gang="g"),
            task("w2", {"cpu": 4}, duration=3, nodes=["n2"], gang="g"),
        ],
        gangs={"g": {"same_start": True}},
        objective={"lexicographic": ["unplaced", "makespan"]},
    )
    plan, terms, _ = run(p)
    assert terms["unplaced"] == 0 and terms["makespan"] == 7
    got = by_task(plan)
    assert got["w1"][0].start == got["w2"][0].start


def test_a_same_start_gang_with_replicas_and_devices():
    """Two 2-GPU workers and a 1-GPU evaluator start together on three 2-GPU nodes: the
    workers fill two nodes, the evaluator takes a device of the third and the share the
    other device there, all at 0: makespan 5."""
    p = prob(
        [gpu_node("g1", 2), gpu_node("g2", 2), gpu_node("g3", 2)],
        [
            task("worker", {"gpu": 2}, replicas=2, duration=5, gang="train"),
            task("eval", {"gpu": 1}, duration=2, gang="train"),
            task("nb", {"gpu": 0.5}, duration=3, priority=5),
        ],
        gangs={"train": {"same_start": True}},
        objective={"lexicographic": ["unplaced", "makespan"]},
    )
    plan, terms, _ = run(p)
    assert terms["unplaced"] == 0 and terms["makespan"] == 5
    got = by_task(plan)
    starts = {a.start for t in ("worker", "eval") for a in got[t]}
    assert starts == {0}
    # the share sits beside the evaluator, on the node the workers leave to them
    assert got["nb"][0].node == got["eval"][0].node


def test_services_hold_their_nodes_for_the_whole_horizon():
    """Services take half of two nodes for [0, 10); the four-core job goes on the free node,
    the two-core job beside a service: makespan 3."""
    p = prob(
        [node("n", {"cpu": 4}, count=3)],
        [
            task("svc", {"cpu": 2}, replicas=2, service=True),
            task("big", {"cpu": 4}, duration=3),
            task("small", {"cpu": 2}, duration=3),
        ],
        horizon=10,
        objective={"lexicographic": ["unplaced", "makespan"]},
    )
    plan, terms, _ = run(p)
    assert terms["unplaced"] == 0 and terms["makespan"] == 3
    got = by_task(plan)
    assert all((a.start, a.end) == (0, 10) for a in got["svc"])
    assert got["big"][0].node not in {a.node for a in got["svc"]}


def test_spread_costs_the_cheapest_pair():
    """The two cheap nodes are both in zone a; one replica per zone costs 1 + 5."""
    p = prob(
        [
            node("a1", {"cpu": 4}, cost=1, labels={"zone": "a"}),
            node("a2", {"cpu": 4}, cost=1, labels={"zone": "a"}),
            node("b1", {"cpu": 4}, cost=5, labels={"zone": "b"}),
            node("b2", {"cpu": 6}, cost=7, labels={"zone": "b"}),
        ],
        [task("api", {"cpu": 2}, replicas=2, spread={"key": "zone", "max_skew": 1})],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    plan, terms, _ = run(p)
    assert terms["cost"] == 6
    assert sorted(a.node for a in plan) in (["a1", "b1"], ["a2", "b1"])


@pytest.mark.parametrize(("limit", "unplaced", "moves"), [(0, 1, 0), (1, 0, 1)])
def test_max_moves_is_a_hard_limit(limit, unplaced, moves):
    """`new` needs a whole node: one of a, b must move to the other's node. With max_moves 0
    it stays out; with 1 the single move places it."""
    p = prob(
        [node("n1", {"cpu": 4}), node("n2", {"cpu": 4})],
        [
            task("a", {"cpu": 2}, current="n1"),
            task("b", {"cpu": 2}, current="n2"),
            task("new", {"cpu": 4}, required=False),
        ],
        objective={"lexicographic": ["unplaced", "moves"]},
        max_moves=limit,
    )
    _, terms, _ = run(p)
    assert terms["unplaced"] == unplaced and terms["moves"] == moves


def test_nsga2_fronts_of_revision_2_problems_pass_check():
    p = problem_from_dict(generate(16, 5, seed=4, devices=True, zones=True))
    front = solvers.pareto(p, "ga", ["unplaced", "cost"], generations=15, seed=0, workers=1)
    assert front
    for r in front:
        assert evaluate(p, r.assignments).feasible
    s = problem_from_dict(
        generate(16, 5, scheduling=True, seed=4, devices=True, services=True, same_start=True)
    )
    front = solvers.pareto(s, "ga", ["makespan", "cost"], generations=10, seed=0, workers=1)
    assert front
    for r in front:
        assert evaluate(s, r.assignments).feasible


def _problems() -> list[Problem]:
    out = []
    for seed in range(12):
        sched = bool(seed % 2)
        data = generate(
            6 + 2 * seed, 2 + seed % 5, scheduling=sched, seed=seed, devices=True,
            zones=seed % 3 != 0, services=sched and seed % 4 != 1,
            same_start=sched and seed % 4 != 3,
        )  # fmt: skip
        if seed % 3 == 0:  # replanning: current nodes and a hard limit on the moves
            ids = [n["id"] for n in data["nodes"]]
            for i, t in enumerate(data["tasks"]):
                if i % 2 == 0:
                    t["current"] = ids[i % len(ids)]
            data["max_moves"] = seed % 4
        out.append(problem_from_dict(data))
    return out


@pytest.mark.parametrize("problem", _problems(), ids=lambda p: str(sorted(p.features)))
def test_decoded_random_genes_break_nothing_and_measure_as_the_evaluator(problem):
    """Whatever the genes, the decoder's plans keep every constraint (a must-place task may
    find no room: then it and its gang are out, nothing else), and the GA's vectorised
    measure agrees with the evaluator on feasibility and every term."""
    eng = Engine(problem, 0)
    for k in range(12):
        genes = eng.random_genes(np.random.default_rng(k))
        if k % 3 == 0:  # some genes with every optional task in
            genes[: eng.S] = np.where(genes[: eng.S] < 0, 0, genes[: eng.S])
        viol, terms, start = eng.decode(genes, np.random.default_rng(k))
        ind = Individual.make(genes)
        ind.start = start
        ev = evaluate(problem, eng.assignments(ind), reasons=False)
        other = [
            v.message
            for v in ev.violations
            if v.kind != "required" and "placed partly" not in v.message
        ]
        assert not other
        assert (viol == 0) == ev.feasible, (viol, [v.message for v in ev.violations])
        if ev.feasible:
            for term, value in terms.items():
                assert value == pytest.approx(ev.terms[term], rel=1e-9, abs=1e-9), term


def _key(a: Assignment) -> tuple[str, int]:
    return (a.task, a.replica)


@pytest.mark.parametrize("scheduling", [False, True])
def test_greedy_plans_are_encoded_with_their_devices(scheduling):
    """The seeds: genes of a greedy plan decode to that plan (devices included), or in a
    schedule to one at least as good."""
    exact = 0
    for seed in range(6):
        data = generate(
            24, 5, scheduling=scheduling, seed=seed, devices=True, zones=True,
            services=scheduling, same_start=scheduling,
        )  # fmt: skip
        p = problem_from_dict(data)
        eng = Engine(p, 0)
        for policy in baseline.policies():
            plan = baseline.greedy_plan(p, policy).result.assignments
            genes = eng.from_plan(plan)
            _, _, start = eng.decode(genes, np.random.default_rng(0))
            ind = Individual.make(genes)
            ind.start = start
            got = eng.assignments(ind)
            if sorted(got, key=_key) == sorted(plan, key=_key):
                exact += 1
                continue
            assert scheduling, "placement seeds decode to the greedy's plan exactly"
            mine, theirs = evaluate(p, got), evaluate(p, plan)
            assert mine.feasible or not theirs.feasible
            assert baseline.compare(p, mine, theirs) <= 0
    assert exact >= 12


def test_nodes_of_many_devices_keep_their_hints():
    """A device hint is a bit mask: a node of 100 devices takes two genes per slot."""
    p = prob(
        [node("big", {"cpu": 100}, devices={"cpu": 100}, count=2)],
        [
            task("wide", {"cpu": 70}, replicas=2),
            task("share", {"cpu": 0.5}, replicas=2),
            task("last", {"cpu": 1}),
        ],
        objective={"lexicographic": ["unplaced", "nodes"]},
    )
    eng = Engine(p, 0)
    assert eng.rev2 is not None and eng.rev2.H == 2
    plan, terms, _ = run(p, generations=10)
    assert terms["unplaced"] == 0 and terms["nodes"] == 2
    got = by_task(plan)
    assert all(len(a.devices["cpu"]) == 70 for a in got["wide"])
    assert max(got["last"][0].devices["cpu"]) >= 0
    genes = eng.from_plan(plan)
    _, _, start = eng.decode(genes, np.random.default_rng(0))
    ind = Individual.make(genes)
    ind.start = start
    assert sorted(eng.assignments(ind), key=_key) == sorted(plan, key=_key)


# -- brute force with devices: the GA reaches the optimum on tiny problems ----------------------


def _with_devices(problem: Problem, options: list[Assignment]) -> list[list[Assignment]]:
    """Every way to give the replicas of one task option their devices."""
    import itertools

    per: list[list[Assignment]] = []
    for a in options:
        n = problem.node_index[a.node]
        use = problem.device_use(problem.task_index[a.task], n)
        if use is None:
            return []
        node = problem.nodes[n]
        choices = [
            [(r, combo) for combo in itertools.combinations(range(node.devices[r]), m)]
            for r, (m, _) in use.items()
        ]
        per.append(
            [
                Assignment(a.task, a.replica, a.node, a.start, a.end, dict(pick) or None)
                for pick in itertools.product(*choices)
            ]
        )
    return [list(c) for c in itertools.product(*per)]


def _brute_force(problem: Problem) -> tuple[float, ...] | None:
    from tests.solving import brute_force

    return brute_force(problem, lambda option: _with_devices(problem, option))


def _tiny(seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    scheduling = seed % 2 == 1
    nodes = [
        gpu_node(f"g{i}", 2, labels={"zone": "ab"[i % 2]}, cost=float(rng.integers(1, 4)))
        for i in range(3)
    ]
    tasks = []
    for i in range(3):
        t: dict[str, Any] = {
            "id": f"t{i}",
            "demand": {"gpu": float(rng.choice([0.5, 0.75, 1.0, 2.0]))},
            "priority": int(rng.integers(1, 4)),
            "required": False,
        }
        if i == 0 and rng.random() < 0.6:
            t["replicas"] = 2
            t["spread"] = {"key": "zone", "max_skew": 1}
        if scheduling:
            t["duration"] = int(rng.integers(1, 3))
        tasks.append(t)
    extra: dict[str, Any] = {"objective": {"lexicographic": ["unplaced", "cost"]}}
    if scheduling:
        extra["horizon"] = 4
        extra["objective"] = {"lexicographic": ["unplaced", "makespan"]}
        if seed % 4 == 1:
            tasks[1]["gang"] = tasks[2]["gang"] = "g"
            extra["gangs"] = {"g": {"same_start": True}}
        if seed % 4 == 3:
            tasks[2].pop("duration")
            tasks[2]["service"] = True
    else:
        tasks[1]["current"] = "g0"
        extra["max_moves"] = 1
        extra["objective"] = {"lexicographic": ["unplaced", "cost", "moves"]}
    return prob(nodes, tasks, **extra)


@pytest.mark.parametrize("seed", range(8))
def test_tiny_problems_reach_the_brute_force_optimum(seed):
    p = _tiny(seed)
    best = _brute_force(p)
    assert best is not None  # every task is optional: leaving all out is a plan
    _, terms, _ = run(p, generations=40)
    key = tuple(terms[t] for t in p.objective.terms)
    assert key == pytest.approx(best), (key, best)
