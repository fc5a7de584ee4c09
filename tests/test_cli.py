"""The command line, driven through ``main(argv)`` as a user would run it."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from propgrade.cli import main
from propgrade.sandbox import layer_choice

BUGGY_SVM = "margins = np.maximum(0.0, scores - correct_class_scores + 1.0)"

pytestmark = pytest.mark.sandbox  # nearly every command here grades a class


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def klass(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small class: a correct file, a buggy one, the stub, a syntax error, no file."""
    base = tmp_path_factory.mktemp("class")
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    stub = (root / "assignments/linear_classifiers/losses.py").read_text()
    assert BUGGY_SVM in solution
    files = {
        "ana": solution,
        "ben": solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0"),
        "cy": stub,
        "dee": solution.replace("import numpy as np", "import numpy as np\ndef broken(:\n"),
    }
    for student, text in files.items():
        (base / student).mkdir()
        (base / student / "losses.py").write_text(text)
    (base / "eve").mkdir()
    (base / "eve" / "answers.txt").write_text("I forgot the file")
    return base


@pytest.fixture(scope="module")
def graded(root: Path, klass: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path_factory.mktemp(f"out{jobs}")
        code, stdout, stderr = run(
            "grade",
            str(klass),
            "--assignment",
            "linear_classifiers",
            "--out",
            str(out),
            "--jobs",
            jobs,
            "--config",
            str(root / "grading.yaml"),
        )
        assert code == 0, stderr
        assert "[5/5]" in stderr  # progress
        assert "ana" in stdout and "all checks passed" in stdout  # score table
        outs[jobs] = out
    return outs


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_grades_csv_has_one_row_per_student_and_a_column_per_check(
    graded: dict[str, Path], root: Path
) -> None:
    rows = _rows(graded["1"])
    assert sorted(rows) == ["ana", "ben", "cy", "dee", "eve"]
    header = next(csv.reader((graded["1"] / "grades.csv").open()))
    assert header[:3] == ["student", "score", "max_score"]
    assert "svm_vec_nonnegative" in header and len(header) == 3 + 52
    assert rows["ana"]["score"] == rows["ana"]["max_score"] == "48"
    assert 0 < float(rows["ben"]["score"]) < 48
    assert rows["ben"]["svm_vec_nonnegative"] == "0"
    assert rows["ben"]["svm_naive_nonnegative"] == "1"
    for student in ("cy", "dee", "eve"):
        assert rows[student]["score"] == "0"
    # A 0-point gate says whether it passed: its points would read 0 either way.
    assert rows["ana"]["svm_naive_implemented"] == "passed"
    assert rows["cy"]["svm_naive_implemented"] == "failed"


def test_grading_is_identical_with_one_and_two_jobs(graded: dict[str, Path]) -> None:
    assert _rows(graded["1"]) == _rows(graded["2"])
    for student in ("ana", "ben", "cy", "dee", "eve"):
        a = json.loads((graded["1"] / student / "results.json").read_text())
        b = json.loads((graded["2"] / student / "results.json").read_text())
        assert [(t["name"], t["score"], t["output"]) for t in a["tests"]] == [
            (t["name"], t["score"], t["output"]) for t in b["tests"]
        ]


def test_results_json_follows_gradescope_schema(graded: dict[str, Path]) -> None:
    data = json.loads((graded["1"] / "ben" / "results.json").read_text())
    assert {"score", "execution_time", "output", "tests"} <= set(data)
    assert "max_score" not in data  # not in Gradescope's schema: it sums the tests' maxima
    assert data["score"] == sum(t["score"] for t in data["tests"])
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    meta = data["extra_data"]["propgrade"]
    assert {"propgrade_version", "config_hash", "hypothesis_seed", "file_sha256"} <= set(meta)
    assert meta["max_score"] == sum(t["max_score"] for t in data["tests"]) == 48


def test_failed_check_explains_with_a_counterexample(graded: dict[str, Path]) -> None:
    data = json.loads((graded["1"] / "ben" / "results.json").read_text())
    test = next(t for t in data["tests"] if t["name"].startswith("svm_vec_nonnegative"))
    assert test["status"] == "failed"
    assert "negative loss" in test["output"]
    assert "Smallest failing input" in test["output"]
    assert "W = " in test["output"] and "Got: -" in test["output"]


def test_broken_submissions_get_zero_with_an_explanation(graded: dict[str, Path]) -> None:
    syntax = json.loads((graded["1"] / "dee" / "results.json").read_text())
    assert syntax["score"] == 0 and "SyntaxError" in syntax["output"]
    # Nothing was graded: no check's hint (it would point at a mistake nobody made).
    assert not any("Hint:" in t["output"] for t in syntax["tests"])
    missing = json.loads((graded["1"] / "eve" / "results.json").read_text())
    assert missing["score"] == 0 and "no losses.py" in missing["output"]
    assert "answers.txt" in missing["output"]
    stub = json.loads((graded["1"] / "cy" / "results.json").read_text())
    assert "NotImplementedError" in stub["tests"][0]["output"]


def test_grade_reports_bad_arguments(root: Path, klass: Path, tmp_path: Path) -> None:
    config = str(root / "grading.yaml")
    code, _, err = run(
        "grade", str(klass), "-a", "linear_clasifiers", "-o", str(tmp_path), "-c", config
    )
    assert code == 2 and "no assignment named 'linear_clasifiers'" in err
    assert "hint: did you mean 'linear_classifiers'?" in err
    code, _, err = run(
        "grade",
        str(tmp_path / "nope"),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-c",
        config,
    )
    assert code == 2 and "submissions folder not found" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        "grade",
        str(tmp_path / "empty"),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-c",
        config,
    )
    # The hint names this assignment's graded file, not one propgrade knows of.
    assert code == 2 and "hint: each student's files go in their own subfolder" in err
    assert "empty/alice/losses.py" in err
    code, _, err = run(
        "grade",
        str(klass),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-c",
        config,
        "--jobs",
        "0",
    )
    assert code == 2 and "--jobs" in err
    # --jobs would change nothing on a cluster: refused before any cluster starts
    out = tmp_path / "with-dask"
    code, _, err = run(
        "grade", str(klass), "-a", "linear_classifiers", "-o", str(out), "-c", config,
        "--dask", "local:1", "--jobs", "2",
    )  # fmt: skip
    assert code == 2 and "--jobs" in err and "no effect with --dask" in err
    assert "hint: drop --jobs" in err and not out.exists()
    code, _, err = run("grade", str(klass))
    assert code == 2 and "--assignment" in err


def test_help_has_examples() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "examples:" in out and "propgrade grade" in out


def test_check_on_the_stub_counts_waiting_checks_apart_and_says_each_thing_once(
    root: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "linear_classifiers"
    shutil.copytree(root / "assignments" / "linear_classifiers", folder)
    code, out, _ = run("check", str(folder))
    assert code == 1
    assert out.strip().splitlines()[-1] == "0 passed, 4 failed, 40 not counted yet"
    assert out.count("Not counted yet") == 1
    assert "waiting svm_naive_nonnegative (needs svm_naive_implemented)" in out
    assert "svm_loss_naive(...) raised NotImplementedError: TODO" in out
    assert "raised an exception:" not in out  # once, not "raised ...: ... raised ..."


def test_check_shows_an_import_traceback_line_by_line(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "linear_classifiers"
    shutil.copytree(root / "assignments" / "linear_classifiers", folder)
    stub = (folder / "losses.py").read_text()
    (folder / "losses.py").write_text(stub + "\nSCALE = 2 * undefined_name\n")
    code, out, _ = run("check", str(folder))
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("error: importing losses.py failed") for line in lines)
    assert "       Traceback (most recent call last):" in lines
    assert "       NameError: name 'undefined_name' is not defined" in lines
    assert "?" not in "".join(line for line in lines if line.startswith("error:"))


def test_student_check_shows_the_smallest_failing_input(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "linear_classifiers"
    shutil.copytree(root / "assignments" / "linear_classifiers", folder)
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    (folder / "losses.py").write_text(
        solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    )
    code, out, _ = run("check", str(folder))
    assert code == 1
    assert "FAILED  svm_vec_nonnegative" in out
    assert "Smallest failing input:" in out and "Expected:" in out and "Got:" in out
    assert "passed  svm_naive_nonnegative" in out
    assert "reference" not in out
    (folder / "losses.py").write_text(solution)
    code, out, _ = run("check", str(folder / "losses.py"))
    assert code == 0 and " 0 failed" in out


def test_check_on_the_stub_shows_each_traceback_once_and_leaves_no_clutter(
    root: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "linear_classifiers"
    shutil.copytree(root / "assignments" / "linear_classifiers", folder)
    before = sorted(p.name for p in folder.iterdir())
    code, out, _ = run("check", str(folder))
    assert code == 1
    # Four stub functions, one NotImplementedError each: four tracebacks, not one per check.
    assert out.count("Your traceback:") == 4
    assert len(out.splitlines()) < 5 * 36  # it was 488 lines, the traceback 28 times
    assert sorted(p.name for p in folder.iterdir()) == before  # no .hypothesis/ to submit


def test_quiet_grading_prints_nothing_but_problems(root: Path, klass: Path, tmp_path: Path) -> None:
    code, out, err = run(
        "grade",
        str(klass),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-q",
        "-j",
        "1",
        "-c",
        str(root / "grading.yaml"),
    )
    assert code == 0 and out == "" and err == ""


def test_the_score_table_never_cuts_a_word(graded: dict[str, Path]) -> None:
    from propgrade.commands.grade import print_table
    from propgrade.export import read_record

    dee = read_record(graded["1"], "dee")
    assert dee is not None and dee.error
    long_error = replace(dee, error="SyntaxError: expected ':' " + "(losses.py, line 9) " * 8)
    buffer = io.StringIO()
    print_table([long_error], {}, buffer)
    line = next(li for li in buffer.getvalue().splitlines() if li.startswith("dee"))
    assert line.endswith(("line 9)", " …")), line


def test_check_outside_an_assignment_folder_explains(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path))
    assert code == 2 and "no assignment.yaml" in err and "hint:" in err


def test_an_internal_error_is_reported_and_the_batch_goes_on(
    root: Path, klass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import propgrade.batch

    real = propgrade.batch.grade_upload

    def flaky(plan, student, folder):  # type: ignore[no-untyped-def]
        if student == "ben":
            raise RuntimeError("grader bug")
        return real(plan, student, folder)

    monkeypatch.setattr(propgrade.batch, "grade_upload", flaky)
    code, _, err = run(
        "grade",
        str(klass),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-j",
        "1",
        "-c",
        str(root / "grading.yaml"),
    )
    assert code == 3
    assert "grading ben hit an internal grader error" in err
    rows = _rows(tmp_path)
    assert rows["ana"]["score"] == "48" and rows["ben"]["score"] == ""  # no grade, not a 0
    record = json.loads((tmp_path / "ben" / "propgrade.json").read_text())
    assert "RuntimeError: grader bug" in record["meta"]["internal_error"]
    # A rerun does not keep the failed one: it is graded again.
    monkeypatch.setattr(propgrade.batch, "grade_upload", real)
    code, _out, err = run(
        "grade",
        str(klass),
        "-a",
        "linear_classifiers",
        "-o",
        str(tmp_path),
        "-j",
        "1",
        "-c",
        str(root / "grading.yaml"),
    )
    assert code == 0
    progress = {line.split()[1]: line for line in err.splitlines() if line.startswith("[")}
    assert "(unchanged, kept)" in progress["ana:"]
    assert "(unchanged" not in progress["ben:"]


def test_due_date_adds_late_columns_to_grades_csv(root: Path, tmp_path: Path) -> None:
    course = (root / "grading.yaml").read_text()
    for key in ("solutions", "assignments", "graders"):
        course = course.replace(f": {key}/", f": {root / key}/")
    course = course.replace(
        "    graded_file: losses.py\n",
        "    graded_file: losses.py\n"
        "    due: 2026-12-01T23:59:00+00:00\n"
        "    late_policy: {per_day: 0.25, max_days: 3}\n",
    )
    config = tmp_path / "grading.yaml"
    config.write_text(course)
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    stamps = {
        "early": "2026-12-01 12:00:00.000000 UTC",
        "late": "2026-12-02 08:00:00.000000 UTC",
        "unknown": None,
    }
    for student, stamp in stamps.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "losses.py").write_text(solution)
        if stamp:
            (tmp_path / "class" / student / "timestamp.txt").write_text(stamp)
    out = tmp_path / "out"
    code, _, _ = run(
        "grade",
        str(tmp_path / "class"),
        "-a",
        "linear_classifiers",
        "-o",
        str(out),
        "-j",
        "1",
        "-c",
        str(config),
    )
    assert code == 0
    rows = _rows(out)
    assert rows["early"]["raw_score"] == "48" and rows["early"]["late_penalty"] == "0"
    assert rows["early"]["score"] == "48"
    assert rows["late"]["late_days"] == "1" and rows["late"]["late_penalty"] == "12"
    assert rows["late"]["score"] == "36"
    assert rows["unknown"]["score"] == "48"


# Timestamps whose parsing raised past the parser: each stopped the whole batch.
HOSTILE_STAMPS = {
    "overflow": "9999-12-31 23:59:59 -1400",  # OverflowError: past year 9999 in UTC
    "zone_folder": "2026-12-01 12:00:00 America",  # IsADirectoryError: a tzdata folder
    "zone_too_long": "2026-12-01 12:00:00 " + "Z" * 300,  # OSError: longer than a file name
}


def test_a_timestamp_that_breaks_the_parser_is_one_students_unknown_time(
    root: Path, tmp_path: Path
) -> None:
    course = (root / "grading.yaml").read_text()
    for key in ("solutions", "assignments", "graders"):
        course = course.replace(f": {key}/", f": {root / key}/")
    course = course.replace(
        "    graded_file: losses.py\n",
        "    graded_file: losses.py\n"
        "    due: 2026-12-01T23:59:00+00:00\n"
        "    late_policy: {per_day: 0.25, max_days: 3, unknown_time: late}\n",
    )
    config = tmp_path / "grading.yaml"
    config.write_text(course)
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    stamps = {**HOSTILE_STAMPS, "on_time": "2026-12-01 12:00:00.000000 UTC"}
    for student, stamp in stamps.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "losses.py").write_text(solution)
        (tmp_path / "class" / student / "timestamp.txt").write_text(stamp)
    out = tmp_path / "out"
    args = ["-a", "linear_classifiers", "-o", str(out), "-j", "1", "-c", str(config)]
    code, _, stderr = run("grade", str(tmp_path / "class"), *args)
    assert code == 0, stderr
    rows = _rows(out)
    assert sorted(rows) == sorted(stamps)
    assert rows["on_time"]["score"] == "48" and rows["on_time"]["late_penalty"] == "0"
    for student in HOSTILE_STAMPS:
        # unknown_time: late counts an unknown time as past the last accepted day.
        assert rows[student]["raw_score"] == "48" and rows[student]["score"] == "0", student
        assert f"warning: {student}: timestamp.txt: not a usable date and time" in stderr
    assert stderr.count("timestamp.txt: not a usable date and time") == len(HOSTILE_STAMPS)
    assert stderr.count("submission time unknown") == len(HOSTILE_STAMPS)  # said once each


def test_student_option_regrades_only_those_students(
    root: Path, klass: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "class"
    shutil.copytree(klass, copy)
    out = tmp_path / "out"
    common = (
        "-a",
        "linear_classifiers",
        "-o",
        str(out),
        "-j",
        "1",
        "-c",
        str(root / "grading.yaml"),
    )
    assert run("grade", str(copy), *common)[0] == 0
    pages = {s: (out / s / "feedback.html").read_bytes() for s in ("ana", "cy", "dee")}
    # ben fixes his bug; cy changes her file too, but only ben is asked for.
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    (copy / "ben" / "losses.py").write_text(solution)
    (copy / "cy" / "losses.py").write_text(solution)
    code, stdout, stderr = run("grade", str(copy), *common, "--student", "ben")
    assert code == 0, stderr
    assert "[1/1] ben: 48/48" in stderr
    assert [line.split()[0] for line in stdout.splitlines()[1:2]] == ["ben"]
    rows = _rows(out)
    assert sorted(rows) == ["ana", "ben", "cy", "dee", "eve"]  # everyone, from the records
    assert rows["ben"]["score"] == "48"
    assert float(rows["cy"]["score"]) < 48  # not graded again
    for student, page in pages.items():
        assert (out / student / "feedback.html").read_bytes() == page

    code, _, stderr = run("grade", str(copy), *common, "--student", "bne")
    assert code == 2 and "--student bne" in stderr and "did you mean ben?" in stderr


def _late_course(root: Path, tmp_path: Path) -> Path:
    """The repository's course file with a due date and 10% off per started day."""
    raw = yaml.safe_load((root / "grading.yaml").read_text())
    body = raw["assignments"]["linear_classifiers"]
    for key in ("solution", "graders", "release"):
        body[key] = str((root / body[key]).resolve())
    body["due"] = "2026-01-01T23:59:00+00:00"  # past: pages show every check
    body["late_policy"] = {"per_day": 0.1, "max_days": 5}
    path = tmp_path / "grading.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_the_late_penalty_and_final_score_agree_in_every_folder_output(
    root: Path, tmp_path: Path
) -> None:
    """grades.csv, results.json, the feedback page, the class report and the table."""
    folder = tmp_path / "class" / "lou"
    folder.mkdir(parents=True)
    (folder / "losses.py").write_text((root / "solutions/linear_classifiers/losses.py").read_text())
    (folder / "timestamp.txt").write_text("2026-01-03 01:59:00.000000 UTC")  # 2 started days
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "grade", str(folder.parent), "-a", "linear_classifiers", "-o", str(out), "-j", "1",
        "-c", str(_late_course(root, tmp_path)),
    )  # fmt: skip
    assert code == 0, stderr
    row = _rows(out)["lou"]
    assert (row["raw_score"], row["late_penalty"], row["score"], row["max_score"]) == (
        "48", "9.6", "38.4", "48",
    )  # fmt: skip
    results = json.loads((out / "lou" / "results.json").read_text())
    numbers = results["extra_data"]["propgrade"]
    assert results["score"] == 38.4 and numbers["raw_score"] == 48
    assert numbers["late_penalty"] == 9.6 and numbers["max_score"] == 48
    page = (out / "lou" / "feedback.html").read_text()
    assert '<p class="score">38.4<small> / 48 points' in page
    assert "Late penalty: −9.6 (2 days late: 20% off)" in page
    report = (out / "report.html").read_text()
    assert "38.4 / 48" in report and "48 − 9.6" in report
    line = next(li for li in stdout.splitlines() if li.startswith("lou"))
    assert "38.4/48" in line and "late: 48 − 9.6" in line


def test_batch_routes_refuse_the_reduced_layer_unless_allowed(
    root: Path, klass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A silent fallback is how a course ends up graded unprotected: the reduced layer
    # (here forced, elsewhere chosen because bwrap or root is missing) needs the flag.
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "reduced")
    config = ("-a", "linear_classifiers", "-c", str(root / "grading.yaml"))
    out = tmp_path / "out"
    for route in (
        ("grade", str(klass), "-o", str(out), *config),
        ("grade", "--nbgrader", str(tmp_path / "course"), *config),
    ):
        code, _, stderr = run(*route)
        assert code == 2, stderr
        assert "error: only the reduced sandbox layer works here" in stderr
        assert "hint:" in stderr and "apt-get install bubblewrap" in stderr
        assert "--allow-reduced" in stderr
    assert not out.exists()
    code, _, stderr = run("grade", str(klass), "-o", str(out), *config, "-q", "--allow-reduced")
    assert code == 0, stderr
    # Said even with --quiet: which layer graded, and what it does not stop.
    [line] = [s for s in stderr.splitlines() if s.startswith("sandbox: ")]
    assert line.startswith("sandbox: reduced: ") and "file reads are NOT prevented" in line
    assert "does not stop student code from reading files" in (out / "report.html").read_text()
    assert json.loads((out / "ana" / "propgrade.json").read_text())["meta"]["sandbox"] == "reduced"
    # results.json too says what the layer leaves open, on this route as in the bundle
    results = json.loads((out / "ana" / "results.json").read_text())["extra_data"]["propgrade"]
    assert results["sandbox"] == "reduced"
    assert "file reads are NOT prevented" in results["sandbox_description"]
