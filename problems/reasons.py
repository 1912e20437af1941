"""Why each unplaced task is out: for each allowed node the first constraint that blocks it,
with numbers (in device terms where the node splits the resource), and one line for the task."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .entities import Problem, Task, _too_few, device_shape, device_shape_words
from .plan import Unplaced
from .proofs import spread_feasible
from .replan import taken_out
from .state import CAP_TOL, DeviceProfile, PlanState, Profile, Sweep, selector_words
from .wording import num, plural

MAX_DETAILS = 50  # per-node lines of one task's details


def unplaced_reasons(
    st: PlanState, sweep: Sweep, placed_tasks: set[int], *, vectorised: bool = True
) -> list[Unplaced]:
    """One :class:`Unplaced` per task with no replica placed. ``vectorised=False`` runs the
    per-node loop for every task: the reference the array scan of placement problems must
    match byte for byte."""
    p = st.p
    out: list[Unplaced] = []
    free = _FreeRoom.of(st, sweep) if vectorised else None
    blocked_cache: dict[int, tuple[str, list[str], int]] = {}
    # unplaced tasks alike (same demand, allowed nodes, replicas, required) have the same
    # reason in a placement problem, unless something of their own enters it (separation,
    # per-node demands, spread): a trace of 10,000 tasks drops thousands of a few kinds
    by_kind: dict[tuple[object, ...], tuple[str, list[str], int]] = {}
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        key = _kind(p, task) if not p.scheduling else None
        if key is not None and key in by_kind:
            blocked_cache[task.index] = by_kind[key]
            continue
        blocked_cache[task.index] = _task_reason(st, sweep, task, placed_tasks, free)
        if key is not None:
            by_kind[key] = blocked_cache[task.index]
    for task in p.tasks:
        if task.index in placed_tasks:
            continue
        reason, details, fit = blocked_cache[task.index]
        if fit >= task.replicas and task.gang is not None:
            # It fits on its own: the gang held it back.
            others = [
                m
                for m in p.gangs[task.gang]
                if m != task.index
                and m not in placed_tasks
                and blocked_cache.get(m, ("", [], 10**9))[2] < p.tasks[m].replicas
            ]
            if others:
                o = p.tasks[others[0]]
                reason = (
                    f"gang {task.gang} is placed all or none, and member {o.id} cannot be "
                    f"placed: {blocked_cache[others[0]][0]}"
                )
        out.append(Unplaced(task.id, reason, tuple(details)))
    return out


def _kind(p: Problem, task: Task) -> tuple[object, ...] | None:
    """What an unplaced task's reason depends on in a placement problem, its selectors' words
    included (None: something of its own, so it is worked out for itself)."""
    if task.separate or task.demand_on or task.spread is not None:
        return None
    words = selector_words(p, task) if len(task.allowed) < len(p.nodes) else ""
    return (tuple(sorted(task.demand.items())), task.allowed, task.replicas, task.required, words)


@dataclass
class _Shortage:
    """The tightest room seen for one resource over the allowed nodes."""

    need: float
    best: float = -math.inf
    node: str = ""

    def see(self, need: float, free: float, node: str) -> None:
        self.need = max(self.need, need)
        if free > self.best:
            self.best, self.node = free, node


@dataclass
class _Scan:
    """What a pass over a task's allowed nodes finds."""

    fit_nodes: list[int]
    node_lines: list[str]  # at most MAX_DETAILS lines, then "... and N more"
    shortage: dict[str, _Shortage]  # resource -> (needed, largest free)
    one_device: dict[str, _Shortage]  # resource -> (needed on one device, freest device)
    whole: dict[str, _Shortage]  # resource -> (devices needed, most free devices)
    # resource -> (demand, the devices (count, size) that cannot serve it)
    shape: dict[str, tuple[float, set[tuple[int, float]]]]
    sep_blocked: int
    time_blocked: int


def _task_reason(
    st: PlanState,
    sweep: Sweep,
    task: Task,
    placed_tasks: set[int],
    free: _FreeRoom | None = None,
) -> tuple[str, list[str], int]:
    """(one-line reason, per-node details, number of allowed nodes that could take a replica)."""
    p = st.p
    excluded = len(p.nodes) - len(task.allowed)
    details: list[str] = []
    if excluded:
        details.append(f"{plural(excluded, 'node')} excluded by {selector_words(p, task)}")
    if not task.allowed:
        return f"no node is allowed{taken_out(p, task)} ({selector_words(p, task)})", details, 0
    if p.scheduling:
        missing = [q for q in task.after if q not in placed_tasks]
        if missing:
            names = ", ".join(p.tasks[q].id for q in missing)
            return f"it comes after {names}, which is not placed", details, 0
    scan = free.scan(st, sweep, task) if free is not None else None
    if scan is None:
        scan = _scan_nodes(st, sweep, task)
    details.extend(scan.node_lines)
    return _summary(p, task, scan, details)


def _scan_nodes(st: PlanState, sweep: Sweep, task: Task) -> _Scan:
    """The reference scan: node by node, the first constraint that blocks a replica."""
    p = st.p
    fit_nodes: list[int] = []
    shortage: dict[str, _Shortage] = {}  # resource -> (needed, largest free)
    one_device: dict[str, _Shortage] = {}  # resource -> (needed on one device, freest device)
    whole: dict[str, _Shortage] = {}  # resource -> (devices needed, most free devices)
    # resource -> (demand, the devices (count, size) that cannot serve it)
    shape: dict[str, tuple[float, set[tuple[int, float]]]] = {}
    node_lines: list[str] = []
    sep_blocked = 0
    time_blocked = 0
    start = _gang_start(st, task)
    for n in task.allowed:
        node = p.nodes[n]
        line = None
        for o in task.separate:
            if o in st.on_node.get(n, {}):
                line = f"runs {p.tasks[o].id} (separate_from)"
                sep_blocked += 1
                break
        dem = task.demand_at(n)
        if line is None:
            for r, k in node.devices.items():
                q = dem.get(r, 0.0)
                if q > 0 and device_shape(q, node.device_size(r), k) is None:
                    line = device_shape_words(r, q, node.device_size(r), k)
                    need, kinds = shape.setdefault(r, (q, set()))
                    shape[r] = (max(need, q), kinds | {(k, node.device_size(r))})
                    break
        if line is None and not p.scheduling:
            for r, q in dem.items():
                if r in node.devices:  # said in device terms below
                    continue
                free = node.capacity.get(r, 0.0) - sweep.load[n].get(r, 0.0)
                if q > free + CAP_TOL:
                    line = f"{r} {num(q)} needed, {num(max(free, 0.0))} free"
                    shortage.setdefault(r, _Shortage(q)).see(q, free, node.id)
                    break
            if line is None:
                line = _device_block(p, n, dem, sweep.device_load, one_device, whole)
        elif line is None:
            line = _schedule_block(st, sweep, task, n, start)
            if line is not None:
                too_big = False
                for r, q in dem.items():
                    cap = node.capacity.get(r, 0.0)
                    if q > cap + CAP_TOL and task.duration_at(node) > 0:
                        too_big = True
                        shortage.setdefault(r, _Shortage(q)).see(q, cap, node.id)
                if not too_big:
                    time_blocked += 1
        if line is None:
            fit_nodes.append(n)
            line = "has room"
        node_lines.append(f"node {node.id}: {line}")
    if len(node_lines) > MAX_DETAILS:
        node_lines = [*node_lines[:MAX_DETAILS], f"... and {len(node_lines) - MAX_DETAILS} more"]
    return _Scan(
        fit_nodes, node_lines, shortage, one_device, whole, shape, sep_blocked, time_blocked
    )


def _summary(p: Problem, task: Task, scan: _Scan, details: list[str]) -> tuple[str, list[str], int]:
    """The one-line reason from a scan of the allowed nodes."""
    fit_nodes, shortage, one_device = scan.fit_nodes, scan.shortage, scan.one_device
    whole, shape = scan.whole, scan.shape
    sep_blocked, time_blocked = scan.sep_blocked, scan.time_blocked
    nfit = len(fit_nodes)
    fit_names = [p.nodes[n].id for n in fit_nodes[:5]]
    if nfit >= task.replicas:
        if task.spread is not None:
            sp = task.spread
            per_value = [0] * len(sp.values)
            for n in fit_nodes:
                per_value[sp.value_of[n]] += 1
            if not spread_feasible([0] * len(per_value), per_value, task.replicas, sp.max_skew):
                per = ", ".join(f"{x} {c}" for x, c in zip(sp.values, per_value, strict=True))
                return (
                    f"its {task.replicas} replicas cannot be spread over {sp.key} within "
                    f"max_skew {sp.max_skew}: nodes with room per {sp.key}: {per}",
                    details,
                    0,
                )
        shown = ", ".join(fit_names[:5]) + (", ..." if nfit > 5 else "")
        why = "not required, and the solver left it out" if not task.required else "not placed"
        return f"{why}; it fits now on {plural(nfit, 'allowed node')} ({shown})", details, nfit
    if nfit > 0:
        return (
            f"needs {task.replicas} replicas on distinct nodes; only "
            f"{plural(nfit, 'allowed node')} {'has' if nfit == 1 else 'have'} room "
            f"({', '.join(fit_names[:5])})",
            details,
            nfit,
        )
    room = "" if p.scheduling else "free "
    n_kinds = len(shortage) + len(one_device) + len(whole) + len(shape)
    if n_kinds == 1 and not sep_blocked and not time_blocked:
        if shortage:
            r, s = next(iter(shortage.items()))
            return (
                f"needs {r} {num(s.need)}; the largest {room}{r} on an allowed node is "
                f"{num(max(s.best, 0.0))}",
                details,
                0,
            )
        if one_device:
            r, s = next(iter(one_device.items()))
            return (
                f"{r}: {num(s.need)} needed on one device; the freest device of {s.node} has "
                f"{num(max(s.best, 0.0))}",
                details,
                0,
            )
        if whole:
            r, s = next(iter(whole.items()))
            return (
                f"{r}: {int(s.need)} whole devices needed on one node; {s.node} has "
                f"{int(max(s.best, 0))} free",
                details,
                0,
            )
        res, (q, devs) = next(iter(shape.items()))
        return f"no allowed node's devices can take it: {_shape_words(res, q, devs)}", details, 0
    parts = []
    if shortage:
        parts.append(
            "short of "
            + ", ".join(
                f"{r} (needs {num(s.need)}, at most {num(max(s.best, 0))} free)"
                for r, s in shortage.items()
            )
        )
    for r, s in one_device.items():
        parts.append(f"{r}: {num(s.need)} needed on one device, at most {num(max(s.best, 0))} free")
    for r, s in whole.items():
        parts.append(f"{r}: {int(s.need)} whole devices needed, at most {int(max(s.best, 0))} free")
    for res, (q, devs) in shape.items():
        parts.append(_shape_words(res, q, devs))
    if time_blocked:
        parts.append(f"no time window on {plural(time_blocked, 'node')}")
    if sep_blocked:
        runs = "runs" if sep_blocked == 1 else "run"
        parts.append(f"{plural(sep_blocked, 'node')} {runs} a task it must be kept apart from")
    return "no allowed node can take it: " + "; ".join(parts), details, 0


def _shape_words(r: str, q: float, kinds: set[tuple[int, float]]) -> str:
    offered = ", ".join(f"{k} devices of {num(s)}" for k, s in sorted(kinds)[:3])
    if all(_too_few(q, s, k) for k, s in kinds):
        return f"{r} {num(q)} takes more whole devices than a node has ({offered})"
    return (
        f"{r} {num(q)} is neither a share of one device nor a whole number of devices ({offered})"
    )


def _device_block(
    p: Problem,
    n: int,
    dem: Mapping[str, float],
    device_load: dict[tuple[int, str], list[float]],
    one_device: dict[str, _Shortage],
    whole: dict[str, _Shortage],
) -> str | None:
    """Placement: why the devices of node ``n`` cannot take a replica now, or None."""
    node = p.nodes[n]
    for r, k in node.devices.items():
        q = dem.get(r, 0.0)
        if q <= 0:
            continue
        size = node.device_size(r)
        shape = device_shape(q, size, k)
        assert shape is not None  # checked before
        m, take = shape
        loads = device_load[(n, r)]
        if m == 1:
            free = size - min(loads)
            if take > free + CAP_TOL:
                one_device.setdefault(r, _Shortage(take)).see(take, free, node.id)
                return (
                    f"{r}: {num(take)} needed on one device; the freest device of {node.id} has "
                    f"{num(max(free, 0.0))}"
                )
        else:
            empty = sum(1 for x in loads if x <= CAP_TOL)
            if empty < m:
                whole.setdefault(r, _Shortage(m)).see(m, empty, node.id)
                return f"{r}: {m} whole devices needed; {node.id} has {empty} free"
    return None


def _gang_start(st: PlanState, task: Task) -> int | None:
    """The start of the placed members of the task's gang when it starts together."""
    if task.gang is None or task.gang not in st.p.same_start:
        return None
    for m in st.p.gangs[task.gang]:
        for pl in st.placed.get(m, {}).values():
            return pl.start
    return None


def _schedule_block(
    st: PlanState, sweep: Sweep, task: Task, n: int, gang_start: int | None
) -> str | None:
    """Why a replica of ``task`` cannot run on node ``n`` in this schedule, or None if it can."""
    p = st.p
    node = p.nodes[n]
    dem = task.demand_at(n)
    d = task.duration_at(node)
    for r, q in dem.items():
        cap = node.capacity.get(r, 0.0)
        if q > cap + CAP_TOL and d > 0:  # a zero-length run occupies nothing
            return f"{r} {num(q)} needed, capacity {num(cap)}"
    earliest = task.release or 0
    for q in task.after:
        for pl in st.placed.get(q, {}).values():
            earliest = max(earliest, pl.end or 0)
    limits = [x for x in (task.deadline, p.horizon) if x is not None]
    latest_end = min(limits) if limits else None
    if gang_start is not None:
        if gang_start < earliest:
            return f"its gang starts together at {gang_start}, before it may start ({earliest})"
        earliest = gang_start
    if latest_end is not None and earliest + d > latest_end:
        return f"earliest start {earliest} + duration {d} = {earliest + d} > {latest_end}"
    if d == 0:
        return None
    ivs = sweep.profiles[n] if sweep.profiles else []
    devs = sweep.device_profiles or {}
    use = p.device_use(task.index, n) or {}
    # candidate starts: earliest and every end of an interval after it
    if gang_start is not None or task.service:
        cands = [earliest]
    else:
        ends = {e for _, e, _ in ivs if e > earliest}
        ends |= {e for (m, _, _), dv in devs.items() if m == n for _, e, _ in dv if e > earliest}
        cands = sorted({earliest, *ends})
    for s in cands:
        if latest_end is not None and s + d > latest_end:
            break
        if _fits_window(ivs, s, s + d, dem, node.capacity) and all(
            _devices_free(devs, n, r, node.devices[r], node.device_size(r), m, take, s, s + d)
            for r, (m, take) in use.items()
        ):
            return None
    until = f" by {latest_end}" if latest_end is not None else ""
    what = "its demand" if not use else "its demand and devices"
    if gang_start is not None:
        return f"no room for {what} at {gang_start}, when its gang starts together"
    return f"no window of {d} with {what} free from {earliest}{until}"


def _fits_window(ivs: Profile, s: int, e: int, dem: Mapping[str, float], cap: Any) -> bool:
    points = sorted({s, *(a for a, _, _ in ivs if s < a < e)})
    for t in points:
        for r, q in dem.items():
            if q <= 0:
                continue
            used = sum(d.get(r, 0.0) for a, b, d in ivs if a <= t < b)
            if used + q > cap.get(r, 0.0) + CAP_TOL:
                return False
    return True


def _devices_free(
    devs: Mapping[tuple[int, str, int], DeviceProfile],
    n: int,
    r: str,
    count: int,
    size: float,
    m: int,
    take: float,
    s: int,
    e: int,
) -> bool:
    """Whether ``m`` of the ``count`` devices of ``r`` (each of ``size``) on node ``n`` each
    have ``take`` free over [s, e)."""
    good = 0
    for j in range(count):
        ivs = devs.get((n, r, j), [])
        points = sorted({s, *(a for a, _, _ in ivs if s < a < e)})
        peak = max((sum(q for a, b, q in ivs if a <= t < b) for t in points), default=0.0)
        if peak + take <= size + CAP_TOL:
            good += 1
            if good >= m:
                return True
    return False


class _FreeRoom:
    """Placement problems: the sweep's free room as a (nodes x resources) array, built once per
    call, so that a task's allowed nodes are scanned with arrays instead of node by node.

    :meth:`scan` gives what :func:`_scan_nodes` gives, to the byte: the same first blocking
    resource per node (in the order of the task's demand), the same largest free room per
    resource and the first node reaching it, the same detail lines. Nodes serving a positive
    demand by devices, nodes with a demand of the task's own (``demand_on``) and nodes running
    a task it is kept apart from are taken one by one, as the loop takes them. It declines
    (None) only demands of resources the problem does not list."""

    _CACHE = 64  # (resources, allowed nodes) -> free room and split resources, per call

    def __init__(self, p: Problem, free: np.ndarray) -> None:
        self.p = p
        self.free_t = np.ascontiguousarray(free.T)  # resources x nodes
        self.split_t = np.ascontiguousarray(p.device_count.T > 0)
        self.any_split = bool(self.split_t.any())
        self._allowed: dict[int, tuple[tuple[int, ...], np.ndarray | None]] = {}
        self._rows: dict[tuple[tuple[int, ...], int], tuple[np.ndarray, np.ndarray | None]] = {}

    @classmethod
    def of(cls, st: PlanState, sweep: Sweep) -> _FreeRoom | None:
        p = st.p
        if p.scheduling or len(sweep.load) != len(p.nodes):
            return None
        ri = p.resource_index
        load = np.zeros((len(p.nodes), len(p.resources)))
        for n, used in enumerate(sweep.load):
            for r, q in used.items():
                if r not in ri:
                    return None
                load[n, ri[r]] = q
        return cls(p, p.capacity - load)

    def _nodes(self, allowed: tuple[int, ...]) -> np.ndarray | None:
        """The allowed nodes as an index array; None when every node is allowed (the tuple
        is kept beside its array so that its id is not reused while cached)."""
        hit = self._allowed.get(id(allowed))
        if hit is None:
            full = len(allowed) == len(self.p.nodes)  # allowed is ascending and distinct
            arr = None if full else np.fromiter(allowed, dtype=np.intp, count=len(allowed))
            hit = (allowed, arr)
            if len(self._allowed) >= self._CACHE:
                self._allowed.clear()
                self._rows.clear()  # its keys hold ids of these tuples
            self._allowed[id(allowed)] = hit
        return hit[1]

    def _room(
        self, cols: tuple[int, ...], allowed: tuple[int, ...], nodes: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(free room, columns x allowed nodes; device-split entries, or None if there are
        none), cached for tasks alike."""
        key = (cols, id(allowed))
        hit = self._rows.get(key)
        if hit is None:
            room = self.free_t[list(cols)]
            split = self.split_t[list(cols)] if self.any_split else None
            if nodes is not None:
                room = room[:, nodes]
                split = split[:, nodes] if split is not None else None
            if split is not None and not split.any():
                split = None
            if len(self._rows) >= self._CACHE:
                self._rows.clear()
            hit = (room, split)
            self._rows[key] = hit
        return hit

    def scan(self, st: PlanState, sweep: Sweep, task: Task) -> _Scan | None:
        p = self.p
        allowed = task.allowed
        ri = p.resource_index
        if any(r not in ri for r in task.demand):
            return None
        nodes = self._nodes(allowed)
        names = list(task.demand)
        demand = list(task.demand.values())
        cols = tuple(ri[r] for r in names)
        room, split = self._room(cols, allowed, nodes)
        m = room.shape[1]
        # nodes taken one by one as the loop takes them: those serving a positive demand by
        # devices, those with a demand of their own, those running a task to keep apart from
        by_node = np.zeros(m, dtype=bool)
        if split is not None:
            for j, q in enumerate(demand):
                if q > 0:
                    by_node |= split[j]
        apart: dict[int, str] = {}  # position -> the loop's line
        if task.separate:
            near = {pl.node for o in task.separate for pl in st.placed.get(o, {}).values()}
            for n in sorted(near):
                i = self._position(nodes, n)
                if i is None:
                    continue
                for o in task.separate:
                    if o in st.on_node.get(n, {}):
                        apart[i] = f"runs {p.tasks[o].id} (separate_from)"
                        by_node[i] = True
                        break
        for n in task.demand_on:
            i = self._position(nodes, n)
            if i is not None:
                by_node[i] = True
        if cols:
            need = np.array(demand, dtype=float)[:, None]
            # the loop's test, q > free + CAP_TOL, on the same float64 values
            blocked = need > room + CAP_TOL
            if split is not None:
                blocked &= ~split  # a resource a node splits is never tested against its room
            first = np.argmax(blocked, axis=0)  # first blocking resource in demand order
            stuck = blocked[first, np.arange(m)] & ~by_node
        else:
            first = np.zeros(m, dtype=np.intp)
            stuck = np.zeros(m, dtype=bool)
        fits = ~stuck & ~by_node
        # the device nodes, one by one as the loop takes them
        dev_lines: dict[int, str] = {}
        dev_short: dict[str, _Shortage] = {}
        dev_first: dict[str, int] = {}  # resource -> first node index it blocked
        one_device: dict[str, _Shortage] = {}
        whole: dict[str, _Shortage] = {}
        shape: dict[str, tuple[float, set[tuple[int, float]]]] = {}
        sep_blocked = 0
        for i in np.flatnonzero(by_node).tolist():
            node = int(nodes[i]) if nodes is not None else i
            if i in apart:
                dev_lines[i] = apart[i]
                sep_blocked += 1
                continue
            known = len(dev_short)
            dem = task.demand_at(node)
            line = _placement_block(p, sweep, node, dem, dev_short, one_device, whole, shape)
            if len(dev_short) > known:
                dev_first[next(reversed(dev_short))] = node
            if line is None:
                fits[i] = True
                line = "has room"
            dev_lines[i] = line
        fit_pos = np.flatnonzero(fits)
        fit_nodes = (nodes[fit_pos] if nodes is not None else fit_pos).tolist()
        # each resource's largest free room: the first node reaching it, over both kinds
        seen: list[tuple[int, str, _Shortage]] = []  # (first node index, resource, shortage)
        for r, sh in dev_short.items():
            if r not in task.demand:  # a resource only a per-node demand asks for
                seen.append((dev_first[r], r, sh))
        for j, r in enumerate(names):
            pos = np.flatnonzero(stuck & (first == j))
            s = dev_short.get(r)
            if not len(pos):
                if s is not None:
                    seen.append((dev_first[r], r, s))
                continue
            at = int(pos[int(np.argmax(room[j, pos]))])  # the first of the largest
            best, best_node = float(room[j, at]), int(nodes[at]) if nodes is not None else at
            start = int(nodes[pos[0]]) if nodes is not None else int(pos[0])
            if s is not None:
                start = min(start, dev_first[r])
                other = p.node_index[s.node]
                if s.best > best or (s.best == best and other < best_node):
                    best, best_node = s.best, other
            out = _Shortage(demand[j] if s is None else max(demand[j], s.need))
            out.best, out.node = best, p.nodes[best_node].id
            seen.append((start, r, out))
        shortage = {r: s for _, r, s in sorted(seen, key=lambda x: x[0])}
        lines: list[str] = []
        for i in range(min(m, MAX_DETAILS)):
            node = int(nodes[i]) if nodes is not None else i
            if i in dev_lines:
                line = dev_lines[i]
            elif stuck[i]:
                j = int(first[i])
                free = float(room[j, i])
                line = f"{names[j]} {num(demand[j])} needed, {num(max(free, 0.0))} free"
            else:
                line = "has room"
            lines.append(f"node {p.nodes[node].id}: {line}")
        if m > MAX_DETAILS:
            lines.append(f"... and {m - MAX_DETAILS} more")
        return _Scan(fit_nodes, lines, shortage, one_device, whole, shape, sep_blocked, 0)

    def _position(self, nodes: np.ndarray | None, n: int) -> int | None:
        """Where node ``n`` is among the allowed nodes (ascending), or None."""
        if nodes is None:
            return n if 0 <= n < len(self.p.nodes) else None
        i = int(np.searchsorted(nodes, n))
        return i if i < len(nodes) and int(nodes[i]) == n else None


def _placement_block(
    p: Problem,
    sweep: Sweep,
    n: int,
    dem: Mapping[str, float],
    shortage: dict[str, _Shortage],
    one_device: dict[str, _Shortage],
    whole: dict[str, _Shortage],
    shape: dict[str, tuple[float, set[tuple[int, float]]]],
) -> str | None:
    """Placement, nobody to keep apart on node ``n``: what the reference loop says of it (the
    same tests in the same order, recorded the same way), or None if a replica fits."""
    node = p.nodes[n]
    for r, k in node.devices.items():
        q = dem.get(r, 0.0)
        if q > 0 and device_shape(q, node.device_size(r), k) is None:
            need, kinds = shape.setdefault(r, (q, set()))
            shape[r] = (max(need, q), kinds | {(k, node.device_size(r))})
            return device_shape_words(r, q, node.device_size(r), k)
    for r, q in dem.items():
        if r in node.devices:  # said in device terms below
            continue
        free = node.capacity.get(r, 0.0) - sweep.load[n].get(r, 0.0)
        if q > free + CAP_TOL:
            shortage.setdefault(r, _Shortage(q)).see(q, free, node.id)
            return f"{r} {num(q)} needed, {num(max(free, 0.0))} free"
    return _device_block(p, n, dem, sweep.device_load, one_device, whole)
