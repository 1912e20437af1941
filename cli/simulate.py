"""``taskalloc simulate``: replay a problem online with a dispatcher's policy, write its plan.

The replay is the library's (:func:`taskalloc.solvers.simulation.simulate`: one replay per kind
of problem, :data:`~taskalloc.solvers.simulation.REPLAYS`); this command reads the problem,
runs it under the shared stop (Ctrl-C, SIGTERM), writes the checked plan and prints the
replay's summary.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .console import Settings, fail, say, say_long, warn
from .exits import ExitCode
from .files import format_for, load, write
from .options import IO, DataFormat, ProblemArg, output_option

#: help panel of the replay's settings
REPLAY = "Replay"


class SimulatePolicy(StrEnum):
    """Every policy of every replay (the library checks that the problem's replay has it; a
    test keeps this list equal to theirs, so that ``--help`` does not import them)."""

    random = "random"
    dot_product = "dot-product"
    gpu_clustering = "gpu-clustering"
    gpu_packing = "gpu-packing"
    best_fit = "best-fit"
    fgd = "fgd"
    least_loaded = "least-loaded"
    first_fit = "first-fit"


class SimulateQueue(StrEnum):
    """The scheduling replay's queue orders (a test keeps this equal to its QUEUES)."""

    fifo = "fifo"
    shortest_first = "shortest-first"
    priority = "priority"


POLICY_HELP = (
    "Required: the online policy that places each arriving task. Placement problems: the FGD "
    "paper's six, as its simulator defines them (openb's SOURCE.md; docs/benchmarks.md): "
    "random, dot-product, gpu-clustering, gpu-packing, best-fit and fgd (fragmentation "
    "gradient descent). best-fit here is the paper's BestFit score (least CPU and GPU left on"
    " the node after placement, over fixed maxima), not the greedy's best-fit of `solve "
    "--policy`. And the greedy's least-loaded (smallest peak utilisation after placement) and"
    " first-fit (first node in file order where the task fits); both take the tightest "
    "fitting device. Scheduling problems: least-loaded, best-fit and first-fit score a node "
    "as the greedy's policies of the same names (smallest peak utilisation after starting the"
    " task, largest, first node in file order), but on the load at that instant, with no "
    "look-ahead."
)

STOPPING = "stopping: keeping the plan of the tasks that arrived so far (Ctrl-C again to abort)"


def simulate(
    problem_file: ProblemArg,
    policy: Annotated[
        SimulatePolicy,
        typer.Option(
            "--policy",
            metavar="POLICY",
            help=POLICY_HELP,
            show_default=False,
            rich_help_panel=REPLAY,
        ),
    ],
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            metavar="N",
            help="Placement problems: seeds random's draws and the order in which the paper's "
            "policies break ties between nodes of equal score (its simulator draws a node order "
            "per seed); recorded in the plan. Replay a trace imported with `import openb "
            "--order shuffle --seed N` with the same N for the paper's protocol. Default: 0. "
            "Scheduling problems: no effect (the dispatcher draws nothing at random; ties go to "
            "the first node in file order), and a warning says so.",
            show_default=False,
            rich_help_panel=REPLAY,
        ),
    ] = None,
    queue: Annotated[
        SimulateQueue | None,
        typer.Option(
            "--queue",
            metavar="QUEUE",
            help="Scheduling problems only: which ready task the dispatcher takes next: fifo "
            "(ready first, then file order), shortest-first (shortest duration first) or "
            "priority (highest priority first). Default: fifo.",
            show_default=False,
            rich_help_panel=REPLAY,
        ),
    ] = None,
    vs: Annotated[
        Path | None,
        typer.Option(
            "--against",
            metavar="PLAN",
            help="A plan of the same problem (e.g. written by `solve`): the summary gives the "
            "replay's gap to it, term by term (the objective's, and makespan and tardiness in a"
            " schedule; both recomputed by the evaluator), and the plan records it "
            "(metrics.simulation.against).",
            show_default=False,
            rich_help_panel=REPLAY,
        ),
    ] = None,
    output: Annotated[Path | None, output_option("the plan", panel=IO)] = None,
    fmt: Annotated[
        DataFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Plan format; default: from -o's suffix, else yaml.",
            rich_help_panel=IO,
        ),
    ] = None,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed-problem",
            help="Copy the problem file's text into the plan (problem.text), so that `report "
            "PLAN` and `check PLAN` need nothing else. Always on for a problem read from stdin.",
            rich_help_panel=IO,
        ),
    ] = False,
) -> None:
    """Replay a problem online: each task is placed by a policy as it comes, or left out.

    Placement problems: tasks arrive in file order; --policy places each on arrival, devices
    included, or drops it (no retry, no departure). The plan goes to stdout or -o, the summary
    to stderr.

    The policies read the resource the nodes split into devices as the GPU and `cpu` as the
    CPU; other resources (memory, ...) only have to fit. A problem without devices has no GPU:
    no task needs one, and there is no allocation curve. Without `cpu`, the CPU terms are 0.
    With neither, the paper's policies have nothing to score: each task goes to the first node
    where it fits in the seed's node order (random: a random one), while least-loaded (every
    resource) and first-fit work as on any problem.

    The plan records the allocation curve (metrics.simulation.curve: allocated GPU % after
    each arrival against arrived GPU %, the GPU demand of dropped tasks included), and the
    summary prints the figure the FGD paper publishes: the mean allocated GPU % over the
    arrivals whose arrived GPU demand rounds to 100 % of the GPUs
    (metrics.simulation.allocated_at_arrived_100).

    Of placement problems, replays those whose tasks have one replica and no gang, separate_from,
    demand_on or assign_cost, whose nodes split at most one resource into devices of one size;
    any other problem is refused in one line (exit 2).

    Scheduling problems (a task has a duration): a discrete-event dispatcher. A task becomes
    ready at its release once every task it comes after has ended, and waits in a queue
    (--queue). At each release or end, the dispatcher takes the waiting tasks in queue order and
    starts each where it fits at that instant (free capacity and devices, separate_from, its
    replicas on distinct nodes), with --policy choosing the node; a task that does not fit
    waits and the next one is tried. A task starts all its replicas at once, a gang all its
    members at once, a service at 0 (or never). A task that can no longer end by its deadline
    (or the horizon) is left unplaced with that reason, and so are the tasks after it. A task
    with spread places its replicas only where the skew can still hold, and waits otherwise.
    When the problem counts moves (max_moves, or moves in the objective), a replica stays on a
    node of its task's `current` where it fits; under max_moves K, once K replicas have moved
    a task waits for its current node. The plan records makespan, tardiness, mean and p95 wait
    and fleet utilisation over time (metrics.simulation); `report PLAN` draws it.

    Exit 0 with a plan; 4 when a required task was dropped (the plan lists it); 130 on Ctrl-C
    or SIGTERM, after writing the plan of the tasks that arrived until then.
    """
    import threading

    from taskalloc.problems.files import refuse_inputs
    from taskalloc.solvers.simulation import simulate as replay
    from taskalloc.solvers.simulation import simulation_plan

    from .running import graceful_stop

    problem = load(problem_file)
    other = None
    if vs is not None:
        from taskalloc.problems.plan import read_plan

        other = read_plan(str(vs))
        if other.problem_sha256 != problem.sha256:
            warn(f"{vs} was made for a file with other bytes than {problem_file}")
    if seed is not None and problem.scheduling:
        warn("--seed has no effect on a scheduling problem: its replay draws nothing at random")
    if queue is not None and not problem.scheduling:  # (the replay's own word is "-O queue")
        fail(
            ExitCode.BAD_INPUT,
            "--queue: for scheduling problems only; this is a placement problem (its tasks "
            "arrive in file order)",
        )
    if output is not None and str(output) != "-":
        refuse_inputs(
            output,
            [problem_file, *([str(vs)] if vs else [])],
            no_clobber=Settings.no_clobber,
        )  # before the run
    stop = threading.Event()
    with graceful_stop(stop, STOPPING):  # until the plan is written, a signal only stops
        own = {} if queue is None else {"queue": queue.value}
        sim = replay(problem, policy.value, seed=seed or 0, stop=stop, **own)
        plan, _ = simulation_plan(problem, sim, path=None if problem_file == "-" else problem_file)
        if other is not None and vs is not None:
            from taskalloc.solvers.simulation import against, against_line

            gap = against(problem, plan, other, name=vs.name)
            plan.metrics["simulation"]["against"] = gap
            sim.summary.append(against_line(gap))
        if embed or problem_file == "-":
            plan.problem_text = problem.source.data.decode("utf-8")
        fmt_name = format_for(output, fmt.value if fmt is not None else None)
        write(plan.dumps(fmt_name), output, [problem_file, *([str(vs)] if vs else [])])
    if not Settings.quiet:
        for line in sim.summary:
            say_long(line)
    if output is not None and str(output) != "-":
        say(f"plan written to {output}")
    if stop.is_set():
        fail(
            ExitCode.INTERRUPTED,
            "interrupted: the plan holds the tasks that arrived before the stop"
            if sim.stopped
            else "interrupted after the replay ended: the plan is complete",
        )
    if not sim.result.has_plan:
        fail(
            ExitCode.NO_PLAN,
            "no plan places every required task: the plan written has status unknown and "
            "lists the dropped tasks with their reasons",
        )
