"""What runs on a Dask worker for ``--executor dask`` (``bench.run.executors.dask_cluster``):
the task that computes one cell, and the plugin that sets a worker up before its first task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

from bench.results.threads import WORKER_ENV
from bench.run.devices import WorkerSetup
from bench.run.worker import die_with_parent, load_suite_cells

# Each worker process builds a suite once per config (tasks of one sweep share it).
_loaded: dict[str, tuple[Any, dict[str, Any]]] = {}


def _suite_on_worker(
    raw: Mapping[str, Any], source: str, cache: str | None
) -> tuple[Any, dict[str, Any]]:
    """The suite and its cells by key (``load_suite_cells``), once per config."""
    from bench.run.keys import digest  # JAX and numpy: not before the worker's setup

    name = digest({"raw": raw, "source": source})
    if name not in _loaded:
        _loaded[name] = load_suite_cells(raw, source, cache)
    return _loaded[name]


def compute_on_worker(
    raw: Mapping[str, Any],
    source: str,
    store: str,
    cache: str | None,
    key: str,
    replace: bool,
) -> tuple[str, str]:
    """The task: compute the cell ``key`` of the suite ``raw`` and store its part; returns
    (status, reason) with status ``done`` or ``error`` (a failing cell is data)."""
    from bench.results.store import CellStore
    from bench.run.compute import compute_cell
    from bench.run.worker import failure_reason

    try:
        suite, cells = _suite_on_worker(raw, source, cache)
        if key not in cells:
            return "error", (
                "this Dask worker computes other cell keys than the sweep (another version of "
                "jax, jaxlib, optax, numpy or scikit-learn, another backend, other XLA_FLAGS, "
                "or other thread counts: cores, OPENBLAS_NUM_THREADS)"
            )
        # Unsplit lanes: --devices is refused with --executor dask (on a cluster, a worker
        # per device is the way to use several).
        tables, info = compute_cell(cells[key], suite)
        CellStore(Path(store)).save(key, tables, info, replace=replace)
    except Exception as error:
        return "error", failure_reason(error)
    return "done", ""


class WorkerSetupPlugin(WorkerPlugin):
    """Applies ``setups[n]`` in a local cluster's worker ``n`` (its threads, its accelerator)
    and names the worker, when the worker starts and before any task starts JAX's backend.
    Workers of another cluster (named by Dask, not numbered) are only named."""

    name = "optbench-worker-setup"

    def __init__(self, setups: Sequence[WorkerSetup]):
        self.setups = list(setups)

    def setup(self, worker: Worker) -> None:
        index = worker.name if isinstance(worker.name, int) else None
        if index is not None and 0 <= index < len(self.setups):
            self.setups[index].apply()
            # A local cluster's worker is a child of the sweep: it dies with it (a killed
            # sweep leaves no worker holding the CPU or a GPU).
            die_with_parent()
        os.environ[WORKER_ENV] = f"dask worker {worker.name} ({worker.address})"
