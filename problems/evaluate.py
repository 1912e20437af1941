"""The one evaluator: everything about a plan, recomputed from the problem and assignments alone.

:func:`evaluate` gives feasibility (every constraint of FORMATS.md, each violation in words),
every objective term, utilisation per node and resource (and per device), fleet averages, the
scalar fitness and, for every unplaced task, why: for each allowed node the first constraint
that blocks it, with numbers. :func:`check` compares a plan file's claims with that;
:func:`make_plan` turns a solver's assignments into a plan file. Solvers never compute any of
this themselves.

:class:`PlanState` is the evaluator's state, public and incremental: a solver that changes a
plan one replica at a time :meth:`~PlanState.add`\\ s and :meth:`~PlanState.remove`\\ s
assignments and asks :meth:`~PlanState.violations` (every constraint, no objective) whenever it
needs to; :func:`violations` is the one-shot form. Placement loads (per node and per device) are
kept up to date as assignments come and go; schedules are swept when asked.

Scalar fitness (what every solver reports, lower is better):

* ``weights`` objective: ``sum(weight[t] * term[t])``.
* ``lexicographic`` objective ``[t1, ..., tk]``: ``sum(W[i] * term[ti])`` with ``W[k] = 1`` and
  ``W[i] = 1 + sum(W[j] * UB[tj] for j > i)``, where ``UB[t]`` is an upper bound of term ``t``
  computed from the problem (see :func:`term_upper_bounds`). A decrease of at least 1 in an
  earlier term then outweighs any change in the later ones, so the scalar orders plans exactly
  as the lexicographic objective does whenever earlier terms move in steps of 1 or more
  (integer priorities, costs, node counts, moves, times); ``balance`` moves in fractions, so
  placing it before another term makes the scalar an approximation.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .entities import Problem, Task, device_shape, device_shape_words
from .plan import Assignment, Plan, SolverInfo, Status, Unplaced
from .proofs import spread_feasible
from .wording import num

CAP_TOL = 1e-9  # absolute tolerance on capacities (FORMATS.md)
OBJ_RTOL = 1e-6  # relative tolerance on objective values (FORMATS.md)
MAX_DETAILS = 50

PLACEMENT_TERMS = ("unplaced", "cost", "nodes", "balance", "moves")
SCHEDULING_TERMS = ("unplaced", "cost", "nodes", "balance", "makespan", "tardiness", "moves")

_num = num  # the name this module had for it


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint. ``kind``: capacity, replicas, allowed, separation, gang,
    required, precedence, time, devices, spread, plan or objective."""

    kind: str
    message: str
    task: str | None = None
    node: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class Evaluation:
    """Everything about a plan, as :func:`evaluate` computes it."""

    feasible: bool
    violations: list[Violation]
    terms: dict[str, float]  # every term that applies to the problem
    objective: dict[str, float]  # the problem's objective terms, in its order
    fitness: float
    utilisation: dict[str, dict[str, float]]  # node -> resource -> load / capacity (peak)
    average_utilisation: dict[str, dict[str, float]] | None  # scheduling: mean over makespan
    fleet: dict[str, float]  # resource -> fleet-wide utilisation (sum load / sum capacity)
    unplaced: list[Unplaced]
    placed_replicas: int
    total_replicas: int
    nodes_used: int
    placed_tasks: set[int] = field(default_factory=set)
    # node -> split resource -> per device: load / device size (peak in scheduling problems)
    device_utilisation: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {
            "feasible": self.feasible,
            "fitness": self.fitness,
            "placed_replicas": self.placed_replicas,
            "total_replicas": self.total_replicas,
            "nodes_used": self.nodes_used,
            "terms": dict(self.terms),
            "fleet_utilisation": dict(self.fleet),
            "utilisation": self.utilisation,
        }
        if self.average_utilisation is not None:
            m["average_utilisation"] = self.average_utilisation
        if self.device_utilisation:
            m["device_utilisation"] = self.device_utilisation
        if self.violations:
            m["violations"] = [v.message for v in self.violations[:MAX_DETAILS]]
        return m


# --------------------------------------------------------------------------------------------
# the state


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
class _Sweep:
    """What a pass over the whole state finds (violations beyond the records, loads)."""

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
        return self._sweep().violations

    def evaluation(self, *, reasons: bool = True) -> Evaluation:
        """The whole evaluation of the current assignments (see :func:`evaluate`)."""
        sweep = self._sweep()
        p = self.p
        terms = _terms(self, sweep.load, sweep.makespan)
        util: dict[str, dict[str, float]] = {}
        for n in p.nodes:
            util[n.id] = {
                r: sweep.load[n.index].get(r, 0.0) / cap for r, cap in n.capacity.items() if cap > 0
            }
        devices: dict[str, dict[str, list[float]]] = {}
        for (ni, res), loads in sweep.device_load.items():
            size = p.nodes[ni].device_size(res)
            devices.setdefault(p.nodes[ni].id, {})[res] = [q / size for q in loads]
        fleet: dict[str, float] = {}
        avg = sweep.average
        for r in p.resources:
            total_cap = sum(n.capacity.get(r, 0.0) for n in p.nodes)
            if total_cap <= 0:
                continue
            if p.scheduling:
                work = (
                    sum(avg[n.id].get(r, 0.0) * n.capacity.get(r, 0.0) for n in p.nodes)
                    if avg
                    else 0.0
                )
                fleet[r] = work / total_cap
            else:
                fleet[r] = sum(sweep.load[n.index].get(r, 0.0) for n in p.nodes) / total_cap
        placed_tasks = {t for t, reps in self.placed.items() if reps}
        unplaced = (
            _reasons(self, sweep, placed_tasks)
            if reasons
            else [Unplaced(t.id, "") for t in p.tasks if t.index not in placed_tasks]
        )
        return Evaluation(
            feasible=not sweep.violations,
            violations=sweep.violations,
            terms=terms,
            objective={t: terms[t] for t in p.objective.terms},
            fitness=fitness(p, terms),
            utilisation=util,
            average_utilisation=avg,
            fleet=fleet,
            unplaced=unplaced,
            placed_replicas=sum(len(r) for r in self.placed.values()),
            total_replicas=p.total_replicas,
            nodes_used=sum(1 for ts in self.on_node.values() if ts),
            placed_tasks=placed_tasks,
            device_utilisation=devices,
        )

    def _sweep(self) -> _Sweep:
        out = [v for vs in self._records.values() for v in vs]
        _check_tasks(self, out)
        if self.p.scheduling:
            sweep = _check_schedule(self, out)
        else:
            load = [dict(x) for x in self.load]
            device_load = {k: list(v) for k, v in self.device_load.items()}
            sweep = _Sweep(out, load, device_load, None, 0, None, None)
        _check_capacity(self.p, sweep)
        return sweep


# --------------------------------------------------------------------------------------------
# one-shot forms


def evaluate(
    problem: Problem, assignments: Sequence[Assignment], *, reasons: bool = True
) -> Evaluation:
    """Evaluate assignments against the problem. Never raises on a bad plan: it reports it."""
    return PlanState(problem, assignments).evaluation(reasons=reasons)


def violations(problem: Problem, assignments: Iterable[Assignment]) -> list[Violation]:
    """Every constraint the assignments break ([] for a feasible plan): what
    ``evaluate(...).feasible`` decides, without objective terms, fitness weights (whose upper
    bounds walk every task and node) and reasons."""
    return PlanState(problem, assignments).violations()


# --------------------------------------------------------------------------------------------
# checks


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
        allowed = set(task.allowed) if len(task.allowed) != len(p.nodes) else None
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
            if allowed is not None and n not in allowed:
                v(
                    "allowed",
                    f"{task.id}: node {nid} is not allowed ({_selector(p, task)})",
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
                per = ", ".join(f"{x} {c}" for x, c in zip(sp.values, counts, strict=True))
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
            v("gang", f"gang {gang}: placed partly (missing {', '.join(missing)})")
        if gang in p.same_start and placed:
            starts = sorted(
                {pl.start for m in placed for pl in st.placed[m].values() if pl.start is not None}
            )
            if len(starts) > 1:
                shown = ", ".join(map(str, starts[:6])) + (", ..." if len(starts) > 6 else "")
                v("gang", f"gang {gang}: starts at {shown}; its replicas must start together")


def _selector(p: Problem, task: Task) -> str:
    spec = p.source.raw["tasks"][task.spec_index] if isinstance(p.source.raw, dict) else {}
    parts = []
    if spec.get("nodes") is not None:
        parts.append(f"nodes [{', '.join(map(str, spec['nodes']))}]")
    if spec.get("match"):
        sel = ", ".join(
            f"{k} in [{', '.join(map(str, v))}]" if isinstance(v, list) else f"{k}={v}"
            for k, v in spec["match"].items()
        )
        parts.append(f"match {sel}")
    if task.spread is not None:
        parts.append(f"spread over label {task.spread.key}")
    return "; ".join(parts) or "not allowed"


def _check_capacity(p: Problem, sweep: _Sweep) -> None:
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


def _check_schedule(st: PlanState, out: list[Violation]) -> _Sweep:
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
    return _Sweep(out, peak, device_load, avg, makespan, profiles, dev_profiles)


def _peak(ivs: DeviceProfile) -> float:
    events = sorted([(s, 1, q) for s, _, q in ivs] + [(e, 0, q) for _, e, q in ivs])
    cur = top = 0.0
    for _, kind, q in events:
        cur += q if kind else -q
        top = max(top, cur)
    return top


def _terms(st: PlanState, load: list[dict[str, float]], makespan: int) -> dict[str, float]:
    p = st.p
    terms: dict[str, float] = {}
    terms["unplaced"] = float(
        sum(t.priority * t.replicas for t in p.tasks if not st.placed.get(t.index))
    )
    used = [n for n, ts in st.on_node.items() if ts]
    # fsum: the exact sum, whatever the order the assignments came in
    terms["cost"] = math.fsum(
        [
            *(p.tasks[t].cost_at(pl.node) for t, reps in st.placed.items() for pl in reps.values()),
            *(p.nodes[n].cost for n in used),
        ]
    )
    terms["nodes"] = float(len(used))
    balance = 0.0
    for n in p.nodes:
        for r, q in load[n.index].items():
            cap = n.capacity.get(r, 0.0)
            if cap > 0 and q / cap > balance:
                balance = q / cap
    terms["balance"] = balance
    if p.scheduling:
        terms["makespan"] = float(makespan)
        tard = 0.0
        for t, reps in st.placed.items():
            task = p.tasks[t]
            if task.due is not None:
                for pl in reps.values():
                    tard += task.priority * max(0, (pl.end or 0) - task.due)
        terms["tardiness"] = tard
    moves = 0
    for t, reps in st.placed.items():
        current = p.tasks[t].current
        if current is not None:
            moves += sum(1 for pl in reps.values() if pl.node not in current)
    terms["moves"] = float(moves)
    return terms


# -- fitness ---------------------------------------------------------------------------------


def term_upper_bounds(problem: Problem) -> dict[str, float]:
    """Upper bounds of each term over all plans (balance over feasible plans: 1)."""
    p = problem
    ub: dict[str, float] = {}
    ub["unplaced"] = sum(t.priority * t.replicas for t in p.tasks)
    ub["cost"] = sum(
        t.replicas * max((t.cost_at(n) for n in t.allowed), default=0.0) for t in p.tasks
    ) + sum(n.cost for n in p.nodes)
    ub["nodes"] = float(len(p.nodes))
    ub["balance"] = 1.0
    if p.scheduling:
        longest = sum(
            t.replicas * max((t.duration_at(p.nodes[n]) for n in t.allowed), default=0)
            for t in p.tasks
            if not t.service
        )
        ms = (
            p.horizon
            if p.horizon is not None
            else max((t.release or 0 for t in p.tasks), default=0) + longest
        )
        ub["makespan"] = float(ms)
        ub["tardiness"] = sum(
            t.priority * t.replicas * max(0, ms - t.due) for t in p.tasks if t.due is not None
        )
    ub["moves"] = float(sum(t.replicas for t in p.tasks if t.current is not None))
    return ub


_WEIGHTS: weakref.WeakKeyDictionary[Problem, dict[str, float]] = weakref.WeakKeyDictionary()


def fitness_weights(problem: Problem) -> dict[str, float]:
    """Weights of the scalar fitness, per the module docstring (computed once per problem:
    solvers that evaluate many plans, the MILP's lexicographic stages and the GA, call this
    often, and the upper bounds walk every task)."""
    cached = _WEIGHTS.get(problem)
    if cached is None:
        cached = _WEIGHTS[problem] = _fitness_weights(problem)
    return dict(cached)


def _fitness_weights(problem: Problem) -> dict[str, float]:
    obj = problem.objective
    if obj.kind == "weights":
        return dict(obj.weights)
    ub = term_upper_bounds(problem)
    weights: dict[str, float] = {}
    tail = 0.0
    for term in reversed(obj.terms):
        w = 1.0 + tail
        weights[term] = w
        tail += w * ub.get(term, 0.0)
    return {t: weights[t] for t in obj.terms}


def fitness(problem: Problem, terms: dict[str, float]) -> float:
    """The scalar fitness of a plan's terms (module docstring; lower is better)."""
    return float(sum(w * terms.get(t, 0.0) for t, w in fitness_weights(problem).items()))


# -- reasons for unplaced tasks --------------------------------------------------------------


def _reasons(st: PlanState, sweep: _Sweep, placed_tasks: set[int]) -> list[Unplaced]:
    p = st.p
    out: list[Unplaced] = []
    blocked_cache: dict[int, tuple[str, list[str], int]] = {}
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        blocked_cache[task.index] = _task_reason(st, sweep, task, placed_tasks)
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        reason, details, fit = blocked_cache[task.index]
        if fit >= task.replicas and task.gang is not None:
            # It fits on its own: the gang held it back.
            others = [
                m
                for m in p.gangs[task.gang]
                if m != task.index
                and m not in placed_tasks
                and blocked_cache.get(m, ("", [], 10**9))[2] < p.tasks[m].replicas
            ]
            if others:
                o = p.tasks[others[0]]
                reason = (
                    f"gang {task.gang} is placed all or none, and member {o.id} cannot be "
                    f"placed: {blocked_cache[others[0]][0]}"
                )
        out.append(Unplaced(task.id, reason, tuple(details)))
    return out


@dataclass
class _Shortage:
    """The tightest room seen for one resource over the allowed nodes."""

    need: float
    best: float = -math.inf
    node: str = ""

    def see(self, need: float, free: float, node: str) -> None:
        self.need = max(self.need, need)
        if free > self.best:
            self.best, self.node = free, node


def _task_reason(
    st: PlanState, sweep: _Sweep, task: Task, placed_tasks: set[int]
) -> tuple[str, list[str], int]:
    """(one-line reason, per-node details, number of allowed nodes that could take a replica)."""
    p = st.p
    excluded = len(p.nodes) - len(task.allowed)
    details: list[str] = []
    if excluded:
        details.append(f"{excluded} node(s) excluded by {_selector(p, task)}")
    if not task.allowed:
        return f"no node is allowed ({_selector(p, task)})", details, 0
    if p.scheduling:
        missing = [q for q in task.after if q not in placed_tasks]
        if missing:
            names = ", ".join(p.tasks[q].id for q in missing)
            return f"it comes after {names}, which is not placed", details, 0
    fit_nodes: list[int] = []
    shortage: dict[str, _Shortage] = {}  # resource -> (needed, largest free)
    one_device: dict[str, _Shortage] = {}  # resource -> (needed on one device, freest device)
    whole: dict[str, _Shortage] = {}  # resource -> (devices needed, most free devices)
    # resource -> (demand, the devices (count, size) that cannot serve it)
    shape: dict[str, tuple[float, set[tuple[int, float]]]] = {}
    node_lines: list[str] = []
    sep_blocked = 0
    time_blocked = 0
    start = _gang_start(st, task)
    for n in task.allowed:
        node = p.nodes[n]
        line = None
        for o in task.separate:
            if o in st.on_node.get(n, {}):
                line = f"runs {p.tasks[o].id} (separate_from)"
                sep_blocked += 1
                break
        dem = task.demand_at(n)
        if line is None:
            for r, k in node.devices.items():
                q = dem.get(r, 0.0)
                if q > 0 and device_shape(q, node.device_size(r), k) is None:
                    line = device_shape_words(r, q, node.device_size(r), k)
                    need, kinds = shape.setdefault(r, (q, set()))
                    shape[r] = (max(need, q), kinds | {(k, node.device_size(r))})
                    break
        if line is None and not p.scheduling:
            for r, q in dem.items():
                if r in node.devices:  # said in device terms below
                    continue
                free = node.capacity.get(r, 0.0) - sweep.load[n].get(r, 0.0)
                if q > free + CAP_TOL:
                    line = f"{r} {num(q)} needed, {num(max(free, 0.0))} free"
                    shortage.setdefault(r, _Shortage(q)).see(q, free, node.id)
                    break
            if line is None:
                line = _device_block(p, n, dem, sweep.device_load, one_device, whole)
        elif line is None:
            line = _schedule_block(st, sweep, task, n, start)
            if line is not None:
                too_big = False
                for r, q in dem.items():
                    cap = node.capacity.get(r, 0.0)
                    if q > cap + CAP_TOL and task.duration_at(node) > 0:
                        too_big = True
                        shortage.setdefault(r, _Shortage(q)).see(q, cap, node.id)
                if not too_big:
                    time_blocked += 1
        if line is None:
            fit_nodes.append(n)
            line = "has room"
        node_lines.append(f"node {node.id}: {line}")
    if len(node_lines) > MAX_DETAILS:
        node_lines = [*node_lines[:MAX_DETAILS], f"... and {len(node_lines) - MAX_DETAILS} more"]
    details.extend(node_lines)
    nfit = len(fit_nodes)
    fit_names = [p.nodes[n].id for n in fit_nodes]
    if nfit >= task.replicas:
        if task.spread is not None:
            sp = task.spread
            per_value = [0] * len(sp.values)
            for n in fit_nodes:
                per_value[sp.value_of[n]] += 1
            if not spread_feasible([0] * len(per_value), per_value, task.replicas, sp.max_skew):
                per = ", ".join(f"{x} {c}" for x, c in zip(sp.values, per_value, strict=True))
                return (
                    f"its {task.replicas} replicas cannot be spread over {sp.key} within "
                    f"max_skew {sp.max_skew}: nodes with room per {sp.key}: {per}",
                    details,
                    0,
                )
        shown = ", ".join(fit_names[:5]) + (", ..." if nfit > 5 else "")
        why = "not required, and the solver left it out" if not task.required else "not placed"
        return f"{why}; it fits now on {nfit} allowed node(s) ({shown})", details, nfit
    if nfit > 0:
        return (
            f"needs {task.replicas} replicas on distinct nodes; only {nfit} allowed node(s) have "
            f"room ({', '.join(fit_names[:5])})",
            details,
            nfit,
        )
    room = "" if p.scheduling else "free "
    n_kinds = len(shortage) + len(one_device) + len(whole) + len(shape)
    if n_kinds == 1 and not sep_blocked and not time_blocked:
        if shortage:
            r, s = next(iter(shortage.items()))
            return (
                f"needs {r} {num(s.need)}; the largest {room}{r} on an allowed node is "
                f"{num(max(s.best, 0.0))}",
                details,
                0,
            )
        if one_device:
            r, s = next(iter(one_device.items()))
            return (
                f"{r}: {num(s.need)} needed on one device; the freest device of {s.node} has "
                f"{num(max(s.best, 0.0))}",
                details,
                0,
            )
        if whole:
            r, s = next(iter(whole.items()))
            return (
                f"{r}: {int(s.need)} whole devices needed on one node; {s.node} has "
                f"{int(max(s.best, 0))} free",
                details,
                0,
            )
        res, (q, devs) = next(iter(shape.items()))
        return f"no allowed node's devices can take it: {_shape_words(res, q, devs)}", details, 0
    parts = []
    if shortage:
        parts.append(
            "short of "
            + ", ".join(
                f"{r} (needs {num(s.need)}, at most {num(max(s.best, 0))} free)"
                for r, s in shortage.items()
            )
        )
    for r, s in one_device.items():
        parts.append(f"{r}: {num(s.need)} needed on one device, at most {num(max(s.best, 0))} free")
    for r, s in whole.items():
        parts.append(f"{r}: {int(s.need)} whole devices needed, at most {int(max(s.best, 0))} free")
    for res, (q, devs) in shape.items():
        parts.append(_shape_words(res, q, devs))
    if time_blocked:
        parts.append(f"no time window on {time_blocked} node(s)")
    if sep_blocked:
        parts.append(f"{sep_blocked} node(s) run a task it must be kept apart from")
    return "no allowed node can take it: " + "; ".join(parts), details, 0


def _shape_words(r: str, q: float, kinds: set[tuple[int, float]]) -> str:
    offered = ", ".join(f"{k} devices of {num(s)}" for k, s in sorted(kinds)[:3])
    return (
        f"{r} {num(q)} is neither a share of one device nor a whole number of devices ({offered})"
    )


def _device_block(
    p: Problem,
    n: int,
    dem: Mapping[str, float],
    device_load: dict[tuple[int, str], list[float]],
    one_device: dict[str, _Shortage],
    whole: dict[str, _Shortage],
) -> str | None:
    """Placement: why the devices of node ``n`` cannot take a replica now, or None."""
    node = p.nodes[n]
    for r, k in node.devices.items():
        q = dem.get(r, 0.0)
        if q <= 0:
            continue
        size = node.device_size(r)
        shape = device_shape(q, size, k)
        assert shape is not None  # checked before
        m, take = shape
        loads = device_load[(n, r)]
        if m == 1:
            free = size - min(loads)
            if take > free + CAP_TOL:
                one_device.setdefault(r, _Shortage(take)).see(take, free, node.id)
                return (
                    f"{r}: {num(take)} needed on one device; the freest device of {node.id} has "
                    f"{num(max(free, 0.0))}"
                )
        else:
            empty = sum(1 for x in loads if x <= CAP_TOL)
            if empty < m:
                whole.setdefault(r, _Shortage(m)).see(m, empty, node.id)
                return f"{r}: {m} whole devices needed; {node.id} has {empty} free"
    return None


def _gang_start(st: PlanState, task: Task) -> int | None:
    """The start of the placed members of the task's gang when it starts together."""
    if task.gang is None or task.gang not in st.p.same_start:
        return None
    for m in st.p.gangs[task.gang]:
        for pl in st.placed.get(m, {}).values():
            return pl.start
    return None


def _schedule_block(
    st: PlanState, sweep: _Sweep, task: Task, n: int, gang_start: int | None
) -> str | None:
    """Why a replica of ``task`` cannot run on node ``n`` in this schedule, or None if it can."""
    p = st.p
    node = p.nodes[n]
    dem = task.demand_at(n)
    d = task.duration_at(node)
    for r, q in dem.items():
        cap = node.capacity.get(r, 0.0)
        if q > cap + CAP_TOL and d > 0:  # a zero-length run occupies nothing
            return f"{r} {num(q)} needed, capacity {num(cap)}"
    earliest = task.release or 0
    for q in task.after:
        for pl in st.placed.get(q, {}).values():
            earliest = max(earliest, pl.end or 0)
    limits = [x for x in (task.deadline, p.horizon) if x is not None]
    latest_end = min(limits) if limits else None
    if gang_start is not None:
        if gang_start < earliest:
            return f"its gang starts together at {gang_start}, before it may start ({earliest})"
        earliest = gang_start
    if latest_end is not None and earliest + d > latest_end:
        return f"earliest start {earliest} + duration {d} = {earliest + d} > {latest_end}"
    if d == 0:
        return None
    ivs = sweep.profiles[n] if sweep.profiles else []
    devs = sweep.device_profiles or {}
    use = p.device_use(task.index, n) or {}
    # candidate starts: earliest and every end of an interval after it
    if gang_start is not None or task.service:
        cands = [earliest]
    else:
        ends = {e for _, e, _ in ivs if e > earliest}
        ends |= {e for (m, _, _), dv in devs.items() if m == n for _, e, _ in dv if e > earliest}
        cands = sorted({earliest, *ends})
    for s in cands:
        if latest_end is not None and s + d > latest_end:
            break
        if _fits_window(ivs, s, s + d, dem, node.capacity) and all(
            _devices_free(devs, n, r, node.devices[r], node.device_size(r), m, take, s, s + d)
            for r, (m, take) in use.items()
        ):
            return None
    until = f" by {latest_end}" if latest_end is not None else ""
    what = "its demand" if not use else "its demand and devices"
    if gang_start is not None:
        return f"no room for {what} at {gang_start}, when its gang starts together"
    return f"no window of {d} with {what} free from {earliest}{until}"


def _fits_window(ivs: Profile, s: int, e: int, dem: Mapping[str, float], cap: Any) -> bool:
    points = sorted({s, *(a for a, _, _ in ivs if s < a < e)})
    for t in points:
        for r, q in dem.items():
            if q <= 0:
                continue
            used = sum(d.get(r, 0.0) for a, b, d in ivs if a <= t < b)
            if used + q > cap.get(r, 0.0) + CAP_TOL:
                return False
    return True


def _devices_free(
    devs: Mapping[tuple[int, str, int], DeviceProfile],
    n: int,
    r: str,
    count: int,
    size: float,
    m: int,
    take: float,
    s: int,
    e: int,
) -> bool:
    """Whether ``m`` of the ``count`` devices of ``r`` (each of ``size``) on node ``n`` each
    have ``take`` free over [s, e)."""
    good = 0
    for j in range(count):
        ivs = devs.get((n, r, j), [])
        points = sorted({s, *(a for a, _, _ in ivs if s < a < e)})
        peak = max((sum(q for a, b, q in ivs if a <= t < b) for t in points), default=0.0)
        if peak + take <= size + CAP_TOL:
            good += 1
            if good >= m:
                return True
    return False


# -- plans -----------------------------------------------------------------------------------


def make_plan(
    problem: Problem,
    assignments: Sequence[Assignment],
    solver: SolverInfo,
    *,
    infeasibility: Sequence[str] = (),
    path: str | None = None,
) -> tuple[Plan, Evaluation]:
    """Build the plan file for a solver's assignments; objective and metrics by the evaluator."""
    ev = evaluate(problem, assignments)
    if solver.status in (Status.OPTIMAL, Status.FEASIBLE) or assignments:
        solver.objective = dict(ev.objective)
        solver.fitness = ev.fitness
    ordered = sorted(
        assignments,
        key=lambda a: (problem.task_index.get(a.task, -1), a.replica),
    )
    plan = Plan(
        problem_name=problem.name,
        problem_sha256=problem.sha256,
        solver=solver,
        assignments=list(ordered),
        unplaced=ev.unplaced,
        metrics=ev.metrics(),
        problem_path=path,
        infeasibility=list(infeasibility),
    )
    return plan, ev


@dataclass
class CheckReport:
    ok: bool
    violations: list[Violation]
    evaluation: Evaluation
    warnings: list[str]


def check(problem: Problem, plan: Plan) -> CheckReport:
    """Every constraint, and the plan's stated objective against the recomputed one."""
    ev = evaluate(problem, plan.assignments, reasons=False)
    violations = list(ev.violations)
    warnings: list[str] = []
    if plan.problem_sha256 != problem.sha256:
        warnings.append(
            "the plan was made for a file with other bytes (sha256 differs); "
            "checking it against this problem anyway"
        )
    stated = plan.solver.objective
    has_plan = plan.solver.status in (Status.OPTIMAL, Status.FEASIBLE)
    if stated is None:
        if has_plan:
            violations.append(
                Violation("objective", f"status is {plan.solver.status} but no objective is stated")
            )
    else:
        for term, value in stated.items():
            if term not in ev.terms:
                violations.append(
                    Violation(
                        "objective", f"objective term '{term}' is not defined for this problem"
                    )
                )
                continue
            real = ev.terms[term]
            if not math.isclose(value, real, rel_tol=OBJ_RTOL, abs_tol=CAP_TOL):
                violations.append(
                    Violation(
                        "objective",
                        f"objective {term}: plan states {num(value)}, recomputed {num(real)}",
                    )
                )
        missing = [t for t in problem.objective.terms if t not in stated]
        if missing and has_plan:
            violations.append(
                Violation("objective", f"objective term(s) {', '.join(missing)} not stated")
            )
    if plan.solver.status == Status.INFEASIBLE and plan.assignments:
        warnings.append("status is infeasible but the plan has assignments")
    return CheckReport(ok=not violations, violations=violations, evaluation=ev, warnings=warnings)
