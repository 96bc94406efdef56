"""Plateau surfaces: a wide flat region where the gradient nearly vanishes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from problems.base import Array, Batch, Problem, propagate_nan
from problems.validation import check_float, check_int


def plateau(dim: int = 2, width: float = 1.0, start_distance: float = 4.0) -> Problem:
    """An inverted Gaussian well: a narrow basin in an almost flat plain.

    ``f(x) = 1 - exp(-|x|^2 / (2 width^2))``.

    Minimum ``f* = 0`` at ``x* = 0`` (Hessian ``I / width^2``); ``f`` rises to 1 on a plain
    where ``|grad f| = (r / width^2) exp(-r^2 / (2 width^2))`` at distance ``r``: about
    ``1.3e-3 / width`` at the default start ``r = 4 width``, ``2e-5 / width`` at ``5 width``.
    Gradient descent crawls; methods that normalize the step (Adam, sign-based) cross it.

    Start: on the sphere of radius ``start_distance * width`` around the minimum, in a
    direction drawn uniformly from the run seed. Window: ``±(start_distance + 1) width`` per
    coordinate.

    Source: built for this suite, after the plateaus of I. Goodfellow, Y. Bengio &
    A. Courville (2016), Deep Learning, MIT Press, Sec. 8.2.3.
    """
    dim = check_int("dim", dim, low=1, high=100_000)
    width = check_float("width", width, low=0.0, low_inclusive=False)
    start_distance = check_float("start_distance", start_distance, low=0.0)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        return propagate_nan(-jnp.expm1(-jnp.sum(x**2) / (2.0 * width**2)), x)

    def init(key: Array) -> Array:
        direction = jax.random.normal(key, (dim,), jnp.result_type(float))
        return (start_distance * width) * direction / jnp.linalg.norm(direction)

    half_width = (start_distance + 1.0) * width
    return Problem(
        name="plateau",
        dim=dim,
        init=init,
        loss=loss,
        f_star=0.0,
        x_star=np.zeros((1, dim)),
        bounds=((-half_width, half_width),) * dim,
        description=(
            f"inverted Gaussian well in {dim}-d: flat plain, start {start_distance:g} widths out"
        ),
        source="Goodfellow, Bengio & Courville (2016), Deep Learning, Sec. 8.2.3",
    )
