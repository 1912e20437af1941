"""The greedy reads each node's usage profile only from the segment holding the earliest start
on (:class:`~taskalloc.solvers.greedy._Window`): its plans must be exactly those of reading the
profiles whole, through either way of cutting them (one slice, or a row each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.solvers import greedy
from taskalloc.solvers.greedy import POLICIES, solve


class _Whole(greedy._Window):
    """The profiles read whole, as before the window."""

    def __init__(self, g: Any, nodes: np.ndarray, at: np.ndarray) -> None:
        self.g, self.pad = g, None
        self.rows, self.cols = nodes, slice(0, int(g.count[nodes].max()))


class _Gather(greedy._Window):
    slack = 0.0  # every row from its own segment, padded


SHAPES: list[dict[str, Any]] = [
    {"tasks": 120, "nodes": 20, "scheduling": True, "resources": 2},
    {"tasks": 120, "nodes": 20, "scheduling": True, "devices": True, "zones": True},
    {"tasks": 100, "nodes": 8, "scheduling": True, "services": True, "same_start": True},
]


def _plan(problem: Any, policy: str) -> list[tuple[Any, ...]]:
    r = solve(problem, policy=policy)
    return [(a.task, a.node, a.start, a.end, a.devices) for a in r.assignments]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(k for k in s if s[k] is True))
@pytest.mark.parametrize("policy", POLICIES)
def test_windowed_profiles_give_the_plans_of_whole_ones(monkeypatch, shape, policy):
    problem = problem_from_dict(generate(seed=3, **shape))
    plans = {}
    for name, window in (("window", greedy._Window), ("whole", _Whole), ("gather", _Gather)):
        monkeypatch.setattr(greedy, "_Window", window)
        plans[name] = _plan(problem, policy)
    assert plans["window"] and any(p[2] for p in plans["window"])  # placed, in time
    assert plans["window"] == plans["whole"] == plans["gather"]
