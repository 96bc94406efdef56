"""Executors (``--executor serial|process|dask``, ``--devices``): the same tables whoever
computes the cells, a killed worker loses nothing, and flags that do not fit are refused."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.config import build_suite
from bench.report.sections import _timing_blocks
from bench.results.parquet import read_table
from bench.run.costs import largest_first, work_estimate
from bench.run.keys import suite_cells
from tests.helpers import (
    REPO,
    bench_command,
    bench_env,
    processes_with,
    stored_keys,
    timing,
    write_config,
)

SUITE = """
name: executors
steps: 30
seeds: 3                # newton's 3 lanes do not split evenly over 2 devices
target: 1.0e-6
record_every: 5
problems:
  - kind: rosenbrock
  - kind: quadratic
    name: bowl
    dim: 5
    condition_number: 10.0
  - kind: logistic
    name: logistic-b32
    dataset: breast_cancer
    batch_size: 32
optimizers:
  - kind: gd
    learning_rate: [1.0e-3, 1.0e-2]
  - kind: adam
    learning_rate: [1.0e-2, 1.0e-1]
  - kind: newton
"""
CELLS = 9
TIMING_COLUMNS = ["compile_s", "trace_s", "lower_s", "xla_s", "run_s", "cache_hit"]
TABLES = ("curves", "runs", "paths", "curvature")


def _bench(*args, env: dict[str, str] | None = None, timeout: float = 600):
    merged = bench_env()
    merged.update(env or {})
    return subprocess.run(
        bench_command(*args),
        cwd=REPO,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _run(tmp_path: Path, name: str, *flags: str, env: dict[str, str] | None = None):
    config = write_config(tmp_path / "suite.yaml", SUITE)
    out = tmp_path / name
    done = _bench(
        "run", config, "--out", out, "--store", tmp_path / f"store-{name}", "--no-report",
        *flags, env=env,
    )  # fmt: skip
    return done, out


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in TABLES:
        frame = read_table(out / f"{name}.parquet")[0]
        frame = frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame.columns])
        order = ("problem", "optimizer", "setting", "seed", "step", "role")
        keys = [c for c in order if c in frame]
        tables[name] = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return tables


def _cell_runs(out: Path, problem: str, optimizer: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the runs of one cell, the runs of every other cell) of a suite folder."""
    runs = read_table(out / "runs.parquet")[0]
    mine = (runs["problem"] == problem) & (runs["optimizer"] == optimizer)
    return runs[mine], runs[~mine]


def _assert_same_tables(a: Path, b: Path) -> None:
    left, right = _tables(a), _tables(b)
    for name in TABLES:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    """The suite computed in one process: the reference every executor must equal."""
    tmp_path = tmp_path_factory.mktemp("serial")
    done, out = _run(tmp_path, "serial")
    assert done.returncode == 0, done.stderr
    assert timing(out)["cells_run"] == CELLS
    return out


def test_the_suite_has_the_cells_the_tests_count(serial: Path):
    runs = read_table(serial / "runs.parquet")[0]
    assert runs.groupby(["problem", "optimizer"]).ngroups == CELLS


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_every_executor_computes_the_tables_of_a_serial_run(
    tmp_path: Path, serial: Path, executor: str
):
    done, out = _run(tmp_path, executor, "--executor", executor, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert f"computing {CELLS} cells with {executor}: " in done.stderr
    assert timing(out)["executor"] == executor
    _assert_same_tables(serial, out)
    # The report's timing header says who computed the cells, and why the sums exceed it.
    header = _timing_blocks({"timing": timing(out)})[0].text
    assert f"s of wall time, with {executor}: " in header
    assert "summed over its workers" in header
    # Each cell was computed by a worker process, which wrote its part and its environment.
    store = tmp_path / f"store-{executor}"
    infos = [_info(store, key) for key in stored_keys(store)]
    workers = {info["environment"]["worker"] for info in infos}
    assert len(infos) == CELLS and "main process" not in workers
    assert len(workers) == 2  # both workers computed cells
    # ... with the sweep's own thread counts (they are in the key: another count, another key).
    from bench.results.threads import blas_threads

    threads = {info["environment"]["threads"]["OPENBLAS_NUM_THREADS"] for info in infos}
    assert threads == {str(blas_threads())}


def _info(store: Path, key: str) -> dict:
    import json

    from bench.results.store import CellStore

    return json.loads((CellStore(store).part_dir(key) / "part.json").read_text())


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_a_worker_killed_under_a_cell_is_replaced_and_the_cell_computed_again(
    tmp_path: Path, serial: Path, executor: str
):
    marks = tmp_path / "marks"
    marks.mkdir()
    done, out = _run(
        tmp_path,
        executor,
        "--executor",
        executor,
        "--workers",
        "2",
        env={"OPTBENCH_FAULT": "kill-once:cell:bowl x adam", "OPTBENCH_FAULT_DIR": str(marks)},
    )
    assert done.returncode == 0, done.stderr
    assert list(marks.iterdir()), "the fault never fired"
    if executor == "process":
        assert "bowl x adam: the worker process died (exit code -9); computing it again" in (
            done.stderr
        )
    t = timing(out)
    assert (t["cells_run"], t["cells_failed"]) == (CELLS, 0)
    _assert_same_tables(serial, out)


def test_a_cell_that_kills_every_worker_is_an_error_and_a_rerun_computes_only_it(
    tmp_path: Path, serial: Path
):
    flags = ("--executor", "process", "--workers", "2")
    done, out = _run(tmp_path, "pool", *flags, env={"OPTBENCH_FAULT": "kill:cell:bowl x adam"})
    assert done.returncode == 0, done.stderr
    assert "bowl x adam: error: the worker process died (exit code -9), 2 times" in done.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_failed"]) == (CELLS - 1, 1)
    lost, _ = _cell_runs(out, "bowl", "adam")
    assert set(lost["status"]) == {"error"}

    again, out = _run(tmp_path, "pool", *flags, "--retry-failed")
    assert again.returncode == 0, again.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_reused"], t["cells_failed"]) == (1, CELLS - 1, 0)
    _assert_same_tables(serial, out)


def test_lanes_split_over_two_devices_give_the_numbers_of_one(tmp_path: Path):
    """Two emulated CPU devices (XLA's host device count) in a child process: the lanes of
    each cell are spread over both, and every number equals the one-device run's to within
    rounding (XLA compiles the per-device batch apart, so the last bit may differ; the cell
    key keeps the two apart)."""
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    one, one_out = _run(tmp_path, "one", env=env)
    assert one.returncode == 0, one.stderr
    two, two_out = _run(tmp_path, "two", "--devices", "all", env=env)
    assert two.returncode == 0, two.stderr
    assert "lanes on 2 devices (cpu:0, cpu:1)" in two.stderr
    infos = [_info(tmp_path / "store-two", key) for key in stored_keys(tmp_path / "store-two")]
    assert len(infos) == CELLS and {info["devices"] for info in infos} == {2}
    assert stored_keys(tmp_path / "store-one").isdisjoint(stored_keys(tmp_path / "store-two"))
    left, right = _tables(one_out), _tables(two_out)
    for name in TABLES:
        a, b = left[name], right[name]
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        for column in a.columns:
            if pd.api.types.is_float_dtype(a[column]):
                # Relative to each value, with a floor relative to the column's scale: a
                # gap of 1e-157 against 6e-157 is zero both times.
                values = a[column].to_numpy()
                floor = 1e-12 * np.max(np.abs(values[np.isfinite(values)]), initial=0.0)
                np.testing.assert_allclose(
                    b[column], a[column], rtol=1e-12, atol=floor, err_msg=f"{name}.{column}"
                )
            else:
                assert a[column].equals(b[column]), (name, column)


def test_a_scheduler_that_does_not_answer_is_refused_within_seconds(tmp_path: Path):
    config = write_config(tmp_path / "suite.yaml", SUITE)
    with socket.socket() as silent:  # accepts connections into its backlog, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        done = _bench(
            "run", config, "--out", tmp_path / "out", "--store", tmp_path / "store",
            "--executor", "dask", "--scheduler", address,
            env={"OPTBENCH_DASK_TIMEOUT": "3"}, timeout=120,
        )  # fmt: skip
        elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert elapsed < 60
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert lines[1].startswith(f"  - --scheduler {address}: no Dask scheduler answered within 3 s")
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    "flags, phrase",
    [
        (("--workers", "2"), "--workers 2: the serial executor computes every cell"),
        (("--executor", "process", "--workers", "0"), "--workers must be a whole number >= 1"),
        (("--scheduler", "tcp://127.0.0.1:1"), "only --executor dask uses a scheduler"),
        (("--executor", "process", "--devices", "all"), "--devices all with --executor process"),
        (("--devices", "many"), "--devices 'many': give `all`"),
        (("--devices", "3"), "--devices 3: this process sees 1 local device"),
        (
            ("--executor", "dask", "--cell-timeout", "5"),
            "--cell-timeout with --executor dask: Dask cannot stop a running task",
        ),
        (
            ("--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"),
            "--workers with --scheduler",
        ),
    ],
)
def test_executor_flags_that_do_not_fit_are_refused(tmp_path: Path, flags, phrase):
    config = write_config(tmp_path / "suite.yaml", SUITE)
    cache = tmp_path / "cache"
    done = _bench(
        "run", config, "--out", tmp_path / "out", "--store", tmp_path / "store", *flags,
        env={"OPTBENCH_CACHE_DIR": str(cache)}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert phrase in done.stderr and "Traceback" not in done.stderr
    assert "nothing was compiled or written" in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()
    assert not cache.exists()


def test_the_biggest_cells_start_first():
    suite = build_suite(
        {
            "name": "order",
            "steps": 10,
            "seeds": 2,
            "problems": [
                {"kind": "rosenbrock"},
                {"kind": "quadratic", "name": "wide", "dim": 40, "condition_number": 10.0},
            ],
            "optimizers": [
                {"kind": "gd", "learning_rate": [1e-3, 1e-2, 1e-1]},
                {"kind": "newton"},
                {"kind": "adam", "learning_rate": 1e-2},
            ],
        }
    )
    cells = suite_cells(suite)
    labels = [c.label for c in largest_first(cells, suite)]
    # Newton's 40 x 40 Hessian outweighs three learning rates of 40-d vectors; the 2-d cells
    # come last (three rates of gd before Newton's 2 x 2 Hessian); equal costs keep the
    # suite's order.
    assert labels == [
        "wide x newton",
        "wide x gd",
        "wide x adam",
        "rosenbrock x gd",
        "rosenbrock x newton",
        "rosenbrock x adam",
    ]
    assert work_estimate(cells[4], suite) == 2 * 10 * 40 * 40  # lanes x steps x dim^2
    # With timings in the store, the estimate follows them: here every gd cell took long.
    timings = [
        {"problem_kind": "quadratic", "optimizer_kind": "gd", "lanes": 6, "steps": 10,
         "compile_s": 1.0, "run_s": 60.0},
        {"problem_kind": "rosenbrock", "optimizer_kind": "gd", "lanes": 6, "steps": 10,
         "compile_s": 1.0, "run_s": 60.0},
        {"optimizer_kind": "newton", "lanes": 2, "steps": 10, "compile_s": 1.0, "run_s": 0.1},
        {"optimizer_kind": "adam", "lanes": 2, "steps": 10, "compile_s": 1.0, "run_s": 0.1},
    ]  # fmt: skip
    first = [c.label for c in largest_first(cells, suite, timings)][:2]
    assert first == ["rosenbrock x gd", "wide x gd"]


def test_thread_counts_are_in_the_cell_key(monkeypatch):
    """OpenBLAS's and XLA's pool sizes change Newton's numbers on the MLP (README): a cell
    computed with other counts is another cell."""
    from bench.run import keys

    suite = build_suite({"name": "k", "problems": [{"kind": "rosenbrock"}],
                         "optimizers": [{"kind": "newton"}]})  # fmt: skip
    keys.platform_spec.cache_clear()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    one = suite_cells(suite)[0].key
    keys.platform_spec.cache_clear()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    two = suite_cells(suite)[0].key
    keys.platform_spec.cache_clear()
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    omp = suite_cells(suite)[0].key
    keys.platform_spec.cache_clear()
    assert one != two and omp == one  # OpenBLAS falls back on OMP_NUM_THREADS


def test_the_fault_dir_marks_a_kill_once_fault(tmp_path: Path, monkeypatch):
    """kill-once fires in the first process only: the mark says it fired."""
    from bench import faults

    monkeypatch.setenv(faults.FAULT_DIR_ENV, str(tmp_path))
    assert faults._first_time("kill-once a x b") is True
    assert faults._first_time("kill-once a x b") is False
    assert os.listdir(tmp_path) == ["kill_once_a_x_b"]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_a_sweep_killed_mid_way_leaves_no_worker_and_a_rerun_computes_only_the_rest(
    tmp_path: Path, serial: Path, executor: str
):
    marker = f"executor-kill-{os.getpid()}-{time.monotonic_ns()}"
    flags = ("--executor", executor, "--workers", "2")
    killed, out = _run(
        tmp_path, executor, *flags, env={"OPTBENCH_FAULT": "kill:cell-done:3", "MARK": marker}
    )
    assert killed.returncode == -9, killed.stderr
    deadline = time.monotonic() + 20
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []  # every worker died with the sweep
    assert not out.exists()
    stored = stored_keys(tmp_path / f"store-{executor}")
    assert 3 <= len(stored) < CELLS  # the parts written before the kill are kept

    rerun, out = _run(tmp_path, executor, *flags, env={"MARK": marker})
    assert rerun.returncode == 0, rerun.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_reused"]) == (CELLS - len(stored), len(stored))
    _assert_same_tables(serial, out)


def test_a_pool_stops_a_cell_at_its_budget_while_the_other_worker_goes_on(
    tmp_path: Path, serial: Path
):
    done, out = _run(
        tmp_path,
        "budget",
        "--executor", "process", "--workers", "2", "--cell-timeout", "20",
        env={"OPTBENCH_FAULT": "hang:cell:bowl x adam"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "bowl x adam: timeout: ran past --cell-timeout 20 s" in done.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_failed"]) == (CELLS - 1, 1)
    hung, others = _cell_runs(out, "bowl", "adam")
    assert set(hung["status"]) == {"timeout"}
    assert set(others["status"]) <= {"converged", "diverged", "max_steps"}


def test_dask_records_a_cell_that_kills_its_workers_as_an_error(tmp_path: Path):
    done, out = _run(
        tmp_path,
        "dask",
        "--executor", "dask", "--workers", "2",
        env={"OPTBENCH_FAULT": "kill:cell:bowl x adam"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "bowl x adam: error: KilledWorker" in done.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_failed"]) == (CELLS - 1, 1)


def test_a_dask_rerun_with_nothing_to_compute_starts_no_cluster(tmp_path: Path):
    first, _ = _run(tmp_path, "dask", "--executor", "dask", "--workers", "2")
    assert first.returncode == 0, first.stderr
    again, _ = _run(tmp_path, "dask", "--executor", "dask", "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stderr and "computing" not in again.stderr
