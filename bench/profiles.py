"""Performance and data profiles: how often, and how cheaply, each optimizer solves the suite.

Both take a cost table: one row per problem, one column per optimizer, the cost (steps or
evaluations) to reach the target gap, ``inf`` where the optimizer did not reach it (or was
not run: a skipped cell counts as a failure, as in the papers).

- Performance profile (Dolan & More 2002, "Benchmarking optimization software with
  performance profiles", Math. Program. 91): r[p, s] = t[p, s] / min_s t[p, s];
  rho_s(tau) = fraction of problems with r[p, s] <= tau. rho_s(1) is the share of problems
  on which s is (one of) the fastest; rho_s(tau -> inf) the share it solves at all.
- Data profile (More & Wild 2009, "Benchmarking derivative-free optimization algorithms",
  SIAM J. Optim. 20): d_s(alpha) = fraction of problems with t[p, s] / (n_p + 1) <= alpha,
  the budget measured in "simplex gradients" (n_p + 1 evaluations for a problem of dim n_p),
  so problems of different sizes share one axis.
- Runtime distributions (COCO's ECDFs): every (problem, target of the ladder, seed) is a
  trial; the fraction of trials each optimizer solved within a budget of evaluations per
  dimension. Unlike the two above, it reads every rung of the ladder (1e-1 to 1e-8 in the
  default suite) and every seed, so an optimizer that gets close fast but never finishes
  shows as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def _costs(costs: pd.DataFrame) -> pd.DataFrame:
    """Non-finite or missing costs are failures (inf); a zero cost (solved at the start)
    counts as one unit so ratios stay defined."""
    values = costs.astype(np.float64)
    values = values.where(np.isfinite(values), np.inf)
    return values.clip(lower=1.0)


def performance_ratios(costs: pd.DataFrame) -> pd.DataFrame:
    """r[p, s] = t[p, s] / min_s t[p, s]; inf where s failed or nobody solved p."""
    values = _costs(costs)
    best = values.min(axis=1)
    ratios = values.div(best, axis=0)
    # inf / inf (nobody solved the problem) is nan: a failure for everyone.
    return ratios.where(np.isfinite(ratios), np.inf)


def performance_profile(costs: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """rho_s(tau) for each tau (rows) and optimizer (columns)."""
    ratios = performance_ratios(costs).to_numpy()
    fractions = (ratios[None, :, :] <= np.asarray(taus)[:, None, None]).mean(axis=1)
    return pd.DataFrame(fractions, index=pd.Index(taus, name="tau"), columns=costs.columns)


def data_profile(costs: pd.DataFrame, dims: Mapping[str, int], alphas: np.ndarray) -> pd.DataFrame:
    """d_s(alpha) for each budget alpha (rows, in units of dim+1 evaluations) and optimizer."""
    values = _costs(costs)
    scale = np.asarray([dims[p] + 1 for p in values.index], dtype=np.float64)
    budgets = values.to_numpy() / scale[:, None]
    fractions = (budgets[None, :, :] <= np.asarray(alphas)[:, None, None]).mean(axis=1)
    return pd.DataFrame(fractions, index=pd.Index(alphas, name="alpha"), columns=costs.columns)


def tau_grid(costs: pd.DataFrame, points: int = 400) -> np.ndarray:
    """Ratios from 1 to a little past the largest finite one (log-spaced, breakpoints kept)."""
    ratios = performance_ratios(costs).to_numpy().ravel()
    finite = ratios[np.isfinite(ratios)]
    top = max(2.0, float(finite.max()) * 1.5) if finite.size else 2.0
    grid = np.geomspace(1.0, top, points)
    return np.unique(np.concatenate([grid, finite]))


def alpha_grid(costs: pd.DataFrame, dims: Mapping[str, int], points: int = 400) -> np.ndarray:
    """Budgets from the smallest to a little past the largest finite one (log-spaced)."""
    values = _costs(costs)
    scale = np.asarray([dims[p] + 1 for p in values.index], dtype=np.float64)
    budgets = (values.to_numpy() / scale[:, None]).ravel()
    finite = budgets[np.isfinite(budgets)]
    if not finite.size:
        return np.geomspace(0.1, 10.0, points)
    low, high = float(finite.min()) / 1.5, float(finite.max()) * 1.5
    return np.unique(np.concatenate([np.geomspace(low, high, points), finite]))


# ---------------------------------------------------------------------------------------
# Runtime distributions over the target ladder (COCO's empirical cumulative distributions)


def runtime_costs(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    problems: Sequence[str],
) -> pd.DataFrame:
    """Evaluations per dimension to each rung of the target ladder, one row per (problem,
    target, seed) and one column per optimizer, at each entry's tuned setting (``table``:
    `bench.summary.comparison`); inf where the run never reached the target or the cell
    did not run (skipped or failed: a failure, as in the profiles above).

    As in COCO (Hansen et al. 2021, "COCO: a platform for comparing continuous optimizers
    in a black-box setting", Optim. Methods Softw. 36), every (problem, target) pair of
    every seed is one trial, and the budget is counted in evaluations divided by the
    dimension, so problems of different sizes share one axis. A target met at the start
    (0 evaluations) costs one.
    """
    from bench.results.columns import ladder_column

    targets = [float(t) for t in metadata["suite"].get("targets") or []]
    seeds = list(metadata["suite"].get("seeds") or sorted(runs["seed"].unique()))
    optimizers = list(metadata.get("optimizers", {})) or list(dict.fromkeys(table["optimizer"]))
    index = pd.MultiIndex.from_product(
        [list(problems), targets, seeds], names=["problem", "target", "seed"]
    )
    costs = pd.DataFrame(np.inf, index=index, columns=optimizers)
    if not targets or not len(index):
        return costs
    tuned = table[table["problem"].isin(problems)][["problem", "optimizer", "setting"]]
    rows = runs.merge(tuned, on=["problem", "optimizer", "setting"])
    dims = rows["problem"].map({p: float(metadata["problems"][p]["dim"]) for p in problems})
    long = []
    for target in targets:
        column = ladder_column("evals", target)
        if column in rows.columns:
            per_dim = np.maximum(rows[column].to_numpy(dtype=np.float64), 1.0) / dims.to_numpy()
            long.append(rows[["problem", "seed", "optimizer"]].assign(target=target, cost=per_dim))
    if not long:
        return costs
    frame = pd.concat(long, ignore_index=True)
    frame["cost"] = frame["cost"].where(np.isfinite(frame["cost"]), np.inf)
    wide = frame.pivot_table(
        index=["problem", "target", "seed"], columns="optimizer", values="cost", aggfunc="min"
    )
    wide = wide.reindex(index=index, columns=optimizers)
    return wide.where(wide.notna(), np.inf).astype(np.float64)


def runtime_ecdf(costs: pd.DataFrame, budgets: np.ndarray) -> pd.DataFrame:
    """The fraction of trials (rows of ``costs``) each optimizer solved within each budget
    (rows of the result, evaluations per dimension)."""
    values = costs.to_numpy(dtype=np.float64)
    if not len(values):
        return pd.DataFrame(0.0, index=pd.Index(budgets, name="budget"), columns=costs.columns)
    fractions = (values[None, :, :] <= np.asarray(budgets)[:, None, None]).mean(axis=1)
    return pd.DataFrame(fractions, index=pd.Index(budgets, name="budget"), columns=costs.columns)


def budget_grid(costs: pd.DataFrame, points: int = 300) -> np.ndarray:
    """Budgets from a little below the cheapest solved trial to a little past the dearest
    (log-spaced, every trial's cost kept: the curves' steps)."""
    values = costs.to_numpy(dtype=np.float64).ravel()
    finite = np.unique(values[np.isfinite(values)])
    if not finite.size:
        return np.geomspace(0.1, 10.0, points)
    low, high = float(finite.min()) / 1.5, float(finite.max()) * 1.5
    if finite.size > points:
        finite = finite[np.unique(np.linspace(0, finite.size - 1, points).round().astype(int))]
    return np.unique(np.concatenate([np.geomspace(low, high, points), finite]))
