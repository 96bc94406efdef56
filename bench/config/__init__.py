"""Stage 1 of the pipeline: a YAML suite -> checked records (``Suite``, ``OptimizerSetting``).

``schema`` turns factory signatures into the YAML schema, ``records`` holds the checked
records, ``loading`` reads and validates a file (every mistake at once).
"""

from bench.config.loading import (
    DTYPES,
    OPTIMIZER_KEYS,
    PROBLEM_KEYS,
    TOP_LEVEL_KEYS,
    build_suite,
    load_suite,
    read_yaml,
)
from bench.config.records import ConfigError, OptimizerSetting, Suite, set_dtype

__all__ = [
    "DTYPES",
    "OPTIMIZER_KEYS",
    "PROBLEM_KEYS",
    "TOP_LEVEL_KEYS",
    "ConfigError",
    "OptimizerSetting",
    "Suite",
    "build_suite",
    "load_suite",
    "read_yaml",
    "set_dtype",
]
