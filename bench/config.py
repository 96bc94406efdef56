"""Load a YAML suite, check all of it, and build the problems and optimizer settings.

Every mistake in a config is collected, not just the first: the user sees the whole list at
once, each with the entry's position and a did-you-mean, before anything is compiled or
written. The factories' signatures are the schema (see ``bench.params``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import yaml

from bench.params import Param, check_keys, coerce, did_you_mean, signature_params
from optimizers import OPTIMIZERS, Optimizer
from optimizers.schedules import SCHEDULES
from problems import PROBLEMS, Problem
from problems.base import renamed, with_init_noise, with_start

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "steps",
    "seeds",
    "target",
    "dtype",
    "record_every",
    "record_log",
    "record_points",
    "max_hessian_dim",
    "curvature_max_dim",
    "problems",
    "optimizers",
)
PROBLEM_KEYS = ("kind", "name", "init", "init_noise")
OPTIMIZER_KEYS = ("kind", "name", "schedule", "clip_norm", "allow_stochastic", "default")
DTYPES = ("float64", "float32")
DEFAULT_RECORD_POINTS = 200
DEFAULT_MAX_HESSIAN_DIM = 500
DEFAULT_CURVATURE_MAX_DIM = 10
# Caps that catch a typo (1e15 steps, 10^8 seeds) before it asks for years of compute or
# arrays larger than memory; a real study splits a bigger job into several suites.
MAX_STEPS = 10_000_000
MAX_SEEDS = 10_000


class ConfigError(Exception):
    """A config (or command-line input) that cannot be run; carries every message found."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclasses.dataclass(frozen=True)
class OptimizerSetting:
    """One optimizer entry of the YAML: static arguments plus a grid of swept numbers.

    Attributes:
      name: the entry's name in the results (YAML ``name``, default its kind).
      entry: the registry entry.
      static: arguments fixed for the cell (a change means another compile).
      grid: swept hyperparameter -> values; the cartesian product of all of them is the
        setting axis of the cell, traced as arrays so it compiles once.
      schedule: (kind, kwargs) of a learning-rate multiplier schedule, or None.
      clip_norm: clip gradients by this global norm first, or None.
      allow_stochastic: run a deterministic-only method on stochastic problems anyway.
      default: the untuned setting: swept values a user gets without tuning (the factory's
        defaults, overridden by the entry's ``default:``); None where one has no default.
    """

    name: str
    entry: Optimizer
    static: Mapping[str, Any]
    grid: Mapping[str, tuple[float, ...]]
    schedule: tuple[str, Mapping[str, Any]] | None = None
    clip_norm: float | None = None
    allow_stochastic: bool = False
    default: Mapping[str, float] | None = None

    def default_index(self) -> int | None:
        """The position of the untuned setting in ``settings()``, or None if not in the grid."""
        if self.default is None:
            return None
        for index, point in enumerate(self.settings()):
            if all(math.isclose(point[k], v, rel_tol=1e-12) for k, v in self.default.items()):
                return index
        return None

    def settings(self) -> list[dict[str, float]]:
        """Every point of the grid, in a stable order (the first parameter varies slowest)."""
        names = list(self.grid)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def make_schedule(self) -> Callable[[jax.Array], jax.Array] | None:
        """The multiplier schedule, built fresh (it holds no state)."""
        if self.schedule is None:
            return None
        kind, kwargs = self.schedule
        return SCHEDULES[kind](**kwargs)


@dataclasses.dataclass(frozen=True)
class Suite:
    """A checked config: everything the runner needs, nothing left to validate."""

    name: str
    description: str
    steps: int
    seeds: tuple[int, ...]
    target: float | None
    dtype: str
    record_every: int
    record_log: bool
    record_points: int
    max_hessian_dim: int
    curvature_max_dim: int
    problems: tuple[Problem, ...]
    optimizers: tuple[OptimizerSetting, ...]
    source: str
    raw: Mapping[str, Any]


def set_dtype(dtype: str) -> None:
    """float64 needs JAX's x64 mode, switched on before any problem or array is built."""
    jax.config.update("jax_enable_x64", dtype == "float64")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The YAML mapping in ``path``, or a ConfigError saying why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            [
                f"{path}: no such config file. Give the path of a YAML suite, "
                "e.g. configs/default.yaml."
            ]
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{path}: not valid YAML{where}: {reason}."]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"{path}: a suite is a YAML mapping with keys such as name, steps, "
                f"seeds, problems and optimizers; got {type(data).__name__}."
            ]
        )
    return data


def load_suite(path: str | Path) -> Suite:
    """Read and check ``path``; raise ConfigError with every problem found."""
    raw = read_yaml(path)
    return build_suite(raw, source=str(path))


def build_suite(raw: Mapping[str, Any], source: str = "<config>") -> Suite:
    """Check a parsed config and build its problems and optimizer settings."""
    errors: list[str] = []
    errors += check_keys(raw, list(TOP_LEVEL_KEYS), f"{source}: top level")

    name = raw.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        errors.append(f"{source}: name must be a non-empty string without '/', got {name!r}.")
        name = "suite"
    description = raw.get("description", "")

    steps = _top_int(raw, "steps", 1000, source, errors, minimum=1, maximum=MAX_STEPS)
    seeds = _seeds(raw.get("seeds", 5), source, errors)
    target = raw.get("target")
    if target is not None:
        target, problem = coerce(Param("target", "float", False, None), target)
        if problem or (target is not None and target <= 0):
            errors.append(
                f"{source}: target must be a positive number (a gap such as 1e-6), "
                f"got {raw.get('target')!r}."
            )
            target = None

    dtype = raw.get("dtype", "float64")
    if dtype not in DTYPES:
        errors.append(
            f"{source}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
            f"{did_you_mean(str(dtype), DTYPES)}."
        )
        dtype = "float64"
    record_points = _top_int(raw, "record_points", DEFAULT_RECORD_POINTS, source, errors, minimum=2)
    default_every = max(1, math.ceil(steps / record_points)) if steps else 1
    record_every = _top_int(raw, "record_every", default_every, source, errors, minimum=1)
    record_log = raw.get("record_log", False)
    if not isinstance(record_log, bool):
        errors.append(f"{source}: record_log must be true or false, got {record_log!r}.")
        record_log = False
    curvature_max_dim = _top_int(
        raw, "curvature_max_dim", DEFAULT_CURVATURE_MAX_DIM, source, errors, minimum=0
    )
    max_hessian_dim = _top_int(
        raw, "max_hessian_dim", DEFAULT_MAX_HESSIAN_DIM, source, errors, minimum=1
    )

    # Problems are built under the suite's dtype: float64 constants stay float64 only in x64.
    set_dtype(dtype)
    problems = _build_problems(raw.get("problems"), source, errors)
    optimizers = _build_optimizers(raw.get("optimizers"), source, errors)

    if errors:
        raise ConfigError(errors)
    return Suite(
        name=name,
        description=str(description),
        steps=steps,
        seeds=seeds,
        target=target,
        dtype=dtype,
        record_every=record_every,
        record_log=record_log,
        record_points=record_points,
        max_hessian_dim=max_hessian_dim,
        curvature_max_dim=curvature_max_dim,
        problems=tuple(problems),
        optimizers=tuple(optimizers),
        source=source,
        raw=dict(raw),
    )


def _top_int(
    raw: Mapping[str, Any],
    key: str,
    default: int,
    source: str,
    errors: list[str],
    minimum: int,
    maximum: int | None = None,
) -> int:
    if key not in raw:
        return default
    value, problem = coerce(Param(key, "int", False, default), raw[key])
    if problem or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" + ("" if maximum is None else f" and at most {maximum:,}")
        errors.append(f"{source}: {key} must be an integer {bounds}, got {raw[key]!r}.")
        return default
    return value


def _seeds(value: Any, source: str, errors: list[str]) -> tuple[int, ...]:
    if isinstance(value, list):
        seeds = [coerce(Param("seeds", "int", False, 0), v)[0] for v in value]
        if (
            not value
            or len(value) > MAX_SEEDS
            or any(s is None or s < 0 for s in seeds)
            or len(set(seeds)) != len(seeds)
        ):
            shown = repr(value) if len(value) <= 20 else f"a list of {len(value)} values"
            errors.append(
                f"{source}: seeds must be a count (5 = seeds 0..4) or a list of at most "
                f"{MAX_SEEDS:,} distinct non-negative integers, got {shown}."
            )
            return (0,)
        return tuple(seeds)
    count, problem = coerce(Param("seeds", "int", False, 5), value)
    if problem or count < 1 or count > MAX_SEEDS:
        errors.append(
            f"{source}: seeds must be a count >= 1 and at most {MAX_SEEDS:,} (5 = seeds "
            f"0..4) or a list of seeds, got {value!r}."
        )
        return (0,)
    return tuple(range(count))


def _entry_where(source: str, section: str, index: int, entry: Any) -> str:
    kind = entry.get("kind") if isinstance(entry, dict) else None
    label = f" ({kind})" if isinstance(kind, str) else ""
    return f"{source}: {section}[{index}]{label}"


def _check_kind(
    entry: Any, registry: Mapping[str, Any], where: str, section: str, errors: list[str]
) -> str | None:
    if not isinstance(entry, dict):
        errors.append(
            f"{where}: each entry of {section} is a mapping with a 'kind', got {entry!r}."
        )
        return None
    kind = entry.get("kind")
    if kind is None:
        errors.append(f"{where}: missing 'kind'. Run `python -m bench list` for the kinds.")
        return None
    # A list or mapping here is unhashable: it cannot be looked up in the registry.
    if not isinstance(kind, str):
        errors.append(
            f"{where}: kind must be one name (a string such as {next(iter(registry))!r}), got "
            f"{kind!r}. Run `python -m bench list` for the registered kinds."
        )
        return None
    if kind not in registry:
        hint = did_you_mean(str(kind), list(registry))
        errors.append(
            f"{where}: unknown kind {kind!r}{hint} Run `python -m bench list` for "
            "the registered kinds."
        )
        return None
    return kind


def _coerce_arguments(
    entry: Mapping[str, Any],
    params: Mapping[str, Param],
    generic: tuple[str, ...],
    where: str,
    errors: list[str],
    grid_params: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, tuple[float, ...]]]:
    """(static arguments, grid) from an entry's keys; messages go to ``errors``."""
    n_errors = len(errors)
    errors += check_keys(entry, list(generic) + list(params), where)
    if len(errors) > n_errors:
        return {}, {}
    static: dict[str, Any] = {}
    grid: dict[str, tuple[float, ...]] = {}
    for key, value in entry.items():
        if key in generic:
            continue
        param = params[key]
        if key in grid_params:
            values = value if isinstance(value, list) else [value]
            converted = [coerce(param, v) for v in values]
            problems = [p for _, p in converted if p]
            if not values:
                errors.append(f"{where}: {key} is an empty list; give at least one value.")
            elif problems:
                errors.append(f"{where}: {problems[0]}.")
            else:
                grid[key] = tuple(v for v, _ in converted)
            continue
        if isinstance(value, list) and param.kind in ("float", "int", "bool", "str", "choice"):
            why = (
                "is not a sweepable hyperparameter of this optimizer"
                if grid_params
                else "is a problem parameter"
            )
            errors.append(
                f"{where}: {key} {why}, so it takes one value, not the list "
                f"{value!r}: write one entry per value, each with its own name."
            )
            continue
        converted, problem = coerce(param, value)
        if problem:
            errors.append(f"{where}: {problem}.")
        else:
            static[key] = converted
    for param in params.values():
        if param.required and param.name not in entry:
            errors.append(f"{where}: missing required key {param.name!r} ({param.describe()}).")
    return static, grid


def _build_problems(section: Any, source: str, errors: list[str]) -> list[Problem]:
    if not isinstance(section, list) or not section:
        errors.append(
            f"{source}: problems must be a non-empty list of entries with a 'kind' "
            "(e.g. '- kind: rosenbrock')."
        )
        return []
    problems: list[Problem] = []
    for index, entry in enumerate(section):
        where = _entry_where(source, "problems", index, entry)
        kind = _check_kind(entry, PROBLEMS, where, "problems", errors)
        if kind is None:
            continue
        factory = PROBLEMS[kind]
        n_errors = len(errors)
        kwargs, _ = _coerce_arguments(entry, signature_params(factory), PROBLEM_KEYS, where, errors)
        init, init_noise = _start_options(entry, where, errors)
        name = _entry_name(entry, kind, where, errors)
        if len(errors) > n_errors:
            continue
        try:
            problem = factory(**kwargs)
            if init is not None:
                problem = with_start(problem, init)
        except ValueError as error:
            errors.append(f"{where}: {error}")
            continue
        if init_noise:
            problem = with_init_noise(problem, init_noise)
        problems.append(renamed(problem, name))
    _check_unique([p.name for p in problems], "problem", source, errors)
    return problems


def _entry_name(entry: Mapping[str, Any], kind: str, where: str, errors: list[str]) -> str:
    """The entry's ``name`` (default its kind); it labels rows and files, so it is a string."""
    if "name" not in entry:
        return kind
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        errors.append(
            f"{where}: name must be a non-empty string (the label of this entry's results, "
            f"e.g. 'my-{kind}'), got {name!r}; leave it out to use the kind {kind!r}."
        )
        return kind
    return name


def _start_options(entry: Mapping[str, Any], where: str, errors: list[str]):
    init = entry.get("init")
    if init is not None:
        init, problem = coerce(Param("init", "float_list", False, None), init)
        if problem:
            errors.append(f"{where}: {problem}.")
            init = None
    init_noise = entry.get("init_noise", 0.0)
    init_noise, problem = coerce(Param("init_noise", "float", False, 0.0), init_noise)
    if problem or init_noise < 0:
        errors.append(
            f"{where}: init_noise must be a number >= 0 (the standard deviation of "
            f"the per-seed perturbation of the start), got {entry.get('init_noise')!r}."
        )
        init_noise = 0.0
    return init, init_noise


def _build_optimizers(section: Any, source: str, errors: list[str]) -> list[OptimizerSetting]:
    # Imported here: compose is the one place that turns an entry + numbers into a transform.
    from optimizers.compose import build_transform

    if not isinstance(section, list) or not section:
        errors.append(
            f"{source}: optimizers must be a non-empty list of entries with a 'kind' "
            "(e.g. '- kind: adam')."
        )
        return []
    settings: list[OptimizerSetting] = []
    for index, entry in enumerate(section):
        where = _entry_where(source, "optimizers", index, entry)
        kind = _check_kind(entry, OPTIMIZERS, where, "optimizers", errors)
        if kind is None:
            continue
        optimizer = OPTIMIZERS[kind]
        params = signature_params(optimizer.factory)
        n_errors = len(errors)
        static, grid = _coerce_arguments(
            entry, params, OPTIMIZER_KEYS, where, errors, grid_params=optimizer.sweepable
        )
        for key, values in grid.items():
            if key == "learning_rate" and any(v <= 0 for v in values):
                errors.append(f"{where}: learning_rate must be > 0, got {list(values)}.")
        schedule = _schedule(entry.get("schedule"), where, errors)
        clip_norm = entry.get("clip_norm")
        if clip_norm is not None:
            clip_norm, problem = coerce(Param("clip_norm", "float", False, None), clip_norm)
            if problem or clip_norm <= 0:
                errors.append(
                    f"{where}: clip_norm must be a number > 0 (the largest global "
                    f"gradient norm), got {entry.get('clip_norm')!r}."
                )
        allow_stochastic = entry.get("allow_stochastic", False)
        if not isinstance(allow_stochastic, bool):
            errors.append(
                f"{where}: allow_stochastic must be true or false, got {allow_stochastic!r}."
            )
        default = _default_point(entry.get("default"), params, grid, where, errors)
        name = _entry_name(entry, kind, where, errors)
        if len(errors) > n_errors:
            continue
        setting = OptimizerSetting(
            name=name,
            entry=optimizer,
            static=static,
            grid=grid,
            schedule=schedule,
            clip_norm=clip_norm,
            allow_stochastic=allow_stochastic,
            default=default,
        )
        # Build the transform once with every grid point's numbers: the factory's own
        # range checks run now, before anything is compiled.
        try:
            for point in setting.settings():
                build_transform(
                    optimizer,
                    {**static, **point},
                    schedule=setting.make_schedule(),
                    clip_norm=clip_norm,
                )
        except (ValueError, TypeError) as error:
            errors.append(f"{where}: {error}")
            continue
        settings.append(setting)
    _check_unique([s.name for s in settings], "optimizer", source, errors)
    return settings


def _default_point(
    spec: Any,
    params: Mapping[str, Param],
    grid: Mapping[str, tuple[float, ...]],
    where: str,
    errors: list[str],
) -> dict[str, float] | None:
    """The untuned values of the swept parameters: the entry's `default:` over the factory's."""
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        errors.append(
            f"{where}: default must be a mapping such as {{learning_rate: 1e-3}}, got {spec!r}."
        )
        return None
    n_errors = len(errors)
    errors += check_keys(spec, list(grid), f"{where} default")
    # A value written here is checked like the grid's; a missing one falls back silently.
    for name, value in spec.items():
        if name not in grid:
            continue
        number, problem = coerce(Param(name, "float", False, None), value)
        if problem:
            errors.append(
                f"{where} default: {problem} (the untuned value of {name}, a number such as 1e-3)."
            )
        elif name == "learning_rate" and number <= 0:
            errors.append(f"{where} default: learning_rate must be > 0, got {value!r}.")
    if len(errors) > n_errors:
        return None
    point: dict[str, float] = {}
    for name in grid:
        if name in spec:
            value = spec[name]
        elif len(grid[name]) == 1:
            value = grid[name][0]  # written once: a fixed value, for tuned and untuned alike
        else:
            value = params[name].default
        value, problem = coerce(Param(name, "float", False, None), value)
        if problem or value is None:
            return None  # no default for this swept parameter: the entry has no untuned point
        point[name] = value
    return point


def _schedule(spec: Any, where: str, errors: list[str]) -> tuple[str, dict[str, Any]] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        errors.append(
            f"{where}: schedule must be a mapping such as "
            f"{{kind: cosine, decay_steps: 1000}} (or just the kind's name), got {spec!r}."
        )
        return None
    schedule_where = f"{where} schedule"
    kind = _check_kind(spec, SCHEDULES, schedule_where, "schedule", errors)
    if kind is None:
        return None
    n_errors = len(errors)
    kwargs, _ = _coerce_arguments(
        spec, signature_params(SCHEDULES[kind]), ("kind",), schedule_where, errors
    )
    if len(errors) > n_errors:
        return None
    try:
        SCHEDULES[kind](**kwargs)
    except ValueError as error:
        errors.append(f"{schedule_where}: {error}")
        return None
    return kind, kwargs


def _check_unique(names: list[str], what: str, source: str, errors: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(
                f"{source}: two {what} entries are named {name!r}; give one of them "
                "a distinct 'name' so their results stay apart."
            )
        seen.add(name)
