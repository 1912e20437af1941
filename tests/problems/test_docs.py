"""docs/format.md documents every field of the format, and its examples are valid."""

from __future__ import annotations

import re

import pytest
import yaml

from taskalloc.problems import problem_from_dict
from taskalloc.problems.spec import (
    TERMS,
    GangSpec,
    NodeSpec,
    ObjectiveSpec,
    ProblemSpec,
    SpreadSpec,
    TaskSpec,
)
from tests.helpers import ROOT

DOC = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "model", [ProblemSpec, NodeSpec, TaskSpec, ObjectiveSpec, GangSpec, SpreadSpec]
)
def test_every_field_is_documented(model):
    missing = [f for f in model.model_fields if f"`{f}`" not in DOC]
    assert not missing


def test_every_term_is_documented():
    assert all(f"| `{t}` |" in DOC for t in TERMS)


def test_the_first_problem_is_valid():
    block = re.search(r"```yaml\n(taskalloc: 1\n.*?)```", DOC, re.S)
    assert block is not None
    problem = problem_from_dict(yaml.safe_load(block.group(1)))
    assert [n.id for n in problem.nodes] == ["a100-1", "a100-2", "cpu"]


def test_the_readme_links_it():
    assert "(docs/format.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def _rows(section: str) -> list[tuple[str, str, str]]:
    """(key, default, example) of each row of a section's table: key | default | meaning |
    example."""
    body = DOC.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in body.splitlines():
        m = re.fullmatch(r"\| `(\w+)` \| (.+?) \| .+ \| `(.+)` \|", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def _base() -> dict:
    return {
        "taskalloc": 1,
        "nodes": [
            {
                "id": "a100",
                "count": 2,
                "capacity": {"cpu": 64, "memory": 512, "gpu": 8},
                "labels": {"accel": "a100", "zone": "east"},
            },
            {"id": "cpu-1", "capacity": {"cpu": 32, "memory": 128}, "labels": {"zone": "west"}},
        ],
        "tasks": [
            {"id": "prep", "demand": {"cpu": 1}},
            {"id": "train", "demand": {"gpu": 1}, "gang": "dist-train"},
        ],
    }


@pytest.mark.parametrize(
    ("section", "model"), [("Top level", ProblemSpec), ("Nodes", NodeSpec), ("Tasks", TaskSpec)]
)
def test_every_field_has_a_default_and_an_example_that_loads(section: str, model) -> None:
    """Each field's row in the tables of docs/format.md: its default, and an example that
    is valid YAML for that very key and loads as part of a problem."""
    rows = _rows(section)
    assert [key for key, _, _ in rows] == list(model.model_fields)
    for key, default, example in rows:
        assert default.strip(), key
        value = yaml.safe_load(example)
        assert isinstance(value, dict) and list(value) == [key], example
        data = _base()
        if section == "Top level":
            data.update(value)
        elif section == "Nodes":
            data["nodes"] = [
                data["nodes"][1],
                {"id": "n", "capacity": {"cpu": 64, "memory": 512, "gpu": 8}, **value},
            ]
        else:
            data["tasks"].append({"id": "t", "demand": {"cpu": 1}, "replicas": 2, **value})
        problem_from_dict(data)  # InputError names the example that does not load


def test_every_engine_option_is_in_the_architecture_table() -> None:
    """docs/architecture.md's table of engines names every field of each ``ENGINE.Options``
    (README: "docs/architecture.md lists them"; cpsat's ``floor`` was once missing)."""
    import dataclasses

    from taskalloc.solvers import ENGINES, load_engine

    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in ENGINES:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}` |"))
        options = load_engine(name).Options
        assert options is not None
        for field in dataclasses.fields(options):
            assert f"`{field.name}`" in row, (name, field.name)
