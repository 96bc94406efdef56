"""Verify problems numerically: gradients, the claimed minimum, and the curvature there.

For every problem: the autodiff gradient against central finite differences at the start and
at a few random points; no sampled point below ``f*``; ``loss(x*) == f*``; the gradient at
each ``x*`` near zero; and the Hessian eigenvalues at each ``x*``, classifying it (minimum,
saddle, maximum, degenerate) with its condition number. A claimed minimizer that is not
stationary, has a negative curvature direction, or misses ``f*`` fails the check.

Runs in float64 (``jax.enable_x64``), whatever the benchmark's dtype. Used by
``python -m bench check CONFIG`` / ``--all``; standalone: ``python -m bench.check``.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from collections.abc import Sequence
from typing import TextIO

import jax
import jax.numpy as jnp
import numpy as np

from problems import EXAMPLE_ARGUMENTS, PROBLEMS, Problem
from problems.base import renamed

NUM_RANDOM_POINTS = 3
MAX_COORDINATE_FD_DIM = 64  # above: directional derivatives along random directions
NUM_DIRECTIONS = 8
MAX_HESSIAN_DIM = 1000
MAX_LISTED_MINIMIZERS = 8


@dataclasses.dataclass(frozen=True)
class Tolerances:
    """Pass/fail thresholds, looser in float32."""

    gradient: float  # relative error of autodiff vs central differences
    value: float  # |loss(x*) - f*| / (1 + |f*|)
    stationary: float  # |grad(x*)| / max(1, largest |Hessian eigenvalue|)
    curvature: float  # eigenvalues within this * max(1, max |eig|) of zero count as zero


TOLERANCES = {
    np.dtype(np.float64): Tolerances(gradient=1e-5, value=1e-8, stationary=1e-6, curvature=1e-8),
    np.dtype(np.float32): Tolerances(gradient=3e-2, value=1e-4, stationary=1e-2, curvature=1e-4),
}


def all_registered_problems() -> list[Problem]:
    """Every registered kind built with its defaults; each dataset of the data kinds.

    Kinds with required parameters use ``problems.EXAMPLE_ARGUMENTS``. Data kinds are those
    whose factory has a ``dataset: Literal[...]`` parameter; each option is built, named
    ``<kind>-<dataset>``.
    """
    built = []
    for kind, factory in PROBLEMS.items():
        kwargs = dict(EXAMPLE_ARGUMENTS.get(kind, {}))
        hints = typing.get_type_hints(factory)
        datasets = ()
        if "dataset" in inspect.signature(factory).parameters:
            datasets = typing.get_args(hints["dataset"])
        if datasets:
            for dataset in datasets:
                built.append(renamed(factory(**kwargs, dataset=dataset), f"{kind}-{dataset}"))
        else:
            built.append(factory(**kwargs))
    return built


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _fmt_vector(values: np.ndarray, limit: int = 6, digits: int = 3) -> str:
    shown = " ".join(f"{v:.{digits}g}" for v in values[:limit])
    return shown + (f" ... ({values.size} values)" if values.size > limit else "")


def classify(eigenvalues: np.ndarray, tol: float) -> tuple[str, float]:
    """``minimum`` / ``saddle`` / ``maximum`` / ``degenerate`` and the condition number."""
    scale = max(1.0, float(np.max(np.abs(eigenvalues))))
    positive = eigenvalues > tol * scale
    negative = eigenvalues < -tol * scale
    magnitudes = np.abs(eigenvalues)
    smallest = float(np.min(magnitudes))
    condition = float(np.max(magnitudes)) / smallest if smallest > 0 else float("inf")
    if np.all(positive):
        return "minimum", condition
    if np.all(negative):
        return "maximum", condition
    if np.any(positive) and np.any(negative):
        return "saddle", condition
    return "degenerate", float("inf")


class _Checker:
    """One problem's checks, printing as it goes; ``ok`` is False after any failure.

    Every value and gradient comes from one compiled ``vmap(value_and_grad)`` over a fixed
    batch (the finite-difference stencil plus its center), so a problem compiles twice at
    most: that and its Hessian.
    """

    def __init__(self, problem: Problem, out: TextIO, tol: Tolerances, key: jax.Array) -> None:
        self.problem = problem
        self.out = out
        self.tol = tol
        self.ok = True
        self.dtype = jnp.result_type(float)
        if problem.dim <= MAX_COORDINATE_FD_DIM:
            self.method = "coordinate"
            directions = np.eye(problem.dim)
        else:
            self.method = f"{NUM_DIRECTIONS} random directions"
            directions = np.asarray(jax.random.normal(key, (NUM_DIRECTIONS, problem.dim)))
            directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        self.directions = directions
        self.batch_size = 2 * len(directions) + 1
        self.batched = jax.jit(jax.vmap(jax.value_and_grad(problem.objective)))
        self.hessian = jax.jit(jax.hessian(problem.objective))
        self.sampled_values: list[float] = []

    def line(self, text: str, ok: bool = True) -> None:
        self.ok &= ok
        print(f"  {text}  {'ok' if ok else 'FAIL'}", file=self.out)

    def evaluate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and gradients at the rows of ``points``, in padded batches."""
        points = np.asarray(points, np.float64).reshape(-1, self.problem.dim)
        values, grads = [], []
        for start in range(0, len(points), self.batch_size):
            chunk = points[start : start + self.batch_size]
            padding = np.repeat(chunk[-1:], self.batch_size - len(chunk), axis=0)
            value, grad = self.batched(jnp.asarray(np.vstack([chunk, padding]), self.dtype))
            values.append(np.asarray(value, np.float64)[: len(chunk)])
            grads.append(np.asarray(grad, np.float64)[: len(chunk)])
        return np.concatenate(values), np.concatenate(grads)

    def gradient_error(self, x: np.ndarray) -> tuple[float, bool, float]:
        """Relative error of the autodiff gradient vs central differences, pass, and f(x).

        A point passes when the error is within the relative tolerance or within the rounding
        noise of the differences (about ``eps |f| / step``), which dominates where the
        gradient is tiny next to ``|f|`` (a plateau).
        """
        eps = float(jnp.finfo(self.dtype).eps)
        step = eps ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(x))))
        stencil = np.vstack([x + step * self.directions, x - step * self.directions, x])
        values, grads = self.evaluate(stencil)
        self.sampled_values += list(values)
        n = len(self.directions)
        value, grad = float(values[-1]), grads[-1]
        numeric = (values[:n] - values[n : 2 * n]) / (2.0 * step)
        autodiff = self.directions @ grad
        if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(numeric))):
            return float("nan"), False, value
        error = float(np.linalg.norm(autodiff - numeric))
        size = max(float(np.linalg.norm(autodiff)), float(np.linalg.norm(numeric)))
        noise = 100.0 * eps * max(1.0, abs(value)) / step * np.sqrt(n)
        relative = error / size if size > 0 else (0.0 if error == 0 else float("inf"))
        return relative, error <= self.tol.gradient * size + noise, value

    def random_points(self, x0: np.ndarray, key: jax.Array) -> np.ndarray:
        """Uniform in the bounds, or a spread around the start when there are none."""
        shape = (NUM_RANDOM_POINTS, self.problem.dim)
        if self.problem.bounds is not None:
            low, high = np.array(self.problem.bounds, np.float64).T
            return low + (high - low) * np.asarray(jax.random.uniform(key, shape))
        spread = 0.5 * max(1.0, float(np.sqrt(np.mean(x0**2))))
        return x0 + spread * np.asarray(jax.random.normal(key, shape))

    def check_gradients(self, key: jax.Array) -> None:
        init_key, points_key = jax.random.split(key)
        x0 = np.asarray(self.problem.init(init_key), np.float64)
        if x0.shape != (self.problem.dim,):
            self.line(f"init gives shape {x0.shape}, dim is {self.problem.dim}", ok=False)
            return
        results = [self.gradient_error(x) for x in (x0, *self.random_points(x0, points_key))]
        shown = [
            _fmt(error) + ("" if error <= self.tol.gradient or not passed else " (rounding)")
            for error, passed, _ in results
        ]
        ok = all(passed for _, passed, _ in results)
        failed = (
            ""
            if ok
            else f"; failed: gradient, relative error above {_fmt(self.tol.gradient)} and "
            "above the rounding noise of the differences"
        )
        self.line(
            f"gradient vs central differences ({self.method}), relative error: start "
            f"{shown[0]}, random {' '.join(shown[1:])}{failed}",
            ok=ok,
        )
        start_value = results[0][2]
        if not np.isfinite(start_value):
            self.line(f"loss at the start is {start_value}", ok=False)

    def check_lower_bound(self) -> None:
        """No point the checks evaluated may lie below f*."""
        f_star = self.problem.f_star
        values = [v for v in self.sampled_values if np.isfinite(v)]
        if f_star is None or not values:
            return
        lowest = min(values)
        allowed = self.tol.value * (1.0 + abs(f_star))
        if lowest < f_star - allowed:
            self.line(
                f"f* = {f_star:.12g} is not a lower bound: a sampled point has loss {lowest:.12g}"
                f"; failed: lower bound, loss below f* by more than {_fmt(self.tol.value)} "
                f"* (1 + |f*|) = {_fmt(allowed)}",
                ok=False,
            )

    def check_minimizer(self, index: int, point: np.ndarray, value: float, grad: np.ndarray) -> str:
        """Check one claimed minimizer; returns its classification.

        A failing line names each criterion that failed with its threshold, so a wrong claim
        reads as "which number, against what" without looking up the tolerances.
        """
        problem, tol = self.problem, self.tol
        grad_norm = float(np.linalg.norm(grad))
        parts = [f"loss {value:.12g}"]
        failures = [] if np.isfinite(value) else ["value: loss(x*) is not finite"]
        if problem.f_star is not None:
            gap = abs(value - problem.f_star)
            allowed = tol.value * (1.0 + abs(problem.f_star))
            parts.append(f"|loss - f*| {_fmt(gap)}")
            if not gap <= allowed:
                failures.append(
                    f"value |loss(x*) - f*| {_fmt(gap)} > {_fmt(tol.value)} * (1 + |f*|) "
                    f"= {_fmt(allowed)}"
                )
        scale, label = 1.0, "not classified"
        curvature = f"Hessian skipped (dim > {MAX_HESSIAN_DIM})"
        if problem.dim <= MAX_HESSIAN_DIM:
            hessian = np.asarray(self.hessian(jnp.asarray(point, self.dtype)), np.float64)
            eigenvalues = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
            if np.all(np.isfinite(eigenvalues)):
                scale = max(1.0, float(np.max(np.abs(eigenvalues))))
                label, condition = classify(eigenvalues, tol.curvature)
                curvature = (
                    f"Hessian eigenvalues {_fmt_vector(eigenvalues)}: {label}, condition number "
                    f"{_fmt(condition)}"
                )
            else:
                label, curvature = "non-finite Hessian", "Hessian not finite"
            # A local minimum has a positive semidefinite Hessian (second-order condition).
            if label == "non-finite Hessian":
                failures.append("curvature class: the Hessian at x* is not finite")
            elif label not in ("minimum", "degenerate"):
                failures.append(
                    f"curvature class {label}, not a minimum: an eigenvalue below "
                    f"-{_fmt(tol.curvature)} * max(1, max |eigenvalue|) = "
                    f"{_fmt(-tol.curvature * scale)}"
                )
        parts.append(f"|grad| {_fmt(grad_norm)}")
        allowed = tol.stationary * scale
        if not grad_norm <= allowed:
            failures.append(
                f"stationarity |grad| {_fmt(grad_norm)} > {_fmt(tol.stationary)} * max(1, "
                f"max |eigenvalue|) = {_fmt(allowed)}"
            )
        ok = not failures
        if index < MAX_LISTED_MINIMIZERS or not ok:
            # Enough digits that a minimizer off by 1e-3 does not print as the true one.
            coords = _fmt_vector(np.asarray(point), digits=10)
            failed = f"; failed: {'; '.join(failures)}" if failures else ""
            self.line(f"x*[{index}] = ({coords}): {', '.join(parts)}; {curvature}{failed}", ok=ok)
        return label

    def check_minimizers(self) -> None:
        problem = self.problem
        if problem.x_star is None:
            print("  no x* known: minimizers not checked", file=self.out)
            return
        if problem.f_star is None:
            print("  no f* given: loss(x*) reported, not checked", file=self.out)
        values, grads = self.evaluate(problem.x_star)
        labels = [
            self.check_minimizer(i, point, float(value), grad)
            for i, (point, value, grad) in enumerate(
                zip(problem.x_star, values, grads, strict=True)
            )
        ]
        rest = labels[MAX_LISTED_MINIMIZERS:]
        if rest:
            counts = ", ".join(f"{rest.count(label)} {label}" for label in sorted(set(rest)))
            print(f"  ... and {len(rest)} more x* ({counts})", file=self.out)


def check_problems(
    problems: Sequence[Problem], *, key_seed: int = 0, out: TextIO | None = None
) -> int:
    """Check each problem and print a report to ``out`` (default: the current stdout).

    Returns 0 if every problem passes, 1 if any fails. Never raises for a broken problem:
    an exception inside its checks is reported as a failure.
    """
    out = sys.stdout if out is None else out
    failed = []
    with jax.enable_x64(True):
        dtype = np.dtype(jnp.result_type(float))
        tol = TOLERANCES.get(dtype, TOLERANCES[np.dtype(np.float32)])
        key = jax.random.key(key_seed)
        for number, problem in enumerate(problems):
            f_star = "unknown" if problem.f_star is None else f"{problem.f_star:.12g}"
            print(
                f"{problem.name} (dim {problem.dim}, f* {f_star}): {problem.description}", file=out
            )
            problem_key, directions_key = jax.random.split(jax.random.fold_in(key, number))
            checker = _Checker(problem, out, tol, directions_key)
            try:
                checker.check_gradients(problem_key)
                checker.check_lower_bound()
                checker.check_minimizers()
            except Exception as err:  # a broken problem is a failed check, not a crash
                checker.line(f"error while checking: {type(err).__name__}: {err}", ok=False)
            print(f"  {'PASS' if checker.ok else 'FAIL'}", file=out)
            if not checker.ok:
                failed.append(problem.name)
    if failed:
        print(f"{len(failed)} of {len(problems)} problems FAILED: {', '.join(failed)}", file=out)
        return 1
    print(f"all {len(problems)} problems passed", file=out)
    return 0


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    sys.exit(check_problems(all_registered_problems()))
