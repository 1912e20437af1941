"""Batch solving with the local executor: plans, summary lines, exit codes, resuming, limits,
lost and stuck workers, interrupts, and nothing but data on stdout."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from taskalloc.cli.exits import BATCH_SEVERITY, ExitCode
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import dumps, read_plan
from taskalloc.problems.problem import load_problem
from taskalloc.solvers.batch import (
    Done,
    LocalExecutor,
    find_problems,
    plan_items,
    run_batch,
    worst,
)
from taskalloc.solvers.run import Outcome, SolveOptions
from tests.batch_targets import die_once_or_solve, hang_or_solve
from tests.helpers import DATA, ROOT, cli

sys.path.insert(0, str(ROOT / "benchmarks"))
from cloudgen import generate_cloud

BROKEN = "taskalloc: 1\nnodes: [\n"


def write(path: Path, data: Any, fmt: str = "yaml") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(data, fmt) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """valid YAML, valid JSON in a sub-directory, infeasible, broken YAML, a stray text file."""
    d = tmp_path / "problems"
    write(d / "a.yaml", generate(12, 4, seed=1))
    write(d / "sub" / "b.json", generate(8, 3, seed=2), "json")
    shutil.copy(DATA / "infeasible" / "too-big.yaml", d / "too-big.yaml")
    write(d / "broken.yaml", BROKEN)
    write(d / "notes.txt", "not a problem")
    return d


def rows_of(path: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_file = {Path(r["file"]).name: r for r in rows}
    assert len(by_file) == len(rows), "a problem was reported twice"
    return by_file


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


def test_mixed_directory_every_plan_summary_and_worst_exit(mixed: Path, tmp_path: Path) -> None:
    out, summary = tmp_path / "plans", tmp_path / "summary.jsonl"
    result = cli(
        "solve", str(mixed), "--out-dir", str(out), "-s", "greedy", "-j", "2",
        "--summary", str(summary),
    )  # fmt: skip
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr  # 2 outranks 3 (infeasible)
    assert result.stdout == ""
    rows = rows_of(summary)
    assert set(rows) == {"a.yaml", "b.json", "too-big.yaml", "broken.yaml"}  # no notes.txt
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml")) == [
        "a.plan.yaml",
        "sub/b.plan.yaml",
        "too-big.plan.yaml",
    ]
    assert no_temp_files(out)
    a, b, big, broken = rows["a.yaml"], rows["b.json"], rows["too-big.yaml"], rows["broken.yaml"]
    for r in (a, b):
        assert (r["status"], r["outcome"], r["exit_code"]) == ("feasible", "ok", 0)
        assert r["error"] is None
        plan = read_plan(r["plan"])
        assert r["objective"] == plan.solver.objective and r["solver"] == "greedy"
        assert r["seconds"] is not None and r["wall_seconds"] >= 0
        assert plan.problem_path == r["file"] and plan.problem_text is None
        # every plan checks against its problem, and `check PLAN` finds it by problem.path
        assert cli("check", r["plan"]).exit_code == 0
    assert (big["status"], big["exit_code"]) == ("infeasible", 3)
    assert read_plan(big["plan"]).infeasibility  # the proof is in the plan file
    assert "no plan can exist" in big["error"]
    assert (broken["status"], broken["outcome"], broken["exit_code"]) == ("error", "bad_input", 2)
    assert broken["plan"] is None and "YAML syntax error" in broken["error"]
    assert "broken.yaml:3:1" in broken["error"]
    # the closing table lists every file
    for name in rows:
        assert name in result.stderr


def test_worst_exit_code_order() -> None:
    order = [int(c) for c in BATCH_SEVERITY]
    assert worst([0, 3, 4], order) == 4
    assert worst([0, 3, 2, 4], order) == 2
    assert worst([0, 70, 2], order) == 70
    assert worst([130, 70], order) == 130
    assert worst([0, 0], order) == 0
    assert worst([], order) == 0


def test_infeasible_and_valid_exit_3(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", generate(5, 2, seed=3))
    big = shutil.copy(DATA / "infeasible" / "too-big.yaml", tmp_path / "big.yaml")
    result = cli("solve", str(a), str(big), "--out-dir", str(tmp_path / "out"), "-s", "greedy")
    assert result.exit_code == 3, result.stderr
    assert (tmp_path / "out" / "a.plan.yaml").exists()


def test_json_plans_and_jsonl_on_stdout(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "plans"
    (mixed / "broken.yaml").unlink()
    result = cli(
        "solve", str(mixed / "a.yaml"), str(mixed / "sub"), "--out-dir", str(out),
        "-s", "greedy", "-f", "json", "--summary", "-",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["file"]).name for r in sorted(rows, key=lambda r: r["file"])] == [
        "a.yaml",
        "b.json",
    ]
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [
        "a.plan.json",
        "b.plan.json",
    ]
    json.loads((out / "a.plan.json").read_text())


def test_skip_existing_resumes(tmp_path: Path) -> None:
    d = tmp_path / "p"
    for i in range(3):
        write(d / f"p{i}.yaml", generate(6, 3, seed=i))
    out = tmp_path / "out"
    first = cli("solve", str(d), "--out-dir", str(out), "-s", "greedy")
    assert first.exit_code == 0, first.stderr
    kept = (out / "p0.plan.yaml").read_bytes()
    (out / "p1.plan.yaml").unlink()
    summary = tmp_path / "s.jsonl"
    second = cli(
        "solve", str(d), "--out-dir", str(out), "-s", "greedy", "--skip-existing",
        "--summary", str(summary), "--seed", "5", env={"COLUMNS": "1000"},
    )  # fmt: skip
    assert second.exit_code == 0, second.stderr
    rows = rows_of(summary)
    assert [rows[f"p{i}.yaml"]["skipped_existing"] for i in range(3)] == [True, False, True]
    assert rows["p0.yaml"]["status"] == "feasible" and rows["p0.yaml"]["objective"]
    assert (out / "p0.plan.yaml").read_bytes() == kept  # untouched
    assert read_plan(str(out / "p1.plan.yaml")).solver.seed == 5  # solved again
    # a kept plan's progress line says so once, without a solve time it did not spend
    kept_line = next(x for x in second.stderr.splitlines() if "p0.yaml:" in x)
    assert kept_line.endswith(" (plan exists, skipped)"), kept_line


def test_an_out_dir_that_is_a_file_is_refused_before_the_batch(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", generate(3, 2))
    taken = tmp_path / "plans"
    taken.write_text("a file, not a directory")
    result = cli("solve", str(a), "--out-dir", str(taken), "-s", "greedy")
    assert result.exit_code == 2
    assert result.stderr == f"--out-dir {taken} exists and is not a directory\n"
    assert taken.read_text() == "a file, not a directory"


def test_same_plan_name_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "x" / "a.yaml", generate(3, 2))
    write(tmp_path / "y" / "a.json", generate(3, 2), "json")
    result = cli(
        "solve", str(tmp_path / "x" / "a.yaml"), str(tmp_path / "y" / "a.json"),
        "--out-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "would both write" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["A", "A2"], "need --out-dir"),
        (["A", "--jobs", "2"], "--jobs: for batches only"),
        (["A", "--summary", "s.jsonl"], "--summary: for batches only"),
        (["A", "-f", "jsonl"], "--format jsonl: for batches only"),
        (["A", "--executor", "ray"], "--executor: for batches only"),
        (["A", "--out-dir", "D", "-o", "x.yaml"], "-o and --hint are for one problem"),
        (["EMPTY", "--out-dir", "D"], "no problem files"),
        (["MISSING", "--out-dir", "D"], "no such file or directory"),
        (["A", "--out-dir", "D", "--ray-address", "x:1"], "--ray-address needs --executor ray"),
    ],
)
def test_batch_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    a = write(tmp_path / "a.yaml", generate(3, 2))
    (tmp_path / "empty").mkdir()
    names = {
        "A": str(a),
        "A2": str(a),
        "EMPTY": str(tmp_path / "empty"),
        "MISSING": str(tmp_path / "missing"),
        "D": str(tmp_path / "out"),
    }
    result = cli("solve", *[names.get(x, x) for x in args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_find_problems_skips_hidden_and_out_dir(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", generate(3, 2))
    write(tmp_path / ".hidden" / "h.yaml", generate(3, 2))
    write(tmp_path / ".c.yaml", generate(3, 2))
    write(tmp_path / "plans" / "old.plan.yaml", "x: 1\n")
    found = find_problems([str(tmp_path)], exclude=tmp_path / "plans")
    assert found == [(str(tmp_path / "a.yml"), "a")]
    items = plan_items(found, tmp_path / "plans", "json")
    assert items[0].plan_path == tmp_path / "plans" / "a.plan.json"


def test_total_time_limit_reached_skips_the_rest(tmp_path: Path) -> None:
    d = tmp_path / "p"
    for i in range(2):
        write(d / f"p{i}.yaml", generate(5, 2, seed=i))
    summary = tmp_path / "s.jsonl"
    result = cli(
        "solve", str(d), "--out-dir", str(tmp_path / "out"), "-s", "greedy",
        "--total-time-limit", "0", "--summary", str(summary),
    )  # fmt: skip
    assert result.exit_code == ExitCode.NO_PLAN
    rows = rows_of(summary)
    assert {r["status"] for r in rows.values()} == {"skipped"}
    assert all(r["plan"] is None and r["exit_code"] == 4 for r in rows.values())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_total_time_limit_caps_each_search(tmp_path: Path) -> None:
    """A problem starting with 1.5 s of the batch left gets a CP-SAT limit of at most that."""
    p = write(tmp_path / "cloud.json", generate_cloud(30, 90, seed=1), "json")
    items = plan_items(find_problems([str(p)]), tmp_path / "out", "yaml")
    opts = SolveOptions(solver="cpsat", time_limit=60, workers=1)
    done, _ = run_batch(items, LocalExecutor(1), opts, total_time_limit=1.5)
    assert [d.result.outcome for d in done] == [Outcome.OK]
    plan = read_plan(str(items[0].plan_path))
    assert 0 < plan.solver.options["time_limit"] <= 1.5


def _library_batch(
    tmp_path: Path, names: list[str], executor: Any, opts: SolveOptions
) -> tuple[list[Done], list[Any]]:
    for name in names:
        write(tmp_path / "p" / name, generate(6, 3, seed=len(name)))
    items = plan_items(find_problems([str(tmp_path / "p")]), tmp_path / "out", "yaml")
    return run_batch(items, executor, opts)


def test_stuck_job_is_killed_and_the_batch_goes_on(tmp_path: Path) -> None:
    # the kill clock starts when a job is handed to its worker, whose start (a fresh process
    # loading numpy and the problem model) counts: the grace covers that on a loaded machine
    # (0.5 s did not: a.yaml was killed too)
    ex = LocalExecutor(2, target=hang_or_solve, grace=lambda limit: 4.0)
    opts = SolveOptions(solver="greedy", time_limit=0.5)
    done, interrupted = _library_batch(tmp_path, ["a.yaml", "hang.yaml", "c.yaml"], ex, opts)
    assert not interrupted
    by = {Path(d.item.file).name: d for d in done}
    assert by["hang.yaml"].result.outcome == Outcome.TIMEOUT
    assert by["hang.yaml"].plan_written is None
    assert by["a.yaml"].result.outcome == by["c.yaml"].result.outcome == Outcome.OK
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.plan.yaml", "c.plan.yaml"]


def test_lost_worker_is_retried_and_the_plan_written_once(tmp_path: Path) -> None:
    ex = LocalExecutor(1, target=die_once_or_solve)
    opts = SolveOptions(solver="greedy")
    done, _ = _library_batch(tmp_path, ["a.yaml", "die.yaml"], ex, opts)
    assert sorted(Path(d.item.file).name for d in done) == ["a.yaml", "die.yaml"]
    assert all(d.result.outcome == Outcome.OK for d in done)
    assert (tmp_path / "p" / "die.attempts").read_text() == "2"
    plan = read_plan(str(tmp_path / "out" / "die.plan.yaml"))
    problem = load_problem(str(tmp_path / "p" / "die.yaml"))
    assert plan.problem_sha256 == problem.sha256


def test_worker_lost_twice_is_an_internal_error(tmp_path: Path) -> None:
    ex = LocalExecutor(1, target=die_once_or_solve, retries=0)
    done, _ = _library_batch(tmp_path, ["die.yaml", "z.yaml"], ex, SolveOptions(solver="greedy"))
    by = {Path(d.item.file).name: d for d in done}
    assert by["die.yaml"].result.outcome == Outcome.INTERNAL
    assert "worker process died" in (by["die.yaml"].result.message or "")
    assert by["z.yaml"].result.outcome == Outcome.OK  # a fresh worker took over


def test_stop_event_abandons_running_jobs(tmp_path: Path) -> None:
    ex = LocalExecutor(1, target=hang_or_solve)
    stop = threading.Event()
    for name in ["a.yaml", "hang.yaml", "z.yaml"]:
        write(tmp_path / "p" / name, generate(4, 2))
    items = plan_items(find_problems([str(tmp_path / "p")]), tmp_path / "out", "yaml")

    def on_done(d: Done) -> None:
        threading.Timer(0.5, stop.set).start()

    done, interrupted = run_batch(
        items, ex, SolveOptions(solver="greedy"), stop=stop, on_done=on_done
    )
    assert [Path(d.item.file).name for d in done] == ["a.yaml"]
    assert [Path(i.file).name for i in interrupted] == ["hang.yaml"]


def _taskalloc(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "taskalloc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_stdout_is_only_jsonl_in_a_real_process(tmp_path: Path) -> None:
    """OR-Tools backends print banners on file descriptor 1 (HiGHS does): never on stdout."""
    d = tmp_path / "p"
    write(d / "a.yaml", generate(8, 3, seed=1))
    write(d / "b.yaml", generate(8, 3, seed=2))
    write(d / "bad.yaml", BROKEN)
    proc = _taskalloc(
        "solve", str(d), "--out-dir", str(tmp_path / "out"), "-f", "jsonl",
        "-s", "mip", "--backend", "ortools-highs", "-t", "10", "-j", "2",
    )  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(Path(r["file"]).name for r in rows) == ["a.yaml", "b.yaml", "bad.yaml"]
    assert sum(r["exit_code"] == 0 for r in rows) == 2


def test_interrupt_keeps_finished_plans_then_resume(tmp_path: Path) -> None:
    """SIGINT mid-batch: finished plans stay, the running problem is abandoned (no plan), the
    summary so far is written, exit 130; --skip-existing then solves only what is missing."""
    d = tmp_path / "p"
    write(d / "a.yaml", generate(6, 3, seed=1))
    write(d / "b.json", generate_cloud(100, 300, seed=3), "json")  # CP-SAT will not finish
    out, summary = tmp_path / "out", tmp_path / "s.jsonl"
    proc = _taskalloc(
        "solve", str(d), "--out-dir", str(out), "-s", "cpsat", "-t", "60", "-j", "1",
        "--summary", str(summary), env={**os.environ, "COLUMNS": "1000"},  # a line each
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "a.plan.yaml").exists():
        time.sleep(0.1)
    time.sleep(1.0)  # b is being solved
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert stdout == ""
    rows = rows_of(summary)
    assert rows["a.yaml"]["exit_code"] == 0
    assert (rows["b.json"]["status"], rows["b.json"]["exit_code"]) == ("interrupted", 130)
    assert sorted(p.name for p in out.iterdir()) == ["a.plan.yaml"]
    assert f"[2/2] {d / 'b.json'}: interrupted\n" in err  # said once, no made-up 0.00 s
    resumed = cli(
        "solve", str(d), "--out-dir", str(out), "-s", "greedy", "--skip-existing",
        "--summary", str(summary),
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.stderr
    rows = rows_of(summary)
    assert rows["a.yaml"]["skipped_existing"] and not rows["b.json"]["skipped_existing"]
    assert rows["b.json"]["solver"] == "greedy"


def test_ray_absent_is_a_clear_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when it is not installed
    a = write(tmp_path / "a.yaml", generate(3, 2))
    result = cli("solve", str(a), "--out-dir", str(tmp_path / "out"), "--executor", "ray")
    assert result.exit_code == 2
    assert "pip install 'taskalloc[ray]'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_unreachable_ray_cluster_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    fake = types.ModuleType("ray")

    def init(**kw: Any) -> None:
        raise ConnectionError(f"Failed to connect to Ray cluster at {kw['address']}")

    fake.is_initialized = lambda: False
    fake.init = init
    monkeypatch.setitem(sys.modules, "ray", fake)
    a = write(tmp_path / "a.yaml", generate(3, 2))
    result = cli(
        "solve", str(a), "--out-dir", str(tmp_path / "out"), "--executor", "ray",
        "--ray-address", "10.1.2.3:6379",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot connect to the Ray cluster at 10.1.2.3:6379" in result.stderr
    assert "RAY_AUTH_MODE=token" in result.stderr


def test_progress_lines_fit_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's progress line (file, status, objective, time) breaks at words to fit the
    terminal, its time kept whole: `(0.09 s)`, never `(0.09` and `s)`."""
    monkeypatch.chdir(tmp_path)
    for i in range(2):
        write(Path("problems-with-a-long-directory-name") / f"scheduling-{i}.yaml",
              generate(8, 3, seed=i, scheduling=True))  # fmt: skip
    args = ["solve", "problems-with-a-long-directory-name", "--out-dir", "out", "-s", "greedy"]
    result = cli(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("[")]
    assert len(starts) == 2
    for i in starts:
        end = next(j for j in range(i + 1, len(lines)) if not lines[j].startswith("    "))
        entry = lines[i:end]
        assert len(entry) > 1  # else this test is moot
        assert all(len(line) <= 80 for line in entry), entry
        assert re.search(r"\(\d+\.\d\d s\)$", entry[-1]), entry
