"""Compile economy: JAX's persistent compilation cache, and counts of what really compiled.

With the cache on, a second `make bench` with nothing changed loads every cell's executable
from disk instead of compiling it again (tracing and lowering still run; they are cheap).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import jax
from jax import monitoring

# `OPTBENCH_CACHE_DIR=` (empty) turns the cache off; the tests do, so compile counts are real.
CACHE_ENV = "OPTBENCH_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(".cache") / "jax"


class CompileEvents:
    """Running totals per thread: executables requested from XLA, and how many of them came
    from the persistent cache instead of a compile (XLA compiles = the difference).

    Per thread because a sweep compiles the next cells in a thread of its own while this
    one runs a cell (``bench.run.ahead``): JAX reports a compile in the thread that asked
    for it, so a thread's counts are its own compiles, whatever the others do meanwhile.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _counts(self) -> list[int]:
        if not hasattr(self._local, "counts"):
            self._local.counts = [0, 0]  # requests, cache hits
        return self._local.counts

    def request(self) -> None:
        self._counts()[0] += 1

    def cache_hit(self) -> None:
        self._counts()[1] += 1

    def snapshot(self) -> tuple[int, int]:
        """(XLA compiles, persistent-cache hits) so far in this thread."""
        requests, hits = self._counts()
        return requests - hits, hits


EVENTS = CompileEvents()


def _on_event(event: str, **kwargs) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        EVENTS.cache_hit()


def _on_duration(event: str, duration: float, **kwargs) -> None:
    # JAX times the whole "compile or load from the cache" step under this name.
    if event == "/jax/core/compile/backend_compile_duration":
        EVENTS.request()


monitoring.register_event_listener(_on_event)
monitoring.register_event_duration_secs_listener(_on_duration)


def cache_directory() -> Path | None:
    """The cache folder: $OPTBENCH_CACHE_DIR (empty = off), else .cache/jax."""
    value = os.environ.get(CACHE_ENV)
    if value is None:
        return DEFAULT_CACHE_DIR
    return Path(value) if value else None


def enable_persistent_cache(directory: Path | None) -> None:
    """Store every compiled executable under ``directory`` (None: leave the cache off)."""
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory.resolve()))
    # Cache every cell, however quick its compile: a suite is hundreds of small compiles.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
