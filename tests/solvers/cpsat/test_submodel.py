"""One LNS step (solvers/cpsat/submodel.py): the sub-model of a neighbourhood keeps every
constraint, never loses the current plan, leaves the rest alone, and over the whole problem
finds the optimum (brute force)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import greedy
from taskalloc.solvers.cpsat import submodel
from taskalloc.solvers.flat import Flat, Plan
from taskalloc.solvers.scaling import choose_scales
from tests.solving import brute_force, make, node, objective_key, task, tiny_problems

LNS_TERMS = ("unplaced", "cost", "nodes", "moves")


def start(problem: Problem) -> tuple[Flat, Plan]:
    flat = Flat(problem, choose_scales(problem))
    return flat, Plan.from_assignments(flat, greedy.solve(problem).assignments)


def step(flat: Flat, plan: Plan, hood: submodel.Neighbourhood) -> tuple[int, Plan]:
    """Solve the sub-model of ``hood``: (CP-SAT status, the plan with its solution)."""
    order = flat.problem.objective.active()
    sub = submodel.build(flat, plan, hood, order, None)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    status = solver.solve(sub.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, plan
    change, _ = submodel.extract(sub, solver)
    nodes = list(plan.nodes)
    for t, ns in change.items():
        nodes[t] = ns
    return status, Plan(flat, nodes)


def whole(flat: Flat) -> submodel.Neighbourhood:
    return submodel.Neighbourhood(list(range(flat.T)), np.arange(flat.N))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False, terms=LNS_TERMS))
def test_the_whole_problem_as_one_neighbourhood_reaches_the_optimum(data: dict[str, Any]) -> None:
    data["objective"] = {"lexicographic": list(data["objective"].get("lexicographic") or [])}
    if not data["objective"]["lexicographic"]:
        data["objective"] = {"lexicographic": ["unplaced", "cost"]}
    problem = problem_from_dict(data)
    best = brute_force(problem)
    flat, plan = start(problem)
    status, new = step(flat, plan, whole(flat))
    if best is None:  # no plan: the sub-model cannot place every must-place task either
        assert status == cp_model.INFEASIBLE or new.terms["violation"] > 0
        return
    assert status == cp_model.OPTIMAL
    ev = evaluate(problem, new.assignments(), reasons=False)
    assert ev.feasible, [v.message for v in ev.violations]
    assert objective_key(problem)(ev.terms) == best


def test_the_rest_of_the_plan_stays_and_the_current_plan_is_never_lost() -> None:
    # a and b cost, c is free; t sits on a, u on b; only a and c are free nodes, only t moves
    p = make(
        [node("a", cost=5), node("b", cost=5), node("c")],
        [task("t", 6), task("u", 6)],
        objective={"lexicographic": ["unplaced", "cost"]},
    )
    flat = Flat(p, choose_scales(p))
    plan = Plan(flat, [(0,), (1,)])
    status, new = step(flat, plan, submodel.Neighbourhood([0], np.array([0, 2])))
    assert status == cp_model.OPTIMAL
    assert new.nodes == [(2,), (1,)]  # t to the free node; u untouched
    assert new.terms["cost"] < plan.terms["cost"]
    # nothing to gain: the sub-model's optimum is the current plan
    status, same = step(flat, new, submodel.Neighbourhood([0, 1], np.array([1, 2])))
    assert status == cp_model.OPTIMAL
    assert same.terms == new.terms


def test_capacity_left_by_fixed_tasks_separation_and_gangs_hold() -> None:
    p = make(
        [node("a", 10), node("b", 10)],
        [
            task("big", 8),
            task("x", 4, gang="g"),
            task("y", 4, gang="g"),
            task("apart", 1, separate_from=["x"], required=False),
        ],
        objective={"lexicographic": ["unplaced", "nodes"]},
    )
    flat = Flat(p, choose_scales(p))
    plan = Plan(flat, [(0,), (), (), ()])  # big fixed on a; the gang and `apart` unplaced
    free = [1, 2, 3]
    status, new = step(flat, plan, submodel.Neighbourhood(free, np.array([0, 1])))
    assert status == cp_model.OPTIMAL
    ev = evaluate(p, new.assignments(), reasons=False)
    assert ev.feasible, [v.message for v in ev.violations]
    assert new.nodes[0] == (0,)  # fixed
    assert new.nodes[1] == new.nodes[2] == (1,)  # the gang together, where room is left
    assert new.nodes[3] == (0,)  # beside big, never beside x
