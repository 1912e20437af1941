"""One run's clock: its time limit, the stop request, and the trajectory it reports.

Every engine measures time, polls ``stop`` and records its improving points the same way,
through one :class:`Clock`: ``trajectory`` holds ``(seconds, value, bound)`` triples (what the
plan file records under ``solver.trajectory``) and each recorded point also goes to the
``progress`` callback as a :class:`Point`, which names what the value measures (an objective
term such as ``cost``, ``weighted`` for a weighted sum, ``fitness`` for the GA's scalar).

Every objective term, and every weighted sum of them, is at least 0 (FORMATS.md: amounts,
costs, priorities and weights are >= 0), so a bound below 0 (a solver's relaxation, or a
rounding error of -1e-12) is recorded as 0.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple


class Point(NamedTuple):
    """One point of a search's progress."""

    seconds: float  #: since the run started
    value: float  #: the incumbent: the best plan's value of ``term``
    bound: float | None  #: a proven lower bound of ``term`` (None: none known)
    term: str | None  #: what ``value`` measures: an objective term, "weighted" or "fitness"


Progress = Callable[[Point], None]
Trajectory = list[tuple[float, float, float | None]]


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

    def improve(self, value: float, bound: float | None = None, term: str | None = None) -> None:
        """:meth:`record` only a value below the last one of the stage."""
        if self._best is not None and value >= self._best:
            return
        self._best = value
        self.record(value, bound, term)
