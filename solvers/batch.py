"""Batches: many problem files, one plan file each, solved by worker processes or Ray tasks.

:func:`find_problems` expands the inputs (directories are searched recursively for ``*.yaml``,
``*.yml`` and ``*.json``) and :func:`plan_items` names each plan file under the output
directory. :func:`run_batch` skips existing plans (``skip_existing``), hands each problem to an
executor and writes every plan atomically, once, as soon as its problem is done.

The worker receives the problem's bytes and returns the plan's text (:class:`Spec` ->
:class:`~taskalloc.solvers.run.RunResult`), so workers need no shared file system with the
driver, and only the driver writes files: a problem retried after a lost worker still gets one
plan, written once.

Executors:

- :class:`LocalExecutor`: ``jobs`` long-lived worker processes (forkserver, or spawn where fork
  is unavailable), each solving one problem at a time. A worker that dies is replaced and its
  problem retried once; a job still running ``grace`` after its time limit is killed (outcome
  TIMEOUT).
- :class:`RayExecutor`: one Ray task per problem on an existing cluster (``address``) or on a
  local Ray started for the run. Ray retries a task whose worker was lost (``max_retries``);
  a task past its time limit plus grace is cancelled (outcome TIMEOUT).

Time limits: each problem gets ``opts.time_limit`` (else its engine's default); with a total
time limit, a problem starting late gets only what is left, and a problem that would start
after the total time is up is not run (outcome SKIPPED).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from taskalloc.problems.files import write_atomic
from taskalloc.problems.limits import Limits

from .run import EXPLAIN_LIMIT, Outcome, RunResult, SolveOptions, default_time_limit

SUFFIXES = (".yaml", ".yml", ".json")


class BatchError(Exception):
    """A batch that cannot start (missing input, clashing plan names, Ray absent)."""


# -- files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One problem of a batch and where its plan goes."""

    index: int
    file: str  # as given or found; "-" for standard input
    plan_path: Path


def find_problems(inputs: Sequence[str], exclude: Path | None = None) -> list[tuple[str, str]]:
    """(file, plan name without suffix) for every problem file among ``inputs``, in order.

    A directory contributes every ``*.yaml``, ``*.yml`` and ``*.json`` file under it (sorted,
    hidden files and ``exclude`` skipped); its plans keep the relative sub-directories. A file
    given by name is taken whatever its suffix. A file given twice (by the same or another
    name, or also found in a directory given) is solved once, under its first name. Raises
    BatchError for a missing input.
    """
    found: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()  # (device, inode) of the files taken
    skip = exclude.resolve() if exclude is not None else None

    def take(file: str, name: str) -> None:
        try:
            st = os.stat(file)
        except OSError:
            found.append((file, name))  # unreadable: its run says why
            return
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            found.append((file, name))

    for given in inputs:
        if given == "-":
            found.append(("-", "stdin"))
            continue
        p = Path(given)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.suffix.lower() not in SUFFIXES:
                    continue
                try:
                    real = f.resolve(strict=True)
                except (OSError, RuntimeError):  # a link to nothing or a loop: its run says so
                    if f.is_symlink():
                        take(str(f), str(rel.with_suffix("")))
                    continue
                if skip is not None and (real == skip or skip in real.parents):
                    continue
                if f.is_file():
                    take(str(f), str(rel.with_suffix("")))
        elif p.exists():
            take(given, p.stem)
        else:
            raise BatchError(f"{given}: no such file or directory")
    return found


def plan_items(found: Sequence[tuple[str, str]], out_dir: Path, fmt: str) -> list[Item]:
    """Name the plan of each problem ``OUT_DIR/<name>.plan.<fmt>``; raises BatchError when two
    problems would share a plan file."""
    items: list[Item] = []
    owner: dict[Path, str] = {}
    clashes: list[str] = []
    suffix = ".json" if fmt == "json" else ".yaml"
    for file, name in found:
        path = out_dir / f"{name}.plan{suffix}"
        if path in owner:
            clashes.append(f"{owner[path]} and {file} would both write {path}")
            continue
        owner[path] = file
        items.append(Item(len(items), file, path))
    if clashes:
        raise BatchError("; ".join(clashes[:5]) + " (rename one, or solve them in two batches)")
    return items


# -- what a worker runs ----------------------------------------------------------------------


@dataclass
class Spec:
    """Everything a worker needs to solve one problem (picklable, no file system access)."""

    index: int
    name: str  # display name for messages ("<stdin>" for standard input)
    data: bytes
    path: str | None  # recorded as problem.path in the plan
    opts: SolveOptions
    fmt: str = "yaml"
    embed: bool = False
    deadline: float | None = None  # time.time() at which the batch's total time is up
    error: tuple[str, ...] = ()  # why the file could not be read (nothing to solve then)
    #: the size limits, resolved where the spec is made (TASKALLOC_LIMITS, --limits): a
    #: worker's own environment may be older (a forkserver) or another machine's (Ray); None
    #: only when TASKALLOC_LIMITS does not parse (the worker's run then says so)
    limits: Limits | None = field(default_factory=lambda: limits_here())


def limits_here() -> Limits | None:
    """The size limits this process applies (``TASKALLOC_LIMITS``, set by ``--limits``), to send
    with a problem to a worker; None when the variable does not parse."""
    from taskalloc.problems.source import InputError, resolve_limits

    try:
        return resolve_limits(None)
    except InputError:
        return None


def run_spec(spec: Spec) -> RunResult:
    """Solve one problem of a batch (in a worker process or a Ray task): the time limit is cut
    to what the batch has left; C-level output of solvers goes to stderr, never stdout."""
    from .run import run_bytes, stdout_to_stderr

    if spec.error:
        return RunResult(Outcome.BAD_INPUT, message=spec.error[0], error_lines=list(spec.error))
    opts = spec.opts
    explain = EXPLAIN_LIMIT
    if spec.deadline is not None:
        left = spec.deadline - time.time()
        if left <= 0.05:
            return RunResult(
                Outcome.SKIPPED, message="not started: the batch's total time limit was reached"
            )
        opts = replace(opts, time_cap=left)
        explain = min(explain, left)
    with stdout_to_stderr():
        result = run_bytes(
            spec.name,
            spec.data,
            opts,
            path=spec.path,
            limits=spec.limits,
            fmt=spec.fmt,
            embed=spec.embed,
            explain_limit=explain,
        )
    return result.portable()


def watch_limit(opts: SolveOptions) -> float | None:
    """The time limit a job is held to (None: unbounded, e.g. greedy without a limit)."""
    limit = opts.time_limit
    if limit is None:  # auto: as for cpsat, which it chooses for all but huge problems
        limit = default_time_limit("cpsat" if opts.solver == "auto" else opts.solver)
    if opts.time_cap is not None:
        limit = opts.time_cap if limit is None else min(limit, opts.time_cap)
    return limit


def default_grace(limit: float) -> float:
    """Seconds past its time limit after which a job is killed: model building, the
    infeasibility explanation (up to 10 s) and writing the plan all happen outside the limit."""
    return 20.0 + 0.2 * limit


Target = Callable[[Spec], RunResult]
StartFn = Callable[[Item], None]
FinishFn = Callable[[Item, RunResult, float], None]


class Executor(Protocol):
    """Runs specs and reports each problem's start and end (``on_finish`` once per item)."""

    name: str
    parallelism: int

    def run(
        self,
        items: Sequence[Item],
        make_spec: Callable[[Item], Spec],
        on_start: StartFn,
        on_finish: FinishFn,
        stop: threading.Event,
    ) -> list[Item]:
        """Run until every item finished or ``stop`` is set; return the items that were
        running when it was (they are stopped, and reported to nobody)."""
        ...


# -- local worker processes ------------------------------------------------------------------


def _worker_main(conn: Any, target: Target) -> None:
    """A worker process: solve specs from the pipe until told to stop (None). Ctrl-C is left
    to the driver, which stops the batch; file descriptor 1 goes to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        result = target(spec)
        conn.send(result)


class _Slot:
    def __init__(self, ctx: Any, target: Target) -> None:
        self.ctx = ctx
        self.target = target
        self.proc: Any = None
        self.conn: Any = None
        self.item: Item | None = None
        self.spec: Spec | None = None
        self.started = 0.0
        self.kill_at: float | None = None
        self.attempts = 0

    def ensure(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            return
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker_main, args=(child, self.target), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def submit(self, item: Item, spec: Spec, kill_at: float | None) -> None:
        self.ensure()
        self.item, self.spec, self.kill_at = item, spec, kill_at
        self.started = time.monotonic()
        self.conn.send(spec)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
            self.proc = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive() and self.item is None:
            try:
                self.conn.send(None)
                self.proc.join(2)
            except (OSError, BrokenPipeError):
                pass
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None


def _context() -> Any:
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # what every worker needs (numpy, pydantic, the problem model), loaded once
        ctx.set_forkserver_preload(
            [
                "taskalloc.solvers.batch",
                "taskalloc.solvers.run",
                "taskalloc.solvers.result",
                "taskalloc.problems.problem",
                "taskalloc.problems.evaluate",
            ]
        )
        return ctx
    return mp.get_context("spawn")


class LocalExecutor:
    """``jobs`` worker processes on this machine, one problem at a time each."""

    name = "local"

    def __init__(
        self,
        jobs: int,
        *,
        target: Target = run_spec,
        grace: Callable[[float], float] = default_grace,
        retries: int = 1,
    ) -> None:
        self.parallelism = max(1, jobs)
        self.target = target
        self.grace = grace
        self.retries = retries

    def run(
        self,
        items: Sequence[Item],
        make_spec: Callable[[Item], Spec],
        on_start: StartFn,
        on_finish: FinishFn,
        stop: threading.Event,
    ) -> list[Item]:
        from multiprocessing.connection import wait

        if not items:
            return []
        ctx = _context()
        slots = [_Slot(ctx, self.target) for _ in range(min(self.parallelism, len(items)))]
        # (item, its spec once made, attempts so far): a retried item keeps its spec
        queue: deque[tuple[Item, Spec | None, int]] = deque((i, None, 0) for i in items)
        try:
            while True:
                if stop.is_set():
                    return [s.item for s in slots if s.item is not None]
                for slot in slots:
                    if slot.item is None and queue:
                        item, spec, attempts = queue.popleft()
                        retry = spec is not None
                        spec = spec or make_spec(item)
                        limit = watch_limit(spec.opts)
                        if spec.deadline is not None:
                            left = max(0.0, spec.deadline - time.time())
                            limit = left if limit is None else min(limit, left)
                        now = time.monotonic()
                        kill_at = None if limit is None else now + limit + self.grace(limit)
                        slot.attempts = attempts
                        slot.submit(item, spec, kill_at)
                        if not retry:
                            on_start(item)
                busy = [s for s in slots if s.item is not None]
                if not busy:
                    return []
                wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=0.2)
                for slot in busy:
                    self._poll(slot, queue, on_finish)
        finally:
            for slot in slots:
                if slot.item is not None:
                    slot.kill()
                slot.close()

    def _poll(
        self, slot: _Slot, queue: deque[tuple[Item, Spec | None, int]], on_finish: FinishFn
    ) -> None:
        assert slot.item is not None and slot.spec is not None
        item, spec = slot.item, slot.spec
        result: RunResult | None = None
        died = False
        try:
            if slot.conn.poll():
                result = slot.conn.recv()
        except (EOFError, OSError):
            died = True
        if result is None and not died and not slot.proc.is_alive():
            died = True
        if result is not None:
            pass
        elif died:
            code = slot.proc.exitcode if slot.proc is not None else None
            slot.kill()
            if slot.attempts < self.retries:
                slot.item = slot.spec = None
                queue.appendleft((item, spec, slot.attempts + 1))  # first in line, same spec
                return
            result = RunResult(
                Outcome.INTERNAL,
                message=f"the worker process died (exit code {code}) after "
                f"{slot.attempts + 1} attempts",
            )
        elif slot.kill_at is not None and time.monotonic() > slot.kill_at:
            slot.kill()
            result = RunResult(
                Outcome.TIMEOUT,
                message=f"killed {time.monotonic() - slot.started:.0f} s after it started: "
                "still running past its time limit and grace",
            )
        else:
            return
        wall = time.monotonic() - slot.started
        slot.item = slot.spec = None
        on_finish(item, result, wall)


# -- Ray -------------------------------------------------------------------------------------

RAY_MISSING = (
    "option executor='ray' needs Ray, which is not installed: pip install 'taskalloc[ray]' "
    "(the same version on the driver and every node of the cluster)"
)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BatchError(RAY_MISSING) from None
    return ray


def _ray_entry(target: Target, spec: Spec) -> RunResult:
    return target(spec)


class RayExecutor:
    """One Ray task per problem on a cluster (``address``) or on a local Ray for the run.

    Each task asks for ``opts.workers`` CPUs (the CP-SAT threads of one problem), so a cluster
    is never oversubscribed; at most as many tasks as the cluster has slots are in flight, so
    that a task's time limit starts when it is submitted.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        target: Target = run_spec,
        grace: Callable[[float], float] = default_grace,
        max_retries: int = 3,
        num_cpus: int | None = None,
        quiet: bool = False,
    ) -> None:
        self.address = address
        self.quiet = quiet
        self.target = target
        self.grace = grace
        self.max_retries = max_retries
        self.num_cpus = num_cpus
        self.parallelism = 1
        self.started_here = False

    def connect(self) -> Any:
        import logging

        ray = import_ray()
        if not ray.is_initialized():
            try:
                ray.init(
                    # "local": always a new Ray for the run, never a cluster found on the machine
                    address=self.address or "local",
                    num_cpus=self.num_cpus if self.address is None else None,
                    include_dashboard=False,
                    log_to_driver=False,  # worker output must not reach the driver's stdout
                    logging_level=logging.ERROR if self.quiet else logging.WARNING,
                    configure_logging=True,
                )
            except ConnectionError as exc:
                raise BatchError(
                    f"cannot connect to the Ray cluster at {self.address}: {exc} (a cluster "
                    "with token authentication also needs RAY_AUTH_MODE=token and its token "
                    "here: RAY_AUTH_TOKEN, or the token file)"
                ) from None
            self.started_here = True
        return ray

    def run(
        self,
        items: Sequence[Item],
        make_spec: Callable[[Item], Spec],
        on_start: StartFn,
        on_finish: FinishFn,
        stop: threading.Event,
    ) -> list[Item]:
        if not items:
            return []
        ray = self.connect()
        from ray.exceptions import TaskCancelledError

        try:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            queue = deque(items)
            inflight: dict[Any, tuple[Item, float, float | None]] = {}
            remotes: dict[int, Any] = {}
            while queue or inflight:
                if stop.is_set():
                    for ref in inflight:
                        ray.cancel(ref, force=True)
                    return [item for item, _, _ in inflight.values()]
                while queue and len(inflight) < max(1, int(cpus)):
                    item = queue.popleft()
                    spec = make_spec(item)
                    workers = max(1, spec.opts.workers)
                    if len(inflight) and (len(inflight) + 1) * workers > cpus:
                        queue.appendleft(item)
                        break
                    fn = remotes.get(workers)
                    if fn is None:
                        fn = ray.remote(
                            num_cpus=workers, max_retries=self.max_retries, retry_exceptions=False
                        )(_ray_entry)
                        remotes[workers] = fn
                    limit = watch_limit(spec.opts)
                    if spec.deadline is not None:
                        left = max(0.0, spec.deadline - time.time())
                        limit = left if limit is None else min(limit, left)
                    now = time.monotonic()
                    kill_at = None if limit is None else now + limit + self.grace(limit)
                    ref = fn.remote(self.target, spec)
                    inflight[ref] = (item, now, kill_at)
                    on_start(item)
                self.parallelism = max(self.parallelism, len(inflight))
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.2)
                for ref in ready:
                    item, started, _ = inflight.pop(ref)
                    try:
                        result = ray.get(ref)
                    except TaskCancelledError:
                        continue  # reported when it was cancelled
                    except Exception as exc:
                        result = RunResult(
                            Outcome.INTERNAL,
                            message=f"the Ray task failed: {type(exc).__name__}: "
                            + str(exc).strip().splitlines()[0][:300],
                        )
                    on_finish(item, result, time.monotonic() - started)
                now = time.monotonic()
                for ref, (item, started, kill_at) in list(inflight.items()):
                    if kill_at is not None and now > kill_at:
                        ray.cancel(ref, force=True)
                        del inflight[ref]
                        result = RunResult(
                            Outcome.TIMEOUT,
                            message=f"cancelled {now - started:.0f} s after it was submitted: "
                            "still running past its time limit and grace",
                        )
                        on_finish(item, result, now - started)
            return []
        finally:
            if self.started_here:
                ray.shutdown()
                self.started_here = False


# -- the batch -------------------------------------------------------------------------------


@dataclass
class Done:
    """One finished problem: its result, wall seconds, and the plan file written (if any)."""

    item: Item
    result: RunResult
    wall: float
    plan_written: Path | None
    existing: bool = False  # skipped because its plan existed (result read from that plan)


def existing_result(path: Path) -> RunResult | None:
    """The result recorded in a plan file written by an earlier batch (None if unreadable)."""
    from taskalloc.problems.plan import read_plan
    from taskalloc.problems.source import InputError

    from .run import final_gap

    try:
        plan = read_plan(str(path))
    except InputError:
        return None
    status = str(plan.solver.status)
    outcome = {"infeasible": Outcome.INFEASIBLE, "unknown": Outcome.NO_PLAN}.get(status, Outcome.OK)
    return RunResult(
        outcome,
        solver=plan.solver.name,
        status=status,
        objective=plan.solver.objective,
        bound=plan.solver.bound,
        gap=final_gap(plan),
        fitness=plan.solver.fitness,
        seconds=plan.solver.seconds,
        message="skipped: the plan exists",
    )


def run_batch(
    items: Sequence[Item],
    executor: Executor,
    opts: SolveOptions,
    *,
    fmt: str = "yaml",
    embed: bool = False,
    total_time_limit: float | None = None,
    skip_existing: bool = False,
    stop: threading.Event | None = None,
    on_start: StartFn | None = None,
    on_done: Callable[[Done], None] | None = None,
    read_stdin: Callable[[], bytes] | None = None,
    no_clobber: bool = False,
) -> tuple[list[Done], list[Item]]:
    """Solve every item; return (what finished, in completion order; what was interrupted).

    Each plan is written (atomically, once) as soon as its problem is done: for a plan, a
    proof of infeasibility, or a partial plan (no plan within the limits). Bad input, internal
    errors, timeouts and problems never started leave no plan file. ``no_clobber``: a plan
    file that exists is not replaced (OutputError). A plan that cannot be written (OutputError,
    WriteError: a full disk) ends the batch with that error.
    """
    from taskalloc.problems.source import InputError, read_bytes

    stop = stop or threading.Event()
    deadline = None if total_time_limit is None else time.time() + total_time_limit
    done: list[Done] = []
    written: set[int] = set()
    pending: list[Item] = []
    for item in items:
        if skip_existing and item.plan_path.exists():
            previous = existing_result(item.plan_path)
            if previous is not None:
                d = Done(item, previous, 0.0, None, existing=True)
                done.append(d)
                if on_done:
                    on_done(d)
                continue
        pending.append(item)

    limits = limits_here()  # a malformed TASKALLOC_LIMITS: None, each problem's run says so

    def make_spec(item: Item) -> Spec:
        error: tuple[str, ...] = ()
        if item.file == "-":
            name, data = "<stdin>", (read_stdin() if read_stdin else read_bytes("-")[1])
        else:
            try:
                name, data = read_bytes(item.file)
            except InputError as exc:  # unreadable, too big, a loop: its run says why
                name, data, error = item.file, b"", tuple(str(exc).splitlines())
        return Spec(
            error=error,
            index=item.index,
            name=name,
            data=data,
            path=None if item.file == "-" else item.file,
            opts=opts,
            fmt=fmt,
            embed=embed or item.file == "-",
            deadline=deadline,
            limits=limits,
        )

    def finish(item: Item, result: RunResult, wall: float) -> None:
        if item.index in written or any(d.item.index == item.index for d in done):
            raise RuntimeError(f"{item.file} finished twice")  # a bug: never write twice
        path = None
        if result.plan_text is not None and result.outcome in (
            Outcome.OK,
            Outcome.INFEASIBLE,
            Outcome.NO_PLAN,
        ):
            write_atomic(item.plan_path, result.plan_text, no_clobber=no_clobber)
            written.add(item.index)
            path = item.plan_path
        d = Done(item, replace(result, plan_text=None), wall, path)
        done.append(d)
        if on_done:
            on_done(d)

    interrupted = executor.run(pending, make_spec, on_start or (lambda item: None), finish, stop)
    return done, interrupted


def worst(codes: Iterable[int], order: Sequence[int]) -> int:
    """The worst exit code by ``order`` (most severe first); unknown codes rank first."""
    rank = {c: i for i, c in enumerate(order)}
    return min(codes, key=lambda c: rank.get(c, -1), default=0)
