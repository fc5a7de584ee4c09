"""No reference values before the due date: a visible check against the hidden reference
never shows the reference's output to a student, who chooses which inputs fail and could
otherwise read the reference off its failures. After the due date it may."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from propgrade.config import load_course
from propgrade.engine.grading import prepare
from propgrade.engine.results import WITHHELD_EXPECTED, SubmissionResult
from propgrade.export import gradescope_results
from propgrade.intake.submission import grade_upload
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import INSTRUCTOR, RELEASED, STUDENT

ROOT = Path(__file__).resolve().parent.parent
SUBMISSION = ROOT / "tests" / "submissions" / "linear_classifiers" / "bug_softmax_loss_no_mean"
VISIBLE = "softmax_naive_reference_noreg"  # visibility: visible
LATER = "softmax_naive_reference_reg"  # visibility: after_due_date


def card(page: str, sentence: str) -> str:
    """The failure card of the check with ``sentence`` on a feedback page."""
    cards = re.findall(r'<section class="failure".*?</section>', page, re.S)
    [found] = [c for c in cards if sentence in c]
    return found


@pytest.fixture(scope="module")
def result() -> SubmissionResult:
    assignment = load_course(ROOT / "grading.yaml").assignment("linear_classifiers")
    return grade_upload(prepare(assignment), "sam", SUBMISSION)


def test_a_visible_reference_check_withholds_the_reference_output(result: SubmissionResult) -> None:
    checks = {c.id: c for c in result.checks}
    visible, later = checks[VISIBLE], checks[LATER]
    assert visible.visibility == "visible" and not visible.passed
    assert visible.feedback is not None and later.feedback is not None
    # The reference's loss, as the check measured it, kept for the instructor only.
    found = re.search(r"Expected: (\S+)", visible.feedback.reference)
    assert found is not None, visible.feedback.reference
    value = found.group(1)
    assert "relative error" in visible.feedback.reference
    assert visible.feedback.expected == WITHHELD_EXPECTED
    assert "relative error" not in visible.feedback.message  # with "Got:" it gives it away
    assert visible.feedback.got  # the student's own value is still shown
    # Not in what Gradescope shows at once, nor on the page a student gets before the due date.
    [shown] = [
        t["output"] for t in gradescope_results(result)["tests"] if t["name"].startswith(VISIBLE)
    ]
    assert value not in shown and WITHHELD_EXPECTED in shown
    assert value not in card(render_student_page(result, audience=STUDENT), visible.sentence)
    # After the due date (and to the instructor) the page may show it.
    for audience in (RELEASED, INSTRUCTOR):
        assert value in card(render_student_page(result, audience=audience), visible.sentence)
    # A check shown only after the due date keeps its expected value where it is.
    assert later.feedback.expected and later.feedback.expected != WITHHELD_EXPECTED
    assert not later.feedback.reference
