"""What the solver tests share: builders of tiny problems, the engines every behaviour runs on
(one parametrised fixture, :data:`ENGINES`), the check every plan passes, and brute-force
enumeration judged by the evaluator (the optimum of tiny problems, for property tests).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st

from taskalloc import solvers
from taskalloc.problems.evaluate import PLACEMENT_TERMS, SCHEDULING_TERMS, Evaluation, evaluate
from taskalloc.problems.generate import generate
from taskalloc.problems.plan import Assignment, Status
from taskalloc.problems.problem import Problem, problem_from_dict, topological_order
from taskalloc.solvers.result import Result

LIMIT = 20.0  # seconds per solve; every instance here is solved and proved far faster

# -- builders ------------------------------------------------------------------------------------


def make(nodes: list[dict[str, Any]], tasks: list[dict[str, Any]], **extra: Any) -> Problem:
    return problem_from_dict({"taskalloc": 1, "nodes": nodes, "tasks": tasks, **extra})


def node(nid: str, cpu: float = 10, **extra: Any) -> dict[str, Any]:
    return {"id": nid, "capacity": {"cpu": cpu}, **extra}


def task(tid: str, cpu: float = 1, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "demand": {"cpu": cpu}, **extra}


def lex(*terms: str) -> dict[str, Any]:
    return {"objective": {"lexicographic": list(terms)}}


def sched_nodes() -> list[dict[str, Any]]:
    return [node("fast", 10, speed=2), node("slow", 10)]


def sched_tasks() -> list[dict[str, Any]]:
    return [
        task("A", 6, duration=4),  # fast: 2, slow: 4
        task("B", 6, duration=4, after=["A"]),
        task("C", 6, duration=6, release=1, deadline=3, duration_on={"slow": 2}),
    ]


def terms(problem: Problem, result: Result) -> dict[str, float]:
    return evaluate(problem, result.assignments).terms


def where(result: Result) -> dict[str, list[str]]:
    """task -> sorted nodes of its replicas."""
    out: dict[str, list[str]] = {}
    for a in result.assignments:
        out.setdefault(a.task, []).append(a.node)
    return {t: sorted(ns) for t, ns in sorted(out.items())}


def times(result: Result) -> dict[str, tuple[str, int | None, int | None]]:
    """task -> (node, start, end) of replica 0."""
    return {a.task: (a.node, a.start, a.end) for a in result.assignments if a.replica == 0}


def check(problem: Problem, result: Result, solver: str) -> Result:
    """A plan claimed feasible or optimal must satisfy every constraint."""
    assert result.solver == solver
    if result.status in (Status.OPTIMAL, Status.FEASIBLE):
        ev = evaluate(problem, result.assignments)
        assert ev.feasible, [v.message for v in ev.violations]
    elif result.status == Status.INFEASIBLE:
        assert result.assignments == []
    return result


# -- engines -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """One way to solve: a registered solver and its options, with what it can do."""

    id: str
    solver: str
    options: dict[str, Any] = field(default_factory=dict)
    exact: bool = True  # proves optimality on the tiny cases
    balance: bool = True  # can optimise the balance term
    balance_grid: float | None = None  # weighted balance counted on this grid (CP-SAT: 1e-4)
    scheduling: bool = True
    sched_balance: bool = True  # optimises the peak load of a schedule
    examples: int = 150  # hypothesis examples of the placement property (0: none here)
    sched_examples: int = 60  # ... and of the scheduling property

    def solve(self, problem: Problem, **options: Any) -> Result:
        opts = {"time_limit": LIMIT, "workers": 2, **self.options, **options}
        return check(problem, solvers.solve(problem, self.solver, **opts), self.solver)


ENGINES = [
    Engine("cpsat", "cpsat", balance_grid=1e-4, sched_examples=150),
    Engine("mip-scip", "mip", {"backend": "ortools-scip"}),
    Engine("mip-highs", "mip", {"backend": "ortools-highs"}, examples=40, sched_examples=15),
    # the GA proves nothing, so it must reach each hand-made optimum (status feasible); its
    # brute-force property tests are in tests/solvers/ga/test_engine.py (hundreds of generations).
    # Stopped by generations only (seeded: the same plan on every machine): 300, or 30 without
    # improvement; a 20 s limit cut it on a loaded machine
    Engine(
        "ga",
        "ga",
        {"generations": 300, "stagnation": 30, "time_limit": None},
        exact=False,
        sched_balance=False,  # schedules decoded as early as possible (README, -s ga)
        examples=0,
        sched_examples=0,
    ),
    Engine(
        "mip-portfolio",
        "mip",
        {"backend": "ortools-portfolio"},
        balance=False,
        examples=40,
        sched_examples=15,
    ),
    Engine(
        "mip-cpsat",
        "mip",
        {"backend": "ortools-cpsat"},
        balance=False,
        examples=40,
        sched_examples=15,
    ),
]


# -- brute force ---------------------------------------------------------------------------------

MAX_LEAVES = 8000  # brute-force enumeration budget per instance


def objective_key(problem: Problem) -> Callable[[dict[str, float]], tuple[float, ...]]:
    obj = problem.objective
    if obj.kind == "lexicographic":
        return lambda t: tuple(t[x] for x in obj.terms)
    return lambda t: (sum(w * t[x] for x, w in obj.weights.items()),)


def task_options(problem: Problem, t: int, horizon: int) -> list[list[Assignment]]:
    task = problem.tasks[t]
    out: list[list[Assignment]] = [[]]
    for combo in itertools.combinations(task.allowed, task.replicas):
        ids = [problem.nodes[n].id for n in combo]
        if not problem.scheduling:
            out.append([Assignment(task.id, i, nid) for i, nid in enumerate(ids)])
            continue
        ranges = []
        for n in combo:
            d = task.duration_at(problem.nodes[n])
            ranges.append([(s, s + d) for s in range(horizon - d + 1)])
        for times_ in itertools.product(*ranges):
            out.append(
                [
                    Assignment(task.id, i, nid, s, e)
                    for i, (nid, (s, e)) in enumerate(zip(ids, times_, strict=True))
                ]
            )
    return out


def brute_force(
    problem: Problem,
    expand: Callable[[list[Assignment]], list[list[Assignment]]] | None = None,
) -> tuple[float, ...] | None:
    """The best objective key over all plans (None: no plan), the evaluator as the judge.

    Tasks are taken in topological order; a partial plan is dropped as soon as the evaluator
    finds a violation that more assignments cannot repair (anything but a missing required
    task or an incomplete gang). ``expand`` turns each non-empty option of a task into the
    options it stands for (e.g. every choice of devices for its replicas)."""
    horizon = problem.horizon or 0
    order = topological_order(problem) if problem.scheduling else list(range(len(problem.tasks)))
    options = [task_options(problem, t, horizon) for t in order]
    if expand is not None:
        options = [[x for o in opts for x in (expand(o) if o else [o])] for opts in options]
    key = objective_key(problem)
    best: tuple[float, ...] | None = None

    def dfs(i: int, plan: list[Assignment], ev: Evaluation | None) -> None:
        """``ev``: the evaluation of ``plan``, made when its last option was added (a leaf
        reuses it: evaluating the same plan again was half the oracle's time)."""
        nonlocal best
        if i == len(order):
            if ev is None:
                ev = evaluate(problem, plan, reasons=False)
            if ev.feasible:
                k = key(ev.terms)
                if best is None or _less(k, best):
                    best = k
            return
        for opt in options[i]:
            if not opt:
                dfs(i + 1, plan, ev)
                continue
            new = plan + opt
            got = evaluate(problem, new, reasons=False)
            if any(v.kind not in ("required", "gang") for v in got.violations):
                continue
            dfs(i + 1, new, got)

    dfs(0, [], None)
    return best


def _less(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if x < y - 1e-9:
            return True
        if x > y + 1e-9:
            return False
    return False


def leaves(problem: Problem) -> int:
    total = 1
    for t in range(len(problem.tasks)):
        total *= len(task_options(problem, t, problem.horizon or 0))
    return total


def drop_tasks(data: dict[str, Any], keep: int) -> None:
    kept = data["tasks"][:keep]
    ids = {t["id"] for t in kept}
    for t in kept:
        for key in ("after", "separate_from"):
            if key in t:
                t[key] = [x for x in t[key] if x in ids]
    data["tasks"] = kept


def instance_data(
    n_tasks: int,
    n_nodes: int,
    seed: int,
    scheduling: bool,
    kind: str,
    chosen: list[str],
    weights: list[float],
    horizon: int,
) -> dict[str, Any]:
    """A generated problem made tiny: small durations and horizon (scheduling), some `current`
    nodes (for moves), the objective given, and trimmed until brute force is cheap."""
    rnd = random.Random(seed)
    data = generate(tasks=n_tasks, nodes=n_nodes, scheduling=scheduling, seed=seed)
    ids = [n.id for n in problem_from_dict(data).nodes]
    earlier: list[str] = []
    for t in data["tasks"]:
        # more of what makes tiny problems interesting: optional tasks, priorities,
        # separations, gangs and (scheduling) dependencies on earlier tasks
        if rnd.random() < 0.3:
            t["required"] = False
            t["priority"] = rnd.choice([0.5, 1, 2, 3])
        if earlier and rnd.random() < 0.3:
            t["separate_from"] = sorted({*t.get("separate_from", []), rnd.choice(earlier)})
        if rnd.random() < 0.2:
            t["gang"] = "tiny-gang"
        if scheduling and earlier and rnd.random() < 0.3:
            t["after"] = sorted({*t.get("after", []), rnd.choice(earlier)})
        earlier.append(t["id"])
        if scheduling:
            t["duration"] = rnd.randint(0, 2)
            if "duration_on" in t:
                t["duration_on"] = {k: rnd.randint(0, 2) for k in t["duration_on"]}
            t.pop("deadline", None)
            t.pop("due", None)
            t.pop("release", None)
            if rnd.random() < 0.3:
                t["release"] = rnd.randint(0, 1)
            if rnd.random() < 0.2:
                t["deadline"] = rnd.randint(1, horizon)
            if rnd.random() < 0.5:
                t["due"] = rnd.randint(0, horizon)
        if "moves" in chosen and rnd.random() < 0.6:
            t["current"] = rnd.choice(ids)
    if scheduling:
        data["horizon"] = horizon
    if kind == "lexicographic":
        data["objective"] = {"lexicographic": chosen}
    else:
        data["objective"] = {"weights": dict(zip(chosen, weights, strict=True))}
    problem = problem_from_dict(data)
    while leaves(problem) > MAX_LEAVES and len(data["tasks"]) > 1:
        drop_tasks(data, len(data["tasks"]) - 1)
        problem = problem_from_dict(data)
    return data


@st.composite
def tiny_problems(
    draw: st.DrawFn,
    scheduling: bool,
    terms: tuple[str, ...] | None = None,
    max_tasks: int = 6,
) -> dict[str, Any]:
    """Tiny random problems; ``terms``: the objective terms to draw from (default: every term
    of the kind)."""
    pool = terms or (SCHEDULING_TERMS if scheduling else PLACEMENT_TERMS)
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    return instance_data(
        n_tasks=draw(st.sampled_from(range(1, max_tasks + 1))),
        n_nodes=draw(st.sampled_from(range(1, 4))),
        seed=draw(st.integers(0, 10**6)),
        scheduling=scheduling,
        kind=draw(st.sampled_from(["lexicographic", "weights"])),
        chosen=chosen,
        weights=[draw(st.sampled_from([1, 2, 3, 0.5])) for _ in chosen],
        horizon=draw(st.integers(2, 5)),
    )


def assert_matches_brute_force(data: dict[str, Any], engine: Engine) -> None:
    """The engine's optimum equals the best plan found by enumeration (or both find none)."""
    problem = problem_from_dict(data)
    if not engine.balance and "balance" in problem.objective.terms:
        return  # refused: test_backends::test_balance_is_exact
    best = brute_force(problem)
    r = engine.solve(problem)
    if best is None:
        assert r.status == Status.INFEASIBLE, r.message
        return
    assert r.status == Status.OPTIMAL, r.message
    got = objective_key(problem)(evaluate(problem, r.assignments).terms)
    obj = problem.objective
    if engine.balance_grid and obj.kind == "weights" and "balance" in obj.weights:
        # balance enters a weighted sum on the grid (documented)
        slack = obj.weights["balance"] * engine.balance_grid
        assert best[0] - 1e-9 <= got[0] <= best[0] + slack + 1e-9
    else:
        assert got == pytest.approx(best, abs=1e-9), (got, best)


# -- every plan of a tiny revision-2 problem (devices, starts), as plain data ------------------


def plan_choices(data: dict[str, Any]) -> list[list[list[dict[str, Any]]]]:
    """Per task, every way to place it as plan entries (unplaced, [], first): nodes for each
    replica, the devices of a device-split resource (``gpu``) and, when scheduling, the start."""
    nodes = {n["id"]: n for n in data["nodes"]}
    horizon = data.get("horizon")
    per_task = []
    for t in data["tasks"]:
        options: list[list[dict[str, Any]]] = [[]]  # unplaced
        reps = t.get("replicas", 1)
        length = horizon if t.get("service") else t.get("duration", 0)
        for where in itertools.permutations(sorted(nodes), reps):
            choices = []
            for n in where:
                k = (nodes[n].get("devices") or {}).get("gpu")
                d = t["demand"].get("gpu", 0)
                if k and d > 0:
                    size = nodes[n]["capacity"]["gpu"] / k
                    m = 1 if d <= size else round(d / size)
                    devs = [{"gpu": list(c)} for c in itertools.combinations(range(k), min(m, k))]
                else:
                    devs = [None]
                if horizon is None:
                    starts: list[int | None] = [None]
                elif t.get("service"):
                    starts = [0]
                else:
                    starts = list(range(horizon - length + 1))
                choices.append([(n, dv, s) for dv in devs for s in starts])
            for combo in itertools.product(*choices):
                plan = []
                for r, (n, dv, s) in enumerate(combo):
                    a: dict[str, Any] = {"task": t["id"], "replica": r, "node": n}
                    if dv:
                        a["devices"] = dv
                    if s is not None:
                        a["start"], a["end"] = s, s + length
                    plan.append(a)
                options.append(plan)
        per_task.append(options)
    return per_task


def count_plans(data: dict[str, Any]) -> int:
    """How many plans :func:`every_plan` yields, without making them (the product of the
    tasks' choices: check it before enumerating, the count grows exponentially)."""
    return math.prod(len(c) for c in plan_choices(data))


def every_plan(data: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Every plan of a tiny problem, devices and (scheduling) starts included, one at a time."""
    for combo in itertools.product(*plan_choices(data)):
        yield [a for part in combo for a in part]


def random_gap(seed: int, agents: int = 4, jobs: int = 18) -> Problem:
    """A tight GAP instance (type d-like: cost falls as resource use rises)."""
    from taskalloc.problems.importers import read_gap

    rnd = random.Random(seed)
    w = [[rnd.randint(1, 100) for _ in range(jobs)] for _ in range(agents)]
    c = [[111 - w[i][j] + rnd.randint(-10, 10) for j in range(jobs)] for i in range(agents)]
    b = [int(0.8 * sum(w[i]) / agents) for i in range(agents)]
    rows = [f"{agents} {jobs}", *(" ".join(map(str, r)) for r in c)]
    rows += [" ".join(map(str, r)) for r in w]
    rows.append(" ".join(map(str, b)))
    return problem_from_dict(read_gap("\n".join(rows), f"gap{seed}"))
