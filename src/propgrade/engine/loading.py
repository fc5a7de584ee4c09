"""Importing trusted code: grader packages and the hidden reference solution.

Only instructor-owned files are imported here. Student files never go through this module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from propgrade.engine.checks import Check, collect_checks
from propgrade.errors import GraderError

PUBLIC_PREFIX = "test_public"


def _package_name(folder: Path) -> str:
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    return f"_propgrade_graders_{digest}"


def _import_package(folder: Path) -> str:
    name = _package_name(folder)
    if name in sys.modules:
        return name
    init = folder / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        name, init if init.exists() else None, submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise GraderError(f"{folder}: cannot be imported as a grader package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if init.exists():
        spec.loader.exec_module(module)
    return name


def grader_files(folder: Path, *, public_only: bool = False) -> list[Path]:
    """The files that define checks: ``test_*.py`` (public ones are ``test_public*.py``)."""
    if not folder.is_dir():
        raise GraderError(
            f"{folder}: grader folder not found",
            hint="check the assignment's 'graders' path in the course file",
        )
    pattern = f"{PUBLIC_PREFIX}*.py" if public_only else "test_*.py"
    files = sorted(folder.glob(pattern))
    if not files:
        raise GraderError(f"{folder}: no grader files ({pattern}) found")
    return files


def load_checks(folder: Path, *, public_only: bool = False) -> list[Check]:
    """Import every grader file of ``folder`` and return its checks, in file order."""
    package = _import_package(folder)
    checks: list[Check] = []
    seen: dict[str, Path] = {}
    for path in grader_files(folder, public_only=public_only):
        module_name = f"{package}.{path.stem}"
        module = sys.modules.get(module_name)
        if module is None:
            module = _exec(module_name, path)
        for found in collect_checks(vars(module)):
            if found.id in seen:
                raise GraderError(
                    f"{path}: check id {found.id!r} is already defined in {seen[found.id]}"
                )
            if found.uses_reference and path.name.startswith(PUBLIC_PREFIX):
                raise GraderError(
                    f"{path}: public check {found.id!r} uses the reference solution",
                    hint="public checks are released to students; move it to a hidden file",
                )
            seen[found.id] = path
            checks.append(found)
    return checks


def _exec(module_name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        # Python 3.11 wraps what a class attribute's __set_name__ raises (Shrink's check of
        # its field names) in a RuntimeError: say what that check said.
        if isinstance(exc.__cause__, GraderError):
            raise GraderError(f"{path}: {exc.__cause__.message}", hint=exc.__cause__.hint) from exc
        raise GraderError(f"{path}: importing the grader failed: {exc!r}") from exc
    return module


def load_reference(path: Path) -> ModuleType:
    """Import the hidden reference solution (trusted instructor code) by path."""
    if not path.is_file():
        raise GraderError(
            f"{path}: reference solution not found",
            hint="check the assignment's 'solution' folder and 'graded_file' in the course file",
        )
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"_propgrade_reference_{digest}"
    return sys.modules.get(name) or _exec(name, path)
