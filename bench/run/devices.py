"""Devices and threads: which devices a cell's lanes are split over (``--devices``), which
accelerator a worker process may see, and how many threads its libraries start.

A worker process applies its thread and device settings (``WorkerSetup.apply``) before
anything starts JAX's backend, which is when XLA reads them; BLAS threads already started by
numpy are capped through threadpoolctl.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from bench.results.threads import THREAD_VARIABLES, WORKER_ENV, available_cores

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
    """What one worker process sets before it starts JAX: its name, its environment (thread
    counts, the accelerator it may see, no memory preallocation), and the lanes' devices.

    Thread counts go to numpy's BLAS and OpenMP (``threads`` each: the cores shared out
    between the workers). XLA:CPU's own pool is left at the processors the worker may run on:
    its matrix products may split a sum over threads, so a smaller pool could change the
    last bits, and the numbers must be those of a serial run.
    """

    name: str = "worker"
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    devices: str | None = None

    def apply(self) -> None:
        """Set the environment (and cap BLAS threads already started) in this process."""
        os.environ.update(self.environment)
        os.environ[WORKER_ENV] = self.name
        threads = self.environment.get("OMP_NUM_THREADS")
        if threads:
            from threadpoolctl import threadpool_limits

            threadpool_limits(int(threads))


def worker_setups(
    workers: int, devices: str | None, accelerator: tuple[str, list[str]] | None
) -> list[WorkerSetup]:
    """One setup per worker of a pool of ``workers``: the cores shared out, and on an
    accelerator machine one device per worker (round robin when there are more workers)."""
    threads = str(max(1, available_cores() // max(workers, 1)))
    setups = []
    for index in range(workers):
        environment = {name: threads for name in THREAD_VARIABLES}
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
