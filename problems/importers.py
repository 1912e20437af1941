"""Importers: classic operations-research instance files -> taskalloc problems (plain dicts).

Each reader takes the text of one instance and the file's display name, validates the text and
returns a problem as plain data (FORMATS.md v1), ready for
:func:`~taskalloc.problems.problem.problem_from_dict` or
:func:`~taskalloc.problems.plan.dumps`. Malformed text raises
:class:`~taskalloc.problems.source.InputError` with one :class:`Diagnostic` located at the
offending token (file, 1-based line and column): a non-numeric or negative token, a wrong count,
a file that ends early or goes on after the instance. The readers use the standard library only.

Keys of every produced problem come in this order: ``taskalloc, name, horizon`` (PSPLIB only),
``objective, x-source, nodes, tasks``. ``name`` is the file's base name without a ``.sm``,
``.jss``, ``.txt`` or ``.dat`` suffix (``gap1-0``, ``j301_1``, ``ft06``: the names used by the
benchmarks' ``known.csv``). ``x-source`` (ignored by the solver) records the format, the file
and whatever is needed to map the objective back to the literature's value.

GAP (``gap``: OR-Library gap1-12 as one instance per file, Chu & Beasley gapa-d)
    Whitespace-separated integers, line breaks anywhere: ``m n``; m rows of n values ``c[i][j]``;
    m rows of n resource uses ``w[i][j]``; m capacities ``b[i]``. OR-Library's own gapN.txt holds
    several instances behind a leading count; split it into one file per instance first.
    Mapping: agent i = node ``a{i}`` (from 1) with ``capacity: {cap: b[i]}``; job j = required
    task ``j{j}`` (from 1) with ``demand: {}``, ``demand_on: {a{i}: {cap: w[i][j]}}`` and
    ``assign_cost: {a{i}: cost}`` for every agent, so the per-agent demand replaces the (empty)
    default on every node; objective ``lexicographic: [cost]`` (every task is required, so no
    ``unplaced`` term is needed).
    Sense: the file does not say whether ``c`` is a cost or a profit. ``sense="min"`` (the
    default) takes ``c`` as the cost, as Chu & Beasley and ``gap_orlib/known_min.csv`` do.
    ``sense="max"`` reads ``c`` as a profit, the way OR-Library publishes gap1-12 (and
    ``gap_orlib/known.csv``): with ``P = max profit + 1`` each cost is ``P - c[i][j]`` (>= 1), and
    since every job is assigned exactly once, ``max profit = n * P - min cost``. ``x-source``
    then holds ``sense: max``, ``P`` and ``offset: n * P``. Benchmarks: gap_chu_beasley -> min;
    gap_orlib -> max against known.csv, min against known_min.csv.

PSPLIB (``psplib``: single-mode RCPSP ``.sm`` files, e.g. j30)
    Header lines ``key : value`` (``jobs (incl. supersource/sink )``, optional ``horizon``,
    ``- renewable``; nonrenewable and doubly constrained resources must be 0); sections
    ``PRECEDENCE RELATIONS:`` (rows ``job modes #successors successors...``),
    ``REQUESTS/DURATIONS:`` (rows ``job mode duration r1 .. rK``) and
    ``RESOURCEAVAILABILITIES:`` (one row of K capacities), each after its header line(s) and
    ended by a line of ``*``.
    Mapping: one node ``site`` with ``capacity: {R1: .., .., RK: ..}``; job k = task ``j{k}``
    (PSPLIB's job number) with ``duration``, ``demand`` (the nonzero requests, possibly ``{}``)
    and ``after`` = its predecessors; ``horizon`` from the header when present (PSPLIB writes
    the sum of all durations there, so it never cuts off a schedule); objective
    ``lexicographic: [makespan]``.
    Dummies: the supersource (job 1) and supersink (job N), of duration 0 and no requests, are
    dropped (their edges go with them; ``x-source.dropped`` lists them). They take no time and
    no resources and the sink ends with the last real job, so the makespan of the problem is
    exactly PSPLIB's. Other zero-duration jobs are kept.

Job shop (``jobshop``: the OR-Library ``jobshop1`` records ft06, ft10, la01-la40, ...)
    ``#`` comment lines; ``n_jobs n_machines``; then one line per job of ``machine duration``
    pairs in processing order (one pair per machine, machines numbered from 0).
    Mapping: machine k = node ``m{k}`` with ``capacity: {slot: 1}``; the k-th operation (from 0)
    of job j (from 0) = task ``j{j}-o{k}`` with ``demand: {slot: 1}``, ``nodes: [m..]``,
    ``duration`` and ``after: [j{j}-o{k-1}]``; objective ``lexicographic: [makespan]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any, NoReturn

from .source import Diagnostic, InputError, read_bytes

__all__ = ["FORMATS", "import_file", "read_gap", "read_jobshop", "read_psplib"]

SENSES = ("min", "max")
_INT = re.compile(r"[+-]?[0-9]+")
_SUFFIXES = (".sm", ".jss", ".txt", ".dat")


def _fail(file: str, line: int | None, col: int | None, where: str, message: str) -> NoReturn:
    raise InputError([Diagnostic(file, line, col, where, message)])


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _problem_name(file: str) -> str:
    base = PurePath(file).name or file
    if base == "<stdin>":
        return "stdin"
    for suffix in _SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _source_file(file: str) -> str:
    return PurePath(file).name or file


def _as_int(
    tok: str, file: str, line: int, col: int, where: str, what: str, minimum: int = 0
) -> int:
    if not _INT.fullmatch(tok):
        _fail(file, line, col, where, f"expected an integer ({what}), got '{tok}'")
    value = int(tok)
    if value < minimum:
        bound = "positive" if minimum == 1 else f">= {minimum}"
        _fail(file, line, col, where, f"{what} must be {bound}, got {value}")
    return value


def _words(line: str) -> list[tuple[str, int]]:
    """Whitespace-separated tokens of one line with their 1-based columns."""
    return [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", line)]


class _Tokens:
    """The whitespace-separated tokens of a whole text, read one integer at a time."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self._it: Iterator[tuple[str, int, int]] = self._scan(text)
        self.end = (1, 1)  # just after the last token read: where "file ends early" points

    @staticmethod
    def _scan(text: str) -> Iterator[tuple[str, int, int]]:
        for lineno, line in enumerate(text.splitlines(), 1):
            for tok, col in _words(line):
                yield tok, lineno, col

    def int(self, where: str, what: str, minimum: int = 0) -> int:
        item = next(self._it, None)
        if item is None:
            line, col = self.end
            _fail(self.file, line, col, where, f"the file ends early: expected {what}")
        tok, line, col = item
        self.end = (line, col + len(tok))
        return _as_int(tok, self.file, line, col, where, what, minimum)

    def finish(self, expected: str) -> None:
        item = next(self._it, None)
        if item is not None:
            tok, line, col = item
            _fail(
                self.file,
                line,
                col,
                "",
                f"unexpected '{tok}' after the end of the instance ({expected})",
            )


# -- GAP -------------------------------------------------------------------------------------


def read_gap(text: str, name: str, *, sense: str = "min") -> dict[str, Any]:
    """A generalized assignment instance (OR-Library / Chu & Beasley format) as a problem.

    ``sense="min"`` reads the first matrix as costs, ``sense="max"`` as profits (converted to
    costs ``P - profit``, see the module docstring).
    """
    if sense not in SENSES:
        raise ValueError(f"sense must be 'min' or 'max', got {sense!r}")
    text = _strip_bom(text)
    toks = _Tokens(text, name)
    if not text.strip():
        _fail(name, 1, 1, "", "the file is empty: expected 'm n' (agents, jobs)")
    m = toks.int("header", "the number of agents m", minimum=1)
    n = toks.int("header", "the number of jobs n", minimum=1)
    word = "cost" if sense == "min" else "profit"
    section = f"{word}s"
    c = [
        [toks.int(section, f"{word} c[{i}][{j}] of job {j} on agent {i}") for j in range(1, n + 1)]
        for i in range(1, m + 1)
    ]
    w = [
        [
            toks.int("resource uses", f"use w[{i}][{j}] of job {j} on agent {i}")
            for j in range(1, n + 1)
        ]
        for i in range(1, m + 1)
    ]
    b = [toks.int("capacities", f"capacity b[{i}] of agent {i}") for i in range(1, m + 1)]
    toks.finish(
        f"{m} agents x {n} jobs: 2 + 2*m*n + m = {2 + 2 * m * n + m} numbers; OR-Library's "
        "gapN.txt holds several instances and must be split into one file per instance"
    )

    source: dict[str, Any] = {
        "format": "gap",
        "file": _source_file(name),
        "agents": m,
        "jobs": n,
        "sense": sense,
    }
    if sense == "max":
        big = max(max(row) for row in c) + 1
        cost = [[big - x for x in row] for row in c]
        source["P"] = big
        source["offset"] = n * big
        source["note"] = "cost = P - profit; max profit = offset - cost"
    else:
        cost = c
    agents = [f"a{i}" for i in range(1, m + 1)]
    return {
        "taskalloc": 1,
        "name": _problem_name(name),
        "objective": {"lexicographic": ["cost"]},
        "x-source": source,
        "nodes": [{"id": a, "capacity": {"cap": b[i]}} for i, a in enumerate(agents)],
        "tasks": [
            {
                "id": f"j{j + 1}",
                "demand": {},
                "demand_on": {a: {"cap": w[i][j]} for i, a in enumerate(agents)},
                "assign_cost": {a: cost[i][j] for i, a in enumerate(agents)},
            }
            for j in range(n)
        ],
    }


# -- PSPLIB ----------------------------------------------------------------------------------

_PRECEDENCE = "PRECEDENCE RELATIONS:"
_REQUESTS = "REQUESTS/DURATIONS:"
_AVAILABLE = "RESOURCEAVAILABILITIES:"
_TITLES = (_PRECEDENCE, _REQUESTS, _AVAILABLE, "PROJECT INFORMATION:", "RESOURCES")

Row = tuple[int, list[tuple[str, int]]]  # (line number, tokens with columns)


class _SmFile:
    """Line-oriented access to a PSPLIB .sm text."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def eof(self) -> tuple[int, int]:
        """Position just after the last non-blank line."""
        for i in range(len(self.lines) - 1, -1, -1):
            if self.lines[i].strip():
                return i + 1, len(self.lines[i].rstrip()) + 1
        return 1, 1

    def title(self, title: str) -> int:
        """0-based index of the line that opens a section."""
        for i, raw in enumerate(self.lines):
            if raw.strip().upper().startswith(title):
                return i
        line, col = self.eof()
        _fail(self.file, line, col, "", f"missing section '{title}' (is this a PSPLIB .sm file?)")

    def rows(self, title: str) -> tuple[list[Row], tuple[int, int]]:
        """Data rows of a section (header and dashed lines skipped) and where the section ends."""
        start = self.title(title)
        rows: list[Row] = []
        for i in range(start + 1, len(self.lines)):
            raw = self.lines[i]
            stripped = raw.strip()
            if stripped.startswith("*") or any(stripped.upper().startswith(t) for t in _TITLES):
                return rows, (i + 1, 1)
            if not stripped:
                continue
            words = _words(raw)
            first = words[0][0]
            is_header = (
                set(stripped) == {"-"}
                or first.lower().startswith("jobnr")
                or first in ("R", "N", "D")
            )
            if not rows and is_header:
                continue
            rows.append((i + 1, words))
        return rows, self.eof()

    def ints(self, row: Row, where: str, names: list[str]) -> list[int]:
        line, words = row
        return [
            _as_int(tok, self.file, line, col, where, names[k] if k < len(names) else "a value")
            for k, (tok, col) in enumerate(words)
        ]


def _header_value(sm: _SmFile, lineno: int, line: str, what: str) -> int:
    key, _, rest = line.partition(":")
    words = _words(rest)
    offset = len(key) + 1
    if not words:
        _fail(sm.file, lineno, offset + 1, "header", f"missing value of '{key.strip()}'")
    tok, col = words[0]
    return _as_int(tok, sm.file, lineno, offset + col, "header", what)


def read_psplib(text: str, name: str) -> dict[str, Any]:
    """A single-mode RCPSP instance (PSPLIB .sm) as a one-node scheduling problem."""
    text = _strip_bom(text)
    sm = _SmFile(text, name)
    if not text.strip():
        _fail(name, 1, 1, "", "the file is empty (expected a PSPLIB .sm file)")
    first_section = sm.title(_PRECEDENCE)
    n_jobs: int | None = None
    horizon: int | None = None
    renewable: int | None = None
    for i in range(first_section):
        raw = sm.lines[i]
        if ":" not in raw:
            continue
        key = " ".join(raw.partition(":")[0].split()).lower()
        lineno = i + 1
        if key.startswith("jobs"):
            n_jobs = _header_value(sm, lineno, raw, "number of jobs")
            if n_jobs < 1:
                _fail(name, lineno, 1, "header", "the project has no jobs")
        elif key == "horizon":
            horizon = _header_value(sm, lineno, raw, "horizon")
        elif key == "projects":
            if _header_value(sm, lineno, raw, "number of projects") != 1:
                _fail(name, lineno, 1, "header", "only files with one project are supported")
        elif key == "- renewable":
            renewable = _header_value(sm, lineno, raw, "number of renewable resources")
        elif key in ("- nonrenewable", "- doubly constrained") and _header_value(
            sm, lineno, raw, f"number of {key[2:]} resources"
        ):
            _fail(name, lineno, 1, "header", f"{key[2:]} resources are not supported")
    lack = "missing header line '{} : ...' before the precedence relations"
    if n_jobs is None:
        _fail(name, first_section + 1, 1, "header", lack.format("jobs"))
    if renewable is None:
        _fail(name, first_section + 1, 1, "header", lack.format("- renewable"))
    n, k = n_jobs, renewable
    resources = [f"R{r}" for r in range(1, k + 1)]

    # precedence relations
    succ: dict[int, list[int]] = {}
    prec_line: dict[int, int] = {}
    rows, end = sm.rows(_PRECEDENCE)
    where = "precedence relations"
    for row in rows:
        line, words = row
        vals = sm.ints(row, where, ["job number", "number of modes", "number of successors"])
        if len(vals) < 3:
            _fail(name, line, 1, where, "expected 'job modes #successors successors...'")
        job, modes, count = vals[:3]
        if not 1 <= job <= n:
            _fail(name, line, words[0][1], where, f"job {job} is not in 1..{n}")
        if job in succ:
            _fail(name, line, words[0][1], where, f"job {job} is listed twice")
        if modes != 1:
            _fail(
                name,
                line,
                words[1][1],
                where,
                f"job {job} has {modes} modes; only single-mode (.sm) instances are supported",
            )
        if len(vals) - 3 != count:
            _fail(
                name,
                line,
                words[2][1],
                where,
                f"job {job} announces {count} successors but lists {len(vals) - 3}",
            )
        for (tok, col), s in zip(words[3:], vals[3:], strict=True):
            if not 1 <= s <= n or s == job:
                what = "itself" if s == job else f"job {s}, which is not in 1..{n}"
                _fail(name, line, col, where, f"job {job} lists {what} as a successor ({tok})")
        succ[job] = list(dict.fromkeys(vals[3:]))
        prec_line[job] = line
    if len(succ) != n:
        missing = min(set(range(1, n + 1)) - set(succ))
        _fail(
            name, end[0], end[1], where, f"{len(succ)} of {n} jobs listed; job {missing} is missing"
        )

    # durations and requests
    duration: dict[int, int] = {}
    request: dict[int, list[int]] = {}
    rows, end = sm.rows(_REQUESTS)
    where = "requests/durations"
    names = ["job number", "mode", "duration", *(f"request for {r}" for r in resources)]
    for row in rows:
        line, words = row
        vals = sm.ints(row, where, names)
        if len(vals) != 3 + k:
            _fail(
                name,
                line,
                1,
                where,
                f"expected {3 + k} numbers (job, mode, duration and {k} resource requests), "
                f"got {len(vals)}",
            )
        job, mode = vals[0], vals[1]
        if not 1 <= job <= n:
            _fail(name, line, words[0][1], where, f"job {job} is not in 1..{n}")
        if job in duration:
            _fail(name, line, words[0][1], where, f"job {job} is listed twice")
        if mode != 1:
            _fail(name, line, words[1][1], where, f"job {job}: mode {mode} (single-mode only)")
        duration[job] = vals[2]
        request[job] = vals[3:]
    if len(duration) != n:
        missing = min(set(range(1, n + 1)) - set(duration))
        _fail(
            name,
            end[0],
            end[1],
            where,
            f"{len(duration)} of {n} jobs listed; job {missing} is missing",
        )

    # resource availabilities
    rows, end = sm.rows(_AVAILABLE)
    where = "resource availabilities"
    if not rows:
        _fail(name, end[0], end[1], where, f"expected a row of {k} capacities")
    if len(rows) > 1:
        _fail(name, rows[1][0], 1, where, f"expected one row of {k} capacities, found more")
    capacity = sm.ints(rows[0], where, [f"capacity of {r}" for r in resources])
    if len(capacity) != k:
        _fail(name, rows[0][0], 1, where, f"expected {k} capacities, got {len(capacity)}")

    # precedence cycles (PSPLIB networks are acyclic; a corrupted file may not be)
    pred: dict[int, list[int]] = {j: [] for j in range(1, n + 1)}
    for j in range(1, n + 1):
        for s in succ[j]:
            pred[s].append(j)
    indeg = {j: len(pred[j]) for j in pred}
    ready = [j for j, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        j = ready.pop()
        seen += 1
        for s in succ[j]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if seen != n:
        job = min(j for j, d in indeg.items() if d > 0)
        _fail(
            name, prec_line[job], 1, "precedence relations", f"job {job} is on a precedence cycle"
        )

    def is_dummy(j: int) -> bool:
        return duration[j] == 0 and not any(request[j])

    dropped: list[int] = []
    if n >= 3:
        if is_dummy(1) and not pred[1]:
            dropped.append(1)
        if is_dummy(n) and not succ[n]:
            dropped.append(n)
    gone = set(dropped)
    tasks: list[dict[str, Any]] = []
    for j in range(1, n + 1):
        if j in gone:
            continue
        t: dict[str, Any] = {
            "id": f"j{j}",
            "duration": duration[j],
            "demand": {r: q for r, q in zip(resources, request[j], strict=True) if q},
        }
        after = [f"j{p}" for p in sorted(pred[j]) if p not in gone]
        if after:
            t["after"] = after
        tasks.append(t)

    out: dict[str, Any] = {"taskalloc": 1, "name": _problem_name(name)}
    if horizon is not None:
        out["horizon"] = horizon
    out["objective"] = {"lexicographic": ["makespan"]}
    out["x-source"] = {
        "format": "psplib",
        "file": _source_file(name),
        "jobs": n,
        "resources": k,
        "dropped": dropped,
        "note": "dropped: the dummy supersource/supersink (duration 0, no requests)",
    }
    out["nodes"] = [{"id": "site", "capacity": dict(zip(resources, capacity, strict=True))}]
    out["tasks"] = tasks
    return out


# -- job shop --------------------------------------------------------------------------------


def read_jobshop(text: str, name: str) -> dict[str, Any]:
    """A job shop instance (OR-Library jobshop1 record: ``n m`` then machine/duration pairs)."""
    text = _strip_bom(text)
    content: list[Row] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            content.append((lineno, _words(raw)))
    if not content:
        _fail(name, 1, 1, "", "no data: expected 'n_jobs n_machines'")
    line, words = content[0]
    if len(words) != 2:
        got = " ".join(w for w, _ in words)
        got = got if len(got) <= 30 else got[:27] + "..."
        _fail(name, line, 1, "header", f"expected 'n_jobs n_machines' (two integers), got '{got}'")
    n = _as_int(words[0][0], name, line, words[0][1], "header", "number of jobs", 1)
    m = _as_int(words[1][0], name, line, words[1][1], "header", "number of machines", 1)
    if len(content) - 1 < n:
        last = text.splitlines()[content[-1][0] - 1]
        _fail(
            name,
            content[-1][0],
            len(last.rstrip()) + 1,
            "",
            f"the file ends early: {len(content) - 1} of {n} job lines",
        )
    if len(content) - 1 > n:
        extra_line, extra = content[n + 1]
        _fail(
            name,
            extra_line,
            extra[0][1],
            "",
            f"unexpected data after the {n} job lines (the header announces {n} jobs; "
            "one instance per file)",
        )
    tasks: list[dict[str, Any]] = []
    for j, (line, words) in enumerate(content[1:]):
        where = f"job {j}"
        if len(words) != 2 * m:
            _fail(
                name,
                line,
                1,
                where,
                f"expected {2 * m} numbers ({m} machine-duration pairs), got {len(words)}",
            )
        for o in range(m):
            (mt, mc), (dt, dc) = words[2 * o], words[2 * o + 1]
            machine = _as_int(mt, name, line, mc, where, f"machine of operation {o}")
            if machine >= m:
                _fail(name, line, mc, where, f"machine {machine} is not in 0..{m - 1}")
            dur = _as_int(dt, name, line, dc, where, f"duration of operation {o}")
            t: dict[str, Any] = {
                "id": f"j{j}-o{o}",
                "demand": {"slot": 1},
                "nodes": [f"m{machine}"],
                "duration": dur,
            }
            if o:
                t["after"] = [f"j{j}-o{o - 1}"]
            tasks.append(t)
    return {
        "taskalloc": 1,
        "name": _problem_name(name),
        "objective": {"lexicographic": ["makespan"]},
        "x-source": {"format": "jobshop", "file": _source_file(name), "jobs": n, "machines": m},
        "nodes": [{"id": f"m{k}", "capacity": {"slot": 1}} for k in range(m)],
        "tasks": tasks,
    }


# -- files -----------------------------------------------------------------------------------

Reader = Callable[[str, str], dict[str, Any]]

FORMATS: dict[str, Reader] = {"gap": read_gap, "psplib": read_psplib, "jobshop": read_jobshop}


def import_file(kind: str, path: str, *, sense: str | None = None) -> dict[str, Any]:
    """Read one instance file (``-`` for stdin) of ``kind`` (a key of :data:`FORMATS`).

    ``sense`` (``min`` or ``max``) applies to ``gap`` only; the default there is ``min``.
    """
    if kind not in FORMATS:
        raise ValueError(f"unknown format {kind!r} (one of: {', '.join(FORMATS)})")
    if sense is not None and kind != "gap":
        raise ValueError(f"sense applies to the gap format only, not {kind!r}")
    name, data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            [Diagnostic(name, None, None, "", f"not UTF-8 text ({exc.reason})")]
        ) from None
    if kind == "gap":
        return read_gap(text, name, sense=sense or "min")
    return FORMATS[kind](text, name)
