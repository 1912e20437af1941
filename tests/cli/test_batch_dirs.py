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


def test_a_batchs_closing_line_counts_errors_as_nouns(tmp_path: Path) -> None:
    """The closing line says "2 errors" (a noun) beside "1 feasible" (an adjective)."""
    bad = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path in bad:
        path.write_text("taskalloc: 1\ntasks: [}\n")
    problem = str(EXAMPLES / "replanning.yaml")
    files = [problem, *map(str, bad)]
    r = cli("solve", *files, "--out-dir", str(tmp_path / "plans"), "-s", "greedy",
            env={"COLUMNS": "1000"})  # fmt: skip
    assert r.exit_code == 2, r.stderr
    closing = [x for x in r.stderr.splitlines() if x.startswith("batch: 3 problems:")]
    assert len(closing) == 1 and "2 errors, 1 " in closing[0], r.stderr
