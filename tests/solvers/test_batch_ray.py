"""Batches on Ray (a local Ray with 2 CPUs, started once for the module): the same plans as the
local executor, a failing problem, a stuck one cancelled, a lost worker retried with its plan
written once. Marked ``ray`` (deselect with ``-m 'not ray'``); `make test` installs Ray."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskalloc.problems.generate import generate
from taskalloc.problems.plan import dumps, read_plan
from taskalloc.solvers.batch import (
    LocalExecutor,
    RayExecutor,
    find_problems,
    plan_items,
    run_batch,
)
from taskalloc.solvers.run import Outcome, SolveOptions
from tests import batch_targets
from tests.helpers import cli

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'taskalloc[ray]'")

pytestmark = pytest.mark.ray

BROKEN = "taskalloc: 1\nnodes: [\n"


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[Any]:
    from ray import cloudpickle

    ray.init(
        address="local",  # a new Ray, whatever runs on the machine or RAY_ADDRESS says
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    # the test targets travel by value: Ray workers need not import the tests package
    cloudpickle.register_pickle_by_value(batch_targets)
    yield ray
    cloudpickle.unregister_pickle_by_value(batch_targets)
    ray.shutdown()


def problems(directory: Path, names: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        text = BROKEN if "broken" in name else dumps(generate(10 + i, 4, seed=i))
        (directory / name).write_text(text)
    return directory


def test_same_plans_as_the_local_executor(tmp_path: Path) -> None:
    d = problems(tmp_path / "p", ["a.yaml", "b.yaml", "c.yaml", "broken.yaml"])
    opts = SolveOptions(solver="cpsat", deterministic=True, time_limit=10, workers=1, seed=3)
    outcomes = {}
    for name, ex in [("local", LocalExecutor(2)), ("ray", RayExecutor())]:
        items = plan_items(find_problems([str(d)]), tmp_path / name, "yaml")
        done, interrupted = run_batch(items, ex, opts)
        assert not interrupted
        outcomes[name] = {Path(x.item.file).name: x.result.outcome for x in done}
    assert outcomes["local"] == outcomes["ray"]
    assert outcomes["ray"]["broken.yaml"] == Outcome.BAD_INPUT
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == [
        "a.plan.yaml",
        "b.plan.yaml",
        "c.plan.yaml",
    ]
    for name in ["a", "b", "c"]:
        local = read_plan(str(tmp_path / "local" / f"{name}.plan.yaml"))
        remote = read_plan(str(tmp_path / "ray" / f"{name}.plan.yaml"))
        assert remote.assignments == local.assignments
        assert remote.solver.objective == local.solver.objective
        assert remote.problem_path == local.problem_path


def test_cli_batch_on_ray(tmp_path: Path) -> None:
    d = problems(tmp_path / "p", ["a.yaml", "b.yaml", "broken.yaml"])
    out = tmp_path / "out"
    result = cli(
        "solve", str(d), "--out-dir", str(out), "-s", "greedy", "--executor", "ray",
        "--format", "jsonl",
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    codes = {n: r["exit_code"] for n, r in rows.items()}
    assert codes == {"a.yaml": 0, "b.yaml": 0, "broken.yaml": 2}
    assert "on a local Ray" in result.stderr
    assert cli("check", rows["a.yaml"]["plan"]).exit_code == 0


def test_stuck_task_is_cancelled_and_the_batch_goes_on(tmp_path: Path) -> None:
    d = problems(tmp_path / "p", ["a.yaml", "hang.yaml", "z.yaml"])
    items = plan_items(find_problems([str(d)]), tmp_path / "out", "yaml")
    ex = RayExecutor(target=batch_targets.hang_or_solve, grace=lambda limit: 4.0)  # cold starts
    done, _ = run_batch(items, ex, SolveOptions(solver="greedy", time_limit=0.5))
    by = {Path(x.item.file).name: x for x in done}
    assert by["hang.yaml"].result.outcome == Outcome.TIMEOUT
    assert by["hang.yaml"].plan_written is None
    assert by["a.yaml"].result.outcome == by["z.yaml"].result.outcome == Outcome.OK
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.plan.yaml", "z.plan.yaml"]


def test_lost_worker_is_retried_and_the_plan_written_once(tmp_path: Path) -> None:
    d = problems(tmp_path / "p", ["a.yaml", "die.yaml"])
    items = plan_items(find_problems([str(d)]), tmp_path / "out", "yaml")
    ex = RayExecutor(target=batch_targets.die_once_or_solve)
    writes: list[str] = []
    done, _ = run_batch(
        items,
        ex,
        SolveOptions(solver="greedy"),
        on_done=lambda x: writes.append(Path(x.item.file).name),
    )
    assert sorted(writes) == ["a.yaml", "die.yaml"]  # one result each
    assert all(x.result.outcome == Outcome.OK for x in done)
    assert (d / "die.attempts").read_text() == "2"  # the first worker died, the retry solved it
    assert read_plan(str(tmp_path / "out" / "die.plan.yaml")).problem_path == str(d / "die.yaml")


def test_stop_cancels_running_tasks(tmp_path: Path) -> None:
    import threading

    d = problems(tmp_path / "p", ["a.yaml", "hang.yaml"])
    items = plan_items(find_problems([str(d)]), tmp_path / "out", "yaml")
    stop = threading.Event()
    ex = RayExecutor(target=batch_targets.hang_or_solve)
    done, interrupted = run_batch(
        items,
        ex,
        SolveOptions(solver="greedy"),
        stop=stop,
        on_done=lambda x: threading.Timer(0.3, stop.set).start(),
    )
    assert [Path(x.item.file).name for x in done] == ["a.yaml"]
    assert [Path(i.file).name for i in interrupted] == ["hang.yaml"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.plan.yaml"]


def test_a_partitioned_solve_on_ray_gives_the_local_plan(tmp_path: Path) -> None:
    from taskalloc import solvers
    from taskalloc.problems.compiler import problem_from_dict
    from taskalloc.solvers.result import checked_plan

    problem = problem_from_dict(generate(120, 12, seed=2))
    runs = {
        name: solvers.solve(problem, "greedy", partitions=2, executor=name, seed=1)
        for name in ("ray", "local")
    }
    assert runs["ray"].message is not None and "on Ray" in runs["ray"].message
    assert runs["ray"].assignments == runs["local"].assignments
    assert checked_plan(problem, runs["ray"])[1].feasible


def test_a_lost_part_on_ray_is_retried(tmp_path: Path) -> None:
    from taskalloc.problems.compiler import problem_from_dict
    from taskalloc.solvers.engine import Params
    from taskalloc.solvers.partition import PartitionOptions
    from taskalloc.solvers.partition import solve as solve_parts
    from taskalloc.solvers.partition.workers import make_executor
    from taskalloc.solvers.result import checked_plan

    data = generate(100, 12, seed=6)
    data["name"] = str(tmp_path / "die")
    problem = problem_from_dict(data)
    ex = make_executor("ray", 2, target=batch_targets.part_dies_once)
    res = solve_parts(
        problem, "greedy", Params(seed=1), {}, PartitionOptions(2, "ray"), executor=ex
    )
    assert (tmp_path / "die.attempts").read_text() == "2"
    assert res.options["partitions"]["parts"][0]["status"] != "internal"
    assert checked_plan(problem, res)[1].feasible
