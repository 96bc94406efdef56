"""What a cell costs: the runner's model (lanes x steps), the store's timing of similar
cells, and the order a parallel sweep starts its cells in (the biggest first).

A pool that starts its biggest cell last finishes that cell alone while the other workers
idle: the default suite's MLP Newton cells run a minute each against about a second for most
cells, so they go first, and the small cells fill the gaps.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.config import Suite
from bench.run.keys import Cell


def cell_cost(cell: Cell, suite: Suite) -> float:
    """The runner's cost model of a cell: lanes x steps (one value_and_grad each)."""
    return float(max(len(cell.setting.settings()), 1) * len(suite.seeds) * suite.steps)


def _rate(timings: Iterable[Mapping[str, Any]]) -> tuple[float, float] | None:
    """(median compile seconds, median run seconds per lane-step) of some stored cells.

    Compile seconds come from cells that really compiled (not loaded from JAX's cache): a
    new cell compiles.
    """
    compile_s, per_cost = [], []
    for t in timings:
        cost = float(t.get("lanes", 0)) * float(t.get("steps", 0))
        if cost > 0 and "compile_s" in t and "run_s" in t:
            if not t.get("cache_hits"):
                compile_s.append(float(t["compile_s"]))
            per_cost.append(float(t["run_s"]) / cost)
    if not per_cost:
        return None
    return (statistics.median(compile_s) if compile_s else 0.0), statistics.median(per_cost)


def estimate_seconds(
    cell: Cell, suite: Suite, timings: Sequence[Mapping[str, Any]]
) -> tuple[float, str] | None:
    """(seconds, from what) for one cell to compute, or None with no timing to go by."""
    kind = suite.raw["problems"][cell.problem_index]["kind"]
    optimizer = cell.setting.entry.name
    for label, pick in (
        (
            "same problem kind and optimizer",
            lambda t: (t.get("problem_kind"), t.get("optimizer_kind")) == (kind, optimizer),
        ),
        ("same optimizer", lambda t: t.get("optimizer_kind") == optimizer),
        ("any stored cell", lambda t: True),
    ):
        rate = _rate(t for t in timings if pick(t))
        if rate is not None:
            return rate[0] + rate[1] * cell_cost(cell, suite), label
    return None


def work_estimate(cell: Cell, suite: Suite) -> float:
    """A cell's work without any timing: lanes x steps x the size of one step's linear
    algebra (a dense dim x dim matrix for a Hessian or a BFGS state, a vector otherwise).
    Only its order matters."""
    dim = max(cell.problem.dim, 1)
    entry = cell.setting.entry
    dense = entry.needs_hessian or entry.dense_state
    return cell_cost(cell, suite) * (dim * dim if dense else dim)


def largest_first(
    cells: Sequence[Cell], suite: Suite, timings: Sequence[Mapping[str, Any]] = ()
) -> list[Cell]:
    """The cells ordered by their estimated cost, the biggest first (ties keep the suite's
    order): from the store's timing of similar cells where it has any, else by
    ``work_estimate``."""
    timed = [estimate_seconds(cell, suite, timings) for cell in cells] if timings else []
    if timed and all(t is not None for t in timed):
        costs = [t[0] for t in timed if t is not None]
    else:
        costs = [work_estimate(cell, suite) for cell in cells]
    order = sorted(range(len(cells)), key=lambda i: -costs[i])
    return [cells[i] for i in order]
