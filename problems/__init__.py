"""The registry of loss surfaces: kind -> factory returning a Problem.

Explicit on purpose: no decorators, no discovery. A factory's signature is its YAML schema.
"""

from collections.abc import Callable
from typing import Any

from problems.base import Problem
from problems.classic import (
    ackley,
    beale,
    booth,
    goldstein_price,
    himmelblau,
    rastrigin,
    rosenbrock,
    six_hump_camel,
    styblinski_tang,
)
from problems.expression import EXAMPLE_HIMMELBLAU, expression
from problems.learning import logistic, mlp
from problems.plateaus import plateau
from problems.quadratic import least_squares, quadratic
from problems.saddles import saddle, saddle_nd

PROBLEMS: dict[str, Callable[..., Problem]] = {
    # quadratics
    "quadratic": quadratic,
    "least_squares": least_squares,
    # classic surfaces
    "rosenbrock": rosenbrock,
    "beale": beale,
    "booth": booth,
    "himmelblau": himmelblau,
    "six_hump_camel": six_hump_camel,
    "goldstein_price": goldstein_price,
    "styblinski_tang": styblinski_tang,
    "rastrigin": rastrigin,
    "ackley": ackley,
    # saddles and plateaus
    "saddle": saddle,
    "saddle_nd": saddle_nd,
    "plateau": plateau,
    # learning objectives
    "logistic": logistic,
    "mlp": mlp,
    # user formulas
    "expression": expression,
}

# The kind of surface each problem kind is (the report's summaries and runtime profiles by
# class): declared here, beside the registry, never guessed from a name. A learning
# objective sampled in mini-batches is reported as `STOCHASTIC_LEARNING` (bench reads the
# problem's `stochastic` flag).
QUADRATIC_VALLEY = "quadratics and valleys"
MULTIMODAL = "multimodal"
SADDLE_PLATEAU = "saddles and plateaus"
LEARNING = "learning objectives"
STOCHASTIC_LEARNING = "stochastic learning objectives"
USER_FORMULA = "user formulas"
SURFACE_CLASSES: dict[str, str] = {
    "quadratic": QUADRATIC_VALLEY,
    "least_squares": QUADRATIC_VALLEY,
    "rosenbrock": QUADRATIC_VALLEY,  # the curved valley
    "beale": QUADRATIC_VALLEY,  # one minimum at the end of narrow curved valleys
    "booth": QUADRATIC_VALLEY,  # a quadratic
    "himmelblau": MULTIMODAL,
    "six_hump_camel": MULTIMODAL,
    "goldstein_price": MULTIMODAL,
    "styblinski_tang": MULTIMODAL,
    "rastrigin": MULTIMODAL,
    "ackley": MULTIMODAL,
    "saddle": SADDLE_PLATEAU,
    "saddle_nd": SADDLE_PLATEAU,
    "plateau": SADDLE_PLATEAU,
    "logistic": LEARNING,
    "mlp": LEARNING,
    "expression": USER_FORMULA,
}


def surface_class(kind: str, stochastic: bool) -> str:
    """The class a problem of ``kind`` is reported under."""
    declared = SURFACE_CLASSES[kind]
    return STOCHASTIC_LEARNING if declared == LEARNING and stochastic else declared


# Arguments for building a kind whose factory has required parameters, for listings and
# `bench check --all`; every other kind builds with its defaults.
EXAMPLE_ARGUMENTS: dict[str, dict[str, Any]] = {"expression": EXAMPLE_HIMMELBLAU}

# The numerics version of each module: bump it when the module's arithmetic changes (a
# formula, a dataset's preprocessing, a start), not for a comment. Every cell key
# (bench/run/keys.py) holds the version of its problem's family and of the shared modules,
# so a bump recomputes exactly the cells of that family.
NUMERICS_VERSIONS: dict[str, int] = {
    "problems.quadratic": 1,
    "problems.classic": 1,
    "problems.saddles": 1,
    "problems.plateaus": 1,
    "problems.learning": 1,
    "problems.expression": 1,
    # shared by every problem
    "problems.base": 1,
    "problems.datasets": 1,
}
SHARED_MODULES = ("problems.base", "problems.datasets")


def numerics_versions(kind: str) -> dict[str, int]:
    """The versions a cell of problem ``kind`` depends on: its family's and the shared ones."""
    family = PROBLEMS[kind].__module__
    return {m: NUMERICS_VERSIONS[m] for m in (family, *SHARED_MODULES)}


__all__ = [
    "EXAMPLE_ARGUMENTS",
    "NUMERICS_VERSIONS",
    "PROBLEMS",
    "SURFACE_CLASSES",
    "Problem",
    "numerics_versions",
    "surface_class",
]
