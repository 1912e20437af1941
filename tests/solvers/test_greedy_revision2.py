"""The greedy on revision 2 of the format: devices (best fit, identical devices in index order),
gangs that start together, services, spread. Every plan is checked by the evaluator."""

from __future__ import annotations

from collections import Counter

import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem
from taskalloc.solvers.greedy import POLICIES, solve
from tests.helpers import node, prob, read, task


def solved(problem: Problem, policy: str = "least-loaded") -> dict[str, list[Assignment]]:
    result = solve(problem, policy=policy)
    ev = evaluate(problem, result.assignments)
    assert ev.feasible, ev.violations
    assert result.status == Status.FEASIBLE, result.message
    out: dict[str, list[Assignment]] = {}
    for a in result.assignments:
        out.setdefault(a.task, []).append(a)
    return out


def gpu_node(id: str, gpus: int, **kw: object) -> dict[str, object]:
    return node(id, {"cpu": 32, "gpu": gpus}, devices={"gpu": gpus}, **kw)


@pytest.mark.parametrize("policy", POLICIES)
def test_shares_pack_onto_one_device_and_leave_whole_devices_free(policy):
    """Two half-GPU notebooks go first (priority); best fit puts both on device 0, so the
    three-GPU job still finds three empty devices."""
    p = prob(
        [gpu_node("g", 4)],
        [
            task("nb1", {"gpu": 0.5}, priority=10),
            task("nb2", {"gpu": 0.5}, priority=10),
            task("job", {"gpu": 3}),
        ],
    )
    plan = solved(p, policy)
    assert plan["nb1"][0].devices == {"gpu": (0,)} and plan["nb2"][0].devices == {"gpu": (0,)}
    assert plan["job"][0].devices == {"gpu": (1, 2, 3)}


@pytest.mark.parametrize("policy", POLICIES)
def test_a_share_goes_to_the_fullest_device_it_fits(policy):
    p = prob(
        [gpu_node("g", 3)],
        [
            task("a", {"gpu": 0.7}, priority=9),
            task("b", {"gpu": 0.5}, priority=8),
            task("c", {"gpu": 0.3}, priority=7),  # fits beside a (0.7) exactly: best fit
        ],
    )
    plan = solved(p, policy)
    assert [plan[t][0].devices for t in "abc"] == [{"gpu": (0,)}, {"gpu": (1,)}, {"gpu": (0,)}]


def test_devices_decide_the_node_not_the_node_total():
    """g1 has 1.2 GPUs free in total but no device with 0.6 free; g2 has."""
    p = prob(
        [gpu_node("g1", 2), gpu_node("g2", 1)],
        [
            task("x", {"gpu": 0.7}, nodes=["g1"], priority=9),
            task("y", {"gpu": 0.7}, nodes=["g1"], priority=9),
            task("share", {"gpu": 0.6}),
        ],
    )
    plan = solved(p, "best-fit")
    assert plan["share"][0].node == "g2"


def test_no_device_fits_leaves_an_optional_task_out_with_the_reason():
    p = prob(
        [gpu_node("g", 2)],
        [task("x", {"gpu": 0.7}), task("y", {"gpu": 0.7}), task("z", {"gpu": 0.6}, required=False)],
    )
    result = solve(p)
    ev = evaluate(p, result.assignments)
    assert ev.feasible and [u.task for u in ev.unplaced] == ["z"]
    assert ev.unplaced[0].reason == "gpu: 0.6 needed on one device; the freest device of g has 0.3"


@pytest.mark.parametrize("policy", POLICIES)
def test_shares_of_one_device_take_turns_in_a_schedule(policy):
    p = prob(
        [gpu_node("g", 1)],
        [task("x", {"gpu": 0.6}, duration=10), task("y", {"gpu": 0.6}, duration=5)],
    )
    plan = solved(p, policy)
    spans = sorted((a.start, a.end) for a in [*plan["x"], *plan["y"]])
    assert spans == [(0, 10), (10, 15)]


def test_whole_devices_wait_for_empty_ones_in_a_schedule():
    """A notebook holds device 0 for 20; the 2-GPU job gets devices 1 and 2 at once."""
    p = prob(
        [gpu_node("g", 3)],
        [task("nb", {"gpu": 0.25}, duration=20, priority=5), task("job", {"gpu": 2}, duration=10)],
    )
    plan = solved(p)
    assert plan["job"][0].start == 0 and plan["job"][0].devices == {"gpu": (1, 2)}


@pytest.mark.parametrize("policy", POLICIES)
def test_a_gang_that_starts_together_waits_for_its_slowest_member(policy):
    """prep (30) runs before worker; the evaluator could start at 0 but waits for the worker."""
    p = prob(
        [node("n", {"cpu": 8}, count=2)],
        [
            task("prep", {"cpu": 8}, duration=30),
            task("worker", {"cpu": 4}, gang="train", replicas=2, duration=50, after=["prep"]),
            task("evaluator", {"cpu": 4}, gang="train", duration=20),
            task("other", {"cpu": 4}, duration=10),
        ],
        gangs={"train": {"same_start": True}},
    )
    plan = solved(p, policy)
    starts = {a.start for t in ("worker", "evaluator") for a in plan[t]}
    assert starts == {30}


def test_a_gang_that_starts_together_finds_a_common_window():
    """Node n-1 is busy [0, 40) with a long job; the gang needs both nodes at once."""
    p = prob(
        [node("n", {"cpu": 4}, count=2)],
        [
            task("long", {"cpu": 4}, duration=40, nodes=["n-1"], priority=9),
            task("a", {"cpu": 4}, gang="g", duration=10),
            task("b", {"cpu": 4}, gang="g", duration=10),
        ],
        gangs={"g": {"same_start": True}},
    )
    plan = solved(p)
    assert {plan["a"][0].start, plan["b"][0].start} == {40}


def test_services_hold_their_nodes_for_the_whole_horizon():
    """The services take 2 of 4 cpu on both nodes at every instant: a 2-cpu job runs beside
    them, a 3-cpu one never can (it is optional, and left out with the reason)."""
    p = prob(
        [node("n", {"cpu": 4}, count=2)],
        [
            task("batch", {"cpu": 2}, duration=30, priority=9),
            task("big", {"cpu": 3}, duration=30, priority=9, required=False),
            task("api", {"cpu": 2}, service=True, replicas=2),
        ],
        horizon=100,
    )
    plan = solved(p)
    assert {(a.start, a.end) for a in plan["api"]} == {(0, 100)}
    assert "big" not in plan
    ev = evaluate(p, [a for v in plan.values() for a in v])
    assert ev.terms["makespan"] == 30
    assert ev.unplaced[0].reason == "no allowed node can take it: no time window on 2 nodes"


@pytest.mark.parametrize("policy", POLICIES)
def test_spread_keeps_replicas_balanced_over_zones(policy):
    """Zone a's nodes are big and cheap (every policy would pick them), zone b's are small."""
    p = prob(
        [
            node("a", {"cpu": 64}, count=4, labels={"zone": "a"}),
            node("b", {"cpu": 8}, count=4, labels={"zone": "b"}, cost=5),
        ],
        [task("api", {"cpu": 4}, replicas=4, spread={"key": "zone", "max_skew": 1})],
    )
    plan = solved(p, policy)
    zones = Counter(a.node[0] for a in plan["api"])
    assert zones == {"a": 2, "b": 2}


def test_spread_in_a_schedule():
    p = prob(
        [
            node("a", {"cpu": 8}, count=3, labels={"zone": "a"}),
            node("b", {"cpu": 8}, labels={"zone": "b"}),
        ],
        [
            task("busy", {"cpu": 8}, duration=50, nodes=["b"], priority=9),
            task("api", {"cpu": 4}, replicas=3, duration=10, spread={"key": "zone", "max_skew": 1}),
        ],
    )
    plan = solved(p)
    zones = Counter(a.node[0] for a in plan["api"])
    assert zones == {"a": 2, "b": 1}  # b's replica waits for `busy` rather than break spread


def test_the_bundled_example_is_solved_and_checked():
    p = read("examples/gpu-cluster.yaml")
    assert p.features == {"devices", "same_start", "service", "spread", "current_list"}
    plan = solved(p)
    gang = {a.start for t in ("pretrain-worker", "pretrain-eval") for a in plan[t]}
    assert len(gang) == 1
    assert all(a.devices for t in ("chat-frontend", "finetune") for a in plan[t])
