"""The statistics the figures draw, from one problem's rows: medians and bands over seeds
against steps and evaluations, learning-rate summaries, curvature checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bench.plots.style import BLOWUP, GAP_FLOOR, LEARNING_RATE
from bench.results.loaded import Results
from bench.summary import (
    PROTOCOL_ORDER,
    objective_column,
    robust_quantile,
)


def _is_log_spaced(steps: np.ndarray) -> bool:
    """True when the recording grid is log-spaced (then step axes are log too)."""
    steps = np.unique(steps[steps > 0])
    if steps.size < 4:
        return False
    gaps = np.diff(steps)
    return bool(gaps[-1] / max(gaps[0], 1) > 4)


def _clean(values: Any, column: str) -> np.ndarray:
    """The objective as plotted: non-finite or blown up (diverged) = +inf; gaps floored for
    log axes."""
    values = np.asarray(values, dtype=np.float64)
    # A run on its way to divergence can reach ~1e308, where autoscaling a log axis
    # overflows inside matplotlib; such values are off the plot anyway (`_clip_blowups`).
    values = np.where(np.isfinite(values) & (np.abs(values) < BLOWUP), values, np.inf)
    if column == "gap":
        values = np.maximum(values, GAP_FLOOR)
    return values


def _band(matrix: np.ndarray, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 25-75% over seeds (axis 1); NaN where too few seeds have data, and +inf
    (diverged) drawn as a gap in the line. The band holds the median (low <= median <=
    high wherever the median is drawn), whatever rounding does to equal values."""
    count = (~np.isnan(matrix)).sum(axis=1)
    out = []
    for q in (0.5, 0.25, 0.75):
        value = robust_quantile(matrix, q, axis=1)
        value = np.where((count >= min_count) & np.isfinite(value), value, np.nan)
        out.append(value)
    median, low, high = out
    # NaN stays NaN (a diverged upper quartile: no band there), crossings are cut.
    return median, np.minimum(low, median), np.maximum(high, median)


def _seed_curves(lane: pd.DataFrame, column: str, x: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, values) of each seed in step order, values as plotted (`_clean`); from a seed's
    first non-finite record on, +inf (a diverged run stays diverged)."""
    curves = []
    for _, seed in lane.groupby("seed", sort=True):
        seed = seed.sort_values("step")
        values = _clean(seed[column], column)
        bad = ~np.isfinite(values)
        if bad.any():
            values[int(np.argmax(bad)) :] = np.inf
        curves.append((seed[x].to_numpy(dtype=np.float64), values))
    return curves


def _stepwise(lane: pd.DataFrame, column: str, grid: np.ndarray, x: str) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64)
    columns = []
    for xs, values in _seed_curves(lane, column, x):
        index = np.searchsorted(xs, grid, side="right") - 1
        column_values = np.full(grid.shape, np.nan)
        inside = index >= 0
        column_values[inside] = values[index[inside]]
        columns.append(column_values)
    if not columns:
        return np.empty((grid.size, 0))
    return np.stack(columns, axis=1)


def evals_grid(lane: pd.DataFrame, points: int = 2000) -> np.ndarray:
    """The evaluation counts where any seed of the lane recorded (where a step-wise median
    can change), at most ``points`` of them (then a subset, ends kept)."""
    grid = np.unique(lane["evals"].to_numpy(dtype=np.float64))
    grid = grid[np.isfinite(grid)]
    if grid.size > points:
        grid = grid[np.unique(np.linspace(0, grid.size - 1, points).round().astype(int))]
    return grid


def evals_matrix(lane: pd.DataFrame, column: str, grid: np.ndarray) -> np.ndarray:
    """One column per seed: at evaluation count e, the seed's last recorded value with
    evals <= e (step-wise, so only values a seed recorded appear). Before its first record,
    NaN; past its last, its final value (a finished run stays where it ended; a diverged
    one at +inf), so quantiles are over all seeds everywhere on the grid."""
    return _stepwise(lane, column, grid, "evals")


def _evals_band(
    lane: pd.DataFrame, column: str, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 25-75% over seeds of `evals_matrix` (drawn where at least half of the
    seeds have started; +inf (diverged) quantiles are left out of the line)."""
    matrix = evals_matrix(lane, column, grid)
    return _band(matrix, math.ceil(matrix.shape[1] / 2))


def steps_matrix(lane: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(recorded steps, one column per seed), as `evals_matrix` but against steps: a seed
    that stopped early stays at its final value."""
    steps = np.unique(lane["step"].to_numpy(dtype=np.float64))
    return steps, _stepwise(lane, column, steps, "step")


def _curve_signature(
    steps: np.ndarray, median: np.ndarray, grid: np.ndarray, evals_median: np.ndarray
) -> np.ndarray:
    """Both lines of an entry as one array (`_same_as` compares these): its median against
    steps and against evaluations, on their x values."""
    return np.concatenate([steps, median, grid, evals_median])


def _per_learning_rate(cell: pd.DataFrame) -> pd.DataFrame:
    """Each learning rate's best setting of one entry (protocol order), by learning rate."""
    cell = cell.sort_values(PROTOCOL_ORDER, kind="stable")
    return cell.groupby(LEARNING_RATE, sort=True).head(1).sort_values(LEARNING_RATE)


def diverged_learning_rates(summary: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per entry (suite order), the learning rates whose median run diverged (none: left
    out): the rows of the "diverged" strip of the sensitivity plot."""
    rows = {}
    for optimizer, cell in summary.groupby("optimizer", sort=False):
        per_lr = _per_learning_rate(cell)
        bad = ~np.isfinite(per_lr["final_median"].to_numpy(dtype=np.float64))
        if bad.any():
            rows[str(optimizer)] = per_lr[LEARNING_RATE].to_numpy(dtype=np.float64)[bad]
    return rows


def error_bars(
    median: np.ndarray, q25: np.ndarray, q75: np.ndarray, floor: float, top: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, length below, length above) of each error bar as drawn.

    Values are floored at ``floor`` (gaps at rounding noise, zero or negative ones where f*
    is a little off, sit at the floor of the log axis), a +inf upper quartile (diverged
    seeds) reaches ``top``, and the bar always holds its point: the lengths are never
    negative nor NaN, whatever the quantiles were (equal, floored, or crossed by rounding).
    A point that is not finite (its median diverged) gets lengths 0; it is not drawn.
    """
    median, q25, q75 = (np.asarray(v, dtype=np.float64) for v in (median, q25, q75))
    point = np.maximum(median, floor)
    low = np.where(np.isnan(q25), point, np.maximum(q25, floor))
    high = np.where(np.isnan(q75), point, np.minimum(np.maximum(q75, floor), top))
    low, high = np.fmin(low, point), np.fmax(high, point)
    drawn = np.isfinite(point)
    with np.errstate(invalid="ignore"):  # inf - inf where not drawn: replaced by 0
        below = np.where(drawn, point - low, 0.0)
        above = np.where(drawn & np.isfinite(high), high - point, 0.0)
    return point, np.maximum(below, 0.0), np.maximum(above, 0.0)


def _value_top(values: np.ndarray, log: bool) -> float:
    """Where a bar to +inf ends: 5x the highest value on a log axis, a quarter of the range
    above it on a linear one (losses may be negative: no factor works for both)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 1.0
    high = float(finite.max())
    if log:
        return high * 5
    span = float(finite.max() - finite.min()) or abs(high) or 1.0
    return high + 0.25 * span


def learning_rate_rows(
    problem: str, results: Results, settings: pd.DataFrame
) -> tuple[str, pd.DataFrame] | None:
    """(objective column, the rows of ``settings`` (the problem's `Analysis.settings`) with
    a learning rate) for the sensitivity figures; None where no entry sweeps one."""
    column = objective_column(results.metadata["problems"][problem])
    if LEARNING_RATE not in settings.columns:
        return None
    summary = settings[settings[LEARNING_RATE].notna()]
    return None if summary.empty else (column, summary)


def sensitivity_scale(summary: pd.DataFrame, column: str) -> tuple[float, np.ndarray, bool, float]:
    """(floor, every value as drawn, log axis?, where a bar to +inf ends).

    Values as drawn have gaps floored: the axis scale, its limits and the target line are
    decided on these, never on raw gaps that may be 0 or negative."""
    floor = GAP_FLOOR if column == "gap" else -np.inf
    quartiles = summary[["final_q25", "final_median", "final_q75"]].to_numpy(dtype=np.float64)
    finite_all = np.maximum(quartiles[np.isfinite(quartiles)], floor)
    log_axis = column == "gap" or bool(
        finite_all.size and finite_all.min() > 0 and finite_all.max() > 10 * finite_all.min()
    )
    return floor, finite_all, log_axis, _value_top(finite_all, log_axis)


def _symlog_threshold(values: np.ndarray) -> float:
    magnitude = np.abs(values[np.isfinite(values) & (values != 0)])
    if not magnitude.size:
        return 1.0
    smallest = max(float(np.quantile(magnitude, 0.05)), float(magnitude.max()) * 1e-8)
    return 10.0 ** math.floor(math.log10(smallest))


def constant_curvature(curvature: pd.DataFrame, problem: str) -> tuple[float, float] | None:
    """(smallest eigenvalue, condition number) when the Hessian's spectrum is the same at
    every recorded iterate (a quadratic): then a plot of it says nothing, a sentence does."""
    rows = curvature[curvature["problem"] == problem]
    if rows.empty:
        return None
    values = rows[["eig_min", "eig_max"]].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        return None
    spread = values.max(axis=0) - values.min(axis=0)
    if np.all(spread <= 1e-9 * np.maximum(np.abs(values).max(axis=0), 1e-300)):
        return float(values[0, 0]), float(rows["condition"].iloc[0])
    return None
