"""Compute one cell: compile it, run every lane, and turn its arrays into its tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from bench.config import OptimizerSetting, Suite
from bench.faults import cell_fault, during
from bench.results.environment import environment
from bench.results.frames import curvature_frame, curves_frame, paths_frame, runs_frame
from bench.run.cell import CellResult, CompiledCell, compile_cell, lane_bytes
from bench.run.devices import lane_devices
from bench.run.keys import Cell
from bench.run.policies import (
    make_transform_factory,
    memory_budget_bytes,
    recording_for,
    targets_for,
)
from problems import Problem


def compile_one(
    problem: Problem, setting: OptimizerSetting, suite: Suite, devices: str | None = None
) -> CompiledCell:
    """Compile one cell (every grid point x every seed of the suite) without running it;
    ``devices`` (``--devices``: None, "all" or a count) splits its lanes over devices."""
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
        devices=lane_devices(devices),
    )


def compile_marked(
    problem: Problem, setting: OptimizerSetting, suite: Suite, devices: str | None = None
) -> CompiledCell:
    """`compile_one`, marked as the compile stage (where the fault tests strike)."""
    with during("compile"):
        return compile_one(problem, setting, suite, devices)


def run_one(problem: Problem, setting: OptimizerSetting, suite: Suite) -> CellResult:
    """Compile and run one cell: every grid point x every seed of the suite."""
    return compile_marked(problem, setting, suite).result()


def cell_tables(
    problem: Problem, setting: OptimizerSetting, suite: Suite, result: CellResult
) -> dict[str, pd.DataFrame]:
    """The frames of one computed cell: curves, runs, and every lane's path and curvature."""
    # Every lane's path and curvature: which of them the suite's tables keep (the tuned and
    # the default setting) is the tuning protocol's call, made when the tables are assembled.
    return {
        "curves": curves_frame(problem.name, setting.name, result, problem.f_star),
        "runs": runs_frame(problem.name, setting.name, result, problem.f_star, suite.target),
        "paths": paths_frame(problem.name, setting.name, result),
        "curvature": curvature_frame(problem.name, setting.name, result),
    }


def cell_info(cell: Cell, suite: Suite, result: CellResult, wall_s: float) -> dict[str, Any]:
    """What part.json records beside the tables: timing, size, where it was computed."""
    return {
        "problem": cell.problem.name,
        "optimizer": cell.setting.name,
        "problem_kind": suite.raw["problems"][cell.problem_index]["kind"],
        "optimizer_kind": cell.setting.entry.name,
        "dim": cell.problem.dim,
        "lanes": int(result.loss.shape[0] * result.loss.shape[1]),
        "steps": suite.steps,
        "compile_s": result.compile_s,
        "trace_s": result.trace_s,
        "lower_s": result.lower_s,
        "xla_s": result.xla_s,
        "run_s": result.run_s,
        "wall_s": wall_s,
        "xla_compiles": result.backend_compiles,
        "cache_hits": result.cache_hits,
        "chunks": result.chunks,
        "devices": result.devices,
        "diverged": int(result.diverged.sum()),
        "computed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(),
    }


def compile_for(cell: Cell, suite: Suite, devices: str | None = None) -> CompiledCell:
    """Compile one cell of a sweep (`compile_marked`)."""
    return compile_marked(cell.problem, cell.setting, suite, devices)


def compute_cell(
    cell: Cell,
    suite: Suite,
    compiled: Callable[[Cell], CompiledCell] | None = None,
    devices: str | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Compute one cell from scratch: (its tables, its part.json info). ``compiled`` hands
    out the cell's program (``bench.run.ahead``); None: compile it here, its lanes split over
    ``devices``."""
    start = time.perf_counter()
    cell_fault(cell.label)
    program = compile_for(cell, suite, devices) if compiled is None else compiled(cell)
    result = program.result()
    tables = cell_tables(cell.problem, cell.setting, suite, result)
    return tables, cell_info(cell, suite, result, time.perf_counter() - start)
