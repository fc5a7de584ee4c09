"""``propgrade similarity``: measured on planted copies, and the command's files.

The measurement (tests/similarity_corpus.py) ranks every pair of a class made of the
correct fixtures, independently written solutions and disguised copies of fixtures.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from similarity_corpus import ASSIGNMENTS, ROOT, assignment_config, measure

from propgrade.cli import main
from propgrade.similarity.compare import THRESHOLD, compare
from propgrade.similarity.sources import read_stub, read_students


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_planted_copies_rank_above_every_independent_pair(name: str) -> None:
    result = measure(name)
    print(result.summary(name))
    assert len(result.planted) >= 4 and len(result.independent) >= 50
    # Every disguised copy outranks every pair of independently written solutions...
    assert result.margin > 0, result.summary(name)
    # ...no independent pair is highlighted, and most copies are (the threshold is one
    # number for every course; the ranking is what the margin measures).
    assert result.false_positives == [], result.summary(name)
    assert len(result.highlighted) >= len(result.planted) - 1, result.summary(name)


@pytest.mark.parametrize(
    ("name", "source", "function"),
    [
        ("linear_classifiers", "correct_logsumexp", "softmax_loss_vectorized"),
        ("optimizers", "correct_local_arrays", "adam"),
        ("knn", "correct_no_clip", "compute_distances_no_loops"),
    ],
)
def test_one_copied_function_shows_through_its_function_score(
    name: str, source: str, function: str
) -> None:
    result = measure(name)
    pair = next(
        p
        for p in result.comparison.pairs
        if {result.comparison.documents[p.a].name, result.comparison.documents[p.b].name}
        == {"plant_one_function", source}
    )
    assert pair.unit == function
    assert pair.units["(whole file)"] < THRESHOLD <= pair.score


def _student(root: Path, name: str, source: Path) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    shutil.copyfile(source, folder / source.name)


def test_the_released_stub_never_counts(tmp_path: Path) -> None:
    assignment = assignment_config("optimizers")
    stub = ROOT / "assignments" / "optimizers" / "optim.py"
    for name in ("a", "b"):
        _student(tmp_path, name, stub)
    documents, _ = read_students([(n, tmp_path / n) for n in "ab"], assignment)
    assert compare(documents, read_stub(assignment)).pairs == []
    # Without the stub subtracted, the same two files share everything.
    assert compare(documents, None).pairs


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": source}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_command_writes_page_csv_and_names_known_sources(tmp_path: Path) -> None:
    fixtures = ROOT / "tests" / "submissions" / "optimizers"
    planted = ROOT / "tests" / "similarity" / "optimizers" / "planted"
    independent = ROOT / "tests" / "similarity" / "optimizers" / "independent"
    subs = tmp_path / "subs"
    hostile = "<img src=x onerror=alert(1)>"
    _student(subs, hostile, planted / "plant_ufuncs_renamed" / "optim.py")
    _student(subs, "textbook", fixtures / "correct_textbook" / "optim.py")
    for d in sorted(independent.iterdir()):
        _student(subs, d.name, d / "optim.py")
    # A notebook-only submission is compared on its function definitions.
    (subs / "notebook_only").mkdir()
    source = (planted / "plant_one_function" / "optim.py").read_text()
    (subs / "notebook_only" / "work.ipynb").write_text(_notebook(source))
    # A link to someone else's file is refused by the intake, as when grading.
    (subs / "linked").mkdir()
    os.symlink(fixtures / "correct_local_arrays" / "optim.py", subs / "linked" / "optim.py")
    (subs / "broken").mkdir()
    (subs / "broken" / "optim.py").write_text("def sgd(:\n")
    known = tmp_path / "public"
    (known / "repo").mkdir(parents=True)
    shutil.copyfile(fixtures / "correct_local_arrays" / "optim.py", known / "repo" / "optim.py")
    shutil.copyfile(fixtures / "correct_numpy_ufuncs" / "optim.py", known / "repo" / "ufuncs.py")
    out = tmp_path / "out"
    code = main(
        [
            "similarity",
            str(subs),
            "--assignment",
            "optimizers",
            "--out",
            str(out),
            "--known",
            str(known),
            "--config",
            str(ROOT / "grading.yaml"),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((out / "similarity.csv").open()))
    top = {(r["a"], r["b"]) for r in rows if float(r["score"]) >= THRESHOLD}
    assert (hostile, "public/repo/ufuncs.py") in top
    assert ("notebook_only", "public/repo/optim.py") in top
    assert all(r["a"] not in ("linked", "broken") for r in rows)
    page = (out / "similarity.html").read_text()
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "known source public/repo/ufuncs.py" in page
    assert "plagiarism" not in page.lower() and "similar, review by hand" in page
    assert 'class="match"' in page and 'id="chart-pair-scores"' in page
    assert "links and special files are never read" in page and "does not parse" in page


def test_an_unchanged_stub_beside_a_notebook_compares_the_notebook(tmp_path: Path) -> None:
    """``nbgrader submit`` hands in the released graded file, unchanged, with every
    notebook-only submission. Grading reads the notebook then; so must the comparison, or
    the student's own code is never compared with anyone's."""
    fixtures = ROOT / "tests" / "submissions" / "optimizers"
    source = fixtures / "correct_local_arrays" / "optim.py"
    subs = tmp_path / "subs"
    _student(subs, "stub_and_notebook", ROOT / "assignments" / "optimizers" / "optim.py")
    (subs / "stub_and_notebook" / "work.ipynb").write_text(_notebook(source.read_text()))
    _student(subs, "file", source)
    _student(subs, "other", fixtures / "correct_textbook" / "optim.py")
    assignment = assignment_config("optimizers")
    folders = [(p.name, p) for p in sorted(subs.iterdir())]
    documents, skipped = read_students(folders, assignment)
    assert skipped == []
    read = {d.name: d for d in documents}
    assert read["stub_and_notebook"].origin == "work.ipynb"
    pairs = compare(documents, read_stub(assignment)).pairs
    names = {frozenset((documents[p.a].name, documents[p.b].name)): p.score for p in pairs}
    assert names.get(frozenset(("stub_and_notebook", "file")), 0.0) >= THRESHOLD


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    """The course's file_kb caps what is read, as when grading: a padded file is left out
    with the reason, not parsed."""
    assignment = assignment_config("optimizers")
    source = ROOT / "tests" / "submissions" / "optimizers" / "correct_textbook" / "optim.py"
    _student(tmp_path, "padded", source)
    padding = "#" * assignment.limits.file_bytes
    (tmp_path / "padded" / "optim.py").write_text(source.read_text() + padding)
    documents, skipped = read_students([("padded", tmp_path / "padded")], assignment)
    assert documents == []
    assert f"the limit is {assignment.limits.file_bytes} bytes" in skipped[0].reason


def test_class_report_links_the_similarity_report(tmp_path: Path) -> None:
    from propgrade.engine.results import SubmissionResult
    from propgrade.reports import write_class_report

    results = [SubmissionResult("s", "optimizers", [])]
    assert "similarity.html" not in write_class_report(tmp_path, results).read_text()
    (tmp_path / "similarity.html").write_text("")
    report = write_class_report(tmp_path, results)
    assert 'href="similarity.html"' in report.read_text()


def test_code_most_of_the_class_writes_alike_weighs_nothing(tmp_path: Path) -> None:
    """Six students share the textbook's sgd, sgd_momentum and rmsprop word for word, each
    with an adam of their own: the shared functions are how the class writes them, and no
    pair stands out."""
    fixtures = ROOT / "tests" / "submissions" / "optimizers"
    independent = ROOT / "tests" / "similarity" / "optimizers" / "independent"
    textbook = (fixtures / "correct_textbook" / "optim.py").read_text()
    common = textbook[: textbook.index("def adam(")]
    adams = [
        fixtures / "correct_local_arrays",
        fixtures / "correct_numpy_ufuncs",
        fixtures / "correct_reference",
        independent / "indep_dict_get",
        independent / "indep_compact",
        independent / "indep_named_state",
    ]
    folders = []
    for n, folder in enumerate(adams):
        text = (folder / "optim.py").read_text()
        (tmp_path / f"s{n}").mkdir()
        (tmp_path / f"s{n}" / "optim.py").write_text(common + text[text.index("def adam(") :])
        folders.append((f"s{n}", tmp_path / f"s{n}"))
    assignment = assignment_config("optimizers")
    documents, _ = read_students(folders, assignment)
    comparison = compare(documents, read_stub(assignment))
    assert all(p.units.get("sgd_momentum", 0.0) == 0.0 for p in comparison.pairs)
    assert max((p.score for p in comparison.pairs), default=0.0) < THRESHOLD


def test_similarity_run_into_a_graded_folder_links_itself(tmp_path: Path) -> None:
    from propgrade.engine.results import SubmissionResult
    from propgrade.export import write_record

    subs = tmp_path / "subs"
    fixtures = ROOT / "tests" / "submissions" / "optimizers"
    for name in ("correct_textbook", "correct_adam_paper_form"):
        _student(subs, name, fixtures / name / "optim.py")
    out = tmp_path / "out"
    for name in ("correct_textbook", "correct_adam_paper_form"):
        write_record(out, SubmissionResult(name, "optimizers", []))
    args = ["similarity", str(subs), "-a", "optimizers", "-o", str(out), "-q"]
    assert main([*args, "-c", str(ROOT / "grading.yaml")]) == 0
    assert 'href="similarity.html"' in (out / "report.html").read_text()
    # No student page was written: only the class report is rebuilt.
    assert not list(out.glob("*/feedback.html"))


def test_a_missing_known_folder_is_an_error(tmp_path: Path) -> None:
    import io

    err = io.StringIO()
    _student(tmp_path / "subs", "a", ROOT / "assignments" / "optimizers" / "optim.py")
    args = ["similarity", str(tmp_path / "subs"), "-a", "optimizers", "-o", str(tmp_path)]
    args += ["--known", str(tmp_path / "nowhere"), "-c", str(ROOT / "grading.yaml")]
    assert main(args, out=io.StringIO(), err=err) == 2
    assert "--known folder not found" in err.getvalue()


def test_a_python2_known_source_is_read_block_by_block(tmp_path: Path) -> None:
    """Public solutions of older courses are Python 2: a ``print`` statement in a helper
    must not hide the graded function next to it."""
    from propgrade.similarity.sources import read_known

    source = ROOT / "tests" / "submissions" / "optimizers" / "correct_local_arrays" / "optim.py"
    known = tmp_path / "public"
    known.mkdir()
    text = source.read_text() + '\n\ndef check():\n    print "adam ok"\n'
    (known / "optim.py").write_text(text)
    (documents, skipped) = read_known([known], assignment_config("optimizers"))
    assert skipped == [] and "adam" in documents[0].units.streams
    # A student's file is not read that way: it is not compared, as it is not graded.
    _student(tmp_path / "subs", "s", known / "optim.py")
    students, left_out = read_students(
        [("s", tmp_path / "subs" / "s")], assignment_config("optimizers")
    )
    assert students == [] and "does not parse" in left_out[0].reason


def test_shared_weights_do_not_depend_on_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import propgrade.similarity.compare as compare_module

    sets = [frozenset({1, 2, 3, 4}), frozenset({2, 3, 5}), frozenset({4, 5, 6, 7}), frozenset()]
    weights = {h: 0.5 + h for h in range(1, 8)}
    whole, totals = compare_module.shared_weights(sets, weights)
    assert whole[0, 1] == weights[2] + weights[3] and totals[2] == 4.5 + 5.5 + 6.5 + 7.5
    monkeypatch.setattr(compare_module, "CHUNK", 3)
    chunked, chunked_totals = compare_module.shared_weights(sets, weights)
    assert np.array_equal(whole, chunked) and np.array_equal(totals, chunked_totals)


ORIGINAL = '''
import numpy as np


def adam(w, dw, config=None):
    """Performs the Adam update rule."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)  # the step
    m = config["m"] * 0.9 + 0.1 * dw
    assert m.shape == w.shape, "moments of the weights' shape"
    return w - config["learning_rate"] * m / np.sqrt(config["v"]), config
'''
DISGUISED = """
import numpy
import numpy as np
def adam(weights,grad,cfg=None):
    # renamed, recommented, reformatted
    if cfg is None: cfg = {}
    cfg.setdefault('lr', 1e-3)
    mom = (cfg['first'] * 0.9) + (0.1 * grad)
    assert (mom.shape == weights.shape), 'same shape'
    return (weights - cfg['lr'] * mom / np.sqrt(cfg['second'])), cfg
"""


def test_names_strings_comments_docstrings_and_layout_leave_no_token() -> None:
    from propgrade.similarity.tokens import FILE, units_of

    def texts(source: str) -> dict[str, list[str]]:
        units = units_of(source, ("adam",)).streams
        return {unit: [t.text for t in tokens] for unit, tokens in units.items()}

    assert texts(DISGUISED) == texts(ORIGINAL)
    assert set(texts(ORIGINAL)) == {FILE, "adam"}
    # The arithmetic and the API stay: another constant or method is another program.
    assert texts(DISGUISED.replace("0.9", "0.99")) != texts(ORIGINAL)
    assert texts(DISGUISED.replace("np.sqrt", "np.abs")) != texts(ORIGINAL)


def test_command_reports_progress_and_names_known_sources(tmp_path: Path) -> None:
    """Progress on stderr as the class is read and compared (silenced by --quiet); the
    summary on stdout says "similar, review by hand" and marks a known source as such."""
    import io

    fixtures = ROOT / "tests" / "submissions" / "optimizers"
    subs = tmp_path / "subs"
    for name in ("correct_textbook", "correct_local_arrays", "correct_numpy_ufuncs"):
        _student(subs, name, fixtures / name / "optim.py")
    known = tmp_path / "public"
    known.mkdir()
    shutil.copyfile(fixtures / "correct_local_arrays" / "optim.py", known / "optim.py")
    args = ["similarity", str(subs), "-a", "optimizers", "-o", str(tmp_path / "out")]
    args += ["--known", str(known), "-c", str(ROOT / "grading.yaml")]
    out, err = io.StringIO(), io.StringIO()
    assert main(args, out=out, err=err) == 0
    assert "[3/3] read" in err.getvalue().splitlines()
    assert "fingerprinted 4 files" in err.getvalue()
    lines = out.getvalue().splitlines()
    assert "1 pairs similar, review by hand" in lines[0]
    assert any(
        line.split()[1:3] == ["correct_local_arrays", "known"] and "public/optim.py" in line
        for line in lines
    ), lines
    quiet_err = io.StringIO()
    assert main([*args, "--quiet"], out=io.StringIO(), err=quiet_err) == 0
    assert quiet_err.getvalue() == ""
