"""Notebooks: grading one without running it, and the released student notebook."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from propgrade.cli import main
from propgrade.errors import ReleaseError
from propgrade.intake.locate import SubmissionProblem
from propgrade.intake.notebook import collapse_notes, extract_functions


def nb(*sources: str, markdown: str = "# notes") -> str:
    cells: list[dict[str, object]] = [{"cell_type": "markdown", "metadata": {}, "source": markdown}]
    for source in sources:
        cells.append(
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                # Jupyter stores sources as lists of lines.
                "source": source.splitlines(keepends=True),
            }
        )
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def run_module(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, "synthesized.py", "exec"), namespace)
    return namespace


def test_only_imports_and_functions_are_kept(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    text = nb(
        "%matplotlib inline\nimport shutil\nimport numpy as np\nfrom math import log",
        f"shutil.rmtree({str(canary)!r})",
        "while True:\n    pass",
        "def f(x):\n    return np.sum(x) + log(1)\n\nresult = f([1, 2])\nprint(result)",
        "!propgrade check\nDELTA = 1.0\nclass Helper:\n    pass",
    )
    extracted = extract_functions(text, "hw.ipynb")
    assert extracted.functions == ["f"]
    assert "rmtree" not in extracted.source and "while" not in extracted.source
    assert "print" not in extracted.source and "DELTA" not in extracted.source
    namespace = run_module(extracted.source)  # terminates, deletes nothing
    assert canary.is_dir()
    f = namespace["f"]
    assert callable(f) and f([1, 2]) == 3
    notes = "\n".join(extracted.notes)
    # Cells are numbered as the notebook shows them, markdown included.
    assert "cell 3, line 1: an expression at top level, not graded" in notes
    assert "cell 4, line 1: a while loop at top level, not graded" in notes
    assert "a class definition" in notes and "an assignment" in notes


def test_decorators_and_computed_defaults_do_not_run_at_import() -> None:
    text = nb(
        "import os\n"
        "@os.system\n"
        "def g():\n    return 1\n"
        "def h(x=os.system('echo pwned')):\n    return x\n"
        "def k(x=-1.5, y=None, *, z=(1, 'a')):\n    return x\n"
    )
    extracted = extract_functions(text)
    assert extracted.functions == ["g", "k"]
    assert "@os.system" not in extracted.source and "pwned" not in extracted.source
    assert any("function h skipped" in n for n in extracted.notes)
    namespace = run_module(extracted.source)
    assert callable(namespace["g"]) and namespace["k"]() == -1.5  # type: ignore[operator]


def test_cells_that_are_not_python_are_skipped_with_a_note() -> None:
    extracted = extract_functions(nb("def broken(:\n    pass", "def ok():\n    return 2"))
    assert extracted.functions == ["ok"]
    assert any("cell 2: not valid Python" in n for n in extracted.notes)


@pytest.mark.parametrize("text", ["not json", json.dumps({"cells": 3}), json.dumps([1])])
def test_a_file_that_is_not_a_notebook_is_a_submission_problem(text: str) -> None:
    with pytest.raises(SubmissionProblem, match="not a valid notebook"):
        extract_functions(text, "hw.ipynb")


# -- the released student notebook ----------------------------------------------------------

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbgrader")

from propgrade.authoring.notebook_release import release_notebook  # noqa: E402

NOTEBOOK = "linear_classifiers.ipynb"


def test_released_notebook_has_no_answers_and_locks_the_given_code(root: Path) -> None:
    source = nbformat.read(str(root / "solutions/linear_classifiers" / NOTEBOOK), 4)
    released = nbformat.read(str(root / "assignments/linear_classifiers" / NOTEBOOK), 4)
    assert [c.id for c in source.cells] == [c.id for c in released.cells]
    answers = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.metadata.nbgrader.grade_id for c in answers] == [
        f"inline_question_{i}" for i in range(1, 5)
    ]
    for cell in answers:
        assert cell.source == "YOUR ANSWER HERE"
        assert cell.metadata.nbgrader.grade and cell.metadata.nbgrader.points == 1
    instructor_answers = " ".join(
        c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")
    )
    assert "strictly convex" in instructor_answers
    released_text = (root / "assignments/linear_classifiers" / NOTEBOOK).read_text()
    assert "strictly convex" not in released_text and "C − 1: every one" not in released_text
    for cell in released.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert cell.metadata.nbgrader.locked and cell.metadata.editable is False
            assert "checksum" in cell.metadata.nbgrader


def test_release_of_a_notebook_without_cell_ids_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "a.ipynb"
    source.write_text(nb("x = 1"))
    with pytest.raises(ReleaseError, match="needs an 'id'"):
        release_notebook(source, tmp_path / "b.ipynb")


def test_data_file_is_small(root: Path) -> None:
    data = root / "solutions/linear_classifiers/digits.npz"
    assert data.stat().st_size < 200_000
    np = pytest.importorskip("numpy")
    with np.load(data) as arrays:
        assert arrays["X"].shape == (1797, 64) and arrays["y"].shape == (1797,)


@pytest.mark.nbgrader
def test_released_notebook_runs_top_to_bottom_with_the_reference(
    root: Path, tmp_path: Path
) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    pytest.importorskip("ipykernel")
    folder = tmp_path / "student"
    shutil.copytree(root / "assignments/linear_classifiers", folder)
    shutil.copy(root / "solutions/linear_classifiers/losses.py", folder / "losses.py")
    notebook = nbformat.read(str(folder / NOTEBOOK), 4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = {
        cell.id: "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        for cell in notebook.cells
        if cell.cell_type == "code"
    }
    assert "all public checks passed" in outputs["checks"]
    assert "44 passed, 0 failed" in outputs["checks"]
    assert "validation accuracy" in outputs["sgd"]
    accuracies = [
        float(part.split()[0]) for part in outputs["sgd"].split("validation accuracy")[1:]
    ]
    assert len(accuracies) == 2 and min(accuracies) > 0.85
    images = [
        cell.id
        for cell in notebook.cells
        if cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.outputs)
    ]
    assert {"curves", "weights"} <= set(images)


# -- notebook-only submissions of the released notebook --------------------------------------


def test_an_import_of_the_graded_module_means_the_notebooks_own_functions() -> None:
    text = nb(
        "import losses\nfrom losses import f as g\nfrom losses import *\nimport numpy as np",
        "def f(x):\n    return np.sum(x)",
        "def h(x):\n    return g(x) + losses.f(x)",
    )
    extracted = extract_functions(text, "hw.ipynb", graded=["h"], module="losses")
    assert "import losses" not in extracted.source and "from losses" not in extracted.source
    namespace = run_module(extracted.source)
    assert namespace["h"]([1, 2]) == 6  # type: ignore[operator]
    notes = "\n".join(extracted.notes)
    assert "cell 2, line 1: `import losses` resolved to the functions of this notebook" in notes
    assert "`from losses import *` resolved" in notes


def test_imports_the_graded_functions_never_use_are_dropped_with_a_note() -> None:
    text = nb(
        "import importlib\nimport matplotlib.pyplot as plt\n"
        "import numpy as np\nfrom math import log",
        "from propgrade.cli import main as propgrade",
        "def helper(x):\n    return log(x)",
        "def graded(x):\n    return np.float64(helper(x))",
        "def plot(x):\n    plt.plot(x)",
    )
    extracted = extract_functions(text, "hw.ipynb", graded=["graded"])
    assert "matplotlib" not in extracted.source and "propgrade.cli" not in extracted.source
    assert "import numpy as np" in extracted.source and "from math import log" in extracted.source
    assert extracted.functions == ["helper", "graded", "plot"]  # kept, even if unused
    notes = "\n".join(extracted.notes)
    assert "`import matplotlib.pyplot as plt` dropped: the graded functions do not use it" in notes
    assert "`from propgrade.cli import main as propgrade` dropped" in notes
    assert "`import importlib` dropped" in notes
    assert run_module(extracted.source)["graded"](1.0) == 0.0  # type: ignore[operator]


def test_not_graded_notes_collapse_into_one_line_with_a_count() -> None:
    notes = [
        "losses.py was not submitted: graded the imports and functions of hw.ipynb (f)",
        "cell 2, line 1: an assignment at top level, not graded",
        "cell 2, line 3: a for loop at top level, not graded",
        "cell 5, line 1: an expression at top level, not graded",
        "cell 6, line 1: `import matplotlib.pyplot as plt` dropped: the graded functions ...",
    ]
    collapsed = collapse_notes(notes)
    assert collapsed == [
        notes[0],
        notes[4],
        "3 statements outside functions were not graded (cell 2, cell 5): only imports and "
        "function definitions are",
    ]
    assert collapse_notes(notes[:2]) == notes[:2]


def _notebook_with_reference(root: Path, dest: Path) -> Path:
    """The released notebook with the reference functions pasted into a new cell."""
    notebook = json.loads((root / "assignments/linear_classifiers" / NOTEBOOK).read_text())
    reference = (root / "solutions/linear_classifiers/losses.py").read_text()
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    notebook["cells"].insert(2, {**cell, "source": reference.splitlines(keepends=True)})
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(notebook))
    return dest


def test_the_released_notebook_with_the_reference_pasted_in_gets_full_marks(
    root: Path, tmp_path: Path
) -> None:
    _notebook_with_reference(root, tmp_path / "subs" / "nora" / NOTEBOOK)
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "subs"), "--assignment", "linear_classifiers"]
    argv += ["--out", str(out), "--config", str(root / "grading.yaml")]
    printed = io.StringIO()
    assert main(argv, printed, io.StringIO()) == 0
    record = json.loads((out / "nora" / "propgrade.json").read_text())
    points = sum(check["points"] for check in record["checks"])
    assert (points, len(record["checks"])) == (48, 52), printed.getvalue()
    notes = "\n".join(record["meta"]["intake_notes"])
    assert (
        "`import losses` resolved" in notes and "`import matplotlib.pyplot as plt` dropped" in notes
    )
    page = (out / "nora" / "feedback.html").read_text()
    assert "statements outside functions were not graded" in page
    assert "at top level, not graded" not in page


def test_check_accepts_a_notebook(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "student"
    shutil.copytree(root / "assignments/linear_classifiers", folder)
    mine = _notebook_with_reference(root, folder / "mine.ipynb")
    printed = io.StringIO()
    # losses.py next to it is the unanswered stub: the notebook is what is checked.
    assert main(["check", str(mine)], printed, io.StringIO()) == 0, printed.getvalue()
    assert "44 passed, 0 failed" in printed.getvalue()
    assert "statements outside functions were not graded" in printed.getvalue()


def test_the_feedback_page_shows_the_error_before_the_notes(root: Path, tmp_path: Path) -> None:
    notebook = json.loads((root / "assignments/linear_classifiers" / NOTEBOOK).read_text())
    broken = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    notebook["cells"].insert(
        2,
        # an allowed package's missing module: the whole file cannot be imported
        {
            **broken,
            "source": "import numpy.nothing_here\n\ndef svm_loss_naive(W, X, y, reg):\n"
            "    return numpy.nothing_here\n",
        },
    )
    (tmp_path / "subs" / "olga").mkdir(parents=True)
    (tmp_path / "subs" / "olga" / NOTEBOOK).write_text(json.dumps(notebook))
    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "subs"), "--assignment", "linear_classifiers"]
    argv += ["--out", str(out), "--config", str(root / "grading.yaml")]
    main(argv, io.StringIO(), io.StringIO())
    page = (out / "olga" / "feedback.html").read_text()
    error = page.index("No module named &#x27;numpy.nothing_here&#x27;")
    assert error < page.index("statements outside functions were not graded")


def test_an_unchanged_stub_counts_as_not_submitted_in_check_and_grade(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rule in every route: the released stub beside a notebook that defines the
    graded functions counts as not submitted, and the notebook is graded."""
    folder = tmp_path / "subs" / "nora"
    shutil.copytree(root / "assignments/linear_classifiers", folder)
    _notebook_with_reference(root, folder / NOTEBOOK)  # losses.py stays the stub
    monkeypatch.chdir(folder)
    printed = io.StringIO()
    assert main(["check"], printed, io.StringIO()) == 0, printed.getvalue()
    assert "44 passed, 0 failed" in printed.getvalue()
    assert "losses.py is the released stub, unchanged, so it counts as not submitted" in (
        printed.getvalue()
    )

    out = tmp_path / "out"
    argv = ["grade", str(tmp_path / "subs"), "--assignment", "linear_classifiers"]
    argv += ["--out", str(out), "--config", str(root / "grading.yaml")]
    assert main(argv, io.StringIO(), io.StringIO()) == 0
    record = json.loads((out / "nora" / "propgrade.json").read_text())
    assert sum(check["points"] for check in record["checks"]) == 48
    assert record["meta"]["graded_from"] == NOTEBOOK

    # Both changed: the graded file wins, and the feedback says the notebook was not graded.
    stub = (folder / "losses.py").read_text()
    (folder / "losses.py").write_text(stub + "\n# started, then moved to the notebook\n")
    assert main([*argv, "--no-resume"], io.StringIO(), io.StringIO()) == 0
    record = json.loads((out / "nora" / "propgrade.json").read_text())
    assert record["meta"]["graded_from"] == "losses.py"
    assert sum(check["points"] for check in record["checks"]) == 0
    page = (out / "nora" / "feedback.html").read_text()
    assert "graded losses.py, which differs from the released stub" in page
    assert "when a submission holds both, losses.py is graded" in page


def test_a_notebooks_errors_name_its_cell_and_line(root: Path, tmp_path: Path) -> None:
    """The student has no losses.py: a traceback points into the notebook's cells."""
    folder = tmp_path / "student"
    shutil.copytree(root / "assignments/linear_classifiers", folder)
    reference = (root / "solutions/linear_classifiers/losses.py").read_text()
    broken = reference.replace(
        "def svm_loss_naive(",
        "def svm_loss_naive(W, X, y, reg):\n    raise KeyError('oops')\n\n\ndef _old(",
        1,
    )
    missing = broken.replace("raise KeyError('oops')", "return not_there(W)")
    mine = folder / "mine.ipynb"
    mine.write_text(nb("import numpy as np\nfrom numpy import not_there\n", missing))
    printed = io.StringIO()
    assert main(["check", str(mine)], printed, io.StringIO()) == 1
    out = printed.getvalue()
    assert "error: importing the code of mine.ipynb failed: ImportError" in out
    assert 'File "mine.ipynb", cell 2, line 2, in <module>' in out
    assert "losses.py" not in out.split("note:")[0]

    mine.write_text(nb("import numpy as np\n", broken))
    printed = io.StringIO()
    assert main(["check", str(mine)], printed, io.StringIO()) == 1
    line = 1 + broken.splitlines().index("    raise KeyError('oops')")
    assert f'File "mine.ipynb", cell 3, line {line}, in svm_loss_naive' in printed.getvalue()
    assert 'File "losses.py"' not in printed.getvalue()
