"""Format revision 2 (devices, gangs that start together, services, spread, ``current`` lists) on
every engine that handles it: hand-made optima, and brute force over tiny random problems.

Each hand-made case runs on every engine of :data:`tests.solving.ENGINES` for which
``solvers.features.unhandled(problem, engine)`` is empty, so an engine that learns a feature is
tested here as soon as its line in ``HANDLED`` says so. The brute-force property enumerates every
plan of tiny problems (small device counts, devices and starts included) and judges them with
the independent reading of the format in ``tests/problems/oracle.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem
from taskalloc.solvers import features
from taskalloc.solvers.result import Result
from tests.problems.oracle import check as oracle
from tests.problems.test_brute_force import compile_or_reject
from tests.problems.test_brute_force import problems as rev2_problems
from tests.solving import (
    ENGINES,
    LIMIT,
    Engine,
    _less,
    count_plans,
    every_plan,
    lex,
    make,
    objective_key,
    terms,
)

REV2 = frozenset({"devices", "same_start", "service", "spread", "current_list"})


#: cpsat's LNS for devices and spread (solvers/cpsat/devlns.py; placement problems only,
#: scheduling ones go to the exact path whatever ``lns`` says): on these tiny problems its
#: neighbourhood is the whole problem, so it proves the optimum too
LNS = Engine("cpsat-lns", "cpsat", {"lns": True})


def engines_for(problem: Problem) -> list[Engine]:
    return [e for e in [*ENGINES, LNS] if not features.unhandled(problem, e.solver)]


def solve_all(problem: Problem, **options: Any) -> list[tuple[Engine, Result]]:
    """Every engine that handles the problem's features, each plan checked (devices too)."""
    found = engines_for(problem)
    assert any(e.solver == "cpsat" for e in found)  # at least cpsat handles all of them
    return [(e, e.solve(problem, **options)) for e in found]


def solved(engine: Engine, result: Result) -> None:
    """The status an engine must reach on a hand-made case: optimal when it proves, else a
    plan (the optimum is then asserted on the plan's terms)."""
    want = (Status.OPTIMAL,) if engine.exact else (Status.OPTIMAL, Status.FEASIBLE)
    assert result.status in want, (engine.id, result.status, result.message)


def devices_of(result: Result, task: str) -> list[tuple[str, tuple[int, ...]]]:
    return sorted(
        (a.node, (a.devices or {}).get("gpu", ())) for a in result.assignments if a.task == task
    )


def gpu_node(nid: str, gpus: int, count: int = 1, **extra: Any) -> dict[str, Any]:
    entry = {"id": nid, "capacity": {"cpu": 64, "gpu": gpus}, "devices": {"gpu": gpus}, **extra}
    if count > 1:
        entry["count"] = count
    return entry


def gpu_task(tid: str, gpu: float, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "demand": {"cpu": 1, "gpu": gpu}, **extra}


# -- devices -------------------------------------------------------------------------------------


def test_shares_of_a_device_never_add_up_across_devices() -> None:
    # 3 x 0.6 GPU is 1.8 <= 2 GPUs, but no device holds two of them: one stays unplaced
    tasks = [gpu_task(f"nb{i}", 0.6, required=False) for i in range(3)]
    problem = make([gpu_node("g", 2)], tasks, **lex("unplaced"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["unplaced"] == 1, engine.id
        used = [d for t in ("nb0", "nb1", "nb2") for _, d in devices_of(r, t)]
        assert sorted(used) == [(0,), (1,)], (engine.id, used)


def test_shares_pack_together_to_leave_whole_devices_free() -> None:
    # 4 devices: two 0.5 shares must share one device so that a 2-device and a 1-device job
    # fit beside them; any other packing leaves more priority unplaced
    tasks = [
        gpu_task("w2a", 2, required=False, priority=2),
        gpu_task("w2b", 2, required=False, priority=2),
        gpu_task("w1", 1, required=False, priority=1.2),
        gpu_task("s1", 0.5, required=False, priority=1.5),
        gpu_task("s2", 0.5, required=False, priority=1.5),
    ]
    problem = make([gpu_node("g", 4)], tasks, **lex("unplaced"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["unplaced"] == pytest.approx(2), engine.id
        assert devices_of(r, "s1") == devices_of(r, "s2"), engine.id
        whole = [i for t in ("w2a", "w2b", "w1") for _, d in devices_of(r, t) for i in d]
        shared = devices_of(r, "s1")[0][1]
        assert len(set(whole)) == len(whole) == 3 and not set(whole) & set(shared), engine.id


def test_a_job_that_fits_the_pool_but_no_device_goes_elsewhere() -> None:
    # 1.5 GPU is neither a share of one device of 1 nor a whole number of them: the split node
    # cannot take it, although 2 GPUs are free there; the unsplit node can, at a cost
    nodes = [gpu_node("split", 2), {"id": "plain", "capacity": {"cpu": 64, "gpu": 2}, "cost": 5}]
    tasks = [gpu_task("odd", 1.5, required=False), gpu_task("one", 1, required=False)]
    problem = make(nodes, tasks, **lex("unplaced", "cost"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["unplaced"] == 0 and terms(problem, r)["cost"] == 5, engine.id
        assert devices_of(r, "odd") == [("plain", ())], engine.id


def test_a_job_no_device_can_serve_stays_unplaced() -> None:
    tasks = [gpu_task("odd", 1.5, required=False), gpu_task("three", 3, required=False)]
    problem = make([gpu_node("g", 2)], tasks, **lex("unplaced"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert r.assignments == [], engine.id
        assert terms(problem, r)["unplaced"] == 2, engine.id


def test_whole_device_jobs_over_time_take_distinct_devices() -> None:
    # 2 devices; a 2-device job and two 1-device jobs of 2 time units each: the 1-device jobs
    # run side by side (0-2) and the 2-device job after them (2-5), or the other way round
    tasks = [
        gpu_task("big", 2, duration=3),
        gpu_task("a", 1, duration=2),
        gpu_task("b", 1, duration=2),
    ]
    problem = make([gpu_node("g", 2)], tasks, **lex("makespan"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["makespan"] == 5, engine.id
        assert devices_of(r, "big") == [("g", (0, 1))], engine.id


def test_fractional_shares_over_time() -> None:
    # shares 0.6, 0.6 and 0.4 of 2 time units each: on two devices all run at once (x and y
    # on different devices); on one device 0.6 + 0.4 run together and the other 0.6 after
    tasks = [gpu_task("x", 0.6, duration=2), gpu_task("y", 0.6, duration=2)]
    tasks.append(gpu_task("z", 0.4, duration=2))
    nodes = [gpu_node("g", 2)]
    problem = make(nodes, tasks, **lex("makespan"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["makespan"] == 2, engine.id
    one = make([gpu_node("g", 1)], tasks, **lex("makespan"))
    for engine, r in solve_all(one):
        solved(engine, r)
        assert terms(one, r)["makespan"] == 4, engine.id


# -- gangs that start together, services, spread ---------------------------------------------------


def test_same_start_gang_waits_for_its_slowest_member() -> None:
    # a (n1, released at 2) and b (n2) start together; n1 runs a 3-unit blocker. Without the
    # gang rule: b 0-2, blocker 0-3, a 3-4 (makespan 4); together: blocker 0-3, a and b at 3
    nodes = [{"id": "n1", "capacity": {"cpu": 1}}, {"id": "n2", "capacity": {"cpu": 1}}]
    tasks = [
        {"id": "blocker", "demand": {"cpu": 1}, "duration": 3, "nodes": ["n1"]},
        {
            "id": "a",
            "demand": {"cpu": 1},
            "duration": 1,
            "nodes": ["n1"],
            "release": 2,
            "gang": "g",
        },
        {"id": "b", "demand": {"cpu": 1}, "duration": 2, "nodes": ["n2"], "gang": "g"},
    ]
    problem = make(nodes, tasks, gangs={"g": {"same_start": True}}, **lex("makespan"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["makespan"] == 5, engine.id
        starts = {a.task: a.start for a in r.assignments}
        assert starts["a"] == starts["b"] == 3, (engine.id, starts)
    plain = make(nodes, tasks, **lex("makespan"))
    for engine, r in solve_all(plain):
        solved(engine, r)
        assert terms(plain, r)["makespan"] == 4, engine.id


def test_a_service_holds_its_node_for_the_whole_horizon() -> None:
    # the service takes 1 of 2 cpu from 0 to the horizon: the 2-cpu job fits never, the two
    # 1-cpu jobs one after the other; makespan ignores the service
    tasks = [
        {"id": "svc", "demand": {"cpu": 1}, "service": True},
        {"id": "wide", "demand": {"cpu": 2}, "duration": 2, "required": False},
        {"id": "p", "demand": {"cpu": 1}, "duration": 3},
        {"id": "q", "demand": {"cpu": 1}, "duration": 3},
    ]
    problem = make(
        [{"id": "n", "capacity": {"cpu": 2}}], tasks, horizon=10, **lex("unplaced", "makespan")
    )
    for engine, r in solve_all(problem):
        solved(engine, r)
        t = terms(problem, r)
        assert (t["unplaced"], t["makespan"]) == (1, 6), (engine.id, t)
        svc = [(a.start, a.end) for a in r.assignments if a.task == "svc"]
        assert svc == [(0, 10)], engine.id


def test_service_replicas_are_never_staggered() -> None:
    tasks = [{"id": "svc", "demand": {"cpu": 1}, "service": True, "replicas": 2}]
    tasks.append({"id": "job", "demand": {"cpu": 1}, "duration": 4, "nodes": ["a"]})
    nodes = [{"id": "a", "capacity": {"cpu": 2}}, {"id": "b", "capacity": {"cpu": 1}}]
    problem = make(nodes, tasks, horizon=8, **lex("unplaced", "makespan"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert sorted((a.node, a.start, a.end) for a in r.assignments if a.task == "svc") == [
            ("a", 0, 8),
            ("b", 0, 8),
        ], engine.id
        assert terms(problem, r)["makespan"] == 4, engine.id


def spread_nodes() -> list[dict[str, Any]]:
    cheap = {"id": "a", "count": 3, "capacity": {"cpu": 4}, "labels": {"zone": "a"}, "cost": 1}
    dear = {"id": "b", "count": 2, "capacity": {"cpu": 4}, "labels": {"zone": "b"}, "cost": 10}
    return [cheap, dear]


@pytest.mark.parametrize(("skew", "cost"), [(1, 22), (2, 13), (3, 13)])
def test_spread_bounds_the_skew_across_zones(skew: int, cost: float) -> None:
    # 4 replicas on distinct nodes: cheapest a,a,a,b (13) has skew 2; skew 1 needs 2 + 2 (22)
    task = {"id": "web", "demand": {"cpu": 1}, "replicas": 4}
    task["spread"] = {"key": "zone", "max_skew": skew}
    problem = make(spread_nodes(), [task], **lex("unplaced", "cost"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["cost"] == cost, engine.id


def test_spread_counts_a_zone_where_nothing_fits_as_zero() -> None:
    # zone c is allowed (it has the label) but too small: 2 replicas in zone a would be skew 2
    nodes = [
        {"id": "a", "count": 2, "capacity": {"cpu": 4}, "labels": {"zone": "a"}},
        {"id": "c", "capacity": {"cpu": 0.5}, "labels": {"zone": "c"}},
    ]
    web = {"id": "web", "demand": {"cpu": 1}, "replicas": 2, "required": False}
    web["spread"] = {"key": "zone", "max_skew": 1}
    one = {"id": "one", "demand": {"cpu": 1}, "spread": {"key": "zone", "max_skew": 1}}
    problem = make(nodes, [web, one], **lex("unplaced"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["unplaced"] == 2, engine.id
        assert [a.task for a in r.assignments] == ["one"], engine.id


# -- current lists, devices and moves ------------------------------------------------------------


def test_current_lists_with_devices_count_moves_per_replica() -> None:
    # the 4-device job may only go on g-1, where one replica of svc runs today: that replica
    # moves (to g-2), the other stays on g-3; one move
    nodes = [gpu_node("g", 4, count=3)]
    tasks = [
        gpu_task("big", 4, nodes=["g-1"]),
        gpu_task("svc", 1, replicas=2, current=["g-1", "g-3"]),
        gpu_task("nb", 0.5, current=["g-3"]),
    ]
    problem = make(nodes, tasks, **lex("unplaced", "moves"))
    for engine, r in solve_all(problem):
        solved(engine, r)
        assert terms(problem, r)["moves"] == 1, engine.id
        assert devices_of(r, "big") == [("g-1", (0, 1, 2, 3))], engine.id
        assert [n for n, _ in devices_of(r, "svc")][1] == "g-3", engine.id
    limited = make(nodes, tasks, max_moves=0, **lex("unplaced", "moves"))
    for engine, r in solve_all(limited):
        # the exact engines prove it; the GA proves nothing and returns no plan
        want = {Status.INFEASIBLE} if engine.exact else {Status.INFEASIBLE, Status.UNKNOWN}
        assert r.status in want, (engine.id, r.status)


# -- brute force ---------------------------------------------------------------------------------

OBJECTIVE_TERMS = ("unplaced", "cost", "nodes", "moves", "balance")


@st.composite
def rev2_instances(draw: Any) -> dict[str, Any]:
    """Tiny revision-2 problems (tests/problems/test_brute_force.py's, small device counts)
    with an objective of the terms the oracle computes."""
    data = draw(rev2_problems(max_tasks=2, max_nodes=2))
    sched = "horizon" in data
    pool = [*OBJECTIVE_TERMS, "makespan"] if sched else list(OBJECTIVE_TERMS)
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    if "balance" in chosen or draw(st.booleans()):
        data["objective"] = {"lexicographic": chosen}
    else:  # weights without balance (weighted balance is on a grid)
        data["objective"] = {"weights": {t: draw(st.sampled_from((1, 2, 0.5))) for t in chosen}}
    return data


EXACT = [e for e in [*ENGINES, LNS] if e.exact]


@pytest.mark.parametrize("engine", EXACT, ids=lambda e: e.id)
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=rev2_instances())
def test_optimum_matches_every_plan_judged_by_the_oracle(
    engine: Engine, data: dict[str, Any]
) -> None:
    problem = compile_or_reject(data)
    if features.unhandled(problem, engine.solver):
        event("engine does not handle the features")
        return
    if not engine.balance and "balance" in problem.objective.terms:
        return  # refused: test_backends::test_balance_is_exact
    assume(count_plans(data) <= 4000)
    key = objective_key(problem)
    best: tuple[float, ...] | None = None
    for plan in every_plan(data):
        ok, values = oracle(data, plan)
        if ok and (best is None or _less(key(values), best)):
            best = key(values)
    event(f"features {sorted(problem.features & REV2)}; a plan exists: {best is not None}")
    r = engine.solve(problem)
    if best is None:
        assert r.status == Status.INFEASIBLE, r.message
        return
    assert r.status == Status.OPTIMAL, r.message
    ok, values = oracle(data, [a.to_dict() for a in r.assignments])
    assert ok, r.assignments
    assert key(values) == pytest.approx(best, abs=1e-9), (key(values), best)
    assert key(evaluate(problem, r.assignments).terms) == pytest.approx(best, abs=1e-9)


def test_cpsat_front_lists_devices_at_every_point() -> None:
    # two 1-GPU nodes; two 1-GPU jobs of 2 units: one node (makespan 4) or two (makespan 2)
    nodes = [gpu_node("g", 1, count=2)]
    tasks = [gpu_task("a", 1, duration=2), gpu_task("b", 1, duration=2)]
    problem = make(nodes, tasks)
    front = solvers.pareto(problem, "cpsat", ["nodes", "makespan"], time_limit=LIMIT)
    values = []
    for r in front:
        assert r.status == Status.OPTIMAL
        ev = evaluate(problem, r.assignments)
        assert ev.feasible, ev.violations
        assert all(a.devices == {"gpu": (0,)} for a in r.assignments)
        values.append((ev.terms["nodes"], ev.terms["makespan"]))
    assert values == [(1, 4), (2, 2)]


# -- the LNS for devices and spread, on neighbourhoods smaller than the problem ------------------


@pytest.mark.parametrize("seed", [1, 4])
def test_devices_lns_plans_check_and_keep_gangs_whole(seed: int) -> None:
    from taskalloc.problems.generate import generate
    from taskalloc.problems.problem import problem_from_dict

    data = generate(80, 24, seed=seed, devices=True, zones=True)
    for i, t in enumerate(data["tasks"][:12]):  # gangs across neighbourhoods
        t["gang"] = f"pair-{i // 2}"
        t["required"] = False
    problem = problem_from_dict(data)
    assert {"devices", "spread"} <= problem.features
    r = solvers.solve(problem, "cpsat", lns=True, time_limit=1.5, deterministic=True, seed=seed)
    assert r.options["search"] == "lns (devices, spread)"
    assert r.status in (Status.FEASIBLE, Status.OPTIMAL), r.message
    ev = evaluate(problem, r.assignments)
    assert ev.feasible, ev.violations[:3]
    greedy = solvers.solve(problem, "greedy")
    key = objective_key(problem)
    assert not _less(key(evaluate(problem, greedy.assignments).terms), key(ev.terms))


def test_devices_lns_stops_on_request_with_a_checked_plan() -> None:
    import threading

    from taskalloc.problems.generate import generate
    from taskalloc.problems.problem import problem_from_dict

    problem = problem_from_dict(generate(80, 24, seed=3, devices=True, zones=True))
    stop = threading.Event()
    stop.set()  # as if Ctrl-C came during the warm start
    r = solvers.solve(problem, "cpsat", lns=True, time_limit=60, stop=stop)
    assert r.status == Status.FEASIBLE
    assert "stopped on request" in r.message
    assert evaluate(problem, r.assignments).feasible


def test_an_infeasibility_proof_names_the_devices(tmp_path: Any) -> None:
    from tests.helpers import cli

    # 3 x 0.6 GPU fits the pool of 2 but not its 2 devices: only the exact model sees it
    path = tmp_path / "p.yaml"
    tasks = "".join(f"  - {{id: {t}, demand: {{gpu: 0.6}}}}\n" for t in "abc")
    path.write_text(
        "taskalloc: 1\nnodes:\n  - {id: g, capacity: {cpu: 8, gpu: 2}, devices: {gpu: 2}}\n"
        "tasks:\n" + tasks
    )
    r = cli("solve", str(path), "-s", "cpsat", env={"COLUMNS": "1000"})  # a line each
    assert "infeasible: CP-SAT proved that no plan exists" in r.stderr, r.stderr
    assert "g: cpu 8, gpu 2 in 2 devices of 1;" in r.stderr


def test_devices_lns_starts_from_the_greedy_when_the_hint_names_no_devices() -> None:
    import dataclasses

    from taskalloc.problems.generate import generate
    from taskalloc.problems.problem import problem_from_dict

    problem = problem_from_dict(generate(80, 24, seed=4, devices=True, zones=True))
    old = solvers.solve(problem, "greedy").assignments  # then written without devices
    hint = [dataclasses.replace(a, devices=None) for a in old]
    assert not evaluate(problem, hint).feasible
    r = solvers.solve(problem, "cpsat", lns=True, hint=hint, time_limit=2, deterministic=True)
    assert r.options["warm_start"].endswith("(the hint breaks a constraint)")
    assert r.status == Status.FEASIBLE and evaluate(problem, r.assignments).feasible
