"""Benchmark of the genetic engine (``-s ga``), not a test: quality against known optima, and
against a plain DEAP GA (the peer, written as in the DEAP tutorial) in the same command.

    .venv/bin/python benchmarks/bench_ga.py gap                       # gap_chu_beasley, 20 s each
    .venv/bin/python benchmarks/bench_ga.py gap --instances a05100,b05100,c05100,d05100
    .venv/bin/python benchmarks/bench_ga.py psplib                    # psplib_j30, 5 s each
    .venv/bin/python benchmarks/bench_ga.py psplib --limit 10
    .venv/bin/python benchmarks/bench_ga.py scale                     # 10,000 x 1,000, 60 s

``gap``: mean gap to the optimum of taskalloc's GA and of the peer (target <= 1.5 %).
``psplib``: mean deviation of the makespan from the optimum (target <= 0.5 %).
``scale``: a generated placement (``taskalloc generate --tasks 10000 --nodes 1000``), the three
greedy policies, then the GA within 60 s: its plan is checked by the evaluator and must beat the
best greedy plan. Every plan is checked by the evaluator; the GA's seed is 0. Numbers from a
loaded machine (e.g. under ``nice``) are only indicative.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import SETS, SHARED, _natural, gap, load_instance

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.ga import solve as ga_solve


def _instances(name: str, args: argparse.Namespace) -> list[tuple[str, Path, float]]:
    info = SETS[name]
    root = SHARED / name
    with open(root / info.known) as fh:
        known = {r["instance"]: float(r["known_value"]) for r in csv.DictReader(fh)}
    files = {p.stem if info.kind != "gap" else p.name: p for p in (root / "instances").iterdir()}
    names = sorted(known, key=_natural)
    if args.instances:
        names = [n for n in args.instances.split(",") if n in known]
    if args.limit:
        names = names[: args.limit]
    return [(n, files[n], known[n]) for n in names]


def _solve(problem: Problem, budget: float, term: str, seed: int) -> tuple[float | None, str]:
    r = ga_solve(problem, time_limit=budget, seed=seed)
    if not r.has_plan:
        return None, str(r.status)
    ev = evaluate(problem, r.assignments, reasons=False)
    return (ev.terms[term] if ev.feasible else None), ("checked" if ev.feasible else "INVALID")


# -- the peer: a plain DEAP GA for the GAP, as in the DEAP tutorial ----------------------------


def peer_gap(data: dict[str, Any], budget: float, seed: int) -> float | None:
    """Agent per job as a list; fitness = cost + 10 x max(cost) x overload; two-point
    crossover, uniform integer mutation, tournament of 3; population 100, until ``budget``."""
    from deap import base, tools

    class PeerFitness(base.Fitness):
        weights = (-1.0,)

    class PeerInd(list):  # type: ignore[type-arg]
        fitness: PeerFitness

    agents = [n["id"] for n in data["nodes"]]
    m, n = len(agents), len(data["tasks"])
    cost = np.zeros((m, n))
    use = np.zeros((m, n))
    for j, t in enumerate(data["tasks"]):
        for i, a in enumerate(agents):
            cost[i, j] = t["assign_cost"].get(a, 0)
            use[i, j] = t["demand_on"][a]["cap"]
    cap = np.array([nd["capacity"]["cap"] for nd in data["nodes"]])
    big = 10 * cost.max()
    cols = np.arange(n)
    rnd = random.Random(seed)
    random.seed(seed)

    def fit(ind: list[int]) -> tuple[float]:
        a = np.asarray(ind)
        load = np.bincount(a, weights=use[a, cols], minlength=m)
        over = np.maximum(load - cap, 0).sum()
        return (float(cost[a, cols].sum() + big * over),)

    def feasible(ind: list[int]) -> bool:
        a = np.asarray(ind)
        return bool((np.bincount(a, weights=use[a, cols], minlength=m) <= cap).all())

    tb = base.Toolbox()
    tb.register("mate", tools.cxTwoPoint)
    tb.register("mutate", tools.mutUniformInt, low=0, up=m - 1, indpb=1.0 / n)
    tb.register("select", tools.selTournament, tournsize=3)
    pop = []
    for _ in range(100):
        ind = PeerInd(rnd.randrange(m) for _ in range(n))
        ind.fitness = PeerFitness()
        ind.fitness.values = fit(ind)
        pop.append(ind)
    t0 = time.perf_counter()
    best = None
    while time.perf_counter() - t0 < budget:
        off = [tb.clone(i) for i in tb.select(pop, len(pop))]
        for a, b in zip(off[::2], off[1::2], strict=False):
            if rnd.random() < 0.7:
                tb.mate(a, b)
                del a.fitness.values, b.fitness.values
        for a in off:
            if rnd.random() < 0.3:
                tb.mutate(a)
                del a.fitness.values
        for a in off:
            if not a.fitness.valid:
                a.fitness.values = fit(a)
        pop[:] = off
        for a in pop:
            if feasible(a) and (best is None or a.fitness.values[0] < best):
                best = a.fitness.values[0]
    return best


def run_gap(args: argparse.Namespace) -> None:
    budget = args.budget or 20.0
    items = _instances("gap_chu_beasley", args)
    print(f"# gap_chu_beasley: {len(items)} instances, {budget:g} s each, seed {args.seed}")
    print(
        f"{'instance':10s} {'known':>7s} {'ga':>7s} {'gap%':>7s} {'':8s} | "
        f"{'peer':>7s} {'gap%':>7s}"
    )
    ours, peers = [], []
    for name, path, known in items:
        data = load_instance(SETS["gap_chu_beasley"], path)
        problem = problem_from_dict(data, name=name)
        value, how = _solve(problem, budget, "cost", args.seed)
        g = gap(value, known, "min")
        pv = None if args.no_peer else peer_gap(data, budget, args.seed)
        pg = gap(pv, known, "min")
        ours.append(g)
        peers.append(pg)
        print(
            f"{name:10s} {known:7.0f} {_f(value)} {_f(g, '7.3f')} {how:8s} | {_f(pv)} "
            f"{_f(pg, '7.3f')}",
            flush=True,
        )
    print(f"ga:   mean gap {_mean(ours)}   (target <= 1.5 %)")
    if not args.no_peer:
        print(f"peer: mean gap {_mean(peers)}   (plain DEAP GA, penalty fitness)")


def run_psplib(args: argparse.Namespace) -> None:
    budget = args.budget or 5.0
    items = _instances("psplib_j30", args)
    print(f"# psplib_j30: {len(items)} instances, {budget:g} s each, seed {args.seed}")
    devs = []
    for name, path, known in items:
        data = load_instance(SETS["psplib_j30"], path)
        problem = problem_from_dict(data, name=name)
        value, how = _solve(problem, budget, "makespan", args.seed)
        d = gap(value, known, "min")
        devs.append(d)
        print(f"{name:10s} {known:5.0f} {_f(value, '5.0f')} {_f(d, '7.3f')} {how}", flush=True)
    print(f"ga: mean deviation {_mean(devs)}   (target <= 0.5 %)")


def run_scale(args: argparse.Namespace) -> None:
    from taskalloc.problems.generate import generate
    from taskalloc.solvers.greedy import POLICIES
    from taskalloc.solvers.greedy import solve as greedy

    budget = args.budget or 60.0
    data = generate(args.tasks, args.nodes, seed=args.seed, resources=4)
    problem = problem_from_dict(data)
    print(
        f"# generated placement: {args.tasks} tasks, {args.nodes} nodes, seed {args.seed}; "
        f"objective {problem.objective.describe()}"
    )
    best = None
    for policy in POLICIES:
        t0 = time.perf_counter()
        r = greedy(problem, policy=policy)
        ev = evaluate(problem, r.assignments, reasons=False)
        print(
            f"greedy {policy:12s} {time.perf_counter() - t0:6.2f} s  feasible={ev.feasible}  "
            f"{_terms(ev.objective)}  fitness {ev.fitness:.6g}",
            flush=True,
        )
        if ev.feasible and (best is None or ev.fitness < best):
            best = ev.fitness
    t0 = time.perf_counter()
    r = ga_solve(problem, time_limit=budget, seed=args.seed, workers=args.workers)
    ev = evaluate(problem, r.assignments, reasons=False)
    print(
        f"ga                  {time.perf_counter() - t0:6.2f} s  feasible={ev.feasible}  "
        f"{_terms(ev.objective)}  fitness {ev.fitness:.6g}  ({r.message})"
    )
    verdict = "better" if ev.feasible and best is not None and ev.fitness < best else "NOT better"
    print(f"ga vs best greedy: {verdict} ({ev.fitness:.6g} vs {best})")


def _terms(d: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in d.items())


def _f(x: float | None, spec: str = "7.0f") -> str:
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0]))


def _mean(xs: list[float | None]) -> str:
    found = [x for x in xs if x is not None]
    missing = len(xs) - len(found)
    if not found:
        return "n/a"
    return f"{statistics.fmean(found):.3f} %, max {max(found):.3f} %" + (
        f", {missing} without a plan" if missing else ""
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", choices=["gap", "psplib", "scale"])
    ap.add_argument("--budget", type=float, help="seconds per instance (default per benchmark)")
    ap.add_argument("--instances", help="comma-separated instance names")
    ap.add_argument("--limit", type=int, help="only the first N instances")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    {"gap": run_gap, "psplib": run_psplib, "scale": run_scale}[args.what](args)


if __name__ == "__main__":
    main()
