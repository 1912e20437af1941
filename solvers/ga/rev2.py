"""The decoder of revision-2 problems: devices, gangs that start together, services, spread and
``max_moves`` (FORMATS.md, "Additions, version 1 revision 2").

Problems that use any of these are decoded here, placement and scheduling alike, instead of by
the repair of :mod:`.decode`, the penalty search of :mod:`.assign` and the SGS of
:mod:`.schedule` (which know none of them). The decoder is constructive: it places a task only
where every constraint holds, so its plans break none, except that a task the plan must place
may find no room (it is then left out, and the plan is penalised for it).

Genes
-----
One node per replica slot (``-1``: unplaced), then, in scheduling problems, the activity list
(a priority order of the tasks), then one *device hint* per slot and split resource: a bit mask
of the devices the replica used when it was last decoded (0: none). Hints are written back by
every decode (Lamarckian) and travel with their slots in crossover, so that a plan's device
choice survives; a greedy plan is encoded with its own devices (:meth:`Rev2.encode_devices`).

Decoding
--------
Placement: tasks in a fixed order (the plan's must-place tasks first, then priority descending,
then size descending, as the greedy), a gang as a unit when its first member comes. A task is
decoded when the plan must place it or its first gene holds a node (a gang: any member must, or
the first member's first gene holds a node). Its replicas go to their gene nodes if each is
allowed, distinct from the others, separated as ``separate_from`` says, has room on the node and
on its devices (a share of one device, or that many empty devices: the devices of the hint when
they have room, else best fit: the fullest device the share fits on, empty devices in index
order), and the replicas keep the spread and ``max_moves``. Otherwise every allowed node with
room is ranked (gene nodes first, then by the objective's marginal cost, utilisation after the
placement for ``balance``) and the replicas take the first nodes of that ranking that keep the
spread within ``max_skew`` (:func:`~taskalloc.problems.proofs.spread_feasible`), among the
task's ``current`` nodes only when another node would take the moves past ``max_moves``. A gang
member that fails takes the gang's placed members out again (all or none).

Scheduling: a serial schedule generation scheme over usage profiles that hold the node's
resources and every device of it as columns. Services come first and occupy [0, horizon);
other tasks in activity-list order among those whose ``after`` tasks are done, each replica at
the earliest start on its gene node where the node and its devices have room over the whole
run, before its deadline and the horizon (else the ranking above, by earliest end). A gang that
starts together is decoded when all its members are ready: at the earliest common start (the
members' releases and the ends of their outside ``after`` tasks) and then at each later
breakpoint of the members' nodes (at most :data:`MAX_GANG_STARTS`), every member takes nodes
where it can run from exactly that start; the first start at which all fit is kept. A gang
(not starting together) placed partly is decoded again without it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from taskalloc.problems.entities import device_shape
from taskalloc.problems.evaluate import CAP_TOL
from taskalloc.problems.plan import Assignment
from taskalloc.problems.proofs import spread_pick

from ..fleet import inner_order
from .compiled import UNPLACED, Compiled
from .schedule import _Profile

#: the revision-2 features this decoder exists for (``current_list`` needs nothing new)
FEATURES = frozenset({"devices", "same_start", "service", "spread", "max_moves"})
MAX_GANG_STARTS = 64  # common starts tried for a gang that starts together
POLL = 64  # tasks decoded between two looks at ``out``
WORD = 62  # devices per gene of a device hint (bits of a non-negative int64)
_INF = float("inf")

Devs = tuple[tuple[int, tuple[int, ...]], ...]  # (split resource, device indices) per resource


class Pick(NamedTuple):
    """One replica's place: node, start and end (0, 0 in placement problems), devices."""

    node: int
    start: int
    end: int
    devs: Devs


class Pair(NamedTuple):
    """Task on node: duration, nonzero demand columns, device shapes (split resource, devices
    needed, devices there, take on each), whether one replica fits the empty node."""

    dur: int
    dem: list[tuple[int, float]]
    shapes: list[tuple[int, int, int, float]]
    fits: bool


class Rev2:
    """The decoder of one revision-2 problem (see the module docstring)."""

    @staticmethod
    def applies(c: Compiled) -> bool:
        return bool(c.p.features & FEATURES)

    def __init__(self, c: Compiled) -> None:
        p = self.p = c.p
        self.c = c
        N, R = c.N, c.R
        self.split = [p.resource_index[r] for r in p.split_resources]
        self.split_names = list(p.split_resources)
        self.D = len(self.split)
        dcount = np.asarray(p.device_count) if p.resources else np.zeros((N, 1), np.int64)
        dsize = np.asarray(p.device_size) if p.resources else np.zeros((N, 1))
        # per node and split resource: column offset among the node's devices, count, size
        self.doff: list[list[int]] = []
        self.dk: list[list[int]] = []
        self.dsizex: list[list[float]] = []
        self.ndev: list[int] = []
        for n in range(N):
            off, offs, ks, sz = 0, [], [], []
            for ri in self.split:
                k = int(dcount[n, ri])
                offs.append(off)
                ks.append(k)
                sz.append(float(dsize[n, ri]) + CAP_TOL)
                off += k
            self.doff.append(offs)
            self.dk.append(ks)
            self.dsizex.append(sz)
            self.ndev.append(off)
        # a device hint is a bit mask; nodes of more than WORD devices take several genes
        self.words = [max(1, -(-int(dcount[:, ri].max(initial=0)) // WORD)) for ri in self.split]
        self.H = sum(self.words)  # genes per slot
        self.capx = c.capx.tolist()
        self.R = R
        self.dcount, self.dsize = dcount, dsize
        self.S, self.T = c.S, c.T
        self.first = c.first.tolist()
        self.reps = c.reps.tolist()
        self.must = c.must.tolist()
        self.allowed = [a.tolist() for a in c.allowed]
        self.allowed_set = [set(a) for a in self.allowed]
        self.separate = [set(a.tolist()) for a in c.separate]
        self.current = [t.current for t in p.tasks]
        self.spread = [t.spread for t in p.tasks]
        self.service = [t.service and p.scheduling for t in p.tasks]
        self.max_moves = p.max_moves
        self.limit = [float(min(int(c.deadline[t]), int(c.horizon))) for t in range(c.T)]
        self.release = c.release.tolist()
        self.preds = [list(a) for a in c.after]
        self.gang_name = [t.gang for t in p.tasks]
        self.together = {g for g in p.same_start} if p.scheduling else set()
        self.gang_of = c.gang_of.tolist()
        # `after` edges inside a gang that starts together: checked at its start, not waited for
        self.inner = [
            {
                q
                for q in self.preds[t]
                if self.gang_name[t] in self.together and self.gang_name[q] == self.gang_name[t]
            }
            for t in range(c.T)
        ]
        self.succ: list[list[int]] = [[] for _ in range(c.T)]
        for t, ps in enumerate(self.preds):
            for q in ps:
                self.succ[q].append(t)
        w = c.weights
        self.w_cost = w.get("cost", 0.0)
        self.w_nodes = w.get("nodes", 0.0)
        self.w_moves = w.get("moves", 0.0)
        self.w_balance = w.get("balance", 0.0)
        self.w_unplaced = w.get("unplaced", 0.0)
        self.node_cost = c.node_cost.tolist()
        self.invcap = c.invcap.tolist()
        self._pairs: dict[int, Pair] = {}
        self._acost: dict[int, float] = {}
        self._filled: set[int] = set()
        # nodes alike for every task without a per-node demand or duration: one class each
        classes: dict[tuple[object, ...], int] = {}
        self.node_class = [
            classes.setdefault(
                (tuple(self.capx[n]), tuple(self.dk[n]), tuple(self.dsizex[n]), c.speed[n]),
                len(classes),
            )
            for n in range(N)
        ]
        self.default_order = self._placement_order()
        self.free = False  # this decode chooses nodes itself (see decode)
        #: called every POLL tasks of a decode: True stops it (the rest stays unplaced)
        self.out: Any = None
        # the state of one decode (reset by decode)
        self._reset()

    # -- problem data --------------------------------------------------------------------------

    def pair(self, t: int, n: int) -> Pair:
        hit = self._pairs.get(t * self.c.N + n)
        if hit is None:
            self._fill(t, np.array([n], dtype=np.int64))
            hit = self._pairs[t * self.c.N + n]
        return hit

    def acost(self, t: int, n: int) -> float:
        hit = self._acost.get(t * self.c.N + n)
        if hit is None:
            self._fill(t, np.array([n], dtype=np.int64))
            hit = self._acost[t * self.c.N + n]
        return hit

    def _fill(self, t: int, nodes: np.ndarray) -> None:
        """The :class:`Pair` and assign cost of ``t`` on each of ``nodes`` (its allowed nodes
        when first asked about one of them), computed at once."""
        c = self.c
        if t not in self._filled:
            self._filled.add(t)
            nodes = np.union1d(c.allowed[t], nodes)
        tt = np.full(len(nodes), t, dtype=np.int64)
        durs = c.durations(tt, nodes).tolist()
        dems = c.demand(tt, nodes).tolist()
        costs = c.assign_cost(tt, nodes).tolist()
        base = t * c.N
        task = self.p.tasks[t]
        same: dict[int, Pair] = {}  # identical nodes give identical pairs
        for n, dur, dem, cost in zip(nodes.tolist(), durs, dems, costs, strict=True):
            self._acost[base + n] = float(cost)
            plain = n not in task.demand_on and n not in task.duration_on
            cls = self.node_class[n]
            if plain and cls in same:
                self._pairs[base + n] = same[cls]
                continue
            d = [(r, float(q)) for r, q in enumerate(dem) if q > 0]
            fits = all(q <= self.capx[n][r] for r, q in d)
            shapes = []
            for di, ri in enumerate(self.split):
                k = self.dk[n][di]
                q = dem[ri]
                if k == 0 or q <= 0:
                    continue
                shape = device_shape(q, float(self.dsize[n, ri]), k)
                if shape is None:
                    fits = False
                    continue
                shapes.append((di, shape[0], k, shape[1]))
            pr = self._pairs[base + n] = Pair(int(dur), d, shapes, fits)
            if plain:
                same[cls] = pr

    def _placement_order(self) -> np.ndarray:
        """The greedy's order (placement): priority descending, then size descending."""
        c = self.c
        mean = c.cap.mean(axis=0) if c.N else np.zeros(c.R)
        weight = np.divide(1.0, mean, out=np.zeros_like(mean), where=mean > 0)
        size = c.dem @ weight
        self.size_order = np.lexsort((np.arange(c.T), -size)).astype(np.int64)
        return np.lexsort((np.arange(c.T), -size, -c.prio)).astype(np.int64)

    def units(self, order: np.ndarray) -> list[list[int]]:
        """Placement: tasks in the genes' order, must-place ones first, a gang as one unit at
        its first member."""
        ol = order.tolist()
        ol = [t for t in ol if self.must[t]] + [t for t in ol if not self.must[t]]
        pos = {t: i for i, t in enumerate(ol)}
        units: list[list[int]] = []
        seen: set[str] = set()
        for t in ol:
            g = self.gang_name[t]
            if g is None:
                units.append([t])
            elif g not in seen:
                seen.add(g)
                units.append(sorted(self.p.gangs[g], key=pos.__getitem__))
        return units

    # -- devices -------------------------------------------------------------------------------

    def choose_devices(
        self,
        n: int,
        shapes: list[tuple[int, int, int, float]],
        use: list[float],
        hint: Sequence[int],
    ) -> Devs | None:
        """Devices for one replica on node ``n`` whose devices carry ``use`` (per device, in the
        node's device columns): the hint's when they have room, else best fit; None if none."""
        out = []
        for di, m, k, take in shapes:
            off = self.doff[n][di]
            sizex = self.dsizex[n][di]
            h = int(hint[di]) if hint else 0
            picked: list[int] | None = None
            if 0 < h < (1 << k):
                idx = [j for j in range(k) if h >> j & 1]
                if len(idx) == m and all(use[off + j] + take <= sizex for j in idx):
                    picked = idx
            if picked is None:
                if m == 1:
                    best, top = -1, -1.0
                    for j in range(k):
                        u = use[off + j]
                        if u + take <= sizex and u > top:
                            best, top = j, u
                    if best < 0:
                        return None
                    picked = [best]
                else:
                    picked = [j for j in range(k) if use[off + j] + take <= sizex][:m]
                    if len(picked) < m:
                        return None
            out.append((di, tuple(picked)))
        return tuple(out)

    def _columns(self, n: int, pr: Pair, devs: Devs) -> list[tuple[int, float]]:
        """The profile columns (node resources, then the node's devices) a replica takes."""
        cols = list(pr.dem)
        if devs:
            take = {di: tk for di, _, _, tk in pr.shapes}
            for di, idx in devs:
                base = self.R + self.doff[n][di]
                cols.extend((base + j, take[di]) for j in idx)
        return cols

    # -- one decode's state --------------------------------------------------------------------

    def _reset(self) -> None:
        c = self.c
        self.load = [[0.0] * (self.R + self.ndev[n]) for n in range(c.N)]  # placement
        self.profiles: dict[int, _Profile] = {}  # scheduling
        self.count = [0] * c.N
        self.on_node: list[set[int]] = [set() for _ in range(c.N)]
        self.moves = 0
        self.picks: dict[int, list[tuple[int, Pick]]] = {}  # task -> (slot, pick)

    def _moved(self, t: int, n: int) -> int:
        cur = self.current[t]
        return 0 if cur is None or n in cur else 1

    def _blocked(self, t: int, n: int) -> bool:
        sep = self.separate[t]
        return bool(sep) and bool(sep & self.on_node[n])

    def commit(self, t: int, chosen: list[tuple[int, Pick]]) -> None:
        sched = self.p.scheduling
        for _, pk in chosen:
            n = pk.node
            pr = self.pair(t, n)
            cols = self._columns(n, pr, pk.devs)
            if sched:
                if pk.end > pk.start and cols:
                    prof = self.profiles.get(n)
                    if prof is None:
                        prof = self.profiles[n] = _Profile(self.R + self.ndev[n])
                    prof.add(pk.start, pk.end, cols)
            else:
                row = self.load[n]
                for col, q in cols:
                    row[col] += q
            self.count[n] += 1
            self.on_node[n].add(t)
            self.moves += self._moved(t, n)
        self.picks[t] = chosen

    def uncommit(self, t: int) -> None:
        sched = self.p.scheduling
        for _, pk in self.picks.pop(t, []):
            n = pk.node
            pr = self.pair(t, n)
            cols = [(col, -q) for col, q in self._columns(n, pr, pk.devs)]
            if sched:
                if pk.end > pk.start and cols:
                    self.profiles[n].add(pk.start, pk.end, cols)
            else:
                row = self.load[n]
                for col, q in cols:
                    row[col] += q
                if self.count[n] == 1:
                    self.load[n] = [0.0] * len(row)  # no rounding drift left behind
            self.count[n] -= 1
            self.on_node[n].discard(t)
            self.moves -= self._moved(t, n)

    # -- fitting one replica -------------------------------------------------------------------

    def fit_place(self, t: int, n: int, hint: Sequence[int]) -> Pick | None:
        pr = self.pair(t, n)
        if not pr.fits:
            return None
        row = self.load[n]
        capx = self.capx[n]
        for r, q in pr.dem:
            if row[r] + q > capx[r]:
                return None
        devs: Devs = ()
        if pr.shapes:
            got = self.choose_devices(n, pr.shapes, row[self.R :], hint)
            if got is None:
                return None
            devs = got
        return Pick(n, 0, 0, devs)

    def fit_sched(
        self, t: int, n: int, est: int, hint: Sequence[int], at: int | None = None
    ) -> Pick | None:
        """The earliest start >= est on node ``n`` (exactly ``at`` if given) where the node
        and its devices have room over the whole run, before the task's limit."""
        pr = self.pair(t, n)
        if not pr.fits:
            return None
        dur, limit = pr.dur, self.limit[t]
        s = est if at is None else at
        if s < est:
            return None
        prof = self.profiles.get(n)
        while True:
            if s + dur > limit:
                return None
            devs, nxt = self._check(n, prof, s, dur, pr, hint)
            if devs is not None:
                return Pick(n, s, s + dur, devs)
            if nxt is None or at is not None:
                return None
            s = nxt

    def _check(
        self, n: int, prof: _Profile | None, s: int, dur: int, pr: Pair, hint: Sequence[int]
    ) -> tuple[Devs | None, int | None]:
        """(devices, None) if a replica fits [s, s + dur) on node ``n``, else (None, the next
        start worth trying, or None if none)."""
        zero = [0.0] * self.ndev[n]
        if dur == 0 or prof is None:
            if not pr.shapes:
                return (), None
            return self.choose_devices(n, pr.shapes, zero, hint), None
        times, use = prof.times, prof.use
        last = len(times) - 1
        capx = self.capx[n]
        e = s + dur
        i = bisect_right(times, s) - 1
        j = i
        while True:
            seg = use[j]
            for r, q in pr.dem:
                if seg[r] + q > capx[r]:
                    return None, (None if j == last else times[j + 1])
            if j == last or times[j + 1] >= e:
                break
            j += 1
        if not pr.shapes:
            return (), None
        R = self.R
        peak = [max(use[x][R + d] for x in range(i, j + 1)) for d in range(self.ndev[n])]
        devs = self.choose_devices(n, pr.shapes, peak, hint)
        if devs is not None:
            return devs, None
        return None, (None if i == last else times[i + 1])

    # -- choosing a task's nodes ---------------------------------------------------------------

    def _score(self, t: int, n: int) -> float:
        """The objective's marginal estimate of one replica of ``t`` on ``n`` (placement: with
        the node's utilisation after it for balance, best fit on ties otherwise)."""
        opening = self.count[n] == 0
        sc = self.w_cost * (self.acost(t, n) + (self.node_cost[n] if opening else 0.0))
        if opening:
            sc += self.w_nodes
        sc += self.w_moves * self._moved(t, n)
        if not self.p.scheduling:
            row, inv = self.load[n], self.invcap[n]
            util = max([(row[r] + q) * inv[r] for r, q in self.pair(t, n).dem] + [0.0])
            sc += self.w_balance * util if self.w_balance else -1e-9 * util
        return sc

    def choose(
        self, t: int, xl: list[int], hint: list[list[int]], est: int = 0, at: int | None = None
    ) -> list[tuple[int, Pick]] | None:
        """Nodes (and starts, devices) for every replica of ``t``: its gene nodes if they do,
        else the ranking of the module docstring; None if the task cannot be placed."""
        sched = self.p.scheduling
        f0, k = self.first[t], self.reps[t]
        allowed = self.allowed_set[t]

        def fit(n: int, h: Sequence[int]) -> Pick | None:
            if n not in allowed or self._blocked(t, n):
                return None
            return self.fit_sched(t, n, est, h, at) if sched else self.fit_place(t, n, h)

        genes: list[tuple[int, Pick]] = []
        taken: set[int] = set()
        for i in range(0 if self.free else k):
            n = xl[f0 + i]
            if n < 0 or n in taken:
                break
            pk = fit(n, hint[f0 + i])
            if pk is None:
                break
            genes.append((f0 + i, pk))
            taken.add(n)
        mine = [pk.node for _, pk in genes]
        if len(genes) == k and self._spread_ok(t, mine) and self._moves_ok(t, mine):
            return genes
        # every allowed node: gene nodes first (in slot order), then the best others; in a
        # free decode, by end (scheduling) or score (placement), gene nodes first on ties
        ranked: list[tuple[tuple[float, ...], int, Pick]] = []
        seen: set[int] = set()
        for i in range(k):
            n = xl[f0 + i]
            if n >= 0 and n not in seen:
                seen.add(n)
                pk = fit(n, hint[f0 + i])
                if pk is not None:
                    key: tuple[float, ...]
                    if self.free:
                        key = (float(pk.end), self._score(t, n), 0.0, float(i))
                    else:
                        key = (0.0, float(i))
                    ranked.append((key, f0 + i, pk))
        for n in self.allowed[t]:
            if n in seen:
                continue
            pk = fit(n, ())
            if pk is not None:
                if self.free:
                    key = (float(pk.end), self._score(t, n), 1.0, float(n))
                else:
                    key = (1.0, float(pk.end), self._score(t, n), float(n))
                ranked.append((key, -1, pk))
        if len(ranked) < k:
            return None
        ranked.sort(key=lambda e: e[0])
        sel = self._select(t, ranked, k)
        if sel is not None and not self._moves_ok(t, [pk.node for _, _, pk in sel]):
            sel = None
        if sel is None and self.max_moves is not None and self.current[t] is not None:
            # too many moves: the task's current nodes first (as few moves as it can make)
            again = sorted(ranked, key=lambda e: self._moved(t, e[2].node))
            sel = self._select(t, again, k)
            if sel is not None and not self._moves_ok(t, [pk.node for _, _, pk in sel]):
                sel = None
        if sel is None:
            return None
        # gene nodes keep their slots; the others fill the free slots in order
        out: list[tuple[int, Pick]] = []
        used = {slot for _, slot, _ in sel if slot >= 0}
        free = [s for s in range(f0, f0 + k) if s not in used]
        for _, slot, pk in sel:
            out.append((slot if slot >= 0 else free.pop(0), pk))
        return out

    def _select(
        self, t: int, ranked: list[tuple[tuple[float, ...], int, Pick]], k: int
    ) -> list[tuple[tuple[float, ...], int, Pick]] | None:
        """The first ``k`` of ``ranked`` that keep the task's spread within max_skew."""
        if len(ranked) < k:
            return None
        sp = self.spread[t]
        if sp is None or k <= 1:
            return ranked[:k]
        value = [sp.value_of[e[2].node] for e in ranked]
        taken = spread_pick(value, len(sp.values), k, sp.max_skew)
        return None if taken is None else [ranked[i] for i in taken]

    def _spread_ok(self, t: int, nodes: list[int]) -> bool:
        sp = self.spread[t]
        if sp is None:
            return True
        counts = [0] * len(sp.values)
        for n in nodes:
            counts[sp.value_of[n]] += 1
        return max(counts) - min(counts) <= sp.max_skew

    def _moves_ok(self, t: int, nodes: list[int]) -> bool:
        if self.max_moves is None:
            return True
        return self.moves + sum(self._moved(t, n) for n in nodes) <= self.max_moves

    # -- decoding ------------------------------------------------------------------------------

    def hints(self, genes: np.ndarray) -> list[list[int]]:
        """The device hints (one mask per split resource) of every slot."""
        H, S = self.H, self.S
        if not H:
            return [[] for _ in range(S)]
        rows = genes[len(genes) - S * H :].reshape(S, H).tolist()
        return rows if H == self.D else [self._unpack(r) for r in rows]

    def _pack(self, masks: Sequence[int]) -> list[int]:
        out: list[int] = []
        for d, w in enumerate(self.words):
            out.extend((masks[d] >> (WORD * i)) & ((1 << WORD) - 1) for i in range(w))
        return out

    def _unpack(self, row: Sequence[int]) -> list[int]:
        out: list[int] = []
        i = 0
        for w in self.words:
            out.append(sum(int(row[i + j]) << (WORD * j) for j in range(w)))
            i += w
        return out

    def decode(self, genes: np.ndarray, free: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode ``genes`` in place (nodes, device hints written back); returns (x, start).
        ``free``: every replica on the node that ranks first (earliest end in a schedule,
        then the objective's estimate; gene nodes on ties), not on its gene node."""
        c = self.c
        S = self.S
        self.free = free
        for attempt in range(2):
            self._reset()
            xl = genes[:S].tolist()
            hint = self.hints(genes)
            start = [0] * S
            order = genes[S : S + c.T]
            if self.p.scheduling:
                self._schedule(xl, hint, order)
            else:
                self._place(xl, hint, order)
            self._write(genes, start)
            partial = self._partial_gangs() if attempt == 0 else []
            if not partial:
                break
            for g in partial:  # an optional gang placed partly: decode again without it
                for m in c.gangs[g].tolist():
                    f0 = self.first[m]
                    genes[f0 : f0 + self.reps[m]] = UNPLACED
        x = genes[:S]
        return x, (np.asarray(start, dtype=np.int64) if self.p.scheduling else None)

    def _write(self, genes: np.ndarray, start: list[int]) -> None:
        """The decoded plan into the genes (nodes, device hints) and ``start``."""
        S = self.S
        out = [UNPLACED] * S
        dev = [[0] * self.D for _ in range(S)]
        for chosen in self.picks.values():
            for slot, pk in chosen:
                out[slot] = pk.node
                start[slot] = pk.start
                for di, idx in pk.devs:
                    dev[slot][di] = sum(1 << j for j in idx)
        genes[:S] = out
        if self.H:
            rows = dev if self.H == self.D else [self._pack(r) for r in dev]
            genes[len(genes) - S * self.H :] = np.asarray(rows, dtype=np.int64).ravel()

    def _partial_gangs(self) -> list[int]:
        out = []
        for gi, g in enumerate(self.c.gangs):
            k = sum(1 for m in g.tolist() if m in self.picks)
            if 0 < k < len(g) and not any(self.must[m] for m in g.tolist()):
                out.append(gi)
        return out

    def _wanted(self, members: Sequence[int], xl: list[int]) -> bool:
        return any(self.must[m] for m in members) or xl[self.first[members[0]]] >= 0

    def _place(self, xl: list[int], hint: list[list[int]], order: np.ndarray) -> None:
        for i, unit in enumerate(self.units(order)):
            if i % POLL == POLL - 1 and self.out is not None and self.out():
                return
            if not self._wanted(unit, xl):
                continue
            done: list[int] = []
            for t in unit:
                chosen = self.choose(t, xl, hint)
                if chosen is None:
                    for m in done:
                        self.uncommit(m)
                    break
                self.commit(t, chosen)
                done.append(t)

    def _schedule(self, xl: list[int], hint: list[list[int]], order: np.ndarray) -> None:
        T = self.T
        pos = np.empty(T, dtype=np.int64)
        pos[order] = np.arange(T)
        posl = pos.tolist()
        self.end_of = [0] * T
        indeg = [len(self.preds[t]) - len(self.inner[t]) for t in range(T)]
        heap = [((0 if self.service[t] else 1, posl[t]), t) for t in range(T) if indeg[t] == 0]
        heapq.heapify(heap)
        waiting: dict[str, list[int]] = {}
        gangs = self.p.gangs

        def release(t: int) -> None:
            for u in self.succ[t]:
                if t in self.inner[u]:
                    continue
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(heap, ((0 if self.service[u] else 1, posl[u]), u))

        polled = 0
        while True:
            while heap:
                polled += 1
                if polled % POLL == 0 and self.out is not None and self.out():
                    return
                _, t = heapq.heappop(heap)
                g = self.gang_name[t]
                if g is not None and g in self.together:
                    ready = waiting.setdefault(g, [])
                    ready.append(t)
                    if len(ready) == len(gangs[g]):
                        del waiting[g]
                        self._together(g, ready, xl, hint)
                        for m in ready:
                            release(m)
                    continue
                if self._wanted([t], xl) and all(q in self.picks for q in self.preds[t]):
                    if self.service[t]:
                        chosen = self.choose(t, xl, hint, 0, 0)
                    else:
                        est = max([self.release[t], *(self.end_of[q] for q in self.preds[t])])
                        chosen = self.choose(t, xl, hint, est)
                    if chosen is not None:
                        self.commit(t, chosen)
                        self.end_of[t] = max(pk.end for _, pk in chosen)
                release(t)
            if not waiting:
                break
            # a gang whose members wait for each other through `after`: it cannot be placed
            _, ready = waiting.popitem()
            for m in ready:
                release(m)

    def _together(self, g: str, members: list[int], xl: list[int], hint: list[list[int]]) -> None:
        """Every member of gang ``g`` at one common start (module docstring), or none."""
        p = self.p
        gang = list(p.gangs[g])
        if not self._wanted(gang, xl):
            return
        outside = [q for m in gang for q in self.preds[m] if q not in self.inner[m]]
        if not all(q in self.picks for q in outside):
            return
        start = max([self.release[m] for m in gang] + [self.end_of[q] for q in outside])
        order = inner_order(gang, self.preds.__getitem__)
        nodes = {n for m in gang for n in self.allowed[m]}
        later = sorted(
            {
                int(x)
                for n in nodes
                if n in self.profiles
                for x in self.profiles[n].times
                if x > start
            }
        )
        tries = [start, *later][:MAX_GANG_STARTS]
        for s in tries:
            done: list[int] = []
            for m in order:
                if any(self.end_of[q] > s for q in self.inner[m]):
                    chosen = None
                else:
                    chosen = self.choose(m, xl, hint, s, s)
                if chosen is None:
                    break
                self.commit(m, chosen)
                self.end_of[m] = max(pk.end for _, pk in chosen)
                done.append(m)
            else:
                return
            for m in done:
                self.uncommit(m)
                self.end_of[m] = 0

    # -- local search (placement) --------------------------------------------------------------

    def improve(
        self, genes: np.ndarray, rng: np.random.Generator, budget: int, out: Any = None
    ) -> bool:
        """Placement: decode ``genes``, then improve the plan with moves that keep every
        constraint (room on the node and its devices, distinct nodes, separation, spread,
        ``max_moves``): inserts of optional tasks left out (not in gangs) when the objective
        counts ``unplaced``, shifts of one replica to the allowed node that lowers the
        objective's estimate most (:meth:`_score` terms), and closing lightly used nodes
        (every replica elsewhere among the open ones) when nodes cost something or ``nodes``
        counts. The genes (nodes and device hints) are rewritten so that decoding them gives
        the improved plan again. True if the plan changed."""
        self.decode(genes)
        before = genes.copy()
        S = self.S
        xl = [UNPLACED] * S
        hint: list[list[int]] = [[] for _ in range(S)]
        if self.w_unplaced:
            placed = set(self.picks)
            left = [
                t for t in range(self.T)
                if t not in placed and not self.must[t] and self.gang_name[t] is None
            ]  # fmt: skip
            for t in rng.permutation(len(left))[: max(1, budget // 4)].tolist():
                task = left[t]
                chosen = self.choose(task, xl, hint)
                if chosen is not None:
                    self.commit(task, chosen)
        slots = [(t, i) for t, ch in self.picks.items() for i in range(len(ch))]
        for j in rng.permutation(len(slots))[:budget].tolist():
            if j % 50 == 49 and out is not None and out():
                break
            t, i = slots[j]
            self._shift(t, i)
        if (self.w_cost and any(self.node_cost)) or self.w_nodes:
            self._close(rng, max(1, budget // 20), out)
        self._write(genes, [0] * S)
        return not np.array_equal(before, genes)

    def _delta(self, t: int, n: int, m: int) -> float:
        """The estimate's change when one replica of ``t`` leaves ``n`` for ``m``."""
        d = self.w_cost * (self.acost(t, m) - self.acost(t, n))
        if self.count[m] == 0:
            d += self.w_cost * self.node_cost[m] + self.w_nodes
        if self.count[n] == 1:
            d -= self.w_cost * self.node_cost[n] + self.w_nodes
        d += self.w_moves * (self._moved(t, m) - self._moved(t, n))
        if self.w_balance:
            row, inv = self.load[m], self.invcap[m]
            util = max([(row[r] + q) * inv[r] for r, q in self.pair(t, m).dem] + [0.0])
            d += self.w_balance * max(util - self._peak(), 0.0)
        return d

    def _peak(self) -> float:
        top = 0.0
        for n, row in enumerate(self.load):
            inv = self.invcap[n]
            for r in range(self.R):
                if row[r] * inv[r] > top:
                    top = row[r] * inv[r]
        return top

    def _move(self, t: int, i: int, pk: Pick) -> Pick:
        """Replica ``i`` of task ``t``'s picks to ``pk`` (placement); returns the old pick."""
        slot, old = self.picks[t][i]
        n = old.node
        row = self.load[n]
        for col, q in self._columns(n, self.pair(t, n), old.devs):
            row[col] -= q
        self.count[n] -= 1
        if self.count[n] == 0:
            self.load[n] = [0.0] * len(row)
        self.on_node[n].discard(t)
        self.moves -= self._moved(t, n)
        m = pk.node
        row = self.load[m]
        for col, q in self._columns(m, self.pair(t, m), pk.devs):
            row[col] += q
        self.count[m] += 1
        self.on_node[m].add(t)
        self.moves += self._moved(t, m)
        self.picks[t][i] = (slot, pk)
        return old

    def _targets(self, t: int, i: int, only_open: int = -1) -> list[tuple[float, Pick]]:
        """Where replica ``i`` of ``t`` may go (room, distinct, separation, spread, moves),
        with the estimate's change; ``only_open``: among open nodes other than this one."""
        n = self.picks[t][i][1].node
        others = [pk.node for j, (_, pk) in enumerate(self.picks[t]) if j != i]
        sp = self.spread[t]
        out = []
        for m in self.allowed[t]:
            if m == n or m in others or self._blocked(t, m):
                continue
            if only_open >= 0 and (m == only_open or self.count[m] == 0):
                continue
            if sp is not None and not self._spread_ok(t, [*others, m]):
                continue
            if self.max_moves is not None and (
                self.moves - self._moved(t, n) + self._moved(t, m) > self.max_moves
            ):
                continue
            pk = self.fit_place(t, m, ())
            if pk is not None:
                out.append((self._delta(t, n, m), pk))
        return out

    def _shift(self, t: int, i: int) -> bool:
        best = min(self._targets(t, i), key=lambda e: e[0], default=None)
        if best is None or best[0] >= -1e-9:
            return False
        self._move(t, i, best[1])
        return True

    def _close(self, rng: np.random.Generator, k: int, out: Any) -> None:
        used = [n for n in range(self.c.N) if self.count[n] > 0]
        if len(used) < 2:
            return
        value = {n: self.w_cost * self.node_cost[n] + self.w_nodes for n in used}
        fill = {n: max(self.load[n][r] * self.invcap[n][r] for r in range(self.R)) for n in used}
        noise = rng.random(len(used)).tolist()
        where: dict[int, list[tuple[int, int]]] = {}  # node -> replicas there (when it began)
        for t, ch in self.picks.items():
            for i, (_, pk) in enumerate(ch):
                where.setdefault(pk.node, []).append((t, i))
        order = sorted(
            range(len(used)), key=lambda j: (fill[used[j]] / max(value[used[j]], 1e-12), noise[j])
        )
        for j in order[: 3 * k]:
            if out is not None and out():
                return
            n = used[j]
            if self.count[n] == 0:
                continue
            on = [(t, i) for t, i in where.get(n, []) if self.picks[t][i][1].node == n]
            done: list[tuple[int, int, Pick]] = []
            extra = 0.0
            for t, i in on:
                got = self._targets(t, i, only_open=n)
                best = min(got, key=lambda e: e[0], default=None)
                if best is None:
                    break
                extra += best[0]  # (the last one out earns the node's closing)
                done.append((t, i, self._move(t, i, best[1])))
            else:
                if extra < -1e-9:
                    continue
            for t, i, old in reversed(done):
                self._move(t, i, old)

    # -- plans ---------------------------------------------------------------------------------

    def encode_devices(self, assignments: Sequence[Assignment]) -> np.ndarray:
        """Device hints (S x H, flattened) of a plan's assignments."""
        out = np.zeros((self.S, self.H), dtype=np.int64)
        if not self.H:
            return out.ravel()
        masks = [[0] * self.D for _ in range(self.S)]
        ti, col = self.p.task_index, {r: d for d, r in enumerate(self.split_names)}
        for a in assignments:
            t = ti.get(a.task)
            if t is None or not a.devices or not 0 <= a.replica < self.reps[t]:
                continue
            s = self.first[t] + a.replica
            for r, idx in a.devices.items():
                d = col.get(r)
                if d is not None and all(j >= 0 for j in idx):
                    masks[s][d] = sum(1 << int(j) for j in set(idx))
        for s, row in enumerate(masks):
            if any(row):
                out[s] = self._pack(row)
        return out.ravel()

    def devices_of(self, genes: np.ndarray, s: int) -> dict[str, tuple[int, ...]] | None:
        """The devices of slot ``s`` from the genes' hints (None: no split resource used)."""
        if not self.H:
            return None
        base = len(genes) - self.S * self.H + s * self.H
        row = self._unpack(genes[base : base + self.H].tolist())
        out = {}
        for d in range(self.D):
            h = row[d]
            if h:
                out[self.split_names[d]] = tuple(j for j in range(h.bit_length()) if h >> j & 1)
        return out or None

    def violations(self, x: np.ndarray, start: np.ndarray | None) -> float:
        """Broken revision-2 constraints the arrays show (spread, same starts, services,
        ``max_moves``); devices are never overloaded by the decoder (it places a replica only
        where they have room) and are checked by the evaluator on the final plan."""
        c, p = self.c, self.p
        viol = 0.0
        placed = x >= 0
        for t in range(self.T):
            sp = self.spread[t]
            f0, k = self.first[t], self.reps[t]
            if sp is not None:
                nodes = [int(n) for n in x[f0 : f0 + k] if n >= 0]
                if nodes and not self._spread_ok(t, [n for n in nodes if n in sp.value_of]):
                    viol += 1.0
            if self.service[t] and start is not None:
                for s in range(f0, f0 + k):
                    if x[s] >= 0 and start[s] != 0:
                        viol += 1.0
        if start is not None:
            for g in self.together:
                st = {
                    int(start[s])
                    for m in p.gangs[g]
                    for s in range(self.first[m], self.first[m] + self.reps[m])
                    if x[s] >= 0
                }
                if len(st) > 1:
                    viol += 1.0
        if self.max_moves is not None:
            ps = np.flatnonzero(placed)
            pt = c.task_of[ps]
            cur = c.has_current[pt]
            moves = int(np.count_nonzero(~c.is_current(pt[cur], x[ps][cur])))
            if moves > self.max_moves:
                viol += 1.0 + (moves - self.max_moves)
        return viol
