"""``taskalloc replan`` and ``taskalloc whatif`` from the command line: data on stdout, people
on stderr, bad input one line, no output over an input; whatif rows equal solving each
scenario file by hand."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import cli, make, write_problem
from tests.replanning import TODAY, fleet

PROBLEM = fleet()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The problem and today's plan of it (a and b on n1, c on n2, d on n3)."""
    import taskalloc
    from taskalloc.problems.plan import Assignment

    problem = write_problem(tmp_path / "fleet.yaml", PROBLEM)
    p = taskalloc.load(problem)
    plan = tmp_path / "plan.yaml"
    taskalloc.write_plan(make(p, [Assignment(t, 0, n) for t, n in TODAY.items()]), plan)
    return problem, plan


def test_replan_writes_the_plan_and_says_what_moved(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    problem, plan = files
    new = tmp_path / "new.yaml"
    moves = tmp_path / "moves.json"
    args = ["--fail", "n1", "-s", "cpsat", "-t", "10", "-o", str(new), "--moves", str(moves)]
    r = cli("replan", str(problem), str(plan), *args)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert "changes: 2 moves" in r.stderr
    assert "moved     a: n1 -> n3 (node n1 failed)" in r.stderr
    assert json.loads(moves.read_text()) == {
        "changes": ["fail n1"],
        "moves": [
            {"kind": "moved", "task": t, "from": "n1", "to": "n3", "why": "node n1 failed"}
            for t in ("a", "b")
        ],
    }
    data = yaml.safe_load(new.read_text())
    assert {a["task"]: a["node"] for a in data["assignments"]} == {**TODAY, "a": "n3", "b": "n3"}
    # the plan embeds the changed problem: check needs nothing else
    r = cli("check", str(new))
    assert r.exit_code == 0, r.stderr


def test_replan_to_stdout_and_the_changed_problem(files: tuple[Path, Path], tmp_path: Path) -> None:
    problem, plan = files
    changed = tmp_path / "changed.yaml"
    r = cli(
        "replan",
        str(problem),
        str(plan),
        "--drain",
        "n2",
        "-s",
        "greedy",
        "--write-problem",
        str(changed),
    )
    assert r.exit_code == 0, r.stderr
    new = tmp_path / "new.yaml"
    new.write_text(r.stdout)
    assert yaml.safe_load(r.stdout)["problem"]["path"] == str(changed)
    assert yaml.safe_load(changed.read_text())["x-replan"]["drain"] == ["n2"]
    r = cli("check", str(changed), str(new))
    assert r.exit_code == 0, r.stderr
    assert "(node n2 drained)" not in r.stdout


def test_a_bad_change_is_one_line(files: tuple[Path, Path]) -> None:
    problem, plan = files
    r = cli("replan", str(problem), str(plan), "--fail", "n11")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.strip() == "--fail n11: no node or pool of that id; did you mean 'n1'?"
    r = cli("replan", str(problem), str(plan), "--scale-demand", "a")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1


def test_replan_never_writes_over_an_input(files: tuple[Path, Path]) -> None:
    problem, plan = files
    before = plan.read_bytes()
    r = cli("replan", str(problem), str(plan), "--fail", "n1", "-o", str(plan))
    assert r.exit_code == 2
    assert plan.read_bytes() == before


def test_replan_adds_tasks_from_a_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    problem, plan = files
    add = tmp_path / "add.yaml"
    add.write_text("- {id: e, demand: {cpu: 4}}\n")
    r = cli("replan", str(problem), str(plan), "--add", str(add), "-s", "cpsat", "-t", "10")
    assert r.exit_code == 0, r.stderr
    assert "started   e: - -> n3 (new task)" in r.stderr
    assert "changes: 0 moves, 1 started" in r.stderr


def scenario_by_hand(failed: str) -> dict[str, Any]:
    """The problem of `whatif --fail-each-node`'s scenario `fail FAILED`, written by hand."""
    data = json.loads(json.dumps(PROBLEM))
    for t in data["tasks"]:
        t["required"] = False
        t["current"] = [TODAY[t["id"]]]
        t["nodes"] = [n["id"] for n in PROBLEM["nodes"] if n["id"] != failed]
    data["objective"] = {"lexicographic": ["unplaced", "moves", "cost"]}
    return data


def test_whatif_rows_equal_solving_each_scenario_by_hand(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    problem, plan = files
    r = cli(
        "whatif",
        str(problem),
        str(plan),
        "--fail-each-node",
        "-s",
        "cpsat",
        "-t",
        "10",
        "-f",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    table = json.loads(r.stdout)
    assert table["weakest"] == "fail n1"
    for row in table["scenarios"]:
        failed = row["scenario"].removeprefix("fail ")
        f = write_problem(tmp_path / f"{failed}.yaml", scenario_by_hand(failed))
        s = cli("solve", str(f), "-s", "cpsat", "-t", "10", "-q")
        assert s.exit_code == 0, s.stderr
        by_hand = yaml.safe_load(s.stdout)
        objective = by_hand["solver"]["objective"]
        assert row["moves"] == objective["moves"]
        assert row["unplaced_tasks"] == len(by_hand["unplaced"])
        assert row["objective_delta"] == {
            "unplaced": objective["unplaced"],
            "cost": objective["cost"],
        }
        assert row["feasible"] is True


def test_whatif_formats(files: tuple[Path, Path], tmp_path: Path) -> None:
    problem, plan = files
    r = cli(
        "whatif", str(problem), str(plan), "--fail-each-node", "--scale-demand", "3", "-s", "greedy"
    )
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("weakest: node n")
    assert lines[1].startswith("baseline: 0 tasks unplaced, objective unplaced priority 0")
    assert lines[3].split()[:2] == ["scenario", "feasible"]
    assert any(line.startswith("demand x3") and " no " in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    out = tmp_path / "w.csv"
    r = cli("whatif", str(problem), str(plan), "--fail-each-node", "-s", "greedy", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert list(rows[0])[:3] == ["scenario", "feasible", "objective_delta"]
    # the numbers apart for a spreadsheet: each term's delta, the most loaded resource
    n1 = next(r for r in rows if r["scenario"] == "fail n1")
    assert float(n1["delta_unplaced"]) == 0 and n1["most_loaded_resource"] == "cpu"
    assert 0 < float(n1["most_loaded_utilisation"]) <= 1
    assert n1["most_loaded"] == f"cpu {float(n1['most_loaded_utilisation']) * 100:.0f}%"
    data = json.loads(
        cli(
            "whatif", str(problem), str(plan), "--fail-each-node", "-s", "greedy", "-f", "json"
        ).stdout
    )
    assert data["headline"].startswith("weakest: node n") and data["weakest"].startswith("fail n")
    first = data["scenarios"][0]
    assert first["loss"] == {"kind": "node", "name": "n1"}
    assert first["most_loaded_resource"] == "cpu"
    md = cli(
        "whatif", str(problem), str(plan), "--fail-each-node", "-s", "greedy", "-f", "markdown"
    )
    assert "| fail n1 | yes |" in md.stdout
    page = tmp_path / "w.html"
    r = cli(
        "whatif", str(problem), str(plan), "--fail-each-node", "-s", "greedy", "--html", str(page)
    )
    assert r.exit_code == 0, r.stderr
    text = page.read_text()
    assert "<td class=''>fail n1</td>" in text and "weakest: node n1" in text
    # one self-contained page: no script, nothing fetched (the SVG's namespace is no request)
    assert "<script" not in text and not re.search(r"(src|href)=[\"']?https?:", text)
    # and a chart of what each scenario leaves out and moves
    assert 'data-chart="objective"' in text and "unplaced tasks, moves" in text
    # -o FILE.html is the same page, and nothing on stdout
    again = tmp_path / "again.html"
    r = cli("whatif", str(problem), str(plan), "--fail-each-node", "-s", "greedy", "-o", str(again))
    assert r.exit_code == 0 and r.stdout == "" and f"HTML page written to {again}" in r.stderr
    assert again.read_text() == text
    r = cli("whatif", str(problem), "--fail-each-node", "-o", str(again), "--html", str(page))
    assert r.exit_code == 2
    assert r.stderr.strip() == "give the HTML page once: -o FILE.html or --html FILE"
    r = cli("whatif", str(problem), "--fail-zone", "zone=x", "-s", "greedy")
    assert r.exit_code == 2
    assert r.stderr.strip() == "--fail-zone zone=x: no node has a label zone"
    r = cli("whatif", str(problem), str(plan))
    assert r.exit_code == 2 and "no scenario" in r.stderr


def test_ctrl_c_keeps_the_best_replan(tmp_path: Path) -> None:
    """SIGINT during the search: the best new plan is written, it passes check, exit 130."""
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cloudgen import generate_cloud

    problem = tmp_path / "cloud.json"
    problem.write_text(json.dumps(generate_cloud(100, 300, seed=3)))
    plan = tmp_path / "plan.yaml"
    r = cli("solve", str(problem), "-s", "greedy", "-o", str(plan), "-q")
    assert r.exit_code == 0, r.stderr
    busiest = max(yaml.safe_load(plan.read_text())["assignments"], key=lambda a: a["node"])["node"]
    new = tmp_path / "new.yaml"
    cmd = [sys.executable, "-m", "taskalloc", "replan", str(problem), str(plan)]
    cmd += ["--fail", busiest, "-s", "cpsat", "-t", "60", "-O", "lns=true", "-o", str(new)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, seen + err
    assert out == ""
    assert "changes: " in err
    r = cli("check", str(new))
    assert r.exit_code == 0, r.stderr


def test_ctrl_c_while_whatif_solves_its_baseline_exits_130(tmp_path: Path) -> None:
    """SIGINT while whatif solves PROBLEM for its baseline: exit 130, no scenario runs, and
    the one line says so (it was exit 4, 'no baseline plan: interrupted: the plan holds the
    best solution found so far')."""
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cloudgen import generate_cloud

    problem = tmp_path / "cloud.json"
    problem.write_text(json.dumps(generate_cloud(100, 300, seed=3)))
    cmd = [sys.executable, "-m", "taskalloc", "whatif", str(problem), "--fail-each-pool"]
    cmd += ["-s", "cpsat", "-t", "60", "-O", "lns=true"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)  # loaded and solving (the baseline of this problem takes the whole -t)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == ""
    assert "no baseline plan" not in err, err
    assert "interrupted while solving the baseline; no scenario was run" in err, err


@pytest.mark.parametrize("columns", [80, 200])
def test_whatif_table_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    """The README's whatif: at 80 columns (a pipe's width) the objective delta wraps between
    its terms and every line fits; wide enough, every scenario is one line."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "replanning.yaml")
    today = tmp_path / "today.yaml"
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", str(today)).exit_code == 0
    result = cli(
        "-q", "whatif", problem, str(today), "--fail-each-pool", "-s", "greedy",
        env={"COLUMNS": str(columns)},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    table = lines[lines.index("") + 1 :]
    assert re.split(r"\s{2,}", table[0])[:3] == ["scenario", "feasible", "objective delta"]
    scenarios = [x for x in table[2:] if not x.startswith(" ")]
    assert [re.split(r"\s{2,}", x)[0] for x in scenarios] == [
        "fail pool a100", "fail pool l4", "fail pool cpu", "fail v100-legacy",
    ]  # fmt: skip
    if columns == 80:
        assert max(len(x) for x in table) <= 80
        assert len(table) > 2 + len(scenarios)  # some delta took a second line
        wrapped = table[table.index(scenarios[0]) + 1 : table.index(scenarios[1])]
        assert [x.strip() for x in wrapped][-1].startswith("cost ")
        assert all(x.startswith(" " * 20) for x in wrapped)
    else:
        assert len(table) == 2 + len(scenarios)


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_messages_about_tasks_name_the_users_lines_not_the_replanned_text(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """The changed problem is a text the user does not have: a conflict names each task by
    id with its line in the problem file; a bad task of --add, its line in the --add file."""
    problem, plan = files
    args = ["--fail", "n1", "--max-moves", "1", "-s", "cpsat", "-t", "10"]
    out = str(tmp_path / "new.yaml")
    r = cli("replan", str(problem), str(plan), *args, "-o", out, env={"COLUMNS": "1000"})
    assert r.exit_code == 3, r.stderr
    assert "replanned" not in r.stderr
    (conflict,) = [line for line in r.stderr.splitlines() if "conflict" in line]
    a, b = (f"{problem}:{_line_of(problem, text) - 1}" for text in ('"id": "a"', '"id": "b"'))
    assert conflict.endswith(f"cannot all be placed: a ({a}), b ({b})"), conflict
    extra = tmp_path / "extra.yaml"
    extra.write_text("- id: e\n  demand: {cpu: 1}\n- id: f\n  demand: {cpu: -1}\n")
    r = cli("replan", str(problem), str(plan), "--add", str(extra), "-s", "greedy")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"{extra}:4:"), r.stderr
    assert "replanned" not in r.stderr


def test_whatif_progress_lines_say_what_the_table_says(tmp_path: Path) -> None:
    """A scenario's tasks are all optional, so its solver reports `feasible` even when the
    loss leaves required work out; the progress line said that, beside a table saying
    `feasible no`. It now says the table's verdict."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "replanning.yaml")
    today = tmp_path / "today.yaml"
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", str(today)).exit_code == 0
    r = cli("whatif", problem, str(today), "--fail-each-pool", "-s", "greedy", "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = {row["scenario"]: row for row in json.loads(r.stdout)["scenarios"]}
    said = dict(re.findall(r"^\[\d/\d\] (.+?): (.+) \(\d+\.\d s\)$", r.stderr, re.M))
    assert set(said) == set(rows)
    for name, row in rows.items():
        if row["feasible"]:
            assert said[name] == "feasible"
        else:
            assert said[name] == f"infeasible: {row['unplaced_tasks']} tasks unplaced"
    assert any(not row["feasible"] for row in rows.values())  # else this test is moot


def test_whatif_names_the_weighted_unplaced_term_apart_from_the_count(tmp_path: Path) -> None:
    """The delta's `unplaced` is priority x replicas, not the number of tasks in the `unplaced`
    column beside it: the table calls it `unplaced priority`."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "replanning.yaml")
    today = tmp_path / "today.yaml"
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", str(today)).exit_code == 0
    args = ["--fail-each-pool", "-s", "greedy", "-f", "json"]
    data = json.loads(cli("-q", "whatif", problem, str(today), *args).stdout)
    row = next(r for r in data["scenarios"] if r["scenario"] == "fail pool a100")
    weighted, count = row["objective_delta"]["unplaced"], row["unplaced_tasks"]
    assert weighted != count  # the case that misled: two numbers under one name
    text = cli("-q", "whatif", problem, str(today), "--fail-each-pool", "-s", "greedy",
               env={"COLUMNS": "200"}).stdout  # fmt: skip
    line = next(x for x in text.splitlines() if x.startswith("fail pool a100"))
    assert f"unplaced priority +{weighted:g}, cost" in line
    assert f"unplaced +{weighted:g}" not in text
    assert "objective unplaced priority 0" in text
    assert "`unplaced priority` is the `unplaced` term" in " ".join(
        cli("whatif", "--help", env={"COLUMNS": "200"}).stdout.split()
    )


def test_diff_after_replan_says_which_problem_each_plan_was_made_for(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A replanned plan is made for the changed problem: diffing it with today's plan against
    either problem is what a replan does, a note (not a warning) that says so; a plan of an
    unrelated problem gets a warning that names the problem it was made for."""
    problem, plan = files
    new, changed = tmp_path / "new.yaml", tmp_path / "changed.yaml"
    args = ["--fail", "n1", "-s", "greedy", "-o", str(new), "--write-problem", str(changed)]
    assert cli("replan", str(problem), str(plan), *args).exit_code == 0
    wide = {"COLUMNS": "1000"}
    r = cli("diff", str(plan), str(new), "-p", str(problem), env=wide)
    assert r.exit_code == 1, r.stderr
    assert "warning" not in r.stderr and "other bytes" not in r.stderr
    assert f"note: {new} is a replan of {problem} (fail n1)" in r.stderr
    r = cli("diff", str(plan), str(new), "-p", str(changed), env=wide)
    assert r.exit_code == 1, r.stderr
    assert "warning" not in r.stderr
    assert f"note: {plan} was made for the problem before the replan (fail n1)" in r.stderr
    assert f"recomputed against {changed}, the replanned problem" in r.stderr
    # an unrelated problem: a warning that names it
    other = write_problem(tmp_path / "other.yaml", {**PROBLEM, "name": "other"})
    r = cli("diff", str(plan), str(new), "-p", str(other), env=wide)
    (line,) = [x for x in r.stderr.splitlines() if x.startswith(f"warning: {plan}")]
    assert f"was made for another problem ('{PROBLEM['name']}', sha256 " in line
    assert f"than {other} (sha256 " in line


def test_the_readme_whatif_example_is_what_it_prints(tmp_path: Path) -> None:
    """The README's whatif command (deterministic, so the table repeats) prints, at 80 columns,
    exactly the table the README shows."""
    from tests.helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    at = readme.index("```sh\ntaskalloc whatif examples/replanning.yaml today.yaml")
    block = re.match(r"```sh\n(.*?)\n```\n```text\n(.*?)```", readme[at:], re.S)
    assert block is not None
    command, shown = block.groups()
    args = command.replace("\\\n", " ").split()[1:]
    assert "--deterministic" in args  # the table repeats on every run
    today = tmp_path / "today.yaml"
    problem = str(ROOT / "examples" / "replanning.yaml")
    assert cli("solve", problem, "-s", "greedy", "-q", "-o", str(today)).exit_code == 0
    args = [problem if a == "examples/replanning.yaml" else a for a in args]
    args = [str(today) if a == "today.yaml" else a for a in args]
    result = cli("-q", *args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == shown


def test_a_proof_before_any_search_also_points_to_best_effort(tmp_path: Path) -> None:
    """The whole A100 pool fails: the changed problem's pre-checks prove it infeasible before
    the engine runs (no allowed node left); the exit is 3 and the last line still says what
    --best-effort does (it was said only for proofs found by a search)."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "replanning.yaml")
    today = tmp_path / "today.yaml"
    assert cli("-q", "solve", problem, "-s", "greedy", "-o", str(today)).exit_code == 0
    new = tmp_path / "new.yaml"
    change = ["--fail", "a100", "-s", "greedy", "-o", str(new)]
    r = cli("replan", problem, str(today), *change, env={"COLUMNS": "1000"})
    assert r.exit_code == 3, r.stderr
    assert "(llama-70b-serve-a): no node is allowed by" in r.stderr
    assert r.stderr.rstrip().endswith(
        "(--best-effort plans what still fits instead: every task optional, priorities "
        "decide what stays)"
    )
    r = cli("-q", "replan", problem, str(today), *change, "--best-effort")
    assert r.exit_code == 0, r.stderr


def test_no_node_left_names_the_failure_that_took_them(tmp_path: Path) -> None:
    """A task whose allowed nodes all failed: the proof and the stop reason say which change
    took them ("once a100 failed"), not only that `nodes`/`match` allow none; a drain of
    nodes the task never matched is not named; the changed problem written out and solved
    again says the same."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "replanning.yaml")
    today = tmp_path / "today.yaml"
    assert cli("-q", "solve", problem, "-s", "greedy", "-o", str(today)).exit_code == 0
    changed = tmp_path / "changed.yaml"
    change = ["--fail", "a100", "--drain", "l4-4", "-s", "greedy", "-o", str(tmp_path / "n")]
    wide = {"COLUMNS": "1000"}
    r = cli("replan", problem, str(today), *change, "--write-problem", str(changed), env=wide)
    assert r.exit_code == 3, r.stderr
    line = "(llama-70b-serve-a): no node is allowed by `nodes`/`match` once a100 failed\n"
    assert line in r.stderr
    r = cli("solve", str(changed), "-s", "greedy", env=wide)
    assert r.exit_code == 3 and line in r.stderr
    r = cli("replan", problem, str(today), *change, "--best-effort", env=wide)
    assert r.exit_code == 0, r.stderr
    assert "no node is allowed once a100 failed (nodes []; match accel=a100)" in r.stderr


def test_best_effort_plans_what_still_fits_and_names_the_required_tasks_left_out(
    tmp_path: Path,
) -> None:
    """Half the A100s fail under a training gang that starts together (17 GPUs, 16 left):
    replan exits 3 with the conflict and the hint; --best-effort plans the rest (exit 0),
    says what stopped and warns which required tasks it left out; the plan checks."""
    from tests.helpers import EXAMPLES

    problem = str(EXAMPLES / "gpu-cluster.yaml")
    today = tmp_path / "today.yaml"
    r = cli("-q", "solve", problem, "-s", "cpsat", "--deterministic", "-o", str(today))
    assert r.exit_code == 0, r.stderr
    change = ["--fail", "a100-a", "--now", "100", "-s", "cpsat", "--deterministic"]
    new = tmp_path / "new.yaml"
    r = cli("replan", problem, str(today), *change, "-o", str(new), env={"COLUMNS": "1000"})
    assert r.exit_code == 3, r.stderr
    assert "gang pretrain starts all its members at once: together they need gpu 17" in r.stderr
    assert r.stderr.rstrip().endswith(
        "(--best-effort plans what still fits instead: every task optional, priorities "
        "decide what stays)"
    )
    r = cli(
        "replan", problem, str(today), *change, "--best-effort", "-o", str(new),
        env={"COLUMNS": "1000"},
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "stopped   pretrain-eval: a100-a-1 -> -" in r.stderr
    assert (
        "warning: best effort: 2 required tasks left out: pretrain-worker, pretrain-eval"
        in r.stderr
    )
    data = yaml.safe_load(new.read_text())
    assert {a["task"] for a in data["assignments"]} >= {"finetune", "tokenize", "router"}
    assert yaml.safe_load(data["problem"]["text"])["x-replan"]["best_effort"] is True
    assert cli("check", str(new)).exit_code == 0
    # the reports say which nodes failed, and when the replan was made
    r = cli("report", str(new), env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "failed (replan): a100-a-1, a100-a-2\n" in r.stdout
    page = tmp_path / "new.html"
    assert cli("report", str(new), "--html", str(page)).exit_code == 0
    text = page.read_text()
    assert text.count("failed (replan)</span>") == 2
    assert ">now 100<" in text and "instant of the replan (now 100)" in text


def test_a_replan_note_reads_what_replan_wrote_and_never_fails_on_an_edited_key(
    tmp_path: Path,
) -> None:
    import taskalloc
    from taskalloc.problems.replan import ReplanNote, replan_note

    base = (
        "taskalloc: 1\nnodes:\n  - {id: a, count: 2, capacity: {cpu: 4}}\n"
        "  - {id: b, capacity: {cpu: 4}}\ntasks:\n  - {id: t, demand: {cpu: 1}}\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(base + "x-replan: {fail: [a, gone, 3], drain: [b], now: 7}\n")
    assert replan_note(taskalloc.load(path)) == ReplanNote(
        frozenset({"a-1", "a-2"}), frozenset({"b"}), 7, False
    )
    for odd in ("x-replan: 3\n", "x-replan: {fail: a, now: true}\n", ""):
        path.write_text(base + odd)
        note = replan_note(taskalloc.load(path))
        assert note is None or note == ReplanNote(), odd
