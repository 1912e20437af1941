"""Tests of the packing moves for problems that pay per node (solvers/costpack.py) and of their
use by the cpsat LNS: every plan fits, keeps which tasks are placed and where they may go, and
costs no more than where it started; wasteful starts get cheaper; equal seeds repeat."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import costpack
from taskalloc.solvers.cpsat import solve
from taskalloc.solvers.flat import Flat, Plan
from taskalloc.solvers.scaling import choose_scales

TYPES = [  # (cpu, memory, network, cost): cheap small ones, dear large ones
    (3, 4, 2, 390),
    (4, 8, 4, 560),
    (8, 16, 8, 970),
    (12, 32, 12, 1400),
    (24, 64, 20, 4600),
]


def cloud(nodes: int, tasks: int, seed: int, **extra: Any) -> Problem:
    """A small problem of the cloud-balancing family (cost per computer used)."""
    rng = random.Random(seed)
    ns = []
    for i in range(nodes):
        cpu, mem, net, cost = TYPES[rng.randrange(len(TYPES))]
        ns.append(
            {"id": f"c{i}", "capacity": {"cpu": cpu, "memory": mem, "network": net}, "cost": cost}
        )
    ts = [
        {
            "id": f"p{i}",
            "demand": {
                "cpu": 1 + int(rng.random() ** 3 * 6),
                "memory": 1 + int(rng.random() ** 3 * 12),
                "network": 1 + int(rng.random() ** 3 * 6),
            },
        }
        for i in range(tasks)
    ]
    data = {
        "taskalloc": 1,
        "objective": {"lexicographic": ["unplaced", "cost"]},
        "nodes": ns,
        "tasks": ts,
    }
    data.update(extra)
    return problem_from_dict(data)


def flat_of(problem: Problem) -> Flat:
    return Flat(problem, choose_scales(problem))


def spread(f: Flat) -> list[tuple[int, ...]]:
    """A wasteful start: each task alone on the first free node that holds it, the rest on
    the roomiest node that holds them."""
    load = np.zeros((f.N, f.R), dtype=np.int64)
    out: list[tuple[int, ...]] = []
    for t in range(f.T):
        room = f.cap - load
        fits = (room >= f.dem[t]).all(axis=1) & f.cand_mask(t)
        empty = np.flatnonzero(fits & (load.sum(axis=1) == 0))
        n = int(empty[0]) if len(empty) else int(np.flatnonzero(fits)[0])
        load[n] += f.dem[t]
        out.append((n,))
    return out


def fits(f: Flat, nodes: list[tuple[int, ...]]) -> bool:
    load = np.zeros((f.N, f.R), dtype=np.int64)
    for t, ns in enumerate(nodes):
        for n in ns:
            load[n] += f.dem[t]
            if not f.cand_mask(t)[n]:
                return False
    return bool((load <= f.cap).all())


def test_applies_only_to_what_it_models() -> None:
    assert costpack.applies(flat_of(cloud(6, 10, 0)), ["unplaced", "cost"])
    assert not costpack.applies(flat_of(cloud(6, 10, 0)), ["unplaced", "cost", "nodes"])
    p = cloud(6, 10, 0)
    assert not costpack.applies(flat_of(p), ["unplaced"])
    data_tasks = [{"id": "a", "demand": {"cpu": 1}, "replicas": 2}]
    two = problem_from_dict(
        {
            "taskalloc": 1,
            "objective": {"lexicographic": ["unplaced", "cost"]},
            "nodes": [{"id": f"n{i}", "capacity": {"cpu": 4}, "cost": 1} for i in range(3)],
            "tasks": data_tasks,
        }
    )
    assert not costpack.applies(flat_of(two), ["unplaced", "cost"])  # replicas
    free = problem_from_dict(
        {
            "taskalloc": 1,
            "objective": {"lexicographic": ["unplaced", "cost"]},
            "nodes": [{"id": "n", "capacity": {"cpu": 4}}],
            "tasks": [{"id": "a", "demand": {"cpu": 1}}],
        }
    )
    assert not costpack.applies(flat_of(free), ["unplaced", "cost"])  # no node costs


@pytest.mark.parametrize("seed", [0, 1])
def test_moves_keep_plans_feasible_and_make_a_wasteful_start_cheaper(seed: int) -> None:
    p = cloud(40, 80, seed)
    f = flat_of(p)
    start = spread(f)
    packer = costpack.Packer(f, start, seed=seed)
    start_cost = packer.best_cost
    assert start_cost == Plan(f, start).terms["cost"]
    packer.run(moves=3000)
    best = packer.best_nodes
    assert fits(f, best)
    assert all(best[t] for t in range(f.T))  # every task still placed
    plan = Plan(f, best)
    assert plan.terms["cost"] == packer.best_cost
    assert packer.best_cost < start_cost  # many nodes run one small task each at the start
    assert evaluate(p, plan.assignments()).feasible
    # the current plan (late acceptance) fits as well
    cur = [(int(n),) for n in packer.node_of]
    assert fits(f, cur)


def test_equal_seeds_repeat() -> None:
    f = flat_of(cloud(30, 60, 3))
    start = spread(f)
    a = costpack.Packer(f, start, seed=7)
    b = costpack.Packer(f, start, seed=7)
    a.run(moves=500)
    b.run(moves=500)
    assert a.best_nodes == b.best_nodes and a.best_cost == b.best_cost


def test_unplaced_tasks_stay_unplaced_and_allowed_sets_hold() -> None:
    p = cloud(20, 30, 4)
    data_nodes = [n.id for n in p.nodes]
    raw = {
        "taskalloc": 1,
        "objective": {"lexicographic": ["unplaced", "cost"]},
        "nodes": [{"id": n.id, "capacity": dict(n.capacity), "cost": n.cost} for n in p.nodes],
        "tasks": [
            {"id": t.id, "demand": dict(t.demand), "priority": 1, "required": False}
            for t in p.tasks
        ],
    }
    raw["tasks"][0]["nodes"] = data_nodes[:3]  # pinned to three nodes
    raw["tasks"][1]["nodes"] = data_nodes[5:6]
    q = problem_from_dict(raw)
    f = flat_of(q)
    start = spread(f)
    start[2] = ()  # left out: the packer must not place it
    packer = costpack.Packer(f, start, seed=0)
    packer.run(moves=1500)
    best = packer.best_nodes
    assert best[2] == ()
    assert best[0][0] in (0, 1, 2) and best[1] == (5,)
    assert fits(f, best)


def test_a_start_over_capacity_is_refused() -> None:
    f = flat_of(cloud(4, 40, 5))
    with pytest.raises(ValueError, match="capacity"):
        costpack.Packer(f, [(0,)] * f.T)


def test_room_weights_follow_the_scarce_resource() -> None:
    f = flat_of(cloud(30, 120, 6))
    w = costpack.room_weights(f)
    load = f.dem.sum(axis=0) / f.cap.sum(axis=0)
    per_node = w * f.cap.mean(axis=0)  # weight of a typical node's capacity
    assert np.argmax(per_node) == np.argmax(load)
    assert (w >= 0).all() and (w > 0).any()


def test_the_lns_uses_the_packer_and_returns_a_checked_plan() -> None:
    p = cloud(60, 150, 8)
    r = solve(p, time_limit=0.5, workers=1, seed=0, deterministic=True, lns=True)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    ev = evaluate(p, r.assignments)
    assert ev.feasible and ev.terms["unplaced"] == 0
    pack = r.options["lns"]["pack"]
    assert pack["moves"] > 0
    # deterministic: the same plan again
    again = solve(p, time_limit=0.5, workers=1, seed=0, deterministic=True, lns=True)
    assert sorted((a.task, a.node) for a in again.assignments) == sorted(
        (a.task, a.node) for a in r.assignments
    )


def test_a_set_stop_event_ends_the_moves() -> None:
    import threading

    f = flat_of(cloud(30, 60, 9))
    packer = costpack.Packer(f, spread(f), seed=0)
    stop = threading.Event()
    stop.set()
    assert packer.run(moves=1000, stop=stop) == 0
    assert packer.moves == 0
    stop.clear()
    packer.run(moves=10, stop=stop)
    assert packer.moves == 10


def test_patience_ends_a_run_that_finds_nothing() -> None:
    # one node holds everything: no move can make the plan cheaper
    p = problem_from_dict(
        {
            "taskalloc": 1,
            "objective": {"lexicographic": ["unplaced", "cost"]},
            "nodes": [
                {"id": "big", "capacity": {"cpu": 10}, "cost": 5},
                {"id": "other", "capacity": {"cpu": 10}, "cost": 7},
            ],
            "tasks": [{"id": f"t{i}", "demand": {"cpu": 1}} for i in range(5)],
        }
    )
    f = flat_of(p)
    packer = costpack.Packer(f, [(0,)] * f.T, seed=0)
    packer.run(moves=10_000, patience=50)
    assert packer.moves == 50
    assert packer.best_cost == Plan(f, [(0,)] * f.T).terms["cost"]
