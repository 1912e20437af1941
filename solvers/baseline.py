"""Never worse than the greedy: the greedy's plan as every engine's floor.

The greedy (:mod:`.greedy`) is deterministic and fast: whatever an engine does within its time
limit, the plan it returns should be at least as good as the one ``-s greedy`` returns with the
same policy, or users learn to run the greedy first. Two pieces, shared by every engine:

* :func:`greedy_plan` runs the greedy once per problem and policy and keeps its result and
  evaluation (keyed on the Problem object, held weakly): an engine that starts from it (the
  CP-SAT and MILP warm starts) and the final check below share one run.
* :func:`no_worse` compares an engine's result with the greedy's plan through the evaluator
  (:func:`compare`: a feasible plan beats one that is not; then the objective terms in
  lexicographic order, each within a relative 1e-9, or the weighted sum) and returns the
  greedy's plan, status ``feasible``, when the engine's plan is worse or missing. The engine's
  bounds stay (they bound every plan). It is called at the one place engines are dispatched
  (:func:`taskalloc.solvers.solve`), so ``-s auto`` and every engine keep the promise; an engine
  that already made the comparison with the same policy marks its result
  (``options["baseline"]``) and is not evaluated twice. A result marked
  ``options["floor"] = "caller"`` (cpsat's ``floor=False``: a part of ``--partitions`` solved
  from its share of the whole problem's greedy plan) is left as it is: its caller, the
  partition driver, holds the floor of the whole problem.

When the greedy cannot finish within the time limit (it stops between tasks, see its
docstring) its partial plan is still a floor where it is a plan. A plan proved ``infeasible`` or
a run stopped by the user (``stop``) is returned as is: the greedy is not run then.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import replace
from typing import Any

from taskalloc.problems.evaluate import Evaluation, evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem

from .result import Result

DEFAULT_POLICY = "least-loaded"  # ``-s greedy``'s default
REL_TOL = 1e-9
MIN_SECONDS = 1.0  # the final check gives the greedy at least this long
RERUN_FACTOR = 1.25  # a greedy cut by its limit runs again only for a limit this much longer


class Baseline:
    """The greedy's result for one policy, and its evaluation (computed when first asked:
    engines with their own exact accounting, the LNS, never need it)."""

    def __init__(
        self,
        problem: Problem,
        policy: str,
        result: Result,
        complete: bool,
        limit: float | None = None,
    ) -> None:
        self.problem = problem
        self.policy = policy
        self.result = result
        self.complete = complete  # the greedy finished (it was not cut by its time limit)
        self.limit = limit  # the time limit it ran with
        self._evaluation: Evaluation | None = None

    @property
    def evaluation(self) -> Evaluation:
        if self._evaluation is None:
            self._evaluation = evaluate(self.problem, self.result.assignments, reasons=False)
        return self._evaluation

    @property
    def usable(self) -> bool:
        """A plan to fall back on: every constraint holds."""
        return self.evaluation.feasible


_CACHE: weakref.WeakKeyDictionary[Problem, dict[str, Baseline]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def greedy_plan(
    problem: Problem,
    policy: str = DEFAULT_POLICY,
    time_limit: float | None = None,
    *,
    stop: threading.Event | None = None,
) -> Baseline:
    """The greedy's plan with ``policy`` (run once per problem and policy; a run cut by its time
    limit is run again when a later call allows clearly more time: :data:`RERUN_FACTOR`).
    ``stop`` set ends the greedy between two tasks (seconds at 150,000 tasks); a run it cut
    short is returned (incomplete) but not kept."""
    with _LOCK:
        known = _CACHE.get(problem, {}).get(policy)
    if known is not None and (
        known.complete
        or (
            time_limit is not None
            and known.limit is not None
            and time_limit <= RERUN_FACTOR * known.limit + 0.01
        )
    ):
        return known  # finished, or cut by about the same limit: running it again is no use
    from .greedy import solve as greedy

    res = greedy(problem, policy=policy, time_limit=time_limit, stop=stop)
    message = res.message or ""
    if "stopped on request" in message:
        return Baseline(problem, policy, res, False, time_limit)
    base = Baseline(problem, policy, res, "time limit" not in message, time_limit)
    with _LOCK:
        _CACHE.setdefault(problem, {})[policy] = base
    return base


def forget(problem: Problem) -> None:
    """Drop the greedy plans kept for ``problem`` (benchmarks that time several runs of one
    problem: each then pays for its own greedy, as a user's run does)."""
    with _LOCK:
        _CACHE.pop(problem, None)


def policies() -> tuple[str, ...]:
    """The greedy's policies, ``-s greedy``'s default first."""
    from .greedy import POLICIES

    return (DEFAULT_POLICY, *(p for p in POLICIES if p != DEFAULT_POLICY))


def known(problem: Problem, policy: str) -> Baseline | None:
    """The greedy's plan if it was already computed."""
    with _LOCK:
        return _CACHE.get(problem, {}).get(policy)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(1.0, abs(a), abs(b))


def compare(problem: Problem, a: Evaluation, b: Evaluation) -> int:
    """-1 when plan ``a`` is better than ``b``, 1 when worse, 0 when as good: feasibility first,
    then the objective (lexicographic term by term, or the weighted sum)."""
    if a.feasible != b.feasible:
        return -1 if a.feasible else 1
    obj = problem.objective
    if obj.kind == "lexicographic":
        pairs = [(a.terms.get(t, 0.0), b.terms.get(t, 0.0)) for t in obj.terms]
    else:
        pairs = [
            (
                sum(w * a.terms.get(t, 0.0) for t, w in obj.weights.items()),
                sum(w * b.terms.get(t, 0.0) for t, w in obj.weights.items()),
            )
        ]
    for x, y in pairs:
        if _close(x, y):
            continue
        return -1 if x < y else 1
    return 0


def no_worse(
    problem: Problem,
    result: Result,
    *,
    policy: str | None = None,
    time_limit: float | None = None,
    stop: Any = None,
    evaluation: Evaluation | None = None,
    **_options: Any,
) -> Result:
    """``result``, or the greedy's plan when that is better (see the module docstring)."""
    policy = policy or DEFAULT_POLICY
    if result.solver == "greedy" or result.status == Status.INFEASIBLE:
        return result
    if result.options.get("baseline") == policy:
        return result  # the engine compared with this greedy plan already
    if result.options.get("floor") == "caller":
        return result  # a part of --partitions: the driver keeps the whole problem's floor
    if stop is not None and stop.is_set():
        return result
    if result.status == Status.OPTIMAL:
        return _mark(result, policy)  # proved: nothing is better
    # what the engine left of the limit; at least MIN_SECONDS, so that a tiny limit on a
    # loaded machine does not cut a greedy that needs milliseconds
    limit = None if time_limit is None else max(time_limit, MIN_SECONDS)
    base = greedy_plan(problem, policy, limit)
    if not base.usable:
        return _mark(result, policy)
    ours = evaluation or evaluate(problem, result.assignments, reasons=False)
    if result.has_plan and compare(problem, ours, base.evaluation) <= 0:
        return _mark(result, policy)
    return take_greedy(result, base)


def take_greedy(result: Result, base: Baseline) -> Result:
    """The engine's result with the greedy's plan in place of its own."""
    what = "found no plan" if not result.has_plan else "found a worse plan"
    note = f"the engine {what}; returning the greedy's plan ({base.policy}), which is better"
    message = f"{result.message}; {note}" if result.message else note
    options = {**result.options, "baseline": base.policy, "baseline_used": True}
    return replace(
        result,
        status=Status.FEASIBLE,
        assignments=list(base.result.assignments),
        message=message,
        options=options,
    )


def _mark(result: Result, policy: str) -> Result:
    return replace(result, options={**result.options, "baseline": policy})
