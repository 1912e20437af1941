"""Packing moves for placement problems that pay per node used: ruin and recreate, in numpy.

Why
---
Cloud balancing (OptaPlanner's family: computers with a price, processes with cpu, memory and
network demands, pay for every computer that runs something) is multi-dimensional bin packing
with a price per bin. The CP-SAT LNS re-solves a few nodes at a time, a few sub-solves per
second; what it needs in between is many cheap moves over the whole fleet. Here one move takes
a millisecond or so, so a second holds hundreds of them.

The move (ruin and recreate, as in the vehicle-routing literature's SISR and in OptaPlanner's
own best cloud-balancing runs, which are local searches over change and swap moves):

* *ruin*: take every task off a few used nodes (1 to :data:`RUIN_NODES`): the first picked by a
  tournament of :data:`TOURNAMENT` on waste (node cost times the weighed share of its capacity
  left idle), the others by tournaments of :data:`PARTNERS`; the first is forbidden for this
  move (the move tries to close it);
* *recreate*: put the taken tasks back, largest first (with a little noise in the order), each
  on the used node it fits best (the least weighed room left, :func:`room_weights`: room in
  the resources the tasks nearly exhaust is what counts); a task that fits on no used node
  opens the unused candidate that is cheapest per unit of the room the tasks still to place
  need (the other ruined nodes count as unused);
* *accept*: late acceptance (no worse than the current plan or than the one :data:`HISTORY`
  moves ago) on the cost minus a small reward for full nodes (:data:`ALPHA`), which steers the
  plateaus of equal cost towards plans with nodes nearly empty, the next ones to close; the
  best plan seen is kept apart.

Why the weights decide: on generated cloud balancing with 1,600 computers the LP bound opens
almost every cheap computer and fills its cpu and network to the brim; what a plan pays above
the bound is nearly all in the 24-cpu computers (cost 4,400-5,000) it needs for what the cheap
ones did not hold. Best fit on a price-weighed room left cpu and network room on the cheap
ones (1.17 x the bound after 30,000 moves); weighed by scarcity, 1.06.

What it handles (:func:`applies`): one replica per task, no gangs, no separation, no
``demand_on``, ``assign_cost`` or ``max_moves``, allowed sets (``nodes``/``match``) honoured,
objectives over ``unplaced`` and ``cost`` only (lexicographic or weighted), node costs
present. Tasks keep their placed/unplaced status (an unplaced task stays unplaced: the caller
inserts those), so ``unplaced`` never changes and a plan with a lower node cost is a better
plan. Every placement the moves make fits the capacities and the candidates (the same integer
arithmetic as :class:`.flat.Plan`); the LNS checks the plan it returns with the evaluator.

Engine-neutral: it works on :class:`.flat.Flat` and a list of node tuples, and imports no
engine.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import numpy as np

from .flat import Flat

RUIN_NODES = 3  # nodes ruined per move at most (1 to this many, uniformly)
TOURNAMENT = 6  # used nodes drawn to pick the node to close (the most wasteful wins)
PARTNERS = 3  # ... and to pick each other ruined node
POWER = 4.0  # room weights: fleet-wide load of the resource to this power (room_weights)
HISTORY = 20  # late acceptance: compare with the plan this many moves ago
ORDER_NOISE = 0.15  # recreate order: size x (1 + noise x uniform)
ALPHA = 0.3  # acceptance: cost - ALPHA x sum over nodes of cost x fill^2 (full nodes favoured)
# Measured on generated cloud balancing with 1,600 computers (benchmarks/cloudgen.py, seed 0),
# 30,000 moves from the LP rounding (1.453 x the LP bound), packer seed 0, in x the LP bound:
# room weighed by a least-squares price per unit 1.171; by load^1 1.079, load^2 1.071,
# load^4 1.062, load^8 1.069 (tournament 6); tournament 3 / 6 / 10 (price weights): 1.171 /
# 1.166 / 1.214; partners drawn at random (1) instead of by tournament 3: 1.233; history 200:
# 1.224 (50: 1.171); ALPHA 0 vs 0.3 vs 1.0 at 12,000 moves: about 1.235 / 1.212 / 1.218.
# With load^4 weights and tournament 6: history 50, packer seeds 0-2: 1.062 / 1.066 / 1.066;
# history 20: 1.053 / 1.055 / 1.052; history 10: 1.056; 100: 1.073; ALPHA 0: 1.068; at most 4
# ruined nodes instead of 3: 1.061.
ALLOWED_TERMS = frozenset({"unplaced", "cost"})


def applies(flat: Flat, order: Sequence[str]) -> bool:
    """Whether the moves here suit the problem (see the module docstring)."""
    f = flat
    return (
        "cost" in order
        and set(order) <= ALLOWED_TERMS
        and f.any_node_cost
        and bool((f.replicas == 1).all())
        and not f.gang_members
        and not any(f.separate)
        and not f.dem_on
        and not any(f.acost)
        and f.problem.max_moves is None
        and f.R > 0
    )


def room_weights(flat: Flat) -> np.ndarray:
    """What one unit of leftover room in each resource weighs: ``(demand_r / capacity_r) **
    POWER / mean capacity_r``, the fleet-wide load of the resource (total demand over total
    capacity) to the power :data:`POWER`, per unit of a typical node's capacity. Room in a
    resource that the tasks nearly exhaust is what decides how many nodes they need; room in
    one they barely use is worth next to nothing (cloud balancing, 1,600 computers: cpu 64 %,
    network 69 %, memory 42 % of the fleet's capacity demanded)."""
    f = flat
    cap = f.cap.astype(float)
    total_cap = cap.sum(axis=0)
    total_dem = (f.dem * f.replicas[:, None]).sum(axis=0).astype(float)
    load = np.divide(total_dem, total_cap, out=np.zeros(f.R), where=total_cap > 0)
    w = np.minimum(load, 1.0) ** POWER / np.maximum(cap.mean(axis=0), 1e-9)
    if not (w > 0).any():
        w = 1.0 / np.maximum(cap.mean(axis=0), 1e-9)
    return w


class Packer:
    """Ruin-and-recreate local search over a placement (see the module docstring).

    ``nodes[t]`` is the start: a 1-tuple with task t's node, or empty when unplaced; it must
    fit the capacities. :attr:`best_nodes` and :attr:`best_cost` hold the best plan seen."""

    def __init__(self, flat: Flat, nodes: Sequence[tuple[int, ...]], seed: int = 0) -> None:
        f = flat
        self.f = f
        self.rng = random.Random(seed)
        self.cap = f.cap.astype(np.int64)
        self.dem = f.dem.astype(np.int64)
        self.price = f.node_cost.astype(np.int64)
        self._cand = self._candidates()
        self.w = room_weights(f)  # weight of one unit of room, per resource
        self._cap_value = np.maximum(self.cap.astype(float) @ self.w, 1e-9)
        self.size = self.dem.astype(float) @ self.w  # weighed demand of each task
        # the current plan (set by load_plan) and the best one
        self.node_of = np.full(f.T, -1, dtype=np.int64)  # node of each task, -1: unplaced
        self.load = np.zeros((f.N, f.R), dtype=np.int64)
        self.on: list[set[int]] = []
        self.count = np.zeros(f.N, dtype=np.int64)  # tasks per node
        self.cost = 0
        self.best_cost = 0
        self.best_node_of = self.node_of
        self.value = 0.0  # what late acceptance compares: cost - ALPHA x potential
        self.history: list[float] = []
        self.load_plan(nodes)
        if bool((self.load > self.cap).any()):
            raise ValueError("the start plan exceeds a node's capacity")
        self.moves = 0
        self.accepted = 0
        self.improved = 0
        self.seconds = 0.0

    def describe(self) -> dict[str, object]:
        return {
            "moves": self.moves,
            "accepted": self.accepted,
            "improved": self.improved,
            "seconds": round(self.seconds, 2),
        }

    # -- helpers -----------------------------------------------------------------------------

    @property
    def best_nodes(self) -> list[tuple[int, ...]]:
        return [(int(n),) if n >= 0 else () for n in self.best_node_of.tolist()]

    def _candidates(self) -> list[np.ndarray]:
        """Candidate nodes of each task, one mask shared by every task with the same demand
        and allowed set (:meth:`.flat.Flat.cand_mask` keeps one mask per task with an allowed
        set: on 150,000 tasks that would be gigabytes)."""
        f = self.f
        cache: dict[tuple[int, int], np.ndarray] = {}
        out = []
        for t, task in enumerate(f.problem.tasks):
            row = int(f.dem_row[t])
            allowed = task.allowed
            if len(allowed) == f.N:
                out.append(f.fit_row(row))
                continue
            key = (row, id(allowed))
            hit = cache.get(key)
            if hit is None:
                mask = f.allowed_mask(t)
                assert mask is not None
                hit = cache[key] = f.fit_row(row) & mask
            out.append(hit)
        return out

    def _pick(self, used: np.ndarray, exclude: list[int], rounds: int) -> int | None:
        """The most wasteful (cost x weighed idle share) of ``rounds`` used nodes drawn at
        random, ``exclude`` left out."""
        rng = self.rng
        drawn = [int(used[rng.randrange(len(used))]) for _ in range(rounds)]
        drawn = [n for n in drawn if n not in exclude]
        if not drawn:
            return None
        idx = np.array(drawn)
        waste = self.price[idx] * (1.0 - (self.load[idx] @ self.w) / self._cap_value[idx])
        return drawn[int(np.argmax(waste))]

    # -- the move ----------------------------------------------------------------------------

    def move(self) -> bool:
        """One ruin-and-recreate move; True when it was accepted."""
        f = self.f
        used = np.flatnonzero(self.count > 0)
        if len(used) == 0:
            return False
        k = self.rng.randint(1, RUIN_NODES)
        ruined: list[int] = []
        for i in range(k):
            n = self._pick(used, ruined, TOURNAMENT if i == 0 else PARTNERS)
            if n is not None:
                ruined.append(n)
        if not ruined:
            return False
        target = ruined[0]
        tasks = [t for n in ruined for t in self.on[n]]
        old = {t: int(self.node_of[t]) for t in tasks}
        old_cost = self.cost
        before = self.load.copy() if ALPHA else None
        # take them off
        for t in tasks:
            n = old[t]
            self.load[n] -= self.dem[t]
            self.on[n].discard(t)
            self.count[n] -= 1
        for n in ruined:
            self.cost -= int(self.price[n])  # all ruined nodes are empty now
        forbid = np.zeros(f.N, dtype=bool)
        forbid[target] = True
        ok = self._recreate(tasks, forbid)
        self.moves += 1
        if ok:
            slot = self.moves % HISTORY
            value = float(self.cost)
            if before is not None:
                touched = np.unique(np.concatenate([ruined, self.node_of[tasks]]))
                value = (
                    self.value
                    + float(self.cost - old_cost)
                    - ALPHA
                    * (self._potential(self.load, touched) - self._potential(before, touched))
                )
            if value <= self.value or value <= self.history[slot]:
                self.history[slot] = value
                self.value = value
                self.accepted += 1
                if self.cost < self.best_cost:
                    self.best_cost = self.cost
                    self.best_node_of = self.node_of.copy()
                    self.improved += 1
                return True
        self._undo(tasks, old, old_cost)
        return False

    def _recreate(self, tasks: list[int], forbid: np.ndarray) -> bool:
        """Place ``tasks`` (off every node now) as the module docstring says, none on a
        ``forbid`` node; False when one fits nowhere (the caller undoes)."""
        f = self.f
        open_mask = self.count > 0
        noise = ORDER_NOISE
        order = sorted(tasks, key=lambda t: -self.size[t] * (1.0 + noise * self.rng.random()))
        rest = self.dem[order].sum(axis=0) if order else np.zeros(f.R, dtype=np.int64)
        room = np.ascontiguousarray((self.cap - self.load).T)  # (R, N): a row per resource
        wroom = self.w @ room  # weighted room: best fit = least of it left (same after d)
        allowed = ~forbid
        R = f.R
        for t in order:
            d = self.dem[t]
            fits = self._cand[t] & allowed
            for r in range(R):
                fits &= room[r] >= d[r]
            here = np.flatnonzero(fits & open_mask)
            if len(here):
                n = int(here[np.argmin(wroom[here])])
            else:
                free = np.flatnonzero(fits & ~open_mask)
                if len(free) == 0:
                    return False
                useful = np.minimum(self.cap[free], rest) @ self.w
                score = self.price[free] / np.maximum(useful, 1e-9)
                n = int(free[np.argmin(score)])
                open_mask[n] = True
                self.cost += int(self.price[n])
            self.node_of[t] = n
            self.load[n] += d
            room[:, n] -= d
            wroom[n] -= self.size[t]
            self.on[n].add(t)
            self.count[n] += 1
            rest = rest - d
        return True

    def _reset_value(self) -> None:
        self.value = float(self.cost)
        if ALPHA:
            self.value -= ALPHA * self._potential(self.load, np.arange(self.f.N))
        self.history = [self.value] * HISTORY

    def _potential(self, load: np.ndarray, nodes: np.ndarray) -> float:
        fill = (load[nodes] @ self.w) / self._cap_value[nodes]
        return float((self.price[nodes] * fill * fill).sum())

    def _undo(self, tasks: list[int], old: dict[int, int], old_cost: int) -> None:
        for t in tasks:
            n = int(self.node_of[t])
            if n >= 0 and t in self.on[n]:
                self.load[n] -= self.dem[t]
                self.on[n].discard(t)
                self.count[n] -= 1
        for t in tasks:
            n = old[t]
            self.node_of[t] = n
            self.load[n] += self.dem[t]
            self.on[n].add(t)
            self.count[n] += 1
        self.cost = old_cost

    def run(
        self,
        seconds: float | None = None,
        moves: int | None = None,
        patience: int | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Moves for at most ``seconds`` (wall) and ``moves`` (count; deterministic), no more
        than ``patience`` moves after the last one that improved the best plan, and none once
        ``stop`` is set; returns how many improved it."""
        began = time.perf_counter()
        before = self.improved
        done = 0
        last = 0  # moves done when the best plan last improved
        while True:
            if moves is not None and done >= moves:
                break
            if seconds is not None and time.perf_counter() - began >= seconds:
                break
            if moves is None and seconds is None:
                break
            if patience is not None and done - last >= patience:
                break
            if stop is not None and stop.is_set():
                break
            best = self.best_cost
            self.move()
            done += 1
            if self.best_cost < best:
                last = done
        self.seconds += time.perf_counter() - began
        return self.improved - before

    def load_plan(self, node_of: np.ndarray | Sequence[tuple[int, ...]]) -> None:
        """Continue from another plan (``node_of``: a node per task, -1 unplaced, or node
        tuples as in the constructor); it becomes the best plan."""
        f = self.f
        if isinstance(node_of, np.ndarray):
            self.node_of = node_of.copy()
        else:
            self.node_of = np.array([ns[0] if ns else -1 for ns in node_of], dtype=np.int64)
        placed = self.node_of >= 0
        self.load = np.zeros((f.N, f.R), dtype=np.int64)
        np.add.at(self.load, self.node_of[placed], self.dem[placed])
        self.on = [set() for _ in range(f.N)]  # tasks on each node
        for t in np.flatnonzero(placed).tolist():
            self.on[int(self.node_of[t])].add(t)
        self.count = np.array([len(s) for s in self.on], dtype=np.int64)
        self.cost = int(self.price[self.count > 0].sum())
        self.best_cost = self.cost
        self.best_node_of = self.node_of.copy()
        self._reset_value()
