"""From a problem file to a :class:`~taskalloc.problems.entities.Problem`, in one pass.

:func:`build_problem` checks the schema of every entity (pydantic, :mod:`.spec`) and the
cross-references and rules between them (unknown ids, cycles, pools, revision-2 rules), and
reports every error of the file at once (up to :data:`~taskalloc.problems.source.MAX_ERRORS`
printed, with the count of the rest), each with file, line, column and field path. An entity
whose schema is broken is left out of the cross-reference checks, and references to it are not
reported as unknown, so that one pass finds what a user must fix and nothing that is an echo of
another error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from pydantic import ValidationError

from .entities import _EMPTY, Node, Objective, Problem, Spread, Task, TaskDraft, seal
from .limits import MAX_TIME, Limits, count_words
from .records import TASKS, ProblemHead, records
from .source import (
    MAX_ERRORS,
    MAX_WARNINGS,
    Diagnostic,
    InputError,
    PathElem,
    Source,
    did_you_mean,
    gc_paused,
    load,
    parse,
)
from .spec import (
    SCHEDULING_FIELDS,
    SCHEDULING_TERMS,
    SERVICE_EXCLUDES,
    GangSpec,
    NodeSpec,
    ObjectiveSpec,
    ProblemSpec,
    TaskSpec,
)
from .wording import label_str, listing, num, plural, schema_diagnostics


def load_problem(path: str, *, limits: Limits | None = None) -> Problem:
    """Load, validate and compile a problem file (``-`` for stdin). Raises InputError.

    ``limits``: the size limits (:mod:`~taskalloc.problems.limits`; default: those of
    ``TASKALLOC_LIMITS``)."""
    return build_problem(load(path, limits))


def problem_from_dict(
    data: Mapping[str, Any],
    name: str = "<memory>",
    *,
    locate: bool = True,
    limits: Limits | None = None,
) -> Problem:
    """Compile a problem given as plain data (e.g. from :mod:`~taskalloc.problems.generate`).

    The data is serialised to JSON first (the problem's bytes and ``sha256`` are those of that
    text). ``locate=False`` leaves line and column out of error messages (for data that never
    was a file, such as a :class:`~taskalloc.problems.builder.ProblemBuilder`'s)."""
    try:
        text = json.dumps(data, indent=1).encode()
    except (ValueError, RecursionError) as exc:  # a structure that contains itself
        raise InputError([Diagnostic(name, None, None, "", f"not plain data: {exc}")]) from None
    src = parse(name if name.endswith(".json") else name + ".json", text, limits)
    if not locate:
        src.name = name
        src.locate = False
    return build_problem(src)


def build_problem(src: Source) -> Problem:
    """Validate and compile a parsed file; InputError with every error, located."""
    with gc_paused():
        return _build(src)


def _build(src: Source) -> Problem:
    if not isinstance(src.raw, dict):
        if src.raw is None:
            raise InputError([src.diagnostic((), "the file is empty")])
        kind = {"list": "a list", "str": "a string"}.get(type(src.raw).__name__, "a scalar")
        raise InputError([src.diagnostic((), f"a problem file must be a mapping, got {kind}")])
    if "taskalloc_plan" in src.raw and "taskalloc" not in src.raw:
        raise InputError([src.diagnostic((), "this is a plan file, not a problem")])
    parts = _bulk_parts(src.raw)
    if parts is not None:
        return _Compiler(src, parts).compile()
    try:
        spec = ProblemSpec.model_validate(src.raw)
    except ValidationError as exc:
        diags = schema_diagnostics(src, exc)
        parts = _salvage(src, exc)
        if parts is None:  # no node or task list to check references against
            raise InputError(diags[:MAX_ERRORS], total=len(diags)) from None
        return _Compiler(src, parts, diags).compile()
    return _Compiler(src, _Parts.of(spec)).compile()


def _bulk_parts(raw: dict[str, Any]) -> _Parts | None:
    """The parts of a file whose tasks pass the schema in bulk (:mod:`.records`: one pass over
    the list, no model per task); None when something does not (an error, or ``x-`` keys on a
    task): then the models validate the file and word its errors."""
    try:
        head = ProblemHead.model_validate(raw)
        tasks = records(TASKS.validate_python(raw["tasks"]))
    except ValidationError:
        return None
    return _Parts.of(head, tasks)


# -- what the compiler works on ----------------------------------------------------------------


@dataclass
class _Parts:
    """The entities that passed the schema, each with its position in the file, and the ids of
    those that did not (references to them are not reported)."""

    name: str | None
    horizon: int | None
    nodes: list[tuple[int, NodeSpec]]
    tasks: list[tuple[int, TaskSpec]]
    objective: ObjectiveSpec | None
    gangs: dict[str, GangSpec]
    scheduling: bool
    broken_nodes: set[str] = field(default_factory=set)
    broken_tasks: set[str] = field(default_factory=set)
    broken_gangs: set[str] = field(default_factory=set)  # gang names used by broken tasks
    objective_broken: bool = False
    max_moves: int | None = None

    @classmethod
    def of(cls, spec: ProblemSpec, tasks: Sequence[TaskSpec] | None = None) -> _Parts:
        """The parts of a valid problem; ``tasks``: its tasks (default: ``spec.tasks``), as
        models or as :class:`~.records.TaskRecord` objects, which read the same."""
        tasks = spec.tasks if tasks is None else tasks
        return cls(
            name=spec.name,
            horizon=spec.horizon,
            nodes=list(enumerate(spec.nodes)),
            tasks=list(enumerate(tasks)),
            objective=spec.objective,
            gangs=dict(spec.gangs),
            scheduling=any(t.duration is not None for t in tasks),
            max_moves=spec.max_moves,
        )


def _salvage(src: Source, exc: ValidationError) -> _Parts | None:
    """The entities of a file that fails the schema, validated one by one, so that the
    cross-reference checks can run on the valid ones in the same pass."""
    raw = src.raw
    nodes_raw, tasks_raw = raw.get("nodes"), raw.get("tasks")
    if not isinstance(nodes_raw, list) or not isinstance(tasks_raw, list):
        return None
    if not nodes_raw or not tasks_raw:
        return None
    bad: dict[str, set[Any]] = {"nodes": set(), "tasks": set(), "gangs": set(), "": set()}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if loc and loc[0] in ("nodes", "tasks", "gangs") and len(loc) >= 2:
            bad[str(loc[0])].add(loc[1])
        elif loc:
            bad[""].add(loc[0])
    if "taskalloc" in bad[""]:  # another format version: its references mean nothing to us
        return None

    def ident(entry: Any) -> str | None:
        value = entry.get("id") if isinstance(entry, dict) else None
        return value if isinstance(value, str) else None

    parts = _Parts(
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
        horizon=None,
        nodes=[],
        tasks=[],
        objective=None,
        gangs={},
        scheduling=any(isinstance(t, dict) and t.get("duration") is not None for t in tasks_raw),
    )
    if "horizon" not in bad[""] and isinstance(raw.get("horizon"), int):
        parts.horizon = raw["horizon"]
    if "max_moves" not in bad[""] and isinstance(raw.get("max_moves"), int):
        parts.max_moves = raw["max_moves"]
    for i, entry in enumerate(nodes_raw):
        if i in bad["nodes"] or "nodes" in bad[""]:
            if (nid := ident(entry)) is not None:
                parts.broken_nodes.add(nid)
        else:
            parts.nodes.append((i, NodeSpec.model_validate(entry)))
    for i, entry in enumerate(tasks_raw):
        if i in bad["tasks"] or "tasks" in bad[""]:
            if (tid := ident(entry)) is not None:
                parts.broken_tasks.add(tid)
            gang = entry.get("gang") if isinstance(entry, dict) else None
            if isinstance(gang, str):
                parts.broken_gangs.add(gang)
        else:
            parts.tasks.append((i, TaskSpec.model_validate(entry)))
    if raw.get("objective") is not None:
        if "objective" in bad[""]:
            parts.objective_broken = True
        else:
            parts.objective = ObjectiveSpec.model_validate(raw["objective"])
    gangs_raw = raw.get("gangs")
    if isinstance(gangs_raw, dict) and "gangs" not in bad[""]:
        for name, entry in gangs_raw.items():
            if name not in bad["gangs"]:
                parts.gangs[name] = GangSpec.model_validate(entry)
    return parts


# -- the compiler --------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, src: Source, parts: _Parts, errors: Sequence[Diagnostic] = ()) -> None:
        self.src = src
        self.parts = parts
        self.errors: list[Diagnostic] = list(errors)
        self.warnings: list[Diagnostic] = []
        self._allowed_cache: dict[Any, tuple[int, ...]] = {}
        self._labels: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self._interned: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._node_ints: np.ndarray | None = None  # the node indices as Python ints

    def error(self, path: Sequence[PathElem], message: str, *, key: bool = False) -> None:
        self.errors.append(self.src.diagnostic(path, message, key=key))

    def warn(self, path: Sequence[PathElem], message: str, *, key: bool = False) -> None:
        self.warnings.append(self.src.diagnostic(path, message, key=key))

    def stop(self, path: Sequence[PathElem], message: str) -> None:
        """A limit is broken: this error alone, at once (what follows would take too long)."""
        raise InputError([self.src.diagnostic(path, message)])

    def _check_sizes(self) -> None:
        """The size limits that can be checked before anything is expanded."""
        limits, parts = self.src.limits, self.parts
        if parts.nodes:
            total = sum(ns.count for _, ns in parts.nodes)
            msg = limits.exceeded("nodes", total, "nodes after pools expand")
            if msg:
                si, _ = max(parts.nodes, key=lambda e: e[1].count)
                self.stop(("nodes", si, "count"), msg)
            devices = sum(ns.count * sum(ns.devices.values()) for _, ns in parts.nodes)
            msg = limits.exceeded("devices", devices, "devices after pools expand")
            if msg:
                si, _ = max(parts.nodes, key=lambda e: e[1].count * sum(e[1].devices.values()))
                self.stop(("nodes", si, "devices"), msg)
        if parts.tasks:
            total = sum(ts.replicas for _, ts in parts.tasks)
            msg = limits.exceeded("replicas", total, "replicas in all")
            if msg:
                i, _ = max(parts.tasks, key=lambda e: e[1].replicas)
                self.stop(("tasks", i, "replicas"), msg)

    def _check_pairs(self, tasks: list[Task]) -> None:
        limit = self.src.limits.pairs
        if limit is None or len(tasks) * len(self.nodes) <= limit:
            return
        pairs = sum(len(t.allowed) for t in tasks)
        msg = self.src.limits.exceeded(
            "pairs", pairs, f"(task, allowed node) pairs ({len(tasks):,} tasks)"
        )
        if msg:
            self.stop(("tasks",), msg)

    def _check_times(self, tasks: list[Task]) -> None:
        """A duration divided by a slow node's speed must stay a time the engines take."""
        if not self.nodes:
            return
        slowest = min(self.nodes, key=lambda n: n.speed)
        for t in tasks:
            if t.duration is None or math.ceil(t.duration / slowest.speed) <= MAX_TIME:
                continue
            for n in t.allowed:
                node = self.nodes[n]
                if n in t.duration_on:
                    continue
                took = math.ceil(t.duration / node.speed)
                if took > MAX_TIME:
                    self.error(
                        ("tasks", t.spec_index, "duration"),
                        f"takes {num(took)} time units on node {node.id} (duration "
                        f"{t.duration} / speed {num(node.speed)}), more than {MAX_TIME} (2^31 - "
                        "1: larger times overflow the engines' 64-bit arithmetic)",
                    )
                    break

    def compile(self) -> Problem:
        parts = self.parts
        self._check_sizes()
        nodes, pools = self._nodes()
        self.node_index = {n.id: n.index for n in nodes}
        self.pools = pools
        self.nodes = nodes
        scheduling = parts.scheduling
        task_index: dict[str, int] = {}  # id -> position in the file
        for i, ts in parts.tasks:
            if ts.id in task_index:
                j = task_index[ts.id]
                self.error(("tasks", i, "id"), f"duplicate task id '{ts.id}' (also tasks[{j}])")
            else:
                task_index[ts.id] = i
        self.task_index = task_index
        # compiled index of each task: its position among the valid ones (the file's position
        # when the file is valid, which is the only case in which a Problem is returned)
        self.compiled_index = {i: k for k, (i, _) in enumerate(parts.tasks)}
        self.services = {ts.id for _, ts in parts.tasks if ts.service}
        tasks = [self._task(k, i, ts, scheduling) for k, (i, ts) in enumerate(parts.tasks)]
        self._check_pairs(tasks)
        if scheduling:
            self._check_times(tasks)
        objective = self._objective(scheduling)
        if scheduling:
            self._check_cycles()
        else:
            self._placement_warnings()
        self._resource_warnings()
        gangs: dict[str, list[int]] = {}
        for t in tasks:
            if t.gang is not None:
                gangs.setdefault(t.gang, []).append(t.index)
        same_start = self._gangs(gangs, tasks, scheduling)
        # separation is symmetric: mirror every pair (the tasks are drafts until sealed)
        mirrored: dict[int, set[int]] = {}
        for t in tasks:
            for o in t.separate:
                mirrored.setdefault(o, set()).add(t.index)
        for o, others in mirrored.items():
            tasks[o].separate = tasks[o].separate | others
        if self.errors:
            diags = sorted(self.errors, key=lambda d: (d.line or 0, d.column or 0))
            raise InputError(diags[:MAX_ERRORS], total=len(diags))
        warnings = _summarised(self.warnings, self.src.name)
        resources = sorted(
            set().union(
                *(n.capacity for n in nodes),
                *(t.demand for t in tasks),
                *(d for _, ts in parts.tasks for d in ts.demand_on.values()),  # as resolved
            )
        )
        return Problem(
            name=parts.name,
            nodes=tuple(nodes),
            tasks=tuple(seal(tasks)),
            resources=tuple(resources),
            horizon=parts.horizon,
            objective=objective,
            scheduling=scheduling,
            pools=MappingProxyType({k: tuple(v) for k, v in pools.items()}),
            gangs=MappingProxyType({k: tuple(v) for k, v in gangs.items()}),
            source=self.src,
            warnings=warnings,
            same_start=same_start,
            max_moves=parts.max_moves,
        )

    # -- nodes ---------------------------------------------------------------------------------

    def _nodes(self) -> tuple[list[Node], dict[str, list[int]]]:
        nodes: list[Node] = []
        pools: dict[str, list[int]] = {}
        owner: dict[str, int] = {}
        for si, ns in self.parts.nodes:
            if ns.id in pools:
                self.error(("nodes", si, "id"), f"duplicate node id '{ns.id}'")
                continue
            ids = [ns.id] if ns.count == 1 else [f"{ns.id}-{k}" for k in range(1, ns.count + 1)]
            members = []
            cap = MappingProxyType(dict(ns.capacity))
            labels = MappingProxyType({k: label_str(v) for k, v in ns.labels.items()})
            devices = _frozen(self._devices(si, ns))
            for nid in ids:
                if nid in owner:
                    other = self._node_spec(owner[nid]).id
                    self.error(
                        ("nodes", si, "id"),
                        f"node id '{nid}' is already used by nodes[{owner[nid]}] ({other})",
                    )
                    continue
                owner[nid] = si
                idx = len(nodes)
                nodes.append(Node(idx, nid, ns.id, cap, labels, ns.cost, ns.speed, si, devices))
                members.append(idx)
            pools[ns.id] = members
        for pid, members in pools.items():
            if len(members) > 1 and pid in owner:
                self.error(
                    ("nodes", owner[pid], "id"),
                    f"'{pid}' names both a pool (nodes[{self._pool_spec(pid)}]) and a node",
                )
        return nodes, pools

    def _devices(self, si: int, ns: NodeSpec) -> dict[str, int]:
        out = {}
        for r, k in ns.devices.items():
            if ns.capacity.get(r, 0.0) <= 0:
                hint = did_you_mean(r, [c for c in ns.capacity if c not in ns.devices])
                self.error(
                    ("nodes", si, "devices", r),
                    f"splits '{r}' into devices, but the node has no {r} capacity{hint}",
                    key=True,
                )
            else:
                out[r] = k
        return out

    def _node_spec(self, si: int) -> NodeSpec:
        return next(ns for i, ns in self.parts.nodes if i == si)

    def _pool_spec(self, pid: str) -> int:
        return next(i for i, n in self.parts.nodes if n.id == pid)

    def _is_broken_node(self, ref: str) -> bool:
        return any(ref == b or ref.startswith(b + "-") for b in self.parts.broken_nodes)

    def _resolve(self, ref: str, path: Sequence[PathElem], what: str) -> tuple[int, ...] | None:
        if ref in self.node_index:
            return (self.node_index[ref],)
        if ref in self.pools:
            return tuple(self.pools[ref])
        if not self._is_broken_node(ref):  # a broken node has its own error already
            hint = did_you_mean(ref, [*self.node_index, *self.pools, *self.parts.broken_nodes])
            self.error(path, f"unknown {what} '{ref}'{hint}")
        return None

    def _per_node(
        self,
        mapping: Mapping[str, Any],
        path: Sequence[PathElem],
        convert: Callable[[Any], Any] | None = None,
    ) -> dict[int, Any]:
        """Expand a node-or-pool keyed map; member entries win over pool entries. ``convert``
        is applied to each value once: a pool's members share the result."""
        if not mapping:
            return {}
        out: dict[int, Any] = {}
        members: list[tuple[int, Any]] = []
        for key, value in mapping.items():
            if convert is not None:
                value = convert(value)
            pool = self.pools.get(key)
            if pool is not None and len(pool) > 1:
                out.update(dict.fromkeys(pool, value))  # pools are disjoint
            else:
                idx = self._resolve(key, (*path, key), "node or pool")
                if idx is not None:
                    members.append((idx[0], value))
        for m, value in members:
            out[m] = value
        return out

    # -- tasks ---------------------------------------------------------------------------------

    def _allowed(self, ts: TaskSpec, path: tuple[PathElem, ...]) -> tuple[int, ...]:
        """Nodes allowed by `nodes` and `match`, then by `spread` (nodes with its label)."""
        # values as the label strings they are compared as (1 and true are equal in Python)
        match_key = (
            tuple(sorted((k, tuple(map(label_str, _as_tuple(v)))) for k, v in ts.match.items()))
            if ts.match
            else None
        )
        key = (tuple(ts.nodes) if ts.nodes is not None else None, match_key)
        allowed = self._allowed_cache.get(key)
        if allowed is None:
            n_errors = len(self.errors)
            allowed = self._selected(ts, path)
            if len(self.errors) == n_errors:  # a selector with an error is checked each time
                self._allowed_cache[key] = allowed
        if ts.spread is not None:
            spread_key = ts.spread.key
            with_key = tuple(n for n in allowed if spread_key in self.nodes[n].labels)
            if allowed and not with_key:
                keys = {k for n in allowed for k in self.nodes[n].labels}
                self.error(
                    (*path, "spread", "key"),
                    f"no allowed node has label '{spread_key}'{did_you_mean(spread_key, keys)}",
                )
            allowed = self._interned.setdefault(with_key, with_key)
        return allowed

    def _selected(self, ts: TaskSpec, path: tuple[PathElem, ...]) -> tuple[int, ...]:
        """The nodes `nodes` and `match` allow, ascending: one tuple per distinct set (tasks
        with equal sets share it, and its int objects are the node indices' own)."""
        ok: np.ndarray | None = None
        if ts.nodes is not None:
            ok = np.zeros(len(self.nodes), dtype=bool)
            for i, ref in enumerate(ts.nodes):
                idx = self._resolve(ref, (*path, "nodes", i), "node or pool")
                if idx is not None:
                    ok[list(idx)] = True
        if ts.match:
            wanted = {k: {label_str(x) for x in _as_tuple(v)} for k, v in ts.match.items()}
            if ok is None:
                ok = np.ones(len(self.nodes), dtype=bool)
            for k, vals in wanted.items():
                codes, code_of = self._label_codes(k)
                ok &= np.isin(codes, [code_of[v] for v in vals if v in code_of])
        if self._node_ints is None:
            self._node_ints = np.array(range(len(self.nodes)), dtype=object)
        chosen = self._node_ints if ok is None else self._node_ints[ok]
        allowed: tuple[int, ...] = tuple(chosen.tolist())
        return self._interned.setdefault(allowed, allowed)

    def _label_codes(self, key: str) -> tuple[np.ndarray, dict[str, int]]:
        """Label ``key`` of every node as an integer code (-1: no such label), and the code of
        each value: `match` over 5,000 nodes for thousands of selectors, vectorised."""
        hit = self._labels.get(key)
        if hit is None:
            code_of: dict[str, int] = {}
            codes = np.array(
                [
                    code_of.setdefault(v, len(code_of))
                    if (v := n.labels.get(key)) is not None
                    else -1
                    for n in self.nodes
                ],
                dtype=np.int64,
            )
            hit = self._labels[key] = (codes, code_of)
        return hit

    def _ref_task(self, ref: str, path: Sequence[PathElem]) -> int | None:
        """The compiled index of the task named ``ref``; None (with an error unless the task is
        broken) when there is none."""
        if ref in self.task_index:
            return self.compiled_index[self.task_index[ref]]
        if ref not in self.parts.broken_tasks:
            hint = did_you_mean(ref, [*self.task_index, *self.parts.broken_tasks])
            self.error(path, f"unknown task '{ref}'{hint}")
        return None

    def _task(self, k: int, i: int, ts: TaskSpec, scheduling: bool) -> Any:
        """The task as a :data:`~taskalloc.problems.entities.TaskDraft` (sealed at the end)."""
        path: tuple[PathElem, ...] = ("tasks", i)
        separate = set()
        for j, ref in enumerate(ts.separate_from):
            o = self._ref_task(ref, (*path, "separate_from", j))
            if o is not None and o != k:
                separate.add(o)
        after = []
        for j, ref in enumerate(ts.after):
            o = self._ref_task(ref, (*path, "after", j))
            if o is None:
                continue
            if o == k:
                self.error((*path, "after", j), f"task '{ref}' cannot come after itself")
            elif ref in self.services:
                self.error(
                    (*path, "after", j),
                    f"task '{ref}' is a service (it runs until the horizon): nothing can come "
                    "after it",
                )
            else:
                after.append(o)
        current, entries = self._current(ts, path)
        demand_on = self._per_node(ts.demand_on, (*path, "demand_on"), _frozen_demand)
        allowed = self._allowed(ts, path)
        service = self._service(ts, path, scheduling)
        return TaskDraft(
            index=k,
            id=ts.id,
            demand=MappingProxyType(dict(ts.demand)) if ts.demand else _EMPTY,
            replicas=ts.replicas,
            priority=ts.priority,
            required=ts.required,
            allowed=allowed,
            separate=frozenset(separate),
            gang=ts.gang,
            assign_cost=_frozen(self._per_node(ts.assign_cost, (*path, "assign_cost"))),
            demand_on=_frozen(demand_on),
            current=current,
            duration=ts.duration,
            duration_on=_frozen(self._per_node(ts.duration_on, (*path, "duration_on"))),
            after=tuple(dict.fromkeys(after)),
            release=ts.release,
            deadline=ts.deadline,
            due=ts.due,
            spec_index=i,
            service=service,
            span=self.parts.horizon if service else None,
            spread=self._spread(ts, allowed),
            current_entries=entries,
        )

    def _current(
        self, ts: TaskSpec, path: tuple[PathElem, ...]
    ) -> tuple[frozenset[int] | None, tuple[tuple[int, ...], ...]]:
        """`current`: the union of the nodes it names (what `moves` compares with) and the
        entries one by one (a single id is a list of one)."""
        if ts.current is None:
            return None, ()
        if isinstance(ts.current, str):
            idx = self._resolve(ts.current, (*path, "current"), "node or pool")
            return frozenset(idx or ()), (tuple(idx or ()),)
        if len(ts.current) > ts.replicas:
            self.error(
                (*path, "current"),
                f"lists {plural(len(ts.current), 'node')}, but the task has "
                f"{plural(ts.replicas, 'replica')} (one entry per replica at most)",
            )
        seen: dict[str, int] = {}
        entries: list[tuple[int, ...]] = []
        for j, ref in enumerate(ts.current):
            if ref in seen:
                self.error(
                    (*path, "current", j), f"'{ref}' is listed twice (also current[{seen[ref]}])"
                )
                continue
            seen[ref] = j
            idx = self._resolve(ref, (*path, "current", j), "node or pool")
            entries.append(tuple(idx or ()))
        return frozenset(n for e in entries for n in e), tuple(entries)

    def _service(self, ts: TaskSpec, path: tuple[PathElem, ...], scheduling: bool) -> bool:
        """Whether the task is a service that counts (scheduling problems); errors for the
        fields a service may not have, in any problem."""
        if not ts.service:
            return False
        for f in SERVICE_EXCLUDES:
            if getattr(ts, f) not in (None, [], {}):
                self.error(
                    (*path, f),
                    f"a service runs over [0, horizon): it has no '{f}'",
                    key=True,
                )
        if not scheduling:
            self.warn(
                (*path, "service"),
                "ignored: no task has a duration (placement problem), so every task already "
                "runs for the whole plan",
                key=True,
            )
            return False
        if self.parts.horizon is None:
            self.error(
                (*path, "service"),
                "a service runs until the horizon, so the problem needs 'horizon'",
                key=True,
            )
        return True

    def _spread(self, ts: TaskSpec, allowed: tuple[int, ...]) -> Spread | None:
        if ts.spread is None:
            return None
        key = ts.spread.key
        values = sorted({self.nodes[n].labels[key] for n in allowed})
        pos = {v: j for j, v in enumerate(values)}
        value_of = {n: pos[self.nodes[n].labels[key]] for n in allowed}
        return Spread(key, ts.spread.max_skew, tuple(values), MappingProxyType(value_of))

    # -- gangs ---------------------------------------------------------------------------------

    def _gangs(
        self, gangs: dict[str, list[int]], tasks: list[Task], scheduling: bool
    ) -> frozenset[str]:
        """Check `gangs` (names in use; no service in a same-start gang) and return the names
        of the gangs that start together (scheduling problems only)."""
        used = set(gangs) | self.parts.broken_gangs
        same: set[str] = set()
        for name, spec in self.parts.gangs.items():
            if name not in used:
                self.error(
                    ("gangs", name),
                    f"gang '{name}' is not used by any task{did_you_mean(name, used)}",
                    key=True,
                )
                continue
            if not spec.same_start:
                continue
            for m in gangs.get(name, []):
                if self.parts.tasks[m][1].service:
                    self.error(
                        ("tasks", tasks[m].spec_index, "gang"),
                        f"gang '{name}' starts together (same_start), and a service cannot be "
                        "in such a gang",
                    )
            if scheduling:
                same.add(name)
            else:
                self.warn(
                    ("gangs", name, "same_start"),
                    "ignored: no task has a duration (placement problem)",
                    key=True,
                )
        return frozenset(same)

    # -- objective -----------------------------------------------------------------------------

    def _objective(self, scheduling: bool) -> Objective:
        obj = self.parts.objective
        default = ("unplaced", "makespan" if scheduling else "cost")
        if obj is None:
            return Objective("lexicographic", default, _EMPTY, explicit=self.parts.objective_broken)
        path: tuple[PathElem, ...] = ("objective",)
        if obj.lexicographic is not None and obj.weights is not None:
            self.error(path, "give either 'lexicographic' or 'weights', not both")
            return Objective("lexicographic", default, _EMPTY, explicit=True)
        if obj.lexicographic is None and obj.weights is None:
            self.error(path, "needs 'lexicographic' (a list of terms) or 'weights'")
            return Objective("lexicographic", default, _EMPTY, explicit=True)
        terms = list(obj.lexicographic if obj.lexicographic is not None else obj.weights or {})
        where = "lexicographic" if obj.lexicographic is not None else "weights"
        if not terms:
            self.error((*path, where), "must name at least one term")
        seen: set[str] = set()
        for j, term in enumerate(terms):
            tpath = (*path, where, j if where == "lexicographic" else term)
            if term in seen:
                self.error(tpath, f"term '{term}' appears twice")
            seen.add(term)
            if term in SCHEDULING_TERMS and not scheduling:
                self.error(
                    tpath,
                    f"'{term}' is a scheduling term, but no task has a duration "
                    "(this is a placement problem)",
                    key=where == "weights",
                )
        if obj.lexicographic is not None:
            return Objective("lexicographic", tuple(obj.lexicographic), _EMPTY, explicit=True)
        weights: dict[str, float] = {str(k): v for k, v in (obj.weights or {}).items()}
        return Objective("weights", tuple(weights), MappingProxyType(weights), explicit=True)

    # -- whole-problem checks ------------------------------------------------------------------

    def _check_cycles(self) -> None:
        """Name every dependency cycle once (iterative DFS over `after`)."""
        spec_tasks = [ts for _, ts in self.parts.tasks]
        position = [i for i, _ in self.parts.tasks]
        succ = [
            [self.compiled_index[self.task_index[r]] for r in t.after if r in self.task_index]
            for t in spec_tasks
        ]
        state = [0] * len(spec_tasks)  # 0 new, 1 on stack, 2 done
        reported: set[frozenset[int]] = set()
        for root in range(len(spec_tasks)):
            if state[root]:
                continue
            stack: list[tuple[int, int]] = [(root, 0)]
            onpath: list[int] = [root]
            state[root] = 1
            while stack:
                v, k = stack[-1]
                if k < len(succ[v]):
                    stack[-1] = (v, k + 1)
                    w = succ[v][k]
                    if state[w] == 0:
                        state[w] = 1
                        stack.append((w, 0))
                        onpath.append(w)
                    elif state[w] == 1 and w != v:
                        cyc = onpath[onpath.index(w) :]
                        key = frozenset(cyc)
                        if key not in reported:
                            reported.add(key)
                            names = listing(
                                [spec_tasks[c].id for c in [*cyc, w]], 8, " -> ", tail=2
                            )
                            pos = succ[v].index(w)
                            self.error(
                                ("tasks", position[v], "after", pos),
                                f"dependency cycle: {names} (each waits for the next)",
                            )
                else:
                    state[v] = 2
                    stack.pop()
                    onpath.pop()

    def _placement_warnings(self) -> None:
        fields = frozenset(SCHEDULING_FIELDS)
        for i, t in self.parts.tasks:
            if fields.isdisjoint(t.model_fields_set):  # none given: each is its default
                continue
            for f in SCHEDULING_FIELDS:
                val = getattr(t, f)
                if val not in (None, [], {}):
                    self.warn(
                        ("tasks", i, f),
                        f"ignored: '{f}' is a scheduling field and no task has a duration",
                        key=True,
                    )
        if self.parts.horizon is not None:
            self.warn(("horizon",), "ignored: no task has a duration (placement problem)", key=True)

    def _resource_warnings(self) -> None:
        offered = {r for _, n in self.parts.nodes for r, q in n.capacity.items() if q > 0}
        if set().union(*(t.demand for _, t in self.parts.tasks)) <= offered:
            return
        for i, t in self.parts.tasks:
            for r, q in t.demand.items():
                if q > 0 and r not in offered:
                    self.warn(
                        ("tasks", i, "demand", r),
                        f"no node offers resource '{r}'" + did_you_mean(r, offered - set(t.demand)),
                        key=True,
                    )


def _summarised(warnings: list[Diagnostic], file: str) -> tuple[Diagnostic, ...]:
    """The first MAX_WARNINGS warnings, then one line that counts the rest by message."""
    if len(warnings) <= MAX_WARNINGS:
        return tuple(warnings)
    rest = warnings[MAX_WARNINGS:]
    kinds: dict[str, int] = {}
    for w in rest:
        kinds[w.message] = kinds.get(w.message, 0) + 1
    common = sorted(kinds.items(), key=lambda kv: -kv[1])
    words = "; ".join(f"{count_words(n)} x {m}" for m, n in common[:3])
    if len(common) > 3:
        words += f"; {len(common) - 3} other kinds"
    more = f"... and {count_words(len(rest))} more warnings: {words}"
    summary = Diagnostic(file, None, None, "", more)
    return (*warnings[:MAX_WARNINGS], summary)


def _as_tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, list) else (v,)


def _frozen_demand(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


def _frozen(d: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(d) if d else _EMPTY
