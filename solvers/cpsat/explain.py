"""Why a problem has no plan: a small set of tasks that cannot all be placed, in the user's terms.

When CP-SAT proves a problem infeasible, :func:`explain` rebuilds the model with "this task is
placed" as one assumption literal per task a plan must place (required tasks, their gang mates
and, in scheduling problems, their predecessors), asks CP-SAT for a sufficient subset of the
assumptions (``sufficient_assumptions_for_infeasibility``), then shrinks it by deletion: a task
whose removal keeps the rest infeasible is dropped. What is left is a minimal conflict (when the
time allows every deletion test; otherwise a small one), described by what binds it: a resource
the tasks need more of than their allowed nodes have in all, a time window too short for the
work, or the constraints between them (separation, replicas on distinct nodes, gangs).

Each task is named with its place in the file, e.g. ``train-a (fleet.yaml:14)``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from taskalloc.problems.problem import Problem, effectively_required

from ..clock import stop_set
from ..native import cp_solver, stopping
from ..scaling import choose_scales
from ..warm import safe_horizon
from .model import AllocationModel


@dataclass
class Conflict:
    """A set of tasks that cannot all be placed, and why, as lines for the user."""

    tasks: list[int]
    minimal: bool
    lines: list[str]


def explain(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    most: int = 3,
    stop: threading.Event | None = None,
) -> list[Conflict]:
    """Up to ``most`` disjoint conflicting sets of tasks (the next one is searched among the
    tasks left once the earlier ones are set aside); empty when none was found in time, or
    before ``stop`` was set (a set found then is kept, not minimal)."""
    deadline = time.monotonic() + time_limit
    must = sorted(effectively_required(problem))
    found: list[Conflict] = []
    while must and len(found) < most and deadline - time.monotonic() > 0.1:
        if stop_set(stop):
            break
        core = _core(problem, must, deadline, workers, stop)
        if core is None:
            break
        core, minimal = _shrink(problem, core, deadline, workers, stop)
        # a gang is placed all or none: one member's literal stands for the whole gang, which
        # is what the conflict is about (and the next search must not find it again through
        # another member)
        members = _with_gangs(problem, core)
        found.append(Conflict(members, minimal, _describe(problem, members, minimal)))
        must = [t for t in must if t not in set(members)]
    return found


def _with_gangs(problem: Problem, tasks: list[int]) -> list[int]:
    """``tasks`` and every member of their gangs, in task order."""
    out = set(tasks)
    for t in tasks:
        gang = problem.tasks[t].gang
        if gang is not None:
            out.update(problem.gangs.get(gang, ()))
    return sorted(out)


def _build(problem: Problem) -> AllocationModel:
    scales = choose_scales(problem)
    horizon = safe_horizon(problem) if problem.scheduling else 0
    return AllocationModel(problem, scales, (), horizon, assume_required=True)


def _solve(
    model: AllocationModel,
    tasks: list[int],
    seconds: float,
    workers: int,
    stop: threading.Event | None = None,
) -> tuple[int, cp_model.CpSolver]:
    model.model.clear_assumptions()
    model.model.add_assumptions([model.p[t] for t in tasks])
    solver = cp_solver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = workers
    solver.parameters.log_search_progress = False
    with stopping(stop, solver.stop_search):
        return int(solver.solve(model.model)), solver


def _core(
    problem: Problem,
    must: list[int],
    deadline: float,
    workers: int,
    stop: threading.Event | None = None,
) -> list[int] | None:
    model = _build(problem)
    status, solver = _solve(model, must, deadline - time.monotonic(), workers, stop)
    if status != cp_model.INFEASIBLE:
        return None
    lits = set(solver.sufficient_assumptions_for_infeasibility())
    core = [t for t in must if model.p[t].index in lits]
    return core or must


def _shrink(
    problem: Problem,
    core: list[int],
    deadline: float,
    workers: int,
    stop: threading.Event | None = None,
) -> tuple[list[int], bool]:
    """Deletion-based minimisation: drop each task whose removal keeps the rest infeasible."""
    model = _build(problem)
    kept = list(core)
    i = 0
    while i < len(kept):
        left = deadline - time.monotonic()
        if left <= 0.05 or stop_set(stop):
            return kept, False
        trial = kept[:i] + kept[i + 1 :]
        per_test = min(left, max(0.5, left / max(1, len(kept) - i)))
        if trial and _solve(model, trial, per_test, workers, stop)[0] == cp_model.INFEASIBLE:
            kept = trial
        else:
            i += 1
    return kept, True


def _where(problem: Problem, t: int) -> str:
    d = problem.locate_task(t)
    loc = f"{d.file}:{d.line}" if d.line is not None else d.file
    return f"{problem.tasks[t].id} ({loc})"


def _names(problem: Problem, tasks: list[int]) -> str:
    return ", ".join(_where(problem, t) for t in tasks)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _node_set(problem: Problem, tasks: list[int]) -> tuple[list[int], str]:
    """The nodes any of ``tasks`` may use, and how to say which they are."""
    nodes = sorted({n for t in tasks for n in problem.tasks[t].allowed})
    specs = {_selector_text(problem, t) for t in tasks}
    if len(nodes) == len(problem.nodes):
        return nodes, "the whole fleet"
    if len(specs) == 1 and (text := next(iter(specs))):
        return nodes, f"nodes allowed by {text}"
    ids = [problem.nodes[n].id for n in nodes]
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return nodes, f"nodes {shown}"


def _selector_text(problem: Problem, t: int) -> str:
    raw = problem.source.raw["tasks"][problem.tasks[t].spec_index]
    parts = []
    if raw.get("nodes") is not None:
        parts.append("nodes [" + ", ".join(map(str, raw["nodes"])) + "]")
    if raw.get("match"):
        sel = ", ".join(
            f"{k}={'|'.join(map(str, v))}" if isinstance(v, list) else f"{k}={v}"
            for k, v in raw["match"].items()
        )
        parts.append(f"match {sel}")
    return " and ".join(parts)


def _describe(problem: Problem, core: list[int], minimal: bool) -> list[str]:
    names = _names(problem, core)
    nodes, where = _node_set(problem, core)
    lines: list[str] = []
    gangs = sorted({g for t in core if (g := problem.tasks[t].gang) is not None})
    if gangs and set(core) == {m for g in gangs for m in problem.gangs.get(g, ())}:
        which = f"gang {gangs[0]}" if len(gangs) == 1 else f"gangs {', '.join(gangs)}"
        size = f"{which} (placed all or none) cannot be placed"
    else:
        size = "these tasks cannot all be placed" if len(core) > 1 else "this task cannot be placed"
    lines.append(f"{'a minimal' if minimal else 'a'} conflict: {size}: {names}")
    # 1. what binds: a resource the tasks need more of than their nodes have in all
    #    (placement), or more work than their nodes can do in their time window (scheduling),
    #    or a gang that starts together and needs more at that instant than its nodes have
    binding = (
        _time_reason(problem, core, nodes, where)
        if problem.scheduling
        else _resource_reason(problem, core, nodes, where)
    )
    if binding is None and problem.scheduling:
        for g in gangs:
            if g in problem.same_start:
                mates = list(problem.gangs.get(g, ()))
                g_nodes, g_where = _node_set(problem, mates)
                binding = _resource_reason(
                    problem,
                    mates,
                    g_nodes,
                    g_where,
                    f"gang {g} starts all its members at once: together they need",
                )
                if binding:
                    break
    if binding is None and problem.scheduling:
        binding = _window_words(problem, core, where)
    if binding:
        lines.append(binding)
        return lines
    # 2. otherwise, the constraints between them
    reasons = []
    limit = problem.max_moves
    if limit is not None and any(problem.tasks[t].current is not None for t in core):
        # replanning: the allowed nodes may have room, but not the replicas' current nodes
        away = [problem.tasks[t].id for t in core if problem.tasks[t].current is not None]
        shown = ", ".join(away[:6]) + (", ..." if len(away) > 6 else "")
        reasons.append(
            f"max_moves {limit}: at most {limit} replica{'s' if limit != 1 else ''} may move "
            f"off the nodes their `current` names ({shown})"
        )
    sep = [(a, b) for a in core for b in problem.tasks[a].separate if b in core and a < b]
    if sep:
        pairs = ", ".join(f"{problem.tasks[a].id}/{problem.tasks[b].id}" for a, b in sep[:6])
        reasons.append(f"separate_from keeps {pairs} on different nodes")
    reps = [t for t in core if problem.tasks[t].replicas > 1]
    if reps:
        reasons.append(
            "replicas need distinct nodes ("
            + ", ".join(f"{problem.tasks[t].id} x{problem.tasks[t].replicas}" for t in reps[:6])
            + ")"
        )
    if any(problem.tasks[t].after for t in core):
        reasons.append("`after` orders them in time")

    def capacity(n: int, r: str, q: float) -> str:  # revision 2: with its devices, if split
        node = problem.nodes[n]
        k = node.devices.get(r)
        if k and any(problem.tasks[t].demand_at(n).get(r, 0.0) > 0 for t in core):
            return f"{r} {_num(q)} in {k} devices of {_num(node.device_size(r))}"
        return f"{r} {_num(q)}"

    per_node = "; ".join(
        f"{problem.nodes[n].id}: "
        + ", ".join(capacity(n, r, q) for r, q in problem.nodes[n].capacity.items())
        for n in nodes[:6]
    )
    reasons.append(f"{where}: {per_node}{'; ...' if len(nodes) > 6 else ''}")
    sums = []
    for r in problem.resources:
        parts = [
            min(
                (problem.tasks[t].demand_at(n).get(r, 0.0) for n in problem.tasks[t].allowed),
                default=0.0,
            )
            for t in core
            for _ in range(problem.tasks[t].replicas)
        ]
        if any(parts):
            sums.append(f"{r} {' + '.join(_num(q) for q in parts)} = {_num(sum(parts))}")
    if sums and not problem.scheduling and not sep and not reps and limit is None:
        reasons.append(
            "they need " + " and ".join(sums) + ", but no packing onto those nodes exists"
        )
    lines.append("  no assignment fits all of them at once: " + "; ".join(reasons))
    return lines


def _resource_reason(
    problem: Problem, core: list[int], nodes: list[int], where: str, lead: str = ""
) -> str | None:
    lead = lead or ("it needs" if len(core) == 1 else "together they need")
    for r in problem.resources:
        need = sum(
            problem.tasks[t].replicas
            * min(
                (problem.tasks[t].demand_at(n).get(r, 0.0) for n in problem.tasks[t].allowed),
                default=0.0,
            )
            for t in core
        )
        have = sum(problem.nodes[n].capacity.get(r, 0.0) for n in nodes)
        if need > have + 1e-9:
            return f"  {lead} {r} {_num(need)} on {where}; those nodes have {_num(have)} in all"
    return None


def _time_reason(problem: Problem, core: list[int], nodes: list[int], where: str) -> str | None:
    """Energy argument per resource: work (demand x shortest duration) against capacity x
    the span between the earliest release and the latest deadline (or horizon)."""
    starts = [problem.tasks[t].release or 0 for t in core]
    ends = [
        problem.tasks[t].deadline if problem.tasks[t].deadline is not None else problem.horizon
        for t in core
    ]
    if any(e is None for e in ends):
        return None
    lo, hi = min(starts), max(e for e in ends if e is not None)
    for r in problem.resources:
        work = 0.0
        for t in core:
            task = problem.tasks[t]
            work += task.replicas * min(
                (
                    task.demand_at(n).get(r, 0.0) * task.duration_at(problem.nodes[n])
                    for n in task.allowed
                ),
                default=0.0,
            )
        have = sum(problem.nodes[n].capacity.get(r, 0.0) for n in nodes) * (hi - lo)
        if work > have + 1e-9:
            they = "it needs" if len(core) == 1 else "they need"
            return (
                f"  between {lo} and {hi} {they} {_num(work)} {r}-time units on {where}; "
                f"those nodes offer {_num(have)} in that window"
            )
    return None


def _window_words(problem: Problem, core: list[int], where: str) -> str | None:
    """What is left to say of a schedule no energy argument explains: the constraints of time
    the tasks have (only those they have), and the window they leave."""
    tasks = [problem.tasks[t] for t in core]
    one = len(core) == 1
    said = []
    if any(t.release for t in tasks):
        said.append("release" if one else "releases")
    if any(t.deadline is not None for t in tasks):
        said.append("deadline" if one else "deadlines")
    if any(t.after for t in tasks):
        said.append("`after` order")
    if any(t.gang in problem.same_start for t in tasks if t.gang is not None):
        said.append("common start")
    if not said:
        return None
    lo = min(t.release or 0 for t in tasks)
    hi = max((t.deadline for t in tasks if t.deadline is not None), default=problem.horizon)
    words = " and ".join(said) if len(said) < 3 else ", ".join(said[:-1]) + " and " + said[-1]
    window = f" between {lo} and {hi}" if hi is not None else f" from {lo}"
    verb = "leave" if len(said) > 1 or said[0].endswith("s") else "leaves"
    return f"  {'its' if one else 'their'} {words} {verb} no schedule on {where}{window}"
