"""The class report's plots: matplotlib figures rendered to inline SVG.

matplotlib is imported inside the functions: it costs about half a second, which
``propgrade grade`` and ``propgrade check`` should not pay when no report is written.
Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no GUI backend
is ever selected and no global figure state is kept; savefig renders through the
non-interactive SVG canvas, whatever backend pyplot would use (Agg here).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from propgrade.reports.markup import Markup, trusted
from propgrade.reports.stats import CheckRate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PASS = "#2da44e"
WARN = "#d4a72c"
FAIL = "#e5534b"
INK = "#1f2328"
MUTED = "#57606a"

# Keys typed Any: matplotlib 3.11 types rc_context's keys as a Literal of every rcParam
# name, which a dict[str, ...] does not satisfy; 3.10 types them as str.
_STYLE: dict[Any, Any] = {
    # The same figure gives byte-identical SVG on every run: clip-path ids are hashed with
    # this salt instead of a random one, and no creation date is written.
    "svg.hashsalt": "propgrade",
    # Text stays <text> instead of glyph outlines: several times smaller, selectable, and
    # no glyph <defs> whose ids could clash between the figures of one page.
    "svg.fonttype": "none",
    "text.parse_math": False,  # check ids contain "_", and a "$" must not start TeX
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
}


def _svg(figure: Figure, chart_id: str) -> Markup:
    import matplotlib

    buffer = io.StringIO()
    style: dict[Any, Any] = {**_STYLE, "svg.id": chart_id}  # svg.id: matplotlib >= 3.10
    with matplotlib.rc_context(style):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    # Drop the XML declaration and DOCTYPE: the <svg> element goes inline into the page.
    return trusted(_scope_ids(text[text.index("<svg") :].strip(), chart_id))


_ID = re.compile(r'\bid="([A-Za-z0-9_.-]+)"')


def _scope_ids(svg: str, chart_id: str) -> str:
    """Prefix the ids inside one figure (figure_1, clip paths, tick markers) with the chart's
    id: every figure numbers its elements from 1, and ids must be unique in the page."""
    inner = {m for m in _ID.findall(svg) if m != chart_id}

    def rename(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in inner:
            return match.group(0)
        return f"{match.group(1)}{chart_id}-{name}"

    return re.sub(r'(\bid="|url\(#|href="#)([A-Za-z0-9_.-]+)', rename, svg)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    # Figure() reads rcParams as it builds artists: callers hold rc_context(_STYLE).
    return Figure(figsize=(width, height), dpi=72, layout="constrained")


def _integer_ticks(figure: Figure) -> None:
    from matplotlib.ticker import MaxNLocator

    for axes in figure.axes:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def score_histogram(scores: Sequence[float], max_score: float) -> Markup:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure = _figure(8, 2.2)
        axes = figure.add_subplot()
        top = max(max_score, max(scores, default=0.0), 1.0)
        # One bar per point while that stays readable, else 25 equal bins.
        bins: int | list[float] = (
            [x - 0.5 for x in range(int(top) + 2)] if top <= 60 and top == int(top) else 25
        )
        axes.hist(scores, bins=bins, color="#0969da", edgecolor="white", linewidth=0.5)
        if scores:
            mean = sum(scores) / len(scores)
            axes.axvline(mean, color=INK, linestyle="--", linewidth=1)
            axes.annotate(
                f"mean {mean:.1f}",
                (mean, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -10),
                textcoords="offset points",
                color=INK,
            )
        axes.set_xlim(-0.5 if isinstance(bins, list) else 0, top + 0.5)
        axes.set_xlabel(f"score (out of {max_score:g})")
        axes.set_ylabel("students")
        _integer_ticks(figure)
        return _svg(figure, "chart-scores")


def _rate_color(rate: float) -> str:
    return PASS if rate >= 0.8 else WARN if rate >= 0.5 else FAIL


def pass_rate_bars(rates: Sequence[CheckRate]) -> Markup:
    """One horizontal bar per check, in the given order from the top (weakest first)."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.5, 0.6 + 0.2 * max(len(rates), 1))
        axes = figure.add_subplot()
        positions = list(range(len(rates)))[::-1]  # barh counts upwards; the list reads down
        values = [100 * r.rate for r in rates]
        axes.barh(positions, values, color=[_rate_color(r.rate) for r in rates], height=0.7)
        axes.set_yticks(positions, [r.id for r in rates])
        for position, r in zip(positions, rates, strict=True):
            axes.text(
                100 * r.rate + 1,
                position,
                f"{r.passed}/{r.graded}",
                va="center",
                color=MUTED,
                fontsize=8,
            )
        axes.set_xlim(0, 112)
        axes.set_ylim(-0.6, len(rates) - 0.4)
        axes.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        axes.set_xlabel("graded submissions that pass the check")
        axes.tick_params(axis="y", length=0)
        return _svg(figure, "chart-pass-rates")


def time_histogram(seconds: Sequence[float]) -> Markup:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure = _figure(8, 1.9)
        axes = figure.add_subplot()
        axes.hist(seconds, bins=20, color=MUTED, edgecolor="white", linewidth=0.5)
        axes.set_xlabel("grading time per submission (s)")
        axes.set_ylabel("submissions")
        axes.set_xlim(left=0)
        _integer_ticks(figure)
        return _svg(figure, "chart-times")
