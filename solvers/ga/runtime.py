"""What every evolutionary loop of the GA shares: its settings, its clock and its log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskalloc.problems.plan import Assignment

Progress = Callable[[float, float, float | None], None]

MAX_LOG = 200  # rows of the per-generation log kept in the plan (thinned evenly beyond)
DEFAULT_TIME_LIMIT = 60.0
#: work units (see :class:`Clock`) per second of a deterministic limit: about what one core of
#: the 2-core development machine does in a second
UNITS_PER_SECOND = 5.0e7


@dataclass
class Settings:
    seed: int = 0
    time_limit: float | None = None
    generations: int | None = None
    population: int | None = None
    stagnation: int | None = None
    workers: int = 1
    hint: Sequence[Assignment] | None = None
    progress: Progress | None = None
    stop: threading.Event | None = None
    deterministic: bool = False  # the time limit counts work, not seconds (see Clock)
    extra: dict[str, Any] = field(default_factory=dict)


class Clock:
    """The time limit of a run, and the stop request.

    In deterministic mode (``Settings.deterministic``) the limit is not wall-clock time but
    work: ``work()`` (units the engine counts as it decodes and searches, roughly matrix cells
    scored) against ``limit x UNITS_PER_SECOND``. The same problem, seed and limit then stop at
    the same point of the search on every run and machine (as CP-SAT's deterministic time);
    how long that takes in seconds depends on the machine. A stop request still stops at once.
    """

    def __init__(self, s: Settings) -> None:
        self.t0 = time.perf_counter()
        limit = s.time_limit
        if limit is None and s.generations is None:
            limit = DEFAULT_TIME_LIMIT
        self.deadline = None if limit is None else self.t0 + limit
        self.stop = s.stop
        self.deterministic = s.deterministic
        self.work: Callable[[], float] | None = None
        self.budget = None if limit is None else limit * UNITS_PER_SECOND

    def count(self, work: Callable[[], float]) -> None:
        """The engine's work counter (used in deterministic mode only)."""
        if self.deterministic:
            self.work = work

    def reserve(self, seconds: float) -> None:
        """Keep ``seconds`` (at most 10 % of the limit) for the work after the search."""
        if self.deadline is not None:
            self.deadline -= min(seconds, 0.1 * (self.deadline - self.t0))

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float | None:
        """Wall-clock seconds left (None: no limit, or a deterministic run)."""
        if self.deadline is None or self.work is not None:
            return None
        return max(0.0, self.deadline - time.perf_counter())

    def out(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
        if self.work is not None:
            return self.budget is not None and self.work() > self.budget
        return self.deadline is not None and time.perf_counter() > self.deadline


class GenerationLog:
    """The per-generation log, thinned to at most MAX_LOG rows (every 2nd, then 4th, ...)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.stride = 1

    def add(self, row: dict[str, Any], last: bool = False) -> None:
        if row["generation"] % self.stride and not last:
            return
        self.rows.append(row)
        if len(self.rows) > MAX_LOG:
            self.stride *= 2
            self.rows = [r for r in self.rows if r["generation"] % self.stride == 0]
