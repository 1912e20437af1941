"""Where the CLI's output goes: data on stdout, lines for people on stderr.

Every console here is made with markup, emoji codes and highlighting off, so that rich prints
user text (file names, ids, messages) as it is: ``bad.yaml:100:5`` never becomes an emoji,
``[ray]`` never disappears. Styles are given as ``style=`` arguments, never as markup.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, NoReturn

from .exits import ExitCode
from .help import GLUE, glue

if TYPE_CHECKING:
    from rich.console import Console


class Settings:
    """The global options (``-q``, ``--debug``, ``--no-clobber``), wherever they were given on
    the line."""

    quiet = False
    debug = False
    no_clobber = False  # never replace an existing file (cli.files.write, batches, fronts)


_STDERR: Console | None = None


def plain_console(
    *, stderr: bool = False, width: int | None = None, file: object = None
) -> Console:
    """A rich console that never reads markup or emoji codes in what it prints."""
    from rich.console import Console

    from taskalloc.render import pipe_safe, trimmed

    return trimmed(
        pipe_safe(
            Console(
                stderr=stderr,
                file=file,  # type: ignore[arg-type]
                width=width,
                markup=False,
                emoji=False,
                highlight=False,
                soft_wrap=stderr,
            )
        )
    )


def err_console() -> Console:
    """The console of stderr (made once), after the lines :func:`tell` has under way: a
    line printed now comes after them."""
    flush_told()
    return _console()


def _console() -> Console:
    global _STDERR
    if _STDERR is None:
        _STDERR = plain_console(stderr=True)
    return _STDERR


#: the threads printing lines given to :func:`tell`, until they are seen done
_TOLD: list[threading.Thread] = []
_TOLD_LOCK = threading.Lock()
_TELLER = "taskalloc-tell"


def tell(message: str) -> None:
    """A line on stderr from a thread that must never wait for it (the signal watcher: a
    stderr nobody reads must not keep it from the next signal): printed by a thread of its
    own, and before any line printed after this call (:func:`flush_told`)."""
    if not message or Settings.quiet:
        return
    thread = threading.Thread(target=_print_told, args=(message,), name=_TELLER, daemon=True)
    thread.start()  # before flush_told can see it: joining a thread not started raises
    with _TOLD_LOCK:
        _TOLD.append(thread)


def _print_told(message: str) -> None:
    _console().print(printable(message))


def flush_told(timeout: float = 2.0) -> None:
    """Wait (up to ``timeout`` seconds each) for the lines :func:`tell` has under way."""
    if threading.current_thread().name == _TELLER:
        return
    with _TOLD_LOCK:
        pending = list(_TOLD)
    for thread in pending:
        thread.join(timeout)
    with _TOLD_LOCK:
        _TOLD[:] = [t for t in _TOLD if t.is_alive()]


def say(message: str) -> None:
    """A line for people on stderr (silenced by --quiet), control characters escaped."""
    if not Settings.quiet:
        err_console().print(printable(message))


def say_wrapped(message: str, sep: str = "; ") -> None:
    """A long line for people on stderr (a run's summary), broken at its fields (``sep``)
    and then at words to fit the terminal (80 columns in a pipe), the lines after the first
    indented; silenced by --quiet."""
    if not Settings.quiet:
        console = err_console()
        for line in wrap_fields(printable(message), err_width(), sep):
            console.print(line)


def say_long(message: str) -> None:
    """A line of prose for people on stderr (an explanation, a reason), broken at words to
    fit the terminal (:func:`wrap_prose`); silenced by --quiet."""
    if not Settings.quiet:
        print_long(message)


def print_long(message: str) -> None:
    """:func:`say_long` even under --quiet (the lines of a failure)."""
    console = err_console()
    for line in wrap_prose(printable(message), err_width()):
        console.print(line)


def err_width() -> int:
    """The width of stderr: COLUMNS as given now (the console reads it once), else the
    console's (80 columns in a pipe)."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else err_console().width


def wrap_prose(text: str, width: int, indent: str = "    ") -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken at spaces only (a word
    longer than a line, such as ``file.yaml:12:5:``, stays whole); the lines after the first
    keep the first's indentation plus ``indent`` (deeper than the two spaces of the lines
    that belong to a line before them: a conflict's reasons, a problem's proofs)."""
    import textwrap

    if len(text) <= width:
        return [text]
    # a number stays with its unit ("0.09 s", "53.12 %"), a flag with its value ("-s greedy"),
    # a short code span whole: GLUE is a character textwrap never breaks at
    body = glue(text).lstrip(" ")
    lead = text[: len(text) - len(text.lstrip(" "))]
    lines = textwrap.wrap(
        body,
        width=max(width, 20),
        initial_indent=lead,
        subsequent_indent=lead + indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(GLUE, " ") for line in lines] or [text]


def wrap_fields(text: str, width: int, sep: str = "; ", indent: str = "  ") -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken after a ``sep`` where one
    fits, else at a space (never inside a word: a word longer than a line stays whole); the
    lines after the first start with ``indent``."""
    import textwrap

    width = max(width, 20)
    fields = text.split(sep)
    pieces = [f + sep.rstrip() for f in fields[:-1]] + fields[-1:]
    lines: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current} {piece}" if current else piece
        if len(joined) <= width or not current:
            current = joined
        else:
            lines.append(current)
            current = indent + piece
    lines.append(current)
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        first = not out
        out.extend(
            part.replace(GLUE, " ")
            for part in textwrap.wrap(
                glue(line if first else line[len(indent) :]),
                width=width,
                initial_indent="" if first else indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return out


#: a message that starts at a place in a file (``file.yaml:12:5: ...``, ``file.yaml: ...`` for
#: the summary of a file's warnings): the problem's warnings, one line each like its errors
_LOCATED = re.compile(r"\S+?:\d+(?::\d+)?: ")


def warn(message: str) -> None:
    """``warning: message`` on stderr (silenced by --quiet), control characters escaped.

    Prose is broken at words to fit the terminal, as :func:`say_long` does (a word such as
    ``file.yaml:12:5:`` is never split); a located warning (a message that starts with
    ``file:line:col: ``) is ``file:line:col: warning: message`` on one line, like the errors
    and as compilers write theirs, for editors and grep that read ``file:line:col:`` lines."""
    if Settings.quiet:
        return
    text = printable(message)
    console = err_console()
    located = _LOCATED.match(text)
    if located:
        parts = [f"{text[: located.end()]}warning: {text[located.end() :]}"]
    else:
        parts = wrap_prose(f"warning: {text}", err_width())
    for part in parts:
        console.print(part, style="yellow")


def warn_at(diagnostic: object) -> None:
    """A problem's warning (a located diagnostic, or the summary of the rest of a file's
    warnings), on one line however long: ``file:line:col: warning: message`` (the summary:
    ``file: warning: ... and N more warnings: ...``)."""
    if Settings.quiet:
        return
    text = printable(str(diagnostic))
    file = getattr(diagnostic, "file", None)
    if isinstance(file, str):
        line = getattr(diagnostic, "line", None)
        where = printable(
            file if line is None else f"{file}:{line}:{getattr(diagnostic, 'column', None) or 1}"
        )
        if text.startswith(f"{where}: "):
            text = f"{where}: warning: {text[len(where) + 2 :]}"
            err_console().print(text, style="yellow")
            return
    err_console().print(f"warning: {text}", style="yellow")


def printable(text: str) -> str:
    """User text (ids, labels, file names) as a terminal may show it: no escape sequence or
    newline of theirs acts on it (:func:`taskalloc.problems.wording.printable`)."""
    from taskalloc.problems.wording import printable

    return printable(text)


class Fail(Exception):
    """A handled failure: message lines for stderr and an exit code; ``wrap``: lines of
    prose (an explanation of infeasibility), broken at words to fit the terminal."""

    def __init__(self, code: ExitCode, *lines: str, wrap: bool = False) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines
        self.wrap = wrap


def fail(code: ExitCode, *lines: str) -> NoReturn:
    raise Fail(code, *lines)


def fail_explained(code: ExitCode, *lines: str) -> NoReturn:
    """:func:`fail` with lines of prose that are broken to fit the terminal: why a problem is
    infeasible or has no plan (file:line references stay whole)."""
    raise Fail(code, *lines, wrap=True)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def fmt(x: float) -> str:
    """A number as plan files write it: integers without a decimal point."""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"
