"""Benchmark: the online dispatcher (``taskalloc simulate`` on a scheduling problem) against the
plan that sees everything (``taskalloc solve``), on generated scheduling problems with GPU
devices (issue 16's figure; not a test, always exits 0).

    .venv/bin/python benchmarks/bench_online.py                     # 500 tasks, 50 nodes, seed 1
    .venv/bin/python benchmarks/bench_online.py --seeds 1,2,3 --time-limit 60
    .venv/bin/python benchmarks/bench_online.py --services --same-start --json online.json

For each seed, ``taskalloc generate --tasks N --nodes M --seed S --devices --scheduling`` (plus
``--services``, ``--gangs-same-start``, ``--zones`` when asked) is replayed by every policy
(least-loaded, best-fit, first-fit) with every queue (fifo, shortest-first, priority); each
replay is deterministic and takes well under a second. The plan is ``solve -s cpsat`` when
CP-SAT handles every feature of the problem (solvers/features.py HANDLED; devices are coming
to it), else ``solve -s auto`` (which then picks the greedy, or the device planner for a
placement problem), with ``--time-limit`` seconds; ``--solver`` forces one. The table gives,
for each policy and queue, the makespan and tardiness and their ratio to the plan's (both
plans and replays are checked by the evaluator; a replay's plan may only break `required`,
when it left a required task out), the tasks left out (the replay leaves out a task that can no
longer meet its deadline or the horizon) and the mean and p95 wait.

Tables go to stdout (markdown), with the load average before and after (the figures do not
depend on the load, except the plan's when its time limit binds); ``--json FILE`` keeps every
number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import taskalloc
from taskalloc.problems.generate import generate
from taskalloc.solvers.features import unhandled
from taskalloc.solvers.online.schedule import POLICY_HELP, QUEUES


def load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def plan_engine(problem: Any, forced: str | None) -> tuple[str, str]:
    """The engine of the plan and why: cpsat when it handles the problem, else auto."""
    if forced is not None:
        return forced, "forced by --solver"
    missing = unhandled(problem, "cpsat")
    if not missing:
        return "cpsat", "cpsat handles every feature of the problem"
    return "auto", f"cpsat does not handle {', '.join(missing)} yet"


def terms(problem: Any, plan: Any) -> dict[str, float]:
    t = plan.metrics["terms"]
    return {
        "makespan": float(t["makespan"]),
        "tardiness": float(t["tardiness"]),
        "unplaced_tasks": float(len(plan.unplaced)),
    }


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    data = generate(
        args.tasks,
        args.nodes,
        scheduling=True,
        seed=seed,
        devices=True,
        zones=args.zones,
        services=args.services,
        same_start=args.same_start,
    )
    problem = taskalloc.load(data)
    out: dict[str, Any] = {"seed": seed, "features": sorted(problem.features), "replays": []}
    for policy in POLICY_HELP:
        for queue in QUEUES:
            t0 = time.perf_counter()
            sim = taskalloc.simulate(problem, policy, queue=queue)
            seconds = time.perf_counter() - t0
            plan = sim.to_plan(problem)
            # the replay may leave a required task out (it missed its deadline or the horizon):
            # check then reports `required` (and the plan says status unknown), nothing else
            broken = sorted({v.kind for v in taskalloc.check(problem, plan).violations})
            ok = set(broken) <= {"required"}
            m = sim.metrics
            out["replays"].append(
                {
                    "policy": policy,
                    "queue": queue,
                    "makespan": m["makespan"],
                    "tardiness": m["tardiness"],
                    "unplaced_tasks": m["unplaced"],
                    "missed_deadline": m["missed_deadline"],
                    "mean_wait": m["mean_wait"],
                    "p95_wait": m["p95_wait"],
                    "seconds": round(seconds, 3),
                    "checked": ok,
                    "violations": broken,
                }
            )
    engine, why = plan_engine(problem, args.solver)
    t0 = time.perf_counter()
    result = taskalloc.solve(problem, engine, time_limit=args.time_limit, seed=seed)
    seconds = time.perf_counter() - t0
    plan = result.to_plan(problem)
    out["plan"] = {
        "asked": engine,
        "why": why,
        "solver": result.solver,
        "status": str(result.status),
        "message": result.message,
        "seconds": round(seconds, 2),
        "checked": taskalloc.check(problem, plan).ok,
        **terms(problem, plan),
    }
    return out


def ratio(x: float, base: float) -> str:
    return "–" if base <= 0 else f"{x / base:.2f}"


def table(res: dict[str, Any]) -> str:
    p = res["plan"]
    lines = [
        f"### seed {res['seed']} (features: {', '.join(res['features']) or 'none'})",
        "",
        f"plan: `-s {p['asked']}` ({p['why']}): solver {p['solver']}, status {p['status']}, "
        f"makespan {p['makespan']:g}, tardiness {p['tardiness']:g}, "
        f"{p['unplaced_tasks']:g} tasks unplaced, {p['seconds']} s, "
        f"check {'ok' if p['checked'] else 'FAILED'}",
        "",
        "| policy | queue | makespan | x plan | tardiness | x plan | unplaced (missed) "
        "| wait mean / p95 | s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["replays"]:
        flag = "" if r["checked"] else " CHECK FAILED: " + ", ".join(r["violations"])
        lines.append(
            f"| {r['policy']} | {r['queue']} | {r['makespan']:g} | "
            f"{ratio(r['makespan'], p['makespan'])} | {r['tardiness']:g} | "
            f"{ratio(r['tardiness'], p['tardiness'])} | {r['unplaced_tasks']} "
            f"({r['missed_deadline']}) | {r['mean_wait']:.1f} / {r['p95_wait']:g} | "
            f"{r['seconds']:.2f}{flag} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--seeds", default="1", help="comma-separated generator seeds")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds for the plan")
    ap.add_argument(
        "--solver", default=None, help="the plan's engine (default: cpsat if it handles it)"
    )
    ap.add_argument("--services", action="store_true", help="generate --services")
    ap.add_argument("--same-start", action="store_true", help="generate --gangs-same-start")
    ap.add_argument("--zones", action="store_true", help="generate --zones (spread)")
    ap.add_argument("--json", default=None, help="write every number here")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    print(f"# online dispatch against the plan: {args.tasks} tasks, {args.nodes} nodes, devices")
    print(f"\nload average before: {load()} ({os.cpu_count()} CPUs)\n")
    results = []
    for seed in seeds:
        res = run_seed(args, seed)
        results.append(res)
        print(table(res), "\n", flush=True)
    print(f"load average after: {load()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
