"""propgrade's feedback page in an nbgrader course, never written over an instructor's.

``feedback/<student>/<assignment>/<notebook>.html`` is also where ``nbgrader
generate_feedback`` renders the hand-graded notebook, with the grader's scores and
comments. Whose page is there is told by a digest: beside every page it writes, propgrade
stores the SHA-256 of that page; a page that no longer matches it (or has none) was
written by someone else, usually ``generate_feedback``, which removes the folder and with
it the digest. Such a page, and the files ``release_feedback`` reads beside it, are left
alone unless the instructor forces propgrade's page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from propgrade.files import atomic_write_bytes, atomic_write_text
from propgrade.intake.late import TIMESTAMP_NAME
from propgrade.intake.untrusted_files import FileRefused, read_beneath

SECRET_NAME = "submission_secret.txt"  # written by nbgrader's submit, read by release_feedback
DIGEST_NAME = ".propgrade-page.sha256"  # not *.html: release_feedback never ships it
# Beside a kept page whose submission's grade moved since: the page is out of date until
# generate_feedback renders it again, which removes the folder and this file with it.
STALE_NAME = ".propgrade-page-stale"
NBGRADER_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
RELEASE_FILE_MAX_BYTES = 1024  # nbgrader writes about 30 (timestamp) and 32 (secret)


class PageFate(Enum):
    WRITTEN = "written"  # there was none, or propgrade's own: it is up to date now
    KEPT = "kept"  # someone else's page, left as it was
    REPLACED = "replaced"  # someone else's page, replaced on the instructor's request


@dataclass(frozen=True)
class PageOutcome:
    page: Path
    fate: PageFate
    stale: bool = False  # a kept page made before the grade it shows moved


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_propgrades(page: Path) -> bool:
    """Whether ``page`` is exactly what propgrade last wrote there."""
    try:
        recorded = (page.parent / DIGEST_NAME).read_text(encoding="ascii").strip()
        return recorded == _digest(page.read_bytes())
    except (OSError, UnicodeDecodeError):
        return False


def write_page(
    folder: Path,
    notebook: str,
    html: str,
    submitted: Path,
    *,
    force: bool = False,
    moved: bool = False,
) -> PageOutcome:
    """Write propgrade's page ``folder/<notebook>.html`` and what ``release_feedback``
    needs beside it, unless someone else's page is there and ``force`` is not given.

    ``moved`` says the submission's grade changed in this run: a page kept then is out
    of date, and stays marked so on every later run until it is made again.
    """
    page = folder / f"{notebook}.html"
    theirs = page.exists() and not is_propgrades(page)
    marker = folder / STALE_NAME
    if theirs and not force:
        if moved:
            atomic_write_text(marker, "the grade changed after this page was made\n")
        return PageOutcome(page, PageFate.KEPT, stale=marker.is_file())
    marker.unlink(missing_ok=True)
    data = html.encode("utf-8")
    if theirs or not page.exists() or page.read_bytes() != data:
        atomic_write_text(page, html)
    atomic_write_text(folder / DIGEST_NAME, _digest(data) + "\n")
    _copy_release_files(folder, submitted)
    return PageOutcome(page, PageFate.REPLACED if theirs else PageFate.WRITTEN)


def _copy_release_files(folder: Path, submitted: Path) -> None:
    # release_feedback reads both files beside the page: the time for its log, the
    # secret to name the released file so only the submitting student can fetch it.
    # Both come from the submission, so they are read as untrusted: a link (to a secret
    # file, or into a classmate's folder), a special file or an oversized one is never
    # followed, and counts as missing.
    stamp = _release_file(submitted, TIMESTAMP_NAME)
    if stamp is None:
        stamp = datetime.now(UTC).strftime(NBGRADER_TIMESTAMP_FORMAT).encode()
    atomic_write_bytes(folder / TIMESTAMP_NAME, stamp)
    secret = _release_file(submitted, SECRET_NAME)
    if secret is not None:
        atomic_write_bytes(folder / SECRET_NAME, secret)
    else:
        # Not a classmate's secret left from an earlier run: release_feedback must not
        # publish this page under another student's name.
        (folder / SECRET_NAME).unlink(missing_ok=True)


def _release_file(submitted: Path, name: str) -> bytes | None:
    try:
        return read_beneath(submitted, name, max_bytes=RELEASE_FILE_MAX_BYTES)
    except FileRefused:
        return None
