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
    "cpsat": (
        "taskalloc.solvers.cpsat",
        "OR-Tools CP-SAT: exact placement and scheduling, proves optimality or infeasibility",
    ),
    "ga": (
        "taskalloc.solvers.ga",
        "genetic algorithm on DEAP seeded by the greedy (--generations, --population); "
        "NSGA-II fronts through taskalloc.solvers.ga.pareto",
    ),
    "mip": (
        "taskalloc.solvers.mip",
        "MILP in Pyomo, on OR-Tools SCIP/HiGHS/CP-SAT or any Pyomo solver (--backend)",
    ),
}


class SolverUnavailable(Exception):
    """The named solver does not exist or its backend is not installed."""


#: ``auto`` hands a problem to CP-SAT up to this many (task, allowed node) pairs, to the
#: greedy above it (one full CP-SAT model loses at that scale; see docs/benchmarks.md).
AUTO_EXACT_PAIRS = 200_000


def choose(problem: Problem, solver: str) -> str:
    """Resolve ``auto`` to a backend name: cpsat for most problems, greedy for huge ones."""
    if solver != "auto":
        return solver
    pairs = sum(len(t.allowed) for t in problem.tasks)
    if "cpsat" in SOLVERS and pairs <= AUTO_EXACT_PAIRS:
        return "cpsat"
    return "greedy"


def solve(problem: Problem, solver: str = "greedy", **options: Any) -> Result:
    """Solve ``problem`` with the named backend (or ``auto``); ``options`` go to its ``solve``."""
    solver = choose(problem, solver)
    if solver not in SOLVERS:
        raise SolverUnavailable(f"unknown solver '{solver}' (available: {', '.join(SOLVERS)})")
    module = import_module(SOLVERS[solver][0])
    result: Result = module.solve(problem, **options)
    return result


def explain_infeasible(
    problem: Problem, *, time_limit: float = 10.0, workers: int = 2
) -> list[str]:
    """Lines naming up to three disjoint minimal sets of tasks that cannot all be placed, with
    what binds each (CP-SAT assumptions, shrunk by deletion); empty if none found in time."""
    from .cpsat.explain import explain

    return [
        line for c in explain(problem, time_limit=time_limit, workers=workers) for line in c.lines
    ]


__all__ = [
    "AUTO_EXACT_PAIRS",
    "SOLVERS",
    "Result",
    "SolverUnavailable",
    "choose",
    "explain_infeasible",
    "solve",
]
