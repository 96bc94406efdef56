"""The YAML formula kind: what it computes, and everything it refuses (a config never runs code)."""

import builtins
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from problems import PROBLEMS
from problems.expression import MAX_FORMULA_DEPTH, MAX_FORMULA_LENGTH, parse_formula

expression = PROBLEMS["expression"]

HIMMELBLAU = "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def test_himmelblau_in_yaml_matches_the_closed_form():
    problem = expression(
        formula=HIMMELBLAU,
        f_star=0.0,
        x_star=[[3.0, 2.0], [-2.805118087, 3.131312518]],
        bounds=[[-5.0, 5.0], [-5.0, 5.0]],
    )
    assert problem.dim == 2 and problem.f_star == 0.0 and problem.x_star.shape == (2, 2)
    assert problem.bounds == ((-5.0, 5.0), (-5.0, 5.0))
    rng = np.random.default_rng(0)
    f = jax.jit(problem.objective)
    for x in rng.uniform(-5, 5, (5, 2)):
        assert float(f(jnp.asarray(x))) == pytest.approx(himmelblau(*x), rel=1e-13)
    x, y = 1.5, -0.5
    grad = jax.jit(jax.grad(problem.objective))(jnp.array([x, y]))
    expected = [
        4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
        2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7),
    ]
    np.testing.assert_allclose(grad, expected, rtol=1e-13)
    x0 = np.asarray(problem.init(jax.random.key(0)))
    assert np.all(np.abs(x0) <= 5.0)  # uniform in the bounds


# (formula, dim, point, expected value)
FORMULAS = (
    ("sum(x**2)", 3, [1.0, 2.0, 3.0], 14.0),
    ("sum(100*(x[1]-x[0]**2)**2 + (1-x[0])**2)", None, [-1.2, 1.0], 24.2),
    ("-x[0] + +x[1] * 2 / 4", None, [1.0, 3.0], 0.5),
    ("x[0]**-2 + x[0]**0.5 + 2**x[0]", None, [4.0], 1 / 16 + 2 + 16),
    ("(-x[0])**3", None, [2.0], -8.0),
    ("exp(x[0]) + log(x[1]) + sqrt(x[2]) + log1p(x[0]) + expm1(x[1])", None, [0.5, 2.0, 9.0], None),
    ("sin(x[0]) + cos(x[0]) + tan(x[0]) + tanh(x[0]) + arctan(x[0])", None, [0.3], None),
    ("sinh(x[0]) * cosh(x[0]) + abs(x[1]) + square(x[1])", None, [0.3, -2.0], None),
    ("prod(x) + mean(x) + max(x) - min(x)", 3, [1.0, 2.0, 4.0], 8 + 7 / 3 + 3),
    ("max(x[0], x[1], 0.5) + min(x[0], -x[1])", None, [0.2, 0.3], 0.5 - 0.3),
    ("pi * x[0] + e", None, [2.0], 2 * np.pi + np.e),
    ("1e-3 * x[0] + 2.5E2", None, [1000.0], 251.0),
    ("x[1]", None, [7.0, 3.0], 3.0),
)


@pytest.mark.parametrize(("formula", "dim", "point", "expected"), FORMULAS)
def test_valid_formulas(formula, dim, point, expected):
    problem = expression(formula=formula, dim=dim)
    assert problem.dim == len(point)
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.asarray(point))
    if expected is None:  # the same expression written with numpy
        namespace = {name: getattr(np, name) for name in dir(np) if not name.startswith("_")}
        namespace.update(x=np.asarray(point), abs=np.abs, max=np.max, min=np.min, sum=np.sum)
        expected = eval(formula, {"__builtins__": {}}, namespace)  # test-only, fixed strings
    assert float(value) == pytest.approx(expected, rel=1e-13)
    assert np.all(np.isfinite(grad))


def test_dim_inference_and_index_errors():
    assert expression(formula="x[0] + x[4]**2").dim == 5
    assert expression(formula="x[0]", dim=3).dim == 3
    with pytest.raises(ValueError, match=r"reads x\[4\], but dim is 3"):
        expression(formula="x[0] + x[4]", dim=3)
    with pytest.raises(ValueError, match="uses x as a whole vector: give dim"):
        expression(formula="sum(x**2)")
    with pytest.raises(ValueError, match="does not use x"):
        expression(formula="1 + 2")
    with pytest.raises(ValueError, match=r"shape \(3,\), not a number"):
        expression(formula="x**2", dim=3)


def test_unused_coordinate_still_propagates_nan():
    problem = expression(formula="x[0]**2", dim=2)
    assert np.isnan(problem.objective(jnp.array([1.0, jnp.nan])))


def test_formula_dtype_follows_x():
    problem = expression(formula="pi * x[0]**2 + 1")
    with jax.enable_x64(False):
        assert problem.objective(jnp.array([1.0], jnp.float32)).dtype == jnp.float32
    assert problem.objective(jnp.array([1.0])).dtype == jnp.float64


# (formula, a fragment the message must name)
REFUSED = (
    ("__import__('os')", "'__import__'"),
    ("__import__('os').system('echo pwned')", "__import__"),
    ("x.__class__", "attribute access in 'x.__class__'"),
    ("x[0].__class__.__bases__", "attribute access"),
    ("open('f')", "the function 'open'"),
    ("exec('print(1)')", "the function 'exec'"),
    ("eval('1')", "the function 'eval'"),
    ("y[0]", "a subscript other than x[i]"),
    ("y", "the name 'y'"),
    ("lambda: 1", "lambda"),
    ("(lambda t: t)(x[0])", "calling anything but a named function"),
    ("x[0] if x[1] else 1", "a conditional expression"),
    ("x[0] < 1", "a comparison"),
    ("x[0] and x[1]", "and/or"),
    ("[t for t in x]", "a comprehension"),
    ("sum(t for t in x)", "a comprehension"),
    ("'abc'", "a string"),
    ("x['a']", "a subscript other than x[i]"),
    ("x[-1]", "a subscript other than x[i]"),
    ("x[0:2]", "a subscript other than x[i]"),
    ("x[i]", "a subscript other than x[i]"),
    ("x[True]", "a subscript other than x[i]"),
    ("x[0] // 2", "the operator //"),
    ("x[0] % 2", "the operator %"),
    ("x @ x", "the operator @"),
    ("~x[0]", "the operator ~"),
    ("exp", "the function name 'exp' without a call"),
    ("exp(x=1)", "a keyword argument"),
    ("exp(*x)", "a starred argument"),
    ("exp()", "without an argument"),
    ("exp(x[0], x[1])", "calling exp() with 2 arguments"),
    ("(x[0], x[1])", "a tuple"),
    ("[x[0]]", "a list"),
    ("{'a': 1}", "a dict"),
    ("(t := x[0])", "an assignment"),
    ("True", "the constant True"),
    ("None", "the constant None"),
    ("1j * x[0]", "the constant 1j"),
    ("f'{x}'", "an f-string"),
    ("np.exp(x[0])", "calling anything but a named function"),
    ("jnp.exp(x[0])", "calling anything but a named function"),
    ("globals()", "the function 'globals'"),
    ("__builtins__", "the name '__builtins__'"),
)


@pytest.mark.parametrize(("formula", "fragment"), REFUSED)
def test_refused_formulas(formula, fragment, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the formula reached eval or exec")

    # (ast.parse itself calls the builtin compile with PyCF_ONLY_AST, so that one stays.)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ValueError) as info:
        expression(formula=formula, dim=2)
    message = str(info.value)
    assert fragment in message, message
    assert "allowed:" in message and "x[i] with an integer literal i" in message


MALFORMED = ("x[0] +* 2", "x[0] +", "(x[0]", "x[0] x[1]", "x[0] = 1", "import os", "")


@pytest.mark.parametrize("formula", MALFORMED)
def test_malformed_formulas(formula):
    with pytest.raises(ValueError, match=r"not a valid expression|non-empty string") as info:
        expression(formula=formula, dim=2)
    if formula:
        assert repr(formula) in str(info.value)


def test_malformed_message_says_where():
    with pytest.raises(ValueError, match=r"'x\[0\] \+\* 2' is not a valid expression: .* column"):
        parse_formula("x[0] +* 2")


def test_hostile_sizes_are_refused_not_run():
    with pytest.raises(ValueError, match="at most 10000 characters"):
        expression(formula="x[0]" + " + x[0]" * 2000)
    with pytest.raises(ValueError, match=r"nested too deeply|not a valid expression"):
        expression(formula="(" * 3000 + "x[0]" + ")" * 3000)
    with pytest.raises(ValueError, match="too large for a float"):
        expression(formula="x[0] + 1" + "0" * 400)
    # a huge power is computed in floating point (inf), never as a Python integer
    problem = expression(formula="x[0] + 10**10**10")
    assert np.isinf(problem.objective(jnp.array([1.0])))


def _from_a_deep_stack(function, *args):
    """``function(*args)`` called with all but ~150 frames of Python's stack already used:
    the runner traces a formula deep inside jit, vmap, while loops and line searches."""
    spare = 150

    def descend(level):
        if level > 0:
            return descend(level - 1)
        return function(*args)

    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return descend(sys.getrecursionlimit() - depth - spare)


def test_a_formula_just_under_the_depth_limit_is_accepted_and_evaluates_anywhere():
    formula = "-" * (MAX_FORMULA_DEPTH - 1) + "x[0]"  # 199 minus signs around x[0]: 200 levels
    problem = expression(formula=formula)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    value, grad = _from_a_deep_stack(value_and_grad, jnp.array([3.0]))
    assert float(value) == -3.0 and float(grad[0]) == -1.0


@pytest.mark.parametrize(
    "formula",
    [
        "-" * MAX_FORMULA_DEPTH + "x[0]",
        "**".join(["x[0]"] * (MAX_FORMULA_DEPTH + 1)),  # x**(x**(...)): right-nested
        "sin(" * 150 + "-" * 60 + "x[0]" + ")" * 150,
    ],
)
def test_a_formula_just_over_the_depth_limit_is_refused(formula):
    with pytest.raises(ValueError, match=f"nested too deeply: at most {MAX_FORMULA_DEPTH} levels"):
        expression(formula=formula)


def test_a_power_tower_at_the_depth_limit_is_accepted():
    parse_formula("**".join(["x[0]"] * MAX_FORMULA_DEPTH))


def test_a_long_sum_written_out_is_one_level_and_evaluates():
    terms = 1_990
    formula = "+".join(["x[0]"] * terms) + " - x[0]*x[0]*x[0] / x[0]"  # 9,973 characters
    assert len(formula) <= MAX_FORMULA_LENGTH
    problem = expression(formula=formula)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    value, grad = _from_a_deep_stack(value_and_grad, jnp.array([3.0]))
    assert float(value) == 3.0 * terms - 9.0 and float(grad[0]) == terms - 6.0


def test_brackets_do_not_count_as_levels_but_python_caps_them():
    problem = expression(formula="(" * 199 + "x[0]" + ")" * 199)
    assert float(problem.objective(jnp.array([2.0]))) == 2.0
    with pytest.raises(ValueError, match="too many nested parentheses"):
        expression(formula="(" * 200 + "x[0]" + ")" * 200)
    with pytest.raises(ValueError, match=f"at most {MAX_FORMULA_LENGTH} characters"):
        expression(formula="(" * 10_000 + "x[0]" + ")" * 10_000)
    with pytest.raises(ValueError, match=f"at most {MAX_FORMULA_LENGTH} characters"):
        expression(formula="+".join(["x[0]"] * 100_000))


def test_a_formula_at_the_depth_limit_runs_in_the_runner():
    # The run traces the very function validation built: same limit, no deeper stack needed.
    from bench.config import build_suite
    from bench.run.cell import compile_cell
    from bench.run.policies import make_transform_factory, recording_for, targets_for

    formula = "-" * (MAX_FORMULA_DEPTH - 2) + "x[0]**2"
    suite = build_suite(
        {
            "steps": 3,
            "seeds": 1,
            "problems": [{"kind": "expression", "formula": formula}],
            "optimizers": [{"kind": "gd", "learning_rate": 0.1}],
        }
    )
    (problem,), (setting,) = suite.problems, suite.optimizers
    recording = recording_for(problem, suite)
    cell = _from_a_deep_stack(
        compile_cell,
        problem,
        make_transform_factory(setting),
        setting.entry.count_evals,
        setting.settings(),
        suite.seeds,
        recording,
        targets_for(suite),
    )
    result = cell.result()
    assert np.isfinite(result.loss).all() and result.loss.shape == (1, 1, 4)


# (arguments, message fragment)
BAD_ARGUMENTS = (
    ({"formula": "x[0]", "dim": 0}, "dim must be >= 1, got 0"),
    ({"formula": "x[0]", "f_star": "low"}, "f_star must be a number, got 'low'"),
    ({"formula": "x[0]", "f_star": float("nan")}, "f_star must be finite"),
    ({"formula": "x[0] + x[1]", "x_star": [1.0]}, "x_star must be one point or a list of points"),
    ({"formula": "x[0] + x[1]", "x_star": [[1.0, 2.0], [1.0]]}, "x_star must be"),
    ({"formula": "x[0] + x[1]", "x_star": []}, "x_star must be one point"),
    ({"formula": "x[0]", "x_star": [float("inf")]}, "x_star must hold finite numbers"),
    ({"formula": "x[0] + x[1]", "bounds": [[1.0, -1.0]]}, "bounds must be a list of [low, high]"),
    ({"formula": "x[0] + x[1]", "bounds": [[-1.0, 1.0]] * 3}, "one per coordinate (dim = 2)"),
    ({"formula": "x[0]", "bounds": [-1.0, 1.0]}, "bounds must be a list"),
    ({"formula": 3}, "formula must be a non-empty string, got 3"),
)


@pytest.mark.parametrize(("kwargs", "fragment"), BAD_ARGUMENTS)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        expression(**kwargs)
    assert fragment in str(info.value)


def test_single_point_and_broadcast_bounds():
    problem = expression(formula="x[0]**2 + x[1]**2", x_star=[0.0, 0.0], bounds=[[-2, 2]])
    assert problem.x_star.shape == (1, 2)
    assert problem.bounds == ((-2.0, 2.0), (-2.0, 2.0))
    assert problem.description == "f(x) = x[0]**2 + x[1]**2"
