"""The body of ``taskalloc report``: views and formats, the HTML report, charts as files.

:mod:`.report` parses the options and calls :func:`run`. The renderers are the library's
(:mod:`taskalloc.views`, :mod:`taskalloc.html`, :mod:`taskalloc.charts`); every file is written
by the one writer (:func:`.files.write`, i.e. :func:`taskalloc.problems.files.write_atomic`),
which never replaces an input of the command (the problem or the plan), writes into devices and
pipes instead of renaming over them, and keeps a symlink a symlink.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .console import fail, plural
from .exits import ExitCode
from .files import refuse_outputs, write

if TYPE_CHECKING:
    from taskalloc.charts import Chart
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
    say: Callable[[str], None],
) -> None:
    """Write every output asked for (raises ViewError, OutputError, PlotUnavailable: the error
    boundary makes each one line and exit 2)."""
    from taskalloc import views as v

    inputs = [problem_file, plan_file]
    names = v.parse_views(views)
    chosen = format_for(output, fmt)
    if chosen == "html":
        if html is not None and output is not None:
            fail(ExitCode.BAD_INPUT, "give the HTML report once: -o FILE.html or --html FILE")
        html, output = output, None
    files_only = html is not None or png is not None or svg is not None
    text_wanted = not files_only or views or fmt is not None or output is not None
    printed = chosen == "table" and (output is None or str(output) == "-")
    rendered = None
    if files_only:
        # `report PLAN`: the one file given is the plan
        plan_path = plan_file if plan_file is not None else problem_file
        rendered = _render(problem, plan, ev, plan_path, html, png, svg)
    # every file of the run is refused (an input, a directory, an existing file with
    # --no-clobber) before any is written, not after the first ones were
    files = [output] if text_wanted and chosen != "html" and not printed else []
    files.append(html)
    if rendered is not None:
        for directory, suffix in ((svg, "svg"), (png, "png")):
            if directory is not None:
                files.extend(directory / f"{chart.name}.{suffix}" for chart in rendered[1])
    refuse_outputs(files, inputs)
    if text_wanted and chosen != "html":
        if printed:
            v.print_views(problem, plan, ev, names, None)
        else:
            write(v.render(problem, plan, ev, names, chosen), output, inputs)
    if rendered is not None:
        _charts(rendered, html, png, svg, inputs, say)


def _render(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    plan_file: str | None,
    html: Path | None,
    png: Path | None,
    svg: Path | None,
) -> tuple[str, list[Chart]]:
    """The HTML report and its charts (what --html, --svg and --png write)."""
    from taskalloc import html as page

    for directory in (svg, png):
        if directory is not None and directory.exists() and not directory.is_dir():
            fail(ExitCode.BAD_INPUT, f"{directory}: not a directory")
    link_from = html.parent if html is not None and str(html) != "-" else Path.cwd()
    text, charts = page.render(problem, plan, ev, plan_file=plan_file, link_from=link_from)
    return text, charts


def _charts(
    rendered: tuple[str, list[Chart]],
    html: Path | None,
    png: Path | None,
    svg: Path | None,
    inputs: Sequence[str | None],
    say: Callable[[str], None],
) -> None:
    from taskalloc import charts as ch

    text, charts = rendered
    if html is not None:
        write(text, html, inputs)
        if str(html) != "-":
            say(f"HTML report written to {html} ({plural(len(charts), 'chart')})")
    for directory, suffix in ((svg, "svg"), (png, "png")):
        if directory is None:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        for chart in charts:
            data: str | bytes = (
                ch.svg_file(chart.figure, chart.name) if suffix == "svg" else chart.png()
            )
            write(data, directory / f"{chart.name}.{suffix}", inputs)
        names = ", ".join(f"{c.name}.{suffix}" for c in charts)
        say(f"{plural(len(charts), 'chart')} written to {directory}: {names}")
