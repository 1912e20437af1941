"""Solvers: one formulation per backend, all returning :class:`~taskalloc.solvers.result.Result`.

Backends are imported lazily by :func:`solve`, so that importing this package (and starting the
CLI) never loads OR-Tools, Pyomo or DEAP.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from taskalloc.problems.problem import Problem

from .result import Result

#: solver name -> (module, one-line description)
SOLVERS: dict[str, tuple[str, str]] = {
    "greedy": (
        "taskalloc.solvers.greedy",
        "priority-then-size list heuristic (placement) / serial schedule generation (scheduling)",
    ),
}


class SolverUnavailable(Exception):
    """The named solver does not exist or its backend is not installed."""


def solve(problem: Problem, solver: str = "greedy", **options: Any) -> Result:
    """Solve ``problem`` with the named backend; ``options`` are passed to its ``solve``."""
    if solver not in SOLVERS:
        raise SolverUnavailable(f"unknown solver '{solver}' (available: {', '.join(SOLVERS)})")
    module = import_module(SOLVERS[solver][0])
    result: Result = module.solve(problem, **options)
    return result


__all__ = ["SOLVERS", "Result", "SolverUnavailable", "solve"]
