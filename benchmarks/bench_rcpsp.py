"""Scheduling quality: ``-s cpsat`` against the plain hand-written CP-SAT RCPSP model (the peer,
``benchmarks/peers.py: rcpsp_peer``) on the same instances, budgets and workers, in one run.

    python benchmarks/bench_rcpsp.py                          # j60 sample, 10 s and 30 s
    python benchmarks/bench_rcpsp.py --budgets 10 --limit 8   # quicker look
    python benchmarks/bench_rcpsp.py --set psplib_j30 --every 12 --budgets 2
    python benchmarks/bench_rcpsp.py --generated gen120 --budgets 30  # rcpspgen.py instances
    python benchmarks/bench_rcpsp.py --const hybrid.CPSAT_EXTRA=1     # a switch of ours set

The default sample is fixed: every sixth instance of ../shared/benchmarks/psplib_j60 in natural
order (j601_1, j601_7, j602_3, ...), 40 instances. For each budget and instance, taskalloc
(``solvers.solve(problem, "cpsat", ...)``, its plan checked by the evaluator) and then the peer
run back to back. Deviation = (makespan - best known) / best known, in %; for generated
instances without a known value the reference is the better of the two makespans found in this
run (and the deviation of the other one is measured against it), so only the difference means
something there.

Targets (issue 17): our mean deviation below the peer's at each budget, and no instance more
than 1 percentage point above the peer's. The summary prints both, with the instances that miss.
``--json FILE`` writes every row (for docs and for comparing runs). The load average is printed
at the start and the end: other work on the machine makes single runs noisy.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import rcpsp_peer
from quality import SHARED, _natural, const_option, set_consts

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.importers import import_file
from taskalloc.problems.problem import problem_from_dict


@dataclass
class Row:
    budget: float
    instance: str
    known: float | None
    ours: float | None
    ours_status: str
    ours_seconds: float
    peer: float | None
    peer_status: str
    peer_seconds: float
    message: str = ""

    def reference(self) -> float | None:
        vals = [v for v in (self.known, self.ours, self.peer) if v is not None]
        if self.known is not None:
            return self.known
        return min(vals) if vals else None

    def dev(self, value: float | None) -> float | None:
        ref = self.reference()
        if value is None or not ref:
            return None
        return 100.0 * (value - ref) / ref


def _load(set_name: str, generated: str | None) -> list[tuple[str, dict[str, Any], float | None]]:
    """(name, problem data, known value or None) of every instance, in natural order."""
    if generated:
        root = Path(generated)
        known: dict[str, float] = {}
        if (root / "known.csv").exists():
            with open(root / "known.csv") as fh:
                known = {r["instance"]: float(r["known_value"]) for r in csv.DictReader(fh)}
        files = sorted(root.glob("*.json"), key=lambda p: _natural(p.stem))
        return [(p.stem, json.loads(p.read_text()), known.get(p.stem)) for p in files]
    root = SHARED / set_name
    with open(root / "known.csv") as fh:
        known = {r["instance"]: float(r["known_value"]) for r in csv.DictReader(fh)}
    names = sorted(known, key=_natural)
    return [
        (n, import_file("psplib", str(root / "instances" / f"{n}.sm")), known[n]) for n in names
    ]


def _ours(data: dict[str, Any], name: str, budget: float, workers: int, seed: int) -> tuple:
    problem = problem_from_dict(data, name=name)
    t0 = time.perf_counter()
    result = solvers.solve(problem, "cpsat", time_limit=budget, workers=workers, seed=seed)
    seconds = time.perf_counter() - t0
    if not result.has_plan:
        return None, str(result.status), seconds, result.message or ""
    ev = evaluate(problem, result.assignments, reasons=False)
    if not ev.feasible:
        return None, "INVALID", seconds, "; ".join(v.message for v in ev.violations[:3])
    lns = result.options.get("schedule_search") or {}
    return ev.terms["makespan"], str(result.status), seconds, json.dumps(lns)[:200]


def _fmt(x: float | None, spec: str) -> str:
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0]))


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", default="psplib_j60", help="a PSPLIB set under ../shared/benchmarks")
    ap.add_argument("--generated", help="a folder of generated problems (*.json, known.csv)")
    ap.add_argument("--every", type=int, default=6, help="take every N-th instance (default 6)")
    ap.add_argument("--offset", type=int, default=0, help="... starting at this index")
    ap.add_argument("--limit", type=int, help="only the first N of the sample")
    ap.add_argument("--instances", help="comma-separated names instead of the sample")
    ap.add_argument("--budgets", default="10,30", help="seconds per solve, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--json", help="write the rows to this file")
    const_option(ap)
    args = ap.parse_args()
    set_consts(args.const)

    items = _load(args.set, args.generated)
    if args.instances:
        wanted = args.instances.split(",")
        items = [it for it in items if it[0] in wanted]
    else:
        items = items[args.offset :: args.every]
    if args.limit:
        items = items[: args.limit]
    budgets = [float(b) for b in args.budgets.split(",")]
    print(
        f"# {args.generated or args.set}: {len(items)} instances, budgets {budgets} s, "
        f"{args.workers} workers, seed {args.seed}; {' '.join(args.const) or 'no --const'}; "
        f"load {_loadavg()}",
        flush=True,
    )
    rows: list[Row] = []
    for budget in budgets:
        print(
            f"{'instance':14s} {'known':>6s} {'ours':>6s} {'dev%':>7s} {'status':>9s} {'s':>6s}"
            f" | {'peer':>6s} {'dev%':>7s} {'status':>9s} {'s':>6s}",
            flush=True,
        )
        for name, data, known in items:
            ours, status, secs, message = _ours(data, name, budget, args.workers, args.seed)
            if args.no_peer:
                peer, pstatus, psecs = None, "-", 0.0
            else:
                pr = rcpsp_peer(data, budget, args.workers)
                peer, pstatus, psecs = pr.objective, pr.status, pr.seconds
            row = Row(budget, name, known, ours, status, secs, peer, pstatus, psecs, message)
            rows.append(row)
            print(
                f"{name:14s} {_fmt(known, '6.0f')} {_fmt(ours, '6.0f')} "
                f"{_fmt(row.dev(ours), '7.2f')} {status:>9s} {secs:6.2f} | "
                f"{_fmt(peer, '6.0f')} {_fmt(row.dev(peer), '7.2f')} {pstatus:>9s} {psecs:6.2f}",
                flush=True,
            )
        _summary([r for r in rows if r.budget == budget], budget, args.no_peer)
    print(f"# load at the end {_loadavg()}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


def _summary(rows: list[Row], budget: float, no_peer: bool) -> None:
    ours = [r.dev(r.ours) for r in rows]
    found = [d for d in ours if d is not None]
    line = (
        f"== {budget:g} s: taskalloc mean deviation {statistics.fmean(found):.3f} %, "
        f"max {max(found):.2f} %, {sum(r.ours_status == 'optimal' for r in rows)}/{len(rows)} "
        f"proven, {len(rows) - len(found)} without a plan"
        if found
        else f"== {budget:g} s: taskalloc found no plan"
    )
    print(line, flush=True)
    if no_peer:
        return
    peer = [r.dev(r.peer) for r in rows]
    pf = [d for d in peer if d is not None]
    if pf:
        print(
            f"== {budget:g} s: peer      mean deviation {statistics.fmean(pf):.3f} %, "
            f"max {max(pf):.2f} %, {sum(r.peer_status == 'optimal' for r in rows)}/{len(rows)} "
            f"proven, {len(rows) - len(pf)} without a plan",
            flush=True,
        )
    worse = [
        (r.instance, d - p)
        for r, d, p in zip(rows, ours, peer, strict=True)
        if d is not None and p is not None and d > p + 1.0
    ]
    better = sum(
        1 for d, p in zip(ours, peer, strict=True) if d is not None and p is not None and d < p
    )
    same = sum(
        1 for d, p in zip(ours, peer, strict=True) if d is not None and p is not None and d == p
    )
    lost = sum(
        1 for d, p in zip(ours, peer, strict=True) if d is not None and p is not None and d > p
    )
    excess = [
        (d - p, r.instance)
        for r, d, p in zip(rows, ours, peer, strict=True)
        if d is not None and p is not None
    ]
    if excess:
        top, where = max(excess)
        print(f"== {budget:g} s: max excess over the peer {top:+.2f} pp ({where})", flush=True)
    print(
        f"== {budget:g} s: better on {better}, equal on {same}, worse on {lost}; "
        f"more than 1 pp above the peer: "
        + (", ".join(f"{n} (+{x:.2f} pp)" for n, x in worse) if worse else "none"),
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
