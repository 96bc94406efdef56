"""`bench perf-executors`: a cold sweep with each executor, interleaved, against serial.

Each run is a fresh ``python -m bench run`` process with an empty store and JAX's persistent
compilation cache off, so every cell compiles and runs as in a cold ``make bench`` of the
same cells (tables only: drawing does not depend on the executor). Rounds rotate the order of
the executors, so a machine that slows down during the measurement slows all of them alike.
Every run's tables are compared with the first serial run's, cell by cell (relative tolerance
0): the executors must compute the same numbers. Writes ``perf-executors.md`` and
``perf-executors.parquet``; ``bench perf`` quotes the summary in ``perf.md``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.results.environment import cpu_model, environment
from bench.results.parquet import read_metadata

EXECUTORS = ("serial", "process", "dask")
MARKDOWN = "perf-executors.md"
TABLE = "perf-executors.parquet"


def _one_run(
    config: Path, executor: str, folder: Path, filters: Sequence[str], workers: int | None
) -> dict[str, Any]:
    out, store = folder / "out", folder / "store"
    command = [sys.executable, "-m", "bench", "run", str(config), "--out", str(out)]
    command += ["--store", str(store), "--no-report", "--executor", executor, *filters]
    if workers is not None and executor != "serial":
        command += ["--workers", str(workers)]
    env = {**os.environ, "OPTBENCH_CACHE_DIR": ""}  # cold: every cell compiles
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{executor} run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    timing = read_metadata(out / "runs.parquet")["timing"]
    return {
        "executor": executor,
        "wall_s": wall,
        "computing_s": timing["compute_s"],
        "compile_s": timing["compile_s"],
        "run_s": timing["run_s"],
        "cells": timing["cells_run"],
        "out": out,
    }


def _differing_cells(reference: Path, other: Path) -> list[str]:
    """`problem x optimizer` of every cell whose tables differ at relative tolerance 0."""
    from bench.compare import compare_folders

    comparison = compare_folders(reference, other, rtol=0.0)
    cells = []
    for frame in (comparison.changed, comparison.added, comparison.removed):
        if len(frame):
            pairs = zip(frame["problem"], frame["optimizer"], strict=True)
            cells += [f"{problem} x {optimizer}" for problem, optimizer in pairs]
    return cells


def measure_executors(
    config: Path,
    out_dir: Path,
    rounds: int = 2,
    filters: Sequence[str] = (),
    workers: int | None = None,
    executors: Sequence[str] = EXECUTORS,
    log=sys.stderr,
) -> Path:
    """Run the cold sweep ``rounds`` times with each executor; write the report."""
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="optbench-executors-"))
    reference: Path | None = None
    try:
        for round_ in range(rounds):
            order = list(executors[round_ % len(executors) :]) + list(
                executors[: round_ % len(executors)]
            )
            for executor in order:
                folder = scratch / f"{executor}-{round_}"
                row = _one_run(config, executor, folder, filters, workers)
                if reference is None and executor == "serial":
                    reference = row["out"]
                row["round"] = round_
                rows.append(row)
                print(
                    f"round {round_ + 1}/{rounds} {executor}: {row['wall_s']:.1f} s wall "
                    f"({row['cells']} cells, computing {row['computing_s']:.1f} s)",
                    file=log,
                    flush=True,
                )
        for row in rows:
            differing = [] if reference is None else _differing_cells(reference, row.pop("out"))
            row["differing_cells"] = len(differing)
            row["differing"] = ", ".join(differing)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = pd.DataFrame(rows).drop(columns=["out"], errors="ignore")
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out_dir / TABLE, index=False)
    markdown = executors_markdown(table, config, filters, workers)
    (out_dir / MARKDOWN).write_text(markdown)
    return out_dir / MARKDOWN


def summary_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per executor: median wall and computing seconds, and their ratios to serial's."""
    serial = table[table["executor"] == "serial"]
    base_wall = statistics.median(serial["wall_s"]) if len(serial) else float("nan")
    base_compute = statistics.median(serial["computing_s"]) if len(serial) else float("nan")
    rows = []
    for executor, runs in table.groupby("executor", sort=False):
        wall = statistics.median(runs["wall_s"])
        computing = statistics.median(runs["computing_s"])
        rows.append(
            {
                "executor": executor,
                "runs": len(runs),
                "wall_s": wall,
                "wall_ratio": wall / base_wall,
                "computing_s": computing,
                "computing_ratio": computing / base_compute,
                "differing_cells": int(runs["differing_cells"].max()),
            }
        )
    return rows


def summary_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| executor | runs | wall s (median) | x serial | computing s (median) | x serial | "
        "cells differing from serial |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary_rows(table):
        lines.append(
            f"| {row['executor']} | {row['runs']} | {row['wall_s']:.1f} | "
            f"{row['wall_ratio']:.3f} | {row['computing_s']:.1f} | {row['computing_ratio']:.3f} "
            f"| {row['differing_cells']} |"
        )
    return "\n".join(lines)


def executors_markdown(
    table: pd.DataFrame, config: Path, filters: Sequence[str], workers: int | None
) -> str:
    env = environment()
    cells = int(table["cells"].iloc[0]) if len(table) else 0
    selection = " ".join(filters) if filters else "every cell"
    lines = [
        "# Executors: a cold sweep, serial against a process pool and a local Dask cluster",
        "",
        f"Measured on {cpu_model()} ({os.cpu_count()} cores), jax {env['jax']}, commit "
        f"{env['git_commit']}: `{config}` ({selection}; {cells} cells), each run a fresh "
        "process with an empty store and no persistent compilation cache, tables only. "
        f"Workers: {workers or 'one per core'}. Rounds rotate the executors' order; "
        "`x serial` is the median over the median of the serial runs. `cells differing` "
        "compares each run's tables with the first serial run's at relative tolerance 0.",
        "",
        summary_markdown(table),
        "",
        "## Every run",
        "",
        "| round | executor | wall s | computing s | compile s (summed) | run s (summed) | "
        "cells differing from serial |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        differing = getattr(row, "differing", "") or "none"
        lines.append(
            f"| {row.round + 1} | {row.executor} | {row.wall_s:.1f} | {row.computing_s:.1f} | "
            f"{row.compile_s:.1f} | {row.run_s:.1f} | {differing} |"
        )
    return "\n".join(lines) + "\n"
