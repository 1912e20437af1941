"""The problem model, in one import: entities, compiler and structural proofs.

The code lives by responsibility in :mod:`.entities` (the compiled :class:`Problem` and its
parts), :mod:`.wording` (how numbers and schema errors read), :mod:`.compiler` (file or data to
a validated Problem, every error in one pass), :mod:`.proofs` (structural infeasibility) and
:mod:`.builder` (a Problem from Python). This module re-exports their names, so that
``from taskalloc.problems.problem import Problem, load_problem, prove_infeasible`` keeps
working.
"""

from __future__ import annotations

from .builder import ProblemBuilder
from .compiler import build_problem, load_problem, problem_from_dict
from .entities import (
    FEATURES,
    Node,
    Objective,
    Problem,
    Spread,
    Task,
    device_shape,
)
from .proofs import (
    STRUCTURAL_HEADLINE,
    effectively_required,
    fits,
    fitting_nodes,
    prove_infeasible,
    spread_feasible,
    structural_lines,
    structural_summary,
    topological_order,
)
from .wording import label_str, schema_diagnostics
from .wording import num as _num

__all__ = [
    "FEATURES",
    "STRUCTURAL_HEADLINE",
    "Node",
    "Objective",
    "Problem",
    "ProblemBuilder",
    "Spread",
    "Task",
    "_num",
    "build_problem",
    "device_shape",
    "effectively_required",
    "fits",
    "fitting_nodes",
    "label_str",
    "load_problem",
    "problem_from_dict",
    "prove_infeasible",
    "schema_diagnostics",
    "spread_feasible",
    "structural_lines",
    "structural_summary",
    "topological_order",
]
