"""Small GPU fleets for the online replay and device planner tests, and an independent check
of placements (every node's and device's load recomputed from the problem's ids)."""

from __future__ import annotations

from collections import Counter

from taskalloc.solvers.fleet import Fleet, Workload, plan_assignments


def check_placements(problem: dict, fleet: Fleet, wl: Workload, node, devices) -> None:
    """Independent of the engine: recompute every node's and device's load from the ids."""
    specs = {}
    for n in problem["nodes"]:
        c = n.get("count", 1)
        for i in [n["id"]] if c == 1 else [f"{n['id']}-{k}" for k in range(1, c + 1)]:
            specs[i] = n
    tasks = {t["id"]: t for t in problem["tasks"]}
    load: dict[str, Counter] = {i: Counter() for i in specs}
    dev: dict[tuple[str, int], float] = {}
    for a in plan_assignments(fleet, wl, node, devices):
        t, n = tasks[a["task"]], specs[a["node"]]
        for r, q in t["demand"].items():
            load[a["node"]][r] += q
        for k, v in (t.get("match") or {}).items():
            assert str(n.get("labels", {}).get(k)) in map(str, v)
        g = t["demand"].get("gpu", 0)
        got = a.get("devices", {}).get("gpu", [])
        if g == 0:
            assert not got
        elif g < 1:
            assert len(got) == 1
        else:
            assert len(got) == g
        for i in got:
            assert 0 <= i < n["devices"]["gpu"]
            dev[(a["node"], i)] = dev.get((a["node"], i), 0) + min(g, 1)
    for i, ld in load.items():
        for r, q in ld.items():
            assert q <= specs[i]["capacity"].get(r, 0) + 1e-9, (i, r)
    assert all(v <= 1 + 1e-9 for v in dev.values())
