"""Build a problem from Python instead of a file.

::

    from taskalloc.problems import ProblemBuilder

    b = ProblemBuilder("inference-fleet", horizon=480)
    g2 = b.add_node("g2", {"cpu": 96, "gpu": 8}, count=4, labels={"zone": "a"}, devices={"gpu": 8})
    b.add_node("cpu", {"cpu": 64}, count=2, labels={"zone": "b"})
    prep = b.add_task("prep", {"cpu": 8}, duration=20)
    b.add_task("train", {"gpu": 8}, nodes=[g2], after=[prep], duration=120, gang="dist")
    b.add_gang("dist", same_start=True)
    b.set_objective(lexicographic=["unplaced", "makespan"])
    problem = b.build()          # a validated Problem; InputError lists every error

Each ``add_*`` method checks its entity at once (types, ranges, unknown keys: a
:class:`~taskalloc.problems.source.InputError` naming the entity and field) and returns the
spec it made; references (``nodes``, ``after``, ``separate_from``, ``current``, ``gang``,
``assign_cost`` ...) take either those specs or ids. Cross-references are checked by
:meth:`ProblemBuilder.build`, which compiles the problem exactly as a file with the same data
(:meth:`ProblemBuilder.to_dict`) would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .compiler import problem_from_dict
from .entities import Problem
from .source import InputError, Source
from .spec import GangSpec, NodeSpec, ObjectiveSpec, TaskSpec
from .wording import schema_diagnostics

Ref = str | NodeSpec | TaskSpec
_BUILDER = "<builder>"


def _ref(x: Any) -> Any:
    """An id for a spec (or anything with an ``id``), the value itself otherwise."""
    if isinstance(x, BaseModel) and hasattr(x, "id"):
        return x.id
    return x


def _refs(xs: Iterable[Any] | None) -> list[Any] | None:
    return None if xs is None else [_ref(x) for x in xs]


def _keyed(m: Mapping[Any, Any] | None) -> dict[Any, Any] | None:
    return None if m is None else {_ref(k): v for k, v in m.items()}


def _extension_keys(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``x_owner="ml"`` as the file key ``x-owner``; any other keyword is a TypeError."""
    out = {}
    for k, v in extra.items():
        if not k.startswith(("x_", "x-")):
            raise TypeError(f"unexpected keyword argument '{k}' (extension keys start with x_)")
        out["x-" + k[2:]] = v
    return out


class ProblemBuilder:
    """Builds a :class:`~taskalloc.problems.entities.Problem` step by step (see the module
    docstring). Not thread-safe; :meth:`build` may be called any number of times."""

    def __init__(
        self, name: str | None = None, *, horizon: int | None = None, **extensions: Any
    ) -> None:
        self.name = name
        self.horizon = horizon
        self._extensions = _extension_keys(extensions)
        self._nodes: list[dict[str, Any]] = []
        self._tasks: list[dict[str, Any]] = []
        self._gangs: dict[str, dict[str, Any]] = {}
        self._objective: dict[str, Any] | None = None

    # -- entities ------------------------------------------------------------------------------

    def add_node(
        self,
        id: str,
        capacity: Mapping[str, float] | None = None,
        *,
        count: int = 1,
        labels: Mapping[str, Any] | None = None,
        cost: float = 0.0,
        speed: float = 1.0,
        devices: Mapping[str, int] | None = None,
        **extensions: Any,
    ) -> NodeSpec:
        """Add a node (a pool of ``count`` identical members when ``count`` >= 2; their ids are
        ``ID-1`` .. ``ID-count``). ``devices`` splits a resource's capacity into that many
        identical devices. Returns the node's spec, usable wherever a node id is."""
        entry: dict[str, Any] = {"id": id}
        if count != 1:
            entry["count"] = count
        entry["capacity"] = dict(capacity or {})
        if labels:
            entry["labels"] = dict(labels)
        if cost:
            entry["cost"] = cost
        if speed != 1.0:
            entry["speed"] = speed
        if devices:
            entry["devices"] = dict(devices)
        entry.update(_extension_keys(extensions))
        spec = self._check(NodeSpec, entry, "nodes", len(self._nodes))
        self._nodes.append(entry)
        return spec

    def add_task(
        self,
        id: str,
        demand: Mapping[str, float] | None = None,
        *,
        replicas: int = 1,
        priority: float = 1.0,
        required: bool = True,
        nodes: Iterable[Ref] | None = None,
        match: Mapping[str, Any] | None = None,
        separate_from: Iterable[Ref] | None = None,
        gang: str | None = None,
        assign_cost: Mapping[Ref, float] | None = None,
        demand_on: Mapping[Ref, Mapping[str, float]] | None = None,
        current: Ref | Iterable[Ref] | None = None,
        duration: int | None = None,
        duration_on: Mapping[Ref, int] | None = None,
        after: Iterable[Ref] | None = None,
        release: int | None = None,
        deadline: int | None = None,
        due: int | None = None,
        service: bool = False,
        spread: Mapping[str, Any] | None = None,
        **extensions: Any,
    ) -> TaskSpec:
        """Add a task (every field of the format, see docs/format.md); node and task references
        may be ids or the specs ``add_node``/``add_task`` returned. Returns the task's spec."""
        entry: dict[str, Any] = {"id": id, "demand": dict(demand or {})}
        if isinstance(current, str | BaseModel) or current is None:
            current_value = _ref(current)
        else:
            current_value = _refs(current)
        optional: dict[str, Any] = {
            "replicas": replicas if replicas != 1 else None,
            "priority": priority if priority != 1.0 else None,
            "required": False if not required else None,
            "nodes": _refs(nodes),
            "match": dict(match) if match is not None else None,
            "separate_from": _refs(separate_from),
            "gang": gang,
            "assign_cost": _keyed(assign_cost),
            "demand_on": _keyed(demand_on),
            "current": current_value,
            "duration": duration,
            "duration_on": _keyed(duration_on),
            "after": _refs(after),
            "release": release,
            "deadline": deadline,
            "due": due,
            "service": True if service else None,
            "spread": dict(spread) if spread is not None else None,
        }
        entry.update({k: v for k, v in optional.items() if v is not None})
        entry.update(_extension_keys(extensions))
        spec = self._check(TaskSpec, entry, "tasks", len(self._tasks))
        self._tasks.append(entry)
        return spec

    def add_gang(self, name: str, *, same_start: bool = False) -> GangSpec:
        """Give the gang ``name`` (used by tasks' ``gang``) its properties: ``same_start`` makes
        every replica of every member start at the same instant (scheduling problems)."""
        entry = {"same_start": same_start}
        spec = self._check(GangSpec, entry, "gangs", name)
        self._gangs[name] = entry
        return spec

    def set_objective(
        self,
        *,
        lexicographic: Iterable[str] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> ObjectiveSpec:
        """The objective: an ordered list of terms, or a weighted sum (not both)."""
        entry: dict[str, Any] = {}
        if lexicographic is not None:
            entry["lexicographic"] = list(lexicographic)
        if weights is not None:
            entry["weights"] = dict(weights)
        spec = self._check(ObjectiveSpec, entry, "objective")
        self._objective = entry
        return spec

    # -- output --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain data, as a problem file would hold it."""
        data: dict[str, Any] = {"taskalloc": 1}
        if self.name is not None:
            data["name"] = self.name
        data.update(self._extensions)
        if self.horizon is not None:
            data["horizon"] = self.horizon
        data["nodes"] = [dict(n) for n in self._nodes]
        if self._gangs:
            data["gangs"] = {k: dict(v) for k, v in self._gangs.items()}
        data["tasks"] = [dict(t) for t in self._tasks]
        if self._objective is not None:
            data["objective"] = dict(self._objective)
        return data

    def build(self) -> Problem:
        """The validated problem; InputError with every error (entity and field named)."""
        return problem_from_dict(self.to_dict(), self.name or _BUILDER, locate=False)

    def _check(self, model: type[BaseModel], entry: dict[str, Any], *where: Any) -> Any:
        try:
            return model.model_validate(entry)
        except ValidationError as exc:
            raw = self.to_dict()
            if where[0] == "objective":
                raw["objective"] = entry
            elif where[0] == "gangs":
                raw.setdefault("gangs", {})[where[1]] = entry
            else:
                raw[where[0]] = [*raw[where[0]], entry]
            src = Source(self.name or _BUILDER, b"", raw, "json", locate=False)
            raise InputError(schema_diagnostics(src, exc, prefix=where)) from None
