"""``taskalloc solve`` on many problems: options, progress, summary lines and the closing table.

The work itself (finding files, executors, writing plans) is :mod:`taskalloc.solvers.batch`;
this module only checks the options, shows progress on stderr (a live bar on a terminal, one
line per problem otherwise), writes the JSON-lines summary (``--summary FILE`` or stdout) as
each problem finishes, and turns the results into the batch's exit code.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from taskalloc.problems.wording import printable

from .console import (
    Settings,
    err_console,
    err_width,
    fail,
    fmt,
    plural,
    say,
    say_long,
    warn,
    wrap_prose,
)
from .errors import in_flags
from .exits import BATCH_SEVERITY, EXIT_FOR_OUTCOME, ExitCode
from .running import graceful_stop

#: what a batch says on the first Ctrl-C
STOPPING = "stopping the batch: finished plans are kept (Ctrl-C again to abort)"

if TYPE_CHECKING:
    from taskalloc.solvers.batch import Done, Executor, Item
    from taskalloc.solvers.run import RunResult, SolveOptions

#: what the status column says for a problem without a plan status
_NO_PLAN_STATUS = {
    "bad_input": "error",
    "internal": "error",
    "timeout": "timeout",
    "skipped": "skipped",
    "interrupted": "interrupted",
}

#: statuses that are nouns ("2 errors", "2 timeouts"); the others are adjectives ("2 optimal")
_NOUN_STATUSES = frozenset({"error", "timeout"})


def row(
    item: Item,
    result: RunResult,
    wall: float,
    plan: Path | None,
    *,
    existing: bool = False,
) -> dict[str, Any]:
    """One summary line: everything a script needs about one problem of the batch."""
    code = int(EXIT_FOR_OUTCOME[str(result.outcome)])
    errors = result.error_lines or ([result.message] if code and result.message else [])
    return {
        "file": item.file,
        "plan": str(plan) if plan is not None else None,
        "status": result.status or _NO_PLAN_STATUS.get(str(result.outcome), str(result.outcome)),
        "outcome": str(result.outcome),
        "exit_code": code,
        "solver": result.solver,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "fitness": result.fitness,
        "seconds": result.seconds,
        "wall_seconds": round(wall, 4),
        "skipped_existing": existing,
        "message": result.message,
        "error": "\n".join(errors) if code and errors else None,
    }


def _clean(x: Any) -> Any:
    """Numbers as plan files write them, so that a summary line and its plan agree."""
    from taskalloc.problems.plan import tidy

    return tidy(x)


class _Display:
    """Progress on stderr: a live bar (done, running, failed, ETA) on a terminal, else one line
    per finished problem; nothing with --quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.done = 0
        self.running = 0
        self.failed = 0
        self.progress: Any = None
        self.task: Any = None
        console = err_console()
        if not quiet and console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("solving"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("running {task.fields[running]}, failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.task = self.progress.add_task("batch", total=total, running=0, failed=0)

    def __enter__(self) -> _Display:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _update(self) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task, completed=self.done, running=self.running, failed=self.failed
            )

    def started(self) -> None:
        self.running += 1
        self._update()

    def finished(self, r: dict[str, Any], was_running: bool) -> None:
        self.done += 1
        self.running -= 1 if was_running else 0
        self.failed += 1 if r["exit_code"] else 0
        self._update()
        if self.quiet:
            return
        line = f"[{self.done}/{self.total}] {r['file']}: {r['status']}"
        if r["objective"]:
            line += " " + ", ".join(f"{k}={fmt(v)}" for k, v in r["objective"].items())
        error = r["error"].splitlines()[0] if r["error"] else ""
        if r["skipped_existing"]:
            line += " (plan exists, skipped)"
        elif error and error != r["status"] and r["outcome"] not in ("infeasible", "no_plan"):
            line += f": {error}"
        if not r["skipped_existing"] and r["outcome"] != "interrupted":  # no time of its own
            line += f" ({r['wall_seconds']:.2f} s)"
        if self.progress is not None:
            for piece in wrap_prose(printable(line), err_width()):  # as say_long breaks it
                self.progress.console.print(piece)
        else:
            say_long(line)


def _table(rows: Sequence[dict[str, Any]]) -> None:
    """The closing table on stderr, laid out to the terminal's width: file names wrap only
    after a ``/`` (only a single name wider than the column is ever cut), the objective wraps
    between its terms, status, gap and seconds never wrap."""
    import textwrap

    console = err_console()
    cells = []
    for r in rows:
        objective = ", ".join(f"{k}={fmt(v)}" for k, v in (r["objective"] or {}).items())
        gap = "" if r["gap"] is None else f"{r['gap'] * 100:.2f} %"
        status = r["status"] + (" (kept)" if r["skipped_existing"] else "")
        cells.append(
            (printable(_short(r["file"])), status, objective, gap, f"{r['wall_seconds']:.2f}")
        )
    widths = [max([len(head), *(len(c[i]) for c in cells)]) for i, head in enumerate(_HEADS)]
    term_w = max([len(_HEADS[2]), *(len(t) for c in cells for t in c[2].split(" "))])
    fixed = widths[1] + widths[3] + widths[4] + 2 * (len(_HEADS) - 1)  # two spaces apart
    file_w = max(16, min(widths[0], console.width - fixed - term_w))
    files = [wrap_path(c[0], file_w).split("\n") for c in cells]
    file_w = max([len(_HEADS[0]), *(len(line) for f in files for line in f)])
    objective_w = max(term_w, min(widths[2], console.width - fixed - file_w))
    pad = [file_w, widths[1], objective_w, widths[3], widths[4]]
    right = (False, False, False, True, True)

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, pad, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    console.print("Batch")
    console.print(line(_HEADS), style="bold")
    for r, file_lines, (_, status, objective, gap, seconds) in zip(rows, files, cells, strict=True):
        style = "red" if r["exit_code"] else None
        terms = textwrap.wrap(objective, objective_w, break_on_hyphens=False) or [""]
        for i in range(max(len(file_lines), len(terms))):
            first = i == 0
            console.print(
                line(
                    [
                        file_lines[i] if i < len(file_lines) else "",
                        status if first else "",
                        terms[i] if i < len(terms) else "",
                        gap if first else "",
                        seconds if first else "",
                    ]
                ),
                style=style,
                soft_wrap=True,
            )


_HEADS = ("file", "status", "objective", "gap", "seconds")


def wrap_path(path: str, width: int) -> str:
    """``path`` on lines of at most ``width`` characters, broken only after a ``/``; a name
    wider than ``width`` is cut into pieces of that width (nothing else fits)."""
    lines: list[str] = []
    line = ""
    for part in re.split(r"(?<=/)", path):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
        while len(line) > width:
            lines.append(line[:width])
            line = line[width:]
    return "\n".join([*lines, line])


def _short(path: str) -> str:
    """A file as the table shows it: relative to the working directory when inside it (the
    summary lines keep the path as given)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _executor(name: str, jobs: int, ray_address: str | None, quiet: bool) -> Executor:
    from taskalloc.solvers.batch import BatchError, LocalExecutor, RayExecutor, import_ray

    if name == "ray":
        try:
            import_ray()
        except BatchError as exc:
            fail(ExitCode.BAD_INPUT, in_flags(str(exc)))
        return RayExecutor(ray_address, quiet=quiet)
    if ray_address is not None:
        fail(ExitCode.BAD_INPUT, "--ray-address needs --executor ray")
    return LocalExecutor(jobs)


def _refuse_outputs(items: Sequence[Item], summary: str | None, skip_existing: bool) -> None:
    """Before any run: no plan file or summary may be one of the problems, and with
    --no-clobber none may exist (unless --skip-existing keeps it)."""
    from taskalloc.problems.files import OutputError, clobbers, refuse_inputs

    problems = [item.file for item in items]
    existing = []
    for item in items:
        refuse_inputs(item.plan_path, problems)
        if Settings.no_clobber and not skip_existing and clobbers(item.plan_path):
            existing.append(str(item.plan_path))
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(
            f"{existing[0]}{more}: exist; not overwriting them (--no-clobber; --skip-existing "
            "solves only the problems without a plan)"
        )
    if summary is not None and summary != "-":
        refuse_inputs(summary, problems, no_clobber=Settings.no_clobber)


def _missing_dirs(*paths: Path | None) -> list[Path]:
    """The directories of ``paths`` (and their parents) that do not exist yet, outermost
    first: those a batch creates, named on stderr as every command names them."""
    out: list[Path] = []
    for path in paths:
        if path is None:
            continue
        missing = []
        while not path.exists() and path != path.parent:
            missing.append(path)
            path = path.parent
        out.extend(d for d in reversed(missing) if d not in out)
    return out


def _open_summary(summary: str) -> IO[str]:
    """The --summary file, opened for lines as problems finish (it is the one output written
    as it grows, so that it can be followed; --no-clobber refuses an existing one)."""
    from taskalloc.problems.files import WriteError, reason

    try:
        Path(summary).parent.mkdir(parents=True, exist_ok=True)
        fresh = Settings.no_clobber and not os.path.exists(summary)  # a FIFO is written into
        return open(summary, "x" if fresh else "w", encoding="utf-8")
    except FileExistsError:
        from taskalloc.problems.files import OutputError

        raise OutputError(f"{summary}: exists; not overwriting it (--no-clobber)") from None
    except OSError as exc:
        raise WriteError(summary, reason(exc)) from None


def run(
    inputs: Sequence[str],
    out_dir: Path,
    opts: SolveOptions,
    *,
    workers_given: bool,
    fmt: str | None,
    embed: bool,
    jobs: int,
    total_time_limit: float | None,
    skip_existing: bool,
    summary: str | None,
    executor: str,
    ray_address: str | None,
    quiet: bool,
) -> int:
    """Run a batch; return its exit code (the worst of its problems)."""
    from dataclasses import replace

    from taskalloc.solvers.batch import (
        BatchError,
        find_problems,
        plan_items,
        run_batch,
        worst,
    )
    from taskalloc.solvers.clock import Stop, finishing

    plan_fmt = "json" if fmt == "json" else "yaml"
    to_stdout = fmt == "jsonl" or summary == "-"
    if summary is not None and summary != "-" and fmt == "jsonl":
        fail(ExitCode.BAD_INPUT, "--format jsonl writes the summary to stdout; drop --summary")
    if inputs.count("-") > 1:
        fail(ExitCode.BAD_INPUT, "standard input (-) can be given once")
    if out_dir.exists() and not out_dir.is_dir():
        fail(ExitCode.BAD_INPUT, f"--out-dir {out_dir} exists and is not a directory")
    try:
        found = find_problems(inputs, exclude=out_dir)
        items = plan_items(found, out_dir, plan_fmt)
    except BatchError as exc:
        fail(ExitCode.BAD_INPUT, in_flags(str(exc)))
    if not items:
        fail(ExitCode.BAD_INPUT, f"no problem files (*.yaml, *.yml, *.json) in {' '.join(inputs)}")
    _refuse_outputs(items, summary, skip_existing)
    ex = _executor(executor, jobs, ray_address, quiet)
    if executor == "ray" and jobs != 1:
        warn(
            "--jobs is for the local executor; Ray runs as many problems at once as the "
            "cluster has CPUs"
        )
    if not workers_given:
        cores = os.cpu_count() or 1
        per_job = 1 if executor == "ray" else max(1, cores // min(jobs, len(items)))
        opts = replace(opts, workers=per_job)

    sink: IO[str] | None = None
    to_create = _missing_dirs(
        out_dir, Path(summary).parent if summary is not None and summary != "-" else None
    )
    if to_stdout:
        sink = sys.stdout
    elif summary is not None:
        sink = _open_summary(summary)
    rows: list[dict[str, Any]] = []
    stop = Stop()
    display = _Display(len(items), quiet)

    def emit(r: dict[str, Any]) -> None:
        rows.append(r)
        if sink is not None:
            sink.write(json.dumps(_clean(r)) + "\n")
            sink.flush()

    def on_done(d: Done) -> None:
        r = row(
            d.item,
            d.result,
            d.wall,
            d.plan_written or (d.item.plan_path if d.existing else None),
            existing=d.existing,
        )
        emit(r)
        display.finished(r, was_running=not d.existing)

    if not quiet:
        where = "a local Ray" if executor == "ray" and ray_address is None else executor
        if executor == "ray" and ray_address is not None:
            where = f"Ray at {ray_address}"
        per = f"{opts.workers} worker{'s' if opts.workers > 1 else ''} each"
        jobs_text = f"{jobs} at a time, " if executor == "local" else ""
        say(
            f"batch: {plural(len(items), 'problem')} on {where} ({jobs_text}{per}); "
            f"plans in {out_dir}"
        )
    try:
        with graceful_stop(stop, STOPPING), display:
            try:
                _, interrupted = run_batch(
                    items,
                    ex,
                    opts,
                    fmt=plan_fmt,
                    embed=embed,
                    total_time_limit=total_time_limit,
                    skip_existing=skip_existing,
                    stop=stop,
                    on_start=lambda item: display.started(),
                    on_done=on_done,
                    no_clobber=Settings.no_clobber,
                )
            except BatchError as exc:
                fail(ExitCode.BAD_INPUT, in_flags(str(exc)))
            from taskalloc.solvers.run import Outcome, RunResult

            finishing(stop)  # the runs are over: what is left writes the summary
            for item in interrupted:
                r = row(item, RunResult(Outcome.INTERRUPTED, message="interrupted"), 0.0, None)
                emit(r)
                display.finished(r, was_running=True)
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
        for directory in to_create:
            if directory.is_dir():
                say(f"created directory {directory}")
    if not quiet:
        order = {item.file: item.index for item in items}
        _table(sorted(rows, key=lambda r: order.get(r["file"], 0)))
    code = worst((r["exit_code"] for r in rows), [int(c) for c in BATCH_SEVERITY])
    if stop.is_set():
        code = int(ExitCode.INTERRUPTED)
    if not quiet:
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        left = len(items) - len(rows)
        parts = [  # "2 optimal, 2 errors": the nouns among the statuses take a plural
            plural(n, s) if s in _NOUN_STATUSES else f"{n} {s}"
            for s, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        if left:
            parts.append(f"{left} not started")
        written = sum(1 for r in rows if r["plan"])
        say(
            f"batch: {plural(len(items), 'problem')}: {', '.join(parts)}; "
            f"{plural(written, 'plan')} in {out_dir}; "
            f"exit {code}"
        )
    return code
