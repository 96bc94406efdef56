"""Cell keys: what determines a cell's numbers, independent of how the YAML is written."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

import optimizers
import problems
from bench.config import build_suite
from bench.run.keys import canonical, cell_key, digest, suite_cells

BASE = {
    "name": "keys",
    "steps": 30,
    "seeds": 2,
    "target": 1e-6,
    "problems": [
        {"kind": "rosenbrock", "dim": 2},
        {"kind": "quadratic", "name": "bowl", "dim": 4, "condition_number": 10.0},
        {"kind": "booth", "init": [1.0, 2.0], "init_noise": 0.1},
    ],
    "optimizers": [
        {"kind": "adam", "learning_rate": [1e-3, 1e-2], "b1": [0.8, 0.9]},
        {"kind": "gd", "learning_rate": [0.01]},
        {"kind": "newton"},
    ],
}


def _keys(raw) -> dict[tuple[str, str], str]:
    suite = build_suite(copy.deepcopy(raw))
    return {(c.problem.name, c.setting.name): c.key for c in suite_cells(suite)}


def _shuffled(raw, seed: int):
    """The same suite with entries and every mapping's keys in another order."""
    rng = random.Random(seed)

    def shuffle_mapping(mapping):
        items = list(mapping.items())
        rng.shuffle(items)
        return dict(items)

    raw = shuffle_mapping(copy.deepcopy(raw))
    for section in ("problems", "optimizers"):
        entries = [shuffle_mapping(e) for e in raw[section]]
        rng.shuffle(entries)
        raw[section] = entries
    return raw


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keys_ignore_entry_order_and_key_order(seed):
    assert _keys(_shuffled(BASE, seed)) == _keys(BASE)


def test_numbers_written_differently_are_one_key():
    raw = copy.deepcopy(BASE)
    raw["optimizers"][0]["learning_rate"] = ["1e-3", "0.01"]  # PyYAML reads 1e-3 as a string
    raw["problems"][1]["condition_number"] = 10
    assert _keys(raw) == _keys(BASE)


def test_names_and_description_are_labels_not_keys():
    raw = copy.deepcopy(BASE)
    raw["name"], raw["description"] = "other", "a description"
    raw["problems"][1]["name"] = "renamed-bowl"
    keys = _keys(raw)
    base = _keys(BASE)
    assert keys[("renamed-bowl", "adam")] == base[("bowl", "adam")]
    assert set(keys.values()) == set(base.values())


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        # one hyperparameter grid: only that entry's cells
        (lambda r: r["optimizers"][0].update(learning_rate=[1e-3, 2e-2]), {"adam"}),
        (lambda r: r["optimizers"][1].update(learning_rate=[0.02]), {"gd"}),
        (lambda r: r["optimizers"][0].update(default={"learning_rate": 1e-2}), {"adam"}),
        (lambda r: r["optimizers"][1].update(schedule={"kind": "cosine", "decay_steps": 30}),
         {"gd"}),
        (lambda r: r["optimizers"][1].update(clip_norm=1.0), {"gd"}),
    ],
)  # fmt: skip
def test_an_optimizer_edit_changes_only_that_entrys_keys(edit, changed):
    raw = copy.deepcopy(BASE)
    edit(raw)
    before, after = _keys(BASE), _keys(raw)
    moved = {o for (p, o), key in after.items() if before[(p, o)] != key}
    assert moved == changed
    assert all(before[(p, o)] != after[(p, o)] for (p, o) in after if o in changed)


def test_a_problem_edit_changes_only_that_problems_keys():
    raw = copy.deepcopy(BASE)
    raw["problems"][1]["condition_number"] = 100.0
    before, after = _keys(BASE), _keys(raw)
    moved = {p for (p, o), key in after.items() if before[(p, o)] != key}
    assert moved == {"bowl"}
    raw["problems"][2]["init_noise"] = 0.2
    moved = {p for (p, o), key in _keys(raw).items() if before[(p, o)] != key}
    assert moved == {"bowl", "booth"}


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r.update(steps=31),
        lambda r: r.update(seeds=3),
        lambda r: r.update(seeds=[0, 2]),
        lambda r: r.update(target=1e-7),
        lambda r: r.update(record_every=3),
        lambda r: r.update(dtype="float32"),
    ],
)
def test_a_protocol_edit_changes_every_key(edit):
    raw = copy.deepcopy(BASE)
    edit(raw)
    before, after = _keys(BASE), _keys(raw)
    assert all(before[cell] != after[cell] for cell in after)


def test_a_numerics_version_bump_changes_only_that_familys_keys(monkeypatch):
    before = _keys(BASE)
    monkeypatch.setitem(optimizers.NUMERICS_VERSIONS, "optimizers.newton", 99)
    after = _keys(BASE)
    assert {o for (p, o) in after if before[(p, o)] != after[(p, o)]} == {"newton"}
    monkeypatch.setitem(problems.NUMERICS_VERSIONS, "problems.quadratic", 99)
    again = _keys(BASE)
    assert {p for (p, o) in again if after[(p, o)] != again[(p, o)]} == {"bowl"}


def test_every_registered_family_has_a_numerics_version():
    for kind in problems.PROBLEMS:
        assert problems.numerics_versions(kind)  # raises KeyError for a module without one
    for entry in optimizers.OPTIMIZERS.values():
        versions = optimizers.numerics_versions(entry)
        assert set(optimizers.SHARED_MODULES) <= set(versions)


def test_the_key_is_a_hash_of_canonical_json():
    # Independent of dict order, exact for floats, and NaN/inf spelled out (not JSON).
    assert digest({"a": 1, "b": [0.1, 2]}) == digest({"b": (0.1, 2), "a": 1})
    assert digest({"a": 0.1}) != digest({"a": float(np.nextafter(0.1, 1.0))})
    assert canonical({"x": float("inf")}) == {"x": "inf"}
    suite = build_suite(copy.deepcopy(BASE))
    assert len(cell_key(suite, 0, suite.optimizers[0])) == 40


def test_defaults_written_out_are_the_same_key():
    explicit = copy.deepcopy(BASE)
    explicit["problems"][0]["dim"] = 2  # rosenbrock's default
    explicit["problems"].append({"kind": "booth", "name": "booth-0", "init_noise": 0.0})
    explicit["optimizers"][2]["linesearch"] = False  # newton's default
    implicit = copy.deepcopy(BASE)
    implicit["problems"][0].pop("dim")
    implicit["problems"].append({"kind": "booth", "name": "booth-0"})
    assert _keys(explicit) == _keys(implicit)
    assert _keys(explicit)[("rosenbrock", "newton")] == _keys(BASE)[("rosenbrock", "newton")]


def test_a_yaml_date_in_the_config_is_a_value_not_a_crash():
    import datetime

    raw = copy.deepcopy(BASE)
    raw["description"] = datetime.date(2024, 1, 1)  # what PyYAML makes of 2024-01-01
    assert _keys(raw) == _keys(BASE)
    assert canonical({"d": datetime.date(2024, 1, 1)}) == {"d": "2024-01-01"}


def test_suite_cells_keys_are_cell_key_of_each_cell():
    """suite_cells makes each problem's and entry's spec canonical once: the keys must be
    exactly those of cell_key, cell by cell (the store's parts are named by them)."""
    suite = build_suite(copy.deepcopy(BASE))
    cells = suite_cells(suite)
    assert len(cells) == len(suite.problems) * len(suite.optimizers)
    for cell in cells:
        assert cell.key == cell_key(suite, cell.problem_index, cell.setting)
