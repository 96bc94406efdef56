"""Compile ahead: the next cells of a sweep compile in a thread of their own while this
thread runs the current cell and writes its part.

Tracing is Python on one core, and XLA's compile uses about 1.6 of this machine's two; a
small cell's run, its tables and its part leave the cores idle. Two threads compiling the
next cells overlap one cell's tracing with another's XLA compile, and both with the running
cell. Adding one 20-d problem (21 cells) to the default suite, two interleaved rounds: 25.3
and 18.9 s computing with two threads against 29.5 and 27.8 s one cell after the other (the
same code with ``OPTBENCH_COMPILE_AHEAD=0``); one thread gained nothing measurable (27.6 and
27.3 s against 26.4 and 31.7 s), since the runs there are too short to hide a compile. A
compile started ahead and not needed (the sweep stopped) is abandoned with the process.

The numbers do not depend on it: the same program computes the same bits in any thread.
The seconds do: a cell's compile and run seconds are measured while the other thread
works, so their sum over a sweep exceeds its wall time (the timing header says so).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from bench.run.cell import CompiledCell
from bench.run.keys import Cell

# How many cells may be compiled ahead of the one running; 0 compiles each at its turn.
AHEAD_ENV = "OPTBENCH_COMPILE_AHEAD"
DEFAULT_AHEAD = 2
# Threads compiling at once: two, so that one traces (Python) while the other's XLA compile
# runs.
COMPILE_THREADS = 2


def cells_ahead() -> int:
    """$OPTBENCH_COMPILE_AHEAD (a whole number >= 0), else ``DEFAULT_AHEAD``."""
    value = os.environ.get(AHEAD_ENV, "").strip()
    return int(value) if value.isdigit() else DEFAULT_AHEAD


class CompileAhead:
    """Hands out each cell's compiled program, compiling the next ``depth`` cells (in the
    order given) in background threads while the caller runs the current one."""

    def __init__(
        self, cells: Sequence[Cell], compile_cell: Callable[[Cell], CompiledCell], depth: int
    ):
        self._cells = list(cells)
        self._position = {cell.key: index for index, cell in enumerate(self._cells)}
        self._compile, self._depth = compile_cell, depth
        self._pool = (
            ThreadPoolExecutor(min(depth, COMPILE_THREADS), thread_name_prefix="compile-ahead")
            if depth > 0
            else None
        )
        self._futures: dict[str, Future[CompiledCell]] = {}

    def compiled(self, cell: Cell) -> CompiledCell:
        """The cell's program (compiled ahead, or now); queues the cells after it. A compile
        that raised raises here, in the caller's cell."""
        index = self._position.get(cell.key)
        if self._pool is None or index is None:
            return self._compile(cell)
        for following in self._cells[index : index + 1 + self._depth]:
            if following.key not in self._futures:
                self._futures[following.key] = self._pool.submit(self._compile, following)
        return self._futures.pop(cell.key).result()

    def forget(self, cell: Cell) -> None:
        """Drop the cell's program if it was compiled ahead and not taken (its cell failed
        before asking for it)."""
        future = self._futures.pop(cell.key, None)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Cancel what has not started; a compile in progress finishes in its thread."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
