"""Every behaviour on every engine: one parametrised ``engine`` fixture
(:data:`tests.solving.ENGINES`: CP-SAT, and the MILP on SCIP, HiGHS and CP-SAT's MILP import)
runs each constraint family and objective term on instances whose optimum is known by hand,
and a property test compares each engine's optimum with brute-force enumeration on tiny
random problems.

Every plan with status optimal/feasible passes the evaluator (:meth:`Engine.solve`). What is
particular to one engine (scaling, model structure, options, interrupts) is tested in that
engine's own file (test_cpsat.py, test_mip.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from taskalloc.problems.plan import Status
from taskalloc.solvers.mip import MipRefused
from taskalloc.solvers.result import Result
from tests.solving import (
    ENGINES,
    Engine,
    assert_matches_brute_force,
    lex,
    make,
    node,
    sched_nodes,
    sched_tasks,
    task,
    terms,
    times,
    tiny_problems,
    where,
)


@pytest.fixture(params=ENGINES, ids=[e.id for e in ENGINES])
def engine(request: pytest.FixtureRequest) -> Engine:
    e: Engine = request.param
    return e


def optimal(engine: Engine, r: Result) -> None:
    """Exact engines prove the optimum; the GA must reach it (status feasible, no proof)."""
    assert r.status == (Status.OPTIMAL if engine.exact else Status.FEASIBLE), r.message


def bound_is(engine: Engine, r: Result, expected: dict[str, float]) -> None:
    if engine.exact:  # the GA proves nothing: no bound
        assert r.bound == pytest.approx(expected)


def message_starts(engine: Engine, r: Result, text: str) -> None:
    if engine.exact:
        assert (r.message or "").startswith(text)


def infeasible(engine: Engine, r: Result, structural: bool = False) -> None:
    """Exact engines prove infeasibility; the GA, unless the pre-checks do, finds no plan."""
    if engine.exact or structural:
        assert r.status == Status.INFEASIBLE, r.message
        if not structural:
            assert "proved that no plan exists" in (r.message or "")
    else:
        assert r.status == Status.UNKNOWN, r.message


# -- placement -----------------------------------------------------------------------------------


def test_capacity(engine: Engine) -> None:
    p = make(
        [node("a", 10)],
        [
            task("t1", 6, priority=3, required=False),
            task("t2", 5, required=False),
            task("t3", 5, required=False),
        ],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) == {"t1": ["a"]}  # 6 + 5 > 10: placing t1 alone loses 2 < 3 priority
    bound_is(engine, r, {"unplaced": 2.0, "cost": 0.0})
    message_starts(engine, r, "lexicographic: unplaced optimal, cost optimal")


def test_capacity_every_resource(engine: Engine) -> None:
    p = make(
        [
            {"id": "cpu-only", "capacity": {"cpu": 100, "memory": 100}},
            {"id": "gpu", "capacity": {"cpu": 2, "memory": 100, "gpu": 1}},
        ],
        [
            {"id": "needs-gpu", "demand": {"cpu": 1, "gpu": 1}},
            {"id": "too-big", "demand": {"cpu": 3, "gpu": 1}, "required": False},
            {"id": "second-gpu", "demand": {"gpu": 1}, "required": False},
        ],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) == {"needs-gpu": ["gpu"]}


def test_replicas_on_distinct_nodes_all_or_none(engine: Engine) -> None:
    p = make(
        [node("a"), node("b"), node("c")],
        [task("svc", 1, replicas=3), task("big", 1, replicas=4, required=False, priority=9)],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) == {"svc": ["a", "b", "c"]}
    assert sorted(a.replica for a in r.assignments) == [0, 1, 2]
    assert terms(p, r)["unplaced"] == 36


def test_separation(engine: Engine) -> None:
    nodes = [node("a", cost=1), node("b", cost=1)]
    together = make(nodes, [task("x"), task("y")], **lex("nodes"))
    r = engine.solve(together)
    optimal(engine, r)
    assert terms(together, r)["nodes"] == 1
    apart = make(nodes, [task("x"), task("y", separate_from=["x"])], **lex("nodes"))
    r = engine.solve(apart)
    optimal(engine, r)
    assert terms(apart, r)["nodes"] == 2
    assert where(r)["x"] != where(r)["y"]
    # three mutually separated tasks need three nodes
    p = make(
        [node(f"n{i}", 10, cost=1) for i in range(3)],
        [task("e1"), task("e2", separate_from=["e1"]), task("e3", separate_from=["e1", "e2"])],
        **lex("nodes"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["nodes"] == 3


def test_gang_all_or_none_with_optional_tasks(engine: Engine) -> None:
    p = make(
        [node("a", 10), node("b", 6)],
        [
            task("g1", 6, gang="g", required=False, priority=5),
            task("g2", 6, gang="g", required=False, priority=5),
            task("solo", 5, required=False, priority=4),
        ],
    )
    # g1 + solo would lose only 5, but a gang is placed whole: both members (10 left out) or
    # none; placing the gang on a and b leaves no room for solo (4 lost)
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["unplaced"] == 4
    assert sorted(where(r)) == ["g1", "g2"]
    p = make(
        [node("a", 10)],
        [
            task("g1", 6, gang="g", required=False, priority=5),
            task("g2", 6, gang="g", required=False, priority=5),
            task("solo", 3, required=False),
        ],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) == {"solo": ["a"]}  # the gang cannot fit whole: left out whole


def test_match_nodes_demand_on_and_costs(engine: Engine) -> None:
    p = make(
        [
            node("east", labels={"zone": "east"}, cost=5),
            node("west", labels={"zone": "west"}, cost=1),
            node("pool", count=2, labels={"zone": "west"}, cost=1),
        ],
        [
            task("e", match={"zone": "east"}),
            task("w", nodes=["pool"]),
            task("any"),
        ],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r)["e"] == ["east"]
    assert where(r)["w"][0].startswith("pool-")
    assert terms(p, r)["cost"] == 6  # "any" joins a paid node
    p = make([node("big", 4), node("small", 4)], [task("t", 6, demand_on={"small": {"cpu": 2}})])
    assert where(engine.solve(p)) == {"t": ["small"]}
    p = make([node("a"), node("b")], [task("t", assign_cost={"a": 3, "b": 1})])
    r = engine.solve(p)
    assert where(r) == {"t": ["b"]}
    bound_is(engine, r, {"unplaced": 0.0, "cost": 1.0})


def test_node_cost(engine: Engine) -> None:
    p = make(
        [node("a", cost=5), node("b", cost=2), node("c", cost=2)],
        [task("t1", 6), task("t2", 6)],
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) in ({"t1": ["b"], "t2": ["c"]}, {"t1": ["c"], "t2": ["b"]})
    assert terms(p, r)["cost"] == 4


def test_nodes_term_with_identical_pool_members(engine: Engine) -> None:
    p = make(
        [node("n", 10, count=4)],
        [task(f"t{i}", c) for i, c in enumerate([3, 3, 3, 5, 5, 1])],
        **lex("nodes"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["nodes"] == 2
    bound_is(engine, r, {"nodes": 2.0})


def test_balance_is_exact(engine: Engine) -> None:
    if not engine.balance:
        with pytest.raises(MipRefused, match="continuous"):
            engine.solve(make([node("a")], [task("x")], **lex("balance")))
        return
    p = make(
        [node("a", 3), node("b", 3)],
        [task("x", 1), task("y", 1), task("z", 2)],
        **lex("balance"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["balance"] == pytest.approx(2 / 3)
    # x on a: 2/3; on c: 20001/30000 = 0.6667 > 2/3, in the same 1/10000 step; c is cheaper,
    # so a grid-only balance would pick c. Exact lexicographic balance must pick a. (The GA
    # minimises the scalar fitness, which orders a balance-first objective only up to such
    # fractions: README, "Fitness".)
    p = make(
        [node("a", 3, cost=5), node("c", 30000, cost=1)],
        [task("x", 2, demand_on={"c": {"cpu": 20001}})],
        **lex("balance", "cost"),
    )
    r = engine.solve(p)
    if engine.exact:
        optimal(engine, r)
        assert where(r) == {"x": ["a"]}
    bound_is(engine, r, {"balance": 2 / 3, "cost": 5.0})
    # weighted: exact on the MILP; on CP-SAT's grid (documented)
    p = make(
        [node("a", 3), node("b", 3)],
        [task("x", 1), task("y", 1), task("z", 2)],
        objective={"weights": {"balance": 1}},
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["balance"] == pytest.approx(2 / 3)
    grid = engine.balance_grid or 1e-9
    if engine.exact:
        assert r.bound is not None and r.bound["weighted"] == pytest.approx(2 / 3, abs=2 * grid)


def test_moves(engine: Engine) -> None:
    p = make(
        [node("a"), node("b")],
        [task("t1", 6, current="a"), task("t2", 6, current="a"), task("new", 3)],
        **lex("unplaced", "moves"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["moves"] == 1  # one of t1, t2 must leave a; `new` counts no move
    bound_is(engine, r, {"unplaced": 0.0, "moves": 1.0})


def test_weighted_and_lexicographic_give_different_optima(engine: Engine) -> None:
    nodes = [node("a", cost=10), node("b", cost=1)]
    tasks = [task("opt", 5, required=False, priority=3, nodes=["a"]), task("req", 1, nodes=["b"])]
    r = engine.solve(make(nodes, tasks, **lex("unplaced", "cost")))
    optimal(engine, r)
    assert where(r) == {"opt": ["a"], "req": ["b"]}  # unplaced first: 0, cost 11
    p = make(nodes, tasks, objective={"weights": {"unplaced": 1, "cost": 1}})
    r = engine.solve(p)
    optimal(engine, r)
    assert where(r) == {"req": ["b"]}  # 3 + 1 < 0 + 11
    bound_is(engine, r, {**(r.bound or {}), "weighted": 4.0})
    message_starts(engine, r, "weights: optimal (4)")


def test_decimals(engine: Engine) -> None:
    p = make(
        [node("a", 1.0)],
        [task(f"t{c}", c, required=False) for c in (0.1, 0.2, 0.3, 0.4, 0.05)],
        **lex("unplaced"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["unplaced"] == 1  # all five need 1.05 > 1.0; any four fit
    p = make(
        [node("a", cost=0.3), node("b", cost=0.25)],
        [task("t", 6, priority=0.5), task("u", 6, priority=1.25, required=False)],
        objective={"weights": {"unplaced": 1, "cost": 1}},
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert sorted(where(r)) == ["t", "u"]  # placing u costs at most 0.3 < 1.25
    assert terms(p, r)["cost"] == pytest.approx(0.55)
    # 0.5000001 + 0.5 overflows 1.0 by 1e-7, inside a solver's default tolerance: never placed
    # (CP-SAT would need a scale of 10^7: it rounds demands up, and then claims no optimality)
    p = make([node("a", 1.0)], [task("t", 0.5000001), task("u", 0.5, required=False)])
    r = engine.solve(p)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert r.status == Status.OPTIMAL or "rounded" in (r.message or "") or not engine.exact
    assert where(r) == {"t": ["a"]}


def test_infeasible(engine: Engine) -> None:
    r = engine.solve(make([node("a", 10)], [task("t1", 6), task("t2", 6)]))
    infeasible(engine, r)
    r = engine.solve(make([node("a"), node("b")], [task("svc", 1, replicas=3)]))
    infeasible(engine, r, structural=True)
    assert "structural" in (r.message or "")


# -- scheduling ----------------------------------------------------------------------------------


def test_makespan_precedence_release_deadline_speed_duration_on(engine: Engine) -> None:
    p = make(sched_nodes(), sched_tasks(), horizon=10)
    r = engine.solve(p)
    optimal(engine, r)
    assert times(r) == {"A": ("fast", 0, 2), "B": ("fast", 2, 4), "C": ("slow", 1, 3)}
    bound_is(engine, r, {"unplaced": 0.0, "makespan": 4.0})
    p = make(sched_nodes(), sched_tasks())  # no horizon: the safe one
    r = engine.solve(p)
    optimal(engine, r)
    assert terms(p, r)["makespan"] == 4


def test_capacity_over_time_and_horizon(engine: Engine) -> None:
    # each fits alone before the horizon, but they cannot overlap and there is no time to run
    # them one after the other
    p = make([node("a", 10)], [task("x", 6, duration=3), task("y", 6, duration=3)], horizon=5)
    infeasible(engine, engine.solve(p))
    p = make([node("a", 10)], [task("x", 6, duration=3), task("y", 6, duration=3)], horizon=6)
    r = engine.solve(p)
    optimal(engine, r)
    assert sorted(s for _, s, _ in times(r).values()) == [0, 3]
    p = make(sched_nodes(), [*sched_tasks()[:2], task("D", 6, duration=3)], horizon=3)
    infeasible(engine, engine.solve(p), structural=True)  # the chain A -> B outlasts it


def test_tardiness_and_zero_durations(engine: Engine) -> None:
    p = make(
        [node("a", 10)],
        [task("x", 6, duration=3, due=3), task("y", 6, duration=2, due=2, priority=5)],
        **lex("tardiness"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert times(r) == {"y": ("a", 0, 2), "x": ("a", 2, 5)}
    assert terms(p, r)["tardiness"] == 2
    # zero-duration tasks occupy nothing
    p = make(
        [node("a", 10)],
        [task("marker", 20), task("job", 6, duration=2, after=["marker"])],
        **lex("makespan"),
    )
    r = engine.solve(p)
    optimal(engine, r)
    assert times(r) == {"marker": ("a", 0, 0), "job": ("a", 0, 2)}


def test_balance_in_scheduling_is_the_peak(engine: Engine) -> None:
    if not engine.balance or not engine.sched_balance:
        pytest.skip(f"{engine.id} does not optimise the peak load of a schedule")
    for horizon, balance, makespan in ((10, 0.6, 8), (6, 0.8, 4)):
        p = make(
            [node("a", 10)],
            [task("x", 6, duration=2), task("y", 6, duration=2), task("z", 2, duration=4)],
            horizon=horizon,
            **lex("balance", "makespan"),
        )
        r = engine.solve(p)
        optimal(engine, r)
        # horizon 10: nothing overlaps; horizon 6: z must overlap x or y
        assert terms(p, r)["balance"] == pytest.approx(balance)
        assert terms(p, r)["makespan"] == makespan
        bound_is(engine, r, {"balance": balance, "makespan": float(makespan)})


# -- property: optimum == brute force ------------------------------------------------------------

_PROPERTY = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_placement_optimum_equals_brute_force(engine: Engine) -> None:
    if not engine.examples:
        pytest.skip(f"{engine.id}: brute-force property tests in its own file")

    @settings(_PROPERTY, max_examples=engine.examples)
    @given(tiny_problems(scheduling=False))
    def prop(data: dict[str, Any]) -> None:
        assert_matches_brute_force(data, engine)

    prop()


def test_scheduling_optimum_equals_brute_force(engine: Engine) -> None:
    if not engine.sched_examples:
        pytest.skip(f"{engine.id}: brute-force property tests in its own file")

    @settings(_PROPERTY, max_examples=engine.sched_examples)
    @given(tiny_problems(scheduling=True))
    def prop(data: dict[str, Any]) -> None:
        assert_matches_brute_force(data, engine)

    prop()
