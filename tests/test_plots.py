"""Plot helpers with known answers (the figures themselves are checked in test_report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import colors as mcolors

from bench.plots import (
    FAMILY_PALETTES,
    _band,
    _evals_band,
    _line,
    _same_as,
    _target_near,
    diverged_learning_rates,
    evals_grid,
    evals_matrix,
    optimizer_styles,
    setting_label,
    steps_matrix,
)
from bench.plots.style import LEGEND_WIDTH, wrap_labels
from optimizers import OPTIMIZERS

INF = np.inf


def test_a_setting_index_reads_its_label_from_the_table_metadata():
    metadata = {"optimizers": {"adam": {"setting_labels": ["b2=0.999", "b2=0.9999"]}}}
    assert setting_label(metadata, "adam", np.int64(1)) == "b2=0.9999"
    assert setting_label(metadata, "adam", 5) == "setting 5"  # never an IndexError
    assert setting_label({}, "gd", 0) == "setting 0"


def test_two_learning_rate_curves_that_diverged_everywhere_are_not_called_equal():
    rates = np.array([1e-3, 1e-2, 1e-1])
    undrawn = np.stack([rates, np.full(3, np.nan)])
    assert _same_as(undrawn, [("gd", undrawn.copy())]) is None
    drawn = np.stack([rates, np.array([1.0, 0.5, np.nan])])
    assert _same_as(drawn, [("gd", drawn.copy())]) == "gd"


def _lane(seed: int, evals: list[int], gaps: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"seed": seed, "step": range(len(evals)), "evals": evals, "gap": gaps, "loss": gaps}
    )


def test_evals_band_is_stepwise_over_the_recorded_evaluation_counts():
    # Seed 0 spends 10 evaluations a step, seed 1 twenty (a line search): at evaluation e
    # each seed holds its last recorded value with evals <= e, nothing interpolated.
    lane = pd.concat(
        [_lane(0, [0, 10, 20], [1.0, 1e-2, 1e-4]), _lane(1, [0, 20, 40], [1.0, 1e-2, 1e-4])]
    )
    grid = evals_grid(lane)
    assert grid.tolist() == [0.0, 10.0, 20.0, 40.0]
    matrix = evals_matrix(lane, "gap", grid)
    assert matrix[:, 1].tolist() == [1.0, 1.0, 1e-2, 1e-4]  # seed 1 still at 1 at e = 10
    median, low, _ = _evals_band(lane, "gap", grid)
    assert median[1] == pytest.approx((1e-2 + 1.0) / 2)
    assert low[1] == pytest.approx(1e-2 + 0.25 * (1.0 - 1e-2))


def test_stepwise_values_are_only_recorded_ones():
    rng = np.random.default_rng(0)
    lanes = []
    for seed in range(3):
        evals = np.cumsum(rng.integers(1, 7, size=12))
        lanes.append(_lane(seed, [0, *evals.tolist()], rng.uniform(1e-6, 1.0, 13).tolist()))
    lane = pd.concat(lanes)
    grid = np.concatenate([evals_grid(lane), [0.5, 3.3, 1e4]])  # off-record points too
    matrix = evals_matrix(lane, "gap", grid)
    recorded = set(lane["gap"])
    assert set(matrix[np.isfinite(matrix)].ravel()) <= recorded
    # before any record (a grid point below evals 0): nothing
    assert np.isnan(evals_matrix(lane, "gap", np.array([-1.0]))).all()


def test_a_seed_that_stops_early_keeps_its_final_value():
    # Seed 0 finishes after 20 evaluations at 1e-4, seed 1 runs to 100 and ends at 1e-2:
    # past 20, the median is still over both seeds (no survivor bias).
    lane = pd.concat(
        [_lane(0, [0, 10, 20], [1.0, 1e-2, 1e-4]), _lane(1, [0, 50, 100], [1.0, 1e-1, 1e-2])]
    )
    grid = evals_grid(lane)
    median, _, _ = _evals_band(lane, "gap", grid)
    assert grid[-1] == 100.0
    assert median[-1] == pytest.approx(np.median([1e-4, 1e-2]))
    # against steps: the same (seed 0 recorded 3 steps, seed 1 five)
    steps_lane = pd.concat(
        [_lane(0, [0, 1, 2], [1.0, 0.5, 0.25]), _lane(1, [0, 1, 2, 3, 4], [1, 0.9, 0.8, 0.7, 0.6])]
    )
    steps, matrix = steps_matrix(steps_lane, "gap")
    assert steps.tolist() == [0, 1, 2, 3, 4]
    assert matrix[:, 0].tolist() == [1.0, 0.5, 0.25, 0.25, 0.25]


def test_evals_band_a_diverged_seed_is_infinitely_bad_after_it_froze():
    lane = pd.concat(
        [
            _lane(0, [0, 10, 20], [1.0, 1e-2, 1e-4]),
            _lane(1, [0, 10, 20], [1.0, 1e-2, 1e-4]),
            _lane(2, [0, 5, 5], [1.0, INF, INF]),  # evaluations froze at divergence
        ]
    )
    median, _, high = _evals_band(lane, "gap", np.array([0.0, 10.0]))
    assert median[0] == pytest.approx(1.0)
    assert median[1] == pytest.approx(1e-2)  # 2 of 3 seeds fine: the median is finite
    assert np.isnan(high[1])  # the 75% quantile is the diverged seed: not drawn
    # A diverged seed stays diverged even if a later record is finite again.
    flaky = _lane(0, [0, 1, 2], [1.0, np.nan, 0.5])
    assert np.isinf(evals_matrix(flaky, "gap", np.array([2.0]))).all()
    # A majority diverged: no median line at all.
    lane = pd.concat([lane, _lane(3, [0, 4, 4], [1.0, INF, INF])])
    median, _, _ = _evals_band(lane, "gap", np.array([10.0]))
    assert np.isnan(median[0])


def test_styles_give_each_family_its_hue_and_each_entry_its_own_look():
    names = list(OPTIMIZERS)  # 41 entries: 9 first-order, 26 adaptive, 4 quasi-Newton, 2 Newton
    styles = optimizer_styles(names)
    by_family: dict[str, list[str]] = {}
    for name in names:
        assert styles[name]["family"] == OPTIMIZERS[name].family
        by_family.setdefault(OPTIMIZERS[name].family, []).append(styles[name]["color"])
    palettes = [set(colors) for colors in by_family.values()]
    for i, one in enumerate(palettes):  # no color shared between two families
        assert all(one.isdisjoint(other) for other in palettes[i + 1 :])
    for colors in by_family.values():  # shades distinct up to the family's palette size
        assert len(set(colors)) == min(len(colors), len(FAMILY_PALETTES[_family(colors)]))
    for color in {s["color"] for s in styles.values()}:  # none grey: it would vanish
        red, green, blue = mcolors.to_rgb(color)
        assert max(red, green, blue) - min(red, green, blue) > 0.15, color
    looks = {(s["color"], s["marker"], s["linestyle"]) for s in styles.values()}
    assert len(looks) == len(names)  # every entry drawn its own way
    assert optimizer_styles(names[:3]) == {n: styles[n] for n in names[:3]}  # stable


def _family(colors: list[str]) -> str:
    return next(f for f, palette in FAMILY_PALETTES.items() if colors[0] in palette)


def test_a_library_twin_is_dashed_over_the_solid_hand_written_line():
    styles = optimizer_styles(["adam", "gd", "optax.adam", "optax.sgd"])
    assert styles["adam"]["linestyle"] == "-"
    assert styles["optax.adam"]["linestyle"] != "-"
    assert styles["optax.adam"]["zorder"] > styles["adam"]["zorder"]
    assert styles["optax.adam"]["color"] != styles["adam"]["color"]  # two shades of one hue
    curve = np.array([1.0, 0.5, 0.1])
    assert _same_as(curve * (1 + 1e-5), [("adam", curve)]) == "adam"
    assert _same_as(np.full(3, np.nan), [("adam", np.full(3, np.nan))]) is None
    # Two hand-written entries on one curve: the later is dashed (both colors show).
    assert _line("gd", "adam", styles)["linestyle"] != "-"
    assert _line("optax.adam", "adam", styles)["linestyle"] == styles["optax.adam"]["linestyle"]
    # Library-ness comes from the entry's kind, not from a dot in its name.
    named = optimizer_styles(["adam.v2", "sgd-momentum"], {"sgd-momentum": "optax.sgd"})
    assert named["adam.v2"]["linestyle"] == "-"
    assert named["sgd-momentum"]["linestyle"] != "-"


def test_every_diverged_learning_rate_gets_a_row_per_entry():
    summary = pd.DataFrame(
        {
            "optimizer": ["gd", "gd", "momentum", "momentum", "adam"],
            "learning_rate": [0.1, 1.0, 0.1, 1.0, 1.0],
            "final_median": [0.5, INF, INF, INF, 0.1],
            "key": 0.0,
            "steps_to_target": np.nan,
            "evals_to_target": np.nan,
            "setting": range(5),
        }
    )
    rows = diverged_learning_rates(summary)
    assert list(rows) == ["gd", "momentum"]  # one row each, adam never diverged
    assert rows["gd"].tolist() == [1.0]
    assert rows["momentum"].tolist() == [0.1, 1.0]


def test_the_target_line_is_drawn_only_near_the_data():
    assert _target_near(1e-6, np.array([1e-5, 1.0, np.inf]))  # in or just below the axis
    assert _target_near(1e-6, np.array([1e-4, 1.0]))  # within 3 decades below: extended
    assert not _target_near(1e-6, np.array([20.0, 21.0]))  # far below: the title says so
    assert not _target_near(None, np.array([1.0]))


def test_the_band_holds_its_median_and_leaves_out_what_diverged():
    # Rows: equal seeds, a diverged upper quartile, no data, a diverged median.
    matrix = np.array(
        [
            [1e-3, 1e-3, 1e-3, 1e-3],
            [1e-3, 2e-3, 3e-3, INF],
            [np.nan, np.nan, np.nan, np.nan],
            [1.0, INF, INF, INF],
        ]
    )
    median, low, high = _band(matrix, 1)
    assert median[0] == low[0] == high[0] == 1e-3  # one value: a band of zero width
    assert median[1] == pytest.approx(2.5e-3) and low[1] == pytest.approx(1.75e-3)
    assert np.isnan(high[1])  # no band above a quartile that diverged
    assert np.isnan([median[2], low[2], high[2]]).all()
    assert np.isnan([median[3], low[3], high[3]]).all()  # the line stops


def test_legend_labels_wrap_so_the_panels_keep_their_width():
    long = "momentum (learning_rate=0.0001) ≡ nesterov ≡ optax.sgd+momentum ≡ optax.sgd+nesterov"
    (wrapped,) = wrap_labels([long])
    lines = wrapped.split("\n")
    assert len(lines) > 1 and all(len(line) <= LEGEND_WIDTH for line in lines)
    assert " ".join(line.strip() for line in lines) == long  # nothing lost
    assert wrap_labels(["gd (learning_rate=0.1)"]) == ["gd (learning_rate=0.1)"]
