"""Line searches: the conditions they promise hold at the returned step, and every call counts.

Conditions are re-checked here with independently computed values and gradients; evaluation
counts are compared with a Python-side count of function calls in un-jitted runs (under
``jax.disable_jit`` the ``while_loop`` runs as a Python loop, one call per trial).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optimizers.linesearch import backtracking_armijo, exact_linesearch, strong_wolfe


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def more_thuente_1(x):
    """phi(a) = -a / (a^2 + 2) along x (Moré & Thuente 1994, function 1, beta = 2)."""
    return jnp.sum(-x / (x * x + 2.0))


def quartic(x):
    return jnp.sum((x - 3.0) ** 4) + 0.5 * jnp.sum(x * x)


class Counted:
    """Wraps a function and counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x):
        self.calls += 1
        return self.fn(x)


# (function, point, direction: "-g" or an explicit vector)
PROBLEMS = [
    (rosenbrock, [-1.2, 1.0], "-g"),
    (rosenbrock, [0.5, 0.9], "-g"),
    (rosenbrock, [-1.0, 2.0], "newton"),
    (more_thuente_1, [0.0], [1.0]),
    (quartic, [0.0, 1.0, -2.0], "-g"),
]
INITIAL_STEPS = [1e-3, 1e-2, 1.0, 10.0, 1e3]


def setup(fn, point, direction):
    x = jnp.asarray(point, dtype=jnp.float64)
    value, grad = jax.value_and_grad(fn)(x)
    if isinstance(direction, str) and direction == "-g":
        d = -grad
    elif isinstance(direction, str):
        d = -jnp.linalg.solve(jax.jit(jax.hessian(fn))(x), grad)
    else:
        d = jnp.asarray(direction, dtype=jnp.float64)
    assert float(grad @ d) < 0
    return x, value, grad, d


def check_strong_wolfe(fn, x, value, grad, d, result, c1, c2):
    a = float(result.step)
    f_a, g_a = jax.value_and_grad(fn)(x + a * d)
    slope0 = float(grad @ d)
    assert a > 0
    assert float(f_a) <= float(value) + c1 * a * slope0
    assert abs(float(g_a @ d)) <= c2 * abs(slope0)
    np.testing.assert_allclose(float(result.value), float(f_a), rtol=1e-12)
    np.testing.assert_allclose(result.grad, g_a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: f"{p[0].__name__}{p[1]}")
def test_strong_wolfe_conditions_hold_at_returned_step(problem):
    """Every first trial step, with c2 = 0.9 and with c2 = 0.1 (the CG setting: zooms)."""
    fn, point, direction = problem
    x, value, grad, d = setup(fn, point, direction)
    c1 = 1e-4
    inits, c2s = np.meshgrid(INITIAL_STEPS, [0.9, 0.1])
    results = jax.jit(
        jax.vmap(lambda init, c2: strong_wolfe(fn, x, d, value, grad, init, c1=c1, c2=c2))
    )(jnp.asarray(inits.ravel()), jnp.asarray(c2s.ravel()))
    for i, c2 in enumerate(c2s.ravel()):
        result = jax.tree.map(lambda leaf, i=i: leaf[i], results)
        assert not bool(result.failed)
        check_strong_wolfe(fn, x, value, grad, d, result, c1, float(c2))


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: f"{p[0].__name__}{p[1]}")
def test_armijo_accepts_first_sufficient_decrease_step(problem):
    fn, point, direction = problem
    x, value, grad, d = setup(fn, point, direction)
    c1, shrink = 1e-4, 0.5
    slope0 = float(grad @ d)
    results = jax.jit(
        jax.vmap(lambda init: backtracking_armijo(fn, x, d, value, grad @ d, init, c1=c1))
    )(jnp.asarray(INITIAL_STEPS))

    def armijo(step):
        return float(fn(x + step * d)) <= float(value) + c1 * step * slope0

    for i, init_step in enumerate(INITIAL_STEPS):
        a = float(results.step[i])
        assert not bool(results.failed[i])
        assert armijo(a)
        # It is the FIRST of init, init*shrink, init*shrink^2, ... to satisfy the condition.
        trials = round(np.log(init_step / a) / np.log(1 / shrink)) + 1
        assert trials == int(results.num_evals[i])
        assert a == pytest.approx(init_step * shrink ** (trials - 1), rel=1e-12)
        assert not any(armijo(init_step * shrink**k) for k in range(trials - 1))
        assert float(results.value[i]) == pytest.approx(float(fn(x + a * d)), rel=1e-12)


# Cases that bracket-then-zoom (Rosenbrock, large first trial) and extrapolate (Moré-Thuente,
# small first trial), run un-jitted so that the loop runs in Python and calls are countable.
COUNTED = [(PROBLEMS[0], 1e-2), (PROBLEMS[0], 1e3), (PROBLEMS[3], 1e-2)]


@pytest.mark.parametrize(("problem", "init_step"), COUNTED)
def test_every_value_fn_call_is_counted(problem, init_step):
    fn, point, direction = problem
    x, value, grad, d = setup(fn, point, direction)
    counted = Counted(fn)
    with jax.disable_jit():
        wolfe = strong_wolfe(counted, x, d, value, grad, init_step, c1=1e-4, c2=0.1)
        assert int(wolfe.num_evals) == counted.calls >= 2
        counted.calls = 0
        armijo = backtracking_armijo(counted, x, d, value, grad @ d, init_step)
        assert int(armijo.num_evals) == counted.calls >= 1
    check_strong_wolfe(fn, x, value, grad, d, wolfe, 1e-4, 0.1)


def test_ascent_direction_is_refused_without_evaluations():
    x, value, grad, d = setup(rosenbrock, [-1.2, 1.0], "-g")
    counted = Counted(rosenbrock)
    with jax.disable_jit():
        armijo = backtracking_armijo(counted, x, -d, value, grad @ -d)
        wolfe = strong_wolfe(counted, x, -d, value, grad)
    assert counted.calls == 0
    for result in (armijo, wolfe):
        assert bool(result.failed) and float(result.step) == 0.0 and int(result.num_evals) == 0


def overflowing(x):
    """A quadratic that is NaN beyond |x| > 2 (a blow-up the search must back away from)."""
    return jnp.where(jnp.all(jnp.abs(x) <= 2.0), jnp.sum((x - 1.5) ** 2), jnp.nan)


def test_non_finite_trials_are_rejected_not_accepted():
    x, value, grad, d = setup(overflowing, [0.0, 0.0], [1.0, 1.0])
    for search in (
        lambda: strong_wolfe(overflowing, x, d, value, grad, 100.0),
        lambda: backtracking_armijo(overflowing, x, d, value, grad @ d, 100.0),
    ):
        result = jax.jit(search)()
        assert not bool(result.failed)
        assert 0 < float(result.step) <= 2.0
        assert np.isfinite(float(result.value)) and float(result.value) < float(value)


def test_iteration_cap_is_respected_on_unbounded_function():
    """Linear f has no Wolfe step: the search stops at the cap, keeping a decrease step."""

    def linear(x):
        return -jnp.sum(x)

    x, value, grad, d = setup(linear, [0.0], [1.0])
    result = jax.jit(lambda: strong_wolfe(linear, x, d, value, grad, 1.0, max_steps=7))()
    assert int(result.num_evals) == 7 and bool(result.failed)
    assert float(result.step) == 2.0**6  # the last (and best) sufficient-decrease trial


def test_exact_line_search_is_exact_on_quadratic_with_two_evaluations():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    a = jnp.asarray((q * np.array([1.0, 2.0, 5.0, 10.0, 50.0])) @ q.T)
    b = jnp.asarray(rng.standard_normal(5))

    def quadratic(x):
        return 0.5 * x @ a @ x - b @ x

    x, value, grad, d = setup(quadratic, rng.standard_normal(5), "-g")
    counted = Counted(quadratic)
    with jax.disable_jit():
        result = exact_linesearch(counted, x, d, value, grad)
    expected = -float(grad @ d) / float(d @ a @ d)
    assert float(result.step) == pytest.approx(expected, rel=1e-12)
    assert int(result.num_evals) == counted.calls == 2
    assert not bool(result.failed)


def test_line_searches_run_under_vmap_with_traced_constants():
    x, value, grad, d = setup(rosenbrock, [-1.2, 1.0], "-g")

    def both(c1, init):
        wolfe = strong_wolfe(rosenbrock, x, d, value, grad, init, c1=c1, c2=0.9)
        armijo = backtracking_armijo(rosenbrock, x, d, value, grad @ d, init, c1=c1)
        return wolfe.step, armijo.step

    c1s = jnp.array([1e-4, 1e-3, 1e-2])
    inits = jnp.array([1e-3, 1.0, 10.0])
    wolfe_steps, armijo_steps = jax.jit(jax.vmap(both))(c1s, inits)
    unbatched = jax.jit(both)
    for i in range(3):
        single = unbatched(c1s[i], inits[i])
        assert float(wolfe_steps[i]) == pytest.approx(float(single[0]), rel=1e-12)
        assert float(armijo_steps[i]) == pytest.approx(float(single[1]), rel=1e-12)


# ---------------------------------------------------------------- converged points: no burn


def shifted_quadratic_setup(dim=5):
    """f = (x - c).A(x - c)/2 + 3 (f* = 3, no cancellation in f), at its minimizer x* = c."""
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    a = jnp.asarray((q * np.geomspace(1.0, 100.0, dim)) @ q.T)
    c = jnp.asarray(rng.standard_normal(dim))

    def fn(x):
        r = x - c
        return 0.5 * r @ (a @ r) + 3.0

    return fn, c


@pytest.mark.parametrize("slope", [-1e-300, -1e-20, -1e-16])
def test_searches_stop_at_once_at_a_converged_point(slope):
    """At x* with a slope far below rounding of f = 3, no search spends its trial budget.

    The direction is a unit vector and the gradient is chosen so that grad . d = slope (an
    exact minimizer's computed gradient is rounding noise of this kind). Before the guard,
    every trial failed by rounding: 30 evaluations (Armijo, Wolfe) per call, for step 0.
    """
    fn, x_star = shifted_quadratic_setup()
    d = jnp.zeros(5).at[0].set(1.0)
    grad = -slope * -d  # grad . d = slope
    value = fn(x_star)
    assert float(value) == 3.0 and float(grad @ d) == pytest.approx(slope, rel=1e-12)
    counted = Counted(fn)
    with jax.disable_jit():
        armijo = backtracking_armijo(counted, x_star, d, value, grad @ d, 1.0)
        wolfe = strong_wolfe(counted, x_star, d, value, grad, 1.0)
        calls_before_exact = counted.calls
        exact = exact_linesearch(counted, x_star, d, value, grad)
    assert calls_before_exact == 0
    assert int(armijo.num_evals) == int(wolfe.num_evals) == 0
    for result in (armijo, wolfe):
        assert float(result.step) == 0.0 and float(result.value) == 3.0
        assert bool(result.stalled) and bool(result.failed)
    # The exact search's one probe at a = 0 (for phi''(0)) measures the slope itself: there
    # it is 0 or rounding, so a = 0 is the line minimizer (converged) or the step stalls.
    assert counted.calls == int(exact.num_evals) == 1
    assert float(exact.step) == 0.0 and float(exact.value) == 3.0
    assert bool(exact.stalled) or not bool(exact.failed)


def test_guard_leaves_searches_alone_above_rounding():
    """A decrease just above rounding of f is still searched for (and found)."""
    fn, x_star = shifted_quadratic_setup()
    x = x_star + 1e-6 * jnp.ones(5)  # f - f* ~ 1e-10, far above eps * 3 ~ 7e-16
    value, grad = jax.value_and_grad(fn)(x)
    d = -grad
    for result in (
        backtracking_armijo(fn, x, d, value, grad @ d, 1e-2),
        strong_wolfe(fn, x, d, value, grad, 1e-2),
        exact_linesearch(fn, x, d, value, grad),
    ):
        assert not bool(result.stalled)
        assert float(result.step) > 0 and float(result.value) < float(value)


def test_backtracking_stops_once_its_steps_fall_below_rounding():
    """Trials whose predicted decrease |slope| a is below rounding of f are not made.

    f is 3 at x and one ulp above it everywhere else along d (rounding noise: its values
    never drop), with slope -1e-12: Armijo would fail at every trial; it stops once
    |slope| a <= 4 eps |f| + tiny, i.e. after log2(1e-12 / 2.7e-15) + 1 = 9 trials, not 30.
    """

    def flat(x):
        return jnp.where(jnp.all(x == 0.0), 3.0, np.nextafter(3.0, 4.0))

    x = jnp.zeros(2)
    d = jnp.array([1.0, 0.0])
    counted = Counted(flat)
    with jax.disable_jit():
        result = backtracking_armijo(counted, x, d, flat(x), jnp.asarray(-1e-12), 1.0)
    threshold = 4 * np.finfo(np.float64).eps * 3.0 + np.finfo(np.float64).tiny
    expected = int(np.floor(np.log2(1e-12 / threshold))) + 1
    assert counted.calls == int(result.num_evals) == expected == 9
    assert float(result.step) == 0.0 and bool(result.stalled)


# ------------------------------------------------------------------------- the returned point


class Recorded:
    """Wraps a function; keeps every point it was called at (through a host callback, which
    sees the primal value also under differentiation)."""

    def __init__(self, fn):
        self.fn, self.points = fn, []

    def __call__(self, x):
        jax.debug.callback(lambda p: self.points.append(np.asarray(p).copy()), x)
        return self.fn(x)


@pytest.mark.parametrize(("problem", "init_step"), [*COUNTED, (PROBLEMS[4], 1.0)])
def test_returned_point_is_the_evaluated_array_with_its_value_and_gradient(problem, init_step):
    """``point`` is bitwise one of the arrays the search evaluated (the last one it kept), and
    value and gradient are fn's there: a caller moving to ``point`` needs no evaluation.
    Armijo given ``grad`` evaluates value and gradient at each trial and returns both."""
    fn, point, direction = problem
    x, value, grad, d = setup(fn, point, direction)
    searches = {
        "wolfe": lambda f: strong_wolfe(f, x, d, value, grad, init_step, c1=1e-4, c2=0.1),
        "armijo": lambda f: backtracking_armijo(f, x, d, value, grad @ d, init_step, grad=grad),
        "exact": lambda f: exact_linesearch(f, x, d, value, grad),
    }
    for name, search in searches.items():
        recorded = Recorded(fn)
        with jax.disable_jit():
            result = search(recorded)
        assert int(result.num_evals) == len(recorded.points), name
        assert any(np.array_equal(result.point, p) for p in recorded.points), name
        np.testing.assert_allclose(result.point, x + result.step * d, rtol=1e-15, atol=1e-15)
        f_p, g_p = jax.value_and_grad(fn)(result.point)
        np.testing.assert_allclose(float(result.value), float(f_p), rtol=1e-13, err_msg=name)
        np.testing.assert_allclose(result.grad, g_p, rtol=1e-12, atol=1e-13, err_msg=name)


def test_a_search_that_does_not_move_returns_the_start_with_its_value_and_gradient():
    """Step 0 (ascent direction): ``point`` is x itself, value and gradient the given ones."""
    x, value, grad, d = setup(rosenbrock, [-1.2, 1.0], "-g")
    for result in (
        strong_wolfe(rosenbrock, x, -d, value, grad),
        backtracking_armijo(rosenbrock, x, -d, value, grad @ -d, grad=grad),
    ):
        assert float(result.step) == 0.0 and int(result.num_evals) == 0
        assert np.array_equal(result.point, x) and float(result.value) == float(value)
        assert np.array_equal(result.grad, grad)
    # Without ``grad`` Armijo evaluates values only and returns no gradient.
    assert backtracking_armijo(rosenbrock, x, d, value, grad @ d).grad is None
