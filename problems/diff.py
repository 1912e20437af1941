"""What changed between two plans of one problem: replicas moved, started earlier or later,
newly placed or dropped, devices changed, and the objective and utilisation deltas.

Replicas of a task are interchangeable (FORMATS.md: copies, each on a different node), so
replicas are matched by node before by index: a replica counts as *moved* only when its task has
fewer replicas on its node in plan B than in A, whatever the replica numbers say. Within a task,
the replicas left over after matching by node are paired in replica order (moves); what is left
after that is *dropped* (only in A) or *newly placed* (only in B). A matched replica whose start
differs is *started earlier* or *later*; one on the same node with other devices has its
*devices changed*.

Two plans are *equal* when none of that happens: the same replicas on the same nodes (and
devices, and times). Solver names, statuses, seconds and metrics are not compared.

Objective and utilisation deltas are recomputed by the evaluator when the problem is given
(:func:`diff`); :func:`diff_stated` uses what the plans state (their ``solver.objective``,
``solver.fitness`` and ``metrics.utilisation``) when there is no problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entities import Problem
from .plan import Assignment, Plan
from .views import assignment_devices


@dataclass(frozen=True)
class Rep:
    """One replica as one plan places it."""

    task: str
    replica: int
    node: str
    start: int | None = None
    end: int | None = None
    devices: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "replica": self.replica, "node": self.node}
        if self.start is not None:
            d["start"] = self.start
            d["end"] = self.end
        if self.devices:
            d["devices"] = {r: list(v) for r, v in sorted(self.devices.items())}
        return d


@dataclass(frozen=True)
class Change:
    """A replica in A and its counterpart in B."""

    a: Rep
    b: Rep

    @property
    def task(self) -> str:
        return self.a.task

    @property
    def shift(self) -> int | None:
        """B's start minus A's (None without times)."""
        if self.a.start is None or self.b.start is None:
            return None
        return self.b.start - self.a.start

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "a": self.a.to_dict(), "b": self.b.to_dict()}
        if self.shift is not None:
            d["shift"] = self.shift
        return d


@dataclass
class Delta:
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    def to_dict(self) -> dict[str, Any]:
        return {"a": _tidy(self.a), "b": _tidy(self.b), "delta": _tidy(self.delta)}


@dataclass
class PlanDiff:
    moved: list[Change]
    earlier: list[Change]  # same node (or moved too: see moved), started earlier in B
    later: list[Change]
    devices: list[Change]  # same node, other devices
    placed: list[Rep]  # only in B
    dropped: list[Rep]  # only in A
    objective: dict[str, Delta]
    fitness: Delta
    utilisation: dict[str, dict[str, Delta]]  # node -> resource -> delta (changed ones only)
    recomputed: bool  # objective and utilisation by the evaluator (else as the plans state)
    status: tuple[str, str] = ("", "")
    replicas: dict[str, int] = field(default_factory=dict)  # task -> its number of replicas
    violations: tuple[int, int] | None = None  # recomputed: violations of each plan

    def label(self, r: Rep) -> str:
        """``task`` for a task of one replica, else ``task#replica``."""
        return r.task if self.replicas.get(r.task, 1) == 1 else f"{r.task}#{r.replica}"

    @property
    def equal(self) -> bool:
        return not (
            self.moved or self.earlier or self.later or self.devices or self.placed or self.dropped
        )

    def counts(self) -> dict[str, int]:
        return {
            "moved": len(self.moved),
            "started_earlier": len(self.earlier),
            "started_later": len(self.later),
            "devices_changed": len(self.devices),
            "newly_placed": len(self.placed),
            "dropped": len(self.dropped),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "counts": self.counts(),
            "moved": [c.to_dict() for c in self.moved],
            "started_earlier": [c.to_dict() for c in self.earlier],
            "started_later": [c.to_dict() for c in self.later],
            "devices_changed": [c.to_dict() for c in self.devices],
            "newly_placed": [r.to_dict() for r in self.placed],
            "dropped": [r.to_dict() for r in self.dropped],
            "objective": {t: d.to_dict() for t, d in self.objective.items()},
            "fitness": self.fitness.to_dict(),
            "utilisation": {
                n: {r: d.to_dict() for r, d in row.items()} for n, row in self.utilisation.items()
            },
            "recomputed": self.recomputed,
            "status": {"a": self.status[0], "b": self.status[1]},
            **(
                {"violations": {"a": self.violations[0], "b": self.violations[1]}}
                if self.violations is not None
                else {}
            ),
        }


def _reps(assignments: Sequence[Assignment]) -> dict[str, list[Rep]]:
    out: dict[str, list[Rep]] = defaultdict(list)
    for a in assignments:
        out[a.task].append(Rep(a.task, a.replica, a.node, a.start, a.end, assignment_devices(a)))
    for reps in out.values():
        reps.sort(key=lambda r: r.replica)
    return out


def match(
    a: Sequence[Assignment], b: Sequence[Assignment], order: Sequence[str] = ()
) -> tuple[list[Change], list[Change], list[Rep], list[Rep]]:
    """(replicas on the same node in both, moved replicas, only in B, only in A), tasks in
    ``order`` first (then by name)."""
    ra, rb = _reps(a), _reps(b)
    rank = {t: i for i, t in enumerate(order)}
    tasks = sorted(set(ra) | set(rb), key=lambda t: (rank.get(t, len(rank)), t))
    same: list[Change] = []
    moved: list[Change] = []
    placed: list[Rep] = []
    dropped: list[Rep] = []
    for t in tasks:
        left = list(ra.get(t, []))
        right = list(rb.get(t, []))
        # same node: pair replicas by node (then by replica number)
        rest_b: list[Rep] = []
        for r in right:
            hit = next((x for x in left if x.node == r.node), None)
            if hit is None:
                rest_b.append(r)
            else:
                left.remove(hit)
                same.append(Change(hit, r))
        for x, y in zip(left, rest_b, strict=False):
            moved.append(Change(x, y))
        n = min(len(left), len(rest_b))
        dropped.extend(left[n:])
        placed.extend(rest_b[n:])
    return same, moved, placed, dropped


def _changes(
    a: Sequence[Assignment], b: Sequence[Assignment], order: Sequence[str]
) -> tuple[list[Change], list[Change], list[Change], list[Change], list[Rep], list[Rep]]:
    same, moved, placed, dropped = match(a, b, order)
    earlier = [c for c in same if (c.shift or 0) < 0]
    later = [c for c in same if (c.shift or 0) > 0]
    devices = [c for c in same if dict(c.a.devices) != dict(c.b.devices)]
    return moved, earlier, later, devices, placed, dropped


def diff(problem: Problem, a: Plan, b: Plan) -> PlanDiff:
    """The difference of two plans of ``problem``, objective and utilisation recomputed."""
    from .evaluate import evaluate

    order = [t.id for t in problem.tasks]
    moved, earlier, later, devices, placed, dropped = _changes(a.assignments, b.assignments, order)
    ea = evaluate(problem, a.assignments, reasons=False)
    eb = evaluate(problem, b.assignments, reasons=False)
    terms = list(dict.fromkeys([*problem.objective.terms, *ea.terms]))
    objective = {t: Delta(ea.terms.get(t), eb.terms.get(t)) for t in terms}
    util: dict[str, dict[str, Delta]] = {}
    for n in problem.nodes:
        ua, ub = ea.utilisation.get(n.id, {}), eb.utilisation.get(n.id, {})
        row = {
            r: Delta(ua.get(r, 0.0), ub.get(r, 0.0))
            for r in problem.resources
            if r in ua or r in ub
            if abs(ua.get(r, 0.0) - ub.get(r, 0.0)) > 1e-12
        }
        if row:
            util[n.id] = row
    return PlanDiff(
        moved=moved,
        earlier=earlier,
        later=later,
        devices=devices,
        placed=placed,
        dropped=dropped,
        objective=objective,
        fitness=Delta(ea.fitness, eb.fitness),
        utilisation=util,
        recomputed=True,
        status=(str(a.solver.status), str(b.solver.status)),
        replicas={t.id: t.replicas for t in problem.tasks},
        violations=(len(ea.violations), len(eb.violations)),
    )


def diff_stated(a: Plan, b: Plan) -> PlanDiff:
    """The difference of two plans without their problem: moves and times from the
    assignments, objective and utilisation as the plans state them."""
    moved, earlier, later, devices, placed, dropped = _changes(a.assignments, b.assignments, ())
    oa, ob = a.solver.objective or {}, b.solver.objective or {}
    objective = {t: Delta(oa.get(t), ob.get(t)) for t in dict.fromkeys([*oa, *ob])}
    ua = a.metrics.get("utilisation") if isinstance(a.metrics, dict) else None
    ub = b.metrics.get("utilisation") if isinstance(b.metrics, dict) else None
    util: dict[str, dict[str, Delta]] = {}
    if isinstance(ua, dict) and isinstance(ub, dict):
        for node in dict.fromkeys([*ua, *ub]):
            ra, rb = _mapping(ua.get(node)), _mapping(ub.get(node))  # a hand edit may be 1e308
            row = {
                r: Delta(_f(ra.get(r, 0.0)), _f(rb.get(r, 0.0)))
                for r in dict.fromkeys([*ra, *rb])
                if abs((_f(ra.get(r, 0.0)) or 0.0) - (_f(rb.get(r, 0.0)) or 0.0)) > 1e-12
            }
            if row:
                util[str(node)] = row
    return PlanDiff(
        moved=moved,
        earlier=earlier,
        later=later,
        devices=devices,
        placed=placed,
        dropped=dropped,
        objective=objective,
        fitness=Delta(a.solver.fitness, b.solver.fitness),
        utilisation=util,
        recomputed=False,
        status=(str(a.solver.status), str(b.solver.status)),
        replicas=_replicas_seen(a.assignments, b.assignments),
    )


def _replicas_seen(*plans: Sequence[Assignment]) -> dict[str, int]:
    out: dict[str, int] = {}
    for assignments in plans:
        for x in assignments:
            out[x.task] = max(out.get(x.task, 0), x.replica + 1)
    return out


def _mapping(x: Any) -> dict[Any, Any]:
    return x if isinstance(x, dict) else {}


def _f(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _tidy(x: float | None) -> float | int | None:
    if x is None or x != x:
        return None
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return float(f"{x:.12g}")
