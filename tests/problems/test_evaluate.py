"""The evaluator and checker on hand-made plans: one test per constraint kind, every objective
term computed by hand, fitness, `check()`, reasons for unplaced tasks, and agreement with the
independent reference checker of shared/hooks."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from taskalloc.problems.evaluate import check, evaluate, fitness, fitness_weights, make_plan
from taskalloc.problems.plan import Plan, SolverInfo, Status
from taskalloc.problems.problem import Problem, load_problem
from tests.helpers import (
    NO_SHARED,
    REFERENCE_CHECKER,
    asg,
    make,
    node,
    prob,
    prob_dict,
    read,
    reference_check,
    task,
    write_problem,
)


def kinds(ev) -> list[str]:
    return [v.kind for v in ev.violations]


def messages(ev) -> list[str]:
    return [v.message for v in ev.violations]


def ok(problem: Problem, assignments) -> None:
    ev = evaluate(problem, assignments)
    assert ev.feasible, messages(ev)


# -- capacity --------------------------------------------------------------------------------


def test_capacity_placement():
    p = prob(
        [node("n", {"cpu": 10}), node("m", {"cpu": 10})],
        [task("a", {"cpu": 6}), task("b", {"cpu": 6})],
    )
    ok(p, [asg("a", "n"), asg("b", "m")])
    ev = evaluate(p, [asg("a", "n"), asg("b", "n")])
    assert messages(ev) == ["node n: cpu load 12 > capacity 10"]
    assert ev.violations[0].kind == "capacity"
    assert ev.violations[0].node == "n"


def test_capacity_is_exact_up_to_tolerance():
    p = prob([node("n", {"cpu": 0.3})], [task("a", {"cpu": 0.1}), task("b", {"cpu": 0.2})])
    ok(p, [asg("a", "n"), asg("b", "n")])  # 0.1 + 0.2 > 0.3 by 5.6e-17 only


def test_missing_resource_has_capacity_zero():
    p = prob([node("cpu", {"cpu": 8})], [task("t", {"cpu": 1, "gpu": 1})])
    ev = evaluate(p, [asg("t", "cpu")])
    assert messages(ev) == ["node cpu: gpu load 1 > capacity 0"]


def _sched_two(start_b: int) -> tuple[Problem, list]:
    p = prob(
        [node("n", {"cpu": 10})],
        [task("a", {"cpu": 6}, duration=10), task("b", {"cpu": 6}, duration=10)],
    )
    return p, [asg("a", "n", 0, 0, 10), asg("b", "n", 0, start_b, start_b + 10)]


def test_capacity_over_time_overlap():
    p, plan = _sched_two(5)
    ev = evaluate(p, plan)
    assert messages(ev) == ["node n: cpu peak load 12 > capacity 10"]


def test_capacity_over_time_back_to_back_touching_is_ok():
    p, plan = _sched_two(10)  # [0, 10) and [10, 20) meet at one instant only
    ok(p, plan)
    assert evaluate(p, plan).terms["balance"] == pytest.approx(0.6)


def test_capacity_over_time_same_start():
    p, plan = _sched_two(0)
    assert kinds(evaluate(p, plan)) == ["capacity"]


# -- replicas --------------------------------------------------------------------------------


def test_replicas_all_or_none():
    p = prob([node("n", count=3)], [task("t", replicas=3, required=False)])
    ok(p, [asg("t", "n-1", 0), asg("t", "n-2", 1), asg("t", "n-3", 2)])
    ok(p, [])
    ev = evaluate(p, [asg("t", "n-1", 0), asg("t", "n-2", 1)])
    assert messages(ev) == ["t: 2 of 3 replicas placed (all or none)"]
    assert ev.violations[0].kind == "replicas"


def test_two_replicas_on_one_node():
    p = prob([node("n", count=2)], [task("t", replicas=2)])
    ev = evaluate(p, [asg("t", "n-1", 0), asg("t", "n-1", 1)])
    assert messages(ev) == ["t: replicas 0 and 1 share node n-1"]


def test_duplicate_replica():
    p = prob([node("n", count=2)], [task("t", replicas=2)])
    ev = evaluate(p, [asg("t", "n-1", 0), asg("t", "n-2", 1), asg("t", "n-2", 0)])
    assert "t: replica 0 is assigned twice" in messages(ev)
    assert not ev.feasible


def test_replica_out_of_range():
    p = prob([node("n", count=2)], [task("t", replicas=1)])
    ev = evaluate(p, [asg("t", "n-1", 0), asg("t", "n-2", 1)])
    assert messages(ev) == ["t: replica 1 does not exist (replicas: 1)"]


# -- allowed nodes ---------------------------------------------------------------------------

FLEET = [
    node("gpu", {"cpu": 8, "gpu": 8}, count=2, labels={"accel": "a100", "gen": 3}),
    node("h100", {"cpu": 8, "gpu": 8}, labels={"accel": "h100", "gen": "4", "spot": True}),
    node("cpu", {"cpu": 8}, labels={"accel": "none"}),
]


def test_allowed_by_pool_id():
    p = prob(FLEET, [task("t", {"cpu": 1}, nodes=["gpu", "cpu"])])
    for n in ("gpu-1", "gpu-2", "cpu"):
        ok(p, [asg("t", n)])
    ev = evaluate(p, [asg("t", "h100")])
    assert messages(ev) == ["t: node h100 is not allowed (nodes [gpu, cpu])"]
    assert ev.violations[0].kind == "allowed"


def test_allowed_by_match_with_list():
    p = prob(FLEET, [task("t", {"cpu": 1}, match={"accel": ["a100", "h100"]})])
    for n in ("gpu-1", "gpu-2", "h100"):
        ok(p, [asg("t", n)])
    assert kinds(evaluate(p, [asg("t", "cpu")])) == ["allowed"]


@pytest.mark.parametrize(
    ("match", "allowed"),
    [
        ({"gen": "3"}, {"gpu-1", "gpu-2"}),  # label 3 (int) ~ "3"
        ({"gen": [4, 5]}, {"h100"}),  # label "4" (str) ~ 4
        ({"gen": [3, 4]}, {"gpu-1", "gpu-2", "h100"}),
        ({"spot": "true"}, {"h100"}),  # booleans compare as true/false
        ({"spot": True, "accel": "h100"}, {"h100"}),
        ({"accel": "tpu"}, set()),
    ],
)
def test_match_compares_as_strings(match, allowed):
    p = prob(FLEET, [task("t", {"cpu": 1}, match=match, required=False)])
    t = p.tasks[0]
    assert {p.nodes[n].id for n in t.allowed} == allowed
    for n in p.nodes:
        ev = evaluate(p, [asg("t", n.id)])
        assert ev.feasible == (n.id in allowed), (n.id, messages(ev))


def test_nodes_and_match_intersect():
    p = prob(FLEET, [task("t", {"cpu": 1}, nodes=["gpu-1", "h100"], match={"accel": "a100"})])
    assert [p.nodes[n].id for n in p.tasks[0].allowed] == ["gpu-1"]


# -- separation, gangs, required ---------------------------------------------------------------


@pytest.mark.parametrize("declared_on", ["a", "b"])
def test_separate_from_both_directions(declared_on):
    a = task("a", separate_from=["b"] if declared_on == "a" else [])
    b = task("b", separate_from=["a"] if declared_on == "b" else [])
    p = prob([node("n", count=2)], [a, b])
    ok(p, [asg("a", "n-1"), asg("b", "n-2")])
    ev = evaluate(p, [asg("a", "n-1"), asg("b", "n-1")])
    assert messages(ev) == ["a: shares node n-1 with b (separate_from)"]  # once, not twice
    assert ev.violations[0].kind == "separation"


def test_separate_from_replicas_of_other_task():
    p = prob([node("n", count=3)], [task("a", replicas=2, separate_from=["b"]), task("b")])
    ok(p, [asg("a", "n-1", 0), asg("a", "n-2", 1), asg("b", "n-3")])
    assert kinds(evaluate(p, [asg("a", "n-1", 0), asg("a", "n-2", 1), asg("b", "n-2")])) == [
        "separation"
    ]


def test_gang_partly_placed():
    tasks = [task(t, gang="g", required=False) for t in ("x", "y", "z")]
    p = prob([node("n")], tasks)
    ok(p, [])
    ok(p, [asg("x", "n"), asg("y", "n"), asg("z", "n")])
    ev = evaluate(p, [asg("x", "n")])
    assert messages(ev) == ["gang g: placed partly (missing y, z)"]
    assert ev.violations[0].kind == "gang"


def test_required_task_missing():
    p = prob([node("n")], [task("must"), task("may", required=False)])
    ok(p, [asg("must", "n")])
    ev = evaluate(p, [asg("may", "n")])
    assert messages(ev) == ["must: required task is not placed"]
    assert ev.violations[0].kind == "required"


# -- time ------------------------------------------------------------------------------------


def _chain(**b_kw) -> Problem:
    return prob(
        [node("n", {"cpu": 10}, count=2)],
        [
            task("a", duration=10, replicas=2, required=False),
            task("b", duration=5, after=["a"], **b_kw),
        ],
    )


def test_precedence():
    p = _chain()
    a = [asg("a", "n-1", 0, 0, 10), asg("a", "n-2", 1, 3, 13)]
    ok(p, [*a, asg("b", "n-1", 0, 13, 18)])
    ev = evaluate(p, [*a, asg("b", "n-1", 0, 12, 17)])  # after replica 0, before replica 1
    assert messages(ev) == ["b replica 0: starts at 12 before a ends at 13"]
    assert ev.violations[0].kind == "precedence"


def test_precedence_predecessor_unplaced():
    p = _chain()
    ev = evaluate(p, [asg("b", "n-1", 0, 0, 5)])
    assert messages(ev) == ["b: comes after a, which is not placed"]


def test_release_deadline_horizon():
    p = prob(
        [node("n")],
        [task("t", duration=10, release=5, deadline=20)],
        horizon=18,
    )
    ok(p, [asg("t", "n", 0, 5, 15)])
    ok(p, [asg("t", "n", 0, 8, 18)])  # ends exactly at the horizon
    assert messages(evaluate(p, [asg("t", "n", 0, 4, 14)])) == [
        "t replica 0: starts at 4 before its release 5"
    ]
    assert messages(evaluate(p, [asg("t", "n", 0, 9, 19)])) == [
        "t replica 0: ends at 19 after the horizon 18"
    ]
    p2 = prob([node("n")], [task("t", duration=10, deadline=20)])
    ok(p2, [asg("t", "n", 0, 10, 20)])
    assert messages(evaluate(p2, [asg("t", "n", 0, 11, 21)])) == [
        "t replica 0: ends at 21 after its deadline 20"
    ]


def test_negative_start():
    p = prob([node("n")], [task("t", duration=3)])
    assert messages(evaluate(p, [asg("t", "n", 0, -1, 2)])) == ["t replica 0: starts at -1 < 0"]


def test_scheduling_needs_start_and_end():
    p = prob([node("n")], [task("t", duration=3)])
    ev = evaluate(p, [asg("t", "n")])
    assert kinds(ev) == ["time", "required"]


SPEEDS = [
    node("slow", {"cpu": 10}, speed=0.5),
    node("fast", {"cpu": 10}, speed=3),
    node("pool", {"cpu": 10}, count=2, speed=2),
]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"slow": 20, "fast": 4, "pool-1": 5, "pool-2": 5}),  # ceil(10 / speed)
        ({"duration_on": {"pool": 7}}, {"slow": 20, "fast": 4, "pool-1": 7, "pool-2": 7}),
        (
            {"duration_on": {"pool": 7, "pool-2": 1, "slow": 12}},  # member key wins over pool
            {"slow": 12, "fast": 4, "pool-1": 7, "pool-2": 1},
        ),
    ],
)
def test_duration_on_nodes(extra, expected):
    p = prob(SPEEDS, [task("t", duration=10, **extra)])
    for n, d in expected.items():
        ok(p, [asg("t", n, 0, 0, d)])
        ev = evaluate(p, [asg("t", n, 0, 0, d + 1)])
        assert messages(ev) == [f"t replica 0: runs {d + 1} on {n}, its duration there is {d}"]


def test_demand_on_pool_and_member():
    nodes = [node("big", {"cpu": 4, "gpu": 1}, count=3), node("other", {"cpu": 4})]
    t = task("t", {"cpu": 8, "gpu": 1}, demand_on={"big": {"cpu": 2}, "big-3": {"cpu": 6}})
    p = prob(nodes, [t])
    ok(p, [asg("t", "big-1")])  # pool key: cpu 2, and no gpu at all (the map replaces demand)
    assert messages(evaluate(p, [asg("t", "big-3")])) == ["node big-3: cpu load 6 > capacity 4"]
    assert messages(evaluate(p, [asg("t", "other")])) == [
        "node other: cpu load 8 > capacity 4",
        "node other: gpu load 1 > capacity 0",
    ]


# -- the plan itself --------------------------------------------------------------------------


def test_unknown_task_and_node_in_plan():
    p = prob([node("n")], [task("t", required=False)])
    ev = evaluate(p, [asg("ghost", "n"), asg("t", "nowhere")])
    assert messages(ev) == [
        "assignment names unknown task 'ghost'",
        "t: assignment names unknown node 'nowhere'",
    ]
    assert set(kinds(ev)) == {"plan"}


# -- objective terms by hand -----------------------------------------------------------------


def test_unplaced_term():
    p = prob(
        [node("n", count=3)],
        [
            task("a", priority=2, replicas=3, required=False),
            task("b", priority=5, required=False),
            task("c", priority=7),
            task("d", required=False),  # default priority 1
        ],
    )
    ev = evaluate(p, [asg("c", "n-1")])
    assert ev.feasible
    assert ev.terms["unplaced"] == 2 * 3 + 5 + 1


def test_cost_term_pool_keys_and_node_cost_once():
    p = prob(
        [node("gpu", {"cpu": 10}, count=2, cost=10), node("cpu", {"cpu": 10}, cost=1.5)],
        [
            task("a", replicas=2, assign_cost={"gpu": 3, "gpu-2": 1}),
            task("b", assign_cost={"cpu": 0.25}),
            task("c"),
        ],
    )
    plan = [asg("a", "gpu-1", 0), asg("a", "gpu-2", 1), asg("b", "gpu-1"), asg("c", "gpu-1")]
    ev = evaluate(p, plan)
    assert ev.feasible
    assert ev.terms["cost"] == 3 + 1 + 10 + 10  # b costs nothing on gpu-1; gpu-1 paid once
    assert ev.terms["nodes"] == 2
    ev = evaluate(p, [*plan[:3], asg("c", "cpu")])
    assert ev.terms["cost"] == pytest.approx(3 + 1 + 10 + 10 + 1.5)
    assert ev.terms["nodes"] == 3


def test_balance_placement():
    p = prob(
        [node("n", {"cpu": 10, "memory": 100}), node("m", {"cpu": 4, "gpu": 0})],
        [task("a", {"cpu": 5, "memory": 80}), task("b", {"cpu": 1, "gpu": 0})],
    )
    ev = evaluate(p, [asg("a", "n"), asg("b", "m")])
    assert ev.terms["balance"] == pytest.approx(0.8)  # memory on n; gpu capacity 0 is skipped
    assert ev.utilisation == {"n": {"cpu": 0.5, "memory": 0.8}, "m": {"cpu": 0.25}}


def test_balance_scheduling_is_peak():
    p = prob(
        [node("n", {"cpu": 10})],
        [task("a", {"cpu": 4}, duration=10), task("b", {"cpu": 4}, duration=10)],
    )
    assert evaluate(p, [asg("a", "n", 0, 0, 10), asg("b", "n", 0, 5, 15)]).terms[
        "balance"
    ] == pytest.approx(0.8)
    assert evaluate(p, [asg("a", "n", 0, 0, 10), asg("b", "n", 0, 10, 20)]).terms[
        "balance"
    ] == pytest.approx(0.4)


def test_makespan_and_tardiness():
    p = prob(
        [node("n", {"cpu": 10}, count=2)],
        [
            task("a", duration=12, replicas=2, priority=3, due=10),
            task("b", duration=4, priority=2, due=20),
            task("c", duration=1),  # no due date
        ],
    )
    plan = [
        asg("a", "n-1", 0, 0, 12),  # 2 late
        asg("a", "n-2", 1, 3, 15),  # 5 late
        asg("b", "n-1", 0, 12, 16),  # early
        asg("c", "n-2", 0, 20, 21),
    ]
    ev = evaluate(p, plan)
    assert ev.feasible
    assert ev.terms["makespan"] == 21
    assert ev.terms["tardiness"] == 3 * (2 + 5)


def test_placement_has_no_scheduling_terms():
    p = prob([node("n")], [task("t")])
    assert set(evaluate(p, [asg("t", "n")]).terms) == {
        "unplaced",
        "cost",
        "nodes",
        "balance",
        "moves",
    }


def test_moves_term():
    p = prob(
        [node("n", count=3), node("pool", count=2)],
        [
            task("a", replicas=2, current="n-1"),
            task("b", current="pool"),  # a pool id: any member is where it runs today
            task("c"),  # no current: never a move
        ],
    )
    ev = evaluate(p, [asg("a", "n-1", 0), asg("a", "n-2", 1), asg("b", "pool-2"), asg("c", "n-3")])
    assert ev.terms["moves"] == 1
    ev = evaluate(p, [asg("a", "n-3", 0), asg("a", "n-2", 1), asg("b", "n-1"), asg("c", "n-3")])
    assert ev.terms["moves"] == 3


# -- fitness ---------------------------------------------------------------------------------


def test_fitness_weights_sum():
    p = prob(
        [node("n", cost=2.5)],
        [task("a", required=False, priority=4), task("b")],
        objective={"weights": {"unplaced": 100, "cost": 1, "nodes": 0.5}},
    )
    ev = evaluate(p, [asg("b", "n")])
    assert ev.objective == {"unplaced": 4, "cost": 2.5, "nodes": 1}
    assert ev.fitness == pytest.approx(100 * 4 + 2.5 + 0.5)
    assert fitness(p, ev.terms) == ev.fitness


def _lex_problem(terms: list[str]) -> Problem:
    return prob(
        [node("cheap", {"cpu": 2}, cost=1), node("dear", {"cpu": 4}, cost=9)],
        [task(f"t{i}", {"cpu": 1}, priority=i, required=False) for i in range(1, 5)],
        objective={"lexicographic": terms},
    )


@pytest.mark.parametrize(
    "terms",
    [
        ["unplaced", "cost"],
        ["cost", "unplaced"],
        ["nodes", "unplaced", "cost"],
        ["unplaced", "nodes"],
    ],
)
def test_lexicographic_fitness_orders_like_the_terms(terms):
    """Over every plan of a small instance: better in an earlier term => lower fitness."""
    p = _lex_problem(terms)
    evals = []
    for where in itertools.product([None, "cheap", "dear"], repeat=4):
        plan = [asg(f"t{i + 1}", n) for i, n in enumerate(where) if n]
        ev = evaluate(p, plan)
        if ev.feasible:
            evals.append(ev)
    assert len(evals) > 20
    w = fitness_weights(p)
    assert list(w) == terms and w[terms[-1]] == 1
    for x, y in itertools.combinations(evals, 2):
        kx = tuple(x.terms[t] for t in terms)
        ky = tuple(y.terms[t] for t in terms)
        if kx < ky:
            assert x.fitness < y.fitness, (kx, ky)
        elif ky < kx:
            assert y.fitness < x.fitness, (kx, ky)
        else:
            assert x.fitness == pytest.approx(y.fitness)


def test_unplaced_first_places_an_expensive_optional_task():
    p = _lex_problem(["unplaced", "cost"])
    placed = evaluate(p, [asg(f"t{i}", "dear") for i in range(1, 5)])
    left_out = evaluate(p, [asg("t2", "cheap"), asg("t3", "cheap")])  # t1, t4 out
    assert placed.terms["cost"] > left_out.terms["cost"]
    assert placed.fitness < left_out.fitness


# -- check() ---------------------------------------------------------------------------------


def _simple() -> tuple[Problem, list]:
    p = prob([node("n", cost=4)], [task("t", {"cpu": 3})])
    return p, [asg("t", "n")]


def test_check_ok_on_made_plan():
    p, a = _simple()
    rep = check(p, make(p, a))
    assert rep.ok and rep.violations == [] and rep.warnings == []


def test_check_stated_objective_differs():
    p, a = _simple()
    plan = make(p, a)
    assert plan.solver.objective == {"unplaced": 0, "cost": 4}
    plan.solver.objective = {"unplaced": 0, "cost": 3}
    rep = check(p, plan)
    assert not rep.ok
    assert [(v.kind, v.message) for v in rep.violations] == [
        ("objective", "objective cost: plan states 3, recomputed 4")
    ]


def test_check_objective_relative_tolerance():
    p, a = _simple()
    plan = make(p, a)
    plan.solver.objective = {"unplaced": 0, "cost": 4 * (1 + 1e-7)}
    assert check(p, plan).ok
    plan.solver.objective = {"unplaced": 0, "cost": 4 * (1 + 1e-5)}
    assert not check(p, plan).ok


def test_check_missing_and_unknown_terms():
    p, a = _simple()
    plan = make(p, a)
    plan.solver.objective = {"unplaced": 0, "makespan": 0}
    msgs = [v.message for v in check(p, plan).violations]
    assert msgs == [
        "objective term 'makespan' is not defined for this problem",
        "objective term(s) cost not stated",
    ]
    plan.solver.objective = None
    assert [v.message for v in check(p, plan).violations] == [
        "status is feasible but no objective is stated"
    ]


def test_check_sha_mismatch_is_a_warning_only():
    p, a = _simple()
    plan = make(p, a)
    plan.problem_sha256 = "0" * 64
    rep = check(p, plan)
    assert rep.ok
    assert rep.warnings == [
        "the plan was made for a file with other bytes (sha256 differs); "
        "checking it against this problem anyway"
    ]


def test_check_reports_constraint_violations():
    p = prob([node("n", {"cpu": 4})], [task("a", {"cpu": 3}), task("b", {"cpu": 3})])
    plan = make(p, [asg("a", "n"), asg("b", "n")])
    rep = check(p, plan)
    assert not rep.ok
    assert [v.kind for v in rep.violations] == ["capacity"]


def test_make_plan_fills_objective_metrics_and_order():
    p = prob([node("n", count=2)], [task("a"), task("b", replicas=2)])
    plan, ev = make_plan(
        p,
        [asg("b", "n-2", 1), asg("a", "n-1"), asg("b", "n-1", 0)],
        SolverInfo(name="test", status=Status.FEASIBLE),
    )
    assert [(x.task, x.replica) for x in plan.assignments] == [("a", 0), ("b", 0), ("b", 1)]
    assert plan.solver.objective == ev.objective == {"unplaced": 0, "cost": 0}
    assert plan.metrics["feasible"] is True
    assert plan.metrics["placed_replicas"] == 3
    assert plan.problem_sha256 == p.sha256


# -- reasons for unplaced tasks --------------------------------------------------------------


def reason(problem: Problem, assignments, task_id: str):
    ev = evaluate(problem, assignments)
    (u,) = [u for u in ev.unplaced if u.task == task_id]
    return u


def test_reason_formats_example():
    p = prob(
        [node("a100", {"gpu": 8}, count=2)],
        [task("busy", {"gpu": 6}, replicas=2), task("batch-etl", {"gpu": 4}, required=False)],
    )
    u = reason(p, [asg("busy", "a100-1", 0), asg("busy", "a100-2", 1)], "batch-etl")
    assert u.reason == "needs gpu 4; the largest free gpu on an allowed node is 2"
    assert u.details == ("node a100-1: gpu 4 needed, 2 free", "node a100-2: gpu 4 needed, 2 free")


def test_reason_names_excluded_nodes():
    p = prob(FLEET, [task("t", {"cpu": 9}, match={"accel": "a100"}, required=False)])
    u = reason(p, [], "t")
    assert u.reason == "needs cpu 9; the largest free cpu on an allowed node is 8"
    assert u.details[0] == "2 nodes excluded by match accel=a100"
    assert u.details[1:] == ("node gpu-1: cpu 9 needed, 8 free", "node gpu-2: cpu 9 needed, 8 free")


def test_reason_separation():
    p = prob([node("n1")], [task("x", separate_from=["y"], required=False), task("y")])
    u = reason(p, [asg("y", "n1")], "x")
    assert u.reason == "no allowed node can take it: 1 node runs a task it must be kept apart from"
    assert u.details == ("node n1: runs y (separate_from)",)


def test_reason_replicas_shortfall():
    p = prob(
        [node("n", count=3)],
        [task("blocker", {"cpu": 10}), task("r", {"cpu": 2}, replicas=3, required=False)],
    )
    u = reason(p, [asg("blocker", "n-1")], "r")
    assert (
        u.reason == "needs 3 replicas on distinct nodes; only 2 allowed nodes have room (n-2, n-3)"
    )
    assert u.details == (
        "node n-1: cpu 2 needed, 0 free",
        "node n-2: has room",
        "node n-3: has room",
    )


def test_reason_gang_member_blocked():
    p = prob(
        [node("n", count=2)],
        [task("x", gang="g", required=False), task("y", {"cpu": 20}, gang="g", required=False)],
    )
    ev = evaluate(p, [])
    why = {u.task: u.reason for u in ev.unplaced}
    assert why["y"] == "needs cpu 20; the largest free cpu on an allowed node is 10"
    assert why["x"] == (
        "gang g is placed all or none, and member y cannot be placed: "
        "needs cpu 20; the largest free cpu on an allowed node is 10"
    )


def test_reason_left_out_but_fits():
    p = prob([node("n", count=2)], [task("opt", required=False)])
    assert reason(p, [], "opt").reason == (
        "not required, and the solver left it out; it fits now on 2 allowed nodes (n-1, n-2)"
    )


def test_reason_predecessor_unplaced():
    p = prob(
        [node("n")],
        [
            task("a", {"cpu": 1}, duration=5, required=False),
            task("b", duration=5, after=["a"], required=False),
        ],
    )
    assert reason(p, [], "b").reason == "it comes after a, which is not placed"


def test_reason_no_time_window_before_deadline():
    p = prob(
        [node("n", {"cpu": 10})],
        [
            task("busy", {"cpu": 10}, duration=10),
            task("late", duration=5, deadline=8, required=False),
        ],
    )
    u = reason(p, [asg("busy", "n", 0, 0, 10)], "late")
    assert u.reason == "no allowed node can take it: no time window on 1 node"
    assert u.details == ("node n: no window of 5 with its demand free from 0 by 8",)


def test_reason_release_plus_duration_past_deadline():
    p = prob(
        [node("n"), node("m")],
        [
            task("t", {"cpu": 2}, duration=5, release=3, deadline=6, required=False),
            task("u", duration=1),
        ],
    )
    u = reason(p, [asg("u", "n", 0, 0, 1)], "t")
    assert u.reason == "no allowed node can take it: no time window on 2 nodes"
    assert u.details == (
        "node n: earliest start 3 + duration 5 = 8 > 6",
        "node m: earliest start 3 + duration 5 = 8 > 6",
    )


def test_reason_window_found_after_busy_interval():
    p = prob(
        [node("n", {"cpu": 10})],
        [task("busy", {"cpu": 10}, duration=10), task("later", duration=5, required=False)],
    )
    u = reason(p, [asg("busy", "n", 0, 0, 10)], "later")
    assert u.reason == "not required, and the solver left it out; it fits now on 1 allowed node (n)"


def test_reason_scheduling_task_too_big_for_every_node():
    p = prob([node("n", {"cpu": 10})], [task("a", {"cpu": 20}, duration=5, required=False)])
    u = reason(p, [], "a")
    assert u.details == ("node n: cpu 20 needed, capacity 10",)
    assert "time window" not in u.reason
    assert "cpu" in u.reason


# -- cross-check with the independent reference checker -----------------------------------------

needs_reference = pytest.mark.skipif(
    REFERENCE_CHECKER is None or not REFERENCE_CHECKER.exists(),
    reason=f"the reference checker (shared/hooks/reference_check.py) is not there: {NO_SHARED}",
)


def _cross_check(tmp_path: Path, data: dict, assignments: list, name: str = "p") -> None:
    problem_path = write_problem(tmp_path / f"{name}.json", data)
    problem = load_problem(str(problem_path))
    plan = make(problem, assignments)
    plan_path = tmp_path / f"{name}-plan.json"
    plan_path.write_text(plan.dumps("json"), encoding="utf-8")
    ours = evaluate(problem, plan.assignments)
    ref = reference_check(problem_path, plan_path)
    assert ref["feasible"] == ours.feasible, (ref, messages(ours))
    assert set(ref["terms"]) == set(ours.terms)
    for term, value in ref["terms"].items():
        assert math.isclose(value, ours.terms[term], rel_tol=1e-9, abs_tol=1e-9), term
    if not ours.feasible:
        assert ref["n_violations"] >= 1


CROSS_CASES = {
    "placement-feasible": (
        prob_dict(
            [
                node("gpu", {"cpu": 16, "gpu": 4}, count=2, cost=5, labels={"accel": "a100"}),
                node("cpu", {"cpu": 32}, cost=1, labels={"accel": "none"}),
            ],
            [
                task(
                    "serve",
                    {"cpu": 4, "gpu": 2},
                    replicas=2,
                    match={"accel": ["a100"]},
                    assign_cost={"gpu": 2, "gpu-2": 1},
                    current="gpu-1",
                ),
                task("api", {"cpu": 8}, demand_on={"gpu": {"cpu": 2}}, separate_from=["serve"]),
                task("opt", {"cpu": 40}, required=False, priority=3),
                task("etl", {"cpu": 4}, current="gpu-2"),
            ],
            objective={"weights": {"unplaced": 10, "cost": 1, "balance": 5, "moves": 2}},
        ),
        [asg("serve", "gpu-1", 0), asg("serve", "gpu-2", 1), asg("api", "cpu"), asg("etl", "cpu")],
    ),
    "placement-over-capacity": (
        prob_dict(
            [node("n", {"cpu": 10, "memory": 64}, count=2, cost=2)],
            [task("a", {"cpu": 6, "memory": 40}), task("b", {"cpu": 6, "memory": 20})],
        ),
        [asg("a", "n-1"), asg("b", "n-1")],
    ),
    "placement-separation-broken": (
        prob_dict(
            [node("n", count=2)],
            [task("a"), task("b", separate_from=["a"])],
        ),
        [asg("a", "n-1"), asg("b", "n-1")],
    ),
    "scheduling-feasible": (
        prob_dict(
            [node("h100", {"gpu": 8}, count=2, speed=2), node("l4", {"gpu": 4}, speed=0.5)],
            [
                task("prep", {}, duration=3),
                task(
                    "train",
                    {"gpu": 8},
                    duration=10,
                    after=["prep"],
                    duration_on={"h100-2": 4},
                    due=6,
                    priority=2,
                ),
                task("eval", {"gpu": 2}, duration=3, replicas=2, after=["train"], due=9),
                task("side", {"gpu": 4}, duration=4, release=1),
            ],
            horizon=30,
            objective={"lexicographic": ["unplaced", "tardiness", "makespan"]},
        ),
        [
            asg("prep", "l4", 0, 0, 6),
            asg("train", "h100-2", 0, 6, 10),
            asg("eval", "h100-1", 0, 10, 12),
            asg("eval", "l4", 1, 10, 16),
            asg("side", "l4", 0, 1, 9),
        ],
    ),
    "scheduling-overlap-and-late": (
        prob_dict(
            [node("n", {"cpu": 10})],
            [
                task("a", {"cpu": 6}, duration=10, deadline=12),
                task("b", {"cpu": 6}, duration=10, after=["a"]),
            ],
        ),
        [asg("a", "n", 0, 5, 15), asg("b", "n", 0, 10, 20)],
    ),
}


@needs_reference
@pytest.mark.parametrize("case", sorted(CROSS_CASES))
def test_reference_checker_agrees(case, tmp_path):
    data, assignments = CROSS_CASES[case]
    _cross_check(tmp_path, data, assignments, case)


@needs_reference
def test_reference_checker_agrees_on_example_plan(tmp_path):
    """A hand-made plan for an example file (read from the file itself, so the sha matches)."""
    problem = read("examples/training-pipeline.yaml")
    plan = make(problem, [asg("ingest-web-crawl", "cpu-1", 0, 0, 60)], Status.UNKNOWN)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan.dumps("json"), encoding="utf-8")
    ref = reference_check(Path(problem.source.name), plan_path)
    ours = evaluate(problem, plan.assignments)
    assert ref["feasible"] is False and ours.feasible is False
    for term, value in ref["terms"].items():
        assert math.isclose(value, ours.terms[term], rel_tol=1e-9, abs_tol=1e-9), term


def test_plan_metrics_match_the_evaluation():
    p, a = _simple()
    plan: Plan = make(p, a)
    data = json.loads(plan.dumps("json"))
    ev = evaluate(p, a)
    assert data["metrics"]["terms"] == ev.terms
    assert data["metrics"]["fitness"] == ev.fitness
    assert data["metrics"]["utilisation"] == {"n": {"cpu": 0.3}}
