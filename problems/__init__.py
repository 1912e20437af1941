"""Problem model: entities, loading, validation, plan, evaluation and checking.

Imports no solver and no CLI. The flat API::

    problem = load_problem("fleet.yaml")        # InputError with file:line:col on bad input
    proofs = prove_infeasible(problem)          # cheap structural proofs, [] when none
    ev = evaluate(problem, assignments)         # feasibility, terms, utilisation, reasons
    plan, ev = make_plan(problem, assignments, SolverInfo("greedy", Status.FEASIBLE))
    report = check(problem, read_plan("plan.yaml"))
"""

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
