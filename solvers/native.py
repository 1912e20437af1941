"""Native solvers and signals: every CP-SAT solver of every engine comes from :func:`cp_solver`.

OR-Tools' CP-SAT installs its own SIGINT handler for the length of each solve
(``catch_sigint_signal``, on by default) and puts the previous one back after. A search of many
sub-solves (the LNS, the stage driver, the Pareto front, the infeasibility explanation) then
flips the process's SIGINT disposition dozens of times a run, racing the stop handling of the
CLI: Ctrl-C was ignored, killed the process without a plan, or crashed it
(``std::bad_function_call``, exit 134). Stopping is ours (``taskalloc.cli.running``): a signal
sets the run's stop event and each engine stops its solvers itself (``stop_search()``,
``InterruptSolve()``). So:

- :func:`cp_solver` is the one place a ``cp_model.CpSolver`` is made: it never catches SIGINT,
  even when the caller replaces its parameters (the flag is set again at each solve).
  ``tests/solvers/test_native.py`` fails on a ``CpSolver()`` anywhere else in the code.
- :data:`SCIP_PARAMETERS` and :data:`CPSAT_PARAMETERS` say the same to SCIP (its
  ``misc/catchctrlc``) and to CP-SAT behind OR-Tools' model_builder (the MILP engine's
  backends); HiGHS and GLOP install no handler.

Importing this module does not import OR-Tools (``cp_solver`` does, when called).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: SCIP's parameters (OR-Tools' parameter-string syntax) that leave signals to us
SCIP_PARAMETERS = {"misc/catchctrlc": "FALSE"}
#: CP-SAT's, as a SatParameters text field
CPSAT_PARAMETERS = {"catch_sigint_signal": "false"}

_CLASS: Any = None


def _solver_class() -> Any:
    """``cp_model.CpSolver`` with its SIGINT handler turned off at every solve (made once)."""
    global _CLASS
    if _CLASS is None:
        from ortools.sat.python import cp_model

        class CpSolver(cp_model.CpSolver):
            """A CpSolver that never installs a SIGINT handler (see the module docstring)."""

            def solve(self, model: Any, solution_callback: Any = None) -> Any:
                self.parameters.catch_sigint_signal = False
                return super().solve(model, solution_callback)

            Solve = solve

        _CLASS = CpSolver
    return _CLASS


def cp_solver() -> Any:
    """A new ``cp_model.CpSolver`` that leaves SIGINT to us (``catch_sigint_signal`` off).

    Use it wherever a CP-SAT solver is needed (``solver = cp_solver()`` for ``solver =
    cp_model.CpSolver()``), and stop it with ``solver.stop_search()`` when the run's stop is set
    (a thread polling the stop event, as :mod:`.cpsat.exact` does): a solve blocks the thread
    that runs it, so no Python signal handler runs there until it returns.
    """
    solver = _solver_class()()
    solver.parameters.catch_sigint_signal = False
    return solver


#: seconds between two looks at the stop event by :func:`stopping`
POLL = 0.02


@contextlib.contextmanager
def stopping(stop: threading.Event | None, interrupt: Callable[[], Any]) -> Iterator[None]:
    """While the block runs (a native solve), call ``interrupt`` (``solver.stop_search``,
    ``InterruptSolve``) as soon as ``stop`` is set: a thread looks every :data:`POLL` seconds,
    and calls it again while the block runs (a solve that had not begun yet ignores it)."""
    if stop is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL):
            if stop.is_set():
                interrupt()

    watcher = threading.Thread(target=watch, name="taskalloc-stop", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
