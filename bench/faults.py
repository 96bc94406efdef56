"""Fault injection for the robustness tests: die, fail or hang at a named stage, on request.

The tests prove that a sweep killed at any stage loses nothing but the cell in flight, and
that one failing cell is data. To make that happen at an exact place, they set
``OPTBENCH_FAULT`` for the child process to one or more ``;``-separated faults:

- ``kill:STAGE[:N]``: SIGKILL this process the N-th time (default 1) it reaches STAGE;
- ``kill-during:STAGE[:SECONDS]``: SIGKILL it SECONDS (default 0.2) after it enters STAGE,
  i.e. in the middle of the work (an XLA compile, drawing the figures);
- ``enospc:STAGE``: raise ``OSError(ENOSPC)`` there, as a full disk would;
- ``raise:cell:GLOB`` / ``hang:cell:GLOB``: the cells whose label (`problem x optimizer`)
  matches GLOB raise an exception / sleep for an hour when they start computing;
- ``kill:cell:GLOB``: SIGKILL the process computing such a cell (a worker of a pool, or the
  sweep itself); ``kill-once:cell:GLOB`` only the first time, across processes: it leaves a
  mark in the folder ``$OPTBENCH_FAULT_DIR`` (a worker that dies under a cell, then a fresh
  worker that computes it);
- ``raise:figure:GLOB`` / ``kill:figure:GLOB``: drawing a figure whose file name matches
  GLOB raises / SIGKILLs the drawing process of a pool (never the main process).

Stages: ``compile`` (a cell's XLA compile), ``cell-done`` (between cells), ``part-write``
(a part's files written, not yet renamed into the store), ``table-write`` (between two
suite tables in the staging folder), ``draw`` (figures and report), ``publish`` (staging
folder complete, not yet swapped in). Unset, every checkpoint is one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator

FAULT_ENV = "OPTBENCH_FAULT"
FAULT_DIR_ENV = "OPTBENCH_FAULT_DIR"  # where kill-once faults leave their marks
_reached: Counter[str] = Counter()


def _faults() -> list[tuple[str, str, str]]:
    value = os.environ.get(FAULT_ENV, "")
    faults = []
    for item in filter(None, (s.strip() for s in value.split(";"))):
        action, _, rest = item.partition(":")
        stage, _, argument = rest.partition(":")
        faults.append((action, stage, argument))
    return faults


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def checkpoint(stage: str) -> None:
    """Die or fail here if ``OPTBENCH_FAULT`` asks for this stage (tests only)."""
    faults = [f for f in _faults() if f[1] == stage] if FAULT_ENV in os.environ else []
    if not faults:
        return
    _reached[stage] += 1
    for action, _, argument in faults:
        if action == "kill" and _reached[stage] == int(argument or 1):
            _die()
        if action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@contextlib.contextmanager
def during(stage: str) -> Iterator[None]:
    """Mark a long stage, so ``kill-during:STAGE`` can kill the process inside it."""
    timers = []
    if FAULT_ENV in os.environ:
        for action, name, argument in _faults():
            if action == "kill-during" and name == stage:
                timer = threading.Timer(float(argument or 0.2), _die)
                timer.daemon = True
                timer.start()
                timers.append(timer)
    checkpoint(stage)
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()


def _named_faults(stage: str, name: str) -> list[str]:
    """The actions ``OPTBENCH_FAULT`` asks for at ``stage`` for ``name`` (a GLOB matches)."""
    if FAULT_ENV not in os.environ:
        return []
    return [
        action
        for action, at, pattern in _faults()
        if at == stage and fnmatch.fnmatchcase(name, pattern)
    ]


def _first_time(mark: str) -> bool:
    """Whether this is the first process to reach ``mark`` (a file made exclusively in
    ``$OPTBENCH_FAULT_DIR``)."""
    folder = os.environ.get(FAULT_DIR_ENV)
    if not folder:
        raise RuntimeError(f"a kill-once fault needs ${FAULT_DIR_ENV}, a folder for its marks")
    name = "".join(c if c.isalnum() else "_" for c in mark)
    try:
        os.close(os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def cell_fault(label: str) -> None:
    """Raise, hang or die in the cell ``label`` if ``OPTBENCH_FAULT`` asks for it (tests
    only)."""
    for action in _named_faults("cell", label):
        if action == "raise":
            raise RuntimeError(f"injected failure in {label}")
        if action == "hang":
            time.sleep(3600)
        if action == "kill" or (action == "kill-once" and _first_time(f"kill-once {label}")):
            _die()


def figure_fault(file: str) -> None:
    """Raise, or kill the drawing process, at the figure ``file`` if ``OPTBENCH_FAULT``
    asks for it (tests only)."""
    for action in _named_faults("figure", file):
        if action == "raise":
            raise RuntimeError(f"injected failure in figure {file}")
        if action == "kill" and multiprocessing.parent_process() is not None:
            _die()
