"""Properties every registered problem must have: registry, schema, starts, NaN, gradients, f*."""

import inspect
import pathlib
import pkgutil
import types
import typing
from importlib import import_module

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import problems
from problems import EXAMPLE_ARGUMENTS, PROBLEMS, Problem

# (case name, kind, factory arguments): every kind with its defaults, plus variants.
CASES = (
    ("quadratic", "quadratic", {}),
    ("quadratic-isotropic", "quadratic", {"dim": 5, "condition_number": 1.0}),
    (
        "quadratic-outliers",
        "quadratic",
        {"dim": 20, "condition_number": 1e4, "spectrum": "outliers"},
    ),
    ("least_squares", "least_squares", {}),
    ("least_squares-diabetes", "least_squares", {"dataset": "diabetes"}),
    ("rosenbrock", "rosenbrock", {}),
    ("rosenbrock-5d", "rosenbrock", {"dim": 5}),
    ("beale", "beale", {}),
    ("booth", "booth", {}),
    ("himmelblau", "himmelblau", {}),
    ("six_hump_camel", "six_hump_camel", {}),
    ("goldstein_price", "goldstein_price", {}),
    ("styblinski_tang", "styblinski_tang", {}),
    ("rastrigin", "rastrigin", {}),
    ("ackley", "ackley", {}),
    ("saddle", "saddle", {}),
    ("saddle_nd", "saddle_nd", {}),
    ("plateau", "plateau", {}),
    ("logistic", "logistic", {}),
    ("logistic-synthetic", "logistic", {"dataset": "synthetic", "batch_size": 32}),
    ("mlp-synthetic", "mlp", {"dataset": "synthetic", "hidden_sizes": (8, 8)}),
    ("mlp-digits-relu", "mlp", {"hidden_sizes": (16,), "activation": "relu", "batch_size": 64}),
    ("expression", "expression", EXAMPLE_ARGUMENTS["expression"]),
    (
        "expression-vector",
        "expression",
        {"formula": "sum(x**2) + 1", "dim": 3, "f_star": 1.0, "x_star": [0.0, 0.0, 0.0]},
    ),
)
IDS = tuple(case[0] for case in CASES)
_BUILT: dict[str, Problem] = {}


def build(name: str) -> Problem:
    """Each case built once per session: construction is deterministic."""
    if name not in _BUILT:
        _, kind, kwargs = next(case for case in CASES if case[0] == name)
        _BUILT[name] = PROBLEMS[kind](**kwargs)
    return _BUILT[name]


BATCH = 64
_EVALUATORS: dict[str, object] = {}


def evaluate(name: str, points) -> tuple[np.ndarray, np.ndarray]:
    """Full-objective values and gradients at ``points``: one compile per case, fixed batch."""
    if name not in _EVALUATORS:
        problem = build(name)
        _EVALUATORS[name] = jax.jit(jax.vmap(jax.value_and_grad(problem.objective)))
    points = np.atleast_2d(np.asarray(points, np.float64))
    values, grads = [], []
    for start in range(0, len(points), BATCH):
        chunk = points[start : start + BATCH]
        padded = np.concatenate([chunk, np.zeros((BATCH - len(chunk), chunk.shape[1]))])
        value, grad = _EVALUATORS[name](jnp.asarray(padded))
        values.append(np.asarray(value)[: len(chunk)])
        grads.append(np.asarray(grad)[: len(chunk)])
    return np.concatenate(values), np.concatenate(grads)


def random_points(problem: Problem, num: int, seed: int = 1) -> np.ndarray:
    """Points uniform in the bounds, or around the start when there are none."""
    rng = np.random.default_rng(seed)
    if problem.bounds is not None:
        low, high = np.array(problem.bounds).T
        return rng.uniform(low, high, (num, problem.dim))
    x0 = np.asarray(problem.init(jax.random.key(0)))
    return x0 + 0.5 * rng.standard_normal((num, problem.dim))


def _factories_defined_in_package() -> dict[str, object]:
    """Every public function in problems/ that returns a Problem (base's wrappers excepted)."""
    found = {}
    for info in pkgutil.iter_modules(problems.__path__):
        module = import_module(f"problems.{info.name}")
        if info.name == "base":
            continue  # with_start / renamed / with_init_noise transform problems
        for name, obj in vars(module).items():
            if name.startswith("_") or not isinstance(obj, types.FunctionType):
                continue
            if obj.__module__ != module.__name__:
                continue
            if typing.get_type_hints(obj).get("return") is Problem:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_factory_in_the_package_is_registered():
    factories = _factories_defined_in_package()
    assert len(factories) >= len(PROBLEMS)
    registered = set(PROBLEMS.values())
    missing = [name for name, fn in factories.items() if fn not in registered]
    assert not missing, f"factories not in PROBLEMS: {missing}"
    for kind, factory in PROBLEMS.items():
        assert factory.__name__ == kind


def test_every_registered_kind_has_a_test_case():
    assert {case[1] for case in CASES} == set(PROBLEMS)


def test_every_registered_kind_declares_its_surface_class():
    # The report's summaries and runtime profiles group problems by this declaration.
    assert set(problems.SURFACE_CLASSES) == set(PROBLEMS)
    assert problems.surface_class("logistic", stochastic=True) == problems.STOCHASTIC_LEARNING
    assert problems.surface_class("logistic", stochastic=False) == problems.LEARNING
    assert problems.surface_class("saddle", stochastic=False) == problems.SADDLE_PLATEAU


def test_problems_do_not_import_bench_or_optimizers():
    for path in pathlib.Path(problems.__file__).parent.glob("*.py"):
        text = path.read_text()
        for package in ("bench", "optimizers"):
            assert f"import {package}" not in text and f"from {package}" not in text, path


_PLAIN = (int, float, bool, str)


def _allowed_annotation(annotation) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _PLAIN:
        return True
    if origin is typing.Literal:
        return all(isinstance(a, str) for a in args)
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        return len(rest) < len(args) and all(_allowed_annotation(a) for a in rest)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis and args[0] in _PLAIN
    if origin is list:
        return len(args) == 1 and (args[0] in _PLAIN or _allowed_annotation(args[0]))
    return False


@pytest.mark.parametrize("kind", tuple(PROBLEMS))
def test_factory_signature_is_a_yaml_schema(kind):
    factory = PROBLEMS[kind]
    hints = typing.get_type_hints(factory)
    for name, parameter in inspect.signature(factory).parameters.items():
        assert name not in ("name", "init", "init_noise"), name
        assert parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        assert _allowed_annotation(hints[name]), (name, hints[name])
        if parameter.default is parameter.empty:
            assert (kind, name) == ("expression", "formula")


@pytest.mark.parametrize("kind", tuple(PROBLEMS))
def test_factory_docstring_gives_formula_minimum_start_and_source(kind):
    doc = inspect.getdoc(PROBLEMS[kind])
    assert doc and len(doc.splitlines()) >= 5
    assert "f(" in doc, "the formula"
    assert "Minimum" in doc or "f*" in doc
    assert "Start" in doc
    assert "Source" in doc


@pytest.mark.parametrize("name", IDS)
def test_record_is_consistent(name):
    problem = build(name)
    assert isinstance(problem, Problem) and problem.dim >= 1
    assert problem.description and "\n" not in problem.description and problem.source
    x0 = problem.init(jax.random.key(0))
    assert x0.shape == (problem.dim,) and x0.dtype == jnp.float64
    if problem.x_star is not None:
        assert problem.x_star.shape[1] == problem.dim
    if problem.bounds is not None:
        low, high = np.array(problem.bounds).T
        assert len(problem.bounds) == problem.dim and np.all(low < high)
        if problem.x_star is not None:
            assert np.all((problem.x_star >= low) & (problem.x_star <= high))
    if problem.data is None:
        assert problem.sample is None
    value = jax.eval_shape(problem.objective, x0)
    assert value.shape == () and value.dtype == jnp.float64
    assert np.isfinite(evaluate(name, x0)[0][0])


FIXED_START = {
    "rosenbrock": (-1.2, 1.0),
    "rosenbrock-5d": (-1.2, 1.0, -1.2, 1.0, -1.2),
    "beale": (1.0, 1.0),
    "least_squares": (0.0,) * 10,
    "least_squares-diabetes": (0.0,) * 10,
    "logistic": (0.0,) * 31,
    "logistic-synthetic": (0.0,) * 11,
}


@pytest.mark.parametrize("name", IDS)
def test_start_is_standard_or_seeded(name):
    problem = build(name)
    x0, x1 = (np.asarray(problem.init(jax.random.key(s))) for s in (0, 1))
    np.testing.assert_array_equal(x0, np.asarray(problem.init(jax.random.key(0))))
    if name in FIXED_START:
        np.testing.assert_array_equal(x0, FIXED_START[name])
        np.testing.assert_array_equal(x1, x0)
    else:
        assert not np.array_equal(x0, x1), "a surface without a standard start draws it per seed"
    if problem.bounds is not None and name not in FIXED_START:
        low, high = np.array(problem.bounds).T
        assert np.all((x0 >= low) & (x0 <= high))


def test_start_follows_the_x64_setting():
    problem = build("himmelblau")
    with jax.enable_x64(False):
        x0 = problem.init(jax.random.key(0))
        assert x0.dtype == jnp.float32
        assert problem.objective(x0).dtype == jnp.float32


@pytest.mark.parametrize("name", IDS)
def test_nan_input_gives_nan_loss(name):
    problem = build(name)
    x0 = np.asarray(problem.init(jax.random.key(0)))
    points = [np.full(problem.dim, np.nan)]
    for i in (0, problem.dim - 1):
        points.append(x0.copy())
        points[-1][i] = np.nan
    values, _ = evaluate(name, points)
    assert np.all(np.isnan(values))
    assert np.isnan(jax.jit(problem.objective)(jnp.full(problem.dim, jnp.nan)))  # unbatched


@pytest.mark.parametrize("name", IDS)
def test_gradient_matches_central_differences(name):
    problem = build(name)
    rng = np.random.default_rng(0)
    x0 = np.asarray(problem.init(jax.random.key(3)))
    # directional derivatives keep big problems cheap
    directions = np.eye(problem.dim) if problem.dim <= 10 else rng.standard_normal((4, problem.dim))
    for x in (x0, *random_points(problem, 2)):
        step = 1e-6 * max(1.0, np.max(np.abs(x)))
        shifted = np.concatenate([x + step * directions, x - step * directions, x[None, :]])
        values, grads = evaluate(name, shifted)
        plus, minus = values[: len(directions)], values[len(directions) : -1]
        g = grads[-1]
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(
            directions @ g,
            (plus - minus) / (2 * step),
            rtol=1e-6,
            atol=1e-7 * max(1.0, abs(values[-1])),
        )


@pytest.mark.parametrize("name", IDS)
def test_gradients_finite_at_random_points(name):
    problem = build(name)
    values, grads = evaluate(name, random_points(problem, 32))
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))


@pytest.mark.parametrize("name", IDS)
def test_loss_at_minimizers_is_f_star(name):
    problem = build(name)
    if problem.x_star is None:
        assert problem.f_star is None  # the MLP: unknown
        return
    values, grads = evaluate(name, problem.x_star)
    np.testing.assert_allclose(values, problem.f_star, rtol=1e-13, atol=1e-13)
    assert np.all(np.linalg.norm(grads, axis=1) < 1e-12 * max(1.0, abs(problem.f_star)) + 1e-12)
    # no sampled point of the window goes below f*
    values, _ = evaluate(name, random_points(problem, 64))
    assert np.all(values >= problem.f_star - 1e-12)


@pytest.mark.parametrize("name", ("logistic-synthetic", "mlp-digits-relu"))
def test_sampler_draws_batches_of_the_data(name):
    problem = build(name)
    batch_size = 32 if name.startswith("logistic") else 64
    sample = jax.jit(problem.sample)
    batch = sample(problem.data, jax.random.key(0))
    assert set(batch) == set(problem.data)
    assert batch["X"].shape == (batch_size, problem.data["X"].shape[1])
    assert batch["y"].shape == (batch_size,)
    # each drawn row is a row of the data, with its own label
    matches = np.all(np.asarray(batch["X"])[:, None, :] == problem.data["X"][None, :, :], axis=2)
    assert np.all(matches.any(axis=1))
    first_match = matches.argmax(axis=1)
    np.testing.assert_array_equal(batch["y"], problem.data["y"][first_match])
    other = sample(problem.data, jax.random.key(1))
    assert not np.array_equal(np.asarray(other["X"]), np.asarray(batch["X"]))
    value = jax.jit(problem.loss)(problem.init(jax.random.key(0)), batch)
    assert value.shape == () and np.isfinite(value)


def test_sampler_draws_rows_uniformly():
    # i.i.d. uniform rows: over many batches every row's count is Binomial(draws, 1/m); a
    # chi-square test (scipy) rejects a sampler that favours some rows or misses any.
    problem = build("logistic-synthetic")
    num_rows = problem.data["X"].shape[0]
    keys = jax.random.split(jax.random.key(0), 400)
    batches = jax.jit(jax.vmap(problem.sample, in_axes=(None, 0)))(problem.data, keys)
    rows = np.all(
        np.asarray(batches["X"]).reshape(-1, 1, problem.data["X"].shape[1])
        == problem.data["X"][None, :, :],
        axis=2,
    ).argmax(axis=1)
    counts = np.bincount(rows, minlength=num_rows)
    assert counts.sum() == 400 * 32
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_sampler_is_none_for_the_full_batch():
    assert build("logistic").sample is None and build("logistic").data is not None


@pytest.mark.parametrize("name", ("logistic-synthetic", "saddle_nd"))
def test_usable_inside_jit_vmap_scan_like_the_runner(name):
    problem = build(name)

    def run(key):
        init_key, steps_key = jax.random.split(key)

        def step(x, step_key):
            batch = (
                problem.data if problem.sample is None else problem.sample(problem.data, step_key)
            )
            x = x - 0.1 * jax.grad(problem.loss)(x, batch)
            return x, problem.loss(x, problem.data)

        return jax.lax.scan(step, problem.init(init_key), jax.random.split(steps_key, 3))

    final, losses = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 4))
    assert final.shape == (4, problem.dim) and losses.shape == (4, 3)
    assert np.all(np.isfinite(losses))
