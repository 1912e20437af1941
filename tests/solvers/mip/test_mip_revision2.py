"""Revision 2 of the format in the MILP (-s mip): devices, gangs that start together, services,
spread and max_moves, each on a hand-made case whose optimum is worked out in the comments,
on every MILP backend of tests/solving.py ENGINES; a brute-force property over tiny random
problems with devices (the enumeration includes the device indices); the model's structure
(device symmetry breaking, hints with devices relabelled). Every plan passes the evaluator
(:func:`tests.solving.check`, through ``Engine.solve``)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.features import unhandled
from taskalloc.solvers.greedy import solve as greedy
from taskalloc.solvers.mip import build_model
from taskalloc.solvers.mip import model as mip_model
from taskalloc.solvers.mip.export import export_model
from taskalloc.solvers.mip.patterns import extend, maximal_patterns, pack
from tests.problems.oracle import check as oracle
from tests.problems.test_brute_force import compile_or_reject, problems
from tests.solving import ENGINES, Engine, count_plans, every_plan, lex, make, terms, where

MIPS = [e for e in ENGINES if e.solver == "mip"]


@pytest.fixture(params=MIPS, ids=lambda e: e.id)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param


def gpu_node(nid: str, gpus: int, cpu: float = 100, **extra: Any) -> dict[str, Any]:
    return {"id": nid, "capacity": {"cpu": cpu, "gpu": gpus}, "devices": {"gpu": gpus}, **extra}


def gtask(tid: str, gpu: float, cpu: float = 1, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "demand": {"cpu": cpu, "gpu": gpu}, **extra}


def device_uses(problem: Problem, assignments: list[Assignment]) -> dict[str, tuple[int, ...]]:
    return {f"{a.task}#{a.replica}": (a.devices or {}).get("gpu", ()) for a in assignments}


def test_mip_handles_every_revision2_feature():
    p = make(
        [gpu_node("g", 2, labels={"zone": "a"})],
        [gtask("t", 1, spread={"key": "zone", "max_skew": 1})],
        max_moves=1,
    )
    assert unhandled(p, "mip") == []


# -- devices -------------------------------------------------------------------------------------


def test_shares_that_fit_the_node_but_not_its_devices(engine):
    """One node of 4 GPU devices. w takes 2 whole devices (priority 5); s1..s4 take 0.6 of a
    device, n 0.4 (priority 1 each). The node's 4 GPUs would hold w and three shares (3.8),
    but no device holds two 0.6 shares: with w, the two free devices hold 0.6 + 0.4 and 0.6,
    so two shares stay out (unplaced 2); without w, all five shares fit (unplaced 5). The
    optimum is 2."""
    p = make(
        [gpu_node("g", 4)],
        [
            gtask("w", 2, priority=5, required=False),
            *(gtask(f"s{i}", 0.6, required=False) for i in range(1, 5)),
            gtask("n", 0.4, required=False),
        ],
        **lex("unplaced"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["unplaced"] == 2
    uses = device_uses(p, r.assignments)
    assert len(uses["w#0"]) == 2 and "n#0" in uses
    shares = [u for k, u in uses.items() if k != "w#0"]
    assert all(len(u) == 1 for u in shares)


def test_whole_device_jobs_need_empty_devices(engine):
    """Two nodes of 2 devices; a takes 0.5 (on g1 only), b takes 2 whole devices and costs
    less on g1 (1) than on g2 (4). b cannot go on g1 with a there (a device is half used):
    the optimum puts a on g1 and b on g2 (cost 4)."""
    p = make(
        [gpu_node("g1", 2), gpu_node("g2", 2)],
        [gtask("a", 0.5, nodes=["g1"]), gtask("b", 2, assign_cost={"g1": 1, "g2": 4})],
        **lex("unplaced", "cost"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert where(r) == {"a": ["g1"], "b": ["g2"]}
    assert terms(p, r)["cost"] == 4
    assert device_uses(p, r.assignments)["b#0"] == (0, 1)


def test_devices_over_time(engine):
    """Scheduling on one node of 2 devices: a, b, c take 0.6 for 2 units, w a whole device for
    1 unit. The node's GPUs (2) would run the three shares at once (makespan 2), but a device
    holds one 0.6 at a time: a, b on [0, 2), c and w after them on the two devices: makespan
    4 (w fits beside c on [2, 3))."""
    p = make(
        [gpu_node("g", 2)],
        [
            gtask("a", 0.6, duration=2),
            gtask("b", 0.6, duration=2),
            gtask("c", 0.6, duration=2),
            gtask("w", 1, duration=1),
        ],
        horizon=6,
        **lex("makespan"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["makespan"] == 4


# -- gangs that start together -------------------------------------------------------------------


def _gang_problem(same_start: bool) -> Problem:
    """b (required) runs 2 units on n1 by its deadline 2; the gang's t1 runs on n1 and t2 on
    n2 by its deadline 1. Apart, t2 runs at 0 and t1 after b (unplaced 0). Together, t1 must
    start at 0 beside b, which does not fit (6 + 6 > 10): the gang stays out (unplaced 2)."""
    gang = {"gang": "g", "required": False}
    return make(
        [{"id": "n1", "capacity": {"cpu": 10}}, {"id": "n2", "capacity": {"cpu": 10}}],
        [
            {"id": "b", "demand": {"cpu": 6}, "duration": 2, "deadline": 2, "nodes": ["n1"]},
            {"id": "t1", "demand": {"cpu": 6}, "duration": 1, "nodes": ["n1"], **gang},
            {"id": "t2", "demand": {"cpu": 6}, "duration": 1, "deadline": 1, **gang},
        ],
        horizon=4,
        **({"gangs": {"g": {"same_start": True}}} if same_start else {}),
        **lex("unplaced", "makespan"),
    )


@pytest.mark.parametrize(("same_start", "unplaced"), [(True, 2), (False, 0)])
def test_same_start_gang(engine, same_start, unplaced):
    p = _gang_problem(same_start)
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["unplaced"] == unplaced


def test_same_start_gang_starts_together(engine):
    """t1 (2 replicas, 3 units) and t2 (1 unit) start together; d (cpu 7) occupies n1 over
    [0, 2), where t1 does not fit beside it (7 + 6 > 10) but t2 does (7 + 3): the gang starts
    at 0, t1 on n2 and n3, t2 anywhere: makespan 3 (starting after d would give 5)."""
    p = make(
        [{"id": f"n{i}", "capacity": {"cpu": 10}} for i in (1, 2, 3)],
        [
            {"id": "d", "demand": {"cpu": 7}, "duration": 2, "nodes": ["n1"]},
            {"id": "t1", "demand": {"cpu": 6}, "duration": 3, "replicas": 2, "gang": "g"},
            {"id": "t2", "demand": {"cpu": 3}, "duration": 1, "gang": "g"},
        ],
        horizon=8,
        gangs={"g": {"same_start": True}},
        **lex("makespan"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["makespan"] == 3
    assert {a.start for a in r.assignments if a.task != "d"} == {0}


# -- services ------------------------------------------------------------------------------------


def test_services_occupy_the_whole_horizon(engine):
    """A service (cpu 6) runs on both nodes over [0, 4); a, b, c (cpu 4; 2, 2 and 3 units)
    then run one at a time per node (6 + 4 + 4 > 10): a then b on one node, c on the other,
    makespan 4 (services do not count; without the service two could share: 3)."""
    p = make(
        [{"id": "n1", "capacity": {"cpu": 10}}, {"id": "n2", "capacity": {"cpu": 10}}],
        [
            {"id": "s", "demand": {"cpu": 6}, "service": True, "replicas": 2},
            {"id": "a", "demand": {"cpu": 4}, "duration": 2},
            {"id": "b", "demand": {"cpu": 4}, "duration": 2},
            {"id": "c", "demand": {"cpu": 4}, "duration": 3},
        ],
        horizon=4,
        **lex("makespan"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["makespan"] == 4
    assert {(a.start, a.end) for a in r.assignments if a.task == "s"} == {(0, 4)}


# -- spread --------------------------------------------------------------------------------------


def _zones(cost_b: float = 10) -> list[dict[str, Any]]:
    return [
        *({"id": f"a{i}", "capacity": {"cpu": 10}, "labels": {"zone": "a"}} for i in (1, 2, 3)),
        {"id": "b1", "capacity": {"cpu": 10}, "labels": {"zone": "b"}},
        {"id": "c1", "capacity": {"cpu": 0.5}, "labels": {"zone": "c"}},
    ]


def test_spread_over_zones(engine):
    """t (3 replicas) over zones a (3 nodes, cost 1) and b (cost 10), max_skew 1: (2, 1) is
    the only spread, cost 12 (without spread: 3 in zone a, cost 3)."""
    cost = {"a1": 1, "a2": 1, "a3": 1, "b1": 10}
    p = make(
        _zones(),
        [
            {
                "id": "t",
                "demand": {"cpu": 1},
                "replicas": 3,
                "nodes": ["a1", "a2", "a3", "b1"],
                "assign_cost": cost,
                "spread": {"key": "zone", "max_skew": 1},
            }
        ],
        **lex("unplaced", "cost"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["cost"] == 12
    assert sum(n.startswith("a") for n in where(r)["t"]) == 2


def test_spread_counts_a_zone_without_room(engine):
    """Zone c's only node is too small for t, but counts as 0 (capacity does not matter):
    with max_skew 1 each zone gets at most one replica, so t's 3 replicas cannot be spread
    over a, b and c and t stays out; u (2 replicas) goes on a and b."""
    spread = {"key": "zone", "max_skew": 1}
    p = make(
        _zones(),
        [
            {"id": "t", "demand": {"cpu": 1}, "replicas": 3, "required": False, "spread": spread},
            {"id": "u", "demand": {"cpu": 1}, "replicas": 2, "spread": spread},
        ],
        **lex("unplaced"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert "t" not in where(r)
    assert sorted(n[0] for n in where(r)["u"]) == ["a", "b"]


# -- max_moves -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "cost"), [(None, 1), (1, 5), (0, 10)])
def test_max_moves(engine, limit, cost):
    """a and b run on n1 (cost 5 each); a would cost 0 on n2, b 1 on n3. No limit: both move
    (cost 1); max_moves 1: the best single move is a's (cost 5); 0: none (cost 10)."""
    p = make(
        [{"id": f"n{i}", "capacity": {"cpu": 10}} for i in (1, 2, 3)],
        [
            {"id": "a", "demand": {"cpu": 4}, "current": "n1", "assign_cost": {"n1": 5, "n3": 9}},
            {
                "id": "b",
                "demand": {"cpu": 4},
                "current": "n1",
                "assign_cost": {"n1": 5, "n2": 9, "n3": 1},
            },
        ],
        **({} if limit is None else {"max_moves": limit}),
        **lex("unplaced", "cost"),
    )
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["cost"] == cost


# -- brute force -----------------------------------------------------------------------------------

PLACEMENT_KEYS = ("unplaced", "cost", "nodes", "moves")


@st.composite
def objectives(draw: Any, data: dict[str, Any]) -> dict[str, Any]:
    """An objective (and sometimes max_moves) for a problem of test_brute_force.problems."""
    pool = [*PLACEMENT_KEYS, *(("makespan",) if "horizon" in data else ())]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    out = {**data, "objective": {"lexicographic": chosen}}
    if any("current" in t for t in data["tasks"]) and draw(st.integers(0, 2)) == 0:
        out["max_moves"] = draw(st.integers(0, 2))
    return out


def best_by_enumeration(data: dict[str, Any]) -> tuple[float, ...] | None:
    """The lexicographic optimum over every plan (devices and starts included), judged by the
    independent oracle; None when no plan is feasible."""
    keys = data["objective"]["lexicographic"]
    best: tuple[float, ...] | None = None
    for plan in every_plan(data):
        ok, found = oracle(data, plan)
        if not ok or found["moves"] > data.get("max_moves", float("inf")):
            continue
        key = tuple(float(found[k]) for k in keys)
        if best is None or key < best:
            best = key
    return best


FORMS = {  # the device forms of placement problems (model.py): patterns is the default
    "patterns": {},
    "assignment": {"MAX_PATTERNS": 0},
    "assignment-symmetric": {"MAX_PATTERNS": 0, "DEVICE_SYMMETRY": "none"},
    "assignment-ordered": {"MAX_PATTERNS": 0, "DEVICE_SYMMETRY": "order"},
    "assignment-per-device": {"MAX_PATTERNS": 0, "AGGREGATE_WHOLE": False},
}


@pytest.mark.parametrize(
    ("engine", "scheduling", "form"),
    [
        *((e, s, "patterns") for e in MIPS for s in (False, True)),
        *((MIPS[0], False, f) for f in FORMS if f != "patterns"),
        (MIPS[0], True, "assignment-ordered"),
    ],
    ids=lambda v: v.id if isinstance(v, Engine) else str(v),
)
def test_matches_brute_force_on_tiny_revision2_problems(engine, scheduling, form, monkeypatch):
    """Tiny problems with devices (1-3 of them), spread, current lists, gangs (same start),
    services and max_moves: the MILP's optimum is the best of every plan, by the oracle; in
    every device form of the model."""
    for name, value in FORMS[form].items():
        monkeypatch.setattr(mip_model, name, value)
    examples = (15 if scheduling else 40) if engine.id == "mip-scip" else 8
    if form != "patterns":
        examples = 15

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(st.data())
    def run(draw: Any) -> None:
        base = draw.draw(problems(max_tasks=3, max_nodes=2, scheduling=scheduling))
        data = draw.draw(objectives(base))
        problem = compile_or_reject(data)
        assume(count_plans(data) <= 3000)
        best = best_by_enumeration(data)
        r = engine.solve(problem)
        if best is None:
            assert r.status == Status.INFEASIBLE, r.message
            return
        assert r.status == Status.OPTIMAL, r.message
        ok, found = oracle(data, [a.to_dict() for a in r.assignments])
        assert ok
        keys = data["objective"]["lexicographic"]
        assert tuple(float(found[k]) for k in keys) == pytest.approx(best, abs=1e-9)

    run()


# -- the model -----------------------------------------------------------------------------------


def model_accepts(problem: Problem, assignments: list[Assignment]) -> list[str]:
    """The rows of the MILP that the point of a plan (devices relabelled for the symmetry
    breaking, nodes for the class pruning) breaks, by name; [] when it is a feasible point.
    A variable the plan needs but the model pruned is a failure too."""
    import pyomo.environ as pyo

    model = build_model(problem)
    plan = model.canonical(model.placement_of(assignments))
    assert evaluate(problem, model.assignments(plan)).feasible
    values = model.values_of(plan, evaluate(problem, assignments).terms["balance"])
    for v, x in values:
        v.set_value(x, skip_validation=True)
    for v in model.m.component_data_objects(pyo.Var):
        if v.value is None:
            v.set_value(0, skip_validation=True)
    xs = {id(v) for v in model.x}
    placed = sum(x for v, x in values if id(v) in xs)
    broken = [] if placed == len(assignments) else ["a replica has no x variable"]
    for c in model.m.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(c.body)
        if (c.lower is not None and body < pyo.value(c.lower) - 1e-6) or (
            c.upper is not None and body > pyo.value(c.upper) + 1e-6
        ):
            broken.append(c.name)
    return broken


@pytest.mark.parametrize("seed", range(4))
def test_every_greedy_plan_is_a_point_of_the_model(seed):
    """The symmetry breaking (devices, interchangeable nodes) cuts no plan off: the greedy's
    plan of a generated problem with devices and zones, its devices and nodes relabelled, is a
    feasible point of the MILP; so is the same plan with its devices numbered backwards."""
    data = generate(tasks=25, nodes=6, seed=seed, devices=True, zones=True)
    p = problem_from_dict(data)
    r = greedy(p)
    assert r.status == Status.FEASIBLE
    assert model_accepts(p, r.assignments) == []
    backwards = []
    for a in r.assignments:
        node = p.nodes[p.node_index[a.node]]
        devs = {
            res: tuple(node.devices[res] - 1 - j for j in idx)
            for res, idx in (a.devices or {}).items()
        }
        backwards.append(dataclasses.replace(a, devices=devs or None))
    assert evaluate(p, backwards).feasible
    assert model_accepts(p, backwards) == []


def test_a_schedule_with_everything_is_a_point_of_the_model():
    """Devices over time, a same-start gang, a service and spread in one small schedule: the
    plan worked out by hand is a feasible point of the MILP."""
    p = make(
        [gpu_node("g1", 2, labels={"zone": "a"}), gpu_node("g2", 2, labels={"zone": "b"})],
        [
            gtask("svc", 0.5, service=True, replicas=2, spread={"key": "zone", "max_skew": 1}),
            gtask("t1", 1, duration=2, gang="g"),
            gtask("t2", 0.5, duration=1, gang="g"),
            gtask("w", 2, duration=1, after=["t1"], required=False),
        ],
        horizon=6,
        gangs={"g": {"same_start": True}},
        **lex("unplaced", "makespan"),
    )
    plan = [
        Assignment("svc", 0, "g1", 0, 6, {"gpu": (1,)}),
        Assignment("svc", 1, "g2", 0, 6, {"gpu": (0,)}),
        Assignment("t1", 0, "g1", 0, 2, {"gpu": (0,)}),
        Assignment("t2", 0, "g2", 0, 1, {"gpu": (0,)}),
    ]
    assert evaluate(p, plan).feasible  # w (2 whole devices) has no room beside the service
    assert model_accepts(p, plan) == []
    r = MIPS[0].solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["makespan"] == 2 and terms(p, r)["unplaced"] == 1


def _decode(problem: Problem, values: dict[str, float]) -> list[Assignment]:
    """Assignments (devices included) from an MPS solution, by the readable names
    x[task#k,node] and y[task#k,node,resource,device]; replicas taking whole devices have no
    y (they are counted): they get devices no share uses, as the engine does."""
    where: dict[tuple[str, int], str] = {}
    devices: dict[tuple[str, int], dict[str, list[int]]] = {}
    for name, v in values.items():
        if v < 0.5:
            continue
        if m := re.fullmatch(r"x\[(.+)#(\d+),(.+)\]", name):
            where[m[1], int(m[2])] = m[3]
        elif m := re.fullmatch(r"y\[(.+)#(\d+),(.+),(.+),(\d+)\]", name):
            devices.setdefault((m[1], int(m[2])), {}).setdefault(m[4], []).append(int(m[5]))
    taken = {(where[tk], r, j) for tk, per in devices.items() for r, js in per.items() for j in js}
    for (t, k), n in sorted(where.items()):
        use = problem.device_use(problem.task_index[t], problem.node_index[n]) or {}
        for r, (count, _) in use.items():
            if r not in devices.get((t, k), {}):
                k_n = problem.nodes[problem.node_index[n]].devices[r]
                free = [j for j in range(k_n) if (n, r, j) not in taken][:count]
                taken |= {(n, r, j) for j in free}
                devices.setdefault((t, k), {})[r] = free
    return [
        Assignment(t, k, n, devices={r: tuple(js) for r, js in devices.get((t, k), {}).items()})
        for (t, k), n in sorted(where.items())
    ]


@pytest.mark.parametrize("patterns", [True, False], ids=["patterns", "assignment"])
def test_export_with_devices_reimported_by_ortools_gives_the_same_optimum(patterns, monkeypatch):
    """Both device forms: counts of maximal patterns (the default here: 0.6 and 0.4 shares),
    and one binary per replica and device; the second is decoded to a plan by name."""
    from ortools.linear_solver.python import model_builder as mb

    if not patterns:
        monkeypatch.setattr(mip_model, "MAX_PATTERNS", 0)

    p = make(
        [gpu_node("g1", 4, labels={"zone": "a"}), gpu_node("g2", 4, labels={"zone": "b"})],
        [
            gtask("w", 2, priority=5, required=False),
            gtask("r", 1, replicas=2, spread={"key": "zone", "max_skew": 1}),
            *(gtask(f"s{i}", 0.6, required=False) for i in range(1, 6)),
            gtask("n", 0.4, required=False),
        ],
        **lex("unplaced", "nodes"),
    )
    best = MIPS[0].solve(p)
    assert best.status == Status.OPTIMAL
    fitness = evaluate(p, best.assignments).fitness
    exported = export_model(p, "mps")
    assert "spread_hi[r,a]" in exported.text
    assert ("z[g1,gpu,1x0.4+1x0.6]" in exported.text) == patterns
    assert ("y[s1#0,g1,gpu,0]" in exported.text) != patterns
    model = mb.Model()
    assert model.import_from_mps_string(exported.text)
    solver = mb.Solver("scip")
    assert solver.solve(model) == mb.SolveStatus.OPTIMAL
    assert solver.objective_value == pytest.approx(fitness)
    if patterns:
        return
    plan = _decode(p, {v.name: solver.value(v) for v in model.get_variables()})
    ev = evaluate(p, plan)
    assert ev.feasible, [v.message for v in ev.violations]
    assert ev.fitness == pytest.approx(fitness)


def test_maximal_patterns_of_mig_like_shares():
    """Quarters, halves and three quarters of a device: four maximal patterns; with one task
    of quarters only (cap 1), a quarter plus a half, or a quarter plus three quarters, or two
    halves. More patterns than the limit: None (the model keeps one binary per device)."""
    sizes = [0.25, 0.5, 0.75]
    four = [(4, 0, 0), (2, 1, 0), (1, 0, 1), (0, 2, 0)]
    assert maximal_patterns(sizes, [9, 9, 9], 1.0, 60) == four
    assert maximal_patterns(sizes, [1, 9, 9], 1.0, 60) == [(1, 1, 0), (1, 0, 1), (0, 2, 0)]
    assert extend((1, 0, 0), sizes, [9, 9, 9], 1.0) == (4, 0, 0)
    assert maximal_patterns([0.01 * i for i in range(1, 40)], [9] * 39, 1.0, 60) is None
    assert pack([(2, 1, 0), (0, 2, 0)], [(10, 1), (11, 1), (12, 0), (13, 1)]) == {
        10: 0,
        11: 1,
        12: 0,
        13: 1,
    }
    assert pack([(0, 2, 0)], [(10, 0)]) is None


def test_many_share_sizes_fall_back_to_one_binary_per_device(engine):
    """Sixteen shares of sixteen sizes (0.10, 0.12, ..., 0.40) on one node of 2 devices: more
    maximal patterns than the limit, so each share gets device binaries. The 10 smallest sum
    to 1.9 and split into 0.22 + 0.24 + 0.26 + 0.28 = 1.0 and the rest (0.9); 11 would need
    2.2 > 2: 6 unplaced."""
    shares = [round(0.1 + 0.02 * i, 2) for i in range(16)]
    p = make(
        [gpu_node("g", 2)],
        [gtask(f"s{i}", q, required=False) for i, q in enumerate(shares)],
        **lex("unplaced"),
    )
    model = build_model(p)
    assert not model.pat and model.y
    r = engine.solve(p)
    assert r.status == Status.OPTIMAL, r.message
    assert terms(p, r)["unplaced"] == 6


def test_replan_with_devices_and_max_moves_from_the_command_line(tmp_path):
    """Today a (0.5) and b (0.5) share device 0 of g1, c (1 whole device) is on g2. g1 fails:
    a and b must move, and only g2's free device can take them (together on it: 2 moves). With
    --max-moves 1 no plan exists (both are required); with 2 the plan checks, devices
    included."""
    import yaml

    import taskalloc
    from tests.helpers import cli, write_problem
    from tests.helpers import make as make_plan

    data = {
        "taskalloc": 1,
        "nodes": [gpu_node("g1", 2), gpu_node("g2", 2)],
        "tasks": [gtask("a", 0.5), gtask("b", 0.5), gtask("c", 1)],
    }
    problem = write_problem(tmp_path / "p.yaml", data)
    p = taskalloc.load(problem)
    today = [
        Assignment("a", 0, "g1", devices={"gpu": (0,)}),
        Assignment("b", 0, "g1", devices={"gpu": (0,)}),
        Assignment("c", 0, "g2", devices={"gpu": (1,)}),
    ]
    plan = tmp_path / "plan.yaml"
    taskalloc.write_plan(make_plan(p, today), plan)
    base = ["replan", str(problem), str(plan), "--fail", "g1", "-s", "mip", "-t", "20"]
    r = cli(*base, "--max-moves", "1")
    assert r.exit_code != 0 and "no plan exists" in r.stderr, r.stderr
    new, changed = tmp_path / "new.yaml", tmp_path / "changed.yaml"
    r = cli(*base, "--max-moves", "2", "-o", str(new), "--write-problem", str(changed))
    assert r.exit_code == 0, r.stderr
    assert cli("check", str(changed), str(new)).exit_code == 0
    got = {a["task"]: a for a in yaml.safe_load(new.read_text())["assignments"]}
    assert {a["node"] for a in got.values()} == {"g2"}
    assert got["a"]["devices"] == got["b"]["devices"] != got["c"]["devices"]
