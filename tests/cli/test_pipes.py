"""Shell pipelines: `generate | solve - | report - -` in real processes with stdout parsed, and
how `report`/`check` find the problem of a plan (embedded copy, else problem.path)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from taskalloc.problems.generate import generate
from taskalloc.problems.plan import dumps, plan_from_text, read_plan
from taskalloc.problems.problem import load_problem
from tests.helpers import EXAMPLES, cli

TASKALLOC = [sys.executable, "-m", "taskalloc"]


def pipeline(*commands: list[str]) -> tuple[str, list[int], list[str]]:
    """Run commands joined by pipes; return the last stdout, every exit code and stderr."""
    procs: list[subprocess.Popen[bytes]] = []
    errs = [tempfile.TemporaryFile() for _ in commands]  # noqa: SIM115 - closed below
    stdin = None
    for args, err in zip(commands, errs, strict=True):
        p = subprocess.Popen(TASKALLOC + args, stdin=stdin, stdout=subprocess.PIPE, stderr=err)
        if stdin is not None:
            stdin.close()  # so that the previous process sees a closed pipe if this one exits
        stdin = p.stdout
        procs.append(p)
    out, _ = procs[-1].communicate(timeout=120)
    texts = []
    for p, err in zip(procs, errs, strict=True):
        p.wait(timeout=120)
        err.seek(0)
        texts.append(err.read().decode())
        err.close()
    return out.decode(), [p.returncode for p in procs], texts


def test_generate_solve_report_pipeline() -> None:
    # (-s mip with HiGHS, whose banner goes to file descriptor 1: tests/test_batch.py)
    solver = "cpsat"
    out, codes, errs = pipeline(
        ["generate", "--tasks", "40", "--nodes", "6", "--seed", "4"],
        ["solve", "-", "-s", solver, "-t", "10", "--seed", "1"],
        ["report", "-", "-", "-f", "json"],
    )
    assert codes == [0, 0, 0], errs
    report = json.loads(out)  # nothing but the report on stdout
    assert report["solver"]["name"] == solver
    assert report["problem"]["name"] == "place-40t-6n-s4"
    assert f"{solver}:" in errs[1]  # the summary went to stderr


def test_generate_solve_check_pipeline_json_plan() -> None:
    out, codes, errs = pipeline(
        ["generate", "--tasks", "30", "--scheduling", "-f", "json"],
        ["solve", "-", "-s", "greedy", "-f", "json"],
        ["check", "-", "-", "-f", "json"],
    )
    assert codes == [0, 0, 0], errs
    assert json.loads(out)["ok"] is True


def test_solve_stdin_embeds_the_exact_problem_bytes() -> None:
    text = dumps(generate(10, 3, seed=2))
    result = cli("solve", "-", "-s", "greedy", input=text)
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert "path" not in data["problem"]
    embedded = data["problem"]["text"]
    assert embedded == text
    assert hashlib.sha256(embedded.encode()).hexdigest() == data["problem"]["sha256"]


def test_embed_problem_option_for_a_file(tmp_path: Path) -> None:
    path = EXAMPLES / "training-pipeline.yaml"
    result = cli("solve", str(path), "-s", "greedy", "--embed-problem", "-f", "json")
    assert result.exit_code == 0, result.stderr
    plan = plan_from_text("plan.json", result.stdout.encode())
    assert plan.problem_text == path.read_text()
    assert plan.problem_path == str(path)
    # the plan alone is enough, wherever it is read from
    moved = tmp_path / "plan.json"
    moved.write_text(result.stdout)
    assert cli("check", str(moved)).exit_code == 0
    rep = cli("report", "-", "-", "-f", "json", input=result.stdout)
    assert rep.exit_code == 0, rep.stderr
    assert json.loads(rep.stdout)["problem"]["name"] == "training-pipeline"


def test_report_plan_finds_its_problem_by_path(tmp_path: Path) -> None:
    problem = tmp_path / "p.yaml"
    problem.write_text(dumps(generate(8, 3)))
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-o", str(plan)).exit_code == 0
    assert read_plan(str(plan)).problem_text is None
    assert cli("check", str(plan)).exit_code == 0
    assert cli("check", "-", "-", input=plan.read_text()).exit_code == 0
    # the same bytes elsewhere: relative problem.path is also tried next to the plan
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "p.yaml").write_text(problem.read_text())
    rel_plan = read_plan(str(plan))
    rel_plan.problem_path = "p.yaml"
    (rel / "plan.yaml").write_text(rel_plan.dumps())
    assert cli("report", str(rel / "plan.yaml"), "-f", "json").exit_code == 0
    # changed bytes: a warning, as with two files
    problem.write_text(problem.read_text() + "# edited\n")
    changed = cli("check", str(plan))
    assert changed.exit_code == 0
    assert "sha256 differs" in changed.stderr


def test_plan_without_a_way_to_its_problem(tmp_path: Path) -> None:
    problem = tmp_path / "p.yaml"
    problem.write_text(dumps(generate(5, 2)))
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-o", str(plan)).exit_code == 0
    problem.unlink()
    gone = cli("report", str(plan))
    assert gone.exit_code == 2
    assert "is not there; give both files" in gone.stderr
    data = yaml.safe_load(plan.read_text())
    del data["problem"]["path"]
    anonymous = cli("check", "-", "-", input=dumps(data))
    assert anonymous.exit_code == 2
    assert "neither embeds its problem" in anonymous.stderr


def test_edited_embedded_problem_is_flagged(tmp_path: Path) -> None:
    result = cli("solve", "-", "-s", "greedy", input=dumps(generate(5, 2)))
    data = yaml.safe_load(result.stdout)
    data["problem"]["text"] += "# edited\n"
    rep = cli("check", "-", "-", input=dumps(data))
    assert rep.exit_code == 0
    assert "embedded problem does not match problem.sha256" in rep.stderr


def test_problem_from_stdin_with_a_plan_file_still_works(tmp_path: Path) -> None:
    path = EXAMPLES / "consolidation.yaml"
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(path), "-s", "greedy", "-o", str(plan)).exit_code == 0
    assert cli("check", "-", str(plan), input=path.read_text()).exit_code == 0
    assert load_problem(str(path)).sha256 == read_plan(str(plan)).problem_sha256


def test_a_table_whose_reader_goes_away_is_no_error(tmp_path: Path) -> None:
    """`report PLAN | head -1`: rich's own handling of a broken pipe exits 1 (a failed
    pipeline under `set -o pipefail`); the reader going away is no error of ours: exit 0,
    nothing on stderr."""
    problem = tmp_path / "big.yaml"
    problem.write_text(yaml.safe_dump(generate(600, 40, seed=3)))
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-o", str(plan)).exit_code == 0
    for view in ("summary", "nodes,tasks"):
        p = subprocess.Popen(
            [*TASKALLOC, "report", str(problem), str(plan), "--view", view],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert p.stdout is not None and p.stdout.readline()  # `head -1`
        p.stdout.close()
        _, err = p.communicate(timeout=120)
        assert (p.returncode, err.decode()) == (0, ""), view


def test_tables_in_a_pipe_end_their_lines_without_blanks(tmp_path: Path) -> None:
    """rich pads a table's title and a grid's cells to the table's width: in a pipe or a file
    (``| cat -A``, a diff) no line of a report, on stdout or stderr, ends in a blank."""
    problem = str(EXAMPLES / "replanning.yaml")
    plan = str(tmp_path / "p.yaml")
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", plan).exit_code == 0
    for view in ("summary", "nodes", "tasks"):
        r = cli("report", problem, plan, "--view", view, env={"COLUMNS": "80"})
        assert r.exit_code == 0, r.stderr
        assert r.stdout.count("\n") > 5
        assert [x for x in r.stdout.splitlines() if x.endswith(" ")] == [], view
    r = cli("compare", problem, "-s", "greedy", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert [x for x in (r.stdout + r.stderr).splitlines() if x.endswith(" ")] == []
    from taskalloc import load, read_plan, report

    text = report(load(problem), read_plan(plan))  # the library's text, as the CLI's
    assert [x for x in text.splitlines() if x.endswith(" ")] == []
