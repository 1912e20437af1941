"""How fast `taskalloc --help` starts (target: under 0.25 s). Not a test: prints numbers.

python benchmarks/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    exe = shutil.which("taskalloc") or str(Path(sys.executable).parent / "taskalloc")
    cmds = {"taskalloc --help": [exe, "--help"], "taskalloc solve --help": [exe, "solve", "--help"]}
    for label, cmd in cmds.items():
        subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        print(
            f"{label:28s} median {statistics.median(times):.3f} s  "
            f"min {min(times):.3f} s  max {max(times):.3f} s  ({args.runs} runs)"
        )


if __name__ == "__main__":
    main()
