"""A placement problem as flat numpy arrays in scaled integers, and a plan kept incrementally.

Shared by two engines (so it lives beside them): CP-SAT's large-scale search
(:mod:`.cpsat.lns`) and bounds (:mod:`.cpsat.bounds`), which never build the full CP-SAT model,
and the MILP's polishing (:mod:`.mip.polish`). They read the problem through :class:`Flat`
(capacities, demands and costs scaled exactly as :class:`.cpsat.model.AllocationModel` scales
them, by :mod:`.scaling`) and keep the incumbent plan in :class:`Plan`, whose per-node loads
and objective terms are updated with each accepted change instead of being recomputed.

Candidates are those of the exact model: a (task, node) pair is a candidate when the node is
allowed (``nodes``/``match``) and one replica fits it when empty, with ``demand_on`` there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem, effectively_required

from .scaling import Scales

#: the objective terms the flat view knows (linear in the placement); ``balance`` is not one
LINEAR_TERMS = ("unplaced", "cost", "nodes", "moves")


class Flat:
    """Scaled integer data of a placement problem (see the module docstring)."""

    def __init__(self, problem: Problem, scales: Scales) -> None:
        if problem.scheduling:
            raise ValueError("the flat view is for placement problems")
        self.problem = problem
        self.scales = scales
        p = problem
        self.T, self.N, self.R = len(p.tasks), len(p.nodes), len(p.resources)
        res = p.resources
        self.cap = np.array(
            [[scales.cap(r, n.capacity.get(r, 0.0)) for r in res] for n in p.nodes], dtype=np.int64
        ).reshape(self.N, self.R)
        # default demands: one row per distinct demand mapping (tasks share them)
        rows: dict[tuple[tuple[str, float], ...], int] = {}
        demrow = np.zeros(self.T, dtype=np.int64)
        table: list[list[int]] = []
        for t in p.tasks:
            key = tuple(sorted(t.demand.items()))
            k = rows.get(key)
            if k is None:
                k = rows[key] = len(table)
                table.append([scales.demand(r, t.demand.get(r, 0.0)) for r in res])
            demrow[t.index] = k
        self.dem_table = np.array(table, dtype=np.int64).reshape(len(table), self.R)
        self.dem_row = demrow
        self.dem = self.dem_table[demrow]  # (T, R)
        self.dem_on: dict[int, dict[int, np.ndarray]] = {}
        # pool entries expand to one mapping per member, mostly equal: one array per distinct
        # demand (150,000 tasks: 1.1 million entries, a few thousand distinct)
        vectors: dict[tuple[tuple[str, float], ...], np.ndarray] = {}
        for t in p.tasks:
            if t.demand_on:
                per_node: dict[int, np.ndarray] = {}
                for n, d in t.demand_on.items():
                    dkey = tuple(d.items())
                    vec = vectors.get(dkey)
                    if vec is None:
                        vec = vectors[dkey] = np.array(
                            [scales.demand(r, d.get(r, 0.0)) for r in res], dtype=np.int64
                        )
                        vec.flags.writeable = False
                    per_node[n] = vec
                self.dem_on[t.index] = per_node
        self.replicas = np.array([t.replicas for t in p.tasks], dtype=np.int64)
        self.prio = np.array([scales.priority_of(t.priority) for t in p.tasks], dtype=np.int64)
        must = effectively_required(p)
        self.must = np.zeros(self.T, dtype=bool)
        self.must[list(must)] = True
        self.node_cost = np.array([scales.cost_of(n.cost) for n in p.nodes], dtype=np.int64)
        scaled_cost: dict[float, int] = {}  # each distinct cost scaled once
        for t in p.tasks:
            for c in t.assign_cost.values():
                if c not in scaled_cost:
                    scaled_cost[c] = scales.cost_of(c)
        self.acost: list[Mapping[int, int]] = [
            {n: scaled_cost[c] for n, c in t.assign_cost.items() if scaled_cost[c]}
            if t.assign_cost
            else {}
            for t in p.tasks
        ]
        self.gang = np.full(self.T, -1, dtype=np.int64)
        self.gang_members: list[tuple[int, ...]] = []
        for g, members in enumerate(p.gangs.values()):
            self.gang_members.append(tuple(members))
            self.gang[list(members)] = g
        self.separate = [t.separate for t in p.tasks]
        self.current = [t.current for t in p.tasks]
        self.any_node_cost = bool((self.node_cost > 0).any())
        self._fit: dict[int, np.ndarray] = {}  # demand row -> nodes it fits when empty
        self._allowed: dict[int, tuple[tuple[int, ...], np.ndarray]] = {}
        self._cand: dict[int, np.ndarray] = {}  # task -> candidate mask, when not the row's

    # -- candidates ------------------------------------------------------------------------

    def fit_row(self, row: int) -> np.ndarray:
        hit = self._fit.get(row)
        if hit is None:
            hit = self._fit[row] = (self.cap >= self.dem_table[row]).all(axis=1)
            hit.flags.writeable = False
        return hit

    def allowed_mask(self, t: int) -> np.ndarray | None:
        """Allowed nodes of task ``t`` as a mask, None when every node is allowed."""
        allowed = self.problem.tasks[t].allowed
        if len(allowed) == self.N:
            return None
        hit = self._allowed.get(id(allowed))
        if hit is None:
            mask = np.zeros(self.N, dtype=bool)
            mask[list(allowed)] = True
            hit = self._allowed[id(allowed)] = (allowed, mask)  # keeps the tuple's id valid
        return hit[1]

    def cand_mask(self, t: int) -> np.ndarray:
        """Candidate nodes of task ``t`` (allowed, and one replica fits when empty); read-only."""
        hit = self._cand.get(t)
        if hit is not None:
            return hit
        base = self.fit_row(int(self.dem_row[t]))
        allowed = self.allowed_mask(t)
        on = self.dem_on.get(t)
        if allowed is None and on is None:
            return base
        mask = base & allowed if allowed is not None else base.copy()
        if on is not None:
            for n, vec in on.items():
                mask[n] = (allowed is None or allowed[n]) and bool((vec <= self.cap[n]).all())
        mask.flags.writeable = False
        self._cand[t] = mask
        return mask

    def demand(self, t: int, n: int) -> np.ndarray:
        on = self.dem_on.get(t)
        if on is not None:
            vec = on.get(n)
            if vec is not None:
                return vec
        return self.dem[t]

    def demands(self, t: int, nodes: np.ndarray) -> np.ndarray:
        """Demand of one replica of ``t`` on each of ``nodes``: (len(nodes), R)."""
        out = np.broadcast_to(self.dem[t], (len(nodes), self.R))
        on = self.dem_on.get(t)
        if on is None:
            return out
        out = out.copy()
        for i, n in enumerate(nodes.tolist()):
            vec = on.get(n)
            if vec is not None:
                out[i] = vec
        return out

    def cost(self, t: int, n: int) -> int:
        return self.acost[t].get(n, 0)


class Plan:
    """A placement with per-node loads and term values (scaled integers), kept incrementally.

    ``nodes[t]``: the nodes of task t's replicas (ascending; empty when unplaced).
    ``terms``: ``unplaced``, ``cost``, ``nodes``, ``moves`` and ``violation`` (replicas of
    must-place tasks left unplaced: a plan with violation > 0 is not a plan of the problem).
    """

    def __init__(self, flat: Flat, nodes: list[tuple[int, ...]]) -> None:
        self.f = flat
        self.nodes = nodes
        self.load = np.zeros((flat.N, flat.R), dtype=np.int64)
        self.on: list[set[int]] = [set() for _ in range(flat.N)]
        for t, ns in enumerate(nodes):
            for n in ns:
                self.load[n] += flat.demand(t, n)
                self.on[n].add(t)
        self.terms = self.part_terms(
            range(flat.T), range(flat.N), self.nodes_of_part(range(flat.T))
        )

    @classmethod
    def from_assignments(cls, flat: Flat, assignments: Iterable[Assignment]) -> Plan:
        """The plan of a list of assignments (unknown tasks and nodes are dropped; a task whose
        replicas are not all placed on distinct nodes is left unplaced)."""
        p = flat.problem
        ti, ni = p.task_index, p.node_index
        got: dict[int, set[int]] = {}
        for a in assignments:
            t, n = ti.get(a.task), ni.get(a.node)
            if t is not None and n is not None:
                got.setdefault(t, set()).add(n)
        nodes: list[tuple[int, ...]] = [()] * flat.T
        for t, ns in got.items():
            if len(ns) == flat.replicas[t]:
                nodes[t] = tuple(sorted(ns))
        return cls(flat, nodes)

    def nodes_of_part(self, tasks: Iterable[int]) -> dict[int, tuple[int, ...]]:
        return {t: self.nodes[t] for t in tasks}

    def used(self, n: int) -> bool:
        return bool(self.on[n])

    def part_terms(
        self,
        tasks: Iterable[int],
        nodes: Iterable[int],
        assign: Mapping[int, tuple[int, ...]],
        used: Mapping[int, bool] | None = None,
    ) -> dict[str, int]:
        """Term values restricted to ``tasks`` (their replicas on ``nodes``) and the node
        costs of ``nodes``, for the placement ``assign`` of those tasks; ``used`` says which of
        ``nodes`` run something (default: as in this plan)."""
        f = self.f
        node_set = nodes if isinstance(nodes, range) else set(nodes)
        unplaced = violation = cost = moves = 0
        for t in tasks:
            ns = assign[t]
            if not ns:
                unplaced += int(f.prio[t] * f.replicas[t])
                if f.must[t]:
                    violation += int(f.replicas[t])
                continue
            ac = f.acost[t]
            cur = f.current[t]
            for n in ns:
                if n not in node_set:
                    continue
                if ac:
                    cost += ac.get(n, 0)
                if cur is not None and n not in cur:
                    moves += 1
        n_used = 0
        for n in node_set:
            if used[n] if used is not None else self.used(n):
                n_used += 1
                cost += int(f.node_cost[n])
        return {
            "violation": violation,
            "unplaced": unplaced,
            "cost": cost,
            "nodes": n_used,
            "moves": moves,
        }

    def apply(self, change: Mapping[int, tuple[int, ...]]) -> None:
        """Replace the placement of the tasks in ``change`` (terms are updated by the caller)."""
        f = self.f
        for t, new in change.items():
            for n in self.nodes[t]:
                self.load[n] -= f.demand(t, n)
                self.on[n].discard(t)
            for n in new:
                self.load[n] += f.demand(t, n)
                self.on[n].add(t)
            self.nodes[t] = new

    def assignments(self) -> list[Assignment]:
        """Replica numbers follow node order, as in the exact model."""
        p = self.f.problem
        out = []
        for t, ns in enumerate(self.nodes):
            task = p.tasks[t]
            for i, n in enumerate(ns):
                out.append(Assignment(task.id, i, p.nodes[n].id))
        return out
