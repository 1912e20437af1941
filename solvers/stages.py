"""The lexicographic stage driver the exact engines share (CP-SAT and the MILP).

A lexicographic objective is solved as successive stages, one per term, each keeping the
earlier terms at their value; a weighted objective is one stage (``weighted``). For each
stage the driver:

1. takes the term's value on the best plan known so far (the warm start, or an earlier
   stage's plan) and, when that reaches a lower bound known without search (the engine's
   ``trivial`` bound: typically ``unplaced = 0`` after a greedy that places everything),
   marks the stage optimal without solving it (``shortcut``), which leaves its time to the
   next stages;
2. otherwise, if time is left and no stop was asked for, solves it with an equal share of the
   time that is left (:meth:`StageDriver.budget`);
3. records ``(seconds, value, bound)`` on the run's :class:`~taskalloc.solvers.clock.Clock`,
   naming the stage's term, and keeps the term at its value for the later stages
   (:meth:`StageDriver.fix`: ``==`` when proven, ``<=`` otherwise, as the engine decides); a
   stage that finds no solution in its share keeps the term at most the best known plan's
   value and the driver goes on; a stage proven infeasible, or skipped, ends the run.

The engine supplies the solve, the constraints and the units by overriding the hooks; what
happens after a solved stage (CP-SAT's exact balance refinement) is :meth:`StageDriver.refine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .clock import Clock

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

#: what a stage ended with
SOLVED = ("optimal", "feasible")


@dataclass
class Stage:
    """One solve of the lexicographic driver (or the single weighted solve)."""

    name: str  # a term, or "weighted"
    expr: Any  # the engine's expression to minimise
    exact: bool = True  # the engine's objective is the real one (no rounded coefficient)
    outcome: str = "skipped"  # optimal | feasible | none | infeasible | skipped
    value: Any = None  # the term on the stage's plan, in the engine's units
    bound: float | None = None  # proven lower bound, in the engine's units
    kept: bool = False  # no solution, but the term was bounded by the best known plan's value
    shortcut: bool = False  # the best known plan reaches a trivial lower bound: no solve

    @property
    def solved(self) -> bool:
        return self.outcome in SOLVED


@dataclass
class Solved:
    """What one solve of a stage gave: ``status`` optimal | feasible (a plan, ``value`` and
    ``bound`` in the engine's units), none (no plan in time) or infeasible."""

    status: str
    value: Any = None
    bound: float | None = None


S = TypeVar("S", bound=Stage)


class StageDriver(Generic[S]):
    """Runs the stages of one solve (module docstring); engines override the hooks."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.stopped = False
        self.timed_out = False

    # -- hooks ---------------------------------------------------------------------------------

    def reference(self, stage: S) -> Any:
        """The stage's term on the best plan known so far (None: no plan, or not exact)."""
        return None

    def trivial(self, stage: S) -> Any:
        """A lower bound of the stage's term known without search (None: none)."""
        return None

    def reaches(self, value: Any, trivial: Any) -> bool:
        """Whether ``value`` equals the trivial bound (engines with floats allow a tolerance)."""
        return bool(value == trivial)

    def budget(self, stages_left: int) -> float | None:
        """The time of this stage: an equal share of what is left (None: no limit)."""
        left = self.clock.remaining()
        return None if left is None else left / stages_left

    def solve(self, stage: S, budget: float | None) -> Solved:
        """Solve the stage's objective under the constraints of the earlier stages."""
        raise NotImplementedError

    def fix(self, stage: S, value: Any, *, proven: bool, last: bool) -> bool:
        """Keep the term at ``value`` in the later stages (``==`` when ``proven``); return
        whether it is now bounded. ``last``: no stage follows."""
        raise NotImplementedError

    def real(self, stage: S, x: float) -> float:
        """A value or bound of the stage in real units (for the trajectory)."""
        return float(x)

    def refine(self, stage: S, budget: float | None) -> None:
        """After a solved stage, with what is left of its budget (None: no limit)."""

    def can_go_on(self) -> bool:
        if self.clock.stop_requested():
            self.stopped = True
        left = self.clock.remaining()
        if left is not None and left <= 1e-3:
            self.timed_out = True
        return not self.stopped and not self.timed_out

    # -- the driver ----------------------------------------------------------------------------

    def run(self, stages: list[S]) -> None:
        """Every stage in order, until one ends the run (module docstring)."""
        for i, stage in enumerate(stages):
            self.run_stage(stage, len(stages) - i)
            if not stage.solved and not stage.kept:
                break

    def run_stage(self, stage: S, stages_left: int) -> None:
        last = stages_left == 1
        ref = self.reference(stage)
        trivial = self.trivial(stage) if ref is not None else None
        if ref is not None and trivial is not None and self.reaches(ref, trivial):
            stage.outcome, stage.value, stage.bound, stage.shortcut = "optimal", ref, ref, True
            self.fix(stage, ref, proven=True, last=last)
            self.clock.new_stage()
            x = self.real(stage, ref)
            self.clock.record_new(x, x, stage.name)
            return
        if not self.can_go_on():
            return
        budget = self.budget(stages_left)
        began = self.clock.used()
        self.clock.new_stage()
        got = self.solve(stage, budget)
        if got.status == "infeasible":
            stage.outcome = "infeasible"
            return
        if got.status not in SOLVED:
            stage.outcome = "none"
            if ref is not None and self.fix(stage, ref, proven=False, last=last):
                stage.kept = True  # later stages keep what is known
            return
        stage.value, stage.bound, stage.outcome = got.value, got.bound, got.status
        bound = None if got.bound is None else self.real(stage, got.bound)
        self.clock.record_new(self.real(stage, got.value), bound, stage.name)
        if self.fix(stage, got.value, proven=got.status == "optimal", last=last):
            spent = self.clock.used() - began
            self.refine(stage, None if budget is None else budget - spent)


# -- the message ------------------------------------------------------------------------------


def fmt(x: float) -> str:
    return f"{x:.6g}"


def gap_text(value: float, bound: float) -> str:
    """``"1.23% gap"``: the relative gap of ``value`` to its lower ``bound``."""
    if value <= bound + 1e-9:
        return "0% gap"
    return f"{100 * (value - bound) / max(abs(value), 1e-9):.3g}% gap"


def summary(
    problem: Problem, stages: list[S], terms: dict[str, float], bound: dict[str, float]
) -> str:
    """The first part of an exact engine's message: per stage optimal, its gap, not proven or
    not optimised (lexicographic), or the weighted value and its gap (weights)."""
    obj = problem.objective
    if obj.kind == "weights":
        stage = stages[0]
        value = sum(w * terms[t] for t, w in obj.weights.items())
        if stage.outcome == "optimal" and stage.exact:
            return f"weights: optimal ({fmt(value)})"
        if "weighted" in bound:
            return f"weights: {fmt(value)}, {gap_text(value, bound['weighted'])}"
        return f"weights: {fmt(value)}, not proven"
    parts = []
    for stage in stages:
        name = stage.name
        if stage.outcome == "optimal" and stage.exact:
            parts.append(f"{name} optimal")
        elif stage.solved:
            if name in bound:
                parts.append(f"{name} {gap_text(terms[name], bound[name])}")
            else:
                parts.append(f"{name} not proven")
        else:
            parts.append(f"{name} not optimised")
    return "lexicographic: " + ", ".join(parts)
