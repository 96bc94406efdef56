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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.results.columns import target_text

# Gaps at or below this are rounding noise around f*: settings this close tie (by dtype).
GAP_RESOLUTION = {"float64": 1e-12, "float32": 1e-6}

# Scores equal to this many significant digits tie (then steps to target decide).
SCORE_DIGITS = 6

# Statuses of rows that hold no result: skipped by a declared capability, or failed while
# running (an exception, a time limit). Their metrics are NaN; every summary leaves them out.
NOT_RUN = ("skipped", "error", "timeout")
FAILED = ("error", "timeout")

_KEYS = ["problem", "optimizer", "setting"]

# A run stopped at a stationary point when its final gradient norm is at most this (scipy's
# default gtol); rank-1 ties there above the target are a shared local minimum, not a win.
STATIONARY_GRAD_NORM = 1e-5
# Where the suite sets no target, a tie counts as "not the global minimum" above this gap.
DEFAULT_TIE_GAP = 1e-6


def objective_column(problem_meta: Mapping[str, Any]) -> str:
    """`gap` where f* is known, else `loss`: what rankings and plots use for a problem."""
    return "gap" if problem_meta.get("f_star") is not None else "loss"


def robust_quantile(values: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """Quantile where +inf means "failed" (worse than any number) and NaN means "no data".

    numpy interpolates inf - inf to NaN; here a quantile that falls between a finite value
    and +inf (or on +inf) is +inf, and one with no data at all is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    huge = np.finfo(np.float64).max / 4
    if values.ndim == 1:
        # The common case (one setting's seeds): np.quantile on the non-NaN values is what
        # np.nanquantile computes for a vector, without its per-call overhead.
        present = values[~np.isnan(values)]
        if present.size == 0:
            return np.float64(np.nan)
        present = np.where(np.isposinf(present), huge, present)
        with np.errstate(invalid="ignore"):  # -inf - -inf: NaN on purpose, as above
            if np.quantile(present, q, method="higher") >= huge:
                return np.float64(np.inf)
            return np.quantile(present, q)
    # Along an axis: every row's non-NaN values sorted once (NaN sorts last), then numpy's
    # own "linear" and "higher" rules per row; np.nanquantile loops over the rows in Python.
    ordered = np.sort(np.moveaxis(np.where(np.isposinf(values), huge, values), axis, -1), -1)
    count = (~np.isnan(ordered)).sum(axis=-1)
    last = np.maximum(count - 1, 0)
    virtual = (count - 1) * q
    below = np.clip(np.floor(virtual), 0, last).astype(np.intp)

    def at(index: np.ndarray) -> np.ndarray:  # each row's order statistic number ``index``
        return np.take_along_axis(ordered, np.clip(index, 0, last)[..., None], -1)[..., 0]

    upper = at(np.ceil(virtual).astype(np.intp))
    a, b = at(below), at(below + 1)
    linear = _lerp(a, b, virtual - below)
    result = np.where(upper >= huge, np.inf, linear)
    return np.where(count == 0, np.nan, result)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's quantile interpolation (``numpy.lib._function_base_impl._lerp``), so the
    vectorized quantile above equals np.nanquantile bit for bit."""
    with np.errstate(invalid="ignore"):  # -inf - -inf: NaN, as in numpy
        diff = b - a
        result = a + diff * t
        np.subtract(b, diff * (1 - t), out=result, where=t >= 0.5)
    return result


def _group_quantiles(
    frame: pd.DataFrame, columns: Sequence[str], q: float, keys: Sequence[str] = _KEYS
) -> pd.DataFrame:
    """`robust_quantile` of each of ``columns`` in every ``keys`` group of ``frame`` at once
    (+inf = failed, NaN = no data): one row per group, in the groups' order of appearance,
    the keys as columns."""
    huge = np.finfo(np.float64).max / 4
    values = {c: frame[c].to_numpy(np.float64) for c in columns}
    capped = frame[list(keys)].assign(
        **{c: np.where(np.isposinf(v), huge, v) for c, v in values.items()}
    )
    grouped = capped.groupby(list(keys), sort=False)[list(columns)]
    linear, upper = grouped.quantile(q), grouped.quantile(q, interpolation="higher")
    return linear.mask(upper >= huge, np.inf).reset_index()  # NaN (no data) stays NaN


def _group_quantile(frame: pd.DataFrame, column: str, q: float) -> np.ndarray:
    """`_group_quantiles` of one column, as an array in the groups' order."""
    return _group_quantiles(frame, [column], q)[column].to_numpy(np.float64)


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


SUMMARY_COLUMNS = [
    *_KEYS,
    "setting_label",
    "final_median",
    "final_q25",
    "final_q75",
    "steps_to_target",
    "evals_to_target",
    "grad_norm_median",
    "converged",
    "diverged",
    "runs",
    "seeds_identical",
    "compile_s",
    "run_s",
    "key",
]


def setting_summary(
    runs: pd.DataFrame,
    problems: Mapping[str, Mapping[str, Any]],
    hyperparameters: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per (problem, optimizer, setting) that ran: medians and spreads over seeds.

    Columns: problem, optimizer, setting (the grid index), setting_label, final_median,
    final_q25, final_q75, steps_to_target, evals_to_target (medians, +inf = not reached by
    more than half of the seeds), grad_norm_median (final gradient norm), converged,
    diverged, runs, seeds_identical (every seed gave the same curve: one effective run),
    compile_s, run_s, key (the score the protocol sorts by) and the ``hyperparameters``
    columns present in ``runs`` (the names the table's metadata lists).
    """
    ran = runs[~runs["status"].isin(NOT_RUN)]
    hyper = [name for name in hyperparameters if name in ran.columns]
    columns = [*SUMMARY_COLUMNS, *hyper]
    if ran.empty:
        return pd.DataFrame(columns=columns)
    status = ran["status"]
    ran = ran.assign(
        _final=final_metric(ran, problems),
        _steps=ran["steps_to_target"].astype(np.float64).fillna(np.inf),
        _evals=ran["evals_to_target"].astype(np.float64).fillna(np.inf),
        _converged=(status == "converged").astype(np.int64),
        _diverged=(status == "diverged").astype(np.int64),
    )
    if "setting_label" not in ran.columns:
        ran = ran.assign(setting_label=ran["setting"].astype(str))
    if "seeds_identical" not in ran.columns:
        ran = ran.assign(seeds_identical=False)
    if "final_grad_norm" not in ran.columns:
        ran = ran.assign(final_grad_norm=np.nan)
    grouped = ran.groupby(_KEYS, sort=False)
    first = grouped[["setting_label", "compile_s", "run_s", *hyper]].first()
    summary = first.reset_index()
    summary["final_median"] = _group_quantile(ran, "_final", 0.5)
    summary["final_q25"] = _group_quantile(ran, "_final", 0.25)
    summary["final_q75"] = _group_quantile(ran, "_final", 0.75)
    summary["steps_to_target"] = _group_quantile(ran, "_steps", 0.5)
    summary["evals_to_target"] = _group_quantile(ran, "_evals", 0.5)
    summary["grad_norm_median"] = grouped["final_grad_norm"].median().to_numpy(np.float64)
    summary["converged"] = grouped["_converged"].sum().to_numpy()
    summary["diverged"] = grouped["_diverged"].sum().to_numpy()
    summary["runs"] = grouped.size().to_numpy()
    summary["seeds_identical"] = grouped["seeds_identical"].all().to_numpy(bool)
    uses_gap = summary["problem"].map(lambda p: objective_column(problems.get(p, {})) == "gap")
    median = summary["final_median"].to_numpy()
    floored = np.where(uses_gap.to_numpy(bool), np.maximum(median, gap_resolution(ran)), median)
    summary["key"] = [_significant(float(v)) for v in floored]
    return summary[columns]


# The protocol's sort key, best first (the last: the earlier grid point).
PROTOCOL_ORDER = ["key", "steps_to_target", "evals_to_target", "setting"]


def _competition_rank(frame: pd.DataFrame) -> np.ndarray:
    """1, 2, 2, 4: equal keys share the better rank (frame sorted by the key already)."""
    keys = list(frame[PROTOCOL_ORDER[:-1]].itertuples(index=False, name=None))
    ranks = []
    for position, key in enumerate(keys):
        ranks.append(ranks[-1] if position and key == keys[position - 1] else position + 1)
    return np.asarray(ranks, dtype=np.int64)


# What the protocol ranks by, bar the grid order: (score, steps, evals to target).
_PROTOCOL_KEY = PROTOCOL_ORDER[:-1]


def _protocol_key(row: Any) -> tuple[float, ...]:
    """A row's `_PROTOCOL_KEY` as floats (compared as tuples, like the protocol's sort)."""
    return tuple(float(row[name]) for name in _PROTOCOL_KEY)


def _grid_edges(
    summary: pd.DataFrame, best: pd.DataFrame, hyperparameters: Sequence[str]
) -> list[str]:
    """Per tuned row: which swept values sit on an edge of their grid and beat every value
    inside it, e.g. "learning_rate=1 is the largest of 5 values" ("" where none does). Only
    a hyperparameter with at least 3 values counts (with 2, both are edges), and an edge
    that only ties an inside value (the grid order broke the tie) is not one."""
    hyper = [name for name in hyperparameters if name in summary.columns]
    # Whole columns converted once, then sliced per cell: pandas per cell costs 1 s a suite.
    columns = {name: summary[name].to_numpy(np.float64) for name in hyper}
    keys = list(map(tuple, summary[_PROTOCOL_KEY].to_numpy(np.float64).tolist()))
    cells = {
        cell: ({name: values[rows] for name, values in columns.items()}, [keys[i] for i in rows])
        for cell, rows in summary.groupby(["problem", "optimizer"], sort=False).indices.items()
    }
    edges = []
    for row in best.to_dict("records"):
        cell_columns, cell_keys = cells[(row["problem"], row["optimizer"])]
        texts = []
        for name in hyper:
            column = cell_columns[name]
            values = np.unique(column[~np.isnan(column)])
            value = row[name]
            if values.size < 3 or pd.isna(value) or values[0] < value < values[-1]:
                continue
            inside = (column > values[0]) & (column < values[-1])
            best_inside = min(k for k, keep in zip(cell_keys, inside, strict=True) if keep)
            if best_inside <= _protocol_key(row):
                continue  # an inside value does as well: not evidence of a better beyond
            side = "largest" if value == values[-1] else "smallest"
            texts.append(f"{name}={value:g} is the {side} of {values.size} values")
        edges.append("; ".join(texts))
    return edges


def best_settings(
    runs: pd.DataFrame,
    problems: Mapping[str, Mapping[str, Any]],
    hyperparameters: Sequence[str] = (),
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The tuned setting per (problem, optimizer), ranked within each problem (see module).
    ``summary``: `setting_summary` of the same arguments, where the caller has it already.

    Protocol flags beside each row:
      all_settings_diverged: every setting of the grid scored +inf (its median run
        diverged): there is no tuned setting, and the row's setting is only the first one.
      grid_edge / tuned_at_grid_edge: the tuned value of a swept hyperparameter (of 3 or
        more values) is the largest or smallest of its grid: the optimum may lie beyond it.
    """
    if summary is None:
        summary = setting_summary(runs, problems, hyperparameters)
    if summary.empty:
        return summary.assign(
            rank=pd.Series(dtype=np.int64),
            all_settings_diverged=pd.Series(dtype=bool),
            grid_edge=pd.Series(dtype=object),
            tuned_at_grid_edge=pd.Series(dtype=bool),
        )
    ordered = summary.sort_values(["problem", "optimizer", *PROTOCOL_ORDER], kind="stable")
    best = ordered.groupby(["problem", "optimizer"], sort=False).head(1)
    # Problems in order of first appearance (the suite's order), optimizers ranked within.
    problem_order = {p: i for i, p in enumerate(dict.fromkeys(runs["problem"]))}
    best = best.assign(_p=best["problem"].map(problem_order))
    best = best.sort_values(["_p", *PROTOCOL_ORDER], kind="stable").drop(columns="_p")
    best = best.reset_index(drop=True)
    best["rank"] = np.concatenate(
        [_competition_rank(group) for _, group in best.groupby("problem", sort=False)]
    )
    # The best key is +inf only when every setting's is: the whole grid diverged.
    best["all_settings_diverged"] = np.isposinf(best["key"].to_numpy(np.float64))
    edges = _grid_edges(summary, best, hyperparameters)
    best["grid_edge"] = np.where(best["all_settings_diverged"], "", edges)
    best["tuned_at_grid_edge"] = best["grid_edge"] != ""
    return best


def _stationary_ties(
    table: pd.DataFrame, metadata: Mapping[str, Any], resolution: float
) -> np.ndarray:
    """Per row: it shares rank 1 with another optimizer at a point that is stationary
    (median final gradient norm <= STATIONARY_GRAD_NORM) but not the global minimum (its
    gap above the suite's target, or DEFAULT_TIE_GAP, and above the dtype's ``resolution``:
    converged runs whose gaps are rounding noise are not stuck): all of them stopped at the
    same local minimum (or saddle), which is not a win."""
    target = metadata.get("suite", {}).get("target")
    threshold = max(DEFAULT_TIE_GAP if target is None else float(target), resolution)
    problems = metadata.get("problems", {})
    tied = np.zeros(len(table), dtype=bool)
    for _, group in table.groupby("problem", sort=False):
        first = group[group["rank"] == 1]
        if len(first) < 2 or objective_column(problems.get(group["problem"].iloc[0], {})) != "gap":
            continue
        stuck = (
            (first["final_median"].to_numpy(np.float64) > threshold)
            & np.isfinite(first["final_median"].to_numpy(np.float64))
            & (first["grad_norm_median"].to_numpy(np.float64) <= STATIONARY_GRAD_NORM)
        )
        if stuck.all():
            tied[table.index.get_indexer(first.index)] = True
    return tied


def comparison(
    runs: pd.DataFrame, metadata: Mapping[str, Any], summary: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`best_settings` with the default setting beside the tuned one, and the flags.
    ``summary``: `setting_summary` of the same runs, where the caller has it already.

    Extra columns: default_setting (label; missing where the entry's grid has no default),
    default_final_median, default_final_q25, default_final_q75, default_steps_to_target,
    default_converged, grid_diverged / grid_runs (over every setting of the grid), and
    tied_at_stationary_point (see `_stationary_ties`).
    """
    problems = metadata["problems"]
    hyper = metadata.get("hyperparameters", ())
    if summary is None:
        summary = setting_summary(runs, problems, hyper)
    best = best_settings(runs, problems, hyper, summary=summary)
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
    cells = {cell: group for cell, group in summary.groupby(["problem", "optimizer"], sort=False)}
    for row in best.itertuples():
        cell = cells[(row.problem, row.optimizer)]
        info = optimizers.get(row.optimizer, {})
        index = info.get("default_index")
        match = cell[cell["setting"] == index] if index is not None else cell.iloc[:0]
        found = not match.empty
        extra["default_setting"].append(info.get("default_setting") if found else None)
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
    table = best.assign(**extra)
    # Where every setting diverged there is no tuned setting for the default to equal.
    table["default_is_tuned"] = [
        index is not None and index == setting and not diverged
        for index, setting, diverged in zip(
            [optimizers.get(o, {}).get("default_index") for o in table["optimizer"]],
            table["setting"],
            table["all_settings_diverged"],
            strict=True,
        )
    ]
    dtype = metadata.get("suite", {}).get("dtype")
    resolution = GAP_RESOLUTION.get(dtype or "", gap_resolution(runs))
    table["tied_at_stationary_point"] = _stationary_ties(table, metadata, resolution)
    return table


def gap_floor(metadata: Mapping[str, Any]) -> float:
    """The gap below which the suite's dtype cannot tell a run from f* (`GAP_RESOLUTION`)."""
    return GAP_RESOLUTION.get(metadata.get("suite", {}).get("dtype") or "float64", 1e-12)


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
    keys = table[_KEYS].reset_index(drop=True)
    wanted = runs.merge(keys.drop_duplicates(), on=_KEYS, how="inner", sort=False)
    # NaN ("never") counts as +inf: a median of seeds half of which never got there.
    values = {target_text(t): wanted[c].astype(np.float64).fillna(np.inf) for t, c in columns}
    medians = _group_quantiles(wanted[_KEYS].assign(**values), list(values), 0.5)
    frame = keys.merge(medians, on=_KEYS, how="left", sort=False)
    return frame.drop(columns="setting").reset_index(drop=True)


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
