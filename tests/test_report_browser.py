"""report.html in a real headless browser (Debian's Chromium, driven by Playwright): no
console errors, the contents' links land on their headings, a legend click hides a trace,
the x-axis buttons swap the data, tables sort, and at 900 px nothing is wider than the page.

Skipped where there is no Chromium, unless OPTBENCH_REQUIRE_BROWSER=1 (CI sets it, after
installing Chromium in .ci/run): then a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_report_synthetic import build

from bench.report import write_report
from bench.report.browser import chromium, open_report, screenshots

REQUIRED = os.environ.get("OPTBENCH_REQUIRE_BROWSER") == "1"
if chromium() is None:
    if REQUIRED:
        raise RuntimeError("OPTBENCH_REQUIRE_BROWSER=1 but no Chromium is installed")
    pytest.skip("no Chromium here (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright", reason="playwright is a dev dependency")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = build(tmp_path_factory.mktemp("browser"), steps=40, seeds=(0, 1, 2))
    write_report(out)
    return out


def test_the_page_draws_every_chart_without_a_console_error(report: Path):
    with open_report(report / "report.html") as page:
        total = page.evaluate("document.querySelectorAll('.chart[data-chart]').length")
        page.evaluate("window.optbenchCharts.drawAll()")
        page.wait_for_function(
            f"document.querySelectorAll('.chart[data-drawn=true]').length === {total}"
        )
        assert total >= 10
        # Each chart draws its traces (plotly's SVG holds one group per trace).
        empty = page.evaluate(
            "Array.from(document.querySelectorAll('.chart')).filter("
            "d => !d.querySelector('.main-svg') || d.data.length === 0).length"
        )
        assert empty == 0
        assert page.problems == []


def test_contents_links_land_on_their_headings(report: Path):
    with open_report(report / "report.html") as page:
        links = page.eval_on_selector_all(
            "nav#contents a", "links => links.map(a => a.getAttribute('href'))"
        )
        assert len(links) >= 8
        for href in links:
            assert page.query_selector(href) is not None, href
        # A heading in the middle (the last ones may sit too near the end to reach the top).
        middle = links[len(links) // 2]
        page.click(f"nav#contents a[href='{middle}']")
        page.wait_for_timeout(300)
        top = page.evaluate(f"document.querySelector('{middle}').getBoundingClientRect().top")
        assert 0 <= top < 200  # scrolled to it (below the sticky bar at most)
        assert page.problems == []


def test_a_legend_click_hides_a_trace_and_the_buttons_switch_the_x_axis(report: Path):
    with open_report(report / "report.html") as page:
        selector = ".chart[data-chart='ill-10d_convergence.png']"
        page.eval_on_selector(selector, "div => div.scrollIntoView()")
        page.wait_for_selector(f"{selector}[data-drawn=true]")
        page.click(f"{selector} .legend .traces .legendtoggle >> nth=0")
        # plotly waits out a possible double click before it toggles the trace.
        page.wait_for_function(
            f"document.querySelector(\"{selector}\").data[0].visible === 'legendonly'",
            timeout=5000,
        )
        visible = page.eval_on_selector(selector, "div => div.data[0].visible")
        assert visible == "legendonly"
        ends = "div => div.data.map(trace => trace.x[trace.x.length - 1])"
        before = page.eval_on_selector(selector, ends)
        figure = f"figure:has({selector})"
        page.click(f"{figure} button[data-value=evals]")
        page.wait_for_timeout(300)
        after = page.eval_on_selector(selector, ends)  # gd-armijo's line search costs evals
        title = page.eval_on_selector(selector, "div => div.layout.xaxis.title.text")
        assert after != before and "evaluations" in title
        page.click(f"{figure} button[data-value=linear]")
        page.wait_for_timeout(300)
        assert page.eval_on_selector(selector, "div => div.layout.xaxis.type") == "linear"
        assert page.problems == []


def test_the_play_button_animates_the_paths(report: Path):
    with open_report(report / "report.html") as page:
        selector = ".chart[data-chart='saddle-2d_paths_by_optimizer.png']"
        page.eval_on_selector(selector, "div => div.scrollIntoView()")
        page.wait_for_selector(f"{selector}[data-drawn=true]")
        length = "div => div.data[1].x.length"
        assert page.eval_on_selector(selector, length) == 1  # the start only
        page.click(f"{selector} .updatemenu-button >> nth=0")  # play
        page.wait_for_function(
            f'document.querySelector("{selector}").data[1].x.length > 3', timeout=10_000
        )
        assert page.problems == []


def test_a_header_click_sorts_the_table(report: Path):
    with open_report(report / "report.html") as page:
        # The first table with a numeric column: sort it both ways.
        result = page.evaluate(
            """() => {
              for (const table of document.querySelectorAll('table')) {
                const heads = Array.from(table.querySelectorAll('thead th'));
                const rows = table.tBodies[0].rows;
                if (rows.length < 3) continue;
                for (let c = 0; c < heads.length; c++) {
                  const cell = rows[0].cells[c];
                  if (!cell || !cell.classList.contains('num')) continue;
                  const read = () => Array.from(table.tBodies[0].rows).map(
                    r => parseFloat(r.cells[c].textContent));
                  heads[c].click();
                  const up = read();
                  heads[c].click();
                  const down = read();
                  return {up, down, sort: heads[c].getAttribute('aria-sort')};
                }
              }
              return null;
            }"""
        )
    assert result is not None
    up = [v for v in result["up"] if v == v]  # NaN (text cells) sort last
    down = [v for v in result["down"] if v == v]
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert result["sort"] == "descending"


def test_nothing_is_wider_than_the_page_at_900_px(report: Path):
    with open_report(report / "report.html", width=900) as page:
        page.evaluate("window.optbenchCharts.drawAll()")
        page.wait_for_timeout(1500)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 900
        # Every table fits its box or scrolls inside it; every chart fits the page.
        too_wide = page.evaluate(
            "Array.from(document.querySelectorAll('.table-wrap, .chart, figure img'))"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length"
        )
        assert too_wide == 0
        assert page.problems == []


def test_screenshots_of_the_key_sections(report: Path):
    written = screenshots(report, widths=(900,))
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"{n}-900px.png"
        for n in (
            "top", "answers", "summary", "convergence", "trajectories", "profiles", "animation",
        )
    )  # fmt: skip
    assert all(p.stat().st_size > 5_000 for p in written)  # a picture, not a blank page


def test_bench_plot_screenshots_land_in_the_folder(report: Path, tmp_path: Path):
    import shutil

    from bench.cli import main

    folder = tmp_path / "suite"
    shutil.copytree(report, folder)
    assert main(["plot", str(folder), "--screenshots"]) == 0
    pictures = sorted(p.name for p in (folder / "screenshots").glob("*.png"))
    assert len(pictures) == 14 and "answers-900px.png" in pictures
    assert main(["plot", str(folder)]) == 0  # a redraw without the flag: stale ones go
    assert not (folder / "screenshots").exists()
