"""``taskalloc compare``: engines side by side through the batch executor."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, cli

FLEET = str(EXAMPLES / "inference-fleet.yaml")


def test_json_one_row_per_run_every_plan_checked() -> None:
    result = cli(
        "-q", "compare", FLEET, "-s", "greedy,cpsat", "-t", "5", "--jobs", "2", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["terms"] == ["unplaced", "cost"]
    runs = {r["engine"]: r for r in data["runs"]}
    assert list(runs) == ["greedy", "cpsat"]
    for r in runs.values():
        assert r["checked"] is True and r["violations"] == []
        assert set(r["objective"]) == {"unplaced", "cost"}
        assert r["seconds"] is not None and r["seed"] == 0
    assert runs["cpsat"]["status"] == "optimal"
    assert runs["cpsat"]["gap"] == 0 and runs["cpsat"]["bound"] == runs["cpsat"]["fitness"]
    assert runs["cpsat"]["fitness"] <= runs["greedy"]["fitness"]
    assert [e["engine"] for e in data["engines"]] == ["greedy", "cpsat"]


def test_files_markdown_html_and_plans(tmp_path: Path) -> None:
    md, page, plans = tmp_path / "cmp.md", tmp_path / "cmp.html", tmp_path / "plans"
    result = cli(
        "compare",
        FLEET,
        "-s",
        "greedy,cpsat",
        "-t",
        "5",
        "--runs",
        "2",
        "--jobs",
        "2",
        "-o",
        str(md),
        "--html",
        str(page),
        "--out-dir",
        str(plans),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "compare: 4 runs (greedy, cpsat x 2 seeds)" in result.stderr
    text = md.read_text()
    assert text.startswith("# Compare: inference-fleet\n")
    assert "| engine | seed | status | unplaced | cost | fitness | bound | gap |" in text
    assert "| engine | runs | plans | best fitness |" in text  # the summary by engine
    files = sorted(p.name for p in plans.iterdir())
    assert files == [
        "cpsat-seed0.plan.yaml",
        "cpsat-seed1.plan.yaml",
        "greedy-seed0.plan.yaml",
        "greedy-seed1.plan.yaml",
    ]
    check = cli("check", FLEET, str(plans / "cpsat-seed1.plan.yaml"))
    assert check.exit_code == 0, check.stderr
    html = page.read_text()
    assert 'data-chart="convergence"' in html and 'data-chart="objective"' in html
    assert "<script" not in html
    assert "href='plans/cpsat-seed0.plan.yaml'" in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_table_fits_80_columns() -> None:
    result = cli(
        "compare", FLEET, "-s", "greedy", "-t", "2", env={"COLUMNS": "80", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.split()[:2] == ["greedy", "feasible"] for line in lines if line.strip())
    assert "[1/1] greedy seed 0: feasible" in result.stderr


def test_csv_and_a_failing_engine() -> None:
    # the time-indexed MILP refuses a long horizon: a bad_input row, and the exit code says so
    result = cli(
        "-q",
        "compare",
        str(EXAMPLES / "training-pipeline.yaml"),
        "-s",
        "greedy,mip",
        "-t",
        "5",
        "-f",
        "csv",
    )
    assert result.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["engine"], r["status"]) for r in rows] == [
        ("greedy", "feasible"),
        ("mip", "bad_input"),
    ]
    assert rows[0]["checked"] == "true" and rows[1]["checked"] == ""
    assert list(rows[0])[3:6] == ["unplaced", "tardiness", "makespan"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "greedy,simplex"], "-s: unknown engine 'simplex'"),
        (["--executor", "slurm"], "Usage: "),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = cli("compare", FLEET, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


@pytest.mark.ray
def test_on_ray() -> None:
    pytest.importorskip("ray")
    result = cli(
        "-q", "compare", FLEET, "-s", "greedy", "--runs", "2", "--executor", "ray", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    assert all(r["checked"] for r in data["runs"])


def test_the_default_engines_leave_out_those_that_refuse_the_problem() -> None:
    """... and say why in lines that fit the terminal (broken at words)."""
    path = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("compare", path, "-t", "1", "-f", "csv", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["engine"] for r in rows] == ["greedy", "cpsat", "mip", "ga"]
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("compare: devplan"))
    why = [lines[start]] + [line for line in lines[start + 1 :] if line.startswith("    ")]
    assert " ".join(line.strip() for line in why).startswith(
        "compare: devplan left out: -s devplan cannot plan this problem: task "
    )
    assert len(why) > 1 and all(len(line) <= 80 for line in why)


def test_the_progress_line_gives_the_solver_s_seconds_beside_the_wall_time() -> None:
    """A proof in 0.07 s took 0.7 s in all (the worker, loading, checking): the line said
    0.7 s and the table 0.07, which read as a contradiction; the line now gives both when the
    rest took as long again, and the wall time alone otherwise."""
    from taskalloc.cli.compare import Row, _took

    row = Row("cpsat", 0, "ok", "optimal", seconds=0.064)
    assert _took(row, 0.62) == "0.064 s solving, 0.6 s in all"
    assert _took(Row("ga", 0, "ok", "feasible", seconds=4.99), 5.1) == "5.1 s"
    assert _took(Row("greedy", 0, "ok", "feasible", seconds=0.001), 0.1) == "0.1 s"
    assert _took(Row("x", 0, "error", "error"), 0.3) == "0.3 s"
