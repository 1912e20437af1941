"""What every evolutionary loop of the GA shares: its settings, its clock and its log."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskalloc.problems.plan import Assignment

from ..clock import Clock as BaseClock
from ..clock import Progress

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


class Clock(BaseClock):
    """The time limit of a run, the stop request and the trajectory (:class:`..clock.Clock`).

    In deterministic mode (``Settings.deterministic``) the limit is not wall-clock time but
    work: ``work()`` (units the engine counts as it decodes and searches, roughly matrix cells
    scored) against ``limit x UNITS_PER_SECOND``. The same problem, seed and limit then stop at
    the same point of the search on every run and machine (as CP-SAT's deterministic time);
    how long that takes in seconds depends on the machine. A stop request still stops at once.
    """

    def __init__(self, s: Settings) -> None:
        limit = s.time_limit
        if limit is None and s.generations is None:
            limit = DEFAULT_TIME_LIMIT
        if limit is not None and math.isinf(limit):
            limit = None
        super().__init__(limit, stop=s.stop, progress=s.progress, deterministic=s.deterministic)
        self.work: Callable[[], float] | None = None

    def count(self, work: Callable[[], float]) -> None:
        """The engine's work counter (used in deterministic mode only)."""
        if self.deterministic:
            self.work = work

    def used(self) -> float:
        """Work units as seconds of limit in deterministic mode, else wall-clock seconds."""
        if self.work is not None:
            return self.work() / UNITS_PER_SECOND
        return self.elapsed()


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
