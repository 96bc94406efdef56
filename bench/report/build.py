"""Building a report: draw the figures, write report.md and the self-contained
report.html from a results folder's tables, photograph the page if asked."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from bench.analysis import analyse
from bench.plots import draw_all
from bench.report.charts import charts_for
from bench.report.document import to_markdown
from bench.report.html import to_html
from bench.report.sections import _plural, report_blocks
from bench.results.loaded import load_results


@dataclasses.dataclass(frozen=True)
class ReportBuild:
    """What `build_report` wrote, and how many figures it drew, copied unchanged from
    ``reuse_from``, or could not draw (named in the report in their place)."""

    markdown: Path
    html: Path
    drawn: int
    reused: int
    failed: int
    # Interactive charts that could not be built (their PNG stands in report.html).
    chart_errors: tuple[str, ...] = ()
    screenshots: int = 0  # pictures written into screenshots/

    def summary(self) -> str:
        """e.g. "drew 5 figures, reused 36" (", 1 could not be drawn" where one failed)."""
        text = f"drew {_plural(self.drawn, 'figure')}, reused {self.reused}"
        text += f", {self.failed} could not be drawn" if self.failed else ""
        return text + (f"; {_plural(self.screenshots, 'screenshot')}" if self.screenshots else "")


def build_report(
    out: Path,
    log: TextIO | None = None,
    reuse_from: Path | None = None,
    screenshots: bool = False,
) -> ReportBuild:
    """Draw every plot, write report.md and report.html in ``out`` from its parquet tables.

    ``log`` (default stderr): one line per figure as it is drawn, then the counts (the
    caller prints the last line, naming report.html where it ends up). ``reuse_from``: a
    results folder (``out`` itself works too) whose unchanged figures are copied instead of
    drawn (see `bench.plots.draw_all`). ``screenshots``: photograph the page's key sections
    in Chromium into out/screenshots/ (`bench.report.browser`); a failure there is a line in the
    log, never a lost report.
    """
    log = sys.stderr if log is None else log
    # Absolute, so figure paths can be made relative to the report's folder whatever the
    # caller's working directory (`make bench` passes "results/default").
    out = Path(out).resolve()
    results = load_results(out)
    analysis = analyse(results)
    figures = draw_all(results, analysis, out / "plots", log=log, reuse_from=reuse_from)
    blocks = report_blocks(results, analysis, figures)
    path = out / "report.md"
    path.write_text(to_markdown(blocks, out))
    title = f"Optimizer benchmark: {results.metadata['suite']['name']}"
    html_path = out / "report.html"
    chart_errors: list[str] = []
    charts = charts_for(results, analysis, chart_errors)
    for error in chart_errors:  # its PNG stands in the page: a note, not a failure
        print(f"interactive chart not built, PNG embedded instead: {error}", file=log)
    html_path.write_text(to_html(blocks, out, title, charts))
    pictures = 0
    if screenshots:
        from bench.report.browser import screenshots as photograph

        try:
            pictures = len(photograph(out))
        except Exception as error:  # the report is written: a missing picture is a note
            print(f"screenshots not taken: {type(error).__name__}: {error}", file=log)
    built = ReportBuild(
        path,
        html_path,
        figures.drawn,
        figures.reused,
        figures.failed,
        tuple(chart_errors),
        pictures,
    )
    # The caller names the report last: here it may still sit in a staging folder.
    print(f"figures: {built.summary()}", file=log, flush=True)
    return built


def write_report(
    out: Path,
    log: TextIO | None = None,
    reuse_from: Path | None = None,
    screenshots: bool = False,
) -> Path:
    """`build_report`, returning the path of report.md."""
    return build_report(out, log=log, reuse_from=reuse_from, screenshots=screenshots).markdown
