"""The registry: names, signatures as YAML schema, capabilities, sweeps, schedules, clipping.

The sweep test builds EVERY entry the way the runner does: inside ``jit(vmap(...))``, its
``sweepable`` hyperparameters traced, through ``build_transform`` with a schedule (where the
entry takes one) and a traced clipping norm; each traced lane must equal a run built from
plain Python numbers (lane 0: the bare transform, so ``count_evals`` is also shown to read
through the composed state).
"""

import inspect
import types
import typing

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optimizers import (
    ADAPTIVE,
    FAMILIES,
    FIRST_ORDER,
    HAND_WRITTEN,
    NEWTON,
    OPTAX_ALIAS_NAMES,
    OPTIMIZERS,
    QUASI_NEWTON,
    Optimizer,
)
from optimizers.base import accepted_point_in_state
from optimizers.compose import accepts_schedule, build_transform
from optimizers.schedules import SCHEDULES

HAND_WRITTEN_NAMES = {
    "gd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "newton",
    "newton_cg",
    "bfgs",
    "lbfgs",
    "cg",
}
CENTER = jnp.array([1.0, -2.0, 0.5])
X0 = jnp.array([0.3, 0.1, -0.2])


def loss(x):
    return jnp.sum(jnp.log(jnp.cosh(x - CENTER))) + 0.05 * jnp.sum(x * x) ** 2


def test_optax_alias_names_are_exactly_the_exported_aliases():
    exported = {
        name
        for name in dir(optax)
        if callable(getattr(optax, name))
        and getattr(getattr(optax, name), "__module__", None) == "optax._src.alias"
    }
    assert len(exported) == 29
    assert set(OPTAX_ALIAS_NAMES) == exported
    assert len(OPTAX_ALIAS_NAMES) == len(set(OPTAX_ALIAS_NAMES))


def test_registry_holds_hand_written_and_every_optax_alias():
    assert set(HAND_WRITTEN) == HAND_WRITTEN_NAMES
    assert set(OPTIMIZERS) == HAND_WRITTEN_NAMES | {f"optax.{a}" for a in OPTAX_ALIAS_NAMES}
    for key, entry in OPTIMIZERS.items():
        assert isinstance(entry, Optimizer)
        assert entry.name == key
        assert entry.description
    for alias in OPTAX_ALIAS_NAMES:
        assert OPTIMIZERS[f"optax.{alias}"].factory is getattr(optax, alias)


PLAIN_TYPES = (float, int, bool, str)


def plain_annotation(annotation):
    if annotation in PLAIN_TYPES:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return all(isinstance(v, PLAIN_TYPES) for v in typing.get_args(annotation))
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(annotation)
        return type(None) in args and all(a is type(None) or plain_annotation(a) for a in args)
    return False


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN_NAMES))
def test_hand_written_signature_is_a_yaml_schema(name):
    entry = OPTIMIZERS[name]
    params = inspect.signature(entry.factory).parameters
    for param in params.values():
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, param
        assert plain_annotation(param.annotation), param
    doc = entry.factory.__doc__
    assert "Reference" in doc and "Update" in doc and "Default" in doc


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_sweepable_names_are_parameters(name):
    entry = OPTIMIZERS[name]
    assert entry.sweepable <= set(inspect.signature(entry.factory).parameters)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam", "adamw"])
def test_first_order_defaults_are_the_optax_twin_defaults(name):
    mine = inspect.signature(OPTIMIZERS[name].factory).parameters
    twin = inspect.signature(getattr(optax, name)).parameters
    for key, param in mine.items():
        assert param.default == twin[key].default, key


@pytest.mark.parametrize("name", ["gd", "momentum", "nesterov"])
def test_sgd_family_requires_learning_rate_like_optax_sgd(name):
    assert inspect.signature(optax.sgd).parameters["learning_rate"].default is inspect._empty
    params = inspect.signature(OPTIMIZERS[name].factory).parameters
    assert params["learning_rate"].default is inspect._empty


def test_declared_capabilities():
    assert {n for n, e in OPTIMIZERS.items() if e.needs_hessian} == {"newton"}
    assert {n for n, e in OPTIMIZERS.items() if e.dense_state} == {"bfgs"}
    assert {n for n, e in OPTIMIZERS.items() if e.deterministic_only} == {
        "bfgs",
        "lbfgs",
        "cg",
        "optax.lbfgs",
    }
    assert {n: e.line_search_argument for n, e in OPTIMIZERS.items() if e.line_search_argument} == {
        "newton": "linesearch",
        "newton_cg": "linesearch",
    }
    newton_defaults = inspect.signature(OPTIMIZERS["newton"].factory).parameters
    assert newton_defaults["learning_rate"].default == 1.0
    assert newton_defaults["damping"].default == 0.0
    assert newton_defaults["linesearch"].default is False
    newton_cg_defaults = inspect.signature(OPTIMIZERS["newton_cg"].factory).parameters
    assert newton_cg_defaults["linesearch"].default is True  # N&W Alg. 7.1 searches


# (entry, static arguments of a YAML entry, runs a line search: skipped on stochastic problems)
LINE_SEARCH_CASES = [
    ("newton", {}, False),  # default: the pure unit step, subsampled Newton on a mini-batch
    ("newton", {"damping": 1.0}, False),
    ("newton", {"linesearch": False}, False),
    ("newton", {"linesearch": True}, True),
    ("newton_cg", {}, True),  # its line search is on by default
    ("newton_cg", {"linesearch": True, "max_cg_steps": 5}, True),
    ("newton_cg", {"linesearch": False}, False),
    ("bfgs", {}, True),
    ("lbfgs", {"memory_size": 3}, True),
    ("cg", {}, True),
    ("cg", {"linesearch": "exact"}, True),
    ("optax.lbfgs", {}, True),
    ("gd", {}, False),
    ("adam", {}, False),
    ("optax.adam", {}, False),
    ("optax.polyak_sgd", {}, False),  # uses value= of the step's batch, no search
]


@pytest.mark.parametrize(("name", "static", "searches"), LINE_SEARCH_CASES)
def test_line_search_capability_is_a_function_of_static_arguments(name, static, searches):
    assert OPTIMIZERS[name].deterministic_only_for(static) is searches


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_capability_without_a_switch_is_the_declared_flag(name):
    entry = OPTIMIZERS[name]
    if entry.line_search_argument is None:
        assert entry.deterministic_only_for({}) is entry.deterministic_only
    else:
        # A switch is static (decided per cell, before tracing) and has a default to honor.
        assert entry.line_search_argument not in entry.sweepable
        param = inspect.signature(entry.factory).parameters[entry.line_search_argument]
        assert entry.deterministic_only_for({}) is bool(param.default)


def test_line_search_argument_is_checked_when_declared():
    with pytest.raises(ValueError, match="not a factory parameter"):
        Optimizer(
            name="x",
            factory=OPTIMIZERS["newton"].factory,
            line_search_argument="ls",
            family=NEWTON,
        )
    with pytest.raises(ValueError, match="static"):
        Optimizer(
            name="x",
            factory=OPTIMIZERS["newton"].factory,
            sweepable=frozenset({"linesearch"}),
            line_search_argument="linesearch",
            family=NEWTON,
        )


def test_every_entry_declares_a_family():
    with pytest.raises(ValueError, match="family"):
        Optimizer(name="x", factory=OPTIMIZERS["gd"].factory)
    for entry in OPTIMIZERS.values():
        assert entry.family in FAMILIES, entry.name
        # Newton-family = evaluates second derivatives (a dense Hessian or its products).
        assert (entry.family == NEWTON) == (entry.name in ("newton", "newton_cg")), entry.name
    assert OPTIMIZERS["optax.lbfgs"].family == OPTIMIZERS["lbfgs"].family == QUASI_NEWTON
    assert OPTIMIZERS["optax.sgd"].family == OPTIMIZERS["gd"].family == FIRST_ORDER
    assert OPTIMIZERS["optax.adam"].family == OPTIMIZERS["adam"].family == ADAPTIVE


def test_newton_line_search_switch_changes_the_evaluations_made():
    """The declared switch is the real one: with it off, newton makes no value_fn trial."""
    x = X0
    value, grad = jax.value_and_grad(loss)(x)
    entry = OPTIMIZERS["newton"]
    for static, searches in ((dict(), False), ({"linesearch": True}, True)):
        tx = entry.factory(**static)
        _, state = tx.update(grad, tx.init(x), x, value=value, grad=grad, value_fn=loss)
        extra, _ = entry.count_evals(state)
        assert (int(extra) > 0) is searches is entry.deterministic_only_for(static)


def test_schedule_capability_is_read_from_the_signature():
    refused = {n for n, e in OPTIMIZERS.items() if not accepts_schedule(e)}
    assert refused == {
        "bfgs",
        "lbfgs",
        "cg",
        "optax.polyak_sgd",
        "optax.rprop",
        "optax.sm3",
        "optax.optimistic_adam",
    }


# ------------------------------------------------------------------------------------- sweeps

FALLBACK = {
    "learning_rate": 0.05,
    "momentum": 0.5,
    "optimism": 0.5,
    "weight_decay_rate": 1e-3,
}
SCHEDULE = SCHEDULES["cosine"](decay_steps=4, alpha=0.1)
CLIP_LANES = (1e6, 0.5)  # lane 0 never clips, lane 1 clips the first steps
STEPS = 3


def hyperparameter_lanes(entry):
    """Two values per sweepable hyperparameter: the default (or a typical value) and a nudge."""
    params = inspect.signature(entry.factory).parameters
    lanes = {}
    for name in sorted(entry.sweepable):
        default = params[name].default
        value = FALLBACK[name] if default in (None, inspect.Parameter.empty) else default
        if isinstance(value, int) and not isinstance(value, bool):
            lanes[name] = (value, value)  # adafactor's decay_offset: > 0 is singular at step 0
        else:
            lanes[name] = (value, value * 0.99 if value else 1e-3)
    return lanes


def with_learning_rate(entry, hyperparams):
    if "learning_rate" in inspect.signature(entry.factory).parameters:
        return {"learning_rate": FALLBACK["learning_rate"], **hyperparams}
    return dict(hyperparams)


def run(entry, tx):
    """STEPS runner-style updates from X0; the final point and the last update's counts."""

    def step(carry, _):
        x, state = carry
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(x, updates), state), None

    (x, state), _ = jax.lax.scan(step, (X0, tx.init(X0)), None, length=STEPS)
    return x, entry.count_evals(state)


def composed(entry, hyperparams, clip_norm):
    schedule = SCHEDULE if accepts_schedule(entry) else None
    return build_transform(entry, hyperparams, schedule=schedule, clip_norm=clip_norm)


def bare(entry, hyperparams):
    """The entry's own transform, the schedule handed to the factory directly, no clipping."""
    if accepts_schedule(entry):
        lr = hyperparams["learning_rate"]
        hyperparams = {**hyperparams, "learning_rate": lambda count: lr * SCHEDULE(count)}
    return entry.factory(**hyperparams)


@pytest.mark.filterwarnings("ignore:Specifying a key will be required")
@pytest.mark.filterwarnings("ignore:`optimistic_adam` is deprecated")
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_entry_sweeps_under_jit_vmap_with_schedule_and_clipping(name):
    """Traced sweep + schedule + clipping, against runs with plain Python numbers.

    Lane 0 (clipping never binds) is compared with the BARE transform: so composition changes
    nothing it should not, and ``count_evals`` reads the same counts through the composed
    state. Lane 1 (clipping binds) is compared with the composed transform built from Python
    numbers.
    """
    entry = OPTIMIZERS[name]
    lanes = hyperparameter_lanes(entry)
    batched = {k: jnp.asarray(v, dtype=jnp.result_type(*v)) for k, v in lanes.items()}
    traces = []

    def lane(hyperparams, clip_norm):
        traces.append(None)
        return run(entry, composed(entry, with_learning_rate(entry, hyperparams), clip_norm))

    plain = [with_learning_rate(entry, {k: v[i] for k, v in lanes.items()}) for i in range(2)]

    @jax.jit
    def swept_and_references(batched, clip_lanes):
        swept = jax.vmap(lane)(batched, clip_lanes)
        # The same runs from plain Python numbers (not tracers), in the same compile.
        references = [
            run(entry, bare(entry, plain[0])),
            run(entry, composed(entry, plain[1], CLIP_LANES[1])),
        ]
        return swept, references

    (xs, (extra, hessian)), references = swept_and_references(batched, jnp.asarray(CLIP_LANES))
    assert len(traces) == 1  # one trace of the swept run for the whole grid
    assert xs.shape == (2, 3) and np.all(np.isfinite(xs))
    assert extra.dtype == jnp.int32 and hessian.dtype == jnp.int32 and extra.shape == (2,)
    assert not np.allclose(xs[0], X0) and not np.allclose(xs[0], xs[1])
    if entry.count_evals is not HAND_WRITTEN["gd"].count_evals:
        assert int(extra[0]) + int(hessian[0]) >= 1

    # adafactor keeps its momentum in float32: a Python-float and a float64-traced momentum
    # round differently there.
    rtol = 1e-6 if name == "optax.adafactor" else 1e-10
    for i, (x_ref, (extra_ref, hessian_ref)) in enumerate(references):
        np.testing.assert_allclose(xs[i], x_ref, rtol=rtol, atol=1e-14, err_msg=str(i))
        assert int(extra[i]) == int(extra_ref) and int(hessian[i]) == int(hessian_ref)


# ------------------------------------------------------------------------ schedule, clipping


def stepper(tx):
    @jax.jit
    def step(x, state):
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(x, updates), state

    return step


GRAD = jax.jit(jax.grad(loss))
HESSIAN = jax.jit(jax.hessian(loss))


def test_schedule_and_clip_follow_their_formulas_on_gd():
    lr, clip = 0.2, 0.3
    schedule = SCHEDULES["step"](step_size=1, factor=0.5)
    tx = build_transform(OPTIMIZERS["gd"], {"learning_rate": lr}, schedule=schedule, clip_norm=clip)
    step = stepper(tx)
    x, state = X0, tx.init(X0)
    expected = np.asarray(X0)
    for t in range(4):
        g = np.asarray(GRAD(jnp.asarray(expected)))
        clipped = g * min(1.0, clip / np.linalg.norm(g))
        expected = expected - lr * 0.5**t * clipped
        x, state = step(x, state)
        np.testing.assert_allclose(x, expected, rtol=1e-12)


def test_newton_step_length_follows_the_schedule():
    """newton evaluates a schedule at its own step count: x_{t+1} = x_t - lr m(t) H^-1 g."""
    schedule = SCHEDULES["step"](step_size=1, factor=0.5)
    tx = build_transform(OPTIMIZERS["newton"], {"learning_rate": 0.8}, schedule=schedule)
    step = stepper(tx)
    x, state = X0, tx.init(X0)
    expected = np.asarray(X0)
    for t in range(3):
        h, g = np.asarray(HESSIAN(jnp.asarray(expected))), np.asarray(GRAD(jnp.asarray(expected)))
        expected = expected - 0.8 * 0.5**t * np.linalg.solve(h, g)
        x, state = step(x, state)
        np.testing.assert_allclose(x, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "hyperparams", "message"),
    [
        ("bfgs", {}, "no"),
        ("optax.polyak_sgd", {}, "no"),
        ("optax.lbfgs", {}, "not set"),
        ("optax.rprop", {"learning_rate": 0.1}, "number"),
        ("optax.sm3", {"learning_rate": 0.1}, "number"),
        ("optax.optimistic_adam", {"learning_rate": 0.1}, "number"),
    ],
)
def test_schedule_is_refused_with_a_clear_error(name, hyperparams, message):
    with pytest.raises(ValueError, match=message):
        build_transform(OPTIMIZERS[name], hyperparams, schedule=SCHEDULES["constant"]())


def test_bad_clip_norm_is_refused():
    with pytest.raises(ValueError, match="clip_norm"):
        build_transform(OPTIMIZERS["gd"], {"learning_rate": 0.1}, clip_norm=-1.0)


# ------------------------------------------------------------------------- accepted points


def _statics(entry):
    """The static settings that change what an entry's state holds: its search switch."""
    if entry.line_search_argument is None:
        return [{}]
    return [{}, {entry.line_search_argument: True}, {entry.line_search_argument: False}]


@pytest.mark.filterwarnings("ignore:Specifying a key will be required")
@pytest.mark.filterwarnings("ignore:`optimistic_adam` is deprecated")
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_reports_accepted_point_is_what_the_state_holds(name):
    """The declared capability and the record the runner finds by type agree, on the bare
    transform and through build_transform's clipping (and schedule, where accepted)."""
    entry = OPTIMIZERS[name]
    for static in _statics(entry):
        expected = entry.reports_accepted_point and entry.deterministic_only_for(static)
        hyperparams = with_learning_rate(entry, static)
        for tx in (bare(entry, hyperparams), composed(entry, hyperparams, 0.5)):
            found = accepted_point_in_state(tx.init(X0))
            assert (found is not None) is expected, (static, found)


@pytest.mark.parametrize(
    ("name", "static"),
    [
        ("bfgs", {}),
        ("lbfgs", {"memory_size": 2}),
        ("cg", {}),
        ("cg", {"linesearch": "exact"}),
        ("newton", {"linesearch": True}),
        ("newton_cg", {}),
    ],
)
@pytest.mark.parametrize("clip_norm", [None, 0.5])  # 0.5 binds at X0 (|g| ~ 1.6)
def test_accepted_point_is_the_step_with_its_value_and_gradient(name, static, clip_norm):
    """The reported point is the update's step (x + updates, up to the rounding of that sum),
    and its value and gradient are the objective's there, also when clipping shortens the
    gradient going in (the search starts from the true value and gradient)."""
    entry = OPTIMIZERS[name]
    tx = build_transform(entry, static, clip_norm=clip_norm)

    @jax.jit
    def step(x, value, grad, state):
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(x, updates), state

    x, state = X0, tx.init(X0)
    value, grad = jax.value_and_grad(loss)(x)
    for _ in range(4):
        x_applied, state = step(x, value, grad, state)
        record = accepted_point_in_state(state)
        np.testing.assert_allclose(record.params, x_applied, rtol=1e-15, atol=1e-15)
        fresh_value, fresh_grad = jax.value_and_grad(loss)(record.params)
        np.testing.assert_allclose(record.value, fresh_value, rtol=1e-13)
        np.testing.assert_allclose(record.grad, fresh_grad, rtol=1e-12, atol=1e-14)
        assert not np.array_equal(record.params, x)  # it moved
        # As the runner does: the next update starts from the reported point.
        x, value, grad = record.params, record.value, record.grad


def test_two_reported_points_in_one_state_are_refused():
    tx = optax.chain(OPTIMIZERS["bfgs"].factory(), OPTIMIZERS["cg"].factory())
    with pytest.raises(ValueError, match="AcceptedPoint"):
        accepted_point_in_state(tx.init(X0))
