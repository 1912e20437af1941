"""``taskalloc report``: utilisation, objective terms, fitness and unplaced tasks of a plan."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .console import warn
from .files import load_pair, write
from .options import OptionalPlanArg, PairProblemArg, output_option


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def report(
    problem_file: PairProblemArg,
    plan_file: OptionalPlanArg = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="table, json, markdown or csv.")
    ] = ReportFormat.table,
    output: Annotated[Path | None, output_option("the report")] = None,
) -> None:
    """Utilisation per node and resource, objective terms, fitness, unplaced tasks and why.

    `report PLAN` (or `report - -` with the plan on stdin) takes the problem the plan embeds
    (problem.text), else the file named by problem.path.

    The report is recomputed from the problem and the plan's assignments, not taken from the
    plan's own metrics.
    """
    from taskalloc import render
    from taskalloc.problems.evaluate import evaluate

    problem, plan = load_pair(problem_file, plan_file)
    if plan.problem_sha256 != problem.sha256:
        warn("the plan was made for a file with other bytes (sha256 differs)")
    ev = evaluate(problem, plan.assignments)
    if fmt == ReportFormat.table:
        if output is None:
            render.table(problem, plan, ev, None)
        else:
            write(render.table_text(problem, plan, ev), output)
        return
    text = {
        ReportFormat.json: render.json_report,
        ReportFormat.markdown: render.markdown,
        ReportFormat.csv: render.csv_report,
    }[fmt](problem, plan, ev)
    write(text, output)
