"""Evaluating individuals: one by one, or in a fork-based process pool for long genes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Engine
from .individual import Individual

PARALLEL_MIN_SLOTS = 2000  # parallel evaluation only for individuals at least this long ...
PARALLEL_MIN_POP = 16  # ... and populations at least this large
#: seconds between two looks at the stop and the time limit while a pool evaluates
POOL_POLL = 0.05


def evaluate_all(
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
        for (_, ind), (genes, viol, terms, start, work) in zip(todo, pending.get(), strict=True):
            np.asarray(ind)[:] = genes
            assign_fitness(eng, ind, viol, terms, start)
            eng.charge(work)
        return
    for i, ind in todo:
        if out is not None and out():
            return
        viol, terms, start = eng.decode(np.asarray(ind), eng.rng_for(gen, i, 1))
        assign_fitness(eng, ind, viol, terms, start)


def assign_fitness(
    eng: Engine, ind: Individual, viol: float, terms: dict[str, float], start: np.ndarray | None
) -> None:
    ind.viol, ind.terms, ind.start = viol, terms, start
    ind.fitness.values = (viol, eng.c.fitness(terms))


_WORKER: Engine | None = None  # set before forking a pool; inherited by the workers


def _work(
    job: tuple[np.ndarray, int, int],
) -> tuple[np.ndarray, float, dict[str, float], Any, float]:
    genes, gen, i = job
    assert _WORKER is not None
    before = _WORKER.work()
    viol, terms, start = _WORKER.decode(genes, _WORKER.rng_for(gen, i, 1))
    return genes, viol, terms, start, _WORKER.work() - before


def make_pool(eng: Engine, workers: int) -> Any | None:
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


def genes_key(ind: Individual) -> bytes:
    return np.asarray(ind).tobytes()
