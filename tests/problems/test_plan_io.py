"""Plan files: YAML/JSON round trips, and located errors for malformed plans."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from taskalloc.problems.plan import (
    Assignment,
    Plan,
    SolverInfo,
    Status,
    Unplaced,
    dumps,
    json_dumps,
    plan_from_text,
    read_plan,
)
from taskalloc.problems.source import InputError
from tests.helpers import EXAMPLES, asg, make, node, prob, task


def _scheduling_plan() -> Plan:
    p = prob(
        [node("n", {"cpu": 10}, count=2, cost=1.5)],
        [
            task("a", {"cpu": 4}, duration=10, replicas=2, due=5),
            task("b", {"cpu": 4}, duration=3, after=["a"]),
            task("c", {"cpu": 40}, duration=1, required=False, priority=2.5),
        ],
    )
    plan = make(
        p,
        [asg("a", "n-1", 0, 0, 10), asg("a", "n-2", 1, 0, 10), asg("b", "n-1", 0, 10, 13)],
        Status.OPTIMAL,
    )
    plan.solver.bound = {"unplaced": 2.5, "makespan": 13}
    plan.solver.seconds = 1.23456
    plan.solver.seed = 7
    plan.problem_path = "problems/p.yaml"
    return plan


def _placement_plan() -> Plan:
    p = prob([node("n", {"cpu": 1}, count=2)], [task("t", {"cpu": 0.5}, replicas=2)])
    return make(p, [asg("t", "n-1", 0), asg("t", "n-2", 1)])


def _same(a: Plan, b: Plan) -> None:
    assert b.assignments == a.assignments
    assert b.unplaced == a.unplaced
    assert b.solver.status == a.solver.status
    assert b.solver.objective == pytest.approx(a.solver.objective)
    assert b.solver.bound == a.solver.bound
    assert b.solver.name == a.solver.name and b.solver.seed == a.solver.seed
    assert b.solver.fitness == pytest.approx(a.solver.fitness)
    assert b.problem_sha256 == a.problem_sha256
    assert b.problem_name == a.problem_name
    assert b.problem_path == a.problem_path
    assert b.infeasibility == a.infeasibility


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("build", [_scheduling_plan, _placement_plan])
def test_round_trip(tmp_path, fmt, build):
    plan = build()
    path = tmp_path / f"plan.{fmt}"
    path.write_text(plan.dumps(fmt), encoding="utf-8")
    back = read_plan(str(path))
    _same(plan, back)
    assert back.dumps(fmt) == plan.dumps(fmt)


def test_round_trip_keeps_unplaced_details_and_times():
    plan = _scheduling_plan()
    back = plan_from_text("p.yaml", plan.dumps("yaml").encode())
    (u,) = back.unplaced
    assert u.task == "c"
    assert u.reason == "needs cpu 40; the largest cpu on an allowed node is 10"
    assert u.details
    assert back.assignments[2] == Assignment("b", 0, "n-1", 10, 13)


def test_round_trip_infeasible_plan():
    plan = Plan(
        problem_name=None,
        problem_sha256="ab" * 32,
        solver=SolverInfo(name="greedy", status=Status.INFEASIBLE, seconds=0.0),
        assignments=[],
        unplaced=[Unplaced("t", "too big", ("node n: cpu 9 needed, 8 free",))],
        infeasibility=["p.yaml:3:4: tasks[0] (t).demand: needs cpu 9 on one node"],
    )
    for fmt in ("yaml", "json"):
        back = plan_from_text(f"p.{fmt}", plan.dumps(fmt).encode())
        _same(plan, back)
        assert back.solver.objective is None


def test_dumps_shapes():
    plan = _scheduling_plan()
    data = yaml.safe_load(plan.dumps())
    assert list(data)[:5] == ["taskalloc_plan", "problem", "solver", "assignments", "unplaced"]
    assert data["assignments"][0] == {
        "task": "a",
        "replica": 0,
        "node": "n-1",
        "start": 0,
        "end": 10,
    }
    assert data["solver"]["seconds"] == 1.2346
    assert json.loads(plan.dumps("json")) == data
    placement = yaml.safe_load(_placement_plan().dumps())
    assert placement["assignments"][0] == {"task": "t", "replica": 0, "node": "n-1"}
    with pytest.raises(ValueError):
        dumps({}, "toml")


def test_integral_floats_print_as_integers():
    data = json.loads(_placement_plan().dumps("json"))
    assert data["solver"]["objective"] == {"unplaced": 0, "cost": 0}
    assert isinstance(data["solver"]["objective"]["cost"], int)
    assert data["metrics"]["utilisation"]["n-1"] == {"cpu": 0.5}


# -- malformed plans ---------------------------------------------------------------------------

GOOD = """\
taskalloc_plan: 1
problem: {name: x, sha256: abc}
solver: {name: greedy, status: feasible, objective: {unplaced: 0}}
assignments:
  - {task: serve, replica: 0, node: a100-1}
unplaced: []
"""


def _errors(text: str, name: str = "plan.yaml") -> list[str]:
    with pytest.raises(InputError) as exc_info:
        plan_from_text(name, text.encode())
    return [str(d) for d in exc_info.value.diagnostics]


def test_good_plan_reads():
    plan = plan_from_text("plan.yaml", GOOD.encode())
    assert plan.assignments == [Assignment("serve", 0, "a100-1")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("unplaced: []\n", ""), ["plan.yaml:1:1: missing required key 'unplaced'"]),
        (
            GOOD.replace(", node: a100-1", ""),
            ["plan.yaml:5:5: assignments[0]: missing required key 'node'"],
        ),
        (
            GOOD.replace("replica: 0", "replica: -1"),
            ["plan.yaml:5:28: assignments[0].replica: must be >= 0, got -1"],
        ),
        (
            GOOD.replace("taskalloc_plan: 1", "taskalloc_plan: 2"),
            ["plan.yaml:1:17: taskalloc_plan: unsupported plan version 2"],
        ),
        (
            GOOD.replace(
                "assignments:\n  - {task: serve, replica: 0, node: a100-1}\n", "assignments: {}\n"
            ),
            ["plan.yaml:4:14: assignments: must be a list, got a mapping"],
        ),
        (
            GOOD.replace("problem: {name: x, sha256: abc}", "problem: {name: x}"),
            ["plan.yaml:2:10: problem: missing required key 'sha256'"],
        ),
        ("- task: a\n", ["plan.yaml:1:1: a plan file must be a mapping"]),
        (GOOD.replace("unplaced: []", "unplaced: [\n"), None),  # YAML syntax error, located
        (
            GOOD.replace("name: greedy,", "name: greedy, name: cpsat,"),
            ["plan.yaml:3:24: solver: duplicate key 'name'"],
        ),
    ],
    ids=[
        "missing-unplaced",
        "missing-node",
        "negative-replica",
        "version-2",
        "assignments-mapping",
        "missing-sha",
        "list",
        "yaml-syntax",
        "duplicate-key",
    ],
)
def test_malformed_plan(text, expected):
    errors = _errors(text)
    if expected is None:
        assert len(errors) == 1
        assert re.match(r"plan\.yaml:\d+:\d+: YAML syntax error: ", errors[0])
    else:
        assert errors == expected


def test_malformed_json_plan():
    text = json.dumps(yaml.safe_load(GOOD))[:-1]
    errors = _errors(text, "plan.json")
    assert len(errors) == 1
    assert errors[0].startswith("plan.json:1:")
    assert "JSON syntax error" in errors[0]


def test_bad_status_message():
    assert _errors(GOOD.replace("status: feasible", "status: done")) == [
        "plan.yaml:3:32: solver.status: must be 'optimal', 'feasible', 'infeasible' or "
        "'unknown', got 'done'"
    ]


def test_bad_integer_message():
    text = GOOD.replace("replica: 0, node: a100-1", "replica: x, node: a100-1, start: 1.5")
    assert _errors(text) == [
        "plan.yaml:5:28: assignments[0].replica: must be an integer, got 'x'",
        "plan.yaml:5:52: assignments[0].start: must be an integer, got 1.5",
    ]


def test_bad_status_is_located():
    """Whatever its wording, the error points at the status value."""
    (err,) = _errors(GOOD.replace("status: feasible", "status: done"))
    assert err.startswith("plan.yaml:3:32: solver.status: ")


def test_problem_file_as_plan():
    path = EXAMPLES / "inference-fleet.yaml"
    with pytest.raises(InputError) as exc_info:
        read_plan(str(path))
    (d,) = exc_info.value.diagnostics
    assert d.message == "this is a problem file, not a plan"
    assert d.file == str(path)
    assert d.line is not None


def test_missing_plan_file(tmp_path):
    with pytest.raises(InputError) as exc_info:
        read_plan(str(tmp_path / "nope.yaml"))
    assert str(exc_info.value) == f"{tmp_path / 'nope.yaml'}: no such file"


# -- the JSON writer's fast path -----------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),  # any character: quotes, braces, line breaks, non-ASCII
)
_json_like = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        # lists of mappings of scalars: the assignments' shape, written in one encoder call
        st.lists(st.dictionaries(st.text(max_size=6), _scalars, min_size=1, max_size=3)),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json_like)
def test_json_writer_is_json_dumps_indent_2(data: object) -> None:
    assert json_dumps(data) == json.dumps(data, indent=2)


@pytest.mark.parametrize(
    "data",
    [
        [{"a": "},\n      {"}, {"b": 1}],  # a separator's text inside a string
        [{"a": 1}, {}],  # an empty mapping among them: not the one-call path
        {1: [{"x": (1, 2)}], 2.5: (), None: {}, False: [[]]},  # keys json.dumps converts
        {"z": [{"a": [1]}, {"b": 2}]},
    ],
)
def test_json_writer_edge_cases(data: object) -> None:
    assert json_dumps(data) == json.dumps(data, indent=2)


def test_plan_json_is_what_json_dumps_writes() -> None:
    plan = _scheduling_plan()
    assert plan.dumps("json") == json.dumps(plan.to_dict(), indent=2) + "\n"


def test_a_plan_reads_in_an_80_column_terminal() -> None:
    """``problem`` one key a line (inline, its sha256 made a line of 110+ columns); every
    line of a plain plan fits 80 columns, and it reads back the same."""
    from tests.helpers import cli

    r = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "greedy", "-q")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("problem:")
    assert lines[at + 1] == "  name: inference-fleet"
    assert lines[at + 2].startswith("  sha256: ")
    assert max(len(x) for x in lines) <= 80
    data = yaml.safe_load(r.stdout)
    assert data["problem"]["path"].endswith("inference-fleet.yaml")
    assert plan_from_text("p.yaml", r.stdout.encode()).problem_sha256 == data["problem"]["sha256"]
