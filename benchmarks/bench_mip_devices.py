"""Benchmark of the MILP's device symmetry breaking (not a test): time to prove the optimum of
small bin-packing-shaped device problems with and without it, on SCIP and HiGHS. Always exits 0.

    .venv/bin/python benchmarks/bench_mip_devices.py                  # seeds 0-2, 30 s cap
    .venv/bin/python benchmarks/bench_mip_devices.py --seeds 5 --cap 60

Each instance: ``--nodes`` nodes of ``--devices`` GPU devices (size 1), ``--shares`` optional
tasks taking a random share of one device (``--low`` to ``--high``) and a few whole-device
tasks, objective ``unplaced`` (then ``nodes``): how many fit is a bin-packing proof over
identical devices. Without the symmetry breaking (``model.DEVICE_SYMMETRY``: ``none``, every
replica may use every device; ``prune``, the item at position i uses only the first i + 1
devices; ``order``, plus the ``dev_order`` rows) each packing appears in k! relabellings per
node of k devices. One line per instance, backend and setting: status, objective, seconds to
the end of the solve (a proof when the status is optimal), model size.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict


def instance(seed: int, nodes: int, devices: int, shares: int, low: float, high: float) -> Problem:
    rnd = random.Random(seed)
    ns = [
        {"id": f"g{i}", "capacity": {"cpu": 64, "gpu": devices}, "devices": {"gpu": devices}}
        for i in range(nodes)
    ]
    tasks: list[dict[str, Any]] = [
        {
            "id": f"s{i}",
            "demand": {"cpu": 1, "gpu": round(rnd.uniform(low, high), 2)},
            "required": False,
        }
        for i in range(shares)
    ]
    tasks += [
        {"id": f"w{i}", "demand": {"cpu": 1, "gpu": rnd.choice((1, 2))}, "required": False}
        for i in range(nodes)
    ]
    return problem_from_dict(
        {
            "taskalloc": 1,
            "nodes": ns,
            "tasks": tasks,
            "objective": {"lexicographic": ["unplaced", "nodes"]},
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--devices", type=int, default=4, help="devices per node")
    ap.add_argument("--shares", type=int, default=14)
    ap.add_argument("--low", type=float, default=0.35, help="smallest share")
    ap.add_argument("--high", type=float, default=0.65, help="largest share")
    ap.add_argument("--cap", type=float, default=30.0, help="time limit per solve (s)")
    args = ap.parse_args()
    from taskalloc import solvers
    from taskalloc.solvers.mip import model

    default = model.DEVICE_SYMMETRY

    print(f"{'seed':>4} {'backend':<14} {'symmetry':<9} {'status':<9} {'objective':<22} {'s':>7}")
    for seed in range(args.seeds):
        p = instance(seed, args.nodes, args.devices, args.shares, args.low, args.high)
        for backend in ("ortools-scip", "ortools-highs"):
            for mode in ("order", "prune", "none"):
                model.DEVICE_SYMMETRY = mode
                t = time.perf_counter()
                r = solvers.solve(p, "mip", backend=backend, time_limit=args.cap, workers=1, seed=0)
                took = time.perf_counter() - t
                terms = evaluate(p, r.assignments, reasons=False).objective
                obj = ", ".join(f"{k}={v:g}" for k, v in terms.items())
                size = r.options.get("model", {})
                print(
                    f"{seed:>4} {backend:<14} {mode:<9} {r.status.value:<9} "
                    f"{obj:<22} {took:7.2f}  ({size.get('variables')} cols, "
                    f"{size.get('constraints')} rows)",
                    flush=True,
                )
    model.DEVICE_SYMMETRY = default


if __name__ == "__main__":
    main()
