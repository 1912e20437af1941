"""Property tests on tiny problems with small device counts (hypothesis).

- The evaluator agrees with an independent reading of FORMATS.md (tests/problems/oracle.py) on
  random plans, right and wrong: feasibility and every objective term.
- The incremental PlanState, after any sequence of additions and removals, says what a fresh
  evaluation of the assignments it holds says.
- On problems small enough to enumerate every plan: a structural proof of infeasibility is only
  given when no plan exists, and a plan the greedy calls feasible is feasible.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from taskalloc.problems import InputError, problem_from_dict, prove_infeasible
from taskalloc.problems.evaluate import PlanState, evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.proofs import spread_feasible
from taskalloc.solvers.greedy import solve as greedy
from tests.problems.oracle import check as oracle
from tests.solving import count_plans, every_plan

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
HORIZON = 6
GPU = (0, 0, 0.25, 0.5, 1, 1.5, 2)


@st.composite
def problems(
    draw: Any, max_tasks: int = 3, max_nodes: int = 3, scheduling: bool | None = None
) -> dict[str, Any]:
    sched = draw(st.booleans()) if scheduling is None else scheduling
    nodes = []
    for i in range(draw(st.integers(1, max_nodes))):
        k = draw(st.integers(1, 3))
        size = draw(st.sampled_from((0.5, 1.0)))
        entry: dict[str, Any] = {
            "id": f"n{i}",
            "capacity": {"cpu": draw(st.sampled_from((1, 2, 4))), "gpu": k * size},
            "cost": draw(st.sampled_from((0, 1, 3))),
        }
        if draw(st.booleans()) or draw(st.booleans()):
            entry["devices"] = {"gpu": k}
        zone = draw(st.sampled_from(("a", "b", None)))
        if zone:
            entry["labels"] = {"zone": zone}
        nodes.append(entry)
    ids = [n["id"] for n in nodes]
    tasks: list[dict[str, Any]] = []
    n_tasks = draw(st.integers(1, max_tasks))
    for i in range(n_tasks):
        t: dict[str, Any] = {
            "id": f"t{i}",
            "demand": {"cpu": draw(st.sampled_from((0, 1, 2))), "gpu": draw(st.sampled_from(GPU))},
            "replicas": draw(st.integers(1, 2)),
            "required": draw(st.booleans()),
            "priority": draw(st.sampled_from((1, 2))),
        }
        if draw(st.integers(0, 3)) == 0:
            t["spread"] = {"key": "zone", "max_skew": draw(st.integers(1, 2))}
        if draw(st.integers(0, 3)) == 0:
            t["current"] = draw(st.lists(st.sampled_from(ids), max_size=t["replicas"], unique=True))
        elif draw(st.integers(0, 4)) == 0:
            t["current"] = draw(st.sampled_from(ids))
        if i and draw(st.integers(0, 4)) == 0:
            t["separate_from"] = [f"t{draw(st.integers(0, i - 1))}"]
        service = sched and draw(st.integers(0, 4)) == 0
        if service:
            t["service"] = True
        elif sched:
            t["duration"] = draw(st.integers(0, 3))
            if draw(st.integers(0, 3)) == 0:
                t["release"] = draw(st.integers(0, 2))
            if draw(st.integers(0, 4)) == 0:
                t["deadline"] = draw(st.integers(2, HORIZON))
            earlier = [p["id"] for p in tasks if not p.get("service")]
            if earlier and draw(st.integers(0, 3)) == 0:
                t["after"] = [draw(st.sampled_from(earlier))]
        tasks.append(t)
    data: dict[str, Any] = {"taskalloc": 1, "nodes": nodes, "tasks": tasks}
    if sched:
        data["horizon"] = HORIZON
        if not any("duration" in t for t in tasks):  # a scheduling problem needs a duration
            tasks[0].pop("service", None)
            tasks[0]["duration"] = 1
    plain = [t for t in tasks if not t.get("service")]
    if len(plain) >= 2 and draw(st.integers(0, 2)) == 0:
        a, b = draw(st.permutations(plain))[:2]
        a["gang"] = b["gang"] = "g"
        if sched and draw(st.booleans()):
            data["gangs"] = {"g": {"same_start": True}}
    return data


def compile_or_reject(data: dict[str, Any]) -> Any:
    try:
        return problem_from_dict(data)
    except InputError:
        assume(False)
        raise AssertionError("unreachable") from None


@st.composite
def plans(draw: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Random plans, often wrong: nodes, devices and times drawn loosely."""
    nodes = {n["id"]: n for n in data["nodes"]}
    sched = "horizon" in data
    out = []
    for t in data["tasks"]:
        if draw(st.integers(0, 3)) == 0:
            continue
        reps = t.get("replicas", 1)
        count = reps if draw(st.integers(0, 5)) else draw(st.integers(1, reps))
        where = draw(st.lists(st.sampled_from(sorted(nodes)), min_size=count, max_size=count))
        for r, n in enumerate(where):
            a: dict[str, Any] = {"task": t["id"], "replica": r, "node": n}
            k = (nodes[n].get("devices") or {}).get("gpu")
            if k and (t["demand"]["gpu"] > 0 or draw(st.integers(0, 5)) == 0):
                need = max(1, round(t["demand"]["gpu"] / (nodes[n]["capacity"]["gpu"] / k)))
                size = min(k, need) if draw(st.integers(0, 4)) else draw(st.integers(0, k))
                a["devices"] = {"gpu": draw(st.permutations(range(k)))[:size]}
            if sched:
                length = HORIZON if t.get("service") else t.get("duration", 0)
                if draw(st.integers(0, 5)) == 0:
                    length += draw(st.sampled_from((-1, 1)))
                start = (
                    0 if t.get("service") and draw(st.integers(0, 5)) else draw(st.integers(0, 4))
                )
                a["start"], a["end"] = start, start + max(0, length)
            out.append(a)
    return out


def assignment(a: dict[str, Any]) -> Assignment:
    return Assignment(
        a["task"], a["replica"], a["node"], a.get("start"), a.get("end"), a.get("devices")
    )


@SETTINGS
@given(st.data())
def test_evaluator_agrees_with_an_independent_reading_of_the_format(data: Any) -> None:
    problem_data = data.draw(problems())
    problem = compile_or_reject(problem_data)
    plan = data.draw(plans(problem_data))
    feasible, terms = oracle(problem_data, plan)
    event(f"{'scheduling' if problem.scheduling else 'placement'}, feasible {feasible}")
    ev = evaluate(problem, [assignment(a) for a in plan])
    assert ev.feasible == feasible, ev.violations
    for term, value in terms.items():
        assert ev.terms[term] == pytest.approx(value), term


@SETTINGS
@given(st.data())
def test_incremental_state_equals_a_fresh_evaluation(data: Any) -> None:
    problem_data = data.draw(problems())
    problem = compile_or_reject(problem_data)
    plan = [assignment(a) for a in data.draw(plans(problem_data))]
    state = PlanState(problem)
    held: dict[tuple[str, int], Assignment] = {}
    for a in plan + plan[: len(plan) // 2]:
        if (a.task, a.replica) in held and data.draw(st.booleans()):
            state.remove(a.task, a.replica)
            del held[(a.task, a.replica)]
        elif state.add(a):
            held[(a.task, a.replica)] = a
    fresh = evaluate(problem, list(held.values()))
    mine = state.evaluation()
    rejected = [v for v in mine.violations if v not in fresh.violations]
    assert all(v.kind in ("replicas", "plan", "time") for v in rejected)  # refused additions
    assert sorted(v.message for v in fresh.violations) == sorted(
        v.message for v in mine.violations if v not in rejected
    )
    assert mine.terms == pytest.approx(fresh.terms)


@settings(SETTINGS, max_examples=200)
@given(st.data())
def test_proofs_and_greedy_against_every_plan(data: Any) -> None:
    problem_data = data.draw(problems(max_tasks=2, max_nodes=2))
    problem = compile_or_reject(problem_data)
    assume(count_plans(problem_data) <= 4000)
    exists = any(oracle(problem_data, plan)[0] for plan in every_plan(problem_data))
    event(f"a plan exists: {exists}; proofs: {bool(prove_infeasible(problem))}")
    if prove_infeasible(problem):
        assert not exists
        return
    result = greedy(problem)
    if result.status == Status.FEASIBLE:
        found = [a.to_dict() for a in result.assignments]
        assert oracle(problem_data, found)[0], found
        assert evaluate(problem, result.assignments).feasible
    event(f"greedy {result.status} where a plan exists: {exists}")


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=4),
    st.integers(0, 4),
    st.integers(1, 2),
)
def test_spread_feasible_against_every_count(values: list[tuple[int, int]], more: int, skew: int):
    counts = [c for c, _ in values]
    room = [a for _, a in values]

    def fine(add: tuple[int, ...]) -> bool:
        final = [c + x for c, x in zip(counts, add, strict=True)]
        return sum(add) == more and max(final) - min(final) <= skew

    exists = any(fine(add) for add in itertools.product(*(range(a + 1) for a in room)))
    assert spread_feasible(counts, room, more, skew) == exists
