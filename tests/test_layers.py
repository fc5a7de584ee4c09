"""One grade whichever route: the full layer, the reduced layer and ``propgrade check``
grade the same submission alike, including what it imports."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import needs_full

from propgrade.cli import main
from propgrade.config import load_course
from propgrade.engine.grading import prepare
from propgrade.intake.submission import grade_upload
from propgrade.sandbox import bwrap_layer, layer_choice, layers, process_layer, view

pytestmark = pytest.mark.sandbox

ASSIGNMENT = "linear_classifiers"
REFUSED = "import of 'yaml' refused: student code may import only matplotlib, numpy and the "


def _with_lines(reference: str, *, top: str = "", in_svm_naive: str = "") -> str:
    """The reference with ``top`` after its numpy import and ``in_svm_naive`` as the first
    statement after svm_loss_naive's docstring."""
    source = reference.replace("\nimport numpy as np\n", f"\nimport numpy as np\n{top}\n", 1)
    if in_svm_naive:
        head, sep, rest = source.partition("def svm_loss_naive(")
        rest = rest.replace(
            "    ### BEGIN SOLUTION\n", f"    {in_svm_naive}\n    ### BEGIN SOLUTION\n", 1
        )
        source = head + sep + rest
    return source


@pytest.fixture(scope="module")
def course(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's course with matplotlib allowed, released into ``release/``."""
    folder = tmp_path_factory.mktemp("course")
    data = yaml.safe_load((root / "grading.yaml").read_text())
    spec = data["assignments"][ASSIGNMENT]
    for key in ("solution", "graders"):
        spec[key] = str(root / spec[key])
    spec["release"] = str(folder / "release")
    spec["imports"] = ["numpy", "matplotlib"]
    (folder / "grading.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    out = io.StringIO()
    assert main(["release", ASSIGNMENT, "--config", str(folder / "grading.yaml")], out) == 0
    return folder


@pytest.fixture(scope="module")
def submissions(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    reference = (root / "solutions" / ASSIGNMENT / "losses.py").read_text()
    sources = {
        # Plots while it works: matplotlib is allowed, and PIL, which it loads, is its own.
        "plots": _with_lines(
            reference,
            top="import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        ),
        # A refused import at the top that no graded function uses costs nothing...
        "forbidden": _with_lines(reference, top="import yaml"),
        # ... and one that a graded function uses fails that function's checks only,
        "forbidden_used": _with_lines(
            reference, top="import yaml", in_svm_naive="yaml.safe_dump(reg)"
        ),
        # as does one inside the function.
        "forbidden_inside": _with_lines(reference, in_svm_naive="import yaml"),
        # CS231n's 2017-2019 header, xrange used: the policy provides past.builtins.
        "cs231n_header": _with_lines(
            reference,
            top="from builtins import range\nfrom past.builtins import xrange",
            in_svm_naive="assert list(xrange(3)) == [0, 1, 2]",
        ),
    }
    folders = {}
    base = tmp_path_factory.mktemp("submissions")
    for name, source in sources.items():
        (base / name).mkdir()
        (base / name / "losses.py").write_text(source)
        folders[name] = base / name
    return folders


Outcome = dict[str, tuple[bool, str]]


def _graded(course: Path, submission: Path, layer: layers.Layer) -> Outcome:
    assignment = load_course(course / "grading.yaml").assignment(ASSIGNMENT)
    result = grade_upload(prepare(assignment, layer=layer), "student", submission)
    return {
        c.id: (c.passed, "" if c.feedback is None else c.feedback.message) for c in result.checks
    }


def _checked(course: Path, submission: Path, layer: str, monkeypatch: pytest.MonkeyPatch) -> str:
    student = course / f"student-{layer}-{submission.name}"
    shutil.copytree(course / "release", student, dirs_exist_ok=True)
    shutil.copyfile(submission / "losses.py", student / "losses.py")
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, layer)
    out = io.StringIO()
    main(["check", str(student)], out, io.StringIO())
    return out.getvalue()


def _passed_in_check(output: str) -> dict[str, bool]:
    verdicts = {}
    for line in output.splitlines():
        if line.startswith("passed  "):
            verdicts[line.split()[1]] = True
        elif line.startswith("FAILED  "):
            verdicts[line.split()[1].rstrip(":")] = False
    return verdicts


@needs_full
@pytest.mark.parametrize(
    "name", ["plots", "forbidden", "forbidden_used", "forbidden_inside", "cs231n_header"]
)
def test_every_route_grades_imports_alike(
    course: Path,
    submissions: dict[str, Path],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submission = submissions[name]
    full = _graded(course, submission, bwrap_layer.BwrapLayer())
    reduced = _graded(course, submission, process_layer.ProcessLayer())
    assert full == reduced
    passed = {check for check, (ok, _) in full.items() if ok}
    if name in ("plots", "forbidden", "cs231n_header"):
        assert passed == set(full)  # full marks: nothing graded depends on the import
    else:
        naive = {check for check in full if check.startswith("svm_naive")}
        # ... and the one comparing the vectorized version with the naive one.
        assert set(full) - passed == {*naive, "svm_vec_matches_naive"}
        # The refusal fails the function's implemented gate; its other checks wait on it.
        assert REFUSED in full["svm_naive_implemented"][1]
        assert all(
            "Not counted yet" in full[check][1] for check in naive - {"svm_naive_implemented"}
        )
    for layer in (layers.FULL, layers.REDUCED):
        output = _checked(course, submission, layer, monkeypatch)
        in_check = _passed_in_check(output)
        assert in_check, output
        assert in_check == {check: full[check][0] for check in in_check}
        if name == "forbidden":  # the student reads why it was dropped before submitting
            assert "`import yaml` dropped: the graded functions do not use it" in output
        elif name.startswith("forbidden"):
            assert REFUSED in output  # the student meets the refusal before submitting


def test_the_full_layer_shows_the_site_folder_of_an_allowed_package_and_no_other_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    site = Path(matplotlib.__file__).resolve().parent.parent
    roots = {Path(root).resolve() for root in view.python_roots(("numpy", "matplotlib"))}
    assert any(site == root or root in site.parents for root in roots)
    # A name the grader finds through its working folder (a course folder on sys.path)
    # must not bind that folder, solutions and all, into the sandbox.
    (tmp_path / "course_module").mkdir()
    (tmp_path / "course_module" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    roots = {Path(root).resolve() for root in view.python_roots(("numpy", "course_module"))}
    assert not any(root == tmp_path or tmp_path in root.parents for root in roots)
