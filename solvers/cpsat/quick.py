"""Fleet-wide moves for the LNS: cheap, vectorised, and exact in their accounting.

The CP-SAT sub-models of :mod:`.lns` re-solve a few nodes at a time; what they cannot see is
room spread over the whole fleet. Two moves look at every node at once (numpy over the
residual capacities), and are tried between sub-solves:

``close``    empty a used node: each replica on it goes to the used node (not itself) with the
             least room left after it fits (best fit), all of them or none;
``replace``  move everything on a used node to one empty node that is cheaper and holds it all;
``split``    spread a used node's replicas over the others' room and, where that is not enough,
             over empty nodes cheaper per unit of capacity, as long as what they cost together
             is less than the node (an expensive large computer becomes a few small ones).

(Merging two used nodes into one cheaper empty node was tried: on cloud balancing with 800
computers it consolidated fast, then left the sub-models less to gain, 882,470 against
850,600 at 60 s.)

A move is kept only when the objective key of :class:`.lns._Search` improves; the key is
computed by :meth:`.flat.Plan.part_terms` over the tasks and nodes the move touches (node costs,
``assign_cost``, ``moves``, the ``nodes`` count), so a move never trades one term for an
earlier one. Every placement constraint holds after a move: destinations are candidates of the
task (``nodes``/``match``, fits when empty), hold no other replica of it and no task it is
separated from, and have the room (``demand_on`` included). Gangs stay whole (replicas move,
none is dropped).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..flat import Flat, Plan

Key = Callable[[dict[str, int]], tuple[int, ...]]
SPLIT_OPEN = 64  # `split`: the empty nodes it may open, cheapest per unit first


class QuickMoves:
    def __init__(self, flat: Flat, plan: Plan, key: Key) -> None:
        self.f = flat
        self.plan = plan
        self.key = key
        self.tries = {"close": 0, "replace": 0, "split": 0}
        self.wins = {"close": 0, "replace": 0, "split": 0}
        self.seconds = 0.0
        cap = flat.cap.astype(float)
        self.scale = 1.0 / np.maximum(cap.max(axis=0), 1.0)  # resources on one scale
        self._cursor = 0  # where the last scan stopped, so that scans cover every node
        self.scanned = 0  # used nodes tried so far (each call of :meth:`run` adds its own)
        # cost per unit of capacity, capacity weighed by the total demand (as construct.py):
        # `split` opens empty nodes in this order
        demand_total = (flat.dem * flat.replicas[:, None]).sum(axis=0).astype(float)
        share = np.divide(
            cap, demand_total, out=np.zeros(cap.shape, dtype=float), where=demand_total > 0
        ).sum(axis=1)
        eff = np.divide(
            flat.node_cost.astype(float), share, out=np.full(flat.N, np.inf), where=share > 0
        )
        self.by_efficiency = np.argsort(eff, kind="stable")
        self.efficiency = eff

    def describe(self) -> dict[str, object]:
        return {
            "tries": dict(self.tries),
            "improved": dict(self.wins),
            "seconds": round(self.seconds, 2),
        }

    # ------------------------------------------------------------------------------------

    def run(self, budget: float, max_nodes: int | None = None) -> int:
        """Try moves on the used nodes, worst first, for at most ``budget`` seconds and
        ``max_nodes`` nodes (deterministic runs give a count and an infinite budget); returns
        how many were kept. Successive calls go on where the last one stopped."""
        began = time.perf_counter()
        f, plan = self.f, self.plan
        used = np.fromiter((bool(s) for s in plan.on), dtype=bool, count=f.N)
        ids = np.flatnonzero(used)
        if len(ids) == 0:
            return 0
        # worst first: cost per unit of the largest relative load
        load = (plan.load[ids] * self.scale).max(axis=1)
        order = ids[np.argsort(-(f.node_cost[ids] + 1.0) / np.maximum(load, 1e-9), kind="stable")]
        start = self._cursor % len(order)
        order = np.concatenate([order[start:], order[:start]])
        won = 0
        for i, n in enumerate(order.tolist()):
            if time.perf_counter() - began > budget or (max_nodes is not None and i >= max_nodes):
                self._cursor = start + i
                break
            self.scanned += 1
            if not plan.on[n]:
                continue
            if self.close(n) or self.replace(n) or self.split(n):
                won += 1
        else:
            self._cursor = 0
        self.seconds += time.perf_counter() - began
        return won

    # ------------------------------------------------------------------------------------

    def _blocked(self, t: int, m: int, incoming: dict[int, set[int]]) -> bool:
        """Task ``t`` cannot join node ``m``: another replica of it is there, or a task it is
        separated from (already there, or moving there in the same move)."""
        f, plan = self.f, self.plan
        if m in plan.nodes[t]:
            return True
        sep = f.separate[t]
        if sep and (not sep.isdisjoint(plan.on[m]) or not sep.isdisjoint(incoming.get(m, ()))):
            return True
        return bool(t in incoming.get(m, ()))

    def close(self, n: int) -> bool:
        f, plan = self.f, self.plan
        self.tries["close"] += 1
        tasks = sorted(plan.on[n], key=lambda t: -float((f.demand(t, n) * self.scale).sum()))
        used = np.fromiter((bool(s) for s in plan.on), dtype=bool, count=f.N)
        used[n] = False
        room = f.cap - plan.load
        incoming: dict[int, set[int]] = {}
        dest: dict[int, int] = {}
        for t in tasks:
            cand = np.flatnonzero(f.cand_mask(t) & used)
            if len(cand) == 0:
                return False
            dem = f.demands(t, cand)
            left = room[cand] - dem
            ok = (left >= 0).all(axis=1)
            if not ok.any():
                return False
            cand, left = cand[ok], left[ok]
            slack = (left * self.scale).sum(axis=1)
            placed = False
            for j in np.argsort(slack, kind="stable").tolist():
                m = int(cand[j])
                if self._blocked(t, m, incoming):
                    continue
                room[m] -= f.demand(t, m)
                incoming.setdefault(m, set()).add(t)
                dest[t] = m
                placed = True
                break
            if not placed:
                return False
        change = {t: tuple(sorted((set(plan.nodes[t]) - {n}) | {m})) for t, m in dest.items()}
        return self._commit("close", change, [n, *incoming], {n: False})

    def replace(self, n: int) -> bool:
        f, plan = self.f, self.plan
        tasks = list(plan.on[n])
        if any(t in f.dem_on for t in tasks):
            return False  # demands would differ on the new node: left to the sub-models
        self.tries["replace"] += 1
        used = np.fromiter((bool(s) for s in plan.on), dtype=bool, count=f.N)
        ok = ~used & (f.node_cost < f.node_cost[n]) & (f.cap >= plan.load[n]).all(axis=1)
        for t in tasks:
            ok &= f.cand_mask(t)
            if not ok.any():
                return False
        cand = np.flatnonzero(ok)
        if len(cand) == 0:
            return False
        m = int(cand[np.argmin(f.node_cost[cand])])
        change = {t: tuple(sorted((set(plan.nodes[t]) - {n}) | {m})) for t in tasks}
        return self._commit("replace", change, [n, m], {n: False, m: True})

    def split(self, n: int) -> bool:
        """Spread a used node's replicas over the room of the other used nodes and, where
        that is not enough, over empty nodes taken in order of cost per unit of capacity (an
        expensive large node becomes a few cheap small ones); kept when the objective
        improves."""
        f, plan = self.f, self.plan
        if not f.any_node_cost or f.node_cost[n] == 0:
            return False
        tasks = sorted(plan.on[n], key=lambda t: -float((f.demand(t, n) * self.scale).sum()))
        if any(t in f.dem_on for t in tasks):
            return False  # demands would differ elsewhere: left to the sub-models
        self.tries["split"] += 1
        used = np.fromiter((bool(s) for s in plan.on), dtype=bool, count=f.N)
        used[n] = False
        # the empty nodes cheaper per unit than n, in that order (at most SPLIT_OPEN of them)
        order = self.by_efficiency
        cheap = order[(~used[order]) & (self.efficiency[order] < self.efficiency[n])]
        cheap = cheap[cheap != n][:SPLIT_OPEN]
        room = f.cap - plan.load
        incoming: dict[int, set[int]] = {}
        dest: dict[int, int] = {}
        opened: list[int] = []
        budget = int(f.node_cost[n])
        for t in tasks:
            mask = f.cand_mask(t)
            cand = np.flatnonzero(mask & used)
            placed = False
            if len(cand):
                left = room[cand] - f.dem[t]
                ok = (left >= 0).all(axis=1)
                cand, left = cand[ok], left[ok]
                for j in np.argsort((left * self.scale).sum(axis=1), kind="stable").tolist():
                    m = int(cand[j])
                    if not self._blocked(t, m, incoming):
                        placed = True
                        break
            if not placed:
                for m in cheap.tolist():
                    if m in incoming and m not in opened:
                        continue
                    if not mask[m] or (room[m] < f.dem[t]).any() or self._blocked(t, m, incoming):
                        continue
                    if m not in opened:
                        if int(f.node_cost[m]) >= budget:
                            continue
                        budget -= int(f.node_cost[m])
                        opened.append(m)
                        used[m] = True
                    placed = True
                    break
            if not placed:
                return False
            room[m] -= f.dem[t]
            incoming.setdefault(m, set()).add(t)
            dest[t] = m
        change = {t: tuple(sorted((set(plan.nodes[t]) - {n}) | {m})) for t, m in dest.items()}
        flags = {n: False, **{m: True for m in opened}}
        return self._commit("split", change, [n, *incoming], flags)

    def _commit(
        self, kind: str, change: dict[int, tuple[int, ...]], nodes: list[int], used: dict[int, bool]
    ) -> bool:
        plan = self.plan
        tasks = list(change)
        old_assign = {t: plan.nodes[t] for t in tasks}
        flags = {m: used.get(m, plan.used(m)) for m in nodes}
        old = plan.part_terms(tasks, nodes, old_assign)
        new = plan.part_terms(tasks, nodes, change, used=flags)
        terms = {k: plan.terms[k] - old[k] + new[k] for k in plan.terms}
        if self.key(terms) >= self.key(plan.terms):
            return False
        plan.apply(change)
        plan.terms = terms
        self.wins[kind] += 1
        return True
