"""The problem as solvers see it: pools expanded, ids resolved to indices, immutable.

:func:`build_problem` turns a parsed :class:`~taskalloc.problems.source.Source` into a
:class:`Problem`, reporting every schema and cross-reference error of the file at once (up to
:data:`~taskalloc.problems.source.MAX_ERRORS`), each with file, line, column and field path.
:func:`prove_infeasible` runs the cheap structural checks that prove a problem has no plan.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
from pydantic import ValidationError

from .source import (
    MAX_ERRORS,
    Diagnostic,
    InputError,
    PathElem,
    Source,
    did_you_mean,
    load,
    parse,
)
from .spec import (
    ID_PATTERN,
    SCHEDULING_FIELDS,
    SCHEDULING_TERMS,
    TERMS,
    NodeSpec,
    ObjectiveSpec,
    ProblemSpec,
    TaskSpec,
)

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


def label_str(value: object) -> str:
    """Labels and selector values compare as strings; booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Node:
    index: int
    id: str
    pool: str  # the node entry's id (a pool of one for count 1)
    capacity: Mapping[str, float]
    labels: Mapping[str, str]
    cost: float
    speed: float
    spec_index: int  # position in the file's `nodes` list


@dataclass(frozen=True, slots=True)
class Task:
    index: int
    id: str
    demand: Mapping[str, float]
    replicas: int
    priority: float
    required: bool
    allowed: tuple[int, ...]  # node indices allowed by `nodes` and `match`, ascending
    separate: frozenset[int]  # task indices never sharing a node with it (both directions)
    gang: str | None
    assign_cost: Mapping[int, float]  # node index -> cost (pool entries expanded)
    demand_on: Mapping[int, Mapping[str, float]]
    current: frozenset[int] | None  # node indices it runs on today
    duration: int | None
    duration_on: Mapping[int, int]
    after: tuple[int, ...]
    release: int | None
    deadline: int | None
    due: int | None
    spec_index: int

    def demand_at(self, node: int) -> Mapping[str, float]:
        return self.demand_on.get(node, self.demand)

    def cost_at(self, node: int) -> float:
        return self.assign_cost.get(node, 0.0)

    def duration_at(self, node: Node) -> int:
        """Duration of one replica on ``node`` (0 for tasks without ``duration``)."""
        d = self.duration_on.get(node.index)
        if d is not None:
            return d
        if self.duration is None:
            return 0
        return math.ceil(self.duration / node.speed)


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
        return "weights: " + ", ".join(f"{t}={_num(w)}" for t, w in self.weights.items())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True, eq=False)
class Problem:
    """An allocation problem, validated. Nodes and tasks are addressed by index everywhere."""

    name: str | None
    nodes: tuple[Node, ...]
    tasks: tuple[Task, ...]
    resources: tuple[str, ...]
    horizon: int | None
    objective: Objective
    scheduling: bool
    pools: Mapping[str, tuple[int, ...]]
    gangs: Mapping[str, tuple[int, ...]]
    source: Source = field(repr=False)
    warnings: tuple[Diagnostic, ...] = ()

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
        arr = np.zeros((len(self.tasks), len(self.resources)))
        ri = self.resource_index
        for t in self.tasks:
            for r, q in t.demand.items():
                arr[t.index, ri[r]] = q
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


# --------------------------------------------------------------------------------------------
# loading


def load_problem(path: str) -> Problem:
    """Load, validate and compile a problem file (``-`` for stdin). Raises InputError."""
    return build_problem(load(path))


def problem_from_dict(data: Mapping[str, Any], name: str = "<memory>") -> Problem:
    """Compile a problem given as plain data (e.g. from :mod:`~taskalloc.problems.generate`)."""
    text = json.dumps(data, indent=1).encode()
    return build_problem(parse(name if name.endswith(".json") else name + ".json", text))


def build_problem(src: Source) -> Problem:
    if not isinstance(src.raw, dict):
        if src.raw is None:
            raise InputError([src.diagnostic((), "the file is empty")])
        kind = {"list": "a list", "str": "a string"}.get(type(src.raw).__name__, "a scalar")
        raise InputError([src.diagnostic((), f"a problem file must be a mapping, got {kind}")])
    try:
        spec = ProblemSpec.model_validate(src.raw)
    except ValidationError as exc:
        diags = schema_diagnostics(src, exc)
        raise InputError(diags[:MAX_ERRORS], total=len(diags)) from None
    return _Compiler(src, spec).compile()


# -- pydantic errors -> our messages ---------------------------------------------------------

_ENTITY_FIELDS = {
    (): ProblemSpec,
    ("nodes", 0): NodeSpec,
    ("tasks", 0): TaskSpec,
    ("objective",): ObjectiveSpec,
}
_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
    "finite_number": "a finite number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return str(v)


def _entity_of(loc: Sequence[PathElem]) -> type | None:
    generic = tuple(0 if isinstance(e, int) else e for e in loc)
    return _ENTITY_FIELDS.get(generic)


def schema_diagnostics(src: Source, exc: ValidationError) -> list[Diagnostic]:
    """Translate pydantic errors into located, user-worded diagnostics (unions collapsed)."""
    out: dict[tuple[PathElem, ...], Diagnostic] = {}
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        # Walk the raw data; a loc element that does not index it is a pydantic union tag.
        node: Any = src.raw
        real: list[PathElem] = []
        is_key = False
        for elem in loc:
            if elem == "[key]":
                is_key = True
                break
            in_dict = isinstance(node, dict) and elem in node
            in_list = isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node)
            if in_dict or in_list:
                node = node[elem]
            elif err["type"] in ("missing", "extra_forbidden") and elem == loc[-1]:
                pass
            else:
                break
            real.append(elem)
        key = tuple(real)
        if key in out and err["type"] != "extra_forbidden":
            continue
        etype = err["type"]
        value = err.get("input")
        ctx = err.get("ctx", {}) or {}
        at_key = False
        if etype == "missing":
            path, msg = real[:-1], f"missing required key '{real[-1]}'"
        elif etype == "extra_forbidden":
            name = str(real[-1])
            entity = _entity_of(real[:-1])
            fields = list(getattr(entity, "model_fields", {}))
            path, msg, at_key = real, f"unknown key '{name}'{did_you_mean(name, fields)}", True
        elif is_key and etype == "literal_error":
            path, at_key = real, True
            expected = ctx.get("expected", "")
            msg = f"must be {expected}, got {_fmt_value(real[-1])}"
            msg += did_you_mean(str(real[-1]), TERMS)
        elif is_key:
            path, at_key = real, True
            msg = f"name must match {ID_PATTERN.strip('^$')}, got {_fmt_value(real[-1])}"
        elif etype == "string_pattern_mismatch":
            path, msg = real, f"must match {ID_PATTERN.strip('^$')}, got {_fmt_value(value)}"
        elif etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            op = {"greater_than_equal": ">=", "greater_than": ">"}.get(etype, "<=")
            bound = next(iter(ctx.values()), "?")
            path, msg = real, f"must be {op} {_fmt_value(bound)}, got {_fmt_value(value)}"
        elif etype in ("literal_error", "enum"):
            expected = ctx.get("expected", "")
            extra = did_you_mean(str(value), TERMS) if real and real[0] == "objective" else ""
            path, msg = real, f"must be {expected}, got {_fmt_value(value)}{extra}"
        elif etype == "too_short":
            path, msg = real, f"must have at least {ctx.get('min_length', 1)} item"
        elif etype in _TYPE_WORDS or "type" in etype:
            want = _TYPE_WORDS.get(etype, etype.replace("_type", ""))
            if len(real) < len(loc) and etype not in ("dict_type", "list_type"):
                if "match" in loc:
                    want = "a string, number or boolean, or a list of them"
                elif "labels" in loc:
                    want = "a string, number or boolean"
            path, msg = real, f"must be {want}, got {_fmt_value(value)}"
        else:
            path, msg = real, err["msg"][0].lower() + err["msg"][1:]
        d = src.diagnostic(path, msg, key=at_key)
        out[key if etype != "extra_forbidden" else (*key, "!extra")] = d
    return sorted(out.values(), key=lambda d: (d.line or 0, d.column or 0))


# -- cross-references ------------------------------------------------------------------------


class _Compiler:
    def __init__(self, src: Source, spec: ProblemSpec) -> None:
        self.src = src
        self.spec = spec
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, path: Sequence[PathElem], message: str, *, key: bool = False) -> None:
        self.errors.append(self.src.diagnostic(path, message, key=key))

    def compile(self) -> Problem:
        spec = self.spec
        nodes, pools = self._nodes()
        node_index = {n.id: n.index for n in nodes}
        self.node_index = node_index
        self.pools = pools
        self.nodes = nodes
        scheduling = any(t.duration is not None for t in spec.tasks)
        task_index: dict[str, int] = {}
        for i, ts in enumerate(spec.tasks):
            if ts.id in task_index:
                j = task_index[ts.id]
                self.error(("tasks", i, "id"), f"duplicate task id '{ts.id}' (also tasks[{j}])")
            else:
                task_index[ts.id] = i
        self.task_index = task_index
        tasks = [self._task(i, ts, scheduling) for i, ts in enumerate(spec.tasks)]
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
        # separation is symmetric: mirror every pair
        mirrored: dict[int, set[int]] = {}
        for t in tasks:
            for o in t.separate:
                mirrored.setdefault(o, set()).add(t.index)
        if mirrored:
            tasks = [
                _replace_sep(t, t.separate | mirrored[t.index]) if t.index in mirrored else t
                for t in tasks
            ]
        if self.errors:
            diags = sorted(self.errors, key=lambda d: (d.line or 0, d.column or 0))
            raise InputError(diags[:MAX_ERRORS], total=len(diags))
        resources = sorted(
            {r for n in nodes for r in n.capacity}
            | {r for t in tasks for r in t.demand}
            | {r for t in tasks for d in t.demand_on.values() for r in d}
        )
        return Problem(
            name=spec.name,
            nodes=tuple(nodes),
            tasks=tuple(tasks),
            resources=tuple(resources),
            horizon=spec.horizon,
            objective=objective,
            scheduling=scheduling,
            pools=MappingProxyType({k: tuple(v) for k, v in pools.items()}),
            gangs=MappingProxyType({k: tuple(v) for k, v in gangs.items()}),
            source=self.src,
            warnings=tuple(self.warnings),
        )

    def _nodes(self) -> tuple[list[Node], dict[str, list[int]]]:
        nodes: list[Node] = []
        pools: dict[str, list[int]] = {}
        owner: dict[str, int] = {}
        for si, ns in enumerate(self.spec.nodes):
            if ns.id in pools:
                self.error(("nodes", si, "id"), f"duplicate node id '{ns.id}'")
                continue
            ids = [ns.id] if ns.count == 1 else [f"{ns.id}-{k}" for k in range(1, ns.count + 1)]
            members = []
            cap = MappingProxyType(dict(ns.capacity))
            labels = MappingProxyType({k: label_str(v) for k, v in ns.labels.items()})
            for nid in ids:
                if nid in owner:
                    other = self.spec.nodes[owner[nid]].id
                    self.error(
                        ("nodes", si, "id"),
                        f"node id '{nid}' is already used by nodes[{owner[nid]}] ({other})",
                    )
                    continue
                owner[nid] = si
                idx = len(nodes)
                nodes.append(Node(idx, nid, ns.id, cap, labels, ns.cost, ns.speed, si))
                members.append(idx)
            pools[ns.id] = members
        for pid, members in pools.items():
            if len(members) > 1 and pid in owner:
                self.error(
                    ("nodes", owner[pid], "id"),
                    f"'{pid}' names both a pool (nodes[{self._pool_spec(pid)}]) and a node",
                )
        return nodes, pools

    def _pool_spec(self, pid: str) -> int:
        return next(i for i, n in enumerate(self.spec.nodes) if n.id == pid)

    def _resolve(self, ref: str, path: Sequence[PathElem], what: str) -> tuple[int, ...] | None:
        if ref in self.node_index:
            return (self.node_index[ref],)
        if ref in self.pools:
            return tuple(self.pools[ref])
        hint = did_you_mean(ref, [*self.node_index, *self.pools])
        self.error(path, f"unknown {what} '{ref}'{hint}")
        return None

    def _per_node(self, mapping: Mapping[str, Any], path: Sequence[PathElem]) -> dict[int, Any]:
        """Expand a node-or-pool keyed map; member entries win over pool entries."""
        if not mapping:
            return {}
        out: dict[int, Any] = {}
        members: list[tuple[int, Any]] = []
        for key, value in mapping.items():
            if key in self.pools and len(self.pools[key]) > 1:
                for m in self.pools[key]:
                    out.setdefault(m, value)
            else:
                idx = self._resolve(key, (*path, key), "node or pool")
                if idx is not None:
                    members.append((idx[0], value))
        for m, value in members:
            out[m] = value
        return out

    def _allowed(self, ts: TaskSpec, path: tuple[PathElem, ...]) -> tuple[int, ...]:
        cache: dict[Any, tuple[int, ...]] = self.__dict__.setdefault("_allowed_cache", {})
        match_key = (
            tuple(sorted((k, _as_tuple(v)) for k, v in ts.match.items())) if ts.match else None
        )
        key = (tuple(ts.nodes) if ts.nodes is not None else None, match_key)
        if key in cache:
            return cache[key]
        if ts.nodes is None:
            base = range(len(self.nodes))
        else:
            chosen: set[int] = set()
            for i, ref in enumerate(ts.nodes):
                idx = self._resolve(ref, (*path, "nodes", i), "node or pool")
                if idx is not None:
                    chosen.update(idx)
            base = sorted(chosen)  # type: ignore[assignment]
        if ts.match:
            wanted = {k: {label_str(x) for x in _as_tuple(v)} for k, v in ts.match.items()}
            allowed = tuple(
                i
                for i in base
                if all(self.nodes[i].labels.get(k) in vals for k, vals in wanted.items())
            )
        else:
            allowed = tuple(base)
        if not self.errors:
            cache[key] = allowed
        return allowed

    def _task(self, i: int, ts: TaskSpec, scheduling: bool) -> Task:
        path: tuple[PathElem, ...] = ("tasks", i)
        separate = set()
        for j, ref in enumerate(ts.separate_from):
            if ref not in self.task_index:
                hint = did_you_mean(ref, self.task_index)
                self.error((*path, "separate_from", j), f"unknown task '{ref}'{hint}")
            elif self.task_index[ref] != i:
                separate.add(self.task_index[ref])
        after = []
        for j, ref in enumerate(ts.after):
            if ref not in self.task_index:
                hint = did_you_mean(ref, self.task_index)
                self.error((*path, "after", j), f"unknown task '{ref}'{hint}")
            elif self.task_index[ref] == i:
                self.error((*path, "after", j), f"task '{ref}' cannot come after itself")
            else:
                after.append(self.task_index[ref])
        current = None
        if ts.current is not None:
            idx = self._resolve(ts.current, (*path, "current"), "node or pool")
            current = frozenset(idx) if idx else frozenset()
        demand_on = {
            k: MappingProxyType(dict(v))
            for k, v in self._per_node(ts.demand_on, (*path, "demand_on")).items()
        }
        return Task(
            index=i,
            id=ts.id,
            demand=MappingProxyType(dict(ts.demand)) if ts.demand else _EMPTY,
            replicas=ts.replicas,
            priority=ts.priority,
            required=ts.required,
            allowed=self._allowed(ts, path),
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
        )

    def _objective(self, scheduling: bool) -> Objective:
        obj = self.spec.objective
        default = ("unplaced", "makespan" if scheduling else "cost")
        if obj is None:
            return Objective("lexicographic", default, _EMPTY, explicit=False)
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

    def _check_cycles(self) -> None:
        """Name every dependency cycle once (iterative DFS over `after`)."""
        spec_tasks = self.spec.tasks
        succ = [[self.task_index[r] for r in t.after if r in self.task_index] for t in spec_tasks]
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
                            names = " -> ".join(spec_tasks[c].id for c in [*cyc, w])
                            pos = succ[v].index(w)
                            self.error(
                                ("tasks", v, "after", pos),
                                f"dependency cycle: {names} (each waits for the next)",
                            )
                else:
                    state[v] = 2
                    stack.pop()
                    onpath.pop()

    def _placement_warnings(self) -> None:
        for i, t in enumerate(self.spec.tasks):
            for f in SCHEDULING_FIELDS:
                val = getattr(t, f)
                if val not in (None, [], {}):
                    self.warnings.append(
                        self.src.diagnostic(
                            ("tasks", i, f),
                            f"ignored: '{f}' is a scheduling field and no task has a duration",
                            key=True,
                        )
                    )
        if self.spec.horizon is not None:
            self.warnings.append(
                self.src.diagnostic(
                    ("horizon",), "ignored: no task has a duration (placement problem)", key=True
                )
            )

    def _resource_warnings(self) -> None:
        offered = {r for n in self.spec.nodes for r, q in n.capacity.items() if q > 0}
        for i, t in enumerate(self.spec.tasks):
            for r, q in t.demand.items():
                if q > 0 and r not in offered:
                    self.warnings.append(
                        self.src.diagnostic(
                            ("tasks", i, "demand", r),
                            f"no node offers resource '{r}'"
                            + did_you_mean(r, offered - set(t.demand)),
                            key=True,
                        )
                    )


def _as_tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, list) else (v,)


def _frozen(d: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(d) if d else _EMPTY


def _replace_sep(t: Task, sep: frozenset[int] | set[int]) -> Task:
    from dataclasses import replace

    return replace(t, separate=frozenset(sep))


# --------------------------------------------------------------------------------------------
# structural infeasibility


def effectively_required(problem: Problem) -> set[int]:
    """Tasks every plan must place: required ones, their gang mates and (scheduling) the
    transitive predecessors of those, since a task may start only after its `after` tasks.
    A graph search, O(tasks + dependencies)."""
    must: set[int] = set()
    stack = [t.index for t in problem.tasks if t.required]
    while stack:
        t = stack.pop()
        if t in must:
            continue
        must.add(t)
        task = problem.tasks[t]
        if task.gang is not None:
            stack.extend(problem.gangs[task.gang])
        if problem.scheduling:
            stack.extend(task.after)
    return must


def fits(problem: Problem, task: int, node: int) -> bool:
    """Whether one replica fits an empty node on every resource."""
    cap = problem.nodes[node].capacity
    return all(q <= cap.get(r, 0.0) + 1e-9 for r, q in problem.tasks[task].demand_at(node).items())


def fitting_nodes(problem: Problem, task: int) -> np.ndarray:
    """Allowed nodes that could each hold one replica when empty (vectorised over nodes)."""
    t = problem.tasks[task]
    if not t.allowed:
        return np.zeros(0, dtype=np.int64)
    cache: dict[int, np.ndarray] = problem.__dict__.setdefault("_allowed_arrays", {})
    arr = cache.get(id(t.allowed))
    if arr is None:
        arr = cache[id(t.allowed)] = np.asarray(t.allowed, dtype=np.int64)
    ok = (problem.capacity[arr] + 1e-9 >= problem.demand[task]).all(axis=1)
    if t.demand_on:  # per-node demands replace the default one there
        special = np.fromiter(t.demand_on, dtype=np.int64)
        pos = np.searchsorted(arr, special).clip(0, len(arr) - 1)
        for n, i in zip(special, pos, strict=True):
            if arr[i] == n:
                ok[i] = fits(problem, task, int(n))
    if problem.scheduling and (not t.duration or t.duration_on):
        # a zero-length run occupies nothing (FORMATS.md: demand held during [start, end))
        zero = [t.duration_at(problem.nodes[int(n)]) == 0 for n in arr]
        ok |= np.asarray(zero, dtype=bool)
    return arr[ok]


def prove_infeasible(problem: Problem) -> list[Diagnostic]:
    """Cheap proofs that no plan exists, each located at the task it is about.

    Checks, for every task a plan must place: some allowed node holds a replica on every
    resource; enough such nodes for its replicas; release + shortest duration within deadline
    and horizon; the longest dependency chain ending in it within its deadline and the horizon.
    """
    must = effectively_required(problem)
    diags: list[Diagnostic] = []
    fitting: dict[int, np.ndarray] = {}
    for ti in sorted(must):
        t = problem.tasks[ti]
        ok = fitting_nodes(problem, ti)
        fitting[ti] = ok
        why = _why_required(problem, ti)
        if not t.allowed:
            diags.append(problem.task_diagnostic(ti, f"no node is allowed by `nodes`/`match`{why}"))
        elif len(ok) == 0:
            diags.append(problem.task_diagnostic(ti, _no_fit_reason(problem, ti) + why, "demand"))
        elif len(ok) < t.replicas:
            names = ", ".join(problem.nodes[int(n)].id for n in ok[:5])
            more = ", ..." if len(ok) > 5 else ""
            diags.append(
                problem.task_diagnostic(
                    ti,
                    f"needs {t.replicas} replicas on distinct nodes, but only {len(ok)} allowed "
                    f"node(s) can hold one ({names}{more}){why}",
                    "replicas",
                )
            )
    if problem.scheduling:
        diags.extend(_time_proofs(problem, must, fitting))
    return diags


def _why_required(problem: Problem, ti: int) -> str:
    t = problem.tasks[ti]
    if t.required:
        return ""
    return " (it is not required itself, but a required task depends on it or shares its gang)"


def _no_fit_reason(problem: Problem, ti: int) -> str:
    t = problem.tasks[ti]
    for r in sorted({r for n in t.allowed for r in t.demand_at(n)}):
        best = max(t.allowed, key=lambda n: problem.nodes[n].capacity.get(r, 0.0))
        need = max(t.demand_at(n).get(r, 0.0) for n in t.allowed)
        have = problem.nodes[best].capacity.get(r, 0.0)
        if all(
            t.demand_at(n).get(r, 0.0) > problem.nodes[n].capacity.get(r, 0.0) + 1e-9
            for n in t.allowed
        ):
            return (
                f"needs {r} {_num(need)} on one node; the largest {r} on an allowed node is "
                f"{_num(have)} ({problem.nodes[best].id})"
            )
    wanted = ", ".join(f"{r} {_num(q)}" for r, q in t.demand.items())
    return f"no allowed node has {wanted} together ({len(t.allowed)} allowed nodes)"


def _time_proofs(
    problem: Problem, must: set[int], fitting: dict[int, np.ndarray]
) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    order = _topological(problem)
    ef: dict[int, int] = {}
    crit: dict[int, int | None] = {}
    for ti in order:
        if ti not in must or len(fitting.get(ti, ())) == 0:
            continue
        t = problem.tasks[ti]
        dmin = min(t.duration_at(problem.nodes[int(n)]) for n in fitting[ti])
        es, via = t.release or 0, None
        for p in t.after:
            if p in ef and ef[p] > es:
                es, via = ef[p], p
        ef[ti], crit[ti] = es + dmin, via
        limits = [("deadline", t.deadline), ("horizon", problem.horizon)]
        for what, limit in limits:
            if limit is None or ef[ti] <= limit:
                continue
            if via is None:
                msg = (
                    f"release {t.release or 0} + shortest duration {dmin} = {ef[ti]} "
                    f"is past the {what} {limit}"
                )
            else:
                chain = [ti]
                while crit.get(chain[-1]) is not None:
                    chain.append(crit[chain[-1]])  # type: ignore[arg-type]
                names = " -> ".join(problem.tasks[c].id for c in reversed(chain))
                msg = (
                    f"the dependency chain {names} ends at {ef[ti]} at the earliest "
                    f"(shortest durations), past the {what} {limit}"
                )
            if what == "deadline":
                field_ = "deadline"
            elif via is not None:
                field_ = "after"
            else:
                field_ = "release" if t.release is not None else "duration"
            diags.append(problem.task_diagnostic(ti, msg + _why_required(problem, ti), field_))
            break
    return diags


def _topological(problem: Problem) -> list[int]:
    indeg = [len(t.after) for t in problem.tasks]
    succ: list[list[int]] = [[] for _ in problem.tasks]
    for t in problem.tasks:
        for p in t.after:
            succ[p].append(t.index)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    out = []
    while ready:
        v = ready.pop()
        out.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return out


def topological_order(problem: Problem) -> list[int]:
    """Task indices, every task after all of its `after` tasks (the problem has no cycle)."""
    return _topological(problem)
