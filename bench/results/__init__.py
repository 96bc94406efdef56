"""Stage 3 of the pipeline: what a cell's arrays become on disk.

``columns`` lists every column of every table, ``frames`` builds a cell's frames,
``store`` keeps finished cells as atomic parts, ``parquet`` reads and writes tables,
``environment`` records what produced them, ``loaded`` reads a results folder back.
"""
