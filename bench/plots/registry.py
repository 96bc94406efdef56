"""The figures a report draws, as two registries: each figure's file, its title, which
problems it applies to and the function that draws it, with the inputs it reads.

A problem figure's ``draw`` takes the named ``inputs`` (from `ProblemInputs`) and then the
path to write; a profile figure's from `ProfileInputs`. Both are module-level functions of
plain data, so that a job pickles to a drawing process (`bench.plots.drawing`). Adding a
figure is one entry here and one module beside this one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.config.names import slug
from bench.plots.convergence import convergence_plot
from bench.plots.curvature import curvature_plot
from bench.plots.profile_figures import (
    data_profile_plot,
    performance_profile_plot,
    runtime_ecdf_plot,
)
from bench.plots.sensitivity import sensitivity_plot
from bench.plots.statistics import constant_curvature
from bench.plots.style import Figure
from bench.plots.trajectories import trajectory_grid_plot, trajectory_plot
from bench.results.loaded import Results
from bench.summary import solvable_problems


@dataclasses.dataclass(frozen=True)
class Job:
    """One figure to draw: its file, the title it is known by if drawing fails, and how:
    ``function(*args, path)``, a module-level function and plain data, so that the job
    pickles to a drawing process."""

    file: str
    title: str
    function: Callable[..., Figure | None]
    args: tuple[Any, ...]

    def draw(self, path: Path) -> Figure | None:
        return self.function(*self.args, path)


@dataclasses.dataclass(frozen=True)
class ProblemInputs:
    """What a problem's figures may read: the problem's name, the results narrowed to its
    rows, its tuned rows of `Analysis.table` (ranked), its rows of `Analysis.settings`,
    and the suite's styles."""

    problem: str
    results: Results
    best: pd.DataFrame
    settings: pd.DataFrame
    styles: Mapping[str, dict]


@dataclasses.dataclass(frozen=True)
class ProfileInputs:
    """What the figures across problems may read: `Analysis.table`, the metadata, the
    styles, and the run columns the runtime distributions need (`ladder_rows`)."""

    table: pd.DataFrame
    metadata: Mapping[str, Any]
    styles: Mapping[str, dict]
    ladder_runs: pd.DataFrame | None


def _always(problem: str, results: Results) -> bool:
    return True


def has_path(problem: str, results: Results) -> bool:
    """A 2-d problem: its paths and its surface were recorded."""
    return (
        results.paths is not None
        and results.surfaces is not None
        and bool((results.paths["problem"] == problem).any())
        and bool((results.surfaces["problem"] == problem).any())
    )


def _curvature_recorded(problem: str, results: Results) -> bool:
    return results.curvature is not None and bool((results.curvature["problem"] == problem).any())


def varying_curvature(problem: str, results: Results) -> bool:
    """Curvature recorded and not the same at every iterate (a quadratic's is constant)."""
    return (
        _curvature_recorded(problem, results)
        and constant_curvature(results.curvature, problem) is None
    )


def constant_curvature_note(problem: str, results: Results) -> str | None:
    """The sentence that replaces the curvature figure of a quadratic."""
    if not _curvature_recorded(problem, results):
        return None
    constant = constant_curvature(results.curvature, problem)
    if constant is None:
        return None
    return (
        "The Hessian is the same at every recorded iterate of every path (a quadratic): "
        f"smallest eigenvalue {constant[0]:.4g}, condition number {constant[1]:.4g}; no "
        "curvature plot."
    )


@dataclasses.dataclass(frozen=True)
class ProblemFigure:
    """``<problem slug>_<suffix>.png``, titled ``title.format(problem=...)``, drawn by
    ``draw(*inputs, path)`` where ``applies(problem, results)``; ``note(problem,
    results)``: a sentence in its place where it does not apply (or None)."""

    suffix: str
    title: str
    draw: Callable[..., Figure | None]
    inputs: tuple[str, ...] = ("problem", "results", "best", "styles")
    applies: Callable[[str, Results], bool] = _always
    note: Callable[[str, Results], str | None] | None = None


@dataclasses.dataclass(frozen=True)
class ProfileFigure:
    """``file``, titled ``title``, drawn by ``draw(*inputs, path)`` where ``applies``."""

    file: str
    title: str
    draw: Callable[..., Figure | None]
    inputs: tuple[str, ...] = ("table", "metadata", "styles")
    applies: Callable[[ProfileInputs], bool] = lambda inputs: True


# Each problem's figures, in report order.
PROBLEM_FIGURES: tuple[ProblemFigure, ...] = (
    ProblemFigure("convergence", "{problem}: convergence", convergence_plot),
    ProblemFigure("trajectories", "{problem}: trajectories", trajectory_plot, applies=has_path),
    ProblemFigure(
        "paths_by_optimizer",
        "{problem}: tuned vs default paths",
        trajectory_grid_plot,
        applies=has_path,
    ),
    ProblemFigure(
        "learning_rate",
        "{problem}: learning-rate sensitivity",
        sensitivity_plot,
        inputs=("problem", "results", "settings", "best", "styles"),
    ),
    ProblemFigure(
        "curvature",
        "{problem}: curvature along the path",
        curvature_plot,
        applies=varying_curvature,
        note=constant_curvature_note,
    ),
)


def _has_ladder(inputs: ProfileInputs) -> bool:
    return inputs.ladder_runs is not None and bool(inputs.metadata["suite"].get("targets"))


# The figures across problems, in report order (each needs a target and a known f*).
PROFILE_FIGURES: tuple[ProfileFigure, ...] = (
    ProfileFigure("profile_performance.png", "Performance profiles", performance_profile_plot),
    ProfileFigure("profile_data.png", "Data profile", data_profile_plot),
    ProfileFigure(
        "profile_ecdf.png",
        "Runtime distributions over the target ladder",
        runtime_ecdf_plot,
        inputs=("ladder_runs", "table", "metadata", "styles"),
        applies=_has_ladder,
    ),
)


def problem_jobs(inputs: ProblemInputs) -> tuple[list[Job], list[str]]:
    """The figures of one problem (in report order) and the sentences that replace some."""
    jobs, notes = [], []
    for figure in PROBLEM_FIGURES:
        if figure.applies(inputs.problem, inputs.results):
            jobs.append(
                Job(
                    f"{slug(inputs.problem)}_{figure.suffix}.png",
                    figure.title.format(problem=inputs.problem),
                    figure.draw,
                    tuple(getattr(inputs, name) for name in figure.inputs),
                )
            )
        elif figure.note is not None and (note := figure.note(inputs.problem, inputs.results)):
            notes.append(note)
    return jobs, notes


def ladder_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The columns of runs the runtime distributions read (what a drawing process gets)."""
    keep = ["problem", "optimizer", "setting", "seed"]
    return runs[keep + [c for c in runs.columns if c.startswith("evals_to_")]]


def profile_jobs(inputs: ProfileInputs) -> list[Job]:
    """The profile figures; none without a target and a problem with a known f*."""
    if not solvable_problems(inputs.metadata):
        return []
    return [
        Job(
            figure.file, figure.title, figure.draw, tuple(getattr(inputs, n) for n in figure.inputs)
        )
        for figure in PROFILE_FIGURES
        if figure.applies(inputs)
    ]
