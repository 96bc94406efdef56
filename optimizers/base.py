"""The Optimizer registry entry: a factory of Optax transformations plus declared capabilities.

Every optimizer, hand-written or Optax's, is an ``optax.GradientTransformationExtraArgs``.
The runner calls every one of them the same way::

    updates, state = tx.update(grad, state, x, value=f, grad=g, value_fn=f_of_batch)
    x = optax.apply_updates(x, updates)

so first-order methods, line searches, Newton and L-BFGS share one code path. A method that
needs more than the gradient (a line search, a Hessian) gets it from ``value_fn``.

Counting evaluations (the runner's ``evals``): ONE evaluation is one ``value_and_grad`` of the
objective at a distinct point, the convention of SciPy's ``nfev``/``njev`` and of the data
profiles of Moré & Wild (SIAM J. Optim. 20(1), 2009), where a derivative-based solver's
evaluation returns the value and the gradient together. So every point is counted once:

* the runner evaluates ``x_{t+1}`` (one evaluation per step, the value and gradient the next
  update gets), unless the update has already evaluated it: a line search ends with the
  value and gradient at the step it accepts, and an update whose state carries them as an
  ``AcceptedPoint`` (declared by the entry's ``reports_accepted_point``) hands them to the
  runner, which moves to exactly that point and does not evaluate it again;
* everything else an update evaluates is in its ``EvalCounts.extra``: each line-search trial
  (a value-only Armijo trial counts as one too), each Hessian-vector product (one
  forward-over-reverse pass, the cost of a gradient, as SciPy's ``nhev`` counts them);
* dense Hessians are counted apart, in ``EvalCounts.hessian``.

The start ``x_0`` is evaluated once before the first step and not counted (``evals`` is 0
at step 0); SciPy's ``nfev`` counts it, so ``nfev`` compares with ``evals + 1``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def _no_extra_evals(state: Any) -> tuple[jax.Array, jax.Array]:
    del state  # a method without a line search spends only the runner's value_and_grad
    return jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32)


# The families the report groups entries by ("the best first-order method", "the best
# without a Hessian"; one colour family each in the figures), declared per entry.
FIRST_ORDER = "first-order"  # a step along the (momentum-averaged) gradient
ADAPTIVE = "adaptive"  # per-coordinate or per-layer step sizes from gradient statistics
QUASI_NEWTON = "quasi-Newton and CG"  # curvature from gradient differences, a line search
NEWTON = "Newton"  # second derivatives: dense Hessians or Hessian-vector products
FAMILIES = (FIRST_ORDER, ADAPTIVE, QUASI_NEWTON, NEWTON)
# The families that never evaluate second derivatives.
WITHOUT_HESSIAN = (FIRST_ORDER, ADAPTIVE, QUASI_NEWTON)


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """A registry entry around a factory returning an Optax transformation.

    Attributes:
      name: registry key (``adam``, ``optax.adam``, ...).
      factory: keyword arguments -> ``optax.GradientTransformationExtraArgs``. Its signature
        is the YAML schema for this entry.
      sweepable: the numeric hyperparameters that may be passed as traced JAX scalars, so a
        grid of their values runs inside ONE compile (a vmapped batch axis). Anything else is
        static: a different value is a different cell.
      needs_hessian: builds dense ``dim x dim`` Hessians; the runner skips it above
        ``max_hessian_dim`` and says so in the run table.
      deterministic_only: always runs a line search (or carries curvature across steps), so
        the runner skips it on stochastic problems unless the entry sets
        ``allow_stochastic: true``. For an entry whose line search is a switch, leave this
        False and name the switch in ``line_search_argument``; ask ``deterministic_only_for``.
      line_search_argument: the name of the factory's static boolean argument that turns a
        line search on (``newton``'s and ``newton_cg``'s ``linesearch``), or None. It must be
        a parameter of the factory and never ``sweepable``: capability is decided per cell,
        before anything is traced.
      dense_state: keeps a dense ``dim x dim`` matrix in its state (BFGS's inverse-Hessian
        approximation), so a lane's memory grows as ``dim**2`` even without Hessians.
      count_evals: ``count_evals(new_state) -> (extra_evals, hessian_evals)`` spent by the
        update that produced ``new_state``: the function/gradient evaluations the update made
        itself (every line-search trial, every Hessian-vector product; see the module
        docstring for the convention), and dense Hessian evaluations. Both int32 scalars. The
        runner adds its own evaluation of ``x_{t+1}`` unless the state reports it
        (``reports_accepted_point``).
      reports_accepted_point: whenever the update runs a line search (``deterministic_only``,
        or its ``line_search_argument`` on), its state carries an ``AcceptedPoint``: the point
        it moves to, with the value and gradient its search computed there. The runner finds
        it by type (as it finds ``EvalCounts``) and, on a deterministic problem, moves to that
        point and reuses them instead of evaluating ``x_{t+1}`` a second time. A test checks
        the declaration against the states the entry builds, bare and composed.
      description: one line for `python -m bench list` and the report.
      family: one of `FAMILIES`, what the report groups the entry under.
    """

    name: str
    factory: Callable[..., optax.GradientTransformationExtraArgs]
    sweepable: frozenset[str] = frozenset({"learning_rate"})
    needs_hessian: bool = False
    deterministic_only: bool = False
    line_search_argument: str | None = None
    dense_state: bool = False
    count_evals: Callable[[Any], tuple[jax.Array, jax.Array]] = _no_extra_evals
    reports_accepted_point: bool = False
    description: str = ""
    family: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(
                f"{self.name}: family {self.family!r} is not one of {', '.join(FAMILIES)}."
            )
        flag = self.line_search_argument
        if flag is None:
            return
        param = inspect.signature(self.factory).parameters.get(flag)
        if param is None or param.default is inspect.Parameter.empty:
            raise ValueError(
                f"{self.name}: line_search_argument {flag!r} is not a factory parameter with "
                "a default."
            )
        if flag in self.sweepable:
            raise ValueError(
                f"{self.name}: line_search_argument {flag!r} must be static, not sweepable."
            )

    def deterministic_only_for(self, static: Mapping[str, Any]) -> bool:
        """Whether a cell with these static arguments runs a line search (skip if stochastic).

        True when the entry is ``deterministic_only``, or when its ``line_search_argument``
        is on: the value in ``static`` (the YAML entry's fixed arguments), else the factory's
        default for it.
        """
        if self.deterministic_only:
            return True
        flag = self.line_search_argument
        if flag is None:
            return False
        if flag in static:
            return bool(static[flag])
        return bool(inspect.signature(self.factory).parameters[flag].default)


class EvalCounts(NamedTuple):
    """Evaluations spent by ONE update, stored inside a transform's state.

    Every hand-written transform that evaluates ``value_fn`` (line searches, Hessians,
    Hessian-vector products) keeps one of these in its state NamedTuple, overwritten at each
    update. ``count_evals`` finds it by type anywhere in the state pytree, so it still reads
    the right numbers when the transform sits inside ``optax.chain`` (gradient clipping,
    schedules: see ``optimizers.compose.build_transform``).

    Attributes:
      extra: function / gradient evaluations the update made itself: each line-search trial,
        each Hessian-vector product (int32). The runner's evaluation of ``x_{t+1}`` is not in
        here: it adds one, unless the update reports that point (``AcceptedPoint``), whose
        evaluation is then the accepted trial's, already counted here.
      hessian: dense Hessian evaluations (int32).
    """

    extra: jax.Array
    hessian: jax.Array


def eval_counts(extra: Any = 0, hessian: Any = 0) -> EvalCounts:
    """Builds an ``EvalCounts`` with int32 scalars."""
    return EvalCounts(jnp.asarray(extra, jnp.int32), jnp.asarray(hessian, jnp.int32))


def count_evals_in_state(state: Any) -> tuple[jax.Array, jax.Array]:
    """``count_evals`` of every hand-written method: sums the ``EvalCounts`` in a state.

    The search is by type over the whole pytree, so nesting by ``optax.chain`` (or any other
    wrapper that keeps the inner state) does not hide the counters.
    """
    records = [
        node
        for node in jax.tree_util.tree_leaves(state, is_leaf=lambda n: isinstance(n, EvalCounts))
        if isinstance(node, EvalCounts)
    ]
    extra = jnp.zeros((), jnp.int32)
    hessian = jnp.zeros((), jnp.int32)
    for record in records:
        extra = extra + jnp.asarray(record.extra, jnp.int32)
        hessian = hessian + jnp.asarray(record.hessian, jnp.int32)
    return extra, hessian


class AcceptedPoint(NamedTuple):
    """The point an update moves to, with the value and gradient its line search computed there.

    A line search ends having evaluated ``value_and_grad`` at the step it accepts (or, when it
    cannot move, it returns the start, whose value and gradient the update was given). A
    transform that keeps this record in its state NamedTuple (overwritten at each update)
    lets the runner skip evaluating ``x_{t+1}`` again: ``accepted_point_in_state`` finds it by
    type, like ``EvalCounts``, also inside ``optax.chain``.

    Exact by construction: ``params`` is the very array the search evaluated (the trial point
    ``x + a d`` formed once inside the search), and the runner adopts it as ``x_{t+1}`` rather
    than recomputing ``x + updates``, which XLA may round differently (a fused multiply-add in
    one place and not the other). So ``value`` and ``grad`` are always the objective's at the
    runner's point. The returned ``updates`` still equal ``params - x`` up to that rounding,
    for callers that apply them. Valid only when the transform that writes it is the last one
    to change the updates (``build_transform`` only prepends clipping, which changes the
    gradient going in, not the step coming out) and when ``value=`` and ``grad=`` given to the
    update are the objective's at ``params`` (the runner's deterministic case: on a stochastic
    problem the next step's values belong to another batch, so the runner ignores it).

    Attributes:
      params: the new parameters (the structure of the update's ``params``).
      value: the objective there.
      grad: its gradient there (the structure of ``params``).
    """

    params: Any
    value: jax.Array
    grad: Any


def accepted_point(params: Any, value: Any, grad: Any) -> AcceptedPoint:
    """Builds an ``AcceptedPoint`` (``value`` as a scalar of the parameters' dtype)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    return AcceptedPoint(params, jnp.asarray(value, dtype), grad)


def empty_accepted_point(params: Any) -> AcceptedPoint:
    """The record in a transform's initial state: same structure, no point yet (zeros)."""
    zeros = jax.tree.map(jnp.zeros_like, params)
    return accepted_point(zeros, 0.0, zeros)


def accepted_point_in_state(state: Any) -> AcceptedPoint | None:
    """The ``AcceptedPoint`` in a transform's state, found by type; None when there is none.

    Decided by the state's structure alone (static under ``jit``), so the runner's choice to
    reuse it costs nothing at run time. Two records would leave the point ambiguous (two
    searches in one chain): a ValueError.
    """
    records = [
        node
        for node in jax.tree_util.tree_leaves(state, is_leaf=lambda n: isinstance(n, AcceptedPoint))
        if isinstance(node, AcceptedPoint)
    ]
    if len(records) > 1:
        raise ValueError(
            f"the state holds {len(records)} AcceptedPoint records; the point an update "
            "moves to must be reported by one transform only."
        )
    return records[0] if records else None
