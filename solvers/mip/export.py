"""``taskalloc export``: the MILP of a problem as an LP, MPS or NL file for any external solver.

The file holds the model of :mod:`.model` with one objective: the plan's scalar fitness
(FORMATS.md / README: ``sum W[i] * term[i]``; for a ``weights`` objective the weighted sum
itself). For a lexicographic objective its weights make a decrease of 1 in an earlier term
outweigh any change in the later ones, so the file's optimum is the lexicographic optimum
whenever earlier terms move in steps of at least 1 (integer priorities, costs, counts, times);
``taskalloc solve -s mip`` instead solves term by term.

Names are readable: in MPS exactly the model's (``x[train-llm#0,a100-1]``, ``assign[train-llm#0]``,
``capacity[a100-1,gpu]``); in LP the same with the characters CPLEX LP forbids replaced
(``[]`` by ``()``, ``-`` and ``:`` by ``_``: ``x(train_llm#0,a100_1)``), a ``~2``-style suffix
keeping them unique; in NL (whose body has no names) in the ``.row`` and ``.col`` files written
next to it. Pyomo's own writers produce every format.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from taskalloc.problems.evaluate import fitness_weights
from taskalloc.problems.problem import Problem

from ..features import refuse_unhandled
from .model import MipModel, gc_paused
from .solver import build_model

FORMATS = ("lp", "mps", "nl")

# characters CPLEX LP allows in names besides letters and digits
_LP_OK = set("!\"#$%&()/,.;?@_`'{}|~")


@dataclass
class Exported:
    text: str
    sidecars: dict[str, str] = field(default_factory=dict)  # suffix (.row, .col) -> text
    variables: int = 0
    binary: int = 0
    constraints: int = 0
    objective: str = ""


def readable_name(obj: Any) -> str:
    """``component[index,...]`` with the index parts as written (no quotes)."""
    comp = obj.parent_component()
    name = str(comp.local_name)
    if not comp.is_indexed():
        return name
    idx = obj.index()
    parts = idx if isinstance(idx, tuple) else (idx,)
    return f"{name}[{','.join(str(p) for p in parts)}]"


class Labeler:
    """Readable, unique, format-legal names for Pyomo's LP and MPS writers."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.used: set[str] = set()

    def __call__(self, obj: Any) -> str:
        name = readable_name(obj)
        if self.fmt == "lp":
            name = "".join(_lp_char(c) for c in name)
        base, k = name, 1
        while name in self.used:
            k += 1
            name = f"{base}~{k}"
        self.used.add(name)
        return name


def _lp_char(c: str) -> str:
    if c.isalnum() or c in _LP_OK:
        return c
    return {"[": "(", "]": ")"}.get(c, "_")


def objective_of(problem: Problem, model: MipModel) -> tuple[Any, str]:
    """The fitness as a Pyomo expression, and its description."""
    weights = {t: w for t, w in fitness_weights(problem).items() if w and t in model.terms}
    expr = sum(w * model.terms[t] for t, w in weights.items())
    text = " + ".join(f"{w:.10g} * {t}" for t, w in weights.items()) or "0"
    kind = problem.objective.kind
    if kind == "lexicographic" and len(weights) > 1:
        order = ", ".join(weights)
        return expr, f"minimise {text} (the fitness: lexicographic {order} as one scalar)"
    return expr, f"minimise {text}"


def export_model(problem: Problem, fmt: str) -> Exported:
    """The MILP of ``problem`` in ``fmt`` (lp, mps or nl); raises MipRefused when the
    time-indexed model would be too large."""
    refuse_unhandled(problem, "mip")  # revision-2 features it cannot model yet
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    with gc_paused():
        model = build_model(problem)
        expr, description = objective_of(problem, model)
        model.m.objective = pyo.Objective(expr=expr, sense=pyo.minimize)
        size = model.size()
        with tempfile.TemporaryDirectory(prefix="taskalloc-export-") as tmp:
            path = Path(tmp) / f"model.{fmt}"
            if fmt == "nl":
                options: dict[str, Any] = {"symbolic_solver_labels": True}
            else:
                options = {"labeler": Labeler(fmt)}
            # the format follows the file's suffix (lp: Pyomo's lp_v2 writer)
            model.m.write(str(path), io_options=options)
            text = path.read_text(encoding="utf-8")
            sidecars = {}
            for suffix in (".row", ".col"):
                side = path.with_suffix(suffix)
                if side.exists():
                    sidecars[suffix] = side.read_text(encoding="utf-8")
    return Exported(
        text=text,
        sidecars=sidecars,
        variables=size["variables"],
        binary=size["binary"],
        constraints=size["constraints"],
        objective=description,
    )
