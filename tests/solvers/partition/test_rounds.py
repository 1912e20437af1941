"""At scale, the parts alone (the scaling curve's path) in rounds that split again along the
plan so far (``SCALE_ROUNDS``), and the fleet-wide moves across the parts' borders after them
(``CROSS_SECONDS``): both off by default (measured no better at 150,000 x 5,000,
docs/benchmarks.md); every plan checked, no worse than the greedy's, the same plan twice."""

from __future__ import annotations

import importlib

import pytest

from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import check
from taskalloc.problems.generate import generate
from taskalloc.solvers.baseline import compare, greedy_plan
from taskalloc.solvers.engine import Params
from taskalloc.solvers.partition import PartitionOptions
from taskalloc.solvers.partition import solve as solve_parts
from taskalloc.solvers.partition.cross import across
from taskalloc.solvers.result import checked_plan

partition = importlib.import_module("taskalloc.solvers.partition")


def test_rounds_split_again_along_the_plan_so_far(
    scale_at_small_sizes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partition, "SCALE_ROUNDS", 2)
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    options = PartitionOptions(2, improve=False, part_time_limit=2)
    params = Params(seed=2, time_limit=60, deterministic=True)
    res = solve_parts(problem, "cpsat", params, {}, options)
    stats = res.options["partitions"]
    rounds = stats["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert stats["part_limit"] == 1.0  # each round half the part's seconds
    assert stats["implied_seconds"] == pytest.approx(sum(r["implied_seconds"] for r in rounds))
    assert rounds[1]["cost"] <= rounds[0]["cost"] + 1e-9  # from the plan of round 1
    assert res.seed == 2 and "2 rounds" in (res.message or "")
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0
    again = solve_parts(problem, "cpsat", params, {}, options)
    assert sorted(map(str, again.assignments)) == sorted(map(str, res.assignments))


def test_without_rounds_one_split(scale_at_small_sizes: None) -> None:
    assert partition.SCALE_ROUNDS == 1 and partition.CROSS_SECONDS == 0  # off by default
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    options = PartitionOptions(2, improve=False, part_time_limit=2)
    res = solve_parts(problem, "cpsat", Params(seed=2, deterministic=True), {}, options)
    stats = res.options["partitions"]
    assert "rounds" not in stats and stats["implied_seconds"] > 0


def test_the_moves_across_the_borders_keep_a_checked_plan_no_worse() -> None:
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    start = list(greedy_plan(problem).result.assignments)
    moved, stats = across(problem, start, 5.0)
    assert stats["kept"] > 0 and stats["to_cost"] < stats["from_cost"]
    from taskalloc.problems.evaluate import evaluate

    before = evaluate(problem, start, reasons=False)
    after = evaluate(problem, moved, reasons=False)
    assert after.feasible and compare(problem, after, before) < 0
    assert check(problem, checked_plan(problem, _as_result(problem, moved))[0]).ok


def _as_result(problem, assignments):  # type: ignore[no-untyped-def]
    from taskalloc.problems.plan import Status
    from taskalloc.solvers.result import Result

    return Result("test", Status.FEASIBLE, assignments, 0.0)
