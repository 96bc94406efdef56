"""The curvature figure: objective, condition number and smallest Hessian eigenvalue along
the path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.plots import style as styling
from bench.plots.statistics import _clean, _is_log_spaced, _symlog_threshold
from bench.plots.style import (
    GREY,
    HIGHLIGHT,
    Figure,
    _clip_blowups,
    _line,
    _same_as,
    _set_value_scale,
    _symlog_x,
    _y_label,
    highlighted,
    setting_label,
)
from bench.results.loaded import Results
from bench.summary import (
    objective_column,
)


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
    styling.save(fig, path)
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
