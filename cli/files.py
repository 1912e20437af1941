"""Files of the commands: reading problems (with their warnings), finding the problem of a plan,
and writing data to stdout or to a file (atomically, by :mod:`taskalloc.problems.files`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .console import Fail, Settings, fail, say, warn, warn_at
from .exits import ExitCode

if TYPE_CHECKING:
    from taskalloc.problems.plan import Plan
    from taskalloc.problems.problem import Problem


def write(data: str | bytes, output: Path | None, inputs: Sequence[str | Path | None] = ()) -> None:
    """Write data to stdout (``output`` None or ``-``) or to ``output`` by the one writer,
    :func:`taskalloc.problems.files.write_atomic`: atomically, into a device or pipe, through
    a symlink, never over one of the command's ``inputs`` nor, with ``--no-clobber``, over any
    existing file (OutputError: exit 2). A missing directory is created, and said on stderr.
    The system failing to write (a full disk, a read-only directory, a closed or full stdout)
    is a WriteError (exit 74); a reader that went away (``| head``) a BrokenPipeError (the
    command ends quietly)."""
    from taskalloc.problems.files import write_atomic

    if output is None or str(output) == "-":
        write_stdout(data)
        return
    for directory in write_atomic(output, data, inputs=inputs, no_clobber=Settings.no_clobber):
        say(f"created directory {directory}")


def refuse_outputs(
    outputs: Sequence[str | Path | None], inputs: Sequence[str | Path | None]
) -> None:
    """Refuse, before anything runs or is written, every output file among ``outputs`` (None
    and ``-``, stdout, are skipped) that :func:`write` would refuse: one of the command's
    ``inputs``, a directory, or with ``--no-clobber`` an existing file (OutputError: exit 2)."""
    from taskalloc.problems.files import refuse_inputs

    for path in outputs:
        if path is not None and str(path) != "-":
            refuse_inputs(path, inputs, no_clobber=Settings.no_clobber)


def write_stdout(data: str | bytes) -> None:
    """Data on standard output, flushed: WriteError when it is closed or cannot take it."""
    import errno

    from taskalloc.problems.files import WriteError, reason

    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        raise WriteError("standard output", "it is closed")
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only stream (some embedding); it takes text only
            stream.write(data if isinstance(data, str) else data.decode("utf-8"))
            stream.flush()
            return
        if isinstance(data, str):
            stream.flush()  # what was printed before comes first
            data = data.encode(stream.encoding or "utf-8", stream.errors or "strict")
        view = memoryview(data)
        while view:  # a reader that goes away mid-write makes a write short, not an error
            written = buffer.write(view)
            if not written:
                raise WriteError("standard output", "it takes no more data")
            view = view[written:]
        buffer.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise BrokenPipeError(errno.EPIPE, "broken pipe") from None
        raise WriteError("standard output", reason(exc)) from None


def format_for(output: Path | None, fmt: str | None) -> str:
    """The data format: ``fmt`` when given, else json for a ``.json`` output, else yaml."""
    if fmt is not None:
        return fmt
    if output is not None and output.suffix.lower() == ".json":
        return "json"
    return "yaml"


def load(path: str) -> Problem:
    """The problem of a file (``-``: stdin); its warnings go to stderr."""
    from taskalloc.problems.problem import load_problem

    problem = load_problem(path)
    for w in problem.warnings:
        warn_at(w)
    return problem


def load_pair(problem_file: str, plan_file: str | None) -> tuple[Problem, Plan]:
    """The problem and the plan of `check` and `report`.

    With two files, each is read from its place (one of them may be stdin). With one file
    (``report PLAN``), or ``- -`` (the plan on stdin), the problem is the one the plan
    embeds (``problem.text``, written by ``solve -`` or ``--embed-problem``), else the file
    the plan names (``problem.path``, relative to the current directory or to the plan's: the
    one with the bytes whose sha256 the plan records, else the first found); either must
    have those bytes, or a warning says so.
    """
    from taskalloc.problems.plan import read_plan

    if plan_file is None or (problem_file == "-" and plan_file == "-"):
        source = problem_file if plan_file is None else "-"
        plan = read_plan(source)
        return problem_of(plan, source), plan
    return load(problem_file), read_plan(plan_file)


def problem_of(plan: Plan, plan_file: str) -> Problem:
    """The problem a plan embeds, else the file it names (see :func:`load_pair`)."""
    import hashlib

    from taskalloc.problems.problem import build_problem
    from taskalloc.problems.source import parse

    plan_name = "<stdin>" if plan_file == "-" else plan_file
    if plan.problem_text is not None:
        data = plan.problem_text.encode("utf-8")
        if hashlib.sha256(data).hexdigest() != plan.problem_sha256:
            warn(f"{plan_name}: the embedded problem does not match problem.sha256")
        problem = build_problem(parse(f"{plan_name}#problem.text", data))
        for w in problem.warnings:
            warn_at(w)
        return problem
    if not plan.problem_path:
        fail(
            ExitCode.BAD_INPUT,
            f"{plan_name}: the plan neither embeds its problem (problem.text) nor names its file "
            "(problem.path); give both files: PROBLEM PLAN",
        )
    candidates = [Path(plan.problem_path)]
    if plan_file != "-" and not candidates[0].is_absolute():
        candidates.append(Path(plan_file).parent / plan.problem_path)
    found = [c for c in candidates if c.is_file()]
    for candidate in found:  # the file with the bytes the plan was made from, wherever it is
        try:
            if hashlib.sha256(candidate.read_bytes()).hexdigest() == plan.problem_sha256:
                return load(str(candidate))
        except OSError:
            continue
    if found:  # none has those bytes: the first (the caller warns that they differ)
        return load(str(found[0]))
    raise Fail(
        ExitCode.BAD_INPUT,
        f"{plan_name}: the problem file {plan.problem_path} (problem.path) is not there; give "
        "both files: PROBLEM PLAN",
    )
