"""``propgrade new NAME``: a new assignment that grades end to end before it is edited.

The scaffold is one worked example, not empty templates: a reference function with
solution markers, public and hidden checks (a gate, properties, agreement with the
reference), a grading.yaml entry, and a fixture corpus with a correct submission, the
released stub and one bug. ``propgrade release``, ``grade`` and ``selftest`` work on it at
once, so an instructor changes a working assignment into theirs one step at a time
(docs/writing-an-assignment.md walks through it).

Nothing is overwritten: every file is checked first, and a failure part way removes what
this run created and restores grading.yaml.
"""

from __future__ import annotations

import contextlib
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from propgrade.config import CONFIG_NAME, load_course
from propgrade.errors import PropgradeError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FILE = re.compile(r"^[a-z_][a-z0-9_]*\.py$")


class ScaffoldError(PropgradeError):
    """The new assignment could not be created; nothing was left half made."""


@dataclass(frozen=True)
class Scaffold:
    name: str
    course_file: Path
    created: tuple[Path, ...]
    course_file_created: bool


_SOLUTION = '''\
"""${name}: the graded file students complete. Replace the example with your exercise.

Everything outside the solution markers is released to students as written (docstrings,
signatures, imports); each region between the markers becomes a stub that raises
NotImplementedError. Docstrings are the specification: say what is returned, in which
shape and dtype, and which arguments must not be modified.
"""

import numpy as np


def mse(pred, target):
    """Mean squared error between two arrays of the same shape.

    Parameters
    ----------
    pred : ndarray of shape (N,)
        Predictions.
    target : ndarray of shape (N,)
        Targets.

    Returns
    -------
    float
        ``mean((pred - target) ** 2)``, as a single number. ``pred`` and ``target`` must
        not be modified.
    """
    ### BEGIN SOLUTION
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return float(np.mean((pred - target) ** 2))
    ### END SOLUTION
'''

_INIT = '''\
"""Checks for ${name}: test_public*.py are released to students, test_hidden*.py never are."""
'''

_COMMON = '''\
"""Cases shared by the public and hidden checks. Released with the public checks, so nothing
here may use the reference solution.

Draw inputs like real data as well as readable ones: a coarse grid finds wrong formulas
and gives readable counterexamples, wide magnitudes find overflow and in-place writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from propgrade import CheckFailed, Shrink, format_array, frozen

FUNCTIONS = {"mse": "mse"}  # check-id prefix -> function name in ${graded_file}


def _frozen(a: np.ndarray) -> np.ndarray:
    # Never writeable again, so a property cannot change a case another property replays
    # (and the engine hashes the array once per run, not on every call).
    return frozen(a, np.float64)


@dataclass(frozen=True, repr=False)
class Pair:
    """Arguments of one call ``mse(pred, target)``: the case a student sees when it fails."""

    pred: np.ndarray
    target: np.ndarray

    # How a failing case is shrunk to the small counterexample a student sees: pred and
    # target share their one axis, N (drop entries from both alike), then simpler numbers.
    # Declare what must stay consistent; propgrade's API reference documents Shrink.
    shrink = Shrink(pred="N", target="N")

    @property
    def args(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.pred, self.target)

    def __repr__(self) -> str:
        return f"pred = {format_array(self.pred)}\\ntarget = {format_array(self.target)}"


@st.composite
def pairs(draw: st.DrawFn, *, wide: bool = False) -> Pair:
    n = draw(st.integers(1, 8))
    if wide:
        values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    else:
        values = st.integers(-100, 100).map(lambda k: k / 10)
    pred = draw(hnp.arrays(np.float64, n, elements=values))
    target = draw(hnp.arrays(np.float64, n, elements=values))
    return Pair(_frozen(pred), _frozen(target))


CASES = st.one_of(pairs(), pairs(wide=True))


def require(condition: bool, message: str, expected: object = None, got: object = None) -> None:
    if not condition:
        raise CheckFailed(message, expected=expected, got=got)
'''

_PUBLIC = '''\
"""Public checks: released to students, runnable with ``propgrade check``.

Each check is a property any correct answer has; none uses the reference solution.
"""

from __future__ import annotations

import math

import numpy as np

from propgrade import check_each, expect

from .common import CASES, FUNCTIONS, Pair, pairs, require


@check_each(
    FUNCTIONS,
    "{key}_implemented",
    "{fn} does the work: it returns a finite number that changes with its inputs. "
    "The other checks of {fn} count once this one passes.",
    pairs(),
    max_examples=3,
    hint="Replace the starter code's body with your computation and return a number.",
)
def implemented(case: Pair, student, fn: str) -> None:
    # A gate, not a property: a stub or `return 0.0` satisfies "nonnegative" and
    # "zero on equal inputs", and must not earn their points. Inputs one apart and equal
    # inputs give 1 and 0 for a correct answer, never the same value.
    apart = student.call(fn, case.target + 1.0, case.target)
    first = expect.scalar(apart, f"the value of {fn}")
    second = expect.scalar(student.call(fn, case.target, case.target), f"the value of {fn}")
    require(math.isfinite(first), f"{fn} returned a non-finite value", got=first)
    require(first != second, f"{fn} returned the same value for different inputs", got=first)


@check_each(
    FUNCTIONS,
    "{key}_nonnegative",
    "{fn} is never negative.",
    CASES,
    hint="A mean of squares cannot be negative: check the square and the sign.",
)
def nonnegative(case: Pair, student, fn: str) -> None:
    value = expect.scalar(student.call(fn, *case.args), f"the value of {fn}")
    require(value >= 0, f"{fn} returned a negative value", expected=">= 0", got=value)


@check_each(
    FUNCTIONS,
    "{key}_zero_on_equal",
    "{fn} is 0 when the prediction equals the target.",
    CASES,
    hint="When pred == target every difference is 0, and so is their mean.",
)
def zero_on_equal(case: Pair, student, fn: str) -> None:
    value = expect.scalar(student.call(fn, case.pred, case.pred), f"the value of {fn}")
    expect.close(value, 0.0, f"{fn}(x, x)", rtol=0.0)


@check_each(
    FUNCTIONS,
    "{key}_inputs_unchanged",
    "{fn} does not modify its arguments.",
    CASES,
    hint="Compute into new arrays: `pred -= target` changes the caller's array.",
)
def inputs_unchanged(case: Pair, student, fn: str) -> None:
    outcome = student.outcome(fn, *case.args, echo_args=True)
    after = outcome.args_after
    require(after is not None and len(after) == 2, "the arguments could not be read back")
    assert after is not None
    for name, before, now in zip(("pred", "target"), case.args, after, strict=True):
        expect.unchanged(np.asarray(before), now, name)
'''

_HIDDEN = '''\
"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

from propgrade import check_each, expect

from .common import CASES, FUNCTIONS, Pair


@check_each(
    FUNCTIONS,
    "{key}_reference",
    "{fn} returns the same value as the reference solution.",
    CASES,
    hint="Compare your result with a hand computation on the small input shown.",
)
def against_reference(case: Pair, student, fn: str, reference) -> None:
    got = expect.scalar(student.call(fn, *case.args), f"the value of {fn}")
    want = float(getattr(reference, fn)(*case.args))
    # Correct float64 answers agree to rounding; a float32 computation does not.
    expect.close(got, want, f"the value of {fn}", rtol=1e-9, atol=1e-12)
'''

_ENTRY = """\
  ${name}:
    solution: solutions/${name}     # hidden reference (never released)
    release: assignments/${name}    # generated by `propgrade release ${name}`
    graders: graders/${name}        # test_public*.py are released, test_hidden*.py not
    graded_file: ${graded_file}
    functions: [mse]
    imports: [numpy]
    hypothesis:
      seed: 1
      max_examples: 20
    limits:
      call_seconds: 2
      submission_seconds: 60
      memory_mb: 1024
      output_kb: 64
    selftest:
      mutation_threshold: 0.9
      baseline_limit: 0.05
    # requires: a function's properties count only once its *_implemented gate passes.
    checks:
      mse_implemented: {points: 0, visibility: visible}
      mse_nonnegative: {points: 1, visibility: visible, requires: mse_implemented}
      mse_zero_on_equal: {points: 1, visibility: visible, requires: mse_implemented}
      mse_inputs_unchanged: {points: 1, visibility: visible, requires: mse_implemented}
      mse_reference: {points: 2, visibility: after_due_date, requires: mse_implemented}
"""

_NEW_COURSE = """\
# propgrade course file: which assignments exist, where their parts live, and how each
# check is scored. Paths are relative to this file. Run `propgrade grade --help` for usage.
course: ${course}

assignments:
"""

_BUG = """\
import numpy as np


def mse(pred, target):
    # Sums instead of averaging: right for one sample only.
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return float(np.sum((pred - target) ** 2))
"""

_MUTATES = """\
import numpy as np


def mse(pred, target):
    # Right value, but writes into the caller's array.
    pred -= target
    return float(np.mean(pred**2))
"""

_EXPECT_CORRECT = "description: The reference solution itself.\nfull_marks: true\n"
_EXPECT_STUB = (
    "description: The released stub, untouched (propgrade release keeps this file equal to\n"
    "  it). A stub must earn nothing.\n"
    "score_zero: true\n"
)
_EXPECT_BUG = (
    "description: Sums the squares instead of averaging them.\n"
    "full_marks: false\n"
    "must_fail: [mse_reference]\n"
    "only_these_fail: true\n"
)
_EXPECT_MUTATES = (
    "description: Subtracts in place, changing the caller's pred.\n"
    "full_marks: false\n"
    "must_fail: [mse_inputs_unchanged]\n"
)


def create_assignment(name: str, *, course_file: Path, graded_file: str | None = None) -> Scaffold:
    """Write a working example assignment ``name`` beside ``course_file`` (made if missing)."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not a valid assignment name",
            hint="use lowercase letters, digits and underscores, starting with a letter",
        )
    graded = graded_file or f"{name}.py"
    if not _FILE.match(graded) or keyword.iskeyword(graded[:-3]):
        raise ScaffoldError(
            f"--graded-file {graded!r} is not an importable module file name",
            hint="e.g. --graded-file optim.py (lowercase, ending in .py)",
        )
    root = course_file.parent
    course_exists = course_file.exists()
    if course_exists and name in load_course(course_file).assignments:
        raise ScaffoldError(
            f"{course_file}: assignment {name!r} already exists",
            hint="pick another name, or edit the existing assignment",
        )
    from propgrade.authoring.release import STUB_FIXTURE, strip_solutions

    solution = Template(_SOLUTION).substitute(name=name)
    values = {"name": name, "graded_file": graded}
    corpus = Path("tests", "submissions", name)
    files = {
        Path("solutions", name, graded): solution,
        Path("graders", name, "__init__.py"): Template(_INIT).substitute(values),
        Path("graders", name, "common.py"): Template(_COMMON).substitute(values),
        Path("graders", name, "test_public.py"): _PUBLIC,
        Path("graders", name, "test_hidden.py"): _HIDDEN,
        corpus / "correct_reference" / graded: solution,
        corpus / "correct_reference" / "expect.yaml": _EXPECT_CORRECT,
        corpus / STUB_FIXTURE / graded: strip_solutions(solution, Path(graded)),
        corpus / STUB_FIXTURE / "expect.yaml": _EXPECT_STUB,
        corpus / "bug_sum_not_mean" / graded: _BUG,
        corpus / "bug_sum_not_mean" / "expect.yaml": _EXPECT_BUG,
        corpus / "bug_mutates_pred" / graded: _MUTATES,
        corpus / "bug_mutates_pred" / "expect.yaml": _EXPECT_MUTATES,
    }
    taken = [
        str(root / p)
        for p in (Path("solutions", name), Path("graders", name), corpus)
        if (root / p).exists() or (root / p).is_symlink()
    ]
    if taken:
        raise ScaffoldError(
            f"not overwriting what exists: {', '.join(taken)}",
            hint="move those folders away, or pick another assignment name",
        )
    original = course_file.read_text(encoding="utf-8") if course_exists else None
    made_dirs: list[Path] = []
    written: list[Path] = []
    try:
        for relative, text in files.items():
            target = root / relative
            for parent in reversed(target.parents):
                if not parent.exists():
                    parent.mkdir()
                    made_dirs.append(parent)
            target.write_text(text, encoding="utf-8")
            written.append(target)
        head = original if original is not None else Template(_NEW_COURSE).substitute(course=name)
        if head and not head.endswith("\n"):
            head += "\n"
        course_file.write_text(head + Template(_ENTRY).substitute(values), encoding="utf-8")
        _confirm_entry(course_file, name)
    except BaseException:
        _undo(course_file, original, written, made_dirs)
        raise
    return Scaffold(name, course_file, tuple(written), original is None)


def _confirm_entry(course_file: Path, name: str) -> None:
    # The entry is appended as text to keep the instructor's comments; that is right only
    # when `assignments:` is the file's last top-level key.
    try:
        found = name in load_course(course_file).assignments
    except PropgradeError as exc:
        found = False
        detail = f" ({exc.message})"
    else:
        detail = ""
    if not found:
        raise ScaffoldError(
            f"{course_file}: could not add {name!r} at the end of the file{detail}; the file "
            "was left as it was",
            hint=f"move `assignments:` to the end of {CONFIG_NAME}, or add the entry by hand",
        )


def _undo(
    course_file: Path, original: str | None, written: list[Path], made_dirs: list[Path]
) -> None:
    if original is None:
        course_file.unlink(missing_ok=True)
    else:
        course_file.write_text(original, encoding="utf-8")
    for path in reversed(written):
        path.unlink(missing_ok=True)
    for folder in reversed(made_dirs):
        with contextlib.suppress(OSError):  # not empty: something else was put there
            folder.rmdir()
