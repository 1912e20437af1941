"""The GA's penalty search for assignment-shaped problems (``solvers/ga/assign.py``) and what the
GA does with it: optima on tiny tight GAPs (types d and e, the tight ones), every returned plan
checked by the evaluator (optional tasks, node costs, several resources, gangs), reproducible
deterministic runs, and never a plan worse than the greedy's.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.importers import read_gap
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import greedy
from taskalloc.solvers.ga import solve
from taskalloc.solvers.ga.assign import AssignSearch, construct, make_feasible
from taskalloc.solvers.ga.compiled import Compiled
from taskalloc.solvers.ga.decode import Rows
from taskalloc.solvers.ga.dense import Dense
from taskalloc.solvers.ga.engine import Engine


def gap_text(kind: str, agents: int, jobs: int, seed: int) -> str:
    """A GAP instance by the published generators (Chu & Beasley type d, Yagiura type e)."""
    rng = np.random.default_rng(seed)
    if kind == "d":
        w = rng.integers(1, 101, size=(agents, jobs))
        c = 111 - w + rng.integers(-10, 11, size=(agents, jobs))
    else:
        w = np.floor(1 - 10 * np.log(1.0 - rng.random((agents, jobs)))).astype(int)
        c = np.floor(1000 / w - 10 * rng.random((agents, jobs))).astype(int)
    b = np.floor(0.8 * w.sum(axis=1) / agents).astype(int)
    rows = [f"{agents} {jobs}", *(" ".join(map(str, r)) for r in c)]
    rows += [" ".join(map(str, r)) for r in w]
    rows.append(" ".join(map(str, b)))
    return "\n".join(rows)


def gap(kind: str, agents: int, jobs: int, seed: int) -> Problem:
    name = f"{kind}{agents}x{jobs}s{seed}"
    return problem_from_dict(read_gap(gap_text(kind, agents, jobs, seed), name))


def gap_optimum(p: Problem) -> float | None:
    """Brute force over every assignment (small instances only)."""
    m, n = len(p.nodes), len(p.tasks)
    cost = np.array([[t.assign_cost.get(i, 0.0) for i in range(m)] for t in p.tasks])
    use = np.array([[t.demand_on[i]["cap"] for i in range(m)] for t in p.tasks])
    cap = np.array([nd.capacity["cap"] for nd in p.nodes])
    best = math.inf
    for x in itertools.product(range(m), repeat=n):
        xa = np.array(x)
        load = np.bincount(xa, weights=use[np.arange(n), xa], minlength=m)
        if (load <= cap).all():
            best = min(best, float(cost[np.arange(n), xa].sum()))
    return None if best == math.inf else best


def search_for(p: Problem) -> AssignSearch:
    c = Compiled(p)
    rows = Rows(c)
    assert Dense.applies(c, rows)
    return AssignSearch(c, Dense(c, rows), c.weights)


# -- the search alone ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "seed"), [("d", 1), ("d", 2), ("e", 1), ("e", 2), ("e", 3)])
def test_search_reaches_the_optimum_of_tiny_tight_gaps(kind: str, seed: int) -> None:
    p = gap(kind, 3, 9, seed)
    opt = gap_optimum(p)
    if opt is None:
        pytest.skip("this draw has no feasible assignment")
    s = search_for(p)
    best, cost = s.search(construct(s), np.random.default_rng(0), 300)
    assert best is not None
    ev = evaluate(p, s.c.assignments(best), reasons=False)
    assert ev.feasible
    assert ev.terms["cost"] == pytest.approx(cost)
    assert cost == pytest.approx(opt)


def test_search_cost_and_loads_agree_with_the_evaluator() -> None:
    p = gap("e", 5, 40, 7)
    s = search_for(p)
    rng = np.random.default_rng(1)
    for _ in range(5):
        genes = rng.integers(0, 5, size=40)
        best, cost = s.search(genes, rng, 30)
        if best is None:
            continue
        ev = evaluate(p, s.c.assignments(best), reasons=False)
        assert ev.feasible
        assert ev.terms["cost"] == pytest.approx(cost)
        assert s.feasible(s.to_search(best))


def test_a_plan_the_search_starts_from_is_never_lost() -> None:
    """A feasible start is a candidate: the search returns it or something cheaper."""
    p = gap("d", 4, 20, 3)
    s = search_for(p)
    g = greedy.solve(p, policy="least-loaded")
    x, _ = s.c.from_assignments(g.assignments)
    if not s.feasible(s.to_search(x)):
        pytest.skip("the greedy plan is not feasible on this draw")
    best, cost = s.search(x, np.random.default_rng(0), 0)
    assert best is not None and cost == pytest.approx(s.cost(s.to_search(x)))


def test_construct_prices_capacity() -> None:
    """The Lagrangian start costs no more than the LP bound allows and uses priced capacity:
    on a tight instance it is cheaper than any feasible plan or close to it."""
    p = gap("e", 10, 100, 4)
    s = search_for(p)
    x = s.to_search(construct(s))
    assert s.prices is not None and (s.prices >= 0).all()
    best, cost = s.search(construct(s), np.random.default_rng(0), 50)
    assert best is not None
    assert s.cost(x) <= cost * 1.05
    # noisy starts differ and stay allowed
    y = s.to_search(construct(s, rng=np.random.default_rng(3), noise=0.3))
    assert np.isfinite(s.M[np.arange(s.T), y]).all()


def test_the_elite_holds_distinct_feasible_plans_cheapest_first() -> None:
    p = gap("e", 5, 40, 7)
    s = search_for(p)
    best, cost = s.search(construct(s), np.random.default_rng(2), 200)
    assert best is not None
    assert 2 <= len(s.elite) <= s.ELITE
    costs = [c for c, _ in s.elite]
    assert costs == sorted(costs)
    assert costs[0] == pytest.approx(cost)
    for c, y in s.elite:
        assert s.feasible(y)
        assert s.cost(y) == pytest.approx(c)
        ev = evaluate(p, s.c.assignments(s.to_genes(y)), reasons=False)
        assert ev.feasible and ev.terms["cost"] == pytest.approx(c)
    for (_, a), (_, b) in itertools.combinations(s.elite, 2):
        assert not np.array_equal(a, b)
    # a plan already there is not kept twice; one dearer than the whole full elite is not kept
    n = len(s.elite)
    s._offer(s.elite[0][0], s.elite[0][1].copy())
    assert len(s.elite) == n
    s.elite = s.elite[:1] * s.ELITE
    s._offer(s.elite[0][0] + 1.0, s.to_search(construct(s)))
    assert all(c == s.elite[0][0] for c, _ in s.elite)


def test_relinking_walks_part_of_the_way_towards_an_elite_plan() -> None:
    p = gap("d", 8, 60, 5)
    s = search_for(p)
    rng = np.random.default_rng(0)
    start = s.to_search(construct(s))
    guide = start.copy()
    movable = np.flatnonzero(s.dest[s.ar].sum(axis=1) > 1)[:24]
    guide[movable] = (start[movable] + 1 + rng.integers(0, s.N - 1, len(movable))) % s.N
    assert (guide != start).sum() == 24
    # only the plan itself in the elite: nothing to relink with
    s.elite = [(s.cost(start), start.copy())]
    x = start.copy()
    load, count = s.loads(x), np.bincount(x, minlength=s.N + 1)
    assert not s._relink(x, load, count, rng)
    assert np.array_equal(x, start)
    s.elite.append((s.cost(guide), guide))
    for seed in range(5):
        x = start.copy()
        load, count = s.loads(x), np.bincount(x, minlength=s.N + 1)
        assert s._relink(x, load, count, np.random.default_rng(seed))
        moved = np.flatnonzero(x != start)
        assert 24 // 4 <= len(moved) <= 3 * 24 // 4
        assert np.array_equal(x[moved], guide[moved])  # every step towards the guide
        np.testing.assert_allclose(load, s.loads(x))
        assert np.array_equal(count, np.bincount(x, minlength=s.N + 1))


def test_a_moved_task_waits_out_its_tenure() -> None:
    """While a search runs, a task that left a node is forbidden from shifting back for
    ``TENURE`` iterations; with ``TENURE = 0`` there is no tabu list (and the search still
    returns checked plans)."""
    p = gap("e", 5, 40, 7)
    s = search_for(p)
    seen: list[int | None] = []
    forbid = s._forbid

    def spy(t: int, n: int) -> None:
        forbid(t, n)
        seen.append(None if s.tabu is None else int(s.tabu[t, n]) - s.it)

    s._forbid = spy  # type: ignore[method-assign]
    best, _ = s.search(construct(s), np.random.default_rng(1), 30)
    assert best is not None and seen
    assert all(left == s.TENURE for left in seen)
    assert s.tabu is None  # (only while a search runs)
    s.TENURE = 0
    seen.clear()
    best, cost = s.search(construct(s), np.random.default_rng(1), 30)
    assert best is not None and seen and all(left is None for left in seen)
    ev = evaluate(p, s.c.assignments(best), reasons=False)
    assert ev.feasible and ev.terms["cost"] == pytest.approx(cost)


def _cycle_state(cycle: int) -> tuple[AssignSearch, np.ndarray, np.ndarray, np.ndarray]:
    """Three agents holding one job each (capacity 1, every use 1); job i costs 10 on agent i,
    0 on agent i + 1 and 100 on agent i + 2 (mod 3): from jobs on their own agents no shift
    keeps the capacities, no swap and no ejection improves, only the cycle (each job one agent
    on) does, to cost 0."""
    text = "3 3\n10 100 0\n0 10 100\n100 0 10\n1 1 1\n1 1 1\n1 1 1\n1 1 1\n"
    s = search_for(problem_from_dict(read_gap(text, "cycle3")))
    s.CYCLE = cycle
    s.alpha[:3] = 1e4  # overloads cost more than any cost gain
    x = np.array([0, 1, 2])
    s._offer(s.cost(x), x)  # a feasible plan is known: cycles may run (CYCLE_GATE)
    load = s.loads(x)
    count = np.bincount(x, minlength=s.N + 1)
    return s, x, load, count


def test_a_cyclic_exchange_over_three_agents_is_found_where_pairs_are_optimal() -> None:
    s, x, load, count = _cycle_state(0)
    col = s._col(load, count, np.arange(s.N + 1))
    assert s._pair_move(x, load, count, col, np.random.default_rng(0)) is None
    assert x.tolist() == [0, 1, 2]
    s, x, load, count = _cycle_state(8)
    s.tabu = np.zeros((s.T, s.N + 1), dtype=np.int64)
    col = s._col(load, count, np.arange(s.N + 1))
    changed = s._pair_move(x, load, count, col, np.random.default_rng(0))
    assert changed is not None and sorted(changed) == [0, 1, 2]
    assert x.tolist() == [1, 2, 0] and s.cost(x) == 0
    assert np.allclose(load, s.loads(x)) and s.feasible(x)
    assert all(s.tabu[t, n] > 0 for t, n in enumerate([0, 1, 2]))  # none may shift back
    s.tabu = None


def test_no_cycle_is_tried_before_a_feasible_plan_is_known() -> None:
    s, x, load, count = _cycle_state(8)
    s.elite = []
    col = s._col(load, count, np.arange(s.N + 1))
    assert s._pair_move(x, load, count, col, np.random.default_rng(0)) is None
    assert x.tolist() == [0, 1, 2]
    s.CYCLE_GATE = False
    assert s._pair_move(x, load, count, col, np.random.default_rng(0)) is not None
    assert x.tolist() == [1, 2, 0]


# -- the feasibility repair of the start ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "agents", "jobs", "seed"),
    [("d", 10, 60, 1), ("e", 10, 60, 2), ("d", 20, 200, 1), ("e", 20, 200, 2), ("e", 40, 400, 3)],
)
def test_the_repair_makes_the_lagrangian_start_feasible(
    kind: str, agents: int, jobs: int, seed: int
) -> None:
    """On tight instances the Lagrangian start is over capacity; the repair returns a plan
    the evaluator accepts, at the cost it reports, without changing its input."""
    p = gap(kind, agents, jobs, seed)
    s = search_for(p)
    start = construct(s)
    kept = start.copy()
    assert not s.feasible(s.to_search(start))  # the repair has work to do
    fixed = make_feasible(s, start)
    assert fixed is not None
    assert np.array_equal(start, kept)
    assert s.feasible(s.to_search(fixed))
    ev = evaluate(p, s.c.assignments(fixed), reasons=False)
    assert ev.feasible
    assert ev.terms["cost"] == pytest.approx(s.cost(s.to_search(fixed)))
    # a feasible plan is returned as it is
    again = make_feasible(s, fixed)
    assert again is not None and np.array_equal(again, fixed)


def test_the_repair_swaps_where_no_move_removes_overload() -> None:
    """Agent 0 holds uses 7 and 5 (capacity 10), agent 1 uses 3 and 4: moving either task off
    agent 0 overloads agent 1 at least as much; swapping the 5 with the 3 fits both."""
    text = "2 4\n1 1 1 1\n1 1 1 1\n7 5 3 4\n7 5 3 4\n10 10\n"
    p = problem_from_dict(read_gap(text, "swap"))
    s = search_for(p)
    genes = np.array([0, 0, 1, 1])
    assert make_feasible(s, genes, rounds=0) is None  # no round: still over capacity
    fixed = make_feasible(s, genes)
    assert fixed is not None
    assert fixed.tolist() == [0, 1, 0, 1]
    assert evaluate(p, s.c.assignments(fixed), reasons=False).feasible


def test_the_repair_gives_up_where_nothing_fits() -> None:
    text = "2 3\n1 1 1\n1 1 1\n6 6 6\n6 6 6\n10 10\n"  # three 6s, two bins of 10
    p = problem_from_dict(read_gap(text, "full"))
    s = search_for(p)
    assert make_feasible(s, np.array([0, 0, 1])) is None


def test_the_ga_has_a_feasible_plan_before_any_search() -> None:
    """On tight instances whose Lagrangian start is over capacity, the GA holds a feasible
    plan (the start repaired) before any search, and a run with next to no time (a
    deterministic limit far below one local optimum) returns it, not the greedy's far worse
    plan."""
    for kind, agents, jobs, seed in [("d", 20, 200, 1), ("e", 20, 200, 2)]:
        p = gap(kind, agents, jobs, seed)
        eng = Engine(p, 0)
        assert eng.assign is not None and eng.rescue is None
        first = eng.lagrangian_seed()[0]
        assert not eng.assign.feasible(eng.assign.to_search(first))
        assert eng.rescue is not None
        assert eng.assign.feasible(eng.assign.to_search(eng.rescue))
        assert evaluate(p, eng.assignments(eng.rescue), reasons=False).feasible
        r = solve(p, time_limit=0.001, seed=0, deterministic=True)
        assert r.status == Status.FEASIBLE
        assert "greedy" not in r.message
        ev = evaluate(p, r.assignments, reasons=False)
        plain = evaluate(p, greedy.solve(p).assignments, reasons=False)
        assert ev.feasible and plain.feasible
        assert ev.terms["cost"] < plain.terms["cost"]


# -- the GA on assignment-shaped problems -------------------------------------------------------


@pytest.mark.parametrize(("kind", "seed"), [("d", 4), ("e", 4), ("e", 5)])
def test_ga_reaches_the_optimum_of_tiny_tight_gaps(kind: str, seed: int) -> None:
    p = gap(kind, 3, 9, seed)
    opt = gap_optimum(p)
    if opt is None:
        pytest.skip("this draw has no feasible assignment")
    r = solve(p, generations=15, seed=0)
    assert r.status == Status.FEASIBLE
    ev = evaluate(p, r.assignments, reasons=False)
    assert ev.feasible and ev.terms["cost"] == pytest.approx(opt)


def _mixed(seed: int) -> Problem:
    """Placement with optional tasks, node costs, three resources and gangs (no replicas, no
    separation: the penalty search applies)."""
    return problem_from_dict(_mixed_data(seed))


def _mixed_data(seed: int) -> dict[str, Any]:
    data = generate(40, 8, seed=seed, resources=3)
    rnd = np.random.default_rng(seed)
    for t in data["tasks"]:
        t.pop("replicas", None)
        t.pop("separate_from", None)
        t.pop("spread", None)
        if rnd.random() < 0.3:
            t["required"] = False
    gang = [t for t in data["tasks"] if t.get("required") is False][:3]
    for t in gang:
        t["gang"] = "g1"
    data["objective"] = {"lexicographic": ["unplaced", "cost"]}
    return data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ga_plans_are_feasible_with_optional_tasks_node_costs_and_gangs(seed: int) -> None:
    p = _mixed(seed)
    eng = Engine(p, 0)
    if eng.assign is None:
        pytest.skip("the penalty search does not apply to this draw")
    r = solve(p, generations=8, seed=seed)
    assert r.status == Status.FEASIBLE
    ev = evaluate(p, r.assignments, reasons=False)
    assert ev.feasible
    best_greedy = min(
        evaluate(p, greedy.solve(p, policy=pol).assignments, reasons=False).fitness
        for pol in greedy.POLICIES
    )
    assert ev.fitness <= best_greedy + 1e-9


def test_the_repair_keeps_optional_tasks_node_costs_gangs_and_resources() -> None:
    """Three resources, optional tasks, node costs and a gang, squeezed onto half the
    capacity: where the repair succeeds (it may give up: the search then runs as before), its
    plan is checked by the evaluator, and a gang's members left the plan together or not at
    all (the repair moves them between nodes only)."""
    repaired = 0
    for seed in range(4):
        data = _mixed_data(seed)
        for node in data["nodes"]:
            node["capacity"] = {r: v / 2 for r, v in node["capacity"].items()}
        p = problem_from_dict(data)
        eng = Engine(p, 0)
        assert eng.assign is not None
        start = eng.assign.to_search(eng.lagrangian_seed()[0])
        assert not eng.assign.feasible(start)
        if eng.rescue is None:
            continue
        repaired += 1
        x = eng.assign.to_search(eng.rescue)
        assert eng.assign.feasible(x)
        assert evaluate(p, eng.assignments(eng.rescue), reasons=False).feasible
        gang = np.flatnonzero(eng.c.gang_of >= 0)
        assert np.array_equal(x[gang] == eng.assign.N, start[gang] == eng.assign.N)
    assert repaired >= 2


def test_deterministic_runs_repeat_under_a_time_limit() -> None:
    p = gap("d", 5, 60, 2)
    a = solve(p, time_limit=0.6, seed=4, deterministic=True)
    b = solve(p, time_limit=0.6, seed=4, deterministic=True)
    assert a.status == b.status == Status.FEASIBLE
    assert a.assignments == b.assignments
    assert a.options["workers"] == 1


@pytest.mark.parametrize("limit", [0.001, 0.5])
def test_never_worse_than_the_greedy_at_tiny_limits(limit: float) -> None:
    """Deterministic runs (the greedy seeding is not timed there): never worse than any
    policy's plan, whatever the limit. Wall-clock runs whose limit leaves the greedy time to
    finish (0.5 s; it takes milliseconds here): never worse than -s greedy's plan."""
    for seed in range(3):
        p = problem_from_dict(generate(60, 10, seed=seed, resources=2))
        default = evaluate(p, greedy.solve(p).assignments, reasons=False)
        each = [
            evaluate(p, greedy.solve(p, policy=pol).assignments, reasons=False)
            for pol in greedy.POLICIES
        ]
        if limit >= 0.5:
            r = solve(p, time_limit=limit, seed=seed)
            ev = evaluate(p, r.assignments, reasons=False)
            assert ev.feasible
            if default.feasible:
                assert ev.fitness <= default.fitness + 1e-9
        r = solve(p, time_limit=limit, seed=seed, deterministic=True)
        ev = evaluate(p, r.assignments, reasons=False)
        assert ev.feasible
        assert ev.fitness <= min(e.fitness for e in each if e.feasible) + 1e-9


def test_the_first_population_gets_a_share_of_the_limit() -> None:
    """The penalty search's first population (beyond the Lagrangian seed) stops at
    ``FIRST_SHARE`` of the limit left: in work units when deterministic."""
    from taskalloc.solvers.ga.runtime import UNITS_PER_SECOND, Clock, Settings
    from taskalloc.solvers.ga.single import FIRST_SHARE, _share_out

    done = [2.0 * UNITS_PER_SECOND]  # 2 of 10 work-seconds already spent
    clock = Clock(Settings(time_limit=10.0, deterministic=True))
    clock.count(lambda: done[0])
    out = _share_out(clock, FIRST_SHARE)
    end = 2.0 + FIRST_SHARE * 8.0
    done[0] = (end - 0.01) * UNITS_PER_SECOND
    assert not out() and not clock.out()
    done[0] = (end + 0.01) * UNITS_PER_SECOND
    assert out() and not clock.out()
    unlimited = Clock(Settings(time_limit=math.inf))
    assert _share_out(unlimited, FIRST_SHARE) == unlimited.out


def test_the_penalty_search_is_seeded_by_the_greedys_own_policy_only() -> None:
    p = gap("d", 5, 40, 3)
    eng = Engine(p, 0)
    assert eng.assign is not None
    assert len(eng.greedy_seeds(None, None, policies=1)) == 1
    assert eng.greedy_best is not None and eng.greedy_best[0][0] == 0
    assert len(eng.greedy_seeds(None, None)) == len(greedy.POLICIES)
    r = solve(p, time_limit=0.5, seed=1, deterministic=True)
    assert r.status == Status.FEASIBLE
    assert evaluate(p, r.assignments, reasons=False).feasible
