"""The scheduling replay (solvers/online/schedule.py): a tiny instance traced by hand for every
policy and queue order, the plans accepted by check, a missed deadline left out with its
reason, devices, replicas, gangs and services, the options and the problems it refuses."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import taskalloc
from taskalloc.solvers.engine import OptionError
from taskalloc.solvers.online.schedule import POLICY_HELP, QUEUES
from taskalloc.solvers.simulation import ReplayUnsupported, load_replay


def tiny() -> Any:
    """Nodes a (cpu 4) and b (cpu 2); t3 after t1; t4 must end by 4."""
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [{"id": "a", "capacity": {"cpu": 4}}, {"id": "b", "capacity": {"cpu": 2}}],
            "tasks": [
                {"id": "t1", "demand": {"cpu": 2}, "duration": 4},
                {"id": "t2", "demand": {"cpu": 2}, "duration": 1, "priority": 3},
                {"id": "t3", "demand": {"cpu": 2}, "duration": 2, "after": ["t1"], "due": 5},
                {"id": "t4", "demand": {"cpu": 4}, "duration": 2, "release": 1, "deadline": 4},
                {"id": "t5", "demand": {"cpu": 1}, "duration": 3, "release": 1, "priority": 2},
            ],
        }
    )


# The hand traces. At 0, t1 and t2 are ready (fifo: t1 first; shortest-first and priority: t2
# first); at 1 t2 ends and t4, t5 are released (fifo and shortest-first: t4 first; priority: t5
# first); at 4 t1 ends and t3 becomes ready; t4 (4 cpu, 2 long) fits only on an empty a and
# must start by 2.
#  first-fit: everything goes to a while it fits: t1, t2 on a at 0; at 1 a has 2 free, so t4
#    waits and t5 takes a; at 4 t4 could end at 6 > 4 at the earliest: missed; t3 on a.
#  least-loaded: t1 on a (0.5 < 1); t2: a and b both reach 1, the tie goes to a; at 1 t5 on b
#    (0.5 < a's 0.75); t4 waits and misses at 4; t3 on a (0.5 < 1). Same for every queue.
#  best-fit, fifo: t1 on b (1 > 0.5), t2 on a; at 1 a is empty: t4 on a [1, 3]; t5 waits (b
#    full, a full) until t4 ends at 3, then a; at 4 t3 on b (1 > a's 0.75). Nothing missed;
#    t5 waited 2.
#  best-fit, shortest-first or priority: t2 on b, t1 on a; at 1 t4 does not fit, t5 on a
#    (0.75 > 0.5); t4 misses at 4; t3 on b.
FIRST_FIT = {"t1": ("a", 0, 4), "t2": ("a", 0, 1), "t5": ("a", 1, 4), "t3": ("a", 4, 6)}
LEAST_LOADED = {"t1": ("a", 0, 4), "t2": ("a", 0, 1), "t5": ("b", 1, 4), "t3": ("a", 4, 6)}
BEST_FIT_FIFO = {
    "t1": ("b", 0, 4),
    "t2": ("a", 0, 1),
    "t4": ("a", 1, 3),
    "t5": ("a", 3, 6),
    "t3": ("b", 4, 6),
}
BEST_FIT_OTHER = {"t2": ("b", 0, 1), "t1": ("a", 0, 4), "t5": ("a", 1, 4), "t3": ("b", 4, 6)}
TRACES = {
    ("first-fit", "fifo"): FIRST_FIT,
    ("first-fit", "shortest-first"): FIRST_FIT,
    ("first-fit", "priority"): FIRST_FIT,
    ("least-loaded", "fifo"): LEAST_LOADED,
    ("least-loaded", "shortest-first"): LEAST_LOADED,
    ("least-loaded", "priority"): LEAST_LOADED,
    ("best-fit", "fifo"): BEST_FIT_FIFO,
    ("best-fit", "shortest-first"): BEST_FIT_OTHER,
    ("best-fit", "priority"): BEST_FIT_OTHER,
}


def test_every_policy_and_queue_is_traced():
    assert {pq for pq in TRACES} == {(p, q) for p in POLICY_HELP for q in QUEUES}
    assert list(load_replay("scheduling").policies) == ["least-loaded", "best-fit", "first-fit"]


@pytest.mark.parametrize(("policy", "queue"), list(TRACES))
def test_the_tiny_instance_matches_the_hand_trace(policy, queue):
    problem = tiny()
    sim = taskalloc.simulate(problem, policy, queue=queue)
    got = {a.task: (a.node, a.start, a.end) for a in sim.result.assignments}
    assert got == TRACES[policy, queue]
    m = sim.metrics
    missed = "t4" not in got
    assert m["kind"] == "scheduling" and m["policy"] == policy and m["queue"] == queue
    assert m["makespan"] == 6 and m["tardiness"] == 1  # t3 is due at 5 and ends at 6
    assert m["missed_deadline"] == (1 if missed else 0)
    assert m["placed"] == len(got) and m["unplaced"] == 5 - len(got)
    assert m["mean_wait"] == (0 if missed else 0.4) and m["p95_wait"] == (0 if missed else 2)
    assert m["utilisation"]["time"][0] == 0 and m["utilisation"]["cpu"][-1] == 0
    assert f"{1 if missed else 0} missed their deadline" in sim.summary[0]


def test_a_missed_deadline_is_unplaced_with_the_reason_and_plans_pass_check():
    problem = taskalloc.load(
        {**tiny().to_dict(), "tasks": [{**t, "required": False} for t in tiny().to_dict()["tasks"]]}
    )
    for policy, queue in TRACES:
        sim = taskalloc.simulate(problem, policy, queue=queue)
        plan = sim.to_plan(problem)
        assert taskalloc.check(problem, plan).ok
        assert plan.metrics["simulation"] == sim.metrics
        if (policy, queue) != ("best-fit", "fifo"):
            assert [(u.task, u.reason) for u in plan.unplaced] == [
                (
                    "t4",
                    "missed its deadline: t4 must end by 4; still waiting at 4, it would end "
                    "at 6 at the earliest",
                )
            ]
    # required tasks left out: the plan says so (status unknown), as the placement replay's
    sim = taskalloc.simulate(tiny(), "first-fit")
    assert not sim.result.has_plan and "required tasks not started: t4" in sim.summary


def test_a_task_after_a_missed_one_is_left_out_too():
    problem = taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [{"id": "a", "capacity": {"cpu": 1}}],
            "tasks": [
                {"id": "x", "demand": {"cpu": 1}, "duration": 5, "required": False},
                {"id": "y", "demand": {"cpu": 1}, "duration": 2, "deadline": 3, "required": False},
                {"id": "z", "demand": {"cpu": 1}, "duration": 1, "after": ["y"], "required": False},
            ],
        }
    )
    sim = taskalloc.simulate(problem, "first-fit")
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    reasons = {u.task: u.reason for u in plan.unplaced}
    assert reasons["z"] == "after y, which is unplaced"
    assert reasons["y"].startswith("missed its deadline: y must end by 3; still waiting at 5")


def gpu_problem() -> dict[str, Any]:
    return {
        "taskalloc": 1,
        "horizon": 20,
        "gangs": {"dist": {"same_start": True}},
        "nodes": [{"id": "g", "count": 2, "capacity": {"cpu": 8, "gpu": 2}, "devices": {"gpu": 2}}],
        "tasks": [
            {"id": "api", "service": True, "demand": {"cpu": 1, "gpu": 0.5}},
            {"id": "w", "gang": "dist", "replicas": 2, "demand": {"gpu": 1}, "duration": 4},
            {"id": "ev", "gang": "dist", "demand": {"gpu": 0.5}, "duration": 2},
            {"id": "big", "demand": {"gpu": 2}, "duration": 3, "separate_from": ["api"]},
            {"id": "late", "demand": {"gpu": 2}, "duration": 18, "required": False},
        ],
    }


@pytest.mark.parametrize("policy", list(POLICY_HELP))
def test_devices_gangs_services_and_separation(policy):
    problem = taskalloc.load(gpu_problem())
    sim = taskalloc.simulate(problem, policy, queue="fifo")
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok, plan.metrics.get("violations")
    got = {(a.task, a.replica): a for a in plan.assignments}
    assert (got["api", 0].start, got["api", 0].end) == (0, 20)  # a service: [0, horizon)
    # the gang starts together, its replicas on distinct nodes
    assert got["w", 0].start == got["w", 1].start == got["ev", 0].start == 0
    assert got["w", 0].node != got["w", 1].node
    # big needs both GPUs of a node that never ran api: it waits for the gang to end
    assert got["big", 0].start == 4 and got["big", 0].node != got["api", 0].node
    assert got["big", 0].devices == {"gpu": (0, 1)}
    # late would end after the horizon once anything delays it
    assert [u.task for u in plan.unplaced] == ["late"]
    assert plan.unplaced[0].reason.startswith("missed its horizon: late must end by 20")
    assert sim.metrics["makespan"] == 7


def test_options_and_refusals():
    with pytest.raises(OptionError, match="'lifo' is not a queue order"):
        taskalloc.simulate(tiny(), "first-fit", queue="lifo")
    with pytest.raises(OptionError, match="'fgd' is not a policy of the scheduling replay"):
        taskalloc.simulate(tiny(), "fgd")
    placement = {**tiny().to_dict(), "tasks": [{"id": "p", "demand": {"cpu": 1}}]}
    assert load_replay("scheduling").unsupported(taskalloc.load(placement)) == (
        "it is a placement problem (no task has a duration)"
    )
    with pytest.raises(ReplayUnsupported, match=r"^simulate replays placement problems and"):
        load_replay("pareto")


def test_a_stop_keeps_what_started():
    stop = threading.Event()
    stop.set()
    sim = taskalloc.simulate(tiny(), "first-fit", stop=stop)
    assert sim.stopped and sim.metrics["stopped"]
    assert sim.result.assignments == []
    assert sim.not_arrived == ("t1", "t2", "t3", "t4", "t5")


def test_a_gang_with_a_service_starts_at_0_or_not_at_all():
    problem = taskalloc.load(
        {
            "taskalloc": 1,
            "horizon": 10,
            "nodes": [{"id": "a", "capacity": {"cpu": 4}}],
            "tasks": [
                {"id": "s", "service": True, "gang": "g", "demand": {"cpu": 1}},
                {"id": "w", "gang": "g", "demand": {"cpu": 1}, "duration": 3},
                {"id": "v", "gang": "h", "demand": {"cpu": 1}, "duration": 3, "release": 2},
                {"id": "s2", "service": True, "gang": "h", "demand": {"cpu": 1}},
            ],
        }
    )
    sim = taskalloc.simulate(problem, "first-fit")
    assert [(a.task, a.start, a.end) for a in sim.result.assignments] == [
        ("s", 0, 10),
        ("w", 0, 3),
    ]
    why = "a gang with a service starts at 0, and v is not ready then"
    assert sim.reasons == {"v": why, "s2": why}


# -- spread ---------------------------------------------------------------------------------


def spread_problem() -> Any:
    """Zones x (a, b) and y (c), 2 cpu each. blk holds c over [0, 3), pre holds half of a
    over [0, 10); w has two replicas spread over the zones (max_skew 1)."""
    return taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [
                {"id": "a", "capacity": {"cpu": 2}, "labels": {"zone": "x"}},
                {"id": "b", "capacity": {"cpu": 2}, "labels": {"zone": "x"}},
                {"id": "c", "capacity": {"cpu": 2}, "labels": {"zone": "y"}},
            ],
            "tasks": [
                {"id": "blk", "demand": {"cpu": 2}, "duration": 3, "nodes": ["c"]},
                {"id": "pre", "demand": {"cpu": 1}, "duration": 10, "nodes": ["a"]},
                {
                    "id": "w",
                    "replicas": 2,
                    "demand": {"cpu": 1},
                    "duration": 2,
                    "spread": {"key": "zone", "max_skew": 1},
                },
            ],
        }
    )


# Hand trace. At 0 blk takes c and pre half of a. w is ready: its first replica may go to a or
# b (zone x: counts x 1, y 0, and the one replica left can fill y); its second may not go to
# zone x (x 2, y 0 differ by 2) and c is full, so w waits (without spread it would start at 0
# on a and b). At 3 blk ends: the first replica goes where the policy says (first-fit: a;
# best-fit: a, the fuller; least-loaded: b, the emptier), the second to c.
SPREAD = {
    "first-fit": {("w", 0): ("a", 3), ("w", 1): ("c", 3)},
    "best-fit": {("w", 0): ("a", 3), ("w", 1): ("c", 3)},
    "least-loaded": {("w", 0): ("b", 3), ("w", 1): ("c", 3)},
}


@pytest.mark.parametrize("policy", list(POLICY_HELP))
def test_spread_the_dispatcher_never_breaks_the_skew(policy):
    problem = spread_problem()
    sim = taskalloc.simulate(problem, policy)
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    got = {(a.task, a.replica): (a.node, a.start) for a in plan.assignments if a.task == "w"}
    assert got == SPREAD[policy]
    assert sim.metrics["mean_wait"] == 1.5  # (0 + 0 + 3 + 3) / 4: w's replicas waited 3
    # without the spread, w starts at once on two nodes of zone x
    free = problem.to_dict()
    del free["tasks"][2]["spread"]
    starts = {a.start for a in taskalloc.simulate(taskalloc.load(free), policy).result.assignments}
    assert starts == {0}


def test_spread_a_larger_skew_allows_one_zone_and_a_task_that_can_never_spread_says_why():
    base = {
        "taskalloc": 1,
        "nodes": [
            {"id": "a", "capacity": {"cpu": 1}, "labels": {"zone": "x"}},
            {"id": "b", "capacity": {"cpu": 1}, "labels": {"zone": "x"}},
            {"id": "c", "capacity": {"cpu": 0.5}, "labels": {"zone": "y"}},
        ],
        "tasks": [
            {
                "id": "v",
                "replicas": 2,
                "demand": {"cpu": 1},
                "duration": 1,
                "required": False,
                "spread": {"key": "zone", "max_skew": 1},
            }
        ],
    }
    for policy in POLICY_HELP:
        problem = taskalloc.load(base)
        sim = taskalloc.simulate(problem, policy)
        plan = sim.to_plan(problem)
        assert taskalloc.check(problem, plan).ok
        assert plan.assignments == []
        # c (zone y) never has room for a replica, and both on zone x would break the skew
        assert [(u.task, u.reason) for u in plan.unplaced] == [
            (
                "v",
                "no allowed node ever had room for it when it was ready without breaking the "
                "spread of v over zone (max_skew 1)",
            )
        ]
        base["tasks"][0]["spread"]["max_skew"] = 2
        problem = taskalloc.load(base)
        sim = taskalloc.simulate(problem, policy)
        assert {(a.node, a.start) for a in sim.result.assignments} == {("a", 0), ("b", 0)}
        assert taskalloc.check(problem, sim.to_plan(problem)).ok
        base["tasks"][0]["spread"]["max_skew"] = 1


def test_spread_keeps_the_skew_with_three_replicas_on_two_zones():
    problem = taskalloc.load(
        {
            "taskalloc": 1,
            "nodes": [
                {"id": f"x{i}", "capacity": {"cpu": 1}, "labels": {"zone": "x"}} for i in range(3)
            ]
            + [{"id": f"y{i}", "capacity": {"cpu": 1}, "labels": {"zone": "y"}} for i in range(3)],
            "tasks": [
                {
                    "id": "w",
                    "replicas": 3,
                    "demand": {"cpu": 1},
                    "duration": 1,
                    "spread": {"key": "zone"},
                }
            ],
        }
    )
    for policy in POLICY_HELP:
        sim = taskalloc.simulate(problem, policy)
        zones = sorted(a.node[0] for a in sim.result.assignments)
        # first-fit would take x0, x1, x2 without the spread: the third replica goes to y
        assert zones == ["x", "x", "y"], policy
        assert taskalloc.check(problem, sim.to_plan(problem)).ok


# -- current, moves and max_moves -----------------------------------------------------------


def moves_problem(max_moves: int | None = 1) -> Any:
    """a and b: 2 cpu, c: 4 cpu. h holds a over [0, 4); m1, m2 run on a today, m3 on b, m6 on
    c; m4 (3 cpu) runs on a, which is too small for it now."""
    data: dict[str, Any] = {
        "taskalloc": 1,
        "nodes": [
            {"id": "a", "capacity": {"cpu": 2}},
            {"id": "b", "capacity": {"cpu": 2}},
            {"id": "c", "capacity": {"cpu": 4}},
        ],
        "tasks": [
            {"id": "h", "demand": {"cpu": 2}, "duration": 4, "nodes": ["a"]},
            {"id": "m1", "demand": {"cpu": 1}, "duration": 2, "current": "a"},
            {"id": "m2", "demand": {"cpu": 1}, "duration": 2, "current": "a"},
            {"id": "m3", "demand": {"cpu": 1}, "duration": 1, "current": "b", "release": 1},
            {
                "id": "m4",
                "demand": {"cpu": 3},
                "duration": 1,
                "current": "a",
                "release": 2,
                "required": False,
            },
            {"id": "m6", "demand": {"cpu": 1}, "duration": 1, "current": "c", "release": 5},
        ],
    }
    if max_moves is not None:
        data["max_moves"] = max_moves
    return taskalloc.load(data)


# Hand trace, max_moves 1, fifo. At 0 h takes a; m1 cannot stay on a: it moves (the one move
# allowed) to b (first-fit; best-fit: b is fuller after it than c) or c (least-loaded); m2
# cannot stay on a and has no move left: it waits. At 1 m3 stays on b (room on b under every
# policy). At 2 m4 (3 cpu) cannot fit a and would need a move: it waits. At 4 h ends and m2
# gets a. At 5 m6 stays on c although first-fit alone would pick a (1 cpu free): with moves
# counted, a replica goes to its current node where it fits. m4 never starts.
MOVES = {
    "first-fit": {"h": "a", "m1": "b", "m2": "a", "m3": "b", "m6": "c"},
    "best-fit": {"h": "a", "m1": "b", "m2": "a", "m3": "b", "m6": "c"},
    "least-loaded": {"h": "a", "m1": "c", "m2": "a", "m3": "b", "m6": "c"},
}
MOVE_STARTS = {"h": 0, "m1": 0, "m2": 4, "m3": 1, "m6": 5}


@pytest.mark.parametrize("policy", list(POLICY_HELP))
def test_max_moves_the_dispatcher_moves_at_most_k_then_waits_for_current_nodes(policy):
    problem = moves_problem()
    sim = taskalloc.simulate(problem, policy)
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    assert {a.task: a.node for a in plan.assignments} == MOVES[policy]
    assert {a.task: a.start for a in plan.assignments} == MOVE_STARTS
    assert plan.metrics["terms"]["moves"] == 1
    assert [(u.task, u.reason) for u in plan.unplaced] == [
        (
            "m4",
            "no allowed node ever had room for it when it was ready without a move, and "
            "max_moves 1 was used up (its current node: a)",
        )
    ]


@pytest.mark.parametrize("policy", list(POLICY_HELP))
def test_max_moves_0_and_no_limit(policy):
    # no move at all: m1 waits for a as m2 does, m4 never starts
    problem = moves_problem(0)
    sim = taskalloc.simulate(problem, policy)
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    got = {a.task: (a.node, a.start) for a in plan.assignments}
    assert got["m1"] == ("a", 4) and got["m2"] == ("a", 4)
    assert plan.metrics["terms"]["moves"] == 0
    # no limit and moves not in the objective: the policy alone picks (m2 moves too, m4 goes
    # to c; first-fit puts m6 on a, the first node with room at 5)
    problem = moves_problem(None)
    sim = taskalloc.simulate(problem, policy)
    plan = sim.to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    got = {a.task: (a.node, a.start) for a in plan.assignments}
    assert got["m2"][1] == 0 and got["m2"][0] != "a"
    assert got["m4"] == ("c", 2)
    assert plan.unplaced == []
    if policy == "first-fit":
        assert got["m6"] == ("a", 5)


def test_a_missed_deadline_while_waiting_for_the_current_node_says_so():
    data = moves_problem(0).to_dict()
    data["tasks"][2]["deadline"] = 3
    data["tasks"][2]["required"] = False
    problem = taskalloc.load(data)
    sim = taskalloc.simulate(problem, "first-fit")
    reasons = {u.task: u.reason for u in sim.to_plan(problem).unplaced}
    assert reasons["m2"] == (
        "missed its deadline: m2 must end by 3; still waiting at 2, it would end at 4 at the "
        "earliest; it waited for a node without a move, and max_moves 0 was used up (its "
        "current node: a)"
    )


def _random_problem(seed: int) -> Any:
    """A small random schedule with spread, current and max_moves, releases and dependencies."""
    import random

    rnd = random.Random(seed)
    nn = rnd.randint(2, 6)
    nodes = [
        {"id": f"n{i}", "capacity": {"cpu": rnd.choice([2, 4, 8])}, "labels": {"zone": z}}
        for i, z in enumerate(rnd.choice("xyz") for _ in range(nn))
    ]
    tasks: list[dict[str, Any]] = []
    for j in range(rnd.randint(2, 10)):
        t: dict[str, Any] = {
            "id": f"t{j}",
            "demand": {"cpu": rnd.choice([1, 2, 3])},
            "duration": rnd.randint(1, 5),
            "required": False,
        }
        if rnd.random() < 0.5:
            t["replicas"] = rnd.randint(1, min(3, nn))
            t["spread"] = {"key": "zone", "max_skew": rnd.choice([1, 1, 2])}
        if rnd.random() < 0.6:
            t["current"] = [f"n{rnd.randrange(nn)}"]
        if rnd.random() < 0.3:
            t["release"] = rnd.randint(0, 5)
        if j and rnd.random() < 0.3:
            t["after"] = [f"t{rnd.randrange(j)}"]
        tasks.append(t)
    data: dict[str, Any] = {"taskalloc": 1, "nodes": nodes, "tasks": tasks}
    if rnd.random() < 0.6:
        data["max_moves"] = rnd.randint(0, 3)
    return taskalloc.load(data)


@pytest.mark.parametrize("seed", range(40))
def test_random_schedules_with_spread_and_max_moves_give_plans_check_accepts(seed):
    problem = _random_problem(seed)
    for policy in POLICY_HELP:
        for queue in QUEUES:
            plan = taskalloc.simulate(problem, policy, queue=queue).to_plan(problem)
            report = taskalloc.check(problem, plan)
            assert report.ok, (policy, queue, [v.message for v in report.violations])


def test_moves_in_the_objective_keep_replicas_on_their_current_node_without_a_limit():
    # no max_moves, but moves count in the objective: m6 stays on c (first-fit alone: a), and
    # m1, m2 still move when a is full (nothing limits them): to b, which leaves no room for m3
    # there at 1 (it moves to c); m4 (3 cpu) never fits a and moves to c at 2
    data = moves_problem(None).to_dict()
    data["objective"] = {"lexicographic": ["unplaced", "moves", "makespan"]}
    problem = taskalloc.load(data)
    plan = taskalloc.simulate(problem, "first-fit").to_plan(problem)
    assert taskalloc.check(problem, plan).ok
    got = {a.task: (a.node, a.start) for a in plan.assignments}
    assert got["m6"] == ("c", 5) and got["m3"] == ("c", 1) and got["m4"] == ("c", 2)
    assert got["m1"] == ("b", 0) and got["m2"] == ("b", 0)
    assert plan.metrics["terms"]["moves"] == 4  # m1, m2, m3, m4
