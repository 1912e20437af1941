"""Load + validate speed on a generated 10,000-task, 1,000-node problem (YAML and JSON).

Targets: YAML under 3 s, JSON under 1 s (parse + schema + cross-references + compile).
Not a test: prints numbers.   python benchmarks/bench_load.py [--tasks N] [--nodes M]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from taskalloc.problems.generate import generate
from taskalloc.problems.plan import dumps
from taskalloc.problems.problem import load_problem, prove_infeasible


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    ap.add_argument("--resources", type=int, default=4)
    ap.add_argument("--scheduling", action="store_true")
    args = ap.parse_args()
    data = generate(
        args.tasks, args.nodes, scheduling=args.scheduling, seed=1, resources=args.resources
    )
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("yaml", "json"):
            path = Path(tmp) / f"problem.{fmt}"
            path.write_text(dumps(data, fmt) if fmt == "yaml" else json.dumps(data))
            size = path.stat().st_size / 1e6
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                problem = load_problem(str(path))
                t1 = time.perf_counter()
                best = min(best, t1 - t0)
            t0 = time.perf_counter()
            proofs = prove_infeasible(problem)
            pre = time.perf_counter() - t0
            print(
                f"{fmt:4s} {size:6.1f} MB  {len(problem.tasks)} tasks x {len(problem.nodes)} nodes:"
                f" load+validate {best:.2f} s (best of 3); infeasibility pre-checks {pre:.2f} s"
                f" ({len(proofs)} proofs)"
            )


if __name__ == "__main__":
    main()
