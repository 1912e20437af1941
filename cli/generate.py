"""``taskalloc generate``: a synthetic fleet and workload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .files import format_for, write
from .options import DataFormat, output_option


def generate(
    tasks: Annotated[
        int, typer.Option("--tasks", "-n", min=1, metavar="N", help="Number of tasks.")
    ] = 50,
    nodes: Annotated[
        int, typer.Option("--nodes", "-m", min=1, metavar="N", help="Number of nodes.")
    ] = 10,
    scheduling: Annotated[
        bool, typer.Option("--scheduling", help="Add durations, dependencies, deadlines.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed.")] = 0,
    resources: Annotated[
        int,
        typer.Option(
            "--resources", min=1, max=8, metavar="N", help="Number of resource kinds (1-8)."
        ),
    ] = 3,
    fmt: Annotated[
        DataFormat | None,
        typer.Option("--format", "-f", help="Default: from -o's suffix, else yaml."),
    ] = None,
    output: Annotated[Path | None, output_option("the problem")] = None,
) -> None:
    """Generate a synthetic fleet and workload, feasible by construction."""
    from taskalloc.problems.generate import generate as make
    from taskalloc.problems.plan import dumps

    data = make(tasks, nodes, scheduling=scheduling, seed=seed, resources=resources)
    write(dumps(data, format_for(output, fmt.value if fmt else None)), output)
