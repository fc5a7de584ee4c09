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


def test_a_timestamp_linked_to_a_secret_file_is_never_copied(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$the-grading-machine's-secret\n")
    submitted = _submission(tmp_path, "mallory")
    (submitted / "timestamp.txt").unlink()
    (submitted / "timestamp.txt").symlink_to(secret)
    folder = tmp_path / "feedback" / "mallory"
    assert write_page(folder, "nb", "<html>page</html>", submitted).fate is PageFate.WRITTEN
    copied = folder / "timestamp.txt"
    assert not copied.is_symlink() and "the-grading-machine" not in copied.read_text()
    assert copied.read_text().endswith(" UTC")  # the time of writing, as for no timestamp
    assert (folder / "submission_secret.txt").read_text() == "mallory"


def test_a_secret_linked_into_a_classmates_folder_is_never_copied(tmp_path: Path) -> None:
    # Sharing ana's secret would make release_feedback publish one page under the other's
    # name: a symbolic link and a hard link are both refused, and no secret is left.
    ana = _submission(tmp_path, "ana")
    for kind in ("symlink", "hardlink"):
        mallory = _submission(tmp_path, f"mallory-{kind}")
        (mallory / "submission_secret.txt").unlink()
        if kind == "symlink":
            (mallory / "submission_secret.txt").symlink_to(ana / "submission_secret.txt")
        else:
            (mallory / "submission_secret.txt").hardlink_to(ana / "submission_secret.txt")
        folder = tmp_path / "feedback" / kind
        folder.mkdir(parents=True)
        (folder / "submission_secret.txt").write_text("ana")  # left from an earlier run
        write_page(folder, "nb", "<html>page</html>", mallory)
        assert not (folder / "submission_secret.txt").exists(), kind
        assert (folder / "timestamp.txt").read_text().endswith(f"mallory-{kind}")
    assert (ana / "submission_secret.txt").read_text() == "ana"


def test_a_hard_linked_file_is_not_copied_into_autograded(tmp_path: Path) -> None:
    # Stock `nbgrader generate_feedback` copies every other file of autograded/ into the
    # feedback folder that is released: a hard link's contents (here a classmate's secret)
    # must not get there. Symbolic links are left out the same way; plain files are copied.
    import nbformat

    from propgrade.integrations.nbgrader_notebook import write_autograded

    ana = _submission(tmp_path, "ana")
    mallory = _submission(tmp_path, "mallory")
    (mallory / "notes.txt").write_text("mine")
    (mallory / "ana_secret.txt").hardlink_to(ana / "submission_secret.txt")
    (mallory / "ana_timestamp.txt").symlink_to(ana / "timestamp.txt")
    autograded = tmp_path / "autograded" / "mallory"
    write_autograded(nbformat.v4.new_notebook(), mallory, autograded, "nb")
    copied = sorted(p.name for p in autograded.iterdir())
    assert copied == ["nb.ipynb", "notes.txt", "submission_secret.txt", "timestamp.txt"]
    assert (autograded / "submission_secret.txt").read_text() == "mallory"
