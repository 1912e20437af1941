"""NSGA-II over 2 or 3 objective terms (see :func:`taskalloc.solvers.ga.pareto`), following
DEAP's ``examples/ga/nsga2.py`` loop: crowding distances assigned by a first ``selNSGA2``,
``selTournamentDCD`` parents, clone-then-vary children, survivors from ``selNSGA2`` over parents
and children; an archive keeps every non-dominated feasible plan seen."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
from deap import base, tools

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem

from ..result import Result
from .engine import Engine, default_population
from .individual import Individual, ParetoFitness2, ParetoFitness3
from .runtime import Clock, GenerationLog, Settings


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def run_pareto(problem: Problem, terms: list[str], s: Settings) -> list[Result]:
    """NSGA-II over ``terms``; see :func:`taskalloc.solvers.ga.pareto`."""
    from taskalloc.problems.evaluate import PLACEMENT_TERMS, SCHEDULING_TERMS, term_upper_bounds

    valid = SCHEDULING_TERMS if problem.scheduling else PLACEMENT_TERMS
    if not 2 <= len(terms) <= 3 or len(set(terms)) != len(terms):
        raise ValueError("pareto needs 2 or 3 distinct objective terms")
    for t in terms:
        if t not in valid:
            raise ValueError(f"unknown term '{t}' for this problem (one of: {', '.join(valid)})")
    clock = Clock(s)
    random.seed(s.seed)
    ub = term_upper_bounds(problem)
    # the GA's own weights: the terms scaled to comparable ranges (for repair and local search)
    scale = {t: 1.0 / max(ub.get(t, 1.0), 1e-9) for t in terms}
    eng = Engine(problem, s.seed, weights=dict(scale))
    clock.count(eng.work)
    c = eng.c
    fcls: type[base.Fitness] = ParetoFitness2 if len(terms) == 2 else ParetoFitness3
    rng = eng.rng_for(0)
    pop_size = s.population or default_population(c)
    pop_size = max(4, -(-pop_size // 4) * 4)  # selTournamentDCD needs a multiple of 4
    penalty = [2.0 * ub.get(t, 1.0) + 1.0 for t in terms]

    def assess(inds: Sequence[Individual], gen: int) -> None:
        for i, ind in enumerate(inds):
            if ind.fitness.valid:
                continue
            viol, tv, start = eng.decode(np.asarray(ind), eng.rng_for(gen, i, 1))
            ind.viol, ind.terms, ind.start = viol, tv, start
            if viol == 0:
                ind.fitness.values = tuple(tv[t] for t in terms)
            else:
                ind.fitness.values = tuple(p + viol for p in penalty)

    seeds = eng.greedy_seeds(
        None
        if clock.deadline is None or s.deterministic
        else clock.t0 + 0.3 * (clock.deadline - clock.t0)
    )
    if s.hint:
        seeds.append(eng.from_plan(s.hint))
    genes = list(seeds)
    while len(genes) < pop_size:
        g = seeds[len(genes) % len(seeds)].copy() if len(genes) < pop_size // 2 else None
        if g is None:
            genes.append(eng.random_genes(rng))
        else:
            for _ in range(1 + len(genes) % 3):
                eng.mutate(g, rng)
            genes.append(g)
    pop = [Individual.make(g, fcls) for g in genes[:pop_size]]
    archive: dict[tuple[float, ...], Individual] = {}
    log = GenerationLog()
    best_first = math.inf
    gen = 0

    def update_archive(inds: Sequence[Individual]) -> None:
        for ind in inds:
            if ind.viol > 0:
                continue
            v = tuple(ind.fitness.values)
            if v in archive or any(_dominates(a, v) for a in archive):
                continue
            for a in [a for a in archive if _dominates(v, a)]:
                del archive[a]
            archive[v] = ind.clone()

    assess(pop, 0)
    pop = tools.selNSGA2(pop, pop_size)
    while True:
        update_archive(pop)
        feas = [i.fitness.values[0] for i in pop if i.viol == 0]
        if feas and min(feas) < best_first:
            best_first = min(feas)
            clock.record(best_first, None, terms[0])
        log.add(
            {
                "generation": gen,
                "seconds": round(clock.elapsed(), 4),
                "best": min(feas) if feas else None,
                "mean": float(np.mean(feas)) if feas else None,
                "feasible": round(len(feas) / len(pop), 4),
                "front": len(archive),
            }
        )
        if s.generations is not None and gen >= s.generations:
            break
        if clock.out():
            break
        gen += 1
        grng = eng.rng_for(gen, 0)
        parents = tools.selTournamentDCD(pop, len(pop))
        kids = [p.clone() for p in parents]
        for i in range(0, len(kids) - 1, 2):
            if grng.random() < 0.9:
                eng.crossover(np.asarray(kids[i]), np.asarray(kids[i + 1]), grng)
        for k in kids:
            if grng.random() < 0.5:
                eng.mutate(np.asarray(k), grng)
            del k.fitness.values
        # local search on one front member, towards a random mix of the terms
        if not c.scheduling and c.S and archive:
            mix = grng.dirichlet(np.ones(len(terms)))
            src = list(archive.values())[int(grng.integers(len(archive)))].clone()
            eng.rows.w_cost = eng.rows.w_nodes = eng.rows.w_moves = 0.0
            eng.rows.w_balance = eng.rows.w_unplaced = 0.0
            for t, w in zip(terms, mix, strict=True):
                setattr(eng.rows, f"w_{t}", float(w) * scale[t])
            if eng.rev2 is not None:  # the revision-2 decoder's search weighs the same mix
                for t in ("cost", "nodes", "moves", "balance", "unplaced"):
                    setattr(eng.rev2, f"w_{t}", getattr(eng.rows, f"w_{t}"))
            eng.local_search(src, grng, max(20, min(c.S, 200)))
            del src.fitness.values
            kids.append(src)
        assess(kids, gen)
        pop = tools.selNSGA2(pop + kids, pop_size)
    feasible = sorted(archive.items())
    results: list[Result] = []
    seen: set[tuple[float, ...]] = set()
    for _values, ind in feasible:
        asg = eng.assignments(ind)
        ev = evaluate(problem, asg, reasons=False)
        if not ev.feasible:
            continue
        key = tuple(ev.terms[t] for t in terms)
        if key in seen:
            continue
        seen.add(key)
        results.append(
            Result(
                solver="ga",
                status=Status.FEASIBLE,
                assignments=asg,
                seconds=clock.elapsed(),
                seed=s.seed,
                message=f"NSGA-II over {', '.join(terms)}: point {len(results) + 1} of the front "
                f"after {gen} generations",
                options={
                    "pareto": list(terms),
                    "population": pop_size,
                    "generations": s.generations,
                    "time_limit": s.time_limit,
                    "seed": s.seed,
                },
                trajectory=list(clock.trajectory),
                generations=log.rows,
            )
        )
    # the evaluator's terms decide dominance (they equal the GA's, this only guards floats)
    keys = [
        tuple(evaluate(problem, r.assignments, reasons=False).terms[t] for t in terms)
        for r in results
    ]
    keep = [
        r
        for r, k in zip(results, keys, strict=True)
        if not any(_dominates(o, k) for o in keys if o != k)
    ]
    keep.sort(
        key=lambda r: tuple(evaluate(problem, r.assignments, reasons=False).terms[t] for t in terms)
    )
    return keep
