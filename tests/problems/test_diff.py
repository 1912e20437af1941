"""``taskalloc diff`` and problems/diff.py on hand-edited plans."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from taskalloc.problems.diff import diff, diff_stated, match
from taskalloc.problems.plan import Assignment, read_plan
from tests.helpers import DATA, EXAMPLES, ROOT, asg, cli, make, node, prob, task

PLANS = DATA / "report"


def _edit(src: Path, dst: Path, *pairs: tuple[str, str], drop: str | None = None) -> Path:
    """A hand edit of a plan file: text replacements, and lines naming ``drop`` removed."""
    text = src.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    if drop is not None:
        text = "\n".join(line for line in text.splitlines() if drop not in line) + "\n"
    dst.write_text(text)
    return dst


def test_equal_plans_exit_0_and_print_nothing_on_stdout(tmp_path: Path) -> None:
    plan = PLANS / "inference-fleet.plan.yaml"
    # metadata differs, assignments do not
    other = _edit(plan, tmp_path / "b.yaml", ("name: greedy", "name: someone-else"))
    result = cli("diff", str(plan), str(other))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("plans are equal: the same 33 replicas on the same nodes")


def test_moved_and_dropped_replicas_with_deltas(tmp_path: Path) -> None:
    plan = PLANS / "inference-fleet.plan.yaml"
    b = _edit(
        plan,
        tmp_path / "b.yaml",
        (
            "{task: llama-70b-serve, replica: 0, node: a100-east-1}",
            "{task: llama-70b-serve, replica: 0, node: a100-east-2}",
        ),
        drop="task: sdxl-image, replica",
    )
    result = cli(
        "diff",
        str(plan),
        str(b),
        "--problem",
        str(EXAMPLES / "inference-fleet.yaml"),
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    assert out.startswith("plans differ: 1 moved, 1 dropped\n")
    assert "llama-70b-serve#0  a100-east-1 -> a100-east-2" in out
    assert "dropped (only in a)\n  sdxl-image  l4-1" in out
    assert "b.yaml (says feasible; check finds 2 violations)" in out  # sdxl-image is required
    assert "utilisation (recomputed; nodes that changed, a -> b)" in out
    assert all(len(line) <= 80 for line in out.splitlines()[3:])  # after the file names
    data = json.loads(
        cli(
            "diff", str(plan), str(b), "-p", str(EXAMPLES / "inference-fleet.yaml"), "-f", "json"
        ).stdout
    )
    assert data["equal"] is False
    assert data["counts"] == {
        "moved": 1,
        "started_earlier": 0,
        "started_later": 0,
        "devices_changed": 0,
        "newly_placed": 0,
        "dropped": 1,
    }
    assert data["moved"][0]["a"]["node"] == "a100-east-1"
    assert data["moved"][0]["b"]["node"] == "a100-east-2"
    assert data["objective"]["unplaced"]["delta"] > 0
    assert data["utilisation"]["a100-east-2"]["gpu"]["delta"] > 0
    assert data["violations"] == {"a": 0, "b": 2}


def test_problem_found_through_the_plan(tmp_path: Path, monkeypatch) -> None:
    """Without --problem, the problem the plan names (problem.path) is used."""
    monkeypatch.chdir(ROOT)
    plan = PLANS / "inference-fleet.plan.yaml"
    b = _edit(plan, tmp_path / "b.yaml", drop="task: sdxl-image, replica")
    result = cli("diff", str(plan), str(b), "-f", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["recomputed"] is True


def test_without_a_problem_the_stated_figures_are_used(tmp_path: Path) -> None:
    plan = PLANS / "inference-fleet.plan.yaml"
    a = _edit(plan, tmp_path / "a.yaml", ("path: examples/inference-fleet.yaml", "path: gone.yaml"))
    b = _edit(a, tmp_path / "b.yaml", drop="task: sdxl-image, replica")
    result = cli("diff", str(a), str(b))
    assert result.exit_code == 1
    assert "no problem file (give --problem)" in result.stderr
    assert "objective (as the plans state it" not in result.stdout  # same stated objective
    assert "dropped (only in a)" in result.stdout


def test_started_earlier_and_later(tmp_path: Path) -> None:
    plan = PLANS / "training-pipeline.plan.yaml"
    text = plan.read_text()
    line = next(x for x in text.splitlines() if "task: whisper-finetune-medical" in x)
    later = line.replace("start: 0, end: 120", "start: 30, end: 150")
    assert later != line
    b = _edit(plan, tmp_path / "b.yaml", (line, later))
    result = cli("diff", str(plan), str(b), "-p", str(EXAMPLES / "training-pipeline.yaml"))
    assert result.exit_code == 1
    assert "started later\n  whisper-finetune-medical  h100-1: 0 -> 30 (+30)" in result.stdout
    back = cli("diff", str(b), str(plan), "-p", str(EXAMPLES / "training-pipeline.yaml"))
    assert "started earlier\n  whisper-finetune-medical  h100-1: 30 -> 0 (-30)" in back.stdout


def test_replicas_are_interchangeable() -> None:
    """Swapping the numbers of two replicas moves nothing; a replica that leaves a node is
    a move whatever its number."""
    a = [asg("s", "n1", 0), asg("s", "n2", 1)]
    swapped = [asg("s", "n2", 0), asg("s", "n1", 1)]
    same, moved, placed, dropped = match(a, swapped)
    assert (len(same), moved, placed, dropped) == (2, [], [], [])
    one_moved = [asg("s", "n3", 0), asg("s", "n1", 1)]
    _, moved, _, _ = match(a, one_moved)
    assert [(m.a.node, m.b.node) for m in moved] == [("n2", "n3")]


def test_newly_placed_and_devices_changed() -> None:
    p = prob(
        [node(n, {"gpu": 8}, devices={"gpu": 8}) for n in ("g", "h")],
        [task("nb", {"gpu": 0.5}), task("opt", {"gpu": 1}, required=False)],
    )
    a = [Assignment("nb", 0, "g", devices={"gpu": (3,)})]
    b = [
        Assignment("nb", 0, "g", devices={"gpu": (5,)}),
        Assignment("opt", 0, "h", devices={"gpu": (0,)}),
    ]
    pa, pb = make(p, a), make(p, b)
    assert pa.metrics["feasible"] and pb.metrics["feasible"]
    d = diff(p, pa, pb)
    assert not d.equal
    assert [(c.a.devices, c.b.devices) for c in d.devices] == [({"gpu": (3,)}, {"gpu": (5,)})]
    assert [(r.task, r.node) for r in d.placed] == [("opt", "h")]
    assert d.objective["unplaced"].delta == -1
    from taskalloc.cli.diff import text_lines

    lines = text_lines(d, "a.yaml", "b.yaml")
    assert "  nb  g [gpu 3] -> g [gpu 5]" in lines
    assert "  opt  h [gpu 0]" in lines


def test_stated_diff_reads_metrics() -> None:
    plan = read_plan(str(PLANS / "inference-fleet.plan.yaml"))
    other = replace(plan, assignments=plan.assignments[1:])
    d = diff_stated(plan, other)
    assert not d.recomputed and len(d.dropped) == 1
    assert d.utilisation == {}  # the metrics were not edited: the plans state the same


@pytest.mark.parametrize("args", [["-", "-"]])
def test_stdin_once(args: list[str]) -> None:
    result = cli("diff", *args, input="")
    assert result.exit_code == 2
    assert result.stderr == "standard input (-) can be given once\n"
