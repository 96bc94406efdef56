"""`python -m bench perf CONFIG`: the runner against the baselines people would otherwise use.

For each cell of a perf config (a problem, an optimizer entry, seeds, steps), in one process:

- runner: the suite's own compiled cell (recording, divergence checks, evaluation counts);
- runner (records at 0 and end): the same cell without its recording grid, where a floor is
  measured: what the records cost, apart from the checks and counts;
- python_loop: a per-step Python loop over a jitted step, one run at a time, the way
  tutorials and most suites run (lanes are timed until a time budget is spent; the total is
  scaled from the lanes measured, and the table says how many were);
- floor: a minimal hand-fused ``jit(vmap(scan))`` of the same update, no recording, no checks;
- scipy: scipy.optimize on the same objective (jitted value-and-gradient, Hessian-vector
  products for Newton-CG), stopped at the same gap as the runner, on deterministic cells.

Compile seconds and run seconds are apart; run seconds are medians of repeats, taken in
interleaved rounds (each round runs every timed method once) so that the ratios compare
methods over the same stretches of the machine's time. Ratios are
against the runner measured in the same run. Nothing here is a timed test: it is a report.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from bench.config import ConfigError, Suite, build_suite, read_yaml
from bench.config.schema import check_keys, did_you_mean
from bench.results.environment import environment
from bench.results.parquet import read_metadata, write_table
from bench.run.compile_cache import EVENTS
from bench.run.compute import compile_one
from bench.run.policies import make_transform_factory

BASELINES = ("python_loop", "floor", "scipy")
RUNNER_END_ONLY = "runner (records at 0 and end)"
SCIPY_METHODS = ("L-BFGS-B", "BFGS", "Newton-CG", "CG")
CELL_KEYS = (
    "name",
    "problem",
    "optimizer",
    "seeds",
    "steps",
    "target",
    "record_every",
    "baselines",
    "scipy",
    "python_loop_budget_s",
    "goals",
)
# Declared goals a cell may carry (`goals:` in the perf config), each checked in perf.md:
#   max_ratio_to_floor: runner run seconds / the hand-fused floor's, at most this;
#   max_compile_ratio_to_floor: runner compile seconds (trace, lower, XLA; with the
#     problem's shared programs) / the floor's, at most this;
#   min_fraction_of_floor_speedup: (Python loop / runner) / (Python loop / floor) run
#     seconds, at least this: the share of the floor's own speed-up the runner keeps;
#   min_speedup_over_python_loop: Python loop run seconds / the runner's, at least this;
#   min_speedup_over_scipy: scipy's wall time / the runner's to the same gap, at least this.
GOALS = (
    "max_ratio_to_floor",
    "max_compile_ratio_to_floor",
    "min_fraction_of_floor_speedup",
    "min_speedup_over_python_loop",
    "min_speedup_over_scipy",
)
TOP_KEYS = ("name", "description", "repeats", "dtype", "cells")


@dataclasses.dataclass(frozen=True)
class PerfCell:
    """One measured cell: a one-problem, one-optimizer suite plus what to compare it with."""

    name: str
    suite: Suite
    baselines: tuple[str, ...]
    scipy_method: str | None
    python_loop_budget_s: float
    goals: Mapping[str, float] = dataclasses.field(default_factory=dict)


def load_perf_config(path: str | Path) -> tuple[dict[str, Any], list[PerfCell]]:
    """Read and check a perf config; every cell is checked as a suite of its own."""
    raw = read_yaml(path)
    source = str(path)
    errors = check_keys(raw, list(TOP_KEYS), f"{source}: top level")
    cells_raw = raw.get("cells")
    if not isinstance(cells_raw, list) or not cells_raw:
        errors.append(
            f"{source}: cells must be a non-empty list of cells, each with a "
            "problem and an optimizer."
        )
        cells_raw = []
    repeats = raw.get("repeats", 5)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        errors.append(f"{source}: repeats must be an integer >= 1, got {repeats!r}.")
    cells: list[PerfCell] = []
    for index, cell in enumerate(cells_raw):
        where = f"{source}: cells[{index}]"
        if not isinstance(cell, dict):
            errors.append(f"{where}: a cell is a mapping with problem and optimizer.")
            continue
        errors += check_keys(cell, list(CELL_KEYS), where)
        baselines = cell.get("baselines", list(BASELINES[:2]))
        for baseline in baselines if isinstance(baselines, list) else [baselines]:
            if baseline not in BASELINES:
                errors.append(
                    f"{where}: unknown baseline {baseline!r}"
                    f"{did_you_mean(str(baseline), BASELINES)} Valid: "
                    f"{', '.join(BASELINES)}."
                )
        method = cell.get("scipy")
        if method is not None and method not in SCIPY_METHODS:
            errors.append(
                f"{where}: scipy must be one of {', '.join(SCIPY_METHODS)}, got "
                f"{method!r}{did_you_mean(str(method), SCIPY_METHODS)}."
            )
        if "scipy" in baselines and method is None:
            errors.append(f"{where}: the scipy baseline needs `scipy: <method>`.")
        goals = cell.get("goals", {})
        if not isinstance(goals, dict):
            errors.append(f"{where}: goals must be a mapping of {', '.join(GOALS)} to numbers.")
            goals = {}
        errors += check_keys(goals, list(GOALS), f"{where}: goals")
        for goal, value in goals.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                errors.append(f"{where}: goals: {goal} must be a positive number, got {value!r}.")
        suite_raw = {
            "name": str(cell.get("name", f"cell{index}")),
            "steps": cell.get("steps", 1000),
            "seeds": cell.get("seeds", 1),
            "dtype": raw.get("dtype", "float64"),
            "record_every": cell.get("record_every", 10),
            "curvature_max_dim": 0,  # perf measures the optimizer, not the curvature probes
            "problems": [cell.get("problem")],
            "optimizers": [cell.get("optimizer")],
        }
        if "target" in cell:
            suite_raw["target"] = cell["target"]
        try:
            suite = build_suite(suite_raw, source=where)
        except ConfigError as error:
            errors += error.messages
            continue
        if "scipy" in baselines and (
            suite.problems[0].stochastic or suite.target is None or suite.problems[0].f_star is None
        ):
            errors.append(
                f"{where}: the scipy baseline needs a deterministic problem with a "
                "known f* and a `target` gap to stop at."
            )
        cells.append(
            PerfCell(
                suite.name,
                suite,
                tuple(baselines),
                method,
                float(cell.get("python_loop_budget_s", 20.0)),
                {k: float(v) for k, v in goals.items() if k in GOALS},
            )
        )
    if errors:
        raise ConfigError(errors)
    return raw, cells


def interleaved_medians(calls: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
    """Median wall time of each call over ``repeats`` rounds, after one untimed warm-up each.

    Every round times every call once, in turn, so the methods of a cell share each stretch
    of the machine's time: a busy moment on a shared machine slows all of them alike and
    leaves their ratios alone, instead of landing on whichever method was being timed.
    """
    for call in calls:
        jax.block_until_ready(call())
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, spent in zip(calls, times, strict=True):
            start = time.perf_counter()
            jax.block_until_ready(call())
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def _lanes(suite: Suite) -> list[tuple[dict[str, float], int]]:
    setting = suite.optimizers[0]
    return [(point, seed) for point in setting.settings() for seed in suite.seeds]


def _step_function(suite: Suite):
    """One optimizer step as the Python-loop baseline and the floor both use it.

    The loop carries ``(x, opt_state)`` and, on a stochastic problem alone, the key its
    batches are drawn from: a training loop on a deterministic objective draws nothing, and a
    typed key passed through every jitted call costs a Python loop about 25 us a step on
    the CPU here (three times the rest of its dispatch).
    """
    problem, setting = suite.problems[0], suite.optimizers[0]
    make_tx = make_transform_factory(setting)

    def start(hyperparams: Mapping[str, Any], seed: jax.Array) -> tuple:
        init_key, key = jax.random.split(jax.random.key(seed))
        x = problem.init(init_key)
        opt_state = make_tx(hyperparams).init(x)
        return (x, opt_state, key) if problem.stochastic else (x, opt_state)

    def step(hyperparams: Mapping[str, Any], carry: tuple) -> tuple[tuple, jax.Array]:
        tx = make_tx(hyperparams)
        x, opt_state, key = carry[0], carry[1], carry[2:]  # key: () when deterministic
        batch = problem.data
        if problem.stochastic:
            stream, batch_key = jax.random.split(key[0])
            key = (stream,)
            batch = problem.sample(problem.data, batch_key)

        def value_fn(params):
            return problem.loss(params, batch)

        value, grad = jax.value_and_grad(value_fn)(x)
        updates, opt_state = tx.update(
            grad, opt_state, x, value=value, grad=grad, value_fn=value_fn
        )
        return (optax.apply_updates(x, updates), opt_state, *key), value

    return start, step


def measure_runner(cell: PerfCell, *, end_only: bool = False) -> dict[str, Any]:
    """The suite's compiled cell, compiled once; its ``call`` runs every lane.

    ``end_only``: the same cell recorded at the start and the end alone, which prices the
    recording grid (on a stochastic problem each record is a full-data value and gradient).
    """
    suite = cell.suite
    if end_only:
        suite = dataclasses.replace(suite, record_every=suite.steps, record_log=False)
    compiled = compile_one(suite.problems[0], suite.optimizers[0], suite)
    result = compiled.result()
    final = result.loss[..., -1] - (suite.problems[0].f_star or 0.0)
    return {
        "method": RUNNER_END_ONLY if end_only else "runner",
        "compile_s": compiled.compile_s,
        "call": lambda: compiled.run()[0].loss,
        "lanes": len(_lanes(suite)),
        "lanes_measured": len(_lanes(suite)),
        "final_gap": float(np.nanmedian(final)),
        # Line searches spend a varying number of evaluations per step (more at a converged
        # point, where rounding decides): the count explains a time that steps alone do not.
        "evals": float(np.median(result.evals[..., -1])),
        "result": result,
    }


def measure_python_loop(cell: PerfCell) -> dict[str, Any]:
    """One run at a time, a Python loop over a jitted step (the tutorial way)."""
    suite = cell.suite
    start_fn, step_fn = _step_function(suite)
    start_jit, step_jit = jax.jit(start_fn), jax.jit(step_fn)
    lanes = _lanes(suite)
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    compile_start = time.perf_counter()
    point, seed = lanes[0]
    hyper = jax.device_put({k: np.asarray(v, dtype) for k, v in point.items()})
    jax.block_until_ready(step_jit(hyper, start_jit(hyper, np.uint32(seed))))
    compile_s = time.perf_counter() - compile_start
    spent, measured, finals = 0.0, 0, []
    for point, seed in lanes:
        # On the device once per run, as a training script holds its hyperparameters: a
        # host array passed at every step would be copied at every step.
        hyper = jax.device_put({k: np.asarray(v, dtype) for k, v in point.items()})
        begin = time.perf_counter()
        carry = start_jit(hyper, np.uint32(seed))
        losses = []
        for _ in range(suite.steps):
            carry, value = step_jit(hyper, carry)
            losses.append(value)  # kept, as a training loop keeps its losses
        jax.block_until_ready((carry, losses))
        spent += time.perf_counter() - begin
        measured += 1
        finals.append(float(suite.problems[0].objective(carry[0])))
        if spent > cell.python_loop_budget_s:
            break
    run_s = spent * len(lanes) / measured
    f_star = suite.problems[0].f_star or 0.0
    return {
        "method": "python_loop",
        "compile_s": compile_s,
        "run_s": run_s,
        "lanes": len(lanes),
        "lanes_measured": measured,
        "final_gap": float(np.nanmedian(np.asarray(finals) - f_star)),
    }


def measure_floor(cell: PerfCell) -> dict[str, Any]:
    """The same update fused by hand in ``jit(vmap(scan))``: no records, no checks."""
    suite = cell.suite
    start_fn, step_fn = _step_function(suite)
    problem = suite.problems[0]

    def lane(hyper, seed):
        def body(carry, _):
            return step_fn(hyper, carry)[0], None

        carry, _ = jax.lax.scan(body, start_fn(hyper, seed), None, length=suite.steps)
        return problem.objective(carry[0])

    lanes = _lanes(suite)
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    names = list(lanes[0][0])
    hyper = {n: np.asarray([p[n] for p, _ in lanes], dtype) for n in names}
    seeds = np.asarray([s for _, s in lanes], np.uint32)
    begin = time.perf_counter()
    compiled = jax.jit(jax.vmap(lane)).lower(hyper, seeds).compile()
    compile_s = time.perf_counter() - begin
    finals = np.asarray(compiled(hyper, seeds)) - (problem.f_star or 0.0)
    return {
        "method": "floor",
        "compile_s": compile_s,
        "call": lambda: compiled(hyper, seeds),
        "lanes": len(lanes),
        "lanes_measured": len(lanes),
        "final_gap": float(np.nanmedian(finals)),
    }


def measure_scipy(cell: PerfCell) -> dict[str, Any]:
    """scipy.optimize on the same objective, stopped at the suite's target gap."""
    from scipy.optimize import minimize

    suite = cell.suite
    problem = suite.problems[0]
    f_star, target = float(problem.f_star), float(suite.target)
    value_and_grad = jax.jit(jax.value_and_grad(problem.objective))
    hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(problem.objective), (x,), (v,))[1])
    # The start of the runner's first lane (bench.run.kernel.make_run splits the seed's key).
    init_key, _ = jax.random.split(jax.random.key(suite.seeds[0]))
    x0 = np.asarray(problem.init(init_key), dtype=np.float64)
    begin = time.perf_counter()
    jax.block_until_ready((value_and_grad(jnp.asarray(x0)), hvp(jnp.asarray(x0), jnp.asarray(x0))))
    compile_s = time.perf_counter() - begin

    def fun(x):
        value, grad = value_and_grad(x)
        return float(value), np.asarray(grad, dtype=np.float64)

    def stop_at_target(intermediate_result):
        if intermediate_result.fun - f_star <= target:
            raise StopIteration

    options = {"maxiter": 100 * suite.steps}
    if cell.scipy_method in ("L-BFGS-B",):
        options |= {"gtol": 0.0, "ftol": 0.0}
    elif cell.scipy_method in ("BFGS", "CG"):
        options |= {"gtol": 0.0}
    elif cell.scipy_method == "Newton-CG":
        options |= {"xtol": 0.0}
    extra = (
        {"hessp": lambda x, v: np.asarray(hvp(x, v), dtype=np.float64)}
        if cell.scipy_method == "Newton-CG"
        else {}
    )

    def solve():
        return minimize(
            fun,
            x0,
            jac=True,
            method=cell.scipy_method,
            callback=stop_at_target,
            options=options,
            **extra,
        )

    result = solve()  # the same path every time: deterministic, from the same start
    return {
        "method": f"scipy {cell.scipy_method}",
        "compile_s": compile_s,
        "call": solve,
        "lanes": 1,
        "lanes_measured": 1,
        "final_gap": float(result.fun - f_star),
        "iterations": int(result.nit),
        "evals": int(result.nfev),
    }


def runner_to_target(cell: PerfCell, runner: dict[str, Any]) -> dict[str, Any]:
    """The runner again, with exactly the steps its first lane needed to reach the target."""
    result = runner["result"]
    target_index = int(np.argmin(np.abs(np.log(result.targets / cell.suite.target))))
    hit = int(result.hit_step[0, 0, target_index])
    if hit < 0:
        return {
            "method": "runner (to target)",
            "compile_s": np.nan,
            "run_s": np.nan,
            "lanes": 1,
            "lanes_measured": 0,
            "final_gap": np.nan,
            "iterations": -1,
        }
    # A cell compiled for another step count rounds differently, and a line search turns
    # that into a slightly different path: the rerun may need a few more steps to reach the
    # same gap. Extend it (10% at a time) until it does, so the comparison is at the target.
    f_star = cell.suite.problems[0].f_star
    steps = max(hit, 1)
    for _ in range(10):
        suite = dataclasses.replace(
            cell.suite, steps=steps, seeds=cell.suite.seeds[:1], record_every=steps
        )
        compiled = compile_one(suite.problems[0], suite.optimizers[0], suite)
        final = compiled.result()
        if final.loss[0, 0, -1] - f_star <= cell.suite.target:
            break
        steps = int(np.ceil(steps * 1.1))
    return {
        "method": "runner (to target)",
        "compile_s": compiled.compile_s,
        "call": lambda: compiled.run()[0].loss,
        "lanes": 1,
        "lanes_measured": 1,
        "final_gap": float(final.loss[0, 0, -1] - f_star),
        "iterations": steps,
        "evals": int(final.evals[0, 0, -1]),
    }


def recompile_check(cell: PerfCell) -> dict[str, Any]:
    """Run the compiled cell again with other numbers in its grid: does anything compile?"""
    suite = cell.suite
    compiled = compile_one(suite.problems[0], suite.optimizers[0], suite)
    first = compiled.run()[0].loss
    scaled = {k: v * 1.5 for k, v in compiled.hyperparams.items()}
    before, _ = EVENTS.snapshot()
    second = dataclasses.replace(compiled, hyperparams=scaled).run()[0].loss
    after, _ = EVENTS.snapshot()
    return {"xla_compiles": after - before, "changed": bool(np.any(first != second))}


def run_perf(
    config: str | Path,
    out_dir: Path,
    log: TextIO | None = None,
    bench_dir: Path | None = None,
) -> Path:
    """Measure every cell; write perf.parquet and perf.md into ``out_dir``.

    ``bench_dir``: a suite's results folder (``results/default``) whose recorded timing
    (total, compile share, compiles, the dominating cell) perf.md quotes, when it exists.
    """
    log = log or sys.stderr
    raw, cells = load_perf_config(config)
    repeats = int(raw.get("repeats", 5))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for cell in cells:
        print(f"[perf] {cell.name}", file=log, flush=True)
        runner = measure_runner(cell)
        measured = [runner]
        if "python_loop" in cell.baselines:
            measured.append(measure_python_loop(cell))  # timed on its own: a time budget
        if "floor" in cell.baselines:
            measured.append(measure_runner(cell, end_only=True))
            measured.append(measure_floor(cell))
        if "scipy" in cell.baselines:
            measured.append(runner_to_target(cell, runner))
            measured.append(measure_scipy(cell))
        timed = [m for m in measured if "call" in m]
        medians = interleaved_medians([m.pop("call") for m in timed], repeats)
        for m, run_s in zip(timed, medians, strict=True):
            m["run_s"] = run_s
        recompiles = recompile_check(cell) if cell.suite.optimizers[0].grid else None
        if recompiles is not None:
            notes.append(
                f"{cell.name}: the compiled cell run again with every grid value x1.5: "
                f"{recompiles['xla_compiles']} XLA compile(s); results "
                f"{'changed' if recompiles['changed'] else 'UNCHANGED'} (the numbers are "
                "inputs of the executable, not constants)."
            )
        base = {m["method"]: m for m in measured}
        for m in measured:
            steps = m.get("iterations", cell.suite.steps)
            reference = base["runner (to target)"] if m["method"].startswith("scipy") else runner
            rows.append(
                {
                    "cell": cell.name,
                    "problem": cell.suite.problems[0].name,
                    "optimizer": cell.suite.optimizers[0].name,
                    "method": m["method"],
                    "lanes": m["lanes"],
                    "lanes_measured": m["lanes_measured"],
                    "steps": steps,
                    "compile_s": m["compile_s"],
                    "run_s": m["run_s"],
                    "lane_steps_per_s": m["lanes"] * steps / m["run_s"] if m["run_s"] else np.nan,
                    "ratio_to_runner": m["run_s"] / reference["run_s"],
                    "final_gap": m["final_gap"],
                    "evals": m.get("evals", np.nan),
                }
            )
            print(
                f"  {m['method']:<20} compile {m['compile_s']:.2f} s  run {m['run_s']:.4f} s"
                f"  x{m['run_s'] / reference['run_s']:.2f} of the runner",
                file=log,
                flush=True,
            )
    table = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    goals = {cell.name: dict(cell.goals) for cell in cells if cell.goals}
    metadata = {
        "environment": environment(),
        "perf": {"config": raw, "notes": notes, "goals": goals},
        "bench": bench_timing(bench_dir),
        "executors": executor_summary(out_dir),
    }
    stem = "perf" if jax.default_backend() == "cpu" else f"perf-{jax.default_backend()}"
    write_table(table, out_dir / f"{stem}.parquet", metadata)
    report = out_dir / f"{stem}.md"
    report.write_text(perf_markdown(table, metadata))
    return report


def bench_timing(bench_dir: Path | None) -> dict[str, Any] | None:
    """The timing a suite run recorded in its runs.parquet metadata (None when absent)."""
    if bench_dir is None or not (bench_dir / "runs.parquet").exists():
        return None
    metadata = read_metadata(bench_dir / "runs.parquet")
    timing = metadata.get("timing")
    if not timing:
        return None
    return {"dir": str(bench_dir), "commit": metadata["environment"]["git_commit"], **timing}


def executor_summary(out_dir: Path) -> list[dict[str, Any]] | None:
    """The last `bench perf-executors` in ``out_dir``, summarised per executor, if any."""
    from bench.perf_executors import TABLE, summary_rows

    path = out_dir / TABLE
    return summary_rows(pd.read_parquet(path)) if path.is_file() else None


def goal_verdicts(table: pd.DataFrame, goals: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per declared goal: what was asked, what was measured, and whether it holds."""
    rows = []
    for cell, cell_goals in goals.items():
        group = table[table["cell"] == cell].set_index("method")
        run_s, compile_s = group["run_s"], group["compile_s"]
        scipy = [m for m in group.index if m.startswith("scipy")]
        for goal, bound in cell_goals.items():
            # What the floor itself scores on the same goal: the best a runner can do.
            ceiling = np.nan
            if goal == "max_ratio_to_floor" and "floor" in run_s:
                measured = run_s["runner"] / run_s["floor"]
                holds = measured <= bound
                text = f"runner / floor run seconds <= {bound:g}"
            elif goal == "max_compile_ratio_to_floor" and "floor" in compile_s:
                measured = compile_s["runner"] / compile_s["floor"]
                holds = measured <= bound
                text = f"runner / floor compile seconds <= {bound:g}"
            elif (
                goal == "min_fraction_of_floor_speedup"
                and "python_loop" in run_s
                and "floor" in run_s
            ):
                ceiling = run_s["python_loop"] / run_s["floor"]
                measured = (run_s["python_loop"] / run_s["runner"]) / ceiling
                holds = measured >= bound
                text = f"(Python loop / runner) >= {bound:g} x (Python loop / floor) run seconds"
                ceiling = 1.0
            elif goal == "min_speedup_over_python_loop" and "python_loop" in run_s:
                measured = run_s["python_loop"] / run_s["runner"]
                holds = measured >= bound
                text = f"Python loop / runner run seconds >= {bound:g}"
                if "floor" in run_s:
                    ceiling = run_s["python_loop"] / run_s["floor"]
            elif goal == "min_speedup_over_scipy" and scipy and "runner (to target)" in run_s:
                measured = run_s[scipy[0]] / run_s["runner (to target)"]
                holds = measured >= bound
                text = f"{scipy[0]} / runner wall seconds to the same gap >= {bound:g}"
            else:
                measured, holds, text = np.nan, False, f"{goal} {bound:g} (baseline not run)"
            rows.append(
                {
                    "cell": cell,
                    "goal": text,
                    "measured": measured,
                    "floor_scores": ceiling,
                    "holds": bool(holds),
                }
            )
    return pd.DataFrame(rows, columns=["cell", "goal", "measured", "floor_scores", "holds"])


def perf_markdown(table: pd.DataFrame, metadata: Mapping[str, Any]) -> str:
    """The perf report: one table per cell, the ratios, the environment."""
    env = metadata["environment"]
    lines = [
        "# Runner performance against the baselines",
        "",
        f"Measured on {env['backend']} ({env['device']}), {env['platform']}; python "
        f"{env['python']}, jax {env['jax']}, optax {env['optax']}, x64 {env['x64']}, commit "
        f"{env['git_commit']}. Run seconds are medians of repeats, taken in interleaved "
        "rounds (each round runs every method but the Python loop once, so a busy moment "
        "slows all alike); compile seconds are apart. "
        "`x runner` is run seconds over the runner's in the same process (for scipy: over the "
        "runner run for exactly the steps it needs to reach the same gap). The Python loop "
        "runs one lane at a time; where it was stopped by its time budget, its total is "
        "scaled from the lanes measured (column `lanes measured`). `runner (records at 0 and "
        "end)` is the same compiled cell without its recording grid: the gap between it and "
        "the runner is the price of the records. All methods run the same "
        "update (the suite's transform, an Optax `GradientTransformation`) from the same "
        "start.",
        "",
    ]
    verdicts = goal_verdicts(table, metadata["perf"].get("goals", {}))
    if not verdicts.empty:
        lines += [
            "## Goals",
            "",
            "| cell | goal | measured | the floor in the runner's place | holds |",
            "|---|---|---|---|---|",
        ]
        for row in verdicts.itertuples():
            floor = "-" if np.isnan(row.floor_scores) else f"{row.floor_scores:.3g}"
            lines.append(
                f"| {row.cell} | {row.goal} | {row.measured:.3g} | {floor} | "
                f"{'yes' if row.holds else '**no**'} |"
            )
        lines += [
            "",
            "The floor column scores the hand-fused floor (no records, no checks) on the same "
            "goal: the best any runner could reach on this machine. A goal the floor itself "
            "misses is out of reach here, whatever the runner does.",
            "",
        ]
    bench = metadata.get("bench")
    if bench:
        slowest = bench.get("slowest_cell") or {}
        lines += [
            "## make bench",
            "",
            f"The suite in `{bench['dir']}` (commit {bench['commit']}): {bench['total_s']:.1f} s "
            f"for {bench['cells_run']} cells run; compile step {bench['compile_s']:.1f} s "
            f"({100 * bench['compile_share']:.0f}%: {bench['xla_compiles']} XLA compiles, "
            f"{bench['cache_hits']} executables loaded from the persistent cache), running "
            f"{bench['run_s']:.1f} s. The cell that dominates: "
            f"{slowest.get('problem')} x {slowest.get('optimizer')} (compile "
            f"{slowest.get('compile_s', float('nan')):.2f} s, run "
            f"{slowest.get('run_s', float('nan')):.2f} s).",
            "",
        ]
    executors = metadata.get("executors")
    if executors:
        lines += [
            "## Executors",
            "",
            "A cold sweep with each executor, from the last `bench perf-executors` (details, "
            "and what was run, in [perf-executors.md](perf-executors.md)):",
            "",
            "| executor | runs | wall s (median) | x serial | cells differing from serial |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['executor']} | {r['runs']} | {r['wall_s']:.1f} | {r['wall_ratio']:.3f} | "
            f"{r['differing_cells']} |"
            for r in executors
        ]
        lines.append("")
    for cell, group in table.groupby("cell", sort=False):
        lines += [
            f"## {cell}",
            "",
            "| method | lanes (measured) | steps | compile s | run s | lane-steps/s | "
            "x runner | final gap | evals |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in group.itertuples():
            evals = "-" if pd.isna(row.evals) else f"{int(row.evals)}"
            lines.append(
                f"| {row.method} | {row.lanes} ({row.lanes_measured}) | {row.steps} | "
                f"{row.compile_s:.2f} | {row.run_s:.4g} | {row.lane_steps_per_s:.3g} | "
                f"{row.ratio_to_runner:.3g} | {row.final_gap:.3g} | {evals} |"
            )
        lines.append("")
    notes = metadata["perf"].get("notes", [])
    if notes:
        lines += ["## Compile economy", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
