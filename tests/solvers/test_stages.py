"""The lexicographic stage driver on a scripted engine: shortcuts, budgets, kept terms,
infeasibility, refinement, and the points it records (each naming its stage's term)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from taskalloc.solvers.clock import Clock, Point
from taskalloc.solvers.stages import Solved, Stage, StageDriver, gap_text, summary
from tests.helpers import node, prob, task


@dataclass
class Scripted(StageDriver[Stage]):
    """Answers each solve from ``answers`` (term -> Solved) and logs every hook call."""

    clock: Clock
    answers: dict[str, Solved] = field(default_factory=dict)
    known: dict[str, float] = field(default_factory=dict)  # the best known plan's terms
    bounds: dict[str, float] = field(default_factory=dict)  # trivial bounds
    log: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.clock)

    def reference(self, stage: Stage) -> Any:
        return self.known.get(stage.name)

    def trivial(self, stage: Stage) -> Any:
        return self.bounds.get(stage.name)

    def solve(self, stage: Stage, budget: float | None) -> Solved:
        self.log.append(("solve", stage.name, budget))
        got = self.answers[stage.name]
        if got.value is not None:
            self.known[stage.name] = got.value
        return got

    def fix(self, stage: Stage, value: Any, *, proven: bool, last: bool) -> bool:
        self.log.append(("fix", stage.name, value, proven, last))
        return True

    def refine(self, stage: Stage, budget: float | None) -> None:
        self.log.append(("refine", stage.name))


def stages(*names: str) -> list[Stage]:
    return [Stage(n, expr=None) for n in names]


def test_each_stage_gets_an_equal_share_of_what_is_left() -> None:
    run = Scripted(
        Clock(None),
        answers={"unplaced": Solved("optimal", 0, 0.0), "cost": Solved("feasible", 12, 10.0)},
    )
    s = stages("unplaced", "cost")
    run.run(s)
    assert [x.outcome for x in s] == ["optimal", "feasible"]
    assert run.log == [
        ("solve", "unplaced", None),
        ("fix", "unplaced", 0, True, False),
        ("refine", "unplaced"),
        ("solve", "cost", None),
        ("fix", "cost", 12, False, True),
        ("refine", "cost"),
    ]
    answers = {"a": Solved("optimal", 1, 1.0), "b": Solved("optimal", 2, 2.0)}
    timed = Scripted(Clock(90.0), answers=answers)
    timed.run(stages("a", "b"))
    budgets = [e[2] for e in timed.log if e[0] == "solve"]
    assert 44.0 < budgets[0] <= 45.0  # 90 s over two stages
    assert budgets[1] > budgets[0]  # the first stage took nearly nothing: the rest is left


def test_a_known_plan_at_the_trivial_bound_skips_the_solve() -> None:
    seen: list[Point] = []
    run = Scripted(
        Clock(None, progress=seen.append),
        answers={"cost": Solved("optimal", 7, 7.0)},
        known={"unplaced": 0},
        bounds={"unplaced": 0},
    )
    s = stages("unplaced", "cost")
    run.run(s)
    assert s[0].shortcut and s[0].outcome == "optimal" and s[0].value == s[0].bound == 0
    assert ("solve", "unplaced", None) not in run.log
    assert ("fix", "unplaced", 0, True, False) in run.log
    assert [(p.term, p.value, p.bound) for p in seen] == [("unplaced", 0, 0), ("cost", 7, 7)]


def test_no_solution_keeps_the_known_value_and_goes_on() -> None:
    run = Scripted(
        Clock(None),
        answers={"cost": Solved("none"), "nodes": Solved("optimal", 3, 3.0)},
        known={"cost": 40},
    )
    s = stages("cost", "nodes")
    run.run(s)
    assert s[0].outcome == "none" and s[0].kept
    assert ("fix", "cost", 40, False, False) in run.log
    assert s[1].outcome == "optimal"


def test_no_solution_and_nothing_known_ends_the_run() -> None:
    run = Scripted(Clock(None), answers={"cost": Solved("none")})
    s = stages("cost", "nodes")
    run.run(s)
    assert s[0].outcome == "none" and not s[0].kept
    assert s[1].outcome == "skipped"


def test_infeasible_first_stage_ends_the_run() -> None:
    run = Scripted(Clock(None), answers={"unplaced": Solved("infeasible")})
    s = stages("unplaced", "cost")
    run.run(s)
    assert [x.outcome for x in s] == ["infeasible", "skipped"]
    assert not any(e[0] == "fix" for e in run.log)


def test_stop_or_time_up_skips_the_rest() -> None:
    stop = threading.Event()
    stop.set()
    run = Scripted(Clock(None, stop=stop))
    s = stages("unplaced")
    run.run(s)
    assert s[0].outcome == "skipped" and run.stopped and not run.log
    late = Scripted(Clock(0.0))
    late.run(stages("cost"))
    assert late.timed_out and not late.log


def test_units_and_negative_bounds_in_the_trajectory() -> None:
    class Scaled(Scripted):
        def real(self, stage: Stage, x: float) -> float:
            return x / 100

    run = Scaled(Clock(None), answers={"cost": Solved("feasible", 250, -3.0)})
    run.run(stages("cost"))
    assert [p[1:] for p in run.clock.trajectory] == [(2.5, 0.0)]  # no term is below 0


def test_summary_and_gap() -> None:
    assert gap_text(10.0, 10.0) == "0% gap"
    assert gap_text(10.0, 9.0) == "10% gap"
    p = prob([node("a")], [task("t")])
    s = stages("unplaced", "cost")
    s[0].outcome, s[1].outcome = "optimal", "feasible"
    terms = {"unplaced": 0.0, "cost": 10.0}
    assert summary(p, s, terms, {"cost": 9.0}) == "lexicographic: unplaced optimal, cost 10% gap"
    assert summary(p, s, terms, {}) == "lexicographic: unplaced optimal, cost not proven"
    s[1].outcome = "none"
    assert summary(p, s, terms, {}) == "lexicographic: unplaced optimal, cost not optimised"
    s[0].exact = False  # a rounded objective is never called optimal
    assert summary(p, s, terms, {"unplaced": 0.0}).startswith("lexicographic: unplaced 0% gap")
