"""DEAP fitness and individual classes of the GA, defined at module level.

No ``deap.creator`` state: the classes are plain subclasses (``weights`` as a class attribute,
all DEAP's ``base.Fitness`` needs), so runs and worker processes never share or overwrite
global classes.
"""

from __future__ import annotations

import math

import numpy as np
from deap import base


class Fitness(base.Fitness):
    """(violation score, scalar fitness), both minimised, compared lexicographically."""

    weights = (-1.0, -1.0)


class ParetoFitness2(base.Fitness):
    weights = (-1.0, -1.0)


class ParetoFitness3(base.Fitness):
    weights = (-1.0, -1.0, -1.0)


class Individual(np.ndarray):
    """Genes as an int64 array with a DEAP fitness (and the decoded starts, scheduling)."""

    fitness: base.Fitness
    start: np.ndarray | None
    terms: dict[str, float] | None
    viol: float

    @classmethod
    def make(cls, genes: np.ndarray, fitness_cls: type[base.Fitness] = Fitness) -> Individual:
        ind = np.array(genes, dtype=np.int64).view(cls)
        ind.fitness = fitness_cls()
        ind.start = None
        ind.terms = None
        ind.viol = math.inf
        return ind

    def clone(self) -> Individual:
        other = Individual.make(np.asarray(self), type(self.fitness))
        if self.fitness.valid:
            other.fitness.values = self.fitness.values
        other.start, other.terms, other.viol = self.start, self.terms, self.viol
        return other
