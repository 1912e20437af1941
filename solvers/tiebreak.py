"""What the fronts of every engine share: the optional tasks a front's plans leave out.

A front is over exactly its terms (``taskalloc.solvers.pareto``): when ``unplaced`` is not one
of them, an optional task changes no point, and an engine may leave out tasks that would fit
at no cost in the terms. Of two plans of one point, the user wants the one that places more.
``cpsat`` settles this exactly, a solve per point (:mod:`.cpsat.pareto`,
``options["pareto"]["tiebreak"] == "unplaced"``); :func:`settle` does it greedily for the
others (the GA): each optional task, by priority (times replicas), is added where every replica
fits and every term of the front stays as it was, judged by the evaluator. So a point never
moves, and its plan stays feasible.

Placement problems only, and only tasks that are alone (no gang, no devices of a split resource,
no spread), within ``seconds`` (1 s by default): a schedule or a gang asks for a search, not an
insertion. ``options["pareto"]["tiebreak"] == "unplaced (greedy)"`` marks a settled front.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem
from taskalloc.problems.wording import plural

from .result import Result

#: the mark of a front settled by :func:`settle`
GREEDY_TIEBREAK = "unplaced (greedy)"


def _same(terms: dict[str, float], base: dict[str, float]) -> bool:
    """Every term of the front as it was: not worse, and not better either (no term of
    FORMATS.md falls when a task is added, but should one, the point would move and could
    dominate another point of the front)."""
    return all(abs(terms[t] - v) <= 1e-9 * max(1.0, abs(v)) for t, v in base.items())


def settle(
    problem: Problem,
    terms: list[str],
    results: list[Result],
    *,
    seconds: float = 1.0,
    stop: threading.Event | None = None,
) -> list[Result]:
    """``results`` with each plan's optional tasks added where they cost no term of the front
    (module doc); a result unchanged when nothing fits, and every result when ``unplaced`` is
    a term, the problem is a schedule, or its front already breaks such ties."""
    if "unplaced" in terms or problem.scheduling or not results:
        return results
    if any(isinstance(r.options.get("pareto"), dict) and r.options["pareto"].get("tiebreak")
           for r in results):  # fmt: skip
        return results
    split = set(problem.split_resources)
    alone = [
        t
        for t in problem.tasks
        if not t.required and t.gang is None and t.spread is None and not split & set(t.demand)
    ]
    if not alone:
        return results
    alone.sort(key=lambda t: (-t.priority * t.replicas, t.index))
    deadline = time.monotonic() + seconds
    out = []
    for r in results:
        out.append(_settled(problem, terms, r, alone, deadline, stop) if r.has_plan else r)
    return out


def _settled(
    problem: Problem,
    terms: list[str],
    result: Result,
    alone: list[Any],
    deadline: float,
    stop: threading.Event | None,
) -> Result:
    ev = evaluate(problem, result.assignments, reasons=False)
    if not ev.feasible:
        return result
    base = {t: ev.terms[t] for t in terms}
    placed = {a.task for a in result.assignments}
    plan = list(result.assignments)
    added = 0
    for task in alone:
        if task.id in placed:
            continue
        trial: list[Assignment] = plan
        used: set[int] = set()
        for replica in range(task.replicas):
            for n in task.allowed:
                if n in used:
                    continue
                if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                    return _with(result, plan, added)
                cand = [*trial, Assignment(task=task.id, replica=replica, node=problem.nodes[n].id)]
                e = evaluate(problem, cand, reasons=False)
                if e.feasible and _same(e.terms, base):
                    trial, used = cand, used | {n}
                    break
            else:
                break  # a replica found no room: the task stays out
        if len(used) == task.replicas:
            plan, added = trial, added + 1
    return _with(result, plan, added)


def _with(result: Result, plan: list[Assignment], added: int) -> Result:
    options = dict(result.options)
    known = options.get("pareto")
    front = dict(known) if isinstance(known, dict) else {"terms": known}
    front["tiebreak"] = GREEDY_TIEBREAK
    options["pareto"] = front
    if not added:
        return replace(result, options=options)
    note = f"{plural(added, 'optional task')} added at no cost in the terms"
    message = "; ".join(x for x in (result.message, note) if x)
    return replace(result, assignments=plan, options=options, message=message)


__all__ = ["GREEDY_TIEBREAK", "settle"]
