"""RCPSP instances beyond ../shared (j120-like), to test the scheduling engine on what it was not
tuned on. Two families, both written as taskalloc problems shaped like the PSPLIB importer's (one
node ``site`` with renewable resources ``R1..R4``, task ``j{k}`` with ``duration``, ``demand``
and ``after``; ``lexicographic: [makespan]``; ``horizon`` = sum of durations):

``progen``  ProGen's rules (Kolisch, Sprecher & Drexl 1995), the generator of PSPLIB: durations
            uniform in 1..10; at most 3 start and 3 end activities and at most 3 successors and
            predecessors per activity; non-redundant arcs up to the network complexity NC (arcs
            per activity, dummies included); each activity requests each resource with
            probability RF (at least one), demand uniform in 1..10; capacity ``Kmin + round(RS x
            (Kmax - Kmin))`` with Kmin the largest single demand and Kmax the peak of the
            earliest-start schedule. j120's grid is NC in {1.5, 1.8, 2.1}, RF in {0.25, 0.5,
            0.75, 1}, RS in {0.1, ..., 0.5}; low RS is hard.
``combine`` two j60 instances side by side on shared resources (capacity: the larger of the two
            per resource, so the projects compete), 120 activities.

    python benchmarks/rcpspgen.py progen --jobs 120 --count 10 --seed 0 --out /tmp/gen120
    python benchmarks/rcpspgen.py combine --count 6 --out /tmp/comb120
    python benchmarks/bench_rcpsp.py --generated /tmp/gen120 --budgets 30

Every instance gets a parameter note under ``x-source``; ``known.csv`` is not written (no values
are known), so bench_rcpsp.py measures both engines against the better of their two makespans.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the hard half of j120's grid (RS 0.1-0.3) is drawn twice as often as the easy half
J120_GRID = [
    (nc, rf, rs)
    for nc in (1.5, 1.8, 2.1)
    for rf in (0.25, 0.5, 0.75, 1.0)
    for rs in (0.1, 0.2, 0.3, 0.4, 0.5)
]
MAX_LINKS = 3


def _reach(succ: list[set[int]], a: int, b: int) -> bool:
    """Whether b is reachable from a (a path of arcs)."""
    stack, seen = [a], {a}
    while stack:
        x = stack.pop()
        if x == b:
            return True
        for y in succ[x]:
            if y not in seen:
                seen.add(y)
                stack.append(y)
    return False


def _closure(adj: list[set[int]], a: int) -> set[int]:
    out, stack = {a}, [a]
    while stack:
        for y in adj[stack.pop()]:
            if y not in out:
                out.add(y)
                stack.append(y)
    return out


def progen(
    n: int, nc: float, rf: float, rs: float, seed: int, resources: int = 4
) -> dict[str, Any]:
    """One instance of n non-dummy activities (see the module docstring)."""
    rng = random.Random(seed)
    # activities 0..n-1 in topological order; starts have no predecessor, ends no successor
    n_start = rng.randint(2, MAX_LINKS)
    n_end = rng.randint(2, MAX_LINKS)
    succ: list[set[int]] = [set() for _ in range(n)]
    pred: list[set[int]] = [set() for _ in range(n)]

    def add(i: int, j: int) -> bool:
        if j in succ[i] or len(succ[i]) >= MAX_LINKS or len(pred[j]) >= MAX_LINKS:
            return False
        if _reach(succ, i, j):  # redundant: already implied
            return False
        # the arc must not make an existing one redundant: a -> b with a before i, b after j
        before = _closure(pred, i)
        after = _closure(succ, j)
        for a in before:
            if succ[a] & after:
                return False
        succ[i].add(j)
        pred[j].add(i)
        return True

    for j in range(n_start, n):  # every non-start activity gets a predecessor
        lo = 0
        for _ in range(50):
            i = rng.randrange(lo, j)
            if i < n - n_end and add(i, j):
                break
    for i in range(n - n_end):  # every non-end activity gets a successor
        if succ[i]:
            continue
        for _ in range(50):
            j = rng.randrange(max(i + 1, n_start), n)
            if add(i, j):
                break
    # arcs from the source to the starts and from the ends to the sink count too
    arcs = sum(len(s) for s in succ)
    dummy = sum(1 for j in range(n) if not pred[j]) + sum(1 for i in range(n) if not succ[i])
    target = round(nc * (n + 2)) - dummy
    tries = 0
    while arcs < target and tries < 200 * n:
        tries += 1
        i = rng.randrange(0, n - 1)
        j = rng.randrange(i + 1, n)
        if j < n_start or i >= n - n_end:
            continue
        if add(i, j):
            arcs += 1
    dur = [rng.randint(1, 10) for _ in range(n)]
    names = [f"R{k + 1}" for k in range(resources)]
    dem: list[dict[str, int]] = []
    for _ in range(n):
        use = [k for k in range(resources) if rng.random() < rf] or [rng.randrange(resources)]
        dem.append({names[k]: rng.randint(1, 10) for k in use})
    # earliest starts and the peak usage of that schedule
    es = [0] * n
    for j in range(n):
        es[j] = max((es[i] + dur[i] for i in pred[j]), default=0)
    horizon = max(es[j] + dur[j] for j in range(n))
    cap = {}
    for r in names:
        kmin = max((d.get(r, 0) for d in dem), default=0)
        usage = [0] * (horizon + 1)
        for j in range(n):
            for t in range(es[j], es[j] + dur[j]):
                usage[t] += dem[j].get(r, 0)
        kmax = max(usage)
        cap[r] = max(1, kmin + round(rs * (kmax - kmin)))
    tasks = []
    for j in range(n):
        t: dict[str, Any] = {"id": f"j{j + 2}", "duration": dur[j], "demand": dem[j]}
        if pred[j]:
            t["after"] = [f"j{i + 2}" for i in sorted(pred[j])]
        tasks.append(t)
    return {
        "taskalloc": 1,
        "name": f"progen{n}-nc{nc}-rf{rf}-rs{rs}-s{seed}",
        "horizon": sum(dur),
        "objective": {"lexicographic": ["makespan"]},
        "x-source": {"generator": "rcpspgen progen", "jobs": n, "nc": nc, "rf": rf, "rs": rs},
        "nodes": [{"id": "site", "capacity": cap}],
        "tasks": tasks,
    }


def combine(a: dict[str, Any], b: dict[str, Any], name: str) -> dict[str, Any]:
    """Two projects side by side on the larger of their capacities per resource."""
    cap_a, cap_b = a["nodes"][0]["capacity"], b["nodes"][0]["capacity"]
    cap = {r: max(cap_a.get(r, 0), cap_b.get(r, 0)) for r in {*cap_a, *cap_b}}
    tasks = []
    for tag, src in (("a", a), ("b", b)):
        for t in src["tasks"]:
            u = dict(t)
            u["id"] = f"{tag}{t['id']}"
            if "after" in t:
                u["after"] = [f"{tag}{p}" for p in t["after"]]
            tasks.append(u)
    return {
        "taskalloc": 1,
        "name": name,
        "horizon": a.get("horizon", 0) + b.get("horizon", 0),
        "objective": {"lexicographic": ["makespan"]},
        "x-source": {"generator": "rcpspgen combine", "from": [a["name"], b["name"]]},
        "nodes": [{"id": "site", "capacity": dict(sorted(cap.items()))}],
        "tasks": tasks,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("family", choices=("progen", "combine"))
    ap.add_argument("--jobs", type=int, default=120)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rs", type=float, help="progen: this resource strength for all")
    ap.add_argument("--out", required=True, help="folder for the problem files")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    if args.family == "progen":
        for i in range(args.count):
            nc, rf, rs = rng.choice(J120_GRID)
            if args.rs is not None:
                rs = args.rs
            elif rng.random() < 0.5:
                rs = rng.choice((0.1, 0.2, 0.3))
            data = progen(args.jobs, nc, rf, rs, seed=args.seed * 1000 + i)
            (out / f"g{i:02d}.json").write_text(json.dumps(data) + "\n")
            print(out / f"g{i:02d}.json", data["name"])
    else:
        from quality import SHARED, _natural

        from taskalloc.problems.importers import import_file

        root = SHARED / "psplib_j60" / "instances"
        names = sorted((p.stem for p in root.glob("*.sm")), key=_natural)
        pairs = list(itertools.combinations(range(len(names)), 2))
        rng.shuffle(pairs)
        for i, (x, y) in enumerate(pairs[: args.count]):
            a = import_file("psplib", str(root / f"{names[x]}.sm"))
            b = import_file("psplib", str(root / f"{names[y]}.sm"))
            data = combine(a, b, f"{names[x]}+{names[y]}")
            (out / f"c{i:02d}.json").write_text(json.dumps(data) + "\n")
            print(out / f"c{i:02d}.json", data["name"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
