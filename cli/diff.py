"""``taskalloc diff PLAN_A PLAN_B [--problem P]``: what changed between two plans.

The data is :mod:`taskalloc.problems.diff`; this module finds the problem (``--problem``, else
the one plan A or B embeds or names, as ``report PLAN`` does), renders the difference as text
or JSON on stdout, and exits like ``diff``: 0 when the plans are equal, 1 when they differ.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from .console import Fail, fail, printable, say, warn
from .exits import ExitCode
from .files import load, problem_of

if TYPE_CHECKING:
    from taskalloc.problems.diff import Change, Delta, PlanDiff, Rep
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem


class DiffFormat(StrEnum):
    text = "text"
    json = "json"


def _find_problem(plan: Plan, plan_file: str) -> Problem | None:
    """The problem a plan embeds or names, or None (no error) when it has neither."""
    if plan.problem_text is None and not plan.problem_path:
        return None
    try:
        return problem_of(plan, plan_file)
    except Fail:
        return None


def diff(
    plan_a: Annotated[
        str, typer.Argument(help="The first plan file; - for stdin.", metavar="PLAN_A")
    ],
    plan_b: Annotated[
        str, typer.Argument(help="The second plan file; - for stdin.", metavar="PLAN_B")
    ],
    problem_file: Annotated[
        str | None,
        typer.Option(
            "--problem",
            "-p",
            metavar="PROBLEM",
            help="The problem file: objective and utilisation are recomputed from it (default: "
            "the problem plan A or B embeds or names; without one, the plans' own figures).",
        ),
    ] = None,
    fmt: Annotated[
        DiffFormat, typer.Option("--format", "-f", help="text or json (for scripts).")
    ] = DiffFormat.text,
) -> None:
    """What changed between two plans: moves, start times, placed and dropped replicas, deltas.

    Replicas moved (from -> to, with devices), started earlier or later, newly placed or
    dropped; the objective and utilisation deltas. Replicas of a task are interchangeable:
    one counts as moved only when its task has fewer replicas on its node in PLAN_B than in
    PLAN_A.

    Exit 0 when the plans are equal (the same replicas on the same nodes, devices and times),
    1 when they differ, 2 for a bad file.
    """
    from taskalloc.problems.diff import diff as compute
    from taskalloc.problems.diff import diff_stated
    from taskalloc.problems.plan import read_plan

    if plan_a == "-" and plan_b == "-":
        fail(ExitCode.BAD_INPUT, "standard input (-) can be given once")
    a, b = read_plan(plan_a), read_plan(plan_b)
    problem, used = None, ""
    if problem_file is not None:
        problem, used = load(problem_file), _name(problem_file)
    else:
        for name, plan in ((plan_a, a), (plan_b, b)):
            problem = _find_problem(plan, name)
            if problem is not None:
                how = "embeds" if plan.problem_text is not None else "names"
                used = f"the problem {_name(name)} {how}"
                break
    if problem is not None:
        for name, plan in ((plan_a, a), (plan_b, b)):
            if plan.problem_sha256 != problem.sha256:
                _other_problem(_name(name), plan, problem, used)
        d = compute(problem, a, b)
    else:
        if a.problem_sha256 != b.problem_sha256:
            warn("the two plans were made for different problem files (sha256 differs)")
        warn(
            "no problem file (give --problem): objective and utilisation are as the plans "
            "state them, not recomputed"
        )
        d = diff_stated(a, b)
    if fmt == DiffFormat.json:
        import json

        out = {"a": _name(plan_a), "b": _name(plan_b), **d.to_dict()}
        typer.echo(json.dumps(out, indent=2))
    elif d.equal:
        say(f"plans are equal: {_equal_line(a)}")
    else:
        lines = text_lines(d, _name(plan_a), _name(plan_b))
        typer.echo("\n".join(printable(line) for line in lines))  # ids may hold ESC, newlines
    if not d.equal:
        raise typer.Exit(int(ExitCode.VIOLATIONS))  # as diff(1): 1 when they differ


def _replan_of(text: str | None) -> dict[str, object] | None:
    """The ``x-replan`` record of a replanned problem's text (what changed, from which
    problem), or None."""
    if text is None or "x-replan" not in text:
        return None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    record = data.get("x-replan") if isinstance(data, dict) else None
    return record if isinstance(record, dict) else None


def _changes(record: dict[str, object]) -> str:
    """The changes of an ``x-replan`` record as replan's flags read (``fail l4-4``)."""
    parts = []
    for key, value in record.items():
        if key == "from":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        parts.append(f"{key.replace('_', '-')} {value}")
    return "; ".join(parts) or "no change"


def _other_problem(name: str, plan: Plan, problem: Problem, used: str) -> None:
    """Say that ``plan`` was made for another problem than the one its figures are recomputed
    against (``used``): a note when that is what a replan does (one is the other replanned),
    else a warning naming the problem the plan was made for."""
    from .console import say_long

    own = _replan_of(_own_text(plan, name))  # the plan is a replan of the problem used
    if own is not None and _from_sha256(own) == problem.sha256:
        say_long(
            f"note: {name} is a replan of {used} ({_changes(own)}); its figures are "
            "recomputed against that problem"
        )
        return
    before = _replan_raw(problem)  # the problem used is a replan of the plan's
    if before is not None and _from_sha256(before) == plan.problem_sha256:
        say_long(
            f"note: {name} was made for the problem before the replan ({_changes(before)}); "
            f"its figures are recomputed against {used}, the replanned problem"
        )
        return
    made_for = ", ".join(
        x
        for x in (
            plan.problem_path or ("the problem it embeds" if plan.problem_text else None),
            repr(plan.problem_name) if plan.problem_name else None,
            f"sha256 {plan.problem_sha256[:12]}",
        )
        if x
    )
    warn(
        f"{name} was made for another problem ({made_for}) than {used} (sha256 "
        f"{problem.sha256[:12]}); its figures are recomputed against the latter"
    )


def _own_text(plan: Plan, name: str) -> str | None:
    """The text of the problem a plan was made for: embedded, else the file it names when
    that file still has the bytes the plan records (None otherwise)."""
    import hashlib
    from pathlib import Path

    if plan.problem_text is not None:
        return plan.problem_text
    if not plan.problem_path:
        return None
    candidates = [Path(plan.problem_path)]
    if name != "<stdin>" and not candidates[0].is_absolute():
        candidates.append(Path(name).parent / plan.problem_path)
    for candidate in candidates:
        try:
            data = candidate.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == plan.problem_sha256:
            return data.decode("utf-8", errors="replace")
    return None


def _from_sha256(record: dict[str, object]) -> object:
    """The sha256 of the problem an ``x-replan`` record says was replanned (None: unknown)."""
    origin = record.get("from")
    return origin.get("sha256") if isinstance(origin, dict) else None


def _replan_raw(problem: Problem) -> dict[str, object] | None:
    raw = getattr(problem.source, "raw", None)
    record = raw.get("x-replan") if isinstance(raw, dict) else None
    return record if isinstance(record, dict) else None


def _name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _equal_line(plan: Plan) -> str:
    n = len(plan.assignments)
    return f"the same {n} replica{'s' if n != 1 else ''} on the same nodes"


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _signed(x: float | None) -> str:
    if x is None:
        return ""
    if x == 0:
        return "0"
    return ("+" if x > 0 else "") + _fmt(x)


def _where(r: Rep) -> str:
    if not r.devices:
        return r.node
    devs = "; ".join(f"{k} {','.join(map(str, v))}" for k, v in sorted(r.devices.items()))
    return f"{r.node} [{devs}]"


def _when(r: Rep) -> str:
    return "" if r.start is None else f" at {r.start}-{r.end}"


def text_lines(d: PlanDiff, name_a: str, name_b: str) -> list[str]:
    """The difference for people: a count line, then each kind of change, then deltas."""
    counts = {k.replace("_", " "): v for k, v in d.counts().items() if v}

    def state(i: int) -> str:
        text = d.status[i]
        if d.violations is not None and d.violations[i]:
            n = d.violations[i]
            text = f"says {text}; check finds {n} violation{'s' if n != 1 else ''}"
        return text

    lines = [
        f"plans differ: {', '.join(f'{v} {k}' for k, v in counts.items())}",
        f"  a: {name_a} ({state(0)})",
        f"  b: {name_b} ({state(1)})",
    ]
    label = d.label

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        width = min(max(len(k) for k, _ in rows), 32)
        lines.append("")
        lines.append(title)
        lines.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)

    def moved(c: Change) -> str:
        text = f"{_where(c.a)} -> {_where(c.b)}"
        if c.a.start is not None and c.b.start is not None and c.a.start != c.b.start:
            text += f"  start {c.a.start} -> {c.b.start} ({_signed(c.shift)})"
        return text

    section("moved (from -> to)", [(label(c.a), moved(c)) for c in d.moved])
    section(
        "devices changed (same node)",
        [(label(c.a), f"{_where(c.a)} -> {_where(c.b)}") for c in d.devices],
    )
    for title, changes in (("started earlier", d.earlier), ("started later", d.later)):
        section(
            title,
            [
                (label(c.a), f"{c.a.node}: {c.a.start} -> {c.b.start} ({_signed(c.shift)})")
                for c in changes
            ],
        )
    section("newly placed (only in b)", [(label(r), _where(r) + _when(r)) for r in d.placed])
    section("dropped (only in a)", [(label(r), _where(r) + _when(r)) for r in d.dropped])

    how = "recomputed" if d.recomputed else "as the plans state it"
    rows: list[tuple[str, Delta]] = [
        (t, x) for t, x in d.objective.items() if x.delta is None or x.delta != 0
    ]
    if d.fitness.delta is None or d.fitness.delta != 0:
        rows.append(("fitness", d.fitness))
    if rows:
        width = max(len(t) for t, _ in rows)
        va = [_fmt(x.a) for _, x in rows]
        vb = [_fmt(x.b) for _, x in rows]
        wa, wb = max(map(len, [*va, "a"])), max(map(len, [*vb, "b"]))
        lines += ["", f"objective ({how}; terms that changed)"]
        lines.append(f"  {''.ljust(width)}  {'a'.rjust(wa)}  {'b'.rjust(wb)}  change")
        for (t, x), sa, sb in zip(rows, va, vb, strict=True):
            lines.append(f"  {t.ljust(width)}  {sa.rjust(wa)}  {sb.rjust(wb)}  {_signed(x.delta)}")
    if d.utilisation:
        lines += ["", f"utilisation ({how}; nodes that changed, a -> b)"]
        width = min(max(len(n) for n in d.utilisation), 32)
        import shutil

        columns = max(60, shutil.get_terminal_size((80, 24)).columns)
        for node, row in d.utilisation.items():
            parts = [
                f"{r} {_pc(x.a)} -> {_pc(x.b)} ({_signed(_pts(x.a, x.b))} pts)"
                for r, x in row.items()
            ]
            line = f"  {node.ljust(width)}  "
            for i, part in enumerate(parts):
                piece = part + ("," if i < len(parts) - 1 else "")
                if len(line) + len(piece) >= columns and line.strip() != node:
                    lines.append(line.rstrip())
                    line = " " * (width + 4)
                line += piece + " "
            lines.append(line.rstrip())
    return lines


def _pc(u: float | None) -> str:
    return "–" if u is None else f"{u * 100:.0f}%"


def _pts(a: float | None, b: float | None) -> int:
    """The change in percentage points between the two percentages as :func:`_pc` shows
    them, so that the line adds up (62% -> 68% is +6, though 62.5 % -> 67.97 % is 5.47)."""
    return round((b or 0) * 100) - round((a or 0) * 100)
