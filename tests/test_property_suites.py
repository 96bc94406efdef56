"""Any small suite built from awkward ingredients runs end to end: tables, plots, report.

The ingredients are the data the report has to survive: every run diverged, every run
converged at step 0, negative losses without f*, an unknown f*, one problem, one seed, one
setting or a grid. The suites run in this process (`bench.cli.main`), cache off as in every
in-process test (conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.cli import main
from bench.results.columns import STATUSES
from bench.results.parquet import read_table

PROBLEMS = {
    "rosenbrock": {"kind": "rosenbrock"},
    "quad3": {"kind": "quadratic", "name": "quad3", "dim": 3},
    # started at its minimum: every run has converged at step 0
    "at-minimum": {
        "kind": "expression",
        "name": "at-minimum",
        "formula": "x[0]**2 + x[1]**2",
        "init": [0.0, 0.0],
        "f_star": 0.0,
    },
    # negative losses, no f*
    "negative": {
        "kind": "expression",
        "name": "negative",
        "formula": "x[0]**2 + x[1]**2 - 5",
        "init": [1.0, 1.0],
    },
    # positive losses, f* unknown, 3-d (no contour plot)
    "unknown-f-star": {
        "kind": "expression",
        "name": "unknown-f-star",
        "formula": "x[0]**2 + 2 * x[1]**2 + 3 * x[2]**2 + 1",
        "init": [1.0, 1.0, 1.0],
    },
}
# name -> (entry, number of settings)
OPTIMIZERS = {
    "gd": ({"kind": "gd", "name": "gd", "learning_rate": 1.0e-2}, 1),
    "gd-grid": ({"kind": "gd", "name": "gd-grid", "learning_rate": [1.0e-3, 1.0e-2]}, 2),
    # Diverged means a non-finite loss or x: at 1e8 every problem here overflows within 20
    # steps, but at-minimum, where the gradient is 0. (At 1e3 quad3 ends at a finite 1e202,
    # which is max_steps by that rule.)
    "gd-diverge": ({"kind": "gd", "name": "gd-diverge", "learning_rate": 1.0e8}, 1),
    "gd-diverge-grid": (
        {"kind": "gd", "name": "gd-diverge-grid", "learning_rate": [1.0e8, 1.0e10]},
        2,
    ),
    "newton": ({"kind": "newton"}, 1),
}
DIVERGING = {"gd-diverge", "gd-diverge-grid"}

suites = st.fixed_dictionaries(
    {
        "problems": st.lists(
            st.sampled_from(sorted(PROBLEMS)), min_size=1, max_size=2, unique=True
        ),
        "optimizers": st.lists(
            st.sampled_from(sorted(OPTIMIZERS)), min_size=1, max_size=2, unique=True
        ),
        "seeds": st.sampled_from([1, 2]),
        # without a target no run can be `converged`
        "target": st.sampled_from([None, 1.0e-6]),
    }
)


def _suite(problems: list[str], optimizers: list[str], seeds: int, target: float | None):
    return {"problems": problems, "optimizers": optimizers, "seeds": seeds, "target": target}


def _config(suite: dict) -> str:
    return yaml.safe_dump(
        {
            "name": "property",
            "steps": 20,
            "seeds": suite["seeds"],
            **({"target": suite["target"]} if suite["target"] is not None else {}),
            "problems": [PROBLEMS[p] for p in suite["problems"]],
            "optimizers": [OPTIMIZERS[o][0] for o in suite["optimizers"]],
        },
        sort_keys=False,
    )


@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(suite=suites)
@example(suite=_suite(["quad3"], ["gd-diverge-grid"], 2, 1.0e-6))  # every run diverged
@example(suite=_suite(["rosenbrock"], ["gd-diverge"], 1, None))  # ... one run, no target
@example(suite=_suite(["at-minimum"], ["gd-grid", "newton"], 2, 1.0e-6))  # all converged
@example(suite=_suite(["negative"], ["gd", "newton"], 1, 1.0e-6))  # negative, no f*
@example(suite=_suite(["unknown-f-star"], ["gd-grid"], 2, None))  # unknown f*, a grid
@example(suite=_suite(["negative"], ["newton"], 1, None))  # one cell, one run
def test_small_suites_of_awkward_data_run_end_to_end(suite):
    with tempfile.TemporaryDirectory(prefix="optbench-property-") as folder:
        root = Path(folder)
        config = root / "suite.yaml"
        config.write_text(_config(suite))
        out = root / "out"
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main(["run", str(config), "--out", str(out), "--store", str(root / "store")])
        assert code == 0, stderr.getvalue()

        tables = {p.name for p in out.glob("*.parquet")}
        assert {"curves.parquet", "runs.parquet"} <= tables
        two_d = any(
            PROBLEMS[p]["kind"] == "rosenbrock" or len(PROBLEMS[p].get("init", [])) == 2
            for p in suite["problems"]
        )
        assert ("surfaces.parquet" in tables) == two_d
        assert (out / "report.md").stat().st_size > 0
        assert (out / "report.html").stat().st_size > 0

        runs, _ = read_table(out / "runs.parquet")
        settings_per_entry = sum(OPTIMIZERS[o][1] for o in suite["optimizers"])
        assert len(runs) == len(suite["problems"]) * settings_per_entry * suite["seeds"]
        assert not runs.duplicated(["problem", "optimizer", "setting", "seed"]).any()
        assert set(runs["status"]) <= set(STATUSES) - {"error", "timeout"}
        at_minimum = set(runs.loc[runs["problem"] == "at-minimum", "status"])
        assert at_minimum <= ({"converged"} if suite["target"] is not None else {"max_steps"})
        diverging = runs["optimizer"].isin(DIVERGING) & (runs["problem"] != "at-minimum")
        assert set(runs.loc[diverging, "status"]) <= {"diverged"}
