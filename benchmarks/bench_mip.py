"""Benchmark of the MILP engine (not a test): model build, hand-off and solve, and quality next
to CP-SAT. Always exits 0.

    .venv/bin/python benchmarks/bench_mip.py build                 # 2,000 tasks x 200 nodes
    .venv/bin/python benchmarks/bench_mip.py build --mps           # + the MPS route, to compare
    .venv/bin/python benchmarks/bench_mip.py build --solve 20      # + a whole `-s mip` run
    .venv/bin/python benchmarks/bench_mip.py quality --budget 20   # gap_chu_beasley: mip | cpsat

``build`` times, on one generated placement problem (``generate(tasks, nodes, resources=4)``):
the Pyomo model (:func:`taskalloc.solvers.mip.build_model`), the in-memory hand-off to OR-Tools
(compile every row into model_builder), the load of that model into SCIP's MPSolver (part of
each SCIP solve) and, with ``--mps``, the text route it replaces (Pyomo writes MPS, OR-Tools
reads it). Peak memory is the process's maximum resident set after each phase. ``--solve S``
then runs ``-s mip`` end to end with an S-second limit (its build, hand-off and stage seconds
come from the plan's ``solver.options.seconds``).

``quality`` solves every instance of ``gap_chu_beasley`` (read in place from the shared
benchmarks) with ``-s mip`` and ``-s cpsat`` at the same budget, side by side, and prints the
gap of each to the known value (`benchmarks/quality.py` conventions).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import problem_from_dict
from taskalloc.solvers.mip import build_model
from taskalloc.solvers.mip.backends import OrtoolsBackend
from taskalloc.solvers.mip.model import gc_paused


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    data = generate(args.tasks, args.nodes, seed=args.seed, resources=args.resources)
    problem = problem_from_dict(data)
    pairs = sum(len(t.allowed) for t in problem.tasks)
    replicas = sum(len(t.allowed) * t.replicas for t in problem.tasks)
    print(
        f"== {args.tasks} tasks x {args.nodes} nodes, {args.resources} resources, seed "
        f"{args.seed}: {pairs:,} (task, allowed node) pairs, {replicas:,} (replica, allowed "
        f"node) pairs; objective {problem.objective.describe()}"
    )
    print(f"  generate + load        {time.perf_counter() - t0:7.2f} s   peak {peak_mb():6.0f} MB")
    with gc_paused():
        t1 = time.perf_counter()
        model = build_model(problem)
        t2 = time.perf_counter()
        print(
            f"  build (Pyomo)          {t2 - t1:7.2f} s   peak {peak_mb():6.0f} MB   "
            f"{len(model.x):,} x variables after pruning"
        )
        backend = OrtoolsBackend("ortools-scip", model.m)
        last = problem.objective.terms[-1]
        backend.set_objective(model.terms[last])
        t3 = time.perf_counter()
        rows = backend.helper.num_constraints()
        print(
            f"  hand-off (in memory)   {t3 - t2:7.2f} s   peak {peak_mb():6.0f} MB   "
            f"{backend.columns:,} columns, {rows:,} rows"
        )
        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

        scip = pywraplp.Solver.CreateSolver("SCIP")
        error = scip.LoadModelFromProto(backend.mbh.to_mpmodel_proto(backend.helper))
        t4 = time.perf_counter()
        assert not error, error
        print(f"  load into MPSolver     {t4 - t3:7.2f} s   peak {peak_mb():6.0f} MB")
        print(
            f"  build + hand-off       {t4 - t1:7.2f} s   (target: under 8 s and 2 GB; "
            "measured on a shared 2-core machine)"
        )
        del scip
        if args.mps:
            import pyomo.environ as pyo

            model.m.objective = pyo.Objective(expr=model.terms[last])
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.mps"
                t5 = time.perf_counter()
                model.m.write(str(path))
                t6 = time.perf_counter()
                other = backend.mbh.ModelBuilderHelper()
                ok = other.import_from_mps_file(str(path))
                t7 = time.perf_counter()
                size = path.stat().st_size / 1e6
            assert ok, "OR-Tools could not read the MPS file"
            print(
                f"  MPS route: Pyomo write {t6 - t5:7.2f} s ({size:.0f} MB), OR-Tools read "
                f"{t7 - t6:.2f} s: {t7 - t5:.2f} s instead of {t3 - t2:.2f} s; "
                f"peak {peak_mb():6.0f} MB"
            )
    if args.solve:
        t8 = time.perf_counter()
        result = solvers.solve(problem, "mip", time_limit=args.solve, backend=args.backend)
        t9 = time.perf_counter()
        ev = evaluate(problem, result.assignments, reasons=False)
        seconds = result.options.get("seconds", {})
        print(
            f"  -s mip --backend {args.backend} -t {args.solve:g}: {result.status} in "
            f"{t9 - t8:.2f} s (build {seconds.get('build')} s, hand-off "
            f"{seconds.get('hand_off')} s, stages {seconds.get('stages')}); "
            f"{', '.join(f'{k}={v:g}' for k, v in ev.objective.items())}; feasible "
            f"{ev.feasible}; peak {peak_mb():.0f} MB"
        )
        print(f"  {result.message}")


def quality(args: argparse.Namespace) -> None:
    import csv

    from quality import SETS, gap, load_instance

    info = SETS["gap_chu_beasley"]
    root = Path(args.benchmarks) / "gap_chu_beasley"
    with open(root / info.known) as fh:
        known = {r["instance"]: float(r["known_value"]) for r in csv.DictReader(fh)}
    names = sorted(known)
    if args.instances:
        names = [n for n in args.instances.split(",") if n in known]
    engines = ("mip", "cpsat")
    from taskalloc.solvers.mip.backends import default_backend

    print(
        f"# gap_chu_beasley: {len(names)} instances, {args.budget:g} s each, {args.workers} "
        f"workers; -s mip ({default_backend(False, args.workers)}) | -s cpsat; gap % to the "
        "known value"
    )
    print(f"{'instance':10s} {'known':>7s} | " + " | ".join(f"{e:>24s}" for e in engines))
    gaps: dict[str, list[float]] = {e: [] for e in engines}
    optimal = dict.fromkeys(engines, 0)
    for name in names:
        data = load_instance(info, root / "instances" / name)
        problem = problem_from_dict(data, name=name)
        cells = []
        for engine in engines:
            t0 = time.perf_counter()
            result = solvers.solve(
                problem, engine, time_limit=args.budget, workers=args.workers, seed=args.seed
            )
            seconds = time.perf_counter() - t0
            ev = evaluate(problem, result.assignments, reasons=False)
            if not (result.has_plan and ev.feasible):
                cells.append(f"{'no plan':>24s}")
                continue
            g = gap(ev.terms["cost"], known[name], "min")
            assert g is not None
            gaps[engine].append(g)
            optimal[engine] += result.status == "optimal"
            cells.append(f"{ev.terms['cost']:7g} {g:6.3f}% {result.status!s:>8s} {seconds:5.1f}s")
        print(f"{name:10s} {known[name]:7g} | " + " | ".join(cells), flush=True)
    for engine in engines:
        found = gaps[engine]
        mean = statistics.fmean(found) if found else float("nan")
        print(
            f"{engine}: mean gap {mean:.3f} %, max {max(found, default=float('nan')):.3f} %, "
            f"{optimal[engine]}/{len(names)} proven optimal, {len(names) - len(found)} without "
            "a plan"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build, hand-off (and solve) timing")
    b.add_argument("--tasks", type=int, default=2000)
    b.add_argument("--nodes", type=int, default=200)
    b.add_argument("--resources", type=int, default=4)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--mps", action="store_true", help="also time the MPS route")
    b.add_argument("--solve", type=float, default=0.0, help="then run -s mip with this limit")
    b.add_argument("--backend", default="ortools-scip")
    q = sub.add_parser("quality", help="gap_chu_beasley, -s mip next to -s cpsat")
    q.add_argument("--budget", type=float, default=20.0)
    q.add_argument("--workers", type=int, default=2)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--instances", help="comma-separated instance names")
    q.add_argument(
        "--benchmarks",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks"),
    )
    args = ap.parse_args()
    if args.command == "build":
        build(args)
    else:
        quality(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
