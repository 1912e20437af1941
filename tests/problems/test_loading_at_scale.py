"""What loading does to be fast at 150,000 tasks (issue 18) keeps the meaning of the file: shared
allowed sets, shared per-pool demands, tasks built as drafts then sealed, counts of fitting nodes
by classes of nodes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.entities import Task, TaskDraft, seal
from taskalloc.problems.problem import problem_from_dict
from taskalloc.problems.proofs import fits, fitting_count, fitting_nodes, prove_infeasible
from tests.helpers import fitting_by_definition


def _problem(tasks: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None) -> Any:
    nodes = nodes or [
        {"id": "g", "count": 3, "capacity": {"cpu": 16, "gpu": 8}, "labels": {"x": 1}},
        {"id": "h", "count": 2, "capacity": {"cpu": 8}, "labels": {"x": True}},
        {"id": "big", "capacity": {"cpu": 64, "gpu": 4}, "labels": {"x": "1.5"}},
    ]
    return problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})


def test_match_values_that_python_finds_equal_select_their_own_nodes() -> None:
    # 1 == True in Python; as labels they are "1" and "true"
    p = _problem(
        [
            {"id": "a", "match": {"x": 1}},
            {"id": "b", "match": {"x": True}},
            {"id": "c", "match": {"x": [1, True]}},
            {"id": "d", "match": {"x": 1.5}},
        ]
    )
    names = {t.id: [p.nodes[n].id for n in t.allowed] for t in p.tasks}
    assert names == {
        "a": ["g-1", "g-2", "g-3"],
        "b": ["h-1", "h-2"],
        "c": ["g-1", "g-2", "g-3", "h-1", "h-2"],
        "d": ["big"],
    }


def test_equal_allowed_sets_are_one_tuple_of_the_node_indices() -> None:
    p = _problem(
        [
            {"id": "a", "nodes": ["g"]},
            {"id": "b", "match": {"x": 1}},  # the same nodes, another selector
            {"id": "c", "nodes": ["g-1", "g-2", "g-3"]},
            {"id": "d"},
            {"id": "e", "nodes": ["big", "g"]},
        ]
    )
    a, b, c, d, e = p.tasks
    assert a.allowed == (0, 1, 2) and a.allowed is b.allowed is c.allowed
    assert d.allowed == tuple(range(6))
    assert e.allowed == (0, 1, 2, 5)
    assert all(type(n) is int for t in p.tasks for n in t.allowed)


def test_a_pool_shares_its_demand_on_and_members_keep_their_own() -> None:
    p = _problem(
        [
            {
                "id": "t",
                "demand": {"cpu": 1},
                "demand_on": {"g": {"cpu": 2}, "g-2": {"cpu": 3}, "big": {"cpu": 2}},
                "assign_cost": {"g": 1.5, "g-3": 4},
            }
        ]
    )
    (t,) = p.tasks
    assert dict(t.demand_on[0]) == dict(t.demand_on[2]) == {"cpu": 2}
    assert dict(t.demand_on[1]) == {"cpu": 3}
    assert t.demand_on[0] is t.demand_on[2]
    assert dict(t.demand_on[5]) == {"cpu": 2}
    assert list(t.demand_on) == [0, 1, 2, 5] or sorted(t.demand_on) == [0, 1, 2, 5]
    assert dict(t.assign_cost) == {0: 1.5, 1: 1.5, 2: 4}
    with pytest.raises(TypeError):
        t.demand_on[0]["cpu"] = 5


def test_drafts_seal_into_equal_frozen_tasks() -> None:
    p = _problem(
        [{"id": "a", "demand": {"cpu": 2}, "replicas": 2, "separate_from": ["b"]}, {"id": "b"}]
    )
    a, b = p.tasks
    assert type(a) is Task and type(b) is Task
    assert b.separate == frozenset({0})  # mirrored while a draft
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.replicas = 3
    fields = {f.name: getattr(a, f.name) for f in dataclasses.fields(Task)}
    assert Task(**fields) == a
    assert dataclasses.replace(a, replicas=1).replicas == 1 and a.replicas == 2
    (draft,) = seal([TaskDraft(**fields)])
    assert type(draft) is Task and draft == a
    defaults = {
        k: v for k, v in fields.items() if k not in ("service", "span", "spread", "current_entries")
    }
    (short,) = seal([TaskDraft(**defaults)])
    assert short == Task(**defaults)
    assert (short.service, short.span, short.spread, short.current_entries) == (
        False,
        None,
        None,
        (),
    )


NODES = [
    {"id": "g", "count": 3, "capacity": {"cpu": 16, "gpu": 8}, "devices": {"gpu": 8}},
    {"id": "c", "count": 4, "capacity": {"cpu": 8}},
    {"id": "d", "count": 2, "capacity": {"cpu": 8}},  # the same class as c
    {"id": "big", "capacity": {"cpu": 64, "gpu": 4}},
]


@pytest.mark.parametrize("scheduling", [False, True])
def test_per_node_demands_of_equal_content_in_several_pools(scheduling: bool) -> None:
    tasks: list[dict[str, Any]] = [
        # equal demands in distinct mappings (c and d), one that does not fit (g: 1.5 gpu is
        # neither a share of one device nor whole devices), one outside the allowed nodes
        {
            "id": "t0",
            "demand": {"cpu": 2},
            "demand_on": {"c": {"cpu": 9}, "d": {"cpu": 9}, "g": {"gpu": 1.5}, "big": {"cpu": 1}},
            "nodes": ["c", "d", "g"],
        },
        {"id": "t1", "demand": {"cpu": 12}, "demand_on": {"c-2": {"cpu": 1}, "g-3": {"cpu": 17}}},
        {"id": "t2", "demand": {"cpu": 1}, "demand_on": {"big": {}}, "replicas": 2},
    ]
    if scheduling:
        tasks[0]["duration"] = 4
        tasks[1]["duration"] = 0
        tasks[2]["duration_on"] = {"c": 0}
        tasks[2]["duration"] = 3
    p = problem_from_dict({"taskalloc": 1, "nodes": NODES, "tasks": tasks})
    assert p.scheduling == scheduling
    for t in p.tasks:
        expected = fitting_by_definition(p, t.index)
        got = fitting_nodes(p, t.index)
        assert got.tolist() == expected, t.id
        assert got.dtype == np.int64
        assert fitting_count(p, t.index) == len(expected), t.id
    if not scheduling:
        names = {t.id: [p.nodes[n].id for n in fitting_nodes(p, t.index)] for t in p.tasks}
        assert names["t0"] == []
        assert names["t1"] == ["g-1", "g-2", "c-2", "big"]
        assert names["t2"] == [n.id for n in p.nodes]


def test_counts_at_once_give_the_proofs_of_each_task_alone() -> None:
    """Tasks sharing allowed nodes and demands (the memoised, matrix path) and tasks with their
    own (demand_on): the same proofs as the task-by-task path, in file order."""
    tasks: list[dict[str, Any]] = []
    for i in range(30):
        t: dict[str, Any] = {"id": f"t{i}", "demand": {"cpu": [2, 12, 20, 70][i % 4]}}
        if i % 3 == 0:
            t["nodes"] = ["c", "big"]
        if i % 5 == 0:
            t["replicas"] = 3
        if i % 7 == 0:
            t["demand_on"] = {"big": {"cpu": 100}}
        if i % 11 == 0:
            t["required"] = False
        tasks.append(t)
    p = problem_from_dict({"taskalloc": 1, "nodes": NODES, "tasks": tasks})
    proofs = prove_infeasible(p)
    alone = [t.id for t in p.tasks if t.required and len(_fitting_by_hand(p, t.index)) < t.replicas]
    expected = []
    for i in alone:
        k = p.task_index[i]
        field = "replicas" if _fitting_by_hand(p, k) else "demand"
        expected.append(f"tasks[{k}] ({i}).{field}")
    assert [d.where for d in proofs] == expected
    assert len(expected) > 5
    assert all(d.line is not None for d in proofs)
    t10 = next(d for d in proofs if d.where.startswith("tasks[10] "))
    assert t10.message.startswith(
        "needs 3 replicas on distinct nodes, but only 1 allowed node can hold one (big)"
    )


def _fitting_by_hand(p: Any, task: int) -> list[int]:
    return [n for n in p.tasks[task].allowed if fits(p, task, n)]
