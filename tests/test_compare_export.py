"""`bench compare` and `bench export` on small synthetic results folders (no JAX run): a
folder compared with itself differs nowhere; a change to one cell is reported for that cell
alone; cells only in one folder are added or removed; timings never count; a folder that is
not one of results is refused with exit 2. The CSV copies read back as the tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_synthetic import build

from bench.cli import main
from bench.compare import compare_folders, relative_difference
from bench.results.parquet import read_metadata, read_table, write_table
from bench.results.publish import output_lock

REPO = Path(__file__).resolve().parents[1]
TABLES = ("curvature", "curves", "paths", "runs", "surfaces")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """quad-2d (f* known: paths, curvature, a surface) and offset-20d (f* unknown: NaN gaps;
    newton skipped), 5 optimizer entries, 2 seeds."""
    out = build(
        tmp_path_factory.mktemp("results") / "a",
        steps=20,
        seeds=(0, 1),
        problems=("quad-2d", "offset-20d"),
    )
    runs, _ = read_table(out / "runs.parquet")
    assert runs["final_gap"].isna().any() and (runs["status"] == "skipped").any()
    return out


def _copy(folder: Path, tmp_path: Path, name: str = "b") -> Path:
    return Path(shutil.copytree(folder, tmp_path / name))


def _edit(folder: Path, table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite one table with the project's writer, keeping its metadata."""
    frame, metadata = read_table(folder / f"{table}.parquet")
    write_table(change(frame.copy()).reset_index(drop=True), folder / f"{table}.parquet", metadata)


def _cell(frame: pd.DataFrame, problem: str, optimizer: str) -> pd.Series:
    return (frame["problem"] == problem) & (frame["optimizer"] == optimizer)


def _compare(capsys, a: Path, b: Path, out: Path, *extra: str) -> tuple[str, str]:
    assert main(["compare", str(a), str(b), "--out", str(out), *extra]) == 0
    stdout = capsys.readouterr().out
    return stdout, (out / "compare.md").read_text()


def test_relative_difference_treats_nan_and_infinities_as_values():
    a = np.array([1.0, np.nan, np.inf, np.inf, 0.0, 1.0, 0.0, np.nan])
    b = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, 1.5, 1e-300, 1.0])
    assert relative_difference(a, b).tolist() == [0, 0, 0, np.inf, 0, 1 / 3, 1, np.inf]


def test_a_folder_compared_with_itself_has_no_differences(folder, tmp_path, capsys):
    stdout, report = _compare(capsys, folder, folder, tmp_path / "cmp")
    assert "10 cells in both, none differ; none added, none removed" in stdout
    assert len(stdout.splitlines()) == 1
    assert "**No differences**: the 10 cells of both folders agree." in report
    assert "## " not in report
    assert pd.read_csv(tmp_path / "cmp" / "compare.csv").empty


def test_timings_are_ignored(folder, tmp_path):
    b = _copy(folder, tmp_path)
    _edit(
        b,
        "runs",
        lambda f: f.assign(
            compile_s=f["compile_s"] * 3 + 1, run_s=f["run_s"] + 7, xla_s=2.0, cache_hit=True
        ),
    )
    comparison = compare_folders(folder, b)
    assert comparison.identical
    assert comparison.columns["runs"] == ([], [])  # xla_s and cache_hit: timing, not schema


def test_one_changed_cell_is_reported_and_nothing_else(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)

    def change(runs: pd.DataFrame) -> pd.DataFrame:
        cell = _cell(runs, "quad-2d", "adam")
        first = cell & (runs["setting"] == 1) & (runs["seed"] == 0)
        second = cell & (runs["setting"] == 2) & (runs["seed"] == 1)
        runs.loc[first, "final_gap"] *= 1 + 1e-6
        runs.loc[first, "steps_to_target"] = 17.0
        runs.loc[second, "status"] = "diverged"
        runs.loc[second, "evals_to_target"] = np.nan
        return runs

    _edit(b, "runs", change)
    comparison = compare_folders(folder, b)
    assert not comparison.identical
    assert comparison.changed[["problem", "optimizer"]].values.tolist() == [["quad-2d", "adam"]]
    row = comparison.changed.iloc[0]
    assert row["runs_differing"] == 2 and row["only_a"] == row["only_b"] == 0
    assert row["curves"] is None
    assert row["final_gap"] == pytest.approx(1e-6, rel=1e-3)
    got = comparison.differences[["setting", "seed", "column"]].values.tolist()
    expected = [[1, 0, "final_gap"], [1, 0, "steps_to_target"], [2, 1, "status"]]
    before, _ = read_table(folder / "runs.parquet")
    second = _cell(before, "quad-2d", "adam") & (before["setting"] == 2) & (before["seed"] == 1)
    if not before.loc[second, "evals_to_target"].isna().all():  # NaN to NaN is no change
        expected.append([2, 1, "evals_to_target"])
    assert got == expected
    assert set(comparison.differences["problem"]) == {"quad-2d"}
    assert set(comparison.differences["optimizer"]) == {"adam"}

    stdout, report = _compare(capsys, folder, b, tmp_path / "cmp")
    assert "10 cells in both, 1 differs; none added, none removed" in stdout
    assert [line for line in stdout.splitlines() if line.startswith("  ")] == [
        "  changed: quad-2d / adam (2 of 6 runs differ in "
        + ", ".join(dict.fromkeys(c for _, _, c in expected))
        + ")"
    ]
    assert "**1 of the 10 cells in both folders differ**" in report
    assert [line for line in report.splitlines() if line.startswith("### ")] == [
        "### quad-2d / adam"
    ]
    table = [line for line in report.splitlines() if line.startswith("| quad-2d |")]
    assert len(table) == 1 and "| adam |" in table[0]
    csv = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert len(csv) == len(expected) and set(csv["optimizer"]) == {"adam"}


def test_differences_within_the_tolerance_count_as_equal(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)
    _edit(b, "runs", lambda f: f.assign(final_gap=f["final_gap"] * (1 + 1e-12)))
    assert compare_folders(folder, b).identical
    tight = compare_folders(folder, b, rtol=1e-13)
    assert set(tight.differences["column"]) == {"final_gap"}
    finite = read_table(folder / "runs.parquet")[0]["final_gap"]
    assert len(tight.differences) == int((np.isfinite(finite) & (finite != 0)).sum())
    stdout, _ = _compare(capsys, folder, b, tmp_path / "cmp", "--rtol", "1e-13")
    assert "relative tolerance 1e-13" in stdout and "none differ" not in stdout


def test_a_changed_curve_is_reported_for_its_cell(folder, tmp_path):
    b = _copy(folder, tmp_path)

    def change(curves: pd.DataFrame) -> pd.DataFrame:
        lane = _cell(curves, "quad-2d", "gd") & (curves["setting"] == 0) & (curves["seed"] == 1)
        curves.loc[lane & (curves["step"] >= 10), "loss"] += 1e-3
        return curves

    _edit(b, "curves", change)
    comparison = compare_folders(folder, b)
    assert comparison.changed[["problem", "optimizer"]].values.tolist() == [["quad-2d", "gd"]]
    assert comparison.differences.empty  # the runs table is unchanged
    curves = comparison.changed.iloc[0]["curves"]
    assert curves["first_step"] == 10 and curves["in"] == ["loss"] and curves["only"] == (0, 0)
    assert curves["differing"] == 3  # steps 10, 15 and 20 are recorded


def test_added_and_removed_cells_are_listed(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[~_cell(frame, "quad-2d", "momentum")]
        renamed = _cell(frame, "offset-20d", "adam")
        frame.loc[renamed, "optimizer"] = "adam-v2"
        if "seed" in frame.columns and "step" not in frame.columns:  # runs: one cell loses a seed
            frame = frame[~(_cell(frame, "quad-2d", "gd") & (frame["seed"] == 1))]
        return frame

    for table in ("runs", "curves"):
        _edit(b, table, change)
    comparison = compare_folders(folder, b)
    removed = comparison.removed[["problem", "optimizer"]].values.tolist()
    assert removed == [["quad-2d", "momentum"], ["offset-20d", "adam"]]
    assert comparison.added[["problem", "optimizer", "runs"]].values.tolist() == [
        ["offset-20d", "adam-v2", 6]
    ]
    assert comparison.changed[["problem", "optimizer"]].values.tolist() == [["quad-2d", "gd"]]
    row = comparison.changed.iloc[0]
    assert (row["only_a"], row["only_b"], row["runs_differing"]) == (4, 0, 0)
    assert comparison.cells == 8

    stdout, report = _compare(capsys, folder, b, tmp_path / "cmp")
    assert "8 cells in both, 1 differs; 1 added, 2 removed" in stdout
    assert "  added: offset-20d / adam-v2" in stdout
    assert "  removed: quad-2d / momentum" in stdout and "  removed: offset-20d / adam" in stdout
    assert "## Added cells (only in B)" in report and "| offset-20d | adam-v2 | 6 |" in report
    assert "## Removed cells (only in A)" in report and "| quad-2d | momentum | 6 |" in report
    assert "- runs: 0 of 8 differ; 4 only in A, 0 only in B" in report


def test_the_default_out_is_inside_dir_b(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)
    assert main(["compare", str(folder), str(b)]) == 0
    assert (b / "compare" / "compare.md").is_file() and (b / "compare" / "compare.csv").is_file()
    assert "report: " in capsys.readouterr().err


def test_writing_inside_a_folder_that_a_run_is_writing_is_refused(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)
    with output_lock(b.resolve()):
        assert main(["compare", str(folder), str(b)]) == 2
        assert "another `bench run` is writing this folder" in capsys.readouterr().err
        assert main(["export", str(b), "--csv"]) == 2
        assert main(["export", str(b), "--csv", "--out", str(tmp_path / "csv")]) == 0
    assert not (b / "compare").exists() and not (b / "csv").exists()


def _not_results(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / kind
    if kind == "empty":
        path.mkdir()
    elif kind == "file":
        path.write_text("not a folder")
    elif kind == "foreign":  # parquet tables of the right names, not written by `bench run`
        path.mkdir()
        for name in ("runs", "curves"):
            pd.DataFrame({"x": [1.0]}).to_parquet(path / f"{name}.parquet")
    elif kind == "corrupt":
        path.mkdir()
        (path / "runs.parquet").write_bytes(b"PAR1 not really")
        (path / "curves.parquet").write_bytes(b"PAR1 not really")
    return path


@pytest.mark.parametrize("kind", ["missing", "empty", "file", "foreign", "corrupt"])
@pytest.mark.parametrize("command", ["compare-a", "compare-b", "export"])
def test_a_folder_that_is_not_of_results_exits_2(folder, tmp_path, capsys, kind, command):
    bad = str(_not_results(tmp_path, kind))
    argv = {
        "compare-a": ["compare", bad, str(folder), "--out", str(tmp_path / "cmp")],
        "compare-b": ["compare", str(folder), bad, "--out", str(tmp_path / "cmp")],
        "export": ["export", bad, "--csv", "--out", str(tmp_path / "csv")],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: the input is not valid (1 problem)" in err
    assert bad in err and "give a folder written by `python -m bench run`" in err
    assert "Traceback" not in err
    assert not (tmp_path / "cmp").exists() and not (tmp_path / "csv").exists()


def test_the_process_exits_2_without_a_traceback(folder, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "compare", str(folder), str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("rtol", ["-1", "nan", "inf"])
def test_a_bad_tolerance_exits_2(folder, tmp_path, capsys, rtol):
    assert main(["compare", str(folder), str(folder), "--out", str(tmp_path), "--rtol", rtol]) == 2
    assert "--rtol must be a finite number >= 0" in capsys.readouterr().err


def test_csv_copies_read_back_as_the_tables(folder, tmp_path, capsys):
    b = _copy(folder, tmp_path)

    def edge_values(runs: pd.DataFrame) -> pd.DataFrame:
        runs.loc[0, "final_loss"] = np.inf
        runs.loc[1, "final_loss"] = -np.inf
        runs.loc[2, "final_gap"] = np.nan
        runs.loc[3, "reason"] = 'a "quoted", comma, and\na new line'
        runs.loc[4, "final_loss"] = 0.1 + 0.2  # needs all 17 digits
        return runs

    _edit(b, "runs", edge_values)
    assert main(["export", str(b), "--csv"]) == 0
    assert "wrote 6 files into" in capsys.readouterr().out
    out = b / "csv"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{t}.csv" for t in TABLES), "metadata.json"]
    )
    for table in TABLES:
        expected, _ = read_table(b / f"{table}.parquet")
        back = pd.read_csv(out / f"{table}.csv", keep_default_na=False, na_values=["NaN"])
        assert list(back.columns) == list(expected.columns) and len(back) == len(expected)
        pd.testing.assert_frame_equal(back, expected, check_exact=True)
        plain = pd.read_csv(out / f"{table}.csv")  # the numbers read the same way too
        numbers = expected.select_dtypes("number").columns
        pd.testing.assert_frame_equal(plain[numbers], expected[numbers], check_exact=True)
    runs, _ = read_table(b / "runs.parquet")
    assert (runs["reason"] == "").any()  # empty text survived as empty text (checked above)
    assert json.loads((out / "metadata.json").read_text()) == read_metadata(b / "runs.parquet")


def test_export_into_another_folder_and_only_with_a_format(folder, tmp_path, capsys):
    assert main(["export", str(folder), "--csv", "--out", str(tmp_path / "x" / "csv")]) == 0
    assert (tmp_path / "x" / "csv" / "runs.csv").is_file()
    assert not (folder / "csv").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(folder)])
    assert exit_info.value.code == 2
    assert "--csv" in capsys.readouterr().err
