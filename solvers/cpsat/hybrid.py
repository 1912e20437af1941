"""Scheduling stages: CP-SAT's full search beside a schedule-generation search, on one pool.

Why
---
On RCPSP instances that CP-SAT does not prove in seconds (PSPLIB j60's hard groups, j120), one
CP-SAT search on 2 workers improves slowly: its own neighbourhood search gets a share of one
thread (about 20 sub-solves in 10 s on j60), and the search that proves things finds schedules
late. The heuristics literature reaches better makespans in that time with activity lists,
serial schedule generation and forward-backward improvement. This module runs both on the
pure scheduling stages of :mod:`.solve` (every task on fixed nodes: :mod:`.timeline`), sharing
one pool of schedules (:mod:`.listsearch`).

When (:func:`plan_for`)
----------------------
The model is pure scheduling, its timeline fits in memory, the stage's objective is
``makespan``, ``tardiness`` or a weighted sum of those and of terms that are constant when every
task is fixed (``unplaced``, ``cost``, ``nodes``, ``moves``), and every earlier lexicographic term
is such a constant term. Anything else is solved by CP-SAT alone, as before.

How (:func:`search`)
--------------------
1. *Proof.* CP-SAT on the full model, as :meth:`.solve._Run.solve` runs it (all workers), for
   :data:`PROOF_SHARE` of the stage's budget (at most :data:`PROOF_SECONDS`): most PSPLIB
   instances up to 60 activities are proved optimal here, and the search ends.
2. *Hybrid.* The pool starts from that solve's schedule (and the warm start). Then, until the
   budget is spent, the pool is proved optimal or ``stop`` is set:

   * CP-SAT searches the full model on ``workers - 1`` workers, hinted with the pool's best
     schedule and cut off at one unit below it (``objective <= best - 1``): every solution it
     finds is offered to the pool, its bound raises the pool's, and a cut-off model proved
     infeasible proves the pool's best optimal. When the list search improves the best, the
     CP-SAT search is restarted with the new hint and cut-off (at most every
     :data:`RESTART_SECONDS`).
   * The list search (:class:`.listsearch.ListSearch`) runs in the calling thread: children of
     the pool's elite, decoded and justified, offered to the pool.

   With one worker (or ``deterministic``) the two take turns instead: CP-SAT for a slice of
   :data:`SLICE_SECONDS` (deterministic time when deterministic), then
   :data:`LIST_STEPS` list steps, so that runs with a deterministic limit are reproducible.
3. *Completion.* The best schedule's starts are fixed in a copy of the model and CP-SAT fills
   in every other variable (the objective's auxiliaries): the stage gets a solution of the
   model, so the lexicographic driver, the hints of later stages and the plan work as for a
   plain solve. A schedule the model rejects is never returned.

The status is ``optimal`` when CP-SAT proved the stage (in the proof phase, or by the cut-off)
and ``feasible`` otherwise; the bound is CP-SAT's best.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

from .listsearch import ListSearch, Pool, Schedule
from .scaling import weight_multipliers
from .timeline import CONSTANT_TERMS, REGULAR_TERMS, Timeline

if TYPE_CHECKING:
    from .solve import _Run, _Stage

PROOF_SHARE = 0.15  # share of the stage budget for the first, proving CP-SAT solve
PROOF_SECONDS = 2.0  # ... at most
RESTART_SECONDS = 1.0  # CP-SAT restarts with a better hint at most this often
SLICE_SECONDS = 0.5  # one worker: CP-SAT's turn (deterministic time when deterministic)
LIST_STEPS = 100  # one worker: the list search's turn
COMPLETION_SECONDS = 5.0  # filling in a fixed schedule (propagation only: milliseconds)
WATCH_INTERVAL = 0.02


@dataclass
class Found:
    """What :meth:`.solve._Run.run_stage` reads from a solve: values and the bound."""

    solver: cp_model.CpSolver
    bound: float

    def value(self, expr: Any) -> int:
        return int(self.solver.value(expr))

    @property
    def best_objective_bound(self) -> float:
        return self.bound


@dataclass
class Plan:
    """The hybrid search of one stage (see :func:`plan_for`)."""

    timeline: Timeline
    weights: dict[str, int]
    stats: dict[str, Any] = field(default_factory=dict)


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
    tl = Timeline.build(m)
    if tl is None:
        return None
    tl.set_objective(weights)
    return Plan(tl, weights)


def search(run: _Run, stage: _Stage, plan: Plan, budget: float | None) -> tuple[Any, Any]:
    """Solve the stage (see the module docstring); returns (status, solver-like) as
    :meth:`.solve._Run.solve` does."""
    began = run.det_used if run.deterministic else run.elapsed()
    proof = None if budget is None else min(PROOF_SECONDS, PROOF_SHARE * budget)
    status, solver = run.solve(proof, stage.unit)
    if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
        return status, solver
    if not run.can_go_on():
        return status, solver
    spent = (run.det_used if run.deterministic else run.elapsed()) - began
    left = None if budget is None else budget - spent
    if left is not None and left <= 0.05:
        return status, solver
    hybrid = _Hybrid(run, stage, plan, status, solver)
    return hybrid.go(left)


class _Hybrid:
    def __init__(self, run: _Run, stage: _Stage, plan: Plan, status: Any, solver: Any) -> None:
        self.run = run
        self.stage = stage
        self.tl = tl = plan.timeline
        self.plan = plan
        self.pool = Pool(tl)
        self.offset = 0  # stage value - timeline value (the constant terms)
        self.bound: float = float("-inf")  # CP-SAT's best bound, stage units
        self.proven = False
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.restarts = 0
        self.cpsat_solves = 0
        m = run.m
        self.start_vars = [m.start[k] for k in tl.pairs]
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            start = np.array([solver.value(v) for v in self.start_vars], dtype=np.int64)
            value = int(solver.value(stage.expr))
            self.offset = value - tl.objective(start)
            self.bound = float(solver.best_objective_bound)
            self.pool.offer(start, "cpsat")
        if run.warm is not None:
            warm = _starts_of(tl, run.warm)
            if warm is not None:
                self.pool.offer(warm, "warm")
        self.pool.listeners.append(self._improved)
        self.list = ListSearch(tl, self.pool, run.seed)

    # -- bookkeeping -----------------------------------------------------------------------

    def _improved(self, item: Schedule) -> None:
        with self.lock:
            bound = None if self.bound == float("-inf") else self.bound / float(self.stage.unit)
            value = (item.value + self.offset) / float(self.stage.unit)
            try:
                self.run.record(value, bound)
            except Exception as exc:  # a failing progress callback ends the search
                self.run.error = self.run.error or exc
                self.done.set()

    def _raise_bound(self, bound: float) -> None:
        with self.lock:
            if bound > self.bound:
                self.bound = bound
        self.pool.raise_bound(int(np.ceil(bound - 1e-6)) - self.offset)

    def _finished(self, deadline: float | None) -> bool:
        run = self.run
        if self.done.is_set() or self.pool.proven() or not run.can_go_on():
            return True
        return deadline is not None and not run.deterministic and run.elapsed() >= deadline

    # -- CP-SAT ----------------------------------------------------------------------------

    def _cpsat(self, budget: float | None, workers: int, seed: int) -> None:
        """One CP-SAT search of the full model below the pool's best (see the docstring)."""
        run, stage, pool = self.run, self.stage, self.pool
        best = pool.best
        model = run.m.model.clone()
        cutoff = None
        if best is not None:
            cutoff = best.value + self.offset - 1
            model.add(stage.expr <= cutoff)
            model.clear_hints()
            for var, v in zip(self.start_vars, best.start.tolist(), strict=True):
                model.add_hint(var, v)
        solver = cp_model.CpSolver()
        _parameters(solver, run, workers, seed, budget)
        hybrid = self

        class Callback(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                start = np.array([self.value(v) for v in hybrid.start_vars], dtype=np.int64)
                pool.offer(start, "cpsat")
                if hybrid.done.is_set():
                    self.stop_search()

        solver.best_bound_callback = lambda b: self._raise_bound(
            b if cutoff is None else min(b, cutoff + 1)
        )
        version = pool.version
        began = time.perf_counter()
        stop_now = threading.Event()

        def watch() -> None:
            while not stop_now.wait(WATCH_INTERVAL):
                if (
                    self.done.is_set()
                    or pool.proven()
                    or (run.stop is not None and run.stop.is_set())
                ):
                    solver.stop_search()
                    return
                if (
                    not run.deterministic
                    and pool.version != version
                    and pool.wins.get("list", 0)
                    and time.perf_counter() - began >= RESTART_SECONDS
                ):
                    self.restarts += 1
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, name="cpsat-hybrid-watch", daemon=True)
        watcher.start()
        try:
            status = solver.solve(model, Callback())
        finally:
            stop_now.set()
            watcher.join()
        self.cpsat_solves += 1
        run.det_used += float(solver.deterministic_time)
        if status == cp_model.INFEASIBLE and cutoff is not None:
            self._raise_bound(cutoff + 1)  # nothing below the pool's best: it is optimal
        elif status == cp_model.OPTIMAL:
            self._raise_bound(float(solver.objective_value))
        elif status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {model.validate()}")

    def _cpsat_loop(self, deadline: float | None, workers: int) -> None:
        try:
            k = 0
            while not self._finished(deadline):
                left = None if deadline is None else deadline - self.run.elapsed()
                self._cpsat(left, workers, self.run.seed + k)
                k += 1
        except BaseException as exc:  # surfaced by the caller
            self.run.error = self.run.error or exc
        finally:
            self.done.set()

    # -- the search ------------------------------------------------------------------------

    def go(self, budget: float | None) -> tuple[Any, Any]:
        run = self.run
        if run.workers >= 2 and not run.deterministic:
            deadline = None if budget is None else run.elapsed() + budget
            cp = threading.Thread(
                target=self._cpsat_loop, args=(deadline, run.workers - 1), name="cpsat-hybrid"
            )
            cp.start()
            try:
                while not self._finished(deadline):
                    self.list.step()
            finally:
                self.done.set()
                cp.join()
        else:
            self._take_turns(budget)
        if run.error is not None:
            raise run.error
        return self._complete()

    def _take_turns(self, budget: float | None) -> None:
        """One worker: CP-SAT and the list search alternate (reproducible when
        deterministic: every turn is bounded in deterministic time or in steps)."""
        run = self.run
        used0 = run.det_used if run.deterministic else run.elapsed()
        k = 0
        while not self.pool.proven() and run.can_go_on():
            used = (run.det_used if run.deterministic else run.elapsed()) - used0
            left = None if budget is None else budget - used
            if left is not None and left <= 1e-3:
                break
            if budget is None and k >= 20 and not self.pool.wins:
                break  # no limit: stop once neither search improves
            turn = SLICE_SECONDS if left is None else min(SLICE_SECONDS, left)
            self._cpsat(turn, 1, run.seed + k)
            for _ in range(LIST_STEPS):
                if self.pool.proven() or (run.stop is not None and run.stop.is_set()):
                    break
                self.list.step()
            if run.deterministic:
                run.det_used += turn  # the list search's turn counts as a slice
            k += 1

    def _complete(self) -> tuple[Any, Any]:
        """The best schedule as a full solution of the model (see the docstring)."""
        run, stage, pool = self.run, self.stage, self.pool
        best = pool.best
        if best is None:
            return cp_model.UNKNOWN, None
        model = run.m.model.clone()
        model.clear_hints()
        for var, v in zip(self.start_vars, best.start.tolist(), strict=True):
            model.add(var == v)
            model.add_hint(var, v)
        solver = cp_model.CpSolver()
        _parameters(solver, run, 1, run.seed, COMPLETION_SECONDS)
        status = solver.solve(model)
        run.det_used += float(solver.deterministic_time)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            why = solver.status_name(status)
            raise RuntimeError(f"scheduling search: the model rejects its best schedule ({why})")
        run.values = [int(v) for v in solver.response_proto.solution]
        run.plan = run.m.plan_from(solver.value)
        value = int(solver.value(stage.expr))
        bound = max(self.bound, float("-inf"))
        proven = pool.proven() or bound >= value
        run.searches[stage.name] = {
            "list_steps": self.list.steps,
            "cpsat_solves": self.cpsat_solves,
            "restarts": self.restarts,
            "improvements": dict(pool.wins),
        }
        found = Found(solver, float(value) if proven else (bound if bound > float("-inf") else 0.0))
        run.close(value / float(stage.unit), found.bound / float(stage.unit))
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
        if run.deterministic:
            prm.max_deterministic_time = max(budget, 1e-3)
        else:
            prm.max_time_in_seconds = max(budget, 1e-3)


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
