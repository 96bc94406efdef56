"""Summaries computed from the run table alone: per-setting statistics and the tuned setting.

The tuning protocol (the report states it; `best_settings` implements it):

1. Every setting of an entry's grid ran with every seed of the suite (the grid comes from
   the YAML; the report lists each entry's grid, so the budgets are visible).
2. A run's score is its FINAL gap f(x_T) - f* (the final loss where f* is unknown). A run
   that diverged scores +inf, so a setting that diverges on most seeds cannot win.
3. A setting's score is the median of its runs' scores over seeds.
4. The tuned ("best") setting of a (problem, optimizer) is the one with the lowest score.
   Gaps below the resolution of the arithmetic (`GAP_RESOLUTION`: rounding noise around
   f*) are equal, and so are scores that agree to `SCORE_DIGITS` significant digits.
   Ties are broken by the median steps to the suite's target (a run that
   never reached it counts as +inf), then by the median evaluations to target, then by the
   order of the grid.
5. Optimizers are ranked on a problem by the same key, at their tuned settings.

Medians and quantiles treat +inf (diverged, never reached) as worse than every number:
a median over five seeds of which three diverged is +inf, never the median of the two
that survived.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.results.columns import CURVE_COLUMNS, RUN_COLUMNS, RUN_EXTRAS

# Gaps at or below this are rounding noise around f*: settings this close tie (by dtype).
GAP_RESOLUTION = {"float64": 1e-12, "float32": 1e-6}

# Scores equal to this many significant digits tie (then steps to target decide).
SCORE_DIGITS = 6

# Statuses of rows that hold no result: skipped by a declared capability, or failed while
# running (an exception, a time limit). Their metrics are NaN; every summary leaves them out.
NOT_RUN = ("skipped", "error", "timeout")
FAILED = ("error", "timeout")

_KEYS = ["problem", "optimizer", "setting"]
_NOT_HYPER = set(CURVE_COLUMNS) | set(RUN_COLUMNS) | set(RUN_EXTRAS)


def objective_column(problem_meta: Mapping[str, Any]) -> str:
    """`gap` where f* is known, else `loss`: what rankings and plots use for a problem."""
    return "gap" if problem_meta.get("f_star") is not None else "loss"


def hyperparameter_columns(frame: pd.DataFrame) -> list[str]:
    """The swept hyperparameter columns of a curves or runs table (YAML names)."""
    return [
        c
        for c in frame.columns
        if c not in _NOT_HYPER
        and not c.startswith(("steps_to_", "evals_to_"))
        and pd.api.types.is_float_dtype(frame[c])
    ]


def robust_quantile(values: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """Quantile where +inf means "failed" (worse than any number) and NaN means "no data".

    numpy interpolates inf - inf to NaN; here a quantile that falls between a finite value
    and +inf (or on +inf) is +inf, and one with no data at all is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    huge = np.finfo(np.float64).max / 4
    if values.ndim == 1:
        # The common case (one setting's seeds): np.quantile on the non-NaN values is what
        # np.nanquantile computes for a vector, without its per-call overhead (the report
        # makes tens of thousands of these calls).
        present = values[~np.isnan(values)]
        if present.size == 0:
            return np.float64(np.nan)
        present = np.where(np.isposinf(present), huge, present)
        with np.errstate(invalid="ignore"):  # -inf - -inf: NaN on purpose, as above
            if np.quantile(present, q, method="higher") >= huge:
                return np.float64(np.inf)
            return np.quantile(present, q)
    finite = np.where(np.isposinf(values), huge, values)
    all_nan = np.isnan(values).all(axis=axis)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN on purpose
        linear = np.nanquantile(finite, q, axis=axis)
        upper = np.nanquantile(finite, q, axis=axis, method="higher")
    result = np.where(upper >= huge, np.inf, linear)
    return np.where(all_nan, np.nan, result)


def _median_inf(values: pd.Series) -> float:
    """Median over seeds, NaN ("never") counting as +inf."""
    return float(robust_quantile(values.fillna(np.inf).to_numpy(), 0.5))


def _significant(value: float, digits: int = SCORE_DIGITS) -> float:
    """The score rounded to a few significant digits: twins that differ in the last bits
    (a hand-written optimizer and its Optax reference) tie instead of ranking apart."""
    return float(f"{value:.{digits - 1}e}") if np.isfinite(value) else value


def final_metric(runs: pd.DataFrame, problems: Mapping[str, Mapping[str, Any]]) -> pd.Series:
    """Each run's score: final gap (final loss where f* is unknown); diverged = +inf."""
    uses_gap = runs["problem"].map(lambda p: objective_column(problems.get(p, {})) == "gap")
    value = np.where(uses_gap.to_numpy(bool), runs["final_gap"], runs["final_loss"]).astype(
        np.float64
    )
    bad = (runs["status"] == "diverged").to_numpy() | ~np.isfinite(value)
    return pd.Series(np.where(bad, np.inf, value), index=runs.index, dtype=np.float64)


def gap_resolution(runs: pd.DataFrame) -> float:
    """The tie threshold for gaps, from the precision the runs were computed in."""
    is_single = "final_loss" in runs and runs["final_loss"].dtype == np.float32
    return GAP_RESOLUTION["float32" if is_single else "float64"]


def setting_summary(runs: pd.DataFrame, problems: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (problem, optimizer, setting) that ran: medians and spreads over seeds.

    Columns: problem, optimizer, setting, grid_index (order in the grid), final_median,
    final_q25, final_q75, steps_to_target, evals_to_target (medians, +inf = not reached by
    more than half of the seeds), converged, diverged, runs, compile_s, run_s, key (the
    score the protocol sorts by) and the hyperparameter columns.
    """
    ran = runs[~runs["status"].isin(NOT_RUN)].copy()
    hyper = hyperparameter_columns(ran)
    columns = [
        *_KEYS,
        "grid_index",
        "final_median",
        "final_q25",
        "final_q75",
        "steps_to_target",
        "evals_to_target",
        "converged",
        "diverged",
        "runs",
        "compile_s",
        "run_s",
        "key",
        *hyper,
    ]
    if ran.empty:
        return pd.DataFrame(columns=columns)
    ran["final"] = final_metric(ran, problems)
    resolution = gap_resolution(ran)
    rows = []
    for (problem, optimizer), cell in ran.groupby(["problem", "optimizer"], sort=False):
        uses_gap = objective_column(problems.get(problem, {})) == "gap"
        for index, (setting, group) in enumerate(cell.groupby("setting", sort=False)):
            final = group["final"].to_numpy()
            median = float(robust_quantile(final, 0.5))
            row = {
                "problem": problem,
                "optimizer": optimizer,
                "setting": setting,
                "grid_index": index,
                "final_median": median,
                "final_q25": float(robust_quantile(final, 0.25)),
                "final_q75": float(robust_quantile(final, 0.75)),
                "steps_to_target": _median_inf(group["steps_to_target"]),
                "evals_to_target": _median_inf(group["evals_to_target"]),
                "converged": int((group["status"] == "converged").sum()),
                "diverged": int((group["status"] == "diverged").sum()),
                "runs": len(group),
                "compile_s": float(group["compile_s"].iloc[0]),
                "run_s": float(group["run_s"].iloc[0]),
                "key": _significant(max(median, resolution) if uses_gap else median),
            }
            row.update({name: group[name].iloc[0] for name in hyper})
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# The protocol's sort key, best first.
PROTOCOL_ORDER = ["key", "steps_to_target", "evals_to_target", "grid_index"]


def _competition_rank(frame: pd.DataFrame) -> np.ndarray:
    """1, 2, 2, 4: equal keys share the better rank (frame sorted by the key already)."""
    keys = list(frame[PROTOCOL_ORDER[:-1]].itertuples(index=False, name=None))
    ranks = []
    for position, key in enumerate(keys):
        ranks.append(ranks[-1] if position and key == keys[position - 1] else position + 1)
    return np.asarray(ranks, dtype=np.int64)


def best_settings(runs: pd.DataFrame, problems: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The tuned setting per (problem, optimizer), ranked within each problem (see module)."""
    summary = setting_summary(runs, problems)
    if summary.empty:
        return summary.assign(rank=pd.Series(dtype=np.int64))
    ordered = summary.sort_values(["problem", "optimizer", *PROTOCOL_ORDER], kind="stable")
    best = ordered.groupby(["problem", "optimizer"], sort=False).head(1)
    # Problems in order of first appearance (the suite's order), optimizers ranked within.
    problem_order = {p: i for i, p in enumerate(dict.fromkeys(runs["problem"]))}
    best = best.assign(_p=best["problem"].map(problem_order))
    best = best.sort_values(["_p", *PROTOCOL_ORDER], kind="stable").drop(columns="_p")
    best["rank"] = np.concatenate(
        [_competition_rank(group) for _, group in best.groupby("problem", sort=False)]
    )
    return best.reset_index(drop=True)


def comparison(runs: pd.DataFrame, metadata: Mapping[str, Any]) -> pd.DataFrame:
    """`best_settings` with the default setting beside the tuned one.

    Extra columns: default_setting (label; missing where the entry's grid has no default),
    default_final_median, default_final_q25, default_final_q75, default_steps_to_target,
    default_converged, grid_diverged / grid_runs (over every setting of the grid).
    """
    problems = metadata["problems"]
    summary = setting_summary(runs, problems)
    best = best_settings(runs, problems)
    optimizers = metadata.get("optimizers", {})
    extra: dict[str, list[Any]] = {
        name: []
        for name in (
            "default_setting",
            "default_final_median",
            "default_final_q25",
            "default_final_q75",
            "default_steps_to_target",
            "default_converged",
            "grid_diverged",
            "grid_runs",
        )
    }
    for row in best.itertuples():
        cell = summary[
            (summary["problem"] == row.problem) & (summary["optimizer"] == row.optimizer)
        ]
        label = optimizers.get(row.optimizer, {}).get("default_setting")
        match = cell[cell["setting"] == label] if label is not None else cell.iloc[:0]
        found = not match.empty
        extra["default_setting"].append(label)
        extra["default_final_median"].append(match["final_median"].iloc[0] if found else np.nan)
        extra["default_final_q25"].append(match["final_q25"].iloc[0] if found else np.nan)
        extra["default_final_q75"].append(match["final_q75"].iloc[0] if found else np.nan)
        extra["default_steps_to_target"].append(
            match["steps_to_target"].iloc[0] if found else np.nan
        )
        # -1: no default setting ran (the entry has none, or it is not in the grid).
        extra["default_converged"].append(int(match["converged"].iloc[0]) if found else -1)
        extra["grid_diverged"].append(int(cell["diverged"].sum()))
        extra["grid_runs"].append(int(cell["runs"].sum()))
    return best.assign(**extra)


def solvable_problems(metadata: Mapping[str, Any]) -> list[str]:
    """Problems with a target: f* known and a suite target set (profiles need both)."""
    if metadata["suite"].get("target") is None:
        return []
    return [p for p, info in metadata["problems"].items() if info.get("f_star") is not None]


def target_costs(table: pd.DataFrame, metadata: Mapping[str, Any], column: str) -> pd.DataFrame:
    """Problems x optimizers: the tuned setting's median ``column`` (steps_to_target or
    evals_to_target), +inf where not reached or not run. Only problems with a target."""
    problems = solvable_problems(metadata)
    optimizers = list(metadata.get("optimizers", {})) or list(dict.fromkeys(table["optimizer"]))
    costs = pd.DataFrame(np.inf, index=pd.Index(problems, name="problem"), columns=optimizers)
    for row in table.itertuples():
        if row.problem in costs.index and row.optimizer in costs.columns:
            costs.loc[row.problem, row.optimizer] = getattr(row, column)
    return costs


def overview(table: pd.DataFrame, metadata: Mapping[str, Any]) -> pd.DataFrame:
    """Per optimizer across problems: problems run, solved (tuned and default), wins,
    median rank. `table` is `comparison(...)`. Sorted by solved, then median rank."""
    solvable = set(solvable_problems(metadata))
    rows = []
    for optimizer in list(metadata.get("optimizers", {})) or list(
        dict.fromkeys(table["optimizer"])
    ):
        mine = table[table["optimizer"] == optimizer]
        with_target = mine[mine["problem"].isin(solvable)]
        rows.append(
            {
                "optimizer": optimizer,
                "problems_run": len(mine),
                "solved": int(np.isfinite(with_target["steps_to_target"].astype(float)).sum()),
                "solved_default": int(
                    np.isfinite(with_target["default_steps_to_target"].astype(float)).sum()
                ),
                "with_target": len(solvable),
                "wins": int((mine["rank"] == 1).sum()),
                "median_rank": float(mine["rank"].median()) if len(mine) else np.nan,
                "mean_rank": float(mine["rank"].mean()) if len(mine) else np.nan,
                "diverged": int(mine["grid_diverged"].sum()),
                "runs": int(mine["grid_runs"].sum()),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(
        ["solved", "median_rank", "mean_rank"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)


def ladder(
    runs: pd.DataFrame, table: pd.DataFrame, targets: Sequence[float], prefix: str = "steps"
) -> pd.DataFrame:
    """Median steps (or evals) to each gap of the ladder at each tuned setting.

    One row per row of `table` (problem, optimizer, setting); one column per target that
    the runs table holds; +inf where more than half of the seeds never got there.
    """
    from bench.results.columns import ladder_column

    columns = [(t, ladder_column(prefix, t)) for t in targets]
    columns = [(t, c) for t, c in columns if c in runs.columns]
    rows = []
    for row in table.itertuples():
        group = runs[
            (runs["problem"] == row.problem)
            & (runs["optimizer"] == row.optimizer)
            & (runs["setting"] == row.setting)
        ]
        values = {f"{t:.0e}": _median_inf(group[c]) for t, c in columns}
        rows.append({"problem": row.problem, "optimizer": row.optimizer, **values})
    return pd.DataFrame(rows)


def skipped_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """(problem, optimizer, status, reason) of every cell that holds no result: skipped, or
    failed while running (status `error` or `timeout`); the reason '-' where none is given."""
    skipped = runs[runs["status"].isin(NOT_RUN)]
    columns = ["problem", "optimizer", "status", "reason"]
    if "reason" not in skipped.columns:
        skipped = skipped.assign(reason="")
    skipped = skipped[columns].astype({"reason": object})
    reason = skipped["reason"].map(lambda r: "-" if r is None or pd.isna(r) or not str(r) else r)
    skipped = skipped.assign(reason=reason.astype(str))
    return skipped.drop_duplicates().reset_index(drop=True)
