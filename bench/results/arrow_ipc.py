"""A part's tables as Arrow IPC files: the store's format, read once per suite.

Parts are small (a few kB to a few MB each) and a suite reads hundreds of them: parquet's
fixed cost per file (footer, page decoding, pandas metadata) made reading the default
suite's 1,500 part tables take 2.9 s. As IPC files they are written uncompressed: on the
same 1,558 tables, zstd-compressed files read in 1.3-1.6 s (lz4 1.5-1.9 s, threads no
faster) and uncompressed ones in 0.12-0.24 s, for 3x the disk (166 MB against 54 MB for
the default suite's store, which is not committed). The reader takes either (an IPC file
says how it is compressed), so parts written compressed stay valid. Suite tables stay
parquet (``parquet.py``): they are what users open and commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from bench.results.parquet import METADATA_KEY, json_default

SUFFIX = ".arrow"
_OPTIONS = pa.ipc.IpcWriteOptions(compression=None)


def write_ipc(frame: pd.DataFrame, path: Path, metadata: Mapping[str, Any]) -> None:
    """An IPC file of ``frame`` with our metadata beside pandas' (dtypes round-trip)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = dict(table.schema.metadata or {})
    merged[METADATA_KEY] = json.dumps(metadata, default=json_default).encode()
    table = table.replace_schema_metadata(merged)
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=_OPTIONS) as writer,
    ):
        writer.write_table(table)


def read_ipc_bytes(data: bytes) -> tuple[pa.Table, dict[str, Any]]:
    """The Arrow table and our metadata from an IPC file already in memory (the store
    checks its hash first; converting to pandas is left to the caller, once per suite)."""
    table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return table, (json.loads(raw) if raw else {})
