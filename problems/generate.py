"""Random taskalloc problems on AI fleets, feasible by construction (FORMATS.md v1).

`generate` returns a plain dict ready for ``json.dumps`` or ``yaml.safe_dump``. The fleet is a
few pools of node types (cpu, highmem, l4, a10g, a100, h100) plus some singleton nodes; the tasks
are inference services, training jobs, batch ETL and embedding jobs.

Every problem has a hidden witness. Each task's replicas are first put on distinct nodes (in
scheduling mode also given starts), and only then are its demand, selectors, separations,
dependencies and deadlines derived so that the witness satisfies all of them:

- demands are floored to dyadic steps (0.25, 0.5, 1, 2, ...) below the witness nodes' remaining
  capacity, so capacity sums are exact in floating point;
- placement mode sizes demands for about 60% average load; scheduling mode splits every node into
  1, 2 or 4 equal slots, runs each slot's replicas back to back, and `after` only names earlier
  tasks of the same workflow, so the dependencies form a DAG that the witness starts respect;
- `nodes` and `match` always admit the witness nodes, `separate_from` only names tasks whose
  witness nodes are disjoint, gangs are placed whole, and deadlines and the horizon are at least
  twice the witness ends.

Slack for simple heuristics: tasks pinned to few nodes are small and of high priority, and tasks
are kept apart only where both sides keep a margin of admissible nodes.

Revision 2 of the format comes behind options that are off by default, so that the same
arguments without them give the same problem, byte for byte, as before they existed:

- ``devices``: GPU nodes split their GPUs into devices of one GPU (``devices: {gpu: N}``).
  Demands of a GPU are shares of one device (quarters) or whole devices, and the witness books
  them per device (best fit for shares), so that the problem stays feasible.
- ``zones``: replicated tasks are spread over the ``zone`` label (``spread: {key: zone,
  max_skew: 1}``, 2 where the witness needs it); the witness places their replicas zone by zone.
- ``services`` (scheduling): some inference tasks become services, running over [0, horizon).
  The witness gives each service replica a slot of its own on a node that keeps another slot.
- ``same_start`` (scheduling): gangs start together (``gangs: {NAME: {same_start: true}}``);
  the witness starts all members of a gang at one instant, in slots of their own (a gang whose
  members cannot get that stays a plain gang).

Their random draws come from their own generator (seeded from ``seed``), where they can.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["generate"]

_RESOURCES = ("cpu", "memory", "gpu", "nvme", "net", "ib")
_INTEGRAL = frozenset({"gpu", "ib"})  # whole units at 1 and above, quarters below (MIG-like)
_EXTRA_CAPACITY = 100.0  # capacity of resources beyond _RESOURCES (generic license slots)
_ZONES = ("east", "west", "central")
_ZONE_COST = {"east": 1.0, "west": 1.05, "central": 0.95}
_MAX_POOLS = 20
_CANDIDATES = 3  # random candidate nodes per replica; the least loaded one wins
_MAX_SHARE = 0.3  # placement: no replica takes more than this share of a node's capacity


@dataclass(frozen=True, slots=True)
class Extras:
    """The revision-2 features to generate (all off: the problem of before they existed)."""

    devices: bool = False
    zones: bool = False
    services: bool = False
    same_start: bool = False

    def any(self) -> bool:
        return self.devices or self.zones or self.services or self.same_start


@dataclass(frozen=True, slots=True)
class _NodeType:
    name: str
    accel: str
    capacity: dict[str, float]  # over _RESOURCES
    cost: float
    speed: float
    weight: float  # how common the type is


_CATALOG = tuple(
    _NodeType(name, accel, dict(zip(_RESOURCES, caps, strict=True)), cost, speed, weight)
    for name, accel, caps, cost, speed, weight in (
        # name, accel, capacity (cpu, memory, gpu, nvme, net, ib), cost per node, speed, weight
        ("cpu", "none", (64, 256, 0, 1000, 25, 0), 1.6, 1.0, 0.30),
        ("highmem", "none", (96, 768, 0, 2000, 50, 0), 2.8, 1.0, 0.15),
        ("l4", "l4", (32, 128, 4, 1000, 50, 0), 3.2, 1.5, 0.15),
        ("a10g", "a10g", (48, 192, 4, 2000, 50, 0), 4.5, 1.5, 0.10),
        ("a100", "a100", (96, 1024, 8, 8000, 200, 4), 14.0, 2.5, 0.15),
        ("h100", "h100", (192, 2048, 8, 16000, 400, 8), 22.0, 4.0, 0.15),
    )
)

# Relative demand of each workload kind per resource (resources beyond _RESOURCES: 0.5).
_PROFILE: dict[str, dict[str, float]] = {
    "infer": {"cpu": 0.6, "memory": 0.6, "gpu": 1.0, "nvme": 0.3, "net": 1.2, "ib": 0.0},
    "train": {"cpu": 0.8, "memory": 1.0, "gpu": 1.6, "nvme": 1.2, "net": 1.2, "ib": 1.5},
    "etl": {"cpu": 1.4, "memory": 1.3, "gpu": 0.0, "nvme": 1.6, "net": 1.0, "ib": 0.0},
    "embed": {"cpu": 0.7, "memory": 0.6, "gpu": 0.6, "nvme": 0.5, "net": 0.6, "ib": 0.0},
}
_GPU_KINDS = (("infer", 0.4), ("train", 0.3), ("embed", 0.3))
_CPU_KINDS = (("etl", 0.6), ("infer", 0.2), ("embed", 0.2))
_PRIORITY = {"infer": (4, 10), "train": (3, 8), "embed": (2, 5), "etl": (1, 3)}
_DURATION = {"infer": (5, 30), "train": (40, 240), "embed": (15, 90), "etl": (10, 120)}


@dataclass(slots=True)
class _Fleet:
    resources: list[str]
    entries: list[dict[str, Any]]  # node entries as written
    entry_ids: list[str]
    entry_speed: list[float]
    pool_ids: list[str]  # entry ids with count >= 2
    ids: list[str]  # expanded node ids
    entry_of: list[int]  # expanded node -> entry index
    cap: list[list[float]]
    labels: list[dict[str, str]]
    speed: list[float]
    gpu: list[bool]  # has an accelerator


@dataclass(slots=True)
class _Task:
    kind: str
    on_gpu: bool  # uses gpus
    home: bool  # runs on gpu nodes (differs from on_gpu only when the fleet lacks the other kind)
    replicas: int
    required: bool = True
    gang: int = -1
    gang_kind: str = ""
    workflow: int = 0
    service: bool = False


def generate(
    tasks: int = 50,
    nodes: int = 10,
    *,
    scheduling: bool = False,
    seed: int = 0,
    pools: int | None = None,
    resources: int = 3,
    devices: bool = False,
    zones: bool = False,
    services: bool = False,
    same_start: bool = False,
) -> dict[str, Any]:
    """Return a problem as a plain dict following FORMATS.md (v1; revision 2 on request).

    The dict is ready for ``json.dumps`` or ``yaml.safe_dump``.
    ``nodes`` counts expanded nodes; ``pools`` is the number of node entries with ``count`` >= 2
    (default ``max(1, nodes // 50)`` capped at 20, and never more than ``nodes // 2``); the other
    nodes are singletons. ``resources`` takes the first names of cpu, memory, gpu, nvme, net, ib,
    then res7, res8, ... ``devices``, ``zones``, ``services`` and ``same_start`` add the features
    of revision 2 (module docstring; the last two need ``scheduling``). The same arguments always
    give the same problem.
    """
    extras = Extras(devices, zones, services, same_start)
    problem, _ = _generate(tasks, nodes, scheduling, seed, pools, resources, extras)
    return problem


def _generate(
    n_tasks: int,
    n_nodes: int,
    scheduling: bool,
    seed: int,
    pools: int | None,
    n_res: int,
    extras: Extras = Extras(),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the problem and its witness plan assignments (task, replica, node[, start, end]
    [, devices])."""
    if n_tasks < 1 or n_nodes < 1:
        raise ValueError("tasks and nodes must be at least 1")
    if n_res < 1:
        raise ValueError("resources must be at least 1")
    if pools is not None and pools < 0:
        raise ValueError("pools must be >= 0")
    if (extras.services or extras.same_start) and not scheduling:
        raise ValueError("services and gangs that start together need a scheduling problem")
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    fleet = _build_fleet(n_nodes, pools, n_res, scheduling, rnd, rng, extras)
    plan = _plan_tasks(n_tasks, fleet, scheduling, rnd)
    gen = _TaskGenerator(fleet, plan, scheduling, rnd, rng, extras, seed)
    task_dicts, witness, makespan = gen.run()
    kind = "sched" if scheduling else "place"
    problem: dict[str, Any] = {"taskalloc": 1, "name": f"{kind}-{n_tasks}t-{n_nodes}n-s{seed}"}
    if scheduling:
        problem["horizon"] = 2 * makespan + 50
        problem["objective"] = {"lexicographic": ["unplaced", "makespan"]}
        for w in witness:
            if w.get("end") is None:  # a service: the whole horizon
                w["start"], w["end"] = 0, problem["horizon"]
    else:
        problem["objective"] = {"lexicographic": ["unplaced", "cost"]}
    problem["nodes"] = fleet.entries
    if gen.together:
        problem["gangs"] = {name: {"same_start": True} for name in gen.together}
    problem["tasks"] = task_dicts
    return problem, witness


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _floor_step(x: float, integral: bool) -> float:
    """Round ``x`` down to a dyadic step that suits its size (exact in binary floating point)."""
    if x <= 0.0:
        return 0.0
    if integral and x >= 1.0:
        return float(math.floor(x))
    step = 0.25 if integral else max(0.25, 2.0 ** (math.floor(math.log2(x)) - 3))
    return math.floor(x / step) * step


def _weighted(rnd: random.Random, items: tuple[tuple[str, float], ...]) -> str:
    u = rnd.random() * sum(w for _, w in items)
    for name, w in items:
        u -= w
        if u < 0.0:
            return name
    return items[-1][0]


def _build_fleet(
    n_nodes: int,
    pools: int | None,
    n_res: int,
    scheduling: bool,
    rnd: random.Random,
    rng: np.random.Generator,
    extras: Extras = Extras(),
) -> _Fleet:
    res = [*_RESOURCES, *(f"res{i + 1}" for i in range(len(_RESOURCES), n_res))][:n_res]
    n_pools = min(_MAX_POOLS, max(1, n_nodes // 50)) if pools is None else pools
    n_pools = min(n_pools, n_nodes // 2)
    if n_pools == 0:
        n_single = n_nodes
        sizes: list[int] = []
    else:
        n_single = min(n_nodes - 2 * n_pools, rnd.randint(1 if n_nodes >= 4 else 0, 3))
        extra = n_nodes - n_single - 2 * n_pools
        shares = rng.dirichlet(np.full(n_pools, 1.5))
        sizes = (2 + rng.multinomial(extra, shares)).tolist()
    cpu_types = [t for t in _CATALOG if t.accel == "none"]
    gpu_types = [t for t in _CATALOG if t.accel != "none"]
    weights = [t.weight for t in _CATALOG]
    types = rnd.choices(_CATALOG, weights, k=n_pools + n_single)
    if n_pools >= 2:  # the pools hold both cpu-only and gpu nodes
        first = [rnd.choice(cpu_types), rnd.choice(gpu_types)]
        rnd.shuffle(first)
        types[:2] = first
    n_zones = 1 if n_nodes < 4 else 2 if n_nodes < 20 else 3
    fleet = _Fleet(res, [], [], [], [], [], [], [], [], [], [])
    seen: dict[str, int] = {}
    for e, ntype in enumerate(types):
        is_pool = e < n_pools
        zone = _ZONES[rnd.randrange(n_zones)]
        spot = is_pool and rnd.random() < 0.2
        base = f"{ntype.name}-{zone}"
        k = seen[base] = seen.get(base, 0) + 1
        # pool ids end in the zone or -pK, singletons in -sK, pool members in -<digits>
        eid = (base if k == 1 else f"{base}-p{k}") if is_pool else f"{base}-s{k}"
        cap = [float(ntype.capacity.get(r, _EXTRA_CAPACITY)) for r in res]
        labels = {"zone": zone, "accel": ntype.accel, "tier": "spot" if spot else "ondemand"}
        cost = round(ntype.cost * _ZONE_COST[zone] * (0.4 if spot else 1.0), 2)
        entry: dict[str, Any] = {"id": eid}
        count = sizes[e] if is_pool else 1
        if count > 1:
            entry["count"] = count
        entry["capacity"] = {r: _num(c) for r, c in zip(res, cap, strict=True) if c > 0}
        if extras.devices and entry["capacity"].get("gpu"):  # whole GPUs, one device each
            entry["devices"] = {"gpu": int(entry["capacity"]["gpu"])}
        entry["labels"] = labels
        entry["cost"] = _num(cost)
        if scheduling and ntype.speed != 1.0:
            entry["speed"] = _num(ntype.speed)
        fleet.entries.append(entry)
        fleet.entry_ids.append(eid)
        fleet.entry_speed.append(ntype.speed)
        if count > 1:
            fleet.pool_ids.append(eid)
        members = [f"{eid}-{i}" for i in range(1, count + 1)] if count > 1 else [eid]
        for nid in members:
            fleet.ids.append(nid)
            fleet.entry_of.append(e)
            fleet.cap.append(cap)
            fleet.labels.append(labels)
            fleet.speed.append(ntype.speed)
            fleet.gpu.append(ntype.accel != "none")
    if len(set(fleet.ids) | set(fleet.entry_ids)) != len(fleet.ids) + len(fleet.pool_ids):
        raise AssertionError("node ids clash after pool expansion")  # unreachable by naming
    return fleet


def _plan_tasks(n_tasks: int, fleet: _Fleet, scheduling: bool, rnd: random.Random) -> list[_Task]:
    """Draw each task's kind, hardware, replicas, gang, optionality and workflow."""
    cpu0 = [c[0] for c in fleet.cap]  # "cpu" is always the first resource
    gpu_cpu = sum(c for c, g in zip(cpu0, fleet.gpu, strict=True) if g)
    gpu_share = gpu_cpu / sum(cpu0)  # gpu tasks get about their share of the fleet's cpu
    if "gpu" in fleet.resources:  # ... but no more than about one replica per 0.5 gpu
        g = fleet.resources.index("gpu")
        gpu_share = min(gpu_share, sum(c[g] for c in fleet.cap) / n_tasks)
    has = {True: gpu_cpu > 0, False: gpu_cpu < sum(cpu0)}
    plan: list[_Task] = []
    gang = 0
    workflow, wf_left = 0, 0
    while len(plan) < n_tasks:
        left = n_tasks - len(plan)
        size, gang_kind = 1, ""
        if left >= 2 and rnd.random() < 0.03:
            size = min(left, rnd.randint(2, 4))
            gang_kind = "train" if rnd.random() < min(0.6, 3.0 * gpu_share) else "stack"
        for _ in range(size):
            on_gpu = rnd.random() < gpu_share
            if gang_kind == "train":
                kind, on_gpu = "train", True
            else:
                kind = _weighted(rnd, _GPU_KINDS if on_gpu else _CPU_KINDS)
            replicas = 1
            if not gang_kind:
                if kind == "infer" and rnd.random() < 0.55:
                    replicas = rnd.choice((2, 3))
                elif kind == "embed" and rnd.random() < 0.2:
                    replicas = 2
            required = bool(gang_kind) or kind not in ("etl", "embed") or rnd.random() >= 0.06
            if scheduling:
                if wf_left == 0:
                    workflow, wf_left = len(plan), rnd.randint(1, 8)
                wf_left -= 1
            home = on_gpu if has[on_gpu] else not on_gpu
            gang_id = gang if gang_kind else -1
            plan.append(_Task(kind, on_gpu, home, replicas, required, gang_id, gang_kind, workflow))
        if gang_kind:
            gang += 1
    return plan


class _TaskGenerator:
    """Places the witness task by task and derives each task's constraints from it."""

    def __init__(
        self,
        fleet: _Fleet,
        plan: list[_Task],
        scheduling: bool,
        rnd: random.Random,
        rng: np.random.Generator,
        extras: Extras = Extras(),
        seed: int = 0,
    ) -> None:
        self.fleet = fleet
        self.plan = plan
        self.scheduling = scheduling
        self.rnd = rnd
        self.extras = extras
        self.xrnd = random.Random(f"taskalloc-generate-revision-2-{seed}")  # their own draws
        self.together: list[str] = []  # gangs that start together (same_start)
        n = len(fleet.ids)
        self.groups = {
            True: [i for i in range(n) if fleet.gpu[i]],
            False: [i for i in range(n) if not fleet.gpu[i]],
        }
        self.resid = [list(c) for c in fleet.cap]
        self.load = [0.0] * n  # max utilisation over resources (placement mode)
        spread = rng.lognormal(0.0, 0.5, len(plan))
        self.size = (spread / spread.mean()).tolist()
        self.width = max(3, len(str(len(plan) - 1)))
        self.ids = [f"{t.kind}-{i:0{self.width}d}" for i, t in enumerate(plan)]
        self.nodes_of: list[list[int]] = []
        self.admitted: list[int] = []  # about how many nodes each task may use
        self.reps: list[int] = []
        shapes: dict[tuple[float, ...], int] = {}
        for cap in fleet.cap:
            shapes[tuple(cap)] = shapes.get(tuple(cap), 0) + 1
        self.shapes = list(shapes.items())  # distinct capacities and how many nodes have each
        self.apart: list[int] = []  # replicas of the tasks each task is kept apart from
        self.end_of: list[int] = []
        gpu = [fleet.resources.index("gpu")] if "gpu" in fleet.resources else []
        self.needs = {False: [0], True: [0, *gpu]}
        self.ref_size = {
            p: fleet.entries[fleet.entry_ids.index(p)]["count"] for p in fleet.pool_ids
        }
        self.label_count: dict[tuple[str, str], int] = {}
        for labels in fleet.labels:
            for item in labels.items():
                self.label_count[item] = self.label_count.get(item, 0) + 1
        self.label_values: dict[str, list[str]] = {}
        for key, value in self.label_count:
            self.label_values.setdefault(key, []).append(value)
        if scheduling:
            self.slots = [[0] * rnd.choice((1, 2, 2, 4)) for _ in range(n)]
            mean_dur = sum(sum(_DURATION[t.kind]) / 2 for t in plan) / len(plan)
            per_slot = sum(t.replicas for t in plan) / sum(len(s) for s in self.slots)
            self.slack = max(20, int(mean_dur * per_slot))  # about the witness makespan
            self.release_max = self.slack // 2
        else:
            self.scale = self._budget_scale(rng.uniform(0.62, 0.7))
        self._init_extras()

    # -- revision 2 (all of it off by default) -------------------------------------------------

    def _init_extras(self) -> None:
        fleet, ex = self.fleet, self.extras
        n = len(fleet.ids)
        g = fleet.resources.index("gpu") if "gpu" in fleet.resources else None
        self.gpu_index = g
        self.booked: dict[tuple[int, int], dict[str, list[int]] | None] = {}
        # devices: free share of each GPU device per node (placement witness)
        self.dev_free: dict[int, list[float]] = {}
        if ex.devices and g is not None:
            self.dev_free = {i: [1.0] * int(fleet.cap[i][g]) for i in range(n) if fleet.cap[i][g]}
        if not self.scheduling:
            return
        # a slot's share of its node: capacity / the node's slot count (a service slot included)
        self.slot_count = [len(s) for s in self.slots]
        self.service_free = [False] * n
        if ex.services:  # a node with 2 or more slots keeps its last one for a service
            for i in range(n):
                if self.slot_count[i] >= 2:
                    self.slots[i].pop()
                    self.service_free[i] = True
            for t in self.plan:
                if t.kind == "infer" and t.gang < 0 and t.required and self.xrnd.random() < 0.35:
                    t.service = True
        # members of the gang being placed: index, task, durations, (node, slot)s, earliest start
        self.gang_block: list[tuple[int, dict[str, Any], list[int], list[tuple[int, int]], int]]
        self.gang_block = []
        self.gang_ok = True
        self.used_slots: list[int] = []

    def _slot_devices(self, n: int, k: int, q: float) -> dict[str, list[int]] | None:
        """Scheduling witness: slot k of node n owns devices [k * per, (k + 1) * per)."""
        g = self.gpu_index
        if not self.extras.devices or g is None or q <= 0 or not self.fleet.cap[n][g]:
            return None
        per = int(self.fleet.cap[n][g]) // self.slot_count[n]
        first = k * per
        return {"gpu": list(range(first, first + (int(q) if q >= 1 else 1)))}

    def _fit_devices(self, chosen: list[int], q: float) -> float:
        """Placement witness: the largest GPU demand <= q (quarters of one device, or whole
        devices) that the devices of every chosen node can take now."""
        frees = [self.dev_free[n] for n in chosen if n in self.dev_free]
        if not frees or q <= 0:
            return q
        if q >= 1:
            whole = min(sum(1 for f in fr if f >= 1.0) for fr in frees)
            if whole >= 1:
                return float(min(math.floor(q), whole))
            q = 0.75
        return _floor_step(min(q, min(max(fr) for fr in frees)), True)

    def _book_devices(self, n: int, q: float) -> dict[str, list[int]] | None:
        """Placement witness: devices for demand q on node n (best fit for a share)."""
        free = self.dev_free.get(n)
        if free is None or q <= 0:
            return None
        if q >= 1:
            got = [j for j, f in enumerate(free) if f >= 1.0][: int(q)]
            for j in got:
                free[j] = 0.0
            return {"gpu": got}
        j = min((f, j) for j, f in enumerate(free) if f >= q)[1]
        free[j] -= q
        return {"gpu": [j]}

    def _choose_service_nodes(self, group: list[int], reps: int) -> list[int] | None:
        """Nodes with a free service slot for every replica of a service, or None."""
        free = [n for n in group if self.service_free[n]]
        if len(free) < reps:
            return None
        chosen = self.xrnd.sample(free, reps)
        for n in chosen:
            self.service_free[n] = False
        return chosen

    def _choose_zoned(self, group: list[int], reps: int, avoid: list[int]) -> list[int]:
        """Like _choose_nodes, one zone after another (round robin), for a spread task."""
        labels = self.fleet.labels
        zones = sorted({labels[n]["zone"] for n in group})
        start = self.xrnd.randrange(len(zones))
        chosen: list[int] = []
        taken = set(avoid)
        for r in range(reps):
            zone = zones[(start + r) % len(zones)]
            cands = [n for n in group if n not in taken and labels[n]["zone"] == zone]
            if not cands:
                cands = [n for n in group if n not in taken]
            if self.scheduling:
                best = min(cands, key=lambda n: (min(self.slots[n]), self.xrnd.random()))
            else:
                best = min(cands, key=lambda n: (self.load[n], self.xrnd.random()))
            chosen.append(best)
            taken.add(best)
        return chosen

    def _spread(
        self, task: dict[str, Any], chosen: list[int], allowed: list[str], match: dict[str, Any]
    ) -> None:
        """Add `spread` over zones when the witness keeps the counts within a skew of 2."""
        fleet = self.fleet
        if allowed:
            named = set(allowed)
            nodes = [
                i
                for i in range(len(fleet.ids))
                if fleet.ids[i] in named or fleet.entry_ids[fleet.entry_of[i]] in named
            ]
        else:
            nodes = list(range(len(fleet.ids)))
        for key, vals in match.items():
            wanted = set(vals) if isinstance(vals, list) else {vals}
            nodes = [i for i in nodes if fleet.labels[i].get(key) in wanted]
        count = dict.fromkeys({fleet.labels[i]["zone"] for i in nodes}, 0)
        for n in chosen:
            count[fleet.labels[n]["zone"]] += 1
        skew = max(count.values()) - min(count.values())
        if skew <= 2:
            task["spread"] = {"key": "zone", "max_skew": max(1, skew)}

    def _budget_scale(self, target: float) -> dict[bool, list[float]]:
        """Demand per unit of profile x size so that each group's load totals ``target``."""
        fleet, res = self.fleet, self.fleet.resources
        scale: dict[bool, list[float]] = {}
        for on_gpu, members in self.groups.items():
            total = [sum(fleet.cap[n][r] for n in members) for r in range(len(res))]
            weight = [0.0] * len(res)
            for t, s in zip(self.plan, self.size, strict=True):
                if t.home == on_gpu:
                    reps = min(t.replicas, len(members))
                    for r, w in enumerate(self._weights(t)):
                        weight[r] += reps * s * w
            scale[on_gpu] = [
                target * c / w if w > 0 else 0.0 for c, w in zip(total, weight, strict=True)
            ]
        return scale

    def _weights(self, t: _Task) -> list[float]:
        """Relative demand of the task per resource; no gpu for a task that does not use them."""
        prof = _PROFILE[t.kind]
        return [
            0.0 if name == "gpu" and not t.on_gpu else prof.get(name, 0.5)
            for name in self.fleet.resources
        ]

    def run(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        witness: list[dict[str, Any]] = []
        gang_nodes: dict[int, list[int]] = {}
        gang_tasks: dict[int, list[int]] = {}
        for i, t in enumerate(self.plan):
            group = self.groups[t.home]
            reps = min(t.replicas, len(group))
            avoid: list[int] = []
            if t.gang_kind == "train":  # spread the workers of a training job
                avoid = gang_nodes.get(t.gang, [])
                if len(group) - len(set(avoid)) < reps:
                    avoid = []
            chosen = None
            if t.service:
                chosen = self._choose_service_nodes(group, reps)
                t.service = chosen is not None
            if chosen is None:
                spread = self.extras.zones and reps >= 2
                choose = self._choose_zoned if spread else self._choose_nodes
                chosen = choose(group, reps, avoid)
            allowed, match, admitted = self._selectors(chosen)
            narrow = admitted <= 4 * reps  # pinned: small and important, so a greedy fits it
            demand = self._demand(i, t, chosen, 0.5 if narrow else 1.0)
            fit = sum(k for cap, k in self.shapes if all(map(float.__le__, demand[1], cap)))
            self.admitted.append(min(admitted, fit))
            self.reps.append(reps)
            task: dict[str, Any] = {"id": self.ids[i], "demand": demand[0]}
            if reps > 1:
                task["replicas"] = reps
            lo, hi = (8, 10) if narrow else _PRIORITY[t.kind]
            priority = self.rnd.randint(lo, hi) if t.required else 1
            if priority != 1:
                task["priority"] = priority
            if not t.required:
                task["required"] = False
            if allowed:
                task["nodes"] = allowed
            if match:
                task["match"] = match
            self._separation(task, i, t, chosen, gang_tasks)
            if t.gang >= 0:
                prefix = "train" if t.gang_kind == "train" else "stack"
                task["gang"] = f"{prefix}-gang-{t.gang}"
                gang_nodes.setdefault(t.gang, []).extend(chosen)
                gang_tasks.setdefault(t.gang, []).append(i)
            self._costs(task, chosen, demand[1])
            if self.extras.zones and reps >= 2:
                self._spread(task, chosen, allowed, match)

            if self.scheduling and t.service:
                task["service"] = True
                self.end_of.append(0)  # a service ends at the horizon, which is set last
                for r, n in enumerate(chosen):
                    w = {"task": self.ids[i], "replica": r, "node": self.fleet.ids[n]}
                    dev = self._slot_devices(n, self.slot_count[n] - 1, self._gpu(demand[1]))
                    witness.append({**w, "start": None, "end": None, **_devices(dev)})
            elif self.scheduling and self.extras.same_start and t.gang >= 0:
                self._gang_member(task, i, t, chosen, demand[1], witness)
            elif self.scheduling:
                starts, ends = self._schedule(task, i, t, chosen)
                for r, (n, s, e) in enumerate(zip(chosen, starts, ends, strict=True)):
                    witness.append(
                        {
                            "task": self.ids[i],
                            "replica": r,
                            "node": self.fleet.ids[n],
                            "start": s,
                            "end": e,
                            **_devices(
                                self._slot_devices(n, self.used_slots[r], self._gpu(demand[1]))
                            ),
                        }
                    )
            else:
                witness.extend(
                    {
                        "task": self.ids[i],
                        "replica": r,
                        "node": self.fleet.ids[n],
                        **_devices(self.booked.get((i, n))),
                    }
                    for r, n in enumerate(chosen)
                )
            self.nodes_of.append(chosen)
            out.append(task)
        return out, witness, max(self.end_of, default=0)

    # -- witness placement --------------------------------------------------------------------

    def _choose_nodes(self, group: list[int], reps: int, avoid: list[int]) -> list[int]:
        """Pick ``reps`` distinct nodes of ``group``, each the least busy of a few candidates."""
        rnd = self.rnd
        chosen: list[int] = []
        taken = set(avoid)
        for _ in range(reps):
            if len(group) - len(taken) <= 4 * _CANDIDATES:
                cands = [n for n in group if n not in taken]
            else:
                cands = []
                while len(cands) < _CANDIDATES:
                    n = group[rnd.randrange(len(group))]
                    if n not in taken and n not in cands:
                        cands.append(n)
            if self.scheduling:
                best = min(cands, key=lambda n: (min(self.slots[n]), rnd.random()))
            else:
                best = min(cands, key=lambda n: (self.load[n], rnd.random()))
            chosen.append(best)
            taken.add(best)
        return chosen

    def _demand(
        self, i: int, t: _Task, chosen: list[int], shrink: float
    ) -> tuple[dict[str, int | float], list[float]]:
        """Demand that fits every chosen node (placement) or slot (scheduling); books it."""
        fleet, res = self.fleet, self.fleet.resources
        weights = self._weights(t)
        if self.scheduling:  # a slot is cap / slot count; use up to all of the smallest one
            bound = [
                min(fleet.cap[n][r] / self.slot_count[n] for n in chosen) for r in range(len(res))
            ]
            frac = shrink * min(1.0, 0.6 * self.size[i]) / max(weights)
            want = [b * w * frac for b, w in zip(bound, weights, strict=True)]
        else:
            bound = [
                min(min(self.resid[n][r], _MAX_SHARE * fleet.cap[n][r]) for n in chosen)
                for r in range(len(res))
            ]
            scale = self.scale[t.home]
            want = [w * shrink * self.size[i] * s for w, s in zip(weights, scale, strict=True)]
        d = [
            _floor_step(min(x, b), name in _INTEGRAL)
            for x, b, name in zip(want, bound, res, strict=True)
        ]
        for r in self.needs[t.on_gpu]:  # every task uses some cpu, a gpu task some gpu
            if d[r] == 0.0 and bound[r] >= 0.25:
                d[r] = 0.25
        if self.dev_free and not self.scheduling and self.gpu_index is not None:
            g = self.gpu_index
            d[g] = self._fit_devices(chosen, d[g])
            for n in chosen:
                self.booked[(i, n)] = self._book_devices(n, d[g])
        if not self.scheduling:
            for n in chosen:
                left, cap = self.resid[n], fleet.cap[n]
                for r, q in enumerate(d):
                    left[r] -= q
                self.load[n] = max((c - x) / c for c, x in zip(cap, left, strict=True) if c > 0)
        shown = {name: _num(q) for name, q in zip(res, d, strict=True) if q > 0}
        return (shown or {res[0]: 0}), d

    def _schedule(
        self, task: dict[str, Any], i: int, t: _Task, chosen: list[int]
    ) -> tuple[list[int], list[int]]:
        """Add the timing fields, run each replica in its node's earliest free slot."""
        durations, est = self._timing(task, i, t, chosen)
        starts: list[int] = []
        ends: list[int] = []
        self.used_slots = []
        for n, dur in zip(chosen, durations, strict=True):
            slots = self.slots[n]
            k = min(range(len(slots)), key=slots.__getitem__)
            start = max(est, slots[k])
            slots[k] = start + dur
            starts.append(start)
            ends.append(start + dur)
            self.used_slots.append(k)
        end = max(ends)
        self.end_of.append(end)
        self._due(task, end)
        return starts, ends

    def _timing(
        self, task: dict[str, Any], i: int, t: _Task, chosen: list[int]
    ) -> tuple[list[int], int]:
        """Draw duration, duration_on, after and release; the duration of each replica on its
        node and the earliest start."""
        rnd, fleet = self.rnd, self.fleet
        lo, hi = _DURATION[t.kind]
        base = rnd.randint(lo, hi)
        task["duration"] = base
        override: dict[str, int] = {}
        if rnd.random() < 0.05:  # a measured run time on one pool or node
            if rnd.random() < 0.5:
                e = fleet.entry_of[rnd.choice(chosen)]
            else:
                e = rnd.randrange(len(fleet.entry_ids))
            speed = fleet.entry_speed[e]
            override[fleet.entry_ids[e]] = max(1, int(base / speed * rnd.uniform(0.5, 0.9)))
            task["duration_on"] = override
        after: list[int] = []
        if i > t.workflow and rnd.random() < 0.6:  # a DAG inside the workflow
            cands = [
                j
                for j in range(t.workflow, i)
                if self.plan[j].required
                and not self.plan[j].service  # a service never ends
                and (t.gang < 0 or self.plan[j].gang != t.gang)
            ]  # a gang runs side by side, not one after another
            if cands:
                after = sorted(rnd.sample(cands, min(len(cands), rnd.choice((1, 1, 2, 3)))))
                task["after"] = [self.ids[j] for j in after]
        est = max((self.end_of[j] for j in after), default=0)
        if rnd.random() < 0.12:
            release = rnd.randint(1, self.release_max)
            task["release"] = release
            est = max(est, release)
        durations = []
        for n in chosen:
            dur = override.get(fleet.ids[n])
            if dur is None:
                dur = override.get(fleet.entry_ids[fleet.entry_of[n]])
            if dur is None:
                dur = math.ceil(base / fleet.speed[n])
            durations.append(dur)
        return durations, est

    def _due(self, task: dict[str, Any], end: int) -> None:
        """Draw a deadline and a due date from the witness end."""
        rnd = self.rnd
        if rnd.random() < 0.15:
            task["deadline"] = 2 * end + self.slack
        if rnd.random() < 0.2:
            task["due"] = int(end * rnd.uniform(0.8, 1.2))

    def _gang_member(
        self,
        task: dict[str, Any],
        i: int,
        t: _Task,
        chosen: list[int],
        demand: list[float],
        witness: list[dict[str, Any]],
    ) -> None:
        """A member of a gang that starts together: its timing now, its start with the last
        member's (all members at the latest of their earliest starts, each replica in a slot
        of its own); a gang that cannot get slots of its own is scheduled as a plain one."""
        durations, est = self._timing(task, i, t, chosen)
        taken = {(n, k) for _, _, _, slots, _ in self.gang_block for n, k in slots}
        slots: list[tuple[int, int]] = []
        for n in chosen:
            free = [k for k in range(len(self.slots[n])) if (n, k) not in taken]
            if not free:
                self.gang_ok = False
                free = list(range(len(self.slots[n])))
            k = min(free, key=self.slots[n].__getitem__)
            slots.append((n, k))
            taken.add((n, k))
        self.gang_block.append((i, task, durations, slots, est))
        self.end_of.append(0)  # set when the gang starts
        last = i + 1 == len(self.plan) or self.plan[i + 1].gang != t.gang
        if not last:
            return
        block, self.gang_block = self.gang_block, []
        g = self.gpu_index
        if self.gang_ok:
            start = max(max(est, *(self.slots[n][k] for n, k in sl)) for _, _, _, sl, est in block)
            prefix = "train" if t.gang_kind == "train" else "stack"
            self.together.append(f"{prefix}-gang-{t.gang}")
        for j, member, durs, sl, est in block:
            q = self._demand_of(member, g)
            ends = []
            for r, ((n, k), dur) in enumerate(zip(sl, durs, strict=True)):
                s = start if self.gang_ok else max(est, self.slots[n][k])
                self.slots[n][k] = s + dur
                ends.append(s + dur)
                witness.append(
                    {
                        "task": self.ids[j],
                        "replica": r,
                        "node": self.fleet.ids[n],
                        "start": s,
                        "end": s + dur,
                        **_devices(self._slot_devices(n, k, q)),
                    }
                )
            self.end_of[j] = max(ends)
            self._due(member, max(ends))
        self.gang_ok = True
        del demand

    def _gpu(self, demand: list[float]) -> float:
        return demand[self.gpu_index] if self.gpu_index is not None else 0.0

    def _demand_of(self, task: dict[str, Any], g: int | None) -> float:
        if g is None:
            return 0.0
        return float(task["demand"].get(self.fleet.resources[g], 0))

    # -- constraints derived from the witness ------------------------------------------------

    def _selectors(self, chosen: list[int]) -> tuple[list[str], dict[str, Any], int]:
        """Maybe draw `nodes` and `match` admitting every chosen node; about how many they admit."""
        rnd, fleet = self.rnd, self.fleet
        allowed: list[str] = []
        match: dict[str, Any] = {}
        admitted = len(fleet.ids)
        if rnd.random() < 0.08:
            for n in chosen:
                e = fleet.entry_of[n]
                pooled = fleet.entry_ids[e] in self.ref_size and rnd.random() < 0.9
                allowed.append(fleet.entry_ids[e] if pooled else fleet.ids[n])
            for _ in range(rnd.randint(0, 2)):
                if fleet.pool_ids and rnd.random() < 0.7:
                    allowed.append(rnd.choice(fleet.pool_ids))
                else:
                    allowed.append(fleet.ids[rnd.randrange(len(fleet.ids))])
            allowed = list(dict.fromkeys(allowed))
            admitted = sum(self.ref_size.get(x, 1) for x in allowed)
        if rnd.random() < 0.15:
            gpu = fleet.gpu[chosen[0]]
            keys = ("accel", "accel", "zone", "tier") if gpu else ("zone", "tier", "accel")
            key = rnd.choice(keys)
            values = list(dict.fromkeys(fleet.labels[n][key] for n in chosen))
            if rnd.random() < 0.5:
                other = rnd.choice(self.label_values[key])
                if other not in values:
                    values.append(other)
            match[key] = values[0] if len(values) == 1 else values
            admitted = min(admitted, sum(self.label_count[key, v] for v in values))
        return allowed, match, admitted

    def _separation(
        self,
        task: dict[str, Any],
        i: int,
        t: _Task,
        chosen: list[int],
        gang_tasks: dict[int, list[int]],
    ) -> None:
        """Maybe add `separate_from` earlier tasks whose witness nodes are disjoint from ours."""
        rnd = self.rnd
        mine = set(chosen)
        reps = len(chosen)
        # keep both sides able to find nodes: each side's admissible nodes exceed, by a margin,
        # its own replicas plus those of every task it is kept apart from
        room = self.admitted[i] - reps - 2
        cands: list[int] = []
        if t.gang_kind == "train":
            cands = gang_tasks.get(t.gang, [])
        elif i > 0 and rnd.random() < 0.06:
            cands = list(dict.fromkeys(i - rnd.randint(1, min(i, 200)) for _ in range(4)))[:2]
        others: list[int] = []
        for j in cands:
            if (
                mine.isdisjoint(self.nodes_of[j])
                and self.reps[j] <= room
                and self.admitted[j] - self.reps[j] - self.apart[j] - 2 >= reps
            ):
                others.append(j)
                room -= self.reps[j]
                self.apart[j] += reps
        self.apart.append(sum(self.reps[j] for j in others))
        if others:
            task["separate_from"] = [self.ids[j] for j in others]

    def _costs(self, task: dict[str, Any], chosen: list[int], demand: list[float]) -> None:
        """Maybe add `assign_cost` and `demand_on` (the latter on a pool the witness avoids)."""
        rnd, fleet = self.rnd, self.fleet
        if rnd.random() < 0.1:
            keys = [
                rnd.choice(fleet.pool_ids)
                if fleet.pool_ids and rnd.random() < 0.6
                else fleet.ids[rnd.randrange(len(fleet.ids))]
                for _ in range(rnd.randint(1, 2))
            ]
            task["assign_cost"] = {k: round(rnd.uniform(0.5, 20.0), 2) for k in keys}
        if fleet.pool_ids and rnd.random() < 0.03:
            used = {fleet.entry_ids[fleet.entry_of[n]] for n in chosen}
            free = [p for p in fleet.pool_ids if p not in used]
            if free:
                factor = rnd.choice((0.5, 0.75))
                res = fleet.resources
                other = {
                    name: _num(_floor_step(q * factor, name in _INTEGRAL))
                    for name, q in zip(res, demand, strict=True)
                    if q > 0
                }
                task["demand_on"] = {rnd.choice(free): other or {res[0]: 0}}


def _devices(devices: dict[str, list[int]] | None) -> dict[str, Any]:
    """The ``devices`` field of a witness assignment, when there is one."""
    return {"devices": devices} if devices else {}
