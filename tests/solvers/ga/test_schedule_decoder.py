"""The GA's schedule side: the decoder that chooses nodes (``ArraySGS``: earliest end, as the
greedy), its agreement with the fixed-node decoder, the critical-path priority seeds, and never
a schedule worse than the greedy's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import greedy
from taskalloc.solvers.ga import solve
from taskalloc.solvers.ga.engine import Engine
from tests.solving import lex, make, node, task


def sched(seed: int, tasks: int = 40, nodes: int = 6) -> Problem:
    return problem_from_dict(generate(tasks, nodes, seed=seed, scheduling=True))


@pytest.mark.parametrize("seed", range(5))
def test_node_choosing_decoder_gives_checked_schedules(seed: int) -> None:
    p = sched(seed)
    eng = Engine(p, seed)
    assert eng.free is not None  # generated schedules minimise [unplaced, makespan]
    rng = np.random.default_rng(seed)
    for _ in range(3):
        g = eng.random_genes(rng)
        x, start = eng.free.decode(g[: eng.S].copy(), g[eng.S :])
        viol, terms = eng.c.measure(x, start)
        ev = evaluate(p, eng.c.assignments(x, start), reasons=False)
        assert ev.feasible == (viol == 0)
        if ev.feasible:
            assert ev.terms["makespan"] == terms["makespan"]


@pytest.mark.parametrize("seed", range(4))
def test_the_same_list_on_the_chosen_nodes_decodes_to_the_same_schedule(seed: int) -> None:
    """What the node-choosing decoder writes back, the fixed-node decoder reproduces."""
    p = sched(seed, tasks=30)
    eng = Engine(p, seed)
    assert eng.free is not None and eng.sched is not None
    g = eng.random_genes(np.random.default_rng(seed))
    order = g[eng.S :]
    x1, s1 = eng.free.decode(g[: eng.S].copy(), order)
    x2, s2 = eng.sched.decode(x1.copy(), order)
    assert (x1 == x2).all()
    assert (s1[x1 >= 0] == s2[x2 >= 0]).all()


def _critical_chain() -> Problem:
    """One fast node and one slow one, one task at a time each. A chain a -> b -> c is critical
    (12 on the fast node); six short independent tasks of higher priority (2 on the fast node,
    4 on the slow one) want the fast node too. The greedy serves priority first and delays the
    chain (makespan 20); the critical-path (latest finish) order does not: 16, the optimum (the
    slow node runs three short tasks by 12, the other three need 4 more on the two nodes)."""
    nodes = [node("fast", cpu=1, speed=2), node("slow", cpu=1)]
    chain: list[dict[str, Any]] = [
        task("a", cpu=1, duration=8),
        task("b", cpu=1, duration=8, after=["a"]),
        task("c", cpu=1, duration=8, after=["b"]),
    ]
    side = [task(f"s{i}", cpu=1, duration=4, priority=5) for i in range(6)]
    return make(nodes, chain + side, **lex("unplaced", "makespan"))


def test_priority_seeds_beat_the_greedy_on_a_critical_chain() -> None:
    p = _critical_chain()
    g = min(
        evaluate(p, greedy.solve(p, policy=pol).assignments, reasons=False).terms["makespan"]
        for pol in greedy.POLICIES
    )
    r = solve(p, generations=3, population=8, seed=0)
    assert r.status == Status.FEASIBLE
    ev = evaluate(p, r.assignments, reasons=False)
    assert ev.feasible
    assert g == 20
    assert ev.terms["makespan"] == 16


@pytest.mark.parametrize("seed", range(3))
def test_schedules_never_worse_than_the_greedy(seed: int) -> None:
    p = sched(seed, tasks=60, nodes=8)
    r = solve(p, time_limit=0.3, seed=seed, deterministic=True)
    ev = evaluate(p, r.assignments, reasons=False)
    assert ev.feasible
    best = min(
        e.fitness
        for e in (
            evaluate(p, greedy.solve(p, policy=pol).assignments, reasons=False)
            for pol in greedy.POLICIES
        )
        if e.feasible
    )
    assert ev.fitness <= best + 1e-9
