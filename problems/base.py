"""The Problem record: one loss surface, everything the runner and the checks need to know.

Parameters are always ONE flat float vector of length ``dim``. A problem with structure (an
MLP) unravels the vector inside its loss, so every optimizer sees the same kind of object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Batch = Any


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """An immutable loss surface, built by a factory in ``problems/``.

    Attributes:
      name: the name results are filed under (the YAML ``name``, default the kind).
      dim: length of the flat parameter vector.
      init: ``init(key) -> x0``. A classic surface returns its standard start for every key;
        a surface without one draws a seeded random start from ``key``.
      loss: ``loss(x, batch) -> scalar``. For deterministic problems ``batch`` is ``data``
        (usually None) and is ignored.
      data: the full batch (a pytree of arrays), or None.
      sample: ``sample(data, key) -> batch`` for stochastic / mini-batch problems, None for
        deterministic ones. The recorded metric is always the full objective ``loss(x, data)``.
      f_star: the known minimum value, or None when unknown.
      x_star: known minimizers, shape ``(k, dim)``; distances are to the nearest one.
      bounds: per-coordinate ``(low, high)``: the plotting window, or the domain.
      description: one line for `python -m bench list` and the report.
      source: where the formula, the minimum and the start come from.
      smoothness: L, the largest eigenvalue of the full objective's Hessian over the whole
        domain (an upper bound where only that is known), or None: gradient descent is
        stable for learning rates below 2/L, which the report suggests for a grid.
    """

    name: str
    dim: int
    init: Callable[[Array], Array]
    loss: Callable[[Array, Batch], Array]
    data: Batch = None
    sample: Callable[[Batch, Array], Batch] | None = None
    f_star: float | None = None
    x_star: np.ndarray | None = None
    bounds: tuple[tuple[float, float], ...] | None = None
    description: str = ""
    source: str = ""
    smoothness: float | None = None

    def __post_init__(self) -> None:
        if self.x_star is not None:
            x_star = np.atleast_2d(np.asarray(self.x_star, dtype=np.float64))
            if x_star.shape[1] != self.dim:
                raise ValueError(
                    f"problem {self.name!r}: x_star has {x_star.shape[1]} coordinates, dim is "
                    f"{self.dim}"
                )
            object.__setattr__(self, "x_star", x_star)

    @property
    def stochastic(self) -> bool:
        """Whether each step sees a sampled batch instead of the full data."""
        return self.sample is not None

    def objective(self, x: Array) -> Array:
        """The full objective ``loss(x, data)``: what is recorded and what f* refers to."""
        return self.loss(x, self.data)


@dataclasses.dataclass(frozen=True, eq=False)
class FixedStart:
    """An ``init`` that returns the same standard start ``x0`` for every seed.

    A type of its own, so the runner can see that the start needs no key: it compiles
    ``x0`` into the cell as a constant instead of drawing starts for the seeds.
    """

    x0: np.ndarray

    def __call__(self, key: Array | None) -> Array:
        del key  # a standard start is the same for every seed, by definition
        return jnp.asarray(self.x0, dtype=jnp.result_type(float))


def fixed_start(x0: Any) -> FixedStart:
    """An ``init`` that returns the same standard start for every seed."""
    return FixedStart(np.asarray(x0, dtype=np.float64))


def normal_start(dim: int, scale: float = 1.0, center: Any = 0.0) -> Callable[[Array], Array]:
    """An ``init`` drawing ``center + scale * N(0, I)`` from the seed's key."""
    center = np.broadcast_to(np.asarray(center, dtype=np.float64), (dim,)).copy()

    def init(key: Array) -> Array:
        dtype = jnp.result_type(float)
        return jnp.asarray(center, dtype) + scale * jax.random.normal(key, (dim,), dtype)

    return init


def uniform_start(bounds: tuple[tuple[float, float], ...]) -> Callable[[Array], Array]:
    """An ``init`` drawing uniformly inside per-coordinate ``bounds``."""
    low = np.array([b[0] for b in bounds], dtype=np.float64)
    high = np.array([b[1] for b in bounds], dtype=np.float64)

    def init(key: Array) -> Array:
        dtype = jnp.result_type(float)
        u = jax.random.uniform(key, (low.size,), dtype)
        return jnp.asarray(low, dtype) + u * jnp.asarray(high - low, dtype)

    return init


def with_start(problem: Problem, x0: Any) -> Problem:
    """The same problem started at ``x0`` (YAML ``init: [...]``) for every seed."""
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    if x0.size != problem.dim:
        raise ValueError(f"init has {x0.size} coordinates, the problem has dim {problem.dim}")
    return dataclasses.replace(problem, init=fixed_start(x0))


def with_init_noise(problem: Problem, sigma: float) -> Problem:
    """The same problem with its start perturbed per seed by ``sigma * N(0, I)``."""
    base_init = problem.init

    def init(key: Array) -> Array:
        start_key, noise_key = jax.random.split(key)
        x0 = base_init(start_key)
        return x0 + sigma * jax.random.normal(noise_key, x0.shape, x0.dtype)

    return dataclasses.replace(problem, init=init)


def renamed(problem: Problem, name: str) -> Problem:
    """The same problem filed under another name."""
    return dataclasses.replace(problem, name=name)


def nearest_distance(x: Array, x_star: np.ndarray | None) -> Array:
    """Euclidean distance from ``x`` to the nearest known minimizer (NaN if none is known)."""
    if x_star is None:
        return jnp.full((), jnp.nan, x.dtype)
    diffs = x[None, :] - jnp.asarray(x_star, x.dtype)
    return jnp.min(jnp.linalg.norm(diffs, axis=1))


def propagate_nan(value: Array, x: Array) -> Array:
    """``value``, or NaN when ``x`` holds a NaN: a NaN point never looks like a good one."""
    # jnp.where keeps gradients and Hessians of `value` untouched wherever x is finite.
    return jnp.where(jnp.any(jnp.isnan(x)), jnp.nan, value)


def random_rotation(dim: int, seed: int) -> np.ndarray:
    """A Haar-random orthogonal ``(dim, dim)`` matrix from a numpy seed (QR with signs fixed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def minibatch_sampler(
    batch_size: int | None, num_rows: int
) -> Callable[[Batch, Array], Batch] | None:
    """``sample(data, key)`` drawing ``batch_size`` rows uniformly, i.i.d.; None: full batch.

    Rows are drawn independently with replacement, the sampling model of stochastic
    approximation (Robbins & Monro 1951; Bottou, Curtis & Nocedal 2018, Sec. 4): each batch
    gradient is an unbiased estimate of the full one. Drawing without replacement per step
    (``jax.random.choice(replace=False)``) sorts a permutation of all rows at every step of
    every lane, which made the mini-batch cells ~40x slower for no statistical gain: a
    batch of 64 of digits' 1797 rows holds a repeated row with probability ~0.67, about one
    repeat on average, i.e. a 1/64 reweighting of a batch.
    """
    if batch_size is None:
        return None

    def sample(data: Batch, key: Array) -> Batch:
        rows = jax.random.randint(key, (batch_size,), 0, num_rows)
        return jax.tree.map(lambda leaf: jnp.take(leaf, rows, axis=0), data)

    return sample
