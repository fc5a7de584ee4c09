"""HTML reports: student feedback pages, the class report and rebuilding them from records.

Pages are checked by parsing them with html.parser, never by trusting string matches
alone: the escaping tests look for real <script> elements and on* attributes.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from propgrade.config import LatePolicy
from propgrade.engine.checks import StudentCallFailed
from propgrade.engine.loading import load_checks
from propgrade.engine.results import FAILED, PASSED, CheckResult, Feedback, SubmissionResult
from propgrade.engine.standing import Standing, Written, standing_of
from propgrade.errors import PropgradeError
from propgrade.export import RECORD_NAME, write_record
from propgrade.intake.late import assess
from propgrade.reports import (
    FEEDBACK_NAME,
    INSTRUCTOR,
    REPORT_NAME,
    rebuild_reports,
    write_class_report,
    write_student_page,
)
from propgrade.reports import class_report as class_report_module
from propgrade.reports.counterexample import ArrayValue, TextLine, parse_counterexample
from propgrade.reports.hints import GENERIC_HINT, INTERNAL_ERROR_HINT, hint_for
from propgrade.reports.markup import element, escape
from propgrade.reports.paths import feedback_href
from propgrade.reports.stats import failure_groups, normalise_message, pass_rates
from propgrade.reports.visibility import RELEASED
from propgrade.sandbox.calls import FailureKind, StudentFailure

ROOT = Path(__file__).resolve().parent.parent

COUNTEREXAMPLE = (
    "N=2, D=1, C=2, reg=0.0\n"
    "W = [[ 0., -3.]]  # shape (1, 2)\n"
    "X = [[7.],\n"
    " [1.]]  # shape (2, 1)\n"
    "y = [0, 1]"
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "losses.py", line 62, in softmax_loss_vectorized\n'
    "    probs = exp_scores / exp_scores.sum()\n"
    "ZeroDivisionError: division by zero"
)
XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
# Folder names cannot hold "/", so a student id cannot close a <script>; it can open one.
HOSTILE_NAME = f"{IMG}\"'&<svg onload=alert(2)><script>alert(3)"


def check(
    id: str,
    *,
    passed: bool = True,
    visibility: str = "visible",
    points: float = 1.0,
    feedback: Feedback | None = None,
    hint: str = "",
) -> CheckResult:
    return CheckResult(
        id=id,
        sentence=f"the sentence of {id}.",
        points=points if passed else 0.0,
        max_points=points,
        status=PASSED if passed else FAILED,
        visibility=visibility,
        feedback=None if passed else feedback,
        examples=20,
        hint=hint or f"the declared hint of {id}.",
    )


def sample_result(student: str = "carol", *, seconds: float = 1.5) -> SubmissionResult:
    """A graded submission with failures of every visibility, as the engine produces them."""
    checks = [
        check("svm_vec_output_shapes"),
        check(
            "svm_vec_nonnegative",
            passed=False,
            feedback=Feedback(
                message="svm_loss_vectorized returned a negative loss",
                counterexample=COUNTEREXAMPLE,
                expected="a loss >= 0",
                got="-20",
                shrunk=True,
            ),
        ),
        check("svm_vec_numerical_gradient"),
        check(
            "softmax_vec_shift_invariance",
            passed=False,
            feedback=Feedback(
                message="softmax_loss_vectorized(...) raised an exception: ZeroDivisionError",
                counterexample="N=1, D=1, C=2, reg=0.0\nW = [[0., 0.]]  # shape (1, 2)\n"
                "X = [[1.]]  # shape (1, 1)\ny = [0]\nshift = 900.0 (added to every score)",
                traceback=TRACEBACK,
                shrunk=True,
            ),
        ),
        check(
            "svm_vec_reference_reg",
            passed=False,
            visibility="after_due_date",
            points=2.0,
            feedback=Feedback(message="SECRET-AFTER-DUE the loss differs", counterexample="N=9"),
        ),
        check(
            "softmax_vec_reference_noreg",
            passed=False,
            visibility="hidden",
            points=2.0,
            feedback=Feedback(message="SECRET-HIDDEN the loss differs", counterexample="N=8"),
        ),
        check("softmax_vec_reference_reg", visibility="after_published", points=2.0),
    ]
    return SubmissionResult(
        student=student,
        assignment="linear_classifiers",
        checks=checks,
        output="SECRET-OUTPUT printed W\n",
        seconds=seconds,
        meta={"sandbox": "full", "propgrade_version": "0.1.0"},
    )


def error_result(student: str, error: str) -> SubmissionResult:
    base = sample_result(student)
    checks = [
        CheckResult(c.id, c.sentence, 0.0, c.max_points, FAILED, c.visibility, Feedback(error))
        for c in base.checks
    ]
    return SubmissionResult(student, base.assignment, checks, error=error, meta=dict(base.meta))


class Audit(HTMLParser):
    """Everything in a page that could run code, plus its text and links."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.chunks: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "xlink:href", "action") and value is not None:
                self.urls.append(value)
                if tag == "a":
                    self.hrefs.append(value)
            if name == "id" and value is not None:
                self.ids.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(self.chunks)

    def assert_inert(self) -> None:
        assert "script" not in self.tags
        assert "iframe" not in self.tags and "object" not in self.tags
        assert self.handlers == []
        assert not [u for u in self.urls if u.strip().lower().startswith(("javascript:", "data:"))]


def audit(path: Path) -> Audit:
    return Audit(path.read_text(encoding="utf-8"))


# --- student page ---------------------------------------------------------------------


def test_student_page_shows_score_checks_and_failure_details(tmp_path: Path) -> None:
    path = write_student_page(tmp_path, sample_result())
    assert path == tmp_path / "carol" / FEEDBACK_NAME
    page = audit(path)
    page.assert_inert()
    text = page.text
    for check_id in ("svm_vec_output_shapes", "svm_vec_nonnegative", "svm_vec_numerical_gradient"):
        assert check_id in text.replace(" ", "")
    assert "svm_loss_vectorized returned a negative loss" in text
    assert "a loss >= 0" in text and "-20" in text
    assert "ZeroDivisionError: division by zero" in text  # the traceback
    assert "the declared hint of svm_vec_nonnegative." in text
    assert "the declared hint of softmax_vec_shift_invariance." not in text
    # An exception is hinted as an exception, whatever property the check tests.
    assert "Your function raised an exception" in text
    # The counterexample: arrays as tables (a 2 x 1 X), the full text kept alongside.
    assert "Smallest failing input" in text
    assert "shape (2, 1)" in text and "-3." in text
    assert COUNTEREXAMPLE.splitlines()[0] in text
    assert page.tags.count("table") >= 4


def test_student_audience_withholds_hidden_and_later_checks(tmp_path: Path) -> None:
    text = audit(write_student_page(tmp_path, sample_result())).text
    assert "SECRET-AFTER-DUE" not in text and "SECRET-HIDDEN" not in text
    assert "N=9" not in text and "N=8" not in text
    assert "SECRET-OUTPUT" not in text  # printed output could reveal hidden inputs
    assert text.count("available after the due date") == 2  # after_due_date, after_published
    assert "hidden" in text
    # The total would reveal how the withheld checks went: only visible points are shown.
    assert "2 / 4 points so far" in " ".join(text.split())
    assert "6 points" in text  # what is withheld, in total


def test_instructor_audience_sees_everything(tmp_path: Path) -> None:
    path = write_student_page(tmp_path, sample_result(), audience=INSTRUCTOR)
    text = audit(path).text
    assert "SECRET-AFTER-DUE" in text and "SECRET-HIDDEN" in text and "SECRET-OUTPUT" in text
    assert "available after the due date" not in text
    assert "4 / 10 points" in " ".join(text.split())


def test_released_audience_shows_after_due_checks_but_not_hidden_ones(tmp_path: Path) -> None:
    path = write_student_page(tmp_path, sample_result(), audience=RELEASED)
    text = audit(path).text
    assert "SECRET-AFTER-DUE" in text
    assert "SECRET-HIDDEN" not in text and "SECRET-OUTPUT" not in text


def test_unknown_audience_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PropgradeError, match="audience"):
        write_student_page(tmp_path, sample_result(), audience="public")


def test_submission_error_is_shown_prominently(tmp_path: Path) -> None:
    error = "importing losses.py failed: SyntaxError: expected ':' (losses.py, line 74)"
    html = write_student_page(tmp_path, error_result("frank", error)).read_text()
    page = Audit(html)
    assert 'role="alert"' in html
    assert "could not be graded" in page.text and error in page.text
    assert html.index("could not be graded") < html.index("All checks")
    # The same message is not repeated as a failure card per check.
    assert "What failed" not in page.text


def test_internal_grader_error_blames_the_grader_and_keeps_its_traceback_private(
    tmp_path: Path,
) -> None:
    result = error_result("grace", "internal grader error (not caused by your code)")
    result.meta["internal_error"] = "Traceback ... SECRET-GRADER-FRAME in graders/x.py"
    student = audit(write_student_page(tmp_path, result)).text
    assert "not caused by your code" in student and "Fix it" not in student
    assert "SECRET-GRADER-FRAME" not in student
    instructor = audit(write_student_page(tmp_path, result, audience=INSTRUCTOR)).text
    assert "SECRET-GRADER-FRAME" in instructor


def test_student_ids_that_are_not_folder_names_are_refused(tmp_path: Path) -> None:
    for bad in ("..", "", "a/b", XSS):
        with pytest.raises(PropgradeError):
            write_student_page(tmp_path, sample_result(bad))


# --- escaping ---------------------------------------------------------------------------


def hostile_result() -> SubmissionResult:
    """Everything a student controls, set to markup that would run if it were not escaped."""
    payload = f"{XSS} {IMG} \" ' & <b onmouseover=alert(2)>x</b>"
    result = sample_result(HOSTILE_NAME)
    bad = Feedback(
        message=f"svm_loss_vectorized(...) raised an exception: ValueError: {payload}",
        counterexample=f"N=1, D=1, C=2, reg=0.0\nW = {XSS}\nX = [[1.]]  # shape (1, 1)\n{IMG}",
        expected=payload,
        got=payload,
        traceback=f"Traceback (most recent call last):\n  ValueError: {payload}",
    )
    checks = [
        CheckResult(c.id, c.sentence, 0.0, c.max_points, FAILED, c.visibility, bad)
        for c in result.checks
    ]
    return SubmissionResult(
        result.student, result.assignment, checks, output=payload, meta=result.meta
    )


def test_student_controlled_text_cannot_inject_markup(tmp_path: Path) -> None:
    hostile = hostile_result()
    error = error_result(f"err{HOSTILE_NAME}", f"SyntaxError: {XSS}{IMG}")
    pages = [
        write_student_page(tmp_path, hostile),
        write_student_page(tmp_path, hostile, audience=INSTRUCTOR),
        write_student_page(tmp_path, error),
        write_class_report(tmp_path, [hostile, error, sample_result()]),
    ]
    for path in pages:
        page = audit(path)
        page.assert_inert()
        # The payloads are there, as text.
        assert XSS in page.text and IMG in page.text, path
    assert (tmp_path / hostile.student / FEEDBACK_NAME).is_file()
    assert HOSTILE_NAME in audit(pages[0]).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].read_text()


def test_links_to_student_pages_resolve_whatever_the_folder_name(tmp_path: Path) -> None:
    names = [HOSTILE_NAME, "a b#c?d%e", "back\\slash", "javascript:alert(1)", "ünï&'\"", "carol"]
    results = [sample_result(name) for name in names]
    for r in results:
        write_student_page(tmp_path, r)
    page = audit(write_class_report(tmp_path, results))
    page.assert_inert()
    targets = {h for h in page.hrefs if not h.startswith("#")}
    assert len(targets) == len(names)
    for href in targets:
        assert ":" not in href.split("/")[0]  # relative: never a scheme
        assert (tmp_path / unquote(href)).is_file(), href


def test_markup_builder_refuses_scripts_and_handlers() -> None:
    with pytest.raises(ValueError):
        element("script", "x")
    with pytest.raises(ValueError):
        element("a", "x", onclick="alert(1)")
    with pytest.raises(ValueError):
        element("a", "x", **{'href" onclick="x': "y"})
    assert element("p", XSS) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert element("a", "x", title='"><b>') == '<a title="&quot;&gt;&lt;b&gt;">x</a>'
    assert escape(escape("<")) == "&lt;"  # escaping is applied once, not twice


def test_feedback_href_is_relative_and_encoded() -> None:
    assert feedback_href("carol") == "carol/feedback.html"
    assert feedback_href("a#b?c") == "a%23b%3Fc/feedback.html"
    assert feedback_href("javascript:x").startswith("javascript%3Ax/")


# --- hints and counterexamples ------------------------------------------------------------


def _failed(check_id: str, message: str = "wrong", hint: str = "") -> CheckResult:
    return check(check_id, passed=False, feedback=Feedback(message=message), hint=hint)


def test_a_failure_shows_its_declared_hint_or_the_generic_one() -> None:
    assert hint_for(_failed("svm_vec_nonnegative", hint="H.")) == "H."
    # Not chosen by the id: reports/ knows no assignment.
    assert hint_for(_failed("matrix_output_shapes")) == "the declared hint of matrix_output_shapes."
    no_hint = dataclasses.replace(_failed("matrix_inverse_is_symmetric"), hint="")
    assert hint_for(no_hint) == GENERIC_HINT
    # A call that produced no value is hinted by the kind of failure, whatever the check.
    timeout = "svm_loss_naive(...) ran past its time limit: did not return within 2 s"
    assert "did not return in time" in str(hint_for(_failed("svm_naive_nonnegative", timeout)))
    changed = StudentCallFailed(
        "svm_loss_vectorized", StudentFailure(FailureKind.INCONSISTENT, "item 0 differs")
    )
    assert "no checks for tracers" in str(hint_for(_failed("svm_vec_loop", str(changed))))
    # No hint where it would point at a mistake nobody made.
    assert hint_for(check("passed_check")) is None
    blocked = check("b", passed=False, feedback=Feedback(message="x", blocked_by="a"))
    assert hint_for(blocked) is None
    assert hint_for(_failed("c"), graded=False) is None
    broken = check("g", passed=False, feedback=Feedback(message="x", internal_error=True))
    assert hint_for(broken) == INTERNAL_ERROR_HINT


def test_linear_classifiers_hints_are_declared_with_its_checks() -> None:
    hints = {c.id: c.hint for c in load_checks(ROOT / "graders" / "linear_classifiers")}
    assert all(hints.values()), [cid for cid, h in hints.items() if not h]
    # hints reach results.json too: none may quote a line of the reference solution
    solution = (ROOT / "solutions/linear_classifiers/losses.py").read_text()
    regions = [r.split("### END SOLUTION")[0] for r in solution.split("### BEGIN SOLUTION")[1:]]
    body = [line.strip() for region in regions for line in region.splitlines()]
    assert not [line for line in body if len(line) > 12 and any(line in h for h in hints.values())]
    # the usual ways of looping without writing a loop are named
    assert "np.vectorize" in hints["svm_vec_no_per_sample_loop"]
    assert "np.apply_along_axis" in hints["softmax_vec_no_per_sample_loop"]
    # the numerical gradient is the student's own too: either side may be wrong
    assert "either one can be the wrong one" in hints["svm_naive_numerical_gradient"]
    # check_each fills in each function's name
    assert "softmax_loss_naive" in hints["softmax_naive_implemented"]


def test_counterexample_arrays_are_parsed_and_the_rest_kept_as_text() -> None:
    parts = parse_counterexample(
        COUNTEREXAMPLE + "\nshift = 900.0 (added to every score)\nZ = [nan, -inf, 1e-05]"
    )
    assert parts[0] == TextLine("N=2, D=1, C=2, reg=0.0")
    assert parts[1] == ArrayValue("W", [["0.", "-3."]], 2)
    assert parts[2] == ArrayValue("X", [["7."], ["1."]], 2)
    assert parts[3] == ArrayValue("y", [["0", "1"]], 1)
    assert parts[4] == TextLine("shift = 900.0 (added to every score)")
    assert parts[5] == ArrayValue("Z", [["nan", "-inf", "1e-05"]], 1)
    for odd in (
        "W = array of shape (10, 10), dtype float64 [min 1, max 2]",  # summarised
        "W = [[1., 2.], [3.]]",  # ragged
        "W = [[[1.]]]",  # 3-D
        "W = [[1., 2.]] trailing",
        "W = [1., 2.",
        "Case(W=..., X=...)",  # another assignment's repr
    ):
        assert parse_counterexample(odd) == [TextLine(odd)], odd


# --- class report ---------------------------------------------------------------------------


def class_of(n: int) -> list[SubmissionResult]:
    results = []
    for i in range(n):
        r = sample_result(f"s{i:03d}", seconds=0.5 + i % 7)
        if i % 3 == 0:  # a third pass the nonnegative check
            r.checks[1] = check("svm_vec_nonnegative")
        results.append(r)
    results.append(error_result("zed", "no losses.py found in the submission (found: notes.txt)"))
    return results


def test_class_report_has_plots_rates_failures_heat_map_and_links(tmp_path: Path) -> None:
    results = class_of(12)
    for r in results:
        write_student_page(tmp_path, r)
    path = write_class_report(tmp_path, results, sandbox="full: bubblewrap namespaces ...")
    assert path == tmp_path / REPORT_NAME
    html = path.read_text()
    page = Audit(html)
    page.assert_inert()
    for chart in ("chart-scores", "chart-pass-rates", "chart-times"):
        assert chart in page.ids
    assert page.tags.count("svg") == 3
    assert len(page.ids) == len(set(page.ids))  # the three figures' ids do not collide
    assert 'class="heat"' in html and html.count('<td class="f">') > 0
    # Weakest first: the bars are listed in that order in the SVG.
    order = [html.index(f">{cid}<") for cid in ("svm_vec_nonnegative", "svm_vec_output_shapes")]
    assert order[0] < order[1]
    assert "8 × " in page.text  # 8 of 12 graded students fail the nonnegative check
    assert "no losses.py found" in page.text
    assert "full: bubblewrap namespaces" in page.text
    links = {unquote(h) for h in page.hrefs if not h.startswith("#")}
    assert links == {f"{r.student}/{FEEDBACK_NAME}" for r in results}
    assert all((tmp_path / link).is_file() for link in links)


def test_class_report_degrades_past_the_heat_map_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(class_report_module, "HEATMAP_MAX_STUDENTS", 5)
    html = write_class_report(tmp_path, class_of(8)).read_text()
    assert 'class="heat"' not in html and "Left out for 9 submissions" in html
    assert html.count("/feedback.html") >= 9  # every student is still linked


def test_class_report_warns_about_the_reduced_layer(tmp_path: Path) -> None:
    results = class_of(3)
    results[0].meta["sandbox"] = "reduced"
    text = audit(write_class_report(tmp_path, results)).text
    assert "reduced" in text and "does not stop" in text


def test_class_report_is_deterministic(tmp_path: Path) -> None:
    results = class_of(6)
    first = write_class_report(tmp_path, results).read_bytes()
    assert write_class_report(tmp_path, results).read_bytes() == first


def test_failures_group_by_check_and_message_up_to_numbers() -> None:
    assert normalise_message("error 2.5e-3, allowed 1e-09 in float32") == (
        "error #, allowed # in float32"
    )
    results = class_of(6)  # s001, s002, s004, s005 fail svm_vec_nonnegative
    bigger = Feedback("svm_loss_vectorized returned a negative loss", "N=3\n" + "x" * 200)
    results[1].checks[1] = check("svm_vec_nonnegative", passed=False, feedback=bigger)
    for i, error in ((0, "2"), (3, "0.5")):
        message = f"the loss at 1·W is wrong (absolute error {error}, allowed 1e-09)"
        results[i].checks[0] = check(
            "svm_vec_output_shapes", passed=False, feedback=Feedback(message, f"N={i}")
        )
    groups = {g.check_id: g for g in failure_groups(results)}
    nonnegative = groups["svm_vec_nonnegative"]
    assert nonnegative.students == ["s001", "s002", "s004", "s005"]
    assert nonnegative.counterexample == COUNTEREXAMPLE  # the smallest one, not s001's
    assert nonnegative.example_student == "s002"
    assert groups["svm_vec_output_shapes"].students == ["s000", "s003"]
    assert "(not graded)" in groups
    sizes = [len(g.students) for g in failure_groups(results)]
    assert sizes == sorted(sizes, reverse=True)


def test_a_stub_takes_one_line_per_exception_not_one_per_check() -> None:
    """The stub's NotImplementedError fails every check of a function, and the checks that
    require it are blocked: the report counts each exception once and the blocked ones not
    at all, so the shared bug of two real students still leads."""
    results = class_of(3)
    raised = Feedback("svm_loss_vectorized(...) raised NotImplementedError", traceback="tb")
    blocked = Feedback("Not counted yet: needs svm_vec_output_shapes", blocked_by="x")
    results[2].checks[:] = [
        check("svm_vec_output_shapes", passed=False, feedback=raised),
        check("svm_vec_nonnegative", passed=False, feedback=raised),
        check("svm_vec_zero_weights", passed=False, feedback=blocked),
        check("svm_vec_matches_naive", passed=False, feedback=blocked),
    ]
    shared = Feedback("the loss is wrong (absolute error 2, allowed 1e-09)", "N=1")
    for r in results[:2]:
        r.checks[0] = check("svm_vec_output_shapes", passed=False, feedback=shared)
    groups = failure_groups(results)
    stub = [g for g in groups if "s002" in g.students]
    assert [(g.check_id, len(g.students)) for g in stub] == [("svm_vec_output_shapes", 1)]
    assert groups[0].students == ["s000", "s001"]


def test_pass_rates_leave_out_ungraded_submissions() -> None:
    ranked = pass_rates(class_of(6))
    rates = {r.id: r for r in ranked}
    assert rates["svm_vec_nonnegative"].graded == 6
    assert rates["svm_vec_nonnegative"].passed == 2
    assert ranked[0].id == "softmax_vec_reference_noreg"  # 0 %: weakest first
    assert [r.rate for r in ranked] == sorted(r.rate for r in ranked)


# --- rebuilding -----------------------------------------------------------------------------


def test_rebuild_reports_from_records(tmp_path: Path) -> None:
    results = class_of(4)
    for r in results:
        write_record(tmp_path, r)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / RECORD_NAME).write_text("{not json")
    paths = rebuild_reports(tmp_path)
    assert paths.report == tmp_path / REPORT_NAME and paths.report.is_file()
    assert set(paths.students) == {r.student for r in results}
    assert all(p.is_file() for p in paths.students.values())
    assert paths.unreadable == [tmp_path / "broken" / RECORD_NAME]


def test_rebuild_reports_without_records_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PropgradeError) as caught:
        rebuild_reports(tmp_path)
    assert "no grading records" in caught.value.message
    assert caught.value.hint is not None and "propgrade grade" in caught.value.hint
    with pytest.raises(PropgradeError):
        rebuild_reports(tmp_path / "missing")


def test_importing_propgrade_loads_no_plotting_library() -> None:
    # The charts are propgrade's own SVG (test_charts.py): a plotting library would cost
    # every grading run ~0.7 s and 40 MiB.
    code = (
        "import sys, propgrade.cli, propgrade.reports\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.sandbox  # grades the fixture corpus
def test_reports_from_really_graded_submissions(root: Path, tmp_path: Path) -> None:
    """End to end: grade three fixtures, store the records, rebuild every page."""
    from propgrade.config import load_course
    from propgrade.engine.grading import grade_submission, prepare

    plan = prepare(load_course(root / "grading.yaml").assignment("linear_classifiers"))
    corpus = root / "tests" / "submissions" / "linear_classifiers"
    for name in ("correct_reference", "bug_svm_no_max", "stub"):
        write_record(tmp_path, grade_submission(plan, name, corpus / name))
    paths = rebuild_reports(tmp_path)
    bug = audit(paths.students["bug_svm_no_max"])
    bug.assert_inert()
    assert "Smallest failing input" in bug.text and "Hint:" in bug.text
    stub = audit(paths.students["stub"]).text
    assert "NotImplementedError" in stub
    report = audit(paths.report)
    assert {"chart-scores", "chart-pass-rates", "chart-times"} <= set(report.ids)


# --- one set of numbers ----------------------------------------------------------------


def _late_standing(result: SubmissionResult) -> Standing:
    """Two days late at 10% a day, with 3 of 4 written answer points (the nbgrader route)."""
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    lateness = assess(due + timedelta(days=1, hours=2), due, LatePolicy(per_day=0.1, max_days=5))
    return standing_of(result, lateness, Written(score=3.0, max_score=4.0))


def test_final_score_is_the_big_number_with_raw_score_and_penalty_beside_it(
    tmp_path: Path,
) -> None:
    result = sample_result()  # 4 / 10 from the checks
    standing = _late_standing(result)  # raw 7, penalty 1.4, final 5.6, max 14
    page = write_student_page(tmp_path, result, audience=INSTRUCTOR, standing=standing)
    html = page.read_text(encoding="utf-8")
    big = re.search(r'<p class="score">(.*?)</p>', html)
    assert big is not None and big.group(1).startswith("5.6<small> / 14 points")
    text = " ".join(audit(page).text.split())
    assert "Raw score 7 (checks 4 + written answers 3 / 4)" in text
    assert "Late penalty: −1.4 (2 days late: 20% off)" in text


def test_written_answers_awaiting_a_grader_and_an_on_time_submission_say_so(
    tmp_path: Path,
) -> None:
    result = sample_result()  # 4 / 10 from the checks
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    lateness = assess(due - timedelta(hours=1), due, LatePolicy(per_day=0.1, max_days=5))
    standing = standing_of(result, lateness, Written(score=0.0, max_score=4.0, ungraded=4))
    page = write_student_page(tmp_path, result, audience=INSTRUCTOR, standing=standing)
    text = " ".join(audit(page).text.split())
    assert (
        "Raw score 4 (checks 4 + written answers 0 / 4 so far: 4 written answers await hand "
        "grading). Submitted on time: no late penalty." in text
    )
    assert "−0" not in text and "on time)" not in text


def test_class_report_lists_the_students_before_the_grading_time(tmp_path: Path) -> None:
    report = write_class_report(tmp_path, [sample_result("carol"), sample_result("dave")])
    html = report.read_text(encoding="utf-8")
    assert html.index("<h2>Students (2)</h2>") < html.index("<h2>Grading time</h2>")


def test_class_report_shows_the_final_scores_of_grades_csv(tmp_path: Path) -> None:
    result = sample_result()
    standing = _late_standing(result)
    text = " ".join(
        audit(write_class_report(tmp_path, [result], standings={"carol": standing})).text.split()
    )
    assert "5.6 / 14" in text and "7 − 1.4" in text
    assert "4 / 10" not in text  # the raw check score is never shown as the score


def test_full_marks_count_the_final_score_after_the_late_penalty(tmp_path: Path) -> None:
    full = SubmissionResult("dora", "linear_classifiers", [check("svm_vec_output_shapes")])
    on_time, late = full, SubmissionResult("eve", "linear_classifiers", list(full.checks))
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    lateness = assess(due + timedelta(days=1, hours=2), due, LatePolicy(per_day=0.1, max_days=5))
    standings = {"eve": standing_of(late, lateness)}  # full check score, 20% off: not full marks
    text = " ".join(
        audit(write_class_report(tmp_path, [on_time, late], standings=standings)).text.split()
    )
    assert "1 full marks" in text


def test_checks_failing_in_exactly_the_same_students_are_one_row() -> None:
    """One student's single bug fails several checks: one row, naming the other checks."""
    results = class_of(3)
    wrong = Feedback("the loss is wrong (relative error 0.5, allowed 1e-09)", "N=1")
    results[2].checks[:] = [
        check(cid, passed=False, feedback=wrong)
        for cid in ("svm_vec_reference_noreg", "svm_vec_reference_reg", "svm_vec_zero_weights")
    ]
    groups = failure_groups(results)
    mine = [g for g in groups if "s002" in g.students]
    assert [(g.check_id, g.also) for g in mine] == [
        ("svm_vec_reference_noreg", ["svm_vec_reference_reg", "svm_vec_zero_weights"])
    ]
    # failures shared by different students stay apart
    assert len({g.check_id for g in groups}) == len(groups)
