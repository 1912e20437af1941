"""``taskalloc export``: the MILP of a problem for any external solver."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .console import say, say_wrapped
from .files import load, refuse_outputs, write
from .options import ProblemArg, output_option

#: the files nl writes beside the model (the suffixes of its FILE)
SIDECARS = (".row", ".col")


class ExportFormat(StrEnum):
    lp = "lp"
    mps = "mps"
    nl = "nl"


def export(
    problem_file: ProblemArg,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="lp (CPLEX LP), mps (free MPS) or nl (AMPL); default: from -o's suffix, else lp.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        output_option(
            "the model",
            " nl also writes the names beside it, as AMPL names them: -o m.nl writes m.row"
            " and m.col.",
        ),
    ] = None,
) -> None:
    """Write the MILP of a problem (the model of -s mip) for any external solver.

    Names are readable (x[train-llm#0,a100-1] in MPS; LP replaces the characters it forbids).
    The objective is the plan's scalar fitness, which for a lexicographic objective orders
    plans as the terms do. `taskalloc solve -s mip --backend NAME` runs a Pyomo solver on the
    same model and reads its solution back into a checked plan.
    """
    from taskalloc.solvers.mip.export import export_model

    problem = load(problem_file)
    if fmt is not None:
        fmt_name = fmt.value
    elif output is not None and output.suffix.lower().lstrip(".") in ("lp", "mps", "nl"):
        fmt_name = output.suffix.lower().lstrip(".")
    else:
        fmt_name = "lp"
    if output is not None and str(output) != "-":  # before building the model, not after
        # nl's names go beside it (AMPL's stub.row, stub.col): refused as the model is
        sides = [output.with_suffix(s) for s in SIDECARS] if fmt_name == "nl" else []
        refuse_outputs([output, *sides], [problem_file])
    exported = export_model(problem, fmt_name)
    write(exported.text, output, [problem_file])
    if output is not None and str(output) != "-":
        for suffix, text in exported.sidecars.items():
            write(text, output.with_suffix(suffix), [problem_file])
    say_wrapped(
        f"{fmt_name}: {exported.variables} variables ({exported.binary} binary), "
        f"{exported.constraints} constraints; objective: {exported.objective}"
    )
    if output is not None and str(output) != "-":
        extra = " (names in .row, .col)" if exported.sidecars else ""
        say(f"model written to {output}{extra}")
