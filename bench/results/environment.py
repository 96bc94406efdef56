"""What produced a result: versions, backend, precision and the git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import jax
import jaxlib
import optax

from bench.results.threads import WORKER_ENV, thread_settings

# The layout of the suite tables a reader (`bench plot`, the report) expects. 2: `setting`
# is the integer grid index in every table (the label moved to `setting_label`), and the
# metadata lists the hyperparameter columns.
SCHEMA_VERSION = 2


def git_commit(directory: str | Path = ".") -> str:
    """The checked-out commit, with '+dirty' when the tree has changes, or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def cpu_model() -> str:
    """The processor's model name: XLA:CPU compiles for the host, so results can differ
    beyond rounding between processors (README, first section)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """The facts a reader needs to reproduce a table."""
    return {
        "schema_version": SCHEMA_VERSION,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "x64": bool(jax.config.jax_enable_x64),
        # XLA options change results in the last bits (README, Speed): a table says which.
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "host": platform.node(),
        # Who computed it: the sweep's own process, or a worker of a pool or Dask cluster.
        "worker": os.environ.get(WORKER_ENV, "main process"),
        "threads": thread_settings(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
    }
