"""Turn a factory's signature into a YAML schema, and check YAML values against it.

A factory's keyword parameters and their annotations ARE the schema: `int`, `float`, `bool`,
`str`, `X | None`, `Literal[...]`, and lists/tuples of numbers. Optax's aliases annotate with
wide unions (`float | Array | Schedule`); a union that admits a float is a number here.
A parameter whose type cannot be written in YAML (a mask function, a dtype, a line-search
object) is not settable from a config and keeps its default.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

# A value echoed in a message is cut to this many characters (plus its size): a config may
# hold a 10,000-character string or a list of 100,000 numbers, and a message must stay short.
MAX_SHOWN_CHARS = 100

ValueKind = Literal["float", "int", "bool", "str", "choice", "int_list", "float_list", "matrix"]


@dataclasses.dataclass(frozen=True)
class Param:
    """One YAML-settable parameter of a factory."""

    name: str
    kind: ValueKind
    required: bool
    default: Any
    optional: bool = False  # None is accepted
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """`name: type = default`, as `python -m bench list` prints it."""
        type_name = "|".join(self.choices) if self.kind == "choice" else self.kind.replace("_", " ")
        if self.optional:
            type_name += " or null"
        if self.required:
            return f"{self.name}: {type_name} (required)"
        return f"{self.name}: {type_name} = {self.default!r}"


def _is_numeric_type(t: Any) -> bool:
    return isinstance(t, type) and t is not bool and issubclass(t, numbers.Number)


def _classify(annotation: Any) -> tuple[ValueKind | None, bool, tuple[str, ...]]:
    """(kind, accepts None, choices) for an annotation; kind None = not settable from YAML."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is bool:
        return "bool", False, ()
    if annotation is int:
        return "int", False, ()
    if annotation is str:
        return "str", False, ()
    if annotation is float:
        return "float", False, ()
    if origin is Literal:
        return "choice", False, tuple(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            kind, _, choices = _classify(rest[0])
            return kind, optional, choices
        classified = [_classify(a)[0] for a in rest]
        # Optax's ScalarOrSchedule and Numeric unions: a float in YAML is what users mean.
        if "float" in classified or any(_is_numeric_type(a) and a is not int for a in rest):
            return "float", optional, ()
        if "matrix" in classified:
            return "matrix", optional, ()
        if "float_list" in classified:
            return "float_list", optional, ()
        return None, optional, ()
    if origin in (list, tuple, typing.Sequence) or (
        origin is not None and getattr(origin, "__name__", "") == "Sequence"
    ):
        inner = [a for a in args if a is not Ellipsis]
        if len(inner) == 1:
            inner_kind = _classify(inner[0])[0]
            if inner_kind == "int":
                return "int_list", False, ()
            if inner_kind == "float":
                return "float_list", False, ()
            if inner_kind == "float_list":
                return "matrix", False, ()
        return None, False, ()
    return None, False, ()


def signature_params(factory: Callable[..., Any]) -> dict[str, Param]:
    """The YAML-settable parameters of ``factory``, in signature order."""
    try:
        signature = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError):
        signature = inspect.signature(factory)
    params: dict[str, Param] = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind, optional, choices = _classify(p.annotation)
        if kind is None:
            continue
        required = p.default is inspect.Parameter.empty
        default = None if required else p.default
        accepts_none = optional or (not required and p.default is None)
        params[p.name] = Param(p.name, kind, required, default, accepts_none, choices)
    return params


def shown(value: Any) -> str:
    """``repr(value)`` for a message, cut to ``MAX_SHOWN_CHARS`` with '...' and its size."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    if isinstance(value, str | bytes):
        size = f"{len(value):,} characters"
    elif isinstance(value, list | tuple | dict | set):
        size = f"{len(value):,} items"
    else:
        size = f"{len(text):,} characters written out"
    return f"{text[:MAX_SHOWN_CHARS]}... ({size})"


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    """'; did you mean 'x'?' when a close option exists, else ''."""
    if len(word) > MAX_SHOWN_CHARS:
        return ""  # no option is that long: a close match is impossible
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _as_float(value: Any) -> float | None:
    # PyYAML reads 1e-3 (no dot) as a string: accept any numeric spelling as a number.
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    as_float = _as_float(value)
    if as_float is not None and math.isfinite(as_float) and as_float == int(as_float):
        return int(as_float)
    return None


def coerce(param: Param, value: Any) -> tuple[Any, str | None]:
    """(value converted to the parameter's type, None) or (None, what is wrong)."""
    if value is None:
        if param.optional:
            return None, None
        return None, f"{param.name} may not be null"
    kind = param.kind
    if kind == "float":
        number = _as_float(value)
        if number is None or not math.isfinite(number):
            return None, f"{param.name} must be a finite number, got {shown(value)}"
        return number, None
    if kind == "int":
        integer = _as_int(value)
        if integer is None:
            return None, f"{param.name} must be an integer, got {shown(value)}"
        return integer, None
    if kind == "bool":
        if not isinstance(value, bool):
            return None, f"{param.name} must be true or false, got {shown(value)}"
        return value, None
    if kind == "str":
        if not isinstance(value, str):
            return None, f"{param.name} must be a string, got {shown(value)}"
        return value, None
    if kind == "choice":
        if str(value) not in param.choices:
            hint = did_you_mean(str(value), param.choices)
            valid = ", ".join(param.choices)
            return None, f"{param.name} must be one of {valid}; got {shown(value)}{hint}"
        return str(value), None
    if kind in ("int_list", "float_list"):
        if not isinstance(value, list | tuple):
            return None, f"{param.name} must be a list of numbers, got {shown(value)}"
        convert = _as_int if kind == "int_list" else _as_float
        items = [convert(v) for v in value]
        # A NaN or infinite start, minimizer or bound poisons every number computed from it.
        if any(v is None or not math.isfinite(v) for v in items):
            what = "integers" if kind == "int_list" else "finite numbers"
            return None, f"{param.name} must be a list of {what}, got {shown(value)}"
        return (tuple(items) if kind == "int_list" else list(items)), None
    if kind == "matrix":
        given = value
        if isinstance(value, list | tuple) and value and not isinstance(value[0], list | tuple):
            value = [value]  # a single point written as one list
        if not isinstance(value, list | tuple) or not all(
            isinstance(r, list | tuple) for r in value
        ):
            return None, f"{param.name} must be a list of lists of numbers, got {shown(given)}"
        rows = [[_as_float(v) for v in row] for row in value]
        if any(v is None or not math.isfinite(v) for row in rows for v in row):
            return None, f"{param.name} must contain only finite numbers, got {shown(given)}"
        return rows, None
    raise AssertionError(f"unknown parameter kind {kind}")


def check_keys(given: Mapping[str, Any], allowed: list[str], where: str) -> list[str]:
    """One message per unknown key, with a did-you-mean and the valid keys."""
    errors = []
    for key in given:
        if key not in allowed:
            valid = ", ".join(allowed) if allowed else "(none)"
            errors.append(
                f"{where}: unknown key {shown(key)}{did_you_mean(str(key), allowed)} "
                f"Valid keys: {valid}."
            )
    return errors
