"""Placements as the exact models hold them, and their conversion to and from assignments."""

from __future__ import annotations

from taskalloc.problems.plan import Assignment
from taskalloc.solvers.placement import assignments_of, placement_of
from tests.helpers import node, prob, task


def test_replica_numbers_follow_node_order() -> None:
    p = prob([node("a"), node("b"), node("c")], [task("t", replicas=2), task("u")])
    out = assignments_of(p, {0: [(2, None), (0, None)], 1: [(1, None)]})
    assert [(a.task, a.replica, a.node) for a in out] == [
        ("t", 0, "a"),
        ("t", 1, "c"),
        ("u", 0, "b"),
    ]
    assert all(a.start is None and a.end is None for a in out)


def test_scheduling_ends_use_the_duration_on_the_node() -> None:
    p = prob(
        [node("slow"), node("fast", speed=2)],
        [task("t", duration=10, replicas=2)],
        horizon=100,
    )
    out = assignments_of(p, {0: [(1, 3), (0, 0)]})
    assert [(a.node, a.start, a.end) for a in out] == [("slow", 0, 10), ("fast", 3, 8)]


def test_round_trip_and_unknown_names_dropped() -> None:
    p = prob([node("a"), node("b")], [task("t", replicas=2), task("u")])
    plan = {0: [(0, None), (1, None)], 1: [(1, None)]}
    assert placement_of(p, assignments_of(p, plan)) == plan
    extra = [*assignments_of(p, plan), Assignment("ghost", 0, "a"), Assignment("u", 0, "nowhere")]
    assert placement_of(p, extra) == plan


def test_starts_are_kept_only_when_scheduling() -> None:
    placement = prob([node("a")], [task("t")])
    assert placement_of(placement, [Assignment("t", 0, "a", 5, 6)]) == {0: [(0, None)]}
    sched = prob([node("a")], [task("t", duration=1)], horizon=10)
    assert placement_of(sched, [Assignment("t", 0, "a", 5, 6)]) == {0: [(0, 5)]}
