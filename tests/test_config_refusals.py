"""Hostile or mistaken configs are refused before anything is compiled or written: exit 2,
one paragraph per problem (what, where, what would be valid), no traceback, fast."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from jax import monitoring

from bench.cli import main
from bench.config import load_suite, read_yaml
from bench.config.loading import MAX_LANES, SEED_LIMIT
from bench.config.names import MAX_NAME_BYTES, slug
from bench.config.reading import MAX_YAML_NODES
from bench.config.schema import MAX_SHOWN_CHARS
from bench.run import preflight
from bench.run.policies import skip_reason
from problems.expression import MAX_FORMULA_DEPTH, MAX_FORMULA_LENGTH

REPO = Path(__file__).resolve().parents[1]

# XLA compiles in this process, counted as bench/run/compile_cache.py counts them.
COMPILES = [0]


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        COMPILES[0] += 1


monitoring.register_event_duration_secs_listener(_on_duration)


@pytest.fixture(autouse=True)
def _keep_float64():
    yield
    jax.config.update("jax_enable_x64", True)


PROBLEMS_AND_OPTIMIZERS = """
problems:
  - kind: rosenbrock
optimizers:
  - kind: gd
    learning_rate: 1e-3
"""


def _config(tmp_path: Path, content: str | bytes, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return path


def _refused(tmp_path: Path, capsys, config: Path, *phrases: str, seconds: float = 10.0) -> str:
    """Both `validate` and `run --out` exit 2 with ``phrases``; nothing compiled or written."""
    out = tmp_path / "out"
    compiles = COMPILES[0]
    err = ""
    for argv in (["validate", str(config)], ["run", str(config), "--out", str(out)]):
        start = time.perf_counter()
        status = main(argv)
        elapsed = time.perf_counter() - start
        err = capsys.readouterr().err
        assert status == 2, err
        assert "Traceback" not in err
        assert "nothing was compiled or written" in err
        for phrase in phrases:
            assert phrase in err, err
        assert elapsed < seconds, f"{argv[0]} took {elapsed:.1f} s"
    assert not out.exists()
    assert COMPILES[0] == compiles, "something was compiled"
    return err


def _accepted(config: Path, capsys) -> None:
    assert main(["validate", str(config)]) == 0, capsys.readouterr().err
    capsys.readouterr()


# 1. Suite names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ('""', "it is empty"),
        ('"   "', "it is blank"),
        ('"a\\0b"', "NUL"),
        ('"a\\nb"', "control character"),
        ('"runs/today"', "path separator"),
        ('"runs\\\\today"', "path separator"),
        ('".hidden"', "starts with '.'"),
        ('".."', "starts with '.'"),
        ("x" * (MAX_NAME_BYTES + 1), "256 bytes long in UTF-8, above 255"),
        ("é" * 128, "256 bytes long in UTF-8, above 255"),  # 128 characters, 256 bytes
        ("[a, b]", "it is a list"),
    ],
)
def test_bad_suite_names_are_refused(tmp_path, capsys, written, why):
    config = _config(tmp_path, f"name: {written}\n{PROBLEMS_AND_OPTIMIZERS}")
    err = _refused(tmp_path, capsys, config, "name must be a non-empty string", why)
    assert "results/<name>/" in err


def test_longest_suite_name_is_accepted(tmp_path, capsys):
    _accepted(_config(tmp_path, f"name: {'é' * 127}\n{PROBLEMS_AND_OPTIMIZERS}"), capsys)


def test_a_name_taken_from_the_file_name_says_so(tmp_path, capsys):
    config = _config(tmp_path, PROBLEMS_AND_OPTIMIZERS, name=".hidden.yaml")
    _refused(tmp_path, capsys, config, "taken from the file name", "starts with '.'")


# 2. Entry names and their file-name slugs ---------------------------------------------


def test_slugs_keep_distinct_names_distinct():
    assert slug("ρ-valley") != slug("σ-valley")
    assert slug("ρ-valley").startswith("valley-") and slug("σ-valley").startswith("valley-")
    assert slug("a b") != slug("a-b") and slug("a-b") == "a-b"
    for name in ("rosenbrock-100d", "optax.sgd", "valley_1e4", "Adam"):
        assert slug(name) == name  # safe names keep their readable file names


def test_slugs_are_stable_safe_short_and_never_empty():
    assert slug("ρ-valley") == "valley-85c18f28"  # the same on every run and machine
    assert slug("optax.sgd+momentum") == "optax.sgd-momentum-30accb0b"
    for name in ("", "...", "-", "ρσ", "/", "\x00", "a" * 10_000, "é" * 300, ".hidden"):
        result = slug(name)
        assert result and len(result.encode()) <= 100
        assert set(result) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
        )
        assert not result.startswith((".", "-"))
    assert slug("a" * 10_000) != slug("a" * 10_001)


def test_distinct_non_ascii_entry_names_are_accepted(tmp_path, capsys):
    config = _config(
        tmp_path,
        """
        problems:
          - kind: rosenbrock
            name: ρ-valley
          - kind: rosenbrock
            name: σ-valley
          - kind: booth
            name: a b
          - kind: himmelblau
            name: a-b
        optimizers:
          - kind: gd
            learning_rate: 1e-3
        """,
    )
    _accepted(config, capsys)


@pytest.mark.parametrize(
    ("section", "first", "second"),
    [("problems", "Valley", "valley"), ("optimizers", "Adam", "adam")],
)
def test_names_that_share_a_file_on_a_case_insensitive_disk_are_refused(
    tmp_path, capsys, section, first, second
):
    problems = ["kind: rosenbrock"]
    optimizers = ["kind: gd\n    learning_rate: 0.1"]
    if section == "problems":
        problems = [f"kind: rosenbrock\n    name: {first}", f"kind: booth\n    name: {second}"]
    else:
        optimizers = [f"{optimizers[0]}\n    name: {n}" for n in (first, second)]
    text = "problems:\n" + "".join(f"  - {p}\n" for p in problems)
    text += "optimizers:\n" + "".join(f"  - {o}\n" for o in optimizers)
    config = _config(tmp_path, text)
    _refused(
        tmp_path,
        capsys,
        config,
        f"{section}[1]",
        f"{first!r} ({section}[0]",
        f"{second!r}",
        "ignores case",
        "rename one",
    )


# 3. Seeds ------------------------------------------------------------------------------


def test_seeds_at_or_above_two_to_the_32_are_refused(tmp_path, capsys):
    config = _config(
        tmp_path, f"seeds: [0, {SEED_LIMIT}, {SEED_LIMIT * 10}]\n{PROBLEMS_AND_OPTIMIZERS}"
    )
    _refused(
        tmp_path, capsys, config, "seeds[1] is 4294967296", "(and 1 more)", "2**32", "4,294,967,295"
    )


def test_negative_seeds_and_huge_counts_are_refused(tmp_path, capsys):
    config = _config(tmp_path, f"seeds: [-1, 2]\n{PROBLEMS_AND_OPTIMIZERS}")
    _refused(tmp_path, capsys, config, "distinct non-negative integers", "[-1, 2]")
    config = _config(tmp_path, f"seeds: {SEED_LIMIT + 1}\n{PROBLEMS_AND_OPTIMIZERS}")
    _refused(tmp_path, capsys, config, "seeds must be a count >= 1 and at most 10,000")


def test_the_largest_seed_is_accepted(tmp_path, capsys):
    _accepted(_config(tmp_path, f"seeds: [0, {SEED_LIMIT - 1}]\n{PROBLEMS_AND_OPTIMIZERS}"), capsys)


# 4. Duplicate keys ---------------------------------------------------------------------


def test_duplicate_keys_at_every_level_are_refused_with_their_lines(tmp_path, capsys):
    config = _config(
        tmp_path,
        """\
        steps: 10
        problems:
          - kind: rosenbrock
            dim: 2
            dim: 3
        optimizers:
          - kind: adam
            learning_rate: [1e-3, 1e-2]
            default: {learning_rate: 1e-3, learning_rate: 1e-2}
        steps: 20
        """,
    )
    err = _refused(
        tmp_path,
        capsys,
        config,
        "line 5: the key 'dim' is written twice in one mapping (first at line 4)",
        "line 9: the key 'learning_rate' is written twice",
        "line 10: the key 'steps' is written twice in one mapping (first at line 1)",
        "3 problems",
    )
    assert "keep only the last value" in err


def test_a_merge_key_may_override_without_a_duplicate(tmp_path, capsys):
    config = _config(
        tmp_path,
        """
        base: &base {kind: gd, learning_rate: 1e-3}
        problems:
          - kind: rosenbrock
        optimizers:
          - <<: *base
            learning_rate: 1e-2
        """,
    )
    # `base` is not a suite key: the one error is that, not a duplicate
    err = _refused(tmp_path, capsys, config, "unknown key 'base'", "1 problem)")
    assert "twice" not in err


# 5. Alias bombs, deep nesting, and values echoed in messages ---------------------------

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n    learning_rate: *i\n",
    ]
)


def test_billion_laughs_is_refused_within_a_fraction_of_a_second(tmp_path, capsys):
    config = _config(tmp_path, LAUGHS)
    assert config.stat().st_size < 800
    start = time.perf_counter()
    with pytest.raises(Exception, match="expands to more than 100,000 values"):
        read_yaml(config)
    assert time.perf_counter() - start < 0.5
    _refused(tmp_path, capsys, config, f"more than {MAX_YAML_NODES:,} values", "billion laughs")


def test_aliases_within_the_budget_are_expanded(tmp_path, capsys):
    config = _config(
        tmp_path,
        """
        problems:
          - kind: rosenbrock
        optimizers:
          - kind: gd
            learning_rate: &rates [1e-3, 1e-2]
          - kind: adam
            learning_rate: *rates
        """,
    )
    _accepted(config, capsys)


def test_recursive_aliases_and_deep_nesting_are_refused(tmp_path, capsys):
    config = _config(tmp_path, f"name: &a [x, *a]\n{PROBLEMS_AND_OPTIMIZERS}")
    _refused(tmp_path, capsys, config, "contains itself", "line 1")
    config = _config(tmp_path, "name: " + "[" * 5000 + "]" * 5000 + PROBLEMS_AND_OPTIMIZERS)
    _refused(tmp_path, capsys, config, "nests lists and mappings more than 50 deep")


def test_long_values_are_cut_in_messages(tmp_path, capsys):
    long_kind = "k" * 10_000
    many = [float(i) for i in range(5_000)]
    config = _config(
        tmp_path,
        f"problems:\n  - kind: {long_kind}\n  - kind: rosenbrock\n    dim: {many}\n"
        f"optimizers:\n  - kind: gd\n    learning_rate: {long_kind}\n",
    )
    err = _refused(
        tmp_path,
        capsys,
        config,
        "unknown kind 'kkkk",
        "(10,000 characters)",
        "takes one value, not the list [0.0, 1.0",
        "(5,000 items)",
        "learning_rate must be a finite number",
        "3 problems",
    )
    for paragraph in err.splitlines()[1:]:
        assert len(paragraph) < 2 * MAX_SHOWN_CHARS + 400, paragraph[:300]


# 6. Grid products ----------------------------------------------------------------------


def test_a_grid_product_above_the_cap_is_refused_without_enumerating_it(tmp_path, capsys):
    values = {
        "learning_rate": [1e-4 * (i + 1) for i in range(100)],
        "b1": [0.5 + 0.004 * i for i in range(100)],
        "b2": [0.9 + 0.0009 * i for i in range(100)],
        "eps": [1e-9 * (i + 1) for i in range(100)],
    }
    grid = "".join(f"    {k}: {v}\n" for k, v in values.items())
    config = _config(
        tmp_path, f"problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: adam\n{grid}"
    )
    assert config.stat().st_size < 10_000
    _refused(
        tmp_path,
        capsys,
        config,
        "100 learning_rate x 100 b1 x 100 b2 x 100 eps = 100,000,000 settings",
        "times 5 seeds = 500,000,000 runs",
        f"cap of {MAX_LANES:,} runs per cell",
        seconds=3.0,
    )


def test_the_lane_cap_counts_seeds_and_accepts_the_cap_itself(tmp_path, capsys):
    rates = [1e-3 * (i + 1) for i in range(10)]
    body = (
        f"problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: gd\n    learning_rate: {rates}\n"
    )
    _accepted(_config(tmp_path, f"seeds: 10000\n{body}"), capsys)  # 10 x 10,000 = the cap
    config = _config(tmp_path, f"seeds: 10000\n{body}".replace("]\n", ", 0.5]\n"))
    _refused(tmp_path, capsys, config, "= 110,000 runs in one cell")


# 7. Formulas ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "phrase"),
    [
        ("-" * MAX_FORMULA_DEPTH + "x[0]", "nested too deeply"),
        ("(" * 10_000 + "x[0]" + ")" * 10_000, f"at most {MAX_FORMULA_LENGTH} characters"),
        ("(" * 1_000 + "x[0]" + ")" * 1_000, "too many nested parentheses"),
        ("+".join(["x[0]"] * 100_000), f"at most {MAX_FORMULA_LENGTH} characters"),
    ],
)
def test_formulas_too_deep_or_long_to_trace_are_refused(tmp_path, capsys, formula, phrase):
    config = _config(
        tmp_path,
        f"problems:\n  - kind: expression\n    formula: '{formula}'\n"
        "optimizers:\n  - kind: gd\n    learning_rate: 1e-3\n",
    )
    _refused(tmp_path, capsys, config, "problems[0] (expression)", phrase)


def test_a_formula_at_the_depth_limit_is_accepted(tmp_path, capsys):
    formula = "-" * (MAX_FORMULA_DEPTH - 1) + "x[0]"
    config = _config(
        tmp_path,
        f"problems:\n  - kind: expression\n    formula: '{formula}'\n"
        "optimizers:\n  - kind: gd\n    learning_rate: 1e-3\n",
    )
    _accepted(config, capsys)


# 8. Memory -----------------------------------------------------------------------------

BFGS_100K = """
name: big
{extra}
problems:
  - kind: rosenbrock
    dim: 100000
optimizers:
  - kind: bfgs
  - kind: gd
    learning_rate: 1e-3
"""


def test_dense_state_methods_are_skipped_above_max_dense_state_dim(tmp_path):
    suite = load_suite(_config(tmp_path, BFGS_100K.format(extra="")))
    assert suite.max_dense_state_dim == suite.max_hessian_dim == 500
    problem = suite.problems[0]
    bfgs, gd = suite.optimizers
    reason = skip_reason(problem, bfgs, suite)
    assert reason is not None and "max_dense_state_dim 500" in reason
    assert "100000x100000" in reason
    assert skip_reason(problem, gd, suite) is None
    assert preflight.resource_errors(suite) == []
    # the cap follows max_hessian_dim unless set on its own
    raised = load_suite(_config(tmp_path, BFGS_100K.format(extra="max_hessian_dim: 1000")))
    assert raised.max_dense_state_dim == 1000


def test_a_cell_whose_one_run_exceeds_the_memory_budget_is_refused(tmp_path):
    raw_config = _config(tmp_path, BFGS_100K.format(extra="max_dense_state_dim: 100000"))
    suite = load_suite(raw_config, check_resources=False)
    errors = preflight.resource_errors(suite)
    assert len(errors) == 1
    (message,) = errors
    for phrase in ("cell rosenbrock x bfgs", "about 320.1 GB", "(dim 100,000)", "memory budget"):
        assert phrase in message, message
    assert "Lower the problem's dim" in message and "max_dense_state_dim below 100000" in message


def test_memory_advice_names_the_key_that_would_skip_the_cell(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "memory_budget_bytes", lambda: 10_000_000)  # 10 MB
    config = _config(
        tmp_path,
        """
        max_hessian_dim: 5000
        curvature_max_dim: 5000
        problems:
          - kind: rosenbrock
            dim: 2000
        optimizers:
          - kind: newton
          - kind: gd
            learning_rate: 1e-3
        """,
    )
    errors = preflight.resource_errors(load_suite(config, check_resources=False))
    assert len(errors) == 2
    newton, gd = errors
    assert "x newton" in newton and "max_hessian_dim below 2000 (now 5000)" in newton
    assert "x gd" in gd and "curvature_max_dim below 2000" in gd
    assert "budget of 0.01 GB" in gd  # 10 MB


def test_validate_and_run_refuse_a_cell_beyond_memory(tmp_path, capsys):
    config = _config(tmp_path, BFGS_100K.format(extra="max_dense_state_dim: 100000"))
    _refused(tmp_path, capsys, config, "cell rosenbrock x bfgs", "GB", "max_dense_state_dim")


# 9. Encodings --------------------------------------------------------------------------


def test_a_config_that_is_not_utf8_is_refused_with_the_byte_offset(tmp_path, capsys):
    config = _config(tmp_path, b"name: caf\xe9\n" + PROBLEMS_AND_OPTIMIZERS.encode())
    _refused(tmp_path, capsys, config, "not UTF-8", "byte offset 9", "0xe9", "line 1, column 10")
    utf16 = _config(tmp_path, ("name: x\n" + PROBLEMS_AND_OPTIMIZERS).encode("utf-16"))
    _refused(tmp_path, capsys, utf16, "not UTF-8", "byte offset 0", "Save the config as UTF-8")


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"name: caf\xe9\n" + PROBLEMS_AND_OPTIMIZERS.encode(), "byte offset 9"),
        (LAUGHS.encode(), "billion laughs"),
    ],
)
def test_the_processes_exit_2_quickly_without_a_traceback(tmp_path, content, phrase):
    config = _config(tmp_path, content)
    out = tmp_path / "out"
    for args in (["validate", str(config)], ["run", str(config), "--out", str(out)]):
        done = subprocess.run(
            [sys.executable, "-m", "bench", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert phrase in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


# 10. Repeated grid values --------------------------------------------------------------


def _grid_config(tmp_path: Path, rates: str) -> Path:
    return _config(
        tmp_path,
        "problems:\n  - kind: rosenbrock\noptimizers:\n  - kind: momentum\n"
        f"    learning_rate: 1e-3\n    momentum: {rates}\n",
    )


@pytest.mark.parametrize(
    ("written", "phrases"),
    [
        ("[0.1, 0.1]", ["momentum lists 0.1 twice:", "e.g. momentum: [0.1]"]),
        # PyYAML reads 1e-3 (no dot) as a string; read as a number it is 0.001.
        (
            "[1e-3, 0.001]",
            ["momentum lists 0.001 twice (written '1e-3' and 0.001, both 0.001 as numbers)"],
        ),
        ("[1.0e-3, 0.001, 0.5]", ["momentum lists 0.001 twice:", "e.g. momentum: [0.001, 0.5]"]),
        (
            "[0.9, 0.5, 0.9, 0.5, 0.9]",
            ["momentum lists 0.9 3 times; 0.5 twice:", "e.g. momentum: [0.9, 0.5]"],
        ),
    ],
)
def test_a_grid_that_lists_a_value_twice_is_refused(tmp_path, capsys, written, phrases):
    config = _grid_config(tmp_path, written)
    err = _refused(
        tmp_path,
        capsys,
        config,
        "optimizers[0] (momentum)",
        *phrases,
        "each value of a grid is one setting of the sweep, so the values must be distinct",
        "1 problem)",
    )
    assert err.count("\n  - ") == 1  # one paragraph for the entry, however many repeats


def test_repeats_are_reported_with_every_other_mistake_at_once(tmp_path, capsys):
    config = _config(
        tmp_path,
        """
        problems:
          - kind: rosenbrock
            dim: 1
        optimizers:
          - kind: gd
            learning_rate: [0.1, 0.1]
          - kind: adam
            learning_rate: [1e-3, 1.0e-3]
            b1: [0.9, 0.9]
        """,
    )
    _refused(
        tmp_path,
        capsys,
        config,
        "problems[0] (rosenbrock): dim must be >= 2",
        "optimizers[0] (gd): learning_rate lists 0.1 twice",
        "optimizers[1] (adam): learning_rate lists 0.001 twice",
        "optimizers[1] (adam): b1 lists 0.9 twice",
        "4 problems",
    )


def test_close_but_distinct_grid_values_are_accepted(tmp_path, capsys):
    _accepted(_grid_config(tmp_path, "[0.999, 0.9999, 0.99999]"), capsys)
    _accepted(_grid_config(tmp_path, "[1e-3, 1.0000001e-3]"), capsys)
    suite = load_suite(_grid_config(tmp_path, "[0.999, 0.9999, 0.99999]"))
    assert suite.optimizers[0].grid["momentum"] == (0.999, 0.9999, 0.99999)


# 11. Declared optima of formulas -------------------------------------------------------

HIMMELBLAU = "(x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2"
# As README.md / configs/default.yaml write them: 9 to 10 significant digits.
HIMMELBLAU_X_STAR = (
    "[[3.0, 2.0], [-2.805118087, 3.131312518], [-3.779310253, -3.283185991], "
    "[3.584428340, -1.848126527]]"
)


def _himmelblau(x: float, y: float) -> float:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _formula_config(tmp_path: Path, entry: str, dtype: str = "float64") -> Path:
    return _config(
        tmp_path,
        f"dtype: {dtype}\nproblems:\n  - kind: expression\n    name: claimed\n{entry}"
        "optimizers:\n  - kind: gd\n    learning_rate: 1e-3\n",
    )


def _himmelblau_entry(f_star: str = "0.0", x_star: str = HIMMELBLAU_X_STAR) -> str:
    return (
        f'    formula: "{HIMMELBLAU}"\n    init: [0.0, 0.0]\n'
        f"    f_star: {f_star}\n    x_star: {x_star}\n"
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_readme_himmelblau_optimum_is_accepted(tmp_path, capsys, dtype):
    _accepted(_formula_config(tmp_path, _himmelblau_entry(), dtype), capsys)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_f_star_above_the_loss_at_x_star_is_refused(tmp_path, capsys, dtype):
    assert _himmelblau(3.0, 2.0) == 0.0
    config = _formula_config(tmp_path, _himmelblau_entry(f_star="1.0"), dtype)
    _refused(
        tmp_path,
        capsys,
        config,
        "problems[0] (expression) 'claimed': f_star = 1 is above a value the surface reaches",
        "the formula is 0 at x_star[0] = (3, 2), 1 below f_star, more than the tolerance "
        "1e-06 * max(1, |f_star|) = 1e-06",
        "set f_star to the true minimum (at most 0)",
        "The same holds at x_star[1], x_star[2], x_star[3] (4 points in all).",
        "(1 problem)",
    )


def test_a_moved_x_star_is_refused_as_too_high_and_not_stationary(tmp_path, capsys):
    x_star = HIMMELBLAU_X_STAR.replace("[[3.0, 2.0]", "[[3.1, 2.0]")
    config = _formula_config(tmp_path, _himmelblau_entry(x_star=x_star))
    x, y = 3.1, 2.0
    grad = np.hypot(
        4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7), 2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)
    )
    _refused(
        tmp_path,
        capsys,
        config,
        f"x_star[0] = (3.1, 2) does not reach f_star = 0: the formula is {_himmelblau(x, y):.12g} "
        "there",
        f"x_star[0] = (3.1, 2) is not a stationary point: the gradient there has norm {grad:.3g}",
        "(2 problems)",
    )


def test_an_f_star_above_the_start_is_refused_and_a_correct_one_accepted(tmp_path, capsys):
    shifted = '    formula: "(x[0] - 1)**2 - 5"\n    init: [0.0]\n'
    assert (0.0 - 1) ** 2 - 5 == -4.0  # the start's loss, below the claimed f* = 0
    _refused(
        tmp_path,
        capsys,
        _formula_config(tmp_path, shifted + "    f_star: 0\n"),
        "'claimed': f_star = 0 is above a value the surface reaches: the formula is -4 at the "
        "start init = (0), 4 below f_star",
        "f_star must be a lower bound of the formula",
    )
    _accepted(_formula_config(tmp_path, shifted + "    f_star: -5\n"), capsys)
    _accepted(_formula_config(tmp_path, shifted + "    f_star: -5\n    x_star: [1.0]\n"), capsys)


def test_bench_check_still_reports_a_wrong_claim_in_full(tmp_path, capsys):
    # validate refuses it; `bench check` loads it anyway and prints its own diagnosis.
    config = _formula_config(tmp_path, _himmelblau_entry(f_star="1.0"))
    assert main(["check", str(config)]) == 1
    out = capsys.readouterr().out
    assert "failed: value |loss(x*) - f*| 1 > 1e-08" in out
