"""The cell key: a hash of everything that determines a cell's numbers, and nothing else.

Two runs that agree on the key compute bitwise the same tables for that cell, so the store
(``bench.results.store``) can hand back a finished cell instead of computing it again. The
key holds the problem (kind, arguments, start), the optimizer entry (kind, static
arguments, grid, default point, schedule, clipping), the protocol (steps, recording grid,
dtype, seeds, targets), the numerics versions of the problem's and the optimizer's families
(``problems.NUMERICS_VERSIONS``, ``optimizers.NUMERICS_VERSIONS``), the runner's, and the
libraries' versions and backend. It leaves out what only labels results (entry names, the
suite's name and description, the position of an entry in the YAML) and what only decides
how the lanes are scheduled (chunking by memory). Splitting the lanes over devices
(``--devices``) is in it: XLA compiles a program for the smaller per-device batch, and a
batch of another size can round differently in the last bit (matrix products over the lanes).

Every value is canonical JSON: mapping keys sorted, numbers as the config checker coerced
them (``1e-3`` and ``0.001`` are one value), so the key does not depend on key order or
entry order in the YAML.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
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
from bench.results.threads import thread_key
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
    if isinstance(value, (datetime.date, datetime.time)):  # YAML reads 2024-01-01 as a date
        return value.isoformat()
    if isinstance(value, float):
        # repr round-trips a double exactly; inf and nan are not JSON, so spell them.
        return value if np.isfinite(value) else repr(value)
    raise TypeError(f"a cell key cannot hold a {type(value).__name__}")


def digest(spec: Mapping[str, Any]) -> str:
    """The sha256 of the canonical JSON of ``spec``, cut to KEY_LENGTH hex digits."""
    return _digest_canonical(canonical(spec))


def _digest_canonical(spec: Mapping[str, Any]) -> str:
    """``digest`` of a spec whose values are canonical already (``canonical`` is
    idempotent, so the JSON text, and the key, are the same)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _with_defaults(params: Mapping[str, Param], given: Mapping[str, Any], leave_out=()) -> dict:
    """The arguments a factory really gets: the given ones over its defaults (so `dim: 2`
    written out and `dim` left at its default of 2 are one key)."""
    arguments = {n: p.default for n, p in params.items() if not p.required and n not in leave_out}
    arguments.update(given)
    return arguments


def problem_spec(suite: Suite, index: int) -> dict[str, Any]:
    """What determines problem ``index``'s numbers: kind, coerced arguments, start."""
    entry = suite.raw["problems"][index]
    kind = entry["kind"]
    params = signature_params(PROBLEMS[kind])
    given = {n: coerce(params[n], v)[0] for n, v in entry.items() if n in params}
    start: dict[str, Any] = {}
    if entry.get("init") is not None:
        start["init"] = coerce(Param("init", "float_list", False, None), entry["init"])[0]
    noise = coerce(Param("init_noise", "float", False, 0.0), entry.get("init_noise", 0.0))[0]
    if noise:  # no noise and `init_noise: 0` are the same start
        start["init_noise"] = noise
    return {
        "kind": kind,
        "arguments": _with_defaults(params, given),
        "start": start,
        "numerics": problems.numerics_versions(kind),
    }


def optimizer_spec(setting: OptimizerSetting) -> dict[str, Any]:
    """What determines an optimizer entry's numbers (its name is only a label; whether it
    may run on a stochastic problem decides a skip, not numbers)."""
    params = signature_params(setting.entry.factory)
    return {
        "kind": setting.entry.name,
        "static": _with_defaults(params, setting.static, leave_out=setting.grid),
        # The grid as the ordered list the lanes follow: its order is part of the numbers'
        # layout; the loader fixes it to the factory's signature order, not the YAML's.
        "grid": [[name, list(values)] for name, values in setting.grid.items()],
        "default": None if setting.default is None else dict(setting.default),
        "schedule": None
        if setting.schedule is None
        else [setting.schedule[0], dict(setting.schedule[1])],
        "clip_norm": setting.clip_norm,
        "numerics": optimizers.numerics_versions(setting.entry),
    }


def protocol_spec(suite: Suite, problem: Problem, lane_devices: int = 1) -> dict[str, Any]:
    """The suite-level settings that determine a cell's numbers (and the devices its lanes
    are split over, when more than one: the per-device batch is compiled apart)."""
    recording = recording_for(problem, suite)
    split = {"lane_devices": lane_devices} if lane_devices > 1 else {}
    return {
        **split,
        "steps": suite.steps,
        "record_steps": recording.steps.tolist(),
        "path": recording.path,
        "curvature": recording.curvature,
        "dtype": suite.dtype,
        "seeds": list(suite.seeds),
        "target": suite.target,
        "targets": list(targets_for(suite)),
    }


@functools.cache
def platform_spec() -> dict[str, Any]:
    """The code outside the project that computes the numbers, and where it runs.

    A store shared between machines serves a cell only to a machine that agrees on all of
    it: XLA may compile the same program to other instructions on another CPU or device.
    """
    return {
        "runner": RUNNER_VERSION,
        "frames": FRAMES_VERSION,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scikit-learn": importlib.metadata.version("scikit-learn"),  # the bundled datasets
        "backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "processor": platform.machine(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # XLA's and OpenBLAS's thread pools: their sizes can change the last bits.
        "threads": thread_key(),
    }


def _cell_spec(problem: Any, optimizer: Any, protocol: Any) -> dict[str, Any]:
    return {
        "key_version": KEY_VERSION,
        "problem": problem,
        "optimizer": optimizer,
        "protocol": protocol,
        "platform": dict(platform_spec()),
    }


def cell_key(
    suite: Suite, problem_index: int, setting: OptimizerSetting, lane_devices: int = 1
) -> str:
    """The key of one cell of ``suite`` (its lanes split over ``lane_devices``)."""
    problem = suite.problems[problem_index]
    return digest(
        _cell_spec(
            problem_spec(suite, problem_index),
            optimizer_spec(setting),
            protocol_spec(suite, problem, lane_devices),
        )
    )


def surface_key(suite: Suite, problem_index: int) -> str:
    """The key of a 2-d problem's contour grid (it depends on the problem and dtype only)."""
    return digest(
        {
            "key_version": KEY_VERSION,
            "surface": problem_spec(suite, problem_index),
            "dtype": suite.dtype,
            "platform": dict(platform_spec()),
        }
    )


def suite_cells(suite: Suite, lane_devices: int = 1) -> list[Cell]:
    """Every cell of the suite, problems outer, optimizer entries inner (the YAML order).

    The keys are ``cell_key``'s; each problem's and each entry's part of the spec is made
    canonical once, not once per cell (a 500-cell suite walked 160,000 values otherwise).
    """
    problem_specs = [canonical(problem_spec(suite, i)) for i in range(len(suite.problems))]
    protocol_specs = [
        canonical(protocol_spec(suite, problem, lane_devices)) for problem in suite.problems
    ]
    entry_specs = [canonical(optimizer_spec(setting)) for setting in suite.optimizers]
    return [
        Cell(
            problem,
            setting,
            i,
            j,
            _digest_canonical(_cell_spec(problem_specs[i], entry_specs[j], protocol_specs[i])),
        )
        for i, problem in enumerate(suite.problems)
        for j, setting in enumerate(suite.optimizers)
    ]
