"""A worker process that computes cells and writes their parts itself: the pool of
``--executor process`` (``bench.run.executors.pool``), and what makes a per-cell time budget
(``--cell-timeout``) real. A cell over its budget is stopped by killing the worker, which no
in-process timer can do to a running XLA computation; the next cell gets a fresh worker.

The worker is started with the ``spawn`` method (a fresh interpreter: never ``fork`` a
process in which JAX has started threads). It gets the suite's parsed config over the pipe
(not the file, which the user may be editing), checks that it computes the same cell keys as
the driver, then answers one request per cell. It dies with its driver (Linux: a parent
death signal), so a killed sweep leaves no worker holding the CPU or the GPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.run.devices import WorkerSetup

if TYPE_CHECKING:
    from bench.config import Suite
    from bench.run.keys import Cell

# How long a worker may take to import JAX and load the suite before it counts as broken.
STARTUP_TIMEOUT_S = 300.0
_PR_SET_PDEATHSIG = 1


def failure_reason(error: BaseException) -> str:
    """`ValueError: message (at file.py:123)`: one line for the runs table's reason column."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return (text[:300] + "...") if len(text) > 300 else text + where


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def load_suite_cells(
    raw: Mapping[str, Any], source: str, cache: str | None, devices: str | None = None
) -> tuple[Suite, dict[str, Cell]]:
    """In a worker process: the suite from its parsed config, with JAX's persistent cache
    on, and its cells by key (the lanes split over ``devices``, as the sweep's keys say)."""
    from bench.config import build_suite
    from bench.run.compile_cache import enable_persistent_cache
    from bench.run.devices import lane_split
    from bench.run.keys import suite_cells

    suite = build_suite(dict(raw), source=source)
    enable_persistent_cache(None if cache is None else Path(cache))
    return suite, {cell.key: cell for cell in suite_cells(suite, lane_split(devices))}


def _serve(
    connection: Connection,
    raw: Mapping[str, Any],
    source: str,
    store: str,
    cache: str | None,
    setup: WorkerSetup,
) -> None:
    die_with_parent()
    # Threads, the accelerator this worker may see, no memory preallocation: all read when
    # JAX starts its backend, which nothing has done yet in this fresh interpreter.
    setup.apply()
    from bench.results.store import CellStore
    from bench.run.compute import compute_cell

    try:
        suite, cells = load_suite_cells(raw, source, cache, setup.devices)
        store_ = CellStore(Path(store))
    except Exception as error:
        connection.send(("failed", failure_reason(error)))
        return
    connection.send(("ready", sorted(cells)))
    while True:
        request = connection.recv()
        if request is None:
            return
        key, replace = request
        try:
            tables, info = compute_cell(cells[key], suite, devices=setup.devices)
            store_.save(key, tables, info, replace=replace)
            connection.send(("done", {}))
        except Exception as error:  # a failing cell is data: report it, serve the next one
            connection.send(("error", failure_reason(error)))


@dataclass
class Answer:
    """What became of one cell sent to a worker."""

    status: str  # done, error, timeout
    reason: str = ""
    lost: bool = False  # the worker died under the cell (not the cell's own exception)


class Worker:
    """One spawned worker process. It starts at once; ``wait_ready`` waits until it has
    loaded the suite. A pool ``send``s it a cell, waits on ``connection`` with the other
    workers', and ``receive``s the answer.

    ``wait_ready`` raises RuntimeError when the worker cannot start (the caller records the
    cell as an error and tries a fresh worker for the next one).
    """

    def __init__(
        self,
        suite: Suite,
        store_root: Path,
        cache: Path | None,
        setup: WorkerSetup | None = None,
    ):
        context = multiprocessing.get_context("spawn")
        self.setup = setup or WorkerSetup()
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(
                child,
                dict(suite.raw),
                suite.source,
                str(store_root),
                None if cache is None else str(cache),
                self.setup,
            ),
            daemon=True,
        )
        self._process.start()
        child.close()
        self.ready = False  # True once it has loaded the suite (``wait_ready``)

    def wait_ready(self, keys: list[str], timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Wait until the worker has loaded the suite; RuntimeError if it cannot, or if it
        computes other cell keys than ``keys`` (another version of a library, XLA_FLAGS)."""
        try:
            if not self._connection.poll(timeout):
                raise RuntimeError(f"no answer within {timeout:.0f} s")
            status, payload = self._connection.recv()
        except (EOFError, OSError):
            self.stop()
            raise RuntimeError(
                f"it exited while starting (exit code {self._process.exitcode})"
            ) from None
        except RuntimeError:
            self.stop()
            raise
        if status != "ready":
            self.stop()
            raise RuntimeError(str(payload))
        if not set(keys) <= set(payload):
            self.stop()
            raise RuntimeError(
                "it computes other cell keys than this process (another version of a "
                "library, another backend, other XLA_FLAGS or other thread counts)"
            )
        self.ready = True

    @property
    def connection(self) -> Connection:
        """What ``multiprocessing.connection.wait`` watches for this worker's answer."""
        return self._connection

    def send(self, key: str, replace: bool = False) -> None:
        """Ask for one cell (OSError or EOFError if the worker is gone)."""
        self._connection.send((key, replace))

    def receive(self) -> Answer:
        """The answer to the cell sent, once ``connection`` is ready; `error` if the worker
        died (it is stopped then)."""
        try:
            status, payload = self._connection.recv()
        except (EOFError, OSError):  # the worker died in the cell (or between cells)
            self.stop()
            return Answer(
                "error",
                f"the worker process died (exit code {self._process.exitcode})",
                lost=True,
            )
        return Answer(status, "" if status == "done" else str(payload))

    @property
    def alive(self) -> bool:
        """Whether the worker can take another cell."""
        return self._process.is_alive()

    def stop(self) -> None:
        """End the worker now (SIGKILL: a cell in flight is abandoned, its part unwritten)."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)
        self._connection.close()

    def close(self) -> None:
        """Ask the worker to finish, then make sure it did."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._connection.send(None)
            self._process.join(10)
        self.stop()


def timed_out(budget: float, after: float) -> Answer:
    """The answer for a cell stopped at its budget."""
    return Answer("timeout", f"ran past --cell-timeout {budget:g} s; stopped after {after:.1f} s")
