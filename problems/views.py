"""What reports show, as data: who runs where and when, per node, per task and per device.

Everything here is computed from the problem, the plan's assignments and the evaluator's
:class:`~taskalloc.problems.evaluate.Evaluation`; nothing is taken from a solver. Renderers
(``taskalloc report --view``, the HTML report) only lay these out.

* :func:`node_views`: each node with its replicas, load and utilisation per resource and, on
  nodes whose resources are split into devices (FORMATS.md revision 2), the load of each device.
* :func:`task_views`: each task with its node(s), start and end, slack to its deadline and due
  date, and why it is unplaced.
* :func:`schedule` and :func:`lanes`: the replicas of a schedule by node and start, packed into
  lanes for a Gantt chart (replicas that overlap in time on a node go to different lanes).
* :func:`load_over_time`: per node (or pool) and time bin, the utilisation of each resource.
* :func:`fitness_formula`: the scalar fitness written out as its formula, with the values.
* :func:`pool_views`: nodes aggregated by pool (``count`` entries of the problem file), for
  fleets too large to show node by node.

Devices (FORMATS.md revision 2): a node's devices are the problem's (:attr:`Node.devices
<taskalloc.problems.entities.Node.devices>`, each of :meth:`~taskalloc.problems.entities.Node.
device_size`), the devices a replica uses its assignment's (:attr:`Assignment.devices
<taskalloc.problems.plan.Assignment.devices>`), and the load of each device the evaluator's
(``Evaluation.device_utilisation``: the peak over time in a schedule), so that every report
shows what ``check`` judged. A version-1 problem has no device figures.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entities import Problem
from .evaluate import Evaluation, fitness_weights
from .plan import Assignment

# -- placements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """One placed replica."""

    task: str
    replica: int
    node: str
    start: int | None = None
    end: int | None = None
    devices: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    of: int = 1  # replicas of its task
    service: bool = False  # a replica of a service (runs for the whole plan)

    @property
    def label(self) -> str:
        """``task`` for a task of one replica, else ``task#replica``."""
        return self.task if self.of == 1 else self.name

    @property
    def name(self) -> str:
        return f"{self.task}#{self.replica}"

    def devices_text(self) -> str:
        """``gpu 0,1`` (empty without devices)."""
        return "; ".join(
            f"{r} {','.join(str(i) for i in ids)}" for r, ids in sorted(self.devices.items())
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "replica": self.replica, "node": self.node}
        if self.start is not None:
            d["start"] = self.start
            d["end"] = self.end
        if self.devices:
            d["devices"] = {r: list(ids) for r, ids in sorted(self.devices.items())}
        return d


def assignment_devices(a: Assignment) -> dict[str, tuple[int, ...]]:
    """The devices an assignment names (``devices: {gpu: [3]}``), or {} when it names none."""
    return {r: tuple(ids) for r, ids in (a.devices or {}).items()}


def placements(problem: Problem, assignments: Sequence[Assignment]) -> list[Placement]:
    """Every assignment to a known task and node, in problem order (task, replica)."""
    ti, ni = problem.task_index, problem.node_index
    tasks = problem.tasks
    out = [
        Placement(
            a.task,
            a.replica,
            a.node,
            a.start,
            a.end,
            assignment_devices(a),
            tasks[ti[a.task]].replicas,
            tasks[ti[a.task]].service,
        )
        for a in assignments
        if a.task in ti and a.node in ni
    ]
    out.sort(key=lambda p: (ti[p.task], p.replica))
    return out


# -- nodes -----------------------------------------------------------------------------------


@dataclass
class DeviceLoad:
    """The devices of one resource on one node: ``count`` devices of ``size`` each, and the
    load on each (the peak over time in a scheduling problem)."""

    resource: str
    count: int
    size: float
    load: list[float]

    @property
    def utilisation(self) -> list[float]:
        return [q / self.size if self.size > 0 else 0.0 for q in self.load]

    @property
    def full(self) -> int:
        return sum(1 for u in self.utilisation if u >= 1 - 1e-9)

    @property
    def partial(self) -> int:
        return sum(1 for u in self.utilisation if 1e-9 < u < 1 - 1e-9)

    @property
    def free(self) -> int:
        return self.count - self.full - self.partial

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "count": self.count,
            "size": _tidy(self.size),
            "load": [_tidy(q) for q in self.load],
            "utilisation": [_tidy(u) for u in self.utilisation],
        }


@dataclass
class NodeView:
    id: str
    pool: str
    capacity: dict[str, float]
    load: dict[str, float]  # peak load per resource (capacity > 0)
    utilisation: dict[str, float]
    average: dict[str, float] | None  # scheduling: time-average utilisation over the makespan
    replicas: list[Placement]
    devices: dict[str, DeviceLoad]
    cost: float = 0.0

    @property
    def used(self) -> bool:
        return bool(self.replicas)

    @property
    def peak(self) -> float:
        """The largest utilisation of any resource."""
        return max(self.utilisation.values(), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "node": self.id,
            "pool": self.pool,
            "replicas": [p.to_dict() for p in self.replicas],
            "resources": {
                r: {
                    "capacity": _tidy(cap),
                    "load": _tidy(self.load.get(r, 0.0)),
                    "utilisation": _tidy(self.utilisation.get(r, 0.0)),
                    **(
                        {"average_utilisation": _tidy(self.average.get(r, 0.0))}
                        if self.average is not None
                        else {}
                    ),
                }
                for r, cap in self.capacity.items()
                if cap > 0
            },
        }
        if self.devices:
            d["devices"] = {r: dv.to_dict() for r, dv in self.devices.items()}
        return d


def node_views(
    problem: Problem, assignments: Sequence[Assignment], ev: Evaluation
) -> list[NodeView]:
    """One row per node of the problem, in the problem's order."""
    by_node: dict[str, list[Placement]] = defaultdict(list)
    for p in placements(problem, assignments):
        by_node[p.node].append(p)
    out = []
    for n in problem.nodes:
        util = ev.utilisation.get(n.id, {})
        caps = {r: float(q) for r, q in n.capacity.items() if q > 0}
        reps = by_node.get(n.id, [])
        if problem.scheduling:
            reps.sort(key=lambda p: (p.start or 0, p.end or 0, p.task, p.replica))
        out.append(
            NodeView(
                id=n.id,
                pool=n.pool,
                capacity=caps,
                load={r: util.get(r, 0.0) * caps[r] for r in caps},
                utilisation={r: util.get(r, 0.0) for r in caps},
                average=(
                    dict(ev.average_utilisation.get(n.id, {}))
                    if ev.average_utilisation is not None
                    else None
                ),
                replicas=reps,
                devices=_device_loads(problem, n.index, ev),
                cost=n.cost,
            )
        )
    return out


def _device_loads(problem: Problem, node: int, ev: Evaluation) -> dict[str, DeviceLoad]:
    """Per resource the node splits into devices, the load on each device, as the evaluator
    found it (its utilisation times the device's size; the peak over time in a schedule)."""
    n = problem.nodes[node]
    found = ev.device_utilisation.get(n.id, {})
    out: dict[str, DeviceLoad] = {}
    for r in problem.resources:  # in the problem's resource order
        k = n.devices.get(r, 0)
        size = n.device_size(r)
        if k < 1 or size <= 0:
            continue
        util = list(found.get(r, ())) or [0.0] * k
        out[r] = DeviceLoad(r, k, size, [u * size for u in util])
    return out


# -- pools -----------------------------------------------------------------------------------


@dataclass
class PoolView:
    """The nodes of one entry of the problem file (``count`` expands it), aggregated."""

    id: str
    nodes: list[str]
    used: int
    capacity: dict[str, float]
    load: dict[str, float]  # sum of the nodes' peak loads
    peak: dict[str, float]  # largest utilisation of any member, per resource
    devices: dict[str, tuple[int, int, int]]  # resource -> (full, partial, free) devices

    @property
    def utilisation(self) -> dict[str, float]:
        return {r: self.load[r] / c if c > 0 else 0.0 for r, c in self.capacity.items()}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "pool": self.id,
            "nodes": len(self.nodes),
            "used": self.used,
            "utilisation": {r: _tidy(u) for r, u in self.utilisation.items()},
            "peak_utilisation": {r: _tidy(u) for r, u in self.peak.items()},
        }
        if self.devices:
            d["devices"] = {
                r: {"full": f, "partial": p, "free": x} for r, (f, p, x) in self.devices.items()
            }
        return d


def pool_views(problem: Problem, nodes: Sequence[NodeView]) -> list[PoolView]:
    """Nodes grouped by pool, in the order pools first appear."""
    groups: dict[str, list[NodeView]] = {}
    for nv in nodes:
        groups.setdefault(nv.pool, []).append(nv)
    out = []
    for pool, members in groups.items():
        cap: dict[str, float] = defaultdict(float)
        load: dict[str, float] = defaultdict(float)
        peak: dict[str, float] = defaultdict(float)
        dev: dict[str, list[int]] = {}
        for nv in members:
            for r, c in nv.capacity.items():
                cap[r] += c
                load[r] += nv.load.get(r, 0.0)
                peak[r] = max(peak[r], nv.utilisation.get(r, 0.0))
            for r, dl in nv.devices.items():
                acc = dev.setdefault(r, [0, 0, 0])
                acc[0] += dl.full
                acc[1] += dl.partial
                acc[2] += dl.free
        order = [r for r in problem.resources if r in cap]
        out.append(
            PoolView(
                id=pool,
                nodes=[nv.id for nv in members],
                used=sum(1 for nv in members if nv.used),
                capacity={r: cap[r] for r in order},
                load={r: load[r] for r in order},
                peak={r: peak[r] for r in order},
                devices={r: (v[0], v[1], v[2]) for r, v in dev.items()},
            )
        )
    return out


# -- tasks -----------------------------------------------------------------------------------


@dataclass
class TaskView:
    id: str
    replicas: int
    placed: list[Placement]
    required: bool
    priority: float
    gang: str | None
    start: int | None = None  # earliest start of its replicas (scheduling)
    end: int | None = None  # latest end of its replicas (scheduling)
    release: int | None = None
    deadline: int | None = None
    due: int | None = None
    reason: str | None = None  # why it is unplaced
    details: tuple[str, ...] = ()

    @property
    def deadline_slack(self) -> int | None:
        """Time units between its end and its deadline (>= 0 in a feasible plan)."""
        if self.deadline is None or self.end is None:
            return None
        return self.deadline - self.end

    @property
    def due_slack(self) -> int | None:
        """Time units between its end and its due date; negative: that late."""
        if self.due is None or self.end is None:
            return None
        return self.due - self.end

    @property
    def nodes(self) -> list[str]:
        return [p.node for p in self.placed]

    def to_dict(self, scheduling: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task": self.id,
            "replicas": self.replicas,
            "placed": len(self.placed),
            "required": self.required,
            "priority": _tidy(self.priority),
            "gang": self.gang,
            "nodes": self.nodes,
            "placements": [p.to_dict() for p in self.placed],
        }
        if scheduling:
            d.update(
                start=self.start,
                end=self.end,
                release=self.release,
                deadline=self.deadline,
                deadline_slack=self.deadline_slack,
                due=self.due,
                due_slack=self.due_slack,
            )
        d["reason"] = self.reason
        if self.details:
            d["details"] = list(self.details)
        return d


def task_views(
    problem: Problem, assignments: Sequence[Assignment], ev: Evaluation
) -> list[TaskView]:
    """One row per task of the problem, in the problem's order."""
    by_task: dict[str, list[Placement]] = defaultdict(list)
    for p in placements(problem, assignments):
        by_task[p.task].append(p)
    why = {u.task: u for u in ev.unplaced}
    out = []
    for t in problem.tasks:
        placed = by_task.get(t.id, [])
        starts = [p.start for p in placed if p.start is not None]
        ends = [p.end for p in placed if p.end is not None]
        u = why.get(t.id)
        out.append(
            TaskView(
                id=t.id,
                replicas=t.replicas,
                placed=placed,
                required=t.required,
                priority=t.priority,
                gang=t.gang,
                start=min(starts) if starts else None,
                end=max(ends) if ends else None,
                release=t.release,
                deadline=t.deadline,
                due=t.due,
                reason=u.reason if u is not None else None,
                details=u.details if u is not None else (),
            )
        )
    return out


# -- schedules -------------------------------------------------------------------------------


def schedule(problem: Problem, assignments: Sequence[Assignment]) -> list[Placement]:
    """The placed replicas of a schedule by node (problem order), start, end and task."""
    ni = problem.node_index
    rows = [p for p in placements(problem, assignments) if p.start is not None]
    rows.sort(key=lambda p: (ni[p.node], p.start or 0, p.end or 0, p.task, p.replica))
    return rows


def lanes(rows: Sequence[Placement]) -> list[int]:
    """A lane for each replica of one node (``rows`` sorted by start) so that replicas in one
    lane never overlap in time: the lowest lane free at its start (interval partitioning, the
    fewest lanes possible)."""
    ends: list[int] = []  # end of the last replica in each lane
    out = []
    for p in rows:
        s, e = p.start or 0, p.end or 0
        for i, last in enumerate(ends):
            if last <= s:
                ends[i] = max(e, s)
                out.append(i)
                break
        else:
            ends.append(max(e, s))
            out.append(len(ends) - 1)
    return out


def makespan(rows: Sequence[Placement]) -> int:
    """The latest end of a replica that is not a service's (FORMATS.md: ``makespan`` ignores
    services), as the objective term counts it."""
    return max((p.end or 0 for p in rows if not p.service), default=0)


def span(rows: Sequence[Placement]) -> int:
    """The latest end of any replica, services' (which run to the horizon) included: where a
    time axis ends."""
    return max((p.end or 0 for p in rows), default=0)


@dataclass
class LoadOverTime:
    """Utilisation per row (node or pool), resource and time bin: ``values[row][r][j]`` is the
    mean over bin ``j`` ([edges[j], edges[j + 1])) of load / capacity."""

    rows: list[str]
    resources: list[str]
    edges: list[float]
    values: list[dict[str, list[float]]]

    def dominant(self) -> list[list[float]]:
        """Per row and bin, the largest utilisation of any resource."""
        out = []
        for row in self.values:
            bins = len(self.edges) - 1
            out.append([max((row[r][j] for r in row), default=0.0) for j in range(bins)])
        return out


def load_over_time(
    problem: Problem,
    assignments: Sequence[Assignment],
    *,
    bins: int = 120,
    by_pool: bool = False,
) -> LoadOverTime:
    """Time-binned utilisation of every node (or pool, summing its members' loads and
    capacities) over [0, the latest end of a replica)."""
    import numpy as np

    rows = schedule(problem, assignments)
    end = span(rows)
    nbins = max(1, min(bins, end)) if end > 0 else 1
    edges = np.linspace(0.0, float(max(end, 1)), nbins + 1)
    lo, hi = edges[:-1], edges[1:]
    width = hi - lo
    keys = [n.pool if by_pool else n.id for n in problem.nodes]
    order = list(dict.fromkeys(keys))
    cap: dict[str, dict[str, float]] = {k: defaultdict(float) for k in order}
    for n, k in zip(problem.nodes, keys, strict=True):
        for r, q in n.capacity.items():
            if q > 0:
                cap[k][r] += q
    area: dict[str, dict[str, Any]] = {k: {} for k in order}
    ni, ti = problem.node_index, problem.task_index
    for p in rows:
        s, e = float(p.start or 0), float(p.end or 0)
        if e <= s:
            continue
        overlap = np.clip(np.minimum(hi, e) - np.maximum(lo, s), 0.0, None)
        at = ni[p.node]
        k = keys[at]
        for r, q in problem.tasks[ti[p.task]].demand_at(at).items():
            if q > 0 and r in cap[k]:
                acc = area[k].get(r)
                area[k][r] = overlap * q if acc is None else acc + overlap * q
    values = []
    for k in order:
        row = {}
        for r in problem.resources:
            c = cap[k].get(r, 0.0)
            if c <= 0:
                continue
            a = area[k].get(r)
            row[r] = [0.0] * nbins if a is None else [float(x) for x in a / (width * c)]
        values.append(row)
    return LoadOverTime(order, list(problem.resources), [float(x) for x in edges], values)


# -- online replay (what `simulate` recorded) ------------------------------------------------


@dataclass
class SimulationView:
    """What ``taskalloc simulate`` recorded under the plan's ``metrics.simulation``, read
    defensively (a plan file is the user's: a field missing or of the wrong type is left out,
    never an error). Unlike every other view, these figures are the replay's own record, not
    recomputed: wait times need the moments tasks became ready, which only the replay saw.

    ``kind`` ``scheduling``: ``figures`` (makespan, tardiness, waits, misses) and ``series``
    (``time`` and, per resource, fleet load / capacity from that instant on). ``placement``:
    ``figures`` (arrived, placed, dropped, GPU allocated) and ``series`` (``arrived_percent``
    and ``allocated_percent``, one point per arrival: the allocation curve)."""

    kind: str
    policy: str
    queue: str | None
    figures: dict[str, float | int | None]
    series: dict[str, list[float]]
    resource: str | None = None  # placement: the resource of the curve (the GPU)
    stopped: bool = False
    #: ``simulate --against PLAN``: the plan's file and solver, and per term (online, plan)
    against: tuple[str, str, dict[str, tuple[float, float]]] | None = None

    def against_text(self) -> str:
        """``against plan.yaml (cpsat): makespan +14.7 %, tardiness 591 vs 272`` or ''."""
        if self.against is None:
            return ""
        name, solver, terms = self.against
        parts = []
        for t, (a, b) in terms.items():
            rel = f" ({(a - b) / b * 100:+.1f} %)" if b else ""
            parts.append(f"{t} {_num(a)} vs {_num(b)}{rel}")
        return f"against {name} ({solver}): " + ", ".join(parts)

    def line(self) -> str:
        """One line for a terminal summary."""
        f = self.figures
        head = f"{self.kind} replay, {self.policy}" + (
            f", queue {self.queue}" if self.queue else ""
        )
        parts: list[str] = []
        if self.kind == "scheduling":
            if "placed" in f and "tasks" in f:
                parts.append(f"{_num(f['placed'] or 0)}/{_num(f['tasks'] or 0)} tasks started")
            if f.get("missed_deadline"):
                parts.append(f"{_num(f['missed_deadline'] or 0)} missed their deadline")
            for key, label in (("makespan", "makespan"), ("tardiness", "tardiness")):
                if f.get(key) is not None:
                    parts.append(f"{label} {_num(f[key] or 0)}")
            if f.get("mean_wait") is not None:
                wait = f"wait mean {float(f['mean_wait'] or 0):.1f}"
                if f.get("p95_wait") is not None:
                    wait += f" p95 {_num(f['p95_wait'] or 0)}"
                parts.append(wait)
            peak = [f"{r} {max(v) * 100:.0f}%" for r, v in self.series.items() if r != "time" and v]
            if peak:
                parts.append("fleet peak " + ", ".join(peak))
        else:
            if "placed" in f and "arrived" in f:
                parts.append(
                    f"{_num(f['placed'] or 0)}/{_num(f['arrived'] or 0)} arrived tasks placed"
                )
            if f.get("allocated_at_arrived_100") is not None:
                parts.append(
                    f"{self.resource or 'GPU'} allocated at arrived = 100 %: "
                    f"{float(f['allocated_at_arrived_100'] or 0):.2f} %"
                )
            elif f.get("allocated_percent") is not None:
                parts.append(
                    f"{self.resource or 'GPU'} allocated at the end: "
                    f"{float(f['allocated_percent'] or 0):.2f} %"
                )
        if self.stopped:
            parts.append("stopped early")
        line = head + (": " + ", ".join(parts) if parts else "")
        return line + (f"; {self.against_text()}" if self.against is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "policy": self.policy,
            **({"queue": self.queue} if self.queue else {}),
            **({"resource": self.resource} if self.resource else {}),
            "stopped": self.stopped,
            "figures": dict(self.figures),
            "series": {k: list(v) for k, v in self.series.items()},
            **(
                {}
                if self.against is None
                else {
                    "against": {
                        "plan": self.against[0],
                        "solver": self.against[1],
                        "terms": {
                            t: {"online": a, "plan": b} for t, (a, b) in self.against[2].items()
                        },
                    }
                }
            ),
        }


_SCHEDULING_FIGURES = (
    "tasks",
    "placed",
    "unplaced",
    "missed_deadline",
    "makespan",
    "tardiness",
    "mean_wait",
    "p95_wait",
)
_PLACEMENT_FIGURES = (
    "tasks",
    "arrived",
    "placed",
    "dropped",
    "devices",
    "arrived_percent",
    "allocated_percent",
    "allocated_at_arrived_100",
)


def simulation_view(metrics: Mapping[str, Any]) -> SimulationView | None:
    """The replay a plan records (``metrics``: the plan's metrics), or None when it records
    none (a plan of ``solve``) or an unreadable one."""
    sim = metrics.get("simulation") if isinstance(metrics, Mapping) else None
    if not isinstance(sim, Mapping):
        return None
    kind = sim.get("kind")
    policy = sim.get("policy")
    if kind not in ("scheduling", "placement") or not isinstance(policy, str):
        return None

    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    names = _SCHEDULING_FIGURES if kind == "scheduling" else _PLACEMENT_FIGURES
    figures: dict[str, float | int | None] = {k: sim[k] for k in names if number(sim.get(k))}
    raw = sim.get("utilisation") if kind == "scheduling" else sim.get("curve")
    series: dict[str, list[float]] = {}
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            if isinstance(k, str) and isinstance(v, list) and all(number(x) for x in v):
                series[k] = [float(x) for x in v]
    axis, lines = (
        ("time", None) if kind == "scheduling" else ("arrived_percent", "allocated_percent")
    )
    lengths = {len(v) for v in series.values()}
    drawable = (
        axis in series
        and len(series) > 1
        and (lines is None or lines in series)
        and len(lengths) == 1
        and bool(series[axis])
    )
    if not drawable:
        series = {}  # an axis or its lines missing, or of different lengths: nothing to draw
    queue = sim.get("queue") if isinstance(sim.get("queue"), str) else None
    resource = sim.get("resource") if isinstance(sim.get("resource"), str) else None
    return SimulationView(
        kind=kind,
        policy=policy,
        queue=queue,
        figures=figures,
        series=series,
        resource=resource,
        stopped=sim.get("stopped") is True,
        against=_against(sim.get("against"), number),
    )


def _against(raw: Any, number: Any) -> tuple[str, str, dict[str, tuple[float, float]]] | None:
    """``metrics.simulation.against`` (``simulate --against``), or None when absent or unread."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("terms"), Mapping):
        return None
    terms = {
        t: (float(v["online"]), float(v["plan"]))
        for t, v in raw["terms"].items()
        if isinstance(t, str)
        and isinstance(v, Mapping)
        and number(v.get("online"))
        and number(v.get("plan"))
    }
    if not terms:
        return None
    name, solver = raw.get("plan"), raw.get("solver")
    return (
        name if isinstance(name, str) else "a plan",
        solver if isinstance(solver, str) else "?",
        terms,
    )


# -- fitness ---------------------------------------------------------------------------------


@dataclass
class FitnessTerm:
    term: str
    weight: float
    value: float

    @property
    def product(self) -> float:
        return self.weight * self.value


@dataclass
class FitnessFormula:
    """The scalar fitness as ``sum(weight x term)``, with where the weights come from."""

    kind: str  # weights or lexicographic
    terms: list[FitnessTerm]
    fitness: float
    upper_bounds: dict[str, float]  # lexicographic: the bounds the weights are built from

    def symbolic(self) -> str:
        return " + ".join(f"{_num(t.weight)} × {t.term}" for t in self.terms)

    def with_values(self) -> str:
        return " + ".join(f"{_num(t.weight)} × {_num(t.value)}" for t in self.terms)

    def text(self) -> str:
        """``fitness = 2 × tardiness + 1 × makespan = 2 × 0 + 1 × 593 = 593``."""
        return f"fitness = {self.symbolic()} = {self.with_values()} = {_num(self.fitness)}"

    def explanation(self) -> str:
        if self.kind == "weights":
            return "the objective's weights; lower is better"
        if len(self.terms) <= 1:
            return "a single term; lower is better"
        parts = []
        for i, t in enumerate(self.terms[:-1]):
            later = self.terms[i + 1 :]
            parts.append(
                f"{t.term}: 1 + "
                + " + ".join(
                    f"{_num(x.weight)} × {_num(self.upper_bounds.get(x.term, 0.0))}" for x in later
                )
            )
        return (
            "lexicographic: each weight is 1 + the largest value the later terms can take, "
            "weighted, so a step of 1 in an earlier term outweighs any change in the later ones ("
            + "; ".join(parts)
            + "); lower is better"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "terms": [
                {"term": t.term, "weight": _tidy(t.weight), "value": _tidy(t.value)}
                for t in self.terms
            ],
            "fitness": _tidy(self.fitness),
            "formula": self.text(),
        }


def fitness_formula(problem: Problem, ev: Evaluation) -> FitnessFormula:
    weights = fitness_weights(problem)  # cached by the evaluator
    ub: dict[str, float] = {}
    if problem.objective.kind == "lexicographic":
        # W[i] = W[i + 1] * (1 + UB[i + 1]) + ... gives UB[i + 1] = (W[i] - W[i + 1]) / W[i + 1]
        # (the bounds themselves take a walk over every task and allowed node)
        order = list(weights)
        for first, second in itertools.pairwise(order):
            ub[second] = (weights[first] - weights[second]) / weights[second]
    return FitnessFormula(
        kind=problem.objective.kind,
        terms=[FitnessTerm(t, w, ev.terms.get(t, 0.0)) for t, w in weights.items()],
        fitness=ev.fitness,
        upper_bounds=ub,
    )


# -- helpers ---------------------------------------------------------------------------------


def _num(x: float) -> str:
    """A number for people: integers without decimals, others with up to 6 significant."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6g}"


def _tidy(x: float) -> float | int:
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return round(float(x), 6) if isinstance(x, float) else x
