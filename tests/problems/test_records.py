"""Task entries validated in bulk (problems/records.py) accept exactly what the TaskSpec model
accepts (x- keys aside: those go the model's way), with the same values; a file compiles to the
same problem, warnings and errors whichever way its tasks were validated."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from taskalloc.problems import compiler
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.problems.records import TASKS, TaskRecord, records
from taskalloc.problems.source import InputError
from taskalloc.problems.spec import TaskSpec
from tests.fuzzing import MUTATIONS

ROOT = Path(__file__).resolve().parents[2]


def _problems() -> list[dict[str, Any]]:
    out = [
        yaml.safe_load(p.read_text())
        for p in [
            *sorted((ROOT / "examples").glob("*.yaml")),
            *(ROOT / "tests/data/valid").glob("*"),
        ]
    ]
    out.append(generate(40, 8, scheduling=True, seed=3, devices=True, zones=True, services=True))
    out.append(generate(40, 8, scheduling=True, seed=4, zones=True, same_start=True))
    out.append(generate(40, 8, seed=6, devices=True, zones=True))
    out.append(generate(60, 10, seed=5))
    return out


PROBLEMS = _problems()
ENTRIES = [t for p in PROBLEMS for t in p["tasks"]]


def _has_extension(entry: Any) -> bool:
    return isinstance(entry, dict) and any(isinstance(k, str) and k.startswith("x-") for k in entry)


def _both(entry: Any) -> tuple[TaskSpec | None, TaskRecord | None]:
    try:
        model = TaskSpec.model_validate(entry)
    except ValidationError:
        model = None
    try:
        (record,) = records(TASKS.validate_python([entry]))
    except ValidationError:
        record = None
    return model, record


def _same_fields(model: TaskSpec, record: TaskRecord) -> None:
    for name in TaskSpec.model_fields:
        mine, theirs = getattr(record, name), getattr(model, name)
        assert mine == theirs, name
        assert type(mine) is type(theirs), name
        if isinstance(mine, dict):
            assert list(mine) == list(theirs), name  # key order: resources, pools, ...
    assert set(record.model_fields_set) == set(model.model_fields_set)


def test_the_entries_of_every_sample_read_as_their_models() -> None:
    assert len(ENTRIES) > 150
    for entry in ENTRIES:
        model, record = _both(entry)
        if _has_extension(entry):
            assert model is not None and record is None
            continue
        assert model is not None and record is not None, entry
        _same_fields(model, record)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(rng=st.randoms(use_true_random=False))
def test_a_mutated_entry_is_accepted_by_both_or_by_neither(rng: random.Random) -> None:
    entry = copy.deepcopy(rng.choice(ENTRIES))
    for _ in range(rng.choice([1, 1, 2, 3])):
        rng.choice(MUTATIONS)(rng, entry)
    model, record = _both(entry)
    if record is not None:
        assert model is not None, entry
        _same_fields(model, record)
    elif model is not None:
        assert _has_extension(entry), entry


def test_a_bad_entry_fails_the_whole_list() -> None:
    good = {"id": "a", "demand": {"cpu": 1}}
    with pytest.raises(ValidationError):
        TASKS.validate_python([good, {"id": "b", "demand": {"cpu": -1}}])
    with pytest.raises(ValidationError):
        TASKS.validate_python([])
    (record,) = records(TASKS.validate_python([good]))
    assert record.replicas == 1 and record.priority == 1.0 and record.nodes is None
    assert record.after == [] and record.demand_on == {} and record.spread is None
    assert set(record.model_fields_set) == {"id", "demand"}


def _compiled(data: dict[str, Any], bulk: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    """The compiled problem (every task field), its warnings and proofs, or its errors."""
    if not bulk:
        monkeypatch.setattr(compiler, "_bulk_parts", lambda raw: None)
    try:
        p = problem_from_dict(data)
    except InputError as exc:
        return "error: " + str(exc)
    finally:
        monkeypatch.undo()
    tasks = [repr(t) for t in p.tasks]
    return json.dumps([tasks, repr(p.nodes), p.resources, [str(w) for w in p.warnings]])


@pytest.mark.parametrize("i", range(len(PROBLEMS)))
def test_a_problem_compiles_the_same_either_way(i: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = PROBLEMS[i]
    assert _compiled(data, True, monkeypatch) == _compiled(data, False, monkeypatch)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rng=st.randoms(use_true_random=False))
def test_a_mutated_problem_compiles_or_fails_the_same_either_way(rng: random.Random) -> None:
    data = copy.deepcopy(rng.choice(PROBLEMS))
    task = rng.choice(data["tasks"])
    rng.choice(MUTATIONS)(rng, task if rng.random() < 0.8 else data)
    with pytest.MonkeyPatch.context() as mp:
        bulk = _compiled(data, True, mp)
    with pytest.MonkeyPatch.context() as mp:
        model = _compiled(data, False, mp)
    assert bulk == model


def test_extension_keys_on_tasks_take_the_models_way() -> None:
    data = {
        "taskalloc": 1,
        "nodes": [{"id": "n", "capacity": {"cpu": 4}}],
        "tasks": [{"id": "a", "demand": {"cpu": 1}, "x-team": "ml"}, {"id": "b"}],
    }
    p = problem_from_dict(data)
    assert [t.id for t in p.tasks] == ["a", "b"]
    assert p.to_dict()["tasks"][0]["x-team"] == "ml"
