"""Suite tables from many cells' parts, in Arrow: concatenated once, converted to pandas once.

A suite of 500 cells has about 1,500 part tables. Converting each to pandas, relabelling
it and concatenating the frames took 11 s of a 14 s assembly; Arrow concatenates the
tables without copying their columns, and one conversion at the end is a fraction of that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROLES = ("best", "default")


def _bare(table: pa.Table) -> pa.Table:
    # pandas' schema metadata describes one part's columns; the union has others.
    return table.replace_schema_metadata(None)


def concat_labelled(
    tables: Sequence[pa.Table], problems: Sequence[str], optimizers: Sequence[str]
) -> pa.Table | None:
    """The tables one after another, each under its cell's problem and optimizer names.

    Parts are stored under the names of the suite that computed them; a suite that renames
    an entry reuses the part under its own name. Columns one part lacks (another
    optimizer's hyperparameters) are null there, NaN once in pandas. None when every table
    is empty.
    """
    kept = [(t, p, o) for t, p, o in zip(tables, problems, optimizers, strict=True) if t.num_rows]
    if not kept:
        return None
    combined = pa.concat_tables([_bare(t) for t, _, _ in kept], promote_options="permissive")
    counts = [t.num_rows for t, _, _ in kept]
    for column, names in (
        ("problem", [p for _, p, _ in kept]),
        ("optimizer", [o for *_, o in kept]),
    ):
        values = pa.array(np.repeat(np.asarray(names, dtype=object), counts), type=pa.string())
        combined = combined.set_column(combined.schema.get_field_index(column), column, values)
    return combined


def with_roles(table: pa.Table, best: int | None, default: int | None) -> pa.Table:
    """The rows of the tuned (``best``) and untuned (``default``) settings of one cell (by
    setting index), each marked with its ``role`` just after ``setting`` (a setting that is
    both appears twice, once per role)."""
    position = table.schema.get_field_index("setting") + 1
    kept = []
    for role, index in zip(ROLES, (best, default), strict=True):
        if index is None:
            continue
        rows = table.filter(pc.equal(table["setting"], index))
        kept.append(
            rows.add_column(position, "role", pa.array([role] * rows.num_rows, pa.string()))
        )
    if not kept:
        empty = table.slice(0, 0)
        return empty.add_column(position, "role", pa.array([], pa.string()))
    return pa.concat_tables(kept)


def to_frame(table: pa.Table | None, columns: Sequence[str] = ()) -> pd.DataFrame:
    """pandas of an assembled table (empty with ``columns`` when there is none)."""
    if table is None:
        return pd.DataFrame(columns=list(columns))
    return table.to_pandas()


def from_frame(frame: pd.DataFrame) -> pa.Table:
    """Arrow of a frame built in memory (placeholder rows of cells without a result)."""
    return pa.Table.from_pandas(frame, preserve_index=False)
