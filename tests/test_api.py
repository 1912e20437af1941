"""The public Python API (``import taskalloc``): the names it promises, typed and documented,
cheap to import, and the walk-through of docs/python-api.md run cell by cell."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import taskalloc
from tests.helpers import EXAMPLES, ROOT

#: the public names, versioned: adding one is a feature, removing or renaming one breaks users
PUBLIC = [
    "ENGINES",
    "Assignment",
    "CheckReport",
    "InputError",
    "OptionError",
    "Plan",
    "PlanState",
    "Point",
    "Problem",
    "ProblemBuilder",
    "ReplanError",
    "Replanned",
    "Result",
    "Simulation",
    "SolverUnavailable",
    "Status",
    "Violation",
    "WhatIf",
    "__version__",
    "check",
    "load",
    "pareto",
    "read_plan",
    "replan",
    "report",
    "simulate",
    "solve",
    "whatif",
    "write_plan",
]


def test_the_public_names() -> None:
    assert sorted(taskalloc.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(taskalloc, name) is not None
    assert set(taskalloc.ENGINES) == {"cpsat", "mip", "ga", "greedy", "devplan"}
    with pytest.raises(AttributeError):
        _ = taskalloc.nothing_here  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name", ["check", "load", "pareto", "read_plan", "report", "simulate", "solve", "write_plan"]
)
def test_functions_are_typed_and_documented(name: str) -> None:
    fn = getattr(taskalloc, name)
    assert inspect.getdoc(fn), name
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty, name
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, (name, p.name)


def test_types_are_documented() -> None:
    for name in (
        "Problem",
        "ProblemBuilder",
        "Plan",
        "PlanState",
        "Result",
        "Simulation",
        "Assignment",
        "Point",
        "CheckReport",
        "Violation",
        "Replanned",
        "WhatIf",
    ):
        doc = inspect.getdoc(getattr(taskalloc, name))
        # a dataclass without a docstring gets its signature as one: that documents nothing
        assert doc and not doc.startswith(f"{name}("), name
    for method in ("replace", "to_dict", "to_yaml", "to_json"):
        assert inspect.getdoc(getattr(taskalloc.Problem, method)), method
    for method in ("add", "remove", "violations"):
        assert inspect.getdoc(getattr(taskalloc.PlanState, method)), method
    assert inspect.getdoc(taskalloc.Simulation.to_plan)


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "pkg" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in config["package-data"]["taskalloc"]


def test_import_taskalloc_stays_cheap() -> None:
    code = (
        "import sys, taskalloc;"
        "print(','.join(m for m in ('numpy', 'pydantic', 'ortools', 'pyomo', 'deap', 'rich')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_flow_on_a_file() -> None:
    problem = taskalloc.load(EXAMPLES / "inference-fleet.yaml")
    result = taskalloc.solve(problem, "greedy")
    assert result.status == taskalloc.Status.FEASIBLE
    assert taskalloc.check(problem, result).ok  # a Result is made into its plan
    table = taskalloc.report(problem, result)
    assert "Utilisation" in table and "fleet" in table
    with pytest.raises(ValueError, match="fmt: 'pdf' is not one of"):
        taskalloc.report(problem, result, "pdf")  # type: ignore[arg-type]


def test_report_views_and_html_from_python() -> None:
    """The views and the HTML report of `taskalloc report`, as a library call: the same text
    as the command's (the renderers are taskalloc.views and taskalloc.html)."""
    problem = taskalloc.load(EXAMPLES / "gpu-cluster.yaml")
    result = taskalloc.solve(problem, "greedy")
    plan = result.to_plan(problem)
    nodes = taskalloc.report(problem, plan, "dict", view="nodes")
    assert {n["node"] for n in nodes["nodes"]} == {n.id for n in problem.nodes}
    assert any("devices" in n for n in nodes["nodes"])
    both = taskalloc.report(problem, plan, "json", view="nodes,tasks")
    assert list(json.loads(both)) == ["nodes", "tasks"]
    assert taskalloc.report(problem, plan, "dict") == json.loads(
        taskalloc.report(problem, plan, "json")
    )
    gantt = taskalloc.report(problem, plan, view=["schedule"])
    assert gantt.startswith("Schedule") and "makespan 280" in gantt
    with pytest.raises(taskalloc.OptionError, match="view: unknown view 'gant'"):
        taskalloc.report(problem, plan, view="gant")
    with pytest.raises(taskalloc.OptionError, match="format: csv holds one view"):
        taskalloc.report(problem, plan, "csv", view=["nodes", "tasks"])
    page = taskalloc.report(problem, plan, "html")
    assert page.startswith("<!DOCTYPE html>") and 'data-chart="devices"' in page
    placement = taskalloc.load(EXAMPLES / "inference-fleet.yaml")
    with pytest.raises(taskalloc.OptionError, match="this is a placement problem"):
        taskalloc.report(placement, taskalloc.solve(placement, "greedy"), view="schedule")


def test_report_renderers_stay_lazy() -> None:
    """The report modules import no matplotlib, numpy or rich until they draw."""
    code = (
        "import sys, taskalloc.views, taskalloc.html, taskalloc.charts;"
        "print(','.join(m for m in ('matplotlib', 'numpy', 'rich', 'ortools') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def test_python_api_page_runs_cell_by_cell(capsys: pytest.CaptureFixture[str]) -> None:
    """Every ```python block of docs/python-api.md, in order, in one namespace."""
    page = (ROOT / "docs" / "python-api.md").read_text()
    cells = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(cells) >= 6
    namespace: dict[str, object] = {}
    for i, cell in enumerate(cells):
        exec(compile(cell, f"docs/python-api.md cell {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "better plan: cpsat" in out
    assert "replicaz: unknown key" in out
    assert "(negative).demand.cpu: must be >= 0, got -1" in out
    assert "13 nodes; the original still has 14" in out
    assert "train-0 runs on a100-" in out and "report.html" in out
    assert "allowed: train-0: node cpu-1 is not allowed" in out
    assert "capacity: node cpu-1: gpu load 2 > capacity 0" in out
    assert "polcy: not an option of engine greedy (did you mean policy?" in out


def test_format_page_python_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The "From Python" block of docs/format.md uses the public names and runs."""
    page = (ROOT / "docs" / "format.md").read_text()
    (cell,) = re.findall(r"```python\n(.*?)```", page, re.S)
    namespace: dict[str, object] = {}
    exec(compile(cell, "docs/format.md", "exec"), namespace)
    same = namespace["same"]
    assert isinstance(same, taskalloc.Problem)
    assert [t.replicas for t in same.tasks] == [1, 2]
    assert "replicas: 2" in capsys.readouterr().out


def test_readme_python_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's "Python API" block, as written, in a directory holding what it names: the
    fleet.yaml that the README's first commands generate (smaller here) and examples/."""
    from tests.helpers import cli

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    cell = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    made = cli("generate", "--tasks", "20", "--nodes", "5", "--seed", "7", "-o", "fleet.yaml")
    assert made.exit_code == 0, made.stderr
    (tmp_path / "examples").symlink_to(EXAMPLES)
    exec(compile(cell, "README.md, Python API", "exec"), {})
    out = capsys.readouterr().out
    assert "# Plan report" in out and "queue fifo" in out
    for name in ("report.html", "plan.yaml", "online.yaml"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_errors_of_plain_data_name_no_line_of_a_text_no_one_wrote() -> None:
    data = {
        "taskalloc": 1,
        "nodes": [{"id": "n", "capacity": {"cpu": 4}}],
        "tasks": [{"id": "typo", "demand": {"cpu": 1}, "replicaz": 2}],
    }
    with pytest.raises(taskalloc.InputError) as exc:
        taskalloc.load(data, name="fleet")
    assert str(exc.value) == (
        "fleet: tasks[0] (typo).replicaz: unknown key 'replicaz'; did you mean 'replicas'?"
    )
