"""The sweep through the cell store: reuse, filters, failures, and what a rerun recomputes."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import bench.run.executors.serial as serial_executor
from bench.config import build_suite
from bench.results.parquet import read_metadata, read_table
from bench.results.publish import LockedError, output_lock
from bench.run.sweep import SweepOptions, run_suite

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = ["compile_s", "trace_s", "lower_s", "xla_s", "run_s", "cache_hit"]

BASE = {
    "name": "reuse",
    "steps": 20,
    "seeds": 2,
    "target": 1e-6,
    "record_every": 5,
    "problems": [
        {"kind": "rosenbrock", "dim": 2},
        {"kind": "quadratic", "name": "bowl", "dim": 3, "condition_number": 10.0},
    ],
    "optimizers": [
        {"kind": "gd", "learning_rate": [1e-3, 1e-2]},
        {"kind": "newton"},
    ],
}


def _run(raw, out: Path, **options):
    log = io.StringIO()
    suite = build_suite(copy.deepcopy(raw))
    options.setdefault("draw", False)
    summary = run_suite(suite, out, log=log, options=SweepOptions(**options))
    return summary, log.getvalue()


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {
        name: read_table(out / f"{name}.parquet")[0]
        for name in ("curves", "runs", "paths", "curvature", "surfaces")
        if (out / f"{name}.parquet").is_file()
    }


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame.columns])
    keys = [c for c in ("problem", "optimizer", "setting", "seed", "step", "role") if c in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def test_a_rerun_computes_nothing_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    first, _ = _run(BASE, out)
    assert (first.computed, first.reused, first.wrote) == (4, 0, True)
    stamps = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    second, log = _run(BASE, out)
    assert (second.computed, second.reused, second.wrote) == (0, 4, False)
    assert "nothing changed" in log
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()} == stamps


def test_adding_a_problem_computes_exactly_its_cells(tmp_path):
    out = tmp_path / "out"
    _run(BASE, out)
    raw = copy.deepcopy(BASE)
    raw["problems"].append({"kind": "booth"})
    summary, log = _run(raw, out)
    assert (summary.computed, summary.reused) == (2, 4)
    assert log.count("reused from the store") == 4
    runs = _tables(out)["runs"]
    assert set(runs["problem"]) == {"rosenbrock", "bowl", "booth"}


def test_changing_one_grid_recomputes_only_that_entrys_cells(tmp_path):
    out = tmp_path / "out"
    _run(BASE, out)
    raw = copy.deepcopy(BASE)
    raw["optimizers"][0]["learning_rate"] = [1e-3, 2e-2]
    summary, _ = _run(raw, out)
    assert (summary.computed, summary.reused) == (2, 2)
    runs = _tables(out)["runs"]
    assert sorted(runs.loc[runs["optimizer"] == "gd", "learning_rate"].unique()) == [1e-3, 2e-2]


def test_force_recomputes_every_cell_to_the_same_numbers(tmp_path):
    out = tmp_path / "out"
    _run(BASE, out)
    before = _tables(out)
    fingerprint = read_metadata(out / "runs.parquet")["fingerprint"]
    summary, _ = _run(BASE, out, force=True)
    assert (summary.computed, summary.reused, summary.wrote) == (4, 0, True)
    # Published: the recomputed parts (their timings) are the folder's content now.
    assert read_metadata(out / "runs.parquet")["fingerprint"] != fingerprint
    after = _tables(out)
    for name in before:
        pd.testing.assert_frame_equal(_sorted(before[name]), _sorted(after[name]))


def test_shuffled_yaml_gives_the_same_keys_and_numbers(tmp_path):
    shuffled = copy.deepcopy(BASE)
    shuffled["problems"].reverse()
    shuffled["optimizers"].reverse()
    shuffled["optimizers"][1] = dict(reversed(list(shuffled["optimizers"][1].items())))
    shuffled = dict(reversed(list(shuffled.items())))
    _run(BASE, tmp_path / "a" / "out")
    _run(shuffled, tmp_path / "b" / "out")  # another store: computed afresh
    a, b = _tables(tmp_path / "a" / "out"), _tables(tmp_path / "b" / "out")
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(_sorted(a[name]), _sorted(b[name]))
    keys = [read_metadata(tmp_path / d / "out" / "runs.parquet")["fingerprint"] for d in "ab"]
    assert keys[0] != keys[1]  # the folders differ in their order, not in their cells


def test_a_renamed_entry_reuses_its_cells_under_the_new_name(tmp_path):
    out = tmp_path / "out"
    _run(BASE, out)
    raw = copy.deepcopy(BASE)
    raw["optimizers"][1]["name"] = "pure-newton"
    summary, _ = _run(raw, out)
    assert (summary.computed, summary.reused, summary.wrote) == (0, 4, True)
    runs = _tables(out)["runs"]
    assert set(runs["optimizer"]) == {"gd", "pure-newton"}
    assert set(_tables(out)["curves"]["optimizer"]) == {"gd", "pure-newton"}


def test_filters_compute_only_the_matching_cells(tmp_path):
    out = tmp_path / "out"
    summary, _ = _run(BASE, out, problems=("rosen*",), optimizers=("newton", "nope"))
    assert (summary.cells, summary.computed) == (1, 1)
    runs = _tables(out)["runs"]
    assert set(zip(runs["problem"], runs["optimizer"], strict=True)) == {("rosenbrock", "newton")}
    # The rest of the suite then computes only what the filter did not.
    summary, _ = _run(BASE, out)
    assert (summary.computed, summary.reused) == (3, 1)


def test_a_cell_that_raises_is_an_error_row_and_is_rerun_only_on_request(tmp_path, monkeypatch):
    real = serial_executor.compute_cell

    def flaky(cell, suite, *args):
        if cell.label == "bowl x gd":
            raise FloatingPointError("the cell blew up")
        return real(cell, suite, *args)

    monkeypatch.setattr(serial_executor, "compute_cell", flaky)
    out = tmp_path / "out"
    summary, log = _run(BASE, out)
    assert (summary.computed, summary.failed) == (3, 1)
    assert "bowl x gd: error: FloatingPointError: the cell blew up" in log
    runs = _tables(out)["runs"]
    failed = runs[runs["status"] == "error"]
    assert set(zip(failed["problem"], failed["optimizer"], strict=True)) == {("bowl", "gd")}
    assert len(failed) == 4  # 2 settings x 2 seeds, each with the message
    assert failed["reason"].str.contains("the cell blew up").all()
    assert (runs.loc[runs["status"] != "error", "status"] != "skipped").all()

    monkeypatch.setattr(serial_executor, "compute_cell", real)
    summary, log = _run(BASE, out)  # remembered, not rerun
    assert (summary.computed, summary.failed) == (0, 1)
    assert "--retry-failed reruns it" in log
    summary, _ = _run(BASE, out, retry_failed=True)
    assert (summary.computed, summary.failed, summary.reused) == (1, 0, 3)
    assert not (_tables(out)["runs"]["status"] == "error").any()


@pytest.mark.parametrize("ahead", ["0", "1", "3"])
def test_compiling_ahead_in_a_thread_changes_no_number_and_no_compile_count(
    tmp_path, monkeypatch, ahead
):
    monkeypatch.setenv("OPTBENCH_COMPILE_AHEAD", "0")
    _run(BASE, tmp_path / "serial", store=tmp_path / "serial-store")
    monkeypatch.setenv("OPTBENCH_COMPILE_AHEAD", ahead)
    summary, _ = _run(BASE, tmp_path / "ahead", store=tmp_path / "ahead-store")
    assert summary.computed == 4
    serial, overlapped = _tables(tmp_path / "serial"), _tables(tmp_path / "ahead")
    assert set(serial) == set(overlapped)
    for name in serial:
        pd.testing.assert_frame_equal(_sorted(serial[name]), _sorted(overlapped[name]))
    timings = [read_metadata(tmp_path / o / "runs.parquet")["timing"] for o in ("serial", "ahead")]
    # Compiles are counted in the thread that asks for them: the same counts either way.
    assert timings[0]["xla_compiles"] == timings[1]["xla_compiles"] > 0


def test_a_cell_whose_compile_raises_ahead_is_an_error_of_that_cell_alone(tmp_path, monkeypatch):
    real = serial_executor.compile_for
    threads = []

    def failing(cell, suite, *args):
        threads.append(threading.current_thread().name)
        if cell.label == "rosenbrock x newton":
            raise FloatingPointError("the compile blew up")
        return real(cell, suite, *args)

    monkeypatch.setattr(serial_executor, "compile_for", failing)
    monkeypatch.setenv("OPTBENCH_COMPILE_AHEAD", "2")
    summary, log = _run(BASE, tmp_path / "out")
    assert (summary.computed, summary.failed) == (3, 1)
    assert "rosenbrock x newton: error: FloatingPointError: the compile blew up" in log
    assert len(threads) == 4 and all(t.startswith("compile-ahead") for t in threads)


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    with output_lock(out), pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        _run(BASE, out)
    assert not out.exists()


def test_two_fresh_processes_write_bitwise_identical_tables(tmp_path):
    config = tmp_path / "suite.yaml"
    import yaml

    config.write_text(yaml.safe_dump(BASE))
    env = {**os.environ, "OPTBENCH_CACHE_DIR": ""}
    frames = []
    for run in ("a", "b"):
        out = tmp_path / run / "out"
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", str(config), "--out", str(out), "--no-report"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        frames.append(_tables(out))
    for name in frames[0]:
        a, b = frames[0][name], frames[1][name]
        a = a.drop(columns=[c for c in TIMING_COLUMNS if c in a])
        b = b.drop(columns=[c for c in TIMING_COLUMNS if c in b])
        pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("damage", ["delete-report", "delete-table", "truncate-table", "edit"])
def test_a_damaged_folder_is_rewritten_by_an_unchanged_rerun(tmp_path, damage):
    out = tmp_path / "out"
    _run(BASE, out, draw=True)
    before = _tables(out)
    if damage == "delete-report":
        (out / "report.html").unlink()
    elif damage == "delete-table":
        (out / "paths.parquet").unlink()
    elif damage == "truncate-table":
        data = (out / "curves.parquet").read_bytes()
        (out / "curves.parquet").write_bytes(data[:100])
    else:
        (out / "report.md").write_text("edited by hand")
    summary, _ = _run(BASE, out, draw=True)
    assert (summary.computed, summary.wrote) == (0, True)
    assert (out / "report.html").is_file() and "edited" not in (out / "report.md").read_text()
    after = _tables(out)
    assert after.keys() == before.keys()
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name])


def test_tables_only_then_a_full_run_draws_the_report(tmp_path):
    out = tmp_path / "out"
    _run(BASE, out)  # draw=False
    assert not (out / "report.html").exists()
    summary, _ = _run(BASE, out, draw=True)
    assert (summary.computed, summary.wrote) == (0, True)
    assert (out / "report.html").is_file()
