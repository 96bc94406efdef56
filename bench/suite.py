"""Run a checked suite cell by cell and write its tables, plots and report."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import jax
import numpy as np
import pandas as pd

from bench.config import OptimizerSetting, Suite
from bench.environment import environment
from bench.runner import (
    GAP_LADDER,
    CellResult,
    CompiledCell,
    Recording,
    compile_cell,
    lane_bytes,
    record_grid,
)
from bench.summary import best_settings
from bench.surfaces import surface_frame
from bench.tables import (
    CURVE_COLUMNS,
    RUN_COLUMNS,
    curvature_frame,
    curves_frame,
    order_columns,
    paths_frame,
    runs_frame,
    setting_label,
    skipped_runs_frame,
    write_table,
)
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
    """The gap ladder, plus the suite's own target when it is not on the ladder."""
    targets = list(GAP_LADDER)
    if suite.target is not None and not np.isclose(targets, suite.target, rtol=1e-9).any():
        targets.append(suite.target)
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


def compile_one(problem: Problem, setting: OptimizerSetting, suite: Suite) -> CompiledCell:
    """Compile one cell (every grid point x every seed of the suite) without running it."""
    recording = recording_for(problem, suite)
    return compile_cell(
        problem,
        make_transform_factory(setting),
        setting.entry.count_evals,
        setting.settings(),
        suite.seeds,
        recording,
        targets_for(suite),
        max_lane_bytes=memory_budget_bytes(),
        per_lane_bytes=lane_bytes(
            problem, recording, setting.entry.needs_hessian, dense_state=setting.entry.dense_state
        ),
    )


def run_one(problem: Problem, setting: OptimizerSetting, suite: Suite) -> CellResult:
    """Compile and run one cell: every grid point x every seed of the suite."""
    cell = compile_one(problem, setting, suite)
    return cell.result(recording_for(problem, suite).steps)


def recording_for(problem: Problem, suite: Suite) -> Recording:
    """Paths for 2-d problems (trajectories over contours), curvature for small ones."""
    return Recording(
        steps=record_grid(suite.steps, suite.record_every, suite.record_log, suite.record_points),
        path=problem.dim == 2,
        curvature=problem.dim <= suite.curvature_max_dim,
    )


def kept_settings(
    setting: OptimizerSetting, runs: pd.DataFrame, problem_info: Mapping[str, Any]
) -> tuple[int | None, int | None]:
    """(best, default) setting indices of one cell: the lanes whose paths are stored."""
    labels = [setting_label(point) for point in setting.settings()]
    best = best_settings(runs, {runs["problem"].iloc[0]: problem_info})
    best_index = labels.index(best["setting"].iloc[0]) if not best.empty else None
    return best_index, setting.default_index()


def suite_metadata(suite: Suite) -> dict[str, Any]:
    """What the plots and the report need besides the rows: the suite and its records."""
    return {
        "environment": environment(),
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "source": suite.source,
            "steps": suite.steps,
            "seeds": list(suite.seeds),
            "target": suite.target,
            "dtype": suite.dtype,
            "targets": list(targets_for(suite)),
            "config": suite.raw,
        },
        "problems": {
            p.name: {
                "dim": p.dim,
                "f_star": p.f_star,
                "x_star": None if p.x_star is None else np.asarray(p.x_star).tolist(),
                "bounds": None if p.bounds is None else [list(b) for b in p.bounds],
                "stochastic": p.stochastic,
                "description": p.description,
                "source": p.source,
            }
            for p in suite.problems
        },
        "optimizers": {
            s.name: {
                "kind": s.entry.name,
                "static": dict(s.static),
                "grid": {k: list(v) for k, v in s.grid.items()},
                "schedule": None if s.schedule is None else [s.schedule[0], dict(s.schedule[1])],
                "clip_norm": s.clip_norm,
                "sweeps": list(s.grid),
                "default_setting": (
                    None if s.default_index() is None else setting_label(s.default or {})
                ),
                "description": s.entry.description,
            }
            for s in suite.optimizers
        },
    }


def run_suite(
    suite: Suite, out: Path, log: TextIO | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every cell, then write the tables into out; progress goes to ``log`` (stderr)."""
    log = log or sys.stderr
    cells = [(p, s) for p in suite.problems for s in suite.optimizers]
    curves: list[pd.DataFrame] = []
    runs: list[pd.DataFrame] = []
    paths: list[pd.DataFrame] = []
    curvature: list[pd.DataFrame] = []
    cell_times: list[dict[str, Any]] = []
    start = time.perf_counter()
    for index, (problem, setting) in enumerate(cells, 1):
        label = f"[{index}/{len(cells)}] {problem.name} x {setting.name}"
        reason = skip_reason(problem, setting, suite)
        if reason is not None:
            print(f"{label}: skipped: {reason}", file=log, flush=True)
            runs.append(
                skipped_runs_frame(
                    problem.name, setting.name, setting.settings(), suite.seeds, suite.steps, reason
                )
            )
            continue
        n_settings = len(setting.settings())
        print(
            f"{label}: {n_settings} setting(s) x {len(suite.seeds)} seed(s) ...",
            end="",
            file=log,
            flush=True,
        )
        result = run_one(problem, setting, suite)
        curves.append(curves_frame(problem.name, setting.name, result, problem.f_star))
        cell_runs = runs_frame(problem.name, setting.name, result, problem.f_star, suite.target)
        runs.append(cell_runs)
        keep = kept_settings(setting, cell_runs, {"f_star": problem.f_star})
        paths.append(paths_frame(problem.name, setting.name, result, keep))
        curvature.append(curvature_frame(problem.name, setting.name, result, keep))
        cell_times.append(
            {
                "problem": problem.name,
                "optimizer": setting.name,
                "compile_s": result.compile_s,
                "run_s": result.run_s,
                "xla_compiles": result.backend_compiles,
                "cache_hits": result.cache_hits,
            }
        )
        diverged = int(result.diverged.sum())
        print(
            f" compile {result.compile_s:.2f} s, run {result.run_s:.2f} s"
            + (f", {diverged} diverged" if diverged else "")
            + (f", in {result.chunks} chunks (memory)" if result.chunks > 1 else "")
            + f" (elapsed {time.perf_counter() - start:.1f} s)",
            file=log,
            flush=True,
        )

    hyper = _hyperparameter_names(suite)
    curves_table = order_columns(
        pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=list(CURVE_COLUMNS)),
        list(CURVE_COLUMNS) + hyper,
    )
    runs_table = order_columns(
        pd.concat(runs, ignore_index=True),
        ["problem", "optimizer", "seed", *hyper, *RUN_COLUMNS[3:]],
    )
    # Surfaces first: their compiles belong to the suite's time, before it is summed up.
    surfaces = [surface_frame(p) for p in suite.problems if p.dim == 2]
    out.mkdir(parents=True, exist_ok=True)
    metadata = suite_metadata(suite)
    metadata["timing"] = timing_summary(cell_times, time.perf_counter() - start)
    write_table(curves_table, out / "curves.parquet", metadata)
    write_table(runs_table, out / "runs.parquet", metadata)
    extras = {
        "paths": paths,
        "curvature": curvature,
        "surfaces": surfaces,
    }
    for name, frames in extras.items():
        frames = [f for f in frames if not f.empty]
        if frames:
            write_table(pd.concat(frames, ignore_index=True), out / f"{name}.parquet", metadata)
        else:
            (out / f"{name}.parquet").unlink(missing_ok=True)
    timing = metadata["timing"]
    print(
        f"done: {len(cells)} cells in {timing['total_s']:.1f} s (compile "
        f"{timing['compile_s']:.1f} s, {timing['xla_compiles']} XLA compiles, "
        f"{timing['cache_hits']} loaded from the compilation cache); tables in {out}/",
        file=log,
        flush=True,
    )
    return curves_table, runs_table


def timing_summary(cell_times: list[dict[str, Any]], total_s: float) -> dict[str, Any]:
    """Where the time of a suite went: compile vs run, and the cell that dominates."""
    compile_s = sum(c["compile_s"] for c in cell_times)
    run_s = sum(c["run_s"] for c in cell_times)
    slowest = max(cell_times, key=lambda c: c["compile_s"] + c["run_s"], default=None)
    return {
        "total_s": total_s,
        "compile_s": compile_s,
        "run_s": run_s,
        "compile_share": compile_s / total_s if total_s > 0 else float("nan"),
        "cells_run": len(cell_times),
        "xla_compiles": sum(c["xla_compiles"] for c in cell_times),
        "cache_hits": sum(c["cache_hits"] for c in cell_times),
        "slowest_cell": slowest,
    }


def _hyperparameter_names(suite: Suite) -> list[str]:
    names: list[str] = []
    for setting in suite.optimizers:
        names += [n for n in setting.grid if n not in names]
    return names
