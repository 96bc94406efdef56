"""Tests run in float64: gaps down to 1e-10 and step-by-step comparisons need it.

The persistent compilation cache is off in tests (OPTBENCH_CACHE_DIR empty), so that compile
counts and timings are those of real compiles; one test turns it on in a folder of its own.
"""

import os

import jax

os.environ["OPTBENCH_CACHE_DIR"] = ""
# Figures are drawn in this process (tests spy on and break drawing functions here); the
# pool of drawing processes has its own tests (test_plots.py), which ask for it.
os.environ.setdefault("OPTBENCH_DRAW_WORKERS", "1")
jax.config.update("jax_enable_x64", True)
