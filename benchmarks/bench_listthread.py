"""A load-independent proxy of the hybrid's list thread, for A/B tests of its search.

    python benchmarks/bench_listthread.py                       # 4 hard j60 instances, seeds 0-3
    python benchmarks/bench_listthread.py --seeds 4,5,6,7 --const hybrid.LNS_TOP=1
    python benchmarks/bench_listthread.py --rounds 0 --init 4000 # the list search alone

The ``-s cpsat`` scheduling search (``solvers/cpsat/hybrid.py``) runs against the wall clock,
so on a shared 2-core machine two runs of the same code end a unit or two apart on the j60
instances that nothing proves, as far apart as two versions of the search. This script runs
what the hybrid's second thread runs, bounded in steps and in CP-SAT deterministic time
instead of seconds, so that a run repeats whatever the load: ``--init`` list search steps
(:class:`ListSearch`), then ``--rounds`` times one CP-SAT neighbourhood slice as
``hybrid._Hybrid._lns_slice`` runs it (``use_lns_only``, ``interleave_search``, one worker,
``hybrid.LNS_DTIME`` of deterministic time, hinted with one of the pool's ``hybrid.LNS_TOP``
best) followed by ``--between`` list steps. It leaves out the hybrid's CP-SAT full search
(which proves the easy instances and finds next to nothing on the others in 10 s) and the
stall rule that decides when a slice runs; A/B a change here first, then confirm it on the
hybrid itself with ``bench_rcpsp.py``.

``--const module.NAME=VALUE`` sets a constant of ``hybrid``, ``listsearch`` or ``timeline``
(e.g. ``listsearch.ELITE=80``). Prints each run's best after the list search and after each
round, and the summed final makespans (the A/B figure); ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rcpsp import _load, _loadavg

from taskalloc.problems.problem import problem_from_dict
from taskalloc.solvers.cpsat import hybrid, listsearch, timeline
from taskalloc.solvers.cpsat.listsearch import ListSearch, Pool
from taskalloc.solvers.cpsat.model import AllocationModel
from taskalloc.solvers.cpsat.timeline import Timeline
from taskalloc.solvers.scaling import choose_scales
from taskalloc.solvers.warm import safe_horizon

HARD = "j605_3,j609_5,j6013_1,j6013_7"
MODULES = {"hybrid": hybrid, "listsearch": listsearch, "timeline": timeline}


def build(data: dict[str, Any], name: str) -> Timeline:
    problem = problem_from_dict(data, name=name)
    model = AllocationModel(
        problem, choose_scales(problem), problem.objective.active(), safe_horizon(problem)
    )
    tl = Timeline.build(model)
    if tl is None:
        raise SystemExit(f"{name}: not a pure scheduling problem the list search can run on")
    tl.set_objective({"makespan": 1})
    return tl


def run(tl: Timeline, seed: int, init: int, rounds: int, between: int) -> list[int]:
    """The best makespan after the list search, then after each round."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.native import cp_solver

    pool = Pool(tl)
    search = ListSearch(tl, pool, seed)
    rng = random.Random(seed + 2)  # as the hybrid's slice_rng
    model, starts, _ = tl.plain_model()
    while search.steps < init:
        search.step()
    trail = [pool.best.value] if pool.best else []
    for k in range(rounds):
        hint = search.hint(rng, hybrid.LNS_TOP)
        if hint is not None:
            sub = model.clone()
            sub.clear_hints()
            for var, v in zip(starts, hint.start.tolist(), strict=True):
                sub.add_hint(var, v)
            solver = cp_solver()
            prm = solver.parameters
            prm.num_workers = 1
            prm.random_seed = seed + 1000 + k
            prm.catch_sigint_signal = False
            prm.interleave_search = True
            prm.use_lns_only = True
            prm.max_deterministic_time = hybrid.LNS_DTIME

            class Callback(cp_model.CpSolverSolutionCallback):
                def on_solution_callback(self) -> None:
                    start = np.array([self.value(v) for v in starts], dtype=np.int64)
                    search.offer_found(start, "cpsat-lns")

            solver.solve(sub, Callback())
        goal = search.steps + between
        while search.steps < goal:
            search.step()
        trail.append(pool.best.value if pool.best else -1)
    return trail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", default="psplib_j60", help="a PSPLIB set under ../shared/benchmarks")
    ap.add_argument("--generated", help="a folder of generated problems (rcpspgen.py)")
    ap.add_argument("--instances", default=HARD, help=f"comma-separated (default {HARD})")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--init", type=int, default=1500, help="list steps before the first slice")
    ap.add_argument("--rounds", type=int, default=6, help="slices, each then --between steps")
    ap.add_argument("--between", type=int, default=300)
    ap.add_argument("--const", action="append", default=[], help="module.NAME=VALUE")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args()
    for item in args.const:
        key, _, value = item.partition("=")
        mod, _, attr = key.partition(".")
        if mod not in MODULES or not hasattr(MODULES[mod], attr):
            raise SystemExit(f"--const {item}: no constant {key} in {', '.join(MODULES)}")
        setattr(MODULES[mod], attr, ast.literal_eval(value))
    wanted = args.instances.split(",")
    items = [it for it in _load(args.set, args.generated) if it[0] in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"# {len(items)} instances, seeds {seeds}, init {args.init}, rounds {args.rounds} x "
        f"(slice of {hybrid.LNS_DTIME} dt from the {hybrid.LNS_TOP} best, {args.between} "
        f"steps); {' '.join(args.const) or 'no --const'}; load {_loadavg()}",
        flush=True,
    )
    rows, total, t0 = [], 0, time.perf_counter()
    for name, data, known in items:
        tl = build(data, name)
        for seed in seeds:
            trail = run(tl, seed, args.init, args.rounds, args.between)
            total += trail[-1]
            rows.append({"instance": name, "known": known, "seed": seed, "trail": trail})
            print(f"{name:10s} seed {seed}: {' '.join(map(str, trail))}", flush=True)
    print(
        f"== summed final makespans {total} over {len(rows)} runs "
        f"({time.perf_counter() - t0:.0f} s); load at the end {_loadavg()}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
