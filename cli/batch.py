"""``taskalloc solve`` on many problems: options, progress, summary lines and the closing table.

The work itself (finding files, executors, writing plans) is :mod:`taskalloc.solvers.batch`;
this module only checks the options, shows progress on stderr (a live bar on a terminal, one
line per problem otherwise), writes the JSON-lines summary (``--summary FILE`` or stdout) as
each problem finishes, and turns the results into the batch's exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .app import err_console, fail, say, warn
from .exits import BATCH_SEVERITY, EXIT_FOR_OUTCOME, ExitCode

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


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


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
            line += " " + ", ".join(f"{k}={_fmt(v)}" for k, v in r["objective"].items())
        if r["skipped_existing"]:
            line += " (plan exists, skipped)"
        elif r["error"] and r["outcome"] not in ("infeasible", "no_plan"):
            line += f": {r['error'].splitlines()[0]}"
        line += f" ({r['wall_seconds']:.2f} s)"
        if self.progress is not None:
            from taskalloc.problems.wording import printable

            self.progress.console.print(printable(line), markup=False, highlight=False)
        else:
            say(line)


def _table(rows: Sequence[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from taskalloc.problems.wording import printable

    table = Table(title="Batch", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("objective", overflow="fold")
    table.add_column("gap", justify="right")
    table.add_column("seconds", justify="right")
    for r in rows:
        objective = ", ".join(f"{k}={_fmt(v)}" for k, v in (r["objective"] or {}).items())
        gap = "" if r["gap"] is None else f"{r['gap'] * 100:.2f} %"
        status = r["status"] + (" (kept)" if r["skipped_existing"] else "")
        style = "red" if r["exit_code"] not in (0,) else None
        table.add_row(
            Text(printable(_short(r["file"]))),
            status,
            objective,
            gap,
            f"{r['wall_seconds']:.2f}",
            style=style,
        )
    err_console().print(table)


def _short(path: str) -> str:
    """A file as the table shows it: relative to the working directory when inside it (the
    summary lines keep the path as given)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


@contextlib.contextmanager
def _stopping(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM stops the batch (running problems are abandoned, finished
    plans stay); a second one interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say("stopping the batch: finished plans are kept (Ctrl-C again to abort)")

    saved: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not in the main thread
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _executor(name: str, jobs: int, ray_address: str | None, quiet: bool) -> Executor:
    from taskalloc.solvers.batch import BatchError, LocalExecutor, RayExecutor, import_ray

    if name == "ray":
        try:
            import_ray()
        except BatchError as exc:
            fail(ExitCode.BAD_INPUT, str(exc))
        return RayExecutor(ray_address, quiet=quiet)
    if ray_address is not None:
        fail(ExitCode.BAD_INPUT, "--ray-address needs --executor ray")
    return LocalExecutor(jobs)


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

    plan_fmt = "json" if fmt == "json" else "yaml"
    to_stdout = fmt == "jsonl" or summary == "-"
    if summary is not None and summary != "-" and fmt == "jsonl":
        fail(ExitCode.BAD_INPUT, "--format jsonl writes the summary to stdout; drop --summary")
    if inputs.count("-") > 1:
        fail(ExitCode.BAD_INPUT, "standard input (-) can be given once")
    try:
        found = find_problems(inputs, exclude=out_dir)
        items = plan_items(found, out_dir, plan_fmt)
    except BatchError as exc:
        fail(ExitCode.BAD_INPUT, str(exc))
    if not items:
        fail(ExitCode.BAD_INPUT, f"no problem files (*.yaml, *.yml, *.json) in {' '.join(inputs)}")
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
    if to_stdout:
        sink = sys.stdout
    elif summary is not None:
        Path(summary).parent.mkdir(parents=True, exist_ok=True)
        sink = open(summary, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    rows: list[dict[str, Any]] = []
    stop = threading.Event()
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
        per = f"{opts.workers} CP-SAT worker{'s' if opts.workers > 1 else ''} each"
        jobs_text = f"{jobs} at a time, " if executor == "local" else ""
        say(f"batch: {len(items)} problems on {where} ({jobs_text}{per}); plans in {out_dir}")
    try:
        with _stopping(stop), display:
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
                )
            except BatchError as exc:
                fail(ExitCode.BAD_INPUT, str(exc))
            from taskalloc.solvers.run import Outcome, RunResult

            for item in interrupted:
                r = row(item, RunResult(Outcome.INTERRUPTED, message="interrupted"), 0.0, None)
                emit(r)
                display.finished(r, was_running=True)
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
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
        parts = [f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        if left:
            parts.append(f"{left} not started")
        written = sum(1 for r in rows if r["plan"])
        say(
            f"batch: {len(items)} problems: {', '.join(parts)}; {written} plans in {out_dir}; "
            f"exit {code}"
        )
    return code
