"""Hostile inputs (issue 11): each case run as a real ``taskalloc`` process, with its exit code,
wall time, peak memory and what it printed.

Every case is written into a temporary directory and run as ``python -m taskalloc ...`` under
an address-space cap (``--mem-gb``, default 8) and a time limit (``--timeout``, default 180 s),
so that the cases that exhaust memory or time today end as ``MemoryError`` / ``timeout`` rows
instead of taking the machine down. Not a test: prints a Markdown table.

    python benchmarks/hostile.py                 # every small case
    python benchmarks/hostile.py --big           # also 150,000 x 5,000 (YAML, JSON) and a
                                                 # 57 MB JSON file with one typo (minutes)
    python benchmarks/hostile.py --only deep     # the cases whose name contains "deep"

To measure another checkout with the same interpreter, put a tree laid out like the installed
package first on the path: ``PYTHONPATH=/tmp/before python benchmarks/hostile.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SMALL_PROBLEM = """taskalloc: 1
nodes:
  - {id: a, capacity: {cpu: 4}}
  - {id: b, capacity: {cpu: 4}}
tasks:
  - {id: t1, demand: {cpu: 1}}
  - {id: t2, demand: {cpu: 2}, required: false}
"""


@dataclass
class Case:
    name: str
    what: str
    setup: Callable[[Path], list[str]]  # writes its files; returns the taskalloc arguments
    stdin: str | None = None  # a file to read stdin from, or "yes" for `yes |`
    big: bool = False
    tags: list[str] = field(default_factory=list)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def small_plan(tmp: Path, **edits: object) -> Path:
    """A plan of SMALL_PROBLEM solved by the greedy, then edited (top-level keys replaced)."""
    problem = write(tmp / "p.yaml", SMALL_PROBLEM)
    plan = tmp / "plan.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "taskalloc",
            "-q",
            "solve",
            str(problem),
            "-s",
            "greedy",
            "-o",
            str(plan),
        ],
        check=True,
    )
    data = json.loads(plan.read_text())
    data.update(edits)
    plan.write_text(json.dumps(data))
    return plan


def problem_with(
    tasks: str, nodes: str = "  - {id: a, capacity: {cpu: 4}}\n", extra: str = ""
) -> str:
    return f"taskalloc: 1\n{extra}nodes:\n{nodes}tasks:\n{tasks}"


def _deep_yaml(tmp: Path) -> Path:
    return write(tmp / "deep.yaml", "taskalloc: 1\nnodes: " + "[" * 25_000 + "\n")


def _cases() -> list[Case]:
    cases: list[Case] = []

    def case(name: str, what: str, **kw: object) -> Callable[[Callable[[Path], list[str]]], None]:
        def deco(fn: Callable[[Path], list[str]]) -> None:
            cases.append(Case(name, what, fn, **kw))  # type: ignore[arg-type]

        return deco

    @case("deep-yaml-validate", "25,000 nested `[` (50 KB), validate")
    def _(tmp: Path) -> list[str]:
        return ["validate", str(_deep_yaml(tmp))]

    @case("deep-yaml-check", "the same file as the plan of `check`")
    def _(tmp: Path) -> list[str]:
        return ["check", str(write(tmp / "p.yaml", SMALL_PROBLEM)), str(_deep_yaml(tmp))]

    @case("deep-yaml-batch", "the same file in a batch directory beside a valid problem")
    def _(tmp: Path) -> list[str]:
        d = tmp / "in"
        write(d / "ok.yaml", SMALL_PROBLEM)
        shutil.copy(_deep_yaml(tmp), d / "deep.yaml")
        return ["-q", "solve", str(d), "-d", str(tmp / "out"), "-s", "greedy"]

    @case("deep-yaml-dashes", "25,000 nested block sequences (`- - - ...`), validate")
    def _(tmp: Path) -> list[str]:
        return [
            "validate",
            str(write(tmp / "dash.yaml", "taskalloc: 1\nnodes:\n" + "- " * 25_000 + "x\n")),
        ]

    @case("deep-json-1000", "JSON nested 1,000 deep, validate")
    def _(tmp: Path) -> list[str]:
        text = '{"taskalloc": 1, "nodes": ' + "[" * 1000 + "]" * 1000 + ', "tasks": []}'
        return ["validate", str(write(tmp / "deep.json", text))]

    @case("count-bomb", "`count: 100000000` in a 114-byte file, validate")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t, demand: {cpu: 1}}\n", "  - {id: a, count: 100000000, capacity: {cpu: 4}}\n"
        )
        return ["validate", str(write(tmp / "count.yaml", text))]

    @case("replicas-bomb", "`replicas: 1000000000`, solve -s greedy")
    def _(tmp: Path) -> list[str]:
        text = problem_with("  - {id: t, replicas: 1000000000, demand: {cpu: 1}}\n")
        return ["solve", str(write(tmp / "replicas.yaml", text)), "-s", "greedy"]

    @case("devices-bomb", "`devices: {gpu: 1000000000}`, solve -s greedy")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t, demand: {gpu: 1}}\n",
            "  - {id: a, capacity: {gpu: 8}, devices: {gpu: 1000000000}}\n",
        )
        return ["solve", str(write(tmp / "devices.yaml", text)), "-s", "greedy"]

    @case("pairs-bomb", "a pool of 1,000,000 nodes and 2,000 tasks (2e9 pairs), validate")
    def _(tmp: Path) -> list[str]:
        tasks = "".join(f"  - {{id: t{i}, demand: {{cpu: 1}}}}\n" for i in range(2000))
        text = problem_with(tasks, "  - {id: a, count: 1000000, capacity: {cpu: 4}}\n")
        return ["validate", str(write(tmp / "pairs.yaml", text))]

    @case("dev-zero", "validate /dev/zero")
    def _(tmp: Path) -> list[str]:
        return ["validate", "/dev/zero"]

    @case("yes-stdin", "`yes | taskalloc validate -`", stdin="yes")
    def _(tmp: Path) -> list[str]:
        return ["validate", "-"]

    @case("huge-int-digits", "`count:` with 5,000 digits, validate")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t, demand: {cpu: 1}}\n", "  - {id: a, count: " + "1" * 5000 + "}\n"
        )
        return ["validate", str(write(tmp / "digits.yaml", text))]

    @case("duration-int64", "`duration: 9223372036854775807`, solve -s cpsat -t 5")
    def _(tmp: Path) -> list[str]:
        text = problem_with("  - {id: t, demand: {cpu: 1}, duration: 9223372036854775807}\n")
        return ["solve", str(write(tmp / "dur.yaml", text)), "-s", "cpsat", "-t", "5"]

    @case("horizon-30-digits", "a 30-digit `horizon`, solve -s cpsat -t 5")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t, demand: {cpu: 1}, duration: 5}\n", extra="horizon: " + "9" * 30 + "\n"
        )
        return ["solve", str(write(tmp / "hor.yaml", text)), "-s", "cpsat", "-t", "5"]

    @case("speed-tiny", "`speed: 1e-12` and `duration: 1000`, solve -s cpsat -t 5")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t, demand: {cpu: 1}, duration: 1000}\n",
            "  - {id: a, capacity: {cpu: 4}, speed: 1e-12}\n",
        )
        return ["solve", str(write(tmp / "speed.yaml", text)), "-s", "cpsat", "-t", "5"]

    @case("demand-1e308", "two demands of 1e308 on a node of 1e308, solve")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            "  - {id: t1, demand: {cpu: 1e308}}\n  - {id: t2, demand: {cpu: 1e308}}\n",
            "  - {id: a, capacity: {cpu: 1e308}}\n",
        )
        return ["solve", str(write(tmp / "e308.yaml", text))]

    @case("escape-ids", "ids with ESC sequences and a newline, validate")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            '  - {id: "t\\e[31mRED\\e[0m", demand: {cpu: 1}}\n'
            '  - {id: "u\\nfake.yaml:1:1: forged error", demand: {cpu: 1}}\n'
            '  - {id: v, demand: {cpu: 1}, "x\\e]0;pwned\\a": 1}\n'
        )
        return ["validate", str(write(tmp / "esc.yaml", text))]

    @case("escape-plan", "a plan naming a task `\\e[2J` and a node with a newline, check")
    def _(tmp: Path) -> list[str]:
        plan = small_plan(tmp)
        data = json.loads(plan.read_text())
        data["assignments"].append({"task": "\x1b[2J", "replica": 0, "node": "a\nforged"})
        plan.write_text(json.dumps(data))
        return ["check", str(tmp / "p.yaml"), str(plan)]

    @case("escape-label", "a label value with ESC, shown by a violation, check")
    def _(tmp: Path) -> list[str]:
        text = problem_with(
            '  - {id: t, demand: {cpu: 1}, match: {zone: "\\e[31mred"}}\n',
            '  - {id: a, capacity: {cpu: 4}, labels: {zone: "\\e[31mred"}}\n'
            "  - {id: b, capacity: {cpu: 4}}\n",
        )
        problem = write(tmp / "p.yaml", text)
        sha = __import__("hashlib").sha256(problem.read_bytes()).hexdigest()
        plan = {
            "taskalloc_plan": 1,
            "problem": {"sha256": sha},
            "solver": {
                "name": "hand",
                "status": "feasible",
                "objective": {"unplaced": 0, "cost": 0},
            },
            "assignments": [{"task": "t", "replica": 0, "node": "b"}],
            "unplaced": [],
        }
        return ["check", str(problem), str(write(tmp / "plan.json", json.dumps(plan)))]

    @case("version-true", "`taskalloc: true`, validate")
    def _(tmp: Path) -> list[str]:
        text = SMALL_PROBLEM.replace("taskalloc: 1", "taskalloc: true")
        return ["validate", str(write(tmp / "true.yaml", text))]

    @case("alias-bomb", "a billion-laughs file (9 levels of 9 aliases), validate")
    def _(tmp: Path) -> list[str]:
        lines = ["taskalloc: 1", 'x-a0: &a0 ["lol"]']
        for i in range(1, 10):
            lines.append(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        lines += ["nodes:", "  - {id: a, capacity: {cpu: 4}, x-bomb: *a9}", "tasks: *a9"]
        return ["validate", str(write(tmp / "bomb.yaml", "\n".join(lines) + "\n"))]

    @case("alias-recursive", "`x-a: &a [*a]`, validate")
    def _(tmp: Path) -> list[str]:
        return ["validate", str(write(tmp / "rec.yaml", "x-a: &a [*a]\n" + SMALL_PROBLEM))]

    @case("batch-symlink-loop", "a batch directory with a symlink loop beside a valid problem")
    def _(tmp: Path) -> list[str]:
        d = tmp / "in"
        write(d / "ok.yaml", SMALL_PROBLEM)
        (d / "loop.yaml").symlink_to("loop.yaml")
        return ["-q", "solve", str(d), "-d", str(tmp / "out"), "-s", "greedy"]

    @case("batch-unreadable", "a batch with an unreadable file (a link to /proc/1/mem)")
    def _(tmp: Path) -> list[str]:
        d = tmp / "in"
        write(d / "ok.yaml", SMALL_PROBLEM)
        (d / "mem.yaml").symlink_to("/proc/1/mem")
        return ["solve", str(d), "-d", str(tmp / "out"), "-s", "greedy"]

    @case("nul-byte", "a problem file with a NUL byte, validate")
    def _(tmp: Path) -> list[str]:
        return ["validate", str(write(tmp / "nul.yaml", SMALL_PROBLEM.encode() + b"\0\n"))]

    @case("warnings-10000", "10,000 warnings (`release` in a placement problem), validate")
    def _(tmp: Path) -> list[str]:
        tasks = "".join(
            f"  - {{id: t{i}, demand: {{cpu: 0}}, release: 1}}\n" for i in range(10_000)
        )
        return ["validate", str(write(tmp / "warn.yaml", problem_with(tasks)))]

    @case("cycle-10000", "a 10,000-task dependency cycle, validate")
    def _(tmp: Path) -> list[str]:
        n = 10_000
        tasks = "".join(
            f"  - {{id: task-{i:05d}, duration: 1, after: [task-{(i + 1) % n:05d}]}}\n"
            for i in range(n)
        )
        return ["validate", str(write(tmp / "cycle.yaml", problem_with(tasks)))]

    @case("check-unplaced-and-assigned", "a plan listing a placed task in `unplaced`, check")
    def _(tmp: Path) -> list[str]:
        plan = small_plan(tmp)
        data = json.loads(plan.read_text())
        data["unplaced"].append({"task": "t1", "reason": "hand edit"})
        plan.write_text(json.dumps(data))
        return ["check", str(tmp / "p.yaml"), str(plan)]

    @case("check-bound-above", "a plan whose bound is above its objective (optimal), check")
    def _(tmp: Path) -> list[str]:
        plan = small_plan(tmp)
        data = json.loads(plan.read_text())
        data["solver"]["status"] = "optimal"
        data["solver"]["bound"] = {"unplaced": 5, "cost": 3}
        plan.write_text(json.dumps(data))
        return ["check", str(tmp / "p.yaml"), str(plan)]

    @case("big-yaml", "150,000 tasks x 5,000 nodes (YAML, 15 MB), validate", big=True)
    def _(tmp: Path) -> list[str]:
        return ["validate", str(_big(tmp, "yaml"))]

    @case("big-json", "150,000 tasks x 5,000 nodes (JSON, 28 MB), validate", big=True)
    def _(tmp: Path) -> list[str]:
        return ["validate", str(_big(tmp, "json"))]

    @case("typo-57mb", "a 57 MB JSON file (300,000 tasks) with one typo, validate", big=True)
    def _(tmp: Path) -> list[str]:
        out = tmp / "typo.json"
        data = json.loads(_big(tmp, "json").read_text())
        more = [dict(t, id=t["id"] + "-b") for t in data["tasks"]]
        data["tasks"] += more
        data["tasks"][200_000]["demnad"] = data["tasks"][200_000].pop("demand")
        out.write_text(json.dumps(data, indent=2))
        return ["validate", str(out)]

    return cases


_BIG_CACHE = Path(tempfile.gettempdir()) / "taskalloc-hostile-big"


def _big(tmp: Path, fmt: str) -> Path:
    """taskalloc generate --tasks 150000 --nodes 5000 --resources 4 --seed 1 (kept between runs)."""
    path = _BIG_CACHE / f"big.{fmt}"
    if not path.exists():
        _BIG_CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "taskalloc", "generate", "--tasks", "150000"),
                *("--nodes", "5000", "--resources", "4", "--seed", "1", "-o", str(path)),
            ],
            check=True,
        )
    return path


@dataclass
class Row:
    name: str
    what: str
    exit: str
    seconds: float
    mb: float
    lines: int
    longest: int
    raw_control: bool
    traceback: bool
    first: str


def run_case(c: Case, tmp: Path, timeout: float, mem_gb: float) -> Row:
    args = c.setup(tmp)
    cap = int(mem_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    feeder = None
    stdin: int | object = subprocess.DEVNULL
    if c.stdin == "yes":
        feeder = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
        stdin = feeder.stdout
    err_path = tmp / "stderr.txt"
    with open(err_path, "wb") as err, open(tmp / "stdout.txt", "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskalloc", *args],
            stdin=stdin,  # type: ignore[arg-type]
            stdout=out,
            stderr=err,
            preexec_fn=limit,
            cwd=tmp,
        )
        status = None
        usage = None
        while time.perf_counter() - t0 < timeout:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, usage = st, ru
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        if status is None:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            code = "timeout"
        elif os.WIFSIGNALED(status):
            code = f"signal {os.WTERMSIG(status)}"
        else:
            code = str(os.WEXITSTATUS(status))
        proc.returncode = 0  # reaped above
    if feeder is not None:
        feeder.kill()
        feeder.wait()
    data = err_path.read_bytes() + (tmp / "stdout.txt").read_bytes()[:0]
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    raw = any(ch in text for ch in "\x1b\x07\x08\x0b\x0c\x7f") or any(
        "forged" in ln and not ln.lstrip().startswith(("warning", "  ")) and "\\n" not in ln
        for ln in lines
    )
    if "MemoryError" in text and code == "70":
        code = "70 (MemoryError)"
    first = next((ln for ln in lines if ln.strip()), "")
    return Row(
        c.name,
        c.what,
        code,
        wall,
        usage.ru_maxrss / 1024 if usage else 0.0,
        len(lines),
        max((len(ln) for ln in lines), default=0),
        raw,
        "Traceback" in text,
        first[:110],
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--big", action="store_true", help="also the 150,000 x 5,000 cases")
    ap.add_argument("--only", help="run the cases whose name contains this")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--mem-gb", type=float, default=8.0)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    rows = []
    print("| case | exit | seconds | peak MB | stderr lines | longest line | raw control chars |")
    print("|---|---|---|---|---|---|---|")
    for c in _cases():
        if c.big and not args.big:
            continue
        if args.only and args.only not in c.name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = run_case(c, Path(tmp), args.timeout, args.mem_gb)
        rows.append(r)
        print(
            f"| {r.name} | {r.exit}{' (traceback)' if r.traceback else ''} | {r.seconds:.2f} | "
            f"{r.mb:.0f} | {r.lines} | {r.longest} | {'yes' if r.raw_control else 'no'} |",
            flush=True,
        )
        print(f"<!-- {r.name}: {r.first!r} -->", file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=1))


if __name__ == "__main__":
    main()
