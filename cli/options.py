"""What the commands' arguments and options share: formats, metavars and help panels.

One naming style: arguments and values are upper-case nouns (PROBLEM, PLAN, FILE, DIR,
SECONDS, N); options with a fixed set of values list them (``-s [auto|cpsat|...]``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from taskalloc.solvers import ENGINES

#: help panels of `solve`
IO = "Input and output"
ENGINE = "Engine"
LIMITS = "Limits and reproducibility"
BATCH = "Batch (several problems, a directory, or --out-dir)"
PARETO = "Pareto front"

if TYPE_CHECKING:
    EngineName = str
else:
    #: the engines -s takes: auto and the registry's (typer lists an Enum's values)
    EngineName = StrEnum("EngineName", {name: name for name in ["auto", *ENGINES]})


class Policy(StrEnum):
    """The greedy's policies (:data:`taskalloc.solvers.greedy.POLICIES`, listed here so that
    ``--help`` does not import the engine)."""

    least_loaded = "least-loaded"
    best_fit = "best-fit"
    first_fit = "first-fit"


class ExecutorName(StrEnum):
    """Where a batch (or `compare`) runs its problems: local worker processes, or Ray."""

    local = "local"
    ray = "ray"


class DataFormat(StrEnum):
    yaml = "yaml"
    json = "json"


ProblemArg = Annotated[
    str,
    typer.Argument(help="Problem file (YAML or JSON); - for stdin.", metavar="PROBLEM"),
]
PairProblemArg = Annotated[
    str,
    typer.Argument(
        help="Problem file (YAML or JSON; - for stdin). Alone, or as `- -`, the PLAN: its "
        "problem is then the copy it embeds, else the file named by problem.path.",
        metavar="PROBLEM|PLAN",
    ),
]
OptionalPlanArg = Annotated[
    str | None,
    typer.Argument(help="Plan file written by `solve`; - for stdin.", metavar="PLAN"),
]


def output_option(what: str, extra: str = "", panel: str | None = None) -> typer.models.OptionInfo:
    """``-o, --output FILE``: where ``what`` goes (default stdout)."""
    return typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help=f"Write {what} here (default stdout).{extra}",
        rich_help_panel=panel,
    )


# -- the engine options of commands that solve (replan, whatif): one definition each -----------

#: help panel of the engine options
SOLVER = "Engine and limits (as for solve)"

SolverOption = Annotated[
    EngineName,
    typer.Option(
        "--solver",
        "-s",
        help="Engine: auto (cpsat; greedy for problems with devices, gangs that start "
        "together, services or spread), cpsat, mip, ga, greedy.",
        rich_help_panel=SOLVER,
    ),
]
TimeLimitOption = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        "-t",
        min=0,
        metavar="SECONDS",
        help="Seconds for the search of a problem (cpsat, mip, ga: 60 by default).",
        rich_help_panel=SOLVER,
    ),
]
SeedOption = Annotated[
    int,
    typer.Option("--seed", metavar="N", help="Random seed.", rich_help_panel=SOLVER),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        metavar="N",
        help="Search threads per problem (default 2).",
        rich_help_panel=SOLVER,
    ),
]
DeterministicOption = Annotated[
    bool,
    typer.Option(
        "--deterministic",
        help="cpsat: 1 worker and a deterministic time limit (same plan on every run).",
        rich_help_panel=SOLVER,
    ),
]
PolicyOption = Annotated[
    Policy | None,
    typer.Option(
        "--policy",
        help="greedy: least-loaded, best-fit or first-fit.",
        show_default=False,
        rich_help_panel=SOLVER,
    ),
]
EngineOptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-O",
        metavar="NAME=VALUE",
        help="Any option of the engine, by name; repeatable (-O lns=true).",
        rich_help_panel=SOLVER,
    ),
]
