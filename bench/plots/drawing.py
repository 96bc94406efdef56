"""Drawing every figure of a report: each in isolation (one that raises is recorded with its
error), in a pool of processes when there are many, reusing a previous report's figures
whose inputs did not change (fingerprints in plots/figures.json).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import PIL

from bench.analysis import Analysis
from bench.faults import figure_fault
from bench.plot_version import PLOTS_VERSION
from bench.plots.registry import (
    Job,
    ProblemInputs,
    ProfileInputs,
    ladder_rows,
    problem_jobs,
    profile_jobs,
)
from bench.plots.style import Figure, suite_styles
from bench.results.loaded import Results


@dataclasses.dataclass(frozen=True)
class Figures:
    """What `draw_all` wrote: the overview figures and each problem's figures (a record
    with ``error`` set is a figure that could not be drawn), and how many of them were
    drawn, copied unchanged from a previous report, or failed."""

    overview: list[Figure]
    problems: dict[str, list[Figure]]
    # Sentences in place of a figure that would show nothing (e.g. constant curvature).
    notes: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    drawn: int = 0
    reused: int = 0
    failed: int = 0


# plots/figures.json: each problem's fingerprint and figure records (and the profiles').
MANIFEST = "figures.json"


# Columns no figure reads; they differ between two runs of the very same cells.
UNDRAWN_COLUMNS = ("compile_s", "trace_s", "lower_s", "xla_s", "run_s", "cache_hit")


# The tables a problem's figures are drawn from (`Results` fields), by problem.
_TABLES = ("curves", "runs", "paths", "curvature", "surfaces")


ACROSS = "across problems"  # where a profile figure belongs, in messages


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: a value
        return False


def _drawn_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a fingerprint covers, sorted by name (timings are not drawn)."""
    frame = frame.drop(columns=[c for c in UNDRAWN_COLUMNS if c in frame.columns])
    return frame[sorted(map(str, frame.columns))]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray | None:
    """One uint64 per row of `_drawn_columns` (None where a value does not hash: lists).
    A row's hash depends on its own values only, so the whole table is hashed once and
    each problem's rows summed (`_row_hash_sums`)."""
    try:
        return pd.util.hash_pandas_object(_drawn_columns(frame), index=False).to_numpy(np.uint64)
    except TypeError:
        return None


def _row_hash_sums(frame: pd.DataFrame | None) -> dict[str, np.uint64]:
    """Per problem, the sum of its rows' `_row_hashes` (wrapping at 2**64); {} where the
    table is absent, has no problem column, or does not hash."""
    if frame is None or "problem" not in frame.columns:
        return {}
    hashes = _row_hashes(frame)
    if hashes is None:
        return {}
    groups = frame.groupby("problem", sort=False, observed=True).indices
    return {str(p): hashes[rows].sum(dtype=np.uint64) for p, rows in groups.items()}


def _digest_frame(
    digest: Any, frame: pd.DataFrame | None, row_sum: np.uint64 | None = None
) -> None:
    """Feed a table to the digest independently of its row order: columns by name, then
    the rows' hashes summed, so two tables with the same rows hash alike however they were
    written. ``row_sum``: that sum, where the caller has it already (`_row_hash_sums`)."""
    if frame is None:
        digest.update(b"<no table>")
        return
    dtypes = {str(c): str(t) for c, t in frame.dtypes.items() if c not in UNDRAWN_COLUMNS}
    columns = sorted(dtypes)
    digest.update(_json_bytes([columns, [dtypes[c] for c in columns], len(frame)]))
    # The sum of the rows' hashes (wrapping at 2**64) is the same in any row order, and
    # 50x faster than sorting a problem's curves by every column first.
    if row_sum is None and (rows := _row_hashes(frame)) is not None:
        row_sum = rows.sum(dtype=np.uint64)
    if row_sum is not None:
        digest.update(np.uint64(row_sum).tobytes())
        return
    frame = _drawn_columns(frame)
    # Values that do not hash (lists): sorted, then column by column.
    try:
        frame = frame.sort_values(columns, kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # values that do not compare (mixed types): the table's own order
        frame = frame.reset_index(drop=True)
    for column in columns:
        values = frame[column].to_numpy()
        if values.dtype.kind in "biufcmM":
            digest.update(np.ascontiguousarray(values).tobytes())
        else:
            try:  # vectorized: labels are most of these columns' rows
                hashed = pd.util.hash_pandas_object(frame[column].astype("string"), index=False)
                digest.update(hashed.to_numpy().tobytes())
            except TypeError:  # values that do not hash (lists): one by one
                digest.update(_json_bytes([None if _missing(v) else str(v) for v in values]))


def _by_problem(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if frame is None or "problem" not in frame.columns:
        return {}
    return {str(p): rows for p, rows in frame.groupby("problem", sort=False)}


def _problem_results(
    results: Results, problem: str, groups: Mapping[str, Mapping[str, pd.DataFrame]]
) -> Results:
    """``results`` narrowed to one problem's rows (what its figures read), so that a job
    sends a drawing process that problem's rows, not the whole suite's."""
    tables: dict[str, pd.DataFrame | None] = {}
    for name in _TABLES:
        frame = getattr(results, name)
        if frame is not None and "problem" in frame.columns:
            frame = groups.get(name, {}).get(problem, frame.iloc[:0])
        tables[name] = frame
    return dataclasses.replace(results, **tables)


def _context_digest(metadata: Mapping[str, Any], styles: Mapping[str, dict]) -> Any:
    """A digest of what every figure depends on besides its own rows: the drawing code's
    version, the libraries that draw, the suite's target, the optimizers and their styles."""
    digest = hashlib.sha256()
    digest.update(
        _json_bytes(
            {
                "plots_version": PLOTS_VERSION,
                "matplotlib": matplotlib.__version__,
                "pillow": PIL.__version__,
                "target": metadata.get("suite", {}).get("target"),
                "hyperparameters": metadata.get("hyperparameters"),
                "optimizers": metadata.get("optimizers", {}),
                "styles": styles,
            }
        )
    )
    return digest


def problem_fingerprint(
    problem: str,
    results: Results,
    table: pd.DataFrame,
    styles: Mapping[str, dict],
    groups: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
    hash_sums: Mapping[str, Mapping[str, np.uint64]] | None = None,
) -> str:
    """sha256 of exactly what ``problem``'s figures are drawn from: its rows of every table
    (timings left out), its rows of the comparison ``table``, its metadata, the suite's
    target, the optimizers' metadata and styles, and `PLOTS_VERSION`. ``groups``: the
    tables split by problem already (`draw_all` splits them once for all problems), and
    ``hash_sums`` their rows' hash sums (`_row_hash_sums`, one hashing pass per table)."""
    digest = _context_digest(results.metadata, styles)
    digest.update(_json_bytes(["problem", problem, results.metadata["problems"].get(problem)]))
    for name in (*_TABLES, "table"):
        frame = table if name == "table" else getattr(results, name)
        if frame is None:
            _digest_frame(digest, None)
            continue
        rows = (groups or {}).get(name, {}).get(problem) if groups else None
        if rows is None:
            rows = frame[frame["problem"] == problem] if "problem" in frame else frame.iloc[:0]
        digest.update(name.encode())
        row_sum = (hash_sums or {}).get(name, {}).get(problem)
        _digest_frame(digest, rows, row_sum)
    return digest.hexdigest()


def profiles_fingerprint(
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    styles: Mapping[str, dict],
    ladder: pd.DataFrame | None = None,
) -> str:
    """sha256 of what the profile figures are drawn from: the whole comparison table, every
    problem's metadata, the suite's target, the optimizers and styles, `PLOTS_VERSION`, and
    ``ladder`` (`ladder_rows` of runs: every seed's evaluations to each target)."""
    digest = _context_digest(metadata, styles)
    digest.update(_json_bytes(["profiles", metadata.get("problems", {})]))
    _digest_frame(digest, table)
    _digest_frame(digest, ladder)
    return digest.hexdigest()


def read_manifest(folder: Path | None) -> dict[str, Any]:
    """``folder``/plots/figures.json as written by `draw_all`; {} where absent or unreadable."""
    if folder is None:
        return {}
    try:
        manifest = json.loads((Path(folder) / "plots" / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _reusable(entry: Any, fingerprint: str, source: Path) -> list[dict[str, str]] | None:
    """The figure records of a previous report's entry, if they can stand for this one: same
    fingerprint, no figure that failed, every file there."""
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return None
    records = entry.get("figures")
    if not isinstance(records, list):
        return None
    for record in records:
        if not isinstance(record, dict) or record.get("error"):
            return None
        file = record.get("file")
        if not isinstance(file, str) or Path(file).name != file or not (source / file).is_file():
            return None
    return records


def _record(figure: Figure) -> dict[str, str]:
    record = {"file": figure.path.name, "title": figure.title, "caption": figure.caption}
    if figure.error is not None:
        record["error"] = figure.error
    return record


def _draw_one(job: Job, plots_dir: Path) -> Figure | None:
    """Draw one figure; if drawing raises, a record saying why, with nothing left behind
    (its open matplotlib figures closed, a half-written file removed)."""
    path = plots_dir / job.file
    before = set(plt.get_fignums())
    try:
        figure_fault(job.file)
        return job.draw(path)
    except Exception as error:  # one figure must never cost the report
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        path.unlink(missing_ok=True)
        why = " ".join(f"{type(error).__name__}: {error}".split())
        return Figure(path, job.title, "", error=why)


def _timed_draw(job: Job, plots_dir: Path) -> tuple[Figure | None, float]:
    """`_draw_one` and the seconds it took (what a drawing process sends back)."""
    start = time.perf_counter()
    figure = _draw_one(job, plots_dir)
    return figure, time.perf_counter() - start


# Drawing processes: $OPTBENCH_DRAW_WORKERS (1 = draw in this process), else one per core
# up to this many; fewer figures than MIN_PARALLEL_FIGURES are drawn here: starting the pool
# costs about as much as it saves on 4 figures (measured 15.1-18.9 s against 15.6-15.9 s
# for a whole add-one-problem rerun), while all 80 of the default suite draw in 62 s
# instead of 139 s on two cores.
DRAW_WORKERS_ENV = "OPTBENCH_DRAW_WORKERS"


MAX_DRAW_WORKERS = 4


MIN_PARALLEL_FIGURES = 8


def draw_workers(figures: int) -> int:
    """How many processes draw ``figures`` figures (1: this one)."""
    value = os.environ.get(DRAW_WORKERS_ENV, "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            raise ValueError(
                f"${DRAW_WORKERS_ENV}={value!r}: give a whole number of drawing processes "
                "(1 draws in the main process)."
            ) from None
    else:
        workers = (
            1 if figures < MIN_PARALLEL_FIGURES else min(os.cpu_count() or 1, MAX_DRAW_WORKERS)
        )
    return max(1, min(workers, figures))


def _start_drawing_process(environment: dict[str, str], main: int) -> None:
    """A pool process's start: the main process's environment (a fork server's children
    inherit the server's, from when it started), and an exit once the main process is
    gone (a killed run must not leave processes behind)."""
    os.environ.clear()
    os.environ.update(environment)
    threading.Thread(target=_exit_without, args=(main,), daemon=True).start()


def _exit_without(main: int) -> None:
    while True:
        time.sleep(0.5)
        try:
            os.kill(main, 0)
            with open(f"/proc/{main}/stat") as stat:  # a killed, unreaped process: a zombie
                if stat.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    os._exit(1)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # no /proc (not Linux): the pid check alone
            pass


def _draw_jobs(jobs: Sequence[Job], plots_dir: Path) -> Iterator[tuple[Figure | None, float]]:
    """(figure, seconds) of each job, in order: in a pool of drawing processes where there
    are enough figures, else here. Matplotlib draws on one core; two processes draw two
    figures at once. The pool's processes start from a fork server, not from this process
    (which holds JAX's threads, which fork would copy mid-lock). A job the pool cannot
    finish (its process died, its data would not pickle) is drawn here instead, so a
    figure fails only by its own error."""
    workers = draw_workers(len(jobs))
    if workers <= 1:
        for job in jobs:
            yield _timed_draw(job, plots_dir)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.plots"])
    with concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_drawing_process,
        initargs=(dict(os.environ), os.getpid()),
    ) as pool:
        futures = [pool.submit(_timed_draw, job, plots_dir) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            try:
                yield future.result()
            except Exception:  # BrokenProcessPool, PicklingError, ...: this process draws
                yield _timed_draw(job, plots_dir)


@dataclasses.dataclass
class _Progress:
    total: int
    log: TextIO
    done: int = 0
    drawn: int = 0
    reused: int = 0
    failed: int = 0

    def reuse(self, record: Mapping[str, str]) -> None:
        self.done += 1
        self.reused += 1
        self._print(f"reused  [{self.done}/{self.total}] {record['file']} (inputs unchanged)")

    def drew(self, job: Job, figure: Figure | None, seconds: float, where: str) -> None:
        self.done += 1
        line = f"drawing [{self.done}/{self.total}] {job.file} {seconds:.1f} s"
        if figure is None:
            self._print(f"{line}: nothing to show, no figure")
        elif figure.error is None:
            self.drawn += 1
            self._print(line)
        else:
            self.failed += 1
            print(
                f"figure {job.file} ({where}): could not be drawn: {figure.error}",
                file=sys.stderr,
                flush=True,
            )
            if self.log is not sys.stderr:
                self._print(f"{line}: could not be drawn: {figure.error}")

    def _print(self, line: str) -> None:
        print(line, file=self.log, flush=True)


def draw_all(
    results: Results,
    analysis: Analysis,
    plots_dir: Path,
    log: TextIO | None = None,
    reuse_from: Path | None = None,
) -> Figures:
    """Every figure of the report into plots_dir (stale PNGs removed first), and
    plots_dir/figures.json (fingerprints, figure records, notes).

    ``analysis``: `bench.analysis.analyse(results)`; its ``table`` gives the tuned setting
    of each optimizer, ranked per problem, its ``settings`` every setting's summary (the
    learning-rate figures). Each figure is drawn in isolation: one that raises is reported on
    stderr and recorded with its error, and the others are drawn all the same. ``log``
    (default stderr) gets one line per figure. ``reuse_from``: a results folder whose
    plots/figures.json holds the same fingerprint for a problem (or for the profiles) and
    all of its PNG files: those are copied instead of drawn.
    """
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    log = sys.stderr if log is None else log
    metadata = results.metadata
    styles = suite_styles(results)
    previous = read_manifest(reuse_from)
    source = None if reuse_from is None else Path(reuse_from) / "plots"
    in_place = source is not None and source.resolve() == plots_dir.resolve()
    groups = {name: _by_problem(getattr(results, name)) for name in _TABLES}
    table = analysis.table
    groups["table"] = _by_problem(table)
    groups["settings"] = _by_problem(analysis.settings)
    hash_sums = {name: _row_hash_sums(getattr(results, name)) for name in _TABLES}
    hash_sums["table"] = _row_hash_sums(table)

    # (problem, or None for the profiles; fingerprint; jobs; records to reuse, or None)
    plan: list[tuple[str | None, str, list[Job], list[dict[str, str]] | None]] = []
    notes: dict[str, list[str]] = {}
    previous_problems = previous.get("problems") or {}
    for problem in metadata["problems"]:
        best = table[table["problem"] == problem]
        settings = groups["settings"].get(problem, analysis.settings.iloc[:0])
        jobs, problem_notes = (
            ([], [])
            if best.empty
            else problem_jobs(
                ProblemInputs(
                    problem, _problem_results(results, problem, groups), best, settings, styles
                )
            )
        )
        if problem_notes:
            notes[problem] = problem_notes
        fingerprint = problem_fingerprint(problem, results, table, styles, groups, hash_sums)
        records = None
        if source is not None and isinstance(previous_problems, dict):
            records = _reusable(previous_problems.get(problem), fingerprint, source)
        plan.append((problem, fingerprint, jobs, records))
    fingerprint = profiles_fingerprint(table, metadata, styles, ladder_rows(results.runs))
    records = None if source is None else _reusable(previous.get("profiles"), fingerprint, source)
    profiles = ProfileInputs(table, metadata, styles, ladder_rows(results.runs))
    plan.append((None, fingerprint, profile_jobs(profiles), records))

    keep = {r["file"] for *_, records in plan if records for r in records} if in_place else set()
    for stale in plots_dir.glob("*.png"):
        if stale.name not in keep:
            stale.unlink()
    (plots_dir / MANIFEST).unlink(missing_ok=True)

    progress = _Progress(
        total=sum(len(jobs) if records is None else len(records) for _, _, jobs, records in plan),
        log=log,
    )
    figures: dict[str, list[Figure]] = {}
    overview: list[Figure] = []
    manifest: dict[str, Any] = {"plots_version": PLOTS_VERSION, "problems": {}}
    # Copy what can be reused, then draw everything else in one batch (in parallel).
    for index, (problem, fingerprint, jobs, records) in enumerate(plan):
        if records is not None and not in_place:
            try:
                for record in records:
                    shutil.copy2(source / record["file"], plots_dir / record["file"])
            except OSError:  # gone or unreadable since it was checked: draw them after all
                progress.total += len(jobs) - len(records)
                plan[index] = (problem, fingerprint, jobs, None)
    pending = [job for *_, jobs, records in plan if records is None for job in jobs]
    drawn = _draw_jobs(pending, plots_dir)
    for problem, fingerprint, jobs, records in plan:
        written: list[Figure] = []
        if records is not None:
            for record in records:
                path = plots_dir / record["file"]
                written.append(Figure(path, record["title"], record["caption"]))
                progress.reuse(record)
        else:
            for job in jobs:
                figure, seconds = next(drawn)
                progress.drew(job, figure, seconds, ACROSS if problem is None else problem)
                if figure is not None:
                    written.append(figure)
        entry = {"fingerprint": fingerprint, "figures": [_record(f) for f in written]}
        if problem is None:
            overview = written
            manifest["profiles"] = entry
        else:
            figures[problem] = written
            manifest["problems"][problem] = {**entry, "notes": notes.get(problem, [])}
    drawn.close()
    (plots_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return Figures(
        overview=overview,
        problems=figures,
        notes=notes,
        drawn=progress.drawn,
        reused=progress.reused,
        failed=progress.failed,
    )
