"""Datasets of the learning problems: scikit-learn's bundled sets and seeded synthetic ones.

Everything is float64 numpy, read-only, built once per argument set. scikit-learn's bundled
datasets ship with the package: no network. Labels are int64 class indices.
"""

from __future__ import annotations

import functools

import numpy as np


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.setflags(write=False)
    return arrays


def _standardize(columns: np.ndarray) -> np.ndarray:
    """Zero mean, unit (population) variance per column, as scikit-learn's StandardScaler."""
    return (columns - columns.mean(axis=0)) / columns.std(axis=0)


@functools.cache
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin diagnostic breast cancer (569 x 30), features standardized, labels 0/1."""
    from sklearn.datasets import load_breast_cancer  # deferred: sklearn is slow to import

    bunch = load_breast_cancer()
    features = _standardize(np.asarray(bunch.data, dtype=np.float64))
    return _frozen(features, np.asarray(bunch.target, dtype=np.int64))


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits (1797 x 64 pixels, 10 classes), pixels scaled from [0, 16] to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    features = np.asarray(bunch.data, dtype=np.float64) / 16.0
    return _frozen(features, np.asarray(bunch.target, dtype=np.int64))


@functools.cache
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Diabetes progression (442 x 10), features and target standardized."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    features = _standardize(np.asarray(bunch.data, dtype=np.float64))
    target = np.asarray(bunch.target, dtype=np.float64)
    return _frozen(features, (target - target.mean()) / target.std())


@functools.cache
def synthetic_regression(
    n_samples: int, n_features: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``X ~ N(0, 1)``, ``y = X w + noise * N(0, 1)`` with ``w ~ N(0, I)``, from ``seed``."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n_samples, n_features))
    weights = rng.standard_normal(n_features)
    target = features @ weights + noise * rng.standard_normal(n_samples)
    return _frozen(features, target)


@functools.cache
def synthetic_binary(n_samples: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X ~ N(0, 1)``, labels 0/1 drawn from a logistic model ``P(1) = sigmoid(X w + b)``.

    ``w ~ N(0, I)``, ``b ~ N(0, 1)``: label noise keeps the classes overlapping, so the
    unregularized problem has a finite minimizer for large ``n_samples``.
    """
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n_samples, n_features))
    weights = rng.standard_normal(n_features)
    bias = rng.standard_normal()
    probability = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    labels = (rng.uniform(size=n_samples) < probability).astype(np.int64)
    return _frozen(features, labels)


@functools.cache
def synthetic_classes(
    n_samples: int, n_features: int, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Gaussian blobs: class ``c`` has center ``m_c ~ N(0, I)`` and unit noise."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_features))
    labels = rng.integers(0, n_classes, n_samples).astype(np.int64)
    features = centers[labels] + rng.standard_normal((n_samples, n_features))
    return _frozen(features, labels)
