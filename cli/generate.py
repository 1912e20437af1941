"""``taskalloc generate``: a synthetic fleet and workload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import fail
from .exits import ExitCode
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
    devices: Annotated[
        bool,
        typer.Option(
            "--devices", help="Split GPUs into devices: shares of one GPU and whole GPUs."
        ),
    ] = False,
    zones: Annotated[
        bool, typer.Option("--zones", help="Spread replicated tasks over the zone label.")
    ] = False,
    services: Annotated[
        bool,
        typer.Option("--services", help="Some inference tasks run as services (--scheduling)."),
    ] = False,
    same_start: Annotated[
        bool,
        typer.Option("--gangs-same-start", help="Gangs start together (--scheduling)."),
    ] = False,
    fmt: Annotated[
        DataFormat | None,
        typer.Option("--format", "-f", help="Default: from -o's suffix, else yaml."),
    ] = None,
    output: Annotated[Path | None, output_option("the problem")] = None,
) -> None:
    """Generate a synthetic fleet and workload, feasible by construction.

    --devices, --zones, --services and --gangs-same-start add the features of format
    revision 2 (docs/format.md); without them the output for given options and seed is what it
    always was.
    """
    from taskalloc.problems.generate import generate as make
    from taskalloc.problems.plan import dumps

    if (services or same_start) and not scheduling:
        fail(ExitCode.BAD_INPUT, "--services and --gangs-same-start need --scheduling")
    data = make(
        tasks,
        nodes,
        scheduling=scheduling,
        seed=seed,
        resources=resources,
        devices=devices,
        zones=zones,
        services=services,
        same_start=same_start,
    )
    write(dumps(data, format_for(output, fmt.value if fmt else None)), output)
