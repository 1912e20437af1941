"""The LNS loop: sub-solves, acceptance, fleet-wide moves and Lagrangian pair elimination.

Each step draws neighbourhoods (:mod:`.hoods`), builds their sub-models (:mod:`..submodel`),
solves them with CP-SAT for a short time (``time_limit / 120`` within [0.2, 1] s, adapted to
the recent success rate) and applies a result that is no worse, lexicographically in exact
scaled integers, to the incumbent (:meth:`Search._accept`).

Between sub-solves, when node costs or the node count are minimised, fleet-wide moves
(:mod:`.quick`: empty a node into the room of the other used nodes; move a node's tasks to a
cheaper empty node) run for :data:`QUICK_FIRST_SECONDS` after the start and
:data:`QUICK_SECONDS` after each step (deterministic: a count of nodes). On cloud balancing
they cut the gap to the LP bound at 60 s from 15.5-20.4 % to 12.5-17.7 % (400-2,400
computers).

When nodes cost money and the problem is plain enough (:func:`...costpack.applies`: one
replica, no gangs, separation, ``demand_on`` or assign costs, objective over ``unplaced`` and
``cost``), ruin-and-recreate packing moves (:mod:`...costpack`, about a thousand a second)
run for :data:`PACK_FIRST_SHARE` of the time after the start, then as long as each step took
(:data:`PACK_RATIO`); a better plan they find becomes the incumbent. On generated cloud
balancing at 60 s they took the plan from 1.19-1.40 to 1.03-1.07 x the LP bound (400-2,400
computers; docs/benchmarks.md, issue 17).

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
"""

from __future__ import annotations

import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ... import costpack, lagrange
from ...clock import Clock, Progress, Trajectory
from ...flat import Flat, Plan
from ...lagrange import Lagrangian
from ...native import cp_solver
from ...scaling import weight_multipliers
from .. import construct, submodel
from ..bounds import Bounds
from ..quick import QuickMoves
from .hoods import Kind, Neighbourhoods
from .settings import (
    CORE_FACTOR,
    DETERMINISTIC_STEPS,
    LAGRANGE_SECONDS,
    LAGRANGE_STEPS,
    MIN_ADAPTED_SECONDS,
    PACK_FIRST_MOVES,
    PACK_FIRST_SHARE,
    PACK_PATIENCE,
    PACK_RATIO,
    PACK_STEP_MOVES,
    QUICK_FIRST_SECONDS,
    QUICK_NODES,
    QUICK_SECONDS,
    QUICK_SHARE,
    REDUCED_SECONDS,
    REDUCED_SHARE,
    STALL_STEPS,
    SUB_SECONDS,
    WATCH_INTERVAL,
)

__all__ = ["Progress", "Search"]


class Search:
    """The state of one LNS run: incumbent, bounds, neighbourhood kinds, statistics."""

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
        # Lagrangian pair elimination
        self.lagr = Lagrangian(flat) if lagrange.applies(flat, self.order) else None
        self.keep: np.ndarray | None = None  # pairs (nodes x tasks) a better plan may use
        self.fixed_at = 0  # incumbent cost when `keep` was computed
        self.reduced_tried = flat.N * flat.T + 1  # pairs kept at the last `reduced` solve
        self.reduced_kind = Kind("reduced", 1.0)
        self.rounded = False  # the LP's solution was rounded into a plan (try_rounding)
        self.rounding_won = False
        self.hoods = Neighbourhoods(self)
        self.kinds = self.hoods.kinds
        #: fleet-wide moves (:mod:`.quick`), when node costs or the node count are minimised
        self.quick: QuickMoves | None = None
        if (flat.any_node_cost and "cost" in self.order) or "nodes" in self.order:
            self.quick = QuickMoves(flat, plan, self.key)
        #: ruin-and-recreate packing moves (:mod:`...costpack`), when they apply
        #: (made once the incumbent places every must-place task)
        self.packer: costpack.Packer | None = None
        self.packs = costpack.applies(flat, self.order)
        self.version = 0  # bumped whenever the incumbent changes
        self.packed_version = 0  # the incumbent the packer last started from
        self.reserve = 0.0  # seconds kept at the end for the final evaluation
        self.win_rate = 0.5  # recent share of sub-solves that improved
        self.adapt_time = True  # adapt sub_seconds to win_rate (not when given explicitly)
        self.max_sub_seconds = SUB_SECONDS

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

    def _solve_sub(
        self, sub: submodel.SubModel, budget: float, workers: int, seed: int
    ) -> tuple[Any, cp_model.CpSolver, float]:
        began = time.perf_counter()
        solver = cp_solver()
        prm = solver.parameters
        prm.num_workers = workers
        prm.random_seed = seed
        prm.log_search_progress = False
        prm.catch_sigint_signal = False  # our own handler stops solvers (see README)
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
        batch: list[tuple[Kind, submodel.SubModel]] = []
        for slot in range(par):
            kind = self.hoods.pick_kind(exclude=("tasks", "core") if slot else ())
            hood = self.hoods.neighbourhood(kind, taken_nodes, taken_tasks)
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
                kind.k = min(kind.k * 1.2 + 0.5, self.hoods.k_max(kind))
            elif status in (cp_model.FEASIBLE, cp_model.UNKNOWN) and not self.stopped:
                kind.k = max(kind.k * 0.85, self.hoods.k_min(kind))
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
        self.version += 1
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
            self.version += 1
            self.improvements += won
            self.last_win = self.steps
            self.check_proven()
            self.record()

    def pack(self, spent: float | None = None, first: bool = False) -> None:
        """Packing moves (:mod:`...costpack`): after the start, :data:`PACK_FIRST_SHARE` of the
        time (ended early after :data:`PACK_PATIENCE` moves without a better plan); after a
        step that took ``spent`` seconds, ``PACK_RATIO x spent`` (deterministic:
        :data:`PACK_FIRST_MOVES`, then :data:`PACK_STEP_MOVES` moves). The packer goes on from
        its own current plan while the incumbent is the one it last saw, else from the
        incumbent; a better plan it finds becomes the incumbent."""
        if not self.packs or self.plan.terms["violation"] > 0 or not self.can_go_on():
            return
        packer = self.packer
        if packer is None:
            packer = self.packer = costpack.Packer(self.f, self.plan.nodes, seed=self.seed)
            self.packed_version = self.version
        if self.packed_version != self.version:
            packer.load_plan(self.plan.nodes)
            self.packed_version = self.version
        patience = PACK_PATIENCE if first else None
        if self.deterministic:
            moves = PACK_FIRST_MOVES if first else PACK_STEP_MOVES
            packer.run(moves=moves, patience=patience, stop=self.stop)
        else:
            left = self.remaining()
            if first:
                budget = PACK_FIRST_SHARE * left if left is not None else None
            else:
                budget = PACK_RATIO * (spent or 0.0)
                if left is not None:
                    budget = min(budget, left - self.reserve - 0.05)
            if budget is None:
                packer.run(moves=PACK_FIRST_MOVES, patience=patience, stop=self.stop)
            elif budget > 0:
                packer.run(seconds=budget, patience=patience, stop=self.stop)
        if packer.best_cost < self.plan.terms["cost"]:
            plan = Plan(self.f, packer.best_nodes)
            if self.key(plan.terms) < self.key(self.plan.terms):
                self.adopt(plan)
                self.packed_version = self.version

    def try_rounding(self) -> None:
        """Once the LP is solved: its rounded solution (:func:`..construct.lp_rounding`)
        replaces the incumbent when it is better (cloud balancing with 2,400 computers: 1.34 x
        the bound, where the first fit starts at 1.50)."""
        if self.rounded or not self.bounds.ready():
            return
        self.rounded = True
        lp = self.bounds.primal
        if lp is None or not construct.wanted(self.f, self.order):
            return
        if not construct.rounding_applies(self.f):
            return
        plan = construct.lp_rounding(self.f, lp)
        if self.key(plan.terms) < self.key(self.plan.terms):
            self.adopt(plan)
            self.rounding_won = True

    def adopt(self, plan: Plan) -> None:
        """Replace the incumbent by a better plan found outside the sub-solves."""
        self.plan = plan
        self.version += 1
        if self.quick is not None:
            self.quick.plan = plan
        f = self.f
        self.unplaced = {t for t in range(f.T) if not plan.nodes[t] and self.placeable[t]}
        self.improvements += 1
        self.last_win = self.steps
        self.check_proven()
        self.record()

    def run(self) -> None:
        self.check_proven()
        self.record(force=True)
        self.lagrangian()
        self.quick_moves(first=True)
        self.pack(first=True)
        if self.deterministic:
            steps = DETERMINISTIC_STEPS
            if self.time_limit is not None:
                steps = max(1, math.ceil(self.time_limit / self.sub_seconds))
            for _ in range(steps):
                if not self.can_go_on():
                    break
                self.try_rounding()
                self.step(None)
                self.quick_moves()
                self.pack()
                self.maybe_refix()
            return
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        pool = ThreadPoolExecutor(max_workers=self.workers) if self.workers > 1 else None
        try:
            while self.can_go_on():
                self.try_rounding()
                began = time.perf_counter()
                self.step(pool)
                self.quick_moves()
                self.pack(time.perf_counter() - began)
                self.maybe_refix()
                if self.bounds.ready():
                    self.check_proven()
        finally:
            done.set()
            watcher.join()
            if pool is not None:
                pool.shutdown(wait=True)
        self.record()
