"""Cloud-balancing problems of the OptaPlanner/Timefold family, at any size (for scale work).

The shared set stops at 200 computers; the issue's scale targets need 400 to 2,400. This
reimplements the family's generator as its data shows it (checked on the shared 200-computer
file: every computer's cost is the sum of one price per resource level, below):

* a computer picks a cpu level uniformly, and memory and network levels near it; its cost is
  the sum of the three level prices;
* a process demands ``1 + floor(p * max)`` of each resource, with ``p = (2000**u - 1) / 1999``
  for uniform ``u`` (most processes are small: the shared files have 70 % of cpu demands at 1),
  max 12 cpu, 32 memory, 12 network;
* every process is required; the objective is ``[unplaced, cost]``: minimise the cost of the
  computers in use.

    python benchmarks/cloudgen.py 800 2400 --seed 0 > cloud-800.json
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

CPU = [(3, 110), (4, 140), (6, 180), (8, 270), (12, 400), (16, 1000), (24, 3000)]
MEMORY = [(2, 140), (4, 180), (8, 220), (16, 300), (32, 400), (64, 600), (96, 1000)]
NETWORK = [(2, 100), (4, 200), (6, 300), (8, 400), (12, 600), (16, 800), (20, 1000)]
MAX_DEMAND = {"cpu": 12, "memory": 32, "network": 12}


def _near(rng: random.Random, index: int, length: int) -> int:
    return min(length - 1, max(0, index + rng.choice((-1, 0, 0, 1))))


def _parabolic(rng: random.Random, maximum: int) -> int:
    p = (2000.0 ** rng.random() - 1.0) / 1999.0
    return int(p * maximum) + 1


def generate_cloud(computers: int, processes: int, seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    nodes = []
    for c in range(computers):
        i = rng.randrange(len(CPU))
        j = _near(rng, i, len(MEMORY))
        k = _near(rng, i, len(NETWORK))
        nodes.append(
            {
                "id": f"c{c}",
                "capacity": {"cpu": CPU[i][0], "memory": MEMORY[j][0], "network": NETWORK[k][0]},
                "cost": CPU[i][1] + MEMORY[j][1] + NETWORK[k][1],
            }
        )
    tasks = [
        {"id": f"p{p}", "demand": {r: _parabolic(rng, m) for r, m in MAX_DEMAND.items()}}
        for p in range(processes)
    ]
    return {
        "taskalloc": 1,
        "name": f"{computers}computers-{processes}processes-s{seed}",
        "objective": {"lexicographic": ["unplaced", "cost"]},
        "nodes": nodes,
        "tasks": tasks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("computers", type=int)
    ap.add_argument("processes", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(json.dumps(generate_cloud(args.computers, args.processes, args.seed)))


if __name__ == "__main__":
    main()
