"""The learning-rate sensitivity figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.plots import style as styling
from bench.plots.statistics import (
    _per_learning_rate,
    diverged_learning_rates,
    error_bars,
    learning_rate_rows,
    sensitivity_scale,
)
from bench.plots.style import (
    LEARNING_RATE,
    Figure,
    _legend,
    _line,
    _metric_name,
    _same_as,
    _target_near,
)
from bench.results.loaded import Results


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
    # First each entry's points and the drawn entry they equal (a twin: drawn once, both
    # named in one legend entry and one row of the diverged strip), then the drawing.
    names: dict[str, str] = {}
    twin_of: dict[str, str] = {}
    entries = []
    for optimizer, cell in summary.groupby("optimizer", sort=False):
        per_lr = _per_learning_rate(cell)
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
        if twin is None:
            drawn.append((optimizer, np.stack([lr, shown])))
            names[str(optimizer)] = str(optimizer)
        else:
            names[twin] += f" ≡ {optimizer}"
            twin_of[str(optimizer)] = twin
        entries.append((str(optimizer), cell, lr, shown, below, above, ok))
    for optimizer, cell, lr, shown, below, above, ok in entries:
        if optimizer in twin_of:
            continue
        style = styles[optimizer]
        ax.errorbar(
            lr[ok],
            shown[ok],
            yerr=[below[ok], above[ok]],
            marker=style["marker"],
            markersize=5,
            capsize=3,
            label=names[optimizer],
            **_line(optimizer, None, styles, width=1.4),
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
        diverged = {o: rates for o, rates in diverged.items() if o not in twin_of}
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
        ax_div.set_yticks(
            range(len(diverged)), [names.get(o, o) for o in diverged], fontsize="small"
        )
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
    styling.save(fig, path)
    return Figure(
        path,
        f"{problem}: learning-rate sensitivity",
        f"Final {_metric_name(column)} (median over seeds, bars from the 25th to the 75th "
        "percentile) against the learning rate, for every entry that sweeps it; a ring marks "
        "the tuned setting, and an x in the strip above (one row per entry) a learning rate "
        "whose median run diverged.",
    )
