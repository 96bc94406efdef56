"""Small, realistic results folders written without the registries or JAX: a few optimizers
simulated in numpy on a few surfaces, recorded the way bench/suite.py records them (the
contract tables curves, runs, paths, curvature and surfaces, with their metadata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.results.columns import ladder_column
from bench.results.environment import SCHEMA_VERSION
from bench.results.parquet import write_table
from bench.summary import best_settings
from optimizers import ADAPTIVE, FIRST_ORDER, NEWTON
from problems import surface_class

LADDER = tuple(10.0**-k for k in range(1, 9))
TARGET = 1e-6


def _quadratic(diagonal, offset=0.0):
    d = np.asarray(diagonal, dtype=float)
    return (
        lambda x: 0.5 * float(np.sum(d * x * x)) + offset,
        lambda x: d * x,
        lambda x: np.diag(d),
    )


def _saddle():
    # f = x0^2/2 + x1^4/4 - x1^2/2: a saddle at 0, minima at (0, +-1) with f* = -1/4.
    return (
        lambda x: 0.5 * x[0] ** 2 + 0.25 * x[1] ** 4 - 0.5 * x[1] ** 2,
        lambda x: np.array([x[0], x[1] ** 3 - x[1]]),
        lambda x: np.diag([1.0, 3 * x[1] ** 2 - 1]),
    )


PROBLEMS = {
    "quad-2d": dict(
        kind="quadratic",
        dim=2,
        f=_quadratic([1.0, 10.0]),
        f_star=0.0,
        x_star=[[0.0, 0.0]],
        bounds=[[-2.0, 2.0], [-1.5, 1.5]],
        start=[-1.5, 1.0],
        description="A 2-d quadratic with condition number 10.",
    ),
    "saddle-2d": dict(
        kind="saddle",
        dim=2,
        f=_saddle(),
        f_star=-0.25,
        x_star=[[0.0, 1.0], [0.0, -1.0]],
        bounds=[[-1.5, 1.5], [-1.6, 1.6]],
        start=[1.0, 1e-3],
        description="A strict saddle at the origin, minima at (0, +-1).",
    ),
    "ill-10d": dict(
        kind="quadratic",
        dim=10,
        f=_quadratic(np.geomspace(1.0, 100.0, 10)),
        f_star=0.0,
        x_star=[[0.0] * 10],
        bounds=None,
        start=[1.0] * 10,
        description="A 10-d quadratic with condition number 100.",
    ),
    "offset-20d": dict(
        kind="quadratic",
        dim=20,
        f=_quadratic(np.geomspace(1.0, 10.0, 20), offset=0.3),
        f_star=None,
        x_star=None,
        bounds=None,
        start=[1.0] * 20,
        description="f* deliberately unknown: ranked by final loss.",
    ),
}

# Each simulated method's family (optimizers.FAMILIES): armijo is gd with a line search.
FAMILY = {
    "gd": FIRST_ORDER,
    "momentum": FIRST_ORDER,
    "armijo": FIRST_ORDER,
    "adam": ADAPTIVE,
    "newton": NEWTON,
}

# name -> (method, grid of learning rates or None, default setting label)
OPTIMIZERS = {
    "gd": ("gd", [0.005, 0.02, 0.08, 0.25], "learning_rate=0.02"),
    "momentum": ("momentum", [0.002, 0.01, 0.05], "learning_rate=0.01"),
    "adam": ("adam", [0.01, 0.1, 0.5], None),
    "newton": ("newton", None, "default"),
    "gd-armijo": ("armijo", None, "default"),
}


def _step_fn(method: str, lr: float, f, g, h):
    state = {"m": None, "v": None, "t": 0}

    def step(x, value, grad):
        extra, hess = 0, 0
        if method == "gd":
            return x - lr * grad, extra, hess
        if method == "momentum":
            state["m"] = grad if state["m"] is None else 0.9 * state["m"] + grad
            return x - lr * state["m"], extra, hess
        if method == "adam":
            state["t"] += 1
            m = np.zeros_like(x) if state["m"] is None else state["m"]
            v = np.zeros_like(x) if state["v"] is None else state["v"]
            state["m"], state["v"] = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad**2
            m_hat = state["m"] / (1 - 0.9 ** state["t"])
            v_hat = state["v"] / (1 - 0.999 ** state["t"])
            return x - lr * m_hat / (np.sqrt(v_hat) + 1e-8), extra, hess
        if method == "newton":
            return x - np.linalg.solve(h(x), grad), extra, 1
        # Armijo backtracking from a unit step: trials vary per start, so evals do too.
        alpha = 1.0
        while f(x - alpha * grad) > value - 1e-4 * alpha * grad @ grad and alpha > 1e-10:
            alpha *= 0.5
            extra += 1
        return x - alpha * grad, extra + 1, hess

    return step


def simulate(problem: dict, method: str, lr: float, seed: int, steps: int, record: np.ndarray):
    """One run, recorded like bench/runner.py: metrics at the recorded steps, ladder hits at
    every step, a lane frozen (loss inf) once it blows up."""
    f, g, h = problem["f"]
    rng = np.random.default_rng(seed)
    x = np.asarray(problem["start"], dtype=float) + 0.05 * rng.standard_normal(problem["dim"])
    step = _step_fn(method, lr, f, g, h)
    f_star = problem["f_star"]
    x_star = None if problem["x_star"] is None else np.asarray(problem["x_star"])
    out = {k: [] for k in ("loss", "grad_norm", "dist", "evals", "x", "eig")}
    hits = {t: (np.nan, np.nan) for t in LADDER}
    evals = hessian_evals = 0
    diverged_step = np.nan
    for t in range(steps + 1):
        value, grad = f(x), g(x)
        bad = not np.isfinite(value) or abs(value) > 1e12 or not np.all(np.isfinite(x))
        if bad and np.isnan(diverged_step):
            diverged_step = t
        if f_star is not None and not bad:
            for target in LADDER:
                if value - f_star <= target and np.isnan(hits[target][0]):
                    hits[target] = (t, evals)
        if t in record:
            frozen = not np.isnan(diverged_step)
            out["loss"].append(np.inf if frozen else value)
            out["grad_norm"].append(np.nan if frozen else np.linalg.norm(grad))
            out["dist"].append(
                np.nan if x_star is None else float(np.min(np.linalg.norm(x_star - x, axis=1)))
            )
            out["evals"].append(evals)
            out["x"].append(x.copy())
            out["eig"].append(np.linalg.eigvalsh(h(x)))
        if t == steps or not np.isnan(diverged_step):
            if t < steps:  # frozen: the remaining records repeat the frozen state
                for _ in record[record > t]:
                    out["loss"].append(np.inf)
                    out["grad_norm"].append(np.nan)
                    out["dist"].append(np.nan)
                    out["evals"].append(evals)
                    out["x"].append(x.copy())
                    out["eig"].append(np.linalg.eigvalsh(h(x)))
            break
        x, extra, hess = step(x, value, grad)
        evals += 1 + extra
        hessian_evals += hess
    return out, hits, evals, hessian_evals, diverged_step


def _label(lr):
    return "default" if lr is None else f"learning_rate={lr:.3g}"


def build(
    out: Path,
    steps: int = 100,
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    extra_optimizers: int = 0,
    problems: tuple[str, ...] | None = None,
    log_record: bool = False,
) -> Path:
    """Write a synthetic results folder into ``out`` and return it."""
    optimizers = dict(OPTIMIZERS)
    for k in range(extra_optimizers):
        method = ("gd", "momentum", "adam")[k % 3]
        grid = [lr * (1 + 0.3 * (k // 3 + 1)) for lr in OPTIMIZERS[method][1]]
        optimizers[f"{method}-variant-{k}"] = (method, grid, None)
    problem_names = list(problems or PROBLEMS)
    if log_record:  # like `record_log: true`: 0, then log-spaced steps up to the last
        record = np.unique(np.concatenate([[0], np.geomspace(1, steps, 30).round(), [steps]]))
        record = record.astype(np.int64)
    else:
        record = np.unique(np.concatenate([np.arange(0, steps + 1, 5), [steps]]))
    curves, runs, paths, curvature, surfaces = [], [], [], [], []
    for name in problem_names:
        problem = PROBLEMS[name]
        for opt, (method, grid, default) in optimizers.items():
            if method == "newton" and problem["dim"] > 10:
                for seed in seeds:
                    runs.append(
                        {
                            "problem": name,
                            "optimizer": opt,
                            "setting": 0,
                            "seed": seed,
                            "setting_label": "default",
                            "seeds_identical": False,
                            "status": "skipped",
                            "steps": steps,
                            "reason": "needs a dense Hessian; dim 20 is above max_hessian_dim 10",
                        }
                    )
                continue
            cell_runs, lanes = [], {}
            compile_s = 0.4 + 0.01 * len(opt)
            for index, lr in enumerate(grid or [None]):
                for seed in seeds:
                    rec, hits, evals, hess, div = simulate(
                        problem, method, lr or 0.0, seed, steps, record
                    )
                    lanes[(index, seed)] = rec
                    loss = np.asarray(rec["loss"])
                    gap = (
                        loss - problem["f_star"] if problem["f_star"] is not None else loss * np.nan
                    )
                    frame = pd.DataFrame(
                        {
                            "problem": name,
                            "optimizer": opt,
                            "setting": index,
                            "seed": seed,
                            "step": record,
                            "loss": loss,
                            "gap": gap,
                            "grad_norm": rec["grad_norm"],
                            "dist": rec["dist"],
                            "evals": np.asarray(rec["evals"], dtype=np.int64),
                            "learning_rate": np.nan if lr is None else lr,
                        }
                    )
                    curves.append(frame)
                    finite = loss[np.isfinite(loss)]
                    best_loss = finite.min() if finite.size else np.nan
                    target_hit = hits[TARGET] if problem["f_star"] is not None else (np.nan,) * 2
                    status = (
                        "diverged"
                        if not np.isnan(div)
                        else ("converged" if np.isfinite(target_hit[0]) else "max_steps")
                    )
                    row = {
                        "problem": name,
                        "optimizer": opt,
                        "seed": seed,
                        "learning_rate": np.nan if lr is None else lr,
                        "status": status,
                        "final_loss": loss[-1],
                        "final_gap": gap[-1],
                        "best_loss": best_loss,
                        "steps_to_target": target_hit[0],
                        "evals": evals,
                        "compile_s": compile_s,
                        "run_s": 0.05,
                        "setting": index,
                        "setting_label": _label(lr),
                        "seeds_identical": False,
                        "best_gap": best_loss - problem["f_star"]
                        if problem["f_star"] is not None
                        else np.nan,
                        "final_grad_norm": rec["grad_norm"][-1],
                        "final_dist": rec["dist"][-1],
                        "evals_to_target": target_hit[1],
                        "hessian_evals": hess,
                        "diverged_step": div,
                        "steps": steps,
                        "reason": "",
                    }
                    for t in LADDER:
                        row[ladder_column("steps", t)] = hits[t][0]
                        row[ladder_column("evals", t)] = hits[t][1]
                    cell_runs.append(row)
            runs += cell_runs
            cell = pd.DataFrame(cell_runs)
            best = best_settings(cell, {name: {"f_star": problem["f_star"]}})["setting"].iloc[0]
            labels = [_label(lr) for lr in grid or [None]]
            roles = [("best", best)] + ([("default", labels.index(default))] if default else [])
            for role, label in roles:
                for seed in seeds:
                    rec = lanes[(label, seed)]
                    if problem["dim"] == 2:
                        xs = np.asarray(rec["x"])
                        paths.append(
                            pd.DataFrame(
                                {
                                    "problem": name,
                                    "optimizer": opt,
                                    "setting": label,
                                    "role": role,
                                    "seed": seed,
                                    "step": record,
                                    "x0": xs[:, 0],
                                    "x1": xs[:, 1],
                                }
                            )
                        )
                    if problem["dim"] <= 10:
                        eig = np.asarray(rec["eig"])
                        magnitude = np.abs(eig)
                        curvature.append(
                            pd.DataFrame(
                                {
                                    "problem": name,
                                    "optimizer": opt,
                                    "setting": label,
                                    "role": role,
                                    "seed": seed,
                                    "step": record,
                                    "eig_min": eig[:, 0],
                                    "eig_max": eig[:, -1],
                                    "negative_eigs": (eig < 0).sum(axis=1),
                                    "condition": magnitude.max(axis=1) / magnitude.min(axis=1),
                                }
                            )
                        )
        if problem["dim"] == 2:
            (a, b), (c, d) = problem["bounds"]
            gx, gy = np.meshgrid(np.linspace(a, b, 121), np.linspace(c, d, 121))
            f = problem["f"][0]
            surfaces.append(
                pd.DataFrame(
                    {
                        "problem": name,
                        "x0": gx.ravel(),
                        "x1": gy.ravel(),
                        "loss": [f(np.array(p)) for p in zip(gx.ravel(), gy.ravel(), strict=True)],
                    }
                )
            )
    metadata = {
        "hyperparameters": ["learning_rate"],
        "environment": {
            "python": "3.11.9",
            "jax": "0.10.2",
            "jaxlib": "0.10.2",
            "optax": "0.2.8",
            "backend": "cpu",
            "device": "TFRT_CPU_0",
            "x64": True,
            "platform": "Linux-x86_64",
            "git_commit": "0123abc",
            "schema_version": SCHEMA_VERSION,
        },
        "suite": {
            "name": "synthetic",
            "description": "Synthetic results for the report's tests.",
            "source": None,
            "steps": steps,
            "seeds": list(seeds),
            "target": TARGET,
            "dtype": "float64",
            "targets": list(LADDER),
            "config": {"name": "synthetic", "steps": steps, "seeds": len(seeds)},
        },
        "problems": {
            name: {
                "kind": PROBLEMS[name]["kind"],
                "surface_class": surface_class(PROBLEMS[name]["kind"], stochastic=False),
                "dim": PROBLEMS[name]["dim"],
                "f_star": PROBLEMS[name]["f_star"],
                "x_star": PROBLEMS[name]["x_star"],
                "bounds": PROBLEMS[name]["bounds"],
                "stochastic": False,
                "description": PROBLEMS[name]["description"],
                "source": "synthetic",
            }
            for name in problem_names
        },
        "optimizers": {
            opt: {
                "kind": method,
                "family": FAMILY[method],
                "static": {},
                "grid": {"learning_rate": grid} if grid else {},
                "schedule": None,
                "clip_norm": None,
                "sweeps": ["learning_rate"] if grid else [],
                "setting_labels": [_label(lr) for lr in grid or [None]],
                "default_index": None
                if default is None
                else [_label(lr) for lr in grid or [None]].index(default),
                "default_setting": default,
                "description": f"{method} (simulated in numpy)",
            }
            for opt, (method, grid, default) in optimizers.items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    write_table(pd.concat(curves, ignore_index=True), out / "curves.parquet", metadata)
    runs_frame = pd.DataFrame(runs)
    write_table(runs_frame, out / "runs.parquet", metadata)
    for table_name, frames in (("paths", paths), ("curvature", curvature), ("surfaces", surfaces)):
        if frames:
            write_table(
                pd.concat(frames, ignore_index=True), out / f"{table_name}.parquet", metadata
            )
    return out


if __name__ == "__main__":  # a folder to look at: python tests/test_report_synthetic.py DIR [N]
    import sys

    from bench.report import write_report

    target = build(Path(sys.argv[1]), extra_optimizers=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(write_report(target))
