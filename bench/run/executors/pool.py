"""``--executor process``: a pool of spawned worker processes on this machine
(``bench.run.worker``), each computing one cell at a time and writing its part itself.

Each worker takes the next cell as soon as it is free, so the order the sweep gives (the
biggest first) is the order cells start in. A worker that dies under a cell (killed, out of
memory, a crash in XLA) is replaced, and the cell is computed again once on a fresh worker;
if it kills that one too, it is recorded as an ``error``. A cell past ``--cell-timeout`` is
stopped by killing its worker and recorded as ``timeout``. The workers die with this
process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait

from bench.config import Suite
from bench.results.environment import available_cores
from bench.results.store import CellStore
from bench.run.compile_cache import cache_directory
from bench.run.devices import WorkerSetup, accelerators, worker_setups
from bench.run.executors.base import ExecutorOptions, Outcome
from bench.run.keys import Cell
from bench.run.worker import Answer, Worker, timed_out

# A cell whose worker dies is computed again this many times before it counts as an error.
RETRIES_AFTER_A_LOST_WORKER = 1


def default_workers() -> int:
    """One worker per accelerator on an accelerator machine, else one per core."""
    accelerator = accelerators()
    return len(accelerator[1]) if accelerator is not None else available_cores()


@dataclasses.dataclass
class _Slot:
    """One place in the pool: its setup, its worker (None until started or after it died),
    and the cell it computes (with when it started)."""

    setup: WorkerSetup
    worker: Worker | None = None
    cell: Cell | None = None
    started: float = 0.0


class ProcessPool:
    """``workers`` worker processes computing the cells given, the first ones first."""

    parallel = True
    compile_ahead = 0

    def __init__(
        self,
        suite: Suite,
        store: CellStore,
        options: ExecutorOptions,
        workers: int | None,
        keys: Sequence[str],
    ):
        self._suite, self._store, self._options = suite, store, options
        self._keys = list(keys)
        count = workers or default_workers()
        self._slots = [_Slot(s) for s in worker_setups(count, options.devices, accelerators())]

    def describe(self) -> str:
        count = len(self._slots)
        threads = self._slots[0].setup.environment.get("OMP_NUM_THREADS", "?")
        budget = self._options.cell_timeout
        return (
            f"process: {count} worker process{'es' * (count != 1)} ({threads} BLAS "
            f"thread{'s' * (threads != '1')} each), the biggest cells first"
            + (f", each cell stopped after {budget:g} s" if budget is not None else "")
        )

    # -- workers ---------------------------------------------------------------------------

    def _start(self, slots: Sequence[_Slot]) -> list[str]:
        """Start workers in these slots (all at once: they load JAX side by side); the
        reasons of those that could not start."""
        for slot in slots:
            slot.worker = Worker(self._suite, self._store.root, cache_directory(), slot.setup)
        failures = []
        for slot in slots:
            assert slot.worker is not None
            try:
                slot.worker.wait_ready(self._keys)
            except RuntimeError as error:
                slot.worker = None
                failures.append(f"the worker process could not start: {error}")
        return failures

    def _free(self, slot: _Slot) -> None:
        if slot.worker is not None and not slot.worker.alive:
            slot.worker.stop()
            slot.worker = None
        slot.cell = None

    # -- the sweep -------------------------------------------------------------------------

    def run(self, cells: Sequence[Cell]) -> Iterator[Outcome]:
        queue = deque(cells)
        lost: Counter[str] = Counter()
        self._start([slot for slot in self._slots[: len(queue)]])
        budget = self._options.cell_timeout
        while queue or any(slot.cell is not None for slot in self._slots):
            for slot in self._slots:
                if slot.cell is not None or not queue:
                    continue
                if slot.worker is None:
                    failures = self._start([slot])
                    if failures:  # this cell becomes the error; the next one tries again
                        yield Outcome(queue.popleft(), "error", failures[0])
                        continue
                assert slot.worker is not None
                slot.cell, slot.started = queue.popleft(), time.perf_counter()
                # A worker that is gone reads as ready, and lost, below.
                with contextlib.suppress(OSError, EOFError):
                    slot.worker.send(slot.cell.key, replace=self._options.force)
            busy = [slot for slot in self._slots if slot.cell is not None]
            if not busy:
                continue
            timeout = None
            if budget is not None:
                now = time.perf_counter()
                timeout = max(0.0, min(slot.started + budget - now for slot in busy))
            ready = wait([slot.worker.connection for slot in busy if slot.worker], timeout)
            for slot in busy:
                assert slot.cell is not None and slot.worker is not None
                cell = slot.cell
                if slot.worker.connection in ready:
                    answer = slot.worker.receive()
                elif budget is not None and time.perf_counter() - slot.started >= budget:
                    slot.worker.stop()
                    answer = timed_out(budget, time.perf_counter() - slot.started)
                else:
                    continue
                self._free(slot)
                yield from self._outcome(cell, answer, lost, queue)

    def _outcome(
        self, cell: Cell, answer: Answer, lost: Counter[str], queue: deque[Cell]
    ) -> Iterator[Outcome]:
        if answer.lost:
            lost[cell.key] += 1
            if lost[cell.key] <= RETRIES_AFTER_A_LOST_WORKER:
                queue.appendleft(cell)
                yield Outcome(cell, "lost", f"{answer.reason}; computing it again")
                return
            yield Outcome(cell, "error", f"{answer.reason}, {lost[cell.key]} times")
            return
        if answer.status != "done":
            yield Outcome(cell, answer.status, answer.reason)
            return
        # The worker wrote the part; read it back (a run sharing the store may be renaming
        # the same key into place at this instant: try again briefly).
        problem = None
        for _ in range(20):
            part, problem = self._store.load(cell.key)
            if part is not None:
                yield Outcome(cell, "done", part=part)
                return
            time.sleep(0.1)
        yield Outcome(cell, "error", f"the part the worker wrote does not read back: {problem}")

    def close(self) -> None:
        """Idle workers are asked to finish; one still in a cell (the sweep was interrupted)
        is stopped at once, its part unwritten."""
        for slot in self._slots:
            if slot.worker is not None:
                if slot.cell is None:
                    slot.worker.close()
                else:
                    slot.worker.stop()
                slot.worker = None
                slot.cell = None
