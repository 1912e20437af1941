"""Format revision 2 on generated GPU fleets (issue 13): every engine that handles the problem's
features, at several time limits, against the greedy and against the engine's bound.

The problems are ``taskalloc generate`` ones with every revision-2 feature (placement:
``--devices --zones``; scheduling: ``--devices --zones --services --gangs-same-start
--scheduling``), 200 tasks x 40 nodes and 2,000 x 200 by default, seed 1 (the same as
``taskalloc generate -n 200 -m 40 --devices --zones --seed 1``). Every plan is checked by the
evaluator (device indices included); a plan that fails is reported as ``REJECTED``.

Not a test: prints one table (Markdown) and the load average.

    python benchmarks/bench_rev2.py                       # every engine, 10 s and 60 s
    python benchmarks/bench_rev2.py --budgets 10 --engines cpsat,greedy --sizes 200x40
    python benchmarks/bench_rev2.py --symmetry            # device symmetry breaking: on/off

``--symmetry`` measures what breaking the symmetry of identical devices is worth: small
instances whose optimum needs the devices packed, solved by cpsat with one worker with the
symmetry breaking on and off (``taskalloc.solvers.cpsat.model.DEVICE_SYMMETRY``), time to prove
optimality (or what is left at the limit).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers import features


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def instance(tasks: int, nodes: int, scheduling: bool, seed: int) -> Problem:
    data = generate(
        tasks,
        nodes,
        scheduling=scheduling,
        seed=seed,
        devices=True,
        zones=True,
        services=scheduling,
        same_start=scheduling,
    )
    return problem_from_dict(data)


def objective(problem: Problem, terms: dict[str, float]) -> tuple[float, ...]:
    obj = problem.objective
    if obj.kind == "lexicographic":
        return tuple(terms[t] for t in obj.terms)
    return (sum(w * terms[t] for t, w in obj.weights.items()),)


def show(values: tuple[float, ...] | None) -> str:
    if values is None:
        return "-"
    return ", ".join(f"{v:g}" if v == int(v) else f"{v:.4g}" for v in values)


def versus(mine: tuple[float, ...], ref: tuple[float, ...]) -> str:
    """The first term that differs, as a relative change (negative: better than ``ref``)."""
    for a, b in zip(mine, ref, strict=True):
        if abs(a - b) > 1e-9:
            rel = (a - b) / abs(b) * 100 if b else float("inf") if a > b else float("-inf")
            return f"{rel:+.1f} %"
    return "="


def run(problem: Problem, engine: str, budget: float, workers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        r = solvers.solve(problem, engine, time_limit=budget, workers=workers)
    except Exception as exc:  # a refusal or a crash is a row, not the end of the table
        return {"status": f"error: {type(exc).__name__}: {str(exc)[:60]}"}
    seconds = time.perf_counter() - t0
    ev = evaluate(problem, r.assignments, reasons=False)
    out: dict[str, Any] = {"status": str(r.status.value), "seconds": seconds, "engine": r.solver}
    if r.has_plan:
        out["status"] = out["status"] if ev.feasible else "REJECTED"
        out["value"] = objective(problem, ev.terms)
    bound = r.bound or {}
    obj = problem.objective
    if obj.kind == "lexicographic":
        got = [bound.get(t) for t in obj.terms]
        if got[0] is not None:
            out["bound"] = tuple(b for b in got if b is not None)
    elif "weighted" in bound:
        out["bound"] = (bound["weighted"],)
    return out


def table(args: argparse.Namespace) -> None:
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"load average at start: {loadavg()}; workers {args.workers}; seed {args.seed}")
    print()
    print(
        "| problem | engine | limit | status | objective | vs greedy | bound | gap to bound | "
        "seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        tasks, nodes = (int(x) for x in size.split("x"))
        for mode in args.modes.split(","):
            sched = mode == "scheduling"
            problem = instance(tasks, nodes, sched, args.seed)
            name = f"{tasks} x {nodes} {mode} ({', '.join(sorted(problem.features))})"
            greedy = run(problem, "greedy", 1e9, args.workers)
            ref = greedy.get("value")
            print(
                f"| {name} | greedy | - | {greedy['status']} | {show(ref)} | = | - | - | "
                f"{greedy.get('seconds', 0):.1f} |"
            )
            engines = [e for e in args.engines.split(",") if e != "greedy"]
            for engine in engines:
                if engine != "auto" and features.unhandled(problem, engine):
                    missing = ", ".join(features.unhandled(problem, engine))
                    print(f"| {name} | {engine} | - | refuses ({missing}) | | | | | |")
                    continue
                for budget in budgets:
                    row = run(problem, engine, budget, args.workers)
                    value, bound = row.get("value"), row.get("bound")
                    vs = versus(value, ref) if value is not None and ref is not None else "-"
                    gap = "-"
                    if value is not None and bound is not None:
                        # the terms the bound covers (lexicographic: proven ones and the next)
                        gap = versus(value[: len(bound)], bound)
                    label = engine if engine != "auto" else f"auto ({row.get('engine', '?')})"
                    print(
                        f"| {name} | {label} | {budget:g} s | {row['status']} | {show(value)} | "
                        f"{vs} | {show(bound)} | {gap} | {row.get('seconds', 0):.1f} |",
                        flush=True,
                    )
    print()
    print(f"load average at the end: {loadavg()}")


# -- the device symmetry ---------------------------------------------------------------------


def timed(devices: int, nodes: int, seed: int) -> Problem:
    """Jobs of 1 to ``devices`` whole GPUs and half-GPU shares, 1-6 time units each, on nodes
    of ``devices`` GPUs split into devices; minimise the makespan. The node's GPU pool admits
    schedules the devices do not (fragmentation), so proofs must reason about devices."""
    import random

    rnd = random.Random(seed)
    tasks = []
    for i in range(4 * devices * nodes // 2):
        gpu: float = rnd.choice((0.5, 1, 1, 2, 3)) if devices >= 3 else rnd.choice((0.5, 1, 2))
        tasks.append({"id": f"t{i}", "demand": {"gpu": gpu}, "duration": rnd.randint(1, 6)})
    node = {"id": "g", "count": nodes, "capacity": {"gpu": devices}, "devices": {"gpu": devices}}
    if nodes == 1:
        node.pop("count")
    data = {"taskalloc": 1, "nodes": [node], "tasks": tasks}
    data["objective"] = {"lexicographic": ["makespan"]}
    return problem_from_dict(data)


def packing(devices: int, nodes: int, seed: int) -> Problem:
    """Optional shares of 0.3-0.7 GPU and 1-2 whole-GPU jobs on nodes of ``devices`` GPUs
    each (split into devices): more demand than devices, so the optimum packs the shares."""
    import random

    rnd = random.Random(seed)
    tasks = []
    total = 0.0
    i = 0
    while total < 1.25 * devices * nodes:
        if rnd.random() < 0.25:
            gpu: float = rnd.choice((1, 2))
        else:
            gpu = rnd.choice((0.3, 0.4, 0.5, 0.6, 0.7))
        tasks.append(
            {
                "id": f"t{i}",
                "demand": {"gpu": gpu},
                "required": False,
                "priority": rnd.choice((1, 2, 3)),
            }
        )
        total += gpu
        i += 1
    node = {"id": "g", "count": nodes, "capacity": {"gpu": devices}, "devices": {"gpu": devices}}
    data = {"taskalloc": 1, "nodes": [node], "tasks": tasks}
    data["objective"] = {"lexicographic": ["unplaced"]}
    return problem_from_dict(data)


def symmetry(args: argparse.Namespace) -> None:
    from taskalloc.solvers.cpsat import model

    limit = float(args.budgets.split(",")[0])
    print(f"load average at start: {loadavg()}; cpsat, 1 worker, limit {limit:g} s")
    print()
    print("| instance | symmetry breaking | status | objective | bound | seconds |")
    print("|---|---|---|---|---|---|")
    cases = [("placement", packing, d, n) for d, n in ((4, 2), (8, 1), (8, 2), (8, 3))]
    cases += [("scheduling", timed, d, n) for d, n in ((4, 1), (4, 2), (8, 1))]
    for kind, make, devices, nodes in cases:
        if args.symmetry_kind and kind != args.symmetry_kind:
            continue
        for seed in range(args.repeat):
            problem = make(devices, nodes, seed)
            term = problem.objective.terms[0]
            for on in (True, False):
                model.DEVICE_SYMMETRY = on
                t0 = time.perf_counter()
                r = solvers.solve(problem, "cpsat", time_limit=limit, workers=1, seed=0)
                seconds = time.perf_counter() - t0
                ev = evaluate(problem, r.assignments, reasons=False)
                assert ev.feasible, ev.violations[:3]
                bound = (r.bound or {}).get(term)
                print(
                    f"| {kind}: {nodes} x {devices} GPUs, {len(problem.tasks)} tasks, seed {seed} "
                    f"| {'on' if on else 'off'} | {r.status.value} | {term} {ev.terms[term]:g} | "
                    f"{'-' if bound is None else f'{bound:g}'} | {seconds:.2f} |",
                    flush=True,
                )
    model.DEVICE_SYMMETRY = True
    print()
    print(f"load average at the end: {loadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="200x40,2000x200", help="TASKSxNODES, comma-separated")
    ap.add_argument("--modes", default="placement,scheduling")
    ap.add_argument("--budgets", default="10,60", help="seconds per solve, comma-separated")
    ap.add_argument(
        "--engines",
        default=",".join([*solvers.ENGINES, "auto"]),
        help="engines to run (those that do not handle the features are listed as refusing)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--symmetry", action="store_true", help="device symmetry breaking on/off")
    ap.add_argument("--repeat", type=int, default=2, help="--symmetry: seeds per instance")
    ap.add_argument("--symmetry-kind", choices=["placement", "scheduling"], default=None)
    args = ap.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if args.symmetry:
        symmetry(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
