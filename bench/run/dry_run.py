"""`bench run --dry-run`: the cells a run would compute, reuse or skip, and what the rest
would cost, estimated from the store's timing of similar cells. Nothing is compiled or
written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from bench.config import Suite
from bench.results.store import CellStore
from bench.run.costs import cell_cost, estimate_seconds
from bench.run.sweep import COMPUTE, FAILED, REUSE, SKIP, Planned


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
            estimate = estimate_seconds(planned.cell, suite, timings)
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
