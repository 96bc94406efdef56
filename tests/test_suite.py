"""The suite path a user takes (YAML -> bench.config -> bench.run.sweep.run_suite -> parquet):
capability skips are rows with a reason, a grid x seeds cell compiles once, and the YAML-only
options `schedule:` and `clip_norm:` reach both hand-written and Optax entries."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from jax import monitoring

from bench.config import Suite, build_suite, load_suite
from bench.results.parquet import read_table
from bench.run.compute import compile_one
from bench.run.sweep import SweepOptions, run_suite


class _CompileCounter:
    """XLA backend compiles seen through jax.monitoring: independent of the runner's count."""

    def __init__(self) -> None:
        self.count = 0
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


COMPILES = _CompileCounter()


def _suite_from_file(tmp_path: Path, text: str) -> Suite:
    """As `python -m bench run` does: a YAML file read and checked by load_suite."""
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return load_suite(path)


def _run(suite: Suite, tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    out = tmp_path / "out"
    run_suite(suite, out, log=io.StringIO(), options=SweepOptions(draw=False))
    runs, meta = read_table(out / "runs.parquet")
    curves, _ = read_table(out / "curves.parquet")
    return runs, curves, meta


def test_dense_hessian_above_max_hessian_dim_is_skipped_with_a_reason(tmp_path):
    suite = _suite_from_file(
        tmp_path,
        """
        name: hessian-cap
        steps: 5
        seeds: 2
        max_hessian_dim: 1
        problems:
          - kind: rosenbrock
            dim: 2
        optimizers:
          - kind: newton
          - kind: gd
            learning_rate: 1e-3
        """,
    )
    runs, curves, _ = _run(suite, tmp_path)
    newton = runs[runs["optimizer"] == "newton"]
    assert len(newton) == 2 and set(newton["status"]) == {"skipped"}
    assert all("max_hessian_dim" in reason for reason in newton["reason"])
    assert "newton" not in set(curves["optimizer"])
    gd = runs[runs["optimizer"] == "gd"]
    assert len(gd) == 2 and "skipped" not in set(gd["status"])


def test_line_search_methods_skip_stochastic_problems_unless_allowed(tmp_path):
    entries = []
    for kind in ("lbfgs", "bfgs", "cg"):
        entries += [
            {"kind": kind},
            {"kind": kind, "name": f"{kind}-anyway", "allow_stochastic": True},
        ]
    raw = {
        "name": "stochastic",
        "steps": 3,
        "seeds": 2,
        "problems": [
            {"kind": "logistic", "name": "logistic-b8", "dataset": "synthetic", "batch_size": 8}
        ],
        "optimizers": entries,
    }
    # Through a YAML round trip, as a user writes it.
    suite = build_suite(yaml.safe_load(yaml.safe_dump(raw)), source="stochastic.yaml")
    assert suite.problems[0].stochastic
    runs, curves, _ = _run(suite, tmp_path)
    for kind in ("lbfgs", "bfgs", "cg"):
        skipped = runs[runs["optimizer"] == kind]
        assert len(skipped) == 2 and set(skipped["status"]) == {"skipped"}, kind
        assert all("stochastic" in reason for reason in skipped["reason"]), kind
        allowed = runs[runs["optimizer"] == f"{kind}-anyway"]
        assert len(allowed) == 2 and "skipped" not in set(allowed["status"]), kind
        assert set(allowed["reason"]) == {""}, kind
        assert np.isfinite(allowed["final_loss"]).all(), kind
    assert set(curves["optimizer"]) == {"lbfgs-anyway", "bfgs-anyway", "cg-anyway"}


def test_a_five_value_grid_and_eight_seeds_compile_once_through_yaml(tmp_path):
    suite = _suite_from_file(
        tmp_path,
        """
        name: one-compile
        steps: 10
        seeds: 8
        problems:
          - kind: rosenbrock
            dim: 2
        optimizers:
          - kind: gd
            learning_rate: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
        """,
    )
    problem, setting = suite.problems[0], suite.optimizers[0]
    before = COMPILES.count
    cell = compile_one(problem, setting, suite)
    # The cell's own program, and the problem's shared program (at its first cell only):
    # the Hessian spectra along the paths (2-d: curvature is recorded). Rosenbrock starts
    # at the fixed (-1.2, 1, ...), so no starts program is compiled.
    assert COMPILES.count - before == 2
    assert cell.n_traces == 1 and cell.backend_compiles == 2
    result = cell.result()
    assert result.loss.shape[:2] == (5, 8)
    assert COMPILES.count - before == 2  # running it compiles nothing more
    again = compile_one(problem, setting, suite)
    assert again.backend_compiles == 1  # a later cell of the problem compiles only itself

    # The whole suite path reports the same single compile for the cell.
    runs, _, meta = _run(suite, tmp_path)
    assert len(runs) == 5 * 8
    assert meta["timing"]["cells_run"] == 1 and meta["timing"]["xla_compiles"] == 1


def test_schedule_and_clip_norm_from_yaml_reach_hand_written_and_optax_entries(tmp_path):
    options = {
        "plain": "",
        "schedule": "schedule: {kind: cosine, decay_steps: 50}",
        "clip": "clip_norm: 1.0",
        "both": "schedule: {kind: cosine, decay_steps: 50}\n    clip_norm: 1.0",
    }
    entries = "".join(
        f"  - kind: {kind}\n    name: {kind}-{label}\n    learning_rate: 0.05\n"
        + (f"    {extra}\n" if extra else "")
        for kind in ("adam", "optax.adam")
        for label, extra in options.items()
    )
    text = (
        "name: schedules\nsteps: 40\nseeds: 2\nproblems:\n  - kind: rosenbrock\n    dim: 2\n"
        f"optimizers:\n{entries}"
    )
    suite = _suite_from_file(tmp_path, text)
    assert [s.name for s in suite.optimizers][3] == "adam-both"
    _, curves, _ = _run(suite, tmp_path)
    loss = {
        name: group.sort_values(["seed", "step"])["loss"].to_numpy()
        for name, group in curves.groupby("optimizer")
    }
    assert len(loss) == 8 and all(len(v) == len(loss["adam-plain"]) > 10 for v in loss.values())
    for kind in ("adam", "optax.adam"):
        plain = loss[f"{kind}-plain"]
        for label in ("schedule", "clip", "both"):
            changed = loss[f"{kind}-{label}"]
            # Same start (step 0), then a different path: the option took effect.
            np.testing.assert_array_equal(changed[0], plain[0])
            assert np.max(np.abs(changed - plain) / np.abs(plain)) > 1e-3, (kind, label)
    for label in options:
        np.testing.assert_allclose(
            loss[f"adam-{label}"], loss[f"optax.adam-{label}"], rtol=1e-10, atol=0
        )
