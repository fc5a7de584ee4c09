"""propgrade's feedback page in an nbgrader course never replaces one it did not write."""

from __future__ import annotations

from pathlib import Path

from propgrade.integrations.nbgrader_feedback import DIGEST_NAME, PageFate, write_page

NBGRADERS = "<html>nbgrader's page: hand scores and the grader's comments</html>"


def _submission(tmp_path: Path, secret: str) -> Path:
    submitted = tmp_path / "submitted" / secret
    submitted.mkdir(parents=True)
    (submitted / "timestamp.txt").write_text(f"2026-12-01 10:00:00.000000 UTC {secret}")
    (submitted / "submission_secret.txt").write_text(secret)
    return submitted


def test_a_page_propgrade_did_not_write_is_kept_unless_forced(tmp_path: Path) -> None:
    folder = tmp_path / "feedback"
    first = _submission(tmp_path, "first")
    assert write_page(folder, "nb", "<html>ours 1</html>", first).fate is PageFate.WRITTEN
    # Its own page, propgrade may update.
    assert write_page(folder, "nb", "<html>ours 2</html>", first).fate is PageFate.WRITTEN
    assert (folder / "nb.html").read_text() == "<html>ours 2</html>"

    # nbgrader generate_feedback --force removes the folder and renders its own page.
    for item in folder.iterdir():
        item.unlink()
    (folder / "nb.html").write_text(NBGRADERS)
    (folder / "submission_secret.txt").write_text("first")
    second = _submission(tmp_path, "second")
    outcome = write_page(folder, "nb", "<html>ours 3</html>", second)
    assert outcome.fate is PageFate.KEPT and outcome.page == folder / "nb.html"
    assert (folder / "nb.html").read_text() == NBGRADERS
    assert (folder / "submission_secret.txt").read_text() == "first"  # the folder untouched

    # A page propgrade wrote and someone edited afterwards is not propgrade's any more.
    assert write_page(folder, "nb", "<html>ours 4</html>", second, force=True).fate is (
        PageFate.REPLACED
    )
    assert (folder / "submission_secret.txt").read_text() == "second"
    (folder / "nb.html").write_text("<html>ours 4, with a comment added by hand</html>")
    assert write_page(folder, "nb", "<html>ours 5</html>", second).fate is PageFate.KEPT
    assert (folder / DIGEST_NAME).is_file()
