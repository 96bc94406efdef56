"""`bench run` refuses an --out it cannot write before anything is compiled or written."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import run_bench, write_config

SUITE = """
name: refusals
steps: 20
seeds: 1
problems:
  - kind: rosenbrock
optimizers:
  - kind: gd
    learning_rate: [1.0e-3, 1.0e-2]
"""
HEAD = "error: the input is not valid (1 problem); nothing was compiled or written:"


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _assert_refused(tmp_path: Path, out: Path, phrase: str) -> None:
    """Exit 2 within seconds, one paragraph naming --out, nothing written, nothing compiled."""
    config = write_config(tmp_path / "suite.yaml", SUITE)
    cache = tmp_path / "cache"  # created by the first compile: its absence says none ran
    before = _tree(tmp_path)
    start = time.monotonic()
    done = run_bench("run", config, "--out", out, cache=cache, timeout=120)
    elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert elapsed < 30
    lines = done.stderr.strip().splitlines()
    assert lines[0] == HEAD, done.stderr
    assert len(lines) == 2 and lines[1].startswith(f"  - --out {out}: "), done.stderr
    assert phrase in lines[1]
    assert "Traceback" not in done.stderr and "[1/" not in done.stderr
    assert not cache.exists()
    assert _tree(tmp_path) == before  # no store, lock, staging folder or probe left
    for sibling in (out.parent / ".store", out.parent / f".{out.name}.lock"):
        assert not sibling.exists()
    assert not list(out.parent.glob(f".{out.name}.staging-*"))


def _mount_read_only(folder: Path) -> None:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")


def test_out_below_a_regular_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("not a folder\n")
    _assert_refused(tmp_path, tmp_path / "file" / "sub", "is a file, so no folder can be made")


def test_out_an_existing_regular_file_is_refused(tmp_path):
    (tmp_path / "results.txt").write_text("keep me\n")
    _assert_refused(tmp_path, tmp_path / "results.txt", "exists and is not a folder")
    assert (tmp_path / "results.txt").read_text() == "keep me\n"


def test_out_dev_full_is_refused(tmp_path):
    _assert_refused(tmp_path, Path("/dev/full"), "exists and is not a folder")


def test_out_in_proc_sys_is_refused(tmp_path):
    _assert_refused(tmp_path, Path("/proc/sys/optbench-out"), "cannot write in /proc/sys")


def test_out_inside_a_read_only_mount_is_refused(tmp_path):
    _mount_read_only(tmp_path / "ro")
    try:
        _assert_refused(tmp_path, tmp_path / "ro" / "out", "Read-only file system")
    finally:
        subprocess.run(["umount", str(tmp_path / "ro")], check=True)


def test_out_a_read_only_mount_point_is_refused(tmp_path):
    # A mount point cannot be swapped by a rename, read-only or not: refused up front.
    _mount_read_only(tmp_path / "ro")
    try:
        _assert_refused(tmp_path, tmp_path / "ro", "is a mount point")
    finally:
        subprocess.run(["umount", str(tmp_path / "ro")], check=True)


def _refused(tmp_path: Path, *args: str | Path) -> str:
    """Run `bench run SUITE ARGS`: exit 2, one paragraph, nothing compiled; its message."""
    config = write_config(tmp_path / "suite.yaml", SUITE)
    cache = tmp_path / "cache"
    done = run_bench("run", config, *args, cache=cache, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == HEAD and len(lines) == 2, done.stderr
    assert "Traceback" not in done.stderr and not cache.exists()
    return lines[1]


def test_a_folder_that_holds_other_files_is_never_replaced(tmp_path):
    # `--out results` (the parent of the suite folders) or a project folder: replacing it
    # whole would delete what it holds.
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.py").write_text("keep me\n")
    message = _refused(tmp_path, "--out", folder)
    assert "holds files that `bench run` did not write" in message
    assert (folder / "src" / "main.py").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "suite.yaml"]


def test_a_store_inside_the_output_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    message = _refused(tmp_path, "--out", out, "--store", out / "store")
    assert "is inside --out" in message
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--problem", "rosenbrok"), "--problem 'rosenbrok': matches none of the suite's"),
        (("--optimizer", "adam"), "--optimizer 'adam': matches none of the suite's optimizers"),
        (("--cell-timeout", "inf"), "--cell-timeout must be a finite number of seconds > 0"),
        (("--cell-timeout", "0"), "--cell-timeout must be a finite number of seconds > 0"),
    ],
)
def test_command_line_values_that_select_nothing_are_refused(tmp_path, args, phrase):
    assert phrase in _refused(tmp_path, "--out", tmp_path / "out", *args)
    assert not (tmp_path / "out").exists()
