"""`taskalloc simulate`: the online replay from the command line. The plan on stdout or -o and
the summary on stderr, every policy's plan accepted by `check`, the allocation curve in the
plan, bad input in one line, a dropped required task (exit 4), Ctrl-C mid-replay (exit 130 with
the plan of the tasks that arrived), never over an input."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskalloc.cli.simulate import SimulatePolicy, SimulateQueue
from taskalloc.problems.openb import import_openb
from tests.helpers import DATA, cli

OPENB = DATA / "openb"


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Summary lines one each (at 80 columns they break at words: test_a_long_summary_line...)."""
    monkeypatch.setenv("COLUMNS", "1000")


def openb_problem(tmp_path: Path, pods: str = "pods.csv") -> Path:
    out = tmp_path / "cluster.yaml"
    data = import_openb(str(OPENB / "nodes.csv"), str(OPENB / pods)).problem
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def write(tmp_path: Path, data: dict[str, Any], name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def gpu_cluster(tasks: list[dict[str, Any]], nodes: int = 2) -> dict[str, Any]:
    return {
        "taskalloc": 1,
        "nodes": [
            {
                "id": "g",
                "count": nodes,
                "capacity": {"cpu": 16, "memory": 64, "gpu": 2},
                "devices": {"gpu": 2},
            }
        ],
        "tasks": tasks,
    }


def task(tid: str, gpu: float, cpu: float = 1, **extra: Any) -> dict[str, Any]:
    demand: dict[str, float] = {"cpu": cpu, "memory": 1}
    if gpu:
        demand["gpu"] = gpu
    return {"id": tid, "demand": demand, "required": False, "priority": gpu or 1, **extra}


def test_the_plan_goes_to_o_and_the_summary_to_stderr(tmp_path):
    problem = openb_problem(tmp_path)
    plan_path = tmp_path / "plan.yaml"
    r = cli("simulate", str(problem), "--policy", "fgd", "--seed", "3", "-o", str(plan_path))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("fgd: 6 of 6 tasks arrived, ")
    assert f"plan written to {plan_path}" in r.stderr
    plan = yaml.safe_load(plan_path.read_text())
    assert plan["solver"]["name"] == "simulate" and plan["solver"]["seed"] == 3
    assert plan["solver"]["options"] == {"policy": "fgd"}
    sim = plan["metrics"]["simulation"]
    assert sim["kind"] == "placement" and sim["policy"] == "fgd" and sim["seed"] == 3
    assert sim["arrived"] == 6 and sim["placed"] + sim["dropped"] == 6 and not sim["stopped"]
    curve = sim["curve"]
    assert len(curve["arrived_percent"]) == len(curve["allocated_percent"]) == 6
    assert curve["arrived_percent"] == sorted(curve["arrived_percent"])
    assert sim["devices"] == 18 and sim["resource"] == "gpu"
    # the curve's last point is the plan's GPU utilisation
    assert curve["allocated_percent"][-1] == pytest.approx(
        100 * plan["metrics"]["fleet_utilisation"]["gpu"], abs=0.01
    )
    assert len(plan["assignments"]) == sim["placed"]
    checked = cli("check", str(problem), str(plan_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("policy", [p.value for p in SimulatePolicy])
def test_every_policy_writes_a_plan_check_accepts(tmp_path, policy):
    problem = openb_problem(tmp_path, "pods_big.csv")
    r = cli("simulate", str(problem), "--policy", policy, "--seed", "1", "-f", "json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)  # stdout holds the plan, and only it
    assert plan["metrics"]["simulation"]["policy"] == policy
    assert r.stderr.startswith(f"{policy}: 8 of 8 tasks arrived")
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(r.stdout)
    checked = cli("check", str(problem), str(plan_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_the_cli_offers_exactly_the_replays_policies():
    from taskalloc.solvers.online import POLICIES
    from taskalloc.solvers.simulation import REPLAYS, load_replay

    assert list(REPLAYS) == ["placement", "scheduling"]
    assert [p.value for p in SimulatePolicy] == list(POLICIES)
    assert list(load_replay("placement").policies) == list(POLICIES)
    assert set(load_replay("scheduling").policies) <= set(POLICIES)
    assert [q.value for q in SimulateQueue] == list(load_replay("scheduling").Options.queue_names)


def test_the_figure_at_arrived_100_is_printed_and_recorded(tmp_path):
    # 4 GPUs; four whole-GPU tasks arrive one at a time: arrived 25, 50, 75, 100, 125 %
    data = gpu_cluster([task(f"w{i}", 1) for i in range(5)])
    r = cli("simulate", str(write(tmp_path, data)), "--policy", "best-fit")
    assert r.exit_code == 0, r.stderr
    assert "gpu allocated at arrived = 100 %: 100.00 %" in r.stderr
    sim = yaml.safe_load(r.stdout)["metrics"]["simulation"]
    assert sim["allocated_at_arrived_100"] == 100.0
    assert sim["curve"]["arrived_percent"] == [25.0, 50.0, 75.0, 100.0, 125.0]
    assert sim["curve"]["allocated_percent"] == [25.0, 50.0, 75.0, 100.0, 100.0]


def test_shares_are_placed_on_devices_as_the_policy_chooses(tmp_path):
    # gpu-packing puts the second share on the partly used device, not a free one
    data = gpu_cluster([task("a", 0.5), task("b", 0.25)], nodes=1)
    r = cli("simulate", str(write(tmp_path, data)), "--policy", "gpu-packing")
    assert r.exit_code == 0, r.stderr
    plan = yaml.safe_load(r.stdout)
    devices = {a["task"]: a["devices"]["gpu"] for a in plan["assignments"]}
    assert devices == {"a": [0], "b": [0]}


def test_a_problem_without_devices_is_replayed_without_a_curve(tmp_path):
    data = {
        "taskalloc": 1,
        "nodes": [{"id": "a", "capacity": {"cpu": 4}}, {"id": "b", "capacity": {"cpu": 8}}],
        "tasks": [{"id": f"t{i}", "demand": {"cpu": 3}, "required": False} for i in range(4)],
    }
    r = cli("simulate", str(write(tmp_path, data)), "--policy", "first-fit")
    assert r.exit_code == 0, r.stderr
    assert "no resource is split into devices" in r.stderr
    plan = yaml.safe_load(r.stdout)
    # first-fit: a takes t0, b takes t1 and t2, t3 is dropped
    assert [(a["task"], a["node"]) for a in plan["assignments"]] == [
        ("t0", "a"),
        ("t1", "b"),
        ("t2", "b"),
    ]
    assert [u["task"] for u in plan["unplaced"]] == ["t3"]
    assert "curve" not in plan["metrics"]["simulation"]


def test_quiet_keeps_only_the_plan(tmp_path):
    problem = openb_problem(tmp_path)
    r = cli("-q", "simulate", str(problem), "--policy", "random")
    assert r.exit_code == 0 and r.stderr == ""
    assert yaml.safe_load(r.stdout)["solver"]["name"] == "simulate"


def test_a_dropped_required_task_exits_4_with_the_plan(tmp_path):
    data = gpu_cluster([task("w0", 2), task("w1", 2), task("must", 1, required=True)], nodes=2)
    plan_path = tmp_path / "plan.yaml"
    r = cli("simulate", str(write(tmp_path, data)), "--policy", "fgd", "-o", str(plan_path))
    assert r.exit_code == 4
    assert "required task dropped on arrival: must" in r.stderr
    plan = yaml.safe_load(plan_path.read_text())
    assert plan["solver"]["status"] == "unknown"
    assert [u["task"] for u in plan["unplaced"]] == ["must"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "worst-fit"], "'worst-fit' is not one of"),
        ([], "Missing option '--policy'"),
        (["--policy", "fgd", "--seed", "x"], "Invalid value for '--seed'"),
    ],
)
def test_bad_flags_exit_2(tmp_path, args, message):
    problem = openb_problem(tmp_path)
    r = cli("simulate", str(problem), *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert message in r.stderr


def test_problems_the_replay_does_not_model_are_refused_in_one_line(tmp_path):
    sched = {
        "taskalloc": 1,
        "nodes": [{"id": "a", "capacity": {"cpu": 4}}],
        "tasks": [{"id": "t", "demand": {"cpu": 1}, "duration": 3}],
    }
    r = cli("simulate", str(write(tmp_path, sched)), "--policy", "fgd")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "--policy: 'fgd' is not a policy of the scheduling replay (its policies: least-loaded, "
        "best-fit, first-fit)"
    ]
    replicas = gpu_cluster([task("r", 1, replicas=2)])
    r = cli("simulate", str(write(tmp_path, replicas)), "--policy", "fgd")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "simulate cannot replay this problem: task r has 2 replicas; each task must be one "
        "replica placed on its own"
    ]


def test_a_broken_problem_is_a_located_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("taskalloc: 1\nnodes:\n  - id: a\n    capacity: {cpu: -1}\ntasks: []\n")
    r = cli("simulate", str(bad), "--policy", "fgd")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"{bad}:4:")


def test_never_writes_over_its_input(tmp_path):
    problem = openb_problem(tmp_path)
    before = problem.read_bytes()
    r = cli("simulate", str(problem), "--policy", "fgd", "-o", str(problem))
    assert r.exit_code == 2 and "input" in r.stderr
    assert problem.read_bytes() == before


def test_help_says_where_best_fit_differs_from_the_greedys():
    r = cli("simulate", "--help", env={"COLUMNS": "80"})
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert "not the greedy's best-fit of `solve --policy`" in text
    for policy in SimulatePolicy:
        assert policy.value in text
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_ctrl_c_mid_replay_writes_the_plan_of_the_arrived_tasks(tmp_path, monkeypatch):
    """A real SIGINT at the 300th placement: the replay, which polls every 256 arrivals, stops
    at arrival 512; the plan holds those tasks and passes check; exit 130."""
    from taskalloc.solvers.online.state import ClusterState

    data = gpu_cluster([task(f"t{i}", 0.1) for i in range(1000)], nodes=60)
    problem = write(tmp_path, data)
    real_place = ClusterState.place
    placed = [0]

    def place(self: Any, *args: Any, **kw: Any) -> Any:
        placed[0] += 1
        if placed[0] == 300:
            os.kill(os.getpid(), signal.SIGINT)
        elif 300 < placed[0] < 512:
            time.sleep(0.005)  # the watcher thread sets the stop before the poll at 512
        return real_place(self, *args, **kw)

    monkeypatch.setattr(ClusterState, "place", place)
    plan_path = tmp_path / "plan.yaml"
    r = cli("simulate", str(problem), "--policy", "best-fit", "-o", str(plan_path))
    assert r.exit_code == 130, r.stderr
    assert "stopping: keeping the plan of the tasks that arrived so far" in r.stderr
    assert "interrupted: the plan holds the tasks that arrived before the stop" in r.stderr
    plan = yaml.safe_load(plan_path.read_text())
    sim = plan["metrics"]["simulation"]
    assert sim["stopped"] and sim["arrived"] == 512 and sim["placed"] == 512
    assert len(plan["assignments"]) == 512
    assert {a["task"] for a in plan["assignments"]} == {f"t{i}" for i in range(512)}
    assert len(plan["unplaced"]) == 488
    assert {u["reason"] for u in plan["unplaced"]} == {
        "not arrived: the replay was stopped before it"
    }
    monkeypatch.undo()
    checked = cli("check", str(problem), str(plan_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_a_problem_on_stdin_is_embedded_so_check_needs_the_plan_alone(tmp_path):
    problem = openb_problem(tmp_path)
    r = cli("simulate", "-", "--policy", "gpu-packing", input=problem.read_text())
    assert r.exit_code == 0, r.stderr
    plan = yaml.safe_load(r.stdout)
    assert plan["problem"]["text"] == problem.read_text() and "path" not in plan["problem"]
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(r.stdout)
    checked = cli("check", str(plan_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


# -- scheduling problems: the online dispatcher ----------------------------------------------

SCHED = {
    "taskalloc": 1,
    "nodes": [{"id": "a", "capacity": {"cpu": 4}}, {"id": "b", "capacity": {"cpu": 2}}],
    "tasks": [
        {"id": "t1", "demand": {"cpu": 2}, "duration": 4, "required": False},
        {"id": "t2", "demand": {"cpu": 2}, "duration": 1, "priority": 3, "required": False},
        {"id": "t3", "demand": {"cpu": 2}, "duration": 2, "after": ["t1"], "required": False},
        {
            "id": "t4",
            "demand": {"cpu": 4},
            "duration": 2,
            "release": 1,
            "deadline": 4,
            "required": False,
        },
    ],
}


@pytest.mark.parametrize("policy", ["least-loaded", "best-fit", "first-fit"])
@pytest.mark.parametrize("queue", [q.value for q in SimulateQueue])
def test_a_scheduling_problem_is_dispatched_and_its_plan_passes_check(tmp_path, policy, queue):
    problem = write(tmp_path, SCHED)
    out = tmp_path / "plan.yaml"
    r = cli("simulate", str(problem), "--policy", policy, "--queue", queue, "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and r.stderr.startswith(f"{policy}, queue {queue}: ")
    plan = yaml.safe_load(out.read_text())
    sim = plan["metrics"]["simulation"]
    assert sim["kind"] == "scheduling" and sim["queue"] == queue and sim["makespan"] == 6
    # best-fit with fifo puts t1 on b and leaves a empty for t4 at 1; the others miss t4's
    # deadline (the hand traces: tests/solvers/online/test_schedule.py)
    if (policy, queue) == ("best-fit", "fifo"):
        assert plan.get("unplaced", []) == [] and sim["missed_deadline"] == 0
    else:
        assert [u["task"] for u in plan["unplaced"]] == ["t4"]
        assert plan["unplaced"][0]["reason"].startswith("missed its deadline: t4 must end by 4")
        assert "1 missed their deadline" in r.stderr
    checked = cli("check", str(problem), str(out))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_queue_on_a_placement_problem_is_refused_in_one_line(tmp_path):
    problem = write(tmp_path, gpu_cluster([task("a", 1)]))
    r = cli("simulate", str(problem), "--policy", "first-fit", "--queue", "fifo")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        "--queue: for scheduling problems only; this is a placement problem (its tasks arrive "
        "in file order)"
    )  # not "-O queue: not an option of the placement replay (it takes seed, stop)"


def test_a_missed_required_task_exits_4_with_the_plan(tmp_path):
    data = {**SCHED, "tasks": [{**t, "required": True} for t in SCHED["tasks"]]}
    r = cli("simulate", str(write(tmp_path, data)), "--policy", "first-fit")
    assert r.exit_code == 4
    assert "required tasks not started: t4" in r.stderr
    assert yaml.safe_load(r.stdout)["solver"]["status"] == "unknown"


def test_ctrl_c_mid_dispatch_writes_the_plan_of_the_started_tasks(tmp_path, monkeypatch):
    """A real SIGINT as the 30th task starts: the dispatcher stops at an event soon after (the
    signal reaches the stop event asynchronously); the plan holds the tasks started until then
    and passes check; exit 130."""
    from taskalloc.solvers.online.schedule import _State

    data = {
        "taskalloc": 1,
        "nodes": [{"id": "a", "capacity": {"cpu": 1}}],
        "tasks": [
            {"id": f"t{i}", "demand": {"cpu": 1}, "duration": 1, "required": False}
            for i in range(100)
        ],
    }
    problem = write(tmp_path, data)
    real_take = _State.take
    started = [0]

    def take(self: Any, task: Any, n: int, devices: Any, sign: float) -> None:
        if sign > 0:
            started[0] += 1
            if started[0] == 30:
                os.kill(os.getpid(), signal.SIGINT)
            elif started[0] > 30:
                time.sleep(0.05)  # leave the watcher thread time to set the stop (was flaky)
        real_take(self, task, n, devices, sign)

    monkeypatch.setattr(_State, "take", take)
    plan_path = tmp_path / "plan.yaml"
    r = cli("simulate", str(problem), "--policy", "first-fit", "-o", str(plan_path))
    assert r.exit_code == 130, r.stderr
    assert "interrupted: the plan holds the tasks that arrived before the stop" in r.stderr
    plan = yaml.safe_load(plan_path.read_text())
    assert plan["metrics"]["simulation"]["stopped"]
    k = len(plan["assignments"])
    assert 30 <= k < 100
    assert [a["task"] for a in plan["assignments"]] == [f"t{i}" for i in range(k)]
    assert len(plan["unplaced"]) == 100 - k
    assert {u["reason"] for u in plan["unplaced"]} == {
        "not arrived: the replay was stopped before it"
    }
    monkeypatch.undo()
    checked = cli("check", str(problem), str(plan_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_against_a_plan_gives_the_gap_term_by_term(tmp_path):
    """First-fit misses t4's deadline; the hand plan (best-fit's trace) places every task by 6:
    unplaced 1 vs 0, makespan 6 vs 6, tardiness 0 vs 0."""
    import taskalloc
    from taskalloc.problems.plan import Assignment
    from tests.helpers import make

    problem = write(tmp_path, SCHED)
    p = taskalloc.load(str(problem))
    hand = [
        Assignment("t1", 0, "b", start=0, end=4),
        Assignment("t2", 0, "a", start=0, end=1),
        Assignment("t4", 0, "a", start=1, end=3),
        Assignment("t3", 0, "b", start=4, end=6),
    ]
    best = tmp_path / "best.yaml"
    taskalloc.write_plan(make(p, hand), best)
    out = tmp_path / "online.yaml"
    args = ["--policy", "first-fit", "--against", str(best), "-o", str(out)]
    r = cli("simulate", str(problem), *args)
    assert r.exit_code == 0, r.stderr
    line = "against best.yaml (test): unplaced 1 vs 0, makespan 6 vs 6 (+0.0 %), tardiness 0 vs 0"
    assert line in r.stderr.splitlines()
    gap = yaml.safe_load(out.read_text())["metrics"]["simulation"]["against"]
    assert gap["plan"] == "best.yaml" and gap["same_problem"] and gap["feasible"]
    assert gap["terms"]["unplaced"] == {"online": 1, "plan": 0, "gap": None}
    assert gap["terms"]["makespan"] == {"online": 6, "plan": 6, "gap": 0}
    # the report says it too
    rep = cli("report", str(problem), str(out))
    assert "against best.yaml (test): unplaced 1 vs 0" in " ".join(rep.stdout.split())
    page = tmp_path / "online.html"
    assert cli("report", str(problem), str(out), "--html", str(page)).exit_code == 0
    html = page.read_text()
    assert "<h3>Against best.yaml (solver test)</h3>" in html
    assert "<tr><td>makespan</td><td class='num'>6</td><td class='num'>6</td>" in html
    # never written over the plan it compares with
    r = cli(
        "simulate", str(problem), "--policy", "first-fit", "--against", str(best), "-o", str(best)
    )
    assert r.exit_code == 2 and taskalloc.read_plan(str(best)).solver.name == "test"


def test_seed_on_a_scheduling_problem_is_a_warning(tmp_path):
    problem = write(tmp_path, SCHED)
    r = cli("simulate", str(problem), "--policy", "first-fit", "--seed", "3")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "warning: --seed has no effect on a scheduling problem: its replay draws nothing at random"
    )
    again = cli("simulate", str(problem), "--policy", "first-fit")
    assert "warning" not in again.stderr
    # the plans differ only in the seed recorded
    a, b = yaml.safe_load(r.stdout), yaml.safe_load(again.stdout)
    assert a["assignments"] == b["assignments"]


def test_a_long_summary_line_breaks_at_words_to_fit_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay's summary lines (the figure at arrived = 100 %, the gap to --against's plan)
    are longer than 80 columns: they break at words, the rest hung deeper, nothing lost."""
    problem = openb_problem(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["simulate", problem.name, "--policy", "fgd", "-o", "p.yaml"]
    wide = cli(*args, env={"COLUMNS": "1000"})
    narrow = cli(*args, env={"COLUMNS": "80"})
    assert wide.exit_code == narrow.exit_code == 0, narrow.stderr
    long = [line for line in wide.stderr.splitlines() if len(line) > 80]
    assert long  # else this test is moot
    lines = narrow.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    joined = []
    for line in lines:
        if line.startswith("    "):
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    seconds = re.compile(r"\d+\.\d\d s\)")  # the two runs' times differ
    assert [seconds.sub("T s)", x) for x in joined] == [
        seconds.sub("T s)", x) for x in wide.stderr.splitlines()
    ]
