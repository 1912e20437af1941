"""Ctrl-C or SIGTERM during a search: the best plan so far is written, status feasible, exit 130.

Real processes and real signals: a 100-computer cloud-balancing problem that CP-SAT does not
finish proving within the test, interrupted once the search runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from cloudgen import generate_cloud


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_writes_best_plan_and_exits_130(tmp_path: Path, sig: signal.Signals) -> None:
    problem = tmp_path / "cloud.json"
    problem.write_text(json.dumps(generate_cloud(100, 300, seed=3)))
    plan = tmp_path / "plan.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskalloc",
            "solve",
            str(problem),
            "-s",
            "cpsat",
            "-t",
            "60",
            "-o",
            str(plan),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait until the search reports an incumbent, then interrupt it
    deadline = time.monotonic() + 30
    seen = ""
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "incumbent" in line:
            break
    else:
        proc.kill()
        pytest.fail(f"no progress line within 30 s: {seen!r}")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, seen + err
    assert out == ""
    assert "interrupted" in err
    data = json.loads(plan.read_text())
    assert data["solver"]["status"] == "feasible"
    assert len(data["assignments"]) == 300
    check = subprocess.run(
        [sys.executable, "-m", "taskalloc", "check", str(problem), str(plan)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_an_interrupted_import_still_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C during a lazy import leaves that module half-loaded; importing it again
    raises ImportError. The error boundary says 'interrupted' (exit 130) before importing
    anything, so it never meets that ImportError."""
    from taskalloc.cli.errors import _report
    from taskalloc.cli.exits import ExitCode

    for name in ("taskalloc.problems.files", "taskalloc.problems.replan"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it raises ImportError
    assert _report(KeyboardInterrupt()) == ExitCode.INTERRUPTED


def test_the_stopping_line_comes_before_the_commands_last_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A signal as the run ends: the watcher thread's 'stopping: ...' line (printed by a
    thread of its own, here a slow one) comes before the summary and the final
    'interrupted: ...' line that the main thread prints once it sees the stop."""
    import os
    import threading

    import taskalloc.cli.console as console
    import taskalloc.solvers.run as run
    from taskalloc.cli.running import STOPPING
    from tests.helpers import EXAMPLES, cli

    real_solve, real_printable = run.solve_problem, console.printable

    def solve_then_signal(*args: object, **kw: object) -> object:
        result = real_solve(*args, **kw)
        stop = kw["stop"]
        assert isinstance(stop, threading.Event)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(10)  # the watcher has seen it: the command goes on at once
        return result

    def slow_printable(text: str) -> str:
        if text.startswith("stopping:"):
            time.sleep(0.3)  # a thread that prints late (a loaded machine)
        return real_printable(text)

    monkeypatch.setattr(run, "solve_problem", solve_then_signal)
    monkeypatch.setattr(console, "printable", slow_printable)
    out = tmp_path / "plan.yaml"
    r = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "greedy", "-o", str(out))
    assert r.exit_code == 130, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == STOPPING, lines
    assert lines[-1] == "interrupted: the run had ended; its plan is written"
    assert out.exists()


def test_a_signal_during_a_librarys_import_of_logging_quiets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal handled during a run quiets the libraries' logging; it may come while a library
    (OR-Tools, imported lazily) is executing ``import logging``, when ``sys.modules`` holds a
    half-initialised module without ``disable``: the handler must not look it up there (it
    raised AttributeError inside that import: exit 70 instead of 130)."""
    import logging
    import types

    from taskalloc.cli import running

    monkeypatch.setitem(sys.modules, "logging", types.ModuleType("logging"))
    try:
        running._quiet_libraries()
        assert logging.root.manager.disable == logging.CRITICAL
    finally:
        logging.disable(logging.NOTSET)
