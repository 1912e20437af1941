"""The evolutionary loops on DEAP: the GA (:func:`run`) and NSGA-II (:func:`run_pareto`).

Imported only when ``-s ga`` runs (DEAP is loaded here, never at package import). The fitness
and individual classes are module-level (no ``deap.creator`` state shared between runs or
processes). Individuals are numpy int64 arrays: one node per replica slot, then (scheduling)
the activity list.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from deap import base, tools

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem

from ..clock import Clock, Progress
from ..result import Result
from .compiled import UNPLACED, Compiled
from .decode import Dense, Rows, Scheduler, State, improve, repair

MAX_LOG = 200  # rows of the per-generation log kept in the plan (thinned evenly beyond)


class Fitness(base.Fitness):
    """(violation score, scalar fitness), both minimised, compared lexicographically."""

    weights = (-1.0, -1.0)


class ParetoFitness2(base.Fitness):
    weights = (-1.0, -1.0)


class ParetoFitness3(base.Fitness):
    weights = (-1.0, -1.0, -1.0)


class Individual(np.ndarray):
    """Genes as an int64 array with a DEAP fitness (and the decoded starts, scheduling)."""

    fitness: base.Fitness
    start: np.ndarray | None
    terms: dict[str, float] | None
    viol: float

    @classmethod
    def make(cls, genes: np.ndarray, fitness_cls: type[base.Fitness] = Fitness) -> Individual:
        ind = np.array(genes, dtype=np.int64).view(cls)
        ind.fitness = fitness_cls()
        ind.start = None
        ind.terms = None
        ind.viol = math.inf
        return ind

    def clone(self) -> Individual:
        other = Individual.make(np.asarray(self), type(self.fitness))
        if self.fitness.valid:
            other.fitness.values = self.fitness.values
        other.start, other.terms, other.viol = self.start, self.terms, self.viol
        return other


@dataclass
class Settings:
    seed: int = 0
    time_limit: float | None = None
    generations: int | None = None
    population: int | None = None
    stagnation: int | None = None
    workers: int = 1
    hint: Sequence[Assignment] | None = None
    progress: Progress | None = None
    stop: threading.Event | None = None
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_TIME_LIMIT = 60.0
PARALLEL_MIN_SLOTS = 2000  # parallel evaluation only for individuals at least this long ...
PARALLEL_MIN_POP = 16  # ... and populations at least this large


def default_population(c: Compiled) -> int:
    """Small populations for big problems (each evaluation costs O(replicas))."""
    if c.S <= 100:
        return 60
    if c.S <= 1000:
        return 40
    if c.S <= 5000:
        return 24
    return 12


class Engine:
    """Genes -> evaluated individuals, variation operators and the seeding, for one problem."""

    def __init__(self, problem: Problem, seed: int, weights: dict[str, float] | None = None):
        self.problem = problem
        self.c = c = Compiled(problem)
        if weights is not None:
            c.weights = weights
        self.rows = Rows(c)
        self.dense = Dense(c, self.rows) if Dense.applies(c, self.rows) else None
        self.sched = Scheduler(c, self.rows) if c.scheduling else None
        self.seed = seed
        self.S, self.T = c.S, c.T
        self.length = c.S + (c.T if c.scheduling else 0)
        self.optional = np.flatnonzero(~c.must)
        self.swaps = int(c.allowed_off[-1]) * c.R <= 200_000
        # slots whose task has a choice of node
        self.movable = np.flatnonzero(c.n_allowed[c.task_of] > 1)
        # scheduling genes need no repair when every task is placed on an allowed node, once
        # (one replica each, no separation, every task must be placed): e.g. the RCPSP
        self.simple = bool(
            c.scheduling and (c.reps == 1).all() and not len(c.sep_a) and c.must.all()
        )

    # -- evaluation --

    def decode(
        self, genes: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, dict[str, float], np.ndarray | None]:
        """Repair/decode ``genes`` in place; (violation, terms, starts)."""
        c = self.c
        x = genes[: self.S]
        start = None
        if self.sched is None:
            st = repair(c, x, self.rows, rng)
            if self.dense is not None:  # every child a local optimum of shifts (Chu-Beasley)
                self.dense.improve(st, swaps=True)
        else:
            order = genes[self.S :]
            for attempt in range(2):
                if not (self.simple and (x >= 0).all()):
                    repair(c, x, self.rows, rng)
                x, start = self.sched.decode(x, order)
                partial = self._partial_gangs(x)
                if not partial or attempt:
                    break
                for g in partial:
                    for m in c.gangs[g].tolist():
                        f0 = int(c.first[m])
                        x[f0 : f0 + int(c.reps[m])] = UNPLACED
        viol, terms = c.measure(x, start)
        if self.sched is not None and start is not None and viol == 0:
            # forward-backward improvement: re-decode in the order of the right-justified plan
            order2 = self.sched.justified_order(x, start)
            if order2 is not None:
                x2, start2 = self.sched.decode(x.copy(), order2)
                viol2, terms2 = c.measure(x2, start2)
                if (viol2, c.fitness(terms2)) <= (viol, c.fitness(terms)):
                    genes[: self.S] = x2
                    genes[self.S :] = order2
                    return viol2, terms2, start2
        return viol, terms, start

    def _partial_gangs(self, x: np.ndarray) -> list[int]:
        c = self.c
        if not c.gangs:
            return []
        full = np.bincount(c.task_of[x >= 0], minlength=c.T) == c.reps
        out = []
        for gi, g in enumerate(c.gangs):
            k = int(np.count_nonzero(full[g]))
            if 0 < k < len(g) and not c.must[g].any():
                out.append(gi)
        return out

    def rng_for(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    # -- seeding --

    def from_plan(self, assignments: Sequence[Assignment]) -> np.ndarray:
        c = self.c
        x, start = c.from_assignments(assignments)
        genes = np.empty(self.length, dtype=np.int64)
        genes[: self.S] = x
        if c.scheduling:
            assert start is not None
            # activity list: placed tasks by start, then the others in topological order
            t_start = np.full(c.T, np.iinfo(np.int64).max)
            placed = x >= 0
            np.minimum.at(t_start, c.task_of[placed], start[placed])
            topo_rank = np.empty(c.T, dtype=np.int64)
            topo_rank[np.asarray(c.topo, dtype=np.int64)] = np.arange(c.T)
            genes[self.S :] = np.lexsort((topo_rank, t_start))
        return genes

    def random_genes(self, rng: np.random.Generator) -> np.ndarray:
        c = self.c
        genes = np.empty(self.length, dtype=np.int64)
        lens = c.n_allowed[c.task_of]
        pick = (rng.random(self.S) * np.maximum(lens, 1)).astype(np.int64)
        x = np.where(lens > 0, c.allowed_flat[c.allowed_off[c.task_of] + pick * (lens > 0)], -1)
        # optional tasks are placed or left out at random (whole tasks)
        out = ~c.must & (rng.random(c.T) < 0.3)
        x[out[c.task_of]] = UNPLACED
        genes[: self.S] = x
        if c.scheduling:
            genes[self.S :] = self.random_order(rng)
        return genes

    def random_order(self, rng: np.random.Generator) -> np.ndarray:
        """A random activity list: a topological order with random ties (any permutation is
        decodable; precedence-consistent ones make crossover meaningful)."""
        import heapq

        c = self.c
        key = rng.random(c.T).tolist()
        indeg = [len(a) for a in c.after]
        succ: list[list[int]] = [[] for _ in range(c.T)]
        for t, a in enumerate(c.after):
            for q in a:
                succ[q].append(t)
        heap = [(key[t], t) for t in range(c.T) if indeg[t] == 0]
        heapq.heapify(heap)
        out = []
        while heap:
            _, t = heapq.heappop(heap)
            out.append(t)
            for u in succ[t]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(heap, (key[u], u))
        return np.asarray(out, dtype=np.int64)

    def greedy_seeds(self, deadline: float | None) -> list[np.ndarray]:
        from taskalloc.solvers import greedy

        seeds = []
        for policy in greedy.POLICIES:
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            r = greedy.solve(self.problem, policy=policy, time_limit=left)
            seeds.append(self.from_plan(r.assignments))
            if deadline is not None and time.perf_counter() > deadline:
                break
        return seeds

    # -- variation --

    def crossover(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> None:
        """Uniform or two-point crossover on the node part (per task, so that replicas stay
        together), one-point order crossover on the activity list; in place."""
        c = self.c
        S = self.S
        if S:
            if rng.random() < 0.5:
                mask_t = rng.random(c.T) < 0.5
            else:
                i, j = sorted(rng.integers(0, c.T + 1, size=2).tolist())
                mask_t = np.zeros(c.T, dtype=bool)
                mask_t[i:j] = True
            mask = mask_t[c.task_of]
            xa, xb = a[:S], b[:S]
            tmp = xa[mask].copy()
            xa[mask] = xb[mask]
            xb[mask] = tmp
        if c.scheduling and c.T > 1:
            q = int(rng.integers(1, c.T))
            oa, ob = a[S:].copy(), b[S:].copy()
            a[S:] = _one_point(oa, ob, q)
            b[S:] = _one_point(ob, oa, q)

    def mutate(self, g: np.ndarray, rng: np.random.Generator) -> None:
        """Move (a replica to a random allowed node), swap (two replicas of different tasks
        exchange nodes), toggle (an optional task in or out) and, scheduling, shift in the
        activity list; in place."""
        c = self.c
        S = self.S
        x = g[:S]
        k = 1 + int(rng.geometric(0.5)) - 1
        for _ in range(k):
            u = rng.random()
            if len(self.movable) and u < 0.5:
                s = int(self.movable[int(rng.integers(len(self.movable)))])
                t = int(c.task_of[s])
                al = c.allowed[t]
                if x[s] >= 0 or c.must[t]:
                    x[s] = int(al[int(rng.integers(len(al)))])
            elif len(self.movable) > 1 and u < 0.75:
                s1, s2 = self.movable[rng.integers(len(self.movable), size=2)].tolist()
                t1, t2 = int(c.task_of[s1]), int(c.task_of[s2])
                n1, n2 = int(x[s1]), int(x[s2])
                if t1 != t2 and n1 >= 0 and n2 >= 0:
                    ok = c.is_allowed(np.array([t1, t2]), np.array([n2, n1]))
                    if ok.all():
                        x[s1], x[s2] = n2, n1
            elif len(self.optional) and u < 0.9:
                t = int(self.optional[int(rng.integers(len(self.optional)))])
                g_ = int(c.gang_of[t])
                members = c.gangs[g_].tolist() if g_ >= 0 else [t]
                f0 = int(c.first[t])
                placing = bool(x[f0] < 0)
                for m in members:
                    if c.must[m]:
                        continue
                    fm = int(c.first[m])
                    for s in range(fm, fm + int(c.reps[m])):
                        al = c.allowed[m]
                        if placing and len(al):
                            x[s] = int(al[int(rng.integers(len(al)))])
                        else:
                            x[s] = UNPLACED
            elif c.scheduling and c.T > 1:
                order = g[S:]
                i, j = rng.integers(0, c.T, size=2).tolist()
                v = int(order[i])
                rest = np.delete(order, i)
                g[S:] = np.insert(rest, j, v)

    # -- local search --

    def local_search(
        self,
        ind: Individual,
        rng: np.random.Generator,
        budget: int,
        out: Callable[[], bool] | None = None,
    ) -> bool:
        """Improve a placement individual in place (shift, insert, close, swap moves); True if
        it changed."""
        c = self.c
        x = np.asarray(ind)[: self.S]
        before = x.copy()
        st = State(c, x, self.rows.dense_demand)
        if self.dense is not None:
            self.dense.improve(st, swaps=True)
        improve(c, st, self.rows, rng, budget, self.swaps and self.dense is None, out)
        return not np.array_equal(before, x)


def _one_point(mother: np.ndarray, father: np.ndarray, q: int) -> np.ndarray:
    """Hartmann's one-point crossover for activity lists: the first q of the mother, then the
    father's remaining tasks in his order (precedence-consistent parents give a consistent
    child)."""
    head = mother[:q]
    seen = np.zeros(len(mother), dtype=bool)
    seen[head] = True
    return np.concatenate([head, father[~seen[father]]])


# -- the single-objective GA --


def _clock(s: Settings) -> Clock:
    """The run's clock: ``time_limit``, else 60 s unless ``generations`` stops the run."""
    limit = s.time_limit
    if limit is None and s.generations is None:
        limit = DEFAULT_TIME_LIMIT
    return Clock(limit, stop=s.stop, progress=s.progress)


class _Log:
    """The per-generation log, thinned to at most MAX_LOG rows (every 2nd, then 4th, ...)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.stride = 1

    def add(self, row: dict[str, Any], last: bool = False) -> None:
        if row["generation"] % self.stride and not last:
            return
        self.rows.append(row)
        if len(self.rows) > MAX_LOG:
            self.stride *= 2
            self.rows = [r for r in self.rows if r["generation"] % self.stride == 0]


#: seconds between two looks at the stop and the time limit while a pool evaluates
POOL_POLL = 0.05


def _evaluate_all(
    eng: Engine,
    inds: Sequence[Individual],
    gen: int,
    pool: Any | None,
    out: Callable[[], bool] | None = None,
) -> None:
    """Decode and score every individual without a valid fitness (in a pool if given);
    when ``out()`` turns true the rest stays unevaluated (callers drop them)."""
    todo = [(i, ind) for i, ind in enumerate(inds) if not ind.fitness.valid]
    if pool is not None and len(todo) >= PARALLEL_MIN_POP // 2:
        jobs = [(np.asarray(ind).copy(), gen, i) for i, ind in todo]
        pending = pool.map_async(_work, jobs, chunksize=max(1, len(jobs) // 8))
        while not pending.ready():  # a generation of a big problem takes seconds: look at out
            pending.wait(POOL_POLL)
            if out is not None and out() and not pending.ready():
                return
        for (_, ind), (genes, viol, terms, start) in zip(todo, pending.get(), strict=True):
            np.asarray(ind)[:] = genes
            _assign(eng, ind, viol, terms, start)
        return
    for i, ind in todo:
        if out is not None and out():
            return
        viol, terms, start = eng.decode(np.asarray(ind), eng.rng_for(gen, i, 1))
        _assign(eng, ind, viol, terms, start)


def _assign(
    eng: Engine, ind: Individual, viol: float, terms: dict[str, float], start: np.ndarray | None
) -> None:
    ind.viol, ind.terms, ind.start = viol, terms, start
    ind.fitness.values = (viol, eng.c.fitness(terms))


_WORKER: Engine | None = None  # set before forking a pool; inherited by the workers


def _work(job: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, float, dict[str, float], Any]:
    genes, gen, i = job
    assert _WORKER is not None
    viol, terms, start = _WORKER.decode(genes, _WORKER.rng_for(gen, i, 1))
    return genes, viol, terms, start


def _make_pool(eng: Engine, workers: int) -> Any | None:
    """A fork-based process pool when evaluation is worth spreading (see the package doc)."""
    global _WORKER
    if workers <= 1 or eng.S < PARALLEL_MIN_SLOTS:
        return None
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        return None
    _WORKER = eng
    return ctx.Pool(workers)


def _key(ind: Individual) -> bytes:
    return np.asarray(ind).tobytes()


def run(problem: Problem, s: Settings) -> Result:
    """The single-objective GA; see the package docstring."""
    clock = _clock(s)
    random.seed(s.seed)
    eng = Engine(problem, s.seed)
    c = eng.c
    clock.reserve(4e-4 * c.S)  # the evaluator's final check of the plan
    rng = eng.rng_for(0)
    pop_size = s.population or default_population(c)
    pop_size = max(4, pop_size)
    stagnation = s.stagnation if s.stagnation is not None else max(200, 5 * pop_size)
    # seeds: greedy plans (three policies), the hint, perturbed copies, random individuals
    genes: list[np.ndarray] = []
    greedy_deadline = (
        None if clock.deadline is None else clock.t0 + 0.3 * (clock.deadline - clock.t0)
    )
    seeds = eng.greedy_seeds(greedy_deadline)
    if s.hint:
        seeds.append(eng.from_plan(s.hint))
    genes.extend(seeds)
    n_perturbed = max(0, min(pop_size - len(genes), pop_size // 2))
    for i in range(n_perturbed):
        g = seeds[i % len(seeds)].copy()
        for _ in range(1 + i % 3):
            eng.mutate(g, rng)
        genes.append(g)
    while len(genes) < pop_size:
        genes.append(eng.random_genes(rng))
    pop = [Individual.make(g) for g in genes[:pop_size]]
    pool = _make_pool(eng, s.workers)
    log = _Log()
    best: Individual | None = None
    stale = 0
    gen = 0
    message = ""
    try:
        # the seeds always count; the rest of the first population only while time remains
        _evaluate_all(eng, pop[: len(seeds)], gen, None)
        _evaluate_all(eng, pop, gen, pool, clock.out)
        pop = [i for i in pop if i.fitness.valid]
        ls_budget = max(20, min(c.S, 400))
        while True:
            # local search on the best individuals (placement; cheap, vectorised per move)
            if not c.scheduling and c.S:
                elite = sorted(pop, key=lambda i: i.fitness.values)[:2]
                for k, ind in enumerate(elite):
                    if eng.local_search(ind, eng.rng_for(gen, 10_000 + k), ls_budget, clock.out):
                        del ind.fitness.values
                _evaluate_all(eng, pop, gen, None)
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
    chosen: list[Assignment] | None = None
    for ind in ranked:
        if ind.viol > 0:
            continue
        asg = c.assignments(np.asarray(ind)[: eng.S], ind.start)
        if evaluate(problem, asg, reasons=False).feasible:
            chosen = asg
            break
    status = Status.FEASIBLE
    if chosen is None:
        status = Status.UNKNOWN
        chosen = c.assignments(np.asarray(best)[: eng.S], best.start)
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


def _restart(
    eng: Engine,
    pop: list[Individual],
    pop_size: int,
    gen: int,
    pool: Any | None,
    out: Callable[[], bool] | None,
) -> list[Individual]:
    """Keep the best quarter, replace the rest by heavily mutated copies of it (half) and
    random individuals (half): diversity back after a stagnation."""
    rng = eng.rng_for(gen, 20_000)
    ranked = sorted(pop, key=lambda i: i.fitness.values)
    keep = ranked[: max(1, pop_size // 4)]
    fresh: list[Individual] = []
    while len(keep) + len(fresh) < pop_size:
        if len(fresh) % 2 == 0:
            g = np.asarray(keep[len(fresh) % len(keep)]).copy()
            for _ in range(3 + int(rng.integers(8))):
                eng.mutate(g, rng)
        else:
            g = eng.random_genes(rng)
        fresh.append(Individual.make(g))
    _evaluate_all(eng, fresh, gen, pool, out)
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
    parents = tools.selTournament(pop, pop_size, tournsize=2)
    kids = [p.clone() for p in parents]
    for i in range(0, len(kids) - 1, 2):
        a, b = kids[i], kids[i + 1]
        if rng.random() < 0.9:
            eng.crossover(np.asarray(a), np.asarray(b), rng)
    for k in kids:
        if rng.random() < 0.5:
            eng.mutate(np.asarray(k), rng)
        del k.fitness.values
    seen = {_key(i) for i in pop}
    fresh = []
    for k in kids:
        key = _key(k)
        if key in seen:
            eng.mutate(np.asarray(k), rng)
            key = _key(k)
            if key in seen:
                continue
        seen.add(key)
        fresh.append(k)
    _evaluate_all(eng, fresh, gen, pool, out)
    fresh = [k for k in fresh if k.fitness.valid]  # children left when time ran out
    merged: dict[bytes, Individual] = {}
    for ind in [*pop, *fresh]:  # repair may make two children equal: keep one
        merged.setdefault(_key(ind), ind)
    ranked = sorted(merged.values(), key=lambda i: i.fitness.values)
    return ranked[:pop_size]


# -- NSGA-II --


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
    clock = _clock(s)
    random.seed(s.seed)
    ub = term_upper_bounds(problem)
    # the GA's own weights: the terms scaled to comparable ranges (for repair and local search)
    scale = {t: 1.0 / max(ub.get(t, 1.0), 1e-9) for t in terms}
    eng = Engine(problem, s.seed, weights=dict(scale))
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
        None if clock.deadline is None else clock.t0 + 0.3 * (clock.deadline - clock.t0)
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
    log = _Log()
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
            eng.local_search(src, grng, max(20, min(c.S, 200)))
            del src.fitness.values
            kids.append(src)
        assess(kids, gen)
        pop = tools.selNSGA2(pop + kids, pop_size)
    feasible = sorted(archive.items())
    results: list[Result] = []
    seen: set[tuple[float, ...]] = set()
    for _values, ind in feasible:
        asg = c.assignments(np.asarray(ind)[: eng.S], ind.start)
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
