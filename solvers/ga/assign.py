"""Penalty local search for assignment-shaped placement problems (the GAP and its kin).

Applies where :class:`.dense.Dense` does: one replica per task, no ``separate_from``, no
``balance`` term, and a (task x node x resource) table small enough to hold. The objective is
then linear in the (task, node) pairs plus a cost per used node, and the only constraints a
move can break are capacities.

Why a penalty search
--------------------
On tight instances (Chu-Beasley type d, Yagiura type e: capacities at 80 % of the average
demand, costs falling as demands grow) the plans that keep every capacity at every step are
few and far apart: a search that only accepts feasible moves (the GA's repair and
:meth:`.dense.Dense.improve`) stops at poor local optima, and repair often cannot even find
room for every task. Here the search moves through infeasible plans too. It minimises

    cost(x) + sum over nodes n of alpha[n] * sum over resources r of max(0, load[n, r] - 1)

with loads in units of capacity, and adapts the weights as it goes (strategic oscillation, as
in the tabu searches of Diaz & Fernandez and of Yagiura, Ibaraki & Glover for the GAP): at a
local optimum that breaks capacities the weights of the overloaded nodes grow by a random
factor, at a feasible one every weight shrinks, so the search crosses the boundary of the
feasible region again and again, and every feasible plan it passes is a candidate.

Neighbourhoods, all scored at once as numpy matrices: *shift* (one task to another node, or
out of the plan when it is optional), *swap* (two tasks exchange nodes; the first task from a
random sample), *ejection* (a task takes another's node and the ejected task goes to its
best third node: a chain of length two) and, where none of these improves, a *cyclic
exchange* over three nodes (t1 from a to b, t2 from b to c, t3 from c to a: ``CYCLE`` second
tasks per sampled first task, every third task; where every pair of nodes is already optimal
only such moves improve), once a feasible plan is known (``CYCLE_GATE``: on e80x1600 cycles from
the start of the search held the first seconds back, 2.9-4.6 % above the bound at 3 CPU
seconds against 1.0 % with the gate; on the shared d20100 the first feasible plan comes in
milliseconds and nothing changes). Shift scores are kept incrementally (a move changes
the columns of two or three nodes and the rows of the tasks on them). A task that moves may not
shift back to the node it left for ``TENURE`` iterations (a short tabu list: without it the
weights' small changes mostly undo the last move). After ``restart`` local optima without a
better plan, the search returns to the best plan it found and either moves a few random tasks
(a kick) or, half of the time, relinks it with an elite plan: the object keeps the ``ELITE``
cheapest distinct feasible plans its searches met (each search's best and the best of each
stretch between two returns; in the GA the children's searches add theirs), and from the best
plan the search walks towards one of them drawn at random, each step moving the task whose move
to its node in that plan costs least (penalised), for a random quarter to three quarters of the
way (path relinking, as in Yagiura, Ibaraki & Glover's path relinking with ejection chains for
the GAP); the search goes on from there. A kick moves two tasks at random; a relinking step
moves several, towards another good plan (on a tight instance, plans of almost the same cost
found from different starts differ in about half of their tasks).

:func:`construct` gives a start: capacity multipliers ``u`` by subgradient steps on the
Lagrangian relaxation of the capacities (the LP bound), then each task on the node of least
``cost + u . demand``. On tight problems that start is over capacity; :func:`make_feasible`
repairs it in a few cheap rounds (tasks off overloaded nodes by cost per unit of overload
removed, swaps where no move removes any): a feasible plan before any search, which the GA
returns where its search had no time to find a better one. Pure numpy; no DEAP, no OR-Tools.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .compiled import UNPLACED, Compiled
from .dense import Dense

_INF = float("inf")
_EPS = 1e-9


class AssignSearch:
    """The matrices of one problem and the search's weights (see the module docstring).

    Plans are node vectors with ``N`` (one past the last node) for an unplaced task; the genes'
    ``-1`` is converted on the way in and out."""

    SAMPLE = 64  # first tasks of the swap and ejection neighbourhoods, drawn per evaluation
    KICK = 2  # tasks moved at random when the search returns to its best plan
    RESTART = 20  # local optima without a better plan before that return
    BATCH = 64  # shifts applied per scoring of the shift matrix (see _shifts)
    ELITE = 8  # distinct feasible plans kept for path relinking (see _relink)
    TENURE = 5  # iterations during which a task may not return to the node it just left
    RELINK = 0.5  # share of the returns to the best plan that relink instead of kicking
    CYCLE = 8  # second tasks per first task in the cyclic exchange over three nodes (0: none)
    #: cycles only once some search of this object has found a feasible plan (the elite is not
    #: empty): from the start of a large tight instance (80 x 1,600) the search first needs
    #: feasibility, and cycles there held it back (see the module docstring)
    CYCLE_GATE = True

    def __init__(self, c: Compiled, dense: Dense, weights: dict[str, float]) -> None:
        T, N, R = c.T, c.N, c.R
        self.c = c
        self.T, self.N, self.R = T, N, R
        capx = c.capx
        W = np.zeros((T, N + 1, R))
        W[:, :N] = dense.D / capx[None, :, :]
        fits = (W[:, :N] <= 1.0).all(axis=2)
        M = np.full((T, N + 1), _INF)
        M[:, :N] = np.where(dense.A & fits, dense.M, _INF)
        w_unplaced = weights.get("unplaced", 0.0)
        M[:, N] = np.where(c.must, _INF, w_unplaced * c.prio)
        self.M = M
        # the cost of a task where it is: finite even on a pair it may not take (a child's
        # genes may hold one: the search then moves it away; such a plan is never recorded)
        finite = M[np.isfinite(M)]
        self.big = 1e6 * (
            1.0 + float(np.abs(finite).max(initial=0.0)) + float(dense.open.max(initial=0.0))
        )
        self.Mc = np.where(np.isfinite(M), M, self.big)
        self.Wsum = W.sum(axis=2)
        # one resource: no resource axis (every array one dimension smaller, numpy calls faster)
        self.R1 = R == 1
        self.W = W[:, :, 0].copy() if self.R1 else W
        self.open = np.zeros(N + 1)
        self.open[:N] = dense.open
        # destinations: finite pairs; a gang member never leaves (or joins) the plan alone
        dest = np.isfinite(M)
        dest[c.gang_of >= 0, N] = False
        self.dest = dest
        self.ar = np.arange(T)
        self.gang = c.gang_of >= 0
        real = M[:, :N][np.isfinite(M[:, :N])]
        scale = float(np.median(np.abs(real))) if real.size else 0.0
        if scale <= 0:
            scale = float(np.max(np.abs(dense.open), initial=0.0)) or 1.0
        wmed = float(np.median(self.Wsum[:, :N][dense.A])) if dense.A.any() else 1.0
        self.alpha0 = scale / max(wmed, 1e-9)
        self.alpha = np.full(N + 1, self.alpha0)
        self.alpha[N] = 0.0
        self.iterations = 0
        self.prices: np.ndarray | None = None  # capacity multipliers of construct()
        self.work = 0.0  # deterministic work units (matrix cells scored), for the work clock
        # the elite: distinct feasible plans (search vectors) with their costs, cheapest first
        self.elite: list[tuple[float, np.ndarray]] = []

    # -- plans --

    def to_search(self, genes: np.ndarray) -> np.ndarray:
        x = np.asarray(genes, dtype=np.int64).copy()
        x[x < 0] = self.N
        return x

    def to_genes(self, x: np.ndarray) -> np.ndarray:
        g = x.copy()
        g[g == self.N] = UNPLACED
        return g

    def cost(self, x: np.ndarray) -> float:
        count = np.bincount(x, minlength=self.N + 1)
        return float(self.Mc[self.ar, x].sum() + self.open[count > 0].sum())

    def loads(self, x: np.ndarray) -> np.ndarray:
        """Load per node (and resource, unless there is one) in units of capacity."""
        w = self.W[self.ar, x]
        if self.R1:
            return np.bincount(x, weights=w, minlength=self.N + 1)
        load = np.zeros((self.N + 1, self.R))
        for r in range(self.R):
            load[:, r] = np.bincount(x, weights=w[:, r], minlength=self.N + 1)
        return load

    def _over(self, load: np.ndarray) -> np.ndarray:
        """Per node (without the unplaced column): True where a capacity is exceeded."""
        o: np.ndarray = load[: self.N] > 1.0 + _EPS
        return o if self.R1 else np.any(o, axis=1)

    def feasible(self, x: np.ndarray) -> bool:
        return not self._over(self.loads(x)).any()

    # -- scores --

    def _excess(self, load: np.ndarray) -> np.ndarray:
        e = np.maximum(load - 1.0, 0.0)
        return e if self.R1 else e.sum(axis=-1)

    def _col(self, load: np.ndarray, count: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Score of moving each task onto each of ``nodes`` (its own removal not counted)."""
        ln = load[nodes]
        add = self._excess(ln[None] + self.W[:, nodes]) - self._excess(ln)[None, :]
        col = self.M[:, nodes] + (self.open[nodes] * (count[nodes] == 0))[None, :]
        col = col + self.alpha[nodes][None, :] * add
        return np.where(self.dest[:, nodes], col, _INF)

    def _row(
        self, x: np.ndarray, load: np.ndarray, count: np.ndarray, ts: np.ndarray
    ) -> np.ndarray:
        """Score of removing each of tasks ``ts`` from its node (negative: a gain)."""
        n = x[ts]
        ln = load[n]
        gain = self._excess(ln) - self._excess(ln - self.W[ts, n])
        row = -self.Mc[ts, n] - self.open[n] * (count[n] == 1) - self.alpha[n] * gain
        if self.frozen is not None:
            row = np.where(self.frozen[ts], _INF, row)
        return row

    frozen: np.ndarray | None = None
    CYCLE_CELLS = 8 * 100 * 100  # triples scored per cyclic-exchange call at most
    # tabu[t, n]: the first iteration at which task t may move to node n again (see _forbid)
    tabu: np.ndarray | None = None
    it = 0  # the current iteration of search()

    # -- the search --

    def search(
        self,
        genes: np.ndarray,
        rng: np.random.Generator,
        optima: int,
        out: Callable[[], bool] | None = None,
        alpha: np.ndarray | None = None,
        restart: int | None = None,
    ) -> tuple[np.ndarray | None, float]:
        """Search from ``genes`` for ``optima`` local optima (or until ``out()``); returns the
        best feasible plan seen as genes (None if none was) and its cost. Uses and adapts
        ``alpha`` (default: the search's own weights, kept for the next call)."""
        T, N = self.T, self.N
        ar = self.ar
        al = self.alpha if alpha is None else alpha
        restart = self.RESTART if restart is None else restart
        x = self.to_search(genes)
        # a gang member out of the plan stays out (its gang is all or none)
        frozen = self.gang & (x == N)
        self.frozen = frozen if frozen.any() else None
        load = self.loads(x)
        count = np.bincount(x, minlength=N + 1)
        self.alpha, saved = al, self.alpha
        best_x: np.ndarray | None = None
        best = _INF
        if not self._over(load).any() and self.cost(x) < self.big:
            best, best_x = self.cost(x), x.copy()
        allN = np.arange(N + 1)
        col = self._col(load, count, allN)
        row = self._row(x, load, count, ar)
        lo = since = it = 0
        self.tabu = np.zeros((T, N + 1), dtype=np.int64) if self.TENURE else None
        ep_best, ep_x = _INF, None  # the best feasible plan since the last return (not best)
        try:
            while lo < optima:
                it += 1
                if it % 16 == 0 and out is not None and out():
                    break
                d = col + row[:, None]
                d[ar, x] = _INF
                self.it = it
                if self.tabu is not None:
                    d[self.tabu > it] = _INF
                to = d.argmin(axis=1)
                gain = d[ar, to]
                movers = np.flatnonzero(gain < -_EPS)
                changed: tuple[int, ...] | None = None
                if len(movers):
                    changed = self._shifts(movers[np.argsort(gain[movers])], to, x, load, count)
                else:
                    changed = self._pair_move(x, load, count, col, rng)
                if changed is not None:
                    ch = np.asarray(changed, dtype=np.int64)
                    col[:, ch] = self._col(load, count, ch)
                    on = np.flatnonzero(np.isin(x, ch))
                    row[on] = self._row(x, load, count, on)
                    if not self._over(load).any():
                        c = self.cost(x)
                        if c < best - _EPS and c < self.big:
                            best, best_x, since = c, x.copy(), 0
                        elif c < ep_best - _EPS and c < self.big:
                            ep_best, ep_x = c, x.copy()
                    continue
                # a local optimum of the penalised cost: adapt the weights
                lo += 1
                since += 1
                over = self._over(load)
                if over.any():
                    idx = np.flatnonzero(over)
                    al[idx] *= 1.0 + 0.3 * rng.random(len(idx))
                else:
                    al[:N] *= 0.9
                np.clip(al[:N], 1e-6 * self.alpha0, 1e6 * self.alpha0, out=al[:N])
                if best_x is not None and since % restart == 0:
                    if ep_x is not None:
                        self._offer(ep_best, ep_x)
                    ep_best, ep_x = _INF, None
                    x[:] = best_x
                    load = self.loads(x)
                    count = np.bincount(x, minlength=N + 1)
                    if not (rng.random() < self.RELINK and self._relink(x, load, count, rng)):
                        self._kick(x, rng)
                        load = self.loads(x)
                        count = np.bincount(x, minlength=N + 1)
                col = self._col(load, count, allN)
                row = self._row(x, load, count, ar)
        finally:
            self.iterations += it
            self.work += 0.26 * it * T * (N + 1)
            self.alpha = saved if alpha is not None else al
            self.frozen = self.tabu = None
        if best_x is not None:
            self._offer(best, best_x)
        return (None if best_x is None else self.to_genes(best_x)), best

    def _shifts(
        self,
        movers: np.ndarray,
        to: np.ndarray,
        x: np.ndarray,
        load: np.ndarray,
        count: np.ndarray,
    ) -> tuple[int, ...]:
        """Apply the best shift of each task in ``movers`` (best first) while it still
        improves: a shift whose two nodes an earlier one changed is scored again. Several
        moves per scoring of the matrix make long descents (from a random plan) fast."""
        W, M, opn, al = self.W, self.M, self.open, self.alpha
        touched: set[int] = set()
        for t in movers[: self.BATCH].tolist():
            a, n = int(x[t]), int(to[t])
            if a in touched or n in touched:
                la, ln = load[a], load[n]
                delta = (
                    M[t, n]
                    - self.Mc[t, a]
                    + opn[n] * (count[n] == 0)
                    - opn[a] * (count[a] == 1)
                    + al[n] * float(np.sum(self._excess(ln + W[t, n]) - self._excess(ln)))
                    - al[a] * float(np.sum(self._excess(la) - self._excess(la - W[t, a])))
                )
                if not delta < -_EPS:
                    continue
            load[a] -= W[t, a]
            load[n] += W[t, n]
            count[a] -= 1
            count[n] += 1
            x[t] = n
            self._forbid(t, a)
            touched.add(a)
            touched.add(n)
        return tuple(touched)

    def _forbid(self, t: int, n: int) -> None:
        """Task ``t`` has just left node ``n``: no shift takes it back for ``TENURE``
        iterations (a short tabu list: the weights' changes do not simply undo moves)."""
        if self.tabu is not None:
            self.tabu[t, n] = self.it + self.TENURE

    def _offer(self, cost: float, x: np.ndarray) -> None:
        """Keep ``x`` (feasible, of ``cost``) in the elite if it is new and good enough."""
        el = self.elite
        if len(el) >= self.ELITE and cost >= el[-1][0] - _EPS:
            return
        if any(abs(c - cost) <= _EPS and np.array_equal(y, x) for c, y in el):
            return
        el.append((cost, x.copy()))
        el.sort(key=lambda e: e[0])
        del el[self.ELITE :]

    def _relink(
        self, x: np.ndarray, load: np.ndarray, count: np.ndarray, rng: np.random.Generator
    ) -> bool:
        """Path relinking (in place): from ``x`` (the best plan) towards an elite plan drawn at
        random, each step moving the task whose move to its node in that plan costs least
        (penalised), for a random number of steps between a quarter and three quarters of the
        way; the search goes on from there. False (nothing done) without another elite plan."""
        guides = [y for _, y in self.elite if not np.array_equal(y, x)]
        if not guides:
            return False
        g = guides[int(rng.integers(len(guides)))]
        ar = self.ar
        ok = (x != g) & self.dest[ar, g]
        if self.frozen is not None:
            ok &= ~self.frozen
        D = np.flatnonzero(ok)
        if len(D) < 2:
            return False
        steps = int(rng.integers(max(1, len(D) // 4), max(1, (3 * len(D)) // 4) + 1))
        col = self._col(load, count, np.arange(self.N + 1))
        row = self._row(x, load, count, ar)
        W = self.W
        for _ in range(steps):
            i = int(np.argmin(col[D, g[D]] + row[D]))
            t = int(D[i])
            a, n = int(x[t]), int(g[t])
            load[a] -= W[t, a]
            load[n] += W[t, n]
            count[a] -= 1
            count[n] += 1
            x[t] = n
            D = np.delete(D, i)
            ch = np.array([a, n])
            col[:, ch] = self._col(load, count, ch)
            on = np.flatnonzero((x == a) | (x == n))
            row[on] = self._row(x, load, count, on)
        self.work += 0.26 * steps * self.T * (self.N + 1)
        return True

    def _kick(self, x: np.ndarray, rng: np.random.Generator) -> None:
        for _ in range(self.KICK):
            t = int(rng.integers(self.T))
            if self.frozen is not None and self.frozen[t]:
                continue
            opts = np.flatnonzero(self.dest[t])
            if len(opts) > 1:
                x[t] = int(opts[int(rng.integers(len(opts)))])

    def _pair_move(
        self,
        x: np.ndarray,
        load: np.ndarray,
        count: np.ndarray,
        col: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[int, ...] | None:
        """The best improving swap or ejection with a first task from a random sample;
        applied in place; the nodes whose load changed, or None."""
        M, W, T, N, al = self.M, self.W, self.T, self.N, self.alpha
        ar = self.ar
        s1 = ar if T <= self.SAMPLE else rng.integers(0, T, size=self.SAMPLE)
        self.work += 1.6 * len(s1) * T
        if self.frozen is not None:
            s1 = s1[~self.frozen[s1]]
            if not len(s1):
                return None
        a = x[s1]
        ex = self._excess(load)
        wx = W[ar, x]  # (T,) or (T, R)
        cur = self.Mc[ar, x]
        # node b = x[t2] after t2 leaves and t1 arrives (swap and ejection alike)
        lb = (load[x] - wx)[None] + W[s1][:, x]
        pen_b = al[x][None, :] * (self._excess(lb) - ex[x][None, :])
        t1_to_b = M[s1][:, x] - cur[s1][:, None]
        other = a[:, None] != x[None, :]
        ok1 = self.dest[s1][:, x] & other
        # swap: t2 goes to a
        la = (load[a] - wx[s1])[:, None] + np.swapaxes(W[:, a], 0, 1)
        pen_a = al[a][:, None] * (self._excess(la) - ex[a][:, None])
        ds = t1_to_b + self.Mc[:, a].T - cur[None, :] + pen_a + pen_b
        ok = ok1 & self.dest[:, a].T
        if self.frozen is not None:
            ok &= ~self.frozen[None, :]
        ds = np.where(ok, ds, _INF)
        j = ds.argmin(axis=1)
        v = ds[np.arange(len(s1)), j]
        rows = np.flatnonzero(v < -_EPS)
        if len(rows):
            # the best swap of each first task, best first, while their nodes are untouched
            # (a swap's score depends only on its two nodes' loads: still exact then)
            touched: set[int] = set()
            moved: set[int] = set()
            for i in rows[np.argsort(v[rows])].tolist():
                t1, t2 = int(s1[i]), int(j[i])
                na, nb = int(x[t1]), int(x[t2])
                if na in touched or nb in touched or t1 in moved or t2 in moved:
                    continue
                load[na] += W[t2, na] - W[t1, na]
                load[nb] += W[t1, nb] - W[t2, nb]
                x[t1], x[t2] = nb, na
                self._forbid(t1, na)
                self._forbid(t2, nb)
                touched.update((na, nb))
                moved.update((t1, t2))
            return tuple(touched)
        # ejection: t2 goes to its best third node c (not a, not b)
        if N + 1 <= 2:
            return None
        e2 = col - cur[:, None]
        e2[ar, x] = _INF
        # the best and second-best third node of every task (two argmins: at 1,600 x 80 five
        # times faster than one argpartition)
        first = e2.argmin(axis=1)
        m1 = e2[ar, first]
        e2[ar, first] = _INF
        second = e2.argmin(axis=1)
        m2 = e2[ar, second]
        use2 = first[None, :] == a[:, None]
        e2best = np.where(use2, m2[None, :], m1[None, :])
        src = self._excess(load[a] - wx[s1]) - ex[a]
        leave = -self.open[a] * (count[a] == 1) + al[a] * src
        de = t1_to_b + leave[:, None] + pen_b + e2best
        if self.frozen is not None:
            ok1 = ok1 & ~self.frozen[None, :]
        de = np.where(ok1, de, _INF)
        j = de.argmin(axis=1)
        v = de[np.arange(len(s1)), j]
        rows = np.flatnonzero(v < -_EPS)
        if not len(rows):
            if self.CYCLE and N >= 3 and (self.elite or not self.CYCLE_GATE):
                return self._cycle(x, load, s1, t1_to_b + pen_b, ok1, rng)
            return None
        touched = set()
        moved = set()
        for i in rows[np.argsort(v[rows])].tolist():
            t1, t2 = int(s1[i]), int(j[i])
            na, nb = int(x[t1]), int(x[t2])
            nc = int(second[t2] if use2[i, t2] else first[t2])
            if touched & {na, nb, nc} or t1 in moved or t2 in moved:
                continue
            load[na] -= W[t1, na]
            load[nb] += W[t1, nb] - W[t2, nb]
            load[nc] += W[t2, nc]
            count[na] -= 1
            count[nc] += 1
            x[t1], x[t2] = nb, nc
            self._forbid(t1, na)
            self._forbid(t2, nb)
            touched.update((na, nb, nc))
            moved.update((t1, t2))
        return tuple(touched)

    def _cycle(
        self,
        x: np.ndarray,
        load: np.ndarray,
        s1: np.ndarray,
        into_b: np.ndarray,
        ok1: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[int, ...] | None:
        """The best improving cyclic exchange of three tasks on three nodes (``t1`` from a to
        b, ``t2`` from b to c, ``t3`` from c to a; every node's task count unchanged), with
        ``t1`` from the sample ``s1`` and ``t2`` among the ``CYCLE`` best for it by the
        a-b part (``into_b``: t1's move to x[t2] with t2 gone, penalised). Where every pair
        of nodes is already optimal, only moves over three nodes improve. Applied in place;
        the nodes whose load changed, or None."""
        M, W, al, ar = self.M, self.W, self.alpha, self.ar
        cur = self.Mc[ar, x]
        k = min(self.CYCLE, self.T)
        # at most CYCLE_CELLS triples per call (every first task of the sample up to 100
        # tasks, a random part of it above): the cycle's share of the time does not grow
        # with the size
        keep = max(1, self.CYCLE_CELLS // (k * self.T))
        if keep < len(s1):
            pick = rng.choice(len(s1), size=keep, replace=False)
            s1, into_b, ok1 = s1[pick], into_b[pick], ok1[pick]
        part = np.where(ok1, into_b - cur[None, :], _INF)  # (S, T): t1 in b, t2 out of b
        if self.frozen is not None:
            part = np.where(self.frozen[None, :], _INF, part)
        t2s = (
            np.argpartition(part, k - 1, axis=1)[:, :k] if k < self.T else np.tile(ar, (len(s1), 1))
        )
        p12 = np.take_along_axis(part, t2s, axis=1)  # (S, K)
        a = x[s1]  # (S,)
        b = x[t2s]  # (S, K)
        c = x  # (T,): t3's node
        ex = self._excess(load)
        # t2 into c (t3 gone from c), t3 into a (t1 gone from a)
        lc = (load[c] - W[ar, c])[None, None] + W[t2s][:, :, c]  # (S, K, T[, R])
        pen_c = al[c][None, None, :] * (self._excess(lc) - ex[c][None, None, :])
        la = (load[a] - W[s1, a])[:, None] + np.swapaxes(W[:, a], 0, 1)  # (S, T[, R])
        pen_a = al[a][:, None] * (self._excess(la) - ex[a][:, None])  # (S, T)
        into_a = M[:, a].T - cur[None, :]  # t3 to a: (S, T)
        t2_to_c = M[t2s][:, :, c]  # (S, K, T)
        score = p12[:, :, None] + t2_to_c + pen_c + (into_a + pen_a)[:, None, :]
        ok = (c[None, None, :] != a[:, None, None]) & (c[None, None, :] != b[:, :, None])
        ok &= self.dest[:, a].T[:, None, :] & self.dest[t2s][:, :, c]
        if self.frozen is not None:
            ok &= ~self.frozen[None, None, :]
        score = np.where(ok, score, _INF)
        self.work += 1.5 * score.size
        flat = score.reshape(len(s1), -1)
        best = flat.argmin(axis=1)
        v = flat[np.arange(len(s1)), best]
        rows = np.flatnonzero(v < -_EPS)
        if not len(rows):
            return None
        touched: set[int] = set()
        moved: set[int] = set()
        for i in rows[np.argsort(v[rows])].tolist():
            q, t3 = divmod(int(best[i]), self.T)
            t1, t2 = int(s1[i]), int(t2s[i, q])
            na, nb, nc = int(x[t1]), int(x[t2]), int(x[t3])
            if touched & {na, nb, nc} or moved & {t1, t2, t3}:
                continue
            load[na] += W[t3, na] - W[t1, na]
            load[nb] += W[t1, nb] - W[t2, nb]
            load[nc] += W[t2, nc] - W[t3, nc]
            x[t1], x[t2], x[t3] = nb, nc, na
            self._forbid(t1, na)
            self._forbid(t2, nb)
            self._forbid(t3, nc)
            touched.update((na, nb, nc))
            moved.update((t1, t2, t3))
        return tuple(touched)


def construct(
    s: AssignSearch,
    steps: int = 200,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
) -> np.ndarray:
    """Genes of a Lagrangian-guided start (see the module docstring): every task on its node of
    least ``M + u . W`` for capacity multipliers ``u`` from ``steps`` subgradient steps (done
    once per search and kept). With ``noise`` > 0, every price is scaled by a log-normal
    factor of that sigma first: another start from the same region."""
    M, W = s.M, s.W if not s.R1 else s.W[:, :, None]
    u = s.prices if s.prices is not None else _prices(s, M, W, steps)
    s.prices = u
    if noise > 0 and rng is not None:
        u = u * np.exp(rng.normal(0.0, noise, u.shape))
    red = M + (W * u[None, :, :]).sum(axis=2)
    return s.to_genes(red.argmin(axis=1))


def make_feasible(
    s: AssignSearch, genes: np.ndarray, rounds: int | None = None
) -> np.ndarray | None:
    """A feasible plan near ``genes`` (a copy), or None where this repair gets stuck: while a
    node is over a capacity, every task on an overloaded node is scored for its moves to the
    nodes where it fits as they are (or out of the plan, when it is optional), by the cost
    the move adds per unit of overload it removes (in units of capacity, summed over the
    resources); the best moves go first, one per pair of untouched nodes in each round (so
    each is scored exactly), for at most ``rounds`` rounds (default: the number of tasks).

    Cheap and independent of the instance's family: each round scores only the tasks on
    overloaded nodes (about T / N each) against every node, and each round empties most of
    the overload. It turns the Lagrangian construction, cheap but over capacity on tight
    problems (at 80 x 1,600 about half the nodes are), into a plan the GA can return at once:
    the penalty search needs hundreds of iterations for its first feasible plan there
    (about a CPU second), which a starved run may not have."""
    N = s.N
    x = s.to_search(genes)
    load = s.loads(x)
    count = np.bincount(x, minlength=N + 1)
    W = s.W if not s.R1 else s.W[:, :, None]
    L = load if not s.R1 else load[:, None]  # a view: updates of L update load
    movable = np.ones(s.T, dtype=bool)
    movable[s.gang & (x == N)] = False  # a gang member out of the plan stays out
    for _ in range(s.T if rounds is None else rounds):
        over = np.zeros(N + 1, dtype=bool)
        over[:N] = s._over(load)
        if not over.any():
            return s.to_genes(x) if s.cost(x) < s.big else None
        ts = np.flatnonzero(over[x] & movable)
        if not len(ts):
            return None
        a = x[ts]
        la = L[a]  # (k, R)
        wa = W[ts, a]  # (k, R)
        relief = (np.maximum(la - 1.0, 0.0) - np.maximum(la - wa - 1.0, 0.0)).sum(axis=1)
        # the overload each move removes: its source's less what it adds at its destination
        ln = L[None, :, :] + W[ts]  # (k, N + 1, R)
        gain = relief[:, None] - (
            np.maximum(ln - 1.0, 0.0) - np.maximum(L - 1.0, 0.0)[None, :, :]
        ).sum(axis=2)
        fits = s.dest[ts] & (gain > _EPS)
        fits[np.arange(len(ts)), a] = False
        # moves to where the task fits as things are first; where there is none, moves
        # that only pass some of the overload on (to nodes with less of it)
        room = fits & (gain >= relief[:, None] - _EPS)
        if room.any():
            fits = room
        add = (
            s.M[ts]
            + (s.open * (count == 0))[None, :]
            - (s.Mc[ts, a] + s.open[a] * (count[a] == 1))[:, None]
        )
        score = np.where(fits, add / np.where(fits, gain, 1.0), _INF)
        s.work += 2.0 * score.size * s.R
        to = score.argmin(axis=1)
        best = score[np.arange(len(ts)), to]
        ok = np.flatnonzero(np.isfinite(best))
        if not len(ok):
            # no shift removes overload: the best swap of such a task with one elsewhere
            if not _repair_swap(s, x, L, W, ts, movable):
                return None
            continue
        touched: set[int] = set()
        for i in ok[np.argsort(best[ok], kind="stable")].tolist():
            t, n, src = int(ts[i]), int(to[i]), int(a[i])
            if src in touched or n in touched:
                continue
            L[src] -= W[t, src]
            L[n] += W[t, n]
            count[src] -= 1
            count[n] += 1
            x[t] = n
            touched.update((src, n))
    return s.to_genes(x) if not s._over(load).any() and s.cost(x) < s.big else None


def _repair_swap(
    s: AssignSearch,
    x: np.ndarray,
    L: np.ndarray,
    W: np.ndarray,
    ts: np.ndarray,
    movable: np.ndarray,
) -> bool:
    """:func:`make_feasible` where no shift removes overload: apply the swap of a task of
    ``ts`` (on overloaded nodes) with a placed task on another node that removes the most
    overload per unit of cost added (in place: ``x`` and the loads ``L``, (N + 1, R));
    False when no swap removes any."""
    N = s.N
    us = np.flatnonzero((x < N) & movable)
    a, b = x[ts], x[us]
    ex = np.maximum(L - 1.0, 0.0).sum(axis=1)
    # node a after t leaves and u arrives; node b after u leaves and t arrives: (k, U, R)
    la = (L[a] - W[ts, a])[:, None, :] + np.swapaxes(W[us][:, a], 0, 1)
    lb = (L[b] - W[us, b])[None, :, :] + W[ts][:, b]
    gain = (ex[a][:, None] + ex[b][None, :]) - (
        np.maximum(la - 1.0, 0.0).sum(axis=2) + np.maximum(lb - 1.0, 0.0).sum(axis=2)
    )
    ok = (a[:, None] != b[None, :]) & s.dest[ts][:, b] & s.dest[us][:, a].T & (gain > _EPS)
    if not ok.any():
        return False
    add = s.M[ts][:, b] + s.M[us][:, a].T - s.Mc[ts, a][:, None] - s.Mc[us, b][None, :]
    score = np.where(ok, add / np.where(ok, gain, 1.0), _INF)
    s.work += 3.0 * score.size * s.R
    i, j = np.unravel_index(int(score.argmin()), score.shape)
    t, u, na, nb = int(ts[i]), int(us[j]), int(a[i]), int(b[j])
    L[na] += W[u, na] - W[t, na]
    L[nb] += W[t, nb] - W[u, nb]
    x[t], x[u] = nb, na
    return True


def _prices(s: AssignSearch, M: np.ndarray, W: np.ndarray, steps: int) -> np.ndarray:
    N = s.N
    ar = s.ar
    u = np.zeros((N + 1, s.R))
    best_u, best, factor, stall = u.copy(), -_INF, 2.0, 0
    for _ in range(steps):
        red = M + (W * u[None, :, :]).sum(axis=2)
        x = red.argmin(axis=1)
        value = float(red[ar, x].sum() - u[:N].sum())
        if value > best + _EPS:
            best, best_u, stall = value, u.copy(), 0
        else:
            stall += 1
            if stall >= 10:
                factor /= 2
                stall = 0
        g = s.loads(x).reshape(N + 1, -1) - 1.0
        g[N] = 0.0
        norm = float((g * g).sum())
        if norm == 0.0 or factor < 1e-4:
            break
        # Polyak's step towards a target a little above the best bound so far
        target = best + 0.05 * abs(best) + 1.0
        u = np.maximum(0.0, u + factor * (target - value) / norm * g)
    return best_u
