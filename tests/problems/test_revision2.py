"""Revision 2 of the format in the evaluator and `check`: devices, gangs that start together,
services, spread and `current` lists, each on hand-made cases whose answer is worked out in the
comments; reasons for unplaced tasks in device terms; devices in plan files."""

from __future__ import annotations

from typing import Any

import pytest

from taskalloc.problems.entities import device_shape
from taskalloc.problems.evaluate import PlanState, check, evaluate, violations
from taskalloc.problems.plan import Assignment, SolverInfo, Status, plan_from_text
from taskalloc.problems.problem import Problem
from tests.helpers import make, node, prob, task


def a(
    task: str,
    node: str,
    replica: int = 0,
    start: int | None = None,
    end: int | None = None,
    **devices: list[int],
) -> Assignment:
    return Assignment(task, replica, node, start, end, devices or None)


def kinds(problem: Problem, assignments: list[Assignment]) -> list[str]:
    return [v.kind for v in violations(problem, assignments)]


def messages(problem: Problem, assignments: list[Assignment]) -> list[str]:
    return [v.message for v in violations(problem, assignments)]


def gpu_node(id: str, gpus: float = 2, devices: int = 2, **kw: Any) -> dict[str, Any]:
    return node(id, {"cpu": 16, "gpu": gpus}, devices={"gpu": devices}, **kw)


# -- device arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("demand", "size", "count", "shape"),
    [
        (0, 1, 8, (0, 0.0)),
        (0.25, 1, 8, (1, 0.25)),
        (1, 1, 8, (1, 1)),  # a whole device is "at most one device"
        (3, 1, 8, (3, 1)),
        (8, 1, 8, (8, 1)),
        (9, 1, 8, None),  # more devices than the node has
        (1.5, 1, 8, None),  # neither a share nor whole devices
        (1, 0.5, 4, (2, 0.5)),
        (2 / 3, 1 / 3, 3, (2, 1 / 3)),  # relative tolerance 1e-9
        (1 + 1e-12, 1, 8, (1, 1 + 1e-12)),
    ],
)
def test_device_shape(demand, size, count, shape):
    assert device_shape(demand, size, count) == shape


def test_device_data_per_node_and_resource():
    p = prob(
        [gpu_node("g", 8, 8, count=2), node("c", {"cpu": 4, "gpu": 1})],
        [task("t", {"gpu": 1})],
    )
    gi = p.resource_index["gpu"]
    assert p.device_count[:, gi].tolist() == [8, 8, 0]
    assert p.device_size[:, gi].tolist() == [1.0, 1.0, 0.0]
    assert p.split_resources == ("gpu",)
    assert p.nodes[0].device_size("gpu") == 1.0 and p.nodes[2].device_size("gpu") == 1.0
    assert p.features == {"devices"}
    assert not p.device_count.flags.writeable


# -- devices in placement problems ---------------------------------------------------------------


@pytest.fixture
def shared() -> Problem:
    """One node of 2 GPUs split into 2 devices of 1; two notebooks of 0.6 and a job of 2."""
    return prob(
        [gpu_node("g")],
        [
            task("nb1", {"gpu": 0.6}, required=False),
            task("nb2", {"gpu": 0.6}, required=False),
            task("job", {"gpu": 2}, required=False),
        ],
    )


def test_two_shares_on_separate_devices_fit(shared):
    assert violations(shared, [a("nb1", "g", gpu=[0]), a("nb2", "g", gpu=[1])]) == []


def test_two_shares_on_one_device_overload_it_though_the_node_has_room(shared):
    """0.6 + 0.6 = 1.2 on device 0 (size 1); the node's 1.2 of 2 is fine."""
    assert messages(shared, [a("nb1", "g", gpu=[0]), a("nb2", "g", gpu=[0])]) == [
        "node g: gpu device 0 load 1.2 > device size 1"
    ]


def test_whole_devices_must_be_empty(shared):
    """The job takes both devices whole; a notebook beside it overloads one of them."""
    assert violations(shared, [a("job", "g", gpu=[0, 1])]) == []
    assert kinds(shared, [a("job", "g", gpu=[1, 0]), a("nb1", "g", gpu=[1])]) == [
        "capacity",  # node: 2.6 > 2
        "capacity",  # device 1: 1.6 > 1
    ]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (a("nb1", "g"), "nb1 replica 0: lists no gpu devices on g (it needs 1 of 0..1)"),
        (
            a("nb1", "g", gpu=[2]),
            "nb1 replica 0: gpu devices [2] on g: it needs 1 distinct of 0..1",
        ),
        (
            a("nb1", "g", gpu=[0, 1]),
            "nb1 replica 0: gpu devices [0, 1] on g: it needs 1 distinct of 0..1",
        ),
        (
            a("job", "g", gpu=[0, 0]),
            "job replica 0: gpu devices [0, 0] on g: it needs 2 distinct of 0..1",
        ),
        (
            a("job", "g", gpu=[0]),
            "job replica 0: gpu devices [0] on g: it needs 2 distinct of 0..1",
        ),
        (
            a("nb1", "g", gpu=[0], nvme=[0]),
            "nb1 replica 0: lists devices of nvme on g, which does not split nvme into devices",
        ),
    ],
)
def test_device_indices_present_exactly_where_required_and_valid(shared, assignment, message):
    assert messages(shared, [assignment]) == [message]
    assert not evaluate(shared, [assignment]).feasible


def test_no_devices_listed_where_there_is_no_demand_or_no_split():
    p = prob(
        [gpu_node("g"), node("c", {"cpu": 4})],
        [task("cpu-job", {"cpu": 1}, required=False)],
    )
    assert violations(p, [a("cpu-job", "g")]) == []
    assert messages(p, [a("cpu-job", "g", gpu=[0])]) == [
        "cpu-job replica 0: lists gpu devices on g, but it demands no gpu there"
    ]
    assert kinds(p, [a("cpu-job", "c", gpu=[0])]) == ["devices"]


def test_a_demand_devices_cannot_serve_is_a_violation():
    p = prob([gpu_node("g", 4, 4)], [task("t", {"gpu": 1.5})])
    assert messages(p, [a("t", "g", gpu=[0, 1])]) == [
        "t replica 0: gpu 1.5 is neither a share of one device nor a whole number of devices "
        "(4 of 1) on g"
    ]
    p = prob([gpu_node("g", 4, 4)], [task("t", {"gpu": 8})])
    assert "t replica 0: gpu 8 takes 8 whole devices of 1, more than the 4 there are on g" in (
        messages(p, [a("t", "g", gpu=[0, 1, 2, 3])])
    )


def test_devices_of_each_split_resource_are_separate():
    p = prob(
        [node("g", {"gpu": 2, "nvme": 4}, devices={"gpu": 2, "nvme": 2})],
        [task("t", {"gpu": 0.5, "nvme": 4}), task("u", {"gpu": 0.5})],
    )
    plan = [a("t", "g", gpu=[1], nvme=[0, 1]), a("u", "g", gpu=[1])]
    assert violations(p, plan) == []
    ev = evaluate(p, plan)
    assert ev.device_utilisation == {"g": {"gpu": [0.0, 1.0], "nvme": [1.0, 1.0]}}
    assert ev.utilisation["g"] == {"gpu": 0.5, "nvme": 1.0}  # per node, as before


def test_demand_on_decides_the_devices_per_node():
    p = prob(
        [gpu_node("a", 8, 8), gpu_node("b", 4, 4)],
        [task("t", {"gpu": 2}, demand_on={"b": {"gpu": 0.5}})],
    )
    assert violations(p, [a("t", "a", gpu=[3, 4])]) == []
    assert violations(p, [a("t", "b", gpu=[3])]) == []
    assert kinds(p, [a("t", "b", gpu=[0, 1])]) == ["devices"]


# -- devices over time ---------------------------------------------------------------------------


@pytest.fixture
def timed() -> Problem:
    return prob(
        [gpu_node("g")],
        [
            task("x", {"gpu": 0.6}, duration=10),
            task("y", {"gpu": 0.6}, duration=10),
            task("marker", {"gpu": 0.5}, duration=0),
        ],
    )


def test_shares_of_one_device_may_follow_each_other(timed):
    plan = [
        a("x", "g", 0, 0, 10, gpu=[0]),
        a("y", "g", 0, 10, 20, gpu=[0]),
        a("marker", "g", 0, 5, 5, gpu=[0]),
    ]
    assert violations(timed, plan) == []
    assert evaluate(timed, plan).device_utilisation == {"g": {"gpu": [0.6, 0.0]}}


def test_shares_of_one_device_may_not_overlap(timed):
    plan = [
        a("x", "g", 0, 0, 10, gpu=[0]),
        a("y", "g", 0, 9, 19, gpu=[0]),
        a("marker", "g", 0, 0, 0, gpu=[1]),
    ]
    assert messages(timed, plan) == ["node g: gpu device 0 peak load 1.2 > device size 1"]


def test_a_zero_length_run_still_names_its_device(timed):
    plan = [
        a("x", "g", 0, 0, 10, gpu=[0]),
        a("y", "g", 0, 0, 10, gpu=[1]),
        a("marker", "g", 0, 5, 5),
    ]
    assert kinds(timed, plan) == ["devices"]


# -- services ------------------------------------------------------------------------------------


@pytest.fixture
def services() -> Problem:
    return prob(
        [node("n", {"cpu": 4}, count=2)],
        [
            task("api", {"cpu": 2}, service=True, replicas=2),
            task("batch", {"cpu": 2}, duration=30),
        ],
        horizon=100,
    )


def test_a_service_runs_from_0_to_the_horizon_and_makespan_ignores_it(services):
    plan = [a("api", "n-1", 0, 0, 100), a("api", "n-2", 1, 0, 100), a("batch", "n-1", 0, 0, 30)]
    ev = evaluate(services, plan)
    assert ev.feasible, ev.violations
    assert ev.terms["makespan"] == 30
    assert ev.utilisation["n-1"]["cpu"] == 1.0  # peak: api + batch
    assert ev.average_utilisation is not None
    assert ev.average_utilisation["n-2"]["cpu"] == 0.5  # over the makespan [0, 30)
    assert services.tasks[0].duration_at(services.nodes[0]) == 100
    assert services.features == {"service"}


def test_a_service_elsewhere_in_time_is_a_violation(services):
    plan = [a("api", "n-1", 0, 0, 100), a("api", "n-2", 1, 10, 110), a("batch", "n-1", 0, 0, 30)]
    assert messages(services, plan) == [
        "api replica 1: a service runs over [0, 100), not [10, 110)",
        "api replica 1: ends at 110 after the horizon 100",
    ]


def test_a_service_takes_capacity_at_every_instant(services):
    plan = [
        a("api", "n-1", 0, 0, 100),
        a("api", "n-2", 1, 0, 100),
        a("batch", "n-1", 0, 70, 100),
    ]
    assert violations(services, plan) == []
    heavy = services.replace(tasks={"batch": {"demand": {"cpu": 3}}})
    assert kinds(heavy, plan) == ["capacity"]


def test_only_services_average_over_the_horizon():
    p = prob(
        [node("n", {"cpu": 4})],
        [task("api", {"cpu": 1}, service=True), task("job", {"cpu": 1}, duration=0)],
        horizon=50,
    )
    ev = evaluate(p, [a("api", "n", 0, 0, 50), a("job", "n", 0, 0, 0)])
    assert ev.terms["makespan"] == 0
    assert ev.average_utilisation == {"n": {"cpu": 0.25}}


# -- gangs that start together -------------------------------------------------------------------


@pytest.fixture
def together() -> Problem:
    return prob(
        [node("n", {"cpu": 8}, count=3)],
        [
            task("worker", {"cpu": 4}, gang="train", replicas=2, duration=20),
            task("ps", {"cpu": 2}, gang="train", duration=5),
            task("tick", {"cpu": 1}, gang="train", duration=0),
        ],
        gangs={"train": {"same_start": True}},
    )


def test_same_start_gang_members_start_together(together):
    plan = [
        a("worker", "n-1", 0, 3, 23),
        a("worker", "n-2", 1, 3, 23),
        a("ps", "n-1", 0, 3, 8),  # members may share a node
        a("tick", "n-3", 0, 3, 3),
    ]
    assert violations(together, plan) == []
    assert together.same_start == {"train"}
    assert together.features == {"same_start"}


def test_same_start_gang_with_a_late_member_is_a_violation(together):
    plan = [
        a("worker", "n-1", 0, 3, 23),
        a("worker", "n-2", 1, 3, 23),
        a("ps", "n-1", 0, 3, 8),
        a("tick", "n-3", 0, 4, 4),
    ]
    assert messages(together, plan) == [
        "gang train: starts at 3, 4; its replicas must start together"
    ]


def test_same_start_is_ignored_in_placement_problems():
    p = prob(
        [node("n", {"cpu": 8}, count=2)],
        [task("a", gang="g"), task("b", gang="g")],
        gangs={"g": {"same_start": True}},
    )
    assert p.same_start == frozenset() and p.features == frozenset()
    assert [w.message for w in p.warnings] == [
        "ignored: no task has a duration (placement problem)"
    ]


# -- spread --------------------------------------------------------------------------------------


@pytest.fixture
def zones() -> Problem:
    """Zones a (2 nodes), b (2 nodes), c (1 node, but full: capacity does not matter)."""
    return prob(
        [
            node("a", {"cpu": 4}, count=2, labels={"zone": "a"}),
            node("b", {"cpu": 4}, count=2, labels={"zone": "b"}),
            node("c", {"cpu": 0}, labels={"zone": "c"}),
            node("nolabel", {"cpu": 4}),
        ],
        [
            task("api", {"cpu": 1}, replicas=2, spread={"key": "zone"}),
            task("web", {"cpu": 1}, replicas=3, spread={"key": "zone", "max_skew": 2}),
        ],
    )


def test_spread_allows_only_nodes_with_the_label(zones):
    api = zones.tasks[0]
    assert [zones.nodes[n].id for n in api.allowed] == ["a-1", "a-2", "b-1", "b-2", "c"]
    assert api.spread is not None and api.spread.values == ("a", "b", "c")
    assert kinds(zones, [a("api", "nolabel"), a("api", "a-1", 1), *web_ok()]) == ["allowed"]


def web_ok() -> list[Assignment]:
    return [a("web", "a-1"), a("web", "a-2", 1), a("web", "b-1", 2)]


def test_spread_counts_values_with_no_replica_as_zero(zones):
    """api: (a 1, b 1, c 0) skew 1; (a 2, b 0, c 0) skew 2 > 1. web: (2, 1, 0) skew 2 <= 2."""
    assert violations(zones, [a("api", "a-1"), a("api", "b-1", 1), *web_ok()]) == []
    assert messages(zones, [a("api", "a-1"), a("api", "a-2", 1), *web_ok()]) == [
        "api: replicas per zone (a 2, b 0, c 0) differ by 2, more than max_skew 1"
    ]


# -- current lists -------------------------------------------------------------------------------


def test_moves_count_replicas_on_nodes_the_list_does_not_name():
    nodes = [node("n", {"cpu": 4}, count=4), node("m", {"cpu": 4}, count=2)]
    listed = prob(nodes, [task("api", replicas=3, current=["n-1", "n-2", "m"])])
    single = prob(nodes, [task("api", replicas=3, current="n-1")])
    plan = [a("api", "n-1"), a("api", "m-2", 1), a("api", "n-3", 2)]
    assert evaluate(listed, plan).terms["moves"] == 1  # n-3; m-2 is a member of pool m
    assert evaluate(single, plan).terms["moves"] == 2  # a list of one
    assert listed.features == {"current_list"} and single.features == frozenset()
    api = listed.tasks[0]
    ids = [[listed.nodes[n].id for n in entry] for entry in api.current_entries]
    assert ids == [["n-1"], ["n-2"], ["m-1", "m-2"]]


# -- reasons in device terms ---------------------------------------------------------------------


def test_reason_names_the_freest_device():
    """g2-1 and g2-2 are full; g2-3's devices hold 0.6 each: the freest device has 0.4."""
    p = prob(
        [gpu_node("g2", count=3)],
        [
            task("full", {"gpu": 1}, replicas=2, required=False),
            task("full2", {"gpu": 1}, replicas=2, required=False),
            task("half", {"gpu": 0.6}, required=False),
            task("half2", {"gpu": 0.6}, required=False),
            task("more", {"gpu": 0.6}, required=False),
        ],
    )
    plan = [
        a("full", "g2-1", 0, gpu=[0]),
        a("full", "g2-2", 1, gpu=[0]),
        a("full2", "g2-1", 0, gpu=[1]),
        a("full2", "g2-2", 1, gpu=[1]),
        a("half", "g2-3", gpu=[0]),
        a("half2", "g2-3", gpu=[1]),
    ]
    ev = evaluate(p, plan)
    assert ev.feasible, ev.violations
    (more,) = ev.unplaced
    assert more.reason == "gpu: 0.6 needed on one device; the freest device of g2-3 has 0.4"
    assert (
        "node g2-1: gpu: 0.6 needed on one device; the freest device of g2-1 has 0" in more.details
    )
    assert (
        "node g2-3: gpu: 0.6 needed on one device; the freest device of g2-3 has 0.4"
        in more.details
    )


def test_reason_for_whole_devices():
    p = prob(
        [gpu_node("g", 4, 4)],
        [task("share", {"gpu": 0.1}), task("big", {"gpu": 4}, required=False)],
    )
    ev = evaluate(p, [a("share", "g", gpu=[2])])
    assert ev.unplaced[0].reason == "gpu: 4 whole devices needed on one node; g has 3 free"


def test_reason_for_more_whole_devices_than_any_node_has():
    p = prob(
        [gpu_node("a", 2, 2), gpu_node("b", 4, 4)],
        [task("fill", {"gpu": 4}), task("big", {"gpu": 4}, required=False)],
    )
    ev = evaluate(p, [a("fill", "b", gpu=[0, 1, 2, 3])])
    reason = ev.unplaced[0].reason
    assert "gpu 4 takes more whole devices than a node has (2 devices of 1)" in reason
    assert "neither a share" not in reason
    assert "node a: gpu 4 takes 4 whole devices of 1, more than the 2 there are" in (
        ev.unplaced[0].details
    )


def test_reason_in_a_schedule_names_devices():
    p = prob(
        [gpu_node("g", 1, 1)],
        [
            task("x", {"gpu": 0.6}, duration=10),
            task("y", {"gpu": 0.6}, duration=10, required=False),
        ],
        horizon=15,
    )
    ev = evaluate(p, [a("x", "g", 0, 0, 10, gpu=[0])])
    assert ev.unplaced[0].reason == ("no allowed node can take it: no time window on 1 node")
    assert ev.unplaced[0].details == (
        "node g: no window of 10 with its demand and devices free from 0 by 15",
    )


# -- plan files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_devices_round_trip_through_plan_files(shared, fmt):
    plan = make(shared, [a("nb1", "g", gpu=[1]), a("job", "g", 0)])
    text = plan.dumps(fmt)
    back = plan_from_text(f"plan.{fmt}", text.encode())
    assert back.assignments[0].devices == {"gpu": (1,)}
    assert back.assignments == plan.assignments
    if fmt == "yaml":
        assert "- {task: nb1, replica: 0, node: g, devices: {gpu: [1]}}" in text
    assert {a.task for a in back.assignments} == {"nb1", "job"}


def test_check_reports_device_violations_and_metrics(shared):
    plan = make(shared, [a("nb1", "g", gpu=[0]), a("nb2", "g", gpu=[0])])
    report = check(shared, plan)
    assert not report.ok
    assert [v.kind for v in report.violations] == ["capacity"]
    assert plan.metrics["device_utilisation"] == {"g": {"gpu": [1.2, 0.0]}}


def test_assignments_with_devices_hash_and_compare():
    one = a("t", "g", gpu=[1, 0])
    assert one == a("t", "g", gpu=[1, 0]) and hash(one) == hash(a("t", "g", gpu=[1, 0]))
    assert one != a("t", "g", gpu=[0, 1])
    assert Assignment("t", 0, "g", devices={}).devices is None
    assert one.to_dict() == {"task": "t", "replica": 0, "node": "g", "devices": {"gpu": [1, 0]}}


# -- the incremental state -----------------------------------------------------------------------


def test_plan_state_add_and_remove(shared):
    st = PlanState(shared)
    assert [v.kind for v in st.violations()] == []
    st.add(a("nb1", "g", gpu=[0]))
    st.add(a("nb2", "g", gpu=[0]))
    assert [v.kind for v in st.violations()] == ["capacity"]
    assert st.device_load[(0, "gpu")] == pytest.approx([1.2, 0.0])
    st.remove("nb2", 0)
    st.add(a("nb2", "g", gpu=[1]))
    assert st.violations() == []
    assert st.assignments() == [a("nb1", "g", gpu=[0]), a("nb2", "g", gpu=[1])]
    assert not st.add(a("nb2", "g", gpu=[1]))  # replica 0 is taken
    assert [v.kind for v in st.violations()] == ["replicas"]
    assert st.remove("nope", 0) is None
    st.remove("nb1", 0)
    st.remove("nb2", 0)
    assert st.load[0] == {} and st.device_load[(0, "gpu")] == [0.0, 0.0]


def test_plan_state_evaluation_equals_evaluate(shared):
    plan = [a("nb1", "g", gpu=[0]), a("job", "g", gpu=[0, 1])]
    st = PlanState(shared, plan)
    assert st.evaluation().metrics() == evaluate(shared, plan).metrics()


def test_make_plan_keeps_devices(shared):
    from taskalloc.problems.evaluate import make_plan

    plan, ev = make_plan(shared, [a("nb1", "g", gpu=[1])], SolverInfo("test", Status.FEASIBLE))
    assert ev.feasible and plan.assignments[0].devices == {"gpu": (1,)}
