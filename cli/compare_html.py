"""The HTML page of ``taskalloc compare --html``: the table, the convergence of every run on one
time axis, and each objective term by run. Self-contained like the plan report (:mod:`.html`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from taskalloc import charts as ch
from taskalloc.html import CSS, esc

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

    from .compare import Row


def compare_charts(
    rows: Sequence[Row], terms: Sequence[str], stages: Sequence[str] = ()
) -> list[ch.Chart]:
    several = len({r.seed for r in rows}) > 1
    runs = []
    for r in rows:
        if r.plan is None:
            continue
        trajectory = r.plan.solver.trajectory
        measured = r.plan.solver.labels()
        if not trajectory and r.fitness is not None:
            # an engine that records no progress (the greedy): its plan, when it was done
            trajectory, measured = [(r.seconds or 0.0, r.fitness, None)], ["fitness"]
        runs.append(
            ch.Run(
                r.label if several else r.engine,
                trajectory,
                r.plan.solver.generations,
                r.seconds,
                measured,
            )
        )
    # each run's bars in the colour of its line in the convergence chart
    colour = {run.label: ch.SERIES[i % len(ch.SERIES)][0] for i, run in enumerate(runs)}
    labels = [r.label if several else r.engine for r in rows if r.terms]
    out = [
        ch.convergence(runs, title="Convergence of every run (one time axis)", stages=stages),
        ch.objective_bars(
            labels,
            list(terms),
            [r.terms for r in rows if r.terms],
            [colour.get(label, "#999999") for label in labels],
        ),
    ]
    return [c for c in out if c is not None]


def page(
    problem: Problem, rows: Sequence[Row], terms: Sequence[str], *, link_from: Path | None = None
) -> str:
    from taskalloc import __version__
    from taskalloc.html import _chart

    from .compare import cells, header

    title = problem.name or problem.source.name
    objective = problem.objective
    charts = compare_charts(
        rows, terms, objective.terms if objective.kind == "lexicographic" else ()
    )
    base = (link_from or Path.cwd()).resolve()
    head = "".join(
        f"<th class='{'num' if h not in ('engine', 'status', 'checked') else ''}'>{esc(h)}</th>"
        for h in header(list(terms))
    )
    body = []
    for r in rows:
        tds = []
        for h, c in zip(header(list(terms)), cells(r, list(terms)), strict=True):
            cls = "" if h in ("engine", "status", "checked") else "num"
            bad = " bad" if h == "checked" and r.checked is False else ""
            tds.append(f"<td class='{cls}{bad}'>{esc(c)}</td>")
        link = ""
        if r.plan_file:
            href = Path(os.path.relpath(Path(r.plan_file).resolve(), base)).as_posix()
            link = f"<a href='{esc(href)}'>plan</a>"
        body.append(f"<tr>{''.join(tds)}<td>{link}</td></tr>")
    notes = "".join(
        f"<li>{esc(r.label)}: {esc(r.status)}: {esc(r.message)}</li>"
        for r in rows
        if r.outcome not in ("ok", "infeasible") and r.message
    )
    if notes:
        notes = f"<ul>{notes}</ul>"
    figures = "".join(_chart(c) for c in charts) or (
        "<p class='muted'>No run recorded its progress.</p>"
    )
    kind = "scheduling" if problem.scheduling else "placement"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="taskalloc {esc(__version__)}">\n'
        f"<title>Compare: {esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>Compare: {esc(title)}</h1>\n"
        f'<p class="sub">{esc(kind)} problem · {len(problem.nodes):,} nodes · '
        f"{len(problem.tasks):,} tasks · objective {esc(problem.objective.describe())}</p>\n"
        "</header>\n"
        '<section id="table">\n<h2>Runs</h2>\n'
        f"<table><thead><tr>{head}<th></th></tr></thead><tbody>{''.join(body)}</tbody></table>\n"
        f"{notes}"
        "<p class='muted'>Every plan is recomputed and checked by the evaluator; bound and gap "
        "are those of the fitness (lower is better) at the end of each search.</p>\n"
        "</section>\n"
        f'<section id="charts">\n<h2>Convergence and objective</h2>\n{figures}\n</section>\n'
        f"<footer>taskalloc {esc(__version__)} · problem sha256 {esc(problem.sha256[:16])}… · "
        "charts drawn by matplotlib</footer>\n</body>\n</html>\n"
    )
