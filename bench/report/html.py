"""The report as ONE self-contained HTML file: the style, the scripts, plotly's library and
every figure's data inline, no reference to anything outside the file (it opens offline,
from a mail attachment or a CI artifact as well as from disk).

Figures with an interactive chart (`bench.report.charts`) are drawn by plotly in the page (hover,
legend clicks, x axis switches); the others are the PNGs as base64 data URIs. plotly.js
(4.8 MB) and the charts' data travel gzip-compressed and base64-encoded (2.7 MB together
for the default suite instead of 9.6 MB): the page inflates them with the browser's
DecompressionStream, then draws each chart as it scrolls into view. Tables sort by a click
on a column's header; the contents stay in view (a sidebar on wide screens, a bar on
narrow ones), and wide tables scroll inside their box instead of widening the page.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.report.document import Block, Code, Heading, Image, Items, Paragraph, Table

STYLE = """
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1d1d1f; line-height: 1.45; }
.page { display: grid; grid-template-columns: 15rem minmax(0, 1fr); gap: 2rem;
        max-width: 1500px; margin: 0 auto; padding: 0 1.5rem; }
nav#contents { position: sticky; top: 0; align-self: start; max-height: 100vh;
               overflow-y: auto; padding: 1rem 0; font-size: .85rem; }
nav#contents summary { font-weight: 600; cursor: pointer; }
nav#contents ul { list-style: none; padding-left: .8rem; margin: .3rem 0; }
nav#contents > details > ul { padding-left: 0; }
nav#contents a { color: #0a58ca; text-decoration: none; }
nav#contents a:hover { text-decoration: underline; }
main { min-width: 0; padding: 1rem 0 4rem; }
@media (max-width: 1100px) {
  .page { display: block; padding: 0 1rem; }
  nav#contents { background: #fff; border-bottom: 1px solid #ddd; z-index: 10;
                 max-height: 70vh; padding: .5rem 0; }
}
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #e4e4e4; padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { margin-top: 2rem; }
h2, h3 { scroll-margin-top: 3rem; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: .6rem 0 1rem; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border: 1px solid #d6d6d6; padding: .25rem .55rem; vertical-align: top; }
th { background: #f3f3f5; text-align: left; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafb; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #444; max-width: 60rem; }
.chart { width: 100%; height: 480px; border: 1px solid #eee; }
.chart.tall { height: 620px; }
.chart .pending { color: #666; padding: 1rem; }
.views { font-size: .85rem; margin-bottom: .3rem; }
.views button { font: inherit; margin-right: .2rem; padding: .1rem .5rem; cursor: pointer;
                border: 1px solid #bbb; background: #f6f6f8; border-radius: 3px; }
.views button[aria-pressed="true"] { background: #0a58ca; color: #fff; border-color: #0a58ca; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: #f6f6f8; padding: .7rem; overflow-x: auto; }
details summary { cursor: pointer; }
"""

# Inflates the gzip+base64 payloads, defines Plotly, then draws each chart on first sight.
SCRIPT = r"""
(function () {
  "use strict";
  async function inflate(id) {
    const text = document.getElementById(id).textContent.trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
  function pending(message) {
    for (const div of document.querySelectorAll(".chart .pending")) div.textContent = message;
  }
  const TITLES = {};
  function setView(div, chart, view) {
    const indices = [], xs = [], ys = [], shapes = [];
    chart.data.forEach((trace, i) => {
      const views = trace.meta && trace.meta.views;
      if (!views || !views[view]) return;
      indices.push(i); xs.push(views[view].x); ys.push(views[view].y);
      shapes.push(views[view].shape);
    });
    Plotly.restyle(div, {x: xs, y: ys, "line.shape": shapes}, indices);
    Plotly.relayout(div, {"xaxis.title.text": chart.views[view], "xaxis.autorange": true});
  }
  function buttons(div, chart) {
    const bar = div.parentElement.querySelector(".views");
    if (!bar) return;
    for (const button of bar.querySelectorAll("button")) {
      button.addEventListener("click", () => {
        const group = button.dataset.group;
        for (const other of bar.querySelectorAll(`button[data-group="${group}"]`)) {
          other.setAttribute("aria-pressed", String(other === button));
        }
        if (group === "view") setView(div, chart, button.dataset.value);
        else Plotly.relayout(div, {"xaxis.type": button.dataset.value, "xaxis.autorange": true});
      });
    }
  }
  function draw(div, chart) {
    div.textContent = "";
    const layout = Object.assign({autosize: true}, chart.layout);
    Plotly.newPlot(div, chart.data, layout, {responsive: true, displaylogo: false})
      .then(() => chart.frames ? Plotly.addFrames(div, chart.frames) : null)
      .then(() => { div.dataset.drawn = "true"; buttons(div, chart); });
  }
  async function main() {
    if (typeof DecompressionStream === "undefined") {
      pending("This chart needs a browser with DecompressionStream (2023 or later); the " +
              "PNG of every figure is in the plots/ folder beside this file.");
      return;
    }
    const code = await inflate("plotly-js");
    const script = document.createElement("script");
    script.textContent = code;
    document.head.appendChild(script);
    const charts = JSON.parse(await inflate("chart-data"));
    const divs = Array.from(document.querySelectorAll(".chart[data-chart]"));
    const seen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        seen.unobserve(entry.target);
        draw(entry.target, charts[entry.target.dataset.chart]);
      }
    }, {rootMargin: "800px 0px"});
    for (const div of divs) seen.observe(div);
    window.optbenchCharts = {charts: charts, drawAll: () => divs.forEach((d) => {
      if (!d.dataset.drawn) { seen.unobserve(d); draw(d, charts[d.dataset.chart]); }
    })};
    document.body.dataset.chartsReady = "true";
  }
  function sortable(table) {
    const heads = table.querySelectorAll("thead th");
    heads.forEach((th, column) => th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const text = (row.cells[column] || {textContent: ""}).textContent.trim();
        const number = parseFloat(text.replace(/,/g, "").replace(/^[~≈<>≤≥]\s*/, ""));
        return {text: text, number: /^inf/i.test(text) || text === "∞" ? Infinity : number};
      };
      const keyed = rows.map((row, index) => ({row: row, key: key(row), index: index}));
      const numeric = keyed.every((k) => !k.key.text || k.key.text === "—" ||
                                          !isNaN(k.key.number));
      keyed.sort((a, b) => {
        let order;
        if (numeric) {
          const x = isNaN(a.key.number) ? Infinity : a.key.number;
          const y = isNaN(b.key.number) ? Infinity : b.key.number;
          order = x < y ? -1 : x > y ? 1 : 0;
        } else {
          order = a.key.text.localeCompare(b.key.text, undefined, {numeric: true});
        }
        return (ascending ? order : -order) || a.index - b.index;
      });
      for (const k of keyed) body.appendChild(k.row);
    }));
  }
  document.querySelectorAll("table").forEach(sortable);
  // On a narrow screen the contents fold into the sticky bar until asked for.
  if (window.matchMedia("(max-width: 1100px)").matches) {
    document.querySelector("nav#contents details").removeAttribute("open");
  }
  main().catch((error) => {
    console.warn("optbench: charts not drawn:", error);
    pending("The charts could not be drawn here (" + error + "); the PNG of every figure " +
            "is in the plots/ folder beside this file.");
  });
})();
"""

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


def _inline(text: str) -> str:
    """Escape, then `code` spans."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def data_uri(path: Path) -> str:
    """The file as a data: URI (the report must not point outside itself)."""
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def packed(data: bytes) -> str:
    """gzip (deterministic: no time stamp) then base64, split in lines of 120."""
    text = base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")
    return "\n".join(text[i : i + 120] for i in range(0, len(text), 120))


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    """plotly.js as shipped by the plotly package (its version is the package's)."""
    from plotly.offline import get_plotlyjs

    return packed(get_plotlyjs().encode())


def _contents(blocks: Sequence[Block]) -> str:
    """The sticky table of contents: level-2 headings, their level-3 ones nested."""
    lines = ['<nav id="contents" aria-label="Contents"><details open><summary>Contents'
             "</summary><ul>"]  # fmt: skip
    open_sub = False
    for block in blocks:
        if not isinstance(block, Heading) or not block.anchor or block.level not in (2, 3):
            continue
        link = f'<a href="#{html.escape(block.anchor)}">{_inline(block.text)}</a>'
        if block.level == 2:
            if open_sub:
                lines.append("</ul></li>")
                open_sub = False
            lines.append(f"<li>{link}")
            lines.append("</li>")
        else:
            if not open_sub:
                lines.pop()  # reopen the last level-2 item
                lines.append("<ul>")
                open_sub = True
            lines.append(f"<li>{link}</li>")
    if open_sub:
        lines.append("</ul></li>")
    lines.append("</ul></details></nav>")
    return "\n".join(lines)


_VIEW_BUTTONS = (
    '<div class="views" role="group" aria-label="x axis">x axis: '
    '<button data-group="view" data-value="steps" aria-pressed="true">steps</button>'
    '<button data-group="view" data-value="evals" aria-pressed="false">evaluations</button>'
    '<button data-group="view" data-value="seconds" aria-pressed="false">seconds</button>'
    ' · scale: <button data-group="scale" data-value="log" aria-pressed="true">log</button>'
    '<button data-group="scale" data-value="linear" aria-pressed="false">linear</button></div>'
)


def _chart_figure(name: str, chart: Mapping[str, Any], block: Image) -> str:
    tall = " tall" if len(chart.get("data", ())) > 30 or "grid" in chart.get("layout", {}) else ""
    views = _VIEW_BUTTONS if "views" in chart else ""
    text = chart.get("caption") or block.caption
    caption = f"<figcaption>{_inline(text)}</figcaption>" if text else ""
    return (
        f'<figure>{views}<div class="chart{tall}" data-chart="{html.escape(name)}" role="img" '
        f'aria-label="{html.escape(block.title)}"><div class="pending">Drawing the chart '
        f"(it needs JavaScript)…</div></div>{caption}</figure>"
    )


def to_html(
    blocks: Sequence[Block],
    root: Path,
    title: str,
    charts: Mapping[str, Mapping[str, Any] | str] | None = None,
) -> str:
    """The whole page; relative image paths are resolved against ``root``.

    ``charts``: PNG file name -> its interactive chart (`bench.report.charts.charts_for`), drawn in
    place of the PNG; a name mapped to a string is a figure another chart holds (left out).
    """
    charts = charts or {}
    drawn: dict[str, Mapping[str, Any]] = {}
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            ident = f' id="{html.escape(block.anchor)}"' if block.anchor else ""
            body.append(f"<h{block.level}{ident}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Items):
            items = []
            for item in block.items:
                if isinstance(item, tuple):
                    text, target = item
                    items.append(f'<li><a href="#{html.escape(target)}">{_inline(text)}</a></li>')
                else:
                    items.append(f"<li>{_inline(item)}</li>")
            body.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        elif isinstance(block, Table):
            lines = ['<div class="table-wrap"><table>']
            if block.caption:
                lines.append(f"<caption>{_inline(block.caption)}</caption>")
            lines.append(
                "<thead><tr>"
                + "".join(f'<th title="sort">{_inline(h)}</th>' for h in block.header)
                + "</tr></thead><tbody>"
            )
            for row in block.rows:
                cells = [
                    f'<td class="num">{_inline(c)}</td>'
                    if i in block.numeric
                    else f"<td>{_inline(c)}</td>"
                    for i, c in enumerate(row)
                ]
                lines.append("<tr>" + "".join(cells) + "</tr>")
            lines.append("</tbody></table></div>")
            body.append("\n".join(lines))
        elif isinstance(block, Image):
            path = Path(block.path if Path(block.path).is_absolute() else root / block.path)
            chart = charts.get(path.name)
            if isinstance(chart, str):
                continue
            if chart is not None:
                drawn[path.name] = {k: v for k, v in chart.items() if k != "caption"}
                body.append(_chart_figure(path.name, chart, block))
                continue
            alt = html.escape(block.title)
            figure = f'<figure><img src="{data_uri(path)}" alt="{alt}">'
            if block.caption:
                figure += f"<figcaption>{_inline(block.caption)}</figcaption>"
            body.append(figure + "</figure>")
        elif isinstance(block, Code):
            code = f"<pre><code>{html.escape(block.text.rstrip())}</code></pre>"
            if block.summary:
                code = f"<details><summary>{_inline(block.summary)}</summary>{code}</details>"
            body.append(code)
    payload = ""
    if drawn:
        data = json.dumps(drawn, separators=(",", ":"), allow_nan=False).encode()
        payload = (
            f'<script type="application/gzip+base64" id="plotly-js">\n{_plotly_js()}\n</script>\n'
            f'<script type="application/gzip+base64" id="chart-data">\n{packed(data)}\n'
            "</script>\n"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<div class="page">\n{_contents(blocks)}\n<main>\n'
        + "\n".join(body)
        + f"\n</main>\n</div>\n{payload}<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
