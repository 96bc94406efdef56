"""The report from a synthetic results folder: every figure written, report.md pointing at
files that exist, report.html self-contained (every image a data URI, plotly and the charts'
data inline, nothing external)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report_synthetic import build

from bench.plots.registry import PROBLEM_FIGURES, PROFILE_FIGURES
from bench.report import write_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = build(
        tmp_path_factory.mktemp("results"),
        steps=40,
        seeds=(0, 1, 2),
        problems=("saddle-2d", "ill-10d", "offset-20d"),
    )
    write_report(out)
    return out


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_figure_is_written(report: Path):
    names = sorted(p.name for p in (report / "plots").glob("*.png"))
    assert names == [
        "ill-10d_convergence.png",  # a quadratic: constant curvature, a sentence instead
        "ill-10d_learning_rate.png",
        "offset-20d_convergence.png",  # dim 20: no curvature; f* unknown: not in profiles
        "offset-20d_learning_rate.png",
        "profile_data.png",
        "profile_ecdf.png",
        "profile_performance.png",
        "saddle-2d_convergence.png",
        "saddle-2d_curvature.png",
        "saddle-2d_learning_rate.png",
        "saddle-2d_paths_by_optimizer.png",
        "saddle-2d_trajectories.png",
    ]
    for path in (report / "plots").glob("*.png"):
        data = path.read_bytes()
        width, height = _png_size(data)
        assert 600 <= width <= 2000 and 400 <= height <= 2000, (path.name, width, height)
        # Not an empty canvas: lines, text and shades cover a fair part of it, in colors.
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
        inked = (pixels.min(axis=-1) < 230).mean()
        colored = (pixels.max(axis=-1) - pixels.min(axis=-1) > 60).mean()
        assert inked > 0.02 and colored > 0.001, (path.name, inked, colored)


def test_every_registered_figure_is_drawn_for_the_synthetic_suite(report: Path):
    """A figure added to the registry is drawn here (the fixture has a 2-d problem with
    curvature, a quadratic, a problem with f* unknown and a target ladder)."""
    names = {p.name for p in (report / "plots").glob("*.png")}
    for figure in PROBLEM_FIGURES:
        assert any(name.endswith(f"_{figure.suffix}.png") for name in names), figure.suffix
    for figure in PROFILE_FIGURES:
        assert figure.file in names


def test_markdown_references_existing_files_and_every_figure(report: Path):
    text = (report / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((report / link).is_file() for link in links)
    assert sorted(links) == sorted(f"plots/{p.name}" for p in (report / "plots").glob("*.png"))


def test_markdown_states_the_protocol_and_both_settings(report: Path):
    text = (report / "report.md").read_text()
    assert "## Tuning protocol" in text and "lowest score" in text
    saddle = text.split("### Problem: saddle-2d")[1].split("### Problem:")[0]
    rows = [line for line in saddle.splitlines() if re.match(r"\| \d+ \| ", line)]
    optimizers = [row.split(" | ")[1] for row in rows]
    assert sorted(optimizers) == ["adam", "gd", "gd-armijo", "momentum", "newton"]
    gd = next(row for row in rows if row.split(" | ")[1] == "gd").split(" | ")
    assert gd[2].startswith("learning_rate=") and gd[3] == "learning_rate=0.02"  # tuned, default
    adam = next(row for row in rows if row.split(" | ")[1] == "adam").split(" | ")
    assert adam[3] == "-"  # no default in its grid
    assert "Not run: newton: needs a dense Hessian" in text
    assert "final loss" in text.split("### Problem: offset-20d")[1]  # f* unknown
    ill = text.split("### Problem: ill-10d")[1].split("### Problem:")[0]
    assert "The Hessian is the same at every recorded iterate" in ill


def _payload(page_text: str, ident: str) -> bytes:
    """A gzip+base64 script block of the page, inflated."""
    match = re.search(rf'<script type="application/gzip\+base64" id="{ident}">(.*?)</script>',
                      page_text, re.S)  # fmt: skip
    assert match, ident
    return gzip.decompress(base64.b64decode("".join(match.group(1).split())))


def test_html_is_self_contained(report: Path):
    page = _Page()
    html_text = (report / "report.html").read_text()
    page.feed(html_text)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    charts = [attrs["data-chart"] for _, attrs in page.tags if attrs.get("data-chart")]
    pngs = sorted(p.name for p in (report / "plots").glob("*.png"))
    # Every figure is in the page once: drawn by plotly, or embedded as its PNG (the
    # tuned-vs-default paths live in the trajectory chart, as hidden traces, and their
    # slot holds the animation).
    assert charts and len(images) + len(charts) == len(pngs)
    assert set(charts) <= set(pngs)
    for attrs in images:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
        assert attrs.get("alt")
    assert not [tag for tag, _ in page.tags if tag in ("link", "iframe", "object", "embed")]
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts and not [a for a in scripts if "src" in a]  # inline only
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in ("src", "href", "srcset", "action", "data", "poster"):
                assert value and (value.startswith(("data:", "#"))), (tag, name, value)
    assert "url(" not in html_text.split("</style>")[0]
    # The payloads: plotly's own library, and one chart per chart placeholder.
    assert _payload(html_text, "plotly-js").startswith(b"/**\n* plotly.js v")
    data = json.loads(_payload(html_text, "chart-data"))
    assert set(data) == set(charts)
    assert all(chart["data"] and "layout" in chart for chart in data.values())
    anchors = {attrs.get("id") for _, attrs in page.tags if attrs.get("id")}
    links = [attrs["href"][1:] for tag, attrs in page.tags if tag == "a"]
    assert links and set(links) <= anchors  # the contents point at headings that exist
    assert sum(1 for tag, _ in page.tags if tag == "table") >= 5


def test_report_without_the_optional_tables(tmp_path: Path, report: Path):
    # No paths, curvature or surfaces (no 2-d or small problem), no f*: no profiles either.
    out = tmp_path / "results"
    out.mkdir()
    import pandas as pd

    from bench.results.parquet import read_table, write_table

    for name in ("curves", "runs"):
        frame, metadata = read_table(report / f"{name}.parquet")
        frame = frame[frame["problem"] == "offset-20d"]
        metadata["problems"] = {"offset-20d": metadata["problems"]["offset-20d"]}
        write_table(pd.DataFrame(frame), out / f"{name}.parquet", metadata)
    shutil.copytree(report / "plots", out / "plots")  # stale figures must go
    write_report(out)
    names = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert names == ["offset-20d_convergence.png", "offset-20d_learning_rate.png"]
    assert "No performance or data profile" in (out / "report.md").read_text()


def test_report_from_a_relative_folder(tmp_path: Path, report: Path, monkeypatch):
    # `make bench` passes "results/default": figure links must still be relative to the
    # report's folder and the HTML must still find every PNG to embed.
    suite = tmp_path / "results" / "suite"
    shutil.copytree(report, suite, ignore=shutil.ignore_patterns("report.*"))
    monkeypatch.chdir(tmp_path)
    write_report(Path("results/suite"))
    markdown = (suite / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert links and all(link.startswith("plots/") for link in links)
    page = (suite / "report.html").read_text()
    drawn = page.count("data:image/png;base64,") + page.count(' data-chart="')
    assert drawn == len(links)
