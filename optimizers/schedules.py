"""Learning-rate schedules as MULTIPLIERS ``m(count)`` of an entry's base learning rate.

``SCHEDULES[kind](**kwargs)`` returns ``m``; ``optimizers.compose.build_transform`` turns an
entry's ``learning_rate`` into ``lambda count: learning_rate * m(count)``, so a swept base rate
keeps its meaning and the schedule only shapes it. ``count`` is the number of updates made
before the current one (0 at the first update), as in Optax. Schedule settings are static:
they are validated here, eagerly. Built on Optax's schedule functions, evaluated at a FLOAT
count: Optax divides the integer step count by an int, which gives float32 even when x64 is
on, and would round the multiplier to float32 precision.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from optimizers import _checks

Schedule = Callable[[jax.Array], jax.Array]


def _at_float_count(schedule: Schedule) -> Schedule:
    """The schedule evaluated at the count cast to the default float dtype (float64 in x64)."""

    def multiplier(count: jax.Array) -> jax.Array:
        count = jnp.asarray(count)
        return jnp.asarray(schedule(count.astype(jnp.result_type(float))))

    return multiplier


def constant(*, value: float = 1.0) -> Schedule:
    """``m(t) = value`` (default 1: the base learning rate unchanged)."""
    _checks.check_positive("constant schedule", "value", value)
    return _at_float_count(optax.constant_schedule(value))


def exponential(
    *,
    decay_rate: float,
    transition_steps: int = 1,
    staircase: bool = False,
    transition_begin: int = 0,
    end_value: float | None = None,
) -> Schedule:
    """``m(t) = decay_rate ** ((t - transition_begin) / transition_steps)`` for ``t >= begin``.

    1 before ``transition_begin``; with ``staircase`` the exponent is floored; ``end_value``
    bounds the multiplier (from below when decaying). Optax ``exponential_decay`` with
    ``init_value=1``.
    """
    owner = "exponential schedule"
    _checks.check_positive(owner, "decay_rate", decay_rate)
    _checks.check_int(owner, "transition_steps", transition_steps, minimum=1)
    _checks.check_bool(owner, "staircase", staircase)
    _checks.check_int(owner, "transition_begin", transition_begin, minimum=0)
    if end_value is not None:
        _checks.check_positive(owner, "end_value", end_value, allow_zero=True)
    return _at_float_count(
        optax.exponential_decay(
            init_value=1.0,
            transition_steps=transition_steps,
            decay_rate=decay_rate,
            transition_begin=transition_begin,
            staircase=staircase,
            end_value=end_value,
        )
    )


def cosine(*, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0) -> Schedule:
    """``m(t) = (1 - alpha) * (0.5 * (1 + cos(pi * min(t, T) / T))) ** exponent + alpha``.

    ``T = decay_steps``; the multiplier falls from 1 to ``alpha`` and stays there (Loshchilov
    & Hutter, "SGDR", ICLR 2017, without restarts). Optax ``cosine_decay_schedule``.
    """
    owner = "cosine schedule"
    _checks.check_int(owner, "decay_steps", decay_steps, minimum=1)
    _checks.check_interval(owner, "alpha", alpha, 0.0, 1.0, closed_high=True)
    _checks.check_positive(owner, "exponent", exponent)
    return _at_float_count(
        optax.cosine_decay_schedule(
            init_value=1.0, decay_steps=decay_steps, alpha=alpha, exponent=exponent
        )
    )


def warmup_cosine(
    *, warmup_steps: int, decay_steps: int, init_value: float = 0.0, end_value: float = 0.0
) -> Schedule:
    """Linear warmup from ``init_value`` to 1 over ``warmup_steps``, then cosine to ``end_value``.

    ``m(t) = init_value + (1 - init_value) * t / W`` for ``t < W = warmup_steps``, then
    ``end_value + (1 - end_value) * 0.5 * (1 + cos(pi * (t - W) / (D - W)))`` until
    ``D = decay_steps`` (the TOTAL length, warmup included, as in Optax), ``end_value`` after.
    Optax ``warmup_cosine_decay_schedule`` with ``peak_value=1``.
    """
    owner = "warmup_cosine schedule"
    _checks.check_int(owner, "warmup_steps", warmup_steps, minimum=0)
    _checks.check_int(owner, "decay_steps", decay_steps, minimum=1)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"{owner}: decay_steps must be larger than warmup_steps={warmup_steps} (it is the "
            f"total length, warmup included), got {decay_steps!r}."
        )
    _checks.check_positive(owner, "init_value", init_value, allow_zero=True)
    _checks.check_positive(owner, "end_value", end_value, allow_zero=True)
    return _at_float_count(
        optax.warmup_cosine_decay_schedule(
            init_value=init_value,
            peak_value=1.0,
            warmup_steps=warmup_steps,
            decay_steps=decay_steps,
            end_value=end_value,
        )
    )


def step(*, step_size: int, factor: float = 0.1) -> Schedule:
    """``m(t) = factor ** floor(t / step_size)``: multiply by ``factor`` every ``step_size`` steps.

    PyTorch's ``StepLR``; Optax ``exponential_decay(1, step_size, factor, staircase=True)``.
    """
    owner = "step schedule"
    _checks.check_int(owner, "step_size", step_size, minimum=1)
    _checks.check_positive(owner, "factor", factor)
    return _at_float_count(
        optax.exponential_decay(
            init_value=1.0, transition_steps=step_size, decay_rate=factor, staircase=True
        )
    )


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "exponential": exponential,
    "cosine": cosine,
    "warmup_cosine": warmup_cosine,
    "step": step,
}
