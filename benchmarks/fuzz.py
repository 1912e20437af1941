"""The long fuzz run (issue 11): many mutated problem and plan files through ``validate``,
``check``, ``solve -s greedy``, ``report`` and ``diff`` (tests/fuzzing.py, Case.commands);
counts of exit codes, the slowest runs, and every crash (exit code outside {0, 1, 2, 3, 4}, a
traceback, an internal error, or a run over the time or memory cap), each written to
``--crashes DIR`` with the command that failed.

The mutations are those of the suite's bounded fuzzer (tests/fuzzing.py); here they run by the
thousand. ``--processes`` runs each command as its own ``python -m taskalloc`` process under an
address-space cap (``--mem-gb``) and a time cap (``--timeout``): slower, but a crash that takes
the process down, or memory that runs away, is caught too. Without it the commands run
in-process (typer's CliRunner), about 20 times faster.

    python benchmarks/fuzz.py --cases 3000 --seed 1
    python benchmarks/fuzz.py --cases 300 --processes --crashes /tmp/fuzz-crashes
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzzing import Case, crashed, make_case, seeds, write_case  # noqa: E402


def run_in_process(args: list[str]) -> tuple[int | None, str]:
    from typer.testing import CliRunner

    from taskalloc.cli.app import app

    result = CliRunner().invoke(app, args)
    output = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback: {result.exception!r}"
    return result.exit_code, output


def run_process(args: list[str], timeout: float, mem_gb: float) -> tuple[int | None, str]:
    cap = int(mem_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "taskalloc", *args],
            capture_output=True,
            timeout=timeout,
            preexec_fn=limit,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout} s"
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return code, output


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--processes", action="store_true", help="one process per command")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per command")
    ap.add_argument("--mem-gb", type=float, default=2.0, help="address space per process")
    ap.add_argument("--crashes", type=Path, help="write each crashing case here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seed_list = seeds()
    codes: collections.Counter[str] = collections.Counter()
    crashes: list[tuple[Case, list[str], str]] = []
    slowest: list[tuple[float, str]] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            case = make_case(rng, seed_list)
            paths = write_case(case, Path(tmp) / "case")
            for command in case.commands():
                argv = [a.format(**paths) for a in command]
                t0 = time.perf_counter()
                if args.processes:
                    code, output = run_process(argv, args.timeout, args.mem_gb)
                else:
                    code, output = run_in_process(argv)
                took = time.perf_counter() - t0
                slowest = sorted([*slowest, (took, f"{command[0]}: {case.what}")])[-5:]
                codes[f"{command[0]} {code}"] += 1
                why = crashed(code, output)
                if why is None and took > args.timeout:
                    why = f"took {took:.1f} s"
                if why is not None:
                    crashes.append((case, command, why))
                    print(f"CRASH {i}: {why}: {command[0]}: {case.what}", flush=True)
                    print("  " + output.strip().splitlines()[-1][:300] if output.strip() else "")
                    if args.crashes is not None:
                        _save(args.crashes, len(crashes), case, command, why, output)
            if (i + 1) % 200 == 0:
                print(f"{i + 1} cases, {len(crashes)} crashes", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t_start
    mode = "processes" if args.processes else "in-process"
    runs = sum(codes.values())
    print(f"\n{args.cases} cases ({runs} runs, {mode}, seed {args.seed}) in {wall:.0f} s")
    print(f"crashes: {len(crashes)}")
    for key in sorted(codes):
        print(f"  {key}: {codes[key]}")
    print("slowest runs:")
    for took, what in reversed(slowest):
        print(f"  {took:.2f} s  {what[:150]}")


def _save(directory: Path, n: int, case: Case, command: list[str], why: str, output: str) -> None:
    d = directory / f"crash-{n:03d}"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"problem{case.problem_suffix}").write_bytes(case.problem)
    (d / f"plan{case.plan_suffix}").write_bytes(case.plan)
    (d / "seedplan.json").write_bytes(case.seed_plan)
    (d / "README").write_text(f"{why}\ncommand: {' '.join(command)}\n{case.what}\n\n{output}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
