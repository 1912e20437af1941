"""The scheduling search of ``-s cpsat`` (solvers/cpsat/hybrid.py and its parts): the timeline's
schedule generation and justification, the resource flow of the neighbourhood search, the pool,
and the stage search end to end (plans checked by the evaluator, proofs, determinism, stop)."""

from __future__ import annotations

import random
import threading
from typing import Any

import numpy as np
import pytest

from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.plan import Status
from taskalloc.problems.problem import Problem, problem_from_dict
from taskalloc.solvers.cpsat import solve
from taskalloc.solvers.cpsat.listsearch import ListSearch, Pool
from taskalloc.solvers.cpsat.model import AllocationModel
from taskalloc.solvers.cpsat.schedlns import Neighbourhoods, flow_arcs
from taskalloc.solvers.cpsat.timeline import Timeline
from taskalloc.solvers.scaling import choose_scales
from taskalloc.solvers.warm import safe_horizon as _safe_horizon


def rcpsp(seed: int, jobs: int = 20, resources: int = 2, nodes: int = 1, **extra: Any) -> Problem:
    """A random RCPSP-like problem: tasks pinned to nodes, precedences to earlier tasks."""
    rng = random.Random(seed)
    caps = [{f"r{k}": rng.randint(6, 12) for k in range(resources)} for _ in range(nodes)]
    tasks = []
    for j in range(jobs):
        n = rng.randrange(nodes)
        t: dict[str, Any] = {
            "id": f"t{j}",
            "duration": rng.randint(1, 6),
            "demand": {r: rng.randint(0, c // 2 + 1) for r, c in caps[n].items()},
            "nodes": [f"n{n}"],
        }
        before = [f"t{i}" for i in range(j) if rng.random() < 2.0 / (j + 1)]
        if before:
            t["after"] = before
        tasks.append(t)
    data = {
        "taskalloc": 1,
        "nodes": [{"id": f"n{i}", "capacity": c} for i, c in enumerate(caps)],
        "tasks": tasks,
        "objective": {"lexicographic": ["makespan"]},
        **extra,
    }
    return problem_from_dict(data)


def timeline(p: Problem) -> Timeline:
    model = AllocationModel(p, choose_scales(p), p.objective.active(), _safe_horizon(p))
    tl = Timeline.build(model)
    assert tl is not None
    return tl


def assignments(tl: Timeline, start: np.ndarray) -> list[Any]:
    plan: dict[int, list[tuple[int, int | None]]] = {}
    for (t, n), s in zip(tl.pairs, start.tolist(), strict=True):
        plan.setdefault(t, []).append((n, s))
    return tl.model.assignments(plan)


def feasible(p: Problem, tl: Timeline, start: np.ndarray) -> bool:
    ev = evaluate(p, assignments(tl, start), reasons=False)
    assert ev.feasible, [v.message for v in ev.violations[:3]]
    return True


@pytest.mark.parametrize("seed", range(6))
def test_decoded_and_justified_schedules_are_plans(seed: int) -> None:
    p = rcpsp(seed, jobs=25, nodes=1 + seed % 3)
    tl = timeline(p)
    pool = Pool(tl)
    search = ListSearch(tl, pool, seed)
    for _ in range(10):
        order = search.sample()
        start = tl.decode(order)
        assert start is not None and feasible(p, tl, start)
        better = tl.justify(start)
        assert feasible(p, tl, better)
        assert tl.makespan(better) <= tl.makespan(start)
        # the start-sorted order decodes to a schedule no longer than the schedule
        again = tl.decode(tl.order_of(better))
        assert again is not None and tl.makespan(again) <= tl.makespan(better)
    for _ in range(20):
        search.step()
    assert pool.best is not None and feasible(p, tl, pool.best.start)


@pytest.mark.parametrize("seed", range(6))
def test_both_decoders_make_the_same_schedules(seed: int) -> None:
    """The per-instant lists (short durations) and the usage arrays (long ones) are one serial
    schedule generation: same starts forward and mirrored, same refusals when a mirror is too
    short for the windows."""
    p = rcpsp(seed, jobs=30, resources=3, nodes=1 + seed % 3)
    tl = timeline(p)
    assert tl._lists  # PSPLIB-like durations take the lists

    def both(order: list[int], **kw: Any) -> np.ndarray | None:
        tl._lists = True
        a = tl.decode(order, **kw)
        tl._lists = False
        b = tl.decode(order, **kw)
        tl._lists = True
        assert (a is None) == (b is None)
        assert a is None or b is None or a.tolist() == b.tolist()
        return a

    search = ListSearch(tl, Pool(tl), seed)
    refused = 0
    for _ in range(25):
        a = both(search.sample())
        assert a is not None and feasible(p, tl, a)
        ends = np.zeros(tl.T, dtype=np.int64)
        np.maximum.at(ends, tl.task, a + tl.dur)
        back = np.argsort(-ends, kind="stable").tolist()
        late = both(back, reverse=True, mirror=tl.makespan(a) + seed)
        assert late is not None and feasible(p, tl, late)
        refused += both(back, reverse=True, mirror=tl.makespan(a) // 2) is None
    assert refused == 25


def test_right_justified_schedule_ends_by_the_mirror() -> None:
    p = rcpsp(7, jobs=15)
    tl = timeline(p)
    start = tl.decode(ListSearch(tl, Pool(tl), 0).sample())
    assert start is not None
    ms = tl.makespan(start)
    ends = np.zeros(tl.T, dtype=np.int64)
    np.maximum.at(ends, tl.task, start + tl.dur)
    late = tl.decode(np.argsort(-ends, kind="stable").tolist(), reverse=True, mirror=ms)
    assert late is not None and feasible(p, tl, late)
    assert int((late + tl.dur).max()) <= ms


@pytest.mark.parametrize("seed", range(4))
def test_the_resource_flow_keeps_every_order_schedule_feasible(seed: int) -> None:
    """Any schedule of the intervals that keeps the flow's precedences (and the problem's)
    is within capacity: the earliest such schedule, computed here, passes the evaluator."""
    p = rcpsp(seed, jobs=25, nodes=2)
    tl = timeline(p)
    start = tl.justify(tl.decode(ListSearch(tl, Pool(tl), seed).sample()))
    free = set(random.Random(seed).sample(range(tl.T), 5))
    kept = [i for i in range(tl.I) if int(tl.task[i]) not in free]
    arcs = flow_arcs(tl, start, free)
    assert all(int(tl.task[i]) not in free and int(tl.task[j]) not in free for i, j in arcs)
    # earliest starts of the kept intervals under the precedences and the flow (a DAG)
    preds: dict[int, list[int]] = {i: [] for i in kept}
    for i, j in arcs:
        preds[j].append(i)
    of_task = {int(tl.task[i]): i for i in kept}
    for i in kept:
        for q in tl.preds[int(tl.task[i])]:
            if q in of_task:
                preds[i].append(of_task[q])
    early = {i: int(tl.lo[i]) for i in kept}
    for i in sorted(kept, key=lambda i: int(start[i])):
        for h in preds[i]:
            early[i] = max(early[i], early[h] + int(tl.dur[h]))
    assert all(early[i] <= start[i] for i in kept)
    usage: dict[tuple[int, int], int] = {}
    for i in kept:
        for g, q in zip(tl.ch[i].tolist(), tl.q[i].tolist(), strict=True):
            for x in range(early[i], early[i] + int(tl.dur[i])):
                usage[g, x] = usage.get((g, x), 0) + q
    assert all(v <= tl.cap[g] for (g, _), v in usage.items())


def test_neighbourhoods_are_within_the_tasks() -> None:
    p = rcpsp(3, jobs=30)
    tl = timeline(p)
    start = tl.decode(ListSearch(tl, Pool(tl), 0).sample())
    assert start is not None
    hoods = Neighbourhoods(tl, random.Random(0))
    for _ in range(30):
        kind, free = hoods.draw(start)
        assert free and free <= set(range(tl.T))
        assert len(free) <= max(1, round(kind.k)) or kind.name == "critical"


def test_pool_keeps_the_best_without_duplicates() -> None:
    p = rcpsp(1, jobs=12)
    tl = timeline(p)
    pool = Pool(tl, size=3)
    search = ListSearch(tl, pool, 0)
    starts = [tl.decode(search.sample()) for _ in range(12)]
    for s in starts:
        assert s is not None
        pool.offer(s, "test")
        pool.offer(s.copy(), "test")  # the same schedule again: ignored
    values = [item.value for item in pool.elite]
    assert values == sorted(values) and len(values) <= 3
    assert len({item.start.tobytes() for item in pool.elite}) == len(values)
    assert pool.best is not None
    assert pool.best.value == min(tl.objective(s) for s in starts if s is not None)
    pool.raise_bound(pool.best.value)
    assert pool.proven()


def test_the_stage_search_returns_checked_plans_and_records_itself(monkeypatch: Any) -> None:
    # stopped after 200 list steps, not at a wall-clock limit (under load 3 s could pass in
    # building the model)
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    stop = threading.Event()
    step = LS.step

    def counted(self: Any) -> bool:
        if self.steps >= 200:
            stop.set()
        return step(self)

    monkeypatch.setattr(LS, "step", counted)
    p = rcpsp(11, jobs=60, resources=4)
    r = solve(p, time_limit=60.0, workers=2, seed=0, stop=stop)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE)
    ev = evaluate(p, r.assignments)
    assert ev.feasible
    if r.status == Status.FEASIBLE:
        info = r.options["schedule_search"]["makespan"]
        assert info["list_steps"] > 0
        assert (r.bound or {}).get("makespan", 0) <= ev.terms["makespan"]


def test_small_schedules_are_still_proved() -> None:
    p = rcpsp(5, jobs=12)
    r = solve(p, time_limit=20.0, workers=2)
    assert r.status == Status.OPTIMAL
    assert r.bound == {"makespan": evaluate(p, r.assignments).terms["makespan"]}


def test_deterministic_runs_repeat() -> None:
    p = rcpsp(12, jobs=50, resources=3)
    a = solve(p, time_limit=1.5, deterministic=True, seed=4)
    b = solve(p, time_limit=1.5, deterministic=True, seed=4)
    assert a.assignments == b.assignments and a.status == b.status


def test_weighted_and_tardiness_stages() -> None:
    p = rcpsp(4, jobs=30)
    data = {
        "taskalloc": 1,
        "nodes": [{"id": n.id, "capacity": dict(n.capacity)} for n in p.nodes],
        "tasks": [
            {
                "id": t.id,
                "duration": t.duration,
                "demand": dict(t.demand),
                "nodes": [p.nodes[n].id for n in t.allowed],
                "after": [p.tasks[q].id for q in t.after],
                "due": 5 + 2 * i,
                "priority": 1 + i % 3,
            }
            for i, t in enumerate(p.tasks)
        ],
        "objective": {"weights": {"makespan": 1, "tardiness": 2, "cost": 1}},
    }
    q = problem_from_dict(data)
    r = solve(q, time_limit=2.0, workers=2)
    assert r.has_plan and evaluate(q, r.assignments).feasible
    data["objective"] = {"lexicographic": ["tardiness", "makespan"]}
    q = problem_from_dict(data)
    r = solve(q, time_limit=2.0, workers=2)
    assert r.has_plan and evaluate(q, r.assignments).feasible


def test_stop_ends_the_search_with_its_plan() -> None:
    """A stop set at the search's first progress report (a timer could fire during the model
    build under load) ends it with its plan, long before the 60 s limit."""
    p = rcpsp(21, jobs=80, resources=4)
    stop = threading.Event()
    points: list[Any] = []

    def first_point(point: Any) -> None:
        points.append(point)
        stop.set()

    r = solve(p, time_limit=60, workers=2, stop=stop, progress=first_point)
    assert points, "no progress reported"
    assert r.seconds < 30  # a missed stop runs to the 60 s limit
    assert r.has_plan and evaluate(p, r.assignments).feasible


def _optimum(model: Any) -> float:
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False
    assert solver.solve(model) == cp_model.OPTIMAL
    return float(solver.objective_value)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("term", ["makespan", "tardiness"])
def test_the_plain_model_has_the_full_models_optimum(seed: int, term: str) -> None:
    """The timeline's plain model (what the hybrid's full search runs on) has the optimum of
    the full model's stage, and each of its schedules is a plan the full model and the
    evaluator accept."""
    from ortools.sat.python import cp_model

    p = rcpsp(seed, jobs=10, nodes=1 + seed % 2)
    if term == "tardiness":
        data = p.to_dict()
        for i, t in enumerate(data["tasks"]):
            t["due"] = 4 + 3 * i
            t["priority"] = 1 + i % 3
        data["objective"] = {"lexicographic": ["tardiness"]}
        p = problem_from_dict(data)
    full = AllocationModel(p, choose_scales(p), (term,), _safe_horizon(p))
    tl = Timeline.build(full)
    assert tl is not None
    tl.set_objective({term: 1})
    plain, starts, objective = tl.plain_model()
    assert len(starts) == tl.I
    full.model.minimize(full.terms[term])
    assert _optimum(plain) == _optimum(full.model)
    # a schedule of the plain model: accepted by the full model with its starts fixed
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(plain) == cp_model.OPTIMAL
    start = np.array([solver.value(v) for v in starts], dtype=np.int64)
    assert tl.objective(start) == solver.value(objective)
    assert feasible(p, tl, start)


def test_the_full_search_runs_on_the_plain_model() -> None:
    p = rcpsp(8, jobs=30, resources=3)
    for workers, deterministic in ((2, False), (1, True)):
        r = solve(p, time_limit=2.0, workers=workers, deterministic=deterministic)
        assert r.has_plan and evaluate(p, r.assignments).feasible
        assert r.options["schedule_search"]["makespan"]["model"] == "plain"


def test_a_model_that_rejects_every_schedule_is_proved_infeasible() -> None:
    """``max_moves: 0`` with a task pinned off its ``current`` node: every schedule of the
    timeline makes one move, so the full model has none. The schedules of the list search are
    dropped (never a plan the model rejects, never an error) and CP-SAT proves it."""
    data = rcpsp(6, jobs=12).to_dict()
    data["max_moves"] = 0
    data["nodes"].append({"id": "spare", "capacity": dict(data["nodes"][0]["capacity"])})
    data["tasks"][0]["current"] = "spare"
    p = problem_from_dict(data)
    for workers, deterministic in ((2, False), (1, True)):
        r = solve(p, time_limit=30.0, workers=workers, deterministic=deterministic)
        assert r.status == Status.INFEASIBLE, r.message
        assert not r.assignments


def test_cpsat_neighbourhood_slices_improve_the_pool_with_checked_plans(monkeypatch: Any) -> None:
    """The list thread's CP-SAT neighbourhood slices (``hybrid._lns_slice``) start from the
    pool's best and hand their schedules to the pool. With the list search and the full search
    held back, only the slices can improve the first serial schedule: they do, and the plan
    they lead to passes the evaluator."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    def idle_full(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()  # the plain model and the first (serial) schedule, as the run does
        self.done.wait()  # hold the worker until the list thread ends
        return cp_model.UNKNOWN

    stop = threading.Event()  # set once a slice improved the pool (no wall-clock limit)
    watched = hybrid._Hybrid._watched

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        status = watched(self, solver, model, callback, name)
        if name == "cpsat-lns-watch" and self.pool.wins.get("cpsat-lns"):
            stop.set()
        return status

    monkeypatch.setattr(hybrid._Hybrid, "_full", idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(LS, "step", lambda self: False)
    monkeypatch.setattr(hybrid, "LNS_STALL", 3)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    info = r.options["schedule_search"]["makespan"]
    assert info["lns_slices"] >= 1
    assert info["improvements"].get("cpsat-lns", 0) >= 1, info


def test_slices_after_every_stalled_step_keep_the_proof(monkeypatch: Any) -> None:
    from taskalloc.solvers.cpsat import hybrid

    monkeypatch.setattr(hybrid, "LNS_STALL", 1)
    p = rcpsp(5, jobs=12)
    r = solve(p, time_limit=20.0, workers=2)
    assert r.status == Status.OPTIMAL
    assert r.bound == {"makespan": evaluate(p, r.assignments).terms["makespan"]}


def test_slices_start_from_the_pools_near_best_schedules(monkeypatch: Any) -> None:
    """Each neighbourhood slice is hinted with one of the pool's ``LNS_TOP`` best schedules,
    drawn at random: not always the best (the schedule the list search has converged on), never
    one outside the top."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid

    def idle_full(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()
        self.done.wait()
        return cp_model.UNKNOWN

    seen: list[tuple[bool, bool]] = []  # per slice: hint is the best, hint is in the top
    watched = hybrid._Hybrid._watched
    stop = threading.Event()  # set at the 12th such slice (no wall-clock limit)

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name == "cpsat-lns-watch" and len(self.pool.elite) >= 2:
            proto = model.Proto()  # the starts' hints (a chained slice hints every variable)
            hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
            hint = [hinted.get(v.index) for v in self.plain.start]
            top = [s.start.tolist() for s in self.pool.elite[: hybrid.LNS_TOP]]
            seen.append((hint == top[0], hint in top))
            if len(seen) >= 12:
                stop.set()
        return watched(self, solver, model, callback, name)

    monkeypatch.setattr(hybrid._Hybrid, "_full", idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(hybrid, "LNS_STALL", 1)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.01)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert len(seen) >= 3, seen
    assert all(inside for _, inside in seen)
    assert not all(best for best, _ in seen)


def _stalling_search(monkeypatch: Any, restart_steps: int, seed: int = 0) -> ListSearch:
    from taskalloc.solvers.cpsat import listsearch

    monkeypatch.setattr(listsearch, "RESTART_STEPS", restart_steps)
    tl = timeline(rcpsp(7, jobs=30, resources=3))
    return ListSearch(tl, Pool(tl, size=10), seed)


def test_a_restart_breeds_on_a_fresh_pool_of_new_samples(monkeypatch: Any) -> None:
    """Once the island stalls for ``RESTART_STEPS`` steps, the search leaves it for an empty
    pool and fills that with newly sampled lists before it breeds again: none of the schedules
    found before is a parent there."""
    search = _stalling_search(monkeypatch, 60)
    sampled = 0
    real_sample = search.sample

    def spy() -> list[int]:
        nonlocal sampled
        sampled += 1
        return real_sample()

    monkeypatch.setattr(search, "sample", spy)
    drawn: list[tuple[Pool, list[int], list[int]]] = []
    real_parents = Pool.parents

    def watch(self: Pool, rng: random.Random) -> tuple[list[int], list[int]]:
        a, b = real_parents(self, rng)
        drawn.append((self, a, b))
        return a, b

    monkeypatch.setattr(Pool, "parents", watch)
    while search.restarts == 0:
        old = {s.start.tobytes() for s in search.pool.elite}
        search.step()
        assert search.steps < 5_000, "the search never stalled"
    island = search.island
    assert island is not search.pool
    assert len(island.elite) <= 1  # the restarting step's own child: one fresh sample
    sampled, drawn = 1, []
    while not drawn:
        search.step()
    assert search.island is island and sampled >= island.size // 2
    orders = [s.order for s in island.elite]
    assert all(pool is island and a in orders and b in orders for pool, a, b in drawn)
    keys = {s.start.tobytes() for s in island.elite}
    assert len(keys - old) >= island.size // 4  # mostly schedules new to the stage


def test_the_best_schedule_survives_restarts(monkeypatch: Any) -> None:
    """The stage's pool keeps the best schedule through every restart, and every schedule an
    island finds reaches it: its best is never worse than any island's, never gets worse."""
    search = _stalling_search(monkeypatch, 40, seed=2)
    pool = search.pool
    trail: list[int] = []
    islands: list[int] = []
    while search.restarts < 4:
        before = search.restarts
        search.step()
        assert search.steps < 10_000, "the search never stalled"
        assert pool.best is not None
        trail.append(pool.best.value)
        if search.restarts != before:
            continue
        assert search.island.best is not None
        islands.append(search.island.best.value)
        assert pool.best.value <= search.island.best.value
    assert trail == sorted(trail, reverse=True)
    assert max(islands) > min(trail)  # the fresh islands started above the pool's best
    p = search.tl.model.problem
    assert feasible(p, search.tl, pool.best.start)


def test_restarting_searches_repeat_for_a_seed(monkeypatch: Any) -> None:
    """Restarts are counted in steps and drawn from the search's own generator: the same seed
    makes the same schedules, restarts included."""

    def trail(seed: int) -> tuple[int, list[int]]:
        search = _stalling_search(monkeypatch, 40, seed=seed)
        values = []
        for _ in range(600):
            search.step()
            assert search.pool.best is not None
            values.append(search.pool.best.value)
        return search.restarts, values

    first = trail(5)
    assert first[0] >= 2
    assert trail(5) == first


@pytest.mark.parametrize("on_island", [True, False])
def test_the_hybrid_restarts_its_list_search_and_slices_from_the_island(
    monkeypatch: Any, on_island: bool
) -> None:
    """In the hybrid, a stalled list search restarts (``list_restarts``); the CP-SAT slices of
    the list thread then start from the island it breeds on (``SLICES_ON_ISLAND``) or from the
    stage's pool, and the plan is checked."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid, listsearch

    def idle_full(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()
        self.done.wait()
        return cp_model.UNKNOWN

    seen: list[bool] = []  # per slice after a restart: its hint is one of the expected pool's
    watched = hybrid._Hybrid._watched
    stop = threading.Event()  # set at the 3rd slice after a restart (no wall-clock limit)

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name == "cpsat-lns-watch" and self.list.restarts:
            proto = model.Proto()  # the starts' hints (a chained slice hints every variable)
            hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
            hint = [hinted.get(v.index) for v in self.plain.start]
            source = self.list.island if on_island else self.pool
            top = [s.start.tolist() for s in source.elite[: hybrid.LNS_TOP]]
            seen.append(hint in top)
            if self.list.restarts > int(self.own_island) and len(seen) >= 3:
                stop.set()
        return watched(self, solver, model, callback, name)

    monkeypatch.setattr(hybrid._Hybrid, "_full", idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(hybrid, "LNS_STALL", 20)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.01)
    monkeypatch.setattr(listsearch, "RESTART_STEPS", 30)
    monkeypatch.setattr(listsearch, "SLICES_ON_ISLAND", on_island)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    info = r.options["schedule_search"]["makespan"]
    assert info["list_restarts"] >= 1, info
    assert seen and all(seen), seen


def test_deterministic_runs_with_restarts_repeat(monkeypatch: Any) -> None:
    """With a deterministic limit (one worker, turns bounded in deterministic time and steps)
    a run whose list search restarts repeats exactly for its seed."""
    from taskalloc.solvers.cpsat import listsearch

    monkeypatch.setattr(listsearch, "RESTART_STEPS", 30)
    p = rcpsp(12, jobs=50, resources=3)
    a = solve(p, time_limit=1.5, deterministic=True, seed=4)
    b = solve(p, time_limit=1.5, deterministic=True, seed=4)
    assert a.has_plan and evaluate(p, a.assignments).feasible
    assert a.options["schedule_search"]["makespan"]["list_restarts"] >= 1
    assert a.assignments == b.assignments and a.status == b.status


def _list_course(
    monkeypatch: Any, offer: bool, steps: int = 300, at: int = 50
) -> list[tuple[int, ...]]:
    """The children the list thread decodes in its first ``steps`` steps (no slices). With
    ``offer``, the schedules CP-SAT finds on the plain model reach the stage's pool while the
    list thread is at its step ``at``: the list thread waits there for them and offers them
    itself, so they land at the same step in every run. It also waits before its first step
    for the switch to the plain model, which offers a schedule of its own (``sgs``). The run
    ends after ``steps`` steps."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    course: list[tuple[int, ...]] = []
    found: list[np.ndarray] = []
    ready, taken = threading.Event(), threading.Event()
    the: dict[str, Any] = {}
    try_list = LS.try_list

    def spy(self: Any, order: list[int], source: str = "list") -> bool:
        if not course:
            assert taken.wait(60.0)
        if len(course) == at:
            assert ready.wait(60.0)
            for start in found:  # into the stage's pool, as CP-SAT's thread would
                the["hybrid"].pool.offer(start, "cpsat")
        course.append(tuple(order))
        if len(course) >= steps:
            the["hybrid"].done.set()
        return try_list(self, order, source)

    def full(self: Any, budget: Any, workers: int) -> Any:
        the["hybrid"] = self
        self._take_plain()
        taken.set()
        if offer:
            plain = self.plain
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.catch_sigint_signal = False
            solver.parameters.max_deterministic_time = 2.0

            class Keep(cp_model.CpSolverSolutionCallback):
                def on_solution_callback(self) -> None:
                    found.append(np.array([self.value(v) for v in plain.start], dtype=np.int64))

            solver.solve(plain.model, Keep())
        ready.set()
        self.done.wait(60.0)
        return cp_model.UNKNOWN

    monkeypatch.setattr(LS, "try_list", spy)
    monkeypatch.setattr(hybrid._Hybrid, "_full", full)
    monkeypatch.setattr(hybrid, "LNS_STALL", 0)
    p = rcpsp(9, jobs=40, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=3)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert len(course) >= steps and (found or not offer)
    return course[:steps]


def test_the_list_thread_follows_its_own_course_whatever_cpsat_finds(monkeypatch: Any) -> None:
    """With two workers the list search breeds on an island of its own (``OWN_ISLAND``): the
    schedules CP-SAT's full search offers to the stage's pool, whenever they come, do not
    change the lists it decodes, so a longer run passes through a shorter one's states."""
    assert _list_course(monkeypatch, True) == _list_course(monkeypatch, False)


def test_without_an_island_cpsats_schedules_change_the_lists(monkeypatch: Any) -> None:
    """The other side of the test above, so that it can fail: breeding on the stage's pool
    (``OWN_ISLAND`` off), the same offers at the same step change the lists decoded after it,
    and not those before."""
    from taskalloc.solvers.cpsat import hybrid

    monkeypatch.setattr(hybrid, "OWN_ISLAND", False)
    offered, alone = _list_course(monkeypatch, True), _list_course(monkeypatch, False)
    assert offered[:50] == alone[:50] and offered != alone


def _precedence_feasible(tl: Timeline, order: list[int]) -> bool:
    at = {t: i for i, t in enumerate(order)}
    return sorted(order) == list(range(tl.T)) and all(
        at[q] < at[t] for t in range(tl.T) for q in tl.preds[t]
    )


@pytest.mark.parametrize("seed", range(4))
def test_relinking_walks_from_one_list_to_the_other(seed: int, monkeypatch: Any) -> None:
    """Every list on a relinking path is a precedence-feasible permutation one task move
    further from its start towards its end; the lists returned lie strictly between the ends,
    best first, and each decoding counts as a step."""
    p = rcpsp(seed, jobs=30, resources=3, nodes=1 + seed % 2)
    tl = timeline(p)
    search = ListSearch(tl, Pool(tl), seed)
    a, b = search.sample(), search.sample()
    path: list[list[int]] = []
    real = tl.decode

    def spy(order: Any, **kw: Any) -> Any:
        path.append(list(order))
        return real(order, **kw)

    monkeypatch.setattr(tl, "decode", spy)
    kept = search.relink(a, b, keep=3)
    differ = sum(1 for u, v in zip(a, b, strict=True) if u != v)
    assert differ >= 3  # two samples of 30 tasks
    assert search.steps == search.relink_steps == len(path) >= 1

    def prefix(x: list[int]) -> int:  # how long a head x shares with b
        return next((i for i, (u, v) in enumerate(zip(x, b, strict=True)) if u != v), len(b))

    heads = [prefix(x) for x in [a, *path]]
    assert heads == sorted(heads) and len(set(heads)) == len(heads)  # closer at every move
    assert all(_precedence_feasible(tl, x) and x not in (a, b) for x in path)
    assert 1 <= len(kept) <= 3 and all(x in path for x in kept)
    values = [tl.objective(real(x)) for x in kept]
    assert values == sorted(values)
    assert values[0] == min(tl.objective(real(x)) for x in path)
    assert search.relink(a, a) == [] and search.relink(a, a, keep=2) == []


def test_relinking_steps_take_their_share_and_offer_checked_plans(monkeypatch: Any) -> None:
    """With ``RELINK`` set, that share of the list search's decodes goes to relinking paths
    between two elites, whose best lists, justified, reach the pool (source ``relink``)."""
    from taskalloc.solvers.cpsat import listsearch

    monkeypatch.setattr(listsearch, "RELINK", 0.5)
    p = rcpsp(11, jobs=30, resources=3)
    tl = timeline(p)
    pool = Pool(tl, size=10)
    offered: list[str] = []
    real_offer = Pool.offer

    def spy(self: Pool, start: np.ndarray, source: str, value: int | None = None) -> bool:
        offered.append(source)
        assert feasible(p, tl, start)
        return real_offer(self, start, source, value)

    monkeypatch.setattr(Pool, "offer", spy)
    search = ListSearch(tl, pool, 3)
    while search.steps < 600:
        search.step()
    assert search.relinks >= 5
    assert 0.4 <= search.relink_steps / search.steps <= 0.6
    assert offered.count("relink") >= search.relinks // 2


@pytest.mark.parametrize("crowding", [False, True])
def test_a_full_pool_drops_the_oldest_or_the_closest_of_its_worst(
    crowding: bool, monkeypatch: Any
) -> None:
    """A full pool makes room by dropping one of its worst schedules: the oldest, or with
    ``CROWDING`` the one closest to the newcomer (fewest starts apart)."""
    from taskalloc.solvers.cpsat import listsearch

    monkeypatch.setattr(listsearch, "CROWDING", crowding)
    tl = timeline(rcpsp(1, jobs=12))
    pool = Pool(tl, size=3)
    base = np.arange(tl.I, dtype=np.int64)
    far, near, other = base.copy(), base.copy(), base.copy()
    far[:6] += 50
    near[:2] += 50
    other[6:9] += 50
    for start in (far, near, other):
        pool.offer(start, "test", value=10)
    newcomer = base.copy()
    newcomer[:1] += 50  # one start from `near`, more from the others
    assert not pool.offer(newcomer, "test", value=10)
    kept = [s.start.tolist() for s in pool.elite]
    assert newcomer.tolist() in kept and len(kept) == 3
    gone = near if crowding else far
    assert gone.tolist() not in kept
    better = base.copy()
    better[-1] += 50  # two starts from the newcomer, more from the others
    assert pool.offer(better, "test", value=9)
    kept = [s.start.tolist() for s in pool.elite]
    assert kept[0] == better.tolist() and len(kept) == 3
    gone = newcomer if crowding else near
    assert gone.tolist() not in kept


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "weights", [{"makespan": 1}, {"tardiness": 1}, {"makespan": 2, "tardiness": 3}]
)
def test_a_plain_hint_is_complete_and_worth_the_schedule(
    seed: int, weights: dict[str, int]
) -> None:
    """``Timeline.plain_hint`` hints every variable of the plain model (the makespan and the
    lateness variables too), with the values a schedule gives them: fixed to their hinted
    values, the model is feasible with the schedule's objective. (A hint of the starts alone
    is incomplete, and CP-SAT's neighbourhood search ignores an incomplete hint.)"""
    from ortools.sat.python import cp_model

    data = rcpsp(seed, jobs=15, nodes=1 + seed % 2).to_dict()
    for i, t in enumerate(data["tasks"]):
        t["due"] = 3 + 2 * i
        t["priority"] = 1 + i % 3
    data["objective"] = {"weights": weights}
    p = problem_from_dict(data)
    full = AllocationModel(p, choose_scales(p), tuple(weights), _safe_horizon(p))
    tl = Timeline.build(full)
    assert tl is not None
    tl.set_objective(weights)
    model, _, objective = tl.plain_model()
    start = tl.justify(tl.decode(tl.topo))
    tl.plain_hint(model, start)
    hint = model.proto.solution_hint
    assert sorted(hint.vars) == list(range(len(model.proto.variables)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.catch_sigint_signal = False
    assert solver.solve(model) == cp_model.OPTIMAL
    assert solver.value(objective) == tl.objective(start)


def test_slices_start_from_their_hint(monkeypatch: Any) -> None:
    """With ``COMPLETE_HINT`` a neighbourhood slice of the list thread takes its hint as its
    first solution: every
    variable of its model is hinted, and CP-SAT's first solution in the slice is worth the
    hint's schedule (with the starts alone hinted, it starts from a schedule of its own)."""
    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid

    def idle_full(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()
        self.done.wait()
        return cp_model.UNKNOWN

    seen: list[tuple[bool, int, int | None]] = []  # complete, hint's value, first solution's
    watched = hybrid._Hybrid._watched

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name != "cpsat-lns-watch":
            return watched(self, solver, model, callback, name)
        proto = model.Proto()
        hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
        starts = [hinted.get(v.index) for v in self.plain.start]
        value = self.tl.objective(np.array(starts, dtype=np.int64))
        first: list[int] = []

        class First(type(callback)):  # type: ignore[misc]
            def on_solution_callback(self) -> None:
                if not first:
                    first.append(int(self.objective_value))
                super().on_solution_callback()  # the slice's own

        complete = len(hinted) == len(proto.variables)
        status = watched(self, solver, model, First(), name)
        seen.append((complete, value, first[0] if first else None))
        if len(seen) >= 3:
            stop.set()  # three slices seen: no wall-clock limit
        return status

    monkeypatch.setattr(hybrid._Hybrid, "_full", idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(hybrid, "COMPLETE_HINT", True)
    monkeypatch.setattr(hybrid, "LNS_STALL", 1)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.02)
    p = rcpsp(3, jobs=40, resources=3)
    stop = threading.Event()
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert seen, "no slice ran"
    assert all(complete for complete, _, _ in seen), seen
    assert all(first is None or first <= value for _, value, first in seen), seen


def _optimum_offered(self: Any, budget: Any, workers: int) -> Any:
    """A full search that offers one schedule far better than a sampling list search's (the
    plain model solved for half a second) and then idles."""
    from ortools.sat.python import cp_model

    self._take_plain()
    plain = self.plain
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False
    solver.parameters.max_deterministic_time = 0.5  # not wall-clock: the same under load
    if solver.solve(plain.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        start = np.array([solver.value(v) for v in plain.start], dtype=np.int64)
        self.pool.offer(start, "cpsat")
    self.done.wait()
    return cp_model.UNKNOWN


def _sampling_only(self: ListSearch) -> bool:
    """A weak list search (sampled lists only): its island lags CP-SAT's optimum."""
    return self.try_list(self.sample())


@pytest.mark.parametrize("from_better", [True, False])
def test_slices_start_from_the_stage_when_the_island_lags(
    monkeypatch: Any, from_better: bool
) -> None:
    """With ``SLICE_FROM_BETTER`` a slice starts from the stage's pool while its best is better
    than the list search's island (CP-SAT's full search ahead), else from the island."""
    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    seen: list[tuple[bool, bool]] = []  # per slice while the island lags: its hint is among
    # the pool's top, and better than the island's best
    watched = hybrid._Hybrid._watched

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        island = self.list.island
        if name == "cpsat-lns-watch" and island.elite and self.pool.best.value < island.best.value:
            proto = model.Proto()
            hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
            hint = [hinted.get(v.index) for v in self.plain.start]
            top = [s.start.tolist() for s in self.pool.elite[: hybrid.LNS_TOP]]
            ahead = self.tl.objective(np.array(hint, dtype=np.int64)) < island.best.value
            seen.append((hint in top, ahead))
            if len(seen) >= 5 and (ahead or not from_better):
                stop.set()  # no wall-clock limit
        return watched(self, solver, model, callback, name)

    monkeypatch.setattr(hybrid._Hybrid, "_full", _optimum_offered)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(LS, "step", _sampling_only)
    # the slices feed the stage's pool only, so that the island keeps lagging CP-SAT's schedule
    monkeypatch.setattr(
        LS, "offer_found", lambda self, start, source: self.pool.offer(start, source)
    )
    monkeypatch.setattr(hybrid, "SLICE_FROM_BETTER", from_better)
    monkeypatch.setattr(hybrid, "LNS_STALL", 5)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.01)
    p = rcpsp(11, jobs=40, resources=3)
    stop = threading.Event()
    r = solve(p, time_limit=60.0, workers=2, seed=2, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert seen, "no slice while the island lagged"
    if from_better:  # from the pool's top, and at times CP-SAT's schedule, ahead of the island
        assert all(top for top, _ in seen) and any(ahead for _, ahead in seen), seen
    else:  # from the island: never ahead of it
        assert not any(ahead for _, ahead in seen), seen


@pytest.mark.parametrize("extra", [0, 1])
def test_the_cpsat_thread_takes_its_extra_workers(monkeypatch: Any, extra: int) -> None:
    """With two workers the CP-SAT thread runs ``workers - 1 + CPSAT_EXTRA`` CP-SAT workers
    (with one extra: its full search and a neighbourhood worker of its own, beside the list
    thread), and the plan is checked."""
    from taskalloc.solvers.cpsat import hybrid

    asked: list[int] = []
    full = hybrid._Hybrid._full

    def spy(self: Any, budget: Any, workers: int) -> Any:
        asked.append(workers)
        return full(self, budget, workers)

    monkeypatch.setattr(hybrid._Hybrid, "_full", spy)
    monkeypatch.setattr(hybrid, "CPSAT_EXTRA", extra)
    p = rcpsp(4, jobs=30, resources=3)
    r = solve(p, time_limit=2.0, workers=2, seed=1)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert asked == [1 + extra]


def test_the_allocator_converges_once_neither_arm_gains() -> None:
    """:meth:`.corealloc.Allocator.converged`: only after a slice has run, and only once
    neither arm has gained for the given seconds (the clock is a counter)."""
    from taskalloc.solvers.cpsat import corealloc

    now = [0.0]
    alloc = corealloc.Allocator(5, 60, lambda: now[0])
    for _ in range(10):
        now[0] += 1.0
        alloc.listed(0.0)
    assert not alloc.converged(2.0)  # no slice yet
    alloc.sliced(0.01)  # a slice gains at 10 s
    now[0] += 1.0
    alloc.listed(0.0)
    assert not alloc.converged(2.0)
    now[0] += 1.5
    alloc.sliced(0.0)
    assert alloc.converged(2.0) and not alloc.converged(3.0)


def _handover_spy(
    monkeypatch: Any, mode: str, stop: threading.Event | None = None
) -> list[tuple[str, int, bool]]:
    """Set HANDOVER to ``mode`` (right after the first slice) and record every full search:
    (thread, workers, cut); with ``stop``, set it 0.3 s into the cut-off search (the tests
    wait for the handover, not for a wall-clock limit)."""
    from taskalloc.solvers.cpsat import hybrid

    asked: list[tuple[str, int, bool]] = []
    full = hybrid._Hybrid._full

    def spy(self: Any, budget: Any, workers: int, cut: bool = False, interrupt: Any = None) -> Any:
        asked.append((threading.current_thread().name, workers, cut))
        if cut and stop is not None:
            threading.Timer(0.3, stop.set).start()
        return full(self, budget, workers, cut, interrupt)

    monkeypatch.setattr(hybrid._Hybrid, "_full", spy)
    monkeypatch.setattr(hybrid, "HANDOVER", mode)
    monkeypatch.setattr(hybrid, "HANDOVER_QUIET", 0.0)
    monkeypatch.setattr(hybrid, "LNS_STALL", 5)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.01)
    return asked


def _handed_over(
    monkeypatch: Any, mode: str
) -> tuple[list[tuple[str, int, bool]], Problem, Any, Any]:
    """Solve an RCPSP with HANDOVER ``mode`` until 0.3 s into the handover's search (no
    wall-clock limit): the full searches asked for (:func:`_handover_spy`), the problem, the
    result and its schedule search's record (skips the test if the search proved the optimum
    first)."""
    stop = threading.Event()
    asked = _handover_spy(monkeypatch, mode, stop)
    p = rcpsp(3, jobs=120, resources=4)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    info = r.options["schedule_search"]["makespan"]
    if r.status == Status.OPTIMAL and info["handover"] is None:
        pytest.skip("proved before the lists converged")
    return asked, p, r, info


def test_the_handover_restarts_cpsat_on_every_worker_below_the_best(monkeypatch: Any) -> None:
    """HANDOVER "restart": once the list thread has converged, the CP-SAT thread's full search
    stops and a cut-off one (hinted with the pool's best) runs on both workers; the plan is
    checked and its value is the pool's, never above the plain run's bound."""
    asked, p, r, info = _handed_over(monkeypatch, "restart")
    assert info["handover"] is not None
    assert asked == [("cpsat-hybrid", 1, False), ("cpsat-hybrid", 2, True)], asked
    assert (r.bound or {}).get("makespan", 0) <= evaluate(p, r.assignments).terms["makespan"]


def test_the_second_search_runs_cut_off_beside_the_first(monkeypatch: Any) -> None:
    """HANDOVER "second": the list thread, once converged, runs a cut-off full search of its
    own (one worker) while the first one goes on."""
    asked, _, _, _ = _handed_over(monkeypatch, "second")
    assert sorted(asked) == [("MainThread", 1, True), ("cpsat-hybrid", 1, False)], asked


@pytest.mark.parametrize("mode", ["restart", "second"])
def test_a_stop_ends_the_search_after_the_handover(monkeypatch: Any, mode: str) -> None:
    """The stop event (as Ctrl-C) ends the cut-off search of the handover with the best plan,
    long before the 60 s limit."""
    from taskalloc.solvers.cpsat import hybrid

    stop = threading.Event()
    _handover_spy(monkeypatch, mode)
    full = hybrid._Hybrid._full

    def stopping(self: Any, budget: Any, workers: int, cut: bool = False, interrupt: Any = None):
        if cut:
            threading.Timer(0.3, stop.set).start()
        return full(self, budget, workers, cut, interrupt)

    monkeypatch.setattr(hybrid._Hybrid, "_full", stopping)
    p = rcpsp(3, jobs=120, resources=4)
    r = solve(p, time_limit=60, workers=2, seed=1, stop=stop)
    assert r.seconds < 30  # a missed stop runs to the 60 s limit
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert stop.is_set() or r.status == Status.OPTIMAL


def jobshop(seed: int, jobs: int = 6, machines: int = 4) -> Problem:
    """A random job shop: each job visits every machine once (capacity 1, demand 1)."""
    rng = random.Random(seed)
    tasks: list[dict[str, Any]] = []
    for j in range(jobs):
        order = list(range(machines))
        rng.shuffle(order)
        for o, m in enumerate(order):
            t: dict[str, Any] = {
                "id": f"j{j}-o{o}",
                "duration": rng.randint(1, 9),
                "demand": {"slot": 1},
                "nodes": [f"m{m}"],
            }
            if o:
                t["after"] = [f"j{j}-o{o - 1}"]
            tasks.append(t)
    data = {
        "taskalloc": 1,
        "nodes": [{"id": f"m{i}", "capacity": {"slot": 1}} for i in range(machines)],
        "tasks": tasks,
        "objective": {"lexicographic": ["makespan"]},
    }
    return problem_from_dict(data)


def test_job_shops_are_disjunctive_and_rcpsp_is_not() -> None:
    from taskalloc.solvers.cpsat.hybrid import disjunctive

    assert disjunctive(timeline(jobshop(0)))
    assert not disjunctive(timeline(rcpsp(4, jobs=30, resources=3)))


@pytest.mark.parametrize("kind", ["jobshop", "rcpsp"])
def test_the_cpsat_thread_takes_its_extra_worker_on_disjunctive_resources(
    monkeypatch: Any, kind: str
) -> None:
    """CPSAT_EXTRA_DISJUNCTIVE = 1: the CP-SAT thread runs two workers on a job shop, one on an
    RCPSP (CPSAT_EXTRA = 0); the plans are checked."""
    from taskalloc.solvers.cpsat import hybrid

    asked: list[int] = []
    full = hybrid._Hybrid._full

    def spy(self: Any, budget: Any, workers: int, cut: bool = False, interrupt: Any = None) -> Any:
        asked.append(workers)
        return full(self, budget, workers, cut, interrupt)

    monkeypatch.setattr(hybrid._Hybrid, "_full", spy)
    monkeypatch.setattr(hybrid, "CPSAT_EXTRA_DISJUNCTIVE", 1)
    monkeypatch.setattr(hybrid, "CPSAT_EXTRA", 0)
    p = jobshop(1, jobs=8, machines=5) if kind == "jobshop" else rcpsp(4, jobs=30, resources=3)
    r = solve(p, time_limit=2.0, workers=2, seed=1)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert asked == [2 if kind == "jobshop" else 1]


def _idle_full(self: Any, budget: Any, workers: int) -> Any:
    """A full search that only takes the plain model and idles (the slices alone search)."""
    from ortools.sat.python import cp_model

    self._take_plain()
    self.done.wait()
    return cp_model.UNKNOWN


def test_slices_take_their_cheaper_parameters(monkeypatch: Any) -> None:
    """``SLICE_IGNORE``, ``SLICE_LINEARIZATION`` and ``SLICE_SUB_DTIME`` reach every slice's
    CP-SAT parameters (and the slices still improve the first schedule with checked plans); by
    default a slice runs every neighbourhood at CP-SAT's linearization level and sub-solve
    limit."""
    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    seen: list[tuple[list[str], int, float]] = []
    watched = hybrid._Hybrid._watched
    stop = threading.Event()  # set once a slice ran (improved, in the second run)
    until = {"improved": False}

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name != "cpsat-lns-watch":
            return watched(self, solver, model, callback, name)
        prm = solver.parameters
        sub = round(prm.lns_initial_deterministic_limit, 6)
        seen.append((list(prm.ignore_subsolvers), prm.linearization_level, sub))
        status = watched(self, solver, model, callback, name)
        if not until["improved"] or self.pool.wins.get("cpsat-lns", 0) >= 1:
            stop.set()
        return status

    monkeypatch.setattr(hybrid._Hybrid, "_full", _idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(LS, "step", lambda self: False)
    monkeypatch.setattr(hybrid, "LNS_STALL", 3)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.05)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and seen and all(s == ([], 1, 0.1) for s in seen), seen
    seen.clear()
    stop.clear()
    until["improved"] = True
    monkeypatch.setattr(hybrid, "SLICE_IGNORE", ("scheduling_time_window_lns",))
    monkeypatch.setattr(hybrid, "SLICE_LINEARIZATION", 0)
    monkeypatch.setattr(hybrid, "SLICE_SUB_DTIME", 0.02)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert seen and all(s == (["scheduling_time_window_lns"], 0, 0.02) for s in seen), seen
    assert r.options["schedule_search"]["makespan"]["improvements"].get("cpsat-lns", 0) >= 1


def test_a_long_neighbourhood_search_runs_once_the_lists_stall(monkeypatch: Any) -> None:
    """With ``LNS_LONG`` the first stall of the list search hands the list thread to one
    neighbourhood search without a deterministic limit (no list step after it), which is
    stopped and started again from the stage's pool only when the full search gets ahead of
    it: here CP-SAT's optimum, offered a second into the run."""
    import time

    from ortools.sat.python import cp_model

    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    def late_optimum(self: Any, budget: Any, workers: int) -> Any:
        self._take_plain()
        time.sleep(1.0)  # after the long slice has started
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.catch_sigint_signal = False
        solver.parameters.max_time_in_seconds = 1.0
        if solver.solve(self.plain.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            start = np.array([solver.value(v) for v in self.plain.start], dtype=np.int64)
            self.pool.offer(start, "cpsat")
        self.done.wait()
        return cp_model.UNKNOWN

    slices: list[tuple[float, int, int]] = []  # dtime limit, hint value, pool best at start
    steps = {"after": 0}
    watched = hybrid._Hybrid._watched
    step = LS.step

    stop = threading.Event()  # set at the second long search (no wall-clock limit)

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name == "cpsat-lns-watch":
            proto = model.Proto()
            hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
            hint = [hinted.get(v.index) for v in self.plain.start]
            value = self.tl.objective(np.array(hint, dtype=np.int64))
            limit = solver.parameters.max_deterministic_time
            slices.append((limit, value, self.pool.best_value()))
            if len(slices) >= 2:
                stop.set()
        return watched(self, solver, model, callback, name)

    def counted(self: Any) -> bool:
        if slices:
            steps["after"] += 1
        return bool(step(self))

    monkeypatch.setattr(hybrid._Hybrid, "_full", late_optimum)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(LS, "step", counted)
    monkeypatch.setattr(hybrid, "LNS_LONG", True)
    monkeypatch.setattr(hybrid, "LNS_STALL", 20)
    p = rcpsp(11, jobs=40, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=2, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert len(slices) >= 2 and steps["after"] == 0, (slices, steps)
    assert all(limit > 1e9 for limit, _, _ in slices), slices
    # each long search after the first starts from the stage's best, as it was then
    assert all(value == best for _, value, best in slices[1:]), slices


def test_own_neighbourhoods_can_replace_the_slices(monkeypatch: Any) -> None:
    """With ``SLICE_OWN_STEPS`` the list thread's neighbourhood turns re-solve our own
    neighbourhoods (:mod:`.schedlns`) instead of CP-SAT's slices: with the list search and
    the full search held back, they alone improve the first schedule, with checked plans."""
    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    slices: list[str] = []
    watched = hybrid._Hybrid._watched
    own = hybrid._Hybrid._own_slice
    stop = threading.Event()  # set once 5 own steps ran and one improved (no wall-clock limit)

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        slices.append(name)
        return watched(self, solver, model, callback, name)

    def counted(self: Any, *args: Any) -> Any:
        gained = own(self, *args)
        if self.lns_steps >= 5 and self.pool.wins.get("own-lns", 0) >= 1:
            stop.set()
        return gained

    monkeypatch.setattr(hybrid._Hybrid, "_full", _idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(hybrid._Hybrid, "_own_slice", counted)
    monkeypatch.setattr(LS, "step", lambda self: False)
    monkeypatch.setattr(hybrid, "LNS_STALL", 3)
    monkeypatch.setattr(hybrid, "SLICE_OWN_STEPS", 5)
    p = rcpsp(3, jobs=30, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    info = r.options["schedule_search"]["makespan"]
    assert "cpsat-lns-watch" not in slices
    assert info["lns_steps"] >= 5 and info["improvements"].get("own-lns", 0) >= 1, info


def test_chained_slices_go_on_from_the_best_with_a_complete_hint(monkeypatch: Any) -> None:
    """With ``CHAIN_COMPLETE`` a slice that follows a slice that improved is hinted with every
    variable of the best schedule (CP-SAT goes on from it), every other slice with the starts
    only (as without the switch)."""
    from taskalloc.solvers.cpsat import hybrid
    from taskalloc.solvers.cpsat.listsearch import ListSearch as LS

    seen: list[tuple[bool, int | None, int | None]] = []  # complete, pool's best before, after
    watched = hybrid._Hybrid._watched
    stop = threading.Event()  # set once a chained and an unchained slice ran (no wall limit)

    def chained_flags() -> list[bool]:
        return [a is not None and b is not None and b < a for _, a, b in seen[:-1]]

    def spy(self: Any, solver: Any, model: Any, callback: Any, name: str) -> Any:
        if name != "cpsat-lns-watch":
            return watched(self, solver, model, callback, name)
        proto = model.Proto()
        complete = len(proto.solution_hint.vars) == len(proto.variables)
        before = self.pool.best_value()
        status = watched(self, solver, model, callback, name)
        seen.append((complete, before, self.pool.best_value()))
        flags = chained_flags()
        if len(seen) >= 3 and any(flags) and not all(flags):
            stop.set()
        return status

    monkeypatch.setattr(hybrid._Hybrid, "_full", _idle_full)
    monkeypatch.setattr(hybrid._Hybrid, "_watched", spy)
    monkeypatch.setattr(LS, "step", lambda self: False)
    monkeypatch.setattr(hybrid, "CHAIN_COMPLETE", True)
    monkeypatch.setattr(hybrid, "LNS_STALL", 3)
    monkeypatch.setattr(hybrid, "LNS_DTIME", 0.02)
    p = rcpsp(3, jobs=40, resources=3)
    r = solve(p, time_limit=60.0, workers=2, seed=1, stop=stop)
    assert r.has_plan and evaluate(p, r.assignments).feasible
    assert len(seen) >= 3 and not seen[0][0], seen
    chained = chained_flags()
    assert [complete for complete, _, _ in seen[1:]] == chained, seen
    assert any(chained) and not all(chained), seen
