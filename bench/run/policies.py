"""Policies of a sweep: which cells are skipped, what a cell records, its targets, which
lanes keep their paths, and how much memory one chunk of lanes may take."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import pandas as pd

from bench.config import OptimizerSetting, Suite
from bench.run.kernel import GAP_LADDER, Recording, record_grid
from bench.summary import best_settings
from optimizers.compose import build_transform
from problems import Problem


def skip_reason(problem: Problem, setting: OptimizerSetting, suite: Suite) -> str | None:
    """Why a cell is not run (declared capabilities), or None to run it."""
    entry = setting.entry
    if entry.needs_hessian and problem.dim > suite.max_hessian_dim:
        return (
            f"needs a dense {problem.dim}x{problem.dim} Hessian; dim {problem.dim} is above "
            f"max_hessian_dim {suite.max_hessian_dim}"
        )
    dense_cap = suite.max_dense_state_dim
    if entry.dense_state and dense_cap is not None and problem.dim > dense_cap:
        return (
            f"keeps a dense {problem.dim}x{problem.dim} matrix in its state; dim "
            f"{problem.dim} is above max_dense_state_dim {dense_cap}"
        )
    # A line-search switch (newton's linesearch) is a static argument: decided per entry.
    if (
        entry.deterministic_only_for(setting.static)
        and problem.stochastic
        and not setting.allow_stochastic
    ):
        flag = entry.line_search_argument
        switch = "" if entry.deterministic_only or flag is None else f", or {flag}: false"
        return (
            "a line-search method on a stochastic problem (set allow_stochastic: true on "
            f"the optimizer entry to run it anyway{switch})"
        )
    return None


def targets_for(suite: Suite) -> tuple[float, ...]:
    """The gap ladder, plus the suite's own target when it is not a rung of it.

    Exact comparison on purpose: a tolerance (np.isclose's default atol is 1e-8) once made
    a target of 1e-10 look "already on the ladder" and scored it at 1e-8.
    """
    targets = list(GAP_LADDER)
    if suite.target is not None and suite.target not in targets:
        targets.append(float(suite.target))
    return tuple(sorted(targets, reverse=True))


def memory_budget_bytes() -> int:
    """Memory for one chunk of lanes: a quarter of the device's, room for XLA's own buffers.

    An accelerator reports its own memory (``memory_stats()['bytes_limit']``); on the CPU
    the device's memory is the machine's.
    """
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) // 4
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (OSError, ValueError):
        return 2**31


def make_transform_factory(setting: OptimizerSetting):
    """hyperparams -> transform for one entry: its static arguments, schedule and clipping."""
    schedule = setting.make_schedule()

    def make_tx(hyperparams: Mapping[str, Any]):
        return build_transform(
            setting.entry,
            {**setting.static, **hyperparams},
            schedule=schedule,
            clip_norm=setting.clip_norm,
        )

    return make_tx


def recording_for(problem: Problem, suite: Suite) -> Recording:
    """Paths for 2-d problems (trajectories over contours), curvature for small ones."""
    return Recording(
        steps=record_grid(suite.steps, suite.record_every, suite.record_log, suite.record_points),
        path=problem.dim == 2,
        curvature=problem.dim <= suite.curvature_max_dim,
    )


def kept_settings(
    runs: pd.DataFrame,
    settings: Mapping[tuple[str, str], OptimizerSetting],
    problem_info: Mapping[str, Mapping[str, Any]],
) -> dict[tuple[str, str], tuple[int | None, int | None]]:
    """(tuned, default) setting indices per (problem, optimizer) cell of ``runs``: the lanes
    whose paths the tables keep (no tuned one where every setting diverged). One pass of
    the tuning protocol over all the rows."""
    best = best_settings(runs, problem_info)
    best = best[~best["all_settings_diverged"]]
    tuned = dict(
        zip(
            zip(best["problem"], best["optimizer"], strict=True),
            best["setting"].astype(int),
            strict=True,
        )
    )
    return {cell: (tuned.get(cell), setting.default_index()) for cell, setting in settings.items()}
