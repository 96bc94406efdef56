"""The cell key: a hash of everything that determines a cell's numbers, and nothing else.

Two runs that agree on the key compute bitwise the same tables for that cell, so the store
(``bench.results.store``) can hand back a finished cell instead of computing it again. The
key holds the problem (kind, arguments, start), the optimizer entry (kind, static
arguments, grid, default point, schedule, clipping), the protocol (steps, recording grid,
dtype, seeds, targets), the numerics versions of the problem's and the optimizer's families
(``problems.NUMERICS_VERSIONS``, ``optimizers.NUMERICS_VERSIONS``), the runner's, and the
libraries' versions and backend. It leaves out what only labels results (entry names, the
suite's name and description, the position of an entry in the YAML) and what only decides
how the lanes are scheduled (chunking by memory).

Every value is canonical JSON: mapping keys sorted, numbers as the config checker coerced
them (``1e-3`` and ``0.001`` are one value), so the key does not depend on key order or
entry order in the YAML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jax
import jaxlib
import numpy as np
import optax

import optimizers
import problems
from bench.config import OptimizerSetting, Suite
from bench.config.schema import Param, coerce, signature_params
from bench.results.columns import FRAMES_VERSION
from bench.run.kernel import RUNNER_VERSION
from bench.run.policies import recording_for, targets_for
from problems import PROBLEMS, Problem

# Bumped when the key's own layout changes (every earlier key then misses, by design).
KEY_VERSION = 1
# Hex digits of the sha256 kept: 160 bits, no collision among any number of cells we run.
KEY_LENGTH = 40


@dataclasses.dataclass(frozen=True)
class Cell:
    """One problem x one optimizer entry of a suite, with its key."""

    problem: Problem
    setting: OptimizerSetting
    problem_index: int
    optimizer_index: int
    key: str

    @property
    def label(self) -> str:
        """`rosenbrock x adam`: how progress lines and messages name the cell."""
        return f"{self.problem.name} x {self.setting.name}"


def canonical(value: Any) -> Any:
    """A JSON-ready form of a config value: numpy and tuples as lists, floats kept exact."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        # repr round-trips a double exactly; inf and nan are not JSON, so spell them.
        return value if np.isfinite(value) else repr(value)
    raise TypeError(f"a cell key cannot hold a {type(value).__name__}")


def digest(spec: Mapping[str, Any]) -> str:
    """The sha256 of the canonical JSON of ``spec``, cut to KEY_LENGTH hex digits."""
    text = json.dumps(canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def problem_spec(suite: Suite, index: int) -> dict[str, Any]:
    """What determines problem ``index``'s numbers: kind, coerced arguments, start."""
    entry = suite.raw["problems"][index]
    kind = entry["kind"]
    params = signature_params(PROBLEMS[kind])
    arguments = {}
    for name, value in entry.items():
        if name in params:
            arguments[name] = coerce(params[name], value)[0]
    start = {}
    for name, param_kind, default in (("init", "float_list", None), ("init_noise", "float", 0.0)):
        if entry.get(name) is not None:
            start[name] = coerce(Param(name, param_kind, False, default), entry[name])[0]
    return {
        "kind": kind,
        "arguments": arguments,
        "start": start,
        "numerics": problems.numerics_versions(kind),
    }


def optimizer_spec(setting: OptimizerSetting) -> dict[str, Any]:
    """What determines an optimizer entry's numbers (its name is only a label)."""
    return {
        "kind": setting.entry.name,
        "static": dict(setting.static),
        # The grid as the ordered list the lanes follow: its order is part of the numbers'
        # layout; the loader fixes it to the factory's signature order, not the YAML's.
        "grid": [[name, list(values)] for name, values in setting.grid.items()],
        "default": None if setting.default is None else dict(setting.default),
        "schedule": None
        if setting.schedule is None
        else [setting.schedule[0], dict(setting.schedule[1])],
        "clip_norm": setting.clip_norm,
        "allow_stochastic": setting.allow_stochastic,
        "numerics": optimizers.numerics_versions(setting.entry),
    }


def protocol_spec(suite: Suite, problem: Problem) -> dict[str, Any]:
    """The suite-level settings that determine a cell's numbers."""
    recording = recording_for(problem, suite)
    return {
        "steps": suite.steps,
        "record_steps": recording.steps.tolist(),
        "path": recording.path,
        "curvature": recording.curvature,
        "dtype": suite.dtype,
        "seeds": list(suite.seeds),
        "target": suite.target,
        "targets": list(targets_for(suite)),
    }


def platform_spec() -> dict[str, Any]:
    """The code outside the project that computes the numbers, and where it runs."""
    return {
        "runner": RUNNER_VERSION,
        "frames": FRAMES_VERSION,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "backend": jax.default_backend(),
    }


def cell_key(suite: Suite, problem_index: int, setting: OptimizerSetting) -> str:
    """The key of one cell of ``suite``."""
    problem = suite.problems[problem_index]
    return digest(
        {
            "key_version": KEY_VERSION,
            "problem": problem_spec(suite, problem_index),
            "optimizer": optimizer_spec(setting),
            "protocol": protocol_spec(suite, problem),
            "platform": platform_spec(),
        }
    )


def surface_key(suite: Suite, problem_index: int) -> str:
    """The key of a 2-d problem's contour grid (it depends on the problem and dtype only)."""
    return digest(
        {
            "key_version": KEY_VERSION,
            "surface": problem_spec(suite, problem_index),
            "dtype": suite.dtype,
            "platform": platform_spec(),
        }
    )


def suite_cells(suite: Suite) -> list[Cell]:
    """Every cell of the suite, problems outer, optimizer entries inner (the YAML order)."""
    return [
        Cell(problem, setting, i, j, cell_key(suite, i, setting))
        for i, problem in enumerate(suite.problems)
        for j, setting in enumerate(suite.optimizers)
    ]
