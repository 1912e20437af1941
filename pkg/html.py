"""The HTML report of a plan (``taskalloc report PROBLEM PLAN --html report.html``) and its
charts as files (``--svg DIR``, ``--png DIR``).

One self-contained file: the charts are inline SVG (:mod:`.charts`), the style is inline CSS,
and there is no script, no font, no image and no link to anything on a network, so it opens from
a file:// URL, on an air-gapped cluster and in print. Drill-downs (the nodes of a pool, the
details of an unplaced task) are ``<details>`` elements, which need no JavaScript. The output
depends only on the problem, the plan (and, for a Pareto front, the plan files beside it): no
date, no path of the machine, so the same inputs give the same bytes.

:func:`report_charts` builds the charts, :func:`page` the HTML around them; both take the
library's objects, so the public API can call them without the CLI.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import charts as ch

if TYPE_CHECKING:
    from taskalloc.problems.evaluate import Evaluation
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem
    from taskalloc.problems.views import NodeView, PoolView, TaskView


#: characters no HTML text may hold (C0 but tab and line ends, C1, DEL) and the direction
#: overrides that reorder what a reader sees: written as escapes (``\\x1b``), as in messages
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def esc(x: object) -> str:
    from taskalloc.problems.wording import printable

    return html.escape(_CONTROL.sub(lambda m: printable(m.group()), str(x)), quote=True)


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _count_violations(n: int) -> str:
    return f"{n} violation" + ("" if n == 1 else "s")


def _pct(u: float) -> str:
    return f"{u * 100:.0f}%"


# -- what the report holds -------------------------------------------------------------------


@dataclass
class Front:
    """A Pareto front the plan belongs to: its terms and one point per plan file."""

    terms: list[str]
    points: list[ch.FrontPoint]
    files: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    problem: Problem
    plan: Plan
    ev: Evaluation
    nodes: list[NodeView]
    pools: list[PoolView]
    tasks: list[TaskView]
    front: Front | None = None


def collect(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    *,
    front: Front | None = None,
) -> ReportData:
    from taskalloc.problems.views import node_views, pool_views, task_views

    nodes = node_views(problem, plan.assignments, ev)
    return ReportData(
        problem=problem,
        plan=plan,
        ev=ev,
        nodes=nodes,
        pools=pool_views(problem, nodes),
        tasks=task_views(problem, plan.assignments, ev),
        front=front,
    )


def find_front(plan: Plan, plan_file: str | None, link_from: Path | None) -> Front | None:
    """The front of a plan written by ``solve --pareto`` (it records ``solver.options.pareto``):
    the plan files beside it that record a point of a front of the same terms for the same
    problem. Links are relative to ``link_from`` (the HTML file's directory)."""
    from taskalloc.problems.plan import read_plan
    from taskalloc.problems.source import InputError

    info = plan.solver.options.get("pareto") if plan.solver.options else None
    if not isinstance(info, dict) or not isinstance(info.get("terms"), dict):
        return None
    terms = list(info["terms"])
    if len(terms) < 2:
        return None
    here = Path(plan_file).resolve() if plan_file not in (None, "-") else None
    candidates: list[tuple[Path | None, Plan]] = []
    if here is not None:
        for f in sorted(here.parent.iterdir()):
            if not f.is_file() or f.suffix not in (".yaml", ".yml", ".json"):
                continue
            if f.resolve() == here:
                candidates.append((here, plan))
                continue
            try:
                other = read_plan(str(f))
            except (InputError, OSError, UnicodeDecodeError):
                continue
            candidates.append((f, other))
    else:
        candidates.append((None, plan))
    points: list[ch.FrontPoint] = []
    files: list[str] = []
    base = (link_from or Path.cwd()).resolve()
    for where, other in candidates:
        if other.problem_sha256 != plan.problem_sha256:
            continue
        o = other.solver.options.get("pareto") if other.solver.options else None
        if not isinstance(o, dict) or not isinstance(o.get("terms"), dict):
            continue
        if list(o["terms"]) != terms:
            continue
        try:
            values = [float(o["terms"][t]) for t in terms]
        except (TypeError, ValueError):
            continue
        href = None
        if where is not None:
            href = Path(os.path.relpath(where, base)).as_posix()
            files.append(href)
        points.append(
            ch.FrontPoint(
                values=values,
                href=href,
                label=f"#{o.get('point', len(points) + 1)}",
                current=where == here,
            )
        )
    return Front(terms, points, files) if points else None


def report_charts(data: ReportData) -> list[ch.Chart]:
    """Every chart of the report, in the order the page shows them."""
    from taskalloc.problems.views import load_over_time, schedule

    p, plan = data.problem, data.plan
    out: list[ch.Chart | None] = [ch.utilisation(p, data.nodes, data.pools)]
    if len(data.nodes) > ch.MAX_ROWS and len(data.pools) <= ch.MAX_ROWS:
        out.append(ch.utilisation_histogram(p, data.nodes))
    out.append(ch.devices(data.nodes, data.pools))
    if p.scheduling:
        rows = schedule(p, plan.assignments)
        out.append(ch.gantt(p, rows))
        by_pool = len(p.nodes) > ch.MAX_ROWS
        lot = load_over_time(p, plan.assignments, by_pool=by_pool)
        right = ch.time_extent(p, rows) if rows else None
        out.append(ch.load_over_time(lot, "pool" if by_pool else "node", right))
    s = plan.solver
    out.append(
        ch.convergence(
            [ch.Run(s.name, s.trajectory, s.generations, s.seconds, s.labels())],
            title=f"Convergence of {s.name}",
            stages=p.objective.terms if p.objective.kind == "lexicographic" else (),
        )
    )
    if data.front is not None:
        out.append(ch.front(data.front.terms, data.front.points))
    out.append(_simulation_chart(plan))
    return [c for c in out if c is not None]


def _simulation_chart(plan: Plan) -> ch.Chart | None:
    from taskalloc.problems.views import simulation_view

    from .simchart import simulation

    return simulation(simulation_view(plan.metrics))


# -- the page --------------------------------------------------------------------------------

CSS = """
:root { --ink: #1a1a1a; --muted: #5c5c5c; --line: #d0d0d0; --soft: #f3f3f3;
        --bar: #c4cedb; --bad: #8b0000; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 36px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--ink); }
h3 { font-size: 14px; margin: 20px 0 8px; }
p.sub, .muted { color: var(--muted); }
nav { margin: 14px 0 6px; font-size: 13px; }
nav a { margin-right: 14px; color: var(--ink); }
a { color: #1f4e79; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
         gap: 8px; margin: 12px 0; }
.fact { border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; }
.fact .k { font-size: 12px; color: var(--muted); }
.fact .v { font-size: 17px; font-weight: 600; }
.fact.bad { border: 2px solid var(--bad); }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left;
         vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid var(--ink); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.u { text-align: right; font-variant-numeric: tabular-nums; min-width: 70px;
       background: linear-gradient(90deg, var(--bar) var(--u), transparent var(--u)); }
td.tasks { max-width: 520px; }
td.tasks .t { white-space: nowrap; }
td.id { white-space: nowrap; }
code, .formula { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                 font-size: 13px; }
.formula { background: var(--soft); border-left: 4px solid var(--ink); padding: 10px 12px;
           overflow-x: auto; white-space: pre-wrap; }
figure.chart { margin: 10px 0 18px; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 900px; }
details { margin: 4px 0; }
details > summary { cursor: pointer; padding: 3px 0; }
details.pool > summary { font-weight: 600; }
details .inner { margin-left: 18px; }
.bad { color: var(--bad); font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px;
         border-top: 1px solid var(--line); padding-top: 8px; }
@media print { details { display: block; } nav { display: none; } }
"""


def page(data: ReportData, charts: Sequence[ch.Chart]) -> str:
    """The whole HTML document."""
    from taskalloc import __version__

    p, plan, ev = data.problem, data.plan, data.ev
    by_name = {c.name: c for c in charts}
    title = p.name or p.source.name
    kind = "scheduling" if p.scheduling else "placement"
    s = plan.solver
    sub = [
        f"{kind} problem",
        f"{len(p.nodes):,} nodes",
        f"{len(p.tasks):,} tasks",
        f"solver {s.name}",
    ]
    sections: list[tuple[str, str, str]] = [("summary", "Summary", _summary(data))]
    util = (
        _chart(by_name.get("utilisation"))
        + _chart(by_name.get("utilisation-nodes"))
        + _nodes_section(data)
    )
    sections.append(("utilisation", "Utilisation and placement", util))
    if "devices" in by_name:
        sections.append(("devices", "Devices", _chart(by_name["devices"])))
    if p.scheduling:
        sched = _chart(by_name.get("gantt")) + _chart(by_name.get("load"))
        if not sched:
            sched = "<p class='muted'>Nothing is scheduled.</p>"
        sections.append(("schedule", "Schedule", sched))
    replay = _simulation_section(plan, by_name)
    if replay:
        sections.append(("simulation", "Online replay", replay))
    sections.append(("unplaced", "Unplaced tasks", _unplaced(data)))
    conv = _chart(by_name.get("convergence")) or (
        "<p class='muted'>An online replay places each task once, as it comes: it has no "
        "search to converge (the replay's figures are under Online replay).</p>"
        if replay
        else "<p class='muted'>The plan records no progress of its solver (no trajectory).</p>"
    )
    sections.append(("convergence", "Convergence", conv))
    if data.front is not None:
        sections.append(("front", "Pareto front", _chart(by_name.get("front")) + _front(data)))
    if ev.violations:
        sections.append(("violations", "Violations", _violations(data)))
    nav = " ".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name, _ in sections)
    body = "\n".join(
        f'<section id="{sid}">\n<h2>{esc(name)}</h2>\n{content}\n</section>'
        for sid, name, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="taskalloc {esc(__version__)}">\n'
        f"<title>Plan report: {esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>Plan report: {esc(title)}</h1>\n"
        f'<p class="sub">{esc(" · ".join(sub))}</p>\n<nav>{nav}</nav>\n</header>\n'
        f"{body}\n"
        f"<footer>taskalloc {esc(__version__)} · problem sha256 {esc(p.sha256[:16])}… · "
        "recomputed from the problem and the plan's assignments; charts drawn by matplotlib"
        "</footer>\n</body>\n</html>\n"
    )


def _simulation_section(plan: Plan, by_name: dict[str, ch.Chart]) -> str:
    """The replay's figures and chart, in a plan of ``taskalloc simulate`` ('' otherwise)."""
    from taskalloc.problems.views import simulation_view

    from .simchart import NAME, section

    view = simulation_view(plan.metrics)
    return "" if view is None else section(view, _chart(by_name.get(NAME)))


def _chart(chart: ch.Chart | None) -> str:
    if chart is None:
        return ""
    caption = esc(chart.caption).replace("`", "")
    return (
        f'<figure class="chart" id="fig-{esc(chart.name)}" data-chart="{esc(chart.name)}">\n'
        f"{chart.svg()}\n<figcaption>{caption}</figcaption>\n</figure>\n"
    )


def _fact(key: str, value: str, bad: bool = False) -> str:
    cls = "fact bad" if bad else "fact"
    return (
        f'<div class="{cls}"><div class="k">{esc(key)}</div><div class="v">{esc(value)}</div></div>'
    )


def _summary(data: ReportData) -> str:
    from taskalloc.problems.views import fitness_formula

    p, plan, ev = data.problem, data.plan, data.ev
    s = plan.solver
    gap = _gap(plan)
    facts = [
        _fact("status", str(s.status), bad=str(s.status) in ("infeasible", "unknown")),
        _fact("feasible", "yes" if ev.feasible else f"NO ({len(ev.violations)})", not ev.feasible),
        _fact("tasks placed", f"{len(ev.placed_tasks):,} / {len(p.tasks):,}"),
        _fact("replicas placed", f"{ev.placed_replicas:,} / {ev.total_replicas:,}"),
        _fact("nodes used", f"{ev.nodes_used:,} / {len(p.nodes):,}"),
        _fact("fitness", _fmt(ev.fitness)),
        _fact("gap", "–" if gap is None else f"{gap * 100:.2f} %"),
        _fact("seconds", "–" if s.seconds is None else f"{s.seconds:.2f}"),
    ]
    bound = s.bound or {}
    rows = []
    for term, value in ev.terms.items():
        b = bound.get(term)
        tgap = ""
        if b is not None and b == b:
            tgap = f"{abs(value - b) / max(abs(value), 1e-9) * 100:.2f} %" if value != b else "0 %"
        rows.append(
            f"<tr><td>{esc(term)}</td><td class='num'>{esc(_fmt(value))}</td>"
            f"<td class='num'>{esc(_fmt(b) if b is not None and b == b else '')}</td>"
            f"<td class='num'>{esc(tgap)}</td>"
            f"<td>{'yes' if term in ev.objective else ''}</td></tr>"
        )
    formula = fitness_formula(p, ev)
    fleet = " · ".join(f"{r} {_pct(u)}" for r, u in ev.fleet.items())
    return (
        f'<div class="facts">{"".join(facts)}</div>\n'
        f"<p>Objective: <code>{esc(p.objective.describe())}</code>. Fleet utilisation"
        f"{' (time-average over the makespan)' if p.scheduling else ''}: {esc(fleet)}.</p>\n"
        "<h3>Objective terms</h3>\n"
        "<table><thead><tr><th>term</th><th class='num'>value</th><th class='num'>bound</th>"
        "<th class='num'>gap</th><th>in objective</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>\n<h3>Fitness</h3>\n"
        f'<div class="formula">{esc(formula.text())}</div>\n'
        f'<p class="muted">{esc(formula.explanation())}.'
        + (f" Solver: {esc(s.message)}." if s.message else "")
        + "</p>"
    )


def _gap(plan: Plan) -> float | None:
    from taskalloc.solvers.run import final_gap

    return final_gap(plan)


def _util_cells(resources: Iterable[str], util: dict[str, float], caps: dict[str, float]) -> str:
    cells = []
    for r in resources:
        if r not in caps:
            cells.append("<td class='num'>–</td>")
            continue
        u = util.get(r, 0.0)
        cells.append(f"<td class='u' style='--u:{min(u, 1.0) * 100:.1f}%'>{_pct(u)}</td>")
    return "".join(cells)


def _node_table(data: ReportData, nodes: Sequence[NodeView]) -> str:
    from taskalloc.problems.replan import replan_note

    p = data.problem
    note = replan_note(p)  # a replanned problem: its failed and drained nodes say so
    head = "".join(f"<th class='num'>{esc(r)}</th>" for r in p.resources)
    dev = any(nv.devices for nv in nodes)
    rows = []
    for nv in nodes:
        # one span per replica: a task id breaks neither at its hyphens nor before its devices
        tasks = ", ".join(
            "<span class='t'>"
            + esc(pl.label + (f" ({pl.devices_text()})" if pl.devices else ""))
            + "</span>"
            for pl in nv.replicas
        )
        devices = ""
        if dev:
            devices = (
                "<td>"
                + esc(
                    "; ".join(
                        f"{r}: " + " ".join(_pct(u) for u in dl.utilisation)
                        for r, dl in nv.devices.items()
                    )
                )
                + "</td>"
            )
        state = note.state(nv.id) if note is not None else ""
        if state:  # what replan did to it, before whatever still runs there (drained)
            tasks = f"<span class=muted>{state} (replan)</span>" + (f": {tasks}" if tasks else "")
        rows.append(
            f"<tr><td class='id'>{esc(nv.id)}</td>"
            f"{_util_cells(p.resources, nv.utilisation, nv.capacity)}"
            f"{devices}<td class='tasks'>{tasks or '<span class=muted>idle</span>'}</td></tr>"
        )
    return (
        f"<table><thead><tr><th>node</th>{head}{'<th>devices</th>' if dev else ''}"
        "<th>tasks</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _nodes_section(data: ReportData) -> str:
    """Who runs where: one table of nodes (with their tasks), or one per pool to open."""
    p = data.problem
    peak = " at the busiest instant" if p.scheduling else ""
    if len(data.nodes) <= ch.MAX_ROWS:
        opened = " open" if len(data.nodes) <= 30 else ""
        return (
            f"<details{opened}><summary>Nodes and their tasks ({len(data.nodes)} nodes; "
            f"utilisation{peak})</summary>\n{_node_table(data, data.nodes)}\n</details>"
        )
    by_pool: dict[str, list[NodeView]] = {}
    for nv in data.nodes:
        by_pool.setdefault(nv.pool, []).append(nv)
    parts = [
        f"<h3>Pools</h3><p class='muted'>{len(data.nodes):,} nodes in {len(by_pool):,} pools: "
        f"open a pool for its nodes and their tasks (utilisation{peak}).</p>"
    ]
    head = "".join(f"<th class='num'>{esc(r)}</th>" for r in p.resources)
    parts.append(
        f"<table><thead><tr><th>pool</th><th class='num'>nodes</th><th class='num'>used</th>{head}"
        "</tr></thead><tbody>"
    )
    for pv in data.pools:
        parts.append(
            f"<tr><td><a href='#pool-{esc(pv.id)}'>{esc(pv.id)}</a></td>"
            f"<td class='num'>{len(pv.nodes):,}</td><td class='num'>{pv.used:,}</td>"
            f"{_util_cells(p.resources, pv.utilisation, pv.capacity)}</tr>"
        )
    parts.append("</tbody></table>")
    for pv in data.pools:
        summary = ", ".join(f"{r} {_pct(u)}" for r, u in pv.utilisation.items())
        parts.append(
            # the anchor is inside: following a link to it opens the <details>
            f'<details class="pool"><summary>{esc(pv.id)}: '
            f"{len(pv.nodes):,} nodes, {pv.used:,} used; {esc(summary)}</summary>\n"
            f'<div class="inner" id="pool-{esc(pv.id)}">{_node_table(data, by_pool[pv.id])}'
            "</div></details>"
        )
    return "\n".join(parts)


def _unplaced(data: ReportData) -> str:
    missing = [tv for tv in data.tasks if not tv.placed]
    if not missing:
        return "<p>Every task is placed.</p>"
    rows = []
    for tv in missing:
        details = ""
        if tv.details:
            lines = "".join(f"<li>{esc(d)}</li>" for d in tv.details)
            details = f"<details><summary>per node</summary><ul>{lines}</ul></details>"
        req = "<span class='bad'>yes</span>" if tv.required else "no"
        rows.append(
            f"<tr><td class='id'>{esc(tv.id)}</td><td>{req}</td>"
            f"<td class='num'>{esc(_fmt(tv.priority))}</td>"
            f"<td class='num'>{tv.replicas}</td><td>{esc(tv.reason or '')}{details}</td></tr>"
        )
    return (
        f"<p>{len(missing):,} of {len(data.tasks):,} tasks are not placed.</p>"
        "<table><thead><tr><th>task</th><th>required</th><th class='num'>priority</th>"
        "<th class='num'>replicas</th><th>why</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _front(data: ReportData) -> str:
    assert data.front is not None
    f = data.front
    head = "".join(f"<th class='num'>{esc(t)}</th>" for t in f.terms)
    rows = []
    for pt in sorted(f.points, key=lambda x: tuple(x.values)):
        name = esc(pt.label) + (" (this plan)" if pt.current else "")
        link = f"<a href='{esc(pt.href)}'>{esc(pt.href)}</a>" if pt.href else ""
        vals = "".join(f"<td class='num'>{esc(_fmt(v))}</td>" for v in pt.values)
        rows.append(f"<tr><td>{name}</td>{vals}<td>{link}</td></tr>")
    return (
        "<table><thead><tr><th>point</th>"
        + head
        + "<th>plan file</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _violations(data: ReportData) -> str:
    items = "".join(f"<li>{esc(v.kind)}: {esc(v.message)}</li>" for v in data.ev.violations[:200])
    more = len(data.ev.violations) - 200
    return (
        f"<p class='bad'>{_count_violations(len(data.ev.violations))}: "
        "this plan is not feasible.</p>"
        f"<ul>{items}</ul>" + (f"<p>... and {more} more</p>" if more > 0 else "")
    )


def render(
    problem: Problem,
    plan: Plan,
    ev: Evaluation,
    *,
    plan_file: str | None = None,
    link_from: Path | None = None,
) -> tuple[str, list[ch.Chart]]:
    """The HTML report and its charts (for --svg/--png); raises charts.PlotUnavailable.
    ``plan_file``: where the plan is, to find the other plans of its Pareto front beside it;
    ``link_from``: the directory the page's links to them are relative to."""
    ch.require()
    front = find_front(plan, plan_file, link_from)
    data = collect(problem, plan, ev, front=front)
    charts = report_charts(data)
    return page(data, charts), charts


__all__ = ["Front", "ReportData", "collect", "find_front", "page", "render", "report_charts"]
