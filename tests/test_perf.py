"""`python -m bench perf`: bad configs are refused like suites; a run writes its tables.
No timing is asserted here: performance is a report (results/perf.md), not a test."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from bench.cli import main
from bench.tables import read_table

TINY = """
    name: perf-tiny
    repeats: 1
    cells:
      - name: gd-bowl
        problem: {kind: quadratic, dim: 5, condition_number: 10}
        optimizer: {kind: gd, learning_rate: [1.0e-2, 5.0e-2]}
        seeds: 2
        steps: 30
        python_loop_budget_s: 0.01
        baselines: [python_loop, floor]
      - name: lbfgs-rosenbrock
        problem: {kind: rosenbrock, dim: 2}
        optimizer: {kind: lbfgs}
        steps: 60
        target: 1.0e-8
        baselines: [floor, scipy]
        scipy: L-BFGS-B
"""


def test_perf_writes_every_method_of_every_cell(tmp_path):
    config = tmp_path / "perf.yaml"
    config.write_text(textwrap.dedent(TINY))
    assert main(["perf", str(config), "--out", str(tmp_path)]) == 0
    table, meta = read_table(tmp_path / "perf.parquet")
    methods = table.groupby("cell")["method"].agg(list).to_dict()
    assert methods["gd-bowl"] == ["runner", "python_loop", "floor"]
    assert methods["lbfgs-rosenbrock"] == [
        "runner",
        "floor",
        "runner (to target)",
        "scipy L-BFGS-B",
    ]
    gd = table[table["cell"] == "gd-bowl"].set_index("method")
    # The budget stops the Python loop after one lane; its time is scaled to all four.
    assert gd.loc["python_loop", "lanes"] == 4 and gd.loc["python_loop", "lanes_measured"] >= 1
    # Same update, same starts: the three ways agree on where the runs end.
    np.testing.assert_allclose(gd["final_gap"], gd.loc["runner", "final_gap"], rtol=1e-9)
    scipy_row = table[table["method"] == "scipy L-BFGS-B"].iloc[0]
    assert scipy_row["final_gap"] <= 1e-8
    assert "0 XLA compile(s); results changed" in " ".join(meta["perf"]["notes"])
    assert (tmp_path / "perf.md").read_text().count("## ") >= 2


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
    ],
)
def test_bad_perf_config_exits_2(tmp_path, capsys, cell, phrase):
    config = tmp_path / "perf.yaml"
    config.write_text(f"cells:\n  - {cell}\n")
    assert main(["perf", str(config), "--out", str(tmp_path / "out")]) == 2
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
