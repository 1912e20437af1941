"""Tests particular to the CP-SAT solver: scaling, status mapping, determinism, hints,
stop/progress, the pure-scheduling model (with its own property test against brute force).
The constraint families and the brute-force property on every engine are in test_backends.py.

Every plan with status optimal/feasible is checked by the evaluator (:func:`run`).
"""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.clock import Point
from taskalloc.solvers.cpsat import solve
from taskalloc.solvers.cpsat.exact import _set_hint
from taskalloc.solvers.cpsat.model import AllocationModel
from taskalloc.solvers.result import Result
from taskalloc.solvers.scaling import BALANCE_SCALE, choose_scales
from taskalloc.solvers.warm import safe_horizon
from tests.solving import (
    ENGINES,
    MAX_LEAVES,
    assert_matches_brute_force,
    drop_tasks,
    leaves,
    lex,
    make,
    node,
    task,
    terms,
    where,
)

CPSAT = next(e for e in ENGINES if e.id == "cpsat")
LIMIT = 10.0  # seconds per solve; every instance here is solved and proved far faster

# -- helpers ---------------------------------------------------------------------------------


def check(problem: Problem, result: Result) -> Result:
    """A plan claimed feasible or optimal must satisfy every constraint."""
    assert result.solver == "cpsat"
    if result.status in (Status.OPTIMAL, Status.FEASIBLE):
        ev = evaluate(problem, result.assignments)
        assert ev.feasible, [v.message for v in ev.violations]
    elif result.status == Status.INFEASIBLE:
        assert result.assignments == []
    return result


def run(problem: Problem, **options: Any) -> Result:
    options.setdefault("time_limit", LIMIT)
    options.setdefault("workers", 2)
    return check(problem, solve(problem, **options))


# -- placement constraint families --------------------------------------------------------------


def test_decimal_demands_are_scaled_exactly() -> None:
    p = make(
        [node("a", 1.0)],
        [task(f"t{c}", c, required=False) for c in (0.1, 0.2, 0.3, 0.4, 0.05)],
        **lex("unplaced"),
    )
    r = run(p)
    assert r.status == Status.OPTIMAL
    assert terms(p, r)["unplaced"] == 1  # all five need 1.05 > 1.0; any four fit
    assert r.options["scales"]["resources"] == {"cpu": 20}


def test_decimal_costs_and_priorities() -> None:
    p = make(
        [node("a", cost=0.3), node("b", cost=0.25)],
        [task("t", 6, priority=0.5), task("u", 6, priority=1.25, required=False)],
        objective={"weights": {"unplaced": 1, "cost": 1}},
    )
    r = run(p)
    assert r.status == Status.OPTIMAL
    assert sorted(where(r)) == ["t", "u"]  # placing u costs at most 0.3 < 1.25
    assert terms(p, r)["cost"] == pytest.approx(0.55)
    assert r.options["scales"]["cost"] == 20 and r.options["scales"]["priority"] == 4


def test_too_many_decimals_round_conservatively() -> None:
    p = make([node("a", 1.0000001)], [task("t", 0.5000001), task("u", 0.5, required=False)])
    r = run(p)
    assert r.status == Status.FEASIBLE  # the rounded model cannot prove optimality
    assert "rounded" in (r.message or "")
    assert where(r)["t"] == ["a"]
    # a plan exists (1.0000001 holds 1.0000001) that the rounded model cannot see: never
    # "infeasible"
    p = make([node("a", 1.0000001)], [task("t", 1.0000001)])
    r = run(p)
    assert r.status == Status.FEASIBLE  # the warm start, checked by the evaluator
    assert "rounded model has no plan" in (r.message or "")
    r = run(p, hint=[])  # an empty hint: no plan from the model, but the greedy's is a floor
    assert r.status == Status.FEASIBLE and where(r)["t"] == ["a"]
    assert "greedy's plan" in (r.message or "")


# -- scheduling ---------------------------------------------------------------------------------


def test_weighted_balance_is_counted_on_the_grid() -> None:
    p = make(
        [node("a", 3), node("b", 3)],
        [task("x", 1), task("y", 1), task("z", 2)],
        objective={"weights": {"balance": 1}},
    )
    r = run(p)
    assert r.status == Status.OPTIMAL
    assert terms(p, r)["balance"] == 2 / 3
    assert r.bound is not None
    assert r.bound["weighted"] == pytest.approx(6667 / BALANCE_SCALE - 1 / BALANCE_SCALE)
    assert "ceil(10000 x balance)" in (r.message or "")


# -- search behaviour ---------------------------------------------------------------------------


def medium(seed: int = 1, scheduling: bool = False) -> Problem:
    return problem_from_dict(generate(tasks=30, nodes=8, seed=seed, scheduling=scheduling))


def test_deterministic_runs_are_identical() -> None:
    # big enough that the deterministic limit ends the search before a proof
    p = problem_from_dict(generate(tasks=120, nodes=25, seed=5))
    a = run(p, deterministic=True, time_limit=0.3, workers=4)
    b = run(p, deterministic=True, time_limit=0.3, workers=4)
    assert a.options["workers"] == 1
    assert a.status == Status.FEASIBLE
    assert a.assignments == b.assignments
    assert a.message == b.message


@pytest.mark.parametrize(
    ("seed", "scheduling", "objective"),
    [
        (1, False, {"lexicographic": ["unplaced", "balance", "cost"]}),
        (2, False, {"weights": {"unplaced": 100, "nodes": 1, "balance": 5}}),
        (3, False, {"lexicographic": ["unplaced", "nodes"]}),
        (4, True, {"lexicographic": ["unplaced", "tardiness", "balance"]}),
        (5, True, {"weights": {"unplaced": 1000, "makespan": 1, "cost": 2, "balance": 10}}),
    ],
)
def test_medium_problems_give_checked_plans(
    seed: int, scheduling: bool, objective: dict[str, Any]
) -> None:
    data = generate(tasks=25, nodes=6, seed=seed, scheduling=scheduling)
    data["objective"] = objective
    p = problem_from_dict(data)
    r = run(p, time_limit=2.0)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    if r.status == Status.OPTIMAL and r.bound and p.objective.kind == "lexicographic":
        ev = evaluate(p, r.assignments)
        assert r.bound == pytest.approx({t: ev.terms[t] for t in p.objective.terms})


def test_failing_progress_callback_propagates() -> None:
    def boom(point: Point) -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run(medium(2), progress=boom)


def test_hint_is_accepted() -> None:
    p = make(
        [node("a", cost=5), node("b", cost=2), node("c", cost=2)],
        [task("t1", 6), task("t2", 6)],
    )
    hint = [Assignment("t1", 0, "a"), Assignment("t2", 0, "b")]
    r = run(p, hint=hint)
    assert r.options["warm_start"] == "hint"
    assert r.status == Status.OPTIMAL
    assert terms(p, r)["cost"] == 4
    # a hint naming unknown tasks and nodes, or breaking constraints, is only a hint
    bad = [Assignment("nope", 0, "a"), Assignment("t1", 0, "zz"), Assignment("t2", 3, "a")]
    r = run(p, hint=bad)
    assert r.status == Status.OPTIMAL and terms(p, r)["cost"] == 4


def test_registry_dispatch_and_result_fields() -> None:
    p = make([node("a")], [task("t")])
    r = check(p, solvers.solve(p, "cpsat", time_limit=5, seed=3))
    assert r.status == Status.OPTIMAL
    assert r.seed == 3
    assert r.seconds >= 0
    assert {"time_limit", "workers", "seed", "deterministic", "scales"} <= set(r.options)
    assert [a.to_dict() for a in r.assignments] == [{"task": "t", "replica": 0, "node": "a"}]


def test_progress_and_trajectory() -> None:
    p = medium(2)
    seen: list[tuple[float, float, float | None]] = []
    r = run(p, progress=lambda pt: seen.append(pt[:3]))
    assert r.trajectory and seen == r.trajectory
    assert all(s >= 0 for s, _, _ in seen)


def test_the_trajectory_shows_the_bound_as_it_rises_between_plans(monkeypatch) -> None:
    """A rise of CP-SAT's bound with no better plan is a point of its own (the last plan's
    value, the new bound), so a chart draws the bound as it evolved, not only when plans came
    (1 worker, deterministic limit: the same events on every run)."""
    from taskalloc.solvers.cpsat import exact

    monkeypatch.setattr(exact, "BOUND_EVERY", 0.0)  # every rise: no wall-clock in the test
    p = problem_from_dict(generate(tasks=60, nodes=6, seed=3))
    r = solvers.solve(p, "cpsat", time_limit=2, deterministic=True)
    points = r.trajectory[:-1]  # the last one: the stage's end, proven optimal
    alone = [
        (a, b)
        for a, b in itertools.pairwise(points)
        if b[1] == a[1] and a[2] is not None and b[2] is not None and b[2] > a[2]
    ]
    assert alone, r.trajectory
    assert r.status == Status.OPTIMAL


def test_stop_before_start_returns_the_warm_start() -> None:
    p = medium(4)
    stop = threading.Event()
    stop.set()
    r = run(p, stop=stop)
    assert r.status == Status.FEASIBLE
    assert "stopped" in (r.message or "")


def test_stop_from_another_thread() -> None:
    """A stop set while CP-SAT searches (from its first solution's progress report, in CP-SAT's
    callback thread: a timer could fire during the model build under load) ends the search
    with that plan, long before the 60 s limit."""
    p = problem_from_dict(generate(tasks=200, nodes=40, seed=5))
    stop = threading.Event()
    points: list[Point] = []

    def first_solution(point: Point) -> None:
        points.append(point)
        stop.set()

    r = run(p, stop=stop, time_limit=60, progress=first_solution)
    assert points, "CP-SAT reported no solution"
    assert r.seconds < 30  # a missed stop runs to the 60 s limit
    assert r.status == Status.FEASIBLE
    assert "stopped" in (r.message or "")


def test_stdout_stays_clean(capfd: pytest.CaptureFixture[str]) -> None:
    run(medium(6))
    out, _ = capfd.readouterr()
    assert out == ""


# -- property: CP-SAT optimum == brute force ------------------------------------------------------


_PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- pure scheduling: fixed tasks, machines, cliques, bounds, lazy warm start -------------------


def model_of(problem: Problem, *objective: str) -> AllocationModel:
    terms = list(objective) or list(problem.objective.terms)
    return AllocationModel(
        problem, choose_scales(problem, BALANCE_SCALE), terms, safe_horizon(problem)
    )


def kinds(m: AllocationModel) -> dict[str, list[Any]]:
    """The model's constraints by kind (interval, no_overlap, cumulative, linear)."""
    out: dict[str, list[Any]] = {}
    for c in m.model.proto.constraints:
        for kind in ("interval", "no_overlap", "cumulative", "linear", "bool_and"):
            if getattr(c, f"has_{kind}")():
                out.setdefault(kind, []).append(c)
    return out


def job_shop() -> Problem:
    """Two jobs of two operations on two unit-capacity machines (the importer's encoding)."""
    ops = [("a", "m0", 3, None), ("b", "m1", 2, "a"), ("c", "m1", 2, None), ("d", "m0", 3, "c")]
    tasks = [
        {
            "id": tid,
            "demand": {"slot": 1},
            "nodes": [mid],
            "duration": d,
            **({"after": [prev]} if prev else {}),
        }
        for tid, mid, d, prev in ops
    ]
    nodes = [{"id": m, "capacity": {"slot": 1}} for m in ("m0", "m1")]
    return make(nodes, tasks, **lex("makespan"))


def test_fixed_tasks_have_mandatory_intervals_and_direct_precedence() -> None:
    p = make(
        [node("a", 10)],
        [task("x", 6, duration=3), task("y", 6, duration=2, after=["x"]), task("z", 1)],
        **lex("makespan"),
    )
    m = model_of(p)
    assert m.fixed == {0, 1, 2} and m.pure_scheduling
    ks = kinds(m)
    assert len(ks["interval"]) == 2  # z runs 0 time: no interval
    assert all(not c.enforcement_literal for c in ks["interval"])
    assert not any(c.enforcement_literal for c in ks["linear"])
    assert m.task_end == {}  # y starts after x's end directly, no E[x]
    assert m.window[1, 0][0] == 3  # y's earliest start: x's earliest end
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 5
    assert r.options["warm_start"] == "none (pure scheduling)"


def test_tasks_with_a_choice_keep_optional_intervals() -> None:
    p = make(
        [node("a", 10), node("b", 10)],
        [task("x", 6, duration=3), task("y", 6, duration=2, after=["x"], nodes=["a"])],
        **lex("makespan"),
    )
    m = model_of(p)
    assert m.fixed == {1} and not m.pure_scheduling
    enforced = [bool(c.enforcement_literal) for c in kinds(m)["interval"]]
    assert sorted(enforced) == [False, True, True]
    assert set(m.task_end) == {0}  # x has a choice: its end E[x] is what y waits for
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 5
    assert r.options["warm_start"].startswith("greedy")


def test_unit_capacity_machines_are_no_overlaps() -> None:
    p = job_shop()
    m = model_of(p)
    ks = kinds(m)
    assert "cumulative" not in ks
    assert sorted(len(c.no_overlap.intervals) for c in ks["no_overlap"]) == [2, 2]
    assert m.disjunctive and m.pure_scheduling
    assert m.trivial_bound("makespan") == 6  # a machine's load (m0: 3 + 3)
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 6


def test_demands_that_can_share_keep_the_cumulative() -> None:
    p = make(
        [node("a", 10)],
        [task("x", 6, duration=2), task("y", 6, duration=2), task("z", 4, duration=2)],
        **lex("makespan"),
    )
    ks = kinds(model_of(p))
    assert len(ks["cumulative"]) == 1
    assert "no_overlap" not in ks  # x-y conflict, z fits with either: no clique of three
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 4


def test_redundant_cliques_of_conflicts_and_precedences() -> None:
    # x-y (cpu) and y-w (mem) cannot run together, x-w, x-v and w-v are ordered: the clique
    # {x, y, w} gets a no-overlap; {x, w, v} is a chain (nothing to add), and v fits with all
    p = make(
        [{"id": "a", "capacity": {"cpu": 10, "mem": 10}}],
        [
            {"id": "x", "demand": {"cpu": 6}, "duration": 2},
            {"id": "y", "demand": {"cpu": 6, "mem": 6}, "duration": 2},
            {"id": "w", "demand": {"mem": 6}, "duration": 2, "after": ["x"]},
            {"id": "v", "demand": {"cpu": 1, "mem": 1}, "duration": 2, "after": ["w"]},
        ],
        **lex("makespan"),
    )
    m = model_of(p)
    ks = kinds(m)
    cliques = [sorted(c.no_overlap.intervals) for c in ks.get("no_overlap", [])]
    assert cliques == [sorted(m.interval[t, 0].index for t in (0, 1, 2))]
    assert len(ks["cumulative"]) == 2  # the cumulatives stay
    assert not m.disjunctive
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 6


def test_makespan_bound_from_chains_and_energy() -> None:
    chain = [task("a", 1, duration=2), task("b", 1, duration=3, after=["a"])]
    spread = [task(f"e{i}", 5, duration=2) for i in range(4)]  # energy 40 on capacity 10
    p = make([node("n", 10)], chain + spread, **lex("makespan"))
    assert model_of(p).trivial_bound("makespan") == 5  # the chain; energy: ceil(4.5)
    p = make(
        [node("n", 10)],
        chain + [task(f"e{i}", 5, duration=2) for i in range(8)],
        **lex("makespan"),
    )
    assert model_of(p).trivial_bound("makespan") == 9  # ceil((2 + 3 + 8 * 10) / 10)
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 11  # a, b hold 1 cpu
    free = [task("a", 0, duration=2), task("b", 0, duration=3, after=["a"])]
    p = make(
        [node("n", 10)], free + [task(f"e{i}", 5, duration=2) for i in range(8)], **lex("makespan")
    )
    assert model_of(p).trivial_bound("makespan") == 8
    r = run(p)
    assert r.status == Status.OPTIMAL and terms(p, r)["makespan"] == 8
    assert r.bound == {"makespan": 8.0}


def test_pure_scheduling_without_a_cpsat_plan_returns_the_greedy() -> None:
    p = job_shop()
    stop = threading.Event()
    stop.set()
    r = run(p, stop=stop)
    assert r.status == Status.FEASIBLE and r.assignments
    assert r.options["warm_start"].endswith("(after CP-SAT)")
    assert "stopped" in (r.message or "")
    # and a model CP-SAT proves infeasible is checked against the greedy's plan
    q = make([node("a", 10)], [task("x", 6, duration=3), task("y", 6, duration=3)], horizon=5)
    r = run(q)
    assert r.status == Status.INFEASIBLE


def test_hints_reach_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    # the warm start and, in later stages, the previous solution are hinted (a hint message
    # taken before clear_hints() would silently be dropped)
    seen: list[bool] = []
    real = cp_model.CpSolver.solve

    def spy(self: cp_model.CpSolver, model: cp_model.CpModel, *args: Any) -> Any:
        seen.append(model.proto.has_solution_hint())
        return real(self, model, *args)

    monkeypatch.setattr(cp_model.CpSolver, "solve", spy)
    p = make(
        [node("a", cost=5), node("b", cost=2), node("c", cost=2)],
        [task("t1", 6), task("t2", 6), task("t3", 3, required=False)],
        **lex("unplaced", "cost", "nodes"),
    )
    r = run(p)
    assert r.status == Status.OPTIMAL
    assert len(seen) >= 2 and all(seen)
    m = model_of(p)
    _set_hint(m, {0: [(1, None)]})
    assert m.model.proto.has_solution_hint()


@st.composite
def tiny_pure_schedules(draw: st.DrawFn) -> dict[str, Any]:
    """Every task required on fixed nodes (replicas = allowed nodes): RCPSP and job shop
    shapes with two resources, precedences, releases and deadlines."""
    rnd = random.Random(draw(st.integers(0, 10**6)))
    n_nodes = rnd.randint(1, 2)
    nodes = [
        {"id": f"n{k}", "capacity": {"r": rnd.randint(1, 4), "s": rnd.randint(1, 4)}}
        for k in range(n_nodes)
    ]
    tasks: list[dict[str, Any]] = []
    for i in range(rnd.randint(2, 5)):
        t: dict[str, Any] = {
            "id": f"t{i}",
            "duration": rnd.randint(0, 2),
            "demand": {"r": rnd.randint(0, 4), "s": rnd.randint(0, 2)},
        }
        allowed = rnd.sample([n["id"] for n in nodes], rnd.randint(1, n_nodes))
        t["nodes"] = allowed
        t["replicas"] = len(allowed)
        if tasks and rnd.random() < 0.5:
            t["after"] = sorted({tasks[rnd.randrange(len(tasks))]["id"]})
        if rnd.random() < 0.2:
            t["release"] = 1
        if rnd.random() < 0.2:
            t["deadline"] = rnd.randint(2, 6)
        tasks.append(t)
    # fitting demands only (a replica that fits nowhere makes the task unplaceable)
    for t in tasks:
        for r in ("r", "s"):
            t["demand"][r] = min(
                t["demand"][r], *(n["capacity"][r] for n in nodes if n["id"] in t["nodes"])
            )
    objective = draw(
        st.sampled_from(
            [
                {"lexicographic": ["makespan"]},
                {"lexicographic": ["unplaced", "makespan"]},
                {"weights": {"makespan": 1, "balance": 2}},
            ]
        )
    )
    data = {"taskalloc": 1, "horizon": 6, "objective": objective, "nodes": nodes, "tasks": tasks}
    problem = problem_from_dict(data)
    while leaves(problem) > MAX_LEAVES and len(data["tasks"]) > 1:
        drop_tasks(data, len(data["tasks"]) - 1)
        problem = problem_from_dict(data)
    return data


@_PROPERTY
@given(tiny_pure_schedules())
def test_pure_scheduling_optimum_equals_brute_force(data: dict[str, Any]) -> None:
    assert_matches_brute_force(data, CPSAT)
