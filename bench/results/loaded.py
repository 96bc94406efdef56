"""The tables of one results folder, read once for the plots and the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from bench.results.parquet import read_table


@dataclasses.dataclass(frozen=True)
class Results:
    """curves and runs (always there), and the optional tables (None when absent)."""

    curves: pd.DataFrame
    runs: pd.DataFrame
    metadata: dict[str, Any]
    paths: pd.DataFrame | None = None
    curvature: pd.DataFrame | None = None
    surfaces: pd.DataFrame | None = None


def load_results(out: Path) -> Results:
    """Read curves.parquet and runs.parquet, and paths/curvature/surfaces where present."""
    curves, metadata = read_table(out / "curves.parquet")
    runs, _ = read_table(out / "runs.parquet")
    optional: dict[str, pd.DataFrame | None] = {}
    for name in ("paths", "curvature", "surfaces"):
        path = out / f"{name}.parquet"
        optional[name] = read_table(path)[0] if path.is_file() else None
    return Results(curves=curves, runs=runs, metadata=metadata, **optional)
