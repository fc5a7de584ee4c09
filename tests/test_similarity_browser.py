"""The similarity report as headless Chromium renders it: the pairs, the histogram, and the
shared fragments highlighted in the side-by-side code (checked in the DOM and in the
pixels of a screenshot). Skipped when no Chromium is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import MISSING
from similarity_corpus import class_folders
from test_reports_browser import CHROMIUM, DomAudit, load, screenshot

from propgrade.cli import main

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=f"{MISSING}Chromium (apt-get install chromium)"),
]

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<img src=x onerror=\"document.title='PWNED'\">"
HIGHLIGHT = (0xFF, 0xF1, 0xA8)  # .side pre span.match in reports/similarity_page.py


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    subs = tmp_path_factory.mktemp("subs")
    for name, folder in class_folders("optimizers"):
        # The copy of correct_numpy_ufuncs gets a hostile name: it is the top pair.
        target = subs / (HOSTILE if name == "plant_ufuncs_renamed" else name)
        shutil.copytree(folder, target)
    out = tmp_path_factory.mktemp("out")
    args = ["similarity", str(subs), "-a", "optimizers", "-o", str(out), "-q"]
    assert main([*args, "--config", str(ROOT / "grading.yaml")]) == 0
    return out / "similarity.html"


def test_pairs_render_with_their_fragments_highlighted(page: Path) -> None:
    loaded = load(page)
    assert loaded.console == []
    dom = DomAudit(loaded.dom)
    assert "chart-pair-scores" in dom.ids and "pair-1" in dom.ids
    assert dom.classes.count("match") >= 20  # highlighted lines, on both sides
    assert "flag" in dom.classes and "similar, review by hand" in loaded.dom
    assert dom.title.startswith("optimizers: similar submissions")  # then the SVG titles
    assert "script" not in dom.tags and dom.handlers == []


def test_highlight_is_visible_on_screen(page: Path) -> None:
    from PIL import Image

    shot = screenshot(page, "similarity.png", 1280, 3600)
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        # One count per colour, without iterating over pixels in Python.
        counts = dict((colour, n) for n, colour in rgb.getcolors(rgb.width * rgb.height))
        marked = counts.get(HIGHLIGHT, 0)
    # Thousands of pixels of the highlight colour: the page's style sheet applies.
    assert marked > 5000
