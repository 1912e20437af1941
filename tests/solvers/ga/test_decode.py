"""The GA's decoders (solvers/ga/decode.py, dense.py, schedule.py) on random genes: repair
keeps allowed nodes, distinct replica nodes, separation and all-or-none (tasks, gangs), and
needs to break nothing when there is room; the serial schedule generation gives active
schedules that keep every constraint."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.ga.compiled import UNPLACED, Compiled
from taskalloc.solvers.ga.decode import Rows, repair
from taskalloc.solvers.ga.dense import Dense
from taskalloc.solvers.ga.schedule import Scheduler
from tests.solving import brute_force, make, node, task, tiny_problems

STRUCTURAL = {"allowed", "replicas", "separation", "gang", "plan"}
#: what repair guarantees today without separation (see the xfail test below)
REPAIRED = STRUCTURAL - {"separation"}


def random_genes(c: Compiled, rng: np.random.Generator, unplaced: float = 0.2) -> np.ndarray:
    x = np.empty(c.S, dtype=np.int64)
    for s in range(c.S):
        allowed = c.allowed[int(c.task_of[s])]
        x[s] = UNPLACED if not len(allowed) or rng.random() < unplaced else rng.choice(allowed)
    return x


def repaired(problem: Problem, seed: int, dense: bool = False) -> list[Any]:
    c = Compiled(problem)
    rows = Rows(c)
    if dense:
        assert Dense.applies(c, rows)
        Dense(c, rows)
    rng = np.random.default_rng(seed)
    x = random_genes(c, rng)
    repair(c, x, rows, rng)
    return evaluate(problem, c.assignments(x), reasons=False).violations


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=False))
def test_repair_keeps_every_structural_constraint(data: dict[str, Any]) -> None:
    """(On problems that have a plan: where none exists, a must-place task stays where it
    breaks a constraint and the plan is penalised. Without ``separate_from``: see the xfail
    test below.)"""
    for t in data["tasks"]:
        t.pop("separate_from", None)
    problem = problem_from_dict(data)
    if brute_force(problem) is None:
        return
    for seed in range(3):
        bad = [v for v in repaired(problem, seed) if v.kind in REPAIRED]
        assert not bad, [v.message for v in bad]


@pytest.mark.xfail(
    strict=True,
    reason="repair leaves an optional task beside a separated must-place one (or a must-place "
    "task's replica unplaced) when no other node is allowed, instead of leaving the optional "
    "task out (found by the property above; for the GA's developer)",
)
def test_repair_leaves_out_an_optional_task_it_cannot_separate() -> None:
    p = make(
        [node("only", 64)],
        [task("opt", 8, required=False, priority=0.5), task("must", 3, separate_from=["opt"])],
    )
    c = Compiled(p)
    x = np.zeros(c.S, dtype=np.int64)  # both on the only node
    repair(c, x, Rows(c), np.random.default_rng(0))
    assert evaluate(p, c.assignments(x)).feasible


@pytest.mark.parametrize("dense", [False, True])
def test_with_room_for_everything_repair_breaks_nothing(dense: bool) -> None:
    p = make(
        [node(f"n{i}", 100) for i in range(4)],
        [task(f"t{i}", 30, **({"gang": "g"} if i < 2 else {})) for i in range(6)],
    )
    for seed in range(10):
        assert repaired(p, seed, dense) == []


def test_overloads_are_moved_to_nodes_with_room() -> None:
    p = make([node("a", 10), node("b", 10)], [task(f"t{i}", 5) for i in range(4)])
    c = Compiled(p)
    rows = Rows(c)
    x = np.zeros(c.S, dtype=np.int64)  # all four on a: 20 of 10
    repair(c, x, rows, np.random.default_rng(0))
    assert sorted(np.bincount(x, minlength=2).tolist()) == [2, 2]
    assert evaluate(p, c.assignments(x)).feasible


def test_separated_replicas_and_tasks_are_split() -> None:
    p = make(
        [node("a"), node("b"), node("c")],
        [task("t", replicas=2), task("u", separate_from=["t"], required=False)],
    )
    c = Compiled(p)
    x = np.zeros(c.S, dtype=np.int64)  # every slot on a
    repair(c, x, Rows(c), np.random.default_rng(1))
    t_nodes = set(x[:2].tolist())
    assert len(t_nodes) == 2  # distinct nodes for the replicas
    assert x[2] == UNPLACED or int(x[2]) not in t_nodes


def schedule(problem: Problem, seed: int) -> tuple[Compiled, np.ndarray, np.ndarray]:
    c = Compiled(problem)
    rng = np.random.default_rng(seed)
    x = random_genes(c, rng, unplaced=0.0)
    order = rng.permutation(c.T).astype(np.int64)
    x, start = Scheduler(c, Rows(c)).decode(x, order)
    return c, x, start


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(tiny_problems(scheduling=True))
def test_decoded_schedules_keep_time_capacity_and_order(data: dict[str, Any]) -> None:
    problem = problem_from_dict(data)
    for seed in range(2):
        c, x, start = schedule(problem, seed)
        ev = evaluate(problem, c.assignments(x, start), reasons=False)
        # (gangs placed partly are the engine's to drop after decoding)
        bad = [
            v for v in ev.violations if v.kind in {"capacity", "precedence", *REPAIRED} - {"gang"}
        ]
        assert not bad, [v.message for v in bad]


def test_schedules_are_active_every_start_is_a_release_or_an_end() -> None:
    p = make(
        [node("m", 4)],
        [
            task("a", 3, duration=4),
            task("b", 2, duration=2, after=["a"]),
            task("c", 2, duration=3),
            task("d", 1, duration=1, release=2),
        ],
        horizon=30,
    )
    for seed in range(10):
        c, x, start = schedule(p, seed)
        ev = evaluate(p, c.assignments(x, start), reasons=False)
        assert ev.feasible, [v.message for v in ev.violations]
        ends = {int(s) + int(d) for s, d in zip(start, c.durations(c.task_of, x), strict=True)}
        for s, t in zip(start.tolist(), c.task_of.tolist(), strict=True):
            release = p.tasks[t].release or 0
            assert s == release or s in ends, (seed, p.tasks[t].id, s)
