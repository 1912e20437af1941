"""Scale benchmark: large placement problems through the CP-SAT engine's LNS, against the greedy.

Instances (issue 3): OptaPlanner's cloud-balancing files with 100 and 200 computers (read from
../shared/benchmarks), cloud balancing from ``benchmarks/cloudgen.py`` with 400, 800, 1,200, 1,600
and 2,400 computers (3 processes per computer) and 2,400 computers with 7,000 processes, and the
generated placement problem ``generate(10000, 1000, resources=4, seed=1)``. Each instance runs
in a fresh process (so that peak RSS is its own), and prints one line:

* ``greedy``: the greedy the exact path would start from (best-fit for cost), unplaced / cost;
* ``ours``: ``solvers.solve(problem, "cpsat", time_limit=60, workers=2)`` (the LNS), checked
  by the evaluator;
* ``bound``: the lower bound of ``Result.bound`` on the cost (the LP relaxation, see
  ``solvers/cpsat/bounds.py``), ``gap%`` = (ours - bound) / ours;
* ``s``: seconds in the solver (problem building not included, shown as ``build``), and the
  process's peak RSS in MB (``resource.getrusage``);
* cloud instances: ``FFD``, the cost of OptaPlanner's first-fit-decreasing plan
  (``cloudgen.first_fit_decreasing``, which reproduces OptaPlanner's published FFD scores on
  its 100- and 200-computer files exactly), ``ours/FFD``, and ``OptaP/FFD``: OptaPlanner's best
  5-minute cost over its FFD cost in its 2013 benchmark report at that size (100 to 800
  computers; ``~``: larger sizes use the 800-computer ratio, none being published). Our
  generated instances are not OptaPlanner's files, so this ratio, not the cost, is what can be
  compared. ``shared-100``/``shared-200`` are OptaPlanner's own files, where both compare.

    python benchmarks/bench_scale.py                     # every instance, 60 s each
    python benchmarks/bench_scale.py --only cloud-800,gen-10000 --budget 30
    python benchmarks/bench_scale.py --only cloud-1600 --workers 1 --deterministic [--no-pack]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

INSTANCES: dict[str, tuple[str, tuple[int, ...]]] = {
    "shared-100": ("shared", (100, 300)),  # OptaPlanner's own files, from ../shared/benchmarks
    "shared-200": ("shared", (200, 600)),
    "cloud-400": ("cloud", (400, 1200)),
    "cloud-800": ("cloud", (800, 2400)),
    "cloud-1200": ("cloud", (1200, 3600)),
    "cloud-1600": ("cloud", (1600, 4800)),
    "cloud-2400": ("cloud", (2400, 7200)),
    "cloud-2400x7000": ("cloud", (2400, 7000)),
    "gen-10000": ("generate", (10000, 1000)),
}


from quality import SHARED as _BENCHMARKS  # noqa: E402

SHARED = _BENCHMARKS / "cloudbalancing"


def data_of(name: str, seed: int) -> dict[str, Any]:
    kind, args = INSTANCES[name]
    if kind == "shared":
        path = SHARED / "instances" / f"{args[0]}computers-{args[1]}processes.json"
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    if kind == "cloud":
        from cloudgen import generate_cloud

        return generate_cloud(args[0], args[1], seed=seed)
    from taskalloc.problems.generate import generate

    return generate(args[0], args[1], resources=4, seed=1)


def build(name: str, seed: int) -> Any:
    from taskalloc.problems.problem import problem_from_dict

    return problem_from_dict(data_of(name, seed), name=name)


def optaplanner_ratio(computers: int) -> tuple[float, str]:
    """OptaPlanner's best 5-minute cost / its FFD cost, published at this size or (marked ~)
    at the largest published size below it."""
    from cloudgen import OPTAPLANNER_2013

    size = max((c for c in OPTAPLANNER_2013 if c <= computers), default=min(OPTAPLANNER_2013))
    ffd, best = OPTAPLANNER_2013[size]
    return best / ffd, "" if size == computers else "~"


def one(
    name: str,
    budget: float,
    seed: int,
    workers: int,
    mem_gb: float | None,
    deterministic: bool = False,
    pack: bool = True,
) -> dict[str, Any]:
    """Run one instance in this process; the result as a dict."""
    if not pack:  # the A/B switch of --no-pack: the LNS without solvers/costpack.py's moves
        from taskalloc.solvers import costpack

        costpack.applies = lambda *args, **kwargs: False  # type: ignore[assignment]
    if mem_gb:
        limit = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from taskalloc import solvers
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.solvers import greedy
    from taskalloc.solvers.warm import policy_for as _policy

    t0 = time.perf_counter()
    data = data_of(name, seed)
    problem = build(name, seed)
    built = time.perf_counter() - t0
    ffd = None
    if INSTANCES[name][0] in ("cloud", "shared"):
        from cloudgen import first_fit_decreasing

        ffd = first_fit_decreasing(data)
    t0 = time.perf_counter()
    g = greedy.solve(problem, policy=_policy(problem))
    g_s = time.perf_counter() - t0
    gev = evaluate(problem, g.assignments, reasons=False)
    t0 = time.perf_counter()
    r = solvers.solve(
        problem,
        "cpsat",
        time_limit=budget,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
    )
    seconds = time.perf_counter() - t0
    ev = evaluate(problem, r.assignments, reasons=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "instance": name,
        "tasks": len(problem.tasks),
        "nodes": len(problem.nodes),
        "build": built,
        "greedy_unplaced": gev.terms["unplaced"],
        "greedy_cost": gev.terms["cost"],
        "greedy_feasible": gev.feasible,
        "greedy_seconds": g_s,
        "status": str(r.status),
        "feasible": ev.feasible,
        "unplaced": ev.terms["unplaced"],
        "cost": ev.terms["cost"],
        "bound": (r.bound or {}).get("cost"),
        "seconds": seconds,
        "rss_mb": rss,
        "message": r.message,
        "search": r.options.get("search"),
        "ffd": ffd,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma-separated instance names: " + ", ".join(INSTANCES))
    ap.add_argument("--mem-gb", type=float, default=None, help="address-space limit per run")
    ap.add_argument(
        "--deterministic",
        action="store_true",
        help="CP-SAT deterministic time (the budget counts sub-solves: budget / 0.25), "
        "a fixed number of packing moves: equal seeds give equal plans at any load",
    )
    ap.add_argument(
        "--no-pack", action="store_true", help="the LNS without the packing moves (A/B)"
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="also print each result as JSON")
    args = ap.parse_args()
    if args.one:
        row = one(
            args.one,
            args.budget,
            args.seed,
            args.workers,
            args.mem_gb,
            deterministic=args.deterministic,
            pack=not args.no_pack,
        )
        print(json.dumps(row))
        return 0
    names = args.only.split(",") if args.only else list(INSTANCES)
    print(
        f"# scale: {len(names)} instances, {args.budget:g} s each, {args.workers} workers, "
        f"seed {args.seed}"
        + (", deterministic" if args.deterministic else "")
        + (", no packing moves" if args.no_pack else ""),
        flush=True,
    )
    head = (
        f"{'instance':16s} {'tasks':>6s} {'nodes':>5s} {'build':>5s} | {'greedy':>16s} "
        f"{'g s':>5s} | {'ours':>16s} {'bound':>9s} {'gap%':>6s} {'status':>8s} {'s':>5s} "
        f"{'MB':>6s} {'vs greedy':>9s} | {'FFD':>9s} {'ours/FFD':>8s} {'OptaP/FFD':>9s}"
    )
    print(head, flush=True)
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--budget", str(args.budget)]
        cmd += ["--seed", str(args.seed), "--workers", str(args.workers)]
        if args.mem_gb:
            cmd += ["--mem-gb", str(args.mem_gb)]
        if args.deterministic:
            cmd.append("--deterministic")
        if args.no_pack:
            cmd.append("--no-pack")
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{name:16s} FAILED: {out.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(_line(row), flush=True)
        if args.json:
            print(json.dumps(row), flush=True)
    return 0


def _line(r: dict[str, Any]) -> str:
    def pair(unplaced: float, cost: float) -> str:
        return f"{unplaced:g}/{cost:.6g}"

    bound = r["bound"]
    gap = 100 * (r["cost"] - bound) / r["cost"] if bound is not None and r["cost"] else None
    better = 100 * (r["greedy_cost"] - r["cost"]) / r["greedy_cost"] if r["greedy_cost"] else 0.0
    status = r["status"] if r["feasible"] else "INVALID"
    return (
        f"{r['instance']:16s} {r['tasks']:6d} {r['nodes']:5d} {r['build']:5.1f} | "
        f"{pair(r['greedy_unplaced'], r['greedy_cost']):>16s} {r['greedy_seconds']:5.1f} | "
        f"{pair(r['unplaced'], r['cost']):>16s} "
        f"{(f'{bound:.6g}' if bound is not None else '-'):>9s} "
        f"{(f'{gap:.2f}' if gap is not None else '-'):>6s} {status:>8s} {r['seconds']:5.1f} "
        f"{r['rss_mb']:6.0f} {better:8.1f}% | {ffd_part(r)}"
    )


def ffd_part(r: dict[str, Any]) -> str:
    """FFD cost, ours / FFD, and OptaPlanner's published best / FFD (cloud instances)."""
    if r.get("ffd") is None:
        return f"{'-':>9s} {'-':>8s} {'-':>9s}"
    ratio, mark = optaplanner_ratio(r["nodes"])
    return f"{r['ffd']:9d} {r['cost'] / r['ffd']:8.3f} {mark + f'{ratio:.3f}':>9s}"


if __name__ == "__main__":
    raise SystemExit(main())
