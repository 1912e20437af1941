"""``taskalloc whatif``: lose each node, each pool or a zone, or scale every demand or capacity;
one table of what each scenario costs, and the weakest node or pool named at the top.

Each scenario is the replan of the baseline plan (:mod:`taskalloc.problems.replan`), every
task optional so that its plan shows what no longer fits; the scenarios are solved by the batch
executor (:mod:`taskalloc.solvers.batch`: ``--jobs`` worker processes, or Ray) as ``compare``
does.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .console import Settings, fail, fail_explained, plural, say, say_wrapped, warn, wrap_prose
from .exits import ExitCode
from .files import load, refuse_outputs, write
from .options import (
    DeterministicOption,
    EngineOptionOption,
    ExecutorName,
    OptionalPlanArg,
    PolicyOption,
    ProblemArg,
    ScenarioWorkersOption,
    SeedOption,
    SolverOption,
    TimeLimitOption,
    executor_option,
    jobs_option,
    output_option,
    ray_address_option,
)

if TYPE_CHECKING:
    from taskalloc.problems.entities import Problem
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.replan import WhatifRow

SCENARIOS = "Scenarios (any together; at least one)"
RUNS = "Output and runs"


class WhatifFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def whatif(
    problem_file: ProblemArg,
    plan_file: OptionalPlanArg = None,
    fail_each_node: Annotated[
        bool,
        typer.Option(
            "--fail-each-node", help="One scenario per node: it fails.", rich_help_panel=SCENARIOS
        ),
    ] = False,
    fail_each_pool: Annotated[
        bool,
        typer.Option(
            "--fail-each-pool",
            help="One scenario per node entry of the file: it fails (a pool: every member).",
            rich_help_panel=SCENARIOS,
        ),
    ] = False,
    fail_zone: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-zone",
            metavar="LABEL=V",
            help="Every node with this label value fails (repeatable: one scenario each).",
            rich_help_panel=SCENARIOS,
        ),
    ] = None,
    scale_demand: Annotated[
        str | None,
        typer.Option(
            "--scale-demand",
            metavar="F,F,...",
            help="One scenario per factor: every demand times F (resources split into "
            "devices, e.g. GPUs, are left as they are).",
            rich_help_panel=SCENARIOS,
        ),
    ] = None,
    scale_capacity: Annotated[
        str | None,
        typer.Option(
            "--scale-capacity",
            metavar="F,F,...",
            help="One scenario per factor: every capacity times F (devices keep their number).",
            rich_help_panel=SCENARIOS,
        ),
    ] = None,
    fmt: Annotated[
        WhatifFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Default: from -o's suffix (.json, .md, .csv; .html: the HTML page, as "
            "--html), else table.",
            rich_help_panel=RUNS,
        ),
    ] = None,
    output: Annotated[Path | None, output_option("the table", panel=RUNS)] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write the table as one self-contained HTML page (the report's style; "
            "no script, no network) with a chart of the unplaced GPUs, unplaced tasks and "
            "moves of each scenario (the chart needs the [plot] extra).",
            rich_help_panel=RUNS,
        ),
    ] = None,
    jobs: Annotated[int, jobs_option("Scenarios solved at once.", RUNS)] = 1,
    executor: Annotated[ExecutorName, executor_option(RUNS)] = ExecutorName.local,
    ray_address: Annotated[str | None, ray_address_option(RUNS)] = None,
    solver: SolverOption = "auto",
    time_limit: TimeLimitOption = None,
    seed: SeedOption = 0,
    workers: ScenarioWorkersOption = None,
    deterministic: DeterministicOption = False,
    policy: PolicyOption = None,
    engine_option: EngineOptionOption = None,
) -> None:
    """What if a node, pool or zone were lost, or demand grew: one row per scenario.

    Each row: feasible, objective delta, moves, unplaced tasks and GPUs, most loaded
    resource; the weakest node or pool (whose loss costs most) is named at the top.

    Each scenario replans PLAN (default: PROBLEM solved first with the same engine) with every
    task optional, so its plan shows what no longer fits; `feasible` says whether every
    required task still is placed. The objective delta is the new plan's terms minus the
    baseline's; in it `unplaced priority` is the `unplaced` term (priority x replicas of the
    tasks left out), while the `unplaced` column counts those tasks.

    Exit 0 when every scenario was solved; 2 bad input; 3 when PROBLEM itself is proven
    infeasible (no baseline: no scenario runs); 4 no baseline plan, or a scenario without a
    plan, within the limits; 130 on Ctrl-C (the table then lists the scenarios solved so
    far; none while the baseline is being solved).
    """
    import threading

    from taskalloc.problems.plan import plan_from_text, read_plan
    from taskalloc.problems.replan import replan_problem, scenarios, weakest, whatif_row
    from taskalloc.solvers.batch import Item, Spec
    from taskalloc.solvers.run import SolveOptions

    from .batch import _executor
    from .exits import EXIT_FOR_OUTCOME
    from .running import graceful_stop
    from .solve import parse_option

    chosen = _format(output, fmt)
    if fmt is None and chosen == "html":  # -o FILE.html: the HTML page
        if html is not None:
            fail(ExitCode.BAD_INPUT, "give the HTML page once: -o FILE.html or --html FILE")
        html, output = output, None
    refuse_outputs([output, html], [problem_file, plan_file])  # before the scenarios run
    problem = load(problem_file)
    found = scenarios(
        problem,
        fail_each_node=fail_each_node,
        fail_each_pool=fail_each_pool,
        fail_zone=list(fail_zone or ()),
        scale_demand=_factors(scale_demand, "--scale-demand"),
        scale_capacity=_factors(scale_capacity, "--scale-capacity"),
    )
    if not found:
        fail(
            ExitCode.BAD_INPUT,
            "no scenario: give --fail-each-node, --fail-each-pool, --fail-zone, --scale-demand "
            "or --scale-capacity",
        )
    engine_options: dict[str, Any] = {}
    if policy is not None:
        engine_options["policy"] = policy.value
    for item in engine_option or []:
        name, value = parse_option(item)
        engine_options[name] = value
    if workers is None:
        import os

        workers = 1 if executor == "ray" else max(1, (os.cpu_count() or 1) // min(jobs, len(found)))
    base_opts = SolveOptions(
        solver=str(solver),
        seed=seed,
        time_limit=time_limit,
        workers=workers,
        deterministic=deterministic,
        options=engine_options,
    )
    baseline = read_plan(plan_file) if plan_file is not None else _baseline(problem, base_opts)
    if plan_file is not None and baseline.problem_sha256 != problem.sha256:
        warn(f"{plan_file} was made for a file with other bytes than {problem_file}")
    replans: dict[int, Any] = {}  # built as each scenario starts (8 s each on openb)
    ex = _executor(executor.value, jobs, ray_address, Settings.quiet)
    items = [Item(i, sc.name, Path(".")) for i, sc in enumerate(found)]

    def make_spec(item: Item) -> Spec:
        if item.index not in replans:
            replans[item.index] = replan_problem(problem, baseline, found[item.index].changes)
        rp = replans[item.index]
        opts = SolveOptions(**{**base_opts.__dict__, "hint": list(rp.hint)})
        return Spec(
            index=item.index,
            name=f"<{found[item.index].name}>",
            data=rp.problem.source.data,
            path=None,
            opts=opts,
        )

    rows: dict[int, WhatifRow] = {}
    codes: list[int] = []
    stop = threading.Event()
    if not Settings.quiet:
        where = "Ray" if executor == "ray" else f"{jobs} at a time"
        say(f"whatif: {plural(len(found), 'scenario')}, {where}")

    def on_finish(item: Item, result: Any, wall: float) -> None:
        sc, rp = found[item.index], replans[item.index]
        plan = None
        if result.plan_text is not None and result.outcome in ("ok", "infeasible", "no_plan"):
            plan = plan_from_text("<plan>", result.plan_text.encode())
        status = str(result.status or result.outcome)
        rows[item.index] = whatif_row(sc, problem, baseline, rp.problem, plan, status)
        code = int(EXIT_FOR_OUTCOME[str(result.outcome)])
        codes.append(0 if code == ExitCode.INFEASIBLE else code)
        if result.outcome not in ("ok", "infeasible") and result.message:
            warn(f"{sc.name}: {result.message}")
        if not Settings.quiet:
            say(
                f"[{len(rows)}/{len(items)}] {sc.name}: {_verdict(rows[item.index])} ({wall:.1f} s)"
            )

    with graceful_stop(stop, "stopping: the table lists the scenarios solved so far"):
        ex.run(items, make_spec, lambda item: None, on_finish, stop)
    ordered = [rows[i] for i in sorted(rows)]
    weak = weakest(ordered)
    if chosen != "html":
        text = render(ordered, weak, baseline, problem, chosen)
        write(text, output, [problem_file, plan_file])
    if html is not None:
        write(page(ordered, weak, baseline, problem), html, [problem_file, plan_file])
        if str(html) != "-":
            say(f"HTML page written to {html}")
    code = max(codes, default=0)
    if stop.is_set():
        code = int(ExitCode.INTERRUPTED)
    if code:
        raise typer.Exit(code)


def _format(output: Path | None, fmt: WhatifFormat | None) -> str:
    if fmt is not None:
        return fmt.value
    suffix = output.suffix.lower() if output is not None else ""
    return {
        ".json": "json",
        ".md": "markdown",
        ".markdown": "markdown",
        ".csv": "csv",
        ".html": "html",
        ".htm": "html",
    }.get(suffix, "table")


def _factors(text: str | None, flag: str) -> list[float]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        try:
            f = float(part)
        except ValueError:
            f = -1.0
        if f < 0:
            fail(ExitCode.BAD_INPUT, f"{flag} {text}: give factors >= 0, e.g. 1.1,1.25,1.5")
        out.append(f)
    return out


def _baseline(problem: Problem, opts: Any) -> Plan:
    """The plan of the problem as it is (when no PLAN is given), solved here."""
    import threading

    from taskalloc.solvers.run import solve_problem, stdout_to_stderr

    from .running import graceful_stop

    stop = threading.Event()
    with graceful_stop(stop, "stopping: no scenario will run"), stdout_to_stderr():
        res = solve_problem(problem, opts, path=None, stop=stop)
    if stop.is_set() or res.outcome == "interrupted":  # Ctrl-C: no scenario runs, exit 130
        fail(ExitCode.INTERRUPTED, "interrupted while solving the baseline; no scenario was run")
    if res.plan is None or res.outcome != "ok":
        lines = res.error_lines or [str(res.message)]
        fail_explained(
            ExitCode.NO_PLAN if res.outcome != "infeasible" else ExitCode.INFEASIBLE,
            f"no baseline plan: {lines[0]}",
            *lines[1:],
        )
    say_wrapped(f"baseline: {res.summary}")
    return res.plan


def _verdict(row: WhatifRow) -> str:
    """A scenario's progress line as its row says it: `feasible` is the table's (every
    required task still placed), not the solver's status (the scenario's tasks are all
    optional, so its plan is feasible even when required work is left out)."""
    if row.feasible is None:
        return row.status
    if row.feasible:
        return "feasible"
    left = f": {plural(row.unplaced_tasks, 'task')} unplaced" if row.unplaced_tasks else ""
    return f"infeasible{left}"


# -- rendering ------------------------------------------------------------------------------------

HEADER = [
    "scenario",
    "feasible",
    "objective delta",
    "moves",
    "unplaced",
    "GPUs",
    "most loaded",
]
DELTA = HEADER.index("objective delta")


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


# the weighted terms under a name that says what they sum: `unplaced` is priority x replicas of
# the tasks left out, not their number (the `unplaced` column counts those)
TERM_WORDS = {"unplaced": "unplaced priority", "tardiness": "weighted tardiness"}


def term_words(term: str) -> str:
    return TERM_WORDS.get(term, term)


def _delta(row: WhatifRow) -> str:
    parts = [
        f"{term_words(k)} {'+' if v > 0 else ''}{_num(v)}"
        for k, v in row.delta.items()
        if abs(v) > 1e-9
    ]
    if not row.delta:
        return "–"
    return ", ".join(parts) or "0"


def cells(row: WhatifRow) -> list[str]:
    feasible = {True: "yes", False: "no", None: row.status}[row.feasible]
    return [
        row.scenario,
        feasible,
        _delta(row),
        _num(row.moves),
        _num(row.unplaced_tasks),
        _num(row.unplaced_devices),
        row.most_loaded or "–",
    ]


def headline(weak: WhatifRow | None) -> str:
    if weak is None:
        return "no loss scenario: no weakest node or pool"
    kind, name = weak.loss or ("", "")
    what = f"{kind} {name}" if kind != "zone" else name
    gpus = "" if not weak.unplaced_devices else f", {_num(weak.unplaced_devices)} GPUs"
    verdict = {True: "feasible", False: "infeasible", None: weak.status}[weak.feasible]
    return (
        f"weakest: {what} (its loss leaves {_num(weak.unplaced_tasks)} tasks unplaced{gpus}, "
        f"{verdict})"
    )


def _baseline_words(baseline: Plan, problem: Problem) -> str:
    """The baseline's unplaced tasks (and GPUs), that each row's figures compare with."""
    from taskalloc.problems.replan import device_resource

    res = device_resource(problem)
    n = len(baseline.unplaced)
    gpus = ""
    if res is not None:
        ti = problem.task_index
        amount = sum(
            problem.tasks[ti[u.task]].demand.get(res, 0.0) * problem.tasks[ti[u.task]].replicas
            for u in baseline.unplaced
            if u.task in ti
        )
        gpus = f" ({_num(amount)} GPUs)"
    return f"baseline: {plural(n, 'task')} unplaced{gpus}, objective " + ", ".join(
        f"{term_words(k)} {_num(v)}" for k, v in (baseline.solver.objective or {}).items()
    )


def render(
    rows: list[WhatifRow], weak: WhatifRow | None, baseline: Plan, problem: Problem, fmt: str
) -> str:
    """The table in ``fmt``: table (text), json, markdown or csv."""
    if fmt == "json":
        data = {
            "problem": problem.name,
            "baseline": baseline.solver.objective,
            "weakest": None if weak is None else weak.scenario,
            "headline": headline(weak),
            "scenarios": [r.to_dict() for r in rows],
        }
        return json.dumps(data, indent=1) + "\n"
    if fmt == "csv":
        # the table's columns, then the same as numbers for a spreadsheet: one column per
        # objective term's delta, the most loaded resource and its load / capacity
        terms = list(dict.fromkeys(k for r in rows for k in r.delta))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            [
                "scenario",
                "feasible",
                "objective_delta",
                "moves",
                "unplaced_tasks",
                "unplaced_gpus",
                "most_loaded",
                *(f"delta_{t}" for t in terms),
                "most_loaded_resource",
                "most_loaded_utilisation",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    *cells(r),
                    *("" if t not in r.delta else f"{r.delta[t]:.10g}" for t in terms),
                    r.most_loaded_resource or "",
                    "" if r.most_loaded_utilisation is None else f"{r.most_loaded_utilisation:g}",
                ]
            )
        return buf.getvalue()
    if fmt == "markdown":
        lines = [
            f"**{headline(weak)}**; {_baseline_words(baseline, problem)}",
            "",
            "| " + " | ".join(HEADER) + " |",
            "|" + "---|" * len(HEADER),
        ]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    table = [HEADER, *(cells(r) for r in rows)]
    base = _baseline_words(baseline, problem)
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    # wider than the terminal (80 columns in a pipe): the objective delta wraps between terms
    others = sum(widths) - widths[DELTA] + 2 * (len(HEADER) - 1)
    # (and, with too little room for a whole term, such as `unplaced priority +44,`, between
    # the words of a term)
    parts = [_delta_parts(row[DELTA]) for row in table]
    fit = max(len(w) for ps in parts for p in ps for w in p.split())
    columns = shutil.get_terminal_size((80, 24)).columns
    room = columns - others
    if widths[DELTA] > room >= fit:
        widths[DELTA] = max(fit, max(len(x) for ps in parts for x in _pack(ps, room)))
    right = {3, 4, 5}
    out = [headline(weak), *wrap_prose(base, columns), ""]
    for j, row in enumerate(table):
        delta = _pack(parts[j], widths[DELTA])
        for k, piece in enumerate(delta):
            line = [piece if i == DELTA else (c if k == 0 else "") for i, c in enumerate(row)]
            out.append(
                "  ".join(
                    c.rjust(w) if i in right else c.ljust(w)
                    for i, (c, w) in enumerate(zip(line, widths, strict=True))
                ).rstrip()
            )
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def _delta_parts(text: str) -> list[str]:
    """An objective delta cell cut after each term's comma (``unplaced priority +50,``,
    ``cost -54``)."""
    pieces = text.split(", ")
    return [p + "," for p in pieces[:-1]] + pieces[-1:]


def _pack(parts: list[str], width: int) -> list[str]:
    """The parts on as few lines of at most ``width`` as they fit (one part alone may be
    wider)."""
    lines: list[str] = []
    for p in parts:
        if len(p) > width and " " in p:  # a term wider than the column: its words on lines
            lines += _pack(p.split(), width)
            continue
        if lines and len(lines[-1]) + 1 + len(p) <= width:
            lines[-1] += " " + p
        else:
            lines.append(p)
    return lines or [""]


def _chart(rows: list[WhatifRow], problem: Problem) -> str:
    """Bars per scenario: unplaced GPUs (with a split resource), unplaced tasks, moves; ''
    (and a warning) without matplotlib, the table alone then."""
    from taskalloc import charts as ch
    from taskalloc.html import _chart as figure
    from taskalloc.problems.replan import device_resource

    terms = ["unplaced tasks", "moves"]
    if device_resource(problem) is not None:
        terms.insert(0, "unplaced GPUs")
    values = [
        {
            "unplaced GPUs": r.unplaced_devices,
            "unplaced tasks": None if r.unplaced_tasks is None else float(r.unplaced_tasks),
            "moves": None if r.moves is None else float(r.moves),
        }
        for r in rows
    ]
    try:
        chart = ch.objective_bars([r.scenario for r in rows], terms, values)
    except ch.PlotUnavailable as e:
        warn(f"the HTML page has no chart: {e}")
        return ""
    if chart is None:
        return ""
    chart.title = "What each scenario leaves out and moves"
    chart.caption = (
        "Per scenario: "
        + ", ".join(terms)
        + " (– where the scenario found no plan). The weakest is named above the table."
    )
    return figure(chart)


def page(rows: list[WhatifRow], weak: WhatifRow | None, baseline: Plan, problem: Problem) -> str:
    """The table as one self-contained HTML page, in the style of the plan report."""
    from taskalloc import __version__
    from taskalloc.html import CSS, esc

    title = problem.name or problem.source.name
    head = "".join(
        f"<th class='{'num' if i in (3, 4, 5) else ''}'>{esc(h)}</th>" for i, h in enumerate(HEADER)
    )
    body = []
    for r in rows:
        tds = []
        for i, c in enumerate(cells(r)):
            cls = "num" if i in (3, 4, 5) else ""
            bad = " bad" if i == 1 and r.feasible is False else ""
            tds.append(f"<td class='{cls}{bad}'>{esc(c)}</td>")
        body.append(f"<tr>{''.join(tds)}</tr>")
    kind = "scheduling" if problem.scheduling else "placement"
    figure = _chart(rows, problem)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="taskalloc {esc(__version__)}">\n'
        f"<title>What if: {esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>What if: {esc(title)}</h1>\n"
        f'<p class="sub">{esc(kind)} problem · {len(problem.nodes):,} nodes · '
        f"{len(problem.tasks):,} tasks · objective {esc(problem.objective.describe())}</p>\n"
        "</header>\n"
        f'<section id="table">\n<h2>{esc(headline(weak))}</h2>\n'
        f"<p>{esc(_baseline_words(baseline, problem))}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>\n"
        "<p class='muted'>Each scenario replans the baseline with every task optional; "
        "feasible: every required task still placed; objective delta: each term minus the "
        "baseline's (unplaced priority: priority x replicas of the tasks left out; unplaced: "
        "their number); GPUs: the GPUs of the unplaced tasks.</p>\n"
        f"{figure}"
        "</section>\n"
        f"<footer>taskalloc {esc(__version__)} · problem sha256 {esc(problem.sha256[:16])}…"
        "</footer>\n</body>\n</html>\n"
    )
