"""One problem on many workers (issue 18): ``solve --partitions K`` against the single-process
engine, and the scaling curve over K.

Two measurements on one instance (loaded once, in this process; the parts run in worker
processes, ``jobs`` at a time):

* ``equal``: at equal wall time ``--budget`` (seconds), the single-process engine (``-s cpsat``:
  the LNS at this size, 2 workers) against ``--partitions K`` for each K of ``--k`` (default
  2,4), the same engine in every part. One line each: unplaced, cost, wall seconds, the greedy's
  cost (the floor) and the plan's gap to the LP bound where the single run has one.
* ``curve``: for each K of ``--curve`` (default 1,2,4,8,16), the parts alone (no improve
  step), each part given ``--part-seconds`` (what it would get on its own machine), run in
  waves of ``--jobs`` here: each part's wall seconds, the parallel wall time they imply on K
  machines (all the driver did but the parts' waves, and the slowest part instead: the greedy,
  the split, the coalescing and completion; with ``--rounds`` each round's; the sixth
  session's measure, split + slowest part + completion, beside it), and the coalesced plan's
  quality against the single-process engine given K times the part's time (``--reference``
  none skips it: at 16 x 30 s that is 8 minutes) and against the LP bound where known. POP's
  anchor (Narayanan et al., SOSP 2021): within 1.5 % of the optimum, much faster.

* ``headline`` (``--headline``, needs ``--problem FILE``): issue 18's target as a user meets
  it: ``taskalloc solve FILE -s greedy`` and ``taskalloc solve FILE -s auto -t BUDGET``, each
  in its own process (wall and peak RSS of that process, load averages before and after),
  both plans checked by ``taskalloc check``; prints both objectives and whether auto's is
  strictly better (lexicographically / by the weights, as ``check`` compares) within 150 s
  and 6 GB.

Instances: ``cloud-2400`` (benchmarks/cloudgen.py, 2,400 computers x 7,200 processes, LP bound
known from the CP-SAT engine), ``big`` (``taskalloc generate --tasks 150000 --nodes 5000
--resources 4 --seed 1``; about 2 GB in the driver, more while it generates: on a shared
machine run it under a lock, e.g. ``flock LOCKFILE python ...``), ``gen-20000`` (20,000 x 700),
or any problem file (``--problem FILE``).

    python benchmarks/bench_partitions.py cloud-2400 --budget 60 --k 2,4
    python benchmarks/bench_partitions.py cloud-2400 --curve 1,2,4,8,16 --part-seconds 20
    taskalloc generate --tasks 150000 --nodes 5000 --resources 4 --seed 1 -o big.json
    python benchmarks/bench_partitions.py big --problem big.json --budget 120 --k 2,4
    python benchmarks/bench_partitions.py big --problem big.json --k "" \
        --curve 2,4,8,16 --part-seconds 20 --reference trajectory --jobs 2   # the curve
    python benchmarks/bench_partitions.py big --problem big.json --engine auto --single \
        --k "" --budget 120                     # what -s auto -t 120 does at 150k (its parts)
    python benchmarks/bench_partitions.py big --headline --problem big.json \
        --budget 120                            # the headline, one line

Every plan is checked by the evaluator (a plan that breaks a constraint fails the run).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def load_instance(name: str, problem_file: str | None) -> Any:
    from taskalloc.problems.problem import problem_from_dict

    if problem_file:
        from taskalloc import load

        return load(problem_file)
    if name == "cloud-2400":
        from cloudgen import generate_cloud

        return problem_from_dict(generate_cloud(2400, 7200, seed=0), name=name)
    from taskalloc.problems.generate import generate

    if name == "big":
        return problem_from_dict(generate(150000, 5000, resources=4, seed=1), name=name)
    if name == "gen-20000":
        return problem_from_dict(generate(20000, 700, resources=4, seed=1), name=name)
    raise SystemExit(f"unknown instance {name} (cloud-2400, big, gen-20000, or --problem FILE)")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def terms(problem: Any, result: Any) -> dict[str, Any]:
    from taskalloc.problems.evaluate import evaluate

    ev = evaluate(problem, result.assignments, reasons=False)
    if result.has_plan and not ev.feasible:
        raise SystemExit(f"{result.solver}: a plan that breaks a constraint")
    return {k: round(v, 3) for k, v in ev.objective.items()}


def run(problem: Any, engine: str, seconds: float, seed: int, **options: Any) -> dict[str, Any]:
    from taskalloc import solvers
    from taskalloc.solvers.baseline import forget

    forget(problem)  # each run pays for its own greedy (the floor, the warm start), as a user's
    t0 = time.perf_counter()
    r = solvers.solve(problem, engine, time_limit=seconds, seed=seed, workers=2, **options)
    wall = time.perf_counter() - t0
    return {
        "solver": r.solver,
        "wall": round(wall, 2),
        "objective": terms(problem, r),
        "bound": r.bound,
        "floor": bool(r.options.get("baseline_used")),
        "parts": r.options.get("partitions"),
        "trajectory": r.trajectory,
        "message": r.message,
        "stage_seconds": r.options.get("stage_seconds"),
        "load": loadavg(),
    }


def show(label: str, row: dict[str, Any], bound: float | None) -> None:
    obj = row["objective"]
    cost = obj.get("cost")
    gap = ""
    if bound and cost:
        gap = f" gap to LP bound {100 * (cost - bound) / cost:.2f} %"
    floor = " (greedy's plan: the engine's was worse)" if row["floor"] else ""
    print(
        f"{label:28s} unplaced {obj.get('unplaced', 0):g} cost {cost:,.2f}  "
        f"wall {row['wall']:.1f} s{gap}{floor}  load {row['load']}",
        flush=True,
    )
    print(f"    {(row.get('message') or '')[:300]}", flush=True)
    parts = row.get("parts") or {}
    if parts.get("held"):
        print(
            f"    held where the greedy put them (out of the parts): {parts['held']} tasks "
            f"(split: {parts.get('split')})"
        )
    if parts.get("parts"):
        print(
            f"    greedy {parts.get('greedy_seconds')} s, greedy + split "
            f"{parts.get('split_seconds')} s, part limit {parts.get('part_limit')} s; "
            "parts (wall / engine s): "
            + ", ".join(
                f"{p.get('seconds')}/{p.get('engine_seconds')}"
                + (" kept its share" if p.get("kept") else "")
                for p in parts["parts"]
            )
            + (f"; improve {parts['improve']}" if parts.get("improve") else ""),
            flush=True,
        )
        # where a part's seconds go: its worker outside the engine, the engine's preparing
        # and its search, and what the search gained per task and second
        for i, p in enumerate(parts["parts"], 1):
            stages = p.get("stages") or {}
            wall, engine = p.get("seconds"), p.get("engine_seconds")
            search = stages.get("search")
            gain = ""
            if p.get("from_to") and search:
                a, b = p["from_to"]
                n = max(p.get("solved_tasks") or p["tasks"], 1)
                rate = (a - b) / max(search, 1e-9) / n * 1e3
                gain = f"; search {a:,.2f} -> {b:,.2f}, {rate:.3f} per 1,000 task-seconds"
            outside = f"{wall - engine:.1f}" if wall is not None and engine is not None else "?"
            print(
                f"      part {i}: {p.get('solved_tasks')} of {p['tasks']} tasks, "
                f"{(p.get('bytes') or 0) / 1e6:.1f} MB; wall {wall} s, outside the engine "
                f"{outside} s; engine stages {stages}{gain}",
                flush=True,
            )


def _timed(argv: list[str]) -> dict[str, Any]:
    """Run ``argv`` as its own process: exit code, wall seconds, peak RSS (GB), loads."""
    import os
    import subprocess

    before = loadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {
        "argv": argv,
        "code": proc.returncode,
        "wall": round(wall, 1),
        "cpu": round(usage.ru_utime + usage.ru_stime, 1),
        "rss_gb": round(usage.ru_maxrss / 1024 / 1024, 2),
        "load_before": before,
        "load_after": loadavg(),
        "stderr": err.strip().splitlines()[-3:],
    }


def headline(problem_file: str, budget: float, seed: int) -> int:
    """``solve -s greedy`` and ``solve -s auto -t budget`` as a user runs them (see the module
    docstring); exit 0 when auto's checked plan is strictly better within 150 s and 6 GB."""
    import tempfile

    exe = str(Path(sys.executable).with_name("taskalloc"))
    out = Path(tempfile.mkdtemp(prefix="bench-headline-"))
    rows = {}
    for label, extra in (
        ("greedy", ["-s", "greedy"]),
        ("auto", ["-s", "auto", "-t", f"{budget:g}"]),
    ):
        plan = out / f"{label}.json"
        run = _timed([exe, "solve", problem_file, *extra, "--seed", str(seed), "-o", str(plan)])
        check = _timed([exe, "check", problem_file, str(plan)])
        solver = json.loads(plan.read_text())["solver"] if plan.exists() else {}
        rows[label] = {**run, "check": check["code"], "solver": solver}
        objective = ", ".join(f"{k} {v:,}" for k, v in (solver.get("objective") or {}).items())
        print(
            f"{label:7s} {objective}  status {solver.get('status')}  check exit {check['code']}  "
            f"wall {run['wall']:.1f} s  CPU {run['cpu']:.1f} s  peak RSS {run['rss_gb']:.2f} GB  "
            f"load {run['load_before']} -> {run['load_after']}",
            flush=True,
        )
        if run["code"] != 0:
            print("  " + "\n  ".join(run["stderr"]), flush=True)
    g, a = rows["greedy"]["solver"], rows["auto"]["solver"]
    better = False
    if g and a:
        from taskalloc import load

        problem = load(problem_file)
        from taskalloc.solvers.partition import better as strictly_better

        better = strictly_better(problem, a.get("objective") or {}, g.get("objective") or {})
    auto = rows["auto"]
    ok = (
        better
        and auto["code"] == 0
        and rows["auto"]["check"] == 0
        and rows["greedy"]["check"] == 0
        and auto["wall"] <= 150
        and auto["rss_gb"] <= 6
    )
    gc, ac = (g.get("objective") or {}).get("cost"), (a.get("objective") or {}).get("cost")
    change = f"; cost {100 * (ac - gc) / gc:+.2f} % against the greedy" if gc and ac else ""
    print(
        f"auto strictly better than greedy: {better}{change}; target (<= 150 s, <= 6 GB, both "
        f"plans checked): {'met' if ok else 'NOT met'}; plans in {out}",
        flush=True,
    )
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("instance", help="cloud-2400, big, gen-20000 (or a name for --problem)")
    ap.add_argument("--problem", help="a problem file instead of a named instance")
    ap.add_argument("--engine", default="cpsat")
    ap.add_argument("--budget", type=float, default=60.0, help="equal: seconds per run")
    ap.add_argument("--k", default="2,4", help="equal: the K to compare ('' to skip)")
    ap.add_argument(
        "--single",
        action="store_true",
        help="equal: the single run alone (with --engine auto at 150,000 tasks: auto's parts)",
    )
    ap.add_argument(
        "--skip-single", action="store_true", help="equal: the --k runs only (no single run)"
    )
    ap.add_argument("--curve", default="", help="the K of the scaling curve, e.g. 1,2,4,8,16")
    ap.add_argument("--part-seconds", type=float, default=20.0, help="curve: seconds per part")
    ap.add_argument(
        "--reference",
        default="single",
        help="curve: single (a run of K x time for each K), trajectory (one run of the "
        "largest K x time, its best value at each K x time read off its trajectory), or none",
    )
    ap.add_argument("--jobs", type=int, default=2, help="parts at once on this machine")
    ap.add_argument(
        "--split",
        choices=("plan", "random"),
        help="how the nodes are dealt (default: plan from a plan, as solve does)",
    )
    ap.add_argument(
        "--spread-groups",
        choices=("share", "hold", "insert"),
        help="at scale: what the parts do with the task groups the greedy spread over two "
        "(partition.SPREAD_GROUPS; default share)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="curve, at scale: the part seconds in this many rounds, each split again along "
        "the plan so far (partition.SCALE_ROUNDS; default 1)",
    )
    ap.add_argument(
        "--across",
        type=float,
        default=0.0,
        help="curve, at scale: seconds of fleet-wide moves over the whole coalesced plan "
        "after the parts (and each round) (partition.CROSS_SECONDS; default 0: none)",
    )
    ap.add_argument(
        "--sub-seconds",
        type=float,
        help="curve: the parts' LNS seconds per sub-solve (cpsat's sub_seconds; default: "
        "adaptive, from min(0.5, part seconds / 120))",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--headline",
        action="store_true",
        help="solve -s greedy and -s auto -t BUDGET on --problem as a user runs them",
    )
    args = ap.parse_args()
    if args.headline:
        if not args.problem:
            raise SystemExit("--headline needs --problem FILE")
        return headline(args.problem, args.budget, args.seed)

    if args.spread_groups or args.rounds != 1 or args.across:
        from taskalloc.solvers import partition

        if args.spread_groups:
            partition.SPREAD_GROUPS = args.spread_groups
        partition.SCALE_ROUNDS = args.rounds
        partition.CROSS_SECONDS = args.across
    t0 = time.perf_counter()
    problem = load_instance(args.instance, args.problem)
    print(
        f"# {args.instance}: {len(problem.tasks):,} tasks x {len(problem.nodes):,} nodes, "
        f"loaded in {time.perf_counter() - t0:.1f} s; engine {args.engine}, seed {args.seed}, "
        f"spread groups {args.spread_groups or 'share'}, rounds {args.rounds}, "
        f"across {args.across:g} s; "
        f"load {loadavg()}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    bound = None
    if (args.k or args.single) and not args.skip_single:
        single = run(problem, args.engine, args.budget, args.seed)
        bound = (single["bound"] or {}).get("cost")
        show(f"single {args.engine} {args.budget:g} s", single, bound)
        rows.append({"mode": "equal", "k": 0, **single})
    if args.k:
        for k in [int(x) for x in args.k.split(",") if x]:
            row = run(
                problem,
                args.engine,
                args.budget,
                args.seed,
                partitions=k,
                jobs=args.jobs,
                split=args.split,
            )
            show(f"--partitions {k} {args.budget:g} s", row, bound)
            rows.append({"mode": "equal", "k": k, **row})
    ks = [int(x) for x in args.curve.split(",") if x]
    traj_ref = None
    if ks and args.reference == "trajectory":
        # one single-process run; what it had at K x part-seconds is what a run of that limit
        # would have returned, up to its time-dependent settings (sub-solve seconds, the share
        # of its first fleet-wide pass)
        longest = args.part_seconds * max(ks)
        traj_ref = run(problem, args.engine, longest, args.seed)
        show(f"single {args.engine} {longest:g} s", traj_ref, bound)
        bound = bound or (traj_ref["bound"] or {}).get("cost")
        print(
            "  its trajectory (s, value): "
            + ", ".join(f"({p[0]:.0f}, {p[1]:,.2f})" for p in traj_ref["trajectory"][::5]),
            flush=True,
        )
    for k in ks:
        row = run(
            problem,
            args.engine,
            args.part_seconds * 10,  # the limit of the whole; each part gets part_seconds
            args.seed,
            partitions=k,
            jobs=args.jobs,
            improve=False,
            part_time_limit=args.part_seconds,
            split=args.split,
            **({"sub_seconds": args.sub_seconds} if args.sub_seconds else {}),
        )
        parts = row["parts"] or {}
        secs = [p["seconds"] or 0.0 for p in parts.get("parts", [])]
        # (the completion of the coalesced plan, when it ran, is part of the coalescing)
        completing = (parts.get("completed") or {}).get("seconds") or 0.0
        # (the sixth session's measure: the split, the slowest part, the completion)
        old_implied = (parts.get("split_seconds") or 0.0) + max(secs, default=0.0) + completing
        # all the driver did but the parts' waves, and the slowest part instead (every
        # round's split, slowest part, coalescing, completion and step across the borders)
        implied = parts.get("implied_seconds") or old_implied
        if parts.get("rounds"):
            for r in parts["rounds"]:
                print(
                    f"  round {r['round']}: implied {r['implied_seconds']} s (split "
                    f"{r['split_seconds']} s, slowest part {r['part_max']:.1f} s), parts' "
                    f"cost together {r['cost']}",
                    flush=True,
                )
        median = sorted(secs)[len(secs) // 2] if secs else 0.0
        print(
            f"K={k:<3d} parts {len(secs)}: part seconds min {min(secs, default=0):.1f} "
            f"median {median:.1f} max {max(secs, default=0):.1f}; "
            f"split {parts.get('split_seconds')} s; completion {parts.get('completed')}; "
            f"across {parts.get('across')}; "
            f"implied wall on K machines {implied:.1f} s (split + slowest part + "
            f"completion: {old_implied:.1f} s); "
            f"here {row['wall']:.1f} s",
            flush=True,
        )
        show(f"  coalesced K={k}", row, bound)
        objs = [p.get("objective") for p in parts.get("parts", [])]
        if objs and all(objs):
            from taskalloc.solvers.partition import combine

            together = combine(objs)
            print(
                "    the parts' plans together, before the floor (unplaced in the parts' "
                "weights): " + ", ".join(f"{t} {v:,.2f}" for t, v in together.items()),
                flush=True,
            )
        rows.append({"mode": "curve", "k": k, "implied_wall": implied, **row})
        if traj_ref is not None:
            at = args.part_seconds * k
            points = [p for p in traj_ref["trajectory"] if p[0] <= at]
            ref_cost = points[-1][1] if points else None
            a = row["objective"].get("cost")
            if ref_cost is None:
                print(f"  single {args.engine} at {at:g} s: no plan yet (its greedy ran)")
            elif a:
                print(
                    f"  single {args.engine} at {at:g} s (trajectory): cost {ref_cost:,.2f}; "
                    f"K={k}: coalesced / single-process = {a / ref_cost:.4f}",
                    flush=True,
                )
            rows.append({"mode": "reference", "k": k, "at": at, "cost": ref_cost})
        if args.reference == "single":
            ref = run(problem, args.engine, args.part_seconds * k, args.seed)
            show(f"  single {args.engine} {args.part_seconds * k:g} s", ref, bound)
            bound = bound or (ref["bound"] or {}).get("cost")
            a, b = row["objective"].get("cost"), ref["objective"].get("cost")
            if a and b:
                print(f"  K={k}: coalesced / single-process = {a / b:.4f}", flush=True)
            rows.append({"mode": "reference", "k": k, **ref})
    # the greedy last: computed first, it would be cached for the runs (auto's warm start)
    from taskalloc.problems.evaluate import evaluate
    from taskalloc.solvers.baseline import greedy_plan

    g = greedy_plan(problem)
    gobj = evaluate(problem, g.result.assignments, reasons=False).objective
    print(
        f"{'greedy (the floor)':28s} unplaced {gobj.get('unplaced', 0):g} "
        f"cost {gobj.get('cost', 0):,.2f}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak RSS of the driver {rss:,.0f} MB (workers not counted); load {loadavg()}")
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
