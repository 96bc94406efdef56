"""The runner: one compile per cell, vmapped lanes equal a plain Python loop, divergence is
data, a reported accepted point is adopted without a second evaluation. The problems and
transformations here are written in the test (Optax's own sgd/adam, a descent that reports
its new point), so the runner is checked against code it does not share."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import monitoring
from scipy.optimize import rosen

from bench.run.cell import run_cell
from bench.run.kernel import Recording, record_grid
from bench.run.shared import draw_starts
from optimizers.base import AcceptedPoint
from problems.base import Problem, fixed_start, normal_start


def _rosenbrock(x, batch=None):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


ROSENBROCK = Problem(
    "rosenbrock", 2, fixed_start([-1.2, 1.0]), _rosenbrock, f_star=0.0, x_star=np.ones((1, 2))
)
# A seeded random start, so seeds differ: a 5-d bowl with f* = 0 at the origin.
BOWL = Problem(
    "bowl",
    5,
    normal_start(5),
    lambda x, b=None: 0.5 * jnp.sum(x**2 * jnp.arange(1, 6)),
    f_star=0.0,
    x_star=np.zeros((1, 5)),
)


def _no_extra(state):
    return jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32)


def _sgd(h):
    return optax.sgd(h["learning_rate"])


class _CompileCounter:
    """Counts XLA backend compiles through jax.monitoring: independent of the runner's count."""

    def __init__(self):
        self.count = 0
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


COMPILES = _CompileCounter()


def test_record_grid_linear_and_log():
    np.testing.assert_array_equal(record_grid(10, every=4), [0, 4, 8, 10])
    log_grid = record_grid(1000, log=True, points=20)
    assert log_grid[0] == 0 and log_grid[-1] == 1000
    assert np.all(np.diff(log_grid) > 0) and len(log_grid) <= 21


def test_one_compile_for_a_five_value_grid_and_eight_seeds():
    learning_rates = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    draw_starts(ROSENBROCK, range(8))  # the problem's shared program, compiled once for all
    before = COMPILES.count
    result = run_cell(
        ROSENBROCK,
        _sgd,
        _no_extra,
        [{"learning_rate": v} for v in learning_rates],
        range(8),
        Recording(record_grid(50, every=5)),
    )
    assert result.n_traces == 1
    assert COMPILES.count - before == 1
    assert result.loss.shape == (5, 8, 11)


def test_lanes_equal_a_plain_python_loop():
    """Every (setting, seed) lane equals an eager per-step loop with optax.adam."""
    steps, seeds, rates = 30, (0, 3, 7), (1e-2, 1e-1)
    grid = record_grid(steps, every=3)
    result = run_cell(
        BOWL,
        lambda h: optax.adam(h["learning_rate"]),
        _no_extra,
        [{"learning_rate": r} for r in rates],
        seeds,
        Recording(grid),
    )
    for i, rate in enumerate(rates):
        for j, seed in enumerate(seeds):
            init_key, _ = jax.random.split(jax.random.key(seed))
            x = BOWL.init(init_key)
            tx = optax.adam(rate)
            state = tx.init(x)
            expected = [float(BOWL.objective(x))]
            for step in range(1, steps + 1):
                grad = jax.grad(BOWL.objective)(x)
                updates, state = tx.update(grad, state, x)
                x = optax.apply_updates(x, updates)
                if step in grid:
                    expected.append(float(BOWL.objective(x)))
            np.testing.assert_allclose(result.loss[i, j], expected, rtol=1e-12)
    assert not result.diverged.any()
    np.testing.assert_array_equal(result.evals[0, 0], grid)  # one value_and_grad per step


def test_metrics_match_independent_formulas():
    result = run_cell(
        ROSENBROCK, _sgd, _no_extra, [{"learning_rate": 1e-3}], [0], Recording(record_grid(4))
    )
    assert result.loss[0, 0, 0] == pytest.approx(rosen(np.array([-1.2, 1.0])), rel=1e-14)
    assert result.dist[0, 0, 0] == pytest.approx(np.hypot(2.2, 0.0), rel=1e-14)
    # grad of Rosenbrock at (-1.2, 1): (-215.6, -88), the textbook values.
    assert result.grad_norm[0, 0, 0] == pytest.approx(np.hypot(-215.6, -88.0), rel=1e-12)


def test_divergence_is_recorded_frozen_and_never_raised():
    rates = [1e-3, 0.5, 1.0, 5e-4]
    result = run_cell(
        ROSENBROCK,
        _sgd,
        _no_extra,
        [{"learning_rate": r} for r in rates],
        range(3),
        Recording(record_grid(200, every=10)),
    )
    np.testing.assert_array_equal(result.diverged[:, 0], [False, True, True, False])
    for i in (1, 2):
        step = result.diverged_step[i, 0]
        assert step > 0
        after = result.record_steps > step
        assert not np.isfinite(result.loss[i, 0, after]).any()
        # Frozen: the evaluation count stops growing once the lane diverged.
        assert len(set(result.evals[i, 0, after].tolist())) == 1
    assert np.isfinite(result.loss[[0, 3]]).all()


def _poison_at(step: int, value: float) -> optax.GradientTransformation:
    """Gradient descent that writes ``value`` into x[1] at update number ``step`` (1-based)."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(updates, count, params=None, **extra_args):
        poison = jnp.zeros_like(updates).at[1].set(jnp.where(count + 1 == step, value, 0.0))
        return -0.1 * updates + poison, count + 1

    return optax.GradientTransformationExtraArgs(init, update)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_parameters_diverge_at_their_exact_step_while_the_loss_stays_finite(value):
    """f = tanh(x0)^2 ignores x[1] (NaN) and saturates (inf): only x itself shows the step."""
    blind = Problem(
        "blind",
        2,
        fixed_start([0.5, 0.0]),
        lambda x, b=None: jnp.tanh(x[0]) ** 2,
        f_star=0.0,
        x_star=np.zeros((1, 2)),
    )
    result = run_cell(
        blind,
        lambda h: _poison_at(7, value),
        _no_extra,
        [{}],
        [0],
        Recording(record_grid(20, every=5), path=True),
    )
    assert result.diverged[0, 0] and result.diverged_step[0, 0] == 7
    assert np.isfinite(result.loss[0, 0]).all()  # the loss never told
    # Frozen at the poisoned state: step 10 and 20 hold the x of step 7.
    np.testing.assert_array_equal(result.x[0, 0, 2], result.x[0, 0, 4])
    assert not np.isfinite(result.x[0, 0, 2, 1])
    np.testing.assert_array_equal(result.evals[0, 0], [0, 5, 7, 7, 7])


@pytest.mark.parametrize("start, expected_step", [(1.0, 5), (1e5, 0)])
def test_stochastic_full_objective_overflow_diverges_at_the_record(start, expected_step):
    """Batches see row 0 alone (w = 1), the full objective also row 1 (w = 1e300): the batch
    loss x^2 stays finite while mean(w) x^2 overflows once x^2 > ~3.6e8 (x grows 10x a step,
    from 1: after step 5 of 20; from 1e5: already at the start). Only the records see it."""
    data = {"w": jnp.asarray([1.0, 1e300])}
    problem = Problem(
        "overflow",
        1,
        fixed_start([start]),
        lambda x, batch: jnp.mean(batch["w"]) * x[0] ** 2,
        data=data,
        sample=lambda data, key: {"w": data["w"][:1]},
        f_star=0.0,
        x_star=np.zeros((1, 1)),
    )

    def grow(h):  # x <- 10 x: a stand-in for a learning rate that blows up
        return optax.GradientTransformationExtraArgs(
            lambda params: optax.EmptyState(),
            lambda updates, state, params=None, **extra: (9.0 * params, state),
        )

    result = run_cell(problem, grow, _no_extra, [{}], [0], Recording(record_grid(20, every=5)))
    assert result.diverged[0, 0] and result.diverged_step[0, 0] == expected_step
    assert np.isfinite(result.loss[0, 0, : expected_step // 5]).all()
    assert not np.isfinite(result.loss[0, 0, expected_step // 5])


def test_first_hits_are_exact_steps_on_deterministic_problems():
    """Gradient descent on f = x^2/2 with rate 0.5 halves x each step: gap = 2^(-2t) / 2."""
    line = Problem(
        "line",
        1,
        fixed_start([1.0]),
        lambda x, b=None: 0.5 * jnp.sum(x**2),
        f_star=0.0,
        x_star=np.zeros((1, 1)),
    )
    targets = (1e-1, 1e-4)
    result = run_cell(
        line,
        _sgd,
        _no_extra,
        [{"learning_rate": 0.5}],
        [0],
        Recording(record_grid(40, every=40)),
        targets,
    )
    # first t with 0.5 * 4^-t <= target, independent of the recording grid
    expected = [int(np.ceil(np.log(0.5 / t) / np.log(4.0))) for t in targets]
    np.testing.assert_array_equal(result.hit_step[0, 0], expected)
    np.testing.assert_array_equal(result.hit_evals[0, 0], expected)


def test_stochastic_problem_samples_a_batch_per_step_per_seed():
    """Least squares on a fixed data set with batches of 1: seeds see different batches."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(32, 3))
    targets = features @ np.array([1.0, -2.0, 0.5])
    data = {"X": jnp.asarray(features), "y": jnp.asarray(targets)}

    def loss(x, batch):
        return 0.5 * jnp.mean((batch["X"] @ x - batch["y"]) ** 2)

    def sample(data, key):
        index = jax.random.randint(key, (1,), 0, 32)
        return jax.tree.map(lambda a: a[index], data)

    problem = Problem(
        "ls",
        3,
        fixed_start(np.zeros(3)),
        loss,
        data=data,
        sample=sample,
        f_star=0.0,
        x_star=np.array([[1.0, -2.0, 0.5]]),
    )
    result = run_cell(
        problem,
        _sgd,
        _no_extra,
        [{"learning_rate": 0.05}],
        [0, 1],
        Recording(record_grid(300, every=100)),
    )
    assert result.loss[0, 0, -1] < 1e-2 * result.loss[0, 0, 0]
    assert result.loss[0, 0, 1] != result.loss[0, 1, 1]  # different batches per seed


def test_path_and_curvature_are_recorded_on_request():
    """On Rosenbrock the Hessian at (-1.2, 1) is [[1330, 480], [480, 200]] (closed form)."""
    recording = Recording(record_grid(10, every=5), path=True, curvature=True)
    result = run_cell(ROSENBROCK, _sgd, _no_extra, [{"learning_rate": 1e-4}], [0, 1], recording)
    assert result.x.shape == (1, 2, 3, 2) and result.eigenvalues.shape == (1, 2, 3, 2)
    np.testing.assert_allclose(result.x[0, 0, 0], [-1.2, 1.0])
    expected = np.linalg.eigvalsh(np.array([[1330.0, 480.0], [480.0, 200.0]]))
    np.testing.assert_allclose(result.eigenvalues[0, 0, 0], expected, rtol=1e-12)
    plain = run_cell(
        ROSENBROCK,
        _sgd,
        _no_extra,
        [{"learning_rate": 1e-4}],
        [0],
        Recording(record_grid(10, every=5)),
    )
    assert plain.x.shape[-1] == 0 and plain.eigenvalues.shape[-1] == 0


def test_chunked_lanes_equal_one_batch_and_compile_once():
    """A memory cap splits 3 settings x 5 seeds into equal chunks: same numbers, one compile."""
    settings = [{"learning_rate": r} for r in (1e-3, 1e-2, 1e-1)]
    recording = Recording(record_grid(40, every=10))
    whole = run_cell(BOWL, _sgd, _no_extra, settings, range(5), recording)
    before = COMPILES.count
    chunked = run_cell(
        BOWL,
        _sgd,
        _no_extra,
        settings,
        range(5),
        recording,
        max_lane_bytes=4 * 1000,
        per_lane_bytes=1000,
    )
    assert COMPILES.count - before == 1
    assert chunked.chunks == 4  # 15 lanes at most 4 at once: 4 chunks of 4 (one padded)
    np.testing.assert_array_equal(chunked.loss, whole.loss)
    np.testing.assert_array_equal(chunked.hit_step, whole.hit_step)


class _Reported(NamedTuple):
    accepted: AcceptedPoint


def _reporting_descent(h):
    """Gradient descent that evaluates its new point itself and reports it (AcceptedPoint).

    The reported point is deliberately NOT x + updates: the update returns half the step, the
    record holds the whole one. A runner that adopts the record follows the whole step (and
    its value and gradient); one that applied the updates would take half steps.
    """
    lr = h["learning_rate"]

    def init(params):
        zeros = jnp.zeros_like(params)
        return _Reported(AcceptedPoint(zeros, jnp.zeros((), params.dtype), zeros))

    def update(updates, state, params=None, *, value_fn=None, **extra):
        new = params - lr * updates
        value, grad = jax.value_and_grad(value_fn)(new)
        return -0.5 * lr * updates, _Reported(AcceptedPoint(new, value, grad))

    return optax.GradientTransformationExtraArgs(init, update)


def _one_eval(state):  # the update's own evaluation of its new point
    return jnp.ones((), jnp.int32), jnp.zeros((), jnp.int32)


def test_a_reported_accepted_point_is_adopted_and_not_evaluated_again():
    steps, rate = 12, 0.1
    grid = record_grid(steps)
    result = run_cell(
        BOWL,
        _reporting_descent,
        _one_eval,
        [{"learning_rate": rate}],
        [0],
        Recording(grid, path=True),
    )
    init_key, _ = jax.random.split(jax.random.key(0))
    x = BOWL.init(init_key)
    expected_x, expected_loss = [x], [float(BOWL.objective(x))]
    for _ in range(steps):
        x = x - rate * jax.grad(BOWL.objective)(x)  # the whole step: the reported point
        expected_x.append(x)
        expected_loss.append(float(BOWL.objective(x)))
    np.testing.assert_allclose(result.x[0, 0], np.stack(expected_x), rtol=1e-13)
    np.testing.assert_allclose(result.loss[0, 0], expected_loss, rtol=1e-12)
    # One evaluation per step, the update's own: no look-ahead counted on top of it.
    np.testing.assert_array_equal(result.evals[0, 0], grid)


def test_a_reported_accepted_point_is_ignored_on_a_stochastic_problem():
    """On a stochastic problem the look-ahead belongs to the next batch: the runner applies
    the updates (the half step here) and evaluates, one evaluation more per step."""
    twin = dataclasses.replace(BOWL, data=jnp.zeros(()), sample=lambda data, key: data)
    steps, rate = 12, 0.1
    grid = record_grid(steps)
    result = run_cell(
        twin, _reporting_descent, _one_eval, [{"learning_rate": rate}], [0], Recording(grid)
    )
    init_key, _ = jax.random.split(jax.random.key(0))
    x = twin.init(init_key)
    expected_loss = [float(twin.objective(x))]
    for _ in range(steps):
        x = x - 0.5 * rate * jax.grad(twin.objective)(x)  # the updates: half steps
        expected_loss.append(float(twin.objective(x)))
    np.testing.assert_allclose(result.loss[0, 0], expected_loss, rtol=1e-12)
    np.testing.assert_array_equal(result.evals[0, 0], 2 * grid)


def _compiled_text(problem, settings, seeds, recording):
    from bench.run.cell import compile_cell

    cell = compile_cell(problem, _sgd, _no_extra, settings, seeds, recording)
    return cell.compiled.as_text()


def test_a_deterministic_cell_generates_no_random_numbers():
    """A full-batch problem draws nothing inside its cell, fixed start or seeded one: the
    starts are drawn outside, once per problem, so its program holds no threefry kernel."""
    recording = Recording(record_grid(30, every=10), path=True, curvature=True)
    for problem in (ROSENBROCK, BOWL):
        text = _compiled_text(problem, [{"learning_rate": 1e-3}], [0, 1], recording)
        assert "threefry" not in text.lower(), problem.name
        assert "rng" not in text.lower(), problem.name


def test_a_stochastic_cell_draws_its_batches_inside():
    """The counter-check of the test above: a mini-batch problem's cell does draw (its
    batches), so the HLO text is where random-number work would show."""
    data = jnp.arange(8.0)
    problem = Problem(
        "mean",
        1,
        fixed_start([3.0]),
        lambda x, b: jnp.mean((x[0] - b) ** 2),
        data=data,
        sample=lambda d, key: d[jax.random.randint(key, (2,), 0, 8)],
    )
    text = _compiled_text(problem, [{"learning_rate": 1e-1}], [0], Recording(record_grid(5)))
    assert "threefry" in text.lower()


def test_starts_drawn_outside_are_the_seeded_starts():
    """x0 of each lane is init(split(key(seed))[0]), computed here by hand for two seeds."""
    result = run_cell(
        BOWL,
        _sgd,
        _no_extra,
        [{"learning_rate": 0.0}],
        [3, 7],
        Recording(record_grid(2), path=True),
    )
    for index, seed in enumerate((3, 7)):
        init_key, _ = jax.random.split(jax.random.key(seed))
        np.testing.assert_array_equal(result.x[0, index, 0], BOWL.init(init_key))
