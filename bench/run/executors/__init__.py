"""Executors: who computes a sweep's cells. ``serial`` in this process (the next cells
compiled ahead in threads), ``process`` in a pool of spawned worker processes, ``dask`` on a
Dask cluster (a local one, or one at ``--scheduler``). Workers write each finished cell's part
into the store themselves; the sweep (``bench.run.sweep``) reads it back, shows progress and
assembles the tables. Every executor computes the same bits for a cell: the cell's program and
its inputs do not depend on where it runs.
"""

from bench.run.executors.base import (
    EXECUTORS,
    Executor,
    ExecutorError,
    ExecutorOptions,
    Outcome,
    make_executor,
)

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "ExecutorOptions", "Outcome", "make_executor"]
