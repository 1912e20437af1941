"""Mutations of valid problem and plan files, and the commands that must never crash on them.

Shared by the bounded fuzzer of the suite (``tests/problems/test_fuzz.py``, hypothesis) and the
long run (``benchmarks/fuzz.py``). A *case* is a problem file and a plan file, one of them
mutated from a valid seed by a few of: **drop** a key or list item, **duplicate** a list item
(ids clash) or a key, **retype** a value (numbers past every bound, strings with control
characters, booleans, null, lists, mappings), **deepen** a value (nested lists and mappings),
**rename** a key (typos, other fields), **reference** an unknown or another id, and **corrupt
bytes** of the written text (flips, NUL, control characters, truncation, insertions). The
mutated file is written as YAML or JSON. Each case runs ``validate``, ``check``, ``solve -s
greedy``, ``report`` (every view the problem has) and ``diff`` (the seed's plan against the
case's, with and without the problem); every run must end with an exit code in {0, 1, 2, 3,
4}, no traceback and no internal error.
"""

from __future__ import annotations

import copy
import json
import random
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskalloc.problems.plan import dumps

ROOT = Path(__file__).resolve().parent.parent
OK_CODES = frozenset({0, 1, 2, 3, 4})

#: values a retype puts in place of another
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    2**31,
    2**63,
    10**30,
    1e308,
    -1e308,
    1e-300,
    "",
    "x",
    "yes",
    "1e3",
    "a100",
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "\u202eevil",
    "a" * 300,
    [],
    {},
    [1, 2],
    ["a100", "a100"],
    {"cpu": 1},
    {"x-": None},
]
#: keys a rename gives (typos, other fields, extensions)
ODD_KEYS = [
    "id",
    "ids",
    "count",
    "replicas",
    "demand",
    "demnad",
    "capacity",
    "duration",
    "after",
    "nodes",
    "tasks",
    "devices",
    "gang",
    "spread",
    "service",
    "current",
    "x-note",
    "",
    "\x1b",
    "start",
    "end",
    "replica",
    "task",
    "node",
    "unplaced",
    "status",
]


@dataclass
class Seed:
    name: str
    problem: dict[str, Any]
    plan: dict[str, Any]


@dataclass
class Case:
    """Files to write and the commands to run on them (``{problem}`` and ``{plan}`` replaced by
    the paths)."""

    what: str
    problem: bytes
    plan: bytes
    problem_suffix: str
    plan_suffix: str
    seed_plan: bytes = b""  # the seed's plan as solved (JSON), which `diff` compares with
    views: str = "summary,nodes,tasks"  # what `report` shows (schedule: scheduling seeds only)

    def commands(self) -> list[list[str]]:
        return [
            ["validate", "{problem}"],
            ["check", "{problem}", "{plan}"],
            ["solve", "{problem}", "-s", "greedy", "-t", "5", "-o", "{out}"],
            ["report", "{problem}", "{plan}", "--view", self.views],
            ["diff", "{seedplan}", "{plan}"],
            ["diff", "{seedplan}", "{plan}", "--problem", "{problem}"],
        ]


def seeds() -> list[Seed]:
    """Valid problems of every feature (the bundled examples, tests/data/valid, a generated
    scheduling problem with every revision-2 option) with a greedy plan each."""
    import yaml
    from typer.testing import CliRunner

    from taskalloc.cli.app import app
    from taskalloc.problems.generate import generate

    problems: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")) + sorted(
        (ROOT / "tests" / "data" / "valid").glob("*")
    ):
        problems.append((path.name, yaml.safe_load(path.read_text())))
    problems.append(
        (
            "generated-rev2",
            generate(
                12,
                5,
                scheduling=True,
                seed=3,
                devices=True,
                zones=True,
                services=True,
                same_start=True,
            ),
        )
    )
    problems.append(("generated-placement", generate(15, 6, seed=4, devices=True, zones=True)))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in problems:
            path = Path(tmp) / f"{Path(name).stem}.json"
            path.write_text(json.dumps(data))
            result = CliRunner().invoke(
                app, ["-q", "solve", str(path), "-s", "greedy", "-f", "json"]
            )
            assert result.exit_code == 0, (name, result.stderr)
            out.append(Seed(name, data, json.loads(result.stdout)))
    return out


# -- structural mutations --------------------------------------------------------------------


def _containers(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) pair of the data, breadth first."""
    out: list[tuple[Any, Any]] = []
    todo = [data]
    while todo:
        c = todo.pop(0)
        items = c.items() if isinstance(c, dict) else enumerate(c) if isinstance(c, list) else ()
        for k, v in items:
            out.append((c, k))
            if isinstance(v, dict | list):
                todo.append(v)
    return out


def _pick(rng: random.Random, data: Any) -> tuple[Any, Any] | None:
    places = _containers(data)
    return rng.choice(places) if places else None


def drop(rng: random.Random, data: Any) -> str:
    place = _pick(rng, data)
    if place is None:
        return "drop nothing"
    c, k = place
    del c[k]
    return f"drop {k!r}"


def duplicate(rng: random.Random, data: Any) -> str:
    lists = [(c, k) for c, k in _containers(data) if isinstance(c, list)]
    if not lists:
        return "duplicate nothing"
    c, k = rng.choice(lists)
    c.insert(k, copy.deepcopy(c[k]))
    return f"duplicate item {k}"


def retype(rng: random.Random, data: Any) -> str:
    place = _pick(rng, data)
    if place is None:
        return "retype nothing"
    c, k = place
    c[k] = copy.deepcopy(rng.choice(ODD_VALUES))
    return f"retype {k!r} to {c[k]!r}"[:80]


def deepen(rng: random.Random, data: Any) -> str:
    place = _pick(rng, data)
    if place is None:
        return "deepen nothing"
    c, k = place
    levels = rng.choice([1, 2, 5, 40, 70, 300, 3000, 30_000])
    if levels > 300:  # written into the text (no serialiser nests that deep): see _deep
        c[k] = f"{_DEEP}{levels}"
        return f"deepen {k!r} to {levels} nested lists"
    v = c[k]
    for _ in range(levels):
        v = [v] if rng.random() < 0.5 else {"k": v}
    c[k] = v
    return f"deepen {k!r} by {levels}"


def enlarge(rng: random.Random, data: Any) -> str:
    """An integer somewhere (a count, replicas, a duration, a replica number) made large."""
    ints = [(c, k) for c, k in _containers(data) if type(c[k]) is int]
    if not ints:
        return "enlarge nothing"
    c, k = rng.choice(ints)
    c[k] = rng.choice([10**4, 10**5, 10**6, 10**8, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63)])
    return f"enlarge {k!r} to {c[k]}"


_DEEP = "deep-marker-"
_DEEP_RE = re.compile(rb'"?' + _DEEP.encode() + rb'([0-9]+)"?')


def _deep(text: bytes) -> bytes:
    return _DEEP_RE.sub(lambda m: b"[" * int(m.group(1)) + b"]" * int(m.group(1)), text)


def rename(rng: random.Random, data: Any) -> str:
    maps = [(c, k) for c, k in _containers(data) if isinstance(c, dict)]
    if not maps:
        return "rename nothing"
    c, k = rng.choice(maps)
    new = rng.choice(ODD_KEYS)
    c[new] = c.pop(k)
    return f"rename {k!r} to {new!r}"


def reference(rng: random.Random, data: Any) -> str:
    """An id-like string somewhere replaced by another id of the file or an unknown one."""
    strings = [(c, k) for c, k in _containers(data) if isinstance(c[k], str)]
    if not strings:
        return "reference nothing"
    c, k = rng.choice(strings)
    others = [c2[k2] for c2, k2 in strings]
    c[k] = rng.choice([*others, "ghost", "a100-1", "t-0"])
    return f"reference {k!r} -> {c[k]!r}"[:80]


MUTATIONS: list[Callable[[random.Random, Any], str]] = [
    drop,
    duplicate,
    retype,
    deepen,
    enlarge,
    rename,
    reference,
]

# -- byte corruption -------------------------------------------------------------------------

NASTY_BYTES = [
    *(b"\x00", b"\x1b[2J", b"\n", b"\r", b"\t", b"\xff", b"\xef\xbb\xbf", b"\xe2\x80\xae"),
    *(b"&a ", b"*a", b"[", b"{", b"- ", b": ", b"'", b'"', b"<<: ", b"\\"),
    b"!!python/object:os.system ",
]


def corrupt(rng: random.Random, text: bytes) -> tuple[bytes, str]:
    if not text:
        return text, "corrupt nothing"
    i = rng.randrange(len(text))
    how = rng.choice(["flip", "insert", "delete", "truncate", "repeat"])
    if how == "flip":
        return text[:i] + bytes([text[i] ^ (1 << rng.randrange(8))]) + text[
            i + 1 :
        ], f"flip byte {i}"
    if how == "insert":
        junk = rng.choice(NASTY_BYTES)
        return text[:i] + junk + text[i:], f"insert {junk!r} at {i}"
    if how == "delete":
        n = rng.randint(1, 20)
        return text[:i] + text[i + n :], f"delete {n} bytes at {i}"
    if how == "truncate":
        return text[:i], f"truncate at {i}"
    n = rng.randint(2, 50)
    j = min(len(text), i + rng.randint(1, 40))
    return text[:i] + text[i:j] * n + text[j:], f"repeat bytes {i}:{j} x{n}"


# -- cases -----------------------------------------------------------------------------------


def make_case(rng: random.Random, seeds: list[Seed]) -> Case:
    """One case: a seed, which file to mutate, a few mutations, a format, maybe bytes."""
    seed = rng.choice(seeds)
    problem = copy.deepcopy(seed.problem)
    plan = copy.deepcopy(seed.plan)
    target = rng.choice(["problem", "plan"])
    data = problem if target == "problem" else plan
    steps = [f"{seed.name}: mutate the {target}"]
    for _ in range(rng.choice([1, 1, 2, 3])):
        steps.append(rng.choice(MUTATIONS)(rng, data))
    fmts = {"problem": rng.choice(["yaml", "json"]), "plan": rng.choice(["yaml", "json"])}
    texts = {k: _deep(_serialise(v, fmts[k])) for k, v in (("problem", problem), ("plan", plan))}
    if rng.random() < 0.3:
        for _ in range(rng.choice([1, 1, 3])):
            texts[target], step = corrupt(rng, texts[target])
            steps.append(step)
    return Case(
        "; ".join(steps),
        texts["problem"],
        texts["plan"],
        "." + fmts["problem"],
        "." + fmts["plan"],
        json.dumps(seed.plan).encode(),
        "summary,nodes,tasks" + (",schedule" if _scheduling(seed.problem) else ""),
    )


def _scheduling(problem: dict[str, Any]) -> bool:
    """A problem with a task that takes time (as the compiler decides it)."""
    tasks = problem.get("tasks")
    return isinstance(tasks, list) and any(
        isinstance(t, dict) and t.get("duration") is not None for t in tasks
    )


def _serialise(data: Any, fmt: str) -> bytes:
    try:
        if fmt == "json":
            return json.dumps(data, indent=1).encode()
        if isinstance(data, dict):
            return dumps(data, "yaml").encode()
        return json.dumps(data).encode()
    except (RecursionError, ValueError):
        return json.dumps(str(data)).encode()


def write_case(case: Case, directory: Path) -> dict[str, str]:
    """Write the files of a case; the paths its commands use."""
    directory.mkdir(parents=True, exist_ok=True)
    problem = directory / f"problem{case.problem_suffix}"
    plan = directory / f"plan{case.plan_suffix}"
    problem.write_bytes(case.problem)
    plan.write_bytes(case.plan)
    seed_plan = directory / "seedplan.json"
    seed_plan.write_bytes(case.seed_plan or case.plan)
    return {
        "problem": str(problem),
        "plan": str(plan),
        "seedplan": str(seed_plan),
        "out": str(directory / "out.yaml"),
    }


def crashed(code: int | None, output: str) -> str | None:
    """Why a run counts as a crash (None when it ended as it should)."""
    if code not in OK_CODES:
        return f"exit code {code}"
    if "Traceback" in output or "internal error" in output:
        return "traceback or internal error"
    return None
