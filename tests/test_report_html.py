"""``taskalloc report --html`` / ``--svg`` / ``--png``: the page, its charts, determinism, and the
page opened in headless Chromium at 20 and 2,000 nodes (screenshots in build/screenshots/ for a
person to look at).

Chromium: the Debian package ``chromium``. When it is missing, the browser tests install it
(as root, with apt-get) or skip with the reason; ``.ci/run`` installs it beforehand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import read_plan
from tests.browser import find_chromium, open_page
from tests.helpers import DATA, EXAMPLES, ROOT, cli, node, prob_dict, read, task, write_problem

PLANS = DATA / "report"
SHOTS = ROOT / "build" / "screenshots"


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None and shutil.which("apt-get") and os.geteuid() == 0:
        for cmd in (
            ["apt-get", "install", "-y", "-q", "chromium"],
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "chromium"],
        ):
            proc = subprocess.run(cmd, capture_output=True, timeout=900, check=False)
            if proc.returncode == 0 and (path := find_chromium()) is not None:
                break
    if path is None:
        pytest.skip(
            "headless Chromium is not installed and could not be installed here "
            "(Debian: apt-get install -y chromium): the HTML report was not opened in a browser"
        )
    return path


def _with_progress(plan_path: Path, out: Path) -> Path:
    """The plan with a hand-made trajectory and GA generation log (no solver needed)."""
    plan = read_plan(str(plan_path))
    fit = plan.solver.fitness or 0.0
    plan.solver.trajectory = [
        (0.05, fit * 1.6, fit * 0.5),
        (0.4, fit * 1.2, fit * 0.8),
        (1.5, fit, fit * 0.95),
    ]
    plan.solver.generations = [
        {"generation": g, "seconds": 0.1 * g, "best": fit * (1 + 0.5 / (g + 1)), "mean": fit * 2}
        for g in range(12)
    ]
    out.write_text(plan.dumps(), encoding="utf-8")
    return out


def _generated(tmp: Path, nodes: int, tasks: int, scheduling: bool, seed: int) -> tuple[Path, Path]:
    """A generated problem and its greedy plan."""
    problem = tmp / f"gen-{nodes}.yaml"
    args = ["generate", "--nodes", str(nodes), "--tasks", str(tasks), "--seed", str(seed)]
    result = cli(*args, *(["--scheduling"] if scheduling else []), "-o", str(problem))
    assert result.exit_code == 0, result.stderr
    plan = tmp / f"gen-{nodes}.plan.yaml"
    result = cli("-q", "solve", str(problem), "-s", "greedy", "-o", str(plan))
    assert result.exit_code == 0, result.stderr
    return problem, plan


def _look(page: Path, name: str, expect: set[str]) -> dict:
    """Open ``page`` in Chromium: no console errors, no exception, no request beyond the file,
    every expected chart there and drawn; the screenshot goes to build/screenshots/NAME.png."""
    result = open_page(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{name}.png").write_bytes(result.screenshot)
    assert result.console_errors == []
    assert result.exceptions == []
    assert result.network == []
    probe = result.probe
    assert probe["scripts"] == 0 and probe["external"] == []
    charts = {c["name"]: c for c in probe["charts"]}
    assert set(charts) == expect
    for c in charts.values():
        assert c["width"] > 200 and c["height"] > 80, c
        assert c["shapes"] > 3 and c["texts"] > 3, c
    assert result.screenshot.startswith(b"\x89PNG")
    return probe


# -- in Chromium -----------------------------------------------------------------------------


def test_schedule_at_20_nodes_in_chromium(chromium: str, tmp_path: Path) -> None:
    problem, plan = _generated(tmp_path, 20, 60, scheduling=True, seed=3)
    plan = _with_progress(plan, tmp_path / "progress.plan.yaml")
    page = tmp_path / "report.html"
    result = cli("report", str(problem), str(plan), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"HTML report written to {page} (4 charts)\n"
    probe = _look(page, "report-20-nodes-schedule", {"utilisation", "gantt", "load", "convergence"})
    assert probe["sections"] == ["summary", "utilisation", "schedule", "unplaced", "convergence"]


def test_placement_at_2000_nodes_in_chromium(chromium: str, tmp_path: Path) -> None:
    problem, plan = _generated(tmp_path, 2000, 2500, scheduling=False, seed=1)
    page = tmp_path / "report.html"
    result = cli("report", str(problem), str(plan), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    _look(page, "report-2000-nodes", {"utilisation", "utilisation-nodes"})
    text = page.read_text()
    assert text.count('<details class="pool">') == len(read(str(problem)).pools)
    assert text.count("<tr><td class='id'>") >= 2000  # every node in some pool's table


def test_task_ids_never_break_in_the_nodes_table_in_chromium(chromium: str, tmp_path: Path) -> None:
    """The README's fleet: a node's tasks wrap between ids, never inside one (``infer-`` at
    the end of a line and ``107#0`` on the next, as the browser broke them at hyphens)."""
    problem, plan = _generated(tmp_path, 20, 200, scheduling=False, seed=7)
    page = tmp_path / "report.html"
    assert cli("report", str(problem), str(plan), "--html", str(page)).exit_code == 0
    probe = _look(page, "report-20-nodes-placement", {"utilisation"})
    assert probe["ids"] >= 200  # every placed replica, one span each
    assert probe["broken_ids"] == []


def _front_plans(folder: Path) -> tuple[Path, list[Path]]:
    """A problem and three plan files of a Pareto front of cost and balance, as ``solve
    --pareto`` writes them (each records its point under solver.options.pareto)."""
    from tests.helpers import asg, make, node, prob_dict, task, write_problem

    folder.mkdir()
    data = prob_dict(
        [
            node("big", {"cpu": 16}, cost=5),
            node("mid", {"cpu": 12}, cost=3),
            node("small", {"cpu": 4}, count=2, cost=1),
        ],
        [task("a", {"cpu": 4}), task("b", {"cpu": 4})],
        objective={"lexicographic": ["unplaced", "cost", "balance"]},
    )
    path = write_problem(folder.parent / "front-problem.json", data)
    problem = read(str(path))
    choices = [  # (cost, balance): (2, 1), (3, 0.667), (5, 0.5)
        [asg("a", "small-1"), asg("b", "small-2")],
        [asg("a", "mid"), asg("b", "mid")],
        [asg("a", "big"), asg("b", "big")],
    ]
    files = []
    for i, assignments in enumerate(choices, start=1):
        plan = make(problem, assignments)
        ev = evaluate(problem, assignments)
        plan.solver.options["pareto"] = {
            "point": i,
            "of": len(choices),
            "terms": {"cost": ev.terms["cost"], "balance": ev.terms["balance"]},
        }
        plan.problem_path = str(path)
        f = folder / f"plan-{i:02d}.yaml"
        f.write_text(plan.dumps(), encoding="utf-8")
        files.append(f)
    (folder / "notes.yaml").write_text("not: a plan\n")  # other files beside them are skipped
    return path, files


def test_pareto_front_in_chromium(chromium: str, tmp_path: Path) -> None:
    problem, plans = _front_plans(tmp_path / "front")
    page = tmp_path / "report.html"
    result = cli("report", str(problem), str(plans[1]), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    probe = _look(page, "report-pareto-front", {"utilisation", "front"})
    front_chart = next(c for c in probe["charts"] if c["name"] == "front")
    assert front_chart["links"] == len(plans)  # every point links to its plan file
    text = page.read_text()
    for p in plans:
        assert f"href='front/{p.name}'" in text  # the table
        assert f'xlink:href="front/{p.name}"' in text  # the chart
    assert "#2 (this plan)" in text


def test_devices_in_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "devices.html"
    page.write_text(_device_page(), encoding="utf-8")
    _look(page, "report-devices", {"utilisation", "devices", "gantt", "load"})


# -- without a browser -----------------------------------------------------------------------


def _device_page() -> str:
    """The report of the revision-2 example solved by the greedy: GPUs split into devices
    (shared by services and notebooks, whole ones for a gang that starts together)."""
    from taskalloc.html import render

    problem = read("examples/gpu-cluster.yaml")
    plan = read_plan(str(PLANS / "gpu-cluster.plan.yaml"))
    ev = evaluate(problem, plan.assignments)
    text, charts = render(problem, plan, ev)
    assert [c.name for c in charts] == ["utilisation", "devices", "gantt", "load"]
    # the node table says which devices each replica uses: the gang's workers take whole GPUs
    worker = next(a for a in plan.assignments if a.task == "pretrain-worker")
    assert worker.devices and f"gpu {','.join(map(str, worker.devices['gpu']))}" in text
    return text


def test_device_chart_of_the_gpu_example() -> None:
    text = _device_page()
    assert 'data-chart="devices"' in text


def _fleet_html(tmp_path: Path, *extra: str) -> Path:
    page = tmp_path / "fleet.html"
    result = cli(
        "report",
        str(EXAMPLES / "training-pipeline.yaml"),
        str(PLANS / "training-pipeline.plan.yaml"),
        "--html",
        str(page),
        *extra,
    )
    assert result.exit_code == 0, result.stderr
    return page


def test_html_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    first = _fleet_html(tmp_path).read_bytes()
    second = _fleet_html(tmp_path).read_bytes()
    assert first == second
    text = first.decode()
    assert "<script" not in text
    # the only http URLs are XML namespaces, never something to fetch
    urls = set(re.findall(r"""(?:src|href)=["'](https?:[^"']*)""", text))
    assert urls == set()
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://purl.org/dc/elements/1.1/",
        "http://creativecommons.org/ns#",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "http://matplotlib.org/",
    }
    assert "fitness = 10000 × unplaced + 2 × tardiness + 1 × makespan = " in text
    # every inline SVG has its own ids (no clash between charts)
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_svg_and_png_directories(tmp_path: Path) -> None:
    svg, png = tmp_path / "svg", tmp_path / "png"
    page = _fleet_html(tmp_path, "--svg", str(svg), "--png", str(png))
    names = {"utilisation", "gantt", "load"}
    assert {p.stem for p in svg.iterdir()} == names
    assert {p.stem for p in png.iterdir()} == names
    for p in svg.iterdir():
        assert p.read_text().startswith("<?xml")
    for p in png.iterdir():
        assert p.read_bytes().startswith(b"\x89PNG")
    again = tmp_path / "again"
    result = cli(
        "report",
        str(EXAMPLES / "training-pipeline.yaml"),
        str(PLANS / "training-pipeline.plan.yaml"),
        "--svg",
        str(again),
    )
    assert result.exit_code == 0 and result.stdout == ""
    for p in svg.iterdir():
        assert (again / p.name).read_bytes() == p.read_bytes()
    assert page.exists()


def test_every_output_of_report_is_refused_before_any_is_written(tmp_path: Path) -> None:
    """-o, --html, --svg and --png: one refused (an input, --no-clobber) means none is
    written (the text and the page were written before a chart file was refused)."""
    problem = str(EXAMPLES / "training-pipeline.yaml")
    plan = str(PLANS / "training-pipeline.plan.yaml")
    svg = tmp_path / "svg"
    svg.mkdir()
    (svg / "gantt.svg").write_text("mine\n")
    text, page = tmp_path / "report.txt", tmp_path / "report.html"
    args = (problem, plan, "-o", str(text), "--html", str(page), "--svg", str(svg))
    result = cli("--no-clobber", "report", *args)
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"{svg / 'gantt.svg'}: exists; not overwriting it (--no-clobber)"
    )
    assert not text.exists() and not page.exists()
    assert [p.name for p in svg.iterdir()] == ["gantt.svg"]
    result = cli("report", problem, plan, "-o", str(text), "--html", plan)
    assert result.exit_code == 2 and "is an input of this command" in result.stderr
    assert not text.exists()
    result = cli("report", *args)  # without --no-clobber: all of them, the chart replaced
    assert result.exit_code == 0, result.stderr
    assert text.exists() and page.exists() and len(list(svg.iterdir())) == 3


def test_output_html_suffix_is_the_html_report(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = cli(
        "report",
        str(EXAMPLES / "inference-fleet.yaml"),
        str(PLANS / "inference-fleet.plan.yaml"),
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_html_never_replaces_an_input(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes((PLANS / "inference-fleet.plan.yaml").read_bytes())
    before = plan.read_bytes()
    result = cli("report", str(EXAMPLES / "inference-fleet.yaml"), str(plan), "--html", str(plan))
    assert result.exit_code == 2
    assert "is an input of this command" in result.stderr
    assert plan.read_bytes() == before


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args, **kw):
        return None if name == "matplotlib" else real(name, *args, **kw)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    result = cli(
        "report",
        str(EXAMPLES / "inference-fleet.yaml"),
        str(PLANS / "inference-fleet.plan.yaml"),
        "--html",
        str(tmp_path / "r.html"),
    )
    assert result.exit_code == 2
    assert "pip install 'taskalloc[plot]'" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_unplaced_tasks_and_reasons_are_on_the_page(tmp_path: Path) -> None:
    from taskalloc.html import render
    from tests.helpers import asg, make, node, prob, task

    p = prob(
        [node("n", {"cpu": 8})],
        [task("a", {"cpu": 4}), task("big", {"cpu": 64}, required=False)],
    )
    plan = make(p, [asg("a", "n")])
    text, _ = render(p, plan, evaluate(p, plan.assignments))
    assert "1 of 2 tasks are not placed." in text
    assert "needs cpu 64; the largest free cpu on an allowed node is 4" in text


def test_front_of_a_plan_given_alone(tmp_path: Path) -> None:
    """`report PLAN --html`: the plan is the one file given; its front is beside it."""
    _, plans = _front_plans(tmp_path / "front")
    page = tmp_path / "out" / "report.html"
    result = cli("report", str(plans[2]), "--html", str(page))
    assert result.exit_code == 0, result.stderr
    text = page.read_text()
    assert 'data-chart="front"' in text
    assert "href='../front/plan-01.yaml'" in text  # relative to the page
    assert "#3 (this plan)" in text


def test_convergence_starts_at_zero_and_says_what_a_lexicographic_line_is() -> None:
    """The time axis is the run's, from 0 (not a zoom on its last milliseconds); under a
    lexicographic objective the caption says each stage plots its own term, so that a line
    stepping up from stage 1's 0 to stage 2's cost does not read as a worse plan."""
    from taskalloc import charts as ch

    run = ch.Run("cpsat", [(0.022, 0.0, 0.0), (0.042, 109.8, 39.3), (0.057, 85.8, 85.8)])
    chart = ch.convergence([run], stages=("unplaced", "cost"))
    assert chart is not None
    assert chart.figure.axes[0].get_xlim()[0] == 0.0
    assert chart.figure.axes[0].get_ylabel() == "objective (lower is better)"
    assert "The objective is lexicographic (unplaced, cost)" in chart.caption
    alone = ch.convergence([run], stages=("cost",))
    assert alone is not None and "lexicographic" not in alone.caption


def test_a_term_that_is_0_in_every_run_says_so_instead_of_an_empty_panel() -> None:
    """compare --html: a term at 0 in every run (unplaced, usually) had a panel of no bars;
    it now says '0 in every run', and the panels beside it keep their bars."""
    from taskalloc import charts as ch

    runs = ["greedy", "cpsat", "ga"]
    values = [{"unplaced": 0.0, "cost": c} for c in (151.3, 85.8, 88.8)]
    chart = ch.objective_bars(runs, ["unplaced", "cost"], values)
    assert chart is not None
    zero, cost = chart.figure.axes
    assert [t.get_text() for t in zero.texts] == ["0 in every run"]
    assert not zero.patches and len(cost.patches) == 3
    assert "0 in every run" in chart.svg()
    mixed = ch.objective_bars(runs, ["unplaced"], [{"unplaced": 0.0}, {"unplaced": 2.0}, {}])
    assert mixed is not None  # bars where any run differs
    assert [t.get_text() for t in mixed.figure.axes[0].texts] == ["0", "2", "–"]


def test_counts_have_whole_ticks() -> None:
    """whatif --html: moves 0, 2, 1, 0 had ticks at 0.5, 1.5, ... (half a move); a term of
    counts gets whole ticks, a term of decimals keeps matplotlib's."""
    from taskalloc import charts as ch

    runs = ["fail a", "fail b", "fail c", "fail d"]
    values = [{"moves": m, "cost": c} for m, c in ((0, 1.25), (2, 0.5), (1, 2.0), (0, 0.75))]
    chart = ch.objective_bars(runs, ["moves", "cost"], values)
    assert chart is not None
    chart.figure.canvas.draw()
    moves, cost = chart.figure.axes
    ticks = [t for t in moves.get_xticks() if moves.get_xlim()[0] <= t <= moves.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert not all(float(t).is_integer() for t in cost.get_xticks())


def test_node_and_task_ids_do_not_wrap_in_the_tables() -> None:
    text = _device_page()
    assert "td.id { white-space: nowrap; }" in text
    assert "<tr><td class='id'>a100-a-1</td>" in text


def test_convergence_draws_each_labelled_stage_apart_and_names_it() -> None:
    """A trajectory whose points say what they measure (the plan's fourth element): each
    stage of a lexicographic run is its own line, no line joins stage 1's 0 to stage 2's
    cost, a dotted line where each stage begins is named with the term and where it ended,
    and the axis and caption say so; one term throughout names the axis after it."""
    from taskalloc import charts as ch

    points = [(0.022, 0.0, 0.0), (0.042, 109.8, 39.3), (0.057, 85.8, 85.8)]
    run = ch.Run("cpsat", points, seconds=0.06, stages=["unplaced", "cost", "cost"])
    assert [(s, len(p)) for s, p in run.segments()] == [("unplaced", 1), ("cost", 2)]
    chart = ch.convergence([run], stages=("unplaced", "cost"))
    assert chart is not None
    ax = chart.figure.axes[0]
    assert [t.get_text() for t in ax.texts] == ["unplaced: 0", "cost: 85.8"]
    assert ax.get_ylabel() == "the stage's term (lower is better)"
    steps = [line for line in ax.lines if line.get_linestyle() == "-" and line.get_lw() == 1.6]
    assert [list(line.get_ydata()) for line in steps] == [[0.0, 0.0], [109.8, 85.8, 85.8]]
    assert "each stage is drawn on its own" in chart.caption
    assert sorted({t.get_text() for t in ax.get_legend().get_texts()}) == ["bound", "incumbent"]
    assert len(ax.get_legend().get_texts()) == 2  # one entry each, not one per stage

    one = ch.Run("cpsat", points[1:], stages=["cost", "cost"])
    chart = ch.convergence([one], stages=("unplaced", "cost"))
    assert chart is not None and not chart.figure.axes[0].texts
    assert chart.figure.axes[0].get_ylabel() == "cost (lower is better)"
    assert "recorded its progress in the term cost alone" in chart.caption
    ga = ch.convergence([ch.Run("ga", points[1:], stages=["fitness"] * 2)])
    assert ga is not None and ga.figure.axes[0].get_ylabel() == "fitness (lower is better)"
    # a point without a label belongs to the stage before it (the first, before any)
    mixed = ch.Run("x", points, stages=[None, "unplaced", None])
    assert [(s, len(p)) for s, p in mixed.segments()] == [("unplaced", 3)]


def test_a_lexicographic_run_writes_and_reads_the_stage_of_each_point(tmp_path: Path) -> None:
    """`solve` labels each trajectory point with the term it measures (the plan's fourth
    element); `report --html` reads it back and names the stages; a plan of before (three
    elements) still reads."""
    import yaml

    from taskalloc.problems.plan import read_plan

    data = prob_dict(
        [node("big", {"cpu": 8}, cost=5), node("small", {"cpu": 4}, count=2, cost=1)],
        [task(f"t{i}", {"cpu": 3}, required=False) for i in range(4)],
    )
    data["objective"] = {"lexicographic": ["unplaced", "cost"]}
    problem = write_problem(tmp_path / "lex.yaml", data)
    plan = tmp_path / "plan.yaml"
    result = cli("solve", str(problem), "-s", "cpsat", "-o", str(plan), "--seed", "1")
    assert result.exit_code == 0, result.stderr
    rows = yaml.safe_load(plan.read_text())["solver"]["trajectory"]
    assert rows and all(len(r) == 4 for r in rows)
    assert [r[3] for r in rows] == sorted((r[3] for r in rows), key=["unplaced", "cost"].index)
    assert {r[3] for r in rows} == {"unplaced", "cost"}
    read = read_plan(str(plan)).solver
    assert read.stages == [r[3] for r in rows]
    page = tmp_path / "report.html"
    assert cli("report", str(problem), str(plan), "--html", str(page)).exit_code == 0
    assert "each stage is drawn on its own" in page.read_text()
    old = yaml.safe_load(plan.read_text())
    old["solver"]["trajectory"] = [r[:3] for r in rows]
    plan.write_text(yaml.safe_dump(old))
    before = read_plan(str(plan)).solver
    assert before.trajectory == read.trajectory and before.stages == [None] * len(rows)
    assert "trajectory" in before.to_dict() and all(
        len(r) == 3 for r in before.to_dict()["trajectory"]
    )


def test_runs_that_end_far_apart_share_a_logarithmic_time_axis() -> None:
    """compare --html: cpsat proved in 0.06 s beside a 5 s GA; on a linear axis its whole
    search (and its bound) was crushed against 0. Runs ending 20 x apart or more get a time
    axis linear to a power of ten below the shortest run, logarithmic beyond, and the caption
    says so; runs ending close together, or one run alone, keep the linear axis."""
    from taskalloc import charts as ch

    greedy = ch.Run("greedy", [(0.0014, 151.3, None)], stages=["fitness"])
    cpsat = ch.Run("cpsat", [(0.02, 0.0, 0.0), (0.04, 109.8, 39.3), (0.06, 85.8, 85.8)])
    ga = ch.Run("ga", [(0.07, 88.8, None)], seconds=5.0, stages=["fitness"])
    chart = ch.convergence([greedy, cpsat, ga])
    assert chart is not None
    ax = chart.figure.axes[0]
    assert ax.get_xscale() == "symlog" and ax.get_xlabel() == "seconds (logarithmic)"
    assert ax.get_xlim()[0] == 0.0
    assert "from 0.0014 s to 5 s, so the time axis is logarithmic beyond 0.001 s" in chart.caption
    for runs in ([cpsat, ch.Run("ga", [(0.07, 88.8, None)], seconds=1.0)], [ga]):
        linear = ch.convergence(runs)
        assert linear is not None and linear.figure.axes[0].get_xscale() == "linear"
        assert "logarithmic" not in linear.caption


def test_compare_bars_are_in_each_run_s_line_colour() -> None:
    """compare --html: the bars by run had two shades by turns while the convergence chart
    drew greedy blue, cpsat orange, ga green; each run's bars now take its line's colour."""
    from matplotlib.colors import to_hex

    from taskalloc import charts as ch

    runs = ["greedy", "cpsat", "ga"]
    values = [{"cost": c} for c in (151.3, 85.8, 88.8)]
    lines = [ch.SERIES[i][0] for i in range(3)]
    chart = ch.objective_bars(runs, ["cost"], values, lines)
    assert chart is not None
    assert [to_hex(p.get_facecolor()) for p in chart.figure.axes[0].patches] == lines


def test_a_convergence_without_a_bound_does_not_speak_of_one() -> None:
    """The GA proves no bound: its caption said 'and the proven bound (thin)'."""
    from taskalloc import charts as ch

    ga = ch.convergence([ch.Run("ga", [(0.5, 305.0, None)], stages=["fitness"])])
    assert ga is not None and "bound (thin" not in ga.caption
    assert ga.caption.startswith("The incumbent (the best plan's objective so far) over time")
    exact = ch.convergence([ch.Run("cpsat", [(0.5, 305.0, 300.0)])])
    assert exact is not None and "proven bound (thin line" in exact.caption


def test_compare_convergence_says_what_each_run_measures() -> None:
    """compare --html: cpsat's stages and the GA's and greedy's fitness on one axis; the axis
    claims no single measure, the caption says which run plots what."""
    from taskalloc import charts as ch

    runs = [
        ch.Run("greedy", [(0.01, 140.0, None)], stages=["fitness"]),
        ch.Run("cpsat", [(0.02, 0.0, 0.0), (0.5, 32.0, 30.0)], stages=["unplaced", "cost"]),
        ch.Run("ga", [(0.4, 104.0, None), (2.5, 101.0, None)], stages=["fitness"] * 2),
    ]
    chart = ch.convergence(runs, stages=("unplaced", "cost"))
    assert chart is not None
    assert chart.figure.axes[0].get_ylabel() == "objective (lower is better)"
    assert "cpsat solved one term at a time" in chart.caption
    assert "greedy and ga recorded their progress in the scalar fitness" in chart.caption
