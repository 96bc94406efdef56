"""The 2-d figures: paths over the contours, and tuned against default paths per entry."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import ticker
from matplotlib.lines import Line2D

from bench.plots import style as styling
from bench.plots.style import (
    GREY,
    HIGHLIGHT,
    Figure,
    _legend,
    _line,
    _same_as,
    highlighted,
    setting_label,
)
from bench.results.loaded import Results


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
    styling.save(fig, path)
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
    styling.save(fig, path)
    return Figure(
        path,
        f"{problem}: tuned vs default paths",
        "One panel per optimizer: the path at the tuned setting (solid, colored) and at the "
        "entry's default setting (dashed) where it differs, first seed.",
    )
