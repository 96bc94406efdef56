"""What every executor takes and gives: the options, one ``Outcome`` per cell, the protocol,
and ``make_executor``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from bench.config import Suite
from bench.results.store import CellStore, Part
from bench.run.keys import Cell

EXECUTORS = ("serial", "process", "dask")


class ExecutorError(RuntimeError):
    """The executor cannot go on (no worker process starts, the scheduler is gone): the
    sweep stops, keeping every part stored so far; no cell is marked failed for it."""


@dataclasses.dataclass(frozen=True)
class ExecutorOptions:
    """The command line's say over who computes the cells (``bench run --help``)."""

    name: str = "serial"  # one of EXECUTORS
    workers: int | None = None  # process / dask: worker processes (None: one per core)
    scheduler: str | None = None  # dask: a running scheduler's address (None: a local one)
    devices: str | None = None  # "all" or a count: split each cell's lanes over devices
    cell_timeout: float | None = None  # seconds per cell (a worker process is stopped)
    force: bool = False  # replace parts already in the store


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one cell: ``done`` (its part as stored), ``error``, ``timeout``, or
    ``lost`` (its worker died under it; the executor computes it again, once)."""

    cell: Cell
    status: str
    reason: str = ""
    part: Part | None = None


class Executor(Protocol):
    """Computes cells and stores their parts; ``run`` yields each outcome as it comes."""

    name: str  # what the tables' timing records: serial, process or dask
    parallel: bool  # several cells at once: the sweep hands it the biggest first
    compile_ahead: int  # cells compiled ahead in threads while one runs (serial only)

    def describe(self) -> str:
        """One line for the run's log: who computes, how many at once."""
        ...

    def run(self, cells: Sequence[Cell]) -> Iterator[Outcome]:
        """Compute ``cells`` (in this order where one computes at a time)."""
        ...

    def close(self) -> None:
        """Stop every worker and thread it started."""
        ...


def read_back(store: CellStore, cell: Cell) -> Outcome:
    """The part a worker wrote for ``cell``, read from the store, as an outcome (a run
    sharing the store may be renaming the same key into place at this instant: try again
    briefly)."""
    problem = None
    for _ in range(20):
        part, problem = store.load(cell.key)
        if part is not None:
            return Outcome(cell, "done", part=part)
        time.sleep(0.1)
    return Outcome(
        cell,
        "error",
        f"the part the worker wrote does not read back here: {problem} (on a cluster of "
        "several machines, --store must be a folder they all see)",
    )


def make_executor(
    suite: Suite, store: CellStore, options: ExecutorOptions, cells: Sequence[Cell]
) -> Executor:
    """The executor ``options`` name, for these ``cells`` (nothing started yet)."""
    if options.name == "dask":
        from bench.run.executors.dask_cluster import DaskExecutor

        return DaskExecutor(suite, store, options)
    if options.name == "process" or options.cell_timeout is not None:
        # A budget needs a process to kill: serial with --cell-timeout is a pool of one.
        from bench.run.executors.pool import ProcessPool

        return ProcessPool(suite, store, options, [c.key for c in cells])
    from bench.run.executors.serial import InProcess

    return InProcess(suite, store, options, cells)
