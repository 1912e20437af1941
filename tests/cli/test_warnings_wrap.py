"""Warnings on stderr: prose is wrapped like the explanations; located warnings
(``file:line:col: message``, a problem's) stay one line for editors and grep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from taskalloc.cli import console
from tests.helpers import DATA, cli


@pytest.fixture
def stderr_at(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def run(columns: int, message: str) -> list[str]:
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(console, "_STDERR", None)  # a console made now, on the captured stderr
        monkeypatch.setattr(console.Settings, "quiet", False)
        console.warn(message)
        return capsys.readouterr().err.splitlines()

    return run


def test_a_prose_warning_is_wrapped_at_words_and_keeps_a_location_whole(stderr_at) -> None:
    message = (
        "the hint plans/today.yaml:12:5: was made for a file with other bytes; using what fits "
        "and leaving the rest to the solver, which may take longer than usual"
    )
    lines = stderr_at(40, message)
    assert len(lines) > 2 and all(len(x) <= 40 for x in lines)
    assert lines[0].startswith("warning: ")
    assert all(x.startswith("    ") and not x.startswith("     ") for x in lines[1:])
    assert " ".join(x.strip() for x in lines) == f"warning: {message}"
    assert any("plans/today.yaml:12:5:" in x for x in lines)  # never split


def test_a_located_warning_stays_one_line(stderr_at) -> None:
    # as compilers write them (file:line:col: warning: message), which editors and grep read
    reason = "tasks[0] (serve).deadline: ignored:" + " a long reason" * 10
    assert stderr_at(40, f"p.yaml:8:5: {reason}") == [f"p.yaml:8:5: warning: {reason}"]
    assert stderr_at(40, f"nodes.csv:12: {reason}") == [f"nodes.csv:12: warning: {reason}"]
    summary = "p.yaml: ... and 250 more warnings: 250 x ignored:" + " a long reason" * 10
    assert len(stderr_at(40, summary)) > 1  # no line number: prose (warn_at keeps it whole)


def test_end_to_end_prose_wraps_and_a_problems_warnings_do_not(tmp_path: Path) -> None:
    path = str(DATA / "warnings" / "service-in-placement.yaml")
    r = cli("validate", path, env={"COLUMNS": "60"})
    assert r.exit_code == 0
    assert "warning: " in r.stderr
    assert not [x for x in r.stderr.splitlines() if x.startswith("warning: ")]
    located = [x for x in r.stderr.splitlines() if "warning: " in x]
    assert all(re.match(rf"{re.escape(path)}:\d+:\d+: warning: \S", x) for x in located)
    assert any(len(x) > 60 for x in located)  # one line each, however long
    r = cli(
        "solve", str(DATA / "warnings" / "service-in-placement.yaml"), "-s", "greedy",
        "--generations", "5", "-o", str(tmp_path / "p.yaml"), env={"COLUMNS": "40"},
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    i = next(k for k, x in enumerate(lines) if x.startswith("warning: --generations"))
    assert lines[i + 1].startswith("    ") and all(len(x) <= 40 for x in lines[i : i + 2])


GLUED = [
    "-s greedy", "--policy best-fit", "-O lns=true", "`report PLAN`", "0.09 s", "53.1 %",
    "3 proven", "`taskalloc solve -s mip --backend NAME`",
]  # fmt: skip


@pytest.mark.parametrize("width", range(44, 81))
def test_a_flag_keeps_its_value_and_a_code_span_stays_whole(width: int) -> None:
    """At every width, the lines of prose, of a summary and of --help never split a flag from
    its value, a short code span or a number from its unit (nor lose or add a character)."""
    from taskalloc.cli.console import wrap_fields, wrap_prose
    from taskalloc.cli.help import wrap

    text = (
        "the hint was made for another file: rerun with -s greedy or --policy best-fit, add "
        "-O lns=true, then `report PLAN` shows it; it took 0.09 s; gap 53.1 % here; exit 2 bad "
        "input; 3 proven infeasible; or `taskalloc solve -s mip --backend NAME` runs"
    )
    for lines in (wrap_prose(text, width), wrap_fields(text, width), wrap(text, width, 2)):
        assert " ".join(x.strip() for x in lines) == text
        for pair in GLUED:
            assert any(pair in x for x in lines), (pair, lines)
