"""The report pages as a browser renders them: headless Chromium, driven with the stdlib.

Pages come from really graded fixtures plus one hostile submission. Chromium loads them
from file:// URLs; ``--dump-dom`` gives the DOM after loading (so after any script that
managed to run), ``--enable-logging=stderr`` its console (a script error or a blocked
inline script shows up there), and ``--screenshot`` a picture kept as a test artifact
(``test-artifacts/`` in the repository, or $PROPGRADE_TEST_ARTIFACTS).

Skipped when no Chromium is installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import MISSING

from propgrade.config import load_course
from propgrade.engine.grading import grade_submission, prepare
from propgrade.engine.results import Feedback, SubmissionResult
from propgrade.export import write_record
from propgrade.reports import FEEDBACK_NAME, ReportPaths, rebuild_reports

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions" / "linear_classifiers"
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=f"{MISSING}Chromium (apt-get install chromium)"),
]

FIXTURES = ("correct_reference", "bug_svm_no_max", "bug_softmax_no_shift", "stub")
# If any of these ran, the page title would change or a <pwned-marker> element would exist.
SET_TITLE = "<img src=x onerror=\"document.title='PWNED'\">"
ADD_ELEMENT = "<script>document.body.appendChild(document.createElement('pwned-marker'))</script>"
SVG_ONLOAD = "<svg onload=\"document.title='PWNED'\">"
HOSTILE = f"{SET_TITLE}\"'&"  # a legal folder name: no "/"


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("PROPGRADE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclasses.dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]


def chromium(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="propgrade-chromium-") as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",  # root in a container: Chromium's own sandbox cannot start
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )


def load(page: Path) -> Loaded:
    done = chromium(page.as_uri(), "--dump-dom")
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Loaded(done.stdout, console)


def screenshot(page: Path, name: str, width: int, height: int) -> Path:
    target = artifacts_dir() / name
    target.unlink(missing_ok=True)
    chromium(
        page.as_uri(),
        f"--screenshot={target}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    )
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {target}")
    return target


class DomAudit(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_title = tag == "title"
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            elif name == "href" and tag == "a" and value:
                self.links.append(value)
            elif name == "id" and value:
                self.ids.add(value)
            elif name == "class" and value:
                self.classes.extend(value.split())

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def hostile_copy(result: SubmissionResult) -> SubmissionResult:
    """A real result, renamed and with every student-controlled text set to a payload."""
    payload = f"{SET_TITLE} {ADD_ELEMENT} {SVG_ONLOAD}"
    checks = [
        c
        if c.passed or c.feedback is None
        else dataclasses.replace(
            c,
            feedback=Feedback(
                message=f"{c.feedback.message} {payload}",
                counterexample=f"{c.feedback.counterexample}\n{payload}",
                expected=payload,
                got=payload,
                traceback=f"Traceback (most recent call last):\nValueError: {payload}",
                shrunk=c.feedback.shrunk,
            ),
        )
        for c in result.checks
    ]
    return dataclasses.replace(result, student=HOSTILE, checks=checks, output=payload)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    out = tmp_path_factory.mktemp("out")
    plan = prepare(load_course(ROOT / "grading.yaml").assignment("linear_classifiers"))
    graded = {name: grade_submission(plan, name, CORPUS / name) for name in FIXTURES}
    empty = tmp_path_factory.mktemp("no_file")
    (empty / "notes.txt").write_text("I could not finish\n")
    graded["no_file"] = grade_submission(plan, "no_file", empty)
    graded[HOSTILE] = hostile_copy(graded["bug_svm_no_max"])
    for result in graded.values():
        write_record(out, result)
    return rebuild_reports(out)


def test_class_report_renders_plots_bars_and_working_links(site: ReportPaths) -> None:
    loaded = load(site.report)
    assert loaded.console == []
    dom = DomAudit(loaded.dom)
    assert {"chart-scores", "chart-pass-rates", "chart-times"} <= dom.ids
    assert dom.tags.count("svg") == 3
    assert dom.tags.count("path") > 20  # matplotlib draws the bars and axes as paths
    assert "heat" in dom.classes and dom.classes.count("f") > 0
    students = [link for link in dom.links if not link.startswith("#")]
    assert len(set(students)) == len(site.students)
    for link in students:
        assert not urlsplit(link).scheme
        target = site.report.parent / unquote(link)
        assert target.is_file(), link
    assert dom.handlers == [] and "script" not in dom.tags
    assert dom.title != "PWNED" and "<pwned-marker" not in loaded.dom
    screenshot(site.report, "report.png", 1280, 3200)


def test_failed_check_shows_its_counterexample(site: ReportPaths) -> None:
    page = site.students["bug_svm_no_max"]
    loaded = load(page)
    assert loaded.console == []
    dom = DomAudit(loaded.dom)
    assert "failure" in dom.classes and "array" in dom.classes  # W, X, y as tables
    assert "Smallest failing input" in loaded.dom and "Hint:" in loaded.dom
    assert "hint" in dom.classes and "compare" in dom.classes
    screenshot(page, "feedback.png", 1280, 2400)
    screenshot(page, "feedback-phone.png", 375, 1800)


def test_stub_and_missing_file_pages_render(site: ReportPaths) -> None:
    stub = load(site.students["stub"])
    assert stub.console == [] and "NotImplementedError" in stub.dom
    missing = load(site.students["no_file"])
    assert missing.console == [] and 'role="alert"' in missing.dom
    assert "no losses.py found" in missing.dom


def test_injected_markup_never_runs(site: ReportPaths) -> None:
    page = site.students[HOSTILE]
    assert page == site.report.parent / HOSTILE / FEEDBACK_NAME
    for target in (page, site.report):
        loaded = load(target)
        # A blocked inline script or handler would be reported on the console by the CSP.
        assert loaded.console == [], target
        dom = DomAudit(loaded.dom)
        assert dom.title.startswith("linear_classifiers: ")  # as written, not 'PWNED'
        assert "<pwned-marker" not in loaded.dom
        assert "script" not in dom.tags and dom.handlers == []
        assert HOSTILE in dom.title or target == site.report
