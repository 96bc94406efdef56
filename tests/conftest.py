"""Tests run in float64: gaps down to 1e-10 and step-by-step comparisons need it.

The persistent compilation cache is off in tests (OPTBENCH_CACHE_DIR empty), so that compile
counts and timings are those of real compiles; one test turns it on in a folder of its own.
"""

import os

import jax

os.environ["OPTBENCH_CACHE_DIR"] = ""
jax.config.update("jax_enable_x64", True)
