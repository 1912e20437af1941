"""The single-objective GA (see the package docstring): seeding, generations, restarts."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
from deap import tools

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem

from ..result import Result
from .engine import CHILD_OPTIMA, Engine, default_population
from .individual import Individual
from .population import assign_fitness, evaluate_all, genes_key, make_pool
from .runtime import DEFAULT_TIME_LIMIT, Clock, GenerationLog, Settings

ASSIGN_POPULATION = 10  # default population when every child gets the penalty search ...
ASSIGN_CHILDREN = 2  # ... and children per generation (the iterated search takes most time)
CHILD_SHARE = 1 / 3  # ... and at most this share of the work
FIRST_OPTIMA = 3  # local optima of the penalty search for each individual of the first population
#: penalty search: share of the limit the first population's searches may take beyond the
#: Lagrangian seed's (at 80 x 1,600 one search from a greedy plan is a long descent: without a
#: cap the first population took the whole limit, and no generation ran)
FIRST_SHARE = 0.15


def run(problem: Problem, s: Settings) -> Result:
    """The single-objective GA; see the package docstring."""
    clock = Clock(s)
    random.seed(s.seed)
    eng = Engine(problem, s.seed)
    c = eng.c
    clock.reserve(4e-4 * c.S)  # the evaluator's final check of the plan
    eng.out = clock.out
    clock.count(eng.work)
    rng = eng.rng_for(0)
    pop_size = s.population or (ASSIGN_POPULATION if eng.assign else default_population(c))
    pop_size = max(4, pop_size)
    stagnation = s.stagnation if s.stagnation is not None else max(200, 5 * pop_size)
    # seeds: greedy plans (three policies), the hint, perturbed copies, random individuals
    genes: list[np.ndarray] = []
    greedy_deadline = (
        None
        if clock.deadline is None or s.deterministic
        else clock.t0 + 0.3 * (clock.deadline - clock.t0)
    )
    # (-s greedy's own policy may take the whole limit: a run that leaves it time to finish
    # returns a plan at least as good)
    first_deadline = None if s.deterministic else clock.deadline
    # (the penalty search starts from the Lagrangian construction, far better than a greedy
    # plan on tight problems: there only -s greedy's own policy runs, which the never-worse
    # rule needs anyway)
    seeds = (
        eng.lagrangian_seed()
        + eng.greedy_seeds(greedy_deadline, first_deadline, policies=1 if eng.assign else None)
        + eng.priority_seeds()
    )
    seeds += eng.free_seeds(seeds, clock.out)
    if s.hint:
        seeds.append(eng.from_plan(s.hint))
    genes.extend(seeds)
    # (with the penalty search every child is a long search: start with the seeds and two
    # mutated copies of the first; children fill the population up)
    # (big revision-2 problems: no random individuals, whose decodes fall back on ranking
    # every node of nearly every task, as slow as a free decode: mutated seeds fill it)
    share = pop_size if eng.rev2_big else pop_size // 2
    n_perturbed = max(0, min(pop_size - len(genes), share if eng.assign is None else 2))
    for i in range(n_perturbed):
        g = seeds[i % len(seeds)].copy()
        for _ in range(1 + i % 3):
            eng.mutate(g, rng)
        genes.append(g)
    while len(genes) < pop_size and eng.assign is None:
        genes.append(eng.random_genes(rng))
    pop = [Individual.make(g) for g in genes[:pop_size]]
    pool = make_pool(eng, s.workers)
    log = GenerationLog()
    best: Individual | None = None
    stale = 0
    gen = 0
    message = ""
    try:
        # the seeds always count; the rest of the first population only while time remains
        eng.child_optima = FIRST_OPTIMA  # the seeds are many searches' starts: a short one each
        # (revision 2: decodes are slow on big problems, and the best greedy plan is kept as it
        # is anyway: the first seed always counts, the others while time remains)
        # (the penalty search: the Lagrangian seed always, the others in a share of the limit)
        first_out = clock.out if eng.assign is None else _share_out(clock, FIRST_SHARE)
        always = 1 if eng.rev2 is not None or eng.assign is not None else len(seeds)
        evaluate_all(eng, pop[:always], gen, None)
        eng.out = first_out
        evaluate_all(eng, pop, gen, pool, first_out)
        eng.out = clock.out
        eng.child_optima = CHILD_OPTIMA
        pop = [i for i in pop if i.fitness.valid]
        ls_budget = max(20, min(c.S, 400))
        while True:
            if eng.assign is not None:
                # the iterated penalty search goes on (from the best individual when that is
                # better than its own best); its best plan joins the population
                top = min(pop, key=lambda i: i.fitness.values)
                found = eng.intensify(top, eng.rng_for(gen, 10_000), clock.out)
                if found is not None:
                    ind = Individual.make(found)
                    evaluate_all(eng, [ind], gen, None)
                    if genes_key(ind) not in {genes_key(i) for i in pop}:
                        pop = sorted([*pop, ind], key=lambda i: i.fitness.values)[:pop_size]
            elif not c.scheduling and c.S:
                # local search on the best individuals (placement; cheap, vectorised per move)
                elite = sorted(pop, key=lambda i: i.fitness.values)[:2]
                for k, ind in enumerate(elite):
                    if eng.local_search(ind, eng.rng_for(gen, 10_000 + k), ls_budget, clock.out):
                        del ind.fitness.values
                evaluate_all(eng, pop, gen, None)
            cand = min(pop, key=lambda i: i.fitness.values)
            improved = best is None or cand.fitness.values < best.fitness.values
            if improved:
                best = cand.clone()
                stale = 0
                if best.viol == 0:  # the scalar fitness of the best feasible plan
                    clock.record(best.fitness.values[1], None, "fitness")
            else:
                stale += 1
            feas = [i.fitness.values[1] for i in pop if i.viol == 0]
            log.add(
                {
                    "generation": gen,
                    "seconds": round(clock.elapsed(), 4),
                    "best": min(feas) if feas else None,
                    "mean": float(np.mean(feas)) if feas else None,
                    "feasible": round(len(feas) / len(pop), 4),
                }
            )
            if s.generations is not None and gen >= s.generations:
                message = f"{gen} generations"
                break
            if clock.out():
                message = (
                    "stopped" if s.stop is not None and s.stop.is_set() else "time limit reached"
                )
                message += f" after {gen} generations"
                break
            if stale >= stagnation:
                message = f"no improvement in {stagnation} generations ({gen} generations)"
                break
            gen += 1
            if stale and stale % RESTART == 0:
                pop = _restart(eng, pop, pop_size, gen, pool, clock.out)
            pop = _generation(eng, pop, pop_size, gen, pool, clock.out)
    finally:
        if pool is not None:
            pool.terminate()
    assert best is not None
    if log.rows and log.rows[-1]["generation"] != gen:
        feas = [i.fitness.values[1] for i in pop if i.viol == 0]
        log.add(
            {
                "generation": gen,
                "seconds": round(clock.elapsed(), 4),
                "best": min(feas) if feas else None,
                "mean": float(np.mean(feas)) if feas else None,
                "feasible": round(len(feas) / len(pop), 4),
            },
            last=True,
        )
    # the evaluator has the last word: the best individual it finds feasible
    ranked = [best, *sorted(pop, key=lambda i: i.fitness.values)]
    if eng.rescue is not None:
        # the penalty search's repaired start: feasible at once, whatever the search had time for
        rescue = Individual.make(eng.rescue)
        viol, terms = c.measure(np.asarray(rescue)[: c.S], None)
        assign_fitness(eng, rescue, viol, terms, None)
        ranked = sorted([*ranked, rescue], key=lambda i: i.fitness.values)
    chosen: list[Assignment] | None = None
    chosen_key: tuple[float, ...] = ()
    for ind in ranked:
        if ind.viol > 0:
            continue
        asg = eng.assignments(ind)
        if evaluate(problem, asg, reasons=False).feasible:
            chosen, chosen_key = asg, tuple(ind.fitness.values)
            break
    # never worse than the greedy: its best plan, when the GA found nothing better
    gb = eng.greedy_best
    if (
        gb is not None
        and gb[0][0] == 0
        and (chosen is None or gb[0] < chosen_key)
        and evaluate(problem, gb[1], reasons=False).feasible
    ):
        chosen = list(gb[1])
        message += "; the greedy plan (the search found none better)"
    status = Status.FEASIBLE
    if chosen is None:
        status = Status.UNKNOWN
        chosen = eng.assignments(best)
        message += "; no feasible plan found"
    return Result(
        solver="ga",
        status=status,
        assignments=chosen,
        seconds=clock.elapsed(),
        seed=s.seed,
        message=message,
        options={
            "population": pop_size,
            "generations": s.generations,
            "time_limit": s.time_limit
            if s.time_limit is not None
            else (DEFAULT_TIME_LIMIT if s.generations is None else None),
            "stagnation": stagnation,
            "workers": s.workers if pool is not None else 1,
            "seed": s.seed,
        },
        trajectory=clock.trajectory,
        generations=log.rows,
    )


RESTART = 50  # generations without improvement before the population is renewed


def _share_out(clock: Clock, share: float) -> Callable[[], bool]:
    """``out`` of a phase that may take ``share`` of the time (or work) left now."""
    left = clock.remaining()
    if left is None:
        return clock.out
    end = clock.used() + share * max(0.0, left)
    return lambda: clock.out() or clock.used() >= end


def _restart(
    eng: Engine,
    pop: list[Individual],
    pop_size: int,
    gen: int,
    pool: Any | None,
    out: Callable[[], bool] | None,
) -> list[Individual]:
    """Keep the best quarter, replace the rest by heavily mutated copies of it (half) and
    random individuals (half; big revision-2 problems: mutated copies only): diversity back
    after a stagnation."""
    rng = eng.rng_for(gen, 20_000)
    ranked = sorted(pop, key=lambda i: i.fitness.values)
    keep = ranked[: max(1, pop_size // 4)]
    fresh: list[Individual] = []
    while len(keep) + len(fresh) < pop_size:
        if len(fresh) % 2 == 0 or eng.rev2_big:
            g = np.asarray(keep[len(fresh) % len(keep)]).copy()
            for _ in range(3 + int(rng.integers(8))):
                eng.mutate(g, rng)
        else:
            g = eng.random_genes(rng)
        fresh.append(Individual.make(g))
    evaluate_all(eng, fresh, gen, pool, out)
    return keep + [i for i in fresh if i.fitness.valid]


def _generation(
    eng: Engine,
    pop: list[Individual],
    pop_size: int,
    gen: int,
    pool: Any | None,
    out: Callable[[], bool] | None = None,
) -> list[Individual]:
    """One generation: tournament selection, crossover (0.9), mutation (0.5, always when the
    crossover left the child equal to a parent), evaluation, then (mu + lambda) survival of the
    best distinct individuals."""
    rng = eng.rng_for(gen, 0)
    n_kids = pop_size
    if eng.assign is not None:
        # children get at most CHILD_SHARE of the work; the iterated search the rest
        if eng.child_work > CHILD_SHARE / (1 - CHILD_SHARE) * eng.ils_work:
            return pop
        n_kids = min(pop_size, ASSIGN_CHILDREN)
    parents = tools.selTournament(pop, n_kids, tournsize=2)
    kids = [p.clone() for p in parents]
    for i in range(0, len(kids) - 1, 2):
        a, b = kids[i], kids[i + 1]
        if rng.random() < 0.9:
            eng.crossover(np.asarray(a), np.asarray(b), rng)
    for k in kids:
        if rng.random() < 0.5:
            eng.mutate(np.asarray(k), rng)
        del k.fitness.values
    seen = {genes_key(i) for i in pop}
    fresh = []
    for k in kids:
        key = genes_key(k)
        if key in seen:
            eng.mutate(np.asarray(k), rng)
            key = genes_key(k)
            if key in seen:
                continue
        seen.add(key)
        fresh.append(k)
    evaluate_all(eng, fresh, gen, pool, out)
    fresh = [k for k in fresh if k.fitness.valid]  # children left when time ran out
    merged: dict[bytes, Individual] = {}
    for ind in [*pop, *fresh]:  # repair may make two children equal: keep one
        merged.setdefault(genes_key(ind), ind)
    ranked = sorted(merged.values(), key=lambda i: i.fitness.values)
    return ranked[:pop_size]
