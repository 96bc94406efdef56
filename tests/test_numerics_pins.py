"""A change to the code behind a cell's numbers must bump that code's numerics version.

The cell store serves a finished cell by its key, and the key holds a numerics version per
module (``problems.NUMERICS_VERSIONS``, ``optimizers.NUMERICS_VERSIONS``, the runner's
``RUNNER_VERSION`` and the frames' ``FRAMES_VERSION``), bumped by hand. A forgotten bump
would serve stale numbers, so this test pins the syntax tree of every such module (comments
and docstrings left out, so they can change freely) next to its version: a module whose code
changed under the same version fails here. Then either bump its version (its cells are
recomputed), or, if the change cannot alter a number (a rename, a refactor), say so by
updating the pins:

    .venv/bin/python tests/test_numerics_pins.py --update
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import sys
from pathlib import Path

import optimizers
import problems
from bench.results.columns import FRAMES_VERSION
from bench.run.kernel import RUNNER_VERSION

PINS = Path(__file__).with_name("numerics_pins.json")
RUNNER_MODULES = (
    "bench.run.kernel",
    "bench.run.cell",
    "bench.run.compute",
    "bench.run.policies",
    "bench.run.shared",
)
FRAMES_MODULES = ("bench.results.frames", "bench.results.columns")


def versions() -> dict[str, int]:
    """Every pinned module and the version its cells' keys hold."""
    pinned = {**problems.NUMERICS_VERSIONS, **optimizers.NUMERICS_VERSIONS}
    pinned.update({m: RUNNER_VERSION for m in RUNNER_MODULES})
    pinned.update({m: FRAMES_VERSION for m in FRAMES_MODULES})
    return pinned


def code_hash(module: str) -> str:
    """sha256 of the module's syntax tree without docstrings (comments are not in it)."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def current() -> dict[str, dict[str, object]]:
    return {m: {"version": v, "code": code_hash(m)} for m, v in sorted(versions().items())}


def test_code_behind_the_numbers_changed_only_with_its_version():
    pins = json.loads(PINS.read_text())
    stale = [
        f"{module} (version {now['version']})"
        for module, now in current().items()
        if module in pins
        and pins[module]["version"] == now["version"]
        and pins[module]["code"] != now["code"]
    ]
    assert not stale, (
        "code behind cell numbers changed without a numerics version bump: "
        + ", ".join(stale)
        + ". Bump the version, or if no number can change, run "
        "`.venv/bin/python tests/test_numerics_pins.py --update`."
    )


def test_every_module_behind_the_numbers_is_pinned():
    pins = json.loads(PINS.read_text())
    assert sorted(pins) == sorted(versions()), "run tests/test_numerics_pins.py --update"
    assert all(pins[m]["version"] <= v for m, v in versions().items())


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_numerics_pins.py --update")
    PINS.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINS}")
