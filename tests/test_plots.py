"""Plot helpers with known answers (the figures themselves are checked in test_report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.plots import _evals_band, optimizer_styles, with_settings

INF = np.inf


def test_curves_get_the_setting_label_of_runs_nan_keys_included():
    curves = pd.DataFrame(
        {
            "problem": "p",
            "optimizer": ["gd", "gd", "newton"],
            "seed": 0,
            "step": 0,
            "loss": 1.0,
            "gap": 1.0,
            "grad_norm": 1.0,
            "dist": 1.0,
            "evals": 0,
            "learning_rate": [0.1, 0.01, np.nan],
        }
    )
    runs = pd.DataFrame(
        {
            "problem": "p",
            "optimizer": ["gd", "gd", "newton"],
            "seed": 0,
            "learning_rate": [0.01, 0.1, np.nan],
            "setting": ["learning_rate=0.01", "learning_rate=0.1", "default"],
            "status": "converged",
        }
    )
    labelled = with_settings(curves, runs)
    assert labelled["setting"].tolist() == ["learning_rate=0.1", "learning_rate=0.01", "default"]


def _lane(seed: int, evals: list[int], gaps: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"seed": seed, "step": range(len(evals)), "evals": evals, "gap": gaps, "loss": gaps}
    )


def test_evals_band_interpolates_each_seed_then_takes_quantiles():
    # Seed 0 spends 10 evaluations a step, seed 1 twenty (a line search): on a common
    # evaluation grid, seed 1 is interpolated (in log space) between its records.
    lane = pd.concat(
        [_lane(0, [0, 10, 20], [1.0, 1e-2, 1e-4]), _lane(1, [0, 20, 40], [1.0, 1e-2, 1e-4])]
    )
    grid = np.array([0.0, 10.0, 20.0, 40.0])
    median, low, _ = _evals_band(lane, "gap", grid, log_values=True)
    # at 10: seed 0 = 1e-2, seed 1 = 1e-1 (halfway in log between 1 and 1e-2)
    assert median[1] == pytest.approx((1e-2 + 1e-1) / 2)
    assert low[1] == pytest.approx(1e-2 + 0.25 * (1e-1 - 1e-2))
    # at 40 seed 0 has no data (its budget ended at 20 evaluations): seed 1 alone
    assert median[3] == pytest.approx(1e-4)


def test_evals_band_a_diverged_seed_is_infinitely_bad_after_it_froze():
    lane = pd.concat(
        [
            _lane(0, [0, 10, 20], [1.0, 1e-2, 1e-4]),
            _lane(1, [0, 10, 20], [1.0, 1e-2, 1e-4]),
            _lane(2, [0, 5, 5], [1.0, INF, INF]),  # evaluations froze at divergence
        ]
    )
    median, _, high = _evals_band(lane, "gap", np.array([0.0, 10.0]), log_values=True)
    assert median[0] == pytest.approx(1.0)
    assert median[1] == pytest.approx(1e-2)  # 2 of 3 seeds fine: the median is finite
    assert np.isnan(high[1])  # the 75% quantile is the diverged seed: not drawn
    # A majority diverged: no median line at all.
    lane = pd.concat([lane, _lane(3, [0, 4, 4], [1.0, INF, INF])])
    median, _, _ = _evals_band(lane, "gap", np.array([10.0]), log_values=True)
    assert np.isnan(median[0])


def test_styles_stay_distinct_for_many_optimizers():
    names = [f"opt{i}" for i in range(24)]
    styles = optimizer_styles(names)
    pairs = {(s["color"], s["linestyle"]) for s in styles.values()}
    assert len(pairs) == len(names)
    assert optimizer_styles(names[:3]) == {n: styles[n] for n in names[:3]}  # stable
