"""The report as ONE self-contained HTML file: images as base64 data URIs, the style inline,
no script and no reference to anything outside the file (it opens from a mail attachment
or a CI artifact as well as from disk)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from bench.document import Block, Code, Heading, Image, Items, Paragraph, Table

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1rem 2rem 4rem; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #e4e4e4; padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { margin-top: 2rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .88rem; }
th, td { border: 1px solid #d6d6d6; padding: .25rem .55rem; vertical-align: top; }
th { background: #f3f3f5; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafb; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #444; max-width: 60rem; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
pre { background: #f6f6f8; padding: .7rem; overflow-x: auto; }
details summary { cursor: pointer; }
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


def to_html(blocks: Sequence[Block], root: Path, title: str) -> str:
    """The whole page; relative image paths are resolved against ``root``."""
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
            lines = ["<table>"]
            if block.caption:
                lines.append(f"<caption>{_inline(block.caption)}</caption>")
            lines.append(
                "<thead><tr>"
                + "".join(f"<th>{_inline(h)}</th>" for h in block.header)
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
            lines.append("</tbody></table>")
            body.append("\n".join(lines))
        elif isinstance(block, Image):
            path = block.path if Path(block.path).is_absolute() else root / block.path
            alt = html.escape(block.title)
            figure = f'<figure><img src="{data_uri(Path(path))}" alt="{alt}">'
            if block.caption:
                figure += f"<figcaption>{_inline(block.caption)}</figcaption>"
            body.append(figure + "</figure>")
        elif isinstance(block, Code):
            code = f"<pre><code>{html.escape(block.text.rstrip())}</code></pre>"
            if block.summary:
                code = f"<details><summary>{_inline(block.summary)}</summary>{code}</details>"
            body.append(code)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
