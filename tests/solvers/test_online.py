"""The online replay (solvers/online): each policy's choice on hand-made clusters where it is
known by hand, FGD's fragmentation measure against a hand computation, the curve metric on a
hand trace, and whole replays whose placements an independent check accepts."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.openb import import_openb
from taskalloc.solvers.fleet import (
    Fleet,
    UnsupportedProblem,
    Workload,
    fleet_from_dict,
    plan_assignments,
)
from taskalloc.solvers.online import PAPER_POLICIES, POLICIES, figure_at, percentages, replay
from taskalloc.solvers.online.fgd import fragmentation, typical_types
from taskalloc.solvers.online.policies import make_policy
from taskalloc.solvers.online.state import ClusterState
from tests.helpers import DATA, HAS_REFERENCE_CHECKER, NO_SHARED, reference_check, write_problem
from tests.solvers.gpu_fleet import check_placements

# A node of 128 CPUs and 8 GPUs makes the normalisers the paper's (128,000 and 8,000 milli).
REF = {
    "id": "ref",
    "capacity": {"cpu": 128, "memory": 4096, "gpu": 8},
    "labels": {"gpu_model": "R"},
    "devices": {"gpu": 8},
}


def gnode(id: str, cpu: float, gpus: int, memory: float = 1024, model: str = "M") -> dict:
    n: dict[str, Any] = {"id": id, "capacity": {"cpu": cpu, "memory": memory}}
    if gpus:
        n["capacity"]["gpu"] = gpus
        n["devices"] = {"gpu": gpus}
        n["labels"] = {"gpu_model": model}
    return n


def gtask(id: str, cpu: float, gpu: float = 0, memory: float = 1, **kw: Any) -> dict:
    d: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpu:
        d["gpu"] = gpu
    return {"id": id, "demand": d, "required": False, **kw}


def build(nodes: list[dict], tasks: list[dict]) -> tuple[Fleet, Workload]:
    return fleet_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks})


def setup(
    nodes: list[dict], tasks: list[dict], policy: str, seed: int = 0
) -> tuple[ClusterState, Workload, Any]:
    fleet, wl = build(nodes, tasks)
    return ClusterState(fleet), wl, make_policy(policy, fleet, wl, np.random.default_rng(seed))


def idx(fleet: Fleet, *names: str) -> np.ndarray:
    return np.array([fleet.node_ids.index(n) for n in names], dtype=np.int64)


# -- fleet arrays ------------------------------------------------------------------------------


def test_fleet_arrays_from_plain_data():
    fleet, wl = build(
        [gnode("a", 32, 4), {**gnode("p", 8, 2, model="T4"), "count": 3}, gnode("c", 16, 0)],
        [
            gtask("s", 4, 0.22),
            gtask("w", 2.5, 2),
            gtask("f", 1),
            gtask("m", 1, 1, match={"gpu_model": ["T4"]}),
            gtask("odd", 1, 1.5),
        ],
    )
    assert fleet.node_ids == ("a", "p-1", "p-2", "p-3", "c")
    assert fleet.type_ids == ("a", "p", "c")
    assert list(fleet.type_cpu) == [32000, 8000, 16000]
    assert list(fleet.type_ndev) == [4, 2, 0]
    assert fleet.gpu == "gpu" and fleet.device_size == 1 and fleet.rest_names == ("memory",)
    assert fleet.gpu_capacity_milli == 10_000
    assert list(wl.ngpu) == [1, 2, 0, 1, 2] and list(wl.milli) == [220, 1000, 0, 1000, 1000]
    assert list(wl.cpu) == [4000, 2500, 1000, 1000, 1000]
    assert wl.allowed[3].tolist() == [False, True, False]
    assert wl.allowed[4].tolist() == [False, False, False]  # 1.5 GPUs: no whole number
    assert wl.selector[3] == "gpu_model=T4"


def test_unsupported_problems_say_why():
    with pytest.raises(UnsupportedProblem, match="replicas"):
        build([gnode("a", 8, 1)], [{**gtask("t", 1), "replicas": 2}])
    with pytest.raises(UnsupportedProblem, match="differ in size"):
        build([gnode("a", 8, 1), {**gnode("b", 8, 2), "capacity": {"gpu": 1}}], [gtask("t", 1)])


def test_a_problem_without_devices_or_cpu():
    fleet, wl = build(
        [{"id": "a", "capacity": {"ram": 4}}, {"id": "b", "capacity": {"ram": 8}}],
        [{"id": "t", "demand": {"ram": 5}}, {"id": "u", "demand": {"ram": 1}}],
    )
    assert fleet.gpu is None and fleet.gpu_capacity_milli == 0
    for policy in POLICIES:
        r = replay(fleet, wl, policy, seed=1)
        assert r.node[0] == 1  # only b has room for 5
        assert r.node[1] >= 0
        assert np.isnan(r.figure(100))


# -- the paper's scores, by hand ---------------------------------------------------------------

TRIO = [gnode("A", 32, 2), gnode("B", 64, 4), REF]


def test_best_fit_and_dot_product_scores():
    # task: 4 CPUs, one whole GPU
    st, wl, bf = setup(TRIO, [gtask("t", 4, 1)], "best-fit")
    cand = np.arange(3)
    # A: 0.5 * 28000/128000 + 0.5 * 1000/8000 = 0.171875 -> int(82.8125)
    # B: 0.5 * 60000/128000 + 0.5 * 3000/8000 = 0.421875 -> 57; ref: 0.921875 -> 7
    assert bf.score(st, wl, 0, cand).tolist() == [82, 57, 7]
    dp = make_policy("dot-product", st.fleet, wl, np.random.default_rng(0))
    # A: 1 - (0.25 * 4/128 + 0.25 * 1/8) / 2 = 0.98046875 -> 98; B: 96.09 -> 96; ref -> 92
    assert dp.score(st, wl, 0, cand).tolist() == [98, 96, 92]
    assert bf.choose(st, wl, 0, cand) == (0, [0])


def test_gpu_clustering_scores():
    nodes = [gnode(n, 32, 4) for n in ("X", "Y", "Z", "W")] + [REF]
    tasks = [gtask("s1", 1, 0.5), gtask("w1", 1, 1), gtask("s2", 1, 0.5), gtask("w2", 1, 1)]
    st, wl, gc = setup(
        nodes, [*tasks, gtask("new-share", 1, 0.3), gtask("new-whole", 1, 1)], "gpu-clustering"
    )
    st.place(wl, 0, 0, [0])  # X runs a share
    st.place(wl, 1, 1, [0])  # Y runs a whole GPU
    st.place(wl, 2, 3, [0])  # W runs both kinds
    st.place(wl, 3, 3, [1])
    cand = np.arange(4)
    # share: X 75 + 25*4500//8000 = 89; Y 0 + 15; Z (no GPU task) 25 + 12; W 50 + 17
    assert gc.score(st, wl, 4, cand).tolist() == [89, 15, 37, 67]
    # one whole GPU: X 0 + 14; Y 75 + 15; Z 37; W 67
    assert gc.score(st, wl, 5, cand).tolist() == [14, 90, 37, 67]
    assert gc.choose(st, wl, 4, cand)[0] == 0 and gc.choose(st, wl, 5, cand)[0] == 1


def test_gpu_packing_scores_and_ties():
    nodes = [gnode("P", 32, 4), gnode("Q", 32, 4), gnode("E2", 32, 2), gnode("E4", 32, 4), REF]
    tasks = [gtask("half", 1, 0.5), gtask("one", 1, 1), gtask("s", 1, 0.3), gtask("w", 1, 1)]
    st, wl, gp = setup(nodes, [*tasks, gtask("cpu", 1)], "gpu-packing")
    st.place(wl, 0, 0, [2])  # P: device 2 has 500 left
    st.place(wl, 1, 1, [0])  # Q: one device taken whole
    cand = np.arange(4)
    # share: P 100 - 500//100 = 95; Q its tightest fitting device is free: 49; E2 33-2; E4 33-4
    assert gp.score(st, wl, 2, cand).tolist() == [95, 49, 31, 29]
    assert gp.choose(st, wl, 2, cand) == (0, [2])
    # a whole GPU: used nodes 50 - 1 = 49 (a tie broken by the random node order)
    assert gp.score(st, wl, 3, cand).tolist() == [49, 49, 31, 29]
    gp.rank = np.array([4, 3, 2, 1, 0])
    assert gp.choose(st, wl, 3, cand) == (1, [1])  # Q wins the tie, its lowest free device
    gp.rank = np.array([0, 1, 2, 3, 4])
    assert gp.choose(st, wl, 3, cand) == (0, [0])
    # a task without GPU scores 0 everywhere: the tie order alone decides
    assert gp.score(st, wl, 4, cand).tolist() == [0, 0, 0, 0]
    gp.rank = np.array([3, 2, 1, 0, 4])
    assert gp.choose(st, wl, 4, cand)[0] == 3


def test_share_device_choice_is_the_tightest_fitting_device():
    st, wl, bf = setup(
        [gnode("A", 64, 4), REF],
        [gtask("a", 1, 0.5), gtask("b", 1, 0.7), gtask("c", 1, 0.4), gtask("d", 1, 0.25)],
        "best-fit",
    )
    st.place(wl, 0, 0, [1])  # device 1: 500 left
    st.place(wl, 1, 0, [3])  # device 3: 300 left
    assert bf.devices(st, wl, 2, 0) == [1]  # 400 fits 1000, 500: the tightest is device 1
    assert bf.devices(st, wl, 3, 0) == [3]  # 250 fits 300
    st2, wl2, bf2 = setup(
        [gnode("A", 64, 4), REF], [gtask("a", 1, 0.5), gtask("w", 1, 2)], "best-fit"
    )
    st2.place(wl2, 0, 0, [0])
    assert bf2.devices(st2, wl2, 1, 0) == [1, 2]  # whole GPUs: the lowest free ones


def test_random_draws_only_feasible_nodes_and_fitting_devices():
    nodes = [gnode(n, 8, 2) for n in ("a", "b", "c")] + [gnode("small", 1, 2)]
    st, wl, rnd = setup(nodes, [gtask("x", 4, 0.3)], "random", seed=3)
    cand = st.feasible(wl, 0)
    assert cand.tolist() == [0, 1, 2]
    picks = Counter((n, tuple(d)) for n, d in (rnd.choose(st, wl, 0, cand) for _ in range(600)))
    assert {n for n, _ in picks} == {0, 1, 2}
    assert {d for _, d in picks} == {(0,), (1,)}
    assert min(picks.values()) > 60  # 6 outcomes, 100 each expected


def test_least_loaded_and_first_fit():
    nodes = [gnode("a", 8, 2), gnode("b", 16, 2), gnode("c", 16, 2)]
    st, wl, ll = setup(nodes, [gtask("t", 4, 0.5)], "least-loaded")
    cand = np.arange(3)
    # peak after placing: a max(4/8, 0.5/2) = 0.5; b and c 0.25 (tie: the lower index)
    assert ll.choose(st, wl, 0, cand) == (1, [0])
    ff = make_policy("first-fit", st.fleet, wl, np.random.default_rng(0))
    assert ff.choose(st, wl, 0, cand) == (0, [0])


# -- FGD ---------------------------------------------------------------------------------------


def fgd_case() -> tuple[ClusterState, Workload]:
    # typical types: A (2 CPUs, 0.6 GPU) x2, B (1 CPU, 1 GPU) x1, C (0.5 CPU, no GPU) x1
    tasks = [gtask("a1", 2, 0.6), gtask("a2", 2, 0.6), gtask("b", 1, 1), gtask("c", 0.5)]
    tasks += [gtask("pre", 1, 0.5), gtask("new", 1, 0.5)]
    fleet, wl = build([gnode("N", 10, 2)], tasks)
    return ClusterState(fleet), wl


def test_typical_types_cover_95_percent():
    _, wl = fgd_case()
    tt = typical_types(wl.subset([0, 1, 2, 3]))
    assert tt.milli.tolist() == [600, 1000, 0] and tt.ngpu.tolist() == [1, 1, 0]
    assert tt.freq.tolist() == [0.5, 0.25, 0.25]
    # 20 tasks of one kind and one of another: 20/21 >= 95 %, the rare kind is left out
    _, wl2 = build(
        [gnode("N", 10, 2)], [gtask(f"t{i}", 1, 0.5) for i in range(20)] + [gtask("rare", 3)]
    )
    assert typical_types(wl2).milli.tolist() == [500]


def test_fragmentation_by_hand():
    st, wl = fgd_case()
    tt = typical_types(wl.subset([0, 1, 2, 3]))
    st.place(wl, 4, 0, [1])  # devices [1000, 500], 9 CPUs left
    f = fragmentation(tt, st.cpu_left, st.dev, st.fleet.node_type)
    # A: one device >= 600 and CPU: only device 1 (500 < 600) is fragment: 0.5 x 500 = 250
    # B: one free device and CPU: device 1 again: 0.25 x 500 = 125
    # C: needs no GPU: all 1,500 free milli count: 0.25 x 1500 = 375
    assert f.tolist() == [750.0]
    # 0.5 more on device 0 -> [500, 500]: A and B cannot run: 0.5 x 1000 + 0.25 x 1000,
    # C 0.25 x 1000: 1000; on device 1 -> [1000, 0]: only C counts: 250
    two = np.array([[500, 500], [1000, 0]])
    after = fragmentation(tt, np.array([8000, 8000]), two, np.array([0, 0]))
    assert after.tolist() == [1000.0, 250.0]


def test_fgd_picks_the_device_that_fragments_least():
    st, wl = fgd_case()
    fleet = st.fleet
    pol = make_policy("fgd", fleet, wl.subset([0, 1, 2, 3, 4, 5]), np.random.default_rng(0))
    pol.tt = typical_types(wl.subset([0, 1, 2, 3]))
    st.place(wl, 4, 0, [1])
    cand = st.feasible(wl, 5)
    n, devs = pol.choose(st, wl, 5, cand)
    # device 0: F 750 -> 1000, int(100 sigmoid(-0.25)) = 43; device 1: 750 -> 250: 62
    assert (n, devs) == (0, [1])
    score, dev = pol._scores(st, wl, 5)
    assert score.tolist() == [62] and dev.tolist() == [1]


def test_fgd_cache_follows_node_changes():
    nodes = [gnode(f"n{i}", 16, 4) for i in range(5)]
    tasks = [gtask(f"t{i}", 1 + i % 3, [0.3, 0.5, 1, 2, 0][i % 5]) for i in range(60)]
    fleet, wl = build(nodes, tasks)
    r = replay(fleet, wl, "fgd", seed=4)
    # the same replay with the cache disabled (a fresh policy per arrival) agrees
    st = ClusterState(fleet)
    rng = np.random.default_rng(4)
    base = make_policy("fgd", fleet, wl, rng)
    for j in range(wl.n_tasks):
        cand = st.feasible(wl, j)
        if not len(cand):
            assert r.node[j] == -1
            continue
        fresh = make_policy("fgd", fleet, wl, np.random.default_rng(0))
        fresh.rank = base.rank
        n, devs = fresh.choose(st, wl, j, cand)
        assert (n, tuple(devs)) == (r.node[j], r.devices[j])
        st.place(wl, j, n, devs)


# -- the curve ---------------------------------------------------------------------------------


def test_curve_and_figure_on_a_hand_trace():
    cap = 4000
    arrived = np.array([1000, 2000, 2000, 3990, 4010, 4500, 5200])
    allocated = np.array([1000, 2000, 2000, 2000, 2020, 2520, 2520])
    arr, alloc = percentages(arrived, allocated, cap)
    assert arr.tolist() == [25.0, 50.0, 50.0, 99.75, 100.25, 112.5, 130.0]
    assert alloc.tolist() == [25.0, 50.0, 50.0, 50.0, 50.5, 63.0, 63.0]
    assert figure_at(arrived, allocated, cap, 100) == 50.25  # the two arrivals rounding to 100
    assert figure_at(arrived, allocated, cap, 50) == 50.0
    # SOURCE.md: the mean over the arrivals whose arrived % rounds to X, and nothing else
    assert np.isnan(figure_at(arrived, allocated, cap, 129))  # 130.0 is not 129
    assert np.isnan(figure_at(arrived, allocated, cap, 80))
    assert figure_at(arrived, allocated, cap, 130) == 63.0
    # 112.5 rounds half to even (112), as Python's round does
    assert figure_at(arrived, allocated, cap, 112) == 63.0
    assert np.isnan(figure_at(arrived, allocated, cap, 113))
    # the mean is not rounded: 50.0 and 50.5 (each rounded to 2 decimals) give 50.25 exactly,
    # and three arrivals of 1/3 % each give the plain mean
    assert figure_at(np.array([10, 10, 10]), np.array([1, 1, 2]), 1000, 1) == pytest.approx(
        (0.1 + 0.1 + 0.2) / 3
    )
    assert np.isnan(figure_at(arrived, allocated, 0, 100))  # no GPU: no figure


# -- whole replays -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trace() -> tuple[dict, Fleet, Workload]:
    p = import_openb(
        str(DATA / "openb" / "nodes.csv"),
        str(DATA / "openb" / "pods.csv"),
        order="shuffle",
        seed=11,
    ).problem
    fleet, wl = fleet_from_dict(p)
    return p, fleet, wl


@pytest.mark.parametrize("policy", POLICIES)
def test_replays_are_feasible_and_drop_only_what_fits_nowhere(policy, trace):
    p, fleet, wl = trace
    r = replay(fleet, wl, policy, seed=5)
    assert len(r.node) == wl.n_tasks and not r.stopped
    check_placements(p, fleet, wl, r.node, r.devices)
    # re-play the placements: a dropped task found no node with room at its arrival
    st = ClusterState(fleet)
    for j in range(wl.n_tasks):
        cand = st.feasible(wl, j)
        if r.node[j] < 0:
            assert len(cand) == 0
        else:
            assert r.node[j] in cand
            st.place(wl, j, int(r.node[j]), list(r.devices[j]))
    assert r.allocated_milli[-1] == st.allocated_milli
    assert np.all(np.diff(r.arrived_milli) >= 0) and np.all(np.diff(r.allocated_milli) >= 0)
    assert r.arrived_milli[-1] == wl.gpu_milli.sum()
    # the same seed replays the same
    again = replay(fleet, wl, policy, seed=5)
    assert np.array_equal(again.node, r.node) and again.devices == r.devices


def test_tie_order_is_fixed_per_seed():
    fleet, wl = build([{**gnode("n", 8, 2), "count": 6}], [gtask("t", 1, 1)])
    firsts = [int(replay(fleet, wl, "gpu-packing", seed=s).node[0]) for s in range(12)]
    assert len(set(firsts)) > 2  # all nodes tie: each seed's random node order decides
    assert firsts == [int(replay(fleet, wl, "gpu-packing", seed=s).node[0]) for s in range(12)]


@pytest.mark.skipif(not HAS_REFERENCE_CHECKER, reason=f"no shared reference checker: {NO_SHARED}")
@pytest.mark.parametrize("policy", PAPER_POLICIES)
def test_the_reference_checker_accepts_replay_plans(policy, trace, tmp_path):
    p, fleet, wl = trace
    r = replay(fleet, wl, policy, seed=2)
    plan = {
        "taskalloc_plan": 1,
        "problem": {"name": p["name"]},
        "solver": {"name": f"simulate-{policy}", "status": "feasible"},
        "assignments": plan_assignments(fleet, wl, r.node, r.devices),
        "unplaced": [{"task": wl.ids[j]} for j in np.flatnonzero(r.node < 0)],
    }
    res = reference_check(
        write_problem(tmp_path / "p.json", p), write_problem(tmp_path / "x.json", plan)
    )
    assert res["feasible"], res["violations"]
    unplaced_gpu = sum(wl.priority[j] for j in np.flatnonzero(r.node < 0))
    assert res["terms"]["unplaced"] == pytest.approx(unplaced_gpu)


def test_stop_ends_the_replay_early(trace):
    _, fleet, wl = trace
    r = replay(fleet, wl, "best-fit", stop=lambda: True)
    assert r.stopped and len(r.node) == 0


# -- the builder from a compiled Problem agrees with the one from plain data -------------------


def same_arrays(a: tuple[Fleet, Workload], b: tuple[Fleet, Workload]) -> None:
    (fa, wa), (fb, wb) = a, b
    assert fa.node_ids == fb.node_ids and fa.type_model == fb.type_model
    assert fa.gpu == fb.gpu and fa.rest_names == fb.rest_names
    for x, y in [
        (fa.type_cpu, fb.type_cpu),
        (fa.type_rest, fb.type_rest),
        (fa.type_ndev, fb.type_ndev),
        (fa.node_type, fb.node_type),
        (wa.cpu, wb.cpu),
        (wa.rest, wb.rest),
        (wa.ngpu, wb.ngpu),
        (wa.milli, wb.milli),
        (wa.allowed, wb.allowed),
        (wa.priority, wb.priority),
    ]:
        assert np.array_equal(x, y)


def test_fleet_from_problem_without_devices():
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.fleet import fleet_from_problem

    data = {
        "taskalloc": 1,
        "nodes": [
            {"id": "a", "count": 2, "capacity": {"cpu": 8, "gpu": 2}},
            {"id": "b", "capacity": {"cpu": 4}},
        ],
        "tasks": [
            {"id": "t", "demand": {"cpu": 2, "gpu": 1}},
            {"id": "u", "demand": {"cpu": 1}, "nodes": ["b"], "priority": 3},
        ],
    }
    got = fleet_from_problem(problem_from_dict(data))
    same_arrays(got, fleet_from_dict(data))
    fleet, wl = got
    assert fleet.gpu is None and fleet.rest_names == ("gpu",)  # a plain resource, no devices
    assert wl.allowed.tolist() == [[True, True], [False, True]]


def test_fleet_from_problem_reads_devices():
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.fleet import fleet_from_problem

    data = {
        "taskalloc": 1,
        "nodes": [
            {**gnode("g", 32, 4, model="A"), "count": 2},
            gnode("h", 16, 2, model="B"),
        ],
        "tasks": [gtask("s", 2, 0.25), gtask("w", 4, 2, match={"gpu_model": ["B"]}), gtask("c", 1)],
    }
    fleet, wl = fleet_from_problem(problem_from_dict(data))
    same_arrays((fleet, wl), fleet_from_dict(data))
    assert fleet.gpu == "gpu" and list(fleet.type_ndev) == [4, 2]
    assert wl.allowed.tolist() == [[True, True], [False, True], [True, True]]
    assert wl.milli.tolist() == [250, 1000, 0] and wl.ngpu.tolist() == [1, 2, 0]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"tasks": [{"id": "r", "demand": {"cpu": 1}, "replicas": 2}]}, "task r has 2 replicas"),
        (
            {"nodes": [{**gnode("g", 8, 2), "count": 1}, {"id": "x", "capacity": {"gpu": 3}}]},
            "node x has gpu 3 but no devices of it",
        ),
        (
            {"nodes": [gnode("g", 8, 2), {**gnode("k", 8, 4), "capacity": {"cpu": 8, "gpu": 2}}]},
            "the gpu devices differ in size: 0.5 (k), 1 (g)",
        ),
        (
            {"tasks": [{"id": "d", "duration": 3, "demand": {"cpu": 1}}]},
            "it is a scheduling problem",
        ),
    ],
)
def test_what_the_arrays_do_not_model_is_named_in_one_line(change, why):
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.fleet import fleet_from_problem, unsupported

    data = {"taskalloc": 1, "nodes": [gnode("g", 8, 2)], "tasks": [gtask("t", 1, 1)], **change}
    problem = problem_from_dict(data)
    reason = unsupported(problem)
    assert reason is not None and reason.startswith(why) and "\n" not in reason
    with pytest.raises(UnsupportedProblem, match=re.escape(why)):
        fleet_from_problem(problem)


# -- on a compiled Problem (revision 2): what `taskalloc simulate` runs --------------------------


def test_fleet_from_a_compiled_openb_problem_matches_the_plain_data(trace):
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.fleet import fleet_from_problem

    p, fleet, wl = trace
    same_arrays(fleet_from_problem(problem_from_dict(p)), (fleet, wl))


@pytest.mark.parametrize("policy", POLICIES)
def test_simulate_plans_pass_the_evaluator(policy, trace):
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.problems.plan import Status
    from taskalloc.problems.problem import problem_from_dict
    from taskalloc.solvers.simulation import simulate

    p, _, wl = trace
    problem = problem_from_dict(p)
    sim = simulate(problem, policy, seed=3)
    result, r = sim.result, sim.detail
    ev = evaluate(problem, result.assignments)
    assert ev.feasible, ev.violations
    assert result.status == Status.FEASIBLE
    dropped = sum(wl.priority[j] for j in np.flatnonzero(r.node < 0))
    assert ev.objective["unplaced"] == pytest.approx(dropped)
    assert len(result.assignments) == r.placed
    assert policy in result.message and "dropped" in result.message
