"""``--executor serial`` (the default): every cell in this process, one after the other,
the next cells compiling ahead in threads while one runs (``bench.run.ahead``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bench.config import Suite
from bench.results.store import CellStore
from bench.run.ahead import CompileAhead, cells_ahead
from bench.run.compute import compile_for, compute_cell
from bench.run.devices import describe_devices, lane_devices
from bench.run.executors.base import ExecutorOptions, Outcome
from bench.run.keys import Cell
from bench.run.worker import failure_reason


class InProcess:
    """Computes the cells in the order given, in this process."""

    name = "serial"
    parallel = False

    def __init__(
        self, suite: Suite, store: CellStore, options: ExecutorOptions, cells: Sequence[Cell]
    ):
        self._suite, self._store, self._options = suite, store, options
        self.compile_ahead = cells_ahead()
        self._ahead = CompileAhead(
            cells, lambda cell: compile_for(cell, suite, options.devices), self.compile_ahead
        )

    def describe(self) -> str:
        devices = describe_devices(lane_devices(self._options.devices))
        ahead = self.compile_ahead
        return f"serial: this process, compiling {ahead} cells ahead; lanes on {devices}"

    def run(self, cells: Sequence[Cell]) -> Iterator[Outcome]:
        for cell in cells:
            try:
                tables, info = compute_cell(cell, self._suite, self._ahead.compiled)
            except Exception as error:  # a failing cell is data, never a lost sweep
                self._ahead.forget(cell)
                yield Outcome(cell, "error", failure_reason(error))
                continue
            part = self._store.save(cell.key, tables, info, replace=self._options.force)
            yield Outcome(cell, "done", part=part)

    def close(self) -> None:
        self._ahead.close()
