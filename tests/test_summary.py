"""The tuning protocol and the profiles on hand-made tables with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bench.profiles import data_profile, performance_profile, performance_ratios
from bench.summary import (
    best_settings,
    comparison,
    overview,
    robust_quantile,
    setting_summary,
    skipped_cells,
    target_costs,
)

INF = np.inf


def _runs(rows: list[tuple]) -> pd.DataFrame:
    """rows: (problem, optimizer, setting label, seed, final_gap or 'diverged',
    steps_to_target). A label's setting index is its order of first appearance in its
    (problem, optimizer) cell, as a grid's order would give it."""
    records = []
    indices: dict[tuple[str, str], dict[str, int]] = {}
    for problem, optimizer, setting, seed, gap, steps in rows:
        diverged = gap == "diverged"
        cell = indices.setdefault((problem, optimizer), {})
        records.append(
            {
                "problem": problem,
                "optimizer": optimizer,
                "seed": seed,
                "setting": cell.setdefault(setting, len(cell)),
                "setting_label": setting,
                "learning_rate": float(setting.split("=")[1]) if "=" in setting else np.nan,
                "status": "diverged"
                if diverged
                else ("converged" if np.isfinite(steps) else "max_steps"),
                "final_loss": np.inf if diverged else 1.0 + gap,
                "final_gap": np.inf if diverged else gap,
                "steps_to_target": steps,
                "evals_to_target": 2 * steps,
                "evals": 100,
                "compile_s": 0.5,
                "run_s": 0.1,
                "reason": "",
            }
        )
    return pd.DataFrame(records)


HYPER = ["learning_rate"]
PROBLEMS = {"p": {"f_star": 1.0, "dim": 2}, "q": {"f_star": 1.0, "dim": 4}}


def test_a_setting_that_diverges_on_most_seeds_loses():
    # lr=0.1 is superb on the 2 seeds that survive, but 3 of 5 diverge: its median is inf.
    rows = [("p", "gd", "lr=0.1", s, g, 5) for s, g in enumerate([1e-9, 1e-9])]
    rows += [("p", "gd", "lr=0.1", s, "diverged", np.nan) for s in (2, 3, 4)]
    rows += [("p", "gd", "lr=0.01", s, 1e-3, np.nan) for s in range(5)]
    best = best_settings(_runs(rows), PROBLEMS)
    assert best["setting_label"].tolist() == ["lr=0.01"]
    summary = setting_summary(_runs(rows), PROBLEMS).set_index("setting_label")
    assert summary.loc["lr=0.1", "final_median"] == INF
    assert summary.loc["lr=0.1", "diverged"] == 3
    assert summary.loc["lr=0.01", "final_median"] == pytest.approx(1e-3)


def test_two_divergent_seeds_of_five_do_not_disqualify():
    rows = [("p", "gd", "lr=0.1", s, g, 5) for s, g in enumerate([1e-9, 2e-9, 3e-9])]
    rows += [("p", "gd", "lr=0.1", s, "diverged", np.nan) for s in (3, 4)]
    rows += [("p", "gd", "lr=0.01", s, 1e-3, np.nan) for s in range(5)]
    best = best_settings(_runs(rows), PROBLEMS)
    assert best["setting_label"].tolist() == ["lr=0.1"]
    assert best["final_median"].iloc[0] == pytest.approx(3e-9)
    assert best["final_q75"].iloc[0] == INF  # between 3e-9 and a diverged run


def test_gaps_below_resolution_tie_and_fewer_steps_win():
    # Both settings solve to rounding noise; the first has the smaller gap, the second
    # gets there in fewer steps: the protocol picks the faster one.
    rows = [("p", "gd", "lr=0.01", s, 1e-15, 80) for s in range(3)]
    rows += [("p", "gd", "lr=0.1", s, 5e-13, 20) for s in range(3)]
    assert best_settings(_runs(rows), PROBLEMS)["setting_label"].tolist() == ["lr=0.1"]
    # Above the resolution the gap decides, whatever the steps.
    rows = [("p", "gd", "lr=0.01", s, 1e-9, 80) for s in range(3)]
    rows += [("p", "gd", "lr=0.1", s, 5e-9, 20) for s in range(3)]
    assert best_settings(_runs(rows), PROBLEMS)["setting_label"].tolist() == ["lr=0.01"]


def test_exact_ties_keep_grid_order_and_share_a_rank():
    rows = [("p", "a", "lr=0.5", s, 0.0, 10) for s in range(3)]
    rows += [("p", "a", "lr=0.2", s, 0.0, 10) for s in range(3)]
    rows += [("p", "b", "default", s, 0.0, 10) for s in range(3)]
    rows += [("p", "c", "default", s, 1e-3, np.nan) for s in range(3)]
    best = best_settings(_runs(rows), PROBLEMS)
    assert best["optimizer"].tolist() == ["a", "b", "c"]
    assert best["setting_label"].tolist() == ["lr=0.5", "default", "default"]  # first in the grid
    assert best["rank"].tolist() == [1, 1, 3]


def test_unknown_f_star_ranks_by_final_loss_and_never_reaches_a_target():
    problems = {"u": {"f_star": None, "dim": 3}}
    rows = [("u", "a", "default", s, 0.5, np.nan) for s in range(3)]
    rows += [("u", "b", "default", s, -0.5, np.nan) for s in range(3)]
    runs = _runs(rows)
    runs["final_gap"] = np.nan  # gap is NaN where f* is unknown; the loss decides
    best = best_settings(runs, problems)
    assert best["optimizer"].tolist() == ["b", "a"]
    assert best["final_median"].tolist() == pytest.approx([0.5, 1.5])


def test_skipped_rows_are_left_out():
    rows = [("p", "a", "default", s, 1e-3, np.nan) for s in range(2)]
    runs = _runs(rows)
    skipped = runs.iloc[:1].assign(
        optimizer="newton", status="skipped", final_gap=np.nan, final_loss=np.nan
    )
    best = best_settings(pd.concat([runs, skipped]), PROBLEMS)
    assert best["optimizer"].tolist() == ["a"]


def test_failed_cells_are_left_out_like_skipped_ones_and_listed_with_their_reason():
    runs = _runs([("p", "a", "default", s, 1e-3, 5.0) for s in range(2)])
    failed = pd.DataFrame(
        {
            "problem": "p",
            "optimizer": ["b", "b", "c", "c", "d"],
            "seed": [0, 1, 0, 1, 0],
            "setting": 0,
            "status": ["error", "error", "timeout", "timeout", "skipped"],
            "reason": [
                "ValueError: bad",
                "ValueError: bad",
                "ran past 60 s",
                "ran past 60 s",
                None,
            ],
        }
    )
    runs = pd.concat([runs, failed], ignore_index=True)
    summary = setting_summary(runs, PROBLEMS)
    assert summary["optimizer"].tolist() == ["a"] and summary["runs"].tolist() == [2]
    cells = skipped_cells(runs)
    assert cells.to_dict("records") == [
        {"problem": "p", "optimizer": "b", "status": "error", "reason": "ValueError: bad"},
        {"problem": "p", "optimizer": "c", "status": "timeout", "reason": "ran past 60 s"},
        {"problem": "p", "optimizer": "d", "status": "skipped", "reason": "-"},
    ]


def test_robust_quantile_treats_inf_as_failure_and_nan_as_missing():
    assert robust_quantile(np.array([1.0, 2.0, INF]), 0.5) == 2.0
    assert robust_quantile(np.array([1.0, INF]), 0.5) == INF
    assert robust_quantile(np.array([1.0, 2.0, 3.0, INF]), 0.5) == 2.5
    assert robust_quantile(np.array([1.0, 2.0, 3.0, INF]), 0.75) == INF
    assert robust_quantile(np.array([INF, INF]), 0.25) == INF
    assert robust_quantile(np.array([1.0, np.nan, 3.0]), 0.5) == 2.0
    assert np.isnan(robust_quantile(np.array([np.nan, np.nan]), 0.5))
    matrix = np.array([[1.0, 3.0], [INF, 5.0], [np.nan, np.nan]])
    np.testing.assert_array_equal(robust_quantile(matrix, 0.5, axis=1), [2.0, INF, np.nan])


def _nanquantile_reference(values: np.ndarray, q: float, axis: int) -> np.ndarray:
    """The rule of `robust_quantile` written with np.nanquantile (row by row in numpy)."""
    huge = np.finfo(np.float64).max / 4
    capped = np.where(np.isposinf(values), huge, values)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        linear = np.nanquantile(capped, q, axis=axis)
        upper = np.nanquantile(capped, q, axis=axis, method="higher")
    result = np.where(upper >= huge, INF, linear)
    return np.where(np.isnan(values).all(axis=axis), np.nan, result)


def test_robust_quantile_along_an_axis_equals_numpy_nanquantile_bitwise():
    # Generated matrices with ties, NaN (no data), +inf (diverged) and -inf, both axes and
    # quantiles at and between the order statistics: the vectorized rule is numpy's own.
    rng = np.random.default_rng(7)
    for _ in range(400):
        shape = (int(rng.integers(1, 30)), int(rng.integers(1, 9)))
        values = rng.lognormal(0.0, 5.0, shape) * rng.choice([1.0, -1.0], shape)
        values[rng.random(shape) < 0.5 * rng.random()] = np.nan
        values[rng.random(shape) < 0.3 * rng.random()] = INF
        values[rng.random(shape) < 0.05] = -INF
        if rng.random() < 0.3:
            values = np.round(values)
        axis = int(rng.integers(0, 2))
        for q in (0.0, 0.25, 0.5, 0.75, 1.0, float(rng.random())):
            np.testing.assert_array_equal(
                robust_quantile(values, q, axis=axis), _nanquantile_reference(values, q, axis)
            )


def _metadata(optimizers: dict) -> dict:
    return {"suite": {"target": 1e-6}, "problems": PROBLEMS, "optimizers": optimizers}


def test_comparison_puts_the_default_beside_the_tuned_setting():
    rows = [("p", "gd", "lr=0.1", s, 1e-8, 30) for s in range(3)]
    rows += [("p", "gd", "lr=0.01", s, 1e-2, np.nan) for s in range(3)]
    rows += [("p", "adam", "lr=0.1", s, 1e-4, np.nan) for s in range(3)]
    metadata = _metadata(
        {
            "gd": {"default_setting": "lr=0.01", "default_index": 1},
            "adam": {"default_setting": None, "default_index": None},
        }
    )
    table = comparison(_runs(rows), metadata).set_index("optimizer")
    assert table.loc["gd", "setting_label"] == "lr=0.1"
    assert not table.loc["gd", "default_is_tuned"]
    assert table.loc["gd", "default_setting"] == "lr=0.01"
    assert table.loc["gd", "default_final_median"] == pytest.approx(1e-2)
    assert table.loc["gd", "grid_runs"] == 6
    assert pd.isna(table.loc["adam", "default_setting"])
    assert np.isnan(table.loc["adam", "default_final_median"])


def test_overview_counts_problems_solved_and_wins():
    rows = [("p", "a", "default", s, 1e-8, 10) for s in range(3)]
    rows += [("p", "b", "default", s, 1e-8, 40) for s in range(3)]
    rows += [("q", "a", "default", s, 1e-2, np.nan) for s in range(3)]
    rows += [("q", "b", "default", s, 1e-9, 50) for s in range(3)]
    metadata = _metadata(
        {"a": {"default_setting": "default", "default_index": 0}, "b": {"default_setting": None}}
    )
    table = comparison(_runs(rows), metadata)
    summary = overview(table, metadata).set_index("optimizer")
    assert summary.loc["a", "solved"] == 1 and summary.loc["b", "solved"] == 2
    assert summary.loc["a", "solved_default"] == 1 and summary.loc["b", "solved_default"] == 0
    assert summary.loc["a", "wins"] == 1 and summary.loc["b", "wins"] == 1
    assert summary.index.tolist() == ["b", "a"]  # more problems solved first
    costs = target_costs(table, metadata, "steps_to_target")
    assert costs.loc["p"].tolist() == [10, 40]
    assert costs.loc["q"].tolist() == [INF, 50]


def test_a_problem_where_every_cell_was_skipped():
    rows = _runs([("p", "a", "default", 0, 1e-3, np.nan)])
    rows = rows.assign(status="skipped", final_gap=np.nan, final_loss=np.nan)
    metadata = _metadata({"a": {"default_setting": "default", "default_index": 0}})
    table = comparison(rows, metadata)
    assert table.empty
    summary = overview(table, metadata)
    assert summary.loc[0, "problems_run"] == 0 and summary.loc[0, "solved"] == 0
    assert np.isinf(target_costs(table, metadata, "steps_to_target")).all().all()


# Performance profile by hand (Dolan & More 2002):
#   steps to target   A     B     C
#   P1               10    20    inf    -> ratios 1, 2, inf
#   P2               30    15    60     -> ratios 2, 1, 4
#   P3               inf   inf   inf    -> nobody solves it: inf for all
COSTS = pd.DataFrame(
    {"A": [10.0, 30.0, INF], "B": [20.0, 15.0, INF], "C": [INF, 60.0, INF]},
    index=["P1", "P2", "P3"],
)


def test_performance_ratios_by_hand():
    ratios = performance_ratios(COSTS)
    expected = pd.DataFrame(
        {"A": [1.0, 2.0, INF], "B": [2.0, 1.0, INF], "C": [INF, 4.0, INF]},
        index=["P1", "P2", "P3"],
    )
    pd.testing.assert_frame_equal(ratios, expected)


def test_performance_profile_by_hand():
    profile = performance_profile(COSTS, np.array([1.0, 1.5, 2.0, 3.9, 4.0, 1e9]))
    third = 1 / 3
    np.testing.assert_allclose(
        profile["A"], [third, third, 2 * third, 2 * third, 2 * third, 2 * third]
    )
    np.testing.assert_allclose(
        profile["B"], [third, third, 2 * third, 2 * third, 2 * third, 2 * third]
    )
    np.testing.assert_allclose(profile["C"], [0, 0, 0, 0, third, third])


def test_a_zero_cost_counts_as_one():
    # Solved at the start (0 steps) by A; B needs 3: ratios 1 and 3, not 0/0.
    ratios = performance_ratios(pd.DataFrame({"A": [0.0], "B": [3.0]}, index=["P"]))
    assert ratios.loc["P"].tolist() == [1.0, 3.0]


def test_data_profile_by_hand():
    # Budgets in units of dim+1 evaluations, dims 1, 4, 9:
    #   A: 10/2 = 5, 30/5 = 6, inf;  B: 20/2 = 10, 15/5 = 3, inf;  C: inf, 60/5 = 12, inf.
    dims = {"P1": 1, "P2": 4, "P3": 9}
    profile = data_profile(COSTS, dims, np.array([2.9, 3.0, 5.0, 6.0, 10.0, 12.0]))
    third = 1 / 3
    np.testing.assert_allclose(profile["A"], [0, 0, third, 2 * third, 2 * third, 2 * third])
    np.testing.assert_allclose(profile["B"], [0, third, third, third, 2 * third, 2 * third])
    np.testing.assert_allclose(profile["C"], [0, 0, 0, 0, 0, third])


def _flag_metadata(target: float | None = 1e-6, dtype: str = "float64") -> dict:
    return {
        "suite": {"target": target, "dtype": dtype},
        "problems": PROBLEMS,
        "optimizers": {"gd": {"default_index": 0}, "adam": {"default_index": None}},
        "hyperparameters": HYPER,
    }


def test_an_edge_that_only_ties_an_inside_value_is_not_flagged():
    # Every learning rate scores the same: the grid order picks the first, not the data.
    rows = [("p", "gd", f"lr={lr}", s, 1e-3, np.nan) for lr in (0.01, 0.1, 1.0) for s in (0, 1)]
    table = comparison(_runs(rows), _flag_metadata())
    assert table["setting_label"].tolist() == ["lr=0.01"]
    assert not table["tuned_at_grid_edge"].iloc[0] and table["grid_edge"].iloc[0] == ""
    # The edge wins outright: flagged, with the side it sits on.
    rows = [("p", "gd", "lr=0.01", s, 1e-2, np.nan) for s in (0, 1)]
    rows += [("p", "gd", "lr=0.1", s, 1e-3, np.nan) for s in (0, 1)]
    rows += [("p", "gd", "lr=1.0", s, 1e-5, np.nan) for s in (0, 1)]
    table = comparison(_runs(rows), _flag_metadata())
    assert table["grid_edge"].iloc[0] == "learning_rate=1 is the largest of 3 values"


def test_every_setting_diverged_means_no_tuned_setting_and_no_default_equal_to_it():
    rows = [("p", "gd", f"lr={lr}", s, "diverged", np.nan) for lr in (1.0, 10.0) for s in (0, 1)]
    table = comparison(_runs(rows), _flag_metadata())
    assert table["all_settings_diverged"].tolist() == [True]
    assert table["default_is_tuned"].tolist() == [False]  # the default is index 0, no "= tuned"
    assert table["tuned_at_grid_edge"].tolist() == [False]


def test_a_tie_at_rounding_noise_is_not_a_local_minimum():
    # Two converged optimizers at gaps the dtype cannot resolve (float32: 1e-6), the target
    # below that floor: they tie at rank 1, but at the minimum, not short of it.
    rows = [
        ("p", o, "default", s, g, np.nan) for o, g in (("gd", 5e-9), ("adam", 3e-9)) for s in (0,)
    ]
    runs = _runs(rows).assign(final_grad_norm=2e-6)
    runs = runs.astype({"final_loss": np.float32, "final_gap": np.float32})
    table = comparison(runs, _flag_metadata(target=1e-10, dtype="float32"))
    assert table["rank"].tolist() == [1, 1]
    assert not table["tied_at_stationary_point"].any()
    # The same gaps well above the floor, gradients ~0: stuck together, flagged.
    runs = _runs([("p", o, "default", 0, 0.3, np.nan) for o in ("gd", "adam")])
    table = comparison(runs.assign(final_grad_norm=1e-9), _flag_metadata())
    assert table["tied_at_stationary_point"].all()
    # Not stationary (gradient 1e-2): still descending, not a shared local minimum.
    table = comparison(runs.assign(final_grad_norm=1e-2), _flag_metadata())
    assert not table["tied_at_stationary_point"].any()
