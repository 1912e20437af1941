"""The body of ``taskalloc report``: views and formats, the HTML report, charts as files.

``app.report`` parses the options and calls :func:`run`. Output files are written by
:func:`write_output`, which never replaces an input file (a plan or problem named as output is
refused), writes into devices and pipes instead of renaming over them, and replaces a regular
file atomically (temporary file in the same directory, then a rename) after following symlinks,
so that a symlink stays a symlink.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exits import ExitCode

if TYPE_CHECKING:
    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem

#: -o suffix -> format (anything else: table, as plain text)
SUFFIX_FORMATS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
}


def format_for(output: Path | None, fmt: str | None) -> str:
    """``--format`` when given, else from ``-o``'s suffix, else table."""
    if fmt is not None:
        return fmt
    if output is not None and str(output) != "-":
        return SUFFIX_FORMATS.get(output.suffix.lower(), "table")
    return "table"


def same_file(a: Path, b: str | None) -> bool:
    if b is None or b == "-":
        return False
    try:
        return a.exists() and Path(b).exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write_output(data: str | bytes, output: Path | None, inputs: Sequence[str | None] = ()) -> None:
    """Write ``data`` to stdout (None or ``-``) or to ``output``, never destroying an input.

    Raises :class:`OutputError` when ``output`` is one of ``inputs`` or a directory.
    """
    if output is None or str(output) == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
        return
    for given in inputs:
        if same_file(output, given):
            raise OutputError(f"{output}: is an input of this command; not overwriting it")
    if output.is_dir():
        raise OutputError(f"{output}: is a directory")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if output.exists() and not output.resolve().is_file():
        # a device or a pipe (/dev/stdout, a FIFO): write into it, never rename over it
        with open(output, "wb") as fh:
            fh.write(raw)
        return
    target = output.resolve() if output.is_symlink() else output
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(raw)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


class OutputError(Exception):
    """An output that would destroy an input, or cannot be written."""


def guarded(problem: Problem, plan: Plan, ev: Evaluation, **kw: Any) -> None:
    """:func:`run`, with its usage errors as one line and exit 2."""
    from .app import fail
    from .charts import PlotUnavailable
    from .views import ViewError

    try:
        run(problem, plan, ev, **kw)
    except (ViewError, OutputError, PlotUnavailable) as exc:
        fail(ExitCode.BAD_INPUT, str(exc))


def run(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    *,
    problem_file: str,
    plan_file: str | None,
    fmt: str | None,
    output: Path | None,
    views: Sequence[str] | None,
    html: Path | None,
    png: Path | None,
    svg: Path | None,
    say: object,
) -> ExitCode:
    """Write every output asked for; raises ViewError, OutputError, PlotUnavailable."""
    from . import views as v

    inputs = [problem_file, plan_file]
    names = v.parse_views(views)
    chosen = format_for(output, fmt)
    if chosen == "html":
        if html is not None and output is not None:
            raise v.ViewError("give the HTML report once: -o FILE.html or --html FILE")
        html, output = output, None
    files_only = html is not None or png is not None or svg is not None
    text_wanted = not files_only or views or fmt is not None or output is not None
    if text_wanted and chosen != "html":
        if chosen == "table" and (output is None or str(output) == "-"):
            v.print_views(problem, plan, ev, names, None)
        else:
            write_output(v.render(problem, plan, ev, names, chosen), output, inputs)
    if files_only:
        # `report PLAN`: the one file given is the plan
        plan_path = plan_file if plan_file is not None else problem_file
        _charts(problem, plan, ev, plan_path, html, png, svg, inputs, say)
    return ExitCode.OK


def _charts(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    plan_file: str | None,
    html: Path | None,
    png: Path | None,
    svg: Path | None,
    inputs: Sequence[str | None],
    say: object,
) -> None:
    from . import charts as ch
    from . import html as page

    tell = say if callable(say) else (lambda line: None)
    link_from = html.parent if html is not None and str(html) != "-" else Path.cwd()
    text, charts = page.render(problem, plan, ev, plan_file=plan_file, link_from=link_from)
    if html is not None:
        write_output(text, html, inputs)
        if str(html) != "-":
            tell(f"HTML report written to {html} ({_n(len(charts), 'chart')})")
    for directory, suffix in ((svg, "svg"), (png, "png")):
        if directory is None:
            continue
        if directory.exists() and not directory.is_dir():
            raise OutputError(f"{directory}: not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        for chart in charts:
            data: str | bytes = (
                ch.svg_file(chart.figure, chart.name) if suffix == "svg" else chart.png()
            )
            write_output(data, directory / f"{chart.name}.{suffix}", inputs)
        names = ", ".join(f"{c.name}.{suffix}" for c in charts)
        tell(f"{_n(len(charts), 'chart')} written to {directory}: {names}")


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
