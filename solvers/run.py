"""Solve one problem into a plan: the unit that ``taskalloc solve`` runs for one file and that a
batch runs in each worker process or Ray task.

:func:`solve_problem` takes a loaded :class:`~taskalloc.problems.problem.Problem`;
:func:`run_bytes` takes the bytes of a problem file and never raises (bad input, solver errors
and internal errors become a :class:`RunResult` with an :class:`Outcome`), so that a batch keeps
going whatever one file does. Neither imports typer, rich or the CLI: the CLI maps an
:class:`Outcome` to its exit code (:data:`taskalloc.cli.exits.EXIT_FOR_OUTCOME`).

Nothing here writes to stdout; C-level output of a backend is kept off stdout by the caller
(see :func:`stdout_to_stderr`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskalloc.problems.limits import Limits
    from taskalloc.problems.plan import Assignment, Plan
    from taskalloc.problems.problem import Problem

    from .clock import Progress
    from .engine import Ignored

#: seconds spent looking for small conflicting task sets after CP-SAT proves infeasibility
EXPLAIN_LIMIT = 10.0


class Outcome(StrEnum):
    """How solving one problem ended (the CLI maps each to an exit code)."""

    OK = "ok"  # a plan (optimal or feasible)
    INFEASIBLE = "infeasible"  # proven: no plan exists (the plan file lists the proofs)
    NO_PLAN = "no_plan"  # no plan within the limits (partial plan, status unknown)
    BAD_INPUT = "bad_input"  # the file is not a valid problem, or bad options
    INTERNAL = "internal"  # a bug, or a worker that died
    INTERRUPTED = "interrupted"  # stopped by a signal
    TIMEOUT = "timeout"  # a batch job killed after its time limit and grace (no plan)
    SKIPPED = "skipped"  # a batch job not started: the batch's total time was up


@dataclass
class SolveOptions:
    """The options of ``taskalloc solve`` that shape one engine run (picklable).

    ``options`` holds engine options by name (``policy``, ``backend``, ``gap``,
    ``generations``, ...), only those the user gave: the engine that runs gets the ones it
    takes, and the others are reported as ignored (:class:`~.engine.Ignored`).
    """

    solver: str = "auto"
    seed: int = 0
    time_limit: float | None = None  # None: the engine's default
    workers: int = 2
    deterministic: bool = False
    hint: list[Assignment] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    time_cap: float | None = None  # at most this many seconds whatever the limit (batch time)
    #: solve in this many parts (:mod:`.partition`), on ``executor`` (local or ray)
    partitions: int | None = None
    executor: str = "local"
    ray_address: str | None = None
    jobs: int | None = None  # parts at once (local; default: K, at most the cores)
    split: str | None = None  # how nodes are dealt to the parts: plan, random (None: default)

    def effective_time_limit(self, engine: str) -> float | None:
        """The limit ``engine`` gets: the one given, else its default, cut to ``time_cap``."""
        limit = self.time_limit
        if limit is None:
            limit = default_time_limit(engine)
        if self.time_cap is not None:
            limit = self.time_cap if limit is None else min(limit, self.time_cap)
        return limit


def default_time_limit(engine: str) -> float | None:
    """The seconds ``engine`` runs when no limit is given (None: its own rule, or none)."""
    from . import load_engine as load

    limit: float | None = getattr(load(engine), "default_time_limit", None)
    return limit


def engine_options(
    engine: str, given: dict[str, Any], *, front: bool = False
) -> tuple[dict[str, Any], Ignored | None]:
    """(the options of ``given`` that ``engine`` takes, the others as an Ignored warning);
    ``front``: the options of its Pareto front. An option no engine takes is an OptionError
    naming the valid ones."""
    from . import ENGINES
    from . import load_engine as load
    from .engine import PARAM_NAMES, Ignored, OptionError, option_names

    def names(name: str) -> set[str]:
        kind = getattr(load(name), "FrontOptions" if front else "Options", None)
        return set(option_names(kind)) if kind is not None else set()

    own = names(engine)
    mine = {k: v for k, v in given.items() if k in own}
    ignored = Ignored(engine)
    for name in given:
        if name in own:
            continue
        owners = [e for e in ENGINES if e != engine and name in names(e)]
        if not owners:
            valid = [*PARAM_NAMES, *sorted(own)]
            raise OptionError(name, "", engine=engine, valid=valid, unknown=True)
        ignored.options[name] = owners
    return mine, (ignored if ignored.options else None)


@dataclass
class RunResult:
    """What solving one problem produced. Picklable; ``plan`` is dropped before it crosses a
    process boundary (``plan_text`` carries it)."""

    outcome: Outcome
    plan_text: str | None = None
    plan: Plan | None = field(default=None, repr=False)
    solver: str | None = None
    status: str | None = None  # the plan's status: optimal, feasible, infeasible, unknown
    objective: dict[str, float] | None = None
    bound: dict[str, float] | None = None
    gap: float | None = None
    fitness: float | None = None
    seconds: float | None = None  # solver seconds, as recorded in the plan
    message: str | None = None  # the solver's message, or the error
    error_lines: list[str] = field(default_factory=list)  # why it failed, one line each
    summary: str | None = None  # one line: status, placed tasks, objective, fitness
    unplaced_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    structural: bool = False  # infeasible by the structural checks (no solver ran)

    def portable(self) -> RunResult:
        """A copy without the Plan object (smaller to send between processes)."""
        from dataclasses import replace

        return replace(self, plan=None)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def final_gap(plan: Plan) -> float | None:
    """Relative gap of the scalar fitness at the end of the search (as the progress lines show
    it): 0 for an optimal plan, None without a bound."""
    if str(plan.solver.status) == "optimal":
        return 0.0
    for _, objective, bound in reversed(plan.solver.trajectory):
        if bound is not None:
            return abs(objective - bound) / max(abs(objective), 1e-9)
    return None


def solve_problem(
    problem: Problem,
    opts: SolveOptions,
    *,
    path: str | None,
    fmt: str = "yaml",
    embed: bool = False,
    stop: Any = None,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
    warn: Callable[[Ignored], None] | None = None,
    explain_limit: float = EXPLAIN_LIMIT,
) -> RunResult:
    """Solve a loaded problem into plan text and an outcome.

    ``path`` is recorded as ``problem.path``; ``embed`` also records the problem file's text
    (``problem.text``) so that the plan is self-contained. ``stop`` (an Event) asks the solver
    to end with its best plan; the outcome is then INTERRUPTED and the plan is still there.
    ``warn`` is told which options the engine ignores (``RunResult.warnings`` has them as
    text). Raises SolverUnavailable for an unknown or uninstalled engine, OptionError for a
    bad option value.
    """

    from taskalloc.problems.plan import Status
    from taskalloc.problems.proofs import structural_lines

    from . import choose, explain_infeasible
    from . import solve as run_solver
    from .clock import Stop, finishing
    from .result import checked_plan

    def tell(line: str) -> None:
        if say is not None:
            say(line)

    backend = choose(problem, opts.solver)
    own, ignored = engine_options(backend, opts.options)
    warnings: list[str] = []
    if ignored is not None:
        warnings.append(ignored.render())
        if warn is not None:
            warn(ignored)
    text = problem.source.data.decode("utf-8") if embed else None
    stop = stop if stop is not None else Stop()
    parts: dict[str, Any] = {}
    if opts.partitions is not None:  # each part chooses its engine (auto) itself
        parts = {
            "partitions": opts.partitions,
            "executor": opts.executor,
            "ray_address": opts.ray_address,
            "jobs": opts.jobs,
            "split": opts.split,
        }
    result = run_solver(
        problem,
        # auto stays auto: it may split a huge problem into parts (solvers.auto_partitions)
        opts.solver if parts or opts.solver == "auto" else backend,
        **parts,
        seed=opts.seed,
        time_limit=opts.effective_time_limit(backend),
        workers=opts.workers,
        deterministic=opts.deterministic,
        hint=opts.hint,
        progress=progress,
        stop=stop,
        **own,
    )
    if result.proofs:  # the structural checks: no engine ran
        plan, _ = checked_plan(problem, result, path=path)
        plan.problem_text = text
        return RunResult(
            outcome=Outcome.INFEASIBLE,
            plan_text=plan.dumps(fmt),
            plan=plan,
            solver=backend,
            status=str(Status.INFEASIBLE),
            seconds=result.seconds,
            message=result.message,
            error_lines=structural_lines(result.proofs),
            warnings=warnings,
            structural=True,
        )
    conflicts: list[str] = []
    if result.status == Status.INFEASIBLE and not stop.is_set() and explain_limit > 0:
        tell("infeasible: looking for a small set of tasks that cannot all be placed ...")
        conflicts = explain_infeasible(
            problem, time_limit=explain_limit, workers=opts.workers, stop=stop
        )
    finishing(stop)  # the search is over: what is left makes, checks and writes the plan
    if stop.is_set() and result.status not in (Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE):
        # stopped before any plan: nothing to write (the reasons of thousands of unplaced
        # tasks would take seconds to word, for a plan nobody keeps)
        return RunResult(
            outcome=Outcome.INTERRUPTED,
            solver=result.solver,
            status=str(result.status),
            seconds=result.seconds,
            message=result.message,
            warnings=warnings,
            error_lines=["interrupted: no plan found yet; nothing written"],
        )
    plan, ev = checked_plan(problem, result, path=path, infeasibility=conflicts)
    plan.problem_text = text
    out = RunResult(
        outcome=Outcome.OK,
        plan_text=plan.dumps(fmt),
        plan=plan,
        solver=result.solver,
        status=str(result.status),
        objective=dict(ev.objective) if result.has_plan or result.assignments else None,
        bound=dict(result.bound) if result.bound else None,
        gap=final_gap(plan),
        fitness=ev.fitness if result.has_plan else None,
        seconds=result.seconds,
        message=result.message,
        warnings=warnings,
    )
    if result.status != Status.INFEASIBLE:
        placed = len(ev.placed_tasks)
        objective = ", ".join(f"{k}={_fmt(v)}" for k, v in ev.objective.items())
        out.summary = (
            f"{result.solver}: {result.status} in {result.seconds:.2f} s; "
            f"{placed}/{len(problem.tasks)} tasks placed "
            f"({ev.placed_replicas}/{ev.total_replicas} replicas) on "
            f"{ev.nodes_used}/{len(problem.nodes)} nodes; objective {objective}; "
            f"fitness {_fmt(ev.fitness)}"
            + (f"; {result.message}" if result.message and result.has_plan else "")
        )
    if stop.is_set():
        out.outcome = Outcome.INTERRUPTED
        out.error_lines = [
            "interrupted: the plan records the proof of infeasibility (the search for a small "
            "conflicting set was cut short)"
            if result.status == Status.INFEASIBLE
            else "interrupted: the plan holds the best solution found so far"
        ]
    elif result.status == Status.INFEASIBLE:
        out.outcome = Outcome.INFEASIBLE
        out.error_lines = [
            f"infeasible: {result.message or 'proven by the solver'}",
            *(conflicts or [f"  (no small conflicting set found within {explain_limit:g} s)"]),
        ]
    elif not result.has_plan:
        required = [u for u in ev.unplaced if problem.tasks[problem.task_index[u.task]].required]
        out.outcome = Outcome.NO_PLAN
        out.error_lines = [
            f"no plan: {result.message or 'no feasible plan found within the limits'}",
            *(f"  {u.task}: {u.reason}" for u in required[:20]),
        ]
    else:
        out.unplaced_lines = [f"unplaced {u.task}: {u.reason}" for u in ev.unplaced]
    return out


def run_bytes(
    name: str,
    data: bytes,
    opts: SolveOptions,
    *,
    path: str | None,
    fmt: str = "yaml",
    embed: bool = False,
    stop: Any = None,
    explain_limit: float = EXPLAIN_LIMIT,
    limits: Limits | None = None,
) -> RunResult:
    """Parse, validate and solve the bytes of a problem file; never raises for bad input or
    solver errors (they become the outcome BAD_INPUT or INTERNAL with the reason). ``limits``:
    the size limits (default: TASKALLOC_LIMITS of this process, else the defaults)."""
    from taskalloc.problems.problem import build_problem
    from taskalloc.problems.source import InputError, parse

    from . import SolverUnavailable
    from .engine import OptionError

    try:
        problem = build_problem(parse(name, data, limits))
    except InputError as exc:
        lines = [str(d) for d in exc.diagnostics]
        if exc.total > len(exc.diagnostics):
            lines.append(f"... and {exc.total - len(exc.diagnostics)} more errors")
        return RunResult(
            Outcome.BAD_INPUT, message=lines[0] if lines else "bad input", error_lines=lines
        )
    except Exception as exc:
        return _internal(exc)
    try:
        result = solve_problem(
            problem, opts, path=path, fmt=fmt, embed=embed, stop=stop, explain_limit=explain_limit
        )
    except (SolverUnavailable, OptionError) as exc:
        return RunResult(Outcome.BAD_INPUT, message=str(exc), error_lines=[str(exc)])
    except Exception as exc:
        return _internal(exc)
    result.warnings = [str(w) for w in problem.warnings] + result.warnings
    return result


def _internal(exc: BaseException) -> RunResult:
    message = f"internal error: {type(exc).__name__}: {exc}"
    return RunResult(Outcome.INTERNAL, message=message, error_lines=[message])


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (C libraries included) to stderr while the
    block runs, so that standard output carries data only."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
