"""One LNS step: a CP-SAT model over a part of the plan, the rest fixed.

A *neighbourhood* is a set ``S`` of free tasks and a set ``F`` of free nodes. The replicas of
the tasks of ``S`` that sit on ``F`` may move anywhere on ``F`` (their replicas outside ``F``
stay); everything else stays where it is, and its load on ``F`` is subtracted from the
capacities. The sub-model has the exact model's semantics restricted to that part:

* ``y[t,n]`` for t in S and n in F a candidate of t (allowed, fits when empty; see
  :class:`.flat.Flat`), except nodes holding a fixed replica of t or a fixed task separated from
  t; ``sum_n y[t,n] = need[t] * p[t]`` with ``need`` = replicas not fixed outside F;
* ``p[t]`` is a variable only for a task with no fixed replica whose gang (if any) is wholly in
  S with the same freedom, and which is not a must-place task already placed; otherwise ``p``
  is its current value (a gang member whose gang is not wholly free keeps its status);
* gangs: ``p`` equal across members; separation: ``y[a,n] + y[b,n] <= 1`` for separated tasks
  of S (fixed ones are excluded above);
* capacity: per node of F and resource, ``sum demand * y <= capacity - fixed load``;
* node use ``u[n]`` (when node cost or ``nodes`` counts): 1 when a fixed replica is there, else
  ``y <= u`` and ``u <= sum y``.

The objective is the part of the problem's objective that the neighbourhood can change, with
a ``violation`` term first (replicas of must-place tasks left unplaced, which only a start that
missed some has): lexicographic objectives become one weighted sum whose weights are built from
the part's own upper bounds (``W[last] = 1``, ``W[i] = 1 + sum W[j] * UB[j]``), so the order is
exact; ``weights`` objectives use the exact model's integer coefficients. The current plan is
hinted and is a solution, so a sub-solve never returns anything worse.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..flat import Flat, Plan

LINK_CAPACITY = True  # per free node and resource: load <= capacity x use (see build)


@dataclass
class Neighbourhood:
    tasks: list[int]  # S
    nodes: np.ndarray  # F, ascending
    op: str = ""
    keep: np.ndarray | None = None  # pairs (nodes x tasks) allowed here, besides current ones


@dataclass
class SubModel:
    hood: Neighbourhood
    model: cp_model.CpModel
    y: dict[tuple[int, int], cp_model.IntVar]
    p: dict[int, cp_model.IntVar]
    fixed_nodes: dict[int, tuple[int, ...]]  # t in S -> its replicas that stay (outside F)
    free_tasks: list[int]  # tasks of S with variables (others keep their placement)
    busy: np.ndarray  # per node of F: a fixed replica is there
    pairs: int
    empty: bool = False  # nothing can change
    order: list[str] = field(default_factory=list)


def build(
    flat: Flat,
    plan: Plan,
    hood: Neighbourhood,
    order: Sequence[str],
    coeffs: Mapping[str, int] | None,
    keep: np.ndarray | None = None,
) -> SubModel:
    """The sub-model of ``hood``; ``order``: the objective terms (lexicographic order), or the
    weighted terms with ``coeffs`` (integer coefficients of the scaled terms)."""
    f = flat
    F = hood.nodes
    if hood.keep is not None:
        keep = hood.keep
    fpos = {int(n): i for i, n in enumerate(F.tolist())}
    sset = set(hood.tasks)
    m = cp_model.CpModel()
    nf = len(F)

    # fixed load on F
    freed = np.zeros((nf, f.R), dtype=np.int64)
    for t in hood.tasks:
        for n in plan.nodes[t]:
            i = fpos.get(n)
            if i is not None:
                freed[i] += f.demand(t, n)
    resid = f.cap[F] - (plan.load[F] - freed)
    busy = np.array([any(o not in sset for o in plan.on[int(n)]) for n in F], dtype=bool)

    # placement status and freedom
    fixed_nodes: dict[int, tuple[int, ...]] = {}
    free_p: dict[int, bool] = {}
    for t in hood.tasks:
        ns = plan.nodes[t]
        out = tuple(n for n in ns if n not in fpos)
        fixed_nodes[t] = out
        free_p[t] = not out and not (ns and f.must[t])
    for t in hood.tasks:
        g = int(f.gang[t])
        if g >= 0 and free_p[t]:
            members = f.gang_members[g]
            if not all(o in sset and free_p.get(o, False) for o in members):
                for o in members:
                    if o in free_p:
                        free_p[o] = False
    # candidates on F
    where: dict[int, np.ndarray] = {}
    for t in hood.tasks:
        if not free_p[t] and not plan.nodes[t]:
            continue  # stays unplaced
        mask = f.cand_mask(t)[F].copy()
        if keep is not None:  # eliminated pairs, except where the task is now
            mask &= keep[F, t]
            for n in plan.nodes[t]:
                i = fpos.get(n)
                if i is not None:
                    mask[i] = True
        for o in f.separate[t]:
            if o not in sset:
                for n in plan.nodes[o]:
                    i = fpos.get(n)
                    if i is not None:
                        mask[i] = False
        where[t] = np.flatnonzero(mask)
    # an unplaced task with too few candidates here stays unplaced, and so does its gang
    for t, idx in list(where.items()):
        if plan.nodes[t] or len(idx) >= int(f.replicas[t]):
            continue
        g = int(f.gang[t])
        for o in f.gang_members[g] if g >= 0 else (t,):
            if o in free_p and not plan.nodes[o]:
                free_p[o] = False
                where.pop(o, None)
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    p: dict[int, cp_model.IntVar] = {}
    cands: dict[int, np.ndarray] = {}
    free_tasks: list[int] = []
    per_node: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(nf)]
    for t in hood.tasks:
        found = where.get(t)
        if found is None:
            continue
        idx = found
        need = int(f.replicas[t]) - len(fixed_nodes[t])
        if len(idx) < need:  # cannot happen: a placed task's current nodes are candidates
            raise RuntimeError("LNS: a placed task lost its candidates")
        cands[t] = idx
        free_tasks.append(t)
        ys = []
        dems = f.demands(t, F[idx])
        for j, i in enumerate(idx.tolist()):
            v = m.new_bool_var("")
            y[t, i] = v
            ys.append(v)
            per_node[i].append((t, dems[j]))
        if free_p[t]:
            pv = m.new_bool_var("")
            p[t] = pv
            m.add(cp_model.LinearExpr.sum(ys) == need * pv)
        else:
            m.add(cp_model.LinearExpr.sum(ys) == need)
    # gangs
    seen: set[int] = set()
    for t in p:
        g = int(f.gang[t])
        if g >= 0 and g not in seen:
            seen.add(g)
            together = [o for o in f.gang_members[g] if o in p]
            for a, b in itertools.pairwise(together):
                m.add(p[a] == p[b])
    # separation among free tasks
    for t in free_tasks:
        for o in f.separate[t]:
            if o > t and o in cands:
                common = np.intersect1d(cands[t], cands[o], assume_unique=True)
                for i in common.tolist():
                    m.add_at_most_one(y[t, i], y[o, i])
    # capacity
    for i in range(nf):
        items = per_node[i]
        if not items:
            continue
        for r in range(f.R):
            qs = [int(d[r]) for _, d in items]
            cap = int(resid[i, r])
            if sum(qs) <= cap:
                continue
            vs = [y[t, i] for t, _ in items]
            m.add(cp_model.LinearExpr.weighted_sum(vs, qs) <= cap)
    # node use
    need_u = "nodes" in order or ("cost" in order and f.any_node_cost)
    u: dict[int, cp_model.IntVar] = {}
    if need_u:
        for i in range(nf):
            if busy[i] or not per_node[i]:
                continue
            if "nodes" not in order and f.node_cost[F[i]] == 0:
                continue
            uv = m.new_bool_var("")
            u[i] = uv
            ys = [y[t, i] for t, _ in per_node[i]]
            for v in ys:
                m.add_implication(v, uv)
            m.add_bool_or(ys).only_enforce_if(uv)
            if LINK_CAPACITY:
                # load <= capacity x use: redundant, but the LP relaxation then counts
                # fractional nodes (the bin-packing bound) and CP-SAT proves far more parts
                for r in range(f.R):
                    qs = [int(d[r]) for _, d in per_node[i]]
                    if any(qs):
                        load = cp_model.LinearExpr.weighted_sum(ys, qs)
                        m.add(load <= int(resid[i, r]) * uv)
    # objective parts, each with its upper bound
    parts: dict[str, tuple[cp_model.LinearExprT, int]] = {}
    viol_v = [p[t] for t in p if f.must[t]]
    viol_c = [int(f.replicas[t]) for t in p if f.must[t]]
    parts["violation"] = (-cp_model.LinearExpr.weighted_sum(viol_v, viol_c), sum(viol_c))
    un_v = list(p.values())
    un_c = [int(f.prio[t] * f.replicas[t]) for t in p]
    parts["unplaced"] = (-cp_model.LinearExpr.weighted_sum(un_v, un_c), sum(un_c))
    cv: list[cp_model.IntVar] = []
    cc: list[int] = []
    ub_cost = 0
    for t in free_tasks:
        ac = f.acost[t]
        if not ac:
            continue
        best = 0
        for i in cands[t].tolist():
            c = ac.get(int(F[i]), 0)
            if c:
                cv.append(y[t, i])
                cc.append(c)
                best = max(best, c)
        ub_cost += best * (int(f.replicas[t]) - len(fixed_nodes[t]))
    for i, uv in u.items():
        c = int(f.node_cost[F[i]])
        if c:
            cv.append(uv)
            cc.append(c)
            ub_cost += c
    parts["cost"] = (cp_model.LinearExpr.weighted_sum(cv, cc), ub_cost)
    parts["nodes"] = (cp_model.LinearExpr.sum(list(u.values())), len(u))
    mv = [
        y[t, i]
        for t in free_tasks
        if (cur := f.current[t]) is not None
        for i in cands[t].tolist()
        if int(F[i]) not in cur
    ]
    parts["moves"] = (cp_model.LinearExpr.sum(mv), len(mv))
    # one objective
    chain: list[tuple[cp_model.LinearExprT, int]] = [parts["violation"]]
    if coeffs is None:
        chain += [parts[t] for t in order]
    else:
        expr = sum(c * parts[t][0] for t, c in coeffs.items())
        chain.append((expr, sum(c * parts[t][1] for t, c in coeffs.items())))
    weight, tail = 1, 0
    total: Any = 0
    for expr, ub in reversed(chain):
        if ub == 0:
            continue
        weight = 1 + tail
        total = total + weight * expr
        tail += weight * ub
    if not isinstance(total, int):
        m.minimize(total)
    # hint: the current plan
    for (t, i), v in y.items():
        m.add_hint(v, int(F[i]) in plan.nodes[t])
    for t, pv in p.items():
        m.add_hint(pv, bool(plan.nodes[t]))
    for i, uv in u.items():
        m.add_hint(uv, plan.used(int(F[i])))
    return SubModel(
        hood=hood,
        model=m,
        y=y,
        p=p,
        fixed_nodes=fixed_nodes,
        free_tasks=free_tasks,
        busy=busy,
        pairs=len(y),
        empty=not y,
        order=list(order),
    )


def extract(
    sub: SubModel, value: cp_model.CpSolver
) -> tuple[dict[int, tuple[int, ...]], dict[int, bool]]:
    """The new placement of the sub-model's free tasks and node use on F from a solution."""
    F = sub.hood.nodes
    chosen: dict[int, list[int]] = {t: [] for t in sub.free_tasks}
    for (t, i), v in sub.y.items():
        if value.boolean_value(v):
            chosen[t].append(int(F[i]))
    change: dict[int, tuple[int, ...]] = {}
    used = {int(n): bool(b) for n, b in zip(F.tolist(), sub.busy.tolist(), strict=True)}
    for t, ns in chosen.items():
        for n in ns:
            used[n] = True
        fixed = sub.fixed_nodes[t]
        change[t] = tuple(sorted((*fixed, *ns))) if ns or fixed else ()
    return change, used
