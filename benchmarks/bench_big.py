"""The whole pipeline at Kubernetes scale (issue 18): each stage's time and peak memory.

Generates ``taskalloc generate --tasks T --nodes N --resources 4 --seed 1`` (JSON) into a
temporary folder (or uses ``--file``), then

1. in one process, stage by stage: parse, compile (schema, references, pools), the structural
   pre-checks (``validate`` is these three), the greedy (``-s greedy`` through
   ``solvers.solve``), the checked plan (evaluation, reasons for unplaced tasks), writing the
   plan (JSON), reading it back and ``check``; each with its wall time and its own peak
   resident memory (the high-water mark is reset before each stage where Linux allows it,
   ``/proc/self/clear_refs``; else the process's peak so far);
2. the commands users run, each in its own process: ``validate``, ``solve -s greedy -o``,
   ``check`` and ``report``, with wall time and peak resident memory (``wait4``).

Not a test: prints a table (Markdown with ``--markdown``) and the load average. Wall time on
a shared machine measures the other processes too; CPU time (user + system) is what the stage
itself took.

    python benchmarks/bench_big.py                          # 150,000 x 5,000 and 10,000 x 1,000
    python benchmarks/bench_big.py --sizes 10000x1000 --repeat 3

At 150,000 x 5,000 the run may take several GB: on a shared machine run it under the memory
lock (``flock /work/coord/big.lock python benchmarks/bench_big.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = {  # issue 18, at 150,000 x 5,000 on 2 cores: seconds, peak GB
    "validate": (5.0, None),
    "solve -s greedy": (20.0, 2.0),
    "check": (10.0, None),
    "report": (10.0, None),
}


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_gb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e6
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


Row = tuple[str, float, float, float]  # name, wall seconds, CPU seconds, peak GB


def _stage(rows: list[Row], name: str, fn: Callable[[], Any]) -> Any:
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    rows.append((name, time.perf_counter() - t0, time.process_time() - c0, _peak_gb()))
    return out


def in_process(problem_file: Path, plan_file: Path) -> list[Row]:
    from taskalloc import solvers
    from taskalloc.problems.compiler import build_problem
    from taskalloc.problems.evaluate import check
    from taskalloc.problems.files import write_atomic
    from taskalloc.problems.plan import SolverInfo, read_plan
    from taskalloc.problems.proofs import prove_infeasible
    from taskalloc.problems.source import load
    from taskalloc.solvers.result import checked_plan

    rows: list[Row] = []
    src = _stage(rows, "parse", lambda: load(str(problem_file)))
    problem = _stage(rows, "compile", lambda: build_problem(src))
    _stage(rows, "pre-checks (proofs)", lambda: prove_infeasible(problem))
    result = _stage(rows, "greedy", lambda: solvers.solve(problem, "greedy"))
    plan, _ = _stage(rows, "checked plan (evaluate)", lambda: checked_plan(problem, result))
    text = _stage(rows, "plan text (json)", lambda: plan.dumps("json"))
    _stage(rows, "write", lambda: write_atomic(str(plan_file), text))
    read = _stage(rows, "read plan", lambda: read_plan(str(plan_file)))
    rep = _stage(rows, "check (evaluate)", lambda: check(problem, read))
    assert rep.ok, rep.violations[:3]
    assert isinstance(read.solver, SolverInfo)
    return rows


def command(argv: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak resident GB and exit code of one CLI command in its own
    process."""
    exe = Path(sys.executable).with_name("taskalloc")
    cmd = [str(exe), *argv] if exe.exists() else [sys.executable, "-m", "taskalloc.cli", *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0,):
        sys.stderr.write(err.decode(errors="replace"))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1e6, proc.returncode


def commands(problem_file: Path, tmp: Path) -> list[Row]:
    plan = tmp / "plan.json"
    rows = []
    for name, argv in (
        ("validate", ["validate", str(problem_file)]),
        ("solve -s greedy", ["solve", str(problem_file), "-s", "greedy", "-o", str(plan)]),
        ("check", ["check", str(problem_file), str(plan)]),
        ("report", ["report", str(plan), "-o", str(tmp / "report.txt")]),
    ):
        wall, cpu, peak, code = command(argv)
        rows.append((name + ("" if code == 0 else f" (exit {code})"), wall, cpu, peak))
    return rows


Merged = tuple[str, list[float], list[float], float]


def _merge(runs: list[list[Row]]) -> list[Merged]:
    out = []
    for i, (name, _, _, _) in enumerate(runs[0]):
        out.append(
            (name, [r[i][1] for r in runs], [r[i][2] for r in runs], max(r[i][3] for r in runs))
        )
    return out


def _fmt(times: list[float]) -> str:
    lo, hi = min(times), max(times)
    return f"{lo:.2f}" if len(times) == 1 or hi - lo < 0.005 else f"{lo:.2f}-{hi:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        default="150000x5000,10000x1000",
        help="TASKSxNODES, comma-separated (default: %(default)s)",
    )
    ap.add_argument("--file", help="a problem file instead of generated ones")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measure (spread shown)")
    ap.add_argument("--no-commands", action="store_true", help="skip the CLI commands")
    ap.add_argument("--stages-only", action="store_true", help="one size, in-process stages only")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.file:
            cases = [(Path(args.file).name, Path(args.file))]
        else:
            cases = []
            for size in args.sizes.split(","):
                t, n = (int(x) for x in size.lower().split("x"))
                path = tmp / f"gen-{t}x{n}.json"
                # in a process of its own: a child forked from a parent holding the problem
                # would count the parent's memory in its peak
                argv = ["generate", "--tasks", str(t), "--nodes", str(n), "--resources", "4"]
                _, _, _, code = command([*argv, "--seed", "1", "-o", str(path)])
                if code != 0:
                    raise SystemExit(f"taskalloc generate failed (exit {code})")
                cases.append((f"{t:,} tasks x {n:,} nodes", path))
        for label, path in cases:
            size = path.stat().st_size / 1e6
            print(f"\n## {label} ({size:.1f} MB)   load average {_loadavg()}")
            stage_runs, cmd_runs = [], []
            for _ in range(args.repeat):
                stage_runs.append(_subprocess_stages(path, tmp))
                if not (args.no_commands or args.stages_only):
                    cmd_runs.append(commands(path, tmp))
            _table("stage (one process)", _merge(stage_runs), args.markdown, {})
            if cmd_runs:
                _table("command (own process)", _merge(cmd_runs), args.markdown, TARGETS)
            print(f"load average after: {_loadavg()}")


def _subprocess_stages(path: Path, tmp: Path) -> list[Row]:
    """The stages in a fresh process, so that each size's peaks are its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--_stages", str(path), str(tmp / "stages-plan.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"stages failed (exit {out.returncode})")
    return [(str(a), float(b), float(c), float(d)) for a, b, c, d in json.loads(out.stdout)]


def _table(
    title: str,
    rows: list[Merged],
    markdown: bool,
    targets: dict[str, tuple[float, float | None]],
) -> None:
    if markdown:
        print(f"\n| {title} | wall s | CPU s | peak RSS (GB) | target |\n|---|---:|---:|---:|---|")
    else:
        print(f"\n{title:32s} {'wall s':>12s} {'CPU s':>12s} {'peak GB':>8s}  target")
    for name, times, cpus, peak in rows:
        tgt = targets.get(name)
        goal = ""
        if tgt is not None:
            goal = f"<= {tgt[0]:g} s" + (f", <= {tgt[1]:g} GB" if tgt[1] else "")
        if markdown:
            print(f"| {name} | {_fmt(times)} | {_fmt(cpus)} | {peak:.2f} | {goal} |")
        else:
            print(f"{name:32s} {_fmt(times):>12s} {_fmt(cpus):>12s} {peak:8.2f}  {goal}")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--_stages":
        print(json.dumps(in_process(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
