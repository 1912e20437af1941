"""A whole engine in one module, as a new engine is added (docs/architecture.md): its options,
its ENGINE, nothing else. Registered by tests/solvers/test_new_engine.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from taskalloc.solvers.engine import Params

if TYPE_CHECKING:
    from taskalloc.problems.problem import Problem
    from taskalloc.solvers.result import Result


@dataclass(frozen=True)
class FirstFitOptions:
    """``reverse``: try the allowed nodes last first."""

    reverse: bool = False


class FirstFitEngine:
    name = "firstfit"
    description = "placement: each replica on the first allowed node with room (an example)"
    default_time_limit: float | None = None
    Options = FirstFitOptions

    def solve(self, problem: Problem, params: Params, options: FirstFitOptions) -> Result:
        from taskalloc.problems.plan import Assignment, Status
        from taskalloc.solvers import SolverUnavailable
        from taskalloc.solvers.clock import Clock
        from taskalloc.solvers.result import Results

        if problem.scheduling:
            raise SolverUnavailable("engine firstfit places only; use engine cpsat")
        clock = Clock(params.limit(None), stop=params.stop, progress=params.progress)
        result = Results.start(self.name, time_limit=params.time_limit, workers=1, seed=params.seed)
        load = [dict.fromkeys(problem.resources, 0.0) for _ in problem.nodes]
        runs: list[set[int]] = [set() for _ in problem.nodes]  # tasks on each node
        out, missing = [], 0
        for t in problem.tasks:  # (gangs are not handled: an example, not an engine to use)
            order = reversed(t.allowed) if options.reverse else iter(t.allowed)
            chosen = [
                n
                for n in order
                if not runs[n] & t.separate
                and all(
                    load[n][r] + q <= problem.nodes[n].capacity.get(r, 0.0) + 1e-9
                    for r, q in t.demand_at(n).items()
                )
            ][: t.replicas]
            if len(chosen) < t.replicas:
                missing += t.required
                continue
            for i, n in enumerate(chosen):
                runs[n].add(t.index)
                for r, q in t.demand_at(n).items():
                    load[n][r] += q
                out.append(Assignment(t.id, i, problem.nodes[n].id))
        clock.record(float(missing), None, "unplaced")
        status = Status.UNKNOWN if missing else Status.FEASIBLE
        return result(status, out, f"{len(out)} replicas placed", trajectory=clock.trajectory)


ENGINE = FirstFitEngine()
