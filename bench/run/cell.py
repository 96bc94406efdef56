"""The compiled cell: every lane (setting x seed) of one cell through one executable, in
equal chunks when the lanes would not fit in memory; and the raw arrays it returns."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from bench.run.compile_cache import EVENTS
from bench.run.kernel import (
    GAP_LADDER,
    NO_GRID,
    CountEvals,
    MakeTransform,
    Recording,
    _Final,
    _Record,
    make_run,
)
from bench.run.shared import draw_starts, hessian_spectra, spectra_program
from problems.base import Problem


@dataclasses.dataclass(frozen=True)
class CellResult:
    """The raw arrays of one cell: axes (setting, seed[, record or target])."""

    settings: list[dict[str, float]]
    seeds: tuple[int, ...]
    record_steps: np.ndarray  # (R,)
    targets: np.ndarray  # (T,)
    loss: np.ndarray  # (S, N, R) full objective at each recorded step
    grad_norm: np.ndarray  # (S, N, R) norm of the full gradient
    dist: np.ndarray  # (S, N, R) distance to the nearest known minimizer
    evals: np.ndarray  # (S, N, R) cumulative function/gradient evaluations
    hessian_evals: np.ndarray  # (S, N)
    diverged: np.ndarray  # (S, N)
    diverged_step: np.ndarray  # (S, N)
    hit_step: np.ndarray  # (S, N, T), -1 = never
    hit_evals: np.ndarray  # (S, N, T), -1 = never
    x: np.ndarray  # (S, N, R, dim) or (S, N, R, 0) when the path is not recorded
    eigenvalues: np.ndarray  # (S, N, R, dim) ascending, or (S, N, R, 0)
    compile_s: float  # trace + lower + XLA compile of the cell (and of its shared programs)
    run_s: float
    n_traces: int
    chunks: int = 1  # how many pieces the lanes ran in (memory)
    backend_compiles: int = 1
    cache_hits: int = 0
    trace_s: float = float("nan")  # the parts of compile_s: Python tracing to a jaxpr,
    lower_s: float = float("nan")  # lowering it to StableHLO,
    xla_s: float = float("nan")  # and XLA's compile (or a load from the persistent cache)
    devices: int = 1  # how many devices the lanes were split over (``--devices``)


@dataclasses.dataclass(frozen=True)
class CompiledCell:
    """A cell compiled once, ready to run (again: `perf` repeats runs without recompiling).

    Lanes (setting x seed pairs) are one flat batch axis, run in equal chunks of
    ``chunk_lanes`` (the last one padded) so a cell whose lanes would not fit in memory runs
    in pieces through the same executable.
    """

    compiled: Any
    problem: Problem
    recording: Recording
    settings: list[dict[str, float]]
    targets: np.ndarray
    hyperparams: dict[str, np.ndarray]  # (lanes,) per swept name
    seeds: np.ndarray  # (lanes,)
    starts: np.ndarray | None  # (lanes, dim) each lane's x0 drawn outside; None: fixed start
    streams: np.ndarray | None  # (lanes, 2) key data of each lane's batch stream, or None
    n_settings: int
    n_seeds: int
    chunk_lanes: int
    trace_s: float
    lower_s: float
    xla_s: float
    n_traces: int
    backend_compiles: int  # XLA compiles this cell triggered (0 on a persistent-cache hit)
    cache_hits: int
    devices: int = 1  # the lanes of a chunk are split over this many devices

    @property
    def compile_s(self) -> float:
        return self.trace_s + self.lower_s + self.xla_s

    def run(self) -> tuple[_Record, _Final, float]:
        """Run every lane; returns (records, final carry, run seconds), axes (S, N, ...)."""
        lanes = self.seeds.shape[0]
        start = time.perf_counter()
        outputs = []
        for begin in range(0, lanes, self.chunk_lanes):
            index = np.arange(begin, begin + self.chunk_lanes) % lanes  # pad by wrapping
            chunk = {k: v[index] for k, v in self.hyperparams.items()}
            starts = None if self.starts is None else self.starts[index]
            streams = None if self.streams is None else self.streams[index]
            outputs.append(self.compiled(chunk, starts, streams))
        outputs = jax.block_until_ready(outputs)
        run_s = time.perf_counter() - start
        records, final = jax.tree.map(
            lambda *parts: np.concatenate([np.asarray(p) for p in parts])[:lanes].reshape(
                (self.n_settings, self.n_seeds, *parts[0].shape[1:])
            ),
            *outputs,
        )
        return records, final, run_s

    def result(self) -> CellResult:
        """Run every lane once and gather the arrays of the cell."""
        records, final, run_s = self.run()
        x = records.x
        empty = x[..., :0]
        eigenvalues = empty
        if self.recording.curvature:
            start = time.perf_counter()
            eigenvalues = hessian_spectra(self.problem, x)
            run_s += time.perf_counter() - start
        return CellResult(
            settings=self.settings,
            seeds=tuple(int(s) for s in self.seeds[: self.n_seeds]),
            record_steps=np.asarray(self.recording.steps),
            targets=self.targets,
            loss=records.loss,
            grad_norm=records.grad_norm,
            dist=records.dist,
            evals=records.evals,
            hessian_evals=final.hessian_evals,
            diverged=final.diverged,
            diverged_step=final.diverged_step,
            hit_step=final.hit_step,
            hit_evals=final.hit_evals,
            x=x if self.recording.path else empty,
            eigenvalues=eigenvalues,
            compile_s=self.compile_s,
            run_s=run_s,
            n_traces=self.n_traces,
            backend_compiles=self.backend_compiles,
            cache_hits=self.cache_hits,
            chunks=int(np.ceil(self.seeds.shape[0] / self.chunk_lanes)),
            trace_s=self.trace_s,
            lower_s=self.lower_s,
            xla_s=self.xla_s,
            devices=self.devices,
        )


def lane_sharding(devices: Sequence[Any] | None) -> NamedSharding | None:
    """The lanes axis split over ``devices`` (None for fewer than two: nothing to split).

    Lanes are independent (``vmap``), so each device runs the same per-lane program on its
    share of them; no value crosses devices until the results are gathered.
    """
    if devices is None or len(devices) < 2:
        return None
    mesh = Mesh(np.asarray(list(devices)), ("lanes",))
    return NamedSharding(mesh, PartitionSpec("lanes"))


def lane_bytes(
    problem: Problem, recording: Recording, needs_hessian: bool, *, dense_state: bool = False
) -> int:
    """A rough upper estimate of the memory one lane needs while it runs.

    Dense matrices dominate: a Hessian, its factorization and the workspace of the solve
    (about four dim x dim arrays); and, for an optimizer with ``dense_state`` (BFGS), its
    dim x dim matrix in the carried state, the next one, and the outer products of the
    rank-two update (about four more). The recorded metrics and the rest of the optimizer
    state (a few vectors, or an L-BFGS memory) are small beside them.
    """
    itemsize = jnp.dtype(jnp.result_type(float)).itemsize
    dim, records = problem.dim, len(recording.steps)
    square = 4 * dim * dim if needs_hessian or recording.curvature else 0
    if dense_state:
        square += 4 * dim * dim
    vectors = 64 * dim
    recorded = records * (8 + (dim if recording.records_x else 0))
    return itemsize * (square + vectors + recorded)


def compile_cell(
    problem: Problem,
    make_tx: MakeTransform,
    count_evals: CountEvals,
    settings: Sequence[Mapping[str, float]],
    seeds: Sequence[int],
    recording: Recording,
    targets: Sequence[float] = GAP_LADDER,
    max_lane_bytes: int | None = None,
    per_lane_bytes: int = 0,
    devices: Sequence[Any] | None = None,
) -> CompiledCell:
    """Trace and compile one cell ahead of time (ONE compile whatever the grid and seeds).

    ``max_lane_bytes`` caps the memory of one chunk: with ``per_lane_bytes`` (see
    ``lane_bytes``) it sets how many lanes run at once. ``devices`` (two or more) splits
    each chunk's lanes over them (``lane_sharding``), the chunk padded to a multiple of
    their number; every lane computes what it computes alone.
    """
    traces = 0

    def count_trace() -> None:
        nonlocal traces
        traces += 1

    targets_array = np.asarray(targets, dtype=np.float64)
    run = make_run(problem, make_tx, count_evals, recording, targets_array, count_trace)
    sharding = lane_sharding(devices)
    batched = (
        jax.jit(jax.vmap(run))
        if sharding is None
        else jax.jit(jax.vmap(run), in_shardings=sharding, out_shardings=sharding)
    )
    n_devices = 1 if sharding is None else len(sharding.mesh.devices)

    # Host (numpy) inputs: an eager jnp conversion would be a compile of its own.
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    settings = list(settings) or [{}]
    names = list(settings[0])
    n_settings, n_seeds = len(settings), len(seeds)
    hyperparams = {
        n: np.repeat(np.asarray([s[n] for s in settings], dtype), n_seeds) for n in names
    }
    if not names:
        # No swept hyperparameter: one setting, carried by a dummy axis of length one.
        hyperparams = {NO_GRID: np.zeros((n_seeds,), dtype)}
    lane_seeds = np.tile(np.asarray(seeds, np.uint32), n_settings)
    compiles_before, hits_before = EVENTS.snapshot()
    start = time.perf_counter()
    # Shared with every other cell of the problem (compiled at its first cell only).
    seed_starts, seed_streams = draw_starts(problem, seeds)
    starts = None if seed_starts is None else np.tile(seed_starts, (n_settings, 1))
    streams = None if seed_streams is None else np.tile(seed_streams, (n_settings, 1))
    if recording.curvature:
        spectra_program(problem)
    shared_s = time.perf_counter() - start

    lanes = n_settings * n_seeds
    chunk = lanes
    if max_lane_bytes is not None and per_lane_bytes > 0:
        chunk = int(np.clip(max_lane_bytes // per_lane_bytes, 1, lanes))
        chunk = int(np.ceil(lanes / np.ceil(lanes / chunk)))  # equal chunks, least padding
    chunk = int(np.ceil(chunk / n_devices)) * n_devices  # as many lanes on every device
    # The shape `run` feeds: a chunk may be longer than the lanes (padded to a multiple of
    # the devices), its rows wrapping around as in `CompiledCell.run`.
    rows = np.arange(chunk) % lanes
    example = (
        {k: v[rows] for k, v in hyperparams.items()},
        None if starts is None else starts[rows],
        None if streams is None else streams[rows],
    )

    start = time.perf_counter()
    traced = batched.trace(*example)
    trace_s = time.perf_counter() - start
    start = time.perf_counter()
    lowered = traced.lower()
    lower_s = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    xla_s = time.perf_counter() - start + shared_s
    compiles_after, hits_after = EVENTS.snapshot()
    return CompiledCell(
        compiled,
        problem,
        recording,
        [dict(p) for p in settings],
        targets_array,
        hyperparams,
        lane_seeds,
        starts,
        streams,
        n_settings,
        n_seeds,
        chunk,
        trace_s,
        lower_s,
        xla_s,
        traces,
        compiles_after - compiles_before,
        hits_after - hits_before,
        n_devices,
    )


def run_cell(
    problem: Problem,
    make_tx: MakeTransform,
    count_evals: CountEvals,
    settings: Sequence[Mapping[str, float]],
    seeds: Sequence[int],
    recording: Recording,
    targets: Sequence[float] = GAP_LADDER,
    max_lane_bytes: int | None = None,
    per_lane_bytes: int = 0,
) -> CellResult:
    """Compile the cell once (ahead of time), run every setting x seed, return numpy arrays."""
    cell = compile_cell(
        problem,
        make_tx,
        count_evals,
        settings,
        seeds,
        recording,
        targets,
        max_lane_bytes,
        per_lane_bytes,
    )
    return cell.result()
