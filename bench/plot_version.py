"""The drawing code's version, apart from ``bench.plots`` so that checking whether a suite
folder is current (``bench.run.sweep.fingerprint``) does not import matplotlib.

Bump when what a figure looks like changes for the same tables: the fingerprints that let a
report reuse a previous report's unchanged figures include it (``bench.plots.draw_all``).
"""

PLOTS_VERSION = 5  # 5: family colors, top entries highlighted, twins drawn once; 4: 90 dpi
