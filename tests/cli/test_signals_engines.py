"""SIGINT and SIGTERM at fixed instants in every engine of the registry (and ``auto``): real
processes, real signals, a bounded sample of what ``benchmarks/bench_signals.py`` runs at random.

Whatever the instant (loading, model building, warm start, search, writing), the process exits
130 (or 0 when it ended before the signal came), says nothing like a traceback or a crash, and
its output is either the old file untouched or a complete plan that passes ``taskalloc check``;
no temporary file is left. A second signal soon after the first ends it the same way. The
timeouts are generous: the test never asserts on how fast it exits (the benchmark measures it).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskalloc.solvers import ENGINES

TASKALLOC = [sys.executable, "-m", "taskalloc"]
OLD = "old content, not a plan\n"
ENGINE_NAMES = [*ENGINES, "auto"]
#: (signal, seconds after the start, a second signal this much later or None): early (loading
#: or model building for most engines), later (the search: the best plan is written), and a
#: second signal while the first one is being honoured
SAMPLES = [
    (signal.SIGINT, 0.9, None),
    (signal.SIGTERM, 3.0, None),
    (signal.SIGINT, 2.0, 0.2),
]


@pytest.fixture(scope="module")
def problem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 tasks on 60 nodes: no engine finishes it in the few seconds a sample takes."""
    path = tmp_path_factory.mktemp("signals") / "fleet.yaml"
    with open(path, "wb") as fh:
        subprocess.run(
            [*TASKALLOC, "generate", "--tasks", "300", "--nodes", "60", "--seed", "5"],
            stdout=fh,
            check=True,
            timeout=120,
        )
    return path


def _interrupt(
    args: list[str], cwd: Path, sig: signal.Signals, at: float, again: float | None
) -> tuple[int, str, bool]:
    """Run ``taskalloc args``, send ``sig`` ``at`` seconds after the start (and again
    ``again`` seconds later); (exit code, stderr, whether a signal was sent before the end)."""
    proc = subprocess.Popen(
        [*TASKALLOC, *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        try:
            proc.wait(timeout=at)
            sent = False
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
            sent = True
            if again is not None:
                time.sleep(again)
                if proc.poll() is None:
                    proc.send_signal(sig)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err, sent


@pytest.mark.parametrize(("sig", "at", "again"), SAMPLES, ids=["early", "late", "twice"])
@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_signal_exits_130_with_a_checked_plan_or_none(
    tmp_path: Path,
    problem: Path,
    engine: str,
    sig: signal.Signals,
    at: float,
    again: float | None,
) -> None:
    out = tmp_path / "plan.yaml"
    out.write_text(OLD)
    args = ["solve", str(problem), "-s", engine, "-t", "20", "-o", str(out)]
    code, err, sent = _interrupt(args, tmp_path, sig, at, again)
    assert "Traceback" not in err and "terminate called" not in err, err
    # an engine that refuses the problem exits 2, whether or not the signal came first
    if code == 2 and "cannot plan this problem" in err:
        pytest.skip(f"-s {engine} does not take the generated problem: {err.strip()}")
    # a signal that reaches a command that had ended (its plan written, the interpreter
    # tearing down) is ignored by design (cli/running.settle): exit 0. Under load a fast
    # engine's whole run can take just about the signal's instant, so tell that case by what
    # the command said: it never began to stop, and its search ended before the signal.
    took = re.search(r" in ([0-9.]+) s;", err)
    ended_first = (
        code == 0
        and "plan written to" in err
        and "stopping" not in err
        and took is not None
        and float(took.group(1)) < at
    )
    assert code == (130 if sent and not ended_first else 0), err
    assert "interrupted" not in err or code == 130, err
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"
    if out.read_text() == OLD:  # stopped before any plan: the old output stays as it was
        return
    check = subprocess.run(
        [*TASKALLOC, "check", str(problem), str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert check.returncode == 0, check.stdout + check.stderr
