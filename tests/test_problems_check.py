"""bench/check.py: the verification command passes the registry and catches wrong claims."""

import io

import jax
import numpy as np
import pytest

from bench.check import all_registered_problems, check_problems, classify
from problems import PROBLEMS, Problem
from problems.base import fixed_start

HIMMELBLAU = "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"


def run_check(problems):
    out = io.StringIO()
    status = check_problems(problems, out=out)
    return status, out.getvalue()


def test_all_registered_problems_cover_every_kind_and_dataset():
    names = [p.name for p in all_registered_problems()]
    assert len(names) == len(set(names))
    for kind in PROBLEMS:
        assert any(name == kind or name.startswith(f"{kind}-") for name in names), kind
    for name in ("logistic-breast_cancer", "logistic-synthetic", "mlp-digits", "mlp-synthetic"):
        assert name in names


# One per module and per special case (several minima, a kink, a plateau, a formula); the
# whole registry is `python -m bench.check`.
CHECKED_KINDS = (
    "quadratic",
    "rosenbrock",
    "himmelblau",
    "ackley",
    "saddle_nd",
    "plateau",
    "expression",
)


def test_registered_problems_pass():
    problems = [p for p in all_registered_problems() if p.name in CHECKED_KINDS]
    assert len(problems) == len(CHECKED_KINDS)
    status, text = run_check(problems)
    assert status == 0, text
    assert f"all {len(problems)} problems passed" in text
    assert "rosenbrock (dim 2, f* 0)" in text
    assert "Hessian eigenvalues 0.399 1e+03: minimum, condition number 2.51e+03" in text


def test_registered_data_problems_pass():
    problems = [
        PROBLEMS["logistic"](dataset="synthetic"),
        PROBLEMS["least_squares"](),
        PROBLEMS["mlp"](dataset="synthetic", hidden_sizes=(8,)),
    ]
    status, text = run_check(problems)
    assert status == 0, text
    assert "8 random directions" in text  # the MLP's 172 parameters
    assert "no x* known" in text


def test_wrong_f_star_fails_with_the_numbers():
    problem = PROBLEMS["expression"](formula=HIMMELBLAU, f_star=1.0, x_star=[3.0, 2.0])
    status, text = run_check([problem])
    assert status == 1
    assert "loss 0, |loss - f*| 1" in text and "FAIL" in text
    # The failing criterion is named, with its threshold: 1e-8 * (1 + |f*|).
    assert "failed: value |loss(x*) - f*| 1 > 1e-08 * (1 + |f*|) = 2e-08  FAIL" in text
    assert "1 of 1 problems FAILED: expression" in text


def test_f_star_above_sampled_points_fails():
    problem = PROBLEMS["expression"](formula="sum(x**2)", dim=2, f_star=1.0, bounds=[[-1, 1]])
    status, text = run_check([problem])
    assert status == 1 and "f* = 1 is not a lower bound: a sampled point has loss" in text
    assert "failed: lower bound, loss below f* by more than 1e-08 * (1 + |f*|) = 2e-08" in text


def test_non_stationary_x_star_fails_with_the_numbers():
    problem = PROBLEMS["expression"](
        formula=HIMMELBLAU, f_star=0.0, x_star=[[3.0, 2.0], [3.0, 2.1]]
    )
    status, text = run_check([problem])
    assert status == 1
    failed = [line for line in text.splitlines() if line.endswith("FAIL") and "x*" in line]
    assert len(failed) == 1 and failed[0].startswith("  x*[1] = (3 2.1)")
    assert "|grad| 4.17" in failed[0] and "|loss - f*| 0.178" in failed[0]
    assert "failed: value |loss(x*) - f*| 0.178 > 1e-08 * (1 + |f*|) = 1e-08" in failed[0]
    # The threshold scales with the largest Hessian eigenvalue there (83.7).
    assert "stationarity |grad| 4.17 > 1e-06 * max(1, max |eigenvalue|) = 8.37e-05" in failed[0]
    assert "curvature class" not in failed[0]


def test_coordinates_print_with_enough_digits_to_tell_a_wrong_claim():
    """A claimed x* of (1.001, -0.5) once printed as (1 -0.5), hiding the mistake."""
    problem = PROBLEMS["expression"](
        formula="(x[0] - 1)**2 + (x[1] + 0.5)**2",
        f_star=0.0,
        x_star=[[1.001, -0.5], [1.0, -0.5], [1.23456789012, -0.5]],
    )
    status, text = run_check([problem])
    assert status == 1
    lines = {line.split(" = ")[0].strip(): line for line in text.splitlines() if "x*[" in line}
    assert lines["x*[0]"].startswith("  x*[0] = (1.001 -0.5): ")
    assert lines["x*[0]"].endswith("FAIL") and "stationarity |grad| 0.002 > " in lines["x*[0]"]
    assert lines["x*[1]"].startswith("  x*[1] = (1 -0.5): ") and lines["x*[1]"].endswith("ok")
    assert lines["x*[2]"].startswith("  x*[2] = (1.23456789 -0.5): ")


def test_saddle_claimed_as_minimum_fails():
    problem = PROBLEMS["expression"](formula="x[0]**2 - x[1]**2", f_star=0.0, x_star=[0.0, 0.0])
    status, text = run_check([problem])
    assert status == 1
    assert "Hessian eigenvalues -2 2: saddle" in text
    assert "failed: curvature class saddle, not a minimum: an eigenvalue below -1e-08" in text
    assert "stationarity" not in text and "value |loss" not in text


def test_degenerate_minimum_passes_with_its_label():
    problem = PROBLEMS["expression"](formula="x[0]**4 + x[1]**2", f_star=0.0, x_star=[0.0, 0.0])
    status, text = run_check([problem])
    assert status == 0, text
    assert "degenerate" in text


def _square_with_wrong_derivative():
    @jax.custom_jvp
    def square(t):
        return t**2

    @square.defjvp
    def square_jvp(primals, tangents):
        (t,), (dt,) = primals, tangents
        return t**2, 3.0 * t * dt  # should be 2 t dt

    return square


def test_wrong_gradient_fails():
    square = _square_with_wrong_derivative()
    problem = Problem(
        name="wrong-gradient",
        dim=2,
        init=fixed_start([1.0, -2.0]),
        loss=lambda x, batch: square(x[0]) + square(x[1]),
        f_star=0.0,
        x_star=np.zeros((1, 2)),
        bounds=((-1.0, 1.0), (-1.0, 1.0)),
    )
    status, text = run_check([problem])
    assert status == 1
    line = next(line for line in text.splitlines() if "central differences" in line)
    assert line.startswith(
        "  gradient vs central differences (coordinate), relative error: start 0.333"
    )
    assert line.endswith(
        "; failed: gradient, relative error above 1e-05 and above the "
        "rounding noise of the differences  FAIL"
    )


def test_crashing_problem_is_a_failure_not_a_crash():
    def loss(x, batch):
        raise RuntimeError("boom")

    problem = Problem(name="crash", dim=1, init=fixed_start([0.0]), loss=loss)
    status, text = run_check([problem])
    assert status == 1 and "error while checking: RuntimeError: boom" in text


@pytest.mark.parametrize(
    ("eigenvalues", "label"),
    (
        ([1.0, 2.0], "minimum"),
        ([-1.0, 2.0], "saddle"),
        ([-1.0, -2.0], "maximum"),
        ([0.0, 2.0], "degenerate"),
        ([1e-12, 2.0], "degenerate"),
    ),
)
def test_classify(eigenvalues, label):
    assert classify(np.array(eigenvalues), 1e-8)[0] == label
    if label == "minimum":
        assert classify(np.array(eigenvalues), 1e-8)[1] == pytest.approx(2.0)
