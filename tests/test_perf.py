"""`python -m bench perf`: bad configs are refused like suites; a run writes its tables.
No timing is asserted here: performance is a report (results/perf.md), not a test."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.perf import interleaved_medians, load_perf_config, measure_python_loop
from bench.results.parquet import read_table, write_table

TINY = """
    name: perf-tiny
    repeats: 1
    cells:
      - name: gd-bowl
        problem: {kind: quadratic, dim: 5, condition_number: 10}
        optimizer: {kind: gd, learning_rate: [1.0e-2, 5.0e-2]}
        seeds: 2
        steps: 30
        python_loop_budget_s: 60.0
        baselines: [python_loop, floor]
        goals: {max_ratio_to_floor: 1.0e+6, min_speedup_over_python_loop: 1.0e-6}
      - name: lbfgs-rosenbrock
        problem: {kind: rosenbrock, dim: 2}
        optimizer: {kind: lbfgs}
        steps: 60
        target: 1.0e-8
        baselines: [floor, scipy]
        scipy: L-BFGS-B
        goals: {min_speedup_over_scipy: 1.0e+9}
"""


def test_perf_writes_every_method_of_every_cell(tmp_path):
    config = tmp_path / "perf.yaml"
    config.write_text(textwrap.dedent(TINY))
    bench = tmp_path / "bench"
    bench.mkdir()
    timing = {
        "total_s": 12.5,
        "compile_s": 5.0,
        "run_s": 7.0,
        "compile_share": 0.4,
        "cells_run": 3,
        "xla_compiles": 2,
        "cache_hits": 1,
        "slowest_cell": {"problem": "p", "optimizer": "o", "compile_s": 1.0, "run_s": 4.0},
    }
    write_table(
        pd.DataFrame({"problem": ["p"]}),
        bench / "runs.parquet",
        {"environment": {"git_commit": "abc"}, "timing": timing},
    )
    assert main(["perf", str(config), "--out", str(tmp_path), "--bench", str(bench)]) == 0
    table, meta = read_table(tmp_path / "perf.parquet")
    methods = table.groupby("cell")["method"].agg(list).to_dict()
    assert methods["gd-bowl"] == [
        "runner",
        "python_loop",
        "runner (records at 0 and end)",
        "floor",
    ]
    assert methods["lbfgs-rosenbrock"] == [
        "runner",
        "runner (records at 0 and end)",
        "floor",
        "runner (to target)",
        "scipy L-BFGS-B",
    ]
    gd = table[table["cell"] == "gd-bowl"].set_index("method")
    # A budget this large times every lane, so the medians below are over the same lanes.
    assert gd.loc["python_loop", "lanes"] == 4 and gd.loc["python_loop", "lanes_measured"] == 4
    # Same update, same starts: the three ways agree on where the runs end.
    np.testing.assert_allclose(gd["final_gap"], gd.loc["runner", "final_gap"], rtol=1e-9)
    scipy_row = table[table["method"] == "scipy L-BFGS-B"].iloc[0]
    assert scipy_row["final_gap"] <= 1e-8
    # the runner is timed to the same gap, not merely to the step count its sweep needed
    to_target = table[table["method"] == "runner (to target)"].iloc[0]
    assert to_target["final_gap"] <= 1e-8 and to_target["steps"] >= 1
    assert "0 XLA compile(s); results changed" in " ".join(meta["perf"]["notes"])
    report = (tmp_path / "perf.md").read_text()
    assert report.count("## ") >= 2
    # Declared goals get a verdict each, computed from the measured run seconds.
    goals = report.split("## Goals")[1].split("## ")[0]
    assert goals.count("| yes |") == 2 and goals.count("| **no** |") == 1
    ratio = gd.loc["runner", "run_s"] / gd.loc["floor", "run_s"]
    loop = gd.loc["python_loop", "run_s"] / gd.loc["runner", "run_s"]
    assert f"| gd-bowl | runner / floor run seconds <= 1e+06 | {ratio:.3g} | - | yes |" in goals
    # The Python-loop goal also shows what the floor would score in the runner's place.
    best = gd.loc["python_loop", "run_s"] / gd.loc["floor", "run_s"]
    assert f"run seconds >= 1e-06 | {loop:.3g} | {best:.3g} | yes |" in goals
    # The suite timing quoted from the bench folder's metadata.
    assert "12.5 s for 3 cells run" in report and "p x o" in report


@pytest.mark.parametrize(
    "cell, phrase",
    [
        (
            "{problem: {kind: rosenbrock}, optimizer: {kind: lbfgs}, baselines: [scipy]}",
            "needs `scipy: <method>`",
        ),
        (
            "{problem: {kind: rosenbrock}, optimizer: {kind: lbfgs}, baselines: [flor]}",
            "did you mean 'floor'",
        ),
        (
            "{problem: {kind: rosenbrock}, optimizer: {kind: lbfgs}, scipy: LBFGS}",
            "scipy must be one of",
        ),
        ("{problem: {kind: rosenbrok}, optimizer: {kind: lbfgs}}", "did you mean 'rosenbrock'"),
        (
            "{problem: {kind: rosenbrock}, optimizer: {kind: lbfgs}, "
            "goals: {max_ratio_to_flor: 1.3}}",
            "did you mean 'max_ratio_to_floor'",
        ),
        (
            "{problem: {kind: rosenbrock}, optimizer: {kind: lbfgs}, "
            "goals: {max_ratio_to_floor: -1}}",
            "must be a positive number",
        ),
    ],
)
def test_bad_perf_config_exits_2(tmp_path, capsys, cell, phrase):
    config = tmp_path / "perf.yaml"
    config.write_text(f"cells:\n  - {cell}\n")
    assert main(["perf", str(config), "--out", str(tmp_path / "out")]) == 2
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_timed_methods_run_in_interleaved_rounds():
    """Each round runs every method once, after one warm-up each: a busy moment hits all."""
    order = []
    calls = [lambda name=name: order.append(name) for name in "abc"]
    medians = interleaved_medians(calls, repeats=3)
    assert order == list("abc") * 4  # the warm-ups, then three rounds
    assert len(medians) == 3 and all(m >= 0 for m in medians)


def test_the_python_loop_budget_stops_after_a_lane_and_scales_its_time(tmp_path):
    config = tmp_path / "perf.yaml"
    config.write_text(textwrap.dedent(TINY))
    _, cells = load_perf_config(config)
    # A budget of zero is spent by the first lane: one lane timed, its time scaled to four.
    measured = measure_python_loop(dataclasses.replace(cells[0], python_loop_budget_s=0.0))
    assert measured["lanes"] == 4 and measured["lanes_measured"] == 1
    assert measured["run_s"] > 0 and np.isfinite(measured["final_gap"])
