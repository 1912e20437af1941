"""``taskalloc report``: who runs where and when, utilisation, objective terms, fitness,
unplaced tasks and why; as tables, JSON, Markdown or CSV, and as an HTML page with charts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .console import say, warn
from .files import load_pair
from .options import OptionalPlanArg, PairProblemArg, output_option

#: help panels of `report`
VIEWS = "Views and formats"
CHARTS = "Charts (the [plot] extra: pip install 'taskalloc[plot]')"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def report(
    problem_file: PairProblemArg,
    plan_file: OptionalPlanArg = None,
    view: Annotated[
        list[str] | None,
        typer.Option(
            "--view",
            help="summary (the default: utilisation, objective terms, unplaced tasks), nodes "
            "(each node's tasks, devices and load), tasks (each task's nodes, times, slack, why "
            "unplaced), schedule (a text Gantt chart). Several: --view nodes,tasks.",
            metavar="[summary|nodes|tasks|schedule]",
            show_default=False,
            rich_help_panel=VIEWS,
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Default: from -o's suffix (.json, .md, .csv; .html: the HTML report), else "
            "table.",
            rich_help_panel=VIEWS,
        ),
    ] = None,
    output: Annotated[Path | None, output_option("the report", panel=VIEWS)] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write the HTML report: one self-contained file with charts (no script, "
            "no network).",
            rich_help_panel=CHARTS,
        ),
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option(
            "--svg",
            metavar="DIR",
            help="Also write the charts as SVG files.",
            rich_help_panel=CHARTS,
        ),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            metavar="DIR",
            help="Also write the charts as PNG files.",
            rich_help_panel=CHARTS,
        ),
    ] = None,
) -> None:
    """Who runs where and when: utilisation, objective terms, fitness, unplaced tasks and why.

    `report PLAN` (or `report - -` with the plan on stdin) takes the problem the plan embeds
    (problem.text), else the file named by problem.path.

    The report is recomputed from the problem and the plan's assignments, not taken from the
    plan's own metrics, with one exception: a plan written by `simulate` also shows what the
    replay recorded (metrics.simulation: its policy, makespan, waits, the gap to --against's
    plan; in the HTML report its chart of utilisation over time or its allocation curve). No
    output replaces the problem or the plan (exit 2).
    """
    from taskalloc.problems.evaluate import evaluate

    from . import reporting

    problem, plan = load_pair(problem_file, plan_file)
    if plan.problem_sha256 != problem.sha256:
        warn("the plan was made for a file with other bytes (sha256 differs)")
    ev = evaluate(problem, plan.assignments)
    reporting.run(
        problem,
        plan,
        ev,
        problem_file=problem_file,
        plan_file=plan_file,
        fmt=fmt.value if fmt is not None else None,
        output=output,
        views=view,
        html=html,
        png=png,
        svg=svg,
        say=say,
    )
