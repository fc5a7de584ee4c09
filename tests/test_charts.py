"""The class report's charts: right counts, readable axes, inert and stable SVG, and cheap."""

from __future__ import annotations

import re
import subprocess
import sys
from xml.etree import ElementTree

from propgrade.reports import charts
from propgrade.reports.stats import CheckRate

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))  # well-formed XML, or this raises


def bar_titles(svg: ElementTree.Element) -> list[str]:
    return [r.findtext(f"{SVG}title") or "" for r in svg.iter(f"{SVG}rect")]


def test_a_histogram_counts_every_value_once_the_top_edge_included() -> None:
    assert charts.histogram_counts([0, 0.5, 1, 1.99, 2, 3, -1], [0, 1, 2]) == [2, 3]
    assert charts.histogram_counts([], [0, 1]) == [0]


def test_ticks_are_round_numbers_within_the_range() -> None:
    assert charts.ticks(0, 48, integer=True) == [0, 10, 20, 30, 40]
    assert charts.ticks(-0.5, 5.5, integer=True) == [0, 1, 2, 3, 4, 5]
    assert charts.ticks(0, 1, most=4, integer=True) == [0, 1]
    assert charts.ticks(0, 0.37) == [0, 0.1, 0.2, 0.3]
    assert charts.ticks(0, 0.37, most=8) == [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]


def test_score_histogram_has_a_bar_per_point_and_the_mean() -> None:
    scores = [48.0, 48.0, 47.0, 0.0]
    svg = parse(charts.score_histogram(scores, 48.0))
    assert svg.get("id") == "chart-scores"
    assert sorted(bar_titles(svg)) == ["1 in -0.5 to 0.5", "1 in 46.5 to 47.5", "2 in 47.5 to 48.5"]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "mean 35.8" in texts and "score (out of 48)" in texts and "students" in texts
    # The tallest bar reaches the top tick: 2 students.
    assert texts.count("2") == 1


def test_a_fractional_maximum_gets_25_equal_bins() -> None:
    svg = parse(charts.score_histogram([12.5, 99.0, 100.0], 100.0))
    assert sorted(bar_titles(svg)) == ["1 in 12 to 16", "2 in 96 to 100"]


def test_pass_rate_bars_read_down_in_the_given_order_with_their_counts() -> None:
    rates = [
        CheckRate("svm_vec_nonnegative", "", passed=1, graded=4),
        CheckRate("svm_vec_output_shapes", "", passed=4, graded=4),
    ]
    svg = parse(charts.pass_rate_bars(rates))
    rects = list(svg.iter(f"{SVG}rect"))
    assert [r.findtext(f"{SVG}title") for r in rects] == [
        "svm_vec_nonnegative: 1 of 4",
        "svm_vec_output_shapes: 4 of 4",
    ]
    assert float(rects[0].get("y", 0)) < float(rects[1].get("y", 0))
    full, quarter = float(rects[1].get("width", 0)), float(rects[0].get("width", 0))
    assert abs(quarter - full / 4) < 0.1
    assert [r.get("fill") for r in rects] == [charts.FAIL, charts.PASS]
    assert "4/4" in [t.text for t in svg.iter(f"{SVG}text")]


def test_every_text_is_escaped() -> None:
    hostile = "a<script>alert(1)</script>&\"'"
    markup = str(charts.pass_rate_bars([CheckRate(hostile, "", passed=0, graded=1)]))
    assert "<script>" not in markup
    assert hostile in [t.text for t in parse(markup).iter(f"{SVG}text")]


def test_the_same_data_gives_the_same_svg_and_empty_data_still_draws() -> None:
    seconds = [0.21, 0.4, 1.7, 0.33]
    assert charts.time_histogram(seconds) == charts.time_histogram(list(seconds))
    for markup in (
        charts.time_histogram([]),
        charts.score_histogram([], 10.0),
        charts.pass_rate_bars([]),
    ):
        parse(markup)
        assert not re.search(r"nan|inf", str(markup))


def test_drawing_the_charts_loads_no_plotting_library() -> None:
    code = (
        "import sys\n"
        "from propgrade.reports import charts\n"
        "from propgrade.reports.stats import CheckRate\n"
        "charts.score_histogram([1.0, 2.0], 3.0)\n"
        "charts.time_histogram([0.5])\n"
        "charts.pass_rate_bars([CheckRate('c', '', 1, 2)])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_grading_time_bins_have_round_edges() -> None:
    svg = parse(charts.time_histogram([0.891988, 0.991098, 0.42]))
    titles = [t for t in bar_titles(svg) if " to " in t]
    assert "1 in 0.85 to 0.9" in titles
    for title in titles:
        for label in re.findall(r"in (\S+) to (\S+)$", title)[0]:
            assert len(label.partition(".")[2]) <= 2, title
    assert titles[-1].endswith("to 1")
