"""`bench compare A B`: what changed between two results folders, cell by cell.

A change to the runner, an optimizer or a pinned dependency should leave the numbers alone
or change exactly the cells it meant to, and two reports read side by side cannot show
which. This compares the tables themselves:

- every run of runs.parquet (one problem x optimizer entry x setting x seed), matched by
  those four keys, in every column but the ones measured in wall time (``is_timing``: they
  differ on every run, so they would hide everything else);
- every recorded point of curves.parquet (the same keys and the step), per cell: how many
  points differ, from which step on, by how much. A change that moves a curve but not its
  end shows here.

paths, curvature and surfaces come from the same lanes as the curves (the tuned and default
settings) and are not compared. Numbers are equal within a relative tolerance
(``relative_difference``), NaN equals NaN, text and flags must be equal. Per changed cell the
report also gives the tuned setting of each folder (``bench.summary.best_settings``, the
report's own protocol) with its medians over seeds: whether a difference changes what the
report would say, not only whether some digit moved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.export import write_atomically
from bench.results.columns import STATUSES
from bench.results.parquet import read_table
from bench.summary import best_settings

RUN_KEYS = ("problem", "optimizer", "setting", "seed")
CURVE_KEYS = (*RUN_KEYS, "step")
CELL = ["problem", "optimizer"]
DEFAULT_RTOL = 1e-9

# Per changed cell, this many differing values are listed in compare.md; compare.csv has all.
LISTED_PER_CELL = 30


class CompareError(ValueError):
    """The tables cannot be compared (the message says why, in one paragraph)."""


def is_timing(column: str) -> bool:
    """Columns measured in wall time (compile_s, run_s, trace_s, lower_s, xla_s: every name
    ending in `_s`) and cache_hit (whether a compile came from JAX's cache: the state of the
    machine, not a result)."""
    return column.endswith("_s") or column == "cache_hit"


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|), elementwise: 0 where equal (NaN and NaN, inf and inf
    included), inf where only one is NaN or the two are different infinities. A zero against
    any non-zero number differs by 1: the tolerance is relative only."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        relative = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    relative = np.where(same, 0.0, relative)
    return np.where(np.isnan(relative), np.inf, relative)


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _column_difference(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Per row: the relative difference of numbers; 0 (equal) or inf for anything else."""
    if _numeric(a) and _numeric(b):
        return relative_difference(
            a.to_numpy(np.float64, na_value=np.nan), b.to_numpy(np.float64, na_value=np.nan)
        )
    missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
    equal = [
        bool(ma and mb) or (not ma and not mb and bool(x == y))
        for x, y, ma, mb in zip(
            a.to_numpy(object), b.to_numpy(object), missing_a, missing_b, strict=True
        )
    ]
    return np.where(np.asarray(equal, dtype=bool), 0.0, np.inf)


@dataclasses.dataclass(frozen=True)
class _Matched:
    """Two tables' rows matched by their keys: the differences of every compared column."""

    frame: pd.DataFrame  # keys, `side` (both, a, b), then per column `<c>@a`, `<c>@b`
    columns: list[str]  # compared: in both tables, not keys, not timing
    relative: dict[str, np.ndarray]  # per compared column, per row (0 where not in both)
    only_a: list[str]  # columns of A's table that B's lacks (not compared)
    only_b: list[str]


def _match(a: pd.DataFrame, b: pd.DataFrame, keys: Sequence[str], table: str) -> _Matched:
    keys = list(keys)
    for frame, name in ((a, "A"), (b, "B")):
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise CompareError(f"{name}'s {table}.parquet has no column {', '.join(missing)}.")
        if frame.duplicated(keys).any():
            raise CompareError(
                f"{name}'s {table}.parquet holds two rows with the same {', '.join(keys)}, "
                "which `bench run` never writes; the rows cannot be matched."
            )
    columns = [c for c in a.columns if c in b.columns and c not in keys and not is_timing(c)]
    only_a = [c for c in a.columns if c not in b.columns and not is_timing(c)]
    only_b = [c for c in b.columns if c not in a.columns and not is_timing(c)]
    left = a[[*keys, *columns]].rename(columns={c: f"{c}@a" for c in columns})
    right = b[[*keys, *columns]].rename(columns={c: f"{c}@b" for c in columns})
    frame = left.merge(right, on=keys, how="outer", indicator="side", sort=False)
    frame["side"] = frame["side"].map({"both": "both", "left_only": "a", "right_only": "b"})
    both = (frame["side"] == "both").to_numpy()
    relative = {
        c: np.where(both, _column_difference(frame[f"{c}@a"], frame[f"{c}@b"]), 0.0)
        for c in columns
    }
    return _Matched(frame, columns, relative, only_a, only_b)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What differs between folders ``a`` and ``b`` (see the module docstring)."""

    a: Path
    b: Path
    rtol: float
    metadata: tuple[Mapping[str, Any], Mapping[str, Any]]
    cells: int  # cells (problem x optimizer entry) present in both folders
    added: pd.DataFrame  # problem, optimizer, runs: cells only in B
    removed: pd.DataFrame  # cells only in A
    changed: pd.DataFrame  # one row per cell in both that differs: the summary columns
    differences: pd.DataFrame  # every differing value of a run in both: keys, column, a, b
    columns: dict[str, tuple[list[str], list[str]]]  # per table: columns only in A, in B

    @property
    def identical(self) -> bool:
        schema = any(only_a or only_b for only_a, only_b in self.columns.values())
        return not (len(self.changed) or len(self.added) or len(self.removed) or schema)


def _cells(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.groupby(CELL, sort=False).size().rename("runs").reset_index()


def _status_counts(runs: pd.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    counts = runs.groupby([*CELL, "status"], sort=False).size()
    table: dict[tuple[str, str], dict[str, int]] = {}
    for (problem, optimizer, status), count in counts.items():
        table.setdefault((problem, optimizer), {})[status] = int(count)
    return table


def _tuned(runs: pd.DataFrame, metadata: Mapping[str, Any]) -> dict[tuple[str, str], dict]:
    """Per cell: the tuned setting of the report's protocol and its medians over seeds."""
    if runs.empty or "status" not in runs.columns:
        return {}
    best = best_settings(runs, metadata.get("problems", {}), metadata.get("hyperparameters", ()))
    return {
        (row["problem"], row["optimizer"]): row
        for row in best[
            [
                *CELL,
                "setting",
                "setting_label",
                "final_median",
                "steps_to_target",
                "evals_to_target",
                "all_settings_diverged",
            ]
        ].to_dict("records")
    }


def _curve_summary(matched: _Matched, rtol: float) -> pd.DataFrame:
    """Per cell with any curve difference: points differing, from which step, how much."""
    frame = matched.frame
    over = {column: matched.relative[column] > rtol for column in matched.columns}
    differs = np.logical_or.reduce([*over.values(), np.zeros(len(frame), dtype=bool)])
    side = frame["side"].to_numpy()
    interesting = differs | (side != "both")
    largest = np.max([np.zeros(len(frame)), *matched.relative.values()], axis=0)
    rows = frame.loc[interesting, CELL].assign(
        _differs=differs[interesting],
        _step=np.where(differs, frame["step"].to_numpy(np.float64), np.nan)[interesting],
        _largest=np.where(differs, largest, 0.0)[interesting],
        _a=(side == "a")[interesting],
        _b=(side == "b")[interesting],
        **{f"_over_{i}": mask[interesting] for i, mask in enumerate(over.values())},
    )
    summary = []
    for (problem, optimizer), group in rows.groupby(CELL, sort=False):
        summary.append(
            {
                "problem": problem,
                "optimizer": optimizer,
                "differing": int(group["_differs"].sum()),
                "first_step": group["_step"].min(),
                "largest": float(group["_largest"].max()),
                "in": [c for i, c in enumerate(over) if group[f"_over_{i}"].any()],
                "only": (int(group["_a"].sum()), int(group["_b"].sum())),
            }
        )
    return pd.DataFrame(
        summary, columns=[*CELL, "differing", "first_step", "largest", "in", "only"]
    )


def _keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The (problem, optimizer) cell of every row."""
    return list(zip(frame["problem"], frame["optimizer"], strict=True))


def _run_differences(
    runs: _Matched, shared: np.ndarray, rtol: float, order: Mapping[tuple[str, str], int]
) -> pd.DataFrame:
    """One row per differing value of a run present in both: keys, column, a, b, relative;
    in the suite's cell order, then setting, seed and the table's column order."""
    frame, long = runs.frame, []
    for position, column in enumerate(runs.columns):
        over = (runs.relative[column] > rtol) & shared
        if over.any():
            long.append(
                pd.DataFrame(
                    {
                        **{k: frame.loc[over, k].to_numpy() for k in RUN_KEYS},
                        "column": column,
                        "a": frame.loc[over, f"{column}@a"].to_numpy(object),
                        "b": frame.loc[over, f"{column}@b"].to_numpy(object),
                        "relative": runs.relative[column][over],
                        "_position": position,
                    }
                )
            )
    if not long:
        return pd.DataFrame(columns=[*RUN_KEYS, "column", "a", "b", "relative"])
    differences = pd.concat(long, ignore_index=True)
    differences["_rank"] = [order[key] for key in _keys(differences)]
    return (
        differences.sort_values(["_rank", "setting", "seed", "_position"], kind="stable")
        .drop(columns=["_rank", "_position"])
        .reset_index(drop=True)
    )


def compare_folders(a: Path, b: Path, rtol: float = DEFAULT_RTOL) -> Comparison:
    """Compare the runs and curves of results folders ``a`` and ``b`` (both written by
    `bench run`; the caller checks that)."""
    runs_a, meta_a = read_table(a / "runs.parquet")
    runs_b, meta_b = read_table(b / "runs.parquet")
    cells_a, cells_b = _cells(runs_a), _cells(runs_b)
    sizes = [dict(zip(_keys(cells), cells["runs"], strict=True)) for cells in (cells_a, cells_b)]
    in_both = sizes[0].keys() & sizes[1].keys()
    added = cells_b[[key not in sizes[0] for key in _keys(cells_b)]]
    removed = cells_a[[key not in sizes[1] for key in _keys(cells_a)]]
    order = {key: i for i, key in enumerate(dict.fromkeys([*sizes[0], *sizes[1]]))}

    runs = _match(runs_a, runs_b, RUN_KEYS, "runs")
    shared = np.array([key in in_both for key in _keys(runs.frame)], dtype=bool)
    differences = _run_differences(runs, shared, rtol, order)
    one_sided = runs.frame.loc[shared & (runs.frame["side"] != "both").to_numpy()]
    only_runs = one_sided.groupby([*CELL, "side"], sort=False).size().to_dict()

    curves_a, _ = read_table(a / "curves.parquet")
    curves_b, _ = read_table(b / "curves.parquet")
    curves = _match(curves_a, curves_b, CURVE_KEYS, "curves")
    del curves_a, curves_b
    by_curve = _curve_summary(curves, rtol)
    curve_summary = {
        key: row
        for key, row in zip(_keys(by_curve), by_curve.to_dict("records"), strict=True)
        if key in in_both
    }

    changed = set(_keys(differences)) | {(p, o) for p, o, _ in only_runs} | set(curve_summary)
    changed_keys = sorted(changed, key=order.__getitem__)
    changed_runs = [
        r[pd.MultiIndex.from_frame(r[CELL]).isin(changed_keys)] for r in (runs_a, runs_b)
    ]
    tuned = [_tuned(r, m) for r, m in zip(changed_runs, (meta_a, meta_b), strict=True)]
    statuses = [_status_counts(r) for r in changed_runs]
    by_cell = dict(iter(differences.groupby(CELL, sort=False))) if len(differences) else {}
    summary = []
    for key in changed_keys:
        cell = by_cell.get(key, differences.iloc[:0])
        gaps = cell[cell["column"] == "final_gap"]
        summary.append(
            {
                "problem": key[0],
                "optimizer": key[1],
                "runs_a": int(sizes[0][key]),
                "runs_b": int(sizes[1][key]),
                "runs_differing": len(cell[["setting", "seed"]].drop_duplicates()),
                "only_a": only_runs.get((*key, "a"), 0),
                "only_b": only_runs.get((*key, "b"), 0),
                "columns": list(dict.fromkeys(cell["column"])),
                "final_gap": float(gaps["relative"].max()) if len(gaps) else 0.0,
                "status_a": statuses[0].get(key, {}),
                "status_b": statuses[1].get(key, {}),
                "tuned_a": tuned[0].get(key),
                "tuned_b": tuned[1].get(key),
                "curves": curve_summary.get(key),
            }
        )
    return Comparison(
        a=a,
        b=b,
        rtol=rtol,
        metadata=(meta_a, meta_b),
        cells=len(in_both),
        added=added.reset_index(drop=True),
        removed=removed.reset_index(drop=True),
        changed=pd.DataFrame(summary),
        differences=differences,
        columns={
            "runs": (runs.only_a, runs.only_b),
            "curves": (curves.only_a, curves.only_b),
        },
    )


# --- the report ------------------------------------------------------------------------


def _text(value: Any, exact: bool = False) -> str:
    """A value for the report: NaN for missing, floats to 6 digits (every digit if exact)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "NaN"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if exact else f"{value:.6g}"
    text = str(value) if str(value) else "(empty)"
    return text.replace("|", "\\|").replace("\n", " ")


def _change(a: Any, b: Any, exact: bool = False) -> str:
    left, right = _text(a, exact), _text(b, exact)
    return left if left == right else f"{left} → {right}"


def _statuses(a: Mapping[str, int], b: Mapping[str, int]) -> str:
    names = [s for s in STATUSES if s in a or s in b] + sorted((set(a) | set(b)) - set(STATUSES))
    parts = [f"{s} {a.get(s, 0)} → {b.get(s, 0)}" for s in names if a.get(s, 0) != b.get(s, 0)]
    return ", ".join(parts) if parts else "the same counts"


def _tuned_text(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> str:
    if a is None and b is None:
        return "none in either (no run ran)"

    def label(row: Mapping[str, Any] | None) -> str:
        if row is None:
            return "none"
        if row["all_settings_diverged"]:
            return "none (every setting diverged)"
        return f"{row['setting']} ({row['setting_label']})"

    def change(name: str) -> str:  # +inf: the median seed never reached it
        values = [None if row is None else row[name] for row in (a, b)]
        return _change(*("not reached" if v == np.inf else v for v in values))

    return (
        f"{_change(label(a), label(b))}; median final gap {change('final_median')}, steps to "
        f"target {change('steps_to_target')}, evaluations to target {change('evals_to_target')}"
    )


def _curves_text(curves: Mapping[str, Any] | None) -> str:
    if curves is None:
        return "equal"
    parts = []
    if curves["differing"]:
        parts.append(
            f"{curves['differing']} points differ from step {_text(curves['first_step'])} on "
            f"(largest relative difference {_text(curves['largest'])}, in "
            f"{', '.join(curves['in'])})"
        )
    only_a, only_b = curves["only"]
    if only_a:
        parts.append(f"{only_a} points only in A")
    if only_b:
        parts.append(f"{only_b} points only in B")
    return "; ".join(parts)


def _folder_line(name: str, path: Path, metadata: Mapping[str, Any]) -> str:
    environment = metadata.get("environment", {})
    suite = metadata.get("suite", {}).get("name", "?")
    return (
        f"- {name}: `{path}` (suite {suite}, git commit {environment.get('git_commit', '?')}, "
        f"schema version {environment.get('schema_version', '?')}, fingerprint "
        f"{str(metadata.get('fingerprint') or '?')[:12]})"
    )


def summary_lines(comparison: Comparison) -> list[str]:
    """The few lines printed on stdout: the counts, then the cells named (up to 10 each)."""
    c = comparison
    changed = len(c.changed)
    lines = [
        f"compare {c.a} -> {c.b}: {c.cells} cells in both, "
        f"{changed or 'none'} differ{'s' * (changed == 1)}; {len(c.added) or 'none'} added, "
        f"{len(c.removed) or 'none'} removed (relative tolerance {c.rtol:g}, timings ignored)"
    ]
    for table, (only_a, only_b) in c.columns.items():
        if only_a or only_b:
            lines.append(
                f"  {table} columns only in A: {', '.join(only_a) or 'none'}; only in B: "
                f"{', '.join(only_b) or 'none'}"
            )
    listings = (
        ("changed", [_changed_brief(row) for row in c.changed.to_dict("records")]),
        ("added", [f"{p} / {o}" for p, o in _keys(c.added)]),
        ("removed", [f"{p} / {o}" for p, o in _keys(c.removed)]),
    )
    for what, names in listings:
        for name in names[:10]:
            lines.append(f"  {what}: {name}")
        if len(names) > 10:
            lines.append(f"  ... and {len(names) - 10} more {what} (see compare.md)")
    return lines


def _changed_brief(row: Mapping[str, Any]) -> str:
    parts = []
    if row["runs_differing"]:
        parts.append(
            f"{row['runs_differing']} of {row['runs_a']} runs differ in {', '.join(row['columns'])}"
        )
    if row["only_a"] or row["only_b"]:
        parts.append(f"runs only in A {row['only_a']}, only in B {row['only_b']}")
    if row["curves"] is not None:
        parts.append(f"curves: {_curves_text(row['curves'])}")
    return f"{row['problem']} / {row['optimizer']} ({'; '.join(parts)})"


def render(comparison: Comparison) -> str:
    """compare.md: the verdict, the cells added, removed and changed, every change listed."""
    c = comparison
    lines = [
        "# What changed between two results folders",
        "",
        _folder_line("A", c.a, c.metadata[0]),
        _folder_line("B", c.b, c.metadata[1]),
        "",
        f"Compared: every run of runs.parquet (problem, optimizer, setting, seed) in every "
        f"column, and every point of curves.parquet. Numbers are equal when they differ by "
        f"at most {c.rtol:g} relative (|a - b| <= rtol x max(|a|, |b|)); NaN equals NaN. "
        "Ignored: the columns measured in wall time (`*_s`) and `cache_hit`, which differ on "
        "every run. paths, curvature and surfaces are not compared.",
        "",
    ]
    changed = len(c.changed)
    if c.identical:
        lines.append(f"**No differences**: the {c.cells} cells of both folders agree.")
    else:
        lines.append(
            f"**{changed} of the {c.cells} cells in both folders differ**; "
            f"{len(c.added)} added (only in B), {len(c.removed)} removed (only in A)."
        )
    for table, (only_a, only_b) in c.columns.items():
        if only_a or only_b:
            lines.append(
                f"\n{table}.parquet columns only in A: {', '.join(only_a) or 'none'}; only in "
                f"B: {', '.join(only_b) or 'none'} (not compared)."
            )
    for title, cells in (
        ("Added cells (only in B)", c.added),
        ("Removed cells (only in A)", c.removed),
    ):
        if len(cells):
            lines += ["", f"## {title}", "", "| problem | optimizer | runs |", "|---|---|---:|"]
            lines += [
                f"| {_text(p)} | {_text(o)} | {n} |"
                for p, o, n in zip(cells["problem"], cells["optimizer"], cells["runs"], strict=True)
            ]
    if changed:
        lines += [
            "",
            "## Changed cells",
            "",
            "| problem | optimizer | runs differing | columns | runs only in A / B | curves |",
            "|---|---|---:|---|---|---|",
        ]
        for row in c.changed.to_dict("records"):
            lines.append(
                f"| {_text(row['problem'])} | {_text(row['optimizer'])} | "
                f"{row['runs_differing']} of {row['runs_a']} | {', '.join(row['columns']) or '-'} "
                f"| {row['only_a']} / {row['only_b']} | {_curves_text(row['curves'])} |"
            )
        for row in c.changed.to_dict("records"):
            lines += _cell_section(c, row)
    return "\n".join(lines) + "\n"


def _cell_section(c: Comparison, row: Mapping[str, Any]) -> list[str]:
    lines = [
        "",
        f"### {_text(row['problem'])} / {_text(row['optimizer'])}",
        "",
        f"- runs: {row['runs_differing']} of {row['runs_a']} differ; "
        f"{row['only_a']} only in A, {row['only_b']} only in B",
        f"- status: {_statuses(row['status_a'], row['status_b'])}",
        "- final gap: "
        + (
            f"largest relative difference {_text(row['final_gap'])}"
            if row["final_gap"]
            else "equal in every run of both"
        ),
        f"- tuned setting: {_tuned_text(row['tuned_a'], row['tuned_b'])}",
        f"- curves: {_curves_text(row['curves'])}",
    ]
    cell = c.differences[
        (c.differences["problem"] == row["problem"])
        & (c.differences["optimizer"] == row["optimizer"])
    ]
    if len(cell):
        lines += [
            "",
            "| setting | seed | column | A | B | relative difference |",
            "|---:|---:|---|---|---|---:|",
        ]
        for diff in cell.head(LISTED_PER_CELL).to_dict("records"):
            text = isinstance(diff["a"], str) or isinstance(diff["b"], str)
            lines.append(
                f"| {diff['setting']} | {diff['seed']} | {diff['column']} | "
                f"{_text(diff['a'], exact=True)} | {_text(diff['b'], exact=True)} | "
                f"{'-' if text else _text(diff['relative'])} |"
            )
        if len(cell) > LISTED_PER_CELL:
            lines.append(
                f"\n... and {len(cell) - LISTED_PER_CELL} more differing values (compare.csv "
                "lists every one)."
            )
    return lines


def write_comparison(comparison: Comparison, out: Path) -> Path:
    """compare.md and compare.csv (every differing value of a run) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / "compare.md"
    text = render(comparison)
    write_atomically(report, lambda path: path.write_text(text))
    write_atomically(
        out / "compare.csv",
        lambda path: comparison.differences.to_csv(path, index=False, na_rep="NaN"),
    )
    return report
