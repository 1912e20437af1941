"""The one clock every engine shares: time, stop, trajectory and progress points."""

from __future__ import annotations

import threading

from taskalloc.solvers.clock import Clock, Point


def test_record_appends_triples_and_tells_progress_the_term() -> None:
    seen: list[Point] = []
    clock = Clock(None, progress=seen.append)
    clock.record(5.0, 3.0, "cost")
    clock.record(4.0, None, "fitness")
    assert [p[1:] for p in clock.trajectory] == [(5.0, 3.0), (4.0, None)]
    assert [p.term for p in seen] == ["cost", "fitness"]
    assert [p[:3] for p in seen] == clock.trajectory
    assert all(p.seconds >= 0 for p in seen)


def test_no_bound_below_zero() -> None:
    seen: list[Point] = []
    clock = Clock(None, progress=seen.append)
    clock.record(2.0, -1e-12, "unplaced")
    clock.record_new(1.0, -3.0, "cost")
    clock.improve(0.5, -0.5, "cost")
    assert [p.bound for p in seen] == [0.0, 0.0, 0.0]
    assert all(b == 0.0 for _, _, b in clock.trajectory)


def test_record_new_skips_a_repeat_and_improve_only_better_values() -> None:
    clock = Clock(None)
    clock.record_new(3.0, 1.0)
    clock.record_new(3.0, 1.0)
    clock.record_new(3.0, 2.0)
    assert len(clock.trajectory) == 2
    clock.new_stage()
    clock.improve(9.0)
    clock.improve(9.0)
    clock.improve(10.0)
    clock.improve(8.0)
    assert [v for _, v, _ in clock.trajectory[2:]] == [9.0, 8.0]
    clock.new_stage()  # a new term: any value is an improvement
    clock.improve(50.0)
    assert clock.trajectory[-1][1] == 50.0


def test_tighten_records_a_risen_bound_at_the_stage_s_last_value() -> None:
    seen: list[Point] = []
    clock = Clock(None, progress=seen.append)
    clock.record_new(0.0, 0.0, "unplaced")
    clock.new_stage()
    clock.tighten(2.0, "cost")  # no plan in this stage yet: nothing to draw it against
    clock.improve(9.0, 1.0, "cost")
    clock.tighten(1.0, "cost")  # not above the last bound
    clock.tighten(4.0, "cost")
    clock.tighten(5.0, "cost", every=3600.0)  # too soon after the last point
    clock.improve(8.0, 4.0, "cost")
    clock.tighten(8.0, "cost")
    assert [p[1:] for p in clock.trajectory[1:]] == [(9.0, 1.0), (9.0, 4.0), (8.0, 4.0), (8.0, 8.0)]
    assert [p.term for p in seen[1:]] == ["cost"] * 4


def test_limits_wall_and_deterministic() -> None:
    assert Clock(None).remaining() is None and Clock(None).deadline is None
    assert not Clock(None).out()
    clock = Clock(10.0, deterministic=True)
    assert clock.remaining() == 10.0  # no deterministic time spent yet
    clock.charge(4.0)
    assert clock.used() == 4.0 and clock.remaining() == 6.0
    clock.charge(7.0)
    assert clock.out()
    wall = Clock(100.0)
    assert 99.0 < (wall.remaining() or 0) <= 100.0
    assert wall.deadline == wall.t0 + 100.0
    wall.reserve(50.0)  # at most 10 % of the limit
    assert wall.time_limit == 90.0
    assert Clock(0.0).out()


def test_stop_request() -> None:
    stop = threading.Event()
    clock = Clock(None, stop=stop)
    assert not clock.stop_requested() and not clock.out()
    stop.set()
    assert clock.stop_requested() and clock.out()


# -- stopping (the CLI's signals: docs/architecture.md, "Stopping") --------------------------


def test_a_signal_in_a_preparing_block_raises_stopped_once() -> None:
    import pytest

    from taskalloc.solvers.clock import Stop, Stopped, interrupt_preparation, preparing

    interrupt_preparation()  # outside a block: nothing happens
    stop = Stop()
    reached = []
    with pytest.raises(Stopped), preparing(stop):
        reached.append(1)
        interrupt_preparation()  # what the CLI's signal handler does in the main thread
        reached.append(2)
    assert reached == [1]
    interrupt_preparation()  # the block is over: nothing happens


def test_a_stop_set_before_a_preparing_block_does_not_skip_it() -> None:
    import threading

    from taskalloc.solvers.clock import preparing

    stop = threading.Event()
    stop.set()
    ran = False
    with preparing(stop):
        ran = True
    assert ran


def test_a_stopped_cli_run_keeps_its_model_and_an_api_run_frees_it() -> None:
    import gc
    import threading
    import weakref

    from taskalloc.solvers import clock

    class Model:
        pass

    api_stop = threading.Event()
    api_stop.set()
    model = Model()
    ref = weakref.ref(model)
    clock.abandon(api_stop, model)
    del model
    assert ref() is None  # a plain event: freed as usual

    enabled = gc.isenabled()
    held = clock._HELD
    cli_stop = clock.Stop()
    cli_stop.set()
    model = Model()
    ref = weakref.ref(model)
    try:
        clock.abandon(cli_stop, model)
        del model
        assert ref() is not None  # kept for the process's exit
        assert not gc.isenabled() and clock.collector_held()
    finally:
        clock._ABANDONED.clear()
        clock._HELD = held
        if enabled:
            gc.enable()


def test_a_stop_signalled_from_a_handler_reads_as_set() -> None:
    from taskalloc.solvers.clock import Stop

    stop = Stop()
    assert not stop.is_set()
    stop.signalled = True  # what the main thread's handler does (never the event's lock)
    assert stop.is_set()
