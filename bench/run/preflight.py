"""Checks of a loaded suite against this machine, before anything is compiled or written.

A cell's lanes run in chunks that fit the memory budget (``memory_budget_bytes``), but one
lane cannot be split: a cell whose single lane needs more than the budget would fail (or
swap the machine to a halt) after every cell before it had run. It is refused up front.
"""

from __future__ import annotations

from bench.config import Suite
from bench.run.cell import lane_bytes
from bench.run.policies import memory_budget_bytes, recording_for, skip_reason

GB = 1e9


def _gb(size: int) -> str:
    return f"{size / GB:,.1f} GB" if size >= 0.1 * GB else f"{size / GB:.2g} GB"


def resource_errors(suite: Suite) -> list[str]:
    """One message per cell that would run but whose one lane exceeds the memory budget.

    Skipped cells (``skip_reason``: dense Hessians above ``max_hessian_dim``, dense states
    above ``max_dense_state_dim``, ...) need no memory and are not checked.
    """
    budget = memory_budget_bytes()
    errors: list[str] = []
    for problem in suite.problems:
        recording = recording_for(problem, suite)
        for setting in suite.optimizers:
            if skip_reason(problem, setting, suite) is not None:
                continue
            entry = setting.entry
            need = lane_bytes(
                problem, recording, entry.needs_hessian, dense_state=entry.dense_state
            )
            if need <= budget:
                continue
            dim = problem.dim
            fixes = []
            if entry.dense_state:
                fixes.append(
                    f"set max_dense_state_dim below {dim} (now {suite.max_dense_state_dim}) "
                    f"to skip {setting.name} on this problem"
                )
            if entry.needs_hessian:
                fixes.append(
                    f"set max_hessian_dim below {dim} (now {suite.max_hessian_dim}) to skip "
                    f"{setting.name} on this problem"
                )
            if recording.curvature:
                fixes.append(
                    f"set curvature_max_dim below {dim} (now {suite.curvature_max_dim}) so "
                    "that no dense Hessian is recorded"
                )
            if not fixes:
                fixes.append("record fewer steps (record_every, record_points)")
            errors.append(
                f"{suite.source}: cell {problem.name} x {setting.name}: one run needs about "
                f"{_gb(need)} (dim {dim:,}), above the memory budget of "
                f"{_gb(budget)} per chunk of runs (a quarter of this device's "
                f"memory), and one run cannot be split. Lower the problem's dim, or "
                f"{', or '.join(fixes)}."
            )
    return errors
