"""Structural proofs that a problem has no plan: cheap, exact, each in one sentence.

:func:`prove_infeasible` is the one function every caller uses (``validate``, ``solve`` before
any engine runs, each engine's own entry): its proofs are computed once per problem and worded
once, located at the field they are about; :func:`structural_summary` and
:func:`structural_lines` are the one wording of "no plan can exist" for a solver's message and
for the lines a user reads.

What is checked, for every task a plan must place (:func:`effectively_required`):

- some allowed node holds one replica when empty: every resource within capacity and, on nodes
  that split a resource into devices, a demand that its devices can serve (a share of one device
  or a whole number of them);
- enough such nodes for its replicas (distinct nodes), and a way to spread them over a label
  within ``max_skew`` (``spread``);
- release + shortest duration within the deadline and the horizon, along the longest chain of
  ``after`` that ends in it, and with the common start of a gang that starts together;
- no member of a gang that starts together comes ``after`` another member that takes time.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import NamedTuple, cast

import numpy as np

from .entities import Problem, Task, device_shape, devices_ok
from .replan import taken_out
from .source import Diagnostic, gc_paused
from .wording import num, plural

CAP_TOL = 1e-9  # absolute tolerance on capacities (FORMATS.md)

#: the first line of every report of structural proofs
STRUCTURAL_HEADLINE = "infeasible: no plan can exist:"


def effectively_required(problem: Problem) -> set[int]:
    """Tasks every plan must place: required ones, their gang mates and (scheduling) the
    transitive predecessors of those, since a task may start only after its `after` tasks.
    A graph search, O(tasks + dependencies)."""
    must: set[int] = set()
    stack = [t.index for t in problem.tasks if t.required]
    while stack:
        t = stack.pop()
        if t in must:
            continue
        must.add(t)
        task = problem.tasks[t]
        if task.gang is not None:
            stack.extend(problem.gangs[task.gang])
        if problem.scheduling:
            stack.extend(task.after)
    return must


def fits(problem: Problem, task: int, node: int) -> bool:
    """Whether one replica fits an empty node: every resource within capacity, and every
    demand of a resource the node splits into devices served by them."""
    cap = problem.nodes[node].capacity
    dem = problem.tasks[task].demand_at(node)
    if not all(q <= cap.get(r, 0.0) + CAP_TOL for r, q in dem.items()):
        return False
    return problem.device_use(task, node) is not None


def _node_classes(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nodes grouped into classes of identical capacities and devices (whether a replica
    fits an empty node depends on these alone): the class of each node, one node of each
    class, and each class's capacity + CAP_TOL (resources x classes). Computed once."""
    hit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = problem.__dict__.get("_classes")
    if hit is None:
        rows = np.concatenate([problem.capacity, problem.device_count, problem.device_size], axis=1)
        _, first, of = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        reps = np.asarray(first, dtype=np.int64)
        room = np.ascontiguousarray((problem.capacity[reps] + CAP_TOL).T)
        hit = problem.__dict__["_classes"] = (of.reshape(-1), reps, room)
    return hit


def _classes(problem: Problem, allowed: tuple[int, ...]) -> _Classes:
    """The allowed nodes, their classes and how many of them each class has, cached per
    distinct ``allowed`` tuple: 150,000 tasks over 5,000 nodes test a few dozen classes each,
    not 5,000 nodes."""
    cache: dict[int, tuple[tuple[int, ...], _Classes]] = problem.__dict__.setdefault(
        "_node_classes", {}
    )
    hit = cache.get(id(allowed))
    if hit is None:
        of_node, reps, _ = _node_classes(problem)
        arr = np.asarray(allowed, dtype=np.int64)
        of = of_node[arr]
        classes = _Classes(arr, of, np.bincount(of, minlength=len(reps)))
        # the tuple is kept in the entry so that its id stays valid
        hit = cache[id(allowed)] = (allowed, classes)
    return hit[1]


class _Classes(NamedTuple):
    nodes: np.ndarray  # the allowed nodes, ascending
    of: np.ndarray  # class of each allowed node
    size: np.ndarray  # allowed nodes in each class


def _class_fits(problem: Problem, task: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per class, for one replica of the default demand on an empty node: whether every
    resource is within capacity, and (None when no split resource is asked for) whether its
    devices can serve it."""
    return _demand_fits(problem, problem.demand[task])


def _demand_fits(problem: Problem, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_class_fits` for a demand vector (resources in problem order), cached per
    distinct demand (150,000 tasks: 1,400 demands)."""
    cache: dict[bytes, tuple[np.ndarray, np.ndarray | None]] = problem.__dict__.setdefault(
        "_demand_fits", {}
    )
    key = demand.tobytes()
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _demand_fits_now(problem, demand)
    return hit


def _demand_fits_now(problem: Problem, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    _, reps, room = _node_classes(problem)
    ok = np.ones(len(reps), dtype=bool)
    for j, q in enumerate(demand.tolist()):
        ok &= room[j] >= q
    dev = None
    if problem.split_resources:
        ri = problem.resource_index
        for r in problem.split_resources:
            j = ri[r]
            q = demand[j]
            if q > 0:
                fit = devices_ok(
                    np.full(len(reps), q),
                    problem.device_size[reps, j],
                    problem.device_count[reps, j],
                )
                dev = fit if dev is None else dev & fit
    return ok, dev


def _exact_per_node(problem: Problem, task: int) -> bool:
    """Whether some allowed node needs a look of its own (``demand_on``, or a zero-length run
    in a scheduling problem): then the class answer is only the default."""
    t = problem.tasks[task]
    return bool(t.demand_on) or (
        problem.scheduling and (not t.duration or bool(t.duration_on)) and not t.service
    )


def fitting_count(problem: Problem, task: int) -> int:
    """``len(fitting_nodes(problem, task))``, without the array when no node needs a look of
    its own."""
    t = problem.tasks[task]
    if not t.allowed:
        return 0
    if _exact_per_node(problem, task):
        return len(fitting_nodes(problem, task))
    # tasks of the same demand over the same allowed nodes (150,000 tasks: 1,400 demands)
    memo: dict[tuple[int, bytes], int] = problem.__dict__.setdefault("_fit_counts", {})
    key = (id(t.allowed), problem.demand[task].tobytes())
    count = memo.get(key)
    if count is None:
        cl = _classes(problem, t.allowed)  # keeps t.allowed alive: its id stays valid
        ok, dev = _class_fits(problem, task)
        count = memo[key] = int(cl.size[ok if dev is None else ok & dev].sum())
    return count


def fitting_nodes(problem: Problem, task: int) -> np.ndarray:
    """Allowed nodes that could each hold one replica when empty (vectorised over classes of
    identical nodes). In a scheduling problem a zero-length run occupies nothing, so only its
    devices must fit."""
    t = problem.tasks[task]
    if not t.allowed:
        return np.zeros(0, dtype=np.int64)
    cl = _classes(problem, t.allowed)
    arr = cl.nodes
    zero = None
    if problem.scheduling and (not t.duration or t.duration_on) and not t.service:
        # a zero-length run occupies nothing (FORMATS.md: demand held during [start, end))
        zero = np.asarray([t.duration_at(problem.nodes[int(n)]) == 0 for n in arr], dtype=bool)
    ok = _fit_where(*_class_fits(problem, task), cl.of, zero)
    if t.demand_on:  # per-node demands replace the default one there
        _fit_per_node_demands(problem, t, arr, cl.of, ok)
    return arr[ok]


def _fit_per_node_demands(
    problem: Problem, t: Task, arr: np.ndarray, of: np.ndarray, ok: np.ndarray
) -> None:
    """Set ``ok`` (over the allowed nodes ``arr``, of classes ``of``) where ``demand_on``
    replaces the default demand: one test on the classes per distinct demand (the members of a
    pool share theirs), vectorised over the nodes."""
    size = len(t.demand_on)
    special = np.fromiter(t.demand_on, dtype=np.int64, count=size)
    values = list(t.demand_on.values())
    ids = np.fromiter(map(id, values), dtype=np.uint64, count=size)
    pos = np.searchsorted(arr, special).clip(0, len(arr) - 1)
    inside = arr[pos] == special
    if not inside.all():
        ids, pos = ids[inside], pos[inside]
    if not len(pos):
        return
    zero = None
    if problem.scheduling:
        nodes = problem.nodes
        zero = np.asarray([t.duration_at(nodes[int(n)]) == 0 for n in arr[pos]], dtype=bool)
    # the distinct mappings (a pool's members share one), then the distinct demands
    ri = problem.resource_index
    rows: dict[bytes, tuple[np.ndarray, list[int]]] = {}
    for oid, dem in dict(zip(map(id, values), values, strict=True)).items():
        vec = np.zeros(len(problem.resources))
        for r, q in dem.items():
            vec[ri[r]] = q
        rows.setdefault(vec.tobytes(), (vec, []))[1].append(oid)
    for vec, oids in rows.values():
        if len(rows) == 1:
            at, zero_at = pos, zero
        else:
            mine = np.isin(ids, np.asarray(oids, dtype=np.uint64))
            at, zero_at = pos[mine], None if zero is None else zero[mine]
        ok[at] = _fit_where(*_demand_fits(problem, vec), of[at], zero_at)


def _fit_where(
    room_ok: np.ndarray, dev_ok: np.ndarray | None, of: np.ndarray, zero: np.ndarray | None
) -> np.ndarray:
    """Per node (``of``: its class): within capacity and served by its devices, or a
    zero-length run (``zero``) served by its devices."""
    ok = room_ok[of]
    if zero is not None:
        ok |= zero
    if dev_ok is not None:
        ok &= dev_ok[of]
    return ok


def spread_feasible(counts: Sequence[int], room: Sequence[int], more: int, max_skew: int) -> bool:
    """Whether ``more`` replicas can be added to ``counts`` (replicas per label value so far),
    at most ``room[v]`` more on value ``v``, so that the final counts differ by at most
    ``max_skew``. Exact: some level ``L`` with every final count in ``[L, L + max_skew]``."""
    if not counts:
        return more == 0
    total = sum(counts) + more
    # every final count is in [L, L + max_skew]: L <= each count's ceiling, L x values <= total,
    # and L + max_skew >= the largest count so far
    top = min(min(c + a for c, a in zip(counts, room, strict=True)), total // len(counts))
    for level in range(max(0, max(counts) - max_skew), top + 1):
        lo = [max(c, level) for c in counts]
        hi = [min(c + a, level + max_skew) for c, a in zip(counts, room, strict=True)]
        if all(a <= b for a, b in zip(lo, hi, strict=True)) and sum(lo) <= total <= sum(hi):
            return True
    return False


def spread_pick(values: Sequence[int], n_values: int, k: int, max_skew: int) -> list[int] | None:
    """The first ``k`` of candidates ranked best first, given by their label values
    (``values[i]`` in ``range(n_values)``), such that the picks differ by at most ``max_skew``
    per value: each in turn, the best one after which the rest can still be spread
    (:func:`spread_feasible`). Positions into ``values``; None when no ``k`` can be spread."""
    counts = [0] * n_values
    room = [0] * n_values
    for v in values:
        room[v] += 1
    taken: list[int] = []
    left = list(range(len(values)))
    while len(taken) < k:
        for i in left:
            v = values[i]
            counts[v] += 1
            room[v] -= 1
            if spread_feasible(counts, room, k - len(taken) - 1, max_skew):
                taken.append(i)
                left.remove(i)
                break
            counts[v] -= 1
            room[v] += 1
        else:
            return None
    return taken


_PROOFS: weakref.WeakKeyDictionary[Problem, list[Diagnostic]] = weakref.WeakKeyDictionary()


def prove_infeasible(problem: Problem) -> list[Diagnostic]:
    """Cheap proofs that no plan exists, each located at the task (or field) it is about; []
    when none. Computed once per problem (see the module docstring for what is checked)."""
    cached = _PROOFS.get(problem)
    if cached is None:
        with gc_paused():  # what it makes has no cycles; a collection walks the whole problem
            cached = _PROOFS[problem] = _prove(problem)
    return list(cached)


def structural_summary(proofs: Sequence[Diagnostic]) -> str:
    """One line for a solver's message: the first proof, and how many more there are."""
    more = f" (and {len(proofs) - 1} more)" if len(proofs) > 1 else ""
    return f"structural check proves that no plan exists: {proofs[0].message}{more}"


def structural_lines(proofs: Sequence[Diagnostic | str], limit: int = 50) -> list[str]:
    """The lines a user reads: the headline, then every proof, located (a Diagnostic, or the
    text of one as ``Result.proofs`` holds it); past ``limit``, how many more: 10,000 proofs
    are not 10,000 lines."""
    lines = [STRUCTURAL_HEADLINE, *(f"  {d}" for d in proofs[:limit])]
    if len(proofs) > limit:
        lines.append(f"  ... and {len(proofs) - limit:,} more proofs")
    return lines


def _demand_keys(problem: Problem) -> list[bytes]:
    """``problem.demand[t].tobytes()`` of every task, at once."""
    demand = np.ascontiguousarray(problem.demand)
    if not demand.shape[1]:
        return [b""] * len(demand)
    rows = demand.view(np.dtype((np.void, demand.shape[1] * 8))).ravel()
    return cast(list[bytes], rows.tolist())


def _count_at_once(problem: Problem, order: list[int], keys: list[bytes]) -> None:
    """Fill fitting_count's memo for the placement tasks of ``order`` that need no look per
    node: one matrix product of (allowed nodes per class) x (classes the demand fits), over
    the distinct (allowed nodes, demand) pairs, instead of a few numpy calls per pair."""
    memo: dict[tuple[int, bytes], int] = problem.__dict__.setdefault("_fit_counts", {})
    tasks = problem.tasks
    sets: dict[int, int] = {}
    demands: dict[bytes, int] = {}
    first_set: list[tuple[int, ...]] = []
    first_task: list[int] = []
    todo: dict[tuple[int, bytes], tuple[int, int]] = {}
    for ti in order:
        t = tasks[ti]
        key = (id(t.allowed), keys[ti])
        if not t.allowed or t.demand_on or t.spread is not None or key in memo or key in todo:
            continue
        s = sets.setdefault(key[0], len(sets))
        if s == len(first_set):
            first_set.append(t.allowed)
        d = demands.setdefault(key[1], len(demands))
        if d == len(first_task):
            first_task.append(ti)
        todo[key] = (s, d)
    if not todo:
        return
    size = np.stack([_classes(problem, a).size for a in first_set])
    fits = []
    for ti in first_task:
        ok, dev = _class_fits(problem, ti)
        fits.append(ok if dev is None else ok & dev)
    fit = np.stack(fits)
    where = np.asarray(list(todo.values()), dtype=np.int64)
    counts = np.einsum("ij,ij->i", size[where[:, 0]], fit[where[:, 1]].astype(np.int64))
    memo.update(zip(todo, counts.tolist(), strict=True))


def _prove(problem: Problem) -> list[Diagnostic]:
    must = effectively_required(problem)
    diags: list[Diagnostic] = []
    # scheduling: the shortest duration of each task on a node that can hold it (absent: none
    # can); the fitting nodes themselves are not kept (150,000 arrays of 5,000 nodes: 6 GB)
    shortest: dict[int, int] = {}
    tasks = problem.tasks
    # placement: most tasks share their allowed nodes and demand with others, and their count
    # is memoised (fitting_count's own memo, read here without a call per task)
    memo: dict[tuple[int, bytes], int] = problem.__dict__.setdefault("_fit_counts", {})
    order = sorted(must)
    keys = []
    if not problem.scheduling:
        keys = _demand_keys(problem)
        _count_at_once(problem, order, keys)
    for ti in order:
        t = tasks[ti]
        if not t.allowed:
            why = _why_required(problem, ti)
            once = taken_out(problem, t)
            diags.append(
                problem.task_diagnostic(ti, f"no node is allowed by {_selectors(t)}{once}{why}")
            )
            continue
        if problem.scheduling or t.spread is not None:
            count = len(ok := fitting_nodes(problem, ti))
        elif t.demand_on or (count := memo.get((id(t.allowed), keys[ti]), -1)) < 0:
            count = fitting_count(problem, ti)
        if problem.scheduling and count:
            shortest[ti] = min(t.duration_at(problem.nodes[int(n)]) for n in ok)
        if count >= t.replicas and t.spread is None:
            continue
        why = _why_required(problem, ti)
        if count == 0:
            diags.append(problem.task_diagnostic(ti, _no_fit_reason(problem, ti) + why, "demand"))
        elif count < t.replicas:
            ok = fitting_nodes(problem, ti)
            names = ", ".join(problem.nodes[int(n)].id for n in ok[:5])
            more = ", ..." if len(ok) > 5 else ""
            diags.append(
                problem.task_diagnostic(
                    ti,
                    f"needs {t.replicas} replicas on distinct nodes, but only "
                    f"{plural(len(ok), 'allowed node')} can hold one ({names}{more}){why}",
                    "replicas",
                )
            )
        elif t.spread is not None:
            message = _spread_proof(problem, ti, fitting_nodes(problem, ti))
            if message is not None:
                diags.append(problem.task_diagnostic(ti, message + why, "spread"))
    if problem.scheduling:
        diags.extend(_same_start_proofs(problem, must, shortest))
        diags.extend(_time_proofs(problem, must, shortest))
    return diags


def _selectors(t: object) -> str:
    spread = getattr(t, "spread", None)
    return "`nodes`/`match`" + (f" and `spread` (label {spread.key})" if spread else "")


def _why_required(problem: Problem, ti: int) -> str:
    t = problem.tasks[ti]
    if t.required:
        return ""
    return " (it is not required itself, but a required task depends on it or shares its gang)"


def _no_fit_reason(problem: Problem, ti: int) -> str:
    t = problem.tasks[ti]
    nodes = problem.nodes
    for r in sorted({r for n in t.allowed for r in t.demand_at(n)}):
        if all(
            t.demand_at(n).get(r, 0.0) > nodes[n].capacity.get(r, 0.0) + CAP_TOL for n in t.allowed
        ):
            best = max(t.allowed, key=lambda n: nodes[n].capacity.get(r, 0.0))
            need = max(t.demand_at(n).get(r, 0.0) for n in t.allowed)
            have = nodes[best].capacity.get(r, 0.0)
            return (
                f"needs {r} {num(need)} on one node; the largest {r} on an allowed node is "
                f"{num(have)} ({nodes[best].id})"
            )
    for r in sorted({r for n in t.allowed for r in nodes[n].devices}):

        def shape_fails(n: int, r: str = r) -> bool:
            k = nodes[n].devices.get(r)
            q = t.demand_at(n).get(r, 0.0)
            return k is not None and device_shape(q, nodes[n].device_size(r), k) is None

        if all(shape_fails(n) for n in t.allowed):
            need = max(t.demand_at(n).get(r, 0.0) for n in t.allowed)
            kinds = sorted({(nodes[n].devices[r], nodes[n].device_size(r)) for n in t.allowed})
            offered = ", ".join(f"{k} devices of {num(s)}" for k, s in kinds[:3])
            return (
                f"needs {r} {num(need)}, which no allowed node's devices can take: a replica "
                f"takes a share of one device or a whole number of devices ({offered})"
            )
    wanted = ", ".join(f"{r} {num(q)}" for r, q in t.demand.items())
    return f"no allowed node has {wanted} together ({len(t.allowed)} allowed nodes)"


def _spread_proof(problem: Problem, ti: int, ok: np.ndarray) -> str | None:
    t = problem.tasks[ti]
    sp = t.spread
    assert sp is not None
    room = [0] * len(sp.values)
    for n in ok.tolist():
        room[sp.value_of[n]] += 1
    if spread_feasible([0] * len(room), room, t.replicas, sp.max_skew):
        return None
    per = ", ".join(f"{v} {c}" for v, c in zip(sp.values, room, strict=True))
    return (
        f"{plural(t.replicas, 'replica')} cannot be spread over {sp.key} within max_skew "
        f"{sp.max_skew}: the allowed nodes that can hold one are, per {sp.key}, {per}"
    )


def _same_start_proofs(
    problem: Problem, must: set[int], shortest: dict[int, int]
) -> list[Diagnostic]:
    """A member of a gang that starts together cannot wait for another member that takes
    time (it would start later than that member)."""
    diags = []
    for gang in sorted(problem.same_start):
        members = set(problem.gangs[gang])
        for ti in problem.gangs[gang]:
            if ti not in must:
                continue
            t = problem.tasks[ti]
            for j, p in enumerate(t.after):
                if p in members and shortest.get(p, 0) > 0:
                    other = problem.tasks[p]
                    diags.append(
                        problem.task_diagnostic(
                            ti,
                            f"it comes after {other.id}, and both are in gang {gang}, which "
                            f"starts together: {other.id} lasts at least "
                            f"{shortest[p]}, so they cannot start at once",
                            "after",
                            _after_position(problem, ti, j),
                        )
                    )
    return diags


def _after_position(problem: Problem, ti: int, j: int) -> int:
    """Position in the file's `after` list of the j-th compiled predecessor."""
    raw = problem.source.raw["tasks"][problem.tasks[ti].spec_index].get("after", [])
    target = problem.tasks[problem.tasks[ti].after[j]].id
    return raw.index(target) if target in raw else j


def _time_proofs(problem: Problem, must: set[int], shortest: dict[int, int]) -> list[Diagnostic]:
    """Earliest ends along `after` chains (shortest durations), with the members of a gang that
    starts together held to the latest of their earliest starts; each against its deadline and
    the horizon."""
    order = _topological(problem)
    live = [ti for ti in order if ti in must and ti in shortest]
    dmin = {ti: shortest[ti] for ti in live}
    es: dict[int, int] = {}
    crit: dict[int, int | None] = {}
    synced: dict[int, int] = {}  # member -> the member whose earliest start it takes
    stuck: str | None = None
    for _ in range(len(problem.tasks) + 2):
        changed = False
        for ti in live:
            t = problem.tasks[ti]
            start, via = max(t.release or 0, es.get(ti, 0)), crit.get(ti)
            for p in t.after:
                same = t.gang is not None and t.gang == problem.tasks[p].gang
                inside = same and t.gang in problem.same_start  # checked by _same_start_proofs
                if p in es and not inside and es[p] + dmin[p] > start:
                    start, via = es[p] + dmin[p], p
            if start != es.get(ti):
                es[ti], crit[ti] = start, via
                changed = True
        for gang in problem.same_start:
            members = [m for m in problem.gangs[gang] if m in es]
            if not members:
                continue
            lead = max(members, key=lambda m: es[m])
            for m in members:
                if es[m] < es[lead]:
                    es[m], crit[m] = es[lead], None
                    synced[m] = lead
                    changed = True
        if not changed:
            break
    else:
        stuck = next(iter(sorted(problem.same_start)), None)
    diags: list[Diagnostic] = []
    if stuck is not None:
        ti = problem.gangs[stuck][0]
        diags.append(
            problem.task_diagnostic(
                ti,
                f"gang {stuck} starts together, but through `after` its members wait for each "
                "other's ends",
                "gang",
            )
        )
        return diags
    for ti in live:
        t = problem.tasks[ti]
        ef = es[ti] + dmin[ti]
        via = crit.get(ti)
        for what, limit in (("deadline", t.deadline), ("horizon", problem.horizon)):
            if limit is None or ef <= limit:
                continue
            if ti in synced:
                leader = problem.tasks[synced[ti]]
                msg = (
                    f"gang {t.gang} starts together, at {es[ti]} at the earliest ({leader.id} "
                    f"cannot start sooner); with its shortest duration {dmin[ti]} it ends at "
                    f"{ef}, past the {what} {limit}"
                )
                field_ = "deadline" if what == "deadline" else "gang"
            elif via is None:
                msg = (
                    f"release {t.release or 0} + shortest duration {dmin[ti]} = {ef} "
                    f"is past the {what} {limit}"
                )
                field_ = "release" if t.release is not None else "duration"
                if what == "deadline":
                    field_ = "deadline"
            else:
                chain = [ti]
                while crit.get(chain[-1]) is not None:
                    chain.append(crit[chain[-1]])  # type: ignore[arg-type]
                names = " -> ".join(problem.tasks[c].id for c in reversed(chain))
                msg = (
                    f"the dependency chain {names} ends at {ef} at the earliest "
                    f"(shortest durations), past the {what} {limit}"
                )
                field_ = "deadline" if what == "deadline" else "after"
            diags.append(problem.task_diagnostic(ti, msg + _why_required(problem, ti), field_))
            break
    return diags


def _topological(problem: Problem) -> list[int]:
    indeg = [len(t.after) for t in problem.tasks]
    succ: list[list[int]] = [[] for _ in problem.tasks]
    for t in problem.tasks:
        for p in t.after:
            succ[p].append(t.index)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    out = []
    while ready:
        v = ready.pop()
        out.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return out


def topological_order(problem: Problem) -> list[int]:
    """Task indices, every task after all of its `after` tasks (the problem has no cycle)."""
    return _topological(problem)
