"""``taskalloc replan``: a node failed, a pool is drained, work came or went: the new plan with
the fewest moves, and what moved, from where to where, and why.

The changed problem comes from the library (:mod:`taskalloc.problems.replan`); it is solved
as ``solve`` solves one problem (:func:`taskalloc.solvers.run.solve_problem`, progress lines,
Ctrl-C keeps the best plan) with the old plan as the hint.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .console import Settings, fail, fail_explained, plural, say, say_long, say_wrapped, warn
from .exits import ExitCode
from .files import load, refuse_outputs, write
from .options import (
    DataFormat,
    DeterministicOption,
    EngineOptionOption,
    PolicyOption,
    ProblemArg,
    SeedOption,
    SolverOption,
    TimeLimitOption,
    WorkersOption,
    output_option,
)

if TYPE_CHECKING:
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem
    from taskalloc.problems.replan import Move, Replan
    from taskalloc.problems.source import PathElem, Source
    from taskalloc.solvers.run import RunResult

#: help panel of the changes
CHANGES = "What changed (each repeatable)"
IO = "Input and output"


def replan(
    problem_file: ProblemArg,
    plan_file: Annotated[
        str, typer.Argument(help="The plan that runs today (written by solve).", metavar="PLAN")
    ],
    fail_: Annotated[
        list[str] | None,
        typer.Option(
            "--fail",
            metavar="NODE|POOL",
            help="This node (a pool: every member) is gone: what ran there moves or is "
            "unplaced; in a schedule its running work restarts.",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    drain: Annotated[
        list[str] | None,
        typer.Option(
            "--drain",
            metavar="NODE|POOL",
            help="Take nothing new there and move what runs there (in a schedule with --now, "
            "started work finishes there).",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option(
            "--add",
            metavar="TASKS.yaml",
            help="New tasks: a file with a list of task entries (or a problem-like file with "
            "`tasks:`), as in a problem file.",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(
            "--remove", metavar="TASK", help="This task is gone.", rich_help_panel=CHANGES
        ),
    ] = None,
    scale_demand: Annotated[
        list[str] | None,
        typer.Option(
            "--scale-demand",
            metavar="TASK=F",
            help="Multiply the task's demand by F (*=F: every task); resources split into "
            "devices (GPUs) are left as they are.",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    max_moves: Annotated[
        int | None,
        typer.Option(
            "--max-moves",
            min=0,
            metavar="K",
            help="At most K replicas move (a hard limit: what cannot stay or move within it "
            "is unplaced; every engine keeps it but devplan, which refuses it).",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    now: Annotated[
        int | None,
        typer.Option(
            "--now",
            min=0,
            metavar="T",
            help="Scheduling problems: the instant of the change. Replicas that ended by T "
            "stay; tasks that started stay where and when they are, unless on a failed node "
            "(they restart at T); nothing else starts before T. Without it a schedule is "
            "replanned from 0.",
            rich_help_panel=CHANGES,
        ),
    ] = None,
    best_effort: Annotated[
        bool,
        typer.Option(
            "--best-effort",
            help="When the required tasks no longer fit, plan what still does instead of "
            "exit 3: every task is made optional (priorities decide what stays), and the "
            "required ones left out are listed.",
            rich_help_panel=CHANGES,
        ),
    ] = False,
    output: Annotated[
        Path | None, output_option("the new plan", " Never one of the inputs.", IO)
    ] = None,
    write_problem: Annotated[
        Path | None,
        typer.Option(
            "--write-problem",
            metavar="FILE",
            help="Also write the changed problem (the new plan then names it; without it "
            "the plan embeds it, so that `check NEWPLAN` works alone).",
            rich_help_panel=IO,
        ),
    ] = None,
    moves_file: Annotated[
        Path | None,
        typer.Option(
            "--moves",
            metavar="FILE",
            help="Also write the move report as data (YAML, or JSON for a .json FILE): one "
            "entry per change with kind, task, from, to and why.",
            rich_help_panel=IO,
        ),
    ] = None,
    fmt: Annotated[
        DataFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Plan format (default: from -o's suffix, else yaml).",
            rich_help_panel=IO,
        ),
    ] = None,
    solver: SolverOption = "auto",
    time_limit: TimeLimitOption = None,
    seed: SeedOption = 0,
    workers: WorkersOption = None,
    deterministic: DeterministicOption = False,
    policy: PolicyOption = None,
    engine_option: EngineOptionOption = None,
) -> None:
    """Replan after a change: the new plan, and what moved, from where to where, and why.

    The plan goes to stdout or -o; what moved goes to stderr.

    The changed problem gives every task `current` = where the old plan runs its replicas,
    and puts `moves` right after `unplaced` in the objective (unless it is there), so only
    what must move moves, and what may move moves only when the objective gains by it. The
    old plan is the engines' hint.

    Exit 0 with a plan; 2 bad input (an unknown node or task is named, with a suggestion); 3
    proven infeasible (e.g. the required tasks no longer fit, or not within --max-moves; with
    --best-effort, 0 and a plan of what still fits); 4 no plan within the limits; 130 on
    Ctrl-C, after writing the best plan found so far.
    """
    import threading

    from taskalloc.problems.plan import read_plan
    from taskalloc.problems.replan import Changes, moves_of, replan_problem
    from taskalloc.solvers import choose
    from taskalloc.solvers.features import refuse_unhandled
    from taskalloc.solvers.run import SolveOptions, solve_problem, stdout_to_stderr

    from .exits import EXIT_FOR_OUTCOME
    from .files import format_for
    from .running import STOPPING, ProgressLines, graceful_stop
    from .solve import parse_option, warn_ignored

    inputs: list[str | None] = [problem_file, plan_file, *(add or [])]
    refuse_outputs([output, write_problem, moves_file], inputs)  # before the run
    if write_problem is not None and str(write_problem) == "-":
        fail(ExitCode.BAD_INPUT, "--write-problem needs a file (stdout is for the plan)")
    problem = load(problem_file)
    plan = read_plan(plan_file)
    if plan.problem_sha256 != problem.sha256:
        warn(f"{plan_file} was made for a file with other bytes than {problem_file}")
    added = [entry for f in add or () for entry in _tasks_of(f)]
    changes = Changes(
        fail=tuple(fail_ or ()),
        drain=tuple(drain or ()),
        add=tuple(t for t, _ in added),
        add_at=tuple(at for _, at in added),
        remove=tuple(remove or ()),
        scale_demand=tuple(_factor(x, "--scale-demand", "TASK") for x in scale_demand or ()),
        max_moves=max_moves,
        now=now,
        optional=best_effort,
    )
    rp = replan_problem(problem, plan, changes)
    engine_options: dict[str, Any] = {}
    if policy is not None:
        engine_options["policy"] = policy.value
    for item in engine_option or []:
        name, value = parse_option(item)
        engine_options[name] = value
    opts = SolveOptions(
        solver=str(solver),
        seed=seed,
        time_limit=time_limit,
        workers=workers or 2,
        deterministic=deterministic,
        hint=list(rp.hint),
        options=engine_options,
    )
    engine = choose(rp.problem, opts.solver)
    refuse_unhandled(rp.problem, engine)  # before anything is written or said
    if write_problem is not None:
        write(rp.problem.source.data, write_problem, inputs)
        say(f"changed problem written to {write_problem}")
    if not Settings.quiet:
        say(f"replan: {'; '.join(changes.describe()) or 'no change'} ({engine})")
    progress = None if Settings.quiet else ProgressLines(engine, rp.problem.objective)
    stop = threading.Event()
    fmt_name = format_for(output, fmt.value if fmt is not None else None)
    with graceful_stop(stop, STOPPING):
        with stdout_to_stderr():
            res = solve_problem(
                rp.problem,
                opts,
                path=None if write_problem is None else str(write_problem),
                fmt=fmt_name,
                embed=write_problem is None,
                stop=stop,
                progress=progress,
                say=say,
                warn=warn_ignored,
            )
        assert res.plan_text is not None
        write(res.plan_text, output, inputs)
    if res.structural:
        fail_explained(EXIT_FOR_OUTCOME[res.outcome], *_with_hint(res, best_effort))
    if res.summary:
        say_wrapped(res.summary)
    if output is not None:
        say(f"plan written to {output}")
    if res.plan is not None and res.outcome in ("ok", "interrupted"):
        moves = moves_of(rp, res.plan)
        _say_moves(rp, moves)
        if best_effort:
            _say_left_out(problem, res.plan)
        if moves_file is not None:
            from taskalloc.problems.plan import dumps

            kind = "json" if moves_file.suffix.lower() == ".json" else "yaml"
            data = {"changes": changes.describe(), "moves": [m.to_dict() for m in moves]}
            write(dumps(data, kind), moves_file, inputs)
    if res.error_lines:
        fail_explained(EXIT_FOR_OUTCOME[res.outcome], *_with_hint(res, best_effort))


def _with_hint(res: RunResult, best_effort: bool) -> list[str]:
    """The error lines, and after a proof of infeasibility the way out: --best-effort (also
    when the proof came before any search, from the changed problem's pre-checks)."""
    lines = list(res.error_lines)
    if res.outcome == "infeasible" and not best_effort:
        lines.append(
            "(--best-effort plans what still fits instead: every task optional, "
            "priorities decide what stays)"
        )
    return lines


def _say_left_out(problem: Problem, plan: Plan) -> None:
    """--best-effort: the tasks the original problem requires that the plan leaves out."""
    unplaced = {u.task for u in plan.unplaced}  # left out, or not every replica placed
    out = [t.id for t in problem.tasks if t.required and t.id in unplaced]
    if out:
        shown = ", ".join(out[:10]) + (f" and {len(out) - 10} more" if len(out) > 10 else "")
        warn(f"best effort: {plural(len(out), 'required task')} left out: {shown}")
    else:
        say("best effort: every required task is placed")


def _say_moves(rp: Replan, moves: list[Move]) -> None:
    """The move report on stderr: a count line, then one line per change."""
    moved = [m for m in moves if m.kind == "moved"]
    limit = "" if rp.problem.max_moves is None else f" (at most {rp.problem.max_moves})"
    counts = [plural(len(moved), "move") + limit]
    for kind, word in (
        ("stopped", "stopped"),
        ("started", "started"),
        ("restarted", "restarted"),
        ("removed", "removed"),
        ("devices", "on other devices"),
    ):
        n = sum(1 for m in moves if m.kind == kind)
        if n:
            counts.append(f"{n} {word}")
    say("changes: " + ", ".join(counts))
    for m in moves:
        say_long(f"  {m}")


def _factor(item: str, flag: str, what: str) -> tuple[str, float]:
    name, sep, text = item.partition("=")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not sep or not name or value < 0:
        fail(
            ExitCode.BAD_INPUT,
            f"{flag} {item}: give {what}=F with a factor F >= 0 (e.g. {what}=1.5)",
        )
    return name, value


def _tasks_of(path: str) -> list[tuple[dict[str, Any], tuple[Source, tuple[PathElem, ...]]]]:
    """The task entries of an --add file (a list of entries, or a mapping with ``tasks``),
    each with where it is written there (the replanned problem's messages name that line)."""
    from taskalloc.problems.source import load as load_source

    source = load_source(path)
    raw = source.raw
    tasks = raw.get("tasks") if isinstance(raw, dict) else raw
    prefix: tuple[PathElem, ...] = ("tasks",) if isinstance(raw, dict) else ()
    if isinstance(raw, dict) and "tasks" not in raw and "id" in raw:
        return [(raw, (source, ()))]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        fail(
            ExitCode.BAD_INPUT,
            f"--add {path}: give a list of task entries (or `tasks:` and a list)",
        )
    return [(t, (source, (*prefix, i))) for i, t in enumerate(tasks)]
