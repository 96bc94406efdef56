"""The drawing and report code's versions, apart from ``bench.plots`` so that checking whether
a suite folder is current (``bench.run.sweep.fingerprint``) does not import matplotlib.

Bump `PLOTS_VERSION` when what a figure looks like changes for the same tables: the
fingerprints that let a report reuse a previous report's unchanged figures include it
(``bench.plots.draw_all``). Bump `REPORT_VERSION` when the report's text changes for the same
tables (a section, a sentence computed from them): a rerun then rewrites report.md and
report.html, reusing every figure.
"""

PLOTS_VERSION = 5  # 5: family colors, top entries highlighted, twins drawn once; 4: 90 dpi
REPORT_VERSION = 1  # 1: the answers' failure modes and reasons after the review of 2026-12-04
