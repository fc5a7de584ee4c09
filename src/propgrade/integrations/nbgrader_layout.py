"""Where an nbgrader course keeps things, as its own ``nbgrader_config.py`` says.

Courses rename the course id (the exchange needs it), move the gradebook database or
change the folder layout; nbgrader's ``CourseDirectory`` applies all of that, so
propgrade asks it rather than assuming the defaults. Only the course's own
``nbgrader_config.py`` is read; it is the instructor's file, trusted like grading.yaml.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from propgrade.errors import PropgradeError

CONFIG_FILE = "nbgrader_config.py"
STEPS = ("source", "release", "submitted", "autograded", "feedback")


class NbgraderError(PropgradeError):
    """The nbgrader course cannot be graded (layout, gradebook, nbgrader missing)."""


def nbgrader_module(name: str) -> Any:
    """A module of nbgrader, or a clear error when nbgrader is not installed."""
    try:
        module = importlib.import_module(f"nbgrader.{name}")
    except ImportError:
        raise NbgraderError(
            "grading an nbgrader course needs nbgrader, which is not installed",
            hint="pip install 'nbgrader>=0.9,<0.10'",
        ) from None
    put_interpreter_tools_on_path()
    return module


def put_interpreter_tools_on_path() -> None:
    """Make the tools installed beside this interpreter findable by name.

    nbgrader runs ``alembic`` by name from PATH when it creates or upgrades a gradebook.
    A virtualenv that is used without being activated (``.venv/bin/propgrade``) has it
    installed but not on PATH, and the gradebook then cannot be opened.
    """
    tools = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if tools not in path.split(os.pathsep):
        # Appended: whatever the user's PATH already finds first stays first.
        os.environ["PATH"] = (path + os.pathsep if path else "") + tools


@dataclass(frozen=True)
class CourseLayout:
    root: Path
    course_id: str
    db_url: str
    _coursedir: Any

    @property
    def ignore(self) -> list[str]:
        """Name patterns nbgrader leaves out when it copies a submission."""
        return list(self._coursedir.ignore)

    def folder(self, step: str, student: str, assignment: str) -> Path:
        """``step`` is one of STEPS; source and release take ``"."`` as the student."""
        name = getattr(self._coursedir, f"{step}_directory")
        return Path(self._coursedir.format_path(name, student, assignment))

    def students(self, step: str, assignment: str) -> list[tuple[str, Path]]:
        """Every student with a folder for ``assignment`` at ``step``, sorted by id."""
        name = getattr(self._coursedir, f"{step}_directory")
        pattern = self._coursedir.format_path(name, "*", assignment)
        regexp = self._coursedir.format_path(name, "(?P<student_id>[^/]+)", assignment, escape=True)
        found = []
        for path in glob.glob(pattern):
            match = re.fullmatch(regexp, path)
            if match and Path(path).is_dir() and not match["student_id"].startswith("."):
                found.append((match["student_id"], Path(path)))
        return sorted(found)


def read_layout(course_dir: Path, *, course_id: str | None, db_url: str | None) -> CourseLayout:
    """The course's layout; ``course_id`` and ``db_url`` override its config when given.

    Everything is resolved as nbgrader resolves it when run in the course folder, which
    is where the README and nbgrader's own docs run it, wherever propgrade was started:
    the config files nbgrader reads there (``_course_config``) run there, and a relative
    SQLite path in ``db_url``
    (``sqlite:///gradebook.db``) means a file in the course folder. ``db_url`` given
    here is the caller's, relative to the current folder.
    """
    coursedir_module = nbgrader_module("coursedir")
    course_dir = course_dir.resolve()
    with contextlib.chdir(course_dir):
        config = _course_config(course_dir)
        coursedir = coursedir_module.CourseDirectory(config=config, root=str(course_dir))
        configured = anchored_db_url(coursedir.db_url, course_dir)
    chosen_url = anchored_db_url(db_url, Path.cwd()) if db_url else configured
    coursedir.db_url = chosen_url
    # nbgrader's own default when a course sets none.
    chosen_id = course_id or coursedir.course_id or "default_course"
    return CourseLayout(course_dir, chosen_id, chosen_url, coursedir)


def _course_config(course_dir: Path) -> Any:
    """The configuration nbgrader run in ``course_dir`` loads, in its order: every
    ``nbgrader_config.py`` and ``.json`` of Jupyter's config folders (system ones first,
    then the user's ``~/.jupyter``, each overriding the last; on a JupyterHub the grader
    account's file often holds the course id and the gradebook), then the course
    folder's own ``nbgrader_config.py``, which wins."""
    loader = importlib.import_module("traitlets.config.loader")
    paths = importlib.import_module("jupyter_core.paths")
    config = loader.Config()
    files = [
        (Path(folder), name, kind)
        for folder in reversed(paths.jupyter_config_path())
        for name, kind in (
            ("nbgrader_config.py", loader.PyFileConfigLoader),
            ("nbgrader_config.json", loader.JSONFileConfigLoader),
        )
    ]
    files.append((course_dir, CONFIG_FILE, loader.PyFileConfigLoader))
    for folder, name, kind in files:
        path = folder / name
        if not path.is_file():
            continue
        try:
            config.merge(kind(name, path=str(folder)).load_config())
        except Exception as exc:  # the instructor's Python: any error it raises
            raise NbgraderError(
                f"{path}: cannot be read ({type(exc).__name__}: {exc})",
                hint="run `nbgrader --help-all` in the course folder to see nbgrader's view",
            ) from None
    return config


def anchored_db_url(db_url: str, base: Path) -> str:
    """``db_url`` with a relative SQLite file made absolute against ``base``.

    SQLite opens a relative path against the current folder of whichever process opens
    it; propgrade opens the gradebook from its own current folder, and from pool workers.
    """
    url = importlib.import_module("sqlalchemy.engine").make_url(db_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return db_url
    if database.startswith("file:") or os.path.isabs(database):
        return db_url
    rendered: str = url.set(database=str(base / database)).render_as_string(hide_password=False)
    return rendered


@contextmanager
def gradebook_errors(db_url: str) -> Iterator[None]:
    """Turn the database's errors (locked, read-only, missing tables) into ours.

    nbgrader re-raises a failed write as its InvalidEntry after logging the whole
    traceback to tornado's application log; that log is muted meanwhile, since the
    error is reported once, here.
    """
    failures = (
        importlib.import_module("sqlalchemy.exc").OperationalError,
        nbgrader_module("api").InvalidEntry,
    )
    log = logging.getLogger("tornado.application")
    was_disabled, log.disabled = log.disabled, True
    try:
        yield
    except failures as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NbgraderError(
            f"the gradebook {db_url} cannot be used: {reason}",
            hint="is formgrader or another nbgrader command using it? Run the same command "
            "again when it is free: graded submissions are kept and not graded again",
        ) from None
    finally:
        log.disabled = was_disabled
