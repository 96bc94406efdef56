"""Registry entries ``optax.<alias>`` for every optimizer alias Optax exports.

The factory of each entry IS the Optax alias, so its signature is the YAML schema and Optax
validates its arguments. The names are listed explicitly (a test checks the tuple against the
aliases optax 0.2.8 exports: the callables of ``optax`` defined in ``optax._src.alias``), and
so is each alias's ``sweepable`` set: the numeric hyperparameters that work as traced JAX
scalars (checked by a test that sweeps them under ``jit(vmap)``). Left static on purpose:
integers that size things (``memory_size``, ``min_dim_size_to_factor``), booleans, dtypes,
masks, ``noisy_sgd``'s ``key``/``seed``, ``polyak_sgd``'s ``variant``.

Capabilities: ``optax.lbfgs`` runs a zoom (strong Wolfe) line search, so it is
``deterministic_only`` and counts its trials; ``optax.polyak_sgd`` uses only ``value=`` of
the step's batch, no extra evaluation.

Known limitation, ``optax.lbfgs`` evaluates each accepted point twice (and both count): its
``ScaleByZoomLinesearchState`` keeps the value and gradient at the step it accepts (what
``optax.value_and_grad_from_state`` reuses), but not the point it evaluated them at, which
it forms inside its loop as ``params + stepsize * direction``. The runner's ``x_{t+1}`` is
``params + updates`` with ``updates = stepsize * direction``, computed elsewhere in the
compiled program, and XLA may round the two differently (a fused multiply-add in one fusion
and not in the other). On XLA:CPU optax's stored value equalled a fresh evaluation at
``x + updates`` bitwise at every step checked (2-, 10-, 100-d Rosenbrock, 300 steps), which
suggests the points agree there, but is evidence, not a guarantee; so reusing optax's value
and gradient is not known to be exact, the entry does not declare ``reports_accepted_point``
and the runner evaluates ``x_{t+1}`` again. Measured on Rosenbrock (float64, CPU), counting
the start as SciPy's ``nfev`` does: 81 evaluations to |g| <= 1e-5 in 2-d (SciPy's L-BFGS-B:
45, the hand-written ``lbfgs``: 45), 179 in 10-d (L-BFGS-B: 92, ``lbfgs``: 89); and 2010
over 1000 steps in 2-d, 2 per step after convergence (its search makes one trial, then the
look-ahead). So ``optax.lbfgs``'s curves against evaluations are about 2x to the right of
``lbfgs``'s; against steps and wall time they are not affected.
"""

from typing import Any

import jax
import jax.numpy as jnp
import optax

from optimizers.base import ADAPTIVE, FIRST_ORDER, QUASI_NEWTON, Optimizer

OPTAX_ALIAS_NAMES: tuple[str, ...] = (
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "noisy_sgd",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_sgd",
    "signum",
    "sm3",
    "yogi",
)

_ADAM_LIKE = ("learning_rate", "b1", "b2", "eps", "eps_root")

SWEEPABLE: dict[str, tuple[str, ...]] = {
    "adabelief": _ADAM_LIKE,
    "adadelta": ("learning_rate", "rho", "eps", "weight_decay"),
    "adafactor": (
        "learning_rate",
        "decay_rate",
        "decay_offset",
        "clipping_threshold",
        "momentum",
        "weight_decay_rate",
        "eps",
    ),
    "adagrad": ("learning_rate", "initial_accumulator_value", "eps"),
    "adam": _ADAM_LIKE,
    "adamax": ("learning_rate", "b1", "b2", "eps"),
    "adamaxw": ("learning_rate", "b1", "b2", "eps", "weight_decay"),
    "adamw": (*_ADAM_LIKE, "weight_decay"),
    "adan": ("learning_rate", "b1", "b2", "b3", "eps", "eps_root", "weight_decay"),
    "amsgrad": _ADAM_LIKE,
    "fromage": ("learning_rate", "min_norm"),
    "lamb": (*_ADAM_LIKE, "weight_decay"),
    "lars": ("learning_rate", "weight_decay", "trust_coefficient", "eps", "momentum"),
    "lbfgs": ("learning_rate",),
    "lion": ("learning_rate", "b1", "b2", "weight_decay"),
    "noisy_sgd": ("learning_rate", "eta", "gamma"),
    "novograd": (*_ADAM_LIKE, "weight_decay"),
    "optimistic_adam": ("learning_rate", "optimism", "b1", "b2", "eps", "eps_root"),
    "optimistic_adam_v2": ("learning_rate", "alpha", "beta", "b1", "b2", "eps", "eps_root"),
    "optimistic_gradient_descent": ("learning_rate", "alpha", "beta"),
    "polyak_sgd": ("max_learning_rate", "scaling", "f_min", "eps"),
    "radam": (*_ADAM_LIKE, "threshold"),
    "rmsprop": ("learning_rate", "decay", "eps", "initial_scale", "momentum"),
    "rprop": ("learning_rate", "eta_minus", "eta_plus", "min_step_size", "max_step_size"),
    "sgd": ("learning_rate", "momentum"),
    "sign_sgd": ("learning_rate",),
    "signum": ("learning_rate", "beta"),
    "sm3": ("learning_rate", "momentum"),
    "yogi": ("learning_rate", "b1", "b2", "eps"),
}

DETERMINISTIC_ONLY: frozenset[str] = frozenset({"lbfgs"})

# The family of each alias (`optimizers.base.FAMILIES`): plain, averaged, sign or
# extrapolated gradient steps are first-order; steps scaled per coordinate or per layer by
# gradient statistics are adaptive; lbfgs is quasi-Newton. No Optax alias uses a Hessian.
_FIRST_ORDER_ALIASES = frozenset(
    {"noisy_sgd", "optimistic_gradient_descent", "polyak_sgd", "sgd", "sign_sgd", "signum"}
)
FAMILY: dict[str, str] = {
    alias: QUASI_NEWTON
    if alias == "lbfgs"
    else FIRST_ORDER
    if alias in _FIRST_ORDER_ALIASES
    else ADAPTIVE
    for alias in OPTAX_ALIAS_NAMES
}


def zoom_linesearch_evals(state: Any) -> tuple[jax.Array, jax.Array]:
    """``count_evals`` of ``optax.lbfgs``: trials of its zoom line search in the last update.

    ``optax.scale_by_zoom_linesearch`` runs one ``value_and_grad(value_fn)`` per line-search
    iteration (``_search_interval`` and ``_zoom_into_interval`` each make exactly one call; the
    safe-step fallback makes none) and reports their number as
    ``info.num_linesearch_steps``; the value and gradient at ``a = 0`` come from ``value=`` /
    ``grad=``. A test counts the calls independently. Found by type anywhere in the state.
    The runner adds its own evaluation of ``x_{t+1}``: the accepted trial's value and
    gradient are in the state, but not the exact point (see the module docstring).
    """
    records = [
        node
        for node in jax.tree_util.tree_leaves(
            state, is_leaf=lambda n: isinstance(n, optax.ScaleByZoomLinesearchState)
        )
        if isinstance(node, optax.ScaleByZoomLinesearchState)
    ]
    extra = jnp.zeros((), jnp.int32)
    for record in records:
        extra = extra + jnp.asarray(record.info.num_linesearch_steps, jnp.int32)
    return extra, jnp.zeros((), jnp.int32)


def _entry(alias: str) -> Optimizer:
    factory = getattr(optax, alias)
    summary = (factory.__doc__ or alias).strip().splitlines()[0]
    extra: dict[str, Any] = {}
    if alias == "lbfgs":
        extra["count_evals"] = zoom_linesearch_evals
    return Optimizer(
        name=f"optax.{alias}",
        factory=factory,
        sweepable=frozenset(SWEEPABLE[alias]),
        deterministic_only=alias in DETERMINISTIC_ONLY,
        description=f"Optax's optax.{alias}: {summary}",
        family=FAMILY[alias],
        **extra,
    )


OPTAX_OPTIMIZERS: dict[str, Optimizer] = {
    f"optax.{alias}": _entry(alias) for alias in OPTAX_ALIAS_NAMES
}
