"""``--executor dask``: cells as tasks on a Dask distributed cluster.

Without ``--scheduler`` a ``LocalCluster`` is started on 127.0.0.1 with one single-threaded
worker process per core (``--workers``); with it, the cluster at that address is used, its
workers started with Dask's own commands (README). Each task is one cell, named by its key
(``optbench-cell-KEY-RUN``, RUN a hash of the store and ``--force``), so a cell submitted
twice, by this run or another one into the same store, is computed once. A worker loads the
suite from the config sent with the task, computes the cell and writes its part into the
store itself: on a cluster of several machines the store must be a folder they all see
(``--store``). A worker that dies under a cell is replaced by its nanny and the cell
rescheduled, once on a local cluster (its scheduler's ``allowed-failures``; a cluster at
``--scheduler`` keeps its own setting, Dask's default 3); one more death makes it an
``error`` (``KilledWorker``). Any other failure of the cluster stops the sweep
(``ExecutorError``) without marking cells failed. What runs on the workers is in
``bench.run.executors.dask_worker``.

Dask is an optional extra (``pip install -e '.[dask]'``; ``make`` installs it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from bench.config import ConfigError, Suite
from bench.results.store import CellStore
from bench.run.compile_cache import cache_directory
from bench.run.devices import accelerators, default_workers, sweep_threads, worker_setups
from bench.run.executors.base import ExecutorError, ExecutorOptions, Outcome, read_back
from bench.run.keys import Cell, digest

# Seconds to wait for a scheduler to answer ($OPTBENCH_DASK_TIMEOUT overrides it).
CONNECT_TIMEOUT_S = 10.0
TIMEOUT_ENV = "OPTBENCH_DASK_TIMEOUT"
TASK_PREFIX = "optbench-cell-"
# How often a cell's worker may die before the cell is an error (Dask counts the deaths).
ALLOWED_FAILURES = 1
INSTALL_HINT = "install the optional extra: `.venv/bin/pip install -e '.[dask]'` (make does)"


def connect_timeout() -> float:
    """$OPTBENCH_DASK_TIMEOUT seconds (a number > 0), else ``CONNECT_TIMEOUT_S``."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return CONNECT_TIMEOUT_S
    return value if value > 0 else CONNECT_TIMEOUT_S


def check_installed() -> None:
    """ConfigError unless ``distributed`` can be imported."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise ConfigError([f"--executor dask: Dask distributed is not installed; {INSTALL_HINT}."])


def check_scheduler(address: str) -> None:
    """Ask the scheduler at ``address`` who it is; ConfigError (one paragraph) unless a Dask
    scheduler answers within ``connect_timeout()`` seconds.

    A raw identity request under a deadline: ``distributed.Client(address, timeout=...)``
    waits without end on a socket that accepts a connection but never speaks.
    """
    check_installed()
    import asyncio

    from distributed.comm import connect

    timeout = connect_timeout()

    async def identity() -> dict:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    try:
        reply = asyncio.run(identity())
        what = reply.get("type") if isinstance(reply, dict) else None
        if what != "Scheduler":
            raise ValueError(f"it answered as {what or 'something else'}, not a Scheduler")
    except Exception as error:  # OSError, TimeoutError, ValueError for a malformed address
        text = str(error).strip().splitlines()[0][:200] if str(error).strip() else "no answer"
        raise ConfigError(
            [
                f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
                f"({type(error).__name__}: {text}). Give the address a running `dask "
                "scheduler` prints (e.g. tcp://10.0.0.5:8786), or leave --scheduler out for a "
                "local cluster."
            ]
        ) from None


# -- in the sweep --------------------------------------------------------------------------


class DaskExecutor:
    """Cells as Dask tasks, the biggest first (task priorities)."""

    name = "dask"
    parallel = True
    compile_ahead = 0

    def __init__(self, suite: Suite, store: CellStore, options: ExecutorOptions):
        check_installed()
        self._suite, self._store, self._options = suite, store, options
        self._cluster: Any = None
        self._client: Any = None
        if options.scheduler:
            self._workers, self._setups = 0, []
        else:
            self._workers = options.workers or default_workers()
            self._setups = worker_setups(self._workers, options.devices, accelerators())

    def describe(self) -> str:
        if self._options.scheduler:
            return f"dask: the cluster at {self._options.scheduler}, the biggest cells first"
        return (
            f"dask: a local cluster on 127.0.0.1 of {self._workers} worker process"
            f"{'es' * (self._workers != 1)} (one thread each), the biggest cells first"
        )

    def _connect(self) -> Any:
        import dask
        from distributed import Client, LocalCluster

        from bench.run.executors.dask_worker import WorkerSetupPlugin

        if self._options.scheduler:
            client = Client(
                self._options.scheduler, timeout=connect_timeout(), set_as_default=False
            )
            client.register_plugin(WorkerSetupPlugin([]))  # names its workers only
            return client
        # One task per worker at a time (one thread each): a worker that dies then takes no
        # queued cell down with it, which Dask would count against that cell too.
        # Dask's nannies start workers with one BLAS thread unless told otherwise; the
        # sweep's count keeps the numbers (and the cell keys) those of a serial run.
        spawn = {"MALLOC_TRIM_THRESHOLD_": 65536, **sweep_threads()}
        settings = {
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.nanny.pre-spawn-environ": spawn,
        }
        with dask.config.set(settings):
            self._cluster = LocalCluster(
                n_workers=self._workers,
                threads_per_worker=1,  # a cell uses the cores by itself
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
                memory_limit=0,  # the sweep's own memory budget caps each cell
                env=dict(self._setups[0].environment),
                scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES},
            )
        client = Client(self._cluster, set_as_default=False)
        # Each worker's own setup (its accelerator) before it starts JAX's backend; a
        # plugin, so that a worker its nanny restarts gets it too.
        client.register_plugin(WorkerSetupPlugin(self._setups))
        return client

    def run(self, cells: Sequence[Cell]) -> Iterator[Outcome]:
        from distributed import KilledWorker, as_completed

        from bench.run.executors.dask_worker import compute_on_worker

        self._client = self._connect()
        raw, source = dict(self._suite.raw), self._suite.source
        store, cache = str(self._store.root), cache_directory()
        # Tasks are named by cell key, so the same cell submitted twice is computed once;
        # the store and --force are in the name too (two runs into two stores both get
        # their part).
        run = digest({"store": store, "force": self._options.force})[:12]
        futures = {}
        for rank, cell in enumerate(cells):
            future = self._client.submit(
                compute_on_worker,
                raw,
                source,
                store,
                None if cache is None else str(cache),
                cell.key,
                self._options.force,
                key=f"{TASK_PREFIX}{cell.key}-{run}",
                priority=len(cells) - rank,  # higher runs first: the sweep's order
                retries=0,
            )
            futures[future.key] = (cell, future)
        for future in as_completed([f for _, f in futures.values()], loop=self._client.loop):
            cell = futures[future.key][0]
            try:
                status, reason = future.result()
            except KilledWorker as error:  # the cell's workers died, more than allowed
                yield Outcome(cell, "error", f"KilledWorker: {str(error).strip()[:280]}")
                continue
            except Exception as error:  # the cluster failed, not the cell: stop the sweep
                raise ExecutorError(
                    f"the Dask cluster failed computing {cell.label} "
                    f"({type(error).__name__}: {str(error).strip()[:200]}); the cells computed "
                    "so far are in the store"
                ) from error
            yield (
                Outcome(cell, status, reason) if status != "done" else read_back(self._store, cell)
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
