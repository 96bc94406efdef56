"""Quadratic surfaces: rotated bowls with a chosen spectrum, and linear least squares."""

from __future__ import annotations

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
    normal_start,
    propagate_nan,
    random_rotation,
)
from problems.validation import check_batch_size, check_choice, check_float, check_int

# A dense rotation is built at construction: this keeps construction well under a second.
MAX_ROTATED_DIM = 2000

Spectrum = Literal["log", "linear", "outliers"]
SPECTRA = ("log", "linear", "outliers")


def quadratic_spectrum(
    dim: int, condition_number: float, spectrum: str = "log", num_outliers: int = 3
) -> np.ndarray:
    """The eigenvalues of ``quadratic``'s Hessian, ascending, from 1 to ``condition_number``."""
    kappa = float(condition_number)
    if spectrum == "log":
        return np.geomspace(1.0, kappa, dim)
    if spectrum == "linear":
        return np.linspace(1.0, kappa, dim)
    bulk_top = min(max(kappa / 10.0, 1.0), 10.0)
    outlier_low = max(kappa / 10.0, 1.0)
    bulk = np.geomspace(1.0, bulk_top, dim - num_outliers)
    # Reversed so that a single outlier sits at the condition number itself.
    outliers = np.geomspace(kappa, outlier_low, num_outliers)[::-1]
    return np.concatenate([bulk, outliers])


def quadratic(
    dim: int = 10,
    condition_number: float = 100.0,
    spectrum: Spectrum = "log",
    num_outliers: int = 3,
    seed: int = 0,
) -> Problem:
    """A rotated quadratic bowl ``f(x) = 1/2 x^T H x`` with a chosen Hessian spectrum.

    ``H = Q^T diag(lambda) Q`` with ``Q`` a Haar-random rotation drawn from ``seed`` (numpy) and
    eigenvalues ``lambda`` between 1 and ``condition_number``:

    - ``spectrum="log"`` (default): log-spaced, ``geomspace(1, kappa, dim)``;
    - ``"linear"``: evenly spaced, ``linspace(1, kappa, dim)``;
    - ``"outliers"``: a few large outliers over a bulk of small ones, the shape of
      deep-learning Hessians: ``dim - num_outliers`` eigenvalues log-spaced in
      ``[1, clip(kappa/10, 1, 10)]`` and ``num_outliers`` log-spaced in
      ``[max(kappa/10, 1), kappa]``.

    ``condition_number = 1`` gives the isotropic bowl ``1/2 |x|^2``. The condition number of
    ``H`` is exactly ``condition_number``; gradient descent with step ``1/L`` needs about
    ``kappa log(1/eps)`` steps.

    Minimum ``f* = 0`` at ``x* = 0``, Hessian ``H`` everywhere. Start: no standard point, so
    ``x0 ~ N(0, I)`` drawn from the run seed. ``dim <= 2000`` (a dense rotation).

    Source: the standard model of conditioning, e.g. Nocedal & Wright (2006), Numerical
    Optimization, 2nd ed., Sec. 3.3; outlier spectra after Sagun et al. (2017), "Empirical
    analysis of the Hessian of over-parametrized neural networks", arXiv:1706.04454.
    """
    dim = check_int("dim", dim, low=1, high=MAX_ROTATED_DIM)
    condition_number = check_float("condition_number", condition_number, low=1.0)
    spectrum = check_choice("spectrum", spectrum, SPECTRA)
    num_outliers = check_int("num_outliers", num_outliers)
    seed = check_int("seed", seed, low=0)
    if spectrum == "outliers" and not 1 <= num_outliers <= dim - 1:
        raise ValueError(
            f"num_outliers must be between 1 and dim - 1 = {dim - 1} for spectrum 'outliers', "
            f"got {num_outliers}"
        )

    eigenvalues = quadratic_spectrum(dim, condition_number, spectrum, num_outliers)
    rotation = random_rotation(dim, seed)
    hessian = rotation.T @ (eigenvalues[:, None] * rotation)
    hessian = 0.5 * (hessian + hessian.T)

    @jax.custom_jvp
    def quadratic_form(x: Array) -> Array:
        return 0.5 * jnp.sum(x * (x @ jnp.asarray(hessian, x.dtype)))

    @quadratic_form.defjvp
    def quadratic_form_jvp(primals, tangents):
        # d(x^T H x / 2) = (H x) . dx for symmetric H: the gradient reuses the one product
        # H x of the value, where plain reverse mode would compute H^T x again (half the
        # arithmetic of every step on this problem). Differentiable again for the Hessian.
        (x,), (dx,) = primals, tangents
        # x @ H (= H x, H being symmetric): under vmap the batch of rows times H comes out
        # in the batch's own layout, with no transpose before the sums below.
        hx = x @ jnp.asarray(hessian, x.dtype)
        # Sums of products rather than dots: under vmap a dot of two batched vectors is a
        # batched matrix product (a transpose and a kernel call per step); a sum fuses.
        return 0.5 * jnp.sum(x * hx), jnp.sum(hx * dx)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        # NaN anywhere in x reaches every entry of H x (0 * NaN is NaN), so the value is NaN
        # without a separate check, a per-step reduction saved.
        return quadratic_form(x)

    if condition_number == 1.0:
        description = f"isotropic bowl 1/2 |x|^2 in {dim}-d"
    else:
        description = (
            f"rotated quadratic in {dim}-d, condition number {condition_number:g}, "
            f"{spectrum} spectrum"
        )
    return Problem(
        name="quadratic",
        dim=dim,
        init=normal_start(dim),
        loss=loss,
        f_star=0.0,
        x_star=np.zeros((1, dim)),
        bounds=((-3.0, 3.0),) * dim,
        description=description,
        source="Nocedal & Wright (2006), Numerical Optimization, Sec. 3.3",
        smoothness=float(eigenvalues.max()),  # H's largest eigenvalue (1 when dim is 1)
    )


def least_squares(
    dataset: Literal["synthetic", "diabetes"] = "synthetic",
    n_samples: int = 200,
    n_features: int = 10,
    noise: float = 0.1,
    batch_size: int | None = None,
    seed: int = 0,
) -> Problem:
    """Linear regression ``f(w) = 1/(2m) sum_i (x_i^T w - y_i)^2`` over the ``m`` rows.

    Data (``dataset``):

    - ``"synthetic"``: ``X ~ N(0, 1)`` of shape ``(n_samples, n_features)``,
      ``y = X w_true + noise * N(0, 1)`` with ``w_true ~ N(0, I)``, all drawn from ``seed``;
    - ``"diabetes"``: scikit-learn's bundled diabetes data (442 rows, 10 features), features
      and target standardized (so no intercept is needed); ``n_samples``, ``n_features``,
      ``noise`` and ``seed`` are ignored.

    Minimum from the normal equations ``X^T X w* = X^T y`` (a float64 least-squares solve at
    build time): ``x* = w*``, ``f* = f(w*)``; Hessian ``X^T X / m`` everywhere.
    ``batch_size`` rows are drawn per step, uniformly with replacement (absent: full batch).
    Start: ``w = 0`` for every seed, the usual start of a linear model.

    Source: Gauss (1809) / Legendre (1805); diabetes data from B. Efron, T. Hastie,
    I. Johnstone & R. Tibshirani (2004), "Least angle regression", Annals of Statistics
    32(2):407-499 (scikit-learn ``load_diabetes``).
    """
    dataset = check_choice("dataset", dataset, ("synthetic", "diabetes"))
    n_samples = check_int("n_samples", n_samples, low=1, high=1_000_000)
    n_features = check_int("n_features", n_features, low=1, high=MAX_ROTATED_DIM)
    noise = check_float("noise", noise, low=0.0)
    seed = check_int("seed", seed, low=0)
    if dataset == "synthetic":
        if n_samples < n_features:
            raise ValueError(
                f"n_samples must be >= n_features = {n_features} so that the minimizer is "
                f"unique, got {n_samples}"
            )
        features, targets = datasets.synthetic_regression(n_samples, n_features, noise, seed)
    else:
        features, targets = datasets.diabetes()
    num_rows, num_features = features.shape
    batch_size = check_batch_size(batch_size, num_rows)

    w_star, *_ = np.linalg.lstsq(features, targets, rcond=None)
    residual = features @ w_star - targets
    f_star = 0.5 * float(np.mean(residual**2))

    def loss(x: Array, batch: Batch) -> Array:
        rows = jnp.asarray(batch["X"], x.dtype)
        y = jnp.asarray(batch["y"], x.dtype)
        value = 0.5 * jnp.mean((rows @ x - y) ** 2)
        return propagate_nan(value, x)

    return Problem(
        name="least_squares",
        dim=num_features,
        init=fixed_start(np.zeros(num_features)),
        loss=loss,
        data={"X": features, "y": targets},
        sample=minibatch_sampler(batch_size, num_rows),
        f_star=f_star,
        x_star=w_star[None, :],
        bounds=None,
        description=(
            f"linear least squares on {dataset} data ({num_rows} x {num_features}), "
            + ("full batch" if batch_size is None else f"batch {batch_size}")
        ),
        source="normal equations; diabetes data: Efron et al. (2004), Ann. Statist. 32(2)",
        # The Hessian X^T X / m everywhere: its largest eigenvalue is sigma_max(X)^2 / m.
        smoothness=float(np.linalg.norm(features, 2) ** 2 / num_rows),
    )
