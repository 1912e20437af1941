"""`import openb`: the Alibaba GPU trace (node and pod CSV files) as a problem.

Small hand-written CSV files under tests/data/openb: pools, units, devices, selectors and
priorities checked field by field; the paper's arrival sequence (shuffle, copies to 130 %,
trimming, the --arrive prefix); located errors for bad CSV. The command line:
tests/cli/test_import_openb.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from taskalloc.problems.openb import (
    CPU_TASK_PRIORITY,
    TUNE_PERCENT,
    import_openb,
    read_openb,
)
from taskalloc.problems.source import InputError
from tests.helpers import DATA

OPENB = DATA / "openb"
NODES = OPENB / "nodes.csv"
PODS = OPENB / "pods.csv"
BIG = OPENB / "pods_big.csv"
CAPACITY = 18_000  # milli-GPUs in nodes.csv: 3 x 4 + 2 + 0 + 4 GPUs


def demand_milli(task: dict) -> int:
    g = task["demand"].get("gpu", 0)
    return round(g * 1000)


def read(nodes: str, pods: str, **kw):
    return read_openb(nodes, "nodes.csv", pods, "pods.csv", **kw)


NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model\n"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"


# -- the problem -------------------------------------------------------------------------------


def test_nodes_become_pools_with_devices_and_model_labels():
    p = import_openb(str(NODES), str(PODS)).problem
    nodes = {n["id"]: n for n in p["nodes"]}
    # same cpu, gpu, model but different memory: the GiB tells them apart
    assert list(nodes) == [
        "V100M16-4gpu-32cpu-128gib",
        "T4-2gpu-64cpu",
        "cpu-16cpu",
        "V100M16-4gpu-32cpu-96gib",
    ]
    a = nodes["V100M16-4gpu-32cpu-128gib"]
    assert a["count"] == 3
    assert a["capacity"] == {"cpu": 32, "memory": 131072, "gpu": 4}
    assert a["labels"] == {"gpu_model": "V100M16"}
    assert a["devices"] == {"gpu": 4}
    assert a["x-members"] == ["n-a1", "n-a2", "n-a3"]  # member k is the k-th name
    cpu = nodes["cpu-16cpu"]
    assert "count" not in cpu and "devices" not in cpu and "labels" not in cpu
    assert cpu["capacity"] == {"cpu": 16, "memory": 65536}
    assert nodes["V100M16-4gpu-32cpu-96gib"]["capacity"]["memory"] == 98304


def test_tasks_demands_priorities_and_selectors():
    p = import_openb(str(NODES), str(PODS)).problem
    tasks = {t["id"]: t for t in p["tasks"]}
    assert list(tasks) == ["p0", "p1", "p2", "p3", "p4", "p5"]  # file order
    assert tasks["p0"]["demand"] == {"cpu": 4, "memory": 8192, "gpu": 0.5}  # a share of one GPU
    assert tasks["p0"]["priority"] == 0.5
    assert tasks["p1"]["demand"]["gpu"] == 1 and tasks["p1"]["priority"] == 1
    assert tasks["p2"]["demand"] == {"cpu": 2, "memory": 4096}  # needs no GPU
    assert tasks["p2"]["priority"] == CPU_TASK_PRIORITY
    assert tasks["p3"]["demand"]["gpu"] == 2  # two whole GPUs
    assert tasks["p3"]["match"] == {"gpu_model": ["V100M16", "V100M32"]}
    assert tasks["p4"]["demand"]["gpu"] == 0.22 and tasks["p4"]["match"] == {"gpu_model": ["T4"]}
    assert all(t["required"] is False for t in tasks.values())
    assert "match" not in tasks["p0"]
    assert p["objective"] == {"lexicographic": ["unplaced"]}
    src = p["x-source"]
    assert src["gpus"] == 18 and src["order"] == "file" and src["copies"] == 0
    assert list(p) == ["taskalloc", "name", "objective", "x-source", "nodes", "tasks"]


def test_gpu_spec_naming_no_model_is_a_warning():
    r = import_openb(str(NODES), str(PODS))
    assert len(r.warnings) == 2
    v100, a100 = r.warnings
    assert "A100" in a100 and "p5" in a100 and "1 of them can never be placed" in a100
    assert a100.startswith(f"{PODS}:7: gpu_spec names GPU model 'A100'")
    # V100M32 is unknown too, but p3 can still use V100M16: said so, not "never"
    assert "'V100M32'" in v100 and "p3" in v100 and "other models they list" in v100


def test_yaml_and_json_round_trip(tmp_path):
    from taskalloc.problems.plan import dumps

    p = import_openb(str(NODES), str(PODS), order="shuffle", seed=3).problem
    assert yaml.safe_load(dumps(p, "yaml")) == p
    assert json.loads(dumps(p, "json")) == p


def test_the_loader_accepts_the_problem():
    from taskalloc.problems.problem import problem_from_dict

    p = import_openb(str(NODES), str(PODS), order="shuffle", seed=1, arrive=100).problem
    prob = problem_from_dict(p)
    assert len(prob.nodes) == 6 and len(prob.tasks) == len(p["tasks"])
    g = prob.node_index["V100M16-4gpu-32cpu-128gib-2"]
    assert dict(prob.nodes[g].devices) == {"gpu": 4}
    assert all(not t.required for t in prob.tasks)


# -- arrival sequence --------------------------------------------------------------------------


def test_shuffle_is_seeded_and_copies_reach_130_percent():
    a = import_openb(str(NODES), str(PODS), order="shuffle", seed=7).problem
    b = import_openb(str(NODES), str(PODS), order="shuffle", seed=7).problem
    c = import_openb(str(NODES), str(PODS), order="shuffle", seed=8).problem
    assert a == b
    assert [t["id"] for t in a["tasks"]] != [t["id"] for t in c["tasks"]]
    ids = [t["id"] for t in a["tasks"]]
    assert sorted(ids[:6]) == ["p0", "p1", "p2", "p3", "p4", "p5"]  # originals first, shuffled
    copies = a["tasks"][6:]
    assert copies and all(t["x-copy-of"] == t["id"].split("-copy")[0] for t in copies)
    assert [int(t["id"].split("-copy")[1]) for t in copies] == list(range(1, len(copies) + 1))
    total = sum(demand_milli(t) for t in a["tasks"])
    assert total <= TUNE_PERCENT / 100 * CAPACITY
    assert total > TUNE_PERCENT / 100 * CAPACITY - 2000  # stopped by a copy that would overshoot
    assert len(set(ids)) == len(ids)
    assert a["x-source"]["copies"] == len(copies) and a["x-source"]["seed"] == 7


def test_arrive_cuts_a_prefix_of_the_same_sequence():
    full = import_openb(str(NODES), str(PODS), order="shuffle", seed=5, arrive=130).problem
    seq = import_openb(str(NODES), str(PODS), order="shuffle", seed=5).problem
    assert full["tasks"] == seq["tasks"]
    for pct in (5, 25, 60, 100, 129.5):
        pre = import_openb(str(NODES), str(PODS), order="shuffle", seed=5, arrive=pct).problem
        k = len(pre["tasks"])
        assert pre["tasks"] == full["tasks"][:k]
        cum = sum(demand_milli(t) for t in pre["tasks"])
        assert cum <= pct / 100 * CAPACITY
        if k < len(full["tasks"]):  # the next task would go past pct
            assert cum + demand_milli(full["tasks"][k]) > pct / 100 * CAPACITY
    # above 130 %, copies go on to the asked percentage, and the 130 % problem is its prefix
    more = import_openb(str(NODES), str(PODS), order="shuffle", seed=5, arrive=200).problem
    assert more["tasks"][: len(full["tasks"])] == full["tasks"]
    assert sum(demand_milli(t) for t in more["tasks"]) > 1.8 * CAPACITY


def test_a_trace_above_130_percent_is_trimmed():
    p = import_openb(str(NODES), str(BIG), order="shuffle", seed=1).problem
    assert p["x-source"]["copies"] == 0
    assert p["x-source"]["trimmed"] >= 2  # 7 x 4 GPUs: two must go to be within 23.4
    assert sum(demand_milli(t) for t in p["tasks"]) == 20_000
    assert len(p["tasks"]) == 8 - p["x-source"]["trimmed"]


def test_file_order_with_arrive():
    p = import_openb(str(NODES), str(PODS), arrive=20).problem
    # p0 0.5 + p1 1 + p2 0 + p3 2 = 3.5 GPUs <= 3.6; p4 (0.22) would make 3.72 > 3.6
    assert [t["id"] for t in p["tasks"]] == ["p0", "p1", "p2", "p3"]


# -- errors ------------------------------------------------------------------------------------


def error(nodes: str, pods: str, **kw) -> str:
    with pytest.raises(InputError) as exc:
        read(nodes, pods, **kw)
    return str(exc.value)


GOOD_NODES = NODE_HEADER + "a,8000,1000,2,T4\n"
GOOD_PODS = POD_HEADER + "x,1000,10,1,500,\n"


@pytest.mark.parametrize(
    ("nodes", "pods", "expected"),
    [
        (
            "sn,cpu_milli,gpu,model\na,1,1,T4\n",
            GOOD_PODS,
            "nodes.csv:1:1: header: missing required column 'memory_mib'",
        ),
        (
            GOOD_NODES,
            "name,cpu_milli,memory_mib,num_gpu\nx,1,1,0\n",
            "pods.csv:1:1: header: missing required column 'gpu_milli'",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10,1,500,\ny,-5,10,0,0,\n",
            "pods.csv:3:3: task y: cpu_milli: must be >= 0, got -5",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,lots,1,500,\n",
            "pods.csv:2:8: task x: memory_mib: expected a number >= 0, got 'lots'",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10,1.5,500,\n",
            "pods.csv:2:11: task x: num_gpu: expected an integer >= 0, got '1.5'",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10,2,500,\n",
            "pods.csv:2:13: task x: gpu_milli: a share of a GPU (500 milli) is for one GPU only",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10,1,1500,\n",
            "pods.csv:2:13: task x: gpu_milli: GPU milli per GPU is at most 1000, got 1500",
        ),
        (GOOD_NODES, POD_HEADER + "x,1000,10,1,0,\n", "num_gpu > 0 needs gpu_milli > 0"),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10,1,500,\nx,1,1,0,0,\n",
            "pods.csv:3:1: name: task 'x' is also on line 2",
        ),
        (
            GOOD_NODES,
            POD_HEADER + "x,1000,10\n",
            "pods.csv:2:10: expected 6 fields as in the header, got 3",
        ),
        (GOOD_NODES, POD_HEADER + "bad name,1,1,0,0,\n", "is not a valid task id"),
        (
            NODE_HEADER + "a,8000,1000,0,T4\n",
            GOOD_PODS,
            "nodes.csv:2:15: node a: model: a node without GPUs has no GPU model, got 'T4'",
        ),
        (NODE_HEADER + "a,8000,1000,-2,T4\n", GOOD_PODS, "nodes.csv:2:13: node a: gpu: must be"),
        (
            NODE_HEADER + "a,1,1,1,T4\na,1,1,1,T4\n",
            GOOD_PODS,
            "nodes.csv:3:1: sn: node 'a' is also on line 2",
        ),
        ("", GOOD_PODS, "nodes.csv:1:1: header: the file is empty"),
        (GOOD_NODES, POD_HEADER, "pods.csv: no tasks"),
    ],
)
def test_bad_csv_is_located(nodes, pods, expected):
    assert expected in error(nodes, pods)


def test_quoted_fields_and_extra_columns_are_read():
    nodes = 'sn,zone,cpu_milli,memory_mib,gpu,model\n"n,1",east,8000,1000,2,"T4"\n'
    p = read(nodes, POD_HEADER + 'x,1000,10,1,250,"T4|P100"\n').problem
    assert p["nodes"][0]["x-members"] == ["n,1"]
    assert p["tasks"][0]["match"] == {"gpu_model": ["T4", "P100"]}


def test_shuffle_needs_gpus():
    assert "no node has a GPU" in error(NODE_HEADER + "a,1000,10,0,\n", GOOD_PODS, order="shuffle")


def openb_dir() -> Path | None:
    """The shared openb trace: $TASKALLOC_SHARED/benchmarks/openb, else the first
    shared/benchmarks/openb found beside the repository or a parent directory."""
    import os

    env = os.environ.get("TASKALLOC_SHARED")
    roots = [Path(env)] if env else []
    roots += [p / "shared" for p in Path(__file__).resolve().parents[1:]]
    for root in roots:
        d = root / "benchmarks" / "openb"
        if (d / "openb_pod_list_default.csv").exists():
            return d
    return None


def test_shared_trace_when_present():
    shared = openb_dir()
    if shared is None:
        pytest.skip("no shared openb trace (set TASKALLOC_SHARED to the shared directory)")
    r = import_openb(
        str(shared / "openb_node_list_gpu_node.csv"),
        str(shared / "openb_pod_list_default.csv"),
        order="shuffle",
        seed=42,
        arrive=100,
    )
    p = r.problem
    assert sum(n.get("count", 1) for n in p["nodes"]) == 1213 and len(p["nodes"]) == 15
    assert p["x-source"]["gpus"] == 6212 and not r.warnings
    assert p["x-source"]["arrived_gpu_percent"] <= 100
