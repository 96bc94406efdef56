"""The interactive charts of report.html (bench.report.charts), on synthetic results folders:
their numbers against medians computed here with pandas from the tables, twins drawn once,
and plain JSON (no NaN, nothing plotly would have to guess)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from test_report_synthetic import build

from bench.analysis import analyse
from bench.report.charts import (
    ANIMATED,
    ANIMATION_FRAMES,
    IN_TRAJECTORIES,
    charts_for,
    numbers,
)
from bench.results.loaded import Results, load_results
from bench.summary import comparison

RTOL = 1e-5  # charts carry 6 significant digits


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Results:
    out = build(tmp_path_factory.mktemp("charts"), steps=40, seeds=(0, 1, 2))
    return load_results(out)


def _charts(results: Results) -> dict:
    errors: list[str] = []
    charts = charts_for(results, analyse(results), errors)
    assert errors == []
    return charts


def _main_traces(chart: dict) -> list[dict]:
    return [t for t in chart["data"] if t.get("showlegend", True) and t["type"] == "scatter"]


def _trace(chart: dict, optimizer: str) -> dict:
    (trace,) = [t for t in _main_traces(chart) if t["name"].split(" ")[0] == optimizer]
    return trace


def test_numbers_rounds_and_turns_non_finite_into_gaps():
    assert numbers([1.23456789, np.nan, np.inf, -np.inf, 0.0, 1e-300]) == [
        1.23457,
        None,
        None,
        None,
        0.0,
        1e-300,
    ]


def test_every_chart_is_plain_json_and_every_figure_has_one(results: Results):
    charts = _charts(results)
    text = json.dumps(charts, allow_nan=False)  # raises on NaN or inf
    assert json.loads(text) == charts
    assert set(charts) == {
        "quad-2d_convergence.png", "quad-2d_trajectories.png", "quad-2d_learning_rate.png",
        "quad-2d_paths_by_optimizer.png",
        "saddle-2d_convergence.png", "saddle-2d_trajectories.png",
        "saddle-2d_learning_rate.png", "saddle-2d_paths_by_optimizer.png",
        "saddle-2d_curvature.png",
        "ill-10d_convergence.png", "ill-10d_learning_rate.png",  # constant curvature: none
        "offset-20d_convergence.png", "offset-20d_learning_rate.png",
        "profile_performance.png", "profile_data.png", "profile_ecdf.png",
    }  # fmt: skip
    # The default paths are hidden traces of the trajectory chart; the slot of their PNG
    # holds the step-by-step animation.
    assert charts["quad-2d_paths_by_optimizer.png"] != IN_TRAJECTORIES


def test_the_animation_ends_on_the_tuned_paths(results: Results):
    chart = _charts(results)["saddle-2d_paths_by_optimizer.png"]
    table = comparison(results.runs, results.metadata)
    best = table[table["problem"] == "saddle-2d"]
    lines = [t for t in chart["data"][1:] if t["mode"] == "lines"]
    assert 1 <= len(lines) <= ANIMATED
    # The first drawn is the best ranked entry; twins are named in its legend entry.
    assert lines[0]["name"].split(" ≡ ")[0] == best.iloc[0]["optimizer"]
    frames = chart["frames"]
    assert 2 <= len(frames) <= ANIMATION_FRAMES
    steps = [int(f["name"]) for f in frames]
    assert steps == sorted(steps)
    last = frames[-1]["data"]
    paths = results.paths[
        (results.paths["problem"] == "saddle-2d") & (results.paths["role"] == "best")
    ]
    for k, trace in enumerate(lines):
        name = trace["name"].split(" ≡ ")[0]
        mine = paths[paths["optimizer"] == name]
        mine = mine[mine["seed"] == mine["seed"].min()].sort_values("step")
        assert last[2 * k]["x"] == pytest.approx(list(mine["x0"]), rel=RTOL)
        assert last[2 * k]["y"] == pytest.approx(list(mine["x1"]), rel=RTOL)
        assert last[2 * k + 1]["x"] == pytest.approx([mine["x0"].iloc[-1]], rel=RTOL)
        # A frame shows the path up to its step: the first frame only the start.
        assert len(frames[0]["data"][2 * k]["x"]) == int((mine["step"] <= steps[0]).sum())
    assert chart["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"


def test_convergence_medians_match_pandas(results: Results):
    charts = _charts(results)
    table = comparison(results.runs, results.metadata)
    for problem, column in (("ill-10d", "gap"), ("offset-20d", "loss")):
        chart = charts[f"{problem}_convergence.png"]
        assert chart["layout"]["yaxis"]["type"] == "log"
        for row in table[table["problem"] == problem].itertuples():
            lane = results.curves[
                (results.curves["problem"] == problem)
                & (results.curves["optimizer"] == row.optimizer)
                & (results.curves["setting"] == row.setting)
            ]
            values = lane[column].where(np.isfinite(lane[column]), np.inf)
            if column == "gap":
                values = values.clip(lower=1e-16)
            expected = values.groupby(lane["step"]).median()
            trace = _trace(chart, row.optimizer)
            steps = trace["meta"]["views"]["steps"]
            assert steps["x"] == [float(s) for s in expected.index]
            got = np.array([np.nan if v is None else v for v in steps["y"]])
            want = np.where(np.isfinite(expected.to_numpy()), expected.to_numpy(), np.nan)
            np.testing.assert_allclose(got, want, rtol=RTOL, equal_nan=True)
            # The evaluation view ends at the median of the seeds' final values too.
            evals = trace["meta"]["views"]["evals"]
            assert evals["shape"] == "hv" and evals["x"][-1] == lane["evals"].max()


def test_sensitivity_points_are_median_final_gaps_per_learning_rate(results: Results):
    chart = _charts(results)["ill-10d_learning_rate.png"]
    runs = results.runs[
        (results.runs["problem"] == "ill-10d") & (results.runs["optimizer"] == "gd")
    ]
    medians = runs.groupby("learning_rate")["final_gap"].median()
    finite = medians[np.isfinite(medians)]
    trace = _trace(chart, "gd")
    assert trace["x"] == pytest.approx(list(finite.index), rel=RTOL)
    np.testing.assert_allclose(trace["y"], np.maximum(finite.to_numpy(), 1e-16), rtol=RTOL)


def test_trajectories_start_where_the_paths_table_does(results: Results):
    chart = _charts(results)["saddle-2d_trajectories.png"]
    contour = chart["data"][0]
    assert contour["type"] == "contour" and len(contour["z"]) == len(contour["y"])
    start = next(t for t in chart["data"] if t.get("name") == "start x0")
    paths = results.paths[(results.paths["problem"] == "saddle-2d") & (results.paths["step"] == 0)]
    first = paths[paths["seed"] == paths["seed"].min()]
    assert any(
        math.isclose(start["x"][0], x, rel_tol=RTOL)
        and math.isclose(start["y"][0], y, rel_tol=RTOL)
        for x, y in zip(first["x0"], first["x1"], strict=True)
    )
    defaults = [t for t in chart["data"] if t.get("visible") == "legendonly"]
    assert defaults and all(" default " in t["name"] for t in defaults)


def test_twins_are_drawn_once_and_named_together(results: Results):
    # A copy of gd under another name: the same numbers, so one line "gd ... ≡ gd-copy".
    def twin(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "optimizer" not in frame:
            return frame
        copy = frame[frame["optimizer"] == "gd"].assign(optimizer="gd-copy")
        return pd.concat([frame, copy], ignore_index=True)

    metadata = json.loads(json.dumps(results.metadata))
    metadata["optimizers"]["gd-copy"] = metadata["optimizers"]["gd"]
    doubled = Results(
        curves=twin(results.curves),
        runs=twin(results.runs),
        metadata=metadata,
        paths=twin(results.paths),
        curvature=twin(results.curvature),
        surfaces=results.surfaces,
    )
    charts = _charts(doubled)
    for name in ("ill-10d_convergence.png", "saddle-2d_trajectories.png",
                 "ill-10d_learning_rate.png", "profile_data.png",
                 "profile_ecdf.png"):  # fmt: skip
        names = [t["name"] for t in _main_traces(charts[name])]
        assert not [n for n in names if n.startswith("gd-copy")], name
        assert [n for n in names if n.startswith("gd") and n.endswith("≡ gd-copy")], name


def test_runtime_ecdf_counts_trials_solved_within_each_budget(results: Results):
    # By hand from runs.parquet: every (problem with f*, target, seed) is a trial; a trial
    # costs max(evals to the target, 1) / dim at the entry's tuned setting.
    from bench.profiles import runtime_costs, runtime_ecdf

    table = comparison(results.runs, results.metadata)
    metadata = results.metadata
    problems = [p for p, info in metadata["problems"].items() if info["f_star"] is not None]
    targets = metadata["suite"]["targets"]
    seeds = metadata["suite"]["seeds"]
    costs = runtime_costs(results.runs, table, metadata, problems)
    assert len(costs) == len(problems) * len(targets) * len(seeds)
    for optimizer in ("gd", "newton", "gd-armijo"):
        trials = []
        for problem in problems:
            tuned = table[(table["problem"] == problem) & (table["optimizer"] == optimizer)]
            runs = results.runs[
                (results.runs["problem"] == problem)
                & (results.runs["optimizer"] == optimizer)
                & (results.runs["setting"] == tuned["setting"].iloc[0])
            ]
            dim = metadata["problems"][problem]["dim"]
            for target in targets:
                column = f"evals_to_{target:.0e}"  # the ladder column, e.g. evals_to_1e-03
                for seed in seeds:
                    value = runs.loc[runs["seed"] == seed, column]
                    cost = float(value.iloc[0]) if len(value) else np.inf
                    trials.append(max(cost, 1.0) / dim if np.isfinite(cost) else np.inf)
        trials = np.array(trials)
        finite = np.sort(trials[np.isfinite(trials)])
        assert finite.size  # the check below compares something
        budgets = np.array([finite[0], finite[len(finite) // 2], finite[-1] * 2])
        ecdf = runtime_ecdf(costs, budgets)[optimizer].to_numpy()
        expected = [(trials <= b).sum() / trials.size for b in budgets]
        np.testing.assert_allclose(ecdf, expected, rtol=0, atol=1e-15)
        # The chart's step function ends at the same fraction.
        chart = _charts(results)["profile_ecdf.png"]
        trace = next(t for t in chart["data"] if t["name"].split(" ")[0] == optimizer)
        assert trace["y"][-1] == pytest.approx(np.isfinite(trials).mean(), rel=RTOL)
