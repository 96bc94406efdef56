"""Scoring that does not move the goalposts, and a protocol that flags its own artefacts.

Each test runs a small suite through `run_suite` (as `python -m bench run` does) and checks
the tables against references computed here in numpy, independent of the code under test:
exact targets, one identity per setting, and the four protocol flags, each on a suite built
to trigger it and on one built not to.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis import analyse
from bench.config import load_suite
from bench.plots import Figures
from bench.report import report_blocks
from bench.report.document import to_markdown
from bench.results.columns import ladder_column, setting_labels, target_text
from bench.results.loaded import load_results
from bench.run.sweep import SweepOptions, run_suite
from bench.summary import comparison

# A diagonal quadratic written as a formula: its gradient descent is x <- (1 - lr d) x.
DIAGONAL = np.array([1.0, 10.0])
START = np.array([1.0, 1.0])


def _run(tmp_path: Path, text: str, name: str = "out"):
    """The suite ``text`` run into tmp_path/name: (runs, curves, results, comparison)."""
    config = tmp_path / f"{name}.yaml"
    config.write_text(textwrap.dedent(text))
    out = tmp_path / name
    run_suite(
        load_suite(config),
        out,
        log=io.StringIO(),
        options=SweepOptions(draw=False, store=tmp_path / "store"),
    )
    results = load_results(out)
    return results.runs, results.curves, results, comparison(results.runs, results.metadata)


def _report(results, table) -> str:
    """report.md's text without drawing a figure (``table``: `comparison`, which the
    analysis must equal)."""
    analysis = analyse(results)
    pd.testing.assert_frame_equal(
        analysis.table.drop(columns="departs_from"), table, check_like=True
    )
    return to_markdown(report_blocks(results, analysis, Figures([], {})), Path("."))


def _numpy_gaps(lr: float, steps: int) -> np.ndarray:
    """The gap f(x_t) - 0 of gradient descent on 1/2 sum(d x^2) from START, t = 0..steps."""
    factors = (1.0 - lr * DIAGONAL)[None, :] ** np.arange(steps + 1)[:, None]
    x = START[None, :] * factors
    return 0.5 * np.sum(DIAGONAL * x * x, axis=1)


# --- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [1.0e-10, 3.0e-9, 1.0e-12])
def test_a_target_below_the_ladder_is_scored_exactly(tmp_path: Path, target: float):
    steps = 120
    rates = [0.02, 0.05, 0.15]
    runs, curves, results, _ = _run(
        tmp_path,
        f"""
        name: exact-target
        steps: {steps}
        seeds: 1
        target: {target!r}
        record_every: 1
        problems:
          - kind: expression
            name: diagonal
            formula: "0.5 * (x[0]**2 + 10 * x[1]**2)"
            init: [1.0, 1.0]
            f_star: 0.0
            x_star: [0.0, 0.0]
        optimizers:
          - kind: gd
            learning_rate: {rates}
        """,
    )
    assert results.metadata["suite"]["targets"].count(target) == 1
    assert ladder_column("steps", target) in runs.columns
    reached = 0
    for index, lr in enumerate(rates):
        gaps = _numpy_gaps(lr, steps)
        hits = np.flatnonzero(gaps <= target)
        row = runs[runs["setting"] == index].iloc[0]
        lane = curves[curves["setting"] == index].sort_values("step")
        # The curve agrees with numpy (to rounding), and the first step at or below the
        # target is the one the runs table reports: never one of a neighbouring rung.
        np.testing.assert_allclose(lane["gap"], gaps, rtol=1e-9, atol=1e-300)
        on_curve = lane["step"].to_numpy()[lane["gap"].to_numpy() <= target]
        if hits.size:
            reached += 1
            assert row["steps_to_target"] == hits[0] == on_curve[0]
            assert row["status"] == "converged"
        else:
            assert np.isnan(row["steps_to_target"]) and on_curve.size == 0
            assert row["status"] == "max_steps"
    assert 0 < reached < len(rates) or target == 1.0e-12  # both outcomes occur


def test_target_names_never_round_a_target_onto_another():
    assert target_text(1e-10) == "1e-10"
    assert target_text(3e-9) == "3e-09"
    assert target_text(1.5e-9) == "1.5e-09"
    assert float(target_text(0.1 + 0.2)) == 0.1 + 0.2


# --- settings -----------------------------------------------------------------------------


def test_close_grid_values_stay_three_settings(tmp_path: Path):
    runs, curves, results, table = _run(
        tmp_path,
        """
        name: b2
        steps: 20
        seeds: 2
        record_every: 5
        problems:
          - kind: quadratic
            dim: 3
        optimizers:
          - kind: adam
            learning_rate: 0.1
            b2: [0.999, 0.9999, 0.99999]
        """,
    )
    labels = runs.drop_duplicates("setting")["setting_label"].tolist()
    assert labels == [f"learning_rate=0.1, b2={b2}" for b2 in ("0.999", "0.9999", "0.99999")]
    assert sorted(curves["setting"].unique()) == [0, 1, 2]
    assert results.metadata["hyperparameters"] == ["learning_rate", "b2"]
    from bench.summary import setting_summary

    summary = setting_summary(runs, results.metadata["problems"], ["b2"])
    assert summary["runs"].tolist() == [2, 2, 2]
    assert summary["b2"].tolist() == [0.999, 0.9999, 0.99999]
    assert table["setting_label"].iloc[0] in labels


def test_labels_use_the_digits_a_grid_needs():
    grid = [{"learning_rate": v} for v in (1e-3, 1.0001e-3, 1e-2)]
    assert setting_labels(grid) == [
        "learning_rate=0.001",
        "learning_rate=0.0010001",
        "learning_rate=0.01",
    ]
    assert setting_labels([{}]) == ["default"]


# --- flags --------------------------------------------------------------------------------


def test_identical_seeds_are_flagged_on_a_fixed_start_and_not_on_a_random_one(tmp_path: Path):
    runs, _, results, table = _run(
        tmp_path,
        """
        name: seeds
        steps: 30
        seeds: 3
        record_every: 10
        problems:
          - kind: rosenbrock
          - kind: quadratic
            dim: 4
        optimizers:
          - kind: gd
            learning_rate: [0.001, 0.01]
        """,
    )
    by_problem = runs.groupby("problem")["seeds_identical"].agg(["all", "any"])
    assert by_problem.loc["rosenbrock", "all"]  # fixed start, full batch: copies
    assert not by_problem.loc["quadratic", "any"]  # a random start per seed
    text = _report(results, table)
    assert "Identical seeds: the 3 seeds of gd gave identical curves" in text
    assert "3/3 (identical seeds: 1 effective run)" in text or "0/3 (identical seeds" in text
    assert text.count("Identical seeds:") == 1


GRID_EDGE_SUITE = """
name: edge
steps: 40
seeds: 1
target: 1.0e-8
record_every: 10
problems:
  - kind: quadratic
    name: bowl
    dim: 4
    condition_number: 1.0
optimizers:
  - kind: gd
    learning_rate: {rates}
"""


def test_a_tuned_value_on_the_edge_of_its_grid_is_flagged_with_the_2_over_l_scale(
    tmp_path: Path,
):
    _, _, results, table = _run(
        tmp_path, GRID_EDGE_SUITE.format(rates=[1e-3, 1e-2, 1e-1]), "at-edge"
    )
    row = table.iloc[0]
    assert row["tuned_at_grid_edge"] and row["setting_label"] == "learning_rate=0.1"
    assert row["grid_edge"] == "learning_rate=0.1 is the largest of 3 values"
    text = _report(results, table)
    assert "Tuned at the edge of the grid: gd (learning_rate=0.1 is the largest" in text
    # The bowl's Hessian is the identity: L = 1, and gradient descent is stable below 2.
    assert (
        "at most L = 1, so plain gradient descent is stable for every learning rate below 2/L = 2"
        in text
    )
    assert "learning_rate=0.1 (grid edge)" in text


def test_a_tuned_value_inside_its_grid_is_not_flagged(tmp_path: Path):
    _, _, results, table = _run(tmp_path, GRID_EDGE_SUITE.format(rates=[0.3, 1.0, 1.9]), "inside")
    row = table.iloc[0]
    assert row["setting_label"] == "learning_rate=1"  # one step to the minimum: 1/L
    assert not row["tuned_at_grid_edge"] and row["grid_edge"] == ""
    assert "Tuned at the edge" not in _report(results, table)


def test_an_entry_whose_every_setting_diverged_has_no_tuned_setting(tmp_path: Path):
    _, _, results, table = _run(
        tmp_path,
        GRID_EDGE_SUITE.format(rates=[1.0e4, 1.0e5, 1.0e6]).replace("seeds: 1", "seeds: 2")
        + "  - kind: gd\n    name: gd-stable\n    learning_rate: [0.5, 1.0]\n",
        "diverged",
    )
    table = table.set_index("optimizer")
    assert table.loc["gd", "all_settings_diverged"]
    assert not table.loc["gd", "tuned_at_grid_edge"]  # no tuned value, so no edge either
    assert not table.loc["gd-stable", "all_settings_diverged"]
    text = _report(results, table.reset_index())
    assert "none: every setting diverged" in text
    assert "No tuned setting: every setting of gd diverged" in text
    row = next(line for line in text.splitlines() if line.startswith("| 2 | gd |"))
    assert "none: every setting diverged" in row and "learning_rate=1e+04" not in row
    # The tables keep no "tuned" path for it: there is none.
    curvature = results.curvature
    assert not (curvature["optimizer"].eq("gd") & curvature["role"].eq("best")).any()


def _double_well() -> tuple[float, float, float]:
    """f = (x0^2 - 1)^2 + 0.3 x0 + x1^2: (global x0*, f*, local x0) from numpy's roots."""
    roots = np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real)
    value = (roots**2 - 1) ** 2 + 0.3 * roots
    return float(roots[0]), float(value[0]), float(roots[2])


DOUBLE_WELL = """
name: tie
steps: 200
seeds: 1
target: 1.0e-8
record_every: 10
problems:
  - kind: expression
    name: well
    formula: "(x[0]**2 - 1)**2 + 0.3 * x[0] + x[1]**2"
    init: {init}
    f_star: {f_star!r}
    x_star: [{x_star!r}, 0.0]
optimizers:
  - kind: gd
    learning_rate: 0.05
  - kind: newton
"""


def test_a_shared_rank_at_a_local_minimum_is_called_a_tie_not_a_win(tmp_path: Path):
    x_star, f_star, local = _double_well()
    text = DOUBLE_WELL.format(init=[1.5, 0.5], f_star=f_star, x_star=x_star)
    runs, _, results, table = _run(tmp_path, text, "local")
    # Both end at the local minimum x0 = `local`, whose gap is known independently.
    local_gap = (local**2 - 1) ** 2 + 0.3 * local - f_star
    np.testing.assert_allclose(runs["final_gap"], local_gap, rtol=1e-9)
    assert table["rank"].tolist() == [1, 1]
    assert table["tied_at_stationary_point"].all()
    report = _report(results, table)
    assert f"All stopped at the same local minimum, gap {local_gap:.3g}" in report
    assert "a tie at the same local minimum, not a solution" in report


def test_a_shared_rank_at_the_global_minimum_is_not_a_tie_flag(tmp_path: Path):
    x_star, f_star, _ = _double_well()
    text = DOUBLE_WELL.format(init=[-1.5, 0.5], f_star=f_star, x_star=x_star)
    _, _, results, table = _run(tmp_path, text, "global")
    assert (table["final_median"] <= 1e-8).all()
    assert not table["tied_at_stationary_point"].any()
    assert "stopped at the same" not in _report(results, table)


# --- display ------------------------------------------------------------------------------


def test_gaps_below_the_rounding_floor_print_as_the_floor_never_negative():
    from bench.report.sections import _score

    assert _score(-6.94e-18, "gap") == "≤ 1e-12"
    assert _score(4.13e-308, "gap") == "≤ 1e-12"
    assert _score(3e-7, "gap", floor=1e-6) == "≤ 1e-06"
    assert _score(2.5e-3, "gap") == "2.50e-03"
    assert _score(-0.5, "loss") == "-0.5"  # a loss may be negative; only gaps are floored
