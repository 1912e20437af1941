"""Never worse than the greedy (issue 17): the 10,000-task dependency chain, and every engine on
generated problems with tiny time limits, compared with ``-s greedy`` in the same run.

    python benchmarks/bench_floor.py                  # the chain at -t 3, then 60 generated
    python benchmarks/bench_floor.py --tasks 10000 --limit 3 --problems 0

The chain: N tasks, each after the previous one, on a pool of 4 nodes (cpu 8), demands 1-8 and
durations 1-10 drawn with a fixed seed; every task is required. ``-s greedy`` places it all; an
engine that cuts its greedy warm start short and then cannot solve a 40,000-pair model in the
time left used to return a partial plan (3,975 of 10,000 placed at -t 3).

The generated problems: ``taskalloc generate`` (placement and scheduling, random objectives)
solved by every engine at 0.01-0.3 s; a row counts the plans worse than ``-s greedy``'s (its
default policy; 0 is the promise, whenever the greedy finishes within the limit).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import baseline


def chain(tasks: int, seed: int = 0) -> Problem:
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for i in range(tasks):
        t: dict[str, Any] = {
            "id": f"t{i}",
            "demand": {"cpu": rng.randint(1, 8)},
            "duration": rng.randint(1, 10),
        }
        if i:
            t["after"] = [f"t{i - 1}"]
        items.append(t)
    data = {
        "taskalloc": 1,
        "name": f"chain{tasks}",
        "nodes": [{"id": "n", "count": 4, "capacity": {"cpu": 8}}],
        "tasks": items,
    }
    return problem_from_dict(data)


def run_chain(tasks: int, limit: float) -> None:
    p = chain(tasks)
    rows = []
    limited = {"time_limit": limit}
    for solver, opts in (("greedy", {}), ("cpsat", limited), ("auto", limited)):
        problem = chain(tasks)  # a fresh object: no greedy plan shared between the rows
        t0 = time.perf_counter()
        r = solvers.solve(problem, solver, workers=2, **opts)
        seconds = time.perf_counter() - t0
        ev = evaluate(problem, r.assignments, reasons=False)
        rows.append((solver, len(ev.placed_tasks), ev.terms["makespan"], r.status, seconds))
    print(f"# {p.name}: {tasks} tasks, limit {limit:g} s; load {_load()}")
    for solver, placed, ms, status, seconds in rows:
        what = f"placed {placed:6d}/{tasks}  makespan {ms:9g}"
        print(f"{solver:7s} {what}  {status!s:9s} {seconds:6.2f} s")


def run_generated(count: int, seed: int) -> None:
    rng = random.Random(seed)
    engines = {"auto": {}, "cpsat": {}, "mip": {"backend": "ortools-scip"}, "ga": {}}
    worse = dict.fromkeys(engines, 0)
    tried = dict.fromkeys(engines, 0)
    for _ in range(count):
        sched = rng.random() < 0.5
        data = generate(
            tasks=rng.randint(5, 60),
            nodes=rng.randint(2, 10),
            scheduling=sched,
            seed=rng.randint(0, 10**6),
            resources=rng.randint(1, 3),
        )
        terms = ["unplaced", "cost", "nodes", "moves"] + (
            ["makespan", "tardiness"] if sched else []
        )
        chosen = rng.sample(terms, rng.randint(1, 3))
        if rng.random() < 0.5:
            data["objective"] = {"lexicographic": chosen}
        else:
            data["objective"] = {"weights": {t: rng.choice([0.5, 1, 3]) for t in chosen}}
        limit = rng.choice([0.01, 0.05, 0.3])
        for name, opts in engines.items():
            p = problem_from_dict(data)
            floor = evaluate(p, solvers.solve(p, "greedy").assignments, reasons=False)
            try:
                r = solvers.solve(p, name, time_limit=limit, workers=1, **opts)
            except solvers.SolverUnavailable:
                continue
            tried[name] += 1
            ours = evaluate(p, r.assignments, reasons=False)
            worse[name] += baseline.compare(p, ours, floor) > 0
    print(f"# {count} generated problems, limits 0.01-0.3 s; load {_load()}")
    for name in engines:
        print(f"{name:6s} {worse[name]} of {tried[name]} plans worse than the greedy's")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--limit", type=float, default=3.0)
    ap.add_argument("--problems", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.tasks:
        run_chain(args.tasks, args.limit)
    if args.problems:
        run_generated(args.problems, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
