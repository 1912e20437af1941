"""The `taskalloc` command through typer's CliRunner: exit codes, data on stdout only, humans on
stderr."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taskalloc.problems.plan import read_plan
from tests.helpers import DATA, EXAMPLES, ROOT, asg, cli, make, node, prob_dict, task, write_problem

ANSI = re.compile(r"\x1b\[")
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
SUMMARY_WORDS = ("greedy:", "plan written", "ok:", "violation", "warning:", "infeasible:")


def solved(problem: Path, tmp_path: Path, *extra: str) -> Path:
    """Solve ``problem`` into a YAML plan file in tmp_path and return its path."""
    out = tmp_path / f"{problem.stem}-plan.yaml"
    result = cli("solve", str(problem), "-s", "greedy", "-o", str(out), *extra)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture
def two_nodes(tmp_path) -> Path:
    """Two nodes of cpu 10, two tasks of cpu 6: one task per node."""
    data = prob_dict(
        [node("n", {"cpu": 10}, count=2)], [task("a", {"cpu": 6}), task("b", {"cpu": 6})]
    )
    return write_problem(tmp_path / "two-nodes.json", data)


def _no_summary(stdout: str) -> None:
    for word in SUMMARY_WORDS:
        assert word not in stdout


# -- solve -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_solve_example_writes_yaml_plan(path):
    result = cli("solve", str(path), "-s", "greedy")
    assert result.exit_code == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    assert plan["taskalloc_plan"] == 1
    assert plan["solver"]["name"] == "greedy"
    assert plan["solver"]["status"] in ("feasible", "optimal")
    assert plan["problem"]["sha256"] and plan["problem"]["path"] == str(path)
    assert plan["assignments"] and isinstance(plan["unplaced"], list)
    assert set(plan["solver"]["objective"]) >= {"unplaced"}
    assert result.stderr.startswith("greedy: ")
    assert "tasks placed" in result.stderr and "objective " in result.stderr
    _no_summary(result.stdout)


@pytest.mark.parametrize("columns", [80, 60])
def test_the_summary_fits_the_terminal_and_breaks_between_fields(tmp_path, columns):
    """The summary is one long line (status; tasks placed; objective; fitness; the engine's
    notes): on stderr it breaks after a `;` (else at a space) to fit the terminal, never
    inside a word, and the plan on stdout is the same at any width."""
    path = EXAMPLES / "inference-fleet.yaml"
    wide = cli("solve", str(path), "-s", "greedy", env={"COLUMNS": "500"})
    narrow = cli("solve", str(path), "-s", "greedy", env={"COLUMNS": str(columns)})
    assert wide.exit_code == narrow.exit_code == 0, narrow.stderr

    def data(stdout: str) -> list[str]:
        return [line for line in stdout.splitlines() if "seconds:" not in line]

    assert data(narrow.stdout) == data(wide.stdout)  # the plan is no narrower
    (one,) = [line for line in wide.stderr.splitlines() if line.startswith("greedy: ")]
    assert len(one) > columns  # else this test is moot
    lines = narrow.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("greedy: "))
    summary = [lines[start]]
    summary += [line for line in lines[start + 1 :] if line.startswith("  ")]
    assert len(summary) > 1
    assert all(len(line) <= columns for line in summary)
    assert all(line.startswith("  ") and line[2] != " " for line in summary[1:])
    joined = " ".join(line.strip() for line in summary)
    seconds = re.compile(r" in \d+\.\d\d s;")  # the two runs' times differ
    assert seconds.sub(" in T s;", joined) == seconds.sub(" in T s;", one)  # no word cut
    assert summary[0].endswith(";")  # the first break is between two fields


def test_wrap_fields_breaks_at_fields_then_words():
    from taskalloc.cli.console import wrap_fields

    assert wrap_fields("a b; c d; e", 80) == ["a b; c d; e"]
    assert wrap_fields("status ok; 10/10 placed; objective x=1", 24) == [
        "status ok; 10/10 placed;",
        "  objective x=1",
    ]
    long = "first; " + " ".join(["word"] * 12) + "; last"
    lines = wrap_fields(long, 30)
    assert all(len(line) <= 30 for line in lines)
    assert lines[0] == "first;" and lines[-1].endswith("last")
    assert " ".join(line.strip() for line in lines) == long
    assert wrap_fields("x; " + "y" * 40, 20) == ["x;", "  " + "y" * 40]  # a word stays whole


def test_solve_json_format():
    path = EXAMPLES / "inference-fleet.yaml"
    result = cli("solve", str(path), "-s", "greedy", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["taskalloc_plan"] == 1
    assert {"task", "replica", "node"} <= set(plan["assignments"][0])


def test_solve_scheduling_plan_has_times():
    result = cli("solve", str(EXAMPLES / "training-pipeline.yaml"), "-s", "greedy")
    assert result.exit_code == 0, result.stderr
    plan = yaml.safe_load(result.stdout)
    for a in plan["assignments"]:
        assert a["end"] >= a["start"] >= 0


@pytest.mark.parametrize(("name", "fmt"), [("plan.yaml", "yaml"), ("sub/plan.json", "json")])
def test_solve_output_file(tmp_path, name, fmt):
    out = tmp_path / name
    result = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "greedy", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert out.exists()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left behind
    text = out.read_text()
    data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert data["taskalloc_plan"] == 1
    assert result.stderr.splitlines()[-1] == f"plan written to {out}"


def test_solve_same_seed_same_plan():
    path = str(EXAMPLES / "consolidation.yaml")
    a = yaml.safe_load(cli("solve", path, "-s", "greedy", "--seed", "7").stdout)
    b = yaml.safe_load(cli("solve", path, "-s", "greedy", "--seed", "7").stdout)
    assert a["assignments"] == b["assignments"]
    assert a["solver"]["seed"] == 7


def test_solve_unknown_solver_and_policy():
    path = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("solve", path, "-s", "magic")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "'magic' is not one of 'auto', 'cpsat', 'mip', 'ga', 'greedy'" in result.stderr
    result = cli("solve", path, "--policy", "random")
    assert result.exit_code == 2
    assert "'random' is not one of 'least-loaded', 'best-fit', 'first-fit'" in result.stderr
    assert "Value error" not in result.stderr


def test_solve_infeasible_exit_3(monkeypatch):
    monkeypatch.chdir(DATA / "infeasible")
    result = cli("solve", "too-big.yaml", env={"COLUMNS": "200"})
    assert result.exit_code == 3
    plan = yaml.safe_load(result.stdout)
    assert plan["solver"]["status"] == "infeasible"
    assert plan["assignments"] == []
    proof = (
        "too-big.yaml:12:13: tasks[1] (train-huge).demand: needs gpu 16 on one node; "
        "the largest gpu on an allowed node is 8 (a100-1)"
    )
    assert plan["infeasibility"] == [proof]
    assert result.stderr.splitlines() == ["infeasible: no plan can exist:", f"  {proof}"]


def test_solve_no_plan_exit_4(tmp_path):
    """Each required task fits the node alone, not both together: no structural proof, but the
    greedy (and every solver) finds no plan."""
    data = prob_dict([node("n", {"cpu": 10})], [task("a", {"cpu": 6}), task("b", {"cpu": 6})])
    path = write_problem(tmp_path / "clash.json", data)
    assert cli("validate", str(path)).exit_code == 0
    result = cli("solve", str(path), "-s", "greedy")
    assert result.exit_code == 4, result.stderr
    plan = yaml.safe_load(result.stdout)
    assert plan["solver"]["status"] == "unknown"
    assert [u["task"] for u in plan["unplaced"]] == ["b"]
    err = result.stderr.splitlines()
    assert err[0].startswith("greedy: unknown ")
    at = next(i for i, line in enumerate(err) if not line.startswith("  ") and i)  # the summary
    assert err[at].startswith("no plan: ")
    assert err[at + 1] == "  b: needs cpu 6; the largest free cpu on an allowed node is 4"


def test_solve_bad_problem_is_bad_input(monkeypatch):
    monkeypatch.chdir(DATA / "broken")
    result = cli("solve", "count-zero.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "count-zero.yaml:4:12: nodes[0] (a100).count: must be >= 1, got 0\n"


# -- check -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_check_solved_plan(path, tmp_path):
    plan = solved(path, tmp_path)
    result = cli("check", str(path), str(plan))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    n = len(read_plan(str(plan)).assignments)
    assert result.stderr == f"ok: {n} assignments satisfy every constraint; objective matches\n"


def _tamper(plan_path: Path, edit) -> Path:
    data = yaml.safe_load(plan_path.read_text())
    edit(data)
    out = plan_path.with_name("tampered.json")
    out.write_text(json.dumps(data))
    return out


def test_check_replica_moved_onto_full_node(two_nodes, tmp_path):
    plan = solved(two_nodes, tmp_path)
    nodes = {a["task"]: a["node"] for a in yaml.safe_load(plan.read_text())["assignments"]}
    assert nodes["a"] != nodes["b"]

    def move(data):  # and drop the metrics the move makes stale (stale ones are a violation)
        data["assignments"][1]["node"] = data["assignments"][0]["node"]
        del data["metrics"]

    result = cli("check", str(two_nodes), str(_tamper(plan, move)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "1 violation:",
        f"  capacity: node {nodes['a']}: cpu load 12 > capacity 10",
    ]


def test_check_changed_objective(two_nodes, tmp_path):
    plan = solved(two_nodes, tmp_path)

    def cheat(data):
        data["solver"]["objective"]["cost"] = -5

    result = cli("check", str(two_nodes), str(_tamper(plan, cheat)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "1 violation:",
        "  objective: objective cost: plan states -5, recomputed 0",
    ]


def test_check_tampered_example_lists_every_violation(tmp_path):
    path = EXAMPLES / "inference-fleet.yaml"
    plan = solved(path, tmp_path)

    def tamper(data):
        data["assignments"] = [a for a in data["assignments"] if a["task"] != "api-gateway"]
        data["solver"]["objective"]["unplaced"] = 0

    result = cli("check", str(path), str(_tamper(plan, tamper)), env={"COLUMNS": "1000"})
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr.splitlines()
    n = len(err) - 1
    assert err[0] == f"{n} violation{'' if n == 1 else 's'}:"
    assert "  required: api-gateway: required task is not placed" in err
    assert "  objective: objective unplaced: plan states 0, recomputed 20" in err


def test_check_json(two_nodes, tmp_path):
    plan = solved(two_nodes, tmp_path)
    result = cli("check", str(two_nodes), str(plan), "--format", "json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["ok"] is True
    assert out["violations"] == [] and out["warnings"] == []
    assert out["objective"] == {"unplaced": 0, "cost": 0}
    assert set(out["terms"]) == {"unplaced", "cost", "nodes", "balance", "moves"}

    def move(data):
        data["assignments"][1]["node"] = data["assignments"][0]["node"]
        del data["metrics"]

    result = cli("check", str(two_nodes), str(_tamper(plan, move)), "-f", "json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["ok"] is False
    assert [(v["kind"], v["node"], v["task"]) for v in out["violations"]] == [
        ("capacity", out["violations"][0]["node"], None)
    ]
    assert out["violations"][0]["message"].endswith("cpu load 12 > capacity 10")


def test_check_hand_made_plan_and_sha_warning(tmp_path):
    """No solver needed: a plan built by make_plan for one file, checked against a copy with
    other bytes, only warns."""
    data = prob_dict([node("n", {"cpu": 10})], [task("a", {"cpu": 6})])
    path = write_problem(tmp_path / "p.json", data)
    from taskalloc.problems.problem import load_problem

    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(make(load_problem(str(path)), [asg("a", "n")]).dumps("yaml"))
    assert cli("check", str(path), str(plan_path)).exit_code == 0
    other = tmp_path / "other.json"
    other.write_text(path.read_text() + "\n")
    result = cli("check", str(other), str(plan_path))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:2] == [  # prose: wrapped at words to 80 columns
        "warning: the plan was made for a file with other bytes (sha256 differs);",
        "    checking it against this problem anyway",
    ]
    # a plan of another problem altogether: the warning names the problem it was made for
    renamed = write_problem(tmp_path / "renamed.json", {**data, "name": "renamed"})
    result = cli("check", str(renamed), str(plan_path), env={"COLUMNS": "1000"})
    assert result.stderr.splitlines()[0] == (
        f"warning: the plan was made for another problem ('{data['name']}'), not "
        "'renamed' (sha256 differs); checking it against this problem anyway"
    )


def test_check_problem_file_as_plan():
    path = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("check", path, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.endswith(": this is a problem file, not a plan\n")
    assert result.stderr.startswith(f"{path}:")


def test_a_plan_given_as_the_problem_is_one_line(tmp_path):
    problem = str(EXAMPLES / "inference-fleet.yaml")
    plan = tmp_path / "plan.yaml"
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", str(plan)).exit_code == 0
    for command in (["solve", str(plan)], ["validate", str(plan)], ["check", str(plan), str(plan)]):
        result = cli(*command)
        assert result.exit_code == 2, command
        assert result.stdout == ""
        assert result.stderr == f"{plan}:1:1: this is a plan file, not a problem\n"


def test_check_says_one_assignment_in_the_singular(tmp_path):
    problem = tmp_path / "one.yaml"
    problem.write_text("taskalloc: 1\nnodes: [{id: n, capacity: {cpu: 1}}]\ntasks: [{id: t}]\n")
    plan = tmp_path / "plan.yaml"
    assert cli("solve", str(problem), "-s", "greedy", "-q", "-o", str(plan)).exit_code == 0
    result = cli("check", str(problem), str(plan))
    assert result.stderr == "ok: 1 assignment satisfies every constraint; objective matches\n"


def test_check_both_from_stdin_reads_a_plan():
    # `check - -`: stdin holds a plan, whose problem is embedded or named (tests/test_pipes.py)
    result = cli("check", "-", "-", input="")
    assert result.exit_code == 2
    assert result.stderr == "<stdin>: a plan file must be a mapping\n"


# -- report ----------------------------------------------------------------------------------


@pytest.fixture
def fleet_plan(tmp_path) -> tuple[Path, Path]:
    """A hand-made plan for a small placement problem (no solver needed)."""
    data = prob_dict(
        [node("gpu", {"cpu": 16, "gpu": 4}, count=2, cost=5), node("cpu", {"cpu": 32}, cost=1)],
        [
            task("serve", {"cpu": 4, "gpu": 2}, replicas=2),
            task("api", {"cpu": 8}),
            task("huge", {"cpu": 64}, required=False, priority=3),
        ],
    )
    path = write_problem(tmp_path / "fleet.json", data)
    from taskalloc.problems.problem import load_problem

    problem = load_problem(str(path))
    plan = make(problem, [asg("serve", "gpu-1", 0), asg("serve", "gpu-2", 1), asg("api", "cpu")])
    plan_path = tmp_path / "fleet-plan.yaml"
    plan_path.write_text(plan.dumps())
    return path, plan_path


def test_report_table(fleet_plan):
    path, plan = fleet_plan
    result = cli("report", str(path), str(plan))
    assert result.exit_code == 0, result.stderr
    for word in ("Objective terms", "Utilisation", "Unplaced tasks", "huge", "gpu-1", "fleet"):
        assert word in result.stdout
    assert result.stderr == ""


def test_report_table_to_file(fleet_plan, tmp_path):
    path, plan = fleet_plan
    out = tmp_path / "report.txt"
    result = cli("report", str(path), str(plan), "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "Objective terms" in out.read_text()
    assert not ANSI.search(out.read_text())


def test_report_json(fleet_plan):
    path, plan = fleet_plan
    result = cli("report", str(path), str(plan), "--format", "json")
    assert result.exit_code == 0, result.stderr
    rep = json.loads(result.stdout)
    assert rep["feasible"] is True
    assert rep["objective"] == {"unplaced": 3, "cost": 11}
    assert rep["terms"]["nodes"] == 3
    assert rep["placed_tasks"] == 2 and rep["tasks"] == 3
    assert rep["placed_replicas"] == 3 and rep["total_replicas"] == 4
    assert rep["utilisation"]["gpu-1"] == {"cpu": 0.25, "gpu": 0.5}
    assert rep["utilisation"]["cpu"] == {"cpu": 0.25}
    assert rep["fleet_utilisation"]["cpu"] == pytest.approx(16 / 64)
    assert [u["task"] for u in rep["unplaced"]] == ["huge"]
    assert rep["unplaced"][0]["reason"] == (
        "needs cpu 64; the largest free cpu on an allowed node is 24"
    )


def test_report_markdown(fleet_plan):
    path, plan = fleet_plan
    result = cli("report", str(path), str(plan), "-f", "markdown")
    assert result.exit_code == 0
    md = result.stdout
    assert md.startswith("# Plan report: test\n")
    assert "## Objective terms" in md and "## Utilisation" in md and "## Unplaced tasks" in md
    assert "| gpu-1 | 25% | 50% |" in md
    assert "| huge | needs cpu 64; the largest free cpu on an allowed node is 24 |" in md


def test_report_csv(fleet_plan):
    path, plan = fleet_plan
    result = cli("report", str(path), str(plan), "-f", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "node",
        "resource",
        "capacity",
        "load",
        "utilisation",
        "average_utilisation",
    ]
    got = {(r["node"], r["resource"]): r for r in rows}
    assert set(got) == {
        ("gpu-1", "cpu"),
        ("gpu-1", "gpu"),
        ("gpu-2", "cpu"),
        ("gpu-2", "gpu"),
        ("cpu", "cpu"),
    }
    r = got[("gpu-1", "gpu")]
    assert (r["capacity"], r["load"], float(r["utilisation"]), r["average_utilisation"]) == (
        "4",
        "2",
        0.5,
        "",
    )
    for r in rows:
        assert float(r["load"]) == pytest.approx(float(r["capacity"]) * float(r["utilisation"]))


def test_report_csv_scheduling_has_average(tmp_path):
    path = EXAMPLES / "training-pipeline.yaml"
    plan = solved(path, tmp_path)
    result = cli("report", str(path), str(plan), "-f", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all(
        0 <= float(r["average_utilisation"]) <= float(r["utilisation"]) + 1e-9 for r in rows
    )


# -- generate, schema, version, usage ----------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--scheduling"]])
def test_generate_is_deterministic_and_valid(tmp_path, extra):
    args = ["generate", "--tasks", "20", "--nodes", "5", "--seed", "3", *extra]
    first = cli(*args)
    second = cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    data = yaml.safe_load(first.stdout)
    assert data["taskalloc"] == 1 and len(data["tasks"]) == 20
    path = tmp_path / "gen.yaml"
    path.write_text(first.stdout)
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    other = cli("generate", "--tasks", "20", "--nodes", "5", "--seed", "4", *extra)
    assert other.stdout != first.stdout


def test_schema():
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) >= {"taskalloc", "nodes", "tasks"}
    assert schema["patternProperties"] == {"^x-": {}}


def test_version():
    from taskalloc import __version__

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"taskalloc {__version__}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["validate", "--bogus", "x.yaml"],
        ["validate"],
        ["report", "a", "b", "-f", "pdf"],
    ],
)
def test_usage_errors_exit_2(args):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr


def test_no_args_shows_help():
    result = cli()
    assert "Usage" in result.stdout + result.stderr


# -- streams ---------------------------------------------------------------------------------


def test_no_color_on_stderr():
    path = str(DATA / "warnings" / "scheduling-field-in-placement.yaml")
    result = cli("validate", path, env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "warning:" in result.stderr
    assert not ANSI.search(result.stderr)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "taskalloc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**full_env, **env},
        check=False,
    )


def test_no_color_wins_over_forced_color_in_a_real_process():
    path = str(DATA / "warnings" / "scheduling-field-in-placement.yaml")
    forced = _run("validate", path, FORCE_COLOR="1")
    assert forced.returncode == 0
    assert ANSI.search(forced.stderr), "FORCE_COLOR should colour warnings (else this test is moot)"
    plain = _run("validate", path, FORCE_COLOR="1", NO_COLOR="1")
    assert plain.returncode == 0
    assert "warning:" in plain.stderr
    assert not ANSI.search(plain.stderr)


def test_python_m_help():
    proc = _run("--help")
    assert proc.returncode == 0
    assert "Exit codes" in proc.stdout


def test_stdout_is_only_data(two_nodes):
    """Summaries and warnings never reach stdout, whatever the command."""
    solve = cli("solve", str(two_nodes), "-s", "greedy")
    assert solve.exit_code == 0
    _no_summary(solve.stdout)
    assert yaml.safe_load(solve.stdout)["taskalloc_plan"] == 1
    assert solve.stderr.startswith("greedy: ")
    validate = cli("validate", str(DATA / "warnings" / "scheduling-field-in-placement.yaml"))
    assert validate.stdout == ""


def test_quiet_solve_has_empty_stderr(two_nodes):
    result = cli("--quiet", "solve", str(two_nodes), "-s", "greedy")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert yaml.safe_load(result.stdout)["taskalloc_plan"] == 1


def _infeasible_at_line_100() -> Path:
    """A task too big for every node, written at line 100 of its file (in the current
    directory): its proof names ``...:100:13:``, which rich would print as an emoji if it
    read emoji codes."""
    path = Path("a-rather-long-directory-name") / "far-down.yaml"
    path.parent.mkdir()
    head = "taskalloc: 1\nnodes:\n  - id: a100\n    capacity: {cpu: 64, gpu: 8}\ntasks:\n"
    pad = "".join(f"# padding {i}\n" for i in range(99 - head.count("\n") - 1))
    tail = "  - id: train-a-very-large-language-model\n    demand: {cpu: 16, gpu: 16}\n"
    path.write_text(head + pad + tail)
    assert path.read_text().splitlines()[99].strip().startswith("demand:")
    return path


@pytest.mark.parametrize("command", ["solve", "validate"])
def test_a_proof_of_infeasibility_is_broken_at_words_to_fit_80_columns(
    tmp_path, monkeypatch, command
):
    """The proof is one long line: at 80 columns it breaks at spaces, the lines after the
    first indented deeper, its file:line:column whole and printed as it is (no emoji)."""
    monkeypatch.chdir(tmp_path)
    path = _infeasible_at_line_100()
    wide = cli(command, str(path), env={"COLUMNS": "1000"})
    narrow = cli(command, str(path), env={"COLUMNS": "80"})
    assert wide.exit_code == narrow.exit_code == 3, narrow.stderr
    (proof,) = [line for line in wide.stderr.splitlines() if ":100:13:" in line]
    assert len(proof) > 80  # else this test is moot
    lines = narrow.stderr.splitlines()
    start = lines.index("infeasible: no plan can exist:")
    broken = lines[start + 1 :]
    assert len(broken) > 1
    assert all(len(line) <= 80 for line in broken), broken
    assert broken[0].startswith(f"  {path}:100:13: ")
    assert all(line.startswith("      ") and line[6] != " " for line in broken[1:])
    assert " ".join(line.strip() for line in broken) == proof.strip()  # no word cut
    assert "\N{HUNDRED POINTS SYMBOL}" not in narrow.stderr


def test_a_conflict_found_by_the_solver_is_broken_at_words_to_fit_80_columns(tmp_path, monkeypatch):
    """Three tasks that each fit but not together: CP-SAT proves it, and the minimal
    conflict and its reason are printed broken at words, each task's file:line whole."""
    monkeypatch.chdir(tmp_path)
    data = prob_dict(
        [node("a100", {"cpu": 64, "gpu": 8}, count=2), node("l4", {"cpu": 32, "gpu": 4})],
        [task(f"train-a-long-named-model-number-{i}", {"cpu": 8, "gpu": 6}) for i in range(3)],
    )
    write_problem(tmp_path / "three-big-jobs.json", data)
    args = ["solve", "three-big-jobs.json", "-s", "cpsat", "-o", "plan.yaml"]
    wide = cli(*args, env={"COLUMNS": "1000"})
    narrow = cli(*args, env={"COLUMNS": "80"})
    assert wide.exit_code == narrow.exit_code == 3, narrow.stderr
    assert all(len(line) <= 80 for line in narrow.stderr.splitlines()), narrow.stderr
    (conflict,) = [line for line in wide.stderr.splitlines() if "minimal conflict" in line]
    assert len(conflict) > 80  # else this test is moot
    lines = narrow.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "minimal conflict" in line)
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    assert " ".join(line.strip() for line in lines[start:end]) == conflict
    located = re.findall(r"\(three-big-jobs\.json:\d+\)", narrow.stderr)
    assert len(located) == 3  # each task's file:line whole on a line
    reason = next(line for line in lines[start + 1 :] if line.startswith("  no assignment"))
    assert lines[lines.index(reason) + 1].startswith("      ")  # deeper than the reason


def test_wrap_prose_keeps_the_indent_and_hangs_the_rest_deeper():
    from taskalloc.cli.console import wrap_prose

    assert wrap_prose("  short", 80) == ["  short"]
    text = "  x.yaml:100:5: " + " ".join(["word"] * 30)
    lines = wrap_prose(text, 40)
    assert lines[0].startswith("  x.yaml:100:5: word")
    assert all(len(line) <= 40 and line.startswith("      ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == text.strip()
    assert wrap_prose("a " + "b" * 50, 20) == ["a", "    " + "b" * 50]  # a word stays whole
    # a number stays with its unit
    assert wrap_prose("[2/7] gpu-cluster.yaml: feasible makespan=280 (0.09 s)", 50) == [
        "[2/7] gpu-cluster.yaml: feasible makespan=280",
        "    (0.09 s)",
    ]
    assert wrap_prose("at the end of it 53.12 % allocated", 20) == [
        "at the end of it",
        "    53.12 %",
        "    allocated",
    ]


def test_export_says_what_it_wrote_in_words_that_fit_80_columns():
    """export's line on stderr: sizes and the objective, broken between its fields; the
    lexicographic order in words, not a Python list (`['unplaced', 'cost']`)."""
    result = cli("export", str(EXAMPLES / "inference-fleet.yaml"), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines), lines
    said = " ".join(line.strip() for line in lines)
    assert "(the fitness: lexicographic unplaced, cost as one scalar)" in said
    assert "['" not in said


def test_export_nl_writes_its_names_beside_it_and_refuses_them_before_anything(tmp_path):
    """``-o m.nl`` writes m.row and m.col beside it (AMPL's names, as --help says). Those two
    are outputs as the model is: one that is an input, or exists with --no-clobber, is
    refused (exit 2) before anything is written (once the model was written first)."""
    problem = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("export", problem, "-o", str(tmp_path / "m.nl"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.col", "m.nl", "m.row"]
    assert "x[" in (tmp_path / "m.col").read_text()
    other = tmp_path / "other"
    other.mkdir()
    (other / "m.row").write_text("mine\n")
    result = cli("--no-clobber", "export", problem, "-o", str(other / "m.nl"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{other / 'm.row'}: exists; not overwriting it (--no-clobber)"
    assert sorted(p.name for p in other.iterdir()) == ["m.row"]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "fleet.col").write_bytes(Path(problem).read_bytes())
    result = cli("export", str(inputs / "fleet.col"), "-f", "nl", "-o", str(inputs / "fleet.nl"))
    assert result.exit_code == 2
    assert "fleet.col: is an input of this command; not overwriting it" in result.stderr
    assert sorted(p.name for p in inputs.iterdir()) == ["fleet.col"]


@pytest.mark.parametrize(("given", "expected"), [((), None), (("-j", "1"), 1), (("-j", "2"), 2)])
def test_partitions_take_the_jobs_given_even_one(
    monkeypatch, tmp_path, given: tuple[str, ...], expected: int | None
) -> None:
    """``-k K -j 1`` solves one part at a time; without -j the driver picks (K, at most the
    cores). -j 1 was once read as "not given"."""
    import taskalloc.solvers as solvers

    seen: list[object] = []
    real = solvers.solve

    def spy(*args, **kwargs):
        seen.append(kwargs.get("jobs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(solvers, "solve", spy)
    out = tmp_path / "plan.yaml"
    res = cli(
        "solve",
        str(EXAMPLES / "inference-fleet.yaml"),
        "-s",
        "greedy",
        "-k",
        "2",
        *given,
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.stderr
    assert seen == [expected]
