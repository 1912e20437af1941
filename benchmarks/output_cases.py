"""Every way an output file can go wrong, run as real processes: exit code, stderr and what became
of the files, as a Markdown table (the "Output files" rules of README.md and docs/reliability.md).

    python benchmarks/output_cases.py                      # this checkout's taskalloc
    python benchmarks/output_cases.py --taskalloc /work/main/.venv/bin/taskalloc   # another

Cases that need root (a full 64 KiB tmpfs, a read-only mount, a device node of our own) are
skipped otherwise; the suite covers the same rules by monkeypatching (tests/cli/test_outputs.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = [sys.executable, "-m", "taskalloc"]
ROOT = os.geteuid() == 0


def run(cmd: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a shell command line; (exit code, first line of stderr)."""
    p = subprocess.run(
        ["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    return p.returncode, (lines[-1] if lines else "")[:110]


@contextlib.contextmanager
def mounted(where: Path, options: str) -> Iterator[bool]:
    where.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)]).returncode
    try:
        yield ok == 0
    finally:
        if ok == 0:
            subprocess.run(["umount", "-l", str(where)])


def cases(t: str, d: Path) -> list[tuple[str, str, Callable[[], str]]]:
    """(case, command line, a function run after it that says what became of the files)."""
    f = d / "f.yaml"

    def same(path: Path, text: str) -> Callable[[], str]:
        return lambda: "kept" if path.read_text() == text else "CHANGED"

    def kind(path: Path) -> str:
        if path.is_symlink():
            return "symlink"
        m = path.stat().st_mode
        return "fifo" if stat.S_ISFIFO(m) else "device" if stat.S_ISCHR(m) else "regular file"

    out: list[tuple[str, str, Callable[[], str]]] = []
    problem = f.read_text()
    out.append(("output is the input", f"{t} solve f.yaml -s greedy -o f.yaml", same(f, problem)))
    (d / "in-link.yaml").symlink_to("f.yaml")
    out.append(
        (
            "output is the input via a symlink",
            f"{t} solve f.yaml -s greedy -o in-link.yaml",
            lambda: f"input {same(f, problem)()}, link {kind(d / 'in-link.yaml')}",
        )
    )
    out.append(
        (
            "report P PLAN -o P",
            f"{t} solve f.yaml -s greedy -o p.yaml -q && {t} report f.yaml p.yaml -o f.yaml",
            same(f, problem),
        )
    )
    (d / "real.yaml").write_text("old\n")
    (d / "out-link.yaml").symlink_to("real.yaml")
    out.append(
        (
            "output is a symlink",
            f"{t} solve f.yaml -s greedy -o out-link.yaml",
            lambda: (
                f"{kind(d / 'out-link.yaml')}, target "
                + (
                    "replaced"
                    if (d / "real.yaml").read_text().startswith("taskalloc_plan")
                    else "old"
                )
            ),
        )
    )
    os.mkfifo(d / "fifo")
    got: list[bytes] = []

    def read_fifo() -> None:
        with open(d / "fifo", "rb") as fh:
            got.append(fh.read())

    out.append(
        (
            "output is a FIFO",
            f"{t} solve f.yaml -s greedy -o fifo",
            lambda: f"{kind(d / 'fifo')}, {len(got[0]) if got else 0} bytes read",
        )
    )
    threading.Thread(target=read_fifo, daemon=True).start()
    if ROOT:
        os.mknod(d / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out.append(
            ("output is a device", f"{t} solve f.yaml -s greedy -o null", lambda: kind(d / "null"))
        )
    (d / "old.yaml").write_text("old plan\n")
    (d / "bad.yaml").write_text("taskalloc: 1\nnodes: [\n")
    out.append(
        (
            "existing output, bad input",
            f"{t} solve bad.yaml -s greedy -o old.yaml",
            same(d / "old.yaml", "old plan\n"),
        )
    )
    crash = (
        "import taskalloc.solvers as s; "
        "s.solve = lambda *a, **k: (_ for _ in ()).throw(RuntimeError('boom')); "
        "import taskalloc.cli.solve as c; c.__dict__.get('solve'); "
        "from taskalloc.cli.app import main; main()"
    )
    py = t.rsplit("/", 1)[0] + "/python" if "/" in t else sys.executable
    out.append(
        (
            "existing output, internal error",
            f'{py} -c "{crash}" solve f.yaml -s greedy -o old.yaml',
            same(d / "old.yaml", "old plan\n"),
        )
    )
    out.append(("-o a directory", f"{t} solve f.yaml -s greedy -o .", lambda: "-"))
    out.append(
        (
            "-o nodir/sub/plan.yaml",
            f"{t} solve f.yaml -s greedy -o nodir/sub/plan.yaml",
            lambda: "written" if (d / "nodir/sub/plan.yaml").exists() else "none",
        )
    )
    (d / "keep.yaml").write_text("keep\n")
    out.append(
        (
            "--no-clobber, output exists",
            f"{t} solve f.yaml -s greedy -o keep.yaml --no-clobber",
            same(d / "keep.yaml", "keep\n"),
        )
    )
    out.append(("stdout is /dev/full", f"{t} generate --tasks 50 > /dev/full", lambda: "-"))
    out.append(("stdout closed", f"{t} generate --tasks 50 >&-", lambda: "-"))
    out.append(
        (
            "EPIPE: generate | head -1",
            f"set -o pipefail; {t} generate --tasks 2000 | head -1 > /dev/null",
            lambda: "-",
        )
    )
    out.append(
        (
            "EPIPE: solve | head -1",
            f"set -o pipefail; {t} solve f.yaml -s greedy | head -1 > /dev/null",
            lambda: "-",
        )
    )
    if ROOT:
        (d / "full").mkdir()
        out.append(
            (
                "full disk (64 KiB tmpfs), existing output",
                f"mount -t tmpfs -o size=64k tmpfs full && echo old > full/plan.yaml && "
                f"head -c 60000 /dev/zero > full/filler; {t} solve big.yaml -s greedy "
                "-o full/plan.yaml; rc=$?; cat full/plan.yaml > full.txt; ls -a full > "
                "full.ls; umount full; exit $rc",
                lambda: (
                    ("old kept" if (d / "full.txt").read_text() == "old\n" else "CHANGED")
                    + (
                        ", temp file left"
                        if len((d / "full.ls").read_text().split()) > 4
                        else ", no temp file"
                    )
                ),
            )
        )
        (d / "ro").mkdir()
        out.append(
            (
                "read-only directory (ro mount)",
                f"mount -t tmpfs -o ro,size=64k tmpfs ro; {t} solve f.yaml -s greedy "
                "-o ro/plan.yaml; rc=$?; umount ro; exit $rc",
                lambda: "-",
            )
        )
        out.append(
            (
                "batch --out-dir on a full disk",
                f"mkdir -p full && mount -t tmpfs -o size=64k tmpfs full && "
                f"head -c 60000 /dev/zero > full/filler; {t} solve big.yaml f.yaml -s greedy "
                "--out-dir full/plans; rc=$?; umount full; exit $rc",
                lambda: "-",
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taskalloc", help="the taskalloc executable (default: this checkout's)")
    args = ap.parse_args()
    t = os.path.abspath(args.taskalloc) if args.taskalloc else " ".join(DEFAULT)
    with tempfile.TemporaryDirectory(prefix="taskalloc-out-") as tmp:
        d = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        subprocess.run(
            f"{t} generate --tasks 40 --nodes 8 --seed 1 > f.yaml", shell=True, cwd=d, check=True
        )
        subprocess.run(
            f"{t} generate --tasks 1500 --nodes 60 --seed 2 > big.yaml",
            shell=True,
            cwd=d,
            check=True,
        )
        print("| case | exit | last line of stderr | files after |")
        print("|---|---|---|---|")
        for name, cmd, after in cases(t, d):
            code, err = run(cmd, d, env)
            try:
                what = after()
            except Exception as exc:
                what = f"? {type(exc).__name__}"
            err = err.replace(str(d) + "/", "").replace("|", "\\|")
            print(f"| {name} | {code} | {err} | {what} |", flush=True)
        shutil.rmtree(d / "nodir", ignore_errors=True)


if __name__ == "__main__":
    main()
