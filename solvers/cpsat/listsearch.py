"""A shared pool of schedules, and the activity-list search that improves it.

:class:`Pool` holds the best schedules found so far (an *elite*, by objective, without
duplicates) and the best lower bound, for every search of a scheduling stage at once (CP-SAT's
full search, its neighbourhood sub-solves and the list search below all offer their schedules
to it). It is thread-safe.

:class:`ListSearch` is a steady-state evolutionary search over activity lists, the encoding of
the RCPSP heuristics literature (Hartmann 1998; Kolisch & Hartmann 2006): a child is the
two-point crossover of two elites picked by binary tournament (the first part of the first
parent's list, then the second parent's order of the tasks not yet taken, then the first
parent's), sometimes mutated (a few tasks moved to another position between their last
predecessor and their first successor), decoded by :meth:`.timeline.Timeline.decode` and
justified (:meth:`.timeline.Timeline.justify`), then offered to the pool: it replaces the worst
elite when better, or when as good and different (which keeps the search moving along a
plateau of equal makespans). Before the first step the pool is topped up with lists sampled at
random around the latest-finish-time priority rule. Every schedule any search finds, CP-SAT's
included, thus becomes a parent: CP-SAT's schedules, decoded in the order of their starts, are
left-justified for free.

Restarts. The search draws its parents from an *island*: at first the stage's pool itself; once
:data:`RESTART_STEPS` steps have passed without a new best of the island, a fresh, empty pool,
which the next steps fill with newly sampled lists and then breed on, independently of every
schedule found before. Every schedule the island takes also goes to the stage's pool, so the
best schedule of all survives every restart (and CP-SAT's searches, which read the stage's
pool, keep it). Why: once its pool has converged the search stops improving (PSPLIB j60: within
1,000-3,000 steps) while two seeds end a few units apart (j6013_1 114-118, j609_5 87-89); a
search that restarts on convergence turns the rest of a long budget into a best of several
seeds instead of more steps on one plateau.

Crowding and path relinking (docs/benchmarks.md, seventh session). With :data:`CROWDING` (on)
a full pool makes room by dropping, among its worst schedules, the one closest to the newcomer
(fewest starts apart) instead of the oldest, so that a plateau of equal makespans stays spread:
on PSPLIB j60's hard instances it made the worst seeds a unit better, the sums about equal. With
:data:`RELINK` set (off: it measured no better), that share of the decodes goes to
:meth:`ListSearch.relink`: a path from a tournament-picked elite to the farthest of
:data:`RELINK_FAR` random elites, one task moved to its place in the far end at a time, every
list on the way decoded, the :data:`RELINK_KEEP` best justified and offered (Kochetov & Stolyar
2003; Debels et al. 2006 combine elites this way).
"""

from __future__ import annotations

import heapq
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .timeline import Timeline

ELITE = 40  # schedules kept in the pool
MUTATION = 0.5  # share of children that are mutated
MUTATED_TASKS = 0.04  # ... each moving this share of the tasks (at least one)
SAMPLE_NOISE = 0.3  # relative noise on the latest finish times of the sampled lists
JUSTIFY_SLACK = None  # justify only children within this share above the worst elite (None: all)
RESTART_STEPS = 0  # steps without a new best of the island before a fresh one (0: never)
#: path relinking (see :meth:`ListSearch.relink`): the share of the list search's decodes spent
#: on paths between two elites (0: never), and how many elites the far end is the farthest of
RELINK = 0.0
RELINK_FAR = 3
RELINK_KEEP = 1  # the best lists of a path that are justified and offered
CROWDING = True  # a full pool drops, among its worst, the schedule closest to the newcomer
SLICES_ON_ISLAND = True  # searches started from hint() start from (and feed) the island;
# False: from the stage's pool (and feed it only)


@dataclass
class Schedule:
    value: int
    start: np.ndarray  # per interval of the timeline
    order: list[int]  # the activity list that decodes to it (tasks by start)
    source: str


class Pool:
    """The elite schedules of one stage and the best bound (thread-safe)."""

    def __init__(self, timeline: Timeline, size: int = ELITE) -> None:
        self.tl = timeline
        self.size = size
        self.elite: list[Schedule] = []
        self._keys: set[bytes] = set()
        self.bound: int | None = None
        self.version = 0  # bumped at each improvement of the best value
        self.wins: dict[str, int] = {}  # improvements of the best value, by source
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Schedule], None]] = []

    @property
    def best(self) -> Schedule | None:
        return self.elite[0] if self.elite else None

    def best_value(self) -> int | None:
        with self._lock:
            return self.elite[0].value if self.elite else None

    def offer(self, start: np.ndarray, source: str, value: int | None = None) -> bool:
        """Add a schedule; True when it improves the best value."""
        tl = self.tl
        if value is None:
            value = tl.objective(start)
        key = start.tobytes()
        with self._lock:
            if key in self._keys:
                return False
            full = len(self.elite) >= self.size
            if full and value > self.elite[-1].value:
                return False
            if full and value == self.elite[-1].value and value > self.elite[0].value:
                return False  # a plateau is only worth following at the best value
            improved = not self.elite or value < self.elite[0].value
            item = Schedule(value, start, tl.order_of(start), source)
            pos = 0
            while pos < len(self.elite) and self.elite[pos].value <= value:
                pos += 1
            self.elite.insert(pos, item)
            self._keys.add(key)
            while len(self.elite) > self.size:
                # drop the worst; at equal values the oldest (so plateaus move), or with
                # CROWDING the one closest to the newcomer (so the plateau stays spread)
                worst = self.elite[-1].value
                first = next(i for i, s in enumerate(self.elite) if s.value == worst)
                if CROWDING:
                    near = [i for i in range(first, len(self.elite)) if self.elite[i] is not item]
                    first = min(near, key=lambda i: int((self.elite[i].start != start).sum()))
                gone = self.elite.pop(first)
                self._keys.discard(gone.start.tobytes())
            if improved:
                self.version += 1
                self.wins[source] = self.wins.get(source, 0) + 1
        if improved:
            for listener in self.listeners:
                listener(item)
        return improved

    def raise_bound(self, bound: int) -> None:
        with self._lock:
            if self.bound is None or bound > self.bound:
                self.bound = bound

    def proven(self) -> bool:
        with self._lock:
            return bool(self.elite) and self.bound is not None and self.bound >= self.elite[0].value

    def among_best(self, rng: random.Random, top: int) -> Schedule | None:
        """One of the ``top`` best schedules, uniformly (None while the pool is empty)."""
        with self._lock:
            if not self.elite:
                return None
            return self.elite[rng.randrange(min(max(top, 1), len(self.elite)))]

    def orders(self) -> list[list[int]]:
        """The elite's activity lists, best first."""
        with self._lock:
            return [s.order for s in self.elite]

    def parents(self, rng: random.Random) -> tuple[list[int], list[int]]:
        with self._lock:
            elite = list(self.elite)

        def pick() -> list[int]:
            a, b = rng.randrange(len(elite)), rng.randrange(len(elite))
            return elite[min(a, b)].order  # the elite is sorted: the smaller index wins

        return pick(), pick()


class ListSearch:
    """Steady-state search over activity lists (see the module docstring)."""

    def __init__(self, timeline: Timeline, pool: Pool, seed: int) -> None:
        self.tl = timeline
        self.pool = pool
        self.rng = random.Random(seed)
        self.steps = 0
        self.failed = 0  # decodes that missed a window (deadlines)
        self.last_win = 0  # step of the last new best of the island
        #: where the parents come from: the stage's pool until the first restart, then a fresh
        #: pool per restart (see the module docstring)
        self.island = pool
        self._island_version = pool.version
        self.restarts = 0
        self.relinks = 0
        self.relink_steps = 0  # decodes on relinking paths (counted in steps)
        tl = timeline
        # latest finish times (backward critical path from the horizon), the sampling priority
        longest = np.zeros(tl.T, dtype=np.int64)
        for t in range(tl.T):
            ids = tl.of_task[t]
            longest[t] = max((int(tl.dur[i]) for i in ids), default=0)
        lft = np.full(tl.T, tl.horizon, dtype=np.int64)
        for t in reversed(tl.topo):
            for s in tl.succs[t]:
                lft[t] = min(lft[t], lft[s] - longest[s])
        self.lft = lft

    def sample(self) -> list[int]:
        """A random activity list around the latest-finish-time rule."""
        tl, rng = self.tl, self.rng
        spread = SAMPLE_NOISE * max(1.0, float(self.lft.max() - self.lft.min()))
        key = [float(v) + rng.uniform(0.0, spread) for v in self.lft.tolist()]
        indeg = [len(p) for p in tl.preds]
        heap = [(key[t], t) for t in range(tl.T) if indeg[t] == 0]
        heapq.heapify(heap)
        order: list[int] = []
        while heap:
            _, t = heapq.heappop(heap)
            order.append(t)
            for s in tl.succs[t]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(heap, (key[s], s))
        return order

    def crossover(self, a: list[int], b: list[int]) -> list[int]:
        n = len(a)
        q1 = self.rng.randrange(n + 1)
        q2 = self.rng.randrange(q1, n + 1)
        child = a[:q1]
        seen = set(child)
        for t in b:
            if len(child) >= q2:
                break
            if t not in seen:
                child.append(t)
                seen.add(t)
        for t in a:
            if t not in seen:
                child.append(t)
                seen.add(t)
        return child

    def mutate(self, order: list[int]) -> list[int]:
        tl, rng = self.tl, self.rng
        order = list(order)
        n = len(order)
        for _ in range(max(1, round(MUTATED_TASKS * n))):
            i = rng.randrange(n)
            t = order.pop(i)
            pos = {u: j for j, u in enumerate(order)}
            lo = max((pos[p] + 1 for p in tl.preds[t]), default=0)
            hi = min((pos[s] for s in tl.succs[t]), default=len(order))
            order.insert(rng.randint(lo, hi), t)
        return order

    def relink(self, a: list[int], b: list[int], keep: int = 1) -> list[list[int]]:
        """Path relinking from list ``a`` to list ``b``: position by position, the task at that
        position of ``b`` moves there in the current list (always precedence-feasible: every
        position before it already holds ``b``'s tasks), and every list on the way is decoded
        (one step each). Returns the ``keep`` best lists strictly between the two ends (ties
        drawn at random), best first; none when the ends are one move apart or less."""
        tl, rng = self.tl, self.rng
        x = list(a)
        n = len(x)
        pos = {t: i for i, t in enumerate(x)}
        kept: list[tuple[int, float, list[int]]] = []  # a max-heap by (-value, -draw)
        for i in range(n):
            t = b[i]
            j = pos[t]
            if j == i:
                continue
            x.pop(j)
            x.insert(i, t)
            for k in range(i, j + 1):
                pos[x[k]] = k
            if x == b:
                break
            start = tl.decode(x)
            self.steps += 1
            self.relink_steps += 1
            if start is None:
                self.failed += 1
                continue
            item = (-tl.objective(start), -rng.random(), list(x))
            if len(kept) < keep:
                heapq.heappush(kept, item)
            elif item[:2] > kept[0][:2]:
                heapq.heapreplace(kept, item)
        return [order for _, _, order in sorted(kept, reverse=True)]

    def _relink_step(self) -> bool:
        """One path relinking between a tournament-picked elite and the farthest of
        :data:`RELINK_FAR` random elites; the :data:`RELINK_KEEP` best lists on the path are
        justified and offered. True on a new best of the island."""
        island, rng = self.island, self.rng
        a, _ = island.parents(rng)
        elite = island.orders()
        far, dist = None, 0
        for _ in range(RELINK_FAR):
            c = elite[rng.randrange(len(elite))]
            d = sum(1 for u, v in zip(a, c, strict=True) if u != v)
            if d > dist:
                far, dist = c, d
        self.relinks += 1
        won = False
        if far is None:
            return won
        for order in self.relink(a, far, RELINK_KEEP):
            start = self.tl.decode(order)
            if start is not None and self.offer(self.tl.justify(start), "relink"):
                won = True
        return won

    def offer(self, start: np.ndarray, source: str) -> bool:
        """Give a schedule to the island and to the stage's pool; True when it improves the
        island's best."""
        won = self.island.offer(start, source)
        if self.island is not self.pool:
            self.pool.offer(start, source)
        return won

    def hint(self, rng: random.Random, top: int) -> Schedule | None:
        """One of the island's ``top`` best schedules, uniformly (where a CP-SAT neighbourhood
        search started from this search should start)."""
        return (self.island if SLICES_ON_ISLAND else self.pool).among_best(rng, top)

    def island_best_value(self) -> int:
        """The best value of the island (a large number while it has none)."""
        best = self.island.best_value()
        return np.iinfo(np.int64).max if best is None else best

    def offer_found(self, start: np.ndarray, source: str) -> bool:
        """A schedule found by a search started from :meth:`hint`."""
        if SLICES_ON_ISLAND:
            return self.offer(start, source)
        return self.pool.offer(start, source)

    @property
    def version(self) -> int:
        """Bumped at each new best of the island (what a stall is counted against)."""
        return self.island.version

    def try_list(self, order: list[int], source: str = "list") -> bool:
        start = self.tl.decode(order)
        self.steps += 1
        if start is None:
            self.failed += 1
            return False
        if JUSTIFY_SLACK is not None and self.island.elite:
            worst = self.island.elite[-1].value
            if self.tl.objective(start) > worst * (1 + JUSTIFY_SLACK):
                return False
        return self.offer(self.tl.justify(start), source)

    def step(self) -> bool:
        """One child (or, while the island is small, one sampled list); True on a new best of
        the island. Restarts first when the island has stalled (:data:`RESTART_STEPS`)."""
        if self.island.version != self._island_version:  # improved from outside (a slice)
            self._island_version = self.island.version
            self.last_win = self.steps
        if RESTART_STEPS and self.steps - self.last_win >= RESTART_STEPS:
            self.restart()
        island = self.island
        if len(island.elite) < island.size // 2:
            won = self.try_list(self.sample())
        elif RELINK and self.relink_steps < RELINK * self.steps:
            won = self._relink_step()
        else:
            a, b = island.parents(self.rng)
            child = self.crossover(a, b)
            if self.rng.random() < MUTATION:
                child = self.mutate(child)
            won = self.try_list(child)
        self._island_version = island.version
        if won:
            self.last_win = self.steps
        return won

    def restart(self) -> None:
        """Leave the converged island for a fresh, empty one (the next steps sample its
        lists); the stage's pool keeps every schedule found so far."""
        self.restarts += 1
        self.last_win = self.steps
        self.island = Pool(self.tl, self.pool.size)
        self._island_version = self.island.version
