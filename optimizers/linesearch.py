"""Line searches shared by the second-order and quasi-Newton methods.

All three search along ``x + a * d`` for a function ``fn`` of ONE flat vector, run as a
``lax.while_loop`` with an iteration cap (they run under ``vmap``, where a loop lasts as long
as its slowest lane), and report how many evaluations they made: each trial is one call of
``fn`` (Armijo; ``jax.value_and_grad(fn)`` when given ``grad``), of ``jax.value_and_grad(fn)``
(Wolfe), or of ``value_and_grad`` with its Hessian-vector product in one forward-over-reverse
pass (exact), and each counts as ONE evaluation. The caller passes ``value`` and
``slope = grad . d`` at ``a = 0``, which it already has: Armijo and strong Wolfe never
evaluate ``a = 0`` again. The exact search does make its first probe at ``a = 0``, for the
curvature ``phi''(0)`` (one forward-over-reverse pass, counted like any trial).

Each search returns the ``point`` it accepted, the very array it evaluated (``x + a d``
formed once, in the trial; ``x`` itself when it does not move), with the value and gradient
there: a caller that moves to ``point`` gets them exactly, without evaluating again (see
``optimizers.base.AcceptedPoint``). Recomputing ``x + step * d`` elsewhere need not round the
same way (XLA may fuse the multiply-add in one place and not in the other).

Non-finite trial values are treated as "too far" (a NaN fails every comparison), so a
search backs off from an overflow instead of accepting it. A search that finds nothing
acceptable returns step 0 (no move) with ``failed=True``, or, for strong Wolfe, the best
point found that satisfies sufficient decrease.

At a converged point the slope is tiny but still negative, so every trial would fail by
rounding and a search would spend its whole budget (and the runner's ``evals`` and wall time)
to return step 0. Each search therefore first asks whether the largest decrease it could
certify, ``|slope| * a_0`` with ``a_0`` the first trial (for the exact search: the Newton
step ``-slope / phi''(0)``), rises above the rounding of ``f`` (``stall_threshold``:
``4 eps |f| + tiny``); if not, it stops at once with step 0, ``stalled=True``, counting only
the evaluations it made (none; one for the exact search). The same test ends a search
midway once every trial left has steps too short to matter (Armijo's shrinking step, the
right end of Wolfe's zoom bracket). The threshold knows only ``|f|``: where ``f`` is a sum of
large terms that cancel, its rounding is larger, and a search may still make a few trials
before its steps shrink below the threshold.

* ``backtracking_armijo``: Nocedal & Wright, Numerical Optimization (2nd ed., 2006),
  Algorithm 3.1.
* ``strong_wolfe``: Nocedal & Wright, Algorithms 3.5 (bracketing) and 3.6 (zoom), with the
  cubic interpolation of eq. (3.59), safeguarded by bisection.
* ``exact_linesearch``: Newton's method on ``phi'(a) = 0``; exact in one step on a quadratic.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class LineSearchResult(NamedTuple):
    """Outcome of a line search along ``x + step * d``.

    Attributes:
      step: accepted step length (0 when nothing acceptable was found).
      point: the point ``x + step * d`` as the search formed and evaluated it (``x`` itself
        when ``step`` is 0): ``value`` and ``grad`` are ``fn``'s at exactly this array.
      value: ``fn(point)``.
      grad: gradient of ``fn`` there (``None`` for the Armijo search without ``grad``, which
        evaluates values only).
      num_evals: trial evaluations made (int32), each one call of ``fn`` / ``value_and_grad``.
      failed: True when no step meeting the conditions was returned (cap reached, not a
        descent direction, or stalled).
      stalled: True when the search stopped before trying because no decrease above the
        rounding of ``f`` could be certified (a converged point); then ``step`` is 0.
    """

    step: Array
    point: Array
    value: Array
    grad: Array | None
    num_evals: Array
    failed: Array
    stalled: Array


def _safe_initial_step(init_step: Any, dtype: Any) -> Array:
    init = jnp.asarray(init_step, dtype)
    return jnp.where(jnp.isfinite(init) & (init > 0), init, jnp.ones((), dtype))


def stall_threshold(value: Array) -> Array:
    """Decreases of ``f`` at or below this are rounding: ``4 eps |f| + tiny``.

    ``4 eps |f|`` covers the rounding of a value and of the comparison with it; ``tiny`` (the
    smallest normal number) is the floor below which values lose relative precision (an
    objective with ``f* = 0`` underflows there), and keeps the threshold positive at ``f = 0``.
    """
    info = jnp.finfo(value.dtype)
    return 4.0 * info.eps * jnp.abs(value) + info.tiny


def _certifiable(value: Array, slope: Array) -> Callable[[Array], Array]:
    """``step -> bool``: can a trial at ``step`` predict a decrease above rounding of ``f``?

    The predicted decrease is the linear model's ``|slope| * step``. A non-finite ``value``
    never stalls a search (the comparisons with it decide).
    """
    threshold = jnp.where(jnp.isfinite(value), stall_threshold(value), 0.0)
    return lambda step: jnp.abs(slope) * step > threshold


def backtracking_armijo(
    fn: Callable[[Array], Array],
    x: Array,
    direction: Array,
    value: Array,
    slope: Array,
    init_step: Any = 1.0,
    *,
    grad: Array | None = None,
    c1: Any = 1e-4,
    shrink: Any = 0.5,
    max_steps: int = 30,
) -> LineSearchResult:
    """Backtracking until sufficient decrease (Nocedal & Wright, Algorithm 3.1).

    Tries ``a = init_step, shrink * a, ...`` and accepts the first ``a`` with
    ``fn(x + a d) <= value + c1 * a * slope``. At most ``max_steps`` evaluations of ``fn``;
    none when ``slope >= 0`` (not a descent direction), which returns step 0, failed. It stops
    (``stalled``, step 0) before any trial whose predicted decrease ``|slope| * a`` is below
    the rounding of ``value``: none at all when that holds for ``init_step``.

    With ``grad`` (the gradient at ``x``), every trial is one ``jax.value_and_grad(fn)`` call
    instead of ``fn``, and the result carries the gradient at the returned point (``grad``
    itself at step 0): the caller then has the value and gradient of its next iterate from
    the search, the trial that was accepted, and evaluates nothing twice.
    """
    dtype = x.dtype
    value = jnp.asarray(value, dtype)
    slope = jnp.asarray(slope, dtype)
    descent = jnp.isfinite(slope) & (slope < 0)
    certifiable = _certifiable(value, slope)
    with_grad = grad is not None
    grad0 = jnp.asarray(grad, dtype) if with_grad else jnp.zeros((0,), dtype)

    def cond(carry):
        i, step, _, _, _, accepted = carry
        # Steps only shrink: once one is below rounding, so are all the next ones.
        return descent & ~accepted & (i < max_steps) & certifiable(step)

    def body(carry):
        i, step, _, _, _, _ = carry
        trial_point = x + step * direction
        if with_grad:
            trial_value, trial_grad = jax.value_and_grad(fn)(trial_point)
        else:
            trial_value, trial_grad = fn(trial_point), grad0
        accepted = trial_value <= value + c1 * step * slope
        next_step = jnp.where(accepted, step, shrink * step)
        return i + 1, next_step, trial_point, trial_value, trial_grad, accepted

    init = (
        jnp.zeros((), jnp.int32),
        _safe_initial_step(init_step, dtype),
        x,
        value,
        grad0,
        jnp.zeros((), bool),
    )
    num_evals, step, trial_point, trial_value, trial_grad, accepted = jax.lax.while_loop(
        cond, body, init
    )
    return LineSearchResult(
        step=jnp.where(accepted, step, 0.0).astype(dtype),
        point=jnp.where(accepted, trial_point, x),
        value=jnp.where(accepted, trial_value, value).astype(dtype),
        grad=jnp.where(accepted, trial_grad, grad0) if with_grad else None,
        num_evals=num_evals,
        failed=~accepted,
        stalled=descent & ~accepted & ~certifiable(step),
    )


class _WolfeCarry(NamedTuple):
    """Loop state of ``strong_wolfe``."""

    num_evals: Array
    zooming: Array  # False while bracketing (Alg. 3.5), True once zooming (Alg. 3.6)
    done: Array
    stalled: Array  # stopped: no trial left could predict a decrease above rounding of f
    trial: Array  # the step to evaluate next
    prev: Array  # previous bracketing trial (a_{i-1}), its value and slope
    value_prev: Array
    slope_prev: Array
    low: Array  # zoom interval: low satisfies sufficient decrease with the lowest value
    value_low: Array
    slope_low: Array
    high: Array
    value_high: Array
    slope_high: Array
    best: Array  # accepted step, or else the lowest-valued sufficient-decrease step
    point_best: Array  # x + best * d, the array evaluated there
    value_best: Array
    grad_best: Array


def _cubic_minimizer(a, fa, da, b, fb, db):
    """Minimizer of the cubic matching values and slopes at a and b (N&W eq. 3.59)."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    d2 = jnp.sign(b - a) * jnp.sqrt(d1 * d1 - da * db)
    return b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2)


def strong_wolfe(
    fn: Callable[[Array], Array],
    x: Array,
    direction: Array,
    value: Array,
    grad: Array,
    init_step: Any = 1.0,
    *,
    c1: Any = 1e-4,
    c2: Any = 0.9,
    max_steps: int = 30,
    increase_factor: float = 2.0,
    interval_rtol: float = 1e-12,
) -> LineSearchResult:
    """Line search for the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5 and 3.6).

    Finds ``a`` with ``fn(x + a d) <= value + c1 a slope`` (sufficient decrease) and
    ``|grad fn(x + a d) . d| <= c2 |slope|`` (strong curvature), ``slope = grad . d``.
    Bracketing starts at ``init_step`` and multiplies by ``increase_factor`` until a bracket
    is found; zoom interpolates a cubic in the bracket, falling back to bisection when the
    cubic's minimizer is not finite or lies within 10% of an end. Each trial is one
    ``jax.value_and_grad(fn)`` call; at most ``max_steps``. The search also stops when the
    bracket shrinks below ``interval_rtol`` relative to its position; then, or at the cap,
    it returns the lowest-valued trial that satisfied sufficient decrease (step 0 if none),
    with ``failed=True``. No trial at all when ``slope >= 0``. ``stalled`` (and
    ``failed=True``): no trial at all when the predicted decrease ``|slope| * init_step`` is
    below the rounding of ``value`` (step 0), and the zoom stops, keeping its best point,
    once that holds for the bracket's right end (every later trial lies inside it).
    """
    dtype = x.dtype
    value = jnp.asarray(value, dtype)
    slope0 = jnp.vdot(grad, direction)
    first_step = _safe_initial_step(init_step, dtype)
    descent = jnp.isfinite(slope0) & (slope0 < 0)
    certifiable = _certifiable(value, slope0)
    stalled_at_start = descent & ~certifiable(first_step)
    value_and_grad = jax.value_and_grad(fn)
    zero = jnp.zeros((), dtype)

    def cond(c: _WolfeCarry):
        return descent & ~c.done & (c.num_evals < max_steps)

    def body(c: _WolfeCarry):
        a = c.trial
        point = x + a * direction  # formed once: the point evaluated is the point returned
        fa, ga = value_and_grad(point)
        da = jnp.vdot(ga, direction)
        finite = jnp.isfinite(fa) & jnp.isfinite(da)
        decrease = finite & (fa <= value + c1 * a * slope0)
        curvature = finite & (jnp.abs(da) <= -c2 * slope0)

        # Bracketing (Alg. 3.5): is [prev, a] or [a, prev] a bracket, or is a acceptable?
        overshoot = ~decrease | ((c.num_evals > 0) & (fa >= c.value_prev))
        b_accept = ~overshoot & curvature
        b_uphill = ~overshoot & ~curvature & (da >= 0)
        # Zoom (Alg. 3.6) on [low, high].
        z_to_high = ~decrease | (fa >= c.value_low)
        z_accept = ~z_to_high & curvature
        z_flip = ~z_to_high & ~z_accept & (da * (c.high - c.low) >= 0)

        accept = jnp.where(c.zooming, z_accept, b_accept)
        zooming = c.zooming | overshoot | b_uphill

        def pick(zoom_new, bracket_new):
            return jnp.where(c.zooming, zoom_new, bracket_new)

        # New low end: the trial, when it is a sufficient-decrease point below the old low.
        z_low_is_a = ~z_to_high & ~z_accept
        low = pick(jnp.where(z_low_is_a, a, c.low), jnp.where(overshoot, c.prev, a))
        value_low = pick(
            jnp.where(z_low_is_a, fa, c.value_low), jnp.where(overshoot, c.value_prev, fa)
        )
        slope_low = pick(
            jnp.where(z_low_is_a, da, c.slope_low), jnp.where(overshoot, c.slope_prev, da)
        )
        z_high = jnp.where(z_to_high, a, jnp.where(z_flip, c.low, c.high))
        z_value_high = jnp.where(z_to_high, fa, jnp.where(z_flip, c.value_low, c.value_high))
        z_slope_high = jnp.where(z_to_high, da, jnp.where(z_flip, c.slope_low, c.slope_high))
        high = pick(z_high, jnp.where(overshoot, a, c.prev))
        value_high = pick(z_value_high, jnp.where(overshoot, fa, c.value_prev))
        slope_high = pick(z_slope_high, jnp.where(overshoot, da, c.slope_prev))

        improved = decrease & (fa < c.value_best)
        keep = accept | improved
        best = jnp.where(keep, a, c.best)
        point_best = jnp.where(keep, point, c.point_best)
        value_best = jnp.where(keep, fa, c.value_best)
        grad_best = jnp.where(keep, ga, c.grad_best)

        # Next trial: interpolate in the bracket, or extrapolate while still bracketing.
        cubic = _cubic_minimizer(low, value_low, slope_low, high, value_high, slope_high)
        left, right = jnp.minimum(low, high), jnp.maximum(low, high)
        margin = 0.1 * (right - left)
        cubic_ok = jnp.isfinite(cubic) & (cubic > left + margin) & (cubic < right - margin)
        interpolated = jnp.where(cubic_ok, cubic, 0.5 * (low + high))
        trial = jnp.where(zooming, interpolated, increase_factor * a)
        collapsed = zooming & (right - left <= interval_rtol * jnp.maximum(right, 1e-30))
        stalled = zooming & ~accept & ~certifiable(right)

        return _WolfeCarry(
            num_evals=c.num_evals + 1,
            zooming=zooming,
            done=accept | collapsed | stalled,
            stalled=stalled,
            trial=trial.astype(dtype),
            prev=jnp.where(c.zooming, c.prev, a),
            value_prev=jnp.where(c.zooming, c.value_prev, fa),
            slope_prev=jnp.where(c.zooming, c.slope_prev, da),
            low=low,
            value_low=value_low,
            slope_low=slope_low,
            high=high,
            value_high=value_high,
            slope_high=slope_high,
            best=best,
            point_best=point_best,
            value_best=value_best,
            grad_best=grad_best,
        )

    init = _WolfeCarry(
        num_evals=jnp.zeros((), jnp.int32),
        zooming=jnp.zeros((), bool),
        done=stalled_at_start,
        stalled=stalled_at_start,
        trial=first_step,
        prev=zero,
        value_prev=value,
        slope_prev=slope0,
        low=zero,
        value_low=value,
        slope_low=slope0,
        high=zero,
        value_high=value,
        slope_high=slope0,
        best=zero,
        point_best=x,
        value_best=value,
        grad_best=jnp.asarray(grad, dtype),
    )
    # Accepted means both conditions held at the returned step, not just "the loop stopped".
    out = jax.lax.while_loop(cond, body, init)
    accepted = out.done & (out.best > 0)
    finite = jnp.isfinite(out.value_best)
    slope_best = jnp.vdot(out.grad_best, direction)
    wolfe = (
        finite
        & (out.value_best <= value + c1 * out.best * slope0)
        & (jnp.abs(slope_best) <= -c2 * slope0)
    )
    return LineSearchResult(
        step=out.best,
        point=out.point_best,
        value=out.value_best,
        grad=out.grad_best,
        num_evals=out.num_evals,
        failed=~(accepted & wolfe),
        stalled=out.stalled,
    )


def exact_linesearch(
    fn: Callable[[Array], Array],
    x: Array,
    direction: Array,
    value: Array,
    grad: Array,
    *,
    max_steps: int = 10,
    rtol: float = 1e-10,
) -> LineSearchResult:
    """Exact line search ``argmin_a fn(x + a d)`` by Newton's method on ``phi'(a) = 0``.

    ``a_{k+1} = a_k - phi'(a_k) / phi''(a_k)`` from ``a_0 = 0``, with
    ``phi'(a) = grad fn(x + a d) . d`` and ``phi''(a) = d . H(x + a d) d`` from ONE
    forward-over-reverse call (``jax.jvp`` of ``value_and_grad``), counted as one evaluation.
    Stops when ``|phi'(a)| <= rtol |phi'(0)|``. On a quadratic the first Newton step is the
    exact minimizer, so it costs 2 evaluations (curvature at 0, check at the minimizer).
    Meant for quadratic and convex problems: it stops, ``failed=True``, at the last
    evaluated point when the curvature along ``d`` is not positive, and after ``max_steps``.
    It also stops after the first probe, step 0, ``stalled=True``, when the first Newton
    step's predicted decrease ``|phi'(0)| * a_1`` is below the rounding of ``value``, and
    accepts ``a_k`` (converged) once a Newton correction ``delta`` can change ``f`` by no
    more than rounding (``|phi'(a_k) * delta|``): iterating further only chases noise.
    """
    dtype = x.dtype
    value = jnp.asarray(value, dtype)
    slope0 = jnp.vdot(grad, direction)
    value_and_grad = jax.value_and_grad(fn)
    zero = jnp.zeros((), dtype)

    def probe(a):
        point = x + a * direction  # formed once: the point evaluated is the point returned
        (fa, ga), (_, hd) = jax.jvp(value_and_grad, (point,), (direction,))
        return point, fa, ga, jnp.vdot(ga, direction), jnp.vdot(direction, hd)

    def cond(c):
        num_evals, _, _, _, _, _, stop, _, _ = c
        return ~stop & (num_evals < max_steps)

    def body(c):
        num_evals, a, _, _, _, _, _, _, _ = c
        point, fa, ga, da, curvature = probe(a)
        newton = a - da / curvature
        usable = (curvature > 0) & jnp.isfinite(newton)
        # |phi'(a) delta| bounds the change a Newton correction delta can make (from a = 0
        # it is |slope0| a_1); at or below rounding of f there is nothing left to find.
        negligible = usable & ~_certifiable(value, da)(jnp.abs(newton - a))
        converged = (jnp.abs(da) <= rtol * jnp.abs(slope0)) | ((num_evals > 0) & negligible)
        stalled = (num_evals == 0) & ~converged & negligible
        stop = converged | ~usable | stalled
        next_a = jnp.where(stop, a, newton)
        return num_evals + 1, next_a, a, point, fa, ga, stop, converged, stalled

    init = (jnp.zeros((), jnp.int32), zero, zero, x, value, jnp.asarray(grad, dtype))
    init = (*init, jnp.zeros((), bool), jnp.zeros((), bool), jnp.zeros((), bool))
    out = jax.lax.while_loop(cond, body, init)
    num_evals, _, evaluated, point, fa, ga, _, converged, stalled = out
    return LineSearchResult(
        step=evaluated,
        point=point,
        value=fa,
        grad=ga,
        num_evals=num_evals,
        failed=~converged,
        stalled=stalled,
    )
