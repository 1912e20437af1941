"""Pareto fronts of plans: term vectors, dominance, hypervolume, distances to a reference front.

Pure numpy and python; no solver imports. Every objective is minimised.

Terms
-----
The terms of a front are objective terms the problem can have (:data:`~.evaluate.PLACEMENT_TERMS`
or :data:`~.evaluate.SCHEDULING_TERMS`), two or three of them, distinct
(:func:`check_terms`). A plan's term vector is taken from the evaluator (:func:`term_vectors`),
never from a solver.

Normalisation and reference point (decided here, documented in README)
-----------------------------------------------------------------------
Terms have unrelated units (``cost`` in money, ``balance`` a fraction of capacity), so the
indicators are computed on *normalised* terms: ``z' = (z - ideal) / (nadir - ideal)`` per term,
where ``ideal`` and ``nadir`` are the per-term minimum and maximum over the non-dominated points
of the *reference set*: the reference front when one is given, else the front itself. A term
that takes a single value on the reference set has range 1 (``z' = z - ideal``). The
**reference point** of the hypervolume is ``1.1`` in every normalised term, i.e. the nadir plus
10 % of the range. Hypervolumes are therefore fractions of the box ``[ideal, nadir]``
(1.21 in 2D, 1.331 in 3D is the whole box up to the reference point), comparable between two
fronts exactly when they use the same ideal and nadir: a front summarised against a reference
front takes both from that front. Points beyond the reference point in some term add nothing.

Indicators
----------
* :func:`hypervolume`: exact, in 1, 2 (sweep) and 3 (slices along the third term, a 2D sweep
  in each) dimensions.
* :func:`contributions`: each point's exclusive contribution (the hypervolume lost without it);
  0 for a dominated or duplicate point.
* per plan, against a reference front R (normalised): ``distance`` = ``min over r in R of
  ||max(z - r, 0)||_2`` (the IGD+/GD+ distance: how far the plan is from being at least as good
  as some point of R in every term; 0 on or beyond R) and ``epsilon`` = ``min over r of
  max_i (z_i - r_i)`` (the additive epsilon: the smallest shift that makes the plan weakly
  dominate a point of R; negative when the plan strictly dominates a point of R).
* per front (:func:`compare`): ``gd`` (mean Euclidean distance from each plan to its nearest
  point of R), ``igd`` (mean over R of the Euclidean distance to the nearest plan), ``gd_plus``
  (mean of the plans' ``distance``), ``igd_plus`` (mean over R of ``min over plans of
  ||max(z - r, 0)||``) and ``epsilon`` (the additive epsilon indicator of the front with respect
  to R: ``max over r of min over plans of max_i (z_i - r_i)``; 0 when the front weakly
  dominates every point of R).

Front summary
-------------
:func:`summary` gives the data the CLI writes (format ``taskalloc_front: 1``; README):
``terms``, ``ideal``, ``nadir``, ``reference_point`` (all in term units), ``hypervolume``
(normalised), ``points`` (one row per plan: ``point``, ``file``, ``status``, ``terms``,
``hypervolume_contribution`` and, against a reference front, ``distance`` and ``epsilon``) and,
against a reference front, ``reference`` (its hypervolume under the same normalisation and the
front indicators above). :func:`read_front` reads such a summary back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluate import PLACEMENT_TERMS, SCHEDULING_TERMS, evaluate
from .plan import Assignment
from .problem import Problem

FRONT_FORMAT = 1  # ``taskalloc_front`` version of the summary
REFERENCE_MARGIN = 0.1  # reference point: nadir + 10 % of the range
TOL = 1e-9  # absolute tolerance when comparing term values

Array = np.ndarray


class TermError(ValueError):
    """The terms asked for cannot form a front of this problem."""


def check_terms(problem: Problem, terms: Sequence[str]) -> list[str]:
    """The terms as a list, if they can form a front of ``problem``; TermError otherwise."""
    names = [t.strip() for t in terms]
    allowed = SCHEDULING_TERMS if problem.scheduling else PLACEMENT_TERMS
    bad = [t for t in names if t not in allowed]
    if bad:
        kind = "scheduling" if problem.scheduling else "placement"
        extra = ""
        if any(t in SCHEDULING_TERMS for t in bad) and not problem.scheduling:
            extra = " (makespan and tardiness need tasks with durations)"
        raise TermError(
            f"unknown term(s) for a {kind} problem: {', '.join(repr(t) for t in bad)}; "
            f"choose from {', '.join(allowed)}{extra}"
        )
    if len(set(names)) != len(names):
        raise TermError(f"a term appears twice in {','.join(names)}")
    if not 2 <= len(names) <= 3:
        raise TermError(f"a front needs 2 or 3 terms, got {len(names)}: {','.join(names)}")
    return names


def term_vectors(
    problem: Problem, plans: Sequence[Sequence[Assignment]], terms: Sequence[str]
) -> Array:
    """One row per plan: its terms (evaluator values) in the order of ``terms``."""
    rows = []
    for assignments in plans:
        ev = evaluate(problem, assignments, reasons=False)
        rows.append([ev.terms[t] for t in terms])
    return np.asarray(rows, dtype=float).reshape(len(rows), len(terms))


# -- dominance ---------------------------------------------------------------------------------


def dominates(a: Sequence[float] | Array, b: Sequence[float] | Array, tol: float = TOL) -> bool:
    """a is at least as good as b in every term and better in one (minimisation)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(x <= y + tol) and np.any(x < y - tol))


def nondominated(points: Sequence[Sequence[float]] | Array, tol: float = TOL) -> list[int]:
    """Indices of the non-dominated points, without duplicates (the first of equal points is
    kept), in input order. Every input point is dominated by or equal to a returned one."""
    z = np.asarray(points, dtype=float)
    n = len(z)
    if n == 0:
        return []
    z = z.reshape(n, -1)
    le = np.all(z[:, None, :] <= z[None, :, :] + tol, axis=2)  # le[i, j]: i <= j everywhere
    lt = np.any(z[:, None, :] < z[None, :, :] - tol, axis=2)  # i < j somewhere
    dominated = np.any(le & lt, axis=0)  # some i dominates j
    keep: list[int] = []
    for j in range(n):
        if dominated[j]:
            continue
        if any(le[i, j] and le[j, i] for i in keep):  # equal to one already kept
            continue
        keep.append(j)
    return keep


# -- normalisation and hypervolume ---------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Per-term ideal and nadir (term units); ``reference`` is the hypervolume's reference point
    in term units."""

    ideal: tuple[float, ...]
    nadir: tuple[float, ...]

    @property
    def span(self) -> Array:
        s = np.asarray(self.nadir) - np.asarray(self.ideal)
        return np.where(s > TOL, s, 1.0)

    @property
    def reference(self) -> tuple[float, ...]:
        ref = np.asarray(self.ideal) + (1 + REFERENCE_MARGIN) * self.span
        return tuple(float(x) for x in ref)

    def normalise(self, points: Sequence[Sequence[float]] | Array) -> Array:
        z = np.asarray(points, dtype=float).reshape(-1, len(self.ideal))
        return (z - np.asarray(self.ideal)) / self.span


def scale_of(points: Sequence[Sequence[float]] | Array) -> Scale:
    """Ideal and nadir of the non-dominated points among ``points`` (at least one)."""
    z = np.asarray(points, dtype=float)
    if len(z) == 0:
        raise ValueError("no points: a front needs at least one plan")
    z = z.reshape(len(z), -1)[nondominated(z)]
    return Scale(tuple(float(x) for x in z.min(axis=0)), tuple(float(x) for x in z.max(axis=0)))


def _hv2(points: Array, ref: Array) -> float:
    """Exact 2D hypervolume (points already clipped to be < ref)."""
    if len(points) == 0:
        return 0.0
    order = np.lexsort((points[:, 1], points[:, 0]))
    area, best_y = 0.0, float(ref[1])
    for x, y in points[order]:
        if y < best_y:
            area += (float(ref[0]) - float(x)) * (best_y - float(y))
            best_y = float(y)
    return area


def hypervolume(points: Sequence[Sequence[float]] | Array, ref: Sequence[float]) -> float:
    """Exact volume of the region dominated by ``points`` and bounded by ``ref`` (1 to 3
    terms; points not strictly better than ``ref`` in every term add nothing)."""
    r = np.asarray(ref, dtype=float)
    d = len(r)
    z = np.asarray(points, dtype=float).reshape(-1, d)
    z = z[np.all(z < r, axis=1)]
    if len(z) == 0:
        return 0.0
    if d == 1:
        return float(r[0] - z[:, 0].min())
    if d == 2:
        return _hv2(z, r)
    if d == 3:
        levels = np.unique(z[:, 2])
        total = 0.0
        for k, level in enumerate(levels):
            top = levels[k + 1] if k + 1 < len(levels) else r[2]
            below = z[z[:, 2] <= level]
            total += _hv2(below[:, :2], r[:2]) * float(top - level)
        return total
    raise ValueError(f"hypervolume is exact for 1 to 3 terms, not {d}")


def contributions(points: Sequence[Sequence[float]] | Array, ref: Sequence[float]) -> list[float]:
    """Each point's exclusive hypervolume contribution (0 for dominated or duplicate points)."""
    z = np.asarray(points, dtype=float).reshape(-1, len(ref))
    total = hypervolume(z, ref)
    out = []
    for i in range(len(z)):
        rest = np.delete(z, i, axis=0)
        out.append(max(0.0, total - hypervolume(rest, ref)))
    return out


# -- distances to a reference front ------------------------------------------------------------


def _pair(z: Array, r: Array) -> tuple[Array, Array, Array]:
    """(euclidean, plus, eps) matrices, plans x reference points (normalised inputs)."""
    diff = z[:, None, :] - r[None, :, :]
    euclid = np.sqrt(np.sum(diff**2, axis=2))
    plus = np.sqrt(np.sum(np.maximum(diff, 0.0) ** 2, axis=2))
    eps = diff.max(axis=2)
    return euclid, plus, eps


def distances(
    points: Sequence[Sequence[float]] | Array,
    reference: Sequence[Sequence[float]] | Array,
    scale: Scale,
) -> tuple[list[float], list[float]]:
    """Per plan: (``distance``, ``epsilon``) to the reference front, normalised (module doc)."""
    z = scale.normalise(points)
    r = scale.normalise(reference)
    if len(z) == 0:
        return [], []
    _, plus, eps = _pair(z, r)
    return [float(x) for x in plus.min(axis=1)], [float(x) for x in eps.min(axis=1)]


def compare(
    points: Sequence[Sequence[float]] | Array,
    reference: Sequence[Sequence[float]] | Array,
    scale: Scale,
) -> dict[str, float]:
    """Front indicators against a reference front: gd, igd, gd_plus, igd_plus, epsilon."""
    z = scale.normalise(points)
    r = scale.normalise(reference)
    if len(z) == 0 or len(r) == 0:
        raise ValueError("both fronts need at least one point")
    euclid, plus, eps = _pair(z, r)
    return {
        "gd": float(euclid.min(axis=1).mean()),
        "igd": float(euclid.min(axis=0).mean()),
        "gd_plus": float(plus.min(axis=1).mean()),
        "igd_plus": float(plus.min(axis=0).mean()),
        "epsilon": float(eps.min(axis=0).max()),
    }


# -- the front summary -------------------------------------------------------------------------


@dataclass
class Reference:
    """A front read back from a summary: its terms, points (term units) and scale."""

    terms: list[str]
    points: Array
    scale: Scale
    source: str = ""


def _clean(x: float) -> float | int:
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return float(f"{x:.12g}")


def summary(
    terms: Sequence[str],
    points: Sequence[Sequence[float]] | Array,
    *,
    files: Sequence[str | None] | None = None,
    statuses: Sequence[str] | None = None,
    reference: Reference | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The front summary (module doc); ``points`` in term units, one per plan."""
    names = list(terms)
    z = np.asarray(points, dtype=float).reshape(-1, len(names))
    if reference is not None and reference.terms != names:
        raise TermError(
            f"the reference front is over {','.join(reference.terms)}, not {','.join(names)}"
        )
    scale = reference.scale if reference is not None else scale_of(z)
    unit_ref = [1 + REFERENCE_MARGIN] * len(names)
    zn = scale.normalise(z)
    contrib = contributions(zn, unit_ref)
    dist: list[float] = []
    eps: list[float] = []
    if reference is not None:
        dist, eps = distances(z, reference.points, scale)
    rows: list[dict[str, Any]] = []
    for i, vec in enumerate(z):
        row: dict[str, Any] = {"point": i + 1}
        if files is not None:
            row["file"] = files[i]
        if statuses is not None:
            row["status"] = statuses[i]
        row["terms"] = {t: _clean(float(v)) for t, v in zip(names, vec, strict=True)}
        row["hypervolume_contribution"] = _clean(contrib[i])
        if reference is not None:
            row["distance"] = _clean(dist[i])
            row["epsilon"] = _clean(eps[i])
        rows.append(row)
    out: dict[str, Any] = {"taskalloc_front": FRONT_FORMAT}
    if extra:
        out.update(extra)
    out["terms"] = names
    out["ideal"] = {t: _clean(v) for t, v in zip(names, scale.ideal, strict=True)}
    out["nadir"] = {t: _clean(v) for t, v in zip(names, scale.nadir, strict=True)}
    out["reference_point"] = {t: _clean(v) for t, v in zip(names, scale.reference, strict=True)}
    out["normalised"] = True
    out["hypervolume"] = _clean(hypervolume(zn, unit_ref))
    if reference is not None:
        ref_hv = hypervolume(scale.normalise(reference.points), unit_ref)
        out["reference"] = {
            "file": reference.source,
            "points": len(reference.points),
            "hypervolume": _clean(ref_hv),
            **{k: _clean(v) for k, v in compare(z, reference.points, scale).items()},
        }
    out["points"] = rows
    return out


def front_from_summary(data: Any, source: str = "") -> Reference:
    """A reference front from summary data (a mapping as :func:`summary` writes it);
    ValueError with what is wrong otherwise."""
    where = f"{source}: " if source else ""
    if not isinstance(data, Mapping) or data.get("taskalloc_front") != FRONT_FORMAT:
        raise ValueError(f"{where}not a front summary (no 'taskalloc_front: {FRONT_FORMAT}')")
    terms = data.get("terms")
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms) or not terms:
        raise ValueError(f"{where}'terms' must be a list of term names")
    rows = data.get("points")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{where}'points' must be a non-empty list")
    vecs = []
    for i, row in enumerate(rows):
        values = row.get("terms") if isinstance(row, Mapping) else None
        if not isinstance(values, Mapping) or any(t not in values for t in terms):
            raise ValueError(f"{where}points[{i}].terms must give {', '.join(terms)}")
        try:
            vecs.append([float(values[t]) for t in terms])
        except (TypeError, ValueError):
            raise ValueError(f"{where}points[{i}].terms must be numbers") from None
    z = np.asarray(vecs, dtype=float)
    z = z[nondominated(z)]
    return Reference(list(terms), z, scale_of(z), source)


def table(data: Mapping[str, Any]) -> list[str]:
    """A human table of a front summary (one line per plan)."""
    names: list[str] = list(data["terms"])
    rows: list[dict[str, Any]] = list(data["points"])
    has_ref = "reference" in data
    head = ["#", "file", "status", *names, "hv contrib"]
    if has_ref:
        head += ["distance", "epsilon"]
    body = []
    for row in rows:
        cells = [
            str(row["point"]),
            str(row.get("file") or "-"),
            str(row.get("status") or "-"),
            *(f"{row['terms'][t]:.6g}" for t in names),
            f"{row['hypervolume_contribution']:.4g}",
        ]
        if has_ref:
            cells += [f"{row['distance']:.4g}", f"{row['epsilon']:.4g}"]
        body.append(cells)
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    ref = data["reference_point"]
    lines.append(
        f"hypervolume {data['hypervolume']:.6g} (normalised; reference point "
        + ", ".join(f"{t}={ref[t]:.6g}" for t in names)
        + ")"
    )
    if has_ref:
        r = data["reference"]
        lines.append(
            f"reference front {r['file'] or ''} ({r['points']} points): hypervolume "
            f"{r['hypervolume']:.6g}; gd {r['gd']:.4g}, igd {r['igd']:.4g}, "
            f"igd+ {r['igd_plus']:.4g}, epsilon {r['epsilon']:.4g}"
        )
    return lines
