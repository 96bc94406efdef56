"""``--executor process``: a pool of spawned worker processes on this machine
(``bench.run.worker``), each computing one cell at a time and writing its part itself.

Each worker takes the next cell as soon as it is free, so the order the sweep gives (the
biggest first) is the order cells start in. A worker that dies under a cell (killed, out of
memory, a crash in XLA) is replaced, and the cell is computed once more, by the next free
worker; if it kills that one too, it is recorded as an ``error``. A worker found dead
between cells is replaced without charging any cell. A cell past ``--cell-timeout`` is
stopped by killing its worker and recorded as ``timeout`` (serial with a budget is a pool
of one). A worker that cannot start at all (its suite does not load, it computes other cell
keys) is no fault of any cell: when no worker is left, the sweep stops with an
``ExecutorError``, keeping every part stored so far. The workers die with this process.

Starting a replacement blocks the pool for the few seconds a worker takes to import JAX;
the other workers' cells go on meanwhile, and their answers are read after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait

from bench.config import Suite
from bench.results.store import CellStore
from bench.run.compile_cache import cache_directory
from bench.run.devices import WorkerSetup, accelerators, default_workers, worker_setups
from bench.run.executors.base import ExecutorError, ExecutorOptions, Outcome, read_back
from bench.run.keys import Cell
from bench.run.worker import Answer, Worker, timed_out

# A cell whose worker dies is computed again this many times before it counts as an error.
RETRIES_AFTER_A_LOST_WORKER = 1


@dataclasses.dataclass
class _Slot:
    """One place in the pool: its setup, its worker (None until started, or after it died),
    the cell it computes (and when that started), and why no worker starts here."""

    setup: WorkerSetup
    worker: Worker | None = None
    cell: Cell | None = None
    started: float = 0.0
    broken: str = ""


class ProcessPool:
    """Worker processes computing the cells given, the first ones first."""

    parallel = True
    compile_ahead = 0

    def __init__(
        self, suite: Suite, store: CellStore, options: ExecutorOptions, keys: Sequence[str]
    ):
        self._suite, self._store, self._options = suite, store, options
        self._keys = list(keys)
        self.name = options.name
        if options.name == "process":
            setups = worker_setups(
                options.workers or default_workers(), options.devices, accelerators()
            )
        else:
            # A pool of one standing in for this process (a budget): it sees what this
            # process would, every device included.
            setups = worker_setups(1, options.devices, None)
        self._slots = [_Slot(setup) for setup in setups]

    def describe(self) -> str:
        budget = self._options.cell_timeout
        stop = f", each cell stopped after {budget:g} s" if budget is not None else ""
        if self.name != "process":
            return f"serial: one worker process at a time{stop}"
        count = len(self._slots)
        return (
            f"process: {count} worker process{'es' * (count != 1)} (this process's threads "
            f"each), the biggest cells first{stop}"
        )

    # -- workers ---------------------------------------------------------------------------

    def _start(self, slots: Sequence[_Slot]) -> None:
        """Start a worker in each slot (all at once: they load JAX side by side); a slot
        whose worker cannot start is marked broken, with the reason."""
        for slot in slots:
            slot.worker = Worker(self._suite, self._store.root, cache_directory(), slot.setup)
        for slot in slots:
            assert slot.worker is not None
            try:
                slot.worker.wait_ready(self._keys)
            except RuntimeError as error:
                slot.worker, slot.broken = None, f"{error}"

    def _ensure_worker(self, slot: _Slot) -> bool:
        """A live worker in ``slot`` (a dead one replaced); False if none starts there."""
        if slot.worker is not None and slot.worker.alive:
            return True
        if slot.worker is not None:
            slot.worker.stop()
            slot.worker = None
        self._start([slot])
        return slot.worker is not None

    def _give_up_if_no_worker(self) -> None:
        if all(slot.broken for slot in self._slots):
            reasons = sorted({slot.broken for slot in self._slots})
            raise ExecutorError(
                f"no worker process could start ({'; '.join(reasons)}); the cells computed "
                "so far are in the store"
            )

    # -- the sweep -------------------------------------------------------------------------

    def run(self, cells: Sequence[Cell]) -> Iterator[Outcome]:
        queue = deque(cells)
        lost: Counter[str] = Counter()
        self._start(self._slots[: len(queue)])
        budget = self._options.cell_timeout
        while queue or any(slot.cell is not None for slot in self._slots):
            for slot in self._slots:
                if slot.broken or slot.cell is not None or not queue:
                    continue
                if not self._ensure_worker(slot):
                    continue
                assert slot.worker is not None
                slot.cell, slot.started = queue.popleft(), time.perf_counter()
                # A worker that died this instant reads as ready, and lost, below.
                with contextlib.suppress(OSError, EOFError):
                    slot.worker.send(slot.cell.key, replace=self._options.force)
            busy = [slot for slot in self._slots if slot.cell is not None]
            if not busy:
                self._give_up_if_no_worker()
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
                slot.cell = None
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
        yield read_back(self._store, cell)

    def close(self) -> None:
        """Idle workers are asked to finish; one still starting or in a cell (the sweep was
        interrupted) is stopped at once, its part unwritten."""
        for slot in self._slots:
            if slot.worker is not None:
                if slot.cell is None and slot.worker.ready:
                    slot.worker.close()
                else:
                    slot.worker.stop()
            slot.worker, slot.cell = None, None
