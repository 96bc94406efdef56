"""Progress of a sweep on stderr: a line per cell, and a bar weighted by each cell's cost.

The bar (tqdm) is drawn only on a terminal; in a log file or CI each cell's line carries the
elapsed time and the estimate of what is left instead. The estimate weighs each cell to
compute by lanes x steps, the cost model of the runner (one value_and_grad per lane step).
"""

from __future__ import annotations

import time
from typing import TextIO

from tqdm import tqdm


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s"


class Progress:
    """Lines and a bar for ``total_cost`` units of work (lanes x steps) over ``cells`` cells."""

    def __init__(self, cells: int, total_cost: float, log: TextIO):
        self._log = log
        self._cells = cells
        self._total = max(float(total_cost), 0.0)
        self._done = 0.0
        self._start = time.perf_counter()
        interactive = hasattr(log, "isatty") and log.isatty()
        self._bar = (
            tqdm(
                total=self._total,
                file=log,
                unit="lane-step",
                unit_scale=True,
                dynamic_ncols=True,
                leave=False,
                bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
            )
            if interactive and self._total > 0
            else None
        )

    def line(self, text: str) -> None:
        """One line of output, above the bar."""
        if self._bar is not None:
            self._bar.write(text, file=self._log)
        else:
            print(text, file=self._log, flush=True)

    def start(self, index: int, label: str, what: str) -> str:
        """The head of a cell's line: `[3/12] rosenbrock x adam: 5 settings x 5 seeds`."""
        return f"[{index}/{self._cells}] {label}: {what}"

    def advance(self, cost: float) -> str:
        """Count ``cost`` as done; the `(elapsed 12 s, about 40 s left)` tail of a line."""
        self._done += cost
        if self._bar is not None:
            self._bar.update(cost)
        elapsed = time.perf_counter() - self._start
        tail = f"elapsed {_duration(elapsed)}"
        if 0 < self._done < self._total:
            left = elapsed * (self._total - self._done) / self._done
            tail += f", about {_duration(left)} left"
        return f"({tail})"

    def close(self) -> None:
        """Remove the bar (the lines stay)."""
        if self._bar is not None:
            self._bar.close()
