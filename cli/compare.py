"""``taskalloc compare PROBLEM -s greedy,cpsat,mip,ga [-t S] [--runs N]``: engines side by side.

Each (engine, seed) run is one job of the batch executor (:mod:`taskalloc.solvers.batch`), so
``--jobs`` runs several at once in worker processes and ``--executor ray`` on a Ray cluster,
exactly as a batch of ``solve`` does. Every plan a run returns is read back and checked by the
evaluator (``checked``); the table has one row per run: engine, seed, status, each objective
term, fitness, bound, gap, seconds, checked; in table, JSON, Markdown or CSV on stdout (or
``-o``), progress on stderr; ``--html`` adds the convergence of every run on one time axis,
``--out-dir`` keeps each run's plan file (for ``taskalloc diff`` or ``report``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from taskalloc.solvers import ENGINES as REGISTRY

from .console import Settings, fail, plural, printable, say, say_long, warn, warn_at
from .errors import in_flags
from .exits import BATCH_SEVERITY, EXIT_FOR_OUTCOME, ExitCode
from .files import load, refuse_outputs, write
from .options import (
    ENGINE,
    IO,
    LIMITS,
    ExecutorName,
    executor_option,
    jobs_option,
    output_option,
    ray_address_option,
    workers_option,
)

if TYPE_CHECKING:
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem
    from taskalloc.solvers.run import RunResult

#: help panel of --jobs, --executor, --ray-address
PARALLEL = "Runs at once (the batch executor of solve)"
#: what the first Ctrl-C says
STOPPING = "stopping the comparison: finished runs are kept (Ctrl-C again to abort)"
#: seconds per run when -t is not given (every engine gets the same budget)
DEFAULT_LIMIT = 10.0
#: the engines compared by default: the greedy first (the baseline), then the registry's
ENGINES = ("greedy", *(e for e in REGISTRY if e != "greedy"))


class CompareFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


@dataclass
class Row:
    """One run of one engine: what its plan achieved, recomputed and checked."""

    engine: str
    seed: int
    outcome: str
    status: str
    terms: dict[str, float] = field(default_factory=dict)
    fitness: float | None = None
    bound: float | None = None  # of the scalar fitness, at the end of the search
    gap: float | None = None
    seconds: float | None = None
    wall: float = 0.0
    checked: bool | None = None  # None: no plan to check
    violations: list[str] = field(default_factory=list)
    message: str | None = None
    plan: Plan | None = None
    plan_file: str | None = None

    @property
    def label(self) -> str:
        return f"{self.engine} seed {self.seed}"

    def to_dict(self, terms: list[str]) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "seed": self.seed,
            "status": self.status,
            "outcome": self.outcome,
            "objective": {t: _tidy(self.terms.get(t)) for t in terms} if self.terms else None,
            "fitness": _tidy(self.fitness),
            "bound": _tidy(self.bound),
            "gap": _tidy(self.gap),
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "wall_seconds": round(self.wall, 4),
            "checked": self.checked,
            "violations": self.violations,
            "message": self.message,
            "plan": self.plan_file,
        }


def _tidy(x: float | None) -> float | int | None:
    from taskalloc.problems.plan import tidy

    if x is None:
        return None
    result: float | int | None = tidy(x)
    return result


def parse_engines(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        fail(ExitCode.BAD_INPUT, "-s: name at least one engine (e.g. greedy,cpsat,mip,ga)")
    unknown = [n for n in names if n not in REGISTRY and n != "auto"]
    if unknown:
        fail(
            ExitCode.BAD_INPUT,
            f"-s: unknown engine '{unknown[0]}' (engines: {', '.join(REGISTRY)}, auto)",
        )
    return list(dict.fromkeys(names))


def _applicable(problem: Problem, engines: list[str]) -> list[str]:
    """The default engines that take ``problem`` (the others are named on stderr, with why);
    engines named with -s always run, and show their refusal as a row."""
    from taskalloc.solvers import refusal

    kept = []
    for e in engines:
        why = refusal(problem, e)
        if why is None:
            kept.append(e)
        elif not Settings.quiet:
            say_long(in_flags(f"compare: {e} left out: {why}"))
    return kept


def row_of(problem: Problem, engine: str, seed: int, result: RunResult, wall: float) -> Row:
    """A run's result, its plan read back and checked by the evaluator."""
    from taskalloc.problems.evaluate import check, evaluate
    from taskalloc.problems.plan import plan_from_text
    from taskalloc.solvers.run import final_gap

    status = result.status or str(result.outcome)
    message = result.message if not result.error_lines else "; ".join(result.error_lines[:3])
    row = Row(
        engine=result.solver or engine,
        seed=seed,
        outcome=str(result.outcome),
        status=status,
        seconds=result.seconds,
        wall=wall,
        # library messages name engines and options; the table names the flags (-s cpsat)
        message=in_flags(message) if message else None,
    )
    if result.plan_text is None:
        return row
    plan = plan_from_text(f"{engine} seed {seed}", result.plan_text.encode("utf-8"))
    row.plan = plan
    if status not in ("optimal", "feasible"):
        return row
    ev = evaluate(problem, plan.assignments, reasons=False)
    rep = check(problem, plan)
    row.terms = dict(ev.terms)
    row.fitness = ev.fitness
    row.checked = rep.ok
    row.violations = [v.message for v in rep.violations[:10]]
    row.gap = final_gap(plan)
    bounds = [b for _, _, b in plan.solver.trajectory if b is not None]
    row.bound = ev.fitness if status == "optimal" else (bounds[-1] if bounds else None)
    return row


def compare(
    problem_file: Annotated[
        str,
        typer.Argument(
            help="Problem file (YAML or JSON); - for stdin.",
            metavar="PROBLEM",
            rich_help_panel=IO,
        ),
    ],
    fmt: Annotated[
        CompareFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Default: from -o's suffix (.json, .md, .csv; .html: the HTML page), else table.",
            rich_help_panel=IO,
        ),
    ] = None,
    output: Annotated[Path | None, output_option("the table", panel=IO)] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write an HTML page: the table, every run's convergence on one time axis "
            "and the objective terms (needs pip install 'taskalloc[plot]').",
            metavar="FILE",
            rich_help_panel=IO,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            "-d",
            metavar="DIR",
            help="Keep each run's plan file here (ENGINE-seedN.plan.yaml), for report or diff.",
            rich_help_panel=IO,
        ),
    ] = None,
    solvers: Annotated[
        str,
        typer.Option(
            "--solvers",
            "-s",
            help=f"Engines to compare, comma-separated: {', '.join(ENGINES)} (or auto). "
            "By default, those that take the problem (the others are named on stderr, with "
            "why); an engine named here that refuses it is a row with its reason.",
            metavar="ENGINE,...",
            rich_help_panel=ENGINE,
        ),
    ] = ",".join(ENGINES),
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit",
            "-t",
            min=0,
            metavar="SECONDS",
            help="Seconds for each run (every engine gets the same).",
            rich_help_panel=LIMITS,
        ),
    ] = DEFAULT_LIMIT,
    runs: Annotated[
        int,
        typer.Option(
            "--runs",
            "-n",
            min=1,
            metavar="N",
            help="Runs of each engine, with seeds --seed, --seed + 1, ...",
            rich_help_panel=LIMITS,
        ),
    ] = 1,
    seed: Annotated[
        int,
        typer.Option("--seed", metavar="N", help="Seed of the first run.", rich_help_panel=LIMITS),
    ] = 0,
    workers: Annotated[
        int | None,
        workers_option(
            "Search threads per run (default: the cores divided by --jobs; 1 on Ray).", LIMITS
        ),
    ] = None,
    jobs: Annotated[int, jobs_option("Runs at once, one process each.", PARALLEL)] = 1,
    executor: Annotated[ExecutorName, executor_option(PARALLEL)] = ExecutorName.local,
    ray_address: Annotated[str | None, ray_address_option(PARALLEL)] = None,
) -> None:
    """Run several engines on one problem and compare them in one table.

    Each run goes through the batch executor (so --jobs and --executor ray work as in a batch
    of `solve`); every plan is read back and checked. One row per run: engine, seed, status,
    each objective term, fitness, bound and gap (of the fitness), seconds, checked.

    Exit 0 when every run ended (with a plan or a proof); otherwise the worst code of the runs,
    as for a batch: 130, 70, 2, 4, 3.
    """
    import time

    from taskalloc.problems.source import read_bytes
    from taskalloc.solvers.batch import Item, Spec, worst
    from taskalloc.solvers.run import SolveOptions

    from .batch import _executor
    from .reporting import format_for
    from .running import graceful_stop

    engines = parse_engines(solvers)
    chosen = format_for(output, fmt.value if fmt is not None else None)
    if chosen == "html":
        if html is not None:
            fail(ExitCode.BAD_INPUT, "give the HTML page once: -o FILE.html or --html FILE")
        html, output, chosen = output, None, "table"
    if html is not None:
        from taskalloc.charts import require

        require()  # PlotUnavailable before any run: exit 2
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        fail(ExitCode.BAD_INPUT, f"--out-dir {out_dir} exists and is not a directory")
    name, data = read_bytes(problem_file)
    problem = load(problem_file) if problem_file != "-" else _from_bytes(name, data)
    if solvers == ",".join(ENGINES):  # the default list: leave out engines that refuse it
        engines = _applicable(problem, engines)
    runs_list = [(e, seed + i) for e in engines for i in range(runs)]
    if workers is None:
        cores = os.cpu_count() or 1
        workers = 1 if executor == "ray" else max(1, cores // min(jobs, len(runs_list)))
    ex = _executor(executor.value, jobs, ray_address, Settings.quiet)
    items = [
        Item(i, f"{e} seed {s}", (out_dir or Path(".")) / f"{e}-seed{s}.plan.yaml")
        for i, (e, s) in enumerate(runs_list)
    ]
    path = None if problem_file == "-" else problem_file

    def make_spec(item: Item) -> Spec:
        e, s = runs_list[item.index]
        opts = SolveOptions(solver=e, seed=s, time_limit=time_limit, workers=workers)
        return Spec(
            index=item.index, name=name, data=data, path=path, opts=opts, embed=problem_file == "-"
        )

    from taskalloc.solvers.clock import Stop, finishing

    # before the runs, not after them
    refuse_outputs(
        [output, html, *(i.plan_path for i in items if out_dir is not None)], [problem_file]
    )
    rows: dict[int, Row] = {}
    codes: list[int] = []
    stop = Stop()
    t0 = time.monotonic()
    if not Settings.quiet:
        where = "Ray" if executor == "ray" else f"{jobs} at a time"
        say(
            f"compare: {len(runs_list)} run{'s' if len(runs_list) != 1 else ''} "
            f"({', '.join(engines)} x {runs} seed{'s' if runs != 1 else ''}), "
            f"{time_limit:g} s each, {where}"
        )

    def on_finish(item: Item, result: RunResult, wall: float) -> None:
        e, s = runs_list[item.index]
        row = row_of(problem, e, s, result, wall)
        codes.append(int(EXIT_FOR_OUTCOME[str(result.outcome)]))
        if out_dir is not None and result.plan_text is not None:
            write(result.plan_text, item.plan_path, [problem_file])
            row.plan_file = str(item.plan_path)
        rows[item.index] = row
        if not Settings.quiet:
            fit = "" if row.fitness is None else f" fitness {_fmt(row.fitness)}"
            ok = {True: "", False: " CHECK FAILED", None: ""}[row.checked]
            took = _took(row, wall)
            say(f"[{len(rows)}/{len(items)}] {item.file}: {row.status}{fit}{ok} ({took})")

    with graceful_stop(stop, STOPPING):
        interrupted = ex.run(items, make_spec, lambda item: None, on_finish, stop)
        finishing(stop)
    for item in interrupted:
        e, s = runs_list[item.index]
        rows[item.index] = Row(e, s, "interrupted", "interrupted")
    ordered = [rows[i] for i in sorted(rows)]
    terms = problem.objective.active() or list(problem.objective.terms)
    if chosen == "table" and (output is None or str(output) == "-"):
        from .console import plain_console

        print_table(plain_console(), ordered, terms, runs > 1)
    else:
        write(render(ordered, terms, chosen, problem, runs > 1), output, [problem_file])
    if html is not None:
        from . import compare_html

        page = compare_html.page(problem, ordered, terms, link_from=html.parent)
        write(page, html, [problem_file])
        say(f"HTML page written to {html}")
    bad = [r for r in ordered if r.checked is False]
    if bad:
        warn(
            f"{plural(len(bad), 'plan')} failed their check: {bad[0].label}: "
            f"{bad[0].violations[:1]}"
        )
        codes.append(int(ExitCode.INTERNAL))
    if not Settings.quiet:
        say(f"compare: done in {time.monotonic() - t0:.1f} s")
    code = worst(codes, [int(c) for c in BATCH_SEVERITY])
    if stop.is_set():
        code = int(ExitCode.INTERRUPTED)
    if code:
        raise typer.Exit(code)


def _from_bytes(name: str, data: bytes) -> Problem:
    from taskalloc.problems.problem import build_problem
    from taskalloc.problems.source import parse

    problem = build_problem(parse(name, data))
    for w in problem.warnings:
        warn_at(w)
    return problem


# -- rendering -------------------------------------------------------------------------------


def _took(row: Row, wall: float) -> str:
    """How long a run took: its wall time, and the solver's own seconds (the table's) where
    the worker's start, loading and checking took as long again (a proof in 0.07 s is 0.7 s
    in all: the table's 0.07 and the line's 0.7 must not read as a contradiction)."""
    solving = row.seconds
    if solving is None or wall < 2 * solving or wall - solving < 0.2:
        return f"{wall:.1f} s"
    return f"{solving:.2g} s solving, {wall:.1f} s in all"


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _gap(g: float | None) -> str:
    return "–" if g is None else f"{g * 100:.2f}%"


def _checked(c: bool | None) -> str:
    return {True: "yes", False: "NO", None: "–"}[c]


def header(terms: list[str]) -> list[str]:
    return ["engine", "seed", "status", *terms, "fitness", "bound", "gap", "seconds", "checked"]


def cells(r: Row, terms: list[str]) -> list[str]:
    return [
        r.engine,
        str(r.seed),
        r.status,
        *(_fmt(r.terms.get(t)) if r.terms else "–" for t in terms),
        _fmt(r.fitness),
        _fmt(r.bound),
        _gap(r.gap),
        "–" if r.seconds is None else f"{r.seconds:.2f}",
        _checked(r.checked),
    ]


@dataclass
class Summary:
    """An engine over its runs: how many found a plan, best and mean fitness, mean seconds."""

    engine: str
    runs: int
    plans: int
    best: float | None
    mean: float | None
    seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "runs": self.runs,
            "plans": self.plans,
            "best_fitness": _tidy(self.best),
            "mean_fitness": _tidy(self.mean),
            "mean_seconds": None if self.seconds is None else round(self.seconds, 4),
        }


def summaries(rows: list[Row]) -> list[Summary]:
    out = []
    for engine in dict.fromkeys(r.engine for r in rows):
        mine = [r for r in rows if r.engine == engine]
        fits = [r.fitness for r in mine if r.fitness is not None]
        secs = [r.seconds for r in mine if r.seconds is not None]
        out.append(
            Summary(
                engine,
                len(mine),
                len(fits),
                min(fits) if fits else None,
                sum(fits) / len(fits) if fits else None,
                sum(secs) / len(secs) if secs else None,
            )
        )
    return out


def print_table(console: Any, rows: list[Row], terms: list[str], several: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from taskalloc.views import print_whole

    table = Table(
        title="Compare",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    head = header(terms)[2:]  # engine and seed make one column: "cpsat s1"
    table.add_column("run", no_wrap=True)
    for h in head:
        right = h not in ("status", "checked")
        table.add_column(h, justify="right" if right else "left", no_wrap=True)
    for r in rows:
        style = "red" if r.checked is False else None
        run = f"{r.engine} s{r.seed}" if several else r.engine
        table.add_row(Text(run), *(Text(c) for c in cells(r, terms)[2:]), style=style)
    # never cut a number short: wider than the terminal, the lines wrap there, and in a pipe
    # or a file they are whole
    print_whole(console, table)
    for r in rows:
        if r.outcome not in ("ok", "infeasible") and r.message:
            console.print(Text(printable(f"{r.label}: {r.status}: {r.message}")), soft_wrap=True)
    if several:
        by = Table(title="By engine", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for h in ("engine", "runs", "plans", "best fitness", "mean fitness", "mean seconds"):
            by.add_column(h, justify="left" if h == "engine" else "right")
        for s in summaries(rows):
            by.add_row(
                s.engine,
                str(s.runs),
                str(s.plans),
                _fmt(s.best),
                _fmt(s.mean),
                "–" if s.seconds is None else f"{s.seconds:.2f}",
            )
        console.print(by)


def render(rows: list[Row], terms: list[str], fmt: str, problem: Problem, several: bool) -> str:
    import csv
    import io
    import json

    if fmt == "json":
        out = {
            "problem": {"name": problem.name, "sha256": problem.sha256},
            "terms": terms,
            "runs": [r.to_dict(terms) for r in rows],
            "engines": [s.to_dict() for s in summaries(rows)],
        }
        return json.dumps(out, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            ["engine", "seed", "status", *terms, "fitness", "bound", "gap", "seconds", "checked"]
        )
        for r in rows:
            w.writerow(
                [
                    r.engine,
                    r.seed,
                    r.status,
                    *("" if t not in r.terms else f"{r.terms[t]:.12g}" for t in terms),
                    "" if r.fitness is None else f"{r.fitness:.12g}",
                    "" if r.bound is None else f"{r.bound:.12g}",
                    "" if r.gap is None else f"{r.gap:.6g}",
                    "" if r.seconds is None else f"{r.seconds:.4f}",
                    "" if r.checked is None else str(r.checked).lower(),
                ]
            )
        return buf.getvalue()
    if fmt == "markdown":
        head = header(terms)
        lines = [
            f"# Compare: {problem.name or problem.source.name}",
            "",
            "| " + " | ".join(head) + " |",
            "|"
            + "|".join("---" if h in ("engine", "status", "checked") else "---:" for h in head)
            + "|",
        ]
        lines += [
            "| " + " | ".join(c.replace("|", "\\|") for c in cells(r, terms)) + " |" for r in rows
        ]
        if several:
            lines += [
                "",
                "| engine | runs | plans | best fitness | mean fitness | mean seconds |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for s in summaries(rows):
                secs = "–" if s.seconds is None else f"{s.seconds:.2f}"
                lines.append(
                    f"| {s.engine} | {s.runs} | {s.plans} | {_fmt(s.best)} | {_fmt(s.mean)} "
                    f"| {secs} |"
                )
        return "\n".join(lines) + "\n"
    from .console import plain_console

    buf = io.StringIO()
    console = plain_console(file=buf, width=160)
    print_table(console, rows, terms, several)
    return buf.getvalue()
