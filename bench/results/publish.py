"""A suite folder is written whole or not at all, by one run at a time.

Tables, plots and report are written into a staging folder beside ``--out`` and swapped in
at the end: on Linux one ``renameat2(RENAME_EXCHANGE)`` exchanges the two folders
atomically, so at every moment ``--out`` holds either the previous complete results or the
new complete results. Elsewhere (or on a file system without exchange) the old folder is
renamed aside, then the new one into place; a run killed between the two renames leaves the
old folder aside, and the next run restores it before doing anything else.

A lock file beside ``--out`` (``.<name>.lock``, an ``flock``) refuses a second concurrent
run into the same folder; the kernel releases it when its holder dies, so a killed run
never leaves a stale lock. The file records the holder's pid and command line for the
message the second run prints.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.faults import checkpoint
from bench.results.durable import fsync_path, write_json_atomic

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class LockedError(Exception):
    """Another run holds the lock of the output folder."""


def _sibling(out: Path, tag: str) -> Path:
    return out.parent / f".{out.name}.{tag}"


def lock_path(out: Path) -> Path:
    """The lock file of a suite folder."""
    return _sibling(out, "lock")


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the lock of ``out`` for the duration; LockedError if another run holds it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(out)
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole run: the lock lives in it
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"--out {out}: another `bench run` is writing this folder ({holder}). Wait "
                "for it to finish, or give another --out."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: "
            + " ".join(sys.argv)[:300]
        )
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the flock


def recover(out: Path) -> None:
    """Undo what a killed run left: restore an old folder set aside, drop staging debris.

    Call with the lock held: no other run is writing beside ``out``.
    """
    aside = _sibling(out, "old")
    if aside.is_dir() and not out.exists():
        os.rename(aside, out)  # killed between the two renames of the fallback swap
    for debris in out.parent.glob(f".{out.name}.staging-*"):
        shutil.rmtree(debris, ignore_errors=True)
    if aside.exists():
        shutil.rmtree(aside, ignore_errors=True)


def staging_folder(out: Path) -> Path:
    """A fresh, empty staging folder beside ``out`` (same file system: rename works)."""
    staging = _sibling(out, f"staging-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two folders; False where the platform cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


MANIFEST = "manifest.json"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(staging: Path, fingerprint: str) -> None:
    """List every file of a complete staging folder with its sha256, each fsynced first.

    The fingerprint says what the folder was made from; the hashes let a later run check
    that the folder still holds exactly that (nothing deleted, truncated or edited).
    """
    files = {}
    for path in _files(staging):
        fsync_path(path)
        files[path.relative_to(staging).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_json_atomic(staging / MANIFEST, {"fingerprint": fingerprint, "files": files})


def folder_is_current(out: Path, fingerprint: str) -> bool:
    """Whether ``out`` was made from ``fingerprint`` and every file it listed is intact."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        if manifest.get("fingerprint") != fingerprint:
            return False
        return all(
            hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
            for name, digest in manifest["files"].items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def publish(staging: Path, out: Path) -> None:
    """Swap the complete staging folder in as ``out``; the previous results are dropped."""
    checkpoint("publish")
    fsync_path(staging)
    if out.exists() and _exchange(staging, out):
        # staging now holds the previous results.
        fsync_path(out.parent)
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = _sibling(out, "old")
    if out.exists():
        os.rename(out, aside)
    os.rename(staging, out)
    fsync_path(out.parent)
    if aside.exists():
        shutil.rmtree(aside, ignore_errors=True)


def redraw(out: Path, draw: Callable[[Path], Any]) -> Path:
    """Redraw a suite folder's figures and report (``bench plot``) staged, under the lock.

    Every file but the figures, the report and the manifest is hard-linked (copied where
    links are impossible) into a staging folder, ``draw(staging)`` writes the figures and
    the report there, and the folder is swapped in whole: a kill while drawing leaves the
    previous figures, never a mix.
    """
    redrawn = {"report.md", "report.html", MANIFEST}
    with output_lock(out):
        recover(out)
        staging = staging_folder(out)
        try:
            for path in _files(out):
                relative = path.relative_to(out)
                # Screenshots picture the old page: taken again when asked for, else gone.
                if relative.parts[0] in ("plots", "screenshots") or relative.as_posix() in redrawn:
                    continue
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, staging / relative)
                except OSError:
                    shutil.copy2(path, staging / relative)
            draw(staging)
            fingerprint = ""
            with contextlib.suppress(OSError, ValueError):
                fingerprint = json.loads((out / MANIFEST).read_text()).get("fingerprint", "")
            write_manifest(staging, fingerprint)
            publish(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return out / "report.html"
