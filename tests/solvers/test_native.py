"""No native solver installs a SIGINT handler of its own: CP-SAT's ``catch_sigint_signal``
raced the CLI's signal handling (crashes with ``std::bad_function_call``, Ctrl-C ignored)."""

from __future__ import annotations

import re

from taskalloc.solvers.native import CPSAT_PARAMETERS, SCIP_PARAMETERS, cp_solver
from tests.helpers import ROOT


def test_every_cpsat_solver_of_the_package_comes_from_cp_solver() -> None:
    made = re.compile(r"\bCpSolver\(\)")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("solvers", "problems", "cli", "pkg")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "native.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if made.search(line)
    ]
    assert offenders == []


def test_cp_solver_never_catches_sigint_even_with_new_parameters() -> None:
    from ortools.sat.python import cp_model

    solver = cp_solver()
    assert solver.parameters.catch_sigint_signal is False
    model = cp_model.CpModel()
    x = model.new_int_var(0, 3, "x")
    model.maximize(x)
    solver.parameters.catch_sigint_signal = True  # as code copying parameters might
    assert solver.solve(model) == cp_model.OPTIMAL
    assert solver.parameters.catch_sigint_signal is False


def test_scip_and_cpsat_behind_model_builder_leave_sigint_alone() -> None:
    assert SCIP_PARAMETERS == {"misc/catchctrlc": "FALSE"}
    assert CPSAT_PARAMETERS == {"catch_sigint_signal": "false"}
