"""Why-not-placed reasons: the array scan of placement problems gives, to the byte, what the
node-by-node reference loop gives (``unplaced_reasons(..., vectorised=False)``)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from taskalloc.problems import InputError, problem_from_dict
from taskalloc.problems.plan import Assignment
from taskalloc.problems.reasons import MAX_DETAILS, unplaced_reasons
from taskalloc.problems.state import PlanState

CAPS = (0, 1, 2, 3.5, 4, 8)
DEMANDS = (0, 0, 0.5, 1, 1.5, 2, 3, 4.25)
ZONES = ("a", "b", "c")


@st.composite
def placements(draw: Any) -> dict[str, Any]:
    """Placement problems with tight capacities, so that most tasks are left out: selectors,
    replicas, required and optional tasks, sometimes devices, per-node demands, gangs and
    tasks kept apart (which the array scan declines or passes through)."""
    many = draw(st.booleans())  # more allowed nodes than MAX_DETAILS
    n_nodes = draw(st.integers(MAX_DETAILS - 2, MAX_DETAILS + 12) if many else st.integers(1, 8))
    resources = draw(st.sampled_from((("cpu",), ("cpu", "memory"), ("cpu", "memory", "gpu"))))
    devices = "gpu" in resources and draw(st.integers(0, 2)) == 0
    nodes = []
    for i in range(n_nodes):
        cap = {r: draw(st.sampled_from(CAPS)) for r in resources if draw(st.integers(0, 5))}
        node: dict[str, Any] = {"id": f"n{i}", "capacity": cap, "labels": {}}
        if devices and cap.get("gpu") and draw(st.booleans()):
            node["devices"] = {"gpu": draw(st.sampled_from((1, 2)))}
        zone = draw(st.sampled_from((*ZONES, None)))
        if zone:
            node["labels"]["zone"] = zone
        nodes.append(node)
    tasks: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 10))):
        # demand keys in a drawn order: the first blocking resource follows it
        names = draw(st.permutations(resources))[: draw(st.integers(0, len(resources)))]
        task: dict[str, Any] = {
            "id": f"t{i}",
            "demand": {r: draw(st.sampled_from(DEMANDS)) for r in names},
            "replicas": draw(st.integers(1, 3)),
            "required": draw(st.booleans()),
        }
        pick = draw(st.integers(0, 5))
        if pick == 0:
            task["match"] = {"zone": draw(st.sampled_from(ZONES))}
        elif pick == 1:
            task["nodes"] = draw(
                st.lists(st.sampled_from([n["id"] for n in nodes]), min_size=1, unique=True)
            )
        if i and draw(st.integers(0, 2)) == 0:
            task["separate_from"] = [f"t{draw(st.integers(0, i - 1))}"]
        if names and draw(st.integers(0, 3)) == 0:
            on = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3))
            task["demand_on"] = {
                n["id"]: {r: draw(st.sampled_from(DEMANDS)) for r in draw(st.permutations(names))}
                for n in on
            }
        tasks.append(task)
    if len(tasks) >= 2 and draw(st.integers(0, 3)) == 0:
        a, b = draw(st.permutations(tasks))[:2]
        a["gang"] = b["gang"] = "g"
    return {"taskalloc": 1, "nodes": nodes, "tasks": tasks}


def assignments(draw: Any, data: dict[str, Any]) -> list[Assignment]:
    """Some replicas of some tasks, anywhere (overloads included: free room below zero)."""
    ids = [n["id"] for n in data["nodes"]]
    out = []
    for task in data["tasks"]:
        if draw(st.booleans()):
            continue
        for r in range(draw(st.integers(1, task["replicas"]))):
            out.append(Assignment(task["id"], r, draw(st.sampled_from(ids))))
    return out


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
@given(st.data())
def test_the_array_scan_gives_the_reference_reasons(data: Any) -> None:
    raw = data.draw(placements())
    try:
        p = problem_from_dict(raw)
    except InputError:
        assume(False)
        raise AssertionError("unreachable") from None
    state = PlanState(p, assignments(data.draw, raw))
    sweep = state.sweep()
    placed = {t for t, reps in state.placed.items() if reps}
    fast = unplaced_reasons(state, sweep, placed)
    slow = unplaced_reasons(state, sweep, placed, vectorised=False)
    assert fast == slow
    event(f"unplaced: {min(len(slow), 3)}+")
    if any(any(d.startswith("... and") for d in u.details) for u in slow):
        event("details cut at MAX_DETAILS")


def test_a_cut_detail_list_and_the_largest_free_room_are_kept() -> None:
    """A worked case: 60 full nodes with 1.5 to 3 cpu free: the reason gives the largest free
    room, the details stop after MAX_DETAILS nodes, in both scans."""
    nodes = [{"id": f"n{i}", "capacity": {"cpu": 4, "memory": 8}} for i in range(60)]
    tasks = [{"id": f"f{i}", "demand": {"cpu": 1 + abs(30 - i) % 4 * 0.5}} for i in range(60)]
    tasks.append({"id": "big", "demand": {"memory": 1, "cpu": 3.5}})
    p = problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})
    state = PlanState(p, [Assignment(f"f{i}", 0, f"n{i}") for i in range(60)])
    sweep = state.sweep()
    placed = set(range(60))
    for vectorised in (True, False):
        (u,) = unplaced_reasons(state, sweep, placed, vectorised=vectorised)
        assert u.reason == "needs cpu 3.5; the largest free cpu on an allowed node is 3"
        assert len(u.details) == MAX_DETAILS + 1
        assert u.details[:2] == (
            "node n0: cpu 3.5 needed, 2 free",
            "node n1: cpu 3.5 needed, 2.5 free",
        )
        assert u.details[-1] == f"... and {60 - MAX_DETAILS} more"


def test_a_zero_demand_on_an_overloaded_split_resource_blocks_nothing() -> None:
    """A node whose gpu (split into devices) is overloaded still has room for a task asking for
    no gpu: the loop never tests a device resource against the node's free room."""
    nodes = [{"id": "n0", "capacity": {"cpu": 4, "gpu": 1}, "devices": {"gpu": 1}}]
    tasks = [
        {"id": "a", "demand": {"gpu": 1}},
        {"id": "b", "demand": {"gpu": 1}},
        {"id": "c", "demand": {"gpu": 0, "cpu": 8}},
        {"id": "d", "demand": {"gpu": 0, "cpu": 1}, "required": False},
    ]
    p = problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})
    state = PlanState(p, [Assignment("a", 0, "n0"), Assignment("b", 0, "n0")])
    sweep = state.sweep()
    assert sweep.load[0]["gpu"] == 2
    placed = {t for t, reps in state.placed.items() if reps}
    assert placed == {0, 1}
    for vectorised in (True, False):
        c, d = unplaced_reasons(state, sweep, placed, vectorised=vectorised)
        assert c.reason == "needs cpu 8; the largest free cpu on an allowed node is 4"
        assert d.details == ("node n0: has room",)


def test_a_node_running_a_task_to_keep_apart_from_is_said_so() -> None:
    nodes = [{"id": f"n{i}", "capacity": {"cpu": 4}} for i in range(2)]
    tasks = [
        {"id": "a", "demand": {"cpu": 1}},
        {"id": "b", "demand": {"cpu": 8}, "separate_from": ["a"]},
    ]
    p = problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})
    state = PlanState(p, [Assignment("a", 0, "n0")])
    sweep = state.sweep()
    for vectorised in (True, False):
        (b,) = unplaced_reasons(state, sweep, {0}, vectorised=vectorised)
        assert b.reason == (
            "no allowed node can take it: short of cpu (needs 8, at most 4 free); "
            "1 node runs a task it must be kept apart from"
        )
        assert b.details == ("node n0: runs a (separate_from)", "node n1: cpu 8 needed, 4 free")


def test_resources_are_named_in_the_order_the_nodes_first_run_short() -> None:
    """n0 (taken one by one: it serves the gpu by devices) is the first short of memory, n1 of
    cpu: memory is named first although no node of the array scan runs short of it first."""
    nodes = [
        {"id": "n0", "capacity": {"cpu": 4, "memory": 1, "gpu": 1}, "devices": {"gpu": 1}},
        {"id": "n1", "capacity": {"cpu": 1, "memory": 4, "gpu": 1}},
        {"id": "n2", "capacity": {"cpu": 4, "memory": 1, "gpu": 1}},
    ]
    tasks = [{"id": "t", "demand": {"cpu": 2, "memory": 2, "gpu": 0.5}}]
    p = problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})
    state = PlanState(p, [])
    sweep = state.sweep()
    for vectorised in (True, False):
        (t,) = unplaced_reasons(state, sweep, set(), vectorised=vectorised)
        assert t.reason == (
            "no allowed node can take it: short of memory (needs 2, at most 1 free), "
            "cpu (needs 2, at most 1 free)"
        )
