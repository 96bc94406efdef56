"""The command line: run, validate, list, plot, check, perf, compare, export.

Exit status: 0 success, 2 bad input (config, arguments), 1 anything else (a failed check
included). Bad input is reported as one paragraph per problem, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.config import ConfigError
from bench.results.publish import LockedError
from bench.run.executors.base import ExecutorError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SCREENSHOTS_HELP = (
    "photograph report.html's key sections in a headless Chromium into DIR/screenshots/ "
    "(needs Debian's chromium, or $OPTBENCH_CHROMIUM)"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit status is 2 as well
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="run a suite: tables, plots and report")
    run.add_argument("config", help="YAML suite, e.g. configs/default.yaml")
    run.add_argument("--out", help="output folder (default results/<suite name>/)")
    run.add_argument(
        "--store",
        help="the cell store, shareable between suites (default $OPTBENCH_STORE, else "
        ".store beside the output folder, e.g. results/.store)",
    )
    run.add_argument(
        "--problem",
        action="append",
        default=[],
        metavar="GLOB",
        help="only the cells of problems whose name matches (repeatable)",
    )
    run.add_argument(
        "--optimizer",
        action="append",
        default=[],
        metavar="GLOB",
        help="only the cells of optimizer entries whose name matches (repeatable)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the cells: which are cached, and what the rest would cost; run nothing",
    )
    run.add_argument("--force", action="store_true", help="recompute every cell")
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="rerun the cells an earlier run recorded as error or timeout",
    )
    run.add_argument(
        "--cell-timeout",
        type=float,
        metavar="SECONDS",
        help="stop a cell (compile and run) after this long and record it as timeout; "
        "cells then run in a worker process",
    )
    run.add_argument(
        "--executor",
        choices=("serial", "process", "dask"),
        default="serial",
        help="who computes the cells: this process (serial, the default), a pool of worker "
        "processes (process), or a Dask cluster (dask: a local one, or --scheduler's)",
    )
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of --executor process or of a local Dask cluster (default: "
        "one per core, or per GPU on a GPU machine)",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: a running Dask scheduler (e.g. tcp://10.0.0.5:8786) "
        "instead of a local cluster; the store must be a folder every worker sees",
    )
    run.add_argument(
        "--devices",
        metavar="all|N",
        help="split each cell's lanes (settings x seeds) over all (or N) local devices; the "
        "numbers are those of one device to within rounding (the device count is in the "
        "cell key)",
    )
    run.add_argument(
        "--no-report", action="store_true", help="write the tables only (no plots, no report)"
    )
    run.add_argument("--screenshots", action="store_true", help=SCREENSHOTS_HELP)
    validate = commands.add_parser("validate", help="check a config; exit 2 with all errors")
    validate.add_argument("config")
    commands.add_parser("list", help="registered problems and optimizers, with parameters")
    plot = commands.add_parser("plot", help="rebuild plots and report from the tables in DIR")
    plot.add_argument("dir")
    plot.add_argument("--screenshots", action="store_true", help=SCREENSHOTS_HELP)
    perf = commands.add_parser(
        "perf", help="time the runner against a Python loop, a fused floor and scipy"
    )
    perf.add_argument("config", nargs="?", default="configs/perf.yaml")
    perf.add_argument("--out", default="results", help="folder for perf.md and perf.parquet")
    perf.add_argument(
        "--bench",
        default="results/default",
        help="a suite's results folder whose recorded timing perf.md quotes (if present)",
    )
    executors = commands.add_parser(
        "perf-executors",
        help="a cold sweep with each executor, interleaved rounds: ratios against serial",
    )
    executors.add_argument("config", nargs="?", default="configs/default.yaml")
    executors.add_argument("--out", default="results", help="folder for perf-executors.md")
    executors.add_argument("--rounds", type=int, default=2, help="rounds (default 2)")
    executors.add_argument("--workers", type=int, help="workers of process and dask")
    executors.add_argument(
        "--problem", action="append", default=[], metavar="GLOB", help="as for `run`"
    )
    executors.add_argument(
        "--optimizer", action="append", default=[], metavar="GLOB", help="as for `run`"
    )
    check = commands.add_parser(
        "check", help="verify problems: gradients vs finite differences, f*, x*, Hessians"
    )
    target = check.add_mutually_exclusive_group(required=True)
    target.add_argument("config", nargs="?", help="check the problems of this suite")
    target.add_argument("--all", action="store_true", help="check the whole registry")
    compare = commands.add_parser(
        "compare", help="report what changed between two results folders (compare.md)"
    )
    compare.add_argument("dir_a", metavar="DIR_A", help="the results folder before")
    compare.add_argument("dir_b", metavar="DIR_B", help="the results folder after")
    compare.add_argument(
        "--out", help="folder for compare.md and compare.csv (default DIR_B/compare/)"
    )
    compare.add_argument(
        "--rtol",
        type=float,
        default=1e-9,
        help="numbers this close relative to the larger are equal (default 1e-9)",
    )
    export = commands.add_parser("export", help="copy the tables of a results folder as CSV")
    export.add_argument("dir", metavar="DIR", help="the results folder")
    export_format = export.add_mutually_exclusive_group(required=True)
    export_format.add_argument("--csv", action="store_true", help="one .csv per .parquet table")
    export.add_argument("--out", help="folder for the copies (default DIR/csv/)")
    return parser


def _report_config_errors(error: ConfigError) -> int:
    count = len(error.messages)
    print(
        f"error: the input is not valid ({count} problem{'s' * (count != 1)}); nothing was "
        "compiled or written:",
        file=sys.stderr,
    )
    for message in error.messages:
        print(f"  - {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _is_suite_folder(folder: Path) -> bool:
    """Whether ``folder`` was written by `bench run` (its runs.parquet carries our metadata)."""
    from bench.results.parquet import read_metadata
    from bench.results.publish import MANIFEST

    if (folder / MANIFEST).is_file():
        return True
    try:
        return "suite" in read_metadata(folder / "runs.parquet")
    except Exception:  # not a parquet file of ours, whatever the reader says
        return False


def _check_filters(globs: list[str], names: list[str], flag: str, what: str) -> None:
    """A filter that matches no entry is a typo, not an empty selection."""
    import fnmatch

    unmatched = [g for g in globs if not any(fnmatch.fnmatchcase(n, g) for n in names)]
    if unmatched:
        shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
        raise ConfigError(
            [
                f"{flag} {', '.join(repr(g) for g in unmatched)}: matches none of the suite's "
                f"{what} ({shown}). Names are matched whole, with * and ? as wildcards."
            ]
        )


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot become a folder of results, before anything runs.

    The folder is written beside itself and swapped in by renames (bench.results.publish),
    so its parent must be writable, and an existing folder must be one that can be renamed
    (not a mount point) and whose old content can be removed.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(
            [f"--out {out}: exists and is not a folder; give the path of a folder (new or old)."]
        )
    if out.is_dir() and any(out.iterdir()) and not _is_suite_folder(out):
        raise ConfigError(
            [
                f"--out {out}: holds files that `bench run` did not write (no runs.parquet of "
                "a suite, no manifest.json); the folder is replaced whole, so they would be "
                "deleted. Give a new or empty folder, or a suite folder written earlier."
            ]
        )
    if out.is_dir() and os.path.ismount(out):
        raise ConfigError(
            [
                f"--out {out}: is a mount point; results are swapped in whole by renaming "
                f"folders, which a mount point cannot be. Give a folder inside it, e.g. "
                f"{out / 'results'}."
            ]
        )
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            [f"--out {out}: {ancestor} is a file, so no folder can be made below it."]
        )
    # os.access says yes to root even on a read-only mount: try the real thing.
    for folder in [ancestor] + ([out] if out.is_dir() else []):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".optbench-probe-"):
                pass
        except OSError as error:
            raise ConfigError(
                [
                    f"--out {out}: cannot write in {folder} ({error.strerror or error}); give "
                    "a folder you can write."
                ]
            ) from None


def _run(args: argparse.Namespace) -> int:
    from bench.config import load_suite
    from bench.results.store import CellStore, StoreError, default_store
    from bench.run.compile_cache import cache_directory, enable_persistent_cache
    from bench.run.executors import ExecutorOptions
    from bench.run.sweep import SweepOptions, plan, run_suite, selected

    if args.cell_timeout is not None and not (
        math.isfinite(args.cell_timeout) and args.cell_timeout > 0
    ):
        raise ConfigError(
            [f"--cell-timeout must be a finite number of seconds > 0, got {args.cell_timeout!r}."]
        )
    if args.cell_timeout is not None or args.executor != "serial":
        # The cells run in worker processes: this one must not preallocate the accelerator
        # (read when JAX starts its backend, which checking --devices does).
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    devices = _check_executor(args)
    suite = load_suite(args.config)
    # Resolved: `--out .`, a symlink or `a/../b` name the folder that is really replaced.
    out = (Path(args.out) if args.out else Path("results") / suite.name).resolve()
    options = SweepOptions(
        force=args.force,
        retry_failed=args.retry_failed,
        problems=tuple(args.problem),
        optimizers=tuple(args.optimizer),
        store=Path(args.store) if args.store else None,
        draw=not args.no_report,
        screenshots=args.screenshots and not args.no_report,
        computing=ExecutorOptions(
            name=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            devices=devices,
            cell_timeout=args.cell_timeout,
        ),
    )
    if options.screenshots:
        _check_browser()
    _check_filters(args.problem, [p.name for p in suite.problems], "--problem", "problems")
    _check_filters(args.optimizer, [s.name for s in suite.optimizers], "--optimizer", "optimizers")
    cells = selected(suite, options)
    store = CellStore(options.store or default_store(out))
    if store.root.resolve().is_relative_to(out):
        raise ConfigError(
            [
                f"--store {store.root}: is inside --out {out}, which is replaced whole at the "
                "end of every run; give a store outside it (the default is .store beside it)."
            ]
        )
    if args.dry_run:
        from bench.run.dry_run import print_dry_run

        print_dry_run(suite, plan(suite, cells, store, options), store, sys.stderr)
        return EXIT_OK
    _check_out(out)
    if args.scheduler is not None:
        from bench.run.executors.dask_cluster import check_scheduler

        check_scheduler(args.scheduler)
    try:
        store.ensure()
    except StoreError as error:
        raise ConfigError([str(error)]) from None
    enable_persistent_cache(cache_directory())
    try:
        summary = run_suite(suite, out, options=options)
    except KeyboardInterrupt:
        print(
            f"interrupted: finished cells are kept in the store ({store.root}); {out} holds "
            "its previous results. Run again to go on where this run stopped.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(
            f"error: could not write the results: {error.strerror or error}{where}. Finished "
            f"cells are kept in the store ({store.root}) and {out} holds its previous "
            "results; free the space (or fix the cause) and run again.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if summary.report is not None:
        print(f"report: {summary.report}", file=sys.stderr)
    return EXIT_OK


def _check_executor(args: argparse.Namespace) -> str | None:
    """Refuse executor flags that do not fit together, before anything runs; the
    ``--devices`` value, checked against the devices this process sees."""
    errors = []
    if args.workers is not None and args.workers < 1:
        errors.append(f"--workers must be a whole number >= 1, got {args.workers}.")
    if args.workers is not None and args.executor == "serial":
        errors.append(
            f"--workers {args.workers}: the serial executor computes every cell in this "
            "process; add --executor process (a local pool) or --executor dask."
        )
    if args.workers is not None and args.scheduler is not None:
        errors.append(
            "--workers with --scheduler: a running cluster has the workers it was started "
            "with (`dask worker ... --nworkers N`); leave --workers out."
        )
    if args.scheduler is not None and args.executor != "dask":
        errors.append(
            f"--scheduler {args.scheduler}: only --executor dask uses a scheduler; add "
            "--executor dask, or leave --scheduler out."
        )
    if args.devices is not None and args.executor != "serial":
        errors.append(
            f"--devices {args.devices} with --executor {args.executor}: the lanes of a cell "
            "are split over the devices of one process; a pool gives each worker a device of "
            "its own instead. Use one of the two."
        )
    if args.executor == "dask" and args.cell_timeout is not None:
        errors.append(
            "--cell-timeout with --executor dask: Dask cannot stop a running task; use "
            "--executor process (a local pool whose workers are stopped at the budget)."
        )
    if args.executor == "dask":
        from bench.run.executors.dask_cluster import check_installed

        try:
            check_installed()
        except ConfigError as error:
            errors += error.messages
    devices = None
    if args.devices is not None:
        from bench.run.devices import lane_devices, parse_devices

        try:
            devices = parse_devices(args.devices)
            lane_devices(devices)  # more than this process sees is refused now
        except ValueError as error:
            errors.append(f"{error}")
    if errors:
        raise ConfigError(errors)
    return devices


def _validate(args: argparse.Namespace) -> int:
    from bench.config import load_suite

    suite = load_suite(args.config)
    cells = len(suite.problems) * len(suite.optimizers)
    # The grid's size from its lengths: listing up to 100,000 settings per entry is slow.
    runs = sum(math.prod(len(v) for v in s.grid.values()) for s in suite.optimizers)
    runs *= len(suite.problems)
    print(
        f"{args.config}: valid. {len(suite.problems)} problems x {len(suite.optimizers)} "
        f"optimizer entries = {cells} cells, {runs * len(suite.seeds)} runs of "
        f"{suite.steps} steps."
    )
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from bench.catalog import describe_registries

    print(describe_registries())
    return EXIT_OK


def _check_browser() -> None:
    """--screenshots needs a Chromium and Playwright: refused before anything runs."""
    import importlib.util

    from bench.report.browser import CHROMIUM_ENV, chromium

    if chromium() is None:
        raise ConfigError(
            [
                "--screenshots: no Chromium found (looked for `chromium` on PATH and "
                f"${CHROMIUM_ENV}); install Debian's chromium (`apt-get install chromium`) "
                "or leave the flag out."
            ]
        )
    if importlib.util.find_spec("playwright") is None:
        raise ConfigError(
            [
                "--screenshots: the playwright package is not installed (a dev dependency: "
                "`pip install -e '.[dev]'`); install it or leave the flag out."
            ]
        )


def _plot(args: argparse.Namespace) -> int:
    from bench.report import write_report
    from bench.results.environment import SCHEMA_VERSION
    from bench.results.parquet import read_metadata
    from bench.results.publish import redraw

    out = Path(args.dir)
    missing = [n for n in ("curves.parquet", "runs.parquet") if not (out / n).is_file()]
    if missing:
        raise ConfigError(
            [
                f"{out}: no {' or '.join(missing)} here; give a folder written by "
                "`python -m bench run` (e.g. results/default)."
            ]
        )
    _check_out(out)
    if args.screenshots:
        _check_browser()
    written = read_metadata(out / "runs.parquet").get("environment", {}).get("schema_version")
    if written != SCHEMA_VERSION:
        raise ConfigError(
            [
                f"{out}: its tables have schema version {written}, and this code draws "
                f"version {SCHEMA_VERSION}; rerun `python -m bench run` on its config to "
                "rewrite them (finished cells of the same numbers come from the cell store)."
            ]
        )
    draw = functools.partial(write_report, screenshots=args.screenshots)
    print(f"report: {redraw(out, draw)}", file=sys.stderr)
    return EXIT_OK


def _results_folder(path: str, flag: str) -> Path:
    """``path`` if it is a folder written by `bench run`; else ConfigError, saying why."""
    folder = Path(path)
    hint = "give a folder written by `python -m bench run` (e.g. results/default)"
    if not folder.is_dir():
        problem = "does not exist" if not folder.exists() else "is not a folder"
        raise ConfigError([f"{flag} {folder}: {problem}; {hint}."])
    missing = [n for n in ("curves.parquet", "runs.parquet") if not (folder / n).is_file()]
    if missing:
        raise ConfigError([f"{flag} {folder}: no {' or '.join(missing)} here; {hint}."])
    if not _is_suite_folder(folder):
        raise ConfigError(
            [
                f"{flag} {folder}: its runs.parquet was not written by `bench run` (no suite "
                f"in its metadata, or not a readable parquet file); {hint}."
            ]
        )
    return folder


@contextlib.contextmanager
def _writing_into(folders: Sequence[Path], out: Path, flag: str) -> Iterator[None]:
    """Write ``out``; where it lies inside one of the results ``folders``, under that
    folder's lock: a `bench run` swapping the folder meanwhile would drop what is written
    (a later run replaces the folder whole and drops it anyway)."""
    from bench.results.publish import output_lock

    if out.exists() and not out.is_dir():
        raise ConfigError([f"{flag} {out}: exists and is not a folder; give a folder."])
    around = [f.resolve() for f in folders if out.resolve().is_relative_to(f.resolve())]
    try:
        with output_lock(around[0]) if around else contextlib.nullcontext():
            yield
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise ConfigError(
            [
                f"{flag} {out}: could not write there: {error.strerror or error}{where}; give "
                "a folder you can write (--out)."
            ]
        ) from None


def _read_error(folders: Sequence[Path], error: Exception) -> ConfigError:
    return ConfigError(
        [
            f"{' or '.join(map(str, folders))}: a table could not be read "
            f"({type(error).__name__}: {error}); rerun `python -m bench run` on its config to "
            "write the folder again."
        ]
    )


def _compare(args: argparse.Namespace) -> int:
    from pyarrow import ArrowException

    from bench.compare import CompareError, compare_folders, summary_lines, write_comparison

    if not (math.isfinite(args.rtol) and args.rtol >= 0):
        raise ConfigError([f"--rtol must be a finite number >= 0, got {args.rtol!r}."])
    a = _results_folder(args.dir_a, "DIR_A")
    b = _results_folder(args.dir_b, "DIR_B")
    try:
        comparison = compare_folders(a, b, rtol=args.rtol)
    except CompareError as error:
        raise ConfigError([str(error)]) from None
    except (OSError, ArrowException) as error:
        raise _read_error([a, b], error) from None
    out = Path(args.out) if args.out else b / "compare"
    with _writing_into([b, a], out, "--out" if args.out else "DIR_B"):
        report = write_comparison(comparison, out)
    print("\n".join(summary_lines(comparison)))
    print(f"report: {report}", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from pyarrow import ArrowException

    from bench.export import export_csv

    folder = _results_folder(args.dir, "DIR")
    out = Path(args.out) if args.out else folder / "csv"
    with _writing_into([folder], out, "--out" if args.out else "DIR"):
        try:
            written = export_csv(folder, out)
        except ArrowException as error:
            raise _read_error([folder], error) from None
    print(f"wrote {len(written)} files into {out}: {', '.join(p.name for p in written)}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from bench.check import all_registered_problems, check_problems
    from bench.config import load_suite, set_dtype

    if args.all:
        set_dtype("float64")
        problems = all_registered_problems()
    else:
        suite = load_suite(args.config, check_resources=False, check_optimum=False)
        problems = list(suite.problems)
    return check_problems(problems)


def _perf(args: argparse.Namespace) -> int:
    from bench.perf import run_perf

    # No persistent cache here: every compile second reported is a real compile.
    report = run_perf(args.config, Path(args.out), bench_dir=Path(args.bench))
    print(f"report: {report}", file=sys.stderr)
    return EXIT_OK


def _perf_executors(args: argparse.Namespace) -> int:
    from bench.config import load_suite
    from bench.perf_executors import measure_executors

    suite = load_suite(args.config)  # a bad config is refused before any run
    if args.rounds < 1 or (args.workers is not None and args.workers < 1):
        raise ConfigError(["--rounds and --workers must be whole numbers >= 1."])
    _check_filters(args.problem, [p.name for p in suite.problems], "--problem", "problems")
    _check_filters(args.optimizer, [s.name for s in suite.optimizers], "--optimizer", "optimizers")
    filters = [f"--problem={g}" for g in args.problem]
    filters += [f"--optimizer={g}" for g in args.optimizer]
    report = measure_executors(
        Path(args.config), Path(args.out), args.rounds, filters, args.workers
    )
    print(f"report: {report}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {
    "run": _run,
    "validate": _validate,
    "list": _list,
    "plot": _plot,
    "check": _check,
    "perf": _perf,
    "perf-executors": _perf_executors,
    "compare": _compare,
    "export": _export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the command, map failures to exit statuses."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        return _report_config_errors(error)
    except LockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ExecutorError as error:
        print(f"error: {error}; the output folder holds its previous results.", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            "interrupted; finished cells are in the store, the folder is as it was", file=sys.stderr
        )
        return EXIT_FAILED
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(
            f"error: could not write the results: {error.strerror or error}{where}. Finished "
            "cells are kept in the store and the output folder holds its previous results; "
            "free the space (or fix the cause) and run again.",
            file=sys.stderr,
        )
        return EXIT_FAILED
