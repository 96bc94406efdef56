"""Newton's method with the exact Hessian, and line-search Newton-CG (Hessian-free).

Both work on the flat parameter vector and get second-order information from ``value_fn``
inside ``update``: ``jax.hessian(value_fn)(x)`` for ``newton`` (one dense Hessian per step),
Hessian-vector products ``jax.jvp(jax.grad(value_fn), (x,), (v,))`` for ``newton_cg``.

The incoming ``updates`` are the gradient the method steps with (so a clip chained in front
by ``build_transform`` applies, as in ``optax.lbfgs``); a line search measures the slope with
the true gradient ``grad=`` and evaluates ``value_fn`` itself.

``learning_rate`` is the step length taken along the Newton direction (1: the unit step), or
the first trial of the line search; a float or an Optax schedule ``count -> lr``.

With the line search on, each Armijo trial is one ``value_and_grad`` (the gradient is needed
only at the accepted trial, but which trial that is is known only afterwards; a trial counts
as one evaluation either way), and the state reports the accepted point (``AcceptedPoint``):
the runner moves to it and reuses its value and gradient instead of evaluating ``x_{t+1}``
again. The learning rate, scheduled or not, only sets the first trial, so the point the
search accepts is the point the update moves to. Without the line search nothing is
evaluated at ``x_{t+1}`` and the runner evaluates it (state without the record).
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
from optimizers.linesearch import backtracking_armijo


class NewtonState(NamedTuple):
    """State of ``scale_by_newton`` / ``scale_by_newton_cg``.

    Attributes:
      count: updates made so far.
      evals: evaluations spent by the last update.
      accepted: with the line search, the point the last update moved to and the value and
        gradient its accepted trial computed; None without it (a static choice, so the state's
        structure says whether the runner may reuse it).
    """

    count: jax.Array
    evals: EvalCounts
    accepted: AcceptedPoint | None


def _learning_rate_at(learning_rate: Any, count: jax.Array) -> Any:
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _init_state(params, linesearch):
    accepted = empty_accepted_point(params) if linesearch else None
    return NewtonState(count=jnp.zeros((), jnp.int32), evals=eval_counts(), accepted=accepted)


def _descent_step(
    fn, x, g, direction, state, learning_rate, value, grad, linesearch, c1, shrink, steps, unravel
):
    """Unit (or lr) step along ``direction``, or a backtracking search from it.

    Returns ``(step, extra_evals, accepted)``; ``accepted`` is the ``AcceptedPoint`` of the
    search, None without one.
    """
    lr = _learning_rate_at(learning_rate, state.count)
    if not linesearch:
        return lr * direction, jnp.zeros((), jnp.int32), None
    true_grad = g if grad is None else ravel_pytree(grad)[0].astype(x.dtype)
    # An indefinite model can point uphill; the safeguarded method then takes steepest descent.
    uphill = ~(jnp.vdot(true_grad, direction) < 0)
    direction = jnp.where(uphill, -g, direction)
    extra = jnp.zeros((), jnp.int32)
    if value is None:
        value = fn(x)
        extra = extra + 1
    result = backtracking_armijo(
        fn,
        x,
        direction,
        value,
        jnp.vdot(true_grad, direction),
        lr,
        grad=true_grad,
        c1=c1,
        shrink=shrink,
        max_steps=steps,
    )
    accepted = accepted_point(unravel(result.point), result.value, unravel(result.grad))
    return result.step * direction, extra + result.num_evals, accepted


def scale_by_newton(
    learning_rate: Any = 1.0,
    damping: Any = 0.0,
    linesearch: bool = False,
    c1: Any = 1e-4,
    shrink: Any = 0.5,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Newton step ``-lr (H + damping I)^{-1} g`` with ``H = jax.hessian(value_fn)(x)``."""

    def init_fn(params):
        return _init_state(params, linesearch)

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        x, g, fn, unravel = flat_problem(params, updates, value_fn, "newton")
        hessian = jax.hessian(fn)(x)
        hessian = hessian + damping * jnp.eye(x.size, dtype=x.dtype)
        direction = -jnp.linalg.solve(hessian, g)
        step, extra_evals, accepted = _descent_step(
            fn,
            x,
            g,
            direction,
            state,
            learning_rate,
            value,
            grad,
            linesearch,
            c1,
            shrink,
            max_linesearch_steps,
            unravel,
        )
        new_state = NewtonState(
            count=state.count + 1, evals=eval_counts(extra_evals, 1), accepted=accepted
        )
        return unravel(step), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _truncated_cg(hvp, g, max_steps):
    """Inner CG of Nocedal & Wright Alg. 7.1 on ``H d = -g``; returns (d, number of HVPs)."""
    g_norm = jnp.linalg.norm(g)
    tolerance = jnp.minimum(0.5, jnp.sqrt(g_norm)) * g_norm

    def cond(c):
        j, _, _, _, _, done = c
        return ~done & (j < max_steps)

    def body(c):
        j, z, r, p, _, _ = c
        hp = hvp(p)
        curvature = jnp.vdot(p, hp)
        negative = ~(curvature > 0)
        # Negative curvature: stop with the last iterate (or -g if none was made yet).
        on_negative = jnp.where(j == 0, -g, z)
        alpha = jnp.vdot(r, r) / curvature
        z_new = z + alpha * p
        r_new = r + alpha * hp
        small = jnp.linalg.norm(r_new) < tolerance
        beta = jnp.vdot(r_new, r_new) / jnp.vdot(r, r)
        p_new = -r_new + beta * p
        d = jnp.where(negative, on_negative, z_new)
        return (
            j + 1,
            jnp.where(negative, z, z_new),
            jnp.where(negative, r, r_new),
            jnp.where(negative, p, p_new),
            d,
            negative | small,
        )

    zeros = jnp.zeros_like(g)
    init = (jnp.zeros((), jnp.int32), zeros, g, -g, -g, jnp.zeros((), bool))
    num_hvps, _, _, _, direction, _ = jax.lax.while_loop(cond, body, init)
    return direction, num_hvps


def scale_by_newton_cg(
    learning_rate: Any = 1.0,
    linesearch: bool = True,
    max_cg_steps: int | None = None,
    c1: Any = 1e-4,
    shrink: Any = 0.5,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Line-search Newton-CG (Nocedal & Wright Alg. 7.1): truncated CG on ``H d = -g``."""

    def init_fn(params):
        return _init_state(params, linesearch)

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        x, g, fn, unravel = flat_problem(params, updates, value_fn, "newton_cg")
        grad_fn = jax.grad(fn)

        def hvp(v):
            return jax.jvp(grad_fn, (x,), (v,))[1]

        cg_steps = x.size if max_cg_steps is None else max_cg_steps
        direction, num_hvps = _truncated_cg(hvp, g, cg_steps)
        step, extra_evals, accepted = _descent_step(
            fn,
            x,
            g,
            direction,
            state,
            learning_rate,
            value,
            grad,
            linesearch,
            c1,
            shrink,
            max_linesearch_steps,
            unravel,
        )
        new_state = NewtonState(
            count=state.count + 1,
            evals=eval_counts(num_hvps + extra_evals, 0),
            accepted=accepted,
        )
        return unravel(step), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _check_linesearch_args(owner, learning_rate, linesearch, c1, shrink, max_linesearch_steps):
    _checks.check_positive(owner, "learning_rate", learning_rate)
    _checks.check_bool(owner, "linesearch", linesearch)
    _checks.check_interval(owner, "c1", c1, 0.0, 1.0, closed_low=False)
    _checks.check_interval(owner, "shrink", shrink, 0.0, 1.0, closed_low=False)
    _checks.check_int(owner, "max_linesearch_steps", max_linesearch_steps, minimum=1)


def newton(
    *,
    learning_rate: float = 1.0,
    damping: float = 0.0,
    linesearch: bool = False,
    c1: float = 1e-4,
    shrink: float = 0.5,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Newton's method with the exact (autodiff) Hessian.

    Update: ``d_t = -(H_t + damping I)^{-1} g_t`` with ``H_t = hessian f(x_t)``, then
    ``x_{t+1} = x_t + lr * d_t``. Defaults give the pure method ``x - H^{-1} g``
    (``learning_rate=1``, ``damping=0``, no line search): one step to the minimizer of a
    strictly convex quadratic, quadratic convergence near a nondegenerate minimizer, no
    globalization. ``damping > 0`` is the Levenberg-style shift; ``linesearch=True``
    backtracks from ``lr`` until the Armijo condition holds (``c1``, ``shrink``), taking
    ``-g`` when the Newton direction is not a descent direction.

    Costs per step: one dense Hessian (``hessian_evals=1``) and, with the line search, one
    ``value_and_grad`` per trial (``extra_evals``), the accepted one being the next iterate's
    evaluation (``AcceptedPoint``: the runner does not evaluate it again).
    Reference: Nocedal & Wright, Numerical Optimization (2nd ed., 2006), Sec. 3.3 and 3.4.
    """
    _check_linesearch_args("newton", learning_rate, linesearch, c1, shrink, max_linesearch_steps)
    _checks.check_positive("newton", "damping", damping, allow_zero=True)
    return scale_by_newton(learning_rate, damping, linesearch, c1, shrink, max_linesearch_steps)


def newton_cg(
    *,
    learning_rate: float = 1.0,
    linesearch: bool = True,
    max_cg_steps: int | None = None,
    c1: float = 1e-4,
    shrink: float = 0.5,
    max_linesearch_steps: int = 30,
) -> optax.GradientTransformationExtraArgs:
    """Line-search Newton-CG (truncated Newton), Hessian-free.

    Update: CG on ``H_t d = -g_t`` with Hessian-vector products, stopped when the residual
    falls below ``min(0.5, sqrt(|g_t|)) |g_t|`` (superlinear forcing sequence), at negative
    curvature (keeping the last iterate, or ``-g_t`` at the first), or after
    ``max_cg_steps`` (default: the dimension); then ``x_{t+1} = x_t + a_t d_t`` with ``a_t``
    from an Armijo backtracking search starting at ``lr`` (``linesearch=False``: ``a_t=lr``).
    Defaults: ``learning_rate=1`` (the unit Newton step tried first), line search on with
    ``c1=1e-4`` and ``shrink=0.5``, as in Algorithm 7.1.

    Evaluation count: each Hessian-vector product counts as one gradient evaluation in
    ``extra_evals`` (it is one forward-over-reverse pass), plus one ``value_and_grad`` per
    line-search trial, the accepted one being the next iterate's evaluation (``AcceptedPoint``);
    no dense Hessian is formed (``hessian_evals=0``).
    Reference: Nocedal & Wright, Numerical Optimization (2nd ed., 2006), Algorithm 7.1.
    """
    _check_linesearch_args("newton_cg", learning_rate, linesearch, c1, shrink, max_linesearch_steps)
    _checks.check_optional_int("newton_cg", "max_cg_steps", max_cg_steps, minimum=1)
    return scale_by_newton_cg(
        learning_rate, linesearch, max_cg_steps, c1, shrink, max_linesearch_steps
    )
