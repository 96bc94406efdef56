"""The answers by surface class and family (bench/answers.py): each reason against numbers
worked out by hand here, the failure modes against hand-made rows, and the whole on the
synthetic suite (every class present, Newton never named as first-order)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_report_synthetic import build

from bench.answers import (
    DIVERGED,
    LOCAL_MAXIMUM,
    LOCAL_MINIMUM,
    NOISY,
    SADDLE,
    TOO_SLOW,
    class_answers,
    failure_mode,
    family_answers,
    minima_reason,
    saddle_reason,
    step_size_reason,
    twin_departures,
    twin_groups,
)
from bench.results.loaded import load_results
from bench.summary import comparison
from optimizers import NEWTON


def _metadata(**problems):
    return {"problems": problems, "optimizers": {}, "suite": {"dtype": "float64"}}


def test_step_size_reason_puts_the_diverged_rates_beside_2_over_l():
    # L = 100: gradient steps are stable below 2/L = 0.02; the grid's 0.05 and 0.1 diverged
    # in most seeds, 0.01 in one seed of three (a minority: stable).
    statuses = {
        0.001: ["max_steps"] * 3,
        0.01: ["converged", "converged", "diverged"],
        0.05: ["diverged", "diverged", "max_steps"],
        0.1: ["diverged"] * 3,
    }
    runs = pd.DataFrame(
        [
            {"problem": "p", "optimizer": "gd", "learning_rate": lr, "status": status}
            for lr, column in statuses.items()
            for status in column
        ]
    )
    text = step_size_reason(runs, _metadata(p={"smoothness": 100.0}), "p", "gd")
    assert "2/L = 0.02" in text
    assert "diverged at every rate ≥ 0.05" in text
    assert "largest stable rate was 0.01" in text
    assert step_size_reason(runs, _metadata(p={"smoothness": None}), "p", "gd") is None
    # Divergence that is not a threshold (0.01 diverges, 0.05 does not) is listed as it is.
    patchy = runs.copy()
    patchy.loc[patchy["learning_rate"] == 0.05, "status"] = "max_steps"
    patchy.loc[patchy["learning_rate"] == 0.01, "status"] = "diverged"
    text = step_size_reason(patchy, _metadata(p={"smoothness": 100.0}), "p", "gd")
    assert "diverged at the rates 0.01, 0.1 of its grid, not at the others" in text


def _row(**fields):
    base = dict(
        optimizer="x",
        all_settings_diverged=False,
        diverged=0,
        runs=5,
        grad_norm_median=1e-9,
    )
    return SimpleNamespace(**{**base, **fields})


def test_failure_modes():
    at_end = pd.DataFrame(
        {"eig_min": [-0.5, 2.0, -40.0], "eig_max": [3.0, 4.0, -16.0]},
        index=pd.Index(["s", "m", "top"]),
    )
    assert failure_mode(_row(diverged=3), at_end) == DIVERGED  # most seeds
    assert failure_mode(_row(all_settings_diverged=True), at_end) == DIVERGED
    assert failure_mode(_row(optimizer="s"), at_end) == SADDLE
    assert failure_mode(_row(optimizer="m"), at_end) == LOCAL_MINIMUM
    assert failure_mode(_row(optimizer="top"), at_end) == LOCAL_MAXIMUM  # all curve down
    assert failure_mode(_row(optimizer="m", grad_norm_median=0.3), at_end) == TOO_SLOW
    assert failure_mode(_row(diverged=2), at_end) == LOCAL_MINIMUM  # a minority diverged
    assert failure_mode(_row(optimizer="m"), at_end, stochastic=True) == NOISY
    assert failure_mode(_row(diverged=3), at_end, stochastic=True) == DIVERGED


def test_saddle_reason_gives_the_step_the_negative_curvature_ends():
    rows = []
    for optimizer, leaves in (("fast", 3), ("slow", 20), ("stuck", None)):
        for seed in (0, 1):
            for step in range(0, 30, 1):
                negative = 1 if leaves is None or step < leaves + seed else 0
                rows.append(
                    dict(
                        problem="p",
                        optimizer=optimizer,
                        role="best",
                        seed=seed,
                        step=step,
                        negative_eigs=negative,
                    )
                )
    text = saddle_reason(pd.DataFrame(rows), "p", dim=2)
    # Medians over the two seeds: 3.5 and 20.5.
    assert "by step 3.5 (fast) to 20.5 (slow)" in text
    assert "most such seeds of stuck never left it" in text
    assert "(a saddle region)" in text  # one negative eigenvalue of two
    assert "maximum region" in saddle_reason(pd.DataFrame(rows), "p", dim=1)


def test_minima_reason_counts_distinct_stationary_final_losses():
    runs = pd.DataFrame(
        {
            "problem": "p",
            "optimizer": ["a"] * 3 + ["b"] * 3,
            "setting": 0,
            "status": "max_steps",
            "final_loss": [0.0, 0.0, 3.0, 3.0, 3.0, 7.5],
            "final_grad_norm": [1e-9, 1e-9, 1e-9, 1e-9, 1e-9, 0.5],  # b's last is moving
        }
    )
    table = pd.DataFrame({"problem": "p", "optimizer": ["a", "b"], "setting": 0})
    text = minima_reason(runs, table, _metadata(p={"f_star": 0.0}), "p")
    assert "2 different losses (from 0 to 3)" in text
    assert "the seeds of a ended at different points" in text


def test_twins_are_joined_only_where_every_problem_coincides():
    metadata = {
        "problems": {"p": {}, "q": {}},
        "optimizers": {n: {"family": "adaptive"} for n in ("adam", "optax.adam", "other")},
    }
    table = pd.DataFrame(
        {
            "problem": ["p", "q"] * 3,
            "optimizer": ["adam"] * 2 + ["optax.adam"] * 2 + ["other"] * 2,
            # optax.adam equals adam to 0.1% (and below the floor on p); other departs on q.
            "final_median": [1e-14, 0.5, 3e-13, 0.50004, 1e-14, 0.7],
            "steps_to_target": [10.0, np.inf, 10.0, np.inf, 10.0, np.inf],
        }
    )
    shown = twin_groups(table, metadata)
    assert shown["adam"] == shown["optax.adam"] == "adam ≡ optax.adam"
    assert shown["other"] == "other"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = build(
        tmp_path_factory.mktemp("answers"),
        steps=60,
        seeds=(0, 1, 2),
        problems=("quad-2d", "saddle-2d", "ill-10d"),
    )
    results = load_results(out)
    return results, comparison(results.runs, results.metadata)


def test_every_class_is_answered_and_newton_is_never_first_order(synthetic):
    results, table = synthetic
    answers = class_answers(results.runs, table, results.curvature, results.metadata)
    assert [a.surface_class for a in answers] == ["quadratics and valleys", "saddles and plateaus"]
    assert answers[0].problems == ("quad-2d", "ill-10d")
    for block in answers:
        questions = [a.question for a in block.answers]
        assert questions[0] == "wins"
        first_order = next(a.answer for a in block.answers if a.question == "best first-order")
        assert not first_order.startswith("newton")
    # The synthetic saddle starts at (1, 1e-3), where the Hessian has a negative eigenvalue.
    saddle_why = [a.why for a in answers[1].answers if a.question == "why"]
    assert any("negative curvature" in line for line in saddle_why), saddle_why
    families = family_answers(table, results.metadata)
    assert [a.question for a in families] == ["first-order", "adaptive", NEWTON]


def test_the_report_answers_first(synthetic, tmp_path):
    from bench.report import write_report

    out = build(tmp_path, steps=40, seeds=(0, 1), problems=("quad-2d", "saddle-2d"))
    write_report(out)
    text = (out / "report.md").read_text()
    section = text.split("## Which optimizer for which surface")[1].split("## Tuning protocol")[0]
    assert "*Quadratics and valleys: quad-2d.*" in section
    assert "*Saddles and plateaus: saddle-2d.*" in section
    assert "| wins |" in section and "| best first-order |" in section
    assert text.index("## Which optimizer") < text.index("## Tuning protocol")


def test_the_analysis_is_computed_once_per_report(tmp_path, monkeypatch):
    """The tuning protocol runs once per report: the report's sections, every PNG and
    every chart read the one analysis record."""
    import bench.analysis
    import bench.report.build
    import bench.summary
    from bench.report import write_report

    out = build(tmp_path, steps=30, seeds=(0, 1), problems=("quad-2d", "saddle-2d", "ill-10d"))
    calls: Counter[str] = Counter()

    def count(module, name):
        original = getattr(module, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    # bench.analysis holds its own reference to setting_summary; bench.summary's functions
    # (comparison, best_settings) call the module's.
    count(bench.summary, "setting_summary")
    count(bench.analysis, "setting_summary")
    count(bench.summary, "best_settings")
    count(bench.report.build, "analyse")
    write_report(out)
    assert (out / "plots" / "quad-2d_learning_rate.png").is_file()  # figures were drawn
    assert calls == {"analyse": 1, "setting_summary": 1, "best_settings": 1}


def test_a_twin_that_departs_is_flagged_where_it_departs():
    metadata = {
        "problems": {p: {} for p in "pqrs"},
        "optimizers": {n: {"family": "adaptive"} for n in ("adam", "optax.adam", "other")},
        "suite": {"dtype": "float64"},
    }
    # adam and optax.adam coincide on p, q, r (3 of 4 problems: usual twins) and depart on
    # s; "other" coincides with adam on p only (1 of 4: no twin).
    scores = {
        "adam": [0.0, 0.5, 0.25, 0.125],
        "optax.adam": [0.0, 0.5, 0.25, 0.3],
        "other": [0.0, 0.9, 0.8, 0.7],
    }
    table = pd.DataFrame(
        [
            {"problem": p, "optimizer": o, "final_median": v, "steps_to_target": np.inf}
            for o, values in scores.items()
            for p, v in zip("pqrs", values, strict=True)
        ]
    )
    departs = twin_departures(table, metadata)
    flagged = table.assign(departs_from=departs)
    flagged = flagged[flagged["departs_from"] != ""]
    rows = zip(flagged["problem"], flagged["optimizer"], flagged["departs_from"], strict=True)
    assert sorted(rows) == [
        ("s", "adam", "optax.adam"),
        ("s", "optax.adam", "adam"),
    ]


def test_a_report_version_bump_makes_the_folder_stale(monkeypatch):
    """A change to the report's text (REPORT_VERSION) rewrites report.md and report.html on
    the next run even where no table changed."""
    from bench.run import sweep

    before = sweep.fingerprint([], {"suite": {}}, draw=True)
    assert sweep.fingerprint([], {"suite": {}}, draw=True) == before  # deterministic
    monkeypatch.setattr(sweep, "REPORT_VERSION", sweep.REPORT_VERSION + 1)
    assert sweep.fingerprint([], {"suite": {}}, draw=True) != before
