"""A surface written as a formula in YAML, compiled through a whitelist: a config never runs code.

The formula is parsed with ``ast.parse(mode="eval")``; every node is checked against a small
grammar and compiled into a tree of closures over ``jax.numpy`` functions. Nothing is ever
passed to ``eval``, ``exec`` or ``compile``, so no name, attribute or builtin outside the
whitelist can be reached, whatever the string says.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from problems.base import Array, Batch, Problem, normal_start, propagate_nan, uniform_start
from problems.validation import check_int

Node = Callable[[Array], Array]

# name -> (function for one argument, function for several or None)
_FUNCTIONS: dict[str, tuple[Callable[..., Array], Callable[..., Array] | None]] = {
    "exp": (jnp.exp, None),
    "expm1": (jnp.expm1, None),
    "log": (jnp.log, None),
    "log1p": (jnp.log1p, None),
    "sqrt": (jnp.sqrt, None),
    "sin": (jnp.sin, None),
    "cos": (jnp.cos, None),
    "tan": (jnp.tan, None),
    "sinh": (jnp.sinh, None),
    "cosh": (jnp.cosh, None),
    "tanh": (jnp.tanh, None),
    "arctan": (jnp.arctan, None),
    "abs": (jnp.abs, None),
    "square": (jnp.square, None),
    "sum": (jnp.sum, None),
    "prod": (jnp.prod, None),
    "mean": (jnp.mean, None),
    # max(v) / min(v) reduce a vector; max(a, b, ...) is elementwise.
    "max": (jnp.max, jnp.maximum),
    "min": (jnp.min, jnp.minimum),
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {
    ast.Add: jnp.add,
    ast.Sub: jnp.subtract,
    ast.Mult: jnp.multiply,
    ast.Div: jnp.divide,
}
# The limits of a formula, checked by ``parse_formula`` (which builds the very function the
# runner traces): its length in characters, and how deeply its operations nest. CPython's
# parser refuses more than 200 nested brackets itself; 200 levels of operations keep this
# module's compiler (two Python frames a level) far from the interpreter's recursion limit.
MAX_FORMULA_LENGTH = 10_000
MAX_FORMULA_DEPTH = 200
_MAX_INTEGER_POWER = 1024

ALLOWED = (
    "allowed: numbers, x, x[i] with an integer literal i, + - * / **, unary minus, the "
    f"constants {', '.join(_CONSTANTS)}, and calls {', '.join(f + '(...)' for f in _FUNCTIONS)}"
)

_NODE_WORDS = {
    ast.Attribute: "attribute access",
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "a conditional expression",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.NamedExpr: "an assignment",
    ast.Starred: "a starred argument",
    ast.JoinedStr: "an f-string",
    ast.Slice: "a slice",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_OPERATOR_SYMBOLS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Invert: "~",
    ast.Not: "not",
}


def _shown(value: Any, limit: int = 100) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with '...' and its size."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        size = f"{len(value):,} characters"
    elif isinstance(value, list | tuple):
        size = f"{len(value):,} items"
    else:
        size = f"{len(text):,} characters written out"
    return f"{text[:limit]}... ({size})"


def _too_deep(formula: str) -> ValueError:
    return ValueError(
        f"formula {_shown(formula)} is nested too deeply: at most {MAX_FORMULA_DEPTH} "
        "levels of operations inside operations (such as -(-(-x[0])) or x[0]**x[0]**x[0]; "
        "a chain a + b - c + ... or a * b / c * ... counts as one level)"
    )


# A chain of these, written left to right without brackets, is one level: a + b - c + d.
_CHAINS = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "mul"}


class _Compiler:
    """Checks a parsed formula node by node and emits the program of jnp calls it denotes.

    The program is postfix: leaves (``arity`` 0) are functions of ``x``, the others take
    the values of the last ``arity`` entries. Evaluating it is a loop, not a recursion, so
    tracing a formula needs no Python stack beyond that of one jnp call, however it nests;
    only this compiler recurses, at most ``MAX_FORMULA_DEPTH`` levels (about two Python
    frames each).
    """

    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.indices: set[int] = set()
        self.uses_vector = False
        self.program: list[tuple[int, Callable[..., Array]]] = []
        self.depth = 0

    def refuse(self, node: ast.AST, what: str) -> ValueError:
        fragment = ast.get_source_segment(self.formula, node) or self.formula
        return ValueError(
            f"formula {_shown(self.formula)}: {what} in {_shown(fragment)} is not allowed; "
            f"{ALLOWED}"
        )

    def emit(self, arity: int, op: Callable[..., Array]) -> None:
        self.program.append((arity, op))

    def compile(self, node: ast.AST) -> None:
        self.depth += 1
        if self.depth > MAX_FORMULA_DEPTH:
            raise _too_deep(self.formula)
        try:
            self.node(node)
        finally:
            self.depth -= 1

    def node(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            value = self.number(node)
            self.emit(0, lambda x: jnp.asarray(value, x.dtype))
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Subscript):
            self.subscript(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self.compile(node.operand)
            self.emit(1, jnp.negative)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            self.compile(node.operand)
        elif isinstance(node, ast.UnaryOp):
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.refuse(node, f"the operator {symbol}")
        elif isinstance(node, ast.BinOp):
            self.binary(node)
        elif isinstance(node, ast.Call):
            self.call(node)
        else:
            what = _NODE_WORDS.get(type(node), f"a {type(node).__name__} expression")
            raise self.refuse(node, what)

    def number(self, node: ast.Constant) -> float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a string" if isinstance(value, str | bytes) else f"the constant {value!r}"
            raise self.refuse(node, kind)
        try:
            number = float(value)
        except OverflowError:
            raise self.refuse(node, "a number too large for a float") from None
        if not math.isfinite(number):
            raise self.refuse(node, "a non-finite number")
        return number

    def name(self, node: ast.Name) -> None:
        if node.id == "x":
            self.uses_vector = True
            self.emit(0, lambda x: x)
            return
        if node.id in _CONSTANTS:
            value = _CONSTANTS[node.id]
            self.emit(0, lambda x: jnp.asarray(value, x.dtype))
            return
        if node.id in _FUNCTIONS:
            raise self.refuse(node, f"the function name {_shown(node.id)} without a call")
        raise self.refuse(node, f"the name {_shown(node.id)}")

    def subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        is_index = (
            isinstance(index, ast.Constant)
            and isinstance(index.value, int)
            and not isinstance(index.value, bool)
        )
        if not (isinstance(node.value, ast.Name) and node.value.id == "x" and is_index):
            raise self.refuse(node, "a subscript other than x[i] with a literal integer i")
        i = index.value
        self.indices.add(i)
        self.emit(0, lambda x: x[i])

    def integer_exponent(self, node: ast.AST) -> int | None:
        """The exponent as a small int if it is an integral literal (exact, smooth at x < 0)."""
        sign = 1
        while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -sign if isinstance(node.op, ast.USub) else sign
            node = node.operand
        if not isinstance(node, ast.Constant):
            return None
        value = self.number(node)
        if value.is_integer() and abs(value) <= _MAX_INTEGER_POWER:
            return sign * int(value)
        return None

    def binary(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Pow):
            self.compile(node.left)
            exponent = self.integer_exponent(node.right)
            if exponent is not None:
                self.emit(1, lambda a: jnp.power(a, exponent))
                return
            self.compile(node.right)
            self.emit(2, jnp.power)
            return
        if type(node.op) not in _BINARY:
            self.compile(node.left)
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.refuse(node, f"the operator {symbol}")
        # ((a + b) - c) + d: walk down the left-leaning chain without recursing, then emit
        # a, b, +, c, -, d, +: the same operations in the same order as the nested form.
        chain = _CHAINS[type(node.op)]
        links: list[ast.BinOp] = []
        operand: ast.AST = node
        while isinstance(operand, ast.BinOp) and _CHAINS.get(type(operand.op)) == chain:
            links.append(operand)
            operand = operand.left
        self.compile(operand)
        for link in reversed(links):
            self.compile(link.right)
            self.emit(2, _BINARY[type(link.op)])

    def call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.refuse(node.func, "calling anything but a named function")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise self.refuse(node.func, f"the function {_shown(name)}")
        if node.keywords:
            raise self.refuse(node, "a keyword argument")
        if not node.args:
            raise self.refuse(node, f"calling {name}() without an argument")
        single, several = _FUNCTIONS[name]
        for arg in node.args:
            self.compile(arg)
        if len(node.args) == 1:
            self.emit(1, single)
            return
        if several is None:
            raise self.refuse(node, f"calling {name}() with {len(node.args)} arguments")

        def combined(*values: Array) -> Array:
            result = values[0]
            for value in values[1:]:
                result = several(result, value)
            return result

        self.emit(len(node.args), combined)


def _evaluator(program: list[tuple[int, Callable[..., Array]]]) -> Node:
    """``f(x)`` that runs a postfix program with a value stack: a loop, never a recursion."""

    def evaluate(x: Array) -> Array:
        stack: list[Array] = []
        for arity, op in program:
            if arity == 0:
                stack.append(op(x))
            else:
                args = stack[-arity:]
                del stack[-arity:]
                stack.append(op(*args))
        (result,) = stack
        return result

    return evaluate


def parse_formula(formula: str) -> tuple[Node, set[int], bool]:
    """Compile ``formula`` into ``f(x)``; also the x indices it reads and whether it uses x whole.

    Raises ``ValueError`` naming the offending fragment for anything outside the whitelist,
    and for a formula longer than ``MAX_FORMULA_LENGTH`` characters or nested deeper than
    ``MAX_FORMULA_DEPTH`` levels. These limits are the only ones: the returned ``f`` is the
    very function the runner traces, and it evaluates without recursion (see ``_Compiler``),
    so whatever passes here traces at any depth of the runner's own stack.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"formula must be a non-empty string, got {_shown(formula)}")
    if len(formula) > MAX_FORMULA_LENGTH:
        raise ValueError(
            f"formula must be at most {MAX_FORMULA_LENGTH} characters, got {len(formula)}"
        )
    formula = formula.strip()
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise ValueError(
            f"formula {_shown(formula)} is not a valid expression: {err.msg}{where}"
        ) from None
    except (RecursionError, MemoryError):
        raise _too_deep(formula) from None
    compiler = _Compiler(formula)
    try:
        compiler.compile(tree.body)
    except RecursionError:
        raise _too_deep(formula) from None
    return _evaluator(compiler.program), compiler.indices, compiler.uses_vector


def _as_points(name: str, value: Any, dim: int) -> np.ndarray:
    """A list of points (or one point) as a finite ``(k, dim)`` array."""
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a list of numbers or of lists of numbers, got {_shown(value)}"
        ) from None
    if points.ndim == 1:
        points = points[None, :]
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] != dim:
        raise ValueError(
            f"{name} must be one point or a list of points with dim = {dim} coordinates each, "
            f"got {_shown(value)}"
        )
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} must hold finite numbers, got {_shown(value)}")
    return points


def _as_bounds(value: Any, dim: int) -> tuple[tuple[float, float], ...]:
    """Per-coordinate ``(low, high)`` pairs; a single pair applies to every coordinate."""
    message = (
        f"bounds must be a list of [low, high] pairs with low < high, one per coordinate "
        f"(dim = {dim}) or a single pair for all, got {_shown(value)}"
    )
    try:
        pairs = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] not in (1, dim):
        raise ValueError(message)
    if not np.all(np.isfinite(pairs)) or not np.all(pairs[:, 0] < pairs[:, 1]):
        raise ValueError(message)
    pairs = np.broadcast_to(pairs, (dim, 2))
    return tuple((float(low), float(high)) for low, high in pairs)


EXAMPLE_HIMMELBLAU = {
    "formula": "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2",
    "f_star": 0.0,
    "x_star": [
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.2831859912861696],
        [3.5844283403304917, -1.8481265269644036],
    ],
    "bounds": [[-5.0, 5.0]],
    "description": "Himmelblau's function written in YAML",
}


def expression(
    formula: str,
    dim: int | None = None,
    f_star: float | None = None,
    x_star: list[list[float]] | list[float] | None = None,
    bounds: list[list[float]] | None = None,
    description: str = "",
) -> Problem:
    """A surface ``f(x) = formula`` written in the YAML, e.g. Himmelblau's function:

    ``formula: "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"``.

    Grammar (a whitelist; anything else is refused with the offending fragment): numbers;
    ``x`` (the whole vector) and ``x[i]`` with an integer literal ``i``; ``+ - * / **`` and
    unary minus; the constants ``pi`` and ``e``; calls of ``exp expm1 log log1p sqrt sin cos
    tan sinh cosh tanh arctan abs square`` (elementwise), ``sum prod mean`` (reductions) and
    ``max min`` (one argument: reduction; several: elementwise). Operations on ``x`` are
    elementwise, so ``sum(100*(x[1]-x[0]**2)**2 + (1-x[0])**2)`` and ``sum(x**2)`` both work;
    the result must be a scalar. The string is never given to ``eval``: the checked syntax
    tree is compiled into ``jax.numpy`` calls.

    ``dim``: inferred as the highest ``x[i]`` index + 1 when absent (required when ``x`` is
    used as a whole vector); an index ``>= dim`` is an error. ``bounds``: one ``[low, high]``
    pair per coordinate, or a single pair for all.

    Minimum: as the user states it, ``f_star`` and ``x_star`` (one point or a list of points;
    the distance is to the nearest). They are not trusted: ``python -m bench check`` verifies
    ``f(x*) = f*``, a zero gradient and a positive semidefinite Hessian at each ``x*``.

    Start: no standard point, so uniform in ``bounds`` when given, else ``N(0, I)``, drawn
    from the run seed; YAML ``init: [...]`` sets a fixed start.

    Source: user-defined in the config.
    """
    fn, indices, uses_vector = parse_formula(formula)
    formula = formula.strip()
    if dim is None:
        if uses_vector:
            raise ValueError(
                f"formula {_shown(formula)} uses x as a whole vector: give dim, the length of x"
            )
        if not indices:
            raise ValueError(f"formula {_shown(formula)} does not use x: give dim, or use x[i]")
        dim = max(indices) + 1
    dim = check_int("dim", dim, low=1, high=100_000)
    if indices and max(indices) >= dim:
        raise ValueError(
            f"formula {_shown(formula)} reads x[{max(indices)}], but dim is {dim}: indices must be "
            f"between 0 and {dim - 1}"
        )
    if f_star is not None:
        if isinstance(f_star, bool) or not isinstance(f_star, int | float):
            raise ValueError(f"f_star must be a number, got {_shown(f_star)}")
        if not math.isfinite(f_star):
            raise ValueError(f"f_star must be finite, got {_shown(f_star)}")
        f_star = float(f_star)
    points = None if x_star is None else _as_points("x_star", x_star, dim)
    box = None if bounds is None else _as_bounds(bounds, dim)
    if not isinstance(description, str):
        raise ValueError(f"description must be a string, got {_shown(description)}")

    try:
        shape = jax.eval_shape(fn, jax.ShapeDtypeStruct((dim,), jnp.float32)).shape
    except RecursionError:
        raise _too_deep(formula) from None
    if shape != ():
        raise ValueError(
            f"formula {_shown(formula)} gives an array of shape {shape}, not a number: reduce it, "
            "e.g. sum(...)"
        )

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        # A formula may ignore some coordinates: NaN there must still give NaN.
        return propagate_nan(fn(x), x)

    return Problem(
        name="expression",
        dim=dim,
        init=normal_start(dim) if box is None else uniform_start(box),
        loss=loss,
        f_star=f_star,
        x_star=points,
        bounds=box,
        description=description or f"f(x) = {formula}",
        source="user-defined formula",
    )
