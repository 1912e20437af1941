"""``taskalloc validate``: is a problem file valid, and can a plan exist?"""

from __future__ import annotations

from .console import fail_explained, plural, say_wrapped
from .exits import ExitCode
from .files import load
from .options import ProblemArg


def validate(problem_file: ProblemArg) -> None:
    """Check a problem file: schema, references, and cheap proofs of infeasibility.

    Exit 0 when valid, 2 with every error located (`file:line:column: field: message`),
    3 when the file is valid but no plan can exist.
    """
    from taskalloc.problems.proofs import prove_infeasible, structural_lines

    problem = load(problem_file)
    kind = "scheduling" if problem.scheduling else "placement"
    pools = sum(1 for members in problem.pools.values() if len(members) > 1)
    say_wrapped(
        f"{problem.source.name}: valid {kind} problem: {plural(len(problem.nodes), 'node')}"
        f" ({plural(pools, 'pool')}), {plural(len(problem.tasks), 'task')}"
        f" ({plural(problem.total_replicas, 'replica')}),"
        f" resources {', '.join(problem.resources) or '(none)'};"
        f" objective {problem.objective.describe()}"
    )
    proofs = prove_infeasible(problem)
    if proofs:
        fail_explained(ExitCode.INFEASIBLE, *structural_lines(proofs))
