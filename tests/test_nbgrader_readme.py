"""The README's nbgrader section, run as written: its shell commands from the repository's
root, with the example ``nbgrader_config.py``, real students going through nbgrader's
exchange, and ``nbgrader export`` agreeing with ``grades.csv`` row by row."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader.api")

ROOT = Path(__file__).resolve().parent.parent
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECTION = "## Running an nbgrader course"
BUGGY_SVM = "margins = np.maximum(0.0, scores - correct_class_scores + 1.0)"


def readme_blocks() -> list[str]:
    """The indented shell blocks of the README's nbgrader section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n#", start + len(SECTION))
    blocks: list[list[str]] = []
    previous_blank = True
    for line in text[start:end].splitlines():
        if line.startswith("    ") and not line.startswith("    -"):
            if previous_blank or not blocks:
                blocks.append([])
            blocks[-1].append(line[4:])
            previous_blank = False
        else:
            previous_blank = not line.strip()
            if line.strip() and blocks and blocks[-1] and not blocks[-1][-1].endswith("\\"):
                previous_blank = True
    return ["\n".join(block) for block in blocks]


def shell(repo: Path, script: str) -> str:
    """``script`` in bash from ``repo``, with a PATH where nothing is activated."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = PLAIN_PATH
    # The source of this checkout, whichever one the virtualenv was installed from: in a
    # mutated copy (tools/check_mutations.py) the copy's code is what must run.
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{script}\n---\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def as_student(repo: Path, student: str, exchange: Path, *args: str) -> None:
    home = repo.parent / "homes" / student
    home.mkdir(parents=True, exist_ok=True)
    options = f"--student={student} --course=cs231n --Exchange.root={exchange}"
    options += f" --Exchange.cache={home / '.cache'}"
    shell(repo, f". .venv/bin/activate\ncd {home}\nnbgrader {' '.join(args)} {options}")


def written_answer(work: Path, student: str) -> str:
    import nbformat

    path = work / "linear_classifiers.ipynb"
    nb = nbformat.read(path, as_version=4)
    text = f"{student} wrote: with W near 0 every margin is 1, so the loss is C - 1."
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "inline_question_1":
            cell.source = text
    nbformat.write(nb, path)
    return text


def in_notebook(work: Path, solution: str) -> None:
    """The graded functions written in a new cell of the notebook; losses.py untouched."""
    import nbformat

    path = work / "linear_classifiers.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(solution))
    nbformat.write(nb, path)


def test_the_readme_nbgrader_section_runs_as_written(tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert len(blocks) == 2, blocks
    setup, grading = blocks
    assert setup.startswith(". .venv/bin/activate\n")
    assert "propgrade grade --nbgrader COURSE --assignment linear_classifiers" in grading

    # A copy of the repository, so that `propgrade release` writes into the copy.
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("README.md", "grading.yaml"):
        shutil.copy(ROOT / name, repo / name)
    for name in ("assignments", "solutions", "graders", "examples"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".venv").symlink_to(Path(sys.prefix))
    # The one change to the example: an exchange this test may write to.
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    config = repo / "examples" / "nbgrader" / "nbgrader_config.py"
    assert "/srv/nbgrader/exchange" in config.read_text()
    config.write_text(config.read_text().replace("/srv/nbgrader/exchange", str(exchange)))

    shell(repo, setup)

    solution = (ROOT / "solutions/linear_classifiers/losses.py").read_text()
    buggy = solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    answers = {}
    # dee works in the notebook only: `nbgrader submit` hands in the fetched stub too.
    for student, losses in (("ana", solution), ("ben", buggy), ("cy", solution), ("dee", None)):
        as_student(repo, student, exchange, "fetch_assignment", "linear_classifiers")
        work = repo.parent / "homes" / student / "linear_classifiers"
        answers[student] = written_answer(work, student)
        if losses is None:
            in_notebook(work, solution)
        else:
            (work / "losses.py").write_text(losses)
        if student == "ben":  # a notebook that is not the assignment's, handed in too
            shutil.copy(work / "linear_classifiers.ipynb", work / "extra.ipynb")
        as_student(repo, student, exchange, "submit", "linear_classifiers")

    said = shell(repo, ". .venv/bin/activate\n" + grading)
    course = repo / "COURSE"

    # The gradebook is the course's, as nbgrader run in COURSE sees it; none in the repo.
    assert (course / "gradebook.db").is_file()
    assert not (repo / "gradebook.db").exists()
    # propgrade's own warnings: only that ben's extra notebook stays in submitted/.
    warned = re.findall(r"^warning: (.*)$", said, re.M)
    assert warned == [
        "ben: extra.ipynb left in submitted/, not copied to autograded/: not a notebook of "
        "'linear_classifiers' in the gradebook"
    ], said
    with (course / "grades.csv").open() as handle:  # what `nbgrader export` wrote
        exported = {row["student_id"]: row for row in csv.DictReader(handle)}
    ours_path = course / "propgrade" / "linear_classifiers" / "grades.csv"
    with ours_path.open() as handle:
        ours = {row["student"]: row for row in csv.DictReader(handle)}
    assert sorted(exported) == sorted(ours) == ["ana", "ben", "cy", "dee"]
    for student, row in ours.items():
        theirs = exported[student]
        for our_key, their_key in (
            ("raw_score", "raw_score"),
            ("late_penalty", "late_submission_penalty"),
            ("score", "score"),
            ("max_score", "max_score"),
        ):
            assert float(row[our_key]) == pytest.approx(float(theirs[their_key])), (
                student,
                our_key,
            )
    # 48 check points and 4 written points; one written answer of four is given.
    assert {s: float(r["max_score"]) for s, r in ours.items()} == dict.fromkeys(ours, 52.0)
    assert {s: float(ours[s]["raw_score"]) for s in ("ana", "cy", "dee")} == dict.fromkeys(
        ("ana", "cy", "dee"), 48.0
    )
    dee = course / "submitted" / "dee" / "linear_classifiers"
    assert (dee / "losses.py").read_bytes() == (
        repo / "assignments/linear_classifiers/losses.py"
    ).read_bytes()
    assert float(ours["ben"]["raw_score"]) < 48

    # Every autograded notebook holds the student's written answer, for formgrader.
    import nbformat

    for student, text in answers.items():
        path = course / "autograded" / student / "linear_classifiers" / "linear_classifiers.ipynb"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert any(c.source == text for c in nb.cells), student
        assert re.search(r"propgrade check ", "".join(c.source for c in nb.cells))

    # propgrade's page says the written answers wait for a grader (one answered of four,
    # nbgrader gives an unchanged answer 0), not that they are graded.
    for student in answers:
        page = course / "feedback" / student / "linear_classifiers" / "linear_classifiers.html"
        text = " ".join(re.sub(r"<[^>]+>", " ", page.read_text()).split())
        assert "written answers 0 / 4 so far: 1 written answer awaits hand grading" in text
        if student == "ben":
            assert "extra.ipynb: not a notebook of this assignment, so not graded" in text

    # nbgrader's own feedback, as the README's next step says, works for everyone.
    assert not (course / "autograded/ben/linear_classifiers/extra.ipynb").exists()
    assert (course / "submitted/ben/linear_classifiers/extra.ipynb").is_file()
    feedback = "(cd COURSE && nbgrader generate_feedback linear_classifiers --force)"
    shell(repo, f". .venv/bin/activate\n{feedback}")
    for student, text in answers.items():
        page = course / "feedback" / student / "linear_classifiers" / "linear_classifiers.html"
        assert text in page.read_text(), student
