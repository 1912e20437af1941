"""Benchmark of the genetic engine (``-s ga``), not a test: quality against known optima (or a
bound), against a plain DEAP GA and against the greedy, in the same command.

    python benchmarks/bench_ga.py gap                                # Chu-Beasley a-d, 20 s
    python benchmarks/bench_ga.py gap --set gap_yagiura_e --seeds 0,1,2
    python benchmarks/bench_ga.py gap --set gap_orlib --budget 2 --no-peer
    python benchmarks/bench_ga.py gapgen --types c,d,e --sizes 10x400,20x400,40x400
    python benchmarks/bench_ga.py psplib --set psplib_j60 --every 6 --budget 10
    python benchmarks/bench_ga.py schedule --seeds 2,4,5,8,9         # 2,000 x 200, 30 s
    python benchmarks/bench_ga.py scale                              # 10,000 x 1,000, 60 s

``--deterministic`` runs the GA with a deterministic limit (work units calibrated to CPU
seconds on the development machine): the figures then do not depend on how busy the machine
is, and repeat exactly. Without it the limit is wall-clock time, as users run it. Every run
prints the load average (``/proc/loadavg``) at its start and end, and ``gap`` and ``gapgen`` the
wall-clock and CPU seconds per run (on a busy machine a 20 s run gets a fraction of a core).
``--jobs N`` (``gap``, ``gapgen``) runs N runs at once: for ``--deterministic`` A/B comparisons,
whose figures do not depend on what else runs.

``gap``: per instance, the gap of each seed to the best known value (known.csv's, or a better
one found in this run: printed as a new best known, "below the best known by X %", never as a
negative gap), then mean and max over all runs and the spread over seeds (the peer, a plain DEAP
GA from the tutorial, seed by seed unless ``--no-peer``). ``gapgen``: instances drawn by the
published generators (Chu & Beasley 1997 type c and d; Yagiura, Ibaraki & Glover type e), never
stored; the reference is the Lagrangian bound of the assignment relaxation (0-1 knapsack per
agent, subgradient steps) computed here, so the gap shown is an upper estimate of the gap to the
optimum; ``--reference cpsat:S`` adds taskalloc's own CP-SAT run of S seconds as a second
reference. ``psplib``: deviation of the makespan from the best known (new bests as in ``gap``).
``schedule``: generated scheduling problems (``taskalloc generate --tasks 2000 --nodes 200
--scheduling``), the three greedy policies, the critical-path lower bound (shortest durations,
no resources) and the GA. ``scale``: a generated placement, the greedy policies, then the GA.
Every plan is checked by the evaluator.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gapgen import Gap, generate, lagrangian_bound, name_of, sizes
from quality import SetInfo, _natural, gap, load_instance

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.importers import read_gap
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.ga import solve as ga_solve

SETS = {
    "gap_chu_beasley": SetInfo("gap", "gap", 20.0),
    "gap_yagiura_e": SetInfo("gap", "gap", 20.0),
    "gap_orlib": SetInfo("gap", "gap", 2.0, sense="max"),
    "psplib_j30": SetInfo("psplib", "psplib", 5.0, term="makespan"),
    "psplib_j60": SetInfo("psplib", "psplib", 10.0, term="makespan"),
}


def shared_benchmarks() -> Path:
    """``$TASKALLOC_BENCHMARKS``, else the first ``shared/benchmarks`` above this file."""
    env = os.environ.get("TASKALLOC_BENCHMARKS")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared" / "benchmarks"
        if cand.is_dir():
            return cand
    raise SystemExit("no shared/benchmarks found above this file; set TASKALLOC_BENCHMARKS")


def load_line() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _set_info(args: argparse.Namespace) -> tuple[str, SetInfo, Path]:
    """The set ``gap`` and ``psplib`` run: a shared one (``--set``) or, for ``gap``, a
    directory of generated instances with its ``known.csv`` (``--dir``, see gapgen.py)."""
    if getattr(args, "dir", None):
        root = Path(args.dir)
        return root.name, SetInfo("gap", "gap", 20.0), root
    name = args.set or ("gap_chu_beasley" if args.what == "gap" else "psplib_j30")
    return name, SETS[name], shared_benchmarks() / name


def _bounds(root: Path) -> dict[str, float]:
    """Lower bounds in ``known.csv`` (column ``bound``, written by gapgen.py reference)."""
    with open(root / "known.csv") as fh:
        return {r["instance"]: float(r["bound"]) for r in csv.DictReader(fh) if r.get("bound")}


def _instances(name: str, args: argparse.Namespace) -> list[tuple[str, Path, float]]:
    _, info, root = _set_info(args)
    with open(root / "known.csv") as fh:
        # (generated sets: the bound where no plan is known yet)
        known = {
            r["instance"]: float(r["known_value"] or r.get("bound") or "nan")
            for r in csv.DictReader(fh)
        }
        known = {k: v for k, v in known.items() if v == v}
    files = {p.stem if info.kind != "gap" else p.name: p for p in (root / "instances").iterdir()}
    names = sorted(known, key=_natural)
    if args.instances:
        names = [n for n in args.instances.split(",") if n in known]
    if getattr(args, "every", None):
        names = names[:: args.every]
    if args.limit:
        names = names[: args.limit]
    return [(n, files[n], known[n]) for n in names]


def _seeds(args: argparse.Namespace) -> list[int]:
    return [int(s) for s in str(args.seeds).split(",")]


# value (None without a checked plan), how it ended, wall-clock s, CPU s, generations
GaRun = tuple[float | None, str, float, float, int]


def _run_ga(
    problem: Problem, budget: float, seed: int, args: argparse.Namespace, term: str
) -> tuple[float | None, str, float]:
    value, how, secs, _, _ = _run_ga_cpu(problem, budget, seed, bool(args.deterministic), term)
    return value, how, secs


def _run_ga_cpu(
    problem: Problem, budget: float, seed: int, deterministic: bool, term: str
) -> GaRun:
    """One GA run: its value of ``term`` (None without a checked plan), how it ended, wall-clock
    and CPU seconds (the GA runs in this process with one worker: the process's CPU time) and
    the generations it made."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = ga_solve(problem, time_limit=budget, seed=seed, deterministic=deterministic)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    gens = int(r.generations[-1]["generation"]) if r.generations else 0
    if not r.has_plan:
        return None, str(r.status), secs, cpu, gens
    ev = evaluate(problem, r.assignments, reasons=False)
    return (
        (ev.terms[term] if ev.feasible else None),
        ("checked" if ev.feasible else "INVALID"),
        secs,
        cpu,
        gens,
    )


# name, OR-Library text, budget, seed, deterministic, sense of the file's objective
GapJob = tuple[str, str, float, int, bool, str]


def _gap_job(job: GapJob) -> GaRun:
    name, text, budget, seed, deterministic, sense = job
    problem = problem_from_dict(read_gap(text, name, sense=sense), name=name)
    return _run_ga_cpu(problem, budget, seed, deterministic, "cost")


def _warm() -> None:
    """Import what a run imports lazily (DEAP, the GA's modules) before any run is timed."""
    import deap.tools  # noqa: F401

    import taskalloc.solvers.ga.single  # noqa: F401


def _run_gap_jobs(jobs: list[GapJob], n: int) -> Iterator[GaRun]:
    """The runs' results in order, each as soon as it is there; ``n`` > 1: the runs go in that
    many processes (for deterministic runs: their figures do not depend on what else runs;
    wall-clock runs would compete for the cores)."""
    if n <= 1:
        yield from map(_gap_job, jobs)
        return
    from multiprocessing import get_context

    with get_context("spawn").Pool(n, initializer=_warm) as pool:
        yield from pool.imap(_gap_job, jobs, chunksize=1)


def _cpu_line(runs: list[GaRun]) -> str:
    cpu = [r[3] for r in runs]
    wall = [r[2] for r in runs]
    gens = [r[4] for r in runs]
    return (
        f"per run: wall {statistics.fmean(wall):.1f} s ({min(wall):.1f}-{max(wall):.1f}), "
        f"CPU {statistics.fmean(cpu):.1f} s ({min(cpu):.1f}-{max(cpu):.1f}), "
        f"generations {statistics.fmean(gens):.0f} ({min(gens)}-{max(gens)})"
    )


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


# -- GAP: shared sets ---------------------------------------------------------------------------


def run_gap(args: argparse.Namespace) -> None:
    name, info, root = _set_info(args)
    bounds = _bounds(root)
    budget = args.budget or info.budget
    seeds = _seeds(args)
    items = _instances(name, args)
    mode = "deterministic" if args.deterministic else "wall-clock"
    print(
        f"# {name}: {len(items)} instances, {budget:g} s ({mode}) each, seeds {seeds}; "
        f"load {load_line()}"
    )
    per_seed: dict[int, list[float]] = {s: [] for s in seeds}
    all_gaps: list[float | None] = []
    peers: list[float | None] = []
    texts = {inst: path.read_text() for inst, path, _ in items}
    jobs = [
        (inst, texts[inst], budget, s, bool(args.deterministic), info.sense)
        for inst, _, _ in items
        for s in seeds
    ]
    runs: list[GaRun] = []
    news: list[str] = []
    done = _run_gap_jobs(jobs, args.jobs)
    for inst, path, known in items:
        data = load_instance(info, path)
        values: list[float | None] = []
        for _ in seeds:
            runs.append(next(done))
            value = runs[-1][0]
            if value is not None and info.sense == "max":
                value = data["x-source"]["offset"] - value
            values.append(value)
        pv = None
        if not args.no_peer:
            pv = peer_gap(data, budget, seeds[0])
            if pv is not None and info.sense == "max":
                pv = data["x-source"]["offset"] - pv
        # the gap of each run to the best known value, which a run may have just improved
        best = best_known(known, [*values, pv], info.sense)
        cells = []
        for s, value, run in zip(seeds, values, runs[-len(seeds) :], strict=True):
            g = gap(value, best, info.sense)
            all_gaps.append(g)
            if g is not None:
                per_seed[s].append(g)
            how = run[1]
            cells.append(f"{_f(g, '7.3f')}{'' if how == 'checked' else ' ' + how}")
        line = f"{inst:10s} {known:8.0f}  ga gap% by seed: {' '.join(cells)}"
        if best != known:
            news.append(f"{inst} {new_best(best, known, info.sense)}")
        mine = runs[-len(seeds) :]
        line += f" | CPU s {'/'.join(f'{r[3]:.1f}' for r in mine)}"
        line += f", generations {'/'.join(str(r[4]) for r in mine)}"
        if inst in bounds:
            lb = bounds[inst]
            found = [v for v, how, _, _, _ in runs[-len(seeds) :] if v is not None]
            line += f" | bound {lb:.0f}, best known {gap(best, lb, 'min'):.3f} % above it"
            if found:
                line += f", ga {statistics.fmean(gap(v, lb, 'min') or 0.0 for v in found):.3f} %"
        if not args.no_peer:
            pg = gap(pv, best, info.sense)
            peers.append(pg)
            line += f" | peer {_f(pg, '7.3f')}"
        if best != known:
            line += f" | {new_best(best, known, info.sense)}"
        print(line, flush=True)
    print(f"ga:   {_mean(all_gaps)} over {len(all_gaps)} runs (gap to the best known value)")
    means = [statistics.fmean(v) for v in per_seed.values() if v]
    if len(means) > 1:
        print(
            "      mean by seed: "
            + ", ".join(f"{s}: {m:.3f} %" for s, m in zip(seeds, means, strict=False))
            + f" (spread {max(means) - min(means):.3f} points)"
        )
    if news:
        print(f"      {len(news)} new best known: " + "; ".join(news))
    if not args.no_peer:
        print(f"peer: {_mean(peers)}   (plain DEAP GA, penalty fitness, seed {seeds[0]})")
    print(f"ga {_cpu_line(runs)}")
    print(f"# load at the end {load_line()}")


# -- GAP: generated instances (types c, d, e) --------------------------------------------------


def run_gapgen(args: argparse.Namespace) -> None:
    budget = args.budget or 20.0
    seeds = _seeds(args)
    ref = None
    if args.reference:
        kind, _, secs = args.reference.partition(":")
        if kind != "cpsat" or not secs:
            raise SystemExit("--reference takes cpsat:SECONDS")
        ref = float(secs)
    mode = "deterministic" if args.deterministic else "wall-clock"
    print(
        f"# generated GAP, {budget:g} s ({mode}) each, seeds {seeds}, instance seed "
        f"{args.instance_seed}; gap% to the Lagrangian bound (an upper estimate of the gap to "
        f"the optimum); load {load_line()}"
    )
    all_gaps: list[float | None] = []
    made = []
    for kind in args.types.split(","):
        for m, n in sizes(args.sizes):
            g = generate(kind, m, n, args.instance_seed)
            made.append((name_of(kind, m, n, args.instance_seed), g.text()))
    jobs = [
        (name, text, budget, s, bool(args.deterministic), "min")
        for name, text in made
        for s in seeds
    ]
    runs: list[GaRun] = []
    done = _run_gap_jobs(jobs, args.jobs)
    for name, text in made:
        problem = problem_from_dict(read_gap(text, name), name=name)
        values = []
        for _ in seeds:
            runs.append(next(done))
            values.append(runs[-1][:2])
        found = [v for v, _ in values if v is not None]
        best = min(found) if found else None
        t0 = time.perf_counter()
        bound = lagrangian_bound(Gap.parse(text), best)
        bsecs = time.perf_counter() - t0
        cells = []
        for value, how in values:
            g = gap(value, bound, "min")
            all_gaps.append(g)
            cells.append(f"{_f(g, '6.3f')}{'' if how == 'checked' else ' ' + how}")
        line = f"{name:10s} bound {bound:9.0f} ({bsecs:5.1f} s)  ga gap% by seed: "
        line += " ".join(cells)
        if ref is not None:
            from taskalloc import solvers

            r = solvers.solve(problem, "cpsat", time_limit=ref, workers=1, seed=0)
            ev = evaluate(problem, r.assignments, reasons=False)
            rv = ev.terms["cost"] if ev.feasible else None
            line += f" | cpsat {ref:g} s: {_f(rv, '9.0f')} ({_f(gap(rv, bound, 'min'), '.3f')} %)"
            if rv is not None and best is not None:
                line += f", best ga vs cpsat {_f(gap(best, rv, 'min'), '+.3f')} %"
        print(line, flush=True)
    print(f"ga: {_mean(all_gaps)} above the bound over {len(all_gaps)} runs")
    print(f"ga {_cpu_line(runs)}")
    print(f"# load at the end {load_line()}")


# -- scheduling ---------------------------------------------------------------------------------


def run_psplib(args: argparse.Namespace) -> None:
    name = args.set or "psplib_j30"
    info = SETS[name]
    budget = args.budget or info.budget
    seeds = _seeds(args)
    items = _instances(name, args)
    mode = "deterministic" if args.deterministic else "wall-clock"
    print(
        f"# {name}: {len(items)} instances, {budget:g} s ({mode}) each, seeds {seeds}; "
        f"load {load_line()}"
    )
    devs: list[float | None] = []
    at_best = 0
    news: list[str] = []
    for inst, path, known in items:
        data = load_instance(info, path)
        problem = problem_from_dict(data, name=inst)
        runs = [_run_ga(problem, budget, s, args, "makespan") for s in seeds]
        # the deviation of each run from the best known makespan, which a run may improve
        best = best_known(known, [value for value, _, _ in runs], "min")
        cells = []
        for value, how, _ in runs:
            d = gap(value, best, "min")
            devs.append(d)
            at_best += d is not None and d <= 1e-9
            cells.append(f"{_f(value, '5.0f')} ({_f(d, '.3f')}){'' if how == 'checked' else how}")
        line = f"{inst:10s} {known:5.0f}  ga: {' '.join(cells)}"
        if best != known:
            news.append(f"{inst} {new_best(best, known, 'min')}")
            line += f" | {new_best(best, known, 'min')}"
        print(line, flush=True)
    print(f"ga: deviation {_mean(devs)}; {at_best}/{len(devs)} runs at the best known")
    if news:
        print(f"    {len(news)} new best known: " + "; ".join(news))
    print(f"# load at the end {load_line()}")


def critical_path_bound(problem: Problem) -> int:
    """Longest chain of shortest durations (release dates counted; other tasks ignored): a
    task with k replicas takes at least the k-th shortest duration over the allowed nodes where
    its demand fits at all (its replicas run on distinct nodes)."""
    from taskalloc.problems.problem import topological_order

    def fits(t: Any, n: int) -> bool:
        node = problem.nodes[n]
        dem = t.demand_on.get(n, t.demand)
        return all(q <= node.capacity.get(r, 0.0) + 1e-9 for r, q in dem.items())

    shortest = []
    for t in problem.tasks:
        durs = sorted(t.duration_at(problem.nodes[n]) for n in t.allowed if fits(t, n))
        shortest.append(durs[t.replicas - 1] if len(durs) >= t.replicas else 0)
    es: dict[int, int] = {}
    for i in topological_order(problem):
        t = problem.tasks[i]
        es[i] = max([t.release or 0] + [es[q] + shortest[q] for q in t.after])
    return max((es[i] + shortest[i] for i in es), default=0)


def run_schedule(args: argparse.Namespace) -> None:
    from taskalloc.problems.generate import generate
    from taskalloc.solvers.greedy import POLICIES
    from taskalloc.solvers.greedy import solve as greedy

    budget = args.budget or 30.0
    mode = "deterministic" if args.deterministic else "wall-clock"
    print(
        f"# generated schedules {args.tasks} x {args.nodes}, GA {budget:g} s ({mode}), "
        f"GA seed 0; load {load_line()}"
    )
    print(f"{'seed':>4s} {'bound':>6s} {'greedy (ll/bf/ff)':>18s} {'ga':>6s}  verdict")
    wins = ties = losses = 0
    for s in _seeds(args):
        problem = problem_from_dict(generate(args.tasks, args.nodes, seed=s, scheduling=True))
        fits: list[float] = []
        spans: list[str] = []
        for policy in POLICIES:
            ev = evaluate(problem, greedy(problem, policy=policy).assignments, reasons=False)
            fits.append(ev.fitness if ev.feasible else float("inf"))
            spans.append(f"{ev.terms['makespan']:.0f}" if ev.feasible else "-")
        r = ga_solve(problem, time_limit=budget, seed=0, deterministic=args.deterministic)
        ev = evaluate(problem, r.assignments, reasons=False)
        fit = ev.fitness if ev.feasible else float("inf")
        bound = critical_path_bound(problem)
        best = min(fits)
        if fit < best - 1e-9:
            verdict, wins = "better", wins + 1
        elif fit <= best + 1e-9:
            verdict, ties = "equal", ties + 1
        else:
            verdict, losses = "WORSE", losses + 1
        at_bound = " (at the bound)" if ev.terms.get("makespan") == bound else ""
        print(
            f"{s:4d} {bound:6d} {'/'.join(spans):>18s} {ev.terms['makespan']:6.0f}  "
            f"{verdict}{at_bound}; unplaced {ev.terms['unplaced']:g}; {r.message}",
            flush=True,
        )
    print(f"ga vs best greedy: {wins} better, {ties} equal, {losses} worse")
    print(f"# load at the end {load_line()}")


def run_scale(args: argparse.Namespace) -> None:
    from taskalloc.problems.generate import generate
    from taskalloc.solvers.greedy import POLICIES
    from taskalloc.solvers.greedy import solve as greedy

    budget = args.budget or 60.0
    data = generate(args.tasks, args.nodes, seed=_seeds(args)[0], resources=4)
    problem = problem_from_dict(data)
    print(
        f"# generated placement: {args.tasks} tasks, {args.nodes} nodes, seed {_seeds(args)[0]}; "
        f"objective {problem.objective.describe()}; load {load_line()}"
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
    r = ga_solve(
        problem,
        time_limit=budget,
        seed=_seeds(args)[0],
        workers=args.workers,
        deterministic=args.deterministic,
    )
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
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0] or 1))


def best_known(known: float, found: list[float | None], sense: str) -> float:
    """The best of ``known`` (known.csv) and the values ``found`` (None: no plan) in this
    run: a run that beats known.csv is the new best known, and gaps are measured to it (a
    gap is never negative)."""
    values = [known, *(v for v in found if v is not None)]
    return min(values) if sense == "min" else max(values)


def new_best(best: float, known: float, sense: str) -> str:
    """How a value found here beats known.csv's: ``new best 1296, below the best known 1298
    by 0.154 %`` (above, for a maximised objective)."""
    side = "below" if sense == "min" else "above"
    by = abs(best - known) / abs(known) * 100 if known else float("inf")
    return f"new best {best:g}, {side} the best known {known:g} by {by:.3f} %"


def _mean(xs: list[float | None]) -> str:
    found = [x for x in xs if x is not None]
    missing = len(xs) - len(found)
    if not found:
        return "n/a"
    return f"mean {statistics.fmean(found):.3f} %, max {max(found):.3f} %" + (
        f", {missing} without a plan" if missing else ""
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "gap": run_gap,
    "gapgen": run_gapgen,
    "psplib": run_psplib,
    "schedule": run_schedule,
    "scale": run_scale,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", choices=sorted(COMMANDS))
    ap.add_argument("--set", choices=sorted(SETS), help="gap / psplib: the shared set")
    ap.add_argument("--dir", help="gap: generated instances and known.csv (gapgen.py write)")
    ap.add_argument("--budget", type=float, help="seconds per run (default per benchmark)")
    ap.add_argument("--instances", help="comma-separated instance names")
    ap.add_argument("--limit", type=int, help="only the first N instances")
    ap.add_argument("--every", type=int, help="every Nth instance (psplib: 6 gives 40 of j60)")
    ap.add_argument("--seeds", default="0", help="comma-separated GA seeds (default 0)")
    ap.add_argument("--deterministic", action="store_true", help="deterministic time limit")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--types", default="c,d,e", help="gapgen: GAP types")
    ap.add_argument("--sizes", default="10x400,20x400,40x400", help="gapgen: agents x jobs")
    ap.add_argument("--instance-seed", type=int, default=0, help="gapgen: generator seed")
    ap.add_argument("--reference", help="gapgen: cpsat:SECONDS, taskalloc's CP-SAT as well")
    ap.add_argument("--tasks", type=int, help="schedule / scale: tasks")
    ap.add_argument("--nodes", type=int, help="schedule / scale: nodes")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--jobs", type=int, default=1, help="gap / gapgen: runs at once (for --deterministic)"
    )
    args = ap.parse_args()
    if args.what == "schedule":
        args.tasks, args.nodes = args.tasks or 2000, args.nodes or 200
    elif args.what == "scale":
        args.tasks, args.nodes = args.tasks or 10_000, args.nodes or 1_000
    COMMANDS[args.what](args)


if __name__ == "__main__":
    main()
