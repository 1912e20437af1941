"""Device patterns: what one device can hold, for the configuration form of the device model.

In a placement problem the shares that replicas take on a node's identical devices are a bin
packing: the devices are interchangeable and so are shares of the same size. When the shares
come in few sizes (MIG-like 0.25, 0.5, 0.75 of a GPU), the MILP counts, per node and
resource, how many devices hold each *maximal pattern* (a multiset of share sizes that fits
one device and takes no further share) instead of giving every replica a binary per device:
a few integer columns per node instead of replicas x devices binaries, no device symmetry
left, and the LP relaxation of Gilmore and Gomory's configuration model, much tighter than
the assignment one. Any packing is covered (each device's shares extend to a maximal
pattern), and any covering gives a packing (:func:`pack`: dropping shares keeps a pattern
feasible), so the form is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

from taskalloc.problems.state import CAP_TOL

Pattern = tuple[int, ...]  # count of shares of each size


def maximal_patterns(
    sizes: Sequence[float], caps: Sequence[int], room: float, limit: int
) -> list[Pattern] | None:
    """Every maximal pattern of shares of ``sizes`` (at most ``caps[i]`` of size ``i``) on a
    device of ``room`` (within the evaluator's tolerance), in decreasing lexicographic order;
    None when there are more than ``limit``."""
    out: list[Pattern] = []
    q = len(sizes)
    counts = [0] * q
    budget = [50 * limit + 1000]  # patterns that fit, maximal or not, looked at

    def fits(load: float, i: int) -> bool:
        return counts[i] < caps[i] and load + sizes[i] <= room + CAP_TOL

    def walk(i: int, load: float) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if i == q:
            if not any(fits(load, j) for j in range(q)):
                out.append(tuple(counts))
                if len(out) > limit:
                    return False
            return True
        top = caps[i]
        while top > 0 and load + top * sizes[i] > room + CAP_TOL:
            top -= 1
        for c in range(top, -1, -1):
            counts[i] = c
            if not walk(i + 1, load + c * sizes[i]):
                return False
        counts[i] = 0
        return True

    if not walk(0, 0.0):
        return None
    return [p for p in out if any(p)]


def extend(
    held: Sequence[int], sizes: Sequence[float], caps: Sequence[int], room: float
) -> Pattern:
    """A maximal pattern containing ``held`` (shares added in size order, as many as fit)."""
    counts = list(held)
    load = sum(c * s for c, s in zip(counts, sizes, strict=True))
    for i, s in enumerate(sizes):
        while counts[i] < caps[i] and load + s <= room + CAP_TOL:
            counts[i] += 1
            load += s
    return tuple(counts)


def pack(devices: Sequence[Pattern], items: Sequence[tuple[int, int]]) -> dict[int, int] | None:
    """Device index of each item (key, size index) when ``devices[j]`` is the pattern device
    ``j`` holds: items of each size fill the devices in index order; None when the patterns
    do not cover the items (a rounding error of the solver)."""
    left = [list(p) for p in devices]
    out: dict[int, int] = {}
    for key, i in items:
        for j, room in enumerate(left):
            if room[i] > 0:
                room[i] -= 1
                out[key] = j
                break
        else:
            return None
    return out
