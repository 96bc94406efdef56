"""A recomputed cell loads its executable from the persistent compilation cache.

(A plain second run computes nothing at all: its cells come from the cell store. `--force`
recomputes them, and that is when JAX's cache saves the compiles.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.results.parquet import read_table

REPO = Path(__file__).resolve().parents[1]


def test_second_run_loads_every_cell_from_the_cache(tmp_path):
    config = tmp_path / "suite.yaml"
    config.write_text(
        textwrap.dedent("""
        name: cached
        steps: 20
        seeds: 2
        problems:
          - kind: rosenbrock
          - kind: booth
        optimizers:
          - kind: gd
            learning_rate: [1e-3, 1e-2]
          - kind: newton
    """)
    )
    env = {**os.environ, "OPTBENCH_CACHE_DIR": str(tmp_path / "cache")}
    hits = []
    for run in range(2):
        out = tmp_path / f"out{run}"
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", str(config), "--out", str(out), "--no-report"]
            + (["--force"] if run == 1 else []),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        runs, meta = read_table(out / "runs.parquet")
        hits.append(runs.groupby(["problem", "optimizer"])["cache_hit"].first())
        if run == 1:
            assert meta["timing"]["xla_compiles"] == 0
            assert meta["timing"]["cache_hits"] >= 4
    assert not hits[0].any()
    assert hits[1].all()
