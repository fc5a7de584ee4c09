"""The class report's plots, written as inline SVG.

Two histograms and a bar per check need no plotting library: drawing them here takes a
millisecond, where matplotlib took about 0.7 s and 40 MiB of every grading run that writes
reports. The output depends only on the data, so a class gives byte-identical pages on
every run. Every text is escaped: check ids come from the course's files.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from propgrade.reports.markup import Markup, escape, trusted
from propgrade.reports.stats import CheckRate

PASS = "#2da44e"
WARN = "#d4a72c"
FAIL = "#e5534b"
INK = "#1f2328"
MUTED = "#57606a"
BLUE = "#0969da"

FONT = 12  # px
# A generous average glyph width of a sans-serif font at FONT px: the margins for the
# labels are computed from it, since the browser alone knows the real widths.
CHAR = 0.62 * FONT
TICK = 4


@dataclass(frozen=True)
class Frame:
    """A chart of ``width`` x ``height`` pixels and the margins around its plotting area."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:
        """The baseline (bottom) of the plotting area."""
        return self.height - self.bottom

    @property
    def y1(self) -> float:
        return self.top


Scale = Callable[[float], float]


def _n(value: float) -> str:
    """A coordinate: one decimal, short, the same on every run."""
    text = f"{value:.1f}"
    return "0" if text == "-0.0" else text.removesuffix(".0")


def _label(value: float) -> str:
    return f"{value:g}"


def ticks(low: float, high: float, most: int = 6, integer: bool = False) -> list[float]:
    """Round values from ``low`` to ``high``, at most about ``most`` of them."""
    raw = max(high - low, 1e-12) / max(most, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1.0, 2.0, 2.5, 5.0, 10.0) if f * power >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def histogram_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many values fall in each bin; the last bin includes its right edge."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        if edges[0] <= value <= edges[-1]:
            counts[min(bisect.bisect_right(edges, value) - 1, len(counts) - 1)] += 1
    return counts


def _text(x: float, y: float, text: str, anchor: str = "middle", color: str = MUTED) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{color}">{escape(text)}</text>'
    )


def _svg(chart_id: str, frame: Frame, title: str, body: list[str]) -> Markup:
    w, h = _n(frame.width), _n(frame.height)
    return trusted(
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}" '
        f'font-family="DejaVu Sans, Verdana, sans-serif" font-size="{FONT}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _axes(
    frame: Frame,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
    x_label: str,
    y_label: str | None = None,
) -> list[str]:
    """The left and bottom spines, their ticks (positions in pixels) and the axis labels."""
    out = [
        f'<path d="M{_n(frame.x0)} {_n(frame.y1)}V{_n(frame.y0)}H{_n(frame.x1)}" '
        f'fill="none" stroke="{MUTED}"/>'
    ]
    for x, text in x_ticks:
        out.append(f'<path d="M{_n(x)} {_n(frame.y0)}v{TICK}" stroke="{MUTED}"/>')
        out.append(_text(x, frame.y0 + TICK + FONT, text))
    for y, text in y_ticks:
        out.append(f'<path d="M{_n(frame.x0)} {_n(y)}h-{TICK}" stroke="{MUTED}"/>')
        out.append(_text(frame.x0 - TICK - 3, y + FONT / 3, text, anchor="end"))
    out.append(_text((frame.x0 + frame.x1) / 2, frame.height - 4, x_label, color=INK))
    if y_label is not None:
        middle = (frame.y0 + frame.y1) / 2
        out.append(
            f'<text transform="translate({FONT} {_n(middle)}) rotate(-90)" '
            f'text-anchor="middle" fill="{INK}">{escape(y_label)}</text>'
        )
    return out


@dataclass(frozen=True)
class Histogram:
    frame: Frame
    x: Scale
    body: list[str]


def _histogram(
    values: Sequence[float],
    edges: Sequence[float],
    x_range: tuple[float, float],
    size: tuple[float, float],
    labels: tuple[str, str],
    color: str,
    x_integer: bool = False,
) -> Histogram:
    counts = histogram_counts(values, edges)
    y_ticks = ticks(0, max(max(counts, default=0), 1), most=4, integer=True)
    y_top = max(y_ticks[-1], max(counts, default=0), 1)
    widest = max(len(_label(t)) for t in y_ticks)
    frame = Frame(size[0], size[1], FONT + 14 + widest * CHAR, 14, 14, 2 * FONT + 14)
    low, high = x_range

    def x(value: float) -> float:
        return frame.x0 + (value - low) / (high - low) * (frame.x1 - frame.x0)

    def y(count: float) -> float:
        return frame.y0 - count / y_top * (frame.y0 - frame.y1)

    body = []
    for left, right, count in zip(edges, edges[1:], counts, strict=False):
        if count:
            body.append(
                f'<rect x="{_n(x(left))}" y="{_n(y(count))}" '
                f'width="{_n(max(x(right) - x(left), 0.5))}" height="{_n(y(0) - y(count))}" '
                f'fill="{color}" stroke="white" stroke-width="0.5">'
                f"<title>{count} in {_label(left)} to {_label(right)}</title></rect>"
            )
    x_ticks = [(x(t), _label(t)) for t in ticks(low, high, integer=x_integer)]
    body += _axes(frame, x_ticks, [(y(t), _label(t)) for t in y_ticks], *labels)
    return Histogram(frame, x, body)


def score_histogram(scores: Sequence[float], max_score: float) -> Markup:
    top = max(max_score, max(scores, default=0.0), 1.0)
    if top <= 60 and top == int(top):
        # One bar per point while that stays readable
        edges = [k - 0.5 for k in range(int(top) + 2)]
        x_range = (-0.5, top + 0.5)
    else:
        edges = [top * k / 25 for k in range(26)]
        x_range = (0.0, top + 0.5)
    chart = _histogram(
        scores,
        edges,
        x_range,
        (576, 160),
        (f"score (out of {max_score:g})", "students"),
        BLUE,
        x_integer=True,
    )
    if scores:
        mean = sum(scores) / len(scores)
        at = chart.x(mean)
        frame = chart.frame
        chart.body.append(
            f'<path d="M{_n(at)} {_n(frame.y0)}V{_n(frame.y1)}" stroke="{INK}" '
            'stroke-dasharray="4 3"/>'
        )
        chart.body.append(_text(at + 4, frame.y1 + FONT - 2, f"mean {mean:.1f}", "start", INK))
    title = f"scores of {len(scores)} graded submissions"
    return _svg("chart-scores", chart.frame, title, chart.body)


def round_edges(top: float, most: int = 20) -> list[float]:
    """Bin edges from 0 in a round step (1, 2, 2.5 or 5 times a power of ten), at most
    about ``most`` bins, the last reaching ``top``: labels read 0.9 to 1, not
    0.891988 to 0.991098."""
    step = ticks(0.0, top, most)[1] if top > 0 else 1.0
    count = max(1, math.ceil(top / step - 1e-9))
    return [round(k * step, 10) for k in range(count + 1)]


def time_histogram(seconds: Sequence[float]) -> Markup:
    edges = round_edges(max(max(seconds, default=0.0), 1e-3))
    top = edges[-1]
    chart = _histogram(
        seconds,
        edges,
        (0.0, top),
        (576, 140),
        ("grading time per submission (s)", "submissions"),
        MUTED,
    )
    return _svg("chart-times", chart.frame, "grading time per submission", chart.body)


def _rate_color(rate: float) -> str:
    return PASS if rate >= 0.8 else WARN if rate >= 0.5 else FAIL


def pass_rate_bars(rates: Sequence[CheckRate]) -> Markup:
    """One horizontal bar per check, in the given order from the top (weakest first)."""
    row = 19.0
    widest = max((len(r.id) for r in rates), default=4)
    bottom = 2 * FONT + 14
    height = 6 + 4 + row * max(len(rates), 1) + bottom
    # right: room for the last bar's "passed/graded" beside a full bar
    frame = Frame(540, height, 12 + widest * CHAR, 48, 6, bottom)

    def x(percent: float) -> float:
        return frame.x0 + percent / 100 * (frame.x1 - frame.x0)

    body = []
    for i, r in enumerate(rates):
        top = frame.y1 + 4 + i * row
        middle = top + row * 0.35
        width = x(100 * r.rate) - frame.x0
        body.append(
            f'<rect x="{_n(frame.x0)}" y="{_n(top)}" width="{_n(width)}" '
            f'height="{_n(row * 0.7)}" fill="{_rate_color(r.rate)}">'
            f"<title>{escape(r.id)}: {r.passed} of {r.graded}</title></rect>"
        )
        body.append(_text(frame.x0 - 6, middle + FONT / 3, r.id, "end", INK))
        body.append(
            _text(frame.x0 + width + 4, middle + FONT / 3, f"{r.passed}/{r.graded}", "start")
        )
    x_ticks = [(x(p), f"{p}%") for p in (0, 25, 50, 75, 100)]
    body += _axes(frame, x_ticks, [], "graded submissions that pass the check")
    return _svg("chart-pass-rates", frame, "share of graded submissions passing each check", body)


def pair_score_histogram(scores: Sequence[float], threshold: float) -> Markup:
    """Pair scores from 0 to 1 in 20 bins, with the highlight threshold as a dashed line;
    most pairs share nothing, so the count axis is what makes outliers visible."""
    edges = [k / 20 for k in range(21)]
    chart = _histogram(scores, edges, (0.0, 1.0), (576, 160), ("pair score", "pairs"), BLUE)
    at = chart.x(threshold)
    frame = chart.frame
    chart.body.append(
        f'<path d="M{_n(at)} {_n(frame.y0)}V{_n(frame.y1)}" stroke="{FAIL}" '
        'stroke-dasharray="4 3"/>'
    )
    chart.body.append(
        _text(at + 4, frame.y1 + FONT - 2, f"review from {threshold:g}", "start", INK)
    )
    return _svg("chart-pair-scores", frame, f"scores of {len(scores)} pairs", chart.body)
