"""Time the greedy solver on large synthetic problems (a benchmark, not a test).

Times generation, load + compile (``problem_from_dict``: JSON, validation, pools, indices) and the
solve separately, and prints seconds. Always exits 0.

    .venv/bin/python benchmarks/bench_greedy.py                 # the default cases below
    .venv/bin/python benchmarks/bench_greedy.py --tasks 10000 --nodes 1000 --resources 4
    .venv/bin/python benchmarks/bench_greedy.py --scheduling --tasks 2000 --nodes 200
"""

from __future__ import annotations

import argparse
import time

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.solvers.greedy import POLICIES, solve

#: (tasks, nodes, scheduling, resources)
DEFAULT_CASES = ((10_000, 1_000, False, 4), (2_000, 200, True, 4), (2_000, 1_000, True, 4))


def run(tasks: int, nodes: int, scheduling: bool, resources: int, seed: int, check: bool) -> None:
    kind = "scheduling" if scheduling else "placement"
    print(f"== {kind}: {tasks} tasks, {nodes} nodes, {resources} resources, seed {seed}")
    t0 = time.perf_counter()
    data = generate(tasks, nodes, scheduling=scheduling, seed=seed, resources=resources)
    t1 = time.perf_counter()
    problem = problem_from_dict(data)
    _ = problem.capacity, problem.demand  # compiled arrays (cached on the problem)
    t2 = time.perf_counter()
    print(f"  generate          {t1 - t0:8.3f} s")
    print(f"  load + compile    {t2 - t1:8.3f} s")
    for policy in POLICIES:
        t3 = time.perf_counter()
        result = solve(problem, policy=policy)
        t4 = time.perf_counter()
        placed = len({a.task for a in result.assignments})
        line = (
            f"  solve {policy:<12}{t4 - t3:8.3f} s   {result.status}, "
            f"{placed}/{len(problem.tasks)} tasks placed"
        )
        if check:
            ev = evaluate(problem, result.assignments, reasons=False)
            terms = ", ".join(f"{t}={ev.terms[t]:g}" for t in problem.objective.terms)
            line += f", evaluator: feasible={ev.feasible}, {terms}"
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int)
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--resources", type=int, default=4)
    ap.add_argument("--scheduling", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-check", action="store_true", help="skip the evaluator run")
    args = ap.parse_args()
    if args.tasks is not None or args.nodes is not None:
        cases: tuple[tuple[int, int, bool, int], ...] = (
            (args.tasks or 1000, args.nodes or 100, args.scheduling, args.resources),
        )
    else:
        cases = DEFAULT_CASES
    for tasks, nodes, scheduling, resources in cases:
        run(tasks, nodes, scheduling, resources, args.seed, not args.no_check)


if __name__ == "__main__":
    main()
