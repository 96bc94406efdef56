"""Load a YAML suite, check all of it, and build the problems and optimizer settings.

Every mistake in a config is collected, not just the first: the user sees the whole list at
once, each with the entry's position and a did-you-mean, before anything is compiled or
written. The factories' signatures are the schema (see ``bench.config.schema``). Beyond the
types and ranges: a grid may not list one value twice, and an ``expression``'s declared
minimum is tested against its formula (in numpy float64: validation compiles nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.config.names import slug_collisions, suite_name_problem
from bench.config.reading import MAX_CONFIG_BYTES, decode_config, parse_config_yaml
from bench.config.records import ConfigError, OptimizerSetting, Suite, set_dtype
from bench.config.schema import (
    Param,
    check_keys,
    coerce,
    did_you_mean,
    shown,
    signature_params,
)
from optimizers import OPTIMIZERS
from optimizers.schedules import SCHEDULES
from problems import PROBLEMS, Problem
from problems.base import renamed, with_init_noise, with_start
from problems.expression_optimum import declared_optimum_problems

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
    "max_dense_state_dim",
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
# The runner casts seeds to uint32: a seed is an integer in [0, 2**32).
SEED_LIMIT = 2**32
# One cell runs every grid point x every seed as one batch of lanes: at most this many. The
# product is computed from the lengths of the value lists, never by enumerating the grid,
# and is checked before anything walks the grid.
MAX_LANES = 100_000


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
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            [
                f"{path}: {size:,} bytes, above the {MAX_CONFIG_BYTES:,} bytes a config may "
                "have (a suite is a few kB); is this the right file?"
            ]
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read: {error.strerror or error}."]) from None
    data = parse_config_yaml(decode_config(data, path), path)
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"{path}: a suite is a YAML mapping with keys such as name, steps, "
                f"seeds, problems and optimizers; got {type(data).__name__}."
            ]
        )
    return data


def load_suite(
    path: str | Path, *, check_resources: bool = True, check_optimum: bool = True
) -> Suite:
    """Read and check ``path``; raise ConfigError with every problem found.

    With ``check_resources``, also refuse cells that cannot fit this machine
    (``bench.run.preflight.resource_errors``, once the config itself is valid).
    ``check_optimum`` (see ``build_suite``): `validate` and `run` load with it; `bench
    check` loads without, since it tests a declared optimum itself, in full (Hessian
    included), and must get to report a wrong one rather than be refused by the cheap test.
    """
    raw = read_yaml(path)
    suite = build_suite(raw, source=str(path), check_optimum=check_optimum)
    if check_resources:
        # Imported here: the runner's modules are not needed to read a config.
        from bench.run.preflight import resource_errors

        errors = resource_errors(suite)
        if errors:
            raise ConfigError(errors)
    return suite


def build_suite(
    raw: Mapping[str, Any], source: str = "<config>", *, check_optimum: bool = True
) -> Suite:
    """Check a parsed config and build its problems and optimizer settings.

    With ``check_optimum``, an ``expression`` problem's declared ``f_star`` / ``x_star`` is
    tested against its formula (``_optimum_errors``: no JAX, nothing compiled).
    """
    errors: list[str] = []
    errors += check_keys(raw, list(TOP_LEVEL_KEYS), f"{source}: top level")

    name = raw.get("name", Path(source).stem)
    why = suite_name_problem(name)
    if why is not None:
        origin = "" if "name" in raw else " (taken from the file name: set name: in the config)"
        errors.append(
            f"{source}: name must be a non-empty string without '/', '\\', NUL or other "
            f"control characters, not starting with '.', at most 255 bytes in UTF-8 (it names "
            f"the results folder results/<name>/); got {shown(name)}{origin}: {why}."
        )
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
                f"got {shown(raw.get('target'))}."
            )
            target = None

    dtype = raw.get("dtype", "float64")
    if dtype not in DTYPES:
        errors.append(
            f"{source}: dtype must be one of {', '.join(DTYPES)}, got {shown(dtype)}"
            f"{did_you_mean(str(dtype), DTYPES)}."
        )
        dtype = "float64"
    record_points = _top_int(raw, "record_points", DEFAULT_RECORD_POINTS, source, errors, minimum=2)
    default_every = max(1, math.ceil(steps / record_points)) if steps else 1
    record_every = _top_int(raw, "record_every", default_every, source, errors, minimum=1)
    record_log = raw.get("record_log", False)
    if not isinstance(record_log, bool):
        errors.append(f"{source}: record_log must be true or false, got {shown(record_log)}.")
        record_log = False
    curvature_max_dim = _top_int(
        raw, "curvature_max_dim", DEFAULT_CURVATURE_MAX_DIM, source, errors, minimum=0
    )
    max_hessian_dim = _top_int(
        raw, "max_hessian_dim", DEFAULT_MAX_HESSIAN_DIM, source, errors, minimum=1
    )
    # Dense-state methods (BFGS) keep a dim x dim matrix: the same cap as dense Hessians.
    max_dense_state_dim = _top_int(
        raw, "max_dense_state_dim", max_hessian_dim, source, errors, minimum=1
    )

    # Problems are built under the suite's dtype: float64 constants stay float64 only in x64.
    set_dtype(dtype)
    problems = _build_problems(raw.get("problems"), source, errors, check_optimum)
    optimizers = _build_optimizers(raw.get("optimizers"), source, len(seeds), errors)

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
        max_dense_state_dim=max_dense_state_dim,
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
        errors.append(f"{source}: {key} must be an integer {bounds}, got {shown(raw[key])}.")
        return default
    return value


def _seeds(value: Any, source: str, errors: list[str]) -> tuple[int, ...]:
    if isinstance(value, list):
        seeds = [coerce(Param("seeds", "int", False, 0), v)[0] for v in value]
        too_large = [(i, s) for i, s in enumerate(seeds) if s is not None and s >= SEED_LIMIT]
        if too_large:
            index, seed = too_large[0]
            more = f" (and {len(too_large) - 1:,} more)" if len(too_large) > 1 else ""
            errors.append(
                f"{source}: seeds[{index}] is {shown(seed)}{more}, not below 2**32 = "
                f"{SEED_LIMIT:,}: the runner draws each run's randomness from its seed as an "
                f"unsigned 32-bit integer. Use seeds from 0 to {SEED_LIMIT - 1:,}."
            )
            return (0,)
        if (
            not value
            or len(value) > MAX_SEEDS
            or any(s is None or s < 0 for s in seeds)
            or len(set(seeds)) != len(seeds)
        ):
            given = shown(value) if len(value) <= 20 else f"a list of {len(value)} values"
            errors.append(
                f"{source}: seeds must be a count (5 = seeds 0..4) or a list of at most "
                f"{MAX_SEEDS:,} distinct non-negative integers, got {given}."
            )
            return (0,)
        return tuple(seeds)
    count, problem = coerce(Param("seeds", "int", False, 5), value)
    # MAX_SEEDS < SEED_LIMIT: a count's seeds 0..count-1 are all valid uint32 seeds.
    if problem or count < 1 or count > min(MAX_SEEDS, SEED_LIMIT):
        errors.append(
            f"{source}: seeds must be a count >= 1 and at most {MAX_SEEDS:,} (5 = seeds "
            f"0..4) or a list of seeds, got {shown(value)}."
        )
        return (0,)
    return tuple(range(count))


def _entry_where(source: str, section: str, index: int, entry: Any) -> str:
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if isinstance(kind, str) and len(kind) > 40:
        kind = f"{kind[:40]}..."  # an unknown kind is named in full (cut) by its message
    label = f" ({kind})" if isinstance(kind, str) else ""
    return f"{source}: {section}[{index}]{label}"


def _check_kind(
    entry: Any, registry: Mapping[str, Any], where: str, section: str, errors: list[str]
) -> str | None:
    if not isinstance(entry, dict):
        errors.append(
            f"{where}: each entry of {section} is a mapping with a 'kind', got {shown(entry)}."
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
            f"{shown(kind)}. Run `python -m bench list` for the registered kinds."
        )
        return None
    if kind not in registry:
        hint = did_you_mean(str(kind), list(registry))
        errors.append(
            f"{where}: unknown kind {shown(kind)}{hint} Run `python -m bench list` for "
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
                repeated = _repeated_values(key, values, grid[key], where)
                if repeated is not None:
                    errors.append(repeated)
            continue
        if isinstance(value, list) and param.kind in ("float", "int", "bool", "str", "choice"):
            why = (
                "is not a sweepable hyperparameter of this optimizer"
                if grid_params
                else "is a problem parameter"
            )
            errors.append(
                f"{where}: {key} {why}, so it takes one value, not the list "
                f"{shown(value)}: write one entry per value, each with its own name."
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
    # The grid in the factory's signature order, not the YAML's: one entry written with its
    # keys in another order is the same cell (same settings, same setting indices).
    grid = {name: grid[name] for name in params if name in grid}
    return static, grid


def _repeated_values(
    key: str, written: list[Any], values: tuple[Any, ...], where: str
) -> str | None:
    """A message when a grid lists one value twice (equal once read as numbers), else None.

    A repeat would be one more lane computing the same numbers, and two settings with one
    label in the tables. The rule is exact equality after coercion (``values`` are the
    coerced numbers, ``written`` the YAML items): 1e-3, '1e-3' and 0.001 are one value; 0.999
    and 0.9999 are two. Counted with a dict: linear in the list.
    """
    spellings: dict[Any, list[Any]] = {}
    for value, raw in zip(values, written, strict=True):
        spellings.setdefault(value, []).append(raw)
    repeats = {value: raws for value, raws in spellings.items() if len(raws) > 1}
    if not repeats:
        return None
    parts = []
    for value, raws in list(repeats.items())[:5]:
        times = "twice" if len(raws) == 2 else f"{len(raws)} times"
        spelled = list(dict.fromkeys(shown(raw) for raw in raws))  # each spelling once
        if spelled != [shown(value)]:  # '1e-3' beside 0.001: say why they are one value
            cut = ", ..." if len(spelled) > 4 else ""
            as_written = (" and " if len(spelled) == 2 else ", ").join(spelled[:4]) + cut
            every = "both" if len(raws) == 2 else "all"
            times += f" (written {as_written}, {every} {value!r} as numbers)"
        parts.append(f"{shown(value)} {times}")
    more = f" and {len(repeats) - 5:,} more repeated values" if len(repeats) > 5 else ""
    distinct = list(spellings)
    example = shown(distinct) if len(distinct) <= 20 else f"the {len(distinct):,} distinct values"
    return (
        f"{where}: {key} lists {'; '.join(parts)}{more}: each value of a grid is one setting "
        f"of the sweep, so the values must be distinct; drop the repeats, e.g. {key}: "
        f"{example}."
    )


def _start_points(problem: Problem, init: list[float] | None) -> list[tuple[str, np.ndarray]]:
    """Points the surface reaches at the start: the fixed start, else the random one's centre."""
    if init is not None:
        return [("the start init", np.asarray(init, np.float64))]
    if problem.bounds is not None:
        center = np.mean(np.asarray(problem.bounds, np.float64), axis=1)
        return [("the centre of bounds (the uniform start is drawn around it)", center)]
    return [("the origin (the centre of the N(0, I) start)", np.zeros(problem.dim))]


def _optimum_errors(
    problem: Problem, formula: str, init: list[float] | None, where: str
) -> list[str]:
    """The cheap part of `bench check` for an expression's declared f_star / x_star.

    ``problems.expression_optimum.declared_optimum_problems``: loss(x*) = f*, a zero
    gradient at each x*, and no start below f*, in float64 numpy whatever the suite's dtype
    (no JAX, so validation still compiles nothing); the tolerances are documented there.
    """
    if problem.f_star is None and problem.x_star is None:
        return []
    found = declared_optimum_problems(
        formula, problem.f_star, problem.x_star, _start_points(problem, init)
    )
    return [f"{where} {shown(problem.name)}: {message}" for message in found]


def _build_problems(
    section: Any, source: str, errors: list[str], check_optimum: bool = True
) -> list[Problem]:
    if not isinstance(section, list) or not section:
        errors.append(
            f"{source}: problems must be a non-empty list of entries with a 'kind' "
            "(e.g. '- kind: rosenbrock')."
        )
        return []
    problems: list[Problem] = []
    named: list[tuple[str, str]] = []
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
        if kind == "expression" and check_optimum:
            errors += _optimum_errors(renamed(problem, name), kwargs["formula"], init, where)
        if init_noise:
            problem = with_init_noise(problem, init_noise)
        problems.append(renamed(problem, name))
        named.append((where, name))
    _check_unique([p.name for p in problems], "problem", source, errors)
    errors += slug_collisions(named, "problem", source)
    return problems


def _entry_name(entry: Mapping[str, Any], kind: str, where: str, errors: list[str]) -> str:
    """The entry's ``name`` (default its kind); it labels rows and files, so it is a string."""
    if "name" not in entry:
        return kind
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        errors.append(
            f"{where}: name must be a non-empty string (the label of this entry's results, "
            f"e.g. 'my-{kind}'), got {shown(name)}; leave it out to use the kind {kind!r}."
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
            f"the per-seed perturbation of the start), got {shown(entry.get('init_noise'))}."
        )
        init_noise = 0.0
    return init, init_noise


def _build_optimizers(
    section: Any, source: str, n_seeds: int, errors: list[str]
) -> list[OptimizerSetting]:
    # Imported here: compose is the one place that turns an entry + numbers into a transform.
    from optimizers.compose import build_transform

    if not isinstance(section, list) or not section:
        errors.append(
            f"{source}: optimizers must be a non-empty list of entries with a 'kind' "
            "(e.g. '- kind: adam')."
        )
        return []
    settings: list[OptimizerSetting] = []
    named: list[tuple[str, str]] = []
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
                errors.append(f"{where}: learning_rate must be > 0, got {shown(list(values))}.")
        lanes = _lanes_error(grid, n_seeds, where)
        if lanes is not None:
            errors.append(lanes)
        schedule = _schedule(entry.get("schedule"), where, errors)
        clip_norm = entry.get("clip_norm")
        if clip_norm is not None:
            clip_norm, problem = coerce(Param("clip_norm", "float", False, None), clip_norm)
            if problem or clip_norm <= 0:
                errors.append(
                    f"{where}: clip_norm must be a number > 0 (the largest global "
                    f"gradient norm), got {shown(entry.get('clip_norm'))}."
                )
        allow_stochastic = entry.get("allow_stochastic", False)
        if not isinstance(allow_stochastic, bool):
            errors.append(
                f"{where}: allow_stochastic must be true or false, got {shown(allow_stochastic)}."
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
        named.append((where, name))
    _check_unique([s.name for s in settings], "optimizer", source, errors)
    errors += slug_collisions(named, "optimizer", source)
    return settings


def _lanes_error(grid: Mapping[str, tuple[float, ...]], n_seeds: int, where: str) -> str | None:
    """A message when the cell's settings x seeds exceed MAX_LANES, from the list lengths."""
    n_settings = math.prod(len(values) for values in grid.values())
    if n_settings * n_seeds <= MAX_LANES:
        return None
    factors = " x ".join(f"{len(values):,} {name}" for name, values in grid.items())
    return (
        f"{where}: the grid is {factors} = {n_settings:,} settings, times {n_seeds:,} "
        f"seed{'s' * (n_seeds != 1)} = {n_settings * n_seeds:,} runs in one cell, above the "
        f"cap of {MAX_LANES:,} runs per cell. Sweep fewer values (or fewer seeds), or split "
        "the grid over several entries or suites."
    )


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
            f"{where}: default must be a mapping such as {{learning_rate: 1e-3}}, "
            f"got {shown(spec)}."
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
            errors.append(f"{where} default: learning_rate must be > 0, got {shown(value)}.")
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
            f"{{kind: cosine, decay_steps: 1000}} (or just the kind's name), got {shown(spec)}."
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
                f"{source}: two {what} entries are named {shown(name)}; give one of them "
                "a distinct 'name' so their results stay apart."
            )
        seen.add(name)
