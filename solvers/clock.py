"""One run's clock: its time limit, the stop request, and the trajectory it reports.

Every engine measures time, polls ``stop`` and records its improving points the same way,
through one :class:`Clock`: ``trajectory`` holds ``(seconds, value, bound)`` triples (what the
plan file records under ``solver.trajectory``) and each recorded point also goes to the
``progress`` callback as a :class:`Point`, which names what the value measures (an objective
term such as ``cost``, ``weighted`` for a weighted sum, ``fitness`` for the GA's scalar).

Every objective term, and every weighted sum of them, is at least 0 (FORMATS.md: amounts,
costs, priorities and weights are >= 0), so a bound below 0 (a solver's relaxation, or a
rounding error of -1e-12) is recorded as 0.

Stopping: a run's ``stop`` is an event (:class:`Stop` from the CLI, any ``threading.Event``
from the API). Whatever runs long polls it: the engines through :meth:`Clock.out` (their
loops, every generation, every sub-solve), native solvers through a thread that calls their
``stop_search()`` or ``InterruptSolve()`` when it is set (:mod:`.native`), and any other loop
of more than a fraction of a second (model building, a heuristic's passes) through
:func:`stop_set` or :meth:`Clock.stop_requested`, ending with the best plan it has. The CLI
gives a run about a second and a half to return once the event is set (docs/architecture.md,
"Stopping").
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple


class Point(NamedTuple):
    """One point of a search's progress."""

    seconds: float  #: since the run started
    value: float  #: the incumbent: the best plan's value of ``term``
    bound: float | None  #: a proven lower bound of ``term`` (None: none known)
    term: str | None  #: what ``value`` measures: an objective term, "weighted" or "fitness"


Progress = Callable[[Point], None]
Trajectory = list[tuple[float, float, float | None]]


class Stop(threading.Event):
    """A run's stop request (``set()`` asks the engine to end with its best plan), which also
    says when the search is over: ``finishing`` is True while the plan is being made, checked
    and written (:func:`finishing`). The CLI's signal handling reads it to give that work,
    proportional to the problem's size, its time instead of exiting without the plan."""

    def __init__(self) -> None:
        super().__init__()
        self.finishing = False
        #: set by a signal handler in the main thread, which must not take the event's lock
        #: (the thread it interrupted may hold it); the CLI's watcher thread sets the event
        self.signalled = False

    def is_set(self) -> bool:
        return self.signalled or super().is_set()


def finishing(stop: threading.Event | None) -> None:
    """Say that the search of the run stopped by ``stop`` is over (see :class:`Stop`)."""
    if isinstance(stop, Stop):
        stop.finishing = True


#: what runs stopped by a signal left behind (:func:`abandon`), never freed
_ABANDONED: list[object] = []


def abandon(stop: threading.Event | None, *objects: object) -> None:
    """Keep ``objects`` (a solver's model of millions of objects) alive for the rest of the
    process when ``stop`` is a set :class:`Stop`: the CLI exits right after writing the plan,
    and freeing such a model first (seconds, the main thread holding the interpreter) would
    hold up the exit. The cyclic collector stays off for the same reason. A plain event (the
    Python API) frees them as usual."""
    if isinstance(stop, Stop) and stop.is_set():
        hold_collector()
        _ABANDONED.extend(objects)


_HELD = False


def hold_collector() -> None:
    """Turn the cyclic garbage collector off for the rest of the process (the CLI, on a
    signal: a full collection over a solver's model takes seconds); code that pauses it
    (``gc_paused``) leaves it off (:func:`collector_held`)."""
    global _HELD
    _HELD = True
    gc.disable()


def collector_held() -> bool:
    """True once :func:`hold_collector` was called."""
    return _HELD


def stop_set(stop: threading.Event | None) -> bool:
    """True when ``stop`` is given and set: what a long loop without a :class:`Clock` polls."""
    return stop is not None and stop.is_set()


class Stopped(Exception):
    """The run's stop came while it was preparing (:func:`preparing`): the engine catches it
    and returns what it has, usually no plan."""


class _Region:
    """One :func:`preparing` block of the main thread."""

    __slots__ = ("active", "raised")

    def __init__(self) -> None:
        self.active = True
        self.raised = False


_REGIONS: list[_Region] = []


@contextlib.contextmanager
def preparing(stop: threading.Event | None) -> Iterator[None]:
    """A stretch of preparation (building a model in Python: Pyomo, CP-SAT's model) that polls
    nothing and that a signal may cut short: in the main thread, the CLI's signal handler
    raises :class:`Stopped` inside the block (:func:`interrupt_preparation`), so that a model
    that takes seconds to build never holds up a Ctrl-C. A stop set before the block does not
    skip it (a run stopped before it starts still ends with its warm start, as the engines
    promise). The block must be safe to abandon at any instant: what it builds is thrown
    away. Elsewhere (other threads, the Python API without signals) the block runs to its end
    and the engine's own polls take over after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    region = _Region()
    _REGIONS.append(region)
    try:
        yield
    except Stopped as exc:
        # what the block built lives on in the frames of the traceback: never free it
        abandon(stop, exc.__traceback__)
        raise
    finally:
        region.active = False
        with contextlib.suppress(ValueError):
            _REGIONS.remove(region)


def interrupt_preparation() -> None:
    """Called by a signal handler (which Python runs in the main thread): raise
    :class:`Stopped` when the main thread is inside a :func:`preparing` block (once per
    block)."""
    for region in _REGIONS:
        if region.active and not region.raised:
            region.raised = True
            raise Stopped


class Clock:
    """Time, stop request and trajectory of one run.

    ``time_limit`` None means no limit. With ``deterministic``, :meth:`used` and
    :meth:`remaining` count the deterministic time charged with :meth:`charge` (CP-SAT's
    work units) instead of wall-clock seconds.
    """

    def __init__(
        self,
        time_limit: float | None,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        deterministic: bool = False,
        t0: float | None = None,
    ) -> None:
        self.t0 = time.perf_counter() if t0 is None else t0
        self.time_limit = time_limit
        self.stop = stop
        self.progress = progress
        self.deterministic = deterministic
        self.det_used = 0.0
        self.trajectory: Trajectory = []
        self._best: float | None = None  # last value of :meth:`improve` since :meth:`new_stage`

    # -- time ----------------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Wall-clock seconds since the run started."""
        return time.perf_counter() - self.t0

    def charge(self, deterministic_seconds: float) -> None:
        """Count deterministic time spent by a solver."""
        self.det_used += deterministic_seconds

    def used(self) -> float:
        """What the limit is measured against: deterministic or wall-clock time."""
        return self.det_used if self.deterministic else self.elapsed()

    def remaining(self) -> float | None:
        """Time left (None: no limit); may be negative once the limit has passed."""
        if self.time_limit is None:
            return None
        return self.time_limit - self.used()

    @property
    def deadline(self) -> float | None:
        """The wall-clock end of the limit, in ``time.perf_counter()`` seconds (None: none)."""
        return None if self.time_limit is None else self.t0 + self.time_limit

    def reserve(self, seconds: float) -> None:
        """Keep ``seconds`` (at most 10 % of the limit) for the work after the search."""
        if self.time_limit is not None:
            self.time_limit -= min(seconds, 0.1 * self.time_limit)

    def stop_requested(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def out(self) -> bool:
        """Stop requested, or no time left."""
        left = self.remaining()
        return self.stop_requested() or (left is not None and left <= 0)

    # -- trajectory ----------------------------------------------------------------------------

    def record(self, value: float, bound: float | None = None, term: str | None = None) -> None:
        """Append a point and tell ``progress``."""
        if bound is not None and bound < 0:
            bound = 0.0
        point = Point(self.elapsed(), value, bound, term)
        self.trajectory.append(point[:3])
        if self.progress is not None:
            self.progress(point)

    def record_new(self, value: float, bound: float | None = None, term: str | None = None) -> None:
        """:meth:`record`, unless the last point has the same value and bound."""
        if bound is not None and bound < 0:
            bound = 0.0
        if self.trajectory and self.trajectory[-1][1:] == (value, bound):
            return
        self.record(value, bound, term)

    def new_stage(self) -> None:
        """A new objective begins: :meth:`improve` forgets the last value."""
        self._best = None

    def tighten(self, bound: float, term: str | None = None, every: float = 0.0) -> None:
        """A better bound without a better plan: a point at the stage's last :meth:`improve`
        value (none yet: nothing to record), when the bound rose above the last point's and
        ``every`` seconds have passed since it (the stage's end records the final bound)."""
        if self._best is None or not self.trajectory:
            return
        at, _, last = self.trajectory[-1]
        if last is not None and bound <= last:
            return
        if self.elapsed() - at < every:
            return
        self.record(self._best, bound, term)

    def improve(self, value: float, bound: float | None = None, term: str | None = None) -> None:
        """:meth:`record` only a value below the last one of the stage."""
        if self._best is not None and value >= self._best:
            return
        self._best = value
        self.record(value, bound, term)
