"""Devices and threads: which devices a cell's lanes are split over (``--devices``), which
accelerator a worker process may see, and the threads its libraries start with.

A worker process applies its settings (``WorkerSetup.apply``) before anything imports JAX
or numpy, so XLA and OpenBLAS read them when they start.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from bench.results.threads import THREAD_VARIABLES, WORKER_ENV, available_cores, blas_threads

# Accelerators, as their runtimes read the visible set when they start.
VISIBLE_DEVICES = {"gpu": "CUDA_VISIBLE_DEVICES", "cuda": "CUDA_VISIBLE_DEVICES",
                   "rocm": "HIP_VISIBLE_DEVICES"}  # fmt: skip


def parse_devices(text: str) -> str:
    """``--devices``: "all" or a whole number >= 1; ValueError (with what is valid)."""
    value = text.strip().lower()
    if value == "all" or (value.isdigit() and int(value) >= 1):
        return value
    raise ValueError(
        f"--devices {text!r}: give `all` (every local device) or a whole number >= 1 of "
        "local devices to split each cell's lanes over."
    )


def lane_devices(spec: str | None) -> list[Any] | None:
    """The local devices a cell's lanes are split over, or None (one device, no split)."""
    if spec is None or spec == "1":
        return None
    import jax

    devices = jax.local_devices()
    if spec != "all":
        if int(spec) > len(devices):
            raise ValueError(f"--devices {spec}: this process sees {len(devices)} local device(s)")
        devices = devices[: int(spec)]
    return devices if len(devices) > 1 else None


def lane_split(spec: str | None) -> int:
    """How many devices ``lane_devices(spec)`` splits a cell's lanes over (1: no split)."""
    devices = lane_devices(spec)
    return len(devices) if devices else 1


def accelerators() -> tuple[str, list[str]] | None:
    """(variable, visible ids) of this process's accelerators, or None on a CPU backend.

    Calls JAX (starting its backend): the driver asks once, before it starts workers.
    """
    import jax

    backend = jax.default_backend()
    variable = VISIBLE_DEVICES.get(backend)
    if variable is None:
        return None
    given = os.environ.get(variable, "").strip()
    ids = [i for i in given.split(",") if i] if given else []
    return variable, ids or [str(d.id) for d in jax.local_devices()]


def default_workers() -> int:
    """Worker processes of a pool or local cluster when ``--workers`` is not given: one per
    accelerator on an accelerator machine, else one per core."""
    accelerator = accelerators()
    return len(accelerator[1]) if accelerator is not None else available_cores()


@dataclasses.dataclass(frozen=True)
class WorkerSetup:
    """What one worker process sets before it starts JAX: its name, its environment (the
    accelerator it may see, no memory preallocation, the sweep's thread counts), and the
    devices its cells' lanes are split over.

    The thread counts are the sweep's own, not a share of the cores: the sizes of XLA's and
    OpenBLAS's pools can change a cell's numbers (``bench.results.threads``), and a cell must
    compute the same bits whoever computes it. A worker computing other keys than the sweep
    (a thread count changed on the way) refuses to start.
    """

    name: str = "worker"
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    devices: str | None = None

    def apply(self) -> None:
        """Set the environment in this process (before JAX's backend starts)."""
        os.environ.update(self.environment)
        os.environ[WORKER_ENV] = self.name


def sweep_threads() -> dict[str, str]:
    """The thread variables a worker must run with to compute the sweep's bits: OpenBLAS's
    effective count spelled out (Dask's nannies set them to 1 unless told)."""
    return {name: str(blas_threads()) for name in THREAD_VARIABLES}


def worker_setups(
    workers: int, devices: str | None, accelerator: tuple[str, list[str]] | None
) -> list[WorkerSetup]:
    """One setup per worker of a pool of ``workers``: the sweep's threads, and on an
    accelerator machine one device per worker (round robin when there are more workers)."""
    setups = []
    for index in range(workers):
        environment = sweep_threads()
        # Several processes on one machine: none may take most of an accelerator's memory.
        environment["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        if accelerator is not None:
            variable, ids = accelerator
            environment[variable] = ids[index % len(ids)]
        setups.append(WorkerSetup(f"worker {index + 1}/{workers}", environment, devices))
    return setups


def describe_devices(devices: Sequence[Any] | None) -> str:
    """`2 devices (cpu:0, cpu:1)`, for the run's header."""
    if not devices:
        return "1 device"
    return f"{len(devices)} devices ({', '.join(f'{d.platform}:{d.id}' for d in devices)})"
