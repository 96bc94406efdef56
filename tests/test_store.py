"""The cell store: a part is read back whole, or not at all, and never from another key."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from bench.results.arrow_ipc import write_ipc
from bench.results.store import PART_FILE, STORE_VERSION, CellStore

KEY = "ab" + "0" * 38
OTHER = "cd" + "1" * 38


def _tables(value: float = 1.0) -> dict[str, pd.DataFrame]:
    curves = pd.DataFrame(
        {"problem": "p", "optimizer": "o", "seed": [0, 0], "step": [0, 5], "loss": [value, 0.5]}
    )
    runs = pd.DataFrame({"problem": "p", "optimizer": "o", "seed": [0], "final_loss": [0.5]})
    return {"curves": curves, "runs": runs, "paths": pd.DataFrame()}


def test_a_saved_part_reads_back_equal(tmp_path):
    store = CellStore(tmp_path / "store")
    store.save(KEY, _tables(), {"compile_s": 1.5, "lanes": 2, "steps": 5})
    part, problem = store.load(KEY)
    assert problem is None
    pd.testing.assert_frame_equal(part.tables["curves"], _tables()["curves"])
    pd.testing.assert_frame_equal(part.tables["runs"], _tables()["runs"])
    assert "paths" not in part.tables  # an empty table is not stored
    assert part.info["compile_s"] == 1.5 and part.info["key"] == KEY
    assert store.load(OTHER) == (None, None)
    assert [t["key"] for t in store.timings()] == [KEY]


def test_nothing_is_left_in_the_temporary_folder(tmp_path):
    store = CellStore(tmp_path / "store")
    store.save(KEY, _tables(), {})
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        "truncate-table",
        "truncate-json",
        "delete-table",
        "foreign-schema",
        "foreign-key-json",
        "foreign-key-table",
        "flipped-byte",
    ],
)
def test_a_damaged_part_is_reported_never_read(tmp_path, damage):
    store = CellStore(tmp_path / "store")
    store.save(KEY, _tables(), {})
    folder = store.part_dir(KEY)
    info = json.loads((folder / PART_FILE).read_text())
    if damage == "truncate-table":
        data = (folder / "curves.arrow").read_bytes()
        (folder / "curves.arrow").write_bytes(data[: len(data) // 2])
    elif damage == "truncate-json":
        (folder / PART_FILE).write_text((folder / PART_FILE).read_text()[:10])
    elif damage == "flipped-byte":  # IPC may read this back as another number
        data = bytearray((folder / "curves.arrow").read_bytes())
        data[len(data) // 3] ^= 0x01
        (folder / "curves.arrow").write_bytes(bytes(data))
    elif damage == "delete-table":
        (folder / "runs.arrow").unlink()
    elif damage == "foreign-schema":
        (folder / PART_FILE).write_text(json.dumps({**info, "store_version": STORE_VERSION + 1}))
    elif damage == "foreign-key-json":
        (folder / PART_FILE).write_text(json.dumps({**info, "key": OTHER}))
    else:
        meta = {"part": {"key": OTHER, "store_version": STORE_VERSION}}
        write_ipc(_tables()["curves"], folder / "curves.arrow", meta)
        digest = hashlib.sha256((folder / "curves.arrow").read_bytes()).hexdigest()
        info["sha256"]["curves"] = digest  # a consistent checksum: the key check must catch it
        (folder / PART_FILE).write_text(json.dumps(info))
    part, problem = store.load(KEY)
    assert part is None
    assert str(folder) in problem
    # Saving again replaces the damaged part with a whole one.
    store.save(KEY, _tables(2.0), {})
    part, problem = store.load(KEY)
    assert problem is None and part.tables["curves"]["loss"].iloc[0] == 2.0


def test_a_valid_part_is_kept_unless_replace_is_asked(tmp_path):
    # Two runs sharing a store that computed the same cell: the first part stays (same
    # numbers); --force replaces it. A reader sees one whole part at every moment.
    first, second = CellStore(tmp_path / "store"), CellStore(tmp_path / "store")
    first.save(KEY, _tables(1.0), {})
    kept = second.save(KEY, _tables(3.0), {})
    assert first.load(KEY)[0].tables["curves"]["loss"].iloc[0] == 1.0
    assert kept.tables["curves"]["loss"].iloc[0] == 3.0  # what the caller computed
    second.save(KEY, _tables(3.0), {}, replace=True)
    assert first.load(KEY)[0].tables["curves"]["loss"].iloc[0] == 3.0
    assert len(list(first.part_dir(KEY).parent.iterdir())) == 1


def test_failures_are_remembered_and_forgotten(tmp_path):
    store = CellStore(tmp_path / "store")
    store.save_failure(KEY, "timeout", "ran past --cell-timeout 5 s", {"problem": "p"})
    failure = store.failure(KEY)
    assert (failure.status, failure.reason) == ("timeout", "ran past --cell-timeout 5 s")
    store.save(KEY, _tables(), {})  # a finished part supersedes the failure
    assert store.failure(KEY) is None
    store.save_failure(KEY, "error", "boom", {})
    store.forget_failure(KEY)
    assert store.failure(KEY) is None


def test_surfaces_round_trip_and_refuse_another_key(tmp_path):
    store = CellStore(tmp_path / "store")
    frame = pd.DataFrame({"x0": np.arange(3.0), "x1": np.arange(3.0), "loss": [1.0, 2.0, 3.0]})
    store.save_surface(KEY, frame)
    pd.testing.assert_frame_equal(store.load_surface(KEY), frame)
    os.rename(store.surface_path(KEY), store.surface_path(OTHER))
    assert store.load_surface(OTHER) is None
    assert store.load_surface(KEY) is None


def test_debris_of_dead_writers_is_cleaned(tmp_path):
    store = CellStore(tmp_path / "store")
    store.ensure()
    dead = tmp_path / "store" / "tmp" / f"{KEY}.999999999.abcd"
    dead.mkdir()
    alive = tmp_path / "store" / "tmp" / f"{KEY}.{os.getppid()}.abcd"
    alive.mkdir()
    store.clean_temporary()
    assert not dead.exists()
    assert alive.exists()  # a live process may still be writing it


def test_a_part_written_zstd_compressed_still_reads(tmp_path):
    # Parts were written zstd-compressed before they were written plain: an IPC file says
    # how it is compressed, so those parts are results as they stand, not recomputed.
    import pyarrow as pa

    store = CellStore(tmp_path / "store")
    store.save(KEY, _tables(4.0), {})
    folder = store.part_dir(KEY)
    info = json.loads((folder / PART_FILE).read_text())
    for name in info["tables"]:
        path = folder / f"{name}.arrow"
        table = pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with (
            pa.OSFile(str(path), "wb") as sink,
            pa.ipc.new_file(sink, table.schema, options=options) as writer,
        ):
            writer.write_table(table)
        info["sha256"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / PART_FILE).write_text(json.dumps(info))
    part, problem = store.load(KEY)
    assert problem is None
    pd.testing.assert_frame_equal(part.tables["curves"], _tables(4.0)["curves"])
    pd.testing.assert_frame_equal(part.tables["runs"], _tables(4.0)["runs"])
