"""The one shape every backend returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskalloc.problems.plan import Assignment, Status

if TYPE_CHECKING:
    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem


@dataclass
class Result:
    """What a solver found. Objective values, utilisation and reasons for unplaced tasks are not
    here on purpose: the evaluator recomputes them from the assignments
    (:func:`taskalloc.problems.evaluate.make_plan`), so every backend is judged the same way.

    ``status`` FEASIBLE/OPTIMAL promises that ``assignments`` satisfy every constraint;
    UNKNOWN means the search ended without a feasible plan (``assignments`` may then hold a
    partial, infeasible attempt, kept so that reports can explain what could not be placed);
    INFEASIBLE means the solver proved that no plan exists.
    """

    solver: str
    status: Status
    assignments: list[Assignment]
    seconds: float
    seed: int | None = None
    bound: dict[str, float] | None = None  # proven lower bound per objective term
    message: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # settings used, for the plan file
    trajectory: list[tuple[float, float, float | None]] = field(default_factory=list)
    # what each trajectory point's value measures, where known (an objective term, "weighted",
    # "fitness"): the term of the progress Point it was recorded with (:func:`solve` labels it)
    stages: list[str | None] = field(default_factory=list)
    # per-generation log of evolutionary solvers: generation, seconds, best, mean, feasible
    generations: list[dict[str, Any]] | None = None
    # INFEASIBLE by the structural checks (no engine ran): each proof, located, one line each
    proofs: list[str] = field(default_factory=list)

    @property
    def has_plan(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)

    def to_plan(self, problem: Problem, *, path: str | None = None) -> Plan:
        """The plan file of this result, every metric recomputed by the evaluator
        (:func:`checked_plan`)."""
        plan, _ = checked_plan(problem, self, path=path)
        return plan


def checked_plan(
    problem: Problem,
    result: Result,
    *,
    path: str | None = None,
    infeasibility: list[str] | None = None,
) -> tuple[Plan, Evaluation]:
    """The plan of a Result and its evaluation: the one step from what an engine found to
    the plan file, for every caller (one problem, a batch, each plan of a Pareto front).

    Objective, bound check, utilisation and reasons are recomputed by the evaluator;
    ``infeasibility`` (default: the structural proofs) lists why no plan exists; ``path`` is
    recorded as ``problem.path``. Raises RuntimeError when a result that promises a plan
    (optimal, feasible) breaks a constraint: an engine's bug, never written as a plan.
    """
    from taskalloc.problems.evaluate import make_plan
    from taskalloc.problems.plan import SolverInfo

    info = SolverInfo(
        name=result.solver,
        status=result.status,
        bound=result.bound,
        seconds=result.seconds,
        seed=result.seed,
        message=result.message,
        options=dict(result.options),
        trajectory=list(result.trajectory),
        stages=list(result.stages),
        generations=result.generations,
    )
    reasons = result.proofs if infeasibility is None else infeasibility
    plan, ev = make_plan(problem, result.assignments, info, path=path, infeasibility=reasons)
    if result.has_plan and not ev.feasible:
        raise RuntimeError(
            f"solver {result.solver} returned an infeasible plan as {result.status}: "
            + "; ".join(v.message for v in ev.violations[:5])
        )
    return plan, ev


class Results:
    """Makes the Results of one run: the solver's name, seed and options are given once, the
    seconds are counted from ``t0``, and ``options`` is copied into each Result as it stands
    then (a run may add to it: scales, model sizes, search statistics)."""

    def __init__(
        self, solver: str, seed: int, options: dict[str, Any], t0: float | None = None
    ) -> None:
        self.solver = solver
        self.seed = seed
        self.options = options
        self.t0 = time.perf_counter() if t0 is None else t0

    @classmethod
    def start(
        cls,
        solver: str,
        *,
        time_limit: float | None,
        workers: int,
        seed: int | None,
        deterministic: bool = False,
        t0: float | None = None,
        **extra: Any,
    ) -> Results:
        """The maker of a run with the options every engine records: ``workers`` (1 when
        ``deterministic``, else at least 1) and ``seed`` (0 for None) normalised, then
        ``extra`` (engine-specific: backend, gap, search mode, ...)."""
        workers = 1 if deterministic else max(1, int(workers))
        seed = int(seed or 0)
        options: dict[str, Any] = {
            "time_limit": time_limit,
            "workers": workers,
            "seed": seed,
            "deterministic": deterministic,
            **extra,
        }
        return cls(solver, seed, options, t0)

    @property
    def workers(self) -> int:
        return int(self.options["workers"])

    def __call__(
        self, status: Status, assignments: list[Assignment], message: str, **kw: Any
    ) -> Result:
        return Result(
            solver=self.solver,
            status=status,
            assignments=assignments,
            seconds=time.perf_counter() - self.t0,
            seed=self.seed,
            message=message,
            options=dict(self.options),
            **kw,
        )
