"""The trusted side reads student folders as hostile, before any sandbox runs.

Links, hard links, special files and oversized files are refused with a reason and
nothing behind them is read; bad notebooks, odd folder names and unusable timestamps are
one submission's problem, and everyone else in the batch is graded and written. The
folder-shaped attacks are also graded in the red-team batch (tests/test_hostile.py,
their ``layout.yaml``), under both sandbox layers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from propgrade.cli import main
from propgrade.config import UNKNOWN_TIME_LATE, UNKNOWN_TIME_ON_TIME, LatePolicy, load_course
from propgrade.engine.grading import prepare
from propgrade.errors import SubmissionProblem
from propgrade.intake.late import TIMESTAMP_NAME, lateness_of
from propgrade.intake.notebook import extract_functions
from propgrade.intake.student_ids import csv_cell, readable, terminal
from propgrade.intake.untrusted_files import FileRefused, read_beneath

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "linear_classifiers"
REFERENCE = ROOT / "solutions" / ASSIGNMENT / "losses.py"
MAX_SCORE = load_course(ROOT / "grading.yaml").assignment(ASSIGNMENT).max_score
NOT_UTF8 = os.fsdecode(b"st\xffx")
FORMULA = '=HYPERLINK("http:x")'
SECRET = "reference-content-must-never-show"


# -- reading one file -----------------------------------------------------------------------


def test_a_regular_file_is_read_and_a_missing_one_is_none(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "losses.py").write_bytes(b"x = 1\n")
    assert read_beneath(tmp_path, "sub/losses.py", max_bytes=100) == b"x = 1\n"
    assert read_beneath(tmp_path, "losses.py", max_bytes=100) is None
    assert read_beneath(tmp_path / "nowhere", "losses.py", max_bytes=100) is None


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "course" / "losses.py"
    secret.parent.mkdir()
    secret.write_text(f"# {SECRET}\n")
    return secret


@pytest.mark.parametrize(
    ("make", "relative", "reason"),
    [
        (lambda sub, secret: (sub / "losses.py").symlink_to(secret), "losses.py", "symbolic link"),
        (
            lambda sub, secret: (sub / "work").symlink_to(secret.parent),
            "work/losses.py",
            "lies under work, which is a symbolic link",
        ),
        (lambda sub, secret: os.link(secret, sub / "losses.py"), "losses.py", "hard link"),
        (lambda sub, secret: os.mkfifo(sub / "losses.py"), "losses.py", "named pipe (FIFO)"),
        (
            lambda sub, secret: (sub / "losses.py").write_text("#" * 5000),
            "losses.py",
            "is 5000 bytes; the limit is 4096 bytes",
        ),
    ],
    ids=["symlink", "symlinked-folder", "hard-link", "fifo", "oversize"],
)
def test_links_special_files_and_large_files_are_refused_unread(
    tmp_path: Path, make: object, relative: str, reason: str
) -> None:
    secret = _outside(tmp_path)
    submission = tmp_path / "alice"
    submission.mkdir()
    make(submission, secret)  # type: ignore[operator]
    with pytest.raises(FileRefused, match=reason.replace("(", r"\(").replace(")", r"\)")) as err:
        read_beneath(submission, relative, max_bytes=4096)
    assert SECRET not in err.value.message


def test_a_socket_and_a_linked_submission_folder_are_refused(tmp_path: Path) -> None:
    secret = _outside(tmp_path)
    submission = tmp_path / "alice"
    submission.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(submission / "losses.py"))
        with pytest.raises(FileRefused, match="is a socket"):
            read_beneath(submission, "losses.py", max_bytes=4096)
    linked = tmp_path / "bob"
    linked.symlink_to(secret.parent)
    with pytest.raises(FileRefused, match="symbolic link"):
        read_beneath(linked, "losses.py", max_bytes=4096)


# -- notebooks ------------------------------------------------------------------------------


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": []} for s in sources]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, ensure_ascii=False)


def test_a_latin1_notebook_is_a_submission_problem() -> None:
    data = _notebook("# coût\nimport numpy as np").encode("latin-1")
    with pytest.raises(SubmissionProblem, match=r"not UTF-8 text \(byte 0xfb"):
        extract_functions(data, "hw.ipynb")


def test_deeply_nested_json_is_a_submission_problem() -> None:
    data = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(SubmissionProblem, match="nested more than"):
        extract_functions(data, "hw.ipynb")


@pytest.mark.parametrize(
    "bomb", ["x = " + "-" * 100_000 + "1", "x = y" + "[0]" * 100_000, "x = a" + ".b" * 100_000]
)
def test_an_expression_bomb_skips_its_cell_only(bomb: str) -> None:
    extracted = extract_functions(_notebook(bomb, "def f(x):\n    return x\n").encode(), "hw")
    assert extracted.functions == ["f"]
    assert any(
        "cell 1: not valid Python (too deeply nested to parse)" in n for n in extracted.notes
    )


# -- names ----------------------------------------------------------------------------------


def test_student_ids_are_shown_safely_in_each_output() -> None:
    for start in "=+-@\t\r":
        assert csv_cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert csv_cell("alice") == "alice"
    assert readable(NOT_UTF8) == "st\\xffx" and csv_cell(NOT_UTF8) == "st\\xffx"
    assert terminal("eve\x1b[2J\x07\r") == "eve?[2J??"


# -- a whole class, folder route --------------------------------------------------------------


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One batch: correct submissions beside every kind of bad input (not the red-team
    files, which test_hostile grades)."""
    base = tmp_path_factory.mktemp("intake")
    klass = base / "class"
    solution = REFERENCE.read_text()
    secret = base / "course" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\n")

    def student(name: str, files: dict[str, str | bytes]) -> Path:
        folder = klass / name
        folder.mkdir(parents=True)
        for rel, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            (folder / rel).write_bytes(data)
        return folder

    on_time = (datetime(2026, 12, 1, tzinfo=UTC) - timedelta(hours=1)).isoformat()
    student("ana", {"losses.py": solution, TIMESTAMP_NAME: on_time})
    student(FORMULA, {"losses.py": solution, TIMESTAMP_NAME: on_time})
    student(NOT_UTF8, {"losses.py": solution, TIMESTAMP_NAME: on_time})
    student("nb_latin1", {"hw.ipynb": _notebook("# coût\n" + solution).encode("latin-1")})
    student("nb_deep", {"hw.ipynb": "[" * 100_000 + "]" * 100_000})
    student("nb_bomb", {"hw.ipynb": _notebook("x = " + "-" * 100_000 + "1", solution)})
    (student("ts_link", {"losses.py": solution}) / TIMESTAMP_NAME).symlink_to(secret)
    student("ts_missing", {"losses.py": solution})

    raw = yaml.safe_load((ROOT / "grading.yaml").read_text())
    body = raw["assignments"][ASSIGNMENT]
    for key in ("solution", "graders", "release"):
        body[key] = str((ROOT / body[key]).resolve())
    body["due"] = "2026-12-01T00:00:00+00:00"
    body["late_policy"] = {"per_day": 0.1, "max_days": 3}
    config = base / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    out_text, err_text = io.StringIO(), io.StringIO()
    argv = ["grade", str(klass), "-a", ASSIGNMENT, "-o", str(base / "out"), "-j", "2"]
    code = main([*argv, "-c", str(config)], out=out_text, err=err_text)
    return {
        "code": code,
        "out": base / "out",
        "stdout": out_text.getvalue(),
        "stderr": err_text.getvalue(),
    }


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _record(out: Path, student: str) -> dict[str, object]:
    return json.loads((out / student / "propgrade.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.sandbox  # grades a class
def test_the_batch_finishes_and_writes_every_student(graded_class: dict[str, object]) -> None:
    assert graded_class["code"] == 0, graded_class["stderr"]
    rows = _rows(graded_class["out"])  # type: ignore[arg-type]
    full = {"ana", "'" + FORMULA, "st\\xffx", "nb_bomb", "ts_link", "ts_missing"}
    assert set(rows) == full | {"nb_latin1", "nb_deep"}
    for name in full:
        assert float(rows[name]["raw_score"]) == MAX_SCORE, name
    for name in ("nb_latin1", "nb_deep"):
        assert float(rows[name]["raw_score"]) == 0, name


@pytest.mark.sandbox  # grades a class
def test_odd_folder_names_keep_their_own_output_folder(graded_class: dict[str, object]) -> None:
    out: Path = graded_class["out"]  # type: ignore[assignment]
    for name in (FORMULA, NOT_UTF8):
        assert (out / name / "feedback.html").is_file()
        assert _record(out, name)["student"] == name  # the id round-trips
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "st\\xffx" in report and "st%FFx/feedback.html" in report
    assert "&quot;http:x&quot;" in report


@pytest.mark.sandbox  # grades a class
def test_bad_notebooks_get_a_reason(graded_class: dict[str, object]) -> None:
    out: Path = graded_class["out"]  # type: ignore[assignment]
    assert "hw.ipynb is not UTF-8 text" in str(_record(out, "nb_latin1")["error"])
    assert "nested more than" in str(_record(out, "nb_deep")["error"])
    notes = _record(out, "nb_bomb")["meta"]["intake_notes"]  # type: ignore[index]
    assert any("too deeply nested to parse" in n for n in notes)


@pytest.mark.sandbox  # grades a class
def test_timestamps_are_read_without_following_links(graded_class: dict[str, object]) -> None:
    stderr = str(graded_class["stderr"])
    rows = _rows(graded_class["out"])  # type: ignore[arg-type]
    assert SECRET not in stderr and SECRET not in json.dumps(rows)
    link_warning = next(line for line in stderr.splitlines() if line.startswith("warning: ts_link"))
    assert "timestamp.txt is a symbolic link" in link_warning
    assert "submission time unknown" in link_warning
    assert any(
        line.startswith("warning: ts_missing: no timestamp.txt") for line in stderr.splitlines()
    )
    assert rows["ana"]["submitted_at"] and rows["ana"]["late_days"] == "0"


@pytest.mark.sandbox  # grades a class
def test_terminal_output_holds_no_control_characters(graded_class: dict[str, object]) -> None:
    for text in (str(graded_class["stdout"]), str(graded_class["stderr"])):
        assert not [c for c in text if ord(c) < 32 and c not in "\n"]
        text.encode("utf-8")  # printable on a UTF-8 terminal: no lone surrogates


# -- lateness policy for an unknown time ------------------------------------------------------


@pytest.mark.parametrize(
    ("unknown_time", "warned", "fraction"),
    [("flag", True, 0.0), (UNKNOWN_TIME_ON_TIME, False, 0.0), (UNKNOWN_TIME_LATE, True, 1.0)],
)
def test_the_late_policy_decides_an_unknown_time(
    tmp_path: Path, unknown_time: str, warned: bool, fraction: float
) -> None:
    due = datetime(2026, 12, 1, tzinfo=UTC)
    lateness, said = lateness_of(tmp_path, due, LatePolicy(0.1, 3, unknown_time))
    assert (said is not None) == warned
    assert lateness.fraction == fraction and lateness.penalty(44) == 44 * fraction


def test_an_unknown_time_setting_is_validated(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "grading.yaml").read_text())
    body = raw["assignments"][ASSIGNMENT]
    for key in ("solution", "graders", "release"):
        body[key] = str((ROOT / body[key]).resolve())
    body["due"] = "2026-12-01T00:00:00+00:00"
    body["late_policy"] = {"per_day": 0.1, "max_days": 3, "unknown_time": "ontime"}
    config = tmp_path / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    err = io.StringIO()
    code = main(
        ["grade", str(tmp_path), "-a", ASSIGNMENT, "-o", str(tmp_path / "o"), "-c", str(config)],
        out=io.StringIO(),
        err=err,
    )
    assert code == 2
    assert "late_policy.unknown_time" in err.getvalue() and "'on_time'" in err.getvalue()


# -- the student's own check --------------------------------------------------------------------


def test_check_refuses_a_linked_graded_file(tmp_path: Path) -> None:
    released = tmp_path / ASSIGNMENT
    shutil.copytree(ROOT / "assignments" / ASSIGNMENT, released)
    (released / "losses.py").unlink()
    (released / "losses.py").symlink_to(REFERENCE)
    out = io.StringIO()
    code = main(["check", str(released)], out=out, err=io.StringIO())
    assert code == 1
    assert "losses.py is a symbolic link" in out.getvalue()
    assert "0 passed" in out.getvalue()


# -- determinism ----------------------------------------------------------------------------


def test_drawn_cases_do_not_depend_on_which_modules_are_imported(tmp_path: Path) -> None:
    """Hypothesis mixes literals of imported local modules into its draws; grading must
    draw the same cases whatever the process imported before (a report, a route)."""
    assignment = load_course(ROOT / "grading.yaml").assignment(ASSIGNMENT)
    before = {cid: [repr(c) for c in cases] for cid, cases in prepare(assignment).cases.items()}
    module = tmp_path / "propgrade_local_constants_probe.py"
    values = ", ".join(str(v) for v in (3, 7, 11, 0.125, -2.5, 1e3, 299.0, 42, 5, 9))
    module.write_text(f"VALUES = [{values}]\nNAME = 'probe'\n")
    sys.path.insert(0, str(tmp_path))
    try:
        __import__("propgrade_local_constants_probe")
        after = {cid: [repr(c) for c in cases] for cid, cases in prepare(assignment).cases.items()}
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("propgrade_local_constants_probe", None)
    assert after == before


def test_refused_imports_at_the_top_are_noted_with_the_function_that_uses_them() -> None:
    from propgrade.intake.refused_imports import refused_import_notes

    source = (
        b"from __future__ import print_function\n"
        b"from builtins import range\n"
        b"from past.builtins import xrange\n"
        b"import numpy as np\n"
        b"import matplotlib.pyplot as plt\n"
        b"from scipy.special import logsumexp\n"
        b"def helper(s):\n    return logsumexp(s)\n"
        b"def f(x):\n    return helper(x)\n"
        b"def g(x):\n    return np.sum(x) + sum(xrange(3))\n"
    )
    notes = refused_import_notes(source, ("numpy",), ["f", "g"], own="losses")
    # the CS231n header is not refused (standard library, and past.builtins is provided)
    assert notes == [
        "line 5: `import matplotlib.pyplot as plt` dropped: the graded functions do not use "
        "it, and student code may import only numpy and the Python standard library",
        "line 6: `from scipy.special import logsumexp` refused (student code may import only "
        "numpy and the Python standard library): f uses it and fails with that message",
    ]
    assert refused_import_notes(b"def f(:\n", ("numpy",), ["f"]) == []


def test_a_refused_import_the_file_catches_is_noted_as_its_fallback() -> None:
    from propgrade.intake.refused_imports import refused_import_notes

    source = (
        b"try:\n    from scipy.special import logsumexp\n"
        b"except ImportError:\n    logsumexp = None\n"
        b"try:\n    import yaml\nexcept ValueError:\n    yaml = None\n"
        b"def f(x):\n    return logsumexp(x) if logsumexp else yaml.safe_dump(x)\n"
    )
    notes = refused_import_notes(source, ("numpy",), ["f"], own="losses")
    rule = "student code may import only numpy and the Python standard library"
    # the worker raises the refusal inside the first try (its except runs) and binds a
    # stand-in inside the second, whose handler does not catch it
    assert notes == [
        f"line 2: `from scipy.special import logsumexp` refused ({rule}): the `except` around "
        "it takes over, as where the package is not installed",
        f"line 6: `import yaml` refused ({rule}): f uses it and fails with that message",
    ]
