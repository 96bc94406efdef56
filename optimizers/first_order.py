"""Gradient descent and its momentum variants, written from the update rules.

Each method is a ``scale_by_*`` transform (the direction, with an explicit NamedTuple state)
chained with the hand-written ``optimizers.step_size.scale_by_learning_rate`` (the step
length ``-lr_t``), the same split Optax uses for its own, but sharing no code with the Optax
twins the tests compare against. ``learning_rate`` is a float, or a schedule ``count -> lr``
(the path used by ``optimizers.compose.build_transform``); it is annotated ``float`` because
that is what a YAML entry gives.
"""

from typing import Any, NamedTuple

import jax
import optax

from optimizers import _checks
from optimizers.step_size import scale_by_learning_rate


class HeavyBallState(NamedTuple):
    """State of ``scale_by_heavy_ball``: the velocity ``v`` (zeros at start)."""

    velocity: Any


class NesterovState(NamedTuple):
    """State of ``scale_by_nesterov``: the velocity ``v`` (zeros at start)."""

    velocity: Any


def scale_by_heavy_ball(momentum: Any = 0.9) -> optax.GradientTransformation:
    """Heavy-ball direction: ``v_t = g_t + momentum * v_{t-1}``, output ``v_t``."""

    def init_fn(params):
        return HeavyBallState(velocity=jax.tree.map(jax.numpy.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        velocity = jax.tree.map(lambda g, v: g + momentum * v, updates, state.velocity)
        return velocity, HeavyBallState(velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_nesterov(momentum: Any = 0.9) -> optax.GradientTransformation:
    """Nesterov direction: ``v_t = g_t + momentum * v_{t-1}``, output ``g_t + momentum * v_t``."""

    def init_fn(params):
        return NesterovState(velocity=jax.tree.map(jax.numpy.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        velocity = jax.tree.map(lambda g, v: g + momentum * v, updates, state.velocity)
        direction = jax.tree.map(lambda g, v: g + momentum * v, updates, velocity)
        return direction, NesterovState(velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def gd(*, learning_rate: float) -> optax.GradientTransformationExtraArgs:
    """Gradient descent.

    Update: ``x_{t+1} = x_t - lr * g_t``.
    Defaults: none; ``learning_rate`` is required, as for its Optax twin ``optax.sgd``.
    Reference: Cauchy (1847); Nocedal & Wright, Numerical Optimization (2006), Sec. 3.1.
    """
    _checks.check_positive("gd", "learning_rate", learning_rate)
    # chain() only lifts the transform to GradientTransformationExtraArgs (value_fn=, ...).
    return optax.chain(scale_by_learning_rate(learning_rate))


def momentum(
    *, learning_rate: float, momentum: float = 0.9
) -> optax.GradientTransformationExtraArgs:
    """Heavy-ball momentum (Polyak 1964).

    Update: ``v_t = g_t + momentum * v_{t-1}`` (``v_0 = 0``), ``x_{t+1} = x_t - lr * v_t``,
    i.e. ``x_{t+1} = x_t - lr * g_t + momentum * (x_t - x_{t-1})``.
    Defaults: ``momentum=0.9``; ``learning_rate`` required. Twin: ``optax.sgd(lr,
    momentum=0.9)``. Reference: B. T. Polyak, "Some methods of speeding up the convergence of
    iteration methods", USSR Comput. Math. & Math. Phys. 4(5), 1964.
    """
    _checks.check_positive("momentum", "learning_rate", learning_rate)
    _checks.check_interval("momentum", "momentum", momentum, 0.0, 1.0)
    return optax.chain(scale_by_heavy_ball(momentum), scale_by_learning_rate(learning_rate))


def nesterov(
    *, learning_rate: float, momentum: float = 0.9
) -> optax.GradientTransformationExtraArgs:
    """Nesterov's accelerated gradient in the momentum form of Sutskever et al. (2013).

    Update: ``v_t = g_t + momentum * v_{t-1}`` (``v_0 = 0``),
    ``x_{t+1} = x_t - lr * (g_t + momentum * v_t)``: the look-ahead rewriting of
    ``v_{t+1} = momentum * v_t - lr * grad f(x_t + momentum * v_t)`` (Bengio et al. 2013),
    which evaluates the gradient at the iterate itself.
    Defaults: ``momentum=0.9``; ``learning_rate`` required. Twin: ``optax.sgd(lr,
    momentum=0.9, nesterov=True)``. References: Y. Nesterov, Soviet Math. Dokl. 27, 1983;
    I. Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013; Y. Bengio et al., "Advances in optimizing recurrent networks",
    ICASSP 2013.
    """
    _checks.check_positive("nesterov", "learning_rate", learning_rate)
    _checks.check_interval("nesterov", "momentum", momentum, 0.0, 1.0)
    return optax.chain(scale_by_nesterov(momentum), scale_by_learning_rate(learning_rate))
