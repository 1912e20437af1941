"""Why each unplaced task is out: for each allowed node the first constraint that blocks it,
with numbers (in device terms where the node splits the resource), and one line for the task."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .entities import Problem, Task, _too_few, device_shape, device_shape_words
from .plan import Unplaced
from .proofs import spread_feasible
from .state import CAP_TOL, DeviceProfile, PlanState, Profile, Sweep, selector_words
from .wording import num

MAX_DETAILS = 50  # per-node lines of one task's details


def unplaced_reasons(st: PlanState, sweep: Sweep, placed_tasks: set[int]) -> list[Unplaced]:
    p = st.p
    out: list[Unplaced] = []
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
        blocked_cache[task.index] = _task_reason(st, sweep, task, placed_tasks)
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


def _task_reason(
    st: PlanState, sweep: Sweep, task: Task, placed_tasks: set[int]
) -> tuple[str, list[str], int]:
    """(one-line reason, per-node details, number of allowed nodes that could take a replica)."""
    p = st.p
    excluded = len(p.nodes) - len(task.allowed)
    details: list[str] = []
    if excluded:
        details.append(f"{excluded} node(s) excluded by {selector_words(p, task)}")
    if not task.allowed:
        return f"no node is allowed ({selector_words(p, task)})", details, 0
    if p.scheduling:
        missing = [q for q in task.after if q not in placed_tasks]
        if missing:
            names = ", ".join(p.tasks[q].id for q in missing)
            return f"it comes after {names}, which is not placed", details, 0
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
    details.extend(node_lines)
    nfit = len(fit_nodes)
    fit_names = [p.nodes[n].id for n in fit_nodes]
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
        return f"{why}; it fits now on {nfit} allowed node(s) ({shown})", details, nfit
    if nfit > 0:
        return (
            f"needs {task.replicas} replicas on distinct nodes; only {nfit} allowed node(s) have "
            f"room ({', '.join(fit_names[:5])})",
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
        parts.append(f"no time window on {time_blocked} node(s)")
    if sep_blocked:
        parts.append(f"{sep_blocked} node(s) run a task it must be kept apart from")
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
