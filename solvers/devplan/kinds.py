"""Tasks grouped into kinds: the same demands and the same allowed node types."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fleet import MILLI, Fleet, Workload

__all__ = ["Kinds", "task_kinds"]


@dataclass(frozen=True, eq=False)
class Kinds:
    """``members[k]`` are the task indices of kind ``k``; the arrays describe one task of it."""

    cpu: np.ndarray  # int64 [K]
    rest: np.ndarray  # float64 [K, R]
    ngpu: np.ndarray  # int64 [K]
    milli: np.ndarray  # int64 [K]
    value: np.ndarray  # float64 [K]: priority of one task
    gpu: np.ndarray  # int64 [K]: GPU milli of one task
    fits: np.ndarray  # bool [K, T]: allowed and fits an empty node of type T
    count: np.ndarray  # int64 [K]
    members: tuple[np.ndarray, ...]
    kind_of: np.ndarray  # int64 [J]

    @property
    def n(self) -> int:
        return len(self.count)

    @property
    def share(self) -> np.ndarray:
        return (self.ngpu == 1) & (self.milli < MILLI)

    @property
    def whole(self) -> np.ndarray:
        return (self.ngpu >= 1) & (self.milli >= MILLI)


def task_kinds(fleet: Fleet, wl: Workload, value: np.ndarray | None = None) -> Kinds:
    """Group the tasks of ``wl`` (values: ``value`` per task, default their priority)."""
    val = wl.priority if value is None else np.asarray(value, dtype=np.float64)
    keys: dict[tuple[object, ...], int] = {}
    kind_of = np.empty(wl.n_tasks, dtype=np.int64)
    for j in range(wl.n_tasks):
        key = (
            int(wl.cpu[j]),
            tuple(wl.rest[j].tolist()),
            int(wl.ngpu[j]),
            int(wl.milli[j]),
            float(val[j]),
            wl.allowed[j].tobytes(),
        )
        kind_of[j] = keys.setdefault(key, len(keys))
    first = np.zeros(len(keys), dtype=np.int64)
    first[kind_of[::-1]] = np.arange(wl.n_tasks)[::-1]
    count = np.bincount(kind_of, minlength=len(keys))
    order = np.argsort(kind_of, kind="stable")
    members = tuple(np.split(order, np.cumsum(count)[:-1]))
    cpu = wl.cpu[first]
    rest = wl.rest[first]
    ngpu = wl.ngpu[first]
    milli = wl.milli[first]
    fits = (
        wl.allowed[first]
        & (cpu[:, None] <= fleet.type_cpu[None, :])
        & (rest[:, None, :] <= fleet.type_rest[None, :, :] + 1e-9).all(axis=2)
        & (ngpu[:, None] <= fleet.type_ndev[None, :])
    )
    return Kinds(
        cpu=cpu,
        rest=rest,
        ngpu=ngpu,
        milli=milli,
        value=val[first],
        gpu=ngpu * milli,
        fits=fits,
        count=count,
        members=members,
        kind_of=kind_of,
    )
