"""BFGS (dense inverse-Hessian update) and L-BFGS (two-loop recursion), with strong Wolfe.

Both keep the previous iterate and gradient in their state and form the curvature pair
``s = x_t - x_{t-1}``, ``y = g_t - g_{t-1}`` at the START of the next update, from the
gradient it is given there. The strong Wolfe search has already evaluated the value and
gradient at the step it accepts, so the state reports that point (``AcceptedPoint``) and the
runner moves to it and passes those back as the next ``value=`` / ``grad=``, instead of
evaluating ``x_{t+1}`` again: every ``value_and_grad`` is a line-search trial (counted in
``extra_evals``), each point is evaluated once, as SciPy counts ``nfev``. This is also why both
are ``deterministic_only``: a pair is meaningful only if ``g_t`` and ``g_{t-1}`` are gradients
of the same function.

The first step (and the step after a reset) is ``-g`` with initial trial step
``min(1, 1/|g|)`` (as L-BFGS-B); later steps try ``a = 1`` first. A pair with
``s.y <= eps |s||y|`` is skipped (the Wolfe conditions make ``s.y > 0`` in exact arithmetic).
If the line search cannot move (step 0), the memory is reset to the identity.
The incoming ``updates`` are the gradient the method works with (as in ``optax.lbfgs``); the
line search uses ``value_fn`` and the true gradient ``grad=``.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from optimizers import _checks
from optimizers._flat import flat_problem
from optimizers.base import (
    AcceptedPoint,
    EvalCounts,
    accepted_point,
    empty_accepted_point,
    eval_counts,
)
from optimizers.linesearch import strong_wolfe


class BfgsState(NamedTuple):
    """State of ``scale_by_bfgs``.

    Attributes:
      count: updates made so far.
      inv_hessian: current inverse-Hessian approximation ``H`` (n x n).
      num_pairs: curvature pairs absorbed since the last reset (0: ``H`` is the identity).
      prev_params, prev_grad: ``x`` and ``g`` of the previous update (zeros before the first).
      evals: evaluations spent by the last update.
      accepted: the point the last update moved to, with the search's value and gradient.
    """

    count: jax.Array
    inv_hessian: jax.Array
    num_pairs: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    evals: EvalCounts
    accepted: AcceptedPoint


class LbfgsState(NamedTuple):
    """State of ``scale_by_lbfgs``: the last ``memory_size`` pairs in a ring buffer.

    Attributes:
      count: updates made so far.
      s_history, y_history: ``(memory_size, n)`` rings of ``s`` and ``y``.
      rho_history: ``1 / (s . y)`` for each slot (0 for an empty slot).
      newest: ring index of the newest pair.
      num_pairs: number of valid pairs (at most ``memory_size``; 0 after a reset).
      prev_params, prev_grad: ``x`` and ``g`` of the previous update.
      evals: evaluations spent by the last update.
      accepted: the point the last update moved to, with the search's value and gradient.
    """

    count: jax.Array
    s_history: jax.Array
    y_history: jax.Array
    rho_history: jax.Array
    newest: jax.Array
    num_pairs: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    evals: EvalCounts
    accepted: AcceptedPoint


def _curvature_pair(x, g, state):
    """``(s, y, s.y, usable)`` for the pair ending at the current iterate."""
    s = x - state.prev_params
    y = g - state.prev_grad
    sy = jnp.vdot(s, y)
    eps = jnp.finfo(x.dtype).eps
    usable = (
        (state.count > 0) & jnp.isfinite(sy) & (sy > eps * jnp.linalg.norm(s) * jnp.linalg.norm(y))
    )
    return s, y, sy, usable


def _wolfe_step(fn, x, g, direction, fresh, value, grad, c1, c2, max_steps, unravel):
    """Strong Wolfe search along ``direction`` (``-g`` if it is not a descent direction).

    Returns ``(step, alpha, evals, uphill, accepted)``: the update ``alpha * d``, its length,
    the evaluations made, whether ``d`` was replaced by ``-g``, and the ``AcceptedPoint``.
    """
    true_grad = g if grad is None else ravel_pytree(grad)[0].astype(x.dtype)
    uphill = ~(jnp.vdot(true_grad, direction) < 0)
    direction = jnp.where(uphill, -g, direction)
    fresh = fresh | uphill
    extra = jnp.zeros((), jnp.int32)
    if value is None:
        value = fn(x)
        extra = extra + 1
    first_trial = jnp.where(fresh, jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g)), 1.0)
    result = strong_wolfe(
        fn, x, direction, value, true_grad, first_trial, c1=c1, c2=c2, max_steps=max_steps
    )
    accepted = accepted_point(unravel(result.point), result.value, unravel(result.grad))
    return result.step * direction, result.step, extra + result.num_evals, uphill, accepted


def scale_by_bfgs(
    c1: Any = 1e-4, c2: Any = 0.9, max_linesearch_steps: int = 30
) -> optax.GradientTransformationExtraArgs:
    """BFGS with the inverse-Hessian update (N&W eq. 6.17) and a strong Wolfe search."""

    def init_fn(params):
        x, _ = ravel_pytree(params)
        n = x.size
        return BfgsState(
            count=jnp.zeros((), jnp.int32),
            inv_hessian=jnp.eye(n, dtype=x.dtype),
            num_pairs=jnp.zeros((), jnp.int32),
            prev_params=jnp.zeros_like(x),
            prev_grad=jnp.zeros_like(x),
            evals=eval_counts(),
            accepted=empty_accepted_point(params),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        x, g, fn, unravel = flat_problem(params, updates, value_fn, "bfgs")
        eye = jnp.eye(x.size, dtype=x.dtype)
        s, y, sy, usable = _curvature_pair(x, g, state)
        # Before the first update, scale H_0 = (s.y / y.y) I (N&W eq. 6.20).
        h = jnp.where(
            usable & (state.num_pairs == 0), (sy / jnp.vdot(y, y)) * eye, state.inv_hessian
        )
        rho = 1.0 / sy
        hy = h @ y
        # rho * (1 + rho y.Hy), not rho^2 y.Hy + rho: near a minimum s.y ~ 1e-158 and
        # rho^2 would overflow to inf (then inf - inf = NaN) though the product is ~1.
        updated = (
            h
            - rho * (jnp.outer(s, hy) + jnp.outer(hy, s))
            + rho * (1.0 + rho * jnp.vdot(y, hy)) * jnp.outer(s, s)
        )
        # A pair whose update is not finite is skipped, like one failing the curvature test.
        usable = usable & jnp.all(jnp.isfinite(updated))
        h = jnp.where(usable, updated, h)
        num_pairs = state.num_pairs + usable.astype(jnp.int32)
        step, alpha, evals, uphill, accepted = _wolfe_step(
            fn,
            x,
            g,
            -(h @ g),
            num_pairs == 0,
            value,
            grad,
            c1,
            c2,
            max_linesearch_steps,
            unravel,
        )
        reset = uphill | ~(alpha > 0)
        new_state = BfgsState(
            count=state.count + 1,
            inv_hessian=jnp.where(reset, eye, h),
            num_pairs=jnp.where(reset, 0, num_pairs),
            prev_params=x,
            prev_grad=g,
            evals=eval_counts(evals, 0),
            accepted=accepted,
        )
        return unravel(step), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _two_loop(g, s_hist, y_hist, rho_hist, newest, num_pairs):
    """``H_t g`` by the two-loop recursion (N&W Alg. 7.4), newest pair first."""
    memory = s_hist.shape[0]
    order = (newest - jnp.arange(memory)) % memory
    active = jnp.arange(memory) < num_pairs
    s_ord, y_ord = s_hist[order], y_hist[order]
    rho_ord = jnp.where(active, rho_hist[order], 0.0)

    def backward(q, item):
        s, y, rho = item
        alpha = rho * jnp.vdot(s, q)
        return q - alpha * y, alpha

    q, alphas = jax.lax.scan(backward, g, (s_ord, y_ord, rho_ord))
    s_new, y_new = s_hist[newest], y_hist[newest]
    gamma = jnp.where(num_pairs > 0, jnp.vdot(s_new, y_new) / jnp.vdot(y_new, y_new), 1.0)

    def forward(r, item):
        s, y, rho, alpha = item
        beta = rho * jnp.vdot(y, r)
        return r + (alpha - beta) * s, None

    r, _ = jax.lax.scan(forward, gamma * q, (s_ord, y_ord, rho_ord, alphas), reverse=True)
    return r


def scale_by_lbfgs(
    memory_size: int = 10, c1: Any = 1e-4, c2: Any = 0.9, max_linesearch_steps: int = 30
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS: two-loop recursion with ``H_0 = (s.y / y.y) I`` (N&W eq. 7.20), strong Wolfe."""

    def init_fn(params):
        x, _ = ravel_pytree(params)
        ring = jnp.zeros((memory_size, x.size), x.dtype)
        return LbfgsState(
            count=jnp.zeros((), jnp.int32),
            s_history=ring,
            y_history=ring,
            rho_history=jnp.zeros((memory_size,), x.dtype),
            newest=jnp.asarray(memory_size - 1, jnp.int32),
            num_pairs=jnp.zeros((), jnp.int32),
            prev_params=jnp.zeros_like(x),
            prev_grad=jnp.zeros_like(x),
            evals=eval_counts(),
            accepted=empty_accepted_point(params),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        x, g, fn, unravel = flat_problem(params, updates, value_fn, "lbfgs")
        s, y, sy, usable = _curvature_pair(x, g, state)
        slot = (state.newest + 1) % memory_size
        newest = jnp.where(usable, slot, state.newest)
        s_hist = jnp.where(usable, state.s_history.at[slot].set(s), state.s_history)
        y_hist = jnp.where(usable, state.y_history.at[slot].set(y), state.y_history)
        rho_hist = jnp.where(usable, state.rho_history.at[slot].set(1.0 / sy), state.rho_history)
        num_pairs = jnp.minimum(state.num_pairs + usable.astype(jnp.int32), memory_size)
        direction = -_two_loop(g, s_hist, y_hist, rho_hist, newest, num_pairs)
        step, alpha, evals, uphill, accepted = _wolfe_step(
            fn, x, g, direction, num_pairs == 0, value, grad, c1, c2, max_linesearch_steps, unravel
        )
        reset = uphill | ~(alpha > 0)
        new_state = LbfgsState(
            count=state.count + 1,
            s_history=s_hist,
            y_history=y_hist,
            rho_history=rho_hist,
            newest=newest,
            num_pairs=jnp.where(reset, 0, num_pairs),
            prev_params=x,
            prev_grad=g,
            evals=eval_counts(evals, 0),
            accepted=accepted,
        )
        return unravel(step), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def bfgs(
    *, c1: float = 1e-4, c2: float = 0.9, max_linesearch_steps: int = 30
) -> optax.GradientTransformationExtraArgs:
    """BFGS quasi-Newton method with a strong Wolfe line search.

    Update: ``d_t = -H_t g_t``, ``x_{t+1} = x_t + a_t d_t`` with ``a_t`` satisfying the strong
    Wolfe conditions (``c1``, ``c2``; trial ``a = 1`` first), then with
    ``s = x_{t+1} - x_t``, ``y = g_{t+1} - g_t``, ``rho = 1 / (y . s)``:
    ``H_{t+1} = (I - rho s y^T) H_t (I - rho y s^T) + rho s s^T``; ``H_0 = I``, rescaled to
    ``(y.s / y.y) I`` before the first update (N&W eq. 6.20).
    Defaults: ``c1=1e-4, c2=0.9`` (N&W's values for quasi-Newton), at most 30 trials.
    Evaluation count: every line-search trial is one ``value_and_grad`` (``extra_evals``); the
    accepted trial is the next iterate's evaluation (reported as ``AcceptedPoint``, so the
    runner does not evaluate it again), as SciPy's ``nfev``.
    Reference: Nocedal & Wright, Numerical Optimization (2nd ed., 2006), Algorithm 6.1.
    """
    _checks.check_wolfe_constants("bfgs", c1, c2)
    _checks.check_int("bfgs", "max_linesearch_steps", max_linesearch_steps, minimum=1)
    return scale_by_bfgs(c1, c2, max_linesearch_steps)


def lbfgs(
    *,
    memory_size: int = 10,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Limited-memory BFGS with a strong Wolfe line search.

    Update: ``d_t = -H_t g_t`` computed by the two-loop recursion over the last
    ``memory_size`` pairs ``(s_i, y_i)`` with ``H_t^0 = (s.y / y.y) I`` from the newest pair
    (N&W eq. 7.20), then ``x_{t+1} = x_t + a_t d_t`` with ``a_t`` satisfying the strong Wolfe
    conditions (trial ``a = 1`` first).
    Defaults: ``memory_size=10`` (as ``optax.lbfgs`` and SciPy's L-BFGS-B ``maxcor``),
    ``c1=1e-4, c2=0.9``, at most 30 trials per search.
    Evaluation count: every line-search trial is one ``value_and_grad`` (``extra_evals``); the
    accepted trial is the next iterate's evaluation (reported as ``AcceptedPoint``), as
    L-BFGS-B's ``nfev``.
    Reference: Nocedal & Wright, Numerical Optimization (2nd ed., 2006), Algorithms 7.4-7.5;
    D. C. Liu, J. Nocedal, Math. Programming 45, 1989.
    """
    _checks.check_int("lbfgs", "memory_size", memory_size, minimum=1)
    _checks.check_wolfe_constants("lbfgs", c1, c2)
    _checks.check_int("lbfgs", "max_linesearch_steps", max_linesearch_steps, minimum=1)
    return scale_by_lbfgs(memory_size, c1, c2, max_linesearch_steps)
