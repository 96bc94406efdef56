"""Stage 2 of the pipeline: cells compiled and run.

``kernel`` is the jitted per-lane loop, ``cell`` compiles one cell and runs its lanes in
chunks, ``policies`` decides what a cell skips and records, ``keys`` names a cell by what
determines its numbers, ``sweep`` runs a suite cell by cell through the store.
"""
