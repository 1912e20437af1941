"""The LNS's start for costly fleets (solvers/cpsat/construct.py): when it is used, that it
prefers nodes already paid and then the cheapest capacity, and that it keeps every placement
constraint (a task that does not fit is left out, never forced)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.cpsat.construct import (
    efficient_first_fit,
    force_restore,
    restore,
    wanted,
)
from taskalloc.solvers.flat import Flat, Plan
from taskalloc.solvers.scaling import choose_scales
from tests.solving import make, node, task, tiny_problems


def flat_of(problem: Problem) -> Flat:
    return Flat(problem, choose_scales(problem))


def _costed(data: dict[str, Any]) -> Problem:
    """A generated problem whose nodes cost 1-3 (so cost is a real term)."""
    for i, n in enumerate(data["nodes"]):
        n["cost"] = 1 + i % 3
    return problem_from_dict(data)


def _even_half(flat: Flat) -> tuple[Plan, Plan]:
    """First fit's plan, and its even tasks outside gangs alone (gangs whole or not at all)."""
    whole = efficient_first_fit(flat)
    keep = [ns if t % 2 == 0 and flat.gang[t] < 0 else () for t, ns in enumerate(whole.nodes)]
    return whole, Plan(flat, keep)


def _odd_half(flat: Flat, half: Plan) -> Plan:
    """``half`` completed by first fit (other rooms than first fit's own plan), then only its
    odd tasks and gangs kept."""
    other = efficient_first_fit(flat, half)
    odd = [ns if t % 2 == 1 or flat.gang[t] >= 0 else () for t, ns in enumerate(other.nodes)]
    return Plan(flat, odd)


def _only_required_missing(problem: Problem, plan: Plan) -> None:
    """The plan breaks no constraint; only required tasks it leaves out are reported."""
    ev = evaluate(problem, plan.assignments(), reasons=False)
    assert all(v.kind == "required" for v in ev.violations), [v.message for v in ev.violations]


def test_wanted_for_cost_with_node_costs_right_after_unplaced() -> None:
    costly = make([node("a", cost=3)], [task("t")])
    free = make([node("a")], [task("t")])
    assert wanted(flat_of(costly), ["unplaced", "cost"])
    assert wanted(flat_of(costly), ["cost"])
    assert not wanted(flat_of(free), ["unplaced", "cost"])  # no node costs
    assert not wanted(flat_of(costly), ["unplaced", "nodes", "cost"])
    assert not wanted(flat_of(costly), ["unplaced", "cost", "moves"])
    assert not wanted(flat_of(costly), ["unplaced"])


def test_paid_nodes_first_then_the_cheapest_capacity() -> None:
    # per unit of capacity: big costs 10 / 20, small 4 / 5: big is the efficient one
    p = make(
        [node("small", 5, cost=4), node("big", 20, cost=10), node("other", 20, cost=30)],
        [task(f"t{i}", 4) for i in range(4)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    plan = efficient_first_fit(flat_of(p))
    assert plan.terms["unplaced"] == 0 and plan.terms["violation"] == 0
    assert {n for ns in plan.nodes for n in ns} == {1}  # all four on big: 16 of 20


def test_a_task_that_fits_nowhere_is_left_out() -> None:
    p = make([node("a", 4, cost=1)], [task("t", 3), task("u", 3)])
    plan = efficient_first_fit(flat_of(p))
    assert sorted(len(ns) for ns in plan.nodes) == [0, 1]
    assert plan.terms["violation"] == 1  # a required task is missing: the LNS inserts it


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=("unplaced", "cost")))
def test_every_placement_constraint_holds(data: dict[str, Any]) -> None:
    problem = _costed(data)
    plan = efficient_first_fit(flat_of(problem))
    # only required tasks left out may be missing (gangs: all or none); nothing placed breaks
    # a constraint
    _only_required_missing(problem, plan)


def test_a_start_is_completed_by_ejection() -> None:
    # the start puts s1 on a and s2 on b; x fits only on a, where s1 leaves too little room:
    # s1 steps aside to b, x goes on a, nothing of the start is lost
    p = make(
        [node("a", 4, cost=1), node("b", 4, cost=1)],
        [task("x", 4, nodes=["a"]), task("s1", 2), task("s2", 1)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    flat = flat_of(p)
    start = Plan(flat, [(), (0,), (1,)])
    plan = efficient_first_fit(flat, start)
    assert plan.nodes == [(0,), (1,), (1,)]
    assert plan.terms["unplaced"] == 0 and plan.terms["violation"] == 0
    assert evaluate(p, plan.assignments(), reasons=False).feasible


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=("unplaced", "cost")))
def test_a_completed_start_keeps_every_constraint(data: dict[str, Any]) -> None:
    problem = _costed(data)
    flat = flat_of(problem)
    # half of a plan (gangs whole or not at all) as the start: the rest completed
    _, half = _even_half(flat)
    plan = efficient_first_fit(flat, half)
    _only_required_missing(problem, plan)
    assert plan.terms["unplaced"] <= half.terms["unplaced"]


def test_a_gang_first_fit_cannot_place_is_put_back_where_the_reference_had_it() -> None:
    # the start keeps s1 on a and s2 on b; the gang {g1, g2} is unplaced. First fit puts g1
    # on a (the node it fills most), then g2 (only a) has no room: the gang stays out, and
    # ejection leaves gangs alone. The reference plan (g1 on b, g2 on a) still fits: restored.
    p = make(
        [node("a", 6, cost=1), node("b", 20, cost=1)],
        [
            task("g1", 2, gang="g"),
            task("g2", 5, gang="g", nodes=["a"]),
            task("s1", 1),
            task("s2", 1),
        ],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    flat = flat_of(p)
    start = Plan(flat, [(), (), (0,), (1,)])
    assert efficient_first_fit(flat, start).nodes[:2] == [(), ()]
    ref = Plan(flat, [(1,), (0,), (0,), (1,)])
    plan, count = restore(flat, start, ref)
    assert count == 2 and plan.nodes == ref.nodes
    assert plan.terms["violation"] == 0
    assert evaluate(p, plan.assignments(), reasons=False).feasible
    # what the start placed stays; no room where the reference had it: left out
    crowded = make(
        [node("a", 6, cost=1), node("b", 20, cost=1)],
        [
            task("g1", 2, gang="g"),
            task("g2", 5, gang="g", nodes=["a"]),
            task("s1", 2),
            task("s2", 1),
        ],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    cflat = flat_of(crowded)
    plan, count = restore(cflat, Plan(cflat, [(), (), (0,), (1,)]), Plan(cflat, ref.nodes))
    assert count == 0 and plan.nodes[:2] == [(), ()]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=("unplaced", "cost")))
def test_a_restored_plan_keeps_every_constraint(data: dict[str, Any]) -> None:
    problem = _costed(data)
    flat = flat_of(problem)
    # another plan of half the tasks (a different order of nodes: other rooms), then what it
    # leaves put back where the reference has it when it still fits
    ref, half = _even_half(flat)
    start = _odd_half(flat, half)
    plan, count = restore(flat, start, ref)
    _only_required_missing(problem, plan)
    assert sum(1 for ns in plan.nodes if ns) == sum(1 for ns in start.nodes if ns) + count
    for t, ns in enumerate(plan.nodes):  # placed tasks stay; new ones where the reference is
        assert ns == (start.nodes[t] or ns)
        assert not ns or start.nodes[t] or ns == ref.nodes[t]


def test_a_required_gang_whose_room_was_taken_is_forced_back() -> None:
    # the reference has the gang {g1, g2} on a and b; the plan filled a with s, which fits
    # on c too: restore cannot put the gang back, force_restore moves s to c and can
    p = make(
        [node("a", 6, cost=1), node("b", 6, cost=1), node("c", 6, cost=1)],
        [
            task("g1", 5, gang="g", required=True),
            task("g2", 5, gang="g", required=True),
            task("s", 3, required=True),
        ],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    flat = flat_of(p)
    start = Plan(flat, [(), (), (0,)])
    ref = Plan(flat, [(0,), (1,), (2,)])
    assert restore(flat, start, ref)[1] == 0
    plan, count = force_restore(flat, start, ref)
    assert count == 2 and plan.nodes == [(0,), (1,), (2,)]
    assert plan.terms["violation"] == 0
    assert evaluate(p, plan.assignments(), reasons=False).feasible


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=("unplaced", "cost")))
def test_a_forced_restore_keeps_every_constraint(data: dict[str, Any]) -> None:
    problem = _costed(data)
    flat = flat_of(problem)
    ref, half = _even_half(flat)
    plan, _ = force_restore(flat, _odd_half(flat, half), ref)
    _only_required_missing(problem, plan)
