"""A plan names its problem file relative to where ``solve`` ran: ``report PLAN``, ``check
PLAN`` and ``diff A B`` find it from any directory, and a file of the same name in the current
directory with other bytes does not shadow the one beside the plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, cli


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(EXAMPLES / "replanning.yaml", run / "fleet.yaml")
    monkeypatch.chdir(run)  # problem.path is "fleet.yaml", as the user typed it
    assert cli("solve", "fleet.yaml", "-s", "greedy", "-q", "-o", "a.yaml").exit_code == 0
    r = cli(
        "replan", "fleet.yaml", "a.yaml", "--fail", "l4-4", "-s", "greedy", "-q", "-o", "b.yaml"
    )
    assert r.exit_code == 0, r.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(EXAMPLES / "consolidation.yaml", elsewhere / "fleet.yaml")  # a decoy
    monkeypatch.chdir(elsewhere)
    return run / "a.yaml", run / "b.yaml"


def test_report_and_check_find_the_problem_beside_the_plan(plans: tuple[Path, Path]) -> None:
    a, _ = plans
    r = cli("check", str(a))
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr
    r = cli("report", str(a))
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr and "replanning" in r.stdout


def test_diff_without_problem_is_the_same_from_any_directory(plans: tuple[Path, Path]) -> None:
    a, b = plans
    r = cli("diff", str(a), str(b), env={"COLUMNS": "1000"})
    assert r.exit_code == 1, r.stderr
    assert "warning" not in r.stderr and "violations" not in r.stdout
    assert f"  a: {a} (feasible)" in r.stdout
    moved = [x.split()[0] for x in r.stdout.splitlines() if x.endswith(("-> a100-2", "-> l4-3"))]
    assert sorted(moved) == ["embed-e5-c", "ocr-trocr", "whisper-asr-b"]  # were on l4-4


def test_diff_utilisation_lines_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``a% -> b% (+d pts)`` of the text diff adds up as printed (62.5 % -> 67.97 % was
    ``62% -> 68% (+5 pts)``)."""
    import re

    monkeypatch.chdir(tmp_path)
    problem = str(EXAMPLES / "replanning.yaml")
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", "a.yaml").exit_code == 0
    r = cli("replan", problem, "a.yaml", "--fail", "l4-4", "--deterministic", "-q", "-o", "b.yaml")
    assert r.exit_code == 0, r.stderr
    r = cli("diff", "a.yaml", "b.yaml", "-p", problem)
    assert r.exit_code == 1, r.stderr
    changes = re.findall(r"(\d+)% -> (\d+)% \(([+-]?\d+) pts\)", r.stdout)
    assert len(changes) >= 6
    assert [int(b) - int(a) for a, b, _ in changes] == [int(d) for _, _, d in changes]
    assert "memory 62% -> 68% (+6 pts)" in r.stdout
