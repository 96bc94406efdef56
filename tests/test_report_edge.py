"""The report never dies on data: the tables that used to kill it (zero, negative or all
diverged gaps, negative losses, a wrong f*, failed cells), a figure that raises anyway,
progress while drawing, and figures reused from a previous report when their inputs match."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from test_report_synthetic import build

from bench import plots
from bench.analysis import analyse
from bench.plots import (
    GAP_FLOOR,
    drawing,
    error_bars,
    problem_fingerprint,
    read_manifest,
    registry,
    style,
)
from bench.report import ReportBuild, build_report, write_report
from bench.results.environment import SCHEMA_VERSION
from bench.results.loaded import load_results
from bench.results.parquet import read_table, write_table

TARGET = 1e-6
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------
# A results folder from explicit loss curves


def _label(lr: float | None) -> str:
    return "default" if lr is None else f"learning_rate={lr:.3g}"


def _run_row(problem, optimizer, lr, seed, losses, f_star, target, setting=0) -> dict:
    losses = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(losses)
    gaps = losses - f_star if f_star is not None else np.full(losses.shape, np.nan)
    hit = np.flatnonzero(finite & (gaps <= target)) if f_star is not None else np.array([])
    diverged = not finite.all()
    status = "diverged" if diverged else ("converged" if hit.size else "max_steps")
    best = float(losses[finite].min()) if finite.any() else np.nan
    first = float(hit[0]) if hit.size else np.nan
    return {
        "problem": problem,
        "optimizer": optimizer,
        "seed": seed,
        "learning_rate": np.nan if lr is None else lr,
        "status": status,
        "final_loss": losses[-1],
        "final_gap": gaps[-1],
        "best_loss": best,
        "steps_to_target": first,
        "evals": 2 * (len(losses) - 1),
        "compile_s": 0.5,
        "run_s": 0.01,
        "setting": setting,
        "setting_label": _label(lr),
        "seeds_identical": False,
        "best_gap": best - f_star if f_star is not None else np.nan,
        "final_grad_norm": 1.0,
        "final_dist": np.nan,
        "evals_to_target": 2 * first,
        "hessian_evals": 0,
        "diverged_step": float(np.argmin(finite)) if diverged else np.nan,
        "steps": len(losses) - 1,
        "reason": "",
    }


def write_suite(
    out: Path,
    problems: dict[str, dict],
    lanes: Sequence[tuple[str, str, float | None, int, Sequence[float]]],
    failed: Sequence[tuple[str, str, str, str]] = (),
    target: float | None = TARGET,
    paths: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] | None = None,
) -> Path:
    """curves.parquet and runs.parquet (and paths, surfaces for ``paths``: a 2-d problem's
    loss function) for explicit loss curves: one lane per (problem, optimizer, learning
    rate or None, seed, losses at steps 0, 1, ...). ``failed``: (problem, optimizer, status,
    reason) cells that hold no result."""
    curves, runs = [], []
    grids: dict[str, list[float]] = {}
    for _, optimizer, lr, _, _ in lanes:
        grid = grids.setdefault(optimizer, [])
        if lr is not None and lr not in grid:
            grid.append(lr)

    def index(optimizer: str, lr: float | None) -> int:
        return 0 if lr is None else grids[optimizer].index(lr)

    seeds = sorted({lane[3] for lane in lanes})
    for problem, optimizer, lr, seed, losses in lanes:
        f_star = problems[problem].get("f_star")
        losses = np.asarray(losses, dtype=np.float64)
        steps = np.arange(losses.size)
        curves.append(
            pd.DataFrame(
                {
                    "problem": problem,
                    "optimizer": optimizer,
                    "setting": index(optimizer, lr),
                    "seed": seed,
                    "step": steps,
                    "loss": losses,
                    "gap": losses - f_star if f_star is not None else np.nan,
                    "grad_norm": 1.0,
                    "dist": np.nan,
                    "evals": 2 * steps,
                    "learning_rate": np.nan if lr is None else lr,
                }
            )
        )
        runs.append(
            _run_row(
                problem, optimizer, lr, seed, losses, f_star, target or TARGET, index(optimizer, lr)
            )
        )
    for problem, optimizer, status, reason in failed:
        grids.setdefault(optimizer, [])
        for seed in seeds:
            runs.append(
                {
                    "problem": problem,
                    "optimizer": optimizer,
                    "seed": seed,
                    "setting": 0,
                    "setting_label": "default",
                    "status": status,
                    "steps": 0,
                    "reason": reason,
                }
            )
    metadata = {
        "environment": {"schema_version": SCHEMA_VERSION},
        "hyperparameters": ["learning_rate"],
        "suite": {
            "name": "edge",
            "steps": max(len(lane[4]) for lane in lanes) - 1,
            "seeds": seeds,
            "target": target,
            "dtype": "float64",
            "targets": [1e-3, 1e-6],
        },
        "problems": {
            name: {
                "dim": info.get("dim", 2),
                "f_star": info.get("f_star"),
                "x_star": info.get("x_star"),
                "bounds": None,
                "stochastic": False,
                "description": info.get("description", ""),
            }
            for name, info in problems.items()
        },
        "optimizers": {
            name: {
                "kind": name,
                "grid": {"learning_rate": grid} if grid else {},
                "sweeps": ["learning_rate"] if grid else [],
                "setting_labels": [_label(lr) for lr in grid] if grid else ["default"],
                "default_index": None,
                "default_setting": None,
                "description": "",
            }
            for name, grid in grids.items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    write_table(pd.concat(curves, ignore_index=True), out / "curves.parquet", metadata)
    write_table(pd.DataFrame(runs), out / "runs.parquet", metadata)
    if paths:
        path_rows, surface_rows = [], []
        for problem, loss in paths.items():
            for _, optimizer, lr, seed, losses in (lane for lane in lanes if lane[0] == problem):
                along = np.linspace(1.0, 0.0, len(losses))
                path_rows.append(
                    pd.DataFrame(
                        {
                            "problem": problem,
                            "optimizer": optimizer,
                            "setting": index(optimizer, lr),
                            "role": "best",
                            "seed": seed,
                            "step": np.arange(len(losses)),
                            "x0": along,
                            "x1": along,
                        }
                    )
                )
            gx, gy = np.meshgrid(np.linspace(-1.5, 1.5, 41), np.linspace(-1.5, 1.5, 41))
            surface_rows.append(
                pd.DataFrame(
                    {
                        "problem": problem,
                        "x0": gx.ravel(),
                        "x1": gy.ravel(),
                        "loss": loss(gx, gy).ravel(),
                    }
                )
            )
        write_table(pd.concat(path_rows, ignore_index=True), out / "paths.parquet", metadata)
        write_table(pd.concat(surface_rows, ignore_index=True), out / "surfaces.parquet", metadata)
    return out


@pytest.fixture
def spy(monkeypatch):
    """What the figures drew: each saved figure's axes (scale, limits, texts) by file name,
    and every error bar (x, y, lengths below and above)."""
    saved: dict[str, list[dict]] = {}
    bars: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    save, errorbar = style.save, Axes.errorbar

    def spy_save(fig, path):
        saved[Path(path).name] = [
            {
                "yscale": ax.get_yscale(),
                "ylim": ax.get_ylim(),
                "texts": [t.get_text() for t in ax.texts],
            }
            for ax in fig.axes
        ]
        return save(fig, path)

    def spy_errorbar(self, x, y, yerr=None, **kwargs):
        bars.append((np.asarray(x), np.asarray(y), np.asarray(yerr, dtype=np.float64)))
        return errorbar(self, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(style, "save", spy_save)
    monkeypatch.setattr(Axes, "errorbar", spy_errorbar)
    return saved, bars


def _quiet(out: Path, **kwargs) -> ReportBuild:
    built = build_report(out, log=io.StringIO(), **kwargs)
    assert built.chart_errors == ()  # every interactive chart was built as well
    return built


def _pngs(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "plots").glob("*.png"))


def _linked(out: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(plots/([^)]+)\)", (out / "report.md").read_text())


def _section(out: Path, problem: str) -> str:
    return (out / "report.md").read_text().split(f"### Problem: {problem}")[1].split("\n## ")[0]


def _geometric(start: float, ratio: float, steps: int = 12) -> list[float]:
    return [start * ratio**k for k in range(steps)]


# ---------------------------------------------------------------------------------------
# The known crash cases (each one exited 1 after the tables were written)


def test_gaps_that_are_exactly_zero(tmp_path: Path, spy):
    # quadratic, condition number 1, gd at 0.5 and 1.0: gap 1e-60 and exactly 0. The IQR
    # bars were cut at 5x the largest raw gap (0) below their floored point: negative yerr.
    problems = {"bowl": {"dim": 10, "f_star": 0.0}}
    lanes = [("bowl", "gd", 0.5, s, _geometric(10.0 + s, 2.0**-20, 10)) for s in (0, 1)]
    lanes += [("bowl", "gd", 1.0, s, [10.0 + s] + [0.0] * 9) for s in (0, 1)]
    out = write_suite(tmp_path, problems, lanes)
    built = _quiet(out)
    saved, bars = spy
    assert built.failed == 0 and built.drawn == 5
    assert "bowl_learning_rate.png" in _linked(out)
    (x, y, yerr) = bars[0]
    assert sorted(x) == [0.5, 1.0] and np.all(y == GAP_FLOOR)
    assert np.all(yerr == 0.0)  # every seed at the floor: no bar, and none negative
    sensitivity = saved["bowl_learning_rate.png"][0]
    bottom, top = sensitivity["ylim"]
    assert sensitivity["yscale"] == "log" and bottom <= GAP_FLOOR and top >= TARGET  # line shown


def test_a_zero_final_gap_over_a_rounded_f_star(tmp_path: Path, spy):
    # logistic + newton at 0.5 and 1: final gap 0, best gap -7e-18 (f* solved to rounding).
    f_star = 0.0598277
    problems = {"logistic-cancer": {"dim": 31, "f_star": f_star}}
    lanes = [
        ("logistic-cancer", "newton", lr, s, [0.69, 0.2, f_star - 6.9e-18, f_star])
        for lr in (0.5, 1.0)
        for s in (0, 1)
    ]
    out = write_suite(tmp_path, problems, lanes)
    built = _quiet(out)
    assert built.failed == 0 and "logistic-cancer_learning_rate.png" in _linked(out)
    assert np.all(spy[1][0][2] >= 0.0)
    assert "Warning" not in _section(out, "logistic-cancer")  # rounding, not a wrong f*


def test_a_problem_whose_every_run_diverged(tmp_path: Path, spy):
    problems = {"bowl": {"dim": 10, "f_star": 0.0}}
    lanes = [("bowl", "gd", 1e3, s, [11.0 + s, 1e40, 1e200, np.inf, np.inf]) for s in (0, 1)]
    out = write_suite(tmp_path, problems, lanes)
    built = _quiet(out)
    saved, bars = spy
    assert built.failed == 0
    assert _pngs(out) == [
        "bowl_convergence.png",
        "bowl_learning_rate.png",
        "profile_data.png",
        "profile_ecdf.png",
        "profile_performance.png",
    ]
    # Cut at 100x the start: the bottom follows the values left (11, 12), not the margin
    # autoscaling gave to 1e200 (decades of empty axis).
    bottom, top = saved["bowl_convergence.png"][0]["ylim"]
    assert top == 1e4 and 1.0 <= bottom <= 11.0
    _strip, main = saved["bowl_learning_rate.png"]
    assert bars[0][0].size == 0  # nothing finite to draw in the main axes ...
    assert any("every one diverged" in text for text in main["texts"])  # ... and it says so
    row = next(ln for ln in _section(out, "bowl").splitlines() if ln.startswith("| 1 | gd"))
    assert row.split(" | ")[4] == "diverged" and row.split(" | ")[9] == "2/2 (2/2)"


def test_negative_losses_without_f_star(tmp_path: Path, spy):
    # x0^2 + x1^2 - 5 from (1, 1), no f*: ranked by final loss, all of it negative.
    problems = {"negative": {"dim": 2, "description": "f(x) = x[0]**2 + x[1]**2 - 5"}}
    lanes = [
        ("negative", "gd", lr, s, [2.0 * r**k - 5.0 for k in range(10)])
        for lr, r in ((0.01, 0.98), (0.1, 0.5))
        for s in (0, 1)
    ]
    out = write_suite(tmp_path, problems, lanes, paths={"negative": lambda x, y: x**2 + y**2 - 5.0})
    built = _quiet(out)
    saved, bars = spy
    assert built.failed == 0
    assert _linked(out) == [
        "negative_convergence.png",
        "negative_trajectories.png",
        "negative_paths_by_optimizer.png",
        "negative_learning_rate.png",
    ]  # no profile: nothing has a target
    sensitivity = saved["negative_learning_rate.png"][0]
    bottom, top = sensitivity["ylim"]
    assert sensitivity["yscale"] == "linear" and bottom <= -5.0 and top >= 2 * 0.98**9 - 5
    assert np.all(bars[0][2] >= 0.0) and np.all(bars[0][1] < 0)  # drawn at the true losses
    assert "f\\* unknown" in _section(out, "negative") and "final loss" in _section(out, "negative")


def test_f_star_above_the_true_minimum(tmp_path: Path, spy):
    # x0^2 + x1^2 with f* = 1 declared: every final gap is negative (-0.73, -0.996).
    problems = {"wrongstar": {"dim": 2, "f_star": 1.0, "x_star": [[0.0, 0.0]]}}
    lanes = [
        ("wrongstar", "gd", lr, s, [2.0 * r**k for k in range(10)])
        for lr, r in ((0.01, 0.8), (0.1, 0.5))
        for s in (0, 1)
    ]
    out = write_suite(tmp_path, problems, lanes, paths={"wrongstar": lambda x, y: x**2 + y**2})
    built = _quiet(out)
    saved, bars = spy
    assert built.failed == 0 and "wrongstar_learning_rate.png" in _linked(out)
    assert np.all(bars[0][1] == GAP_FLOOR) and np.all(bars[0][2] >= 0.0)
    assert saved["wrongstar_convergence.png"][0]["ylim"][0] == pytest.approx(GAP_FLOOR / 2)
    text = _section(out, "wrongstar")
    assert "Warning: runs reached a loss 0.996 below the declared f\\* = 1" in text


def test_error_bars_hold_their_point_whatever_the_quantiles():
    nan, inf = np.nan, np.inf
    point, below, above = error_bars(
        median=[0.0, -1.0, 1e-3, 2.0, inf, 1e-2],
        q25=[0.0, -2.0, 2e-3, nan, inf, 1e-3],  # crossed at 1e-3 by rounding
        q75=[0.0, 0.5, 5e-4, inf, inf, nan],
        floor=GAP_FLOOR,
        top=10.0,
    )
    assert point.tolist() == [GAP_FLOOR, GAP_FLOOR, 1e-3, 2.0, inf, 1e-2]
    assert below.tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, pytest.approx(9e-3)]
    assert above.tolist() == [0.0, pytest.approx(0.5 - GAP_FLOOR), 0.0, 8.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------
# A figure that raises anyway; progress; reuse


def test_a_figure_that_raises_is_named_in_its_place(tmp_path: Path, monkeypatch, capsys):
    out = build(tmp_path / "results", steps=20, seeds=(0, 1), problems=("ill-10d",))

    def broken(*args, **kwargs):
        plt.subplots()  # half drawn when it fails: must be closed
        raise RuntimeError("boom\nsecond line")

    # Broken in the registry of figures, the one place drawing looks them up.
    monkeypatch.setattr(
        registry,
        "PROBLEM_FIGURES",
        tuple(
            dataclasses.replace(f, draw=broken) if f.suffix == "learning_rate" else f
            for f in registry.PROBLEM_FIGURES
        ),
    )
    monkeypatch.setattr(
        registry,
        "PROFILE_FIGURES",
        tuple(
            dataclasses.replace(f, draw=broken) if f.file == "profile_data.png" else f
            for f in registry.PROFILE_FIGURES
        ),
    )
    built = build_report(out)  # returns normally
    err = capsys.readouterr().err
    assert plt.get_fignums() == []
    assert (built.drawn, built.reused, built.failed) == (3, 0, 2)
    assert (
        "figure ill-10d_learning_rate.png (ill-10d): could not be drawn: RuntimeError: boom "
        "second line\n"
    ) in err
    assert "figure profile_data.png (across problems): could not be drawn: RuntimeError" in err
    assert _pngs(out) == ["ill-10d_convergence.png", "profile_ecdf.png", "profile_performance.png"]
    assert _linked(out) == [
        "profile_performance.png",
        "profile_ecdf.png",
        "ill-10d_convergence.png",
    ]
    missing = (
        "Figure missing: `ill-10d_learning_rate.png` (ill-10d: learning-rate sensitivity) "
        "could not be drawn: RuntimeError: boom second line"
    )
    assert missing in _section(out, "ill-10d")
    assert (
        "<code>profile_data.png</code> (Data profile) could not be drawn"
        in (out / "report.html").read_text()
    )
    assert (
        missing.replace("`ill-10d_learning_rate.png`", "<code>ill-10d_learning_rate.png</code>")
        in (out / "report.html").read_text()
    )
    assert "| ill-10d | 10 |" in (out / "report.md").read_text()  # the tables are all there
    record = read_manifest(out)["problems"]["ill-10d"]["figures"][1]
    assert record["file"] == "ill-10d_learning_rate.png" and record["error"].startswith("Runtime")
    # A figure that failed is never reused: its problem and the profiles are drawn again.
    monkeypatch.undo()
    again = _quiet(out, reuse_from=out)
    assert (again.drawn, again.reused, again.failed) == (5, 0, 0)


def test_progress_one_line_per_figure_then_the_report(tmp_path: Path, capsys):
    out = build(tmp_path / "results", steps=20, seeds=(0, 1), problems=("ill-10d", "offset-20d"))
    log = io.StringIO()
    built = build_report(out, log=log)
    lines = log.getvalue().splitlines()
    progress = [re.fullmatch(r"drawing \[(\d+)/(\d+)\] (\S+\.png) \d+\.\d s", ln) for ln in lines]
    assert all(progress[:-1]) and len(lines) == built.drawn + 1
    assert [int(m[1]) for m in progress[:-1]] == list(range(1, built.drawn + 1))
    assert {int(m[2]) for m in progress[:-1]} == {7}
    assert sorted(m[3] for m in progress[:-1]) == _pngs(out)
    assert lines[-1] == "figures: drew 7 figures, reused 0"
    assert capsys.readouterr().err == ""  # all of it went to the log given
    write_report(out, reuse_from=out)  # the default log: stderr
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "reused  [1/7] ill-10d_convergence.png (inputs unchanged)"
    assert lines[-1] == "figures: drew 0 figures, reused 7"


def _png_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "plots").glob("*.png"))}


def test_a_pool_of_drawing_processes_draws_the_same_files(tmp_path: Path, monkeypatch):
    # Two drawing processes (from a fork server) against this process alone: the same
    # PNG files byte for byte, the same report, the progress lines in report order.
    problems = ("quad-2d", "ill-10d", "offset-20d")
    here = build(tmp_path / "here", steps=20, seeds=(0, 1), problems=problems)
    pooled = _copy_tables(here, tmp_path / "pooled")
    _quiet(here)
    monkeypatch.setenv(plots.DRAW_WORKERS_ENV, "2")
    log = io.StringIO()
    built = build_report(pooled, log=log)
    assert built.drawn == len(_pngs(here)) >= drawing.MIN_PARALLEL_FIGURES
    assert _png_bytes(pooled) == _png_bytes(here)
    strip = re.compile(r"^(Time of the run|Environment).*$", re.M)
    report = (pooled / "report.md").read_text()
    assert strip.sub("", report) == strip.sub("", (here / "report.md").read_text())
    lines = log.getvalue().splitlines()[:-1]
    assert [re.match(r"drawing \[(\d+)/", ln)[1] for ln in lines] == [
        str(k) for k in range(1, built.drawn + 1)
    ]


def test_a_figure_that_fails_or_kills_its_drawing_process_costs_only_itself(
    tmp_path: Path, monkeypatch, capsys
):
    out = build(tmp_path / "results", steps=20, seeds=(0, 1), problems=("ill-10d", "offset-20d"))
    _quiet(out)
    expected = _png_bytes(out)
    monkeypatch.setenv(plots.DRAW_WORKERS_ENV, "2")
    # One figure raises inside a drawing process; another kills its process (the pool
    # breaks): the rest, that one included, are drawn in the main process.
    monkeypatch.setenv(
        "OPTBENCH_FAULT", "raise:figure:ill-10d_learning_rate.png;kill:figure:profile_data.png"
    )
    built = _quiet(out)
    assert (built.drawn, built.failed) == (len(expected) - 1, 1)
    err = capsys.readouterr().err
    assert (
        "figure ill-10d_learning_rate.png (ill-10d): could not be drawn: RuntimeError: "
        "injected failure in figure ill-10d_learning_rate.png"
    ) in err
    drawn = _png_bytes(out)
    assert drawn == {k: v for k, v in expected.items() if k != "ill-10d_learning_rate.png"}
    assert "Figure missing: `ill-10d_learning_rate.png`" in _section(out, "ill-10d")


def test_draw_workers_reads_the_environment(monkeypatch):
    monkeypatch.delenv(plots.DRAW_WORKERS_ENV, raising=False)
    assert plots.draw_workers(drawing.MIN_PARALLEL_FIGURES - 1) == 1
    assert plots.draw_workers(80) == min(os.cpu_count() or 1, drawing.MAX_DRAW_WORKERS)
    monkeypatch.setenv(plots.DRAW_WORKERS_ENV, "3")
    assert (plots.draw_workers(2), plots.draw_workers(80)) == (2, 3)
    monkeypatch.setenv(plots.DRAW_WORKERS_ENV, "many")
    with pytest.raises(ValueError, match="OPTBENCH_DRAW_WORKERS='many'"):
        plots.draw_workers(80)


def _copy_tables(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for table in source.glob("*.parquet"):
        shutil.copy2(table, target / table.name)
    return target


def test_unchanged_figures_are_reused_and_only_changed_ones_drawn(tmp_path: Path):
    one = build(tmp_path / "one", steps=20, seeds=(0, 1), problems=("quad-2d",))
    first = _quiet(one)
    assert (first.drawn, first.reused) == (7, 0)
    # A problem added to the suite: only its figures and the profiles are drawn.
    two = build(tmp_path / "two", steps=20, seeds=(0, 1), problems=("quad-2d", "ill-10d"))
    log = io.StringIO()
    second = build_report(two, log=log, reuse_from=one)
    assert (second.drawn, second.reused, second.failed) == (5, 4, 0)
    assert second.summary() == "drew 5 figures, reused 4"
    drawn = sorted(re.findall(r"drawing \[\d+/9\] (\S+)", log.getvalue()))
    assert drawn == [
        "ill-10d_convergence.png",
        "ill-10d_learning_rate.png",
        "profile_data.png",
        "profile_ecdf.png",
        "profile_performance.png",
    ]
    for name in _pngs(one):
        if name.startswith("quad-2d"):
            assert (two / "plots" / name).read_bytes() == (one / "plots" / name).read_bytes()
    # Nothing changed: nothing drawn, the same bytes, the same report.
    three = _copy_tables(two, tmp_path / "three")
    third = _quiet(three, reuse_from=two)
    assert (third.drawn, third.reused) == (0, 9)
    assert _pngs(three) == _pngs(two)
    for name in _pngs(two):
        assert (three / "plots" / name).read_bytes() == (two / "plots" / name).read_bytes()
    assert (three / "report.md").read_text() == (two / "report.md").read_text()
    assert read_manifest(three) == read_manifest(two)
    # One problem's rows changed: its figures and the profiles are drawn, the rest reused.
    four = _copy_tables(two, tmp_path / "four")
    for name, column in (("curves", "loss"), ("runs", "final_loss")):
        frame, metadata = read_table(four / f"{name}.parquet")
        rows = (frame["problem"] == "ill-10d") & (frame["optimizer"] == "adam")
        frame.loc[rows, column] = frame.loc[rows, column] * 0.5
        if name == "runs":
            frame.loc[rows, "final_gap"] = frame.loc[rows, "final_gap"] * 0.5
        write_table(frame, four / f"{name}.parquet", metadata)
    log = io.StringIO()
    fourth = build_report(four, log=log, reuse_from=three)
    assert (fourth.drawn, fourth.reused) == (5, 4)
    assert sorted(re.findall(r"drawing \[\d+/9\] (\S+)", log.getvalue())) == drawn
    assert (
        len(re.findall(r"reused  \[\d+/9\] quad-2d_\S+ \(inputs unchanged\)", log.getvalue())) == 4
    )


def test_reuse_in_place_and_what_the_fingerprint_reads(tmp_path: Path, monkeypatch):
    out = build(tmp_path / "results", steps=20, seeds=(0, 1), problems=("ill-10d",))
    _quiet(out)
    before = {name: (out / "plots" / name).read_bytes() for name in _pngs(out)}
    again = _quiet(out, reuse_from=out)
    assert (again.drawn, again.reused) == (0, 5)
    assert {name: (out / "plots" / name).read_bytes() for name in _pngs(out)} == before

    results = load_results(out)
    table = analyse(results).table  # what draw_all fingerprints
    styles = plots.suite_styles(results)

    def fingerprint(res=results, tab=table) -> str:
        return problem_fingerprint("ill-10d", res, tab, styles)

    reference = fingerprint()
    assert reference == read_manifest(out)["problems"]["ill-10d"]["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{64}", reference)
    shuffled = results.curves.sample(frac=1.0, random_state=0)
    timings = results.runs.assign(compile_s=9.0, run_s=9.0)
    assert fingerprint(res=_replace(results, curves=shuffled[shuffled.columns[::-1]])) == reference
    assert fingerprint(res=_replace(results, runs=timings)) == reference
    changed = results.curves.copy()
    changed.loc[changed.index[3], "loss"] += 1e-12
    assert fingerprint(res=_replace(results, curves=changed)) != reference
    monkeypatch.setattr(drawing, "PLOTS_VERSION", drawing.PLOTS_VERSION + 1)
    assert fingerprint() != reference


def _replace(results, **tables):
    import dataclasses

    return dataclasses.replace(results, **tables)


# ---------------------------------------------------------------------------------------
# Small and failed suites


def test_one_seed_one_setting_converged_at_the_start(tmp_path: Path):
    # An expression started at its minimum: gap exactly 0 from step 0, one seed, one point.
    problems = {"at-min": {"dim": 2, "f_star": 0.0, "x_star": [[0.0, 0.0]]}}
    out = write_suite(
        tmp_path,
        problems,
        [("at-min", "gd", 0.1, 0, [0.0] * 6)],
        paths={"at-min": lambda x, y: x**2 + y**2},
    )
    built = _quiet(out)
    assert built.failed == 0
    assert _linked(out) == [
        "profile_performance.png",
        "profile_data.png",
        "profile_ecdf.png",
        "at-min_convergence.png",
        "at-min_trajectories.png",
        "at-min_paths_by_optimizer.png",
        "at-min_learning_rate.png",
    ]
    text = (out / "report.md").read_text()
    assert "1 problems x 1 optimizer entries; 5 steps per run; 1 seed (0);" in text
    row = next(ln for ln in _section(out, "at-min").splitlines() if ln.startswith("| 1 | gd"))
    cells = row.split(" | ")
    # An exact zero gap is below float64's rounding floor: it prints as such.
    assert cells[4] == "≤ 1e-12" and cells[6] == "0" and cells[8] == "1/1"
    assert "over 1 seed at the tuned setting" in text


def test_cells_that_failed_with_an_error_or_a_timeout(tmp_path: Path):
    problems = {"bowl": {"dim": 10, "f_star": 0.0}}
    lanes = [
        ("bowl", "gd", lr, s, _geometric(10.0, r))
        for lr, r in ((0.1, 0.5), (0.5, 0.1))
        for s in (0, 1)
    ]
    failed = [
        ("bowl", "adam", "error", "FloatingPointError: NaN in the update"),
        ("bowl", "lbfgs", "timeout", "ran past the 600 s cell limit"),
    ]
    out = write_suite(tmp_path, problems, lanes, failed=failed)
    built = _quiet(out)
    assert built.failed == 0 and built.drawn == 5
    section = _section(out, "bowl")
    assert "- Failed (error): adam: FloatingPointError: NaN in the update" in section
    assert "- Failed (timeout): lbfgs: ran past the 600 s cell limit" in section
    ranked = [ln.split(" | ")[1] for ln in section.splitlines() if re.match(r"\| \d+ \| ", ln)]
    assert ranked == ["gd"]  # no result, no rank
    text = (out / "report.md").read_text()
    assert "| bowl | adam | error | FloatingPointError: NaN in the update |" in text
    assert "| bowl | lbfgs | timeout | ran past the 600 s cell limit |" in text
    assert "- [Cells not run](#cells-not-run)" in text
    overview = next(ln for ln in text.splitlines() if ln.startswith("| adam |")).split(" | ")
    assert overview[1:4] == ["0", "0/1", "0/1"]  # ran on nothing, solved nothing


# ---------------------------------------------------------------------------------------
# The command line on the suites that crashed (real runs, a few seconds)

SUITE = """
name: crashes
steps: 20
seeds: 2
target: 1.0e-6
dtype: float64
record_every: 5
problems:
  - kind: quadratic
    name: bowl
    dim: 10
    condition_number: 1.0
  - kind: expression
    name: negative
    formula: "x[0]**2 + x[1]**2 - 5"
    init: [1.0, 1.0]
  - kind: expression
    name: wrongstar
    formula: "x[0]**2 + x[1]**2"
    init: [1.0, 1.0]
    f_star: 1.0   # too high, but no x_star: validation cannot tell, the runs do
optimizers:
  - kind: gd
    learning_rate: [0.5, 1.0]
"""


def test_the_command_line_on_the_suites_that_crashed(tmp_path: Path):
    config = tmp_path / "crashes.yaml"
    config.write_text(SUITE)
    env = {**os.environ, "OPTBENCH_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    for command in (["run", str(config), "--out", str(out)], ["plot", str(out)]):
        done = subprocess.run(
            [sys.executable, "-m", "bench", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "could not be drawn" not in done.stderr
    for problem in ("bowl", "negative", "wrongstar"):
        assert f"{problem}_learning_rate.png" in _linked(out)
    manifest = json.loads((out / "plots" / "figures.json").read_text())
    assert set(manifest["problems"]) == {"bowl", "negative", "wrongstar"}
    assert "Warning: runs reached a loss" in _section(out, "wrongstar")
