"""The public Python API (``import taskalloc``): the names it promises, typed and documented,
cheap to import, and the walk-through of docs/python-api.md run cell by cell."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tomllib

import pytest

import taskalloc
from tests.helpers import EXAMPLES, ROOT

#: the public names, versioned: adding one is a feature, removing or renaming one breaks users
PUBLIC = [
    "ENGINES",
    "Assignment",
    "InputError",
    "OptionError",
    "Plan",
    "Point",
    "Problem",
    "Result",
    "SolverUnavailable",
    "Status",
    "__version__",
    "check",
    "load",
    "pareto",
    "read_plan",
    "report",
    "solve",
    "write_plan",
]


def test_the_public_names() -> None:
    assert sorted(taskalloc.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(taskalloc, name) is not None
    assert set(taskalloc.ENGINES) == {"cpsat", "mip", "ga", "greedy"}
    with pytest.raises(AttributeError):
        _ = taskalloc.nothing_here  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name", ["check", "load", "pareto", "read_plan", "report", "solve", "write_plan"]
)
def test_functions_are_typed_and_documented(name: str) -> None:
    fn = getattr(taskalloc, name)
    assert inspect.getdoc(fn), name
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty, name
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, (name, p.name)


def test_types_are_documented() -> None:
    for name in ("Problem", "Plan", "Result", "Assignment", "Point"):
        assert inspect.getdoc(getattr(taskalloc, name)), name


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
    assert "polcy: not an option of engine greedy (did you mean policy?" in out
