"""A start for the LNS when nodes cost money: first-fit decreasing over cost-efficient nodes.

The greedy's best-fit picks, for each task, the node that the task fills the most, among all
nodes, so it happily opens a small expensive node for a small task. Here, for objectives whose
next term after ``unplaced`` is ``cost`` with node costs (cloud balancing), a task goes to the
*used* candidate it fills the most, and only when none has room to the unused candidate with
the lowest cost per unit of capacity: ``cost / sum_r (capacity_r / total demand_r)``.

Tasks are taken must-place first, then by priority and size (sum over resources of demand /
mean capacity), descending. Every placement constraint is honoured: candidates (allowed,
fit when empty, ``demand_on``), capacity, distinct nodes for replicas, separation, gangs (all
members or none, the gang placed when its first member comes). A task that does not fit is left
unplaced (the LNS then tries to insert it, must-place ones first).
"""

from __future__ import annotations

import numpy as np

from ..flat import Flat, Plan


def wanted(flat: Flat, order: list[str]) -> bool:
    """Whether this start suits the objective (cost with node costs right after unplaced)."""
    terms = [t for t in order if t != "unplaced"]
    return bool(terms) and terms[0] == "cost" and flat.any_node_cost and "moves" not in order


def efficient_first_fit(flat: Flat) -> Plan:
    """The start (see the module docstring)."""
    f = flat
    cap = f.cap.astype(np.int64)
    demand_total = (f.dem * f.replicas[:, None]).sum(axis=0).astype(float)
    share = np.divide(
        cap.astype(float),
        demand_total,
        out=np.zeros(cap.shape, dtype=float),
        where=demand_total > 0,
    ).sum(axis=1)
    eff = np.divide(f.node_cost.astype(float), share, out=np.full(f.N, np.inf), where=share > 0)
    eff[f.node_cost == 0] = 0.0
    open_rank = np.empty(f.N, dtype=np.int64)
    open_rank[np.lexsort((np.arange(f.N), -share, eff))] = np.arange(f.N)
    mean_cap = cap.mean(axis=0).astype(float)
    size = np.divide(
        f.dem.astype(float), mean_cap, out=np.zeros(f.dem.shape), where=mean_cap > 0
    ).sum(axis=1)
    prio = f.prio.astype(float)
    tasks = np.lexsort((np.arange(f.T), -size, -prio, ~f.must))
    inv = np.divide(1.0, cap, out=np.zeros(cap.shape), where=cap > 0)

    load = np.zeros((f.N, f.R), dtype=np.int64)
    used = np.zeros(f.N, dtype=bool)
    nodes: list[tuple[int, ...]] = [()] * f.T

    def choose(t: int) -> list[int] | None:
        k = int(f.replicas[t])
        mask = f.cand_mask(t).copy()
        for o in f.separate[t]:
            for n in nodes[o]:
                mask[n] = False
        idx = np.flatnonzero(mask)
        if len(idx) < k:
            return None
        dem = f.demands(t, idx)
        new = load[idx] + dem
        ok = (new <= cap[idx]).all(axis=1)
        idx, new = idx[ok], new[ok]
        if len(idx) < k:
            return None
        busy = used[idx]
        picked: list[int] = []
        if busy.any():
            fill = (new[busy] * inv[idx[busy]]).max(axis=1)
            order = np.lexsort((idx[busy], -fill))
            picked = [int(n) for n in idx[busy][order[:k]]]
        if len(picked) < k:
            rest = idx[~busy]
            order = np.argsort(open_rank[rest], kind="stable")
            picked += [int(n) for n in rest[order[: k - len(picked)]]]
        return picked if len(picked) == k else None

    def put(t: int, ns: list[int]) -> None:
        for n in ns:
            load[n] += f.demand(t, n)
            used[n] = True
        nodes[t] = tuple(sorted(ns))

    def take(t: int) -> None:
        for n in nodes[t]:
            load[n] -= f.demand(t, n)
        nodes[t] = ()

    on_count = np.zeros(f.N, dtype=np.int64)
    done_gangs: set[int] = set()
    for t in tasks.tolist():
        g = int(f.gang[t])
        if g < 0:
            ns = choose(t)
            if ns is not None:
                put(t, ns)
                on_count[ns] += 1
            continue
        if g in done_gangs:
            continue
        done_gangs.add(g)
        placed: list[int] = []
        for m in f.gang_members[g]:
            ns = choose(m)
            if ns is None:
                for o in placed:
                    on_count[list(nodes[o])] -= 1
                    take(o)
                placed = []
                break
            put(m, ns)
            on_count[ns] += 1
            placed.append(m)
        used[:] = on_count > 0
    return Plan(f, nodes)
