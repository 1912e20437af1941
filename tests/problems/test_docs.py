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
