"""The compiled problem: pools expanded, ids resolved to indices, immutable.

:class:`Problem` is what every solver, the evaluator and the reports read. It is made by the
compiler (:func:`taskalloc.problems.compiler.build_problem`, from a file or plain data) or by
:class:`taskalloc.problems.builder.ProblemBuilder` (from Python), always validated; variants are
made with :meth:`Problem.replace`, which validates again. Nodes and tasks are addressed by index
everywhere; the numpy views (:attr:`Problem.capacity`, :attr:`Problem.demand`,
:attr:`Problem.device_count`, :attr:`Problem.device_size`) are read-only.

Revision 2 of the format (FORMATS.md "Additions, version 1 revision 2") adds devices per node and
resource, gangs that start together, services, spread over a label and ``current`` lists;
:attr:`Problem.features` names those a problem uses, so that an engine that does not handle one
can refuse the problem instead of returning a wrong plan.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field
from functools import cached_property
from operator import methodcaller
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .wording import num

if TYPE_CHECKING:
    from .source import Diagnostic, PathElem, Source

_EMPTY: Mapping[Any, Any] = MappingProxyType({})

#: relative tolerance of "demand = m x device size" (FORMATS.md, devices)
DEVICE_RTOL = 1e-9

#: revision-2 features a problem may use (the names of :attr:`Problem.features`):
#: ``devices`` (a node splits a resource into devices), ``same_start`` (a gang that starts
#: together, in a scheduling problem), ``service`` (a service, in a scheduling problem),
#: ``spread`` (a task spread over a label), ``current_list`` (``current`` given as a list),
#: ``max_moves`` (a hard limit on the moves)
FEATURES = ("devices", "same_start", "service", "spread", "current_list", "max_moves")


def device_shape(demand: float, size: float, count: int) -> tuple[int, float] | None:
    """How devices of ``size`` (``count`` of them on the node) serve a replica's ``demand``:
    ``(m, take)``, i.e. ``m`` distinct devices with ``take`` on each; ``(0, 0.0)`` for no
    demand; None when the node cannot serve it (neither at most one device nor a whole number
    ``m <= count`` of devices, relative tolerance 1e-9)."""
    if demand <= 0:
        return 0, 0.0
    if demand <= size * (1 + DEVICE_RTOL) + 1e-12:
        return 1, demand
    if size <= 0:
        return None
    m = demand / size
    whole = round(m)
    if abs(m - whole) > DEVICE_RTOL * max(1.0, m) or whole > count:
        return None
    return int(whole), size


def devices_ok(demand: np.ndarray, size: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Vectorised :func:`~taskalloc.problems.entities.device_shape` is not None: True where a
    demand can be served by the devices (``count`` 0: the resource is not split)."""
    positive = size > 0
    m = np.where(positive, demand / np.where(positive, size, 1.0), 0.0)
    whole = np.round(m)
    multiple = positive & (np.abs(m - whole) <= DEVICE_RTOL * np.maximum(1.0, m)) & (whole <= count)
    return (count == 0) | (demand <= 0) | (demand <= size * (1 + DEVICE_RTOL) + 1e-12) | multiple


def _too_few(demand: float, size: float, count: int) -> bool:
    """A whole number of devices, more than ``count``."""
    if size <= 0:
        return False
    m = demand / size
    return abs(m - round(m)) <= DEVICE_RTOL * max(1.0, m) and round(m) > count


def device_shape_words(resource: str, demand: float, size: float, count: int) -> str:
    """Why :func:`device_shape` is None, in a user's words."""
    if _too_few(demand, size, count):
        return (
            f"{resource} {num(demand)} takes {round(demand / size)} whole devices of "
            f"{num(size)}, more than the {count} there are"
        )
    return (
        f"{resource} {num(demand)} is neither a share of one device nor a whole number of "
        f"devices ({count} of {num(size)})"
    )


@dataclass(frozen=True, slots=True)
class Node:
    """One machine (a pool's member or a single node)."""

    index: int
    id: str
    pool: str  # the node entry's id (a pool of one for count 1)
    capacity: Mapping[str, float]
    labels: Mapping[str, str]
    cost: float
    speed: float
    spec_index: int  # position in the file's `nodes` list
    # resource -> number of identical devices (revision 2)
    devices: Mapping[str, int] = field(default_factory=lambda: _EMPTY)

    def device_size(self, resource: str) -> float:
        """Size of one device of ``resource`` (capacity / count); the capacity if unsplit."""
        k = self.devices.get(resource)
        cap = self.capacity.get(resource, 0.0)
        return cap / k if k else cap


@dataclass(frozen=True, slots=True)
class Spread:
    """``spread: {key, max_skew}`` compiled: the values of ``key`` over the task's allowed
    nodes (sorted) and, per allowed node, the position of its value in ``values``."""

    key: str
    max_skew: int
    values: tuple[str, ...]
    value_of: Mapping[int, int]  # allowed node index -> index into values


@dataclass(frozen=True, slots=True)
class Task:
    """One task: ``replicas`` copies, each on a different node."""

    index: int
    id: str
    demand: Mapping[str, float]
    replicas: int
    priority: float
    required: bool
    allowed: tuple[int, ...]  # node indices allowed by `nodes`, `match` and `spread`, ascending
    separate: frozenset[int]  # task indices never sharing a node with it (both directions)
    gang: str | None
    assign_cost: Mapping[int, float]  # node index -> cost (pool entries expanded)
    demand_on: Mapping[int, Mapping[str, float]]
    current: frozenset[int] | None  # node indices named by `current` (every entry, pools expanded)
    duration: int | None
    duration_on: Mapping[int, int]
    after: tuple[int, ...]
    release: int | None
    deadline: int | None
    due: int | None
    spec_index: int
    # revision 2
    service: bool = False  # scheduling problems only (ignored, with a warning, in placement)
    span: int | None = None  # a service's length: the horizon
    spread: Spread | None = None
    current_entries: tuple[tuple[int, ...], ...] = ()  # `current`, one entry per replica

    def demand_at(self, node: int) -> Mapping[str, float]:
        return self.demand_on.get(node, self.demand)

    def cost_at(self, node: int) -> float:
        return self.assign_cost.get(node, 0.0)

    def duration_at(self, node: Node) -> int:
        """Duration of one replica on ``node`` (0 for tasks without ``duration``; the horizon
        for a service)."""
        if self.span is not None:
            return self.span
        d = self.duration_on.get(node.index)
        if d is not None:
            return d
        if self.duration is None:
            return 0
        return math.ceil(self.duration / node.speed)


def _draft_class(frozen: type) -> type:
    """A mutable class with the slots of the frozen slots dataclass ``frozen``, whose
    instances become ``frozen`` ones by a change of class (:func:`seal`).

    A frozen dataclass sets each field through ``object.__setattr__`` (Task: 23 calls per
    object; 150,000 tasks took 0.5 s); the draft's ``__init__`` stores them directly, with
    the same parameters, order and defaults."""
    names = [f.name for f in dataclasses.fields(frozen)]
    defaults: dict[str, Any] = {}
    params = []
    for f in dataclasses.fields(frozen):
        if f.default is not MISSING:
            defaults[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
        else:  # no field of these classes has a default factory
            assert f.default_factory is MISSING, f.name
            params.append(f.name)
    body = "".join(f"    self.{n} = {n}\n" for n in names)
    source = f"def __init__(self, {', '.join(params)}):\n{body}"
    namespace: dict[str, Any] = dict(defaults)
    exec(source, namespace)  # the source is made of the dataclass's field names
    return type(
        f"_{frozen.__name__}Draft",
        (),
        {"__slots__": tuple(names), "__init__": namespace["__init__"], "__module__": __name__},
    )


#: a :class:`Task` under construction (the compiler's): the same fields, mutable; :func:`seal`
#: makes it a Task
TaskDraft: Any = _draft_class(Task)


def seal(drafts: list[Any]) -> list[Task]:
    """The :data:`TaskDraft` objects as :class:`Task` objects (in place: each changes class,
    and is frozen from then on)."""
    for d in drafts:
        d.__class__ = Task
    return drafts


@dataclass(frozen=True, slots=True)
class Objective:
    """``kind`` is ``lexicographic`` (``terms`` in order) or ``weights`` (``weights`` by term)."""

    kind: str
    terms: tuple[str, ...]
    weights: Mapping[str, float]
    explicit: bool  # False when the file has no objective and the default applies

    def active(self) -> list[str]:
        """The terms that count: every lexicographic term in order, or the weighted terms
        with a positive weight."""
        if self.kind == "lexicographic":
            return list(self.terms)
        return [t for t in self.terms if self.weights[t] > 0]

    def describe(self) -> str:
        if self.kind == "lexicographic":
            return "lexicographic: " + ", ".join(self.terms)
        return "weights: " + ", ".join(f"{t}={num(w)}" for t, w in self.weights.items())


@dataclass(frozen=True, eq=False)
class Problem:
    """An allocation problem, validated and immutable. Nodes and tasks are addressed by index.

    Make one with :func:`taskalloc.problems.load_problem` (a file),
    :func:`taskalloc.problems.problem_from_dict` (plain data) or
    :class:`taskalloc.problems.ProblemBuilder` (Python); make a variant with :meth:`replace`;
    get the plain data back with :meth:`to_dict` or :meth:`to_yaml`.
    """

    name: str | None
    nodes: tuple[Node, ...]
    tasks: tuple[Task, ...]
    resources: tuple[str, ...]
    horizon: int | None
    objective: Objective
    scheduling: bool
    pools: Mapping[str, tuple[int, ...]]
    gangs: Mapping[str, tuple[int, ...]]  # gang name -> member task indices
    source: Source = field(repr=False)
    warnings: tuple[Diagnostic, ...] = ()
    #: gangs whose replicas all start at the same instant (scheduling problems only)
    same_start: frozenset[str] = frozenset()
    #: at most this many moves (``max_moves``, a hard limit; None: no limit)
    max_moves: int | None = None

    # -- lookups -------------------------------------------------------------------------------

    @cached_property
    def node_index(self) -> dict[str, int]:
        return {n.id: n.index for n in self.nodes}

    @cached_property
    def task_index(self) -> dict[str, int]:
        return {t.id: t.index for t in self.tasks}

    @cached_property
    def resource_index(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self.resources)}

    @cached_property
    def capacity(self) -> np.ndarray:
        """Capacities as a read-only (nodes x resources) float array."""
        arr = np.zeros((len(self.nodes), len(self.resources)))
        ri = self.resource_index
        for n in self.nodes:
            for r, q in n.capacity.items():
                arr[n.index, ri[r]] = q
        arr.flags.writeable = False
        return arr

    @cached_property
    def demand(self) -> np.ndarray:
        """Default demands as a read-only (tasks x resources) array (``demand_on`` not applied)."""
        n = len(self.tasks)
        arr = np.zeros((n, len(self.resources)))
        demands = [t.demand for t in self.tasks]
        for j, r in enumerate(self.resources):  # a column at a time: 150,000 tasks in C loops
            arr[:, j] = np.fromiter(map(methodcaller("get", r, 0.0), demands), float, count=n)
        arr.flags.writeable = False
        return arr

    def demand_vector(self, task: int, node: int) -> np.ndarray:
        t = self.tasks[task]
        if node not in t.demand_on:
            return self.demand[task]
        vec = np.zeros(len(self.resources))
        for r, q in t.demand_on[node].items():
            vec[self.resource_index[r]] = q
        return vec

    # -- devices (revision 2) ------------------------------------------------------------------

    @cached_property
    def device_count(self) -> np.ndarray:
        """Read-only (nodes x resources) int array: devices the node splits the resource into,
        0 where it does not split it."""
        arr = np.zeros((len(self.nodes), len(self.resources)), dtype=np.int64)
        ri = self.resource_index
        for n in self.nodes:
            for r, k in n.devices.items():
                arr[n.index, ri[r]] = k
        arr.flags.writeable = False
        return arr

    @cached_property
    def device_size(self) -> np.ndarray:
        """Read-only (nodes x resources) float array: the size of one device (capacity /
        count), 0 where the node does not split the resource."""
        count = self.device_count
        arr = np.divide(self.capacity, count, out=np.zeros_like(self.capacity), where=count > 0)
        arr.flags.writeable = False
        return arr

    @cached_property
    def split_resources(self) -> tuple[str, ...]:
        """Resources that some node splits into devices, in resource order."""
        used = {r for n in self.nodes for r in n.devices}
        return tuple(r for r in self.resources if r in used)

    def device_use(self, task: int, node: int) -> dict[str, tuple[int, float]] | None:
        """Per split resource of ``node`` with a demand: ``(m, take)`` of :func:`device_shape`
        for one replica of ``task`` there; None if some demand cannot be served by its devices
        (the replica cannot go on that node)."""
        n = self.nodes[node]
        if not n.devices:
            return {}
        dem = self.tasks[task].demand_at(node)
        out: dict[str, tuple[int, float]] = {}
        for r, k in n.devices.items():
            q = dem.get(r, 0.0)
            if q <= 0:
                continue
            shape = device_shape(q, n.device_size(r), k)
            if shape is None:
                return None
            out[r] = shape
        return out

    # -- revision-2 features -------------------------------------------------------------------

    @cached_property
    def features(self) -> frozenset[str]:
        """The revision-2 features this problem uses (names from :data:`FEATURES`). Ignored
        fields do not count: ``same_start`` and ``service`` count in scheduling problems only."""
        used = set()
        if any(n.devices for n in self.nodes):
            used.add("devices")
        if self.same_start:
            used.add("same_start")
        if any(t.service for t in self.tasks):
            used.add("service")
        if any(t.spread is not None for t in self.tasks):
            used.add("spread")
        raw = self.source.raw if isinstance(self.source.raw, dict) else {}
        if any(isinstance(t, dict) and isinstance(t.get("current"), list) for t in _tasks(raw)):
            used.add("current_list")
        if self.max_moves is not None:
            used.add("max_moves")
        return frozenset(used)

    def unhandled(self, handled: Iterable[str]) -> list[str]:
        """The features this problem uses that are not in ``handled``, in :data:`FEATURES`
        order (an engine's guard: it refuses a problem with any)."""
        ok = set(handled)
        return [f for f in FEATURES if f in self.features and f not in ok]

    # -- misc ----------------------------------------------------------------------------------

    @property
    def sha256(self) -> str:
        return self.source.sha256

    @property
    def total_replicas(self) -> int:
        return sum(t.replicas for t in self.tasks)

    def locate_task(self, task: int, *path: PathElem) -> Diagnostic:
        """A diagnostic skeleton (empty message) pointing at a field of a task in the file."""
        return self.source.diagnostic(("tasks", self.tasks[task].spec_index, *path), "")

    def task_diagnostic(self, task: int, message: str, *path: PathElem) -> Diagnostic:
        return self.source.diagnostic(("tasks", self.tasks[task].spec_index, *path), message)

    # -- plain data and variants -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain data (FORMATS.md), as written: pools, ``x-`` keys and the key
        order kept. ``problem_from_dict(p.to_dict())`` gives an equal problem."""
        data: dict[str, Any] = copy.deepcopy(self.source.raw)
        return data

    def to_yaml(self) -> str:
        """The problem as a YAML document (:meth:`to_dict`, leaf mappings inline)."""
        from .plan import dumps

        return dumps(self.to_dict(), "yaml")

    def to_json(self) -> str:
        """The problem as a JSON document (:meth:`to_dict`)."""
        from .plan import dumps

        return dumps(self.to_dict(), "json")

    def replace(
        self,
        *,
        nodes: Any = None,
        tasks: Any = None,
        **fields: Any,
    ) -> Problem:
        """A new validated problem with some fields changed (the original is unchanged).

        ``fields`` are top-level keys of the file (``name``, ``horizon``, ``objective``,
        ``gangs``, ``x-...``); None removes the key. ``nodes`` and ``tasks`` are either a whole
        new list (of plain mappings, or of the specs :class:`ProblemBuilder` returns) or a
        mapping from an entry's id to the fields to change in it (None for a field removes
        it; None for the entry removes the entry)::

            bigger = problem.replace(horizon=500, tasks={"train": {"replicas": 4}})
            degraded = problem.replace(nodes={"g2a": {"count": 3}})

        Raises :class:`~taskalloc.problems.source.InputError` (every error, located in the
        new data) when the result is not a valid problem.
        """
        from .compiler import problem_from_dict

        data = self.to_dict()
        if not isinstance(data, dict):  # pragma: no cover - a compiled problem is a mapping
            raise TypeError("the problem's source is not a mapping")
        for key, value in fields.items():
            key = key.replace("x_", "x-", 1) if key.startswith("x_") else key
            if value is None:
                data.pop(key, None)
            else:
                data[key] = _plain(value)
        if nodes is not None:
            data["nodes"] = _replace_entries(data.get("nodes", []), nodes, "node")
        if tasks is not None:
            data["tasks"] = _replace_entries(data.get("tasks", []), tasks, "task")
        return problem_from_dict(data, "<replace>", locate=False)


def _tasks(raw: Mapping[str, Any]) -> list[Any]:
    tasks = raw.get("tasks")
    return tasks if isinstance(tasks, list) else []


def _plain(value: Any) -> Any:
    """Specs (pydantic models) and mappings as plain data for a problem file."""
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_unset=True, by_alias=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _replace_entries(entries: list[Any], change: Any, what: str) -> list[Any]:
    if not isinstance(change, Mapping):
        return [_plain(e) for e in change]
    out = [dict(e) if isinstance(e, dict) else e for e in entries]
    index = {e.get("id"): i for i, e in enumerate(out) if isinstance(e, dict)}
    drop: set[int] = set()
    for eid, fields in change.items():
        if eid not in index:
            known = ", ".join(str(k) for k in index)
            raise KeyError(f"no {what} with id '{eid}' (the {what}s are {known})")
        i = index[eid]
        if fields is None:
            drop.add(i)
            continue
        for k, v in _plain(fields).items():
            if v is None:
                out[i].pop(k, None)
            else:
                out[i][k] = v
    return [e for i, e in enumerate(out) if i not in drop]
