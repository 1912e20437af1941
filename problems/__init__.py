"""Problem model: entities, loading, validation, plan, evaluation and checking.

Imports no solver and no CLI. The flat API::

    problem = load_problem("fleet.yaml")        # InputError with file:line:col on bad input
    problem = ProblemBuilder("fleet") ... .build()   # the same, from Python
    variant = problem.replace(horizon=500)      # a new validated problem
    proofs = prove_infeasible(problem)          # cheap structural proofs, [] when none
    ev = evaluate(problem, assignments)         # feasibility, terms, utilisation, reasons
    state = PlanState(problem, assignments)     # the same, incremental: add, remove, violations
    plan, ev = make_plan(problem, assignments, SolverInfo("greedy", Status.FEASIBLE))
    report = check(problem, read_plan("plan.yaml"))

Modules: :mod:`.spec` (the file's schema), :mod:`.entities` (the compiled problem),
:mod:`.compiler`, :mod:`.wording`, :mod:`.proofs`, :mod:`.builder` (:mod:`.problem` re-exports
their names), :mod:`.plan`, :mod:`.state` (the evaluator's incremental state and constraint
checks), :mod:`.reasons` (why a task is unplaced), :mod:`.evaluate` (terms, fitness, check).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The names are loaded on first use (PEP 562), so importing one light submodule (e.g.
# ``taskalloc.problems.source`` in the CLI's error boundary) does not load numpy and pydantic.
_EXPORTS = {
    "CheckReport": "evaluate",
    "Evaluation": "evaluate",
    "PlanState": "state",
    "Violation": "evaluate",
    "check": "evaluate",
    "evaluate": "evaluate",
    "fitness": "evaluate",
    "make_plan": "evaluate",
    "violations": "evaluate",
    "Assignment": "plan",
    "Plan": "plan",
    "SolverInfo": "plan",
    "Status": "plan",
    "Unplaced": "plan",
    "read_plan": "plan",
    "ProblemBuilder": "builder",
    "build_problem": "compiler",
    "load_problem": "compiler",
    "problem_from_dict": "compiler",
    "FEATURES": "entities",
    "Node": "entities",
    "Objective": "entities",
    "Problem": "entities",
    "Spread": "entities",
    "Task": "entities",
    "prove_infeasible": "proofs",
    "structural_lines": "proofs",
    "structural_summary": "proofs",
    "Diagnostic": "source",
    "InputError": "source",
}

if TYPE_CHECKING:
    from .builder import ProblemBuilder
    from .compiler import build_problem, load_problem, problem_from_dict
    from .entities import FEATURES, Node, Objective, Problem, Spread, Task
    from .evaluate import (
        CheckReport,
        Evaluation,
        Violation,
        check,
        evaluate,
        fitness,
        make_plan,
        violations,
    )
    from .plan import Assignment, Plan, SolverInfo, Status, Unplaced, read_plan
    from .proofs import prove_infeasible, structural_lines, structural_summary
    from .source import Diagnostic, InputError
    from .state import PlanState


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FEATURES",
    "Assignment",
    "CheckReport",
    "Diagnostic",
    "Evaluation",
    "InputError",
    "Node",
    "Objective",
    "Plan",
    "PlanState",
    "Problem",
    "ProblemBuilder",
    "SolverInfo",
    "Spread",
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
    "structural_lines",
    "structural_summary",
    "violations",
]
