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
PARTS = "One problem on many workers"

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
    typer.Argument(
        help="Plan file (written by solve, simulate or replan); - for stdin.", metavar="PLAN"
    ),
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
AUTO_HELP = (
    "Engine. auto picks devplan for a placement problem with GPU devices whose objective is "
    "unplaced alone (one replica per task, no gang, separate_from, demand_on or "
    "assign_cost); else cpsat, except for a problem with more than 200,000 (task, allowed "
    "node) pairs that is a scheduling problem or has balance in its objective, or with more "
    "than 50,000 pairs that is one of those and uses GPU devices, gangs that start "
    "together, services or spread: greedy."
)
#: solve's --solver help: AUTO_HELP and each engine with its flags
SOLVE_ENGINE_HELP = (
    f"{AUTO_HELP} cpsat (exact; large placement problems by large "
    "neighbourhood search), mip (a MILP: --backend, --gap), ga (genetic: --generations, "
    "--population), greedy (--policy), devplan (offline GPU planner down to devices, with a "
    "proven bound; optimises unplaced only: -O rounds=N, -O search=false)."
)
DETERMINISTIC_HELP = (
    "cpsat: 1 worker and a deterministic time limit, so the same input, seed and "
    "limit give the same plan on every run and machine. Without it, runs with several "
    "workers differ in plan (never in validity), and the limit is wall-clock. mip: one "
    "thread and no polishing (its limit stays wall-clock: only solves that end before "
    "it repeat). ga: 1 worker and a limit that counts work (about a CPU second per "
    "second), so the same input, seed and limit give the same plan."
)


#: help panel of the engine options
SOLVER = "Engine and limits (as for solve)"

SolverOption = Annotated[
    EngineName,
    typer.Option(
        "--solver",
        "-s",
        help=f"{AUTO_HELP} Or name the engine: cpsat, mip, ga, greedy, devplan (its options: "
        "-O NAME=VALUE).",
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
        help="Seconds for the search of a problem (cpsat, mip, devplan: 60 by default; ga: 60 "
        "unless -O generations=N; greedy: none).",
        rich_help_panel=SOLVER,
    ),
]
SeedOption = Annotated[
    int,
    typer.Option("--seed", metavar="N", help="Random seed.", rich_help_panel=SOLVER),
]


def workers_option(what: str, panel: str = SOLVER) -> typer.models.OptionInfo:
    """``-w, --workers N``: search threads, ``what`` saying per what and the default."""
    return typer.Option("--workers", "-w", min=1, metavar="N", help=what, rich_help_panel=panel)


WorkersOption = Annotated[int | None, workers_option("Search threads per problem (default 2).")]
#: whatif: its scenarios run like a batch, so the threads default as in a batch
ScenarioWorkersOption = Annotated[
    int | None,
    workers_option("Search threads per scenario (default: the cores divided by --jobs; 1 on Ray)."),
]
DeterministicOption = Annotated[
    bool,
    typer.Option(
        "--deterministic",
        help=DETERMINISTIC_HELP,
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


# -- where runs go (solve's batches and --partitions, compare, whatif): one definition each --
EXECUTOR_HELP = (
    "local (worker processes on this machine) or ray (Ray tasks; needs pip install "
    "'taskalloc[ray]')."
)
RAY_ADDRESS_HELP = (
    "With --executor ray: the cluster (e.g. 10.0.0.5:6379, or auto); default: a local Ray "
    "started for the run."
)


def jobs_option(what: str, panel: str) -> typer.models.OptionInfo:
    """``-j, --jobs N``: ``what`` run at once, one process each (local executor)."""
    return typer.Option("--jobs", "-j", min=1, metavar="N", help=what, rich_help_panel=panel)


def executor_option(panel: str, extra: str = "") -> typer.models.OptionInfo:
    """``--executor [local|ray]``."""
    return typer.Option("--executor", help=EXECUTOR_HELP + extra, rich_help_panel=panel)


def ray_address_option(panel: str) -> typer.models.OptionInfo:
    """``--ray-address ADDRESS``."""
    return typer.Option(
        "--ray-address", metavar="ADDRESS", help=RAY_ADDRESS_HELP, rich_help_panel=panel
    )
