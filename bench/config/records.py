"""The records of a checked config: a Suite and its OptimizerSettings (nothing left to check)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax

from optimizers import Optimizer
from optimizers.schedules import SCHEDULES
from problems import Problem

# A message longer than this is cut in the middle: a factory's own error may quote a long
# value in full, and one paragraph must stay readable.
MAX_MESSAGE_CHARS = 2_000


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    head, tail = message[: MAX_MESSAGE_CHARS - 400], message[-300:]
    return f"{head} ... [{len(message) - len(head) - len(tail):,} characters cut] ... {tail}"


class ConfigError(Exception):
    """A config (or command-line input) that cannot be run; carries every message found."""

    def __init__(self, messages: list[str]):
        messages = [_bounded(str(m)) for m in messages]
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclasses.dataclass(frozen=True)
class OptimizerSetting:
    """One optimizer entry of the YAML: static arguments plus a grid of swept numbers.

    Attributes:
      name: the entry's name in the results (YAML ``name``, default its kind).
      entry: the registry entry.
      static: arguments fixed for the cell (a change means another compile).
      grid: swept hyperparameter -> values; the cartesian product of all of them is the
        setting axis of the cell, traced as arrays so it compiles once.
      schedule: (kind, kwargs) of a learning-rate multiplier schedule, or None.
      clip_norm: clip gradients by this global norm first, or None.
      allow_stochastic: run a deterministic-only method on stochastic problems anyway.
      default: the untuned setting: swept values a user gets without tuning (the factory's
        defaults, overridden by the entry's ``default:``); None where one has no default.
    """

    name: str
    entry: Optimizer
    static: Mapping[str, Any]
    grid: Mapping[str, tuple[float, ...]]
    schedule: tuple[str, Mapping[str, Any]] | None = None
    clip_norm: float | None = None
    allow_stochastic: bool = False
    default: Mapping[str, float] | None = None

    def default_index(self) -> int | None:
        """The position of the untuned setting in ``settings()``, or None if not in the grid."""
        if self.default is None:
            return None
        for index, point in enumerate(self.settings()):
            if all(math.isclose(point[k], v, rel_tol=1e-12) for k, v in self.default.items()):
                return index
        return None

    def settings(self) -> list[dict[str, float]]:
        """Every point of the grid, in a stable order (the first parameter varies slowest)."""
        names = list(self.grid)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def make_schedule(self) -> Callable[[jax.Array], jax.Array] | None:
        """The multiplier schedule, built fresh (it holds no state)."""
        if self.schedule is None:
            return None
        kind, kwargs = self.schedule
        return SCHEDULES[kind](**kwargs)


@dataclasses.dataclass(frozen=True)
class Suite:
    """A checked config: everything the runner needs, nothing left to validate."""

    name: str
    description: str
    steps: int
    seeds: tuple[int, ...]
    target: float | None
    dtype: str
    record_every: int
    record_log: bool
    record_points: int
    max_hessian_dim: int
    curvature_max_dim: int
    problems: tuple[Problem, ...]
    optimizers: tuple[OptimizerSetting, ...]
    source: str
    raw: Mapping[str, Any]
    # Dense-state optimizers (BFGS) are skipped above this dim; None: max_hessian_dim.
    max_dense_state_dim: int | None = None

    def __post_init__(self) -> None:
        if self.max_dense_state_dim is None:
            object.__setattr__(self, "max_dense_state_dim", self.max_hessian_dim)


def set_dtype(dtype: str) -> None:
    """float64 needs JAX's x64 mode, switched on before any problem or array is built."""
    jax.config.update("jax_enable_x64", dtype == "float64")
