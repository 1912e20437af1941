"""The LNS at the scale of a Kubernetes cluster's limits (150,000 tasks x 5,000 nodes): only
what grows with the plan, nothing that grows with the full model.

Why
---
The LNS of :mod:`.` (:func:`..lns.solve`) prepares its search with work proportional to the
full model's (task, allowed node) pairs: the aggregated LP bound (:mod:`..bounds`), the
constructions that compete for the start plan (:mod:`..construct`: first fit over
cost-efficient nodes, LP rounding) and the greedy with a second policy. At 150,000 tasks x
5,000 nodes (about 600 million pairs) that preparation had not finished after 7 minutes.
Above :data:`SCALE_PAIRS` pairs :func:`.route.route` sends placement problems here instead
(``"scale"``), for ``-s cpsat`` and so for ``-s auto``.

What it does
------------
1. **The start is the greedy's plan** (``-s greedy``'s ``least-loaded``, through
   :func:`taskalloc.solvers.baseline.greedy_plan`, so that the seam's floor reuses it), or
   the ``hint`` when the evaluator accepts it and it is better (a hint that leaves tasks
   unplaced, such as a part's share of the whole problem's greedy plan under
   ``--partitions``, is first completed: what it leaves goes back where the greedy's plan of
   the problem has it, when that plan is known in this process (the driver of
   ``--partitions`` ran it) and it still fits (:func:`..construct.restore`; required tasks
   even by moving others, :func:`..construct.force_restore`), the rest by
   :func:`..construct.efficient_first_fit` over the room it leaves). The greedy runs inside the
   time limit and stops on ``stop``. The search only ever accepts plans that are no worse, so
   the result is never worse than the greedy's: the floor holds without a second evaluation.
2. **Fleet-wide moves first** (:mod:`..quick`: empty a node into the room of the others,
   move a node's tasks to a cheaper empty node, split a costly one), scanning the used nodes
   worst first while they keep improving the plan (at most :data:`QUICK_FIRST_SHARE` of the
   time): the greedy spreads tasks over every node, and at this size closing nodes one by one
   is where most of the gain is, fast (generated 150k x 5k: 31,827 to 26,250 in the first
   pass, under 4 s of CPU).
3. **Then the LNS proper** (:class:`.search.Search`: CP-SAT sub-models of a few nodes and
   their tasks, ``workers`` of them at once), with fleet-wide moves between the steps given
   time in proportion to what each recently gained per second (between
   :data:`QUICK_MIN_RATIO` and :data:`QUICK_MAX_RATIO` of the step's time, and no more than
   one scan of the used nodes, :data:`QUICK_ONCE`): the sub-models make room that the moves
   then use.
4. **The bound** is the trivial one only (``unplaced`` of tasks with too few candidates): no
   LP at this size, so ``cost`` is reported as not proven.
5. **The plan is checked** by the evaluator's constraint checks before it is returned (time
   for that is kept from the limit); a plan that failed them (a modelling error) would be
   replaced by the start plan, never returned.

``time_limit`` bounds all of it, the greedy included. ``deterministic``: the greedy without a
limit, one full scan of fleet-wide moves, then a fixed number of sub-solves limited in
CP-SAT's deterministic time (as the LNS does).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem
from taskalloc.problems.wording import noun, plural

from ... import baseline
from ...clock import Stopped, finishing, preparing
from ...flat import Flat, Plan
from ...result import Result, Results
from ...scaling import choose_scales
from ..bounds import Bounds
from .route import SCALE_PAIRS
from .search import Progress, Search
from .settings import DET_SUB_SECONDS, MIN_SUB_SECONDS, STALL_STEPS, SUB_SECONDS

NAME = "cpsat"

__all__ = ["SCALE_PAIRS", "ScaleSearch", "solve"]

#: the first pass of fleet-wide moves takes at most this share of the time left
QUICK_FIRST_SHARE = 0.5
#: ... and ends when a round of :data:`QUICK_ROUND` seconds keeps fewer than this many moves
QUICK_FIRST_MIN_WINS = 20
QUICK_ROUND = 1.0
#: fleet-wide moves run in slices of at most this many seconds, polling ``stop`` between them
QUICK_SLICE = 0.2
#: between two LNS steps, fleet-wide moves get this share of the step's time, scaled by how
#: much each gained per second lately, within these bounds
QUICK_MIN_RATIO = 0.25
QUICK_MAX_RATIO = 4.0
#: preparing the search (scales, flat view, start plan, trivial bound) takes about a third of
#: the greedy's time (150k x 5k: 10.3 s after 33.2 s, 11.1 after 35.2, at load 10-11); with
#: less than this share of it left after the greedy, the greedy's plan is the result
PREPARE_SHARE = 0.5
#: between two LNS steps, fleet-wide moves try each used node at most once, whatever their
#: share of the step's time: the step changed a few nodes, and a second scan of the same plan
#: keeps next to nothing. On a small fleet (a part of ``--partitions``) one scan takes a
#: fraction of that share, and the first pass's gain rate holds the share at its maximum: at
#: 150,000 x 5,000, K = 16, a part (9,700 tasks x 312 nodes, 20 s, load 4-6) spent 14-16 s of
#: its 20 in them (30,000 tries, 2-9 moves kept) and ended at 1,402-1,469 in three runs; with
#: one scan a call, 5-6 s and 1,365 (parts 5 and 9 alike); the K = 16 curve 22,018.06 against
#: 23,142.46, K = 8 22,529.31 against 23,945.59, K = 4 24,097.90 against 24,361.47
#: (docs/benchmarks.md). Where one scan outlasts the share, nothing changes
QUICK_ONCE = True
#: the seconds of a sub-solve (the adaptive LNS starts from this, then follows its win rate)
SCALE_SUB_SECONDS = 0.5
#: the start's name when it is the hint
HINT = "hint"


class ScaleSearch(Search):
    """:class:`.search.Search` with the time of fleet-wide moves set by what they gain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_seconds = 0.0  # wall time of the last step
        self.step_gain = 0.0  # per second, exponentially averaged
        self.quick_gain = 0.0
        self.first_pass = {"seconds": 0.0, "moves": 0}

    def _cost_key(self) -> float:
        """One number that falls as the plan improves (the objective key's last entry, after
        the earlier ones: they are the same in every step here once they reach 0)."""
        key = self.key(self.plan.terms)
        return float(key[-1]) + sum(float(k) * 1e12 for k in key[:-1])

    def step(self, pool: Any) -> None:
        before = self._cost_key()
        began = time.perf_counter()
        super().step(pool)
        self.step_seconds = time.perf_counter() - began
        gain = max(0.0, before - self._cost_key()) / max(self.step_seconds, 1e-3)
        self.step_gain = 0.8 * self.step_gain + 0.2 * gain

    def quick_moves(self, first: bool = False) -> None:
        if self.quick is None or not self.can_go_on():
            return
        if self.deterministic:  # node counts, not seconds: as the LNS does
            super().quick_moves(first)
            return
        if first:
            self._first_pass()
            return
        ratio = QUICK_MIN_RATIO
        if self.step_gain > 0:
            ratio = self.quick_gain / self.step_gain
        elif self.quick_gain > 0:
            ratio = QUICK_MAX_RATIO
        ratio = min(QUICK_MAX_RATIO, max(QUICK_MIN_RATIO, ratio))
        budget = ratio * max(self.step_seconds, 0.05)
        left = self.remaining()
        if left is not None:
            budget = min(budget, max(0.0, left - self.reserve))
        before = self._cost_key()
        began = time.perf_counter()
        won = self._quick_for(budget, once=QUICK_ONCE)
        spent = max(time.perf_counter() - began, 1e-3)
        self.quick_gain = 0.8 * self.quick_gain + 0.2 * max(0.0, before - self._cost_key()) / spent
        self._won(won)

    def _quick_for(self, budget: float, once: bool = False) -> int:
        """Fleet-wide moves for ``budget`` seconds, in slices that poll ``stop`` (a stopped
        run has about a second to return its plan); ``once``: and no further than one scan of
        the used nodes (:data:`QUICK_ONCE`)."""
        quick = self.quick
        assert quick is not None
        began = time.perf_counter()
        won = 0
        scan = sum(1 for on in self.plan.on if on) if once else None
        first = quick.scanned
        while not self.clock.stop_requested():
            left = budget - (time.perf_counter() - began)
            nodes = None if scan is None else scan - (quick.scanned - first)
            if left <= 0 or (nodes is not None and nodes <= 0):
                break
            won += quick.run(min(QUICK_SLICE, left), nodes)
        return won

    def _first_pass(self) -> None:
        """Fleet-wide moves while a slice keeps at least :data:`QUICK_FIRST_MIN_WINS`."""
        assert self.quick is not None
        left = self.remaining()
        cap = None if left is None else QUICK_FIRST_SHARE * max(0.0, left - self.reserve)
        began = time.perf_counter()
        before = self._cost_key()
        while self.can_go_on():
            spent = time.perf_counter() - began
            if cap is not None and spent >= cap:
                break
            budget = QUICK_ROUND if cap is None else min(QUICK_ROUND, cap - spent)
            won = self._quick_for(budget)
            self.first_pass["moves"] += won
            self._won(won)
            if won < QUICK_FIRST_MIN_WINS:
                break
        spent = max(time.perf_counter() - began, 1e-3)
        self.first_pass["seconds"] = round(spent, 2)
        self.quick_gain = max(0.0, before - self._cost_key()) / spent

    def _won(self, won: int) -> None:
        if won:
            self.version += 1  # the incumbent changed (the packing moves restart from it)
            self.improvements += won
            self.last_win = self.steps
            self.check_proven()
            self.record()


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
    sub_seconds: float | None = None,
    floor: bool = True,
) -> Result:
    """Solve a huge placement problem from the greedy's plan (see the module docstring).

    ``floor=False`` (the parts of ``--partitions``, whose floor is the whole problem's greedy
    plan, kept by the driver): a hint the evaluator accepts (unplaced required tasks aside) is
    the start, completed by first fit, and the greedy does not run (at 75,000 tasks x 2,500
    nodes it costs seconds of the part's time); the result is marked
    ``options["floor"] = "caller"``, which the seam's floor
    (:func:`taskalloc.solvers.baseline.no_worse`) leaves to the caller."""
    result = Results.start(
        NAME,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        search="lns at scale",
    )
    t0, workers, seed, options = result.t0, result.workers, result.seed, result.options
    greedy_limit = None if deterministic else time_limit
    stages: dict[str, float] = {}
    options["stage_seconds"] = stages
    # a run stopped before it starts still ends with its start plan (the engines' promise):
    # the greedy then runs whole; a stop during it ends it with what it placed
    greedy_stop = None if stop is not None and stop.is_set() else stop
    clean_hint: bool | None = None
    if not floor and hint is not None:
        from .start import violations_of

        # unplaced required tasks aside (the search inserts those first): a plan of the
        # problem otherwise
        clean_hint = all(v.kind == "required" for v in violations_of(problem, hint))
    if clean_hint:
        options["floor"] = "caller"
        base = baseline.Baseline(
            problem,
            HINT,
            Result(HINT, Status.FEASIBLE, list(hint or []), 0.0, seed=seed),
            True,
        )
    else:
        # seconds at this size, polling nothing but `stop` between tasks
        base = baseline.greedy_plan(
            problem, baseline.DEFAULT_POLICY, greedy_limit, stop=greedy_stop
        )
    stages["greedy"] = round(time.perf_counter() - t0, 2)

    def greedy_only(why: str) -> Result:
        """The greedy's plan, all there is when the run ends before the search."""
        finishing(stop)
        out = result(
            Status.FEASIBLE if base.usable else Status.UNKNOWN,
            list(base.result.assignments),
            "; ".join(
                [f"{why}: the greedy's plan"]
                + ([base.result.message] if base.result.message else [])
            ),
        )
        out.options["baseline"] = base.policy  # it is the floor: no second evaluation
        return out

    if stop is not None and stop.is_set() and not base.complete:
        return greedy_only("stopped on request during the greedy")  # with what it placed
    left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
    if not deterministic and left is not None and left < PREPARE_SHARE * stages["greedy"]:
        # preparing the search would end past the limit: -t bounds the whole run
        return greedy_only("no time left for the search after the greedy")
    if sub_seconds is None:
        adapt = True
        sub_seconds = DET_SUB_SECONDS if deterministic else SCALE_SUB_SECONDS
        if time_limit is not None and not deterministic:
            sub_seconds = min(SUB_SECONDS, max(MIN_SUB_SECONDS, min(sub_seconds, time_limit / 120)))
    else:
        adapt = False
    try:
        with preparing(stop):  # seconds at this size, polling nothing
            scales = choose_scales(problem)
            options["scales"] = scales.describe()
            flat = Flat(problem, scales)
            measured = time.perf_counter()
            start = Plan.from_assignments(flat, base.result.assignments)
            # the evaluator's check of the final plan costs about what reading a plan does
            reserve = 1.5 * (time.perf_counter() - measured) + 0.05
            source = HINT if base.policy == HINT else f"greedy {base.policy}"
            if hint is not None:
                from ..construct import efficient_first_fit
                from .start import violations_of

                if clean_hint is None:
                    clean_hint = not violations_of(problem, hint)
                if clean_hint:
                    # a partial hint (a part's share of the whole problem's greedy plan, the
                    # coalesced plan of --partitions) completed: first what the greedy's plan
                    # of this problem, when known here (the driver of --partitions ran it),
                    # places where it still fits, then first fit with ejection
                    other = Plan.from_assignments(flat, hint)
                    if any(not ns for ns in other.nodes):
                        other, options["restored"] = _restored(problem, flat, other)
                        if options["restored"] is None:
                            del options["restored"]  # no greedy plan known here
                    if any(not ns for ns in other.nodes):
                        other = efficient_first_fit(flat, other)
                    if _key(problem, flat, other) < _key(problem, flat, start):
                        start, source = other, HINT
            bounds = Bounds(flat, problem.objective.active(), problem.objective)
            search = ScaleSearch(
                flat,
                start,
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
    except Stopped:
        return greedy_only("stopped on request while the search was being prepared")
    options["warm_start"] = source
    search.adapt_time = adapt
    search.rounded = True  # no LP here: nothing to round
    search.reserve = reserve
    began = time.perf_counter()
    stages["prepare"] = round(began - t0 - stages["greedy"], 2)
    search.run()
    stages["search"] = round(time.perf_counter() - began, 2)
    options["lns"] = {k.name: k.describe() for k in search.kinds}
    if search.quick is not None:
        options["lns"]["quick"] = {**search.quick.describe(), "first_pass": search.first_pass}
    return _finish(problem, flat, search, start, source, base, result)


def _restored(problem: Problem, flat: Flat, plan: Plan) -> tuple[Plan, int | None]:
    """``plan`` with what it leaves unplaced put back where the greedy's plan of ``problem``
    has it (:func:`..construct.restore`), when that plan is known in this process (cached by
    :func:`taskalloc.solvers.baseline.greedy_plan`; never run here); how many tasks were
    (None: no greedy plan known)."""
    from ..construct import force_restore, restore

    known = baseline.known(problem, baseline.DEFAULT_POLICY)
    if known is None or not known.usable:
        return plan, None
    ref = Plan.from_assignments(flat, known.result.assignments)
    plan, count = restore(flat, plan, ref)
    if plan.terms["violation"] > 0:
        # must-place tasks whose room others took: put back all the same, the others placed
        # again (kept only when fewer must-place replicas are left out)
        forced, more = force_restore(flat, plan, ref)
        if more and forced.terms["violation"] < plan.terms["violation"]:
            plan, count = forced, count + more
    return plan, count


def _key(problem: Problem, flat: Flat, plan: Plan) -> tuple[float, ...]:
    from .start import _start_key

    return _start_key(problem, flat, plan)


def _finish(
    problem: Problem,
    flat: Flat,
    search: ScaleSearch,
    start: Plan,
    source: str,
    base: baseline.Baseline,
    result: Results,
) -> Result:
    from .start import violations_of

    finishing(search.stop)  # the search is over: the plan is being made (see clock.Stop)
    plan = search.plan
    began = time.perf_counter()
    assignments = plan.assignments()
    notes = list(flat.scales.notes)
    broken = plan is not start and bool(violations_of(problem, assignments))
    result.options["stage_seconds"]["check"] = round(time.perf_counter() - began, 2)
    if broken:
        # a modelling error: never hand out such a plan; the start passed the same checks
        notes.append("the search's plan broke a constraint (a bug: please report it)")
        plan, assignments = start, start.assignments()
    notes.append(
        f"LNS at scale: {plural(search.steps, 'sub-solve')}, "
        f"{plural(search.improvements, 'improvement')} from {source}"
    )
    if search.stopped:
        notes.append("stopped on request")
    elif search.timed_out:
        notes.append("time limit reached")
    elif search.stalled:
        notes.append(f"no improvement in {STALL_STEPS} sub-solves")
    notes.append("no LP bound at this size")
    if plan.terms["violation"] > 0:
        missing = [problem.tasks[t].id for t in range(flat.T) if flat.must[t] and not plan.nodes[t]]
        names = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        return result(
            Status.UNKNOWN,
            assignments,
            f"no plan found: could not place required {noun(len(missing), 'task')} "
            f"{names}; " + "; ".join(notes),
            trajectory=search.trajectory,
        )
    exact = flat.scales.feasibility_exact
    bounds = search.bounds
    bound = bounds.report(plan.terms) if exact else {}
    values = {t: search.real(t, plan.terms[t]) for t in search.order}
    summary = bounds.summary(plan.terms, values)
    proven = exact and bounds.proves(plan.terms) and not search.stopped
    out = result(
        Status.OPTIMAL if proven else Status.FEASIBLE,
        assignments,
        "; ".join([summary, *notes]),
        bound=bound or None,
        trajectory=search.trajectory,
    )
    scales = flat.scales
    if scales.feasibility_exact and scales.cost_exact and scales.priority_exact and base.complete:
        # the search started from the greedy's plan (or a better hint) and kept only plans no
        # worse: the floor holds, no second evaluation needed (baseline.no_worse)
        floor = start if source.startswith("greedy") else None
        if floor is None:
            floor = Plan.from_assignments(flat, base.result.assignments)
        if search.key(plan.terms) <= search.key(floor.terms):
            out.options["baseline"] = base.policy
    return out


def complete(problem: Problem, assignments: list[Assignment]) -> tuple[list[Assignment], int]:
    """``assignments`` completed as the LNS at scale completes a partial hint, without its
    search: what they leave unplaced put back where the greedy's plan has it when known
    (:func:`_restored`), then first fit with ejection. Kept only when better (fewer
    must-place replicas left out, then the objective). Returns the plan and how many tasks
    it placed more. (The coalesced plan of ``--partitions`` when no improvement follows.)"""
    from ..construct import efficient_first_fit

    flat = Flat(problem, choose_scales(problem))
    plan = Plan.from_assignments(flat, assignments)
    if all(plan.nodes):
        return assignments, 0
    done, _ = _restored(problem, flat, plan)
    if not all(done.nodes):
        done = efficient_first_fit(flat, done)
    if _key(problem, flat, done) >= _key(problem, flat, plan):
        return assignments, 0
    placed = sum(1 for t in range(flat.T) if done.nodes[t] and not plan.nodes[t])
    return done.assignments(), placed
