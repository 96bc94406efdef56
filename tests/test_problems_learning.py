"""Learning objectives against scikit-learn and numpy written here from the formulas."""

import itertools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf, expit, log_softmax, softmax
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from problems import PROBLEMS


def complex_step_directional(f, x, direction, h=1e-30):
    """d/dt f(x + t v) at t = 0, by the complex step."""
    return np.imag(f(x + 1j * h * direction)) / h


# --- data ------------------------------------------------------------------------------


def test_real_datasets_are_scikit_learns():
    cancer = PROBLEMS["logistic"]().data
    np.testing.assert_allclose(
        cancer["X"], StandardScaler().fit_transform(load_breast_cancer().data), atol=1e-12
    )
    np.testing.assert_array_equal(cancer["y"], load_breast_cancer().target)
    digits = PROBLEMS["mlp"]().data
    np.testing.assert_allclose(digits["X"], load_digits().data / 16.0)
    np.testing.assert_array_equal(digits["y"], load_digits().target)
    diabetes = PROBLEMS["least_squares"](dataset="diabetes").data
    np.testing.assert_allclose(
        diabetes["X"], StandardScaler().fit_transform(load_diabetes().data), atol=1e-12
    )
    target = load_diabetes().target
    np.testing.assert_allclose(diabetes["y"], (target - target.mean()) / target.std())


@pytest.mark.parametrize("name", ["breast_cancer", "digits", "diabetes"])
def test_bundled_datasets_come_back_from_the_disk_cache_bitwise(name, tmp_path, monkeypatch):
    """The joblib cache that spares an unchanged rerun importing scikit-learn returns
    exactly what scikit-learn's loader returns, written on the first call, read after."""
    import sklearn.datasets

    from problems import datasets

    monkeypatch.setenv(datasets.DATA_CACHE_ENV, str(tmp_path))
    datasets._memory.cache_clear()
    try:
        first = datasets._bundled(name)
        assert any(tmp_path.rglob("*.pkl")), "the first call writes the cache"
        again = datasets._bundled(name)
    finally:
        datasets._memory.cache_clear()
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    for got in (first, again):
        np.testing.assert_array_equal(got[0], bunch.data)
        np.testing.assert_array_equal(got[1], bunch.target)
        assert got[0].dtype == np.float64


def test_synthetic_data_follows_the_data_seed():
    first = PROBLEMS["logistic"](dataset="synthetic", seed=0).data["X"]
    again = PROBLEMS["logistic"](dataset="synthetic", seed=0).data["X"]
    other = PROBLEMS["logistic"](dataset="synthetic", seed=1).data["X"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (500, 10)


# --- least squares ---------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ("synthetic", "diabetes"))
def test_least_squares_against_scikit_learn(dataset):
    problem = PROBLEMS["least_squares"](dataset=dataset)
    features, target = problem.data["X"], problem.data["y"]
    m = len(target)
    fit = LinearRegression(fit_intercept=False).fit(features, target)

    def f_ref(w):
        return 0.5 * np.mean((features @ w - target) ** 2)

    assert problem.f_star == pytest.approx(f_ref(fit.coef_), rel=1e-10)
    np.testing.assert_allclose(problem.x_star[0], fit.coef_, rtol=1e-8, atol=1e-10)
    x = np.random.default_rng(0).standard_normal(problem.dim)
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.asarray(x))
    assert float(value) == pytest.approx(f_ref(x), rel=1e-12)
    np.testing.assert_allclose(grad, features.T @ (features @ x - target) / m, rtol=1e-10)
    hessian = jax.jit(jax.hessian(problem.objective))(jnp.asarray(problem.x_star[0]))
    np.testing.assert_allclose(hessian, features.T @ features / m, rtol=1e-10, atol=1e-14)


def diabetes_standardized():
    """scikit-learn's diabetes data, features and target standardized (population std)."""
    bunch = load_diabetes()
    target = bunch.target
    return StandardScaler().fit_transform(bunch.data), (target - target.mean()) / target.std()


@pytest.mark.parametrize(
    ("dataset", "kwargs"),
    (
        ("diabetes", {"dataset": "diabetes"}),
        ("synthetic", {}),
        ("synthetic-small", {"n_samples": 40, "n_features": 3, "noise": 0.5, "seed": 2}),
    ),
)
def test_least_squares_at_the_start_and_the_minimum(dataset, kwargs):
    problem = PROBLEMS["least_squares"](**kwargs)
    if dataset == "diabetes":
        features, target = diabetes_standardized()
    else:
        features, target = problem.data["X"], problem.data["y"]
        assert features.shape == (kwargs.get("n_samples", 200), kwargs.get("n_features", 10))
    m, d = features.shape
    for key in (0, 1):  # the documented start w = 0, for every seed
        np.testing.assert_array_equal(problem.init(jax.random.key(key)), np.zeros(d))
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.zeros(d))
    # at w = 0: f = |y|^2 / (2m), grad f = -X^T y / m
    assert float(value) == pytest.approx(0.5 * np.mean(target**2), rel=1e-13)
    np.testing.assert_allclose(grad, -features.T @ target / m, rtol=1e-10, atol=1e-14)
    hessian = jax.jit(jax.hessian(problem.objective))(jnp.asarray(problem.x_star[0]))
    if dataset == "diabetes":
        # standardized columns and target: f(0) = var(y) / 2 = 1/2, -grad f(0) holds the
        # correlations of the features with the target, the Hessian is their correlation matrix
        raw = load_diabetes()
        assert float(value) == pytest.approx(0.5, rel=1e-13)
        correlations = [np.corrcoef(column, raw.target)[0, 1] for column in raw.data.T]
        np.testing.assert_allclose(-np.asarray(grad), correlations, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(hessian, np.corrcoef(raw.data.T), rtol=1e-10, atol=1e-14)
        # x*: the raw-data fit (with intercept), its coefficients rescaled to standard units
        fit = LinearRegression().fit(raw.data, raw.target)
        w_star = fit.coef_ * raw.data.std(axis=0) / raw.target.std()
        np.testing.assert_allclose(problem.x_star[0], w_star, rtol=1e-8, atol=1e-10)
    else:
        np.testing.assert_allclose(hessian, features.T @ features / m, rtol=1e-10, atol=1e-14)
    assert np.all(np.linalg.eigvalsh(np.asarray(hessian)) > 0)


# --- logistic regression ---------------------------------------------------------------


def logistic_ref(features, labels, l2, theta):
    """The objective of problems.learning.logistic, from its docstring."""
    w, b = theta[:-1], theta[-1]
    signs = 2.0 * labels - 1.0
    return np.mean(np.logaddexp(0.0, -signs * (features @ w + b))) + 0.5 * l2 * w @ w


LOGISTIC_CASES = (
    ("breast_cancer", {}),
    ("breast_cancer", {"l2": 1e-2}),
    ("synthetic", {"dataset": "synthetic", "l2": 1e-3}),
    ("synthetic-small", {"dataset": "synthetic", "n_samples": 60, "n_features": 3, "l2": 0.1}),
)


@pytest.mark.parametrize(("name", "kwargs"), LOGISTIC_CASES)
def test_logistic_f_star_against_scikit_learn(name, kwargs):
    problem = PROBLEMS["logistic"](**kwargs)
    l2 = kwargs.get("l2", 1e-3)
    features, labels = problem.data["X"], problem.data["y"]
    m = len(labels)
    # scikit-learn minimizes C sum_i loss_i + |w|^2 / 2 (intercept unpenalized) = C m f
    model = LogisticRegression(C=1.0 / (l2 * m), tol=1e-12, max_iter=10_000, solver="lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs may stop a hair short of tol
        model.fit(features, labels)
    theta_sklearn = np.concatenate([model.coef_[0], model.intercept_])
    f_sklearn = logistic_ref(features, labels, l2, theta_sklearn)
    # Newton's f* is the minimum: no higher than scikit-learn's, and equal to many digits
    assert problem.f_star <= f_sklearn + 1e-15
    assert problem.f_star == pytest.approx(f_sklearn, rel=1e-8)
    np.testing.assert_allclose(problem.x_star[0], theta_sklearn, rtol=1e-3, atol=1e-4)
    assert logistic_ref(features, labels, l2, problem.x_star[0]) == pytest.approx(
        problem.f_star, rel=1e-14
    )


def test_logistic_value_gradient_and_hessian_against_closed_forms():
    problem = PROBLEMS["logistic"](dataset="synthetic", n_samples=80, n_features=4, l2=0.05)
    features, labels = problem.data["X"], problem.data["y"]
    m, l2 = len(labels), 0.05
    design = np.hstack([features, np.ones((m, 1))])
    signs = 2.0 * labels - 1.0
    rng = np.random.default_rng(0)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    for theta in (np.zeros(5), rng.standard_normal(5)):
        value, grad = value_and_grad(jnp.asarray(theta))
        assert float(value) == pytest.approx(logistic_ref(features, labels, l2, theta), rel=1e-13)
        p_wrong = 1.0 / (1.0 + np.exp(signs * (design @ theta)))
        expected = -design.T @ (signs * p_wrong) / m + l2 * np.append(theta[:-1], 0.0)
        np.testing.assert_allclose(grad, expected, rtol=1e-11, atol=1e-15)
    assert float(jax.jit(problem.objective)(jnp.zeros(5))) == pytest.approx(np.log(2.0), rel=1e-14)
    theta = problem.x_star[0]
    p = 1.0 / (1.0 + np.exp(-(design @ theta)))
    expected_hessian = (design.T * (p * (1 - p))) @ design / m + l2 * np.diag([1, 1, 1, 1, 0])
    np.testing.assert_allclose(
        jax.jit(jax.hessian(problem.objective))(jnp.asarray(theta)), expected_hessian, rtol=1e-10
    )


@pytest.mark.parametrize("l2", (None, 1e-2))
def test_logistic_breast_cancer_against_closed_forms(l2):
    """The default data from scikit-learn's loader, standardized by StandardScaler."""
    problem = PROBLEMS["logistic"]() if l2 is None else PROBLEMS["logistic"](l2=l2)
    l2 = 1e-3 if l2 is None else l2  # the documented default
    bunch = load_breast_cancer()
    features, labels = StandardScaler().fit_transform(bunch.data), bunch.target
    m, d = features.shape
    design = np.hstack([features, np.ones((m, 1))])  # theta = (w_1, ..., w_d, b)
    penalty = np.append(np.ones(d), 0.0)  # l2 / 2 |w|^2: the intercept is not penalized

    def grad_ref(theta):  # the mean of (p_i - y_i) (x_i, 1), plus l2 w
        return design.T @ (expit(design @ theta) - labels) / m + l2 * penalty * theta

    for key in (0, 1):  # the documented start 0, for every seed
        np.testing.assert_array_equal(problem.init(jax.random.key(key)), np.zeros(d + 1))
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.zeros(d + 1))
    assert float(value) == pytest.approx(np.log(2.0), rel=1e-14)
    # at 0 every p_i = 1/2: grad = -X^T (y - 1/2) / m, and 1/2 - 357/569 for the intercept
    np.testing.assert_allclose(grad, grad_ref(np.zeros(d + 1)), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(grad, -design.T @ (labels - 0.5) / m, rtol=1e-11, atol=1e-15)
    assert float(grad[-1]) == pytest.approx(0.5 - 357 / 569, rel=1e-12)
    # x*: stationary for the closed-form gradient; Hessian X^T diag(p (1 - p)) X / m + l2 P
    theta = problem.x_star[0]
    assert np.max(np.abs(grad_ref(theta))) < 1e-10
    p = expit(design @ theta)
    expected_hessian = (design.T * (p * (1 - p))) @ design / m + l2 * np.diag(penalty)
    np.testing.assert_allclose(
        jax.jit(jax.hessian(problem.objective))(jnp.asarray(theta)),
        expected_hessian,
        rtol=1e-10,
        atol=1e-14,
    )
    assert np.all(np.linalg.eigvalsh(expected_hessian) > 0)


def test_logistic_loss_is_finite_for_huge_margins():
    problem = PROBLEMS["logistic"](dataset="synthetic", n_samples=50, n_features=2)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    for theta in (np.array([1e4, -1e4, 1e4]), np.array([-1e4, 1e4, -1e4])):
        value, grad = value_and_grad(jnp.asarray(theta))
        assert np.isfinite(value) and np.all(np.isfinite(grad))


# --- MLP -------------------------------------------------------------------------------

ACTIVATIONS_REF = {
    "tanh": np.tanh,
    "relu": lambda h: np.maximum(h, 0.0),
    "gelu": lambda h: 0.5 * h * (1.0 + erf(h / np.sqrt(2.0))),
    "sigmoid": lambda h: 1.0 / (1.0 + np.exp(-h)),
    "softplus": lambda h: np.log(1.0 + np.exp(h)),  # complex-safe; moderate h here
}


def mlp_ref(theta, features, labels, sizes, activation, l2=0.0):
    """Cross-entropy of the documented layout: per layer W (fan_in, fan_out) row-major, b."""
    offset, hidden, penalty = 0, features, 0.0
    layers = list(itertools.pairwise(sizes))
    for i, (fan_in, fan_out) in enumerate(layers):
        weights = theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        bias = theta[offset : offset + fan_out]
        offset += fan_out
        penalty = penalty + np.sum(weights**2)
        hidden = hidden @ weights + bias
        if i < len(layers) - 1:
            hidden = ACTIVATIONS_REF[activation](hidden)
    assert offset == theta.size
    if np.iscomplexobj(hidden):  # the complex step: no max-shift, values stay moderate
        log_probs = hidden - np.log(np.sum(np.exp(hidden), axis=1, keepdims=True))
    else:
        log_probs = log_softmax(hidden, axis=1)
    return -np.mean(log_probs[np.arange(len(labels)), labels]) + 0.5 * l2 * penalty


MLP_CASES = (
    ("digits", {"hidden_sizes": (8,)}, (64, 8, 10), "tanh"),
    (
        "synthetic-2",
        {"dataset": "synthetic", "hidden_sizes": (6, 5), "l2": 0.1},
        (16, 6, 5, 4),
        "tanh",
    ),
    (
        "relu",
        {"dataset": "synthetic", "hidden_sizes": (5,), "activation": "relu"},
        (16, 5, 4),
        "relu",
    ),
    (
        "gelu",
        {"dataset": "synthetic", "hidden_sizes": (5,), "activation": "gelu"},
        (16, 5, 4),
        "gelu",
    ),
)


@pytest.mark.parametrize(("name", "kwargs", "sizes", "activation"), MLP_CASES)
def test_mlp_against_numpy_forward_pass(name, kwargs, sizes, activation):
    problem = PROBLEMS["mlp"](**kwargs)
    features, labels = problem.data["X"], problem.data["y"]
    l2 = kwargs.get("l2", 0.0)
    assert problem.dim == sum(a * b + b for a, b in itertools.pairwise(sizes))
    assert problem.f_star is None and problem.x_star is None
    x0 = np.asarray(problem.init(jax.random.key(0)))
    value, grad = jax.jit(jax.value_and_grad(problem.objective))(jnp.asarray(x0))
    assert float(value) == pytest.approx(
        mlp_ref(x0, features, labels, sizes, activation, l2), rel=1e-12
    )
    if activation in ("tanh", "sigmoid", "softplus"):  # analytic: complex-step derivatives
        rng = np.random.default_rng(0)
        for direction in rng.standard_normal((3, problem.dim)):
            expected = complex_step_directional(
                lambda t: mlp_ref(t, features, labels, sizes, activation, l2), x0, direction
            )
            assert float(np.asarray(grad) @ direction) == pytest.approx(expected, rel=1e-9)


def gelu_derivative(h):
    """d/dh of h Phi(h): Phi(h) + h phi(h), with the standard normal cdf Phi and pdf phi."""
    return 0.5 * (1.0 + erf(h / np.sqrt(2.0))) + h * np.exp(-(h**2) / 2) / np.sqrt(2 * np.pi)


ACTIVATION_DERIVATIVES = {
    "tanh": lambda h: 1.0 - np.tanh(h) ** 2,
    "relu": lambda h: (h > 0).astype(np.float64),
    "gelu": gelu_derivative,
    "sigmoid": lambda h: expit(h) * (1.0 - expit(h)),
    "softplus": expit,
}


def mlp_ref_grad(theta, features, labels, sizes, activation, l2=0.0):
    """grad of mlp_ref by backpropagation written out: the same layout, layer by layer."""
    layers, offset = [], 0
    for fan_in, fan_out in itertools.pairwise(sizes):
        weights = theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        layers.append((weights, theta[offset : offset + fan_out]))
        offset += fan_out
    inputs, pre_activations, hidden = [], [], features
    for i, (weights, bias) in enumerate(layers):
        inputs.append(hidden)
        hidden = hidden @ weights + bias
        if i < len(layers) - 1:
            pre_activations.append(hidden)
            hidden = ACTIVATIONS_REF[activation](hidden)
    m = len(labels)
    delta = (softmax(hidden, axis=1) - np.eye(sizes[-1])[labels]) / m  # d loss / d logits
    pieces = []
    for i in reversed(range(len(layers))):
        weights, _ = layers[i]
        pieces[:0] = [(inputs[i].T @ delta + l2 * weights).ravel(), delta.sum(axis=0)]
        if i > 0:
            slope = ACTIVATION_DERIVATIVES[activation](pre_activations[i - 1])
            delta = (delta @ weights.T) * slope
    return np.concatenate(pieces)


MLP_GRADIENT_CASES = (
    *MLP_CASES,
    ("digits-default", {}, (64, 32, 10), "tanh"),
    (
        "sigmoid",
        {"dataset": "synthetic", "hidden_sizes": (5, 4), "activation": "sigmoid", "l2": 0.01},
        (16, 5, 4, 4),
        "sigmoid",
    ),
    (
        "softplus",
        {"dataset": "synthetic", "hidden_sizes": (5,), "activation": "softplus"},
        (16, 5, 4),
        "softplus",
    ),
    (
        "softmax-regression",
        {"dataset": "synthetic", "hidden_sizes": (), "l2": 0.1},
        (16, 4),
        "tanh",
    ),
)


@pytest.mark.parametrize(("name", "kwargs", "sizes", "activation"), MLP_GRADIENT_CASES)
def test_mlp_gradient_against_numpy_backpropagation(name, kwargs, sizes, activation):
    problem = PROBLEMS["mlp"](**kwargs)
    if kwargs.get("dataset", "digits") == "digits":  # from scikit-learn's loader
        features, labels = load_digits().data / 16.0, load_digits().target
    else:
        features, labels = problem.data["X"], problem.data["y"]
    l2 = kwargs.get("l2", 0.0)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    x0 = np.asarray(problem.init(jax.random.key(0)))
    # x0 has zero biases: also a point with non-zero ones
    moved = x0 + 0.1 * np.random.default_rng(1).standard_normal(problem.dim)
    for theta in (x0, moved):
        value, grad = value_and_grad(jnp.asarray(theta))
        assert float(value) == pytest.approx(
            mlp_ref(theta, features, labels, sizes, activation, l2), rel=1e-12
        )
        np.testing.assert_allclose(
            grad,
            mlp_ref_grad(theta, features, labels, sizes, activation, l2),
            rtol=1e-9,
            atol=1e-13,
        )


def test_mlp_start_is_glorot_uniform_with_zero_biases():
    problem = PROBLEMS["mlp"](hidden_sizes=(32,))
    x0 = np.asarray(problem.init(jax.random.key(0)))
    w1, b1 = x0[: 64 * 32], x0[64 * 32 : 64 * 32 + 32]
    w2, b2 = x0[64 * 32 + 32 : -10], x0[-10:]
    assert np.all(b1 == 0) and np.all(b2 == 0)
    assert np.max(np.abs(w1)) <= np.sqrt(6 / 96) and np.max(np.abs(w1)) > 0.9 * np.sqrt(6 / 96)
    assert np.max(np.abs(w2)) <= np.sqrt(6 / 42) and np.max(np.abs(w2)) > 0.8 * np.sqrt(6 / 42)
    assert np.std(w1) == pytest.approx(np.sqrt(6 / 96) / np.sqrt(3), rel=0.05)
    assert not np.array_equal(x0, np.asarray(problem.init(jax.random.key(1))))
    # softmax over 10 classes at a small random start: close to log(10)
    assert float(jax.jit(problem.objective)(jnp.asarray(x0))) == pytest.approx(np.log(10), rel=0.2)


def test_activations_match_their_formulas():
    from problems.learning import ACTIVATIONS

    assert set(ACTIVATIONS) == set(ACTIVATIONS_REF)
    h = np.linspace(-6.0, 6.0, 41)
    for name, act in ACTIVATIONS.items():
        np.testing.assert_allclose(
            act(jnp.asarray(h)), ACTIVATIONS_REF[name](h), rtol=1e-12, atol=1e-15
        )


def test_softmax_regression_without_hidden_layers():
    problem = PROBLEMS["mlp"](dataset="synthetic", hidden_sizes=())
    features, labels = problem.data["X"], problem.data["y"]
    x0 = np.asarray(problem.init(jax.random.key(0)))
    value = jax.jit(problem.objective)(jnp.asarray(x0))
    assert float(value) == pytest.approx(mlp_ref(x0, features, labels, (16, 4), "tanh"), rel=1e-12)
