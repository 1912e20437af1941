"""`taskalloc import openb`: the importer (tests/problems/test_openb.py) from the command line:
-o or stdout, located errors, exit codes, options of other kinds, never over an input."""

from __future__ import annotations

import json

import yaml

from taskalloc.problems.openb import import_openb
from tests.helpers import DATA, cli

OPENB = DATA / "openb"
NODES = OPENB / "nodes.csv"
PODS = OPENB / "pods.csv"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"


def test_cli_writes_the_problem(tmp_path):
    out = tmp_path / "p.yaml"
    r = cli(
        "import",
        "openb",
        str(NODES),
        str(PODS),
        "--order",
        "shuffle",
        "--seed",
        "2",
        "--arrive",
        "100",
        "-o",
        str(out),
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    data = yaml.safe_load(out.read_text())
    assert data == import_openb(str(NODES), str(PODS), order="shuffle", seed=2, arrive=100).problem
    assert "6 nodes in 4 pools, 18 GPUs" in r.stderr
    assert "warning:" in r.stderr and "A100" in r.stderr


def test_cli_stdout_json_and_errors(tmp_path):
    r = cli("import", "openb", str(NODES), str(PODS), "-f", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["name"] == "pods"
    r = cli("import", "openb", str(NODES))
    assert r.exit_code == 2 and "two files" in r.stderr
    r = cli("import", "openb", str(NODES), str(PODS), "--seed", "3")
    assert r.exit_code == 2 and "--order shuffle" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(POD_HEADER + "x,1000,-1,0,0,\n")
    r = cli("import", "openb", str(NODES), str(bad))
    assert r.exit_code == 2
    assert "bad.csv:2:8: task x: memory_mib: must be >= 0, got -1" in r.stderr
    assert r.stdout == ""
    r = cli("import", "gap", str(NODES), str(PODS))
    assert r.exit_code == 2 and "openb only" in r.stderr


def test_cli_refuses_to_overwrite_an_input(tmp_path):
    nodes = tmp_path / "nodes.csv"
    nodes.write_bytes(NODES.read_bytes())
    r = cli("import", "openb", str(nodes), str(PODS), "-o", str(nodes))
    assert r.exit_code == 2 and "is an input of this command" in r.stderr
    assert nodes.read_bytes() == NODES.read_bytes()


def test_cli_prints_line_100_as_text_not_an_emoji(tmp_path):
    """rich turns ':100:' into an emoji unless told not to (the brief's facts)."""
    rows = [f"t{i},1000,10,1,500," for i in range(98)] + ["bad,-1000,10,1,500,"]
    bad = tmp_path / "p.csv"
    bad.write_text(POD_HEADER + "\n".join(rows) + "\n")
    r = cli("import", "openb", str(NODES), str(bad))
    assert r.exit_code == 2
    assert f"{bad}:100:5: task bad: cpu_milli: must be >= 0, got -1000" in r.stderr
