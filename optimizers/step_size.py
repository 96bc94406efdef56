"""The step length of the first-order methods: ``u -> -lr_t * u``, lr a number or a schedule.

Written here rather than borrowed from ``optax.scale_by_learning_rate`` so that a
hand-written method compared with its Optax twin shares no code with it.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByLearningRateState(NamedTuple):
    """State of ``scale_by_learning_rate``: updates made so far (int32, 0 at start)."""

    count: jax.Array


def scale_by_learning_rate(learning_rate: Any) -> optax.GradientTransformation:
    """Step length: output ``-lr_t * u_t``, for every leaf ``u_t`` of the incoming direction.

    ``lr_t = learning_rate`` for a number (a float or a traced JAX scalar), or
    ``learning_rate(t)`` for a schedule ``count -> lr``, evaluated at ``t``, the number of
    updates made before this one (0 at the first update, incremented after each). That is
    the convention of Optax's ``scale_by_schedule``, so a schedule reaches the hand-written
    methods and their Optax twins at the same counts. ``lr_t`` is cast to each leaf's dtype,
    so a float64 rate never promotes float32 parameters.
    Reference: the step-size rule ``x_{t+1} = x_t - a_t d_t`` of Nocedal & Wright, Numerical
    Optimization (2nd ed., 2006), Sec. 3.1.
    """

    def init_fn(params):
        del params
        return ScaleByLearningRateState(count=jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        scaled = jax.tree.map(lambda u: -jnp.asarray(lr, u.dtype) * u, updates)
        # Saturate instead of wrapping to a negative count past 2**31 - 1 updates.
        top = jnp.iinfo(jnp.int32).max
        count = jnp.where(state.count < top, state.count + 1, top)
        return scaled, ScaleByLearningRateState(count=count)

    return optax.GradientTransformation(init_fn, update_fn)
