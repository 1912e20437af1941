"""A problem from Python: ProblemBuilder, Problem.replace, to_dict/to_yaml round trips."""

from __future__ import annotations

import pytest

from taskalloc.problems import InputError, ProblemBuilder, problem_from_dict
from taskalloc.problems.compiler import build_problem
from taskalloc.problems.source import parse
from tests.helpers import EXAMPLES, read


def fleet() -> ProblemBuilder:
    b = ProblemBuilder("fleet", horizon=300, x_owner="ml-platform")
    g2 = b.add_node(
        "g2", {"cpu": 96, "gpu": 8}, count=2, labels={"zone": "a"}, devices={"gpu": 8}, cost=3
    )
    cpu = b.add_node("cpu", {"cpu": 64}, labels={"zone": "b"})
    prep = b.add_task("prep", {"cpu": 8}, nodes=[cpu], duration=20)
    b.add_task("train", {"gpu": 8}, nodes=[g2], after=[prep], duration=120, gang="dist")
    b.add_task("eval", {"gpu": 1}, nodes=[g2], duration=120, gang="dist", current=["g2-1"])
    b.add_task("api", {"cpu": 2}, service=True, replicas=2, spread={"key": "zone"})
    b.add_gang("dist", same_start=True)
    b.set_objective(lexicographic=["unplaced", "makespan"])
    return b


def test_builder_makes_the_problem_a_file_would():
    b = fleet()
    p = b.build()
    assert [n.id for n in p.nodes] == ["g2-1", "g2-2", "cpu"]
    assert [t.id for t in p.tasks] == ["prep", "train", "eval", "api"]
    assert p.tasks[1].after == (0,) and p.tasks[1].allowed == (0, 1)
    assert p.same_start == {"dist"}
    assert p.features == {"devices", "same_start", "service", "spread", "current_list"}
    assert p.objective.terms == ("unplaced", "makespan")
    data = b.to_dict()
    assert data["x-owner"] == "ml-platform"
    same = problem_from_dict(data)
    assert same.to_dict() == p.to_dict() == data


def test_builder_checks_each_entity_at_once():
    b = ProblemBuilder("fleet")
    with pytest.raises(InputError) as exc:
        b.add_node("a100", {"gpu": -1}, count=0)
    assert str(exc.value).splitlines() == [
        "fleet: nodes[0] (a100).count: must be >= 1, got 0",
        "fleet: nodes[0] (a100).capacity.gpu: must be >= 0, got -1",
    ]
    with pytest.raises(TypeError, match="extension keys start with x_"):
        b.add_task("t", owner="me")


def test_builder_reports_every_cross_reference_error_on_build():
    b = ProblemBuilder()
    b.add_node("n", {"cpu": 4})
    b.add_task("a", {"cpu": 1}, after=["b"], nodes=["m"])
    b.add_gang("unused")
    with pytest.raises(InputError) as exc:
        b.build()
    assert sorted(str(exc.value).splitlines()) == [
        "<builder>: gangs.unused: gang 'unused' is not used by any task",
        "<builder>: tasks[0] (a).after[0]: unknown task 'b'",
        "<builder>: tasks[0] (a).nodes[0]: unknown node or pool 'm'",
    ]


def test_replace_makes_a_new_validated_problem():
    p = fleet().build()
    q = p.replace(horizon=500, tasks={"train": {"duration": 60}, "eval": None})
    assert (p.horizon, q.horizon) == (300, 500)
    assert [t.id for t in q.tasks] == ["prep", "train", "api"]
    assert q.tasks[1].duration == 60 and p.tasks[1].duration == 120
    smaller = p.replace(nodes={"g2": {"count": 1}}, tasks={"eval": {"current": None}})
    assert [n.id for n in smaller.nodes] == ["g2", "cpu"]
    with pytest.raises(InputError, match=r"<replace>: tasks\[1\] \(train\).nodes\[0\]"):
        p.replace(nodes={"g2": None})
    with pytest.raises(KeyError, match="no task with id 'nope'"):
        p.replace(tasks={"nope": {"priority": 2}})
    whole = p.replace(tasks=[{"id": "only", "demand": {"cpu": 1}}], gangs=None, objective=None)
    assert [t.id for t in whole.tasks] == ["only"] and not whole.scheduling


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_round_trip_through_to_dict_and_to_yaml(path):
    p = read(f"examples/{path.name}")
    again = problem_from_dict(p.to_dict())
    assert again.to_dict() == p.to_dict()
    assert [t.allowed for t in again.tasks] == [t.allowed for t in p.tasks]
    assert again.features == p.features
    text = p.to_yaml()
    reread = build_problem(parse("again.yaml", text.encode()))
    assert reread.to_dict() == p.to_dict()
    json_again = build_problem(parse("again.json", p.to_json().encode()))
    assert json_again.to_dict() == p.to_dict()
