"""While an engine runs: progress lines on stderr, and Ctrl-C or SIGTERM as a graceful stop."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .console import fmt, say

if TYPE_CHECKING:
    from taskalloc.problems.problem import Objective
    from taskalloc.solvers.clock import Point

#: seconds between two progress lines of the same stage
EVERY = 0.5


class ProgressLines:
    """One line per improvement on stderr, at most two a second for the same objective:
    the stage (``stage 2/3 cost`` of a lexicographic objective, ``weighted sum``), the
    incumbent (the best plan's value), the bound and the gap when the engine proves one.
    The GA's incumbent is its scalar fitness, which the first line explains."""

    def __init__(self, engine: str, objective: Objective) -> None:
        self.engine = engine
        self.terms = list(objective.terms) if objective.kind == "lexicographic" else []
        self.last = -1.0
        self.term: str | None = None
        self.explained = False

    def stage(self, term: str | None) -> str:
        if term == "weighted":
            return "weighted sum"
        if term == "fitness":
            return "fitness"
        if term in self.terms and len(self.terms) > 1:
            return f"stage {self.terms.index(term) + 1}/{len(self.terms)} {term}"
        return term or "objective"

    def __call__(self, point: Point) -> None:
        if point.seconds - self.last < EVERY and point.term == self.term:
            return
        if point.term == "fitness" and not self.explained:
            self.explained = True
            say(
                f"{self.engine}: the incumbent is the scalar fitness of the best feasible plan "
                "(the whole objective as one number, lower is better; a GA proves no bound)"
            )
        self.last, self.term = point.seconds, point.term
        line = f"{self.engine} {point.seconds:7.2f} s  {self.stage(point.term)}  "
        line += f"incumbent {fmt(point.value)}"
        if point.bound is not None:
            bound = max(0.0, point.bound)  # no term is ever below 0
            gap = abs(point.value - bound) / max(abs(point.value), 1e-9) * 100
            line += f"  bound {fmt(bound)}  gap {gap:.2f} %"
        say(line)


@contextlib.contextmanager
def graceful_stop(stop: threading.Event, message: str) -> Iterator[None]:
    """While the block runs, the first Ctrl-C or SIGTERM sets ``stop`` (the engine ends with
    its best plan, a batch with the plans it finished) and says ``message``; a second one
    interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say(message)

    saved: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # outside the main thread (e.g. some test runners) signals cannot be handled
        with contextlib.suppress(ValueError):
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


#: what a single solve says on the first Ctrl-C
STOPPING = "stopping: finishing with the best plan found so far (Ctrl-C again to abort)"
