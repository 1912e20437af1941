"""Variants of an openb task trace, to test on workloads the default trace does not show
(not a test; writes CSV files to a directory outside the repository).

    .venv/bin/python benchmarks/openb_variants.py OUT_DIR [--pods PODS.csv] [--nodes NODES.csv]
    .venv/bin/python benchmarks/bench_openb.py --pods OUT_DIR/share80.csv --seeds 42-44

Each variant has as many tasks as the base trace, drawn with replacement from it by kind, with
the base's share of GPU-free tasks; only the mix of GPU tasks changes:

- ``shareP``: P % of the GPU tasks share a GPU (the default trace: 44 %);
- ``multiP``: P % of the GPU tasks take 2, 4 or 8 whole GPUs (the default trace: 1 %);
- ``specP``: P % of the GPU tasks name GPU models (``gpu_spec``): one model or two, drawn in
  proportion to the GPUs of each model in the node file (the default trace: none).

These are our own derivations, not the paper's variant traces (kept out of the project on
purpose, so that they stay unseen).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_openb import NODES, PODS, find_shared

VARIANTS = {
    "share60": ("share", 0.60),
    "share80": ("share", 0.80),
    "multi10": ("multi", 0.10),
    "multi25": ("multi", 0.25),
    "spec25": ("spec", 0.25),
    "spec50": ("spec", 0.50),
}
COLUMNS = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec"]


def kind(row: dict[str, str]) -> str:
    g, m = int(row["num_gpu"]), int(row["gpu_milli"])
    if g == 0:
        return "cpu"
    if g == 1 and m < 1000:
        return "share"
    return "whole" if g == 1 else "multi"


def variant(
    rows: list[dict[str, str]], models: dict[str, int], what: str, p: float, seed: int
) -> list[dict[str, str]]:
    rng = random.Random(seed)
    pools: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        pools.setdefault(kind(r), []).append(r)
    n = len(rows)
    n_cpu = len(pools.get("cpu", []))
    gpu_kinds = {k: v for k, v in pools.items() if k != "cpu"}
    base_mix = {k: len(v) for k, v in gpu_kinds.items()}
    total_gpu = sum(base_mix.values())
    if what in ("share", "multi"):
        others = {k: c for k, c in base_mix.items() if k != what}
        rest = sum(others.values())
        mix = {what: p} | {k: (1 - p) * c / rest for k, c in others.items()}
    else:
        mix = {k: c / total_gpu for k, c in base_mix.items()}
    out: list[dict[str, str]] = []
    for _ in range(n_cpu):
        out.append(dict(rng.choice(pools["cpu"])))
    names = list(mix)
    weights = [mix[k] for k in names]
    model_names = sorted(models)
    model_w = [models[m] for m in model_names]
    for _ in range(n - n_cpu):
        k = rng.choices(names, weights)[0]
        row = dict(rng.choice(gpu_kinds[k]))
        row["gpu_spec"] = ""
        if what == "spec" and rng.random() < p:
            first = rng.choices(model_names, model_w)[0]
            chosen = {first}
            if rng.random() < 0.5 and len(model_names) > 1:
                chosen.add(rng.choices(model_names, model_w)[0])
            row["gpu_spec"] = "|".join(sorted(chosen))
        out.append(row)
    rng.shuffle(out)
    for i, r in enumerate(out):
        r["name"] = f"v-{i:05d}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--pods", type=Path, default=None)
    ap.add_argument("--nodes", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    shared = find_shared()
    pods = args.pods or (shared / PODS if shared else None)
    nodes = args.nodes or (shared / NODES if shared else None)
    if pods is None or nodes is None:
        sys.exit("no base trace: give --pods and --nodes")
    with open(pods, newline="") as f:
        rows = list(csv.DictReader(f))
    models: dict[str, int] = {}
    with open(nodes, newline="") as f:
        for r in csv.DictReader(f):
            if r["model"]:
                models[r["model"]] = models.get(r["model"], 0) + int(r["gpu"])
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (what, p) in VARIANTS.items():
        out = variant(rows, models, what, p, args.seed)
        path = args.out / f"{name}.csv"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(out)
        print(f"{path}: {len(out)} tasks")


if __name__ == "__main__":
    main()
