"""The evaluator's state: assignments resolved to indices, loads per node, resource and device,
and every constraint of FORMATS.md (v1, revision 2) checked over it.

:class:`PlanState` is public and incremental: a solver that changes a plan one replica at a time
:meth:`~PlanState.add`\\ s and :meth:`~PlanState.remove`\\ s assignments and asks
:meth:`~PlanState.violations` (every constraint, no objective) whenever it needs to. Placement
loads (per node and per device) follow each change; schedules are swept when asked.
:mod:`.evaluate` builds the whole evaluation (terms, fitness, utilisation) on it and
:mod:`.reasons` says why each unplaced task is out.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .entities import Problem, Task, device_shape, device_shape_words
from .plan import Assignment
from .wording import listing, num, printable

if TYPE_CHECKING:
    from .evaluate import Evaluation

CAP_TOL = 1e-9  # absolute tolerance on capacities (FORMATS.md)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint. ``kind``: capacity, replicas, allowed, separation, gang,
    required, precedence, time, devices, spread, moves (``max_moves``), plan or objective."""

    kind: str
    message: str
    task: str | None = None
    node: str | None = None

    def __post_init__(self) -> None:
        # a plan's ids and a problem's labels are anyone's text: no escape sequence or
        # newline of theirs reaches a terminal through a violation
        object.__setattr__(self, "message", printable(self.message))

    def __str__(self) -> str:
        return self.message


class DeviceUse(NamedTuple):
    """What one replica takes on the devices of one resource: ``take`` on each listed one."""

    resource: str
    devices: tuple[int, ...]
    take: float


class Placed(NamedTuple):
    """One replica as the evaluator holds it: node index, start, end (None in placement
    problems) and its valid device uses."""

    node: int
    start: int | None
    end: int | None
    uses: tuple[DeviceUse, ...] = ()


Profile = list[tuple[int, int, Mapping[str, float]]]  # (start, end, demand) intervals
DeviceProfile = list[tuple[int, int, float]]  # (start, end, take) intervals on one device


@dataclass
class Sweep:
    """What a pass over the whole state finds: every violation, loads (peaks in scheduling
    problems) per node and per device, time-averages, makespan, usage profiles."""

    violations: list[Violation]
    load: list[dict[str, float]]  # node -> resource -> load (peak in scheduling problems)
    device_load: dict[tuple[int, str], list[float]]  # (node, resource) -> per device
    average: dict[str, dict[str, float]] | None
    makespan: int
    profiles: list[Profile] | None
    device_profiles: dict[tuple[int, str, int], DeviceProfile] | None


class PlanState:
    """Assignments resolved to indices, with loads per node, resource and device: the
    evaluator's state, public and incremental.

    ``PlanState(problem, assignments)`` takes every assignment (:meth:`add`); :meth:`remove`
    takes one back out. Placement loads follow each change in O(resources + devices);
    :meth:`violations` checks every constraint of the current assignments (no objective, no
    fitness weights: cheap enough to call between moves of a search), :meth:`evaluation` gives
    the whole :class:`Evaluation`. A malformed assignment (unknown task or node, a replica
    number out of range or taken, no times in a scheduling problem) is not held: it is a
    violation until it is removed again (``remove`` with its task and replica).
    """

    def __init__(self, problem: Problem, assignments: Iterable[Assignment] = ()) -> None:
        self.p = problem
        #: task index -> replica -> where it is
        self.placed: dict[int, dict[int, Placed]] = defaultdict(dict)
        #: node index -> task index -> replicas of it there
        self.on_node: dict[int, dict[int, int]] = defaultdict(dict)
        #: placement problems: node index -> resource -> load
        self.load: list[dict[str, float]] = [defaultdict(float) for _ in problem.nodes]
        #: placement problems: (node index, resource) -> load per device
        self.device_load: dict[tuple[int, str], list[float]] = {
            (n.index, r): [0.0] * k for n in problem.nodes for r, k in n.devices.items()
        }
        # violations of the assignment records, in the order they came (keyed for `remove`)
        self._records: dict[Any, list[Violation]] = {}
        self._rejected = itertools.count()
        for a in assignments:
            self.add(a)

    # -- changes -------------------------------------------------------------------------------

    def add(self, a: Assignment) -> bool:
        """Take one assignment; False (and a violation) when it cannot be held."""
        p = self.p
        t = p.task_index.get(a.task)
        n = p.node_index.get(a.node)
        if t is None:
            return self._reject("plan", f"assignment names unknown task '{a.task}'", a.task)
        if n is None:
            return self._reject(
                "plan", f"{a.task}: assignment names unknown node '{a.node}'", a.task
            )
        task = p.tasks[t]
        if not 0 <= a.replica < task.replicas:
            return self._reject(
                "replicas",
                f"{a.task}: replica {a.replica} does not exist (replicas: {task.replicas})",
                a.task,
            )
        if a.replica in self.placed[t]:
            return self._reject(
                "replicas", f"{a.task}: replica {a.replica} is assigned twice", a.task
            )
        if p.scheduling and (a.start is None or a.end is None):
            return self._reject(
                "time",
                f"{a.task} replica {a.replica}: no start/end in a scheduling problem",
                a.task,
            )
        issues, uses = self._device_uses(task, a, n)
        if not p.scheduling and (a.start is not None or a.end is not None):
            if a.start is not None and a.end is not None:
                times = f"runs over [{a.start}, {a.end})"
            else:
                times = f"starts at {a.start}" if a.start is not None else f"ends at {a.end}"
            issues.insert(
                0,
                Violation(
                    "time",
                    f"{a.task} replica {a.replica}: {times}, but this is a placement "
                    "problem (no task has a duration): its assignments have no times",
                    a.task,
                    a.node,
                ),
            )
        if issues:
            self._records[(t, a.replica)] = issues
        self.placed[t][a.replica] = Placed(n, a.start, a.end, uses)
        self.on_node[n][t] = self.on_node[n].get(t, 0) + 1
        if not p.scheduling:
            load = self.load[n]
            for r, q in task.demand_at(n).items():
                load[r] += q
            for u in uses:
                dev = self.device_load[(n, u.resource)]
                for j in u.devices:
                    dev[j] += u.take
        return True

    def remove(self, task: str, replica: int) -> Placed | None:
        """Take a replica's assignment back out (and its violations); what it was, or None."""
        t = self.p.task_index.get(task)
        if t is None or replica not in self.placed.get(t, {}):
            return None
        pl = self.placed[t].pop(replica)
        if not self.placed[t]:
            del self.placed[t]
        self._records.pop((t, replica), None)
        n = pl.node
        left = self.on_node[n][t] - 1
        if left:
            self.on_node[n][t] = left
        else:
            del self.on_node[n][t]
        if not self.p.scheduling:
            if not self.on_node[n]:  # an empty node: no rounding drift left behind
                self.load[n].clear()
                for r, k in self.p.nodes[n].devices.items():
                    self.device_load[(n, r)] = [0.0] * k
            else:
                load = self.load[n]
                for r, q in self.p.tasks[t].demand_at(n).items():
                    load[r] -= q
                for u in pl.uses:
                    dev = self.device_load[(n, u.resource)]
                    for j in u.devices:
                        dev[j] -= u.take
        return pl

    def _reject(self, kind: str, message: str, task: str) -> bool:
        self._records[("rejected", next(self._rejected))] = [Violation(kind, message, task)]
        return False

    def _device_uses(
        self, task: Task, a: Assignment, n: int
    ) -> tuple[list[Violation], tuple[DeviceUse, ...]]:
        """The devices an assignment lists, checked against what its demand needs there."""
        node = self.p.nodes[n]
        listed = a.devices or {}
        if not node.devices and not listed:
            return [], ()
        where = f"{task.id} replica {a.replica}"
        issues: list[Violation] = []

        def bad(message: str) -> None:
            issues.append(Violation("devices", f"{where}: {message}", task.id, node.id))

        for r in listed:
            if r not in node.devices:
                bad(f"lists devices of {r} on {node.id}, which does not split {r} into devices")
        dem = task.demand_at(n)
        uses = []
        for r, k in node.devices.items():
            q = dem.get(r, 0.0)
            idx = listed.get(r)
            if q <= 0:
                if idx:
                    bad(f"lists {r} devices on {node.id}, but it demands no {r} there")
                continue
            size = node.device_size(r)
            shape = device_shape(q, size, k)
            if shape is None:
                bad(f"{device_shape_words(r, q, size, k)} on {node.id}")
                continue
            m, take = shape
            if idx is None:
                bad(f"lists no {r} devices on {node.id} (it needs {m} of 0..{k - 1})")
            elif len(idx) != m or len(set(idx)) != m or any(not 0 <= j < k for j in idx):
                bad(f"{r} devices {list(idx)} on {node.id}: it needs {m} distinct of 0..{k - 1}")
            else:
                uses.append(DeviceUse(r, tuple(idx), take))
        return issues, tuple(uses)

    # -- questions -----------------------------------------------------------------------------

    def assignments(self) -> list[Assignment]:
        """The assignments held now, in task and replica order."""
        p = self.p
        out = []
        for t in sorted(self.placed):
            for r, pl in sorted(self.placed[t].items()):
                devices = {u.resource: u.devices for u in pl.uses} or None
                out.append(
                    Assignment(p.tasks[t].id, r, p.nodes[pl.node].id, pl.start, pl.end, devices)
                )
        return out

    def violations(self) -> list[Violation]:
        """Every constraint of FORMATS.md that the current assignments break (no objective)."""
        return self.sweep().violations

    def evaluation(self, *, reasons: bool = True) -> Evaluation:
        """The whole evaluation of the current assignments (see
        :func:`~taskalloc.problems.evaluate.evaluate`)."""
        from .evaluate import evaluate_state

        return evaluate_state(self, reasons=reasons)

    def sweep(self) -> Sweep:
        """Every check over the current assignments: violations, loads (peaks in scheduling
        problems) per node and per device, time-averages, makespan, usage profiles."""
        out = [v for vs in self._records.values() for v in vs]
        _check_tasks(self, out)
        _check_moves(self, out)
        if self.p.scheduling:
            sweep = _check_schedule(self, out)
        else:
            load = [dict(x) for x in self.load]
            device_load = {k: list(v) for k, v in self.device_load.items()}
            sweep = Sweep(out, load, device_load, None, 0, None, None)
        _check_capacity(self.p, sweep)
        return sweep


# --------------------------------------------------------------------------------------------
# checks


def _check_moves(st: PlanState, out: list[Violation]) -> None:
    """``max_moves``: at most that many placed replicas off their task's ``current``."""
    p = st.p
    if p.max_moves is None:
        return
    moves = 0
    for t, reps in st.placed.items():
        current = p.tasks[t].current
        if current is not None:
            moves += sum(1 for pl in reps.values() if pl.node not in current)
    if moves > p.max_moves:
        out.append(Violation("moves", f"{moves} moves, more than max_moves {p.max_moves}"))


def _check_tasks(st: PlanState, out: list[Violation]) -> None:
    p = st.p

    def v(kind: str, message: str, task: str | None = None, node: str | None = None) -> None:
        out.append(Violation(kind, message, task, node))

    for task in p.tasks:
        reps = st.placed.get(task.index, {})
        if reps and len(reps) != task.replicas:
            v(
                "replicas",
                f"{task.id}: {len(reps)} of {task.replicas} replicas placed (all or none)",
                task.id,
            )
        if not reps and task.required:
            v("required", f"{task.id}: required task is not placed", task.id)
        if not reps:
            continue
        used: dict[int, int] = {}
        # ascending: looked up by bisection (a set of 4,000 allowed nodes for each of 30,000
        # tasks took seconds to build)
        allowed = task.allowed if len(task.allowed) != len(p.nodes) else None
        for r, pl in sorted(reps.items()):
            n = pl.node
            nid = p.nodes[n].id
            if n in used:
                v(
                    "replicas",
                    f"{task.id}: replicas {used[n]} and {r} share node {nid}",
                    task.id,
                    nid,
                )
            used[n] = r
            if allowed is not None and not _ascending_has(allowed, n):
                v(
                    "allowed",
                    f"{task.id}: node {nid} is not allowed ({selector_words(p, task)})",
                    task.id,
                    nid,
                )
            for o in task.separate:
                # separation is symmetric: report each pair once, from the lower index
                if o > task.index and o in st.on_node.get(n, {}):
                    v(
                        "separation",
                        f"{task.id}: shares node {nid} with {p.tasks[o].id} (separate_from)",
                        task.id,
                        nid,
                    )
        if task.spread is not None:
            sp = task.spread
            counts = [0] * len(sp.values)
            for pl in reps.values():
                if pl.node in sp.value_of:
                    counts[sp.value_of[pl.node]] += 1
            if counts and max(counts) - min(counts) > sp.max_skew:
                per = listing([f"{x} {c}" for x, c in zip(sp.values, counts, strict=True)], 10)
                v(
                    "spread",
                    f"{task.id}: replicas per {sp.key} ({per}) differ by "
                    f"{max(counts) - min(counts)}, more than max_skew {sp.max_skew}",
                    task.id,
                )
    for gang, members in p.gangs.items():
        placed = [m for m in members if st.placed.get(m)]
        if placed and len(placed) != len(members):
            missing = [p.tasks[m].id for m in members if not st.placed.get(m)]
            v("gang", f"gang {gang}: placed partly (missing {listing(missing, 10)})")
        if gang in p.same_start and placed:
            starts = sorted(
                {pl.start for m in placed for pl in st.placed[m].values() if pl.start is not None}
            )
            if len(starts) > 1:
                shown = ", ".join(map(str, starts[:6])) + (", ..." if len(starts) > 6 else "")
                v("gang", f"gang {gang}: starts at {shown}; its replicas must start together")


def _ascending_has(ascending: tuple[int, ...], x: int) -> bool:
    i = bisect.bisect_left(ascending, x)
    return i < len(ascending) and ascending[i] == x


def selector_words(p: Problem, task: Task) -> str:
    spec = p.source.raw["tasks"][task.spec_index] if isinstance(p.source.raw, dict) else {}
    parts = []
    if spec.get("nodes") is not None:
        parts.append(f"nodes [{listing(list(map(str, spec['nodes'])), 10)}]")
    if spec.get("match"):
        sel = ", ".join(
            f"{k} in [{listing(list(map(str, v)), 10)}]" if isinstance(v, list) else f"{k}={v}"
            for k, v in spec["match"].items()
        )
        parts.append(f"match {sel}")
    if task.spread is not None:
        parts.append(f"spread over label {task.spread.key}")
    return "; ".join(parts) or "not allowed"


def _check_capacity(p: Problem, sweep: Sweep) -> None:
    what = "peak load" if p.scheduling else "load"
    for n in p.nodes:
        for r, q in sweep.load[n.index].items():
            cap = n.capacity.get(r, 0.0)
            if q > cap + CAP_TOL:
                sweep.violations.append(
                    Violation(
                        "capacity",
                        f"node {n.id}: {r} {what} {num(q)} > capacity {num(cap)}",
                        None,
                        n.id,
                    )
                )
    for (ni, r), loads in sweep.device_load.items():
        node = p.nodes[ni]
        size = node.device_size(r)
        for j, q in enumerate(loads):
            if q > size + CAP_TOL:
                sweep.violations.append(
                    Violation(
                        "capacity",
                        f"node {node.id}: {r} device {j} {what} {num(q)} > device size {num(size)}",
                        None,
                        node.id,
                    )
                )


def _check_schedule(st: PlanState, out: list[Violation]) -> Sweep:
    p = st.p
    end_of: dict[int, int] = {}  # latest end of each placed task
    profiles: list[Profile] = [[] for _ in p.nodes]
    dev_profiles: dict[tuple[int, str, int], DeviceProfile] = defaultdict(list)
    services = False

    def v(kind: str, message: str, task: str | None = None, node: str | None = None) -> None:
        out.append(Violation(kind, message, task, node))

    for t, reps in st.placed.items():
        task = p.tasks[t]
        for r, pl in reps.items():
            n, s, e = pl.node, pl.start, pl.end
            assert s is not None and e is not None
            node = p.nodes[n]
            where = f"{task.id} replica {r}"
            if task.service:
                services = True
                if (s, e) != (0, p.horizon):
                    v(
                        "time",
                        f"{where}: a service runs over [0, {p.horizon}), not [{s}, {e})",
                        task.id,
                        node.id,
                    )
            else:
                d = task.duration_at(node)
                if e - s != d:
                    v(
                        "time",
                        f"{where}: runs {e - s} on {node.id}, its duration there is {d}",
                        task.id,
                        node.id,
                    )
            if s < 0:
                v("time", f"{where}: starts at {s} < 0", task.id)
            if task.release is not None and s < task.release:
                v("time", f"{where}: starts at {s} before its release {task.release}", task.id)
            if task.deadline is not None and e > task.deadline:
                v("time", f"{where}: ends at {e} after its deadline {task.deadline}", task.id)
            if p.horizon is not None and e > p.horizon:
                v("time", f"{where}: ends at {e} after the horizon {p.horizon}", task.id)
            end_of[t] = max(end_of.get(t, e), e)
            if e > s:
                profiles[n].append((s, e, task.demand_at(n)))
                for u in pl.uses:
                    for j in u.devices:
                        dev_profiles[(n, u.resource, j)].append((s, e, u.take))
    for t, reps in st.placed.items():
        task = p.tasks[t]
        for pred in task.after:
            ptask = p.tasks[pred]
            if pred not in end_of:
                v("precedence", f"{task.id}: comes after {ptask.id}, which is not placed", task.id)
                continue
            for r, pl in reps.items():
                assert pl.start is not None
                if pl.start < end_of[pred]:
                    v(
                        "precedence",
                        f"{task.id} replica {r}: starts at {pl.start} before {ptask.id} ends at "
                        f"{end_of[pred]}",
                        task.id,
                    )
    makespan = max((e for t, e in end_of.items() if not p.tasks[t].service), default=0)
    # time-averages over the makespan (over the horizon when only services run)
    window = makespan if makespan > 0 or not services else (p.horizon or 0)
    peak: list[dict[str, float]] = []
    avg: dict[str, dict[str, float]] = {}
    for node in p.nodes:
        events: list[tuple[int, int, Mapping[str, float]]] = []
        area: dict[str, float] = defaultdict(float)
        for start, stop, dem in profiles[node.index]:
            events.append((start, 1, dem))
            events.append((stop, 0, dem))
            inside = max(0, min(stop, window) - max(start, 0))
            for res, amount in dem.items():
                area[res] += amount * inside
        cur: dict[str, float] = defaultdict(float)
        top: dict[str, float] = defaultdict(float)
        for _, kind, dem in sorted(events, key=lambda x: (x[0], x[1])):
            for res, amount in dem.items():
                cur[res] += amount if kind else -amount
                if cur[res] > top[res]:
                    top[res] = cur[res]
        peak.append(top)
        avg[node.id] = {
            res: (area.get(res, 0.0) / (cap * window) if window > 0 else 0.0)
            for res, cap in node.capacity.items()
            if cap > 0
        }
    device_load = {(n.index, r): [0.0] * k for n in p.nodes for r, k in n.devices.items()}
    for (ni, res, j), ivs in dev_profiles.items():
        device_load[(ni, res)][j] = _peak(ivs)
    return Sweep(out, peak, device_load, avg, makespan, profiles, dev_profiles)


def _peak(ivs: DeviceProfile) -> float:
    events = sorted([(s, 1, q) for s, _, q in ivs] + [(e, 0, q) for _, e, q in ivs])
    cur = top = 0.0
    for _, kind, q in events:
        cur += q if kind else -q
        top = max(top, cur)
    return top
