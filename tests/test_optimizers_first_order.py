"""Hand-written first-order methods against their Optax twins, step by step, in float64.

Each case runs the hand-written transform and its Optax twin side by side for 50 steps on a
small nonquadratic function and requires the iterates and losses to agree to 1e-10 relative
at EVERY step. The twin and any convention worth noting are named in each case's comment.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optimizers import OPTIMIZERS
from optimizers.step_size import ScaleByLearningRateState, scale_by_learning_rate

STEPS = 50
CENTER = jnp.array([1.0, -2.0, 0.5, 3.0])
X0 = jnp.array([0.3, 0.1, -0.2, 0.4])


def loss(x):
    """Nonquadratic, smooth: log-cosh valleys plus a quartic coupling term."""
    return jnp.sum(jnp.log(jnp.cosh(x - CENTER))) + 0.1 * jnp.sum(x * x) ** 2


def trajectories(tx_a, tx_b):
    """Runs both transforms from X0 under one jit; returns (xs_a, xs_b, fs_a, fs_b)."""

    def step(carry, _):
        xa, sa, xb, sb = carry
        fa, ga = jax.value_and_grad(loss)(xa)
        fb, gb = jax.value_and_grad(loss)(xb)
        ua, sa = tx_a.update(ga, sa, xa, value=fa, grad=ga, value_fn=loss)
        ub, sb = tx_b.update(gb, sb, xb, value=fb, grad=gb, value_fn=loss)
        xa, xb = optax.apply_updates(xa, ua), optax.apply_updates(xb, ub)
        return (xa, sa, xb, sb), (xa, xb, loss(xa), loss(xb))

    @jax.jit
    def run():
        init = (X0, tx_a.init(X0), X0, tx_b.init(X0))
        return jax.lax.scan(step, init, None, length=STEPS)[1]

    return [np.asarray(a) for a in run()]


COSINE = optax.cosine_decay_schedule(0.05, decay_steps=30, alpha=0.1)
EXPONENTIAL = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.95)
WARMUP_COSINE = optax.warmup_cosine_decay_schedule(0.0, 0.05, warmup_steps=5, decay_steps=40)

# (entry, hand-written kwargs, Optax twin). Conventions, case by case:
CASES = [
    # gd: x - lr g, exactly optax.sgd without momentum.
    ("gd", {"learning_rate": 0.1}, optax.sgd(0.1)),
    # momentum: v = g + m v, x - lr v. optax.sgd(momentum=m) uses optax.trace, the same
    # "lr outside the velocity" convention (Polyak's x + m (x - x_prev) - lr g is the same
    # sequence for a constant lr).
    ("momentum", {"learning_rate": 0.05}, optax.sgd(0.05, momentum=0.9)),
    ("momentum", {"learning_rate": 0.02, "momentum": 0.5}, optax.sgd(0.02, momentum=0.5)),
    # nesterov: Sutskever's form, x - lr (g + m v_new); optax.trace(nesterov=True) is the same.
    ("nesterov", {"learning_rate": 0.05}, optax.sgd(0.05, momentum=0.9, nesterov=True)),
    # adagrad: optax.adagrad's conventions (G_0 = 0.1, eps inside the root) are the defaults.
    ("adagrad", {"learning_rate": 0.3}, optax.adagrad(0.3)),
    (
        "adagrad",
        {"learning_rate": 0.3, "initial_accumulator_value": 0.0, "eps": 1e-10},
        optax.adagrad(0.3, initial_accumulator_value=0.0, eps=1e-10),
    ),
    # rmsprop: optax.rmsprop's eps-inside-root, nu_0 = 0, no bias correction, no momentum.
    ("rmsprop", {"learning_rate": 0.01}, optax.rmsprop(0.01)),
    (
        "rmsprop",
        {"learning_rate": 0.01, "decay": 0.8, "eps": 1e-6, "centered": True},
        optax.rmsprop(0.01, decay=0.8, eps=1e-6, centered=True),
    ),
    # adam: identical rule (bias-corrected moments, eps outside the root, eps_root = 0).
    ("adam", {"learning_rate": 0.05}, optax.adam(0.05)),
    (
        "adam",
        {"learning_rate": 0.02, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
        optax.adam(0.02, b1=0.8, b2=0.99, eps=1e-6),
    ),
    # adamw: optax.adamw (mask=None: decay everything). Both multiply weight_decay by the
    # learning rate: x - lr (adam + wd x), a shrink of lr * wd * x per step. Loshchilov &
    # Hutter's Algorithm 2 scales the decay by the schedule multiplier eta_t only, not by
    # the base rate alpha: their lambda is alpha * wd here (wd = lambda_paper / alpha).
    ("adamw", {"learning_rate": 0.05}, optax.adamw(0.05)),
    (
        "adamw",
        {"learning_rate": 0.05, "weight_decay": 0.1},
        optax.adamw(0.05, weight_decay=0.1),
    ),
    # Schedules: the SAME Optax schedule object goes to both sides. The hand-written step
    # size evaluates it at the number of updates made so far (0 first), as Optax's
    # scale_by_schedule does, so lr_t agrees at every step; an off-by-one would show at the
    # first step already (these schedules change from count 0 to 1).
    ("gd", {"learning_rate": EXPONENTIAL}, optax.sgd(EXPONENTIAL)),
    ("nesterov", {"learning_rate": EXPONENTIAL}, optax.sgd(EXPONENTIAL, 0.9, nesterov=True)),
    ("rmsprop", {"learning_rate": WARMUP_COSINE}, optax.rmsprop(WARMUP_COSINE)),
    ("adam", {"learning_rate": COSINE}, optax.adam(COSINE)),
    (
        "adamw",
        {"learning_rate": WARMUP_COSINE, "weight_decay": 0.1},
        optax.adamw(WARMUP_COSINE, weight_decay=0.1),
    ),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "twin"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_matches_optax_twin_step_by_step(name, kwargs, twin):
    mine = OPTIMIZERS[name].factory(**kwargs)
    assert isinstance(mine, optax.GradientTransformationExtraArgs)
    xs, xs_twin, fs, fs_twin = trajectories(mine, twin)
    assert np.all(np.isfinite(xs))
    # The run must actually move, or agreement would say nothing.
    assert np.linalg.norm(xs[-1] - np.asarray(X0)) > 0.1
    step_err = np.linalg.norm(xs - xs_twin, axis=1) / np.linalg.norm(xs_twin, axis=1)
    assert step_err.max() <= 1e-10, step_err.max()
    np.testing.assert_allclose(fs, fs_twin, rtol=1e-10, atol=0)


def test_step_size_evaluates_the_schedule_at_the_update_count():
    """-lr_t u with lr_t = schedule(t), t = 0, 1, 2, ... (Optax's scale_by_schedule counts
    the same way), written out here; a number is used as is, also when traced."""

    def schedule(count):
        return 0.1 * 0.5 ** count.astype(jnp.float64)

    u = jnp.array([1.0, -2.0])
    tx = scale_by_learning_rate(schedule)
    state = tx.init(u)
    for t in range(5):
        out, state = tx.update(u, state)
        np.testing.assert_allclose(out, -0.1 * 0.5**t * np.asarray(u), rtol=1e-15)
        assert int(state.count) == t + 1
    assert isinstance(state, ScaleByLearningRateState)

    @jax.jit
    def traced(lr):
        tx = scale_by_learning_rate(lr)
        return tx.update(u, tx.init(u))[0]

    np.testing.assert_allclose(traced(0.3), -0.3 * np.asarray(u), rtol=1e-15)
    out32, _ = scale_by_learning_rate(jnp.float64(0.3)).update(u.astype(jnp.float32), state)
    assert out32.dtype == jnp.float32  # the rate never promotes the parameters' dtype


# The Optax building blocks a hand-written first-order method must not borrow: the twins use
# them, so borrowing one would compare Optax with itself.
OPTAX_BLOCKS = (
    "scale_by_learning_rate",
    "scale_by_schedule",
    "scale",
    "scale_by_adam",
    "scale_by_rms",
    "scale_by_stddev",
    "scale_by_rss",
    "trace",
    "add_decayed_weights",
)


@pytest.mark.parametrize("name", ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_hand_written_methods_borrow_no_optax_building_block(name, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a hand-written method called an Optax building block")

    for block in OPTAX_BLOCKS:
        monkeypatch.setattr(optax, block, refuse)
    for kwargs in ({"learning_rate": 0.1}, {"learning_rate": COSINE}):
        tx = OPTIMIZERS[name].factory(**kwargs)
        updates, _ = tx.update(-X0, tx.init(X0), X0, value_fn=loss)
        assert np.all(np.isfinite(np.asarray(updates)))


def test_adamw_borrows_no_optax_building_block(monkeypatch):
    test_hand_written_methods_borrow_no_optax_building_block("adamw", monkeypatch)


def test_momentum_matches_polyak_heavy_ball_form():
    """x_{t+1} = x_t - lr g_t + m (x_t - x_{t-1}), written out in numpy."""
    lr, m = 0.05, 0.9
    xs = trajectories(OPTIMIZERS["momentum"].factory(learning_rate=lr), optax.sgd(lr))[0]
    grad = jax.grad(loss)
    prev, x = np.asarray(X0), np.asarray(X0)
    for t in range(STEPS):
        prev, x = x, x - lr * np.asarray(grad(x)) + m * (x - prev)
        np.testing.assert_allclose(xs[t], x, rtol=1e-10)


@pytest.mark.parametrize(
    ("name", "kwargs", "parameter"),
    [
        ("gd", {"learning_rate": -0.1}, "learning_rate"),
        ("momentum", {"learning_rate": 0.1, "momentum": 1.0}, "momentum"),
        ("nesterov", {"learning_rate": 0.1, "momentum": -0.5}, "momentum"),
        ("adagrad", {"learning_rate": 0.1, "eps": -1.0}, "eps"),
        ("rmsprop", {"learning_rate": 0.1, "decay": 1.5}, "decay"),
        ("rmsprop", {"learning_rate": 0.1, "centered": "yes"}, "centered"),
        ("adam", {"learning_rate": 0.0}, "learning_rate"),
        ("adam", {"learning_rate": 0.1, "b2": 1.0}, "b2"),
        ("adamw", {"learning_rate": 0.1, "weight_decay": -1e-4}, "weight_decay"),
    ],
)
def test_bad_arguments_raise_value_error(name, kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        OPTIMIZERS[name].factory(**kwargs)
