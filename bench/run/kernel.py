"""The jitted runner: one cell (problem x optimizer entry x static settings) compiles ONCE.

Inside a cell, the grid of swept hyperparameters and the seeds are batch axes, flattened
into one axis of lanes (setting x seed pairs, so a big cell can run in equal chunks)::

    jit(vmap(run))   over lanes, each lane with its own hyperparameters, start and stream

and ``run`` is ONE flat ``fori_loop`` over the steps whose body is the optimizer's update
plus a few scalar checks; at a recorded step a ``lax.cond`` on the step alone (the same for
every lane, so ``vmap`` keeps it a real branch) writes the record into preallocated
buffers. Row ``step=t`` of a curve is the state after t updates; ``step=0`` is the start.

What does not depend on the optimizer is computed outside the loop, once per problem and
shared by every cell of it (``bench/run/shared.py``): the seeded starts (a deterministic
problem's cell then holds no random-number generation at all), the key of a stochastic
problem's batch stream, and the Hessian spectra along recorded paths (curvature).

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
from problems.base import FixedStart, Problem, nearest_distance

MakeTransform = Callable[[Mapping[str, jax.Array]], optax.GradientTransformationExtraArgs]
CountEvals = Callable[[Any], tuple[jax.Array, jax.Array]]

# Bumped when the runner's arithmetic or what it records changes: part of every cell key.
# 2: x_{t+1} and its value and gradient taken from a line search's accepted point, not
# evaluated (and counted) a second time.
# 3: one flat loop with records written at recorded steps; starts, the stream key and the
# Hessian spectra computed outside the cell (the same numbers, within rounding).
RUNNER_VERSION = 3

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
    key: Any  # the stream the batches are drawn from (stochastic problems; None otherwise)
    batch_key: Any  # the key of the next step's batch (None on a deterministic problem)
    step: jax.Array  # updates done so far
    evals: jax.Array  # value_and_grad evaluations spent by those updates, one per point
    hessian_evals: jax.Array
    diverged: jax.Array
    diverged_step: jax.Array  # first step whose state is non-finite, -1 if none
    hit_step: jax.Array  # per target: first step whose gap <= target, -1 if none
    hit_evals: jax.Array
    records: Any  # a _Record of buffers, one row per recorded step


class _Record(NamedTuple):
    loss: jax.Array
    grad_norm: jax.Array
    dist: jax.Array
    evals: jax.Array
    x: jax.Array  # (dim,) when the path or the curvature is recorded, else (0,)


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
      curvature: the eigenvalues of the Hessian of the full objective at each record
        (smallest eigenvalue and condition number along the path: saddles, plateaus). The
        cell records x for them; the spectra are computed after the run, outside the cell.
    """

    steps: np.ndarray
    path: bool = False
    curvature: bool = False

    @property
    def records_x(self) -> bool:
        return self.path or self.curvature


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
) -> Callable[[Mapping[str, jax.Array], jax.Array, Any], tuple[_Record, _Final]]:
    """``run(hyperparams, x0, stream)`` for one lane: the recorded metrics and the final carry.

    ``x0`` is the lane's start (None for a fixed start, which the program holds as a
    constant) and ``stream`` the key data of its batch stream on a stochastic problem (None
    on a deterministic one), both from ``bench/run/shared.py``.

    Each step ends by computing the next step's value and gradient at x_{t+1} (a look-ahead
    carried to the next step, which is where it is counted as an evaluation). On a
    deterministic problem that value is the full objective, so the divergence check, the
    per-step target scoring and the records reuse it instead of evaluating x again. When the
    update's state reports its accepted point (``AcceptedPoint``: a line search has evaluated
    x_{t+1} already), a deterministic problem's look-ahead is that point's value and gradient,
    not a new evaluation. A stochastic problem always evaluates: the look-ahead is on the
    next step's batch, which the search never saw.
    """
    steps = np.asarray(recording.steps)
    n_steps = int(steps[-1])
    # Per step t = 1..n_steps (index t): whether it is recorded, and into which row.
    is_record = np.zeros(n_steps + 1, bool)
    is_record[steps] = True
    record_row = np.cumsum(is_record) - 1
    f_star = np.nan if problem.f_star is None else float(problem.f_star)
    data = problem.data

    def batch_for(key: Any) -> Any:
        return problem.sample(data, key) if problem.stochastic else data

    def look_ahead(x: jax.Array, key: Any) -> tuple[jax.Array, jax.Array, Any, Any]:
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
        return _Record(
            loss,
            jnp.linalg.norm(grad),
            nearest_distance(x, problem.x_star),
            carry.evals,
            x if recording.records_x else x[:0],
        )

    def run(hyperparams: Mapping[str, jax.Array], x0: Any, stream: Any) -> tuple[_Record, _Final]:
        on_trace()
        if isinstance(problem.init, FixedStart):
            x0 = problem.init(None)  # a constant of the program, as XLA folds it
        sample_key = None if stream is None else jax.random.wrap_key_data(stream)
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
            carry = carry._replace(
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
            )
            # A non-finite x_{t+1}, or a non-finite value there, marks step t+1 diverged; the
            # lane keeps that state and stops changing.
            carry = _mark_diverged(carry, ~jnp.isfinite(value) | ~_all_finite(x))
            if not problem.stochastic:
                # Deterministic: targets are scored at every step, not only on the records.
                hit_step, hit_evals = _first_hits(carry, value - f_star, gap_targets)
                carry = carry._replace(hit_step=hit_step, hit_evals=hit_evals)
            return carry

        def store(carry: _Carry, record: _Record, row: jax.Array, score: bool) -> _Carry:
            """Write a record into its row; ``score``: judge the targets on its objective."""
            if problem.stochastic:
                # The steps saw batch losses only: the full objective can still overflow.
                carry = _mark_diverged(carry, ~jnp.isfinite(record.loss))
            if score:
                hit_step, hit_evals = _first_hits(carry, record.loss - f_star, gap_targets)
                carry = carry._replace(hit_step=hit_step, hit_evals=hit_evals)
            records = jax.tree.map(lambda buffer, v: buffer.at[row].set(v), carry.records, record)
            return carry._replace(records=records)

        def write_record(carry: _Carry, row: jax.Array) -> _Carry:
            # Deterministic steps were already scored at every step, on the same value.
            return store(carry, full_metrics(carry), row, score=problem.stochastic)

        def body(t: jax.Array, carry: _Carry) -> _Carry:
            carry = update(carry)
            # t is the loop's own counter, unbatched: vmap keeps this a branch, taken by
            # every lane at once on the recorded steps and skipped on the others.
            return jax.lax.cond(
                jnp.asarray(is_record)[t + 1],
                write_record,
                lambda c, _: c,
                carry,
                jnp.asarray(record_row)[t + 1],
            )

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
            records=None,
        )
        carry = _mark_diverged(carry, ~jnp.isfinite(value0) | ~_all_finite(x0))
        first = full_metrics(carry)
        buffers = jax.tree.map(lambda v: jnp.zeros((len(steps), *v.shape), v.dtype), first)
        # The start is scored on its full objective whatever the problem.
        carry = store(carry._replace(records=buffers), first, jnp.zeros((), jnp.int32), True)
        carry = jax.lax.fori_loop(0, n_steps, body, carry)
        final = _Final(
            carry.hessian_evals,
            carry.diverged,
            carry.diverged_step,
            carry.hit_step,
            carry.hit_evals,
        )
        return carry.records, final

    return run
