"""The tidy frames of one cell, benchopt style: ``curves`` (one row per run per recorded
step), ``runs`` (one row per run), and the kept lanes' ``paths`` and ``curvature``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.results.columns import ladder_column, setting_labels

if TYPE_CHECKING:  # the arrays come from the run stage; only their type is named here
    from bench.run.cell import CellResult


def _gap(loss: np.ndarray, f_star: float | None) -> np.ndarray:
    return loss - f_star if f_star is not None else np.full_like(loss, np.nan)


def curves_frame(
    problem: str, optimizer: str, result: CellResult, f_star: float | None
) -> pd.DataFrame:
    """One row per (setting, seed, recorded step) of a cell."""
    n_settings, n_seeds, n_records = result.loss.shape
    setting_index = np.repeat(np.arange(n_settings), n_seeds * n_records)
    frame = pd.DataFrame(
        {
            "problem": problem,
            "optimizer": optimizer,
            "setting": setting_index.astype(np.int64),
            "seed": np.tile(np.repeat(np.asarray(result.seeds), n_records), n_settings),
            "step": np.tile(result.record_steps, n_settings * n_seeds),
            "loss": result.loss.reshape(-1),
            "gap": _gap(result.loss, f_star).reshape(-1),
            "grad_norm": result.grad_norm.reshape(-1),
            "dist": result.dist.reshape(-1),
            "evals": result.evals.reshape(-1).astype(np.int64),
        }
    )
    for name in result.settings[0]:
        values = np.asarray([s[name] for s in result.settings], dtype=np.float64)
        frame[name] = values[setting_index]
    return frame


def runs_frame(
    problem: str,
    optimizer: str,
    result: CellResult,
    f_star: float | None,
    target: float | None,
) -> pd.DataFrame:
    """One row per (setting, seed) of a cell, with the summary a reader wants first."""
    n_settings, n_seeds, _ = result.loss.shape
    loss = result.loss.reshape(n_settings * n_seeds, -1)
    finite_loss = np.where(np.isfinite(loss), loss, np.inf)
    best_loss = finite_loss.min(axis=1)
    best_loss[~np.isfinite(best_loss)] = np.nan
    hit_step = result.hit_step.reshape(n_settings * n_seeds, -1).astype(np.float64)
    hit_evals = result.hit_evals.reshape(n_settings * n_seeds, -1).astype(np.float64)
    hit_step[hit_step < 0] = np.nan
    hit_evals[hit_evals < 0] = np.nan
    diverged = result.diverged.reshape(-1)

    if target is not None:
        # Exactly the configured target: `targets_for` puts it in the list as given.
        (target_index,) = np.flatnonzero(np.asarray(result.targets) == target)
        steps_to_target = hit_step[:, target_index]
        evals_to_target = hit_evals[:, target_index]
    else:
        steps_to_target = evals_to_target = np.full(n_settings * n_seeds, np.nan)
    status = np.where(
        diverged, "diverged", np.where(np.isfinite(steps_to_target), "converged", "max_steps")
    )
    diverged_step = result.diverged_step.reshape(-1).astype(np.float64)
    diverged_step[diverged_step < 0] = np.nan

    frame = pd.DataFrame(
        {
            "problem": problem,
            "optimizer": optimizer,
            "seed": np.tile(np.asarray(result.seeds), n_settings),
            "setting": np.repeat(np.arange(n_settings, dtype=np.int64), n_seeds),
            "setting_label": np.repeat(setting_labels(result.settings), n_seeds),
            "seeds_identical": np.repeat(_seeds_identical(result), n_seeds),
            "status": status,
            "final_loss": loss[:, -1],
            "final_gap": _gap(loss[:, -1], f_star),
            "best_loss": best_loss,
            "best_gap": _gap(best_loss, f_star),
            "final_grad_norm": result.grad_norm.reshape(n_settings * n_seeds, -1)[:, -1],
            "final_dist": result.dist.reshape(n_settings * n_seeds, -1)[:, -1],
            "steps_to_target": steps_to_target,
            "evals_to_target": evals_to_target,
            "evals": result.evals.reshape(n_settings * n_seeds, -1)[:, -1].astype(np.int64),
            "hessian_evals": result.hessian_evals.reshape(-1).astype(np.int64),
            "diverged_step": diverged_step,
            "steps": int(result.record_steps[-1]),
            "compile_s": result.compile_s,
            "trace_s": result.trace_s,
            "lower_s": result.lower_s,
            "xla_s": result.xla_s,
            "run_s": result.run_s,
            "cache_hit": result.cache_hits > 0 and result.backend_compiles == 0,
            "reason": "",
        }
    )
    for name in result.settings[0]:
        frame[name] = np.repeat([s[name] for s in result.settings], n_seeds).astype(np.float64)
    for k, t in enumerate(result.targets):
        frame[ladder_column("steps", t)] = hit_step[:, k]
        frame[ladder_column("evals", t)] = hit_evals[:, k]
    return frame


def _seeds_identical(result: CellResult) -> np.ndarray:
    """Per setting: whether every seed recorded the very same curve (loss, gradient norm,
    distance, evaluations at every record). A fixed start on a full-batch problem makes the
    seeds copies of one run: one effective run, not evidence of robustness."""
    n_settings, n_seeds, _ = result.loss.shape
    if n_seeds < 2:
        return np.zeros(n_settings, dtype=bool)
    same = np.ones(n_settings, dtype=bool)
    for curve in (result.loss, result.grad_norm, result.dist, result.evals):
        curve = np.asarray(curve, dtype=np.float64)
        first = curve[:, :1]
        equal = (curve == first) | (np.isnan(curve) & np.isnan(first))
        same &= equal.reshape(n_settings, -1).all(axis=1)
    return same


def skipped_runs_frame(
    problem: str,
    optimizer: str,
    settings: Sequence[Mapping[str, float]],
    seeds: Sequence[int],
    steps: int,
    reason: str,
    status: str = "skipped",
) -> pd.DataFrame:
    """Rows for a cell without results (skipped, error, timeout), so it is never silent."""
    settings = list(settings) or [{}]
    labels = setting_labels(settings)
    rows: list[dict[str, Any]] = []
    for index, setting in enumerate(settings):
        for seed in seeds:
            rows.append(
                {
                    "problem": problem,
                    "optimizer": optimizer,
                    "setting": index,
                    "seed": int(seed),
                    "setting_label": labels[index],
                    "seeds_identical": False,
                    "status": status,
                    "steps": steps,
                    "reason": reason,
                    **setting,
                }
            )
    return pd.DataFrame(rows)


def order_columns(frame: pd.DataFrame, leading: Sequence[str]) -> pd.DataFrame:
    """Contract columns first, then hyperparameters (YAML names), then the rest."""
    present = [c for c in leading if c in frame.columns]
    rest = [c for c in frame.columns if c not in present]
    return frame[present + rest]


def _lanes(result: CellResult):
    """(setting index, seed index, seed) of every lane of a cell."""
    for i in range(len(result.settings)):
        for j, seed in enumerate(result.seeds):
            yield i, j, int(seed)


def paths_frame(problem: str, optimizer: str, result: CellResult) -> pd.DataFrame:
    """The iterates of every lane, one row per recorded step (a cell's part keeps them all;
    the suite table keeps the tuned and default settings', see ``with_roles``).

    Columns: problem, optimizer, setting, seed, step, x0, x1, ...
    Empty when the cell did not record its path.
    """
    if result.x.shape[-1] == 0:
        return pd.DataFrame()
    frames = []
    for i, j, seed in _lanes(result):
        frame = pd.DataFrame(result.x[i, j], columns=[f"x{k}" for k in range(result.x.shape[-1])])
        frame.insert(0, "step", result.record_steps)
        for column, value in (
            ("seed", seed),
            ("setting", i),
            ("optimizer", optimizer),
            ("problem", problem),
        ):
            frame.insert(0, column, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def curvature_frame(problem: str, optimizer: str, result: CellResult) -> pd.DataFrame:
    """Hessian spectrum along every lane's path: smallest and largest eigenvalue, condition.

    ``condition`` is max|lambda| / min|lambda| (inf at a singular Hessian); a negative
    ``eig_min`` means the iterate is near a saddle (or a maximum), not a minimum.
    """
    if result.eigenvalues.shape[-1] == 0:
        return pd.DataFrame()
    frames = []
    for i, j, seed in _lanes(result):
        eigenvalues = result.eigenvalues[i, j]
        magnitude = np.abs(eigenvalues)
        with np.errstate(divide="ignore", invalid="ignore"):
            condition = magnitude.max(axis=-1) / magnitude.min(axis=-1)
        frames.append(
            pd.DataFrame(
                {
                    "problem": problem,
                    "optimizer": optimizer,
                    "setting": i,
                    "seed": seed,
                    "step": result.record_steps,
                    "eig_min": eigenvalues[:, 0],
                    "eig_max": eigenvalues[:, -1],
                    "negative_eigs": (eigenvalues < 0).sum(axis=-1),
                    "condition": condition,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def with_roles(frame: pd.DataFrame, best: int | None, default: int | None) -> pd.DataFrame:
    """The rows of the tuned (``best``) and untuned (``default``) settings of one cell (by
    setting index), each marked with its ``role`` (a setting that is both appears twice,
    once per role)."""
    kept = [
        frame[frame["setting"] == index].assign(role=role)
        for role, index in (("best", best), ("default", default))
        if index is not None
    ]
    if not kept:
        return frame.iloc[:0]
    kept_frame = pd.concat(kept, ignore_index=True)
    columns = list(frame.columns)
    columns.insert(columns.index("setting") + 1, "role")
    return kept_frame[columns]
