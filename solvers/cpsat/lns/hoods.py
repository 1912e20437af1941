"""The LNS's neighbourhoods: which nodes and tasks one sub-model frees.

Each step frees a *neighbourhood* -- a set of nodes F and the tasks S on them (plus a few
unplaced tasks that fit F, to try to place them) -- and solves the sub-model exactly as the
full model would (every placement constraint family; see :mod:`.submodel`), with the rest of
the plan fixed, hinted with the current plan and limited to a short time (``time_limit / 120``
within [0.2, 1] s). A result that is no worse (lexicographically, in exact scaled integers)
replaces the plan. Neighbourhoods, chosen at random with weights that favour the kinds that
improved recently:

``random``   k used nodes and a few empty ones, uniformly;
``similar``  a used node and the k-1 used (and a few empty) nodes closest to it in
             (capacity, cost) space, so tasks can be exchanged between alike machines;
``costly``   k used nodes drawn by waste (node cost x unused share) and assignment regret
             (assign_cost above the task's cheapest candidate);
``chain``    the node of a task placed at a high penalty (Lagrangian, else assign cost), then
             repeatedly one of the 3 best other nodes of a task on the last node added;
``insert``   (while placeable tasks are unplaced; at least 30 % of the steps) one of them,
             must-place first, and its gang mates, each with the candidate nodes that have the
             most room for it;
``tasks``    (at most :data:`SMALL_FLEET` nodes) a random share of the tasks, every node free
             (with pair elimination, each task on its 3 most promising pairs);
``core``     (with pair elimination; half of the steps) every task on the pairs of the relaxed
             Lagrangian solution and the (k - 1) x tasks pairs of smallest Lagrangian penalty,
             each penalty scaled by random noise first (``CORE_NOISE``) so that successive
             cores differ.


k adapts per kind (:meth:`.search.Search.step`): it grows by 20 % after a sub-solve that proved its
part optimal (the neighbourhood was too easy) and shrinks by 15 % after one that ran out of time,
within :meth:`Neighbourhoods.k_max` and :meth:`Neighbourhoods.k_min`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import lagrange
from ...flat import Flat, Plan
from .. import submodel
from .settings import (
    CORE_NODE_PAIRS,
    CORE_NOISE,
    CORE_SHARE,
    CORE_TASKS_PAIRS,
    INSERT_SHARE,
    MAX_CHAIN,
    MAX_SUB_PAIRS,
    MAX_SUB_TASKS,
    SMALL_FLEET,
)

if TYPE_CHECKING:
    from .search import Search


@dataclass
class Kind:
    """A neighbourhood kind with its adaptive size and recent success."""

    name: str
    k: float
    score: float = 1.0
    tries: int = 0
    wins: int = 0
    proved: int = 0  # sub-solves that proved their part optimal
    seconds: float = 0.0  # wall time in sub-solves

    def describe(self) -> dict[str, Any]:
        return {
            "tries": self.tries,
            "improved": self.wins,
            "proved": self.proved,
            "k": round(self.k, 2),
            "seconds": round(self.seconds, 2),
        }


class Neighbourhoods:
    """The kinds of neighbourhood of one search and how to draw each (see the module
    docstring); reads the search's incumbent, unplaced tasks and Lagrangian state."""

    def __init__(self, search: Search) -> None:
        self.s = search
        flat = search.f
        n = flat.N
        small = n <= SMALL_FLEET
        k0 = 2.0 if small else 6.0
        self.kinds = [
            Kind("random", k0),
            Kind("similar", k0),
            Kind("costly", k0),
            Kind("chain", k0 + 2),
        ]
        if small:
            self.kinds.append(Kind("tasks", 0.3))
        # node features for `similar`: capacity relative to the fleet mean, and cost
        cap = flat.cap.astype(float)
        mean = cap.mean(axis=0)
        feat = np.divide(cap, mean, out=np.zeros_like(cap), where=mean > 0)
        cost = flat.node_cost.astype(float)
        if cost.max() > 0:
            feat = np.concatenate([feat, (cost / cost.mean())[:, None]], axis=1)
        self.features = feat
        # cheapest assign cost per task (regret of `costly`)
        self.min_acost = np.zeros(flat.T, dtype=np.int64)
        for t in range(flat.T):
            ac = flat.acost[t]
            if ac:
                mask = flat.cand_mask(t)
                cands = np.flatnonzero(mask)
                if len(ac) >= len(cands):
                    self.min_acost[t] = min(ac.get(int(c), 0) for c in cands)
        self.kinds.append(Kind("insert", 4.0))
        if search.lagr is not None:
            self.kinds.append(Kind("core", 2.0))

    # the search's state, read where the neighbourhoods are drawn
    @property
    def f(self) -> Flat:
        return self.s.f

    @property
    def plan(self) -> Plan:
        return self.s.plan

    @property
    def rng(self) -> random.Random:
        return self.s.rng

    @property
    def unplaced(self) -> set[int]:
        return self.s.unplaced

    @property
    def keep(self) -> np.ndarray | None:
        return self.s.keep

    @property
    def lagr(self) -> lagrange.Lagrangian | None:
        return self.s.lagr

    def _used(self) -> np.ndarray:
        return np.fromiter((bool(s) for s in self.plan.on), dtype=bool, count=self.f.N)

    def choose(self, kind: Kind, taken_nodes: set[int], taken_tasks: set[int]) -> list[int]:
        """Nodes of a neighbourhood of ``kind`` (not ``tasks``), none of ``taken_nodes``."""
        f, rng = self.f, self.rng
        used = self._used()
        free = np.ones(f.N, dtype=bool)
        if taken_nodes:
            free[list(taken_nodes)] = False
        used_ids = np.flatnonzero(used & free)
        empty_ids = np.flatnonzero(~used & free)
        k = max(1, min(len(used_ids), round(kind.k)))
        e = min(len(empty_ids), max(1, k // 3)) if len(empty_ids) else 0
        nrng = np.random.default_rng(rng.getrandbits(32))
        if len(used_ids) == 0:
            return sorted(nrng.choice(empty_ids, size=min(len(empty_ids), k), replace=False))
        if kind.name == "similar":
            seed_node = int(nrng.choice(used_ids))
            d_used = np.abs(self.features[used_ids] - self.features[seed_node]).sum(axis=1)
            d_used = d_used * nrng.uniform(1.0, 1.5, size=len(d_used))
            chosen = used_ids[np.argsort(d_used, kind="stable")[:k]]
            extra = np.zeros(0, dtype=np.int64)
            if e:
                d_empty = np.abs(self.features[empty_ids] - self.features[seed_node]).sum(axis=1)
                d_empty = d_empty * nrng.uniform(1.0, 1.5, size=len(d_empty))
                extra = empty_ids[np.argsort(d_empty, kind="stable")[:e]]
            return sorted({int(n) for n in chosen} | {int(n) for n in extra})
        if kind.name == "costly":
            w = self._waste(used_ids) + 1e-9
            chosen = nrng.choice(used_ids, size=k, replace=False, p=w / w.sum())
        else:
            chosen = nrng.choice(used_ids, size=k, replace=False)
        extra = nrng.choice(empty_ids, size=e, replace=False) if e else empty_ids[:0]
        return sorted({int(n) for n in chosen} | {int(n) for n in extra})

    def _waste(self, nodes: np.ndarray) -> np.ndarray:
        f, plan = self.f, self.plan
        cap = f.cap[nodes].astype(float)
        util = np.divide(
            plan.load[nodes].astype(float), cap, out=np.ones_like(cap), where=cap > 0
        ).max(axis=1)
        waste = f.node_cost[nodes].astype(float) * (1.0 - np.minimum(util, 1.0))
        regret = np.zeros(len(nodes))
        for i, n in enumerate(nodes.tolist()):
            for t in plan.on[n]:
                ac = f.acost[t]
                if ac:
                    regret[i] += ac.get(n, 0) - self.min_acost[t]
        return waste + regret + 1e-3 * (waste + regret).mean()

    def neighbourhood(
        self, kind: Kind, taken_nodes: set[int], taken_tasks: set[int]
    ) -> submodel.Neighbourhood:
        f, plan, rng = self.f, self.plan, self.rng
        if kind.name == "insert":
            return self.insertion(kind, taken_nodes, taken_tasks)
        if kind.name == "core":
            return self.core(kind)
        if kind.name == "chain":
            return self.chain(kind, taken_nodes, taken_tasks)
        if kind.name == "tasks":
            placed = [t for t in range(f.T) if plan.nodes[t]]
            share = min(0.9, max(0.05, kind.k))
            size = max(1, round(share * len(placed)))
            tasks = rng.sample(placed, min(size, len(placed)))
            nodes = np.arange(f.N)
            if self.keep is not None:  # moves along the most promising pairs only
                return submodel.Neighbourhood(
                    sorted(tasks), nodes, kind.name, keep=self.core_mask(CORE_TASKS_PAIRS)
                )
        else:
            chosen = self.choose(kind, taken_nodes, taken_tasks)
            tasks_set: set[int] = set()
            for n in chosen:
                tasks_set.update(plan.on[n])
            tasks_set -= taken_tasks
            # keep the sub-model small
            while len(chosen) > 1 and (
                len(tasks_set) > MAX_SUB_TASKS or len(tasks_set) * len(chosen) > MAX_SUB_PAIRS
            ):
                chosen.pop(rng.randrange(len(chosen)))
                tasks_set = set().union(*(plan.on[n] for n in chosen)) - taken_tasks
            tasks = sorted(tasks_set)
            nodes = np.array(chosen, dtype=np.int64)
            if self.keep is not None and CORE_NODE_PAIRS:
                core = self.core_mask(CORE_NODE_PAIRS)
                return submodel.Neighbourhood(tasks, nodes, kind.name, keep=core)
        # unplaced tasks that fit there: must-place ones first, then by priority
        if self.unplaced:
            fits = [
                t
                for t in self.unplaced
                if t not in taken_tasks and bool(f.cand_mask(t)[nodes].any())
            ]
            rng.shuffle(fits)
            fits.sort(key=lambda t: (not f.must[t], -int(f.prio[t] * f.replicas[t])))
            room = max(5, len(tasks) // 4)
            extra = fits[:room]
            # whole gangs, so that they can be placed together
            more: set[int] = set()
            for t in extra:
                g = int(f.gang[t])
                if g >= 0:
                    more.update(o for o in f.gang_members[g] if o not in taken_tasks)
            tasks = sorted(set(tasks) | set(extra) | more)
        return submodel.Neighbourhood(tasks, nodes, kind.name)

    def insertion(
        self, kind: Kind, taken_nodes: set[int], taken_tasks: set[int]
    ) -> submodel.Neighbourhood:
        """An unplaced task (must-place first, then by priority) with the candidate nodes that
        have the most room for it, and the tasks on them."""
        f, plan, rng = self.f, self.plan, self.rng
        pool = [t for t in self.unplaced if t not in taken_tasks]
        if not pool:
            return submodel.Neighbourhood([], np.zeros(0, dtype=np.int64), kind.name)
        rng.shuffle(pool)
        pool.sort(key=lambda t: (not f.must[t], -int(f.prio[t] * f.replicas[t])))
        t = pool[min(len(pool) - 1, int(rng.expovariate(1.0)))]
        g = int(f.gang[t])
        members = [o for o in f.gang_members[g] if o not in taken_tasks] if g >= 0 else [t]
        share = max(1, round(kind.k) // len(members))
        chosen_set: set[int] = set()
        for m in members:  # each member's own roomiest candidates
            cand = np.flatnonzero(f.cand_mask(m))
            if taken_nodes:
                cand = cand[~np.isin(cand, list(taken_nodes))]
            if len(cand) == 0:
                continue
            cap = np.maximum(f.cap[cand], 1).astype(float)
            over = ((plan.load[cand] + f.demands(m, cand)) / cap).max(axis=1)
            over = over * np.array([rng.uniform(1.0, 1.3) for _ in range(len(cand))])
            k = max(int(f.replicas[m]) + 1, share)
            chosen_set.update(int(n) for n in cand[np.argsort(over, kind="stable")[:k]])
        if not chosen_set:
            return submodel.Neighbourhood([], np.zeros(0, dtype=np.int64), kind.name)
        tasks = set(members)
        for n in chosen_set:
            tasks.update(plan.on[n])
        tasks -= taken_tasks
        tasks.update(members)
        return submodel.Neighbourhood(sorted(tasks), np.array(sorted(chosen_set)), kind.name)

    def core(self, kind: Kind) -> submodel.Neighbourhood:
        """Every task, on the most promising remaining pairs (see :meth:`core_global`)."""
        f = self.f
        mask = self.core_global(max(1.2, kind.k))
        return submodel.Neighbourhood(list(range(f.T)), np.arange(f.N), kind.name, keep=mask)

    def core_global(self, q: float) -> np.ndarray:
        """:func:`.lagrange.core_pairs` at the last multipliers, with ``CORE_NOISE``."""
        assert self.lagr is not None and self.keep is not None
        _, X, delta = self.lagr.last
        noise = np.random.default_rng(self.rng.getrandbits(32))
        return lagrange.core_pairs(X, delta, self.keep, q, noise, CORE_NOISE)

    def alternatives(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate nodes of ``t`` and how bad each is: the Lagrangian penalty when known, else
        the assign cost."""
        f = self.f
        cand = np.flatnonzero(f.cand_mask(t))
        if self.lagr is not None and self.keep is not None:
            _, X, delta = self.lagr.last
            bad = np.where(X[cand, t], 0.0, delta[cand, t])
        else:
            ac = f.acost[t]
            bad = np.array([ac.get(int(n), 0) for n in cand], dtype=float)
        return cand, bad

    def chain(
        self, kind: Kind, taken_nodes: set[int], taken_tasks: set[int]
    ) -> submodel.Neighbourhood:
        """Nodes along an ejection chain: the node of a task placed at a high penalty, then
        repeatedly one of the best other nodes of a task on the last node added."""
        f, plan, rng = self.f, self.plan, self.rng
        k = max(2, round(kind.k))
        placed = [t for t in range(f.T) if plan.nodes[t] and t not in taken_tasks]
        if not placed:
            return submodel.Neighbourhood([], np.zeros(0, dtype=np.int64), kind.name)
        sample = rng.sample(placed, min(len(placed), 16))
        worst, worst_bad = sample[0], -1.0
        for t in sample:
            cand, bad = self.alternatives(t)
            here = np.isin(cand, plan.nodes[t])
            cur = float(bad[here].max()) if here.any() else 0.0
            cur -= float(bad.min()) if len(bad) else 0.0
            if cur > worst_bad:
                worst, worst_bad = t, cur
        chosen: list[int] = [n for n in plan.nodes[worst] if n not in taken_nodes][:1]
        t = worst
        for _ in range(4 * k):
            if len(chosen) >= k:
                break
            cand, bad = self.alternatives(t)
            ok = ~np.isin(cand, chosen) & ~np.isin(cand, list(taken_nodes))
            cand, bad = cand[ok], bad[ok]
            if len(cand):
                top = cand[np.argsort(bad, kind="stable")[:3]]
                chosen.append(int(rng.choice(top.tolist())))
            on = [o for o in plan.on[chosen[-1]] if o not in taken_tasks] if chosen else []
            if not on:
                break
            t = rng.choice(on)
        if not chosen:
            return submodel.Neighbourhood([], np.zeros(0, dtype=np.int64), kind.name)
        tasks: set[int] = set()
        for n in chosen:
            tasks.update(plan.on[n])
        tasks -= taken_tasks
        return submodel.Neighbourhood(sorted(tasks), np.array(sorted(set(chosen))), kind.name)

    def core_mask(self, q: int) -> np.ndarray:
        """Each task's ``q`` most promising remaining pairs: those of the relaxed solution,
        then the smallest Lagrangian penalties (see :mod:`.lagrange`)."""
        assert self.lagr is not None and self.keep is not None
        _, X, delta = self.lagr.last
        score = np.where(self.keep, delta, np.inf)
        score[X & self.keep] = -1.0
        order = np.argsort(score, axis=0, kind="stable")[:q]  # q nodes per task
        mask = np.zeros_like(self.keep)
        np.put_along_axis(mask, order, True, axis=0)
        mask &= np.isfinite(score)
        return mask

    def pick_kind(self, exclude: Sequence[str] = ()) -> Kind:
        if not self.unplaced:
            exclude = (*exclude, "insert")
        if self.keep is None:
            exclude = (*exclude, "core")
        kinds = [k for k in self.kinds if k.name not in exclude]
        for name, share in (("insert", INSERT_SHARE), ("core", CORE_SHARE)):
            wanted = [k for k in kinds if k.name == name]
            if wanted and self.rng.random() < share:
                return wanted[0]
        weights = [0.2 + k.score for k in kinds]
        return self.rng.choices(kinds, weights=weights)[0]

    def k_max(self, kind: Kind) -> float:
        if kind.name == "chain":
            return min(float(self.f.N), MAX_CHAIN)
        return 0.9 if kind.name == "tasks" else float(self.f.N)

    def k_min(self, kind: Kind) -> float:
        return {"tasks": 0.02, "core": 1.5}.get(kind.name, 2.0)
