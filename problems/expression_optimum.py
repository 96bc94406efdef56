"""The cheap test of an ``expression``'s declared optimum, before anything compiles.

`python -m bench validate` (and `run`, through the same loader) refuses an `expression`
whose f_star / x_star the formula itself contradicts: the cheap part of `bench check`
(loss(x*) = f*, a zero gradient at x*, no reached value below f*), without the Hessian and
without JAX. The formula's syntax tree, already accepted by `problems.expression`, is
evaluated here with the numpy twin of each whitelisted function, in float64 whatever the
suite's dtype, and the gradient is taken by central differences: validation compiles
nothing. The tolerances are looser than `bench check`'s float64 ones
(bench.check.TOLERANCES: value 1e-8 * (1 + |f*|), stationarity 1e-6 * max(1, largest
|Hessian eigenvalue|)), so a config refused here is one `bench check` fails too (short of a
kink at x*, where central differences and autodiff disagree, or a strongly non-diagonal
Hessian above dim 100); `bench check` stays the thorough test (curvature class, finite
differences vs autodiff).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# |loss(x*) - f*| and a reached value below f* may differ by this * max(1, |f*|): 50 to
# 100 times bench check's, room for the rounding of a formula whose terms are as large as
# f*, and for an x* written to ~9 significant digits (the loss there is off by ~curvature * 1e-18).
OPTIMUM_VALUE_TOL = 1e-6
# |grad loss(x*)| may be this * max(1, curvature), the curvature being the largest |second
# difference| of the same stencil (on the coordinate axes: at most the largest Hessian
# eigenvalue for a positive semidefinite Hessian, and at least 1/dim of it). 100 times bench
# check's, so the diagonal's under-estimate of the largest eigenvalue costs nothing up to
# dim 100. An x* written to 9 digits leaves |grad| ~ curvature * 5e-10 * |x*|: far below.
OPTIMUM_STATIONARY_TOL = 1e-4
# Up to this dim the gradient is differenced along every coordinate (2 * dim + 1 values a
# point); above, along OPTIMUM_DIRECTIONS random unit directions, whose largest directional
# derivative is a lower bound of |grad|: a refusal there is still a proven contradiction.
OPTIMUM_COORDINATE_DIM = 64
OPTIMUM_DIRECTIONS = 8
# The numpy work allowed for one problem (array elements x formula nodes): when the stencil
# would need more, the gradient test is left to `bench check`; when the values at the points
# alone would, the whole test is. Points are evaluated in chunks of at most _CHUNK_ELEMENTS
# array elements (one vector-valued node of the formula), bounding the memory.
_OPTIMUM_WORK = 300_000_000
_CHUNK_ELEMENTS = 1 << 20
_LISTED_POINTS = 8


def _reduction(function: Any) -> Any:
    return lambda value: function(value, axis=0, keepdims=True)


def _elementwise(function: Any) -> Any:
    def combined(*values: np.ndarray) -> np.ndarray:
        result = values[0]
        for value in values[1:]:
            result = function(result, value)
        return result

    return combined


# The numpy twin of problems.expression's whitelist (name -> one argument, several or None).
# Values are (k, n) arrays: k = 1 for a number, k = dim for the vector x; n points at once.
FORMULA_FUNCTIONS: dict[str, tuple[Any, Any]] = {
    **{
        name: (getattr(np, name), None)
        for name in (
            "exp",
            "expm1",
            "log",
            "log1p",
            "sqrt",
            "sin",
            "cos",
            "tan",
            "sinh",
            "cosh",
            "tanh",
            "arctan",
            "abs",
            "square",
        )
    },
    "sum": (_reduction(np.sum), None),
    "prod": (_reduction(np.prod), None),
    "mean": (_reduction(np.mean), None),
    "max": (_reduction(np.max), _elementwise(np.maximum)),
    "min": (_reduction(np.min), _elementwise(np.minimum)),
}
FORMULA_CONSTANTS = {"pi": math.pi, "e": math.e}
_FORMULA_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


def _formula_children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Constant | ast.Name | ast.Subscript):
        return []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return [node.operand]
    if isinstance(node, ast.BinOp) and type(node.op) in _FORMULA_BINARY:
        return [node.left, node.right]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return list(node.args)
    raise ValueError(f"not a node of the formula grammar: {type(node).__name__}")


def _formula_node(node: ast.AST, args: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ValueError(f"not a number: {node.value!r}")
        return np.full((1, 1), float(node.value))
    if isinstance(node, ast.Name):
        if node.id == "x":
            return x
        if node.id in FORMULA_CONSTANTS:
            return np.full((1, 1), FORMULA_CONSTANTS[node.id])
        raise ValueError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Subscript):
        index = node.slice
        if not (
            isinstance(node.value, ast.Name)
            and node.value.id == "x"
            and isinstance(index, ast.Constant)
            and isinstance(index.value, int)
            and not isinstance(index.value, bool)
            and 0 <= index.value < x.shape[0]
        ):
            raise ValueError("a subscript other than x[i]")
        return x[index.value : index.value + 1]
    if isinstance(node, ast.UnaryOp):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.BinOp):
        return _FORMULA_BINARY[type(node.op)](args[0], args[1])
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    single, several = FORMULA_FUNCTIONS[node.func.id]
    if len(args) == 1:
        return single(args[0])
    if several is None or not args:
        raise ValueError(f"{node.func.id}() with {len(args)} arguments")
    return several(*args)


def _formula_tree(formula: str) -> tuple[ast.AST, int]:
    """The formula's expression node and its number of nodes (refused: ValueError)."""
    try:
        body = ast.parse(formula.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise ValueError("not a formula") from None
    count, todo = 0, [body]
    while todo:
        count += 1
        todo.extend(_formula_children(todo.pop()))
    return body, count


def formula_values(formula: str, points: Any) -> np.ndarray:
    """The formula of an ``expression`` problem at each row of ``points``, in float64 numpy.

    The same syntax tree ``problems.expression`` compiles into jax.numpy calls, walked with an
    explicit stack (no recursion, however long a chain) and the numpy twin of each function;
    every point at once. Raises ValueError for anything outside the grammar (a formula that
    ``expression`` accepted never does).
    """
    points = np.asarray(points, np.float64)
    x = points.T  # (dim, n): x[i] is a (1, n) row, x itself a (dim, n) block
    body, _ = _formula_tree(formula)
    todo: list[tuple[ast.AST, bool]] = [(body, False)]
    values: list[np.ndarray] = []
    with np.errstate(all="ignore"):  # log(-1), 1/0: NaN and inf, as in jax.numpy
        while todo:
            node, expanded = todo.pop()
            children = _formula_children(node)
            if children and not expanded:
                todo.append((node, True))
                todo.extend((child, False) for child in reversed(children))
                continue
            args = values[len(values) - len(children) :]
            del values[len(values) - len(children) :]
            values.append(np.asarray(_formula_node(node, args, x), np.float64))
    (result,) = values
    if result.shape[0] != 1:
        raise ValueError(f"the formula gives {result.shape[0]} values a point, not one")
    return np.broadcast_to(result, (1, points.shape[0]))[0].copy()


def _point_text(point: np.ndarray) -> str:
    # 10 digits: a minimizer off by 1e-3 must not print as the true one.
    shown = ", ".join(f"{v:.10g}" for v in point[:6])
    return shown + (f", ... ({point.size} coordinates)" if point.size > 6 else "")


def _also(indices: list[int]) -> str:
    """' The same holds at x_star[2], x_star[5] (3 points in all).' for the rest, or ''."""
    if len(indices) < 2:
        return ""
    rest = ", ".join(f"x_star[{i}]" for i in indices[1:_LISTED_POINTS])
    more = ", ..." if len(indices) > _LISTED_POINTS else ""
    return f" The same holds at {rest}{more} ({len(indices)} points in all)."


def _chunked_values(formula: str, points: np.ndarray) -> np.ndarray:
    rows = max(1, _CHUNK_ELEMENTS // max(1, points.shape[1]))
    return np.concatenate(
        [formula_values(formula, points[i : i + rows]) for i in range(0, len(points), rows)]
    )


def _stencil(dim: int) -> tuple[np.ndarray, str]:
    """The difference directions for a point of ``dim`` coordinates, and how to say them."""
    if dim <= OPTIMUM_COORDINATE_DIM:
        return np.eye(dim), "along every coordinate"
    directions = np.random.default_rng(0).standard_normal((OPTIMUM_DIRECTIONS, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions, f"along {OPTIMUM_DIRECTIONS} random directions, a lower bound of |grad|"


def _value_problems(
    points: np.ndarray, centers: np.ndarray, f_star: float | None, tol_text: str, tol: float
) -> tuple[list[str], bool]:
    """Messages on loss(x*) against f*, and whether some x* lies below f* (f* not a minimum)."""
    messages = []
    not_finite = [i for i, v in enumerate(centers) if not np.isfinite(v)]
    if not_finite:
        i = not_finite[0]
        messages.append(
            f"the formula is {centers[i]} at x_star[{i}] = ({_point_text(points[i])}): a "
            "minimizer has a finite loss; correct the point, or leave x_star out."
            + _also(not_finite)
        )
    if f_star is None:
        return messages, False
    below = [i for i, v in enumerate(centers) if np.isfinite(v) and v < f_star - tol]
    above = [i for i, v in enumerate(centers) if np.isfinite(v) and v > f_star + tol]
    if below:
        i = min(below, key=lambda j: centers[j])  # the lowest: the most telling
        messages.append(
            f"f_star = {f_star:.12g} is above a value the surface reaches: the formula is "
            f"{centers[i]:.12g} at x_star[{i}] = ({_point_text(points[i])}), "
            f"{f_star - centers[i]:.3g} below f_star, more than the tolerance {tol_text}. "
            "f_star must be the lowest value of the formula, so at most its value at every "
            f"x_star point: set f_star to the true minimum (at most {centers[i]:.12g}), or "
            "leave it out." + _also([i] + [j for j in below if j != i])
        )
    if above:
        i = above[0]
        messages.append(
            f"x_star[{i}] = ({_point_text(points[i])}) does not reach f_star = {f_star:.12g}: "
            f"the formula is {centers[i]:.12g} there, {centers[i] - f_star:.3g} above f_star, "
            f"more than the tolerance {tol_text}. Each x_star point must be a minimizer whose "
            "loss is f_star: correct the point (to about 9 significant digits) or f_star, or "
            "leave x_star out." + _also(above)
        )
    return messages, bool(below)


def _stationarity_problems(
    points: np.ndarray, values: np.ndarray, steps: np.ndarray, how: str
) -> list[str]:
    """A message on the x* whose central-difference gradient is not zero, if any.

    ``values`` holds, per point, the formula at ``x + h d`` for each direction ``d``, then at
    ``x - h d``, then at ``x``.
    """
    m = (values.shape[1] - 1) // 2
    plus, minus, centers = values[:, :m], values[:, m : 2 * m], values[:, -1:]
    h = steps[:, None]
    slopes = (plus - minus) / (2.0 * h)
    curvature = np.max(np.abs(plus - 2.0 * centers + minus), axis=1) / steps**2
    if points.shape[1] <= OPTIMUM_COORDINATE_DIM:
        norms = np.linalg.norm(slopes, axis=1)
    else:
        norms = np.max(np.abs(slopes), axis=1)
    # Rounding of the differences, as in bench check: eps * |f| / h (a plateau's |f| >> 0).
    eps = float(np.finfo(np.float64).eps)
    noise = 100.0 * eps * np.maximum(1.0, np.max(np.abs(values), axis=1)) / steps * np.sqrt(m)
    allowed = OPTIMUM_STATIONARY_TOL * np.maximum(1.0, curvature) + noise
    measurable = np.all(np.isfinite(values), axis=1)
    moving = [i for i in range(len(points)) if measurable[i] and norms[i] > allowed[i]]
    if not moving:
        return []
    i = moving[0]
    return [
        f"x_star[{i}] = ({_point_text(points[i])}) is not a stationary point: the gradient "
        f"there has norm {norms[i]:.3g} (central differences in float64, {how}), above the "
        f"tolerance {OPTIMUM_STATIONARY_TOL:g} * max(1, curvature {curvature[i]:.3g}) + "
        f"rounding {noise[i]:.2g} = {allowed[i]:.3g}, the curvature being the largest |second "
        "difference| of the same stencil. A minimizer has a zero gradient: correct the point "
        "(to about 9 significant digits), or leave x_star out." + _also(moving)
    ]


def declared_optimum_problems(
    formula: str,
    f_star: float | None,
    x_star: Any,
    starts: Sequence[tuple[str, Any]] = (),
) -> list[str]:
    """What the formula contradicts of a declared optimum: one sentence per failed test.

    ``x_star`` is None or a ``(k, dim)`` array of declared minimizers; ``starts`` are
    ``(label, point)`` pairs of points the surface reaches (the start), checked against
    ``f_star`` alone. Per declared minimizer: a finite loss; ``|loss(x*) - f*| <=
    OPTIMUM_VALUE_TOL * max(1, |f*|)`` (a loss below f* by more: f* is not the minimum;
    above: x* does not reach it); ``|grad| <= OPTIMUM_STATIONARY_TOL * max(1, curvature)``
    plus the rounding noise of the differences. Per start (when no x* already shows f* too
    high): a loss not below ``f* - tol``. Each sentence gives the declared and the measured
    numbers, the tolerance and what would be valid, and lists the other points that fail
    the same way. A test that cannot be measured (a NaN or inf next to x*, more work than
    ``_OPTIMUM_WORK``) is left to ``bench check`` and refuses nothing, and so is a formula
    this numpy evaluator cannot evaluate (it is a second reading of the formula language,
    beside ``problems.expression``'s; a gap between the two must never refuse a config).
    """
    try:
        return _declared_optimum_problems(formula, f_star, x_star, starts)
    except Exception:  # the cheap test only ever refuses what it measured; bench check stays
        return []


def _declared_optimum_problems(
    formula: str,
    f_star: float | None,
    x_star: Any,
    starts: Sequence[tuple[str, Any]],
) -> list[str]:
    try:
        _, n_nodes = _formula_tree(formula)
    except ValueError:
        return []
    points = None if x_star is None else np.atleast_2d(np.asarray(x_star, np.float64))
    starts = [(label, np.asarray(p, np.float64).reshape(-1)) for label, p in starts]
    tol = OPTIMUM_VALUE_TOL * max(1.0, abs(f_star)) if f_star is not None else 0.0
    tol_text = f"{OPTIMUM_VALUE_TOL:g} * max(1, |f_star|) = {tol:.3g}"
    messages: list[str] = []
    f_star_too_high = False
    if points is not None and n_nodes * points.size <= _OPTIMUM_WORK:
        directions, how = _stencil(points.shape[1])
        eps = float(np.finfo(np.float64).eps)
        steps = eps ** (1.0 / 3.0) * np.maximum(1.0, np.max(np.abs(points), axis=1))
        if n_nodes * points.size * (2 * len(directions) + 1) <= _OPTIMUM_WORK:
            stencil = np.concatenate(
                [
                    np.vstack([x + h * directions, x - h * directions, x[None]])
                    for x, h in zip(points, steps, strict=True)
                ]
            )
            values = _chunked_values(formula, stencil).reshape(len(points), -1)
            stationarity = _stationarity_problems(points, values, steps, how)
        else:  # too costly to difference: the values only, the gradients left to bench check
            values, stationarity = _chunked_values(formula, points)[:, None], []
        found, f_star_too_high = _value_problems(points, values[:, -1], f_star, tol_text, tol)
        messages += found + stationarity
    size = sum(p.size for _, p in starts)
    if f_star is not None and starts and not f_star_too_high and n_nodes * size <= _OPTIMUM_WORK:
        reached = _chunked_values(formula, np.vstack([p for _, p in starts]))
        for (label, point), value in zip(starts, reached, strict=True):
            if np.isfinite(value) and value < f_star - tol:
                messages.append(
                    f"f_star = {f_star:.12g} is above a value the surface reaches: the formula "
                    f"is {value:.12g} at {label} = ({_point_text(point)}), {f_star - value:.3g} "
                    f"below f_star, more than the tolerance {tol_text}. f_star must be a lower "
                    "bound of the formula, its minimum: set it to the true minimum (at most "
                    f"{value:.12g}), or leave it out."
                )
                break
    return messages
