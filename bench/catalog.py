"""`python -m bench list`: every registered problem, optimizer and schedule, with its YAML keys."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from bench.config import OPTIMIZER_KEYS, PROBLEM_KEYS
from bench.config.schema import signature_params
from optimizers import OPTIMIZERS
from optimizers.schedules import SCHEDULES
from problems import PROBLEMS


def _summary(obj: Callable[..., Any]) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _params(factory: Callable[..., Any], sweepable: frozenset[str] = frozenset()) -> list[str]:
    lines = []
    for param in signature_params(factory).values():
        mark = "  [grid]" if param.name in sweepable else ""
        lines.append(f"      {param.describe()}{mark}")
    return lines


def describe_registries() -> str:
    """The catalogue as text: kinds, one-line descriptions, parameters and capabilities."""
    lines = [
        f"Problems ({len(PROBLEMS)}). Every entry also takes: "
        f"{', '.join(k for k in PROBLEM_KEYS if k != 'kind')}.",
        "",
    ]
    for kind, factory in PROBLEMS.items():
        lines.append(f"  {kind}: {_summary(factory)}")
        lines += _params(factory)
    lines += [
        "",
        f"Optimizers ({len(OPTIMIZERS)}). Every entry also takes: "
        f"{', '.join(k for k in OPTIMIZER_KEYS if k != 'kind')}. "
        "[grid] = a list of values is swept inside one compile.",
        "",
    ]
    for name, entry in OPTIMIZERS.items():
        capabilities = [
            c
            for c, on in (
                ("needs a dense Hessian", entry.needs_hessian),
                ("deterministic only", entry.deterministic_only),
                (
                    f"deterministic only while {entry.line_search_argument} is on (the default)",
                    entry.line_search_argument is not None and entry.deterministic_only_for({}),
                ),
                (
                    f"deterministic only with {entry.line_search_argument}: true",
                    entry.line_search_argument is not None and not entry.deterministic_only_for({}),
                ),
            )
            if on
        ]
        suffix = f"  ({'; '.join(capabilities)})" if capabilities else ""
        lines.append(f"  {name}: {entry.description or _summary(entry.factory)}{suffix}")
        lines += _params(entry.factory, entry.sweepable)
    lines += [
        "",
        f"Learning-rate schedules ({len(SCHEDULES)}), as `schedule: {{kind: ...}}` "
        "on an optimizer entry (a multiplier of learning_rate):",
        "",
    ]
    for kind, factory in SCHEDULES.items():
        lines.append(f"  {kind}: {_summary(factory)}")
        lines += _params(factory)
    return "\n".join(lines)
