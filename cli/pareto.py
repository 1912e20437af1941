"""``taskalloc solve PROBLEM --pareto T1,T2[,T3] --out-dir DIR``: a Pareto front of plans.

Thin: parse the options, call :func:`taskalloc.solvers.pareto`, write one checked plan file per
non-dominated plan into DIR (``plan-01.yaml``, ..., atomically; each records its point under
``solver.options.pareto``), the front summary (:func:`taskalloc.problems.pareto.summary`) to
stdout or ``-o``, and a table for humans on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .console import Settings, fail, plural, say, say_long, warn
from .exits import ExitCode
from .files import format_for, load, write


def parse_terms(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _read_reference(path: str) -> Any:
    from taskalloc.problems.pareto import front_from_summary
    from taskalloc.problems.source import load

    src = load(path)
    try:
        return front_from_summary(src.raw, src.name)
    except ValueError as exc:
        fail(ExitCode.BAD_INPUT, f"--reference-front: {exc}")


def _least(term: str) -> str:
    """``the least cost``, ``the fewest nodes``."""
    return f"the {'fewest' if term in ('nodes', 'moves') else 'least'} {term}"


def _front_notes(problem: Any, terms: list[str], built: list[Any], results: list[Any]) -> list[str]:
    """Lines that explain a front the table alone leaves open: a single point (the terms do not
    conflict, when that is proven) and optional tasks left out (the front weighs only its terms).
    """
    lines = []
    if len(built) == 1:
        ((_plan, vec),) = built
        values = ", ".join(f"{t}={v:.6g}" for t, v in zip(terms, vec, strict=True))
        complete = any(
            isinstance(r.options.get("pareto"), dict) and r.options["pareto"].get("complete")
            for r in results
            if r.has_plan
        )
        named = " and ".join(terms) if len(terms) == 2 else ", ".join(terms)
        if complete:
            lines.append(
                f"one point ({values}): the plan with {_least(terms[0])} also has "
                + " and ".join(_least(t) for t in terms[1:])
                + f" (each term minimised alone gives the same values, proven), so {named} do "
                "not conflict on this problem and no plan trades one for the other"
            )
        else:
            lines.append(
                f"one point ({values}): no plan found trades one of {named} for another, but the "
                "front is not proven complete (a longer -t may find more points)"
            )
    if "unplaced" not in terms:
        left = [
            (i, len(plan.unplaced)) for i, (plan, _) in enumerate(built, start=1) if plan.unplaced
        ]
        if left:
            counts = ", ".join(f"plan {i}: {n}" for i, n in left)
            out = (
                f"plan {left[0][0]} leaves {plural(left[0][1], 'optional task')} out"
                if len(built) == 1
                else f"optional tasks left out per plan: {counts}"
            )
            tiebreaks = {
                r.options["pareto"].get("tiebreak")
                for r in results
                if r.has_plan and isinstance(r.options.get("pareto"), dict)
            }
            if "unplaced" in tiebreaks:  # cpsat: a solve per point
                how = (
                    "optional tasks only break ties (each plan leaves out the least priority "
                    f"its point allows: {out})"
                )
            elif tiebreaks:  # the others: added greedily where they cost no term
                how = f"optional tasks are added only where they cost none of these terms ({out})"
            else:
                how = f"optional tasks are not weighed ({out})"
            lines.append(
                f"the front weighs only {','.join(terms)}; {how}; add unplaced to --pareto to "
                "weigh them against the other terms"
            )
    return lines


def solve_front(
    problem_file: str,
    *,
    solver: str,
    terms_text: str,
    points: int | None,
    out_dir: Path | None,
    reference_front: str | None,
    output: Path | None,
    fmt: str | None,
    seed: int,
    time_limit: float | None,
    workers: int,
    deterministic: bool,
    hint: str | None,
    engine_options: dict[str, Any],
) -> None:
    """Compute the front, write its plans and summary (see the module docstring)."""
    from taskalloc.problems.evaluate import check
    from taskalloc.problems.files import refuse_inputs
    from taskalloc.problems.pareto import TermError, check_terms, nondominated, summary, table
    from taskalloc.problems.plan import Status, dumps, plan_from_text, read_plan
    from taskalloc.solvers import pareto
    from taskalloc.solvers.clock import Stop, finishing
    from taskalloc.solvers.result import checked_plan
    from taskalloc.solvers.run import engine_options as split_engine_options

    from .errors import engine_flag
    from .running import STOPPING, graceful_stop
    from .solve import warn_ignored

    if out_dir is None:
        fail(ExitCode.BAD_INPUT, "--pareto needs --out-dir DIR (the directory for the plan files)")
    if out_dir.exists() and not out_dir.is_dir():
        fail(ExitCode.BAD_INPUT, f"--out-dir {out_dir} exists and is not a directory")
    inputs = [problem_file, hint, reference_front]
    if output is not None and str(output) != "-":
        refuse_inputs(output, inputs, no_clobber=Settings.no_clobber)  # before the run
    existing = sorted(out_dir.glob("plan-*")) if Settings.no_clobber and out_dir.is_dir() else []
    if existing:  # the front's plan files are named plan-01, ...: any may be replaced
        fail(ExitCode.BAD_INPUT, f"{existing[0]}: exists; not overwriting it (--no-clobber)")
    problem = load(problem_file)
    try:
        terms = check_terms(problem, parse_terms(terms_text))
    except TermError as exc:
        fail(ExitCode.BAD_INPUT, f"--pareto: {exc}")
    reference = _read_reference(reference_front) if reference_front is not None else None
    if reference is not None and reference.terms != terms:
        fail(
            ExitCode.BAD_INPUT,
            f"--reference-front is a front of {','.join(reference.terms)}, "
            f"not of {','.join(terms)}",
        )
    backend = solver if solver != "auto" else ("cpsat" if len(terms) == 2 else "ga")
    if backend == "cpsat" and len(terms) != 2:
        fail(
            ExitCode.BAD_INPUT,
            f"{engine_flag('cpsat')} computes exact fronts of 2 terms, not {len(terms)} "
            f"({','.join(terms)}); use {engine_flag('ga')} for 3",
        )
    given = dict(engine_options)
    if points is not None:
        given["points"] = points
    front_options, ignored = split_engine_options(backend, given, front=True)
    if ignored is not None:
        warn_ignored(ignored)
    options: dict[str, Any] = {
        "seed": seed,
        "time_limit": time_limit,
        "workers": workers,
        "deterministic": deterministic,
        **front_options,
    }
    if hint is not None:
        options["hint"] = read_plan(hint).assignments
    if backend == "cpsat" and not Settings.quiet:
        options["on_point"] = lambda i, values: say(
            f"{backend}: point {i}: " + ", ".join(f"{t}={v:.6g}" for t, v in values.items())
        )
    fmt_name = format_for(output, fmt)
    path = None if problem_file == "-" else problem_file
    stop = Stop()
    options["stop"] = stop
    with graceful_stop(stop, STOPPING):
        try:
            results = pareto(problem, backend, terms, **options)
        except TermError as exc:
            fail(ExitCode.BAD_INPUT, str(exc))
        finishing(stop)  # the search is over: the plans are checked and written
        found = [r for r in results if r.has_plan]
        if not found:
            first = results[0] if results else None
            if first is not None and first.status == Status.INFEASIBLE:
                fail(ExitCode.INFEASIBLE, f"infeasible: {first.message or 'no plan exists'}")
            why = first.message if first is not None and first.message else "no plan found"
            code = ExitCode.INTERRUPTED if stop.is_set() else ExitCode.NO_PLAN
            fail(code, f"no plan: {why}")
        built = []
        for r in found:
            plan, ev = checked_plan(problem, r, path=path)
            built.append((plan, [ev.terms[t] for t in terms]))
        keep = nondominated([vec for _, vec in built])
        built = sorted((built[i] for i in keep), key=lambda x: x[1])
        width = max(2, len(str(len(built))))
        suffix = "json" if fmt_name == "json" else "yaml"
        files = []
        for i, (plan, vec) in enumerate(built, start=1):
            info = plan.solver
            known = info.options.get("pareto")
            info.options["pareto"] = {
                **(known if isinstance(known, dict) else {}),
                "point": i,
                "of": len(built),
                "terms": dict(zip(terms, vec, strict=True)),
            }
            target = out_dir / f"plan-{i:0{width}d}.{suffix}"
            text = plan.dumps(fmt_name)
            rep = check(problem, plan_from_text(str(target), text.encode("utf-8")))
            if not rep.ok:  # the file as written, read back
                raise RuntimeError(f"plan {i} of the front fails its check: {rep.violations[0]}")
            write(text, target, inputs)
            files.append(str(target))
        data = summary(
            terms,
            [vec for _, vec in built],
            files=files,
            statuses=[str(plan.solver.status) for plan, _ in built],
            reference=reference,
            extra={
                "problem": {
                    k: v
                    for k, v in (
                        ("name", problem.name),
                        ("sha256", problem.sha256),
                        ("path", path),
                    )
                    if v is not None
                },
                "solver": backend,
                "seconds": round(max(r.seconds for r in results), 4),
            },
        )
        write(dumps(data, fmt_name), output, inputs)
    for line in table(data):
        say(line)
    for line in _front_notes(problem, terms, built, results):
        say_long(line)
    say(f"{plural(len(built), 'plan file')} written to {out_dir}")
    stale = sorted(
        p.name
        for p in out_dir.glob("plan-*")
        if p.suffix in (".yaml", ".json") and str(p) not in files
    )
    if stale:
        warn(
            f"{out_dir} also holds {plural(len(stale), 'plan file')} not from this run: "
            f"{stale[0]} ..."
        )
    if output is not None:
        say(f"front summary written to {output}")
    if stop.is_set():
        fail(ExitCode.INTERRUPTED, "interrupted: the front holds the plans found so far")
