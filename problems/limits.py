"""How big and how deep an input may be, and the largest numbers a problem may hold.

A hostile or broken file must end in one located error line, never in a crash, minutes of work
or gigabytes of memory. So the loader and the compiler check, as early and as cheaply as they
can:

* **size limits** (:class:`Limits`), each with a default that admits the largest real inputs
  (a 150,000-task x 5,000-node problem is a 28 MB JSON file with 181,042 replicas and 652
  million (task, allowed node) pairs; the openb trace has about 10 million pairs):

  ========== ============================================================ ==================
  name       what                                                          default
  ========== ============================================================ ==================
  bytes      bytes of one input file (or of standard input)                256 MiB
  values     YAML/JSON values (scalars, lists, mappings), aliases expanded  50 million
  nodes      nodes, after pools (``count``) expand                          1 million
  replicas   replicas of all tasks                                          10 million
  pairs      (task, allowed node) pairs                                     1 billion
  devices    devices of all nodes (``devices``, after pools expand)         10 million
  ========== ============================================================ ==================

  The environment variable ``TASKALLOC_LIMITS`` changes them for every command:
  ``TASKALLOC_LIMITS=bytes=1Gi,pairs=5e9`` (suffixes k, M, G = 10^3, 10^6, 10^9 and Ki, Mi,
  Gi = 2^10, 2^20, 2^30), or ``TASKALLOC_LIMITS=off`` to lift them all. From Python, pass
  ``limits=Limits(...)`` (or :data:`NO_LIMITS`) to the loaders.

* **fixed bounds** that no setting lifts, because the engines cannot go past them: nesting at
  most :data:`MAX_DEPTH` levels (no taskalloc file needs more than 7); times (``duration``,
  ``duration_on``, ``release``, ``deadline``, ``due``, ``horizon``, and a duration divided by a
  node's speed) at most :data:`MAX_TIME` = 2^31 - 1, so that CP-SAT's domains, sums of
  durations and the tardiness products stay within 64 bits; counts (``count``,
  ``replicas``, ``max_skew``) at most 2^31 - 1 as well; amounts (capacities, demands, costs,
  priorities, speeds, weights) at most :data:`MAX_AMOUNT` = 10^18, so that sums over every
  replica stay finite; ``devices`` at most :data:`MAX_DEVICES` per node and resource.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

#: the environment variable that changes the size limits (module docstring)
ENV = "TASKALLOC_LIMITS"

MAX_DEPTH = 64  # lists and mappings inside each other
MAX_TIME = 2**31 - 1  # the largest time value (duration, release, deadline, due, horizon)
MAX_COUNT = 2**31 - 1  # the largest count, replicas or max_skew
MAX_AMOUNT = 1e18  # the largest capacity, demand, cost, priority, speed or weight
MAX_DEVICES = 4096  # the most devices one node splits one resource into


@dataclass(frozen=True)
class Limits:
    """Size limits of an input (module docstring); None lifts one."""

    bytes: int | None = 256 * 2**20
    values: int | None = 50_000_000
    nodes: int | None = 1_000_000
    replicas: int | None = 10_000_000
    pairs: int | None = 1_000_000_000
    devices: int | None = 10_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults changed by ``TASKALLOC_LIMITS`` (ValueError, worded for users without
        the variable's name, when it does not parse)."""
        text = (os.environ if environ is None else environ).get(ENV, "").strip()
        return parse_limits(text) if text else cls()

    def exceeded(self, name: str, value: int | float, what: str) -> str | None:
        """The message for ``value`` over the limit ``name`` (None within it); ``what`` says
        what was counted, e.g. ``"nodes after pools expand"``."""
        limit = getattr(self, name)
        if limit is None or value <= limit:
            return None
        return (
            f"{count_words(value)} {what}, more than the limit of {count_words(limit)} "
            f"({ENV}={name}=N raises it, {ENV}=off lifts every limit)"
        )


#: every size limit lifted (the fixed bounds still hold)
NO_LIMITS = Limits(*(None for _ in fields(Limits)))

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}
_NUMBER = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmg]i?)?\s*$", re.IGNORECASE)


def parse_limits(text: str) -> Limits:
    """``off`` | ``NAME=VALUE[,NAME=VALUE...]`` (VALUE a number with an optional suffix, or
    ``off``) -> Limits; ValueError with a message for users otherwise."""
    if text.strip().lower() in ("off", "none"):
        return NO_LIMITS
    names = [f.name for f in fields(Limits)]
    changes: dict[str, int | None] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in names:
            import difflib

            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"'{item.strip()}' is not NAME=VALUE with NAME one of {', '.join(names)}{hint}"
            )
        value = value.strip()
        if value.lower() in ("off", "none"):
            changes[name] = None
            continue
        m = _NUMBER.match(value)
        if m is None:
            raise ValueError(
                f"{name}={value}: the value must be a number (suffixes k, M, G, Ki, Mi, Gi) or off"
            )
        number = float(m.group(1).replace("_", "")) * _SUFFIX[(m.group(2) or "").lower()]
        changes[name] = int(number)
    return replace(Limits(), **changes)


def count_words(n: int | float) -> str:
    """A count as messages print it: ``1,000,000``; ``2.1e+12`` past 10^12."""
    if n >= 10**12:
        return f"{float(n):.3g}"
    return f"{int(n):,}"
