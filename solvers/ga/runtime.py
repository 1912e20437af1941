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
    extra: dict[str, Any] = field(default_factory=dict)


class Clock:
    def __init__(self, s: Settings) -> None:
        self.t0 = time.perf_counter()
        limit = s.time_limit
        if limit is None and s.generations is None:
            limit = DEFAULT_TIME_LIMIT
        self.deadline = None if limit is None else self.t0 + limit
        self.stop = s.stop

    def reserve(self, seconds: float) -> None:
        """Keep ``seconds`` (at most 10 % of the limit) for the work after the search."""
        if self.deadline is not None:
            self.deadline -= min(seconds, 0.1 * (self.deadline - self.t0))

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def out(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
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
