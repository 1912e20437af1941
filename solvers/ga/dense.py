"""Dense (task x node) local search for small assignment-shaped placement problems."""

from __future__ import annotations

import numpy as np

from .compiled import Compiled
from .decode import Rows, State, unplace_unit

_INF = float("inf")


class Dense:
    """Dense (task x node) matrices for a vectorised local search on small placement problems
    with one replica per task, no ``separate_from`` and no ``balance`` in the objective (the
    assignment-problem core, e.g. the GAP): every shift is scored at once, and swaps of two
    tasks between nodes as a (tasks x tasks) matrix."""

    LIMIT = 2_000_000  # task x node x resource entries

    @staticmethod
    def applies(c: Compiled, rows: Rows) -> bool:
        return (
            not c.scheduling
            and c.S > 0
            and len(c.sep_a) == 0
            and bool((c.reps == 1).all())
            and rows.w_balance == 0
            and c.T * c.N * c.R <= Dense.LIMIT
        )

    def __init__(self, c: Compiled, rows: Rows) -> None:
        T, N, R = c.T, c.N, c.R
        self.c = c
        self.A = np.zeros((T, N), dtype=bool)
        for t in range(T):
            self.A[t, c.allowed[t]] = True
        tt = np.repeat(np.arange(T, dtype=np.int64), N)
        nn = np.tile(np.arange(N, dtype=np.int64), T)
        self.D = c.demand(tt, nn).reshape(T, N, R)
        rows.dense_demand = self.D
        rows.dense = self
        moved = (~c.is_current(tt, nn) & c.has_current[tt]).reshape(T, N)
        self.M = rows.w_cost * c.assign_cost(tt, nn).reshape(T, N) + rows.w_moves * moved
        self.open = rows.w_cost * c.node_cost + rows.w_nodes

    def capacity(self, st: State, rng: np.random.Generator) -> None:
        """Capacity repair as :func:`_capacity`, on the dense matrices: replicas leave each
        overloaded node (in random order) for the allowed node with room and the lowest
        marginal cost; optional ones with nowhere to go are left out."""
        c, x, load, count = self.c, st.x, st.load, st.count
        M, D, A, opn, capx = self.M, self.D, self.A, self.open, c.capx
        over = np.flatnonzero((load > capx).any(axis=1))
        for n in rng.permutation(over).tolist():
            slots = np.flatnonzero(x == n)
            for s in rng.permutation(slots).tolist():
                if not (load[n] > capx[n]).any():
                    break
                ok = A[s] & (load + D[s] <= capx).all(axis=1)
                ok[n] = False
                if not ok.any():
                    continue
                score = np.where(ok, M[s] + opn * (count == 0), _INF)
                m = int(score.argmin())
                load[n] -= D[s, n]
                load[m] += D[s, m]
                count[n] -= 1
                count[m] += 1
                x[s] = m
            if (load[n] > capx[n]).any():
                left = [s for s in np.flatnonzero(x == n).tolist() if not c.must[s]]
                left.sort(key=lambda s: c.prio[s])
                for s in left:
                    if not (load[n] > capx[n]).any():
                        break
                    if x[s] == n:
                        unplace_unit(st, s)

    def improve(self, st: State, swaps: bool, rounds: int = 4) -> int:
        """Best-improvement shift rounds, then (``swaps``) up to 50 best swaps; in place."""
        c, x, load, count = self.c, st.x, st.load, st.count
        M, D, A, opn = self.M, self.D, self.A, self.open
        capx = c.capx
        done = 0
        for _ in range(rounds):
            idx = np.flatnonzero(x >= 0)
            if not len(idx):
                break
            xi = x[idx]
            ar = np.arange(len(idx))
            cur = M[idx, xi] + opn[xi] * (count[xi] == 1)
            cand = M[idx] + (opn * (count == 0))[None, :]
            fits = A[idx] & (load[None, :, :] + D[idx] <= capx[None]).all(axis=2)
            fits[ar, xi] = False
            delta = np.where(fits, cand - cur[:, None], _INF)
            j = delta.argmin(axis=1)
            best = delta[ar, j]
            good = np.flatnonzero(best < -1e-9)
            if not len(good):
                break
            moved = 0
            for k in good[np.argsort(best[good], kind="stable")].tolist():
                s, n_old, n_new = int(idx[k]), int(xi[k]), int(j[k])
                if x[s] != n_old or (load[n_new] + D[s, n_new] > capx[n_new]).any():
                    continue
                d = M[s, n_new] + opn[n_new] * (count[n_new] == 0)
                d -= M[s, n_old] + opn[n_old] * (count[n_old] == 1)
                if d >= -1e-9:
                    continue
                load[n_old] -= D[s, n_old]
                load[n_new] += D[s, n_new]
                count[n_old] -= 1
                count[n_new] += 1
                x[s] = n_new
                moved += 1
            done += moved
            if not moved:
                break
        if not swaps:
            return done
        idx = np.flatnonzero(x >= 0)
        if len(idx) < 2 or len(idx) ** 2 * c.R > 4_000_000:
            return done
        for _ in range(50):
            xi = x[idx]
            cur = M[idx, xi]
            cross = M[idx][:, xi]  # [a, b]: a on b's node
            delta = cross + cross.T - cur[:, None] - cur[None, :]
            dab = D[idx][:, xi, :]  # [a, b]: demand of a on b's node
            dcur = D[idx, xi]
            # node of a after a leaves and b arrives
            ok_a = (
                load[xi][:, None, :] - dcur[:, None, :] + dab.transpose(1, 0, 2)
                <= capx[xi][:, None, :]
            ).all(axis=2)
            al = A[idx][:, xi]
            ok = ok_a & ok_a.T & al & al.T & (xi[:, None] != xi[None, :])
            delta = np.where(ok, delta, _INF)
            f = int(delta.argmin())
            a, b = divmod(f, len(idx))
            if delta[a, b] >= -1e-9:
                break
            sa, sb = int(idx[a]), int(idx[b])
            na, nb = int(xi[a]), int(xi[b])
            load[na] += D[sb, na] - D[sa, na]
            load[nb] += D[sa, nb] - D[sb, nb]
            x[sa], x[sb] = nb, na
            done += 1
        return done
