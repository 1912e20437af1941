"""``taskalloc import``: benchmark instance files as taskalloc problems."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from .console import Settings, fail, plural, say, warn
from .exits import ExitCode
from .files import format_for, write
from .options import DataFormat, output_option

#: help panel of the options of `import openb`
OPENB = "openb (the Alibaba GPU trace)"


class ImportKind(StrEnum):
    gap = "gap"
    psplib = "psplib"
    jobshop = "jobshop"
    openb = "openb"


class GapSense(StrEnum):
    min = "min"
    max = "max"


class ArrivalOrder(StrEnum):
    file = "file"
    shuffle = "shuffle"


def import_(
    kind: Annotated[
        ImportKind,
        typer.Argument(
            help="gap (OR-Library / Chu-Beasley GAP), psplib (.sm RCPSP), jobshop (ft/la) or "
            "openb (the Alibaba GPU cluster trace of the FGD paper: two files, NODES.csv "
            "PODS.csv).",
            metavar="KIND",
            show_default=False,
        ),
    ],
    instance: Annotated[
        str,
        typer.Argument(
            help="Instance file (openb: the node CSV); - for stdin.", metavar="INSTANCE"
        ),
    ],
    pods: Annotated[
        str | None,
        typer.Argument(
            help="openb only: the task (pod) CSV; - for stdin (one of the two files at most).",
            metavar="PODS",
            show_default=False,
        ),
    ] = None,
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
    order: Annotated[
        ArrivalOrder | None,
        typer.Option(
            "--order",
            help="file (the default: tasks arrive in file order) or shuffle (the FGD paper's "
            "sequence: the tasks shuffled with --seed, then randomly drawn copies until the "
            "GPU demand reaches 130 % of the GPUs; a longer trace is trimmed at random).",
            show_default=False,
            rich_help_panel=OPENB,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            metavar="N",
            help="Seed of --order shuffle (default 0); the same seed gives the same problem on "
            "every machine.",
            rich_help_panel=OPENB,
        ),
    ] = None,
    arrive: Annotated[
        float | None,
        typer.Option(
            "--arrive",
            metavar="PCT",
            min=0,
            help="Keep the tasks that arrive until their GPU demand reaches PCT % of the GPUs "
            "(a prefix of the sequence: with one seed, the --arrive 100 problem is a prefix of "
            "the --arrive 130 one).",
            rich_help_panel=OPENB,
        ),
    ] = None,
) -> None:
    """Convert a benchmark instance file into a taskalloc problem (stdout or -o).

    openb makes a placement problem with GPU devices in arrival order, for `taskalloc
    simulate` (the online schedulers) and `taskalloc solve` (the offline plan with its bound).

    Exit 2 with the located line (file:line:column) when an instance file is malformed.
    """
    if kind == ImportKind.openb:
        _openb(instance, pods, output, fmt, order, seed, arrive)
        return
    misplaced = [
        name
        for name, given in {
            "a second file (PODS)": pods is not None,
            "--order": order is not None,
            "--seed": seed is not None,
            "--arrive": arrive is not None,
        }.items()
        if given
    ]
    if misplaced:
        fail(ExitCode.BAD_INPUT, f"{', '.join(misplaced)}: for openb only, not {kind.value}")
    from taskalloc.problems.files import refuse_inputs
    from taskalloc.problems.importers import import_file
    from taskalloc.problems.plan import dumps
    from taskalloc.problems.problem import problem_from_dict

    if sense is not None and kind != ImportKind.gap:
        fail(ExitCode.BAD_INPUT, f"--sense applies to gap only, not {kind.value}")
    if output is not None and str(output) != "-":
        refuse_inputs(output, [instance], no_clobber=Settings.no_clobber)  # before reading
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


def _openb(
    nodes: str,
    pods: str | None,
    output: Path | None,
    fmt: DataFormat | None,
    order: ArrivalOrder | None,
    seed: int | None,
    arrive: float | None,
) -> None:
    """``import openb NODES.csv PODS.csv``: the trace as a placement problem with devices."""
    from taskalloc.problems.files import refuse_inputs
    from taskalloc.problems.openb import import_openb
    from taskalloc.problems.plan import dumps
    from taskalloc.problems.problem import problem_from_dict

    if pods is None:
        fail(ExitCode.BAD_INPUT, "import openb needs two files: NODES.csv PODS.csv")
    order_name = (order or ArrivalOrder.file).value
    if seed is not None and order_name != "shuffle":
        fail(ExitCode.BAD_INPUT, "--seed applies to --order shuffle only")
    if output is not None and str(output) != "-":
        refuse_inputs(output, [nodes, pods], no_clobber=Settings.no_clobber)  # before reading
    result = import_openb(nodes, pods, order=order_name, seed=seed or 0, arrive=arrive)
    data: dict[str, Any] = result.problem
    problem_from_dict(data, str(data["name"]))  # the format's own validation, as for any import
    for w in result.warnings:
        warn(w)
    write(dumps(data, format_for(output, fmt.value if fmt else None)), output, [nodes, pods])
    src = data["x-source"]
    n_nodes = sum(int(n.get("count", 1)) for n in data["nodes"])
    extra = []
    if src.get("copies"):
        extra.append(f"{src['copies']:,} copies")
    if src.get("trimmed"):
        extra.append(f"{src['trimmed']:,} trimmed")
    more = f" ({', '.join(extra)})" if extra else ""
    say(
        f"openb: {n_nodes:,} nodes in {plural(len(data['nodes']), 'pool')}, "
        f"{src['gpus']:,} GPUs; {len(data['tasks']):,} tasks{more} in {order_name} order, GPU "
        f"demand {src['arrived_gpu_percent']:g} % of the GPUs"
    )
    if output is not None and str(output) != "-":
        say(f"problem written to {output}")
