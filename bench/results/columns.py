"""The column schema of the result tables (DESIGN.md contract), and the names derived from it.

curves: problem, optimizer, seed, step, loss, gap, grad_norm, dist, evals, <hyperparameters>
runs:   problem, optimizer, seed, <hyperparameters>, status, final_loss, final_gap,
        best_loss, steps_to_target, evals, compile_s, run_s, and the extras below.
"""

from __future__ import annotations

from collections.abc import Mapping

# Bumped when the frames built from a cell change (a column added, renamed or computed
# differently): part of every cell key, so stored parts of the old layout are recomputed.
FRAMES_VERSION = 2

CURVE_COLUMNS = (
    "problem",
    "optimizer",
    "seed",
    "step",
    "loss",
    "gap",
    "grad_norm",
    "dist",
    "evals",
)


RUN_COLUMNS = (
    "problem",
    "optimizer",
    "seed",
    "status",
    "final_loss",
    "final_gap",
    "best_loss",
    "steps_to_target",
    "evals",
    "compile_s",
    "run_s",
)


# Beyond the contract: what a reader of one run also wants without opening the curves.
RUN_EXTRAS = (
    "setting",
    "best_gap",
    "final_grad_norm",
    "final_dist",
    "evals_to_target",
    "hessian_evals",
    "diverged_step",
    "steps",
    "cache_hit",
    "reason",
)


STATUSES = ("converged", "diverged", "max_steps", "skipped", "error", "timeout")


def ladder_column(prefix: str, target: float) -> str:
    """`steps_to_1e-03`: the column of the first step (or evals) reaching a gap."""
    return f"{prefix}_to_{target:.0e}"


def setting_label(setting: Mapping[str, float]) -> str:
    """`learning_rate=0.01, b1=0.9`, or `default` for an entry that sweeps nothing."""
    if not setting:
        return "default"
    return ", ".join(f"{k}={v:.3g}" for k, v in setting.items())
