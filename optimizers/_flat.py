"""Flat-vector views of parameters for the second-order methods (which work on R^n)."""

from collections.abc import Callable
from typing import Any

import jax
from jax.flatten_util import ravel_pytree


def flat_problem(
    params: Any, updates: Any, value_fn: Callable[[Any], jax.Array] | None, owner: str
) -> tuple[jax.Array, jax.Array, Callable[[jax.Array], jax.Array], Callable[[jax.Array], Any]]:
    """Returns ``(x, g, fn, unravel)``: flat params, flat gradient, ``fn(flat) -> value``."""
    if params is None:
        raise ValueError(f"{owner}: update() needs the current parameters (params).")
    if value_fn is None:
        raise ValueError(f"{owner}: update() needs value_fn=, the loss on the step's batch.")
    x, unravel = ravel_pytree(params)
    g, _ = ravel_pytree(updates)

    def fn(z: jax.Array) -> jax.Array:
        return value_fn(unravel(z))

    return x, g.astype(x.dtype), fn, unravel
