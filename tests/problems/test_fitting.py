"""The fitting tests of the structural proofs run on classes of identical nodes (issue 18): the
same answers as a test of every allowed node on its own."""

from __future__ import annotations

import numpy as np
import pytest

from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.problems.proofs import fitting_count, fitting_nodes
from tests.helpers import fitting_by_definition


@pytest.mark.parametrize(
    "options",
    [
        {"seed": 2},
        {"seed": 1, "devices": True},
        {"seed": 3, "scheduling": True},
        {"seed": 5, "scheduling": True, "devices": True, "services": True},
    ],
)
def test_fitting_nodes_are_the_nodes_one_replica_fits_on(options: dict[str, object]) -> None:
    p = problem_from_dict(generate(150, 40, **options))
    assert any(n.devices for n in p.nodes) == bool(options.get("devices"))
    for t in p.tasks:
        expected = fitting_by_definition(p, t.index)
        got = fitting_nodes(p, t.index)
        assert got.tolist() == expected, t.id
        assert fitting_count(p, t.index) == len(expected)
        assert got.dtype == np.int64


@pytest.mark.parametrize("scheduling", [False, True])
def test_per_node_demands_are_tested_node_by_node(scheduling: bool) -> None:
    nodes = [
        {"id": "g", "count": 3, "capacity": {"cpu": 16, "gpu": 8}, "devices": {"gpu": 8}},
        {"id": "c", "count": 2, "capacity": {"cpu": 8}},
        {"id": "big", "capacity": {"cpu": 64, "gpu": 4}},
    ]
    demands = [
        {"cpu": 4, "gpu": 3},  # three whole devices on g, within capacity on big
        {"cpu": 4, "gpu": 1.5},  # neither a share of one device nor whole devices on g
        {"cpu": 32},  # only big holds it
        {"cpu": 1},
    ]
    tasks = []
    for i, dem in enumerate(demands):
        t: dict[str, object] = {
            "id": f"t{i}",
            "demand": {"cpu": 2},
            "demand_on": {"g": dem, "c-2": dem, "big": dem},
        }
        if scheduling:
            t["duration"] = 0 if i == 1 else 5
        tasks.append(t)
    p = problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})
    assert p.scheduling == scheduling
    for task in p.tasks:
        expected = fitting_by_definition(p, task.index)
        assert fitting_nodes(p, task.index).tolist() == expected, task.id
        assert fitting_count(p, task.index) == len(expected)
