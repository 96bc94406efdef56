"""Styles and the small helpers every figure shares: the figure record, a hue per optimizer
family and a shade per entry, legends, saving, axis scales, twins and highlights.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from PIL import Image

from bench.answers import optimizer_family
from bench.results.loaded import Results
from optimizers import (
    ADAPTIVE,
    FIRST_ORDER,
    NEWTON,
    OPTAX_OPTIMIZERS,
    OPTIMIZERS,
    QUASI_NEWTON,
)

# Gaps at or below this are rounding noise around f*; drawn at the floor of the log axis.
GAP_FLOOR = 1e-16


# Beyond this a value is drawn as diverged (+inf): it is far off any axis we draw.
BLOWUP = 1e100


# The PNGs serve report.md and the README (report.html draws interactive charts instead):
# 90 dpi keeps a 13.5-inch figure 1215 px wide, legible, and the committed folder small.
DPI = 90


# Points of the common evaluation grid the seeds' curves are interpolated onto.
EVAL_GRID = 300


LEARNING_RATE = "learning_rate"


@dataclasses.dataclass(frozen=True)
class Figure:
    """A written figure and the sentence that tells a reader what to look at; or, with
    ``error`` set, a figure that could not be drawn (``path`` was not written) and why."""

    path: Path
    title: str
    caption: str
    error: str | None = None


# One hue per optimizer family (optimizers.FAMILIES), several shades each, none grey
# (contours and the entries outside a figure's top k are grey): the reader tells the
# families apart at a glance and the entries of one family by shade and marker.
FAMILY_PALETTES: dict[str, tuple[str, ...]] = {
    FIRST_ORDER: ("#08519c", "#4292c6", "#17becf", "#253494", "#6baed6", "#1d91c0", "#2c7fb8"),
    ADAPTIVE: (
        "#d94801",
        "#e6ab02",
        "#a63603",
        "#fd8d3c",
        "#8c6d31",
        "#f16913",
        "#bf812d",
        "#7f2704",
    ),
    QUASI_NEWTON: ("#006d2c", "#41ab5d", "#00a087", "#637939", "#74c476", "#238b45"),
    NEWTON: ("#cb181d", "#e7298a", "#a50f15", "#fb6a4a", "#c51b7d", "#7a0177"),
}


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


# Dashes of a library entry (optax.adam), drawn over its hand-written twin's solid line.
LIBRARY_DASHES = (0, (5, 2.5))


def optimizer_styles(
    names: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    families: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """A (color, line style, marker) per optimizer, stable across figures.

    The color is a shade of the entry's family hue (`FAMILY_PALETTES`), the shades in
    suite order within each family (they repeat, with other markers, past a family's
    palette). Hand-written entries are solid; library entries (``optax.*``) dashed and
    drawn on top. ``kinds``: each entry's registry kind (an entry's name defaults to its
    kind), which tells a library's optimizer and, where ``families`` does not say, the
    family; both are read from the registry, never guessed from a name.
    """
    kinds = kinds or {}
    families = families or {}
    styles = {}
    seen: dict[str, int] = {}
    for name in names:
        kind = kinds.get(name, name)
        entry = OPTIMIZERS.get(kind)
        family = families.get(name) or (entry.family if entry is not None else FIRST_ORDER)
        palette = FAMILY_PALETTES.get(family, FAMILY_PALETTES[FIRST_ORDER])
        shade = seen.get(family, 0)
        seen[family] = shade + 1
        library = kind in OPTAX_OPTIMIZERS
        styles[name] = {
            "color": palette[shade % len(palette)],
            "linestyle": LIBRARY_DASHES if library else "-",
            "marker": MARKERS[(shade + shade // len(palette)) % len(MARKERS)],
            "zorder": 2.5 if library else 2.0,
            "family": family,
        }
    return styles


def _all_optimizers(results: Results) -> list[str]:
    names = list(results.metadata.get("optimizers", {}))
    return names + [n for n in dict.fromkeys(results.runs["optimizer"]) if n not in names]


def suite_styles(results: Results) -> dict[str, dict[str, Any]]:
    """`optimizer_styles` of every optimizer of the results, in suite order, by its kind."""
    optimizers = results.metadata.get("optimizers", {})
    kinds = {name: entry["kind"] for name, entry in optimizers.items() if "kind" in entry}
    families = {name: optimizer_family(results.metadata, name) for name in optimizers}
    return optimizer_styles(_all_optimizers(results), kinds, families)


# Legend labels wrap at this many characters: a long one ("a ≡ b ≡ c ≡ d (setting)")
# would widen the legend until the panels squeeze and their axis labels overlap.
LEGEND_WIDTH = 44


def wrap_labels(labels: Sequence[str]) -> list[str]:
    """Each label wrapped at `LEGEND_WIDTH`, its further lines indented."""
    return [
        textwrap.fill(str(label), LEGEND_WIDTH, subsequent_indent="   ", break_on_hyphens=False)
        for label in labels
    ]


def _legend(ax: plt.Axes, handles=None, labels=None) -> None:
    """Legend outside the axes, to the right of ``ax`` (constrained layout makes room);
    labels wrapped (`wrap_labels`); one column up to 24 entries, then two."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        handles,
        wrap_labels(labels),
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize="small",
        ncol=1 if len(handles) <= 24 else 2,
    )


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a palette PNG and close it (figure modules call it as
    ``styling.save``, so that a test can watch every figure saved)."""
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    # Line plots and filled contours use few colors: a 256-color palette, undithered, looks
    # the same and is about 4x smaller, which matters for committed results and report.html.
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)
    return path


def setting_label(metadata: Mapping[str, Any], optimizer: str, setting: Any) -> str:
    """The display label of a setting index of an entry (the table metadata lists them)."""
    labels = metadata.get("optimizers", {}).get(optimizer, {}).get("setting_labels") or []
    index = int(setting)
    return labels[index] if 0 <= index < len(labels) else f"setting {index}"


def _y_label(column: str) -> str:
    return "gap f(x) - f*  (log scale)" if column == "gap" else "loss f(x)  (full objective)"


def _set_value_scale(ax: plt.Axes, values: np.ndarray, column: str) -> None:
    """Log where the values are positive and span more than a decade (gaps: always log)."""
    finite = values[np.isfinite(values)]
    if column == "gap" or (finite.size and finite.min() > 0 and finite.max() > 10 * finite.min()):
        ax.set_yscale("log")


# Dashes for a curve drawn over an identical one, so both colors show in turn.
OVER = (0, (3, 3))


def _same_as(curve: np.ndarray, drawn: Sequence[tuple[str, np.ndarray]]) -> str | None:
    """The name of an already drawn curve this one coincides with (to 0.1%), if any: an
    optimizer and its Optax twin draw one line, and the reader should know both are there."""
    # The last row holds the values drawn (x, y stacked: y): where none is finite the line
    # is not drawn at all, and two undrawn lines are not "equal".
    values = curve[-1] if curve.ndim > 1 else curve
    if not np.isfinite(values).any():
        return None
    for name, other in drawn:
        if other.shape == curve.shape and np.allclose(
            curve, other, rtol=1e-3, atol=0.0, equal_nan=True
        ):
            return name
    return None


def _line(
    name: str, twin: str | None, styles: Mapping[str, dict], width: float = 1.6
) -> dict[str, Any]:
    """Color, dashes and drawing order of ``name``'s line; ``twin``: the drawn curve it
    coincides with. Over a twin of the same line style it is dashed and on top (both
    colors show in turn); a library entry over a hand-written one keeps its own dashes."""
    style = styles[name]
    linestyle, zorder = style["linestyle"], style["zorder"]
    if twin is not None and styles[twin]["linestyle"] == linestyle:
        linestyle, zorder = OVER, max(zorder, styles[twin]["zorder"]) + 0.1
    return {"color": style["color"], "linestyle": linestyle, "linewidth": width, "zorder": zorder}


def _symlog_x(ax: plt.Axes) -> None:
    """Linear from 0 to 1, log beyond: step 0 and evaluation 0 (the start) stay on the axis."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
    ax.xaxis.set_minor_locator(
        ticker.SymmetricalLogLocator(linthresh=1.0, base=10, subs=range(2, 10))
    )
    ax.set_xlim(left=0.0)


def _clip_blowups(ax: plt.Axes, values: np.ndarray, starts: np.ndarray) -> None:
    """On a log axis, cut the top at 100x the highest starting value: a run blowing up on
    its way to divergence leaves through the top instead of squashing every other curve.
    The bottom then follows the values left on the axis (the margin autoscaling gave the
    blown-up range would leave decades of empty axis below them)."""
    if ax.get_yscale() != "log":
        return
    finite = values[np.isfinite(values) & (values > 0)]
    starts = starts[np.isfinite(starts) & (starts > 0)]
    if not finite.size or not starts.size:
        return
    top = 10 ** math.ceil(math.log10(starts.max()) + 2)
    if finite.max() > top:
        bottom = 10 ** math.floor(math.log10(finite.min()))
        ax.set_ylim(max(ax.get_ylim()[0], bottom / 2), top)


def _target_near(target: float | None, values: np.ndarray) -> bool:
    """Whether to draw the target line: not when it lies more than 3 decades below every
    value (it would squash the differences that matter; the title says so instead)."""
    if not target:
        return False
    finite = values[np.isfinite(values) & (values > 0)]
    return bool(not finite.size or target >= float(finite.min()) / 1e3)


def _metric_name(column: str) -> str:
    return "gap f(x) - f*" if column == "gap" else "loss"


# Bands for at most this many optimizers (the best ranked): more pile up into one block.
BANDS = 5


# The best ranked entries (twins counted once) drawn in color with a legend entry each;
# the others are grey (report.html's charts show every entry by name).
HIGHLIGHT = 6


# ... and in each panel of a figure with one panel per class of surface.
PANEL_HIGHLIGHT = 4


GREY = "0.72"


def highlighted(
    ranked: Sequence[str], styles: Mapping[str, dict], count: int = HIGHLIGHT
) -> set[str]:
    """The entries a figure draws in color: the best of each family present (``ranked`` is
    best first), then the next best up to ``count``; so the best first-order method shows
    even where quasi-Newton methods fill the top ranks."""
    chosen: list[str] = []
    families: set[str] = set()
    for name in ranked:
        family = styles[name].get("family")
        if family not in families:
            families.add(family)
            chosen.append(name)
    for name in ranked:
        if len(chosen) >= max(count, len(families)):
            break
        if name not in chosen:
            chosen.append(name)
    return set(chosen)
