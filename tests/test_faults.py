"""A sweep killed at any stage, out of disk, locked out or with failing cells loses nothing.

Every test starts from a folder holding the complete results of a previous run of another
config (20 steps; the new config has 30), so "the previous results" are recognisable: after
a fault the folder must hold exactly those (same bytes, same fingerprint), and a plain rerun
must compute only the cells that had not reached the store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.config import load_suite
from bench.results.parquet import read_table
from bench.results.store import CellStore
from bench.run.keys import suite_cells
from tests.helpers import (
    bench_command,
    bench_env,
    fingerprints,
    processes_with,
    run_bench,
    snapshot,
    staging_debris,
    stored_keys,
    timing,
    write_config,
)

SUITE = """
name: faults
steps: {steps}
seeds: 2
problems:
  - kind: rosenbrock
  - kind: quadratic
    name: quad3
    dim: 3
optimizers:
  - kind: gd
    learning_rate: [1.0e-3, 1.0e-2]
  - kind: newton
"""
CELLS = 4  # 2 problems x 2 optimizer entries
ROWS = 2 * (2 * 2 + 1 * 2)  # per problem: gd 2 settings x 2 seeds, newton 1 x 2
TABLES = {f"{n}.parquet" for n in ("curves", "runs", "paths", "curvature", "surfaces")}
ORDINARY = {"converged", "diverged", "max_steps"}
ENOSPC_MESSAGE = "error: could not write the results: No space left on device"


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A folder (work/out, store work/.store) with the complete results of the 20-step run."""
    base = tmp_path_factory.mktemp("previous")
    old = write_config(base / "old.yaml", SUITE.format(steps=20))
    new = write_config(base / "new.yaml", SUITE.format(steps=30))
    out = base / "work" / "out"
    done = run_bench("run", old, "--out", out)
    assert done.returncode == 0, done.stderr
    prints = set(fingerprints(out).values())
    assert set(fingerprints(out)) == TABLES and len(prints) == 1
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    new_keys = {cell.key for cell in suite_cells(load_suite(new))}
    assert len(new_keys) == CELLS
    return SimpleNamespace(
        work=base / "work",
        new=new,
        fingerprint=prints.pop(),
        files=set(snapshot(out)),
        new_keys=new_keys,
    )


def _copy(previous, tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    shutil.copytree(previous.work, work, symlinks=True)
    return work / "out", work / ".store"


def _assert_previous_results(out: Path, before: dict[str, str], previous) -> None:
    assert snapshot(out) == before  # every file, byte for byte: never a mix, never partial
    assert fingerprints(out) == dict.fromkeys(sorted(TABLES), previous.fingerprint)


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_run_killed_while_a_pool_draws_leaves_no_process_behind(previous, tmp_path):
    # Figures drawn by two processes (from a fork server); the main process is killed in
    # the middle: the server and its drawing processes exit too, the previous results stay,
    # and a rerun draws everything.
    out, _ = _copy(previous, tmp_path)
    before = snapshot(out)
    marker = f"draw-pool-{os.getpid()}-{time.monotonic_ns()}"
    env = {**bench_env("kill-during:draw:1.5"), "OPTBENCH_DRAW_WORKERS": "2", "MARK": marker}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            bench_command("run", previous.new, "--out", out),
            cwd=Path(__file__).parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    killed = run()
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []
    _assert_previous_results(out, before, previous)
    env["OPTBENCH_FAULT"] = ""
    rerun = run()
    assert rerun.returncode == 0, rerun.stderr
    assert set(snapshot(out)) == previous.files
    assert processes_with(marker) == []


@pytest.mark.parametrize(
    ("fault", "cold_cache", "at_kill"),
    [
        # a cold compilation cache, so the first compile lasts longer than 0.3 s
        ("kill-during:compile:0.3", True, 0),
        ("kill:cell-done:2", False, 2),
        ("kill:part-write:2", False, 1),
        ("kill:table-write:2", False, CELLS),
        ("kill-during:draw:1.0", False, CELLS),
        ("kill:publish", False, CELLS),
    ],
)
def test_a_killed_run_leaves_the_previous_results_and_a_rerun_finishes_the_rest(
    previous, tmp_path, fault, cold_cache, at_kill
):
    out, store = _copy(previous, tmp_path)
    before = snapshot(out)
    stored_before = stored_keys(store)
    killed = run_bench(
        "run",
        previous.new,
        "--out",
        out,
        fault=fault,
        cache=tmp_path / "cold-cache" if cold_cache else None,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _assert_previous_results(out, before, previous)
    stored = stored_keys(store)  # every part in the store loads
    assert stored_before <= stored
    in_store = stored & previous.new_keys
    assert len(in_store) == at_kill

    rerun = run_bench("run", previous.new, "--out", out)
    assert rerun.returncode == 0, rerun.stderr
    prints = fingerprints(out)
    assert set(prints) == TABLES
    assert len(set(prints.values())) == 1 and previous.fingerprint not in prints.values()
    assert set(snapshot(out)) == previous.files  # same tables, figures and report
    assert (out / "report.html").stat().st_size > 0
    runs, _ = read_table(out / "runs.parquet")
    assert len(runs) == ROWS and set(runs["steps"]) == {30}
    cells_run = timing(out)["cells_run"]
    assert cells_run == len(previous.new_keys - in_store) == CELLS - at_kill
    assert timing(out)["cells_reused"] == at_kill
    assert rerun.stderr.count("reused from the store") == at_kill
    assert previous.new_keys <= stored_keys(store)
    assert staging_debris(out) == []


@pytest.mark.parametrize(
    ("fault", "new_parts"), [("enospc:table-write", CELLS), ("enospc:part-write", 0)]
)
def test_a_full_disk_fails_with_one_message_and_keeps_the_previous_results(
    previous, tmp_path, fault, new_parts
):
    out, store = _copy(previous, tmp_path)
    before = snapshot(out)
    done = run_bench("run", previous.new, "--out", out, fault=fault)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = _errors(done.stderr)
    assert len(errors) == 1 and errors[0].startswith(ENOSPC_MESSAGE), done.stderr
    _assert_previous_results(out, before, previous)
    assert len(stored_keys(store) & previous.new_keys) == new_parts  # finished cells are kept
    assert list((store / "tmp").iterdir()) == []
    assert staging_debris(out) == []


def test_a_real_full_disk_for_the_suite_folder_keeps_the_previous_results(previous, tmp_path):
    previous_out, store = _copy(previous, tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12M", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 12 MB tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        out = disk / "out"
        shutil.copytree(previous_out, out)
        stats = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 64 * 1024))
        before = snapshot(out)
        done = run_bench("run", previous.new, "--out", out, "--store", store)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        errors = _errors(done.stderr)
        assert len(errors) == 1, done.stderr
        assert errors[0].startswith("error: could not write the results:")
        assert "No space left on device" in errors[0]
        _assert_previous_results(out, before, previous)
        assert staging_debris(out) == []
        # The computed cells were kept: with the space back, the rerun only writes the folder.
        (disk / "filler").unlink()
        again = run_bench("run", previous.new, "--out", out, "--store", store)
        assert again.returncode == 0, again.stderr
        assert timing(out)["cells_run"] == 0 and timing(out)["cells_reused"] == CELLS
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_second_concurrent_run_is_refused_and_names_the_first(previous, tmp_path):
    out, _ = _copy(previous, tmp_path)
    before = snapshot(out)
    lock = out.parent / f".{out.name}.lock"
    with open(tmp_path / "holder.log", "w") as log:
        holder = subprocess.Popen(
            bench_command("run", previous.new, "--out", out),
            env=bench_env("hang:cell:*"),
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 120
        while f"pid {holder.pid}," not in (lock.read_text() if lock.exists() else ""):
            assert holder.poll() is None, (tmp_path / "holder.log").read_text()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.2)
        start = time.monotonic()
        second = run_bench("run", previous.new, "--out", out, timeout=60)
        elapsed = time.monotonic() - start
        assert second.returncode == 2, second.stderr
        assert elapsed < 30
        errors = _errors(second.stderr)
        assert len(errors) == 1 and "Traceback" not in second.stderr
        assert f"--out {out}: another `bench run` is writing this folder" in errors[0]
        assert f"pid {holder.pid}," in errors[0]
        assert "[1/" not in second.stderr  # it computed nothing
        assert holder.poll() is None  # the first one is untouched, still holding the lock
        _assert_previous_results(out, before, previous)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
    _assert_previous_results(out, before, previous)


def test_failing_and_overtime_cells_are_rows_and_retry_failed_reruns_only_them(tmp_path):
    config = write_config(tmp_path / "suite.yaml", SUITE.format(steps=30))
    out = tmp_path / "out"
    first = run_bench(
        "run",
        config,
        "--out",
        out,
        "--cell-timeout",
        "15",
        fault="raise:cell:rosenbrock x gd;hang:cell:quad3 x newton",
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    assert "[1/4] rosenbrock x gd: error: RuntimeError: injected failure" in first.stderr
    assert "[4/4] quad3 x newton: timeout: ran past --cell-timeout 15 s" in first.stderr
    runs, _ = read_table(out / "runs.parquet")
    assert len(runs) == ROWS
    cell = runs["problem"] + " x " + runs["optimizer"]
    raised, hung = runs[cell == "rosenbrock x gd"], runs[cell == "quad3 x newton"]
    others = runs[~cell.isin(["rosenbrock x gd", "quad3 x newton"])]
    assert len(raised) == 4 and set(raised["status"]) == {"error"}
    assert raised["reason"].str.contains("injected failure in rosenbrock x gd").all()
    assert len(hung) == 2 and set(hung["status"]) == {"timeout"}
    assert hung["reason"].str.contains("--cell-timeout 15").all()
    assert len(others) == 6 and set(others["status"]) <= ORDINARY
    t = timing(out)
    assert (t["cells_run"], t["cells_reused"], t["cells_failed"]) == (2, 0, 2)

    before = snapshot(out)
    plain = run_bench("run", config, "--out", out)
    assert plain.returncode == 0, plain.stderr
    assert "nothing changed: 4 cells (0 computed, 2 from the store, 0 skipped, 2 failed)" in (
        plain.stderr
    )
    assert "rosenbrock x gd: error in an earlier run" in plain.stderr
    assert "quad3 x newton: timeout in an earlier run" in plain.stderr
    assert snapshot(out) == before

    retry = run_bench("run", config, "--out", out, "--retry-failed")
    assert retry.returncode == 0, retry.stderr
    t = timing(out)
    assert (t["cells_run"], t["cells_reused"], t["cells_failed"]) == (2, 2, 0)
    runs, _ = read_table(out / "runs.parquet")
    assert len(runs) == ROWS and set(runs["status"]) <= ORDINARY
    assert not list(CellStore(tmp_path / ".store").failure_path("x").parent.iterdir())
