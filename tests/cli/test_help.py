"""The CLI as a person meets it: help that reads at 80 columns, user text never read as markup,
global options anywhere, progress lines that name the stage, the report's labels, the batch
table, and engine options as flags."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taskalloc.cli.app import app
from taskalloc.problems.generate import generate
from tests.helpers import EXAMPLES, cli, node, prob_dict, task, write_problem

COMMANDS = [
    "solve",
    "validate",
    "check",
    "report",
    "compare",
    "diff",
    "generate",
    "import",
    "export",
    "schema",
]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_fits_80_columns(command: str | None) -> None:
    args = ["--help"] if command is None else [command, "--help"]
    result = cli(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage: taskalloc")
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    assert "<bool>" not in result.stdout and "<str>" not in result.stdout


def test_solve_help_panels_metavars_and_choices() -> None:
    out = cli("solve", "--help", env={"COLUMNS": "80"}).stdout
    panels = [line[:-1] for line in out.splitlines() if re.fullmatch(r"[A-Z][^ ].*:", line)]
    assert panels[:6] == [
        "Input and output",
        "Engine",
        "Limits and reproducibility",
        "Batch (several problems, a directory, or --out-dir)",
        "One problem on many workers",
        "Pareto front",
    ]
    for header in [
        "  -s, --solver [auto|cpsat|mip|ga|greedy|devplan]",
        "  --policy [least-loaded|best-fit|first-fit]",
        "  -f, --format [yaml|json|jsonl]",
        "  --executor [local|ray]",
        "  -k, --partitions K",
        "  -o, --output FILE",
        "  -d, --out-dir DIR",
        "  -t, --time-limit SECONDS",
        "  -w, --workers N",
        "  -O, --option NAME=VALUE",
        "  --hint PLAN",
    ]:
        assert header in out.splitlines(), header
    # the exact rule of auto, and help text that is never read as markup
    flat = " ".join(out.split())
    assert "auto picks devplan for a placement problem with GPU devices whose objective" in flat
    assert "else cpsat, except for a problem with more than 200,000 (task, allowed" in flat
    assert "pip install 'taskalloc[ray]'" in flat


def test_policy_choices_are_the_greedys() -> None:
    from taskalloc.cli.options import Policy
    from taskalloc.solvers.greedy import POLICIES

    assert tuple(p.value for p in Policy) == POLICIES


def test_shell_completion_is_offered() -> None:
    out = cli("--help").stdout
    assert "--install-completion" in out and "--show-completion" in out


@pytest.mark.parametrize("where", ["before", "after", "end"])
def test_global_options_anywhere(tmp_path: Path, where: str) -> None:
    problem = str(EXAMPLES / "inference-fleet.yaml")
    args = {
        "before": ["-q", "solve", problem, "-s", "greedy"],
        "after": ["solve", "-q", problem, "-s", "greedy"],
        "end": ["solve", problem, "-s", "greedy", "--quiet"],
    }[where]
    result = cli(*args)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert yaml.safe_load(result.stdout)["solver"]["name"] == "greedy"


def test_debug_after_the_command_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import taskalloc.cli.validate as validate

    def boom(path: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(validate, "load", boom)
    result = cli("validate", "x.yaml")
    assert result.exit_code == 70 and "internal error: RuntimeError: boom" in result.stderr
    result = cli("validate", "x.yaml", "--debug")
    assert isinstance(result.exception, RuntimeError)


def test_user_text_is_never_markup_or_emoji(tmp_path: Path) -> None:
    # a file name with an emoji code (:100:) and a problem name with markup
    bad = tmp_path / "bad[bold]:100:x.yaml"
    bad.write_text("taskalloc: 1\nnodes: [\n")
    result = cli("validate", str(bad))
    assert result.exit_code == 2
    assert "bad[bold]:100:x.yaml" in result.stderr
    data = prob_dict([node("rack:100:a")], [task("t:smile:")], name="[red]fleet[/] taskalloc[ray]")
    path = write_problem(tmp_path / "p.json", data)
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(path), "-s", "greedy", "-o", str(plan)).exit_code == 0
    report = cli("report", str(path), str(plan), env={"COLUMNS": "120"}).stdout
    assert "[red]fleet[/] taskalloc[ray]" in report
    assert "rack:100:a" in report and "💯" not in report


def test_the_scheduling_report_labels_the_fleet_average(tmp_path: Path) -> None:
    problem = EXAMPLES / "training-pipeline.yaml"
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-o", str(plan)).exit_code == 0
    table = cli("report", str(problem), str(plan), env={"COLUMNS": "160"}).stdout
    assert "fleet (avg)" in table
    markdown = cli("report", str(problem), str(plan), "-f", "markdown").stdout
    assert "| **fleet (avg)** |" in markdown
    placement = EXAMPLES / "inference-fleet.yaml"
    assert cli("solve", str(placement), "-s", "greedy", "-o", str(plan)).exit_code == 0
    table = cli("report", str(placement), str(plan), env={"COLUMNS": "160"}).stdout
    assert re.search(r"\bfleet\b", table) and "fleet (avg)" not in table


def test_progress_lines_name_the_stage_and_never_a_negative_bound() -> None:
    result = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "cpsat", "-t", "20")
    lines = [line for line in result.stderr.splitlines() if "incumbent" in line]
    assert lines[0].startswith("cpsat") and "stage 1/2 unplaced" in lines[0]
    assert any("stage 2/2 cost" in line for line in lines)
    assert not re.search(r"bound -", result.stderr)
    weighted = cli("solve", str(EXAMPLES / "consolidation.yaml"), "-s", "cpsat", "-t", "20")
    lines = [line for line in weighted.stderr.splitlines() if "incumbent" in line]
    assert lines and all("weighted sum" in line for line in lines)
    assert not re.search(r"bound -", weighted.stderr)


def test_the_gas_incumbent_is_explained() -> None:
    result = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "ga", "--generations", "3")
    assert result.exit_code == 0
    assert "ga: the incumbent is the scalar fitness of the best feasible plan" in result.stderr
    assert re.search(r"ga +[0-9.]+ s  fitness  incumbent", result.stderr)
    assert max(len(line) for line in result.stderr.splitlines()) <= 80  # a pipe's width


def test_engine_options_by_name_and_as_flags() -> None:
    problem = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("solve", problem, "-s", "greedy", "-O", "passes=1", "-O", "policy=best-fit")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["solver"]["options"]["policy"] == "best-fit"
    result = cli("solve", problem, "-s", "greedy", "-O", "polcy=best-fit")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(
        "-O polcy: not an option of -s greedy (did you mean --policy? its options: --time-limit"
    )
    result = cli("solve", problem, "-s", "greedy", "-O", "passes=0")
    assert result.exit_code == 2 and result.stderr == "-O passes: must be at least 1, not 0\n"
    result = cli("solve", problem, "-s", "greedy", "-O", "lns=true", "--backend", "x")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:2] == [  # wrapped at words to 80 columns, -s greedy whole
        "warning: --backend applies to -s mip; -O lns applies to -s cpsat; ignored by",
        "    -s greedy",
    ]
    assert cli("solve", problem, "-O", "oops").exit_code == 2


def test_library_messages_become_flags() -> None:
    from taskalloc.cli.errors import flag, in_flags

    assert flag("time_limit") == "--time-limit" and flag("passes") == "-O passes"
    message = "use option backend='ortools-scip', or engine cpsat; not an option of engine ga"
    assert in_flags(message) == "use --backend ortools-scip, or -s cpsat; not an option of -s ga"
    assert in_flags("option passes='1'") == "-O passes=1"


def test_same_file_twice_is_solved_once_and_the_table_keeps_names_whole(tmp_path: Path) -> None:
    deep = tmp_path / "a-rather-long-directory-name" / "another-long-directory"
    deep.mkdir(parents=True)
    path = deep / "problem-with-a-long-descriptive-name.json"
    path.write_text(json.dumps(generate(tasks=6, nodes=3, seed=1)))
    out = tmp_path / "plans"
    result = cli("solve", str(path), str(path), str(deep), "--out-dir", str(out), "-s", "greedy",
                 env={"COLUMNS": "80"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "problem-with-a-long-descriptive-name.plan.yaml"
    ]
    assert "batch: 1 problem on" in result.stderr
    table = result.stderr[result.stderr.index("Batch") : result.stderr.index("batch: 1 problem:")]
    name = "problem-with-a-long-descriptive-name.json"
    assert name in table  # whole on one line, never broken inside a name
    assert max(len(line) for line in table.splitlines()) <= 80


def test_python_m_taskalloc_and_the_script_agree() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "taskalloc", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("taskalloc ")
    assert app.info.name == "taskalloc"


def test_ga_front_plans_keep_the_generation_log(tmp_path: Path) -> None:
    out = tmp_path / "front"
    result = cli(
        "solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "ga", "--pareto", "cost,balance",
        "--generations", "3", "--population", "8", "--out-dir", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    plans = sorted(out.glob("plan-*.yaml"))
    assert plans
    for plan in plans:
        log = yaml.safe_load(plan.read_text())["solver"]["generations"]
        assert [row["generation"] for row in log] == [0, 1, 2, 3]


def test_whatif_threads_default_as_its_help_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """whatif -w: the cores divided by --jobs (its help said 'default 2', solve's default)."""
    import os

    import taskalloc.solvers as solvers

    seen: list[object] = []
    real = solvers.solve

    def spy(*args, **kwargs):
        seen.append(kwargs.get("workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(solvers, "solve", spy)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    problem = str(EXAMPLES / "inference-fleet.yaml")
    r = cli("-q", "whatif", problem, "--scale-demand", "1.1", "-s", "greedy")
    assert r.exit_code == 0, r.stderr
    assert seen and set(seen) == {6}
    r = cli("whatif", "--help", env={"COLUMNS": "200"})
    assert "Search threads per scenario (default: the cores divided by --jobs" in r.stdout
