"""Building an entry's transformation with a learning-rate schedule and gradient clipping.

``build_transform`` is what the runner calls (inside the vmapped function, so swept
hyperparameters may be traced). Composition never hides the evaluation counters: clipping is
prepended with ``optax.chain``, which keeps the entry's own state intact as the last element
of the chain state, and every ``count_evals`` in this package finds its counters BY TYPE
anywhere in the state pytree (``EvalCounts`` for hand-written methods,
``optax.ScaleByZoomLinesearchState`` for ``optax.lbfgs``). So
``entry.count_evals(state)`` reads the same numbers on the composed state as on the bare one.
The runner finds a line search's ``AcceptedPoint`` (``optimizers.base``) the same way; it is
valid because nothing is chained AFTER the entry: clipping changes the gradient going in,
not the step coming out, and a schedule is handed to the factory (for an entry that
searches, it sets the first trial, it does not rescale the accepted step).
"""

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import jax
import optax

from optimizers import _checks
from optimizers.base import Optimizer


def _admits_callable(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Callable or annotation is Callable:
        return True
    return any(_admits_callable(arg) for arg in typing.get_args(annotation))


def accepts_schedule(entry: Optimizer) -> bool:
    """Whether the entry's ``learning_rate`` may be a schedule ``count -> lr``.

    Read from the factory's declared signature: Optax annotates schedule-capable rates with a
    type that admits a ``Callable`` (``optax.ScalarOrSchedule``); ``optax.rprop``, ``sm3`` and
    ``optimistic_adam`` take a number only. Hand-written factories annotate ``float`` (the
    YAML type) and all accept a schedule (the first-order ones pass it to
    ``optimizers.step_size.scale_by_learning_rate``, Newton's methods evaluate it at their own
    step count).
    """
    param = inspect.signature(entry.factory).parameters.get("learning_rate")
    if param is None:
        return False
    return param.annotation is float or _admits_callable(param.annotation)


def build_transform(
    entry: Optimizer,
    hyperparams: Mapping[str, Any],
    *,
    schedule: Callable[[jax.Array], jax.Array] | None = None,
    clip_norm: float | jax.Array | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``entry.factory(**hyperparams)``, with an optional schedule and global-norm clipping.

    Args:
      entry: the registry entry.
      hyperparams: keyword arguments of the factory (numbers may be traced JAX scalars).
      schedule: a MULTIPLIER ``m(count)`` (see ``optimizers.schedules``): the factory gets
        ``learning_rate=lambda count: lr * m(count)`` with ``lr`` the given (or default)
        learning rate. ValueError when the entry has no ``learning_rate`` parameter, when it
        is None / not given, or when it takes a number only (``accepts_schedule``).
      clip_norm: when given, ``optax.clip_by_global_norm(clip_norm)`` is chained in front:
        the entry sees the clipped gradient as its ``updates`` (extra arguments such as
        ``grad=`` and ``value_fn=`` reach it unchanged).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state still works with
      ``entry.count_evals``.
    """
    kwargs = dict(hyperparams)
    if schedule is not None:
        params = inspect.signature(entry.factory).parameters
        if "learning_rate" not in params:
            raise ValueError(
                f"{entry.name}: a schedule needs a learning_rate parameter, and it has none."
            )
        base = kwargs.get("learning_rate", params["learning_rate"].default)
        if base is None or base is inspect.Parameter.empty:
            raise ValueError(
                f"{entry.name}: a schedule multiplies learning_rate, which is not set (got "
                f"{base if base is None else 'nothing'})."
            )
        if not accepts_schedule(entry):
            raise ValueError(
                f"{entry.name}: learning_rate must be a number for this optimizer, so it "
                "cannot take a schedule."
            )
        if callable(base):
            raise ValueError(
                f"{entry.name}: learning_rate is already a schedule, so it cannot take another."
            )
        kwargs["learning_rate"] = lambda count: base * schedule(count)
    if clip_norm is not None:
        _checks.check_positive(entry.name, "clip_norm", clip_norm)
    tx = entry.factory(**kwargs)
    if clip_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
    return tx
