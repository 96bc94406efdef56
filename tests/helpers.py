"""Shared helpers for the tests that run `python -m bench run` in a child process.

Every child gets OPTBENCH_CACHE_DIR set to one temporary folder per test process, so JAX's
persistent compilation cache makes repeated compiles of the tiny suites cheap (the test
process itself keeps the cache off, see conftest.py).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench.results.parquet import read_metadata
from bench.results.store import STORE_VERSION, CellStore

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def session_cache_dir() -> Path:
    """One compilation-cache folder for the whole test session (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="optbench-test-cache-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def bench_env(fault: str | None = None, cache: Path | None = None) -> dict[str, str]:
    """The environment of a child run: shared cache, no inherited store or fault."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPTBENCH_FAULT", "OPTBENCH_STORE")}
    env["OPTBENCH_CACHE_DIR"] = str(cache or session_cache_dir())
    if fault is not None:
        env["OPTBENCH_FAULT"] = fault
    return env


def bench_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "bench", *map(str, args)]


def run_bench(
    *args: str | Path, fault: str | None = None, cache: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGS` in a child process (stdout and stderr captured as text)."""
    return subprocess.run(
        bench_command(*args),
        cwd=REPO,
        env=bench_env(fault, cache),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path) with the sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fingerprints(out: Path) -> dict[str, str | None]:
    """The fingerprint each parquet table of a suite folder was written with."""
    return {p.name: read_metadata(p).get("fingerprint") for p in sorted(out.glob("*.parquet"))}


def timing(out: Path) -> dict:
    return read_metadata(out / "runs.parquet")["timing"]


def stored_keys(store: Path) -> set[str]:
    """Keys of the cell folders in the store; asserts every one of them loads as a part."""
    cells = CellStore(store)
    keys = set()
    for folder in sorted((store / f"v{STORE_VERSION}" / "cells").glob("*/*")):
        part, problem = cells.load(folder.name)
        assert part is not None, f"unreadable part {folder}: {problem}"
        keys.add(folder.name)
    return keys


def staging_debris(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.staging-*"))


def processes_with(marker: str) -> list[int]:
    """Pids whose environment (as they were started) holds ``marker``: the processes a
    test's run started, found after the run was killed."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
    return pids
