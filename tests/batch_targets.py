"""Worker targets for batch tests: the real :func:`run_spec`, except for problems whose name
asks for trouble. Importable by worker processes (and pickled by value for Ray)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from taskalloc.solvers.batch import Spec, run_spec
from taskalloc.solvers.run import RunResult


def hang_or_solve(spec: Spec) -> RunResult:
    """A problem named ``*hang*`` never returns (as a solver stuck past its limit would)."""
    if "hang" in spec.name:
        time.sleep(3600)
    return run_spec(spec)


def die_once_or_solve(spec: Spec) -> RunResult:
    """A problem named ``*die*`` kills its own worker process on the first attempt (a lost
    worker); the marker file next to the problem records the attempts."""
    if "die" in spec.name:
        marker = Path(spec.name).with_suffix(".attempts")
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        if attempts == 0:
            os.kill(os.getpid(), signal.SIGKILL)
    return run_spec(spec)


def registered_run_spec(spec: Spec) -> RunResult:
    """:func:`run_spec` with the example engine of tests/example_engine.py registered (as a
    new engine's registry line would be in the worker's source)."""
    from taskalloc import solvers

    solvers.ENGINES.setdefault("firstfit", "tests.example_engine")
    return run_spec(spec)


def _part_marker(spec: Spec) -> Path | None:
    """For a part 1 of a partitioned solve whose problem is named ``<path>/die...``: the
    marker file counting its attempts (``<path>/die....attempts``)."""
    head, sep, _ = spec.name.partition(" part 1/")
    if not sep or "die" not in Path(head).name:
        return None
    return Path(head + ".attempts")


def part_dies_once(spec: Spec) -> RunResult:
    """Part 1 of a problem named ``*die*`` kills its worker on its first attempt."""
    marker = _part_marker(spec)
    if marker is not None:
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        if attempts == 0:
            os.kill(os.getpid(), signal.SIGKILL)
    return run_spec(spec)


def part_always_dies(spec: Spec) -> RunResult:
    """Part 1 of a problem named ``*die*`` kills its worker on every attempt."""
    marker = _part_marker(spec)
    if marker is not None:
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        os.kill(os.getpid(), signal.SIGKILL)
    return run_spec(spec)


def part_hangs(spec: Spec) -> RunResult:
    """Part 1 of a problem named ``*hang*`` never returns (a part past its deadline)."""
    head, sep, _ = spec.name.partition(" part 1/")
    if sep and "hang" in Path(head).name:
        time.sleep(3600)
    return run_spec(spec)


def part_drops_tasks(spec: Spec) -> RunResult:
    """Part 1 of a problem named ``*drop*`` solves, then returns its plan without its first
    three tasks (a part that left required tasks unplaced)."""
    import json
    from dataclasses import replace

    result = run_spec(spec)
    head, sep, _ = spec.name.partition(" part 1/")
    if not sep or "drop" not in Path(head).name or result.plan_text is None:
        return result
    plan = json.loads(result.plan_text)
    tasks = sorted({a["task"] for a in plan.get("assignments") or []})[:3]
    plan["assignments"] = [a for a in plan["assignments"] if a["task"] not in tasks]
    return replace(result, plan_text=json.dumps(plan))
