"""The command line as a user meets it: bad input is refused whole (exit 2, every problem
listed, nothing written, no traceback); a good config writes the contract tables."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml

from bench.cli import main
from bench.results.columns import CURVE_COLUMNS, RUN_COLUMNS
from bench.results.parquet import read_table

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_float64():
    """A config may switch x64 off (dtype: float32); the other tests expect it on."""
    yield
    jax.config.update("jax_enable_x64", True)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """
    name: tiny
    steps: 20
    seeds: 2
    target: 1e-6
    problems:
      - kind: rosenbrock
        dim: 2
    optimizers:
      - kind: gd
        learning_rate: [1e-3, 2e-3]
"""

BAD_CASES = (
    # (what the user wrote, a phrase the message must contain)
    (
        "problems:\n  - kind: rosenbrok\noptimizers:\n  - kind: newton\n",
        "did you mean 'rosenbrock'",
    ),
    (
        "problems:\n  - kind: rosenbrock\n    dimm: 3\noptimizers:\n  - kind: newton\n",
        "did you mean 'dim'",
    ),
    (
        "steps: -5\nproblems:\n  - kind: rosenbrock\noptimizers:\n  - kind: newton\n",
        "steps must be an integer >= 1",
    ),
    (
        "problems:\n  - kind: expression\n    formula: 'x[0] +* 2'\n"
        "optimizers:\n  - kind: newton\n",
        "formula",
    ),
    (
        "problems:\n  - kind: expression\n    formula: \"__import__('os').system('touch pwned')\"\n"
        "    dim: 1\noptimizers:\n  - kind: newton\n",
        "__import__",
    ),
    (
        "problems:\n  - kind: expression\n    formula: 'x.__class__'\n    dim: 1\n"
        "optimizers:\n  - kind: newton\n",
        "__class__",
    ),
    (
        "problems:\n  - kind: expression\n    formula: 'y[0] + 1'\n    dim: 1\n"
        "optimizers:\n  - kind: newton\n",
        "y[0]",
    ),
    ("problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: adma\n", "did you mean 'adam'"),
    (
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n    learning_rate: -1\n",
        "learning_rate must be > 0",
    ),
    ("problems:\n  - kind: rosenbrock\n    dim: [2, 3]\noptimizers:\n  - kind: newton\n", "dim"),
    (
        "dtype: float16\nproblems:\n  - kind: rosenbrock\noptimizers:\n  - kind: newton\n",
        "dtype must be one of float64, float32",
    ),
    ("seeds: 0\nproblems:\n  - kind: rosenbrock\noptimizers:\n  - kind: newton\n", "seeds"),
    ("problems: []\noptimizers:\n  - kind: newton\n", "problems must be a non-empty list"),
    (
        "problems:\n  - kind: rosenbrock\n  - kind: rosenbrock\noptimizers:\n  - kind: newton\n",
        "two problem entries are named 'rosenbrock'",
    ),
    (
        "problems:\n  - kind: rosenbrock\n    init: [1.0, 2.0, 3.0]\n"
        "optimizers:\n  - kind: newton\n",
        "init",
    ),
    ("problems: [\n", "not valid YAML"),
    # kind written as a list or a mapping: unhashable, once a TypeError and a traceback
    ("problems:\n  - kind: [rosenbrock]\noptimizers:\n  - kind: gd\n", "kind must be one name"),
    ("problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: {a: 1}\n", "kind must be one name"),
    (
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: adam\n    learning_rate: 0.1\n"
        "    schedule: {kind: [cosine]}\n",
        "schedule: kind must be one name",
    ),
    (
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: adam\n    learning_rate: 0.1\n"
        "    schedule: [cosine]\n",
        "got ['cosine']",
    ),
    (
        "problems:\n  - kind: rosenbrock\n    name: null\noptimizers:\n  - kind: gd\n",
        "problems[0] (rosenbrock): name must be a non-empty string",
    ),
    (
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n    name: [1, 2]\n",
        "optimizers[0] (gd): name must be a non-empty string",
    ),
    (
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n"
        "    learning_rate: [1e-3, 1e-2]\n    default: {learning_rate: abc}\n",
        "optimizers[0] (gd) default: learning_rate must be a finite number, got 'abc'",
    ),
    (
        "steps: 1e15\nproblems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n",
        "steps must be an integer >= 1 and at most 10,000,000, got '1e15'",
    ),
    (
        "seeds: 100000000\nproblems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n",
        "at most 10,000",
    ),
    (
        "problems:\n  - kind: rosenbrock\n    init: [.nan, 1.0]\noptimizers:\n  - kind: gd\n",
        "init must be a list of finite numbers",
    ),
    (
        "problems:\n  - kind: expression\n    formula: 'sum(x**2)'\n    dim: 2\n"
        "    x_star: [.inf, 0.0]\noptimizers:\n  - kind: gd\n",
        "x_star must contain only finite numbers",
    ),
    (
        "problems:\n  - kind: expression\n    formula: 'sum(x**2)'\n    dim: 2\n"
        "    f_star: .nan\noptimizers:\n  - kind: gd\n",
        "f_star must be a finite number",
    ),
)


@pytest.mark.parametrize("text, phrase", BAD_CASES)
def test_bad_config_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, capsys, text, phrase):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    status = main(["run", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert phrase in err
    assert "Traceback" not in err
    assert "{spec" not in err and "!r}" not in err  # every message is formatted
    assert not out.exists()
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_every_error_is_reported_at_once(tmp_path, capsys):
    config = _write(
        tmp_path,
        """
        steps: 0
        problems:
          - kind: rosenbrok
          - kind: quadratic
            conditon_number: 10
        optimizers:
          - kind: adma
    """,
    )
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "4 problems" in err
    for phrase in (
        "steps",
        "problems[0] (rosenbrok)",
        "problems[1] (quadratic)",
        "conditon_number",
        "optimizers[0] (adma)",
    ):
        assert phrase in err


def test_kinds_that_are_lists_or_mappings_are_all_reported_at_once(tmp_path, capsys):
    config = _write(
        tmp_path,
        """
        problems:
          - kind: [rosenbrock]
          - kind: {name: rosenbrock}
        optimizers:
          - kind: [gd, adam]
          - kind: adam
            learning_rate: 0.1
            schedule: {kind: {cosine: 1}}
    """,
    )
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "4 problems" in err and "Traceback" not in err
    for where in (
        "problems[0]:",
        "problems[1]:",
        "optimizers[0]:",
        "optimizers[1] (adam) schedule:",
    ):
        assert f"{where} kind must be one name" in err
    assert "python -m bench list" in err


def test_caps_on_steps_and_seeds_accept_the_largest_allowed(tmp_path, capsys):
    config = _write(
        tmp_path,
        """
        steps: 1e7
        seeds: 10000
        problems:
          - kind: rosenbrock
            init: [1e-3, 2.0]
        optimizers:
          - kind: gd
            learning_rate: [1e-3, 1e-2]
            default: {learning_rate: 1e-3}
    """,
    )
    assert main(["validate", str(config)]) == 0, capsys.readouterr().err
    assert "20000 runs of 10000000 steps" in capsys.readouterr().out


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path):
    config = _write(tmp_path, GOOD)  # learning_rate: [1e-3, 2e-3] are strings to PyYAML
    assert main(["validate", str(config)]) == 0


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_the_process_exit_status_and_no_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("problems:\n  - kind: rosenbrok\noptimizers:\n  - kind: gd\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "validate", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "did you mean 'rosenbrock'" in done.stderr
    assert "Traceback" not in done.stderr


def test_list_names_every_registered_kind(capsys):
    from optimizers import OPTIMIZERS
    from problems import PROBLEMS

    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in [*PROBLEMS, *OPTIMIZERS]:
        assert f"  {name}:" in text


def test_run_writes_the_contract_tables_plots_and_report(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, GOOD)), "--out", str(out)]) == 0
    curves, meta = read_table(out / "curves.parquet")
    runs, _ = read_table(out / "runs.parquet")
    assert list(curves.columns) == [*CURVE_COLUMNS, "learning_rate"]
    assert set(RUN_COLUMNS) | {"learning_rate"} <= set(runs.columns)
    # one row per run per recorded step (record_every defaults to every step here), per run
    assert len(curves) == 2 * 2 * 21
    assert len(runs) == 2 * 2
    assert sorted(curves["step"].unique()) == list(range(21))
    assert set(runs["status"]) <= {"converged", "diverged", "max_steps"}
    for key in (
        "python",
        "jax",
        "jaxlib",
        "optax",
        "backend",
        "x64",
        "cpu",
        "git_commit",
        "schema_version",
    ):
        assert key in meta["environment"]
    assert meta["environment"]["x64"] is True
    report = (out / "report.md").read_text()
    assert "rosenbrock" in report and "gd" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    # A picture, not an empty canvas (the smallest, a profile of 2 problems at 90 dpi, 8 kB).
    assert images and all((out / image).stat().st_size > 5_000 for image in images)
    # `plot` rebuilds the report from the tables alone
    (out / "report.md").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "report.md").is_file()


def test_diverging_gradient_descent_is_data_not_a_crash(tmp_path):
    out = tmp_path / "out"
    config = _write(
        tmp_path,
        """
        name: blowup
        steps: 200
        seeds: 3
        problems:
          - kind: rosenbrock
            dim: 2
        optimizers:
          - kind: gd
            learning_rate: [1e-4, 1e-3, 0.1, 1.0]
    """,
    )
    assert main(["run", str(config), "--out", str(out)]) == 0
    runs, _ = read_table(out / "runs.parquet")
    curves, _ = read_table(out / "curves.parquet")
    by_rate = runs.groupby("learning_rate")["status"].agg(set)
    assert by_rate[0.1] == {"diverged"} and by_rate[1.0] == {"diverged"}
    assert by_rate[1e-4] == {"max_steps"} and by_rate[1e-3] == {"max_steps"}
    last = curves[curves["step"] == 200].set_index(["learning_rate", "seed"])["loss"]
    assert np.isfinite(last.loc[1e-3]).all()
    assert not np.isfinite(last.loc[1.0]).any()


def test_hand_written_adam_equals_optax_adam_through_the_suite(tmp_path):
    out = tmp_path / "out"
    config = _write(
        tmp_path,
        """
        name: twins
        steps: 300
        seeds: 2
        problems:
          - kind: rosenbrock
            dim: 2
          - kind: quadratic
            dim: 20
            condition_number: 1e3
        optimizers:
          - kind: adam
            learning_rate: [1e-3, 1e-2, 1e-1]
          - kind: optax.adam
            learning_rate: [1e-3, 1e-2, 1e-1]
    """,
    )
    assert main(["run", str(config), "--out", str(out)]) == 0
    curves, _ = read_table(out / "curves.parquet")
    keys = ["problem", "learning_rate", "seed", "step"]
    mine = curves[curves["optimizer"] == "adam"].set_index(keys)["loss"].sort_index()
    theirs = curves[curves["optimizer"] == "optax.adam"].set_index(keys)["loss"].sort_index()
    assert len(mine) == len(theirs) > 0
    np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=1e-10, atol=0)


HIMMELBLAU = "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"


def _expression_suite(tmp_path: Path, formula: str, claims: dict) -> Path:
    """A suite of one YAML formula with the given f_star / x_star claims."""
    entry = {"kind": "expression", "name": "claimed", "formula": formula, **claims}
    raw = {"problems": [entry], "optimizers": [{"kind": "gd", "learning_rate": 1e-3}]}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_check_wrong_f_star_fails_and_prints_the_numbers(tmp_path, capsys):
    config = _expression_suite(tmp_path, HIMMELBLAU, {"f_star": 1.0, "x_star": [3.0, 2.0]})
    assert main(["check", str(config)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("  x*[0]"))
    assert line.startswith("  x*[0] = (3 2): loss 0, |loss - f*| 1")
    assert "failed: value |loss(x*) - f*| 1 > 1e-08 * (1 + |f*|) = 2e-08" in line
    assert line.endswith("FAIL") and "stationarity" not in line
    assert "1 of 1 problems FAILED: claimed" in out


def test_check_non_stationary_x_star_fails_with_full_coordinates(tmp_path, capsys):
    # No f*: only stationarity can fail, and 1.001 must not print as 1.
    formula = "(x[0] - 1)**2 + (x[1] + 0.5)**2"
    config = _expression_suite(tmp_path, formula, {"x_star": [1.001, -0.5]})
    assert main(["check", str(config)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("  x*[0]"))
    assert line.startswith("  x*[0] = (1.001 -0.5): ")
    assert "|grad| 0.002" in line and "minimum" in line
    assert "failed: stationarity |grad| 0.002 > 1e-06 * max(1, max |eigenvalue|) = 2e-06" in line
    assert "value |loss" not in line and "curvature class" not in line
    assert line.endswith("FAIL")


def test_check_default_config_passes(capsys):
    assert main(["check", str(REPO / "configs" / "default.yaml")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "problems passed" in out


def test_check_all_registered_problems_pass(capsys):
    assert main(["check", "--all"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "problems passed" in out


def test_screenshots_without_a_browser_are_refused_before_anything(tmp_path, monkeypatch, capsys):
    from test_report_synthetic import build

    monkeypatch.setenv("OPTBENCH_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = build(tmp_path / "results", steps=10, seeds=(0,), problems=("ill-10d",))
    before = sorted(p.name for p in out.iterdir())
    assert main(["plot", str(out), "--screenshots"]) == 2
    err = capsys.readouterr().err
    assert "--screenshots: no Chromium found" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == before  # nothing drawn or written
    config = _write(tmp_path, GOOD)
    assert main(["run", str(config), "--out", str(tmp_path / "new"), "--screenshots"]) == 2
    assert "--screenshots: no Chromium found" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
