"""Learning-rate multiplier schedules against their formulas, written out here in numpy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optimizers.schedules import SCHEDULES

COUNTS = np.arange(0, 40)


def cosine_formula(t, decay_steps, alpha=0.0, exponent=1.0):
    progress = min(t, decay_steps) / decay_steps
    return (1 - alpha) * (0.5 * (1 + math.cos(math.pi * progress))) ** exponent + alpha


def warmup_cosine_formula(t, warmup_steps, decay_steps, init_value=0.0, end_value=0.0):
    if t < warmup_steps:
        return init_value + (1.0 - init_value) * t / warmup_steps
    progress = min(t - warmup_steps, decay_steps - warmup_steps) / (decay_steps - warmup_steps)
    return end_value + (1.0 - end_value) * 0.5 * (1 + math.cos(math.pi * progress))


CASES = [
    ("constant", {}, lambda t: 1.0),
    ("constant", {"value": 0.3}, lambda t: 0.3),
    ("exponential", {"decay_rate": 0.9}, lambda t: 0.9**t),
    (
        "exponential",
        {"decay_rate": 0.5, "transition_steps": 10, "staircase": True},
        lambda t: 0.5 ** (t // 10),
    ),
    (
        "exponential",
        {"decay_rate": 0.5, "transition_steps": 4, "transition_begin": 5, "end_value": 0.1},
        lambda t: max(0.1, 0.5 ** (max(t - 5, 0) / 4)),
    ),
    ("cosine", {"decay_steps": 25}, lambda t: cosine_formula(t, 25)),
    (
        "cosine",
        {"decay_steps": 30, "alpha": 0.1, "exponent": 2.0},
        lambda t: cosine_formula(t, 30, 0.1, 2.0),
    ),
    (
        "warmup_cosine",
        {"warmup_steps": 5, "decay_steps": 30},
        lambda t: warmup_cosine_formula(t, 5, 30),
    ),
    (
        "warmup_cosine",
        {"warmup_steps": 8, "decay_steps": 20, "init_value": 0.1, "end_value": 0.01},
        lambda t: warmup_cosine_formula(t, 8, 20, 0.1, 0.01),
    ),
    ("step", {"step_size": 10}, lambda t: 0.1 ** (t // 10)),
    ("step", {"step_size": 7, "factor": 0.5}, lambda t: 0.5 ** (t // 7)),
]


@pytest.mark.parametrize(("kind", "kwargs", "formula"), CASES)
def test_schedule_matches_formula(kind, kwargs, formula):
    schedule = SCHEDULES[kind](**kwargs)
    values = jax.jit(jax.vmap(lambda t: jnp.asarray(schedule(t), jnp.float64)))(
        jnp.asarray(COUNTS, jnp.int32)
    )
    expected = np.array([formula(int(t)) for t in COUNTS])
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-15)


def test_registered_kinds():
    assert set(SCHEDULES) == {"constant", "exponential", "cosine", "warmup_cosine", "step"}


@pytest.mark.parametrize(
    ("kind", "kwargs", "parameter"),
    [
        ("constant", {"value": -1.0}, "value"),
        ("exponential", {"decay_rate": 0.0}, "decay_rate"),
        ("exponential", {"decay_rate": 0.9, "transition_steps": 0}, "transition_steps"),
        ("exponential", {"decay_rate": 0.9, "staircase": 1}, "staircase"),
        ("cosine", {"decay_steps": 0}, "decay_steps"),
        ("cosine", {"decay_steps": 10, "alpha": 1.5}, "alpha"),
        ("warmup_cosine", {"warmup_steps": 10, "decay_steps": 10}, "decay_steps"),
        ("warmup_cosine", {"warmup_steps": -1, "decay_steps": 10}, "warmup_steps"),
        ("step", {"step_size": 2.5}, "step_size"),
        ("step", {"step_size": 10, "factor": -0.1}, "factor"),
    ],
)
def test_bad_schedule_arguments_raise_value_error(kind, kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        SCHEDULES[kind](**kwargs)
