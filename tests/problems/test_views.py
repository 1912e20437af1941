"""problems/views.py: the data of report views, on hand-made problems and plans."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment
from taskalloc.problems.views import (
    Placement,
    fitness_formula,
    lanes,
    load_over_time,
    node_views,
    pool_views,
    schedule,
    task_views,
)
from tests.helpers import asg, node, prob, task


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


def test_device_loads_are_the_problems_devices_and_the_plans():
    """Device counts from the problem (a node's ``devices``), the devices of each replica from
    its assignment, the load of each device as the evaluator found it."""
    gpu = {"cpu": 32, "gpu": 8}
    p = prob(
        [node("g", gpu, devices={"gpu": 8}), node("h", gpu)],
        [task("nb", {"gpu": 0.25}), task("nb2", {"gpu": 0.5}), task("train", {"gpu": 2})],
    )
    a = [
        Assignment("nb", 0, "g", devices={"gpu": (3,)}),
        Assignment("nb2", 0, "g", devices={"gpu": (3,)}),
        Assignment("train", 0, "g", devices={"gpu": (0, 1)}),
    ]
    ev = evaluate(p, a)
    assert ev.feasible, ev.violations
    nv, unsplit = node_views(p, a, ev)
    dl = nv.devices["gpu"]
    assert (dl.count, dl.size) == (8, 1.0)
    assert dl.load == [1.0, 1.0, 0, 0.75, 0, 0, 0, 0]
    assert dl.utilisation == ev.device_utilisation["g"]["gpu"]
    assert (dl.full, dl.partial, dl.free) == (2, 1, 5)
    assert [pl.devices_text() for pl in nv.replicas] == ["gpu 3", "gpu 3", "gpu 0,1"]
    pools = pool_views(p, [nv, unsplit])
    assert pools[0].devices == {"gpu": (2, 1, 5)} and pools[1].devices == {}
    assert not unsplit.devices  # a node that does not split its GPUs has no device figures
    # a v1 problem (no node splits a resource): no device figures
    v1 = prob([node("g", gpu)], [task("nb", {"gpu": 0.25})])
    plain = [asg("nb", "g")]
    assert not node_views(v1, plain, evaluate(v1, plain))[0].devices


def test_device_loads_in_a_schedule_are_peaks():
    p = prob(
        [node("g", {"gpu": 2}, devices={"gpu": 2})],
        [task("x", {"gpu": 0.5}, duration=4), task("y", {"gpu": 0.5}, duration=4)],
    )
    a = [
        Assignment("x", 0, "g", 0, 4, devices={"gpu": (1,)}),
        Assignment("y", 0, "g", 4, 8, devices={"gpu": (1,)}),
    ]
    ev = evaluate(p, a)
    assert ev.feasible, ev.violations
    nv = node_views(p, a, ev)[0]
    assert nv.devices["gpu"].load == [0, 0.5]  # one after the other: peak 0.5


def test_device_loads_of_a_greedy_plan_of_the_gpu_example():
    """The bundled revision-2 example, solved by the greedy: every device figure of the view
    is the evaluator's, and every replica that demands a split resource names its devices."""
    from taskalloc.problems.problem import load_problem
    from taskalloc.solvers import solve
    from tests.helpers import EXAMPLES

    p = load_problem(str(EXAMPLES / "gpu-cluster.yaml"))
    result = solve(p, "greedy")
    ev = evaluate(p, result.assignments)
    assert ev.feasible
    views = node_views(p, result.assignments, ev)
    split = [nv for nv in views if nv.devices]
    assert split and len(split) == sum(1 for n in p.nodes if n.devices)
    for nv in split:
        for r, dl in nv.devices.items():
            assert dl.utilisation == pytest.approx(ev.device_utilisation[nv.id][r])
            assert dl.count == p.nodes[p.node_index[nv.id]].devices[r]
    on_devices = [pl for nv in split for pl in nv.replicas if pl.devices]
    assert on_devices and all(pl.devices_text() for pl in on_devices)
