"""A GPU fleet and its workload as arrays: what the online replay and the device planner share.

A :class:`Fleet` is a set of node *types* (identical capacity, devices and labels, and allowed
for the same tasks), each with its members; a :class:`Workload` is a sequence of tasks in
arrival order. Units are integers where the published schedulers compute with integers:

- CPU in milli-cores (``cpu`` of the problem x 1000);
- the GPU (the resource a node splits into ``devices``, FORMATS.md revision 2) in *milli-devices*:
  every device holds :data:`MILLI` (1000); a task takes ``milli`` (< 1000: a share of one device;
  1000: a whole device) on each of ``ngpu`` devices of one node (``ngpu`` is 0 for a task that
  needs no GPU, 1 for a share);
- every other resource (memory, ...) as a float, checked for fit only.

Two builders: :func:`fleet_from_dict` reads a problem as plain data (what
``taskalloc import openb`` writes, or any problem file parsed to a dict) and
:func:`fleet_from_problem` reads a compiled :class:`~taskalloc.problems.problem.Problem` whose nodes
carry ``devices`` (revision 2). Both go through one builder on plain records, so they agree.

What is supported: placement problems (no ``duration``) whose tasks have one replica and no
gang, ``separate_from``, ``demand_on`` or ``assign_cost`` (the online policies know none of
them), and whose nodes split at most one resource into devices, all of one size. A problem
without a split resource is read with every task GPU-free; without ``cpu``, CPU is 0 everywhere.
Anything else raises :class:`UnsupportedProblem` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem

__all__ = [
    "CPU",
    "MILLI",
    "Fleet",
    "UnsupportedProblem",
    "Workload",
    "fleet_from_dict",
    "fleet_from_problem",
    "plan_assignments",
    "unsupported",
]

MILLI = 1000
CPU = "cpu"
_TOL = 1e-9


class UnsupportedProblem(ValueError):
    """The problem uses something the device replay and planner do not model."""


@dataclass(frozen=True, eq=False)
class Fleet:
    """Node types and nodes. Arrays are read-only; ``node_type[n]`` indexes the type arrays."""

    type_ids: tuple[str, ...]  # a readable name per type (the pool id, or pool id + '#k')
    type_cpu: np.ndarray  # int64 [T]: milli-cores
    type_rest: np.ndarray  # float64 [T, R]: other resources, in the problem's units
    type_ndev: np.ndarray  # int64 [T]: devices (0: no GPU)
    type_model: tuple[str, ...]  # the node's `gpu_model` label, "" when absent
    node_ids: tuple[str, ...]  # [N]
    node_type: np.ndarray  # int64 [N]
    rest_names: tuple[str, ...]  # [R]
    gpu: str | None  # the resource split into devices
    device_size: float  # one device, in units of ``gpu`` (1.0 for openb)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_types(self) -> int:
        return len(self.type_ids)

    @property
    def max_devices(self) -> int:
        return int(self.type_ndev.max(initial=0))

    @property
    def type_count(self) -> np.ndarray:
        return np.bincount(self.node_type, minlength=self.n_types)

    @property
    def gpu_capacity_milli(self) -> int:
        """All devices of all nodes, in milli-devices."""
        return int((self.type_ndev[self.node_type]).sum()) * MILLI


@dataclass(frozen=True, eq=False)
class Workload:
    """Tasks in arrival order."""

    ids: tuple[str, ...]  # [J]
    cpu: np.ndarray  # int64 [J]: milli-cores
    rest: np.ndarray  # float64 [J, R]
    ngpu: np.ndarray  # int64 [J]: devices used (0, 1 for a share, k for k whole devices)
    milli: np.ndarray  # int64 [J]: milli-devices taken on each of those devices (0 if ngpu = 0)
    allowed: np.ndarray  # bool [J, T]: node types the task may use (selectors, node lists)
    priority: np.ndarray  # float64 [J]
    selector: tuple[str, ...]  # canonical text of the task's node restrictions ("" none)

    @property
    def n_tasks(self) -> int:
        return len(self.ids)

    @property
    def gpu_milli(self) -> np.ndarray:
        """GPU demand per task in milli-devices (``ngpu * milli``)."""
        return self.ngpu * self.milli

    def subset(self, index: Sequence[int] | np.ndarray) -> Workload:
        """The tasks at ``index``, in that order."""
        ix = np.asarray(index, dtype=np.int64)
        return Workload(
            ids=tuple(self.ids[i] for i in ix),
            cpu=_ro(self.cpu[ix]),
            rest=_ro(self.rest[ix]),
            ngpu=_ro(self.ngpu[ix]),
            milli=_ro(self.milli[ix]),
            allowed=_ro(self.allowed[ix]),
            priority=_ro(self.priority[ix]),
            selector=tuple(self.selector[i] for i in ix),
        )


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# -- the one builder ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _NodeRec:
    id: str
    pool: str
    capacity: Mapping[str, float]
    labels: Mapping[str, str]
    devices: Mapping[str, int]


@dataclass(frozen=True)
class _TaskRec:
    id: str
    demand: Mapping[str, float]
    priority: float
    allowed: frozenset[int] | None  # node indices; None: every node
    selector: str


def _build(nodes: Sequence[_NodeRec], tasks: Sequence[_TaskRec]) -> tuple[Fleet, Workload]:
    if not nodes:
        raise UnsupportedProblem("the problem has no node")
    split = sorted({r for n in nodes for r, k in n.devices.items() if k})
    if len(split) > 1:
        raise UnsupportedProblem(
            f"nodes split several resources into devices ({', '.join(split)}); the device "
            "replay models one (the GPU)"
        )
    gpu = split[0] if split else None
    size = 1.0
    if gpu is not None:
        sizes = set()
        for n in nodes:
            k = n.devices.get(gpu, 0)
            cap = float(n.capacity.get(gpu, 0.0))
            if k:
                sizes.add(round(cap / k, 9))
            elif cap > 0:
                raise UnsupportedProblem(
                    f"node {n.id} has {gpu} {cap:g} but no devices of it, while other nodes "
                    "split it into devices"
                )
        if len(sizes) > 1:
            raise UnsupportedProblem(
                f"the {gpu} devices differ in size ({', '.join(f'{s:g}' for s in sorted(sizes))})"
            )
        size = sizes.pop()
        if size <= 0:
            raise UnsupportedProblem(f"the {gpu} devices have size 0")
    rest = sorted(
        {r for n in nodes for r in n.capacity if r not in (CPU, gpu)}
        | {r for t in tasks for r in t.demand if r not in (CPU, gpu)}
    )
    ri = {r: i for i, r in enumerate(rest)}

    # node types: same capacity, devices, labels, and the same tasks allowing them
    distinct = list(dict.fromkeys(t.allowed for t in tasks if t.allowed is not None))
    signature: list[tuple[Any, ...]] = []
    for i, n in enumerate(nodes):
        signature.append(
            (
                tuple(sorted((r, float(q)) for r, q in n.capacity.items())),
                tuple(sorted(n.labels.items())),
                tuple(sorted((r, int(k)) for r, k in n.devices.items() if k)),
                tuple(k for k, s in enumerate(distinct) if i in s),
            )
        )
    type_of: dict[tuple[Any, ...], int] = {}
    node_type = np.empty(len(nodes), dtype=np.int64)
    first: list[int] = []
    for i, sig in enumerate(signature):
        if sig not in type_of:
            type_of[sig] = len(first)
            first.append(i)
        node_type[i] = type_of[sig]
    n_types = len(first)
    pools: dict[str, int] = {}
    type_ids: list[str] = []
    for i in first:
        p = nodes[i].pool
        pools[p] = pools.get(p, 0) + 1
        type_ids.append(p if pools[p] == 1 else f"{p}#{pools[p]}")
    type_cpu = np.array(
        [_milli_floor(float(nodes[i].capacity.get(CPU, 0.0))) for i in first], dtype=np.int64
    )
    type_rest = np.zeros((n_types, len(rest)))
    for k, i in enumerate(first):
        for r, q in nodes[i].capacity.items():
            if r in ri:
                type_rest[k, ri[r]] = float(q)
    type_ndev = np.array(
        [int(nodes[i].devices.get(gpu, 0)) if gpu else 0 for i in first], dtype=np.int64
    )
    type_model = tuple(str(nodes[i].labels.get("gpu_model", "")) for i in first)
    fleet = Fleet(
        type_ids=tuple(type_ids),
        type_cpu=_ro(type_cpu),
        type_rest=_ro(type_rest),
        type_ndev=_ro(type_ndev),
        type_model=type_model,
        node_ids=tuple(n.id for n in nodes),
        node_type=_ro(node_type),
        rest_names=tuple(rest),
        gpu=gpu,
        device_size=size,
    )

    J = len(tasks)
    cpu = np.zeros(J, dtype=np.int64)
    trest = np.zeros((J, len(rest)))
    ngpu = np.zeros(J, dtype=np.int64)
    milli = np.zeros(J, dtype=np.int64)
    allowed = np.ones((J, n_types), dtype=bool)
    prio = np.zeros(J)
    allowed_row: dict[frozenset[int], np.ndarray] = {}
    for j, t in enumerate(tasks):
        cpu[j] = _milli_ceil(float(t.demand.get(CPU, 0.0)))
        for r, q in t.demand.items():
            if r in ri:
                trest[j, ri[r]] = float(q)
        d = float(t.demand.get(gpu, 0.0)) if gpu else 0.0
        if d > 0:
            ratio = d / size
            if ratio <= 1 + _TOL:
                ngpu[j], milli[j] = 1, min(MILLI, _milli_ceil(ratio))
            else:
                m = round(ratio)
                if abs(ratio - m) > _TOL * max(1.0, ratio):
                    allowed[j, :] = False  # not a whole number of devices: fits no node
                    ngpu[j], milli[j] = max(1, math.ceil(ratio)), MILLI
                else:
                    ngpu[j], milli[j] = m, MILLI
        if t.allowed is not None:
            if t.allowed not in allowed_row:
                allowed_row[t.allowed] = np.array(
                    [int(first[k]) in t.allowed for k in range(n_types)], dtype=bool
                )
            allowed[j] &= allowed_row[t.allowed]
        prio[j] = t.priority
    workload = Workload(
        ids=tuple(t.id for t in tasks),
        cpu=_ro(cpu),
        rest=_ro(trest),
        ngpu=_ro(ngpu),
        milli=_ro(milli),
        allowed=_ro(allowed),
        priority=_ro(prio),
        selector=tuple(t.selector for t in tasks),
    )
    return fleet, workload


def _milli_ceil(x: float) -> int:
    return math.ceil(x * MILLI - _TOL * max(1.0, x * MILLI))


def _milli_floor(x: float) -> int:
    return math.floor(x * MILLI + _TOL * max(1.0, x * MILLI))


# -- from plain data ---------------------------------------------------------------------------


def _label(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _check_task(t: Mapping[str, Any]) -> None:
    tid = t.get("id")
    for key, what in (
        ("duration", "a duration (scheduling)"),
        ("gang", "a gang"),
        ("separate_from", "separate_from"),
        ("demand_on", "demand_on"),
        ("assign_cost", "assign_cost"),
    ):
        if t.get(key):
            raise UnsupportedProblem(f"task {tid} has {what}; the device replay places tasks alone")
    if int(t.get("replicas", 1)) != 1:
        raise UnsupportedProblem(f"task {tid} has {t['replicas']} replicas; give one per task")


def fleet_from_dict(problem: Mapping[str, Any]) -> tuple[Fleet, Workload]:
    """A problem as plain data (FORMATS.md revision 2 field names) as arrays.

    Pools expand as in the format (``id-1 .. id-count``); ``match`` compares labels as strings;
    ``nodes`` lists may name nodes or pools. The data is assumed valid otherwise (load it with
    the problem loader first to get located errors).
    """
    nodes: list[_NodeRec] = []
    pool_members: dict[str, list[int]] = {}
    for spec in problem["nodes"]:
        count = int(spec.get("count", 1))
        ids = [spec["id"]] if count == 1 else [f"{spec['id']}-{k}" for k in range(1, count + 1)]
        cap = {r: float(q) for r, q in (spec.get("capacity") or {}).items()}
        labels = {k: _label(v) for k, v in (spec.get("labels") or {}).items()}
        devices = {r: int(k) for r, k in (spec.get("devices") or {}).items()}
        members = pool_members.setdefault(spec["id"], [])
        for nid in ids:
            members.append(len(nodes))
            nodes.append(_NodeRec(nid, spec["id"], cap, labels, devices))
    by_id = {n.id: i for i, n in enumerate(nodes)}
    tasks: list[_TaskRec] = []
    for t in problem["tasks"]:
        _check_task(t)
        allowed: set[int] | None = None
        parts: list[str] = []
        if t.get("nodes") is not None:
            allowed = set()
            for ref in t["nodes"]:
                if ref in by_id:
                    allowed.add(by_id[ref])
                if ref in pool_members:
                    allowed.update(pool_members[ref])
            parts.append("nodes=" + ",".join(sorted(t["nodes"])))
        match = t.get("match")
        if match:
            ok = set()
            for i, n in enumerate(nodes):
                if all(
                    k in n.labels
                    and n.labels[k] in {_label(x) for x in (v if isinstance(v, list) else [v])}
                    for k, v in match.items()
                ):
                    ok.add(i)
            allowed = ok if allowed is None else allowed & ok
            for k in sorted(match):
                v = match[k]
                vals = sorted(_label(x) for x in (v if isinstance(v, list) else [v]))
                parts.append(f"{k}=" + "|".join(vals))
        tasks.append(
            _TaskRec(
                id=t["id"],
                demand={r: float(q) for r, q in (t.get("demand") or {}).items()},
                priority=float(t.get("priority", 1.0)),
                allowed=frozenset(allowed) if allowed is not None else None,
                selector=";".join(parts),
            )
        )
    return _build(nodes, tasks)


# -- from a compiled Problem (revision 2) ------------------------------------------------------


def unsupported(problem: Problem) -> str | None:
    """Why the array view cannot hold ``problem`` (one line, naming the first task or node
    that shows it), or None when it can: a placement problem whose tasks have one replica and
    no gang, ``separate_from``, ``demand_on`` or ``assign_cost``, whose nodes split at most one
    resource into devices, all of one size, and split it on every node that has it."""
    if problem.scheduling:
        return "it is a scheduling problem (tasks have a duration)"
    for t in problem.tasks:
        for present, what in (
            (t.replicas != 1, f"{t.replicas} replicas"),
            (t.gang is not None, f"a gang ({t.gang})"),
            (bool(t.separate), "separate_from"),
            (bool(t.demand_on), "demand_on"),
            (bool(t.assign_cost), "assign_cost"),
        ):
            if present:
                return f"task {t.id} has {what}; each task must be one replica placed on its own"
    split = problem.split_resources
    if len(split) > 1:
        return f"nodes split {len(split)} resources into devices ({', '.join(split)}); one at most"
    if split:
        gpu = split[0]
        sizes: dict[float, str] = {}
        for n in problem.nodes:
            cap = float(n.capacity.get(gpu, 0.0))
            k = n.devices.get(gpu, 0)
            if k:
                sizes.setdefault(round(cap / k, 9), n.id)
            elif cap > 0:
                return (
                    f"node {n.id} has {gpu} {cap:g} but no devices of it, while other nodes "
                    "split it into devices"
                )
        if len(sizes) > 1:
            shown = ", ".join(f"{s:g} ({n})" for s, n in sorted(sizes.items()))
            return f"the {gpu} devices differ in size: {shown}; they must all be of one size"
    return None


def fleet_from_problem(problem: Problem) -> tuple[Fleet, Workload]:
    """A compiled problem as arrays; :class:`UnsupportedProblem` with :func:`unsupported`'s
    reason for what the arrays do not model."""
    why = unsupported(problem)
    if why is not None:
        raise UnsupportedProblem(why)
    nodes = [
        _NodeRec(
            n.id,
            n.pool,
            dict(n.capacity),
            dict(n.labels),
            {r: int(k) for r, k in n.devices.items()},
        )
        for n in problem.nodes
    ]
    everyone = frozenset(range(len(nodes)))
    tasks: list[_TaskRec] = []
    for t in problem.tasks:
        allowed = frozenset(t.allowed)
        tasks.append(
            _TaskRec(
                id=t.id,
                demand=dict(t.demand),
                priority=float(t.priority),
                allowed=None if allowed == everyone else allowed,
                selector="" if allowed == everyone else "nodes:" + ",".join(map(str, t.allowed)),
            )
        )
    return _build(nodes, tasks)


# -- back to ids -------------------------------------------------------------------------------


def plan_assignments(
    fleet: Fleet,
    workload: Workload,
    node: Sequence[int] | np.ndarray,
    devices: Sequence[Sequence[int]],
) -> list[dict[str, Any]]:
    """Plan-file assignments (FORMATS.md revision 2) for tasks placed at ``node[j]`` (-1:
    unplaced) on ``devices[j]``: ``{task, replica: 0, node, devices: {gpu: [...]}}``."""
    out: list[dict[str, Any]] = []
    for j, n in enumerate(node):
        if n < 0:
            continue
        a: dict[str, Any] = {"task": workload.ids[j], "replica": 0, "node": fleet.node_ids[int(n)]}
        if fleet.gpu is not None and len(devices[j]):
            a["devices"] = {fleet.gpu: sorted(int(i) for i in devices[j])}
        out.append(a)
    return out


def inner_order(members: Sequence[int], preds: Callable[[int], Iterable[int]]) -> list[int]:
    """``members`` in the given order, each after the members it comes ``after``
    (``preds(m)``: the tasks ``m`` comes after; tasks other than members are ignored). The
    greedy and the GA's revision-2 decoder place a gang's members in this order."""
    inside = set(members)
    out: list[int] = []
    seen: set[int] = set()

    def visit(m: int) -> None:
        if m in seen:
            return
        seen.add(m)
        for q in preds(m):
            if q in inside:
                visit(q)
        out.append(m)

    for m in members:
        visit(m)
    return out
