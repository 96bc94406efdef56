"""Loss values on a grid over 2-d problems, stored so contour plots need only the tables."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from problems import Problem

GRID_POINTS = 121


def plot_window(problem: Problem) -> tuple[tuple[float, float], tuple[float, float]]:
    """The problem's bounds, or a window around its start and minimizers when it has none."""
    if problem.bounds is not None:
        (a, b), (c, d) = problem.bounds
        return (float(a), float(b)), (float(c), float(d))
    points = [np.asarray(problem.init(jax.random.key(0)))]
    if problem.x_star is not None:
        points += list(problem.x_star)
    points = np.asarray(points)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.maximum(0.25 * (high - low), 1.0)
    return (low[0] - margin[0], high[0] + margin[0]), (low[1] - margin[1], high[1] + margin[1])


def surface_frame(problem: Problem, points: int = GRID_POINTS) -> pd.DataFrame:
    """Columns problem, x0, x1, loss on a points x points grid over the plot window."""
    (x_low, x_high), (y_low, y_high) = plot_window(problem)
    xs, ys = np.meshgrid(np.linspace(x_low, x_high, points), np.linspace(y_low, y_high, points))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    values = jax.jit(jax.vmap(problem.objective))(jnp.asarray(grid, jnp.result_type(float)))
    return pd.DataFrame(
        {
            "problem": problem.name,
            "x0": grid[:, 0],
            "x1": grid[:, 1],
            "loss": np.asarray(values, dtype=np.float64),
        }
    )
