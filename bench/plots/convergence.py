"""The convergence figure: the objective against steps and against evaluations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.plots import style as styling
from bench.plots.statistics import (
    _band,
    _curve_signature,
    _evals_band,
    _is_log_spaced,
    evals_grid,
    steps_matrix,
)
from bench.plots.style import (
    BANDS,
    GAP_FLOOR,
    GREY,
    HIGHLIGHT,
    Figure,
    _clip_blowups,
    _legend,
    _line,
    _metric_name,
    _same_as,
    _set_value_scale,
    _symlog_x,
    _target_near,
    _y_label,
    highlighted,
)
from bench.results.loaded import Results
from bench.summary import (
    objective_column,
)


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
        if getattr(row, "departs_from", ""):  # its usual twin differs here: say so
            label += f" [departs from {row.departs_from}]"
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
    styling.save(fig, path)
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
