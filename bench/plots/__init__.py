"""Figures drawn from the tables alone (a pure function of the parquet files).

Per problem: convergence against steps and against evaluations, trajectories over the
contours (2-d), learning-rate sensitivity, curvature along the path (small dim). Across
problems: performance profiles, a data profile and runtime distributions over the target
ladder. Every optimizer keeps one color and line style in every figure (a hue per family,
a shade per entry), so figures read together.

One module per figure (`convergence`, `trajectories`, `sensitivity`, `curvature`,
`profile_figures`), the styles and shared helpers in `style`, the statistics in
`statistics`, the figures a report draws in `registry` (name, which problems it applies
to, how to draw it) and the drawing of them all in `drawing`: `draw_all` draws each figure
in isolation (one that raises is recorded with its error, the rest are drawn) and can copy
a previous report's figures whose inputs are unchanged: it fingerprints each problem's
inputs (and the profiles') into plots/figures.json.
"""

from bench.plots.drawing import (
    _TABLES,
    ACROSS,
    DRAW_WORKERS_ENV,
    MANIFEST,
    Figures,
    _by_problem,
    _problem_results,
    draw_all,
    draw_workers,
    problem_fingerprint,
    profiles_fingerprint,
    read_manifest,
)
from bench.plots.profile_figures import _profile_costs, ecdf_groups
from bench.plots.statistics import (
    _band,
    _clean,
    _evals_band,
    _per_learning_rate,
    constant_curvature,
    diverged_learning_rates,
    error_bars,
    evals_grid,
    evals_matrix,
    learning_rate_rows,
    sensitivity_scale,
    steps_matrix,
)
from bench.plots.style import (
    BANDS,
    FAMILY_PALETTES,
    GAP_FLOOR,
    GREY,
    HIGHLIGHT,
    LEARNING_RATE,
    Figure,
    _line,
    _same_as,
    _target_near,
    highlighted,
    optimizer_styles,
    setting_label,
    suite_styles,
)
from bench.plots.trajectories import _surface, contour_levels, contour_values

__all__ = [
    "ACROSS",
    "BANDS",
    "DRAW_WORKERS_ENV",
    "FAMILY_PALETTES",
    "GAP_FLOOR",
    "GREY",
    "HIGHLIGHT",
    "LEARNING_RATE",
    "MANIFEST",
    "_TABLES",
    "Figure",
    "Figures",
    "_band",
    "_by_problem",
    "_clean",
    "_evals_band",
    "_line",
    "_per_learning_rate",
    "_problem_results",
    "_profile_costs",
    "_same_as",
    "_surface",
    "_target_near",
    "constant_curvature",
    "contour_levels",
    "contour_values",
    "diverged_learning_rates",
    "draw_all",
    "draw_workers",
    "ecdf_groups",
    "error_bars",
    "evals_grid",
    "evals_matrix",
    "highlighted",
    "learning_rate_rows",
    "optimizer_styles",
    "problem_fingerprint",
    "profiles_fingerprint",
    "read_manifest",
    "sensitivity_scale",
    "setting_label",
    "steps_matrix",
    "suite_styles",
]
