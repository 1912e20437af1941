"""Lagrangian relaxation for assignment-shaped placement problems (the generalized assignment
problem and its kin): a bound stronger than the LP's, and exact pair elimination. Used by
CP-SAT's large-scale search (:mod:`.cpsat.lns`) and the MILP's polishing (:mod:`.mip.polish`).

Applies (:func:`applies`) when the problem is, in the flat view, a GAP: one resource, every task
must be placed, one replica each, no node cost, and ``cost`` is the only term that can change
(``[cost]``, ``[unplaced, cost]``). Gangs and separation may be present: the relaxation ignores
them, which keeps the bound valid.

Relaxing "each task on exactly one node" with multipliers ``lambda`` leaves one 0-1 knapsack per
node::

    L(lambda) = sum_t lambda_t - sum_n max { sum_t (lambda_t - c[n,t]) x[n,t] :
                                             sum_t w[n,t] x[n,t] <= b[n], x 0-1, candidates }

``L(lambda)`` is a lower bound of the optimal cost for every ``lambda``; because the knapsacks
lack the integrality property, its maximum is at least the LP bound (on the hard Chu-Beasley
type d instances it closes most of the LP's gap). The knapsacks are solved exactly by dynamic
programming over the scaled integer capacity; ``lambda`` starts from the LP duals of the
assignment rows (GLOP) and follows subgradient steps (Polyak's rule towards the incumbent cost,
the step factor halved after 15 steps without a better bound).

*Pair elimination* ("variable fixing"). With the best multipliers and an incumbent of cost UB
(scaled integers), forcing a pair (n, t) against the relaxed solution ``X`` changes only node
n's knapsack; if the bound so forced exceeds ``UB - 1``, no plan cheaper than the incumbent uses
the opposite value: a pair with ``X = 0`` is removed, a pair with ``X = 1`` is the only one left
for its task. Forced knapsack values come from prefix and suffix DP tables, O(items x capacity)
per node. The plans that the LNS may still improve to use only the pairs that remain, so a
CP-SAT model over them that is proved optimal proves the incumbent (or its solution) optimal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .flat import Flat

MAX_CAPACITY = 200_000  # scaled capacity above which the DP is not attempted
MAX_CELLS = 50_000_000  # candidate pairs x capacity, for the DP tables
MAX_DENSE = 2_000_000  # nodes x tasks: the cost and demand tables are dense
PATIENCE = 15  # subgradient steps without a better bound before the step factor is halved


def applies(flat: Flat, order: Sequence[str]) -> bool:
    if flat.R != 1 or flat.T == 0 or flat.N == 0 or flat.T * flat.N > MAX_DENSE:
        return False
    if not bool(flat.must.all()) or bool((flat.replicas != 1).any()) or flat.any_node_cost:
        return False
    if any(t not in ("unplaced", "cost") for t in order) or "cost" not in order:
        return False
    if any(t.current is not None for t in flat.problem.tasks):
        return False
    cap = int(flat.cap[:, 0].max())
    pairs = sum(int(np.count_nonzero(flat.cand_mask(t))) for t in range(flat.T))
    return 0 < cap <= MAX_CAPACITY and pairs * cap <= MAX_CELLS


def _table(v: np.ndarray, w: np.ndarray, cap: int) -> np.ndarray:
    """F[k, c]: the best value of the first k items within capacity c (0-1 knapsack)."""
    F = np.zeros((len(v) + 1, cap + 1))
    row = F[0]
    for k in range(len(v)):
        nxt = row.copy()
        wk = int(w[k])
        if wk <= cap:
            if wk == 0:
                nxt += max(0.0, float(v[k]))
            else:
                np.maximum(nxt[wk:], row[:-wk] + v[k], out=nxt[wk:])
        F[k + 1] = nxt
        row = nxt
    return F


class Lagrangian:
    """The relaxation of one problem (see the module docstring); costs in scaled integers."""

    def __init__(self, flat: Flat) -> None:
        f = flat
        self.f = f
        self.cand = np.zeros((f.N, f.T), dtype=bool)
        self.c = np.zeros((f.N, f.T))
        self.w = np.zeros((f.N, f.T), dtype=np.int64)
        for t in range(f.T):
            self.cand[:, t] = f.cand_mask(t)
            for n, q in f.acost[t].items():
                self.c[n, t] = q
            self.w[:, t] = f.dem[t, 0]
            for n, vec in f.dem_on.get(t, {}).items():
                self.w[n, t] = vec[0]
        self.b = f.cap[:, 0].astype(np.int64)
        self.lam = self._start()
        self.best = -np.inf
        self.best_lam = self.lam.copy()
        self.factor = 2.0
        self.stall = 0
        self.iterations = 0
        self.seconds = 0.0

    def _start(self) -> np.ndarray:
        """LP duals of the assignment rows, or the cheapest costs when GLOP fails."""
        f = self.f
        fallback = np.where(self.cand, self.c, np.inf).min(axis=0)
        fallback[~np.isfinite(fallback)] = 0.0
        try:
            from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover
            return fallback
        s = pywraplp.Solver.CreateSolver("GLOP")
        if s is None:  # pragma: no cover
            return fallback
        x = {}
        rows = []
        caps = [s.Constraint(-s.infinity(), float(self.b[n])) for n in range(f.N)]
        obj = s.Objective()
        for t in range(f.T):
            row = s.Constraint(1.0, 1.0)
            rows.append(row)
            for n in np.flatnonzero(self.cand[:, t]).tolist():
                v = s.NumVar(0.0, s.infinity(), "")
                x[n, t] = v
                row.SetCoefficient(v, 1.0)
                caps[n].SetCoefficient(v, float(self.w[n, t]))
                obj.SetCoefficient(v, float(self.c[n, t]))
        obj.SetMinimization()
        if s.Solve() != pywraplp.Solver.OPTIMAL:
            return fallback
        return np.array([r.dual_value() for r in rows])

    def evaluate(self, lam: np.ndarray) -> tuple[float, np.ndarray]:
        """L(lam) and the relaxed solution X (nodes x tasks)."""
        X = np.zeros((self.f.N, self.f.T), dtype=bool)
        total = float(lam.sum())
        for n in range(self.f.N):
            v = lam - self.c[n]
            idx = np.flatnonzero(self.cand[n] & (v > 1e-12))
            if len(idx) == 0:
                continue
            cap = int(self.b[n])
            F = _table(v[idx], self.w[n, idx], cap)
            total -= float(F[-1, cap])
            c = cap
            for k in range(len(idx) - 1, -1, -1):
                if F[k + 1, c] != F[k, c]:
                    X[n, idx[k]] = True
                    c -= int(self.w[n, idx[k]])
        return total, X

    def improve(self, ub: float, seconds: float | None, steps: int | None = None) -> float:
        """Subgradient steps for about ``seconds`` (or exactly ``steps``); the best bound so
        far (scaled cost)."""
        t0 = time.perf_counter()
        done = 0
        while self.factor > 1e-4:
            if seconds is not None and time.perf_counter() - t0 >= seconds:
                break
            if steps is not None and done >= steps:
                break
            done += 1
            value, X = self.evaluate(self.lam)
            self.iterations += 1
            if value > self.best + 1e-9:
                self.best, self.best_lam, self.stall = value, self.lam.copy(), 0
            else:
                self.stall += 1
                if self.stall >= PATIENCE:
                    self.factor /= 2
                    self.stall = 0
                    self.lam = self.best_lam.copy()
                    continue
            g = 1.0 - X.sum(axis=0)
            norm = float((g * g).sum())
            if norm == 0:  # the relaxed solution is a plan: the bound is optimal
                self.factor = 0.0
                break
            target = max(ub, value + 1.0)
            self.lam = self.lam + self.factor * (target - value) / norm * g
        self.seconds += time.perf_counter() - t0
        return self.best

    def deltas(self) -> tuple[float, np.ndarray, np.ndarray]:
        """(L, X, delta) at the best multipliers: ``delta[n, t]`` is how much the bound rises
        when pair (n, t) is forced against the relaxed solution X (inf: impossible; non-
        candidates: inf)."""
        f = self.f
        lam = self.best_lam
        base, X = self.evaluate(lam)
        delta = np.full((f.N, f.T), np.inf)
        for n in range(f.N):
            v = lam - self.c[n]
            cap = int(self.b[n])
            pos = np.flatnonzero(self.cand[n] & (v > 1e-12))
            F = _table(v[pos], self.w[n, pos], cap)
            best = float(F[-1, cap])
            # suffix tables: B[k] over items k.. of pos
            Brev = _table(v[pos][::-1], self.w[n, pos][::-1], cap)
            P = len(pos)
            for k in range(P):
                t = int(pos[k])
                before, after = F[k], Brev[P - 1 - k]
                if X[n, t]:  # forced out
                    forced = float((before + after[::-1]).max())
                else:  # forced in
                    wk = int(self.w[n, t])
                    if wk > cap:
                        forced = -np.inf
                    else:
                        room = cap - wk
                        forced = float(v[t]) + float((before[: room + 1] + after[room::-1]).max())
                delta[n, t] = best - forced
            # non-positive items, forced in: v + the best of the positive ones in less room
            others = np.flatnonzero(self.cand[n] & ~(v > 1e-12))
            if len(others):
                w = self.w[n, others]
                ok = w <= cap
                forced_in = np.full(len(others), -np.inf)
                forced_in[ok] = v[others[ok]] + F[-1, cap - w[ok]]
                delta[n, others] = best - forced_in
        return base, X, delta

    def keep(self, ub: int) -> np.ndarray:
        """Pairs (nodes x tasks) that a plan cheaper than ``ub`` may use (see the module
        docstring); the others are eliminated."""
        base, X, delta = self.deltas()
        self.last = (base, X, delta)
        limit = ub - 1 + 1e-6  # a forced bound above this rules the pair out
        out = base + delta > limit
        keep = self.cand & ~(out & ~X)
        forced_one = out & X
        # a task whose relaxed node is forced keeps only that node (none, if two are forced:
        # then no cheaper plan exists)
        count = forced_one.sum(axis=0)
        for n, t in zip(*np.nonzero(forced_one), strict=True):
            keep[:, t] = False
            if count[t] == 1:
                keep[n, t] = True
        return keep


def core_pairs(
    X: np.ndarray,
    delta: np.ndarray,
    keep: np.ndarray,
    q: float,
    rng: np.random.Generator,
    noise: float = 0.0,
) -> np.ndarray:
    """A "core" of pairs (nodes x tasks) to search: those of the relaxed solution ``X`` still
    kept, and the ``(q - 1) x tasks`` kept pairs of smallest penalty ``delta`` overall (tasks
    with close alternatives get more of them). With ``noise`` > 0 each penalty is scaled by
    a log-normal factor of that sigma, so that successive cores differ."""
    base = X & keep
    score = np.where(keep & ~base, delta, np.inf).ravel()
    if noise > 0:
        score = score * np.exp(rng.normal(0.0, noise, score.shape))
    extra = int(max(0, (q - 1) * X.shape[1]))
    mask = base.copy().ravel()
    if extra:
        idx = np.argpartition(score, min(extra, len(score) - 1))[:extra]
        idx = idx[np.isfinite(score[idx])]
        mask[idx] = True
    return mask.reshape(base.shape)
