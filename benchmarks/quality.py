"""Quality benchmark: taskalloc against known optima and against a hand-written CP-SAT peer.

For every instance of a set (read from ../shared/benchmarks, never copied): import it, solve it
with taskalloc at the budget, check the plan with the evaluator, and report objective, bound,
gap to the known value and seconds; then solve the plain CP-SAT model a user would write for
that family (benchmarks/peers.py) at the same budget and workers, in the same run.

    python benchmarks/quality.py gap_orlib                      # budget and sense per set
    python benchmarks/quality.py psplib_j30 --budget 10 --limit 20
    python benchmarks/quality.py jobshop --instances ft06,ft10 --no-peer
    python benchmarks/quality.py cloudbalancing --solver cpsat --workers 2
    python benchmarks/quality.py gap_orlib --solver mip --backend ortools-cpsat
    python benchmarks/quality.py psplib_j30 --limit 5 --deterministic --no-peer   # reproducible
    python benchmarks/quality.py jobshop --const hybrid.CPSAT_EXTRA=1   # a -s cpsat switch set

Gap = (ours - known) / known for minimisation, (known - ours) / known for maximisation, in %.
Not a test: prints a table and the set's mean and max gap.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import PEERS, PeerResult

from taskalloc import solvers
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.importers import import_file
from taskalloc.problems.problem import problem_from_dict


def _shared() -> Path:
    """../shared/benchmarks beside the repository (CI) or above it (a developer's clone), or
    $TASKALLOC_BENCHMARKS."""
    import os

    if os.environ.get("TASKALLOC_BENCHMARKS"):
        return Path(os.environ["TASKALLOC_BENCHMARKS"])
    here = Path(__file__).resolve().parent
    for up in here.parents:
        if (up / "shared" / "benchmarks").is_dir():
            return up / "shared" / "benchmarks"
    return here.parents[1] / "shared" / "benchmarks"


SHARED = _shared()


@dataclass(frozen=True)
class SetInfo:
    kind: str  # importer (gap, psplib, jobshop) or "json" (already a taskalloc problem)
    peer: str
    budget: float
    sense: str = "min"  # of the known values
    known: str = "known.csv"
    term: str = "cost"  # the objective term that carries the benchmark's value


SETS = {
    "gap_orlib": SetInfo("gap", "gap", 1.0, sense="max"),
    "gap_chu_beasley": SetInfo("gap", "gap", 20.0),
    "psplib_j30": SetInfo("psplib", "psplib", 10.0, term="makespan"),
    "jobshop": SetInfo("jobshop", "jobshop", 60.0, term="makespan"),
    "cloudbalancing": SetInfo("json", "cloudbalancing", 60.0),
}


@dataclass
class Row:
    instance: str
    known: float
    ours: float | None
    bound: float | None
    status: str
    seconds: float
    feasible: bool
    peer: PeerResult | None


def gap(value: float | None, known: float, sense: str) -> float | None:
    if value is None or known == 0:
        return None
    return 100.0 * ((value - known) if sense == "min" else (known - value)) / abs(known)


def to_benchmark_units(value: float | None, data: dict[str, Any], sense: str) -> float | None:
    """Our objective (a minimised cost or makespan) in the units of known.csv."""
    if value is None or sense == "min":
        return value
    offset = data["x-source"]["offset"]  # max profit = offset - min cost (see importers)
    return offset - value


def load_instance(info: SetInfo, path: Path) -> dict[str, Any]:
    if info.kind == "json":
        return dict(json.loads(path.read_text()))
    if info.kind == "gap":
        from taskalloc.problems.importers import read_gap

        return read_gap(path.read_text(), path.name, sense=info.sense)
    return import_file(info.kind, str(path))


def run(args: argparse.Namespace) -> int:
    info = SETS[args.set]
    root = Path(args.benchmarks) / args.set
    with open(root / info.known) as fh:
        known = {r["instance"]: float(r["known_value"]) for r in csv.DictReader(fh)}
    files = {p.stem if info.kind != "gap" else p.name: p for p in (root / "instances").iterdir()}
    names = sorted(known, key=_natural)
    if args.instances:
        names = [n for n in args.instances.split(",") if n in known]
    if args.limit:
        names = names[: args.limit]
    budget = args.budget if args.budget is not None else info.budget
    print(
        f"# {args.set}: {len(names)} instances, {budget:g} s each, {args.workers} workers, "
        f"solver {args.solver}"
        + (f" ({args.backend})" if args.backend else "")
        + ("" if args.no_peer else f", peer: plain CP-SAT ({info.peer})"),
        flush=True,
    )
    head = f"{'instance':28s} {'known':>9s} {'ours':>9s} {'bound':>9s} {'gap%':>7s}"
    head += f" {'status':>9s} {'s':>6s}"
    if not args.no_peer:
        head += f" | {'peer':>9s} {'gap%':>7s} {'status':>9s} {'s':>6s}"
    print(head, flush=True)
    rows: list[Row] = []
    for name in names:
        data = load_instance(info, files[name])
        problem = problem_from_dict(data, name=name)
        t0 = time.perf_counter()
        extra = {"backend": args.backend} if args.backend else {}
        result = solvers.solve(
            problem,
            args.solver,
            time_limit=budget,
            workers=args.workers,
            seed=args.seed,
            deterministic=args.deterministic,
            **extra,
        )
        seconds = time.perf_counter() - t0
        ours = bound = None
        feasible = False
        if result.has_plan:
            ev = evaluate(problem, result.assignments)
            feasible = ev.feasible
            ours = to_benchmark_units(ev.terms[info.term], data, info.sense)
            b = (result.bound or {}).get(info.term)
            bound = to_benchmark_units(b, data, info.sense) if b is not None else None
        peer = None if args.no_peer else PEERS[info.peer](data, budget, args.workers)
        if peer is not None and info.sense == "max":
            peer = PeerResult(
                to_benchmark_units(peer.objective, data, "max"),
                to_benchmark_units(peer.bound, data, "max"),
                peer.status,
                peer.seconds,
            )
        row = Row(name, known[name], ours, bound, str(result.status), seconds, feasible, peer)
        rows.append(row)
        print(_line(row, info.sense), flush=True)
    _summary(rows, info.sense, args.no_peer)
    return 0


def _fmt(x: float | None, spec: str = "9.6g") -> str:
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0]))


def _line(r: Row, sense: str) -> str:
    status = r.status if r.feasible or r.ours is None else "INVALID"
    out = (
        f"{r.instance:28s} {r.known:9.6g} {_fmt(r.ours)} {_fmt(r.bound)} "
        f"{_fmt(gap(r.ours, r.known, sense), '7.3f')} {status:>9s} {r.seconds:6.2f}"
    )
    if r.peer is not None:
        p = r.peer
        out += (
            f" | {_fmt(p.objective)} {_fmt(gap(p.objective, r.known, sense), '7.3f')} "
            f"{p.status:>9s} {p.seconds:6.2f}"
        )
    return out


def _stats(gaps: list[float | None], statuses: list[str], seconds: list[float]) -> str:
    found = [g for g in gaps if g is not None]
    missing = len(gaps) - len(found)
    mean = statistics.fmean(found) if found else float("nan")
    worst = max(found) if found else float("nan")
    optimal = sum(1 for s in statuses if s == "optimal")
    return (
        f"mean gap {mean:.3f} %, max gap {worst:.3f} %, {optimal}/{len(gaps)} proven optimal, "
        f"{missing} without a plan, mean {statistics.fmean(seconds):.2f} s"
    )


def _summary(rows: list[Row], sense: str, no_peer: bool) -> None:
    invalid = [r.instance for r in rows if r.ours is not None and not r.feasible]
    print(
        "taskalloc: "
        + _stats(
            [gap(r.ours, r.known, sense) for r in rows],
            [r.status for r in rows],
            [r.seconds for r in rows],
        )
        + (f"; INVALID plans: {', '.join(invalid)}" if invalid else "; every plan checked")
    )
    if not no_peer:
        peers = [r.peer for r in rows if r.peer is not None]
        print(
            "peer:      "
            + _stats(
                [gap(p.objective, r.known, sense) for r, p in zip(rows, peers, strict=True)],
                [p.status for p in peers],
                [p.seconds for p in peers],
            )
        )


def _natural(name: str) -> list[Any]:
    import re

    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("set", choices=sorted(SETS))
    ap.add_argument("--budget", type=float, help="seconds per instance (default: per set)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--solver", default="cpsat")
    ap.add_argument("--backend", help="-s mip: the MILP backend (default: the engine's own)")
    ap.add_argument(
        "--deterministic",
        action="store_true",
        help="one worker and a deterministic time limit (cpsat): the same values on every run",
    )
    ap.add_argument("--limit", type=int, help="only the first N instances")
    ap.add_argument("--instances", help="comma-separated instance names")
    ap.add_argument("--no-peer", action="store_true", help="skip the hand-written peer")
    ap.add_argument("--benchmarks", default=str(SHARED), help="the shared benchmarks folder")
    const_option(ap)
    args = ap.parse_args()
    set_consts(args.const)
    if args.const:
        print(f"# {' '.join(args.const)}", flush=True)
    return run(args)


def const_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--const",
        action="append",
        default=[],
        help="module.NAME=VALUE: set a constant of -s cpsat's hybrid, listsearch or corealloc",
    )


def set_consts(items: list[str]) -> None:
    """Set ``module.NAME=VALUE`` constants of the CP-SAT engine (for A/B runs of a switch)."""
    if not items:
        return
    from taskalloc.solvers.cpsat import corealloc, hybrid, listsearch

    modules = {"hybrid": hybrid, "listsearch": listsearch, "corealloc": corealloc}
    for item in items:
        key, _, value = item.partition("=")
        mod, _, attr = key.partition(".")
        if mod not in modules or not hasattr(modules[mod], attr):
            raise SystemExit(f"--const {item}: no constant {key} in {', '.join(modules)}")
        setattr(modules[mod], attr, ast.literal_eval(value))


if __name__ == "__main__":
    raise SystemExit(main())
