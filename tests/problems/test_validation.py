"""`taskalloc validate`: every broken file reports exactly its errors, located; proofs and warnings.

Broken files live in tests/data/broken with their exact stderr in expected.yaml; the command runs
in that folder with the bare file name, so the expected lines do not depend on where pytest runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from taskalloc.problems.problem import load_problem, prove_infeasible
from taskalloc.problems.source import MAX_ERRORS, InputError
from tests.helpers import DATA, EXAMPLES, cli, read

BROKEN = DATA / "broken"
INFEASIBLE = DATA / "infeasible"
WARNINGS = DATA / "warnings"

#: a terminal wide enough for every line of stderr to stay one line
WIDE = {"COLUMNS": "1000"}


def _expected(folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    doc = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    return doc["expected"], doc.get("bugs") or {}


def _cases(folder: Path) -> list[Any]:
    expected, bugs = _expected(folder)
    out = []
    for name in sorted(expected):
        marks = [pytest.mark.xfail(strict=True, reason=bugs[name])] if name in bugs else []
        out.append(pytest.param(name, expected[name], id=name, marks=marks))
    return out


def _problem_files(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.suffix in (".yaml", ".json") and p.stem != "expected"
    )


# -- broken files ----------------------------------------------------------------------------


def test_every_broken_file_has_expected_lines():
    expected, bugs = _expected(BROKEN)
    assert set(expected) == set(_problem_files(BROKEN))
    assert set(bugs) <= set(expected)
    assert len(expected) >= 25


@pytest.mark.parametrize(("name", "lines"), _cases(BROKEN))
def test_broken_file_reports_exact_errors(name, lines, monkeypatch):
    monkeypatch.chdir(BROKEN)
    result = cli("validate", name)
    assert result.stdout == ""
    assert result.stderr.splitlines() == lines
    assert result.exit_code == 2


def test_broken_file_with_several_errors_reports_all():
    expected, _ = _expected(BROKEN)
    lines = expected["several-errors.yaml"]
    assert len(lines) == 4  # schema errors of nodes and of two tasks, in file order
    lines = expected["several-reference-errors.yaml"]
    assert len(lines) == 4  # cross-reference errors of two tasks and a duplicate id


def test_schema_and_reference_errors_are_reported_in_one_pass():
    """A broken entity is left out of the reference checks, which still run on the others: a
    user fixes every error at once (not 2 now, 3 more after the fix), and a reference to a
    broken entity is not reported as unknown (it has its own error)."""
    expected, _ = _expected(BROKEN)
    lines = expected["one-pass.yaml"]
    assert any("must be >= 0" in line for line in lines)  # schema, node l4
    assert any("unknown key 'replica'" in line for line in lines)  # schema, task train
    assert any("unknown node or pool 'a10'" in line for line in lines)  # reference
    assert any("unknown task 'trian'; did you mean 'train'?" in line for line in lines)
    assert not any("(embed).nodes" in line or "(embed).after" in line for line in lines)


def test_pydantic_prefixes_never_leak():
    every = [line for lines in _expected(BROKEN)[0].values() for line in lines]
    assert not [line for line in every if "Value error" in line or "Assertion failed" in line]


def test_many_errors_are_capped_with_a_count_of_the_rest(monkeypatch):
    monkeypatch.chdir(BROKEN)
    result = cli("validate", "many-errors.yaml")
    lines = result.stderr.splitlines()
    assert result.exit_code == 2
    assert len(lines) == MAX_ERRORS + 1
    assert lines[-1] == "... and 10 more errors"
    assert lines[0] == "many-errors.yaml:7:19: tasks[0] (job-00).demand.cpu: must be >= 0, got -1"
    assert lines[MAX_ERRORS - 1].startswith("many-errors.yaml:105:19: tasks[49] (job-49)")


def test_input_error_carries_located_diagnostics():
    with pytest.raises(InputError) as exc_info:
        load_problem(str(BROKEN / "many-errors.yaml"))
    err = exc_info.value
    assert err.total == 60
    assert len(err.diagnostics) == MAX_ERRORS
    d = err.diagnostics[3]
    assert (d.line, d.column, d.where) == (13, 19, "tasks[3] (job-03).demand.cpu")
    assert d.message == "must be >= 0, got -4"
    assert str(err).splitlines()[-1] == "... and 10 more errors"


def test_path_is_echoed_as_given():
    path = str(BROKEN / "negative-demand.yaml")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:15:41: tasks[3] (train-llm).demand.gpu: ")


def test_stdin_is_named_stdin():
    text = (BROKEN / "count-zero.yaml").read_text()
    result = cli("validate", "-", input=text)
    assert result.exit_code == 2
    assert result.stderr == "<stdin>:4:12: nodes[0] (a100).count: must be >= 1, got 0\n"


def test_missing_file_is_bad_input(tmp_path):
    path = str(tmp_path / "nope.yaml")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}: no such file\n"


def test_directory_is_bad_input(tmp_path):
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path}: is a directory\n"


def test_not_utf8_is_bad_input(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("taskalloc: 1\nname: caf\xe9\n".encode("latin-1"))
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:2:10: not UTF-8 text (invalid continuation byte")


# -- infeasibility proofs (exit 3) -------------------------------------------------------------


def test_every_infeasible_file_has_expected_lines():
    expected, _ = _expected(INFEASIBLE)
    assert set(expected) == set(_problem_files(INFEASIBLE))


@pytest.mark.parametrize(("name", "lines"), _cases(INFEASIBLE))
def test_infeasible_file_is_proven(name, lines, monkeypatch):
    monkeypatch.chdir(INFEASIBLE)
    result = cli("validate", name, env=WIDE)  # a line each (at 80 columns, broken at words)
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert err[0].startswith(f"{name}: valid ")
    assert err[1] == "infeasible: no plan can exist:"
    assert err[2:] == lines
    assert result.exit_code == 3


def test_proofs_are_located_diagnostics():
    proofs = prove_infeasible(read("infeasible/too-many-replicas.yaml"))
    assert len(proofs) == 1
    assert (proofs[0].line, proofs[0].column) == (12, 15)
    assert proofs[0].where == "tasks[0] (llama-serve).replicas"


def test_optional_task_alone_is_not_proven_infeasible():
    """The same oversized task, with no required task depending on it, is simply left out."""
    problem = read("infeasible/optional-made-required.yaml")
    assert prove_infeasible(problem)  # required `train` depends on it
    from tests.helpers import node, prob, task

    alone = prob(
        [node("cpu", {"cpu": 16})],
        [task("big-prep", {"cpu": 32}, duration=10, required=False)],
    )
    assert prove_infeasible(alone) == []


# -- warnings (exit 0) -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "lines"), _cases(WARNINGS))
def test_warnings_do_not_fail_validation(name, lines, monkeypatch):
    monkeypatch.chdir(WARNINGS)
    result = cli("validate", name, env=WIDE)
    assert result.exit_code == 0
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert err[:-1] == lines
    assert err[-1].startswith(f"{name}: valid placement problem: ")


def test_resource_warning_is_located():
    """The warning itself (whatever its hint) names the task, the resource and the key."""
    problem = read("warnings/resource-offered-by-no-node.yaml")
    assert len(problem.warnings) == 1
    w = problem.warnings[0]
    assert (w.line, w.column, w.where) == (9, 22, "tasks[1] (infer).demand.gpu")
    assert w.message.startswith("no node offers resource 'gpu'")


def test_quiet_silences_warnings(monkeypatch):
    monkeypatch.chdir(WARNINGS)
    result = cli("--quiet", "validate", "scheduling-field-in-placement.yaml")
    assert result.exit_code == 0
    assert result.stderr == ""


# -- valid files -----------------------------------------------------------------------------

VALID = sorted([*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("*.json"), *(DATA / "valid").iterdir()])


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_files_validate(path):
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "warning" not in result.stderr
    # a long path (a deep checkout) wraps the line at a space: compare words, not lines
    assert " ".join(result.stderr.split()).startswith(f"{path}: valid ")


def test_examples_exist():
    assert len(list(EXAMPLES.glob("*.yaml"))) >= 3


def test_extension_keys_pools_and_member_keys():
    p = read("valid/extensions-and-pools.yaml")
    gpu1, gpu2, cpu = (p.node_index[n] for n in ("gpu-1", "gpu-2", "cpu"))
    serve = p.tasks[p.task_index["serve"]]
    assert serve.allowed == (gpu1, gpu2)  # labels compared as strings: gen 3 ~ "3", spot ~ "true"
    assert serve.cost_at(gpu1) == 2 and serve.cost_at(gpu2) == 1  # member key wins
    assert dict(serve.demand_at(gpu2)) == {"cpu": 2, "gpu": 1}
    assert dict(serve.demand_at(gpu1)) == {"cpu": 4, "gpu": 1}
    etl = p.tasks[p.task_index["etl"]]
    assert etl.current == frozenset({cpu})
    assert p.objective.kind == "weights"
    assert dict(p.objective.weights) == {"unplaced": 100, "cost": 1, "moves": 5}
    assert "x-vram" in p.resources  # names in capacity maps may start with x-


def test_scheduling_json_defaults_and_overrides():
    p = read("valid/scheduling.json")
    assert p.scheduling
    train = p.tasks[p.task_index["train"]]
    durations = {n.id: train.duration_at(n) for n in p.nodes}
    assert durations == {"h100-1": 40, "h100-2": 45, "l4": 200}
    assert p.objective.terms == ("unplaced", "tardiness", "makespan")


def test_default_objectives():
    assert read("warnings/scheduling-field-in-placement.yaml").objective.terms == (
        "unplaced",
        "cost",
    )
    assert read("infeasible/chain-past-horizon.yaml").objective.terms == ("unplaced", "makespan")
