"""``taskalloc check``: recompute a plan from the problem and the plan alone."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from .console import fail_explained, plural, say, warn
from .exits import ExitCode
from .files import load_pair, write
from .options import OptionalPlanArg, PairProblemArg


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


def check(
    problem_file: PairProblemArg,
    plan_file: OptionalPlanArg = None,
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            "-f",
            help="text: the lines on stderr; json: also the result as JSON on stdout "
            "(ok, violations, objective, terms, warnings).",
        ),
    ] = CheckFormat.text,
) -> None:
    """Recompute every constraint and objective term of a plan from the two files alone.

    `check PLAN` (or `check - -` with the plan on stdin) takes the problem the plan embeds
    (problem.text), else the file named by problem.path.

    Exit 0 when every constraint holds and the stated objective equals the recomputed one
    (relative tolerance 1e-6), else 1 with every violation listed.
    """
    import json

    from taskalloc.problems.evaluate import check as run_check

    problem, plan = load_pair(problem_file, plan_file)
    rep = run_check(problem, plan)
    for w in rep.warnings:
        warn(_named(w, problem, plan))
    if fmt == CheckFormat.json:
        out = {
            "ok": rep.ok,
            "violations": [
                {"kind": v.kind, "message": v.message, "task": v.task, "node": v.node}
                for v in rep.violations
            ],
            "objective": rep.evaluation.objective,
            "terms": rep.evaluation.terms,
            "warnings": rep.warnings,
        }
        write(json.dumps(out, indent=2) + "\n", None)
    if rep.ok:
        n = len(plan.assignments)
        verb = "satisfies" if n == 1 else "satisfy"
        say(f"ok: {plural(n, 'assignment')} {verb} every constraint; objective matches")
        return
    fail_explained(
        ExitCode.VIOLATIONS,
        f"{plural(len(rep.violations), 'violation')}:",
        *(f"  {v.kind}: {v.message}" for v in rep.violations),
    )


def _named(warning: str, problem: Any, plan: Any) -> str:
    """The warning that a plan was made for other bytes, naming the problem it was made for
    when that is another problem (by name), not another version of this one."""
    if not warning.startswith("the plan was made for a file with other bytes"):
        return warning
    made_for = plan.problem_name
    if made_for is None or made_for == problem.name:
        return warning
    where = f", {plan.problem_path}" if plan.problem_path else ""
    this = f"'{problem.name}'" if problem.name else "this one"
    return (
        f"the plan was made for another problem ('{made_for}'{where}), not {this} (sha256 "
        "differs); checking it against this problem anyway"
    )
