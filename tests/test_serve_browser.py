"""A student in a real browser: sign in, upload, wait, read the score.

Headless Chromium from the system packages, driven by Selenium through the system's
chromedriver (Debian: apt-get install chromium chromium-driver), against a real
``propgrade serve``. The status page refreshes itself (no script: the pages allow none),
so the test only waits for the score to appear.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MISSING, needs_full
from serve_helpers import DEADLINE, RIGHT, WRONG, Server, issue_tokens, running, write_course

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.sandbox,
    needs_full,
    pytest.mark.skipif(
        CHROMEDRIVER is None or CHROMIUM is None,
        reason=f"{MISSING}Chromium and chromedriver (apt-get install chromium chromium-driver)",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver")
By = pytest.importorskip("selenium.webdriver.common.by").By


@pytest.fixture
def driver() -> Iterator[object]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="propgrade-chromium-") as profile:
        options = Options()
        assert CHROMIUM is not None
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",  # root in a container: Chromium's own sandbox cannot start
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def wait_for_element(browser: object, element_id: str, by: str = By.ID) -> object:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = browser.find_elements(by, element_id)  # type: ignore[attr-defined]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"{element_id} never appeared: {browser.page_source}")  # type: ignore[attr-defined]


def upload(browser: object, server: Server, path: Path) -> str:
    browser.get(server.url + "/")  # type: ignore[attr-defined]
    browser.find_element(By.NAME, "file").send_keys(str(path))  # type: ignore[attr-defined]
    browser.find_element(By.CSS_SELECTOR, "form.box button").click()  # type: ignore[attr-defined]
    return str(wait_for_element(browser, "score").text)  # type: ignore[attr-defined]


def test_a_student_uploads_in_a_browser_and_reads_the_score(driver: object, tmp_path: Path) -> None:
    course = write_course(tmp_path / "course")
    tokens = issue_tokens(course, course / "out")
    with running(Server(course, course / "out", jobs=1)) as server:
        driver.get(server.url + "/")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "token").send_keys(tokens["alice"])  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "form.box button").click()  # type: ignore[attr-defined]
        wait_for_element(driver, "file", By.NAME)
        assert "Submit, alice" in driver.page_source  # type: ignore[attr-defined]
        (tmp_path / "double.py").write_text(WRONG)
        assert upload(driver, server, tmp_path / "double.py") == "0 / 1 points so far"
        (tmp_path / "double.py").write_text(RIGHT)
        assert upload(driver, server, tmp_path / "double.py") == "1 / 1 points so far"
        driver.find_element(By.ID, "feedback").click()  # type: ignore[attr-defined]
        assert "Feedback for alice" in driver.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
        # The history lists both attempts.
        driver.get(server.url + "/")  # type: ignore[attr-defined]
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) == 2  # type: ignore[attr-defined]
