"""Exit codes of every command, in one place (README and ``taskalloc --help`` list them)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # plan found / file valid / check passed
    VIOLATIONS = 1  # check found violations
    BAD_INPUT = 2  # bad input file or usage
    INFEASIBLE = 3  # proven infeasible
    NO_PLAN = 4  # no plan within the limits
    INTERNAL = 70  # a bug in taskalloc (please report it with --debug output)
    INTERRUPTED = 130  # Ctrl-C / SIGTERM


EXIT_CODES_HELP = (
    "Exit codes: 0 plan found (or file valid, check passed); 1 check found violations; "
    "2 bad input or usage; 3 proven infeasible; 4 no plan within the limits; "
    "70 internal error; 130 interrupted."
)
