"""Learning objectives on real and synthetic data: L2-regularized logistic regression and an MLP.

The data is the problem's ``data`` (a dict of numpy arrays ``X``, ``y``); ``batch_size`` rows
are drawn per step, uniformly with replacement, by the record's ``sample`` (absent: the full
batch, i.e. batch gradient descent; 1: stochastic; between: mini-batch).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from problems import datasets
from problems.base import (
    Array,
    Batch,
    Problem,
    fixed_start,
    minibatch_sampler,
    propagate_nan,
)
from problems.validation import check_batch_size, check_choice, check_float, check_int

_BREAST_CANCER_SOURCE = (
    "Street, Wolberg & Mangasarian (1993), Nuclear feature extraction for breast tumor "
    "diagnosis, Proc. SPIE 1905 (scikit-learn load_breast_cancer)"
)
_DIGITS_SOURCE = (
    "Alpaydin & Kaynak (1998), UCI optical recognition of handwritten digits (scikit-learn "
    "load_digits); Glorot & Bengio (2010), AISTATS, for the initialization"
)


def _logistic_objective(
    design: np.ndarray, signs: np.ndarray, l2: float, w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Value, gradient and Hessian of the logistic objective in float64 numpy."""
    num_rows = design.shape[0]
    penalty = np.ones(design.shape[1])
    penalty[-1] = 0.0  # the intercept is not penalized
    margins = signs * (design @ w)
    value = float(np.mean(np.logaddexp(0.0, -margins)) + 0.5 * l2 * np.sum(penalty * w**2))
    p_wrong = np.exp(-np.logaddexp(0.0, margins))  # sigmoid(-margin), without overflow
    grad = -(design.T @ (signs * p_wrong)) / num_rows + l2 * penalty * w
    curvature = p_wrong * (1.0 - p_wrong)
    hessian = (design.T * curvature) @ design / num_rows + l2 * np.diag(penalty)
    return value, grad, hessian


def logistic_newton_solve(
    features: np.ndarray, labels: np.ndarray, l2: float, max_iter: int = 100
) -> tuple[np.ndarray, float]:
    """The minimizer (weights, then intercept) and minimum of ``logistic``, by damped Newton."""
    design = np.hstack([features, np.ones((features.shape[0], 1))])
    signs = 2.0 * labels - 1.0
    w = np.zeros(design.shape[1])
    value, grad, hessian = _logistic_objective(design, signs, l2, w)
    for _ in range(max_iter):
        step = np.linalg.solve(hessian, grad)
        decrement = float(grad @ step)  # the Newton decrement squared, ~ 2 (f - f*)
        if decrement <= 1e-30:
            break
        t = 1.0  # Armijo backtracking; the full step is taken near the solution
        while t >= 1e-12:
            candidate = w - t * step
            new_value, new_grad, new_hessian = _logistic_objective(design, signs, l2, candidate)
            if new_value <= value - 1e-4 * t * decrement:
                break
            t *= 0.5
        else:  # no decrease left to find in float64: converged to rounding level
            break
        w, value, grad, hessian = candidate, new_value, new_grad, new_hessian
    return w, value


def _logistic_smoothness(features: np.ndarray, l2: float) -> float:
    """An upper bound on the largest Hessian eigenvalue of the L2 logistic loss: with
    A = [X, 1] the Hessian is A^T D A / m + l2 diag(1, .., 1, 0), D = diag(s(1 - s)) <= 1/4,
    so L <= sigma_max(A)^2 / (4 m) + l2."""
    rows = np.hstack([features, np.ones((features.shape[0], 1))])
    return float(np.linalg.norm(rows, 2) ** 2 / (4 * rows.shape[0]) + l2)


def logistic(
    dataset: Literal["breast_cancer", "synthetic"] = "breast_cancer",
    l2: float = 1e-3,
    batch_size: int | None = None,
    n_samples: int = 500,
    n_features: int = 10,
    seed: int = 0,
) -> Problem:
    """Binary logistic regression with an L2 penalty on the weights (not the intercept).

    ``f(w, b) = 1/m sum_i log(1 + exp(-s_i (x_i^T w + b))) + l2/2 |w|^2`` with labels
    ``s_i in {-1, +1}``; the flat vector is ``(w_1, ..., w_d, b)``, so ``dim = d + 1``.

    Data (``dataset``):

    - ``"breast_cancer"``: scikit-learn's bundled Wisconsin breast cancer data (569 rows,
      30 features, standardized); ``n_samples``, ``n_features`` and ``seed`` are ignored;
    - ``"synthetic"``: ``X ~ N(0, 1)`` of shape ``(n_samples, n_features)`` with labels
      drawn from a logistic model, all from ``seed`` (see ``datasets.synthetic_binary``).

    Minimum: unique (strictly convex for ``l2 > 0``), computed once at build time by a
    float64 damped Newton solve; ``x*`` and ``f*`` are its result, and the tests cross-check
    ``f*`` against scikit-learn's ``LogisticRegression(C = 1 / (l2 m))`` at its solution.
    ``batch_size`` rows are drawn per step, uniformly with replacement (absent: full batch).
    Start: ``0`` for every seed, the usual start of a linear model.

    Source: Cox (1958), "The regression analysis of binary sequences", JRSS B 20(2); breast
    cancer data: Street, Wolberg & Mangasarian (1993), Proc. SPIE 1905.
    """
    dataset = check_choice("dataset", dataset, ("breast_cancer", "synthetic"))
    l2 = check_float("l2", l2, low=0.0, low_inclusive=False)
    n_samples = check_int("n_samples", n_samples, low=2, high=1_000_000)
    n_features = check_int("n_features", n_features, low=1, high=10_000)
    seed = check_int("seed", seed, low=0)
    if dataset == "breast_cancer":
        features, labels = datasets.breast_cancer()
        source = _BREAST_CANCER_SOURCE
    else:
        features, labels = datasets.synthetic_binary(n_samples, n_features, seed)
        source = "Cox (1958), JRSS B 20(2); seeded synthetic data"
    num_rows, num_features = features.shape
    batch_size = check_batch_size(batch_size, num_rows)
    if np.all(labels == labels[0]):
        raise ValueError(
            f"the {dataset} data has only one class with n_samples={n_samples}, seed={seed}; "
            "use more samples or another seed"
        )
    x_star, f_star = logistic_newton_solve(features, labels, l2)

    def loss(x: Array, batch: Batch) -> Array:
        rows = jnp.asarray(batch["X"], x.dtype)
        signs = 2.0 * jnp.asarray(batch["y"], x.dtype) - 1.0
        margins = signs * (rows @ x[:-1] + x[-1])
        value = jnp.mean(jax.nn.softplus(-margins)) + 0.5 * l2 * jnp.sum(x[:-1] ** 2)
        return propagate_nan(value, x)

    return Problem(
        name="logistic",
        dim=num_features + 1,
        init=fixed_start(np.zeros(num_features + 1)),
        loss=loss,
        data={"X": features, "y": labels},
        sample=minibatch_sampler(batch_size, num_rows),
        f_star=f_star,
        x_star=x_star[None, :],
        bounds=None,
        description=(
            f"L2 logistic regression on {dataset} ({num_rows} x {num_features}), l2={l2:g}, "
            + ("full batch" if batch_size is None else f"batch {batch_size}")
        ),
        source=source,
        smoothness=_logistic_smoothness(features, l2),
    )


Activation = Literal["tanh", "relu", "gelu", "sigmoid", "softplus"]
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": lambda h: jax.nn.gelu(h, approximate=False),
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
}
_MAX_PARAMETERS = 10_000_000


def mlp_layer_shapes(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of each dense layer for layer widths ``sizes``."""
    return list(itertools.pairwise(sizes))


def mlp(
    hidden_sizes: tuple[int, ...] = (32,),
    activation: Activation = "tanh",
    dataset: Literal["digits", "synthetic"] = "digits",
    l2: float = 0.0,
    batch_size: int | None = None,
    n_samples: int = 512,
    n_features: int = 16,
    n_classes: int = 4,
    seed: int = 0,
) -> Problem:
    """A multilayer perceptron classifier: mean softmax cross-entropy, optional L2 on weights.

    ``f(theta) = -1/m sum_i log softmax(net(x_i))_{y_i} + l2/2 sum_layers |W|^2`` with
    ``net = dense_L o act o ... o act o dense_1`` (``activation`` between layers, none after
    the last; ``gelu`` is the exact erf form). ``hidden_sizes=()`` is softmax regression.

    Flat layout (what the optimizer sees): for each layer in order, ``W`` of shape
    ``(fan_in, fan_out)`` row-major, then ``b`` of shape ``(fan_out,)``; the loss unravels the
    vector with static slices.

    Data (``dataset``):

    - ``"digits"``: scikit-learn's bundled 8x8 handwritten digits (1797 rows, 64 pixels scaled
      to [0, 1], 10 classes); ``n_samples``, ``n_features``, ``n_classes``, ``seed`` ignored;
    - ``"synthetic"``: ``n_classes`` overlapping Gaussian blobs in ``n_features`` dimensions,
      ``n_samples`` rows, drawn from ``seed`` (see ``datasets.synthetic_classes``).

    Minimum: unknown (``f_star`` and ``x_star`` are None); non-convex, with permutation
    symmetries. Start: Glorot-uniform weights (``U(-a, a)``, ``a = sqrt(6 / (fan_in +
    fan_out))``) and zero biases, drawn from the run seed.

    Source: Rumelhart, Hinton & Williams (1986), Nature 323:533-536; Glorot & Bengio (2010),
    "Understanding the difficulty of training deep feedforward neural networks", AISTATS.
    """
    if not isinstance(hidden_sizes, tuple | list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden_sizes
    ):
        raise ValueError(
            f"hidden_sizes must be a list of positive integers (e.g. [64, 32]), "
            f"got {hidden_sizes!r}"
        )
    activation = check_choice("activation", activation, tuple(ACTIVATIONS))
    dataset = check_choice("dataset", dataset, ("digits", "synthetic"))
    l2 = check_float("l2", l2, low=0.0)
    n_samples = check_int("n_samples", n_samples, low=1, high=1_000_000)
    n_features = check_int("n_features", n_features, low=1, high=100_000)
    n_classes = check_int("n_classes", n_classes, low=2, high=10_000)
    seed = check_int("seed", seed, low=0)
    if dataset == "digits":
        features, labels = datasets.digits()
        source = _DIGITS_SOURCE
    else:
        features, labels = datasets.synthetic_classes(n_samples, n_features, n_classes, seed)
        source = "Glorot & Bengio (2010), AISTATS; seeded synthetic blobs"
    num_rows, num_inputs = features.shape
    num_outputs = int(labels.max()) + 1 if dataset == "digits" else n_classes
    batch_size = check_batch_size(batch_size, num_rows)

    shapes = mlp_layer_shapes([num_inputs, *hidden_sizes, num_outputs])
    dim = sum(fan_in * fan_out + fan_out for fan_in, fan_out in shapes)
    if dim > _MAX_PARAMETERS:
        raise ValueError(
            f"hidden_sizes={list(hidden_sizes)} gives {dim} parameters, at most "
            f"{_MAX_PARAMETERS} are allowed"
        )
    act = ACTIVATIONS[activation]

    def unravel(x: Array) -> list[tuple[Array, Array]]:
        layers, offset = [], 0
        for fan_in, fan_out in shapes:
            weights = x[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            layers.append((weights, x[offset : offset + fan_out]))
            offset += fan_out
        return layers

    def loss(x: Array, batch: Batch) -> Array:
        layers = unravel(x)
        hidden = jnp.asarray(batch["X"], x.dtype)
        for weights, bias in layers[:-1]:
            hidden = act(hidden @ weights + bias)
        weights, bias = layers[-1]
        log_probs = jax.nn.log_softmax(hidden @ weights + bias, axis=-1)
        labels = jnp.asarray(batch["y"])
        nll = -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))
        if l2 > 0:
            nll = nll + 0.5 * l2 * sum(jnp.sum(w**2) for w, _ in layers)
        return propagate_nan(nll, x)

    def init(key: Array) -> Array:
        dtype = jnp.result_type(float)
        pieces = []
        for layer_key, (fan_in, fan_out) in zip(
            jax.random.split(key, len(shapes)), shapes, strict=True
        ):
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            weights = jax.random.uniform(
                layer_key, (fan_in * fan_out,), dtype, minval=-limit, maxval=limit
            )
            pieces += [weights, jnp.zeros((fan_out,), dtype)]
        return jnp.concatenate(pieces)

    widths = "-".join(str(w) for w in [num_inputs, *hidden_sizes, num_outputs])
    return Problem(
        name="mlp",
        dim=dim,
        init=init,
        loss=loss,
        data={"X": features, "y": labels},
        sample=minibatch_sampler(batch_size, num_rows),
        f_star=None,
        x_star=None,
        bounds=None,
        description=(
            f"MLP {widths} ({activation}, {dim} parameters) on {dataset}, cross-entropy, "
            + ("full batch" if batch_size is None else f"batch {batch_size}")
        ),
        source=source,
    )
