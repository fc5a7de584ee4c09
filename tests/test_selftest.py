"""``propgrade selftest`` on a tiny course of its own: a strong, a weak and a lenient grader
for one function, so every run grades a dozen mutants in seconds."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyCourse

from propgrade.authoring.release import BEGIN, END
from propgrade.batch import Submission, grade_batch
from propgrade.cli import main
from propgrade.config import load_course
from propgrade.engine.grading import prepare
from propgrade.engine.loading import load_reference
from propgrade.errors import ConfigError
from propgrade.sandbox.calls import Call
from propgrade.selftest.baselines import generate_baselines, observed_returns
from propgrade.selftest.equivalence import equivalence_cases, equivalence_plan
from propgrade.selftest.recording import record_calls
from propgrade.selftest.results import EQUIVALENT, KILLED, SURVIVED
from propgrade.selftest.run import callers, run_selftest

pytestmark = pytest.mark.selftest

REFERENCE = '''import numpy as np


def relu2(a):
    """Twice the positive part of ``a``.

    Parameters
    ----------
    a : ndarray of shape (N,)
        Any numbers.

    Returns
    -------
    out : ndarray of shape (N,)
        ``2 * max(a, 0)``, element by element.
    """
    ### BEGIN SOLUTION
    out = np.where(a > 0, a, 0.0)
    return out * 2
    ### END SOLUTION
'''

STRATEGY = """
import numpy as np
from hypothesis import strategies as st

from propgrade import check

ARRAYS = st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=6).map(np.array)
"""

WORKS = """

@check("relu2_works", "relu2(a) is 2 * max(a, 0).", ARRAYS)
def relu2_works(a, student):
    out = np.asarray(student.call("relu2", a), dtype=float)
    assert out.shape == a.shape and np.allclose(out, 2 * np.maximum(a, 0)), "wrong values"
"""

NONNEGATIVE = """

@check("relu2_nonnegative", "relu2(a) is never negative.", ARRAYS)
def relu2_nonnegative(a, student):
    out = np.asarray(student.call("relu2", a), dtype=float)
    assert np.all(out >= 0), "a negative value"
"""

RUNS = """

@check("relu2_runs", "relu2(a) returns (a check that even a pass body satisfies).", ARRAYS)
def relu2_runs(a, student):
    student.call("relu2", a)
"""

CONFIG = """
assignments:
  strong:
    solution: solution
    graders: strong
    graded_file: answer.py
    functions: [relu2]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      relu2_works: {points: 1}
      relu2_nonnegative: {points: 1, requires: relu2_works}
    selftest: {mutation_threshold: 1.0, equivalence_inputs: 20}
  weak:
    solution: solution
    graders: weak
    graded_file: answer.py
    functions: [relu2]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      relu2_nonnegative: {points: 1}
    selftest: {mutation_threshold: 0.95, equivalence_inputs: 20}
  misjudged:
    solution: solution
    graders: misjudged
    graded_file: answer.py
    functions: [relu2]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      relu2_works: {points: 1}
  lenient:
    solution: solution
    graders: lenient
    graded_file: answer.py
    functions: [relu2]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      relu2_runs: {points: 1}
      relu2_works: {points: 3}
    selftest:
      mutation_threshold: 0.5
      accepted:
        m-0000000000: a stale id, reported as such
  twin:
    solution: solution
    graders: twin
    graded_file: answer.py
    functions: [relu2]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      relu2_works: {points: 1}
      relu2_again: {points: 1}
      relu2_nonnegative: {points: 1, requires: relu2_works}
    selftest: {mutation_threshold: 0.5, equivalence_inputs: 20}
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    graders = {
        "strong": STRATEGY + WORKS + NONNEGATIVE,
        "weak": STRATEGY + NONNEGATIVE,
        "lenient": STRATEGY + RUNS + WORKS,
        "misjudged": STRATEGY + WORKS.replace("2 * np.maximum", "3 * np.maximum"),
        "twin": STRATEGY + WORKS + WORKS.replace("relu2_works", "relu2_again") + NONNEGATIVE,
    }
    files = {"grading.yaml": CONFIG, "solution/answer.py": REFERENCE}
    files |= {f"{name}/test_hidden.py": text for name, text in graders.items()}
    return tiny_course(tmp_path_factory.mktemp("relu"), files)


def _run(course: Path, name: str, tmp_path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "selftest",
            name,
            "--config",
            str(course / "grading.yaml"),
            "--out",
            str(tmp_path),
            "-j",
            "2",
        ],
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_strong_checks_kill_every_non_equivalent_mutant(course: Path, tmp_path: Path) -> None:
    code, out, err = _run(course, "strong", tmp_path)
    assert code == 0, out + err
    assert "reference: 2/2" in out
    assert "= 100.0% (threshold 100%)" in out
    # `a >= 0` gives 0 where `a > 0` does: the same function, not a survivor
    assert "probably equivalent" in out
    page = (tmp_path / "selftest.html").read_text()
    assert "Surviving mutants (0)" in page
    assert "`out = np.where(a &gt; 0, a, 0.0)` -&gt; `out = np.where(a &gt;= 0, a, 0.0)`" in page


def test_a_weak_grader_lets_a_mutant_survive_and_fails(course: Path, tmp_path: Path) -> None:
    code, out, err = _run(course, "weak", tmp_path)
    assert code == 1
    assert "survivor" in out and "`return out * 2` -> `return out * 3`" in out
    assert "passed all 1 checks: relu2_nonnegative" in out
    assert "error: mutation score" in err and "below the threshold 95%" in err
    page = (tmp_path / "selftest.html").read_text()
    assert "Selftest failed" in page
    assert "Passed 1 checks: " in page and "nonnegative" in page


def test_a_grader_that_pays_a_pass_body_fails_naming_the_baseline(
    course: Path, tmp_path: Path
) -> None:
    code, _out, err = _run(course, "lenient", tmp_path)
    assert code == 1
    assert "error: baseline 'pass' (every function body is `pass`) scores 1/4 = 25%" in err
    assert "baseline 'stub'" not in err  # NotImplementedError fails relu2_runs too
    assert "baseline 'zeros'" in err  # `return np.zeros_like(a)`, from the docstring
    assert "m-0000000000, which is not a mutant of the reference" in err


def test_equivalence_is_decided_in_the_sandbox_on_random_inputs(
    course: Path, tmp_path: Path
) -> None:
    assignment = load_course(course / "grading.yaml").assignment("strong")
    plan = prepare(assignment)
    module = load_reference(course / "solution" / "answer.py")
    calls = record_calls(plan, module)
    cases = equivalence_cases(calls, ["relu2"], module, per_function=30, seed=1)
    assert len(cases) == 30
    variants = {
        "plus": REFERENCE.replace("out * 2", "out + out"),  # a * 2 -> a + a: equivalent
        "times3": REFERENCE.replace("out * 2", "out * 3"),
        "writes_input": REFERENCE.replace("return out * 2", "a *= 1.5\n    return out * 2"),
    }
    subs = []
    for name, text in variants.items():
        (tmp_path / "in" / name).mkdir(parents=True)
        (tmp_path / "in" / name / "answer.py").write_text(text)
        subs.append(Submission(name, tmp_path / "in" / name))
    batch = grade_batch(equivalence_plan(plan, cases), subs, tmp_path / "out", resume=False)
    verdicts = {r.student: r.checks[0] for r in batch.results}
    assert verdicts["plus"].passed
    assert not verdicts["times3"].passed
    assert verdicts["times3"].feedback is not None
    assert "returns another value" in verdicts["times3"].feedback.message
    assert verdicts["writes_input"].feedback is not None
    assert "changes its arguments" in verdicts["writes_input"].feedback.message


def test_ids_and_results_are_the_same_on_every_run(course: Path) -> None:
    assignment = load_course(course / "grading.yaml").assignment("weak")
    runs = [run_selftest(assignment, jobs=2) for _ in range(2)]
    seen = [[(m.mutant.id, m.status, m.killed_by, m.note) for m in r.mutants] for r in runs]
    assert seen[0] == seen[1]
    statuses = {status for _, status, _, _ in seen[0]}
    assert statuses == {KILLED, SURVIVED, EQUIVALENT}
    assert [b.score for b in runs[0].baselines] == [b.score for b in runs[1].baselines]


def test_a_mutant_is_graded_by_every_check_that_can_see_it() -> None:
    source = (
        "def f(a):\n    return a\n\n\ndef g(a):\n    return f(a)\n\n\ndef h(a):\n    return a\n"
    )
    assert callers(source, ["f", "g", "h"]) == {"f": {"f", "g"}, "g": {"g"}, "h": {"h"}}


def test_the_summary_tells_checks_that_kill_nothing_from_those_that_kill_nothing_unique(
    course: Path, tmp_path: Path
) -> None:
    code, out, err = _run(course, "twin", tmp_path)
    assert code == 0, out + err
    # relu2_again repeats relu2_works: each kills every mutant, neither one alone.
    killed = re.search(r"relu2_works (\d+) \(0\), relu2_again \1 \(0\)", out)
    assert killed is not None and int(killed.group(1)) > 0, out
    # relu2_nonnegative is blocked (it requires relu2_works) wherever it would fail.
    assert "relu2_nonnegative 0 (0)" in out
    assert "checks that kill nothing (candidates to drop" in out
    assert "mutant makes): relu2_nonnegative\n" in out
    assert "checks that kill nothing unique: relu2_works, relu2_again\n" in out
    page = (tmp_path / "selftest.html").read_text()
    assert page.count("kills nothing unique") == 2
    assert page.count("kills nothing: a candidate to drop") == 1


def test_a_reference_that_loses_points_fails(course: Path, tmp_path: Path) -> None:
    code, _out, err = _run(course, "misjudged", tmp_path)
    assert code == 1
    assert "error: the reference scores 0/1 (failed: relu2_works)" in err


def test_a_misspelt_selftest_key_names_the_nearest_one(tmp_path: Path) -> None:
    (tmp_path / "grading.yaml").write_text(
        CONFIG.replace("mutation_threshold: 0.95", "mutation_treshold: 0.95")
    )
    with pytest.raises(
        ConfigError, match=r"weak\.selftest\.mutation_treshold: unknown key"
    ) as info:
        load_course(tmp_path / "grading.yaml")
    assert info.value.hint == "did you mean 'mutation_threshold'?"


OUTER = f'''import numpy as np


def outer(a, b):
    """Products of every pair.

    Parameters
    ----------
    a : ndarray of shape (N,)
    b : ndarray of shape (M,)

    Returns
    -------
    ndarray of shape (N, M)
    float
    """
    {BEGIN}
    return np.multiply.outer(a, b), float(a.sum())
    {END}
'''


def test_the_zeros_baseline_takes_shapes_from_the_references_returns(tmp_path: Path) -> None:
    # The docstring's (N, M) is the shape of no argument: the reference's own returns on
    # the checks' calls tie N to a's length and M to b's.
    path = tmp_path / "outer.py"
    path.write_text(OUTER)
    module = load_reference(path)
    calls = [Call.of("outer", (np.ones(n), np.ones(m))) for n, m in [(2, 3), (4, 1), (3, 3)]]
    observed = observed_returns(module, calls, ["outer"])
    assert observed == {"outer": "np.zeros((a.shape[0], b.shape[0])), 0.0"}
    zeros = generate_baselines(OUTER, path, {}, observed)[2]
    assert "zeros of the right shapes" in zeros.description
    assert "[the reference's returns]" in zeros.description
    assert "return np.zeros((a.shape[0], b.shape[0])), 0.0" in zeros.source
    # grading.yaml wins over both, and says so.
    zeros = generate_baselines(OUTER, path, {"outer": "np.ones(1), 0.0"}, observed)[2]
    assert "outer: np.ones(1), 0.0 [selftest.zero_returns]" in zeros.description


def test_the_zeros_baseline_never_claims_shapes_it_guessed(tmp_path: Path) -> None:
    path = tmp_path / "outer.py"
    path.write_text(OUTER)
    zeros = generate_baselines(OUTER, path, {}, {})[2]
    assert "zeros of the right shapes" not in zeros.description
    assert "outer: 0.0, 0.0 [guessed: no declared shape]" in zeros.description


def test_a_full_marks_fixture_still_checks_what_its_advisory_says() -> None:
    # A 0-point advisory fails at full marks: its message and hint are still the fixture's
    # to check (knn's correct_no_clip), not skipped because the score is full.
    from propgrade.engine.results import CheckResult, Feedback, SubmissionResult
    from propgrade.selftest.fixtures import expectation_problems

    advice = Feedback(message="the distance to itself is nan", counterexample="X = [[0.5]]")
    result = SubmissionResult(
        "s",
        "a",
        [
            CheckResult("graded", "a graded check", 1, 1, "passed", "visible"),
            CheckResult("advice", "advice only", 0, 0, "failed", "visible", advice, hint="clip"),
        ],
    )
    base = {"full_marks": True, "must_fail": ["advice"], "hint_contains": {"advice": "clip"}}
    assert expectation_problems(base, result, ["graded", "advice"]) == []
    wrong = base | {"message_contains": {"advice": "is infinite"}}
    assert expectation_problems(wrong, result, ["graded", "advice"]) == [
        "advice's message should contain 'is infinite'"
    ]
    assert expectation_problems(base | {"must_fail": ["graded"]}, result, ["graded", "advice"]) == [
        "graded should fail, but passed"
    ]
