"""The report's views as tables, JSON, Markdown, CSV (``taskalloc report --view
nodes|tasks|schedule``, ``taskalloc.report(problem, plan, view=...)``).

The data is :mod:`taskalloc.problems.views`; this module only lays it out. ``summary`` (the
utilisation report) stays in :mod:`.render`; :func:`render` puts any views together in one
output. Errors are :class:`ViewError`, an OptionError of the option ``view`` (or ``format``),
which the CLI writes as its flags.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from taskalloc.solvers.engine import OptionError

from . import render as summary

if TYPE_CHECKING:
    from rich.console import Console

    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem
    from taskalloc.problems.views import NodeView, Placement, TaskView

VIEWS = ("summary", "nodes", "tasks", "schedule")


class ViewError(OptionError):
    """A view that cannot be shown for this problem or format (a usage error)."""

    def __init__(self, option: str, problem: str, valid: Sequence[str] = ()) -> None:
        super().__init__(option, problem, valid=valid)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ViewError, (self.option, self.problem, self.valid))


def parse_views(given: Sequence[str] | None) -> list[str]:
    """``--view nodes --view tasks`` or ``--view nodes,tasks``: known names, each once, in the
    order given (default: summary)."""
    out: list[str] = []
    for item in given or ["summary"]:
        for name in item.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in VIEWS:
                raise ViewError("view", f"unknown view '{name}' (views: {', '.join(VIEWS)})", VIEWS)
            if name not in out:
                out.append(name)
    return out or ["summary"]


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _pct(u: float) -> str:
    return f"{u * 100:.0f}%"


class _Data:
    """The view data of one plan, computed once and shared by every view and format."""

    def __init__(self, problem: Problem, plan: Plan, ev: Evaluation) -> None:
        self.problem = problem
        self.plan = plan
        self.ev = ev
        self._nodes: list[NodeView] | None = None
        self._tasks: list[TaskView] | None = None
        self._schedule: list[Placement] | None = None

    @property
    def nodes(self) -> list[NodeView]:
        if self._nodes is None:
            from taskalloc.problems.views import node_views

            self._nodes = node_views(self.problem, self.plan.assignments, self.ev)
        return self._nodes

    @property
    def tasks(self) -> list[TaskView]:
        if self._tasks is None:
            from taskalloc.problems.views import task_views

            self._tasks = task_views(self.problem, self.plan.assignments, self.ev)
        return self._tasks

    @property
    def schedule(self) -> list[Placement]:
        if self._schedule is None:
            from taskalloc.problems.views import schedule

            self._schedule = schedule(self.problem, self.plan.assignments)
        return self._schedule

    @property
    def has_devices(self) -> bool:
        return any(nv.devices for nv in self.nodes)

    @property
    def pools_differ(self) -> bool:
        return any(nv.pool != nv.id for nv in self.nodes)


def _check_schedule(problem: Problem) -> None:
    if not problem.scheduling:
        raise ViewError(
            "view",
            "schedule is for scheduling problems, and this is a placement problem (no task has "
            "a duration, so nothing has a start or end); option view='nodes' shows which task "
            "runs where",
        )


# -- JSON ------------------------------------------------------------------------------------


def _json_view(d: _Data, view: str) -> Any:
    if view == "summary":
        return summary.report_data(d.problem, d.plan, d.ev)
    if view == "nodes":
        return [nv.to_dict() for nv in d.nodes]
    if view == "tasks":
        return [tv.to_dict(d.problem.scheduling) for tv in d.tasks]
    from taskalloc.problems.views import makespan

    return {
        "makespan": makespan(d.schedule),
        "replicas": [p.to_dict() for p in d.schedule],
    }


def json_text(d: _Data, views: Sequence[str]) -> str:
    """One view: ``summary`` as today's report object, any other as ``{view: data}``; several
    views: one object with a key per view."""
    if list(views) == ["summary"]:
        return summary.json_report(d.problem, d.plan, d.ev)
    return json.dumps({v: _json_view(d, v) for v in views}, indent=2) + "\n"


# -- CSV -------------------------------------------------------------------------------------


def csv_text(d: _Data, view: str) -> str:
    if view == "summary":
        return summary.csv_report(d.problem, d.plan, d.ev)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    p = d.problem
    if view == "nodes":
        dev_res = sorted({r for nv in d.nodes for r in nv.devices})
        head = ["node", "pool", "replicas", "tasks"]
        for r in p.resources:
            head += [f"{r}_capacity", f"{r}_load", f"{r}_utilisation"]
            if p.scheduling:
                head.append(f"{r}_average_utilisation")
        head += [f"{r}_devices" for r in dev_res]
        w.writerow(head)
        for nv in d.nodes:
            row: list[Any] = [nv.id, nv.pool, len(nv.replicas), " ".join(_names(nv.replicas))]
            for r in p.resources:
                if r in nv.capacity:
                    row += [_fmt(nv.capacity[r]), _fmt(round(nv.load[r], 9))]
                    row.append(f"{nv.utilisation[r]:.6g}")
                    if p.scheduling:
                        avg = nv.average or {}
                        row.append(f"{avg.get(r, 0.0):.6g}")
                else:
                    row += ["", "", ""] + ([""] if p.scheduling else [])
            for r in dev_res:
                dl = nv.devices.get(r)
                row.append("" if dl is None else " ".join(f"{u:.6g}" for u in dl.utilisation))
            w.writerow(row)
    elif view == "tasks":
        head = ["task", "replicas", "placed", "required", "priority", "gang", "nodes", "devices"]
        if p.scheduling:
            head += ["start", "end", "release", "deadline", "deadline_slack", "due", "due_slack"]
        head.append("reason")
        w.writerow(head)
        for tv in d.tasks:
            row = [
                tv.id,
                tv.replicas,
                len(tv.placed),
                "true" if tv.required else "false",
                _fmt(tv.priority),
                tv.gang or "",
                " ".join(tv.nodes),
                " ".join(f"{pl.node}:{pl.devices_text()}" for pl in tv.placed if pl.devices),
            ]
            if p.scheduling:
                row += [
                    _opt(tv.start),
                    _opt(tv.end),
                    _opt(tv.release),
                    _opt(tv.deadline),
                    _opt(tv.deadline_slack),
                    _opt(tv.due),
                    _opt(tv.due_slack),
                ]
            row.append(tv.reason or "")
            w.writerow(row)
    else:
        _check_schedule(p)
        w.writerow(["node", "task", "replica", "start", "end", "devices"])
        for pl in d.schedule:
            w.writerow([pl.node, pl.task, pl.replica, pl.start, pl.end, pl.devices_text()])
    return buf.getvalue()


def _opt(x: int | None) -> str:
    return "" if x is None else str(x)


def _names(reps: Sequence[Placement]) -> list[str]:
    return [pl.label for pl in reps]


# -- Markdown --------------------------------------------------------------------------------


def _md(s: object) -> str:
    from taskalloc.problems.wording import printable

    return printable(str(s).replace("|", "\\|").replace("\n", " "))


def markdown_text(d: _Data, views: Sequence[str]) -> str:
    parts = []
    for view in views:
        if view == "summary":
            parts.append(summary.markdown(d.problem, d.plan, d.ev))
            continue
        title = d.problem.name or d.problem.source.name
        lines = [f"## {view.capitalize()}: {_md(title)}", ""]
        p = d.problem
        if view == "nodes":
            head = ["node", "tasks", *list(p.resources)]
            if d.has_devices:
                head.append("devices")
            lines += ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(p.resources)]
            if d.has_devices:
                lines[-1] += "---|"
            for nv in d.nodes:
                cells = [_md(nv.id), _md(", ".join(_names(nv.replicas)))]
                for r in p.resources:
                    cells.append(_load_cell(nv, r))
                if d.has_devices:
                    cells.append(_md(_devices_cell(nv)))
                lines.append("| " + " | ".join(cells) + " |")
        elif view == "tasks":
            head = ["task", "placed", "nodes"]
            align = "|---|---:|---|"
            if p.scheduling:
                head += ["start", "end", "deadline slack", "due slack"]
                align += "---:|---:|---:|---:|"
            head.append("why unplaced")
            align += "---|"
            lines += ["| " + " | ".join(head) + " |", align]
            for tv in d.tasks:
                cells = [_md(tv.id), f"{len(tv.placed)}/{tv.replicas}", _md(_task_nodes(tv))]
                if p.scheduling:
                    cells += [
                        _opt(tv.start),
                        _opt(tv.end),
                        _opt(tv.deadline_slack),
                        _opt(tv.due_slack),
                    ]
                cells.append(_md(tv.reason or ""))
                lines.append("| " + " | ".join(cells) + " |")
        else:
            _check_schedule(p)
            from taskalloc.problems.views import makespan

            lines += [f"Makespan {makespan(d.schedule)}.", ""]
            lines += [
                "| node | task | replica | start | end | devices |",
                "|---|---|---:|---:|---:|---|",
            ]
            for pl in d.schedule:
                lines.append(
                    f"| {_md(pl.node)} | {_md(pl.task)} | {pl.replica} | {pl.start} | {pl.end} "
                    f"| {_md(pl.devices_text())} |"
                )
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _load_cell(nv: NodeView, r: str) -> str:
    if r not in nv.capacity:
        return ""
    text = f"{_fmt(round(nv.load[r], 9))}/{_fmt(nv.capacity[r])} {_pct(nv.utilisation[r])}"
    if nv.average is not None:
        text += f" (avg {_pct(nv.average.get(r, 0.0))})"
    return text


def _devices_cell(nv: NodeView) -> str:
    return "; ".join(
        f"{r}: " + " ".join(_pct(u) for u in dl.utilisation) for r, dl in nv.devices.items()
    )


def _device_marks(nv: NodeView, *, named: bool) -> str:
    """``███▄····`` (``gpu ███▄····`` when ``named``): one mark per device, as the summary's
    device table draws them (the numbers are in the JSON, Markdown and CSV views)."""
    return "; ".join(
        (f"{r} " if named else "") + summary.device_glyphs(dl.utilisation)
        for r, dl in nv.devices.items()
    )


def _task_nodes(tv: TaskView) -> str:
    return ", ".join(
        pl.node + (f" ({pl.devices_text()})" if pl.devices else "") for pl in tv.placed
    )


# -- tables ----------------------------------------------------------------------------------


def print_tables(console: Console, d: _Data, views: Sequence[str]) -> None:
    """Every view for a person, one after another."""
    for i, view in enumerate(views):
        if i:
            console.print()
        if view == "summary":
            summary._console_table(console, d.problem, d.plan, d.ev)
        elif view == "nodes":
            _nodes_table(console, d)
        elif view == "tasks":
            _tasks_table(console, d)
        else:
            _check_schedule(d.problem)
            gantt_text(console, d)


def _nodes_table(console: Console, d: _Data) -> None:
    from rich.table import Table

    p = d.problem
    used = sum(1 for nv in d.nodes if nv.used)
    title = f"Nodes ({used} of {len(d.nodes)} used)"
    if p.scheduling:
        title += "; load: peak (time-average)"
    split = list(dict.fromkeys(r for nv in d.nodes for r in nv.devices))
    legend = f"{'/'.join(split)} devices: one mark each, · idle to █ full" if split else None
    table = Table(title=title, title_justify="left", caption=legend, caption_justify="left")
    table.add_column("node", no_wrap=True)
    table.add_column("tasks", overflow="fold")
    for r in p.resources:
        table.add_column(r, justify="right", no_wrap=True, min_width=4)
    if split:  # one split resource (the usual GPUs): marks alone, its name in the title
        table.add_column("devices", no_wrap=True)
    wide = console.width >= 100 + 14 * len(p.resources)
    for nv in d.nodes:
        cells = [nv.id, ", ".join(_names(nv.replicas))]
        for r in p.resources:
            if r not in nv.capacity:
                cells.append("")
                continue
            text = _pct(nv.utilisation[r])
            if wide:
                text = f"{_fmt(round(nv.load[r], 9))}/{_fmt(nv.capacity[r])} {text}"
            if nv.average is not None:
                text += f" ({_pct(nv.average.get(r, 0.0))})"
            cells.append(text)
        if split:
            cells.append(_device_marks(nv, named=len(split) > 1))
        table.add_row(*map(_text, cells), style=None if nv.used else "dim")
    print_whole(console, table)


def _tasks_table(console: Console, d: _Data) -> None:
    """One row per task; why a task is unplaced in a last column where that column gets
    :data:`summary.WHY_MIN` columns, else listed below the table at the full width."""
    p = d.problem
    sched = p.scheduling
    deadlines = sched and any(tv.deadline is not None for tv in d.tasks)
    dues = sched and any(tv.due is not None for tv in d.tasks)
    rows = []
    for tv in d.tasks:
        cells = [tv.id, f"{len(tv.placed)}/{tv.replicas}", _task_nodes(tv)]
        if sched:
            cells += [_opt(tv.start), _opt(tv.end)]
            if deadlines:
                cells.append(_opt(tv.deadline_slack))
            if dues:
                slack = tv.due_slack
                cells.append(_opt(slack) + (" late" if slack is not None and slack < 0 else ""))
        rows.append(cells)
    missing = [tv for tv in d.tasks if not tv.placed]
    table = _tasks_grid(d, rows, deadlines, dues, why=False)
    if missing and _width(console, table) + summary.WHY_MIN + 3 <= console.width:
        why = [[*cells, tv.reason or ""] for cells, tv in zip(rows, d.tasks, strict=True)]
        print_whole(console, _tasks_grid(d, why, deadlines, dues, why=True))
        return
    print_whole(console, table)
    if missing:
        summary.print_reasons(
            console, "Why unplaced", [(tv.id, tv.reason or "", []) for tv in missing]
        )


def _tasks_grid(d: _Data, rows: list[list[str]], deadlines: bool, dues: bool, why: bool) -> Any:
    from rich.table import Table

    placed = sum(1 for tv in d.tasks if tv.placed)
    table = Table(title=f"Tasks ({placed} of {len(d.tasks)} placed)", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("placed", justify="right", no_wrap=True)
    table.add_column("nodes", overflow="fold")
    if d.problem.scheduling:
        table.add_column("start", justify="right", no_wrap=True)
        table.add_column("end", justify="right", no_wrap=True)
        if deadlines:
            table.add_column("deadline\nslack", justify="right", no_wrap=True)
        if dues:
            table.add_column("due\nslack", justify="right", no_wrap=True)
    if why:
        table.add_column("why unplaced", overflow="fold")
    for tv, cells in zip(d.tasks, rows, strict=True):
        table.add_row(*map(_text, cells), style=None if tv.placed else "yellow")
    return table


def _width(console: Console, table: Any) -> int:
    """The width ``table`` takes with its columns as wide as their cells."""
    return int(console.measure(table, options=console.options.update_width(10_000)).maximum)


def print_whole(console: Console, table: Any) -> None:
    """Print a table without cutting any cell short: a table that cannot fit the console even
    with its wrapping columns wrapped is printed wider (a terminal wraps its lines; a pipe or a
    file gets them whole)."""
    need = console.measure(table, options=console.options.update_width(10_000)).minimum
    width = console.width
    console.width = max(width, need)
    try:
        console.print(table)
    finally:
        console.width = width


def _text(s: str) -> Any:
    """A table cell printed as it is: ids may look like markup or emoji codes (``a:100:b``);
    control characters in them are escaped (an ESC of an id never recolours the terminal)."""
    from rich.text import Text

    from taskalloc.problems.wording import printable

    return Text(printable(s))


# -- the text Gantt chart --------------------------------------------------------------------


def gantt_lines(d: _Data, width: int) -> list[str]:
    """The schedule as text: one row per node and lane (replicas that overlap in time on a node
    go to separate lanes), time scaled to ``width`` columns; each replica is ``[name───]``."""
    from taskalloc.problems.views import lanes, makespan
    from taskalloc.problems.views import span as end_of

    rows = d.schedule
    span = end_of(rows)
    by_node: dict[str, list[Placement]] = {}
    for pl in rows:
        by_node.setdefault(pl.node, []).append(pl)
    label_w = max([len(n) for n in by_node] + [4])
    label_w = min(label_w, max(8, width // 4))
    cols = max(10, width - label_w - 3)
    if span <= 0:
        return ["(nothing is scheduled)"]
    per_col = span / cols
    out = [_axis(label_w, cols, span)]
    for node, reps in by_node.items():
        lane_of = lanes(reps)
        grid = [[" "] * cols for _ in range(max(lane_of) + 1)]
        for pl, lane in zip(reps, lane_of, strict=True):
            s = min(cols - 1, round((pl.start or 0) / per_col))
            e = max(s + 1, min(cols, round((pl.end or 0) / per_col)))
            _draw(grid[lane], s, e, pl.label)
        name = node if len(node) <= label_w else node[: label_w - 1] + "…"
        for i, line in enumerate(grid):
            head = name.ljust(label_w) if i == 0 else " " * label_w
            out.append(f"{head} │{''.join(line)}│")
    unit = f"{_fmt(round(per_col, 2))} time unit" + ("" if per_col == 1 else "s")
    services = f" (services run to {span})" if makespan(rows) < span else ""
    out.append(f"{' ' * label_w}  makespan {makespan(rows)}{services}; one column = {unit}")
    short = any("▌" in line or "[]" in line for line in out[1:-1])
    if short:  # say what the marks without a name are
        out.append(f"{' ' * label_w}  ▌ and []: replicas too short for their names")
    return out


def _axis(label_w: int, cols: int, span: int) -> str:
    """``0`` at the left, ``span`` at the right, and ticks between where they fit."""
    line = [" "] * cols
    step = _nice_step(span, max(1, cols // 12))
    t = 0
    while t <= span:
        col = min(cols - 1, round(t / span * (cols - 1)))
        text = str(t)
        if col + len(text) <= cols and all(
            c == " " for c in line[max(0, col - 1) : col + len(text)]
        ):
            line[col : col + len(text)] = list(text)
        t += step
    end = str(span)
    if all(c == " " for c in line[cols - len(end) - 1 :]):
        line[cols - len(end) :] = list(end)
    return " " * label_w + "  " + "".join(line)


def _nice_step(span: int, ticks: int) -> int:
    raw = span / max(ticks, 1)
    mag = 10 ** max(0, math.floor(math.log10(max(raw, 1))))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return int(m * mag)
    return int(10 * mag)


def _draw(line: list[str], s: int, e: int, label: str) -> None:
    width = e - s
    if width == 1:
        cells = ["▌"]
    elif width == 2:
        cells = ["[", "]"]
    else:
        inner = width - 2
        text = label if len(label) <= inner else label[: max(0, inner - 1)] + "…"
        cells = ["[", *text, *("─" * (inner - len(text))), "]"]
    line[s:e] = cells


def gantt_text(console: Console, d: _Data) -> None:
    console.print("Schedule", style="bold")
    from taskalloc.problems.wording import printable

    for line in gantt_lines(d, console.width):
        console.print(printable(line), markup=False, emoji=False, highlight=False, soft_wrap=True)


# -- one entry point -------------------------------------------------------------------------


def render(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    views: Sequence[str],
    fmt: str,
) -> str:
    """Every view in ``fmt`` (json, markdown, csv; ``table`` as plain text 160 columns wide).
    Raises :class:`ViewError` for a view the problem cannot have (``schedule`` of a
    placement problem) or several views in CSV."""
    d = _Data(problem, plan, ev)
    if "schedule" in views:
        _check_schedule(problem)
    if fmt == "json":
        return json_text(d, views)
    if fmt == "markdown":
        return markdown_text(d, views)
    if fmt == "csv":
        if len(views) != 1:
            raise ViewError("format", "csv holds one view: give one view (or write several files)")
        return csv_text(d, views[0])
    if list(views) == ["summary"]:
        return summary.table_text(problem, plan, ev)
    buf = io.StringIO()
    console = summary.plain_console(buf, 160, no_color=True, color_system=None)
    print_tables(console, d, views)
    return buf.getvalue()


def print_views(
    problem: Problem, plan: Plan, ev: Evaluation, views: Sequence[str], console: Console | None
) -> None:
    """The tables on a console (stdout by default)."""
    if "schedule" in views:
        _check_schedule(problem)
    if list(views) == ["summary"]:
        summary.table(problem, plan, ev, console)
        return
    print_tables(console or summary.plain_console(), _Data(problem, plan, ev), views)
