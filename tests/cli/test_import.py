"""`taskalloc import`: the importers (tests/problems/test_importers.py) from the command line:
stdout or -o, stdin, --sense, located errors and exit codes."""

from __future__ import annotations

import json

import yaml

from taskalloc.problems.importers import read_gap
from taskalloc.problems.problem import load_problem
from tests.helpers import DATA as TESTS_DATA
from tests.helpers import cli

DATA = TESTS_DATA / "import"
GAP_TEXT = (DATA / "tiny.gap").read_text()
JSS_TEXT = (DATA / "tiny.jss").read_text()


def replace_line(text: str, lineno: int, new: str) -> str:
    """``text`` with line ``lineno`` (1-based) replaced by ``new``."""
    lines = text.splitlines()
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


def test_cli_import_to_stdout():
    result = cli("import", "gap", str(DATA / "tiny.gap"))
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data == read_gap(GAP_TEXT, str(DATA / "tiny.gap"))
    assert "2 nodes, 3 tasks" in result.stderr and "objective lexicographic: cost" in result.stderr
    assert "imported" not in result.stdout


def test_cli_import_to_file(tmp_path):
    out = tmp_path / "sub" / "tiny.yaml"
    result = cli("import", "psplib", str(DATA / "tiny.sm"), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"problem written to {out}" in result.stderr
    assert "1 node, 4 tasks" in result.stderr and "makespan" in result.stderr
    problem = load_problem(str(out))
    assert problem.horizon == 11 and [t.id for t in problem.tasks] == ["j2", "j3", "j4", "j5"]
    out_json = tmp_path / "tiny.json"
    result = cli("import", "jobshop", str(DATA / "tiny.jss"), "-o", str(out_json))
    assert result.exit_code == 0, result.stderr
    assert json.loads(out_json.read_text())["x-source"]["machines"] == 2
    result = cli("import", "jobshop", str(DATA / "tiny.jss"), "--format", "json")
    assert json.loads(result.stdout)["name"] == "tiny"


def test_cli_import_gap_max_and_stdin():
    result = cli("import", "gap", "-", "--sense", "max", input=GAP_TEXT)
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["x-source"]["offset"] == 27
    assert "max profit = 27 - cost" in result.stderr


def test_cli_import_bad_file_is_located(tmp_path):
    bad = tmp_path / "bad.jss"
    bad.write_text(replace_line(JSS_TEXT, 6, "1 4 0 one"))
    result = cli("import", "jobshop", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{bad}:6:7: job 1: expected an integer (duration of operation 1), got 'one'" in (
        result.stderr
    )


def test_cli_import_rejects_sense_for_other_formats_and_unknown_kinds():
    result = cli("import", "jobshop", str(DATA / "tiny.jss"), "--sense", "max")
    assert result.exit_code == 2 and "--sense applies to gap only" in result.stderr
    result = cli("import", "mps", str(DATA / "tiny.jss"))
    assert result.exit_code == 2


def test_cli_import_refuses_its_output_before_reading(tmp_path):
    """-o naming the instance (or a directory) is refused before the instance is read: the
    one line says so, not a parse error of the file it would have destroyed."""
    instance = tmp_path / "broken.txt"
    instance.write_text("not a gap instance\n")
    result = cli("import", "gap", str(instance), "-o", str(instance))
    assert result.exit_code == 2
    assert result.stderr == f"{instance}: is an input of this command; not overwriting it\n"
    assert instance.read_text() == "not a gap instance\n"
    result = cli("import", "gap", str(instance), "-o", str(tmp_path))
    assert (result.exit_code, result.stderr) == (2, f"{tmp_path}: is a directory\n")
