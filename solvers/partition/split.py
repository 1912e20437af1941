"""Split one problem into K parts: a random split of tasks and nodes (as the POP paper does for
granular allocation problems) that keeps whole what must stay whole.

Nodes are dealt to the parts pool by pool, in a random order within each pool, so that every
part gets about 1/K of every pool (a miniature of the fleet; a pool may be split by members).
Tasks are grouped into *components* that stay in one part: a gang (same-start or not), tasks
linked by ``after`` (dependency chains) and by ``separate_from`` (separation groups). A task
with ``spread`` takes every node it may use with it (its skew is counted over them), so those
nodes go to its component's part. Components are then dealt in a random order, each to the
part with the least load (replicas times their share of the fleet's capacity) among the parts
where every member has an allowed node; a component no part can serve whole is left out of the
parts (the repair after the coalesce sees it). The same problem, K and seed always give the
same split.

With a plan to start from (``placed``: the greedy's, at scale), the nodes may instead follow it
(``deal="plan"``, the default there): a task group the plan puts on several nodes is spread over
two parts when its nodes are, and is then shared out between them, each part bound to what the
plan put on its nodes (or held out of the parts: :mod:`taskalloc.solvers.partition`,
``SPREAD_GROUPS``), so the fewer such groups the freer the parts. So the nodes are dealt
by growing one part at a time from a random node: the next node is the one that shares the most
of the plan's multi-node groups with the part so far, among the pools where the part is still
short of its share (every part gets its share of every pool, as in the random split, so each is
still a miniature of the fleet). At 150,000 x 5,000 (the greedy's plan, seed 0) this spreads
20.5 / 24.1 / 25.3 / 26.2 % of the tasks at K = 2 / 4 / 8 / 16 against 27.8 / 33.3 / 34.7 /
35.6 % dealt at random (the plan's groups overlap densely: a node shares groups with ~28 others).
``deal="random"`` is POP's random split, with or without a plan.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from taskalloc.problems.entities import devices_ok
from taskalloc.problems.problem import Problem


@dataclass
class Part:
    """One sub-problem: task and node indices of the whole problem, ascending."""

    index: int
    tasks: list[int]
    nodes: list[int]


@dataclass
class Split:
    """The parts, the components (task groups kept whole), and the tasks no part could take
    whole (left to the repair)."""

    parts: list[Part]
    component_of: list[int]  # task index -> component id
    components: list[list[int]]  # component id -> task indices
    left_out: list[int] = field(default_factory=list)
    part_of_node: list[int] = field(default_factory=list)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def components(problem: Problem) -> tuple[list[int], list[list[int]]]:
    """(component id per task, task indices per component): gangs, ``after`` and
    ``separate_from`` links joined; ids in order of each component's first task."""
    n = len(problem.tasks)
    uf = _UnionFind(n)
    for gang in problem.gangs.values():
        for member in gang[1:]:
            uf.union(gang[0], member)
    for task in problem.tasks:
        for other in task.after:
            uf.union(task.index, other)
        for other in task.separate:
            uf.union(task.index, other)
    ids: dict[int, int] = {}
    comp_of = [0] * n
    groups: list[list[int]] = []
    for i in range(n):
        root = uf.find(i)
        cid = ids.get(root)
        if cid is None:
            cid = ids[root] = len(groups)
            groups.append([])
        comp_of[i] = cid
        groups[cid].append(i)
    return comp_of, groups


#: how the nodes are dealt: at random pool by pool (POP), or following a plan (``placed``)
NODE_SPLITS = ("plan", "random")


def split(
    problem: Problem,
    k: int,
    seed: int = 0,
    placed: Mapping[int, set[int]] | None = None,
    deal: str = "random",
) -> Split:
    """The K parts of ``problem`` (fewer when it has fewer nodes or components than K).

    ``placed`` (task index -> node indices, a plan to start from): the nodes are split as
    without it, and a task group goes to the part that holds most of its placed replicas, so
    that each part's share of the plan is a plan of the part (a group the plan spreads over
    two parts keeps there what it has on that part's nodes). ``deal``: ``random`` (POP's
    split, pool by pool) or ``plan`` (grown along the groups ``placed`` puts on several
    nodes, each part its share of every pool: see the module's docstring; random without
    ``placed``)."""
    if deal not in NODE_SPLITS:
        raise ValueError(f"deal must be one of {', '.join(NODE_SPLITS)}, not {deal!r}")
    rnd = random.Random(f"partition:{seed}:{k}")
    n_nodes = len(problem.nodes)
    comp_of, groups = components(problem)
    k = max(1, min(k, n_nodes, len(groups)))

    # nodes a component must take with it: every allowed node of its spread tasks
    bound: dict[int, set[int]] = {}
    for task in problem.tasks:
        if task.spread is not None:
            bound.setdefault(comp_of[task.index], set()).update(task.allowed)
    # components sharing bound nodes are one component
    if bound:
        uf = _UnionFind(len(groups))
        owner: dict[int, int] = {}
        for cid, nodes in bound.items():
            for node in nodes:
                if node in owner:
                    uf.union(owner[node], cid)
                else:
                    owner[node] = cid
        if any(uf.find(c) != c for c in bound):
            merged: dict[int, list[int]] = {}
            for cid, members in enumerate(groups):
                merged.setdefault(uf.find(cid), []).extend(members)
            groups = [sorted(m) for _, m in sorted(merged.items())]
            comp_of = [0] * len(problem.tasks)
            for cid, group in enumerate(groups):
                for member in group:
                    comp_of[member] = cid
            rebound: dict[int, set[int]] = {}
            for task in problem.tasks:
                if task.spread is not None:
                    rebound.setdefault(comp_of[task.index], set()).update(task.allowed)
            bound = rebound
            k = max(1, min(k, len(groups)))

    # nodes: bound groups first (each to the part with the fewest nodes), then the free nodes
    # pool by pool in a random order, dealt round robin
    part_of_node = [-1] * n_nodes
    count = [0] * k
    bound_part: dict[int, int] = {}
    for cid in sorted(bound, key=lambda c: (-len(bound[c]), rnd.random())):
        p = min(range(k), key=lambda q: (count[q], rnd.random()))
        bound_part[cid] = p
        for node in bound[cid]:
            part_of_node[node] = p
        count[p] += len(bound[cid])
    if deal == "plan" and placed and k > 1:
        _grow(problem, k, rnd, part_of_node, count, groups, placed)
    free_by_pool: dict[str, list[int]] = {}
    for entry in problem.nodes:
        if part_of_node[entry.index] < 0:
            free_by_pool.setdefault(entry.pool, []).append(entry.index)
    turn = rnd.randrange(k)
    for pool in sorted(free_by_pool):
        members = free_by_pool[pool]
        rnd.shuffle(members)
        for node in members:
            # the next part in turn, unless bound nodes already made it the fullest
            p = turn % k
            least = min(count)
            if count[p] > least + 1:
                p = min(range(k), key=lambda q: (count[q], (q - turn) % k))
            part_of_node[node] = p
            count[p] += 1
            turn += 1
    part_arr = np.asarray(part_of_node, dtype=np.int64)

    # tasks: components in a random order, each to the least loaded part that serves it
    # each part's capacity per resource, and what its tasks ask (replicas x demand)
    part_cap = np.zeros((k, len(problem.resources)))
    np.add.at(part_cap, part_arr, problem.capacity)
    load = np.zeros_like(part_cap)
    asks = problem.demand * np.asarray([t.replicas for t in problem.tasks], dtype=float)[:, None]
    everywhere = np.asarray([c > 0 for c in count], dtype=bool)  # parts with nodes
    fit, entry_of = _fits(problem)
    entry_parts = np.zeros((fit.shape[1], k), dtype=bool)  # node entry -> parts holding one
    entry_parts[entry_of, part_arr] = True
    cache: dict[tuple[int, bytes], int] = {}

    def mask(parts: np.ndarray) -> int:
        return sum(1 << int(p) for p in np.flatnonzero(parts))

    every = mask(everywhere)

    def serves(task: int) -> int:
        """Parts (a bit mask) holding a node the task may use and fits on (empty capacity
        aside); parts holding an allowed node if it fits on none."""
        allowed = problem.tasks[task].allowed
        row = fit[task]
        key = (id(allowed), row.tobytes())  # the compiler shares the tuples of one selector
        got = cache.get(key)
        if got is None:
            if len(allowed) == n_nodes:
                got = mask(entry_parts[row].any(axis=0)) if row.any() else every
            elif allowed:
                nodes = np.asarray(allowed, dtype=np.int64)
                usable = nodes[row[entry_of[nodes]]]
                got = mask(np.bincount(part_arr[usable if len(usable) else nodes], minlength=k))
            else:
                got = 0
            cache[key] = got
        return got

    order = list(range(len(groups)))
    rnd.shuffle(order)
    tasks_of: list[list[int]] = [[] for _ in range(k)]
    left_out: list[int] = []
    free: list[int] = []  # single tasks that every part serves: dealt in blocks below
    for cid in order:
        members = groups[cid]
        ok = (1 << bound_part[cid]) if cid in bound_part else every
        for t in members:
            ok &= serves(t)
            if not ok:
                break
        if not ok:
            left_out.extend(members)
            continue
        if placed:
            # the part holding most of the group's placed replicas (the others are placed
            # again there; a tie goes to the least busy of them)
            on = [int(part_arr[n]) for t in members for n in placed.get(t, ())]
            on = [q for q in on if ok >> q & 1]
            if on:
                counts = np.bincount(on, minlength=k)
                best = np.flatnonzero(counts == counts.max())
                ask = asks[members].sum(axis=0)
                p = best[0] if len(best) == 1 else _least_busy(best, load, part_cap, ask)
                p = int(p)
                load[p] += ask
                tasks_of[p].extend(members)
                continue
        if len(members) == 1 and ok == every and cid not in bound_part:
            free.append(members[0])
            continue
        # the part whose busiest resource would be the least busy (a resource the part lacks
        # counts as full when asked for)
        ask = asks[members].sum(axis=0)
        cand = np.asarray([q for q in range(k) if ok >> q & 1], dtype=np.int64)
        p = _least_busy(cand, load, part_cap, ask)
        load[p] += ask
        tasks_of[p].extend(members)
    # the free tasks, in their random order, in blocks: each block dealt round robin with the
    # least busy parts first
    open_parts = np.flatnonzero(everywhere)
    block = 32 * len(open_parts)
    for i in range(0, len(free), block):
        chunk = np.asarray(free[i : i + block], dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            busy = np.where(part_cap[open_parts] > 0, load[open_parts] / part_cap[open_parts], 0)
        ranked = open_parts[np.argsort(busy.max(axis=1), kind="stable")]
        dealt = ranked[np.arange(len(chunk)) % len(ranked)]
        np.add.at(load, dealt, asks[chunk])
        for t, p in zip(chunk.tolist(), dealt.tolist(), strict=True):
            tasks_of[p].append(t)
    nodes_of: list[list[int]] = [[] for _ in range(k)]
    for node, p in enumerate(part_of_node):
        nodes_of[p].append(node)
    # a part without tasks is dropped: its nodes stay idle (-1), open to the repair only
    new_index: dict[int, int] = {}
    parts: list[Part] = []
    for i in range(k):
        if tasks_of[i]:
            new_index[i] = len(parts)
            parts.append(Part(len(parts), sorted(tasks_of[i]), nodes_of[i]))
    part_of_node = [new_index.get(p, -1) for p in part_of_node]
    return Split(parts, comp_of, groups, sorted(left_out), part_of_node)


def _fits(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(tasks x node classes: whether a replica's demand fits an empty node of the class,
    devices included; node -> its class). Nodes of a class have the same capacities and
    devices. A task with ``demand_on`` counts as fitting the classes of the nodes it names
    there."""
    node_rows = np.hstack([problem.capacity, problem.device_size, problem.device_count])
    classes, class_of = np.unique(node_rows, axis=0, return_inverse=True)
    class_of = class_of.reshape(-1)
    r = len(problem.resources)
    demands, demand_of = np.unique(problem.demand, axis=0, return_inverse=True)
    demand_of = demand_of.reshape(-1)
    fit_u = np.ones((len(demands), len(classes)), dtype=bool)
    for c, row in enumerate(classes):
        cap, size, count = row[:r], row[r : 2 * r], row[2 * r :]
        ok = np.all(demands <= cap * (1 + 1e-9) + 1e-9, axis=1)
        if count.any():
            ok &= np.all(devices_ok(demands, size, count), axis=1)
        fit_u[:, c] = ok
    fit = fit_u[demand_of]
    for t in problem.tasks:
        for n in t.demand_on:  # its own demand there: a class it may fit on
            fit[t.index, class_of[n]] = True
    return fit, class_of.astype(np.int64)


def _least_busy(cand: np.ndarray, load: np.ndarray, cap: np.ndarray, ask: np.ndarray) -> int:
    """Among parts ``cand``, the one whose busiest resource would be the least busy with
    ``ask`` added (a resource a part lacks counts as full when asked for)."""
    c = cap[cand]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            c > 0, (load[cand] + ask) / np.where(c > 0, c, 1.0), np.where(ask > 0, np.inf, 0.0)
        )
    return int(cand[int(np.argmin(ratio.max(axis=1)))])


def _grow(
    problem: Problem,
    k: int,
    rnd: random.Random,
    part_of_node: list[int],
    count: list[int],
    groups: Sequence[Sequence[int]],
    placed: Mapping[int, set[int]],
) -> None:
    """Deal the nodes not dealt yet (``part_of_node`` -1) to parts 0 .. K-2 in turn, each grown
    from a random node to its share of every pool, along the task groups ``placed`` puts on
    several nodes (the next node: the most such groups shared with the part so far, ties at
    random); the last part gets the rest. Updates ``part_of_node`` and ``count``."""
    n_nodes = len(problem.nodes)
    touching: list[list[int]] = [[] for _ in range(n_nodes)]  # node -> multi-node groups
    spans: list[list[int]] = []
    for members in groups:
        used = sorted({n for t in members for n in placed.get(t, ())})
        if len(used) >= 2:
            for n in used:
                touching[n].append(len(spans))
            spans.append(used)
    pools: dict[str, list[int]] = {}
    for entry in problem.nodes:
        pools.setdefault(entry.pool, []).append(entry.index)
    # each part's share of each pool (the remainder to parts from a random one on), less the
    # nodes it holds already (those of spread tasks)
    need: list[dict[str, int]] = [{} for _ in range(k)]
    for pool, members in sorted(pools.items()):
        size, extra = divmod(len(members), k)
        first = rnd.randrange(k)
        for q in range(k):
            has = sum(1 for n in members if part_of_node[n] == q)
            need[q][pool] = max(0, size + (1 if (q - first) % k < extra else 0) - has)
    pool_of = [entry.pool for entry in problem.nodes]
    order = list(range(n_nodes))
    rnd.shuffle(order)
    for q in range(k - 1):
        want = need[q]
        at = 0
        short = sum(want.values())
        gain = [0] * n_nodes
        heap: list[tuple[int, float, int]] = []
        while short > 0:
            node = -1
            while heap:
                g, _, n = heapq.heappop(heap)
                if part_of_node[n] < 0 and want[pool_of[n]] > 0 and -g == gain[n]:
                    node = n
                    break
            while node < 0 and at < n_nodes:  # a new seed: the next in a random order
                n = order[at]
                at += 1
                if part_of_node[n] < 0 and want[pool_of[n]] > 0:
                    node = n
            if node < 0:
                break
            part_of_node[node] = q
            count[q] += 1
            want[pool_of[node]] -= 1
            short -= 1
            for s in touching[node]:
                for n in spans[s]:
                    if part_of_node[n] < 0:
                        gain[n] += 1
                        heapq.heappush(heap, (-gain[n], rnd.random(), n))
    for n in range(n_nodes):
        if part_of_node[n] < 0:
            part_of_node[n] = k - 1
            count[k - 1] += 1
