"""``taskalloc solve``: one problem, a batch (:mod:`.batch`) or a Pareto front (:mod:`.pareto`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .console import Settings, fail, fail_explained, say, say_long, say_wrapped, warn
from .errors import engine_flag, flag
from .exits import ExitCode
from .files import format_for, load, write
from .options import (
    BATCH,
    DETERMINISTIC_HELP,
    ENGINE,
    IO,
    LIMITS,
    PARETO,
    PARTS,
    SOLVE_ENGINE_HELP,
    EngineName,
    ExecutorName,
    Policy,
    executor_option,
    jobs_option,
    output_option,
    ray_address_option,
    workers_option,
)

if TYPE_CHECKING:
    from taskalloc.solvers.engine import Ignored


class SolveFormat(StrEnum):
    yaml = "yaml"
    json = "json"
    jsonl = "jsonl"


class SplitName(StrEnum):
    """How --partitions deals the nodes to the parts."""

    plan = "plan"
    random = "random"


def solve(
    problem_files: Annotated[
        list[str],
        typer.Argument(
            help="Problem files (YAML or JSON; - for stdin) or directories, searched for "
            "*.yaml, *.yml and *.json. More than one, a directory or --out-dir makes a batch.",
            show_default=False,
            metavar="PROBLEM...",
            rich_help_panel=IO,
        ),
    ],
    output: Annotated[
        Path | None,
        output_option("the plan", " With --pareto: the front summary.", panel=IO),
    ] = None,
    fmt: Annotated[
        SolveFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Plan (and front summary) format; default: from -o's suffix, else yaml. In a "
            "batch, jsonl writes the summary lines to stdout (plans in yaml).",
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
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            "-d",
            metavar="DIR",
            help="Directory for plan files: a batch's, one per problem (NAME.plan.yaml or .json, "
            "keeping the sub-directories of an input directory), or a front's (plan-01.yaml, "
            "...).",
            rich_help_panel=IO,
        ),
    ] = None,
    solver: Annotated[
        EngineName,
        typer.Option("--solver", "-s", help=SOLVE_ENGINE_HELP, rich_help_panel=ENGINE),
    ] = "auto",
    hint: Annotated[
        str | None,
        typer.Option(
            "--hint",
            metavar="PLAN",
            help="cpsat, mip, ga: start from this plan (any plan file of the problem).",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    policy: Annotated[
        Policy | None,
        typer.Option(
            "--policy",
            help="greedy: the node each replica goes to: least-loaded (the default: smallest "
            "peak utilisation after placing), best-fit (largest), first-fit (first allowed node "
            "with room).",
            show_default=False,
            rich_help_panel=ENGINE,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            metavar="NAME",
            help="mip: where the MILP is solved: ortools-portfolio (SCIP and CP-SAT race; the "
            "default with 2+ workers and no balance term, else ortools-scip), ortools-scip, "
            "ortools-highs, ortools-cpsat, or any Pyomo solver by name (gurobi, cplex, cbc, "
            "glpk, ...), whose solution is read back and checked.",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    gap: Annotated[
        float | None,
        typer.Option(
            "--gap",
            min=0,
            metavar="FRACTION",
            help="mip: stop each solve at this relative gap, a fraction from 0 to below 1 "
            "(0.01 for 1 %); default 0: prove optimality.",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    generations: Annotated[
        int | None,
        typer.Option(
            "--generations",
            min=0,
            metavar="N",
            help="ga: stop after N generations (default: by time, 60 s). Runs stopped by "
            "generations repeat for a --seed; time-limited runs depend on the machine's speed.",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    population: Annotated[
        int | None,
        typer.Option(
            "--population",
            min=4,
            metavar="N",
            help="ga: individuals per generation (default: by size).",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    engine_option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-O",
            metavar="NAME=VALUE",
            help="Any option of the engine, by name; repeatable: -O passes=1 (greedy), -O "
            "lns=true (cpsat). docs/architecture.md lists every engine's options; those with a "
            "flag above may be given either way. Values: true, false, none, numbers, else text.",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            "-t",
            min=0,
            metavar="SECONDS",
            help="Seconds for the whole search of a problem (cpsat, mip and devplan: 60 by "
            "default; ga: 60 unless --generations; greedy: none).",
            rich_help_panel=LIMITS,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        workers_option(
            "Search threads per problem (cpsat; mip: SCIP and CP-SAT backends; ga: "
            "processes, for problems of 2,000+ replicas). Default 2; in a batch, the cores "
            "divided by --jobs (local) or 1 (ray: each task reserves N CPUs).",
            LIMITS,
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="N",
            help="Random seed (recorded in the plan).",
            rich_help_panel=LIMITS,
        ),
    ] = 0,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help=DETERMINISTIC_HELP,
            rich_help_panel=LIMITS,
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        jobs_option(
            "Problems solved at once, one process each (local executor; default 1); with "
            "--partitions: parts solved at once (default: K, at most the cores).",
            BATCH,
        ),
    ] = None,
    total_time_limit: Annotated[
        float | None,
        typer.Option(
            "--total-time-limit",
            min=0,
            metavar="SECONDS",
            help="Seconds for the whole batch; a problem starting late gets what is left, "
            "problems not started by then are skipped (exit 4).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Keep every plan file already in --out-dir and solve only the rest (resumes "
            "an interrupted batch).",
            rich_help_panel=BATCH,
        ),
    ] = False,
    summary: Annotated[
        str | None,
        typer.Option(
            "--summary",
            metavar="FILE",
            help="Write one JSON line per problem to FILE as each finishes (- for stdout, like "
            "--format jsonl).",
            rich_help_panel=BATCH,
        ),
    ] = None,
    executor: Annotated[
        ExecutorName,
        executor_option(BATCH, " Runs a batch's problems, or the parts of --partitions."),
    ] = ExecutorName.local,
    ray_address: Annotated[str | None, ray_address_option(BATCH)] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            "-k",
            min=1,
            metavar="K",
            help="Split the problem into K parts (of tasks and nodes, --split; gangs, "
            "dependency chains, separation groups and a spread task's nodes stay whole), solve "
            "them at once with -s (--executor: worker processes or Ray tasks), put the plans "
            "together, then re-solve unions of two parts and place what no part could. Same "
            "plan for the same seed and K with a deterministic engine (--deterministic, or "
            "greedy). The parts share -t: they get about 60 %, the rest improves the whole. "
            "At 150,000 x 5,000 each part starts from its share of the greedy's plan (a part "
            "that fails keeps it) and the whole is improved by the LNS at scale here.",
            rich_help_panel=PARTS,
        ),
    ] = None,
    split: Annotated[
        SplitName | None,
        typer.Option(
            "--split",
            help="How --partitions deals the nodes to the parts: plan (the default when the "
            "parts start from a plan, as at 150,000 x 5,000: each part grown along the task "
            "groups the plan puts on several nodes, so that fewer are spread over two parts) "
            "or random (the POP paper's split). Every part gets its share of every pool.",
            rich_help_panel=PARTS,
        ),
    ] = None,
    pareto: Annotated[
        str | None,
        typer.Option(
            "--pareto",
            metavar="TERMS",
            help="Compute a Pareto front of these 2 or 3 objective terms (e.g. cost,balance): "
            "one plan file per non-dominated plan in --out-dir, the front summary on stdout "
            "(or -o). -s cpsat: the exact front of 2 terms; -s ga: NSGA-II, 2 or 3 terms; "
            "auto: cpsat for 2 terms, ga for 3. Optional tasks count only when unplaced is "
            "one of the terms; else they break ties (cpsat: of the plans of a point, the one "
            "that leaves the least priority out; ga: added where they cost no term).",
            rich_help_panel=PARETO,
        ),
    ] = None,
    points: Annotated[
        int | None,
        typer.Option(
            "--points",
            min=2,
            metavar="N",
            help="With cpsat: at most N points, evenly spaced.",
            rich_help_panel=PARETO,
        ),
    ] = None,
    reference_front: Annotated[
        str | None,
        typer.Option(
            "--reference-front",
            metavar="FILE",
            help="A front summary written earlier (e.g. by -s cpsat --pareto); the summary then "
            "gives each plan's distance to that front.",
            rich_help_panel=PARETO,
        ),
    ] = None,
) -> None:
    """Solve a problem and write the plan (stdout or -o); progress and a summary go to stderr.

    Exit 0 with a plan; 3 when the problem is proven infeasible (the plan then lists the
    proofs); 4 when no plan was found within the limits (the partial plan says why); 130 on
    Ctrl-C or SIGTERM, after writing the best plan found so far (status feasible).

    Batch: with several problems, a directory or --out-dir, every problem gets a plan file in
    --out-dir, written as soon as it is solved (a file given twice is solved once); a progress
    bar and a closing table go to stderr; the exit code is the worst of the batch (130, 70, 2,
    4, 3, then 0).

    With --pareto: the plans go to --out-dir (plan-01.yaml, ...), the front summary to stdout
    or -o; exit 2 for bad terms, 3 proven infeasible, 4 no plan, 130 after writing the front
    found so far.
    """
    engine_options: dict[str, Any] = {
        k: v
        for k, v in {
            "policy": None if policy is None else policy.value,
            "backend": backend,
            "gap": gap,
            "generations": generations,
            "population": population,
        }.items()
        if v is not None
    }
    for item in engine_option or []:
        name, value = parse_option(item)
        engine_options[name] = value
    if pareto is not None:
        from .pareto import solve_front

        if len(problem_files) != 1:
            fail(ExitCode.BAD_INPUT, "--pareto takes one problem file")
        if fmt == SolveFormat.jsonl:
            fail(ExitCode.BAD_INPUT, "--format jsonl is for batches; a front is yaml or json")
        solve_front(
            problem_files[0],
            solver=str(solver),
            terms_text=pareto,
            points=points,
            out_dir=out_dir,
            reference_front=reference_front,
            output=output,
            fmt=fmt.value if fmt is not None else None,
            seed=seed,
            time_limit=time_limit,
            workers=2 if workers is None else workers,
            deterministic=deterministic,
            hint=hint,
            engine_options=engine_options,
        )
        return
    if points is not None or reference_front is not None:
        fail(ExitCode.BAD_INPUT, "--points and --reference-front need --pareto")
    from taskalloc.solvers.run import SolveOptions

    opts = SolveOptions(
        solver=str(solver),
        seed=seed,
        time_limit=time_limit,
        workers=workers or 2,
        deterministic=deterministic,
        options=engine_options,
    )
    if partitions is not None:
        opts.partitions = partitions
        opts.executor = executor.value
        opts.ray_address = ray_address
        opts.jobs = jobs
        opts.split = None if split is None else split.value
    is_batch = (
        out_dir is not None
        or len(problem_files) > 1
        or any(f != "-" and Path(f).is_dir() for f in problem_files)
    )
    if is_batch:
        from . import batch

        if output is not None or hint is not None:
            fail(ExitCode.BAD_INPUT, "-o and --hint are for one problem; a batch uses --out-dir")
        if partitions is not None:
            fail(ExitCode.BAD_INPUT, "--partitions is for one problem, not a batch")
        if out_dir is None:
            fail(
                ExitCode.BAD_INPUT,
                "several problems (or a directory) need --out-dir DIR for their plan files",
            )
        code = batch.run(
            problem_files,
            out_dir,
            opts,
            workers_given=workers is not None,
            fmt=fmt.value if fmt is not None else None,
            embed=embed,
            jobs=1 if jobs is None else jobs,
            total_time_limit=total_time_limit,
            skip_existing=skip_existing,
            summary=summary,
            executor=executor.value,
            ray_address=ray_address,
            quiet=Settings.quiet,
        )
        if code:
            raise typer.Exit(code)
        return
    parted = partitions is not None
    batch_only = {
        "--jobs": jobs not in (None, 1) and not parted,
        "--total-time-limit": total_time_limit is not None,
        "--skip-existing": skip_existing,
        "--summary": summary is not None,
        "--executor": executor != ExecutorName.local and not parted,
        "--ray-address": ray_address is not None and not parted,
        "--format jsonl": fmt == SolveFormat.jsonl,
    }
    misplaced = [name for name, given in batch_only.items() if given]
    if misplaced:
        fail(
            ExitCode.BAD_INPUT,
            f"{', '.join(misplaced)}: for batches only (give --out-dir DIR), or with --partitions",
        )
    if ray_address is not None and executor != ExecutorName.ray:
        fail(ExitCode.BAD_INPUT, "--ray-address needs --executor ray")
    if split is not None and not parted:
        fail(ExitCode.BAD_INPUT, "--split needs --partitions K")
    solve_one(problem_files[0], opts, output=output, fmt=fmt, embed=embed, hint=hint)


def parse_option(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of -O: (the option's name, its value: bool, None, int, float or text)."""
    name, sep, text = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        fail(ExitCode.BAD_INPUT, f"-O {item}: give NAME=VALUE (e.g. -O passes=1)")
    words: dict[str, Any] = {"true": True, "false": False, "none": None, "null": None}
    value: Any = words.get(text.strip().lower(), text)
    if isinstance(value, str):
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
    return name, value


#: statuses of a plan worth writing when interrupted: a plan, or a proof that none exists
PLAN_STATUSES = ("optimal", "feasible", "infeasible")


def warn_ignored(ignored: Ignored) -> None:
    warn(ignored.render(flag, engine_flag))


def solve_one(
    problem_file: str,
    opts: Any,
    *,
    output: Path | None,
    fmt: SolveFormat | None,
    embed: bool,
    hint: str | None,
) -> None:
    """Solve one problem and write its plan (see :func:`solve`)."""

    from taskalloc.problems.files import refuse_inputs
    from taskalloc.problems.plan import read_plan
    from taskalloc.solvers import choose
    from taskalloc.solvers.clock import Stop
    from taskalloc.solvers.run import Outcome, solve_problem, stdout_to_stderr

    from .exits import EXIT_FOR_OUTCOME
    from .running import STOPPING, ProgressLines, graceful_stop

    problem = load(problem_file)
    path = None if problem_file == "-" else problem_file
    fmt_name = format_for(output, fmt.value if fmt is not None else None)
    if output is not None and str(output) != "-":
        refuse_inputs(output, [problem_file, hint], no_clobber=Settings.no_clobber)  # before
    if hint is not None:
        hint_plan = read_plan(hint)
        if hint_plan.problem_sha256 != problem.sha256:
            warn(f"the hint {hint} was made for a file with other bytes; using what fits")
        opts.hint = hint_plan.assignments
    engine = choose(problem, opts.solver)
    progress = None if Settings.quiet else ProgressLines(engine, problem.objective)
    stop = Stop()
    with graceful_stop(stop, STOPPING):  # until the plan is written, a signal only stops
        with stdout_to_stderr():  # OR-Tools backends may print: stdout is for the plan
            res = solve_problem(
                problem,
                opts,
                path=path,
                fmt=fmt_name,
                embed=embed or problem_file == "-",
                stop=stop,
                progress=progress,
                say=say,
                warn=warn_ignored,
            )
        # stopped before any plan: the old output (if any) stays as it was
        nothing = res.outcome == "interrupted" and res.status not in PLAN_STATUSES
        if nothing:
            res.error_lines = ["interrupted: no plan found yet; nothing written"]
        else:
            assert res.plan_text is not None
            write(res.plan_text, output, [problem_file, hint])
    if stop.is_set() and res.outcome != Outcome.INTERRUPTED and not res.structural:
        # the signal came as the run ended (its plan being written): still exit 130
        res.outcome = Outcome.INTERRUPTED
        res.error_lines = [*res.error_lines, "interrupted: the run had ended; its plan is written"]
    if res.structural:
        fail_explained(EXIT_FOR_OUTCOME[res.outcome], *res.error_lines)
    if res.summary:
        say_wrapped(res.summary)
    if output is not None and not nothing:
        say(f"plan written to {output}")
    if res.error_lines:
        fail_explained(EXIT_FOR_OUTCOME[res.outcome], *res.error_lines)
    for line in res.unplaced_lines:
        say_long(line)
