"""``taskalloc report --view``: golden files for every view and format on the bundled examples,
and the command as a user runs it (80 columns, NO_COLOR, pipes, -o suffixes).

Golden files live in tests/data/golden/EXAMPLE/VIEW.EXT, made from the plans in
tests/data/report/ (written once by the greedy: ``taskalloc solve examples/EXAMPLE.yaml -s
greedy -o tests/data/report/EXAMPLE.plan.yaml``; gpu-cluster is the revision-2 example, with
devices). After an intended change of the output,
regenerate them with ``TASKALLOC_REGEN_GOLDEN=1 pytest tests/test_report_views.py`` and read
the diff before committing it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import read_plan
from tests.helpers import DATA, EXAMPLES, cli, read

GOLDEN = DATA / "golden"
PLANS = DATA / "report"
EXAMPLE_NAMES = [
    "inference-fleet",
    "training-pipeline",
    "consolidation",
    "replanning",
    "gpu-cluster",
]
FORMATS = {"table": "txt", "json": "json", "markdown": "md", "csv": "csv"}
REGEN = os.environ.get("TASKALLOC_REGEN_GOLDEN") == "1"
ANSI = re.compile(r"\x1b\[")


def _views(example: str) -> list[str]:
    scheduling = read(f"examples/{example}.yaml").scheduling
    return ["summary", "nodes", "tasks"] + (["schedule"] if scheduling else [])


CASES = [
    (example, view, fmt) for example in EXAMPLE_NAMES for view in _views(example) for fmt in FORMATS
]


def _render(example: str, views: list[str], fmt: str) -> str:
    from taskalloc.views import render

    problem = read(f"examples/{example}.yaml")
    plan = read_plan(str(PLANS / f"{example}.plan.yaml"))
    return render(problem, plan, evaluate(problem, plan.assignments), views, fmt)


@pytest.mark.parametrize(("example", "view", "fmt"), CASES)
def test_golden(example: str, view: str, fmt: str) -> None:
    got = _render(example, [view], fmt)
    path = GOLDEN / example / f"{view}.{FORMATS[fmt]}"
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with TASKALLOC_REGEN_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
    if fmt == "json":
        json.loads(got)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(got)))
        assert len({len(r) for r in rows}) == 1  # every row has the header's columns


def test_goldens_say_who_runs_where_and_when() -> None:
    """What the issue asked for, read from the golden files themselves."""
    nodes = json.loads((GOLDEN / "inference-fleet" / "nodes.json").read_text())["nodes"]
    placed = {(r["task"], r["replica"]): n["node"] for n in nodes for r in n["replicas"]}
    plan = read_plan(str(PLANS / "inference-fleet.plan.yaml"))
    assert placed == {(a.task, a.replica): a.node for a in plan.assignments}
    sched = json.loads((GOLDEN / "training-pipeline" / "schedule.json").read_text())["schedule"]
    tp = read_plan(str(PLANS / "training-pipeline.plan.yaml"))
    assert sched["makespan"] == max(a.end or 0 for a in tp.assignments)
    assert len(sched["replicas"]) == len(tp.assignments)
    tasks = json.loads((GOLDEN / "training-pipeline" / "tasks.json").read_text())["tasks"]
    card = next(t for t in tasks if t["task"] == "publish-model-card")
    assert card["deadline_slack"] == card["deadline"] - card["end"]
    assert card["due_slack"] == card["due"] - card["end"]


def test_summary_view_is_the_report_of_before() -> None:
    from taskalloc import render

    problem = read("examples/inference-fleet.yaml")
    plan = read_plan(str(PLANS / "inference-fleet.plan.yaml"))
    ev = evaluate(problem, plan.assignments)
    assert _render("inference-fleet", ["summary"], "json") == render.json_report(problem, plan, ev)
    assert _render("inference-fleet", ["summary"], "markdown") == render.markdown(problem, plan, ev)
    assert _render("inference-fleet", ["summary"], "table") == render.table_text(problem, plan, ev)


def test_several_views_in_one_output() -> None:
    data = json.loads(_render("training-pipeline", ["summary", "tasks", "schedule"], "json"))
    assert list(data) == ["summary", "tasks", "schedule"]
    md = _render("training-pipeline", ["nodes", "tasks"], "markdown")
    assert "## Nodes: training-pipeline" in md and "## Tasks: training-pipeline" in md


# -- the command -----------------------------------------------------------------------------


def _pair(example: str) -> tuple[str, str]:
    return str(EXAMPLES / f"{example}.yaml"), str(PLANS / f"{example}.plan.yaml")


@pytest.mark.parametrize("example", ["training-pipeline", "gpu-cluster"])
@pytest.mark.parametrize("view", ["nodes", "tasks", "schedule"])
def test_tables_fit_80_columns_without_colour(view: str, example: str) -> None:
    problem, plan = _pair(example)
    result = cli("report", problem, plan, "--view", view, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert not ANSI.search(result.stdout)
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 80, result.stdout
    if view == "nodes":  # the title is one line: the legend of the device marks goes below
        assert result.stdout.splitlines()[1].startswith("┏"), result.stdout


def test_schedule_view_draws_every_node_that_runs_something() -> None:
    problem, plan = _pair("training-pipeline")
    result = cli("report", problem, plan, "--view", "schedule", env={"COLUMNS": "100"})
    lines = result.stdout.splitlines()
    used = {a.node for a in read_plan(plan).assignments}
    labels = {line.split("│")[0].strip() for line in lines if "│" in line} - {""}
    assert labels == used
    assert "makespan 593" in lines[-1] or "makespan 593" in lines[-2]
    assert "[pretrain-7b" in result.stdout
    # a mark without a name is explained under the chart, only when there is one
    for columns in (60, 100, 200):
        r = cli("report", problem, plan, "--view", "schedule", env={"COLUMNS": str(columns)})
        chart = r.stdout.splitlines()[1:]
        marks = any("▌" in x or "[]" in x for x in chart if "│" in x)
        assert chart[-1].strip() == "▌ and []: replicas too short for their names" or not marks
        assert marks or "makespan 593" in chart[-1]


def test_view_option_takes_a_list_and_rejects_unknown_names() -> None:
    problem, plan = _pair("inference-fleet")
    result = cli("report", problem, plan, "--view", "nodes,tasks", "-f", "json")
    assert result.exit_code == 0
    assert list(json.loads(result.stdout)) == ["nodes", "tasks"]
    bad = cli("report", problem, plan, "--view", "gantt")
    assert bad.exit_code == 2
    assert bad.stderr == "--view: unknown view 'gantt' (views: summary, nodes, tasks, schedule)\n"


def test_schedule_of_a_placement_problem_is_a_usage_error() -> None:
    problem, plan = _pair("inference-fleet")
    result = cli("report", problem, plan, "--view", "schedule")
    assert result.exit_code == 2
    assert "placement problem" in result.stderr and result.stdout == ""


def test_csv_takes_one_view() -> None:
    problem, plan = _pair("training-pipeline")
    result = cli("report", problem, plan, "--view", "nodes,tasks", "-f", "csv")
    assert result.exit_code == 2
    assert "one view" in result.stderr


@pytest.mark.parametrize(
    ("suffix", "check"),
    [
        (".json", lambda t: json.loads(t)["tasks"]),
        (".md", lambda t: t.startswith("## Tasks")),
        (".csv", lambda t: t.startswith("task,replicas,placed")),
        (".txt", lambda t: "Tasks (24 of 24 placed)" in t),
    ],
)
def test_output_suffix_chooses_the_format(tmp_path: Path, suffix: str, check) -> None:
    problem, plan = _pair("training-pipeline")
    out = tmp_path / f"tasks{suffix}"
    result = cli("report", problem, plan, "--view", "tasks", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    text = out.read_text()
    assert check(text)
    assert not ANSI.search(text)


def test_output_never_replaces_an_input(tmp_path: Path) -> None:
    problem, plan = _pair("inference-fleet")
    copy = tmp_path / "plan.yaml"
    copy.write_bytes(Path(plan).read_bytes())
    before = copy.read_bytes()
    result = cli("report", problem, str(copy), "--view", "nodes", "-o", str(copy))
    assert result.exit_code == 2
    assert "is an input of this command" in result.stderr
    assert copy.read_bytes() == before


def test_the_plans_are_greedy_plans_that_check() -> None:
    from taskalloc.problems.evaluate import check

    for example in EXAMPLE_NAMES:
        problem = read(f"examples/{example}.yaml")
        plan = read_plan(str(PLANS / f"{example}.plan.yaml"))
        assert plan.solver.name == "greedy" and plan.problem_sha256 == problem.sha256
        assert check(problem, plan).ok, example


def test_devices_in_every_format() -> None:
    """The device figures of the revision-2 example, solved by the greedy: the problem's
    devices, the plan's device indices, the evaluator's loads, in every format."""
    problem = read("examples/gpu-cluster.yaml")
    plan = read_plan(str(PLANS / "gpu-cluster.plan.yaml"))
    ev = evaluate(problem, plan.assignments)
    split = {n.id: dict(n.devices) for n in problem.nodes if n.devices}
    assert split  # the example splits GPUs into devices

    def out(view: str, fmt: str) -> str:
        return _render("gpu-cluster", [view], fmt)

    nodes = {n["node"]: n for n in json.loads(out("nodes", "json"))["nodes"]}
    assert {n for n, v in nodes.items() if "devices" in v} == set(split)
    for node_id, counts in split.items():
        for r, k in counts.items():
            dev = nodes[node_id]["devices"][r]
            assert dev["count"] == k
            assert dev["utilisation"] == pytest.approx(ev.device_utilisation[node_id][r])
    asg = {(a.task, a.replica): a for a in plan.assignments}
    for n in nodes.values():
        for rep in n["replicas"]:
            a = asg[(rep["task"], rep["replica"])]
            assert rep.get("devices", {}) == {r: list(i) for r, i in (a.devices or {}).items()}
    rows = {r["node"]: r for r in csv.DictReader(io.StringIO(out("nodes", "csv")))}
    node_id, counts = next(iter(split.items()))
    r = next(iter(counts))
    shown = [float(x) for x in rows[node_id][f"{r}_devices"].split()]
    assert shown == pytest.approx(ev.device_utilisation[node_id][r], abs=1e-6)
    a = next(a for a in plan.assignments if a.devices)
    (r, ids), *_ = a.devices.items()  # type: ignore[union-attr]
    where = f"{a.node} ({r} {','.join(str(i) for i in ids)})"
    assert where in out("tasks", "markdown")
    assert f"{r}: " in out("nodes", "markdown")  # the per-device utilisation line
    # the table draws one mark per device, as the summary's device table does
    from taskalloc.render import device_glyphs

    table = out("nodes", "table")
    assert f"{r} devices: one mark each" in table
    for node_id, counts in split.items():
        marks = device_glyphs(ev.device_utilisation[node_id][r])
        assert len(marks) == counts[r]
        assert re.search(rf"{re.escape(node_id)} .*│ {re.escape(marks)} +│", table)


def _unplaced_files(tmp_path: Path) -> tuple[Path, Path]:
    from tests.helpers import node, prob_dict, task, write_problem

    data = prob_dict(
        [
            node("gpu-node-alpha-01", {"cpu": 16, "memory": 64, "gpu": 2}),
            node("gpu-node-alpha-02", {"cpu": 16, "memory": 64, "gpu": 2}),
            node("cpu-node-beta-01", {"cpu": 32, "memory": 128}),
        ],
        [
            task(LONG_ID, {"cpu": 8, "memory": 48, "gpu": 2}, replicas=3, required=False),
            task("small", {"cpu": 30, "memory": 100}),
            task("huge-inference", {"cpu": 12, "memory": 70, "gpu": 1}, required=False),
        ],
    )
    problem = write_problem(tmp_path / "unplaced.yaml", data)
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-o", str(plan)).exit_code == 0
    return problem, plan


LONG_ID = "big-training-job-with-a-rather-long-name"


def test_at_80_columns_the_reasons_of_unplaced_tasks_get_the_full_width(tmp_path: Path) -> None:
    """At 80 columns a "why" column beside a long id would be a stub of a few words a line:
    the summary lists each unplaced task, its reason under it and each `node X: ...` detail
    under that, at the full width, wrapped lines kept under their first; the tasks view
    lists the reasons below its table."""
    problem, plan = _unplaced_files(tmp_path)
    ev = evaluate(read(str(problem)), read_plan(str(plan)).assignments)
    assert {u.task for u in ev.unplaced} == {LONG_ID, "huge-inference"}
    env = {"COLUMNS": "80", "NO_COLOR": "1"}
    result = cli("report", str(problem), str(plan), "--view", "summary,tasks", env=env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    start = lines.index("Unplaced tasks")
    listed = lines[start + 1 : lines.index("", start)]
    assert all(line == line.rstrip() for line in listed)  # no padding to the full width
    for u in ev.unplaced:
        head = listed.index(f"  {u.task} (optional)")
        body = listed[head + 1 :]
        end = next((i for i, line in enumerate(body) if not line.startswith("    ")), len(body))
        why = [line for line in body[:end] if not line.startswith("      ")]
        assert " ".join(line.strip() for line in why) == u.reason
        details = " ".join(line.strip() for line in body[:end] if line.startswith("      "))
        assert details == " ".join(u.details)
        assert len(body[:end]) > len(u.details) + 1 or len(u.reason) < 76  # moot otherwise
    tasks = lines[lines.index("Why unplaced") + 1 :]
    assert "why unplaced" not in result.stdout  # no column of stubs in the tasks table
    for u in ev.unplaced:
        head = tasks.index(f"  {u.task}")
        body = tasks[head + 1 :]
        end = next((i for i, line in enumerate(body) if not line.startswith("    ")), len(body))
        assert " ".join(line.strip() for line in body[:end]) == u.reason


def test_where_the_reasons_have_room_they_stay_in_the_tables(tmp_path: Path) -> None:
    """At 200 columns the "why" column is wide enough: the summary's table and the tasks
    view's column hold each reason on one line, details indented under it."""
    problem, plan = _unplaced_files(tmp_path)
    ev = evaluate(read(str(problem)), read_plan(str(plan)).assignments)
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    result = cli("report", str(problem), str(plan), "--view", "summary,tasks", env=env)
    assert result.exit_code == 0, result.stderr
    assert "Why unplaced" not in result.stdout and "why unplaced" in result.stdout
    rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
    for u in ev.unplaced:
        assert any(cells[1].strip() == u.task and cells[3].strip() == u.reason for cells in rows)
        assert any(cells[-2].strip() == u.reason for cells in rows)  # the tasks view
        for d in u.details:
            assert any(cells[3].rstrip() == f"   {d}" for cells in rows)
