"""Solving one problem in K parts: every plan checked, the same plan for the same seed and K
with a deterministic engine, a lost worker's part retried (or left to the repair), the
options checked, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskalloc import solvers
from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import check, evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem
from taskalloc.solvers.batch import LocalExecutor
from taskalloc.solvers.engine import OptionError, Params
from taskalloc.solvers.partition import PartitionOptions, split
from taskalloc.solvers.partition import solve as solve_parts
from taskalloc.solvers.result import checked_plan
from tests import batch_targets
from tests.helpers import cli


def _problem(tasks: int = 120, nodes: int = 16, seed: int = 1, **flags: bool) -> Problem:
    return problem_from_dict(generate(tasks, nodes, seed=seed, **flags))


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"scheduling": True, "same_start": True},
        {"devices": True},
        {"zones": True, "scheduling": True},
    ],
    ids=["placement", "same-start", "devices", "zones"],
)
def test_the_coalesced_plan_passes_check(flags: dict[str, bool]) -> None:
    problem = _problem(**flags)
    result = solvers.solve(problem, "greedy", partitions=3, time_limit=30, seed=2)
    plan, ev = checked_plan(problem, result)
    assert result.has_plan and ev.feasible
    assert check(problem, plan).ok
    assert "partitions" in result.options or result.options.get("baseline_used")


def test_parts_improve_and_repair_are_recorded() -> None:
    problem = _problem(300, 24, seed=3)
    result = solvers.solve(problem, "cpsat", partitions=2, time_limit=12, seed=1)
    stats = result.options["partitions"]
    assert stats["partitions"] == 2
    assert [p["status"] for p in stats["parts"]] == ["feasible", "feasible"] or any(
        p["status"] == "optimal" for p in stats["parts"]
    )
    assert sum(p["tasks"] for p in stats["parts"]) + stats["left_out"] == len(problem.tasks)
    assert sum(p["nodes"] for p in stats["parts"]) == len(problem.nodes)
    assert checked_plan(problem, result)[1].feasible


def test_same_plan_for_the_same_seed_and_k() -> None:
    problem = _problem(200, 20, seed=5)
    runs = [
        solvers.solve(problem, "cpsat", partitions=3, time_limit=6, seed=4, deterministic=True)
        for _ in range(2)
    ]
    assert runs[0].assignments == runs[1].assignments
    greedy = [solvers.solve(problem, "greedy", partitions=4, seed=9) for _ in range(2)]
    assert greedy[0].assignments == greedy[1].assignments


def _named(tmp_path: Path, name: str) -> Problem:
    data = generate(150, 12, seed=6)
    data["name"] = str(tmp_path / name)
    return problem_from_dict(data)


def test_a_lost_worker_is_retried(tmp_path: Path) -> None:
    problem = _named(tmp_path, "die")
    ex = LocalExecutor(2, target=batch_targets.part_dies_once)
    res = solve_parts(problem, "greedy", Params(seed=1), {}, PartitionOptions(2), executor=ex)
    assert (tmp_path / "die.attempts").read_text() == "2"
    stats = res.options["partitions"]
    # solved on its second attempt (a part may be infeasible alone: its tasks go on)
    assert stats["parts"][0]["status"] in ("feasible", "optimal", "infeasible", "unknown")
    assert res.status == Status.FEASIBLE
    assert checked_plan(problem, res)[1].feasible


def test_a_part_lost_twice_goes_to_the_repair(tmp_path: Path) -> None:
    problem = _named(tmp_path, "die")
    ex = LocalExecutor(2, target=batch_targets.part_always_dies)
    res = solve_parts(
        problem, "greedy", Params(seed=1), {}, PartitionOptions(2, improve=True), executor=ex
    )
    assert (tmp_path / "die.attempts").read_text() == "2"  # the first attempt and one retry
    stats = res.options["partitions"]
    assert stats["parts"][0]["status"] == "internal"
    # its tasks were placed by a union of two parts or by the repair
    assert stats["repaired"] + stats["improve"]["unions_kept"] > 0
    lost = {problem.tasks[t].id for t in split(problem, 2, 1).parts[0].tasks}
    assert lost & {a.task for a in res.assignments}
    ev = evaluate(problem, res.assignments, reasons=False)
    assert ev.feasible and checked_plan(problem, res)[1].feasible


def test_partition_options_are_checked() -> None:
    problem = _problem(20, 4)
    with pytest.raises(OptionError, match="partitions"):
        solvers.solve(problem, "greedy", partitions=0)
    with pytest.raises(OptionError, match="executor"):
        solvers.solve(problem, "greedy", partitions=2, executor="cloud")
    with pytest.raises(OptionError, match="partitions"):
        solvers.solve(problem, "greedy", executor="ray")
    with pytest.raises(OptionError, match="no_such"):
        solvers.solve(problem, "greedy", partitions=2, no_such=1)


def test_more_parts_than_the_problem_allows() -> None:
    problem = _problem(3, 2)
    result = solvers.solve(problem, "greedy", partitions=8)
    assert checked_plan(problem, result)[1].feasible
    assert result.options.get("partitions", {}).get("partitions", 1) <= 2 or result.options.get(
        "baseline_used"
    )


def test_cli_partitions(tmp_path: Path) -> None:
    problem = tmp_path / "p.json"
    problem.write_text(json.dumps(generate(150, 12, seed=2)))
    out = tmp_path / "plan.json"
    res = cli("solve", str(problem), "-s", "greedy", "--partitions", "2", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    assert "in 2 parts" in res.stderr
    ok = cli("check", str(problem), str(out))
    assert ok.exit_code == 0, ok.stderr
    bad = cli("solve", str(problem), "--ray-address", "x:1", "--partitions", "2")
    assert bad.exit_code == 2 and "--executor ray" in bad.stderr
    many = cli("solve", str(problem), str(problem), "-d", str(tmp_path / "d"), "--partitions", "2")
    assert many.exit_code == 2 and "one problem" in many.stderr
    alone = cli("solve", str(problem), "--split", "random")
    assert alone.exit_code == 2 and "--split needs --partitions" in alone.stderr
    hinted = tmp_path / "hinted.json"
    for how in ("plan", "random"):
        res = cli(
            "solve", str(problem), "-s", "greedy", "-k", "2", "--split", how, "--hint", str(out),
            "-o", str(hinted),
        )  # fmt: skip
        assert res.exit_code == 0, res.stderr
        assert cli("check", str(problem), str(hinted)).exit_code == 0


def test_the_split_option_reaches_the_split() -> None:
    problem = _problem(150, 12, seed=2)
    hint = solvers.solve(problem, "greedy").assignments
    for how in ("plan", "random"):
        res = solvers.solve(problem, "greedy", partitions=2, split=how, hint=hint)
        assert res.options["partitions"]["split"] == how
    res = solvers.solve(problem, "greedy", partitions=2, hint=hint)
    assert res.options["partitions"]["split"] == "plan"  # from a plan: follow it
    res = solvers.solve(problem, "greedy", partitions=2)
    assert res.options["partitions"]["split"] == "random"  # nothing to follow


def test_auto_splits_a_huge_placement_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _problem(240, 20, seed=7)
    assert solvers.auto_partitions(problem) is None  # off, or small: solved whole
    monkeypatch.setattr(solvers, "AUTO_PARTITION_TASKS", 1000)
    assert solvers.auto_partitions(problem) is None  # small: solved whole
    monkeypatch.setattr(solvers, "AUTO_PARTITION_TASKS", 200)
    monkeypatch.setattr(solvers, "AUTO_PART_TASKS", 80)
    chosen = solvers.auto_partitions(problem)
    assert chosen is not None and chosen.partitions == 3
    result = solvers.solve(problem, "auto", time_limit=15, seed=1)
    assert result.options["partitions"]["partitions"] == 3
    assert checked_plan(problem, result)[1].feasible
    scheduling = _problem(240, 20, seed=7, scheduling=True)
    assert solvers.auto_partitions(scheduling) is None  # parts of schedules: not by auto
