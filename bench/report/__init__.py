"""The report of a results folder: report.md and a self-contained, interactive report.html.

`sections` the report's content as plain blocks (the answers, the protocol, the summaries,
one section per problem), `document` those blocks as Markdown, `html` as one page with
plotly.js and the charts' data embedded, `charts` the page's interactive figures (from the
same statistics as the PNGs of `bench.plots`), `browser` the page in a headless Chromium
(the browser test, screenshots), `build` all of it from a folder's tables.
"""

from bench.report.build import ReportBuild, build_report, write_report
from bench.report.sections import report_blocks

__all__ = ["ReportBuild", "build_report", "report_blocks", "write_report"]
