"""problems/files.py, the one writer of output files: atomic, and never destroying an input, a
device, a pipe or a symlink; and the commands that write through it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from taskalloc.problems.files import OutputError, refuse_inputs, write_atomic
from tests.helpers import DATA, EXAMPLES, cli


def test_writes_text_and_bytes_and_makes_parents(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "plan.yaml"
    write_atomic(out, "x: 1\n")
    assert out.read_text() == "x: 1\n"
    write_atomic(out, b"\x89PNG")
    assert out.read_bytes() == b"\x89PNG"
    assert [p.name for p in out.parent.iterdir()] == ["plan.yaml"]  # no temporary file left


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("old")
    out.chmod(0o640)
    write_atomic(out, "new")
    assert out.read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_an_input_is_never_overwritten_by_any_name(tmp_path: Path) -> None:
    problem = tmp_path / "fleet.yaml"
    problem.write_text("taskalloc: 1\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(problem)
    hard = tmp_path / "hard.yaml"
    os.link(problem, hard)
    for output in (problem, link, hard, tmp_path / "." / "fleet.yaml"):
        with pytest.raises(OutputError, match="is an input of this command; not overwriting it"):
            write_atomic(output, "plan", inputs=[str(problem), None, "-"])
    assert problem.read_text() == "taskalloc: 1\n" and link.is_symlink()
    refuse_inputs(tmp_path / "other.yaml", [str(problem)])  # another file: fine
    write_atomic(tmp_path / "other.yaml", "plan", inputs=[str(problem)])


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real" / "plan.yaml"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "plan.yaml"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(tmp_path, "x")


def test_a_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the pipe


def test_a_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); the pipe test covers the rule")
    write_atomic(null, "discarded")
    assert stat.S_ISCHR(null.stat().st_mode)


# -- the commands write through it -----------------------------------------------------------


def test_solve_refuses_its_problem_as_output_before_solving(tmp_path: Path) -> None:
    problem = tmp_path / "fleet.yaml"
    problem.write_bytes((EXAMPLES / "inference-fleet.yaml").read_bytes())
    before = problem.read_bytes()
    result = cli("solve", str(problem), "-s", "greedy", "-o", str(problem))
    assert result.exit_code == 2
    assert result.stderr == f"{problem}: is an input of this command; not overwriting it\n"
    assert problem.read_bytes() == before


def test_export_and_import_refuse_their_input(tmp_path: Path) -> None:
    problem = tmp_path / "fleet.yaml"
    problem.write_bytes((EXAMPLES / "inference-fleet.yaml").read_bytes())
    result = cli("export", str(problem), "-o", str(problem))
    assert result.exit_code == 2 and "is an input of this command" in result.stderr
    assert problem.read_bytes() == (EXAMPLES / "inference-fleet.yaml").read_bytes()
    instance = tmp_path / "tiny.gap"
    instance.write_bytes((DATA / "import" / "tiny.gap").read_bytes())
    result = cli("import", "gap", str(instance), "-o", str(instance))
    assert result.exit_code == 2 and "is an input of this command" in result.stderr
    assert instance.read_bytes() == (DATA / "import" / "tiny.gap").read_bytes()


def test_report_writes_into_a_pipe(tmp_path: Path) -> None:
    problem = str(EXAMPLES / "inference-fleet.yaml")
    plan = tmp_path / "plan.yaml"
    assert cli("solve", problem, "-s", "greedy", "-o", str(plan)).exit_code == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = cli("report", problem, str(plan), "--view", "nodes", "-o", str(fifo), "-f", "csv")
    reader.join(10)
    assert result.exit_code == 0, result.stderr
    assert got and got[0].startswith(b"node,")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# -- the system failing to write, --no-clobber ---------------------------------------------


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from taskalloc.problems.files import WriteError

    out = tmp_path / "plan.yaml"
    out.write_text("old")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match=r"cannot write .*plan\.yaml: No space left on device"):
        write_atomic(out, "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.yaml"]


def test_no_clobber_refuses_an_existing_file_and_writes_a_new_one(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    assert write_atomic(out, "first", no_clobber=True) == []
    with pytest.raises(OutputError, match="exists; not overwriting it"):
        write_atomic(out, "second", no_clobber=True)
    assert out.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.yaml"]


def test_the_directories_made_are_returned(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "plan.yaml"
    assert write_atomic(out, "x") == [tmp_path / "a", tmp_path / "a" / "b"]
    assert write_atomic(out, "y") == []


def test_solve_no_clobber_refuses_before_solving(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    out.write_text("old")
    problem = str(EXAMPLES / "inference-fleet.yaml")
    result = cli("solve", problem, "-s", "greedy", "-o", str(out), "--no-clobber")
    assert result.exit_code == 2
    assert result.stderr == f"{out}: exists; not overwriting it (--no-clobber)\n"
    assert out.read_text() == "old"


@pytest.mark.parametrize(
    "command",
    [
        ["solve", "{fleet}", "-s", "cpsat", "-t", "5"],
        ["simulate", "{pipeline}", "--policy", "first-fit"],
        ["replan", "{replanning}", "{today}", "--fail", "l4-4", "-s", "cpsat", "-t", "5"],
        ["whatif", "{replanning}", "{today}", "--fail-each-pool", "-s", "greedy"],
    ],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("refused", ["directory", "no-clobber"])
def test_a_refused_output_is_one_line_before_anything_runs(
    tmp_path: Path, command: list[str], refused: str
) -> None:
    """An output that cannot be written is refused before the run: no progress line, no
    summary, no scenario, nothing lost at the end of a long solve."""
    today = tmp_path / "today.yaml"
    replanning = str(EXAMPLES / "replanning.yaml")
    made = cli("solve", replanning, "-s", "greedy", "-q", "-o", str(today))
    assert made.exit_code == 0, made.stderr
    out = tmp_path / "out"
    if refused == "directory":
        out.mkdir()
        args, line = [], f"{out}: is a directory\n"
    else:
        out.write_text("old")
        args, line = ["--no-clobber"], f"{out}: exists; not overwriting it (--no-clobber)\n"
    names = {
        "fleet": str(EXAMPLES / "inference-fleet.yaml"),
        "pipeline": str(EXAMPLES / "training-pipeline.yaml"),
        "replanning": replanning,
        "today": str(today),
    }
    result = cli(*[a.format(**names) for a in command], "-o", str(out), *args)
    assert result.exit_code == 2
    assert result.stderr == line
    assert result.stdout == ""
    assert out.is_dir() if refused == "directory" else out.read_text() == "old"


def test_solve_says_which_directories_it_made(tmp_path: Path) -> None:
    out = tmp_path / "new" / "plan.yaml"
    result = cli("solve", str(EXAMPLES / "inference-fleet.yaml"), "-s", "greedy", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"created directory {tmp_path / 'new'}" in result.stderr
    assert out.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_standard_output_is_one_line_and_exit_74() -> None:
    import subprocess
    import sys

    problem = str(EXAMPLES / "inference-fleet.yaml")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "taskalloc", "solve", problem, "-s", "greedy", "-q"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 74
    assert proc.stderr == "taskalloc: cannot write standard output: No space left on device\n"


def test_a_closed_standard_output_is_one_line_and_exit_74() -> None:
    import subprocess
    import sys

    code = "import os, sys; os.close(1); from taskalloc.cli import main; main(sys.argv[1:])"
    problem = str(EXAMPLES / "inference-fleet.yaml")
    proc = subprocess.run(
        [sys.executable, "-c", code, "solve", problem, "-s", "greedy", "-q"],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 74
    assert "cannot write standard output" in proc.stderr
    assert "Traceback" not in proc.stderr
