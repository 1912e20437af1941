"""Neighbourhood search on schedules with CP-SAT: free some tasks, keep the order of the rest.

A step takes the pool's best schedule (:mod:`.listsearch`), frees a *neighbourhood* of tasks and
asks CP-SAT for a strictly better schedule of the full model (of the timeline's plain model
once the hybrid has checked it) in which the other tasks keep their relative order on every
resource they share: the *partial order schedule* of Godard,
Laborie & Nuijten (2005, "Randomized large neighborhood search for cumulative scheduling").
The order comes from a resource flow (Artigues, Michelon & Reusser 2003) computed on the
incumbent: on each channel (node and resource) the intervals hand their capacity on to the ones
that start after they end, each interval taking its demand from the latest ends first; every
hand-over becomes a precedence ``start[j] >= start[i] + d[i]``. Tasks that are not freed may
still move earlier or later, so a gain anywhere in the schedule can pull the makespan in, but
no two of them can newly overlap; the freed tasks are placed anew by CP-SAT among them.

Neighbourhoods (chosen at random, sizes adapted as in :mod:`.lns`: k grows after a sub-solve
that proved its part, shrinks after one that ran out of time):

``window``    the tasks starting in a window of the incumbent's time line;
``resource``  the tasks using one channel, in a window of time;
``random``    tasks drawn uniformly;
``critical``  a stretch of a critical path of the incumbent (the longest chain of precedences
              and flow hand-overs, which sets the makespan) and the tasks that run beside it.

Each sub-solve has the objective cut off one unit below the incumbent and runs on one CP-SAT
worker for a short time (:data:`SUB_SECONDS`); its schedule, when it finds one, goes to the pool.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from .timeline import Timeline

SUB_SECONDS = 0.3  # one sub-solve at most (deterministic: deterministic time)
K_FIRST = 12  # tasks freed at first
K_MIN = 4
KINDS = ("window", "resource", "random", "critical")


@dataclass
class Kind:
    name: str
    k: float = K_FIRST
    tries: int = 0
    wins: int = 0
    proved: int = 0


@dataclass
class Neighbourhoods:
    """Draws neighbourhoods of a timeline and adapts their sizes."""

    tl: Timeline
    rng: random.Random
    kinds: list[Kind] = field(default_factory=lambda: [Kind(n) for n in KINDS])

    def draw(self, start: np.ndarray) -> tuple[Kind, set[int]]:
        kind = self.rng.choice(self.kinds)
        return kind, self.tasks(kind, start)

    def tasks(self, kind: Kind, start: np.ndarray) -> set[int]:
        tl, rng = self.tl, self.rng
        k = max(1, min(tl.T, round(kind.k)))
        if kind.name == "random":
            return set(rng.sample(range(tl.T), k))
        first = np.full(tl.T, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, tl.task, start)
        if kind.name == "critical":
            return self.critical(start, first, k)
        if kind.name == "resource" and tl.G:
            g = rng.randrange(tl.G)
            users = {int(tl.task[i]) for i in range(tl.I) if g in tl.ch[i].tolist()}
            pool = sorted(users, key=lambda t: int(first[t]))
        else:
            pool = np.argsort(first, kind="stable").tolist()
        if len(pool) <= k:
            return set(pool)
        i = rng.randrange(len(pool) - k + 1)
        return set(pool[i : i + k])

    def critical(self, start: np.ndarray, first: np.ndarray, k: int) -> set[int]:
        """A stretch of a critical path and the tasks overlapping it in time."""
        tl, rng = self.tl, self.rng
        ends = start + tl.dur
        task_end = np.zeros(tl.T, dtype=np.int64)
        np.maximum.at(task_end, tl.task, ends)
        # walk back from a task that ends last: to a predecessor or flow giver ending at our
        # start (a tight link), chosen at random among the tight ones
        arcs = flow_arcs(tl, start, set())
        givers: dict[int, list[int]] = {}
        for i, j in arcs:
            givers.setdefault(int(tl.task[j]), []).append(int(tl.task[i]))
        last = np.flatnonzero(task_end == task_end.max()).tolist()
        t = rng.choice(last)
        path = [t]
        while len(path) < 4 * tl.T:
            s0 = int(first[t])
            tight = [u for u in (*tl.preds[t], *givers.get(t, ())) if task_end[u] == s0]
            if not tight:
                break
            t = rng.choice(tight)
            path.append(t)
        path.reverse()
        span = max(1, k // 2)
        i = rng.randrange(max(1, len(path) - span + 1))
        chosen = set(path[i : i + span])
        lo = min(int(first[t]) for t in chosen)
        hi = max(int(task_end[t]) for t in chosen)
        beside = [t for t in range(tl.T) if t not in chosen and first[t] < hi and task_end[t] > lo]
        rng.shuffle(beside)
        chosen.update(beside[: max(0, k - len(chosen))])
        return chosen

    def learn(self, kind: Kind, status: cp_model.CpSolverStatus, won: bool) -> None:
        kind.tries += 1
        kind.wins += int(won)
        if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
            kind.proved += 1
            kind.k = min(kind.k * 1.15 + 0.5, float(self.tl.T))
        else:
            kind.k = max(kind.k * 0.9, float(K_MIN))

    def describe(self) -> dict[str, dict[str, float]]:
        return {
            k.name: {"tries": k.tries, "improved": k.wins, "proved": k.proved, "k": round(k.k, 1)}
            for k in self.kinds
        }


def flow_arcs(tl: Timeline, start: np.ndarray, free: set[int]) -> set[tuple[int, int]]:
    """Precedences (interval i before interval j) that keep the intervals of the tasks not in
    ``free`` in their order on every channel (a resource flow, see the module docstring)."""
    arcs: set[tuple[int, int]] = set()
    ends = start + tl.dur
    per_channel: dict[int, list[tuple[int, int, int]]] = {}
    for i in range(tl.I):
        if int(tl.task[i]) in free or tl.dur[i] <= 0:
            continue
        s = int(start[i])
        for g, q in zip(tl.ch[i].tolist(), tl.q[i].tolist(), strict=True):
            per_channel.setdefault(g, []).append((s, i, q))
    for g, items in per_channel.items():
        items.sort()
        # open slots: [end, owner interval or -1, amount]; the source holds the capacity
        slots: list[list[int]] = [[-(1 << 62), -1, int(tl.cap[g])]]
        for s, j, q in items:
            need = q
            # the latest ends first (fewer, tighter precedences)
            slots.sort(key=lambda x: -x[0])
            for slot in slots:
                if need == 0:
                    break
                if slot[0] > s or slot[2] == 0:
                    continue
                take = min(need, slot[2])
                slot[2] -= take
                need -= take
                if slot[1] >= 0:
                    arcs.add((slot[1], j))
            if need:  # cannot happen on a feasible schedule
                raise RuntimeError("resource flow: the schedule overloads a channel")
            slots = [x for x in slots if x[2] > 0]
            slots.append([int(ends[j]), j, q])
    return arcs
