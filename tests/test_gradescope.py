"""The Gradescope bundle, run as Gradescope would, in a simulated /autograder tree.

``setup.sh``'s apt and pip steps are not run here; ``run_autograder`` uses this test's
interpreter with the *bundled* propgrade source first on its path.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from propgrade.authoring.release import BEGIN, END
from propgrade.config import load_course
from propgrade.integrations.gradescope import build_gradescope_bundle
from propgrade.sandbox import layer_choice

pytestmark = pytest.mark.sandbox

BUGGY_SVM = "margins = np.maximum(0.0, scores - correct_class_scores + 1.0)"
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
# Gradescope's documented results.json keys (gradescope-autograders "specs" page).
TOP_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}


def validate_results(data: dict[str, Any]) -> None:
    """Assert ``data`` follows Gradescope's results.json schema."""
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert isinstance(data["score"], int | float) and not isinstance(data["score"], bool)
    assert isinstance(data["execution_time"], int | float) and data["execution_time"] >= 0
    assert isinstance(data["output"], str)
    assert data.get("visibility", "visible") in VISIBILITIES
    assert data.get("stdout_visibility", "hidden") in VISIBILITIES
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str)
        for key in ("score", "max_score"):
            assert isinstance(test[key], int | float) and not isinstance(test[key], bool)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in {"passed", "failed"}
        if test["max_score"] > 0:  # a 0-point gate (e.g. *_implemented) fails at 0/0
            assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


@pytest.fixture(scope="module")
def bundle(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assignment = load_course(root / "grading.yaml").assignment("linear_classifiers")
    return build_gradescope_bundle(assignment, tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def solution(root: Path) -> str:
    return (root / "solutions/linear_classifiers/losses.py").read_text()


def secret_lines(solution: str) -> list[str]:
    """Every non-trivial line inside a solution region of the reference."""
    lines, inside = [], False
    for line in solution.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.append(line.strip())
    assert len(lines) > 10
    return lines


class Run:
    def __init__(self, root: Path, proc: subprocess.CompletedProcess[str]) -> None:
        self.root = root
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.returncode = proc.returncode
        self.text = (root / "results" / "results.json").read_text()
        self.data: dict[str, Any] = json.loads(self.text)

    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.data["tests"] if t["status"] == "failed"]


def simulate(
    bundle: Path,
    base: Path,
    files: dict[str, str],
    env: dict[str, str] | None = None,
    links: dict[str, Path] | None = None,
) -> Run:
    """Lay out /autograder under ``base`` as Gradescope does and run run_autograder."""
    root = base / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    runner = root / "run_autograder"
    runner.write_bytes((root / "source" / "run_autograder").read_bytes())
    runner.chmod(0o755)
    (root / "results").mkdir()
    (root / "submission").mkdir()
    for rel, text in files.items():
        path = root / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel, target in (links or {}).items():
        (root / "submission" / rel).symlink_to(target)
    run_env = {
        **os.environ,
        "PROPGRADE_AUTOGRADER_ROOT": str(root),
        "PROPGRADE_PYTHON": sys.executable,
        # The bundled copy of propgrade, not this checkout, does the grading.
        "PYTHONPATH": str(root / "source" / "propgrade" / "src"),
        **(env or {}),
    }
    proc = subprocess.run(
        [str(runner)], cwd=root, env=run_env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return Run(root, proc)


def test_bundle_layout(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "bundle.json", "course/grading.yaml"} <= names
    assert "propgrade/pyproject.toml" in names
    assert "propgrade/src/propgrade/sandbox/inside/worker_main.py" in names
    assert "course/solutions/linear_classifiers/losses.py" in names
    assert "course/graders/linear_classifiers/test_hidden.py" in names
    assert not any("__pycache__" in n for n in names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR
    assert "bubblewrap" in setup and "pip install" in setup
    assert subprocess.run(["bash", "-n", "-c", setup], check=False).returncode == 0


def test_bundle_is_reproducible(root: Path, bundle: Path, tmp_path: Path) -> None:
    assignment = load_course(root / "grading.yaml").assignment("linear_classifiers")
    again = build_gradescope_bundle(assignment, tmp_path / "again.zip")
    assert again.read_bytes() == bundle.read_bytes()


def test_bundled_source_is_what_runs(bundle: Path, tmp_path: Path) -> None:
    run = simulate(bundle, tmp_path, {})
    src = run.root / "source" / "propgrade" / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    where = subprocess.run(
        [sys.executable, "-c", "import propgrade; print(propgrade.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(src))


def test_correct_nested_submission_gets_full_marks(
    bundle: Path, tmp_path: Path, solution: str
) -> None:
    run = simulate(bundle, tmp_path, {"hw1/code/losses.py": solution, "notes.txt": "hi"})
    validate_results(run.data)
    assert run.failed() == []
    assert run.data["score"] == sum(t["max_score"] for t in run.data["tests"]) == 48
    assert "hw1/code/losses.py" in run.data["output"]
    visibilities = {t["visibility"] for t in run.data["tests"]}
    assert visibilities == {"visible", "after_due_date"}  # per-check visibility kept
    # The hidden material was deleted before the student's code ran.
    assert not (run.root / "source" / "course").exists()
    assert "score 48" in run.stdout


def test_buggy_submission_gets_partial_marks_with_counterexamples(
    bundle: Path, tmp_path: Path, solution: str
) -> None:
    buggy = solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    run = simulate(bundle, tmp_path, {"losses.py": buggy})
    validate_results(run.data)
    assert 0 < run.data["score"] < 48
    failed = run.failed()
    assert failed and all(t["name"].startswith("svm_") for t in failed)
    nonnegative = next(t for t in failed if t["name"].startswith("svm_vec_nonnegative"))
    assert "failing input" in nonnegative["output"].lower()
    assert "Expected:" in nonnegative["output"] and "Got:" in nonnegative["output"]
    assert "W = " in nonnegative["output"]


def test_missing_file_scores_zero_and_says_why(bundle: Path, tmp_path: Path, solution: str) -> None:
    run = simulate(bundle, tmp_path, {"lossess.py": "x = 1\n", "README.txt": "hello"})
    validate_results(run.data)
    assert run.data["score"] == 0
    assert len(run.failed()) == len(run.data["tests"]) == 52
    assert "no losses.py found" in run.data["output"]
    assert "lossess.py" in run.data["output"]
    for line in secret_lines(solution):
        assert line not in run.text and line not in run.stdout and line not in run.stderr


def test_a_linked_graded_file_is_refused_unread(
    root: Path, bundle: Path, tmp_path: Path, solution: str
) -> None:
    """A losses.py that links to the reference, as unzip restores it from an archive."""
    reference = root / "solutions" / "linear_classifiers" / "losses.py"
    run = simulate(bundle, tmp_path, {}, links={"losses.py": reference})
    validate_results(run.data)
    assert run.data["score"] == 0
    assert "losses.py is a symbolic link" in run.data["output"]
    for line in secret_lines(solution):
        assert line not in run.text and line not in run.stdout and line not in run.stderr


HOSTILE = """
import os
import importlib.util

REFERENCE = {reference!r}


def _steal():
    text = open(REFERENCE).read()
    spec = importlib.util.spec_from_file_location("stolen", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return text, module


def _call(name, args):
    try:
        text, module = _steal()
    except OSError as exc:
        raise RuntimeError("reference not found: " + str(exc))
    # Smuggle the source out through the error message if the call itself cannot win.
    if args[3] > 0:
        raise RuntimeError(text[text.index("### BEGIN SOLUTION") :])
    return getattr(module, name)(*args)


def svm_loss_naive(W, X, y, reg):
    return _call("svm_loss_naive", (W, X, y, reg))


def svm_loss_vectorized(W, X, y, reg):
    return _call("svm_loss_vectorized", (W, X, y, reg))


def softmax_loss_naive(W, X, y, reg):
    return _call("softmax_loss_naive", (W, X, y, reg))


def softmax_loss_vectorized(W, X, y, reg):
    return _call("softmax_loss_vectorized", (W, X, y, reg))
"""


@pytest.mark.parametrize("layer", ["reduced", "full"])
def test_reference_never_reaches_the_student(
    bundle: Path, tmp_path: Path, solution: str, layer: str
) -> None:
    """A submission that reads the bundled reference from disk finds nothing to read,
    even in the reduced layer, where the worker can read every file of the container."""
    reference = tmp_path / "autograder/source/course/solutions/linear_classifiers/losses.py"
    hostile = HOSTILE.format(reference=str(reference))
    run = simulate(bundle, tmp_path, {"losses.py": hostile}, {"PROPGRADE_SANDBOX": layer})
    validate_results(run.data)
    assert run.data["extra_data"]["propgrade"]["sandbox"] == layer
    assert run.data["score"] == 0
    assert "reference not found" in run.text
    for line in secret_lines(solution):
        assert line not in run.text and line not in run.stdout and line not in run.stderr


def test_notebook_only_submission_is_graded_from_its_functions(
    bundle: Path, tmp_path: Path, solution: str
) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# My work"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": solution,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "while True:\n    pass\n",
        },
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    run = simulate(bundle, tmp_path, {"work/hw.ipynb": json.dumps(notebook)})
    validate_results(run.data)
    assert run.data["score"] == 48
    assert "work/hw.ipynb" in run.data["output"]
    # The reference's docstring and the loop, folded into one line.
    assert "2 statements outside functions were not graded (cell 2, cell 3)" in run.data["output"]


def test_the_unchanged_stub_beside_a_notebook_counts_as_not_submitted(
    root: Path, bundle: Path, tmp_path: Path, solution: str
) -> None:
    """The stub rule on Gradescope too: a student who uploads the released folder as it
    came (the stub losses.py untouched) with the work in the notebook gets the
    notebook's grade, as in every other route."""
    code = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    notebook = {
        "cells": [{**code, "source": solution}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    stub = (root / "assignments/linear_classifiers/losses.py").read_text()
    files = {"losses.py": stub, "linear_classifiers.ipynb": json.dumps(notebook)}
    run = simulate(bundle, tmp_path, files)
    validate_results(run.data)
    assert run.data["score"] == 48
    assert (
        "losses.py is the released stub, unchanged, so it counts as not submitted"
        in (run.data["output"])
    )


def test_internal_error_still_writes_valid_results(bundle: Path, tmp_path: Path) -> None:
    run = simulate(bundle, tmp_path, {"losses.py": "x = 1\n"}, {"PROPGRADE_SANDBOX": "bogus"})
    validate_results(run.data)
    assert run.data["score"] == 0 and run.data["tests"] == []
    assert "internal error" in run.data["output"]
    assert "PROPGRADE_SANDBOX" in run.stderr  # the details, for the instructor only


def test_the_bundle_goes_to_out_by_default_where_git_ignores_it(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle holds the reference: by default it lands in out/, never beside the code."""
    from propgrade.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["gradescope", "linear_classifiers", "-c", str(root / "grading.yaml")])
    assert code == 0
    assert (tmp_path / "out" / "autograder.zip").is_file()
    ignored = (root / ".gitignore").read_text().splitlines()
    assert "/out/" in ignored and "autograder*.zip" in ignored


HOSTILE_CORPUS = Path(__file__).parent / "submissions" / "linear_classifiers" / "hostile"
ESCAPEE_GRACE_SECONDS = 1.5  # a surviving daemon rewrites the results within this


@pytest.mark.parametrize("attack", ["results_daemon", "results_direct_write"])
@pytest.mark.parametrize("layer", ["full", "reduced"])
def test_forged_results_never_survive(
    bundle: Path, tmp_path: Path, layer: str, attack: str
) -> None:
    # A stub that forges full marks into results.json, by a daemon that outlives the
    # worker or by writing the file itself: the file holds the grader's 0 on both layers.
    if layer == "full" and not layer_choice.probe_full_layer().ok:
        pytest.skip("the full sandbox does not work here")
    results = tmp_path / "autograder" / "results" / "results.json"
    source = (HOSTILE_CORPUS / attack / "losses.py").read_text()
    source = source.replace("__HOSTILE_RESULTS__", str(results))
    run = simulate(bundle, tmp_path, {"losses.py": source}, {"PROPGRADE_SANDBOX": layer})
    assert run.stdout.startswith(f"score 0: 0 of {len(run.data['tests'])} checks passed")
    assert f"(sandbox: {layer})" in run.stdout
    described = run.data["extra_data"]["propgrade"]["sandbox_description"]
    assert described.startswith(f"{layer}: ")
    if layer == "reduced":  # loud where the full layer is missing: what it does not stop
        assert "file reads are NOT prevented" in described and described in run.stdout
    assert run.data["score"] == 0
    time.sleep(ESCAPEE_GRACE_SECONDS)  # a daemon still alive would have struck by now
    again = json.loads(results.read_text())
    assert again == run.data
    assert not list(results.parent.glob("*.forged"))


# What the bundle's grading process does behind the sandbox's walls (gradescope_run.run),
# run in a process of its own: it becomes a child subreaper and non-dumpable for good.
LEFTOVER_RUN = """
import json, os, sys, time
from pathlib import Path
from propgrade.integrations import gradescope_run

root = Path(sys.argv[1])
GRADED = {"score": 0, "execution_time": 0.1, "output": "graded", "tests": []}
FORGED = {"score": 48, "output": "forged", "tests": []}

def grade_leaving_a_daemon(root):
    # Grading as a worker without the process filter could: a setsid + double fork whose
    # daemon forges results.json for 5 s. Its pid is left in a file to check on later.
    results = root / "results" / "results.json"
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            (root / "daemon.pid").write_text(str(os.getpid()))
            end = time.monotonic() + 5
            while time.monotonic() < end:
                if results.exists():
                    results.write_text(json.dumps(FORGED))
                time.sleep(0.005)
        os._exit(0)
    os.waitpid(middle, 0)  # the daemon is nobody's child now but the subreaper's
    while not (root / "daemon.pid").exists():
        time.sleep(0.005)
    return dict(GRADED)

gradescope_run.grade = grade_leaving_a_daemon
data = gradescope_run.run(root)
time.sleep(1.0)  # a daemon still alive would have rewritten the file by now
pid = int((root / "daemon.pid").read_text())
print(json.dumps({
    "holds_the_grade": json.loads((root / "results" / "results.json").read_text()) == GRADED,
    "daemon_gone": not os.path.exists(f"/proc/{pid}"),
}))
"""


def test_processes_left_by_grading_are_killed_before_results_json_is_written(
    tmp_path: Path,
) -> None:
    # The process filter keeps workers from starting processes; behind it, the grading
    # process is a child subreaper that kills and reaps every leftover before it writes.
    (tmp_path / "results").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", LEFTOVER_RUN, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"holds_the_grade": True, "daemon_gone": True}
    assert "killed 1 process(es) left behind by grading" in proc.stderr


def test_results_json_is_read_back_and_written_again_when_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from propgrade.integrations import gradescope_run

    path = tmp_path / "results.json"
    data = {"score": 0, "tests": []}
    writes: list[str] = []
    real = gradescope_run.atomic_write_text

    def forged_after_the_first_write(target: Path, text: str) -> None:
        real(target, text)
        writes.append(text)
        if len(writes) == 1:  # something changed the file between the write and the check
            target.write_text(json.dumps({"score": 48, "tests": []}))

    monkeypatch.setattr(gradescope_run, "atomic_write_text", forged_after_the_first_write)
    gradescope_run.write_results(path, data)
    assert len(writes) == 2 and json.loads(path.read_text()) == data

    def always_forged(target: Path, text: str) -> None:
        target.write_text(json.dumps({"score": 48, "tests": []}))

    monkeypatch.setattr(gradescope_run, "atomic_write_text", always_forged)
    with pytest.raises(gradescope_run.ResultsTampered):
        gradescope_run.write_results(path, data)
