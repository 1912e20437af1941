"""Scheduling stages: CP-SAT's full search beside a schedule-generation search, on one pool.

Why
---
On RCPSP instances that CP-SAT does not prove in seconds (PSPLIB j60's hard groups, j120), one
CP-SAT search on 2 workers improves slowly: its own neighbourhood search gets a share of one
thread (about 20 sub-solves in 10 s on j60), and the search that proves things finds schedules
late. The heuristics literature reaches better makespans in that time with activity lists,
serial schedule generation and forward-backward improvement. This module runs both on the
pure scheduling stages of :mod:`.exact` (every task on fixed nodes: :mod:`.timeline`), sharing
one pool of schedules (:mod:`.listsearch`).

When (:func:`plan_for`)
-----------------------
The model is pure scheduling, its timeline fits in memory, the stage's objective is
``makespan``, ``tardiness`` or a weighted sum of those and of terms that are constant when every
task is fixed (``unplaced``, ``cost``, ``nodes``, ``moves``), and every earlier lexicographic term
is such a constant term. Anything else is solved by CP-SAT alone, as before.

How (:func:`search`)
--------------------
A pool of schedules (:class:`.listsearch.Pool`) starts from the plans known (the previous
stage's, the warm start). Then, until the budget is spent, the pool is proved optimal or
``stop`` is set, with two workers or more:

* a thread runs CP-SAT's full search (``workers - 1`` workers, :data:`CPSAT_EXTRA` more)
  for the whole budget: every
  solution it finds goes to the pool, its bound is the pool's, and it proves the optimum of
  the instances it can (PSPLIB j30, most of j60). It searches the timeline's *plain model*
  (:meth:`.timeline.Timeline.plain_model`: starts, intervals, cumulatives, precedences, the
  objective; what a user writes by hand) as soon as one schedule of the timeline has been
  checked against the full model (:meth:`_Hybrid._take_plain`), unhinted and not cut off,
  one search for the whole budget as the peer runs it: CP-SAT proves PSPLIB instances on it
  up to three times as fast as on the full model, and a restart below the pool's best would
  throw away what the search learnt (hinting it changed nothing measurable). Only
  if that check fails (a constraint the timeline does not hold) does it search the full
  model, hinted with the pool's best and cut off one unit below it. Should it end before
  the budget, its worker goes to the neighbourhood search of :mod:`.schedlns` (the pool's
  best with a few tasks freed and the others kept in their order; the plain model too);
* the calling thread runs the list search (:class:`.listsearch.ListSearch`): children of its
  elite, decoded, justified and offered to the pool. It breeds on an island of its own from
  the first step (:data:`OWN_ISLAND`: the plans known before the search, then its own and its
  slices' schedules), not on the stage's pool, so that what CP-SAT's full search finds, and
  when, does not change its course: for a seed the list thread makes the same lists and slices
  whatever the other thread does, and a longer run passes through a shorter one's states
  (before, the full search's schedules became parents at whatever step they arrived, and our
  30 s result could be worse than our 10 s one for the same seed). (It is Python, CP-SAT is not: the
  two share the GIL only in CP-SAT's callbacks.) When it has stalled (:data:`LNS_STALL` steps
  on j60, scaled to the instance: :mod:`.corealloc`, which also keeps the core on the slices
  while they improve), the same thread runs a slice of CP-SAT's own neighbourhood
  search (:meth:`_Hybrid._lns_slice`: ``use_lns_only`` with ``interleave_search`` on one
  worker, its scheduling, constraint and variable neighbourhoods in turn, for
  :data:`LNS_DTIME` of deterministic time) on the plain model hinted with one of the pool's
  :data:`LNS_TOP` best schedules, and goes back to its lists. (The hint gives the starts only
  unless :data:`COMPLETE_HINT`: CP-SAT then does not take it as its first solution but starts
  from one of its own, and its neighbourhoods come back to the hint's value in a fraction of
  the slice with a schedule of their own.) This is the
  search that finds what the list search converges short of (PSPLIB j605_3: 80 where every
  list search ends at 81), the one the peer's second CP-SAT worker runs, without a third
  thread on two cores. (Note: with one
  worker and no ``interleave_search``, CP-SAT ignores ``use_lns_only`` and runs its full
  search.) Once the list search has stalled for :data:`.listsearch.RESTART_STEPS` steps, it
  restarts on a fresh pool of its own (an *island*, :meth:`.listsearch.ListSearch.restart`);
  the slices then start from the island's best schedules and feed it, and everything found
  still reaches the stage's pool, which keeps the best.

  Where a slice's wall time goes (ninth session, PSPLIB j6013_1, CP-SAT's log of the slice,
  docs/benchmarks.md): presolve and the first solution take 0.03-0.05 s; of 15-20
  neighbourhood sub-solves, the ones that close take 15-130 ms each and almost no
  deterministic time, and the two or three that reach their deterministic limit (0.1 s each,
  CP-SAT's ``lns_initial_deterministic_limit``) take 0.7-1.6 s of wall each and the slice's
  deterministic budget. Which neighbourhoods those are varies (the scheduling ones, the
  constraint graph's); leaving two out (:data:`SLICE_IGNORE`), the LP out
  (:data:`SLICE_LINEARIZATION`) or a smaller sub-solve limit (:data:`SLICE_SUB_DTIME`) moved
  the time to the others and no makespan. With the starts-only hint each slice is a descent of
  its own from feasibility jump's schedule (j6013_1: 220, then 174, 137, ... within 0.3 s),
  and those fresh descents are what the slices add: one neighbourhood search to the deadline
  (:data:`LNS_LONG`, off) did worse, and from the island's best with a complete hint it stayed
  in the lists' basin (120 at 10 s). What measured better (:data:`CHAIN_COMPLETE`, on;
  by a unit on one instance of 40 quiet, more under load): a slice that follows a slice that
  improved gets the complete hint and goes on from that new best, instead of descending again.
  Our own neighbourhoods of :mod:`.schedlns` in the list thread instead of slices
  (:data:`SLICE_OWN_STEPS`) are off: no better.

Off (:data:`HANDOVER`): once the list thread has converged (nothing new for
:data:`HANDOVER_QUIET` seconds after a slice), give its core to CP-SAT, either restarting the
CP-SAT thread's search on both workers below the pool's best (hinted with it, so that the
peer's pruning by its neighbourhood worker's solutions is ours too) or running such a cut-off
search in the list thread beside the first one. Measured (ninth session, docs/benchmarks.md)
on the three instances that missed the max rule, seeds 0-1 at 10 and 30 s: never better
than the default, and 91 against 90 on j6013_7 in each of the eight runs of either way: the
list search there finds its 90 after more than 6 s without a new best (a quiet time of 6 s
did no better), so no quiet time tells convergence from a pause, and 20 s of two cut-off
workers did not find j6014_3's 61 either. Off too (:data:`CPSAT_EXTRA_DISJUNCTIVE`): the
extra CP-SAT worker only where every resource is disjunctive (:func:`disjunctive`: job shops,
where the list search finds little; quiet, the eighth session had it better on four of five
generated job shops): under the ninth session's load (4-7) it was worse on three and on four of
five in two rounds.

With one worker (or ``deterministic``) they take turns instead: CP-SAT's full search for
:data:`PROOF_SHARE` of the budget, then neighbourhoods for :data:`SLICE_SECONDS` and
:data:`LIST_STEPS` list steps, by turns, each turn bounded in (deterministic) time or in steps,
so that runs with a deterministic limit repeat.

Last, the best schedule's starts are fixed in a copy of the model and CP-SAT fills in every
other variable (the objective's auxiliaries): the stage gets a solution of the model, so the
lexicographic driver, the hints of later stages and the plan work as after a plain solve, and a
schedule the model rejected would be an error, never a plan.

The status is ``optimal`` when CP-SAT's bound reaches the best schedule (the full search
proved it, or a cut-off model was infeasible), ``feasible`` otherwise; the bound is CP-SAT's.
``options.schedule_search`` records the list steps, CP-SAT solves, the model CP-SAT searched
(``plain`` or ``full``), neighbourhood statistics and which search found each improvement.

Measured (docs/benchmarks.md, ``benchmarks/bench_rcpsp.py``): on the 40-instance PSPLIB j60
sample its mean deviation ends below the plain hand-written CP-SAT model's of the same run at
10 and 30 s; CP-SAT alone with 2 workers did not (one full search and its own neighbourhood
search starved on the second thread: about 20 sub-solves in 10 s). Before the plain model,
the full search on the full model gave up after half the budget without progress (a proof's
bound does not move until the proof ends) and lost single instances by one unit to the peer,
whose full search proves them (j605_3: 81 against 80). It can still end a unit or two above
the peer on instances that neither proves, where both vary by as much from run to run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

from ..native import cp_solver
from ..scaling import weight_multipliers
from . import corealloc, schedlns
from .listsearch import ListSearch, Pool, Schedule
from .timeline import CONSTANT_TERMS, REGULAR_TERMS, Timeline

if TYPE_CHECKING:
    from .exact import _Run, _Stage

PROOF_SHARE = 0.3  # one worker: share of the stage budget for the first CP-SAT solve
SLICE_SECONDS = 0.5  # one worker: the neighbourhood search's turn (deterministic time when
LIST_STEPS = 100  # deterministic) and the list search's
COMPLETION_SECONDS = 5.0  # filling in a fixed schedule (propagation only: milliseconds)
WATCH_INTERVAL = 0.02
CPSAT_WORKERS = 0  # workers of the CP-SAT thread (0: workers - 1 + CPSAT_EXTRA)
#: CP-SAT workers beyond the cores the list thread leaves (``workers - 1``): with 2 workers, 1
#: gives the CP-SAT thread two, its full search and a neighbourhood worker sharing every
#: solution as in the peer's solve, beside the list thread (three threads on two cores)
CPSAT_EXTRA = 0
#: the CP-SAT thread's extra workers when every resource is disjunctive (no two intervals that
#: use it fit in its capacity together: job shops; :func:`disjunctive`), instead of
#: :data:`CPSAT_EXTRA` when that is lower: there the list search finds little and the extra
#: CP-SAT worker pays, where on cumulative resources (PSPLIB) it costs the list thread its share
CPSAT_EXTRA_DISJUNCTIVE = 0
PLAIN = True  # CP-SAT searches the timeline's plain model (see _take_plain)
#: the list thread's CP-SAT neighbourhood slices (see :meth:`_Hybrid._lns_slice`): after
#: :data:`LNS_STALL` list steps without a new best (fewer on large instances and while slices
#: do better: :mod:`.corealloc`), CP-SAT's own neighbourhood
#: search (``use_lns_only``, interleaved on one worker) runs from the pool's best for
#: :data:`LNS_DTIME` of deterministic time (0: never)
LNS_STALL = 500
LNS_DTIME = 0.25
#: each slice starts from one of the pool's LNS_TOP best schedules, drawn uniformly (1: always
#: the best; see :meth:`_Hybrid._lns_slice`)
LNS_TOP = 5
#: with two workers or more the list search breeds on an island of its own from the first step
#: (:meth:`.listsearch.ListSearch.restart`, holding the plans known before the search): CP-SAT's
#: full search still offers every schedule to the stage's pool, but not to the list search's
#: parents, so the list thread (its steps, its slices) follows the same course for a seed
#: whenever the other thread finds what (False: the list search breeds on the stage's pool)
OWN_ISLAND = True
#: hint the neighbourhood searches on the plain model with every variable the schedule fixes
#: (:meth:`.timeline.Timeline.plain_hint`: the makespan and lateness too), so that CP-SAT takes
#: the hint as its first solution and searches around it (False: the starts only, an
#: incomplete hint, which ``use_lns_only`` ignores: it starts from a schedule of its own)
COMPLETE_HINT = False
#: a slice starts from the stage's pool instead of the list search's island when the pool's
#: best is better than the island's (CP-SAT's full search ahead of the lists, as on job shops);
#: what it finds goes to the island as well (False: always the island's, while it has one)
SLICE_FROM_BETTER = False
#: once the list thread has converged (:meth:`.corealloc.Allocator.converged`: neither its list
#: steps nor its slices, nor any search, improved the stage's best for :data:`HANDOVER_QUIET`
#: seconds, and a slice has run), it gives its core to CP-SAT: ``"restart"`` stops the CP-SAT
#: thread's full search and restarts it with ``workers`` CP-SAT workers on the plain model,
#: hinted with the pool's best and cut off one unit below it (INFEASIBLE then proves the pool's
#: best optimal), the list thread idle; ``"second"`` runs such a cut-off search (``workers - 1``
#: workers) in the list thread beside the unchanged first one; ``""`` never (the lists and
#: slices go on to the end)
HANDOVER = ""
HANDOVER_QUIET = 2.0
#: CP-SAT subsolvers a slice does not run (``ignore_subsolvers``; empty: all of its
#: neighbourhoods)
SLICE_IGNORE: tuple[str, ...] = ()
#: ``linearization_level`` inside a slice (-1: CP-SAT's default)
SLICE_LINEARIZATION = -1
#: deterministic limit of one neighbourhood sub-solve inside a slice
#: (``lns_initial_deterministic_limit``; 0: CP-SAT's default, 0.1)
SLICE_SUB_DTIME = 0.0
#: once the list search has stalled, one neighbourhood search runs to the deadline instead of
#: slices of :data:`LNS_DTIME` (it keeps what it learnt: its neighbourhoods' sizes, its best);
#: it is restarted from the stage's pool only when the full search gets ahead of it
LNS_LONG = False
#: the list thread's neighbourhood turn runs this many of our own neighbourhoods
#: (:mod:`.schedlns`: a few tasks freed, the others kept in their order, re-solved by CP-SAT
#: for at most :data:`.schedlns.SUB_SECONDS`) from the island's best instead of a slice of
#: CP-SAT's own neighbourhood search (0: CP-SAT's slices)
SLICE_OWN_STEPS = 0
#: a slice that follows a slice that improved (the allocator's chain, hinted with the best)
#: gets the complete hint (:meth:`.timeline.Timeline.plain_hint`) and so goes on from that
#: schedule, instead of a descent of its own from feasibility jump's (False: as every slice,
#: :data:`COMPLETE_HINT`). Ninth session, under load 4.5-6: j6013_1 at 30 s 115, 115, 117
#: against 116, 116, 117 (seeds 0, 2, 3); quiet, on the 40-instance sample at 10 and 30 s,
#: seeds 0 and 1, on and off back to back: equal on 159 of 160, one unit better on one
#: (j6013_1, 10 s, seed 0: 115 against 116) (docs/benchmarks.md)
CHAIN_COMPLETE = True


@dataclass
class Found:
    """What :meth:`.exact._Run.solve` reads from a solve: values and the bound."""

    solver: cp_model.CpSolver
    bound: float

    def value(self, expr: Any) -> int:
        return int(self.solver.value(expr))

    @property
    def best_objective_bound(self) -> float:
        return self.bound


@dataclass
class _Plain:
    """The timeline's plain model (:meth:`.timeline.Timeline.plain_model`)."""

    model: cp_model.CpModel
    start: list[cp_model.IntVar]
    objective: Any


@dataclass
class Plan:
    """The hybrid search of one stage (see :func:`plan_for`)."""

    timeline: Timeline
    weights: dict[str, int]
    constant: bool  # the stage's value is the timeline's (no constant terms in it)


def plan_for(run: _Run, stage: _Stage) -> Plan | None:
    """The hybrid search for this stage, or None when CP-SAT alone should solve it."""
    m = run.m
    if not m.pure_scheduling or not stage.exact:
        return None
    obj = m.problem.objective
    if obj.kind == "lexicographic":
        if stage.name not in REGULAR_TERMS:
            return None
        earlier = obj.terms[: obj.terms.index(stage.name)]
        if any(t not in CONSTANT_TERMS for t in earlier):
            return None
        weights = {stage.name: 1}
        plain = True
    else:
        active = {t: w for t, w in obj.weights.items() if w > 0}
        if any(t not in REGULAR_TERMS and t not in CONSTANT_TERMS for t in active):
            return None
        coeffs, _, exact = weight_multipliers(active, m.unit)
        if not exact:
            return None
        weights = {t: c for t, c in coeffs.items() if t in REGULAR_TERMS}
        if not weights:
            return None
        plain = len(weights) == len(coeffs)
    tl = Timeline.build(m)
    if tl is None:
        return None
    tl.set_objective(weights)
    return Plan(tl, weights, plain)


def search(run: _Run, stage: _Stage, plan: Plan, budget: float | None) -> tuple[Any, Any]:
    """Solve the stage (see the module docstring); returns (status, solver-like) as
    :meth:`.exact._Run.cp_solve` does."""
    hybrid = _Hybrid(run, stage, plan)
    if run.workers >= 2 and not run.clock.deterministic:
        hybrid.parallel(budget)
    else:
        hybrid.turns(budget)
    if run.error is not None:
        raise run.error
    return hybrid.complete()


class _Hybrid:
    def __init__(self, run: _Run, stage: _Stage, plan: Plan) -> None:
        self.run = run
        self.stage = stage
        self.tl = tl = plan.timeline
        self.pool = Pool(tl)
        #: stage value minus timeline value (the constant terms): 0 without constant terms,
        #: else known from CP-SAT's first solution
        self.offset: int | None = 0 if plan.constant else None
        self.bound: float = float("-inf")  # CP-SAT's best bound, stage units
        self.infeasible = False  # CP-SAT proved that the stage has no solution
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.cpsat_solves = 0
        self.lns_steps = 0
        self.lns_slices = 0
        self.start_vars = [run.m.start[k] for k in tl.pairs]
        self.plain: _Plain | None = None  # the plain model, once :meth:`_take_plain` checked it
        self.plain_tried = False
        self.mismatch = False  # see _mismatch
        self.own_island = False  # the list search breeds on an island of its own (OWN_ISLAND)
        self.handover = threading.Event()  # the list thread gave its core to CP-SAT (HANDOVER)
        self.handed_at: float | None = None  # ... at this many seconds of the run
        self.last_improved = 0.0  # the run's clock at the pool's last new best
        for known in (run.plan, run.warm):
            if known is not None:
                start = _starts_of(tl, known)
                if start is not None:
                    self.pool.offer(start, "warm")
        self.pool.listeners.append(self._improved)
        self.list = ListSearch(tl, self.pool, run.seed)
        self.hoods = schedlns.Neighbourhoods(tl, random.Random(run.seed + 1))
        self.slice_rng = random.Random(run.seed + 2)  # the slices' hints (LNS_TOP)
        self.own_hoods = schedlns.Neighbourhoods(tl, random.Random(run.seed + 3))  # SLICE_OWN

    # -- bookkeeping -----------------------------------------------------------------------

    def _improved(self, item: Schedule) -> None:
        self.last_improved = self.run.clock.elapsed()
        if self.offset is None:
            return
        with self.lock:
            bound = None if self.bound == float("-inf") else self.bound / float(self.stage.unit)
            value = (item.value + self.offset) / float(self.stage.unit)
            try:
                self.run.clock.improve(value, bound, self.stage.name)
            except Exception as exc:  # a failing progress callback ends the search
                self.run.error = self.run.error or exc
                self.done.set()

    def _raise_bound(self, bound: float) -> None:
        with self.lock:
            if bound > self.bound:
                self.bound = bound
        if self.offset is not None and self.bound > float("-inf"):
            self.pool.raise_bound(int(np.ceil(self.bound - 1e-6)) - self.offset)

    def _finished(self, deadline: float | None) -> bool:
        run = self.run
        if self.done.is_set() or self.pool.proven() or not run.can_go_on():
            return True
        clock = run.clock
        return deadline is not None and not clock.deterministic and clock.elapsed() >= deadline

    # -- CP-SAT ----------------------------------------------------------------------------

    def _full(
        self,
        budget: float | None,
        workers: int,
        cut: bool = False,
        interrupt: threading.Event | None = None,
    ) -> cp_model.CpSolverStatus:
        """CP-SAT's full search: on the plain model, or on the full model below the pool's
        best, hinted with it (see the module docstring). ``cut``: the plain model too is hinted
        with the pool's best (every variable) and cut off below it, above CP-SAT's bound
        (:data:`HANDOVER`). ``interrupt``: an event that also stops the search."""
        if PLAIN and self.plain is None and not self.plain_tried:
            self._take_plain()
        run, stage, pool = self.run, self.stage, self.pool
        plain = self.plain
        best = pool.best
        cutoff = None
        shift = 0  # stage value minus the solved model's objective (plain model: the offset)
        if plain is not None:
            model, svars = plain.model, plain.start
            shift = self.offset or 0
            if cut and best is not None:
                model = plain.model.clone()
                self.tl.plain_hint(model, best.start)
                model.add(plain.objective <= best.value - 1)
                cutoff = best.value + shift - 1
                if self.bound > float("-inf"):
                    model.add(plain.objective >= int(np.ceil(self.bound - 1e-6)) - shift)
        else:
            model, svars = run.m.model.clone(), self.start_vars
            if best is not None:
                model.clear_hints()
                for var, v in zip(svars, best.start.tolist(), strict=True):
                    model.add_hint(var, v)
                if self.offset is not None:
                    cutoff = best.value + self.offset - 1
                    model.add(stage.expr <= cutoff)
        solver = cp_solver()
        _parameters(solver, run, workers, run.seed, budget)
        hybrid = self

        class Callback(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                start = np.array([self.value(v) for v in svars], dtype=np.int64)
                if hybrid.offset is None:
                    hybrid.offset = int(self.objective_value) - hybrid.tl.objective(start)
                    hybrid._raise_bound(hybrid.bound)
                pool.offer(start, "cpsat")
                if hybrid.done.is_set():
                    self.stop_search()

        def on_bound(b: float) -> None:
            b += shift
            self._raise_bound(b if cutoff is None else min(b, cutoff + 1))

        solver.best_bound_callback = on_bound
        status = self._watched(solver, model, Callback(), "cpsat-hybrid-watch", interrupt)
        with self.lock:
            self.cpsat_solves += 1
        run.clock.charge(float(solver.deterministic_time))
        if status == cp_model.INFEASIBLE:
            if cutoff is None:
                self.infeasible = True  # no schedule at all
                self.done.set()
            else:
                self._raise_bound(cutoff + 1)  # nothing below the pool's best: it is optimal
        elif status == cp_model.OPTIMAL:
            self._raise_bound(float(solver.objective_value) + shift)
        elif status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {model.validate()}")
        return status

    def _lns_step(self, budget: float | None, seed: int) -> None:
        """One neighbourhood of the pool's best schedule re-solved (:mod:`.schedlns`)."""
        run, stage, pool, tl = self.run, self.stage, self.pool, self.tl
        best = pool.best
        if best is None or self.offset is None:
            return
        kind, free = self.hoods.draw(best.start)
        plain = self.plain
        if plain is not None:
            model, sv = plain.model.clone(), plain.start
            model.add(plain.objective <= best.value - 1)
        else:
            model, sv = run.m.model.clone(), self.start_vars
            model.add(stage.expr <= best.value + self.offset - 1)
        for i, j in schedlns.flow_arcs(tl, best.start, free):
            model.add(sv[j] >= sv[i] + int(tl.dur[i]))
        if plain is not None:
            self._hint_plain(model, best.start)
        else:
            model.clear_hints()
            for var, v in zip(sv, best.start.tolist(), strict=True):
                model.add_hint(var, v)
        solver = cp_solver()
        limit = schedlns.SUB_SECONDS if budget is None else min(schedlns.SUB_SECONDS, budget)
        _parameters(solver, run, 1, seed, limit)
        status = solver.solve(model)
        run.clock.charge(float(solver.deterministic_time))
        won = False
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            start = np.array([solver.value(v) for v in sv], dtype=np.int64)
            won = pool.offer(start, "lns")
        self.hoods.learn(kind, status, won)
        self.lns_steps += 1

    def _own_slice(self, seed: int, deadline: float | None) -> float:
        """:data:`SLICE_OWN_STEPS` neighbourhoods of :mod:`.schedlns` from the island's best
        (the stage's when it is better), each re-solved by CP-SAT below it; what they find
        goes to the island. Returns the relative gain over the stage's best (as
        :meth:`_lns_slice`)."""
        run, pool, plain, search, tl = self.run, self.pool, self.plain, self.list, self.tl
        if plain is None or self.offset is None:
            return 0.0
        before = pool.best_value()
        won: list[int] = []
        for i in range(SLICE_OWN_STEPS):
            if self._finished(deadline):
                break
            best = search.hint(self.slice_rng, 1)
            if best is None or (pool.best is not None and pool.best.value < best.value):
                best = pool.best
            if best is None:
                break
            kind, free = self.own_hoods.draw(best.start)
            model, sv = plain.model.clone(), plain.start
            model.add(plain.objective <= best.value - 1)
            for a, b in schedlns.flow_arcs(tl, best.start, free):
                model.add(sv[b] >= sv[a] + int(tl.dur[a]))
            self._hint_plain(model, best.start)
            solver = cp_solver()
            limit = schedlns.SUB_SECONDS
            if deadline is not None:
                limit = min(limit, max(deadline - run.clock.elapsed(), 1e-3))
            _parameters(solver, run, 1, seed + i, limit)
            status = solver.solve(model)
            ok = False
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                start = np.array([solver.value(v) for v in sv], dtype=np.int64)
                ok = search.offer_found(start, "own-lns")
                if ok:
                    won.append(tl.objective(start))
            self.own_hoods.learn(kind, status, ok)
            self.lns_steps += 1
        self.lns_slices += 1
        return corealloc.gain(before, min(won)) if won else 0.0

    def _lns_slice(self, seed: int, deadline: float | None, top: int = 0) -> float:
        """CP-SAT's own neighbourhood search (``use_lns_only``, its neighbourhoods interleaved
        on one worker) on the plain model, from one of the pool's :data:`LNS_TOP` best
        schedules (drawn uniformly; the ``top`` best if given: the allocator asks for the best
        after a slice that improved; the pool's when it is ahead and :data:`SLICE_FROM_BETTER`)
        as a hint (:meth:`_hint_plain`: the starts only unless :data:`COMPLETE_HINT`), for
        :data:`LNS_DTIME` of deterministic time (more on large instances:
        :func:`.corealloc.scaled`); its solutions go to the pool. Returns by how much
        (relative) it improved the pool's best itself (0.0: not at all).

        Why not always the best: the list search has converged on it when a slice runs, and
        slices from the same schedule tend to end in the same basin; from the pool's near-best
        ones they reach better schedules (PSPLIB j6013_1, a deterministic proxy of this thread,
        seeds 0-3: 118, 113, 115, 113 against 118, 115, 115, 116; docs/benchmarks.md)."""
        run, pool, plain, search = self.run, self.pool, self.plain, self.list
        hint = search.hint(self.slice_rng, top or LNS_TOP)
        if hint is None:  # an island of its own without a schedule yet (say every list missed
            hint = pool.among_best(self.slice_rng, LNS_TOP)  # a deadline): the stage's pool
        elif SLICE_FROM_BETTER:
            best = pool.best_value()
            if best is not None and best < search.island_best_value():
                hint = pool.among_best(self.slice_rng, top or LNS_TOP)
        if plain is None or hint is None or self.offset is None:
            return 0.0
        if LNS_LONG:
            best = pool.best_value()
            if best is not None and best < hint.value:
                hint = pool.among_best(self.slice_rng, 1) or hint
        model = plain.model.clone()
        if CHAIN_COMPLETE and top == 1:
            self.tl.plain_hint(model, hint.start)
        else:
            self._hint_plain(model, hint.start)
        solver = cp_solver()
        _parameters(solver, run, 1, seed, None)
        prm = solver.parameters
        prm.interleave_search = True
        prm.use_lns_only = True
        if not LNS_LONG:
            prm.max_deterministic_time = corealloc.scaled(LNS_DTIME, self.tl.T)
        if SLICE_IGNORE:
            prm.ignore_subsolvers.extend(SLICE_IGNORE)
        if SLICE_LINEARIZATION >= 0:
            prm.linearization_level = SLICE_LINEARIZATION
        if SLICE_SUB_DTIME > 0:
            prm.lns_initial_deterministic_limit = SLICE_SUB_DTIME
        if deadline is not None:
            prm.max_time_in_seconds = max(deadline - run.clock.elapsed(), 1e-3)
        svars = plain.start
        before = pool.best_value()
        won: list[int] = []  # its own new bests (not the full search's, found meanwhile)
        tl = self.tl

        class Callback(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                start = np.array([self.value(v) for v in svars], dtype=np.int64)
                value = tl.objective(start)
                if search.offer_found(start, "cpsat-lns"):
                    won.append(value)
                mine[0] = min(mine[0], value)

            def behind(self) -> bool:
                """LNS_LONG: the stage's pool is ahead of the slice's own best (read by
                :meth:`_watched`, which then stops the slice: the next starts from it)."""
                best = pool.best_value()
                return LNS_LONG and best is not None and best < mine[0]

        mine = [hint.value]  # the slice's own best

        self._watched(solver, model, Callback(), "cpsat-lns-watch")
        self.lns_slices += 1
        return corealloc.gain(before, min(won)) if won else 0.0

    def _hint_plain(self, model: cp_model.CpModel, start: np.ndarray) -> None:
        """Hint a clone of the plain model with a schedule: every variable it fixes
        (:data:`COMPLETE_HINT`), or its starts only."""
        if COMPLETE_HINT:
            self.tl.plain_hint(model, start)
            return
        assert self.plain is not None
        model.clear_hints()
        for var, v in zip(self.plain.start, start.tolist(), strict=True):
            model.add_hint(var, v)

    def _watched(
        self,
        solver: cp_model.CpSolver,
        model: Any,
        callback: Any,
        name: str,
        interrupt: threading.Event | None = None,
    ) -> cp_model.CpSolverStatus:
        """``solver.solve(model, callback)``, stopped by a thread ``name`` once the other
        thread is done, the pool's best is proven, the run is asked to stop or ``interrupt``
        is set."""
        run, pool = self.run, self.pool
        stop_now = threading.Event()
        stopped = interrupt or threading.Event()
        also = getattr(callback, "behind", None)  # a slice's own reason to stop (LNS_LONG)

        def watch() -> None:
            while not stop_now.wait(WATCH_INTERVAL):
                if (
                    self.done.is_set()
                    or pool.proven()
                    or run.clock.stop_requested()
                    or stopped.is_set()
                    or (also is not None and also())
                ):
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, name=name, daemon=True)
        watcher.start()
        try:
            return solver.solve(model, callback)
        finally:
            stop_now.set()
            watcher.join()

    def _fixed(self, start: np.ndarray) -> tuple[Any, cp_model.CpSolver]:
        """The full model with every start fixed to ``start``, solved (propagation only)."""
        run = self.run
        model = run.m.model.clone()
        model.clear_hints()
        for var, v in zip(self.start_vars, start.tolist(), strict=True):
            model.add(var == v)
            model.add_hint(var, v)
        solver = cp_solver()
        _parameters(solver, run, 1, run.seed, COMPLETION_SECONDS)
        status = solver.solve(model)
        run.clock.charge(float(solver.deterministic_time))
        return status, solver

    def _take_plain(self) -> None:
        """Switch CP-SAT's searches to the timeline's plain model (:data:`PLAIN`) once a
        schedule of the timeline (the pool's best, or the serial schedule of a topological
        order) is checked against the full model: that check gives the offset between the two
        objectives, and the full model could only reject it for a constraint the timeline does
        not hold (then the full model it stays)."""
        self.plain_tried = True
        tl, pool = self.tl, self.pool
        best = pool.best
        start = best.start if best is not None else tl.decode(tl.topo)
        if start is None:
            return
        status, solver = self._fixed(start)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self._mismatch(None if status == cp_model.INFEASIBLE else self.offset)
            return
        offset = int(solver.value(self.stage.expr)) - tl.objective(start)
        if self.offset is not None and self.offset != offset:
            self._mismatch(None)  # the objectives disagree
            return
        if self.offset is None:
            self.offset = offset
            self._raise_bound(self.bound)
        model, starts, objective = tl.plain_model()
        self.plain = _Plain(model, starts, objective)
        pool.offer(start, "sgs")

    def _mismatch(self, offset: int | None) -> None:
        """The full model rejects (or values otherwise) a schedule of the timeline: it holds a
        constraint the timeline does not (say ``max_moves`` below the moves every plan makes).
        From here on CP-SAT alone searches the full model, with a pool of its own solutions
        only: the list search stops and the schedules it found are dropped, so that only a
        plan of the model can come out (or its proof that there is none)."""
        self.mismatch = True
        self.offset = offset
        fresh = Pool(self.tl)
        fresh.listeners.append(self._improved)
        self.pool = fresh

    # -- the two ways of running -----------------------------------------------------------

    def parallel(self, budget: float | None) -> None:
        """Two workers or more: CP-SAT in a thread (the full search, then neighbourhoods if it
        ends early), the list search in this one."""
        run = self.run
        deadline = None if budget is None else run.clock.elapsed() + budget

        def cpsat() -> None:
            try:
                left = None if deadline is None else deadline - run.clock.elapsed()
                restart = self.handover if HANDOVER == "restart" else None
                workers = CPSAT_WORKERS or run.workers - 1 + self._extra()
                if restart is None:
                    self._full(left, workers)
                else:
                    self._full(left, workers, interrupt=restart)
                if restart is not None and restart.is_set() and not self._finished(deadline):
                    left = None if deadline is None else deadline - run.clock.elapsed()
                    self._full(left, run.workers, cut=True)  # the list thread's core too
                k = 1
                while not self._finished(deadline):
                    left = None if deadline is None else deadline - run.clock.elapsed()
                    self._lns_step(left, run.seed + k)
                    k += 1
            except BaseException as exc:  # surfaced by search()
                run.error = run.error or exc
            finally:
                self.done.set()

        search = self.list
        if OWN_ISLAND and not self.mismatch:
            known = list(self.pool.elite)  # the plans known before (warm start, earlier stage)
            search.restart()
            self.own_island = True
            for item in known:
                search.offer(item.start, item.source)
        thread = threading.Thread(target=cpsat, name="cpsat-hybrid")
        thread.start()
        k = 0
        alloc = corealloc.Allocator(LNS_STALL, self.tl.T, run.clock.elapsed)  # what runs next
        self.last_improved = run.clock.elapsed()
        try:
            while not self._finished(deadline):
                if self.mismatch or self.handover.is_set():  # CP-SAT alone (see _mismatch)
                    self.done.wait(WATCH_INTERVAL)
                    continue
                if self._converged(alloc):
                    self.handed_at = run.clock.elapsed()
                    if HANDOVER == "restart":
                        self.handover.set()  # the CP-SAT thread restarts on both cores
                        continue
                    left = None if deadline is None else deadline - run.clock.elapsed()
                    self._full(left, max(1, run.workers - 1), cut=True)
                    continue
                long = LNS_LONG and k > 0  # once the lists stalled: the long search only
                if LNS_STALL and (long or alloc.next() == corealloc.LNS) and self.plain is not None:
                    k += 1
                    top = 1 if alloc.chained else 0  # after a win: on from its best
                    seed = run.seed + 1000 + k
                    if SLICE_OWN_STEPS:
                        alloc.sliced(self._own_slice(seed * 100, deadline))
                    else:
                        alloc.sliced(self._lns_slice(seed, deadline, top))
                    continue
                restarts, before = search.restarts, self.pool.best_value()
                won = search.step()
                gain = corealloc.gain(before, self.pool.best_value()) if won else 0.0
                alloc.listed(gain, won or search.restarts != restarts)
        finally:
            self.done.set()
            thread.join()

    def _extra(self) -> int:
        """The CP-SAT thread's workers beyond ``workers - 1`` (:data:`CPSAT_EXTRA`,
        :data:`CPSAT_EXTRA_DISJUNCTIVE`)."""
        if CPSAT_EXTRA_DISJUNCTIVE > CPSAT_EXTRA and disjunctive(self.tl):
            return CPSAT_EXTRA_DISJUNCTIVE
        return CPSAT_EXTRA

    def _converged(self, alloc: corealloc.Allocator) -> bool:
        """The list thread hands its core over now (:data:`HANDOVER`; once only)."""
        if not HANDOVER or self.handed_at is not None or self.plain is None:
            return False
        quiet = self.run.clock.elapsed() - self.last_improved >= HANDOVER_QUIET
        return quiet and alloc.converged(HANDOVER_QUIET)

    def turns(self, budget: float | None) -> None:
        """One worker (or deterministic): CP-SAT's full search for :data:`PROOF_SHARE` of the
        budget, then neighbourhoods and list steps by turns, each turn bounded in
        (deterministic) time or steps, so that deterministic runs repeat."""
        run = self.run
        used0 = run.clock.used()

        def left() -> float | None:
            if budget is None:
                return None
            return budget - (run.clock.used() - used0)

        first = None if budget is None else PROOF_SHARE * budget
        self._full(first, run.workers)
        k = 1
        before = dict(self.pool.wins)
        while not self.done.is_set() and not self.pool.proven() and run.can_go_on():
            rest = left()
            if rest is not None and rest <= 1e-3:
                break
            turn = SLICE_SECONDS if rest is None else min(SLICE_SECONDS, rest)
            spent = run.clock.det_used
            while run.clock.det_used - spent < turn and not self.pool.proven():
                self._lns_step(turn - (run.clock.det_used - spent), run.seed + k)
                k += 1
                if not run.clock.deterministic and run.clock.elapsed() - used0 >= (
                    budget or float("inf")
                ):
                    break
                if run.clock.stop_requested():
                    break
            for _ in range(LIST_STEPS):
                if self.mismatch or self.pool.proven() or run.clock.stop_requested():
                    break
                self.list.step()
            if run.clock.deterministic:
                run.clock.charge(turn)  # the list search's turn counts as much
            if budget is None and k > 200 and self.pool.wins == before:
                break  # no limit: stop once neither search improves
            before = dict(self.pool.wins)

    # -- the result ------------------------------------------------------------------------

    def complete(self) -> tuple[Any, Any]:
        """The best schedule as a full solution of the model (see the module docstring)."""
        run, stage, pool = self.run, self.stage, self.pool
        if self.infeasible:
            return cp_model.INFEASIBLE, None
        best = pool.best
        if best is None:
            return cp_model.UNKNOWN, None
        status, solver = self._fixed(best.start)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            why = solver.status_name(status)
            raise RuntimeError(f"scheduling search: the model rejects its best schedule ({why})")
        run.values = [int(v) for v in solver.response_proto.solution]
        run.plan = run.m.plan_from(solver.value)
        value = int(solver.value(stage.expr))
        proven = self.bound >= value - 1e-6
        run.searches[stage.name] = {
            "list_steps": self.list.steps,
            "cpsat_solves": self.cpsat_solves,
            "model": "plain" if self.plain is not None else "full",
            "lns_steps": self.lns_steps,
            "lns_slices": self.lns_slices,
            "list_restarts": self.list.restarts - int(self.own_island),
            "handover": None if self.handed_at is None else round(self.handed_at, 2),
            "lns": self.hoods.describe(),
            "improvements": dict(pool.wins),
        }
        bound = float(value) if proven else max(self.bound, 0.0)
        found = Found(solver, bound)
        return (cp_model.OPTIMAL if proven else cp_model.FEASIBLE), found


def _parameters(
    solver: cp_model.CpSolver, run: _Run, workers: int, seed: int, budget: float | None
) -> None:
    prm = solver.parameters
    prm.num_workers = max(1, workers)
    prm.random_seed = seed
    prm.log_search_progress = False
    prm.catch_sigint_signal = False
    if budget is not None:
        if run.clock.deterministic:
            prm.max_deterministic_time = max(budget, 1e-3)
        else:
            prm.max_time_in_seconds = max(budget, 1e-3)


def disjunctive(tl: Timeline) -> bool:
    """Every channel (resource of a node) is disjunctive: no two of the intervals that use it
    fit in its capacity together (job shops, open shops); False on cumulative resources (RCPSP)
    and without any channel."""
    demands: list[list[int]] = [[] for _ in range(tl.G)]
    for ch, q in zip(tl.ch, tl.q, strict=True):
        for g, d in zip(ch.tolist(), q.tolist(), strict=True):
            demands[g].append(d)
    if not any(demands):
        return False
    for g, qs in enumerate(demands):
        if len(qs) >= 2:
            a, b = sorted(qs)[:2]
            if a + b <= int(tl.cap[g]):
                return False
    return True


def _starts_of(tl: Timeline, plan: dict[int, list[tuple[int, int | None]]]) -> np.ndarray | None:
    """The timeline starts of a plan (None unless every replica has a start)."""
    at: dict[tuple[int, int], int] = {}
    for t, reps in plan.items():
        for n, s in reps:
            if s is None:
                return None
            at[t, n] = s
    try:
        return np.array([at[k] for k in tl.pairs], dtype=np.int64)
    except KeyError:
        return None
