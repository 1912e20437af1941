"""Pareto fronts: dominance, hypervolume and distances on hand-computed fronts (2D and 3D) and
against exact grid counts (hypothesis); the CP-SAT epsilon-constraint front against the front of
every plan (brute force, the evaluator as the judge); the solvers dispatch; `solve --pareto`
end to end; the GA front (when `taskalloc.solvers.ga` exists) against the exact one.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskalloc import solvers
from taskalloc.problems.evaluate import PLACEMENT_TERMS, check, evaluate, make_plan
from taskalloc.problems.pareto import (
    Scale,
    TermError,
    check_terms,
    compare,
    contributions,
    distances,
    dominates,
    front_from_summary,
    hypervolume,
    nondominated,
    scale_of,
    summary,
    table,
    term_vectors,
)
from taskalloc.problems.plan import Assignment, SolverInfo, Status, read_plan
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import SolverUnavailable
from taskalloc.solvers.cpsat.pareto import front
from taskalloc.solvers.result import Result
from tests.helpers import REFERENCE_CHECKER, cli, node, prob, reference_check, task
from tests.solving import drop_tasks, leaves, task_options

LIMIT = 20.0  # seconds per front; every tiny front here is proven far faster

# -- dominance and the filter -------------------------------------------------------------------


def test_dominates() -> None:
    assert dominates([1, 2], [2, 2])
    assert not dominates([2, 2], [2, 2])  # equal: no
    assert not dominates([1, 3], [2, 2])  # a trade-off: no
    assert dominates([0, 0, 1], [0, 0, 2])


def test_nondominated_drops_dominated_points_and_duplicates() -> None:
    pts = [(1, 3), (2, 2), (3, 1), (2, 3), (1, 3), (3, 3)]
    assert nondominated(pts) == [0, 1, 2]
    assert nondominated([]) == []


point_sets = st.integers(2, 3).flatmap(
    lambda d: st.lists(st.tuples(*[st.integers(0, 5)] * d), min_size=1, max_size=12)
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(point_sets)
def test_filter_is_a_mutually_nondominated_cover(pts: list[tuple[int, ...]]) -> None:
    keep = nondominated(pts)
    kept = [pts[i] for i in keep]
    assert len(set(kept)) == len(kept)  # no duplicates
    for a, b in itertools.permutations(kept, 2):
        assert not dominates(a, b)
    for p in pts:  # every input is dominated by or equal to a kept point
        assert any(k == p or dominates(k, p) for k in kept)


# -- hypervolume ----------------------------------------------------------------------------------


def test_hypervolume_2d_by_hand() -> None:
    pts = [(1, 3), (2, 2), (3, 1)]
    assert hypervolume(pts, (4, 4)) == pytest.approx(6)  # 3 + 2 + 1
    assert hypervolume([*pts, (2, 3), (3, 3)], (4, 4)) == pytest.approx(6)  # dominated: nothing
    assert contributions(pts, (4, 4)) == pytest.approx([1, 1, 1])
    assert contributions([*pts, (2, 2)], (4, 4)) == pytest.approx([1, 0, 1, 0])  # duplicates
    assert hypervolume([(5, 0)], (4, 4)) == 0  # beyond the reference point


def test_hypervolume_3d_by_hand() -> None:
    # boxes 2x2x1 and 1x1x2 overlapping in the unit cube [1,2]^3
    assert hypervolume([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(5)
    assert contributions([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx([3, 1])
    # three 2x1x1 boxes, every pair and the triple meeting in [1,2]^3: 6 - 3 + 1
    assert hypervolume([(0, 1, 1), (1, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(4)


def _grid_volume(pts: list[tuple[int, ...]], ref: tuple[int, ...]) -> int:
    """Unit cells [c, c+1] below ref dominated by some point (its lower corner >= the point)."""
    cells = itertools.product(*[range(r) for r in ref])
    return sum(1 for c in cells if any(all(p[i] <= c[i] for i in range(len(c))) for p in pts))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(point_sets)
def test_hypervolume_equals_the_grid_count(pts: list[tuple[int, ...]]) -> None:
    ref = (6,) * len(pts[0])
    hv = hypervolume(pts, ref)
    assert hv == pytest.approx(_grid_volume(pts, ref))
    assert hv == pytest.approx(hypervolume([pts[i] for i in nondominated(pts)], ref))
    contrib = contributions(pts, ref)
    for i, c in enumerate(contrib):  # exclusive contribution, counted on the grid
        rest = pts[:i] + pts[i + 1 :]
        assert c == pytest.approx(_grid_volume(pts, ref) - _grid_volume(rest, ref))


# -- normalisation and distances ------------------------------------------------------------------


def test_scale_and_reference_point() -> None:
    sc = scale_of([(10, 0.5), (20, 0.25), (30, 0.75)])  # the last is dominated
    assert sc.ideal == (10, 0.25) and sc.nadir == (20, 0.5)
    assert sc.reference == pytest.approx((21, 0.525))  # nadir + 10 % of the range
    flat = scale_of([(3, 1)])  # one point: range 1 per term
    assert flat.reference == pytest.approx((4.1, 2.1))


def test_distances_by_hand() -> None:
    ref = [(0, 1), (1, 0)]
    sc = Scale((0, 0), (1, 1))
    dist, eps = distances([(1, 1), (0.5, 0.5), (0, 1), (-0.5, 0.5)], ref, sc)
    assert dist == pytest.approx([1, 0.5, 0, 0])
    assert eps == pytest.approx([1, 0.5, 0, -0.5])  # (-0.5, 0.5) strictly dominates (0, 1)
    assert compare(ref, ref, sc) == pytest.approx(
        {"gd": 0, "igd": 0, "gd_plus": 0, "igd_plus": 0, "epsilon": 0}
    )
    one = compare([(1, 1)], ref, sc)
    assert one == pytest.approx({"gd": 1, "igd": 1, "gd_plus": 1, "igd_plus": 1, "epsilon": 1})
    # the normalisation: a term of range 10 counts like one of range 1
    wide = Scale((0, 0), (10, 1))
    assert distances([(5, 0.5)], [(0, 1), (10, 0)], wide)[0] == pytest.approx([0.5])


def test_summary_round_trip_and_table() -> None:
    pts = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]
    data = summary(["cost", "balance"], pts, files=["a", "b", "c"], statuses=["optimal"] * 3)
    assert data["taskalloc_front"] == 1
    assert data["reference_point"] == {"cost": pytest.approx(3.2), "balance": pytest.approx(3.2)}
    # normalised: (0,1), (0.5,0.5), (1,0) against (1.1,1.1): 0.11 + 0.3 + 0.35 (sweep)
    assert data["hypervolume"] == pytest.approx(1.1 * 0.1 + 0.6 * 0.5 + 0.1 * 0.5)
    assert [r["file"] for r in data["points"]] == ["a", "b", "c"]
    ref = front_from_summary(json.loads(json.dumps(data)), "front.json")
    assert ref.terms == ["cost", "balance"] and ref.points.tolist() == [list(p) for p in pts]
    worse = summary(["cost", "balance"], [(2.0, 3.0)], reference=ref)
    row = worse["points"][0]
    assert row["distance"] == pytest.approx(0.5) and row["epsilon"] == pytest.approx(0.5)
    assert worse["reference"]["hypervolume"] == data["hypervolume"]  # same normalisation
    lines = table(worse)
    assert "distance" in lines[0] and lines[-1].startswith("reference front front.json")
    with pytest.raises(TermError, match="reference front is over cost,balance"):
        summary(["cost", "nodes"], [(1.0, 1.0)], reference=ref)
    with pytest.raises(ValueError, match="not a front summary"):
        front_from_summary({"taskalloc_plan": 1})
    with pytest.raises(ValueError, match=r"points\[0\]\.terms must give cost, balance"):
        front_from_summary({"taskalloc_front": 1, "terms": ["cost", "balance"], "points": [{}]})


def test_check_terms() -> None:
    p = prob([node("a")], [task("t")])
    assert check_terms(p, ["cost", " balance"]) == ["cost", "balance"]
    with pytest.raises(TermError, match=r"'makespan'.*need tasks with durations"):
        check_terms(p, ["cost", "makespan"])
    with pytest.raises(TermError, match="2 or 3 terms"):
        check_terms(p, ["cost"])
    with pytest.raises(TermError, match="2 or 3 terms"):
        check_terms(p, ["cost", "balance", "nodes", "moves"])
    with pytest.raises(TermError, match="twice"):
        check_terms(p, ["cost", "cost"])


# -- the exact CP-SAT front against brute force ---------------------------------------------------


def all_plans(problem: Problem) -> list[tuple[list[Assignment], dict[str, float]]]:
    """Every feasible plan and its terms (the evaluator judges), as in tests/test_cpsat.py."""
    horizon = problem.horizon or 0
    options = [task_options(problem, t, horizon) for t in range(len(problem.tasks))]
    out = []
    for combo in itertools.product(*options):
        plan = [a for opt in combo for a in opt]
        ev = evaluate(problem, plan, reasons=False)
        if ev.feasible:
            out.append((plan, ev.terms))
    return out


def exact_front(problem: Problem, terms: list[str]) -> set[tuple[float, ...]]:
    """Term vectors of the brute-force front."""
    plans = all_plans(problem)
    vecs = [tuple(round(t[x], 9) for x in terms) for _, t in plans]
    return {vecs[i] for i in nondominated(vecs)}


def checked(problem: Problem, results: list[Result], terms: list[str]) -> list[tuple[float, ...]]:
    """Every plan of a front passes the checker (written and read back); its term vectors."""
    out = []
    for r in results:
        assert r.has_plan, r.message
        plan, ev = make_plan(
            problem, r.assignments, SolverInfo(name=r.solver, status=r.status, seed=r.seed)
        )
        rep = check(problem, read_plan_text(plan.dumps("yaml")))
        assert rep.ok, [v.message for v in rep.violations]
        out.append(tuple(round(ev.terms[x], 9) for x in terms))
    assert len(set(out)) == len(out)
    for a, b in itertools.permutations(out, 2):
        assert not dominates(a, b)
    return out


def read_plan_text(text: str) -> Any:
    from taskalloc.problems.plan import plan_from_text

    return plan_from_text("plan.yaml", text.encode())


def unplaced_of(problem: Problem, result: Result) -> float:
    return round(evaluate(problem, result.assignments, reasons=False).terms["unplaced"], 9)


def least_unplaced(
    problem: Problem, terms: list[str], points: list[tuple[float, ...]]
) -> list[float]:
    """Per point, the least ``unplaced`` of the plans at least as good in every term."""
    plans = [tuple(round(t[x], 9) for x in [*terms, "unplaced"]) for _, t in all_plans(problem)]
    return [
        min(v[-1] for v in plans if all(x <= y for x, y in zip(v, point, strict=False)))
        for point in points
    ]


def tiny(seed: int, n_tasks: int, n_nodes: int, scheduling: bool = False) -> dict[str, Any]:
    """A tiny random problem with room for trade-offs: costs per node, node costs, optional
    tasks, current nodes, replicas and separations (scheduling: durations and a short
    horizon)."""
    rnd = random.Random(seed)
    ids = [f"n{i}" for i in range(n_nodes)]
    nodes = [
        node(
            i,
            {"cpu": rnd.randint(5, 9), "mem": rnd.choice([6, 8])},
            cost=rnd.choice([0, 0, 1, 2.5]),
        )
        for i in ids
    ]
    tasks = []
    for k in range(n_tasks):
        t = task(f"t{k}", {"cpu": rnd.randint(1, 3), "mem": rnd.randint(0, 2)})
        t["assign_cost"] = {i: rnd.randint(0, 4) for i in ids}
        if rnd.random() < 0.3:
            t["required"] = False
            t["priority"] = rnd.choice([1, 2, 0.5])
        if rnd.random() < 0.5:
            t["current"] = rnd.choice(ids)
        if n_nodes > 1 and rnd.random() < 0.15:
            t["replicas"] = 2
        if k and rnd.random() < 0.1:
            t["separate_from"] = [f"t{rnd.randrange(k)}"]
        if scheduling:
            t["duration"] = rnd.randint(1, 2)
        tasks.append(t)
    data: dict[str, Any] = {"taskalloc": 1, "name": "tiny", "nodes": nodes, "tasks": tasks}
    if scheduling:
        data["horizon"] = 4
    problem = problem_from_dict(data)
    while leaves(problem) > 3000 and len(data["tasks"]) > 1:
        drop_tasks(data, len(data["tasks"]) - 1)
        problem = problem_from_dict(data)
    return data


def test_front_by_hand() -> None:
    # two tasks of 2 cpu, two nodes of 4 cpu; node a costs 1 per task, b costs 3:
    # both on a: cost 2, balance 1; split: cost 4, balance 0.5; both on b: dominated
    p = prob(
        [node("a", {"cpu": 4}), node("b", {"cpu": 4})],
        [task(t, {"cpu": 2}, assign_cost={"a": 1, "b": 3}) for t in ("t1", "t2")],
    )
    results = front(p, ["cost", "balance"], time_limit=LIMIT)
    assert checked(p, results, ["cost", "balance"]) == [(2, 1), (4, 0.5)]
    assert all(r.status == Status.OPTIMAL for r in results)
    assert "complete" in (results[0].message or "")
    assert results[0].bound == {"cost": 2, "balance": 1}
    assert results[1].options["pareto"]["complete"] is True
    # the other order gives the same front
    rev = front(p, ["balance", "cost"], time_limit=LIMIT)
    assert sorted(checked(p, rev, ["balance", "cost"])) == [(0.5, 4), (1, 2)]


PAIRS = list(itertools.permutations(PLACEMENT_TERMS, 2))
#: pairs that trade off on most tiny problems (so that fronts have several points)
CONFLICTING = [("cost", "balance"), ("balance", "nodes"), ("moves", "balance"), ("cost", "moves")]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.integers(0, 10**6),
    st.integers(2, 6),
    st.integers(1, 3),
    st.one_of(st.sampled_from(CONFLICTING), st.sampled_from(PAIRS)),
)
def test_cpsat_front_equals_the_brute_force_front(
    seed: int, n_tasks: int, n_nodes: int, pair: tuple[str, str]
) -> None:
    terms = list(pair)
    problem = problem_from_dict(tiny(seed, n_tasks, n_nodes))
    expected = exact_front(problem, terms)
    results = front(problem, terms, time_limit=LIMIT, workers=1)
    if not expected:
        assert [r.status for r in results] == [Status.INFEASIBLE]
        return
    got = checked(problem, results, terms)
    assert set(got) == expected
    assert got == sorted(got)  # by the first term
    assert all(r.status == Status.OPTIMAL for r in results)
    if "unplaced" not in terms:  # of the plans of one point, one that places the most
        assert [unplaced_of(problem, r) for r in results] == least_unplaced(problem, terms, got)
    # at most K points: a subset of the exact front with both extremes
    some = checked(problem, front(problem, terms, points=2, time_limit=LIMIT), terms)
    assert set(some) <= expected and len(some) <= 2
    assert min(expected) in some and min(expected, key=lambda v: (v[1], v[0])) in some


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pair", CONFLICTING)
def test_cpsat_front_on_larger_tiny_problems(seed: int, pair: tuple[str, str]) -> None:
    terms = list(pair)
    problem = problem_from_dict(tiny(seed, 6, 3))
    expected = exact_front(problem, terms)
    got = checked(problem, front(problem, terms, time_limit=LIMIT, workers=1), terms)
    assert set(got) == expected


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.integers(0, 10**6),
    st.sampled_from([("makespan", "cost"), ("balance", "makespan"), ("tardiness", "moves")]),
)
def test_cpsat_scheduling_front_equals_the_brute_force_front(
    seed: int, pair: tuple[str, str]
) -> None:
    terms = list(pair)
    problem = problem_from_dict(tiny(seed, 3, 2, scheduling=True))
    expected = exact_front(problem, terms)
    results = front(problem, terms, time_limit=LIMIT, workers=1)
    if not expected:
        assert [r.status for r in results] == [Status.INFEASIBLE]
        return
    got = checked(problem, results, terms)
    assert set(got) == expected
    if "unplaced" not in terms:
        assert [unplaced_of(problem, r) for r in results] == least_unplaced(problem, terms, got)


def test_front_with_points_spaces_the_constraint() -> None:
    # 6 tasks of 1 cpu on two nodes of 6 cpu, each costs 1 on b: k tasks on b cost k, balance
    # max(6 - k, k) / 6; the front is k = 0..3
    p = prob(
        [node("a", {"cpu": 6}), node("b", {"cpu": 6})],
        [task(f"t{i}", {"cpu": 1}, assign_cost={"a": 0, "b": 1}) for i in range(6)],
    )
    full = checked(p, front(p, ["cost", "balance"], time_limit=LIMIT), ["cost", "balance"])
    assert full == [(0, 1), (1, round(5 / 6, 9)), (2, round(4 / 6, 9)), (3, 0.5)]
    three = checked(
        p, front(p, ["cost", "balance"], points=3, time_limit=LIMIT), ["cost", "balance"]
    )
    # the extremes, then min cost with balance <= 0.75 (halfway): k = 2
    assert three == [(0, 1), (2, round(4 / 6, 9)), (3, 0.5)]


def test_decimal_costs_step_exactly() -> None:
    # as the ladder, at 0.1 per task on b: 0.1 + 0.1 + 0.1 is not 0.3 in floating point
    p = prob(
        [node("a", {"cpu": 6}), node("b", {"cpu": 6})],
        [task(f"t{i}", {"cpu": 1}, assign_cost={"a": 0, "b": 0.1}) for i in range(6)],
    )
    got = checked(p, front(p, ["balance", "cost"], time_limit=LIMIT), ["balance", "cost"])
    assert got == [(0.5, 0.3), (round(4 / 6, 9), 0.2), (round(5 / 6, 9), 0.1), (1, 0)]


def test_front_refuses_three_terms_and_stops_on_request() -> None:
    p = prob([node("a"), node("b")], [task("t", assign_cost={"a": 1, "b": 2})])
    with pytest.raises(TermError, match="use engine ga for 3"):
        front(p, ["cost", "balance", "nodes"])
    stop = threading.Event()
    stop.set()  # before the first point: the warm start, as a feasible plan
    results = front(p, ["cost", "balance"], stop=stop, time_limit=LIMIT)
    assert [r.status for r in results] == [Status.FEASIBLE]
    assert "stopped on request" in (results[0].message or "")
    checked(p, results, ["cost", "balance"])
    # stopped after the first point (from the point callback): that point only
    lad = problem_from_dict(yaml.safe_load(ladder_text()))
    stop = threading.Event()
    results = front(
        lad, ["cost", "balance"], stop=stop, time_limit=LIMIT, on_point=lambda i, v: stop.set()
    )
    assert checked(lad, results, ["cost", "balance"]) == [(0, 1)]
    assert "stopped on request" in (results[0].message or "")
    assert results[0].options["pareto"]["complete"] is False


def test_deterministic_fronts_are_identical() -> None:
    problem = problem_from_dict(tiny(3, 5, 3))
    runs = [
        front(problem, ["cost", "balance"], deterministic=True, time_limit=5, seed=4)
        for _ in range(2)
    ]
    assert [r.assignments for r in runs[0]] == [r.assignments for r in runs[1]]
    assert runs[0][0].options["workers"] == 1


def test_infeasible_problem_gives_one_infeasible_result() -> None:
    p = prob([node("a", {"cpu": 1})], [task("t", {"cpu": 2})])
    results = front(p, ["cost", "balance"], time_limit=LIMIT)
    assert [r.status for r in results] == [Status.INFEASIBLE]


def test_dispatch() -> None:
    p = prob([node("a"), node("b")], [task("t", assign_cost={"a": 1, "b": 2})])
    results = solvers.pareto(p, "cpsat", ["cost", "nodes"], time_limit=LIMIT)
    assert checked(p, results, ["cost", "nodes"]) == [(1, 1)]
    with pytest.raises(SolverUnavailable, match="engine greedy computes no Pareto front"):
        solvers.pareto(p, "greedy", ["cost", "nodes"])
    with pytest.raises(TermError):
        solvers.pareto(p, "cpsat", ["cost", "makespan"])
    if importlib.util.find_spec("taskalloc.solvers.ga") is None:
        with pytest.raises(SolverUnavailable, match="unknown engine 'ga'"):
            solvers.pareto(p, "ga", ["cost", "nodes"])


def test_term_vectors() -> None:
    p = prob([node("a"), node("b")], [task("t", assign_cost={"a": 1, "b": 2})])
    z = term_vectors(p, [[Assignment("t", 0, "a")], [Assignment("t", 0, "b")]], ["cost", "nodes"])
    assert z.tolist() == [[1, 1], [2, 1]]
    assert term_vectors(p, [], ["cost", "nodes"]).shape == (0, 2)


# -- the CLI ----------------------------------------------------------------------------------


def ladder_text() -> str:
    """6 tasks of 1 cpu on two nodes of 6 cpu; each costs 1 on b: the front is (k, max(6 - k,
    k) / 6) for k = 0..3 tasks on b."""
    data = {
        "taskalloc": 1,
        "name": "ladder",
        "nodes": [node("a", {"cpu": 6}), node("b", {"cpu": 6})],
        "tasks": [task(f"t{i}", {"cpu": 1}, assign_cost={"a": 0, "b": 1}) for i in range(6)],
        "objective": {"lexicographic": ["unplaced", "cost"]},
    }
    return yaml.safe_dump(data)


def ladder(tmp_path: Path) -> Path:
    path = tmp_path / "ladder.yaml"
    path.write_text(ladder_text())
    return path


def test_cli_front_end_to_end(tmp_path: Path) -> None:
    problem = ladder(tmp_path)
    out = tmp_path / "front"
    r = cli("solve", str(problem), "-s", "cpsat", "--pareto", "cost,balance", "--out-dir", str(out))
    assert r.exit_code == 0, r.stderr
    data = yaml.safe_load(r.stdout)  # the summary, and nothing else, on stdout
    assert data["taskalloc_front"] == 1 and data["terms"] == ["cost", "balance"]
    assert [row["terms"]["cost"] for row in data["points"]] == [0, 1, 2, 3]
    assert data["hypervolume"] > 0 and set(data["reference_point"]) == {"cost", "balance"}
    files = sorted(p.name for p in out.iterdir())
    assert files == ["plan-01.yaml", "plan-02.yaml", "plan-03.yaml", "plan-04.yaml"]
    assert [row["file"] for row in data["points"]] == [str(out / f) for f in files]
    for i, name in enumerate(files, start=1):
        c = cli("check", str(problem), str(out / name))
        assert c.exit_code == 0, c.stderr
        plan = read_plan(str(out / name))
        assert plan.solver.status == Status.OPTIMAL
        meta = yaml.safe_load((out / name).read_text())["solver"]["options"]["pareto"]
        assert meta["point"] == i and meta["of"] == 4 and set(meta["terms"]) == {"cost", "balance"}
    if (
        REFERENCE_CHECKER is not None and REFERENCE_CHECKER.exists()
    ):  # the independent checker of the shared spec agrees
        ref = reference_check(problem, out / files[1])
        assert ref["feasible"] and ref["terms"]["cost"] == 1
    assert "hv contrib" in r.stderr and "hypervolume" in r.stderr  # the table, on stderr
    assert "plan-01.yaml" in r.stderr

    # K points, JSON, against the exact front written above
    summary_file = tmp_path / "exact.yaml"
    summary_file.write_text(r.stdout)
    out3 = tmp_path / "three"
    r3 = cli(
        "solve",
        str(problem),
        "-s",
        "cpsat",
        "--pareto",
        "cost,balance",
        "--points",
        "3",
        "--out-dir",
        str(out3),
        "--reference-front",
        str(summary_file),
        "-f",
        "json",
        "-o",
        str(tmp_path / "three.json"),
    )
    assert r3.exit_code == 0, r3.stderr
    assert r3.stdout == ""
    d3 = json.loads((tmp_path / "three.json").read_text())
    assert len(d3["points"]) == 3 and all(p["distance"] == 0 for p in d3["points"])
    assert d3["reference"]["points"] == 4 and d3["reference"]["igd"] > 0
    assert d3["hypervolume"] < d3["reference"]["hypervolume"]
    assert sorted(p.name for p in out3.iterdir()) == [
        "plan-01.json",
        "plan-02.json",
        "plan-03.json",
    ]
    # a second, smaller front into the first directory: the older files are named
    r2 = cli(
        "solve", str(problem), "--pareto", "cost,balance", "--points", "2", "--out-dir", str(out)
    )
    assert r2.exit_code == 0, r2.stderr
    said = " ".join(r2.stderr.split())  # the warning is wrapped to the terminal
    assert "also holds 2 plan files not from this run: plan-03.yaml" in said


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pareto", "cost,makespan"], "--pareto: unknown term(s) for a placement problem"),
        (["--pareto", "cost"], "--pareto: a front needs 2 or 3 terms, got 1: cost"),
        (["--pareto", "cost,balance,nodes", "-s", "cpsat"], "use -s ga for 3"),
        (["--pareto", "cost,balance", "-s", "greedy"], "-s greedy computes no Pareto front"),
        (["--points", "3"], "--points and --reference-front need --pareto"),
    ],
)
def test_cli_bad_terms_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    r = cli("solve", str(ladder(tmp_path)), "--out-dir", str(tmp_path / "out"), *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_needs_out_dir_and_a_front_summary(tmp_path: Path) -> None:
    problem = str(ladder(tmp_path))
    r = cli("solve", problem, "--pareto", "cost,balance")
    assert r.exit_code == 2 and "--out-dir" in r.stderr
    r = cli(
        "solve",
        problem,
        "--pareto",
        "cost,balance",
        "--out-dir",
        str(tmp_path),
        "--reference-front",
        problem,
    )
    assert r.exit_code == 2 and "not a front summary" in r.stderr
    r = cli("solve", problem, "--pareto", "cost,balance", "--out-dir", problem)
    assert r.exit_code == 2 and "exists and is not a directory" in r.stderr


def test_cli_infeasible_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {"taskalloc": 1, "nodes": [node("a", {"cpu": 1})], "tasks": [task("t", {"cpu": 2})]}
        )
    )
    r = cli("solve", str(path), "--pareto", "cost,balance", "--out-dir", str(tmp_path / "o"))
    assert r.exit_code == 3 and r.stdout == ""
    assert "infeasible" in r.stderr


# -- the GA front (once taskalloc.solvers.ga is merged) ----------------------------------------


def test_ga_front_against_the_exact_front(tmp_path: Path) -> None:
    pytest.importorskip("taskalloc.solvers.ga")
    data = tiny(11, 5, 3)
    problem = problem_from_dict(data)
    terms = ["cost", "balance"]
    exact = [r for r in front(problem, terms, time_limit=LIMIT) if r.has_plan]
    ga = solvers.pareto(problem, "ga", terms, seed=1, generations=60)  # not 5 s of wall-clock
    assert ga and all(r.status == Status.FEASIBLE for r in ga)
    got = checked(problem, ga, terms)
    ref_points = np.array(checked(problem, exact, terms))
    ref = front_from_summary(summary(terms, ref_points), "exact")
    data_ga = summary(terms, got, reference=ref)
    assert all(row["distance"] >= 0 for row in data_ga["points"])
    # no GA plan beats the exact front
    assert all(row["epsilon"] >= -1e-9 for row in data_ga["points"])
    assert data_ga["hypervolume"] <= data_ga["reference"]["hypervolume"] + 1e-9
    # and through the CLI
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    ref_file = tmp_path / "exact.yaml"
    exact_dir = str(tmp_path / "exact")
    r = cli("solve", str(path), "-s", "cpsat", "--pareto", "cost,balance", "--out-dir", exact_dir)
    assert r.exit_code == 0, r.stderr
    ref_file.write_text(r.stdout)
    r = cli(
        "solve",
        str(path),
        "-s",
        "ga",
        "--pareto",
        "cost,balance",
        "--out-dir",
        str(tmp_path / "ga"),
        "--reference-front",
        str(ref_file),
        "--generations",
        "60",
        "-w",
        "1",
    )
    assert r.exit_code == 0, r.stderr
    d = yaml.safe_load(r.stdout)
    assert all("distance" in row for row in d["points"])
    for row in d["points"]:
        assert cli("check", str(path), row["file"]).exit_code == 0


# -- plan files state objective values exactly ------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_plan_objective_round_trips_at_full_precision(fmt: str) -> None:
    # balance 63/128 = 0.4921875: six decimals (0.492188) are 1.02e-6 off relatively, beyond
    # check's 1e-6 tolerance; the plan files of a front must pass `check` as written
    p = prob(
        [node("a", {"cpu": 128})], [task("t", {"cpu": 63})], objective={"weights": {"balance": 1}}
    )
    plan, ev = make_plan(p, [Assignment("t", 0, "a")], SolverInfo(name="t", status=Status.FEASIBLE))
    assert ev.terms["balance"] == 0.4921875
    back = read_plan_text(plan.dumps(fmt))
    assert back.solver.objective == {"balance": 0.4921875}
    assert check(p, back).ok
