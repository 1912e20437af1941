"""While an engine runs: progress lines on stderr, and Ctrl-C or SIGTERM as a graceful stop.

Signals, for every command (:func:`install_signals`, called once by ``main``):

- While a run is under way (:func:`graceful_stop`: ``solve``, batches, fronts, ``compare``),
  the first SIGINT or SIGTERM sets the run's stop event: the engine ends with its best plan,
  which is checked and written, and the command exits 130. Every engine returns within about
  a second of the event (docs/architecture.md, "Stopping"); if it has not returned
  :data:`STOP_GRACE` seconds after the signal, the process exits 130 without a plan. Once the
  search is over (:func:`taskalloc.solvers.clock.finishing`: the plan is being made, checked and
  written, work proportional to the problem's size), it gets up to :data:`FINISH_GRACE`.
- Outside a run (loading, other commands), the first signal interrupts at once: exit 130, no
  output replaced (every file is written atomically), with the same deadline.
- A second signal exits 130 at once (``os._exit``): the temporary files of writes under way are
  removed, worker processes killed, and no output is replaced.

How: Python runs signal handlers only in the main thread, between bytecodes, and a native solve
(CP-SAT, SCIP, HiGHS) can hold the main thread for its whole time limit. So the C-level handler
Python installs also writes each signal's number to a pipe (``signal.set_wakeup_fd``), and a
watcher thread reading that pipe does the work at once, whatever the main thread is doing.
Native solvers must not install handlers of their own (:mod:`taskalloc.solvers.native`).
"""

from __future__ import annotations

import contextlib
import logging  # before any handler is installed: see _quiet_libraries
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from taskalloc.solvers.clock import Stop, hold_collector, interrupt_preparation

from .console import fmt, say, say_long, tell

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
            say_long(
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


#: seconds a run has to return its best plan after the first signal, before the process exits
#: without one (engines stop in well under a second: benchmarks/bench_interrupt.py)
STOP_GRACE = 1.5
#: seconds after the first signal by which a run whose search is over (its plan being checked
#: and written) must be done
FINISH_GRACE = 20.0
#: what a single solve says on the first Ctrl-C
STOPPING = "stopping: finishing with the best plan found so far (Ctrl-C again to abort)"

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Watcher:
    """The process's signal handling (one instance, made by :func:`install_signals`)."""

    def __init__(self) -> None:
        self.stop: threading.Event | None = None  # the run under way, if any
        self.message = ""
        self.count = 0  # signals received
        self.graceful = 0  # of which handled by stopping a run (never a KeyboardInterrupt)
        self.raised = False  # a KeyboardInterrupt was raised (outside a run)
        self.first_at: float | None = None
        self.lock = threading.Lock()
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.saved_handlers: dict[int, Any] = {}
        self.saved_fd = -1
        self.closing = False
        self.thread = threading.Thread(target=self._loop, name="taskalloc-signals", daemon=True)

    # -- installing ------------------------------------------------------------------------

    def start(self) -> None:
        """Install the handlers and the wakeup pipe (main thread only: ValueError otherwise)."""
        self.saved_fd = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        for sig in _SIGNALS:
            self.saved_handlers[sig] = signal.signal(sig, self._handler)
        self.thread.start()

    def close(self) -> None:
        """Put back what :meth:`start` replaced and end the thread."""
        for sig, old in self.saved_handlers.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(self.saved_fd)
        self.closing = True
        with contextlib.suppress(OSError):
            os.write(self.write_fd, b"\0")
        self.thread.join(2)
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- in the main thread: Python's handler ----------------------------------------------

    def _handler(self, signum: int, frame: Any) -> None:
        """Outside a run, the first signal interrupts the command (KeyboardInterrupt: exit
        130); during one, the watcher thread has set its stop already, and a model being
        built is abandoned (:func:`taskalloc.solvers.clock.preparing`). Later signals are the
        watcher's (it exits at once)."""
        with self.lock:
            stop = self.stop
            running = stop is not None
            first = not (running or self.graceful or self.raised)
            self.raised = self.raised or first
        if isinstance(stop, Stop):  # seen as set at once, before the watcher sets it
            stop.signalled = True
        if running:
            _quiet_libraries()
            interrupt_preparation()
        elif first:
            raise KeyboardInterrupt

    # -- in the watcher thread -------------------------------------------------------------

    def _loop(self) -> None:
        while not self.closing:
            timeout = None if self.first_at is None else 0.05
            try:
                ready, _, _ = select.select([self.read_fd], [], [], timeout)
            except (OSError, ValueError):
                return
            if ready:
                try:
                    data = os.read(self.read_fd, 64)
                except BlockingIOError:
                    data = b""
                except OSError:
                    return
                for signum in data:
                    if signum in _SIGNALS and not self.closing:
                        self._signal(signum)
            if self.first_at is not None and not self.closing:
                self._check_deadline()

    def _signal(self, signum: int) -> None:
        if self.stop is not None and not self.count:
            _quiet_libraries()  # before the stop (taking logging's lock: not under ours)
        with self.lock:
            self.count += 1
            if self.count > 1:
                _abort("aborted: no plan written")
            self.first_at = time.monotonic()
            stop = self.stop
            if stop is not None:
                # under the lock: once the run's block is left (graceful_stop), either the
                # stop is set and its line under way, or neither; the line comes before any
                # line the command prints after it sees the stop (console.tell)
                self.graceful += 1
                hold_collector()  # no collection of a solver's model (seconds) on the way out
                _tell(self.message)
                stop.set()

    def _check_deadline(self) -> None:
        assert self.first_at is not None
        waited = time.monotonic() - self.first_at
        with self.lock:
            stop = self.stop
        if stop is None:
            if self.graceful:  # the run is over; the command writes what it found
                if waited > FINISH_GRACE:
                    _abort(f"interrupted: the output was not written within {FINISH_GRACE:g} s")
                return
            if waited > STOP_GRACE:
                _abort("interrupted")
            return
        if getattr(stop, "finishing", False):
            if waited > FINISH_GRACE:
                _abort(f"interrupted: the plan was not written within {FINISH_GRACE:g} s")
        elif waited > STOP_GRACE:
            _show_main_stack()
            _abort(f"interrupted: the search did not stop within {STOP_GRACE:g} s; no plan written")


def _show_main_stack() -> None:
    """With --debug, where the main thread was when a run failed to stop in time (a loop that
    polls no stop, a native call that cannot be interrupted): what to fix."""
    from .console import Settings

    if not Settings.debug:
        return
    import traceback

    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    if frame is not None:
        text = "".join(traceback.format_stack(frame))
        with contextlib.suppress(OSError):
            os.write(2, f"the main thread, still running:\n{text}".encode())


def _quiet_libraries() -> None:
    """Drop the log records of libraries from now on: Pyomo logs a model build abandoned by
    the stop (:func:`taskalloc.solvers.clock.preparing`) as an error of its own.

    ``logging`` is imported with this module, before the handlers are installed: imported
    here, a signal that came while a library (OR-Tools) was importing it found the module
    half-initialised, and ``logging.disable`` raised AttributeError inside that import (exit
    70 instead of 130)."""
    logging.disable(logging.CRITICAL)


def _tell(message: str) -> None:
    """A line on stderr from the watcher thread, written by another thread so that a stderr
    nobody reads can never keep the watcher from the next signal, and before any line the
    command prints after it (:func:`taskalloc.cli.console.tell`)."""
    tell(message)


def _abort(message: str) -> None:
    """Exit 130 now: remove the temporary files of writes under way, kill worker processes."""
    from taskalloc.problems.files import remove_temporaries

    with contextlib.suppress(Exception):
        remove_temporaries()
    _kill_children()
    with contextlib.suppress(OSError):
        os.write(2, f"{message}\n".encode())
    os._exit(130)


def _kill_children() -> None:
    """Kill the worker processes of this one (a GA's pool, a batch's workers)."""
    with contextlib.suppress(Exception):
        import multiprocessing

        for child in multiprocessing.active_children():
            child.kill()


def exit_interrupted() -> None:
    """End an interrupted command now that its output is written: flush the standard streams
    and exit 130 without tearing the interpreter down (collecting a solver's model of
    millions of objects takes seconds), worker processes killed."""
    from .console import flush_told

    flush_told()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    _kill_children()
    os._exit(130)


def settle() -> None:
    """The command ended on its own: ignore SIGINT and SIGTERM for the rest of the process.
    As the interpreter tears down it puts back the default dispositions of the signals it
    handled, and a signal then (delivered to any thread: blocking it in the main thread is not
    enough) killed a finished run (exit -15, its plan written); an ignored signal is left
    alone. A signal that came as the command ended, whose handler is still due, makes the exit
    130, as the command's own handling would have."""
    received = False
    try:
        for sig in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, signal.SIG_IGN)
        received = _WATCHER is not None and _WATCHER.raised
    except KeyboardInterrupt:  # the handler of a signal that came as the command ended
        received = True
    if received:
        with contextlib.suppress(OSError):
            os.write(2, b"interrupted\n")
        exit_interrupted()


_WATCHER: _Watcher | None = None


def _after_fork_in_child() -> None:
    """A process forked by a run (the GA's pool) leaves signals to its parent, which stops it:
    it neither writes to the parent's wakeup pipe nor dies of a terminal's Ctrl-C."""
    global _WATCHER
    if _WATCHER is None:
        return
    _WATCHER = None
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


os.register_at_fork(after_in_child=_after_fork_in_child)


def install_signals() -> bool:
    """Handle SIGINT and SIGTERM for the rest of the process (see the module docstring);
    False outside the main thread, where Python cannot handle signals."""
    global _WATCHER
    if _WATCHER is not None:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    watcher = _Watcher()
    try:
        watcher.start()
    except ValueError:
        return False
    _WATCHER = watcher
    return True


@contextlib.contextmanager
def graceful_stop(stop: threading.Event, message: str) -> Iterator[None]:
    """While the block runs, the first Ctrl-C or SIGTERM sets ``stop`` (the engine ends with
    its best plan, a batch with the plans it finished) and says ``message``; a second one
    exits at once (see the module docstring). Installs the signal handling for the block when
    the process has none yet (a command run in-process, as tests do)."""
    global _WATCHER
    own = _WATCHER is None and install_signals()
    watcher = _WATCHER
    if watcher is None:  # not the main thread: no signals here
        yield
        return
    with watcher.lock:
        saved = watcher.stop, watcher.message
        watcher.stop, watcher.message = stop, message
    try:
        yield
    finally:
        with watcher.lock:
            watcher.stop, watcher.message = saved
        if own:
            _WATCHER = None
            watcher.close()
