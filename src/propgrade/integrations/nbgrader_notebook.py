"""The autograded copy of a student's notebook: nbgrader's own cells plus one cell per check.

formgrader shows ``autograded/<student>/<assignment>/<notebook>.ipynb`` and
``nbgrader generate_feedback`` renders it, so propgrade writes that file the way
``nbgrader autograde`` would, without executing anything: the student's notebook goes
through nbgrader's own sanitising preprocessors (outputs cleared, locked cells and grade
metadata restored from the gradebook), and a section is appended with one locked grade
cell per check whose output tells the result. The outputs follow nbgrader's convention
(an error output scores 0, a number scores partial credit, anything else full marks), so
``nbgrader.utils.determine_grade`` reads from each cell the score propgrade recorded.

Everything written here is what a student sees once feedback is released: hidden
checks show their score (nbgrader prints it beside every grade cell) but not why.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import re
import shutil
import stat
import warnings
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from propgrade.engine.results import CheckResult, SubmissionResult, format_points
from propgrade.files import atomic_write_text
from propgrade.intake.late import TIMESTAMP_MAX_BYTES, TIMESTAMP_NAME
from propgrade.intake.notebook import MAX_JSON_DEPTH, json_depth
from propgrade.intake.untrusted_files import FileRefused, lstat_kind, read_beneath
from propgrade.integrations.nbgrader_layout import nbgrader_module
from propgrade.reports.hints import hint_for
from propgrade.reports.visibility import RELEASED, Disclosure, disclosure

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
META_KEY = "propgrade"  # marks the cells propgrade appended, so a re-run replaces them
CELL_NOTE = "# Graded by propgrade in its sandbox from the submitted code; not meant to be run."


# nbformat's notebook, a dict with attribute access; nbformat has no type hints.
NotebookNode = Any


def _nbformat() -> ModuleType:
    # Imported here: nbformat and nbgrader are needed only by courses that use nbgrader.
    return importlib.import_module("nbformat")


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# Cells and outputs are built as plain dicts: nbformat's constructors validate each one,
# which cost more than grading did on a large class. The tests validate the notebooks.


def _cell(
    kind: str, source: str, metadata: dict[str, Any], cell_id: str, minor: int
) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": metadata, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if minor >= 5:
        cell["id"] = cell_id[:64]
    return cell


def _check_cell(check: CheckResult, minor: int, *, graded: bool) -> dict[str, Any]:
    points = format_points(check.max_points)
    unit = "point" if points == 1 else "points"
    source = f"# propgrade check {check.id} ({points} {unit}): {check.sentence}\n{CELL_NOTE}"
    metadata = {
        "deletable": False,
        "editable": False,
        "nbgrader": {
            "schema_version": 3,
            "grade": True,
            "solution": False,
            "locked": True,
            "task": False,
            "grade_id": check.id,
            "points": float(check.max_points),
        },
        META_KEY: {"check": check.id},
    }
    cell = _cell("code", source, metadata, f"propgrade-{check.id}", minor)
    cell["outputs"] = _outputs(check, graded=graded)
    return cell


def _stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _outputs(check: CheckResult, *, graded: bool) -> list[dict[str, Any]]:
    shown = disclosure(check, RELEASED) is Disclosure.SHOWN
    examples = f" ({check.examples} examples)" if check.examples else ""
    if check.passed:
        return [_stream(f"passed{examples}\n")]
    if shown and check.feedback is not None:
        # Tracebacks are rendered through an ANSI-colour filter: a student's escape
        # sequences would restyle the page.
        detail = _CONTROL.sub("", check.feedback.render())
        message = _CONTROL.sub("", check.feedback.message)
        # nbgrader's generate_feedback renders these cells for the student: the same hint
        # as propgrade's feedback page and results.json.
        hint = hint_for(check, graded=graded)
        if hint is not None:
            detail = f"{detail}\nHint: {hint}"
    else:
        detail = message = "a hidden check: its details are not shown"
    if check.points <= 0:
        error = {
            "output_type": "error",
            "ename": "CheckFailed",
            "evalue": message,
            "traceback": ["failed", *detail.splitlines()],
        }
        return [error]
    # Partial credit, written as nbgrader reads it: the cell's value is the score.
    value = {
        "output_type": "execute_result",
        "data": {"text/plain": repr(float(check.points))},
        "metadata": {},
        "execution_count": None,
    }
    return [_stream(f"partly failed\n{detail}\n"), value]


def _header(result: SubmissionResult, minor: int) -> dict[str, Any]:
    passed = sum(1 for c in result.checks if c.passed)
    source = (
        "## Checks graded by propgrade\n\n"
        f"{passed} of {len(result.checks)} checks passed. Each cell below is one check "
        "with its points; a failed check shows the smallest input it failed on."
    )
    return _cell("markdown", source, {META_KEY: {"section": True}}, "propgrade-checks", minor)


def strip_checks(nb: NotebookNode, check_ids: Iterable[str]) -> NotebookNode:
    """Drop cells propgrade appended before, and any claim on a check's grade id.

    A student's own cell that carries a check's grade id would otherwise stand in for
    that check in formgrader; it keeps its content but loses the claim.
    """
    ids = set(check_ids)
    kept = []
    for cell in nb.cells:
        if META_KEY in cell.get("metadata", {}):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") in ids:
            del cell.metadata["nbgrader"]
        kept.append(cell)
    nb.cells = kept
    return nb


def sanitise(nb: NotebookNode, resources: dict[str, Any]) -> list[str]:
    """Run nbgrader's own sanitising preprocessors; returns the warnings they logged."""
    preprocessors = nbgrader_module("preprocessors")
    logger = logging.getLogger("propgrade.nbgrader")
    logger.propagate = False
    handler = _ListHandler()
    logger.addHandler(handler)
    try:
        # The order of nbgrader autograde's sanitize step.
        for name in (
            "ClearOutput",
            "DeduplicateIds",
            "OverwriteKernelspec",
            "OverwriteCells",
            "CheckCellMetadata",
        ):
            kind = getattr(preprocessors, name)
            nb, resources = kind(log=logger).preprocess(nb, resources)
    finally:
        logger.removeHandler(handler)
    return handler.messages


# propgrade's own autograded copies carry every output; only submitted notebooks get the
# course's smaller cap.
MAX_NOTEBOOK_BYTES = 64 << 20


def _read(folder: Path, name: str, max_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookNode:
    """The notebook ``folder/name``, read as an untrusted file (no link followed, capped)."""
    data = read_beneath(folder, name, max_bytes=max_bytes)
    if data is None:
        raise FileNotFoundError(f"{name}: not found")
    text = data.decode("utf-8")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{name}: nested more than {MAX_JSON_DEPTH} levels deep")
    with warnings.catch_warnings():
        # nbformat warns on the terminal about missing cell ids, which are added below.
        warnings.simplefilter("ignore")
        nb = _nbformat().reads(text, as_version=4)
    if int(nb.get("nbformat_minor", 0)) >= 5:
        # Cell ids are required from nbformat 4.5 on; hand-made notebooks often lack them.
        for number, cell in enumerate(nb.cells):
            cell.setdefault("id", f"cell-{number}")
    return nb


def _same_submission(autograded: Path, submitted: Path) -> bool:
    try:
        ours, theirs = (
            read_beneath(folder, TIMESTAMP_NAME, max_bytes=TIMESTAMP_MAX_BYTES)
            for folder in (autograded, submitted)
        )
    except (OSError, FileRefused):
        return False
    return ours is not None and theirs is not None and ours.strip() == theirs.strip()


@dataclass(frozen=True)
class Sources:
    """Where one student's autograded notebook can come from, best first."""

    notebook: str  # its name, without .ipynb
    assignment: str
    student: str
    db_url: str
    submitted: Path
    autograded: Path
    released: Path
    max_bytes: int = 1 << 20  # the largest submitted notebook read (grading.yaml's file_kb)

    @property
    def resources(self) -> dict[str, Any]:
        """What nbgrader's preprocessors read: the ids and the gradebook."""
        return {
            "nbgrader": {
                "notebook": self.notebook,
                "assignment": self.assignment,
                "student": self.student,
                "db_url": self.db_url,
            }
        }


def _answer_ids(nb: NotebookNode, check_ids: Iterable[str]) -> set[str]:
    return {cell.metadata.nbgrader["grade_id"] for cell in manual_cells(nb, check_ids)}


def _released_ids(src: Sources, ids: list[str]) -> set[str] | None:
    """The grade ids of nbgrader's own cells in the released notebook, if it can be read."""
    try:
        return _answer_ids(_read(src.released, f"{src.notebook}.ipynb"), ids)
    except (OSError, ValueError, FileRefused):
        return None


def _kept(
    src: Sources, ids: list[str], required: set[str] | None
) -> tuple[NotebookNode | None, list[str]]:
    """An autograded copy of this very submission that holds every written answer (its
    nbgrader cells, ``required``); None when it must be made again."""
    path = src.autograded / f"{src.notebook}.ipynb"
    if not (path.is_file() and _same_submission(src.autograded, src.submitted)):
        return None, []
    try:
        nb = strip_checks(_read(src.autograded, path.name), ids)
    except (OSError, ValueError, FileRefused) as exc:
        return None, [f"{path}: unreadable ({exc}); made again"]
    if required and not required <= _answer_ids(nb, ids):
        return None, []  # a copy without the student's answers (an earlier failed run)
    return nb, []


def _sanitised(src: Sources, ids: list[str]) -> tuple[str, str, list[str]]:
    """Origin, notebook JSON ("" when there is none) and problems: plain data, so a pool
    worker can return it."""
    problems: list[str] = []
    for origin, folder in (("submitted", src.submitted), ("released", src.released)):
        path = folder / f"{src.notebook}.ipynb"
        if not os.path.lexists(path):
            continue
        try:
            nb = strip_checks(_read(folder, path.name, src.max_bytes), ids)
            said = sanitise(nb, src.resources)
            return origin, _nbformat().v4.writes(nb), problems + said
        except Exception as exc:  # nbformat and nbgrader raise many kinds on a bad notebook
            problems.append(f"{path}: cannot be read as a notebook ({exc})")
    return "empty", "", problems


def released_problem(src: Sources) -> str | None:
    """Why the released notebook fails nbgrader's own checks against the gradebook, if it
    does: then every student's copy would fail them too and lose its written answers."""
    path = src.released / f"{src.notebook}.ipynb"
    if not path.is_file():
        return None
    try:
        nb = _read(src.released, path.name)
        sanitise(nb, src.resources)
    except Exception as exc:  # nbformat and nbgrader raise many kinds on a bad notebook
        return f"{path}: {type(exc).__name__}: {exc}".strip()
    return None


def _parsed(text: str) -> NotebookNode:
    if not text:
        return _nbformat().v4.new_notebook()
    return _nbformat().v4.reads(text)  # nbformat's own reader, without validating


def base_notebook(
    src: Sources, check_ids: Iterable[str], *, resume: bool = True
) -> tuple[NotebookNode, str, list[str]]:
    """The notebook the checks are appended to, its origin and nbgrader's warnings.

    An autograded copy of this very submission (``nbgrader autograde``, or an earlier
    propgrade run) is kept when ``resume`` and it holds every written answer: it may hold
    outputs of nbgrader's own test cells that propgrade never runs. Otherwise the
    submitted notebook, else the released one (the student did not hand it in, so every
    written answer is unanswered).
    """
    return base_notebooks([src], check_ids, jobs=1, resume=resume)[0]


def base_notebooks(
    sources: Sequence[Sources], check_ids: Iterable[str], jobs: int, *, resume: bool = True
) -> list[tuple[NotebookNode, str, list[str]]]:
    """``base_notebook`` for a class; nbgrader's sanitising (some 40 ms a notebook) runs
    on ``jobs`` processes."""
    ids = list(check_ids)
    required = _released_ids(sources[0], ids) if sources else None
    no_copy: tuple[NotebookNode | None, list[str]] = (None, [])
    kept = [_kept(src, ids, required) if resume else no_copy for src in sources]
    pending = [n for n, (nb, _) in enumerate(kept) if nb is None]
    # The first runs here: opening nbgrader's gradebook may write to it once (its default
    # course row), which parallel processes would contend for.
    made = {n: _sanitised(sources[n], ids) for n in pending[:1]}
    rest = pending[1:]
    if jobs > 1 and len(rest) > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            results = pool.map(_sanitised, [sources[n] for n in rest], [ids] * len(rest))
            made.update(zip(rest, results, strict=True))
    else:
        made.update((n, _sanitised(sources[n], ids)) for n in rest)
    found = []
    for number, (nb, problems) in enumerate(kept):
        if nb is not None:
            found.append((nb, "autograded", problems))
        else:
            origin, text, said = made[number]
            found.append((_parsed(text), origin, problems + said))
    return found


def with_checks(nb: NotebookNode, result: SubmissionResult) -> NotebookNode:
    minor = int(nb.get("nbformat_minor", 0))
    graded = not result.error
    cells = [_header(result, minor), *(_check_cell(c, minor, graded=graded) for c in result.checks)]
    nb.cells.extend(_nbformat().from_dict(cells))
    return nb


def _not_plain(path: Path) -> bool:
    """Whether ``path`` is anything but a plain folder or a file with one name. A hard
    link's copy would carry another file's contents (a classmate's, a course file) into
    autograded/, which stock ``nbgrader generate_feedback`` copies into the feedback
    folder that is released to the student."""
    if lstat_kind(path) is not None:
        return True
    try:
        info = os.lstat(path)
    except OSError:
        return True
    return stat.S_ISREG(info.st_mode) and info.st_nlink > 1


def write_autograded(
    nb: NotebookNode,
    submitted: Path,
    autograded: Path,
    notebook: str,
    ignore: Sequence[str] = (),
    notebooks: Collection[str] = (),
) -> list[str]:
    """Write the notebook and, as ``nbgrader autograde`` does, the submission's other files;
    returns the names of the notebooks left in ``submitted/``.

    ``generate_feedback`` copies ``timestamp.txt`` and ``submission_secret.txt`` from
    here to the feedback folder, where ``release_feedback`` needs them. Names matching
    ``ignore`` (the course's ``CourseDirectory.ignore``) are left out, as nbgrader leaves
    them; links (symbolic or hard) and special files are left out, never followed. A
    notebook that is not one of the assignment's ``notebooks`` (in the gradebook) is left
    out too: nbgrader never puts one there, and ``generate_feedback`` fails on it for that
    student.
    """
    autograded.mkdir(parents=True, exist_ok=True)
    patterns = shutil.ignore_patterns(*ignore)

    def skip(folder: str, names: list[str]) -> set[str]:
        # Links and special files are left behind: a link copied into autograded/ would
        # be followed by whatever reads that folder next, and a FIFO cannot be copied.
        odd = {n for n in names if _not_plain(Path(folder) / n)}
        return set(patterns(folder, names)) | odd

    names = [p.name for p in submitted.iterdir()]
    own = {f"{name}.ipynb" for name in (*notebooks, notebook)}
    foreign = sorted(n for n in names if n.endswith(".ipynb") and n not in own)
    left_out = skip(str(submitted), names) | {f"{notebook}.ipynb"} | set(foreign)
    for name in names:
        if name in left_out:
            continue
        item, target = submitted / name, autograded / name
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, target, symlinks=True, dirs_exist_ok=True, ignore=skip)
        elif not target.is_dir():
            target.unlink(missing_ok=True)
            shutil.copy2(item, target, follow_symlinks=False)
    for name in foreign:
        # One left there by an earlier run, before this rule.
        stray = autograded / name
        if stray.is_file() and not stray.is_symlink():
            stray.unlink()
    path = autograded / f"{notebook}.ipynb"
    atomic_write_text(path, _nbformat().v4.writes(nb))  # unvalidated: see _cell
    return foreign


def manual_cells(nb: NotebookNode, check_ids: Iterable[str]) -> list[NotebookNode]:
    """nbgrader's grade, solution and task cells of the notebook, propgrade's excluded."""
    utils = nbgrader_module("utils")
    ids = set(check_ids)
    return [
        cell
        for cell in nb.cells
        if (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_task(cell))
        and cell.metadata.nbgrader.get("grade_id") not in ids
    ]


def record_manual_cells(
    gb: Any,
    nb: NotebookNode,
    notebook: str,
    assignment: str,
    student: str,
    checks: Iterable[str],
    *,
    review: bool = True,
) -> list[str]:
    """Record nbgrader's own cells as ``nbgrader autograde`` would, for a notebook never run.

    A written answer left as released scores 0 with "No response."; any other answer
    waits for a manual grade. A score set by hand is flagged for review only with
    ``review`` (the submission is new, or its grade changed). nbgrader's own autograder
    test cells are left alone (they would need the notebook executed); their ids are
    returned.
    """
    utils = nbgrader_module("utils")
    unrun = []
    for cell in manual_cells(nb, checks):
        grade_id = cell.metadata.nbgrader["grade_id"]
        if utils.is_grade(cell):
            if cell.cell_type == "code" and not utils.is_solution(cell):
                unrun.append(grade_id)
                continue
            grade = gb.find_grade(grade_id, notebook, assignment, student)
            grade.auto_score, _ = utils.determine_grade(cell)
            if review or grade.manual_score is None:
                grade.needs_manual_grade = (
                    grade.manual_score is not None or grade.auto_score is None
                )
        if utils.is_solution(cell) or utils.is_task(cell):
            comment = gb.find_comment(grade_id, notebook, assignment, student)
            unanswered = cell.metadata.nbgrader.get("checksum") == utils.compute_checksum(cell)
            comment.auto_comment = (
                "No response." if unanswered and not utils.is_task(cell) else None
            )
    gb.db.commit()
    return unrun
