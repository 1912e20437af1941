"""From integer counts per node type to nodes: fill device patterns with tasks, then pack the
devices, whole-device tasks and GPU-free tasks into the members of each type."""

from __future__ import annotations

import heapq

import numpy as np

from ..fleet import MILLI, Workload
from .kinds import Kinds
from .master import Master
from .state import PlanState

__all__ = ["pack_types"]


def _take(kinds: Kinds, X: np.ndarray, pools: list[list[int]]) -> list[list[tuple[int, list[int]]]]:
    """Concrete tasks per type: for type t, (kind, task indices) taking X[k, t] of each kind."""
    K, T = X.shape
    out: list[list[tuple[int, list[int]]]] = [[] for _ in range(T)]
    for k in range(K):
        for t in np.flatnonzero(X[k]):
            c = int(X[k, t])
            got, pools[k] = pools[k][:c], pools[k][c:]
            out[int(t)].append((k, got))
    return out


def pack_types(state: PlanState, kinds: Kinds, master: Master, sizes: np.ndarray) -> None:
    """Place what ``master`` decided, type by type; what does not fit stays unplaced."""
    fleet, wl = state.fleet, state.wl
    pools = [list(map(int, mem)) for mem in kinds.members]
    per_type = _take(kinds, master.X, pools)
    for t in range(fleet.n_types):
        nodes = np.flatnonzero(fleet.node_type == t)
        if not len(nodes):
            continue
        shares: dict[int, list[int]] = {}
        whole: list[int] = []
        cpu_only: list[int] = []
        for k, tasks in per_type[t]:
            if kinds.share[k]:
                shares.setdefault(int(kinds.milli[k]), []).extend(tasks)
            elif kinds.whole[k]:
                whole.extend(tasks)
            else:
                cpu_only.extend(tasks)
        devices = _fill_patterns(
            wl, master.patterns[t], sizes, shares, int(fleet.type_cpu[t]), fleet.type_rest[t]
        )
        _pack_nodes(state, nodes, devices, whole, cpu_only)


def _fill_patterns(
    wl: Workload,
    patterns: list[tuple[np.ndarray, int]],
    sizes: np.ndarray,
    shares: dict[int, list[int]],
    cpu_cap: int,
    rest_cap: np.ndarray,
) -> list[list[int]]:
    """Device instances (lists of share tasks) from the patterns, balancing their CPU: the
    largest shares first, each task (most CPU first) into the open slot of its size on the
    device with the least CPU so far, if that device still fits in a node (``cpu_cap``,
    ``rest_cap``); a task that fits no such device is left for the repair."""
    slots: list[list[int]] = []  # per device: remaining slot sizes
    for counts, z in patterns:
        sl = [int(sizes[i]) for i in np.flatnonzero(counts) for _ in range(int(counts[i]))]
        slots.extend(list(sl) for _ in range(z))
    content: list[list[int]] = [[] for _ in slots]
    cpu = [0] * len(slots)
    rest = np.zeros((len(slots), len(rest_cap)))
    for m in sorted(shares, reverse=True):
        tasks = sorted(shares[m], key=lambda j: -int(wl.cpu[j]))
        heap = [(cpu[d], d) for d, sl in enumerate(slots) if m in sl]
        heapq.heapify(heap)
        for j in tasks:
            cj, rj = int(wl.cpu[j]), wl.rest[j]
            chosen, skipped = -1, []
            while heap:
                c, d = heapq.heappop(heap)
                skipped.append((c, d))
                if c + cj > cpu_cap:
                    break  # the device with the least CPU is too full: so are the others
                if np.all(rest[d] + rj <= rest_cap + 1e-9):
                    chosen = d
                    skipped.pop()
                    break
            for item in skipped:
                heapq.heappush(heap, item)
            if chosen < 0:
                continue  # left for the repair
            slots[chosen].remove(m)
            content[chosen].append(j)
            cpu[chosen] += cj
            rest[chosen] += rj
            if m in slots[chosen]:
                heapq.heappush(heap, (cpu[chosen], chosen))
    return [c for c in content if c]


def _pack_nodes(
    state: PlanState,
    nodes: np.ndarray,
    devices: list[list[int]],
    whole: list[int],
    cpu_only: list[int],
) -> None:
    """Slot items (a device of shares, or a whole-device task of g devices) by decreasing
    size onto the node of the type with the lowest load that has room (balancing CPU and the
    other resources), then GPU-free tasks best-fit."""
    wl = state.wl
    fleet = state.fleet
    t = int(fleet.node_type[nodes[0]])
    ccap = max(float(fleet.type_cpu[t]), 1.0)
    rcap = np.maximum(fleet.type_rest[t], 1e-12)
    items: list[tuple[int, list[int]]] = [(1, d) for d in devices]
    items += [(int(wl.ngpu[j]), [j]) for j in whole]

    def size(tasks: list[int]) -> float:
        c = sum(int(wl.cpu[j]) for j in tasks) / ccap
        r = (wl.rest[tasks].sum(axis=0) / rcap).max(initial=0.0) if len(rcap) else 0.0
        return max(c, float(r))

    items.sort(key=lambda it: (-it[0], -size(it[1])))
    for g, tasks in items:
        cpu = sum(int(wl.cpu[j]) for j in tasks)
        rest = wl.rest[tasks].sum(axis=0)
        free = np.count_nonzero(state.dev[nodes] == MILLI, axis=1)
        ok = (free >= g) & (state.cpu_left[nodes] >= cpu)
        if rest.size:
            ok &= (state.rest_left[nodes] >= rest - 1e-9).all(axis=1)
        if not ok.any():
            continue
        cand = nodes[ok]
        used_c = 1.0 - state.cpu_left[cand] / ccap
        load = used_c
        if rest.size:
            used_r = (1.0 - state.rest_left[cand] / rcap).max(axis=1)
            load = np.maximum(load, used_r)
        n = int(cand[int(np.argmin(load))])
        devs = [int(i) for i in np.flatnonzero(state.dev[n] == MILLI)[:g]]
        if g == 1 and (len(tasks) > 1 or wl.milli[tasks[0]] < MILLI):
            for j in tasks:  # shares of one device
                state.place(j, n, [devs[0]])
        else:
            state.place(tasks[0], n, devs)
    for j in sorted(cpu_only, key=lambda j: -int(wl.cpu[j])):
        ok = state.cpu_left[nodes] >= wl.cpu[j]
        if wl.rest.shape[1]:
            ok &= (state.rest_left[nodes] >= wl.rest[j] - 1e-9).all(axis=1)
        if not ok.any():
            continue
        cand = nodes[ok]
        n = int(cand[int(np.argmin(state.cpu_left[cand]))])
        state.place(j, n, [])
