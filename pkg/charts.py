"""The report's charts, drawn by matplotlib as SVG (inline in the HTML report) or PNG.

Why matplotlib: it is the well-kept plotting library our users already have (the ``[plot]``
extra), it writes static SVG that needs no JavaScript, no fonts and no network (so the HTML
report opens from a file:// URL and on an air-gapped cluster, and prints), its SVG can link
every point of a Pareto front to its plan file, and it can be made byte-for-byte deterministic.
The alternatives each miss one of these: Vega-Lite and Plotly embed megabytes of JavaScript
(and need it to draw anything), Bokeh writes JavaScript too, and hand-written SVG would be our
own plotting library to maintain.

Determinism: every chart is drawn on its own :class:`~matplotlib.figure.Figure` (no pyplot, no
global state) inside ``rc_context`` with ``svg.hashsalt`` and ``svg.id`` set from the chart's
name, and saved without a date; the same plan gives the same bytes.

Greyscale: sequential maps are ``cividis`` (lightness rises monotonically, so they read in
greyscale and for colour-blind readers) with the value written in the cell wherever it fits;
lines differ by dash and marker as well as colour; categories of bars by hatch.

Import: matplotlib is imported inside :func:`new_figure` only, so that ``taskalloc --help``
stays fast; without it :class:`PlotUnavailable` names the extra to install.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from taskalloc.problems.problem import Problem
    from taskalloc.problems.views import LoadOverTime, NodeView, Placement, PoolView

CMAP = "cividis"
#: rows of a chart drawn one per node at most; more nodes are shown by pool
MAX_ROWS = 100
#: lanes (rows) of a Gantt chart at most
MAX_GANTT_LANES = 80
#: dependencies drawn as arrows at most (more are drawn as thin lines)
MAX_ARROWS = 150

INK = "#1a1a1a"
GRID = "#d9d9d9"
#: line styles that stay apart in greyscale: (colour, dash, marker)
SERIES = [
    ("#1f4e79", "-", "o"),
    ("#b35806", "--", "s"),
    ("#2d6a4f", "-.", "^"),
    ("#6a3d9a", ":", "D"),
    ("#7f2704", (0, (5, 1, 1, 1)), "v"),
    ("#4d4d4d", (0, (1, 1)), "P"),
]
HATCHES = ["///", "\\\\\\", "xxx", "...", "ooo", "+++", "---", "|||"]

PLOT_MISSING = (
    "charts need matplotlib, which is not installed: pip install 'taskalloc[plot]' "
    "(from a checkout: pip install -c constraints.txt '.[plot]')"
)


class PlotUnavailable(Exception):
    """matplotlib is not installed (the ``[plot]`` extra)."""


@dataclass
class Chart:
    """One chart: a stable ``name`` (file name of --svg/--png), a title, a caption for people,
    and the figure."""

    name: str
    title: str
    figure: Figure
    caption: str = ""
    links: list[str] = field(default_factory=list)  # hrefs the chart links to

    def svg(self) -> str:
        return to_svg(self.figure, self.name)

    def png(self) -> bytes:
        return to_png(self.figure, self.name)


# -- figures ---------------------------------------------------------------------------------


def _rc(name: str) -> Any:
    return {
        "svg.hashsalt": f"taskalloc-{name}",
        "svg.id": f"chart-{name}",
        "svg.fonttype": "none",
        "svg.image_inline": True,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.edgecolor": "#555555",
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "hatch.linewidth": 0.6,
        "legend.frameon": False,
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "path.simplify": True,
    }


@contextmanager
def style(name: str) -> Iterator[None]:
    import matplotlib as mpl

    with mpl.rc_context(_rc(name)):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches, not attached to pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(PLOT_MISSING) from None
    return Figure(figsize=(width, height), layout="constrained")


def require() -> None:
    """Raise PlotUnavailable now (before any work) when matplotlib is missing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailable(PLOT_MISSING)


def to_svg(fig: Figure, name: str) -> str:
    buf = io.StringIO()
    with style(name):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    # the XML prolog and DOCTYPE are for stand-alone files; inline SVG starts at <svg, and the
    # RDF metadata block (creator and format) says nothing to a reader of the page
    start = text.find("<svg")
    text = text[start:] if start > 0 else text
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    return _own_ids(text, name)


def _own_ids(svg: str, name: str) -> str:
    """Prefix every id of an SVG (and every reference to one) with the chart's name, so that
    several charts inline in one page never share an id (matplotlib numbers its groups
    ``figure_1``, ``axes_1``, ... in every figure)."""
    root = f"chart-{name}"
    ids = {i for i in re.findall(r'\bid="([^"]+)"', svg) if i != root}
    if not ids:
        return svg

    def fix(m: re.Match[str]) -> str:
        prefix, ident, suffix = m.group(1), m.group(2), m.group(3)
        return f"{prefix}{name}-{ident}{suffix}" if ident in ids else m.group(0)

    svg = re.sub(r'(\bid=")([^"]+)(")', fix, svg)
    svg = re.sub(r"(url\(#)([^)]+)(\))", fix, svg)
    return re.sub(r'(href="#)([^"]+)(")', fix, svg)


def to_png(fig: Figure, name: str) -> bytes:
    buf = io.BytesIO()
    with style(name):
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def svg_file(fig: Figure, name: str) -> str:
    """A stand-alone SVG file (with the XML prolog)."""
    buf = io.StringIO()
    with style(name):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _make(name: str, draw: Callable[[], Figure | None]) -> Figure | None:
    """Draw inside the chart's style context (fonts and sizes apply while drawing)."""
    with style(name):
        return draw()


# -- helpers ---------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _text_colour(value: float, vmin: float = 0.0, vmax: float = 1.0) -> str:
    """Black on the light end of cividis, white on the dark end."""
    t = (value - vmin) / (vmax - vmin) if vmax > vmin else 0.0
    return INK if t > 0.45 else "white"


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _heatmap(
    ax: Axes,
    values: Sequence[Sequence[float]],
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    annotate: bool,
    missing: Sequence[Sequence[bool]] | None = None,
    vmax: float = 1.0,
) -> Any:
    import numpy as np

    data = np.array(values, dtype=float).reshape(len(rows), len(cols))
    hole = (
        np.array(missing, dtype=bool).reshape(data.shape)
        if missing is not None
        else np.zeros(data.shape, dtype=bool)
    )
    masked = np.ma.masked_array(data, mask=hole)
    im = ax.imshow(
        masked,
        cmap=CMAP,
        vmin=0.0,
        vmax=vmax,
        aspect="auto",
        interpolation="none",
    )
    ax.set_facecolor("white")
    ax.set_xticks(range(len(cols)), [_short(c, 16) for c in cols])
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    if len(rows) <= MAX_ROWS:
        ax.set_yticks(range(len(rows)), [_short(r) for r in rows])
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate:
        fs = 8 if len(rows) <= 40 else 6
        for i in range(len(rows)):
            for j in range(len(cols)):
                if hole[i, j]:
                    ax.text(j, i, "–", ha="center", va="center", fontsize=fs, color="#999999")
                    continue
                v = data[i, j]
                ax.text(
                    j,
                    i,
                    f"{v * 100:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=fs,
                    color=_text_colour(v, 0, vmax),
                )
    return im


def _colorbar(fig: Figure, im: Any, ax: Any, label: str) -> None:
    cb = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02, aspect=30)
    cb.set_label(label)
    cb.ax.yaxis.set_major_formatter(_percent_formatter())
    cb.outline.set_visible(False)


def _percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v * 100:.0f}%")


# -- utilisation -----------------------------------------------------------------------------


def utilisation(
    problem: Problem, nodes: Sequence[NodeView], pools: Sequence[PoolView]
) -> Chart | None:
    """Nodes x resources (peak utilisation); by pool above MAX_ROWS nodes; a histogram of the
    nodes' utilisation when even the pools are too many."""
    resources = list(problem.resources)
    if not resources:
        return None
    if len(nodes) <= MAX_ROWS:
        rows = [nv.id for nv in nodes]
        values = [[nv.utilisation.get(r, 0.0) for r in resources] for nv in nodes]
        missing = [[r not in nv.capacity for r in resources] for nv in nodes]
        what = "node"
        caption = (
            "Utilisation of each node and resource (load / capacity"
            + (", at the busiest instant" if problem.scheduling else "")
            + "); – where the node has none of that resource."
        )
    elif len(pools) <= MAX_ROWS:
        rows = [f"{pv.id} ({len(pv.nodes)})" for pv in pools]
        values = [[pv.utilisation.get(r, 0.0) for r in resources] for pv in pools]
        missing = [[r not in pv.capacity for r in resources] for pv in pools]
        what = "pool"
        caption = (
            f"{len(nodes):,} nodes in {len(pools)} pools: utilisation of each pool (sum of its "
            "nodes' loads / sum of their capacities"
            + (", each node at its busiest instant" if problem.scheduling else "")
            + "). Open a pool below for its nodes."
        )
    else:
        return utilisation_histogram(problem, nodes, "utilisation")

    def draw() -> Figure:
        height = min(0.6 + 0.19 * len(rows), 22.0)
        fig = new_figure(min(3.0 + 1.1 * len(resources), 9.0), max(height, 1.8))
        ax = fig.add_subplot()
        im = _heatmap(ax, values, rows, resources, annotate=True, missing=missing)
        ax.set_title(f"Utilisation by {what}")
        _colorbar(fig, im, ax, "utilisation")
        return fig

    fig = _make("utilisation", draw)
    assert fig is not None
    return Chart("utilisation", f"Utilisation by {what}", fig, caption)


def utilisation_histogram(
    problem: Problem, nodes: Sequence[NodeView], name: str = "utilisation-nodes"
) -> Chart:
    """How many nodes run at each utilisation, per resource (deciles)."""
    import numpy as np

    resources = list(problem.resources)

    def draw() -> Figure:
        fig = new_figure(9.0, 1.2 + 1.3 * len(resources))
        axes = fig.subplots(len(resources), 1, sharex=True, squeeze=False)[:, 0]
        edges = np.linspace(0, 1, 11)
        for ax, r in zip(axes, resources, strict=True):
            us = [min(nv.utilisation[r], 1.0) for nv in nodes if r in nv.capacity]
            counts, _ = np.histogram(us, bins=edges)
            colours = [_cmap_colour(x) for x in (edges[:-1] + 0.05)]
            bars = ax.bar(edges[:-1] + 0.05, counts, width=0.095, color=colours, edgecolor=INK)
            ax.bar_label(bars, [f"{c:,}" if c else "" for c in counts], fontsize=7, padding=1)
            ax.set_ylabel(f"{r}\nnodes")
            ax.margins(y=0.25)
        axes[-1].set_xticks(edges, [f"{e * 100:.0f}%" for e in edges])
        axes[-1].set_xlabel("utilisation (load / capacity)")
        axes[0].set_title(f"Nodes by utilisation ({len(nodes):,} nodes)")
        return fig

    fig = _make(name, draw)
    assert fig is not None
    return Chart(
        name,
        "Nodes by utilisation",
        fig,
        "Number of nodes at each utilisation, per resource; open a pool below for its nodes.",
    )


def _cmap_colour(x: float) -> Any:
    import matplotlib as mpl

    return mpl.colormaps[CMAP](x)


def devices(nodes: Sequence[NodeView], pools: Sequence[PoolView]) -> Chart | None:
    """Per device load (nodes x devices of each split resource), or per pool how many devices
    are full, partly used and free."""
    with_devices = [nv for nv in nodes if nv.devices]
    if not with_devices:
        return None
    resources = sorted({r for nv in with_devices for r in nv.devices})
    if len(with_devices) <= MAX_ROWS:

        def draw() -> Figure:
            width = sum(
                max(dl.count for nv in with_devices if (dl := nv.devices.get(r))) for r in resources
            )
            fig = new_figure(
                min(2.5 + 0.55 * width + 1.2 * len(resources), 11.0),
                max(1.8, 0.7 + 0.2 * len(with_devices)),
            )
            axes = fig.subplots(1, len(resources), squeeze=False)[0]
            im = None
            for ax, r in zip(axes, resources, strict=True):
                k = max(dl.count for nv in with_devices if (dl := nv.devices.get(r)))
                values = []
                missing = []
                for nv in with_devices:
                    dl = nv.devices.get(r)
                    us = dl.utilisation if dl is not None else []
                    values.append([us[i] if i < len(us) else 0.0 for i in range(k)])
                    missing.append([i >= len(us) for i in range(k)])
                im = _heatmap(
                    ax,
                    values,
                    [nv.id for nv in with_devices],
                    [f"{r}{i}" for i in range(k)],
                    annotate=True,
                    missing=missing,
                )
                ax.set_title(f"{r} devices")
            _colorbar(fig, im, list(axes), "device utilisation")
            return fig

        fig = _make("devices", draw)
        assert fig is not None
        return Chart(
            "devices",
            "Utilisation by device",
            fig,
            "Load on each device / the device's size, where a node splits a resource into "
            "devices; a partly used device strands what is left of it for larger requests.",
        )

    pooled = [pv for pv in pools if pv.devices]

    def draw_pools() -> Figure:
        fig = new_figure(9.0, 0.9 + 0.28 * len(pooled) * len(resources))
        ax = fig.add_subplot()
        labels = []
        full, part, free = [], [], []
        for pv in pooled:
            for r in resources:
                f, p, x = pv.devices.get(r, (0, 0, 0))
                labels.append(f"{pv.id} {r}" if len(resources) > 1 else pv.id)
                full.append(f)
                part.append(p)
                free.append(x)
        y = list(range(len(labels)))
        left = [0.0] * len(y)
        for vals, name, colour, hatch in (
            (full, "full", _cmap_colour(0.95), ""),
            (part, "partly used", _cmap_colour(0.55), "///"),
            (free, "free", "white", ""),
        ):
            ax.barh(y, vals, left=left, color=colour, edgecolor=INK, hatch=hatch, label=name)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel("devices")
        ax.legend(loc="lower right", ncols=3)
        ax.set_title("Devices by pool: full, partly used, free")
        return fig

    fig = _make("devices", draw_pools)
    assert fig is not None
    return Chart(
        "devices",
        "Devices by pool",
        fig,
        "Devices of each pool that are full, partly used (what is left of them is stranded for "
        "larger requests) and free.",
    )


# -- schedules -------------------------------------------------------------------------------


def gantt(problem: Problem, rows: Sequence[Placement]) -> Chart | None:
    """Rows = nodes (one lane per set of overlapping replicas), bars = replicas; dependencies
    as arrows, deadlines and due dates as ticks, gangs hatched, late parts marked."""
    from taskalloc.problems.views import lanes
    from taskalloc.problems.views import span as end_of

    span = end_of(rows)
    if not rows or span <= 0:
        return None
    by_node: dict[str, list[Placement]] = {}
    for pl in rows:
        by_node.setdefault(pl.node, []).append(pl)
    lane_of = {node: lanes(reps) for node, reps in by_node.items()}
    total = sum(max(v) + 1 for v in lane_of.values())
    shown = list(by_node)
    note = ""
    if total > MAX_GANTT_LANES:
        # the nodes that finish last decide the makespan: show those
        last = sorted(by_node, key=lambda n: (-max(p.end or 0 for p in by_node[n]), n))
        keep: list[str] = []
        count = 0
        for n in last:
            need = max(lane_of[n]) + 1
            if count + need > MAX_GANTT_LANES and keep:
                break
            keep.append(n)
            count += need
        order = {n: i for i, n in enumerate(by_node)}
        shown = sorted(keep, key=order.__getitem__)
        note = (
            f" Showing {len(shown)} of {len(by_node):,} busy nodes (those that finish last); "
            "every replica is in `taskalloc report --view schedule`."
        )
    tasks = {t.id: t for t in problem.tasks}
    gangs = sorted({t.gang for t in problem.tasks if t.gang is not None})
    gang_hatch = {g: HATCHES[i % len(HATCHES)] for i, g in enumerate(gangs)}
    from taskalloc.problems.replan import replan_note

    replanned = replan_note(problem)
    now = replanned.now if replanned is not None else None  # the instant replan was made at

    def draw() -> Figure:
        from matplotlib.collections import LineCollection
        from matplotlib.patches import Patch

        nlanes = sum(max(lane_of[n]) + 1 for n in shown)
        fig = new_figure(10.0, min(1.4 + 0.26 * nlanes, 24.0))
        ax = fig.add_subplot()
        y0 = 0
        ypos: dict[tuple[str, int], float] = {}
        ticks, labels = [], []
        for i, node in enumerate(shown):
            reps = by_node[node]
            n_l = max(lane_of[node]) + 1
            if i % 2 == 0:
                ax.axhspan(y0 - 0.5, y0 + n_l - 0.5, color="#f2f2f2", zorder=0, lw=0)
            ticks.append(y0 + (n_l - 1) / 2)
            labels.append(_short(node, 20))
            for pl, lane in zip(reps, lane_of[node], strict=True):
                ypos[(pl.task, pl.replica)] = y0 + lane
            y0 += n_l
        # deadlines and due dates a little past the makespan widen the axis; later ones are
        # written at the right edge
        right = time_extent(problem, rows)
        beyond: list[tuple[float, str, int]] = []
        px_per_unit = 8.0 * 72 / right  # about 8 inches of axis
        face = _cmap_colour(0.8)
        for node in shown:
            for pl in by_node[node]:
                y = ypos[(pl.task, pl.replica)]
                s, e = pl.start or 0, pl.end or 0
                t = tasks.get(pl.task)
                gang = t.gang if t is not None else None
                ax.barh(
                    y,
                    max(e - s, span / 400),
                    left=s,
                    height=0.72,
                    color=face if gang is None else "white",
                    edgecolor=INK,
                    linewidth=1.2 if gang is not None else 0.6,
                    hatch=gang_hatch.get(gang, "") if gang is not None else "",
                    zorder=2,
                )
                if t is not None and t.due is not None and e > t.due:
                    late_from = max(s, t.due)
                    ax.barh(
                        y,
                        e - late_from,
                        left=late_from,
                        height=0.72,
                        color="none",
                        edgecolor="#b30000",
                        hatch="xx",
                        linewidth=0,
                        zorder=3,
                    )
                width_px = (e - s) * px_per_unit
                label = pl.label
                if width_px > 6 * 4:
                    chars = int(width_px / 5.2)
                    ax.text(
                        s + span / 300,
                        y,
                        _short(label, max(3, chars)),
                        va="center",
                        ha="left",
                        fontsize=7,
                        color=INK,
                        zorder=4,
                        clip_on=True,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.8}
                        if gang is not None
                        else None,
                    )
                if t is not None and t.deadline is not None and t.deadline > right:
                    beyond.append((y, "deadline", t.deadline))
                elif t is not None and t.deadline is not None:
                    ax.plot(
                        [t.deadline, t.deadline], [y - 0.45, y + 0.45], color=INK, lw=1.6, zorder=5
                    )
                    ax.plot([t.deadline], [y - 0.45], marker="v", color=INK, ms=4, zorder=5)
                if t is not None and t.due is not None and t.due > right:
                    if t.deadline is None or t.deadline <= right:
                        beyond.append((y, "due", t.due))
                elif t is not None and t.due is not None:
                    ax.plot([t.due, t.due], [y - 0.45, y + 0.45], color=INK, lw=1, ls=":", zorder=5)
        # dependencies: from the end of each predecessor replica to the start of the successor
        segs = []
        end_of = {(p.task, p.replica): p.end for p in rows}
        for node in shown:
            for pl in by_node[node]:
                t = tasks.get(pl.task)
                if t is None:
                    continue
                for q in t.after:
                    pred = problem.tasks[q]
                    for r in range(pred.replicas):
                        src = ypos.get((pred.id, r))
                        if src is None:
                            continue
                        end = end_of.get((pred.id, r))
                        if end is None:
                            continue
                        segs.append(((end, src), (pl.start or 0, ypos[(pl.task, pl.replica)])))
        if len(segs) <= MAX_ARROWS:
            for (x1, y1), (x2, y2) in segs:
                ax.annotate(
                    "",
                    xy=(x2, y2),
                    xytext=(x1, y1),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": "#555555",
                        "alpha": 0.7,
                        "lw": 0.7,
                        "shrinkA": 0,
                        "shrinkB": 2,
                        "connectionstyle": "arc3,rad=0.0",
                        "mutation_scale": 7,
                    },
                    zorder=1.5,
                )
        else:
            ax.add_collection(LineCollection(segs, colors="#777777", linewidths=0.3, zorder=1.5))
        ax.set_yticks(ticks, labels)
        ax.set_ylim(y0 - 0.5, -0.5)
        ax.set_xlim(0, right)
        first: dict[float, tuple[str, int]] = {}
        for y, what, when in beyond:  # one note per row: the earliest
            if y not in first or when < first[y][1]:
                first[y] = (what, when)
        for y, (what, when) in first.items():
            ax.annotate(
                f"{what} {when} →",
                (right, y),
                xytext=(-2, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=6.5,
                color=INK,
                zorder=6,
            )
        if now is not None:
            ax.axvline(now, color="#b35806", ls="--", lw=1.2, zorder=5)
            ax.annotate(
                f"now {now}",
                (now, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),  # above the axes: never over a bar's label
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color="#b35806",
            )
        ax.set_xlabel("time")
        ax.grid(axis="x", color=GRID, lw=0.5, zorder=0)
        ax.set_title("Schedule")
        handles: list[Any] = [Patch(facecolor=face, edgecolor=INK, label="replica")]
        for g in gangs[:8]:
            handles.append(
                Patch(facecolor="white", edgecolor=INK, hatch=gang_hatch[g], label=f"gang {g}")
            )
        from matplotlib.lines import Line2D

        if any(t.deadline is not None for t in problem.tasks):
            handles.append(Line2D([], [], color=INK, lw=1.6, marker="v", ms=4, label="deadline"))
        if any(t.due is not None for t in problem.tasks):
            handles.append(Line2D([], [], color=INK, lw=1, ls=":", label="due"))
            handles.append(Patch(facecolor="none", edgecolor="#b30000", hatch="xx", label="late"))
        if segs:
            handles.append(Line2D([], [], color="#555555", lw=0.7, marker=">", ms=3, label="after"))
        if now is not None:
            handles.append(Line2D([], [], color="#b35806", lw=1.2, ls="--", label="replanned"))
        fig.legend(
            handles=handles, loc="outside lower left", ncols=min(len(handles), 6), fontsize=8
        )
        return fig

    fig = _make("gantt", draw)
    assert fig is not None
    return Chart(
        "gantt",
        "Schedule",
        fig,
        "Each bar is a replica on its node (a node takes several rows where its replicas "
        "overlap in time); arrows are `after` dependencies, ▼ lines deadlines, dotted lines "
        "due dates, cross-hatched parts the time past a due date, hatched bars gang members."
        + (
            f" The dashed line is the instant of the replan (now {now}): what ended before "
            "it stayed, work on a failed node restarted after it."
            if now is not None
            else ""
        )
        + note,
    )


def time_extent(problem: Problem, rows: Sequence[Placement]) -> float:
    """The right end of a schedule's time axis: the latest end of a replica (a service's: the
    horizon), widened to show deadlines and due dates up to a quarter past it (later ones are
    written at the edge)."""
    from taskalloc.problems.views import span as end_of

    span = end_of(rows)
    tasks = {t.id: t for t in problem.tasks}
    marks = [
        m
        for pl in rows
        if (t := tasks.get(pl.task)) is not None
        for m in (t.deadline, t.due)
        if m is not None and m <= span * 1.25
    ]
    return max([span * 1.01, *(m * 1.01 for m in marks)])


def load_over_time(lot: LoadOverTime, what: str, right: float | None = None) -> Chart | None:
    """Rows (nodes or pools) x time bins: utilisation of the busiest resource in each bin."""
    if not lot.rows:
        return None
    values = lot.dominant()

    def draw() -> Figure:
        import numpy as np

        fig = new_figure(10.0, min(max(1.8, 0.8 + 0.17 * len(lot.rows)), 20.0))
        ax = fig.add_subplot()
        data = np.array(values, dtype=float)
        im = ax.imshow(
            data,
            cmap=CMAP,
            vmin=0.0,
            vmax=1.0,
            aspect="auto",
            interpolation="none",
            extent=(lot.edges[0], lot.edges[-1], len(lot.rows) - 0.5, -0.5),
        )
        if len(lot.rows) <= MAX_ROWS:
            ax.set_yticks(range(len(lot.rows)), [_short(r, 20) for r in lot.rows])
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(lot.edges[0], right if right is not None else lot.edges[-1])
        ax.set_xlabel("time")
        ax.set_title(f"Load over time by {what}")
        _colorbar(fig, im, ax, "busiest resource")
        return fig

    fig = _make("load", draw)
    assert fig is not None
    return Chart(
        "load",
        f"Load over time by {what}",
        fig,
        f"For each {what} and stretch of time, the utilisation of its busiest resource "
        "(mean over the stretch).",
    )


# -- convergence -----------------------------------------------------------------------------


@dataclass
class Run:
    """One solver run's progress: (seconds, incumbent, bound or None) and, for a GA, the
    per-generation rows (generation, best, mean, ...)."""

    label: str
    trajectory: Sequence[tuple[float, float, float | None]]
    generations: Sequence[Mapping[str, Any]] | None = None
    seconds: float | None = None
    #: what each point's value measures, where the plan says (``solver.trajectory``'s fourth
    #: element): an objective term (the stage of a lexicographic objective), ``weighted``,
    #: ``fitness``
    stages: Sequence[str | None] = ()

    def segments(self) -> list[tuple[str | None, list[tuple[float, float, float | None]]]]:
        """The trajectory cut where its stage changes: (stage, its points) in order. A point
        without a stage belongs to the stage before it (the first stage, before any; no stage
        at all: one segment, None)."""
        out: list[tuple[str | None, list[tuple[float, float, float | None]]]] = []
        labels = (list(self.stages) + [None] * len(self.trajectory))[: len(self.trajectory)]
        known = [x for x in labels if x is not None]
        current = known[0] if known else None
        for point, stage in zip(self.trajectory, labels, strict=True):
            current = stage if stage is not None else current
            if not out or current != out[-1][0]:
                out.append((current, []))
            out[-1][1].append(point)
        return out


#: how the y axis names what a stage's value measures
_MEASURES = {"weighted": "weighted objective", "fitness": "fitness"}


def _log_scale(values: Sequence[float]) -> bool:
    pos = [v for v in values if v is not None and math.isfinite(v)]
    return bool(pos) and min(pos) > 0 and max(pos) / min(pos) > 100


def convergence(
    runs: Sequence[Run], title: str = "Convergence", stages: Sequence[str] = ()
) -> Chart | None:
    """Incumbent and bound over time (all runs on one time axis, from 0) and, for GA runs, best
    and mean fitness per generation. ``stages``: the terms of a lexicographic objective, which
    the exact engines solve one at a time (their trajectory holds each stage's own term), so
    the caption says why a line may step up."""
    with_traj = [r for r in runs if r.trajectory]
    with_gen = [r for r in runs if r.generations]
    if not with_traj and not with_gen:
        return None

    labelled = [r for r in with_traj if any(r.stages)]
    measures = {st for r in labelled for st, _ in r.segments()}
    stages_drawn: list[tuple[float, str, str]] = []  # where a stage begins, its name, colour
    linthresh = _log_time(with_traj)

    def draw() -> Figure:
        panels = (1 if with_traj else 0) + (1 if with_gen else 0)
        fig = new_figure(9.0, 3.0 * panels)
        axes = list(fig.subplots(panels, 1, squeeze=False)[:, 0])
        if with_traj:
            ax = axes.pop(0)
            everything = []
            for i, run in enumerate(runs):  # a run's colour is its place among all the runs
                if not run.trajectory:
                    continue
                colour, dash, marker = SERIES[i % len(SERIES)]
                end = _end(run)
                parts = run.segments()
                for j, (stage, points) in enumerate(parts):
                    # a stage is drawn to the start of the next: the step to the next term's
                    # value is no worse plan, so no line joins them; a dotted line names it
                    stop = parts[j + 1][1][0][0] if j + 1 < len(parts) else end
                    name = (run.label + " ") if len(with_traj) > 1 else ""
                    everything += _draw_stage(ax, points, stop, (colour, dash, marker), name)
                    if len(parts) > 1:
                        ax.axvline(points[0][0], color=colour, ls=":", lw=0.9, alpha=0.8)
                        # the stage's name and where it ended: stages that begin at once
                        # (a proven first term) stay told apart
                        named = f"{stage or '?'}: {_fmt(points[-1][1])}"
                        stages_drawn.append((points[0][0], named, colour))
            if _log_scale(everything):
                ax.set_yscale("log")
            ax.set_xlim(left=0.0)  # time since the run started, not a zoom on its last moments
            if linthresh is not None:
                from matplotlib.ticker import FuncFormatter

                ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
                ax.set_xlim(left=0.0)
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            ax.set_xlabel("seconds" if linthresh is None else "seconds (logarithmic)")
            if len(measures) == 1 and labelled and len(labelled) == len(with_traj):
                (only,) = measures
                what = _MEASURES.get(str(only), str(only))
                ax.set_ylabel(f"{what} (lower is better)")
            elif stages_drawn and all(_measure(r) == "stages" for r in with_traj):
                ax.set_ylabel("the stage's term (lower is better)")
            else:  # runs of different measures (the caption says which is which)
                ax.set_ylabel("objective (lower is better)")
            right = ax.get_xlim()[1]
            for k, (x, name, colour) in enumerate(stages_drawn):
                late = x > 0.7 * right  # its name to the left of its line, inside the chart
                ax.annotate(  # one line lower each: stages that begin at once stay legible
                    name,
                    (x, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(-3 if late else 3, -3 - 11 * k),
                    ha="right" if late else "left",
                    textcoords="offset points",
                    va="top",
                    fontsize=8,
                    color=colour,
                )
            ax.grid(color=GRID, lw=0.5)
            handles, names = ax.get_legend_handles_labels()
            once = dict(zip(names, handles, strict=True))  # a run's stages share their entries
            ax.legend(
                list(once.values()), list(once), fontsize=8, ncols=2 if len(with_traj) > 2 else 1
            )
            ax.set_title(title)
        if with_gen:
            ax = axes.pop(0)
            everything = []
            for i, run in enumerate(runs):
                if not run.generations:
                    continue
                colour, _, marker = SERIES[i % len(SERIES)]
                gens = run.generations or []
                rows = [g for g in gens if g.get("best") is not None]
                xs = [g.get("generation", j) for j, g in enumerate(rows)]
                best = [float(g["best"]) for g in rows]
                mean = [float(g["mean"]) if g.get("mean") is not None else math.nan for g in rows]
                prefix = f"{run.label} " if len(with_gen) > 1 else ""
                ax.plot(xs, best, color=colour, lw=1.6, label=f"{prefix}best")
                ax.plot(xs, mean, color=colour, lw=1.0, ls=":", label=f"{prefix}mean")
                if len(xs) <= 60:
                    ax.plot(xs, best, ls="none", marker=marker, color=colour, ms=3)
                everything += best + [m for m in mean if math.isfinite(m)]
            if _log_scale(everything):
                ax.set_yscale("log")
            ax.set_xlabel("generation")
            ax.set_ylabel("fitness of feasible individuals")
            ax.grid(color=GRID, lw=0.5)
            ax.legend(fontsize=8)
            ax.set_title("Genetic algorithm: best and mean fitness per generation")
        return fig

    fig = _make("convergence", draw)
    assert fig is not None
    bounded = any(b is not None for r in with_traj for _, _, b in r.trajectory)
    caption = (
        "The incumbent (the best plan's objective so far: thick line, filled markers) and the "
        "proven bound (thin line, open markers) over time: where they meet, the plan is proven "
        "optimal."
        if bounded
        else "The incumbent (the best plan's objective so far) over time (no bound: "
        + ("this engine proves none)." if len(with_traj) == 1 else "these engines prove none).")
        if with_traj
        else ""
    )
    caption += _stages_caption(with_traj, stages, bool(stages_drawn))
    if linthresh is not None:
        ends = [_end(r) for r in with_traj]
        caption += (
            f" The runs took from {min(ends):.2g} s to {max(ends):.2g} s, so the time axis is "
            f"logarithmic beyond {linthresh:g} s (linear below it, from 0)."
        )
    if with_gen:
        caption += " Per generation: the fitness of the best and the mean feasible individual."
    return Chart("convergence", title, fig, caption.strip())


def _end(run: Run) -> float:
    """When a run's line ends: its last point, or the run's seconds when it went on after."""
    last = run.trajectory[-1][0]
    return max(last, run.seconds or last)


#: the runs of one chart end further apart than this: one linear axis would crush the short
#: ones against 0 (a proof in 0.07 s beside a 5 s GA), so time is drawn on a logarithmic axis
LOG_TIME_SPREAD = 20.0


def _log_time(runs: Sequence[Run]) -> float | None:
    """Where a logarithmic time axis begins (linear from 0 to there: symlog's threshold, a
    power of ten at or below the shortest run's end), or None for a linear axis: one run, or
    runs that end within :data:`LOG_TIME_SPREAD` of each other."""
    ends = [_end(r) for r in runs]
    if len(ends) < 2 or max(ends) <= 0:
        return None
    shortest = max(min(ends), 1e-3)
    if max(ends) / shortest < LOG_TIME_SPREAD:
        return None
    return float(10 ** math.floor(math.log10(shortest)))


def _measure(run: Run) -> str | None:
    """What a run's line measures: ``stages`` (several terms, one stage after another), the
    one term or scalar it recorded (``cost``, ``fitness``, ``weighted``), or None (unknown:
    a plan without the trajectory's fourth element)."""
    parts = run.segments()
    if len(parts) > 1:
        return "stages"
    return parts[0][0] if parts else None


def _stages_caption(runs: Sequence[Run], stages: Sequence[str], drawn: bool) -> str:
    """What the lines measure, for the caption: which runs solved a lexicographic objective
    one term at a time (each stage drawn apart) and what the others plot."""
    if not runs:
        return ""
    lexi = f"The objective is lexicographic ({', '.join(stages)})"
    known = {r.label: _measure(r) for r in runs}
    if all(m is None for m in known.values()):  # plans of before: no fourth element
        if len(stages) < 2:
            return ""
        return (
            f" {lexi}: cpsat and mip solve one term at a time and plot the term of the stage "
            "under way, so a step up is the next term beginning, not a worse plan; the other "
            "engines plot the scalar fitness."
        )
    by: dict[str, list[str]] = {}
    for label, m in known.items():
        by.setdefault(m or "an unrecorded measure", []).append(label)
    one = len(runs) == 1
    said = []
    if "stages" in by:
        who = "the run" if one else " and ".join(by.pop("stages"))
        said.append(
            f"{who} solved one term at a time: each stage is drawn on its own from the dotted "
            "line that names its term and where it ended (the next stage's higher value is "
            "another term, not a worse plan)"
        )
    for m, labels in by.items():
        who = "the run" if one else " and ".join(labels)
        what = {"fitness": "the scalar fitness", "weighted": "the weighted objective"}.get(
            m, f"the term {m}" if m in stages else m
        )
        its = "its" if one or len(labels) == 1 else "their"
        said.append(f"{who} recorded {its} progress in {what}" + (" alone" if m in stages else ""))
    head = f" {lexi}; " if len(stages) > 1 else " "
    if not drawn and len(stages) < 2 and one:
        return ""  # one term, one run: the axis says what it measures
    text = "; ".join(said)
    return head + text[0].upper() + text[1:] + "." if head == " " else head + text + "."


def _draw_stage(
    ax: Any,
    points: Sequence[tuple[float, float, float | None]],
    end: float,
    look: tuple[str, Any, str],
    name: str,
) -> list[float]:
    """One stage's incumbent and bound as steps until ``end`` (``look``: colour, dash,
    marker; ``name``: the run's, before the legend's words); the values drawn."""
    colour, dash, marker = look
    xs = [t for t, _, _ in points]
    inc = [o for _, o, _ in points]
    ax.step(
        [*xs, end],
        [*inc, inc[-1]],
        where="post",
        color=colour,
        ls=dash,
        lw=1.6,
        label=f"{name}incumbent",
    )
    ax.plot(xs, inc, ls="none", marker=marker, color=colour, ms=4)
    drawn = list(inc)
    bounds = [(t, b) for t, _, b in points if b is not None]
    if bounds:
        bx = [t for t, _ in bounds]
        by = [b for _, b in bounds]
        ax.step(
            [*bx, end],
            [*by, by[-1]],
            where="post",
            color=colour,
            ls=dash,
            lw=0.9,
            alpha=0.75,
            label=f"{name}bound",
        )
        ax.plot(bx, by, ls="none", marker=marker, mfc="white", color=colour, ms=4)
        drawn += by
    return drawn


# -- Pareto fronts ---------------------------------------------------------------------------


@dataclass
class FrontPoint:
    values: Sequence[float]
    href: str | None
    label: str
    current: bool = False


def front(terms: Sequence[str], points: Sequence[FrontPoint]) -> Chart | None:
    """The front as a scatter plot (three pairwise plots for three terms); each point links to
    its plan file; the plan of this report is filled."""
    if len(terms) < 2 or not points:
        return None
    pairs = [(0, 1)] if len(terms) == 2 else [(0, 1), (0, 2), (1, 2)]

    def draw() -> Figure:
        fig = new_figure(4.2 * len(pairs) if len(pairs) > 1 else 6.5, 4.2)
        axes = fig.subplots(1, len(pairs), squeeze=False)[0]
        for ax, (a, b) in zip(axes, pairs, strict=True):
            pts = sorted(points, key=lambda p: (p.values[a], p.values[b]))
            if len(terms) == 2:
                xs = [p.values[a] for p in pts]
                ys = [p.values[b] for p in pts]
                ax.step(xs, ys, where="post", color="#999999", lw=0.8, zorder=1)
            others = [p for p in pts if not p.current]
            mine = [p for p in pts if p.current]
            if others:
                sc = ax.scatter(
                    [p.values[a] for p in others],
                    [p.values[b] for p in others],
                    s=36,
                    facecolors="white",
                    edgecolors=INK,
                    linewidths=1.2,
                    zorder=3,
                    label="plan (links to its file)",
                )
                sc.set_urls([p.href for p in others])
            if mine:
                sc = ax.scatter(
                    [p.values[a] for p in mine],
                    [p.values[b] for p in mine],
                    s=70,
                    color=INK,
                    marker="D",
                    zorder=4,
                    label="this plan",
                )
                sc.set_urls([p.href for p in mine])
            if len(points) <= 40:
                for p in pts:
                    ax.annotate(
                        p.label,
                        (p.values[a], p.values[b]),
                        textcoords="offset points",
                        xytext=(5, 4),
                        fontsize=7,
                        color=INK,
                    )
            ax.set_xlabel(terms[a])
            ax.set_ylabel(terms[b])
            ax.grid(color=GRID, lw=0.5)
            ax.margins(0.08)
        axes[0].legend(fontsize=8, loc="best")
        axes[0].set_title("Pareto front of " + ", ".join(terms))
        return fig

    fig = _make("front", draw)
    assert fig is not None
    return Chart(
        "front",
        "Pareto front",
        fig,
        "Each point is a non-dominated plan (click it to open its plan file); the filled "
        "diamond is the plan of this report.",
        links=[p.href for p in points if p.href],
    )


# -- compare ---------------------------------------------------------------------------------


def objective_bars(
    labels: Sequence[str],
    terms: Sequence[str],
    values: Sequence[Mapping[str, float | None]],
    colours: Sequence[str] | None = None,
) -> Chart | None:
    """One small bar chart per objective term: its value for each run (hatched, labelled).
    ``colours``: each run's, as another chart of the same page draws it (default: two shades
    by turns)."""
    if not labels or not terms:
        return None

    def draw() -> Figure:
        fig = new_figure(min(3.2 * len(terms), 12.0), 0.9 + 0.3 * len(labels))
        axes = fig.subplots(1, len(terms), squeeze=False, sharey=True)[0]
        y = list(range(len(labels)))
        for ax, term in zip(axes, terms, strict=True):
            vals = [v.get(term) for v in values]
            shown = [x if x is not None and math.isfinite(x) else 0.0 for x in vals]
            ax.set_title(term)
            if all(x == 0 for x in vals):  # nothing to compare: say so, not an empty panel
                ax.text(
                    0.5,
                    0.5,
                    "0 in every run",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=INK,
                )
                ax.set_ylim(-0.5, len(labels) - 0.5)  # the rows of the panels beside it
                ax.set_xticks([])
                ax.spines["bottom"].set_visible(False)
                continue
            bars = ax.barh(
                y,
                shown,
                color=list(colours) if colours else [_cmap_colour(0.25 + 0.5 * (i % 2)) for i in y],
                edgecolor=INK,
                hatch=[HATCHES[i % len(HATCHES)] for i in y],
            )
            ax.bar_label(
                bars,
                ["–" if x is None else _fmt(x) for x in vals],
                fontsize=7,
                padding=2,
            )
            ax.margins(x=0.3)
            if not any(shown):
                ax.set_xlim(0, 1)
                ax.set_xticks([0])
            elif all(float(x).is_integer() for x in shown):  # counts: no 0.5 move on the axis
                from matplotlib.ticker import MaxNLocator

                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.tick_params(axis="x", labelsize=7)
        axes[0].set_yticks(y, labels)
        axes[0].invert_yaxis()
        return fig

    fig = _make("objective", draw)
    assert fig is not None
    return Chart(
        "objective", "Objective terms by run", fig, "Each objective term of each run's plan."
    )
