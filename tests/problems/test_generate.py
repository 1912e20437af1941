"""`taskalloc generate`: what it makes for the flags and seeds it had before revision 2 stays
byte-identical (benchmarks and users' scripts regenerate their instances from a seed)."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from taskalloc.problems.compiler import problem_from_dict
from taskalloc.problems.evaluate import evaluate
from taskalloc.problems.generate import Extras, _generate, generate
from taskalloc.problems.plan import Assignment
from taskalloc.solvers.greedy import solve as greedy
from tests.helpers import cli

# sha256 of `taskalloc generate ARGS` stdout, recorded before the revision-2 flags were added
PINNED = [
    ([], "abd0a7fdf1a81374bace8f2f7de98733c2c586c1cbbaea382eb714a6192be63f"),
    (["--seed", "1"], "d49c9ea7a6dd46f8709a2923d0a7bd457eaa6742b69594d3335c5f40207de911"),
    (
        ["--tasks", "200", "--nodes", "40", "--seed", "7"],
        "880181fb5c15b0cc6304010b7bdb1042928197d0cdab77f43331b268f3d7dc40",
    ),
    (
        ["--scheduling", "--tasks", "60", "--nodes", "12", "--seed", "3"],
        "5d24cc2d6e8ebe6c122a91279818b086c8ca1081059c51d5a4ec498f53b299a6",
    ),
    (
        ["--scheduling", "--tasks", "300", "--nodes", "60", "--seed", "5", "--resources", "6"],
        "fa60d178d35ea590f90d69666d175f8f57ccbf402903d70f9ae8db8fea8ed248",
    ),
    (
        ["--tasks", "500", "--nodes", "100", "--seed", "11", "--resources", "8", "-f", "json"],
        "63a7ae123775547c0fd23894e8b8ba783b966f7ca8f8cfdc78d3d5a2c536c568",
    ),
    (
        ["--tasks", "2000", "--nodes", "200", "--seed", "2"],
        "eaf4eb9b6809f7b1210b8708dc7ddbdf1a4166e0a8ea1e73a2e38f54fa1e5743",
    ),
]


@pytest.mark.parametrize(("args", "digest"), PINNED, ids=[" ".join(a) or "-" for a, _ in PINNED])
def test_existing_flags_and_seeds_are_byte_identical(args: list[str], digest: str) -> None:
    result = cli("generate", *args)
    assert result.exit_code == 0, result.stderr
    assert hashlib.sha256(result.stdout.encode()).hexdigest() == digest


# -- revision 2, behind new options ----------------------------------------------------------

REVISION_2 = [
    (False, Extras(devices=True)),
    (False, Extras(zones=True)),
    (False, Extras(devices=True, zones=True)),
    (True, Extras(devices=True)),
    (True, Extras(services=True)),
    (True, Extras(same_start=True)),
    (True, Extras(devices=True, zones=True, services=True, same_start=True)),
]


@pytest.mark.parametrize(("scheduling", "extras"), REVISION_2, ids=str)
@pytest.mark.parametrize("seed", [0, 3])
def test_revision_2_problems_are_feasible_by_construction(scheduling, extras, seed):
    data, witness = _generate(120, 24, scheduling, seed, None, 4, extras)
    problem = problem_from_dict(data)
    wanted = {
        "devices": extras.devices,
        "spread": extras.zones,
        "service": extras.services,
        "same_start": extras.same_start,
    }
    assert problem.features == {f for f, on in wanted.items() if on}
    plan = [
        Assignment(
            w["task"], w["replica"], w["node"], w.get("start"), w.get("end"), w.get("devices")
        )
        for w in witness
    ]
    ev = evaluate(problem, plan)
    assert ev.feasible, ev.violations[:5]
    assert not ev.unplaced
    result = greedy(problem)
    assert evaluate(problem, result.assignments).feasible


def test_revision_2_shapes():
    """Shares of one GPU and whole GPUs; services without timing fields; one spread key."""
    data = generate(
        200, 40, scheduling=True, seed=1, devices=True, zones=True, services=True, same_start=True
    )
    tasks = data["tasks"]
    gpus = [t["demand"]["gpu"] for t in tasks if t["demand"].get("gpu")]
    assert any(g < 1 for g in gpus) and any(g >= 1 for g in gpus)
    assert all(g < 1 or float(g).is_integer() for g in gpus)
    services = [t for t in tasks if t.get("service")]
    assert services and not any(
        k in t for t in services for k in ("duration", "after", "release", "deadline", "due")
    )
    assert {t["spread"]["key"] for t in tasks if "spread" in t} == {"zone"}
    assert data["gangs"] and all(g == {"same_start": True} for g in data["gangs"].values())
    assert all(
        n["devices"] == {"gpu": n["capacity"]["gpu"]} for n in data["nodes"] if "devices" in n
    )


def test_services_and_same_start_need_scheduling():
    with pytest.raises(ValueError, match="need a scheduling problem"):
        generate(10, 4, services=True)
    result = cli("generate", "--gangs-same-start")
    assert result.exit_code == 2
    assert result.stderr == "--services and --gangs-same-start need --scheduling\n"


def test_cli_flags_reach_the_generator():
    result = cli("generate", "-n", "40", "-m", "8", "--scheduling", "--devices", "--services")
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert any("devices" in n for n in data["nodes"])
    assert any(t.get("service") for t in data["tasks"])
