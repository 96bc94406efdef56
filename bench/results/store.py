"""The cell store: every finished cell kept as its own part, written atomically, reused.

Layout under the store's root (``OPTBENCH_STORE``, ``--store``, default ``.store`` beside
the suite folders, e.g. ``results/.store``)::

    v2/cells/ab/<key>/        a finished cell: part.json and one Arrow IPC file per table
    v2/failed/<key>.json      a cell that raised or ran out of time (never a result)
    v2/surfaces/<key>.parquet a 2-d problem's contour grid
    tmp/                      parts being written (a crash leaves debris here, never a part)

A part is written into ``tmp/``, every file flushed and fsynced, then the folder is renamed
into place (one atomic rename) and the parent fsynced: a reader sees a whole part or none.
Reading checks the schema version and the cell key in part.json and in every table's
metadata; a part that fails to read (truncated, foreign schema, another key) is reported
and recomputed, never read as a result. Keys are content hashes, so two suites, two result
folders or two concurrent runs can share one store: the first to finish a cell stores it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from bench.faults import checkpoint
from bench.results.arrow_ipc import SUFFIX, read_ipc_bytes, write_ipc
from bench.results.durable import fsync_path, write_json_atomic
from bench.results.parquet import read_table, write_table

# 2: part tables are Arrow IPC files instead of parquet (read 10x faster; see arrow_ipc.py).
STORE_VERSION = 2
STORE_ENV = "OPTBENCH_STORE"
PART_FILE = "part.json"
# The tables a part may hold; curves and runs always, the rest where the cell records them.
PART_TABLES = ("curves", "runs", "paths", "curvature")


class StoreError(Exception):
    """A store that cannot be used (its folder cannot be created or written)."""


class Part:
    """A finished cell read back: what part.json says about it, and its tables.

    The tables' bytes were read and checked against their sha256 when the part was loaded;
    they are parsed only when first asked for (``arrow``, ``tables``), so a rerun that needs
    no table (nothing changed) reads the store without parsing it.
    """

    def __init__(
        self,
        key: str,
        info: dict[str, Any],
        tables: Mapping[str, pd.DataFrame] | None = None,
        data: Mapping[str, bytes] | None = None,
    ):
        self.key, self.info = key, info
        self._tables = dict(tables) if tables is not None else None
        self._arrow: dict[str, pa.Table] | None = None
        self._data = dict(data or {})

    @property
    def arrow(self) -> dict[str, pa.Table]:
        """The part's tables as Arrow tables (parsed on first use, key checked): what the
        suite's tables are assembled from, converted to pandas once for the whole suite."""
        if self._arrow is None:
            if self._tables is not None:
                self._arrow = {
                    name: pa.Table.from_pandas(frame, preserve_index=False)
                    for name, frame in self._tables.items()
                }
            else:
                self._arrow = {}
                for name, data in self._data.items():
                    table, metadata = read_ipc_bytes(data)
                    if metadata.get("part", {}).get("key") != self.key:
                        raise StoreError(f"table {name} of part {self.key} belongs to another key")
                    self._arrow[name] = table
                self._data = {}
        return self._arrow

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The part's frames by table name (parsed on first use)."""
        if self._tables is None:
            self._tables = {name: table.to_pandas() for name, table in self.arrow.items()}
        return self._tables


@dataclasses.dataclass(frozen=True)
class Failure:
    """A cell that raised (``error``) or ran past its budget (``timeout``)."""

    key: str
    status: str
    reason: str
    info: dict[str, Any]


def default_store(out: Path) -> Path:
    """$OPTBENCH_STORE, else ``.store`` in the folder that holds the suite folder."""
    value = os.environ.get(STORE_ENV)
    if value:
        return Path(value)
    return out.parent / ".store"


class CellStore:
    """Finished cells by key under ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / f"v{STORE_VERSION}"

    # -- paths -----------------------------------------------------------------------------

    def part_dir(self, key: str) -> Path:
        """Where the part of ``key`` lives (two-letter fan-out keeps folders small)."""
        return self.base / "cells" / key[:2] / key

    def failure_path(self, key: str) -> Path:
        """Where the failure record of ``key`` lives."""
        return self.base / "failed" / f"{key}.json"

    def surface_path(self, key: str) -> Path:
        """Where the contour grid of ``key`` lives."""
        return self.base / "surfaces" / f"{key}.parquet"

    def ensure(self) -> None:
        """Create the store's folders; a StoreError says why that is impossible."""
        try:
            for folder in ("cells", "failed", "surfaces"):
                (self.base / folder).mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot use the cell store {self.root}: {error.strerror or error}. Give "
                f"a writable folder with --store or ${STORE_ENV}."
            ) from None

    def _temporary(self, key: str) -> Path:
        return self.root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"

    # -- cells -----------------------------------------------------------------------------

    def has_part(self, key: str) -> bool:
        """Whether a part is there (not whether it reads: ``load`` says that)."""
        return (self.part_dir(key) / PART_FILE).is_file()

    def load(self, key: str, parse: bool = True) -> tuple[Part | None, str | None]:
        """(the part, None), or (None, why it cannot be used) when absent or unreadable.

        Every table's bytes are checked against the sha256 part.json recorded for them
        (an IPC file has no checksum of its own: a flipped bit can read back as another number);
        with ``parse`` the tables are parsed and their metadata checked against the key now,
        otherwise on first use of ``Part.tables`` (which then raises StoreError).
        """
        folder = self.part_dir(key)
        if not folder.is_dir():
            return None, None
        try:
            info = json.loads((folder / PART_FILE).read_text())
            if info.get("store_version") != STORE_VERSION or info.get("key") != key:
                return None, f"part {folder} belongs to another schema or key"
            data: dict[str, bytes] = {}
            for name in info["tables"]:
                data[name] = (folder / f"{name}{SUFFIX}").read_bytes()
                if hashlib.sha256(data[name]).hexdigest() != info["sha256"][name]:
                    return None, f"table {name} of part {folder} does not match its checksum"
            if not {"curves", "runs"} <= data.keys():
                return None, f"part {folder} lacks its curves or runs"
            part = Part(key, info, data=data)
            if parse:
                part.arrow  # noqa: B018 - parse now: a failure is reported, not raised later
        except Exception as error:  # whatever a damaged file raises, it is not a result
            return None, f"part {folder} cannot be read ({type(error).__name__}: {error})"
        return part, None

    def save(
        self,
        key: str,
        tables: Mapping[str, pd.DataFrame],
        info: Mapping[str, Any],
        replace: bool = False,
    ) -> Part:
        """Write a finished cell atomically; the part as stored.

        A valid part of the same key already there (another run sharing the store finished
        the cell first) is kept unless ``replace`` (``--force``): both hold the same numbers.
        """
        self.ensure()
        temporary = self._temporary(key)
        temporary.mkdir(parents=True)
        try:
            names = [n for n in PART_TABLES if n in tables and not tables[n].empty]
            names += [n for n in ("curves", "runs") if n not in names]
            meta = {"part": {"key": key, "store_version": STORE_VERSION}}
            digests = {}
            for name in names:
                path = temporary / f"{name}{SUFFIX}"
                write_ipc(tables[name], path, meta)
                fsync_path(path)
                digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            part = {
                **dict(info),
                "key": key,
                "store_version": STORE_VERSION,
                "tables": sorted(set(names)),
                "sha256": digests,
            }
            write_json_atomic(temporary / PART_FILE, part)
            checkpoint("part-write")
            target = self.part_dir(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            if replace or self.load(key)[0] is None:
                self._replace_dir(temporary, target)
            fsync_path(target.parent)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
        self.failure_path(key).unlink(missing_ok=True)
        return Part(key, part, tables={n: tables[n] for n in names})

    def _replace_dir(self, temporary: Path, target: Path) -> None:
        """Rename ``temporary`` to ``target``, moving a part already there aside first."""
        if target.exists():
            aside = self._temporary(target.name + ".old")
            with contextlib.suppress(FileNotFoundError):
                os.rename(target, aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(temporary, target)
        except OSError:
            if self.load(target.name)[0] is None:
                raise
            # Another run stored the same key between the two renames: as good as ours.

    # -- failures --------------------------------------------------------------------------

    def save_failure(self, key: str, status: str, reason: str, info: Mapping[str, Any]) -> None:
        """Remember that ``key`` raised or timed out (so a rerun reports it, not reuses it)."""
        self.ensure()
        record = {**dict(info), "key": key, "status": status, "reason": reason}
        write_json_atomic(self.failure_path(key), {"store_version": STORE_VERSION, **record})

    def failure(self, key: str) -> Failure | None:
        """The failure record of ``key``, or None (an unreadable record counts as none)."""
        path = self.failure_path(key)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if record.get("store_version") != STORE_VERSION or record.get("key") != key:
            return None
        return Failure(key, str(record["status"]), str(record["reason"]), record)

    def forget_failure(self, key: str) -> None:
        """Drop a failure record (``--retry-failed`` is about to run the cell again)."""
        self.failure_path(key).unlink(missing_ok=True)

    # -- surfaces --------------------------------------------------------------------------

    def load_surface(self, key: str) -> pd.DataFrame | None:
        """A stored contour grid, or None when absent or unreadable."""
        path = self.surface_path(key)
        try:
            frame, metadata = read_table(path)
        except Exception:  # a damaged grid is recomputed, whatever it raises
            return None
        return frame if metadata.get("part", {}).get("key") == key else None

    def save_surface(self, key: str, frame: pd.DataFrame) -> None:
        """Write a contour grid atomically."""
        self.ensure()
        path = self.surface_path(key)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            write_table(frame, temporary, {"part": {"key": key, "store_version": STORE_VERSION}})
            fsync_path(temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        fsync_path(path.parent)

    # -- timing ----------------------------------------------------------------------------

    def timings(self) -> Iterator[dict[str, Any]]:
        """part.json of every stored cell (what the dry run estimates the rest from)."""
        for path in (self.base / "cells").glob(f"*/*/{PART_FILE}"):
            try:
                yield json.loads(path.read_text())
            except (OSError, ValueError):
                continue

    def clean_temporary(self) -> None:
        """Remove debris of writers that died (only parts of this process are in flight)."""
        folder = self.root / "tmp"
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            pid = entry.name.split(".")[1] if entry.name.count(".") >= 2 else ""
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue  # another live run is writing this part
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
