"""The report's content as plain blocks, top to bottom: the answers by surface class and
family, the tuning protocol, the summary across problems, the optimizer entries, then one
section per problem with its ranked table, flags and figures. Everything comes from the
results' tables and their `Analysis`; the report never dies on data: a figure that could
not be drawn is named in its place, with the reason (`bench.report.build` writes it all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import Analysis
from bench.plots import Figure, Figures
from bench.report.document import (
    Block,
    Code,
    Heading,
    Image,
    Items,
    Paragraph,
    Table,
    anchor,
)
from bench.results.loaded import Results
from bench.summary import (
    FAILED,
    GAP_RESOLUTION,
    SCORE_DIGITS,
    gap_floor,
    ladder,
    objective_column,
    skipped_cells,
    solvable_problems,
)

PROTOCOL = [
    "Every optimizer entry runs every setting of its grid (from the YAML; listed under "
    "Optimizer entries, with its size) with every seed.",
    "A run scores its final gap f(x_T) - f* (the final loss where f* is unknown); a run that "
    "diverged scores +inf.",
    "A setting scores the median of its runs over seeds, so a setting whose median run "
    "diverged (most of its seeds) cannot win, however well the others did.",
    "The tuned setting of an entry on a problem has the lowest score. Gaps below "
    f"{GAP_RESOLUTION['float64']:g} (float64; {GAP_RESOLUTION['float32']:g} in float32) are "
    f"rounding noise and tie, as do scores equal to {SCORE_DIGITS} significant digits. Ties "
    "go to the fewer median steps to target, then the fewer median evaluations to target, "
    "then the earlier grid point.",
    "Optimizers are ranked per problem by the same score at their tuned settings; equal "
    "scores share a rank.",
    "Steps and evaluations to target are medians over seeds of the first step at which the "
    "gap reached the target; a run that never did counts as infinite, so '-' means more "
    "than half of the seeds never reached it. One evaluation is one value and gradient of "
    "the objective at a distinct point (scipy's nfev/njev convention, as in Moré and Wild's "
    "data profiles): every line-search trial counts once, and the point a line search "
    "accepts is not evaluated again (except where Optax's line search keeps no record of "
    "the point it evaluated, as in optax.lbfgs: the runner evaluates that point once more, "
    "about one evaluation per step, and the report says so where such an entry ran); "
    "Hessian evaluations are counted apart. On a "
    "deterministic problem the gap is known at every step; on a mini-batch problem the full "
    "objective is evaluated on the recording grid only, so its first hit is the first "
    "recorded step at or below the target.",
    "A run's status is `converged` once its gap first reaches the target (a first hitting "
    "time, as in COCO), even if its gap rises again later (its final gap, which the score "
    "uses, tells the rest); `diverged` runs became non-finite, whether or not they had "
    "reached the target, and were frozen there; `max_steps` runs never reached it. A cell "
    "that was `skipped`, or failed while running (`error`, `timeout`), has no result: it is "
    "left out of the rankings and counts as not solved.",
    "The report flags its own artefacts next to the results they qualify: seeds that gave "
    "identical curves (one effective run), a tuned value on the edge of its grid (the "
    "optimum may lie beyond), an entry whose every setting diverged (no tuned setting), "
    "and optimizers that share rank 1 at the same stationary point short of f*.",
    "The default setting is the entry's untuned point (its factory's defaults where they "
    "are in the grid); '-' where the grid does not contain one.",
    "Compile and run seconds are per cell: all settings and seeds of one entry on one "
    "problem run in one compiled, batched call, where a line search runs as long as its "
    "slowest lane, so compare optimizers by steps and evaluations, not by time.",
]


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def _score(value: float, column: str, floor: float = GAP_RESOLUTION["float64"]) -> str:
    """A gap in scientific notation, a loss with 4 digits; +inf means diverged. A gap at or
    below ``floor`` (the rounding noise of the dtype, `GAP_RESOLUTION`) prints as `≤ floor`:
    never a negative gap or a denormal that only says "f* up to rounding"."""
    if value is None or math.isnan(value):
        return "-"
    if np.isposinf(value):
        return "diverged"
    if column == "gap":
        # A clearly negative gap (f* declared too high) is shown as it is, and warned about.
        return f"≤ {floor:g}" if abs(value) <= floor else f"{value:.2e}"
    return f"{value:.4g}"


def _score_iqr(
    median: float, q25: float, q75: float, column: str, floor: float = GAP_RESOLUTION["float64"]
) -> str:
    if np.isposinf(q25):
        return "diverged"  # every quantile diverged: the IQR adds nothing
    if column == "gap" and abs(q25) <= floor and abs(q75) <= floor:
        return _score(median, column, floor)  # all three at the floor: one of them says it
    return (
        f"{_score(median, column, floor)} [{_score(q25, column, floor)}, "
        f"{_score(q75, column, floor)}]"
    )


def _count(value: float) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{round(float(value))}"


def _label(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else str(value)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _figure_blocks(figures: Sequence[Figure]) -> list[Block]:
    """Each figure, or in its place the sentence saying it is missing and why."""
    blocks: list[Block] = []
    for figure in figures:
        if figure.error is None:
            blocks.append(Image(figure.path, figure.title, figure.caption))
        else:
            blocks.append(
                Paragraph(
                    f"Figure missing: `{Path(figure.path).name}` ({figure.title}) could not be "
                    f"drawn: {figure.error}"
                )
            )
    return blocks


def _not_run_text(status: str, optimizer: str, reason: str) -> str:
    if status in FAILED:
        return f"Failed ({status}): {optimizer}: {reason}"
    return f"Not run: {optimizer}: {reason}"


# ---------------------------------------------------------------------------------------


def _header_blocks(results: Results) -> list[Block]:
    metadata = results.metadata
    suite = metadata["suite"]
    env = metadata.get("environment", {})
    target = suite.get("target")
    seeds = suite.get("seeds") or []
    blocks: list[Block] = [Heading(f"Optimizer benchmark: {suite['name']}", 1)]
    if suite.get("description"):
        blocks.append(Paragraph(suite["description"]))
    blocks.append(
        Paragraph(
            f"{len(metadata['problems'])} problems x {len(metadata['optimizers'])} optimizer "
            f"entries; {suite['steps']} steps per run; {_plural(len(seeds), 'seed')} "
            f"({_seed_text(seeds)}); "
            f"{suite.get('dtype', 'float64')}; "
            + (f"target gap {target:g}." if target is not None else "no target gap set.")
        )
    )
    if suite.get("source"):
        blocks.append(Paragraph(f"Source: {suite['source']}"))
    if env:
        blocks.append(
            Paragraph(
                f"Environment: python {env.get('python')}, jax {env.get('jax')}, jaxlib "
                f"{env.get('jaxlib')}, optax {env.get('optax')}; backend {env.get('backend')} "
                f"({env.get('device')}), x64 {env.get('x64')}, platform {env.get('platform')}"
                + (f" ({env['cpu']})" if env.get("cpu") else "")
                + "; "
                f"commit {env.get('git_commit')}; table schema {env.get('schema_version')}."
                + (f" XLA_FLAGS: `{env['xla_flags']}`." if env.get("xla_flags") else "")
            )
        )
    return blocks + _timing_blocks(metadata)


def _timing_blocks(metadata: Mapping[str, Any]) -> list[Block]:
    """Where the time of the run that wrote these tables went (absent in older tables)."""
    timing = metadata.get("timing")
    if not timing:
        return []
    reused = timing.get("cells_reused", 0)
    failed = timing.get("cells_failed", 0)
    text = (
        f"Time of the run that wrote these tables: {timing['total_s']:.1f} s. It computed "
        f"{timing['cells_run']} cells"
        + (f" and took {reused} finished cells from the cell store" if reused else "")
        + (f"; {failed} cells failed (error or timeout)" if failed else "")
        + "."
    )
    if timing["cells_run"]:
        stages = (
            f"tracing {timing['trace_s']:.1f} s, lowering {timing['lower_s']:.1f} s, XLA "
            if "trace_s" in timing
            else "tracing and lowering every computed cell, then XLA "
        )
        text += (
            f" Compile step {timing['compile_s']:.1f} s ({100 * timing['compile_share']:.0f}% "
            f"of the total: {stages}"
            + (f"{timing['xla_s']:.1f} s for " if "xla_s" in timing else "")
            + f"{timing['xla_compiles']} compiles and {timing['cache_hits']} executables "
            f"loaded from the persistent compilation cache), running {timing['run_s']:.1f} s"
            + (
                f", assembling the tables {timing['tables_s']:.1f} s"
                if "tables_s" in timing
                else ""
            )
            + "."
        )
        if timing.get("executor", "serial") != "serial" and "compute_s" in timing:
            text += (
                f" Computing the cells took {timing['compute_s']:.1f} s of wall time, with "
                f"{timing.get('executor_description', timing['executor'])}: compile and run "
                "seconds are summed over its workers, so their sum exceeds it."
            )
        elif timing.get("compile_ahead") and "compute_s" in timing:
            text += (
                f" Computing the cells took {timing['compute_s']:.1f} s of wall time: the "
                f"next {timing['compile_ahead']} cells compile in a second thread while a "
                "cell runs, so the compile and run seconds overlap (their sum exceeds it)."
            )
    slowest = timing.get("slowest_cell")
    if slowest:
        text += (
            f" The cell that dominates: {slowest['problem']} x {slowest['optimizer']} "
            f"(compile {slowest['compile_s']:.2f} s, run {slowest['run_s']:.2f} s)."
        )
    return [Paragraph(text)]


def _seed_text(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _contents(results: Results, table: pd.DataFrame) -> list[Block]:
    items: list[str | tuple[str, str]] = [
        ("Which optimizer for which surface", "which-optimizer-for-which-surface"),
        ("Tuning protocol", "tuning-protocol"),
        ("Summary across problems", "summary-across-problems"),
        ("Optimizer entries", "optimizer-entries"),
    ]
    for problem in results.metadata["problems"]:
        items.append((f"Problem: {problem}", anchor(f"Problem: {problem}")))
    if not skipped_cells(results.runs).empty:
        items.append(("Cells not run", "cells-not-run"))
    items.append(("Suite configuration", "suite-configuration"))
    return [Heading("Contents", 2, "contents"), Items(items)]


def _overview_blocks(results: Results, analysis: Analysis, figures: list[Figure]) -> list[Block]:
    metadata = results.metadata
    table = analysis.table
    target = metadata["suite"].get("target")
    solvable = solvable_problems(metadata)
    blocks: list[Block] = [Heading("Summary across problems", 2, "summary-across-problems")]
    summary = analysis.overview
    if not summary.empty:
        if solvable:
            blocks.append(
                Paragraph(
                    f"Solved = the median run at the setting reaches the target gap {target:g} "
                    f"(only the {len(solvable)} problems with a known f* count; a skipped cell "
                    "is not solved). Wins = rank 1 on a problem (ties share it). Ranks use "
                    "the tuning protocol's score on every problem the entry ran on."
                )
            )
        rows = [
            [
                r.optimizer,
                str(r.problems_run),
                f"{r.solved}/{r.with_target}" if solvable else "-",
                f"{r.solved_default}/{r.with_target}" if solvable else "-",
                str(r.wins),
                _number(r.median_rank, 3),
                _number(r.mean_rank, 3),
                f"{r.diverged}/{r.runs}",
            ]
            for r in summary.itertuples()
        ]
        blocks.append(
            Table(
                [
                    "optimizer",
                    "problems run",
                    "solved (tuned)",
                    "solved (default)",
                    "wins",
                    "median rank",
                    "mean rank",
                    "diverged runs (whole grid)",
                ],
                rows,
                caption="Per optimizer, across problems (most solved first, then median rank).",
                numeric=frozenset(range(1, 8)),
            )
        )
    leaders = []
    floor = gap_floor(metadata)
    for problem in metadata["problems"]:
        ranked = table[table["problem"] == problem]
        if ranked.empty:
            continue
        column = objective_column(metadata["problems"][problem])
        first = ranked.iloc[0]
        runner_up = ranked.iloc[1]["optimizer"] if len(ranked) > 1 else "-"
        winners = ranked[ranked["rank"] == 1]["optimizer"].tolist()
        if bool(first["all_settings_diverged"]):
            rank_text, tuned, runner_up = "none: every setting of every entry diverged", "-", "-"
        else:
            rank_text, tuned = ", ".join(winners), _tuned_text(first)
            if bool(first["tied_at_stationary_point"]):
                rank_text += " (a tie at the same local minimum, not a solution)"
        leaders.append(
            [
                problem,
                str(metadata["problems"][problem]["dim"]),
                rank_text,
                tuned,
                f"{_score(first['final_median'], column, floor)}"
                + ("" if column == "gap" else " (loss)"),
                _count(first["steps_to_target"]),
                runner_up if len(winners) == 1 else "-",
            ]
        )
    if leaders:
        blocks.append(
            Table(
                [
                    "problem",
                    "dim",
                    "rank 1",
                    "its tuned setting",
                    "median final gap",
                    "steps to target",
                    "runner-up",
                ],
                leaders,
                caption="Who wins where (each problem's full table is below).",
                numeric=frozenset({1, 4, 5}),
            )
        )
    if figures:
        blocks += _figure_blocks(figures)
    elif not solvable:
        blocks.append(
            Paragraph(
                "No performance or data profile: they need a suite target and problems with "
                "a known f*."
            )
        )
    return blocks


def _answers_blocks(analysis: Analysis) -> list[Block]:
    """Per surface class and per optimizer family: who wins, the best first-order entry,
    the best without a Hessian, what fails and how, and the reasons the tables show."""
    blocks: list[Block] = [
        Heading("Which optimizer for which surface", 2, "which-optimizer-for-which-surface"),
        Paragraph(
            "Per class of surface (each problem declares its class), each entry at its tuned "
            "setting: solved = the median run reached the target gap, wins = rank 1 (ties "
            "share it). First-order = gradient steps, plain, with momentum or adaptive; "
            "without a Hessian = those and the quasi-Newton and CG methods (Newton-CG uses "
            "Hessian-vector products). Entries whose results coincide on every problem "
            "are named once (a ≡ b). The reasons are computed from the tables: the stable "
            "step 2/L from the problem's L, the curvature recorded along the paths, the "
            "final losses of the runs."
        ),
    ]
    for answers in analysis.classes:
        blocks.append(
            Table(
                ["", "answer"],
                [[a.question, a.answer] for a in answers.answers if a.question != "why"],
                caption=f"{answers.surface_class.capitalize()}: {', '.join(answers.problems)}.",
            )
        )
        why = [a.why for a in answers.answers if a.question == "why"]
        if why:
            blocks.append(Items(why))
    families = analysis.families
    if families:
        blocks.append(
            Table(
                ["family", "its best entry across problems", "where it does best and worst"],
                [[a.question, a.answer, a.why or "-"] for a in families],
                caption="By optimizer family (solved = share of a class's problems with a "
                "known f* that its best entry there solved).",
            )
        )
    return blocks


def _entries_blocks(metadata: Mapping[str, Any]) -> list[Block]:
    rows = []
    for name, info in metadata["optimizers"].items():
        grid = info.get("grid") or {}
        size = int(np.prod([len(v) for v in grid.values()])) if grid else 1
        grid_text = "; ".join(
            f"{k}: {', '.join(_number(float(x), 3) for x in v)}" for k, v in grid.items()
        )
        fixed = dict(info.get("static") or {})
        if info.get("schedule"):
            fixed["schedule"] = info["schedule"]
        if info.get("clip_norm") is not None:
            fixed["clip_norm"] = info["clip_norm"]
        rows.append(
            [
                name,
                str(info.get("kind", "")),
                f"{size}: {grid_text}" if grid else "1 (nothing swept)",
                _label(info.get("default_setting")),
                json.dumps(fixed, default=str) if fixed else "-",
                str(info.get("description") or ""),
            ]
        )
    return [
        Heading("Optimizer entries", 2, "optimizer-entries"),
        Table(
            ["optimizer", "kind", "settings in the grid", "default setting", "fixed", "about"],
            rows,
            caption="The tuning budget of every entry: the grid it is tuned over.",
        ),
    ]


def _problem_blocks(
    problem: str,
    results: Results,
    runs: pd.DataFrame,
    table: pd.DataFrame,
    ladders: tuple[pd.DataFrame, pd.DataFrame] | None,
    figures: list[Figure],
    notes: list[str],
) -> list[Block]:
    metadata = results.metadata
    info = metadata["problems"][problem]
    column = objective_column(info)
    metric = "final gap" if column == "gap" else "final loss"
    title = f"Problem: {problem}"
    blocks: list[Block] = [Heading(title, 3, anchor(title))]
    facts = [f"dim {info['dim']}"]
    facts.append(f"f* = {info['f_star']:.10g}" if info.get("f_star") is not None else "f* unknown")
    if info.get("stochastic"):
        facts.append("stochastic (mini-batch) steps; the recorded loss is the full objective")
    description = (info.get("description") or "").strip()
    blocks.append(Paragraph(f"{description} ({'; '.join(facts)})".strip()))
    if info.get("source"):
        blocks.append(Paragraph(f"Source: {info['source']}"))
    ranked = table[table["problem"] == problem]
    if not ranked.empty:
        rows = []
        floor = gap_floor(metadata)
        for r in ranked.itertuples():
            reached = f"{r.converged}/{r.runs}"
            if r.seeds_identical and r.runs > 1:
                reached += " (identical seeds: 1 effective run)"
            rows.append(
                [
                    str(r.rank),
                    r.optimizer,
                    _tuned_text(r._asdict()),
                    "= tuned" if r.default_is_tuned else _label(r.default_setting),
                    _score_iqr(r.final_median, r.final_q25, r.final_q75, column, floor),
                    "-"
                    if r.default_converged < 0
                    else _score(r.default_final_median, column, floor),
                    _count(r.steps_to_target),
                    _count(r.evals_to_target),
                    reached,
                    f"{r.diverged}/{r.runs} ({r.grid_diverged}/{r.grid_runs})",
                    f"{r.compile_s:.2f}",
                    f"{r.run_s:.3f}",
                ]
            )
        blocks.append(
            Table(
                [
                    "rank",
                    "optimizer",
                    "tuned setting",
                    "default setting",
                    f"median {metric} [25%, 75%]",
                    f"default: median {metric}",
                    "steps to target",
                    "evals to target",
                    "reached target",
                    "diverged (whole grid)",
                    "compile s",
                    "run s",
                ],
                rows,
                caption=f"Ranked by the tuning protocol; {metric} over "
                f"{_plural(int(ranked['runs'].max()), 'seed')} at the tuned setting"
                + (
                    f"; target gap {target:g}."
                    if (target := metadata["suite"].get("target")) is not None and column == "gap"
                    else "."
                ),
                numeric=frozenset({0, 4, 5, 6, 7, 8, 9, 10, 11}),
            )
        )
        if column == "gap" and ladders is not None:
            mine = (table["problem"] == problem).to_numpy()
            steps, evals = ladders[0][mine], ladders[1][mine]
            columns = [c for c in steps.columns if c not in ("problem", "optimizer")]
            if columns:
                rows = [
                    [s["optimizer"]]
                    + [
                        "-" if not np.isfinite(s[c]) else f"{_count(s[c])} ({_count(e[c])})"
                        for c in columns
                    ]
                    for (_, s), (_, e) in zip(steps.iterrows(), evals.iterrows(), strict=True)
                ]
                blocks.append(
                    Table(
                        ["optimizer", *[f"gap {c}" for c in columns]],
                        rows,
                        caption="Median steps (evaluations) to reach each gap, tuned setting; "
                        "'-' = more than half of the seeds never got there.",
                        numeric=frozenset(range(1, len(columns) + 1)),
                    )
                )
    if not ranked.empty:
        blocks += [Paragraph(text) for text in _flag_notes(problem, ranked, results)]
    below = _below_f_star(runs, info)
    if below is not None:
        blocks.append(
            Paragraph(
                f"Warning: runs reached a loss {-below:.3g} below the declared f* = "
                f"{info['f_star']:.10g}, so f* is wrong (too high) and the gaps are not "
                "distances to the minimum; gaps at or below zero are drawn at the floor of the "
                "log axes."
            )
        )
    skipped = skipped_cells(runs)
    if not skipped.empty:
        blocks.append(
            Items([_not_run_text(r.status, r.optimizer, r.reason) for r in skipped.itertuples()])
        )
    blocks += _figure_blocks(figures)
    blocks += [Paragraph(note) for note in notes]
    return blocks


def _tuned_text(row: Mapping[str, Any]) -> str:
    """The tuned setting as the tables show it: its label, marked where it sits on the edge
    of its grid, or "none" where every setting diverged (there is no tuned value)."""
    if row["all_settings_diverged"]:
        return "none: every setting diverged"
    label = str(row["setting_label"])
    return f"{label} (grid edge)" if row["tuned_at_grid_edge"] else label


def _flag_notes(problem: str, ranked: pd.DataFrame, results: Results) -> list[str]:
    """The protocol's own artefacts on this problem, said next to the table they qualify."""
    metadata = results.metadata
    info = metadata["problems"][problem]
    notes = []
    identical = ranked[ranked["seeds_identical"].astype(bool) & (ranked["runs"] > 1)]
    if not identical.empty:
        seeds = int(identical["runs"].max())
        notes.append(
            f"Identical seeds: the {seeds} seeds of {_names(identical['optimizer'])} gave "
            "identical curves at the tuned setting: the start is fixed and every step sees "
            "the same data, so the seed changes nothing. Each is one effective run; its "
            "spread and its reached-target count are not evidence of robustness."
        )
    diverged = ranked[ranked["all_settings_diverged"].astype(bool)]
    if not diverged.empty:
        notes.append(
            f"No tuned setting: every setting of {_names(diverged['optimizer'])} diverged "
            "(its median run became non-finite at every grid point): try smaller steps, or "
            "a line search." + _step_scale(info, ["learning_rate"])
        )
    edges = ranked[ranked["tuned_at_grid_edge"].astype(bool)]
    if not edges.empty:
        parts = [f"{r.optimizer} ({r.grid_edge})" for r in edges.itertuples()]
        notes.append(
            "Tuned at the edge of the grid: "
            + "; ".join(parts)
            + ". The best value may lie beyond it: extend the grid that way."
            + _step_scale(info, list(edges["grid_edge"]))
        )
    optimizers = metadata.get("optimizers", {})
    twice = [
        o for o in ranked["optimizer"] if optimizers.get(o, {}).get("evaluates_accepted_twice")
    ]
    if twice:
        notes.append(
            f"Evaluations of {_names(pd.Series(twice))} include one more per step than the "
            "convention: its line search (Optax's) keeps no record of the point it accepted, "
            "so the runner evaluates that point again. Compare its evaluations with that in "
            "mind (about one per step high)."
        )
    if "departs_from" in ranked.columns:
        column = objective_column(info)
        by_name = ranked.set_index("optimizer")
        for row in ranked[ranked["departs_from"].astype(str) != ""].itertuples():
            twin = by_name.loc[row.departs_from] if row.departs_from in by_name.index else None
            if twin is None or row.optimizer > row.departs_from:  # one note per pair
                continue
            notes.append(
                f"Twins that depart: {row.optimizer} and {row.departs_from} coincide on most "
                f"problems but not here (median final {column} {row.final_median:.3g} against "
                f"{float(twin['final_median']):.3g}, steps to target "
                f"{_count(row.steps_to_target)} against {_count(twin['steps_to_target'])}): "
                "rounding that a chaotic or line-search path amplifies, or a real difference "
                "between the two implementations."
            )
    tied = ranked[ranked["tied_at_stationary_point"].astype(bool)]
    if not tied.empty:
        gap = float(tied["final_median"].iloc[0])
        kind = _stationary_kind(results, problem, tied["optimizer"].tolist())
        everyone = "All" if len(tied) == len(ranked) else f"{len(tied)} of {len(ranked)}"
        notes.append(
            f"{everyone} stopped at the same {kind}, gap {gap:.3g}: "
            f"{_names(tied['optimizer'])} share rank 1 there with a gradient of about zero "
            "(median final norm at most 1e-05). Their shared rank is the best result on this "
            "problem, but it is a tie short of the global minimum, not a solution."
        )
    return notes


def _names(optimizers: pd.Series) -> str:
    names = [str(n) for n in optimizers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _step_scale(info: Mapping[str, Any], about: Sequence[str]) -> str:
    """Where the problem knows L (its largest Hessian eigenvalue, or an upper bound on it)
    and a learning rate is at stake (``about`` names it): the 2/L scale of gradient descent's
    steps, the natural place to put a learning-rate grid."""
    smoothness = info.get("smoothness")
    if not smoothness or not any("learning_rate" in text for text in about):
        return ""
    return (
        f" For scale: this problem's Hessian eigenvalues are at most L = {smoothness:.4g}, "
        f"so plain gradient descent is stable for every learning rate below 2/L = "
        f"{2 / smoothness:.3g} (1/L = {1 / smoothness:.3g}); methods with momentum or "
        "adaptive steps have their own limits."
    )


def _stationary_kind(results: Results, problem: str, optimizers: Sequence[str]) -> str:
    """ "local minimum" where the recorded Hessian at the last iterate of every tied run is
    positive semi-definite, "saddle point" where it has a negative eigenvalue, else
    "stationary point" (no curvature recorded: the problem is too large)."""
    curvature = results.curvature
    if curvature is None or curvature.empty:
        return "stationary point"
    rows = curvature[
        (curvature["problem"] == problem)
        & (curvature["role"] == "best")
        & curvature["optimizer"].isin(list(optimizers))
    ]
    if rows.empty:
        return "stationary point"
    last = rows[rows["step"] == rows["step"].max()]
    eig_min = last["eig_min"].to_numpy(dtype=np.float64)
    scale = max(1.0, float(np.abs(last["eig_max"].to_numpy(dtype=np.float64)).max()))
    if np.all(eig_min >= -1e-8 * scale):
        return "local minimum"
    if np.all(eig_min < -1e-8 * scale):
        return "saddle point"
    return "stationary point"


def _below_f_star(runs: pd.DataFrame, info: Mapping[str, Any]) -> float | None:
    """The most negative gap any run reached, where it is clearly below zero (beyond
    rounding: 1e-9 relative to f*); None otherwise or where f* is unknown."""
    f_star = info.get("f_star")
    if f_star is None or "best_gap" not in runs.columns:
        return None
    gaps = runs["best_gap"].to_numpy(dtype=np.float64)
    gaps = gaps[np.isfinite(gaps)]
    if not gaps.size or gaps.min() >= -1e-9 * max(1.0, abs(float(f_star))):
        return None
    return float(gaps.min())


def _skipped_blocks(runs: pd.DataFrame) -> list[Block]:
    skipped = skipped_cells(runs)
    if skipped.empty:
        return []
    return [
        Heading("Cells not run", 2, "cells-not-run"),
        Table(
            ["problem", "optimizer", "status", "reason"],
            [[r.problem, r.optimizer, r.status, r.reason] for r in skipped.itertuples()],
            caption="Skipped by a declared capability (`skipped`), or failed while running "
            "(`error`, `timeout`); they have no result and count as not solved in the profiles.",
        ),
    ]


def _config_blocks(metadata: Mapping[str, Any]) -> list[Block]:
    config = metadata["suite"].get("config")
    if not config:
        return []
    try:
        import yaml

        text = yaml.safe_dump(config, sort_keys=False)
    except Exception:  # the report must not fail on an exotic value in the config
        text = json.dumps(config, indent=2, default=str)
    return [
        Heading("Suite configuration", 2, "suite-configuration"),
        Code(text, summary="The configuration these results were run from (as read)."),
    ]


def report_blocks(results: Results, analysis: Analysis, figures: Figures) -> list[Block]:
    """The whole report, top to bottom: the answers and the overview first, then one
    section per problem."""
    table = analysis.table
    blocks = _header_blocks(results)
    blocks += _contents(results, table)
    blocks += _answers_blocks(analysis)
    blocks += [Heading("Tuning protocol", 2, "tuning-protocol"), Items(PROTOCOL)]
    blocks += _overview_blocks(results, analysis, figures.overview)
    blocks += _entries_blocks(results.metadata)
    blocks.append(Heading("Problems", 2, "problems"))
    # Each problem's runs, split once (the sections would otherwise each scan all runs).
    runs = dict(tuple(results.runs.groupby("problem", sort=False, observed=True)))
    # The ladders of every tuned row at once, row for row with ``table``.
    targets = results.metadata["suite"].get("targets") or []
    ladders = (
        (
            ladder(results.runs, table, targets, "steps"),
            ladder(results.runs, table, targets, "evals"),
        )
        if targets
        else None
    )
    for problem in results.metadata["problems"]:
        blocks += _problem_blocks(
            problem,
            results,
            runs.get(problem, results.runs.iloc[:0]),
            table,
            ladders,
            figures.problems.get(problem, []),
            figures.notes.get(problem, []),
        )
    blocks += _skipped_blocks(results.runs)
    blocks += _config_blocks(results.metadata)
    return blocks
