"""The one shape every backend returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taskalloc.problems.plan import Assignment, Status


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
