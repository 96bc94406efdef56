"""`bench export DIR --csv`: a results folder's tables as CSV, for tools that read no parquet.

Parquet stays the format the suite writes, reads and commits (typed, compressed, with its
metadata); the CSV copies are for spreadsheets, R, or a look with `grep`. They are written
so that nothing is lost on the way back: every float as the shortest text that reads back
as the same double (pandas' default), missing numbers as ``NaN``, empty text as an empty
field. ``pd.read_csv(path, keep_default_na=False, na_values=["NaN"])`` then gives back the
table (same columns, rows and values; empty text stays empty text instead of becoming
missing); a plain ``pd.read_csv(path)`` reads the same numbers. The metadata (environment,
suite, problems, optimizers) has no place in a CSV: it is written beside them as
``metadata.json``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.results.parquet import json_default, read_metadata, read_table

# How a missing number is written: a text that no table of ours holds as a value.
MISSING = "NaN"


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``: a
    reader (or a crash) finds the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def export_csv(folder: Path, out: Path) -> list[Path]:
    """Write ``<table>.csv`` for every ``<table>.parquet`` of ``folder`` into ``out``, and
    ``metadata.json``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in sorted(folder.glob("*.parquet")):
        frame, _ = read_table(table)
        target = out / f"{table.stem}.csv"
        write_atomically(
            target, lambda path, frame=frame: frame.to_csv(path, index=False, na_rep=MISSING)
        )
        written.append(target)
    metadata = read_metadata(folder / "runs.parquet")
    target = out / "metadata.json"
    write_atomically(
        target,
        lambda path: path.write_text(json.dumps(metadata, indent=1, default=json_default) + "\n"),
    )
    return [*written, target]
