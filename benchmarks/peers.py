"""The plain CP-SAT models a user would write by hand for each benchmark family (the peers).

Each takes the imported taskalloc problem (plain data, as the importers produce it) and builds
the textbook model for its family, nothing more: no symmetry breaking, no hints, no LNS.

* ``gap`` and ``cloudbalancing``: one bool per (task, node); exactly one node per task;
  capacity per node and resource; minimise assignment cost (+ node cost of the used nodes).
* ``psplib``: one interval per activity; a cumulative per resource; precedence; min makespan.
* ``jobshop``: one interval per operation; no-overlap per machine; precedence; min makespan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model


@dataclass
class PeerResult:
    objective: float | None
    bound: float | None
    status: str
    seconds: float


def _solve(model: cp_model.CpModel, time_limit: float, workers: int) -> tuple[Any, int, float]:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    solver.parameters.catch_sigint_signal = False  # as in taskalloc: Ctrl-C is ours
    t0 = time.perf_counter()
    status = solver.Solve(model)
    return solver, status, time.perf_counter() - t0


def _result(solver: Any, status: int, seconds: float) -> PeerResult:
    name = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
    }.get(status, "unknown")
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PeerResult(solver.ObjectiveValue(), solver.BestObjectiveBound(), name, seconds)
    return PeerResult(None, None, name, seconds)


def _node_ids(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for n in data["nodes"]:
        count = n.get("count", 1)
        ids = [n["id"]] if count == 1 else [f"{n['id']}-{k}" for k in range(1, count + 1)]
        out.extend((i, n) for i in ids)
    return out


def assignment_peer(data: dict[str, Any], time_limit: float, workers: int) -> PeerResult:
    """GAP and cloud balancing: x[t, n] bools, exactly one, capacities, min cost."""
    nodes = _node_ids(data)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], Any] = {}
    for t in range(len(data["tasks"])):
        for n in range(len(nodes)):
            x[t, n] = model.NewBoolVar(f"x{t}_{n}")
        model.AddExactlyOne(x[t, n] for n in range(len(nodes)))
    for n, (nid, spec) in enumerate(nodes):
        for r, cap in spec.get("capacity", {}).items():
            terms = []
            for t, task in enumerate(data["tasks"]):
                dem = task.get("demand_on", {}).get(nid, task.get("demand", {}))
                q = dem.get(r, 0)
                if q:
                    terms.append(int(q) * x[t, n])
            if terms:
                model.Add(sum(terms) <= int(cap))
        # a resource the node lacks has capacity 0
        lacking = {
            r
            for task in data["tasks"]
            for r in task.get("demand_on", {}).get(nid, task.get("demand", {}))
        } - set(spec.get("capacity", {}))
        for r in lacking:
            for t, task in enumerate(data["tasks"]):
                if task.get("demand_on", {}).get(nid, task.get("demand", {})).get(r, 0) > 0:
                    model.Add(x[t, n] == 0)
    cost = []
    for t, task in enumerate(data["tasks"]):
        for n, (nid, _) in enumerate(nodes):
            c = task.get("assign_cost", {}).get(nid, 0)
            if c:
                cost.append(int(c) * x[t, n])
    for n, (_, spec) in enumerate(nodes):
        if spec.get("cost"):
            used = model.NewBoolVar(f"u{n}")
            for t in range(len(data["tasks"])):
                model.AddImplication(x[t, n], used)
            cost.append(int(spec["cost"]) * used)
    model.Minimize(sum(cost))
    return _result(*_solve(model, time_limit, workers))


def _durations(data: dict[str, Any]) -> list[int]:
    return [int(t.get("duration", 0)) for t in data["tasks"]]


def rcpsp_peer(data: dict[str, Any], time_limit: float, workers: int) -> PeerResult:
    """PSPLIB: one node; interval per activity, cumulative per resource, precedence."""
    model = cp_model.CpModel()
    dur = _durations(data)
    horizon = data.get("horizon") or sum(dur)
    ids = {t["id"]: i for i, t in enumerate(data["tasks"])}
    start = [model.NewIntVar(0, horizon, f"s{i}") for i in range(len(dur))]
    end = [model.NewIntVar(0, horizon, f"e{i}") for i in range(len(dur))]
    iv = [model.NewIntervalVar(start[i], dur[i], end[i], f"i{i}") for i in range(len(dur))]
    cap = data["nodes"][0]["capacity"]
    for r, c in cap.items():
        demands = [int(t.get("demand", {}).get(r, 0)) for t in data["tasks"]]
        model.AddCumulative(iv, demands, int(c))
    for i, t in enumerate(data["tasks"]):
        for p in t.get("after", []):
            model.Add(start[i] >= end[ids[p]])
    makespan = model.NewIntVar(0, horizon, "makespan")
    model.AddMaxEquality(makespan, end)
    model.Minimize(makespan)
    return _result(*_solve(model, time_limit, workers))


def jobshop_peer(data: dict[str, Any], time_limit: float, workers: int) -> PeerResult:
    """Job shop: interval per operation on its machine, no-overlap per machine, precedence."""
    model = cp_model.CpModel()
    dur = _durations(data)
    horizon = sum(dur)
    ids = {t["id"]: i for i, t in enumerate(data["tasks"])}
    start = [model.NewIntVar(0, horizon, f"s{i}") for i in range(len(dur))]
    end = [model.NewIntVar(0, horizon, f"e{i}") for i in range(len(dur))]
    by_machine: dict[str, list[Any]] = {}
    for i, t in enumerate(data["tasks"]):
        iv = model.NewIntervalVar(start[i], dur[i], end[i], f"i{i}")
        by_machine.setdefault(t["nodes"][0], []).append(iv)
        for p in t.get("after", []):
            model.Add(start[i] >= end[ids[p]])
    for ivs in by_machine.values():
        model.AddNoOverlap(ivs)
    makespan = model.NewIntVar(0, horizon, "makespan")
    model.AddMaxEquality(makespan, end)
    model.Minimize(makespan)
    return _result(*_solve(model, time_limit, workers))


PEERS = {
    "gap": assignment_peer,
    "cloudbalancing": assignment_peer,
    "psplib": rcpsp_peer,
    "jobshop": jobshop_peer,
}


def check_integral(data: dict[str, Any]) -> bool:
    """The peers use the numbers as integers, as hand-written models of these sets do."""

    def ok(v: Any) -> bool:
        return not isinstance(v, float) or math.isclose(v, round(v))

    return all(ok(q) for t in data["tasks"] for q in t.get("demand", {}).values())
