"""What the hybrid's list thread runs next: list steps or a CP-SAT neighbourhood slice.

Why
---
The list thread of :meth:`.hybrid._Hybrid.parallel` has two searches to give its core to: the
activity-list search (:class:`.listsearch.ListSearch`, one decoded child per step) and slices
of CP-SAT's own neighbourhood search (:meth:`.hybrid._Hybrid._lns_slice`). It used to run a
slice after :data:`.hybrid.LNS_STALL` (500) list steps without a new best of the pool, a rule
tuned on PSPLIB j60 (60 activities, a few ms per step). On larger instances a step decodes more
activities and the rule stops scaling: on a 20x15 job shop (300 operations, about 39 ms per
step) 500 stalled steps take 20 s, the full search's improvements reset the count, and in a
30 s run no slice ever ran while the list search found nothing after its first second; the
core was wasted and the hand-written 2-worker CP-SAT model won (docs/benchmarks.md, issue 17,
seventh session).

How (:class:`Allocator`)
------------------------
A small two-armed bandit, fed after each step or slice with its relative gain (how much it
improved the stage's best itself; :func:`gain`) and the time it took (the clock is injected:
the hybrid passes the run's clock, tests a counter):

* a list *stall* is no longer counted in steps only: the list arm's turn ends after
  ``stall_steps * REFERENCE_ACTIVITIES`` decoded activities (``stall_steps`` steps on PSPLIB
  j60, a fifth of them on 300 operations), ``stall_steps`` steps or :data:`STALL_SECONDS` of
  list steps, whichever comes first, since its last new best of its own. Improvements found by
  the other searches no longer reset it (they say nothing of the list search's progress);
* a slice that improved is followed by another slice, started from the best (not one of the
  pool's near-best schedules): the arm that is producing keeps the core;
* after a slice that did not improve, the list arm's next turn is scaled by the two arms'
  recent rates of gain per second (:meth:`Allocator.share`; gains and seconds decayed with a
  half-life of :data:`HALF_LIFE` seconds, a small prior so that an arm is never written off):
  a full turn while the lists do at least as well as the slices, down to :data:`MIN_SHARE` of
  one when they find nothing and the slices do;
* a slice's deterministic time grows with the square root of the instance's size above
  :data:`REFERENCE_ACTIVITIES` (:func:`scaled`): on a 450-operation job shop, slices sized for
  j60 mostly ended without a new best.

Last, :meth:`Allocator.converged` tells the hybrid when neither arm has gained for some
seconds after a slice has run (its :data:`.hybrid.HANDOVER`, off: the lists' quiet spells are
no sign of convergence on PSPLIB j6013_7, docs/benchmarks.md, ninth session).

Up to :data:`REFERENCE_ACTIVITIES` activities and with steps faster than
``STALL_SECONDS / stall_steps``, the stall is the old one.
"""

from __future__ import annotations

from collections.abc import Callable

LIST = "list"
LNS = "lns"
#: activities decoded per stall: 500 list steps on PSPLIB j60 (60 activities), where the stall
#: was tuned
REFERENCE_ACTIVITIES = 60
#: ... or seconds of list steps per stall, whichever comes first (500 steps of j60 take about
#: 2.5 s on this machine under load, so there the steps decide; 2.5 s here cut the list turns
#: of a 750-operation job shop, 0.2-0.5 s a step, to a few steps while its lists still found
#: new bests: rnd50x15 3241 against 3176 with 10 s, docs/benchmarks.md)
STALL_SECONDS = 10.0
HALF_LIFE = 5.0  # seconds: the rates' memory
MIN_SHARE = 0.05  # the shortest list turn, as a share of a full stall
#: an arm's rate is (gain + PRIOR_GAIN) / (seconds + PRIOR_SECONDS), gains relative to the
#: best value: an arm that found nothing lately is not written off (with the decay, both drift
#: back to the prior when idle)
PRIOR_GAIN = 0.002
PRIOR_SECONDS = 1.0


def scaled(dtime: float, activities: int) -> float:
    """A slice's deterministic time on ``activities``: ``dtime`` up to
    :data:`REFERENCE_ACTIVITIES`, then growing as the square root of the size (CP-SAT's work
    per neighbourhood grows with the model: a slice sized for j60 mostly ends empty on a
    450-operation job shop; in proportion to the size, one slice took half a 30 s run)."""
    return dtime * max(1.0, activities / REFERENCE_ACTIVITIES) ** 0.5


def gain(before: int | None, after: int | None) -> float:
    """The relative improvement from ``before`` to ``after`` (objective values; 0 when there is
    none, 1 when there was no value before)."""
    if after is None:
        return 0.0
    if before is None:
        return 1.0
    if before <= after:
        return 0.0
    return (before - after) / max(abs(before), 1)


class Allocator:
    """Decides, after each list step or slice, which of the two runs next (module docstring).

    ``stall_steps`` is the full stall in list steps on instances of up to
    :data:`REFERENCE_ACTIVITIES` activities; ``activities`` the instance's (one step decodes
    them all); ``clock`` returns seconds (the run's clock in the hybrid, a counter in tests)."""

    def __init__(self, stall_steps: int, activities: int, clock: Callable[[], float]) -> None:
        self.stall_steps = stall_steps
        self.activities = max(1, activities)
        self.stall_work = stall_steps * REFERENCE_ACTIVITIES
        self.clock = clock
        self.last = clock()
        self.wins = {LIST: 0.0, LNS: 0.0}
        self.seconds = {LIST: 0.0, LNS: 0.0}
        self.tried = {LIST: False, LNS: False}
        self.stalled = 0  # list steps since the list arm's last win (or the last slice)
        self.since = self.last  # ... and the clock then
        self.turn = 1.0  # share of the full stall the current list turn gets
        self.next_arm = LIST
        self.chained = False  # the next slice follows a slice that improved
        self.gained = self.last  # the clock at either arm's last gain (or the start)

    def _record(self, arm: str, gain: float) -> None:
        now = self.clock()
        spent = max(0.0, now - self.last)
        self.last = now
        keep = 0.5 ** (spent / HALF_LIFE) if HALF_LIFE > 0 else 1.0
        for a in (LIST, LNS):
            self.wins[a] *= keep
            self.seconds[a] *= keep
        self.seconds[arm] += spent
        self.wins[arm] += gain
        self.tried[arm] = True
        if gain > 0:
            self.gained = now

    def rate(self, arm: str) -> float:
        """Recent new bests per second of ``arm`` (infinite before it has run)."""
        if not self.tried[arm]:
            return float("inf")
        return (self.wins[arm] + PRIOR_GAIN) / (self.seconds[arm] + PRIOR_SECONDS)

    def share(self) -> float:
        """The next list turn, as a share of a full stall: the list arm's rate over the
        slices', between :data:`MIN_SHARE` and 1."""
        lists, slices = self.rate(LIST), self.rate(LNS)
        if lists >= slices:
            return 1.0
        return max(MIN_SHARE, lists / slices)

    def listed(self, gain: float, fresh: bool = False) -> None:
        """A list step ran: ``gain`` the relative improvement of the stage's best it found
        itself (0: none); ``fresh`` when it found a new best of its own island or restarted on
        a fresh one (its stall starts again, as on a gain)."""
        self._record(LIST, gain)
        self.chained = False
        if gain > 0 or fresh:
            self.stalled, self.since = 0, self.last
            self.turn = 1.0
            return
        self.stalled += 1
        steps = min(self.stall_steps, self.stall_work / self.activities)
        waited = self.last - self.since
        if self.stalled >= max(1.0, self.turn * steps) or waited >= self.turn * STALL_SECONDS:
            self.next_arm = LNS

    def sliced(self, gain: float) -> None:
        """A slice ran (``gain`` as in :meth:`listed`): another one while they improve, else a
        list turn (:meth:`share`)."""
        won = gain > 0
        self._record(LNS, gain)
        self.chained = won
        if won:
            self.next_arm = LNS
            return
        self.stalled, self.since = 0, self.last
        self.turn = self.share()
        self.next_arm = LIST

    def converged(self, seconds: float) -> bool:
        """Both arms have run (a slice too) and neither gained for ``seconds``: the list
        thread has converged (the hybrid may then give its core to CP-SAT)."""
        return self.tried[LNS] and self.clock() - self.gained >= seconds

    def next(self) -> str:
        """:data:`LIST` or :data:`LNS`."""
        return self.next_arm
