"""Nonlinear conjugate gradient: Fletcher-Reeves and Polak-Ribiere+, with restarts.

Either line search ends with the value and gradient at the step it returns; the state
reports that point (``AcceptedPoint``), so the runner moves to it and reuses them as the next
update's ``value=`` / ``grad=`` instead of evaluating ``x_{t+1}`` again (one evaluation per
point, as SciPy's ``nfev``).
"""

from typing import Any, Literal, NamedTuple

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
from optimizers.linesearch import exact_linesearch, strong_wolfe

VARIANTS = ("polak_ribiere", "fletcher_reeves")
LINESEARCHES = ("strong_wolfe", "exact")
# Powell's restart test (N&W eq. 5.52): successive gradients far from orthogonal.
_ORTHOGONALITY_RESTART = 0.1


class CgState(NamedTuple):
    """State of ``scale_by_cg``.

    Attributes:
      count: updates made so far.
      since_restart: updates since the last steepest-descent direction.
      prev_grad, prev_direction: ``g`` and ``d`` of the previous update.
      prev_step, prev_slope: accepted step length and ``g . d`` of the previous update, for
        the initial trial step ``a_{t-1} (g_{t-1} . d_{t-1}) / (g_t . d_t)`` (N&W eq. 3.60).
      evals: evaluations spent by the last update.
      accepted: the point the last update moved to, with the search's value and gradient.
    """

    count: jax.Array
    since_restart: jax.Array
    prev_grad: jax.Array
    prev_direction: jax.Array
    prev_step: jax.Array
    prev_slope: jax.Array
    evals: EvalCounts
    accepted: AcceptedPoint


def scale_by_cg(
    variant: str = "polak_ribiere",
    linesearch: str = "strong_wolfe",
    restart_every: int | None = None,
    c1: Any = 1e-4,
    c2: Any = 0.1,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear CG direction ``d_t = -g_t + beta_t d_{t-1}`` with a line search along it."""

    def init_fn(params):
        x, _ = ravel_pytree(params)
        return CgState(
            count=jnp.zeros((), jnp.int32),
            since_restart=jnp.zeros((), jnp.int32),
            prev_grad=jnp.zeros_like(x),
            prev_direction=jnp.zeros_like(x),
            prev_step=jnp.zeros((), x.dtype),
            prev_slope=jnp.zeros((), x.dtype),
            evals=eval_counts(),
            accepted=empty_accepted_point(params),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        x, g, fn, unravel = flat_problem(params, updates, value_fn, "cg")
        true_grad = g if grad is None else ravel_pytree(grad)[0].astype(x.dtype)
        every = x.size if restart_every is None else restart_every
        gg = jnp.vdot(g, g)
        prev_gg = jnp.vdot(state.prev_grad, state.prev_grad)
        if variant == "fletcher_reeves":
            beta = gg / prev_gg
        else:
            beta = jnp.maximum(0.0, jnp.vdot(g, g - state.prev_grad) / prev_gg)
        restart = (
            (state.count == 0)
            | (state.since_restart >= every)
            | (jnp.abs(jnp.vdot(g, state.prev_grad)) >= _ORTHOGONALITY_RESTART * gg)
            | ~jnp.isfinite(beta)
        )
        direction = -g + jnp.where(restart, 0.0, beta) * state.prev_direction
        uphill = ~(jnp.vdot(true_grad, direction) < 0)
        restart = restart | uphill
        direction = jnp.where(uphill, -g, direction)
        slope = jnp.vdot(true_grad, direction)

        extra_evals = jnp.zeros((), jnp.int32)
        if value is None:
            value = fn(x)
            extra_evals = extra_evals + 1
        if linesearch == "exact":
            result = exact_linesearch(
                fn, x, direction, value, true_grad, max_steps=max_linesearch_steps
            )
        else:
            scaled = state.prev_step * state.prev_slope / slope
            usable = (state.count > 0) & jnp.isfinite(scaled) & (scaled > 0)
            first_trial = jnp.where(usable, scaled, jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g)))
            result = strong_wolfe(
                fn,
                x,
                direction,
                value,
                true_grad,
                first_trial,
                c1=c1,
                c2=c2,
                max_steps=max_linesearch_steps,
            )
        new_state = CgState(
            count=state.count + 1,
            since_restart=jnp.where(restart, 1, state.since_restart + 1),
            prev_grad=g,
            prev_direction=direction,
            prev_step=result.step,
            prev_slope=slope,
            evals=eval_counts(extra_evals + result.num_evals, 0),
            accepted=accepted_point(unravel(result.point), result.value, unravel(result.grad)),
        )
        return unravel(result.step * direction), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def cg(
    *,
    variant: Literal["polak_ribiere", "fletcher_reeves"] = "polak_ribiere",
    linesearch: Literal["strong_wolfe", "exact"] = "strong_wolfe",
    restart_every: int | None = None,
    c1: float = 1e-4,
    c2: float = 0.1,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear conjugate gradient (Fletcher-Reeves, or Polak-Ribiere+) with restarts.

    Update: ``d_t = -g_t + beta_t d_{t-1}`` with
    ``beta_FR = |g_t|^2 / |g_{t-1}|^2`` or ``beta_PR+ = max(0, g_t.(g_t - g_{t-1}) / |g_{t-1}|^2)``,
    then ``x_{t+1} = x_t + a_t d_t``. Restarts (``beta = 0``) at the first step, every
    ``restart_every`` steps (default: the dimension n), when successive gradients are far
    from orthogonal (``|g_t.g_{t-1}| >= 0.1 |g_t|^2``, Powell), and whenever ``d_t`` is not a
    descent direction. ``linesearch="strong_wolfe"`` (default; ``c1=1e-4``, ``c2=0.1`` as N&W
    recommend for CG, which keeps FR directions descent; first trial from N&W eq. 3.60) or
    ``"exact"`` (Newton on ``phi'``, exact on quadratics: there CG is the linear CG method
    and terminates in at most as many steps as the Hessian has distinct eigenvalues).
    Defaults: Polak-Ribiere+, strong Wolfe with ``c1=1e-4, c2=0.1``, restart every n steps,
    at most 30 trials per search.
    Evaluation count: every line-search trial is one ``value_and_grad`` (exact: one
    ``value_and_grad`` with a Hessian-vector product), in ``extra_evals``; the returned trial
    is the next iterate's evaluation (``AcceptedPoint``), not made again by the runner. The
    exact search's first probe is at ``a = 0`` (for ``phi''(0)``) and counts as a trial.
    Reference: Nocedal & Wright, Numerical Optimization (2nd ed., 2006), Sec. 5.2
    (Algorithm 5.4, eqs. 5.41, 5.44-5.45, 5.52).
    """
    _checks.check_choice("cg", "variant", variant, VARIANTS)
    _checks.check_choice("cg", "linesearch", linesearch, LINESEARCHES)
    _checks.check_optional_int("cg", "restart_every", restart_every, minimum=1)
    _checks.check_wolfe_constants("cg", c1, c2)
    _checks.check_int("cg", "max_linesearch_steps", max_linesearch_steps, minimum=1)
    return scale_by_cg(variant, linesearch, restart_every, c1, c2, max_linesearch_steps)
