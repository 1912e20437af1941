"""Large neighbourhood search for placement problems too large for one CP-SAT model.

Why
---
One CP-SAT model of a large placement problem loses: 2,400 tasks on 800 nodes took 31 s and
2.7 GB to build and found no solution in 60 s, even with a greedy hint. This module keeps the
incumbent plan in flat arrays (:mod:`.flat`) and improves it by re-solving small parts of it
exactly with CP-SAT (:mod:`.submodel`), while a lower bound comes from the LP relaxation
(:mod:`.bounds`).

Dispatch (:func:`route`, called first by :func:`taskalloc.solvers.cpsat.solve`)
-------------------------------------------------------------------------------
A problem goes to the LNS when it is a placement problem (no task has a duration), every term
of its objective is one the LNS optimises exactly (``unplaced``, ``cost``, ``nodes``,
``moves``: all linear in the placement; ``balance`` is a maximum over nodes and stays on the
exact path), and either

* ``lns=True`` is passed, or
* its full model would be large: more than :data:`LNS_PAIRS` (task, allowed node) pairs, or
* it is of medium size (more than :data:`HYBRID_PAIRS` pairs): then the exact path runs first
  with a share of the time (:data:`EXACT_SHARE`; :data:`EXACT_SHARE_ASSIGNMENT` for
  assignment-shaped problems, where the Lagrangian below does better) and its result is
  returned when it proves optimality (or infeasibility, or was stopped); otherwise the LNS goes
  on from the exact path's best plan with the rest of the time (the *hybrid*).

``lns=False`` keeps any problem on the exact path. Small problems (the property tests, the
examples) never reach this module.

Search
------
Start: ``hint`` when the evaluator accepts it, else the exact path's plan (hybrid), else, when
node costs count right after ``unplaced``, first-fit decreasing over cost-efficient nodes
(:mod:`.construct`) if it places every must-place task, else the greedy with the policy the
exact path would use (``best-fit`` for cost-like objectives). A start may leave must-place
tasks out: the LNS then first minimises their replicas (``violation``), and returns status
``unknown`` if it cannot place them all.

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

Between sub-solves, when node costs or the node count are minimised, fleet-wide moves
(:mod:`.quick`: empty a node into the room of the other used nodes; move a node's tasks to a
cheaper empty node) run for :data:`QUICK_FIRST_SECONDS` after the start and
:data:`QUICK_SECONDS` after each step (deterministic: a count of nodes). On cloud balancing
they cut the gap to the LP bound at 60 s from 15.5-20.4 % to 12.5-17.7 % (400-2,400
computers).

k adapts per kind: it grows by 20 % after a sub-solve that proved its part optimal (the
neighbourhood was too easy) and shrinks by 15 % after one that ran out of time. With
``workers >= 2`` (and not ``deterministic``) each step solves ``workers`` disjoint
neighbourhoods at once, each with one CP-SAT worker, in threads (CP-SAT releases the GIL);
``tasks`` and ``core`` use every node and run alone with ``workers`` CP-SAT workers.

Assignment-shaped problems (:mod:`.lagrange`: one resource, every task required, one replica,
no node cost; the generalized assignment problem) first get a Lagrangian bound, which also
eliminates every pair no plan cheaper than the incumbent can use; the elimination is redone
whenever the incumbent improved, the sub-models only offer the pairs left (and the current
ones), and when elimination shrank the pairs by 30 % the model over all tasks and the pairs
left is solved: proved optimal, it proves the best plan optimal.

Limits and reproducibility: ``time_limit`` covers everything from the call on (the exact
phase, the start, the LNS and the final check by the evaluator, for which the time of one
evaluation of the start is kept); without a limit the search ends after
:data:`STALL_STEPS` sub-solves without a gain. ``stop`` (a :class:`threading.Event`) is polled
every 20 ms by a watcher that stops the running sub-solves, and the best plan so far is
returned. ``deterministic``: one worker, each sub-solve limited in CP-SAT's deterministic time
(:data:`DET_SUB_SECONDS`), a fixed number of sub-solves (``ceil(time_limit /
DET_SUB_SECONDS)``, :data:`DETERMINISTIC_STEPS` without a limit), :data:`LAGRANGE_STEPS`
subgradient steps and the LP without a time limit; the neighbourhoods come from
``random.Random(seed)``, so equal seeds give equal plans.

Objective, bound and status
---------------------------
The LNS compares plans by the objective the exact model optimises, in the same scaled integers:
lexicographic term by term, ``weights`` by the exact model's integer weighted sum. ``trajectory``
and ``progress`` get ``(seconds, value, bound)`` at each improvement, where value is, for
lexicographic objectives, the first term (in order) above its known lower bound (or the last
term), and for ``weights`` the weighted sum, each in the problem's units.

``bound`` holds the lower bounds of :mod:`.bounds` (LP relaxation, see there; the Lagrangian
bound when it is higher), per term for
lexicographic objectives up to the first term not proven optimal (a term is proven when the plan
reaches its bound and all earlier ones are proven), ``weighted`` for ``weights``. Status is
``optimal`` only when every term is proven with exact scaling, else ``feasible``; ``unknown``
when must-place tasks remain unplaced. Every plan returned has been accepted by the evaluator.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from taskalloc.problems.evaluate import violations
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem

from .. import lagrange
from ..clock import Clock, Progress, Trajectory, finishing
from ..flat import LINEAR_TERMS, Flat, Plan
from ..lagrange import Lagrangian
from ..native import cp_solver
from ..result import Result, Results
from ..scaling import choose_scales, weight_multipliers
from . import construct, submodel
from .bounds import Bounds, BoundTask
from .quick import QuickMoves

NAME = "cpsat"
LNS_PAIRS = 20_000  # above this many (task, allowed node) pairs: LNS from the start (the
# exact path's share of the hybrid was wasted there: cloud balancing with 100 computers, 30,000
# pairs, reached 103,250 by LNS alone in 60 s, 105,590-107,140 with the hybrid)
HYBRID_PAIRS = 400  # above this many: exact first, LNS if the exact path proves nothing
EXACT_SHARE = 0.3  # hybrid: share of the time limit for the exact path
EXACT_SHARE_ASSIGNMENT = 0.1  # ... when the Lagrangian applies (GAP-shaped problems)
SMALL_FLEET = 64  # at most this many nodes: the `tasks` neighbourhood (every node free)
SUB_SECONDS = 1.0  # time limit of one sub-solve (deterministic: deterministic time)
MIN_SUB_SECONDS = 0.2
MIN_ADAPTED_SECONDS = 0.1  # sub-solves shrink down to this while most of them improve
DET_SUB_SECONDS = 0.25  # deterministic: CP-SAT deterministic time of one sub-solve
MAX_SUB_PAIRS = 20_000  # (task, node) pairs of one sub-model at most
MAX_SUB_TASKS = 800
LAGRANGE_SECONDS = 3.0  # subgradient time at most (deterministic: LAGRANGE_STEPS steps)
LAGRANGE_STEPS = 150
REDUCED_SECONDS = 5.0  # the model over the pairs left after elimination, at most
REDUCED_SHARE = 0.7  # ... solved again when the pairs left shrank to this share
CORE_TASKS_PAIRS = 3  # `tasks` with pair elimination: each task on its 3 best pairs
CORE_NODE_PAIRS = 4  # node neighbourhoods with pair elimination: each task on its 4 best
CORE_FACTOR = 2.5  # the `core` neighbourhood gets this many sub-solve budgets
CORE_NOISE = 1.0  # log-normal noise (sigma) on the penalties that rank the `core` pairs, so
# that successive core sub-models differ (without it they are nearly the same model each time);
# chu-beasley d20100 and d20200 at 20 s, seeds 0-2: mean gap 0.52 % without, 0.35 % with
CORE_SHARE = 0.5  # with pair elimination: share of the steps that solve the `core`
INSERT_SHARE = 0.3  # while placeable tasks are unplaced: share of the steps that insert
DETERMINISTIC_STEPS = 200  # sub-solves in deterministic mode without a time limit
STALL_STEPS = 1_000  # without a time limit: stop after this many sub-solves without a gain
MAX_CHAIN = 40.0  # nodes of a `chain` neighbourhood at most
WATCH_INTERVAL = 0.02
QUICK_FIRST_SECONDS = 2.0  # fleet-wide moves (quick.py) right after the start, at most
QUICK_SECONDS = 0.01  # ... and after each step
QUICK_SHARE = 0.05  # ... never more than this share of the time left
QUICK_NODES = 20  # deterministic: nodes tried after each step


def pairs(problem: Problem) -> int:
    """(task, allowed node) pairs: an upper bound of the full model's candidate pairs."""
    return sum(len(t.allowed) for t in problem.tasks)


def route(problem: Problem, lns: bool | None = None) -> str | None:
    """``"lns"``, ``"hybrid"`` or None (the exact path), per the module docstring."""
    if lns is False or problem.scheduling:
        return None
    if any(t not in LINEAR_TERMS for t in problem.objective.active()):
        return None
    if lns:
        return "lns"
    n = pairs(problem)
    if n > LNS_PAIRS:
        return "lns"
    if n > HYBRID_PAIRS:
        return "hybrid"
    return None


# --------------------------------------------------------------------------------------------


@dataclass
class _Kind:
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


class _Search:
    def __init__(
        self,
        flat: Flat,
        plan: Plan,
        *,
        t0: float,
        time_limit: float | None,
        workers: int,
        seed: int,
        deterministic: bool,
        progress: Progress | None,
        stop: threading.Event | None,
        bounds: Bounds,
        sub_seconds: float,
    ) -> None:
        self.f = flat
        self.plan = plan
        # wall-clock limit (deterministic runs count sub-solves instead: see `run`)
        self.clock = Clock(time_limit, stop=stop, progress=progress, t0=t0)
        self.time_limit = time_limit
        self.workers = workers
        self.seed = seed
        self.deterministic = deterministic
        self.stop = stop
        self.bounds = bounds
        self.sub_seconds = sub_seconds
        self.rng = random.Random(seed)
        problem = flat.problem
        obj = problem.objective
        self.order = problem.objective.active()
        self.coeffs: dict[str, int] | None = None
        self.units = {
            "unplaced": float(flat.scales.priority),
            "cost": float(flat.scales.cost),
            "nodes": 1.0,
            "moves": 1.0,
        }
        if obj.kind == "weights":
            weights = {t: obj.weights[t] for t in self.order}
            unit = {t: Fraction(self.units[t]) for t in self.order}
            unit["unplaced"] = flat.scales.priority
            unit["cost"] = flat.scales.cost
            coeffs, _, _ = weight_multipliers(weights, unit)
            self.coeffs = coeffs
        self.steps = 0
        self.improvements = 0
        self.stopped = False
        self.timed_out = False
        self.stalled = False
        self.last_win = 0  # step of the last improvement
        self.proven = False
        self._active: set[cp_model.CpSolver] = set()
        self._lock = threading.Lock()
        n = flat.N
        small = n <= SMALL_FLEET
        k0 = 2.0 if small else 6.0
        self.kinds = [
            _Kind("random", k0),
            _Kind("similar", k0),
            _Kind("costly", k0),
            _Kind("chain", k0 + 2),
        ]
        if small:
            self.kinds.append(_Kind("tasks", 0.3))
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
        #: unplaced tasks that could be placed (enough candidates), and that count
        self.placeable = np.array(
            [
                int(np.count_nonzero(flat.cand_mask(t))) >= flat.replicas[t]
                and (flat.must[t] or flat.prio[t] > 0)
                for t in range(flat.T)
            ],
            dtype=bool,
        )
        self.unplaced = {t for t in range(flat.T) if not plan.nodes[t] and self.placeable[t]}
        self.kinds.append(_Kind("insert", 4.0))
        # Lagrangian pair elimination
        self.lagr = Lagrangian(flat) if lagrange.applies(flat, self.order) else None
        self.keep: np.ndarray | None = None  # pairs (nodes x tasks) a better plan may use
        self.fixed_at = 0  # incumbent cost when `keep` was computed
        self.reduced_tried = flat.N * flat.T + 1  # pairs kept at the last `reduced` solve
        self.reduced_kind = _Kind("reduced", 1.0)
        if self.lagr is not None:
            self.kinds.append(_Kind("core", 2.0))
        #: fleet-wide moves (:mod:`.quick`), when node costs or the node count are minimised
        self.quick: QuickMoves | None = None
        if (flat.any_node_cost and "cost" in self.order) or "nodes" in self.order:
            self.quick = QuickMoves(flat, plan, self.key)
        self.reserve = 0.0  # seconds kept at the end for the final evaluation
        self.win_rate = 0.5  # recent share of sub-solves that improved
        self.adapt_time = True  # adapt sub_seconds to win_rate (not when given explicitly)
        self.max_sub_seconds = SUB_SECONDS

    # -- bookkeeping -----------------------------------------------------------------------

    @property
    def trajectory(self) -> Trajectory:
        return self.clock.trajectory

    @trajectory.setter
    def trajectory(self, points: Trajectory) -> None:
        self.clock.trajectory = points

    def elapsed(self) -> float:
        return self.clock.elapsed()

    def key(self, terms: dict[str, int]) -> tuple[int, ...]:
        if self.coeffs is None:
            return (terms["violation"], *(terms[t] for t in self.order))
        return (terms["violation"], sum(c * terms[t] for t, c in self.coeffs.items()))

    def real(self, term: str, value: int) -> float:
        return value / self.units[term]

    def report(self) -> tuple[float, float | None, str]:
        """(value, bound, term) for the trajectory, per the module docstring."""
        terms = self.plan.terms
        if self.coeffs is not None:
            obj = self.f.problem.objective
            value = sum(obj.weights[t] * self.real(t, terms[t]) for t in self.order)
            return value, self.bounds.weighted(), "weighted"
        lbs = self.bounds.lexicographic()
        for term in self.order:
            lb = lbs.get(term)
            if lb is None:
                return self.real(term, terms[term]), None, term
            if self.real(term, terms[term]) > lb + 1e-9 or term == self.order[-1]:
                return self.real(term, terms[term]), lb, term
        last = self.order[-1]
        return self.real(last, terms[last]), lbs.get(last), last

    def record(self, force: bool = False) -> None:
        value, bound, term = self.report()
        if force:
            self.clock.record(value, bound, term)
        else:
            self.clock.record_new(value, bound, term)

    def remaining(self) -> float | None:
        return self.clock.remaining()

    def can_go_on(self) -> bool:
        if self.clock.stop_requested():
            self.stopped = True
        left = self.remaining()
        if not self.deterministic and left is not None and left <= 0.02 + self.reserve:
            self.timed_out = True
        if left is None and self.steps - self.last_win > STALL_STEPS:
            self.stalled = True
        return not self.stopped and not self.timed_out and not self.proven and not self.stalled

    def check_proven(self) -> None:
        if self.plan.terms["violation"] == 0 and self.bounds.proves(self.plan.terms):
            self.proven = True

    # -- neighbourhoods --------------------------------------------------------------------

    def _used(self) -> np.ndarray:
        return np.fromiter((bool(s) for s in self.plan.on), dtype=bool, count=self.f.N)

    def choose(self, kind: _Kind, taken_nodes: set[int], taken_tasks: set[int]) -> list[int]:
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
        self, kind: _Kind, taken_nodes: set[int], taken_tasks: set[int]
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
        self, kind: _Kind, taken_nodes: set[int], taken_tasks: set[int]
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

    def core(self, kind: _Kind) -> submodel.Neighbourhood:
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
        self, kind: _Kind, taken_nodes: set[int], taken_tasks: set[int]
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

    def pick_kind(self, exclude: Sequence[str] = ()) -> _Kind:
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

    # -- sub-solves ------------------------------------------------------------------------

    def _solve_sub(
        self, sub: submodel.SubModel, budget: float, workers: int, seed: int
    ) -> tuple[Any, cp_model.CpSolver, float]:
        began = time.perf_counter()
        solver = cp_solver()
        prm = solver.parameters
        prm.num_workers = workers
        prm.random_seed = seed
        prm.log_search_progress = False
        if self.deterministic:
            prm.max_deterministic_time = max(budget, 1e-3)
        else:
            prm.max_time_in_seconds = max(budget, 1e-3)
        with self._lock:
            self._active.add(solver)
        try:
            if self.stop is not None and self.stop.is_set():
                return cp_model.UNKNOWN, solver, 0.0
            status = solver.solve(sub.model)
        finally:
            with self._lock:
                self._active.discard(solver)
        return status, solver, time.perf_counter() - began

    def _watch(self, done: threading.Event) -> None:
        while not done.wait(WATCH_INTERVAL):
            if self.stop is not None and self.stop.is_set():
                with self._lock:
                    for s in self._active:
                        s.stop_search()

    def step(self, pool: ThreadPoolExecutor | None) -> None:
        par = 1 if pool is None else self.workers
        taken_nodes: set[int] = set()
        taken_tasks: set[int] = set()
        batch: list[tuple[_Kind, submodel.SubModel]] = []
        for slot in range(par):
            kind = self.pick_kind(exclude=("tasks", "core") if slot else ())
            hood = self.neighbourhood(kind, taken_nodes, taken_tasks)
            if not hood.tasks:
                continue
            sub = submodel.build(self.f, self.plan, hood, self.order, self.coeffs, keep=self.keep)
            if sub.empty:
                continue
            batch.append((kind, sub))
            if kind.name in ("tasks", "core"):
                break
            taken_nodes.update(int(n) for n in hood.nodes)
            taken_tasks.update(hood.tasks)
        if not batch:
            self.steps += 1
            return
        budget = self.sub_seconds
        if batch[0][0].name == "core":
            budget *= CORE_FACTOR
        left = self.remaining()
        if not self.deterministic and left is not None:
            budget = max(0.01, min(budget, left - self.reserve))
        seeds = [self.rng.getrandbits(31) for _ in batch]
        if pool is None or len(batch) == 1:
            w = self.workers if pool is not None else 1
            outs = [self._solve_sub(batch[0][1], budget, w, seeds[0])]
            outs += [
                self._solve_sub(s, budget, 1, sd)
                for (_, s), sd in zip(batch[1:], seeds[1:], strict=True)
            ]
        else:
            futures = [
                pool.submit(self._solve_sub, s, budget, 1, sd)
                for (_, s), sd in zip(batch, seeds, strict=True)
            ]
            outs = [fu.result() for fu in futures]
        improved = False
        for (kind, sub), (status, solver, spent) in zip(batch, outs, strict=True):
            self.steps += 1
            kind.tries += 1
            kind.seconds += spent
            kind.proved += int(status == cp_model.OPTIMAL)
            won = False
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                won = self._accept(sub, solver)
                improved |= won
            if status == cp_model.OPTIMAL:
                kind.k = min(kind.k * 1.2 + 0.5, self._k_max(kind))
            elif status in (cp_model.FEASIBLE, cp_model.UNKNOWN) and not self.stopped:
                kind.k = max(kind.k * 0.85, self._k_min(kind))
            kind.score = 0.9 * kind.score + 0.1 * (1.0 if won else 0.0)
            kind.wins += int(won)
            self.win_rate = 0.95 * self.win_rate + 0.05 * (1.0 if won else 0.0)
        if not self.deterministic and self.adapt_time:
            # while most sub-solves improve, shorter ones give more steps; when few do, longer
            # ones let CP-SAT search deeper
            if self.win_rate > 0.5:
                self.sub_seconds = max(MIN_ADAPTED_SECONDS, self.sub_seconds * 0.97)
            elif self.win_rate < 0.2:
                self.sub_seconds = min(self.max_sub_seconds, self.sub_seconds * 1.03)
        if improved:
            self.check_proven()
            self.record()

    def _k_max(self, kind: _Kind) -> float:
        if kind.name == "chain":
            return min(float(self.f.N), MAX_CHAIN)
        return 0.9 if kind.name == "tasks" else float(self.f.N)

    def _k_min(self, kind: _Kind) -> float:
        return {"tasks": 0.02, "core": 1.5}.get(kind.name, 2.0)

    def _accept(self, sub: submodel.SubModel, solver: cp_model.CpSolver) -> bool:
        """Apply the sub-solution when it is strictly better; True then."""
        plan = self.plan
        change, used = submodel.extract(sub, solver)
        tasks = sub.free_tasks
        F = [int(n) for n in sub.hood.nodes]
        old_assign = {t: plan.nodes[t] for t in tasks}
        if all(change[t] == old_assign[t] for t in tasks):
            return False
        old = plan.part_terms(tasks, F, old_assign)
        new = plan.part_terms(tasks, F, change, used=used)
        terms = {k: plan.terms[k] - old[k] + new[k] for k in plan.terms}
        before, after = self.key(plan.terms), self.key(terms)
        if after > before:
            return False
        plan.apply(change)
        plan.terms = terms
        for t in tasks:
            if plan.nodes[t]:
                self.unplaced.discard(t)
            elif self.placeable[t]:
                self.unplaced.add(t)
        if after < before:
            self.improvements += 1
            self.last_win = self.steps
            return True
        return False

    # -- the loop --------------------------------------------------------------------------

    # -- Lagrangian pair elimination (assignment-shaped problems) ---------------------------

    def lagrangian(self) -> None:
        """Bound the cost by Lagrangian relaxation and eliminate pairs (see :mod:`.lagrange`)."""
        if self.lagr is None or not self.can_go_on():
            return
        ub = float(self.plan.terms["cost"])
        if self.deterministic:
            lb = self.lagr.improve(ub, None, steps=LAGRANGE_STEPS)
        else:
            left = self.remaining()
            budget = LAGRANGE_SECONDS if left is None else min(LAGRANGE_SECONDS, 0.2 * left)
            lb = self.lagr.improve(ub, budget)
        if math.isfinite(lb):
            self.bounds.raise_cost(lb / self.units["cost"], "Lagrangian")
        self.refix()

    def refix(self) -> None:
        """Eliminate the pairs no plan cheaper than the incumbent uses; try the model of what
        is left when it shrank enough."""
        assert self.lagr is not None
        ub = self.plan.terms["cost"]
        keep = self.lagr.keep(ub)
        self.fixed_at = ub
        self.keep = keep
        if bool((keep.sum(axis=0) == 0).any()):  # no plan is cheaper than the incumbent
            self.bounds.raise_cost(ub / self.units["cost"], "Lagrangian pair elimination")
            self.check_proven()
            return
        kept = int(keep.sum())
        if kept <= REDUCED_SHARE * self.reduced_tried:
            self.reduced_tried = kept
            self.reduced()

    def reduced(self) -> None:
        """Every task free on its remaining pairs: solved and proved optimal, the best plan is
        optimal."""
        if not self.can_go_on():
            return
        f = self.f
        hood = submodel.Neighbourhood(list(range(f.T)), np.arange(f.N), "reduced")
        sub = submodel.build(f, self.plan, hood, self.order, self.coeffs, keep=self.keep)
        if self.deterministic:
            budget = REDUCED_SECONDS
        else:
            left = self.remaining()
            budget = REDUCED_SECONDS if left is None else min(REDUCED_SECONDS, 0.3 * left)
        status, solver, spent = self._solve_sub(sub, budget, self.workers, self.seed)
        kind = self.reduced_kind
        kind.tries += 1
        kind.seconds += spent
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            won = self._accept(sub, solver)
            kind.wins += int(won)
            if won:
                self.record()
        if status == cp_model.OPTIMAL:
            kind.proved += 1
            cost = self.plan.terms["cost"]
            self.bounds.raise_cost(cost / self.units["cost"], "Lagrangian pair elimination")
            self.check_proven()
            self.record()

    def maybe_refix(self) -> None:
        if self.lagr is None or self.keep is None or self.proven:
            return
        if self.plan.terms["cost"] < self.fixed_at:
            self.refix()

    # -- the loop --------------------------------------------------------------------------

    def quick_moves(self, first: bool = False) -> None:
        """Fleet-wide moves between sub-solves (:mod:`.quick`): a longer pass at the start, then
        a short one after every step (bounded in nodes, not seconds, when deterministic)."""
        if self.quick is None or not self.can_go_on():
            return
        if self.deterministic:
            won = self.quick.run(float("inf"), self.f.N if first else QUICK_NODES)
        else:
            left = self.remaining()
            budget = QUICK_FIRST_SECONDS if first else QUICK_SECONDS
            if left is not None:
                budget = min(budget, QUICK_SHARE * left)
            won = self.quick.run(budget)
        if won:
            self.improvements += won
            self.last_win = self.steps
            self.check_proven()
            self.record()

    def run(self) -> None:
        self.check_proven()
        self.record(force=True)
        self.lagrangian()
        self.quick_moves(first=True)
        if self.deterministic:
            steps = DETERMINISTIC_STEPS
            if self.time_limit is not None:
                steps = max(1, math.ceil(self.time_limit / self.sub_seconds))
            for _ in range(steps):
                if not self.can_go_on():
                    break
                self.step(None)
                self.quick_moves()
                self.maybe_refix()
            return
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        pool = ThreadPoolExecutor(max_workers=self.workers) if self.workers > 1 else None
        try:
            while self.can_go_on():
                self.step(pool)
                self.quick_moves()
                self.maybe_refix()
                if self.bounds.ready():
                    self.check_proven()
        finally:
            done.set()
            watcher.join()
            if pool is not None:
                pool.shutdown(wait=True)
        self.record()


# --------------------------------------------------------------------------------------------


def violations_of(problem: Problem, assignments: list[Assignment]) -> list[Any]:
    """The evaluator's constraint checks of a placement (what ``evaluate(...).feasible``
    decides), without the objective's fitness weights, whose upper bounds take O(tasks x nodes)
    Python steps (14 s on 7,200 tasks x 2,400 nodes)."""
    return violations(problem, assignments)


def _start(
    problem: Problem,
    flat: Flat,
    hint: list[Assignment] | None,
    time_limit: float | None,
    deterministic: bool,
    stop: threading.Event | None = None,
) -> tuple[Plan, str]:
    """The start plan: the hint if the evaluator accepts it, else the greedy (which ``stop``
    ends with what it placed so far)."""
    if hint is not None and not violations_of(problem, hint):
        return Plan.from_assignments(flat, hint), "hint"
    if construct.wanted(flat, problem.objective.active()):
        plan = construct.efficient_first_fit(flat)
        if plan.terms["violation"] == 0:
            return plan, "efficient first fit"
    from ..greedy import solve as greedy
    from ..warm import policy_for

    policy = policy_for(problem)
    limit = None if deterministic or time_limit is None else max(0.5, time_limit / 4)
    res = greedy(problem, policy=policy, time_limit=limit, stop=stop)
    plan = Plan.from_assignments(flat, res.assignments)
    if plan.terms["unplaced"] > 0 and policy != "least-loaded":
        # a packing policy may leave tasks out that spreading places (10,000 x 1,000
        # generated: best-fit leaves 11, least-loaded none); the LNS would spend its first
        # steps on them, so start from whichever plan is better
        spread = greedy(problem, policy="least-loaded", time_limit=limit, stop=stop)
        other = Plan.from_assignments(flat, spread.assignments)
        if _start_key(problem, flat, other) < _start_key(problem, flat, plan):
            return other, "greedy least-loaded"
    return plan, f"greedy {policy}"


def _start_key(problem: Problem, flat: Flat, plan: Plan) -> tuple[float, ...]:
    """How good a start plan is, in the objective's own order (real units)."""
    unit = {"unplaced": flat.scales.priority, "cost": flat.scales.cost}
    real = {t: plan.terms[t] / float(unit.get(t, 1)) for t in problem.objective.active()}
    obj = problem.objective
    if obj.kind == "lexicographic":
        return (plan.terms["violation"], *(real[t] for t in problem.objective.active()))
    return (plan.terms["violation"], sum(obj.weights[t] * v for t, v in real.items()))


def solve(
    problem: Problem,
    *,
    time_limit: float | None = None,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
    hint: list[Assignment] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    lns: bool | None = True,
    sub_seconds: float | None = None,
) -> Result:
    """Solve a placement problem by LNS (``lns=True``) or the hybrid (``lns=None``: exact path
    first when the problem is of medium size); see the module docstring."""
    mode = "lns" if lns else route(problem, None) or "lns"
    result = Results.start(
        NAME,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        search=mode,
    )
    t0, workers, seed, options = result.t0, result.workers, result.seed, result.options

    scales = choose_scales(problem)
    options["scales"] = scales.describe()
    flat = Flat(problem, scales)
    exact_result = None
    if mode == "hybrid":
        from .exact import solve as exact

        fraction = EXACT_SHARE
        if lagrange.applies(flat, problem.objective.active()):
            fraction = EXACT_SHARE_ASSIGNMENT
        share = None if time_limit is None else fraction * time_limit
        exact_result = exact(
            problem,
            time_limit=share,
            workers=workers,
            seed=seed,
            deterministic=deterministic,
            hint=hint,
            progress=progress,
            stop=stop,
        )
        stopped = stop is not None and stop.is_set()
        if exact_result.status in (Status.OPTIMAL, Status.INFEASIBLE) or stopped:
            exact_result.options["search"] = "exact (hybrid)"
            return exact_result
        if exact_result.has_plan:
            hint = exact_result.assignments

    bounds = Bounds(flat, problem.objective.active(), problem.objective)
    if exact_result is not None:
        # stage bounds proven by the exact path (before the LP, whose stages build on them)
        bounds.merge(exact_result.bound or {})
        if deterministic and time_limit is not None:
            time_limit = time_limit * (1 - fraction)
    bound_task = BoundTask(bounds, deterministic=deterministic, time_limit=time_limit, t0=t0)
    bound_task.start()
    try:
        plan, source = _start(problem, flat, hint, time_limit, deterministic, stop)
        if exact_result is not None and source == "hint":
            source = "the exact path's plan"
        options["warm_start"] = source
        given_sub = sub_seconds
        if sub_seconds is None:
            sub_seconds = DET_SUB_SECONDS if deterministic else SUB_SECONDS
            if time_limit is not None and not deterministic:
                sub_seconds = min(SUB_SECONDS, max(MIN_SUB_SECONDS, time_limit / 120))
        search = _Search(
            flat,
            plan,
            t0=t0,
            time_limit=time_limit,
            workers=workers,
            seed=seed,
            deterministic=deterministic,
            progress=progress,
            stop=stop,
            bounds=bounds,
            sub_seconds=sub_seconds,
        )
        search.adapt_time = given_sub is None
        began = time.perf_counter()
        violations_of(problem, plan.assignments())
        search.reserve = 1.5 * (time.perf_counter() - began) + 0.05
        if exact_result is not None:  # the exact path's points come first
            search.trajectory = list(exact_result.trajectory)
        search.run()
    finally:
        bound_task.finish(stop)
    options["lns"] = {k.name: k.describe() for k in [*search.kinds, search.reduced_kind]}
    if search.quick is not None:
        options["lns"]["quick"] = search.quick.describe()
    if search.lagr is not None:
        options["lns"]["lagrangian"] = {
            "bound": search.lagr.best / search.units["cost"],
            "iterations": search.lagr.iterations,
            "seconds": round(search.lagr.seconds, 2),
            "pairs_left": None if search.keep is None else int(search.keep.sum()),
        }
    return _finish(problem, flat, search, scales.feasibility_exact, result, bounds, source)


def _finish(
    problem: Problem,
    flat: Flat,
    search: _Search,
    exact: bool,
    result: Callable[..., Result],
    bounds: Bounds,
    source: str,
) -> Result:
    finishing(search.stop)  # the search is over: the plan is being made (see clock.Stop)
    plan = search.plan
    assignments = plan.assignments()
    violations = violations_of(problem, assignments)
    notes = list(flat.scales.notes)
    notes.append(
        f"LNS: {search.steps} sub-solves, {search.improvements} improvements from {source}"
    )
    if search.stopped:
        notes.append("stopped on request")
    elif search.timed_out:
        notes.append("time limit reached")
    elif search.stalled:
        notes.append(f"no improvement in {STALL_STEPS} sub-solves")
    if plan.terms["violation"] > 0:
        missing = [problem.tasks[t].id for t in range(flat.T) if flat.must[t] and not plan.nodes[t]]
        names = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        return result(
            Status.UNKNOWN,
            assignments,
            f"no plan found: could not place required task(s) {names}; " + "; ".join(notes),
            trajectory=search.trajectory,
        )
    if violations:  # a modelling error: never hand out such a plan
        why = "; ".join(v.message for v in violations[:3])
        raise RuntimeError(f"LNS plan rejected by the evaluator: {why}")
    bound = bounds.report(plan.terms) if exact else {}
    proven = exact and bounds.proves(plan.terms) and not search.stopped
    summary = bounds.summary(plan.terms, {t: search.real(t, plan.terms[t]) for t in search.order})
    notes.extend(bounds.notes)
    return result(
        Status.OPTIMAL if proven else Status.FEASIBLE,
        assignments,
        "; ".join([summary, *notes]),
        bound=bound or None,
        trajectory=search.trajectory,
    )
