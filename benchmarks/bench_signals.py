"""Ctrl-C and SIGTERM at random instants, in every engine and phase: real processes, real signals.

Each trial starts one command on a generated problem (small: 300 tasks x 60 nodes; big: 3,000 x
300), for every engine of the registry (``taskalloc.solvers.ENGINES``) and ``auto``, and for the
phases that are not a plain solve (MIP backends, the MIP model build, a scheduling exact phase,
Pareto fronts, a batch, ``compare``, the infeasibility explanation). It sends SIGINT or SIGTERM
(to the process or, as a terminal's Ctrl-C does, to its whole process group) at a uniform
random instant between the start and the command's natural end (loading, model building, warm
start, search, writing), and in a third of the trials a second signal 0-0.6 s after the first.
It records:

- the exit code (130 expected whenever a signal came before the command ended on its own);
- the outputs: each is made beforehand with other content, and after the run it must be that
  old content or a complete plan that passes ``taskalloc check`` (a proof of infeasibility
  counts as a plan when its status says infeasible); a batch's ``--summary``, which streams,
  must hold complete JSON lines; no temporary file may be left behind;
- the latency from the first signal to the exit, and from the second signal to the exit;
- crashes (a traceback, ``terminate called``, death by a signal) and hangs (60 s).

    python benchmarks/bench_signals.py                     # 50 trials over every case
    python benchmarks/bench_signals.py --trials 200 --engines cpsat,mip -v
    python benchmarks/bench_signals.py --cases explain,batch --trials 10

Trials go round-robin over the chosen cases (in a shuffled order), so each case gets
``trials / cases`` of them. Prints a table per engine (phases count under the engine they run)
and one per case: p50 / p95 / max latency of the first signal (trials with one signal) and max
latency of the second, with the counts of bad outcomes, and the load average (the machine may
be shared: latencies grow with it). The targets (README, "Interrupting"): exit 130 within 2 s
of the first signal with a checked plan or none, within 0.5 s of a second signal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TASKALLOC = [sys.executable, "-m", "taskalloc"]
HANG = 60.0  # seconds after the first signal before a run counts as hung
FIRST_TARGET = 2.0
SECOND_TARGET = 0.5


@dataclass
class Case:
    name: str
    engine: str  # the engine whose row it counts in
    problem: str  # file in the work directory (made by `generate`, see PROBLEMS)
    args: list[str]  # the command after `taskalloc`, {p} for the problem
    window: float  # signals come at a uniform instant in [0.1, window] seconds
    plans: list[str] = field(default_factory=list)  # output plan files (made beforehand: old)
    plan_dirs: list[str] = field(default_factory=list)  # directories whose plans are checked
    others: list[str] = field(default_factory=list)  # other outputs: old, or complete


#: problem file -> `taskalloc generate` arguments (None: written by `infeasible_problem`)
PROBLEMS: dict[str, list[str] | None] = {
    "small.yaml": ["--tasks", "300", "--nodes", "60", "--seed", "5"],
    "big.yaml": ["--tasks", "3000", "--nodes", "300", "--seed", "11"],
    "mid.yaml": ["--tasks", "800", "--nodes", "80", "--seed", "6"],
    "m.yaml": ["--tasks", "120", "--nodes", "15", "--seed", "4"],
    "sched.yaml": ["--tasks", "40", "--nodes", "6", "--scheduling", "--seed", "2"],
    "tiny.yaml": ["--tasks", "40", "--nodes", "8", "--seed", "1"],
    "batch/a.yaml": ["--tasks", "200", "--nodes", "40", "--seed", "21"],
    "batch/b.yaml": ["--tasks", "200", "--nodes", "40", "--seed", "22"],
    "batch/c.yaml": ["--tasks", "200", "--nodes", "40", "--seed", "23"],
    "infeasible.yaml": None,
}

#: per engine and size: (time limit, window); greedy has no search to limit, it ends by itself
LIMITS = {"small": (6.0, 7.5), "big": (10.0, 13.0)}
GREEDY_WINDOW = {"small": 1.5, "big": 3.0}


def engines() -> list[str]:
    """Every engine of the registry, and ``auto``."""
    from taskalloc.solvers import ENGINES

    return [*ENGINES, "auto"]


def solve_case(engine: str, size: str) -> Case:
    limit, window = LIMITS[size]
    args = ["solve", "{p}", "-s", engine, "-o", "out.yaml"]
    if engine == "greedy":
        window = GREEDY_WINDOW[size]
    else:
        args += ["-t", f"{limit:g}"]
    if engine == "ga" and size == "big":
        args += ["-w", "2"]  # the GA's process pool
    return Case(f"{engine}-{size}", engine, f"{size}.yaml", args, window, ["out.yaml"])


def words(line: str) -> list[str]:
    return line.split()


def phase_cases() -> list[Case]:
    return [
        *(
            Case(
                f"mip-{backend}",
                "mip",
                "m.yaml",
                words(f"solve {{p}} -s mip --backend ortools-{backend} -t 8 -o out.yaml"),
                9,
                ["out.yaml"],
            )
            for backend in ("scip", "highs", "cpsat")
        ),
        Case(
            "mip-build",
            "mip",
            "mid.yaml",
            words("solve {p} -s mip -t 10 -o out.yaml"),
            12,
            ["out.yaml"],
        ),
        Case(
            "cpsat-sched",
            "cpsat",
            "sched.yaml",
            words("solve {p} -s cpsat -t 8 -o out.yaml"),
            9,
            ["out.yaml"],
        ),
        Case(
            "pareto-cpsat",
            "cpsat",
            "tiny.yaml",
            words("solve {p} -s cpsat --pareto cost,balance -t 8 --out-dir front -o front.yaml"),
            9,
            plan_dirs=["front"],
            others=["front.yaml"],
        ),
        Case(
            "pareto-ga",
            "ga",
            "tiny.yaml",
            words("solve {p} -s ga --pareto cost,balance -t 6 --out-dir front -o front.yaml"),
            7,
            plan_dirs=["front"],
            others=["front.yaml"],
        ),
        Case(
            "batch",
            "cpsat",
            "batch/a.yaml",
            words("solve batch -s cpsat -t 3 -j 2 --out-dir plans --summary summary.jsonl"),
            8,
            plan_dirs=["plans"],
            others=["summary.jsonl"],
        ),
        Case(
            "compare",
            "compare",
            "small.yaml",
            words("compare {p} -t 2 --out-dir cmp -o cmp.md"),
            10,
            plan_dirs=["cmp"],
            others=["cmp.md"],
        ),
        Case(
            "explain",
            "cpsat",
            "infeasible.yaml",
            words("solve {p} -s cpsat -t 20 -o out.yaml"),
            8,
            ["out.yaml"],
        ),
    ]


def all_cases() -> list[Case]:
    return [solve_case(e, size) for e in engines() for size in LIMITS] + phase_cases()


def infeasible_problem() -> dict[str, object]:
    """Packing-infeasible: 31 tasks of 3.5 cpu on 10 nodes of 11 (each node takes 3: 30 fit),
    though the total demand (108.5) is below the capacity (110): CP-SAT proves it, then the
    explanation looks for a small conflicting set (seconds)."""
    return {
        "taskalloc": 1,
        "name": "packing",
        "nodes": [{"id": f"n{i}", "capacity": {"cpu": 11}} for i in range(10)],
        "tasks": [{"id": f"t{i}", "demand": {"cpu": 3.5}} for i in range(31)],
    }


def prepare(work: Path) -> None:
    for name, args in PROBLEMS.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            continue
        if args is None:
            path.write_text(json.dumps(infeasible_problem()))
        else:
            with open(path, "wb") as fh:
                subprocess.run([*TASKALLOC, "generate", *args], stdout=fh, check=True)


OLD = "old content\n"


def reset(run: Path, case: Case) -> None:
    for d in ("front", "plans", "cmp"):
        if (run / d).exists():
            for f in sorted((run / d).rglob("*"), reverse=True):
                f.unlink() if not f.is_dir() else f.rmdir()
    for name in [*case.plans, *case.others]:
        (run / name).write_text(OLD)


def plan_ok(work: Path, problem: Path, plan: Path) -> bool:
    """The plan passes ``check``, or it is a proof of infeasibility (which ``check`` reports
    as the required tasks it leaves out)."""
    p = subprocess.run(
        [*TASKALLOC, "check", str(problem), str(plan), "-q"], capture_output=True, cwd=work
    )
    if p.returncode == 0:
        return True
    text = plan.read_text(errors="replace")
    return p.returncode == 1 and "status: infeasible" in text and problem.name == "infeasible.yaml"


@dataclass
class Trial:
    case: Case
    code: int | None
    outcome: str  # plan (checked), none, BAD (a plan failing check, a partial file), natural
    first: float | None  # seconds from the first signal to the exit (one signal sent)
    second: float | None  # ... from the second signal
    crash: str = ""
    temps: int = 0


def _json_line(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def one(work: Path, run: Path, case: Case, rng: random.Random, verbose: bool) -> Trial:
    reset(run, case)
    problem = work / case.problem
    args = [a.replace("{p}", str(problem)) for a in case.args]
    if case.name == "batch":
        args[1] = str(work / "batch")
    at = rng.uniform(0.1, case.window)
    twice = rng.random() < 1 / 3
    gap = rng.uniform(0.0, 0.6)
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    group = rng.random() < 0.5
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [*TASKALLOC, *args],
            cwd=run,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )

        def send() -> float:
            try:
                if group:
                    os.killpg(proc.pid, sig)
                else:
                    proc.send_signal(sig)
            except ProcessLookupError:
                pass
            return time.monotonic()

        while time.monotonic() - t0 < at and proc.poll() is None:
            time.sleep(0.002)
        natural = proc.poll() is not None
        t1 = send() if not natural else None
        t2 = None
        deadline = time.monotonic() + HANG
        while proc.poll() is None and time.monotonic() < deadline:
            if twice and t2 is None and t1 is not None and time.monotonic() - t1 >= gap:
                t2 = send()
            time.sleep(0.001)
        end = time.monotonic()
        crash = ""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            crash = "HUNG"
        code = proc.returncode
        err.seek(0)
        text = err.read().decode(errors="replace")
    if "Traceback" in text or "terminate called" in text or (code is not None and code < 0):
        crash = crash or (f"signal {-code}" if code is not None and code < 0 else "traceback")
    with_plan = False
    bad = False
    for name in case.plans + case.others:
        content = (run / name).read_text(errors="replace")
        if content == OLD:
            continue
        if name in case.plans:
            if plan_ok(work, problem, run / name):
                with_plan = True
            else:
                bad = True
        elif name.endswith(".jsonl"):  # a summary streams: every complete line is JSON
            lines = content.split("\n")[:-1]
            bad = bad or not all(_json_line(line) for line in lines)
        elif not content.strip():
            bad = True
    for d in case.plan_dirs:
        for plan in sorted((run / d).rglob("*.plan.yaml")) + sorted((run / d).glob("plan-*.yaml")):
            prob = problem
            if case.name == "batch":
                prob = work / "batch" / plan.name.replace(".plan.yaml", ".yaml")
            if plan_ok(work, prob, plan):
                with_plan = True
            else:
                bad = True
    leftovers = list(run.rglob(".*.tmp"))
    for f in leftovers:
        f.unlink()
    outcome = "BAD" if bad else "natural" if natural else "plan" if with_plan else "none"
    first = None if t1 is None or t2 is not None else end - t1
    second = None if t2 is None else end - t2
    if verbose:
        shown = "-" if t1 is None else f"{end - t1:.2f}"
        print(
            f"  {case.name:14s} at {at:5.2f} s {signal.Signals(sig).name:7s}"
            f"{' group' if group else '      '}{' x2' if t2 else '   '}  exit {code}  "
            f"{outcome:7s} after {shown} s{'' if second is None else f' (2nd {second:.2f})'}"
            f" {crash}" + (f" temps {len(leftovers)}" if leftovers else ""),
            flush=True,
        )
        if crash or bad or (code != 130 and not natural):
            print("    " + text.strip().replace("\n", "\n    ")[-1500:], flush=True)
    return Trial(case, code, outcome, first, second, crash, len(leftovers))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(name: str, trials: list[Trial]) -> dict[str, object]:
    signalled = [t for t in trials if t.outcome != "natural"]
    firsts = [t.first for t in signalled if t.first is not None]
    seconds = [t.second for t in signalled if t.second is not None]
    return {
        "engine/case": name,
        "trials": len(trials),
        "signalled": len(signalled),
        "130+plan": sum(1 for t in signalled if t.code == 130 and t.outcome == "plan"),
        "130 no plan": sum(1 for t in signalled if t.code == 130 and t.outcome == "none"),
        "other exit": sum(1 for t in signalled if t.code != 130),
        "bad plan": sum(1 for t in trials if t.outcome == "BAD"),
        "crash/hang": sum(1 for t in trials if t.crash),
        "temp files": sum(t.temps for t in trials),
        f"1st > {FIRST_TARGET:g} s": sum(1 for v in firsts if v > FIRST_TARGET),
        f"2nd > {SECOND_TARGET:g} s": sum(1 for v in seconds if v > SECOND_TARGET),
        "1st p50": quantile(firsts, 0.5),
        "1st p95": quantile(firsts, 0.95),
        "1st max": max(firsts, default=None),
        "2nd max": max(seconds, default=None),
    }


def table(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    heads = list(rows[0])
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for row in rows:
        cells = [
            "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)
            for v in row.values()
        ]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trials", type=int, default=50, help="trials in all (default 50)")
    ap.add_argument("--cases", help="comma-separated case names (default: all)")
    ap.add_argument("--engines", help="comma-separated engines whose cases run (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="where to keep the problems (default: a temp dir)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per trial")
    args = ap.parse_args()
    chosen = [
        c
        for c in all_cases()
        if (not args.cases or c.name in args.cases.split(","))
        and (not args.engines or c.engine in args.engines.split(","))
    ]
    if args.list or not chosen:
        for c in all_cases():
            print(f"{c.name:14s} {c.engine:8s} taskalloc {' '.join(c.args)}  ({c.problem})")
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="taskalloc-signals-"))
    work.mkdir(parents=True, exist_ok=True)
    prepare(work)
    rng = random.Random(args.seed)
    order = chosen[:]
    rng.shuffle(order)
    print(f"{args.trials} trials over {len(chosen)} cases; load average {load()}", flush=True)
    trials: list[Trial] = []
    for i in range(args.trials):
        case = order[i % len(order)]
        run = work / f"run-{case.name}"
        run.mkdir(exist_ok=True)
        trials.append(one(work, run, case, rng, args.verbose))
    print(f"\nload average after: {load()} (/proc/loadavg)\n")
    names = list(dict.fromkeys(c.engine for c in chosen))
    table([summarise(n, [t for t in trials if t.case.engine == n]) for n in names])
    print()
    table([summarise(c.name, [t for t in trials if t.case is c]) for c in chosen])
    signalled = [t for t in trials if t.outcome != "natural"]
    bad = [
        t
        for t in signalled
        if t.code != 130
        or t.outcome == "BAD"
        or t.crash
        or t.temps
        or (t.first or 0) > FIRST_TARGET
        or (t.second or 0) > SECOND_TARGET
    ]
    print(f"\n{len(signalled)} signalled trials, {len(bad)} outside the targets")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
