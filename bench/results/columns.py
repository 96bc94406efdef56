"""The column schema of the result tables (DESIGN.md contract), and the names derived from it.

curves: problem, optimizer, setting, seed, step, loss, gap, grad_norm, dist, evals,
        <hyperparameters>
runs:   problem, optimizer, setting, seed, <hyperparameters>, status, final_loss, final_gap,
        best_loss, steps_to_target, evals, compile_s, run_s, and the extras below.

``setting`` is the integer index of the grid point in ``OptimizerSetting.settings()``: the
identity of a setting in every table. ``setting_label`` is for display only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Bumped when the frames built from a cell change (a column added, renamed or computed
# differently): part of every cell key, so stored parts of the old layout are recomputed.
FRAMES_VERSION = 5

CURVE_COLUMNS = (
    "problem",
    "optimizer",
    "setting",
    "seed",
    "step",
    "loss",
    "gap",
    "grad_norm",
    "dist",
    "evals",
)


RUN_COLUMNS = (
    "problem",
    "optimizer",
    "setting",
    "seed",
    "status",
    "final_loss",
    "final_gap",
    "best_loss",
    "steps_to_target",
    "evals",
    "compile_s",
    "run_s",
)


# Beyond the contract: what a reader of one run also wants without opening the curves.
RUN_EXTRAS = (
    "setting_label",
    "seeds_identical",
    "best_gap",
    "final_grad_norm",
    "final_dist",
    "evals_to_target",
    "hessian_evals",
    "diverged_step",
    "steps",
    "trace_s",
    "lower_s",
    "xla_s",
    "cache_hit",
    "reason",
)


STATUSES = ("converged", "diverged", "max_steps", "skipped", "error", "timeout")


def target_text(target: float) -> str:
    """The shortest scientific notation that reads back as exactly ``target`` (1e-10,
    3e-09, 1.5e-09): a target's name never rounds it onto another one."""
    for digits in range(17):
        text = f"{target:.{digits}e}"
        if float(text) == target:
            return text
    return repr(target)


def ladder_column(prefix: str, target: float) -> str:
    """`steps_to_1e-03`: the column of the first step (or evals) reaching a gap."""
    return f"{prefix}_to_{target_text(target)}"


# Labels show at least this many significant digits; more where a value as written needs
# them (0.99999), up to LABEL_EXACT_DIGITS; beyond that only as many as tell values apart.
LABEL_DIGITS = 3
LABEL_EXACT_DIGITS = 10


def _round_trip_digits(value: float) -> int:
    """The fewest significant digits whose `g` text reads back as exactly ``value``."""
    for digits in range(1, 18):
        if float(f"{value:.{digits}g}") == value:
            return digits
    return 17


def _label_digits(values: Sequence[float]) -> int:
    """Digits for one hyperparameter's values in a grid: each value as written in the YAML
    where that takes at most LABEL_EXACT_DIGITS (0.999, 0.9999, 0.9999999: never "1"),
    and always enough to print distinct values distinctly."""
    distinct = sorted(set(values))
    # A value that needs more digits to read back was computed, not written: it does not
    # ask for its digits, only for being told apart.
    written = [d for d in map(_round_trip_digits, distinct) if d <= LABEL_EXACT_DIGITS]
    digits = max([LABEL_DIGITS, *written])
    while digits < 17 and len({f"{v:.{digits}g}" for v in distinct}) < len(distinct):
        digits += 1
    return digits


def setting_labels(settings: Sequence[Mapping[str, float]]) -> list[str]:
    """The display label of every point of a grid (``OptimizerSetting.settings()``), in
    order: `learning_rate=0.01, b1=0.9`, or `default` for an entry that sweeps nothing.

    Each hyperparameter is printed with as many digits as its values in this grid need to
    stay apart, so two settings never share a label.
    """
    if not settings or not settings[0]:
        return ["default"] * max(len(settings), 1)
    digits = {name: _label_digits([s[name] for s in settings]) for name in settings[0]}
    return [
        ", ".join(f"{name}={value:.{digits[name]}g}" for name, value in setting.items())
        for setting in settings
    ]
