"""Figures drawn from the tables alone (a pure function of the parquet files).

Per problem: convergence against steps and against evaluations, trajectories over the
contours (2-d), learning-rate sensitivity, curvature along the path (small dim). Across
problems: performance profiles and a data profile. Every optimizer keeps one color and
line style in every figure (its position in the suite), so figures read together.

`draw_all` draws each figure in isolation (one that raises is recorded with its error, the
rest are drawn) and can copy a previous report's figures whose inputs are unchanged: it
fingerprints each problem's inputs (and the profiles') into plots/figures.json.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import PIL
from matplotlib import colors as mcolors
from matplotlib import ticker
from matplotlib.lines import Line2D
from PIL import Image

from bench.analysis import Analysis
from bench.answers import optimizer_family
from bench.config.names import slug
from bench.faults import figure_fault
from bench.plot_version import PLOTS_VERSION
from bench.profiles import (
    alpha_grid,
    budget_grid,
    data_profile,
    performance_profile,
    runtime_costs,
    runtime_ecdf,
    tau_grid,
)
from bench.results.loaded import Results
from bench.summary import (
    PROTOCOL_ORDER,
    objective_column,
    robust_quantile,
    solvable_problems,
    target_costs,
)
from optimizers import (
    ADAPTIVE,
    FIRST_ORDER,
    NEWTON,
    OPTAX_OPTIMIZERS,
    OPTIMIZERS,
    QUASI_NEWTON,
)

# Gaps at or below this are rounding noise around f*; drawn at the floor of the log axis.
GAP_FLOOR = 1e-16
# Beyond this a value is drawn as diverged (+inf): it is far off any axis we draw.
BLOWUP = 1e100
# The PNGs serve report.md and the README (report.html draws interactive charts instead):
# 90 dpi keeps a 13.5-inch figure 1215 px wide, legible, and the committed folder small.
DPI = 90
# Points of the common evaluation grid the seeds' curves are interpolated onto.
EVAL_GRID = 300
LEARNING_RATE = "learning_rate"


@dataclasses.dataclass(frozen=True)
class Figure:
    """A written figure and the sentence that tells a reader what to look at; or, with
    ``error`` set, a figure that could not be drawn (``path`` was not written) and why."""

    path: Path
    title: str
    caption: str
    error: str | None = None


# ---------------------------------------------------------------------------------------
# Styles and shared helpers


# One hue per optimizer family (optimizers.FAMILIES), several shades each, none grey
# (contours and the entries outside a figure's top k are grey): the reader tells the
# families apart at a glance and the entries of one family by shade and marker.
FAMILY_PALETTES: dict[str, tuple[str, ...]] = {
    FIRST_ORDER: ("#08519c", "#4292c6", "#17becf", "#253494", "#6baed6", "#1d91c0", "#2c7fb8"),
    ADAPTIVE: (
        "#d94801",
        "#e6ab02",
        "#a63603",
        "#fd8d3c",
        "#8c6d31",
        "#f16913",
        "#bf812d",
        "#7f2704",
    ),
    QUASI_NEWTON: ("#006d2c", "#41ab5d", "#00a087", "#637939", "#74c476", "#238b45"),
    NEWTON: ("#cb181d", "#e7298a", "#a50f15", "#fb6a4a", "#c51b7d", "#7a0177"),
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
# Dashes of a library entry (optax.adam), drawn over its hand-written twin's solid line.
LIBRARY_DASHES = (0, (5, 2.5))


def optimizer_styles(
    names: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    families: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """A (color, line style, marker) per optimizer, stable across figures.

    The color is a shade of the entry's family hue (`FAMILY_PALETTES`), the shades in
    suite order within each family (they repeat, with other markers, past a family's
    palette). Hand-written entries are solid; library entries (``optax.*``) dashed and
    drawn on top. ``kinds``: each entry's registry kind (an entry's name defaults to its
    kind), which tells a library's optimizer and, where ``families`` does not say, the
    family; both are read from the registry, never guessed from a name.
    """
    kinds = kinds or {}
    families = families or {}
    styles = {}
    seen: dict[str, int] = {}
    for name in names:
        kind = kinds.get(name, name)
        entry = OPTIMIZERS.get(kind)
        family = families.get(name) or (entry.family if entry is not None else FIRST_ORDER)
        palette = FAMILY_PALETTES.get(family, FAMILY_PALETTES[FIRST_ORDER])
        shade = seen.get(family, 0)
        seen[family] = shade + 1
        library = kind in OPTAX_OPTIMIZERS
        styles[name] = {
            "color": palette[shade % len(palette)],
            "linestyle": LIBRARY_DASHES if library else "-",
            "marker": MARKERS[(shade + shade // len(palette)) % len(MARKERS)],
            "zorder": 2.5 if library else 2.0,
            "family": family,
        }
    return styles


def _all_optimizers(results: Results) -> list[str]:
    names = list(results.metadata.get("optimizers", {}))
    return names + [n for n in dict.fromkeys(results.runs["optimizer"]) if n not in names]


def suite_styles(results: Results) -> dict[str, dict[str, Any]]:
    """`optimizer_styles` of every optimizer of the results, in suite order, by its kind."""
    optimizers = results.metadata.get("optimizers", {})
    kinds = {name: entry["kind"] for name, entry in optimizers.items() if "kind" in entry}
    families = {name: optimizer_family(results.metadata, name) for name in optimizers}
    return optimizer_styles(_all_optimizers(results), kinds, families)


def _legend(ax: plt.Axes, handles=None, labels=None) -> None:
    """Legend outside the axes, to the right of ``ax`` (constrained layout makes room);
    one column up to 24 entries, then two."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize="small",
        ncol=1 if len(handles) <= 24 else 2,
    )


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    # Line plots and filled contours use few colors: a 256-color palette, undithered, looks
    # the same and is about 4x smaller, which matters for committed results and report.html.
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)
    return path


def setting_label(metadata: Mapping[str, Any], optimizer: str, setting: Any) -> str:
    """The display label of a setting index of an entry (the table metadata lists them)."""
    labels = metadata.get("optimizers", {}).get(optimizer, {}).get("setting_labels") or []
    index = int(setting)
    return labels[index] if 0 <= index < len(labels) else f"setting {index}"


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


def _y_label(column: str) -> str:
    return "gap f(x) - f*  (log scale)" if column == "gap" else "loss f(x)  (full objective)"


def _set_value_scale(ax: plt.Axes, values: np.ndarray, column: str) -> None:
    """Log where the values are positive and span more than a decade (gaps: always log)."""
    finite = values[np.isfinite(values)]
    if column == "gap" or (finite.size and finite.min() > 0 and finite.max() > 10 * finite.min()):
        ax.set_yscale("log")


# Dashes for a curve drawn over an identical one, so both colors show in turn.
OVER = (0, (3, 3))


def _same_as(curve: np.ndarray, drawn: Sequence[tuple[str, np.ndarray]]) -> str | None:
    """The name of an already drawn curve this one coincides with (to 0.1%), if any: an
    optimizer and its Optax twin draw one line, and the reader should know both are there."""
    # The last row holds the values drawn (x, y stacked: y): where none is finite the line
    # is not drawn at all, and two undrawn lines are not "equal".
    values = curve[-1] if curve.ndim > 1 else curve
    if not np.isfinite(values).any():
        return None
    for name, other in drawn:
        if other.shape == curve.shape and np.allclose(
            curve, other, rtol=1e-3, atol=0.0, equal_nan=True
        ):
            return name
    return None


def _line(
    name: str, twin: str | None, styles: Mapping[str, dict], width: float = 1.6
) -> dict[str, Any]:
    """Color, dashes and drawing order of ``name``'s line; ``twin``: the drawn curve it
    coincides with. Over a twin of the same line style it is dashed and on top (both
    colors show in turn); a library entry over a hand-written one keeps its own dashes."""
    style = styles[name]
    linestyle, zorder = style["linestyle"], style["zorder"]
    if twin is not None and styles[twin]["linestyle"] == linestyle:
        linestyle, zorder = OVER, max(zorder, styles[twin]["zorder"]) + 0.1
    return {"color": style["color"], "linestyle": linestyle, "linewidth": width, "zorder": zorder}


def _symlog_x(ax: plt.Axes) -> None:
    """Linear from 0 to 1, log beyond: step 0 and evaluation 0 (the start) stay on the axis."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
    ax.xaxis.set_minor_locator(
        ticker.SymmetricalLogLocator(linthresh=1.0, base=10, subs=range(2, 10))
    )
    ax.set_xlim(left=0.0)


def _clip_blowups(ax: plt.Axes, values: np.ndarray, starts: np.ndarray) -> None:
    """On a log axis, cut the top at 100x the highest starting value: a run blowing up on
    its way to divergence leaves through the top instead of squashing every other curve.
    The bottom then follows the values left on the axis (the margin autoscaling gave the
    blown-up range would leave decades of empty axis below them)."""
    if ax.get_yscale() != "log":
        return
    finite = values[np.isfinite(values) & (values > 0)]
    starts = starts[np.isfinite(starts) & (starts > 0)]
    if not finite.size or not starts.size:
        return
    top = 10 ** math.ceil(math.log10(starts.max()) + 2)
    if finite.max() > top:
        bottom = 10 ** math.floor(math.log10(finite.min()))
        ax.set_ylim(max(ax.get_ylim()[0], bottom / 2), top)


def _target_near(target: float | None, values: np.ndarray) -> bool:
    """Whether to draw the target line: not when it lies more than 3 decades below every
    value (it would squash the differences that matter; the title says so instead)."""
    if not target:
        return False
    finite = values[np.isfinite(values) & (values > 0)]
    return bool(not finite.size or target >= float(finite.min()) / 1e3)


def _metric_name(column: str) -> str:
    return "gap f(x) - f*" if column == "gap" else "loss"


# ---------------------------------------------------------------------------------------
# Convergence


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


# Bands for at most this many optimizers (the best ranked): more pile up into one block.
BANDS = 5
# The best ranked entries (twins counted once) drawn in color with a legend entry each;
# the others are grey (report.html's charts show every entry by name).
HIGHLIGHT = 6
# ... and in each panel of a figure with one panel per class of surface.
PANEL_HIGHLIGHT = 4
GREY = "0.72"


def highlighted(
    ranked: Sequence[str], styles: Mapping[str, dict], count: int = HIGHLIGHT
) -> set[str]:
    """The entries a figure draws in color: the best of each family present (``ranked`` is
    best first), then the next best up to ``count``; so the best first-order method shows
    even where quasi-Newton methods fill the top ranks."""
    chosen: list[str] = []
    families: set[str] = set()
    for name in ranked:
        family = styles[name].get("family")
        if family not in families:
            families.add(family)
            chosen.append(name)
    for name in ranked:
        if len(chosen) >= max(count, len(families)):
            break
        if name not in chosen:
            chosen.append(name)
    return set(chosen)


def _curve_signature(
    steps: np.ndarray, median: np.ndarray, grid: np.ndarray, evals_median: np.ndarray
) -> np.ndarray:
    """Both lines of an entry as one array (`_same_as` compares these): its median against
    steps and against evaluations, on their x values."""
    return np.concatenate([steps, median, grid, evals_median])


def convergence_plot(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict], path: Path
) -> Figure:
    """Two panels sharing the y axis: the objective against steps, and against evaluations.

    One line per optimizer at its tuned setting: the median over seeds; the `BANDS` best
    ranked also get their 25-75% band. Against evaluations, each seed's curve is step-wise
    (its last recorded value) on the evaluation counts where any seed recorded, a finished
    seed held at its final value (seeds of a line search spend different numbers of
    evaluations per step).
    """
    metadata = results.metadata
    info = metadata["problems"][problem]
    column = objective_column(info)
    curves = results.curves[results.curves["problem"] == problem]
    log_x = _is_log_spaced(curves["step"].to_numpy())
    fig, (ax_steps, ax_evals) = plt.subplots(
        1, 2, figsize=(13.5, 5.4), layout="constrained", sharey=True
    )
    plotted = []
    starts = []
    drawn: list[tuple[str, np.ndarray]] = []
    legend_lines: dict[str, Line2D] = {}
    n_seeds = 0
    banded = 0
    greyed = 0
    # First every entry's lines and which drawn line it equals (a twin: an entry and its
    # Optax counterpart coincide against steps and against evaluations, drawn once and
    # named together), then which to color: the best of each family, then by rank.
    lines = []
    for row in best.itertuples():
        lane = curves[(curves["optimizer"] == row.optimizer) & (curves["setting"] == row.setting)]
        if lane.empty:
            continue
        steps, matrix = steps_matrix(lane, column)
        n_seeds = max(n_seeds, matrix.shape[1])
        grid = evals_grid(lane)
        bands = (*_band(matrix, 1), grid, *_evals_band(lane, column, grid))
        starts.append(bands[0][0])
        plotted.append(matrix)
        signature = _curve_signature(steps, bands[0], grid, bands[4])
        twin = _same_as(signature, drawn)
        if twin is None:
            drawn.append((row.optimizer, signature))
        lines.append((row, steps, bands, twin))
    colored = highlighted([row.optimizer for row, _, _, twin in lines if twin is None], styles)
    for row, steps, (median, low, high, grid, evals_median, evals_low, evals_high), twin in lines:
        if twin is not None:
            if twin in legend_lines:
                legend_lines[twin].set_label(f"{legend_lines[twin].get_label()} ≡ {row.optimizer}")
            continue
        if row.optimizer not in colored:
            # Grey, thin, under the rest, one legend entry for all.
            grey = {"color": GREY, "linestyle": "-", "linewidth": 0.9, "zorder": 1.0}
            ax_steps.plot(steps, median, **grey)
            ax_evals.plot(grid, evals_median, drawstyle="steps-post", **grey)
            greyed += 1
            continue
        label = f"{row.optimizer} ({row.setting_label})"
        if row.diverged:
            label += f"  [{row.diverged}/{row.runs} diverged]"
        line = {**_line(row.optimizer, None, styles), "linewidth": 1.8}
        color = line["color"]
        (legend_lines[row.optimizer],) = ax_steps.plot(steps, median, label=label, **line)
        band = banded < BANDS
        banded += band
        if band:
            ax_steps.fill_between(steps, low, high, color=color, alpha=0.15, linewidth=0)
        ax_evals.plot(grid, evals_median, drawstyle="steps-post", **line)
        if band:
            ax_evals.fill_between(
                grid, evals_low, evals_high, step="post", color=color, alpha=0.15, linewidth=0
            )
    if greyed:
        ax_steps.plot([], [], color=GREY, linewidth=0.9, label=f"the {greyed} other entries (grey)")

    values = np.concatenate([m.ravel() for m in plotted]) if plotted else np.array([1.0])
    _set_value_scale(ax_steps, values, column)
    target = metadata["suite"].get("target")
    show_target = column == "gap" and _target_near(target, values)
    for ax in (ax_steps, ax_evals):
        if show_target:
            ax.axhline(target, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2)
        if log_x:
            _symlog_x(ax)
        else:
            ax.set_xlim(left=0.0)
        ax.grid(True, which="major", alpha=0.3)
    _clip_blowups(ax_steps, values, np.asarray(starts))
    if column == "gap" and ax_steps.get_ylim()[0] < GAP_FLOOR / 2:
        # Zero gaps are drawn at the floor: nothing below it to show.
        ax_steps.set_ylim(bottom=GAP_FLOOR / 2)
    if show_target:
        ax_steps.plot([], [], color="0.35", linestyle=(0, (1, 2)), label=f"target gap {target:g}")
    scale = " (0 to 1 linear, log beyond)" if log_x else ""
    ax_steps.set_xlabel(f"step (optimizer updates){scale}")
    ax_evals.set_xlabel(f"function + gradient evaluations (count){scale}")
    ax_steps.set_ylabel(_y_label(column))
    ax_steps.set_title(
        "against steps"
        + (
            f" (target gap {target:g}: far below)"
            if column == "gap" and target and not show_target
            else ""
        )
    )
    ax_evals.set_title("against evaluations (line-search trials included)")
    ax_evals.tick_params(labelleft=True)
    bands = f"; bands: 25-75% over seeds for the {banded} best" if banded else ""
    fig.suptitle(
        f"{problem} (dim {info['dim']}): {_metric_name(column)}, median of {n_seeds} seed"
        f"{'' if n_seeds == 1 else 's'}, "
        f"tuned setting per optimizer{bands}"
    )
    handles, labels = ax_steps.get_legend_handles_labels()
    _legend(ax_evals, handles, labels)
    _save(fig, path)
    return Figure(
        path,
        f"{problem}: convergence",
        f"{_metric_name(column).capitalize()} against steps (left) and against function and "
        "gradient evaluations (right; Hessian evaluations are not counted): median over "
        "seeds at each optimizer's tuned setting. In color (a hue per family): the best "
        f"ranked of each family, then the next best up to {HIGHLIGHT}, the {BANDS} best "
        "with their 25-75% band; the rest grey (the "
        "interactive chart of report.html names every entry). Entries whose curves coincide "
        "(an entry and its Optax twin) are drawn once and named together (a ≡ b). A run "
        "that ended stays at its final value; a line that stops has diverged for more than "
        "half of the seeds. Dashed: a library entry (optax.*)"
        + (
            f"; gaps at or below {GAP_FLOOR:g} are drawn at {GAP_FLOOR:g}."
            if column == "gap"
            else "."
        ),
    )


# ---------------------------------------------------------------------------------------
# Trajectories over the contours (2-d problems)


def _surface(surfaces: pd.DataFrame, problem: str):
    grid = surfaces[surfaces["problem"] == problem].pivot_table(
        index="x1", columns="x0", values="loss"
    )
    return grid.columns.to_numpy(), grid.index.to_numpy(), grid.to_numpy()


def contour_levels(positive: np.ndarray, low: float, top: float, count: int = 18) -> np.ndarray:
    """Contour levels of f − min f: ``count`` log-spaced ones from ``low`` to ``top``, as
    many at quantiles of the window's values, and, where much of the window is a plain
    just below ``top`` (a plateau), levels at log-spaced depths below the top.

    Log spacing alone leaves a flat region blank: a plateau's values all fall in its top
    band. The quantile levels put contours where the area is, and the depths below the top
    show the plain's slope, down to where it is flat to the last bit."""
    spaced = np.geomspace(low, top, count)
    if not positive.size:
        return spaced
    values = np.clip(positive, low, top)
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, count + 2)[1:-1])
    levels = [spaced, quantiles]
    plain = values >= 0.9 * top
    depths = top - values[plain & (values < top)]
    if plain.mean() > 0.3 and depths.size:
        shallowest = max(float(depths.min()), top * 1e-14)
        levels.append(top - np.geomspace(shallowest, 0.1 * top, 10))
    # Rounded to 12 digits: two levels closer than that would draw one line twice.
    return np.unique(np.round(np.concatenate(levels) / top, 12) * top)


def contour_values(
    z: np.ndarray, f_star: float | None
) -> tuple[np.ndarray, float, float, np.ndarray] | None:
    """(f − min f on the grid, clipped to [low, top]; low; top; `contour_levels`), where
    min f is the smaller of f* and the grid's minimum and low the 0.2% quantile of the
    positive values (at least 1e-9 of the top); None where no value is finite."""
    finite = z[np.isfinite(z)]
    if not finite.size:
        return None
    floor = min(float(finite.min()), f_star) if f_star is not None else float(finite.min())
    shifted = np.where(np.isfinite(z), z - floor, np.nan)
    positive = shifted[shifted > 0]
    top = float(positive.max()) if positive.size else 1.0
    low = max(float(np.quantile(positive, 0.002)) if positive.size else top * 1e-6, top * 1e-9)
    clipped = np.clip(np.nan_to_num(shifted, nan=top), low, top)
    return clipped, low, top, contour_levels(positive, low, top)


def _contour(ax: plt.Axes, xs, ys, z, f_star: float | None):
    """Filled contours of loss - min (light) at `contour_levels`, with line contours on
    top; None (nothing drawn) where the surface has no finite value."""
    values = contour_values(z, f_star)
    if values is None:
        return None
    shifted, low, top, levels = values
    norm = mcolors.LogNorm(vmin=low, vmax=top)
    filled = ax.contourf(xs, ys, shifted, levels=levels, norm=norm, cmap="Greys_r", alpha=0.45)
    ax.contour(xs, ys, shifted, levels=levels, norm=norm, colors="0.45", linewidths=0.5)
    return filled


def _colorbar(fig: plt.Figure, mappable, ax, label: str, location: str) -> None:
    """A colorbar with ticks at powers of ten (the contour levels are log-spaced)."""
    bar = fig.colorbar(
        mappable,
        ax=ax,
        location=location,
        shrink=0.8,
        ticks=ticker.LogLocator(),
        format=ticker.LogFormatterSciNotation(),
    )
    bar.set_label(label)


def _mark_points(ax: plt.Axes, info: Mapping[str, Any], start: np.ndarray | None) -> None:
    if start is not None:
        ax.plot(*start, marker="s", color="black", markersize=7, linestyle="none", zorder=5)
    for point in info.get("x_star") or []:
        ax.plot(
            *point[:2],
            marker="*",
            color="crimson",
            markeredgecolor="white",
            markersize=13,
            linestyle="none",
            zorder=5,
        )


def _landmarks() -> tuple[list[Line2D], list[str]]:
    handles = [
        Line2D([], [], marker="s", color="black", linestyle="none"),
        Line2D([], [], marker="*", color="crimson", markersize=11, linestyle="none"),
        Line2D([], [], marker="o", color="0.3", markerfacecolor="white", linestyle="none"),
    ]
    return handles, ["start x0", "known minimizer(s)", "last iterate"]


def _path_of(
    paths: pd.DataFrame, optimizer: str, role: str, metadata: Mapping[str, Any]
) -> tuple[pd.DataFrame, str]:
    """The first seed's path of an entry's tuned (``best``) or ``default`` setting, and the
    setting's label ("" where the table keeps no such path)."""
    rows = paths[(paths["optimizer"] == optimizer) & (paths["role"] == role)]
    if rows.empty:
        return rows, ""
    seed = rows["seed"].min()
    rows = rows[rows["seed"] == seed].sort_values("step")
    return rows, setting_label(metadata, optimizer, rows["setting"].iloc[0])


def _window_exit(
    x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> tuple[float, float] | None:
    """Where a path first leaves the window (its last point inside, or the start), None if
    it never does. A non-finite point (diverged) counts as outside."""
    inside = (
        np.isfinite(x) & np.isfinite(y)
        & (x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max())
    )  # fmt: skip
    outside = np.flatnonzero(~inside)
    if not outside.size:
        return None
    at = max(int(outside[0]) - 1, 0)
    return float(np.clip(x[at], xs.min(), xs.max())), float(np.clip(y[at], ys.min(), ys.max()))


def _window(ax: plt.Axes, xs: np.ndarray, ys: np.ndarray) -> None:
    ax.set_xlim(xs.min(), xs.max())
    ax.set_ylim(ys.min(), ys.max())
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")


def trajectory_plot(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict], path: Path
) -> Figure:
    """Every optimizer's path (tuned setting, first seed) over log-spaced contours."""
    info = results.metadata["problems"][problem]
    paths = results.paths[results.paths["problem"] == problem]
    xs, ys, z = _surface(results.surfaces, problem)
    fig, ax = plt.subplots(figsize=(10, 6.8), layout="constrained")
    filled = _contour(ax, xs, ys, z, info.get("f_star"))
    start = None
    drawn: list[tuple[str, np.ndarray]] = []
    legend_lines: dict[str, Line2D] = {}
    greyed = left = 0
    # Each entry's path and the drawn path it equals (a twin: drawn once, both named); then
    # which to color: the best of each family, then by rank.
    found = []
    for row in best.itertuples():
        rows, setting = _path_of(paths, row.optimizer, "best", results.metadata)
        if rows.empty:
            continue
        x, y = rows["x0"].to_numpy(), rows["x1"].to_numpy()
        start = (x[0], y[0])
        twin = _same_as(np.stack([x, y]), drawn)
        if twin is None:
            drawn.append((row.optimizer, np.stack([x, y])))
        found.append((row, setting, x, y, twin))
    colored = highlighted([row.optimizer for row, *_, twin in found if twin is None], styles)
    for row, setting, x, y, twin in found:
        if twin is not None:
            if twin in legend_lines:
                legend_lines[twin].set_label(f"{legend_lines[twin].get_label()} ≡ {row.optimizer}")
            continue
        if row.optimizer not in colored:
            ax.plot(x, y, color=GREY, linewidth=0.8, zorder=1.5)
            greyed += 1
            continue
        color = styles[row.optimizer]["color"]
        (legend_lines[row.optimizer],) = ax.plot(
            x,
            y,
            marker=".",
            markersize=3,
            label=f"{row.optimizer} ({setting})",
            **{**_line(row.optimizer, None, styles), "linewidth": 1.7},
        )
        finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if finite.size:
            last = finite[-1]
            ax.plot(
                x[last], y[last], marker="o", markerfacecolor="white", color=color,
                markersize=6, zorder=4,
            )  # fmt: skip
        exit_at = _window_exit(x, y, xs, ys)
        if exit_at is not None:
            left += 1
            ax.plot(
                *exit_at, marker="X", color=color, markeredgecolor="black", markersize=10,
                linestyle="none", zorder=6,
            )  # fmt: skip
    if greyed:
        ax.plot([], [], color=GREY, linewidth=0.8, label=f"the {greyed} other entries (grey)")
    _mark_points(ax, info, start)
    _window(ax, xs, ys)
    if filled is not None:
        _colorbar(fig, filled, ax, "loss - min loss on the window (log scale)", "bottom")
    ax.set_title(f"{problem}: trajectories, tuned setting, first seed")
    handles, labels = ax.get_legend_handles_labels()
    extra_handles, extra_labels = _landmarks()
    if left:
        extra_handles.append(
            Line2D([], [], marker="X", color="0.3", markeredgecolor="black", linestyle="none")
        )
        extra_labels.append("path leaves the window here")
    _legend(ax, handles + extra_handles, labels + extra_labels)
    _save(fig, path)
    return Figure(
        path,
        f"{problem}: trajectories",
        "Iterates at the tuned setting (first seed) of the best ranked optimizer of each "
        f"family and the next best up to {HIGHLIGHT}, in color, over contours of f - min f "
        "(log-spaced, at quantiles of the window's values, and on a plain at depths below "
        "its top), the others grey; paths that coincide "
        "are drawn once and named together (a ≡ b). Dots are the recorded steps, the square "
        "the start, stars the known minimizers, circles the last iterates, a cross where a "
        "path leaves the plotted window.",
    )


def trajectory_grid_plot(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict], path: Path
) -> Figure:
    """One small panel per optimizer: tuned path (solid) and default path (dashed)."""
    info = results.metadata["problems"][problem]
    paths = results.paths[results.paths["problem"] == problem]
    xs, ys, z = _surface(results.surfaces, problem)
    # One panel per distinct pair of paths: a twin whose tuned and default paths both
    # equal an earlier entry's is named in that panel's title (a ≡ b).
    titles: dict[str, str] = {}
    drawn: list[tuple[str, np.ndarray]] = []
    for name in best["optimizer"]:
        mine = paths[paths["optimizer"] == name]
        if mine.empty:
            continue
        both = [_path_of(paths, name, role, results.metadata)[0] for role in ("best", "default")]
        signature = np.concatenate([r[["x0", "x1"]].to_numpy().ravel() for r in both])
        twin = _same_as(signature, drawn)
        if twin is None:
            drawn.append((name, signature))
            titles[name] = name
        else:
            titles[twin] += f" ≡ {name}"
    names = list(titles)
    ncols = min(4, max(len(names), 1))
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(3.3 * ncols + 1.2, 3.0 * nrows + 0.9),
        layout="constrained",
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    filled = None
    for ax, name in zip(axes.flat, names, strict=False):
        contours = _contour(ax, xs, ys, z, info.get("f_star"))
        filled = filled if contours is None else contours
        color = styles[name]["color"]
        tuned, tuned_setting = _path_of(paths, name, "best", results.metadata)
        default, default_setting = _path_of(paths, name, "default", results.metadata)
        start = None
        if not default.empty and default_setting != tuned_setting:
            ax.plot(default["x0"], default["x1"], color="0.15", linestyle="--", linewidth=1.1)
            start = (default["x0"].iloc[0], default["x1"].iloc[0])
        if not tuned.empty:
            ax.plot(tuned["x0"], tuned["x1"], color=color, linewidth=1.5, marker=".", markersize=3)
            start = (tuned["x0"].iloc[0], tuned["x1"].iloc[0])
        _mark_points(ax, info, start)
        ax.set_xlim(xs.min(), xs.max())
        ax.set_ylim(ys.min(), ys.max())
        default_text = (
            "= tuned" if default_setting == tuned_setting else (default_setting or "none")
        )
        ax.set_title(
            f"{titles[name]}\ntuned: {tuned_setting}\ndefault: {default_text}", fontsize="small"
        )
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for column in range(ncols):
        # The lowest visible panel of each column carries the x axis (shared axes hide it).
        visible = [ax for ax in axes[:, column] if ax.get_visible()]
        if visible:
            visible[-1].xaxis.set_tick_params(labelbottom=True)
            visible[-1].set_xlabel("x[0]")
    for ax in axes[:, 0]:
        ax.set_ylabel("x[1]")
    if filled is not None:
        _colorbar(fig, filled, axes, "loss - min loss (log scale)", "right")
    fig.suptitle(f"{problem}: tuned (solid) vs default (dashed) setting, first seed")
    handles = [
        Line2D([], [], color="0.3", linewidth=1.5, marker=".", label="tuned setting"),
        Line2D([], [], color="0.15", linestyle="--", label="default setting"),
        *_landmarks()[0][:2],
    ]
    fig.legend(
        handles,
        ["tuned setting", "default setting", "start x0", "known minimizer(s)"],
        loc="outside lower center",
        ncol=4,
        fontsize="small",
    )
    _save(fig, path)
    return Figure(
        path,
        f"{problem}: tuned vs default paths",
        "One panel per optimizer: the path at the tuned setting (solid, colored) and at the "
        "entry's default setting (dashed) where it differs, first seed.",
    )


# ---------------------------------------------------------------------------------------
# Learning-rate sensitivity


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


def sensitivity_plot(
    problem: str,
    results: Results,
    settings: pd.DataFrame,
    best: pd.DataFrame,
    styles: Mapping[str, dict],
    path: Path,
) -> Figure | None:
    """Median final gap (IQR bars) against learning rate, per optimizer that sweeps it.

    Where an entry sweeps other hyperparameters too, each learning rate shows its best
    point over them (the protocol's key). A median that diverged is an x in a strip above
    the axes, one row per entry in its color.
    """
    rates = learning_rate_rows(problem, results, settings)
    if rates is None:
        return None
    column, summary = rates
    tuned = dict(zip(best["optimizer"], best["setting"], strict=True))
    diverged = diverged_learning_rates(summary)
    if diverged:
        fig, (ax_div, ax) = plt.subplots(
            2,
            1,
            figsize=(9.5, 5.4 + 0.2 * len(diverged)),
            layout="constrained",
            sharex=True,
            height_ratios=[0.5 + 0.32 * len(diverged), 5.0],
        )
    else:
        fig, ax = plt.subplots(figsize=(9.5, 5.4), layout="constrained")
        ax_div = None
    floor, finite_all, log_axis, top = sensitivity_scale(summary, column)
    drawn: list[tuple[str, np.ndarray]] = []
    for optimizer, cell in summary.groupby("optimizer", sort=False):
        per_lr = _per_learning_rate(cell)
        style = styles[optimizer]
        lr = per_lr[LEARNING_RATE].to_numpy()
        median, below, above = error_bars(
            per_lr["final_median"].to_numpy(),
            per_lr["final_q25"].to_numpy(),
            per_lr["final_q75"].to_numpy(),
            floor,
            top,
        )
        ok = np.isfinite(median)
        shown = np.where(ok, median, np.nan)
        twin = _same_as(np.stack([lr, shown]), drawn)
        drawn.append((optimizer, np.stack([lr, shown])))
        ax.errorbar(
            lr[ok],
            shown[ok],
            yerr=[below[ok], above[ok]],
            marker=style["marker"],
            markersize=5,
            capsize=3,
            label=optimizer + (f" = {twin}" if twin is not None else ""),
            **_line(optimizer, twin, styles, width=1.4),
        )
        chosen = cell[cell["setting"] == tuned.get(optimizer)]
        if not chosen.empty and np.isfinite(chosen["final_median"].iloc[0]):
            ax.plot(
                chosen[LEARNING_RATE].iloc[0],
                max(chosen["final_median"].iloc[0], floor),
                marker="o",
                markersize=13,
                markerfacecolor="none",
                markeredgecolor=style["color"],
                markeredgewidth=1.5,
                linestyle="none",
            )
    if ax_div is not None:
        for row, (optimizer, rates) in enumerate(diverged.items()):
            ax_div.plot(
                rates,
                np.full(rates.shape, row),
                marker="x",
                color=styles[optimizer]["color"],
                markersize=8,
                markeredgewidth=2,
                linestyle="none",
            )
        ax_div.set_yticks(range(len(diverged)), list(diverged), fontsize="small")
        for label, optimizer in zip(ax_div.get_yticklabels(), diverged, strict=True):
            label.set_color(styles[optimizer]["color"])
        ax_div.set_ylim(len(diverged) - 0.4, -0.6)
        ax_div.grid(True, axis="x", which="major", alpha=0.3)
        ax_div.set_title("learning rates whose median run diverged (x, one row per entry)")
        ax_div.tick_params(labelbottom=False)
    ax.set_xscale("log")
    if log_axis:
        ax.set_yscale("log")
    target = results.metadata["suite"].get("target")
    near = column == "gap" and _target_near(target, finite_all)
    if log_axis and finite_all.size:
        # Margins in log space: rings, error bars and a near target line stay inside.
        bottom, ceiling = float(finite_all.min()) / 2, top / 2
        if near:
            bottom, ceiling = min(bottom, target / 2), max(ceiling, target * 2)
        ax.set_ylim(bottom, ceiling)
    if not finite_all.size:
        ax.text(
            0.5,
            0.5,
            "no learning rate has a finite median: every one diverged (strip above)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.3",
        )
    title = f"{problem}: sensitivity to the learning rate"
    if near:
        ax.axhline(target, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2)
        ax.plot([], [], color="0.35", linestyle=(0, (1, 2)), label=f"target gap {target:g}")
    elif column == "gap" and target:
        title += f" (target gap {target:g}: far below the axis)"
    ax.plot(
        [],
        [],
        marker="o",
        markersize=11,
        markerfacecolor="none",
        color="0.3",
        linestyle="none",
        label="tuned setting",
    )
    if diverged:
        ax.plot([], [], marker="x", color="0.3", linestyle="none", label="diverged (strip above)")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"final {_metric_name(column)}, median and IQR over seeds")
    fig.suptitle(title)
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    names = set(summary["optimizer"])
    order = sorted(range(len(labels)), key=lambda i: labels[i].split(" ")[0] not in names)
    _legend(ax, [handles[i] for i in order], [labels[i] for i in order])
    _save(fig, path)
    return Figure(
        path,
        f"{problem}: learning-rate sensitivity",
        f"Final {_metric_name(column)} (median over seeds, bars from the 25th to the 75th "
        "percentile) against the learning rate, for every entry that sweeps it; a ring marks "
        "the tuned setting, and an x in the strip above (one row per entry) a learning rate "
        "whose median run diverged.",
    )


# ---------------------------------------------------------------------------------------
# Curvature along the path (small problems)


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


def curvature_plot(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict], path: Path
) -> Figure | None:
    """Objective, Hessian condition number and smallest eigenvalue against step."""
    curvature = results.curvature[
        (results.curvature["problem"] == problem) & (results.curvature["role"] == "best")
    ]
    if curvature.empty:
        return None
    info = results.metadata["problems"][problem]
    column = objective_column(info)
    curves = results.curves[results.curves["problem"] == problem]
    log_x = _is_log_spaced(curvature["step"].to_numpy())
    fig, (ax_f, ax_cond, ax_eig) = plt.subplots(
        3, 1, figsize=(11.5, 9), layout="constrained", sharex=True
    )
    lanes = []
    for row in best.itertuples():
        rows = curvature[curvature["optimizer"] == row.optimizer]
        if rows.empty:
            continue
        seed = rows["seed"].min()
        rows = rows[rows["seed"] == seed].sort_values("step")
        lane = curves[
            (curves["optimizer"] == row.optimizer)
            & (curves["setting"] == rows["setting"].iloc[0])
            & (curves["seed"] == seed)
        ].sort_values("step")
        lanes.append((row.optimizer, rows, lane, _clean(lane[column], column)))
    starts = np.array([v[0] for *_, v in lanes if v.size], dtype=np.float64)
    # A run blowing up leaves the plot at 100x the highest start (`_clip_blowups`); its
    # curvature there (eigenvalues of 1e250) is dropped too, or it squashes every other line.
    positive = starts[np.isfinite(starts) & (starts > 0)]
    top = 10 ** math.ceil(math.log10(positive.max()) + 2) if positive.size else np.inf
    eig_values = []
    plotted_values = []
    drawn: list[tuple[str, np.ndarray]] = []
    prepared = []
    for optimizer, rows, lane, values in lanes:
        steps = lane["step"].to_numpy(dtype=np.float64)
        # Off the plot at a step: its curvature is not drawn either. Off for good: blew up.
        away = ~np.isfinite(values) | (np.abs(values) > top)
        at = np.searchsorted(steps, rows["step"].to_numpy(dtype=np.float64), side="right") - 1
        kept = (at >= 0) & ~away[np.clip(at, 0, None)] if steps.size else np.ones(len(rows), bool)
        back = np.flatnonzero(~away)
        escape = np.inf
        if away.size and away[-1]:
            escape = float(steps[back[-1] + 1]) if back.size else float(steps[0])
        eig = np.where(kept, rows["eig_min"].to_numpy(dtype=np.float64), np.nan)
        condition = np.where(kept, rows["condition"].to_numpy(dtype=np.float64), np.nan)
        eig = np.where(np.isfinite(eig), eig, np.nan)
        condition = np.where(np.isfinite(condition), condition, np.nan)
        # Equal only where all three panels are: the objective and the spectrum.
        signature = np.concatenate([np.where(np.isfinite(values), values, np.nan), eig, condition])
        twin = _same_as(signature, drawn)
        if twin is None:
            drawn.append((optimizer, signature))
        prepared.append((optimizer, rows, steps, values, eig, condition, escape, twin))
    # Twins drawn once and named together; in color the best of each family, then by rank.
    colored = highlighted([p[0] for p in prepared if p[-1] is None], styles)
    legend_lines: dict[str, Line2D] = {}
    greyed = 0
    for optimizer, rows, steps, values, eig, condition, escape, twin in prepared:
        plotted_values.append(values)
        eig_values.append(eig)
        if twin is not None:
            if twin in legend_lines:
                legend_lines[twin].set_label(f"{legend_lines[twin].get_label()} ≡ {optimizer}")
            continue
        if optimizer in colored:
            line = {**_line(optimizer, None, styles), "linewidth": 1.6}
        else:
            line = {"color": GREY, "linestyle": "-", "linewidth": 0.9, "zorder": 1.0}
            greyed += 1
        ax_f.plot(steps, np.where(np.isfinite(values), values, np.nan), **line)
        ax_cond.plot(rows["step"], condition, **line)
        if optimizer not in colored:
            ax_eig.plot(rows["step"], eig, **line)
            continue
        shown = setting_label(results.metadata, optimizer, rows["setting"].iloc[0])
        label = f"{optimizer} ({shown})"
        if np.isfinite(escape):
            label += f"  [blew up at step {escape:g}]"
        (legend_lines[optimizer],) = ax_eig.plot(rows["step"], eig, label=label, **line)
    if greyed:
        ax_eig.plot([], [], color=GREY, linewidth=0.9, label=f"the {greyed} other entries (grey)")
    if not eig_values:
        plt.close(fig)
        return None
    _set_value_scale(ax_f, np.concatenate(plotted_values), column)
    _clip_blowups(ax_f, np.concatenate(plotted_values), starts)
    ax_cond.set_yscale("log")
    eig_all = np.concatenate(eig_values)
    ax_eig.set_yscale("symlog", linthresh=_symlog_threshold(eig_all))
    ax_eig.axhline(0.0, color="black", linewidth=0.8)
    ax_eig.plot([], [], color="black", linewidth=0.8, label="zero: below = negative curvature")
    for ax in (ax_f, ax_cond, ax_eig):
        ax.grid(True, which="major", alpha=0.3)
    if log_x:
        _symlog_x(ax_eig)  # shared: all three panels
    else:
        ax_eig.set_xlim(left=0.0)
    ax_f.set_ylabel(_y_label(column))
    ax_cond.set_ylabel("condition number\nmax|λ| / min|λ| (log)")
    ax_eig.set_ylabel("smallest Hessian\neigenvalue λ_min (symlog)")
    ax_eig.set_xlabel(
        "step (optimizer updates)" + (" (0 to 1 linear, log beyond)" if log_x else "")
    )
    ax_f.set_title("objective along the path")
    ax_cond.set_title("Hessian condition number at the iterate")
    ax_eig.set_title("smallest Hessian eigenvalue at the iterate (< 0: saddle or maximum)")
    fig.suptitle(
        f"{problem} (dim {info['dim']}): curvature along the path, tuned setting, first seed"
    )
    handles, labels = ax_eig.get_legend_handles_labels()
    # One legend for the three panels, right of them: the panels keep their height.
    fig.legend(
        handles,
        labels,
        loc="outside right center",
        fontsize="small",
        ncol=1 if len(handles) <= 24 else 2,
    )
    _save(fig, path)
    return Figure(
        path,
        f"{problem}: curvature along the path",
        "Along each optimizer's path (tuned setting, first seed): the objective, the "
        "condition number of the Hessian of the full objective, and its smallest "
        "eigenvalue. A negative smallest eigenvalue is a saddle region; a long flat stretch "
        "of the objective while it stays near zero is a plateau. In color the best ranked "
        f"entry of each family and the next best up to {HIGHLIGHT}, the rest grey; entries "
        "whose three curves coincide are drawn once (a ≡ b).",
    )


# ---------------------------------------------------------------------------------------
# Profiles across problems


def _profile_lines(
    ax: plt.Axes, x: np.ndarray, profile: pd.DataFrame, solved: pd.Series, styles
) -> None:
    """Step curves: entries with identical curves drawn once and named together (a ≡ b),
    the `HIGHLIGHT` with the largest area in color and labelled with how many problems
    each solves, the rest grey (one legend entry); colored curves are nudged apart
    vertically by a hair so equal ones stay visible."""
    shown = _ecdf_twins(profile)
    area = profile[list(shown)].mean().sort_values(ascending=False, kind="stable")
    best = highlighted(list(area.index), styles)
    colored = [n for n in shown if n in best]  # suite order
    n_problems = int(solved.attrs.get("n", 0))
    for name in shown:
        if name in colored:
            continue
        ax.plot(
            x, profile[name].to_numpy(), drawstyle="steps-post", color=GREY, linewidth=0.9,
            zorder=1,
        )  # fmt: skip
    for index, name in enumerate(colored):
        style = styles[name]
        nudge = 0.006 * (index - (len(colored) - 1) / 2) / max(len(colored) / 2, 1)
        ax.plot(
            x,
            profile[name].to_numpy() + nudge,
            drawstyle="steps-post",
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.7,
            label=f"{shown[name]} ({int(solved[name])}/{n_problems} solved)",
        )
    if len(shown) > len(colored):
        ax.plot([], [], color=GREY, linewidth=0.9, label=f"the {len(shown) - len(colored)} "
                "other entries (grey)")  # fmt: skip
    ax.set_ylim(-0.03, 1.03)
    ax.grid(True, which="major", alpha=0.3)


def _profile_costs(
    table: pd.DataFrame, metadata: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Steps and evaluations to target (problems x optimizers) and how many each solves."""
    steps = target_costs(table, metadata, "steps_to_target")
    evals = target_costs(table, metadata, "evals_to_target")
    solved = np.isfinite(steps).sum(axis=0)
    solved.attrs["n"] = len(steps.index)
    return steps, evals, solved


def performance_profile_plot(
    table: pd.DataFrame, metadata: Mapping[str, Any], styles: Mapping[str, dict], path: Path
) -> Figure | None:
    """Performance profiles of steps and of evaluations to target; None without a target."""
    steps, evals, solved = _profile_costs(table, metadata)
    if steps.empty:
        return None
    target = metadata["suite"]["target"]
    n = len(steps.index)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained", sharey=True)
    for ax, costs, what in ((axes[0], steps, "steps"), (axes[1], evals, "evaluations")):
        taus = tau_grid(costs)
        _profile_lines(ax, taus, performance_profile(costs, taus), solved, styles)
        ax.set_xscale("log", base=2)
        ax.set_xlim(1, taus.max())
        ax.set_xlabel(f"τ: {what} to target / fewest {what} of any optimizer (log₂ scale)")
        ax.set_title(f"{what} to target")
    axes[0].set_ylabel(f"fraction of the {n} problems with ratio ≤ τ")
    axes[1].tick_params(labelleft=True)
    fig.suptitle(
        f"Performance profiles (Dolan & Moré 2002): target gap {target:g}, tuned settings, "
        "median over seeds"
    )
    handles, labels = axes[0].get_legend_handles_labels()
    _legend(axes[1], handles, labels)
    _save(fig, path)
    return Figure(
        path,
        "Performance profiles",
        f"For each optimizer, the fraction of the {n} problems with a known f* it solves "
        "(reaches the target gap, median over seeds at its tuned setting) within a factor "
        "τ of the fastest optimizer on that problem. The value at τ = 1 is the share of "
        "wins; the value at the right edge the share solved at all. A skipped or failed cell "
        f"counts as not solved. The {HIGHLIGHT} entries with the largest area in color, the "
        "rest grey; identical curves drawn once (a ≡ b); colored curves are nudged apart "
        "vertically by less than 1% so that equal ones stay visible.",
    )


def data_profile_plot(
    table: pd.DataFrame, metadata: Mapping[str, Any], styles: Mapping[str, dict], path: Path
) -> Figure | None:
    """The data profile (evaluations in units of dim + 1); None without a target."""
    _, evals, solved = _profile_costs(table, metadata)
    if evals.empty:
        return None
    target = metadata["suite"]["target"]
    n = len(evals.index)
    dims = {p: int(metadata["problems"][p]["dim"]) for p in evals.index}
    alphas = alpha_grid(evals, dims)
    fig, ax = plt.subplots(figsize=(10, 5.2), layout="constrained")
    _profile_lines(ax, alphas, data_profile(evals, dims, alphas), solved, styles)
    ax.set_xscale("log")
    ax.set_xlabel("budget α: evaluations / (dim + 1)  (simplex gradients, log scale)")
    ax.set_ylabel(f"fraction of the {n} problems solved")
    ax.set_title(f"Data profile (Moré & Wild 2009): target gap {target:g}, tuned settings")
    _legend(ax)
    _save(fig, path)
    return Figure(
        path,
        "Data profile",
        "The fraction of problems solved within a budget of α·(dim+1) function and "
        "gradient evaluations (More & Wild's simplex gradients), so problems of different "
        "dimension share one axis. Same target and tuned settings as the profiles above. "
        "Hessian evaluations are not counted, which flatters second-order methods.",
    )


def ecdf_groups(metadata: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """("all problems", every problem with a target) and then each surface class of them
    (in suite order; a class only where the suite has two or more of them)."""
    problems = solvable_problems(metadata)
    groups = [("all problems", problems)]
    classes: dict[str, list[str]] = {}
    for problem in problems:
        declared = metadata["problems"][problem].get("surface_class")
        if declared:
            classes.setdefault(declared, []).append(problem)
    if len(classes) > 1:
        groups += list(classes.items())
    return groups


def _ecdf_twins(ecdf: pd.DataFrame) -> dict[str, str]:
    """Entry -> its legend label, for the entries drawn: an entry whose runtime
    distribution over all problems equals one before it is not drawn, but named in that
    entry's label (a ≡ b)."""
    shown: dict[str, str] = {}
    for optimizer in ecdf.columns:
        values = ecdf[optimizer].to_numpy()
        twin = next((o for o in shown if np.array_equal(ecdf[o].to_numpy(), values)), None)
        if twin is None:
            shown[optimizer] = optimizer
        else:
            shown[twin] += f" ≡ {optimizer}"
    return shown


def runtime_ecdf_plot(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    styles: Mapping[str, dict],
    path: Path,
) -> Figure | None:
    """COCO-style runtime distributions over the target ladder: all problems, then one
    panel per surface class; None without a ladder."""
    targets = metadata["suite"].get("targets") or []
    groups = ecdf_groups(metadata)
    if not targets or not groups[0][1]:
        return None
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(5.2 * ncols + 3.2, 4.0 * nrows + 0.6),
        layout="constrained",
        sharey=True,
        squeeze=False,
    )
    overall = groups[0][1]
    costs = runtime_costs(runs, table, metadata, overall)
    shown = _ecdf_twins(runtime_ecdf(costs, budget_grid(costs)))
    legend: dict[str, Line2D] = {}
    for ax, (name, problems) in zip(axes.flat, groups, strict=False):
        costs = runtime_costs(runs, table, metadata, problems)
        budgets = budget_grid(costs)
        ecdf = runtime_ecdf(costs, budgets)
        # The best of this panel in color: each class shows its own leaders.
        area = ecdf[list(shown)].mean().sort_values(ascending=False, kind="stable")
        colored = highlighted(list(area.index), styles, PANEL_HIGHLIGHT)
        for optimizer in ecdf.columns:
            if optimizer not in shown:
                continue  # a twin of an entry drawn: one line, both named
            values = ecdf[optimizer].to_numpy()
            if optimizer in colored:
                style = styles[optimizer]
                line = {"color": style["color"], "linestyle": style["linestyle"], "linewidth": 1.7}
                (legend[optimizer],) = ax.plot(budgets, values, drawstyle="steps-post", **line)
            else:
                ax.plot(
                    budgets, values, drawstyle="steps-post", color=GREY, linewidth=0.9, zorder=1
                )
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(f"{name} ({len(problems)} problem{'s' * (len(problems) != 1)})")
        ax.set_xlabel("evaluations / dimension (log scale)")
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of (problem, target, seed) trials solved")
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    ladder = ", ".join(f"{t:g}" for t in targets)
    # The ladder in full goes in the caption; a title that lists it is cut off.
    fig.suptitle(
        f"Runtime distributions (COCO ECDFs), {len(targets)} target gaps "
        f"{targets[0]:g} … {targets[-1]:g}"
    )
    named = [o for o in shown if o in legend]  # suite order
    handles: list[Line2D] = [legend[o] for o in named]
    labels = [shown[o] for o in named]
    if len(shown) > len(named):
        handles.append(Line2D([], [], color=GREY, linewidth=0.9))
        labels.append(f"the {len(shown) - len(named)} other entries (grey)")
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    _save(fig, path)
    return Figure(
        path,
        "Runtime distributions over the target ladder",
        f"For each optimizer at its tuned setting (in each panel the {PANEL_HIGHLIGHT} with "
        "the largest area under their curve in color, the rest grey; identical curves drawn "
        "once, a ≡ b), the fraction of trials solved within a "
        "budget of evaluations per dimension, where a trial is one (problem, target gap, "
        f"seed) of the problems with a known f* and the targets {ladder}: all problems, then "
        "each class of surface. Where a curve ends short of 1, the rest was never solved; a "
        "curve that rises early and stalls gets close fast but does not finish (COCO, Hansen "
        "et al. 2021). Hessian evaluations are not counted.",
    )


# ---------------------------------------------------------------------------------------
# Every figure of a report: each drawn in isolation, reused where its inputs did not change


@dataclasses.dataclass(frozen=True)
class Figures:
    """What `draw_all` wrote: the overview figures and each problem's figures (a record
    with ``error`` set is a figure that could not be drawn), and how many of them were
    drawn, copied unchanged from a previous report, or failed."""

    overview: list[Figure]
    problems: dict[str, list[Figure]]
    # Sentences in place of a figure that would show nothing (e.g. constant curvature).
    notes: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    drawn: int = 0
    reused: int = 0
    failed: int = 0


# plots/figures.json: each problem's fingerprint and figure records (and the profiles').
MANIFEST = "figures.json"
# Columns no figure reads; they differ between two runs of the very same cells.
UNDRAWN_COLUMNS = ("compile_s", "trace_s", "lower_s", "xla_s", "run_s", "cache_hit")
# The tables a problem's figures are drawn from (`Results` fields), by problem.
_TABLES = ("curves", "runs", "paths", "curvature", "surfaces")
ACROSS = "across problems"  # where a profile figure belongs, in messages


@dataclasses.dataclass(frozen=True)
class _Job:
    """One figure to draw: its file, the title it is known by if drawing fails, and how:
    ``function(*args, path)``, a module-level function and plain data, so that the job
    pickles to a drawing process (`_draw_jobs`)."""

    file: str
    title: str
    function: Callable[..., Figure | None]
    args: tuple[Any, ...]

    def draw(self, path: Path) -> Figure | None:
        return self.function(*self.args, path)


def _problem_jobs(
    problem: str,
    results: Results,
    best: pd.DataFrame,
    settings: pd.DataFrame,
    styles: Mapping[str, dict],
) -> tuple[list[_Job], list[str]]:
    """The figures of one problem (in report order) and the sentences that replace some."""
    name = slug(problem)
    jobs = [
        _Job(
            f"{name}_convergence.png",
            f"{problem}: convergence",
            convergence_plot,
            (problem, results, best, styles),
        )
    ]
    has_path = (
        results.paths is not None
        and results.surfaces is not None
        and (results.paths["problem"] == problem).any()
        and (results.surfaces["problem"] == problem).any()
    )
    if has_path:
        jobs.append(
            _Job(
                f"{name}_trajectories.png",
                f"{problem}: trajectories",
                trajectory_plot,
                (problem, results, best, styles),
            )
        )
        jobs.append(
            _Job(
                f"{name}_paths_by_optimizer.png",
                f"{problem}: tuned vs default paths",
                trajectory_grid_plot,
                (problem, results, best, styles),
            )
        )
    jobs.append(
        _Job(
            f"{name}_learning_rate.png",
            f"{problem}: learning-rate sensitivity",
            sensitivity_plot,
            (problem, results, settings, best, styles),
        )
    )
    notes: list[str] = []
    if results.curvature is not None and (results.curvature["problem"] == problem).any():
        constant = constant_curvature(results.curvature, problem)
        if constant is None:
            jobs.append(
                _Job(
                    f"{name}_curvature.png",
                    f"{problem}: curvature along the path",
                    curvature_plot,
                    (problem, results, best, styles),
                )
            )
        else:
            notes.append(
                "The Hessian is the same at every recorded iterate of every path (a "
                f"quadratic): smallest eigenvalue {constant[0]:.4g}, condition number "
                f"{constant[1]:.4g}; no curvature plot."
            )
    return jobs, notes


def _profile_jobs(
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    styles: Mapping[str, dict],
    runs: pd.DataFrame | None = None,
) -> list[_Job]:
    """The profile figures; none without a target and a problem with a known f*."""
    if not solvable_problems(metadata):
        return []
    ecdf = []
    if runs is not None and metadata["suite"].get("targets"):
        ecdf = [
            _Job(
                "profile_ecdf.png",
                "Runtime distributions over the target ladder",
                runtime_ecdf_plot,
                (_ladder_rows(runs), table, metadata, styles),
            )
        ]
    return [
        _Job(
            "profile_performance.png",
            "Performance profiles",
            performance_profile_plot,
            (table, metadata, styles),
        ),
        _Job(
            "profile_data.png",
            "Data profile",
            data_profile_plot,
            (table, metadata, styles),
        ),
        *ecdf,
    ]


def _ladder_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The columns of runs the runtime distributions read (what a drawing process gets)."""
    keep = ["problem", "optimizer", "setting", "seed"]
    return runs[keep + [c for c in runs.columns if c.startswith("evals_to_")]]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: a value
        return False


def _drawn_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a fingerprint covers, sorted by name (timings are not drawn)."""
    frame = frame.drop(columns=[c for c in UNDRAWN_COLUMNS if c in frame.columns])
    return frame[sorted(map(str, frame.columns))]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray | None:
    """One uint64 per row of `_drawn_columns` (None where a value does not hash: lists).
    A row's hash depends on its own values only, so the whole table is hashed once and
    each problem's rows summed (`_row_hash_sums`)."""
    try:
        return pd.util.hash_pandas_object(_drawn_columns(frame), index=False).to_numpy(np.uint64)
    except TypeError:
        return None


def _row_hash_sums(frame: pd.DataFrame | None) -> dict[str, np.uint64]:
    """Per problem, the sum of its rows' `_row_hashes` (wrapping at 2**64); {} where the
    table is absent, has no problem column, or does not hash."""
    if frame is None or "problem" not in frame.columns:
        return {}
    hashes = _row_hashes(frame)
    if hashes is None:
        return {}
    groups = frame.groupby("problem", sort=False, observed=True).indices
    return {str(p): hashes[rows].sum(dtype=np.uint64) for p, rows in groups.items()}


def _digest_frame(
    digest: Any, frame: pd.DataFrame | None, row_sum: np.uint64 | None = None
) -> None:
    """Feed a table to the digest independently of its row order: columns by name, then
    the rows' hashes summed, so two tables with the same rows hash alike however they were
    written. ``row_sum``: that sum, where the caller has it already (`_row_hash_sums`)."""
    if frame is None:
        digest.update(b"<no table>")
        return
    dtypes = {str(c): str(t) for c, t in frame.dtypes.items() if c not in UNDRAWN_COLUMNS}
    columns = sorted(dtypes)
    digest.update(_json_bytes([columns, [dtypes[c] for c in columns], len(frame)]))
    # The sum of the rows' hashes (wrapping at 2**64) is the same in any row order, and
    # 50x faster than sorting a problem's curves by every column first.
    if row_sum is None and (rows := _row_hashes(frame)) is not None:
        row_sum = rows.sum(dtype=np.uint64)
    if row_sum is not None:
        digest.update(np.uint64(row_sum).tobytes())
        return
    frame = _drawn_columns(frame)
    # Values that do not hash (lists): sorted, then column by column.
    try:
        frame = frame.sort_values(columns, kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # values that do not compare (mixed types): the table's own order
        frame = frame.reset_index(drop=True)
    for column in columns:
        values = frame[column].to_numpy()
        if values.dtype.kind in "biufcmM":
            digest.update(np.ascontiguousarray(values).tobytes())
        else:
            try:  # vectorized: labels are most of these columns' rows
                hashed = pd.util.hash_pandas_object(frame[column].astype("string"), index=False)
                digest.update(hashed.to_numpy().tobytes())
            except TypeError:  # values that do not hash (lists): one by one
                digest.update(_json_bytes([None if _missing(v) else str(v) for v in values]))


def _by_problem(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if frame is None or "problem" not in frame.columns:
        return {}
    return {str(p): rows for p, rows in frame.groupby("problem", sort=False)}


def _problem_results(
    results: Results, problem: str, groups: Mapping[str, Mapping[str, pd.DataFrame]]
) -> Results:
    """``results`` narrowed to one problem's rows (what its figures read), so that a job
    sends a drawing process that problem's rows, not the whole suite's."""
    tables: dict[str, pd.DataFrame | None] = {}
    for name in _TABLES:
        frame = getattr(results, name)
        if frame is not None and "problem" in frame.columns:
            frame = groups.get(name, {}).get(problem, frame.iloc[:0])
        tables[name] = frame
    return dataclasses.replace(results, **tables)


def _context_digest(metadata: Mapping[str, Any], styles: Mapping[str, dict]) -> Any:
    """A digest of what every figure depends on besides its own rows: the drawing code's
    version, the libraries that draw, the suite's target, the optimizers and their styles."""
    digest = hashlib.sha256()
    digest.update(
        _json_bytes(
            {
                "plots_version": PLOTS_VERSION,
                "matplotlib": matplotlib.__version__,
                "pillow": PIL.__version__,
                "target": metadata.get("suite", {}).get("target"),
                "hyperparameters": metadata.get("hyperparameters"),
                "optimizers": metadata.get("optimizers", {}),
                "styles": styles,
            }
        )
    )
    return digest


def problem_fingerprint(
    problem: str,
    results: Results,
    table: pd.DataFrame,
    styles: Mapping[str, dict],
    groups: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
    hash_sums: Mapping[str, Mapping[str, np.uint64]] | None = None,
) -> str:
    """sha256 of exactly what ``problem``'s figures are drawn from: its rows of every table
    (timings left out), its rows of the comparison ``table``, its metadata, the suite's
    target, the optimizers' metadata and styles, and `PLOTS_VERSION`. ``groups``: the
    tables split by problem already (`draw_all` splits them once for all problems), and
    ``hash_sums`` their rows' hash sums (`_row_hash_sums`, one hashing pass per table)."""
    digest = _context_digest(results.metadata, styles)
    digest.update(_json_bytes(["problem", problem, results.metadata["problems"].get(problem)]))
    for name in (*_TABLES, "table"):
        frame = table if name == "table" else getattr(results, name)
        if frame is None:
            _digest_frame(digest, None)
            continue
        rows = (groups or {}).get(name, {}).get(problem) if groups else None
        if rows is None:
            rows = frame[frame["problem"] == problem] if "problem" in frame else frame.iloc[:0]
        digest.update(name.encode())
        row_sum = (hash_sums or {}).get(name, {}).get(problem)
        _digest_frame(digest, rows, row_sum)
    return digest.hexdigest()


def profiles_fingerprint(
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    styles: Mapping[str, dict],
    ladder: pd.DataFrame | None = None,
) -> str:
    """sha256 of what the profile figures are drawn from: the whole comparison table, every
    problem's metadata, the suite's target, the optimizers and styles, `PLOTS_VERSION`, and
    ``ladder`` (`_ladder_rows` of runs: every seed's evaluations to each target)."""
    digest = _context_digest(metadata, styles)
    digest.update(_json_bytes(["profiles", metadata.get("problems", {})]))
    _digest_frame(digest, table)
    _digest_frame(digest, ladder)
    return digest.hexdigest()


def read_manifest(folder: Path | None) -> dict[str, Any]:
    """``folder``/plots/figures.json as written by `draw_all`; {} where absent or unreadable."""
    if folder is None:
        return {}
    try:
        manifest = json.loads((Path(folder) / "plots" / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _reusable(entry: Any, fingerprint: str, source: Path) -> list[dict[str, str]] | None:
    """The figure records of a previous report's entry, if they can stand for this one: same
    fingerprint, no figure that failed, every file there."""
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return None
    records = entry.get("figures")
    if not isinstance(records, list):
        return None
    for record in records:
        if not isinstance(record, dict) or record.get("error"):
            return None
        file = record.get("file")
        if not isinstance(file, str) or Path(file).name != file or not (source / file).is_file():
            return None
    return records


def _record(figure: Figure) -> dict[str, str]:
    record = {"file": figure.path.name, "title": figure.title, "caption": figure.caption}
    if figure.error is not None:
        record["error"] = figure.error
    return record


def _draw_one(job: _Job, plots_dir: Path) -> Figure | None:
    """Draw one figure; if drawing raises, a record saying why, with nothing left behind
    (its open matplotlib figures closed, a half-written file removed)."""
    path = plots_dir / job.file
    before = set(plt.get_fignums())
    try:
        figure_fault(job.file)
        return job.draw(path)
    except Exception as error:  # one figure must never cost the report
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        path.unlink(missing_ok=True)
        why = " ".join(f"{type(error).__name__}: {error}".split())
        return Figure(path, job.title, "", error=why)


def _timed_draw(job: _Job, plots_dir: Path) -> tuple[Figure | None, float]:
    """`_draw_one` and the seconds it took (what a drawing process sends back)."""
    start = time.perf_counter()
    figure = _draw_one(job, plots_dir)
    return figure, time.perf_counter() - start


# Drawing processes: $OPTBENCH_DRAW_WORKERS (1 = draw in this process), else one per core
# up to this many; fewer figures than MIN_PARALLEL_FIGURES are drawn here: starting the pool
# costs about as much as it saves on 4 figures (measured 15.1-18.9 s against 15.6-15.9 s
# for a whole add-one-problem rerun), while all 80 of the default suite draw in 62 s
# instead of 139 s on two cores.
DRAW_WORKERS_ENV = "OPTBENCH_DRAW_WORKERS"
MAX_DRAW_WORKERS = 4
MIN_PARALLEL_FIGURES = 8


def draw_workers(figures: int) -> int:
    """How many processes draw ``figures`` figures (1: this one)."""
    value = os.environ.get(DRAW_WORKERS_ENV, "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            raise ValueError(
                f"${DRAW_WORKERS_ENV}={value!r}: give a whole number of drawing processes "
                "(1 draws in the main process)."
            ) from None
    else:
        workers = (
            1 if figures < MIN_PARALLEL_FIGURES else min(os.cpu_count() or 1, MAX_DRAW_WORKERS)
        )
    return max(1, min(workers, figures))


def _start_drawing_process(environment: dict[str, str], main: int) -> None:
    """A pool process's start: the main process's environment (a fork server's children
    inherit the server's, from when it started), and an exit once the main process is
    gone (a killed run must not leave processes behind)."""
    os.environ.clear()
    os.environ.update(environment)
    threading.Thread(target=_exit_without, args=(main,), daemon=True).start()


def _exit_without(main: int) -> None:
    while True:
        time.sleep(0.5)
        try:
            os.kill(main, 0)
            with open(f"/proc/{main}/stat") as stat:  # a killed, unreaped process: a zombie
                if stat.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    os._exit(1)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # no /proc (not Linux): the pid check alone
            pass


def _draw_jobs(jobs: Sequence[_Job], plots_dir: Path) -> Iterator[tuple[Figure | None, float]]:
    """(figure, seconds) of each job, in order: in a pool of drawing processes where there
    are enough figures, else here. Matplotlib draws on one core; two processes draw two
    figures at once. The pool's processes start from a fork server, not from this process
    (which holds JAX's threads, which fork would copy mid-lock). A job the pool cannot
    finish (its process died, its data would not pickle) is drawn here instead, so a
    figure fails only by its own error."""
    workers = draw_workers(len(jobs))
    if workers <= 1:
        for job in jobs:
            yield _timed_draw(job, plots_dir)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.plots"])
    with concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_drawing_process,
        initargs=(dict(os.environ), os.getpid()),
    ) as pool:
        futures = [pool.submit(_timed_draw, job, plots_dir) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            try:
                yield future.result()
            except Exception:  # BrokenProcessPool, PicklingError, ...: this process draws
                yield _timed_draw(job, plots_dir)


@dataclasses.dataclass
class _Progress:
    total: int
    log: TextIO
    done: int = 0
    drawn: int = 0
    reused: int = 0
    failed: int = 0

    def reuse(self, record: Mapping[str, str]) -> None:
        self.done += 1
        self.reused += 1
        self._print(f"reused  [{self.done}/{self.total}] {record['file']} (inputs unchanged)")

    def drew(self, job: _Job, figure: Figure | None, seconds: float, where: str) -> None:
        self.done += 1
        line = f"drawing [{self.done}/{self.total}] {job.file} {seconds:.1f} s"
        if figure is None:
            self._print(f"{line}: nothing to show, no figure")
        elif figure.error is None:
            self.drawn += 1
            self._print(line)
        else:
            self.failed += 1
            print(
                f"figure {job.file} ({where}): could not be drawn: {figure.error}",
                file=sys.stderr,
                flush=True,
            )
            if self.log is not sys.stderr:
                self._print(f"{line}: could not be drawn: {figure.error}")

    def _print(self, line: str) -> None:
        print(line, file=self.log, flush=True)


def draw_all(
    results: Results,
    analysis: Analysis,
    plots_dir: Path,
    log: TextIO | None = None,
    reuse_from: Path | None = None,
) -> Figures:
    """Every figure of the report into plots_dir (stale PNGs removed first), and
    plots_dir/figures.json (fingerprints, figure records, notes).

    ``analysis``: `bench.analysis.analyse(results)`; its ``table`` gives the tuned setting
    of each optimizer, ranked per problem, its ``settings`` every setting's summary (the
    learning-rate figures). Each figure is drawn in isolation: one that raises is reported on
    stderr and recorded with its error, and the others are drawn all the same. ``log``
    (default stderr) gets one line per figure. ``reuse_from``: a results folder whose
    plots/figures.json holds the same fingerprint for a problem (or for the profiles) and
    all of its PNG files: those are copied instead of drawn.
    """
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    log = sys.stderr if log is None else log
    metadata = results.metadata
    styles = suite_styles(results)
    previous = read_manifest(reuse_from)
    source = None if reuse_from is None else Path(reuse_from) / "plots"
    in_place = source is not None and source.resolve() == plots_dir.resolve()
    groups = {name: _by_problem(getattr(results, name)) for name in _TABLES}
    table = analysis.table
    groups["table"] = _by_problem(table)
    groups["settings"] = _by_problem(analysis.settings)
    hash_sums = {name: _row_hash_sums(getattr(results, name)) for name in _TABLES}
    hash_sums["table"] = _row_hash_sums(table)

    # (problem, or None for the profiles; fingerprint; jobs; records to reuse, or None)
    plan: list[tuple[str | None, str, list[_Job], list[dict[str, str]] | None]] = []
    notes: dict[str, list[str]] = {}
    previous_problems = previous.get("problems") or {}
    for problem in metadata["problems"]:
        best = table[table["problem"] == problem]
        settings = groups["settings"].get(problem, analysis.settings.iloc[:0])
        jobs, problem_notes = (
            ([], [])
            if best.empty
            else _problem_jobs(
                problem, _problem_results(results, problem, groups), best, settings, styles
            )
        )
        if problem_notes:
            notes[problem] = problem_notes
        fingerprint = problem_fingerprint(problem, results, table, styles, groups, hash_sums)
        records = None
        if source is not None and isinstance(previous_problems, dict):
            records = _reusable(previous_problems.get(problem), fingerprint, source)
        plan.append((problem, fingerprint, jobs, records))
    fingerprint = profiles_fingerprint(table, metadata, styles, _ladder_rows(results.runs))
    records = None if source is None else _reusable(previous.get("profiles"), fingerprint, source)
    plan.append((None, fingerprint, _profile_jobs(table, metadata, styles, results.runs), records))

    keep = {r["file"] for *_, records in plan if records for r in records} if in_place else set()
    for stale in plots_dir.glob("*.png"):
        if stale.name not in keep:
            stale.unlink()
    (plots_dir / MANIFEST).unlink(missing_ok=True)

    progress = _Progress(
        total=sum(len(jobs) if records is None else len(records) for _, _, jobs, records in plan),
        log=log,
    )
    figures: dict[str, list[Figure]] = {}
    overview: list[Figure] = []
    manifest: dict[str, Any] = {"plots_version": PLOTS_VERSION, "problems": {}}
    # Copy what can be reused, then draw everything else in one batch (in parallel).
    for index, (problem, fingerprint, jobs, records) in enumerate(plan):
        if records is not None and not in_place:
            try:
                for record in records:
                    shutil.copy2(source / record["file"], plots_dir / record["file"])
            except OSError:  # gone or unreadable since it was checked: draw them after all
                progress.total += len(jobs) - len(records)
                plan[index] = (problem, fingerprint, jobs, None)
    pending = [job for *_, jobs, records in plan if records is None for job in jobs]
    drawn = _draw_jobs(pending, plots_dir)
    for problem, fingerprint, jobs, records in plan:
        written: list[Figure] = []
        if records is not None:
            for record in records:
                path = plots_dir / record["file"]
                written.append(Figure(path, record["title"], record["caption"]))
                progress.reuse(record)
        else:
            for job in jobs:
                figure, seconds = next(drawn)
                progress.drew(job, figure, seconds, ACROSS if problem is None else problem)
                if figure is not None:
                    written.append(figure)
        entry = {"fingerprint": fingerprint, "figures": [_record(f) for f in written]}
        if problem is None:
            overview = written
            manifest["profiles"] = entry
        else:
            figures[problem] = written
            manifest["problems"][problem] = {**entry, "notes": notes.get(problem, [])}
    drawn.close()
    (plots_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return Figures(
        overview=overview,
        problems=figures,
        notes=notes,
        drawn=progress.drawn,
        reused=progress.reused,
        failed=progress.failed,
    )
