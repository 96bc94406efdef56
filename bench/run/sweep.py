"""Run a checked suite through the cell store, then write its folder staged, under a lock.

A sweep is planned first: every cell of the suite (filtered by ``--problem`` /
``--optimizer``) is skipped by a declared capability, reused from the store, remembered as
failed (``error`` / ``timeout``: reported, rerun only with ``--retry-failed``), or computed.
Each computed cell is written to the store as soon as it finishes, so a sweep killed at any
moment loses only the cell in flight. The suite's tables are then assembled from the parts,
written with the plots and the report into a staging folder, and swapped in whole
(``bench.results.publish``). A rerun whose cells and metadata are all unchanged writes
nothing at all.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from bench.config import Suite
from bench.faults import checkpoint, during
from bench.plot_version import PLOTS_VERSION, REPORT_VERSION
from bench.results.assembly import concat_labelled, from_frame, to_frame, with_roles
from bench.results.columns import CURVE_COLUMNS, RUN_COLUMNS, setting_labels
from bench.results.environment import environment
from bench.results.frames import order_columns, skipped_runs_frame
from bench.results.parquet import write_table
from bench.results.publish import (
    folder_is_current,
    output_lock,
    publish,
    recover,
    staging_folder,
    write_manifest,
)
from bench.results.store import CellStore, Part, default_store
from bench.results.surfaces import surface_frame
from bench.run.costs import cell_cost, largest_first
from bench.run.devices import lane_split
from bench.run.executors import ExecutorOptions, Outcome, make_executor
from bench.run.keys import Cell, digest, suite_cells, surface_key
from bench.run.policies import kept_settings, skip_reason, targets_for
from bench.run.progress import Progress
from problems import surface_class

# What a plan does with a cell.
SKIP, REUSE, FAILED, COMPUTE = "skip", "reuse", "failed", "compute"
FAILED_STATUSES = ("error", "timeout")
SUITE_TABLES = ("curves", "runs", "paths", "curvature", "surfaces")
# Bumped when what a suite folder holds changes for the same cells (tables, figures, report):
# an unchanged rerun is recognised by a fingerprint that includes it.
FOLDER_VERSION = 1
# What a computed cell's part.json adds to the run's sums (the timing header).
SUMMED = ("compile_s", "trace_s", "lower_s", "xla_s", "run_s", "xla_compiles", "cache_hits")


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """The command line's say over a sweep (``bench run --help``)."""

    force: bool = False  # recompute every cell, even finished ones
    retry_failed: bool = False  # rerun the cells remembered as error / timeout
    problems: tuple[str, ...] = ()  # globs over problem names; empty: all
    optimizers: tuple[str, ...] = ()  # globs over optimizer entry names; empty: all
    store: Path | None = None  # the cell store; None: default_store(out)
    draw: bool = True  # plots and report (False: tables only)
    screenshots: bool = False  # pictures of report.html's key sections (bench.report.browser)
    # Who computes the cells and how (executor, workers, devices, budget); its ``force`` is
    # this record's own.
    computing: ExecutorOptions = dataclasses.field(default_factory=ExecutorOptions)

    def executor_options(self) -> ExecutorOptions:
        """What the executor takes of these options."""
        return dataclasses.replace(self.computing, force=self.force)


@dataclasses.dataclass
class Planned:
    """What the sweep does with one cell, and what it knows of it already."""

    cell: Cell
    action: str  # SKIP, REUSE, FAILED or COMPUTE
    reason: str = ""  # why skipped, or the failure's message
    status: str = ""  # a failure's status (error, timeout)
    part: Part | None = None
    note: str = ""  # e.g. why a stored part could not be used
    fresh: bool = False  # computed (or failed) in this run


@dataclasses.dataclass(frozen=True)
class SweepSummary:
    """What a sweep did: counts by action, whether it wrote the folder, the time it took."""

    out: Path
    cells: int
    computed: int
    reused: int
    skipped: int
    failed: int
    wrote: bool
    total_s: float
    report: Path | None


def selected(suite: Suite, options: SweepOptions) -> list[Cell]:
    """The suite's cells whose problem and optimizer names match the filters."""

    def matches(name: str, globs: Sequence[str]) -> bool:
        return not globs or any(fnmatch.fnmatchcase(name, g) for g in globs)

    return [
        c
        for c in suite_cells(suite, lane_split(options.computing.devices))
        if matches(c.problem.name, options.problems) and matches(c.setting.name, options.optimizers)
    ]


def plan(
    suite: Suite, cells: Sequence[Cell], store: CellStore, options: SweepOptions
) -> list[Planned]:
    """Decide, for each cell, whether it is skipped, reused, failed earlier or computed."""
    plans = []
    for cell in cells:
        reason = skip_reason(cell.problem, cell.setting, suite)
        if reason is not None:
            plans.append(Planned(cell, SKIP, reason=reason))
            continue
        if options.force:
            plans.append(Planned(cell, COMPUTE))
            continue
        # Checked (checksums), not parsed: an unchanged rerun needs no table at all.
        part, problem = store.load(cell.key, parse=False)
        if part is not None:
            plans.append(Planned(cell, REUSE, part=part))
            continue
        failure = store.failure(cell.key)
        if failure is not None and not options.retry_failed:
            plans.append(Planned(cell, FAILED, reason=failure.reason, status=failure.status))
            continue
        plans.append(Planned(cell, COMPUTE, note=problem or ""))
    return plans


def _placeholder_runs(planned: Planned, suite: Suite) -> pd.DataFrame:
    """Rows for a cell that has no result (skipped or failed), so it is never silent."""
    status = "skipped" if planned.action == SKIP else planned.status
    return skipped_runs_frame(
        planned.cell.problem.name,
        planned.cell.setting.name,
        planned.cell.setting.settings(),
        suite.seeds,
        suite.steps,
        planned.reason,
        status=status,
    )


def _hyperparameter_names(suite: Suite) -> list[str]:
    names: list[str] = []
    for setting in suite.optimizers:
        names += [n for n in setting.grid if n not in names]
    return names


def suite_metadata(suite: Suite, cells: Sequence[Cell]) -> dict[str, Any]:
    """What the plots and the report need besides the rows: the suite and its records."""
    indices = sorted({c.problem_index for c in cells})
    problems = [(suite.problems[i], suite.raw["problems"][i]["kind"]) for i in indices]
    settings = [suite.optimizers[j] for j in sorted({c.optimizer_index for c in cells})]
    return {
        "environment": environment(),
        # The hyperparameter columns of the tables (YAML names): listed, never guessed.
        "hyperparameters": list(dict.fromkeys(n for s in settings for n in s.grid)),
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "source": suite.source,
            "steps": suite.steps,
            "seeds": list(suite.seeds),
            "target": suite.target,
            "dtype": suite.dtype,
            "targets": list(targets_for(suite)),
            "config": suite.raw,
        },
        "problems": {
            p.name: {
                "dim": p.dim,
                "f_star": p.f_star,
                "x_star": None if p.x_star is None else np.asarray(p.x_star).tolist(),
                "bounds": None if p.bounds is None else [list(b) for b in p.bounds],
                "stochastic": p.stochastic,
                "description": p.description,
                "source": p.source,
                "smoothness": p.smoothness,
                "kind": kind,
                "surface_class": surface_class(kind, p.stochastic),
            }
            for p, kind in problems
        },
        "optimizers": {
            s.name: {
                "kind": s.entry.name,
                "family": s.entry.family,
                "static": dict(s.static),
                "grid": {k: list(v) for k, v in s.grid.items()},
                "schedule": None if s.schedule is None else [s.schedule[0], dict(s.schedule[1])],
                "clip_norm": s.clip_norm,
                "sweeps": list(s.grid),
                # The display label of every setting index (``setting`` in the tables).
                "setting_labels": setting_labels(s.settings()),
                "default_index": s.default_index(),
                "default_setting": (
                    None
                    if s.default_index() is None
                    else setting_labels(s.settings())[s.default_index()]
                ),
                "description": s.entry.description,
                # A line search whose accepted point the runner must evaluate again.
                "evaluates_accepted_twice": s.entry.deterministic_only_for(s.static)
                and not s.entry.reports_accepted_point,
            }
            for s in settings
        },
    }


def _what(cell: Cell, suite: Suite) -> str:
    n = max(len(cell.setting.settings()), 1)
    return f"{n} setting{'s' * (n != 1)} x {len(suite.seeds)} seed{'s' * (len(suite.seeds) != 1)}"


def _compute_all(
    suite: Suite, plans: list[Planned], store: CellStore, options: SweepOptions, log: TextIO
) -> dict[str, Any]:
    """Compute the COMPUTE cells (each written to the store by whoever computes it); print
    a line for every cell: the others first, in the suite's order, then each computed cell
    as it finishes."""
    todo = [p for p in plans if p.action == COMPUTE]
    progress = Progress(len(plans), sum(cell_cost(p.cell, suite) for p in todo), log)
    totals: dict[str, Any] = {name: 0 for name in SUMMED}
    totals["slowest_cell"] = None
    index = {id(p): i for i, p in enumerate(plans, 1)}
    for planned in plans:
        head = progress.start(index[id(planned)], planned.cell.label, "")
        if planned.action == SKIP:
            progress.line(f"{head}skipped: {planned.reason}")
        elif planned.action == REUSE:
            info = planned.part.info if planned.part else {}
            progress.line(
                f"{head}reused from the store (computed {info.get('computed_at', '?')}; "
                f"compile {info.get('compile_s', 0):.2f} s, run {info.get('run_s', 0):.2f} s)"
            )
        elif planned.action == FAILED:
            progress.line(
                f"{head}{planned.status} in an earlier run ({planned.reason}); "
                "--retry-failed reruns it"
            )
    computing = time.perf_counter()
    # Two entries of one spec share a key: computed once, its outcome applies to both.
    by_key: dict[str, list[Planned]] = {}
    for planned in todo:
        by_key.setdefault(planned.cell.key, []).append(planned)
    cells = [same[0].cell for same in by_key.values()]
    executor = make_executor(suite, store, options.executor_options(), cells)
    # A setting of the run beside the sums (who computed, how), not a sum.
    totals["executor"] = executor.name
    totals["executor_description"] = executor.describe()
    totals["compile_ahead"] = executor.compile_ahead
    if executor.parallel:
        cells = largest_first(cells, suite, list(store.timings()))
    try:
        if cells:
            progress.line(f"computing {len(cells)} cells with {totals['executor_description']}")
        for planned in todo:
            if planned.note:
                head = progress.start(index[id(planned)], planned.cell.label, "")
                progress.line(f"{head}recomputed: {planned.note}")
            planned.fresh = True
        # An earlier failure record stays until the cell's new outcome replaces it (an
        # interrupted retry keeps it); a part stored for the key removes it.
        for outcome in executor.run(cells) if cells else ():
            for copy, planned in enumerate(by_key[outcome.cell.key]):
                sums = totals if copy == 0 else None  # computed once, counted once
                _record(planned, outcome, suite, store, progress, index[id(planned)], sums)
            checkpoint("cell-done")
    finally:
        executor.close()
        progress.close()
    totals["compute_s"] = time.perf_counter() - computing  # wall time: compiles overlap runs
    return totals


def _record(
    planned: Planned,
    outcome: Outcome,
    suite: Suite,
    store: CellStore,
    progress: Progress,
    index: int,
    totals: dict[str, Any] | None,
) -> None:
    """What one cell's outcome does to its plan, the run's sums (unless None) and the log."""
    cell = planned.cell
    head = progress.start(index, cell.label, "")
    if outcome.status == "lost":
        progress.line(f"{head}{outcome.reason}")
        return
    tail = progress.advance(cell_cost(cell, suite))
    if outcome.status != "done":
        store.save_failure(
            cell.key,
            outcome.status,
            outcome.reason,
            {"problem": cell.problem.name, "optimizer": cell.setting.name},
        )
        planned.action, planned.status, planned.reason = FAILED, outcome.status, outcome.reason
        progress.line(f"{head}{outcome.status}: {outcome.reason} {tail}")
        return
    planned.part = outcome.part
    planned.action = REUSE
    info = outcome.part.info if outcome.part is not None else {}
    if totals is not None:
        for name in SUMMED:
            totals[name] += info.get(name, 0)
        slowest = totals["slowest_cell"]
        cost = info["compile_s"] + info["run_s"]
        if slowest is None or cost > slowest["compile_s"] + slowest["run_s"]:
            keep = ("problem", "optimizer", "compile_s", "run_s")
            totals["slowest_cell"] = {k: info[k] for k in keep}
    diverged = info.get("diverged", 0)
    progress.line(
        f"{head}{_what(cell, suite)}: compile {info['compile_s']:.2f} s, "
        f"run {info['run_s']:.2f} s"
        + (f", {diverged} diverged" if diverged else "")
        + (f", in {info['chunks']} chunks (memory)" if info.get("chunks", 1) > 1 else "")
        + (f", over {info['devices']} devices" if info.get("devices", 1) > 1 else "")
        + f" {tail}"
    )


def assemble(suite: Suite, plans: Sequence[Planned]) -> dict[str, pd.DataFrame]:
    """The suite's tables from its cells' parts (and placeholder rows for the rest), in
    plan order, under this suite's names; paths and curvature of the kept lanes only."""
    stored = [p for p in plans if p.action == REUSE and p.part is not None]
    problems = [p.cell.problem.name for p in stored]
    optimizers = [p.cell.setting.name for p in stored]
    # Runs keep plan order: a cell without a result has placeholder rows where it stands.
    runs_tables, run_problems, run_optimizers = [], [], []
    for planned in plans:
        if planned.action == REUSE and planned.part is not None:
            runs_tables.append(planned.part.arrow["runs"])
        else:
            runs_tables.append(from_frame(_placeholder_runs(planned, suite)))
        run_problems.append(planned.cell.problem.name)
        run_optimizers.append(planned.cell.setting.name)
    runs = to_frame(concat_labelled(runs_tables, run_problems, run_optimizers))
    hyper = _hyperparameter_names(suite)
    tables = {
        "curves": order_columns(
            to_frame(
                concat_labelled([p.part.arrow["curves"] for p in stored], problems, optimizers),
                CURVE_COLUMNS,
            ),
            list(CURVE_COLUMNS) + hyper,
        ),
        "runs": order_columns(
            runs, ["problem", "optimizer", "setting", "seed", *hyper, *RUN_COLUMNS[4:]]
        ),
    }
    if not stored:
        return tables
    from_store = np.repeat(
        [p.action == REUSE and p.part is not None for p in plans],
        [t.num_rows for t in runs_tables],
    )
    stored_runs = runs[from_store]
    kept = kept_settings(
        stored_runs,
        {(p.cell.problem.name, p.cell.setting.name): p.cell.setting for p in stored},
        {p.cell.problem.name: {"f_star": p.cell.problem.f_star} for p in stored},
    )
    for name in ("paths", "curvature"):
        parts = [p for p in stored if name in p.part.arrow]
        table = concat_labelled(
            [
                with_roles(p.part.arrow[name], *kept[(p.cell.problem.name, p.cell.setting.name)])
                for p in parts
            ],
            [p.cell.problem.name for p in parts],
            [p.cell.setting.name for p in parts],
        )
        if table is not None:
            tables[name] = to_frame(table)
    return tables


def _surfaces(suite: Suite, cells: Sequence[Cell], store: CellStore) -> pd.DataFrame | None:
    """Contour grids of the 2-d problems, from the store or computed once and stored."""
    frames = []
    for index, problem in enumerate(suite.problems):
        if problem.dim != 2 or not any(c.problem_index == index for c in cells):
            continue
        key = surface_key(suite, index)
        frame = store.load_surface(key)
        if frame is None:
            frame = surface_frame(problem)
            store.save_surface(key, frame)
        frame = frame.copy()
        frame["problem"] = problem.name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def fingerprint(plans: Sequence[Planned], metadata: dict[str, Any], draw: bool) -> str:
    """What the folder's content follows from: each cell's key, fate and stored content
    (so a --force recompute is published), the metadata, and whether a report is drawn."""
    stable = {k: v for k, v in metadata.items() if k not in ("environment", "timing")}
    cells = []
    for p in plans:
        content = p.part.info.get("sha256") if p.part is not None else None
        cell = p.cell
        cells.append([cell.key, cell.problem.name, cell.setting.name, p.action, p.status])
        cells[-1] += [p.reason, content]
    return digest(
        {
            "cells": cells,
            "metadata": stable,
            "draw": draw,
            "folder": FOLDER_VERSION,
            "plots": PLOTS_VERSION,
            "report": REPORT_VERSION,
        }
    )


def write_folder(
    out: Path,
    tables: dict[str, pd.DataFrame],
    metadata: dict[str, Any],
    draw: bool,
    log: TextIO,
    screenshots: bool = False,
) -> Path | None:
    """Write tables (and plots and report) into a staging folder, then swap it in as out."""
    staging = staging_folder(out)
    try:
        for name in SUITE_TABLES:
            if name in tables and tables[name] is not None:
                write_table(tables[name], staging / f"{name}.parquet", metadata)
                checkpoint("table-write")
        report = None
        if draw:
            from bench.report import build_report

            # Figures of problems whose rows did not change are copied from the folder
            # being replaced instead of drawn again.
            with during("draw"):
                built = build_report(
                    staging,
                    log=log,
                    reuse_from=out if out.is_dir() else None,
                    screenshots=screenshots,
                )
            report = out / built.html.name
        write_manifest(staging, metadata["fingerprint"])
        publish(staging, out)
        return report
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _counts(plans: Sequence[Planned]) -> dict[str, int]:
    return {
        "computed": sum(p.fresh and p.action == REUSE for p in plans),
        "reused": sum(not p.fresh and p.action == REUSE for p in plans),
        "skipped": sum(p.action == SKIP for p in plans),
        "failed": sum(p.action == FAILED for p in plans),
    }


def _timing(totals: dict[str, Any], counts: dict[str, int], total_s: float) -> dict[str, Any]:
    """Where this run's time went (the report's timing header; perf.md quotes it)."""
    return {
        **totals,
        "total_s": total_s,
        "compile_share": totals["compile_s"] / total_s if total_s > 0 else float("nan"),
        "cells_run": counts["computed"],
        "cells_reused": counts["reused"],
        "cells_skipped": counts["skipped"],
        "cells_failed": counts["failed"],
    }


def run_suite(
    suite: Suite,
    out: Path,
    log: TextIO | None = None,
    options: SweepOptions = SweepOptions(),
) -> SweepSummary:
    """Compute what is missing, then write the suite folder ``out`` whole (see module doc)."""
    log = log or sys.stderr
    start = time.perf_counter()
    store = CellStore(options.store or default_store(out))
    store.ensure()
    with output_lock(out):
        recover(out)
        store.clean_temporary()
        cells = selected(suite, options)
        plans = plan(suite, cells, store, options)
        totals = _compute_all(suite, plans, store, options, log)
        counts = _counts(plans)
        metadata = suite_metadata(suite, cells)
        metadata["filters"] = {
            "problems": list(options.problems),
            "optimizers": list(options.optimizers),
        }
        metadata["fingerprint"] = fingerprint(plans, metadata, options.draw)
        wrote, report, stages = False, None, ""
        if not folder_is_current(out, metadata["fingerprint"]):
            assembling = time.perf_counter()
            tables = assemble(suite, plans)
            surfaces = _surfaces(suite, cells, store)
            if surfaces is not None:
                tables["surfaces"] = surfaces
            totals["tables_s"] = time.perf_counter() - assembling
            metadata["timing"] = _timing(totals, counts, time.perf_counter() - start)
            drawing = time.perf_counter()
            report = write_folder(
                out, tables, metadata, options.draw, log, screenshots=options.screenshots
            )
            stages = (
                f"; computing {totals['compute_s']:.1f} s: compile {totals['compile_s']:.1f} s "
                f"(trace {totals['trace_s']:.1f}, lower "
                f"{totals['lower_s']:.1f}, XLA {totals['xla_s']:.1f}), run "
                f"{totals['run_s']:.1f} s, tables {totals['tables_s']:.1f} s, writing and "
                f"drawing {time.perf_counter() - drawing:.1f} s"
            )
            wrote = True
    total_s = time.perf_counter() - start
    summary = SweepSummary(out, len(plans), **counts, wrote=wrote, total_s=total_s, report=report)
    what = (
        f"{summary.computed} computed, {summary.reused} from the store, {summary.skipped} "
        f"skipped, {summary.failed} failed"
    )
    if wrote:
        print(
            f"done: {len(plans)} cells ({what}) in {total_s:.1f} s{stages}; {out}/",
            file=log,
            flush=True,
        )
    else:
        print(
            f"nothing changed: {len(plans)} cells ({what}); {out}/ is current ({total_s:.1f} s)",
            file=log,
            flush=True,
        )
    return summary
