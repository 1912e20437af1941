"""The LNS's lower bounds (solvers/cpsat/bounds.py) against brute force: the aggregated LP
never cuts off an optimum, stage bounds are rounded to the terms' grids, and what the bounds
report, prove and say."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.cpsat.bounds import Bounds, _grid
from taskalloc.solvers.flat import Flat, Plan
from taskalloc.solvers.scaling import choose_scales
from tests.solving import brute_force, make, node, task, tiny_problems

LNS_TERMS = ("unplaced", "cost", "nodes", "moves")


def bounds_of(problem: Problem, lp: bool = True) -> tuple[Flat, Bounds]:
    flat = Flat(problem, choose_scales(problem))
    b = Bounds(flat, problem.objective.active(), problem.objective)
    if lp:
        b.compute(None)
    return flat, b


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=LNS_TERMS))
def test_the_lp_never_cuts_off_an_optimum(data: dict[str, Any]) -> None:
    problem = problem_from_dict(data)
    best = brute_force(problem)
    if best is None:
        return
    _, b = bounds_of(problem)
    assert b.ready()
    obj = problem.objective
    if obj.kind == "weights":
        assert b.weighted() is not None and b.weighted() <= best[0] + 1e-6
        return
    lex = b.lexicographic()
    for i, term in enumerate(obj.terms):
        if term not in lex:
            break
        # stage i is bounded for plans whose earlier terms are at their stage bounds
        if all(abs(lex[t] - best[j]) <= 1e-9 for j, t in enumerate(obj.terms[:i])):
            assert lex[term] <= best[i] + 1e-6, (term, lex, best)


def test_trivial_bounds_without_the_lp() -> None:
    # the optional task of 3 replicas has 2 candidate nodes: it can never be placed
    p = make(
        [node("a"), node("b")],
        [task("t"), task("wide", replicas=3, required=False, priority=2)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    _, b = bounds_of(p, lp=False)
    assert b.lexicographic() == {"unplaced": 6.0}  # priority 2 x 3 replicas; later stages: LP
    assert not b.ready()
    q = make([node("a")], [task("t")], objective={"lexicographic": ["nodes", "cost"]})
    assert bounds_of(q, lp=False)[1].lexicographic() == {"nodes": 1.0}  # something must run


def test_bounds_round_up_to_the_grid() -> None:
    assert _grid(2.0000000001, 1.0) == 2.0  # LP noise below the tolerance
    assert _grid(2.1, 1.0) == 3.0
    assert _grid(2.05, 10.0) == 2.1


def test_merge_and_raise_cost_keep_the_highest_bound() -> None:
    p = make(
        [node("a", cost=3), node("b", cost=5)],
        [task("t", 6), task("u", 6)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    _, b = bounds_of(p, lp=False)
    b.merge({"unplaced": 0.0, "cost": 7.5})
    assert b.lexicographic() == {"unplaced": 0.0, "cost": 7.5}
    b.merge({"unplaced": 0.0, "cost": 2.0})  # lower: ignored
    assert b.lexicographic()["cost"] == 7.5
    b.raise_cost(7.95, "Lagrangian")  # rounded up to the cost grid (costs are integers)
    assert b.lexicographic()["cost"] == 8.0 and b.method == "Lagrangian"


def test_proves_reports_and_summarises_a_plan() -> None:
    cheap_a = {"a": 1, "b": 2}
    p = make(
        [node("a"), node("b")],
        [task("t", 5, assign_cost=cheap_a), task("u", 5, assign_cost=cheap_a)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    flat, b = bounds_of(p)
    assert b.lexicographic() == {"unplaced": 0.0, "cost": 2.0}  # the LP is tight here
    best = Plan(flat, [(0,), (0,)])
    assert b.proves(best.terms)
    assert b.report(best.terms) == {"unplaced": 0.0, "cost": 2.0}
    values = {"unplaced": 0.0, "cost": 2.0}
    assert b.summary(best.terms, values) == "lexicographic: unplaced optimal, cost optimal"
    worse = Plan(flat, [(0,), (1,)])  # u on the dearer node: cost 3
    assert not b.proves(worse.terms)
    assert b.report(worse.terms) == {"unplaced": 0.0, "cost": 2.0}
    summary = b.summary(worse.terms, {"unplaced": 0.0, "cost": 3.0})
    assert summary == "lexicographic: unplaced optimal, cost 33.3% gap to the LP bound"


def test_weighted_objectives_get_one_bound() -> None:
    p = make(
        [node("a", cost=3), node("b", cost=5)],
        [task("t", 6), task("u", 6, required=False)],
        objective={"weights": {"unplaced": 10, "cost": 1}},
    )
    flat, b = bounds_of(p)
    assert b.lexicographic() == {}
    both = Plan(flat, [(0,), (1,)])
    assert b.weighted() is not None and b.weighted() <= 8.0 + 1e-9
    assert b.report(both.terms) == {"weighted": b.weighted()}
    assert b.summary(both.terms, {"unplaced": 0.0, "cost": 8.0}).startswith("weights: 8, ")
