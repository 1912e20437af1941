"""A part's pools written as pools (at scale: ``sub_data(..., names=...)``): the sub-problem
is the same problem as the one written member by member, up to the names of the nodes (same
nodes in the same order, same allowed nodes, demands, costs), it is smaller, and the parts'
plans are the same through the names."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import check
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import Problem
from taskalloc.solvers.engine import Params
from taskalloc.solvers.partition import PartitionOptions, split
from taskalloc.solvers.partition import solve as solve_parts
from taskalloc.solvers.partition.subproblem import sub_bytes, sub_data
from taskalloc.solvers.result import checked_plan

partition = importlib.import_module("taskalloc.solvers.partition")


def _same_up_to_names(
    problem: Problem, plain: dict[str, Any], pooled: dict[str, Any], names: dict[int, str]
) -> None:
    a = problem_from_dict(plain, "<plain>", locate=False)
    b = problem_from_dict(pooled, "<pooled>", locate=False)
    back = {name: problem.nodes[n].id for n, name in names.items()}
    # the same nodes in the same order
    assert [back[n.id] for n in b.nodes] == [n.id for n in a.nodes]
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        assert dict(na.capacity) == dict(nb.capacity) and na.cost == nb.cost
        assert dict(na.labels) == dict(nb.labels) and dict(na.devices) == dict(nb.devices)
    for ta, tb in zip(a.tasks, b.tasks, strict=True):
        assert ta.id == tb.id and ta.allowed == tb.allowed
        assert ta.required == tb.required and ta.replicas == tb.replicas
        assert dict(ta.assign_cost) == dict(tb.assign_cost)
        assert ta.current_entries == tb.current_entries
        for n in ta.allowed:
            assert np.array_equal(a.demand_vector(ta.index, n), b.demand_vector(tb.index, n))


@pytest.mark.parametrize(
    "flags",
    [{}, {"devices": True}, {"zones": True, "scheduling": True}],
    ids=["placement", "devices", "zones"],
)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_part_written_with_pools_is_the_same_problem(flags: dict[str, bool], k: int) -> None:
    problem = problem_from_dict(generate(600, 120, seed=4, resources=4, **flags))
    sp = split(problem, k, 3)
    smaller = 0
    for p in sp.parts:
        plain = sub_data(problem, p.tasks, p.nodes, relax=True)
        names: dict[int, str] = {}
        pooled = sub_data(problem, p.tasks, p.nodes, relax=True, names=names)
        assert set(names) == set(p.nodes)
        _same_up_to_names(problem, plain, pooled, names)
        assert any("count" in e for e in pooled["nodes"])  # written as pools
        smaller += len(sub_bytes(pooled)) < len(sub_bytes(plain))
    assert smaller == len(sp.parts)


def test_a_member_given_its_own_capacity_keeps_its_pool_member_by_member() -> None:
    problem = problem_from_dict(generate(200, 60, seed=2, resources=4))
    nodes = list(range(len(problem.nodes)))
    pooled_ids = {
        problem.nodes[n].pool for n in nodes if problem.nodes[n].id != problem.nodes[n].pool
    }
    first = next(n for n in nodes if problem.nodes[n].pool in pooled_ids)
    pool = problem.nodes[first].pool
    room = {first: problem.capacity[first] / 2}
    tasks = list(range(len(problem.tasks)))
    plain = sub_data(problem, tasks, nodes, capacity=room, relax=True)
    names: dict[int, str] = {}
    pooled = sub_data(problem, tasks, nodes, capacity=room, relax=True, names=names)
    assert pool not in {e["id"] for e in pooled["nodes"]}  # that pool member by member
    assert names[first] == problem.nodes[first].id
    _same_up_to_names(problem, plain, pooled, names)


def test_the_parts_at_scale_are_written_with_pools_and_plan_the_same(
    scale_at_small_sizes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the parts' sub-problems are the same problems up to their node ids (same order): with a
    # deterministic limit the same plan, through the names, in fewer bytes
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    options = PartitionOptions(2, improve=False)
    params = Params(seed=2, time_limit=6, deterministic=True)
    runs = {}
    for pools in (False, True):
        monkeypatch.setattr(partition, "POOLS_AS_POOLS", pools)
        res = solve_parts(problem, "cpsat", params, {}, options)
        plan, ev = checked_plan(problem, res)
        assert ev.feasible and check(problem, plan).ok
        assert all(
            p["status"] in ("feasible", "optimal") for p in res.options["partitions"]["parts"]
        )
        runs[pools] = res
    assert sorted(map(str, runs[True].assignments)) == sorted(map(str, runs[False].assignments))
    sizes = [
        [p["bytes"] for p in runs[pools].options["partitions"]["parts"]] for pools in (False, True)
    ]
    assert all(b < a for a, b in zip(*sizes, strict=True))
