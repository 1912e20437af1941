"""The GA's view of one problem: genes to evaluated individuals, variation operators, seeding.

Individuals are numpy int64 arrays: one node per replica slot, then (scheduling) the activity
list. :class:`Engine` decodes and repairs genes (:mod:`.decode`), scores them with the
vectorised fitness (:mod:`.compiled`), varies them (crossover, mutation) and builds the first
individuals (greedy plans, a hint, random genes). The loops that use it are :mod:`.single`
(the GA) and :mod:`.nsga2` (NSGA-II); :mod:`.population` evaluates many individuals at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem

from .assign import AssignSearch, construct, make_feasible
from .compiled import UNPLACED, Compiled
from .decode import Rows, State, improve, repair
from .dense import Dense
from .individual import Individual
from .rev2 import Rev2
from .schedule import ArraySGS, Scheduler


def default_population(c: Compiled) -> int:
    """Small populations for big problems (each evaluation costs O(replicas))."""
    if c.S <= 100:
        return 60
    if c.S <= 1000:
        return 40
    if c.S <= 5000:
        return 24
    return 12


_INF = float("inf")
TIME_TERMS = ("unplaced", "makespan", "tardiness")  # objectives where earliest end is right
FREE_RATE = 0.2  # share of scheduling children decoded with the node of earliest end ...
FREE_COST = 5.0  # ... which costs about this many fixed-node decodes
REV2_FREE_COST = 10.0  # ... and a free decode of the revision-2 decoder
FREE_PAIRS = 100_000  # (replica, allowed node) pairs up to which placement children go free
CHILD_OPTIMA = 20  # local optima of the penalty search per child (assignment-shaped problems)
ILS_OPTIMA = 200  # ... and per generation from the best individual


class Engine:
    """Genes -> evaluated individuals, variation operators and the seeding, for one problem."""

    def __init__(self, problem: Problem, seed: int, weights: dict[str, float] | None = None):
        self.problem = problem
        self.c = c = Compiled(problem)
        if weights is not None:
            c.weights = weights
        self.rows = Rows(c)
        # revision-2 problems (devices, same starts, services, spread, max_moves) are decoded
        # by .rev2 alone: the repair, the penalty search and the other decoders know none of them
        self.rev2 = Rev2(c) if Rev2.applies(c) else None
        if self.rev2 is not None:
            c.rev2_violations = self.rev2.violations
        self.dense = (
            Dense(c, self.rows) if self.rev2 is None and Dense.applies(c, self.rows) else None
        )
        # assignment-shaped problems, single objective: the penalty search (.assign) improves
        # every child and, from the best individual, runs an iterated local search
        self.assign = (
            AssignSearch(c, self.dense, c.weights)
            if self.dense is not None and weights is None
            else None
        )
        self.out: Callable[[], bool] | None = None  # set by the loop: the time is up
        # deterministic work units of one decode (the work clock; see runtime.Clock)
        # (calibrated against CPU time on the development machine)
        # (the revision-2 decoder, pure Python, measured the same way: 56 in placement)
        per = 136 if c.scheduling else 56 if self.rev2 is not None else 16
        if self.assign is not None:
            per = 2
        self.decode_work = float(c.S * (c.R + 4) * per)
        self._work = 0.0
        self.child_work = self.ils_work = 0.0  # penalty search work in children, in the ILS
        self.child_optima = CHILD_OPTIMA  # (the first population gets fewer: see single.run)
        self.ils: np.ndarray | None = None  # the iterated search's best plan (genes) ...
        self.ils_cost = _INF  # ... and its cost (-inf: a start to search from, not a plan)
        #: assignment-shaped problems: the Lagrangian start repaired to feasibility (or None),
        #: returned when the search found nothing better (see lagrangian_seed)
        self.rescue: np.ndarray | None = None
        self.sched = Scheduler(c, self.rows) if c.scheduling else None
        # time-only scheduling objectives: the decoder may choose nodes (earliest end)
        time_only = all(t in TIME_TERMS for t, w in c.weights.items() if w)
        self.free = (
            ArraySGS(c, self.sched)
            if self.sched is not None and time_only and c.T and self.rev2 is None
            else None
        )
        # revision 2: a share of the children decoded free (nodes chosen by the decoder: the
        # earliest end in time-only schedules; the objective's estimate in placement, where
        # the activity list is then the order of a best-fit packing)
        # (a free decode ranks every allowed node of every task: up to FREE_PAIRS pairs)
        #: a revision-2 problem too big for free decodes of children and random individuals
        self.rev2_big = self.rev2 is not None and int((c.n_allowed * c.reps).sum()) > FREE_PAIRS
        self.rev2_free = (
            self.rev2 is not None and (time_only or not c.scheduling) and not self.rev2_big
        )
        self.greedy_best: tuple[tuple[float, float], list[Assignment]] | None = None
        self.choice = bool((c.n_allowed > 1).any())  # some task has a choice of node
        self.seed = seed
        self.S, self.T = c.S, c.T
        #: genes: nodes [0, S), the activity list [S, order_end) (scheduling), then (revision
        #: 2, devices) one device hint per slot and split resource
        self.ordered = c.scheduling or self.rev2 is not None  # the genes hold an order
        self.order_end = c.S + (c.T if self.ordered else 0)
        self.n_hints = c.S * self.rev2.H if self.rev2 is not None else 0
        self.length = self.order_end + self.n_hints
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
        self._work += self.decode_work
        x = genes[: self.S]
        start = None
        if self.rev2 is not None:
            # time-only schedules: a share of the children on the nodes of earliest end
            free = self.rev2_free and self.choice and rng.random() < FREE_RATE
            self.rev2.out = self.out
            if free:
                self._work += self.decode_work * REV2_FREE_COST
            x, start = self.rev2.decode(genes, free)
            viol, terms = c.measure(x, start)
            return viol, terms, start
        if self.assign is not None:
            # every child a local optimum of the penalised cost, written back when feasible
            repair(c, x, self.rows, rng, capacity=False)
            before = self.assign.work
            best, _ = self.assign.search(
                x, rng, self.child_optima, self.out, alpha=self.assign.alpha.copy()
            )
            self.child_work += self.assign.work - before
            if best is not None:
                x[:] = best
        elif self.sched is None:
            st = repair(c, x, self.rows, rng)
            if self.dense is not None:  # every child a local optimum of shifts (Chu-Beasley)
                self.dense.improve(st, swaps=True)
        else:
            order = genes[self.S : self.order_end]
            free = self.free is not None and self.choice and rng.random() < FREE_RATE
            for attempt in range(2):
                if not (self.simple and (x >= 0).all()):
                    repair(c, x, self.rows, rng)
                if free:
                    # the nodes of earliest end, written back: decoding the same list on
                    # these nodes gives this schedule again
                    assert self.free is not None
                    self._work += self.decode_work * FREE_COST
                    x, start = self.free.decode(x, order)
                else:
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
                    genes[self.S : self.order_end] = order2
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

    def assignments(self, ind: np.ndarray) -> list[Assignment]:
        """The plan of a decoded individual (with its devices in revision-2 problems)."""
        genes = np.asarray(ind)
        start = getattr(ind, "start", None)
        out = self.c.assignments(genes[: self.S], start)
        if self.rev2 is None or not self.rev2.D:
            return out
        slots = np.flatnonzero(genes[: self.S] >= 0).tolist()
        return [
            replace(a, devices=self.rev2.devices_of(genes, s))
            for a, s in zip(out, slots, strict=True)
        ]

    def work(self) -> float:
        """Deterministic work units spent so far in this process (see runtime.Clock)."""
        return self._work + (self.assign.work if self.assign is not None else 0.0)

    def charge(self, units: float) -> None:
        """Count work done elsewhere (a worker process, the greedy seeding)."""
        self._work += units

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
            genes[self.S : self.order_end] = np.lexsort((topo_rank, t_start))
        elif self.ordered:  # revision-2 placement: any order decodes a plan's genes to it
            assert self.rev2 is not None
            genes[self.S : self.order_end] = self.rev2.default_order
        if self.n_hints:
            assert self.rev2 is not None
            genes[self.order_end :] = self.rev2.encode_devices(assignments)
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
        if self.ordered:
            genes[self.S : self.order_end] = self.random_order(rng)
        genes[self.order_end :] = 0  # no device hints: best fit
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

    def lagrangian_seed(self) -> list[np.ndarray]:
        """Assignment-shaped problems: the Lagrangian-guided start of :func:`.assign.construct`
        (every task on its node of least cost plus priced capacity); else nothing. Also
        sets :attr:`rescue` (that start made feasible by :func:`.assign.make_feasible`)."""
        if self.assign is None:
            return []
        seed = construct(self.assign)
        self.ils, self.ils_cost = seed.copy(), -_INF  # the iterated search starts here
        # that start made feasible by a cheap repair: a plan to return however little time
        # the search gets (kept aside: as the first individual it made the small tight
        # instances' runs worse, d20100 0.757 % against 0.679 % over six seeds)
        self.rescue = make_feasible(self.assign, seed)
        return [seed]

    def greedy_seeds(
        self,
        deadline: float | None,
        first_deadline: float | None = None,
        policies: int | None = None,
    ) -> list[np.ndarray]:
        """Genes of the greedy plans (three policies, or the first ``policies``: the first,
        ``-s greedy``'s default, until ``first_deadline``, the others while ``deadline``
        allows); the best greedy plan is kept as it is (``greedy_best``): the GA never returns
        a worse one."""
        from taskalloc.solvers import baseline  # shared with the floor: each policy runs once

        c = self.c
        seeds = []
        for k, policy in enumerate(baseline.policies()[:policies]):
            until = first_deadline if k == 0 else deadline
            left = None if until is None else max(0.0, until - time.perf_counter())
            r = baseline.greedy_plan(self.problem, policy, left).result
            self._work += c.T * c.N * c.R * (40 if c.scheduling else 2)
            seeds.append(self.from_plan(r.assignments))
            x, start = c.from_assignments(r.assignments)
            viol, terms = c.measure(x, start)
            key = (viol, c.fitness(terms))
            if self.greedy_best is None or key < self.greedy_best[0]:
                self.greedy_best = (key, list(r.assignments))
            if deadline is not None and time.perf_counter() > deadline:
                break
        return seeds

    def free_seeds(
        self, seeds: Sequence[np.ndarray], out: Callable[[], bool] | None = None
    ) -> list[np.ndarray]:
        """Revision-2 problems: the first seed decoded free (each replica on the node that
        ranks first for the objective, :meth:`.rev2.Rev2.decode`; in placement problems, in
        the greedy's order and by size), while ``out()`` is false; else nothing."""
        if self.rev2 is None or not seeds:
            return []
        found = []
        orders = [None] if self.c.scheduling else [self.rev2.default_order, self.rev2.size_order]
        for order in orders:
            if out is not None and out():
                break
            genes = np.array(seeds[0], dtype=np.int64)
            if order is not None:  # placement: every optional task in, packed in this order
                x = genes[: self.S]
                x[x < 0] = 0
                genes[self.S : self.order_end] = order
            self._work += self.decode_work * REV2_FREE_COST
            self.rev2.out = out
            self.rev2.decode(genes, True)
            found.append(genes)
        return found

    def priority_seeds(self) -> list[np.ndarray]:
        """Time-only scheduling objectives: the activity lists of two classic priority rules,
        latest finish and latest start times of the critical-path analysis (shortest
        durations where the demand fits, the k-th shortest for k replicas; no resources),
        decoded with the node of earliest end; else nothing."""
        if self.free is None:
            return []
        c, free = self.c, self.free
        T = c.T
        shortest = np.zeros(T)
        for t in range(T):
            _, dur, _, fits = free.task_data(t)
            k = int(c.reps[t])  # k replicas end when the k-th fastest node would end
            ok = dur[fits]
            shortest[t] = float(np.partition(ok, k - 1)[k - 1]) if len(ok) >= k else 0.0
        es = np.zeros(T)
        for t in c.topo:
            es[t] = max([float(c.release[t])] + [es[q] + shortest[q] for q in c.after[t]])
        horizon = float((es + shortest).max(initial=0.0))
        lf = np.full(T, horizon)
        for t in reversed(c.topo):
            for q in c.after[t]:
                lf[q] = min(lf[q], lf[t] - shortest[t])
        ls = lf - shortest
        rank = np.empty(T, dtype=np.int64)
        rank[np.asarray(c.topo, dtype=np.int64)] = np.arange(T)
        out = []
        for key in (lf, ls):
            genes = np.empty(self.length, dtype=np.int64)
            x = np.where(c.n_allowed[c.task_of] > 0, c.allowed_flat[c.allowed_off[c.task_of]], -1)
            order = np.lexsort((rank, key))  # (ties in topological order: a consistent list)
            self._work += self.decode_work * FREE_COST
            x, _ = free.decode(x, order)
            genes[: self.S] = x
            genes[self.S : self.order_end] = order
            out.append(genes)
        return out

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
            if self.n_hints:  # device hints travel with their slots
                hm = np.repeat(mask, self.n_hints // S)
                ha, hb = a[self.order_end :], b[self.order_end :]
                tmp = ha[hm].copy()
                ha[hm] = hb[hm]
                hb[hm] = tmp
        E = self.order_end
        if self.ordered and c.T > 1:
            q = int(rng.integers(1, c.T))
            oa, ob = a[S:E].copy(), b[S:E].copy()
            a[S:E] = one_point(oa, ob, q)
            b[S:E] = one_point(ob, oa, q)

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
            elif self.ordered and c.T > 1:
                order = g[S : self.order_end]
                i, j = rng.integers(0, c.T, size=2).tolist()
                v = int(order[i])
                rest = np.delete(order, i)
                g[S : self.order_end] = np.insert(rest, j, v)

    # -- local search --

    def intensify(
        self, top: Individual, rng: np.random.Generator, out: Callable[[], bool] | None
    ) -> np.ndarray | None:
        """One leg of the iterated penalty search (assignment-shaped problems): ``ILS_OPTIMA``
        local optima, returning to its best plan with a kick every ``AssignSearch.RESTART``.
        The search keeps its own trajectory (it starts at the Lagrangian seed) and its
        weights from leg to leg; it moves to ``top`` (the population's best) only when that is
        better than its own best. Returns the genes of its best plan when this leg improved
        it, else None."""
        assert self.assign is not None
        start = self.ils
        if start is None or (top.viol == 0 and top.fitness.values[1] < self.ils_cost - 1e-9):
            start = np.asarray(top)[: self.S]
        before = self.assign.work
        best, cost = self.assign.search(start, rng, ILS_OPTIMA, out)
        self.ils_work += self.assign.work - before
        if self.ils_cost == -_INF:  # the start was no plan: whatever the leg found counts
            self.ils_cost = _INF
        if best is None or cost >= self.ils_cost - 1e-9:
            if self.ils is None:
                self.ils = start.copy()
            return None
        self.ils, self.ils_cost = best, cost
        genes = np.empty(self.length, dtype=np.int64)
        genes[: self.S] = best
        return genes

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
        self._work += budget * 8000.0
        if self.rev2 is not None:
            self._work += self.decode_work
            return self.rev2.improve(np.asarray(ind), rng, budget, out)
        x = np.asarray(ind)[: self.S]
        before = x.copy()
        st = State(c, x, self.rows.dense_demand)
        if self.dense is not None:
            self.dense.improve(st, swaps=True)
        improve(c, st, self.rows, rng, budget, self.swaps and self.dense is None, out)
        return not np.array_equal(before, x)


def one_point(mother: np.ndarray, father: np.ndarray, q: int) -> np.ndarray:
    """Hartmann's one-point crossover for activity lists: the first q of the mother, then the
    father's remaining tasks in his order (precedence-consistent parents give a consistent
    child)."""
    head = mother[:q]
    seen = np.zeros(len(mother), dtype=bool)
    seen[head] = True
    return np.concatenate([head, father[~seen[father]]])
