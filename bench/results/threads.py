"""What sizes a process's thread pools, readable before JAX or numpy is imported (a worker
process sets its threads from it first: ``bench.run.devices.WorkerSetup``)."""

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


def thread_settings() -> dict[str, Any]:
    """What sizes this process's thread pools (recorded with every cell)."""
    return {
        "cores": available_cores(),
        **{name: os.environ.get(name, "") for name in THREAD_VARIABLES},
    }
