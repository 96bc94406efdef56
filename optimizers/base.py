"""The Optimizer registry entry: a factory of Optax transformations plus declared capabilities.

Every optimizer, hand-written or Optax's, is an ``optax.GradientTransformationExtraArgs``.
The runner calls every one of them the same way::

    updates, state = tx.update(grad, state, x, value=f, grad=g, value_fn=f_of_batch)
    x = optax.apply_updates(x, updates)

so first-order methods, line searches, Newton and L-BFGS share one code path. A method that
needs more than the gradient (a line search, a Hessian) gets it from ``value_fn``.
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
        update that produced ``new_state``: function/gradient evaluations beyond the runner's
        one ``value_and_grad`` per step (every line-search trial counts), and dense Hessian
        evaluations. Both int32 scalars.
      description: one line for `python -m bench list` and the report.
    """

    name: str
    factory: Callable[..., optax.GradientTransformationExtraArgs]
    sweepable: frozenset[str] = frozenset({"learning_rate"})
    needs_hessian: bool = False
    deterministic_only: bool = False
    line_search_argument: str | None = None
    dense_state: bool = False
    count_evals: Callable[[Any], tuple[jax.Array, jax.Array]] = _no_extra_evals
    description: str = ""

    def __post_init__(self) -> None:
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
      extra: function / gradient evaluations beyond the runner's one ``value_and_grad``:
        each line-search trial, each Hessian-vector product (int32).
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
