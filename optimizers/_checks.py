"""Eager validation of factory arguments: one-sentence ValueErrors naming the parameter.

Numeric hyperparameters may arrive as traced JAX scalars (a swept grid axis), so a numeric
check runs only when the value is a plain Python / NumPy number; static arguments (ints,
booleans, variant names) are always checked.
"""

import numbers
from collections.abc import Iterable
from typing import Any


def is_number(value: Any) -> bool:
    """True for a concrete Python/NumPy real number (not a bool, not a JAX tracer)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fail(owner: str, name: str, expected: str, value: Any) -> None:
    raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}.")


def check_positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    """A number > 0 (or >= 0); callables (schedules) and tracers pass unchecked."""
    if isinstance(value, bool):
        _fail(owner, name, "a number", value)
    if is_number(value) and not (value >= 0 if allow_zero else value > 0):
        _fail(owner, name, "a number >= 0" if allow_zero else "a number > 0", value)


def check_interval(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    closed_low: bool = True,
    closed_high: bool = False,
) -> None:
    """A number in the interval between low and high (closed or open ends)."""
    if isinstance(value, bool):
        _fail(owner, name, "a number", value)
    if not is_number(value):
        return
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    if not (above and below):
        left = "[" if closed_low else "("
        right = "]" if closed_high else ")"
        _fail(owner, name, f"in {left}{low:g}, {high:g}{right}", value)


def check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> None:
    """A static Python int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(owner, name, f"an integer >= {minimum}", value)
    if value < minimum:
        _fail(owner, name, f"an integer >= {minimum}", value)


def check_optional_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> None:
    """None, or a static Python int >= minimum."""
    if value is not None:
        check_int(owner, name, value, minimum=minimum)


def check_bool(owner: str, name: str, value: Any) -> None:
    """A static Python bool."""
    if not isinstance(value, bool):
        _fail(owner, name, "true or false", value)


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> None:
    """One of a fixed set of names."""
    choices = tuple(choices)
    if value not in choices:
        _fail(owner, name, "one of " + ", ".join(repr(c) for c in choices), value)


def check_wolfe_constants(owner: str, c1: Any, c2: Any) -> None:
    """0 < c1 < c2 < 1, the condition under which strong-Wolfe steps exist."""
    check_interval(owner, "c1", c1, 0.0, 1.0, closed_low=False)
    check_interval(owner, "c2", c2, 0.0, 1.0, closed_low=False)
    if is_number(c1) and is_number(c2) and not c1 < c2:
        raise ValueError(f"{owner}: c1 must be smaller than c2, got c1={c1!r} and c2={c2!r}.")
