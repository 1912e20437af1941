"""Integer counts from the device-pattern LP: how many tasks of each kind, and devices of each
pattern, go on each node type (the LP's rows with integer variables, on the patterns the column
generation produced), solved by CP-SAT from the rounded-down LP solution."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fleet import Fleet
from ..native import cp_solver
from .bound import DeviceBound
from .kinds import Kinds
from .scale import int_scale

__all__ = ["Master", "solve_master"]

#: counts that fill more than this share of a node type's CPU (or other resource) are penalised:
#: they are hard to split into nodes. Filling a type from SOFT_FILL to all of it costs as much
#: as leaving out tasks of priority 1 (1 GPU on openb), so slack is kept where it is cheap.
SOFT_FILL = 0.95
PER_MILLE = 1000
CPU_FILL = 0.90


@dataclass
class Master:
    X: np.ndarray  # int64 [K, T]
    patterns: list[list[tuple[np.ndarray, int]]]  # per type: (count per size, devices)
    value: float
    seconds: float
    status: str


def solve_master(
    fleet: Fleet,
    kinds: Kinds,
    lp: DeviceBound,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int = 1,
    fill: np.ndarray | None = None,
) -> Master:
    """``fill[t, 0]`` caps the CPU of type ``t`` the counts may use (a fraction of its total),
    ``fill[t, 1 + r]`` each other resource; default 1 (all of it)."""
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    K, T = kinds.n, fleet.n_types
    count = fleet.type_count.astype(np.int64)
    R = fleet.type_rest.shape[1]
    vscale, vals = int_scale(kinds.value, up=False)
    rest_scale = [
        int_scale(np.r_[kinds.rest[:, r], fleet.type_rest[:, r]], up=True)[0] for r in range(R)
    ]
    if fill is None:
        fill = np.ones((T, 1 + R))
    sizes = lp.sizes
    over: list[tuple[Any, int, int]] = []  # (usage expression, soft cap, cap) per type, resource

    m = cp_model.CpModel()
    X: dict[tuple[int, int], cp_model.IntVar] = {}
    for k in range(K):
        for tt in np.flatnonzero(kinds.fits[k]):
            X[(k, int(tt))] = m.new_int_var(0, int(kinds.count[k]), "")
    Z: list[list[tuple[np.ndarray, cp_model.IntVar, float]]] = []
    for t in range(T):
        cap = int(fleet.type_ndev[t] * count[t])
        Z.append([(c, m.new_int_var(0, cap, ""), z) for c, z in lp.patterns[t]])
    for k in range(K):
        vs = [X[(k, t)] for t in range(T) if (k, t) in X]
        if vs:
            m.add(sum(vs) <= int(kinds.count[k]))
    for t in range(T):
        ks = [k for k in range(K) if (k, t) in X]
        if not ks:
            continue
        devices = [kinds.ngpu[k] * X[(k, t)] for k in ks if kinds.whole[k]]
        devices += [z for _, z, _ in Z[t]]
        m.add(sum(devices) <= int(fleet.type_ndev[t] * count[t]))
        for i, s in enumerate(sizes):
            used = [X[(k, t)] for k in ks if kinds.share[k] and kinds.milli[k] == s]
            if used:
                slots = [int(c[i]) * z for c, z, _ in Z[t] if c[i]]
                m.add(sum(used) <= sum(slots))
        cpu_cap = math.floor(fill[t, 0] * int(fleet.type_cpu[t]) * int(count[t]))
        cpu_used = sum(int(kinds.cpu[k]) * X[(k, t)] for k in ks)
        m.add(cpu_used <= cpu_cap)
        over.append((cpu_used, math.floor(SOFT_FILL * cpu_cap), cpu_cap))
        for r in range(R):
            f = rest_scale[r]
            cap = math.floor(fill[t, 1 + r] * fleet.type_rest[t, r] * f * int(count[t]) + 1e-9)
            used = sum(math.ceil(kinds.rest[k, r] * f - 1e-9) * X[(k, t)] for k in ks)
            m.add(used <= cap)
            over.append((used, math.floor(SOFT_FILL * cap), cap))
        bigs = [
            kinds.whole & (kinds.ngpu * 2 > fleet.type_ndev[t]),
            kinds.cpu * 2 > fleet.type_cpu[t],
        ]
        bigs += [kinds.rest[:, r] * 2 > fleet.type_rest[t, r] for r in range(R)]
        for b in bigs:
            sel = [X[(k, t)] for k in ks if b[k]]
            if sel:
                m.add(sum(sel) <= int(count[t]))
    excess = []  # per (type, resource): thousandths of the way from SOFT_FILL to the cap
    for used, soft, cap in over:
        if cap <= 0:
            continue
        e = m.new_int_var(0, PER_MILLE, "")
        m.add(e * max(cap - soft, 1) >= (used - soft) * PER_MILLE)
        excess.append(e)
    m.maximize(PER_MILLE * sum(int(vals[k]) * v for (k, _t), v in X.items()) - vscale * sum(excess))
    # hint: the LP solution rounded down (feasible: every row is a <= with >= 0 coefficients,
    # except the share rows, where rounding the patterns down may leave too few slots)
    for (k, t1), v in X.items():
        m.add_hint(v, math.floor(lp.x[k, t1] + 1e-6))
    for t in range(T):
        for _, z, zv in Z[t]:
            m.add_hint(z, math.floor(zv + 1e-6))
    solver = cp_solver()
    prm = solver.parameters
    prm.catch_sigint_signal = False
    prm.max_time_in_seconds = max(time_limit, 0.1)
    prm.num_workers = workers
    prm.random_seed = seed
    status = solver.solve(m)
    Xv = np.zeros((K, T), dtype=np.int64)
    pats: list[list[tuple[np.ndarray, int]]] = [[] for _ in range(T)]
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (k, t1), v in X.items():
            Xv[k, t1] = solver.value(v)
        for t2 in range(T):
            pats[t2] = [(c, int(solver.value(z))) for c, z, _ in Z[t2] if solver.value(z)]
        value = float(sum(int(vals[k]) * solver.value(v) for (k, _t), v in X.items())) / vscale
    else:
        value = 0.0
    return Master(Xv, pats, value, time.perf_counter() - t0, solver.status_name(status))
