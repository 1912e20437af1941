"""taskalloc: which task goes on which node, and when.

The public API (``docs/python-api.md`` shows it at work)::

    import taskalloc

    problem = taskalloc.load("fleet.yaml")             # or a dict laid out as the file
    result = taskalloc.solve(problem, "cpsat", time_limit=10)
    plan = result.to_plan(problem)                      # checked: metrics by the evaluator
    assert taskalloc.check(problem, plan).ok
    print(taskalloc.report(problem, plan, view="nodes"))   # views; table, json, ..., html
    taskalloc.write_plan(plan, "plan.yaml")

    builder = taskalloc.ProblemBuilder("fleet")         # or build the problem in code
    variant = problem.replace(nodes={"a100": {"count": 2}})   # a new validated problem
    state = taskalloc.PlanState(problem, plan.assignments)    # what-if, one change at a time

Names: :func:`load`, :func:`solve`, :func:`pareto`, :func:`check`, :func:`report`,
:func:`read_plan`, :func:`write_plan`, :func:`simulate` (the online replay), :func:`replan`
and :func:`whatif` (a failed node, a drained pool, new work: the fewest moves; the weakest
node); the types :class:`Problem` (``replace``, ``to_dict``, ``to_yaml``, ``to_json``),
:class:`ProblemBuilder`, :class:`Plan`, :class:`PlanState` (the incremental evaluator:
``add``, ``remove``, ``violations``), :class:`Result`, :class:`Simulation` (what
:func:`simulate` returns), :class:`Replanned`, :class:`WhatIf` and :class:`ReplanError`,
:class:`Assignment`, :class:`Status`, :class:`CheckReport` and :class:`Violation` (what
:func:`check` and ``PlanState.violations`` return), :class:`Point` (a progress point);
:data:`ENGINES`; the errors :class:`InputError`, :class:`OptionError`,
:class:`SolverUnavailable`. These are versioned: a test lists them. Everything else
(``taskalloc.problems``, ``taskalloc.solvers``, ``taskalloc.cli``) is internal and may change.

The names are loaded on first use, so ``import taskalloc`` (and the CLI's start) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .api import (
    check,
    load,
    pareto,
    read_plan,
    replan,
    report,
    simulate,
    solve,
    whatif,
    write_plan,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from taskalloc.problems.builder import ProblemBuilder
    from taskalloc.problems.entities import Problem
    from taskalloc.problems.evaluate import CheckReport
    from taskalloc.problems.plan import Assignment, Plan, Status
    from taskalloc.problems.replan import ReplanError, Replanned, WhatIf
    from taskalloc.problems.source import InputError
    from taskalloc.problems.state import PlanState, Violation
    from taskalloc.solvers import ENGINES, SolverUnavailable
    from taskalloc.solvers.clock import Point
    from taskalloc.solvers.engine import OptionError
    from taskalloc.solvers.result import Result
    from taskalloc.solvers.simulation import Simulation

#: public name -> the module that defines it (loaded on first use)
_LAZY = {
    "Assignment": "taskalloc.problems.plan",
    "CheckReport": "taskalloc.problems.evaluate",
    "ENGINES": "taskalloc.solvers",
    "InputError": "taskalloc.problems.source",
    "OptionError": "taskalloc.solvers.engine",
    "Plan": "taskalloc.problems.plan",
    "PlanState": "taskalloc.problems.state",
    "Replanned": "taskalloc.problems.replan",
    "ReplanError": "taskalloc.problems.replan",
    "WhatIf": "taskalloc.problems.replan",
    "Point": "taskalloc.solvers.clock",
    "Problem": "taskalloc.problems.entities",
    "ProblemBuilder": "taskalloc.problems.builder",
    "Result": "taskalloc.solvers.result",
    "Simulation": "taskalloc.solvers.simulation",
    "SolverUnavailable": "taskalloc.solvers",
    "Status": "taskalloc.problems.plan",
    "Violation": "taskalloc.problems.state",
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
