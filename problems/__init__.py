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

# Arguments for building a kind whose factory has required parameters, for listings and
# `bench check --all`; every other kind builds with its defaults.
EXAMPLE_ARGUMENTS: dict[str, dict[str, Any]] = {"expression": EXAMPLE_HIMMELBLAU}

__all__ = ["EXAMPLE_ARGUMENTS", "PROBLEMS", "Problem"]
