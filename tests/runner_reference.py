"""The stored reference of tests/test_runner_reference.py: every array of every cell of
tests/data/runner_reference.yaml, as a runner computed them.

`python tests/runner_reference.py --write` recomputes tests/data/runner_reference.npz with
the runner of the checkout it runs in; `--compute PATH` writes the same arrays to PATH (what
the test does, in a process of its own). Write the reference only when a change of the
numbers is meant (and say so in the commit); the reference in the repository was computed
by RUNNER_VERSION 2 (commit 0a83715), before the runner was restructured into one flat loop
with its starts and Hessian spectra computed outside the cell (RUNNER_VERSION 3).

Both run in `PINNED_ENVIRONMENT`: bitwise equality is only meaningful on the same kernels,
and two x86-64 machines differ in their last bits otherwise. numpy's OpenBLAS picks its
kernels by CPU (DYNAMIC_ARCH): the QR behind a quadratic's random rotation differs in the
last bit between its Haswell and SkylakeX kernels, and every number of that problem moves
with it; XLA:CPU vectorizes its reductions for the widest instruction set of the host.
Pinning OpenBLAS to its Haswell kernels and XLA to AVX2 makes any AVX2 machine compute what
the reference machine computed (the first reference, made unpinned on another machine,
failed on an AVX-512 one). The variables must be set before numpy and XLA load,
hence a process of its own.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "runner_reference.yaml"
REFERENCE = DATA / "runner_reference.npz"
PINNED_ENVIRONMENT = {"OPENBLAS_CORETYPE": "Haswell", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}
FIELDS = (
    "loss",
    "grad_norm",
    "dist",
    "evals",
    "hessian_evals",
    "diverged",
    "diverged_step",
    "hit_step",
    "hit_evals",
    "x",
    "eigenvalues",
)


def compute() -> dict[str, np.ndarray]:
    """`<problem>|<optimizer>|<field>` -> array, for every cell the config does not skip."""
    from bench.config import load_suite
    from bench.run.compute import run_one
    from bench.run.policies import skip_reason

    suite = load_suite(CONFIG, check_resources=False, check_optimum=False)
    arrays = {}
    for problem in suite.problems:
        for setting in suite.optimizers:
            if skip_reason(problem, setting, suite):
                continue
            result = run_one(problem, setting, suite)
            for field in FIELDS:
                arrays[f"{problem.name}|{setting.name}|{field}"] = getattr(result, field)
    return arrays


def pinning_unavailable() -> str | None:
    """Why this machine cannot run the pinned kernels (None where it can)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the pinned kernels are x86-64 ones; this machine is {platform.machine()}"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and " avx2" not in cpuinfo.read_text():
        return "the pinned kernels need AVX2, which this CPU lacks"
    return None


def compute_pinned(path: Path) -> dict[str, np.ndarray]:
    """`compute()` in a process of its own under `PINNED_ENVIRONMENT`, via ``path``."""
    subprocess.run(
        [sys.executable, __file__, "--compute", str(path)],
        env={**os.environ, **PINNED_ENVIRONMENT},
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    with np.load(path) as arrays:
        return dict(arrays)


def _main(arguments: list[str]) -> None:
    if arguments == ["--write"]:
        path = REFERENCE
    elif len(arguments) == 2 and arguments[0] == "--compute":
        path = Path(arguments[1])
    else:
        sys.exit("usage: python tests/runner_reference.py --write | --compute PATH")
    if any(os.environ.get(name) != value for name, value in PINNED_ENVIRONMENT.items()):
        # Too late to pin in this process if numpy were loaded: start again pinned.
        os.execve(
            sys.executable,
            [sys.executable, __file__, *arguments],
            {**os.environ, **PINNED_ENVIRONMENT},
        )
    import jax

    jax.config.update("jax_enable_x64", True)
    np.savez_compressed(path, **compute())
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent.parent))  # the checkout's bench, not another
    _main(sys.argv[1:])
