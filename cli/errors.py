"""The one error boundary: every failure of a command becomes lines on stderr and an exit code.

The library speaks of options and engines (``option backend='ortools-scip'``, ``engine
cpsat``); :func:`in_flags` writes such messages with this command's flags (``--backend
ortools-scip``, ``-s cpsat``), here and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from .console import Fail, Settings, err_console, print_long, printable
from .exits import ExitCode

T = TypeVar("T")

#: options whose flag is not ``--`` + the name with dashes
_FLAGS = {"solver": "-s"}
#: library options that have a flag (those of `solve`; `report`'s view and format); the others
#: are given as ``-O NAME=VALUE``
FLAGGED = frozenset(
    {
        "time_limit",
        "seed",
        "workers",
        "deterministic",
        "hint",
        "policy",
        "backend",
        "gap",
        "generations",
        "population",
        "points",
        "executor",
        "solver",
        "pareto",
        "view",
        "format",
    }
)

#: how library messages name an option with a value: option backend='ortools-scip'
_OPTION = re.compile(r"\boption (\w+)='([^']*)'")


def flag(option: str) -> str:
    """How the command line gives a library option: ``time_limit`` -> ``--time-limit``,
    ``passes`` (no flag of its own) -> ``-O passes``."""
    if option not in FLAGGED:
        return f"-O {option}"
    return _FLAGS.get(option, "--" + option.replace("_", "-"))


def engine_flag(name: str) -> str:
    return f"-s {name}"


def in_flags(message: str) -> str:
    """A library message with options and engines written as this command's flags."""
    from taskalloc.solvers import ENGINES

    def option(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        return f"{flag(name)} {value}" if name in FLAGGED else f"-O {name}={value}"

    message = _OPTION.sub(option, message)
    names = "|".join(re.escape(n) for n in ["auto", *ENGINES])
    return re.sub(rf"\bengines? ({names})\b", lambda m: engine_flag(m.group(1)), message)


#: how the library names the changes of replan and whatif (``fail n11: ...``), longest first
_CHANGES = re.compile(
    r"^(fail each pool|fail each node|fail zone|scale demand|scale capacity|max moves|fail|"
    r"drain|add|remove|now)(?=[ :])"
)


def change_flag(message: str) -> str:
    """A replan or whatif message with its change written as the flag that gave it:
    ``fail n11: no node ...`` -> ``--fail n11: no node ...``."""
    return _CHANGES.sub(lambda m: "--" + m.group(1).replace(" ", "-"), message, count=1)


def run_guarded(invoke: Callable[[], T]) -> T:
    """Run a command; turn every failure into lines on stderr and an exit code (typer.Exit).

    This is the only place where exceptions become exit codes. Usage errors of the parser
    (exit 2) are handled by typer itself before a command runs. Standard output is flushed
    here, so that a full or closed stdout is the command's failure (exit 74), not a message
    of the interpreter as it exits.
    """
    try:
        result = invoke()
        _flush_stdout()
        return result
    except (typer.Exit, typer.Abort, typer.TyperException):
        with contextlib.suppress(BaseException):  # exits with the command's own code
            _flush_stdout()
        raise
    except BaseException as exc:  # classified below, importing only what it needs
        raise typer.Exit(int(_report(exc))) from None


def _flush_stdout() -> None:
    """Flush stdout inside the boundary; once it failed, point it at /dev/null so that the
    interpreter's own flush at exit has nothing left to fail on."""
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        return
    try:
        stream.flush()
    except OSError:
        _drop_stdout()
        raise


def _drop_stdout() -> None:
    """Point file descriptor 1 at /dev/null (what is buffered for it is dropped)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


#: system errors of the user's environment, not bugs of ours: exit 74 (EX_IOERR) with one line
_ENVIRONMENT = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EIO,
        errno.EFBIG,
        errno.EACCES,
        errno.EPERM,
        errno.EBADF,
        errno.ENXIO,
    }
)


def _plot_unavailable(exc: BaseException) -> bool:
    """Charts asked for without matplotlib (the [plot] extra): exit 2, like an engine whose
    backend is not installed."""
    from taskalloc.charts import PlotUnavailable

    return isinstance(exc, PlotUnavailable)


def _report(exc: BaseException) -> ExitCode:
    """Print what went wrong; return the exit code (re-raise with --debug or a system exit)."""
    if isinstance(exc, KeyboardInterrupt):
        # before any import: a Ctrl-C that came during a lazy import (numpy's, under a
        # solver's) leaves that module half-loaded, and importing it again raises ImportError
        # ("cannot load module more than once per process"): a traceback instead of exit 130
        err_console().print("interrupted")
        return ExitCode.INTERRUPTED
    from taskalloc.problems.files import OutputError, WriteError, reason
    from taskalloc.problems.replan import ReplanError
    from taskalloc.problems.source import InputError
    from taskalloc.solvers import SolverUnavailable
    from taskalloc.solvers.engine import OptionError

    console = err_console()
    if isinstance(exc, Fail):
        for line in exc.lines:
            if exc.wrap:
                print_long(line)
            else:
                console.print(printable(line))
        return exc.code
    if isinstance(exc, InputError):
        for d in exc.diagnostics:
            console.print(printable(str(d)))
        if exc.total > len(exc.diagnostics):
            console.print(f"... and {exc.total - len(exc.diagnostics)} more errors")
        return ExitCode.BAD_INPUT
    if isinstance(exc, OptionError):
        exc.valid = [v for v in exc.valid if v not in ("stop", "progress")]  # not settable here
        console.print(printable(in_flags(exc.render(flag))))
        return ExitCode.BAD_INPUT
    if isinstance(exc, SolverUnavailable):
        console.print(printable(in_flags(str(exc))))
        return ExitCode.BAD_INPUT
    if isinstance(exc, ReplanError):  # a change naming what the problem does not have
        console.print(printable(change_flag(str(exc))))
        return ExitCode.BAD_INPUT
    if isinstance(exc, OutputError):  # an output refused: an input, a directory, no-clobber
        console.print(printable(str(exc)))
        return ExitCode.BAD_INPUT
    if isinstance(exc, WriteError) or (
        isinstance(exc, OSError) and exc.errno in _ENVIRONMENT and not Settings.debug
    ):  # the system could not write: disk full, read-only, no permission, stdout closed
        if isinstance(exc, WriteError) and exc.path == "standard output":
            _drop_stdout()
        if not isinstance(exc, WriteError):
            exc = WriteError(exc.filename or "an output", reason(exc))
        console.print(printable(f"taskalloc: {exc}"))
        return ExitCode.CANNOT_WRITE
    if _plot_unavailable(exc):
        console.print(printable(str(exc)))
        return ExitCode.BAD_INPUT
    if isinstance(exc, BrokenPipeError):
        # the reader of stdout went away (`| head`): not an error of ours
        _drop_stdout()
        return ExitCode.OK
    if Settings.debug or not isinstance(exc, Exception):
        raise exc
    console.print(
        printable(
            f"taskalloc: internal error: {type(exc).__name__}: {exc} (rerun with --debug for "
            "the traceback, and please report it)"
        )
    )
    return ExitCode.INTERNAL
