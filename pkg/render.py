"""The utilisation and fitness report of a plan: a table, JSON, Markdown or CSV.

Everything here is computed by the evaluator; this module only lays it out
(:func:`taskalloc.report` is its entry point; ``taskalloc report`` prints it). Tables are
printed by rich with markup and emoji codes off: ids and names print as written.

In scheduling problems each node's cell shows the peak utilisation and the time-average over
the makespan; the fleet row shows the fleet's time-average (all the work over all the
capacity), so it is labelled ``fleet (avg)``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem

BAR = 12


def fleet_label(problem: Problem) -> str:
    """The fleet row's label: its utilisation is the time-average when scheduling."""
    return "fleet (avg)" if problem.scheduling else "fleet"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _bar(u: float, width: int = BAR) -> str:
    """A utilisation bar of ``width`` cells and the percentage (just the percentage if 0)."""
    if width <= 0:
        return f"{u * 100:5.1f}%"
    filled = max(0, min(width, round(u * width)))
    return "█" * filled + "░" * (width - filled) + f" {u * 100:5.1f}%"


def _bar_width(console_width: int, label_width: int, columns: int) -> int:
    """Widest bar (up to BAR) that keeps one row per node on the console."""
    per_column = (console_width - label_width - 4) // max(columns, 1) - 3  # borders, padding
    return max(0, min(BAR, per_column - 7))  # 7: " 100.0%"


def _cells(
    problem: Problem, ev: Evaluation, cell: Callable[[float, float | None], str]
) -> Iterator[tuple[str, list[str]]]:
    """(node id, one cell per resource): ``cell(utilisation, time-average or None)``, empty
    where the node has no capacity of that resource."""
    for n in problem.nodes:
        row = ev.utilisation.get(n.id, {})
        avg = ev.average_utilisation[n.id] if ev.average_utilisation is not None else None
        yield (
            n.id,
            [
                cell(row[r], avg.get(r, 0.0) if avg is not None else None) if r in row else ""
                for r in problem.resources
            ],
        )


def _node_rows(problem: Problem, ev: Evaluation) -> list[tuple[str, str, float, float | None]]:
    """(node, resource, utilisation (peak), time-average or None) for every capacity > 0."""
    rows = []
    for n in problem.nodes:
        for r, u in ev.utilisation.get(n.id, {}).items():
            avg = ev.average_utilisation[n.id].get(r) if ev.average_utilisation else None
            rows.append((n.id, r, u, avg))
    return rows


_LEVELS = "·▁▂▃▄▅▆▇█"


def device_glyphs(loads: list[float]) -> str:
    """One character per device: · idle, ▁ to █ by eighths of the device (█: full)."""
    return "".join(_LEVELS[0 if u <= 0 else max(1, min(8, math.ceil(u * 8 - 1e-9)))] for u in loads)


def _device_rows(ev: Evaluation) -> list[tuple[str, str, str, str]]:
    """(node, resource, one glyph per device, how many are full / in use / idle)."""
    rows = []
    for node_id, per in ev.device_utilisation.items():
        for r, loads in per.items():
            full = sum(1 for u in loads if u >= 1 - 1e-9)
            idle = sum(1 for u in loads if u <= 1e-12)
            summary = f"{full} full, {len(loads) - full - idle} partly used, {idle} idle"
            rows.append((node_id, r, device_glyphs(loads), summary))
    return rows


def _header(problem: Problem, plan: Plan, ev: Evaluation) -> list[tuple[str, str]]:
    kind = "scheduling" if problem.scheduling else "placement"
    s = plan.solver
    from taskalloc.problems.wording import plural, printable

    return [
        ("problem", f"{printable(problem.name or problem.source.name)} ({kind})"),
        (
            "solver",
            f"{printable(s.name)}, status {s.status}"
            + (f", {s.seconds:.2f} s" if s.seconds else ""),
        ),
        ("feasible", "yes" if ev.feasible else f"NO ({plural(len(ev.violations), 'violation')})"),
        (
            "placed",
            f"{len(ev.placed_tasks)}/{len(problem.tasks)} tasks, "
            f"{ev.placed_replicas}/{ev.total_replicas} replicas",
        ),
        ("nodes used", f"{ev.nodes_used}/{len(problem.nodes)}"),
        ("objective", problem.objective.describe()),
        ("fitness", _fmt(ev.fitness)),
        *_simulation_row(plan),
    ]


def _simulation_row(plan: Plan) -> list[tuple[str, str]]:
    """``simulation``: the replay's own figures, in a plan of ``taskalloc simulate``."""
    from taskalloc.problems.views import simulation_view

    view = simulation_view(plan.metrics)
    return [] if view is None else [("simulation", view.line())]


def _console_table(console: Console, problem: Problem, plan: Plan, ev: Evaluation) -> None:
    from rich.table import Table
    from rich.text import Text

    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold")
    head.add_column()
    for k, v in _header(problem, plan, ev):
        head.add_row(k, Text(v))  # a problem's name is text, never markup
    console.print(head)

    console.print()  # a blank line between sections: each title starts a paragraph
    terms = Table(title="Objective terms", title_justify="left")
    terms.add_column("term")
    terms.add_column("value", justify="right")
    terms.add_column("bound", justify="right")
    terms.add_column("in objective")
    bound = plan.solver.bound or {}
    for term, value in ev.terms.items():
        terms.add_row(
            term,
            _fmt(value),
            _fmt(bound[term]) if term in bound else "",
            "yes" if term in ev.objective else "",
        )
    console.print(terms)

    console.print()
    util = Table(
        title="Utilisation"
        + (" (peak / time-average over the makespan)" if problem.scheduling else ""),
        title_justify="left",
    )
    from taskalloc.problems.replan import replan_note

    note = replan_note(problem)  # a replanned problem: its failed and drained nodes say so
    label = max([len(n.id) for n in problem.nodes] + [5])
    util.add_column("node", no_wrap=True, min_width=label)
    for r in problem.resources:
        util.add_column(r, no_wrap=True)
    avg_extra = 9 if ev.average_utilisation is not None else 0  # " avg 100%"
    width = _bar_width(
        console.width - avg_extra * len(problem.resources), label, len(problem.resources)
    )

    def bar(u: float, avg: float | None) -> str:
        return _bar(u, width) + (f" avg {avg * 100:.0f}%" if avg is not None else "")

    for node_id, cells in _cells(problem, ev, bar):
        util.add_row(node_id, *cells)
    util.add_row(
        fleet_label(problem),
        *[_bar(ev.fleet[r], width) if r in ev.fleet else "" for r in problem.resources],
        style="bold",
    )
    console.print(util)
    for state, ids in (("failed", note.failed), ("drained", note.drained)) if note else ():
        if ids:  # said under the table: a longer node column would take the bars at 80 columns
            shown = [n.id for n in problem.nodes if n.id in ids]
            more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
            text = f"{state} (replan): {', '.join(shown[:10])}{more}"
            console.print(text, style="dim", markup=False, emoji=False, highlight=False)

    if ev.device_utilisation:
        peak = " (peak)" if problem.scheduling else ""
        console.print()
        dev = Table(
            title=f"Devices{peak}: one mark per device, · idle to █ full", title_justify="left"
        )
        for col in ("node", "resource", "devices", "in use"):
            dev.add_column(col, no_wrap=col != "in use")
        for row in _device_rows(ev):
            dev.add_row(*row)
        console.print(dev)

    if ev.unplaced:
        console.print()
        _unplaced(console, problem, ev)
    if ev.violations:
        console.print()
        n = len(ev.violations)
        console.print(f"{n} violation{'' if n == 1 else 's'}:", style="bold red")
        for viol in ev.violations:
            console.print(f"  {viol.kind}: {viol.message}")


#: the narrowest column a table gives the reasons of unplaced tasks; where it would be
#: narrower (80 columns and long ids), the reasons are printed below, at the full width
WHY_MIN = 48


def _unplaced(console: Console, problem: Problem, ev: Evaluation) -> None:
    """The unplaced tasks, each with why (the reason, then up to 8 lines of detail): a table
    where its "why" column gets :data:`WHY_MIN` columns, else a list at the full width."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from taskalloc.problems.wording import printable

    rows = []
    for u in ev.unplaced:
        details = list(u.details[:8])
        if len(u.details) > 8:
            details.append(f"... {len(u.details) - 8} more lines (see --format json)")
        required = problem.tasks[problem.task_index[u.task]].required
        rows.append((printable(u.task), required, u.reason, details))
    widest = max(len(task) for task, _, _, _ in rows)
    if console.width - widest - len("required") - 10 < WHY_MIN:  # 10: the borders, padding
        print_reasons(
            console,
            "Unplaced tasks",
            [(f"{t} ({'required' if req else 'optional'})", why, d) for t, req, why, d in rows],
        )
        return
    un = Table(title="Unplaced tasks", title_justify="left")
    un.add_column("task", overflow="fold")  # an id is never cut short
    un.add_column("required")
    un.add_column("why")
    for task, req, reason, details in rows:
        # each detail indented as a block: a line that wraps stays under its first line
        why = Group(
            Text(printable(reason)), *(Padding(Text(printable(d)), (0, 0, 0, 2)) for d in details)
        )
        un.add_row(Text(task), "yes" if req else "no", why)
    console.print(un)


def print_reasons(console: Console, title: str, rows: list[tuple[str, str, list[str]]]) -> None:
    """Reasons too long for a table's column, as a list at the console's full width: the
    title, then for each row its head (a task), its reason under it and its details under
    that, each broken at spaces with its wrapped lines kept under its first."""
    import textwrap

    from rich.text import Text

    from taskalloc.problems.wording import printable

    def lines(text: str, indent: int, style: str | None = None) -> None:
        pad = " " * indent
        for line in textwrap.wrap(
            printable(text),
            width=max(console.width, indent + 20),
            initial_indent=pad,
            subsequent_indent=pad,
            break_long_words=False,
            break_on_hyphens=False,
        ):
            console.print(Text(line, style=style or ""), soft_wrap=True)

    console.print(Text(title, style="italic"))
    for head, reason, details in rows:
        lines(head, 2, "bold")
        lines(reason, 4)
        for d in details:
            lines(d, 6)


def plain_console(file: Any = None, width: int | None = None, **kw: Any) -> Console:
    """A console that prints text as written: no markup, no emoji codes, no highlighting."""
    from rich.console import Console

    console = Console(file=file, width=width, markup=False, emoji=False, highlight=False, **kw)
    return trimmed(pipe_safe(console))


#: spaces at the end of a line (rich pads a table's title and a grid's cells to its width)
_TRAILING = re.compile(r"[ \t]+(?=\n)")


def trimmed(console: Console) -> Console:
    """``console`` writing no spaces at the ends of lines: rich pads titles and cells to the
    table's width, which a pipe, a file or ``cat -A`` shows as trailing blanks (and diffs
    and editors flag). Text only: what rich writes is the same but for those blanks."""
    render = console._render_buffer

    def render_trimmed(buffer: Any) -> str:
        return _TRAILING.sub("", render(buffer))

    console._render_buffer = render_trimmed  # type: ignore[method-assign]
    return console


def pipe_safe(console: Console) -> Console:
    """``console`` raising BrokenPipeError when its reader goes away (``| head``), for the
    caller to handle (the CLI: exit 0), instead of rich's own handling: ``SystemExit(1)``,
    which made ``taskalloc report PLAN | head`` fail under ``set -o pipefail``."""

    def broken_pipe() -> None:
        console.quiet = True  # nothing more to write there
        raise BrokenPipeError

    console.on_broken_pipe = broken_pipe  # type: ignore[method-assign]
    return console


def table(problem: Problem, plan: Plan, ev: Evaluation, console: Console | None) -> None:
    """Print the report as tables on ``console`` (default: stdout)."""
    _console_table(console or plain_console(), problem, plan, ev)


def table_text(problem: Problem, plan: Plan, ev: Evaluation, width: int = 160) -> str:
    """The tables as plain text (no colours), ``width`` columns wide."""
    buf = io.StringIO()
    console = plain_console(buf, width, no_color=True, color_system=None)
    _console_table(console, problem, plan, ev)
    return buf.getvalue()


def report_data(problem: Problem, plan: Plan, ev: Evaluation) -> dict[str, Any]:
    return {
        "problem": {
            "name": problem.name,
            "sha256": problem.sha256,
            "kind": "scheduling" if problem.scheduling else "placement",
        },
        "solver": plan.solver.to_dict(),
        "feasible": ev.feasible,
        "violations": [v.message for v in ev.violations],
        "objective": ev.objective,
        "terms": ev.terms,
        "fitness": ev.fitness,
        "placed_tasks": len(ev.placed_tasks),
        "tasks": len(problem.tasks),
        "placed_replicas": ev.placed_replicas,
        "total_replicas": ev.total_replicas,
        "nodes_used": ev.nodes_used,
        "fleet_utilisation": ev.fleet,
        "utilisation": ev.utilisation,
        **({"average_utilisation": ev.average_utilisation} if ev.average_utilisation else {}),
        **({"device_utilisation": ev.device_utilisation} if ev.device_utilisation else {}),
        "unplaced": [u.to_dict() for u in ev.unplaced],
        **_simulation_data(plan),
    }


def _simulation_data(plan: Plan) -> dict[str, Any]:
    from taskalloc.problems.views import simulation_view

    view = simulation_view(plan.metrics)
    return {} if view is None else {"simulation": view.to_dict()}


def json_report(problem: Problem, plan: Plan, ev: Evaluation) -> str:
    return json.dumps(report_data(problem, plan, ev), indent=2) + "\n"


def _md_escape(s: str) -> str:
    from taskalloc.problems.wording import printable

    return printable(s.replace("|", "\\|").replace("\n", " "))


def markdown(problem: Problem, plan: Plan, ev: Evaluation) -> str:
    lines = [f"# Plan report: {_md_escape(problem.name or problem.source.name)}", ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {k} | {_md_escape(v)} |" for k, v in _header(problem, plan, ev)]
    lines += ["", "## Objective terms", "", "| term | value | in objective |", "|---|---:|---|"]
    lines += [
        f"| {t} | {_fmt(v)} | {'yes' if t in ev.objective else ''} |" for t, v in ev.terms.items()
    ]
    sched = ev.average_utilisation is not None
    lines += ["", "## Utilisation" + (" (peak / time-average)" if sched else ""), ""]
    lines += [
        "| node | " + " | ".join(problem.resources) + " |",
        "|---|" + "---:|" * len(problem.resources),
    ]

    def pct(u: float, avg: float | None) -> str:
        return f"{u:.0%}" + (f" / {avg:.0%}" if avg is not None else "")

    for node_id, cells in _cells(problem, ev, pct):
        lines.append(f"| {node_id} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **{fleet_label(problem)}** | "
        + " | ".join(f"**{ev.fleet[r]:.0%}**" if r in ev.fleet else "" for r in problem.resources)
        + " |"
    )
    if ev.device_utilisation:
        lines += ["", "## Devices" + (" (peak)" if sched else ""), ""]
        lines += ["| node | resource | devices | in use |", "|---|---|---|---|"]
        lines += [f"| {n} | {r} | `{g}` | {u} |" for n, r, g, u in _device_rows(ev)]
    if ev.unplaced:
        lines += ["", "## Unplaced tasks", "", "| task | why |", "|---|---|"]
        lines += [f"| {u.task} | {_md_escape(u.reason)} |" for u in ev.unplaced]
    if ev.violations:
        lines += ["", "## Violations", ""] + [f"- {_md_escape(v.message)}" for v in ev.violations]
    return "\n".join(lines) + "\n"


def csv_report(problem: Problem, plan: Plan, ev: Evaluation) -> str:
    """One row per node and resource (capacity > 0)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["node", "resource", "capacity", "load", "utilisation", "average_utilisation"])
    for node, r, u, avg in _node_rows(problem, ev):
        cap = problem.nodes[problem.node_index[node]].capacity[r]
        w.writerow(
            [
                node,
                r,
                _fmt(cap),
                _fmt(round(u * cap, 9)),
                f"{u:.6g}",
                "" if avg is None else f"{avg:.6g}",
            ]
        )
    return buf.getvalue()
