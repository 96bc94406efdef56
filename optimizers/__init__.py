"""The registry of optimizers: name -> Optimizer entry (factory + declared capabilities).

Explicit on purpose: no decorators, no discovery. A factory's signature is its YAML schema.

Hand-written entries (``optimizers/<family>.py``) are written from their update rules;
``optax.<alias>`` entries (``optimizers/optax_aliases.py``) are Optax's own, for comparison.
``count_evals`` of every entry works on the state of the bare transformation and on the state
built by ``optimizers.compose.build_transform`` (schedule, clipping).

Capability notes:
* ``newton`` declares ``needs_hessian`` (dense ``n x n``): skipped above ``max_hessian_dim``.
* The issue's rule: a method that runs a line search is skipped on a stochastic problem
  unless its entry sets ``allow_stochastic: true``. A line search compares values along a
  line, and on a mini-batch those values and the gradient that set the slope belong to one
  batch, not to the objective being benchmarked. ``bfgs``, ``lbfgs``, ``cg`` and
  ``optax.lbfgs`` always search (and also carry curvature across steps, mixing batches): they
  are ``deterministic_only``. ``newton`` and ``newton_cg`` search only when their static
  ``linesearch`` flag is on, so they declare it as ``line_search_argument`` and the runner
  asks ``entry.deterministic_only_for(setting.static)``, which reads the flag from the YAML
  entry or the factory's default: ``newton`` (default: unit steps) runs on stochastic
  problems as subsampled Newton, ``newton`` with ``linesearch: true`` and ``newton_cg``
  (line search on by default) are skipped there.
* Subsampled Newton with a per-batch Armijo search is a legitimate method (one step uses
  only the current batch: its gradient, its Hessian and the batch loss ``value_fn``; see
  Vaswani et al., "Painless stochastic gradient", NeurIPS 2019, for batch-wise Armijo).
  Users who want it set ``allow_stochastic: true`` on the entry.
* ``bfgs`` declares ``dense_state`` (its ``n x n`` inverse-Hessian approximation), which the
  runner's memory estimate counts.
* Evaluations are counted once per point (``optimizers.base``): the hand-written line-search
  methods declare ``reports_accepted_point`` (their state carries the accepted trial's point,
  value and gradient, which the runner reuses on deterministic problems). ``optax.lbfgs``
  cannot: its state keeps the value and gradient at its accepted step but not the point it
  evaluated, and the runner's ``x + updates`` need not round like optax's own
  ``x + stepsize * direction`` (see ``optimizers.optax_aliases``), so the runner evaluates
  ``x_{t+1}`` again and counts it.
"""

from optimizers import adaptive, conjugate_gradient, first_order, newton, quasi_newton
from optimizers.base import (
    ADAPTIVE,
    FAMILIES,
    FIRST_ORDER,
    NEWTON,
    QUASI_NEWTON,
    WITHOUT_HESSIAN,
    Optimizer,
    count_evals_in_state,
)
from optimizers.optax_aliases import OPTAX_ALIAS_NAMES, OPTAX_OPTIMIZERS

_LINE_SEARCH_SWEEPABLE = frozenset({"c1", "c2"})
# The modules that hold one family of entries each (the rest are shared).
_FAMILIES = (
    "first_order",
    "adaptive",
    "newton",
    "quasi_newton",
    "conjugate_gradient",
    "optax_aliases",
)

HAND_WRITTEN: dict[str, Optimizer] = {
    "gd": Optimizer(
        name="gd",
        factory=first_order.gd,
        family=FIRST_ORDER,
        sweepable=frozenset({"learning_rate"}),
        description="Gradient descent x - lr g (twin: optax.sgd).",
    ),
    "momentum": Optimizer(
        name="momentum",
        factory=first_order.momentum,
        family=FIRST_ORDER,
        sweepable=frozenset({"learning_rate", "momentum"}),
        description="Heavy-ball momentum, Polyak 1964 (twin: optax.sgd with momentum).",
    ),
    "nesterov": Optimizer(
        name="nesterov",
        factory=first_order.nesterov,
        family=FIRST_ORDER,
        sweepable=frozenset({"learning_rate", "momentum"}),
        description="Nesterov momentum, Sutskever et al. 2013 form (twin: optax.sgd nesterov).",
    ),
    "adagrad": Optimizer(
        name="adagrad",
        factory=adaptive.adagrad,
        family=ADAPTIVE,
        sweepable=frozenset({"learning_rate", "initial_accumulator_value", "eps"}),
        description="AdaGrad, Duchi et al. 2011 (twin: optax.adagrad).",
    ),
    "rmsprop": Optimizer(
        name="rmsprop",
        factory=adaptive.rmsprop,
        family=ADAPTIVE,
        sweepable=frozenset({"learning_rate", "decay", "eps"}),
        description="RMSProp, Tieleman & Hinton 2012 (twin: optax.rmsprop).",
    ),
    "adam": Optimizer(
        name="adam",
        factory=adaptive.adam,
        family=ADAPTIVE,
        sweepable=frozenset({"learning_rate", "b1", "b2", "eps"}),
        description="Adam with bias correction, Kingma & Ba 2015 (twin: optax.adam).",
    ),
    "adamw": Optimizer(
        name="adamw",
        factory=adaptive.adamw,
        family=ADAPTIVE,
        sweepable=frozenset({"learning_rate", "b1", "b2", "eps", "weight_decay"}),
        description="AdamW, Loshchilov & Hutter 2019 (twin: optax.adamw).",
    ),
    "newton": Optimizer(
        name="newton",
        factory=newton.newton,
        family=NEWTON,
        sweepable=frozenset({"learning_rate", "damping", "c1", "shrink"}),
        needs_hessian=True,
        line_search_argument="linesearch",
        count_evals=count_evals_in_state,
        reports_accepted_point=True,
        description="Newton's method, exact Hessian; unit step, opt-in damping and Armijo.",
    ),
    "newton_cg": Optimizer(
        name="newton_cg",
        factory=newton.newton_cg,
        family=NEWTON,
        sweepable=frozenset({"learning_rate", "c1", "shrink"}),
        line_search_argument="linesearch",
        count_evals=count_evals_in_state,
        reports_accepted_point=True,
        description="Line-search Newton-CG with Hessian-vector products, N&W Alg. 7.1.",
    ),
    "bfgs": Optimizer(
        name="bfgs",
        factory=quasi_newton.bfgs,
        family=QUASI_NEWTON,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        dense_state=True,
        count_evals=count_evals_in_state,
        reports_accepted_point=True,
        description="BFGS, dense inverse-Hessian update, strong Wolfe search (N&W Alg. 6.1).",
    ),
    "lbfgs": Optimizer(
        name="lbfgs",
        factory=quasi_newton.lbfgs,
        family=QUASI_NEWTON,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        count_evals=count_evals_in_state,
        reports_accepted_point=True,
        description="L-BFGS, two-loop recursion, strong Wolfe search (N&W Alg. 7.5).",
    ),
    "cg": Optimizer(
        name="cg",
        factory=conjugate_gradient.cg,
        family=QUASI_NEWTON,
        sweepable=_LINE_SEARCH_SWEEPABLE,
        deterministic_only=True,
        count_evals=count_evals_in_state,
        reports_accepted_point=True,
        description="Nonlinear CG, Polak-Ribiere+ or Fletcher-Reeves, with restarts.",
    ),
}

OPTIMIZERS: dict[str, Optimizer] = {**HAND_WRITTEN, **OPTAX_OPTIMIZERS}

# The numerics version of each module: bump it when the module's arithmetic changes (not for
# a comment or a rename). Every cell key (bench/run/keys.py) holds the version of its entry's
# family and of the shared modules, so a bump recomputes exactly the cells that use the code.
# Optax's own arithmetic is keyed by optax's version as well.
NUMERICS_VERSIONS: dict[str, int] = {
    "optimizers.first_order": 1,
    "optimizers.adaptive": 1,
    "optimizers.newton": 2,
    "optimizers.quasi_newton": 2,
    "optimizers.conjugate_gradient": 2,
    "optimizers.optax_aliases": 1,
    # shared by every entry
    "optimizers.base": 2,
    "optimizers.compose": 1,
    "optimizers.schedules": 1,
    "optimizers.step_size": 1,
    "optimizers.linesearch": 2,
    "optimizers._flat": 1,
    "optimizers._checks": 1,
}
SHARED_MODULES = tuple(m for m in NUMERICS_VERSIONS if m.split(".")[1] not in _FAMILIES)


def numerics_versions(entry: Optimizer) -> dict[str, int]:
    """The versions a cell of ``entry`` depends on: its family's and the shared modules'."""
    family = entry.factory.__module__
    if entry.name in OPTAX_OPTIMIZERS:
        family = "optimizers.optax_aliases"
    return {m: NUMERICS_VERSIONS[m] for m in (family, *SHARED_MODULES)}


__all__ = [
    "ADAPTIVE",
    "FAMILIES",
    "FIRST_ORDER",
    "HAND_WRITTEN",
    "NEWTON",
    "NUMERICS_VERSIONS",
    "OPTAX_ALIAS_NAMES",
    "OPTIMIZERS",
    "QUASI_NEWTON",
    "WITHOUT_HESSIAN",
    "Optimizer",
    "numerics_versions",
]
