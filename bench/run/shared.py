"""What every cell of a problem shares, computed once per problem outside the cells.

The starts and the batch stream's key depend on the problem and the seed alone, and the
Hessian spectra along a path on the problem and the points alone: none of them depends on
the optimizer. Computed inside every cell they were compiled again with every optimizer
(random-number kernels were among the most expensive of a small cell, even in deterministic
cells that never read a key); here each is one small program per problem, compiled once
and reused by every cell of that problem in this process.

The arithmetic is the runner's own: ``init(split(key(seed))[0])`` for the start and
``split(key(seed))[1]`` for the stream, as ``bench/run/kernel.py`` drew them before. A
fixed start (``problems.base.FixedStart``) is not drawn: the cell holds it as a constant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from problems.base import FixedStart, Problem

# Points per call of the spectra program: a fixed shape, so one compile per problem serves
# cells of any number of lanes and records (the last chunk is padded).
SPECTRA_CHUNK = 512

# Compiled programs, per problem object (a Problem is compared by identity: eq=False). The
# problem is held beside its programs so that an id is never reused while cached.
_PROGRAMS: dict[tuple[int, str], tuple[Problem, Callable[..., Any]]] = {}


# Cells compile in two threads at once (bench.run.ahead): two cells of one problem must not
# both build its programs (a second compile, and a second count of it).
_BUILDING = threading.Lock()


def _program(problem: Problem, what: str, build: Callable[[], Callable[..., Any]]):
    key = (id(problem), what)
    with _BUILDING:
        if key not in _PROGRAMS:
            _PROGRAMS[key] = (problem, build())
        return _PROGRAMS[key][1]


def _starts_program(problem: Problem) -> Callable[[np.ndarray], tuple[Any, Any]]:
    fixed = isinstance(problem.init, FixedStart)

    def one(seed: jax.Array) -> tuple[Any, Any]:
        init_key, stream_key = jax.random.split(jax.random.key(seed))
        stream = jax.random.key_data(stream_key) if problem.stochastic else None
        return None if fixed else problem.init(init_key), stream

    return jax.jit(jax.vmap(one))


def draw_starts(
    problem: Problem, seeds: Sequence[int]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(x0 per seed, the key data of each seed's batch stream), axes (seed, ...).

    x0 is None for a fixed start (``FixedStart``: the cell holds it as a constant, as XLA
    folds it), the stream None on a deterministic problem; with both None nothing is
    compiled or run.
    """
    if isinstance(problem.init, FixedStart) and not problem.stochastic:
        return None, None
    program = _program(problem, "starts", lambda: _starts_program(problem))
    starts, stream = program(np.asarray(seeds, np.uint32))
    return (
        None if starts is None else np.asarray(starts),
        None if stream is None else np.asarray(stream),
    )


def spectra_program(problem: Problem) -> Callable[[np.ndarray], jax.Array]:
    """The compiled spectra program of a problem, for ``SPECTRA_CHUNK`` points at a time.

    Compiled ahead of time, so a cell that records curvature compiles it (at the first cell
    of its problem) with its own program, and running the cell compiles nothing.
    """

    def build() -> Callable[[np.ndarray], jax.Array]:
        def one(x: jax.Array) -> jax.Array:
            hessian = jax.hessian(problem.objective)(x)
            return jnp.linalg.eigvalsh(0.5 * (hessian + hessian.T))

        dtype = jax.dtypes.canonicalize_dtype(np.float64)
        points = jax.ShapeDtypeStruct((SPECTRA_CHUNK, problem.dim), dtype)
        return jax.jit(jax.vmap(one)).lower(points).compile()

    return _program(problem, "spectra", build)


def hessian_spectra(problem: Problem, points: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of the full objective's (symmetrized) Hessian at each point.

    ``points`` has axes (..., dim); the result has the same shape. A non-finite point (a
    diverged lane's frozen state) gets whatever the eigensolver makes of it, as before.
    """
    program = spectra_program(problem)
    flat = points.reshape(-1, problem.dim)
    count = flat.shape[0]
    if count == 0:
        return np.zeros(points.shape, points.dtype)
    chunks = []
    for begin in range(0, count, SPECTRA_CHUNK):
        index = np.arange(begin, begin + SPECTRA_CHUNK) % count  # pad by wrapping
        chunks.append(program(flat[index]))
    spectra = np.concatenate([np.asarray(c) for c in jax.block_until_ready(chunks)])[:count]
    return spectra.reshape(points.shape)
