"""Interactive figures for report.html: plotly figure specs computed from the tables.

Each chart is a plain plotly figure (``{"data": [...], "layout": {...}}``) built from the
same statistics as the static PNG it stands for in the HTML (`bench.plots`: medians and
quartiles over seeds, the tuned setting per entry, the profiles), so the two never tell
different stories. report.md and the README keep the PNGs; the HTML draws these instead
(hover for values, click a legend entry to hide it, switch the x axis).

A curve that coincides with one drawn before it (an entry and its Optax twin, within the
0.1% of `bench.plots._same_as`) is drawn once, its legend entry naming both ("adam ≡
optax.adam"). Numbers are rounded to `DIGITS` significant digits: the page shows values,
the tables keep them.

`charts_for` returns one chart per PNG file name it can stand for; a chart that raises is
left out (the HTML then embeds that PNG), and the tuned-vs-default paths figure has no
chart of its own: the trajectory chart carries the default paths as hidden traces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import Analysis
from bench.config.names import slug
from bench.plots import (
    _TABLES,
    BANDS,
    GAP_FLOOR,
    LEARNING_RATE,
    _band,
    _by_problem,
    _clean,
    _evals_band,
    _per_learning_rate,
    _problem_results,
    _profile_costs,
    _same_as,
    _surface,
    constant_curvature,
    contour_values,
    ecdf_groups,
    error_bars,
    evals_grid,
    learning_rate_rows,
    sensitivity_scale,
    setting_label,
    steps_matrix,
    suite_styles,
)
from bench.profiles import (
    alpha_grid,
    data_profile,
    performance_profile,
    runtime_costs,
    tau_grid,
)
from bench.results.loaded import Results
from bench.summary import objective_column, solvable_problems

# Significant digits of the numbers a chart carries (hover shows them; 6 is below what a
# screen resolves and keeps report.html small).
DIGITS = 6
# Points of a curve against evaluations (the static figure uses up to 2000).
EVAL_POINTS = 300
# Shown in place of the paths-by-optimizer figure: the trajectory chart holds its paths.
IN_TRAJECTORIES = "in-trajectories"

Chart = dict[str, Any]

_READING = (
    " Hover for values; click a legend entry to hide it, double-click to show it alone."
    " Entries whose curves coincide within 0.1% are drawn once (legend: a ≡ b)."
)
CONVERGENCE_CAPTION = (
    "The objective (the gap f − f* where f* is known, else the loss) at each entry's tuned "
    "setting, median over seeds; shaded, the 25-75% band over seeds of the best ranked. The "
    "buttons switch the x axis to function and gradient evaluations (line-search trials "
    "included, Hessian evaluations not counted) or to seconds, and its scale to linear (on "
    "the log axis step 0, the start, is off the axis). A run that ended stays at its final "
    "value; a line that stops has diverged for more than half of the seeds." + _READING
)
ECDF_CAPTION = (
    "For each optimizer at its tuned setting, the fraction of trials solved within a budget "
    "of evaluations per dimension; a trial is one (problem, target gap, seed) of the "
    "problems with a known f*, over every target of the ladder. The menu picks all problems "
    "or one class of surface. A curve that ends short of 1 never solved the rest; one that "
    "rises early and stalls gets close fast but does not finish (COCO, Hansen et al. "
    "2021). Hessian evaluations are not counted." + _READING
)
_FLOORED = f" Gaps at or below {GAP_FLOOR:g} are drawn at {GAP_FLOOR:g}."
TRAJECTORY_CAPTION = (
    "Iterates of each entry at its tuned setting (first seed) over shaded contours of "
    "f − min f (log-spaced, at quantiles of the window's values, and on a plain at depths "
    "below its top: the PNG's levels); square: the start, stars: the known minimizers. "
    "Each entry's path at its default setting is in the legend, hidden: click it to draw "
    "it. A path that leaves "
    "the window says so in the legend." + _READING
)
SENSITIVITY_CAPTION = (
    "The final objective (median over seeds; bars from the 25th to the 75th percentile) "
    "against the learning rate, for every entry that sweeps it; the large ring is the tuned "
    "setting, an x at the top a learning rate whose median run diverged." + _READING
)
CURVATURE_CAPTION = (
    "Along each entry's tuned path (first seed): the condition number of the Hessian of the "
    "full objective (top) and its smallest eigenvalue (bottom). Below zero: negative "
    "curvature, a saddle region or a maximum; a long stretch near zero is a plateau." + _READING
)
PERFORMANCE_CAPTION = (
    "For each entry, the fraction of the problems with a known f* it solves (reaches the "
    "target gap, median over seeds at its tuned setting) within a factor τ of the fewest "
    "evaluations any entry needed; at τ = 1 the share of wins, at the right edge the share "
    "solved at all. The PNG (report.md) also shows the profile of steps." + _READING
)
DATA_CAPTION = (
    "The fraction of problems solved within a budget of α·(dim + 1) function and gradient "
    "evaluations (Moré & Wild's simplex gradients). Hessian evaluations are not counted, "
    "which flatters second-order methods." + _READING
)


def numbers(values: Any) -> list[float | None]:
    """JSON-ready: rounded to `DIGITS` significant digits, non-finite values as None (a gap
    in a plotly line)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return [float(f"{v:.{DIGITS}g}") if math.isfinite(v) else None for v in array.tolist()]


def _dash(style: Mapping[str, Any]) -> str:
    return "solid" if style["linestyle"] == "-" else "dash"


def _layout(title: str, **axes: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "hovermode": "closest",
        "legend": {"font": {"size": 11}, "itemclick": "toggle", "itemdoubleclick": "toggleothers"},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 55},
        "template": "plotly_white",
        **axes,
    }


def _value_axis(column: str, values: np.ndarray) -> dict[str, Any]:
    """Log where the values are positive and span more than a decade (gaps: always)."""
    finite = values[np.isfinite(values)]
    log = column == "gap" or bool(
        finite.size and finite.min() > 0 and finite.max() > 10 * finite.min()
    )
    label = "gap f(x) − f*" if column == "gap" else "loss f(x)"
    return {"title": {"text": label}, "type": "log" if log else "linear", "exponentformat": "e"}


class _Twins:
    """Curves drawn so far; a new one equal to a drawn one joins its legend entry."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, np.ndarray]] = []
        self.trace_of: dict[str, list[dict[str, Any]]] = {}

    def twin(self, name: str, signature: np.ndarray) -> str | None:
        twin = _same_as(signature, self.drawn)
        if twin is None:
            self.drawn.append((name, signature))
        return twin

    def join(self, twin: str, name: str) -> None:
        """Name ``name`` in the legend entry of the twin's main trace (the first)."""
        traces = self.trace_of.get(twin)
        if traces:
            traces[0]["name"] += f" ≡ {name}"


def convergence_chart(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict]
) -> Chart:
    """The objective's median over seeds at each entry's tuned setting, against steps,
    evaluations or seconds (each trace carries all three in ``meta.views``; the page's
    buttons swap them in); the 25-75% band for the `BANDS` best ranked."""
    info = results.metadata["problems"][problem]
    column = objective_column(info)
    curves = results.curves[results.curves["problem"] == problem]
    traces: list[dict[str, Any]] = []
    twins = _Twins()
    banded = 0
    every: list[np.ndarray] = []
    for row in best.itertuples():
        lane = curves[(curves["optimizer"] == row.optimizer) & (curves["setting"] == row.setting)]
        if lane.empty:
            continue
        steps, matrix = steps_matrix(lane, column)
        median, low, high = _band(matrix, 1)
        every.append(median)
        twin = twins.twin(row.optimizer, median)
        if twin is not None:
            twins.join(twin, row.optimizer)
            continue
        grid = evals_grid(lane, points=EVAL_POINTS)
        e_median, e_low, e_high = _evals_band(lane, column, grid)
        per_step = float(row.run_s) / max(float(steps.max()), 1.0) if row.run_s else math.nan
        style = styles[row.optimizer]
        name = f"{row.optimizer} ({row.setting_label})"
        if row.diverged:
            name += f" [{row.diverged}/{row.runs} diverged]"
        views = {
            "steps": {"x": numbers(steps), "y": numbers(median), "shape": "linear"},
            "evals": {"x": numbers(grid), "y": numbers(e_median), "shape": "hv"},
            "seconds": {"x": numbers(steps * per_step), "y": numbers(median), "shape": "linear"},
        }
        line = {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "legendgroup": row.optimizer,
            "line": {"color": style["color"], "dash": _dash(style), "width": 1.8},
            "x": views["steps"]["x"],
            "y": views["steps"]["y"],
            "meta": {"views": views},
            "hovertemplate": f"{row.optimizer}<br>%{{x:.4g}}: %{{y:.4g}}<extra></extra>",
        }
        group = [line]
        if banded < BANDS:
            banded += 1
            band_views = {
                view: {
                    "x": numbers(np.concatenate([x, x[::-1]])),
                    "y": numbers(np.concatenate([hi, lo[::-1]])),
                    "shape": shape,
                }
                for view, x, hi, lo, shape in (
                    ("steps", steps, high, low, "linear"),
                    ("evals", grid, e_high, e_low, "hv"),
                    ("seconds", steps * per_step, high, low, "linear"),
                )
            }
            group.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "fill": "toself",
                    "fillcolor": _transparent(style["color"]),
                    "line": {"width": 0, "color": style["color"]},
                    "legendgroup": row.optimizer,
                    "showlegend": False,
                    "hoverinfo": "skip",
                    "x": band_views["steps"]["x"],
                    "y": band_views["steps"]["y"],
                    "meta": {"views": band_views},
                }
            )
        twins.trace_of[row.optimizer] = group
        traces += group
    values = np.concatenate(every) if every else np.array([1.0])
    layout = _layout(
        f"{problem} (dim {info['dim']}): median over seeds, tuned setting per entry",
        xaxis={"title": {"text": "step"}, "type": "log", "exponentformat": "e"},
        yaxis=_value_axis(column, values),
    )
    target = results.metadata["suite"].get("target")
    if column == "gap" and target:
        layout["shapes"] = [_target_line(target)]
    return {
        "data": traces,
        "layout": layout,
        "caption": CONVERGENCE_CAPTION + (_FLOORED if column == "gap" else ""),
        "views": {
            "steps": "step (optimizer updates)",
            "evals": "function + gradient evaluations",
            "seconds": "seconds (the cell's run time, all settings and seeds together, "
            "spread evenly over its steps)",
        },
    }


def _transparent(color: str, alpha: float = 0.15) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _target_line(target: float) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": target,
        "y1": target,
        "line": {"color": "#555", "dash": "dot", "width": 1.2},
        "label": {"text": f"target {target:g}", "textposition": "end", "font": {"size": 10}},
    }


def sensitivity_chart(
    problem: str,
    results: Results,
    best: pd.DataFrame,
    styles: Mapping[str, dict],
    settings: pd.DataFrame,
) -> Chart | None:
    """Final objective (median, IQR bars) against the learning rate per entry that sweeps
    it; a learning rate whose median diverged is an x at the top edge. ``settings``: the
    problem's rows of `Analysis.settings`."""
    rates = learning_rate_rows(problem, results, settings)
    if rates is None:
        return None
    column, summary = rates
    tuned = dict(zip(best["optimizer"], best["setting"], strict=True))
    floor, finite, log_axis, top = sensitivity_scale(summary, column)
    traces: list[dict[str, Any]] = []
    twins = _Twins()
    for optimizer, cell in summary.groupby("optimizer", sort=False):
        per_lr = _per_learning_rate(cell)
        lr = per_lr[LEARNING_RATE].to_numpy(dtype=np.float64)
        median, below, above = error_bars(
            per_lr["final_median"].to_numpy(),
            per_lr["final_q25"].to_numpy(),
            per_lr["final_q75"].to_numpy(),
            floor,
            top,
        )
        ok = np.isfinite(median)
        twin = twins.twin(str(optimizer), np.stack([lr, np.where(ok, median, np.nan)]))
        if twin is not None:
            twins.join(twin, str(optimizer))
            continue
        style = styles[optimizer]
        tuned_at = per_lr["setting"].to_numpy() == tuned.get(optimizer)
        group = [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": str(optimizer),
                "legendgroup": str(optimizer),
                "x": numbers(lr[ok]),
                "y": numbers(median[ok]),
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": numbers(above[ok]),
                    "arrayminus": numbers(below[ok]),
                    "thickness": 1,
                    "width": 3,
                },
                "marker": {
                    "color": style["color"],
                    "size": [13 if t else 6 for t in tuned_at[ok]],
                    "symbol": ["circle-open" if t else "circle" for t in tuned_at[ok]],
                },
                "line": {"color": style["color"], "dash": _dash(style), "width": 1.4},
                "hovertemplate": f"{optimizer}<br>learning rate %{{x:.3g}}: %{{y:.4g}}"
                "<extra></extra>",
            }
        ]
        if (~ok).any():
            group.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "legendgroup": str(optimizer),
                    "showlegend": False,
                    "x": numbers(lr[~ok]),
                    "y": [top] * int((~ok).sum()),
                    "marker": {"color": style["color"], "symbol": "x", "size": 9},
                    "hovertemplate": f"{optimizer}<br>learning rate %{{x:.3g}}: median run "
                    "diverged<extra></extra>",
                }
            )
        twins.trace_of[str(optimizer)] = group
        traces += group
    layout = _layout(
        f"{problem}: final value against the learning rate (median, IQR bars; ring: tuned; "
        "x at the top: diverged)",
        xaxis={"title": {"text": "learning rate"}, "type": "log", "exponentformat": "e"},
        yaxis={**_value_axis(column, finite), "type": "log" if log_axis else "linear"},
    )
    target = results.metadata["suite"].get("target")
    if column == "gap" and target:
        layout["shapes"] = [_target_line(target)]
    return {"data": traces, "layout": layout, "caption": SENSITIVITY_CAPTION}


def _path(paths: pd.DataFrame, optimizer: str, role: str) -> pd.DataFrame:
    rows = paths[(paths["optimizer"] == optimizer) & (paths["role"] == role)]
    if rows.empty:
        return rows
    return rows[rows["seed"] == rows["seed"].min()].sort_values("step")


def _near(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Coordinates more than 10 window widths outside the window as NaN (a gap in the
    line): a diverging path reaches 1e40, which the browser cannot place (and the
    legend already says the path leaves the window)."""
    span = window[1] - window[0]
    far = (values < window[0] - 10 * span) | (values > window[1] + 10 * span)
    return np.where(far, np.nan, values)


def _contour_trace(
    xs: np.ndarray, ys: np.ndarray, z: np.ndarray, f_star: float | None
) -> dict[str, Any] | None:
    """Shaded contours of f − min f on the window at the PNG's levels
    (`bench.plots.contour_levels`: log-spaced, at quantiles, and below a plain's top);
    None where no value is finite. plotly spaces contours evenly, so the trace draws the
    level index (f mapped piecewise-linearly onto 0, 1, 2, ... at the levels) and its
    hover and colorbar give f − min f itself."""
    values = contour_values(z, f_star)
    if values is None:
        return None
    clipped, low, top, levels = values
    index = np.interp(clipped, levels, np.arange(levels.size, dtype=np.float64))
    decades = np.arange(math.ceil(math.log10(low)), math.floor(math.log10(top)) + 1)
    ticks = np.interp(10.0**decades, levels, np.arange(levels.size, dtype=np.float64))
    return {
        "type": "contour",
        "x": numbers(xs),
        "y": numbers(ys),
        "z": [numbers(row) for row in index],
        "customdata": [numbers(row) for row in clipped],
        # plotly's Greys runs from black (low) to white: dark is low, as in the PNGs.
        "colorscale": "Greys",
        "opacity": 0.55,
        "contours": {
            "coloring": "heatmap",
            "showlines": True,
            "start": 0.0,
            "end": float(levels.size - 1),
            "size": 1.0,
        },
        "autocontour": False,
        "line": {"color": "rgba(80,80,80,0.5)", "width": 0.5},
        "colorbar": {
            "title": {"text": "f − min f", "side": "right"},
            "orientation": "h",
            "y": -0.3,
            "len": 0.6,
            "thickness": 12,
            "tickvals": numbers(ticks),
            "ticktext": [f"1e{int(d)}" for d in decades],
        },
        "hovertemplate": "x0 %{x:.3g}, x1 %{y:.3g}<br>f − min f %{customdata:.3g}<extra></extra>",
        "showlegend": False,
        "name": "contours",
    }


def _window_of(
    problem: str, results: Results
) -> tuple[Mapping[str, Any], pd.DataFrame, np.ndarray, np.ndarray, dict[str, Any]] | None:
    """(the problem's metadata, its paths, the window's x and y, its contour trace); None
    where the surface has no finite value."""
    info = results.metadata["problems"][problem]
    xs, ys, z = _surface(results.surfaces, problem)
    contour = _contour_trace(xs, ys, z, info.get("f_star"))
    if contour is None:
        return None
    return info, results.paths[results.paths["problem"] == problem], xs, ys, contour


def trajectory_chart(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict]
) -> Chart | None:
    """Every entry's path (tuned setting, first seed) over log-spaced contours of f − min f;
    the default setting's path of each entry as a hidden trace (click its legend entry)."""
    window = _window_of(problem, results)
    if window is None:
        return None
    info, paths, xs, ys, contour = window
    traces: list[dict[str, Any]] = [contour]
    twins = _Twins()
    start = None
    x_range = (float(np.min(xs)), float(np.max(xs)))
    y_range = (float(np.min(ys)), float(np.max(ys)))
    for row in best.itertuples():
        tuned = _path(paths, row.optimizer, "best")
        if tuned.empty:
            continue
        x, y = tuned["x0"].to_numpy(np.float64), tuned["x1"].to_numpy(np.float64)
        start = (x[0], y[0])
        twin = twins.twin(row.optimizer, np.stack([x, y]))
        if twin is not None:
            twins.join(twin, row.optimizer)
            continue
        style = styles[row.optimizer]
        inside = (x >= x_range[0]) & (x <= x_range[1]) & (y >= y_range[0]) & (y <= y_range[1])
        left = "" if inside.all() else " [leaves the window]"
        x, y = _near(x, x_range), _near(y, y_range)
        label = setting_label(results.metadata, row.optimizer, tuned["setting"].iloc[0])
        group = [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{row.optimizer} ({label}){left}",
                "legendgroup": row.optimizer,
                "x": numbers(x),
                "y": numbers(y),
                "customdata": numbers(tuned["step"]),
                "marker": {"size": 4, "color": style["color"]},
                "line": {"color": style["color"], "dash": _dash(style), "width": 1.6},
                "hovertemplate": f"{row.optimizer}<br>step %{{customdata}}: (%{{x:.4g}}, "
                "%{y:.4g})<extra></extra>",
            }
        ]
        default = _path(paths, row.optimizer, "default")
        if not default.empty and default["setting"].iloc[0] != tuned["setting"].iloc[0]:
            shown = setting_label(results.metadata, row.optimizer, default["setting"].iloc[0])
            group.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{row.optimizer} default ({shown})",
                    "legendgroup": row.optimizer + " default",
                    "visible": "legendonly",
                    "x": numbers(_near(default["x0"].to_numpy(np.float64), x_range)),
                    "y": numbers(_near(default["x1"].to_numpy(np.float64), y_range)),
                    "customdata": numbers(default["step"]),
                    "line": {"color": style["color"], "dash": "dot", "width": 1.3},
                    "hovertemplate": f"{row.optimizer} default<br>step %{{customdata}}: "
                    "(%{x:.4g}, %{y:.4g})<extra></extra>",
                }
            )
        twins.trace_of[row.optimizer] = group
        traces += group
    landmarks = []
    if start is not None:
        landmarks.append(("start x0", [start[0]], [start[1]], "square", "black", 9))
    minimizers = [point[:2] for point in info.get("x_star") or []]
    if minimizers:
        landmarks.append(
            (
                "known minimizer(s)",
                [p[0] for p in minimizers],
                [p[1] for p in minimizers],
                "star",
                "crimson",
                14,
            )
        )
    for name, px, py, symbol, color, size in landmarks:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": numbers(px),
                "y": numbers(py),
                "marker": {"symbol": symbol, "color": color, "size": size},
            }
        )
    layout = _layout(
        f"{problem}: paths at the tuned setting, first seed (default settings: in the legend, "
        "hidden)",
        xaxis={"title": {"text": "x[0]"}, "range": list(x_range), "zeroline": False},
        yaxis={"title": {"text": "x[1]"}, "range": list(y_range), "zeroline": False},
    )
    layout["margin"] = {**layout["margin"], "b": 110}
    return {"data": traces, "layout": layout, "caption": TRAJECTORY_CAPTION}


# The best ranked entries (twins once) in a path animation, and its most frames.
ANIMATED = 4
ANIMATION_FRAMES = 40
ANIMATION_CAPTION = (
    "The paths of the best ranked entries (tuned setting, first seed) drawn step by step "
    "over the contours: press play, or drag the slider to a step. A moving dot is an "
    "entry's iterate at that step; the paths in full are in the chart above."
)


def animation_chart(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict]
) -> Chart | None:
    """The `ANIMATED` best ranked paths drawn step by step (plotly frames, a play button and
    a slider over the recorded steps); None without a surface or a path."""
    window = _window_of(problem, results)
    if window is None:
        return None
    _info, paths, xs, ys, contour = window
    contour = {**contour, "colorbar": None, "showscale": False}
    x_range = (float(np.min(xs)), float(np.max(xs)))
    y_range = (float(np.min(ys)), float(np.max(ys)))
    twins = _Twins()
    chosen: list[tuple[str, pd.DataFrame]] = []
    names: dict[str, str] = {}  # as the legend shows them: twins joined
    for row in best.itertuples():
        tuned = _path(paths, row.optimizer, "best")
        if tuned.empty:
            continue
        x, y = tuned["x0"].to_numpy(np.float64), tuned["x1"].to_numpy(np.float64)
        twin = twins.twin(row.optimizer, np.stack([x, y]))
        if twin is not None:
            names[twin] += f" ≡ {row.optimizer}"
            continue
        if len(chosen) == ANIMATED:
            break
        chosen.append((row.optimizer, tuned))
        names[row.optimizer] = row.optimizer
    if not chosen:
        return None
    steps = np.unique(np.concatenate([t["step"].to_numpy() for _, t in chosen]))
    if steps.size > ANIMATION_FRAMES:
        steps = steps[
            np.unique(np.linspace(0, steps.size - 1, ANIMATION_FRAMES).round().astype(int))
        ]
    data: list[dict[str, Any]] = [contour]
    for name, tuned in chosen:
        color = styles[name]["color"]
        first = tuned.iloc[:1]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": names[name],
                "legendgroup": name,
                "x": numbers(first["x0"]),
                "y": numbers(first["x1"]),
                "line": {"color": color, "width": 2, "dash": _dash(styles[name])},
                "hoverinfo": "skip",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{name} now",
                "legendgroup": name,
                "showlegend": False,
                "x": numbers(first["x0"]),
                "y": numbers(first["x1"]),
                "marker": {"size": 11, "color": color, "line": {"color": "white", "width": 1.5}},
                "hovertemplate": f"{name}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
            }
        )
    traces = list(range(1, len(data)))
    frames = []
    for step in steps:
        update = []
        for _name, tuned in chosen:
            upto = tuned[tuned["step"] <= step]
            x = _near(upto["x0"].to_numpy(np.float64), x_range)
            y = _near(upto["x1"].to_numpy(np.float64), y_range)
            update.append({"x": numbers(x), "y": numbers(y)})
            update.append({"x": numbers(x[-1:]), "y": numbers(y[-1:])})
        frames.append({"name": str(int(step)), "data": update, "traces": traces})
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    layout = _layout(
        f"{problem}: the best paths, step by step",
        xaxis={"title": {"text": "x[0]"}, "range": list(x_range), "zeroline": False},
        yaxis={"title": {"text": "x[1]"}, "range": list(y_range), "zeroline": False},
    )
    layout["margin"] = {**layout["margin"], "b": 120}
    layout["updatemenus"] = [
        {
            "type": "buttons",
            "direction": "left",
            "showactive": False,
            "x": 0.0,
            "y": -0.2,
            "xanchor": "left",
            "yanchor": "top",
            "buttons": [
                {
                    "label": "▶ play",
                    "method": "animate",
                    "args": [
                        None,
                        {
                            "frame": {"duration": 150, "redraw": False},
                            "transition": {"duration": 0},
                            "fromcurrent": True,
                        },
                    ],
                },
                {"label": "❚❚ pause", "method": "animate", "args": [[None], still]},
            ],
        }
    ]
    layout["sliders"] = [
        {
            "active": 0,
            "x": 0.22,
            "len": 0.78,
            "y": -0.16,
            "yanchor": "top",
            "currentvalue": {"prefix": "step "},
            "steps": [
                {"label": f["name"], "method": "animate", "args": [[f["name"]], still]}
                for f in frames
            ],
        }
    ]
    return {"data": data, "layout": layout, "frames": frames, "caption": ANIMATION_CAPTION}


def curvature_chart(
    problem: str, results: Results, best: pd.DataFrame, styles: Mapping[str, dict]
) -> Chart | None:
    """The Hessian's condition number and smallest eigenvalue along each tuned path."""
    curvature = results.curvature[
        (results.curvature["problem"] == problem) & (results.curvature["role"] == "best")
    ]
    if curvature.empty or constant_curvature(results.curvature, problem) is not None:
        return None
    traces: list[dict[str, Any]] = []
    twins = _Twins()
    for row in best.itertuples():
        rows = curvature[curvature["optimizer"] == row.optimizer]
        if rows.empty:
            continue
        rows = rows[rows["seed"] == rows["seed"].min()].sort_values("step")
        steps = rows["step"].to_numpy(np.float64)
        condition = _clean(rows["condition"], "condition")
        eig = rows["eig_min"].to_numpy(np.float64)
        eig = np.where(np.isfinite(eig) & (np.abs(eig) < 1e100), eig, np.nan)
        twin = twins.twin(row.optimizer, np.concatenate([condition, eig]))
        if twin is not None:
            twins.join(twin, row.optimizer)
            continue
        style = styles[row.optimizer]
        line = {"color": style["color"], "dash": _dash(style), "width": 1.5}
        group = [
            {
                "type": "scatter",
                "mode": "lines",
                "name": row.optimizer,
                "legendgroup": row.optimizer,
                "x": numbers(steps),
                "y": numbers(condition),
                "line": line,
                "xaxis": "x",
                "yaxis": "y",
                "hovertemplate": f"{row.optimizer}<br>step %{{x}}: condition %{{y:.4g}}"
                "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": row.optimizer,
                "legendgroup": row.optimizer,
                "showlegend": False,
                "x": numbers(steps),
                "y": numbers(eig),
                "line": line,
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": f"{row.optimizer}<br>step %{{x}}: λ_min %{{y:.4g}}<extra></extra>",
            },
        ]
        twins.trace_of[row.optimizer] = group
        traces += group
    if not traces:
        return None
    layout = _layout(
        f"{problem}: curvature along the tuned paths (first seed)",
        grid={"rows": 2, "columns": 1, "pattern": "independent"},
        xaxis={"type": "log", "matches": "x2", "showticklabels": False},
        yaxis={"title": {"text": "condition number"}, "type": "log", "exponentformat": "e"},
        xaxis2={"title": {"text": "step"}, "type": "log"},
        yaxis2={"title": {"text": "λ_min (< 0: saddle)"}, "zeroline": True, "zerolinewidth": 2},
    )
    return {"data": traces, "layout": layout, "caption": CURVATURE_CAPTION}


def _profile_traces(
    x: np.ndarray, profile: pd.DataFrame, solved: pd.Series, styles: Mapping[str, dict]
) -> list[dict[str, Any]]:
    traces = []
    n_problems = int(solved.attrs.get("n", 0))
    twins = _Twins()
    for name in profile.columns:
        values = profile[name].to_numpy(dtype=np.float64)
        twin = twins.twin(name, values)
        if twin is not None:
            twins.join(twin, name)
            continue
        style = styles[name]
        trace = {
            "type": "scatter",
            "mode": "lines",
            "line": {"shape": "hv", "color": style["color"], "dash": _dash(style), "width": 1.7},
            "name": f"{name} ({int(solved[name])}/{n_problems} solved)",
            "legendgroup": name,
            "x": numbers(x),
            "y": numbers(values),
            "hovertemplate": f"{name}<br>%{{x:.3g}}: %{{y:.3f}}<extra></extra>",
        }
        twins.trace_of[name] = [trace]
        traces.append(trace)
    return traces


def performance_chart(
    table: pd.DataFrame, metadata: Mapping[str, Any], styles: Mapping[str, dict]
) -> Chart | None:
    """Dolan-Moré profile of evaluations to target (the static figure also has steps)."""
    _, evals, solved = _profile_costs(table, metadata)
    if evals.empty:
        return None
    taus = tau_grid(evals)
    layout = _layout(
        f"Performance profile (Dolan & Moré): evaluations to target gap "
        f"{metadata['suite']['target']:g}",
        xaxis={"title": {"text": "τ: evaluations / fewest of any optimizer"}, "type": "log"},
        yaxis={"title": {"text": f"fraction of the {len(evals.index)} problems"},
               "range": [-0.03, 1.03]},
    )  # fmt: skip
    return {
        "data": _profile_traces(taus, performance_profile(evals, taus), solved, styles),
        "layout": layout,
        "caption": PERFORMANCE_CAPTION,
    }


def data_chart(
    table: pd.DataFrame, metadata: Mapping[str, Any], styles: Mapping[str, dict]
) -> Chart | None:
    """Moré-Wild data profile: problems solved within α·(dim + 1) evaluations."""
    _, evals, solved = _profile_costs(table, metadata)
    if evals.empty:
        return None
    dims = {p: int(metadata["problems"][p]["dim"]) for p in evals.index}
    alphas = alpha_grid(evals, dims)
    layout = _layout(
        f"Data profile (Moré & Wild): target gap {metadata['suite']['target']:g}",
        xaxis={"title": {"text": "budget α: evaluations / (dim + 1)"}, "type": "log"},
        yaxis={"title": {"text": f"fraction of the {len(evals.index)} problems solved"},
               "range": [-0.03, 1.03]},
    )  # fmt: skip
    return {
        "data": _profile_traces(alphas, data_profile(evals, dims, alphas), solved, styles),
        "layout": layout,
        "caption": DATA_CAPTION,
    }


def _ecdf_steps(costs: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The exact step function of one optimizer's ECDF: a point per solved trial."""
    solved = np.sort(costs[np.isfinite(costs)])
    fractions = np.arange(1, solved.size + 1) / max(costs.size, 1)
    x = np.concatenate([[low], solved, [high]])
    y = np.concatenate([[0.0], fractions, [fractions[-1] if solved.size else 0.0]])
    return x, y


def ecdf_chart(
    runs: pd.DataFrame, table: pd.DataFrame, metadata: Mapping[str, Any], styles
) -> Chart | None:
    """COCO-style runtime distributions over the target ladder; a menu picks all problems
    or one class of surface."""
    targets = metadata["suite"].get("targets") or []
    groups = ecdf_groups(metadata)
    if not targets or not groups[0][1]:
        return None
    traces: list[dict[str, Any]] = []
    spans = []
    for position, (group, problems) in enumerate(groups):
        costs = runtime_costs(runs, table, metadata, problems)
        values = costs.to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        low = float(finite.min()) / 1.5 if finite.size else 0.1
        high = float(finite.max()) * 1.5 if finite.size else 10.0
        twins = _Twins()
        first = len(traces)
        for optimizer in costs.columns:
            x, y = _ecdf_steps(costs[optimizer].to_numpy(dtype=np.float64), low, high)
            twin = twins.twin(optimizer, np.sort(costs[optimizer].to_numpy(dtype=np.float64)))
            if twin is not None:
                twins.join(twin, optimizer)
                continue
            style = styles[optimizer]
            trace = {
                "type": "scatter",
                "mode": "lines",
                "name": optimizer,
                "legendgroup": optimizer,
                "visible": position == 0,
                "x": numbers(x),
                "y": numbers(y),
                "line": {"shape": "hv", "color": style["color"], "dash": _dash(style)},
                "hovertemplate": f"{optimizer}<br>%{{x:.3g}} evaluations/dim: %{{y:.3f}}"
                "<extra></extra>",
            }
            twins.trace_of[optimizer] = [trace]
            traces.append(trace)
        spans.append((group, problems, first, len(traces)))
    buttons = [
        {
            "label": f"{group} ({len(problems)})",
            "method": "update",
            "args": [{"visible": [first <= i < end for i in range(len(traces))]}],
        }
        for group, problems, first, end in spans
    ]
    ladder = ", ".join(f"{t:g}" for t in targets)
    layout = _layout(
        f"Runtime distributions (COCO ECDFs) over the target gaps {ladder}",
        xaxis={"title": {"text": "evaluations / dimension"}, "type": "log"},
        yaxis={"title": {"text": "fraction of (problem, target, seed) trials solved"},
               "range": [-0.02, 1.02]},
    )  # fmt: skip
    if len(buttons) > 1:
        layout["updatemenus"] = [
            {"buttons": buttons, "direction": "down", "x": 0.0, "y": 1.12, "xanchor": "left"}
        ]
        layout["margin"] = {**layout["margin"], "t": 90}
    return {"data": traces, "layout": layout, "caption": ECDF_CAPTION}


ProblemChart = Callable[[str, Results, pd.DataFrame, Mapping[str, dict]], Chart | None]
# PNG file suffix (as bench.plots names them) -> the chart that stands for it in the HTML.
PROBLEM_CHARTS: tuple[tuple[str, ProblemChart], ...] = (
    ("convergence", convergence_chart),
    ("trajectories", trajectory_chart),
    ("curvature", curvature_chart),
)
PROFILE_CHARTS = (("profile_performance.png", performance_chart), ("profile_data.png", data_chart))
ECDF_FILE = "profile_ecdf.png"


def charts_for(
    results: Results, analysis: Analysis, errors: list[str] | None = None
) -> dict[str, Chart | str]:
    """PNG file name -> its chart (or `IN_TRAJECTORIES`). A chart that raises is left out
    (its PNG stands in the HTML) and named in ``errors``. ``analysis``:
    `bench.analysis.analyse(results)`."""
    table = analysis.table
    settings = _by_problem(analysis.settings)
    styles = suite_styles(results)
    metadata = results.metadata
    charts: dict[str, Chart | str] = {}
    # Each problem's rows, split once (every chart would otherwise scan every table).
    groups = {name: _by_problem(getattr(results, name)) for name in _TABLES}

    def attempt(file: str, build: Callable[[], Chart | None]) -> None:
        try:
            chart = build()
        except Exception as error:  # a chart is data: the PNG stands in for it
            if errors is not None:
                errors.append(f"{file}: {type(error).__name__}: {error}")
            return
        if chart is not None:
            charts[file] = chart

    for problem in metadata["problems"]:
        best = table[table["problem"] == problem]
        if best.empty:
            continue
        name = slug(problem)
        mine = _problem_results(results, problem, groups)
        has_path = (
            results.paths is not None
            and results.surfaces is not None
            and (results.paths["problem"] == problem).any()
            and (results.surfaces["problem"] == problem).any()
        )
        for suffix, build in PROBLEM_CHARTS:
            if suffix == "trajectories" and not has_path:
                continue
            if suffix == "curvature" and results.curvature is None:
                continue
            attempt(
                f"{name}_{suffix}.png",
                lambda build=build, problem=problem, best=best, mine=mine: build(
                    problem, mine, best, styles
                ),
            )
        attempt(
            f"{name}_learning_rate.png",
            lambda problem=problem, best=best, mine=mine: sensitivity_chart(
                problem, mine, best, styles, settings.get(problem, analysis.settings.iloc[:0])
            ),
        )
        if f"{name}_trajectories.png" in charts:
            # The default paths are in the trajectory chart (hidden traces); the slot of
            # their PNG holds the animation.
            file = f"{name}_paths_by_optimizer.png"
            attempt(
                file,
                lambda problem=problem, best=best, mine=mine: animation_chart(
                    problem, mine, best, styles
                ),
            )
            charts.setdefault(file, IN_TRAJECTORIES)
    if solvable_problems(metadata):
        for file, build_profile in PROFILE_CHARTS:
            attempt(file, lambda build=build_profile: build(table, metadata, styles))
        attempt(ECDF_FILE, lambda: ecdf_chart(results.runs, table, metadata, styles))
    return charts
