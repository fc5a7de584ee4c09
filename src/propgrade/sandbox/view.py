"""The full layer's filesystem view: which host directories the sandbox sees, and how."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def python_roots(imports: Sequence[str] = ("numpy",)) -> list[str]:
    """Directories the worker's interpreter needs: its prefixes and the site dirs of the
    packages student code may import (numpy always).

    Whole site dirs, not single packages: an allowed package needs its dependencies, which
    installers put next to it, and a dependency missed here would make the full layer
    grade differently from the others. What student code may import is decided by the
    worker's import guard, the same under every layer; nothing in a site dir is secret.
    """
    roots = [sys.base_prefix, sys.prefix, os.path.dirname(sys.executable)]
    for name in dict.fromkeys(["numpy", *imports]):
        roots += _site_dirs_of(name)
    found: list[str] = []
    for root in roots:
        for path in (os.path.abspath(root), os.path.realpath(root)):
            if path not in found:
                found.append(path)
    return found


_SITE_DIR_NAMES = ("site-packages", "dist-packages")


def _site_dirs_of(package: str) -> list[str]:
    """The directories holding ``package`` (found, not imported), e.g. .../site-packages."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations is not None:
        # A package (regular or namespace): the dirs above its own. numpy's also holds
        # numpy.libs.
        found = [os.path.dirname(path) for path in spec.submodule_search_locations]
    else:
        found = [os.path.dirname(spec.origin)] if spec.origin else []
    # Only installers' folders: a name found through the grader's working directory must
    # not bind, say, the course folder with its solutions into the sandbox.
    return [path for path in found if os.path.basename(path) in _SITE_DIR_NAMES]


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class View:
    """The bwrap arguments that build the sandbox's filesystem, parents before children."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.bound: list[str] = []  # destinations whose whole content is visible
        self.existing: set[str] = {"/"}  # directories that exist inside

    def visible(self, path: str) -> bool:
        return path in self.existing or any(is_under(path, root) for root in self.bound)

    def _parents(self, dest: str) -> None:
        # bwrap creates missing parents with mode 0700, which the dropped uid cannot enter.
        for parent in reversed(Path(dest).parents):
            name = str(parent)
            if not self.visible(name):
                self.args += ["--perms", "0755", "--dir", name]
                self.existing.add(name)

    def mount(self, option: str, dest: str, *, before: Sequence[str] = ()) -> None:
        self._parents(dest)
        self.args += [*before, option, dest]
        self.existing.add(dest)

    def bind(self, src: str, dest: str, *, read_only: bool = True) -> None:
        if self.visible(dest):
            return
        self._parents(dest)
        self.args += ["--ro-bind" if read_only else "--bind", src, dest]
        if os.path.isdir(src):
            self.bound.append(dest)
        self.existing.add(dest)

    def symlink(self, target: str, dest: str) -> None:
        self._parents(dest)
        self.args += ["--symlink", target, dest]
        self.existing.add(dest)
