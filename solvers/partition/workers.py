"""Executor glue: sub-problems solved by the batch executors (:mod:`taskalloc.solvers.batch`),
as local worker processes or Ray tasks that carry the sub-problem's bytes.

Each job is a batch :class:`~taskalloc.solvers.batch.Spec` (the sub-problem as JSON bytes, the
engine and its limit) run by :func:`~taskalloc.solvers.batch.run_spec`: the worker loads the
sub-problem, solves it with the engine (never worse than the greedy on it), checks the plan and
returns it as JSON text, which :func:`assignments_of` reads back. A worker that dies is replaced
and its job retried once (local) or Ray retries it once; a job that fails again, or runs past
its limit and grace, comes back without a plan.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskalloc.problems.limits import Limits
from taskalloc.problems.plan import Assignment

from ..batch import Executor, Item, LocalExecutor, RayExecutor, Spec, Target, run_spec
from ..run import Outcome, RunResult, SolveOptions


@dataclass
class Job:
    """One sub-problem to solve: its bytes, options and a name for messages."""

    name: str
    data: bytes
    opts: SolveOptions


@dataclass
class PartResult:
    """What came back for one job: the plan's assignments (None: no usable plan), its
    objective on the sub-problem, the status, seconds in the worker, and why not, if not."""

    assignments: list[Assignment] | None
    objective: dict[str, float] | None
    status: str | None
    wall: float
    message: str | None = None
    outcome: str = "ok"
    solver: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float | None = None  # the engine's own seconds (the rest of wall: the worker's)
    #: what the engine said of its run (the plan's solver options): stage seconds, the cost
    #: where its search started and ended (its trajectory's first and last points)
    stages: dict[str, float] | None = None
    from_to: tuple[float, float] | None = None


def assignments_of(plan_text: str) -> list[Assignment]:
    """The assignments of a JSON plan's text."""
    return _assignments(json.loads(plan_text))


def _assignments(plan: dict[str, Any]) -> list[Assignment]:
    out = []
    for a in plan.get("assignments") or []:
        out.append(
            Assignment(
                task=a["task"],
                replica=int(a["replica"]),
                node=a["node"],
                start=a.get("start"),
                end=a.get("end"),
                devices=a.get("devices"),
            )
        )
    return out


def _engine_notes(plan: dict[str, Any]) -> tuple[dict[str, float] | None, Any]:
    """The engine's stage seconds and (first, last) trajectory cost from a plan."""
    solver = plan.get("solver") or {}
    stages = (solver.get("options") or {}).get("stage_seconds")
    trajectory = solver.get("trajectory") or []
    from_to = None
    if trajectory:
        from_to = (float(trajectory[0][1]), float(trajectory[-1][1]))
    return (dict(stages) if isinstance(stages, dict) else None), from_to


def outcome_of(result: RunResult, wall: float) -> PartResult:
    usable = (
        result.outcome in (Outcome.OK, Outcome.INTERRUPTED)
        and result.status in ("optimal", "feasible")
        and result.plan_text is not None
    )
    plan = json.loads(result.plan_text) if result.plan_text is not None else {}
    stages, from_to = _engine_notes(plan)
    return PartResult(
        assignments=_assignments(plan) if usable else None,
        objective=dict(result.objective) if result.objective else None,
        status=result.status,
        wall=wall,
        message=result.message,
        outcome=str(result.outcome),
        solver=result.solver,
        warnings=list(result.warnings),
        seconds=result.seconds,
        stages=stages,
        from_to=from_to,
    )


def make_executor(
    kind: str,
    jobs: int,
    address: str | None = None,
    *,
    target: Target = run_spec,
    grace: Callable[[float], float] | None = None,
) -> Executor:
    """``local``: ``jobs`` worker processes (a lost one replaced, its job retried once; a job
    still running ``grace(limit)`` seconds past its limit is killed: default
    :func:`~taskalloc.solvers.batch.default_grace`); ``ray``: Ray tasks on the cluster at
    ``address`` (default: a local Ray for the run), a lost task retried once."""
    if kind == "ray":
        return RayExecutor(address, target=target, max_retries=1, quiet=True)
    if kind != "local":
        raise ValueError(f"option executor={kind!r}: local or ray")
    if grace is None:
        return LocalExecutor(jobs, target=target, retries=1)
    return LocalExecutor(jobs, target=target, retries=1, grace=grace)


def run_jobs(
    jobs: Sequence[Job],
    executor: Executor,
    *,
    limits: Limits | None,
    stop: threading.Event,
    on_done: Callable[[int, PartResult], None] | None = None,
) -> list[PartResult | None]:
    """Solve every job; the outcome of each, in order (None: interrupted by ``stop``)."""
    items = [Item(i, job.name, Path(os.devnull)) for i, job in enumerate(jobs)]
    found: list[PartResult | None] = [None] * len(jobs)

    def make_spec(item: Item) -> Spec:
        job = jobs[item.index]
        return Spec(
            index=item.index,
            name=job.name,
            data=job.data,
            path=None,
            opts=job.opts,
            fmt="json",
            limits=limits,
        )

    def finish(item: Item, result: RunResult, wall: float) -> None:
        got = outcome_of(result, wall)
        found[item.index] = got
        if on_done is not None:
            on_done(item.index, got)

    executor.run(items, make_spec, lambda item: None, finish, stop)
    return found
