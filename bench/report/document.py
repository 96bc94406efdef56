"""A report as a list of plain blocks, rendered to Markdown here and to HTML in bench.report.html.

Text is plain; `backticks` mark code (kept in Markdown, <code> in HTML). Nothing here
knows about optimizers: the report module decides what the blocks say.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    anchor: str = ""


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str


@dataclasses.dataclass(frozen=True)
class Items:
    """A bullet list; an item may be (text, anchor) to link to a heading of the report."""

    items: Sequence[str | tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    # Columns (by index) whose cells are numbers: right-aligned.
    numeric: frozenset[int] = frozenset()


@dataclasses.dataclass(frozen=True)
class Image:
    path: Path  # absolute, or relative to the report's folder
    title: str
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Code:
    text: str
    summary: str = ""  # HTML shows it folded under this line


Block = Heading | Paragraph | Items | Table | Image | Code


def anchor(text: str) -> str:
    """A heading id, the way GitHub derives it (lowercase, spaces to dashes)."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return re.sub(r" ", "-", text)


def _md_text(text: str) -> str:
    """Escape `*` outside `code` spans: "f*" must stay a star, not start an emphasis."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("*", "\\*") for p in parts)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block], root: Path) -> str:
    """Markdown (GitHub flavor); image paths relative to ``root`` (the report's folder)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md_text(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_md_text(block.text))
        elif isinstance(block, Items):
            lines = []
            for item in block.items:
                if isinstance(item, tuple):
                    text, target = item
                    lines.append(f"- [{_md_text(text)}](#{target})")
                else:
                    lines.append(f"- {_md_text(item)}")
            out.append("\n".join(lines))
        elif isinstance(block, Table):
            align = ["---:" if i in block.numeric else "---" for i in range(len(block.header))]
            lines = [
                "| " + " | ".join(_md_cell(h) for h in block.header) + " |",
                "|" + "|".join(align) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            if block.caption:
                lines = [f"*{_md_text(block.caption)}*", "", *lines]
            out.append("\n".join(lines))
        elif isinstance(block, Image):
            relative = _relative(block.path, root)
            text = f"![{_md_text(block.title)}]({relative})"
            if block.caption:
                text += f"\n\n*{_md_text(block.caption)}*"
            out.append(text)
        elif isinstance(block, Code):
            if block.summary:
                out.append(block.summary)
            out.append(f"```\n{block.text.rstrip()}\n```")
    return "\n\n".join(out) + "\n"


def _relative(path: Path, root: Path) -> str:
    path = Path(path)
    return (path.relative_to(root) if path.is_absolute() else path).as_posix()
