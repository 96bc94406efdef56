"""Plateau surfaces: a wide flat region where the gradient nearly vanishes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from problems.base import Array, Batch, Problem, propagate_nan
from problems.validation import check_float, check_int


def plateau(
    dim: int = 2, width: float = 1.0, aspect: float = 5.0, start_distance: float = 4.0
) -> Problem:
    """An inverted Gaussian well, elongated: a narrow, tilted basin in an almost flat plain.

    ``f(x) = 1 - exp(-(1/2) sum_i (x_i / w_i)^2)``, with widths ``w_i`` log-spaced from
    ``width`` (axis 0) down to ``width / aspect`` (the last axis).

    Minimum ``f* = 0`` at ``x* = 0``, Hessian ``diag(1 / w_i^2)`` (condition number
    ``aspect^2``). Away from the well ``f`` rises to 1 on a plain where, at whitened radius
    ``r = |x / w|``, ``|grad f| = exp(-r^2 / 2) |x / w^2|``: at the default start ``r = 4``
    about ``1.3e-3 / width`` along the widest axis. Gradient descent crawls; methods that
    normalize the step (Adam, sign-based) cross it. ``aspect > 1`` makes the well elongated,
    so ``-grad f`` does not point at the minimum and one exact line search does not solve it
    (with ``aspect = 1`` the well is round and it does).

    Start: on the ellipsoid of whitened radius ``start_distance`` (``x0 = start_distance *
    w * u``) in a direction ``u`` drawn uniformly from the run seed, so every start is
    equally deep in the plain. Window: ``±(start_distance + 1) width`` per coordinate.

    Source: built for this suite, after the plateaus of I. Goodfellow, Y. Bengio &
    A. Courville (2016), Deep Learning, MIT Press, Sec. 8.2.3.
    """
    dim = check_int("dim", dim, low=1, high=100_000)
    width = check_float("width", width, low=0.0, low_inclusive=False)
    aspect = check_float("aspect", aspect, low=1.0)
    start_distance = check_float("start_distance", start_distance, low=0.0)
    widths = width / np.geomspace(1.0, aspect, dim)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        return propagate_nan(-jnp.expm1(-0.5 * jnp.sum((x / widths) ** 2)), x)

    def init(key: Array) -> Array:
        direction = jax.random.normal(key, (dim,), jnp.result_type(float))
        return start_distance * widths * direction / jnp.linalg.norm(direction)

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
            f"elongated inverted Gaussian well in {dim}-d (aspect {aspect:g}): flat plain, "
            f"start {start_distance:g} widths out"
        ),
        source="Goodfellow, Bengio & Courville (2016), Deep Learning, Sec. 8.2.3",
    )
