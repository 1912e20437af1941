"""The ``taskalloc`` command: thin commands that parse, call the library and render.

Data (plans, reports, schemas, generated problems) goes to stdout or ``-o``; everything for
humans (summaries, warnings, errors) goes to stderr. Library errors become one line each on
stderr and an exit code from :mod:`taskalloc.cli.exits`, in :func:`main` only. Heavy modules
(numpy, pydantic, solvers) are imported inside the commands so that ``--help`` starts fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from .exits import EXIT_CODES_HELP, ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem


class _GuardedGroup(TyperGroup):
    """Runs every command through :func:`run_guarded` (also under typer's CliRunner)."""

    def invoke(self, ctx: Any) -> Any:
        return run_guarded(lambda: super(_GuardedGroup, self).invoke(ctx))


app = typer.Typer(
    name="taskalloc",
    cls=_GuardedGroup,
    help=(
        "Place and schedule AI workloads on heterogeneous fleets: which task goes on which "
        "node, and when.\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _Opts:
    debug = False
    quiet = False


_STDERR: Console | None = None


def err_console() -> Console:
    global _STDERR
    if _STDERR is None:
        from rich.console import Console

        _STDERR = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    return _STDERR


def say(message: str) -> None:
    """A line for humans on stderr (silenced by --quiet)."""
    if not _Opts.quiet:
        err_console().print(message, markup=False)


def warn(message: str) -> None:
    if not _Opts.quiet:
        err_console().print(f"warning: {message}", markup=False, style="yellow")


class Fail(Exception):
    """A handled failure: message lines for stderr and an exit code."""

    def __init__(self, code: ExitCode, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def fail(code: ExitCode, *lines: str) -> NoReturn:
    raise Fail(code, *lines)


class PlanFormat(StrEnum):
    yaml = "yaml"
    json = "json"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from taskalloc import __version__

        typer.echo(f"taskalloc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No summaries or warnings on stderr.")
    ] = False,
) -> None:
    _Opts.debug = debug
    _Opts.quiet = quiet


# -- helpers ---------------------------------------------------------------------------------


def _load(path: str) -> Problem:
    from taskalloc.problems.problem import load_problem

    problem = load_problem(path)
    for w in problem.warnings:
        warn(str(w))
    return problem


def _load_pair(problem_file: str, plan_file: str | None) -> tuple[Problem, Plan]:
    """The problem and the plan of `check` and `report`.

    With two files, each is read from its place (one of them may be stdin). With one file
    (``report PLAN``), or ``- -`` (the plan on stdin), the problem is the one the plan
    embeds (``problem.text``, written by ``solve -`` or ``--embed-problem``), else the file
    the plan names (``problem.path``, relative to the current directory or to the plan's);
    either must have the bytes whose sha256 the plan records.
    """
    from taskalloc.problems.plan import read_plan

    if plan_file is None or (problem_file == "-" and plan_file == "-"):
        source = problem_file if plan_file is None else "-"
        plan = read_plan(source)
        return _problem_of(plan, source), plan
    return _load(problem_file), read_plan(plan_file)


def _problem_of(plan: Plan, plan_file: str) -> Problem:
    import hashlib

    from taskalloc.problems.problem import build_problem
    from taskalloc.problems.source import parse

    plan_name = "<stdin>" if plan_file == "-" else plan_file
    if plan.problem_text is not None:
        data = plan.problem_text.encode("utf-8")
        if hashlib.sha256(data).hexdigest() != plan.problem_sha256:
            warn(f"{plan_name}: the embedded problem does not match problem.sha256")
        problem = build_problem(parse(f"{plan_name}#problem.text", data))
        for w in problem.warnings:
            warn(str(w))
        return problem
    if not plan.problem_path:
        fail(
            ExitCode.BAD_INPUT,
            f"{plan_name}: the plan neither embeds its problem (problem.text) nor names its file "
            "(problem.path); give both files: PROBLEM PLAN",
        )
    candidates = [Path(plan.problem_path)]
    if plan_file != "-" and not candidates[0].is_absolute():
        candidates.append(Path(plan_file).parent / plan.problem_path)
    for candidate in candidates:
        if candidate.is_file():
            return _load(str(candidate))
    fail(
        ExitCode.BAD_INPUT,
        f"{plan_name}: the problem file {plan.problem_path} (problem.path) is not there; give "
        "both files: PROBLEM PLAN",
    )


def _write(text: str, output: Path | None) -> None:
    """Write data to ``output`` atomically (temp file + rename), or to stdout."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


def _format_for(output: Path | None, fmt: PlanFormat | None) -> str:
    if fmt is not None:
        return fmt.value
    if output is not None and output.suffix.lower() == ".json":
        return "json"
    return "yaml"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


ProblemArg = Annotated[str, typer.Argument(help="Problem file (YAML or JSON); - for stdin.")]
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


# -- commands --------------------------------------------------------------------------------


class SolveFormat(StrEnum):
    yaml = "yaml"
    json = "json"
    jsonl = "jsonl"


class ExecutorName(StrEnum):
    local = "local"
    ray = "ray"


@app.command()
def solve(
    problem_files: Annotated[
        list[str],
        typer.Argument(
            help="Problem files (YAML or JSON; - for stdin) or directories, searched for "
            "*.yaml, *.yml and *.json. More than one, a directory or --out-dir makes a batch.",
            show_default=False,
            metavar="PROBLEM",
        ),
    ],
    solver: Annotated[
        str,
        typer.Option(
            "--solver",
            "-s",
            help="auto (cpsat; greedy for scheduling problems, or objectives with balance, above "
            "200,000 task-node pairs), cpsat, mip, ga or greedy.",
        ),
    ] = "auto",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the plan (--pareto: the summary) here (default stdout)."
        ),
    ] = None,
    fmt: Annotated[
        SolveFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Plan (and --pareto summary) format (default: from -o's suffix, else yaml). In a "
            "batch, jsonl writes the summary to stdout (plans in yaml).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (recorded in the plan).")] = 0,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            "-t",
            min=0,
            help="Seconds for the whole search of a problem (cpsat default: 60).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Search threads per problem (cpsat; mip: SCIP and CP-SAT backends). Default 2; "
            "in a batch, the cores divided by --jobs (local) or 1 (ray: each task reserves this "
            "many CPUs).",
        ),
    ] = None,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help="cpsat: 1 worker and a deterministic time limit, so the same input, seed and "
            "limit give the same plan on every run and machine. Without it, runs with several "
            "workers differ in plan (never in validity), and the limit is wall-clock. mip: one "
            "thread and no polishing (its limit stays wall-clock: only solves that end before "
            "it repeat).",
        ),
    ] = False,
    hint: Annotated[
        str | None,
        typer.Option(
            "--hint", help="cpsat, mip: start from this plan (any plan file of the problem)."
        ),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="Greedy node choice: least-loaded (smallest peak utilisation after placing), "
            "best-fit (largest), first-fit (first allowed node with room).",
        ),
    ] = "least-loaded",
    mip_backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="mip: where the MILP is solved: ortools-portfolio (SCIP and CP-SAT race; the "
            "default with 2+ workers and no balance term, else ortools-scip), ortools-scip, "
            "ortools-highs, ortools-cpsat, or any Pyomo solver by name (gurobi, cplex, cbc, "
            "glpk, ...), whose solution is read back and checked.",
        ),
    ] = None,
    gap: Annotated[
        float | None,
        typer.Option(
            "--gap",
            min=0,
            help="mip: stop each solve at this relative gap (0.01 for 1 %); default 0, prove "
            "optimality.",
        ),
    ] = None,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed-problem",
            help="Copy the problem file's text into the plan (problem.text), so that `report "
            "PLAN` and `check PLAN` need nothing else. Always on for a problem read from stdin.",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            "-d",
            help="Directory for plan files: a batch's, one per problem (NAME.plan.yaml or .json, "
            "keeping the sub-directories of an input directory), or a --pareto front's "
            "(plan-01.yaml, ...).",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=1, help="Batch: problems solved at once, one process each."
        ),
    ] = 1,
    total_time_limit: Annotated[
        float | None,
        typer.Option(
            "--total-time-limit",
            min=0,
            help="Batch: seconds for the whole batch; a problem starting late gets what is left, "
            "problems not started by then are skipped (exit 4).",
        ),
    ] = None,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Batch: keep every plan file already in --out-dir and solve only the rest "
            "(resumes an interrupted batch).",
        ),
    ] = False,
    summary: Annotated[
        str | None,
        typer.Option(
            "--summary",
            help="Batch: write one JSON line per problem to this file as each finishes (- for "
            "stdout, like --format jsonl).",
        ),
    ] = None,
    executor: Annotated[
        ExecutorName,
        typer.Option(
            "--executor",
            help="Batch: local (worker processes on this machine) or ray (Ray tasks; needs "
            "pip install 'taskalloc[ray]').",
        ),
    ] = ExecutorName.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Batch with --executor ray: the cluster (e.g. 10.0.0.5:6379, or auto); "
            "default: a local Ray started for the run.",
        ),
    ] = None,
    pareto: Annotated[
        str | None,
        typer.Option(
            "--pareto",
            help="Compute a Pareto front of these 2 or 3 objective terms (e.g. cost,balance): "
            "one plan file per non-dominated plan in --out-dir, the front summary on stdout "
            "(or -o). -s cpsat: the exact front of 2 terms; -s ga: NSGA-II, 2 or 3 terms.",
        ),
    ] = None,
    points: Annotated[
        int | None,
        typer.Option(
            "--points", min=2, help="--pareto with cpsat: at most K points, evenly spaced."
        ),
    ] = None,
    reference_front: Annotated[
        str | None,
        typer.Option(
            "--reference-front",
            help="--pareto: a front summary written earlier (e.g. by -s cpsat --pareto); the "
            "summary then gives each plan's distance to that front.",
        ),
    ] = None,
    generations: Annotated[
        int | None,
        typer.Option(
            "--generations",
            min=0,
            help="ga: stop after this many generations (default: by time, 60 s). Runs stopped "
            "by generations are reproducible for a --seed; time-limited runs depend on the "
            "machine's speed. ga uses --workers > 1 only for problems of 2,000+ replicas.",
        ),
    ] = None,
    population: Annotated[
        int | None,
        typer.Option(
            "--population", min=4, help="ga: individuals per generation (default by size)."
        ),
    ] = None,
) -> None:
    """Solve a problem and write the plan (stdout or -o); progress and a summary go to stderr.

    Exit 0 with a plan; 3 when the problem is proven infeasible (the plan then lists the
    proofs); 4 when no plan was found within the limits (the partial plan says why); 130 on
    Ctrl-C or SIGTERM, after writing the best plan found so far (status feasible).

    Batch: with several problems, a directory or --out-dir, every problem gets a plan file in
    --out-dir, written as soon as it is solved; a rich progress bar and a closing table go to
    stderr; the exit code is the worst of the batch (130, 70, 2, 4, 3, then 0).

    With --pareto: the plans go to --out-dir (plan-01.yaml, ...), the front summary to stdout
    or -o; exit 2 for bad terms, 3 proven infeasible, 4 no plan, 130 after writing the front
    found so far.
    """
    if pareto is not None:
        from .pareto import solve_front

        if len(problem_files) != 1:
            fail(ExitCode.BAD_INPUT, "--pareto takes one problem file")
        if fmt == SolveFormat.jsonl:
            fail(ExitCode.BAD_INPUT, "--format jsonl is for batches; a front is yaml or json")
        solve_front(
            problem_files[0],
            solver=solver,
            terms_text=pareto,
            points=points,
            out_dir=out_dir,
            reference_front=reference_front,
            output=output,
            fmt=fmt,
            seed=seed,
            time_limit=time_limit,
            workers=2 if workers is None else workers,
            deterministic=deterministic,
            hint=hint,
        )
        return
    if points is not None or reference_front is not None:
        fail(ExitCode.BAD_INPUT, "--points and --reference-front need --pareto")
    import threading

    from taskalloc.problems.plan import read_plan
    from taskalloc.solvers import SOLVERS, SolverUnavailable
    from taskalloc.solvers.greedy import POLICIES
    from taskalloc.solvers.run import SolveOptions, solve_problem, stdout_to_stderr

    from .exits import EXIT_FOR_OUTCOME

    if solver != "auto" and solver not in SOLVERS:
        names = ", ".join(["auto", *SOLVERS])
        fail(ExitCode.BAD_INPUT, f"unknown solver '{solver}' (available: {names})")
    if policy not in POLICIES:
        fail(ExitCode.BAD_INPUT, f"unknown policy '{policy}' (one of: {', '.join(POLICIES)})")
    opts = SolveOptions(
        solver=solver,
        seed=seed,
        time_limit=time_limit,
        workers=workers or 2,
        deterministic=deterministic,
        policy=policy,
        backend=mip_backend,
        gap=gap,
        generations=generations,
        population=population,
    )
    is_batch = (
        out_dir is not None
        or len(problem_files) > 1
        or any(f != "-" and Path(f).is_dir() for f in problem_files)
    )
    if is_batch:
        from . import batch

        if output is not None or hint is not None:
            fail(ExitCode.BAD_INPUT, "-o and --hint are for one problem; a batch uses --out-dir")
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
            jobs=jobs,
            total_time_limit=total_time_limit,
            skip_existing=skip_existing,
            summary=summary,
            executor=executor.value,
            ray_address=ray_address,
            quiet=_Opts.quiet,
        )
        if code:
            raise typer.Exit(code)
        return
    batch_only = {
        "--jobs": jobs != 1,
        "--total-time-limit": total_time_limit is not None,
        "--skip-existing": skip_existing,
        "--summary": summary is not None,
        "--executor": executor != ExecutorName.local,
        "--ray-address": ray_address is not None,
        "--format jsonl": fmt == SolveFormat.jsonl,
    }
    misplaced = [name for name, given in batch_only.items() if given]
    if misplaced:
        fail(ExitCode.BAD_INPUT, f"{', '.join(misplaced)}: for batches only (give --out-dir DIR)")
    problem_file = problem_files[0]
    problem = _load(problem_file)
    path = None if problem_file == "-" else problem_file
    fmt_name = _format_for(output, PlanFormat(fmt.value) if fmt is not None else None)
    if hint is not None:
        hint_plan = read_plan(hint)
        if hint_plan.problem_sha256 != problem.sha256:
            warn(f"the hint {hint} was made for a file with other bytes; using what fits")
        opts.hint = hint_plan.assignments
    stop = threading.Event()
    with _graceful_stop(stop):  # until the plan is written, a signal only asks to stop
        try:
            with stdout_to_stderr():  # OR-Tools backends may print: stdout is for the plan
                res = solve_problem(
                    problem,
                    opts,
                    path=path,
                    fmt=fmt_name,
                    embed=embed or problem_file == "-",
                    stop=stop,
                    progress=_Progress(choose_name(problem, solver)) if not _Opts.quiet else None,
                    say=say,
                    warn=warn,
                )
        except SolverUnavailable as exc:
            fail(ExitCode.BAD_INPUT, str(exc))
        assert res.plan_text is not None
        _write(res.plan_text, output)
    if res.structural:
        fail(EXIT_FOR_OUTCOME[res.outcome], *res.error_lines)
    if res.summary:
        say(res.summary)
    if output is not None:
        say(f"plan written to {output}")
    if res.error_lines:
        fail(EXIT_FOR_OUTCOME[res.outcome], *res.error_lines)
    for line in res.unplaced_lines:
        say(line)


def choose_name(problem: Problem, solver: str) -> str:
    from taskalloc.solvers import choose

    return choose(problem, solver)


class _Progress:
    """Incumbent, bound and gap on stderr while a solver runs (at most two lines a second)."""

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.last = -1.0

    def __call__(self, seconds: float, objective: float, bound: float | None) -> None:
        if seconds - self.last < 0.5:
            return
        self.last = seconds
        line = f"{self.solver} {seconds:7.2f} s  incumbent {_fmt(objective)}"
        if bound is not None:
            gap = abs(objective - bound) / max(abs(objective), 1e-9) * 100
            line += f"  bound {_fmt(bound)}  gap {gap:.2f} %"
        say(line)


class _graceful_stop:
    """While a solver runs, the first Ctrl-C or SIGTERM asks it to stop and keep its best plan
    (``stop`` is set); a second one interrupts at once."""

    def __init__(self, stop: Any) -> None:
        self.stop = stop
        self.saved: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        say("stopping: finishing with the best plan found so far (Ctrl-C again to abort)")

    def __enter__(self) -> _graceful_stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # outside the main thread (e.g. some test runners) signals cannot be handled
            with contextlib.suppress(ValueError):
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)


@app.command()
def validate(problem_file: ProblemArg) -> None:
    """Check a problem file: schema, references, and cheap proofs of infeasibility.

    Exit 0 when valid, 2 with every error located (file:line:column: field: message),
    3 when the file is valid but no plan can exist.
    """
    from taskalloc.problems.proofs import prove_infeasible, structural_lines

    problem = _load(problem_file)
    kind = "scheduling" if problem.scheduling else "placement"
    pools = sum(1 for members in problem.pools.values() if len(members) > 1)
    say(
        f"{problem.source.name}: valid {kind} problem: {_n(len(problem.nodes), 'node')}"
        f" ({_n(pools, 'pool')}), {_n(len(problem.tasks), 'task')}"
        f" ({_n(problem.total_replicas, 'replica')}),"
        f" resources {', '.join(problem.resources) or '(none)'};"
        f" objective {problem.objective.describe()}"
    )
    proofs = prove_infeasible(problem)
    if proofs:
        fail(ExitCode.INFEASIBLE, *structural_lines(proofs))


@app.command()
def check(
    problem_file: PairProblemArg,
    plan_file: OptionalPlanArg = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="text (stderr) or json (stdout).")
    ] = CheckFormat.text,
) -> None:
    """Recompute every constraint and objective term of a plan from the two files alone.

    `check PLAN` (or `check - -` with the plan on stdin) takes the problem the plan embeds
    (problem.text), else the file named by problem.path.

    Exit 0 when every constraint holds and the stated objective equals the recomputed one
    (relative tolerance 1e-6), else 1 with every violation listed.
    """
    import json

    from taskalloc.problems.evaluate import check as run_check

    problem, plan = _load_pair(problem_file, plan_file)
    rep = run_check(problem, plan)
    for w in rep.warnings:
        warn(w)
    if fmt == CheckFormat.json:
        out = {
            "ok": rep.ok,
            "violations": [
                {"kind": v.kind, "message": v.message, "task": v.task, "node": v.node}
                for v in rep.violations
            ],
            "objective": rep.evaluation.objective,
            "terms": rep.evaluation.terms,
            "warnings": rep.warnings,
        }
        _write(json.dumps(out, indent=2) + "\n", None)
    if rep.ok:
        n = len(plan.assignments)
        say(f"ok: {n} assignments satisfy every constraint; objective matches")
        return
    fail(
        ExitCode.VIOLATIONS,
        f"{len(rep.violations)} violation(s):",
        *(f"  {v.kind}: {v.message}" for v in rep.violations),
    )


@app.command()
def report(
    problem_file: PairProblemArg,
    plan_file: OptionalPlanArg = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="table, json, markdown or csv.")
    ] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here (default stdout).")
    ] = None,
) -> None:
    """Utilisation per node and resource, objective terms, fitness, unplaced tasks and why.

    `report PLAN` (or `report - -` with the plan on stdin) takes the problem the plan embeds
    (problem.text), else the file named by problem.path.

    The report is recomputed from the problem and the plan's assignments, not taken from the
    plan's own metrics.
    """
    from taskalloc.problems.evaluate import evaluate

    from . import render

    problem, plan = _load_pair(problem_file, plan_file)
    if plan.problem_sha256 != problem.sha256:
        warn("the plan was made for a file with other bytes (sha256 differs)")
    ev = evaluate(problem, plan.assignments)
    if fmt == ReportFormat.table:
        if output is None:
            render.table(problem, plan, ev, None)
        else:
            _write(render.table_text(problem, plan, ev), output)
        return
    text = {
        ReportFormat.json: render.json_report,
        ReportFormat.markdown: render.markdown,
        ReportFormat.csv: render.csv_report,
    }[fmt](problem, plan, ev)
    _write(text, output)


@app.command()
def generate(
    tasks: Annotated[int, typer.Option("--tasks", "-n", min=1, help="Number of tasks.")] = 50,
    nodes: Annotated[int, typer.Option("--nodes", "-m", min=1, help="Number of nodes.")] = 10,
    scheduling: Annotated[
        bool, typer.Option("--scheduling", help="Add durations, dependencies, deadlines.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    resources: Annotated[
        int, typer.Option("--resources", min=1, max=8, help="Number of resource kinds (1-8).")
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
        PlanFormat | None,
        typer.Option("--format", "-f", help="yaml or json (default: from -o, else yaml)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default stdout).")
    ] = None,
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
    _write(dumps(data, _format_for(output, fmt)), output)


class ImportKind(StrEnum):
    gap = "gap"
    psplib = "psplib"
    jobshop = "jobshop"
    openb = "openb"


class ArrivalOrder(StrEnum):
    file = "file"
    shuffle = "shuffle"


class GapSense(StrEnum):
    min = "min"
    max = "max"


@app.command("import")
def import_(
    kind: Annotated[
        ImportKind,
        typer.Argument(
            help="gap (OR-Library / Chu-Beasley GAP), psplib (.sm RCPSP), jobshop (ft/la) or "
            "openb (Alibaba GPU trace: NODES.csv PODS.csv)."
        ),
    ],
    instance: Annotated[str, typer.Argument(help="Instance file; - for stdin.")],
    pods: Annotated[
        str | None, typer.Argument(help="openb only: the task (pod) CSV file.", show_default=False)
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the problem here (default stdout).")
    ] = None,
    fmt: Annotated[
        PlanFormat | None,
        typer.Option("--format", "-f", help="yaml or json (default: from -o, else yaml)."),
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
        ArrivalOrder,
        typer.Option(
            "--order",
            help="openb: file (tasks in file order) or shuffle (the FGD paper's sequence: "
            "shuffled with --seed, then random copies up to 130 % of the GPUs).",
        ),
    ] = ArrivalOrder.file,
    seed: Annotated[
        int | None, typer.Option("--seed", help="openb: seed of --order shuffle (default 0).")
    ] = None,
    arrive: Annotated[
        float | None,
        typer.Option(
            "--arrive",
            metavar="PCT",
            help="openb: keep the tasks that arrive until the GPU demand reaches PCT % of the "
            "GPUs (a prefix of the sequence).",
        ),
    ] = None,
) -> None:
    """Convert a benchmark instance file into a taskalloc problem (stdout or -o).

    Exit 2 with the located line (file:line:column) when the instance file is malformed.
    """
    if kind == ImportKind.openb:
        from .openb import import_openb

        import_openb(instance, pods, output, _format_for(output, fmt), order.value, seed, arrive)
        return
    if pods is not None or seed is not None or arrive is not None or order != ArrivalOrder.file:
        fail(ExitCode.BAD_INPUT, "a second file, --order, --seed and --arrive are for openb only")
    from taskalloc.problems.importers import import_file
    from taskalloc.problems.plan import dumps
    from taskalloc.problems.problem import problem_from_dict

    if sense is not None and kind != ImportKind.gap:
        fail(ExitCode.BAD_INPUT, f"--sense applies to gap only, not {kind.value}")
    data = import_file(kind.value, instance, sense=sense.value if sense else None)
    problem = problem_from_dict(data, str(data.get("name") or "import"))
    _write(dumps(data, _format_for(output, fmt)), output)
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
        f"{_n(len(problem.nodes), 'node')}, {_n(len(problem.tasks), 'task')}; "
        f"objective {problem.objective.describe()}{extra}"
    )
    if output is not None:
        say(f"problem written to {output}")


class ExportFormat(StrEnum):
    lp = "lp"
    mps = "mps"
    nl = "nl"


@app.command()
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
        typer.Option(
            "--output",
            "-o",
            help="Write the model here (default stdout); nl also writes the names to FILE.row "
            "and FILE.col.",
        ),
    ] = None,
) -> None:
    """Write the MILP of a problem (the model of -s mip) for any external solver.

    Names are readable (x[train-llm#0,a100-1] in MPS; LP replaces the characters it forbids).
    The objective is the plan's scalar fitness, which for a lexicographic objective orders
    plans as the terms do. `taskalloc solve -s mip --backend NAME` runs a Pyomo solver on the
    same model and reads its solution back into a checked plan.
    """
    from taskalloc.solvers import SolverUnavailable
    from taskalloc.solvers.mip.export import export_model

    problem = _load(problem_file)
    if fmt is not None:
        fmt_name = fmt.value
    elif output is not None and output.suffix.lower().lstrip(".") in ("lp", "mps", "nl"):
        fmt_name = output.suffix.lower().lstrip(".")
    else:
        fmt_name = "lp"
    try:
        exported = export_model(problem, fmt_name)
    except SolverUnavailable as exc:
        fail(ExitCode.BAD_INPUT, str(exc))
    _write(exported.text, output)
    if output is not None and str(output) != "-":
        for suffix, text in exported.sidecars.items():
            _write(text, output.with_suffix(suffix))
    say(
        f"{fmt_name}: {exported.variables} variables ({exported.binary} binary), "
        f"{exported.constraints} constraints; objective: {exported.objective}"
    )
    if output is not None and str(output) != "-":
        extra = " (names in .row, .col)" if exported.sidecars else ""
        say(f"model written to {output}{extra}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the problem format (for editors' YAML plug-ins)."""
    import json

    from taskalloc.problems.spec import json_schema

    _write(json.dumps(json_schema(), indent=2) + "\n", None)


# -- the one error boundary ------------------------------------------------------------------


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_guarded(invoke: Any) -> Any:
    """Run a command; turn every failure into lines on stderr and an exit code (typer.Exit).

    This is the only place where exceptions become exit codes. Usage errors of the parser
    (exit 2) are handled by typer itself before a command runs.
    """
    from taskalloc.problems.source import InputError

    try:
        return invoke()
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Fail as exc:
        for line in exc.lines:
            err_console().print(line, markup=False, highlight=False)
        raise typer.Exit(int(exc.code)) from None
    except InputError as exc:
        for d in exc.diagnostics:
            err_console().print(str(d), markup=False, highlight=False)
        if exc.total > len(exc.diagnostics):
            err_console().print(f"... and {exc.total - len(exc.diagnostics)} more errors")
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
    except KeyboardInterrupt:
        err_console().print("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(int(ExitCode.OK)) from None
    except Exception as exc:
        if _Opts.debug:
            raise
        err_console().print(
            f"taskalloc: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback, and please report it)",
            markup=False,
        )
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``taskalloc`` script and ``python -m taskalloc``."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app(args=argv, prog_name="taskalloc")


if __name__ == "__main__":
    main()
