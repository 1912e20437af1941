"""An independent reading of FORMATS.md (v1 revision 2), for property tests of the evaluator.

It works on the plain problem dict and plan assignments, shares no code with taskalloc, and
trades speed for obviousness: schedules are checked at every integer instant. It covers the
fields the property tests draw (no pools, no per-node maps, speed 1).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

TOL = 1e-9


def _devices_needed(d: float, cap: float, k: int) -> tuple[int, float] | None:
    """(number of devices, amount on each) for demand d on k devices splitting cap."""
    size = cap / k
    if d <= 0:
        return 0, 0.0
    if d <= size * (1 + 1e-9) + 1e-12:
        return 1, d
    if size <= 0:
        return None
    m = d / size
    if abs(m - round(m)) > 1e-9 * max(1.0, m) or round(m) > k:
        return None
    return round(m), size


def check(
    problem: dict[str, Any], assignments: list[dict[str, Any]]
) -> tuple[bool, dict[str, float]]:
    """(feasible, objective terms) of a plan, computed from the two alone."""
    nodes = {n["id"]: n for n in problem["nodes"]}
    tasks = {t["id"]: t for t in problem["tasks"]}
    sched = any("duration" in t for t in problem["tasks"])
    horizon = problem.get("horizon")
    gangs_same = {g for g, v in (problem.get("gangs") or {}).items() if v.get("same_start")}
    ok = True
    placed: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for a in assignments:
        t, n, r = a["task"], a["node"], a["replica"]
        if t not in tasks or n not in nodes or not 0 <= r < tasks[t].get("replicas", 1):
            ok = False
            continue
        if r in placed[t]:
            ok = False
            continue
        if sched and (a.get("start") is None or a.get("end") is None):
            ok = False
            continue
        placed[t][r] = a

    def labels(n: str) -> dict[str, str]:
        return {k: str(v) for k, v in nodes[n].get("labels", {}).items()}

    def allowed(t: dict[str, Any]) -> list[str]:
        out = [n for n in nodes if "nodes" not in t or n in t["nodes"]]
        for key, vals in (t.get("match") or {}).items():
            vals = vals if isinstance(vals, list) else [vals]
            out = [n for n in out if labels(n).get(key) in [str(v) for v in vals]]
        if t.get("spread"):
            out = [n for n in out if t["spread"]["key"] in labels(n)]
        return out

    # tasks: all or none, required, distinct nodes, allowed, spread
    for tid, t in tasks.items():
        reps = placed.get(tid, {})
        if reps and len(reps) != t.get("replicas", 1):
            ok = False
        if not reps and t.get("required", True):
            ok = False
        where = [a["node"] for a in reps.values()]
        if len(set(where)) != len(where):
            ok = False
        if any(n not in allowed(t) for n in where):
            ok = False
        if t.get("spread") and reps:
            key = t["spread"]["key"]
            values = {labels(n)[key] for n in allowed(t)}
            count = {v: sum(1 for n in where if labels(n).get(key) == v) for v in values}
            if max(count.values()) - min(count.values()) > t["spread"].get("max_skew", 1):
                ok = False
    # separation (either direction)
    on = defaultdict(set)
    for tid, reps in placed.items():
        for a in reps.values():
            on[a["node"]].add(tid)
    for tid, t in tasks.items():
        for o in t.get("separate_from", []):
            for there in on.values():
                if tid in there and o in there and o != tid:
                    ok = False
    # gangs
    members = defaultdict(list)
    for tid, t in tasks.items():
        if t.get("gang"):
            members[t["gang"]].append(tid)
    for g, ms in members.items():
        if len({bool(placed.get(m)) for m in ms}) > 1:
            ok = False
        if sched and g in gangs_same:
            starts = {a["start"] for m in ms for a in placed.get(m, {}).values()}
            if len(starts) > 1:
                ok = False
    # devices: what each replica takes on which device
    takes: list[tuple[str, str, int, float, dict[str, Any]]] = []  # node, res, index, q, a
    for tid, reps in placed.items():
        t = tasks[tid]
        for a in reps.values():
            n = a["node"]
            split = nodes[n].get("devices") or {}
            listed = a.get("devices") or {}
            if any(r not in split for r in listed):
                ok = False
            for r, k in split.items():
                d = t.get("demand", {}).get(r, 0)
                need = _devices_needed(d, nodes[n]["capacity"].get(r, 0), k)
                got = list(listed.get(r) or [])
                if need is None:
                    ok = False
                    continue
                m, q = need
                if len(got) != m or len(set(got)) != m or any(not 0 <= i < k for i in got):
                    ok = False
                    continue
                takes.extend((n, r, i, q, a) for i in got)
    # time
    end_of: dict[str, int] = {}
    if sched:
        for tid, reps in placed.items():
            t = tasks[tid]
            for a in reps.values():
                s, e = a["start"], a["end"]
                if t.get("service"):
                    if (s, e) != (0, horizon):
                        ok = False
                elif e - s != t.get("duration", 0):
                    ok = False
                if s < 0 or s < t.get("release", 0) or e > t.get("deadline", e):
                    ok = False
                if horizon is not None and e > horizon:
                    ok = False
                end_of[tid] = max(end_of.get(tid, e), e)
        for tid, reps in placed.items():
            for p in tasks[tid].get("after", []):
                if p not in end_of or any(a["start"] < end_of[p] for a in reps.values()):
                    ok = False

    def running(a: dict[str, Any], instant: int) -> bool:
        return not sched or a["start"] <= instant < a["end"]

    instants = (
        range(max([a["end"] for r in placed.values() for a in r.values()] + [1])) if sched else [0]
    )
    peak: dict[tuple[str, str], float] = defaultdict(float)
    for instant in instants:
        load: dict[tuple[str, str], float] = defaultdict(float)
        for tid, reps in placed.items():
            for a in reps.values():
                if running(a, instant):
                    for r, q in tasks[tid].get("demand", {}).items():
                        load[a["node"], r] += q
        for key, q in load.items():
            peak[key] = max(peak[key], q)
            if q > nodes[key[0]]["capacity"].get(key[1], 0) + TOL:
                ok = False
        dev: dict[tuple[str, str, int], float] = defaultdict(float)
        for n, r, i, q, a in takes:
            if running(a, instant):
                dev[n, r, i] += q
        for (n, r, _), q in dev.items():
            if q > nodes[n]["capacity"][r] / nodes[n]["devices"][r] + TOL:
                ok = False
    used = {a["node"] for reps in placed.values() for a in reps.values()}

    def moved(t: dict[str, Any], n: str) -> bool:
        cur = t["current"]
        return n not in (cur if isinstance(cur, list) else [cur])

    terms: dict[str, float] = {
        "unplaced": sum(
            t.get("priority", 1) * t.get("replicas", 1)
            for tid, t in tasks.items()
            if not placed.get(tid)
        ),
        "cost": sum(nodes[n].get("cost", 0) for n in used),
        "nodes": len(used),
        "balance": max(
            [
                q / nodes[n]["capacity"][r]
                for (n, r), q in peak.items()
                if nodes[n]["capacity"].get(r, 0) > 0
            ],
            default=0.0,
        ),
        "moves": sum(
            1
            for tid, reps in placed.items()
            for a in reps.values()
            if "current" in tasks[tid] and moved(tasks[tid], a["node"])
        ),
    }
    if sched:
        terms["makespan"] = max(
            [e for tid, e in end_of.items() if not tasks[tid].get("service")], default=0
        )
    return ok, terms
