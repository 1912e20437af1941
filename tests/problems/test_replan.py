"""Replanning (problems/replan.py and taskalloc.replan / whatif): hand-made cases whose
optimum is known by hand, on the greedy and on CP-SAT; every new plan passes check."""

from __future__ import annotations

from typing import Any

import pytest

import taskalloc
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment
from taskalloc.problems.replan import Changes, ReplanError, replan_problem, scenarios
from taskalloc.problems.source import InputError
from tests.helpers import make as make_plan_file
from tests.replanning import TODAY, fleet

ENGINES = ["greedy", "cpsat"]


def today(problem: Any, where: dict[str, str] = TODAY) -> Any:
    return make_plan_file(problem, [Assignment(t, 0, n) for t, n in where.items()])


def nodes_of(plan: Any) -> dict[str, str]:
    return {a.task: a.node for a in plan.assignments}


def solve(problem: Any, plan: Any, engine: str, **changes: Any) -> Any:
    out = taskalloc.replan(problem, plan, engine=engine, time_limit=10, **changes)
    assert taskalloc.check(out.problem, out.plan).ok
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_after_a_failure_only_what_must_move_moves(engine: str) -> None:
    p = taskalloc.load(fleet())
    out = solve(p, today(p), engine, fail=["n1"])
    # a and b must leave n1; only n3 has room for both (8 - 1 = 7 >= 4); c and d stay
    assert nodes_of(out.plan) == {"a": "n3", "b": "n3", "c": "n2", "d": "n3"}
    assert out.plan.solver.objective["moves"] == 2
    assert [(m.kind, m.task, m.source, m.target) for m in out.moves] == [
        ("moved", "a", "n1", "n3"),
        ("moved", "b", "n1", "n3"),
    ]
    assert all(m.why == "node n1 failed" for m in out.moves)


def test_the_changed_problem_says_where_everything_runs_today() -> None:
    p = taskalloc.load(fleet())
    rp = replan_problem(p, today(p), Changes(fail=("n1",), max_moves=3))
    data = rp.problem.to_dict()
    tasks = {t["id"]: t for t in data["tasks"]}
    assert tasks["a"]["current"] == ["n1"]
    assert tasks["a"]["nodes"] == ["n2", "n3"]
    assert "nodes" in tasks["d"] and "n1" not in tasks["d"]["nodes"]
    assert data["objective"] == {"lexicographic": ["unplaced", "moves", "cost"]}
    assert data["max_moves"] == 3
    # what changed, and from which problem (so that `diff` can tell a replan from another file)
    assert data["x-replan"] == {"fail": ["n1"], "from": {"name": p.name, "sha256": p.sha256}}
    # the hint keeps every task that may stay (a and b may not)
    assert sorted(a.task for a in rp.hint) == ["c", "d"]


def test_a_users_objective_keeps_its_moves_and_weights_get_them() -> None:
    p = taskalloc.load(fleet(objective={"lexicographic": ["unplaced", "cost", "moves"]}))
    rp = replan_problem(p, today(p), Changes())
    assert rp.problem.objective.terms == ("unplaced", "cost", "moves")
    p = taskalloc.load(fleet(objective={"weights": {"unplaced": 100, "cost": 1}}))
    rp = replan_problem(p, today(p), Changes())
    assert dict(rp.problem.objective.weights) == {"unplaced": 100, "cost": 1, "moves": 1}


def single_move_fleet() -> Any:
    """n1 costs 10 and runs a; n2, n3 cost 1 and run b, c; every node holds 2 tasks. With
    cost before moves, the one move that pays is a off n1 (cost 12 -> 2)."""
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [
                {"id": "n1", "capacity": {"cpu": 2}, "cost": 10},
                {"id": "n2", "capacity": {"cpu": 2}, "cost": 1},
                {"id": "n3", "capacity": {"cpu": 2}, "cost": 1},
            ],
            "tasks": [{"id": t, "demand": {"cpu": 1}} for t in "abc"],
            "objective": {"lexicographic": ["unplaced", "cost", "moves"]},
        }
    )


def test_max_moves_1_gives_the_best_single_move() -> None:
    p = single_move_fleet()
    plan = today(p, {"a": "n1", "b": "n2", "c": "n3"})
    out = solve(p, plan, "cpsat", max_moves=1)
    assert out.plan.solver.objective == {"unplaced": 0, "cost": 2, "moves": 1}
    assert [(m.kind, m.task, m.source) for m in out.moves] == [("moved", "a", "n1")]
    assert out.moves[0].why == "objective gain"
    out = solve(p, plan, "cpsat", max_moves=0)
    assert out.plan.solver.objective == {"unplaced": 0, "cost": 12, "moves": 0}
    assert out.moves == ()


@pytest.mark.parametrize("engine", ENGINES)
def test_max_moves_is_a_hard_limit(engine: str) -> None:
    # a and b must leave n1 but only one may move: the other is unplaced (both optional)
    data = fleet()
    for t in data["tasks"]:
        t["required"] = False
    p = taskalloc.load(data)
    out = solve(p, today(p), engine, fail=["n1"], max_moves=1)
    assert out.plan.solver.objective["moves"] == 1
    assert out.plan.solver.objective["unplaced"] == 1
    kinds = sorted(m.kind for m in out.moves)
    assert kinds == ["moved", "stopped"]


def test_check_rejects_a_plan_past_max_moves() -> None:
    p = taskalloc.load(fleet())
    rp = replan_problem(p, today(p), Changes(max_moves=0))
    moved = today(rp.problem, {**TODAY, "d": "n2"})
    report = taskalloc.check(rp.problem, moved)
    assert [v.kind for v in report.violations] == ["moves"]


def test_mip_and_ga_keep_max_moves() -> None:
    p = taskalloc.load(fleet())
    rp = replan_problem(p, today(p), Changes(max_moves=1))
    for engine, options in (("mip", {}), ("ga", {"generations": 10, "seed": 0})):
        result = taskalloc.solve(rp.problem, engine, **options)
        assert taskalloc.check(rp.problem, result).ok, engine
        ev = evaluate(rp.problem, result.assignments, reasons=False)
        assert ev.feasible and ev.terms["moves"] <= 1, engine


def test_add_remove_and_scale() -> None:
    p = taskalloc.load(
        fleet(
            tasks=[
                *fleet()["tasks"],
                {"id": "e", "demand": {"cpu": 1}, "after": ["a"], "separate_from": ["b"]},
            ]
        )
    )
    plan = today(p, {**TODAY, "e": "n2"})
    out = solve(
        p,
        plan,
        "cpsat",
        remove=["a"],
        add=[{"id": "big", "demand": {"cpu": 4}}],
        scale_demand={"d": 2.0},
    )
    tasks = {t["id"]: t for t in out.problem.to_dict()["tasks"]}
    assert "a" not in tasks and "after" not in tasks["e"]
    assert tasks["d"]["demand"] == {"cpu": 2.0}
    # big takes the room a left on n1 (b stays: moves come before cost); nothing moves
    assert nodes_of(out.plan)["big"] in ("n1", "n3")
    assert out.plan.solver.objective["moves"] == 0
    started = [m for m in out.moves if m.kind == "started"]
    assert [(m.task, m.why) for m in started] == [("big", "new task")]
    assert [(m.kind, m.task) for m in out.moves if m.kind == "removed"] == [("removed", "a")]


def test_room_for_a_new_task_is_the_reason_of_a_move() -> None:
    # n1 (4) runs x, y (2 each); n2 (4) runs z (3); n3 (3) is empty. A new w (4) fits only on
    # an emptied node: moving z to n3 is the one move that makes room.
    p = taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [
                {"id": "n1", "capacity": {"cpu": 4}},
                {"id": "n2", "capacity": {"cpu": 4}},
                {"id": "n3", "capacity": {"cpu": 3}},
            ],
            "tasks": [
                {"id": "x", "demand": {"cpu": 2}},
                {"id": "y", "demand": {"cpu": 2}},
                {"id": "z", "demand": {"cpu": 3}},
            ],
        }
    )
    plan = today(p, {"x": "n1", "y": "n1", "z": "n2"})
    out = solve(p, plan, "cpsat", add=[{"id": "w", "demand": {"cpu": 4}}])
    assert nodes_of(out.plan) == {"x": "n1", "y": "n1", "z": "n3", "w": "n2"}
    moved = [m for m in out.moves if m.kind == "moved"]
    assert [(m.task, m.source, m.target, m.why) for m in moved] == [
        ("z", "n2", "n3", "room for new task w")
    ]


def test_bad_changes_are_one_line_with_a_suggestion() -> None:
    p = taskalloc.load(fleet())
    plan = today(p)
    with pytest.raises(
        ReplanError, match="fail n11: no node or pool of that id; did you mean 'n1'"
    ):
        replan_problem(p, plan, Changes(fail=("n11",)))
    with pytest.raises(ReplanError, match="remove aa: no task"):
        replan_problem(p, plan, Changes(remove=("aa",)))
    with pytest.raises(ReplanError, match="add a: the problem already has"):
        replan_problem(p, plan, Changes(add=({"id": "a"},)))
    with pytest.raises(ReplanError, match="now: for scheduling problems only"):
        replan_problem(p, plan, Changes(now=3))
    with pytest.raises(InputError):
        replan_problem(p, plan, Changes(add=({"id": "z", "demand": {"cpu": -1}},)))


def test_pools_are_failed_and_written_compactly() -> None:
    p = taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [{"id": "g", "count": 3, "capacity": {"cpu": 2}}],
            "tasks": [{"id": "t", "demand": {"cpu": 1}, "replicas": 2}],
        }
    )
    plan = today(p, {})
    plan = make_plan_file(p, [Assignment("t", 0, "g-1"), Assignment("t", 1, "g-2")])
    rp = replan_problem(p, plan, Changes(fail=("g-1",)))
    (t,) = rp.problem.to_dict()["tasks"]
    assert t["nodes"] == ["g-2", "g-3"] and t["current"] == ["g-1", "g-2"]
    rp = replan_problem(p, plan, Changes(drain=("g",)))
    assert rp.problem.to_dict()["tasks"][0]["nodes"] == []
    assert rp.drained == {"g-1": "g", "g-2": "g", "g-3": "g"}


def schedule() -> Any:
    """t1 [0, 10) and then t3 [10, 20) on n1; t2 [0, 5) on n2."""
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [{"id": "n1", "capacity": {"cpu": 1}}, {"id": "n2", "capacity": {"cpu": 1}}],
            "tasks": [
                {"id": "t1", "demand": {"cpu": 1}, "duration": 10},
                {"id": "t2", "demand": {"cpu": 1}, "duration": 5},
                {"id": "t3", "demand": {"cpu": 1}, "duration": 10, "after": ["t1"]},
            ],
        }
    )


def schedule_plan(p: Any) -> Any:
    return make_plan_file(
        p,
        [
            Assignment("t1", 0, "n1", 0, 10),
            Assignment("t2", 0, "n2", 0, 5),
            Assignment("t3", 0, "n1", 10, 20),
        ],
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_now_in_a_schedule_restarts_what_ran_on_the_failed_node(engine: str) -> None:
    p = schedule()
    out = solve(p, schedule_plan(p), engine, fail=["n1"], now=7)
    got = {a.task: (a.node, a.start, a.end) for a in out.plan.assignments}
    # t2 ended at 5: done, it stays; t1 ran on n1: it restarts at 7 on n2; t3 follows it
    assert got == {"t2": ("n2", 0, 5), "t1": ("n2", 7, 17), "t3": ("n2", 17, 27)}
    assert out.replan.restarted == ("t1",) and out.replan.fixed == ("t2",)
    assert [m.kind for m in out.moves] == ["restarted", "moved"]


def test_now_keeps_started_work_where_and_when_it_was() -> None:
    p = schedule()
    out = solve(p, schedule_plan(p), "cpsat", drain=["n2"], now=3)
    got = {a.task: (a.node, a.start, a.end) for a in out.plan.assignments}
    # draining n2 lets t2 finish there; nothing new goes to n2
    assert got == {"t1": ("n1", 0, 10), "t2": ("n2", 0, 5), "t3": ("n1", 10, 20)}
    assert out.moves == ()


def test_whatif_rows_and_the_weakest_node() -> None:
    p = taskalloc.load(fleet())
    w = taskalloc.whatif(p, today(p), fail_each_node=True, engine="cpsat", time_limit=10)
    rows = {r.scenario: r for r in w.rows}
    assert list(rows) == ["fail n1", "fail n2", "fail n3"]
    # losing n1: a, b to n3 (2 moves); n2: c to n3 (1); n3 (8 cpu): d and c's 3 ... by hand
    assert (rows["fail n1"].feasible, rows["fail n1"].moves) == (True, 2)
    assert (rows["fail n2"].feasible, rows["fail n2"].moves) == (True, 1)
    # losing n3 leaves 8 cpu for 8 cpu of demand: d goes to n2 (c 3 + d 1 = 4)
    assert (rows["fail n3"].feasible, rows["fail n3"].moves) == (True, 1)
    assert rows["fail n1"].most_loaded == "cpu 67%"  # 8 of the 12 left
    assert w.weakest is not None and w.weakest.scenario == "fail n1"


def test_scenarios_name_what_they_take_away() -> None:
    p = taskalloc.load(
        fleet(nodes=[{"id": "n", "count": 2, "capacity": {"cpu": 8}, "labels": {"zone": "a"}}])
    )
    names = [
        s.name
        for s in scenarios(
            p, fail_each_pool=True, fail_zone=["zone=a"], scale_demand=[1.5], scale_capacity=[0.5]
        )
    ]
    assert names == ["fail pool n", "fail zone=a", "demand x1.5", "capacity x0.5"]
    with pytest.raises(ReplanError, match=r"no node has label zone=b \(its values: a\)"):
        scenarios(p, fail_zone=["zone=b"])


@pytest.mark.parametrize("engine", ENGINES)
def test_best_effort_places_what_still_fits_when_the_required_tasks_do_not(engine: str) -> None:
    """n1 and n3 fail: 8 cpu of required work, 4 left on n2. Without best_effort no plan
    exists; with it, every task is optional and the plan keeps what fits with the fewest
    moves (c stays on n2, d joins it), and the changed problem records it."""
    p = taskalloc.load(fleet())
    out = taskalloc.replan(p, today(p), engine=engine, time_limit=10, fail=["n1", "n3"])
    assert out.plan.solver.status in ("infeasible", "unknown")  # the greedy proves nothing
    out = solve(p, today(p), engine, fail=["n1", "n3"], best_effort=True)
    assert nodes_of(out.plan) == {"c": "n2", "d": "n2"}
    assert {u.task for u in out.plan.unplaced} == {"a", "b"}
    assert out.problem.to_dict()["x-replan"]["best_effort"] is True
