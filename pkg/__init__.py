"""taskalloc: which task goes on which node, and when.

The public API (``docs/python-api.md`` shows it at work)::

    import taskalloc

    problem = taskalloc.load("fleet.yaml")             # or a dict laid out as the file
    result = taskalloc.solve(problem, "cpsat", time_limit=10)
    plan = result.to_plan(problem)                      # checked: metrics by the evaluator
    assert taskalloc.check(problem, plan).ok
    print(taskalloc.report(problem, plan))              # table, json, markdown, csv, dict
    taskalloc.write_plan(plan, "plan.yaml")

Names: :func:`load`, :func:`solve`, :func:`pareto`, :func:`check`, :func:`report`,
:func:`read_plan`, :func:`write_plan`; the types :class:`Problem`, :class:`Plan`,
:class:`Result`, :class:`Assignment`, :class:`Status`, :class:`Point` (a progress point);
:data:`ENGINES`; the errors :class:`InputError`, :class:`OptionError`,
:class:`SolverUnavailable`. These are versioned: a test lists them. Everything else
(``taskalloc.problems``, ``taskalloc.solvers``, ``taskalloc.cli``) is internal and may change.

The names are loaded on first use, so ``import taskalloc`` (and the CLI's start) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .api import check, load, pareto, read_plan, report, solve, write_plan

__version__ = "0.1.0"

if TYPE_CHECKING:
    from taskalloc.problems.plan import Assignment, Plan, Status
    from taskalloc.problems.problem import Problem
    from taskalloc.problems.source import InputError
    from taskalloc.solvers import ENGINES, SolverUnavailable
    from taskalloc.solvers.clock import Point
    from taskalloc.solvers.engine import OptionError
    from taskalloc.solvers.result import Result

#: public name -> the module that defines it (loaded on first use)
_LAZY = {
    "Assignment": "taskalloc.problems.plan",
    "ENGINES": "taskalloc.solvers",
    "InputError": "taskalloc.problems.source",
    "OptionError": "taskalloc.solvers.engine",
    "Plan": "taskalloc.problems.plan",
    "Point": "taskalloc.solvers.clock",
    "Problem": "taskalloc.problems.problem",
    "Result": "taskalloc.solvers.result",
    "SolverUnavailable": "taskalloc.solvers",
    "Status": "taskalloc.problems.plan",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'taskalloc' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
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
