"""The one shape every backend returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskalloc.problems.plan import Assignment, Status

if TYPE_CHECKING:
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
    # per-generation log of evolutionary solvers: generation, seconds, best, mean, feasible
    generations: list[dict[str, Any]] | None = None

    @property
    def has_plan(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)


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

    def structural(self, problem: Problem) -> Result | None:
        """INFEASIBLE when the structural pre-checks prove that no plan exists, else None."""
        from taskalloc.problems.proofs import prove_infeasible, structural_summary

        proofs = prove_infeasible(problem)
        if not proofs:
            return None
        return self(Status.INFEASIBLE, [], structural_summary(proofs))
