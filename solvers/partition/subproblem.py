"""A sub-problem of a problem as plain data (a problem file in FORMATS.md): some of its tasks on
some of its nodes, written so that a worker (a process, a Ray task on another machine) needs
nothing but its bytes.

Every node is written as a node of its own, under its member id (a pool may be split), with its
capacity, labels, cost, speed and devices (or, with ``names``, the members of a pool that the
sub-problem holds two or more of as a pool of that many, renamed ``POOL-1`` ..: the parts at
scale, a few MB each instead of 70 at 150,000 x 5,000, K = 2); a repair's sub-problem may give
them less capacity (what the plan placed so far leaves) and no cost (a node already paid for).
Every task keeps its own fields as the file gave them, except those that name nodes or other
tasks: ``nodes``, ``assign_cost``, ``demand_on``, ``duration_on`` and ``current`` are rewritten
for the nodes of the sub-problem (from the compiled task, pools expanded; with ``names`` a pool
of the sub-problem named where all its members are meant), ``separate_from`` and ``after`` keep
the tasks of the sub-problem. The objective is written out in full (a part of a scheduling problem
without durations stays a scheduling problem: one of its tasks gets ``duration: 0``, which is
what a task without duration means there).

Two approximations, both judged exactly afterwards by evaluating the whole problem: an entry of
``current`` naming a pool becomes its first member in the sub-problem, and ``max_moves`` is
shared out among the parts (each gets its share, rounded down).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from taskalloc.problems.problem import Problem

#: task keys rewritten from the compiled task (they name nodes or tasks)
_NODE_KEYS = ("nodes", "assign_cost", "demand_on", "duration_on", "current")


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def objective_data(problem: Problem) -> dict[str, Any]:
    obj = problem.objective
    if obj.kind == "lexicographic":
        return {"lexicographic": list(obj.terms)}
    return {"weights": {t: _num(w) for t, w in obj.weights.items()}}


def node_entry(
    problem: Problem, node: int, capacity: np.ndarray | None = None, cost: float | None = None
) -> dict[str, Any]:
    n = problem.nodes[node]
    if capacity is None:
        cap = {r: _num(q) for r, q in n.capacity.items()}
    else:
        cap = {r: _num(max(0.0, float(capacity[i]))) for i, r in enumerate(problem.resources)}
        cap = {r: q for r, q in cap.items() if r in n.capacity}
    entry: dict[str, Any] = {"id": n.id, "capacity": cap}
    if n.labels:
        entry["labels"] = dict(n.labels)
    c = n.cost if cost is None else cost
    if c:
        entry["cost"] = _num(c)
    if n.speed != 1:
        entry["speed"] = _num(n.speed)
    if n.devices:
        entry["devices"] = dict(n.devices)
    return entry


def sub_data(
    problem: Problem,
    tasks: Sequence[int],
    nodes: Sequence[int],
    *,
    capacity: Mapping[int, np.ndarray] | None = None,
    cost: Mapping[int, float] | None = None,
    forbid: Mapping[int, Collection[int]] | None = None,
    max_moves: int | None = None,
    name: str | None = None,
    relax: bool = False,
    replicas: Mapping[int, int] | None = None,
    strict: Collection[int] = (),
    names: dict[int, str] | None = None,
) -> dict[str, Any]:
    """The sub-problem of ``tasks`` on ``nodes`` (indices of ``problem``) as plain data.

    ``capacity`` / ``cost``: per node index, what the sub-problem gives that node instead of
    its own; ``forbid``: per task index, nodes it may not use here (a separation from a task
    placed outside the sub-problem). Every task must have an allowed node among ``nodes``
    (else it cannot be written: ValueError). ``relax`` (for objectives with ``unplaced``):
    required tasks become optional, each replica worth more than all optional tasks together,
    so that a part too small for its required tasks still has a plan (the others place what
    it leaves). ``replicas``: per task index, how many of its replicas the sub-problem places
    (a task whose replicas are spread over parts: each part places those on its nodes);
    ``strict``: tasks required here, even with ``relax`` (a gang that other parts place too
    must be placed whole here).

    ``names`` (a dict to fill): write the members of a pool that the sub-problem holds two or
    more of (none given another ``capacity`` or ``cost``) as a pool of that many, named
    ``POOL-1`` .. in the order of their indices, and name that pool where every member is
    meant (a task's ``nodes``, ``assign_cost``, ``demand_on``, ``duration_on`` the same on all
    of them): at 150,000 x 5,000 a part of K = 2 is a few MB instead of 70. ``names`` gets
    each node's id in the sub-problem (a hint and the sub-problem's plan go through it).
    """
    raw = problem.source.raw
    raw_tasks = raw["tasks"]
    in_nodes = set(nodes)
    node_ids = [problem.nodes[n].id for n in nodes]
    task_set = set(tasks)
    ids = {problem.tasks[t].id for t in tasks}
    capacity = capacity or {}
    cost = cost or {}
    forbid = forbid or {}
    data: dict[str, Any] = {"taskalloc": 1}
    data["name"] = name or f"{problem.name or 'problem'}-part"
    data["objective"] = objective_data(problem)
    if problem.horizon is not None:
        data["horizon"] = problem.horizon
    name_of, pools = _pooled(problem, nodes, capacity, cost) if names is not None else ({}, {})
    if names is not None:
        names.update(name_of)
    entries: list[dict[str, Any]] = []
    for n in nodes:
        pool = problem.nodes[n].pool
        if pool in pools:
            if pools[pool][0] == n:
                entry = node_entry(problem, n)
                entries.append({**entry, "id": pool, "count": len(pools[pool])})
            continue
        entry = node_entry(problem, n, capacity.get(n), cost.get(n))
        entry["id"] = name_of.get(n, entry["id"])
        entries.append(entry)
    data["nodes"] = entries

    def named(ns: Sequence[int]) -> list[str]:
        """Node ids in the sub-problem: a pool's id where all its members are among ``ns``."""
        if not pools:
            return [problem.nodes[n].id for n in ns]
        out: list[str] = []
        having = set(ns)
        whole_of: dict[str, bool] = {}
        for n in ns:
            pool = problem.nodes[n].pool
            members = pools.get(pool)
            if members is not None:
                whole = whole_of.get(pool)
                if whole is None:
                    whole = whole_of[pool] = all(m in having for m in members)
                    if whole:
                        out.append(pool)
                if whole:
                    continue
            out.append(name_of.get(n, problem.nodes[n].id))
        return out

    def keyed(per_node: Mapping[int, Any]) -> dict[str, Any]:
        """Per node id in the sub-problem (a pool's id where all its members have one value)."""
        out: dict[str, Any] = {}
        whole_of: dict[str, bool] = {}
        for n, v in per_node.items():
            if n not in in_nodes:
                continue
            pool = problem.nodes[n].pool
            members = pools.get(pool)
            if members is not None:
                whole = whole_of.get(pool)
                if whole is None:
                    whole = all(m in per_node and per_node[m] == v for m in members)
                    whole_of[pool] = whole
                    if whole:
                        out[pool] = v
                if whole:
                    continue
            out[name_of.get(n, problem.nodes[n].id)] = v
        return out

    gangs = raw.get("gangs") if isinstance(raw, dict) else None
    used_gangs = {problem.tasks[t].gang for t in tasks} - {None}
    if gangs:
        kept = {g: v for g, v in gangs.items() if g in used_gangs}
        if kept:
            data["gangs"] = kept
    if max_moves is not None:
        data["max_moves"] = max_moves
    out_tasks: list[dict[str, Any]] = []
    all_nodes = len(in_nodes) == len(problem.nodes)
    for t in sorted(task_set):
        task = problem.tasks[t]
        entry = {k: v for k, v in raw_tasks[task.spec_index].items() if k not in _NODE_KEYS}
        own = raw_tasks[task.spec_index]
        if replicas and t in replicas:
            entry["replicas"] = replicas[t]
        if t in strict:
            entry["required"] = True
        banned = forbid.get(t, ())
        if "nodes" in own or banned or (not all_nodes and "match" not in own and task.spread):
            allowed = [n for n in task.allowed if n in in_nodes and n not in banned]
            if not allowed:
                raise ValueError(f"task {task.id} has no allowed node in the sub-problem")
            entry["nodes"] = named(allowed)
        for key, per_node in (
            ("assign_cost", task.assign_cost),
            ("demand_on", task.demand_on),
            ("duration_on", task.duration_on),
        ):
            if key in own:
                kept = {
                    k: ({r: _num(q) for r, q in v.items()} if isinstance(v, Mapping) else _num(v))
                    for k, v in keyed(per_node).items()
                }
                if kept:
                    entry[key] = kept
        if "current" in own and task.current_entries:
            now: list[str] = []
            for members in task.current_entries:
                here = [n for n in members if n in in_nodes]
                if here:
                    now.append(name_of.get(here[0], problem.nodes[here[0]].id))
            if now:
                entry["current"] = now if isinstance(own["current"], list) else now[0]
        if "separate_from" in own:
            kept_sep = [s for s in own["separate_from"] if s in ids]
            if kept_sep:
                entry["separate_from"] = kept_sep
            else:
                entry.pop("separate_from")
        if "after" in own:
            kept_after = [a for a in own["after"] if a in ids]
            if kept_after:
                entry["after"] = kept_after
            else:
                entry.pop("after")
        out_tasks.append(entry)
    if relax and "unplaced" in problem.objective.active():
        worth = 1 + sum(
            problem.tasks[t].priority * problem.tasks[t].replicas
            for t in task_set
            if not problem.tasks[t].required
        )
        for t, entry in zip(sorted(task_set), out_tasks, strict=True):
            if problem.tasks[t].required and t not in strict:
                entry["required"] = False
                entry["priority"] = _num(problem.tasks[t].priority + worth)
    if problem.scheduling and not any("duration" in e or e.get("service") for e in out_tasks):
        out_tasks[0]["duration"] = 0  # a scheduling problem still (no task takes time)
    data["tasks"] = out_tasks
    if not node_ids or not out_tasks:
        raise ValueError("a sub-problem needs a task and a node")
    return data


def _pooled(
    problem: Problem,
    nodes: Sequence[int],
    capacity: Mapping[int, Any],
    cost: Mapping[int, Any],
) -> tuple[dict[int, str], dict[str, list[int]]]:
    """For :func:`sub_data` with ``names``: each node's id in the sub-problem, and the pools
    written as pools there (pool id -> its members here, ascending): those of which ``nodes``
    holds two or more, none with a ``capacity`` or ``cost`` of its own."""
    by_pool: dict[str, list[int]] = {}
    for n in sorted(nodes):
        node = problem.nodes[n]
        if node.id != node.pool:  # a member of a pool of two or more
            by_pool.setdefault(node.pool, []).append(n)
    pools = {
        pool: members
        for pool, members in by_pool.items()
        if len(members) >= 2 and not any(m in capacity or m in cost for m in members)
    }
    name_of = {n: problem.nodes[n].id for n in nodes}
    for pool, members in pools.items():
        for j, n in enumerate(members, 1):
            name_of[n] = f"{pool}-{j}"
    return name_of, pools


def sub_bytes(data: dict[str, Any]) -> bytes:
    """The sub-problem as the bytes of a JSON problem file."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
