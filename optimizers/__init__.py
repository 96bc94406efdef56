"""The registry of optimizers: name -> Optimizer entry (factory + declared capabilities).

Explicit on purpose: no decorators, no discovery. A factory's signature is its YAML schema.

Hand-written entries (``optimizers/<family>.py``) are written from their update rules;
``optax.<alias>`` entries (``optimizers/optax_aliases.py``) are Optax's own, for comparison.
``count_evals`` of every entry works on the state of the bare transformation and on the state
built by ``optimizers.compose.build_transform`` (schedule, clipping).

Capability notes:
* ``newton`` declares ``needs_hessian`` (dense ``n x n``). It is NOT ``deterministic_only``,
  whatever its static ``linesearch`` flag: one Newton step uses only the current batch (its
  gradient, its Hessian and, with ``linesearch=True``, Armijo trials of the same batch loss
  ``value_fn``), so it is well defined on a stochastic problem (subsampled Newton; a
  batch-wise Armijo search as in Vaswani et al., NeurIPS 2019). The same holds for
  ``newton_cg``. What ``deterministic_only`` excludes is a method that carries curvature or
  search information ACROSS steps, which mixes batches: ``bfgs``, ``lbfgs``, ``cg``,
  ``optax.lbfgs``.
"""

from optimizers import adaptive, conjugate_gradient, first_order, newton, quasi_newton
from optimizers.base import Optimizer, count_evals_in_state
from optimizers.optax_aliases import OPTAX_ALIAS_NAMES, OPTAX_OPTIMIZERS

_LINE_SEARCH_SWEEPABLE = frozenset({"c1", "c2"})

HAND_WRITTEN: dict[str, Optimizer] = {
    "gd": Optimizer(
        name="gd",
        factory=first_order.gd,
        sweepable=frozenset({"learning_rate"}),
        description="Gradient descent x - lr g (twin: optax.sgd).",
    ),
    "momentum": Optimizer(
        name="momentum",
        factory=first_order.momentum,
        sweepable=frozenset({"learning_rate", "momentum"}),
        description="Heavy-ball momentum, Polyak 1964 (twin: optax.sgd with momentum).",
    ),
    "nesterov": Optimizer(
        name="nesterov",
        factory=first_order.nesterov,
        sweepable=frozenset({"learning_rate", "momentum"}),
        description="Nesterov momentum, Sutskever et al. 2013 form (twin: optax.sgd nesterov).",
    ),
    "adagrad": Optimizer(
        name="adagrad",
        factory=adaptive.adagrad,
        sweepable=frozenset({"learning_rate", "initial_accumulator_value", "eps"}),
        description="AdaGrad, Duchi et al. 2011 (twin: optax.adagrad).",
    ),
    "rmsprop": Optimizer(
        name="rmsprop",
        factory=adaptive.rmsprop,
        sweepable=frozenset({"learning_rate", "decay", "eps"}),
        description="RMSProp, Tieleman & Hinton 2012 (twin: optax.rmsprop).",
    ),
    "adam": Optimizer(
        name="adam",
        factory=adaptive.adam,
        sweepable=frozenset({"learning_rate", "b1", "b2", "eps"}),
        description="Adam with bias correction, Kingma & Ba 2015 (twin: optax.adam).",
    ),
    "adamw": Optimizer(
        name="adamw",
        factory=adaptive.adamw,
        sweepable=frozenset({"learning_rate", "b1", "b2", "eps", "weight_decay"}),
        description="AdamW, Loshchilov & Hutter 2019 (twin: optax.adamw).",
    ),
    "newton": Optimizer(
        name="newton",
        factory=newton.newton,
        sweepable=frozenset({"learning_rate", "damping", "c1", "shrink"}),
        needs_hessian=True,
        count_evals=count_evals_in_state,
        description="Newton's method, exact Hessian; unit step, opt-in damping and Armijo.",
    ),
    "newton_cg": Optimizer(
        name="newton_cg",
        factory=newton.newton_cg,
        sweepable=frozenset({"learning_rate", "c1", "shrink"}),
        count_evals=count_evals_in_state,
        description="Line-search Newton-CG with Hessian-vector products, N&W Alg. 7.1.",
    ),
    "bfgs": Optimizer(
        name="bfgs",
        factory=quasi_newton.bfgs,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        count_evals=count_evals_in_state,
        description="BFGS, dense inverse-Hessian update, strong Wolfe search (N&W Alg. 6.1).",
    ),
    "lbfgs": Optimizer(
        name="lbfgs",
        factory=quasi_newton.lbfgs,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        count_evals=count_evals_in_state,
        description="L-BFGS, two-loop recursion, strong Wolfe search (N&W Alg. 7.5).",
    ),
    "cg": Optimizer(
        name="cg",
        factory=conjugate_gradient.cg,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        count_evals=count_evals_in_state,
        description="Nonlinear CG, Polak-Ribiere+ or Fletcher-Reeves, with restarts.",
    ),
}

OPTIMIZERS: dict[str, Optimizer] = {**HAND_WRITTEN, **OPTAX_OPTIMIZERS}

__all__ = ["HAND_WRITTEN", "OPTAX_ALIAS_NAMES", "OPTIMIZERS", "Optimizer"]
