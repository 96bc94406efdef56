"""Parquet I/O: a frame with our metadata (environment, schema version, suite) beside pandas'."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

METADATA_KEY = b"optbench"


def write_table(frame: pd.DataFrame, path: Path, metadata: Mapping[str, Any]) -> None:
    """Parquet with our metadata (environment, schema version, suite) beside pandas'."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = dict(table.schema.metadata or {})
    merged[METADATA_KEY] = json.dumps(metadata, default=json_default).encode()
    # The repository keeps every version of the committed tables, so they are written small:
    # zstd is about 16% smaller than the default snappy on the committed curves, and float
    # columns split into byte streams (dictionaries only for the others, which would
    # otherwise take precedence) another 15%: recorded losses are nearly incompressible as
    # whole doubles, but their sign/exponent bytes are not. Reading back costs no measurable
    # time.
    floats = [field.name for field in table.schema if pa.types.is_floating(field.type)]
    others = [name for name in table.column_names if name not in floats]
    pq.write_table(
        table.replace_schema_metadata(merged),
        path,
        compression="zstd",
        use_dictionary=others,
        use_byte_stream_split=floats or False,
    )


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame and our metadata from a parquet file written by ``write_table``."""
    return pq.read_table(path).to_pandas(), read_metadata(path)


def read_metadata(path: Path) -> dict[str, Any]:
    """Our metadata alone (the schema is read, not the rows)."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the table metadata")
