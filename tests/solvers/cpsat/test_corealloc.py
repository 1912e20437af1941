"""The list thread's core allocation (solvers/cpsat/corealloc.py), on an injected clock."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.solvers.cpsat import corealloc, solve
from taskalloc.solvers.cpsat.corealloc import LIST, LNS, Allocator
from tests.solvers.cpsat.test_hybrid import rcpsp


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _steps(alloc: Allocator, clock: Clock, seconds: float, gain: float = 0.0) -> int:
    """List steps of ``seconds`` each until the allocator asks for a slice (at most 10,000)."""
    for n in range(1, 10_001):
        clock.now += seconds
        alloc.listed(gain)
        if alloc.next() == LNS:
            return n
    return 10_000


def test_small_instances_stall_after_the_full_count_of_steps() -> None:
    """Up to the reference size (PSPLIB j60) a stall is ``stall_steps`` steps, as before."""
    clock = Clock()
    alloc = Allocator(500, 60, clock)
    assert alloc.next() == LIST
    assert _steps(alloc, clock, 0.001) == 500


def test_the_stall_is_counted_in_decoded_activities_and_in_seconds() -> None:
    """Five times the activities: a fifth of the steps; slow steps: the stall's seconds."""
    clock = Clock()
    assert _steps(Allocator(500, 300, clock), clock, 0.001) == 100
    clock = Clock()
    slow = corealloc.STALL_SECONDS / 10
    assert _steps(Allocator(500, 60, clock), clock, slow) == 10


def test_own_gains_and_restarts_reset_the_stall() -> None:
    clock = Clock()
    alloc = Allocator(10, 60, clock)
    for _ in range(9):
        clock.now += 0.001
        alloc.listed(0.0)
    alloc.listed(0.01)  # a new best: the stall starts again
    assert _steps(alloc, clock, 0.001) == 10
    alloc = Allocator(10, 60, clock)
    for _ in range(9):
        clock.now += 0.001
        alloc.listed(0.0)
    alloc.listed(0.0, fresh=True)
    assert alloc.next() == LIST
    assert _steps(alloc, clock, 0.001) == 10


def test_slices_that_improve_keep_the_core_and_continue_from_the_best() -> None:
    clock = Clock()
    alloc = Allocator(10, 60, clock)
    _steps(alloc, clock, 0.001)
    for _ in range(5):
        assert alloc.next() == LNS
        clock.now += 1.0
        alloc.sliced(0.02)
        assert alloc.chained
    clock.now += 1.0
    alloc.sliced(0.0)
    assert alloc.next() == LIST and not alloc.chained


def test_unproductive_lists_get_short_turns_productive_ones_full_turns() -> None:
    """After a slice that found nothing, the list turn is scaled by the recent rates: lists
    that found nothing while the slices improved get :data:`corealloc.MIN_SHARE` of a stall;
    lists that improve as fast as the slices get a full one."""
    clock = Clock()
    alloc = Allocator(100, 60, clock)
    _steps(alloc, clock, 0.01)  # 100 fruitless steps, a second
    for _ in range(4):
        clock.now += 1.0
        alloc.sliced(0.05)
    clock.now += 1.0
    alloc.sliced(0.0)
    assert alloc.turn == pytest.approx(corealloc.MIN_SHARE)
    assert _steps(alloc, clock, 0.001) == round(100 * corealloc.MIN_SHARE)

    clock = Clock()
    alloc = Allocator(100, 60, clock)
    for _ in range(50):
        clock.now += 0.01
        alloc.listed(0.01)  # the lists improve at every step
    _steps(alloc, clock, 0.001)
    clock.now += 1.0
    alloc.sliced(0.0)
    assert alloc.turn == 1.0
    assert _steps(alloc, clock, 0.001) == 100


def test_an_idle_arm_drifts_back_to_the_prior() -> None:
    """Rates decay (:data:`corealloc.HALF_LIFE`): old gains weigh less than recent ones."""
    clock = Clock()
    alloc = Allocator(100, 60, clock)
    clock.now += 1.0
    alloc.listed(0.5)
    early = alloc.rate(LIST)
    clock.now += 10 * corealloc.HALF_LIFE
    alloc.sliced(0.0)
    assert alloc.rate(LIST) < early / 100
    assert alloc.rate(LNS) > 0  # the prior


def test_gain_is_relative() -> None:
    assert corealloc.gain(100, 90) == pytest.approx(0.1)
    assert corealloc.gain(100, 100) == 0.0
    assert corealloc.gain(None, 5) == 1.0
    assert corealloc.gain(5, None) == 0.0
    assert corealloc.scaled(0.25, 60) == 0.25
    assert corealloc.scaled(0.25, 30) == 0.25
    assert corealloc.scaled(0.25, 240) == pytest.approx(0.5)


def test_slow_fruitless_list_steps_hand_the_core_to_slices(monkeypatch: Any) -> None:
    """In the hybrid: a list search that finds nothing hands the core to CP-SAT's slices once
    its stall's seconds are spent, however many steps ``LNS_STALL`` says (before, a stall was
    steps only, and on large instances no slice ran in the whole budget). The full search is
    held back, so only the slices can improve the first serial schedule."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    def idle_full(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()
        self.done.wait()
        return cp_model.UNKNOWN

    stop = threading.Event()  # set once a slice ran (no wall-clock limit)
    sliced = hybrid._Hybrid._lns_slice

    def counted(self: Any, *args: Any) -> float:
        gain = sliced(self, *args)
        stop.set()
        return gain

    monkeypatch.setattr(hybrid._Hybrid, "_full", idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_lns_slice", counted)
    monkeypatch.setattr(LS, "step", lambda self: False)
    monkeypatch.setattr(hybrid, "LNS_STALL", 10**9)
    monkeypatch.setattr(corealloc, "STALL_SECONDS", 0.05)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    info = r.options["schedule_search"]["makespan"]
    assert info["lns_slices"] >= 1, info
