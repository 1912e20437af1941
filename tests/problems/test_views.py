"""problems/views.py: the data of report views, on hand-made problems and plans."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.views import (
    Placement,
    device_counts,
    fitness_formula,
    lanes,
    load_over_time,
    node_views,
    pool_views,
    schedule,
    task_views,
)
from tests.helpers import asg, node, prob, task


@dataclass(frozen=True)
class DevAsg:
    """An assignment with FORMATS.md revision 2 ``devices`` (the plan reader may not keep them
    yet: views read them with getattr)."""

    task: str
    replica: int
    node: str
    start: int | None = None
    end: int | None = None
    devices: Any = None


def _placement():
    p = prob(
        [node("gpu", {"cpu": 16, "gpu": 4}, count=2), node("cpu", {"cpu": 32})],
        [
            task("serve", {"cpu": 4, "gpu": 2}, replicas=2),
            task("api", {"cpu": 8}),
            task("huge", {"cpu": 64}, required=False, priority=3),
        ],
    )
    a = [asg("serve", "gpu-1", 0), asg("serve", "gpu-2", 1), asg("api", "cpu")]
    return p, a


def test_node_views_list_replicas_and_load():
    p, a = _placement()
    ev = evaluate(p, a)
    nodes = {nv.id: nv for nv in node_views(p, a, ev)}
    assert [pl.label for pl in nodes["gpu-1"].replicas] == ["serve#0"]
    assert [pl.label for pl in nodes["cpu"].replicas] == ["api"]
    assert nodes["gpu-1"].load == {"cpu": 4, "gpu": 2}
    assert nodes["gpu-1"].utilisation == {"cpu": 0.25, "gpu": 0.5}
    assert nodes["cpu"].capacity == {"cpu": 32}  # no gpu there: not a resource of the node
    assert nodes["gpu-1"].average is None and not nodes["gpu-1"].devices
    pools = {pv.id: pv for pv in pool_views(p, list(nodes.values()))}
    assert pools["gpu"].nodes == ["gpu-1", "gpu-2"] and pools["gpu"].used == 2
    assert pools["gpu"].utilisation == {"cpu": 8 / 32, "gpu": 0.5}


def test_task_views_say_where_and_why_not():
    p, a = _placement()
    ev = evaluate(p, a)
    tasks = {tv.id: tv for tv in task_views(p, a, ev)}
    assert tasks["serve"].nodes == ["gpu-1", "gpu-2"]
    assert tasks["huge"].placed == [] and tasks["huge"].reason is not None
    assert "needs cpu 64" in tasks["huge"].reason
    assert tasks["huge"].to_dict(False)["reason"] == tasks["huge"].reason


def _scheduling():
    p = prob(
        [node("n", {"cpu": 4}, count=2)],
        [
            task("a", {"cpu": 2}, duration=10, deadline=30, due=12),
            task("b", {"cpu": 2}, duration=5, after=["a"], due=12),
            task("c", {"cpu": 4}, duration=4, release=2),
        ],
    )
    a = [asg("a", "n-1", 0, 0, 10), asg("b", "n-1", 0, 10, 15), asg("c", "n-2", 0, 2, 6)]
    return p, a


def test_task_views_slack_to_deadline_and_due_date():
    p, a = _scheduling()
    tasks = {tv.id: tv for tv in task_views(p, a, evaluate(p, a))}
    assert (tasks["a"].start, tasks["a"].end) == (0, 10)
    assert tasks["a"].deadline_slack == 20 and tasks["a"].due_slack == 2
    assert tasks["b"].due_slack == -3  # 3 late
    assert tasks["c"].deadline_slack is None and tasks["c"].due_slack is None


def test_schedule_and_lanes():
    p, a = _scheduling()
    rows = schedule(p, a)
    assert [(r.node, r.task) for r in rows] == [("n-1", "a"), ("n-1", "b"), ("n-2", "c")]
    assert lanes(rows[:2]) == [0, 0]  # back to back: one lane


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), min_size=1, max_size=25))
def test_lanes_never_overlap_and_are_as_few_as_the_deepest_overlap(spans):
    rows = sorted(
        (Placement(f"t{i}", 0, "n", s, s + d) for i, (s, d) in enumerate(spans)),
        key=lambda r: (r.start, r.end),
    )
    got = lanes(rows)
    for lane in set(got):
        mine = [r for r, g in zip(rows, got, strict=True) if g == lane and r.end > r.start]
        for x, y in itertools.pairwise(mine):
            assert x.end <= y.start
    # a zero-length replica (drawn as a mark) needs its own lane inside another's bar
    depth = max(sum(1 for r in rows if r.start <= t < max(r.end, r.start + 1)) for t in range(71))
    assert len(set(got)) <= depth


def test_load_over_time_averages_match_the_evaluator():
    p, a = _scheduling()
    ev = evaluate(p, a)
    lot = load_over_time(p, a, bins=15)  # makespan 15: one bin per time unit
    assert lot.rows == ["n-1", "n-2"] and len(lot.edges) == 16
    for row, name in zip(lot.values, lot.rows, strict=True):
        mean = sum(row["cpu"]) / len(row["cpu"])
        assert mean == pytest.approx(ev.average_utilisation[name]["cpu"])
    assert lot.values[1]["cpu"][2:6] == [1.0] * 4  # c fills n-2 from 2 to 6
    pools = load_over_time(p, a, bins=15, by_pool=True)
    assert pools.rows == ["n"]
    assert pools.dominant()[0][0] == pytest.approx(2 / 8)


def test_fitness_formula_weights():
    p, a = _scheduling()
    ev = evaluate(p, a)
    f = fitness_formula(p, ev)
    assert f.kind == "lexicographic"
    assert sum(t.product for t in f.terms) == pytest.approx(ev.fitness)
    assert f.text().startswith("fitness = ")
    assert f.text().endswith(f"= {int(ev.fitness)}")
    assert "lexicographic" in f.explanation()
    w = prob(
        [node("n")], [task("a")], objective={"weights": {"cost": 2, "nodes": 3}}
    )  # cost 0, one node
    fw = fitness_formula(w, evaluate(w, [asg("a", "n")]))
    assert fw.text() == "fitness = 2 × cost + 3 × nodes = 2 × 0 + 3 × 1 = 3"


def test_device_loads_from_hand_made_plan_data():
    p = prob(
        [node("g", {"cpu": 32, "gpu": 8})],
        [task("nb", {"gpu": 0.25}), task("nb2", {"gpu": 0.5}), task("train", {"gpu": 2})],
    )
    a = [
        DevAsg("nb", 0, "g", devices={"gpu": [3]}),
        DevAsg("nb2", 0, "g", devices={"gpu": [3]}),
        DevAsg("train", 0, "g", devices={"gpu": [0, 1]}),
    ]
    ev = evaluate(p, a)
    nv = node_views(p, a, ev, devices={"g": {"gpu": 8}})[0]
    dl = nv.devices["gpu"]
    assert (dl.count, dl.size) == (8, 1.0)
    assert dl.load == [1.0, 1.0, 0, 0.75, 0, 0, 0, 0]
    assert (dl.full, dl.partial, dl.free) == (2, 1, 5)
    assert [pl.devices_text() for pl in nv.replicas] == ["gpu 3", "gpu 3", "gpu 0,1"]
    pools = pool_views(p, [nv])
    assert pools[0].devices == {"gpu": (2, 1, 5)}
    # without device counts (a v1 problem), no device figures
    assert not node_views(p, a, ev)[0].devices
    assert device_counts(p) == {}


def test_device_loads_in_a_schedule_are_peaks():
    p = prob(
        [node("g", {"gpu": 2})],
        [task("x", {"gpu": 0.5}, duration=4), task("y", {"gpu": 0.5}, duration=4)],
    )
    a = [
        DevAsg("x", 0, "g", 0, 4, devices={"gpu": [1]}),
        DevAsg("y", 0, "g", 4, 8, devices={"gpu": [1]}),
    ]
    nv = node_views(p, a, evaluate(p, a), devices={"g": {"gpu": 2}})[0]
    assert nv.devices["gpu"].load == [0, 0.5]  # one after the other: peak 0.5
