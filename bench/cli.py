"""The command line: run, validate, list, plot, check.

Exit status: 0 success, 2 bad input (config, arguments), 1 anything else (a failed check
included). Bad input is reported as one paragraph per problem, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.config import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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
    validate = commands.add_parser("validate", help="check a config; exit 2 with all errors")
    validate.add_argument("config")
    commands.add_parser("list", help="registered problems and optimizers, with parameters")
    plot = commands.add_parser("plot", help="rebuild plots and report from the tables in DIR")
    plot.add_argument("dir")
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
    check = commands.add_parser(
        "check", help="verify problems: gradients vs finite differences, f*, x*, Hessians"
    )
    target = check.add_mutually_exclusive_group(required=True)
    target.add_argument("config", nargs="?", help="check the problems of this suite")
    target.add_argument("--all", action="store_true", help="check the whole registry")
    return parser


def _report_config_errors(error: ConfigError) -> int:
    count = len(error.messages)
    print(
        f"error: the config is not valid ({count} problem{'s' * (count != 1)}); nothing was "
        "compiled or written:",
        file=sys.stderr,
    )
    for message in error.messages:
        print(f"  - {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    from bench.compile_cache import cache_directory, enable_persistent_cache
    from bench.config import load_suite
    from bench.report import write_report
    from bench.suite import run_suite

    suite = load_suite(args.config)
    enable_persistent_cache(cache_directory())
    out = Path(args.out) if args.out else Path("results") / suite.name
    if out.exists() and not out.is_dir():
        raise ConfigError([f"--out {out}: exists and is not a folder; give a folder path."])
    run_suite(suite, out)
    report = write_report(out)
    print(f"report: {report}", file=sys.stderr)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from bench.config import load_suite

    suite = load_suite(args.config)
    cells = len(suite.problems) * len(suite.optimizers)
    runs = sum(len(s.settings()) for s in suite.optimizers) * len(suite.problems)
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


def _plot(args: argparse.Namespace) -> int:
    from bench.report import write_report

    out = Path(args.dir)
    missing = [n for n in ("curves.parquet", "runs.parquet") if not (out / n).is_file()]
    if missing:
        raise ConfigError(
            [
                f"{out}: no {' or '.join(missing)} here; give a folder written by "
                "`python -m bench run` (e.g. results/default)."
            ]
        )
    print(f"report: {write_report(out)}", file=sys.stderr)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from bench.check import all_registered_problems, check_problems
    from bench.config import load_suite, set_dtype

    if args.all:
        set_dtype("float64")
        problems = all_registered_problems()
    else:
        problems = list(load_suite(args.config).problems)
    return check_problems(problems)


def _perf(args: argparse.Namespace) -> int:
    from bench.perf import run_perf

    # No persistent cache here: every compile second reported is a real compile.
    report = run_perf(args.config, Path(args.out), bench_dir=Path(args.bench))
    print(f"report: {report}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {
    "run": _run,
    "validate": _validate,
    "list": _list,
    "plot": _plot,
    "check": _check,
    "perf": _perf,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the command, map failures to exit statuses."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        return _report_config_errors(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
