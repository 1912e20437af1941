"""``taskalloc report`` of a plan written by ``taskalloc simulate``: the replay's figures
(``metrics.simulation``) in the summary (table, Markdown, JSON) and its chart in the HTML report
(the utilisation over time of a scheduling replay, the allocation curve of a placement replay),
opened in headless Chromium; a plan of ``solve`` has neither; a hand-edited record is read
defensively."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskalloc.problems.views import simulation_view
from tests.helpers import DATA, cli
from tests.test_report_html import _look, chromium  # noqa: F401 (the fixture)

#: nodes a (cpu 4) and b (cpu 2); t3 after t1; t4 must end by 4 (tests/solvers/online's tiny)
TINY = {
    "taskalloc": 1,
    "nodes": [{"id": "a", "capacity": {"cpu": 4}}, {"id": "b", "capacity": {"cpu": 2}}],
    "tasks": [
        {"id": "t1", "demand": {"cpu": 2}, "duration": 4},
        {"id": "t2", "demand": {"cpu": 2}, "duration": 1, "priority": 3},
        {"id": "t3", "demand": {"cpu": 2}, "duration": 2, "after": ["t1"], "due": 5},
        {"id": "t4", "demand": {"cpu": 4}, "duration": 2, "release": 1, "deadline": 4},
        {"id": "t5", "demand": {"cpu": 1}, "duration": 3, "release": 1, "priority": 2},
    ],
}


def _replayed(tmp_path: Path) -> tuple[Path, Path]:
    problem = tmp_path / "tiny.json"
    problem.write_text(json.dumps(TINY), encoding="utf-8")
    plan = tmp_path / "online.yaml"
    # best-fit, fifo: every task starts (the hand trace of tests/solvers/online/test_schedule.py)
    r = cli("simulate", str(problem), "--policy", "best-fit", "-o", str(plan))
    assert r.exit_code == 0, r.stderr
    return problem, plan


LINE = (
    "scheduling replay, best-fit, queue fifo: 5/5 tasks started, makespan 6, tardiness 1, "
    "wait mean 0.4 p95 2, fleet peak cpu 100%"
)


def test_the_summary_prints_the_replays_figures(tmp_path: Path) -> None:
    problem, plan = _replayed(tmp_path)
    r = cli("report", str(problem), str(plan))
    assert r.exit_code == 0, r.stderr
    # the table folds the line at its width: compare the words
    row = r.stdout[r.stdout.index("simulation") :].split("Objective terms")[0]
    assert " ".join(row.split()) == "simulation " + LINE
    md = cli("report", str(problem), str(plan), "-f", "markdown")
    assert f"| simulation | {LINE} |" in md.stdout
    data = json.loads(cli("report", str(problem), str(plan), "-f", "json").stdout)
    sim = data["simulation"]
    assert sim["kind"] == "scheduling" and sim["policy"] == "best-fit" and sim["queue"] == "fifo"
    assert sim["figures"]["makespan"] == 6 and sim["figures"]["p95_wait"] == 2
    assert sim["series"]["time"][0] == 0 and sim["series"]["cpu"][-1] == 0
    # a plan of solve has no such row
    solved = tmp_path / "solved.yaml"
    assert cli("-q", "solve", str(problem), "-s", "greedy", "-o", str(solved)).exit_code in (0, 4)
    r = cli("report", str(problem), str(solved))
    assert "simulation" not in r.stdout
    assert "simulation" not in json.loads(
        cli("report", str(problem), str(solved), "-f", "json").stdout
    )


def test_the_html_report_draws_the_utilisation_over_time(tmp_path: Path) -> None:
    problem, plan = _replayed(tmp_path)
    page = tmp_path / "online.html"
    r = cli("report", str(problem), str(plan), "--html", str(page), "--svg", str(tmp_path / "svg"))
    assert r.exit_code == 0, r.stderr
    text = page.read_text()
    assert '<section id="simulation">' in text and 'data-chart="simulation"' in text
    assert "Online replay: fleet utilisation over time (best-fit, queue fifo)" in text
    assert "makespan 6" in text and "policy <code>best-fit</code>" in text
    assert (tmp_path / "svg" / "simulation.svg").exists()


def test_the_html_report_of_a_placement_replay_draws_the_allocation_curve(tmp_path: Path) -> None:
    problem = tmp_path / "ob.yaml"
    r = cli(
        "import",
        "openb",
        str(DATA / "openb" / "nodes.csv"),
        str(DATA / "openb" / "pods.csv"),
        "-o",
        str(problem),
    )
    assert r.exit_code == 0, r.stderr
    plan = tmp_path / "fgd.yaml"
    assert cli("-q", "simulate", str(problem), "--policy", "fgd", "-o", str(plan)).exit_code == 0
    report = cli("report", str(problem), str(plan))
    assert "placement replay, fgd:" in report.stdout
    page = tmp_path / "fgd.html"
    assert cli("report", str(problem), str(plan), "--html", str(page)).exit_code == 0
    text = page.read_text()
    assert "Online replay: allocation curve (fgd)" in text
    assert "every arrival placed" in text
    # a replay has no search: its Convergence section says so, not that a trajectory is missing
    assert "it has no search to converge" in text and "no trajectory" not in text


def test_in_chromium(chromium: str, tmp_path: Path) -> None:  # noqa: F811
    problem, plan = _replayed(tmp_path)
    page = tmp_path / "online.html"
    assert cli("report", str(problem), str(plan), "--html", str(page)).exit_code == 0
    probe = _look(page, "report-simulation", {"utilisation", "gantt", "load", "simulation"})
    sections = ["summary", "utilisation", "schedule", "simulation", "unplaced", "convergence"]
    assert probe["sections"] == sections


@pytest.mark.parametrize(
    ("metrics", "what"),
    [
        ({}, None),
        ({"simulation": "x"}, None),
        ({"simulation": {"kind": "pareto", "policy": "x"}}, None),
        ({"simulation": {"kind": "scheduling"}}, None),
        # figures of the wrong type are left out; series of unequal lengths are not drawn
        (
            {
                "simulation": {
                    "kind": "scheduling",
                    "policy": "fifo-ish",
                    "makespan": "long",
                    "tardiness": True,
                    "utilisation": {"time": [0, 1], "cpu": [0.5]},
                }
            },
            ("scheduling replay, fifo-ish", {}),
        ),
        (
            {
                "simulation": {
                    "kind": "placement",
                    "policy": "fgd",
                    "arrived": 3,
                    "placed": 2,
                    "curve": {"arrived_percent": [10, 20], "allocated_percent": [10, "x"]},
                }
            },
            ("placement replay, fgd: 2/3 arrived tasks placed", {}),
        ),
    ],
)
def test_a_hand_edited_record_is_read_defensively(metrics, what) -> None:
    view = simulation_view(metrics)
    if what is None:
        assert view is None
        return
    line, series = what
    assert view is not None and view.line() == line and view.series == series
    from taskalloc.simchart import simulation

    assert simulation(view) is None  # nothing complete to draw: no chart, and no error


def test_a_services_long_tail_does_not_fill_the_chart(tmp_path: Path) -> None:
    """A service runs to the horizon (1,000), the work ends at 4: the chart shows the work
    (to 4.4) and says that the services run on."""
    data = {
        "taskalloc": 1,
        "horizon": 1000,
        "nodes": [{"id": "a", "capacity": {"cpu": 4}}],
        "tasks": [
            {"id": "api", "service": True, "demand": {"cpu": 1}},
            {"id": "job", "demand": {"cpu": 2}, "duration": 4},
        ],
    }
    problem = tmp_path / "svc.json"
    problem.write_text(json.dumps(data), encoding="utf-8")
    plan = tmp_path / "svc.plan.yaml"
    assert (
        cli("-q", "simulate", str(problem), "--policy", "first-fit", "-o", str(plan)).exit_code == 0
    )
    page = tmp_path / "svc.html"
    assert cli("report", str(problem), str(plan), "--html", str(page)).exit_code == 0
    assert "services run on, unchanged, to 1,000 →" in page.read_text()
