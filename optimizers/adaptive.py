"""Adaptive per-coordinate methods (AdaGrad, RMSProp, Adam, AdamW), from their update rules.

Each is a ``scale_by_*`` transform with an explicit NamedTuple state, chained with the
hand-written ``optimizers.step_size.scale_by_learning_rate`` (``-lr_t``). Defaults and
epsilon placement follow the Optax twin, so an entry with no extra arguments compares like
with like; each docstring says where that differs from the paper. ``learning_rate`` is a
float or a schedule ``count -> lr``.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optimizers import _checks
from optimizers.step_size import scale_by_learning_rate


class AdagradState(NamedTuple):
    """State of ``scale_by_adagrad``: running sum of squared gradients."""

    sum_of_squares: Any


class RmspropState(NamedTuple):
    """State of ``scale_by_rmsprop``: EMA of squared gradients ``nu`` and of gradients ``mu``.

    ``mu`` is only updated (and used) by the centered variant; it stays zero otherwise.
    """

    nu: Any
    mu: Any


class AdamState(NamedTuple):
    """State of ``scale_by_adam``: step count and the first/second moment EMAs."""

    count: jax.Array
    mu: Any
    nu: Any


class WeightDecayState(NamedTuple):
    """``add_weight_decay`` is stateless."""


def scale_by_adagrad(
    initial_accumulator_value: Any = 0.1, eps: Any = 1e-7
) -> optax.GradientTransformation:
    """AdaGrad direction ``g_t / sqrt(G_t + eps)``, ``G_t = G_{t-1} + g_t**2``, ``G_0`` given."""

    def init_fn(params):
        return AdagradState(
            sum_of_squares=jax.tree.map(
                lambda p: jnp.full_like(p, initial_accumulator_value), params
            )
        )

    def update_fn(updates, state, params=None):
        del params
        sums = jax.tree.map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        # A zero accumulator (zero start, zero gradient so far) gives a zero step, not 0/0.
        direction = jax.tree.map(
            lambda g, s: jnp.where(s > 0, g / jnp.sqrt(s + eps), 0.0), updates, sums
        )
        return direction, AdagradState(sum_of_squares=sums)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_rmsprop(
    decay: Any = 0.9, eps: Any = 1e-8, centered: bool = False
) -> optax.GradientTransformation:
    """``nu_t = decay nu_{t-1} + (1 - decay) g_t**2``, output ``g_t / sqrt(nu_t - mu_t**2 + eps)``.

    ``mu_t = decay mu_{t-1} + (1 - decay) g_t`` in the centered variant, ``mu = 0`` otherwise.
    """

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return RmspropState(nu=zeros, mu=zeros)

    def update_fn(updates, state, params=None):
        del params
        nu = jax.tree.map(lambda g, n: decay * n + (1 - decay) * g * g, updates, state.nu)
        if centered:
            mu = jax.tree.map(lambda g, m: decay * m + (1 - decay) * g, updates, state.mu)
        else:
            mu = state.mu
        direction = jax.tree.map(lambda g, n, m: g / jnp.sqrt(n - m * m + eps), updates, nu, mu)
        return direction, RmspropState(nu=nu, mu=mu)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_adam(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8) -> optax.GradientTransformation:
    """Bias-corrected Adam direction ``m_hat_t / (sqrt(v_hat_t) + eps)``."""

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros((), jnp.int32), mu=zeros, nu=zeros)

    def update_fn(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = jax.tree.map(lambda g, v: b2 * v + (1 - b2) * g * g, updates, state.nu)
        count = state.count + 1
        t = count.astype(jnp.result_type(float))
        correction1 = 1 - b1**t
        correction2 = 1 - b2**t
        direction = jax.tree.map(
            lambda m, v: (m / correction1) / (jnp.sqrt(v / correction2) + eps), mu, nu
        )
        return direction, AdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def add_weight_decay(weight_decay: Any) -> optax.GradientTransformation:
    """Decoupled weight decay: adds ``weight_decay * x`` to the incoming direction."""

    def init_fn(params):
        del params
        return WeightDecayState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("add_weight_decay needs the parameters passed to update().")
        return jax.tree.map(lambda u, p: u + weight_decay * p, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def adagrad(
    *, learning_rate: float, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> optax.GradientTransformationExtraArgs:
    """AdaGrad (Duchi, Hazan & Singer 2011), diagonal version.

    Update: ``G_t = G_{t-1} + g_t**2`` with ``G_0 = initial_accumulator_value``,
    ``x_{t+1} = x_t - lr * g_t / sqrt(G_t + eps)``.
    Defaults are those of ``optax.adagrad`` (``initial_accumulator_value=0.1``,
    ``eps=1e-7`` inside the square root; the paper has ``G_0 = 0`` and ``eps`` outside).
    Reference: J. Duchi, E. Hazan, Y. Singer, "Adaptive subgradient methods for online
    learning and stochastic optimization", JMLR 12, 2011.
    """
    _checks.check_positive("adagrad", "learning_rate", learning_rate)
    _checks.check_positive(
        "adagrad", "initial_accumulator_value", initial_accumulator_value, allow_zero=True
    )
    _checks.check_positive("adagrad", "eps", eps, allow_zero=True)
    return optax.chain(
        scale_by_adagrad(initial_accumulator_value, eps),
        scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    *, learning_rate: float, decay: float = 0.9, eps: float = 1e-8, centered: bool = False
) -> optax.GradientTransformationExtraArgs:
    """RMSProp (Tieleman & Hinton 2012); centered variant of Graves (2013).

    Update: ``nu_t = decay * nu_{t-1} + (1 - decay) * g_t**2`` (``nu_0 = 0``),
    ``x_{t+1} = x_t - lr * g_t / sqrt(nu_t + eps)``; with ``centered=True`` also
    ``mu_t = decay * mu_{t-1} + (1 - decay) * g_t`` and the denominator
    ``sqrt(nu_t - mu_t**2 + eps)``.
    Defaults are those of ``optax.rmsprop`` (``decay=0.9``, ``eps=1e-8`` inside the root).
    References: T. Tieleman, G. Hinton, Lecture 6.5 of "Neural Networks for Machine Learning"
    (Coursera, 2012); A. Graves, "Generating sequences with recurrent neural networks",
    arXiv:1308.0850 (2013), eq. 38-45.
    """
    _checks.check_positive("rmsprop", "learning_rate", learning_rate)
    _checks.check_interval("rmsprop", "decay", decay, 0.0, 1.0)
    _checks.check_positive("rmsprop", "eps", eps, allow_zero=True)
    _checks.check_bool("rmsprop", "centered", centered)
    return optax.chain(
        scale_by_rmsprop(decay, eps, centered), scale_by_learning_rate(learning_rate)
    )


def adam(
    *, learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformationExtraArgs:
    """Adam with bias correction (Kingma & Ba 2015, Algorithm 1).

    Update: ``m_t = b1 m_{t-1} + (1 - b1) g_t``, ``v_t = b2 v_{t-1} + (1 - b2) g_t**2``
    (``m_0 = v_0 = 0``), ``m_hat = m_t / (1 - b1**t)``, ``v_hat = v_t / (1 - b2**t)``,
    ``x_{t+1} = x_t - lr * m_hat / (sqrt(v_hat) + eps)``.
    Defaults: ``b1=0.9, b2=0.999, eps=1e-8`` (paper and ``optax.adam``); ``learning_rate``
    required as in Optax. Reference: D. P. Kingma, J. Ba, "Adam: A method for stochastic
    optimization", ICLR 2015.
    """
    _checks.check_positive("adam", "learning_rate", learning_rate)
    _checks.check_interval("adam", "b1", b1, 0.0, 1.0)
    _checks.check_interval("adam", "b2", b2, 0.0, 1.0)
    _checks.check_positive("adam", "eps", eps, allow_zero=True)
    return optax.chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(
    *,
    learning_rate: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformationExtraArgs:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 2).

    Update: Adam's ``m_hat, v_hat`` as in ``adam``, then
    ``x_{t+1} = x_t - lr_t * (m_hat / (sqrt(v_hat) + eps) + weight_decay * x_t)``,
    with ``lr_t`` the learning rate (times the schedule, if any), exactly as ``optax.adamw``.
    The decay is decoupled from the moments, but ``weight_decay`` is MULTIPLIED BY THE
    LEARNING RATE: each step shrinks ``x`` by ``lr_t * weight_decay * x_t``. The paper's
    Algorithm 2 writes ``x_t = x_{t-1} - eta_t (alpha m_hat / (sqrt(v_hat) + eps)
    + lambda x_{t-1})``: its decay is scaled by the schedule multiplier ``eta_t`` only, not by
    the base rate ``alpha``. With ``lr_t = eta_t alpha`` the two agree when
    ``lambda_paper = alpha * weight_decay``, i.e. ``weight_decay = lambda_paper / alpha``
    (Optax's docstring of ``weight_decay`` says the same; PyTorch's ``AdamW`` does as Optax).
    Defaults are those of ``optax.adamw`` (``weight_decay=1e-4``: with ``lr=1e-3`` that is
    the paper's ``lambda = alpha * weight_decay = 1e-7``). Reference: I. Loshchilov,
    F. Hutter, "Decoupled weight decay regularization", ICLR 2019, Algorithm 2.
    """
    _checks.check_positive("adamw", "learning_rate", learning_rate)
    _checks.check_interval("adamw", "b1", b1, 0.0, 1.0)
    _checks.check_interval("adamw", "b2", b2, 0.0, 1.0)
    _checks.check_positive("adamw", "eps", eps, allow_zero=True)
    _checks.check_positive("adamw", "weight_decay", weight_decay, allow_zero=True)
    return optax.chain(
        scale_by_adam(b1, b2, eps),
        add_weight_decay(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
