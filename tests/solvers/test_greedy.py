"""Tests of the greedy solver: every constraint, the policies, scheduling, and a property test.

Every plan is checked by the evaluator (:func:`check`): a ``feasible`` result must have no
violation at all, an ``unknown`` one only "required task is not placed" violations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.greedy import POLICIES, solve
from taskalloc.solvers.result import Result

# -- helpers ---------------------------------------------------------------------------------


def make(nodes: list[dict[str, Any]], tasks: list[dict[str, Any]], **extra: Any) -> Problem:
    return problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks, **extra})


def check(problem: Problem, result: Result) -> Result:
    """The evaluator's verdict must match the status (and the plan must be sound)."""
    ev = evaluate(problem, result.assignments)
    messages = [v.message for v in ev.violations]
    if result.status == Status.FEASIBLE:
        assert ev.feasible, messages
    else:
        assert result.status == Status.UNKNOWN
        assert ev.violations, "unknown status, yet the evaluator finds the plan feasible"
        assert {v.kind for v in ev.violations} == {"required"}, messages
    return result


def run(problem: Problem, **options: Any) -> Result:
    return check(problem, solve(problem, **options))


def where(result: Result) -> dict[str, list[str]]:
    """task -> nodes of its replicas, by replica."""
    out: dict[str, list[str]] = {}
    for a in sorted(result.assignments, key=lambda a: (a.task, a.replica)):
        out.setdefault(a.task, []).append(a.node)
    return out


def times(result: Result) -> dict[str, tuple[int | None, int | None]]:
    """task -> (start, end) of replica 0."""
    return {a.task: (a.start, a.end) for a in result.assignments if a.replica == 0}


def node(nid: str, cpu: float = 10, **extra: Any) -> dict[str, Any]:
    return {"id": nid, "capacity": {"cpu": cpu}, **extra}


def task(tid: str, cpu: float = 1, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "demand": {"cpu": cpu}, **extra}


# -- basics ----------------------------------------------------------------------------------


def test_dispatch_and_result_fields() -> None:
    p = make([node("a")], [task("t")])
    r = solvers.solve(p, "greedy", policy="best-fit", seed=7)
    check(p, r)
    assert r.solver == "greedy"
    assert r.status == Status.FEASIBLE
    assert r.options == {"policy": "best-fit"}
    assert r.seed == 7
    assert r.seconds >= 0
    assert r.bound is None
    assert [a.to_dict() for a in r.assignments] == [{"task": "t", "replica": 0, "node": "a"}]


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match=r"policy: .worst-fit. is not one of"):
        solve(make([node("a")], [task("t")]), policy="worst-fit")


@pytest.mark.parametrize("policy", POLICIES)
def test_capacity(policy: str) -> None:
    p = make(
        [node("a", 4), node("b", 4)],
        [task("t1", 3), task("t2", 3), task("t3", 3, required=False)],
    )
    r = run(p, policy=policy)
    assert r.status == Status.FEASIBLE
    placed = where(r)
    assert sorted(placed) == ["t1", "t2"]  # the optional third one does not fit anywhere
    assert placed["t1"] != placed["t2"]


def test_capacity_every_resource_and_missing_resource() -> None:
    p = make(
        [
            {"id": "cpu-only", "capacity": {"cpu": 100, "memory": 100}},
            {"id": "gpu", "capacity": {"cpu": 2, "memory": 100, "gpu": 1}},
        ],
        [
            {"id": "needs-gpu", "demand": {"cpu": 1, "gpu": 1}},
            {"id": "too-big", "demand": {"cpu": 3, "gpu": 1}, "required": False},
        ],
    )
    r = run(p)
    assert where(r) == {"needs-gpu": ["gpu"]}


@pytest.mark.parametrize("policy", POLICIES)
def test_replicas_on_distinct_nodes(policy: str) -> None:
    p = make([node("a"), node("b"), node("c")], [task("svc", 1, replicas=3)])
    r = run(p, policy=policy)
    assert sorted(where(r)["svc"]) == ["a", "b", "c"]


def test_replicas_all_or_none() -> None:
    p = make(
        [node("a"), node("b")],
        [task("svc", 1, replicas=3, required=False), task("other", 1)],
    )
    r = run(p)
    assert r.status == Status.FEASIBLE
    assert where(r) == {"other": ["a"]}
    r = run(make([node("a"), node("b")], [task("svc", 1, replicas=3)]))
    assert r.status == Status.UNKNOWN
    assert r.assignments == []
    assert r.message is not None and "svc" in r.message


@pytest.mark.parametrize("declared_by", ["first", "second"])
@pytest.mark.parametrize("policy", POLICIES)
def test_separate_from_both_directions(declared_by: str, policy: str) -> None:
    first = task("first", 1, priority=5)
    second = task("second", 1)
    (first if declared_by == "first" else second)["separate_from"] = [
        "second" if declared_by == "first" else "first"
    ]
    p = make([node("a"), node("b")], [first, second])
    r = run(p, policy=policy)
    placed = where(r)
    assert placed["first"] != placed["second"]
    # with one node only one of them can run
    p = make([node("a")], [first, {**second, "required": False}])
    assert where(run(p, policy=policy)) == {"first": ["a"]}


def test_separation_excludes_every_replica_node() -> None:
    p = make(
        [node("a"), node("b"), node("c")],
        [task("svc", 1, replicas=2, priority=5), task("shadow", 1, separate_from=["svc"])],
    )
    r = run(p, policy="first-fit")
    assert where(r) == {"svc": ["a", "b"], "shadow": ["c"]}


# -- gangs -----------------------------------------------------------------------------------


def test_gang_placed_together() -> None:
    p = make(
        [node("a", 4), node("b", 4)],
        [task(f"g{i}", 2, gang="stack") for i in range(4)],
    )
    r = run(p)
    assert sorted(where(r)) == ["g0", "g1", "g2", "g3"]


@pytest.mark.parametrize("policy", POLICIES)
def test_gang_that_cannot_fit_places_nothing(policy: str) -> None:
    p = make(
        [node("a", 10)],
        [
            task("g1", 4, gang="g", priority=5, required=False),
            task("g2", 4, gang="g", priority=5, required=False),
            task("g3", 4, gang="g", priority=5, required=False),  # 12 > 10: the gang fails
            task("filler", 10, priority=1, required=False),  # fits only if g1, g2 rolled back
        ],
    )
    r = run(p, policy=policy)
    assert r.status == Status.FEASIBLE
    assert where(r) == {"filler": ["a"]}


def test_required_gang_that_cannot_fit() -> None:
    p = make(
        [node("a", 10)],
        [task("g1", 4, gang="g"), task("g2", 20, gang="g", required=False), task("x", 2)],
    )
    r = run(p)
    assert r.status == Status.UNKNOWN
    assert where(r) == {"x": ["a"]}
    assert r.message is not None and "g1" in r.message and "g2" in r.message


# -- selectors, pools, per-node demand and cost -------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_match_with_list_values(policy: str) -> None:
    p = make(
        [
            node("l4", labels={"accel": "l4"}),
            node("a100", labels={"accel": "a100"}),
            node("h100", labels={"accel": "h100"}),
        ],
        [
            task("big", 1, match={"accel": ["a100", "h100"]}, replicas=2),
            task("small", 1, match={"accel": "l4"}),
            task("any", 1, match={"accel": ["t4", "h100"]}),
        ],
    )
    r = run(p, policy=policy)
    placed = where(r)
    assert sorted(placed["big"]) == ["a100", "h100"]
    assert placed["small"] == ["l4"]
    assert placed["any"] == ["h100"]


def test_nodes_with_pool_ids() -> None:
    p = make(
        [{"id": "gpu", "count": 3, "capacity": {"cpu": 10}}, node("cpu")],
        [task("svc", 1, nodes=["gpu"], replicas=3), task("one", 1, nodes=["gpu-2"])],
    )
    r = run(p, policy="first-fit")
    placed = where(r)
    assert sorted(placed["svc"]) == ["gpu-1", "gpu-2", "gpu-3"]
    assert placed["one"] == ["gpu-2"]


def test_demand_on() -> None:
    p = make(
        [node("small", 2), node("big", 8)],
        [
            # 4 cpu in general, but only 1 on `small`
            task("a", 4, nodes=["small"], demand_on={"small": {"cpu": 1}}, priority=3),
            task("b", 1, nodes=["small"], priority=2),
            task("c", 0.5, nodes=["small"], required=False),  # 1 + 1 + 0.5 > 2
        ],
    )
    r = run(p)
    assert where(r) == {"a": ["small"], "b": ["small"]}


def test_demand_on_pool_counts_in_choice() -> None:
    # 6 cpu in general (more than any node), 1 on the members of pool `a100`
    p = make(
        [node("cpu", 4), {"id": "a100", "count": 2, "capacity": {"cpu": 4}}],
        [task("t", 6, demand_on={"a100": {"cpu": 1}})],
    )
    assert where(run(p, policy="first-fit")) == {"t": ["a100-1"]}


@pytest.mark.parametrize("policy", ["least-loaded", "best-fit"])
def test_assign_cost_breaks_ties(policy: str) -> None:
    p = make(
        [node("a"), node("b"), node("c")],
        [task("t", 1, assign_cost={"a": 5, "b": 1, "c": 2})],
    )
    assert where(run(p, policy=policy)) == {"t": ["b"]}


def test_first_fit_ignores_cost() -> None:
    p = make([node("a"), node("b")], [task("t", 1, assign_cost={"a": 5})])
    assert where(run(p, policy="first-fit")) == {"t": ["a"]}


def test_node_cost_breaks_ties() -> None:
    p = make([node("a", cost=5), node("b", cost=1)], [task("t", 1)])
    assert where(run(p)) == {"t": ["b"]}


def test_current_node_breaks_ties() -> None:
    p = make([node("a"), node("b")], [task("t", 1, current="b")])
    assert where(run(p)) == {"t": ["b"]}


# -- policies and order ----------------------------------------------------------------------


def _policy_problem(**timing: Any) -> Problem:
    """Loads 5, 7, 2 of 10 pinned on n1, n2, n3; then a free task of 2: after placing, the
    peak utilisations are 0.7, 0.9, 0.4."""
    pre = [("p1", "n1", 5), ("p2", "n2", 7), ("p3", "n3", 2)]
    tasks = [task(t, c, nodes=[n], priority=5, **timing) for t, n, c in pre]
    tasks.append(task("t", 2, **({"duration": 5} if timing else {})))
    return make([node("n1"), node("n2"), node("n3")], tasks)


@pytest.mark.parametrize(
    ("policy", "expected"), [("first-fit", "n1"), ("best-fit", "n2"), ("least-loaded", "n3")]
)
def test_policies_differ(policy: str, expected: str) -> None:
    assert where(run(_policy_problem(), policy=policy))["t"] == [expected]


@pytest.mark.parametrize(
    ("policy", "expected"), [("first-fit", "n1"), ("best-fit", "n2"), ("least-loaded", "n3")]
)
def test_policies_differ_scheduling(policy: str, expected: str) -> None:
    r = run(_policy_problem(duration=10), policy=policy)
    assert where(r)["t"] == [expected]
    assert times(r)["t"] == (0, 5)  # every node gives the same earliest end


def test_required_before_optional_then_priority_then_size() -> None:
    p = make(
        [node("a", 4)],
        [
            task("optional-vip", 4, priority=10, required=False),
            task("small", 1, required=False),
            task("big", 3.5, required=False),
            task("needed", 0.5, priority=0),
        ],
    )
    # needed (required) first, then optional-vip (priority) no longer fits, big before small
    assert where(run(p)) == {"needed": ["a"], "big": ["a"]}


def test_required_task_unplaceable_gives_unknown_and_partial_plan() -> None:
    p = make([node("a", 4)], [task("ok", 2), task("huge", 8), task("also-ok", 2)])
    r = run(p)
    assert r.status == Status.UNKNOWN
    assert r.message == "could not place required task huge"
    assert sorted(where(r)) == ["also-ok", "ok"]


def test_repair_pass_fixes_greedy_mistake() -> None:
    # `wide` comes first (priority) and takes `a`, the only node `narrow` may use; they are
    # separated. The second pass moves `narrow` first and makes `wide` avoid `a`.
    p = make(
        [node("a"), node("b")],
        [task("wide", 1, priority=5, separate_from=["narrow"]), task("narrow", 1, nodes=["a"])],
    )
    r = run(p, passes=1)
    assert r.status == Status.UNKNOWN
    r = run(p)
    assert r.status == Status.FEASIBLE
    assert where(r) == {"wide": ["b"], "narrow": ["a"]}
    assert r.message == "2 passes"


def test_time_limit() -> None:
    p = make([node("a")], [task("t")])
    r = run(p, time_limit=0.0)
    assert r.status == Status.UNKNOWN
    assert r.message is not None and r.message.startswith("time limit of 0s reached")
    assert run(p, time_limit=60).status == Status.FEASIBLE


def test_no_resources_at_all() -> None:
    p = make([{"id": "a"}], [{"id": "t"}, {"id": "u", "replicas": 2, "required": False}])
    assert where(run(p)) == {"t": ["a"]}


# -- scheduling ------------------------------------------------------------------------------


def test_precedence() -> None:
    p = make(
        [node("a"), node("fast", speed=2)],
        [
            task("prep", 1, duration=10, replicas=2),
            task("train", 1, duration=3, after=["prep"], nodes=["a"]),
        ],
    )
    r = run(p)
    placed, t = where(r), times(r)
    assert sorted(placed["prep"]) == ["a", "fast"]
    ends = sorted(a.end or 0 for a in r.assignments if a.task == "prep")
    assert ends == [5, 10]
    assert t["train"] == (10, 13)  # after every replica of prep


def test_release() -> None:
    r = run(make([node("a")], [task("t", 1, duration=4, release=7)]))
    assert times(r)["t"] == (7, 11)


def test_deadline_optional_unplaced() -> None:
    p = make(
        [node("a", 1)],
        [
            task("first", 1, duration=5, priority=2),
            task("late", 1, duration=5, deadline=8, required=False),
            task("fine", 1, duration=2, deadline=12, required=False),
        ],
    )
    r = run(p)
    assert r.status == Status.FEASIBLE
    assert times(r) == {"first": (0, 5), "fine": (5, 7)}


def test_deadline_required_unmeetable() -> None:
    r = run(make([node("a")], [task("t", 1, duration=5, deadline=4)]))
    assert r.status == Status.UNKNOWN
    assert r.assignments == []


def test_horizon() -> None:
    p = make(
        [node("a", 1)],
        [task("t1", 1, duration=6, priority=2), task("t2", 1, duration=6, required=False)],
        horizon=10,
    )
    r = run(p)
    assert times(r) == {"t1": (0, 6)}


def test_speed_rounds_up() -> None:
    p = make(
        [node("s2", speed=2), node("s3", speed=3)],
        [task("a", 1, duration=5, nodes=["s2"]), task("b", 1, duration=10, nodes=["s3"])],
    )
    assert times(run(p)) == {"a": (0, 3), "b": (0, 4)}


@pytest.mark.parametrize("policy", POLICIES)
def test_duration_on_earliest_end_wins(policy: str) -> None:
    p = make(
        [{"id": "slow", "count": 2, "capacity": {"cpu": 10}}, node("tuned")],
        [task("t", 1, duration=10, duration_on={"slow": 3, "tuned": 2, "slow-2": 1})],
    )
    r = run(p, policy=policy)
    assert where(r) == {"t": ["slow-2"]}  # member entry wins over the pool
    assert times(r)["t"] == (0, 1)


def test_capacity_over_time_serialises_and_fills_gaps() -> None:
    p = make(
        [node("a", 4)],
        [
            task("t1", 3, duration=5, priority=3),
            task("t2", 3, duration=4, priority=2),
            task("t3", 1, duration=5, priority=1),  # fits beside t1
            task("t4", 2, duration=1, priority=0),  # 1 cpu free during t2: waits for its end
        ],
    )
    r = run(p)
    assert times(r) == {"t1": (0, 5), "t2": (5, 9), "t3": (0, 5), "t4": (9, 10)}


@pytest.mark.parametrize(("duration", "expected"), [(3, (9, 12)), (2, (2, 4))])
def test_capacity_over_time_window_must_be_free_throughout(
    duration: int, expected: tuple[int, int]
) -> None:
    # usage over 0-2: 3, 2-4: 0, 4-9: 3 (of 4): a task of 2 cpu fits in the gap 2-4 only if it
    # lasts at most 2, else it waits for 9
    p = make(
        [node("a", 4)],
        [
            task("x", 3, duration=2, priority=3),
            task("gap-blocker", 3, duration=5, release=4, priority=3),
            task("t", 2, duration=duration),
        ],
    )
    r = run(p)
    assert times(r)["gap-blocker"] == (4, 9)
    assert times(r)["t"] == expected


def test_zero_duration_tasks() -> None:
    p = make(
        [node("a", 4)],
        [
            task("busy", 4, duration=10, priority=3),
            task("marker", 4, priority=2),  # no duration: takes no time, uses nothing
            task("too-big", 5, required=False),
            task("next", 1, duration=1, after=["marker"], release=3),
        ],
    )
    r = run(p)
    t = times(r)
    assert t["marker"] == (0, 0)
    assert t["next"] == (10, 11)
    assert "too-big" not in t


def test_separation_holds_at_any_time() -> None:
    p = make(
        [node("a"), node("slow", speed=0.5)],
        [
            task("t1", 1, duration=5, nodes=["a"], priority=5),
            task("t2", 1, duration=5, release=10, separate_from=["t1"]),
        ],
    )
    r = run(p)
    assert where(r)["t2"] == ["slow"]
    assert times(r)["t2"] == (10, 20)


def test_scheduling_replicas_distinct_nodes() -> None:
    p = make([node("a"), node("b"), node("c", speed=0.5)], [task("t", 1, duration=4, replicas=3)])
    r = run(p)
    assert sorted(where(r)["t"]) == ["a", "b", "c"]


def test_scheduling_gang_rollback_removes_dependents() -> None:
    # a -> c -> x -> b, gang {a, b}; b needs more cpu than any node: a, c and x are placed
    # before b is tried, and all must be removed again
    p = make(
        [node("n", 10)],
        [
            task("a", 1, duration=2, gang="g", required=False),
            task("c", 1, duration=2, after=["a"], required=False),
            task("x", 1, duration=2, after=["c"], required=False),
            task("b", 20, duration=2, gang="g", after=["x"], required=False),
            task("y", 1, duration=2, after=["x"], required=False),
            task("free", 1, duration=3),
        ],
    )
    r = run(p, passes=1)
    assert r.status == Status.FEASIBLE
    assert where(r) == {"free": ["n"]}


def test_scheduling_gang_all_placed() -> None:
    p = make(
        [node("n1", 2), node("n2", 2)],
        [
            task("w1", 2, duration=5, gang="train"),
            task("w2", 2, duration=5, gang="train"),
            task("w3", 2, duration=5, gang="train", after=["w1"]),
        ],
    )
    r = run(p)
    assert sorted(where(r)) == ["w1", "w2", "w3"]


def test_scheduling_predecessor_unplaced() -> None:
    p = make(
        [node("n", 2)],
        [task("pre", 5, duration=1, required=False), task("post", 1, duration=1, after=["pre"])],
    )
    r = run(p)
    assert r.status == Status.UNKNOWN  # post is required; its predecessor never fits
    assert r.message == "could not place required tasks pre, post"


def test_scheduling_demand_on_over_time() -> None:
    p = make(
        [node("a", 4)],
        [
            task("t1", 8, duration=5, demand_on={"a": {"cpu": 2}}, priority=2),
            task("t2", 2, duration=5),
        ],
    )
    assert times(run(p)) == {"t1": (0, 5), "t2": (0, 5)}


# -- property test ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tasks=st.integers(1, 15),
    nodes=st.integers(1, 5),
    scheduling=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    policy=st.sampled_from(POLICIES),
    passes=st.sampled_from([1, 5]),
)
def test_generated_problems(
    tasks: int, nodes: int, scheduling: bool, seed: int, policy: str, passes: int
) -> None:
    p = problem_from_dict(generate(tasks, nodes, scheduling=scheduling, seed=seed))
    r = run(p, policy=policy, passes=passes)
    again = solve(p, policy=policy, passes=passes)
    assert again.assignments == r.assignments  # deterministic


@pytest.mark.parametrize("policy", POLICIES)
def test_replanning_keeps_tasks_on_their_current_node_when_moves_count(policy: str) -> None:
    """With `moves` in the objective, a task stays where it runs when that node has room, even
    when the policy alone would pick another node; the new task takes what is left."""
    nodes = [node("a", cpu=10), node("b", cpu=10), node("c", cpu=10)]
    tasks = [
        task("new", cpu=6, priority=5),  # higher priority, but runs nowhere yet
        task("old-1", cpu=6, current="c"),
        task("old-2", cpu=3, current="c"),
    ]
    problem = make(nodes, tasks, objective={"lexicographic": ["unplaced", "moves"]})
    sticky = run(problem, policy=policy)
    assert where(sticky)["old-1"] == ["c"]
    assert where(sticky)["old-2"] == ["c"]
    assert evaluate(problem, sticky.assignments).terms["moves"] == 0
    # without `moves` in the objective, `current` is only a tie-break
    plain = run(make(nodes, tasks), policy="least-loaded")
    assert where(plain)["old-2"] != ["c"]


def test_least_loaded_scores_kept_per_demand_are_those_of_a_full_scoring() -> None:
    """The scores the least-loaded placement keeps per allowed set and demand (brought up to
    date on the nodes whose load changed) equal a scoring of those nodes from the loads now,
    element for element."""
    from taskalloc.solvers.greedy import _INF, _Greedy

    p = problem_from_dict(generate(300, 25, seed=3, resources=3))
    g = _Greedy(p, "least-loaded", None, set(), {}, {})
    g.run_placement()
    arrays = {id(arr): arr for _, arr in g._allowed_cache.values()}
    kinds = {arrays[k] is g.all_nodes for k, _ in g._scores}
    assert kinds == {True, False}, "both every node and a part of them are exercised"
    g.uncommit(next(t for t in range(len(p.tasks)) if g.placed[t]))  # loads go down too
    for al_id, key in list(g._scores):
        al, d = arrays[al_id], np.frombuffer(key).reshape(-1, 1)
        new = g.load[:, al] + d
        full = (new * g.invcap[:, al]).max(axis=0)
        full[~(new <= g.capx[:, al]).all(axis=0)] = _INF
        assert np.array_equal(g._kept_scores(al, d), full)
