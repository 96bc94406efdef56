"""What sizes a process's thread pools, readable before JAX or numpy is imported.

Both pools can change a cell's last bits, so both are in the cell key
(``bench.run.keys.platform_spec``): XLA:CPU's (its size is the number of processors the
process may run on: a worker pinned to one core computed the digits MLP's gradient norms 1
ulp apart from a two-core run) and OpenBLAS's, behind JAX's LAPACK calls (Newton's solve on
the 172-d MLP's indefinite Hessian ended in another place from the first step with one
BLAS thread instead of two).
"""

from __future__ import annotations

import os
from typing import Any

# Libraries that size a thread pool from the environment when they start (numpy's BLAS,
# OpenMP). XLA:CPU sizes its own pool from the processors the process may run on.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set in a worker process to the worker's name (recorded with every cell it computes).
WORKER_ENV = "OPTBENCH_WORKER"


def available_cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def blas_threads() -> int:
    """The threads OpenBLAS starts with: $OPENBLAS_NUM_THREADS, else $OMP_NUM_THREADS (the
    order OpenBLAS reads them), else one per available core."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return available_cores()


def thread_key() -> dict[str, int]:
    """What of the thread pools can change a cell's numbers (part of its key)."""
    return {"cores": available_cores(), "blas": blas_threads()}


def thread_settings() -> dict[str, Any]:
    """What sizes this process's thread pools (recorded with every cell)."""
    return {
        "cores": available_cores(),
        **{name: os.environ.get(name, "") for name in THREAD_VARIABLES},
    }
