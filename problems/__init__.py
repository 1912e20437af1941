"""Problem model: entities, loading, validation, plan, evaluation and checking.

Imports no solver and no CLI. The flat API::

    problem = load_problem("fleet.yaml")        # InputError with file:line:col on bad input
    proofs = prove_infeasible(problem)          # cheap structural proofs, [] when none
    ev = evaluate(problem, assignments)         # feasibility, terms, utilisation, reasons
    plan, ev = make_plan(problem, assignments, SolverInfo("greedy", Status.FEASIBLE))
    report = check(problem, read_plan("plan.yaml"))
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The names are loaded on first use (PEP 562), so importing one light submodule (e.g.
# ``taskalloc.problems.source`` in the CLI's error boundary) does not load numpy and pydantic.
_EXPORTS = {
    "CheckReport": "evaluate",
    "Evaluation": "evaluate",
    "Violation": "evaluate",
    "check": "evaluate",
    "evaluate": "evaluate",
    "fitness": "evaluate",
    "make_plan": "evaluate",
    "Assignment": "plan",
    "Plan": "plan",
    "SolverInfo": "plan",
    "Status": "plan",
    "Unplaced": "plan",
    "read_plan": "plan",
    "Node": "problem",
    "Objective": "problem",
    "Problem": "problem",
    "Task": "problem",
    "build_problem": "problem",
    "load_problem": "problem",
    "problem_from_dict": "problem",
    "prove_infeasible": "problem",
    "Diagnostic": "source",
    "InputError": "source",
}

if TYPE_CHECKING:
    from .evaluate import CheckReport, Evaluation, Violation, check, evaluate, fitness, make_plan
    from .plan import Assignment, Plan, SolverInfo, Status, Unplaced, read_plan
    from .problem import (
        Node,
        Objective,
        Problem,
        Task,
        build_problem,
        load_problem,
        problem_from_dict,
        prove_infeasible,
    )
    from .source import Diagnostic, InputError


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Assignment",
    "CheckReport",
    "Diagnostic",
    "Evaluation",
    "InputError",
    "Node",
    "Objective",
    "Plan",
    "Problem",
    "SolverInfo",
    "Status",
    "Task",
    "Unplaced",
    "Violation",
    "build_problem",
    "check",
    "evaluate",
    "fitness",
    "load_problem",
    "make_plan",
    "problem_from_dict",
    "prove_infeasible",
    "read_plan",
]
