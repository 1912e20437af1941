"""The split keeps whole what must stay whole, and each part is a problem of its own whose
tasks may use exactly the nodes they may use in the whole problem (hypothesis, over generated
problems with scheduling, devices, zones and same-start gangs)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import Problem
from taskalloc.solvers.baseline import greedy_plan
from taskalloc.solvers.engine import OptionError
from taskalloc.solvers.partition import PartitionOptions, split
from taskalloc.solvers.partition.subproblem import sub_bytes, sub_data


def _problem(tasks: int, nodes: int, seed: int, flags: tuple[bool, bool, bool, bool]) -> Problem:
    scheduling, devices, zones, same_start = flags
    data = generate(
        tasks,
        nodes,
        seed=seed,
        scheduling=scheduling or same_start,
        devices=devices,
        zones=zones,
        same_start=same_start,
    )
    return problem_from_dict(data)


def _placed(problem: Problem) -> dict[int, set[int]]:
    """The greedy's plan: task index -> node indices."""
    placed: dict[int, set[int]] = {}
    for x in greedy_plan(problem).result.assignments:
        placed.setdefault(problem.task_index[x.task], set()).add(problem.node_index[x.node])
    return placed


def check_split(
    problem: Problem,
    k: int,
    seed: int,
    placed: dict[int, set[int]] | None = None,
    deal: str = "random",
) -> None:
    sp = split(problem, k, seed, placed, deal)
    assert 1 <= len(sp.parts) <= k
    part_of_task: dict[int, int] = {}
    seen_nodes: set[int] = set()
    for part in sp.parts:
        assert part.tasks and part.nodes
        assert not seen_nodes & set(part.nodes), "a node in two parts"
        seen_nodes |= set(part.nodes)
        for t in part.tasks:
            assert t not in part_of_task, "a task in two parts"
            part_of_task[t] = part.index
        for n in part.nodes:
            assert sp.part_of_node[n] == part.index
    assert set(part_of_task) | set(sp.left_out) == set(range(len(problem.tasks)))
    assert not set(part_of_task) & set(sp.left_out)

    def where(t: int) -> int:
        return part_of_task.get(t, -1)

    for members in problem.gangs.values():  # gangs (same-start or not) whole
        assert len({where(t) for t in members}) == 1
    for task in problem.tasks:
        for other in task.after:  # dependency chains whole
            assert where(other) == where(task.index)
        for other in task.separate:  # separation groups whole
            assert where(other) == where(task.index)
        p = where(task.index)
        if p < 0:
            continue
        nodes = set(sp.parts[p].nodes)
        assert nodes & set(task.allowed), "a task in a part where it may use no node"
        if task.spread is not None:  # a spread task's nodes whole, in its part
            assert set(task.allowed) <= nodes

    # every part is a valid problem whose tasks may use their nodes of the part, no other
    for part in sp.parts:
        sub = problem_from_dict(json.loads(sub_bytes(sub_data(problem, part.tasks, part.nodes))))
        assert [t.id for t in sub.tasks] == [problem.tasks[t].id for t in part.tasks]
        assert [n.id for n in sub.nodes] == [problem.nodes[n].id for n in part.nodes]
        assert sub.scheduling == problem.scheduling
        for st_, t in zip(sub.tasks, part.tasks, strict=True):
            whole = problem.tasks[t]
            want = {problem.nodes[n].id for n in whole.allowed if n in set(part.nodes)}
            assert {sub.nodes[n].id for n in st_.allowed} == want
            assert st_.gang == whole.gang and st_.replicas == whole.replicas
            assert {sub.tasks[o].id for o in st_.separate} == {
                problem.tasks[o].id for o in whole.separate
            }
            after = {problem.tasks[o].id for o in whole.after}
            assert {sub.tasks[o].id for o in st_.after} == after


@pytest.mark.parametrize("deal", ["random", "plan"])  # POP's split; one following the greedy's plan
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tasks=st.integers(4, 60),
    nodes=st.integers(2, 24),
    seed=st.integers(0, 10_000),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    k=st.integers(1, 6),
)
def test_split_keeps_groups_whole(
    deal: str, tasks: int, nodes: int, seed: int, flags: tuple[bool, bool, bool, bool], k: int
) -> None:
    problem = _problem(tasks, nodes, seed, flags)
    check_split(problem, k, seed, _placed(problem) if deal == "plan" else None, deal)


def test_split_is_deterministic_for_seed_and_k() -> None:
    problem = _problem(200, 30, 4, (False, False, False, False))
    a, b = split(problem, 4, 7), split(problem, 4, 7)
    assert [(p.tasks, p.nodes) for p in a.parts] == [(p.tasks, p.nodes) for p in b.parts]
    c = split(problem, 4, 8)
    assert [(p.tasks, p.nodes) for p in a.parts] != [(p.tasks, p.nodes) for p in c.parts]


def test_every_pool_is_dealt_over_the_parts() -> None:
    problem = _problem(300, 40, 2, (False, False, False, False))
    sp = split(problem, 4, 0)
    for pool, members in problem.pools.items():
        if len(members) >= 4:
            per_part = [sum(1 for n in members if sp.part_of_node[n] == p.index) for p in sp.parts]
            assert max(per_part) - min(per_part) <= 1, pool


def _spread(problem: Problem, k: int, placed: dict[int, set[int]], deal: str) -> int:
    """Tasks of the groups the plan puts on nodes of two parts or more."""
    sp = split(problem, k, 0, placed, deal)
    return sum(
        len(members)
        for members in sp.components
        if len({sp.part_of_node[n] for t in members for n in placed.get(t, ())}) > 1
    )


def test_a_split_that_follows_the_plan_spreads_fewer_groups() -> None:
    problem = _problem(3000, 120, 1, (False, False, False, False))
    placed = _placed(problem)
    for k in (2, 4):
        assert _spread(problem, k, placed, "plan") < 0.95 * _spread(problem, k, placed, "random")


def test_a_split_that_follows_the_plan_deals_every_pool_evenly() -> None:
    problem = _problem(600, 60, 2, (False, False, False, False))
    placed = _placed(problem)
    for k in (2, 3, 4):
        sp = split(problem, k, 5, placed, "plan")
        assert split(problem, k, 5, placed, "plan").part_of_node == sp.part_of_node
        for pool, members in problem.pools.items():
            per_part = [sum(1 for n in members if sp.part_of_node[n] == p.index) for p in sp.parts]
            assert max(per_part) - min(per_part) <= 1, pool


def test_the_split_is_checked() -> None:
    problem = _problem(20, 4, 0, (False, False, False, False))
    with pytest.raises(ValueError, match="deal must be"):
        split(problem, 2, 0, None, "metis")
    with pytest.raises(OptionError, match="plan or random"):
        PartitionOptions(2, split="metis")
