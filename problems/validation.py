"""Argument checks shared by the factories.

Each raises ``ValueError`` with one sentence naming the parameter, the bad value and what
would be valid; bench turns these into config errors (exit status 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``."""
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """``value`` as a finite float in ``[low, high]`` (or ``(low, high]``)."""
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None:
        if low_inclusive and value < low:
            raise ValueError(f"{name} must be >= {low:g}, got {value:g}")
        if not low_inclusive and value <= low:
            raise ValueError(f"{name} must be > {low:g}, got {value:g}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value:g}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` as one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_batch_size(batch_size: Any, num_rows: int) -> int | None:
    """``batch_size`` as None (full batch) or an int in ``[1, num_rows]``."""
    if batch_size is None:
        return None
    if not _is_int(batch_size) or not 1 <= batch_size <= num_rows:
        raise ValueError(
            f"batch_size must be an integer between 1 and the {num_rows} rows of the data "
            f"(or absent for the full batch), got {batch_size!r}"
        )
    return int(batch_size)
