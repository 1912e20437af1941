"""A batch names the directories it creates on stderr, as every command that writes does."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import EXAMPLES, cli


def test_a_batch_names_the_directories_it_creates(tmp_path: Path) -> None:
    out = tmp_path / "plans" / "2026"
    summary = tmp_path / "logs" / "summary.jsonl"
    problem = str(EXAMPLES / "replanning.yaml")
    args = ["solve", problem, "--out-dir", str(out), "--summary", str(summary), "-s", "greedy"]
    r = cli(*args, env={"COLUMNS": "1000"})
    assert r.exit_code == 0, r.stderr
    created = [x.removeprefix("created directory ") for x in r.stderr.splitlines()]
    created = [x for x in created if x.startswith(str(tmp_path))]
    assert created == [str(tmp_path / "plans"), str(out), str(tmp_path / "logs")]
    assert (out / "replanning.plan.yaml").is_file() and summary.is_file()
    again = cli(*args, env={"COLUMNS": "1000"})  # they exist now: nothing to say
    assert again.exit_code == 0 and "created directory" not in again.stderr
