"""Each surface against numbers known independently of its code.

References: scipy.optimize's rosen / rosen_der / rosen_hess; closed forms written here in
numpy; derivatives of those closed forms by the complex-step method (exact to rounding for
analytic functions); and the published minima (the digits of the original papers and of
scipy's global-optimization benchmark suite, benchmarks/go_benchmark_functions). A surface
with the right minimum but a wrong formula fails f(x0), grad f(x0) or the Hessian here.
"""

import itertools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess

from problems import EXAMPLE_ARGUMENTS, PROBLEMS

TWO_PI = 2.0 * np.pi


def complex_step_gradient(f, x, h=1e-30):
    """grad f(x) by the complex step: Im f(x + i h e_k) / h, no cancellation error."""
    x = np.asarray(x, np.float64)
    return np.array([np.imag(f(x + 1j * h * e)) / h for e in np.eye(x.size)])


def complex_step_hessian(f, x, h=1e-30, delta=1e-5):
    """Hessian: central differences (step delta) of the complex-step gradient."""
    x = np.asarray(x, np.float64)
    columns = [
        (complex_step_gradient(f, x + delta * e, h) - complex_step_gradient(f, x - delta * e, h))
        / (2.0 * delta)
        for e in np.eye(x.size)
    ]
    hessian = np.array(columns)
    return 0.5 * (hessian + hessian.T)


# --- closed forms, written from the papers, independent of problems/ ---------------------


def beale_ref(v):
    x, y = v[0], v[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def booth_ref(v):
    return (v[0] + 2 * v[1] - 7) ** 2 + (2 * v[0] + v[1] - 5) ** 2


def himmelblau_ref(v):
    return (v[0] ** 2 + v[1] - 11) ** 2 + (v[0] + v[1] ** 2 - 7) ** 2


def six_hump_camel_ref(v):
    x, y = v[0], v[1]
    return 4 * x**2 - 2.1 * x**4 + x**6 / 3 + x * y - 4 * y**2 + 4 * y**4


def goldstein_price_ref(v):
    x, y = v[0], v[1]
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def styblinski_tang_ref(v):
    return sum(t**4 - 16 * t**2 + 5 * t for t in v) / 2


def rastrigin_ref(v):
    return 10 * len(v) + sum(t**2 - 10 * np.cos(TWO_PI * t) for t in v)


def ackley_ref(v):
    n = len(v)
    radius = np.sqrt(sum(t**2 for t in v) / n)
    return -20 * np.exp(-0.2 * radius) - np.exp(sum(np.cos(TWO_PI * t) for t in v) / n) + 20 + np.e


def saddle_ref(v):
    return v[0] ** 2 / 2 + v[1] ** 4 / 4 - v[1] ** 2 / 2


def plateau_widths(dim, width=1.0, aspect=5.0):
    # log-spaced from width down to width / aspect, written out without geomspace
    return [width * aspect ** (-i / (dim - 1)) if dim > 1 else width for i in range(dim)]


def plateau_ref(v, width=1.0, aspect=5.0):
    widths = plateau_widths(len(v), width, aspect)
    return 1 - np.exp(-sum((t / w) ** 2 for t, w in zip(v, widths, strict=True)) / 2)


def himmelblau_hessian(v):
    x, y = v
    a, b = x**2 + y - 11, x + y**2 - 7
    grad_a, grad_b = np.array([2 * x, 1.0]), np.array([1.0, 2 * y])
    return 2 * (
        np.outer(grad_a, grad_a)
        + a * np.diag([2.0, 0.0])
        + np.outer(grad_b, grad_b)
        + b * np.diag([0.0, 2.0])
    )


def beale_hessian_at_zero_residual(v):
    x, y = v
    jac = np.array([[y**i - 1, i * x * y ** (i - 1)] for i in (1, 2, 3)])
    return 2 * jac.T @ jac


def six_hump_camel_hessian(v):
    x, y = v
    return np.array([[8 - 25.2 * x**2 + 10 * x**4, 1.0], [1.0, -8 + 48 * y**2]])


# (case, kind, kwargs, reference f, Hessian at x -> closed form, or None: complex step)
SURFACES = (
    ("rosenbrock", "rosenbrock", {}, rosen, rosen_hess),
    ("rosenbrock-3d", "rosenbrock", {"dim": 3}, rosen, rosen_hess),
    ("rosenbrock-6d", "rosenbrock", {"dim": 6}, rosen, rosen_hess),
    ("beale", "beale", {}, beale_ref, beale_hessian_at_zero_residual),
    ("booth", "booth", {}, booth_ref, lambda v: np.array([[10.0, 8.0], [8.0, 10.0]])),
    ("himmelblau", "himmelblau", {}, himmelblau_ref, himmelblau_hessian),
    ("six_hump_camel", "six_hump_camel", {}, six_hump_camel_ref, six_hump_camel_hessian),
    ("goldstein_price", "goldstein_price", {}, goldstein_price_ref, None),
    (
        "styblinski_tang-3d",
        "styblinski_tang",
        {"dim": 3},
        styblinski_tang_ref,
        lambda v: np.diag(6 * np.asarray(v) ** 2 - 16),
    ),
    (
        "rastrigin-3d",
        "rastrigin",
        {"dim": 3},
        rastrigin_ref,
        lambda v: np.diag(2 + 40 * np.pi**2 * np.cos(TWO_PI * np.asarray(v))),
    ),
    # Not differentiable at x* = 0: the documented convention is the cosine part's Hessian.
    ("ackley-3d", "ackley", {"dim": 3}, ackley_ref, lambda v: 4 * np.pi**2 * np.e / 3 * np.eye(3)),
    ("saddle", "saddle", {}, saddle_ref, lambda v: np.diag([1.0, 3 * v[1] ** 2 - 1])),
    ("plateau", "plateau", {}, plateau_ref, lambda v: np.diag([1.0, 25.0])),
    (
        "plateau-wide",
        "plateau",
        {"dim": 3, "width": 2.0, "aspect": 4.0},
        lambda v: plateau_ref(v, 2.0, 4.0),
        lambda v: np.diag([1 / 4, 1.0, 4.0]),  # widths 2, 1, 1/2
    ),
    (
        "plateau-round",
        "plateau",
        {"dim": 3, "width": 2.0, "aspect": 1.0},
        lambda v: 1 - np.exp(-sum(t**2 for t in v) / 8),
        lambda v: np.eye(3) / 4,
    ),
    (
        "expression-himmelblau",
        "expression",
        {
            "formula": "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2",
            "f_star": 0.0,
            "x_star": [[3.0, 2.0]],
            "bounds": [[-5.0, 5.0]],
        },
        himmelblau_ref,
        himmelblau_hessian,
    ),
    # the listed example: uniform start in [-5, 5]^2, all four minimizers
    (
        "expression-example",
        "expression",
        EXAMPLE_ARGUMENTS["expression"],
        himmelblau_ref,
        himmelblau_hessian,
    ),
)
SURFACE_IDS = tuple(case[0] for case in SURFACES)


def _case(name):
    _, kind, kwargs, f_ref, hessian_ref = next(c for c in SURFACES if c[0] == name)
    return PROBLEMS[kind](**kwargs), f_ref, hessian_ref


@pytest.mark.parametrize("name", SURFACE_IDS)
def test_value_and_gradient_at_start_and_random_points(name):
    problem, f_ref, _ = _case(name)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    rng = np.random.default_rng(0)
    low, high = np.array(problem.bounds).T
    points = [
        np.asarray(problem.init(jax.random.key(0))),
        *rng.uniform(low, high, (3, problem.dim)),
    ]
    for x in points:
        value, grad = value_and_grad(jnp.asarray(x))
        expected_grad = rosen_der(x) if f_ref is rosen else complex_step_gradient(f_ref, x)
        assert float(value) == pytest.approx(f_ref(x), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", SURFACE_IDS)
def test_hessian_at_minimizers(name):
    problem, f_ref, hessian_ref = _case(name)
    hessian = jax.jit(jax.hessian(problem.objective))
    for point in problem.x_star:
        expected = hessian_ref(point) if hessian_ref else complex_step_hessian(f_ref, point)
        np.testing.assert_allclose(hessian(jnp.asarray(point)), expected, rtol=1e-8, atol=1e-8)
        assert np.all(np.linalg.eigvalsh(expected) > 0)  # each x* is a strict minimum
        assert f_ref(point) == pytest.approx(problem.f_star, abs=1e-12)


@pytest.mark.parametrize("name", ("goldstein_price", "ackley-3d", "beale"))
def test_hessian_away_from_minimizers(name):
    problem, f_ref, _ = _case(name)
    x = np.array([0.3, -0.4, 0.2][: problem.dim]) + 0.1
    np.testing.assert_allclose(
        jax.jit(jax.hessian(problem.objective))(jnp.asarray(x)),
        complex_step_hessian(f_ref, x),
        rtol=1e-7,
        atol=1e-7,
    )


# Published minima: (kind, kwargs, f*, minimizers) at the digits of the sources.
PUBLISHED = (
    ("rosenbrock", {"dim": 4}, 0.0, [[1, 1, 1, 1]]),
    ("beale", {}, 0.0, [[3, 0.5]]),
    ("booth", {}, 0.0, [[1, 3]]),
    (
        "himmelblau",
        {},
        0.0,
        [[3, 2], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]],
    ),
    # scipy benchmarks: SixHumpCamel.fglob and global_optimum
    (
        "six_hump_camel",
        {},
        -1.031628453489877,
        [[0.08984201368301331, -0.7126564032704135], [-0.08984201368301331, 0.7126564032704135]],
    ),
    ("goldstein_price", {}, 3.0, [[0, -1]]),
    # scipy benchmarks: StyblinskiTang.fglob = -39.16616570377142 * N at -2.903534018185960
    ("styblinski_tang", {"dim": 3}, -39.16616570377142 * 3, [[-2.903534018185960] * 3]),
    ("rastrigin", {"dim": 4}, 0.0, [[0, 0, 0, 0]]),
    ("ackley", {"dim": 4}, 0.0, [[0, 0, 0, 0]]),
    ("saddle", {}, -0.25, [[0, 1], [0, -1]]),
    ("plateau", {"dim": 3}, 0.0, [[0, 0, 0]]),
)


@pytest.mark.parametrize(("kind", "kwargs", "f_star", "minimizers"), PUBLISHED)
def test_published_minimum(kind, kwargs, f_star, minimizers):
    problem = PROBLEMS[kind](**kwargs)
    assert problem.f_star == pytest.approx(f_star, rel=1e-14, abs=1e-14)
    # the published digits: 6 to 9 of them; each listed point matches one of ours
    minimizers = np.asarray(minimizers, np.float64)
    assert problem.x_star.shape == minimizers.shape
    for point in minimizers:
        assert np.min(np.max(np.abs(problem.x_star - point), axis=1)) < 1e-6


def test_known_values_away_from_the_minimum():
    values = {
        ("rosenbrock", (-1.2, 1.0)): 24.2,  # Moré, Garbow & Hillstrom (1981)
        ("beale", (1.0, 1.0)): 14.203125,  # MGH problem 5, f(x0)
        ("goldstein_price", (0.0, 0.0)): 600.0,
        ("himmelblau", (-0.270845, -0.923039)): 181.6165,  # the local maximum (181.617)
        ("booth", (0.0, 0.0)): 74.0,
        ("rastrigin", (0.5, 0.5)): 40.5,
        ("six_hump_camel", (0.0, 0.0)): 0.0,
    }
    for (kind, x), expected in values.items():
        value = float(PROBLEMS[kind]().objective(jnp.asarray(x)))
        assert value == pytest.approx(expected, rel=1e-6, abs=1e-12), kind
    grad = jax.jit(jax.grad(PROBLEMS["himmelblau"]().objective))(jnp.array([-0.270845, -0.923039]))
    assert np.linalg.norm(grad) < 1e-3


# --- quadratics and saddles: spectra and formulas from closed forms -------------------


QUADRATIC_SPECTRA = (
    ({"dim": 5, "condition_number": 1.0}, np.ones(5)),
    ({"dim": 8, "condition_number": 1e3}, np.geomspace(1, 1e3, 8)),
    ({"dim": 8, "condition_number": 50.0, "spectrum": "linear"}, np.linspace(1, 50, 8)),
    (
        {"dim": 12, "condition_number": 1e4, "spectrum": "outliers", "num_outliers": 3},
        np.concatenate([np.geomspace(1, 10, 9), np.geomspace(1e3, 1e4, 3)]),
    ),
    (
        {"dim": 4, "condition_number": 5.0, "spectrum": "outliers", "num_outliers": 1},
        np.array([1.0, 1.0, 1.0, 5.0]),
    ),
)


@pytest.mark.parametrize(("kwargs", "spectrum"), QUADRATIC_SPECTRA)
def test_quadratic_spectrum_and_formula(kwargs, spectrum):
    problem = PROBLEMS["quadratic"](**kwargs)
    hessian = np.asarray(jax.jit(jax.hessian(problem.objective))(jnp.zeros(problem.dim)))
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), spectrum, rtol=1e-10)
    x0 = np.asarray(problem.init(jax.random.key(0)))
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.asarray(x0))
    assert float(value) == pytest.approx(0.5 * x0 @ hessian @ x0, rel=1e-12)
    np.testing.assert_allclose(grad, hessian @ x0, rtol=1e-10, atol=1e-12)
    if kwargs["condition_number"] == 1.0:
        np.testing.assert_allclose(hessian, np.eye(problem.dim), atol=1e-12)
    else:  # rotated: not diagonal
        assert np.max(np.abs(hessian - np.diag(np.diag(hessian)))) > 1e-3


def test_quadratic_rotation_follows_the_data_seed():
    hessians = [
        np.asarray(
            jax.jit(jax.hessian(PROBLEMS["quadratic"](dim=4, seed=s).objective))(jnp.zeros(4))
        )
        for s in (0, 0, 1)
    ]
    np.testing.assert_array_equal(hessians[0], hessians[1])
    assert not np.allclose(hessians[0], hessians[2])
    np.testing.assert_allclose(np.linalg.eigvalsh(hessians[2]), np.geomspace(1, 100, 4))


def test_saddle_nd_against_its_closed_form():
    dim, k = 7, 3
    problem = PROBLEMS["saddle_nd"](dim=dim, negative_directions=k, seed=3)
    lambdas, mus = np.geomspace(1, 0.1, k), np.geomspace(1, 10, dim - k)
    hessian_fn = jax.jit(jax.hessian(problem.objective))
    at_saddle = np.asarray(hessian_fn(jnp.zeros(dim)))
    eigenvalues, vectors = np.linalg.eigh(at_saddle)
    # the saddle: exactly k negative curvature directions -lambda_i, and mu_j
    np.testing.assert_allclose(eigenvalues, np.sort(np.concatenate([-lambdas, mus])), rtol=1e-10)
    # the eigenvectors are the rotated axes: rebuild f from the closed form
    # ascending eigenvalues -lambda_0 < ... < -lambda_{k-1} < mu_0 < ...: z's order
    rotation = vectors.T

    def f_ref(x):
        z = rotation @ x
        unstable, stable = z[:k], z[k:]
        return np.sum(lambdas * (unstable**4 / 4 - unstable**2 / 2)) + np.sum(mus * stable**2 / 2)

    rng = np.random.default_rng(0)
    points = rng.uniform(-2, 2, (3, dim))
    values = jax.jit(jax.vmap(problem.objective))(jnp.asarray(points))
    np.testing.assert_allclose(values, [f_ref(x) for x in points], rtol=1e-10)
    assert problem.f_star == pytest.approx(-np.sum(lambdas) / 4)
    assert problem.x_star.shape == (2**k, dim)
    expected_minimum = np.sort(np.concatenate([2 * lambdas, mus]))
    for point in problem.x_star:
        z = rotation @ point
        np.testing.assert_allclose(np.abs(z[:k]), 1.0, rtol=1e-10)
        np.testing.assert_allclose(z[k:], 0.0, atol=1e-10)
        hessian = np.asarray(hessian_fn(jnp.asarray(point)))
        np.testing.assert_allclose(np.linalg.eigvalsh(hessian), expected_minimum, rtol=1e-9)


def test_saddle_start_is_next_to_the_saddle():
    problem = PROBLEMS["saddle"](start_radius=1e-4)
    starts = np.array([problem.init(jax.random.key(s)) for s in range(20)])
    assert np.all(np.linalg.norm(starts, axis=1) < 1e-3)
    assert len({np.sign(s[1]) for s in starts}) == 2  # both minima are reachable
    hessian = np.asarray(jax.jit(jax.hessian(problem.objective))(jnp.zeros(2)))
    np.testing.assert_allclose(hessian, np.diag([1.0, -1.0]))  # a strict saddle


def test_plateau_is_flat_at_the_start():
    problem = PROBLEMS["plateau"](dim=3, width=0.5, aspect=4.0, start_distance=4.0)
    widths = np.array([0.5, 0.25, 0.125])
    x0 = np.asarray(problem.init(jax.random.key(0)))
    assert np.linalg.norm(x0 / widths) == pytest.approx(4.0)  # whitened radius
    grad = np.asarray(jax.jit(jax.grad(problem.objective))(jnp.asarray(x0)))
    # grad = exp(-r^2 / 2) x / w^2 at whitened radius r
    np.testing.assert_allclose(grad, np.exp(-8.0) * x0 / widths**2, rtol=1e-10)
    np.testing.assert_allclose(
        grad, complex_step_gradient(lambda v: plateau_ref(v, 0.5, 4.0), x0), rtol=1e-10
    )


def test_plateau_steepest_descent_misses_the_minimum():
    # Elongated: the line along -grad f from a generic start passes the minimum at a distance,
    # so no single exact line search solves it (the round well would be solved in one).
    problem = PROBLEMS["plateau"]()
    x0 = np.asarray(problem.init(jax.random.key(3)))
    direction = -np.asarray(jax.grad(problem.objective)(jnp.asarray(x0)))
    closest = x0 - (x0 @ direction) / (direction @ direction) * direction
    assert np.linalg.norm(closest) > 0.1 * np.linalg.norm(x0)


# --- rotated surfaces at their starts and minima, from the seed -------------------------


def haar_rotation(dim, seed):
    """The seeded rotation ``Q`` of quadratic / saddle_nd, built here: the QR factor of a
    standard normal matrix from numpy's ``default_rng(seed)``, column signs fixed so that R
    has a positive diagonal (Haar-distributed; Mezzadri 2007, Notices AMS 54(5))."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


# (kwargs, the documented spectrum): H = Q^T diag(spectrum) Q with Q from the seed
QUADRATIC_CLOSED_FORMS = (
    ({}, np.geomspace(1, 100, 10)),  # the defaults: dim 10, kappa 100, log, seed 0
    ({"dim": 6, "condition_number": 1e3, "spectrum": "linear", "seed": 4}, np.linspace(1, 1e3, 6)),
    (
        {"dim": 12, "condition_number": 1e4, "spectrum": "outliers", "seed": 2},
        np.concatenate([np.geomspace(1, 10, 9), np.geomspace(1e3, 1e4, 3)]),
    ),
)


@pytest.mark.parametrize(("kwargs", "spectrum"), QUADRATIC_CLOSED_FORMS)
def test_quadratic_against_its_closed_form(kwargs, spectrum):
    problem = PROBLEMS["quadratic"](**kwargs)
    rotation = haar_rotation(problem.dim, kwargs.get("seed", 0))
    hessian = rotation.T @ np.diag(spectrum) @ rotation
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    for key in (0, 1):
        x0 = np.asarray(problem.init(jax.random.key(key)))
        value, grad = value_and_grad(jnp.asarray(x0))
        assert float(value) == pytest.approx(0.5 * x0 @ hessian @ x0, rel=1e-12)
        np.testing.assert_allclose(grad, hessian @ x0, rtol=1e-10, atol=1e-12 * spectrum[-1])
    assert problem.f_star == 0.0
    np.testing.assert_array_equal(problem.x_star, np.zeros((1, problem.dim)))
    np.testing.assert_allclose(
        jax.jit(jax.hessian(problem.objective))(jnp.zeros(problem.dim)),
        hessian,
        rtol=1e-10,
        atol=1e-12 * spectrum[-1],
    )


def saddle_nd_reference(dim, k, seed):
    """f, grad f and the Hessian of saddle_nd, from its docstring: z = Q x,
    f = sum_{i<k} lambda_i (z_i^4 / 4 - z_i^2 / 2) + sum_{j>=k} mu_j z_j^2 / 2."""
    lambdas, mus = np.geomspace(1, 0.1, k), np.geomspace(1, 10, dim - k)
    rotation = haar_rotation(dim, seed)

    def f(x):
        z = rotation @ x
        return np.sum(lambdas * (z[:k] ** 4 / 4 - z[:k] ** 2 / 2)) + np.sum(mus * z[k:] ** 2 / 2)

    def grad(x):
        z = rotation @ x
        return rotation.T @ np.concatenate([lambdas * (z[:k] ** 3 - z[:k]), mus * z[k:]])

    def hessian(x):
        z = rotation @ x
        curvatures = np.concatenate([lambdas * (3 * z[:k] ** 2 - 1), mus])
        return rotation.T @ np.diag(curvatures) @ rotation

    return f, grad, hessian, lambdas, rotation


SADDLE_ND_CASES = (
    {},  # the defaults: dim 10, 3 negative directions, start 1e-3 from the saddle, seed 0
    {"dim": 7, "negative_directions": 3, "start_radius": 0.7, "seed": 3},  # quartic terms count
    {"dim": 4, "negative_directions": 1, "start_radius": 1.0, "seed": 2},
    {"dim": 5, "negative_directions": 5, "start_radius": 0.5, "seed": 1},  # no stable part
)


@pytest.mark.parametrize("kwargs", SADDLE_ND_CASES)
def test_saddle_nd_at_its_start_and_minima(kwargs):
    dim, k = kwargs.get("dim", 10), kwargs.get("negative_directions", 3)
    problem = PROBLEMS["saddle_nd"](**kwargs)
    f_ref, grad_ref, hessian_ref, lambdas, rotation = saddle_nd_reference(
        dim, k, kwargs.get("seed", 0)
    )
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    hessian = jax.jit(jax.hessian(problem.objective))
    for key in (0, 1):
        x0 = np.asarray(problem.init(jax.random.key(key)))
        value, grad = value_and_grad(jnp.asarray(x0))
        assert float(value) == pytest.approx(f_ref(x0), rel=1e-11, abs=1e-18)
        np.testing.assert_allclose(grad, grad_ref(x0), rtol=1e-10, atol=1e-15)
    # the saddle: Hessian Q^T diag(-lambda, mu) Q
    np.testing.assert_allclose(
        hessian(jnp.zeros(dim)), hessian_ref(np.zeros(dim)), rtol=1e-10, atol=1e-12
    )
    # the 2^k minima Q^T (±1, ..., ±1, 0, ..., 0), f* = -sum(lambda) / 4, Hessian there
    corners = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    expected = np.hstack([corners, np.zeros((2**k, dim - k))]) @ rotation
    assert problem.x_star.shape == expected.shape
    for point in expected:
        assert np.min(np.max(np.abs(problem.x_star - point), axis=1)) < 1e-12
    assert problem.f_star == pytest.approx(-np.sum(lambdas) / 4, rel=1e-14)
    for point in problem.x_star:
        assert f_ref(point) == pytest.approx(problem.f_star, rel=1e-12)
        np.testing.assert_allclose(grad_ref(point), 0.0, atol=1e-12)
        expected_hessian = hessian_ref(point)
        np.testing.assert_allclose(hessian(jnp.asarray(point)), expected_hessian, atol=1e-10)
        assert np.all(np.linalg.eigvalsh(expected_hessian) > 0)


# --- every kind has its reference test --------------------------------------------------

# Kinds whose f(x0), grad f(x0) and Hessian at x* (where known) are checked outside SURFACES,
# written out by hand (never read from problems/): kind -> (test file, test function).
REFERENCE_TESTS_ELSEWHERE = {
    "quadratic": ("test_problems_reference.py", "test_quadratic_against_its_closed_form"),
    "saddle_nd": ("test_problems_reference.py", "test_saddle_nd_at_its_start_and_minima"),
    "least_squares": (
        "test_problems_learning.py",
        "test_least_squares_at_the_start_and_the_minimum",
    ),
    "logistic": ("test_problems_learning.py", "test_logistic_breast_cancer_against_closed_forms"),
    "mlp": ("test_problems_learning.py", "test_mlp_gradient_against_numpy_backpropagation"),
}


def test_every_registered_kind_has_a_reference_test():
    covered = {case[1] for case in SURFACES} | set(REFERENCE_TESTS_ELSEWHERE)
    assert covered == set(PROBLEMS), (
        f"without a reference test: {sorted(set(PROBLEMS) - covered)}; "
        f"not registered: {sorted(covered - set(PROBLEMS))}"
    )
    folder = pathlib.Path(__file__).parent
    for kind, (file, test) in REFERENCE_TESTS_ELSEWHERE.items():
        assert f"\ndef {test}(" in (folder / file).read_text(), (kind, file, test)
