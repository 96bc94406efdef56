"""Saddle surfaces: the start sits next to a strict saddle, the minima lie elsewhere.

What these measure is escape: gradient descent leaves a strict saddle at a rate set by the
most negative curvature and by how close to the saddle it starts.
"""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from problems.base import Array, Batch, Problem, normal_start, propagate_nan, random_rotation
from problems.validation import check_float, check_int

MAX_NEGATIVE_DIRECTIONS = 10  # x_star lists all 2^k minima
MAX_SADDLE_DIM = 2000  # a dense rotation is built at construction


def saddle(start_radius: float = 1e-3) -> Problem:
    """A strict saddle between two minima (2-d).

    ``f(x, y) = x^2 / 2 + y^4 / 4 - y^2 / 2``.

    Critical points: the strict saddle ``(0, 0)`` with Hessian ``diag(1, -1)``, and the two
    minima ``x* = (0, ±1)`` with ``f* = -1/4`` and Hessian ``diag(1, 2)``. Start: next to
    the saddle, ``x0 = start_radius * N(0, I)`` drawn from the run seed (the sign of ``y``
    picks the minimum). Plain gradient descent with step ``eta`` needs about
    ``log(1 / start_radius) / log(1 + eta)`` steps to escape.

    Source: the strict-saddle example of J. D. Lee, M. Simchowitz, M. I. Jordan & B. Recht
    (2016), "Gradient descent only converges to minimizers", COLT (arXiv:1602.04915).
    """
    start_radius = check_float("start_radius", start_radius, low=0.0, low_inclusive=False)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        value = 0.5 * x[0] ** 2 + 0.25 * x[1] ** 4 - 0.5 * x[1] ** 2
        return propagate_nan(value, x)

    return Problem(
        name="saddle",
        dim=2,
        init=normal_start(2, scale=start_radius),
        loss=loss,
        f_star=-0.25,
        x_star=np.array([[0.0, 1.0], [0.0, -1.0]]),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
        description=f"strict saddle at 0, minima (0, ±1), start {start_radius:g} from the saddle",
        source="Lee, Simchowitz, Jordan & Recht (2016), COLT, arXiv:1602.04915",
    )


def saddle_nd_curvatures(dim: int, negative_directions: int) -> tuple[np.ndarray, np.ndarray]:
    """``saddle_nd``'s curvature scales: ``lambda`` (negative part) and ``mu`` (positive part)."""
    lambdas = np.geomspace(1.0, 0.1, negative_directions)
    mus = np.geomspace(1.0, 10.0, dim - negative_directions)
    return lambdas, mus


def saddle_nd(
    dim: int = 10,
    negative_directions: int = 3,
    start_radius: float = 1e-3,
    seed: int = 0,
) -> Problem:
    """A rotated saddle with several directions of negative curvature.

    In rotated coordinates ``z = Q x`` (``Q`` a Haar-random rotation drawn from ``seed``), with
    ``k = negative_directions``:

    ``f(x) = sum_{i<k} lambda_i (z_i^4 / 4 - z_i^2 / 2) + sum_{j>=k} mu_j z_j^2 / 2``,

    ``lambda = geomspace(1, 0.1, k)`` (the slowest escape direction is ten times weaker than
    the fastest), ``mu = geomspace(1, 10, dim - k)``.

    Critical points: the saddle ``x = 0`` with ``k`` negative Hessian eigenvalues
    ``-lambda_i`` (and ``+mu_j``); lower-index saddles wherever some ``z_i = 0``; ``2^k`` minima
    ``x* = Q^T (±1, ..., ±1, 0, ..., 0)``, all with ``f* = -sum(lambda) / 4`` and Hessian
    eigenvalues ``2 lambda_i`` and ``mu_j``. Start: next to the saddle,
    ``x0 = start_radius * N(0, I)`` drawn from the run seed. ``k <= 10``, ``dim <= 2000``.

    Source: built for this suite on the strict-saddle model of R. Ge, F. Huang, C. Jin &
    Y. Yuan (2015), "Escaping from saddle points", COLT, and C. Jin et al. (2017), "How to
    escape saddle points efficiently", ICML.
    """
    dim = check_int("dim", dim, low=1, high=MAX_SADDLE_DIM)
    negative_directions = check_int(
        "negative_directions", negative_directions, low=1, high=MAX_NEGATIVE_DIRECTIONS
    )
    if negative_directions > dim:
        raise ValueError(f"negative_directions must be <= dim = {dim}, got {negative_directions}")
    start_radius = check_float("start_radius", start_radius, low=0.0, low_inclusive=False)
    seed = check_int("seed", seed, low=0)

    k = negative_directions
    lambdas, mus = saddle_nd_curvatures(dim, k)
    rotation = random_rotation(dim, seed)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        z = jnp.asarray(rotation, x.dtype) @ x
        unstable, stable = z[:k], z[k:]
        value = jnp.sum(jnp.asarray(lambdas, x.dtype) * (unstable**4 / 4.0 - unstable**2 / 2.0))
        value = value + 0.5 * jnp.sum(jnp.asarray(mus, x.dtype) * stable**2)
        return propagate_nan(value, x)

    corners = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    z_star = np.hstack([corners, np.zeros((corners.shape[0], dim - k))])
    return Problem(
        name="saddle_nd",
        dim=dim,
        init=normal_start(dim, scale=start_radius),
        loss=loss,
        f_star=-float(np.sum(lambdas)) / 4.0,
        x_star=z_star @ rotation,  # rows Q^T z*
        bounds=((-2.0, 2.0),) * dim,
        description=(
            f"rotated saddle in {dim}-d with {k} negative curvature directions, "
            f"{2**k} minima, start {start_radius:g} from the saddle"
        ),
        source="Ge et al. (2015), COLT; Jin et al. (2017), ICML (strict-saddle model)",
    )
