"""`validate` tests an expression's declared f_star / x_star against its formula, cheaply.

The reference numbers here are computed by hand with numpy (closed-form values and
gradients), never through the code under test. The CLI side (exit 2, nothing compiled, both
`validate` and `run`) is in tests/test_config_refusals.py, section 11; here: the numpy
evaluator, the tolerances at their edges, and one real `python -m bench validate` process.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from bench.config import ConfigError, build_suite, load_suite
from problems import PROBLEMS
from problems.expression import _CONSTANTS, _FUNCTIONS, EXAMPLE_HIMMELBLAU
from problems.expression_optimum import (
    FORMULA_CONSTANTS,
    FORMULA_FUNCTIONS,
    OPTIMUM_STATIONARY_TOL,
    OPTIMUM_VALUE_TOL,
    declared_optimum_problems,
    formula_values,
)
from tests.helpers import run_bench

HIMMELBLAU = "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"
# README.md and configs/default.yaml: the four minimizers to 9-10 significant digits.
README_X_STAR = np.array(
    [
        [3.0, 2.0],
        [-2.805118087, 3.131312518],
        [-3.779310253, -3.283185991],
        [3.584428340, -1.848126527],
    ]
)


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def himmelblau_grad(x, y):
    return np.array(
        [
            4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
            2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7),
        ]
    )


@pytest.fixture(autouse=True)
def _keep_float64():
    yield
    jax.config.update("jax_enable_x64", True)


# 1. The numpy twin of the formula ------------------------------------------------------


def test_the_numpy_twin_covers_the_whole_whitelist():
    assert set(FORMULA_FUNCTIONS) == set(_FUNCTIONS)
    assert FORMULA_CONSTANTS == _CONSTANTS


# (formula, points, expected values written out by hand)
BY_HAND = [
    (HIMMELBLAU, [[3.0, 2.0], [0.0, 0.0], [1.5, -0.5]], [0.0, 170.0, himmelblau(1.5, -0.5)]),
    ("sum(x**2)", [[1.0, 2.0, 3.0], [0.0, 0.0, -1.0]], [14.0, 1.0]),
    ("x[0]**-2 + x[0]**0.5 + 2**x[0]", [[4.0]], [1 / 16 + 2 + 16]),
    ("(-x[0])**3 - -x[0]", [[2.0]], [-8.0 + 2.0]),
    ("prod(x) + mean(x) + max(x) - min(x)", [[1.0, 2.0, 4.0]], [8 + 7 / 3 + 3]),
    ("max(x[0], x[1], 0.5) + min(x[0], -x[1])", [[0.2, 0.3], [0.7, -1.0]], [0.2, 0.7 + 0.7]),
    ("pi * x[0] + e", [[2.0]], [2 * np.pi + np.e]),
    ("sum(x[0] * x)", [[2.0, 3.0]], [4.0 + 6.0]),
    ("7.5", [[1.0], [2.0]], [7.5, 7.5]),
    ("log(x[0])", [[0.0], [-1.0]], [-np.inf, np.nan]),
]


@pytest.mark.parametrize(("formula", "points", "expected"), BY_HAND)
def test_formula_values_match_the_closed_form(formula, points, expected):
    np.testing.assert_allclose(formula_values(formula, points), expected, rtol=1e-14)


def test_formula_values_match_the_jax_loss_for_every_function():
    formula = (
        "exp(x[0]) + expm1(x[1]) + log(x[2]) + log1p(x[0]) + sqrt(x[2]) + sin(x[0])"
        " + cos(x[1]) + tan(x[0]) + sinh(x[1]) + cosh(x[0]) + tanh(x[1]) + arctan(x[2])"
        " + abs(x[1]) + square(x[0]) + sum(x) * prod(x) / mean(x) + max(x) - min(x)"
        " + max(x[0], x[1]) - min(x[1], x[2], 0.25) + x[2]**1.5 + x[0]**-3 + pi * e"
    )
    problem = PROBLEMS["expression"](formula=formula, dim=3)
    points = np.random.default_rng(0).uniform(0.2, 1.5, (6, 3)) * [1.0, -1.0, 1.0]
    with jax.enable_x64(True):
        reference = np.asarray(jax.vmap(problem.objective)(jnp.asarray(points, jnp.float64)))
    np.testing.assert_allclose(formula_values(formula, points), reference, rtol=1e-13)


def test_long_chains_and_deep_nesting_evaluate_without_recursion():
    chain = "+".join(["x[0]"] * 2000)  # 9,999 characters: a left-leaning tree 2,000 deep
    assert formula_values(chain, [[1.5]])[0] == pytest.approx(3000.0, rel=1e-14)
    nested = "-" * 199 + "x[0]"
    assert formula_values(nested, [[2.0]])[0] == -2.0


# 2. The tests on a declared optimum, at their tolerances ---------------------------------


def test_the_readme_himmelblau_claim_passes_with_its_nine_digits():
    # By hand: at these x* the loss is ~1e-17 and the gradient ~1e-7, far inside.
    assert max(himmelblau(*x) for x in README_X_STAR) < 1e-15
    grads = [np.linalg.norm(himmelblau_grad(*x)) for x in README_X_STAR]
    assert 1e-9 < max(grads) < 1e-6
    assert declared_optimum_problems(HIMMELBLAU, 0.0, README_X_STAR) == []
    full = np.asarray(EXAMPLE_HIMMELBLAU["x_star"])
    assert declared_optimum_problems(HIMMELBLAU, 0.0, full) == []
    start = [("the start init", [0.0, 0.0])]
    assert declared_optimum_problems(HIMMELBLAU, 0.0, README_X_STAR, start) == []


def test_a_wrong_f_star_is_one_message_with_the_numbers():
    (message,) = declared_optimum_problems(HIMMELBLAU, 1.0, README_X_STAR)
    lowest = min(range(4), key=lambda i: himmelblau(*README_X_STAR[i]))
    assert message.startswith("f_star = 1 is above a value the surface reaches: the formula is ")
    assert f"at x_star[{lowest}] = (" in message
    assert f"more than the tolerance {OPTIMUM_VALUE_TOL:g} * max(1, |f_star|) = 1e-06" in message
    assert "(4 points in all)" in message


@pytest.mark.parametrize(
    ("f_star", "refused"),
    [
        (3.0, None),
        (3.0 + 2e-6, None),  # within 1e-6 * max(1, 3) = 3e-6
        (3.0 - 2e-6, None),
        (3.0 + 5e-6, "is above a value the surface reaches"),
        (3.0 - 5e-6, "x_star[0] = (1) does not reach f_star = 2.999995"),
    ],
)
def test_the_value_tolerance_scales_with_f_star(f_star, refused):
    found = declared_optimum_problems("(x[0] - 1)**2 + 3", f_star, [[1.0]])
    if refused is None:
        assert found == []
    else:
        (message,) = found
        assert refused in message and "= 3e-06" in message


@pytest.mark.parametrize(("offset", "refused"), [(5e-5, False), (5e-4, True)])
def test_the_stationarity_tolerance_is_relative_to_the_curvature(offset, refused):
    # f = (x - 1)**2: f'' = 2, so the tolerance is 1e-4 * max(1, 2) = 2e-4 (plus rounding).
    # By hand, f'(1 + d) = 2 d: 1e-4 passes, 1e-3 fails; f(1 + d) = d**2 stays below 1e-6.
    x = 1.0 + offset
    assert abs(2 * (x - 1)) == pytest.approx(2 * offset)
    assert (x - 1) ** 2 < OPTIMUM_VALUE_TOL
    found = declared_optimum_problems("(x[0] - 1)**2", 0.0, [[x]])
    if not refused:
        assert found == []
        return
    (message,) = found
    assert message.startswith(f"x_star[0] = ({x:.10g}) is not a stationary point")
    assert f"norm {2 * offset:.3g}" in message
    assert f"{OPTIMUM_STATIONARY_TOL:g} * max(1, curvature 2)" in message


def test_above_64_coordinates_the_gradient_is_bounded_along_random_directions():
    formula = "sum((x - 1)**2)"
    ones = np.ones(100)
    assert declared_optimum_problems(formula, 0.0, ones[None]) == []
    moved = ones + 0.01  # by hand: |grad| = |2 * 0.01| * sqrt(100) = 0.2
    (message,) = declared_optimum_problems(formula, None, moved[None])
    assert "along 8 random directions, a lower bound of |grad|" in message
    norm = float(message.split("has norm ")[1].split(" ")[0])
    assert 0.002 < norm <= 0.2 * (1 + 1e-6)


def test_points_it_cannot_measure_refuse_nothing():
    # The stencil of sqrt at 0 reaches x < 0 (NaN): the gradient is left to bench check.
    assert declared_optimum_problems("sqrt(x[0]**2)", 0.0, [[0.0]]) == []
    assert declared_optimum_problems("sqrt(x[0])", 0.0, [[0.0]]) == []
    # A start outside the domain (NaN) contradicts nothing.
    assert declared_optimum_problems("log(x[0])", -5.0, None, [("the origin", [0.0])]) == []
    # Nothing declared, nothing tested.
    assert declared_optimum_problems(HIMMELBLAU, None, None, [("the start", [0.0, 0.0])]) == []


def test_a_minimizer_with_a_non_finite_loss_is_refused():
    (message,) = declared_optimum_problems("log(x[0]**2)", None, [[0.0]])
    assert message.startswith("the formula is -inf at x_star[0] = (0): a minimizer has a finite")


def test_f_star_without_x_star_is_checked_at_the_start():
    formula = "(x[0] - 1)**2 - 5"
    assert (0.0 - 1) ** 2 - 5 == -4.0
    (message,) = declared_optimum_problems(formula, 0.0, None, [("the start init", [0.0])])
    assert "the formula is -4 at the start init = (0), 4 below f_star" in message
    assert "set it to the true minimum (at most -4)" in message
    assert declared_optimum_problems(formula, -5.0, None, [("the start init", [0.0])]) == []


# 3. Through the loader ----------------------------------------------------------------


def _raw(entry: dict, dtype: str = "float64") -> dict:
    problem = {"kind": "expression", "name": "claimed", "formula": HIMMELBLAU, **entry}
    return {
        "dtype": dtype,
        "problems": [problem],
        "optimizers": [{"kind": "gd", "learning_rate": 1e-3}],
    }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_build_suite_refuses_a_contradicted_claim_in_either_dtype(dtype):
    good = _raw({"f_star": 0.0, "x_star": README_X_STAR.tolist()}, dtype)
    assert build_suite(good).problems[0].f_star == 0.0
    bad = _raw({"f_star": 0.5, "x_star": [[3.0, 2.0]]}, dtype)
    with pytest.raises(ConfigError) as raised:
        build_suite(bad, source="s.yaml")
    (message,) = raised.value.messages
    assert message.startswith("s.yaml: problems[0] (expression) 'claimed': f_star = 0.5 is above")
    assert build_suite(bad, check_optimum=False).problems[0].f_star == 0.5


def test_the_start_of_a_problem_without_init_is_the_centre_of_its_draw():
    # No init: the bounds' centre (uniform start) or the origin (normal start) is tested.
    formula = "(x[0] - 1)**2 - 5"  # -4 at 0
    raw = _raw({"formula": formula, "f_star": 0.0, "bounds": [[-2.0, 2.0]]})
    with pytest.raises(ConfigError, match=r"at the centre of bounds .* = \(0\), 4 below"):
        build_suite(raw)
    raw = _raw({"formula": formula, "f_star": 0.0})
    with pytest.raises(ConfigError, match=r"at the origin .* = \(0\), 4 below"):
        build_suite(raw)


def test_load_suite_tests_the_claim_for_validate_and_run_not_for_check(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(_raw({"f_star": 1.0, "x_star": [[3.0, 2.0]]})))
    with pytest.raises(ConfigError, match="f_star = 1 is above a value the surface reaches"):
        load_suite(path)
    # `bench check` loads without this test, and diagnoses the claim itself.
    suite = load_suite(path, check_resources=False, check_optimum=False)
    assert suite.problems[0].f_star == 1.0
    with pytest.raises(ConfigError):
        load_suite(path, check_resources=False)


def test_python_m_bench_validate_refuses_and_accepts_as_a_user_runs_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    moved = README_X_STAR.copy()
    moved[0] = [3.1, 2.0]
    bad.write_text(yaml.safe_dump(_raw({"f_star": 0.0, "x_star": moved.tolist()})))
    done = run_bench("validate", bad, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "nothing was compiled or written" in done.stderr
    assert f"the formula is {himmelblau(3.1, 2.0):.12g} there" in done.stderr
    assert f"has norm {np.linalg.norm(himmelblau_grad(3.1, 2.0)):.3g}" in done.stderr
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_raw({"f_star": 0.0, "x_star": README_X_STAR.tolist()})))
    done = run_bench("validate", good, timeout=120)
    assert done.returncode == 0, done.stderr
