"""The fitting tests of the structural proofs run on classes of identical nodes (issue 18): the
same answers as a test of every allowed node on its own."""

from __future__ import annotations

import numpy as np
import pytest

from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.problems.proofs import fits, fitting_count, fitting_nodes


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
        expected = [
            n
            for n in t.allowed
            if fits(p, t.index, n)
            or (
                p.scheduling
                and not t.service
                and t.duration_at(p.nodes[n]) == 0
                and p.device_use(t.index, n) is not None
            )
        ]
        got = fitting_nodes(p, t.index)
        assert got.tolist() == expected, t.id
        assert fitting_count(p, t.index) == len(expected)
        assert got.dtype == np.int64
