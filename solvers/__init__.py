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


#: ``auto`` hands a problem to CP-SAT up to this many (task, allowed node) pairs. Above it, one
#: full CP-SAT model loses (docs/benchmarks.md): placement problems with a linear objective
#: still go to cpsat, whose large neighbourhood search handles them (cloud balancing with
#: 16.8 million pairs in 60 s and 230 MB), the others to the greedy.
AUTO_EXACT_PAIRS = 200_000

#: the objective terms the LNS optimises (linear in the placement; ``balance`` is not)
_LNS_TERMS = frozenset({"unplaced", "cost", "nodes", "moves"})


def choose(problem: Problem, solver: str) -> str:
    """Resolve ``auto`` to a backend name: cpsat, except for huge problems its LNS cannot take
    (scheduling, or ``balance`` in the objective) and problems using revision-2 features it
    does not handle yet (:mod:`.features`), which go to the greedy."""
    if solver != "auto":
        return solver
    from .features import unhandled

    if "cpsat" not in SOLVERS or unhandled(problem, "cpsat"):
        return "greedy"  # (the second: revision-2 features only the greedy handles yet)
    if not problem.scheduling and set(problem.objective.terms) <= _LNS_TERMS:
        return "cpsat"
    pairs = sum(len(t.allowed) for t in problem.tasks)
    return "cpsat" if pairs <= AUTO_EXACT_PAIRS else "greedy"


def solve(problem: Problem, solver: str = "greedy", **options: Any) -> Result:
    """Solve ``problem`` with the named backend (or ``auto``); ``options`` go to its ``solve``."""
    solver = choose(problem, solver)
    if solver not in SOLVERS:
        raise SolverUnavailable(f"unknown solver '{solver}' (available: {', '.join(SOLVERS)})")
    module = import_module(SOLVERS[solver][0])
    result: Result = module.solve(problem, **options)
    return result


#: solvers that compute Pareto fronts (``pareto``): name -> (module, function)
PARETO: dict[str, tuple[str, str]] = {
    "cpsat": ("taskalloc.solvers.cpsat.pareto", "front"),
    "ga": ("taskalloc.solvers.ga", "pareto"),
}


def _available(table: dict[str, tuple[str, str]]) -> list[str]:
    from importlib.util import find_spec

    return [name for name, (module, _) in table.items() if find_spec(module) is not None]


def pareto(problem: Problem, solver: str, terms: list[str], **options: Any) -> list[Result]:
    """The Pareto front of ``terms`` (2 or 3 objective terms): one Result per non-dominated
    plan. ``cpsat``: the exact front of 2 terms (epsilon-constraint,
    :mod:`.cpsat.pareto`; ``points=K`` limits it to K points); ``ga``: NSGA-II
    (:func:`taskalloc.solvers.ga.pareto`, 2 or 3 terms). Other solvers raise SolverUnavailable;
    terms the problem cannot have raise :class:`~taskalloc.problems.pareto.TermError`."""
    from taskalloc.problems.pareto import check_terms

    terms = check_terms(problem, terms)
    if solver == "auto":
        solver = "cpsat" if len(terms) == 2 else "ga"
    if solver not in PARETO:
        known = solver in SOLVERS
        what = (
            f"solver '{solver}' computes no Pareto front" if known else f"unknown solver '{solver}'"
        )
        raise SolverUnavailable(f"{what} (fronts: {', '.join(_available(PARETO))})")
    module_name, function = PARETO[solver]
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        raise SolverUnavailable(
            f"unknown solver '{solver}': {module_name} is not installed "
            f"(available: {', '.join(SOLVERS)})"
        ) from None
    results: list[Result] = getattr(module, function)(problem, terms, **options)
    return results


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
    "PARETO",
    "SOLVERS",
    "Result",
    "SolverUnavailable",
    "choose",
    "explain_infeasible",
    "pareto",
    "solve",
]
