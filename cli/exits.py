"""Exit codes of every command, in one place (README and ``taskalloc --help`` list them)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # plan found / file valid / check passed
    VIOLATIONS = 1  # check found violations; diff: the plans differ
    BAD_INPUT = 2  # bad input file or usage
    INFEASIBLE = 3  # proven infeasible
    NO_PLAN = 4  # no plan within the limits
    INTERNAL = 70  # a bug in taskalloc (please report it with --debug output)
    CANNOT_WRITE = 74  # EX_IOERR: the system could not write an output (disk full, read-only,
    # no permission, stdout closed or full); the old file, if any, is kept
    INTERRUPTED = 130  # Ctrl-C / SIGTERM


EXIT_CODES_HELP = (
    "Exit codes: 0 plan found (or file valid, check passed, plans equal); 1 check found "
    "violations (diff: the plans differ); "
    "2 bad input or usage (also an output refused before anything runs: an input, a "
    "directory, --no-clobber); 3 proven infeasible; 4 no plan within the limits; 70 internal "
    "error; 74 an output could not be written (disk full, read-only, closed stdout; the old "
    "file is kept); 130 interrupted. "
    "A batch (several problems, or --out-dir) exits with the worst code of its problems: "
    "130, 70, 2, 4, 3, then 0."
)


#: exit code of each way solving one problem can end (taskalloc.solvers.run.Outcome values;
#: strings here so that importing this module stays cheap)
EXIT_FOR_OUTCOME: dict[str, ExitCode] = {
    "ok": ExitCode.OK,
    "infeasible": ExitCode.INFEASIBLE,
    "no_plan": ExitCode.NO_PLAN,
    "bad_input": ExitCode.BAD_INPUT,
    "internal": ExitCode.INTERNAL,
    "interrupted": ExitCode.INTERRUPTED,
    "timeout": ExitCode.NO_PLAN,  # a batch job killed past its time limit: no plan
    "skipped": ExitCode.NO_PLAN,  # a batch job never started: the total time was up
}

#: a batch exits with the worst code of its problems, in this order (most severe first):
#: interrupted, internal error, bad input, no plan, infeasible, ok
BATCH_SEVERITY: tuple[ExitCode, ...] = (
    ExitCode.INTERRUPTED,
    ExitCode.INTERNAL,
    ExitCode.BAD_INPUT,
    ExitCode.NO_PLAN,
    ExitCode.INFEASIBLE,
    ExitCode.OK,
)
