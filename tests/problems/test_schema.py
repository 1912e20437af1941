"""The JSON Schema printed by `taskalloc schema` accepts every valid problem and rejects the
schema-level defects, so editors' YAML plug-ins flag what `validate` flags."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from taskalloc.cli.app import app
from taskalloc.problems.generate import generate
from tests.helpers import EXAMPLES as EXAMPLE_DIR

EXAMPLES = sorted(EXAMPLE_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(validator, path: Path) -> None:
    validator.validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("scheduling", [False, True])
def test_generated_problems_are_valid(validator, scheduling: bool) -> None:
    validator.validate(generate(40, 8, scheduling=scheduling, seed=5, resources=5))


def test_extension_keys_are_allowed(validator) -> None:
    doc = {
        "taskalloc": 1,
        "x-owner": "ml-platform",
        "nodes": [{"id": "a", "capacity": {"cpu": 4}, "x-rack": 3}],
        "tasks": [{"id": "t", "demand": {"cpu": 1}, "x-ticket": "OPS-1"}],
        "objective": {"lexicographic": ["unplaced"], "x-why": "default"},
    }
    validator.validate(doc)


@pytest.mark.parametrize(
    "defect",
    [
        {"tasks": [{"id": "t", "demand": {"cpu": -1}}]},
        {"tasks": [{"id": "t", "demnad": {"cpu": 1}}]},
        {"tasks": [{"id": "bad id", "demand": {"cpu": 1}}]},
        {"tasks": [{"id": "t", "replicas": 0}]},
        {"nodes": [{"id": "a", "speed": 0}]},
        {"objective": {"lexicographic": ["costs"]}},
        {"taskalloc": 2},
        # revision 2
        {"nodes": [{"id": "a", "capacity": {"gpu": 2}, "devices": {"gpu": 0}}]},
        {"nodes": [{"id": "a", "capacity": {"gpu": 2}, "devices": {"gpu": 1.5}}]},
        {"tasks": [{"id": "t", "spread": {"key": "zone", "max_skew": 0}}]},
        {"tasks": [{"id": "t", "spread": {"max_skew": 1}}]},
        {"tasks": [{"id": "t", "service": "yes"}]},
        {"tasks": [{"id": "t", "current": [1]}]},
        {"gangs": {"g": {"same_start": True, "together": True}}},
    ],
)
def test_schema_level_defects_are_rejected(validator, defect: dict) -> None:
    doc = {"taskalloc": 1, "nodes": [{"id": "a"}], "tasks": [{"id": "t"}], **defect}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_revision_2_fields_are_in_the_schema(validator) -> None:
    doc = {
        "taskalloc": 1,
        "horizon": 100,
        "nodes": [{"id": "g", "capacity": {"gpu": 8}, "devices": {"gpu": 8}, "labels": {"z": "a"}}],
        "gangs": {"train": {"same_start": True}},
        "tasks": [
            {"id": "t", "gang": "train", "duration": 5, "spread": {"key": "z"}, "current": ["g"]},
            {"id": "s", "service": True, "current": "g"},
        ],
    }
    validator.validate(doc)
