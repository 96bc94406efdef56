"""The figures across problems: Dolan-Moré performance profiles, the Moré-Wild data profile
and COCO-style runtime distributions over the target ladder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.plots import style as styling
from bench.plots.style import (
    GREY,
    HIGHLIGHT,
    PANEL_HIGHLIGHT,
    Figure,
    _legend,
    highlighted,
    wrap_labels,
)
from bench.profiles import (
    alpha_grid,
    budget_grid,
    data_profile,
    performance_profile,
    runtime_costs,
    runtime_ecdf,
    tau_grid,
)
from bench.summary import (
    solvable_problems,
    target_costs,
)


def _profile_lines(
    ax: plt.Axes, x: np.ndarray, profile: pd.DataFrame, solved: pd.Series, styles
) -> None:
    """Step curves: entries with identical curves drawn once and named together (a ≡ b),
    the `HIGHLIGHT` with the largest area in color and labelled with how many problems
    each solves, the rest grey (one legend entry); colored curves are nudged apart
    vertically by a hair so equal ones stay visible."""
    shown = _join_identical_curves(profile)
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
    styling.save(fig, path)
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
    styling.save(fig, path)
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


def _join_identical_curves(ecdf: pd.DataFrame) -> dict[str, str]:
    """Entry -> its legend label, for the entries drawn: an entry whose curve (a profile,
    or the runtime distribution over all problems) equals one before it is not drawn, but
    named in that entry's label (a ≡ b)."""
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
    shown = _join_identical_curves(runtime_ecdf(costs, budget_grid(costs)))
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
    fig.legend(handles, wrap_labels(labels), loc="outside right upper", fontsize="small")
    styling.save(fig, path)
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
