"""Small builders and loaders shared by the tests.

``prob(nodes=[...], tasks=[...], **kw)`` compiles a problem from plain data, ``node``/``task``
build the entries, ``asg`` builds an assignment, ``read(name)`` loads a file under tests/data
(cached) and ``cli(...)`` runs the typer app in-process.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from taskalloc.problems.plan import Assignment, Plan, SolverInfo, Status
from taskalloc.problems.problem import Problem, load_problem, problem_from_dict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"


def find_shared() -> Path | None:
    """The shared folder (the format spec, the reference checker, public benchmarks):
    ``$TASKALLOC_SHARED`` when set, else a ``shared`` folder beside the repository or beside
    one of its parents (CI clones the repository beside it). None when there is none."""
    given = os.environ.get("TASKALLOC_SHARED")
    if given:
        return Path(given) if Path(given).is_dir() else None
    for parent in ROOT.parents:
        candidate = parent / "shared"
        if (candidate / "spec").is_dir() or (candidate / "benchmarks").is_dir():
            return candidate
    return None


SHARED = find_shared()
#: why tests that need ../shared are skipped (shown by pytest -rs)
NO_SHARED = (
    "no shared folder beside the repository or its parents (set TASKALLOC_SHARED to its path)"
)
REFERENCE_CHECKER = SHARED / "hooks" / "reference_check.py" if SHARED else None
HAS_REFERENCE_CHECKER = REFERENCE_CHECKER is not None and REFERENCE_CHECKER.exists()


def node(id: str, capacity: Mapping[str, float] | None = None, **kw: Any) -> dict[str, Any]:
    """A node entry; ``capacity`` defaults to ``{cpu: 10}``."""
    return {"id": id, "capacity": dict(capacity if capacity is not None else {"cpu": 10}), **kw}


def task(id: str, demand: Mapping[str, float] | None = None, **kw: Any) -> dict[str, Any]:
    """A task entry; ``demand`` defaults to ``{cpu: 1}``."""
    return {"id": id, "demand": dict(demand if demand is not None else {"cpu": 1}), **kw}


def prob_dict(
    nodes: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]], **kw: Any
) -> dict[str, Any]:
    return {"taskalloc": 1, "name": "test", "nodes": list(nodes), "tasks": list(tasks), **kw}


def prob(
    nodes: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]], **kw: Any
) -> Problem:
    """Compile a problem given as plain data (``horizon=``, ``objective=`` ... as keywords)."""
    return problem_from_dict(prob_dict(nodes, tasks, **kw))


def asg(
    task: str, node: str, replica: int = 0, start: int | None = None, end: int | None = None
) -> Assignment:
    return Assignment(task, replica, node, start, end)


@functools.cache
def read(name: str) -> Problem:
    """A problem file under tests/data (or examples/ for ``examples/NAME``), loaded once."""
    path = ROOT / name if name.startswith("examples/") else DATA / name
    return load_problem(str(path))


def write_problem(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def make(
    problem: Problem, assignments: Sequence[Assignment], status: Status = Status.FEASIBLE
) -> Plan:
    """The plan file a solver returning ``assignments`` would get."""
    from taskalloc.problems.evaluate import make_plan

    plan, _ = make_plan(problem, list(assignments), SolverInfo(name="test", status=status))
    return plan


def cli(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Any:
    """Run ``taskalloc ARGS`` in-process; stdout, stderr and exit_code are separate. Each run
    gets its own stderr console, as each process does (its width read from this run's
    COLUMNS, not from whichever test made the console first)."""
    from taskalloc.cli import console
    from taskalloc.cli.app import app

    console._STDERR = None
    return CliRunner().invoke(app, list(args), env=dict(env or {}), input=input)


def reference_check(problem_path: Path, plan_path: Path) -> dict[str, Any]:
    """Run the independent checker of shared/hooks on two files (JSON result)."""
    proc = subprocess.run(
        [sys.executable, str(REFERENCE_CHECKER), str(problem_path), str(plan_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def fitting_by_definition(p: Problem, t: int) -> list[int]:
    """The allowed nodes one replica of task ``t`` fits on, node by node (``proofs.fits``), as
    ``proofs.fitting_nodes`` must find them: in a schedule a zero-duration replica of a task
    that is no service needs no room, only devices it could use."""
    from taskalloc.problems.proofs import fits

    task = p.tasks[t]
    return [
        n
        for n in task.allowed
        if fits(p, t, n)
        or (
            p.scheduling
            and not task.service
            and task.duration_at(p.nodes[n]) == 0
            and p.device_use(t, n) is not None
        )
    ]
