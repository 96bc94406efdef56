"""The analysis record: everything the report and its figures read beyond the tables,
computed once per report from them.

The tuning protocol's per-setting summary (`bench.summary.setting_summary`), the tuned and
default setting of every cell with its rank and flags (`bench.summary.comparison`), the
summary across problems (`bench.summary.overview`) and the answers by surface class and by
optimizer family (`bench.answers`). The report's sections, every PNG (`bench.plots`) and
every interactive chart (`bench.report.charts`) read this record; none recomputes the protocol.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from bench.answers import Answer, ClassAnswers, class_answers, family_answers, twin_departures
from bench.results.loaded import Results
from bench.summary import comparison, overview, setting_summary


@dataclasses.dataclass(frozen=True)
class Analysis:
    """settings: every setting of every cell over its seeds (`setting_summary`); table: the
    tuned (and default) setting per cell, ranked per problem (`comparison`), with
    ``departs_from``: the usual twin the row departs from there (`twin_departures`); overview: per
    optimizer across problems; classes, families: the answers (`bench.answers`)."""

    settings: pd.DataFrame
    table: pd.DataFrame
    overview: pd.DataFrame
    classes: tuple[ClassAnswers, ...]
    families: tuple[Answer, ...]


def analyse(results: Results) -> Analysis:
    """The analysis of a results folder's tables (the tuning protocol runs once here)."""
    metadata = results.metadata
    settings = setting_summary(
        results.runs, metadata["problems"], metadata.get("hyperparameters", ())
    )
    table = comparison(results.runs, metadata, summary=settings)
    # A twin (an entry and its Optax counterpart) that departs here is flagged.
    table["departs_from"] = twin_departures(table, metadata)
    return Analysis(
        settings=settings,
        table=table,
        overview=overview(table, metadata),
        classes=tuple(class_answers(results.runs, table, results.curvature, metadata)),
        families=tuple(family_answers(table, metadata)),
    )
