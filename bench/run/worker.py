"""A worker process that computes cells and writes their parts itself: what makes a per-cell
time budget (``--cell-timeout``) real. A cell over its budget is stopped by killing the
worker, which no in-process timer can do to a running XLA computation; the next cell gets a
fresh worker.

The worker is started with the ``spawn`` method (a fresh interpreter: never ``fork`` a
process in which JAX has started threads), loads the same config file, checks that it
computes the same cell keys as the driver, then answers one request per cell.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# How long a worker may take to import JAX and load the suite before it counts as broken.
STARTUP_TIMEOUT_S = 300.0


def failure_reason(error: BaseException) -> str:
    """`ValueError: message (at file.py:123)`: one line for the runs table's reason column."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return (text[:300] + "...") if len(text) > 300 else text + where


def _serve(connection: Connection, config: str, store_root: str, cache: str | None) -> None:
    from bench.config import load_suite
    from bench.results.store import CellStore
    from bench.run.compile_cache import enable_persistent_cache
    from bench.run.compute import compute_cell
    from bench.run.keys import suite_cells

    suite = load_suite(config)
    enable_persistent_cache(None if cache is None else Path(cache))
    cells = {cell.key: cell for cell in suite_cells(suite)}
    store = CellStore(Path(store_root))
    connection.send(("ready", sorted(cells)))
    while True:
        key = connection.recv()
        if key is None:
            return
        try:
            tables, info = compute_cell(cells[key], suite)
            store.save(key, tables, info)
            connection.send(("done", info))
        except Exception as error:  # a failing cell is data: report it, serve the next one
            connection.send(("error", failure_reason(error)))


@dataclass
class Answer:
    """What became of one cell sent to a worker."""

    status: str  # done, error, timeout
    info: Mapping[str, Any] | None = None
    reason: str = ""


class Worker:
    """One spawned worker process; ``compute`` sends a cell and waits at most ``timeout``."""

    def __init__(self, config: str, store_root: Path, cache: Path | None, keys: list[str]):
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, config, str(store_root), None if cache is None else str(cache)),
            daemon=True,
        )
        self._process.start()
        child.close()
        if not self._connection.poll(STARTUP_TIMEOUT_S):
            self.stop()
            raise RuntimeError("the worker process did not start")
        try:
            status, worker_keys = self._connection.recv()
        except EOFError:
            raise RuntimeError(
                f"the worker process exited while starting (exit code {self._process.exitcode})"
            ) from None
        if status != "ready" or not set(keys) <= set(worker_keys):
            self.stop()
            raise RuntimeError("the worker computed other cell keys than this process")

    def compute(self, key: str, timeout: float) -> Answer:
        """Compute one cell in the worker; a timeout kills the worker (start a new one)."""
        self._connection.send(key)
        start = time.perf_counter()
        if not self._connection.poll(timeout):
            self.stop()
            return Answer(
                "timeout",
                reason=f"ran past --cell-timeout {timeout:g} s; stopped after "
                f"{time.perf_counter() - start:.1f} s",
            )
        try:
            status, payload = self._connection.recv()
        except EOFError:
            self._process.join(5)
            code = self._process.exitcode
            return Answer("error", reason=f"the worker process died (exit code {code})")
        if status == "done":
            return Answer("done", info=payload)
        return Answer("error", reason=str(payload))

    @property
    def alive(self) -> bool:
        """Whether the worker can take another cell."""
        return self._process.is_alive()

    def stop(self) -> None:
        """End the worker now (SIGKILL: a cell in flight is abandoned, its part unwritten)."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)

    def close(self) -> None:
        """Ask the worker to finish, then make sure it did."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._connection.send(None)
            self._process.join(10)
        self.stop()
