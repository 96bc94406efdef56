"""report.html in a real headless browser: Debian's Chromium driven by Playwright.

Used by the browser test (tests/test_report_browser.py) and by `python -m bench screenshots
DIR`, which writes pictures of the report's key sections into DIR/screenshots/ so that a
change to the page can be looked at without opening it. Chromium is the system's
(/usr/bin/chromium, or $OPTBENCH_CHROMIUM): Playwright's own browser downloads are not
reachable from CI, and the flags below keep Chromium off the network it would otherwise try
at every start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_ENV = "OPTBENCH_CHROMIUM"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# How long the page may take to inflate plotly and its data (a few seconds on 2 cores).
READY_MS = 60_000


def chromium() -> str | None:
    """The Chromium executable to drive, or None where there is none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def open_report(html: Path, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A Playwright page showing ``html`` once its charts are ready; ``page.problems``
    collects console errors and warnings and uncaught exceptions as (kind, text)."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise FileNotFoundError(
            f"no Chromium found (install Debian's chromium, or set {CHROMIUM_ENV})"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(FLAGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            problems: list[tuple[str, str]] = []
            page.on(
                "console",
                lambda message: (
                    problems.append((message.type, message.text))
                    if message.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(("pageerror", str(error))))
            page.problems = problems
            page.goto(Path(html).resolve().as_uri())
            page.wait_for_selector("body[data-charts-ready=true]", timeout=READY_MS)
            yield page
        finally:
            browser.close()


# Key sections: (file name, CSS selector of where the picture starts; None: the top).
SECTIONS = (
    ("top", None),
    ("answers", "#which-optimizer-for-which-surface"),
    ("summary", "#summary-across-problems"),
    ("convergence", "figure:has(.chart[data-chart$='_convergence.png'])"),
    ("trajectories", "figure:has(.chart[data-chart$='_trajectories.png'])"),
    ("profiles", "figure:has(.chart[data-chart='profile_performance.png'])"),
    ("animation", "figure:has(.chart[data-chart$='_paths_by_optimizer.png'])"),
)
# True once every chart in the viewport has been drawn.
_IN_VIEW_DRAWN = """() => Array.from(document.querySelectorAll('.chart')).every((div) => {
  const box = div.getBoundingClientRect();
  return box.bottom < 0 || box.top > window.innerHeight || div.dataset.drawn === 'true';
})"""


def _palette(path: Path) -> None:
    """256 colours, undithered: a page of text and line charts looks the same at a third
    of the size (the screenshots are committed with the results)."""
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)


def screenshots(folder: Path, widths: tuple[int, ...] = (1400, 900)) -> list[Path]:
    """Pictures of the key sections of folder/report.html, one viewport each, at each
    width, into folder/screenshots/ (replacing earlier ones); sections a report lacks are
    skipped."""
    target = Path(folder) / "screenshots"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written = []
    for width in widths:
        with open_report(Path(folder) / "report.html", width=width) as page:
            for name, selector in SECTIONS:
                if selector is not None:
                    element = page.query_selector(selector)
                    if element is None:
                        continue
                    element.evaluate("el => el.scrollIntoView({block: 'start'})")
                page.wait_for_function(_IN_VIEW_DRAWN, timeout=READY_MS)
                page.wait_for_timeout(300)  # plotly's transitions
                path = target / f"{name}-{width}px.png"
                page.screenshot(path=str(path))
                _palette(path)
                written.append(path)
    return written
