"""Pareto fronts on a generated placement problem (a benchmark, not a test).

Times the exact CP-SAT front of two terms (epsilon-constraint: every non-dominated point, or
``--points K``) and, when ``taskalloc.solvers.ga`` is installed, the NSGA-II front of the same
terms; prints the number of points, how many are proven, the hypervolume of each front under the
exact front's normalisation (``taskalloc.problems.pareto``) and the GA front's distance to the
exact one (mean and max ``distance``, gd, igd, igd+, additive epsilon). Always exits 0.

    nice -n 19 .venv/bin/python benchmarks/bench_pareto.py     # the default cases below
    nice -n 19 .venv/bin/python benchmarks/bench_pareto.py --tasks 120 --nodes 20 --points 8
    nice -n 19 .venv/bin/python benchmarks/bench_pareto.py --terms cost,nodes --ga-time 30
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
import time

import numpy as np

from taskalloc.problems.generate import generate
from taskalloc.problems.pareto import front_from_summary, summary, term_vectors
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import problem_from_dict
from taskalloc.solvers import pareto

#: (tasks, nodes, points): a front CP-SAT completes, and the 60 x 12 case all and 5 points
DEFAULT_CASES = ((20, 6, None), (60, 12, None), (60, 12, 5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--terms", default="cost,balance")
    ap.add_argument("--points", type=int, default=None, help="cpsat: at most K points")
    ap.add_argument("--time-limit", type=float, default=120.0, help="cpsat, whole front")
    ap.add_argument("--ga-time", type=float, default=30.0, help="ga, whole front")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print("$ " + shlex.join(["python", *sys.argv]))
    if args.tasks is None and args.nodes is None:
        cases = DEFAULT_CASES
    else:
        cases = ((args.tasks or 60, args.nodes or 12, args.points),)
    for tasks, nodes, points in cases:
        run(args, tasks, nodes, points)


def run(args: argparse.Namespace, tasks: int, nodes: int, points: int | None) -> None:
    terms = [t.strip() for t in args.terms.split(",")]
    data = generate(tasks, nodes, seed=args.seed)
    data["objective"] = {"lexicographic": ["unplaced", *terms]}
    problem = problem_from_dict(data)
    pairs = sum(len(t.allowed) for t in problem.tasks)
    print(
        f"== problem: {len(problem.tasks)} tasks ({problem.total_replicas} replicas), "
        f"{len(problem.nodes)} nodes, {pairs} task-node pairs; terms {','.join(terms)}"
    )

    t0 = time.perf_counter()
    exact = pareto(
        problem,
        "cpsat",
        terms,
        points=points,
        time_limit=args.time_limit,
        workers=args.workers,
    )
    t1 = time.perf_counter()
    exact = [r for r in exact if r.has_plan]
    proven = sum(r.status == Status.OPTIMAL for r in exact)
    z = term_vectors(problem, [r.assignments for r in exact], terms)
    ex = summary(terms, z)
    complete = exact[0].options.get("pareto", {}).get("complete") if exact else None
    print(
        f"cpsat front ({'all points' if points is None else f'at most {points} points'}): "
        f"{len(exact)} points ({proven} proven) in {t1 - t0:.1f} s "
        f"(limit {args.time_limit:g} s, {args.workers} workers); complete: {complete}; "
        f"hypervolume {ex['hypervolume']:.4f}"
    )
    for row in ex["points"]:
        print("  " + ", ".join(f"{t}={row['terms'][t]:.6g}" for t in terms))

    if importlib.util.find_spec("taskalloc.solvers.ga") is None:
        print("ga: taskalloc.solvers.ga is not installed; skipped")
        return
    ref = front_from_summary(ex, "cpsat")
    t2 = time.perf_counter()
    ga = pareto(problem, "ga", terms, time_limit=args.ga_time, seed=args.seed)
    t3 = time.perf_counter()
    ga = [r for r in ga if r.has_plan]
    if not ga:
        print(f"ga front: no plan in {t3 - t2:.1f} s")
        return
    zg = term_vectors(problem, [r.assignments for r in ga], terms)
    g = summary(terms, zg, reference=ref)
    dist = np.array([row["distance"] for row in g["points"]])
    r = g["reference"]
    print(
        f"ga front: {len(ga)} points in {t3 - t2:.1f} s (limit {args.ga_time:g} s); hypervolume "
        f"{g['hypervolume']:.4f} vs exact {r['hypervolume']:.4f} "
        f"({100 * g['hypervolume'] / max(r['hypervolume'], 1e-12):.1f} %); distance to the "
        f"exact front: mean {dist.mean():.4f}, max {dist.max():.4f}; gd {r['gd']:.4f}, "
        f"igd {r['igd']:.4f}, igd+ {r['igd_plus']:.4f}, epsilon {r['epsilon']:.4f}"
    )


if __name__ == "__main__":
    main()
