"""The shipped suites: `make bench` compares every family with every method, and validates."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.config import load_suite, read_yaml
from bench.perf import load_perf_config
from optimizers import HAND_WRITTEN, OPTIMIZERS
from problems import PROBLEMS

DEFAULT = "configs/default.yaml"

# The Optax call each first-order method is compared with in the default suite: (kind, the
# arguments that make it the same rule). Written out here, not read from the code.
OPTAX_TWINS = {
    "gd": ("optax.sgd", {}),
    "momentum": ("optax.sgd", {"momentum": 0.9}),
    "nesterov": ("optax.sgd", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("optax.adagrad", {}),
    "rmsprop": ("optax.rmsprop", {}),
    "adam": ("optax.adam", {}),
    "adamw": ("optax.adamw", {}),
}


def _entries(section: str) -> list[dict]:
    return read_yaml(DEFAULT)[section]


@pytest.mark.parametrize("config", [DEFAULT, "configs/smoke.yaml"])
def test_shipped_suites_validate(config, capsys):
    assert main(["validate", config]) == 0, capsys.readouterr().err


def test_shipped_perf_config_loads():
    _, cells = load_perf_config("configs/perf.yaml")  # raises ConfigError on any mistake
    goals = {"max_ratio_to_floor", "min_fraction_of_floor_speedup", "max_compile_ratio_to_floor"}
    assert goals <= set(cells[0].goals)
    # The compile goal is declared on every cell (issue 16's re-scoped goals).
    assert all("max_compile_ratio_to_floor" in cell.goals for cell in cells)


def test_default_suite_covers_every_problem_kind():
    kinds = {entry["kind"] for entry in _entries("problems")}
    assert kinds == set(PROBLEMS)


def test_default_suite_runs_every_hand_written_optimizer():
    kinds = {entry["kind"] for entry in _entries("optimizers")}
    assert set(HAND_WRITTEN) <= kinds
    assert all(kind in OPTIMIZERS for kind in kinds)


@pytest.mark.parametrize("method", sorted(OPTAX_TWINS))
def test_default_suite_runs_each_first_order_method_beside_its_optax_twin(method):
    twin_kind, twin_args = OPTAX_TWINS[method]
    entries = _entries("optimizers")
    mine = [e for e in entries if e["kind"] == method]
    twins = [
        e
        for e in entries
        if e["kind"] == twin_kind
        and all(e.get(k) == v for k, v in twin_args.items())
        # a plain optax.sgd must not count as the momentum twin, nor the reverse
        and all(k in twin_args for k in ("momentum", "nesterov") if k in e)
    ]
    assert len(mine) == 1 and len(twins) == 1
    # compared like with like: the same tuning grid and the same untuned point
    assert mine[0]["learning_rate"] == twins[0]["learning_rate"]
    assert mine[0].get("default") == twins[0].get("default")


def test_every_entry_of_the_default_suite_has_its_untuned_point_in_the_grid():
    # The report shows each entry at its tuned AND its default setting; a fixed argument
    # written once (optax.sgd's momentum: 0.9) belongs to both.
    suite = load_suite(DEFAULT)
    missing = [s.name for s in suite.optimizers if s.default_index() is None]
    assert missing == []
    momentum = next(s for s in suite.optimizers if s.name == "optax.sgd+momentum")
    assert momentum.settings()[momentum.default_index()] == {
        "momentum": 0.9,
        "learning_rate": 1e-2,
    }


@pytest.mark.parametrize("config", [DEFAULT, "configs/smoke.yaml"])
def test_shipped_suites_cap_dense_states_like_dense_hessians_and_fit_in_memory(config):
    from bench.run.preflight import resource_errors

    suite = load_suite(config, check_resources=False)
    assert suite.max_dense_state_dim == suite.max_hessian_dim
    assert resource_errors(suite) == []
