"""taskalloc: which task goes on which node, and when.

The code lives in three subpackages: ``taskalloc.problems`` (problem model, plan, evaluation,
checking), ``taskalloc.solvers`` (one formulation per backend) and ``taskalloc.cli``.
"""

__version__ = "0.1.0"
