"""Backends: where the Pyomo model goes to be solved, and how our options map to each one.

Two kinds:

* ``ortools-portfolio`` (the default when it can run: :func:`default_backend`),
  ``ortools-scip``, ``ortools-highs``, ``ortools-cpsat``: the Pyomo model is compiled
  in memory, without any file, into OR-Tools' ``model_builder`` (:class:`OrtoolsBackend`): one
  column per Pyomo variable (bounds and integrality read from the variable), one row per active
  constraint, read from its ``LinearExpression`` (terms read directly; any other expression
  through Pyomo's ``generate_standard_repn``). Lexicographic stages only append rows and swap
  the objective. SCIP is then run through OR-Tools' MPSolver (fed that model as a proto, in
  memory), which, unlike model_builder's SCIP, can be interrupted. On 2,000 tasks x 200 nodes
  (390,000 columns) the hand-off takes 1.6-2.6 s, where Pyomo writing MPS and OR-Tools reading
  it takes 13-16 s (``benchmarks/bench_mip.py build --mps``).
* any other name: a Pyomo solver (``SolverFactory(name)``: ``gurobi``, ``cplex``, ``cbc``,
  ``glpk``, ``appsi_highs``, ...), which writes its own input file, runs the solver and loads
  the solution back into the model's variables (:class:`PyomoBackend`).

:data:`OPTION_NAMES` is the one table mapping time limit, gap, seed and threads to each
backend's own option names. Standard output stays clean: every solve runs with file
descriptor 1 pointed at /dev/null (OR-Tools' HiGHS prints its banner there even with output
off; Pyomo's shell solvers may echo), and restored after.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.base.var import ScalarVar, VarData
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression, SumExpression
from pyomo.repn.standard_repn import generate_standard_repn

from .. import SolverUnavailable
from ..native import CPSAT_PARAMETERS, SCIP_PARAMETERS

DEFAULT = "ortools-scip"  # when the portfolio cannot run (see default_backend)
PORTFOLIO = "ortools-portfolio"

#: classes of Pyomo variable data (what a bare term of a sum can be)
_VAR_CLASSES = (VarData, ScalarVar)

#: OR-Tools engines: backend name -> model_builder solver name
ORTOOLS = {"ortools-scip": "scip", "ortools-highs": "highs", "ortools-cpsat": "sat"}

#: the portfolio: SCIP (one thread) and CP-SAT (``workers`` workers) race on the same model
PORTFOLIO_ENGINES = ("ortools-scip", "ortools-cpsat")

#: backend -> (time limit, relative gap, seed, threads) option names; None: not available
#: (the value is then recorded as not applied). OR-Tools' time limit goes through
#: model_builder's own setter; the others through its solver-specific parameter string.
OPTION_NAMES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "ortools-scip": ("limits/time", "limits/gap", "randomization/randomseedshift", None),
    "ortools-highs": ("time_limit", "mip_rel_gap", "random_seed", None),
    "ortools-cpsat": ("max_time_in_seconds", "relative_gap_limit", "random_seed", "num_workers"),
    "gurobi": ("TimeLimit", "MIPGap", "Seed", "Threads"),
    "gurobi_direct": ("TimeLimit", "MIPGap", "Seed", "Threads"),
    "gurobi_persistent": ("TimeLimit", "MIPGap", "Seed", "Threads"),
    "cplex": ("timelimit", "mip_tolerances_mipgap", "randomseed", "threads"),
    "cplex_direct": ("timelimit", "mip.tolerances.mipgap", "randomseed", "threads"),
    "cbc": ("seconds", "ratioGap", "randomCbcSeed", "threads"),
    "glpk": ("tmlim", "mipgap", None, None),
    "appsi_highs": ("time_limit", "mip_rel_gap", "random_seed", "threads"),
    "highs": ("time_limit", "mip_rel_gap", "random_seed", "threads"),
    "scip": ("limits/time", "limits/gap", "randomization/randomseedshift", "parallel/maxnthreads"),
    "xpress": ("maxtime", "miprelstop", "randomseed", "threads"),
    "xpress_direct": ("maxtime", "miprelstop", "randomseed", "threads"),
}

#: OR-Tools engines: parameter-string line format, extra settings (tight feasibility so that a
#: rounded solution passes the evaluator's 1e-9 capacity tolerance; a default gap of 0 so that
#: "optimal" means optimal), whether hints are passed and whether the dual bound is real.
_FORMAT = {"ortools-scip": "{} = {}", "ortools-highs": "{}={}", "ortools-cpsat": "{}:{}"}
#: SCIP and CP-SAT also leave SIGINT to us (:mod:`..native`): their own handlers race ours.
_EXTRA = {
    "ortools-scip": {"numerics/feastol": "1e-9", **SCIP_PARAMETERS},
    "ortools-highs": {"mip_feasibility_tolerance": "1e-9", "primal_feasibility_tolerance": "1e-9"},
    "ortools-cpsat": {
        "log_search_progress": "false",
        "mip_wanted_precision": "1e-9",
        **CPSAT_PARAMETERS,
    },
}
#: above this many columns SCIP's presolve is skipped: on 400,000 binaries a single presolve
#: round takes about 9 s, before any LP is solved
LARGE_MODEL = 100_000

#: OR-Tools 9.15 passes hints to HiGHS through an out-of-bounds write (a crash): never hint it.
_HINTS = {"ortools-scip": True, "ortools-highs": False, "ortools-cpsat": True, PORTFOLIO: True}
#: OR-Tools reports HiGHS's objective as its bound: no dual bound short of optimality. (It
#: also drops HiGHS's incumbent at a time limit: see OrtoolsBackend.solve.)
_REAL_BOUND = {"ortools-scip": True, "ortools-highs": False, "ortools-cpsat": True, PORTFOLIO: True}

#: what to install for the Pyomo solvers users ask for most
_INSTALL = {
    "gurobi": "pip install gurobipy, and a Gurobi licence beyond small models",
    "cplex": "pip install cplex, and a CPLEX licence beyond small models",
    "xpress": "pip install xpress",
    "mosek": "pip install mosek",
    "cbc": "apt-get install coinor-cbc, or conda install -c conda-forge coin-or-cbc",
    "glpk": "apt-get install glpk-utils, or conda install -c conda-forge glpk",
    "highs": "pip install highspy==1.12.0 (the HiGHS inside OR-Tools 9.15: another version "
    "breaks whichever loads second), or use option backend='ortools-highs'",
    "scip": "the SCIP Optimization Suite with its AMPL interface (scip, or scipampl), or use "
    "option backend='ortools-scip'",
}


def install_hint(name: str) -> str:
    for key, hint in _INSTALL.items():
        if name.startswith(key) or name.startswith("appsi_" + key):
            return hint
    return "install it so that Pyomo finds it"


@dataclass
class Outcome:
    """One solve: ``status`` is optimal (the solver's claim, within its gap), feasible,
    infeasible or none (no solution, no proof)."""

    status: str
    values: Any = None  # solution: something :meth:`Backend.value` understands
    objective: float | None = None
    bound: float | None = None  # a real dual bound, or None
    seconds: float = 0.0
    message: str = ""


@dataclass
class Settings:
    time_limit: float | None
    gap: float | None
    seed: int
    workers: int
    applied: dict[str, Any] = field(default_factory=dict)  # option -> value, as sent


_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_quiet_saved = -1


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null (solver banners written from C/C++ or by
    subprocesses), restoring it after. Safe across threads (the portfolio solves in two): the
    first to enter redirects, the last to leave restores."""
    global _quiet_depth, _quiet_saved
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            sys.stdout.flush()
            _quiet_saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                os.dup2(_quiet_saved, 1)
                os.close(_quiet_saved)
                _quiet_saved = -1


def check_backend(name: str) -> None:
    """Raise SolverUnavailable (naming what to install) unless the backend can run here."""
    if name == PORTFOLIO:
        for engine in PORTFOLIO_ENGINES:
            check_backend(engine)
        return
    if name in ORTOOLS:
        from ortools.linear_solver.python import model_builder_helper as mbh

        if not mbh.ModelSolverHelper(ORTOOLS[name]).solver_is_supported():
            raise SolverUnavailable(
                f"backend '{name}' is not in this OR-Tools build: reinstall ortools "
                f"(pip install ortools) or choose option backend='{DEFAULT}'"
            )
        return
    if name.startswith("ortools"):
        raise SolverUnavailable(
            f"unknown backend '{name}' (OR-Tools backends: {', '.join([*ORTOOLS, PORTFOLIO])}; "
            "any other "
            "name is a Pyomo solver)"
        )
    opt = _pyomo_solver(name)
    if opt is None:
        raise SolverUnavailable(
            f"unknown backend '{name}': not an OR-Tools backend ({', '.join(ORTOOLS)}) and no "
            "solver Pyomo knows or finds on the PATH (e.g. gurobi, cplex, cbc, glpk, "
            "appsi_highs, scip, xpress)"
        )
    if not opt.available(exception_flag=False):
        raise SolverUnavailable(
            f"solver '{name}' is not available: {install_hint(name)}; or choose option "
            f"backend='{DEFAULT}'"
        )


def _pyomo_solver(name: str) -> Any:
    """SolverFactory(name), or None when Pyomo cannot even create it (its log is silenced:
    an unknown name makes Pyomo print a traceback)."""
    log = logging.getLogger("pyomo")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        opt = pyo.SolverFactory(name)
        if opt is None or type(opt).__name__ == "UnknownSolver":
            return None
        return opt
    except Exception:
        return None
    finally:
        log.setLevel(level)


# --------------------------------------------------------------------------------------------


def linear_terms(expr: Any) -> tuple[list[Any], list[float], float]:
    """(variables, coefficients, constant) of a linear Pyomo expression. Sums of monomials
    (how :mod:`.model` writes every row) are read term by term; anything else goes through
    Pyomo's standard repn. Fixed variables count as constants."""
    if expr.__class__ in (LinearExpression, SumExpression):
        vs: list[Any] = []
        cs: list[float] = []
        const = 0.0
        for a in expr.args:
            cls = a.__class__
            if cls is MonomialTermExpression:
                c, v = a.args
                if c.__class__ not in native_numeric_types or not v.is_variable_type():
                    break
                if v.fixed:
                    const += c * v.value
                else:
                    vs.append(v)
                    cs.append(c)
            elif cls in native_numeric_types:
                const += a
            elif a.is_variable_type():
                if a.fixed:
                    const += a.value
                else:
                    vs.append(a)
                    cs.append(1.0)
            else:
                break
        else:
            return vs, cs, float(const)
    if expr.__class__ in native_numeric_types:
        return [], [], float(expr)
    if getattr(expr, "is_variable_type", lambda: False)():
        if expr.fixed:
            return [], [], float(expr.value)
        return [expr], [1.0], 0.0
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    if repn.nonlinear_expr is not None:
        raise ValueError(f"not linear: {expr}")
    return list(repn.linear_vars), [float(c) for c in repn.linear_coefs], float(repn.constant)


class OrtoolsBackend:
    """The Pyomo model compiled into an OR-Tools model_builder model, solved by SCIP, HiGHS or
    CP-SAT in the same process."""

    def __init__(self, name: str, model: pyo.ConcreteModel) -> None:
        from ortools.linear_solver.python import model_builder_helper as mbh

        self.name = name
        self.engine = ORTOOLS.get(name, "portfolio")
        self.mbh = mbh
        self.helper: Any = mbh.ModelBuilderHelper()
        self.model = model
        self.col: dict[int, int] = {}
        self.hints = _HINTS[name]
        self.real_bound = _REAL_BOUND[name]
        self._compiled: set[int] = set()
        self._columns()
        self.add_rows()

    def _columns(self) -> None:
        """One column per Pyomo variable, in the model's order: bounds and integrality read
        from the variable (a fixed variable is a column with equal bounds)."""
        lbs: list[float] = []
        ubs: list[float] = []
        ints: list[bool] = []
        col = self.col
        integral: dict[int, bool] = {}
        for v in self.model.component_data_objects(pyo.Var, descend_into=True):
            col[id(v)] = len(lbs)
            if v.fixed:
                lb = ub = v.value
            else:
                lb, ub = v.bounds
            lbs.append(-math.inf if lb is None else lb)
            ubs.append(math.inf if ub is None else ub)
            dom = v.domain
            isint = integral.get(id(dom))
            if isint is None:
                isint = integral[id(dom)] = bool(v.is_integer())
            ints.append(isint)
        if lbs:
            self.helper.add_var_array_with_bounds(
                np.asarray(lbs, dtype=np.float64),
                np.asarray(ubs, dtype=np.float64),
                np.asarray(ints, dtype=bool),
                "",
            )
        self.columns = len(lbs)

    def add_rows(self) -> int:
        """Compile every active constraint not compiled yet; returns how many. Sums of
        monomials are read term by term (fixed variables stay columns with equal bounds),
        anything else through :func:`linear_terms`."""
        h = self.helper
        add = h.add_term_to_constraint
        col = self.col
        done = self._compiled
        var_classes = _VAR_CLASSES
        count = 0
        for c in self.model.component_data_objects(pyo.Constraint, active=True):
            if id(c) in done:
                continue
            done.add(id(c))
            lb, body, ub = c.to_bounded_expression(evaluate_bounds=True)
            row = h.add_linear_constraint()
            const = 0.0
            fast = body.__class__ is LinearExpression
            terms: list[tuple[int, float]] = []
            try:  # Pyomo's own attributes (pinned version); the public path takes over if not
                args = body._args_[: body._nargs] if fast else ()
                for a in args:
                    cls = a.__class__
                    if cls is MonomialTermExpression:
                        coef, v = a._args_
                        if coef.__class__ not in native_numeric_types:
                            fast = False
                            break
                        terms.append((col[id(v)], coef))
                    elif cls in var_classes:
                        terms.append((col[id(a)], 1.0))
                    elif cls in native_numeric_types:
                        const += a
                    else:
                        fast = False
                        break
            except AttributeError:
                fast = False
            if fast:
                for j, coef in terms:
                    add(row, j, coef)
            else:
                vs, cs, const = linear_terms(body)
                for v, coef in zip(vs, cs, strict=True):
                    add(row, col[id(v)], coef)
            h.set_constraint_lower_bound(row, -math.inf if lb is None else lb - const)
            h.set_constraint_upper_bound(row, math.inf if ub is None else ub - const)
            count += 1
        return count

    def set_objective(self, expr: Any) -> None:
        vs, cs, const = linear_terms(expr)
        h = self.helper
        h.clear_objective()
        h.set_maximize(False)
        h.set_objective_coefficients([self.col[id(v)] for v in vs], cs)
        h.set_objective_offset(const)

    def set_hint(self, values: Iterable[tuple[Any, float]]) -> bool:
        """Hint every variable (model_builder keeps it; SCIP receives it with the model)."""
        h = self.helper
        h.clear_hints()
        if not self.hints:
            return False
        add, col = h.add_hint, self.col
        for v, x in values:
            add(col[id(v)], float(x))
        return True

    def parameters(self, s: Settings, name: str | None = None) -> str:
        name = name or self.name
        tl, gap, seed, threads = OPTION_NAMES[name]
        params: dict[str, str] = dict(_EXTRA[name])
        if ORTOOLS[name] == "scip" and self.columns > LARGE_MODEL:
            params["presolving/maxrounds"] = "0"
            s.applied["presolve"] = "off (a large model)"
        if gap is not None:
            params[gap] = repr(float(s.gap or 0.0))
            s.applied["gap"] = f"{gap}={float(s.gap or 0.0):g}"
        if seed is not None:
            params[seed] = str(int(s.seed))
            s.applied["seed"] = f"{seed}={int(s.seed)}"
        if threads is not None:
            params[threads] = str(int(s.workers))
            s.applied["threads"] = f"{threads}={int(s.workers)}"
        else:
            s.applied["threads"] = "1 (a single-threaded engine)"
        if s.time_limit is not None:
            s.applied["time_limit"] = f"{tl} (through OR-Tools' time limit)"
        fmt = _FORMAT[name]
        return "\n".join(fmt.format(k, v) for k, v in params.items())

    def solve(self, s: Settings, stop: threading.Event | None) -> Outcome:
        return self._solve_engine(self.name, s, stop)

    def _solve_engine(
        self, name: str, s: Settings, stop: threading.Event | None, proto: Any = None
    ) -> Outcome:
        engine = ORTOOLS[name]
        if engine == "scip":
            return self._solve_mpsolver(s, stop, proto)
        solver = self.mbh.ModelSolverHelper(engine)
        if s.time_limit is not None:
            solver.set_time_limit_in_seconds(max(float(s.time_limit), 1e-3))
        params = self.parameters(s, name)
        tmp = tempfile.mkdtemp(prefix="taskalloc-highs-") if engine == "highs" else None
        found = None
        if tmp is not None:
            # OR-Tools drops HiGHS's incumbent when a MIP stops at its time limit: HiGHS
            # writes every improving solution here, and the last one is read back
            improving = os.path.join(tmp, "improving.sol")
            params += f"\nmip_improving_solution_save=true\nmip_improving_solution_file={improving}"
        try:
            solver.set_solver_specific_parameters(params)
            solver.enable_output(False)
            with _watching(stop, solver.interrupt_solve), quiet_stdout():
                solver.solve(self.helper)
            if tmp is not None:
                found = _last_improving(improving, self.columns)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        st = self.mbh.SolveStatus
        status = solver.status()
        seconds = float(solver.wall_time())
        message = solver.status_string()
        if status in (st.MODEL_INVALID, st.INVALID_SOLVER_PARAMETERS, st.INCOMPATIBLE_OPTIONS):
            raise RuntimeError(f"{name}: {status.name}: {message}")
        if status == st.UNBOUNDED:
            raise RuntimeError(f"{name}: the MILP is unbounded (a modelling error)")
        if status == st.INFEASIBLE:
            return Outcome("infeasible", seconds=seconds, message=message)
        if not solver.has_solution() or status not in (st.OPTIMAL, st.FEASIBLE):
            if found is not None:
                values, objective = found
                return Outcome("feasible", values, objective, None, seconds, "incumbent")
            return Outcome("none", seconds=seconds, message=message)
        values = np.asarray(solver.variable_values(), dtype=np.float64)
        objective = float(solver.objective_value())
        bound = _finite(solver.best_objective_bound()) if _REAL_BOUND[name] else None
        kind = "optimal" if status == st.OPTIMAL else "feasible"
        if bound is None and kind == "optimal" and not s.gap:
            bound = objective
        return Outcome(kind, values, objective, bound, seconds, message)

    def _solve_mpsolver(
        self, s: Settings, stop: threading.Event | None, proto: Any = None
    ) -> Outcome:
        """SCIP through OR-Tools' MPSolver, fed the model_builder model as a proto (in
        memory): unlike model_builder's SCIP, it can be interrupted."""
        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

        solver = pywraplp.Solver.CreateSolver("SCIP")
        if solver is None:
            raise SolverUnavailable("SCIP is not in this OR-Tools build")
        if proto is None:
            proto = self.mbh.to_mpmodel_proto(self.helper)
        error = solver.LoadModelFromProto(proto)
        if error:
            raise RuntimeError(f"ortools-scip: the model does not load: {error}")
        if s.time_limit is not None:
            solver.SetTimeLimit(max(1, round(float(s.time_limit) * 1000)))
        params = self.parameters(s, "ortools-scip")
        if not solver.SetSolverSpecificParametersAsString(params + "\n"):
            raise RuntimeError(f"ortools-scip: SCIP rejects the parameters {params!r}")
        with _watching(stop, solver.InterruptSolve), quiet_stdout():
            status = solver.Solve()
        seconds = solver.wall_time() / 1000.0
        S = pywraplp.Solver
        if status == S.INFEASIBLE:
            return Outcome("infeasible", seconds=seconds, message="infeasible")
        if status == S.UNBOUNDED:
            raise RuntimeError("ortools-scip: the MILP is unbounded (a modelling error)")
        if status == S.MODEL_INVALID:
            raise RuntimeError("ortools-scip: the model is invalid")
        if status not in (S.OPTIMAL, S.FEASIBLE):
            return Outcome("none", seconds=seconds, message=f"status {status}")
        variables = solver.variables()
        values = np.fromiter((v.solution_value() for v in variables), np.float64, len(variables))
        objective = float(solver.Objective().Value())
        bound = _finite(solver.Objective().BestBound())
        kind = "optimal" if status == S.OPTIMAL else "feasible"
        return Outcome(
            kind, values, objective, bound, seconds, "optimal" if kind == "optimal" else "feasible"
        )

    def value(self, outcome: Outcome) -> Any:
        vals = outcome.values
        col = self.col
        return lambda v: float(vals[col[id(v)]])


class PortfolioBackend(OrtoolsBackend):
    """SCIP (one thread) and CP-SAT (``workers`` workers) race on the same compiled MILP,
    both hinted alike. The first to prove its stage (optimal or infeasible) stops the other;
    the better solution and the higher dual bound of the two are kept, so a stage is proven
    when either engine proves it or SCIP's bound meets CP-SAT's solution (or the reverse).
    Why: SCIP is single-threaded in OR-Tools, and CP-SAT's MILP search is often faster on
    pure-integer models, SCIP on others. CP-SAT keeps every worker and SCIP runs beside it, one
    thread more than ``workers``: with CP-SAT on ``workers - 1`` the race proved 59/60 of
    gap_orlib at 1 s, with all of them 60/60 (chu-beasley at 20 s unchanged within noise, mean
    gap 0.167 % and 0.180 %). Continuous variables (``balance``) are beyond CP-SAT:
    :func:`default_backend` then picks SCIP alone."""

    def solve(self, s: Settings, stop: threading.Event | None) -> Outcome:
        import dataclasses

        proto = self.mbh.to_mpmodel_proto(self.helper)  # SCIP's copy, made before the race
        own = threading.Event()  # both engines stop when it is set
        subs = {
            "ortools-scip": dataclasses.replace(s, workers=1, applied={}),
            "ortools-cpsat": dataclasses.replace(s, workers=s.workers, applied={}),
        }
        outcomes: dict[str, Outcome | BaseException] = {}

        def run(name: str) -> None:
            try:
                out = self._solve_engine(name, subs[name], own, proto)
            except BaseException as exc:  # re-raised below, in the caller's thread
                outcomes[name] = exc
                own.set()
                return
            outcomes[name] = out
            if out.status in ("optimal", "infeasible"):
                own.set()

        threads = [
            threading.Thread(target=run, args=(n,), name=f"mip-{n}", daemon=True) for n in subs
        ]
        for t in threads:
            t.start()
        given_up: float | None = None  # after a stop: when the race stops waiting
        while any(t.is_alive() for t in threads):
            threads[0].join(0.02)
            if stop is not None and stop.is_set():
                own.set()
                if given_up is None:
                    given_up = time.monotonic() + RACE_STOP_WAIT
                elif time.monotonic() > given_up:
                    break  # an engine slow to stop (SCIP loading the model): left behind
        if given_up is None:
            for t in threads:
                t.join()
        done = dict(outcomes)  # what an engine left behind finishes later is not read
        for name, sub in subs.items():
            for key, value in list(sub.applied.items()):
                s.applied[f"{key} ({name})"] = value
        for out in done.values():
            if isinstance(out, BaseException):
                raise out
        return _combine({k: v for k, v in done.items() if isinstance(v, Outcome)})


#: seconds the race waits for both engines once the run's stop is set; then it goes on with
#: the outcomes it has (the CLI gives a stopped run 1.5 s in all)
RACE_STOP_WAIT = 0.5


def _combine(outcomes: dict[str, Outcome]) -> Outcome:
    """One outcome of the race: the best solution and the best bound of the engines."""
    seconds = max((o.seconds for o in outcomes.values()), default=0.0)
    solved = [(n, o) for n, o in outcomes.items() if o.values is not None]
    bounds = [o.bound for o in outcomes.values() if o.bound is not None]
    bound = max(bounds) if bounds else None
    said = "; ".join(f"{n.removeprefix('ortools-')} {o.status}" for n, o in outcomes.items())
    if not solved:
        if any(o.status == "infeasible" for o in outcomes.values()):
            return Outcome("infeasible", seconds=seconds, message=said)
        return Outcome("none", seconds=seconds, message=said)
    name, best = min(solved, key=lambda item: item[1].objective or 0.0)
    objective = best.objective
    proven = any(o.status == "optimal" for _, o in solved if o.objective == objective)
    if bound is not None and objective is not None:
        proven = proven or bound >= objective - 1e-9 * max(1.0, abs(objective))
        bound = min(bound, objective)
    kind = "optimal" if proven else "feasible"
    return Outcome(kind, best.values, objective, bound, seconds, f"{said}; plan from {name}")


def default_backend(has_continuous: bool, workers: int) -> str:
    """``--backend`` when none is given: the portfolio when it can run (integers only, two
    workers or more), else SCIP."""
    return DEFAULT if has_continuous or workers < 2 else PORTFOLIO


@contextlib.contextmanager
def _watching(stop: threading.Event | None, interrupt: Callable[[], Any]) -> Iterator[None]:
    """While the block runs, call ``interrupt`` as soon as ``stop`` is set (polled every
    20 ms; engines that cannot be interrupted run to their time limit)."""
    if stop is None:
        yield
        return
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(stop, interrupt, done), name="mip-stop", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _watch(stop: threading.Event, interrupt: Callable[[], Any], done: threading.Event) -> None:
    # repeated until the block ends: an interrupt that comes while OR-Tools still copies the
    # model into the solver is lost (SCIP clears its flag when its search starts), and SCIP then
    # ran on to its time limit (60 s after a stop 0.1 s into the solve)
    while not done.wait(0.02):
        if stop.is_set():
            interrupt()


class PyomoBackend:
    """Any solver Pyomo knows, by name: Pyomo writes its input, runs it and loads the solution
    into the model's variables."""

    def __init__(self, name: str, model: pyo.ConcreteModel) -> None:
        self.name = name
        self.model = model
        self.opt = _pyomo_solver(name)
        if self.opt is None or not self.opt.available(exception_flag=False):
            raise SolverUnavailable(f"solver '{name}' is not available: {install_hint(name)}")
        capable = getattr(self.opt, "warm_start_capable", None)
        self.hints = bool(capable()) if callable(capable) else False
        self.real_bound = True
        self._hinted = False
        self.columns = sum(1 for _ in model.component_data_objects(pyo.Var, descend_into=True))

    def add_rows(self) -> int:
        return 0  # the model itself is what Pyomo writes

    def set_objective(self, expr: Any) -> None:
        m = self.model
        if hasattr(m, "objective"):
            m.del_component(m.objective)
        m.objective = pyo.Objective(expr=expr, sense=pyo.minimize)

    def set_hint(self, values: Iterable[tuple[Any, float]]) -> bool:
        self._hinted = False
        if not self.hints:
            return False
        for v, x in values:
            v.set_value(x, skip_validation=True)
        self._hinted = True
        return True

    def solve(self, s: Settings, stop: threading.Event | None) -> Outcome:
        del stop  # a solver process cannot be interrupted from here: it runs to its limit
        tl, gap, seed, threads = OPTION_NAMES.get(self.name, (None, None, None, None))
        options: dict[str, Any] = {}
        if s.time_limit is not None and tl is not None:
            limit = max(float(s.time_limit), 1e-3)
            options[tl] = max(1, math.ceil(limit)) if self.name.startswith("glpk") else limit
        if s.gap is not None and gap is not None:
            options[gap] = float(s.gap)
        if seed is not None:
            options[seed] = int(s.seed)
        if threads is not None:
            options[threads] = int(s.workers)
        for key, val, opt_name in (
            ("time_limit", s.time_limit, tl),
            ("gap", s.gap, gap),
            ("seed", s.seed, seed),
            ("threads", s.workers, threads),
        ):
            if val is not None:
                s.applied[key] = f"{opt_name}={options[opt_name]}" if opt_name else "not mapped"
        kwargs: dict[str, Any] = {"load_solutions": False, "options": options, "tee": False}
        if self._hinted:
            kwargs["warmstart"] = True
        log = logging.getLogger("pyomo")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            with quiet_stdout():
                results = self.opt.solve(self.model, **kwargs)
        finally:
            log.setLevel(level)
        from pyomo.opt import SolutionStatus, TerminationCondition

        tc = results.solver.termination_condition
        seconds = _number(getattr(results.solver, "wallclock_time", None)) or 0.0
        message = str(tc)
        if tc in (TerminationCondition.infeasible, TerminationCondition.invalidProblem):
            return Outcome("infeasible", seconds=seconds, message=message)
        if tc == TerminationCondition.unbounded:
            raise RuntimeError(f"{self.name}: the MILP is unbounded (a modelling error)")
        solutions = getattr(results, "solution", [])
        if len(solutions) == 0:
            return Outcome("none", seconds=seconds, message=message)
        sol_status = solutions[0].status
        if sol_status in (SolutionStatus.infeasible, SolutionStatus.unbounded):
            return Outcome("none", seconds=seconds, message=message)
        self.model.solutions.load_from(results)
        objective = float(pyo.value(self.model.objective))
        bound = _finite(results.problem.lower_bound)
        kind = "optimal" if tc == TerminationCondition.optimal else "feasible"
        if kind == "optimal" and bound is None and not s.gap:
            bound = objective
        return Outcome(kind, True, objective, bound, seconds, message)

    def value(self, outcome: Outcome) -> Any:
        del outcome
        return lambda v: float(v.value) if v.value is not None else 0.0


def _last_improving(path: str, columns: int) -> tuple[np.ndarray, float] | None:
    """The last solution of a HiGHS improving-solution file ("Objective v", "# Columns n",
    then n lines "name value"), or None."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    at = text.rfind("Objective ")
    if at < 0:
        return None
    lines = text[at:].splitlines()
    try:
        objective = float(lines[0].split()[1])
        count = int(lines[1].split()[2])
        values = np.array([float(ln.rsplit(None, 1)[1]) for ln in lines[2 : 2 + count]])
    except (IndexError, ValueError):
        return None
    if count != columns or len(values) != columns:
        return None
    return values, objective


def _finite(x: Any) -> float | None:
    """A solver's bound, or None when it is none (SCIP and others report +-1e20 or inf)."""
    b = _number(x)
    return b if b is not None and abs(b) < 1e19 else None


def _number(x: Any) -> float | None:
    """A float from Pyomo results data (which may be UndefinedData), or None."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


Backend = OrtoolsBackend | PyomoBackend


def make_backend(name: str, model: pyo.ConcreteModel) -> Backend:
    if name == PORTFOLIO:
        return PortfolioBackend(name, model)
    if name in ORTOOLS:
        return OrtoolsBackend(name, model)
    return PyomoBackend(name, model)
