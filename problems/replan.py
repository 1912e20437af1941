"""Replanning: the problem of tomorrow from today's problem, today's plan and what changed.

:func:`replan_problem` takes a problem, the plan that runs today and a :class:`Changes` (nodes
that failed or are drained, tasks added, removed or scaled, capacities scaled, a limit on the
moves, and for schedules the instant ``now``) and returns a :class:`Replan`: the changed problem
(a valid problem file, so that it can be written, checked and solved by any engine), the old
plan as a hint for the engines, and what the report needs to say why each replica moved.
:func:`moves_of` compares the old and the new plan: what moved, from where to where, and why.
:func:`scenarios` and :func:`whatif_row` are the pieces of ``taskalloc whatif``.

How each change is written into the problem (all of it is plain problem data, FORMATS.md):

* ``current``: every task the old plan places gets ``current`` = the list of its replicas'
  nodes (a task the old plan leaves out has none: it runs nowhere today). Devices are not part
  of ``current`` (a replica that keeps its node but changes devices is no move); the hint keeps
  them, so engines that start from the hint keep them too.
* objective: ``moves`` goes right after ``unplaced`` in a lexicographic objective (the default
  one included) unless the objective has it; a weighted objective without ``moves`` gets it
  with weight 1.
* ``fail NODE`` and ``drain NODE|POOL``: the node (every member of a pool) leaves the allowed
  nodes of every task (``nodes`` is written out as the remaining allowed nodes, a pool's id
  where the whole pool remains), so replicas there must move or be unplaced. A failed node
  takes its running work down with it; a drained one lets it finish (``now``, below).
* ``add``: task entries appended (their ids must be new). ``remove TASK``: the entry goes, and
  so do references to it (``after``, ``separate_from``) and a gang left with no task.
* ``scale_demand (TASK or *, F)``: ``demand`` and ``demand_on`` multiplied by F, except
  resources some node splits into devices (a replica takes a share of one device or whole
  devices: 1.1 GPUs is no request a GPU node can serve; scale replicas for those).
  ``scale_capacity (NODE|POOL or *, F)``: capacities likewise (devices keep their number).
* ``max_moves K``: the top-level field ``max_moves`` (a hard limit on the ``moves`` term).
* ``now T`` (scheduling problems): replicas that ended by T are done, those that started
  before T are running; a task with a replica that started (done or running) stays where and
  when it was (``nodes`` its old nodes, ``release`` its earliest start, ``deadline`` its
  latest end) unless one of its replicas runs or was to run on a failed node: then the whole
  task restarts (released at T, its old nodes' failed ones excluded). A drained node lets its
  started work finish and takes nothing new. Every task that had not started is released at T
  at the earliest. Without ``now`` a schedule is replanned from 0, as if nothing had started.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entities import Problem, Task
from .plan import Assignment, Plan
from .source import PathElem, Source, did_you_mean
from .wording import label_str, num

#: decimals kept when a demand or capacity is scaled (so 96 x 1.1 stays 105.6)
DECIMALS = 9
#: a changed problem of more tasks than this is written as JSON, not YAML
LARGE = 2000


class ReplanError(ValueError):
    """A change that does not fit the problem or the plan (an unknown node, task, ...): one
    line, the CLI's exit code 2."""


@dataclass(frozen=True)
class Changes:
    """What changed since the plan was made (see the module docstring for each)."""

    fail: tuple[str, ...] = ()
    drain: tuple[str, ...] = ()
    add: tuple[Mapping[str, Any], ...] = ()
    #: where each task of ``add`` was written (its file and its entry's path there), or None:
    #: the changed problem's messages about it name that line
    add_at: tuple[tuple[Source, tuple[PathElem, ...]] | None, ...] = ()
    remove: tuple[str, ...] = ()
    scale_demand: tuple[tuple[str, float], ...] = ()  # (task id or "*", factor)
    scale_capacity: tuple[tuple[str, float], ...] = ()  # (node or pool id or "*", factor)
    max_moves: int | None = None
    now: int | None = None
    #: every task optional (``required: false``), so that a plan shows what no longer fits
    #: instead of a proof that the required tasks cannot all be placed (what-if scenarios)
    optional: bool = False

    def describe(self) -> list[str]:
        """The changes in words, one per line."""
        out = [f"fail {x}" for x in self.fail] + [f"drain {x}" for x in self.drain]
        out += [f"add {t.get('id')}" for t in self.add] + [f"remove {x}" for x in self.remove]
        out += [f"scale demand of {k} x{num(f)}" for k, f in self.scale_demand]
        out += [f"scale capacity of {k} x{num(f)}" for k, f in self.scale_capacity]
        if self.max_moves is not None:
            out.append(f"at most {self.max_moves} move{'' if self.max_moves == 1 else 's'}")
        if self.now is not None:
            out.append(f"now {self.now}")
        return out


@dataclass(frozen=True)
class Replan:
    """The changed problem and what the move report needs."""

    problem: Problem
    base: Problem
    plan: Plan
    changes: Changes
    hint: tuple[Assignment, ...]
    failed: frozenset[str] = frozenset()  # node ids
    drained: Mapping[str, str] = field(default_factory=dict)  # node id -> the id given
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    scaled: Mapping[str, float] = field(default_factory=dict)  # task id -> demand factor
    fixed: tuple[str, ...] = ()  # schedules with now: tasks kept where and when they were
    restarted: tuple[str, ...] = ()  # schedules with now: tasks that restart


# -- names -------------------------------------------------------------------------------------


def _node_set(problem: Problem, name: str, what: str, pools: bool = True) -> list[int]:
    """The node indices ``name`` stands for (a node, or every member of a pool)."""
    if name in problem.node_index:
        return [problem.node_index[name]]
    if pools and name in problem.pools:
        return list(problem.pools[name])
    choices = list(problem.node_index) + (list(problem.pools) if pools else [])
    kind = "node or pool" if pools else "node"
    raise ReplanError(f"{what} {name}: no {kind} of that id{did_you_mean(name, choices)}")


def _task_id(problem: Problem, name: str, what: str) -> int:
    if name in problem.task_index:
        return problem.task_index[name]
    raise ReplanError(f"{what} {name}: no task of that id{did_you_mean(name, problem.task_index)}")


def compress(problem: Problem, nodes: Iterable[int]) -> list[str]:
    """Node indices as ids, a pool's id where every member is there, in file order."""
    chosen = set(nodes)
    out: list[str] = []
    covered: set[int] = set()
    pool_of = {m[0]: (pid, m) for pid, m in problem.pools.items() if m}
    for n in sorted(chosen):
        if n in covered:
            continue
        if n in pool_of:
            pid, members = pool_of[n]
            if all(m in chosen for m in members):
                out.append(pid)
                covered.update(members)
                continue
        out.append(problem.nodes[n].id)
    return out


def _scaled(x: float, f: float) -> float | int:
    v = round(float(x) * f, DECIMALS)
    return int(v) if v.is_integer() and isinstance(x, int) else v


# -- the changed problem -------------------------------------------------------------------------


def replan_problem(problem: Problem, plan: Plan, changes: Changes) -> Replan:
    """The changed problem (see the module docstring); ReplanError for a change that names
    what the problem does not have, InputError when the result is not a valid problem (e.g.
    an added task with a bad field)."""
    from .compiler import build_problem
    from .source import parse

    p = problem
    if changes.max_moves is not None and changes.max_moves < 0:
        raise ReplanError(f"max moves {changes.max_moves}: give a number >= 0")
    if changes.now is not None:
        if changes.now < 0:
            raise ReplanError(f"now {changes.now}: give an instant >= 0")
        if not p.scheduling:
            raise ReplanError("now: for scheduling problems only (this one places tasks)")
    failed = {n for name in changes.fail for n in _node_set(p, name, "fail")}
    drained: dict[int, str] = {}
    for name in changes.drain:
        for n in _node_set(p, name, "drain"):
            drained.setdefault(n, name)
    removed = {_task_id(p, name, "remove") for name in changes.remove}
    for name, f in changes.scale_demand:
        if name != "*":
            _task_id(p, name, "scale demand")
        if not (f >= 0 and math.isfinite(f)):
            raise ReplanError(f"scale demand {name}={f}: give a factor >= 0")
    for name, f in changes.scale_capacity:
        if name != "*":
            _node_set(p, name, "scale capacity")
        if not (f >= 0 and math.isfinite(f)):
            raise ReplanError(f"scale capacity {name}={f}: give a factor >= 0")

    by_task: dict[str, list[Assignment]] = {}
    for a in plan.assignments:
        if a.task not in p.task_index or a.node not in p.node_index:
            what = "task" if a.task not in p.task_index else "node"
            raise ReplanError(
                f"the plan places {a.task} on {a.node}: no {what} of that id in the problem "
                "(is it the plan of another problem?)"
            )
        by_task.setdefault(a.task, []).append(a)
    for reps in by_task.values():
        reps.sort(key=lambda a: a.replica)

    data: dict[str, Any] = copy.deepcopy(p.to_dict())
    tasks: list[Any] = data["tasks"]
    entry = {t.get("id"): t for t in tasks if isinstance(t, dict)}
    split = set(p.split_resources)
    excluded = failed | set(drained)

    # schedules at `now`: which tasks stay put, which restart
    fixed: set[int] = set()
    restarted: set[int] = set()
    now = changes.now
    if now is not None:
        for t in p.tasks:
            reps = by_task.get(t.id, [])
            if t.service or not reps:
                continue
            started = [a for a in reps if a.start is not None and a.start < now]
            # a replica that ended before the failure is done: only unfinished work is lost
            hit = any(
                p.node_index[a.node] in failed and (a.end is None or a.end > now) for a in reps
            )
            if started and not hit:
                fixed.add(t.index)
            elif started and hit:
                restarted.add(t.index)

    memo: dict[tuple[int, ...], list[str]] = {}
    for t in p.tasks:
        e = entry[t.id]
        if t.index in removed:
            continue
        reps = by_task.get(t.id, [])
        # today's placement
        if reps:
            e["current"] = [a.node for a in reps]
        else:
            e.pop("current", None)
        # where it may go
        if t.index in fixed:
            old = [p.node_index[a.node] for a in reps]
            e["nodes"] = compress(p, old)
            e.pop("match", None)
            starts = [a.start for a in reps if a.start is not None]
            ends = [a.end for a in reps if a.end is not None]
            if starts:
                e["release"] = min(starts)
            if ends and t.duration is not None:
                e["deadline"] = max(ends)
        else:
            if excluded & set(t.allowed):
                left = tuple(n for n in t.allowed if n not in excluded)
                if left not in memo:  # many tasks share their allowed nodes
                    memo[left] = compress(p, left)
                e["nodes"] = list(memo[left])
            if now is not None and not t.service and t.duration is not None:
                e["release"] = max(t.release or 0, now)
    if changes.optional:
        for t in tasks:
            if isinstance(t, dict):
                t["required"] = False
    # scaling demand
    factors: dict[str, float] = {}
    for name, f in changes.scale_demand:
        for t in p.tasks if name == "*" else [p.tasks[p.task_index[name]]]:
            factors[t.id] = factors.get(t.id, 1.0) * f
    for tid, f in factors.items():
        e = entry[tid]
        if isinstance(e.get("demand"), dict):
            e["demand"] = {r: q if r in split else _scaled(q, f) for r, q in e["demand"].items()}
        if isinstance(e.get("demand_on"), dict):
            e["demand_on"] = {
                k: {r: q if r in split else _scaled(q, f) for r, q in d.items()}
                for k, d in e["demand_on"].items()
            }
    # scaling capacity: on node entries (a pool's entry for a whole pool or "*")
    cap_factor: dict[str, float] = {}
    for name, f in changes.scale_capacity:
        if name == "*":
            for n in data["nodes"]:
                cap_factor[n["id"]] = cap_factor.get(n["id"], 1.0) * f
        elif any(isinstance(n, dict) and n.get("id") == name for n in data["nodes"]):
            cap_factor[name] = cap_factor.get(name, 1.0) * f
        else:
            raise ReplanError(
                f"scale capacity {name}: a member of a pool; scale the pool "
                f"{p.nodes[p.node_index[name]].id.rsplit('-', 1)[0]} or the whole fleet (*)"
            )
    for n in data["nodes"]:
        cf = cap_factor.get(n.get("id"))
        if cf is not None and isinstance(n.get("capacity"), dict):
            own = set(n.get("devices") or {})
            n["capacity"] = {r: q if r in own else _scaled(q, cf) for r, q in n["capacity"].items()}
    # removing tasks, and every reference to them
    gone = {p.tasks[i].id for i in removed}
    if gone:
        tasks[:] = [t for t in tasks if not (isinstance(t, dict) and t.get("id") in gone)]
        for t in tasks:
            for key in ("after", "separate_from"):
                if isinstance(t.get(key), list):
                    t[key] = [x for x in t[key] if x not in gone]
                    if not t[key]:
                        del t[key]
        if isinstance(data.get("gangs"), dict):
            used = {t.get("gang") for t in tasks}
            data["gangs"] = {g: v for g, v in data["gangs"].items() if g in used}
            if not data["gangs"]:
                del data["gangs"]
    # adding tasks
    added: list[str] = []
    for spec in changes.add:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
            raise ReplanError("add: every task to add is a mapping with an `id`")
        tid = spec["id"]
        if (tid in p.task_index and tid not in gone) or tid in added:
            raise ReplanError(f"add {tid}: the problem already has a task of that id")
        added.append(tid)
        new = copy.deepcopy(dict(spec))
        if now is not None and new.get("duration") is not None and not new.get("service"):
            new["release"] = max(int(new.get("release") or 0), now)
        tasks.append(new)
    # objective and the limit
    data["objective"] = _with_moves(p, data.get("objective"))
    if changes.max_moves is not None:
        data["max_moves"] = changes.max_moves
    data["x-replan"] = _record(changes)
    if p.sha256:  # the problem replanned, so that `diff` can tell a replan from another file
        data["x-replan"]["from"] = {
            k: v for k, v in (("name", p.name), ("sha256", p.sha256)) if v is not None
        }
    data["name"] = f"{p.name or 'problem'} (replanned)"
    # compiled from its text, so that the file written (--write-problem) has the bytes, and
    # the sha256, that the new plan records: YAML, or JSON for large problems (PyYAML takes
    # half a minute to write and read back 8,000 tasks, json a second)
    from .plan import dumps

    kind = "json" if len(tasks) > LARGE else "yaml"
    text = dumps(data, kind).encode()
    source = parse(REPLANNED, text)
    # a message about a task names the line the user wrote it on (the problem file, an --add
    # file), not one of this text, which they have only with --write-problem
    source.origins = _origins(p, tasks, added, changes)
    new_problem = build_problem(source)
    hint = _hint(new_problem, plan)
    return Replan(
        problem=new_problem,
        base=p,
        plan=plan,
        changes=changes,
        hint=tuple(hint),
        failed=frozenset(p.nodes[n].id for n in failed),
        drained={p.nodes[n].id: why for n, why in drained.items()},
        added=tuple(added),
        removed=tuple(sorted(gone)),
        scaled=factors,
        fixed=tuple(p.tasks[i].id for i in sorted(fixed)),
        restarted=tuple(p.tasks[i].id for i in sorted(restarted)),
    )


#: the changed problem's name in messages about what has no line of the user's (its text is
#: what --write-problem writes)
REPLANNED = "<the replanned problem, as --write-problem writes it>"


def _origins(
    p: Problem, tasks: Sequence[Any], added: Sequence[str], changes: Changes
) -> dict[int, tuple[Source, tuple[PathElem, ...]]]:
    """Task entry of the changed problem -> where the user wrote it: the problem's own
    entry, or the --add file's (:attr:`Source.origins`)."""
    raw = p.source.raw.get("tasks") if isinstance(p.source.raw, dict) else None
    mine = {
        t.get("id"): j
        for j, t in enumerate(raw if isinstance(raw, list) else [])
        if isinstance(t, dict)
    }
    new = set(added)
    at_add = dict(zip((t.get("id") for t in changes.add), changes.add_at, strict=False))
    out: dict[int, tuple[Source, tuple[PathElem, ...]]] = {}
    for i, t in enumerate(tasks):
        tid = t.get("id") if isinstance(t, dict) else None
        if tid in new:
            where = at_add.get(tid)
            if where is not None:
                out[i] = where
        elif tid in mine:
            out[i] = (p.source, ("tasks", mine[tid]))
    return out


def _record(changes: Changes) -> dict[str, Any]:
    """The ``x-replan`` key of the changed problem: what changed, for the reader."""
    out: dict[str, Any] = {}
    for key in ("fail", "drain", "remove"):
        if getattr(changes, key):
            out[key] = list(getattr(changes, key))
    if changes.add:
        out["add"] = [t.get("id") for t in changes.add]
    if changes.scale_demand:
        out["scale_demand"] = {k: f for k, f in changes.scale_demand}
    if changes.scale_capacity:
        out["scale_capacity"] = {k: f for k, f in changes.scale_capacity}
    if changes.now is not None:
        out["now"] = changes.now
    if changes.optional:
        out["best_effort"] = True  # every task was made optional (replan --best-effort)
    return out


def _with_moves(p: Problem, objective: Any) -> dict[str, Any]:
    """The objective with ``moves`` right after ``unplaced`` (or weight 1), unless it has it."""
    if not isinstance(objective, dict) or not objective:
        terms = list(p.objective.terms)
        objective = {"lexicographic": terms}
    objective = dict(objective)
    if "weights" in objective and objective["weights"] is not None:
        weights = dict(objective["weights"])
        weights.setdefault("moves", 1)
        objective["weights"] = weights
        return objective
    terms = list(objective.get("lexicographic") or p.objective.terms)
    if "moves" not in terms:
        at = terms.index("unplaced") + 1 if "unplaced" in terms else 0
        terms.insert(at, "moves")
    objective["lexicographic"] = terms
    return objective


def _hint(problem: Problem, plan: Plan) -> list[Assignment]:
    """The old plan's assignments that still make sense in the new problem: tasks still there,
    all of whose replicas stay on allowed nodes; then, while the evaluator finds violations
    (a scaled demand that no longer fits, ...), the tasks it names are dropped."""
    from .evaluate import violations

    by_task: dict[str, list[Assignment]] = {}
    for a in plan.assignments:
        by_task.setdefault(a.task, []).append(a)
    keep: list[Assignment] = []
    for tid, reps in by_task.items():
        ti = problem.task_index.get(tid)
        if ti is None:
            continue
        allowed = set(problem.tasks[ti].allowed)
        if all(problem.node_index.get(a.node) in allowed for a in reps):
            keep.extend(reps)
    for _ in range(5):
        bad = {v.task for v in violations(problem, keep) if v.task and v.kind != "required"}
        if not bad:
            break
        keep = [a for a in keep if a.task not in bad]
    return keep


# -- what moved and why -------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One line of the move report. ``kind``: moved (a replica changed node), stopped (placed
    before, unplaced now), started (placed now, not before: a new or a waiting task), removed,
    restarted (schedules: a running task starts again), devices (same node, other devices)."""

    kind: str
    task: str
    source: str | None
    target: str | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "task": self.task,
            "from": self.source,
            "to": self.target,
            "why": self.why,
        }

    def __str__(self) -> str:
        a = self.source or "-"
        b = self.target or "-"
        return f"{self.kind:9} {self.task}: {a} -> {b} ({self.why})"


def moves_of(rp: Replan, new: Plan) -> list[Move]:
    """What changed between the old plan and the new one, replica by replica, and why.

    A replica whose node its task's ``current`` names stays (it may change devices); the
    others pair the nodes the task left with the nodes it went to, in order. Why a replica
    moved: the node it left failed or was drained; a task added or grown needed the room
    (the node it left now runs a task that was not there before, or runs it more); its own
    demand was scaled; else the objective gained by it."""
    p = rp.problem
    old = _nodes_by_task(rp.plan.assignments)
    now = _nodes_by_task(new.assignments)
    old_dev = {(a.task, a.node): a.devices for a in rp.plan.assignments}
    arrivals: dict[str, list[str]] = {}  # node -> tasks that arrive there
    for tid, nodes in now.items():
        for n in nodes:
            if n not in old.get(tid, []):
                arrivals.setdefault(n, []).append(tid)
    reasons = {u.task: u.reason for u in new.unplaced}
    out: list[Move] = []
    for tid in rp.removed:
        for n in old.get(tid, []):
            out.append(Move("removed", tid, n, None, "removed from the problem"))
    for t in p.tasks:
        tid = t.id
        before, after = old.get(tid, []), now.get(tid, [])
        if tid in rp.restarted and after:
            out.append(
                Move("restarted", tid, ", ".join(before), ", ".join(after), _why_left(rp, before))
            )
            continue
        if not before and after:
            why = "new task" if tid in rp.added else "placed now (unplaced before)"
            out.extend(Move("started", tid, None, n, why) for n in after)
            continue
        if before and not after:
            why = reasons.get(tid, "unplaced")
            if any(n in rp.failed or n in rp.drained for n in before):
                why = f"{_why_left(rp, before)}; {why}"
            out.extend(Move("stopped", tid, n, None, why) for n in before)
            continue
        left = [n for n in before if n not in after]
        went = [n for n in after if n not in before]
        for src, dst in zip(left, went, strict=False):
            out.append(Move("moved", tid, src, dst, _why_moved(rp, tid, src, arrivals)))
        for n in after:
            if n in before:
                a = next(x for x in new.assignments if x.task == tid and x.node == n)
                if a.devices != old_dev.get((tid, n)) and old_dev.get((tid, n)) is not None:
                    out.append(Move("devices", tid, n, n, "other devices on the same node"))
    return out


def _nodes_by_task(assignments: Sequence[Assignment]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in sorted(assignments, key=lambda a: (a.task, a.replica)):
        out.setdefault(a.task, []).append(a.node)
    return out


def _why_left(rp: Replan, nodes: Sequence[str]) -> str:
    for n in nodes:
        if n in rp.failed:
            return f"node {n} failed"
        if n in rp.drained:
            given = rp.drained[n]
            return f"pool {given} drained" if given != n else f"node {n} drained"
    return "restarted"


def _why_moved(rp: Replan, tid: str, src: str, arrivals: Mapping[str, list[str]]) -> str:
    if src in rp.failed or src in rp.drained:
        return _why_left(rp, [src])
    if tid in rp.scaled:
        return f"its demand scaled x{num(rp.scaled[tid])}"
    room = [t for t in arrivals.get(src, []) if t in rp.added or t in rp.scaled]
    if room:
        what = "new task" if room[0] in rp.added else "grown task"
        return f"room for {what} {room[0]}"
    if arrivals.get(src):
        return f"room for {arrivals[src][0]}"
    return "objective gain"


# -- what-if -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One what-if: a name and its changes (applied to the problem and the baseline plan)."""

    name: str
    changes: Changes
    #: what the scenario takes away, for naming the weakest: ("node"|"pool"|"zone", id)
    loss: tuple[str, str] | None = None


def scenarios(
    problem: Problem,
    *,
    fail_each_node: bool = False,
    fail_each_pool: bool = False,
    fail_zone: Sequence[str] = (),
    scale_demand: Sequence[float] = (),
    scale_capacity: Sequence[float] = (),
) -> list[Scenario]:
    """The scenarios of ``taskalloc whatif`` in that order. ``fail_zone``: ``LABEL=VALUE``
    items, each failing every node with that label value. Every task is optional in a
    scenario (:attr:`Changes.optional`): its plan shows what no longer fits, and a scenario is
    feasible when every required task still is placed."""
    out: list[Scenario] = []
    if fail_each_node:
        for n in problem.nodes:
            out.append(
                Scenario(f"fail {n.id}", Changes(fail=(n.id,), optional=True), ("node", n.id))
            )
    if fail_each_pool:
        if not problem.pools:
            raise ReplanError("fail each pool: the problem has no pools (node entries with count)")
        for pid in problem.pools:
            name = f"fail pool {pid}" if len(problem.pools[pid]) > 1 else f"fail {pid}"
            out.append(Scenario(name, Changes(fail=(pid,), optional=True), ("pool", pid)))
    for item in fail_zone:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ReplanError(f"fail zone {item}: give LABEL=VALUE (e.g. zone=eu-1)")
        hit = [n.id for n in problem.nodes if str(n.labels.get(key)) == value]
        if not hit:
            values = sorted({str(n.labels[key]) for n in problem.nodes if key in n.labels})
            if not values:
                raise ReplanError(f"fail zone {item}: no node has a label {key}")
            known = f" (its values: {', '.join(values)})"
            raise ReplanError(f"fail zone {item}: no node has label {key}={value}{known}")
        out.append(
            Scenario(f"fail {key}={value}", Changes(fail=tuple(hit), optional=True), ("zone", item))
        )
    for f in scale_demand:
        out.append(Scenario(f"demand x{num(f)}", Changes(scale_demand=(("*", f),), optional=True)))
    for f in scale_capacity:
        out.append(
            Scenario(f"capacity x{num(f)}", Changes(scale_capacity=(("*", f),), optional=True))
        )
    return out


@dataclass
class WhatifRow:
    """One scenario's outcome against the baseline plan."""

    scenario: str
    status: str  # the plan's status, or the error
    feasible: bool | None
    delta: dict[str, float] = field(default_factory=dict)  # term -> new - baseline
    moves: int | None = None
    unplaced_tasks: int | None = None
    unplaced_devices: float | None = None  # of the split resource (GPUs), when there is one
    most_loaded: str | None = None  # "gpu 97%"
    loss: tuple[str, str] | None = None
    objective: dict[str, float] | None = None
    #: the most loaded resource and its load / capacity (``most_loaded`` as data)
    most_loaded_resource: str | None = None
    most_loaded_utilisation: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "status": self.status,
            "feasible": self.feasible,
            "objective_delta": self.delta,
            "moves": self.moves,
            "unplaced_tasks": self.unplaced_tasks,
            "unplaced_devices": self.unplaced_devices,
            "most_loaded": self.most_loaded,
            "most_loaded_resource": self.most_loaded_resource,
            "most_loaded_utilisation": self.most_loaded_utilisation,
            "loss": None if self.loss is None else {"kind": self.loss[0], "name": self.loss[1]},
        }


def device_resource(problem: Problem) -> str | None:
    """The resource whose unplaced amount the what-if table shows: ``gpu`` when the problem
    has it, else the first resource split into devices, else None."""
    if "gpu" in problem.resources:
        return "gpu"
    return problem.split_resources[0] if problem.split_resources else None


def whatif_row(
    scenario: Scenario,
    base: Problem,
    baseline: Plan,
    problem: Problem,
    plan: Plan | None,
    status: str,
) -> WhatifRow:
    """The row of ``scenario`` (its changed ``problem`` and new ``plan``, None when none was
    found; ``status`` the outcome) against the ``baseline`` plan of ``base``."""
    row = WhatifRow(scenario.name, status, None, loss=scenario.loss)
    if plan is None or plan.solver.objective is None:
        row.feasible = False if status == "infeasible" else None
        return row
    terms = plan.solver.objective
    old = baseline.solver.objective or {}
    row.objective = dict(terms)
    row.delta = {k: v - old.get(k, 0.0) for k, v in terms.items() if k != "moves"}
    row.moves = int(terms.get("moves", 0))
    row.unplaced_tasks = len(plan.unplaced)
    ev = plan.metrics or {}
    required = {t.id for t in base.tasks if t.required}
    row.feasible = (
        bool(ev.get("feasible", True))
        and str(plan.solver.status) in ("optimal", "feasible")
        and not any(u.task in required for u in plan.unplaced)
    )
    res = device_resource(problem)
    if res is not None:
        ri = problem.task_index
        row.unplaced_devices = sum(
            problem.tasks[ri[u.task]].demand.get(res, 0.0) * problem.tasks[ri[u.task]].replicas
            for u in plan.unplaced
            if u.task in ri
        )
    util = ev.get("fleet_utilisation") or {}
    if not problem.scheduling:  # over the nodes left (the fleet's figure counts lost ones)
        lost = {n for name in scenario.changes.fail for n in _node_set(problem, name, "fail")}
        cap: dict[str, float] = {}
        for node in problem.nodes:
            if node.index not in lost:
                for r, q in node.capacity.items():
                    cap[r] = cap.get(r, 0.0) + q
        load: dict[str, float] = {}
        for a in plan.assignments:
            task = problem.tasks[problem.task_index[a.task]]
            for r, q in task.demand_at(problem.node_index[a.node]).items():
                load[r] = load.get(r, 0.0) + q
        util = {r: load.get(r, 0.0) / c for r, c in cap.items() if c > 0}
    if util:
        r, u = max(util.items(), key=lambda kv: kv[1])
        row.most_loaded = f"{r} {u * 100:.0f}%"
        row.most_loaded_resource, row.most_loaded_utilisation = r, round(u, 6)
    return row


def weakest(rows: Sequence[WhatifRow]) -> WhatifRow | None:
    """The loss scenario that costs most: most unplaced devices, then unplaced tasks, then
    infeasible, then the largest objective increase (term by term in order)."""
    losses = [r for r in rows if r.loss is not None]
    if not losses:
        return None

    def cost(r: WhatifRow) -> tuple[Any, ...]:
        return (
            r.feasible is False,
            r.unplaced_devices or 0.0,
            r.unplaced_tasks or 0,
            tuple(r.delta.values()),
            r.moves or 0,
        )

    return max(losses, key=cost)


@dataclass(frozen=True)
class Replanned:
    """What :func:`taskalloc.replan` returns: the changed problem and its context
    (``replan``), the new checked plan (``plan``; its status says whether it is a plan) and
    the move report (``moves``)."""

    replan: Replan
    plan: Plan
    moves: tuple[Move, ...]

    @property
    def problem(self) -> Problem:
        return self.replan.problem

    @property
    def moved(self) -> int:
        """Replicas that changed node (the ``moves`` of the new plan)."""
        return sum(1 for m in self.moves if m.kind == "moved")


@dataclass(frozen=True)
class WhatIf:
    """What :func:`taskalloc.whatif` returns: the baseline plan, one row per scenario, and
    the weakest node, pool or zone (the loss that costs most; None without loss scenarios)."""

    baseline: Plan
    rows: tuple[WhatifRow, ...]
    weakest: WhatifRow | None


@dataclass(frozen=True)
class ReplanNote:
    """What a replanned problem's ``x-replan`` key says, for reports: the failed and the
    drained nodes (pools given by id expanded to their members), the instant of the change,
    and whether every task was made optional (``--best-effort``)."""

    failed: frozenset[str] = frozenset()
    drained: frozenset[str] = frozenset()
    now: int | None = None
    best_effort: bool = False

    def state(self, node: str) -> str:
        """``failed``, ``drained`` or the empty string."""
        return "failed" if node in self.failed else "drained" if node in self.drained else ""


def taken_out(problem: Problem, task: Task) -> str:
    """`` once a100 failed`` (or ``... and l4-4 drained``): for a task of a problem ``replan``
    wrote whose allowed nodes the replan took out (it writes ``nodes: []``), the changes that
    did, as the user gave them; else the empty string. For proofs and reasons: "no node is
    allowed" alone sends the user to a selector they did not change."""
    raw = problem.source.raw
    record = raw.get("x-replan") if isinstance(raw, dict) else None
    if task.allowed or not isinstance(record, dict):
        return ""
    specs = raw.get("tasks")
    ok = isinstance(specs, list) and task.spec_index < len(specs)
    spec = specs[task.spec_index] if ok else {}
    if not isinstance(spec, dict) or spec.get("nodes") != []:
        return ""
    match = spec.get("match")
    wanted = (
        {k: {label_str(x) for x in (v if isinstance(v, list) else [v])} for k, v in match.items()}
        if isinstance(match, dict)
        else {}
    )

    def selected(name: str) -> bool:  # a node of this change is one `match` selects
        members = problem.pools.get(name) or [problem.node_index.get(name)]
        return any(
            n is not None
            and all(problem.nodes[n].labels.get(k) in vals for k, vals in wanted.items())
            for n in members
        )

    words: list[str] = []
    for key, done in (("fail", "failed"), ("drain", "drained")):
        given = record.get(key)
        for x in given if isinstance(given, list) else ():
            if isinstance(x, str) and selected(x):
                words.append(f"{x} {done}")
    if not words:
        return ""
    shown = words[:3] + ([f"{len(words) - 3} more"] if len(words) > 3 else [])
    return " once " + (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0])


def replan_note(problem: Problem) -> ReplanNote | None:
    """The ``x-replan`` key of a problem ``replan`` wrote, or None (not a replanned problem,
    or the key edited into something else: a report never fails on it)."""
    raw = problem.source.raw
    record = raw.get("x-replan") if isinstance(raw, dict) else None
    if not isinstance(record, dict):
        return None

    def nodes(key: str) -> frozenset[str]:
        given = record.get(key)
        out: set[str] = set()
        for x in given if isinstance(given, list) else ():
            if not isinstance(x, str):
                continue
            if x in problem.pools:
                out.update(problem.nodes[i].id for i in problem.pools[x])
            elif x in problem.node_index:
                out.add(x)
        return frozenset(out)

    now = record.get("now")
    return ReplanNote(
        failed=nodes("fail"),
        drained=nodes("drain"),
        now=now if isinstance(now, int) and not isinstance(now, bool) else None,
        best_effort=record.get("best_effort") is True,
    )
