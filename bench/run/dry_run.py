"""`bench run --dry-run`: the cells a run would compute, reuse or skip, and what the rest
would cost, estimated from the store's timing of similar cells. Nothing is compiled or
written."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from bench.config import Suite
from bench.results.store import CellStore
from bench.run.sweep import COMPUTE, FAILED, REUSE, SKIP, Planned, cell_cost


def _rate(timings: Iterable[Mapping[str, Any]]) -> tuple[float, float] | None:
    """(median compile seconds, median run seconds per lane-step) of some stored cells.

    Compile seconds come from cells that really compiled (not loaded from JAX's cache): a
    new cell compiles.
    """
    compile_s, per_cost = [], []
    for t in timings:
        cost = float(t.get("lanes", 0)) * float(t.get("steps", 0))
        if cost > 0 and "compile_s" in t and "run_s" in t:
            if not t.get("cache_hits"):
                compile_s.append(float(t["compile_s"]))
            per_cost.append(float(t["run_s"]) / cost)
    if not per_cost:
        return None
    return (statistics.median(compile_s) if compile_s else 0.0), statistics.median(per_cost)


def estimate_seconds(
    planned: Planned, suite: Suite, timings: Sequence[Mapping[str, Any]]
) -> tuple[float, str] | None:
    """(seconds, from what) for one cell to compute, or None with no timing to go by."""
    kind = suite.raw["problems"][planned.cell.problem_index]["kind"]
    optimizer = planned.cell.setting.entry.name
    for label, pick in (
        (
            "same problem kind and optimizer",
            lambda t: (t.get("problem_kind"), t.get("optimizer_kind")) == (kind, optimizer),
        ),
        ("same optimizer", lambda t: t.get("optimizer_kind") == optimizer),
        ("any stored cell", lambda t: True),
    ):
        rate = _rate(t for t in timings if pick(t))
        if rate is not None:
            return rate[0] + rate[1] * cell_cost(planned.cell, suite), label
    return None


def print_dry_run(suite: Suite, plans: Sequence[Planned], store: CellStore, log: TextIO) -> None:
    """One line per cell, then the totals and the estimate."""
    timings = list(store.timings())
    total_cost = total_s = 0.0
    unknown = 0
    for index, planned in enumerate(plans, 1):
        head = f"[{index}/{len(plans)}] {planned.cell.label}: "
        if planned.action == SKIP:
            print(f"{head}skipped: {planned.reason}", file=log)
        elif planned.action == REUSE:
            print(f"{head}cached (key {planned.cell.key[:12]})", file=log)
        elif planned.action == FAILED:
            print(f"{head}{planned.status} in an earlier run ({planned.reason})", file=log)
        else:
            cost = cell_cost(planned.cell, suite)
            total_cost += cost
            estimate = estimate_seconds(planned, suite, timings)
            if estimate is None:
                unknown += 1
                guess = "no timing in the store yet"
            else:
                total_s += estimate[0]
                guess = f"about {estimate[0]:.1f} s ({estimate[1]})"
            note = f"; {planned.note}" if planned.note else ""
            print(f"{head}to compute: {cost:.3g} lane-steps, {guess}{note}", file=log)
    counts = {a: sum(p.action == a for p in plans) for a in (REUSE, FAILED, SKIP, COMPUTE)}
    text = (
        f"{len(plans)} cells: {counts[REUSE]} cached, {counts[FAILED]} failed earlier, "
        f"{counts[SKIP]} skipped, {counts[COMPUTE]} to compute ({total_cost:.3g} lane-steps"
    )
    if counts[COMPUTE]:
        known = counts[COMPUTE] - unknown
        text += f"; about {total_s:.0f} s for the {known} with a timing estimate" if known else ""
    print(text + "). Nothing was compiled or written.", file=log)
