"""Solve every bundled example with CP-SAT next to the greedy (a benchmark, not a test).

For each file in examples/: CP-SAT (2 workers, 20 s by default) and the greedy with each policy
(the best one by the evaluator's fitness is shown). Every plan is checked by the evaluator;
the objective values printed are the evaluator's. Exits 1 if a plan fails the evaluator.

    .venv/bin/python benchmarks/bench_cpsat_examples.py
    .venv/bin/python benchmarks/bench_cpsat_examples.py --time-limit 5 --workers 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.problem import Problem, load_problem
from taskalloc.solvers.cpsat import solve as cpsat
from taskalloc.solvers.greedy import POLICIES
from taskalloc.solvers.greedy import solve as greedy
from taskalloc.solvers.result import Result

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _terms(problem: Problem, values: dict[str, float]) -> str:
    return ", ".join(f"{t} {values[t]:g}" for t in problem.objective.terms if t in values)


def _checked(problem: Problem, result: Result) -> tuple[bool, dict[str, float], float]:
    ev = evaluate(problem, result.assignments, reasons=False)
    ok = ev.feasible or not result.has_plan
    return ok, ev.objective, ev.fitness


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    files = args.files or sorted(EXAMPLES.glob("*.yaml"))
    bad = 0
    for path in files:
        problem = load_problem(str(path))
        print(f"== {path.name}: {problem.objective.describe()}")

        t0 = time.perf_counter()
        best: tuple[float, str, Result] | None = None
        for policy in POLICIES:
            res = greedy(problem, policy=policy)
            ok, _, fit = _checked(problem, res)
            bad += not ok
            if res.has_plan and (best is None or fit < best[0]):
                best = (fit, policy, res)
        g_secs = time.perf_counter() - t0
        if best is None:
            print(f"  greedy   no plan ({g_secs:.2f} s, all policies)")
        else:
            _, g_obj, _ = _checked(problem, best[2])
            print(f"  greedy   {_terms(problem, g_obj)}  [{best[1]}; {g_secs:.2f} s, all policies]")

        res = cpsat(problem, time_limit=args.time_limit, workers=args.workers, seed=args.seed)
        ok, obj, _ = _checked(problem, res)
        bad += not ok
        bound = ", ".join(f"{k} {v:g}" for k, v in (res.bound or {}).items()) or "-"
        verdict = "evaluator OK" if ok else "EVALUATOR REJECTS THE PLAN"
        print(
            f"  cpsat    {_terms(problem, obj)}  [{res.status}; bound {bound}; "
            f"{res.seconds:.2f} s; {verdict}]"
        )
        print(f"           {res.message}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
