"""`check` must not be fooled (issue 11): every claim of a plan file, hand-edited, against what
the problem and the assignments alone give. Each case edits a valid plan written by
`make_plan` and must be a violation (exit 1) naming what is wrong; a wrong type is bad input
(exit 2, located)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskalloc.problems.evaluate import check
from taskalloc.problems.plan import Status, plan_from_text
from tests.helpers import asg, cli, make, node, prob, prob_dict, task, write_problem

Edit = Callable[[dict[str, Any]], None]

# a placement problem: t1 (required) and t2 (optional, too big for any node: never placed)
PLACEMENT = prob_dict(
    [node("a", {"cpu": 4}), node("b", {"cpu": 4})],
    [task("t1", {"cpu": 2}), task("t2", {"cpu": 9}, required=False), task("t3", {"cpu": 1})],
)
SCHEDULING = prob_dict(
    [node("a", {"cpu": 4})],
    [task("s1", {"cpu": 2}, duration=5), task("s2", {"cpu": 2}, duration=3, after=["s1"])],
)


def _plan(tmp_path: Path, data: dict[str, Any], assignments: list[Any]) -> tuple[Path, dict]:
    path = write_problem(tmp_path / "problem.json", data)
    from taskalloc.problems.problem import load_problem

    plan = make(load_problem(str(path)), assignments)
    return path, json.loads(plan.dumps("json"))


def placement_plan(tmp_path: Path) -> tuple[Path, dict]:
    return _plan(tmp_path, PLACEMENT, [asg("t1", "a"), asg("t3", "b")])


def scheduling_plan(tmp_path: Path) -> tuple[Path, dict]:
    return _plan(tmp_path, SCHEDULING, [asg("s1", "a", 0, 0, 5), asg("s2", "a", 0, 5, 8)])


def _set(*path: Any, value: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = value

    return edit


def _append(key: str, entry: Any) -> Edit:
    return lambda d: d[key].append(entry)


def _remove_unplaced(task_id: str) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        d["unplaced"] = [u for u in d["unplaced"] if u["task"] != task_id]

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        for e in edits:
            e(d)

    return edit


def _assignment(i: int, **fields: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        d["assignments"][i].update(fields)

    return edit


# (name, plan maker, edit, kind of the violation, words in its message)
CASES: list[tuple[str, Any, Edit, str, str]] = [
    (
        "assigned and unplaced",
        placement_plan,
        _append("unplaced", {"task": "t1", "reason": "hand edit"}),
        "plan",
        "t1: listed in unplaced, but it has assignments",
    ),
    (
        "optional task in neither list",
        placement_plan,
        _remove_unplaced("t2"),
        "plan",
        "t2: neither assigned nor listed in unplaced",
    ),
    (
        "unknown task in unplaced",
        placement_plan,
        _append("unplaced", {"task": "ghost"}),
        "plan",
        "unplaced names unknown task 'ghost'",
    ),
    (
        "task twice in unplaced",
        placement_plan,
        _append("unplaced", {"task": "t2"}),
        "plan",
        "t2: listed 2 times in unplaced",
    ),
    (
        "start 5 end 3 in a placement plan",
        placement_plan,
        _assignment(0, start=5, end=3),
        "time",
        "t1 replica 0: runs over [5, 3), but this is a placement problem",
    ),
    (
        "start alone in a placement plan",
        placement_plan,
        _assignment(1, start=0),
        "time",
        "t3 replica 0: starts at 0, but this is a placement problem",
    ),
    (
        "bound above objective, status optimal",
        placement_plan,
        _both(
            _set("solver", "status", value="optimal"),
            _set("solver", "bound", value={"unplaced": 0, "cost": 7}),
        ),
        "objective",
        "bound cost: the plan states a lower bound of 7, above its own value 0",
    ),
    (
        "bound above objective, status feasible",
        placement_plan,
        _set("solver", "bound", value={"unplaced": 3}),
        "objective",
        "bound unplaced: the plan states a lower bound of 3, above its own value 1",
    ),
    (
        "bound on an unknown term",
        placement_plan,
        _set("solver", "bound", value={"makespan": 0}),
        "objective",
        "bound on term 'makespan', which is not defined for this problem",
    ),
    (
        "status infeasible on a full plan",
        placement_plan,
        _set("solver", "status", value="infeasible"),
        "objective",
        "status is infeasible (no plan exists), but these assignments satisfy every constraint",
    ),
    (
        "proofs of infeasibility with status feasible",
        placement_plan,
        _set("infeasibility", value=["t1 cannot be placed"]),
        "objective",
        "the plan lists proofs of infeasibility, but its status is feasible",
    ),
    (
        "false metrics.feasible",
        placement_plan,
        _set("metrics", "feasible", value=False),
        "metrics",
        "feasible (states false, is true)",
    ),
    (
        "metrics.feasible not a boolean",
        placement_plan,
        _set("metrics", "feasible", value="yes"),
        "metrics",
        "feasible (must be true or false)",
    ),
    (
        "false metrics.fitness",
        placement_plan,
        _set("metrics", "fitness", value=0),
        "metrics",
        "fitness (states 0, is 1)",
    ),
    (
        "false solver.fitness",
        placement_plan,
        _set("solver", "fitness", value=0.5),
        "objective",
        "solver.fitness: plan states 0.5, recomputed 1",
    ),
    (
        "false metrics.terms",
        placement_plan,
        _set("metrics", "terms", "nodes", value=1),
        "metrics",
        "terms.nodes (states 1, is 2)",
    ),
    (
        "false utilisation",
        placement_plan,
        _set("metrics", "utilisation", "a", "cpu", value=0.1),
        "metrics",
        "utilisation.a.cpu (states 0.1, is 0.5)",
    ),
    (
        "utilisation of an unknown node",
        placement_plan,
        _set("metrics", "utilisation", "ghost", value={"cpu": 0}),
        "metrics",
        "utilisation.ghost (no such entry)",
    ),
    (
        "false placed_replicas",
        placement_plan,
        _set("metrics", "placed_replicas", value=3),
        "metrics",
        "placed_replicas (states 3, is 2)",
    ),
    (
        "duplicate assignment",
        placement_plan,
        lambda d: d["assignments"].append(dict(d["assignments"][0])),
        "replicas",
        "t1: replica 0 is assigned twice",
    ),
    (
        "replica out of range",
        placement_plan,
        _assignment(0, replica=1),
        "replicas",
        "t1: replica 1 does not exist (replicas: 1)",
    ),
    (
        "unknown task",
        placement_plan,
        _append("assignments", {"task": "ghost", "replica": 0, "node": "a"}),
        "plan",
        "assignment names unknown task 'ghost'",
    ),
    (
        "unknown node",
        placement_plan,
        _assignment(0, node="z"),
        "plan",
        "t1: assignment names unknown node 'z'",
    ),
    (
        "devices on an unsplit resource",
        placement_plan,
        _assignment(0, devices={"cpu": [0]}),
        "devices",
        "lists devices of cpu on a, which does not split cpu into devices",
    ),
    (
        "objective understated",
        placement_plan,
        _set("solver", "objective", "unplaced", value=0),
        "objective",
        "objective unplaced: plan states 0, recomputed 1",
    ),
    (
        "end before start in a scheduling plan",
        scheduling_plan,
        _assignment(1, start=5, end=3),
        "time",
        "s2 replica 0: runs -2 on a, its duration there is 3",
    ),
    (
        "false makespan term",
        scheduling_plan,
        _set("metrics", "terms", "makespan", value=5),
        "metrics",
        "terms.makespan (states 5, is 8)",
    ),
]


@pytest.mark.parametrize(
    ("make_plan_file", "edit", "kind", "words"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_a_false_claim_is_a_violation(tmp_path, make_plan_file, edit, kind, words):
    problem_path, data = make_plan_file(tmp_path)
    edit(data)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(data))
    result = cli("check", str(problem_path), str(plan_path), env={"COLUMNS": "1000"})
    assert result.exit_code == 1, result.stderr
    assert any(kind in line and words in line for line in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("make_plan_file", [placement_plan, scheduling_plan])
def test_the_unedited_plans_pass(tmp_path, make_plan_file):
    problem_path, data = make_plan_file(tmp_path)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(data))
    result = cli("check", str(problem_path), str(plan_path))
    assert result.exit_code == 0, result.stderr


def test_stale_metrics_after_a_hand_move_are_one_line(tmp_path):
    problem_path, data = placement_plan(tmp_path)
    data["assignments"][1]["node"] = "a"  # t3 joins t1 on a: fits, but every metric changes
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(data))
    result = cli("check", str(problem_path), str(plan_path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "1 violation:"
    assert lines[1].startswith("  metrics: 5 stated metrics differ from the recomputed ones: ")


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("assignments", 0, "replica"), "0", "assignments[0].replica: must be an integer, got '0'"),
        (
            ("assignments", 0, "replica"),
            True,
            "assignments[0].replica: must be an integer, got true",
        ),
        (("assignments", 0, "start"), 1.0, "assignments[0].start: must be an integer, got 1.0"),
        (("assignments", 0, "node"), 7, "assignments[0].node: must be a string, got 7"),
        (("solver", "fitness"), "1", "solver.fitness: must be a number, got '1'"),
        (("solver", "objective", "cost"), True, "solver.objective.cost: must be a number"),
        (("taskalloc_plan",), True, "taskalloc_plan: must be 1, got true"),
        (("taskalloc_plan",), 2, "taskalloc_plan: unsupported plan version 2"),
        (("solver", "trajectory"), [[0.1, "x", None]], "solver.trajectory[0][1]: must be a number"),
        (("solver", "trajectory"), [5], "solver.trajectory[0]: must be"),
        (("solver", "options"), [1], "solver.options: must be a mapping, got a list"),
    ],
)
def test_a_wrong_type_is_located_bad_input(tmp_path, where, value, message):
    problem_path, data = placement_plan(tmp_path)
    _set(*where, value=value)(data)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(data))
    result = cli("check", str(problem_path), str(plan_path))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr


def test_plans_of_every_status_written_by_make_plan_pass_check():
    p = prob(
        [node("a", {"cpu": 4})], [task("x", {"cpu": 2}), task("y", {"cpu": 3}, required=False)]
    )
    for status, assignments, kinds in [
        (Status.OPTIMAL, [asg("x", "a")], []),
        (Status.FEASIBLE, [asg("x", "a")], []),
        (Status.UNKNOWN, [], ["required"]),  # no plan found: the required x is not placed
    ]:
        plan = make(p, assignments, status)
        report = check(p, plan_from_text("p.yaml", plan.dumps("yaml").encode()))
        assert [v.kind for v in report.violations] == kinds, status


def test_status_infeasible_with_an_infeasible_partial_plan_only_warns():
    p = prob([node("a", {"cpu": 4})], [task("x", {"cpu": 2}), task("y", {"cpu": 3})])
    plan = make(p, [asg("x", "a")], Status.INFEASIBLE)
    report = check(p, plan)
    assert [v.kind for v in report.violations] == ["required"]
    assert report.warnings == ["status is infeasible but the plan has assignments"]


def test_a_weighted_bound_is_checked_against_the_weighted_sum(tmp_path):
    """cpsat and mip bound a weighted objective as one sum, under the key `weighted`: check
    accepts a true bound and rejects one above the plan's weighted sum."""
    problem = prob_dict(
        [node("a", {"cpu": 4}, cost=2), node("b", {"cpu": 4}, cost=3)],
        [task("t", {"cpu": 3}, replicas=2)],
        objective={"weights": {"unplaced": 100, "cost": 1}},
    )
    path = write_problem(tmp_path / "problem.json", problem)
    solved = cli("solve", str(path), "-s", "cpsat", "-t", "10", "-o", str(tmp_path / "p.json"))
    assert solved.exit_code == 0, solved.stderr
    data = json.loads((tmp_path / "p.json").read_text())
    assert "weighted" in data["solver"]["bound"]
    assert cli("check", str(path), str(tmp_path / "p.json")).exit_code == 0
    data["solver"]["bound"]["weighted"] = data["solver"]["fitness"] + 1
    (tmp_path / "p.json").write_text(json.dumps(data))
    lie = cli("check", str(path), str(tmp_path / "p.json"))
    assert lie.exit_code == 1
    assert "bound weighted: the plan states a lower bound" in lie.stdout + lie.stderr
