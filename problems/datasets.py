"""Datasets of the learning problems: scikit-learn's bundled sets and seeded synthetic ones.

Everything is float64 numpy, read-only, built once per argument set. scikit-learn's bundled
datasets ship with the package: no network. Labels are int64 class indices.

Importing scikit-learn takes 3-4 s, most of an unchanged rerun's time, so the bundled
arrays are cached on disk by joblib (keyed by the dataset and scikit-learn's version) under
``.cache/datasets``, or ``$OPTBENCH_DATA_CACHE`` (empty: no cache).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from pathlib import Path

import numpy as np

DATA_CACHE_ENV = "OPTBENCH_DATA_CACHE"
DEFAULT_DATA_CACHE = Path(".cache") / "datasets"


@functools.cache
def _memory():
    import joblib  # scikit-learn's own caching library; imports in a tenth of its time

    value = os.environ.get(DATA_CACHE_ENV)
    location = DEFAULT_DATA_CACHE if value is None else (Path(value) if value else None)
    return joblib.Memory(location, verbose=0)  # location None: calls through, caches nothing


def _load_bundled(name: str, sklearn_version: str) -> tuple[np.ndarray, np.ndarray]:
    """(data, target) of ``sklearn.datasets.load_<name>()``; the version is an argument
    only so that another scikit-learn is another cache entry."""
    from sklearn import datasets as sklearn_datasets  # deferred: slow to import

    bunch = getattr(sklearn_datasets, f"load_{name}")()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    version = importlib.metadata.version("scikit-learn")
    return _memory().cache(_load_bundled)(name, version)


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
    data, target = _bundled("breast_cancer")
    return _frozen(_standardize(data), np.asarray(target, dtype=np.int64))


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits (1797 x 64 pixels, 10 classes), pixels scaled from [0, 16] to [0, 1]."""
    data, target = _bundled("digits")
    return _frozen(data / 16.0, np.asarray(target, dtype=np.int64))


@functools.cache
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Diabetes progression (442 x 10), features and target standardized."""
    data, target = _bundled("diabetes")
    target = np.asarray(target, dtype=np.float64)
    return _frozen(_standardize(data), (target - target.mean()) / target.std())


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
