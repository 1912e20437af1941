"""Importer for the Alibaba GPU cluster trace (``openb``, cluster-trace-gpu-v2023) and its family.

Two CSV files become one placement problem (FORMATS.md, version 1 revision 2: devices):

Nodes (``sn, cpu_milli, memory_mib, gpu, model``; other columns are ignored)
    Nodes with the same ``cpu_milli, memory_mib, gpu, model`` form one pool (``count``), in order
    of first appearance. A pool's id says what it is: ``G2-8gpu-96cpu`` (``-<GiB>gib`` is added
    when two types differ by memory only; a GPU-free type is ``cpu-...``), and ``x-members`` keeps
    the original ``sn`` of each member in order (member ``k``, from 1, is the ``k``-th name).
    ``capacity: {cpu: cores, memory: MiB, gpu: GPUs}``, ``labels: {gpu_model: model}`` and
    ``devices: {gpu: GPUs}`` (each GPU a device of size 1); a node without GPUs has no ``gpu``,
    ``devices`` or label, and its ``model`` must be empty.

Tasks (``name, cpu_milli, memory_mib, num_gpu, gpu_milli``; ``gpu_spec`` optional)
    ``demand: {cpu: cores, memory: MiB, gpu: G}`` where ``G = gpu_milli / 1000`` for a task that
    shares one GPU (``num_gpu = 1``, ``gpu_milli < 1000``) and ``G = num_gpu`` for whole GPUs
    (``gpu_milli = 1000``); no ``gpu`` when ``num_gpu = 0``. Every task is optional
    (``required: false``); a GPU task's ``priority`` is ``G``, so the ``unplaced`` term counts the
    GPUs left unallocated, and a GPU-free task's is :data:`CPU_TASK_PRIORITY` (1000, above any
    GPU task: a plan leaves one out only when nothing else works, as the online schedulers place
    every GPU-free task that fits). ``gpu_spec`` (``V100M16|V100M32``) becomes ``match:
    {gpu_model: [V100M16, V100M32]}``; a model that no node has is a warning (the task can only
    go on the other models it lists, or nowhere). Objective: ``lexicographic: [unplaced]``.

Arrival order
    ``order="file"``: the tasks in file order. ``order="shuffle"`` builds the arrival sequence of
    the FGD paper's experiments (Weng et al., USENIX ATC 2023; see
    ``../shared/benchmarks/openb/SOURCE.md``): the tasks sorted by name and shuffled with
    ``seed``, then uniformly drawn copies of them (``<name>-copy<k>``, with ``x-copy-of``) until
    the next one would take the arrived GPU demand above :data:`TUNE_PERCENT` (130 %) of the
    cluster's GPUs, or above ``arrive`` when that is higher; a trace that alone exceeds 130 % is
    trimmed instead, by removing randomly drawn tasks until it fits (as the paper's simulator
    does). ``arrive=PCT`` then keeps the longest prefix whose GPU demand is at most PCT % of the
    capacity, so with one seed the ``arrive=100`` problem is a prefix of the ``arrive=130`` one.
    The random draws use only ``random.Random(seed).random()``, whose sequence Python keeps
    stable across versions, so a seed gives the same problem everywhere.

Errors (a missing required column, a row with too few or too many fields, a non-numeric or
negative value, a fraction of a GPU on several GPUs, a duplicate name) raise
:class:`~taskalloc.problems.source.InputError` located at ``file:line:column``. Standard library
only.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, NoReturn

from .source import Diagnostic, InputError, read_bytes
from .wording import plural

__all__ = [
    "CPU_TASK_PRIORITY",
    "NODE_COLUMNS",
    "POD_COLUMNS",
    "TUNE_PERCENT",
    "OpenbImport",
    "import_openb",
    "read_openb",
]

#: priority of a task that needs no GPU: above any GPU task's (at most 8 GPUs)
CPU_TASK_PRIORITY = 1000
#: the arrival sequence of ``order="shuffle"`` reaches this % of the cluster's GPUs
TUNE_PERCENT = 130.0
#: a sequence longer than this is refused (a tiny trace on a huge cluster would need millions
#: of copies to reach 130 %)
MAX_TASKS = 2_000_000
MILLI = 1000

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
ORDERS = ("file", "shuffle")

_ID = re.compile(r"[A-Za-z0-9_.:/-]+")
_NUMBER = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT = re.compile(r"[+]?[0-9]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/-]+")


@dataclass(frozen=True)
class OpenbImport:
    """What :func:`read_openb` returns: the problem as plain data, and the warnings."""

    problem: dict[str, Any]
    warnings: tuple[str, ...]


# -- CSV with positions ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    text: str
    column: int  # 1-based character column where the field starts


def _fail(file: str, line: int | None, col: int | None, where: str, message: str) -> NoReturn:
    raise InputError([Diagnostic(file, line, col, where, message)])


def _split(line: str) -> list[_Field]:
    """One CSV record (RFC 4180 quoting, no line breaks inside fields) with field columns."""
    fields: list[_Field] = []
    i, n = 0, len(line)
    while True:
        start = i
        if i < n and line[i] == '"':
            buf: list[str] = []
            i += 1
            while i < n:
                if line[i] == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(line[i])
                i += 1
            while i < n and line[i] != ",":  # text after a closing quote: keep it, like csv
                buf.append(line[i])
                i += 1
            text = "".join(buf)
        else:
            j = line.find(",", i)
            j = n if j < 0 else j
            text = line[i:j]
            i = j
        fields.append(_Field(text.strip(), start + 1))
        if i >= n:
            return fields
        i += 1  # the comma


def _rows(text: str, file: str, required: Sequence[str]) -> Iterator[tuple[int, dict[str, _Field]]]:
    """(line number, column name -> field) for every non-empty data line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    header_at = next((k for k, raw in enumerate(lines) if raw.strip()), None)
    if header_at is None:
        _fail(file, 1, 1, "header", f"the file is empty: expected a header with {_list(required)}")
    header = _split(lines[header_at])
    names = [f.text for f in header]
    seen: dict[str, int] = {}
    for f in header:
        if f.text in seen:
            _fail(file, header_at + 1, f.column, "header", f"column '{f.text}' appears twice")
        seen[f.text] = f.column
    missing = [c for c in required if c not in seen]
    if missing:
        _fail(
            file,
            header_at + 1,
            1,
            "header",
            f"missing required column{'s' if len(missing) > 1 else ''} {_list(missing)} "
            f"(the header has: {', '.join(names) or 'nothing'})",
        )
    for k in range(header_at + 1, len(lines)):
        raw = lines[k]
        if not raw.strip():
            continue
        fields = _split(raw)
        if len(fields) != len(names):
            col = fields[len(names)].column if len(fields) > len(names) else len(raw) + 1
            _fail(
                file,
                k + 1,
                col,
                "",
                f"expected {len(names)} fields as in the header, got {len(fields)}",
            )
        yield k + 1, dict(zip(names, fields, strict=True))


def _list(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _number(file: str, line: int, f: _Field, what: str) -> float:
    if not _NUMBER.fullmatch(f.text):
        if f.text.startswith("-") and _NUMBER.fullmatch(f.text[1:]):
            _fail(file, line, f.column, what, f"must be >= 0, got {f.text}")
        got = f"'{f.text}'" if f.text else "nothing"
        _fail(file, line, f.column, what, f"expected a number >= 0, got {got}")
    return float(f.text)


def _integer(file: str, line: int, f: _Field, what: str) -> int:
    if not _INT.fullmatch(f.text):
        if f.text.startswith("-") and _INT.fullmatch(f.text[1:]):
            _fail(file, line, f.column, what, f"must be >= 0, got {f.text}")
        got = f"'{f.text}'" if f.text else "nothing"
        _fail(file, line, f.column, what, f"expected an integer >= 0, got {got}")
    return int(f.text)


def _amount(x: float) -> int | float:
    """Integral values print as integers, others without float noise."""
    y = round(float(x), 9)
    return int(y) if y.is_integer() else y


# -- nodes -----------------------------------------------------------------------------------


@dataclass
class _NodeType:
    cpu_milli: float
    memory_mib: float
    gpus: int
    model: str
    members: list[str]
    line: int


def _read_nodes(text: str, file: str) -> list[_NodeType]:
    types: dict[tuple[float, float, int, str], _NodeType] = {}
    seen: dict[str, int] = {}
    for line, row in _rows(text, file, NODE_COLUMNS):
        sn = row["sn"]
        if not sn.text:
            _fail(file, line, sn.column, "sn", "empty node name")
        if sn.text in seen:
            _fail(file, line, sn.column, "sn", f"node '{sn.text}' is also on line {seen[sn.text]}")
        seen[sn.text] = line
        where = f"node {sn.text}"
        cpu = _number(file, line, row["cpu_milli"], f"{where}: cpu_milli")
        mem = _number(file, line, row["memory_mib"], f"{where}: memory_mib")
        gpus = _integer(file, line, row["gpu"], f"{where}: gpu")
        model = row["model"].text
        if gpus == 0 and model:
            _fail(
                file,
                line,
                row["model"].column,
                f"{where}: model",
                f"a node without GPUs has no GPU model, got '{model}'",
            )
        key = (cpu, mem, gpus, model)
        if key not in types:
            types[key] = _NodeType(cpu, mem, gpus, model, [], line)
        types[key].members.append(sn.text)
    if not types:
        _fail(file, None, None, "", "no nodes: the file has a header but no data lines")
    return list(types.values())


def _pool_ids(types: Sequence[_NodeType]) -> list[str]:
    def base(t: _NodeType) -> str:
        model = _UNSAFE.sub("_", t.model) if t.model else "cpu"
        gpu = f"-{t.gpus}gpu" if t.gpus else ""
        return f"{model}{gpu}-{_amount(t.cpu_milli / MILLI)}cpu"

    bases = [base(t) for t in types]
    ids: list[str] = []
    for t, b in zip(types, bases, strict=True):
        if bases.count(b) > 1:
            b = f"{b}-{_amount(t.memory_mib / 1024)}gib"
        ids.append(b)
    out: list[str] = []
    for i, b in enumerate(ids):
        if ids.count(b) > 1:  # same cpu, GiB and model but a different exact memory: number them
            b = f"{b}-{ids[:i].count(b) + 1}"
        out.append(b)
    return out


# -- tasks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pod:
    name: str
    cpu_milli: float
    memory_mib: float
    num_gpu: int
    gpu_milli: int  # per GPU: < 1000 shares one GPU, 1000 whole GPUs, 0 when num_gpu = 0
    models: tuple[str, ...]
    line: int

    @property
    def gpu_demand_milli(self) -> int:
        return self.num_gpu * self.gpu_milli


def _read_pods(text: str, file: str) -> tuple[list[_Pod], list[str]]:
    pods: list[_Pod] = []
    notes: list[str] = []
    seen: dict[str, int] = {}
    ignored_milli = 0
    for line, row in _rows(text, file, POD_COLUMNS):
        name = row["name"]
        if not name.text:
            _fail(file, line, name.column, "name", "empty task name")
        if not _ID.fullmatch(name.text):
            _fail(
                file,
                line,
                name.column,
                "name",
                f"'{name.text}' is not a valid task id (letters, digits and _.:/- only)",
            )
        if name.text in seen:
            _fail(
                file,
                line,
                name.column,
                "name",
                f"task '{name.text}' is also on line {seen[name.text]}",
            )
        seen[name.text] = line
        where = f"task {name.text}"
        cpu = _number(file, line, row["cpu_milli"], f"{where}: cpu_milli")
        mem = _number(file, line, row["memory_mib"], f"{where}: memory_mib")
        num = _integer(file, line, row["num_gpu"], f"{where}: num_gpu")
        milli = _integer(file, line, row["gpu_milli"], f"{where}: gpu_milli")
        f = row["gpu_milli"]
        if num == 0:
            if milli:
                ignored_milli += 1
            milli = 0
        elif milli == 0:
            _fail(file, line, f.column, f"{where}: gpu_milli", "num_gpu > 0 needs gpu_milli > 0")
        elif milli > MILLI:
            _fail(
                file,
                line,
                f.column,
                f"{where}: gpu_milli",
                f"GPU milli per GPU is at most {MILLI}, got {milli}",
            )
        elif milli < MILLI and num > 1:
            _fail(
                file,
                line,
                f.column,
                f"{where}: gpu_milli",
                f"a share of a GPU ({milli} milli) is for one GPU only, but num_gpu is {num}",
            )
        models: tuple[str, ...] = ()
        if "gpu_spec" in row:
            spec = row["gpu_spec"].text
            models = tuple(dict.fromkeys(m.strip() for m in spec.split("|") if m.strip()))
        pods.append(_Pod(name.text, cpu, mem, num, milli, models, line))
    if not pods:
        _fail(file, None, None, "", "no tasks: the file has a header but no data lines")
    if ignored_milli:
        notes.append(
            f"{file}: gpu_milli ignored on {plural(ignored_milli, 'task')} with num_gpu 0 "
            "(they need no GPU)"
        )
    return pods, notes


# -- arrival sequence ------------------------------------------------------------------------


def _below(rng: random.Random, n: int) -> int:
    """A uniform index in 0..n-1 from ``random()`` alone (stable across Python versions)."""
    return min(int(rng.random() * n), n - 1)


@dataclass(frozen=True)
class _Sequence:
    items: list[tuple[_Pod, int]]  # (pod, copy number; 0 = the original)
    copies: int
    trimmed: int


def _arrivals(
    pods: list[_Pod], capacity_milli: int, order: str, seed: int, arrive: float | None
) -> _Sequence:
    if order == "file":
        return _Sequence([(p, 0) for p in pods], 0, 0)
    rng = random.Random(seed)
    seq = sorted(pods, key=lambda p: p.name)
    for i in range(len(seq) - 1, 0, -1):  # Fisher-Yates
        j = _below(rng, i + 1)
        seq[i], seq[j] = seq[j], seq[i]
    total = sum(p.gpu_demand_milli for p in seq)
    tune = TUNE_PERCENT * capacity_milli / 100
    trimmed = 0
    if total > tune:  # a trace that alone exceeds 130 %: remove random tasks until it fits
        while total > tune:
            k = _below(rng, len(seq))
            total -= seq.pop(k).gpu_demand_milli
            trimmed += 1
        return _Sequence([(p, 0) for p in seq], 0, trimmed)
    items = [(p, 0) for p in seq]
    target = max(tune, (arrive or 0.0) * capacity_milli / 100)
    originals = sorted(pods, key=lambda p: p.name)
    if total == 0 or capacity_milli == 0:
        return _Sequence(items, 0, 0)
    copies = 0
    while True:
        p = originals[_below(rng, len(originals))]
        if total + p.gpu_demand_milli > target:
            break
        copies += 1
        total += p.gpu_demand_milli
        items.append((p, copies))
        if len(items) > MAX_TASKS:
            raise InputError(
                [
                    Diagnostic(
                        "",
                        None,
                        None,
                        "",
                        f"the arrival sequence would exceed {MAX_TASKS:,} tasks: the trace's GPU "
                        "demand is tiny against the cluster's GPUs",
                    )
                ]
            )
    return _Sequence(items, copies, 0)


def _cut(items: list[tuple[_Pod, int]], capacity_milli: int, arrive: float) -> int:
    """Length of the longest prefix whose GPU demand is at most ``arrive`` % of the capacity."""
    limit = arrive * capacity_milli / 100 * (1 + 1e-12)
    total = 0
    for k, (p, _) in enumerate(items):
        total += p.gpu_demand_milli
        if total > limit:
            return k
    return len(items)


# -- the problem -----------------------------------------------------------------------------


def read_openb(
    nodes_text: str,
    nodes_file: str,
    pods_text: str,
    pods_file: str,
    *,
    order: str = "file",
    seed: int = 0,
    arrive: float | None = None,
) -> OpenbImport:
    """The node and task CSV texts (with their display names) as a problem; see the module."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if arrive is not None and not (arrive >= 0 and math.isfinite(arrive)):
        raise ValueError(f"arrive must be a percentage >= 0, got {arrive!r}")
    types = _read_nodes(nodes_text, nodes_file)
    pods, warnings = _read_pods(pods_text, pods_file)
    capacity = sum(t.gpus * len(t.members) for t in types) * MILLI
    if capacity == 0 and (order == "shuffle" or arrive is not None):
        _fail(
            nodes_file,
            None,
            None,
            "",
            "no node has a GPU: the arrival sequence (shuffle, --arrive) is measured in GPUs",
        )

    known = {t.model for t in types if t.model}
    unknown: dict[str, list[_Pod]] = {}
    for p in pods:
        for m in p.models:
            if m not in known:
                unknown.setdefault(m, []).append(p)
    for m, ps in unknown.items():
        never = [p for p in ps if not any(x in known for x in p.models)]
        first = ps[0]
        what = (
            f"{len(never)} of them can never be placed"
            if never
            else "they can still go on the other models they list"
        )
        warnings.append(
            f"{pods_file}:{first.line}: gpu_spec names GPU model '{m}', which no node of "
            f"{nodes_file} has ({plural(len(ps), 'task')}, first {first.name}; {what}; "
            f"the node file has {', '.join(sorted(known)) or 'no GPU model'})"
        )

    seq = _arrivals(pods, capacity, order, seed, arrive)
    items = seq.items
    if arrive is not None:
        items = items[: _cut(items, capacity, arrive)]

    ids = _pool_ids(types)
    nodes: list[dict[str, Any]] = []
    for t, pid in zip(types, ids, strict=True):
        node: dict[str, Any] = {"id": pid}
        if len(t.members) > 1:
            node["count"] = len(t.members)
        cap: dict[str, Any] = {
            "cpu": _amount(t.cpu_milli / MILLI),
            "memory": _amount(t.memory_mib),
        }
        if t.gpus:
            cap["gpu"] = t.gpus
        node["capacity"] = cap
        if t.model:
            node["labels"] = {"gpu_model": t.model}
        if t.gpus:
            node["devices"] = {"gpu": t.gpus}
        node["x-members"] = list(t.members)
        nodes.append(node)

    names = {p.name for p in pods}
    tasks: list[dict[str, Any]] = []
    arrived = 0
    for p, k in items:
        tid = p.name
        if k:
            tid = f"{p.name}-copy{k}"
            while tid in names:  # an original already has that name
                tid += "x"
        task: dict[str, Any] = {"id": tid}
        demand: dict[str, Any] = {
            "cpu": _amount(p.cpu_milli / MILLI),
            "memory": _amount(p.memory_mib),
        }
        if p.num_gpu:
            gpu = p.num_gpu if p.gpu_milli == MILLI else _amount(p.gpu_milli / MILLI)
            demand["gpu"] = gpu
            task["demand"] = demand
            task["priority"] = gpu
        else:
            task["demand"] = demand
            task["priority"] = CPU_TASK_PRIORITY
        task["required"] = False
        if p.models:
            task["match"] = {"gpu_model": list(p.models)}
        if k:
            task["x-copy-of"] = p.name
        arrived += p.gpu_demand_milli
        tasks.append(task)
    if not tasks:
        _fail(
            pods_file,
            None,
            None,
            "",
            f"no task arrives before {arrive:g} % of the GPUs (the first one needs more)",
        )

    source: dict[str, Any] = {
        "format": "openb",
        "nodes_file": PurePath(nodes_file).name or nodes_file,
        "pods_file": PurePath(pods_file).name or pods_file,
        "order": order,
    }
    if order == "shuffle":
        source["seed"] = seed
    if arrive is not None:
        source["arrive_percent"] = _amount(arrive)
    source.update(
        {
            "gpus": capacity // MILLI,
            "tasks_in_file": len(pods),
            "copies": sum(1 for _, k in items if k),
            "trimmed": seq.trimmed,
            "arrived_gpu_percent": round(100 * arrived / capacity, 4) if capacity else 0,
        }
    )
    stem = PurePath(pods_file).stem or "openb"
    name = stem if order == "file" else f"{stem}-seed{seed}"
    if arrive is not None:
        name += f"-arrive{_amount(arrive)}"
    problem = {
        "taskalloc": 1,
        "name": name,
        "objective": {"lexicographic": ["unplaced"]},
        "x-source": source,
        "nodes": nodes,
        "tasks": tasks,
    }
    return OpenbImport(problem, tuple(warnings))


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            [Diagnostic(name, None, None, "", f"not UTF-8 text ({exc.reason})")]
        ) from None


def import_openb(
    nodes_path: str,
    pods_path: str,
    *,
    order: str = "file",
    seed: int = 0,
    arrive: float | None = None,
) -> OpenbImport:
    """Read the two CSV files (``-`` for stdin, for one of them) and build the problem."""
    if nodes_path == "-" and pods_path == "-":
        raise InputError([Diagnostic("<stdin>", None, None, "", "only one file can be stdin")])
    nname, ndata = read_bytes(nodes_path)
    pname, pdata = read_bytes(pods_path)
    return read_openb(
        _text(nname, ndata),
        nname,
        _text(pname, pdata),
        pname,
        order=order,
        seed=seed,
        arrive=arrive,
    )
