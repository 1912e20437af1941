"""Benchmark of the MILP's device forms and symmetry breaking (not a test): time to prove the
optimum of small bin-packing-shaped device problems, on SCIP and HiGHS. Always exits 0.

    .venv/bin/python benchmarks/bench_mip_devices.py                  # seeds 0-2, 30 s cap
    .venv/bin/python benchmarks/bench_mip_devices.py --seeds 5 --cap 60

Each instance: ``--nodes`` nodes of ``--devices`` GPU devices (size 1), ``--shares`` optional
tasks taking a random share of one device (``--low`` to ``--high``, rounded to ``--step``) and
a few whole-device tasks, objective ``unplaced`` (then ``nodes``): how many fit is a
bin-packing proof over identical devices. Forms (model.py): ``patterns``, the default where
the shares come in few sizes (counts of maximal patterns per node: no device symmetry at all);
then the assignment form (one binary per replica and device) with ``order`` (devices ordered
by their lowest user: pruned variables and ``dev_order`` rows), ``prune`` (the pruning alone:
the assignment form's default) and ``none`` (each packing appears in k! relabellings per node
of k devices). One line per instance, backend and form: status, objective, seconds to the end
of the solve (a proof when the status is optimal), model size.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, problem_from_dict


def instance(
    seed: int, nodes: int, devices: int, shares: int, low: float, high: float, step: float
) -> Problem:
    rnd = random.Random(seed)
    ns = [
        {"id": f"g{i}", "capacity": {"cpu": 64, "gpu": devices}, "devices": {"gpu": devices}}
        for i in range(nodes)
    ]
    tasks: list[dict[str, Any]] = [
        {
            "id": f"s{i}",
            "demand": {"cpu": 1, "gpu": round(round(rnd.uniform(low, high) / step) * step, 6)},
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
    ap.add_argument("--step", type=float, default=0.05, help="shares are multiples of this")
    ap.add_argument("--cap", type=float, default=30.0, help="time limit per solve (s)")
    args = ap.parse_args()
    from taskalloc import solvers
    from taskalloc.solvers.mip import model

    default, default_patterns = model.DEVICE_SYMMETRY, model.MAX_PATTERNS

    print(f"{'seed':>4} {'backend':<14} {'form':<9} {'status':<9} {'objective':<22} {'s':>7}")
    for seed in range(args.seeds):
        p = instance(seed, args.nodes, args.devices, args.shares, args.low, args.high, args.step)
        for backend in ("ortools-scip", "ortools-highs"):
            for mode in ("patterns", "order", "prune", "none"):
                model.MAX_PATTERNS = default_patterns if mode == "patterns" else 0
                model.DEVICE_SYMMETRY = default if mode == "patterns" else mode
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
    model.DEVICE_SYMMETRY, model.MAX_PATTERNS = default, default_patterns


if __name__ == "__main__":
    main()
