"""The jitted runner: one cell (problem x optimizer entry x static settings) compiles ONCE.

Inside a cell, the grid of swept hyperparameters and the seeds are batch axes, flattened
into one axis of lanes (setting x seed pairs, so a big cell can run in equal chunks)::

    jit(vmap(run))   over lanes, each lane with its own hyperparameters and seed

and ``run`` is one ``lax.scan`` over the recording grid whose body advances the optimizer
by the steps between two records (a ``fori_loop``). Row ``step=t`` of a curve is the state
after t updates; ``step=0`` is the start.

A lane whose loss or parameters become non-finite is frozen and marked diverged inside the
compiled loop: under vmap a Python exception is not an option, and one bad learning rate
must not cost the rest of the sweep.

``evals`` counts each distinct ``value_and_grad`` once (SciPy's ``nfev``, Moré-Wild data
profiles; see ``optimizers.base``): a step spends the update's own evaluations
(``count_evals``) plus the runner's evaluation of ``x_{t+1}``, except when the update has
evaluated ``x_{t+1}`` itself, as a line search does at the step it accepts. Such an update
reports that point in its state (``optimizers.base.AcceptedPoint``); on a deterministic
problem the runner then moves to exactly that array and takes its value and gradient, with
no second evaluation and none counted. The choice is made from the state's structure when
the step is traced (no ``cond`` that ``vmap`` would turn into computing both branches).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optimizers.base import accepted_point_in_state
from problems.base import Problem, nearest_distance

MakeTransform = Callable[[Mapping[str, jax.Array]], optax.GradientTransformationExtraArgs]
CountEvals = Callable[[Any], tuple[jax.Array, jax.Array]]

# Bumped when the runner's arithmetic or what it records changes: part of every cell key.
# 2: x_{t+1} and its value and gradient taken from a line search's accepted point, not
# evaluated (and counted) a second time.
RUNNER_VERSION = 2

# The name of the dummy setting axis of a cell that sweeps nothing.
NO_GRID = "__no_grid__"

# The gap ladder every run is scored against (first hit, per run): 1e-1 ... 1e-8.
GAP_LADDER = tuple(10.0**-k for k in range(1, 9))


def record_grid(steps: int, every: int = 1, log: bool = False, points: int = 200) -> np.ndarray:
    """The steps at which a run is recorded: 0, the last step, and a linear or log grid."""
    if log:
        grid = np.unique(np.round(np.logspace(0, np.log10(max(steps, 1)), points)).astype(int))
    else:
        grid = np.arange(every, steps + 1, every)
    return np.unique(np.concatenate([[0], grid, [steps]])).astype(np.int64)


class _Carry(NamedTuple):
    x: jax.Array
    value: jax.Array  # loss at x on the next step's batch (deterministic: the full objective)
    grad: jax.Array  # its gradient: the next step's, already computed (see make_run)
    opt_state: Any
    key: jax.Array  # the stream the batches are drawn from (stochastic problems)
    batch_key: jax.Array  # the key of the next step's batch
    step: jax.Array  # updates done so far
    evals: jax.Array  # value_and_grad evaluations spent by those updates, one per point
    hessian_evals: jax.Array
    diverged: jax.Array
    diverged_step: jax.Array  # first step whose state is non-finite, -1 if none
    hit_step: jax.Array  # per target: first step whose gap <= target, -1 if none
    hit_evals: jax.Array


class _Record(NamedTuple):
    loss: jax.Array
    grad_norm: jax.Array
    dist: jax.Array
    evals: jax.Array
    x: jax.Array  # (dim,) when the path is recorded, else (0,)
    eigenvalues: jax.Array  # (dim,) Hessian spectrum when curvature is recorded, else (0,)


class _Final(NamedTuple):
    """What a lane reports once, at the end (the carry also holds state nobody reads)."""

    hessian_evals: jax.Array
    diverged: jax.Array
    diverged_step: jax.Array
    hit_step: jax.Array
    hit_evals: jax.Array


@dataclasses.dataclass(frozen=True)
class Recording:
    """What a cell records besides the scalar metrics (both cost memory or compute).

    Attributes:
      steps: the recording grid (see ``record_grid``).
      path: record the iterate x itself (used for trajectories over 2-d contours).
      curvature: record the eigenvalues of the Hessian of the full objective at each record
        (smallest eigenvalue and condition number along the path: saddles, plateaus).
    """

    steps: np.ndarray
    path: bool = False
    curvature: bool = False


def _all_finite(x: jax.Array) -> jax.Array:
    """Whether every entry of x is finite: max|x| is finite iff they all are (max propagates
    NaN). One reduction, cheaper on XLA:CPU than all(isfinite(x)) in the per-step loop."""
    return jnp.isfinite(jnp.max(jnp.abs(x)))


def _mark_diverged(carry: _Carry, bad: jax.Array) -> _Carry:
    """Mark the lane diverged at its current step; a lane already diverged keeps its step."""
    return carry._replace(
        diverged=carry.diverged | bad,
        diverged_step=jnp.where(bad & ~carry.diverged, carry.step, carry.diverged_step),
    )


def _first_hits(carry: _Carry, gap: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Record the first step (and evals) at which the gap falls to each target."""
    newly = (gap <= targets) & (carry.hit_step < 0) & ~carry.diverged
    hit_step = jnp.where(newly, carry.step, carry.hit_step)
    hit_evals = jnp.where(newly, carry.evals, carry.hit_evals)
    return hit_step, hit_evals


def make_run(
    problem: Problem,
    make_tx: MakeTransform,
    count_evals: CountEvals,
    recording: Recording,
    targets: np.ndarray,
    on_trace: Callable[[], None] = lambda: None,
) -> Callable[[Mapping[str, jax.Array], jax.Array], tuple[_Record, _Final]]:
    """``run(hyperparams, seed)`` for one lane: the recorded metrics and the final carry.

    Each step ends by computing the next step's value and gradient at x_{t+1} (a look-ahead
    carried to the next step, which is where it is counted as an evaluation). On a
    deterministic problem that value is the full objective, so the divergence check, the
    per-step target scoring and the records reuse it instead of evaluating x again. When the
    update's state reports its accepted point (``AcceptedPoint``: a line search has evaluated
    x_{t+1} already), a deterministic problem's look-ahead is that point's value and gradient,
    not a new evaluation. A stochastic problem always evaluates: the look-ahead is on the
    next step's batch, which the search never saw.
    """
    segment_lengths = np.diff(recording.steps)
    f_star = np.nan if problem.f_star is None else float(problem.f_star)
    data = problem.data

    def batch_for(key: jax.Array) -> Any:
        return problem.sample(data, key) if problem.stochastic else data

    def look_ahead(
        x: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """(value, grad) at x on the next step's batch, the stream key and that batch's key."""
        batch_key = key
        if problem.stochastic:
            key, batch_key = jax.random.split(key)
        value, grad = jax.value_and_grad(problem.loss)(x, batch_for(batch_key))
        return value, grad, key, batch_key

    def full_metrics(carry: _Carry) -> _Record:
        x = carry.x
        if problem.stochastic:
            loss, grad = jax.value_and_grad(problem.objective)(x)
        else:
            loss, grad = carry.value, carry.grad  # already the full objective at x
        path = x if recording.path else x[:0]
        if recording.curvature:
            hessian = jax.hessian(problem.objective)(x)
            eigenvalues = jnp.linalg.eigvalsh(0.5 * (hessian + hessian.T))
        else:
            eigenvalues = x[:0]
        return _Record(
            loss,
            jnp.linalg.norm(grad),
            nearest_distance(x, problem.x_star),
            carry.evals,
            path,
            eigenvalues,
        )

    def run(hyperparams: Mapping[str, jax.Array], seed: jax.Array) -> tuple[_Record, _Final]:
        on_trace()
        init_key, sample_key = jax.random.split(jax.random.key(seed))
        x0 = problem.init(init_key)
        gap_targets = jnp.asarray(targets, x0.dtype)
        tx = make_tx({k: v for k, v in hyperparams.items() if k != NO_GRID})

        def update(carry: _Carry) -> _Carry:
            batch = batch_for(carry.batch_key)

            def value_fn(x: jax.Array) -> jax.Array:
                return problem.loss(x, batch)

            updates, opt_state = tx.update(
                carry.grad,
                carry.opt_state,
                carry.x,
                value=carry.value,
                grad=carry.grad,
                value_fn=value_fn,
            )
            extra_evals, hessian_evals = count_evals(opt_state)
            frozen = carry.diverged
            step = jnp.where(frozen, carry.step, carry.step + 1)
            # Static: the state's structure says whether the update evaluated x_{t+1} itself.
            accepted = None if problem.stochastic else accepted_point_in_state(opt_state)
            if accepted is None:
                x = jnp.where(frozen, carry.x, optax.apply_updates(carry.x, updates))
                # The next step's value and gradient, computed here: on a deterministic
                # problem they are the full objective at x_{t+1}, so scoring and records get
                # them free.
                value, grad, key, batch_key = look_ahead(x, carry.key)
                lookahead_evals = 1
            else:
                # The search's accepted trial: the very array it evaluated (not x + updates,
                # which may round differently), with its value and gradient there. Already
                # counted among the update's own evaluations. A frozen lane keeps its state.
                x = jnp.where(frozen, carry.x, accepted.params)
                value = jnp.where(frozen, carry.value, accepted.value)
                grad = jnp.where(frozen, carry.grad, accepted.grad)
                key, batch_key = carry.key, carry.batch_key  # deterministic: never drawn
                lookahead_evals = 0
            carry = _Carry(
                x=x,
                value=value,
                grad=grad,
                opt_state=opt_state,
                key=key,
                batch_key=batch_key,
                step=step,
                evals=jnp.where(frozen, carry.evals, carry.evals + lookahead_evals + extra_evals),
                hessian_evals=jnp.where(
                    frozen, carry.hessian_evals, carry.hessian_evals + hessian_evals
                ),
                diverged=frozen,
                diverged_step=carry.diverged_step,
                hit_step=carry.hit_step,
                hit_evals=carry.hit_evals,
            )
            # A non-finite x_{t+1}, or a non-finite value there, marks step t+1 diverged; the
            # lane keeps that state and stops changing.
            carry = _mark_diverged(carry, ~jnp.isfinite(value) | ~_all_finite(x))
            if not problem.stochastic:
                # Deterministic: targets are scored at every step, not only on the records.
                hit_step, hit_evals = _first_hits(carry, value - f_star, gap_targets)
                carry = carry._replace(hit_step=hit_step, hit_evals=hit_evals)
            return carry

        def score_record(carry: _Carry, record: _Record) -> _Carry:
            """Divergence and first hits judged on a record's full objective."""
            if problem.stochastic:
                # The steps saw batch losses only: the full objective can still overflow.
                carry = _mark_diverged(carry, ~jnp.isfinite(record.loss))
            hit_step, hit_evals = _first_hits(carry, record.loss - f_star, gap_targets)
            return carry._replace(hit_step=hit_step, hit_evals=hit_evals)

        def segment(carry: _Carry, length: jax.Array) -> tuple[_Carry, _Record]:
            carry = jax.lax.fori_loop(0, length, lambda _, c: update(c), carry)
            record = full_metrics(carry)
            if problem.stochastic:  # deterministic steps already scored every step
                carry = score_record(carry, record)
            return carry, record

        n_targets = len(targets)
        value0, grad0, key0, batch_key0 = look_ahead(x0, sample_key)
        carry = _Carry(
            x=x0,
            value=value0,
            grad=grad0,
            opt_state=tx.init(x0),
            key=key0,
            batch_key=batch_key0,
            step=jnp.zeros((), jnp.int32),
            evals=jnp.zeros((), jnp.int32),
            hessian_evals=jnp.zeros((), jnp.int32),
            diverged=jnp.zeros((), bool),
            diverged_step=jnp.full((), -1, jnp.int32),
            hit_step=jnp.full((n_targets,), -1, jnp.int32),
            hit_evals=jnp.full((n_targets,), -1, jnp.int32),
        )
        carry = _mark_diverged(carry, ~jnp.isfinite(value0) | ~_all_finite(x0))
        first = full_metrics(carry)
        carry = score_record(carry, first)
        carry, records = jax.lax.scan(segment, carry, jnp.asarray(segment_lengths, jnp.int32))
        records = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, records)
        final = _Final(
            carry.hessian_evals,
            carry.diverged,
            carry.diverged_step,
            carry.hit_step,
            carry.hit_evals,
        )
        return records, final

    return run
