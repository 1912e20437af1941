"""The warm path of ``--partitions`` (what it does at 150,000 x 5,000, on small problems): each
part starts from its share of the whole problem's greedy plan, a part that dies or misses its
deadline keeps that share, the parts are solved by cpsat's LNS at scale and the improvement
over the whole plan runs in the driver; every plan passes check, none is worse than the
greedy's, and the same seed and K give the same plan with deterministic limits."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path

import pytest

from taskalloc import solvers
from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import check, evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment
from taskalloc.problems.problem import Problem
from taskalloc.solvers.baseline import compare, greedy_plan, no_worse
from taskalloc.solvers.batch import LocalExecutor
from taskalloc.solvers.engine import Params
from taskalloc.solvers.partition import (
    PartitionOptions,
    at_scale,
    deterministic_grace,
    shares_of,
    split,
)
from taskalloc.solvers.partition import solve as solve_parts
from taskalloc.solvers.result import checked_plan
from tests import batch_targets

partition = importlib.import_module("taskalloc.solvers.partition")


def _named(tmp_path: Path, name: str, tasks: int = 160, nodes: int = 16) -> Problem:
    data = generate(tasks, nodes, seed=6)
    data["name"] = str(tmp_path / name)
    return problem_from_dict(data)


def _greedy_on(problem: Problem, part: int, k: int, seed: int) -> set[tuple[str, int, str]]:
    """The greedy plan's assignments that are part ``part``'s share (task, replica, node)."""
    base = greedy_plan(problem)
    placed: dict[int, set[int]] = {}
    for x in base.result.assignments:
        placed.setdefault(problem.task_index[x.task], set()).add(problem.node_index[x.node])
    sp = split(problem, k, seed, placed)
    share = shares_of(problem, sp, base.result.assignments)[part] or []
    return {(x.task, x.replica, x.node) for x in share}


def _keeps_its_share(problem: Problem, result: solvers.Result, share: set[tuple]) -> None:
    """Every assignment of the share is in the parts' plan; after the seam's floor (what
    ``solvers.solve`` returns) the plan passes check and is no worse than the greedy's."""
    got = {(x.task, x.replica, x.node) for x in result.assignments}
    assert share and share <= got
    final = no_worse(problem, result)
    plan, ev = checked_plan(problem, final)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0


def test_a_part_that_dies_keeps_its_share_of_the_greedy_plan(tmp_path: Path) -> None:
    problem = _named(tmp_path, "die")
    share = _greedy_on(problem, 0, 2, 1)
    ex = LocalExecutor(2, target=batch_targets.part_always_dies)
    options = PartitionOptions(2, improve=False, warm=True)
    res = solve_parts(problem, "greedy", Params(seed=1), {}, options, executor=ex)
    stats = res.options["partitions"]
    assert stats["warm"] and stats["parts"][0]["status"] == "internal"
    assert stats["parts"][0]["kept"] == "its share of the start plan"
    assert "kept their share" in (res.message or "")
    _keeps_its_share(problem, res, share)


def test_at_scale_a_dead_part_keeps_its_share_and_the_rest_is_placed(
    tmp_path: Path, scale_at_small_sizes: None
) -> None:
    problem = _named(tmp_path, "die", 300, 24)
    share = _greedy_on(problem, 0, 2, 1)
    ex = LocalExecutor(2, target=batch_targets.part_always_dies, grace=deterministic_grace)
    params = Params(seed=1, time_limit=8, deterministic=True)
    res = solve_parts(problem, "cpsat", params, {}, PartitionOptions(2), executor=ex)
    stats = res.options["partitions"]
    assert stats["parts"][0]["kept"] == "its share of the start plan"
    assert stats["improve"].get("kept")
    # the improvement over the whole plan placed what the lost part's share left out
    ev = evaluate(problem, res.assignments, reasons=False)
    assert ev.feasible
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0
    del share  # (the improvement may move the share's tasks: it keeps only better plans)


def test_a_part_past_its_deadline_keeps_its_share(tmp_path: Path) -> None:
    problem = _named(tmp_path, "hang")
    share = _greedy_on(problem, 0, 2, 1)
    ex = LocalExecutor(2, target=batch_targets.part_hangs, grace=lambda limit: 8.0)
    options = PartitionOptions(2, improve=False, warm=True, part_time_limit=2.0)
    res = solve_parts(problem, "cpsat", Params(seed=1, time_limit=30), {}, options, executor=ex)
    stats = res.options["partitions"]
    assert stats["parts"][0]["status"] == "timeout"
    assert stats["parts"][1]["status"] in ("feasible", "optimal")
    _keeps_its_share(problem, res, share)


def test_shares_are_plans_of_their_parts() -> None:
    problem = problem_from_dict(generate(300, 20, seed=4))
    base = greedy_plan(problem)
    placed: dict[int, set[int]] = {}
    for x in base.result.assignments:
        placed.setdefault(problem.task_index[x.task], set()).add(problem.node_index[x.node])
    for k in (2, 3, 5):
        sp = split(problem, k, 0, placed)
        shares = shares_of(problem, sp, base.result.assignments)
        for part, share in zip(sp.parts, shares, strict=True):
            tasks, nodes = set(part.tasks), {problem.nodes[n].id for n in part.nodes}
            by_task: dict[int, list] = {}
            for x in share or []:
                assert x.node in nodes
                by_task.setdefault(problem.task_index[x.task], []).append(x)
            assert set(by_task) <= tasks
            for t, xs in by_task.items():
                assert len(xs) == problem.tasks[t].replicas
                gang = problem.tasks[t].gang
                if gang is not None:  # a gang is whole in a share or absent
                    assert all(m in by_task for m in problem.gangs[gang])


def test_the_warm_path_at_scale(scale_at_small_sizes: None) -> None:
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    assert at_scale(problem, "cpsat") and at_scale(problem, "auto")
    assert not at_scale(problem, "greedy")
    runs = [
        solvers.solve(
            problem, "cpsat", partitions=2, time_limit=8, seed=2, deterministic=True, jobs=2
        )
        for _ in range(2)
    ]
    res = runs[0]
    stats = res.options["partitions"]
    assert stats["warm"]
    assert all(p["status"] in ("feasible", "optimal") for p in stats["parts"])
    assert stats["improve"]["mode"] == "lns at scale over the whole plan"
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    floor = greedy_plan(problem).evaluation
    assert compare(problem, ev, floor) <= 0
    assert runs[0].assignments == runs[1].assignments  # deterministic limits: the same plan


def test_the_parts_use_the_lns_at_scale_from_their_share(scale_at_small_sizes: None) -> None:
    from taskalloc.solvers.partition.subproblem import sub_data

    problem = problem_from_dict(generate(300, 24, resources=4, seed=5))
    base = greedy_plan(problem)
    placed: dict[int, set[int]] = {}
    for x in base.result.assignments:
        placed.setdefault(problem.task_index[x.task], set()).add(problem.node_index[x.node])
    sp = split(problem, 2, 0, placed)
    share = shares_of(problem, sp, base.result.assignments)[0]
    assert share is not None
    part = problem_from_dict(sub_data(problem, sp.parts[0].tasks, sp.parts[0].nodes, relax=True))
    res = solvers.solve(
        part,
        "cpsat",
        lns="scale",
        floor=False,
        hint=share,
        time_limit=3,
        seed=1,
        deterministic=True,
    )
    assert res.options["warm_start"] == "hint" and res.options["floor"] == "caller"
    assert (
        "greedy" not in res.options["stage_seconds"] or res.options["stage_seconds"]["greedy"] < 1.0
    )
    # the share completed: fewer tasks unplaced than the share leaves, and a plan of the part
    left = evaluate(part, share, reasons=False).objective["unplaced"]
    assert evaluate(part, res.assignments, reasons=False).objective["unplaced"] < left
    assert checked_plan(part, res)[1].feasible


def _nodes_of(assignments: Iterable[Assignment]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for x in assignments:
        out.setdefault(x.task, set()).add(x.node)
    return out


def _greedy_nodes(problem: Problem) -> dict[str, set[str]]:
    return _nodes_of(greedy_plan(problem).result.assignments)


def test_what_the_parts_leave_unplaced_goes_back_where_the_greedy_had_it(
    tmp_path: Path, scale_at_small_sizes: None
) -> None:
    # part 1 returns a plan without three of its tasks; the coalesced plan is completed from
    # the greedy's plan before the LNS over the whole
    problem = _named(tmp_path, "drop", 300, 24)
    # killed only when stuck, as the driver's own executor with a deterministic limit
    ex = LocalExecutor(2, target=batch_targets.part_drops_tasks, grace=deterministic_grace)
    params = Params(seed=1, time_limit=8, deterministic=True)
    res = solve_parts(problem, "cpsat", params, {}, PartitionOptions(2), executor=ex)
    improve = res.options["partitions"]["improve"]
    assert improve["restored"] >= 3 and improve.get("kept")
    assert "put back where the greedy's plan had them" in (res.message or "")
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0
    assert res.options.get("baseline")  # compared with the greedy's plan by the driver


def test_the_driver_returns_the_greedys_plan_when_the_parts_leave_a_required_task(
    tmp_path: Path,
) -> None:
    # no improvement after the parts: their plan leaves three tasks unplaced, a required one
    # among them (no plan of the problem); the driver itself returns the greedy's (without
    # the seam's floor)
    problem = _named(tmp_path, "drop")
    ex = LocalExecutor(2, target=batch_targets.part_drops_tasks)
    options = PartitionOptions(2, improve=False, warm=True)
    res = solve_parts(problem, "greedy", Params(seed=1), {}, options, executor=ex)
    assert res.options.get("baseline_used")
    assert _nodes_of(res.assignments) == _greedy_nodes(problem)
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok


def test_without_the_improvement_the_coalesced_plan_is_completed(
    tmp_path: Path, scale_at_small_sizes: None
) -> None:
    # the scaling curve's path (no improvement after the parts): what a part left unplaced is
    # put back where the greedy had it, so the parts' work is kept, not the greedy's plan
    problem = _named(tmp_path, "drop", 300, 24)
    # killed only when stuck, as the driver's own executor with a deterministic limit
    ex = LocalExecutor(2, target=batch_targets.part_drops_tasks, grace=deterministic_grace)
    params = Params(seed=1, time_limit=8, deterministic=True)
    options = PartitionOptions(2, improve=False)
    res = solve_parts(problem, "cpsat", params, {}, options, executor=ex)
    stats = res.options["partitions"]
    assert stats["completed"]["placed"] >= 3
    assert not res.options.get("baseline_used")
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0


def test_what_the_greedy_spread_over_parts_is_held_where_it_is(
    scale_at_small_sizes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at scale from the greedy's plan, held: the task groups it spread over two parts stay
    # out of the parts, where it put them; each part gets what they leave of its nodes, so
    # the parts' plans and the held tasks together place everything the greedy places
    monkeypatch.setattr(partition, "SPREAD_GROUPS", "hold")
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    options = PartitionOptions(2, improve=False)
    params = Params(seed=2, time_limit=6, deterministic=True)
    res = solve_parts(problem, "cpsat", params, {}, options)
    stats = res.options["partitions"]
    assert stats["warm"] and stats["held"] > 0
    assert sum(p["solved_tasks"] for p in stats["parts"]) + stats["held"] == len(problem.tasks)
    assert all(p["status"] in ("feasible", "optimal") for p in stats["parts"])
    greedy = _greedy_nodes(problem)
    assert set(_nodes_of(res.assignments)) >= set(greedy)  # nothing the greedy places is lost
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0
    assert not res.options.get("baseline_used")  # the parts' plan, not the greedy's


def test_what_the_greedy_spread_over_parts_is_shared_out(scale_at_small_sizes: None) -> None:
    # at scale from the greedy's plan (the default): each part places the tasks and replicas
    # of the spread groups that the greedy put on its nodes, from there; nothing is held, a
    # task with replicas on both parts is placed by both, a gang on both is required in both,
    # and the coalesced plan places everything the greedy places
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    options = PartitionOptions(2, improve=False)
    params = Params(seed=2, time_limit=6, deterministic=True)
    res = solve_parts(problem, "cpsat", params, {}, options)
    stats = res.options["partitions"]
    shared = stats["shared_out"]
    assert stats["warm"] and stats["held"] == 0
    assert shared["tasks"] > 0 and shared["split"] > 0 and shared["dropped"] == 0
    # every task in one part, but those with replicas on both (in each)
    assert sum(p["solved_tasks"] for p in stats["parts"]) == len(problem.tasks) + shared["split"]
    assert all(p["status"] in ("feasible", "optimal") for p in stats["parts"])
    greedy = _greedy_nodes(problem)
    assert set(_nodes_of(res.assignments)) >= set(greedy)  # nothing the greedy places is lost
    plan, ev = checked_plan(problem, res)
    assert ev.feasible and check(problem, plan).ok
    assert compare(problem, ev, greedy_plan(problem).evaluation) <= 0
    assert not res.options.get("baseline_used")  # the parts' plan, not the greedy's
    again = solve_parts(problem, "cpsat", params, {}, options)
    assert sorted(map(str, again.assignments)) == sorted(map(str, res.assignments))


def test_a_task_shared_out_is_joined_whole_or_taken_out() -> None:
    # the parts' plans of a task whose replicas were on two parts are joined (replicas
    # numbered again); a task a part left short, and the placed mates of a gang with a member
    # left unplaced, are taken out (the completion places them again)
    from taskalloc.solvers.partition import _join_portions

    data = {
        "taskalloc": 1,
        "nodes": [{"id": f"n{i}", "capacity": {"cpu": 8}} for i in range(4)],
        "tasks": [
            {"id": "web", "replicas": 2, "demand": {"cpu": 1}},
            {"id": "db", "replicas": 2, "demand": {"cpu": 1}},
            {"id": "a", "gang": "g", "demand": {"cpu": 1}},
            {"id": "b", "gang": "g", "demand": {"cpu": 1}},
        ],
    }
    problem = problem_from_dict(data)
    web, db, a = (problem.task_index[t] for t in ("web", "db", "a"))
    portions = {
        web: {0: [Assignment("web", 0, "n0")], 1: [Assignment("web", 1, "n2")]},
        db: {0: [Assignment("db", 0, "n1")], 1: [Assignment("db", 1, "n3")]},
        a: {0: [Assignment("a", 0, "n0")]},
    }
    by_task = {
        web: [Assignment("web", 0, "n0"), Assignment("web", 0, "n2")],  # each part's replica 0
        db: [Assignment("db", 0, "n1")],  # part 2 left its replica of db unplaced
        a: [Assignment("a", 0, "n0")],  # b unplaced
    }
    assert _join_portions(problem, by_task, portions) == 2
    assert by_task == {web: [Assignment("web", 0, "n0"), Assignment("web", 1, "n2")]}


class _FrozenClock:
    """``time`` for the driver with its clock stopped: the run's share of its time is then
    what its limit says, whatever this machine's speed."""

    @staticmethod
    def monotonic() -> float:
        return 1000.0


class _NoRun:
    """An executor that runs nothing: it notes each part's limit and stops the run."""

    def __init__(self) -> None:
        self.limits: list[float] = []

    def run(self, items, make_spec, on_start, on_finish, stop):  # type: ignore[no-untyped-def]
        self.limits = [make_spec(item).opts.time_limit for item in items]
        stop.set()
        return []


def _no_run_frozen(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, object], _NoRun]:
    """The driver with its clock stopped (:class:`_FrozenClock`) and every executor a
    :class:`_NoRun`: the grace each one is made with goes to the dict returned beside it."""
    got: dict[str, object] = {}
    ex = _NoRun()

    def executor(kind: str, jobs: int, address: object = None, *, grace=None):  # type: ignore[no-untyped-def]
        got["grace"] = grace
        return ex

    monkeypatch.setattr(partition, "make_executor", executor)
    monkeypatch.setattr(partition, "time", _FrozenClock)
    return got, ex


def test_a_part_at_scale_is_killed_no_earlier_than_the_end_of_its_waves_share(
    scale_at_small_sizes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # K = 4 parts in 2 waves, 40 s: each wave's share of the run is (40 - the final share) / 2;
    # a part's limit is its window for the parts (SCALE_PART_SHARE of that), and its worker is
    # killed no earlier than the end of the wave's share (it may run into the improvement's
    # time: a part killed keeps only its share). The clock stopped: no wall-clock assert.
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    got, ex = _no_run_frozen(monkeypatch)
    limit = 40.0
    params = Params(seed=1, time_limit=limit)
    solve_parts(problem, "cpsat", params, {}, PartitionOptions(4, jobs=2))
    grace = got["grace"]
    assert callable(grace) and len(ex.limits) == 4
    share = (limit - partition.SCALE_FINAL_SHARE * limit) / 2
    part_limit = ex.limits[0]
    assert part_limit == pytest.approx(share * partition.SCALE_PART_SHARE)
    assert part_limit + grace(part_limit) >= share - 1e-9  # not killed before its wave's end
    # a part given its own seconds (the scaling curve) is killed only when clearly stuck
    solve_parts(problem, "cpsat", params, {}, PartitionOptions(4, jobs=2, part_time_limit=5))
    assert got["grace"](5.0) >= 120.0  # type: ignore[operator]


def test_a_part_with_a_deterministic_limit_is_killed_only_when_stuck(
    scale_at_small_sizes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a deterministic limit is not wall-clock time: under load a part may run three times as
    # long, and a part killed would make the plan depend on the load
    problem = problem_from_dict(generate(400, 30, resources=4, seed=3))
    got, ex = _no_run_frozen(monkeypatch)
    for k in (2, 4):
        params = Params(seed=1, time_limit=40.0, deterministic=True)
        solve_parts(problem, "cpsat", params, {}, PartitionOptions(k, jobs=2))
        part_limit = ex.limits[-1]
        assert callable(got["grace"]) and got["grace"](part_limit) >= 120.0 + 3 * part_limit
