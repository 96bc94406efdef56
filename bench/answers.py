"""Which optimizer for which surface, and why: answers per surface class and per family.

Each problem declares its surface class (``problems.SURFACE_CLASSES``, in the suite
metadata) and each optimizer entry its family (``optimizers.FAMILIES``). Per class this
module says who wins, the best first-order method, the best method without a Hessian and
what fails and how (diverged, stuck at a saddle, in a local minimum, too slow), and gives
the reasons the tables themselves show: GD's stable step 2/L against the rates that
diverged, the condition number and the steps of a Newton step that ignores it, the step at
which the path left a saddle (its smallest Hessian eigenvalue turned positive), seeds or
entries that ended in different minima. Everything is computed from ``comparison(...)``,
the runs and the curvature table; nothing here names a problem or an optimizer.

Entries whose tuned results coincide on every problem of a class (a hand-written entry and
its Optax twin) are named once, as ``adam ≡ optax.adam``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.summary import gap_floor
from optimizers import ADAPTIVE, FAMILIES, FIRST_ORDER, NEWTON, OPTIMIZERS, WITHOUT_HESSIAN

UNCLASSIFIED = "unclassified"
# Final gradient norms at or below this count as stationary (a saddle or a minimum, not a
# run still descending), relative to max(1, |f*|)-scaled losses: curves here end at 1e-8
# or far above, so the threshold is not delicate.
STATIONARY_GRAD = 1e-4
# Runs counted as having stopped at a stationary point when counting how many there are:
# stricter, so that runs still creeping towards one point do not count as others.
MINIMUM_GRAD = 1e-5
# Final losses equal to this relative precision are the same minimum.
SAME_MINIMUM_RTOL = 1e-6
DIVERGED, SADDLE, LOCAL_MAXIMUM, LOCAL_MINIMUM, TOO_SLOW, NOISY = (
    "diverged",
    "stuck at a saddle",
    "stuck at a local maximum",
    "in a local minimum",
    "short of the target at the last step, not at a stationary point",
    "held off the target by mini-batch noise",
)
FAILURE_MODES = (DIVERGED, SADDLE, LOCAL_MAXIMUM, LOCAL_MINIMUM, TOO_SLOW, NOISY)


@dataclasses.dataclass(frozen=True)
class Answer:
    """One line of a class's answers: the question, who, and why (from the data)."""

    question: str
    answer: str
    why: str


@dataclasses.dataclass(frozen=True)
class ClassAnswers:
    surface_class: str
    problems: tuple[str, ...]
    answers: tuple[Answer, ...]


def problem_class(metadata: Mapping[str, Any], problem: str) -> str:
    return metadata["problems"][problem].get("surface_class") or UNCLASSIFIED


def optimizer_family(metadata: Mapping[str, Any], optimizer: str) -> str:
    """The entry's declared family: from the tables' metadata, else the registry by kind
    (tables written before families were recorded)."""
    info = metadata.get("optimizers", {}).get(optimizer, {})
    if info.get("family"):
        return info["family"]
    entry = OPTIMIZERS.get(info.get("kind", optimizer))
    return entry.family if entry is not None else FAMILIES[0]


def classes(metadata: Mapping[str, Any]) -> dict[str, list[str]]:
    """Surface class -> its problems, in suite order."""
    grouped: dict[str, list[str]] = {}
    for problem in metadata["problems"]:
        grouped.setdefault(problem_class(metadata, problem), []).append(problem)
    return grouped


def result_key(score: float, steps: float, floor: float) -> tuple[float, float]:
    """A tuned result as two entries must share it to coincide: its score to 3
    significant digits (as the charts join twin curves within 0.1%; a score at or below the
    rounding floor is 0) and its steps to target."""
    score = float(score)
    if abs(score) <= floor:
        score = 0.0
    elif np.isfinite(score):
        score = float(f"{score:.3g}")
    return score, float(steps)


def _signature(rows: pd.DataFrame, floor: float) -> tuple:
    """What must coincide for two entries to be one line: `result_key` on each problem."""
    ordered = rows.sort_values("problem")
    return tuple(
        (p, *result_key(f, n, floor))
        for p, f, n in zip(
            ordered["problem"], ordered["final_median"], ordered["steps_to_target"], strict=True
        )
    )


def twin_groups(
    table: pd.DataFrame, metadata: Mapping[str, Any], floor: float = 1e-12
) -> dict[str, str]:
    """Each entry -> the name it is shown under: ``a ≡ b`` for entries of one family whose
    tuned results coincide on every problem of ``table``."""
    by_signature: dict[tuple, list[str]] = {}
    for optimizer in entry_order(table, metadata):
        rows = table[table["optimizer"] == optimizer]
        key = (optimizer_family(metadata, optimizer), _signature(rows, floor))
        by_signature.setdefault(key, []).append(optimizer)
    return {name: " ≡ ".join(group) for group in by_signature.values() for name in group}


def entry_order(table: pd.DataFrame, metadata: Mapping[str, Any]) -> list[str]:
    """The entries of ``table`` in suite order."""
    present = set(table["optimizer"])
    order = [o for o in metadata.get("optimizers", {}) if o in present]
    return order + [o for o in dict.fromkeys(table["optimizer"]) if o not in order]


@dataclasses.dataclass(frozen=True)
class _Standing:
    name: str  # as shown (twins joined)
    members: tuple[str, ...]
    family: str
    solved: int
    solvable: int
    wins: int
    median_rank: float

    def text(self) -> str:
        parts = []
        if self.solvable:
            parts.append(f"solved {self.solved}/{self.solvable}")
        parts.append(_plural(self.wins, "win"))
        parts.append(f"median rank {self.median_rank:g}")
        return f"{self.name} ({', '.join(parts)})"


def standings(
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    problems: Sequence[str],
    shown: Mapping[str, str],
) -> list[_Standing]:
    """The entries on ``problems``, best first: most solved, most wins, lowest median rank.
    ``shown`` names each entry (`twin_groups` over the whole suite)."""
    rows = table[table["problem"].isin(list(problems))]
    optimizers = entry_order(rows, metadata)
    solvable = {p for p in problems if metadata["problems"][p].get("f_star") is not None}
    result: dict[str, _Standing] = {}
    for optimizer in optimizers:
        name = shown[optimizer]
        if name in result:
            continue
        mine = rows[rows["optimizer"] == optimizer]
        reached = np.isfinite(mine["steps_to_target"].astype(float)) & mine["problem"].isin(
            solvable
        )
        result[name] = _Standing(
            name=name,
            members=tuple(name.split(" ≡ ")),
            family=optimizer_family(metadata, optimizer),
            solved=int(reached.sum()),
            solvable=len(solvable & set(mine["problem"])),
            wins=int(((mine["rank"] == 1) & ~mine["all_settings_diverged"].astype(bool)).sum()),
            median_rank=float(mine["rank"].median()),
        )
    return sorted(result.values(), key=lambda s: (-s.solved, -s.wins, s.median_rank))


def _final_curvature(curvature: pd.DataFrame | None, problem: str) -> pd.DataFrame:
    """Per optimizer: the tuned runs' median smallest and largest eigenvalue at the last
    recorded step (empty where the problem records no curvature)."""
    if curvature is None or curvature.empty:
        return pd.DataFrame(columns=["eig_min", "eig_max"])
    rows = curvature[(curvature["problem"] == problem) & (curvature["role"] == "best")]
    if rows.empty:
        return pd.DataFrame(columns=["eig_min", "eig_max"])
    last = rows[rows["step"] == rows.groupby("optimizer")["step"].transform("max")]
    return last.groupby("optimizer")[["eig_min", "eig_max"]].median()


def failure_mode(row: Any, curvature_at_end: pd.DataFrame, stochastic: bool = False) -> str:
    """How a tuned entry that did not reach the target failed (see `FAILURE_MODES`); on a
    stochastic problem a run that did not diverge is held off by the gradient noise."""
    if bool(row.all_settings_diverged) or row.diverged * 2 > row.runs:
        return DIVERGED
    if stochastic:
        return NOISY
    if np.isfinite(row.grad_norm_median) and row.grad_norm_median <= STATIONARY_GRAD:
        if row.optimizer in curvature_at_end.index:
            eig = curvature_at_end.loc[row.optimizer]
            scale = max(1.0, abs(float(eig["eig_max"])), abs(float(eig["eig_min"])))
            if float(eig["eig_max"]) < -1e-8 * scale:  # every direction curves down
                return LOCAL_MAXIMUM
            if float(eig["eig_min"]) < -1e-8 * scale:
                return SADDLE
        return LOCAL_MINIMUM
    return TOO_SLOW


def failures(
    table: pd.DataFrame,
    metadata: Mapping[str, Any],
    problems: Sequence[str],
    curvature: pd.DataFrame | None,
    shown: Mapping[str, str],
) -> dict[str, list[tuple[str, str]]]:
    """Failure mode -> (entry, problem) of every tuned entry short of the target on a
    problem with a known f* (named as in ``shown``)."""
    found: dict[str, list[tuple[str, str]]] = {mode: [] for mode in FAILURE_MODES}
    for problem in problems:
        if metadata["problems"][problem].get("f_star") is None:
            continue
        rows = table[table["problem"] == problem]
        at_end = _final_curvature(curvature, problem)
        stochastic = bool(metadata["problems"][problem].get("stochastic"))
        seen: set[str] = set()
        for row in rows.itertuples():
            if np.isfinite(float(row.steps_to_target)) or shown[row.optimizer] in seen:
                continue
            seen.add(shown[row.optimizer])
            found[failure_mode(row, at_end, stochastic)].append((shown[row.optimizer], problem))
    return {mode: pairs for mode, pairs in found.items() if pairs}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _join(items: Sequence[str], limit: int = 4) -> str:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"{len(items) - limit} more")
    return ", ".join(shown)


def _failure_text(pairs: list[tuple[str, str]]) -> str:
    by_entry: dict[str, list[str]] = {}
    for entry, problem in pairs:
        by_entry.setdefault(entry, []).append(problem)
    return "; ".join(f"{entry} on {_join(ps, 3)}" for entry, ps in list(by_entry.items())[:4]) + (
        f"; {len(by_entry) - 4} more entries" if len(by_entry) > 4 else ""
    )


# ---------------------------------------------------------------------------------------
# Reasons: one line each, from the tables


def step_size_reason(
    runs: pd.DataFrame, metadata: Mapping[str, Any], problem: str, optimizer: str
) -> str | None:
    """GD's stable step 2/L against the learning rates of ``optimizer``'s grid that
    diverged (most seeds) on ``problem``; None without L or a learning-rate grid."""
    smoothness = metadata["problems"][problem].get("smoothness")
    mine = runs[(runs["problem"] == problem) & (runs["optimizer"] == optimizer)]
    if not smoothness or mine.empty or "learning_rate" not in mine.columns:
        return None
    rates = mine.groupby("learning_rate")["status"].agg(lambda s: (s == "diverged").mean())
    if rates.empty:
        return None
    bound = 2.0 / float(smoothness)
    diverged = [r for r, share in rates.items() if share > 0.5]
    stable = [r for r, share in rates.items() if share <= 0.5]
    text = f"{problem}: L = {float(smoothness):.3g}, so a gradient step is stable below 2/L = "
    text += f"{bound:.2g}"
    if diverged and (not stable or max(stable) < min(diverged)):
        text += f"; {optimizer} diverged at every rate ≥ {min(diverged):g} of its grid"
        if stable:
            text += f" and its largest stable rate was {max(stable):g}"
    elif diverged:  # not a threshold: say which rates
        listed = ", ".join(f"{r:g}" for r in diverged)
        text += f"; {optimizer} diverged at the rates {listed} of its grid, not at the others"
    elif stable:
        text += f"; every rate of {optimizer}'s grid (≤ {max(stable):g}) stayed stable"
    return text + "."


def conditioning_reason(
    table: pd.DataFrame,
    curvature: pd.DataFrame | None,
    metadata: Mapping[str, Any],
    problem: str,
) -> str | None:
    """The condition number at the start (recorded curvature) and the steps the best
    Newton-family entry took, beside the best first-order one's."""
    if curvature is None or curvature.empty:
        return None
    start = curvature[(curvature["problem"] == problem) & (curvature["step"] == 0)]
    start = start[start["eig_min"] > 0]
    if start.empty:
        return None
    kappa = float((start["eig_max"] / start["eig_min"]).median())
    rows = table[table["problem"] == problem]
    families = rows["optimizer"].map(lambda o: optimizer_family(metadata, o))
    parts = [f"{problem}: condition number κ = {kappa:.3g} at the start"]
    for label, mask in (
        ("Newton-family", families == NEWTON),
        ("first-order", families.isin([FIRST_ORDER, ADAPTIVE])),
    ):
        mine = rows[mask & np.isfinite(rows["steps_to_target"].astype(float))]
        if not mine.empty:
            best = mine.sort_values("steps_to_target").iloc[0]
            parts.append(
                f"the fastest {label} entry, {best['optimizer']}, reached the target in "
                f"{_plural(int(best['steps_to_target']), 'step')}"
            )
    return "; ".join(parts) + "."


def saddle_reason(
    curvature: pd.DataFrame | None, problem: str, dim: int | None = None
) -> str | None:
    """Where tuned paths start with negative curvature: the first recorded step at which
    each had none left (the median over its seeds that started so), fastest and slowest
    entry, and the entries that never left."""
    if curvature is None or curvature.empty:
        return None
    rows = curvature[(curvature["problem"] == problem) & (curvature["role"] == "best")]
    if rows.empty:
        return None
    first = rows.sort_values("step").groupby(["optimizer", "seed"], sort=False).head(1)
    negative = first[first["negative_eigs"] > 0][["optimizer", "seed"]]
    if negative.empty:
        return None
    paths = rows.merge(negative, on=["optimizer", "seed"])
    left = paths[paths["negative_eigs"] == 0].groupby(["optimizer", "seed"])["step"].min()
    every = negative.set_index(["optimizer", "seed"]).index
    steps = left.reindex(every).fillna(np.inf).groupby(level="optimizer", sort=False).median()
    escaped = steps[np.isfinite(steps)].sort_values(kind="stable")
    stuck = [str(o) for o in steps.index if not np.isfinite(steps[o])]
    starts = first.drop_duplicates("seed")
    share = int((starts["negative_eigs"] > 0).sum())
    negative = first[first["negative_eigs"] > 0]["negative_eigs"]
    concave = bool(dim) and bool((negative >= dim).all())
    region = "a maximum region: every direction curves down" if concave else "a saddle region"
    text = (
        f"{problem}: {share} of {len(starts)} starts have negative curvature ({region})"
        if share < len(starts)
        else f"{problem}: the start has negative curvature ({region})"
    )
    if not escaped.empty:
        fast, slow = str(escaped.index[0]), str(escaped.index[-1])
        ties = int((escaped == escaped.iloc[0]).sum()) - 1
        fast += f" and {ties} more" if ties else ""
        text += "; the tuned paths first had no negative eigenvalue by step "
        text += (
            f"{escaped.iloc[0]:g} ({fast})"
            if escaped.iloc[0] == escaped.iloc[-1]
            else f"{escaped.iloc[0]:g} ({fast}) to {escaped.iloc[-1]:g} ({slow})"
        )
        text += " (median over the seeds that started there)"
    if stuck:
        text += f"; most such seeds of {_join(stuck, 3)} never left it"
    return text + "."


def minima_reason(
    runs: pd.DataFrame, table: pd.DataFrame, metadata: Mapping[str, Any], problem: str
) -> str | None:
    """How many different final losses (minima, to 1e-6 relative) the tuned runs that
    ended at a stationary point ended in, across seeds and entries; None where one."""
    tuned = table[table["problem"] == problem][["optimizer", "setting"]]
    rows = runs[(runs["problem"] == problem) & (runs["status"] != "diverged")].merge(
        tuned, on=["optimizer", "setting"]
    )
    # Only runs that stopped at a stationary point end in a minimum; the others are noise
    # or unfinished descent.
    rows = rows[rows["final_grad_norm"].astype(float) <= MINIMUM_GRAD]
    losses = rows["final_loss"].to_numpy(dtype=np.float64)
    losses = np.sort(losses[np.isfinite(losses)])
    if losses.size < 2:
        return None
    scale = np.maximum(1.0, np.abs(losses))
    distinct = 1 + int((np.diff(losses) > SAME_MINIMUM_RTOL * scale[1:]).sum())
    if distinct < 2:
        return None
    per_entry = rows.groupby("optimizer")["final_loss"].agg(
        lambda s: len(np.unique(np.round(s.to_numpy(dtype=np.float64), 6)))
    )
    spread = per_entry[per_entry > 1]
    text = (
        f"{problem}: the tuned runs that stopped at a stationary point (gradient norm ≤ "
        f"{MINIMUM_GRAD:g}) ended at {distinct} different losses "
        f"(from {losses[0]:.4g} to {losses[-1]:.4g})"
    )
    if f_star := metadata["problems"][problem].get("f_star"):
        text += f", f* = {f_star:g}"
    if not spread.empty:
        text += f"; the seeds of {_join(list(spread.index), 3)} ended at different points"
    return text + "."


def noise_reason(table: pd.DataFrame, metadata: Mapping[str, Any], problem: str) -> str | None:
    """On a stochastic problem: the best median final gap (or loss) reached."""
    info = metadata["problems"][problem]
    if not info.get("stochastic"):
        return None
    rows = table[table["problem"] == problem]
    if rows.empty:
        return None
    best = rows.sort_values("final_median").iloc[0]
    what = "gap" if info.get("f_star") is not None else "loss"
    solved = int(np.isfinite(rows["steps_to_target"].astype(float)).sum())
    if not np.isfinite(float(best["final_median"])):
        return f"{problem}: mini-batch gradients; every entry's median run diverged."
    return (
        f"{problem}: mini-batch gradients; the best median final {what} was "
        f"{best['final_median']:.3g} ({best['optimizer']}), {solved} entr"
        f"{'y' if solved == 1 else 'ies'} reached the target."
    )


def reasons(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    curvature: pd.DataFrame | None,
    metadata: Mapping[str, Any],
    problems: Sequence[str],
    limit: int = 6,
) -> list[str]:
    """One reason per problem of the class, the most telling the tables show (a grid's
    divergence against 2/L, a saddle left, the conditioning, several minima, mini-batch
    noise), at most ``limit``."""
    first_order = [
        o
        for o in metadata.get("optimizers", {})
        if optimizer_family(metadata, o) == FIRST_ORDER
        and "learning_rate" in metadata["optimizers"][o].get("grid", {})
    ]
    found: list[str] = []
    for problem in problems:
        step = step_size_reason(runs, metadata, problem, first_order[0]) if first_order else None
        telling = [
            step if step and "diverged" in step else None,
            noise_reason(table, metadata, problem),
            saddle_reason(curvature, problem, metadata["problems"][problem].get("dim")),
            minima_reason(runs, table, metadata, problem),
            conditioning_reason(table, curvature, metadata, problem),
            step,
        ]
        line = next((line for line in telling if line), None)
        if line:
            found.append(line)
    return found[:limit]


def class_answers(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    curvature: pd.DataFrame | None,
    metadata: Mapping[str, Any],
) -> list[ClassAnswers]:
    """Per surface class (suite order): who wins, the best first-order entry, the best
    without a Hessian, what fails and how, and why. ``table`` is `comparison(...)`."""
    shown = twin_groups(table, metadata, gap_floor(metadata))
    out = []
    for name, problems in classes(metadata).items():
        ranked = standings(table, metadata, problems, shown)
        if not ranked:
            continue
        answers = [Answer("wins", ranked[0].text(), "")]
        first_order = [s for s in ranked if s.family in (FIRST_ORDER, ADAPTIVE)]
        if first_order:
            answers.append(Answer("best first-order", first_order[0].text(), ""))
        without = [s for s in ranked if s.family in WITHOUT_HESSIAN]
        if without and without[0].name != ranked[0].name:
            answers.append(Answer("best without a Hessian", without[0].text(), ""))
        for mode, pairs in failures(table, metadata, problems, curvature, shown).items():
            answers.append(Answer(f"fails: {mode}", _failure_text(pairs), ""))
        why = reasons(runs, table, curvature, metadata, problems)
        answers += [Answer("why", "", line) for line in why]
        out.append(ClassAnswers(name, tuple(problems), tuple(answers)))
    return out


def family_answers(table: pd.DataFrame, metadata: Mapping[str, Any]) -> list[Answer]:
    """Per optimizer family (declared order): its best entry across problems, the class
    where it wins most, and the class where it solves the smallest share."""
    grouped = classes(metadata)
    shown = twin_groups(table, metadata, gap_floor(metadata))
    every = [p for ps in grouped.values() for p in ps]
    overall = standings(table, metadata, every, shown)
    out = []
    for family in FAMILIES:
        mine = [s for s in overall if s.family == family]
        if not mine:
            continue
        best = mine[0]
        shares = {}
        for name, problems in grouped.items():
            ranked = [s for s in standings(table, metadata, problems, shown) if s.family == family]
            if ranked and ranked[0].solvable:
                shares[name] = (max(s.solved for s in ranked) / ranked[0].solvable, ranked)
        why = ""
        if shares:
            strong = max(shares, key=lambda c: shares[c][0])
            weak = min(shares, key=lambda c: shares[c][0])
            why = f"solves the most of {strong} ({shares[strong][0]:.0%})"
            if weak != strong:
                why += f", the least of {weak} ({shares[weak][0]:.0%})"
        out.append(Answer(family, best.text(), why))
    return out


# Two entries are usual twins where their tuned results coincide on at least this share of
# the problems both ran (and on two or more): an entry and its Optax counterpart.
TWIN_SHARE = 2 / 3


def twin_departures(table: pd.DataFrame, metadata: Mapping[str, Any]) -> pd.Series:
    """Per row of ``table``: the usual twin this entry's tuned result departs from on
    this problem ("" where none does). Usual twins are entries of one family whose tuned
    score (to 0.1%, below the rounding floor all 0) and steps to target coincide on at
    least `TWIN_SHARE` of the problems both ran; a twin that departs is drawn apart and
    flagged (`bench.report.sections`, the convergence figure's legend)."""
    floor = gap_floor(metadata)
    keys: dict[str, dict[str, tuple]] = {}
    for row in table.itertuples():
        key = result_key(row.final_median, row.steps_to_target, floor)
        keys.setdefault(row.optimizer, {})[row.problem] = key
    order = entry_order(table, metadata)
    # Every candidate pair with the share of problems where they coincide; pairs taken
    # from the most alike down, so that adam pairs with optax.adam, not with adamw.
    candidates = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            if optimizer_family(metadata, a) != optimizer_family(metadata, b):
                continue
            common = set(keys[a]) & set(keys[b])
            same = sum(keys[a][p] == keys[b][p] for p in common)
            if same >= 2 and same >= TWIN_SHARE * len(common):
                candidates.append((-same / len(common), i, a, b))
    twin_of: dict[str, str] = {}
    for _share, _i, a, b in sorted(candidates):
        if a not in twin_of and b not in twin_of:
            twin_of[a], twin_of[b] = b, a
    return pd.Series(
        [
            twin_of[row.optimizer]
            if row.optimizer in twin_of
            and keys[twin_of[row.optimizer]].get(row.problem, keys[row.optimizer][row.problem])
            != keys[row.optimizer][row.problem]
            else ""
            for row in table.itertuples()
        ],
        index=table.index,
        dtype=object,
    )
