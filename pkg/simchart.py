"""The chart of an online replay (``taskalloc simulate``) in the HTML report: what the plan
records under ``metrics.simulation``, read by :func:`taskalloc.problems.views.simulation_view`.

* A scheduling replay: fleet utilisation over time, one step line per resource (load /
  capacity from each event on, as the replay recorded it), with the makespan marked.
* A placement replay: the allocation curve of the FGD paper, allocated % of the GPU against
  arrived % (the demand of every arrived task, dropped ones included), with the diagonal where
  every arrival is placed and the figure at arrived = 100 % marked.

Drawn as the other charts (:mod:`.charts`): its own figure, deterministic SVG, lines that differ
by dash and marker as well as colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import charts as ch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from taskalloc.problems.views import SimulationView

#: the chart's name (file name of --svg/--png, id in the HTML)
NAME = "simulation"


def simulation(view: SimulationView | None) -> ch.Chart | None:
    """The replay's chart, or None when the plan records no series to draw."""
    if view is None or not view.series:
        return None
    if view.kind == "scheduling":
        return _utilisation(view)
    return _curve(view)


def _utilisation(view: SimulationView) -> ch.Chart:
    time = view.series["time"]
    resources = [r for r in view.series if r != "time"]
    makespan = view.figures.get("makespan")

    def draw() -> Figure:
        fig = ch.new_figure(10.0, 3.2)
        ax = fig.add_subplot()
        end = max([*time, float(makespan or 0)]) or 1.0
        xs = [*time, end] if time[-1] < end else list(time)
        # after the makespan only services run, unchanged until the horizon: show a tenth of
        # the makespan of that tail rather than let it fill the chart
        right = end
        if makespan and end > makespan * 1.2:
            right = makespan * 1.1
            ax.annotate(
                f"services run on, unchanged, to {ch._fmt(end)} →",
                (right, 0.02),
                xytext=(-4, 0),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=8,
            )
        for i, r in enumerate(resources):
            colour, dash, marker = ch.SERIES[i % len(ch.SERIES)]
            ys = view.series[r]
            ys = [*ys, ys[-1]] if len(xs) > len(ys) else ys
            ax.step(
                xs,
                ys,
                where="post",
                color=colour,
                linestyle=dash,
                linewidth=1.4,
                label=r,
            )
            # one marker per resource at its peak, so that lines stay apart in greyscale
            k = max(range(len(ys)), key=lambda j: ys[j])
            ax.plot([xs[k]], [ys[k]], marker=marker, color=colour, linestyle="none", clip_on=False)
        if makespan:
            ax.axvline(float(makespan), color=ch.INK, linewidth=0.8, linestyle=":")
            ax.annotate(
                f"makespan {ch._fmt(float(makespan))}",
                (float(makespan), 1.0),
                xytext=(-4, -2),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=8,
            )
        ax.set_xlim(0, right)
        ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_formatter(ch._percent_formatter())
        ax.set_xlabel("time")
        ax.set_ylabel("fleet load / capacity")
        ax.grid(axis="y", color=ch.GRID, linewidth=0.6)
        ax.set_title(f"Online replay: fleet utilisation over time ({_who(view)})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return fig

    fig = ch._make(NAME, draw)
    assert fig is not None
    return ch.Chart(
        NAME,
        "Online replay: fleet utilisation over time",
        fig,
        "As taskalloc simulate recorded it: for each resource, the fleet's load over its "
        "capacity from each event (a release, a start, an end) to the next; the marker is the "
        "peak.",
    )


def _curve(view: SimulationView) -> ch.Chart:
    # the curve starts where nothing has arrived and nothing is allocated
    arrived = [0.0, *view.series["arrived_percent"]]
    allocated = [0.0, *view.series.get("allocated_percent", [])]
    gpu = view.resource or "GPU"
    at_100 = view.figures.get("allocated_at_arrived_100")

    def draw() -> Figure:
        fig = ch.new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        top = max([100.0, *arrived, *allocated])
        ax.plot([0, 100], [0, 100], color=ch.GRID, linewidth=1.0, label="every arrival placed")
        colour, dash, _ = ch.SERIES[0]
        ax.plot(arrived, allocated, color=colour, linestyle=dash, linewidth=1.4, label=view.policy)
        ax.axvline(100.0, color=ch.INK, linewidth=0.8, linestyle=":")
        if at_100 is not None:
            ax.plot([100.0], [float(at_100)], marker="o", color=ch.SERIES[1][0])
            ax.annotate(
                f"{float(at_100):.2f} % at arrived 100 %",
                (100.0, float(at_100)),
                xytext=(-6, 6),
                textcoords="offset points",
                ha="right",
                fontsize=8,
            )
        ax.set_xlim(0, top * 1.02)
        ax.set_ylim(0, max(100.0, max(allocated, default=0.0)) * 1.05)
        ax.set_xlabel(f"arrived {gpu} demand, % of the fleet's {gpu}")
        ax.set_ylabel(f"allocated {gpu}, % of the fleet's")
        ax.grid(color=ch.GRID, linewidth=0.6)
        ax.set_title(f"Online replay: allocation curve ({_who(view)})")
        ax.legend(loc="upper left", fontsize=8)
        return fig

    fig = ch._make(NAME, draw)
    assert fig is not None
    return ch.Chart(
        NAME,
        "Online replay: allocation curve",
        fig,
        f"As taskalloc simulate recorded it: the {gpu} allocated after each arrival against the "
        f"{gpu} demand arrived so far (dropped tasks included), in % of the fleet's {gpu}; the "
        "grey diagonal is where every arrival would be placed.",
    )


def _who(view: SimulationView) -> str:
    return view.policy + (f", queue {view.queue}" if view.queue else "")


def section(view: SimulationView, chart_html: str) -> str:
    """The HTML report's section of the replay: its figures as facts, then its chart."""
    from .html import _fact, esc

    f = view.figures
    names = {
        "scheduling": [
            ("placed", "tasks started"),
            ("missed_deadline", "missed deadline"),
            ("makespan", "makespan"),
            ("tardiness", "tardiness"),
            ("mean_wait", "mean wait"),
            ("p95_wait", "p95 wait"),
        ],
        "placement": [
            ("arrived", "tasks arrived"),
            ("placed", "tasks placed"),
            ("dropped", "tasks dropped"),
            ("allocated_at_arrived_100", "allocated at arrived 100 %"),
            ("allocated_percent", "allocated at the end"),
        ],
    }[view.kind]
    facts = []
    for key, label in names:
        x = f.get(key)
        if x is None:
            continue
        if key == "placed" and f.get("tasks") is not None:
            text = f"{ch._fmt(float(x))} / {ch._fmt(float(f['tasks'] or 0))}"
        elif key in ("allocated_at_arrived_100", "allocated_percent"):
            text = f"{float(x):.2f} %"
        elif key == "mean_wait":
            text = f"{float(x):.1f}"
        else:
            text = ch._fmt(float(x))
        bad = key in ("missed_deadline", "dropped") and bool(x)
        facts.append(_fact(label, text, bad=bad))
    intro = (
        f"<p>This plan is an online replay (<code>taskalloc simulate</code>): policy "
        f"<code>{esc(view.policy)}</code>"
        + (f", queue <code>{esc(view.queue)}</code>" if view.queue else "")
        + ". The figures below are the replay's own record (<code>metrics.simulation</code>); "
        "waits need the moments tasks became ready, which only the replay saw."
        + (" The replay was stopped early." if view.stopped else "")
        + "</p>"
    )
    body = chart_html or "<p class='muted'>The plan records no series to draw.</p>"
    gap = ""
    if view.against is not None:
        name, solver, terms = view.against
        rows = "".join(
            f"<tr><td>{esc(t)}</td><td class='num'>{esc(ch._fmt(a))}</td>"
            f"<td class='num'>{esc(ch._fmt(b))}</td>"
            f"<td class='num'>{esc(f'{(a - b) / b * 100:+.1f} %' if b else '–')}</td></tr>"
            for t, (a, b) in terms.items()
        )
        gap = (
            f"<h3>Against {esc(name)} (solver {esc(solver)})</h3>\n"
            "<table><thead><tr><th>term</th><th class='num'>online</th>"
            "<th class='num'>plan</th><th class='num'>gap</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>\n"
        )
    return f'{intro}\n<div class="facts">{"".join(facts)}</div>\n{gap}{body}'
