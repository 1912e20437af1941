"""Integer scaling of the problem's decimals for CP-SAT (which only knows integers), shared by
its models and the flat view (:mod:`.flat`) that the MILP's polishing also uses.

Every number of the file is read as the decimal its float prints as (``repr``: ``0.1`` is 1/10,
not the binary float), so a factor that makes it an integer exists whenever it has finitely many
decimals. For each group of numbers that are compared or added together the factor is the least
common multiple of their denominators:

* one factor per **resource** (its capacities, demands and ``demand_on`` demands);
* one for **costs** (``assign_cost`` and node ``cost``);
* one for **priorities** (the ``unplaced`` and ``tardiness`` terms);
* ``balance`` uses a fixed grid (:data:`BALANCE_SCALE` steps for a utilisation of 1);
* a ``weights`` objective multiplies every weight / term factor by the smallest integer that
  makes all of them integers.

Exact scaling is used when the factor is at most :data:`MAX_FACTOR` and the scaled numbers stay
within :data:`MAX_MAGNITUDE` (so sums and the ``balance`` products stay far from 64-bit limits
and CP-SAT's propagation stays sharp). Otherwise the factor is the largest power of ten within
both limits and the scaling is *conservative*: capacities are rounded down and demands up, so a
plan of the model is always a plan of the problem (the model may miss some plans: then neither
``optimal`` nor ``infeasible`` can be claimed), and objective coefficients are rounded to the
nearest integer (then ``optimal`` is not claimed either). :attr:`Scales.notes` says which.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from taskalloc.problems.problem import Problem

MAX_FACTOR = 10**6  # largest exact scale factor
MAX_MAGNITUDE = 10**9  # largest scaled number
BALANCE_SCALE = 10_000  # balance grid: B / BALANCE_SCALE >= every utilisation


def decimal(x: float) -> Fraction:
    """The decimal a float prints as, exactly (``0.1`` -> 1/10)."""
    return Fraction(repr(float(x)))


def choose_factor(values: Iterable[float]) -> tuple[Fraction, bool]:
    """(factor, exact): the factor that makes every value an integer, within the limits."""
    # each distinct value once: 150,000 tasks carry millions of pool-expanded per-node costs
    # and demands, but few distinct numbers (Fraction(repr(x)) per value took a minute there)
    vals = [decimal(v) for v in set(values) if v]
    if not vals:
        return Fraction(1), True
    factor = math.lcm(*(v.denominator for v in vals))
    top = max(abs(v) for v in vals)
    if factor <= MAX_FACTOR and factor * top <= MAX_MAGNITUDE:
        return Fraction(factor), True
    k = 6
    while Fraction(10) ** k * top > MAX_MAGNITUDE:
        k -= 1
    return Fraction(10) ** k, False


def _plain(f: Fraction) -> int | float:
    return int(f) if f.denominator == 1 else float(f)


@dataclass
class Scales:
    """Scale factors: a scaled number is ``value * factor`` (an integer)."""

    resource: dict[str, Fraction]
    resource_exact: dict[str, bool]
    cost: Fraction
    cost_exact: bool
    priority: Fraction
    priority_exact: bool
    balance: int
    notes: list[str] = field(default_factory=list)
    _memo: dict[tuple[str, str, float], int] = field(default_factory=dict, repr=False)

    @property
    def feasibility_exact(self) -> bool:
        """Whether the model has exactly the problem's plans (capacities not rounded)."""
        return all(self.resource_exact.values())

    def _scaled(self, kind: str, key: str, value: float) -> int:
        memo = (kind, key, value)
        hit = self._memo.get(memo)
        if hit is None:
            if kind == "cap":
                hit = math.floor(decimal(value) * self.resource[key])
            elif kind == "demand":
                hit = math.ceil(decimal(value) * self.resource[key])
            else:
                hit = round(decimal(value) * (self.cost if kind == "cost" else self.priority))
            self._memo[memo] = hit
        return hit

    def cap(self, r: str, value: float) -> int:
        """A capacity, rounded down when the scaling of ``r`` is not exact."""
        return self._scaled("cap", r, value)

    def demand(self, r: str, value: float) -> int:
        """A demand, rounded up when the scaling of ``r`` is not exact."""
        return self._scaled("demand", r, value)

    def cost_of(self, value: float) -> int:
        return self._scaled("cost", "", value) if value else 0

    def priority_of(self, value: float) -> int:
        return self._scaled("priority", "", value)

    def describe(self) -> dict[str, Any]:
        return {
            "resources": {r: _plain(f) for r, f in self.resource.items()},
            "cost": _plain(self.cost),
            "priority": _plain(self.priority),
            "balance": self.balance,
        }


def choose_scales(problem: Problem, balance_scale: int = BALANCE_SCALE) -> Scales:
    per_res: dict[str, list[float]] = {r: [] for r in problem.resources}
    for n in problem.nodes:
        for r, q in n.capacity.items():
            per_res[r].append(q)
        for r in n.devices:  # device sizes (revision 2) are integers too
            per_res[r].append(n.device_size(r))
    for t in problem.tasks:
        for r, q in t.demand.items():
            per_res[r].append(q)
        for dmap in t.demand_on.values():
            for r, q in dmap.items():
                per_res[r].append(q)
    resource: dict[str, Fraction] = {}
    exact: dict[str, bool] = {}
    notes: list[str] = []
    for r, vals in per_res.items():
        resource[r], exact[r] = choose_factor(vals)
        if not exact[r]:
            notes.append(
                f"{r} scaled by {_plain(resource[r])} with capacities rounded down and demands up"
            )
    costs: list[float] = [n.cost for n in problem.nodes]
    for t in problem.tasks:
        costs.extend(t.assign_cost.values())
    cost, cost_exact = choose_factor(costs)
    if not cost_exact:
        notes.append(f"costs rounded to 1/{_plain(1 / cost)}")
    priority, priority_exact = choose_factor(t.priority for t in problem.tasks)
    if not priority_exact:
        notes.append(f"priorities rounded to 1/{_plain(1 / priority)}")
    return Scales(
        resource=resource,
        resource_exact=exact,
        cost=cost,
        cost_exact=cost_exact,
        priority=priority,
        priority_exact=priority_exact,
        balance=int(balance_scale),
        notes=notes,
    )


def weight_multipliers(
    weights: Mapping[str, float], unit: Mapping[str, Fraction]
) -> tuple[dict[str, int], Fraction, bool]:
    """Integer coefficients ``a[t]`` and the divisor ``m`` such that
    ``sum(weight[t] * value[t]) == sum(a[t] * scaled[t]) / m`` where ``scaled[t] = value[t] *
    unit[t]``; ``exact`` is False when the weights had to be rounded."""
    ratio = {t: decimal(w) / unit[t] for t, w in weights.items() if w}
    if not ratio:
        return {}, Fraction(1), True
    m = math.lcm(*(f.denominator for f in ratio.values()))
    if m <= MAX_FACTOR and max(abs(f) * m for f in ratio.values()) <= MAX_MAGNITUDE:
        return {t: int(f * m) for t, f in ratio.items()}, Fraction(m), True
    top = max(abs(f) for f in ratio.values())
    m_approx = Fraction(MAX_FACTOR) / top
    return {t: max(1, round(f * m_approx)) for t, f in ratio.items()}, m_approx, False
