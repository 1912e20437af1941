"""``taskalloc import``: benchmark instance files as taskalloc problems."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .console import fail, plural, say
from .exits import ExitCode
from .files import format_for, write
from .options import DataFormat, output_option


class ImportKind(StrEnum):
    gap = "gap"
    psplib = "psplib"
    jobshop = "jobshop"


class GapSense(StrEnum):
    min = "min"
    max = "max"


def import_(
    kind: Annotated[
        ImportKind,
        typer.Argument(
            help="gap (OR-Library / Chu-Beasley GAP), psplib (.sm RCPSP) or jobshop (ft/la).",
            metavar="KIND",
            show_default=False,
        ),
    ],
    instance: Annotated[
        str, typer.Argument(help="Instance file; - for stdin.", metavar="INSTANCE")
    ],
    output: Annotated[Path | None, output_option("the problem")] = None,
    fmt: Annotated[
        DataFormat | None,
        typer.Option("--format", "-f", help="Default: from -o's suffix, else yaml."),
    ] = None,
    sense: Annotated[
        GapSense | None,
        typer.Option(
            "--sense",
            help="gap only: min reads the matrix as costs (default); max as profits "
            "(cost = P - profit; max profit = n*P - cost, recorded under x-source).",
        ),
    ] = None,
) -> None:
    """Convert a benchmark instance file into a taskalloc problem (stdout or -o).

    Exit 2 with the located line (file:line:column) when the instance file is malformed.
    """
    from taskalloc.problems.importers import import_file
    from taskalloc.problems.plan import dumps
    from taskalloc.problems.problem import problem_from_dict

    if sense is not None and kind != ImportKind.gap:
        fail(ExitCode.BAD_INPUT, f"--sense applies to gap only, not {kind.value}")
    data = import_file(kind.value, instance, sense=sense.value if sense else None)
    problem = problem_from_dict(data, str(data.get("name") or "import"))
    write(dumps(data, format_for(output, fmt.value if fmt else None)), output, [instance])
    src = data.get("x-source", {})
    extra = ""
    if src.get("sense") == "max":
        extra = f" (max profit = {src['offset']} - cost)"
    elif src.get("dropped"):
        extra = f" (dummy jobs {', '.join(map(str, src['dropped']))} dropped)"
    name = "<stdin>" if instance == "-" else instance
    say(
        f"{name}: imported {kind.value} instance as a "
        f"{'scheduling' if problem.scheduling else 'placement'} problem: "
        f"{plural(len(problem.nodes), 'node')}, {plural(len(problem.tasks), 'task')}; "
        f"objective {problem.objective.describe()}{extra}"
    )
    if output is not None:
        say(f"problem written to {output}")
