"""Overhead of the batch machinery: 200 small generated problems solved sequentially
(``--jobs 1``), with ``--jobs 2`` and on Ray, against the same work done in one process.

For each solver (greedy; cpsat with a 1 s limit and 1 worker) it first solves every problem in
this process with the library (:func:`taskalloc.solvers.run.run_bytes`: parse, validate, solve,
plan text) to get the work itself, then runs the real command in a subprocess and prints

    wall       the command's wall time (start-up of Python, worker processes or Ray included)
    overhead   (wall - in-process work / parallelism) / problems: what the batch machinery
               costs per problem (process start-up, transfers, writing plans and summary)
    steady     the same without the fixed start-up cost (the wall time of a one-problem batch
               with the same executor), i.e. the per-problem cost in a long batch

Ray runs start a local Ray for the run (as ``--executor ray`` without ``--ray-address`` does).
Always exits 0; the numbers depend on the machine's load.

    .venv/bin/python benchmarks/bench_batch.py                 # 200 problems, both solvers
    .venv/bin/python benchmarks/bench_batch.py --problems 50 --solvers greedy --no-ray
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from taskalloc.problems.generate import generate
from taskalloc.problems.plan import dumps
from taskalloc.solvers.run import SolveOptions, run_bytes


def make_problems(directory: Path, n: int) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for i in range(n):
        p = directory / f"p{i:03d}.yaml"
        p.write_text(dumps(generate(8 + i % 8, 3 + i % 3, seed=i)))
        paths.append(p)
    return paths


def in_process(paths: list[Path], opts: SolveOptions) -> float:
    t0 = time.perf_counter()
    for p in paths:
        result = run_bytes(str(p), p.read_bytes(), opts, path=str(p))
        assert result.plan_text is not None, result.error_lines
    return time.perf_counter() - t0


def command(inputs: list[str], out: Path, solver_args: list[str], extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "taskalloc", "-q", "solve", *inputs, "--out-dir", str(out),
        *solver_args, "-w", "1", *extra,
    ]  # fmt: skip


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"  ! exit {proc.returncode}: {proc.stderr.strip()[:300]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--solvers", nargs="+", default=["greedy", "cpsat"])
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    has_ray = importlib.util.find_spec("ray") is not None and not args.no_ray
    executors: list[tuple[str, list[str], int]] = [
        ("sequential (--jobs 1)", ["-j", "1"], 1),
        ("local --jobs 2", ["-j", "2"], 2),
    ]
    if has_ray:
        executors.append(("ray (local, 2 CPUs)", ["--executor", "ray"], 2))
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        paths = make_problems(tmp / "problems", args.problems)
        n = len(paths)
        print(f"{n} generated problems (8-15 tasks, 3-5 nodes) in {tmp / 'problems'}")
        for solver in args.solvers:
            solver_args = ["-s", solver] + (["-t", "1"] if solver == "cpsat" else [])
            opts = SolveOptions(
                solver=solver, workers=1, time_limit=1 if solver == "cpsat" else None
            )
            in_process(paths[:5], opts)  # warm up imports (OR-Tools)
            work = in_process(paths, opts)
            print(f"\n== {' '.join(solver_args)}: in-process work {work:.2f} s "
                  f"({work / n * 1000:.1f} ms per problem)")  # fmt: skip
            print(f"  {'executor':24} {'wall s':>8} {'overhead/problem s':>19} {'steady s':>9}")
            for name, extra, par in executors:
                out = tmp / "plans"
                shutil.rmtree(out, ignore_errors=True)
                one = timed(command([str(paths[0])], tmp / "one", solver_args, extra))
                shutil.rmtree(tmp / "one", ignore_errors=True)
                wall = timed(command([str(tmp / "problems")], out, solver_args, extra))
                written = len(list(out.glob("*.plan.yaml")))
                overhead = (wall - work / par) / n
                steady = (wall - one - work / par) / n
                print(f"  {name:24} {wall:8.2f} {overhead:19.3f} {steady:9.3f}"
                      + ("" if written == n else f"  ! {written}/{n} plans"))  # fmt: skip
                print(f"    {' '.join(command(['DIR'], Path('OUT'), solver_args, extra)[2:])}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
