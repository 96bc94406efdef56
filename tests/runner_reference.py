"""The stored reference of tests/test_runner_reference.py: every array of every cell of
tests/data/runner_reference.yaml, as a runner computed them.

`python tests/runner_reference.py --write` recomputes tests/data/runner_reference.npz with
the runner of the checkout it runs in. Do that only when a change of the numbers is meant
(and say so in the commit); the reference in the repository was computed by RUNNER_VERSION
2 (commit 0a83715), before the runner was restructured into one flat loop with its starts
and Hessian spectra computed outside the cell (RUNNER_VERSION 3).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "runner_reference.yaml"
REFERENCE = DATA / "runner_reference.npz"
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


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/runner_reference.py --write")
    import jax

    jax.config.update("jax_enable_x64", True)
    np.savez_compressed(REFERENCE, **compute())
    print(f"wrote {REFERENCE}")
