"""The LNS at scale (solvers/cpsat/lns/scale.py): which problems it takes (by size, with the
threshold lowered), that it starts from the greedy's plan and only improves it, that every plan
it returns passes ``check``, that it keeps the plan on a stop and is reproducible when
deterministic. No timings."""

from __future__ import annotations

import importlib
import threading

import pytest

from taskalloc import solvers
from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import check, evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import Problem
from taskalloc.solvers import baseline
from taskalloc.solvers.cpsat.lns.route import route
from taskalloc.solvers.result import checked_plan

#: the module (``lns`` exports the function ``route`` under the same name)
route_module = importlib.import_module("taskalloc.solvers.cpsat.lns.route")


def _problem(tasks: int = 400, nodes: int = 40, seed: int = 1, **flags: bool) -> Problem:
    return problem_from_dict(generate(tasks, nodes, seed=seed, **flags))


@pytest.fixture
def small_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every placement problem counts as huge."""
    monkeypatch.setattr(route_module, "SCALE_PAIRS", 100)


def test_route_sends_only_huge_placement_problems_with_linear_objectives_to_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    placement = _problem(60, 10)
    assert route(placement, None) != "scale"  # the default threshold: 50 million pairs
    monkeypatch.setattr(route_module, "SCALE_PAIRS", 100)
    assert route(placement, None) == "scale"
    assert route(placement, True) == "scale"
    assert route(placement, False) is None  # lns=False: the exact path, whatever the size
    assert route(_problem(60, 10, scheduling=True), None) is None
    data = generate(60, 10, seed=1)
    data["objective"] = {"lexicographic": ["unplaced", "balance"]}
    assert route(problem_from_dict(data), None) is None  # balance is not linear


def test_auto_takes_the_scale_lns_by_size_and_beats_the_greedy(small_scale: None) -> None:
    problem = _problem()
    # 1 deterministic second (0.9 s here), not 6 s of wall-clock: the fleet-wide moves that
    # beat the greedy come first
    result = solvers.solve(problem, "auto", time_limit=1, seed=0, deterministic=True)
    assert result.options["search"] == "lns at scale"
    assert result.options["warm_start"] == "greedy least-loaded"
    plan, ev = checked_plan(problem, result)
    assert ev.feasible and check(problem, plan).ok
    greedy = evaluate(problem, baseline.greedy_plan(problem).result.assignments, reasons=False)
    # generated problems have node costs and the greedy spreads over every node: the
    # fleet-wide moves alone empty some
    assert baseline.compare(problem, ev, greedy) < 0
    assert result.options["lns"]["quick"]["improved"]["close"] > 0
    assert result.options.get("baseline") == "least-loaded"  # checked here, not evaluated again
    assert "no LP bound" in (result.message or "")
    assert set(result.options["stage_seconds"]) == {"greedy", "prepare", "search", "check"}


def test_it_is_not_taken_below_the_threshold() -> None:
    problem = _problem(60, 10)
    result = solvers.solve(problem, "auto", time_limit=3, seed=0)
    assert result.options.get("search") != "lns at scale"


def test_deterministic_runs_give_the_same_plan(small_scale: None) -> None:
    problem = _problem(200, 20, seed=4)
    runs = [
        solvers.solve(problem, "cpsat", time_limit=2, seed=3, deterministic=True) for _ in range(2)
    ]
    assert runs[0].options["search"] == "lns at scale"
    assert runs[0].assignments == runs[1].assignments
    assert checked_plan(problem, runs[0])[1].feasible


def test_a_stop_before_the_search_keeps_the_greedy_plan(small_scale: None) -> None:
    problem = _problem(200, 20, seed=2)
    stop = threading.Event()
    stop.set()
    result = solvers.solve(problem, "cpsat", time_limit=10, seed=0, stop=stop)
    assert result.has_plan
    _, ev = checked_plan(problem, result)
    assert ev.feasible
    greedy = evaluate(problem, baseline.greedy_plan(problem).result.assignments, reasons=False)
    assert baseline.compare(problem, ev, greedy) <= 0


def test_with_no_time_left_after_the_greedy_its_plan_is_the_result(small_scale: None) -> None:
    problem = _problem(400, 40, seed=7)
    result = solvers.solve(problem, "cpsat", time_limit=1e-4, seed=0)
    assert "the greedy's plan" in (result.message or "")
    if result.has_plan:
        assert checked_plan(problem, result)[1].feasible


def test_a_better_hint_is_the_start(small_scale: None) -> None:
    problem = _problem(200, 20, seed=5)
    # deterministic limits (0.6 s in all, was 5 s of wall-clock): the same runs every time, and
    # the second alone, without the hint, ends worse than the first
    first = solvers.solve(problem, "cpsat", time_limit=1, seed=0, deterministic=True)
    again = solvers.solve(
        problem, "cpsat", time_limit=0.5, seed=1, hint=first.assignments, deterministic=True
    )
    assert again.options["warm_start"] == "hint"
    ev_first = evaluate(problem, first.assignments, reasons=False)
    ev_again = checked_plan(problem, again)[1]
    assert baseline.compare(problem, ev_again, ev_first) <= 0


def test_flat_scales_demand_on_and_assign_costs_as_each_value_alone() -> None:
    """Flat scales each distinct number once (pools expand to millions of entries at 150k):
    the result is the same as scaling each entry."""
    from taskalloc.solvers.flat import Flat
    from taskalloc.solvers.scaling import choose_scales

    problem = _problem(300, 30, seed=1)
    assert any(t.demand_on for t in problem.tasks) and any(t.assign_cost for t in problem.tasks)
    scales = choose_scales(problem)
    flat = Flat(problem, scales)
    for t in problem.tasks:
        for n, d in t.demand_on.items():
            want = [scales.demand(r, d.get(r, 0.0)) for r in problem.resources]
            assert flat.demand(t.index, n).tolist() == want
        for n, c in t.assign_cost.items():
            assert flat.cost(t.index, n) == scales.cost_of(c)


def test_a_greedy_stopped_on_request_is_not_kept() -> None:
    problem = _problem(200, 20, seed=6)
    stop = threading.Event()
    stop.set()
    cut = baseline.greedy_plan(problem, "first-fit", stop=stop)
    assert not cut.complete
    assert baseline.known(problem, "first-fit") is None
    whole = baseline.greedy_plan(problem, "first-fit")
    assert whole.complete and baseline.known(problem, "first-fit") is whole


def test_its_message_counts_one_sub_solve_and_one_improvement_in_the_singular(
    small_scale: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskalloc.solvers.cpsat.lns import scale

    def one_step(search: scale.ScaleSearch) -> None:
        search.steps, search.improvements = 1, 1  # the plan stays the start

    monkeypatch.setattr(scale.ScaleSearch, "run", one_step)
    result = solvers.solve(_problem(200, 20, seed=3), "cpsat", time_limit=5, seed=0)
    assert "1 sub-solve, 1 improvement from" in (result.message or "")


def test_fleet_wide_moves_between_two_steps_try_each_used_node_at_most_once(
    small_scale: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their share of a step's time at its maximum (four times a step of 0.5 s): on a small
    fleet one scan of the used nodes takes a fraction of it, and the moves stop there instead
    of scanning the same nodes again until the share is spent (a part of ``--partitions`` at
    K = 16 spent 14-16 s of its 20 so)."""
    from taskalloc.solvers.cpsat.lns import scale

    seen: dict[str, int] = {}

    def moves_only(search: scale.ScaleSearch) -> None:
        assert search.quick is not None
        search.quick_gain, search.step_gain, search.step_seconds = 1.0, 0.0, 0.5
        seen["used"] = sum(1 for on in search.plan.on if on)
        before = search.quick.tries["close"]
        search.quick_moves()
        seen["tried"] = search.quick.tries["close"] - before

    monkeypatch.setattr(scale.ScaleSearch, "run", moves_only)
    problem = _problem(200, 20, seed=3)
    result = solvers.solve(problem, "cpsat", time_limit=30, seed=0)
    assert 0 < seen["tried"] <= seen["used"]
    assert checked_plan(problem, result)[1].feasible
