"""Fronts of engines other than cpsat: ``solvers.tiebreak.settle`` adds the optional tasks a
plan leaves out where they cost no term of the front, so that a point never moves and its plan
places what fits for free (cpsat does this exactly, in tests/solvers/test_pareto.py)."""

from __future__ import annotations

from taskalloc.problems.evaluate import check, evaluate, make_plan
from taskalloc.problems.plan import Assignment, SolverInfo, Status
from taskalloc.problems.problem import Problem
from taskalloc.solvers import pareto
from taskalloc.solvers.result import Result
from taskalloc.solvers.tiebreak import GREEDY_TIEBREAK, settle
from tests.helpers import node, prob, task

TERMS = ["cost", "balance"]


def _problem() -> Problem:
    # r fills a (balance 1 whatever else happens); free fits on b at no cost; costly only
    # costs; big fits nowhere beside the others; gang members and required tasks are not ours
    return prob(
        [node("a", {"cpu": 4}), node("b", {"cpu": 4})],
        [
            task("r", {"cpu": 4}, nodes=["a"]),
            task("free", {"cpu": 1}, required=False, priority=1, nodes=["b"]),
            task("costly", {"cpu": 1}, required=False, priority=5, assign_cost={"b": 2}),
            task("big", {"cpu": 4}, required=False, priority=9, nodes=["a"]),
        ],
    )


def _result(assignments: list[Assignment]) -> Result:
    return Result(solver="ga", status=Status.FEASIBLE, assignments=assignments, seconds=0.0,
                  seed=0, options={"pareto": list(TERMS)})  # fmt: skip


def test_a_free_optional_task_is_added_and_the_point_does_not_move() -> None:
    p = _problem()
    before = _result([Assignment(task="r", replica=0, node="a")])
    (after,) = settle(p, TERMS, [before])
    placed = {a.task for a in after.assignments}
    assert placed == {"r", "free"}  # not costly (cost 2), not big (no room on a)
    old, new = (evaluate(p, x.assignments, reasons=False) for x in (before, after))
    assert new.feasible and [new.terms[t] for t in TERMS] == [old.terms[t] for t in TERMS]
    assert new.terms["unplaced"] < old.terms["unplaced"]
    assert after.options["pareto"]["tiebreak"] == GREEDY_TIEBREAK
    assert "1 optional task added at no cost in the terms" in (after.message or "")
    plan, _ = make_plan(p, after.assignments, SolverInfo(name="ga", status=after.status, seed=0))
    assert check(p, plan).ok


def test_nothing_changes_with_unplaced_as_a_term_or_a_front_that_breaks_ties() -> None:
    p = _problem()
    before = _result([Assignment(task="r", replica=0, node="a")])
    assert settle(p, ["unplaced", "cost"], [before]) == [before]
    tied = _result(before.assignments)
    tied.options["pareto"] = {"tiebreak": "unplaced"}
    assert settle(p, TERMS, [tied]) == [tied]


def test_the_ga_front_through_the_seam_is_settled() -> None:
    results = pareto(_problem(), "ga", TERMS, generations=3, population=8, seed=0, workers=1)
    assert results and all(r.options["pareto"]["tiebreak"] == GREEDY_TIEBREAK for r in results)
    for r in results:
        assert "free" in {a.task for a in r.assignments}
